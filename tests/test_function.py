"""sn.function semantics every backend shares (each test runs on every available backend)."""
import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st


@pytest.fixture
def fn(backend):
    def make(*args, **kw):
        return sn.function(*args, backend=backend, **kw)
    return make


def test_single_output_is_an_array_and_list_is_a_list(fn):
    x = st.dvector("x")
    assert isinstance(fn([x], x * 2)(np.ones(2)), np.ndarray)
    out = fn([x], [x * 2])(np.ones(2))
    assert isinstance(out, list) and len(out) == 1
    a, b = fn([x], [x * 2, x + 1])(np.ones(2))
    np.testing.assert_array_equal(a, [2.0, 2.0])
    np.testing.assert_array_equal(b, [2.0, 2.0])


def test_outputs_see_pre_call_values_and_updates_apply_after(fn):
    w = sn.shared(np.zeros(2), name="w")
    f = fn([], [w, w * 10], updates=[(w, w + 1)])
    old, scaled = f()
    np.testing.assert_array_equal(old, [0.0, 0.0])
    np.testing.assert_array_equal(scaled, [0.0, 0.0])
    np.testing.assert_array_equal(f()[0], [1.0, 1.0])
    np.testing.assert_array_equal(w.get_value(), [2.0, 2.0])


def test_updates_use_pre_call_values(fn):
    a, b = sn.shared(1.0, name="a"), sn.shared(2.0, name="b")
    out = fn([], a + b, updates=[(a, b), (b, a)])()
    assert out == 3.0
    assert a.get_value() == 2.0 and b.get_value() == 1.0
    fn([], [], updates={a: a * 10, b: a + b})()
    assert a.get_value() == 20.0 and b.get_value() == 3.0


def test_python_scalars_and_lists_accepted_when_lossless(fn):
    x, f32, i = st.dvector("x"), st.fscalar("f"), st.iscalar("i")
    np.testing.assert_array_equal(fn([x], x + 1)([1, 2]), [2.0, 3.0])
    assert fn([f32], f32 * 2)(1.5).dtype == np.float32
    assert fn([i], i + 1)(3) == 4
    with pytest.raises(TypeError, match=r"input 0 \(i\).*3.7"):
        fn([i], i + 1)(3.7)
    v32 = st.fvector("v")
    with pytest.raises(TypeError, match=r"input 0 \(v\).*float64 to float32 would lose information"):
        fn([v32], v32 * 2)(np.array([1.0, 2.0]))


def test_numpy_scalars_as_inputs(fn):
    """NumPy scalars of the input's dtype go straight in (the C++ module takes them without
    the conversion round trip); others follow the usual conversion rules."""
    x, i, f32 = st.dscalar("x"), st.iscalar("i"), st.fscalar("f")
    f = fn([x, i, f32], [x * 2, i + 1, f32 / 2])
    for args in [(np.float64(1.5), np.int32(3), np.float32(0.5)), (1.5, 3, 0.5),
                 (np.float32(1.5), np.int64(3), np.float32(0.5)), (np.array(1.5), np.int8(3), np.float16(0.5))]:
        got = f(*args)
        assert [g.dtype for g in got] == [np.float64, np.int32, np.float32]
        assert [float(g) for g in got] == [3.0, 4.0, 0.25]
    assert np.isnan(f(np.float64(np.nan), np.int32(0), np.float32(1))[0])
    with pytest.raises(TypeError, match=r"input 1 \(i\)"):
        f(np.float64(1), np.int64(2 ** 40), np.float32(1))
    with pytest.raises(TypeError, match=r"input 2 \(f\)"):
        f(np.float64(1), np.int32(2), np.float64(0.1))


def test_keyword_arguments_by_name(fn):
    x, y = st.dscalars("x", "y")
    f = fn([x, y], x - y)
    assert f(y=1.0, x=3.0) == 2.0
    assert f(3.0, y=1.0) == 2.0
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        f(z=1.0)
    with pytest.raises(TypeError, match=r"missing a value for input 1 \(y\)"):
        f(x=1.0)
    with pytest.raises(TypeError, match="multiple values for input 'x'"):
        f(1.0, x=2.0, y=3.0)
    with pytest.raises(TypeError, match=r"expects 2 inputs \(x, y\), got 3"):
        f(1.0, 2.0, 3.0)


def test_givens_replace_a_variable(fn):
    state = sn.shared(0, name="state")
    inc = st.iscalar("inc")
    foo = st.scalar(dtype=state.dtype)
    f = fn([inc, foo], state * 2 + inc, givens=[(state, foo)])
    assert f(1, 3) == 7
    assert state.get_value() == 0
    # A literal takes the replaced variable's dtype; a symbolic value of another dtype is refused.
    x, y = st.dscalars("x", "y")
    assert fn([x], x * y, givens={y: 4})(2.0) == 8.0
    with pytest.raises(TypeError, match=r"givens: the replacement of 'y' has type float32 scalar.*float64"):
        fn([x], x * y, givens={y: st.fscalar("h")})


def test_outputs_and_nodes_are_exposed(fn):
    x = st.dvector("x")
    f = fn([x], st.exp(x).sum())
    assert len(f.outputs) == 1
    names = [n.op.name for n in sn.nodes(f.outputs)]
    assert any("exp" in name for name in names) and any("sum" in name for name in names)
    order = sn.nodes(st.exp(x).sum())
    assert [n.op.name for n in order] == ["exp", "sum{axis=[0]}"]
    assert order[1].inputs[0] is order[0].outputs[0]
    assert all(hasattr(n, "inputs") for n in sn.nodes(f))


def test_rewritten_outputs_are_what_runs(fn):
    x = st.dvector("x")
    f = fn([x], st.log(st.exp(x)), rewrite=False)
    assert f.outputs[0].owner.op.name == "log"
    g = fn([x], st.log(st.exp(x)))
    assert "exp" not in [n.op.name for n in sn.nodes(g.outputs)]
    np.testing.assert_allclose(g([1.0, 800.0]), [1.0, 800.0])


def test_returned_arrays_never_alias_shared_storage_or_inputs(fn):
    w = sn.shared(np.zeros(3), name="w")
    out = fn([], w)()
    out[:] = 5
    np.testing.assert_array_equal(w.get_value(), np.zeros(3))
    x = st.dvector("x")
    inp = np.ones(3)
    res = fn([x], x.reshape((3,)))(inp)
    res[0] = 9
    assert inp[0] == 1
    # The same variable as an output and as an update value: the caller gets its own copy.
    step = fn([], w * 2 + 1, updates=[(w, w * 2 + 1)])
    returned = step()
    returned[:] = 99
    np.testing.assert_array_equal(w.get_value(), np.ones(3))
    first, second = fn([x], [x * 2, x * 2])(inp)
    first[0] = 7
    assert second[0] == 2


def test_shared_storage_never_aliases_inputs_or_other_variables(fn):
    a, b = sn.shared(np.ones(2), name="a"), sn.shared(np.zeros(2), name="b")
    fn([], [], updates=[(a, b)])()
    fn([], [], updates=[(b, b * 2 + 1)])()
    np.testing.assert_array_equal(a.get_value(), [0.0, 0.0])
    x = st.dvector("x")
    inp = np.full(2, 3.0)
    fn([x], [], updates=[(a, x)])(inp)
    inp[:] = -1
    np.testing.assert_array_equal(a.get_value(), [3.0, 3.0])
    fn([], [], updates=[(a, np.array([4.0, 5.0]))])()
    assert a.get_value(borrow=True).flags.writeable


def test_unused_and_missing_inputs(fn):
    x, y = st.dscalars("x", "y")
    with pytest.raises(ValueError, match="input y is not used"):
        fn([x, y], x * 2)
    assert fn([x, y], x * 2, on_unused_input="ignore")(1.0, 2.0) == 2.0
    with pytest.warns(UserWarning, match="input y is not used"):
        fn([x, y], x * 2, on_unused_input="warn")
    with pytest.raises(ValueError, match="on_unused_input must be"):
        fn([x], x * 2, on_unused_input="silent")
    with pytest.raises(ValueError, match="need input y"):
        fn([x], x * y)
    with pytest.raises(TypeError, match="must be a symbolic input variable"):
        fn([x * 2], x)


def test_update_with_a_different_type_raises(fn):
    w = sn.shared(np.zeros(3), name="w")
    with pytest.raises(TypeError, match="shared variable 'w' has type float32"):
        fn([], [], updates=[(w, w.astype("float32"))])
    with pytest.raises(TypeError, match="not a shared variable"):
        fn([], [], updates=[(st.dvector("v"), w)])
    with pytest.raises(ValueError, match="updated twice"):
        fn([], [], updates=[(w, w + 1), (w, w + 2)])
    count = sn.shared(0, name="count")
    with pytest.raises(TypeError, match=r"update of shared variable 'count'.*1.5 does not fit in int64"):
        fn([], [], updates=[(count, 1.5)])


def test_update_breaking_a_static_shape_raises_and_changes_nothing(fn):
    w = sn.shared(np.zeros(3), name="w", shape=(3,))
    other = sn.shared(0.0, name="other")
    x = st.dvector("x")
    f = fn([x], [], updates=[(other, other + 1), (w, x)])
    with pytest.raises(ValueError, match=r"update of shared variable 'w': expected shape \(3,\), got \(5,\)"):
        f(np.ones(5))
    assert other.get_value() == 0.0 and w.get_value().shape == (3,)


def test_accumulator_with_shared_state(fn):
    state = sn.shared(0, name="state")
    inc = st.iscalar("inc")
    acc = fn([inc], state, updates=[(state, state + inc)])
    assert acc(1) == 0 and acc(300) == 1
    assert state.get_value() == 301
    state.set_value(-1)
    assert acc(3) == -1 and state.get_value() == 2


def test_unknown_backend():
    x = st.dscalar("x")
    with pytest.raises(ValueError, match=r"unknown backend 'fortran'; available: .*'numpy'"):
        sn.function([x], x, backend="fortran")


@pytest.mark.parametrize("backend", ["numpy", "cpp"])
def test_givens_reach_random_draws_and_their_state_updates(backend):
    # The denoising autoencoder's corruption: a draw sized by an input that givens replace
    # with a minibatch of a shared data set (its state advances by the minibatch's size).
    data = sn.shared(np.arange(24.0).reshape(6, 4) + 1, name="data")
    x, i = st.dmatrix("x"), st.lscalar("i")
    rng = sn.RandomStream(seed=4)
    corrupted = rng.binomial(size=x.shape, n=1, p=0.5, dtype="float64") * x
    f = sn.function([i], corrupted, givens={x: data[i * 2:(i + 1) * 2]}, backend=backend)
    first, second = f(1), f(1)
    assert first.shape == (2, 4) and set(np.unique(first / data.get_value()[2:4])) <= {0.0, 1.0}
    assert not np.array_equal(first, second)           # the stream moved on
    rng2 = sn.RandomStream(seed=4)
    ref = sn.function([x], rng2.binomial(size=x.shape, n=1, p=0.5, dtype="float64") * x, backend="numpy")
    np.testing.assert_array_equal(first, ref(data.get_value()[2:4]))


def test_python_fallback_inside_a_compiled_function_is_visible(monkeypatch):
    import sys
    monkeypatch.setattr(sys.modules["symnb.function"], "_warned_fallbacks", set())
    x = st.dvector("x")
    jac = sn.jacobian(st.tanh(x) * x.sum(), x)           # map_range has no C++ code
    with pytest.warns(sn.PythonFallbackWarning, match="map_range.*no cpp code"):
        f = sn.function([x], jac, backend="cpp")
    listed = sn.nodes(f)
    assert [n.op.name for n in listed.in_python] == ["map_range{1 outputs}"]
    assert "map_range{1 outputs}, 2 inputs)   <- runs in Python" in repr(listed)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", sn.PythonFallbackWarning)
        sn.function([x], jac * 2, backend="cpp")          # once per op: no second warning
    assert sn.nodes(sn.function([x], st.exp(x), backend="cpp")).in_python == []
    np.testing.assert_allclose(f(np.ones(3)), sn.function([x], jac, backend="numpy")(np.ones(3)))


def test_python_fallback_nodes_are_the_functions_own_through_the_memo():
    """A graph the in-process memo shares (no map_range): the nodes listed as running in
    Python are this function's, marked in its listing, for the first function and a second
    one built from other variables of the same structure."""
    import warnings
    for name in ("z", "w"):
        z = st.tensor(name, dtype="complex128", shape=(None,))      # no C++ loops for complex
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sn.PythonFallbackWarning)
            f = sn.function([z], z * 2 + 1, backend="cpp")
        listed = sn.nodes(f)
        assert listed.in_python and all(any(n is m for m in f.fgraph.nodes) for n in listed.in_python)
        assert "<- runs in Python" in repr(listed)
        np.testing.assert_allclose(f(np.array([1 + 2j])), [3 + 4j])
