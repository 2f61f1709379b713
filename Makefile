# Everything a fresh machine needs is installed from here (Python 3.11, root or not).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: env system test lab bench bench-gpu gpu-wheels gpu-session clean

# System packages, installed with apt-get when running as root and missing: g++ (the C++
# backend), python3-venv (the virtual environment), chromium (the browser test drives it),
# graphviz (its `dot` draws graphs; without it symnb uses the pip-installed graphviz-pure,
# and the tests draw with both).
# Not root: install them yourself (README), or the browser test skips outside CI.
system:
	@missing=""; \
	command -v g++ >/dev/null || missing="$$missing g++"; \
	$(PYTHON) -c "import ensurepip" 2>/dev/null || missing="$$missing python3-venv"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v dot >/dev/null || missing="$$missing graphviz"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "apt-get install -y$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	elif [ -n "$$missing" ]; then echo "note: missing system packages:$$missing"; fi

env: $(STAMP)

$(STAMP): pyproject.toml | system
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

test: env system
	$(PY) -m pytest -q -n 2 tests
	@if grep -qw avx512f /proc/cpuinfo; then \
	  echo "AVX-512 here: the C++ tests again with SYMNB_CXXFLAGS=-mno-avx512f"; \
	  SYMNB_CXXFLAGS=-mno-avx512f $(PY) -m pytest -q -n 2 $(PORTABLE_TESTS); fi

# The tour opens first; ipywidgets' JupyterLab extension comes with the pip install.
lab: env system
	@echo "Starting JupyterLab on notebooks/ — open the http://127.0.0.1:8888/lab?token=... URL printed below"
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --ip=127.0.0.1 --port=8888 --no-browser $(ROOT_FLAG) \
		--LabApp.default_url=/lab/tree/00_tour.ipynb

# The peers are an optional extra; BENCH_ARGS=--quick (or --only A,B ...) passes options on.
BENCH_STAMP := $(VENV)/.bench-stamp
BENCH_ARGS ?=

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) -m benchmarks.run $(BENCH_ARGS)

# The GPU section (benchmarks/RESULTS.md, "GPU (CUDA backend)"): needs a CUDA device.
bench-gpu: $(BENCH_STAMP)
	$(PY) -m pip install --quiet -e '.[cuda]'
	$(PY) -m benchmarks.gpu $(BENCH_ARGS)

# A GPU session in one call (benchmarks/gpu_session.sh): the CUDA tests, the RBM samplers on
# the GPU and benchmarks.gpu, logs under OUT. The GPU machines have no network, so their test
# tools come as wheels for their Python (GPU_PYTHON; the dev extra's versions): make gpu-wheels
# here, then carry build/gpu-wheels to the GPU machine with the checkout.
GPU_WHEELS := build/gpu-wheels
GPU_PYTHON ?= 3.12
GPU_TOOLS = $$($(PY) -c "import re, tomllib; dev = tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['dev']; print(*(d for d in dev if re.split('[<>=!~ ]', d)[0] in ('pytest', 'pytest-xdist', 'hypothesis')))")

gpu-wheels: $(STAMP)
	rm -rf $(GPU_WHEELS)
	$(PY) -m pip download --quiet --disable-pip-version-check --only-binary=:all: --python-version $(GPU_PYTHON) \
		--platform manylinux2014_x86_64 --dest $(GPU_WHEELS) $(GPU_TOOLS)
	@ls $(GPU_WHEELS); du -sh $(GPU_WHEELS)

gpu-session:
	bash benchmarks/gpu_session.sh $(OUT)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
