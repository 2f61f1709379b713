"""Specialization: cheaper forms for the backends (x**2 -> sqr, small integer powers to
multiplications, x**0.5 -> sqrt, x**-1 -> reciprocal) and BLAS calls: a dot combined with
a scaled add becomes one gemm (alpha*A@B + beta*C), a matrix-vector product a gemv.
log_softmax's gradient rule, g - exp(lsm) * sum(g), becomes one LogSoftmaxGrad node."""
from __future__ import annotations

import numpy as np

from ..graph import Constant, Variable
from ..ops import Dot, LogSoftmax, LogSoftmaxGrad, Reduce
from ..ops import elemwise as E
from ..ops.base import apply_op
from ..ops.blas import Gemm, Gemv
from ..types import is_float
from .canonicalize import _as_type
from .engine import P, Rule, const, scalar_value, var

x = var("x")


def small_power(v, x, n, **_):
    p = scalar_value(n)
    # Only where x already has the result's dtype: sqr(float32) is not a float64 square, and
    # int ** -1 must raise where reciprocal(int) would not.
    if n.ndim > v.ndim or p is None or x.dtype != v.dtype:
        return None
    if p == 2:
        return _as_type(E.sqr(x), v)                          # x ** 2 -> sqr(x)
    if p == 0.5:
        return _as_type(E.sqrt(x), v)                         # x ** 0.5 -> sqrt(x)
    if p == -1 and is_float(x.dtype):
        return _as_type(E.reciprocal(x), v)                   # x ** -1 -> 1 / x
    if p == 1:
        return _as_type(x, v)
    if float(p).is_integer() and 3 <= p <= 16:
        k, square, out = int(p), x, None
        while k:                                              # x**k by repeated squaring:
            if k & 1:                                         # x**10 -> sqr(x) * sqr(sqr(sqr(x)))
                out = square if out is None else E.mul(out, square)
            k >>= 1
            if k:
                square = E.sqr(square)
        return _as_type(out, v)
    return None


def _scaled_dot(v):
    """v = s * dot(A, B) (s a scalar, maybe negated) -> (s, dot node) or None."""
    sign = 1.0
    while v.owner is not None and getattr(v.owner.op, "scalar", None) == "neg":
        sign, v = -sign, v.owner.inputs[0]
    node = v.owner
    if node is None:
        return None
    if isinstance(node.op, Dot):
        return Constant(np.asarray(sign, v.dtype)), v
    if getattr(node.op, "scalar", None) == "mul" and len(node.inputs) == 2:
        a, b = node.inputs
        for s, d in ((a, b), (b, a)):
            if s.ndim == 0 and d.owner is not None and isinstance(d.owner.op, Dot):
                scale = E.cast(s, d.dtype)
                return (E.neg(scale) if sign < 0 else scale), d
    return None


def _blas(C, alpha, d, beta):
    A, B = d.owner.inputs
    if not (is_float(d.dtype) and C.dtype == A.dtype == B.dtype == d.dtype and C.ndim == d.ndim):
        return None
    # In C + A@B neither side may stretch (broadcasting is static: only length-1 axes do),
    # so unless one side has a length-1 axis the other lacks, both have the sum's shape.
    if any((a == 1) != (b == 1) for a, b in zip(C.type.shape, d.type.shape)):
        return None
    alpha, beta = E.cast(alpha, d.dtype), E.cast(beta, d.dtype)
    if A.ndim == 2 and B.ndim == 2:
        return apply_op(Gemm(), [C, alpha, A, B, beta])
    if A.ndim == 2 and B.ndim == 1:
        return apply_op(Gemv(), [C, alpha, A, B, beta])
    if A.ndim == 1 and B.ndim == 2:
        return apply_op(Gemv(), [C, alpha, B.T, A, beta])
    return None


def gemm_from_add(v, **_):
    ins = list(v.owner.inputs)
    for k, term in enumerate(ins):
        sd = _scaled_dot(term)
        if sd is None:
            continue
        alpha, d = sd
        for j, C in enumerate(ins):
            if j == k:
                continue
            out = _blas(C, alpha, d, Constant(np.asarray(1.0, d.dtype)))
            if out is not None:
                rest = [i for n, i in enumerate(ins) if n not in (j, k)]
                return _as_type(E.apply_elemwise("add", out, *rest) if rest else out, v)  # C + s*A@B
    return None


def gemm_from_sub(v, a, b, **_):
    sd = _scaled_dot(b)
    if sd is not None:
        alpha, d = sd
        out = _blas(a, E.neg(alpha), d, Constant(np.asarray(1.0, d.dtype)))
        if out is not None:
            return _as_type(out, v)                               # C - s*A@B -> gemm(C, -s, A, B, 1)
    sd = _scaled_dot(a)
    if sd is not None:
        alpha, d = sd
        out = _blas(b, alpha, d, Constant(np.asarray(-1.0, d.dtype)))
        if out is not None:
            return _as_type(out, v)                               # s*A@B - C -> gemm(C, s, A, B, -1)
    return None


def log_softmax_grad(v, g, m, **_):
    """g - exp(lsm) * sum(g, axis, keepdims), lsm = log_softmax(x, axis) -> one node."""
    node = m.owner
    if node is None or getattr(node.op, "scalar", None) != "mul" or len(node.inputs) != 2:
        return None
    for e, s in (node.inputs, node.inputs[::-1]):
        lsm = e.owner.inputs[0] if e.owner is not None and getattr(e.owner.op, "scalar", None) == "exp" else None
        if lsm is None or lsm.owner is None or not isinstance(lsm.owner.op, LogSoftmax) or g.type != lsm.type:
            continue
        op = s.owner.op if s.owner is not None else None
        if isinstance(op, Reduce) and op.kind == "sum" and op.keepdims and op.axis == (lsm.owner.op.axis,) \
                and s.owner.inputs[0] is g:
            return _as_type(apply_op(LogSoftmaxGrad(lsm.owner.op.axis), [g, lsm]), v)   # one pass over rows
    return None


SPECIALIZE = [
    Rule("pow_specialize", P.pow(x, const(name="n")), small_power),
    Rule("gemm_add", P.add, gemm_from_add),
    Rule("gemm_sub", P.sub(var("a"), var("b")), gemm_from_sub),
    Rule("log_softmax_grad", P.sub(var("g"), var("m")), log_softmax_grad),
]
