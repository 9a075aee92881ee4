# feedsift: `make help` lists the targets.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
INDEX_DIR ?= var/index
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run test check relevance bench bench-large load clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "needs $(PYTHON) (Python 3.11+); set PYTHON=..." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install feedsift with its test extras

run: $(STAMP) ## Build an index from samples/ and serve the API on 127.0.0.1:8000
	FEEDSIFT_INDEX_DIR=$(INDEX_DIR) $(BIN)/feedsift rebuild samples/*.rss samples/*.atom samples/*.rdf samples/*.txt samples/*.jsonl
	FEEDSIFT_INDEX_DIR=$(INDEX_DIR) $(BIN)/gunicorn -c gunicorn.conf.py --bind $(HOST):$(PORT) 'service.app:create_app()'

test: $(STAMP) ## Run the whole test suite
	$(BIN)/python -m pytest

check: test ## The test suite, then ruff and mypy
	$(BIN)/ruff check index service tests bench
	$(BIN)/mypy

relevance: $(STAMP) ## Ranking quality on every collection in ../shared/data/relevance; fails under a floor
	$(BIN)/python bench/relevance.py ../shared/data/relevance --floors bench/relevance_floors.toml

bench: $(STAMP) ## Speed benchmark at 10k and 100k items, FTS5 peer and real gunicorn; writes BENCH.md
	$(BIN)/python bench/speed.py --items 10000 100000 --http --out BENCH.md

bench-large: $(STAMP) ## By hand, not in CI: 1M items built, searched, added to, served (WORKDIR=...); BENCH.md
	$(BIN)/python bench/large.py --items 1000000 --workdir $(or $(WORKDIR),/tmp/feedsift-large) --out BENCH.md

load: $(STAMP) ## Load-test a gunicorn it starts over a 10k-item corpus (1, 16, 64 connections)
	$(BIN)/python bench/load.py --items 10000 --requests 400 --concurrency 1 16 64

clean: ## Remove the virtualenv and the local index
	rm -rf $(VENV) var
