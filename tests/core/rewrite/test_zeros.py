"""Values that are zero by construction fold to one alloc of 0: a zero-gradient op's
gradient leaves no work behind (the contractive autoencoder's floor-divided penalty)."""
import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st
from symnb.core.graph import Variable, evaluate, toposort

BATCH, VISIBLE, HIDDEN = 4, 12, 6


def contractive_gradients():
    """Gradients of a contractive autoencoder's cost whose Jacobian penalty is floor-divided
    by the batch size (so it contributes nothing to them) and of the cost without it."""
    rng = np.random.default_rng(3)
    W = sn.shared(rng.uniform(-0.5, 0.5, (VISIBLE, HIDDEN)), name="W")
    b_hid, b_vis = sn.shared(rng.random(HIDDEN), name="b_hid"), sn.shared(rng.random(VISIBLE), name="b_vis")
    x = st.dmatrix("x")
    code = st.sigmoid(st.dot(x, W) + b_hid)
    recon = st.sigmoid(st.dot(code, W.T) + b_vis)
    jac = st.reshape(code * (1 - code), (BATCH, 1, HIDDEN)) * st.reshape(W, (1, VISIBLE, HIDDEN))
    rec = st.mean(-st.sum(x * st.log(recon) + (1 - x) * st.log(1 - recon), axis=1))
    penalty = st.mean(st.sum(jac ** 2) // BATCH)
    params = [W, b_hid, b_vis]
    return x, sn.grad(rec + 0.1 * penalty, params), sn.grad(rec, params), rng.random((BATCH, VISIBLE))


def zero_nodes(outputs, values):
    """The nodes of the graph whose every float output is all zeros on these values."""
    nodes = toposort(outputs)
    outs = [o for n in nodes for o in n.outputs]
    with np.errstate(all="ignore"):
        got = evaluate(outs, values)
    zero = {id(o.owner) for o, v in zip(outs, got) if o.dtype.startswith("float") and v.size and not np.any(v)}
    return [n for n in nodes if id(n) in zero]


def test_the_zero_gradient_penalty_leaves_no_zero_node():
    x, grads, plain, data = contractive_gradients()
    before = zero_nodes(grads, {x: data})
    assert before, "the unrewritten gradient carries zeros (the premise of this test)"
    rewritten = sn.rewrite(grads).outputs
    assert zero_nodes(rewritten, {x: data}) == []
    # Nothing of the penalty's 3-d Jacobian is left in the gradient.
    assert all(v.ndim < 3 for n in toposort(rewritten) for v in n.outputs)
    for backend in ("numpy", "cpp"):
        values = sn.function([x], grads + plain, backend=backend)(data)
        for g, w in zip(values[:3], values[3:]):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15)


a, b = st.dvectors("a", "b")
M = st.dmatrix("M")


@pytest.mark.parametrize("build", [
    lambda: (a * 0).sum() * M,                              # a product with a zero factor
    lambda: st.dot(M, st.zeros_like(a)) + b,                # a product of matrices, one all zeros
    lambda: st.reshape(st.zeros_like(M) * 3, (-1,)).sum() + a,
    lambda: st.sum(st.zeros_like(M).T, axis=0) - b,
    lambda: sn.grad(st.sum(st.zero_grad(a) * b) + st.sum(a), a) * M,   # a path with a zero gradient
    lambda: sn.grad(st.sum(st.floor(a) ** 2), a, disconnected_inputs="ignore") + b,
], ids=["mul", "dot", "reshape", "sum", "zero_grad_path", "floor"])
def test_zero_values_fold(build):
    out = build()
    r = sn.rewrite(out).output
    values = {a: np.array([1.5, -2.0, 0.25]), b: np.array([0.5, 1.0, 2.0]), M: np.ones((3, 3))}
    values = {k: v for k, v in values.items() if k in set(_leaves(out))}
    interior = [n for n in zero_nodes([r], values) if n is not r.owner]
    assert interior == []
    np.testing.assert_array_equal(evaluate([r], values)[0], evaluate([out], values)[0])


def _leaves(v: Variable):
    return [i for n in toposort([v]) for i in n.inputs if i.owner is None]


def test_zero_of_unknown_shape_takes_the_inputs_shape():
    out = (st.dot(M, a) * 0) + 1
    assert "dot" not in sn.pp(sn.rewrite(out).output)          # the product is not run for its shape
    for backend in ("numpy", "cpp"):
        np.testing.assert_array_equal(sn.function([M, a], out, backend=backend)(np.ones((4, 3)), np.ones(3)),
                                      np.ones(4))
