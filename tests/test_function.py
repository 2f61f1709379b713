"""sn.function semantics every backend shares (checked here on the reference backend)."""
import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st

BACKEND = "numpy"


def fn(*args, **kw):
    return sn.function(*args, backend=BACKEND, **kw)


def test_single_output_is_an_array_and_list_is_a_list():
    x = st.dvector("x")
    assert isinstance(fn([x], x * 2)(np.ones(2)), np.ndarray)
    out = fn([x], [x * 2])(np.ones(2))
    assert isinstance(out, list) and len(out) == 1
    a, b = fn([x], [x * 2, x + 1])(np.ones(2))
    np.testing.assert_array_equal(b, [2.0, 2.0])


def test_updates_use_pre_call_values():
    a, b = sn.shared(1.0, name="a"), sn.shared(2.0, name="b")
    out = fn([], a + b, updates=[(a, b), (b, a)])()
    assert out == 3.0
    assert a.get_value() == 2.0 and b.get_value() == 1.0
    fn([], [], updates={a: a * 10, b: a + b})()
    assert a.get_value() == 20.0 and b.get_value() == 3.0


def test_python_scalars_and_lists_accepted_when_lossless():
    x, f32, i = st.dvector("x"), st.fscalar("f"), st.iscalar("i")
    np.testing.assert_array_equal(fn([x], x + 1)([1, 2]), [2.0, 3.0])
    assert fn([f32], f32 * 2)(1.5).dtype == np.float32
    assert fn([i], i + 1)(3) == 4
    with pytest.raises(TypeError, match=r"input 0 \(i\).*3.7"):
        fn([i], i + 1)(3.7)


def test_keyword_arguments_by_name():
    x, y = st.dscalars("x", "y")
    f = fn([x, y], x - y)
    assert f(y=1.0, x=3.0) == 2.0
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        f(z=1.0)


def test_givens_replace_a_variable():
    state = sn.shared(0, name="state")
    inc = st.iscalar("inc")
    foo = st.scalar(dtype=state.dtype)
    f = fn([inc, foo], state * 2 + inc, givens=[(state, foo)])
    assert f(1, 3) == 7
    assert state.get_value() == 0


def test_outputs_and_nodes_are_exposed():
    x = st.dvector("x")
    f = fn([x], st.exp(x).sum())
    assert len(f.outputs) == 1
    names = [n.op.name for n in sn.nodes(f.outputs)]
    assert names.index("exp") < names.index("sum{axis=[0]}")
    assert all(hasattr(n, "inputs") for n in sn.nodes(f))


def test_returned_arrays_never_alias_shared_storage():
    w = sn.shared(np.zeros(3), name="w")
    f = fn([], w)
    out = f()
    out[:] = 5
    np.testing.assert_array_equal(w.get_value(), np.zeros(3))
    x = st.dvector("x")
    g = fn([x], x.reshape((3,)))
    inp = np.ones(3)
    res = g(inp)
    res[0] = 9
    assert inp[0] == 1


def test_unused_and_missing_inputs():
    x, y = st.dscalars("x", "y")
    with pytest.raises(ValueError, match="input y is not used"):
        fn([x, y], x * 2)
    assert fn([x, y], x * 2, on_unused_input="ignore")(1.0, 2.0) == 2.0
    with pytest.raises(ValueError, match="need input y"):
        fn([x], x * y)


def test_update_with_a_different_type_raises():
    w = sn.shared(np.zeros(3), name="w")
    with pytest.raises(TypeError, match="shared variable 'w' has type float32"):
        fn([], [], updates=[(w, w.astype("float32"))])
    with pytest.raises(TypeError, match="not a shared variable"):
        fn([], [], updates=[(st.dvector("v"), w)])


def test_shared_value_semantics():
    arr = np.arange(3.0)
    w = sn.shared(arr, name="w")
    arr[0] = 100
    assert w.get_value()[0] == 0
    w.set_value([5, 6, 7])
    assert w.get_value().dtype == np.float64
    with pytest.raises(TypeError, match="shared variable 'w'.*ndim=1"):
        w.set_value(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="would lose information"):
        w.set_value(np.zeros(3, dtype=np.complex128))


def test_accumulator_with_shared_state():
    state = sn.shared(0, name="state")
    inc = st.iscalar("inc")
    acc = fn([inc], state, updates=[(state, state + inc)])
    assert acc(1) == 0 and acc(300) == 1
    assert state.get_value() == 301
    state.set_value(-1)
    assert acc(3) == -1 and state.get_value() == 2
