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

.PHONY: setup demo data repro test test-fast realdata-full realdata-reports screenshots docs lock clean browser postgres retrain

$(VENV)/.installed: requirements/lock.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements/lock.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

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

test: setup browser postgres  ## run every test tier (unit, slow, pipeline, realdata, gpu: skipped where unavailable)
	$(PY) -m pytest -q

test-fast: setup  ## unit tests only
	$(PY) -m pytest -q -m "not slow and not pipeline and not realdata"

realdata-full: setup  ## the real-data tier in the README's full configuration, kept in reports/realdata/*_full (needs ../shared/data; ~15 min)
	ACTIONREC_REALDATA=full ACTIONREC_REALDATA_RESULTS=$(CURDIR)/reports/realdata $(PY) -m pytest -q -m realdata tests/realdata

realdata-reports: setup  ## the real-data tier in its CI configuration, kept in reports/realdata/ (needs ../shared/data)
	ACTIONREC_REALDATA_RESULTS=$(CURDIR)/reports/realdata $(PY) -m pytest -q -m realdata tests/realdata

screenshots: setup browser  ## the browser tier, saving the README's screenshots in reports/screenshots/
	ACTIONREC_SCREENSHOT_DIR=$(CURDIR)/reports/screenshots $(PY) -m pytest -q -m browser tests/browser

lock:  ## re-resolve requirements/base.in into requirements/lock.txt
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/pip install -q -r requirements/base.in
	.lockvenv/bin/pip freeze > requirements/lock.txt && rm -rf .lockvenv

clean:  ## remove the untracked pipeline outputs and the MLflow store (not the raw data, nothing git tracks)
	git clean -fdXq -- data/interim data/processed models reports dvc_plots mlflow.db mlruns
