"""Symbolic shape reasoning for rewrites: can two variables be proven to have equal shapes?

Each axis length gets a key: an int when static, else a token naming where the length
comes from (an input's axis, an alloc's shape entry). Elementwise ops merge their inputs'
keys, so `alloc(1, x.shape) * tanh(x)` is seen to need no alloc at all.
"""
from __future__ import annotations

from functools import lru_cache

from ..graph import Constant, Variable


def shape_keys(v: Variable) -> tuple:
    return _keys(v)


@lru_cache(maxsize=65536)
def _keys(v: Variable) -> tuple:
    static = v.type.shape
    node = v.owner
    derived = None
    if node is not None:
        kind = type(node.op).__name__
        if kind in ("Elemwise", "Fused"):
            derived = broadcast_keys([_keys(i) for i in node.inputs])
        elif kind == "Alloc":
            derived = _vector_keys(node.inputs[1], v.ndim)
        elif kind == "DimShuffle":
            src = _keys(node.inputs[0])
            derived = tuple(1 if o == "x" else src[o] for o in node.op.order)
        elif kind == "Reduce":
            src = _keys(node.inputs[0])
            if node.op.keepdims:
                derived = tuple(1 if d in node.op.axis else k for d, k in enumerate(src))
            else:
                derived = tuple(k for d, k in enumerate(src) if d not in node.op.axis)
        elif kind in ("Softmax", "LogSoftmax"):
            derived = _keys(node.inputs[0])
        elif kind == "Dot":
            a, b = _keys(node.inputs[0]), _keys(node.inputs[1])
            derived = a[:-1] + b[1:]
    out = []
    for d, s in enumerate(static):
        if s is not None:
            out.append(s)
        elif derived is not None and len(derived) == len(static):
            out.append(derived[d])
        else:
            out.append(("axis", v, d))
    return tuple(out)


def _vector_keys(shape_vec: Variable, n: int) -> tuple:
    """Keys of the lengths held in an int64 shape vector."""
    node = shape_vec.owner
    if isinstance(shape_vec, Constant):
        return tuple(int(s) for s in shape_vec.data)
    if node is not None and type(node.op).__name__ == "Shape":
        return _keys(node.inputs[0])
    if node is not None and type(node.op).__name__ == "MakeVector":
        return tuple(_scalar_key(e) for e in node.inputs)
    return tuple(("entry", shape_vec, i) for i in range(n))


def _scalar_key(e: Variable):
    if isinstance(e, Constant):
        return int(e.data)
    node = e.owner
    if node is not None and type(node.op).__name__ == "Elemwise" and node.op.scalar == "cast":
        return _scalar_key(node.inputs[0])
    if node is not None and type(node.op).__name__ == "Subtensor" and isinstance(node.op.idx[0], int) \
            and len(node.op.idx) == 1:
        vec = node.inputs[0]
        n = vec.type.shape[0]
        if n is not None:
            return _vector_keys(vec, n)[node.op.idx[0]]
    return ("scalar", e)


def broadcast_keys(keys_list) -> tuple:
    """Keys of the broadcast shape; an axis of length 1 yields to the others."""
    ndim = max((len(k) for k in keys_list), default=0)
    padded = [(1,) * (ndim - len(k)) + tuple(k) for k in keys_list]
    out = []
    for d in range(ndim):
        col = [k[d] for k in padded if k[d] != 1]
        out.append(col[0] if col else 1)
    return tuple(out)


def same_shape(a: Variable, b: Variable) -> bool:
    """True when a and b have equal shapes at run time (or the original graph would fail)."""
    return a.ndim == b.ndim and shape_keys(a) == shape_keys(b)
