"""The Theano tutorial's examples, ported by changing the import, give Theano's answers."""
import numpy as np
import pytest

import symnb as sn
import symnb.tensor as T


@pytest.fixture
def function(backend):
    def make(*args, **kw):
        return sn.function(*args, backend=backend, **kw)
    return make


def test_baby_steps_algebra(function):
    x, y = T.dscalar("x"), T.dscalar("y")
    f = function([x, y], x + y)
    assert f(2, 3) == 5.0 and np.isclose(f(16.3, 12.1), 28.4)
    X, Y = T.dmatrix("x"), T.dmatrix("y")
    g = function([X, Y], X + Y)
    np.testing.assert_array_equal(g([[1, 2], [3, 4]], [[10, 20], [30, 40]]), [[11, 22], [33, 44]])


def test_logistic_function(function):
    x = T.dmatrix("x")
    s = 1 / (1 + T.exp(-x))
    logistic = function([x], s)
    expected = [[0.5, 0.73105858], [0.26894142, 0.11920292]]
    np.testing.assert_allclose(logistic([[0, 1], [-1, -2]]), expected, rtol=1e-7)
    s2 = (1 + T.tanh(x / 2)) / 2
    np.testing.assert_allclose(function([x], s2)([[0, 1], [-1, -2]]), expected, rtol=1e-7)


def test_several_outputs(function):
    a, b = T.dmatrices("a", "b")
    diff = a - b
    f = function([a, b], [diff, abs(diff), diff ** 2])
    d, ad, d2 = f([[1, 1], [1, 1]], [[0, 1], [2, 3]])
    np.testing.assert_array_equal(d, [[1, 0], [-1, -2]])
    np.testing.assert_array_equal(ad, [[1, 0], [1, 2]])
    np.testing.assert_array_equal(d2, [[1, 0], [1, 4]])


def test_shared_accumulator_and_givens(function):
    state = sn.shared(0)
    inc = T.iscalar("inc")
    accumulator = function([inc], state, updates=[(state, state + inc)])
    assert accumulator(1) == 0 and state.get_value() == 1
    assert accumulator(300) == 1 and state.get_value() == 301
    state.set_value(-1)
    assert accumulator(3) == -1 and state.get_value() == 2
    decrementor = function([inc], state, updates=[(state, state - inc)])
    assert decrementor(2) == 2 and state.get_value() == 0
    fn_of_state = state * 2 + inc
    foo = T.scalar(dtype=state.dtype)
    skip_shared = function([inc, foo], fn_of_state, givens=[(state, foo)])
    assert skip_shared(1, 3) == 7 and state.get_value() == 0


def test_derivatives(function):
    x = T.dscalar("x")
    gy = sn.grad(x ** 2, x)
    f = function([x], gy)
    assert f(4) == 8.0 and np.isclose(f(94.2), 188.4)
    X = T.dmatrix("x")
    s = T.sum(1 / (1 + T.exp(-X)))
    dlogistic = function([X], sn.grad(s, X))
    np.testing.assert_allclose(dlogistic([[0, 1], [-1, -2]]),
                               [[0.25, 0.19661193], [0.19661193, 0.10499359]], rtol=1e-7)


def test_jacobian_and_hessian(function):
    x = T.dvector("x")
    J = function([x], sn.jacobian(x ** 2, x))
    np.testing.assert_array_equal(J([4, 4]), [[8, 0], [0, 8]])
    H = function([x], sn.hessian(T.sum(x ** 2), x))
    np.testing.assert_array_equal(H([4, 4]), [[2, 0], [0, 2]])


def test_logistic_regression(function):
    rng = np.random.default_rng(2010)
    N, feats = 400, 784
    D = (rng.standard_normal((N, feats)), rng.integers(0, 2, size=N))
    x, y = T.dmatrix("x"), T.dvector("y")
    w = sn.shared(rng.standard_normal(feats) * 0.01, name="w")
    b = sn.shared(0.0, name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = sn.grad(cost, [w, b])
    train = function([x, y], [prediction, cost], updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)])
    predict = function([x], prediction)
    before = (predict(D[0]) == D[1]).mean()
    costs = [train(D[0], D[1])[1] for _ in range(10)]
    assert all(c2 < c1 for c1, c2 in zip(costs, costs[1:]))
    after = (predict(D[0]) == D[1]).mean()
    assert after > before and after > 0.9
