"""Names that ported Theano programs reach for: scalar.upcast, xlogx, xlogy0, shared(borrow=)."""
import numpy as np

import symnb as sn
import symnb.tensor as st


def test_upcast_follows_numpy_addition():
    up = sn.scalar.upcast
    assert up("int32", "float32") == "float64" and up("float32") == "float32"
    assert up("int8", "int16") == "int16" and up("float32", "int8") == "float32"
    assert up("uint8", "int8") == "int16" and up("float32", "float64") == "float64"


def test_xlogx_and_xlogy0_are_zero_where_x_is(backend):
    x, y = st.dvectors("x", "y")
    a, b = st.xlogx.xlogx(x), st.xlogx.xlogy0(x, y)        # Theano: T.xlogx is the module
    f = sn.function([x, y], [a, b, *sn.grad(a.sum() + b.sum(), [x, y])], backend=backend)
    xv, yv = np.array([0.0, 0.5, 2.0]), np.array([0.0, 0.25, 3.0])
    va, vb, gx, gy = f(xv, yv)
    np.testing.assert_allclose(va, [0.0, 0.5 * np.log(0.5), 2 * np.log(2.0)], rtol=1e-15)
    np.testing.assert_allclose(vb, [0.0, 0.5 * np.log(0.25), 2 * np.log(3.0)], rtol=1e-15)
    # d/dx [x log x + x log y] = log x + 1 + log y; d/dy = x / y: finite (0) where x is 0.
    np.testing.assert_allclose(gx[1:], np.log(xv[1:]) + 1 + np.log(yv[1:]), rtol=1e-14)
    np.testing.assert_allclose(gy, [0.0, 2.0, 2.0 / 3.0], rtol=1e-15)
    assert np.isfinite(gx[0])


def test_shared_borrow_keeps_the_array():
    a = np.zeros(3)
    borrowed, copied = sn.shared(a, borrow=True), sn.shared(a)
    a[0] = 7.0
    assert borrowed.get_value()[0] == 7.0 and copied.get_value()[0] == 0.0
    assert sn.shared(np.zeros(3, np.float32), borrow=True, dtype="float64").get_value().dtype == np.float64
    frozen = np.zeros(2)
    frozen.setflags(write=False)
    assert sn.shared(frozen, borrow=True).get_value(borrow=True) is not frozen   # an update may write
