#!/usr/bin/env bash
# experiments/proxy_validation: the 13 NAS-Bench-Suite-Zero proxies computed by zcnas on Suite-Zero's
# own NB201 cells, next to Suite-Zero's precomputed scores (benchmark.precomputed=all), 2 local shards.
# Measured on the first 200 of the 725 cells (n_archs=200, seed 0); n_archs=725 for all of them.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
"$PY" -m zcnas.run -m launcher=local shard.count=2 shard.index=0,1 benchmark=suite_zero_nb201 \
  benchmark.target=cifar10 benchmark.precomputed=all proxy=suite_zero n_archs=${N:-200} \
  hydra.sweep.dir=logs/experiments/proxy_validation/cifar10
"$PY" experiments/proxy_validation/summarize.py logs/experiments/proxy_validation/cifar10/merged
