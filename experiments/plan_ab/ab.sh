#!/bin/bash
# Run the same nine small zcnas.run commands (the README's kinds: a sample, LIBRA held out and on Suite-Zero's
# precomputed columns, a shard, random and evolution searches, AutoFormer, TNB101, the decile record) from the
# checkout <repo>, cache off, into <outroot>/r1..r9, and three window calibrations into <outroot>/c1..c3; compare two checkouts with compare.py.
# usage: PY=.venv/bin/python bash experiments/plan_ab/ab.sh <repo> <outroot>
repo=$1; out=$2; rm -rf $out; mkdir -p $out
cd $repo
export OMP_NUM_THREADS=1 ZCNAS_CONFIG_DIR=$out/userconf
PY=${PY:-python}
i=0
while IFS= read -r line; do
  [ -z "$line" ] && continue
  i=$((i+1))
  eval "$PY -m zcnas.run $line threads=1 tracking=none cache.path=null hydra.run.dir=$out/r$i" > $out/r$i.log 2>&1; echo "r$i rc=$? $line" >> $out/index.txt
done <<'LIST'
n_archs=20 proxy=[lswag,nwot,params]
n_archs=12 proxy=[lswag,nwot,params] combiner=libra combiner.n_fit=6
benchmark=suite_zero_nb201 benchmark.precomputed=all proxy=[lswag,params] n_archs=30 combiner=libra
n_archs=9 proxy=[lswag,zico] shard.count=2 shard.index=1
search=random search.n=6 search.fitness=lswag proxy=[lswag,params]
search=evolution search.population=4 search.generations=2 search.parents=2 search.mutations=2 search.crossovers=2 search.fitness=lswag proxy=[lswag,params]
space=autoformer n_archs=2 proxy=[lswag,params]
space=tnb101_micro benchmark.target=jigsaw benchmark.precomputed=all n_archs=2 proxy=[lswag,swap]
n_archs=6 proxy=[lswag,params] record_deciles=true
LIST
# the window calibration, through the same probing path (cache-free by construction)
j=0
while IFS= read -r line; do
  j=$((j+1))
  eval "$PY -m zcnas.calibrate $line threads=1 hydra.run.dir=$out/c$j" > $out/c$j.log 2>&1; echo "c$j rc=$? $line" >> $out/index.txt
done <<'LIST'
space=nb201 task=cifar10 calibrate.n_archs=8 calibrate.sweep=true
space=tnb101_micro benchmark.target=jigsaw calibrate.n_archs=3
space=autoformer calibrate.n_archs=2 batch_size=8
LIST
