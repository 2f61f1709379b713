"""Symbolic shape reasoning for rewrites: can two variables be proven to have equal shapes?

Each axis length gets a key: an int when static, else a token naming where the length
comes from (an input's axis, an alloc's shape entry). Elementwise ops unify their inputs'
keys (a union-find: lengths that broadcast together are equal, or the graph would fail),
so `alloc(1, x.shape) * tanh(x)` is seen to need no alloc. Facts are scoped to one
`rewrite()` call (`scope()`), since they hold only for the graph being rewritten, and
to one thread (two threads may rewrite different graphs at once).

Which ops keep or broadcast their inputs' shapes is read from the ops (`Op.shaped_like`).
"""
from __future__ import annotations

import threading
from contextlib import contextmanager

from ..graph import Constant, Variable
from ..ops import DimShuffle, Dot, MakeVector, Reduce, Shape, Subtensor


class _Facts(threading.local):
    def __init__(self):
        self.parent: dict = {}    # union-find over length keys
        self.cache: dict = {}     # id(variable) -> (variable, keys)


_facts = _Facts()


@contextmanager
def scope():
    """Forget shape facts learned outside this block (and the ones learned inside, after)."""
    saved = _facts.parent, _facts.cache
    _facts.parent, _facts.cache = {}, {}
    try:
        yield
    finally:
        _facts.parent, _facts.cache = saved


def _find(k):
    parent = _facts.parent
    while k in parent:
        k = parent[k]
    return k


def _union(a, b):
    a, b = _find(a), _find(b)
    if a == b:
        return
    if isinstance(a, int):      # a static length is the best representative
        a, b = b, a
    _facts.parent[a] = b


def _cached(v: Variable):
    hit = _facts.cache.get(id(v))
    return hit[1] if hit is not None and hit[0] is v else None


def shape_keys(v: Variable) -> tuple:
    """The keys of v's axis lengths. Ancestors are derived first, with an explicit stack, so
    a chain of 10k ops needs no recursion (deriving a node then reads its inputs' keys)."""
    if _cached(v) is None:
        stack = [(v, False)]
        while stack:
            u, expanded = stack.pop()
            if _cached(u) is not None:
                continue
            if expanded or u.owner is None:
                _facts.cache[id(u)] = (u, _derive(u))
                continue
            stack.append((u, True))
            stack.extend((i, False) for i in u.owner.inputs if _cached(i) is None)
    return tuple(_find(k) for k in _cached(v))


def _derive(v: Variable) -> tuple:
    static = v.type.shape
    node = v.owner
    derived = None
    if node is not None:
        like = node.op.shaped_like
        if like == "broadcast":
            derived = broadcast_keys([shape_keys(i) for i in node.inputs])
        elif isinstance(like, str) and like.startswith("vector "):
            derived = _vector_keys(node.inputs[int(like.split()[1])], v.ndim)
        elif isinstance(like, int):
            derived = shape_keys(node.inputs[like])
        elif isinstance(node.op, DimShuffle):
            src = shape_keys(node.inputs[0])
            derived = tuple(1 if o == "x" else src[o] for o in node.op.order)
        elif isinstance(node.op, Reduce):
            src = shape_keys(node.inputs[0])
            if node.op.keepdims:
                derived = tuple(1 if d in node.op.axis else k for d, k in enumerate(src))
            else:
                derived = tuple(k for d, k in enumerate(src) if d not in node.op.axis)
        elif isinstance(node.op, Dot):
            a, b = shape_keys(node.inputs[0]), shape_keys(node.inputs[1])
            _union(a[-1], b[0])
            derived = a[:-1] + b[1:]
    out = []
    for d, s in enumerate(static):
        token = derived[d] if derived is not None and len(derived) == len(static) else ("axis", id(v), d)
        if s is not None:
            if not isinstance(token, int):
                _union(token, s)
            out.append(s)
        else:
            out.append(token)
    return tuple(out)


def _vector_keys(shape_vec: Variable, n: int) -> tuple:
    """Keys of the lengths held in an int64 shape vector."""
    node = shape_vec.owner
    if isinstance(shape_vec, Constant):
        return tuple(int(s) for s in shape_vec.data)
    if node is not None and isinstance(node.op, Shape):
        return shape_keys(node.inputs[0])
    if node is not None and isinstance(node.op, MakeVector):
        return tuple(_scalar_key(e) for e in node.inputs)
    return tuple(("entry", id(shape_vec), i) for i in range(n))


def _scalar_key(e: Variable):
    if isinstance(e, Constant):
        return int(e.data)
    node = e.owner
    if node is not None and getattr(node.op, "scalar", None) == "cast":
        return _scalar_key(node.inputs[0])
    if node is not None and isinstance(node.op, Subtensor) and len(node.op.idx) == 1 \
            and isinstance(node.op.idx[0], int):
        vec = node.inputs[0]
        n = vec.type.shape[0]
        if n is not None:
            return _vector_keys(vec, n)[node.op.idx[0]]
    return ("scalar", id(e))


def broadcast_keys(keys_list) -> tuple:
    """Keys of the broadcast shape; lengths that meet on an axis (other than 1) are unified."""
    ndim = max((len(k) for k in keys_list), default=0)
    padded = [(1,) * (ndim - len(k)) + tuple(k) for k in keys_list]
    out = []
    for d in range(ndim):
        col = [k[d] for k in padded if k[d] != 1]
        for other in col[1:]:
            _union(col[0], other)
        out.append(_find(col[0]) if col else 1)
    return tuple(out)


def same_shape(a: Variable, b: Variable) -> bool:
    """True when a and b have equal shapes at run time (or the original graph would fail)."""
    if a.ndim != b.ndim:
        return False
    ka, kb = shape_keys(a), shape_keys(b)      # deriving b may unify lengths a uses: find again
    return tuple(_find(k) for k in ka) == kb
