#!/usr/bin/env bash
# The one-call GPU check (experiments/gpu_check/check.py): make test-gpu, then the measurements, in <= 8 min on
# one H100-class GPU. --dry: the same steps at tiny sizes on CPU (what CI runs), into a scratch file.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
if [ "${1:-}" = "--dry" ]; then
  "$PY" experiments/gpu_check/check.py --dry --out "${OUT:-$(mktemp -d)/gpu_check_dry.json}"
else
  make test-gpu
  "$PY" experiments/gpu_check/check.py --out experiments/gpu_check/results/gpu_check.json
fi
