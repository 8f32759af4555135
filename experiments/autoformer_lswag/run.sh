#!/usr/bin/env bash
# Reproduce experiments/autoformer_lswag: lswag, zico, swap, nwot, params, flops on the 100
# AutoFormer-Tiny subnets (all 7 target columns), 224x224 CIFAR-10 images standing in, batch 32,
# seeds 0,1,2. The paper protocol (batch 64, 5 seeds) is `experiment=paper_autoformer`.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
"$PY" -m zcnas.run -m space=autoformer seed=0,1,2 proxy=[lswag,zico,swap,nwot,params,flops] log_every=20 \
  hydra.sweep.dir=logs/experiments/autoformer_lswag 'hydra.sweep.subdir=cifar100_224/seed${seed}' "$@"
"$PY" experiments/autoformer_lswag/summarize.py logs/experiments/autoformer_lswag
