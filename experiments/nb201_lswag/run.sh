#!/usr/bin/env bash
# Reproduce experiments/nb201_lswag: lswag, zico, swap, nwot, params, flops on 1000 NB201 cells,
# CIFAR-10 (real images) and CIFAR-100 / ImageNet16-120 (CIFAR-10 images standing in), 3 seeds.
# Every run lands in MLflow (./mlruns.db) and in logs/experiments/nb201_lswag/<task>/<seed>/.
# CPU: ~0.9 s per cell on 2 cores (32x32), ~0.3 s at 16x16. Set THREADS/PAR to split the machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
SEEDS=${SEEDS:-0,1,2}
TASKS=${TASKS:-cifar10 cifar100 imagenet16_120}
for task in $TASKS; do
  "$PY" -m zcnas.run -m task="$task" seed="$SEEDS" n_archs=1000 \
    proxy=[lswag,zico,swap,nwot,params,flops] threads="${THREADS:-null}" log_every=100 \
    hydra.sweep.dir=logs/experiments/nb201_lswag/"$task" hydra.sweep.subdir='seed${seed}'
done
"$PY" experiments/nb201_lswag/summarize.py logs/experiments/nb201_lswag
