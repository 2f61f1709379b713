"""Products whose left operand holds only 0 and 1 (binary.h): sums of the selected rows of
B, against NumPy, for every density, layout of B and tail, NaN and infinities in B (back to
BLAS), an operand that is binary but for one element, and an RBM's Gibbs chains against
the reference backend."""
import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st

from .test_cpp_blas import TOL
from .test_cpp_ops import pytestmark  # noqa: F401  (skips without a compiler)


def _product(dtype):
    A, B = (st.tensor(s, dtype=dtype, shape=(None, None)) for s in "AB")
    return sn.function([A, B], st.dot(A, B), backend="cpp")


def _check(f, a, b, dtype):
    want = (a.astype(np.float64) @ b.astype(np.float64)).astype(dtype)
    np.testing.assert_allclose(f(a, b), want, rtol=TOL[dtype] * 10, atol=TOL[dtype] * 10)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("m,k,n", [(100, 784, 500), (20, 784, 500), (37, 333, 130), (9, 1000, 17)])
def test_binary_left_operands_in_every_layout(dtype, m, k, n):
    rng = np.random.default_rng(m + k + n)
    f = _product(dtype)
    b = rng.normal(size=(k, n)).astype(dtype)
    wide = np.zeros((k, 2 * n + 3), dtype)
    wide[:, 3:3 + 2 * n:2] = b
    bt = np.ascontiguousarray(b.T)
    for density in (0.0, 0.3, 0.5, 1.0):
        a = (rng.random((m, k)) < density).astype(dtype)
        a[a == 0] = np.where(rng.random((a == 0).sum()) < 0.5, 0.0, -0.0).astype(dtype)   # either zero
        for lb in (b, bt.T, wide[:, 3:3 + 2 * n:2]):   # rows of B, columns of B (W.T), strided
            _check(f, a, lb, dtype)


def test_nan_and_infinity_in_b_reach_every_row_as_in_the_dense_product():
    f = _product("float64")
    rng = np.random.default_rng(1)
    a = (rng.random((50, 400)) < 0.5).astype(float)
    b = rng.normal(size=(400, 300))
    b[7, 11], b[399, 299] = np.inf, np.nan
    with np.errstate(invalid="ignore"):
        want = a @ b
    got = f(a, b)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    ok = np.isfinite(want)
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-12)


def test_an_operand_binary_but_for_its_last_element_is_a_dense_product():
    f = _product("float64")
    rng = np.random.default_rng(2)
    a = (rng.random((100, 784)) < 0.5).astype(float)
    a[-1, -1] = 0.25
    _check(f, a, rng.normal(size=(784, 500)), "float64")


def test_gibbs_chains_match_the_reference_backend():
    """Both products of a block-Gibbs step have a binary left operand (the chains, then the
    hidden samples); the chains stay those of the reference backend."""
    rng = np.random.default_rng(3)
    W0, vb0, hb0 = rng.normal(size=(784, 500)) * 0.01, rng.normal(size=784) * 0.01, rng.normal(size=500) * 0.01
    v0 = (rng.random((100, 784)) < 0.3).astype(float)
    runs = []
    for backend in ("cpp", "numpy"):
        W, vb, hb = sn.shared(W0, name="W"), sn.shared(vb0, name="vb"), sn.shared(hb0, name="hb")
        chains = sn.shared(v0.copy(), name="chains")
        s = sn.RandomStream(seed=5)
        h = s.binomial(n=1, p=st.sigmoid(st.dot(chains, W) + hb), size=(100, 500), dtype="float64")
        v = s.binomial(n=1, p=st.sigmoid(st.dot(h, W.T) + vb), size=(100, 784), dtype="float64")
        f = sn.function([], [], updates=[(chains, v)], backend=backend)
        for _ in range(5):
            f()
        runs.append(chains.get_value())
    np.testing.assert_array_equal(runs[0], runs[1])
    assert 0.2 < runs[0].mean() < 0.8
