import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st
from symnb.core.graph import Constant, evaluate, replace, toposort


def test_hash_consing_merges_identical_nodes():
    x, y = st.dvectors("x", "y")
    assert (x + y) is (x + y)
    assert st.exp(x * 2).owner is st.exp(x * 2).owner
    assert (x + y) is not (y + x)
    assert Constant(np.float64(2.0)) is Constant(np.float64(2.0))
    assert Constant(np.float32(2.0)) is not Constant(np.float64(2.0))


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
