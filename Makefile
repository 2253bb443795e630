# graphfraud: two commands for a fresh machine.
#   make demo   set up, generate sample data, load its history, train, score the newest, serve API and UI on :8000
#   make test   set up (Python packages, Chromium, wrk, the Neo4j jars) and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
GF := $(VENV)/bin/graphfraud
DEMO_DIR ?= data/demo
DEMO_STORE ?= $(DEMO_DIR)/graphfraud.db
PORT ?= 8000

.PHONY: venv system-deps demo test test-fast bench clean

venv: $(VENV)/.installed

# setup.py compiles the engine's hot modules (Cython): an edit of one of them builds it again (until then it
# runs as Python, never stale: graphfraud/graph/__init__.py)
COMPILED_SOURCES := $(addprefix graphfraud/graph/,features.py engine.py activity.py flows.py components.py)

$(VENV)/.installed: pyproject.toml setup.py $(COMPILED_SOURCES)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $@

system-deps:
	scripts/install-system-deps

demo: venv
	mkdir -p $(DEMO_DIR)
	test -f $(DEMO_DIR)/transactions.csv || $(GF) generate $(DEMO_DIR)/transactions.csv --users 5000 --seed 7
	# history (the first 97 % in time) is bulk-loaded; the newest 3 % arrive later and are scored online
	test -f $(DEMO_DIR)/incoming.csv || { n=$$(wc -l < $(DEMO_DIR)/transactions.csv); k=$$((n * 97 / 100)); \
	  head -n $$k $(DEMO_DIR)/transactions.csv > $(DEMO_DIR)/history.csv; \
	  { head -n 1 $(DEMO_DIR)/transactions.csv; tail -n +$$((k + 1)) $(DEMO_DIR)/transactions.csv; } \
	  > $(DEMO_DIR)/incoming.csv; }
	GRAPHFRAUD_STORE=$(DEMO_STORE) $(GF) load $(DEMO_DIR)/history.csv --rejects $(DEMO_DIR)/rejects.csv
	GRAPHFRAUD_STORE=$(DEMO_STORE) $(GF) train
	GRAPHFRAUD_STORE=$(DEMO_STORE) $(GF) score $(DEMO_DIR)/incoming.csv --out $(DEMO_DIR)/scores.csv
	GRAPHFRAUD_STORE=$(DEMO_STORE) $(GF) rings --top 10 --format table
	GRAPHFRAUD_STORE=$(DEMO_STORE) scripts/demo-accounts
	GRAPHFRAUD_STORE=$(DEMO_STORE) $(GF) serve --host 127.0.0.1 --port $(PORT) --workers 2

test: venv system-deps
	scripts/test

test-fast: venv
	$(PY) -m pytest -q -m "not slow and not neo4j and not browser"

clean:
	rm -rf $(VENV) build dist *.egg-info test-artifacts graphfraud/graph/*.c graphfraud/graph/*.so \
	  graphfraud/graph/_compiled.json
