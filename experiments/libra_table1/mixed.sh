#!/usr/bin/env bash
# experiments/libra_table1, NB201 with the paper's pool: zcnas computes L-SWAG, ZiCo and SWAP on the
# 725 NAS-Bench-Suite-Zero NB201 cells (same batch-64 protocol), then every combiner chooses among
# Suite-Zero's 13 precomputed proxies plus these three. ~30 CPU-minutes for the three runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
S=logs/experiments/libra_table1_mixed
for spec in cifar10:cifar10:725 cifar100:cifar100:725 imagenet16_120:ImageNet16-120:724; do
  IFS=: read -r task target n <<< "$spec"
  "$PY" -m zcnas.run benchmark=suite_zero_nb201 benchmark.target=$target task=$task n_archs=$n \
    'proxy=[lswag,zico,swap]' hydra.run.dir=$S/$target
done
"$PY" -m zcnas.combine -m benchmark=suite_zero_nb201 combiner=libra,xgboost,rank_mean,aznas_rank repeats=5 \
  "scores={cifar10:$S/cifar10/scores.csv,cifar100:$S/cifar100/scores.csv,ImageNet16-120:$S/ImageNet16-120/scores.csv}" \
  hydra.sweep.dir=$S/combine 'hydra.sweep.subdir=${combiner.name}'
