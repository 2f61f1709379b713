"""Indexing: x[key] (basic and integer/boolean advanced), set_subtensor, inc_subtensor.

An index is stored in the op as a tuple of entries: an int, ('s', start, stop, step)
for a slice, '?' for a symbolic integer scalar and 'a' for an index array; the symbolic
parts are the node's extra inputs, in order.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..graph import Constant, Variable, as_variable
from ..types import TensorType, is_int
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


def parse_key(x: Variable, key):
    """Turn a Python indexing key into (idx entries, symbolic inputs, newaxis positions)."""
    key = key if isinstance(key, tuple) else (key,)
    n_real = sum(1 for k in key if k is not None and k is not Ellipsis)
    if sum(1 for k in key if k is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis")
    expanded = []
    for k in key:
        if k is Ellipsis:
            expanded.extend([slice(None)] * (x.ndim - n_real))
        else:
            expanded.append(k)
    idx, syms, newaxes, out_dim = [], [], [], 0
    for k in expanded:
        if k is None:
            newaxes.append(out_dim)
            out_dim += 1
        elif isinstance(k, slice):
            idx.append(("s", _part(k.start, syms), _part(k.stop, syms), _part(k.step, syms)))
            out_dim += 1
        elif isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)):
            idx.append(int(k))
        else:
            v = as_variable(k)
            if v.ndim == 0 and is_int(v.dtype) and not v.dtype == "bool":
                idx.append(_part(v, syms))
            elif v.dtype == "bool" or is_int(v.dtype):
                idx.append("a")
                syms.append(v)
                out_dim += 1
            else:
                raise IndexError(f"arrays used as indices must be of integer or boolean type, got {v.type}")
    if len(idx) > x.ndim and not (len(idx) and "a" in idx):
        raise IndexError(f"too many indices for {x.type}: {len(idx)} given")
    return tuple(idx), syms, newaxes


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

    idx: tuple

    @property
    def name(self):
        return "subtensor" if "a" not in self.idx else "advanced_subtensor"

    def infer(self, x, *vals):
        if "a" in self.idx:
            dummy = np.zeros(tuple(1 if s is None else s for s in x.type.shape), x.dtype)
            dvals = [np.zeros((1,) * v.ndim, v.dtype) if v.ndim else np.int64(0) for v in vals]
            try:
                nd = dummy[build_index(self.idx, dvals)].ndim
            except IndexError as e:
                raise IndexError(f"{e} (indexing {x.type})") from None
            return [TensorType(x.dtype, (None,) * nd)]
        shape = []
        for d, e in enumerate(self.idx):
            n = x.type.shape[d]
            if isinstance(e, tuple):
                shape.append(_static_len(n, e))
            elif isinstance(e, int) and n is not None and not -n <= e < n:
                raise IndexError(f"index {e} is out of bounds for axis {d} with length {n}")
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
    x = as_variable(x)
    idx, syms, newaxes = parse_key(x, key)
    if all(e == ("s", None, None, None) for e in idx):   # x[:], x[..., None]: no indexing at all
        idx = ()
    out = apply_op(Subtensor(idx), [x, *syms]) if idx else x
    if newaxes:
        from .shape import expand_dims
        out = expand_dims(out, newaxes)
    return out


@dataclass(frozen=True)
class IncSubtensor(Op):
    """A copy of x with x[idx] += y (or = y when set_). Repeated advanced indices accumulate."""

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
        from ..types import broadcast_shapes
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
        from ..types import is_float
        gy = cast(sum_to(gsub, y), y.dtype) if is_float(y.dtype) else None
        return [gx, gy] + [None] * len(vals)


def _inc_or_set(x_sub, y, set_):
    node = getattr(x_sub, "owner", None)
    if node is None or not isinstance(node.op, Subtensor):
        raise TypeError("set_subtensor/inc_subtensor take an indexed variable, e.g. "
                        "set_subtensor(x[1:], y)")
    y = as_variable(y)
    if isinstance(y, Constant) and y.weak:
        y = Constant(np.asarray(y.data, dtype=x_sub.dtype))
    return apply_op(IncSubtensor(node.op.idx, set_), [node.inputs[0], y, *node.inputs[1:]])


def set_subtensor(x_sub, y):
    """x with x[idx] replaced by y, given x_sub = x[idx] (PyTensor's set_subtensor)."""
    return _inc_or_set(x_sub, y, True)


def inc_subtensor(x_sub, y):
    """x with y added to x[idx], given x_sub = x[idx]."""
    return _inc_or_set(x_sub, y, False)
