"""The C++ backend against the reference backend, op by op: each test compiles one graph
with many outputs on both backends and compares (exact for integers, booleans and exact
float ops; 1e-12 relative for float64 transcendentals, 1e-6 for float32)."""
import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st
from symnb.kernels.base import BACKENDS

pytestmark = pytest.mark.skipif(not BACKENDS["cpp"].available()[0], reason=BACKENDS["cpp"].available()[1])

# The compiled backend under test (the CUDA tests run these same graphs with "cuda").
BACKEND = "cpp"
SPECIAL = [0.0, -0.0, 0.5, 1.5, 2.5, -2.5, np.nan, np.inf, -np.inf]


def assert_same(got, want, rtol=0.0, what=""):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, f"{what}: {got.dtype}{got.shape} vs {want.dtype}{want.shape}"
    if rtol and want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=rtol, atol=0, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def compare(inputs, outputs, args, rtol=0.0, names=None, python=(), **kw):
    """Compile on both backends, call with args, compare every output; returns the C++ one.

    `python`: the ops allowed to run through the Python fallback (by default none)."""
    single = not isinstance(outputs, (list, tuple))
    f = sn.function(inputs, outputs, backend=BACKEND, **kw)
    assert {n.op.name.split("{")[0] for n in f.program.fallback_nodes} <= set(python)
    g = sn.function(inputs, outputs, backend="numpy", **kw)
    got, want = f(*args), g(*args)
    if single:
        got, want = [got], [want]
    for k, (a, b) in enumerate(zip(got, want)):
        assert_same(a, b, rtol[k] if isinstance(rtol, (list, tuple)) else rtol, names[k] if names else f"output {k}")
    return f


def raises_alike(inputs, outputs, args, exc, **kw):
    """Both backends raise `exc` for these arguments."""
    for backend in ("numpy", BACKEND):
        with pytest.raises(exc):
            sn.function(inputs, outputs, backend=backend, **kw)(*args)


UNARY_ANY = ["exp", "exp2", "expm1", "sinh", "cosh", "tanh", "sin", "cos", "tan", "arctan", "arcsinh", "sigmoid",
             "softplus", "erf", "erfc"]
UNARY_EXACT = ["floor", "ceil", "round", "abs", "neg", "sign", "sqr", "sqrt"]
UNARY_POSITIVE = ["log", "log2", "log10", "log1p", "sqrt", "reciprocal"]


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-12), ("float32", 1e-6)])
def test_unary_float_ops(dtype, rtol):
    rng = np.random.default_rng(0)
    x, p, u, c = (st.tensor(n, dtype=dtype, shape=(None,)) for n in "xpuc")
    outs, names, tols = [], [], []
    for name in UNARY_ANY + UNARY_EXACT:
        outs.append(getattr(st, name)(x)), names.append(name), tols.append(0 if name in UNARY_EXACT else rtol)
    for name in UNARY_POSITIVE:
        outs.append(getattr(st, name)(p)), names.append(name), tols.append(0 if name == "sqrt" else rtol)
    for name in ("arcsin", "arccos", "arctanh"):
        outs.append(getattr(st, name)(u)), names.append(name), tols.append(rtol)
    outs.append(st.arccosh(c)), names.append("arccosh"), tols.append(rtol)
    xs = np.concatenate([rng.uniform(-6, 6, 300), SPECIAL]).astype(dtype)
    ps = np.concatenate([rng.uniform(1e-3, 50, 300), [0.0, 1e-300, np.inf, np.nan]]).astype(dtype)
    us = rng.uniform(-0.999, 0.999, 200).astype(dtype)
    cs = rng.uniform(1, 20, 200).astype(dtype)
    with np.errstate(all="ignore"):
        compare([x, p, u, c], outs, [xs, ps, us, cs], rtol=tols, names=names)


def test_binary_float_ops():
    rng = np.random.default_rng(1)
    x, y = st.dvectors("x", "y")
    a = np.concatenate([rng.uniform(-5, 5, 200), [0, -0.0, 3, -3, 7.5, -7.5, np.inf, -np.inf, np.nan, 1, 0]])
    b = np.concatenate([rng.uniform(-5, 5, 200), [2, 2, 0, -0.0, 2, -2, 3, 3, 1, np.nan, 0]])
    outs = [x + y, x - y, x * y, x / y, x // y, x % y, st.maximum(x, y), st.minimum(x, y), st.eq(x, y),
            st.neq(x, y), st.lt(x, y), st.le(x, y), st.gt(x, y), st.ge(x, y), st.switch(st.gt(x, 0), x, y),
            st.clip(x, -1, 2), x * 2.5 + 1]
    with np.errstate(all="ignore"):
        compare([x, y], outs, [a, b])
        # libm's pow and NumPy's may differ in the last bit, glibc's vector hypot by 1 ulp
        compare([x, y], [abs(x) ** y, x ** 3, st.hypot(x, y)], [a, np.round(b)], rtol=1e-13)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "int64"])
def test_integer_ops_wrap_and_floor_like_numpy(dtype):
    info = np.iinfo(dtype)
    x, y = (st.tensor(n, dtype=dtype, shape=(None,)) for n in "xy")
    vals = np.array([info.min, info.max, 0, 1, -1 if info.min < 0 else 2, 7, 100 % (info.max + 1), 3], dtype)
    a, b = np.meshgrid(vals, vals)
    a, b = a.ravel(), b.ravel()
    nz = b != 0
    outs = [x + y, x - y, x * y, -x, abs(x), st.sign(x), st.sqr(x), st.maximum(x, y), st.minimum(x, y),
            st.and_(x, y), st.or_(x, y), st.xor(x, y), st.invert(x), st.lt(x, y), st.eq(x, y), x + 3, x * 2]
    with np.errstate(all="ignore"):
        compare([x, y], outs, [a, b])
        compare([x, y], [x // y, x % y], [a[nz], b[nz]])
        small = np.array([0, 1, 2, 3, 5], dtype)
        compare([x, y], x ** y, [small, small[::-1].copy()])


def test_integer_division_by_zero_raises_like_the_reference():
    x, y = st.ivectors("x", "y")
    args = [np.array([1, 2], "int32"), np.array([1, 0], "int32")]
    raises_alike([x, y], x // y, args, ZeroDivisionError)
    raises_alike([x, y], (x % y) + 1, args, ZeroDivisionError)
    big = np.arange(1, 300_001, dtype="int32")       # threads, and rows (a broadcast divisor)
    raises_alike([x, y], x // y, [big, np.where(big == 250_000, 0, big).astype("int32")], ZeroDivisionError)
    m, r = st.imatrix("m"), st.tensor("r", dtype="int32", shape=(1, None))
    raises_alike([m, r], m % r, [big.reshape(600, 500), np.arange(-250, 250, dtype="int32")[None]], ZeroDivisionError)
    compare([m, r], [m // r, m % r], [big.reshape(600, 500), np.arange(1, 501, dtype="int32")[None]])
    compare([m, r], [m // r, m % r], [big.reshape(500, 600).T, np.arange(1, 501, dtype="int32")[None]])


def test_negative_integer_power_raises_value_error():
    x, y = st.lvectors("x", "y")
    raises_alike([x, y], x ** y, [np.array([2, 2]), np.array([1, -1])], ValueError)


def test_mixed_dtypes_casts_and_booleans():
    i8, i32, f32, f64 = st.bvector("i8"), st.ivector("i32"), st.fvector("f32"), st.dvector("f64")
    bl = st.tensor("bl", dtype="bool", shape=(None,))
    rng = np.random.default_rng(2)
    a8 = rng.integers(-128, 127, 50).astype("int8")
    a32 = rng.integers(-1000, 1000, 50).astype("int32")
    af32 = rng.uniform(-100, 100, 50).astype("float32")
    af64 = rng.uniform(-100, 100, 50)
    ab = rng.integers(0, 2, 50).astype(bool)
    outs = [i8 + i32, i32 + f32, f32 * f64, i8 / i32, st.cast(f64, "int32"), st.cast(f32, "int8") * 0 + 1,
            st.cast(f64, "bool"), st.cast(i32, "float32"), st.cast(bl, "float64"), bl + bl, bl * st.invert(bl),
            st.and_(bl, st.gt(f64, 0)), st.switch(bl, i8, i32), st.lt(i32, f32), st.cast(i32, "uint8"),
            st.maximum(bl, bl), i32 // 7, i32 % -7, f32 // 3, f32 % -3]
    with np.errstate(all="ignore"):
        compare([i8, i32, f32, f64, bl], outs, [a8, a32, af32, af64, ab])


def test_broadcasting_strided_and_reversed_operands():
    x = st.dmatrix("x")
    r = st.tensor("r", dtype="float64", shape=(1, None))
    c = st.tensor("c", dtype="float64", shape=(None, 1))
    s = st.dscalar("s")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(7, 9))
    outs = [x + r, x * c + s, x * x - r * c, x + x.T[:, ::-1].T, (x * 2)[::2, 1::3] + 1, st.exp(x) * r]
    compare([x, r, c, s], outs, [X, X[:1], X[:, 4:5], 3.0], rtol=[0] * 5 + [1e-12])
    # Non-contiguous and reversed inputs, as the caller passes them.
    compare([x, r, c, s], outs, [X[::-1, ::2], X[:1, ::-2], X[::-1, 4:5], np.float64(-1)], rtol=[0] * 5 + [1e-12])
    big = rng.normal(size=(600, 400))         # above the threads threshold, both paths
    compare([x, r, c, s], outs, [big, big[:1], big[:, :1], 2.0], rtol=[0] * 5 + [1e-12])
    compare([x, r, c, s], outs, [big.T, big.T[:1, ::-1], big.T[:, 3:4], 2.0], rtol=[0] * 5 + [1e-12])


def test_short_rows_in_blocks_of_whole_rows():
    """Rows of at most 64 elements go through the tiled path (render_elemwise.Loop.tiled): a
    row repeated (a bias), a value per row (a keepdims sum), full-size operands, last
    blocks of fewer rows, dimensions that collapse, and operands that rule it out."""
    rng = np.random.default_rng(8)
    x, y = st.dmatrices("x", "y")
    b = st.dvector("b")
    c = st.tensor("c", dtype="float64", shape=(None, 1))
    outs = [x + b, x * c + y, st.exp(x) * (c * c + 1) + y * y, (x - c) / b, x + b * c]
    for rows, cols in [(61, 10), (2, 64), (7, 1), (40_001, 10), (3, 65)]:
        X, Y = rng.normal(size=(rows, cols)), rng.normal(size=(rows, cols))
        B, C = rng.normal(size=cols) + 3, rng.normal(size=(rows, 1))
        compare([x, y, b, c], outs, [X, Y, B, C], rtol=[0, 0, 1e-12, 0, 0])
        compare([x, y, b, c], outs, [X, Y[::-1], B[::-1], C], rtol=[0, 0, 1e-12, 0, 0])
    t3 = st.tensor3("t3")
    m = st.dmatrix("m")
    k = st.tensor("k", dtype="float64", shape=(None, None, 1))
    col = st.tensor("col", dtype="float64", shape=(None, 1))
    T = rng.normal(size=(5, 6, 10))
    compare([t3, m, k, col], [t3 + m, t3 * k, t3 - col, t3 * k + m],
            [T, rng.normal(size=(6, 10)), rng.normal(size=(5, 6, 1)), rng.normal(size=(6, 1))])
    i, j = st.imatrix("i"), st.ivector("j")
    compare([i, j], [i * j + 1, i // (j + 100)], [rng.integers(-50, 50, size=(33, 12)).astype("int32"),
                                                   rng.integers(-50, 50, size=12).astype("int32")])


def test_runtime_broadcasting_is_refused():
    x, y = st.dmatrices("x", "y")
    raises_alike([x, y], x + y, [np.ones((3, 4)), np.ones((1, 4))], ValueError)
    raises_alike([x, y], x + y, [np.ones((3, 4)), np.ones((3, 5))], ValueError)


def test_fused_multi_output_and_in_place_loops():
    x, y = st.dvectors("x", "y")
    a = st.exp(x) * y + st.sin(x)
    b = st.tanh(a) * 2 - y
    f = compare([x, y], [a, b, (a * b).sum(), st.log1p(a ** 2)], [np.linspace(-2, 2, 1001), np.linspace(1, 3, 1001)],
                rtol=1e-12)
    assert any(n.op.name.startswith("fused") for n in sn.nodes(f))


REDUCTIONS = ["sum", "prod", "max", "min", "argmax", "argmin", "all", "any"]


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32", "bool"])
def test_reductions_over_axes(dtype):
    x = st.tensor("x", dtype=dtype, shape=(None, None, None))
    rng = np.random.default_rng(4)
    outs, tols = [], []
    for kind in REDUCTIONS:
        if dtype == "bool" and kind in ("sum", "prod"):
            axes_list = [None, 1]
        else:
            axes_list = [None, 0, 1, 2, (0, 2), (1, 2), (0, 1)]
        for axis in axes_list:
            for keep in (False, True):
                outs.append(getattr(st, kind)(x, axis=axis, keepdims=keep))
                tols.append(1e-13 if dtype == "float64" and kind in ("sum", "prod") else
                            1e-5 if dtype == "float32" and kind in ("sum", "prod") else 0)
    X = rng.uniform(-2, 2, (4, 5, 6))
    if dtype == "bool":
        X = X > 0
    data = X.astype(dtype)
    compare([x], outs, [data], rtol=tols)
    compare([x], outs, [data.transpose(2, 0, 1)[::-1]], rtol=tols)      # strided, reversed
    if dtype == "float64":
        nan = data.copy()
        nan[1, 2, 3] = np.nan
        compare([x], outs, [nan], rtol=tols)


def test_big_sums_match_numpys_pairwise_order():
    x = st.dvector("x")
    m = st.dmatrix("m")
    v = np.random.default_rng(5).normal(size=1_000_003) * 1e3
    compare([x, m], [x.sum(), m.sum(axis=1), m.sum(axis=0), m.sum(), st.mean(x)], [v, v[:-3].reshape(1000, 1000)])


def test_empty_reductions():
    x = st.dmatrix("x")
    compare([x], [x.sum(axis=0), x.prod(axis=1), x.all(), x.any(axis=0), x.max(axis=0)], [np.zeros((3, 0))])
    raises_alike([x], x.max(axis=1), [np.zeros((3, 0))], ValueError)
    raises_alike([x], st.argmin(x, axis=0), [np.zeros((0, 2))], ValueError)


def test_shape_ops():
    x = st.dmatrix("x")
    t = st.tensor3("t")
    n = st.lscalar("n")
    X = np.arange(24.0).reshape(4, 6)
    T = np.arange(60.0).reshape(3, 4, 5)
    outs = [x.T, x.reshape((3, 8)), x.reshape((-1, 2)), x.flatten(), st.shape(x), x.shape[0] * 2,
            st.expand_dims(x, 1), st.squeeze(st.expand_dims(x, 0)), t.dimshuffle(2, "x", 0, 1), t.flatten(2),
            st.concatenate([x, x * 2], axis=1), st.concatenate([x, x[:2]], axis=0), st.stack([x, x + 1], axis=1),
            st.zeros((n, 3)), st.ones_like(x), st.alloc(x[0], n, 6), st.arange(n), st.arange(1.5, n, 0.5),
            st.eye(n), st.eye(n, 3, 1, dtype="int32"), st.zeros_like(t, dtype="int8"), t.reshape((n, -1))]
    compare([x, t, n], outs, [X, T, 3])
    compare([x, t, n], outs, [X[:, ::-1], T.transpose(1, 2, 0)[::-1, ::-1].reshape(3, 4, 5), 3])


def test_shape_errors_match():
    x = st.dmatrix("x")
    n = st.lscalar("n")
    raises_alike([x, n], x.reshape((n, 5)), [np.ones((4, 6)), 3], ValueError)
    raises_alike([x, n], st.zeros((n, 2)), [np.ones((4, 6)), -1], ValueError)
    raises_alike([x], st.concatenate([x, x.T], axis=0), [np.ones((2, 3))], ValueError)


def test_basic_indexing():
    x = st.dmatrix("x")
    i, j = st.lscalars("i", "j")
    X = np.arange(30.0).reshape(5, 6)
    outs = [x[1], x[-1, 2:], x[::2, ::-1], x[i], x[i:j], x[:, j::-2], x[1:-1, i], x[i, j], x[::-2][1:]]
    compare([x, i, j], outs, [X, 2, 4])
    compare([x, i, j], outs, [X[::-1, 1:], -3, 0])
    raises_alike([x, i], x[i], [X, 5], IndexError)
    raises_alike([x, i], x[:, i], [X, -7], IndexError)


def test_advanced_indexing_and_set_inc_subtensor():
    x = st.dmatrix("x")
    idx = st.lvector("idx")
    y = st.dvector("y")
    mask = st.tensor("mask", dtype="bool", shape=(None,))
    X = np.arange(20.0).reshape(4, 5)
    I = np.array([3, 0, 3, -1])
    outs = [x[idx], x[:, idx], x[idx, idx], x[mask], st.set_subtensor(x[1], y), st.inc_subtensor(x[:, 2], 1.5),
            st.inc_subtensor(x[idx], y), st.set_subtensor(x[idx, 1], 7.0), st.inc_subtensor(x[1:3, ::2], 10),
            st.set_subtensor(x[mask], 0.0), st.inc_subtensor(x[idx, idx[::-1]], y[:4]),
            st.set_subtensor(x[idx, idx], 5.0), st.inc_subtensor(x[idx, idx], 1), x[idx[:2], idx[1:3]] * 2]
    compare([x, idx, y, mask], outs, [X, I, np.arange(5.0), np.array([True, False, True, True])])
    raises_alike([x, idx], x[idx], [X, np.array([4])], IndexError)
    raises_alike([x, idx], x[idx, idx], [X, np.array([0, -5])], IndexError)
    raises_alike([x, idx], st.inc_subtensor(x[idx, idx], 1.0), [X, np.array([4, 0])], IndexError)


def test_softmax_and_log_softmax():
    x = st.dmatrix("x")
    t = st.tensor3("t", dtype="float32")
    rng = np.random.default_rng(6)
    X = rng.normal(size=(5, 7)) * 30
    T = rng.normal(size=(3, 4, 5)).astype("float32")
    outs = [st.softmax(x), st.log_softmax(x), st.softmax(x, axis=0), st.log_softmax(x, axis=0),
            st.softmax(t, axis=1), st.log_softmax(t)]
    compare([x, t], outs, [X, T], rtol=[1e-12, 1e-12, 1e-12, 1e-12, 1e-6, 1e-6])
    compare([x, t], outs, [X.T.copy().T, T[::-1]], rtol=[1e-12, 1e-12, 1e-12, 1e-12, 1e-6, 1e-6])
    # The row maximum (it runs in four chains and a tail) at each position of a row, where
    # missing it overflows exp; NaN and infinities.
    W = np.random.default_rng(7).normal(size=(14, 11)) - 800
    W[np.arange(11), np.arange(11)] = 800
    W[11, 3], W[12, 5], W[13, 2] = np.nan, np.inf, -np.inf
    with np.errstate(invalid="ignore"):
        compare([x], outs[:2], [W], rtol=[1e-12, 1e-12])
    # log_softmax's gradient node (LogSoftmaxGrad, made by the specialize pass), any layout.
    from symnb.core.ops import LogSoftmaxGrad
    g, u = st.dmatrix("g"), st.tensor3("u", dtype="float32")
    grads = [LogSoftmaxGrad(1)(g, st.log_softmax(x)), LogSoftmaxGrad(0)(g, st.log_softmax(x, axis=0)),
             LogSoftmaxGrad(1)(u, st.log_softmax(t, axis=1))]
    G, U = rng.normal(size=(5, 7)), rng.normal(size=(3, 4, 5)).astype("float32")
    compare([x, t, g, u], grads, [X / 30, T, G, U], rtol=[1e-12, 1e-12, 1e-5])
    compare([x, t, g, u], grads, [X.T.copy().T / 30, T[::-1], G[::-1], U[:, ::-1]],
            rtol=[1e-12, 1e-12, 1e-5])


@pytest.mark.parametrize("length", [7, 8, 10, 15, 16, 17])
def test_softmax_rows_of_8_to_16_in_registers(length):
    """float64 rows of 8 to 16 (reduce.h, row8) reduce in vector registers: the maximum at
    every position, a NaN, an infinity and -inf at every position of the masked second
    vector, the sum in NumPy's order, and the gradient; 7 and 17 go the general way."""
    from symnb.core.ops import LogSoftmaxGrad
    x, g = st.dmatrix("x"), st.dmatrix("g")
    rng = np.random.default_rng(length)
    X = rng.normal(size=(2 * length + 3, length)) * 5 - 700
    X[np.arange(length), np.arange(length)] = 700           # the maximum at each position
    X[length + np.arange(length), np.arange(length)[::-1]] = -np.inf
    X[-3, length - 1], X[-2, 0], X[-1, length // 2] = np.nan, np.inf, -np.inf
    G = rng.normal(size=X.shape)
    outs = [st.softmax(x), st.log_softmax(x), LogSoftmaxGrad(1)(g, st.log_softmax(x / 1e3))]
    with np.errstate(invalid="ignore"):
        compare([x, g], outs, [X, G], rtol=1e-12)
        compare([x, g], outs, [X[:, ::-1], G[::-1]], rtol=1e-12)    # copied to rows first


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_random_streams_are_bit_identical(dtype):
    def draws(backend):
        rng = sn.RandomStream(seed=42)
        p = st.dvector("p")
        n = st.lscalar("n")
        outs = [rng.uniform(-1, 3, size=(n, 3), dtype=dtype), rng.normal(2, 0.5, size=(n,), dtype=dtype),
                rng.normal(size=(5,), dtype=dtype), rng.binomial(n=3, p=p, size=(2, 4)),
                rng.uniform(size=(n,), dtype=dtype) < p[0]]
        f = sn.function([p, n], outs, backend=backend)
        assert backend == "numpy" or not f.program.fallback_nodes
        p_val = np.linspace(0.1, 0.9, 4)
        return [f(p_val, k) for k in (3, 0, 7, 1)]

    for got, want in zip(draws("cpp"), draws("numpy")):
        for a, b in zip(got, want):
            assert_same(a, b)


@pytest.mark.parametrize("n", [1, 7, 40_001])     # odd tails; 40001 draws go to the worker pool
def test_bernoulli_layers_and_big_draws_are_bit_identical(n):
    """The Bernoulli path (one trial on a contiguous p: Philox blocks used in registers) and
    the threaded word generator give the reference backend's bits."""
    def draws(backend):
        rng = sn.RandomStream(seed=7)
        p = st.dvector("p")
        outs = [rng.binomial(n=1, p=p, size=p.shape, dtype="float64"),
                rng.binomial(n=1, p=p[::-1], size=p.shape, dtype="int64"),     # strided p: words path
                rng.uniform(-2, 5, size=p.shape)]
        f = sn.function([p], outs, backend=backend)
        p_val = np.random.default_rng(n).random(n)
        return [f(p_val) for _ in range(2)]

    for got, want in zip(draws("cpp"), draws("numpy")):
        for a, b in zip(got, want):
            assert_same(a, b)


def test_python_fallback_nodes_still_run():
    x = st.dvector("x")
    n = st.lscalar("n")
    J = sn.jacobian(st.exp(x) * x.sum(), x)        # a map_range over the rows: run in Python
    f = compare([x, n], [J, J.sum() * n], [np.linspace(0, 1, 4), 2], rtol=1e-12, python=["map_range"])
    assert {node.op.name.split("{")[0] for node in f.program.fallback_nodes} == {"map_range"}
    # Dtypes without C++ loops (complex, float16) run their elementwise nodes in Python.
    z = st.tensor("z", dtype="complex128", shape=(None,))
    h = st.tensor("h", dtype="float16", shape=(None,))
    compare([z, h], [z * 2 + 1, st.exp(h) + 1, st.cast(h, "float64").sum(), abs(z)],
            [np.array([1 + 2j, -3j]), np.array([1.0, -2.5], "float16")], python=["fused", "abs"])


def test_integer_arange_is_numpys_for_every_sign_of_step():
    a, b, s = st.scalar("a", dtype="int64"), st.scalar("b", dtype="int32"), st.scalar("s", dtype="int64")
    f = sn.function([a, b, s], st.arange(a, b, s), backend="cpp")
    for x in (-7, 0, 3, 10):
        for y in (-5, 0, 4, 11):
            for z in (-3, -1, 1, 2, 5):
                r, e = f(x, y, z), np.arange(x, y, z)
                assert r.dtype == e.dtype and np.array_equal(r, e), (x, y, z)
    with pytest.raises(ValueError), np.errstate(all="ignore"):
        f(0, 5, 0)
    big = 2 ** 62      # beyond the exact path: NumPy's own arange answers
    assert np.array_equal(f(big, 2 ** 31 - 1, -2 ** 61), np.arange(big, 2 ** 31 - 1, -2 ** 61))


def test_point_gathers_along_negative_strides():
    """x[i] and x[i, j] with index vectors (array.h, Points) over x read backwards: a point's
    byte offset from x's data pointer is then negative, and still a point."""
    x, m = st.dvector("x"), st.dmatrix("m")
    i, j = st.lvector("i"), st.lvector("j")
    X, M = np.arange(10.0)[::-1], np.arange(12.0).reshape(3, 4)[::-1, ::-2]
    I, J = np.array([1, 2, 0, -1]), np.array([0, 1, 1, 0])
    compare([x, m, i, j], [x[i], m[I[:3] % 3, j[:3]], st.inc_subtensor(x[i], 1.0)], [X, M, I, J])
