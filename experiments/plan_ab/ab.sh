#!/bin/bash
# Run the same small commands from the checkout <repo>, cache off: eleven zcnas.run ones (the README's kinds: a sample,
# LIBRA held out and on Suite-Zero's precomputed columns, a shard, random and evolution searches, AutoFormer, TNB101,
# the decile record, a search whose fitness is LIBRA fitted, then loaded) into <outroot>/r1..r11, three window
# calibrations into c1..c3, two tiny ground-truth builds (a sample; r5's pick) into b1..b2 and two combiner evaluations
# on Suite-Zero's tables into m1..m2. Compare two checkouts with compare.py.
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
search=random search.n=4 search.fitness=combiner combiner=libra search.n_calib=8 proxy=[lswag,nwot,params]
search=random search.n=3 search.fitness=combiner search.combiner_from=$out/r10/combiner.json proxy=[lswag,nwot,params]
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
# the ground-truth builder: a sharded sample and one found arch (r5's selected_arch.json), tiny networks, one epoch
TINY="space.C=4 space.N=1 recipe.batch_size=64 recipe.epochs=1 n_images=160 threads=1"
$PY -m zcnas.build $TINY n_archs=3 shard.count=2 shard.index=1 out=$out/b1/built.jsonl checkpoint_dir=$out/b1/ckpt \
  hydra.run.dir=$out/b1 > $out/b1.log 2>&1; echo "b1 rc=$? build sample" >> $out/index.txt
$PY -m zcnas.build $TINY arch_from=$out/r5 checkpoint_dir=$out/b2/ckpt hydra.run.dir=$out/b2 > $out/b2.log 2>&1
echo "b2 rc=$? build arch_from" >> $out/index.txt
# the combiner on precomputed tables: LIBRA held out, and XGBoost in sample on three columns
$PY -m zcnas.combine benchmark=suite_zero_nb201 combiner=libra repeats=2 tracking=none hydra.run.dir=$out/m1 \
  > $out/m1.log 2>&1; echo "m1 rc=$? combine libra" >> $out/index.txt
$PY -m zcnas.combine benchmark=suite_zero_nb201 combiner=xgboost combiner.protocol=in_sample 'proxies=[synflow,jacov,nwot]' \
  tracking=none hydra.run.dir=$out/m2 > $out/m2.log 2>&1; echo "m2 rc=$? combine xgboost" >> $out/index.txt
