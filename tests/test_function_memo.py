"""sn.function's in-process memo: a structurally identical graph skips rewriting and
rendering, yet every Function keeps its own variables, storage and program state."""
import gc
import types
import weakref
import importlib

import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st
from symnb.core.graph import Constant, graph_inputs
from symnb.kernels.base import BACKENDS

memo_module = importlib.import_module("symnb.memo")     # sn.function's memo


def sgd(backend, lr=0.1, init=1.0, rewrite=True, givens_x=None, dtype="float64"):
    """A small training step, built at the same source lines on every call (so its nodes
    carry the same traces): a fresh graph over fresh variables each time."""
    x = st.tensor("x", dtype, ndim=1)
    w = sn.shared(np.full(3, init, dtype=dtype), name="w")
    cost = ((x * w).sum() - 1.0) ** 2
    g = sn.grad(cost, w)
    givens = None if givens_x is None else {x: givens_x}
    inputs = [] if givens is not None else [x]
    f = sn.function(inputs, cost, updates=[(w, w - lr * g)], givens=givens, backend=backend, rewrite=rewrite)
    return f, x, w


def memo_size():
    return len(memo_module._MEMO)


@pytest.fixture(autouse=True)
def empty_memo():
    memo_module.clear_memo()
    yield
    memo_module.clear_memo()


def test_identical_graph_hits_and_computes_the_same(backend):
    f1, x1, w1 = sgd(backend)
    assert memo_size() == 1
    f2, x2, w2 = sgd(backend)
    assert memo_size() == 1                       # found, not added
    assert f2.source == f1.source
    xv = np.array([1.0, 2.0, 3.0])
    assert f1(xv) == f2(xv)
    np.testing.assert_array_equal(w1.get_value(), w2.get_value())


def test_functions_from_one_entry_are_independent(backend):
    f1, _, w1 = sgd(backend)
    f2, _, w2 = sgd(backend)
    assert f2.program is not f1.program
    xv = np.array([0.5, 0.0, 1.0])
    for _ in range(3):
        f1(xv)
    np.testing.assert_array_equal(w2.get_value(), np.ones(3))    # f2's variable untouched
    before = w1.get_value()
    f2(xv)
    np.testing.assert_array_equal(w1.get_value(), before)        # and the other way round
    assert not np.shares_memory(w1.get_value(borrow=True), w2.get_value(borrow=True))
    # Each still matches what a memo-free compile of its own graph computes.
    memo_module.MEMO_SIZE, old = 0, memo_module.MEMO_SIZE
    try:
        ref, _, wr = sgd(backend)
    finally:
        memo_module.MEMO_SIZE = old
    for _ in range(3):
        ref(xv)
    np.testing.assert_allclose(w1.get_value(), wr.get_value())


def test_the_graph_of_a_hit_is_over_its_own_variables(backend):
    f1, x1, w1 = sgd(backend)
    f2, x2, w2 = sgd(backend)
    assert f2.inputs == [x2] and f2.shared == [w2] and f2.fgraph.inputs == [x2, w2]
    leaves = [v for v in graph_inputs(f2.fgraph.outputs) if not isinstance(v, Constant)]
    assert all(v is x2 or v is w2 for v in leaves) and any(v is w2 for v in leaves)
    assert [n.op.name for n in f2.fgraph.nodes] == [n.op.name for n in f1.fgraph.nodes]
    assert f2.updates[0][0] is w2
    # The rewrite history is computed on demand, for this function's own graph.
    assert f2.rewritten is not None and f2.rewritten.passes == f1.rewritten.passes
    assert [s["nodes"] for s in f2.rewritten.stats] == [s["nodes"] for s in f1.rewritten.stats]
    assert any(v is w2 for v in graph_inputs(f2.rewritten.outputs))


def test_messages_name_the_functions_own_inputs(backend):
    sgd(backend)
    f, _, w = sgd(backend)
    with pytest.raises(TypeError, match=r"input 0 \(x\)"):
        f(np.ones((2, 2)))
    if backend == "cpp":                           # the labels handed to the module's state
        with pytest.raises(TypeError, match=r"input 0 \(x\): got a value of the wrong"):
            f.program([np.ones((2, 2)), w.get_value()])


@pytest.mark.parametrize("change", ["lr", "rewrite", "dtype", "givens"])
def test_a_different_graph_or_option_misses(backend, change):
    sgd(backend)
    f, _, w = sgd(backend, **{"lr": {"lr": 0.5}, "rewrite": {"rewrite": False}, "dtype": {"dtype": "float32"},
                              "givens": {"givens_x": np.ones(3)}}[change])
    assert memo_size() == 2
    if change == "givens":
        f()
        expected = 1.0 - 0.1 * 2 * (3.0 - 1.0) * 1.0
    else:
        f(np.ones(3, dtype=w.dtype))
        expected = 1.0 - (0.5 if change == "lr" else 0.1) * 2 * (3.0 - 1.0) * 1.0
    np.testing.assert_allclose(w.get_value(), np.full(3, expected), rtol=1e-6)


def test_another_backend_misses():
    ok, why = BACKENDS["cpp"].available()
    if not ok:
        pytest.skip(why)
    sgd("numpy")
    f, _, _ = sgd("cpp")
    assert memo_size() == 2 and f.backend_name == "cpp" and "#include" in f.source


def test_other_compiler_flags_miss(monkeypatch):
    ok, why = BACKENDS["cpp"].available()
    if not ok:
        pytest.skip(why)
    monkeypatch.delenv("SYMNB_CXXFLAGS", raising=False)
    f, _, _ = sgd("cpp")
    monkeypatch.setenv("SYMNB_CXXFLAGS", "-DSYMNB_MEMO_PROBE=1")     # a build setting, not the graph
    g, _, _ = sgd("cpp")
    assert memo_size() == 2 and g.program.module is not f.program.module
    assert g.cache_answer != "memo"


def test_different_updates_and_outputs_miss(backend):
    x = st.dvector("x")
    w = sn.shared(np.ones(3), name="w")
    fa = sn.function([x], (x * w).sum(), updates=[(w, w + x)], backend=backend)
    fb = sn.function([x], (x * w).sum(), updates=[(w, w - x)], backend=backend)
    fc = sn.function([x], (x * w).sum(), backend=backend)
    assert memo_size() == 3
    xv = np.ones(3)
    assert fa(xv) == 3.0 and w.get_value()[0] == 2.0
    assert fb(xv) == 6.0 and w.get_value()[0] == 1.0
    assert fc(xv) == 3.0 and w.get_value()[0] == 1.0


SKIP = (*weakref.ProxyTypes, types.ModuleType, types.FunctionType, types.BuiltinFunctionType)


def _reachable(root):
    """Every object reachable from root through references the garbage collector sees."""
    seen, todo = {id(root): root}, [root]
    while todo:
        for r in gc.get_referents(todo.pop()):
            # Not into modules, functions and classes (the interpreter's globals); type(),
            # not isinstance(): a dead weakref proxy raises on __class__.
            if id(r) not in seen and type(r) not in SKIP and not isinstance(r, type):
                seen[id(r)] = r
                todo.append(r)
    return seen


def test_the_memo_holds_no_user_variable_or_value(backend):
    f, x, w = sgd(backend, init=2.0)
    sgd(backend)                                  # a hit: the entry is shared
    f(np.ones(3))
    held = _reachable(memo_module._MEMO)
    mine = [x, w, w.container, w.get_value(borrow=True), f, f.program]
    assert not any(id(o) in held for o in mine)
    assert not any(isinstance(o, np.ndarray) and np.shares_memory(o, w.get_value(borrow=True))
                   for o in held.values())


def test_big_constants_are_not_memoized(backend):
    x = st.dvector("x")
    c = np.arange(200_000, dtype=np.float64)
    f = sn.function([x], (x * c).sum(), backend=backend)
    assert memo_size() == 0
    assert f(np.ones(c.size)) == c.sum()


def test_memo_size_zero_turns_it_off(backend, monkeypatch):
    monkeypatch.setattr(memo_module, "MEMO_SIZE", 0)
    sgd(backend)
    sgd(backend)
    assert memo_size() == 0


def test_oldest_entries_go_first(backend, monkeypatch):
    monkeypatch.setattr(memo_module, "MEMO_SIZE", 2)
    for lr in (0.1, 0.2, 0.3):
        sgd(backend, lr=lr)
    assert memo_size() == 2
