"""Every op of the public namespace against NumPy on random inputs (reference backend)."""
import numpy as np
import pytest
import scipy.special as sps

import symnb as sn
import symnb.tensor as st

rng = np.random.default_rng(0)


def run(inputs, out, *values):
    return sn.function(inputs, out, backend="numpy")(*values)


def check(inputs, out, values, expected):
    got = run(inputs, out, *values)
    expected = np.asarray(expected)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0, equal_nan=True)


POS = rng.uniform(0.1, 3.0, (3, 4))
UNIT = rng.uniform(-0.9, 0.9, (3, 4))
ANY = rng.standard_normal((3, 4))
UNARY = {
    "exp": (np.exp, ANY), "exp2": (np.exp2, ANY), "expm1": (np.expm1, ANY), "log": (np.log, POS),
    "log2": (np.log2, POS), "log10": (np.log10, POS), "log1p": (np.log1p, POS), "sqrt": (np.sqrt, POS),
    "sqr": (np.square, ANY), "reciprocal": (np.reciprocal, POS), "sin": (np.sin, ANY), "cos": (np.cos, ANY),
    "tan": (np.tan, UNIT), "arcsin": (np.arcsin, UNIT), "arccos": (np.arccos, UNIT), "arctan": (np.arctan, ANY),
    "sinh": (np.sinh, ANY), "cosh": (np.cosh, ANY), "tanh": (np.tanh, ANY), "arcsinh": (np.arcsinh, ANY),
    "arccosh": (np.arccosh, POS + 1), "arctanh": (np.arctanh, UNIT), "sigmoid": (sps.expit, ANY),
    "softplus": (lambda a: np.logaddexp(0, a), ANY), "erf": (sps.erf, ANY), "erfc": (sps.erfc, ANY),
    "floor": (np.floor, ANY * 3), "ceil": (np.ceil, ANY * 3), "round": (np.round, ANY * 3),
    "abs": (np.abs, ANY), "sign": (np.sign, ANY), "neg": (np.negative, ANY),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_unary(name, dtype):
    fn, data = UNARY[name]
    x = st.tensor("x", dtype, (None, None))
    data = data.astype(dtype)
    expected = fn(data)
    got = run([x], getattr(st, name)(x), data)
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-12 if dtype == "float64" else 1e-6)


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint8"])
@pytest.mark.parametrize("name", ["exp", "sqrt", "abs", "neg", "sqr", "sign", "sin"])
def test_unary_integer_inputs_follow_numpy_dtypes(name, dtype):
    x = st.tensor("x", dtype, (None,))
    data = np.arange(1, 6).astype(dtype)
    fn = UNARY[name][0]
    check([x], getattr(st, name)(x), [data], fn(data))


BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "true_div": np.true_divide,
          "maximum": np.maximum, "minimum": np.minimum, "pow": np.power,
          "lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
          "eq": np.equal, "neq": np.not_equal}


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((1, 4), (3, 1)), ((3, 4), (4,)), ((), (3, 4)),
                                    ((0, 4), (1, 4)), ((2, 1, 3), (4, 1))])
def test_binary_broadcasting(name, shapes):
    sa, sb = shapes
    a = st.tensor("a", "float64", tuple(1 if s == 1 else None for s in sa))
    b = st.tensor("b", "float64", tuple(1 if s == 1 else None for s in sb))
    va, vb = rng.uniform(0.5, 2, sa), rng.uniform(0.5, 2, sb)
    check([a, b], st.SCALAR_OPS and getattr(st, name)(a, b), [va, vb], BINARY[name](va, vb))


@pytest.mark.parametrize("da,db", [("int8", "float32"), ("int32", "int32"), ("int64", "float64"),
                                   ("uint8", "int8"), ("bool", "int16"), ("float32", "float64"),
                                   ("int16", "uint16")])
@pytest.mark.parametrize("op", ["add", "mul", "true_div", "sub", "maximum"])
def test_mixed_dtypes(da, db, op):
    if op == "sub" and "bool" in (da, db):
        pytest.skip("NumPy has no boolean subtract")
    a, b = st.tensor("a", da, (None,)), st.tensor("b", db, (None,))
    va, vb = np.array([1, 2, 3]).astype(da), np.array([3, 1, 2]).astype(db)
    check([a, b], getattr(st, op)(a, b), [va, vb], BINARY[op](va, vb))


def test_weak_python_literals_keep_the_tensor_dtype():
    f = st.fvector("f")
    i = st.bvector("i")
    assert (f + 1.5).dtype == "float32" and (f * 2).dtype == "float32"
    assert (i + 1).dtype == "int8" and (i + 1.5).dtype == "float64"
    assert (st.ivector("k") / 2).dtype == "float64"
    check([f], f * 2 + 1.5, [np.ones(3, "float32")], np.ones(3, "float32") * 2 + 1.5)
    with pytest.raises(TypeError, match="1000"):
        i + 1000


@pytest.mark.parametrize("dtype", ["int32", "int64", "float64"])
def test_floor_div_and_mod_follow_numpy_signs(dtype):
    a, b = st.tensor("a", dtype, (None,)), st.tensor("b", dtype, (None,))
    va = np.array([7, -7, 7, -7, 0]).astype(dtype)
    vb = np.array([2, 2, -2, -2, 3]).astype(dtype)
    check([a, b], a // b, [va, vb], va // vb)
    check([a, b], a % b, [va, vb], va % vb)


def test_integer_division_by_zero_raises():
    a, b = st.ivector("a"), st.ivector("b")
    f = sn.function([a, b], a // b, backend="numpy")
    with pytest.raises(ZeroDivisionError):
        f(np.array([1, 2], "int32"), np.array([1, 0], "int32"))


def test_logic_and_switch_clip_cast():
    p, q = st.bvector("p", dtype="bool"), st.bvector("q", dtype="bool")
    vp, vq = np.array([True, False, True]), np.array([True, True, False])
    check([p, q], st.and_(p, q), [vp, vq], vp & vq)
    check([p, q], st.or_(p, q) | st.invert(p), [vp, vq], (vp | vq) | ~vp)
    x = st.dvector("x")
    vx = np.array([-2.0, 0.5, 3.0])
    check([x], st.switch(x > 0, x, 0), [vx], np.where(vx > 0, vx, 0.0))
    check([x], st.where(x > 0, x, -x), [vx], np.abs(vx))
    check([x], st.clip(x, -1, 1), [vx], np.clip(vx, -1, 1))
    check([x], x.astype("int32"), [vx], vx.astype("int32"))
    check([x], st.cast(x, "float32"), [vx], vx.astype("float32"))
    check([x], abs(x), [vx], np.abs(vx))


@pytest.mark.parametrize("kind", ["sum", "prod", "max", "min", "mean", "var", "std", "argmax", "argmin",
                                  "logsumexp", "all", "any"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2), (0, 1, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions(kind, axis, keepdims):
    if kind in ("argmax", "argmin") and isinstance(axis, tuple):
        axis = axis[0]
    x = st.dtensor3("x")
    data = rng.standard_normal((2, 3, 4))
    if kind in ("all", "any"):
        data = data > 0
        x = st.tensor3("x", dtype="bool")
    fn = sps.logsumexp if kind == "logsumexp" else getattr(np, kind)
    expected = np.asarray(fn(data, axis=axis, keepdims=keepdims))
    check([x], getattr(st, kind)(x, axis=axis, keepdims=keepdims), [data], expected)


def test_reductions_of_integers_and_empty():
    i = st.ivector("i")
    vi = np.array([1, 2, 3], "int32")
    check([i], i.sum(), [vi], vi.sum())
    check([i], i.mean(), [vi], vi.mean())
    check([i], i.prod(), [vi], vi.prod())
    e = st.dmatrix("e")
    check([e], e.sum(axis=0), [np.zeros((0, 3))], np.zeros(3))
    with pytest.raises(ValueError):
        run([e], e.max(axis=0), np.zeros((0, 3)))


def test_bad_axis_is_a_build_error():
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        st.dmatrix("m").sum(axis=2)


def test_numpy_array_on_the_left_builds_a_node():
    x = st.dvector("x")
    arr = np.array([1.0, 2.0, 3.0])
    out = arr * x + arr
    assert isinstance(out, st.Variable)
    np.testing.assert_allclose(run([x], out, np.ones(3)), arr * 1 + arr)
