"""The C++ program: compiles (or fetches) the module, hands it constants, Python fallbacks
and NumPy's own BLAS entry points, and runs it."""
from __future__ import annotations

import ctypes
import glob
import os
from functools import lru_cache

import numpy as np

from ..base import Backend, Program, register
from ..numpy import run_node
from .compiler import compile_module, compiler_available
from .renderer import CppRenderer

BLAS_SYMBOLS = ("dgemm", "sgemm", "dgemv", "sgemv", "ddot", "sdot")


@lru_cache(maxsize=1)
def blas_pointers() -> tuple:
    """Addresses of cblas routines in the OpenBLAS bundled with NumPy (one thread pool with it)."""
    libdir = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libdir, "libscipy_openblas*.so"))):
        lib = ctypes.CDLL(path)
        suffix = "64_" if "64" in os.path.basename(path) else ""
        try:
            return tuple(ctypes.cast(getattr(lib, f"scipy_cblas_{s}{suffix}"), ctypes.c_void_p).value
                         for s in BLAS_SYMBOLS)
        except AttributeError:
            continue
    raise RuntimeError("the C++ backend needs NumPy's bundled OpenBLAS (numpy.libs/libscipy_openblas*.so)")


def _fallback(node):
    def call(*args):
        return tuple(run_node(node, list(args)))
    return call


class CppProgram(Program):
    def __init__(self, fgraph):
        rendered = CppRenderer().render(fgraph)
        self.source = rendered.source
        self.fallback_nodes = rendered.fallbacks
        self.module = compile_module(rendered.source)
        self.module.set_blas(*blas_pointers())
        self.state = self.module.new_state(tuple(rendered.constants),
                                           tuple(_fallback(n) for n in rendered.fallbacks), tuple(rendered.wheres))
        self._run = self.module.run

    def __call__(self, args):
        # Aliasing between outputs, inputs and shared storage is handled by sn.function.
        return list(self._run(self.state, *args))


class CppBackend(Backend):
    name = "cpp"

    def available(self):
        return compiler_available()

    def source(self, fgraph):
        return CppRenderer().render(fgraph).source

    def compile(self, fgraph):
        ok, why = compiler_available()
        if not ok:
            raise RuntimeError(why)
        return CppProgram(fgraph)


register(CppBackend())
