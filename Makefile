# Cellfleet: the commands people and CI share.
#   make demo   create .venv, build the labextension, install, run examples/quickstart.ipynb headless and print it
#   make test   the same install, then lint, pytest, jest and the Galata browser tests
#   make lab    open JupyterLab with the cellfleet kernel and the Experiments panel
#   make bench  run the benchmarks and print their tables
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
UI_STAMP   := tests/ui/node_modules/.installed
EXTENSION  := labextension/static/style.js
TS_SOURCES := $(wildcard jupyter_ext/*.ts jupyter_ext/*.tsx style/*) package.json tsconfig.json
# dask-cuda (the `cuda` extra) only where an NVIDIA driver answers; CPU machines stay lean
EXTRAS     ?= $(shell nvidia-smi >/dev/null 2>&1 && echo dev,postgres,cuda || echo dev,postgres)

.PHONY: demo test lint lab bench gpu-check ui-test chromium clean

$(NODE_STAMP): package.json
	npm ci --no-audit --no-fund || npm install --no-audit --no-fund
	touch $@

$(EXTENSION): $(NODE_STAMP) $(TS_SOURCES)
	npm run build:prod

$(STAMP): pyproject.toml $(EXTENSION)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) scripts/show_notebook.py examples/quickstart.ipynb

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts
	$(VENV)/bin/mypy
	npm run lint

test: lint postgres
	npm test
	CELLFLEET_REQUIRE_POSTGRES=1 $(PY) -m pytest -q -p no:cacheprovider
	$(MAKE) ui-test

chromium:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; }

# PostgreSQL's binaries (Debian's package; the tests make a throwaway cluster of their own with
# initdb, see tests/postgres.py) and its driver, the `postgres` extra
.PHONY: postgres
postgres: $(STAMP)
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; }
	@$(PY) -c "import psycopg" 2>/dev/null || $(PY) -m pip install -q -e ".[postgres]"

$(UI_STAMP): tests/ui/package.json
	cd tests/ui && (npm ci --no-audit --no-fund || npm install --no-audit --no-fund)
	touch $@

ui-test: $(STAMP) $(UI_STAMP) chromium
	cd tests/ui && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" npx playwright test

lab: $(STAMP)
	$(VENV)/bin/jupyter lab examples/

bench: $(STAMP) $(UI_STAMP) chromium
	$(PY) benchmarks/bench_remote.py
	$(PY) benchmarks/bench_variants.py
	$(PY) benchmarks/bench_production.py
	$(PY) benchmarks/bench_resume.py
	$(PY) benchmarks/bench_warm.py
	$(PY) benchmarks/bench_data.py
	$(PY) benchmarks/bench_bigdata.py
	$(PY) benchmarks/bench_api.py
	$(PY) benchmarks/bench_panel.py

gpu-check: $(STAMP)
	bash scripts/gpu-check

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache node_modules lib labextension tests/ui/node_modules
