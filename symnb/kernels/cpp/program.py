"""The C++ program (stage "program"): compiles or fetches the generated module through the
cache, hands it NumPy's own BLAS, the NumPy functions it calls, constants and Python
fallbacks, and runs it; `fast_path` gives sn.Function a call that stays in C.
"""
from __future__ import annotations

import ctypes
import glob
import os
from functools import lru_cache, partial

import numpy as np

from ..base import Program
from ..numpy import run_node
from .compiler import compile_module
from .renderer import CppRenderer, label, machine_cores

BLAS_SYMBOLS = ("dgemm", "sgemm", "dgemv", "sgemv", "ddot", "sdot")



class Retry(TypeError):
    """A compiled function wants its arguments converted by Python first (not an error the
    user sees: sn.Function converts them with TensorType.filter and calls again)."""


# What every generated module shares about OpenBLAS's thread count: a lock, how many
# products hold it at one thread, the count to restore (blas.h, OneBlasThread).
_BLAS_THREAD_STATE = (ctypes.c_int64 * 3)()
# The process's worker pool: the first module loaded publishes its own, the others use it
# (pool.h, share_pool).
_POOL_SLOT = (ctypes.c_int64 * 2)()


def _blas_state_after_fork():
    """A child forked while a split product held OpenBLAS at one thread gets its count back
    and the lock free (its own loops run serially: pool.h, pool_after_fork)."""
    _, depth, saved = _BLAS_THREAD_STATE
    if depth and blas_pointers.cache_info().currsize:
        set_threads = blas_pointers()[2][0]
        if set_threads:
            ctypes.CFUNCTYPE(None, ctypes.c_int)(set_threads)(int(saved))
    _BLAS_THREAD_STATE[0] = _BLAS_THREAD_STATE[1] = 0


os.register_at_fork(after_in_child=_blas_state_after_fork)


@lru_cache(maxsize=1)
def blas_pointers() -> tuple:
    """((dgemm, sgemm, dgemv, sgemv, ddot, sdot) addresses, fortran, (set_num_threads,
    get_num_threads, shared state) addresses or zeros).

    cblas from the OpenBLAS bundled with NumPy (one thread pool shared with NumPy: two
    pools spinning against each other cost 2-3x), else the Fortran BLAS capsules of
    scipy.linalg.cython_blas. OpenBLAS's thread-count functions let a product split between
    symnb's threads run each part on one OpenBLAS thread."""
    libdir = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libdir, "libscipy_openblas*.so"))):
        lib = ctypes.CDLL(path)
        suffix = "64_" if "64" in os.path.basename(path) else ""
        try:
            pointers = tuple(ctypes.cast(getattr(lib, f"scipy_cblas_{s}{suffix}"), ctypes.c_void_p).value
                             for s in BLAS_SYMBOLS)
        except AttributeError:
            continue
        try:
            threads = tuple(ctypes.cast(getattr(lib, f"scipy_openblas_{s}_num_threads{suffix}"), ctypes.c_void_p).value
                            for s in ("set", "get")) + (ctypes.addressof(_BLAS_THREAD_STATE),)
        except AttributeError:
            threads = (0, 0, 0)
        return pointers, False, threads
    from scipy.linalg import cython_blas
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    caps = [cython_blas.__pyx_capi__[s] for s in BLAS_SYMBOLS]
    return tuple(get(c, get_name(c)) for c in caps), True, (0, 0, 0)


def usable_cores() -> int:
    """Threads for big loops: $SYMNB_NUM_THREADS, else the cores this process may run on."""
    env = os.environ.get("SYMNB_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return machine_cores()


def _fallback(node):
    def call(*args):
        return tuple(run_node(node, list(args)))
    return call


def load(source: str):
    """The compiled module for `source`, set up to run (BLAS, NumPy functions, threads)."""
    module = compile_module(source)
    pointers, fortran, threads = blas_pointers()
    module.set_runtime(pointers, fortran, threads, np.add, (np.log, np.cos, np.sin), usable_cores(),
                       ctypes.addressof(_POOL_SLOT))
    return module


class CppProgram(Program):
    """One generated module and this function's state in it (buffers, constants, callbacks)."""

    shareable = True

    def __init__(self, fgraph, rendered=None):
        if rendered is None:
            rendered = CppRenderer().render(fgraph), list(fgraph.nodes)
            labels = rendered[0].labels
        else:
            labels = [label(v, k) for k, v in enumerate(fgraph.inputs)]
        self._rendered = rendered
        rendered, rendered_nodes = rendered
        self.source = rendered.source
        # The rendered graph's nodes that run in Python, as this graph's nodes (same places;
        # a loop body's stay the rendered ones).
        place = {id(n): k for k, n in enumerate(rendered_nodes)}
        self.fallback_nodes = [fgraph.nodes[place[id(n)]] if id(n) in place else n for n in rendered.fallbacks]
        self.module = load(rendered.source)
        self.state = self.module.new_state(
            tuple(rendered.constants), tuple(_fallback(n) for n in rendered.fallbacks), tuple(rendered.wheres),
            tuple(labels), Retry)
        self._run = self.module.run

    def fresh(self, fgraph):
        """This program's code with a state of its own, for fgraph: a graph of the same
        structure as the one rendered (its inputs name the inputs in messages). The module
        is fetched through the cache again, so $CXX and $SYMNB_CACHE_DIR are honoured."""
        return CppProgram(fgraph, self._rendered)

    def __call__(self, args):
        return list(self._run(self.state, *args))

    def fast_path(self, function):
        """(module.call bound to this state, Retry): the call checks, computes, stores
        updates and returns exactly what `function` returns; it raises Retry when Python
        should convert the arguments first."""
        position = {id(s): k for k, s in enumerate(function.shared)}
        targets = tuple(position[id(var)] for var, _ in function.updates)
        shapes = tuple(-1 if s is None else s for var, _ in function.updates for s in var.type.shape)
        self.module.bind(self.state, tuple(s.container for s in function.shared), len(function.outputs),
                         bool(function.single), targets, shapes)
        return partial(self.module.call, self.state), Retry
