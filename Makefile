# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# torch is pinned to the wheels this machine keeps on disk (pip takes them without downloading);
# on a laptop, install torch first (CPU or CUDA build) and pip keeps it, see README.
TORCH  ?= torch==2.14.1 torchvision==0.29.1
# Where no NVIDIA GPU is present (no nvidia-smi) and PyTorch's CPU-only index answers, torch comes from there:
# the CPU build, without the CUDA libraries that made a 6.6 GB venv. Otherwise (a GPU, or a machine that
# reaches only PyPI and keeps torch wheels on disk, like CI's) pip's own indexes, as before.
# `make TORCH_INDEX= install` forces the latter; `make TORCH_INDEX=URL install` picks another index.
CPU_TORCH_INDEX := https://download.pytorch.org/whl/cpu
TORCH_INDEX ?= $(shell if ! command -v nvidia-smi >/dev/null 2>&1 && $(PYTHON) -c "import urllib.request as u; \
  u.urlopen('$(CPU_TORCH_INDEX)/torch/', timeout=5)" >/dev/null 2>&1; then echo $(CPU_TORCH_INDEX); fi)
# The exact versions of everything else that CI last passed with (`make lock` writes it; torch is TORCH's).
LOCK   := requirements.lock
# A second venv for the newest versions pyproject.toml's ranges allow (`make test-latest`).
LATEST := .venv-latest
# A third venv for the oldest Ray pyproject.toml allows (`make test-oldest`): Ray alone is older there.
OLDEST := .venv-oldest

.PHONY: demo test test-fast test-latest test-oldest install lock clean

$(BIN)/hwk4tune: pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch, torchvision" 2>/dev/null || $(BIN)/pip install --quiet \
	  $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX) --extra-index-url https://pypi.org/simple) $(TORCH)
	$(BIN)/pip install --quiet -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip check
	touch $@

install: $(BIN)/hwk4tune

demo: install
	$(BIN)/hwk4tune demo --out demo_out

# Two pytest workers (pytest-xdist), each a whole test file at a time (its module-scoped sweeps stay shared) and
# its own local Ray: most of a test's time is waiting on Ray, trial processes and subprocesses, so on 2 cores two
# files overlap their waits. Files with slow tests go first (tests/conftest.py), so both workers end together.
# `make WORKERS=0 test` runs in one process. test-latest and test-oldest use the same workers.
WORKERS ?= 2
XDIST := $(if $(filter-out 0,$(WORKERS)),-n $(WORKERS) --dist loadfile --no-loadscope-reorder)
test: install
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q -rs --durations=25 $(XDIST)

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

# The tests marked `newest` (every searcher and scheduler once, NSGA-II and several objectives, a resume, the
# importers, the progress output) under the newest release of every dependency the ranges allow: a release
# that breaks hwk4tune shows here before a user meets it. The venv holds only what is newer than the lock;
# a .pth file puts .venv's packages (torch among them, 5 GB) after its own.
test-latest: install
	test -x $(LATEST)/bin/python || $(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python .ci/newest_versions.py link $(VENV)
	$(LATEST)/bin/pip install --quiet --upgrade pip
	$(LATEST)/bin/pip install --quiet --upgrade --upgrade-strategy eager -e ".[dev]"
	$(LATEST)/bin/pip check
	$(LATEST)/bin/python .ci/newest_versions.py diff $(LOCK)
	$(LATEST)/bin/python -m pytest -q -rs -m newest -p no:cacheprovider $(XDIST)

# The tests marked `oldest_ray` (every searcher and scheduler once, PBT, HyperBand under max_concurrent_trials,
# resume after SIGKILL, two nodes on loopback, job submission, Ray Client) under the oldest Ray the range allows
# (its lower bound's newest patch, from pyproject.toml), everything else as locked. As for test-latest, a .pth
# file puts .venv's packages after the venv's own: only Ray (and what it alone needs) is installed here.
# Of a parametrized test the marker takes every case; one case per searcher, scheduler and kill is enough here.
OLDEST_DESELECT := $(foreach t,test_sweep.py::test_searcher_with_fifo_and_asha[random+fifo] \
  test_sweep.py::test_searcher_with_fifo_and_asha[grid+asha] test_sweep.py::test_searcher_with_fifo_and_asha[optuna+fifo] \
  test_sweep.py::test_searcher_with_fifo_and_asha[hyperopt+asha] test_evolutionary.py::test_real_sweep[de] \
  test_evolutionary.py::test_real_sweep[nsga2] test_resume.py::test_sigkill_then_resume[1-0.0] \
  test_resume.py::test_sigkill_then_resume[4-0.5] test_resume.py::test_sigkill_then_resume[14-0.8] \
  test_resume.py::test_sigkill_then_resume[19-0.2],'--deselect=tests/$(t)') \
  "--deselect=tests/test_hyperband.py::test_hyperband_halves_under_max_concurrent_trials[{name: hyperopt, seed: 0, n_initial_points: 4}]"
test-oldest: install
	test -x $(OLDEST)/bin/python || $(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python .ci/newest_versions.py link $(VENV)
	$(OLDEST)/bin/pip install --quiet --upgrade pip setuptools
	$(OLDEST)/bin/pip install --quiet "$$($(BIN)/python .ci/newest_versions.py oldest ray)"
	$(OLDEST)/bin/pip install --quiet --no-deps -e .
	$(OLDEST)/bin/pip check
	$(OLDEST)/bin/python -c "import ray; print('test-oldest: Ray', ray.__version__)"
	$(OLDEST)/bin/python -m pytest -q -rs -m oldest_ray -p no:cacheprovider --durations=15 $(XDIST) $(OLDEST_DESELECT)

# Re-resolve $(LOCK) from pyproject.toml's ranges (uv; every platform, Python 3.11), torch left to TORCH.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv
	$(BIN)/python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
	  print('\n'.join(d for d in p['dependencies'] + p['optional-dependencies']['dev'] \
	  if not d.startswith(('torch', 'torchvision'))))" > $(LOCK).in
	$(BIN)/uv pip compile $(LOCK).in --universal --python-version 3.11 --quiet --no-header -o $(LOCK)
	sed -i '1i # The versions CI last passed with; `make install` installs them. Made by `make lock` (uv pip compile of\n# pyproject.toml without torch and torchvision, which the Makefile pins): edit pyproject.toml, not this file.' $(LOCK)
	rm $(LOCK).in

clean:
	rm -rf $(VENV) $(LATEST) $(OLDEST) demo_out runs
