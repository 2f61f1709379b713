"""Linear algebra: dot (vectors and matrices), batched matmul, outer, tensordot.

These are the ops the C++ backend maps to BLAS (gemm/gemv) after specialization.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..graph import as_variable
from ..types import TensorType, result_dtype
from .base import Op, apply_op
from . import elemwise as E
from .shape import dimshuffle, reshape, shape, expand_dims


def _check_inner(a, b, ka, kb, opname):
    la, lb = a.type.shape[ka], b.type.shape[kb]
    if la is not None and lb is not None and la != lb:
        raise ValueError(f"{opname}: inner dimensions do not match: {a.type} and {b.type} "
                         f"({la} != {lb})")


@dataclass(frozen=True)
class Dot(Op):
    """np.dot for inputs of 1 or 2 dimensions (matrix-matrix, matrix-vector, vector-vector)."""

    def infer(self, a, b):
        if not (1 <= a.ndim <= 2 and 1 <= b.ndim <= 2):
            raise TypeError(f"dot takes vectors and matrices, got {a.type} and {b.type}; use matmul "
                            "or tensordot for more dimensions")
        _check_inner(a, b, -1, 0, "dot")
        shape_ = a.type.shape[:-1] + b.type.shape[1:]
        return [TensorType(result_dtype(a.dtype, b.dtype), shape_)]

    def perform(self, a, b):
        if a.shape[-1] != b.shape[0]:
            raise ValueError(f"dot: shapes {a.shape} and {b.shape} are not aligned")
        return (np.asarray(np.dot(a, b)),)

    def grad(self, inputs, outputs, gouts):
        a, b = inputs
        g = gouts[0]
        if a.ndim == 2 and b.ndim == 2:
            ga, gb = dot(g, b.T), dot(a.T, g)
        elif a.ndim == 2:   # matrix @ vector
            ga, gb = outer(g, b), dot(a.T, g)
        elif b.ndim == 2:   # vector @ matrix
            ga, gb = dot(b, g), outer(a, g)
        else:               # vector . vector -> scalar
            ga, gb = g * b, g * a
        return [E.cast(ga, a.dtype), E.cast(gb, b.dtype)]


def dot(a, b):
    a, b = as_variable(a), as_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        return E.mul(a, b)
    if a.ndim > 2 or b.ndim > 2:
        return tensordot(a, b, axes=[[a.ndim - 1], [max(b.ndim - 2, 0)]])
    return apply_op(Dot(), [a, b])


@dataclass(frozen=True)
class BatchedMatmul(Op):
    """np.matmul on 3-d inputs of equal batch length (batch, n, k) @ (batch, k, m)."""

    def infer(self, a, b):
        if a.ndim != 3 or b.ndim != 3:
            raise TypeError("batched matmul takes 3-d inputs")
        _check_inner(a, b, 2, 1, "matmul")
        from ..types import broadcast_shapes
        batch = broadcast_shapes(a.type.shape[:1], b.type.shape[:1], opname="matmul")
        return [TensorType(result_dtype(a.dtype, b.dtype), batch + (a.type.shape[1], b.type.shape[2]))]

    def perform(self, a, b):
        return (np.matmul(a, b),)

    def grad(self, inputs, outputs, gouts):
        a, b = inputs
        g = gouts[0]
        from .shape import sum_to
        ga = apply_op(BatchedMatmul(), [g, dimshuffle(b, 0, 2, 1)])
        gb = apply_op(BatchedMatmul(), [dimshuffle(a, 0, 2, 1), g])
        return [E.cast(sum_to(ga, a), a.dtype), E.cast(sum_to(gb, b), b.dtype)]


def matmul(a, b):
    """np.matmul: vectors promoted as in NumPy, leading axes are batch axes."""
    a, b = as_variable(a), as_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: input operand does not have enough dimensions (scalars are not allowed)")
    if a.ndim <= 2 and b.ndim <= 2:
        return dot(a, b)
    a2 = expand_dims(a, 0) if a.ndim == 1 else a
    b2 = expand_dims(b, 1) if b.ndim == 1 else b
    nd = max(a2.ndim, b2.ndim)
    a2 = expand_dims(a2, list(range(nd - a2.ndim))) if a2.ndim < nd else a2
    b2 = expand_dims(b2, list(range(nd - b2.ndim))) if b2.ndim < nd else b2
    # Flatten the batch axes into one, multiply, restore.
    sa, sb = shape(a2), shape(b2)
    batch = [E.maximum(sa[i], sb[i]) for i in range(nd - 2)]
    from .shape import alloc, stack
    a3 = reshape(alloc(a2, stack(batch + [sa[nd - 2], sa[nd - 1]])), [-1, sa[nd - 2], sa[nd - 1]])
    b3 = reshape(alloc(b2, stack(batch + [sb[nd - 2], sb[nd - 1]])), [-1, sb[nd - 2], sb[nd - 1]])
    out = reshape(apply_op(BatchedMatmul(), [a3, b3]), stack(batch + [sa[nd - 2], sb[nd - 1]]), ndim=nd)
    if a.ndim == 1:
        out = out[..., 0, :]
    if b.ndim == 1:
        out = out[..., 0]
    return out


def outer(a, b):
    a, b = as_variable(a), as_variable(b)
    from .shape import flatten
    a, b = (flatten(t) if t.ndim != 1 else t for t in (a, b))
    return E.mul(dimshuffle(a, 0, "x"), dimshuffle(b, "x", 0))


def tensordot(a, b, axes=2):
    """np.tensordot: move the summed axes together, reshape to matrices, dot, reshape back."""
    a, b = as_variable(a), as_variable(b)
    if isinstance(axes, (int, np.integer)):
        ax_a, ax_b = list(range(a.ndim - axes, a.ndim)), list(range(axes))
    else:
        ax_a, ax_b = [list(x) if isinstance(x, (list, tuple)) else [x] for x in axes]
    ax_a, ax_b = [x % a.ndim for x in ax_a], [x % b.ndim for x in ax_b]
    if len(ax_a) != len(ax_b):
        raise ValueError("tensordot: the two axis lists must have the same length")
    for i, j in zip(ax_a, ax_b):
        _check_inner(a, b, i, j, "tensordot")
    free_a = [d for d in range(a.ndim) if d not in ax_a]
    free_b = [d for d in range(b.ndim) if d not in ax_b]
    at = dimshuffle(a, free_a + ax_a)
    bt = dimshuffle(b, ax_b + free_b)
    sa, sb = shape(at), shape(bt)
    k = _prod([sa[len(free_a) + i] for i in range(len(ax_a))])
    m = _prod([sa[i] for i in range(len(free_a))])
    n = _prod([sb[len(ax_b) + i] for i in range(len(free_b))])
    out = dot(reshape(at, [m, k]), reshape(bt, [k, n]))
    from .shape import stack
    out_shape = [sa[i] for i in range(len(free_a))] + [sb[len(ax_b) + i] for i in range(len(free_b))]
    if not out_shape:
        return reshape(out, np.zeros(0, "int64"), ndim=0)
    return reshape(out, stack(out_shape), ndim=len(out_shape))


def _prod(entries):
    out = as_variable(np.int64(1))
    for e in entries:
        out = e if out is None else out * e
    return out


@dataclass(frozen=True)
class _ScaledProduct(Op):
    """beta*C + alpha*(A @ B) with inputs (C, alpha, A, B, beta); `inplace` overwrites C.

    Made by the specialize pass after differentiation (no gradient). `destroy_map` says
    output 0 destroys input 0 when in place; backends honour it, the reference ignores it.
    """

    inplace: bool = False
    kind = "gemm"
    ndims = (2, 2, 2)        # C, A, B

    @property
    def destroy_map(self):
        return {0: 0} if self.inplace else {}

    @property
    def name(self):
        return self.kind + ("{inplace}" if self.inplace else "")

    def infer(self, C, alpha, A, B, beta):
        if (C.ndim, A.ndim, B.ndim) != self.ndims or alpha.ndim or beta.ndim:
            raise TypeError(f"{self.kind} takes C, A, B with {self.ndims} dimensions and scalars alpha, beta")
        _check_inner(A, B, 1, 0, self.kind)
        if len({C.dtype, A.dtype, B.dtype}) != 1:
            raise TypeError(f"{self.kind}: C, A and B must share one float dtype")
        return [C.type]

    def perform(self, C, alpha, A, B, beta):
        return ((beta * C + alpha * np.dot(A, B)).astype(C.dtype),)


@dataclass(frozen=True)
class Gemm(_ScaledProduct):
    """beta*C + alpha*(A @ B) for matrices (BLAS gemm)."""


@dataclass(frozen=True)
class Gemv(_ScaledProduct):
    """beta*y + alpha*(A @ x) for a matrix and vectors (BLAS gemv); inputs (y, alpha, A, x, beta)."""

    kind = "gemv"
    ndims = (1, 2, 1)
