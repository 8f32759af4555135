#!/usr/bin/env bash
# The paper's two searches at full budget, then the retraining of what they find.
# Usage: bash experiments/paper_searches/run.sh [out_dir]   (CPU: ~0.7 + ~6 CPU-hours; see README.md)
set -euo pipefail
out=${1:-logs/experiments/paper_searches}
python -m zcnas.combine benchmark=suite_zero_nb301 combiner=libra hydra.run.dir="$out/combine_nb301"
python -m zcnas.run experiment=paper_darts_c10 search.combiner_from="$out/combine_nb301/combiner.json" \
  threads=1 hydra.run.dir="$out/darts_c10"
python -m zcnas.run experiment=paper_autoformer_small threads=1 hydra.run.dir="$out/autoformer_small"
# Retraining needs the real data (one-line error without it):
#   python -m zcnas.build arch_from="$out/darts_c10" recipe=darts_c10 task.source=cifar_bin task.root=/data
#   python -m zcnas.build arch_from="$out/autoformer_small" recipe=autoformer_imagenet task=imagenet_224 task.root=/data/imagenet/train
