"""The graph: hash-consed nodes, interned constants, replace, shared variables, user traces."""
import inspect

import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st
from symnb.core.graph import Constant, evaluate, graph_inputs, replace, toposort


def test_hash_consing_merges_identical_nodes():
    x, y = st.dvectors("x", "y")
    assert (x + y) is (x + y)
    assert st.exp(x * 2).owner is st.exp(x * 2).owner
    assert (x + y) is not (y + x)
    assert Constant(np.float64(2.0)) is Constant(np.float64(2.0))
    assert Constant(np.float32(2.0)) is not Constant(np.float64(2.0))


def test_a_dropped_graph_is_freed_by_one_garbage_collection():
    """Hash-consing keeps no node alive: a graph the user drops goes in one collection,
    however deep (its keys once held each node's inputs until the node above was gone)."""
    import gc
    import weakref

    def built(make):
        x = st.dvector("x")
        out = make(x)
        return weakref.ref(x), weakref.ref(out.owner)

    makes = [lambda x: x.sum() - 1.0, lambda x: x.sum() * 2,
             lambda x: st.tanh(st.exp((x + 1).sum() * 2 - 3)) + x.mean()]
    deep = st.dvector("d")
    for _ in range(50):
        deep = st.exp(deep.sum() * deep)
    refs = [built(m) for m in makes]
    chain = weakref.ref(deep.owner)
    del deep
    gc.collect()
    assert [(rx() is None, rn() is None) for rx, rn in refs] == [(True, True)] * len(refs)
    assert chain() is None


def test_toposort_orders_dependencies_and_visits_once():
    x = st.dscalar("x")
    e = st.exp(x)
    out = e * e + e
    order = toposort([out])
    assert order.index(e.owner) < order.index((e * e).owner) < order.index(out.owner)
    assert len(order) == len({id(n) for n in order}) == 3


def test_replace_reinfers_types():
    x = st.dvector("x")
    y = (x * 2).sum()
    fixed = st.dvector("z", shape=(3,))
    (new,) = replace([y], {x: fixed})
    assert new.owner.inputs[0].type.shape == (3,)
    assert evaluate([new], {fixed: np.ones(3)})[0] == 6.0


def test_trace_points_at_the_user_line():
    x = st.dvector("x")
    y = st.tanh(x)  # the line recorded
    assert y.owner.trace.filename.endswith("test_graph.py")
    assert "y = st.tanh(x)" in y.owner.trace.line()


def test_deep_graphs_do_not_hit_recursion_limits():
    x = st.dscalar("x")
    y = x
    for _ in range(5000):
        y = y * 1.0001 + 0.0
    assert len(toposort([y])) == 10000
    assert np.isclose(evaluate([y], {x: 1.0})[0], 1.0001 ** 5000)


def test_constants_are_interned_by_value_dtype_and_weakness():
    assert Constant(np.arange(3.0)) is Constant(np.arange(3.0))
    assert Constant(np.arange(3.0)) is not Constant(np.arange(3))
    assert Constant(2.0, weak=True) is not Constant(2.0)
    assert not Constant(np.ones(2)).data.flags.writeable
    x = st.dvector("x")
    assert (x + np.ones(2)).owner is (x + np.ones(2)).owner


def test_graph_inputs_lists_free_variables_once():
    x, y = st.dvectors("x", "y")
    w = sn.shared(np.zeros(2), name="w")
    out = (x * y + w * x).sum()
    found = graph_inputs([out])
    assert [v for v in found if v is x or v is y or v is w] == [v for v in found if not isinstance(v, Constant)]
    assert {id(v) for v in found if not isinstance(v, Constant)} == {id(x), id(y), id(w)}
    assert len(found) == len({id(v) for v in found})


def test_replace_substitutes_inner_nodes_and_rejects_bad_types():
    x = st.dvector("x")
    e = st.exp(x)
    z = st.dvector("z")
    (new,) = replace([(e + 1) * 2], {e: z})
    assert evaluate([new], {z: np.array([1.0, 2.0])})[0].tolist() == [4.0, 6.0]
    with pytest.raises(ValueError, match="inner dimensions"):
        replace([st.dot(st.dmatrix("m", shape=(2, 3)), x)], {x: st.dvector("k", shape=(4,))})


def test_evaluate_names_a_missing_input():
    x = st.dvector("x")
    with pytest.raises(ValueError, match="no value given for input x"):
        evaluate([x * 2], {})


def test_shared_value_copy_and_borrow_semantics():
    arr = np.arange(3.0)
    w = sn.shared(arr, name="w")
    arr[0] = 100
    assert w.get_value()[0] == 0                     # the constructor copies
    w.get_value()[1] = 50
    assert w.get_value()[1] == 1                     # get_value copies
    assert w.get_value(borrow=True) is w.get_value(borrow=True)
    mine = np.ones(3)
    w.set_value(mine)
    mine[0] = 7
    assert w.get_value()[0] == 1                     # set_value copies
    w.set_value(mine, borrow=True)
    mine[0] = 8
    assert w.get_value()[0] == 8                     # borrow=True shares the caller's buffer
    frozen = np.zeros(3)
    frozen.setflags(write=False)
    w.set_value(frozen, borrow=True)
    assert w.get_value(borrow=True).flags.writeable  # updates may write in place: no read-only storage
    w.set_value([5, 6, 7])
    assert w.get_value().dtype == np.float64


def test_shared_type_checks_name_the_variable():
    w = sn.shared(np.zeros(3, dtype=np.float32), name="w")
    with pytest.raises(TypeError, match=r"shared variable 'w': expected float32\[\?\] \(ndim=1\).*ndim=2"):
        w.set_value(np.zeros((2, 2), dtype=np.float32))
    with pytest.raises(TypeError, match="shared variable 'w'.*casting float64 to float32 would lose information"):
        w.set_value(np.zeros(3))
    s = sn.shared(np.zeros(3), name="s", shape=(3,))
    with pytest.raises(ValueError, match=r"shared variable 's': expected shape \(3,\), got \(4,\)"):
        s.set_value(np.zeros(4))
    with pytest.raises(TypeError, match="shared: 'label' must hold numbers"):
        sn.shared("abc", name="label")


def test_build_errors_show_the_user_line():
    m = st.dmatrix("m", shape=(2, 3))
    with pytest.raises(ValueError) as err:
        m + st.dmatrix("n", shape=(3, 3))   # the line recorded
    line = inspect.currentframe().f_lineno - 1
    assert f"test_graph.py, line {line}" in str(err.value)
    assert "m + st.dmatrix" in str(err.value)
