"""Machine and version facts recorded with every benchmark result, and the bounds measured
on the same machine: memory bandwidth (a 2-thread STREAM-like triad in C, built with g++
and called through ctypes) and NumPy's GEMM rate in float64 and float32.
"""
from __future__ import annotations

import ctypes
import os
import platform
import subprocess
import tempfile
import time

import numpy as np
import scipy

from . import peers

_TRIAD_SOURCE = r"""
#include <stddef.h>
extern "C" void init(double *a, double *b, double *c, size_t n, int threads) {
    #pragma omp parallel for schedule(static) num_threads(threads)
    for (size_t i = 0; i < n; ++i) { a[i] = 0.0; b[i] = 1.0; c[i] = 2.0; }
}
extern "C" void triad(double *a, const double *b, const double *c, double s, size_t n, int threads) {
    #pragma omp parallel for schedule(static) num_threads(threads)
    for (size_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
}
"""


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def compiler_version() -> str:
    try:
        out = subprocess.run([os.environ.get("CXX", "g++"), "--version"], capture_output=True, text=True)
        return out.stdout.splitlines()[0]
    except (OSError, IndexError):
        return "no C++ compiler"


def symnb_revision() -> str:
    """The git commit symnb was imported from, marked when its files have local changes."""
    import symnb
    where = os.path.dirname(symnb.__file__)
    try:
        commit = subprocess.run(["git", "-C", where, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", where, "status", "--porcelain", "."], capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "not in a git checkout"
    return f"commit {commit}" + (" with local changes" if dirty else "")


def triad_bandwidth(n=20_000_000, threads=2, repeats=10) -> float | None:
    """Best GB/s of a[i] = b[i] + s*c[i] over n doubles (24 bytes per element, as STREAM
    counts them), or None without a working g++ with OpenMP."""
    with tempfile.TemporaryDirectory(prefix="symnb-bench-triad-") as tmp:
        src, lib = os.path.join(tmp, "triad.cpp"), os.path.join(tmp, "triad.so")
        with open(src, "w") as f:
            f.write(_TRIAD_SOURCE)
        cmd = [os.environ.get("CXX", "g++"), "-O3", "-march=native", "-fopenmp", "-shared", "-fPIC", src, "-o", lib]
        try:
            if subprocess.run(cmd, capture_output=True).returncode != 0:
                return None
        except OSError:
            return None
        dll = ctypes.CDLL(lib)
    arrays = [np.empty(n) for _ in range(3)]
    ptrs = [a.ctypes.data_as(ctypes.c_void_p) for a in arrays]
    dll.init(*ptrs, ctypes.c_size_t(n), threads)         # first touch by the threads that use it
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        dll.triad(*ptrs, ctypes.c_double(3.0), ctypes.c_size_t(n), threads)
        best = min(best, time.perf_counter() - t0)
    return 24.0 * n / best / 1e9


def gemm_gflops(dtype, n=1500, repeats=5) -> float:
    """Best GFLOP/s of NumPy's n x n matrix product (its BLAS, its default threads)."""
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n)).astype(dtype), rng.random((n, n)).astype(dtype)
    out = np.empty((n, n), dtype)
    np.dot(a, b, out=out)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.dot(a, b, out=out)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n ** 3 / best / 1e9


def measure_bounds(quick=False) -> dict:
    return {"bandwidth_gbs": triad_bandwidth(n=5_000_000 if quick else 20_000_000),
            "gemm_gflops": {dt: gemm_gflops(dt, n=800 if quick else 1500) for dt in ("float64", "float32")}}


def describe(bounds: dict, peer_names) -> list[str]:
    """Markdown bullet lines: the machine, the versions, the measured bounds."""
    import symnb
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    versions = ", ".join(f"{peers.label(p).split(' ')[0]} {peers.version(p)}" for p in peer_names)
    bw = bounds["bandwidth_gbs"]
    gemm = bounds["gemm_gflops"]
    return [f"- CPU: {cpu_model()}, {os.cpu_count()} cores, {mem:.0f} GiB; {platform.system()} {platform.release()}",
            f"- Python {platform.python_version()}, NumPy {np.__version__}, SciPy {scipy.__version__}, "
            f"symnb {symnb.__version__} ({symnb_revision()}); peers: {versions or 'none selected'}",
            f"- Compiler: {compiler_version()}",
            "- Memory bandwidth (2-thread triad, 24 bytes/element): "
            + (f"{bw:.1f} GB/s" if bw else "not measured (no g++ with OpenMP)"),
            f"- GEMM (NumPy matmul): {gemm['float64']:.0f} GFLOP/s float64, {gemm['float32']:.0f} GFLOP/s float32"]
