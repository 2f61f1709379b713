"""Helpers of the CUDA tests: compile generated modules to PTX (NVRTC, no GPU needed; ptxas
when installed), and run the C++ backend's op and graph tests on "cuda": every graph they
build is generated and compiled to PTX, then run on the GPU, or skipped saying why.
On the GPU their functions hand back NumPy arrays (the tests compare with NumPy's, and cupy
refuses implicit conversion) and float32 results are held to FLOAT32_RTOL."""
import importlib.util
import inspect
from pathlib import Path

import numpy as np
import pytest

import symnb as sn
from symnb.kernels.cuda.backend import CudaBackend, device_status

GPU_OK, GPU_WHY = device_status()
# The bound for float32 on a GPU: CUDA's float32 functions are within a few ulp of the exact
# value, as NumPy's are, but not the same few.
FLOAT32_RTOL = 1e-5


def nvrtc_or_skip():
    from symnb.kernels.cuda.compiler import nvrtc
    try:
        nvrtc()
    except ImportError as e:
        pytest.skip(str(e))


def check_ptx(source: str) -> str:
    """The PTX of a generated module; fails the test when NVRTC or ptxas rejects it."""
    from symnb.kernels.cuda.compiler import compile_ptx, ptxas_check
    nvrtc_or_skip()
    ptx = compile_ptx(source)
    problem = ptxas_check(ptx)
    assert problem is None, f"ptxas rejected the PTX of this module:\n{problem}\n{source}"
    return ptx


class OnCuda:
    """symnb as the copied tests see it: sn.function(..., backend="cuda") first compiles the
    graph's CUDA module to PTX, then builds the function where a GPU can run it, else skips."""

    def __getattr__(self, name):
        return getattr(sn, name)

    @staticmethod
    def function(inputs, outputs=None, *args, backend=None, **kw):
        if backend == "cuda":
            ups, giv = kw.get("updates"), kw.get("givens")
            check_ptx(sn.codegen(inputs, outputs, updates=ups, givens=giv, backend="cuda",
                                 rewrite=kw.get("rewrite", True), on_unused_input=kw.get("on_unused_input", "raise")))
            if not GPU_OK:
                pytest.skip(f"no CUDA device here ({GPU_WHY}); the graph's CUDA module compiled to PTX")
            backend = CudaBackend(outputs="numpy")
        return sn.function(inputs, outputs, *args, backend=backend, **kw)


def copy_tests(filename: str, name: str) -> dict:
    """The tests of kernels/cpp/`filename` that run on the module's BACKEND, in a copy of that
    module set to "cuda" (the C++-only tests stay in the C++ file)."""
    path = Path(__file__).parents[1] / "cpp" / filename
    spec = importlib.util.spec_from_file_location(f"tests.kernels.cpp.{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.BACKEND, mod.sn = "cuda", OnCuda()
    if hasattr(mod, "assert_same"):
        mod.assert_same = float32_bound(mod.assert_same)
    keys = ("compare(", "raises_alike(", "BACKEND")
    return {k: v for k, v in vars(mod).items() if k.startswith("test_") and callable(v)
            and any(key in inspect.getsource(v) for key in keys)}


def float32_bound(assert_same):
    """assert_same(got, want, rtol, what) with float32 tolerances of at least FLOAT32_RTOL
    (exact comparisons stay exact)."""
    def check(got, want, rtol=0.0, what=""):
        if rtol and np.asarray(want).dtype == np.float32:
            rtol = max(rtol, FLOAT32_RTOL)
        return assert_same(got, want, rtol, what)
    return check
