# zcnas — `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PORT   ?= 5000

.DEFAULT_GOAL := help
.PHONY: help install run test test-slow test-gpu test-browser test-slurm slurm-up slurm-down lint bench ci ui calibrate experiment-nb201 clean

help: ## List the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-18s %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv if missing and install the pinned stack (idempotent)

$(STAMP): requirements/torch.txt requirements/base.txt requirements/dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements/torch.txt
	$(PY) -m pip install -q --disable-pip-version-check -r requirements/base.txt
	$(PY) -m pip install -q --disable-pip-version-check -r requirements/dev.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

run: install ## Install, then run the default job (100 NB201 cells, L-SWAG, CIFAR-10)
	$(PY) -m zcnas.run

test: install ## Install, then run the fast test suite (what CI runs)
	$(PY) -m pytest

test-slow: install ## Integration tests over real data (minutes)
	$(PY) -m pytest -m slow

test-browser: install ## MLflow UI in headless Chromium (apt: chromium chromium-driver); screenshots in test-artifacts/
	$(PY) -m pytest -m browser

test-gpu: install ## The proxy contract and a run on CUDA (skipped, with the reason, where there is no GPU)
	$(PY) -m pytest -m gpu -rs

test-slurm: install ## A 4-shard sweep and a pre-empted job on a real Slurm (make slurm-up first)
	$(PY) -m pytest -m slurm

slurm-up: ## Start a one-node Slurm here (root; Debian slurmctld/slurmd/slurmdbd/munge/MariaDB)
	bash .ci/slurm-up.sh

slurm-down: ## Stop it
	bash .ci/slurm-down.sh

bench: install ## Probe cost: floor vs lswag vs 13 proxies fused vs one probe each (experiments/bench/results.json)
	$(PY) experiments/bench/bench.py

lint: install ## ruff (E,F,I,UP,B + lazy imports, blind excepts, unused noqa) + mypy on zcnas/ + hadolint on docker/Dockerfile
	$(VENV)/bin/ruff check zcnas tests experiments
	$(VENV)/bin/mypy
	$(VENV)/bin/hadolint docker/Dockerfile

ci: lint test test-slow test-browser test-slurm ## Everything .ci/run checks (test-slurm after slurm-up)

ui: install ## MLflow UI on 127.0.0.1:$(PORT) over ./mlruns.db (prints the runs table's URL)
	@$(PY) -m zcnas.log --url --port $(PORT) || true
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(VENV)/bin/mlflow ui \
	  --backend-store-uri sqlite:///mlruns.db --host 127.0.0.1 --port $(PORT) --workers 1

calibrate: install ## L-SWAG window calibration for NB201/CIFAR-10 (writes conf/window/nb201_cifar10.yaml)
	$(PY) -m zcnas.calibrate space=nb201 task=cifar10 calibrate.write_to=conf/window/nb201_cifar10.yaml

experiment-nb201: install ## Reproduce experiments/nb201_lswag (1000 cells x 3 seeds x 3 datasets; hours on CPU)
	bash experiments/nb201_lswag/run.sh

clean: ## Remove logs and caches (keeps .venv and mlruns.db)
	rm -rf logs outputs multirun .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
