"""Graphs, shared variables and random draws survive pickle and deepcopy: same values,
same structure, and the hash-consing of nodes holds for what is loaded."""
import copy
import pickle

import numpy as np

import symnb as sn
import symnb.tensor as st
from symnb.core.graph import evaluate, graph_inputs, toposort


def _leaf(outputs, name):
    return next(v for v in graph_inputs(outputs) if v.name == name)


def test_graph_round_trip_keeps_values_structure_and_names():
    x = st.dvector("x")
    w = sn.shared(np.array([0.5, -1.0, 2.0]), name="w")
    y = st.tanh(x * w).sum()
    y.name = "y"
    outs = [y, y * 2, st.softmax(x * w)]
    for loaded in (pickle.loads(pickle.dumps(outs)), copy.deepcopy(outs)):
        assert [sn.pp(v) for v in loaded] == [sn.pp(v) for v in outs]
        assert loaded[0].name == "y" and loaded[0].owner.outputs[loaded[0].index] is loaded[0]
        assert loaded[1].owner.inputs[0] is loaded[0]             # the shared subgraph stays shared
        assert len(toposort(loaded)) == len(toposort(outs))
        x2, w2 = _leaf(loaded, "x"), _leaf(loaded, "w")
        assert x2 is not x and w2 is not w                          # a copy over its own leaves
        np.testing.assert_array_equal(w2.get_value(), w.get_value())
        got = evaluate(loaded, {x2: np.arange(3.0)})
        for g, want in zip(got, evaluate(outs, {x: np.arange(3.0)})):
            np.testing.assert_array_equal(g, want)


def test_loaded_nodes_are_hash_consed():
    x = st.dmatrix("x")
    a, b = pickle.loads(pickle.dumps(st.exp(x))), pickle.loads(pickle.dumps(st.exp(x) + 1))
    # Two pickles of one graph load as two graphs (each over its own leaves)...
    assert a.owner.inputs[0] is not b.owner.inputs[0].owner.inputs[0]
    # ...but rebuilding a loaded node finds it: the loaded node is the interned one.
    assert st.exp(a.owner.inputs[0]) is a
    node = pickle.loads(pickle.dumps(a.owner))
    assert st.exp(node.inputs[0]) is node.outputs[0]


def test_deep_graph_pickles_without_recursion():
    x = st.dvector("x")
    y = x
    for _ in range(3000):                        # far past the interpreter's recursion limit
        y = st.tanh(y)
    z = pickle.loads(pickle.dumps(y))
    assert len(toposort([z])) == 3000


def test_shared_variable_and_constant_round_trip():
    w = sn.shared(np.arange(6.0).reshape(2, 3), name="w")
    w2 = pickle.loads(pickle.dumps(w))
    assert w2.name == "w" and w2.type == w.type
    np.testing.assert_array_equal(w2.get_value(), w.get_value())
    c = st.constant(np.array([1.0, 2.0]))
    assert pickle.loads(pickle.dumps(c)) is c and copy.deepcopy(c) is c


def test_random_draws_continue_identically_after_a_round_trip():
    rng = sn.RandomStream(5)
    x = st.dvector("x")
    noisy = rng.normal(size=x.shape) + x
    f = sn.function([x], noisy, backend="numpy")
    f(np.zeros(4))
    loaded_noisy = pickle.loads(pickle.dumps(noisy))
    g = sn.function([_leaf([loaded_noisy], "x")], loaded_noisy, backend="numpy")
    np.testing.assert_array_equal(g(np.zeros(4)), f(np.zeros(4)))   # same state, same next draw

