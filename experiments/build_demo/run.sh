#!/usr/bin/env bash
# experiments/build_demo: build a small real benchmark on CPU (30 NB201 cells, NB201 recipe shortened
# to 3 epochs at batch 64 (39 steps), on the 800/200 split of the 1,000 shipped CIFAR-10 images), then correlate L-SWAG and
# #params against it, and compare the short-training accuracies with NB201's 200-epoch ground truth.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
OUT=experiments/build_demo/results/nb201_cifar10_3ep.jsonl
"$PY" -m zcnas.build space=nb201 task=cifar10 recipe=nb201 recipe.epochs=3 recipe.batch_size=64 n_archs=30 seed=0 out=$OUT "$@"
"$PY" -m zcnas.run benchmark=file benchmark.path=$OUT n_archs=30 'proxy=[lswag,zico,nwot,params]' \
  hydra.run.dir=logs/experiments/build_demo/correlate
"$PY" experiments/build_demo/summarize.py $OUT logs/experiments/build_demo/correlate
