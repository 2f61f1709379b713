"""The C++ backend's conv2d and pool_2d (im2col + GEMM, pooling loops) and their gradients
against the reference backend: every border mode, stride, flip and dilation in one module
per dtype, threads on and off, and errors raised instead of crashes."""
import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st
from symnb.tensor.nnet import conv2d
from symnb.tensor.signal import pool

from symnb.kernels.base import BACKENDS

from ...core.test_ops_conv import BORDERS, STRIDES

# Every border mode with both strides and both flips, dilated or not (one module per dtype,
# kept small: its compile time is most of these tests' time).
CONV_CASES = [(b, STRIDES[i % 2], i % 2 == 0, ((1, 1), (2, 1))[i // 2 % 2]) for i, b in enumerate(BORDERS * 2)]
POOL_CASES = [(ws, s, p, ig, m) for m in pool.MODES for ws, s, p, ig in
              [((2, 2), None, (0, 0), True), ((3, 2), (1, 2), (1, 1), True), ((2, 3), (3, 1), (0, 0), False),
               ((3, 3), (2, 2), (2, 1), True)]]

pytestmark = pytest.mark.skipif(not BACKENDS["cpp"].available()[0], reason=BACKENDS["cpp"].available()[1])

TOL = {"float64": 1e-11, "float32": 3e-5}


def both(inputs, outputs, *values):
    ref = sn.function(inputs, outputs, backend="numpy")(*values)
    f = sn.function(inputs, outputs, backend="cpp")
    assert "fallback(" not in f.source, "a convolution or pooling node ran its Python reference"
    return ref, f(*values), f


def assert_close(ref, got, dtype):
    for r, g in zip(ref, got):
        assert g.dtype == r.dtype and g.shape == r.shape
        scale = max(float(np.abs(r).max()), 1.0) if r.size else 1.0
        np.testing.assert_allclose(g, r, rtol=TOL[dtype], atol=TOL[dtype] * scale)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_conv2d_and_gradients_match_reference(dtype):
    rng = np.random.default_rng(10)
    x, w = rng.standard_normal((3, 2, 9, 8)).astype(dtype), rng.standard_normal((4, 2, 3, 2)).astype(dtype)
    X, W = st.tensor4("x", dtype=dtype), st.tensor4("w", dtype=dtype)
    outs = []
    for b, s, f, d in CONV_CASES:
        y = conv2d(X, W, border_mode=b, subsample=s, filter_flip=f, filter_dilation=d)
        outs += [y, *sn.grad((y * y).sum(), [X, W])]
    ref, got, _ = both([X, W], outs, x, w)
    assert_close(ref, got, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_pool_2d_and_gradients_match_reference(dtype):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 3, 7, 6)).astype(dtype)
    x[0, 0, :2, :2] = 1.5                          # a tied maximum
    X = st.tensor4("x", dtype=dtype)
    outs = []
    for ws, s, p, ig, m in POOL_CASES:
        y = pool.pool_2d(X, ws, ignore_border=ig, stride=s, pad=p, mode=m)
        outs += [y, sn.grad((y * y).sum(), X)]
    ref, got, _ = both([X], outs, x)
    assert_close(ref, got, dtype)


def test_lenet_layers_threaded_strided_inputs_and_errors():
    """A batch big enough to split between threads, non-contiguous operands, then shapes
    that do not fit: a ValueError naming the node, never a crash."""
    rng = np.random.default_rng(12)
    X, W, V = st.ftensor4("x"), st.ftensor4("w"), st.ftensor4("v")
    y = pool.pool_2d(conv2d(X, W), (2, 2))
    cost = (y * V).sum()
    outs = [y, *sn.grad(cost, [X, W])]
    x = rng.standard_normal((16, 28, 6, 28)).astype("float32").transpose(0, 2, 1, 3)   # (16, 6, 28, 28)
    w = rng.standard_normal((12, 6, 5, 5)).astype("float32")
    v = rng.standard_normal((16, 12, 12, 12)).astype("float32")
    ref, got, f = both([X, W, V], outs, x, w, v)
    assert_close(ref, got, "float32")
    with pytest.raises(ValueError, match="channels"):
        f(x[:, :5], w, v)
    with pytest.raises(ValueError, match="does not fit"):
        f(x[:, :, :3, :3], w, v)
    # (too small an image leaves conv2d's output too small for V)
    with pytest.raises(ValueError):
        f(x[:, :, :20, :20], w, v)


def test_max_pool_propagates_nan_and_empty_outputs_as_the_reference():
    X = st.dmatrix("x")
    y = pool.pool_2d(X, (2, 2), stride=(1, 1))
    x = np.arange(12.0).reshape(3, 4)
    x[1, 1] = np.nan
    ref, got, _ = both([X], [y, sn.grad(y.sum(), X), pool.pool_2d(X, (4, 4))], x)
    for r, g in zip(ref, got):
        np.testing.assert_array_equal(g, r)
    assert np.isnan(got[0]).sum() == 4 and got[2].shape == (0, 1)     # (a window taller than the input)
