"""With the default pipeline the unstable forms are finite and within 1e-10 of exact."""
import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st

X = np.array([-800, -700, -40, -1, -1e-3, 0, 1e-3, 1, 40, 700, 800.0])
x = st.dvector("x")
t = st.dvector("t")


try:
    import mpmath
except ImportError:                   # the closed form is correctly rounded for float64 too
    mpmath = None


def softplus_exact(v):
    """log(1 + exp(v)), exactly: with 50 digits when mpmath is there."""
    if mpmath is None:
        return np.logaddexp(0.0, v)
    with mpmath.workdps(50):
        return np.array([float(mpmath.log1p(mpmath.exp(mpmath.mpf(float(e))))) for e in np.ravel(v)])


def rel(got, exact):
    return np.max(np.abs(got - exact) / np.maximum(np.abs(exact), 1e-300))


@pytest.mark.parametrize("build,exact,dexact", [
    (lambda: st.log(1 + st.exp(x)), lambda v: softplus_exact(v), lambda v: 1 / (1 + np.exp(-v))),
    (lambda: st.log(st.sigmoid(x)), lambda v: -softplus_exact(-v), lambda v: 1 / (1 + np.exp(v))),
    (lambda: st.log(1 - st.sigmoid(x)), lambda v: -softplus_exact(v), lambda v: -1 / (1 + np.exp(-v))),
    (lambda: st.log(1 / (1 + st.exp(-x))), lambda v: -softplus_exact(-v), lambda v: 1 / (1 + np.exp(v))),
], ids=["softplus", "log_sigmoid", "log1m_sigmoid", "log_logistic"])
def test_sigmoid_family_values_and_gradients(build, exact, dexact):
    e = build()
    f = sn.function([x], [e, sn.grad(e.sum(), x)])
    with np.errstate(over="ignore"):
        value, slope = f(X)
        assert np.all(np.isfinite(value)) and rel(value, exact(X)) < 1e-10
        assert np.all(np.isfinite(slope)) and np.allclose(slope, dexact(X), rtol=1e-10, atol=1e-300)


def test_log_softmax_with_huge_entries():
    z = st.dmatrix("z")
    data = np.array([[1e4, -1e4, 0.0, 3.0], [-1e4, -1e4, 1e4, 1e4]])
    exact = data - np.max(data, 1, keepdims=True) - np.log(
        np.exp(data - np.max(data, 1, keepdims=True)).sum(1, keepdims=True))
    out = sn.function([z], st.log(st.softmax(z)))(data)
    assert np.all(np.isfinite(out)) and np.allclose(out, exact, rtol=1e-12, atol=0)
    g = sn.function([z], sn.grad(st.log(st.softmax(z))[:, 0].sum(), z))(data)
    assert np.all(np.isfinite(g))


def test_neutral_elements_vanish_with_the_default_pipeline():
    assert sn.rewrite((x * 1 + 0) - 0).output is x


def test_log1p_inside_a_longer_sum():
    y = st.dvector("y")
    e = st.log(1 + x + y)
    assert "log1p" in sn.pp(sn.rewrite(e).output)
    assert rel(sn.function([x, y], e)(np.array([1e-18]), np.array([2e-18])), 1e-18 + 2e-18) < 1e-15


def test_logsumexp_and_small_arguments():
    assert rel(sn.function([x], st.log(st.exp(x).sum()))(np.array([1000.0, 1000.0])), 1000 + np.log(2)) < 1e-10
    m = st.dmatrix("m")
    data = np.array([[1000.0, 1000.0], [-1000.0, -1000.0]])
    out = sn.function([m], st.log(st.exp(m).sum(axis=1, keepdims=True)))(data)
    assert out.shape == (2, 1) and rel(out[:, 0], np.array([1000.0, -1000.0]) + np.log(2)) < 1e-10
    tiny = np.array([1e-18])
    assert sn.function([x], st.log(1 + x))(tiny)[0] == 1e-18
    assert sn.function([x], st.exp(x) - 1)(tiny)[0] == 1e-18


def test_one_minus_sigmoid_keeps_its_tail():
    e = 1 - st.sigmoid(x)
    assert sn.pp(sn.rewrite(e).output) == "sigmoid(-x)"
    xs = np.array([-40.0, 0.0, 40.0, 700.0])
    assert rel(sn.function([x], e)(xs), 1 / (1 + np.exp(xs))) < 1e-12     # 1 - 1 would be 0 at 40


def test_sigmoid_cross_entropy_at_800():
    xs = np.array([800.0, -800.0, 800.0, -800.0])
    ts = np.array([0.0, 0.0, 1.0, 1.0])
    exact = ts * softplus_exact(-xs) + (1 - ts) * softplus_exact(xs)
    for e in (-(t * st.log(st.sigmoid(x)) + (1 - t) * st.log(1 - st.sigmoid(x))),
              st.binary_crossentropy(st.sigmoid(x), t)):
        value, slope = sn.function([x, t], [e, sn.grad(e.sum(), x)])(xs, ts)
        assert rel(value, exact) < 1e-10
        np.testing.assert_allclose(slope, 1 / (1 + np.exp(-np.clip(xs, -700, 700))) - ts, atol=1e-300)


def test_categorical_cross_entropy_of_softmax_is_finite():
    z, y = st.dmatrix("z"), st.ivector("y")
    e = st.categorical_crossentropy(st.softmax(z), y).sum()
    data = np.array([[1e4, -1e4, 0.0], [0.0, 0.0, 0.0]])
    value, g = sn.function([z, y], [e, sn.grad(e, z)])(data, np.array([1, 2], "int32"))
    assert np.isfinite(value) and np.isclose(value, 2e4 + np.log(3)) and np.all(np.isfinite(g))


def test_without_rewriting_these_overflow():
    raw = sn.function([x], st.log(st.sigmoid(x)), rewrite=False)
    with np.errstate(all="ignore"):
        assert np.isinf(raw(np.array([-800.0]))[0])
