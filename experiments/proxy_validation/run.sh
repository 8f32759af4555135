#!/usr/bin/env bash
# experiments/proxy_validation: every registered proxy (proxy=all: Suite-Zero's 13 and the rest of the
# zoo) computed by zcnas on all 725 of Suite-Zero's NB201 cells, next to Suite-Zero's precomputed
# scores (benchmark.precomputed=all), 2 local shards -- all but tenas_ntk (32 backward passes a cell,
# ~55% of the time), which runs on the first 150 cells only; then the batch-variance rerun (probe.batch_seed=1,
# same cells and inits, another 64 images) of the data-dependent Suite-Zero proxies, the init-variance
# rerun (seed=1, same images); then foresight's six
# proxies on 1000 random cells.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
OUT=logs/experiments/proxy_validation
"$PY" -m zcnas.run -m launcher=local shard.count=2 shard.index=0,1 benchmark=suite_zero_nb201 \
  benchmark.target=cifar10 benchmark.precomputed=all proxy=all '~proxy.tenas_ntk' n_archs=${N:-725} threads=1 \
  hydra.sweep.dir=$OUT/cifar10
"$PY" -m zcnas.run -m launcher=local shard.count=2 shard.index=0,1 benchmark=suite_zero_nb201 \
  benchmark.target=cifar10 proxy=tenas_ntk n_archs=150 threads=1 hydra.sweep.dir=$OUT/cifar10_ntk
"$PY" -m zcnas.run -m launcher=local shard.count=2 shard.index=0,1 benchmark=suite_zero_nb201 \
  benchmark.target=cifar10 'proxy=[snip,grasp,fisher,grad_norm,jacov,epe_nas,plain,nwot]' \
  n_archs=${N:-725} threads=1 probe.batch_seed=1 hydra.sweep.dir=$OUT/cifar10_batch1
# the init-variance rerun: seed=1 re-initialises every cell, probe.batch_seed=0 keeps the images
"$PY" -m zcnas.run -m launcher=local shard.count=2 shard.index=0,1 benchmark=suite_zero_nb201 \
  benchmark.target=cifar10 'proxy=[snip,grasp,fisher,grad_norm,jacov,epe_nas,plain,nwot]' \
  n_archs=${N:-725} threads=1 seed=1 probe.batch_seed=0 hydra.sweep.dir=$OUT/cifar10_init1
# foresight's six on 1000 random NB201 cells (seed 0) against NB201's 200-epoch test accuracy
"$PY" -m zcnas.run -m launcher=local shard.count=2 shard.index=0,1 \
  'proxy=[grad_norm,snip,grasp,fisher,synflow,jacov]' n_archs=1000 threads=1 hydra.sweep.dir=$OUT/foresight_1000
# VKDNW (C backward passes a cell, ~20 s on one loaded core) on the first 200 cells of the same sample
"$PY" -m zcnas.run benchmark=suite_zero_nb201 benchmark.target=cifar10 'proxy=[vkdnw,vkdnw_single]' \
  n_archs=200 threads=1 hydra.run.dir=$OUT/cifar10_vkdnw
"$PY" experiments/proxy_validation/summarize.py --main $OUT/cifar10/merged --vkdnw $OUT/cifar10_vkdnw --batch1 $OUT/cifar10_batch1/merged \
  --init1 $OUT/cifar10_init1/merged --extra $OUT/cifar10_ntk/merged --foresight $OUT/foresight_1000/merged
