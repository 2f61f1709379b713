"""Linear algebra and nnet ops against NumPy/SciPy: dot matmul @ outer tensordot (vectors,
matrices, 3-d and 4-d, batch broadcasting), softmax log_softmax and the cross-entropies."""
import numpy as np
import pytest
import scipy.special as sps

import symnb as sn
import symnb.tensor as st

from .opcheck import check, compiled, typed

rng = np.random.default_rng(7)

# name: (symbolic form, shape of a, shape of b, NumPy form)
PRODUCTS = {
    "dot_mm": (st.dot, (3, 4), (4, 5), np.dot),
    "dot_mv": (st.dot, (3, 4), (4,), np.dot),
    "dot_vm": (st.dot, (3,), (3, 4), np.dot),
    "dot_vv": (st.dot, (4,), (4,), np.dot),
    "dot_scalar": (st.dot, (), (3, 4), np.dot),
    "dot_3d_m": (st.dot, (2, 3, 4), (4, 5), np.dot),
    "dot_3d_3d": (st.dot, (2, 3, 4), (2, 4, 5), np.dot),
    "dot_empty": (st.dot, (3, 0), (0, 2), np.dot),
    "method_dot": (lambda a, b: a.dot(b), (3, 4), (4, 2), np.dot),
    "matmul_op": (lambda a, b: a @ b, (3, 4), (4, 2), np.matmul),
    "matmul_rop": (lambda a, b: np.ones((2, 3)) @ a, (3, 4), (1,), lambda a, b: np.ones((2, 3)) @ a),
    "matmul_batch": (st.matmul, (2, 3, 4), (2, 4, 5), np.matmul),
    "matmul_3d_2d": (st.matmul, (2, 3, 4), (4, 5), np.matmul),
    "matmul_2d_3d": (st.matmul, (3, 4), (2, 4, 5), np.matmul),
    "matmul_3d_v": (st.matmul, (2, 3, 4), (4,), np.matmul),
    "matmul_v_3d": (st.matmul, (3,), (2, 3, 4), np.matmul),
    "matmul_static_1_batch": (st.matmul, (1, 3, 4), (5, 4, 2), np.matmul),
    "matmul_4d_bcast": (st.matmul, (2, 1, 3, 4), (5, 4, 2), np.matmul),
    "matmul_4d_both": (st.matmul, (2, 1, 3, 4), (1, 6, 4, 2), np.matmul),
    "matmul_empty_batch": (st.matmul, (0, 3, 4), (0, 4, 2), np.matmul),
    "outer": (st.outer, (3,), (4,), np.outer),
    "outer_flattens": (st.outer, (2, 2), (3,), np.outer),
    "tensordot_2": (lambda a, b: st.tensordot(a, b, 2), (2, 3, 4), (3, 4, 5), lambda a, b: np.tensordot(a, b, 2)),
    "tensordot_1": (lambda a, b: st.tensordot(a, b, 1), (2, 3), (3, 4), lambda a, b: np.tensordot(a, b, 1)),
    "tensordot_0": (lambda a, b: st.tensordot(a, b, 0), (2,), (3, 2), lambda a, b: np.tensordot(a, b, 0)),
    "tensordot_full": (lambda a, b: st.tensordot(a, b, 2), (2, 3), (2, 3), lambda a, b: np.tensordot(a, b, 2)),
    "tensordot_full_3d": (lambda a, b: st.tensordot(a, b, [[0, 1, 2], [2, 0, 1]]), (2, 3, 4), (3, 4, 2),
                          lambda a, b: np.tensordot(a, b, [[0, 1, 2], [2, 0, 1]])),
    "tensordot_lists": (lambda a, b: st.tensordot(a, b, [[0, 2], [1, 0]]), (2, 3, 4), (4, 2),
                        lambda a, b: np.tensordot(a, b, [[0, 2], [1, 0]])),
    "tensordot_neg": (lambda a, b: st.tensordot(a, b, [-1, 0]), (2, 3, 4), (4, 5),
                      lambda a, b: np.tensordot(a, b, [-1, 0])),
    "tensordot_empty": (lambda a, b: st.tensordot(a, b, [[0], [0]]), (0, 3), (0, 2),
                        lambda a, b: np.tensordot(a, b, [[0], [0]])),
}


@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize("name", sorted(PRODUCTS))
def test_products(name, static):
    build, sa, sb, ref = PRODUCTS[name]
    va, vb = rng.standard_normal(sa), rng.standard_normal(sb)
    a, b = typed(va, "a", static=static), typed(vb, "b", static=static)
    check([a, b], build(a, b), [va, vb], ref(va, vb), rtol=1e-11)


@pytest.mark.parametrize("da,db", [("float32", "float64"), ("float32", "float32"), ("int32", "int32"),
                                   ("int8", "float32"), ("int64", "float64"), ("bool", "int8")])
@pytest.mark.parametrize("fn", ["dot", "matmul", "outer", "tensordot"])
def test_product_dtypes(fn, da, db):
    va, vb = np.arange(12).reshape(3, 4).astype(da), (np.arange(8).reshape(4, 2) % 3).astype(db)
    a, b = typed(va, "a"), typed(vb, "b")
    np_fn = {"dot": np.dot, "matmul": np.matmul, "outer": np.outer, "tensordot": lambda p, q: np.tensordot(p, q, 1)}
    sym = {"dot": st.dot, "matmul": st.matmul, "outer": st.outer, "tensordot": lambda p, q: st.tensordot(p, q, 1)}
    check([a, b], sym[fn](a, b), [va, vb], np_fn[fn](va, vb), rtol=1e-6)


def test_product_static_shapes_and_errors():
    m34, m45 = st.tensor("a", shape=(3, 4)), st.tensor("b", shape=(4, 5))
    assert st.dot(m34, m45).type.shape == (3, 5)
    assert st.matmul(st.tensor(shape=(2, 3, 4)), m45).type.shape == (2, 3, 5)
    assert st.matmul(st.tensor(shape=(1, 3, 4)), st.tensor(shape=(6, 4, 5))).type.shape == (6, 3, 5)
    assert st.tensordot(st.tensor(shape=(2, None, 4)), st.tensor(shape=(3, 4, 5)), 2).type.shape == (2, 5)
    assert st.tensordot(m34, m34, 2).type.shape == ()
    assert st.outer(st.tensor(shape=(3,)), st.tensor(shape=(2, 2))).type.shape == (3, 4)
    with pytest.raises(ValueError, match="inner dimensions"):
        st.dot(m34, m34)
    with pytest.raises(ValueError, match="broadcast"):
        st.matmul(st.tensor(shape=(2, 3, 4)), st.tensor(shape=(3, 4, 5)))
    with pytest.raises(ValueError, match="scalars"):
        st.matmul(st.dscalar(), m34)
    with pytest.raises(ValueError, match="same length"):
        st.tensordot(m34, m45, [[1], [0, 1]])
    with pytest.raises(ValueError, match="cannot sum over 3"):
        st.tensordot(m34, m45, 3)
    a, b = st.dtensor3("a"), st.dtensor3("b")
    with pytest.raises(ValueError, match="runtime broadcasting"):
        compiled([a, b], st.matmul(a, b), np.ones((1, 2, 3)), np.ones((4, 3, 2)))
    with pytest.raises(ValueError):
        compiled([a, b], st.dot(a[0], b[0]), np.ones((1, 2, 3)), np.ones((1, 2, 3)))


Z = rng.standard_normal((4, 5)) * 10


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("axis", [-1, 0, 1, None])
def test_softmax_and_log_softmax(axis, dtype):
    data = Z.astype(dtype)
    z = typed(data, "z")
    check([z], st.softmax(z, axis=axis), [data], sps.softmax(data, axis=axis), rtol=1e-5 if dtype == "float32" else 1e-12)
    check([z], st.log_softmax(z, axis=axis), [data], sps.log_softmax(data, axis=axis),
          rtol=1e-5 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape,axis", [((4, 5), 1), ((4, 5), 0), ((2, 3, 4), 1), ((6,), 0)])
def test_log_softmax_grad(shape, axis, dtype):
    from symnb.core.ops import LogSoftmaxGrad
    g, z = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    lsm = sps.log_softmax(z, axis=axis).astype(dtype)
    tg, tl = typed(g, "g"), typed(lsm, "l")
    check([tg, tl], LogSoftmaxGrad(axis)(tg, tl), [g, lsm], g - np.exp(lsm) * g.sum(axis=axis, keepdims=True),
          rtol=1e-5 if dtype == "float32" else 1e-12)
    with pytest.raises(TypeError, match="log_softmax_grad"):
        LogSoftmaxGrad(axis)(tg, st.tensor("i", "int32", tg.type.shape))


def test_softmax_extremes_and_shapes():
    z = st.dmatrix("z")
    data = np.array([[1000.0, 0.0, -1000.0], [-np.inf, 0.0, 1.0]])
    check([z], st.softmax(z), [data], sps.softmax(data, axis=-1))
    check([z], st.log_softmax(z), [data], sps.log_softmax(data, axis=-1))
    t = st.dtensor3("t")
    d3 = rng.standard_normal((2, 3, 4))
    check([t], st.softmax(t, axis=1), [d3], sps.softmax(d3, axis=1))
    v = st.dvector("v")
    check([v], st.softmax(v), [d3[0, 0]], sps.softmax(d3[0, 0]))
    check([z], st.softmax(z), [np.zeros((0, 3))], np.zeros((0, 3)))
    with pytest.raises(TypeError, match="float"):
        st.softmax(st.ivector())
    with pytest.raises(ValueError, match="out of bounds"):
        st.softmax(z, axis=2)


P = sps.softmax(Z, axis=1)
LABELS = np.array([0, 4, 2, 1], "int32")


def picked(p, labels):
    return -np.log(np.take_along_axis(p, labels[..., None], axis=-1)[..., 0])


@pytest.mark.parametrize("via_softmax", [False, True])
@pytest.mark.parametrize("targets", ["int32", "int64", "uint8", "onehot", "soft"])
def test_categorical_crossentropy(targets, via_softmax):
    z, p = st.dmatrix("z"), st.dmatrix("p")
    coding, inputs, values = (st.softmax(z), [z], [Z]) if via_softmax else (p, [p], [P])
    if targets == "onehot":
        t = np.eye(5)[LABELS]
        expected = picked(P, LABELS)
    elif targets == "soft":
        t = sps.softmax(rng.standard_normal((4, 5)), axis=1)
        expected = -(t * np.log(P)).sum(axis=1)
    else:
        t = LABELS.astype(targets)
        expected = picked(P, LABELS)
    y = typed(t, "y")
    check(inputs + [y], st.categorical_crossentropy(coding, y), values + [t], expected, rtol=1e-10)


def test_categorical_crossentropy_other_ranks():
    p3 = sps.softmax(rng.standard_normal((2, 3, 5)), axis=-1)
    t2 = rng.integers(0, 5, (2, 3))
    p, y = st.dtensor3("p"), st.lmatrix("y")
    check([p, y], st.categorical_crossentropy(p, y), [p3, t2], picked(p3, t2))
    q, c = st.dvector("q"), st.iscalar("c")
    check([q, c], st.categorical_crossentropy(q, c), [P[1], np.int32(4)], -np.log(P[1, 4]))
    with pytest.raises(TypeError, match="class indices"):
        st.categorical_crossentropy(p, st.dvector())


def test_categorical_crossentropy_of_softmax_is_finite():
    """Built on log_softmax: a probability that underflows to 0 still gives a finite loss."""
    z, y = st.dmatrix("z"), st.ivector("y")
    data = np.array([[0.0, 800.0], [0.0, 0.0]])
    loss = compiled([z, y], st.categorical_crossentropy(st.softmax(z), y), data, np.array([0, 1], "int32"))
    np.testing.assert_allclose(loss, [800.0, np.log(2)])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_binary_crossentropy(dtype):
    p, t, x = st.tensor("p", dtype, (None,)), st.tensor("t", dtype, (None,)), st.tensor("x", dtype, (None,))
    vp, vt = np.array([0.2, 0.9, 0.5, 0.01], dtype), np.array([0.0, 1.0, 0.3, 1.0], dtype)
    with np.errstate(all="ignore"):
        expected = -(vt * np.log(vp) + (1 - vt) * np.log(1 - vp))
    tol = 1e-5 if dtype == "float32" else 1e-12
    check([p, t], st.binary_crossentropy(p, t), [vp, vt], expected, rtol=tol)
    vx = np.array([-3.0, 0.0, 2.0, 40.0], dtype)     # sigmoid(40) rounds to 1: the naive form is nan
    check([x, t], st.binary_crossentropy(st.sigmoid(x), t), [vx, vt], np.logaddexp(0, vx) - vt * vx, rtol=tol)


def test_binary_crossentropy_of_sigmoid_is_finite():
    x, t = st.dvector("x"), st.dvector("t")
    loss = compiled([x, t], st.binary_crossentropy(st.sigmoid(x), t), np.array([-800.0, 800.0]), np.array([1.0, 0.0]))
    np.testing.assert_allclose(loss, [800.0, 800.0])


def test_relu():
    z = st.dmatrix("z")
    check([z], st.relu(z), [Z], np.maximum(Z, 0))
    check([z], st.relu(z, alpha=0.1), [Z], np.where(Z > 0, Z, 0.1 * Z))
    assert sn.grad(st.relu(z).sum(), z) is not None


def test_xlogx_module_as_in_theano():
    import symnb.tensor as st
    from symnb.tensor.xlogx import xlogx, xlogy0
    x, y = st.dvector("x"), st.dvector("y")
    f = sn.function([x, y], [st.xlogx.xlogx(x), xlogx(x), xlogy0(x, y)], backend="numpy")
    a, b, c = f(np.array([0.0, 0.5, 2.0]), np.array([0.0, 3.0, 4.0]))
    np.testing.assert_allclose(a, [0.0, 0.5 * np.log(0.5), 2 * np.log(2.0)])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(c, [0.0, 0.5 * np.log(3.0), 2 * np.log(4.0)])
