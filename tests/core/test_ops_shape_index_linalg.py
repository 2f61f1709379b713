"""Shape, indexing, linear-algebra and nnet ops against NumPy (reference backend)."""
import numpy as np
import pytest
import scipy.special as sps

import symnb as sn
import symnb.tensor as st

rng = np.random.default_rng(1)
A = rng.standard_normal((3, 4))
T3 = rng.standard_normal((2, 3, 4))
x = st.dmatrix("x")
t = st.dtensor3("t")


def run(inputs, out, *values):
    return sn.function(inputs, out, backend="numpy")(*values)


def same(got, expected):
    expected = np.asarray(expected)
    assert got.dtype == expected.dtype and got.shape == expected.shape, (got.dtype, got.shape, expected.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


SHAPE_CASES = {
    "transpose": (lambda: x.T, lambda a: a.T),
    "transpose3": (lambda: st.transpose(t, (2, 0, 1)), None),
    "dimshuffle": (lambda: t.dimshuffle(1, "x", 0, 2), lambda a: a.transpose(1, 0, 2)[:, None]),
    "reshape": (lambda: x.reshape((2, -1)), lambda a: a.reshape(2, -1)),
    "reshape_sym": (lambda: x.reshape((x.shape[1], x.shape[0])), lambda a: a.reshape(4, 3)),
    "flatten": (lambda: x.flatten(), lambda a: a.ravel()),
    "expand_dims": (lambda: st.expand_dims(x, 1), lambda a: a[:, None]),
    "squeeze": (lambda: st.squeeze(st.expand_dims(x, 0)), lambda a: a),
    "concatenate": (lambda: st.concatenate([x, x * 2], axis=1), lambda a: np.concatenate([a, a * 2], 1)),
    "stack": (lambda: st.stack([x, x + 1], axis=1), lambda a: np.stack([a, a + 1], 1)),
    "zeros_like": (lambda: st.zeros_like(x), np.zeros_like),
    "ones_like": (lambda: st.ones_like(x), np.ones_like),
    "zeros": (lambda: st.zeros(x.shape) + x, lambda a: a),
    "ones": (lambda: st.ones((2, 3), "float32"), lambda a: np.ones((2, 3), "float32")),
    "alloc": (lambda: st.alloc(st.constant(2.0), x.shape[0], 5), lambda a: np.full((3, 5), 2.0)),
    "arange": (lambda: st.arange(x.shape[1]), lambda a: np.arange(4)),
    "arange_float": (lambda: st.arange(0.0, 1.0, 0.25), lambda a: np.arange(0.0, 1.0, 0.25)),
    "eye": (lambda: st.eye(x.shape[0], x.shape[1], 1), lambda a: np.eye(3, 4, 1)),
    "shape0": (lambda: x.shape[0], lambda a: np.int64(3)),
    "size": (lambda: x.size, lambda a: np.int64(12)),
}


@pytest.mark.parametrize("name", sorted(SHAPE_CASES))
def test_shape_ops(name):
    build, ref = SHAPE_CASES[name]
    if name == "transpose3":
        same(run([t], build(), T3), T3.transpose(2, 0, 1))
    elif name == "dimshuffle":
        same(run([t], build(), T3), ref(T3))
    else:
        out = build()
        f = sn.function([x], out, backend="numpy", on_unused_input="ignore")
        same(f(A), ref(A))


I = st.iscalar("i")
INDEX_CASES = {
    "int": (lambda: x[1], lambda a: a[1]),
    "neg_int": (lambda: x[-1, 2], lambda a: a[-1, 2]),
    "slices": (lambda: x[1:, ::2], lambda a: a[1:, ::2]),
    "neg_step": (lambda: x[::-1, -2::-2], lambda a: a[::-1, -2::-2]),
    "newaxis": (lambda: x[None, 1], lambda a: a[None, 1]),
    "ellipsis": (lambda: x[..., 0], lambda a: a[..., 0]),
    "symbolic": (lambda: x[I, I:], lambda a: a[2, 2:]),
    "int_array": (lambda: x[[0, 2, 2]], lambda a: a[[0, 2, 2]]),
    "two_arrays": (lambda: x[[0, 1], [3, 2]], lambda a: a[[0, 1], [3, 2]]),
    "column_array": (lambda: x[:, [3, 0]], lambda a: a[:, [3, 0]]),
    "bool_mask": (lambda: x[x > 0], lambda a: a[a > 0]),
    "set_basic": (lambda: st.set_subtensor(x[1:, 0], 7), lambda a: _set(a, (slice(1, None), 0), 7.0)),
    "inc_basic": (lambda: st.inc_subtensor(x[:, 1], x[:, 0]), lambda a: _inc(a, (slice(None), 1), a[:, 0])),
    "set_adv": (lambda: st.set_subtensor(x[[0, 2]], 0), lambda a: _set(a, [0, 2], 0.0)),
    "inc_adv_repeat": (lambda: st.inc_subtensor(x[[0, 0, 2]], 1), lambda a: _add_at(a, [0, 0, 2], 1.0)),
}


def _set(a, key, v):
    b = a.copy()
    b[key] = v
    return b


def _inc(a, key, v):
    b = a.copy()
    b[key] += v
    return b


def _add_at(a, key, v):
    b = a.copy()
    np.add.at(b, key, v)
    return b


@pytest.mark.parametrize("name", sorted(INDEX_CASES))
def test_indexing(name):
    build, ref = INDEX_CASES[name]
    f = sn.function([x, I], build(), backend="numpy", on_unused_input="ignore")
    same(f(A, 2), ref(A))


def test_out_of_range_index_raises():
    with pytest.raises(IndexError):
        run([x], x[5], A)
    with pytest.raises(IndexError, match="out of bounds"):
        st.dmatrix("m", shape=(2, 2))[3]


LINALG = {
    "mm": (lambda a, b: st.dot(a, b), (3, 4), (4, 5), np.dot),
    "mv": (lambda a, b: st.dot(a, b), (3, 4), (4,), np.dot),
    "vm": (lambda a, b: st.dot(a, b), (3,), (3, 4), np.dot),
    "vv": (lambda a, b: st.dot(a, b), (4,), (4,), np.dot),
    "matmul_op": (lambda a, b: a @ b, (3, 4), (4, 2), np.matmul),
    "matmul_batch": (lambda a, b: st.matmul(a, b), (2, 3, 4), (2, 4, 5), np.matmul),
    "matmul_bcast": (lambda a, b: st.matmul(a, b), (2, 3, 4), (4, 5), np.matmul),
    "matmul_vec": (lambda a, b: st.matmul(a, b), (2, 3, 4), (4,), np.matmul),
    "outer": (lambda a, b: st.outer(a, b), (3,), (4,), np.outer),
    "tensordot2": (lambda a, b: st.tensordot(a, b, 2), (2, 3, 4), (3, 4, 5), lambda a, b: np.tensordot(a, b, 2)),
    "tensordot_ax": (lambda a, b: st.tensordot(a, b, [[0, 2], [1, 0]]), (2, 3, 4), (4, 2), lambda a, b:
                     np.tensordot(a, b, [[0, 2], [1, 0]])),
    "tensordot0": (lambda a, b: st.tensordot(a, b, 0), (2,), (3,), lambda a, b: np.tensordot(a, b, 0)),
    "tensordot_full": (lambda a, b: st.tensordot(a, b, 2), (2, 3), (2, 3), lambda a, b: np.tensordot(a, b, 2)),
}


@pytest.mark.parametrize("name", sorted(LINALG))
def test_linalg(name):
    build, sa, sb, ref = LINALG[name]
    a, b = st.tensor("a", "float64", (None,) * len(sa)), st.tensor("b", "float64", (None,) * len(sb))
    va, vb = rng.standard_normal(sa), rng.standard_normal(sb)
    same(run([a, b], build(a, b), va, vb), ref(va, vb))


def test_dot_mixed_dtypes_and_static_mismatch():
    a, b = st.fmatrix("a"), st.dmatrix("b")
    assert st.dot(a, b).dtype == "float64"
    with pytest.raises(ValueError, match="inner dimensions"):
        st.dot(st.dmatrix(shape=(2, 3)), st.dmatrix(shape=(4, 2)))


def test_nnet():
    z = st.dmatrix("z")
    data = rng.standard_normal((4, 5)) * 10
    sm = np.exp(data - data.max(1, keepdims=True))
    sm /= sm.sum(1, keepdims=True)
    same(run([z], st.softmax(z), data), sm)
    same(run([z], st.log_softmax(z), data), data - sps.logsumexp(data, 1, keepdims=True))
    same(run([z], st.softmax(z, axis=0), data), sps.softmax(data, axis=0))
    y = st.ivector("y")
    labels = np.array([0, 4, 2, 1], "int32")
    same(run([z, y], st.categorical_crossentropy(st.softmax(z), y), data, labels),
         -np.log(sm[np.arange(4), labels]))
    onehot = np.eye(5)[labels]
    same(run([z], st.categorical_crossentropy(st.softmax(z), onehot), data), -np.log(sm[np.arange(4), labels]))
    p, tt = st.dvector("p"), st.dvector("t")
    vp, vt = np.array([0.2, 0.9]), np.array([0.0, 1.0])
    same(run([p, tt], st.binary_crossentropy(p, tt), vp, vt), -(vt * np.log(vp) + (1 - vt) * np.log(1 - vp)))
