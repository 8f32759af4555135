#!/usr/bin/env bash
# Reproduce experiments/libra_transfer (about 20 s on one core; no probing: every score is a committed zcnas result).
#  1. the tables: python experiments/libra_transfer/transfer.py  -> results/{transfer.csv,summary.csv,report.md,combiners/}
#  2. the same NB201 transfer as two commands of zcnas.combine (fit on the CIFAR-10 runs, apply to the CIFAR-100 runs),
#     whose libra.transferred row equals report.md's nb201_c10_to_other / cifar100 row.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
H=experiments/benchmark_grid/results/headline
"$PY" experiments/libra_transfer/transfer.py
"$PY" -m zcnas.combine benchmark=runs "benchmark.dirs=[$(ls -d $H/nb201_c10/seed0_chunk* | paste -sd,)]" combiner=libra \
  combiner.protocol=in_sample tracking=none hydra.run.dir=logs/experiments/libra_transfer/fit_nb201_c10
"$PY" -m zcnas.combine benchmark=runs "benchmark.dirs=[$(ls -d $H/nb201_c100/seed0_chunk* | paste -sd,)]" combiner=none \
  combiner.from=logs/experiments/libra_transfer/fit_nb201_c10/combiner.json tracking=none \
  hydra.run.dir=logs/experiments/libra_transfer/apply_nb201_c100
