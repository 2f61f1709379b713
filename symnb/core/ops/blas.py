"""Linear algebra: dot (vectors and matrices), batched matmul, outer, tensordot.

These are the ops the C++ backend maps to BLAS (gemm/gemv) after specialization.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..graph import as_variable
from ..types import TensorType, broadcast_shapes, result_dtype
from .base import Op, apply_op
from . import elemwise as E
from .shape import dimshuffle, reshape, expand_dims


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
    """np.matmul on inputs of equal ndim >= 3: (*batch, n, k) @ (*batch, k, m).

    The batch axes broadcast statically (only axes typed as length 1 stretch)."""

    def infer(self, a, b):
        if a.ndim != b.ndim or a.ndim < 3:
            raise TypeError(f"batched matmul takes inputs of one ndim >= 3, got {a.type} and {b.type}")
        _check_inner(a, b, -1, -2, "matmul")
        batch = broadcast_shapes(a.type.shape[:-2], b.type.shape[:-2], opname="matmul", types=(a.type, b.type))
        return [TensorType(result_dtype(a.dtype, b.dtype), batch + (a.type.shape[-2], b.type.shape[-1]))]

    def perform(self, a, b):
        return (np.matmul(a, b),)

    def validate(self, node, arrays, outputs):
        from .shape import check_static_broadcast
        check_static_broadcast("matmul", node.inputs, arrays, outputs[0].shape, core=2)

    def grad(self, inputs, outputs, gouts):
        a, b = inputs
        g = gouts[0]
        from .shape import sum_to
        ga = apply_op(BatchedMatmul(), [g, _swap_last(b)])
        gb = apply_op(BatchedMatmul(), [_swap_last(a), g])
        return [E.cast(sum_to(ga, a), a.dtype), E.cast(sum_to(gb, b), b.dtype)]


def _swap_last(x):
    return dimshuffle(x, list(range(x.ndim - 2)) + [x.ndim - 1, x.ndim - 2])


def matmul(a, b):
    """np.matmul: a vector operand gains an axis that is removed again; leading axes are batch
    axes and broadcast (statically, as elementwise ops do)."""
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
    out = apply_op(BatchedMatmul(), [a2, b2])
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
        if not 0 <= axes <= min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: cannot sum over {axes} axes of {a.type} and {b.type}")
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
    m, n = [_length(a, d) for d in free_a], [_length(b, d) for d in free_b]
    k = [_length(a, i) if a.type.shape[i] is not None else _length(b, j) for i, j in zip(ax_a, ax_b)]
    out = dot(reshape(dimshuffle(a, free_a + ax_a), [_prod(m), _prod(k)]),
              reshape(dimshuffle(b, ax_b + free_b), [_prod(k), _prod(n)]))
    return reshape(out, m + n) if m + n else reshape(out, np.zeros(0, "int64"), ndim=0)


def _length(x, d):
    """x's length on axis d: an int when the type knows it, else a symbolic scalar."""
    from .shape import shape
    n = x.type.shape[d]
    return n if n is not None else shape(x)[d]


def _prod(lengths):
    """Product of lengths; stays a Python int while they are all known."""
    out = 1
    for n in lengths:
        out = out * n
    return out


@dataclass(frozen=True)
class _ScaledProduct(Op):
    """beta*C + alpha*(A @ B) with inputs (C, alpha, A, B, beta); `inplace` overwrites C.

    Made by the specialize pass after differentiation (no gradient). `destroy_map` says
    output 0 destroys input 0 when in place; backends honour it, the reference ignores it.
    """
    shaped_like = 0          # gemm/gemv: z + a * x @ y has z's shape

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
