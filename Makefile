# Everything a fresh machine needs is installed from here (Python 3.11, root or not).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: env test lab bench clean

env: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (symnb)" >/dev/null
	touch $(STAMP)

# On a machine with AVX-512 the C++ op, random-graph and random-stream tests run a second
# time with it switched off (SYMNB_CXXFLAGS is part of the compile cache key), so the
# portable kernels every other x86-64 machine runs are tested too. Without AVX-512 the
# first run already is that run.
PORTABLE_TESTS := tests/kernels/cpp/test_cpp_ops.py tests/kernels/cpp/test_cpp_random_graphs.py tests/core/test_random.py

test: env
	$(PY) -m pytest -q -n 2 tests
	@if grep -qw avx512f /proc/cpuinfo; then \
	  echo "AVX-512 here: the C++ tests again with SYMNB_CXXFLAGS=-mno-avx512f"; \
	  SYMNB_CXXFLAGS=-mno-avx512f $(PY) -m pytest -q -n 2 $(PORTABLE_TESTS); fi

lab: env
	@echo "Starting JupyterLab on notebooks/ — open the http://127.0.0.1:8888/lab?token=... URL printed below"
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --ip=127.0.0.1 --port=8888 --no-browser $(ROOT_FLAG)

# The peers are an optional extra; BENCH_ARGS=--quick (or --only A,B ...) passes options on.
BENCH_STAMP := $(VENV)/.bench-stamp
BENCH_ARGS ?=

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
