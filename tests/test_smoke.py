import numpy as np

import symnb as sn
import symnb.tensor as st


def test_design_example():
    M = st.dmatrix("M")
    v = st.dvector("v")
    w = sn.shared(np.zeros(3), name="w")
    y = st.tanh(st.dot(M, v) + w).sum()
    g = sn.grad(y, [v, w])
    f = sn.function([M, v], [y, g[0]], updates=[(w, w - 0.1 * g[1])], backend="numpy")
    out, gv = f(np.eye(3), np.ones(3))
    assert np.isclose(out, 3 * np.tanh(1.0))
    np.testing.assert_allclose(gv, np.full(3, 1 - np.tanh(1.0) ** 2))
    np.testing.assert_allclose(w.get_value(), -0.1 * np.full(3, 1 - np.tanh(1.0) ** 2))
