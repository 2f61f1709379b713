# Everything a fresh machine needs is installed from here (Python 3.11, root or not).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: env test lab bench bench-gpu clean

env: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (symnb)" >/dev/null
	touch $(STAMP)

test: env
	$(PY) -m pytest -q -n 2 tests

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

# The GPU section (benchmarks/RESULTS.md, "GPU (CUDA backend)"): needs a CUDA device.
bench-gpu: $(BENCH_STAMP)
	$(PY) -m pip install --quiet -e '.[cuda]'
	$(PY) -m benchmarks.gpu $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
