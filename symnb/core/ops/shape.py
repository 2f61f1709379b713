"""Shape ops: shape, make_vector, alloc (broadcast), sum_to, dimshuffle, reshape, join.

Shapes are int64 vectors in the graph, so `x.shape[0]` and `zeros(x.shape)` are symbolic;
static lengths are read off constant entries whenever the graph makes them known.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..graph import Constant, Variable, as_variable
from ..types import TensorType, is_int, result_dtype
from .base import Op, apply_op


def check_static_broadcast(opname, inputs, arrays, out_shape, core=0):
    """Broadcasting is decided by static types: a length-1 axis not typed as 1 must not stretch.

    The last `core` axes of inputs and output do not broadcast (a matmul's matrix axes).
    """
    for v, a in zip(inputs, arrays):
        lead = len(out_shape) - a.ndim
        for d, (s, n) in enumerate(zip(v.type.shape[:a.ndim - core], a.shape[:a.ndim - core])):
            if n == 1 and s != 1 and out_shape[lead + d] != 1:
                name = f" {v.name!r}" if v.name else ""
                raise ValueError(
                    f"{opname}: runtime broadcasting is not allowed: input{name} of type {v.type} has "
                    f"length 1 on axis {d} at run time, but the result has length {out_shape[lead + d]}; "
                    f"give the input a static shape with 1 there (e.g. via dimshuffle/expand_dims) "
                    f"or use alloc/broadcast_to")


def is_int_scalar(v: Variable) -> bool:
    return v.ndim == 0 and is_int(v.dtype)


def static_value(v: Variable, depth: int = 8):
    """The value of v if the graph fixes it at build time (constants, known lengths and a
    little integer arithmetic on them, like x.shape[1] * 2), else None."""
    if isinstance(v, Constant):
        return v.data
    node = v.owner
    if node is None or depth == 0 or v.ndim > 1 or not is_int(v.dtype):
        return None
    if isinstance(node.op, Shape):
        shp = node.inputs[0].type.shape
        return np.array(shp, dtype="int64") if None not in shp else None
    n = _entry_of_shape(v)
    if n is not None:
        return np.int64(n)
    if not node.op.shape_arithmetic:
        return None
    vals = [static_value(i, depth - 1) for i in node.inputs]
    if any(val is None for val in vals):
        return None
    try:
        return node.op.perform(*vals)[node.outputs.index(v)]
    except (ArithmeticError, ValueError, IndexError):   # left for run time to report
        return None


def static_entries(shape_vec: Variable, n: int) -> tuple:
    """Known entries of an int64 shape vector (None where unknown)."""
    val = static_value(shape_vec)
    if val is not None:
        return tuple(int(s) for s in val)
    node = shape_vec.owner
    if node is not None and isinstance(node.op, MakeVector):
        return tuple(None if ev is None else int(ev) for ev in map(static_value, node.inputs))
    if node is not None and isinstance(node.op, Shape):
        return node.inputs[0].type.shape
    return (None,) * n


def _entry_of_shape(e: Variable):
    """x.shape[i] is known statically when x's i-th length is."""
    from .subtensor import Subtensor    # subtensor.py builds on this module
    node = e.owner
    if node is not None and isinstance(node.op, Subtensor) and node.inputs[0].owner is not None \
            and isinstance(node.inputs[0].owner.op, Shape) and isinstance(node.op.idx[0], int):
        return node.inputs[0].owner.inputs[0].type.shape[node.op.idx[0]]
    return None


@dataclass(frozen=True)
class Shape(Op):
    """shape(x): the int64 vector of x's lengths."""

    def infer(self, x):
        return [TensorType("int64", (x.ndim,))]

    def perform(self, x):
        return (np.array(x.shape, dtype="int64"),)

    def grad(self, inputs, outputs, gouts):
        return [None]


def shape(x) -> Variable:
    x = as_variable(x)
    if None not in x.type.shape:
        return Constant(np.array(x.type.shape, dtype="int64"))
    return apply_op(Shape(), [x])


@dataclass(frozen=True)
class MakeVector(Op):
    """Stack scalars into a vector (how shapes built from symbolic lengths are made)."""
    shape_arithmetic = True

    dtype: str = "int64"

    def infer(self, *xs):
        if any(x.ndim != 0 for x in xs):
            raise TypeError("make_vector takes scalars")
        return [TensorType(self.dtype, (len(xs),))]

    def perform(self, *xs):
        return (np.array(xs, dtype=self.dtype),)

    def grad(self, inputs, outputs, gouts):
        from .subtensor import subtensor
        return [subtensor(gouts[0], (i,)) for i in range(len(inputs))]


def as_shape(shape) -> Variable:
    """A shape given as ints, scalars or a vector -> an int64 vector variable."""
    if isinstance(shape, Variable):
        if shape.ndim == 0:
            shape = [shape]
        else:
            if shape.ndim != 1 or not is_int(shape.dtype):
                raise TypeError(f"a shape must be an integer vector, got {shape.type}")
            return cast_int64(shape)
    if isinstance(shape, (int, np.integer)):
        shape = [shape]
    entries = [as_variable(s) for s in shape]
    for e in entries:
        if not is_int_scalar(e):
            raise TypeError(f"shape entries must be integer scalars, got {e.type}")
    if all(isinstance(e, Constant) for e in entries):
        return Constant(np.array([int(e.data) for e in entries], dtype="int64"))
    return apply_op(MakeVector("int64"), [cast_int64(e) for e in entries])


def cast_int64(v):
    from .elemwise import cast
    return cast(v, "int64")


@dataclass(frozen=True)
class Alloc(Op):
    """alloc(value, shape): value broadcast to shape (NumPy's broadcast_to, as a new array)."""
    shaped_like = "vector 1"
    fold_small_only = True

    def infer(self, value, shp):
        n = shp.type.shape[0]
        if shp.ndim != 1 or n is None:
            raise TypeError("alloc needs a shape vector of known length")
        target = static_entries(shp, n)
        if value.ndim > n:
            raise ValueError(f"cannot broadcast {value.type} to {n} dimensions")
        aligned = (None,) * (n - value.ndim) + value.type.shape
        for t, v in zip(target, aligned):
            if t is not None and v is not None and v not in (1, t):
                raise ValueError(f"cannot broadcast {value.type} to shape {target}")
        out = tuple(t if t is not None else (v if v not in (None, 1) else None) for t, v in zip(target, aligned))
        return [TensorType(value.dtype, out)]

    def perform(self, value, shp):
        return (np.array(np.broadcast_to(value, tuple(shp))),)

    def validate(self, node, arrays, outputs):
        check_static_broadcast(self.name, node.inputs[:1], arrays[:1], outputs[0].shape)

    def grad(self, inputs, outputs, gouts):
        return [sum_to(gouts[0], inputs[0]), None]


def alloc(value, *shape) -> Variable:
    """alloc(value, *shape) or alloc(value, shape_vector)."""
    value = as_variable(value)
    shp = as_shape(shape[0] if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)) else list(shape))
    return apply_op(Alloc(), [value, shp])


def zeros(shape, dtype="float64"):
    return alloc(np.zeros((), dtype), shape)


def ones(shape, dtype="float64"):
    return alloc(np.ones((), dtype), shape)


def full(shape, fill_value, dtype=None):
    return alloc(np.asarray(fill_value, dtype=dtype), shape)


def sum_to(g, x) -> Variable:
    """Reduce the gradient g to the type of x, undoing the broadcasting of x.

    Broadcasting is static (only lengths known to be 1 stretch, as in PyTensor), so the
    axes to sum are known when the graph is built.
    """
    g = as_variable(g)
    lead = g.ndim - x.ndim
    if lead < 0:
        raise ValueError(f"sum_to: gradient {g.type} has fewer dimensions than {x.type}")
    axes = list(range(lead)) + [lead + i for i, (a, b) in enumerate(zip(g.type.shape[lead:], x.type.shape))
                                if b == 1 and a != 1]
    if not axes:
        return g
    from .reduce import reduce_
    out = reduce_("sum", g, axes, keepdims=True)
    return dimshuffle(out, tuple(range(lead, g.ndim))) if lead else out


@dataclass(frozen=True)
class DimShuffle(Op):
    """Permute axes, insert broadcastable axes ('x') and drop length-1 axes."""
    view_of = 0

    order: tuple

    @property
    def name(self):
        return "dimshuffle{" + ",".join(map(str, self.order)) + "}"

    @property
    def label(self):
        return "transpose" if self.order == tuple(reversed(range(len(self.order)))) and len(self.order) > 1 \
            else self.name

    def infer(self, x):
        kept = [o for o in self.order if o != "x"]
        if sorted(kept) != sorted(set(kept)) or any(not (0 <= o < x.ndim) for o in kept):
            raise ValueError(f"dimshuffle{self.order}: invalid order for a {x.ndim}-d input")
        for d in set(range(x.ndim)) - set(kept):
            if x.type.shape[d] not in (1, None):
                raise ValueError(f"dimshuffle{self.order}: cannot drop axis {d} of length {x.type.shape[d]}")
        return [TensorType(x.dtype, tuple(1 if o == "x" else x.type.shape[o] for o in self.order))]

    def perform(self, x):
        kept = [o for o in self.order if o != "x"]
        dropped = tuple(d for d in range(x.ndim) if d not in kept)
        if any(x.shape[d] != 1 for d in dropped):
            raise ValueError(f"{self.name}: cannot drop axes {dropped} of an array of shape {x.shape}")
        y = x.reshape(tuple(s for d, s in enumerate(x.shape) if d not in dropped)) if dropped else x
        rank = {o: i for i, o in enumerate(sorted(kept))}
        y = y.transpose([rank[o] for o in kept])
        return (y.reshape(tuple(1 if o == "x" else x.shape[o] for o in self.order)),)

    def grad(self, inputs, outputs, gouts):
        x = inputs[0]
        g = gouts[0]
        # Sum over inserted axes, then invert the permutation; dropped axes come back as 'x'.
        inserted = [i for i, o in enumerate(self.order) if o == "x"]
        from .reduce import reduce_
        if inserted:
            g = reduce_("sum", g, inserted, keepdims=False)
        kept = [o for o in self.order if o != "x"]
        inverse = tuple(kept.index(d) if d in kept else "x" for d in range(x.ndim))
        return [dimshuffle(g, inverse)]


def dimshuffle(x, *order):
    x = as_variable(x)
    order = tuple(order[0]) if len(order) == 1 and isinstance(order[0], (tuple, list)) else tuple(order)
    if order == tuple(range(x.ndim)):
        return x
    return apply_op(DimShuffle(order), [x])


def transpose(x, axes=None):
    """np.transpose: reverse the axes, or permute them as `axes` says (negatives allowed)."""
    x = as_variable(x)
    if axes is None:
        return dimshuffle(x, tuple(reversed(range(x.ndim))))
    from .reduce import normalize_axis
    if len(normalize_axis(axes, x.ndim, "transpose")) != x.ndim:
        raise ValueError(f"transpose: axes {tuple(axes)} are not a permutation of {x.ndim} axes")
    return dimshuffle(x, tuple(a % x.ndim for a in axes))


def expand_dims(x, axis):
    """np.expand_dims: new length-1 axes at the given positions of the result."""
    from .reduce import normalize_axis
    x = as_variable(x)
    n = x.ndim + (1 if isinstance(axis, (int, np.integer)) else len(axis))
    axes = normalize_axis(axis, n, "expand_dims")
    src = iter(range(x.ndim))
    return dimshuffle(x, ["x" if d in axes else next(src) for d in range(n)])


def squeeze(x, axis=None):
    """np.squeeze. Without `axis` it drops the axes typed as length 1 (broadcasting is static,
    so an axis of unknown length stays even if it turns out to be 1 at run time)."""
    from .reduce import normalize_axis
    x = as_variable(x)
    if axis is None:
        axes = [d for d, s in enumerate(x.type.shape) if s == 1]
    else:
        axes = normalize_axis(axis, x.ndim, "squeeze")
    return dimshuffle(x, [d for d in range(x.ndim) if d not in axes])


@dataclass(frozen=True)
class Reshape(Op):
    """reshape(x, shape) with NumPy semantics (one -1 entry allowed)."""
    view_of = 0

    ndim: int

    def infer(self, x, shp):
        if shp.ndim != 1 or shp.type.shape[0] != self.ndim:
            raise TypeError(f"reshape: the shape must be an integer vector of length {self.ndim}")
        entries = static_entries(shp, self.ndim)
        if list(entries).count(-1) > 1:
            raise ValueError("reshape: only one length can be -1")
        if -1 in entries:
            known = [e for e in entries if e != -1]
            if None not in x.type.shape and None not in known:
                total, rest = int(np.prod(x.type.shape)), int(np.prod(known))
                if rest == 0 or total % rest:
                    raise ValueError(f"reshape: cannot reshape {x.type} into {entries}")
                entries = tuple(total // rest if e == -1 else e for e in entries)
            else:
                entries = tuple(None if e == -1 else e for e in entries)
        elif None not in x.type.shape and None not in entries and np.prod(entries) != np.prod(x.type.shape):
            raise ValueError(f"reshape: cannot reshape {x.type} into shape {entries}")
        return [TensorType(x.dtype, entries)]

    def perform(self, x, shp):
        try:
            return (x.reshape(tuple(int(s) for s in shp)),)
        except ValueError as e:
            raise ValueError(f"reshape: cannot reshape an array of shape {x.shape} into {tuple(int(s) for s in shp)}") from e

    def grad(self, inputs, outputs, gouts):
        return [reshape(gouts[0], shape(inputs[0])), None]


def reshape(x, newshape, ndim=None):
    x = as_variable(x)
    shp = as_shape(newshape)
    n = shp.type.shape[0] if ndim is None else ndim
    if n is None:
        raise TypeError("reshape: give ndim= when the new shape has an unknown length")
    return apply_op(Reshape(n), [x, shp])


def flatten(x, ndim=1):
    """Keep the first ndim-1 axes, collapse the rest (PyTensor's flatten)."""
    x = as_variable(x)
    if ndim == 1:
        return reshape(x, [-1])
    s = shape(x)
    from .subtensor import subtensor
    return reshape(x, [subtensor(s, (i,)) for i in range(ndim - 1)] + [-1])


@dataclass(frozen=True)
class Join(Op):
    """concatenate(xs, axis)."""

    axis: int

    def infer(self, *xs):
        nd = xs[0].ndim
        if any(x.ndim != nd for x in xs):
            raise ValueError("concatenate: all inputs must have the same ndim, got "
                             + ", ".join(str(x.type) for x in xs))
        if not -nd <= self.axis < nd:
            raise ValueError(f"concatenate: axis {self.axis} is out of range for {nd}-d inputs")
        ax = self.axis % nd
        out = []
        for d in range(nd):
            lens = [x.type.shape[d] for x in xs]
            known = {n for n in lens if n is not None}
            if d == ax:
                out.append(None if None in lens else sum(lens))
            elif len(known) > 1:   # no broadcasting here: every other axis must match exactly
                raise ValueError(f"concatenate: the inputs' lengths on axis {d} differ: "
                                 + ", ".join(str(x.type) for x in xs))
            else:
                out.append(known.pop() if known else None)
        return [TensorType(result_dtype(*[x.dtype for x in xs]), tuple(out))]

    def perform(self, *xs):
        return (np.concatenate(xs, axis=self.axis),)

    def grad(self, inputs, outputs, gouts):
        from .subtensor import subtensor
        g, ax, start, grads = gouts[0], self.axis % inputs[0].ndim, 0, []
        for x in inputs:
            stop = start + shape(x)[ax]
            grads.append(subtensor(g, (slice(None),) * ax + (slice(start, stop),)))
            start = stop
        return grads


def concatenate(xs, axis=0):
    xs = [as_variable(x) for x in xs]
    if not xs:
        raise ValueError("concatenate: need at least one array to concatenate")
    if len(xs) == 1:
        return xs[0]
    nd = xs[0].ndim
    return apply_op(Join(axis % nd if -nd <= axis < nd else axis), xs)


def stack(xs, axis=0):
    xs = [as_variable(x) for x in xs]
    if all(x.ndim == 0 and is_int(x.dtype) for x in xs) and axis == 0:
        return apply_op(MakeVector(result_dtype(*[x.dtype for x in xs])), xs)
    return concatenate([expand_dims(x, axis) for x in xs], axis=axis)
