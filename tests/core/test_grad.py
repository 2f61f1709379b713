"""Gradients against finite differences; grad's options (constants, known and disconnected inputs)."""
import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st


def fd_jacobian(f, x, eps=1e-6):
    cols = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = eps
        cols.append((f(x + e) - f(x - e)) / (2 * eps))
    return np.stack(cols, axis=-1)


@pytest.mark.parametrize("static", [False, True])
def test_jacobian_matches_finite_differences(static):
    x = st.dvector("x", shape=(3,) if static else None)
    expr = st.tanh(x) * x.sum() + st.exp(x[::-1])
    J = sn.function([x], sn.jacobian(expr, x), backend="numpy")
    f = sn.function([x], expr, backend="numpy")
    x0 = np.array([0.3, -0.7, 1.1])
    np.testing.assert_allclose(J(x0), fd_jacobian(f, x0), rtol=1e-6)


@pytest.mark.parametrize("static", [False, True])
def test_hessian_matches_finite_differences(static):
    x = st.dvector("x", shape=(3,) if static else None)
    cost = (st.sin(x) * x[0]).sum() + (x ** 3).prod()
    H = sn.function([x], sn.hessian(cost, x), backend="numpy")
    g = sn.function([x], sn.grad(cost, x), backend="numpy")
    x0 = np.array([0.3, -0.7, 1.1])
    np.testing.assert_allclose(H(x0), fd_jacobian(g, x0), rtol=1e-5, atol=1e-8)


def test_jacobian_with_several_wrt():
    x, y = st.dvectors("x", "y")
    jx, jy = sn.jacobian(x * y, [x, y])
    f = sn.function([x, y], [jx, jy], backend="numpy")
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    jxv, jyv = f(a, b)
    np.testing.assert_array_equal(jxv, np.diag(b))
    np.testing.assert_array_equal(jyv, np.diag(a))


def test_consider_constant_and_known_grads():
    x = st.dscalar("x")
    y = x ** 2
    g = sn.grad(y * x, x, consider_constant=[y])
    assert sn.function([x], g, backend="numpy")(3.0) == 9.0
    h = st.dscalar("h")
    z = st.exp(x)
    gk = sn.grad((z * 0).sum(), x, known_grads={z: h})
    assert np.isclose(sn.function([x, h], gk, backend="numpy")(0.0, 5.0), 5.0)


def test_known_grads_alone_backpropagate_from_an_inner_node():
    x = st.dvector("x")
    z = st.exp(x) * 2
    upstream = st.dvector("g")
    gx = sn.grad(None, x, known_grads={z: upstream})
    x0, g0 = np.array([0.0, 1.0]), np.array([3.0, -1.0])
    np.testing.assert_allclose(sn.function([x, upstream], gx, backend="numpy")(x0, g0), g0 * 2 * np.exp(x0))
    with pytest.raises(TypeError, match="cost=None needs known_grads"):
        sn.grad(None, x)
    with pytest.raises(TypeError, match="known_grads gives .* a gradient of type float64 scalar; it needs 1"):
        sn.grad(None, x, known_grads={z: st.dscalar("s")})


def test_mixed_second_derivatives():
    x, y = st.dscalars("x", "y")
    f = x ** 2 * st.sin(y)
    dxy = sn.grad(sn.grad(f, x), y)
    assert np.isclose(sn.function([x, y], dxy, backend="numpy")(1.5, 0.3), 2 * 1.5 * np.cos(0.3))


def test_disconnected_modes():
    x, y = st.dscalars("x", "y")
    with pytest.warns(UserWarning, match="does not depend"):
        g = sn.grad(x * 2, [x, y], disconnected_inputs="warn")
    assert sn.function([x, y], g[1], backend="numpy", on_unused_input="ignore")(1.0, 2.0) == 0.0


def test_gradient_of_shared_variables_and_second_derivatives():
    w = sn.shared(np.array([1.0, 2.0]), name="w")
    x = st.dscalar("x")
    cost = (w ** 3).sum() * x
    gw = sn.grad(cost, w)
    np.testing.assert_allclose(sn.function([x], gw, backend="numpy")(2.0), 2 * 3 * np.array([1.0, 4.0]))
    d2 = sn.grad(sn.grad(x ** 4, x), x)
    assert sn.function([x], d2, backend="numpy")(2.0) == 48.0


def test_float32_gradients_stay_float32():
    x = st.fvector("x")
    g = sn.grad((st.tanh(x) * 2.5).sum(), x)
    assert g.dtype == "float32"
    assert sn.function([x], g, backend="numpy")(np.ones(3, "float32")).dtype == np.float32


def test_grad_rejects_integer_costs_and_wrt():
    i = st.iscalar("i")
    x = st.dscalar("x")
    with pytest.raises(TypeError, match="float dtype"):
        sn.grad(i * 2, x)
    with pytest.raises(TypeError, match="only float variables"):
        sn.grad(x * 2, i)


def test_random_draw_sized_by_a_differentiated_tensor_passes_no_gradient():
    # Dropout: the mask's size comes from h, but only its (float) value multiplies h.
    x = st.dvector("x")
    h = st.tanh(x)
    mask = sn.RandomStream(3).binomial(size=h.shape, n=1, p=0.5, dtype="float64")
    g = sn.grad((h * mask).sum(), x)
    f = sn.function([x], [g, mask], backend="numpy")
    xv = np.array([0.3, -1.0, 2.0, 0.5])
    gv, mv = f(xv)
    assert np.allclose(gv, (1 - np.tanh(xv) ** 2) * mv)
    # A draw whose float parameter depends on x still has no gradient to give.
    with pytest.raises(sn.NotDifferentiableError, match="random_binomial"):
        sn.grad(sn.RandomStream(3).binomial(size=h.shape, n=1, p=st.sigmoid(x), dtype="float64").sum(), x)
