"""Indexing: x[key] (basic and integer/boolean advanced), set_subtensor, inc_subtensor.

An index is stored in the op as a tuple of entries: an int, ('s', start, stop, step)
for a slice, '?' for a symbolic integer scalar and 'a' for an index array; the symbolic
parts are the node's extra inputs, in order.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..graph import Constant, Variable, as_variable
from ..types import TensorType, broadcast_shapes, is_float, is_int, result_dtype
from .base import Op, apply_op


def _part(p, syms):
    """One slice bound or scalar index: int/None stays in the op, a variable becomes '?'."""
    if p is None or isinstance(p, (int, np.integer)) and not isinstance(p, bool):
        return None if p is None else int(p)
    v = as_variable(p)
    if isinstance(v, Constant) and v.ndim == 0 and is_int(v.dtype):
        return int(v.data)
    if v.ndim != 0 or not is_int(v.dtype):
        raise TypeError(f"index entries must be integer scalars, got {v.type}")
    syms.append(v)
    return "?"


def _width(k) -> int:
    """How many axes of x a key entry consumes (a k-d boolean mask consumes k)."""
    if k is None or k is Ellipsis:
        return 0
    if isinstance(k, Variable) and k.dtype == "bool":
        return k.ndim
    return 1


def _entry(k):
    """Slices, Python ints, None and Ellipsis stay as they are; anything else becomes a variable."""
    if k is None or k is Ellipsis or isinstance(k, slice):
        return k
    if isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)):
        return int(k)
    return as_variable(k)


def parse_key(x: Variable, key):
    """Turn a Python indexing key into (idx entries, symbolic inputs, newaxis positions).

    Newaxis positions are given twice: in the output of the basic indexing, and in x (the
    axes to insert before an advanced indexing, where NumPy treats None as a new axis of x).
    """
    key = [_entry(k) for k in (key if isinstance(key, tuple) else (key,))]
    if sum(1 for k in key if k is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = sum(_width(k) for k in key)
    if used > x.ndim:
        raise IndexError(f"too many indices for {x.type}: {used} axes indexed")
    fill = [slice(None)] * (x.ndim - used)
    key = [e for k in key for e in (fill if k is Ellipsis else [k])]
    idx, syms, out_axes, in_axes, out_dim, in_dim = [], [], [], [], 0, 0
    for k in key:
        if k is None:
            out_axes.append(out_dim)
            in_axes.append(in_dim + len(in_axes))
            out_dim += 1
        elif isinstance(k, slice):
            idx.append(("s", _part(k.start, syms), _part(k.stop, syms), _part(k.step, syms)))
            out_dim, in_dim = out_dim + 1, in_dim + 1
        elif isinstance(k, int):
            idx.append(k)
            in_dim += 1
        elif k.ndim == 0 and is_int(k.dtype) and k.dtype != "bool":
            idx.append(_part(k, syms))
            in_dim += 1
        elif is_int(k.dtype):
            idx.append("a")
            syms.append(k)
            out_dim, in_dim = out_dim + 1, in_dim + _width(k)
        else:
            raise IndexError(f"arrays used as indices must be of integer or boolean type, got {k.type}")
    return tuple(idx), syms, (out_axes, in_axes)


def _advanced_type(x: Variable, idx, vals) -> TensorType:
    """NumPy's advanced-indexing result type: the index arrays (and ints) broadcast together;
    their dims replace the indexed axes if those are adjacent, else they come first."""
    vals = iter(vals)
    out, index_shapes, adv_slots, d = [], [], [], 0
    for e in idx:
        if isinstance(e, tuple):
            out.append(_static_len(x.type.shape[d], e))
            d += 1
            for _ in range(e.count("?")):     # a symbolic slice bound: not an index array
                next(vals)
            continue
        adv_slots.append(len(out))
        out.append(None)
        if e == "a":
            v = next(vals)
            index_shapes.append(_index_shape(x, d, v))
            d += _width(v)
        else:
            if e == "?":
                next(vals)
            else:
                _check_int(e, x.type.shape[d], d)
            index_shapes.append(())
            d += 1
    try:
        bshape = broadcast_shapes(*index_shapes, opname="indexing")
    except ValueError:
        raise IndexError(f"shape mismatch: indexing arrays of shapes {index_shapes} cannot be "
                         f"broadcast together (indexing {x.type})") from None
    adjacent = adv_slots == list(range(adv_slots[0], adv_slots[0] + len(adv_slots)))
    rest = [n for j, n in enumerate(out) if j not in adv_slots]
    at = adv_slots[0] if adjacent else 0
    return TensorType(x.dtype, tuple(rest[:at]) + bshape + tuple(rest[at:]) + x.type.shape[d:])


def _index_shape(x, d, v):
    """The shape an index array contributes; bounds and mask shapes checked when static."""
    if v.dtype == "bool":
        for j, (m, n) in enumerate(zip(v.type.shape, x.type.shape[d:d + v.ndim])):
            if m is not None and n is not None and m != n:
                raise IndexError(f"boolean index did not match indexed array along axis {d + j}; "
                                 f"size of axis is {n} but size of corresponding boolean axis is {m}")
        return (int(np.count_nonzero(v.data)) if isinstance(v, Constant) else None,)
    if isinstance(v, Constant) and v.data.size:
        n = x.type.shape[d]
        if n is not None and not (-n <= v.data.min() and v.data.max() < n):
            raise IndexError(f"an index in {v.data.tolist()} is out of bounds for axis {d} with length {n}")
    return v.type.shape


def _check_int(e, n, d):
    if n is not None and not -n <= e < n:
        raise IndexError(f"index {e} is out of bounds for axis {d} with length {n}")


def _static_len(n, entry):
    if entry == ("s", None, None, None):
        return n
    if n is None or "?" in entry:
        return None
    return len(range(n)[slice(*entry[1:])])


def build_index(idx, values):
    """Python index tuple for NumPy from entries and the symbolic inputs' runtime values."""
    it = iter(values)
    out = []
    for e in idx:
        if isinstance(e, tuple):
            out.append(slice(*[next(it) if p == "?" else p for p in e[1:]]))
        elif e in ("?", "a"):
            v = next(it)
            out.append(int(v) if e == "?" else v)
        else:
            out.append(e)
    return tuple(out)


@dataclass(frozen=True)
class Subtensor(Op):
    """x[idx] — a view for basic indexing, a copy for advanced indexing (as in NumPy)."""
    view_of = 0
    shape_arithmetic = True

    idx: tuple

    @property
    def name(self):
        return "subtensor" if "a" not in self.idx else "advanced_subtensor"

    def infer(self, x, *vals):
        if "a" in self.idx:
            return [_advanced_type(x, self.idx, vals)]
        shape = []
        for d, e in enumerate(self.idx):
            n = x.type.shape[d]
            if isinstance(e, tuple):
                shape.append(_static_len(n, e))
            elif isinstance(e, int):
                _check_int(e, n, d)
        shape.extend(x.type.shape[len(self.idx):])
        return [TensorType(x.dtype, tuple(shape))]

    def perform(self, x, *vals):
        try:
            return (np.asarray(x[build_index(self.idx, vals)]),)
        except IndexError as e:
            raise IndexError(f"{self.name}: {e} (array shape {x.shape})") from None

    def grad(self, inputs, outputs, gouts):
        from .elemwise import zeros_like
        x = inputs[0]
        return [apply_op(IncSubtensor(self.idx, False), [zeros_like(x), gouts[0], *inputs[1:]])] + \
            [None] * (len(inputs) - 1)


def subtensor(x, key):
    from .shape import expand_dims
    x = as_variable(x)
    idx, syms, (out_axes, in_axes) = parse_key(x, key)
    if out_axes and "a" in idx:
        # With index arrays a new axis moves with them: insert it in x, then index it with ':'.
        key = tuple(slice(None) if k is None else k for k in (key if isinstance(key, tuple) else (key,)))
        return subtensor(expand_dims(x, in_axes), key)
    if out_axes and all(e == ("s", None, None, None) for e in idx):   # x[None], x[..., None]
        idx = ()    # (x[:] stays a node, so that set_subtensor(x[:], y) has an index to write)
    out = apply_op(Subtensor(idx), [x, *syms]) if idx else x
    return expand_dims(out, out_axes) if out_axes else out


@dataclass(frozen=True)
class IncSubtensor(Op):
    """A copy of x with x[idx] += y (or = y when set_). Repeated advanced indices accumulate."""
    shaped_like = 0

    idx: tuple
    set_: bool

    @property
    def name(self):
        return ("set_subtensor" if self.set_ else "inc_subtensor") + ("" if "a" not in self.idx else "{adv}")

    def infer(self, x, y, *vals):
        sub = Subtensor(self.idx).infer(x, *vals)[0]
        if y.ndim > sub.ndim:
            raise ValueError(f"{self.name}: cannot fit {y.type} into {sub}")
        if not np.can_cast(y.dtype, x.dtype, "same_kind"):
            raise TypeError(f"{self.name}: cannot put values of dtype {y.dtype} into {x.type}")
        broadcast_shapes(sub.shape, y.type.shape, opname=self.name)
        return [x.type]

    def perform(self, x, y, *vals):
        out = x.copy()
        key = build_index(self.idx, vals)
        if self.set_:
            out[key] = y
        elif "a" in self.idx:
            np.add.at(out, key, y)
        else:
            out[key] += y
        return (out,)

    def grad(self, inputs, outputs, gouts):
        from .shape import sum_to
        from .elemwise import zeros_like, cast
        x, y, vals, g = inputs[0], inputs[1], inputs[2:], gouts[0]
        gsub = apply_op(Subtensor(self.idx), [g, *vals])
        gx = apply_op(IncSubtensor(self.idx, True), [g, zeros_like(gsub), *vals]) if self.set_ else g
        if self.set_ and _may_repeat(self.idx, vals):
            gsub = gsub * _landed(x, gsub, self.idx, vals)
        gy = cast(sum_to(gsub, y), y.dtype) if is_float(y.dtype) else None
        return [gx, gy] + [None] * len(vals)


def _may_repeat(idx, vals) -> bool:
    """Whether an advanced index can name one element twice (masks and unique constants cannot)."""
    arrays = list(_index_arrays(idx, vals))
    if not arrays or all(v.dtype == "bool" for v in arrays):
        return False
    if len(arrays) == 1 and isinstance(arrays[0], Constant):
        data = arrays[0].data
        return bool(data.size) and (data.min() < 0 or np.unique(data).size != data.size)
    return True


def _index_arrays(idx, vals):
    """The node inputs that are index arrays (the others are symbolic scalars and slice bounds)."""
    parts = [p for e in idx for p in (e[1:] if isinstance(e, tuple) else (e,)) if p in ("?", "a")]
    return (v for p, v in zip(parts, vals) if p == "a")


def _landed(x, gsub, idx, vals):
    """1 where the element of y written to x[idx] survived, 0 where a later repeat overwrote it.

    Numbers every position of x[idx], writes the numbers with the same (set) indexing as the
    forward pass and reads them back: a position gets its own number back iff its write won.
    """
    from .creation import arange
    from .shape import alloc, reshape, shape
    from . import elemwise as E
    from .reduce import prod
    ids = reshape(arange(prod(shape(gsub))), shape(gsub), ndim=gsub.ndim)
    marks = apply_op(IncSubtensor(idx, True), [alloc(np.int64(-1), shape(x)), ids, *vals])
    return E.eq(apply_op(Subtensor(idx), [marks, *vals]), ids)


def _inc_or_set(x_sub, y, set_):
    node = getattr(x_sub, "owner", None)
    if node is None or not isinstance(node.op, Subtensor):
        raise TypeError("set_subtensor/inc_subtensor take an indexed variable, e.g. "
                        "set_subtensor(x[1:], y)")
    y = as_variable(y)
    if isinstance(y, Constant) and y.weak:
        y = _literal_for(x_sub.dtype, y.data.item(), set_)
    return apply_op(IncSubtensor(node.op.idx, set_), [node.inputs[0], y, *node.inputs[1:]])


def _literal_for(dtype, value, set_):
    """A Python literal written into x (as NumPy's x[i] = v) or added to it (x[i] += v)."""
    try:
        common = result_dtype(dtype, value)
        if not set_ and not np.can_cast(common, dtype, "same_kind"):
            raise TypeError(f"inc_subtensor: cannot add {value!r} to a {dtype} tensor "
                            f"(the sum would be {common})")
        return Constant(np.asarray(value, dtype=dtype))
    except OverflowError as e:
        raise TypeError(f"{'set' if set_ else 'inc'}_subtensor: {e}") from None


def set_subtensor(x_sub, y):
    """x with x[idx] replaced by y, given x_sub = x[idx] (PyTensor's set_subtensor)."""
    return _inc_or_set(x_sub, y, True)


def inc_subtensor(x_sub, y):
    """x with y added to x[idx], given x_sub = x[idx]."""
    return _inc_or_set(x_sub, y, False)
