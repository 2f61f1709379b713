"""Symbolic zeros: a value that is all zeros whatever the inputs (the gradient through a
zero-gradient op such as floor division, a term times zero) becomes one alloc of 0 whose
shape is computed from the inputs' shapes, so the chain that computed it is dead code.

Part of the rewrite stage; the rules join the canonicalization rules in every pass.
"""
from __future__ import annotations

import numpy as np

from ..graph import Constant, Variable
from ..ops import Alloc, DimShuffle, Dot, BatchedMatmul, IncSubtensor, MakeVector, Reduce, Reshape, Shape
from ..ops import elemwise as E
from ..ops.shape import alloc, as_shape, shape
from .canonicalize import _as_type
from .engine import Pat, Rule, scalar_value, var
from .shapes import same_shape

# Elementwise ops whose result is 0 where their first input is 0 (f(0) = 0, or 0 / y).
ZERO_AT_ZERO = ("neg", "cast", "sqr", "sqrt", "abs", "sign", "sin", "tan", "tanh", "sinh", "arcsin",
                "arctan", "arcsinh", "arctanh", "expm1", "log1p", "floor", "ceil", "round", "identity",
                "zero_grad", "true_div", "int_div")


def is_zero(v: Variable) -> bool:
    """Whether v is all zeros by construction: a zero constant or an alloc of one."""
    if isinstance(v, Constant):
        return v.data.size > 0 and scalar_value(v) == 0
    node = v.owner
    return node is not None and isinstance(node.op, Alloc) and is_zero(node.inputs[0])


def _vector_entries(vec: Variable, n: int):
    """The n entries of an int64 shape vector, as ints or int64 scalar variables."""
    node = vec.owner
    if isinstance(vec, Constant):
        return [int(s) for s in vec.data]
    if node is not None and isinstance(node.op, MakeVector):
        return list(node.inputs)
    if node is not None and isinstance(node.op, Shape):
        entries = shape_entries(node.inputs[0])
        if entries is not None:
            return entries
    return [vec[d] for d in range(n)]


def _negative(e) -> bool:
    return isinstance(e, int) and e < 0 or isinstance(e, Constant) and int(e.data) < 0


def _reshape_entries(node, ndim, depth):
    """The lengths a reshape gives: its shape entries, a -1 among them being the input's
    size over the product of the others."""
    entries = _vector_entries(node.inputs[1], ndim)
    holes = [d for d, e in enumerate(entries) if _negative(e)]
    if not holes:
        return entries
    src = shape_entries(node.inputs[0], depth - 1)
    if len(holes) > 1 or src is None:
        return None
    size = E.mul(*[np.int64(1)] + list(src))
    rest = [e for d, e in enumerate(entries) if d != holes[0]]
    return entries[:holes[0]] + [E.int_div(size, E.mul(*[np.int64(1)] + rest))] + entries[holes[0] + 1:]


def shape_entries(v: Variable, depth: int = 64):
    """v's lengths (ints, or int64 scalars computed from v's inputs' shapes, not from v
    itself), or None where the op's shape rule is not known here."""
    static = v.type.shape
    if None not in static:
        return list(static)
    node = v.owner
    if node is None:
        return [s if s is not None else shape(v)[d] for d, s in enumerate(static)]
    if depth == 0:
        return None
    op, like = node.op, node.op.shaped_like       # the op's own shape fact (Op.shaped_like)
    derived = None
    if like == "broadcast":
        derived = []
        for d in range(v.ndim):
            # Broadcasting is static: an input whose axis is not known to be 1 has the length.
            src = next((i for i in node.inputs if i.ndim > v.ndim - 1 - d and i.type.shape[d - v.ndim] != 1), None)
            entries = None if src is None else shape_entries(src, depth - 1)
            if entries is None:
                return None
            derived.append(entries[d - v.ndim])
    elif isinstance(like, str) and like.startswith("vector "):
        derived = _vector_entries(node.inputs[int(like.split()[1])], v.ndim)
    elif isinstance(like, int):
        derived = shape_entries(node.inputs[like], depth - 1)
    elif isinstance(op, DimShuffle):
        src = shape_entries(node.inputs[0], depth - 1)
        derived = None if src is None else [1 if o == "x" else src[o] for o in node.op.order]
    elif isinstance(op, Reduce):
        src = shape_entries(node.inputs[0], depth - 1)
        if src is not None:
            axes = node.op.axis
            derived = [1 if d in axes else s for d, s in enumerate(src)] if node.op.keepdims else \
                [s for d, s in enumerate(src) if d not in axes]
    elif isinstance(op, Reshape):
        derived = _reshape_entries(node, v.ndim, depth)
    elif isinstance(op, Dot):
        a, b = (shape_entries(i, depth - 1) for i in node.inputs)
        derived = None if a is None or b is None else a[:-1] + b[1:]
    if derived is None:
        return None
    return [s if s is not None else e for s, e in zip(static, derived)]


def zeros_shaped_like(v: Variable):
    """An alloc of 0 with v's type whose shape does not need v computed, or None."""
    zero = Constant(np.zeros((), v.dtype))
    if v.ndim == 0:
        return zero
    entries = shape_entries(v)
    if entries is None:
        return None
    out = alloc(zero, as_shape(entries))
    return out if out.type.shape == v.type.shape or _as_type(out, v) is not None else None


def _zero_result(v: Variable) -> bool:
    node = v.owner
    op = node.op
    ins = node.inputs
    scalar = getattr(op, "scalar", None)
    if scalar == "mul" or isinstance(op, (Dot, BatchedMatmul)):
        return any(is_zero(i) for i in ins)                                    # x * 0, dot(0, y) -> 0
    if scalar in ZERO_AT_ZERO:
        return is_zero(ins[0])                                                 # f(0) -> 0, 0 / y -> 0
    if scalar == "switch":
        return is_zero(ins[1]) and is_zero(ins[2])                              # switch(c, 0, 0) -> 0
    if scalar in ("add", "sub"):
        return all(is_zero(i) for i in ins)                                    # 0 + 0 -> 0
    if isinstance(op, Reduce):
        return op.kind == "sum" and is_zero(ins[0])                           # sum(0) -> 0
    if isinstance(op, (Reshape, DimShuffle)):
        return is_zero(ins[0])                                                 # reshape(0) -> 0
    if isinstance(op, IncSubtensor):
        return is_zero(ins[0]) and is_zero(ins[1])                            # 0[i] += 0 -> 0
    return False


def fold_zero(v, **_):
    if is_zero(v) or not _zero_result(v):
        return None
    return zeros_shaped_like(v)


def zeros_free_of_shape(v, **_):
    """alloc(0, shape(f(x))) -> alloc(0, lengths from x): f need not run for its shape."""
    value, vec = v.owner.inputs
    u = vec.owner.inputs[0]
    if not is_zero(value) or u.owner is None or isinstance(u.owner.op, (Alloc, Shape)) or shape_entries(u) is None:
        return None                       # (without lengths from u's inputs, shape(u) is as good)
    return zeros_shaped_like(v if v.type.shape == u.type.shape else u) if v.ndim == u.ndim else None


def drop_zero_terms(v, **_):
    """x + 0 + y -> x + y, x - 0 -> x, 0 - x -> -x, where the remaining terms keep v's shape."""
    node = v.owner
    scalar = node.op.scalar
    ins = node.inputs
    if scalar == "sub":
        a, b = ins
        keep = a if is_zero(b) else (E.neg(b) if is_zero(a) else None)
    else:
        rest = [i for i in ins if not is_zero(i)]
        if not rest or len(rest) == len(ins):
            return None
        keep = rest[0] if len(rest) == 1 else E.apply_elemwise("add", *rest)
    if keep is None or keep.ndim != v.ndim or not same_shape(keep, v):
        return None
    return _as_type(keep, v)


def inc_by_zero(v, **_):
    x, y = v.owner.inputs[:2]
    return _as_type(x, v) if is_zero(y) and not v.owner.op.set_ else None     # x[i] += 0 -> x


ZEROS = [
    Rule("fold_zero", Pat(("mul", "switch", "add", "sub") + ZERO_AT_ZERO), fold_zero),
    Rule("fold_zero_structural", Pat((Dot, BatchedMatmul, Reduce, Reshape, DimShuffle, IncSubtensor)), fold_zero),
    Rule("drop_zero_terms", Pat(("add", "sub")), drop_zero_terms),
    Rule("inc_by_zero", Pat(IncSubtensor), inc_by_zero),
    Rule("zeros_free_of_shape", Pat(Alloc, (var(), Pat(Shape))), zeros_free_of_shape),
]
