"""Array creation from lengths: arange and eye (zeros, ones and alloc live with the shape ops).

Their lengths are scalars in the graph; static lengths are read off constant arguments.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..graph import as_variable
from ..types import TensorType, is_float, is_int, result_dtype
from .base import Op, apply_op
from .shape import is_int_scalar, static_value


@dataclass(frozen=True)
class Arange(Op):
    """arange(start, stop, step) of the given dtype; the three are scalar inputs."""
    fold_small_only = True

    dtype: str

    def infer(self, start, stop, step):
        if any(v.ndim != 0 for v in (start, stop, step)):
            raise TypeError("arange takes scalar start, stop and step")
        vals = [static_value(v) for v in (start, stop, step)]
        n = None
        if all(v is not None for v in vals):
            lo, hi, st = (v.item() for v in vals)
            if st == 0:
                raise ValueError("arange: step must not be zero")
            n = max(0, int(np.ceil((hi - lo) / st)))   # NumPy's length formula
        return [TensorType(self.dtype, (n,))]

    def perform(self, start, stop, step):
        return (np.arange(start, stop, step, dtype=self.dtype),)

    def grad(self, inputs, outputs, gouts):
        return [None, None, None]


def arange(start, stop=None, step=1, dtype=None):
    """np.arange: int64 for integer arguments, float64 once one is a float (uint64 too)."""
    if stop is None:
        start, stop = 0, start
    args = [as_variable(a) for a in (start, stop, step)]
    if dtype is None:
        # NumPy reads each argument as a Python number: the kind matters, not the width.
        kinds = ["uint64" if a.dtype == "uint64" else "int64" if is_int(a.dtype) else
                 "float64" if is_float(a.dtype) else "complex128" for a in args]
        dtype = result_dtype(*kinds)
    return apply_op(Arange(np.dtype(dtype).name), args)


@dataclass(frozen=True)
class Eye(Op):
    """eye(n, m, k): ones on the k-th diagonal of an n x m matrix; n, m, k are scalar inputs."""
    fold_small_only = True

    dtype: str

    def infer(self, n, m, k):
        if not all(is_int_scalar(v) for v in (n, m, k)):
            raise TypeError("eye takes integer scalars n, m and k")
        return [TensorType(self.dtype, tuple(None if static_value(v) is None else int(static_value(v))
                                             for v in (n, m)))]

    def perform(self, n, m, k):
        return (np.eye(int(n), int(m), int(k), dtype=self.dtype),)

    def grad(self, inputs, outputs, gouts):
        return [None, None, None]


def eye(n, m=None, k=0, dtype="float64"):
    return apply_op(Eye(np.dtype(dtype).name), [n, n if m is None else m, k])
