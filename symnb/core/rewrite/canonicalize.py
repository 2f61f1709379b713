"""Canonicalization rules of the rewrite stage: constant folding, flat add/mul chains,
neutral and absorbing elements, like terms, and the broadcast noise gradients introduce.

Each rule carries its algebra as a trailing comment; rules are plain `Rule` values.
"""
from __future__ import annotations

import numpy as np

from ..graph import Constant, Variable
from ..ops import Alloc, DimShuffle, Elemwise, Reduce, Reshape, Shape, Subtensor
from ..ops import elemwise as E
from ..ops.base import Op, apply_op
from ..ops.shape import alloc, dimshuffle, shape
from .engine import P, Pat, Rule, const, scalar_value, var
from .shapes import same_shape

FOLD_LIMIT = 100_000     # don't materialise big constants (an alloc of zeros stays an alloc)


def fold(v, **_):
    node = v.owner
    if not node.op.foldable or not all(isinstance(i, Constant) for i in node.inputs):
        return None
    if node.op.fold_small_only and (None in v.type.shape or np.prod(v.type.shape) > 64):
        return None      # a big fill is cheaper to compute than to store
    with np.errstate(all="ignore"):
        try:
            values = node.op.perform(*[i.data for i in node.inputs])
        except (ValueError, IndexError, ZeroDivisionError):
            return None      # leave the error to run time, where it names the user's line
    out = np.asarray(values[v.index])
    if out.size > FOLD_LIMIT:
        return None
    return Constant(out)                                  # f(c1, c2) -> c


def static_shape_entry(v, **_):
    node = v.owner
    vec = node.inputs[0]
    if vec.owner is None or not isinstance(vec.owner.op, Shape) or len(node.op.idx) != 1 \
            or not isinstance(node.op.idx[0], int):
        return None
    length = vec.owner.inputs[0].type.shape[node.op.idx[0]]
    return None if length is None else Constant(np.int64(length))   # x.shape[i] -> n when static


def _uniform(v):
    return isinstance(v, Constant) and scalar_value(v) is not None


def _as_type(x: Variable, like: Variable):
    """x with like's dtype, when x provably has like's shape; else None."""
    if x.ndim != like.ndim or not same_shape(x, like):
        return None
    if any(a is not None and b is None for a, b in zip(like.type.shape, x.type.shape)):
        return None
    return E.cast(x, like.dtype)


def flatten_chain(v, **_):
    op = v.owner.op.scalar
    ins = []
    changed = False
    for i in v.owner.inputs:
        if i.owner is not None and getattr(i.owner.op, "scalar", None) == op and i.dtype == v.dtype:
            ins.extend(i.owner.inputs)
            changed = True
        else:
            ins.append(i)
    return E.apply_elemwise(op, *ins) if changed else None   # (a + b) + c -> a + b + c


def combine_constants(v, **_):
    op = v.owner.op.scalar
    ins = v.owner.inputs
    consts = [i for i in ins if _uniform(i)]
    others = [i for i in ins if not _uniform(i)]
    neutral = {"add": 0, "mul": 1}[op]
    fn = {"add": np.add, "mul": np.multiply}[op]
    if op == "mul" and any(scalar_value(c) == 0 for c in consts):
        for o in others:                                   # x * 0 -> zeros (shape from x)
            if same_shape(o, v) and o.ndim == v.ndim:
                return alloc(Constant(np.zeros((), v.dtype)), shape(o))
        return None
    if len(consts) > 1:
        shp = np.broadcast_shapes(*[c.data.shape for c in consts])
        value = np.full(shp, fn.reduce([np.asarray(scalar_value(c), v.dtype) for c in consts]), dtype=v.dtype)
        return E.apply_elemwise(op, *others, Constant(value)) if others else Constant(value)  # 2*x*3 -> x*6
    kept = [i for i in ins if not (_uniform(i) and scalar_value(i) == neutral)]
    if len(kept) < len(ins) and kept:                      # x + 0 -> x, x * 1 -> x
        candidate = kept[0] if len(kept) == 1 else E.apply_elemwise(op, *kept)
        return _as_type(candidate, v)
    return None


def like_terms(v, **_):
    """a*x + b*x -> (a+b)*x for constants a, b (x + x -> 2*x)."""
    groups: dict[int, list] = {}
    order = []
    for term in v.owner.inputs:
        coef, base = 1.0, term
        node = term.owner
        if node is not None and getattr(node.op, "scalar", None) == "mul" and len(node.inputs) == 2:
            a, b = node.inputs
            if _uniform(a) and a.ndim == 0:
                coef, base = scalar_value(a), b
            elif _uniform(b) and b.ndim == 0:
                coef, base = scalar_value(b), a
        if id(base) not in groups:
            order.append(base)
        groups.setdefault(id(base), []).append((coef, term))
    if all(len(g) == 1 for g in groups.values()):
        return None
    terms = []
    for base in order:
        g = groups[id(base)]
        if len(g) == 1:
            terms.append(g[0][1])
        else:
            terms.append(E.mul(Constant(np.asarray(sum(c for c, _ in g), v.dtype)), base))
    out = terms[0] if len(terms) == 1 else E.apply_elemwise("add", *terms)
    return _as_type(out, v)


def drop_broadcast_alloc(v, **_):
    """alloc(c, s) feeding an elementwise op whose other inputs already give shape s -> c."""
    ins = list(v.owner.inputs)
    for k, i in enumerate(ins):
        if i.owner is not None and isinstance(i.owner.op, Alloc):
            value = i.owner.inputs[0]
            value = dimshuffle(value, ["x"] * (i.ndim - value.ndim) + list(range(value.ndim))) \
                if value.ndim < i.ndim else value
            trial = ins[:k] + [value] + ins[k + 1:]
            try:
                candidate = apply_op(v.owner.op, trial)
            except (TypeError, ValueError):
                continue
            candidate = candidate[v.index] if isinstance(candidate, list) else candidate
            if same_shape(candidate, v) and candidate.type == v.type:
                return candidate                             # f(alloc(c, shape(x)), x) -> f(c, x)
    return None


def useless_alloc(v, value, **_):
    return _as_type(value, v) if value.ndim == v.ndim else None   # alloc(x, shape(x)) -> x


def dimshuffle_chain(v, x, **_):
    inner = x.owner.op.order
    outer = v.owner.op.order
    composed = tuple("x" if o == "x" else inner[o] for o in outer)
    src = x.owner.inputs[0]
    dropped = set(range(src.ndim)) - {o for o in composed if o != "x"}
    if any(src.type.shape[d] != 1 for d in dropped):
        return None
    return dimshuffle(src, composed)                     # dimshuffle(dimshuffle(x)) -> dimshuffle(x)


def useless_reshape(v, x, **_):
    if x.owner is not None and isinstance(x.owner.op, Reshape):
        out = apply_op(Reshape(v.owner.op.ndim), [x.owner.inputs[0], v.owner.inputs[1]])  # reshape(reshape(x))
        # A -1 entry resolves statically only from the inner reshape's known lengths: keep those.
        return out if out.type == v.type else None
    return _as_type(x, v) if x.ndim == v.ndim and same_shape(x, v) else None       # reshape(x, x.shape) -> x


def single_term(v, x, **_):
    return _as_type(x, v)                                   # add(x) -> x


def sum_of_length_one(v, x, **_):
    op = v.owner.op
    if op.kind not in ("sum", "prod", "max", "min") or not all(x.type.shape[a] == 1 for a in op.axis):
        return None
    if x.dtype != v.dtype:
        x = E.cast(x, v.dtype)                              # sum of bools or small ints is int64
    if op.keepdims:
        return x                                            # sum over axes of length 1 -> x
    return dimshuffle(x, [d for d in range(x.ndim) if d not in op.axis])


def shape_from_input(v, x, **_):
    """shape(f(u)) -> shape(u) for ops that keep their input's shape (no need to compute f)."""
    node = x.owner
    if node is None or node.op.shaped_like is None:
        return None
    for u in node.inputs:
        if u.ndim == x.ndim and u.owner is not x.owner and same_shape(u, x) and u.type.shape == x.type.shape:
            return shape(u)                                   # shape(tanh(u)) -> shape(u)
    return None


def reduce_then_drop(v, x, **_):
    """dimshuffle dropping the kept axes of a keepdims reduction -> the reduction without them."""
    op = x.owner.op
    kept = [o for o in v.owner.op.order if o != "x"]
    if not op.keepdims or "x" in v.owner.op.order or kept != [d for d in range(x.ndim) if d not in op.axis]:
        return None
    return apply_op(Reduce(op.kind, op.axis, False), x.owner.inputs)   # sum(keepdims)[dropped] -> sum


# Values that are >= 0 or nan by construction (the last: exp_log's own guard).
NONNEGATIVE = ("exp", "sqr", "abs", "sqrt", "sigmoid", "softplus")


def _guarded(x) -> bool:
    node = x.owner
    op = getattr(node.op, "scalar", None) if node is not None else None
    if op in NONNEGATIVE:
        return True
    if op != "switch":
        return False
    c, a, b = node.inputs
    cond = c.owner
    return (cond is not None and getattr(cond.op, "scalar", None) == "ge" and cond.inputs[0] is a
            and scalar_value(cond.inputs[1]) == 0 and isinstance(b, Constant) and bool(np.isnan(b.data).all()))


def exp_log(v, x, **_):
    """exp(log x) is x only where log is real: elsewhere (x < 0, nan) it is nan, as PyTensor keeps it."""
    if _guarded(x):
        return _as_type(x, v)                             # exp(log x) -> x for x >= 0 by construction
    nan = Constant(np.asarray(np.nan, v.dtype))
    return _as_type(E.switch(E.ge(x, 0), x, nan), v)     # exp(log x) -> x if x >= 0 else nan


def scalarize_constants(v, **_):
    """A uniform constant of shape (1, ..., 1) in an elementwise op can be a 0-d scalar."""
    ins = v.owner.inputs
    big = max(i.ndim for i in ins)
    out = []
    for i in ins:
        small = isinstance(i, Constant) and i.ndim > 0 and i.data.size == 1
        others = any(j is not i and j.ndim >= i.ndim for j in ins)
        out.append(Constant(i.data.reshape(())) if small and others and big >= i.ndim else i)
    if all(a is b for a, b in zip(out, ins)):
        return None
    return _as_type(apply_op(v.owner.op, out), v)            # x * [2.] -> x * 2.0


x, y = var("x"), var("y")
CANONICALIZE = [
    Rule("constant_fold", Pat(Op), fold),
    Rule("static_shape_entry", Pat(Subtensor), static_shape_entry),
    Rule("flatten_add", P.add, flatten_chain),
    Rule("flatten_mul", P.mul, flatten_chain),
    Rule("combine_add_constants", P.add, combine_constants),
    Rule("combine_mul_constants", P.mul, combine_constants),
    Rule("like_terms", P.add, like_terms),
    Rule("single_term", Pat(("add", "mul"), (x,)), single_term),
    Rule("sub_self", P.sub(x, x), lambda v, x: alloc(Constant(np.zeros((), v.dtype)), shape(x))
         if same_shape(x, v) else None),                                    # x - x -> 0
    Rule("sub_zero", P.sub(x, const(0)), lambda v, x: _as_type(x, v)),        # x - 0 -> x
    Rule("zero_sub", P.sub(const(0), x), lambda v, x: _as_type(E.neg(x), v)),  # 0 - x -> -x
    Rule("sub_neg", P.sub(x, P.neg(y)), lambda v, x, y: E.add(x, y)),          # x - (-y) -> x + y
    Rule("add_neg", P.add(x, P.neg(y)), lambda v, x, y: E.sub(x, y)),          # x + (-y) -> x - y
    Rule("div_one", P.true_div(x, const(1)), lambda v, x: _as_type(x, v)),     # x / 1 -> x
    Rule("pow_one", P.pow(x, const(1)), lambda v, x: _as_type(x, v)),          # x ** 1 -> x
    Rule("neg_neg", P.neg(P.neg(x)), lambda v, x: x),                        # --x -> x
    Rule("mul_minus_one", P.mul(x, const(-1)), lambda v, x: _as_type(E.neg(x), v)),  # -1 * x -> -x
    Rule("exp_log", P.exp(P.log(x)), exp_log),                               # exp(log x) -> x where x >= 0
    Rule("log_exp", P.log(P.exp(x)), lambda v, x: _as_type(x, v)),             # log(exp x) -> x
    Rule("drop_broadcast_alloc", Pat(Elemwise), drop_broadcast_alloc),
    Rule("useless_alloc", Pat(Alloc, (var("value"), var())), useless_alloc),
    Rule("dimshuffle_chain", Pat(DimShuffle, (Pat(DimShuffle, name="x"),)), dimshuffle_chain),
    Rule("useless_reshape", Pat(Reshape, (x, var())), useless_reshape),
    Rule("reduce_length_one", Pat(Reduce, (x,)), sum_of_length_one),
    Rule("shape_from_input", Pat(Shape, (x,)), shape_from_input),
    Rule("reduce_then_drop", Pat(DimShuffle, (Pat(Reduce, name="x"),)), reduce_then_drop),
    Rule("scalarize_constants", Pat(Elemwise), scalarize_constants),
]
