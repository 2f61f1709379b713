#!/usr/bin/env bash
# The CUDA backend's GPU checks and benchmark in one call on a machine with a GPU and no network:
# each step under its own time limit, its output in OUT/<step>.log, so one failure never stops
# the rest; OUT/summary.txt has one line per step, OUT/gpu_bench.md the benchmark's Markdown.
#
#   bash benchmarks/gpu_session.sh [OUT [STEP...]]     (OUT defaults to $OUT, else build/gpu-session)
#
# Steps, in this order by default: tools env smoke codegen ops bench graphs samplers functions.
# symnb is imported from this checkout (PYTHONPATH); NumPy, SciPy, cupy, PyTorch and JAX are the
# machine's. pytest, pytest-xdist and hypothesis are installed from build/gpu-wheels (made by
# `make gpu-wheels` on a machine with network; copy it along with the checkout), else the
# machine's own are used if it has them. Without a GPU it says so and still does what needs
# none: every CUDA module the tests generate is compiled to PTX.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-${OUT:-$REPO/build/gpu-session}}
[ $# -gt 0 ] && shift
STEPS=${*:-tools env smoke codegen ops bench graphs samplers functions}
PY=${PYTHON:-python3}
WHEELS=${GPU_WHEELS:-$REPO/build/gpu-wheels}
WORK=${TMPDIR:-/tmp}/symnb-gpu-session  # test tools and compile cache: nothing there comes back
TOTAL=${GPU_SESSION_SECONDS:-470}       # the whole session; each step also has its own limit
mkdir -p "$OUT" "$WORK" && OUT=$(cd "$OUT" && pwd)
cd "$REPO" || exit 1
export PYTHONPATH=$REPO PYTHONUNBUFFERED=1 SYMNB_CACHE_DIR=$WORK/cache
[ -d "$WORK/site" ] && PYTHONPATH=$REPO:$WORK/site     # installed by an earlier call
export XLA_PYTHON_CLIENT_PREALLOCATE=false     # JAX would hold 75% of the GPU's memory
# Only our pytest plugins: a preinstalled one built for another pytest must not break the run.
export PYTEST_DISABLE_PLUGIN_AUTOLOAD=1
[ -d /usr/local/cuda/bin ] && PATH=$PATH:/usr/local/cuda/bin   # ptxas checks the PTX
SUMMARY=$OUT/summary.txt
: > "$SUMMARY"
START=$SECONDS
NPROC=$(nproc 2>/dev/null || echo 2)
WORKERS=$(( NPROC > 8 ? 8 : NPROC ))

note() { echo "$*" | tee -a "$SUMMARY"; }

# step NAME LIMIT CMD...: CMD under `timeout`, no longer than the session's time left.
step() {
  local name=$1 limit=$2 left=$(( TOTAL - (SECONDS - START) ))
  shift 2
  if [ "$left" -lt 15 ]; then note "$(printf '%-9s skipped: the session time (%ss) is spent' "$name" "$TOTAL")"; return; fi
  [ "$limit" -gt "$left" ] && limit=$left
  local t0=$SECONDS rc verdict
  timeout -k 10 "$limit" bash -c '"$@"' "$name" "$@" > "$OUT/$name.log" 2>&1
  rc=$?
  case $rc in 0) verdict=ok ;; 124|137) verdict="TIMED OUT (${limit}s)" ;; *) verdict="exit $rc" ;; esac
  note "$(printf '%-9s %-18s %4ss  %s' "$name" "$verdict" $(( SECONDS - t0 )) "$(tail -n 1 "$OUT/$name.log" | cut -c1-150)")"
}

# pytest with our plugins: xdist runs in parallel (NVRTC compiles on the CPUs) unless NO_XDIST
# is set; WRAPPER, Python code that ends in pytest.main(sys.argv[1:]), sets things up first.
run_pytest() {
  local opts=(-p no:cacheprovider -v --tb=short --durations=10)
  "$PY" -c "import _hypothesis_pytestplugin" 2>/dev/null && opts+=(-p _hypothesis_pytestplugin)
  [ -z "${NO_XDIST:-}" ] && "$PY" -c "import xdist" 2>/dev/null && opts+=(-p xdist.plugin -n "$WORKERS")
  if [ -n "${WRAPPER:-}" ]; then "$PY" -c "$WRAPPER" "${opts[@]}" "$@"; else "$PY" -m pytest "${opts[@]}" "$@"; fi
}

install_tools() {
  if ! ls "$WHEELS"/*.whl >/dev/null 2>&1; then
    echo "no wheels in $WHEELS (make gpu-wheels, and copy build/gpu-wheels along); the machine's own:"
  elif "$PY" -m pip --version >/dev/null 2>&1; then
    "$PY" -m pip install --disable-pip-version-check --no-index --find-links "$WHEELS" \
      --target "$WORK/site" --upgrade pytest pytest-xdist hypothesis || return 1
  else    # no pip: a wheel without scripts or data is installed by unpacking it
    "$PY" -c "import glob, sys, zipfile
for w in glob.glob(sys.argv[1] + '/*.whl'): zipfile.ZipFile(w).extractall(sys.argv[2])" "$WHEELS" "$WORK/site" || return 1
  fi
  PYTHONPATH=$REPO:$WORK/site "$PY" -c "import pytest, xdist, hypothesis
print('pytest', pytest.__version__, 'hypothesis', hypothesis.__version__, 'from', pytest.__file__)"
}

environment() {
  nvidia-smi || echo "(no nvidia-smi)"
  echo "nvcc: $(command -v nvcc || echo none); ptxas: $(command -v ptxas || echo none); $NPROC CPUs"
  "$PY" - <<'EOF'
import importlib, platform, sys
print("Python", platform.python_version(), sys.executable)
for name in ("numpy", "scipy", "cupy", "torch", "jax", "pytest", "xdist", "hypothesis"):
    try:
        m = importlib.import_module(name)
        print(f"{name} {getattr(m, '__version__', '?')} ({m.__file__})")
    except Exception as e:
        print(f"{name}: {type(e).__name__}: {e}")
from symnb.kernels.cuda.backend import device_status
print("symnb CUDA device:", device_status())
try:
    from symnb.kernels.cuda.compiler import nvrtc
    print("NVRTC", nvrtc().getVersion())
    import cupy
    cupy.show_config()
except Exception as e:
    print("NVRTC/cupy:", e)
try:
    import torch
    print("torch CUDA:", torch.cuda.is_available(), torch.version.cuda)
except Exception as e:
    print("torch:", e)
try:
    import jax
    print("jax devices:", jax.devices())
except Exception as e:
    print("jax:", e)
EOF
}

smoke() {   # one function of each kind of kernel, against the reference backend
  "$PY" - <<'EOF'
import numpy as np
import symnb as sn
import symnb.tensor as st
from symnb.kernels.cuda.backend import device_status
from symnb.kernels.cuda.compiler import compile_ptx
x, W, v = st.fmatrix("x"), st.fmatrix("W"), st.dvector("v")
rng = sn.RandomStream(seed=5)
outs = [st.softmax(st.dot(x, W)), (x * 2 + 1).sum(axis=0), st.argmax(x, axis=1), st.exp(v) - v ** 2,
        rng.uniform(size=(7,)), rng.binomial(n=1, p=0.3, size=(3, 4))]
args = (np.random.default_rng(0).random((5, 3), dtype=np.float32), np.eye(3, dtype=np.float32), np.linspace(-1, 1, 9))
ok, why = device_status()
if not ok:      # what can be checked here: the module compiles to PTX
    ptx = compile_ptx(sn.codegen([x, W, v], outs, backend="cuda"))
    raise SystemExit(f"smoke: no GPU ({why}); its module compiled to {len(ptx)} bytes of PTX")
f, g = (sn.function([x, W, v], outs, backend=b) for b in ("cuda", "numpy"))
for k, (a, b) in enumerate(zip(f(*args), g(*args))):
    a = a.get()
    assert a.dtype == b.dtype and a.shape == b.shape, (k, a.dtype, a.shape, b.dtype, b.shape)
    if k >= 4:
        np.testing.assert_array_equal(a, b, err_msg=f"output {k}: the random stream differs")
    else:
        np.testing.assert_allclose(a, b, rtol=1e-5 if a.dtype == np.float32 else 1e-12, err_msg=f"output {k}")
print("smoke: softmax(dot), sum, argmax, float64 elementwise, uniform and binomial draws equal the reference")
EOF
}

# The random graphs: one hypothesis test (xdist cannot split it); a failing example is reported
# as found, not shrunk (each shrinking step compiles a module again: minutes).
graphs() {
  NO_XDIST=1 WRAPPER="import sys, pytest
from hypothesis import Phase, settings
settings.register_profile('gpu', phases=[Phase.explicit, Phase.reuse, Phase.generate], print_blob=True)
settings.load_profile('gpu')
sys.exit(pytest.main(sys.argv[1:]))" run_pytest "$@"
}

# Python that makes backend "cuda" hand back NumPy arrays: the tests below compare results with
# NumPy's, and np.asarray refuses a cupy array (the codegen step checks outputs on the device).
NUMPY_OUTPUTS="import sys, pytest
from symnb.kernels.base import register
from symnb.kernels.cuda.backend import CudaBackend, device_status
register(CudaBackend(outputs='numpy'))"

# The RBM samplers' tests with every sampler function compiled for the GPU.
samplers() {
  NO_XDIST=1 WRAPPER="$NUMPY_OUTPUTS
import symnb.sampling.rbm as rbm
if not device_status()[0]:
    raise SystemExit('samplers: no GPU: ' + device_status()[1])
rbm.BACKEND = 'cuda'
sys.exit(pytest.main(sys.argv[1:]))" run_pytest "$@"
}

# Every other test collected for backend "cuda" (the `backend` fixture, files naming cuda).
functions() {
  local files
  mapfile -t files < <(grep -rlE --include='test_*.py' 'def test_\w*\([^)]*\bbackend\b|"cuda"' tests \
    | grep -vE '^tests/(kernels|browser|notebooks)/')
  [ ${#files[@]} -gt 0 ] || { echo "no test files found"; return 1; }
  NO_XDIST=1 WRAPPER="$NUMPY_OUTPUTS
sys.exit(pytest.main(sys.argv[1:]))" run_pytest --continue-on-collection-errors -k cuda "${files[@]}"
}

export REPO OUT PY WHEELS WORK WORKERS NPROC NUMPY_OUTPUTS
export -f run_pytest install_tools environment smoke graphs samplers functions
note "symnb GPU session: $(date -u '+%Y-%m-%d %H:%M UTC'), steps: $STEPS, logs in $OUT"
"$PY" -c "from symnb.kernels.cuda.backend import device_status as d; ok, why = d(); print('GPU: yes' if ok else f'NO GPU: {why}; only the PTX checks mean anything')" 2>&1 | tee -a "$SUMMARY"
for s in $STEPS; do
  case $s in
    tools)    step tools 90 install_tools
              [ -d "$WORK/site" ] && export PYTHONPATH=$REPO:$WORK/site ;;
    env)      step env 60 environment ;;
    smoke)    step smoke 60 smoke ;;
    codegen)  step codegen 90 run_pytest tests/kernels/cuda/test_cuda_codegen.py tests/kernels/cuda/test_cuda_launch.py ;;
    ops)      step ops 150 run_pytest tests/kernels/cuda/test_cuda_ops.py tests/kernels/cuda/test_cuda_scan.py ;;
    bench)    step bench 180 sh -c "\"$PY\" -m benchmarks.gpu > \"$OUT/gpu_bench.md\"" ;;
    graphs)   step graphs 120 graphs tests/kernels/cuda/test_cuda_random_graphs.py ;;
    samplers) step samplers 90 samplers tests/sampling/test_samplers.py tests/sampling/test_rbm.py ;;
    functions) step functions 90 functions ;;
    *) note "unknown step $s (steps: tools env smoke codegen ops bench graphs samplers functions)" ;;
  esac
done
note "done in $(( SECONDS - START ))s"
[ -s "$OUT/gpu_bench.md" ] && { echo; cat "$OUT/gpu_bench.md"; }
exit 0
