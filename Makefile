# Cellfleet: the commands people and CI share.
#   make demo   create .venv, install, run examples/quickstart.ipynb headless and print it
#   make test   create .venv, install, lint, run the whole test suite
#   make lab    open JupyterLab with the cellfleet kernel
#   make bench  run the benchmarks and print their tables
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint lab bench gpu-check clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) scripts/show_notebook.py examples/quickstart.ipynb

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts

test: lint
	$(PY) -m pytest -q -p no:cacheprovider

lab: $(STAMP)
	$(PY) -m pip install -q "jupyterlab>=4.2"
	$(VENV)/bin/jupyter lab examples/

bench: $(STAMP)
	$(PY) benchmarks/bench_remote.py
	$(PY) benchmarks/bench_variants.py
	$(PY) benchmarks/bench_production.py

gpu-check: $(STAMP)
	bash scripts/gpu-check

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
