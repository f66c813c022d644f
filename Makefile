# Recipes shared by people and CI. The README's two commands call `make demo` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000

.PHONY: install demo test test-all container-test lint bench clean

# pip's output goes to $(VENV)/install.log, shown only when the install fails.
INSTALL_LOG := $(VENV)/install.log

$(BIN)/sasaran: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=python3"; exit 2; }
	@echo "Installing Sasaran and its dependencies into $(VENV) (a few minutes the first time)..."
	@$(PYTHON) -m venv $(VENV)
	@{ $(BIN)/python -m pip install --upgrade pip && $(BIN)/python -m pip install -e '.[test]'; } \
		> $(INSTALL_LOG) 2>&1 || { cat $(INSTALL_LOG); echo "error: the install failed (log: $(INSTALL_LOG))"; exit 1; }
	@touch $@

# The browser test drives Chromium with playwright-core (pinned in its package-lock.json).
NODE_CLIENT := tests/clients/node
$(NODE_CLIENT)/node_modules: $(NODE_CLIENT)/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix $(NODE_CLIENT) --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the planner browser test will be skipped"; fi

install: $(BIN)/sasaran

# Quiet unless something fails; `sasaran serve` prints the URLs once they answer.
demo: install
	@$(BIN)/sasaran demo --out demo-data >/dev/null
	@echo "Synthetic province written to demo-data/; building the store (about a minute)..."
	@$(BIN)/sasaran build demo-data/sasaran.toml --store store --quiet
	@$(BIN)/sasaran serve --store store --host 127.0.0.1 --port $(PORT) --register-key-file demo-data/register.key

# The suite in TEST_WORKERS processes, each test file kept in one (its module fixtures built once).
TEST_WORKERS ?= 2

test: install $(NODE_CLIENT)/node_modules
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

test-all: install
	$(BIN)/python -m pytest -m ''

# Build docker/Dockerfile with podman and smoke-test the container from outside (CI; needs root
# to install podman and debootstrap a base image). SASARAN_CONTAINER_FRESH=1: a cold build.
container-test:
	bash scripts/ci-container.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install
	$(BIN)/python scripts/bench.py

clean:
	rm -rf demo-data store .pytest_cache .ruff_cache .mypy_cache
