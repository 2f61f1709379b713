"""The 784-500-10 MLP training graph after the default pipeline: no duplicated work, and
the weight updates are single gemm calls."""
import time

import numpy as np

import symnb as sn
import symnb.tensor as st
from symnb.core.graph import Constant


def mlp_training_graph():
    rng = np.random.default_rng(0)
    X, y = st.dmatrix("X"), st.ivector("y")
    W1 = sn.shared(rng.standard_normal((784, 500)) * 0.01, name="W1")
    b1 = sn.shared(np.zeros(500), name="b1")
    W2 = sn.shared(rng.standard_normal((500, 10)) * 0.01, name="W2")
    b2 = sn.shared(np.zeros(10), name="b2")
    hidden = st.tanh(st.dot(X, W1) + b1)
    p_y = st.softmax(st.dot(hidden, W2) + b2)
    cost = st.categorical_crossentropy(p_y, y).mean()
    params = [W1, b1, W2, b2]
    grads = sn.grad(cost, params)
    updates = [(p, p - 0.01 * g) for p, g in zip(params, grads)]
    return [X, y], cost, grads, updates


def structural_keys(outputs):
    """Hash of each node by op and the structure of its inputs (not object identity)."""
    keys, seen = {}, {}
    for node in sn.nodes(outputs):
        ins = tuple(keys.get(id(i), ("const", i.data.tobytes(), i.dtype) if isinstance(i, Constant) else id(i))
                    for i in node.inputs)
        key = (node.op, ins)
        seen.setdefault(key, []).append(node)
        for k, o in enumerate(node.outputs):
            keys[id(o)] = (key, k)
    return seen


def test_mlp_gradient_has_no_duplicates_and_uses_gemm():
    inputs, cost, grads, updates = mlp_training_graph()
    all_outputs = [cost] + grads + [v for _, v in updates]
    start = time.perf_counter()
    result = sn.rewrite(all_outputs)
    elapsed = time.perf_counter() - start
    print(f"rewriting the MLP training graph took {elapsed * 1e3:.1f} ms "
          f"({result.stats[0]['nodes']} -> {result.stats[-1]['nodes']} nodes)")
    dupes = [k for k, nodes in structural_keys(result.outputs).items() if len(nodes) > 1]
    assert not dupes
    f = sn.function(inputs, cost, updates=updates)
    by_shared = dict(zip([k.name for k, _ in f.updates], f.fgraph.outputs[1:]))
    for name in ("W1", "W2"):
        assert by_shared[name].owner.op.name.startswith("gemm"), by_shared[name].owner.op.name
    assert "gemm{inplace}" in [n.op.name for n in f.fgraph.nodes]


def test_mlp_training_step_matches_the_unrewritten_graph():
    inputs, cost, grads, updates = mlp_training_graph()
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((60, 784)), rng.integers(0, 10, 60).astype("int32")
    plain = sn.function(inputs, [cost] + grads, rewrite=False)
    fast = sn.function(inputs, [cost] + grads)
    for a, b in zip(plain(X, y), fast(X, y)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
