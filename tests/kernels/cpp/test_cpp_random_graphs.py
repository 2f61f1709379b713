"""Random graphs: the C++ backend equals the reference backend on 500 random expressions
per run (hypothesis: 25 examples x 20 expressions, each example one compiled function, so
compile time stays at 25 compiles).

Values are tracked as exact or approximate. Exact values come from IEEE-exact operations
on small multiples of 1/2 (+ - *, floor, comparisons, casts, integer ops, sums of values on
a grid, random draws) and must match bit for bit; only they feed discontinuous ops (floor,
comparisons, casts, argmax, //, %), so a last-bit difference in a transcendental function
(libm vs NumPy's SIMD code) can never flip a result. Approximate ops (exp, tanh, divisions,
dot, softmax, float sums) take inputs clipped to [-10, 10] and are compared to 1e-9.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

import symnb as sn
import symnb.tensor as st
from symnb.core.graph import evaluate
from symnb.core.types import broadcast_shapes

from .test_cpp_ops import pytestmark  # noqa: F401  (skips without a compiler)

BACKEND = "cpp"     # the CUDA tests run these same graphs with "cuda"
EXPRESSIONS = 20
EXAMPLES = 25

EXACT_UNARY = ["neg", "abs", "sqr", "floor", "ceil", "round", "sign"]
APPROX_UNARY = ["tanh", "sin", "cos", "sigmoid", "arctan", "softplus", "erf", "exp", "expm1", "log1p", "sqrt"]
EXACT_BINARY = ["add", "sub", "mul", "maximum", "minimum"]
DISCRETE_BINARY = ["eq", "lt", "ge", "int_div", "mod"]
KINDS = ["unary", "binary", "binary", "discrete", "reduce", "shape", "cast", "switch", "dot", "softmax",
         "random", "divide"]


class Val:
    """A graph variable, whether both backends must compute it bit for bit, and its shape
    at run time (the reference evaluates it on inputs of the test's shapes)."""

    def __init__(self, var, exact):
        self.var, self.exact = var, exact
        self.rt = np.shape(evaluate([var], dict(zip(INPUTS, values(0))))[0])

    @property
    def shape(self):
        return self.var.type.shape


def bounded(x):
    """The input of an approximate op: float64 within [-10, 10], so errors stay ~1e-13
    absolute (a float32 input's last-bit differences would not)."""
    return st.clip(st.cast(x, "float64"), -10, 10)


def quantized(x):
    """Exact float values on a grid of 1/8 within +-1000: their sums are exact in any order."""
    return st.round(st.clip(x, -1000, 1000) * 8) / 8 if x.dtype.startswith("float") else x


def approx_unary(name, x):
    x = bounded(x)
    if name in ("log1p", "sqrt"):
        return getattr(st, name)(abs(x))
    return getattr(st, name)(x)


def _compatible(a, b):
    """Can a and b meet in an elementwise op, statically and at run time?"""
    try:
        broadcast_shapes(a.shape, b.shape)
    except ValueError:
        return False
    n = max(len(a.rt), len(b.rt))
    pad = [(1,) * (n - len(v.rt)) + v.rt for v in (a, b)]
    typed = [(1,) * (n - len(v.shape)) + v.shape for v in (a, b)]
    return all(p == q or (p == 1 and s == 1) or (q == 1 and t == 1)
               for p, q, s, t in zip(pad[0], pad[1], typed[0], typed[1]))


def grow(draw, pool, stream):
    """One new value built by a random op from values of the pool."""
    kind = draw(hs.sampled_from(KINDS))
    v = draw(hs.sampled_from(pool))
    x = v.var
    partners = [w for w in pool if _compatible(v, w)]
    if kind == "unary":
        if v.exact and draw(hs.booleans()):
            x = st.cast(x, "int64") if x.dtype == "bool" or x.dtype.startswith("int") else x
            return Val(getattr(st, draw(hs.sampled_from(EXACT_UNARY)))(x), True)
        return Val(approx_unary(draw(hs.sampled_from(APPROX_UNARY)), x), False)
    if kind == "binary":
        w = draw(hs.sampled_from(partners))
        name = draw(hs.sampled_from(EXACT_BINARY))
        if v.exact and w.exact:
            a, b = x, w.var
            if a.dtype == "bool" and b.dtype == "bool" and name == "sub":
                name = "add"
            return Val(getattr(st, name)(a, b), True)
        return Val(getattr(st, name)(bounded(x), bounded(w.var)), False)
    if kind == "discrete":
        w = draw(hs.sampled_from([p for p in partners if p.exact] or [v]))
        if not (v.exact and w.exact):
            return Val(st.maximum(bounded(x), bounded(w.var)), False)
        a, b = (st.cast(t, "int32") if t.dtype == "bool" else t for t in (x, w.var))
        name = draw(hs.sampled_from(DISCRETE_BINARY))
        if name in ("int_div", "mod"):
            b = abs(b) + 1                 # a zero divisor would fail the whole function
            return Val(a // b if name == "int_div" else a % b, True)
        return Val(getattr(st, name)(a, b), True)
    if kind == "divide":
        w = draw(hs.sampled_from(partners))
        return Val(bounded(x) / (abs(bounded(w.var)) + 1), False)
    if kind == "reduce":
        if x.ndim == 0:
            return Val(x * 2, v.exact)
        axis = draw(hs.sampled_from([None] + list(range(x.ndim)) + ([(0, 1)] if x.ndim == 2 else [])))
        keep = draw(hs.booleans())
        if not v.exact:
            how = draw(hs.sampled_from(["sum", "prod", "max", "min"]))
            arg = st.tanh(x) if how in ("sum", "prod") else x
            return Val(getattr(st, how)(arg, axis=axis, keepdims=keep), False)
        how = draw(hs.sampled_from(["sum", "max", "min", "prod", "any", "all", "argmax", "argmin"]))
        if how == "prod":
            x = st.clip(st.round(st.cast(x, "float64")), -2, 2)
        elif how == "sum":
            x = quantized(x)
        return Val(getattr(st, how)(x, axis=axis, keepdims=keep and not how.startswith("arg")), True)
    if kind == "shape":
        if x.ndim == 2 and v.rt[0] >= 3 and v.rt[1] % 2 == 0:
            op = draw(hs.sampled_from(["T", "slice", "flatten", "row", "expand", "concat", "index", "reshape"]))
            out = {"T": lambda: x.T, "slice": lambda: x[::-1, 1:], "flatten": lambda: x.flatten(),
                   "row": lambda: x[1], "expand": lambda: x.dimshuffle(0, "x", 1)[:, 0],
                   "index": lambda: x[np.array([2, 0, 2])], "reshape": lambda: x.reshape((2, -1)),
                   "concat": lambda: st.concatenate([x, x[::-1]], axis=draw(hs.sampled_from([0, 1])))}[op]()
            return Val(out, v.exact)
        if x.ndim == 2:
            return Val(x.T[::-1], v.exact)
        if x.ndim == 1:
            op = draw(hs.sampled_from(["rev", "bcast", "column", "set", "inc"]))
            out = {"rev": lambda: x[::-1], "bcast": lambda: x.dimshuffle("x", 0), "column": lambda: x.reshape((-1, 1)),
                   "set": lambda: st.set_subtensor(x[1:3], 0), "inc": lambda: st.inc_subtensor(x[::2], True if x.dtype == "bool" else 1)}[op]()
            return Val(out, v.exact)
        return Val(st.stack([x, x * 2]), v.exact)
    if kind == "cast":
        if not v.exact:
            return Val(x * 0.5, False)
        dt = draw(hs.sampled_from(["float64", "float32", "int32", "int8", "bool", "int64"]))
        if dt.startswith("int") and x.dtype.startswith("float"):
            x = st.clip(x, -100, 100)      # out-of-range float -> int conversion is platform-defined
        return Val(st.cast(x, dt), True)
    if kind == "switch":
        c = draw(hs.sampled_from([p for p in partners if p.exact] or [v]))
        w = draw(hs.sampled_from([p for p in partners if _compatible(p, c)] or [v]))
        cond = st.gt(st.cast(c.var, "float64"), 0)
        if c.exact:
            return Val(st.switch(cond, x, w.var), v.exact and w.exact)
        return Val(st.maximum(bounded(x), bounded(w.var)), False)
    if kind == "dot":
        mats = [p for p in pool if p.var.ndim in (1, 2)]
        a = draw(hs.sampled_from(mats or [v]))
        rhs = [m for m in mats if a.var.ndim and m.rt[0] == a.rt[-1] and
               m.shape[0] in (None, a.shape[-1]) and a.shape[-1] in (None, m.shape[0])]
        if not a.var.ndim or not rhs:
            return Val(bounded(x), False)
        return Val(st.dot(bounded(a.var), bounded(draw(hs.sampled_from(rhs)).var)), False)
    if kind == "softmax":
        mats = [p.var for p in pool if p.var.ndim == 2]
        if not mats:
            return Val(bounded(x), False)
        fn = draw(hs.sampled_from([st.softmax, st.log_softmax]))
        return Val(fn(bounded(draw(hs.sampled_from(mats))), axis=draw(hs.sampled_from([0, 1]))), False)
    dist = draw(hs.sampled_from(["uniform", "normal", "binomial"]))
    if dist == "binomial":
        return Val(stream.binomial(n=2, p=0.3, size=(3, 4)), True)
    return Val(getattr(stream, dist)(size=(3, 4), dtype=draw(hs.sampled_from(["float64", "float32"]))), True)


INPUTS = [st.tensor("x", dtype="float64", shape=(3, 4)), st.dvector("y"), st.tensor("z", dtype="float64", shape=(3, 1)),
          st.dscalar("s"), st.tensor("i", dtype="int32", shape=(None, None)),
          st.tensor("f", dtype="float32", shape=(3, 4)), st.tensor("b", dtype="bool", shape=(3, 4))]


def values(seed):
    """Small multiples of 1/2: every IEEE-exact operation on them is exact in both backends."""
    rng = np.random.default_rng(seed)

    def half(shape):
        return rng.integers(-6, 7, shape) / 2.0

    return [half((3, 4)), half(4), half((3, 1)), np.float64(rng.integers(-3, 4)),
            rng.integers(-3, 4, (3, 4)).astype("int32"), half((3, 4)).astype("float32"),
            rng.integers(0, 2, (3, 4)).astype(bool)]


def matches(got, want, exact):
    got, want = np.asarray(got), np.asarray(want)
    if got.dtype != want.dtype or got.shape != want.shape:
        return False
    if exact or want.dtype.kind != "f":
        return np.array_equal(got, want, equal_nan=want.dtype.kind == "f")
    tol = 1e-9 if want.dtype == "float64" else 1e-4
    return np.allclose(got, want, rtol=tol, atol=tol, equal_nan=True)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(hs.data())
def test_random_graphs_match_the_reference(data):
    ins = INPUTS
    stream = sn.RandomStream(seed=data.draw(hs.integers(0, 2 ** 20)))
    pool = [Val(v, True) for v in ins]
    outs = []
    for _ in range(EXPRESSIONS):
        val = data.draw(hs.sampled_from(pool))
        for _ in range(data.draw(hs.integers(1, 4))):
            val = grow(data.draw, pool + [val], stream)
        pool.append(val)
        outs.append(val)
    f = sn.function(ins, [o.var for o in outs], backend=BACKEND, on_unused_input="ignore")
    g = sn.function(ins, [o.var for o in outs], backend="numpy", on_unused_input="ignore")
    assert not f.program.fallback_nodes, [n.op.name for n in f.program.fallback_nodes]
    states = [(s, s.get_value()) for s in stream.states]
    for seed in range(2):
        args = values(data.draw(hs.integers(0, 2 ** 20)))
        results = []
        for fn in (f, g):
            for s, v in states:
                s.set_value(v)
            with np.errstate(all="ignore"):
                results.append(fn(*args))
        for k, (a, b) in enumerate(zip(*results)):
            assert matches(a, b, outs[k].exact), (k, outs[k].var, a, b)


def test_enough_graphs_per_run():
    assert EXPRESSIONS * EXAMPLES >= 500
    pytest.importorskip("hypothesis")
