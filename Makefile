# actionrec: `make demo` (set up + run the pipeline on the demo data), `make test` (set up + all tests).
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= $(shell command -v python3.11 || command -v python3)
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
export DVC_NO_ANALYTICS := 1
export GX_ANALYTICS_ENABLED := false

.PHONY: FORCE help setup demo data repro test test-fast lint format hooks realdata-full realdata-reports screenshots docs lock clean browser postgres retrain vega bench
.DEFAULT_GOAL := help

# torch build: cuda where `nvidia-smi -L` lists a GPU, else cpu (override: make setup TORCH=cpu|cuda).
TORCH ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo cuda || echo cpu)
ifeq ($(filter $(TORCH),cpu cuda),)
$(error TORCH=$(TORCH): use TORCH=cpu or TORCH=cuda)
endif
LOCK := requirements/lock-$(TORCH).txt

# .installed names the lock it holds: switching TORCH reinstalls. --retries 1: an unreachable
# extra index (the PyTorch CPU index behind a firewall) costs one failed lookup per package, not six.
# The CUDA lock installs from PyPI alone (no pip config, no local wheel folder with a +cpu torch).
$(VENV)/.installed: $(LOCK) pyproject.toml $(if $(filter-out $(LOCK),$(shell cat $(VENV)/.installed 2>/dev/null)),FORCE)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(if $(filter cuda,$(TORCH)),env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null) $(PY) -m pip install -q --retries 1 -r $(LOCK)
	$(PY) -m pip install -q --no-deps -e .
	echo $(LOCK) > $@

FORCE:

help:  ## list the targets (this text)
	@grep -E '^[a-z-]+:.*## ' $(firstword $(MAKEFILE_LIST)) | sed -E 's/^([a-z-]+):.*## /\1\t/' | expand -t 18

setup: $(VENV)/.installed  ## create .venv and install the pinned dependencies

data: setup  ## (re)generate the embedded demo data and track it with DVC
	$(PY) -m actionrec demo-data
	dvc add -q data/raw/landmarks data/raw/videos

repro: setup  ## run the DVC pipeline
	dvc repro

demo: data repro  ## set up, generate demo data, run the pipeline, show the leaderboard
	@$(PY) -m actionrec leaderboard
	@echo "Compare runs in the MLflow UI:  $(VENV)/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db  (then open http://127.0.0.1:5000)"

browser:  ## headless Chromium + chromedriver (Debian packages) for the browser tests; needs root
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update && apt-get install -y --no-install-recommends chromium chromium-driver; \
	else echo "browser: /usr/bin/chromium or /usr/bin/chromedriver missing and not root with apt-get: the browser tests will skip"; fi

postgres:  ## PostgreSQL server binaries (Debian package) for the shared-tracking-server test; needs root
	@if command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql; \
	else echo "postgres: no initdb and not root with apt-get: the PostgreSQL tracking test will skip"; fi

retrain: setup  ## CI retraining: dvc pull -> dvc repro -> quality gate -> dvc push -> commit dvc.lock + metrics
	bash scripts/retrain.sh

test: setup browser postgres lint  ## the code checks, then every test tier (unit, slow, pipeline, realdata without the video pipelines, gpu: skipped where unavailable)
	$(PY) -m pytest -q -n 2 --durations=25

lint: setup  ## ruff (lint + format), mypy, the layer contract (lint-imports) and the generated DVC code deps
	ruff check .
	ruff format --check .
	mypy
	lint-imports --no-cache
	$(PY) -m actionrec.lineage.codedeps --check

format: setup  ## apply ruff's fixes and formatting
	ruff check --fix .
	ruff format .

hooks: setup  ## install the git pre-commit hook (runs `make lint`)
	pre-commit install

test-fast: setup  ## unit tests only
	$(PY) -m pytest -q -m "not slow and not pipeline and not realdata"

realdata-full: setup  ## the real-data tier in the README's full configuration, kept in reports/realdata/*_full (needs ../shared/data; ~15 min)
	ACTIONREC_REALDATA=full ACTIONREC_REALDATA_RESULTS=$(CURDIR)/reports/realdata $(PY) -m pytest -q -m realdata tests/realdata

realdata-reports: setup  ## the real-data tier in its CI configuration, kept in reports/realdata/ (needs ../shared/data)
	ACTIONREC_REALDATA=ci ACTIONREC_REALDATA_RESULTS=$(CURDIR)/reports/realdata $(PY) -m pytest -q -m realdata tests/realdata

screenshots: setup browser  ## the browser tier, saving the README's screenshots in reports/screenshots/
	ACTIONREC_SCREENSHOT_DIR=$(CURDIR)/reports/screenshots $(PY) -m pytest -q -m browser tests/browser

docs: setup  ## every README shell block, the long ones included (tests/docs)
	ACTIONREC_DOCS=full $(PY) -m pytest -q -m docs tests/docs

lock:  ## re-resolve requirements/base.in against PyPI alone into requirements/lock-cpu.txt and lock-cuda.txt
	$(PYTHON) scripts/lock.py

bench: setup  ## every serving/extraction benchmark in one run -> reports/benchmarks.md (run it on an idle machine)
	$(PY) benchmarks/report.py

vega:  ## rebuild vendor/vega/plots_template.html (dvc plots' offline page) from the pinned npm tarballs
	$(PY) scripts/vendor_vega.py

clean:  ## remove the untracked pipeline outputs and the MLflow store (not the raw data, nothing git tracks)
	git clean -fdXq -- data/interim data/processed models reports dvc_plots mlflow.db mlruns
