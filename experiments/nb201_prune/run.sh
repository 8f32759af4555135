#!/usr/bin/env bash
# experiments/nb201_prune: TE-NAS-style pruning (search=prune, L-SWAG fitness) against random search at
# the same number of scored networks, NB201 CIFAR-10, 5 seeds. CPU-cheap settings (stated in the
# README): the networks are scored at space.C=8 space.N=1 with a 16-image probe batch on 1 thread; the
# found cell's accuracy is the benchmark's (C=16, N=5, 200 epochs).
# Usage: bash experiments/nb201_prune/run.sh [out_dir]   then: python experiments/nb201_prune/summarize.py [out_dir]
set -euo pipefail
OUT=${1:-logs/experiments/nb201_prune}
COMMON=(space=nb201 "proxy=[lswag,params]" space.C=8 space.N=1 batch_size=16 threads=1 tracking=none
        cache.path="$OUT/cache.db" log_every=100)
for s in 0 1 2 3 4; do
  python -m zcnas.run "${COMMON[@]}" search=prune search.fitness=lswag seed=$s hydra.run.dir="$OUT/prune/seed$s"
  n=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['n_evaluated'])" "$OUT/prune/seed$s/selected_arch.json")
  python -m zcnas.run "${COMMON[@]}" search=random search.fitness=lswag search.n=$n seed=$s hydra.run.dir="$OUT/random/seed$s"
done
