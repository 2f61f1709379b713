"""Shape ops against NumPy 2: transpose .T dimshuffle reshape flatten expand_dims squeeze
concatenate stack zeros_like ones_like zeros ones alloc arange eye, x.shape and x.size.

Each case runs on inputs of unknown lengths and of fully static lengths, so the static
shapes the ops infer are checked against NumPy's too."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as hs

import symnb.tensor as st

from .opcheck import check, typed

A = np.arange(12.0).reshape(3, 4) - 5
T3 = np.random.default_rng(1).standard_normal((2, 3, 4))

# name: (symbolic form, NumPy form); both get the same one input (A unless the name says t3).
CASES = {
    "T": (lambda x: x.T, lambda a: a.T),
    "transpose": (lambda x: st.transpose(x), np.transpose),
    "transpose_axes_t3": (lambda x: st.transpose(x, (2, 0, 1)), lambda a: np.transpose(a, (2, 0, 1))),
    "transpose_neg_t3": (lambda x: x.transpose(-1, 0, -2), lambda a: a.transpose(-1, 0, -2)),
    "transpose_tuple_t3": (lambda x: x.transpose((1, 2, 0)), lambda a: a.transpose((1, 2, 0))),
    "dimshuffle_t3": (lambda x: x.dimshuffle(1, "x", 0, 2), lambda a: a.transpose(1, 0, 2)[:, None]),
    "dimshuffle_drop": (lambda x: x[None].dimshuffle(2, 1), lambda a: a.T),
    "reshape": (lambda x: x.reshape((2, -1)), lambda a: a.reshape(2, -1)),
    "reshape_args": (lambda x: x.reshape(6, 2), lambda a: a.reshape(6, 2)),
    "reshape_first_-1": (lambda x: st.reshape(x, (-1, 3, 1)), lambda a: a.reshape(-1, 3, 1)),
    "reshape_sym": (lambda x: x.reshape((x.shape[1], x.shape[0])), lambda a: a.reshape(4, 3)),
    "reshape_t3": (lambda x: x.reshape((4, -1)), lambda a: a.reshape(4, -1)),
    "reshape_to_scalar": (lambda x: x[:1, :1].reshape(()), lambda a: a[:1, :1].reshape(())),
    "flatten": (lambda x: x.flatten(), lambda a: a.ravel()),
    "flatten2_t3": (lambda x: st.flatten(x, 2), lambda a: a.reshape(2, -1)),
    "expand_dims": (lambda x: st.expand_dims(x, 1), lambda a: np.expand_dims(a, 1)),
    "expand_dims_neg": (lambda x: st.expand_dims(x, -1), lambda a: np.expand_dims(a, -1)),
    "expand_dims_tuple": (lambda x: st.expand_dims(x, (0, 3)), lambda a: np.expand_dims(a, (0, 3))),
    "squeeze": (lambda x: st.squeeze(st.expand_dims(x, (0, 2))), lambda a: a),
    "squeeze_axis": (lambda x: st.expand_dims(x, (0, 2)).squeeze(axis=-2), lambda a: a[None]),
    "concatenate": (lambda x: st.concatenate([x, x * 2], axis=1), lambda a: np.concatenate([a, a * 2], 1)),
    "concatenate_neg_t3": (lambda x: st.concatenate([x, x[..., :1]], axis=-1),
                           lambda a: np.concatenate([a, a[..., :1]], -1)),
    "concatenate_three": (lambda x: st.concatenate([x, x[:0], x[1:]]), lambda a: np.concatenate([a, a[:0], a[1:]])),
    "concatenate_dtypes": (lambda x: st.concatenate([x.astype("int32"), x.astype("float32")]),
                           lambda a: np.concatenate([a.astype("int32"), a.astype("float32")])),
    "concatenate_int8_uint8": (lambda x: st.concatenate([x.astype("int8"), x.astype("uint8")], 1),
                               lambda a: np.concatenate([a.astype("int8"), a.astype("uint8")], 1)),
    "stack": (lambda x: st.stack([x, x + 1]), lambda a: np.stack([a, a + 1])),
    "stack_axis1": (lambda x: st.stack([x, x + 1], axis=1), lambda a: np.stack([a, a + 1], 1)),
    "stack_neg_t3": (lambda x: st.stack([x, x, x], axis=-1), lambda a: np.stack([a, a, a], -1)),
    "stack_scalars": (lambda x: st.stack([x[0, 0], x[1, 1]]), lambda a: np.stack([a[0, 0], a[1, 1]])),
    "stack_int_scalars": (lambda x: st.stack([x.shape[0], x.shape[1].astype("int32")]),
                          lambda a: np.stack([np.int64(3), np.int32(4)])),
    "zeros_like": (st.zeros_like, np.zeros_like),
    "ones_like": (st.ones_like, np.ones_like),
    "zeros_like_dtype": (lambda x: st.zeros_like(x, "int8"), lambda a: np.zeros_like(a, "int8")),
    "ones_like_t3": (lambda x: st.ones_like(x, dtype="bool"), lambda a: np.ones_like(a, dtype="bool")),
    "zeros_sym": (lambda x: st.zeros(x.shape) + x, lambda a: a.copy()),
    "zeros_int": (lambda x: st.zeros(x.shape[0], "int32"), lambda a: np.zeros(3, "int32")),
    "ones_tuple": (lambda x: st.ones((2, 3), "float32"), lambda a: np.ones((2, 3), "float32")),
    "ones_empty": (lambda x: st.ones((0, x.shape[1])), lambda a: np.ones((0, 4))),
    "alloc": (lambda x: st.alloc(st.constant(2.0), x.shape[0], 5), lambda a: np.full((3, 5), 2.0)),
    "alloc_row": (lambda x: st.alloc(x[0], 2, x.shape[1]), lambda a: np.broadcast_to(a[0], (2, 4))),
    "alloc_vector_shape": (lambda x: st.alloc(st.expand_dims(x[:, 0], 1), x.shape),
                           lambda a: np.broadcast_to(a[:, :1], a.shape)),
    "full": (lambda x: st.full((2, 2), 7, "int8"), lambda a: np.full((2, 2), 7, "int8")),
    "shape": (lambda x: x.shape, lambda a: np.array(a.shape)),
    "shape0": (lambda x: x.shape[0], lambda a: np.int64(a.shape[0])),
    "shape_neg": (lambda x: x.shape[-1], lambda a: np.int64(a.shape[-1])),
    "size": (lambda x: x.size, lambda a: np.int64(a.size)),
    "size_t3": (lambda x: x[:, 1:].size, lambda a: np.int64(a[:, 1:].size)),
}


@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize("name", sorted(CASES))
def test_shape_ops(name, static):
    build, ref = CASES[name]
    data = T3 if name.endswith("t3") else A
    x = typed(data, "x", static=static)
    check([x], build(x), [data], ref(data))


@pytest.mark.parametrize("args,kw", [((5,), {}), ((2, 7), {}), ((1.0, 3), {}), ((0, 5, 2), {}), ((5, 0, -2), {}),
                                     ((0.0, 1.0, 0.25), {}), ((3, 1), {}), ((4,), {"dtype": "float32"}),
                                     ((1, 9, 3), {"dtype": "int8"}), ((0.5, 4), {"dtype": "int32"})])
def test_arange_with_constants(args, kw):
    check([], st.arange(*args, **kw), [], np.arange(*args, **kw))


@pytest.mark.parametrize("dtype,other", [("int32", 7), ("int8", 7), ("uint8", 7), ("int64", 7.5),
                                         ("float32", 7), ("float64", 7), ("uint64", 7)])
def test_arange_dtype_from_symbolic_arguments(dtype, other):
    """NumPy reads arange's arguments as Python numbers: ints give int64, floats float64."""
    n = st.tensor("n", dtype, ())
    vn = np.asarray(2, dtype)
    check([n], st.arange(n), [vn], np.arange(vn))
    check([n], st.arange(n, other), [vn], np.arange(vn, other))
    check([n], st.arange(1, other, n), [vn], np.arange(1, other, vn))


def test_arange_static_length_and_errors():
    assert st.arange(2, 11, 3).type.shape == (3,)
    assert st.arange(0.0, 1.0, 0.1).type.shape == (len(np.arange(0.0, 1.0, 0.1)),)
    assert st.arange(st.iscalar("n")).type.shape == (None,)
    with pytest.raises(ValueError, match="zero"):
        st.arange(0, 5, 0)


@pytest.mark.parametrize("n,m,k,dtype", [(3, None, 0, "float64"), (3, 4, 1, "float64"), (4, 2, -1, "int32"),
                                         (2, 2, 5, "float32"), (0, 3, 0, "bool")])
def test_eye(n, m, k, dtype):
    check([], st.eye(n, m, k, dtype=dtype), [], np.eye(n, m, k, dtype=dtype))
    sn_, sm = st.lscalar("n"), st.lscalar("m")
    check([sn_, sm], st.eye(sn_, sm, k, dtype=dtype), [np.int64(n), np.int64(n if m is None else m)],
          np.eye(n, m, k, dtype=dtype))
    with pytest.raises(TypeError):
        st.eye(3.0)


def test_static_shapes_are_inferred():
    x = st.tensor("x", shape=(3, 4))
    assert st.concatenate([x, x], axis=1).type.shape == (3, 8)
    assert st.concatenate([st.tensor(shape=(1, 3)), st.tensor(shape=(None, None))]).type.shape == (None, 3)
    assert st.stack([x, x], axis=-1).type.shape == (3, 4, 2)
    assert x.reshape((2, -1)).type.shape == (2, 6)
    assert x.reshape((x.shape[1], -1)).type.shape == (4, 3)
    assert st.zeros((2, x.shape[1])).type.shape == (2, 4)
    assert x.dimshuffle("x", 1, 0).type.shape == (1, 4, 3)
    assert st.tensor(shape=(None, 5)).reshape((-1, 5)).type.shape == (None, 5)


def test_shape_errors_at_build_time():
    x = st.tensor("x", shape=(3, 4))
    with pytest.raises(ValueError, match="differ"):
        st.concatenate([x, st.tensor(shape=(3, 5))], axis=0)
    with pytest.raises(ValueError, match="differ"):      # no broadcasting in concatenate
        st.concatenate([st.tensor(shape=(2, 1)), st.tensor(shape=(2, 3))], axis=0)
    with pytest.raises(ValueError, match="same ndim"):
        st.concatenate([x, st.dvector()])
    with pytest.raises(ValueError, match="cannot reshape"):
        x.reshape((5, -1))
    with pytest.raises(ValueError, match="only one"):
        x.reshape((-1, -1))
    with pytest.raises(ValueError, match="cannot drop"):
        x.dimshuffle(1)
    with pytest.raises(ValueError, match="out of bounds"):
        st.expand_dims(x, 3)
    with pytest.raises(ValueError, match="permutation"):
        st.transpose(x, (0,))
    with pytest.raises(ValueError, match="repeated"):
        st.transpose(x, (1, 1))
    with pytest.raises(ValueError, match="cannot drop"):
        st.squeeze(x, 0)


def test_shape_errors_at_run_time():
    from .opcheck import compiled
    x = st.dmatrix("x")
    with pytest.raises(ValueError, match="cannot reshape"):
        compiled([x], x.reshape((5, -1)), A)
    with pytest.raises(ValueError, match="cannot drop"):
        compiled([x], st.squeeze(x, 0), A)
    with pytest.raises(ValueError):
        compiled([x], st.concatenate([x, x.T]), A)


@settings(max_examples=40, deadline=None)
@given(shape=hs.lists(hs.integers(0, 4), min_size=1, max_size=4), data=hs.data())
def test_random_reshapes_and_transposes(shape, data):
    arr = np.arange(np.prod(shape, dtype=int), dtype="float64").reshape(shape)
    perm = data.draw(hs.permutations(range(arr.ndim)))
    new = list(data.draw(hs.permutations(shape)))
    if arr.size:
        new[data.draw(hs.integers(0, len(new) - 1))] = -1
    for static in (False, True):
        x = typed(arr, "x", static=static)
        check([x], x.transpose(perm).reshape(new), [arr], arr.transpose(perm).reshape(new))
