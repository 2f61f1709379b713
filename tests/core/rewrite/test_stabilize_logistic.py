"""A hand-written logistic sigmoid, 1 / (1 + exp(-z)), trains like st.sigmoid: the rewriter
recognises it for any logit z and makes the cross-entropy's logs softplus terms."""
import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st

s, y = st.dvector("s"), st.dvector("y")
b = sn.shared(0.25, name="b")
LOGITS = np.array([50.0, -50.0, 500.0, -500.0, 1e4, -1e4, 3.0, -0.5])
LABELS = np.array([1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0])

# Ways a program spells the logistic of z = s + b: sums, biases, negations, either order.
FORMS = {
    "neg_sum": lambda: 1 / (1 + st.exp(-s - b)),
    "neg_of_sum": lambda: 1 / (1 + st.exp(-(s + b))),
    "sum_first": lambda: 1 / (st.exp(-b - s) + 1),
    "difference": lambda: 1 / (1 + st.exp((-b) - s)),
    "scaled": lambda: 1 / (1 + st.exp(-1 * (s + b))),
}


def reference(z, labels):
    """Cross-entropy as log-sum-exp terms and its derivative in z, both exact in float64."""
    cost = labels * np.logaddexp(0, -z) + (1 - labels) * np.logaddexp(0, z)
    slope = -labels / (1 + np.exp(z)) + (1 - labels) / (1 + np.exp(-z))   # -y σ(-z) + (1-y) σ(z)
    return cost.sum(), slope


@pytest.mark.parametrize("form,backend", [(f, "numpy") for f in FORMS] + [("neg_sum", "cpp")])
def test_cross_entropy_of_a_hand_written_sigmoid_is_finite(form, backend):
    p = FORMS[form]()
    cost = (-y * st.log(p) - (1 - y) * st.log(1 - p)).sum()
    gs, gb = sn.grad(cost, [s, b])
    f = sn.function([s, y], [cost, gs, gb], backend=backend)
    with np.errstate(over="ignore"):
        value, slope, bias_slope = f(LOGITS - 0.25, LABELS)
        want, want_slope = reference(LOGITS, LABELS)
    assert np.isfinite(value) and np.all(np.isfinite(slope))
    np.testing.assert_allclose(value, want, rtol=1e-12)
    np.testing.assert_allclose(slope, want_slope, rtol=1e-12, atol=0)
    np.testing.assert_allclose(bias_slope, want_slope.sum(), rtol=1e-12)


def test_the_rewritten_graph_has_sigmoid_and_softplus_only():
    p = FORMS["neg_sum"]()
    text = sn.pp(sn.rewrite((-y * st.log(p) - (1 - y) * st.log(1 - p)).sum(), ["canonicalize", "stabilize"]).output)
    assert "softplus" in text and "exp" not in text and "log" not in text
    assert sn.pp(sn.rewrite(p, ["canonicalize", "stabilize"]).output) == "sigmoid(s + b)"


def _train(backend, hand_written, steps=8):
    rng = np.random.default_rng(7)
    n, feats = 200, 100
    data, labels = rng.standard_normal((n, feats)), rng.integers(0, 2, size=n).astype(float)
    x, t = st.dmatrix("x"), st.dvector("t")
    # Unit-variance weights on 100 features: logits of ±10 to ±40, past where exp(-z) overflows
    # the cross-entropy's 1 - p to 0 in the hand-written form.
    w = sn.shared(rng.standard_normal(feats) * 3, name="w")
    c = sn.shared(0.0, name="c")
    z = st.dot(x, w) + c
    p = 1 / (1 + st.exp(-st.dot(x, w) - c)) if hand_written else st.sigmoid(z)
    cost = (-t * st.log(p) - (1 - t) * st.log(1 - p)).mean() + 0.01 * (w ** 2).sum()
    gw, gc = sn.grad(cost, [w, c])
    train = sn.function([x, t], cost, updates=[(w, w - 0.1 * gw), (c, c - 0.1 * gc)], backend=backend)
    costs = [float(train(data, labels)) for _ in range(steps)]
    accuracy = float(((data @ w.get_value() + c.get_value() > 0) == labels).mean())   # p > 0.5
    return costs, accuracy, w.get_value()


@pytest.mark.parametrize("backend", ["numpy", "cpp"])
def test_tutorial_logistic_regression_trains_like_the_sigmoid_form(backend):
    costs, accuracy, w = _train(backend, hand_written=True)
    want_costs, want_accuracy, want_w = _train(backend, hand_written=False)
    assert np.all(np.isfinite(costs)) and costs[-1] < costs[0]
    np.testing.assert_allclose(costs, want_costs, rtol=1e-10)
    np.testing.assert_allclose(w, want_w, rtol=1e-10)
    assert accuracy == want_accuracy
