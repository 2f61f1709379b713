"""Elementwise ops against NumPy 2: every SCALAR_OPS entry, broadcasting (static length 1,
size 0, scalars), NEP 50 promotion of mixed dtypes and of weak Python literals, casts, logic."""
import numpy as np
import pytest
import scipy.special as sps
from hypothesis import given, settings, strategies as hs
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import symnb as sn
import symnb.tensor as st
from symnb.core.ops.elemwise import SCALAR_OPS

from .opcheck import check, compiled, numpy_or_error, typed

UNARY = {
    "neg": np.negative, "abs": np.abs, "sign": np.sign, "exp": np.exp, "exp2": np.exp2, "expm1": np.expm1,
    "log": np.log, "log2": np.log2, "log10": np.log10, "log1p": np.log1p, "sqrt": np.sqrt, "sqr": np.square,
    "reciprocal": np.reciprocal, "sin": np.sin, "cos": np.cos, "tan": np.tan, "arcsin": np.arcsin,
    "arccos": np.arccos, "arctan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
    "arcsinh": np.arcsinh, "arccosh": np.arccosh, "arctanh": np.arctanh, "sigmoid": sps.expit,
    "softplus": lambda a: np.logaddexp(0, a), "erf": sps.erf, "erfc": sps.erfc, "floor": np.floor,
    "ceil": np.ceil, "round": np.round, "invert": np.invert, "identity": np.copy, "zero_grad": np.copy,
}
BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "true_div": np.true_divide,
    "int_div": np.floor_divide, "mod": np.remainder, "pow": np.power, "maximum": np.maximum,
    "minimum": np.minimum, "eq": np.equal, "neq": np.not_equal, "lt": np.less, "le": np.less_equal,
    "gt": np.greater, "ge": np.greater_equal, "and_": np.bitwise_and, "or_": np.bitwise_or,
    "xor": np.bitwise_xor, "hypot": np.hypot,
}
# Values across every domain boundary (outside a domain both sides give nan) and a half-way tie.
FLOATS = np.array([[-3.7, -1.5, -0.5, 0.0, 0.25], [0.5, 0.9, 1.0, 2.5, 6.0]])
INTS = np.array([[0, 1, 2, 3, 5], [7, 1, 0, 2, 4]])


def test_every_scalar_op_is_tested():
    assert set(UNARY) | set(BINARY) | {"switch"} == set(SCALAR_OPS)


def expect(inputs, build, values, reference):
    """NumPy's result, or NumPy's error: a dtype error (or an overflowing literal) fails the
    build with a TypeError, a value error (int ** -1) fails the call."""
    expected = numpy_or_error(reference, *values)
    if expected is TypeError or expected is OverflowError:
        with pytest.raises(TypeError):
            build(*inputs)
    elif expected is ValueError:
        for rewrite in (False, True):
            with pytest.raises(ValueError):
                compiled(inputs, build(*inputs), *values, rewrite=rewrite)
    else:
        check(inputs, build(*inputs), values, expected)


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "int8", "uint8", "int64", "bool"])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary(name, dtype):
    data = (FLOATS if dtype.startswith("float") else INTS).astype(dtype)
    expect([typed(data, "x")], getattr(st, name), [data], UNARY[name])


BROADCAST_SHAPES = [((3, 4), (3, 4)), ((1, 4), (3, 1)), ((3, 4), (4,)), ((), (3, 4)), ((0, 4), (1, 4)),
                    ((2, 1, 3), (4, 1)), ((0,), (1,)), ((1, 1), (1,)), ((3, 0), (3, 1)), ((), ())]


@pytest.mark.parametrize("dtype", ["float64", "int32"])
@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_broadcasting(name, shapes, dtype):
    rng = np.random.default_rng(len(name))
    va, vb = (rng.integers(1, 4, s).astype(dtype) for s in shapes)
    expect([typed(va, "a"), typed(vb, "b")], getattr(st, name), [va, vb], BINARY[name])


@settings(max_examples=40, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, min_side=0, max_side=3),
       name=hs.sampled_from(["add", "mul", "maximum", "lt"]))
def test_random_broadcasts_of_three_inputs(shapes, name):
    rng = np.random.default_rng(0)
    vals = [rng.standard_normal(s) for s in shapes.input_shapes]
    fn = {"add": np.add, "mul": np.multiply, "maximum": np.maximum, "lt": np.less}[name]
    expected = fn(fn(vals[0], vals[1]), vals[2])
    xs = [typed(v) for v in vals]
    check(xs, getattr(st, name)(getattr(st, name)(xs[0], xs[1]), xs[2]), vals, expected)


def test_a_runtime_length_one_typed_unknown_does_not_stretch():
    x, y = st.dmatrix("x"), st.dmatrix("y")
    f = sn.function([x, y], x + y, backend="numpy")
    with pytest.raises(ValueError, match="runtime broadcasting"):
        f(np.ones((3, 4)), np.ones((1, 4)))
    r = st.row("r")
    check([x, r], x + r, [np.ones((3, 4)), np.ones((1, 4))], np.full((3, 4), 2.0))


DTYPE_PAIRS = [("int8", "float32"), ("int32", "int32"), ("int64", "float64"), ("uint8", "int8"),
               ("bool", "int16"), ("float32", "float64"), ("int16", "uint16"), ("bool", "bool"),
               ("int64", "uint64"), ("float16", "int8"), ("float16", "int16"), ("uint32", "int32"),
               ("bool", "float32"), ("uint8", "uint8")]


@pytest.mark.parametrize("da,db", DTYPE_PAIRS)
@pytest.mark.parametrize("name", ["add", "sub", "mul", "true_div", "int_div", "mod", "pow", "maximum",
                                  "minimum", "lt", "eq", "and_", "or_", "xor"])
def test_mixed_dtypes(name, da, db):
    va, vb = np.array([1, 2, 3]).astype(da), np.array([3, 1, 2]).astype(db)
    expect([typed(va, "a"), typed(vb, "b")], getattr(st, name), [va, vb], BINARY[name])


def test_scalars_against_tensors_are_strong():
    """A 0-d tensor takes part in promotion with its dtype (only Python literals are weak)."""
    cases = [(st.dscalar, st.fvector, "float64"), (st.fscalar, st.dvector, "float64"),
             (st.iscalar, st.bvector, "int32"), (st.bscalar, st.fvector, "float32"),
             (st.lscalar, st.ivector, "int64")]
    for scalar, vector, dtype in cases:
        s, v = scalar("s"), vector("v")
        vs, vv = np.asarray(2, s.dtype), np.array([1, 2, 3], v.dtype)
        assert (vs * vv).dtype == dtype
        check([s, v], s * v + v, [vs, vv], vs * vv + vv)


LITERALS = [("float32", np.add, 1.5), ("float32", np.multiply, 2), ("int8", np.add, 1), ("int8", np.add, 1.5),
            ("int32", np.true_divide, 2), ("uint8", np.add, 255), ("uint8", np.add, 256), ("int8", np.add, 1000),
            ("int8", np.less, 1000), ("uint8", np.greater, -1), ("int8", np.equal, -129), ("bool", np.add, 1),
            ("bool", np.bitwise_and, True), ("int8", np.multiply, 1.0), ("float32", np.power, 2),
            ("float32", np.floor_divide, 2), ("int8", np.remainder, 3), ("int8", np.maximum, 200),
            ("int16", np.bitwise_or, 0xFF), ("float16", np.add, 3.0), ("float64", np.subtract, True),
            ("uint8", np.subtract, -1), ("int64", np.power, 2.5), ("float32", np.minimum, 1e300)]
OP_OF = {np.add: "add", np.multiply: "mul", np.true_divide: "true_div", np.less: "lt", np.greater: "gt",
         np.equal: "eq", np.bitwise_and: "and_", np.power: "pow", np.floor_divide: "int_div",
         np.remainder: "mod", np.maximum: "maximum", np.bitwise_or: "or_", np.subtract: "sub",
         np.minimum: "minimum"}


@pytest.mark.parametrize("dtype,fn,lit", LITERALS, ids=lambda v: getattr(v, "__name__", repr(v)))
@pytest.mark.parametrize("side", ["right", "left"])
def test_weak_python_literals(dtype, fn, lit, side):
    """NEP 50: f32 + 1.5 stays float32, int8 + 1000 is NumPy's OverflowError (here a TypeError
    at build time), int8 < 1000 is exact."""
    data = np.array([[1, 2, 3], [4, 5, 6]]).astype(dtype)
    name = OP_OF[fn]
    ref = (lambda a: fn(a, lit)) if side == "right" else (lambda a: fn(lit, a))
    build = (lambda x: getattr(st, name)(x, lit)) if side == "right" else (lambda x: getattr(st, name)(lit, x))
    expect([typed(data, "x")], build, [data], ref)


def test_overflowing_literal_error_is_clear():
    with pytest.raises(TypeError, match=r"1000 out of bounds for int8.*cast the tensor first"):
        st.bvector("b") + 1000


def test_python_operators_and_reflected_forms():
    x, y = st.dvector("x"), st.dvector("y")
    vx, vy = np.array([-2.5, 0.5, 3.0]), np.array([1.5, -2.0, 0.25])
    check([x, y], x + y * 2 - y / x, [vx, vy], vx + vy * 2 - vy / vx)
    check([x], 2 - x, [vx], 2 - vx)
    check([x], 2 / x, [vx], 2 / vx)
    check([x], 2 ** x, [vx], 2 ** vx)
    check([x], 7 // x, [vx], 7 // vx)
    check([x], 7 % x, [vx], 7 % vx)
    check([x], abs(x), [vx], np.abs(vx))
    check([x], -x + (+x), [vx], -vx + vx)
    check([x, y], (x < y) | (x >= y * 2), [vx, vy], (vx < vy) | (vx >= vy * 2))
    check([x, y], (x <= y) & ~(x > 0), [vx, vy], (vx <= vy) & ~(vx > 0))
    check([x], vy * x + vx, [vx], vy * vx + vx)      # an ndarray on the left builds a node
    check([x, y], st.eq(x, y) ^ st.neq(x, 0.5), [vx, vy], (vx == vy) ^ (vx != 0.5))


@pytest.mark.parametrize("dtype", ["int32", "int64", "int8", "uint8", "float64", "float32"])
def test_floor_division_and_remainder_follow_numpy_signs(dtype):
    va = np.array([7, -7, 7, -7, 0, 5]).astype(dtype)
    vb = np.array([2, 2, -2, -2, 3, 5]).astype(dtype)
    if dtype == "uint8":
        va, vb = np.abs(va.astype("int16")).astype(dtype), np.abs(vb.astype("int16")).astype(dtype)
    a, b = typed(va, "a"), typed(vb, "b")
    check([a, b], a // b, [va, vb], va // vb)
    check([a, b], a % b, [va, vb], va % vb)
    check([a], a // 3 + a % 3, [va], va // 3 + va % 3)


@pytest.mark.parametrize("op", ["//", "%"])
@pytest.mark.parametrize("dtype", ["int32", "int8", "uint8", "int64"])
def test_integer_division_by_zero_raises(op, dtype):
    a, b = st.tensor("a", dtype, (None,)), st.tensor("b", dtype, (None,))
    out = a // b if op == "//" else a % b
    for rewrite in (False, True):
        f = sn.function([a, b], out, backend="numpy", rewrite=rewrite)
        with pytest.raises(ZeroDivisionError):
            f(np.array([1, 2], dtype), np.array([1, 0], dtype))
    with pytest.raises(ZeroDivisionError):
        compiled([a], a // 0 if op == "//" else a % 0, np.array([1, 2], dtype))


def test_float_division_by_zero_gives_inf_and_nan_as_numpy():
    a, b = st.dvector("a"), st.dvector("b")
    va, vb = np.array([1.0, -1.0, 0.0, 3.0]), np.zeros(4)
    with np.errstate(all="ignore"):
        check([a, b], st.stack([a / b, a // b, a % b]), [va, vb], np.stack([va / vb, va // vb, va % vb]))


CASTS = [("float64", "int32"), ("float64", "uint8"), ("int64", "float32"), ("bool", "float64"),
         ("float64", "bool"), ("int8", "int64"), ("float64", "float16"), ("int32", "int8"), ("uint8", "bool"),
         ("float32", "float64"), ("int64", "int64")]


@pytest.mark.parametrize("src,dst", CASTS)
def test_cast_and_astype_follow_numpy_astype(src, dst):
    data = np.array([[-2.7, -0.5, 0.0], [0.5, 1.9, 130.0]])
    if np.dtype(dst).kind == "u" or np.dtype(src).kind == "u":
        data = np.abs(data)
    data = data.astype(src)
    x = typed(data, "x")
    for out in (st.cast(x, dst), x.astype(dst), st.astype(x, np.dtype(dst))):
        check([x], out, [data], data.astype(dst))
    assert st.cast(x, src) is x


def test_cast_and_draws_take_theanos_floatx_name():
    # Ported code writes T.cast(0.0, config.floatX) and dtype=floatX: symnb's floatX is float64.
    assert st.cast(0.5, "floatX").dtype == "float64"
    assert st.cast(st.ivector("i"), "floatX").dtype == "float64"
    assert sn.RandomStream(1).binomial(size=(2,), p=0.5, dtype="floatX").dtype == "float64"


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint8", "int32"])
def test_logic_on_bools_and_integers(dtype):
    va = np.array([[0, 1, 5], [3, 0, 6]]).astype(dtype)
    vb = np.array([[1, 1, 3], [0, 2, 6]]).astype(dtype)
    a, b = typed(va, "a"), typed(vb, "b")
    check([a, b], st.and_(a, b), [va, vb], va & vb)
    check([a, b], st.or_(a, b) ^ st.xor(a, b), [va, vb], (va | vb) ^ (va ^ vb))
    check([a, b], ~a | b, [va, vb], ~va | vb)
    check([a], st.invert(a), [va], np.invert(va))
    with pytest.raises(TypeError):
        st.and_(a, st.dvector("f"))


def test_comparisons_of_mixed_dtypes():
    a, b = st.bvector("a"), st.fvector("b")
    va, vb = np.array([-1, 0, 3], "int8"), np.array([-1.0, 0.5, 2.5], "float32")
    for name in ("eq", "neq", "lt", "le", "gt", "ge"):
        check([a, b], getattr(st, name)(a, b), [va, vb], BINARY[name](va, vb))


@pytest.mark.parametrize("cond_dtype", ["bool", "int32", "float64"])
def test_where_and_switch(cond_dtype):
    c, x, y = st.tensor("c", cond_dtype, (None, 3)), st.bmatrix("x"), st.frow("y")
    vc = np.array([[1, 0, 2], [0, 0, 1]]).astype(cond_dtype)
    vx, vy = np.array([[1, 2, 3], [4, 5, 6]], "int8"), np.array([[0.5, -1.5, 2.5]], "float32")
    check([c, x, y], st.where(c, x, y), [vc, vx, vy], np.where(vc, vx, vy))
    check([c, x], st.switch(c, x, 2), [vc, vx], np.where(vc, vx, 2))
    check([c, x], st.switch(c, x, 2.5), [vc, vx], np.where(vc, vx, 2.5))
    check([c], st.where(c, 1, 0), [vc], np.where(vc, 1, 0))
    check([c, y], st.where(c, 7, y), [vc, vy], np.where(vc, 7, vy))


@pytest.mark.parametrize("dtype,lo,hi", [("float64", -1, 1), ("float32", -0.5, 2.5), ("int8", 0, 4),
                                         ("int8", 0.5, 2), ("int32", -3, -1)])
def test_clip(dtype, lo, hi):
    data = np.array([[-5, -1, 0], [1, 2, 7]]).astype(dtype)
    x = typed(data, "x")
    check([x], st.clip(x, lo, hi), [data], np.clip(data, lo, hi))
    check([x], x.clip(lo, hi), [data], np.clip(data, lo, hi))
    lo_v, hi_v = st.dscalar("lo"), st.dscalar("hi")
    check([x, lo_v, hi_v], st.clip(x, lo_v, hi_v), [data, np.float64(lo), np.float64(hi)],
          np.clip(data, np.float64(lo), np.float64(hi)))
