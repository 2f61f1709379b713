"""Workloads A (the Theano paper's elementwise expressions), B (transcendentals) and the
call overhead of a one-scalar function, as harness rows.

Sits beside the data flow: each row compiles one expression from models.py per library.
"""
from __future__ import annotations

import numpy as np

from . import models, peers
from .harness import Impl, Row
from .report import size_label


def _symnb(expr, values, backend):
    import symnb as sn
    m = models.symnb_namespace(backend=backend)
    inputs = [m.tensor(k, v.dtype.name, v.ndim) for k, v in values.items()]
    f = sn.function(inputs, models.as_function(expr, m)(*inputs), backend=backend)
    args = list(values.values())
    return Impl(lambda: f(*args))


def _numpy(expr, values):
    fn, args = models.as_function(expr, models.numpy_namespace()), list(values.values())
    return Impl(lambda: fn(*args))


def _numexpr(expr, values):
    import numexpr
    return Impl(lambda: numexpr.evaluate(expr, local_dict=values))


def _pytensor(expr, values):
    m = models.pytensor_namespace()
    inputs = [m.tensor(k, v.dtype.name, v.ndim) for k, v in values.items()]
    f = m.function(inputs, models.as_function(expr, m)(*inputs))
    args = list(values.values())
    return Impl(lambda: f(*args))


def _jax(expr, values):
    import jax
    f = jax.jit(models.as_function(expr, models.jax_namespace()))
    args = [jax.device_put(v) for v in values.values()]
    return Impl(lambda: f(*args).block_until_ready())


def _torch(expr, values):
    import torch
    fn = models.as_function(expr, models.torch_namespace())
    args = [torch.from_numpy(v) for v in values.values()]

    def run():
        with torch.inference_mode():
            return fn(*args)
    return Impl(run)


_PEER_BUILDERS = {"numexpr": _numexpr, "pytensor": _pytensor, "jax": _jax, "torch": _torch}


def _builders(expr, values, peer_names):
    builders = {"numpy": lambda: _numpy(expr, values)}
    for backend in peers.symnb_backends():
        builders[f"symnb:{backend}"] = lambda backend=backend: _symnb(expr, values, backend)
    for name in peers.available(peer_names):
        builders[name] = lambda name=name: _PEER_BUILDERS[name](expr, values)
    return builders


def _inputs(expr, n, dtype, seed):
    rng = np.random.default_rng(seed)
    shape = () if n is None else (n,)
    return {k: np.asarray(rng.random(shape, dtype=dtype) + 0.5, dtype=dtype) for k in models.expression_inputs(expr)}


def _row(workload, expr, n, dtype, peer_names, label):
    values = _inputs(expr, n, dtype, seed=0)
    itemsize = np.dtype(dtype).itemsize
    return Row(workload, label, _builders(expr, values, peer_names),
               key={"expr": expr, "n": n, "dtype": dtype},
               bytes=(len(values) + 1) * itemsize * (n or 0), dtype=dtype)


def rows_a(sizes, dtypes, peer_names=peers.PEERS) -> list[Row]:
    return [_row("A", expr, n, dtype, peer_names, f"`{expr}` {dtype} n={size_label(n)}")
            for dtype in dtypes for expr in models.EXPRESSIONS_A for n in sizes]


def rows_b(n, dtypes, peer_names=peers.PEERS) -> list[Row]:
    return [_row("B", models.EXPRESSION_B, n, dtype, peer_names, f"`{models.EXPRESSION_B}` {dtype} n={size_label(n)}")
            for dtype in dtypes]


def rows_overhead(peer_names=peers.PEERS) -> list[Row]:
    """`a+1` on one float64 scalar: what a call costs beyond its arithmetic."""
    return [_row("overhead", "a+1", None, "float64", peer_names, "`a+1` on a float64 scalar")]
