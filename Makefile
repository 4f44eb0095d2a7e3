# Tongyuan — one entry point for people and CI.
#   make demo   create .venv from the lock if needed, run the main job on the embedded default
#   make test   the whole test suite (starts its own PostgreSQL / sshd / Chromium as needed)
#   make bench  benchmarks -> benchmarks/results.json
#   make lint   ruff

PYTHON ?= python3
VENV   ?= .venv
UV_VERSION := 0.13.8
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.tongyuan-installed

export TONGYUAN_HOME ?= $(CURDIR)/var

.PHONY: install bytecode demo test test-fast bench lint clean

# Bytecode is compiled ahead: with PYTHONDONTWRITEBYTECODE set (as on many CI machines)
# every process, and every worker process the hub spawns, would otherwise compile each
# module it imports again (a fresh clone validated 15 % slower for it).
install: $(STAMP) bytecode

bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q -j 0 tongyuan standards adapters signing dags benchmarks

$(STAMP): pyproject.toml uv.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv sync --frozen --inexact --quiet --compile-bytecode
	@touch $@

demo: install
	$(BIN)/tongyuan demo

test: install
	$(BIN)/pytest -n 2 --dist loadgroup -q

test-fast: install
	$(BIN)/pytest -q -x -m "not slow"

bench: install
	$(BIN)/python -m benchmarks

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf var .pytest_cache .ruff_cache
