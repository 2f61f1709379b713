"""Reductions over axes: sum, prod, max, min, argmax, argmin (+ mean/var/std/logsumexp).

Output dtypes follow NumPy (sum of int32 is int64, ...); gradients broadcast back.
"""
from __future__ import annotations

from dataclasses import dataclass

import builtins as B

import numpy as np

from ..graph import Variable, as_variable
from ..types import TensorType, is_float
from .base import Op, apply_op
from . import elemwise as E

_NUMPY = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min,
          "argmax": np.argmax, "argmin": np.argmin, "all": np.all, "any": np.any}


def normalize_axis(axis, ndim, opname) -> tuple:
    """axis (None, int or tuple, negatives allowed) -> sorted tuple of non-negative axes.

    As in NumPy's reductions, a 0-d input accepts axis 0 and -1 (and reduces nothing).
    """
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis) if isinstance(axis, (list, tuple)) else None
    if axes is None or not B.all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axes):
        raise TypeError(f"{opname}: axis must be None, an int or a tuple of ints, got {axis!r}")
    n = B.max(ndim, 1)
    out = []
    for a in axes:
        if not -n <= int(a) < n:
            raise ValueError(f"{opname}: axis {a} is out of bounds for an input with {ndim} dimensions")
        out.append(int(a) % n)
    if len(set(out)) != len(out):
        raise ValueError(f"{opname}: repeated axis in {axis}")
    return tuple(sorted(out)) if ndim else ()


@dataclass(frozen=True)
class Reduce(Op):
    shape_arithmetic = True
    kind: str
    axis: tuple
    keepdims: bool = False

    @property
    def differentiable(self):
        return self.kind not in ("argmax", "argmin")

    @property
    def name(self):
        return f"{self.kind}{{axis={list(self.axis)}{', keepdims' if self.keepdims else ''}}}"

    @property
    def label(self):
        axes = ", ".join(map(str, self.axis))
        return f"{self.kind} over axis {axes}" + (" (keepdims)" if self.keepdims else "") if axes else self.kind

    def infer(self, x):
        if B.any(a >= x.ndim for a in self.axis):
            raise ValueError(f"{self.kind}: axis {self.axis} out of bounds for {x.type}")
        if self.kind in ("max", "min", "argmax", "argmin"):
            for a in self.axis:
                if x.type.shape[a] == 0:
                    raise ValueError(f"{self.kind}: zero-size axis {a} has no {self.kind[-3:]}imum")
        shape = tuple((1 if self.keepdims else None) if d in self.axis else s
                      for d, s in enumerate(x.type.shape))
        shape = tuple(s for d, s in enumerate(shape) if self.keepdims or d not in self.axis)
        dummy = np.ones((1,) * x.ndim, x.dtype)
        dtype = np.asarray(self.perform(dummy)[0]).dtype.name
        return [TensorType(dtype, shape)]

    def perform(self, x):
        fn = _NUMPY[self.kind]
        if self.kind in ("argmax", "argmin"):
            if x.ndim and B.any(x.shape[a] == 0 for a in self.axis):
                raise ValueError(f"{self.kind}: attempt to get {self.kind} of an empty axis")
            # NumPy's argmax takes one axis: move the reduced axes last and flatten them.
            keep = [d for d in range(x.ndim) if d not in self.axis]
            n = int(np.prod([x.shape[d] for d in self.axis], dtype="int64"))
            y = x.transpose(keep + list(self.axis)).reshape([x.shape[d] for d in keep] + [n])
            out = fn(y, axis=-1).astype("int64")
            if self.keepdims:
                out = out.reshape([1 if d in self.axis else x.shape[d] for d in range(x.ndim)])
            return (np.asarray(out),)
        if self.kind in ("max", "min") and B.any(x.shape[a] == 0 for a in self.axis):
            raise ValueError(f"{self.kind}: zero-size array along axis {self.axis} has no identity")
        return (np.asarray(fn(x, axis=self.axis, keepdims=self.keepdims)),)

    def grad(self, inputs, outputs, gouts):
        x, z, g = inputs[0], outputs[0], gouts[0]
        if self.kind in ("argmax", "argmin", "all", "any"):
            return [None]
        if not self.keepdims:
            g, z = _keep(g, x, self.axis), _keep(z, x, self.axis)
        if self.kind == "sum":
            gx = g
        elif self.kind == "prod":
            gx = g * _prod_grad(x, z, self.axis)
        else:   # max / min: the gradient goes to every position equal to the extremum
            gx = g * E.eq(x, z)
        from .shape import alloc, shape
        return [E.cast(alloc(gx, shape(x)), x.dtype)]


def _prod_grad(x, z, axis):
    """d prod / d x_i = product of the other elements, also where x has zeros.

    prod / x_i where the slice has no zero; at the slice's only zero, the product of the
    rest; 0 elsewhere (a slice with two zeros has a zero gradient everywhere).
    """
    zero = E.eq(x, 0)
    n_zeros = reduce_("sum", zero, axis, keepdims=True)
    others = reduce_("prod", E.switch(zero, 1, x), axis, keepdims=True)
    return E.switch(E.eq(n_zeros, 0), z / x, E.switch(E.and_(zero, E.eq(n_zeros, 1)), others, 0))


def _keep(v, x, axis):
    """Re-insert the reduced axes as broadcastable length-1 axes."""
    from .shape import dimshuffle
    order, src = [], iter(range(v.ndim))
    for d in range(x.ndim):
        order.append("x" if d in axis else next(src))
    return dimshuffle(v, order)


def reduce_(kind, x, axis=None, keepdims=False) -> Variable:
    x = as_variable(x)
    axes = normalize_axis(axis, x.ndim, kind)
    if kind in ("argmax", "argmin") and axis is not None and not isinstance(axis, (int, np.integer)) and not axes:
        raise TypeError(f"{kind}: axis=() names no axis to search")
    if not axes and kind not in ("argmax", "argmin"):
        return E.cast(x, Reduce(kind, (), keepdims).infer(x)[0].dtype)
    return apply_op(Reduce(kind, axes, keepdims), [x])


def sum(x, axis=None, keepdims=False, dtype=None):  # noqa: A001
    out = reduce_("sum", x, axis, keepdims)
    return out if dtype is None else E.cast(out, dtype)


def _reducer(kind):
    def reduction(x, axis=None, keepdims=False):
        return reduce_(kind, x, axis, keepdims)
    reduction.__name__ = reduction.__qualname__ = kind
    reduction.__doc__ = f"np.{kind}(x, axis, keepdims=...) as a graph node."
    return reduction


prod, max, min, argmax, argmin, all, any = (  # noqa: A001  (symbolic versions shadow builtins)
    _reducer(k) for k in ("prod", "max", "min", "argmax", "argmin", "all", "any"))


def _count(x, axis):
    """Number of reduced elements, as a symbolic int64 scalar (static when known)."""
    from .shape import shape
    axes = normalize_axis(axis, x.ndim, "mean")
    static = [x.type.shape[a] for a in axes]
    if None not in static:
        return as_variable(np.int64(np.prod(static, dtype="int64")))
    n = shape(x)[axes[0]]
    for a in axes[1:]:
        n = n * shape(x)[a]
    return n


def mean(x, axis=None, keepdims=False, dtype=None):
    x = as_variable(x)
    s = sum(x, axis, keepdims)
    out_dtype = dtype or (x.dtype if is_float(x.dtype) else "float64")
    return E.cast(E.true_div(E.cast(s, out_dtype), E.cast(_count(x, axis), out_dtype)), out_dtype)


def var(x, axis=None, keepdims=False, ddof=0):
    x = as_variable(x)
    centered = x - mean(x, axis, keepdims=True)
    s = sum(E.sqr(centered), axis, keepdims)
    n = _count(x, axis) - ddof
    return E.cast(E.true_div(s, E.cast(n, s.dtype)), s.dtype)


def std(x, axis=None, keepdims=False, ddof=0):
    return E.sqrt(var(x, axis, keepdims, ddof))


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) computed stably: max + log(sum(exp(x - max))); float64 for integers
    (as scipy.special.logsumexp)."""
    x = as_variable(x)
    if not is_float(x.dtype):
        x = E.cast(x, "float64")
    m = E.zero_grad(max(x, axis, keepdims=True))
    # An all -inf (or inf) slice would give nan from inf - inf; shift by 0 there.
    m = E.switch(E.lt(E.abs(m), np.inf), m, 0)
    out = E.log(sum(E.exp(x - m), axis, keepdims=True)) + m
    if not keepdims:
        from .shape import squeeze
        out = squeeze(out, normalize_axis(axis, x.ndim, "logsumexp"))
    return out
