#!/usr/bin/env bash
# experiments/nb201_search: LIBRA-driven evolution on NB201 CIFAR-10, search seeds 0-4.
# Measured here with a CPU-sized budget (population 20, 10 generations, 5 parents, 10 mutations +
# 10 crossovers: 200 evaluated cells + 100 labelled calibration cells per seed). The full AutoFormer
# protocol (pop 50, 20 generations) is `python -m zcnas.run -m experiment=nb201_search` (GPU advised).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
"$PY" -m zcnas.run -m experiment=nb201_search search.population=20 search.parents=5 search.mutations=10 \
  search.crossovers=10 search.generations=10 "$@"
"$PY" experiments/nb201_search/summarize.py logs/experiments/nb201_search
