#!/usr/bin/env bash
# Reproduce experiments/autoformer_lswag on the 100 AutoFormer-Tiny subnets (all 7 target columns),
# 224x224 CIFAR-10 images standing in, batch 32, threads=1.
#  1. old (Cream) flavour: lswag, zico, swap, nwot, params, flops with zcnas.run, seeds 0,1,2
#     (results/seed*_{scores.csv,correlations.json}; window [0, 2]).
#  2. exact (Auto-Prox) flavour: label-free window calibration on 100 *random* subnets (seed 100),
#     then per-decile L-SWAG terms + single-pass proxies per labelled subnet (results/autoprox_seed*_terms.csv).
#  3. the comparison tables of README.md.
# The paper protocol (batch 64, 5 seeds) is `experiment=paper_autoformer`.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
SEEDS=${SEEDS:-0 1 2}
if [[ "${OLD:-0}" == 1 ]]; then
  "$PY" -m zcnas.run -m space=autoformer space.flavour=cream seed=0,1,2 proxy=[lswag,zico,swap,nwot,params,flops] \
    log_every=20 threads=1 hydra.sweep.dir=logs/experiments/autoformer_lswag 'hydra.sweep.subdir=cifar100_224/seed${seed}' "$@"
fi
"$PY" -m zcnas.calibrate space=autoformer calibrate.n_archs=100 calibrate.sweep=false calibrate.choose=spike threads=1 \
  calibrate.write_to=logs/experiments/autoformer_lswag/window_autoprox.yaml \
  hydra.run.dir=logs/experiments/autoformer_lswag/calibrate_autoprox
echo "copy lo/hi of logs/experiments/autoformer_lswag/window_autoprox.yaml into autoprox: of conf/window/autoformer_cifar100_224.yaml"
for s in $SEEDS; do
  OMP_NUM_THREADS=1 "$PY" experiments/autoformer_lswag/exact_terms.py --seed "$s" --flavour autoprox \
    --out "experiments/autoformer_lswag/results/autoprox_seed${s}_terms.csv"
done
if [[ "${B64:-0}" == 1 ]]; then  # the paper's batch size, seed 0 (results/autoprox_b64_seed0_terms.csv)
  OMP_NUM_THREADS=1 "$PY" experiments/autoformer_lswag/exact_terms.py --seed 0 --batch 64 --flavour autoprox \
    --out experiments/autoformer_lswag/results/autoprox_b64_seed0_terms.csv
fi
if [[ "${COSTLY:-0}" == 1 ]]; then  # the costlier proxies on the exact flavour, seed 0 (results/autoprox_seed0_costly_scores.csv)
  "$PY" -m zcnas.run space=autoformer seed=0 proxy=[meco,aznas_expressivity,aznas_trainability,aznas_progressivity,dss,synflow] \
    threads=1 log_every=10 hydra.run.dir=logs/experiments/autoformer_lswag/costly_seed0
  cp logs/experiments/autoformer_lswag/costly_seed0/scores.csv experiments/autoformer_lswag/results/autoprox_seed0_costly_scores.csv
fi
if [[ "${DEXTR:-0}" == 1 ]]; then  # Dextr on the exact flavour, seed 0 (results/autoprox_seed0_dextr_scores.csv)
  "$PY" -m zcnas.run space=autoformer seed=0 proxy=dextr threads=1 log_every=10 \
    hydra.run.dir=logs/experiments/autoformer_lswag/dextr_seed0
  cp logs/experiments/autoformer_lswag/dextr_seed0/scores.csv experiments/autoformer_lswag/results/autoprox_seed0_dextr_scores.csv
fi
"$PY" experiments/autoformer_lswag/compare.py
