# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# torch is pinned to the wheels this machine keeps on disk (pip takes them without downloading);
# on a laptop, install torch first (CPU or CUDA build) and pip keeps it, see README.
TORCH  ?= torch==2.14.1 torchvision==0.29.1

.PHONY: demo test test-fast install clean

$(BIN)/hwk4tune: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch, torchvision" 2>/dev/null || $(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/hwk4tune

demo: install
	$(BIN)/hwk4tune demo --out demo_out

test: install
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q -rs --durations=25

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) demo_out runs
