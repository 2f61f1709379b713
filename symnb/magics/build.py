"""%%symbolic --function: sn.function on the cell's graph, timed per stage, with how the caches
answered (Function.cache_answer) and the compiler command from the cache entry's record.
"""
from __future__ import annotations

import importlib
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
        try:    # a backend registers itself when its module is imported (as kernels/cpp/backend.py does)
            try:
                importlib.import_module(f"symnb.kernels.{name}.backend")
            except ModuleNotFoundError as e:
                if e.name != f"symnb.kernels.{name}.backend":
                    raise
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
    answer: str | None = None  # Function.cache_answer ("memo", "memory", "disk", "built"), or "forced"
    command: str = ""          # the compiler command that built the module
    entry: str = ""            # the cache entry's directory

    @property
    def cache(self) -> str:
        """The answer in words, as the function's own display says it."""
        from ..viz.display import ANSWERS
        return "compiled now (--force)" if self.answer == "forced" else ANSWERS.get(self.answer, str(self.answer))


def _cpp_record(f: Function) -> tuple[str, str, float]:
    """(compiler command, entry directory, seconds its build took) of f's C++ module, from
    the record the cache keeps beside it."""
    from ..kernels.cpp import compiler
    entry = cache.entry_path(compiler.module_key(f.source))
    meta = cache.read_meta(entry)
    return compiler.command_text(f.source, meta["so"]), str(entry), float(meta.get("build_seconds", 0.0))


def compile_function(inputs, outputs, backend: str, name: str, force: bool = False) -> Build:
    """sn.function(inputs, outputs, backend=backend); force=True compiles the module again
    even when the memory or disk cache holds it."""
    f = function(inputs, outputs, backend=backend, name=name)
    answer, total = f.cache_answer, f.build_seconds
    if force and backend == "cpp" and answer != "built":
        from ..kernels.cpp.compiler import compile_module
        t0 = time.perf_counter()
        compile_module(f.source, force=True)      # replaces the entry and the in-memory module
        f = function(inputs, outputs, backend=backend, name=name)   # picks the new module up
        answer, total = "forced", total + time.perf_counter() - t0
    command, entry, built_s = _cpp_record(f) if backend == "cpp" else ("", "", 0.0)
    compile_s = built_s if answer in ("built", "forced") else 0.0
    rewrite_s = render_s = 0.0
    if answer != "memo":
        rewrite_s = sum(s["seconds"] for s in f.rewritten.stats)
        if backend != "numpy":
            t0 = time.perf_counter()     # the render inside sn.function is not timed apart: do it again
            BACKENDS[backend].source(f.fgraph)
            render_s = time.perf_counter() - t0
    seconds = {"rewrite": rewrite_s, "render": render_s, "compile": compile_s,
               "load": max(0.0, total - rewrite_s - render_s - compile_s)}
    return Build(f, seconds, answer, command, entry)
