"""Compile times of the MLP training function (cold, warm in a new process, rebuilt in
the same process) and the time the default rewrite pipeline takes on its graph.

Sits beside the data flow: it times graph -> rewrite -> renderer -> compiler + cache ->
function end to end, with the cache directory ($SYMNB_CACHE_DIR) under its control.
"""
from __future__ import annotations

import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

import symnb as sn
from symnb.function import clear_memo
from .training import mlp_training_outputs

_ROOT = pathlib.Path(__file__).resolve().parent.parent

# The new process imports symnb (timed apart: the target excludes it), then builds and
# compiles the function from a filled cache.
_WARM_SCRIPT = """
import json, sys, time
sys.path.insert(0, {root!r})
t0 = time.perf_counter()
import symnb as sn
t1 = time.perf_counter()
from benchmarks.training import mlp_training_outputs
t2 = time.perf_counter()
inputs, outputs, updates = mlp_training_outputs()
sn.function(inputs, outputs[0], updates=updates, backend={backend!r})
t3 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "build": t3 - t2}}))
"""


@contextmanager
def cache_dir(path):
    old = os.environ.get("SYMNB_CACHE_DIR")
    os.environ["SYMNB_CACHE_DIR"] = str(path)
    try:
        yield
    finally:
        if old is None:
            del os.environ["SYMNB_CACHE_DIR"]
        else:
            os.environ["SYMNB_CACHE_DIR"] = old


def build_mlp_function(backend):
    """Graph, gradients and sn.function for one SGD step: what a user's cell waits for."""
    inputs, outputs, updates = mlp_training_outputs()
    return sn.function(inputs, outputs[0], updates=updates, backend=backend)


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def cold_compile(backend) -> float:
    """Seconds to build the function with an empty cache directory and nothing remembered in
    this process (no function memo, no loaded module for the new directory's key)."""
    with tempfile.TemporaryDirectory(prefix="symnb-bench-cold-") as tmp, cache_dir(tmp):
        clear_memo()
        return _timed(lambda: build_mlp_function(backend))


def compile_times(backend, cold_compiles=3, new_processes=5, rebuilds=10) -> dict:
    """Seconds: cold (median over empty caches, this process; one sample swung by 0.1 s
    with the machine), warm (median over new processes, beyond the import of symnb,
    which is reported apart) and rebuild (median, same process)."""
    cold = statistics.median(cold_compile(backend) for _ in range(cold_compiles))
    with tempfile.TemporaryDirectory(prefix="symnb-bench-cache-") as tmp, cache_dir(tmp):
        build_mlp_function(backend)
        runs = []
        for _ in range(new_processes):
            out = subprocess.run([sys.executable, "-c", _WARM_SCRIPT.format(root=str(_ROOT), backend=backend)],
                                 capture_output=True, text=True, check=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        rebuild = statistics.median(_timed(lambda: build_mlp_function(backend)) for _ in range(rebuilds))
    return {"cold": cold, "warm": statistics.median(r["build"] for r in runs),
            "import": statistics.median(r["import"] for r in runs), "rebuild": rebuild}


def rewrite_time(repeats=30) -> dict:
    """Median seconds of sn.rewrite on the MLP training graph (cost, 4 gradients, 4 updates),
    a fresh graph each time so nothing is remembered between runs."""
    times = []
    for _ in range(repeats):
        _, outputs, updates = mlp_training_outputs()
        graph = outputs + [new for _, new in updates]
        t0 = time.perf_counter()
        result = sn.rewrite(graph)
        times.append(time.perf_counter() - t0)
    return {"seconds": statistics.median(times), "min": min(times),
            "nodes_before": result.stats[0]["nodes"], "nodes_after": result.stats[-1]["nodes"]}
