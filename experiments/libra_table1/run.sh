#!/usr/bin/env bash
# experiments/libra_table1: LIBRA, XGBoost, rank_mean, AZ-NAS rank on every NAS-Bench-Suite-Zero
# benchmark column (19), 5 seeded calibration/evaluation splits each. About 2 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
"$PY" -m zcnas.combine -m \
  benchmark=suite_zero_nb201,suite_zero_nb101,suite_zero_nb301,suite_zero_tnb101_micro,suite_zero_tnb101_macro \
  combiner=libra,xgboost,rank_mean,aznas_rank hydra.sweep.dir=logs/experiments/libra_table1 \
  'hydra.sweep.subdir=${hydra:runtime.choices.benchmark}/${combiner.name}' "$@"
"$PY" experiments/libra_table1/summarize.py logs/experiments/libra_table1
# Both protocols, every IG estimator and merge rule, the triplet's stability, the best possible triplet,
# the 13-only pool and (NB201) the paper's pool: ~40 CPU-minutes, table work only (README sections 2-6)
"$PY" experiments/libra_table1/analyse.py
