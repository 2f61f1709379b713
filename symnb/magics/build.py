"""%%symbolic --function: sn.function on the cell's graph, with what happened observed in the
caches (function memo, in-memory and on-disk module cache) and timed per stage.
"""
from __future__ import annotations

import importlib
import shlex
import time
from dataclasses import dataclass, field

from IPython.core.error import UsageError

from ..function import Function, function
from ..kernels import cache
from ..kernels.base import BACKENDS

BACKEND_CHOICES = ("cpp", "numpy", "cuda")


def check_backend(name: str) -> None:
    """UsageError unless `name` is a backend this machine can run (CUDA may be missing)."""
    if name not in BACKEND_CHOICES:
        raise UsageError(f"--backend {name}: choose one of {', '.join(BACKEND_CHOICES)}")
    if name not in BACKENDS:
        try:    # a backend registers itself when its package is imported
            importlib.import_module(f"symnb.kernels.{name}")
        except Exception as e:
            raise UsageError(f"--backend {name}: the {name} backend is not available here "
                             f"({type(e).__name__}: {e}); use --backend cpp or --backend numpy") from None
    ok, why = BACKENDS[name].available() if name in BACKENDS else (False, "it did not register")
    if not ok:
        raise UsageError(f"--backend {name}: the {name} backend is not available here ({why}); "
                         "use --backend cpp or --backend numpy")


@dataclass
class Build:
    """A compiled function and what it took: stage -> seconds, and how the caches answered."""

    function: Function
    seconds: dict = field(default_factory=dict)
    cache: str = ""          # "compiled now", "disk cache hit", "memory cache hit", ...
    command: str = ""        # the compiler command that built the module
    entry: str = ""          # the cache entry's directory

    @property
    def hit(self) -> bool:
        return "hit" in self.cache


def _cpp_module(f: Function, started: float, memory_before: set) -> tuple[str, str, str, float]:
    """(cache answer, compiler command, entry path, compile seconds) for f's C++ module,
    read from the cache: the entry's record says when and how it was built."""
    from ..kernels.cpp import compiler
    from ..kernels.cpp.renderer import SECOND_UNIT
    key = compiler.module_key(f.source)
    entry = cache.entry_path(key)
    meta = cache.read_meta(entry)
    units = f.source.count(SECOND_UNIT) + 1
    name = compiler.module_name(key)
    cmds = ([compiler.build_command(name, meta["so"])] if units == 1
            else compiler.unit_commands(name, meta["so"], units))
    command = "\n".join(shlex.join(c) for c in cmds)
    if (str(cache.cache_dir()), key) in memory_before:
        return "memory cache hit (loaded earlier in this process)", command, str(entry), 0.0
    if meta.get("created", 0.0) < started:
        return "disk cache hit (built earlier, loaded now)", command, str(entry), 0.0
    return "compiled now", command, str(entry), float(meta.get("build_seconds", 0.0))


def _observe(f: Function, backend: str, started: float, memory_before: set):
    if backend == "cpp":
        return _cpp_module(f, started, memory_before)
    if backend == "numpy":
        return "nothing to compile (NumPy reference backend)", "", "", 0.0
    return "not observed for this backend", "", "", 0.0


def compile_function(inputs, outputs, backend: str, name: str, force: bool = False) -> Build:
    """sn.function(inputs, outputs, backend=backend); force=True compiles the module again
    even when the memory or disk cache holds it."""
    memory_before = set(cache._memory)
    started, t0 = time.time(), time.perf_counter()
    f = function(inputs, outputs, backend=backend, name=name)
    total = time.perf_counter() - t0
    answer, command, entry, compile_s = _observe(f, backend, started, memory_before)
    if force and backend == "cpp" and answer != "compiled now":
        from ..kernels.cpp.compiler import compile_module
        t0 = time.perf_counter()
        compile_module(f.source, force=True)      # replaces the entry and the in-memory module
        f = function(inputs, outputs, backend=backend, name=name)   # picks the new module up
        total += time.perf_counter() - t0
        answer, command, entry, compile_s = _observe(f, backend, started, set())
        answer = "compiled now (--force)"
    memo_hit = f._rewritten is None and f._rewrite_later is not None
    rewrite_s = 0.0 if memo_hit else sum(s["seconds"] for s in f.rewritten.stats)
    render_s = 0.0
    if not memo_hit and backend in BACKENDS and backend != "numpy":
        t0 = time.perf_counter()     # the render inside sn.function is not timed apart: do it again
        BACKENDS[backend].source(f.fgraph)
        render_s = time.perf_counter() - t0
    seconds = {"rewrite": rewrite_s, "render": render_s, "compile": compile_s,
               "load": max(0.0, total - rewrite_s - render_s - compile_s)}
    if memo_hit:
        answer += "; graph reused from the function memo (no rewrite, no render)"
    return Build(f, seconds, answer, command, entry)
