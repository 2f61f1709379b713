import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st
from symnb.core.rewrite.pipeline import DEFAULT_PASSES
from symnb.core.rewrite.inplace import DestroyError, check_destroy, schedule

rng = np.random.default_rng(3)


def ops(f):
    return [n.op.name for n in f.fgraph.nodes]


@pytest.mark.parametrize("power,expected", [(2, "sqr"), (0.5, "sqrt"), (-1, "reciprocal"), (3, "sqr"),
                                            (4, "sqr"), (10, "sqr"), (16, "sqr")])
def test_pow_specialization(power, expected):
    a = st.dvector("a")
    out = sn.rewrite(a ** power, passes=DEFAULT_PASSES[:4]).output
    names = [n.op.name for n in sn.nodes(out)]
    assert "pow" not in names and expected in names
    v = rng.uniform(0.5, 2, 5)
    np.testing.assert_allclose(sn.function([a], a ** power)(v), v ** power, rtol=1e-14)


def test_fusion_of_the_theano_expression():
    a, b = st.dvectors("a", "b")
    f = sn.function([a, b], a ** 2 + b ** 2 + 2 * a * b)
    assert len(f.fgraph.nodes) == 1 and ops(f)[0].startswith("fused")
    va, vb = rng.standard_normal(7), rng.standard_normal(7)
    np.testing.assert_allclose(f(va, vb), va ** 2 + vb ** 2 + 2 * va * vb, rtol=1e-14)


def test_fusion_with_broadcasting_and_multiple_outputs():
    m, r = st.dmatrix("m"), st.drow("r")
    f = sn.function([m, r], [st.exp(m) * r + 1, st.sin(m) - r])
    assert len(f.fgraph.nodes) == 1 and f.fgraph.nodes[0].op.nout == 2
    vm, vr = rng.standard_normal((3, 4)), rng.standard_normal((1, 4))
    o1, o2 = f(vm, vr)
    np.testing.assert_allclose(o1, np.exp(vm) * vr + 1)
    np.testing.assert_allclose(o2, np.sin(vm) - vr)


def test_no_fusion_across_a_reduction():
    m = st.dmatrix("m")
    f = sn.function([m], st.exp(st.tanh(m).sum(axis=1) * 2))
    names = ops(f)
    assert any(n.startswith("sum") for n in names) and len(names) >= 3


@pytest.mark.parametrize("build", [
    lambda W, X, D, s: W - s * st.dot(X.T, D),
    lambda W, X, D, s: st.dot(X.T, D) * 2 + W,
    lambda W, X, D, s: W + st.dot(X.T, D),
])
def test_gemm_is_formed(build):
    W, X, D = st.dmatrices("W", "X", "D")
    s = st.dscalar("s")
    f = sn.function([W, X, D, s], build(W, X, D, s), on_unused_input="ignore")
    assert [n for n in ops(f) if n.startswith("gemm")], ops(f)
    vw, vx, vd = rng.standard_normal((4, 3)), rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    expected = sn.function([W, X, D, s], build(W, X, D, s), rewrite=False, on_unused_input="ignore")
    np.testing.assert_allclose(f(vw, vx, vd, 0.3), expected(vw, vx, vd, 0.3), rtol=1e-13)


def test_gemv_is_formed():
    A, v = st.dmatrix("A"), st.dvector("v")
    f = sn.function([A, v], v - 0.5 * st.dot(A, v))
    assert "gemv" in ops(f)


@pytest.mark.parametrize("axis", [-1, 0])
def test_log_softmax_gradient_becomes_one_node(axis):
    """The gradient of a softmax regression's loss: g - exp(lsm) * sum(g) is one
    LogSoftmaxGrad node after specialization, with the values of the graph as built."""
    X, W = st.dmatrices("X", "W")
    y = st.ivector("y")
    lsm = st.log_softmax(st.dot(X, W), axis=axis)
    cost = -lsm[st.arange(y.shape[0]), y].mean() if axis == -1 else -(lsm * lsm).sum()
    gW = sn.grad(cost, W)
    rewritten = [n.op.name for n in sn.nodes(sn.rewrite(gW, passes=DEFAULT_PASSES[:4]).output)]
    assert "logsoftmaxgrad" in rewritten and "exp" not in rewritten
    vX, vW, vy = rng.standard_normal((6, 5)), rng.standard_normal((5, 4)), rng.integers(0, 4, 6).astype("int32")
    for backend in ("numpy", "cpp"):
        got = sn.function([X, W, y], gW, backend=backend, on_unused_input="ignore")(vX, vW, vy)
        want = sn.function([X, W, y], gW, backend="numpy", rewrite=False, on_unused_input="ignore")(vX, vW, vy)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_shared_update_is_in_place_and_ordered_after_readers():
    W = sn.shared(rng.standard_normal((4, 3)), name="W")
    X, D = st.dmatrices("X", "D")
    f = sn.function([X, D], st.dot(X, W).sum(), updates=[(W, W - 0.1 * st.dot(X.T, D))])
    names = ops(f)
    assert "gemm{inplace}" in names and names.index("dot") < names.index("gemm{inplace}")
    check_destroy(f.inputs, f.fgraph.outputs, [(W, f.fgraph.outputs[1])], f.fgraph.nodes)
    w0, vx, vd = W.get_value(), rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    assert np.isclose(f(vx, vd), (vx @ w0).sum())
    np.testing.assert_allclose(W.get_value(), w0 - 0.1 * vx.T @ vd)


def test_inputs_and_returned_values_are_never_destroyed():
    W = sn.shared(np.ones((2, 2)), name="W")
    X, D = st.dmatrices("X", "D")
    f = sn.function([X, D], [W], updates=[(W, W - st.dot(X, D))])     # old W is returned
    assert "gemm{inplace}" not in ops(f)
    g = sn.function([X, D], X - st.dot(X, D))                            # X is a user input
    assert "gemm{inplace}" not in ops(g)
    h = sn.function([X, D], (st.exp(X) + 1) * D)                        # intermediate: fine
    check_destroy(h.inputs, h.fgraph.outputs, [], h.fgraph.nodes)


def test_check_destroy_catches_a_bad_marking():
    from symnb.core.ops.blas import Gemm
    from symnb.core.ops.base import apply_op
    X, D = st.dmatrices("X", "D")
    bad = apply_op(Gemm(inplace=True), [X, st.constant(1.0), X, D, st.constant(1.0)])
    with pytest.raises(DestroyError, match="user input"):
        check_destroy([X, D], [bad], [], schedule([bad]))
