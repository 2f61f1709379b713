"""Benchmark harness: rows of implementations, a correctness check against NumPy, timing.

Sits beside the data flow: it drives compiled functions (symnb.function) and its peers
from the outside and records medians; report.py turns the records into RESULTS.md.
"""
from __future__ import annotations

import gc
import statistics
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass
class Impl:
    """One implementation of a row: `run()` is the timed call; `state()` returns what a
    training step changed (its parameters), compared after the check call."""

    run: Callable[[], object]
    state: Callable[[], list] | None = None


@dataclass
class Row:
    """One benchmark cell row: the same inputs handed to every implementation's builder."""

    workload: str                         # "A".."E", "overhead"
    label: str                            # the row label in its table
    builders: dict[str, Callable[[], Impl]]
    key: dict = field(default_factory=dict)   # what targets look rows up by (expr, n, dtype, ...)
    bytes: float = 0.0                    # bytes a call must move at least (memory bound)
    flops: float = 0.0                    # GEMM flops a call must do at least (GEMM bound)
    dtype: str = "float64"
    random: bool = False                  # each library draws from its own RNG: results not compared
    rtol: float | None = None


@dataclass
class Cell:
    """The outcome of one implementation on one row."""

    seconds: float | None = None          # median per call
    samples: int = 0
    setup: float = 0.0                    # building, compiling and the first (checked) call
    note: str = ""                        # "wrong result", "failed: ...", "not checked"
    trace: str = ""                       # the traceback of a failure, for --verbose and tests


def _as_arrays(value) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _as_arrays(v)]
    if hasattr(value, "detach"):   # a torch tensor: its own conversion (np.array on it warns)
        value = value.detach().numpy()
    return [np.array(value)]      # a copy: later timed calls may update the arrays in place


def outputs_once(impl: Impl) -> list:
    """Run once and return every array to compare: the call's outputs, then its state."""
    arrays = _as_arrays(impl.run())
    return arrays + (_as_arrays(impl.state()) if impl.state else [])


def default_rtol(dtype: str) -> float:
    return 2e-4 if dtype == "float32" else 1e-7


def mismatch(reference: list, got: list, rtol: float) -> str:
    """'' when got equals reference within rtol (scaled by each array's magnitude), else why."""
    if len(reference) != len(got):
        return f"{len(got)} results, NumPy gives {len(reference)}"
    for i, (r, g) in enumerate(zip(reference, got)):
        if r.shape != g.shape:
            return f"result {i}: shape {g.shape}, NumPy gives {r.shape}"
        scale = max(float(np.max(np.abs(r))), 1.0) if r.size else 1.0
        err = float(np.max(np.abs(g.astype(np.float64) - r))) if r.size else 0.0
        if not err <= rtol * scale:
            return f"result {i}: max abs error {err:.3g} (scale {scale:.3g})"
    return ""


# However slow a machine (or its load) makes a cell, it stops sampling after this long.
MAX_CELL_SECONDS = 30.0


def time_call(fn: Callable[[], object], budget: float) -> tuple[float, int]:
    """Median seconds per call of fn: samples of n calls each (n chosen so a sample lasts
    about budget/20, at least one call), until the budget is spent and at least 5 samples
    taken (3 when one call alone outlasts a third of the budget), or MAX_CELL_SECONDS."""
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-9)
    n = max(1, int(budget / 20 / once))
    long_call = once > budget / 3
    min_samples = 3 if long_call else 5
    # a long call has been warmed up by the check already: the calibration is a sample too
    samples = [once] if long_call else []
    spent = once if long_call else 0.0
    gc_was_on = gc.isenabled()
    gc.disable()          # a collection inside one sample is noise, not the function's cost
    try:
        while (len(samples) < min_samples or (spent < budget and len(samples) < 200)) \
                and spent < MAX_CELL_SECONDS:
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            dt = time.perf_counter() - t0
            samples.append(dt / n)
            spent += dt
    finally:
        if gc_was_on:
            gc.enable()
    return statistics.median(samples), len(samples)


def run_row(row: Row, budget: float, check_only=False) -> dict[str, Cell]:
    """Build every implementation, check it against NumPy, then time it (unless check_only).

    A builder or a call that raises gives a cell with the error, never a lost run.
    """
    cells: dict[str, Cell] = {}
    reference = None
    for name in sorted(row.builders, key=lambda n: n != "numpy"):   # the reference first
        build = row.builders[name]
        cell = cells[name] = Cell()
        try:
            t0 = time.perf_counter()
            impl = build()
            got = outputs_once(impl)
            cell.setup = time.perf_counter() - t0
            if name == "numpy":
                reference = got
            elif reference is not None and not row.random:
                why = mismatch(reference, got, row.rtol or default_rtol(row.dtype))
                if why:
                    cell.note = f"wrong result: {why}"
                    continue
            if not check_only:
                cell.seconds, cell.samples = time_call(impl.run, budget)
        except Exception as e:  # noqa: BLE001  (a peer's failure is a result to report)
            cell.note = f"failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:160]
            cell.trace = traceback.format_exc()
    return cells
