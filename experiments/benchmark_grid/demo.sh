#!/usr/bin/env bash
# The small demonstration of the grid committed in results/demo/ (README.md): NB201 CIFAR-10, NB101 and
# TNB101-Micro jigsaw, 20 cells, seed 0, nine of the grid's proxies, one torch thread, no MLflow; then
# analyse.py. Extra args go to grid.py (e.g. --n 50). CPU: ~25 min on a shared 2-core box.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-logs/experiments/benchmark_grid_demo}
"$PY" experiments/benchmark_grid/grid.py --columns nb201_c10,nb101,micro_jig --n 20 --seeds 0 \
  --proxies lswag,lswag_lambda,zico,nwot,params,flops,aznas_expressivity,aznas_trainability,aznas_progressivity \
  --out "$OUT" --python "$PY" "$@" threads=1 tracking=none
"$PY" experiments/benchmark_grid/analyse.py "$OUT" --out experiments/benchmark_grid/results/demo
