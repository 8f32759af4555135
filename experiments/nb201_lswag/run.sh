#!/usr/bin/env bash
# Reproduce experiments/nb201_lswag (conf/experiment/nb201_lswag.yaml): lswag, zico, swap, nwot,
# params, flops on 1000 NB201 cells; CIFAR-10 (real images) and CIFAR-100 / ImageNet16-120
# (CIFAR-10 images standing in), seeds 0,1,2. Extra args are Hydra overrides, e.g. task=cifar10 seed=0.
# CPU: ~0.95 s per cell at 32x32 and ~0.35 s at 16x16 on 2 cores (about 2 h for all 9 runs).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
"$PY" -m zcnas.run -m experiment=nb201_lswag "$@"
"$PY" experiments/nb201_lswag/summarize.py logs/experiments/nb201_lswag
