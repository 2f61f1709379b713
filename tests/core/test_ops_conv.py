"""conv2d and pool_2d (reference backend) against direct loops written from Theano's
definitions, their static shapes, their gradients by finite differences, and their errors."""
import itertools

import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st
from symnb.tensor.nnet import conv2d
from symnb.tensor.signal import pool

BORDERS = ["valid", "full", "half", 1, (2, 0)]
STRIDES = [(1, 1), (2, 3)]


def loop_conv(x, w, border, stride, flip, dil):
    """out[n, o, i, j] = sum over c, a, b of padded x at (i*s + a*d, j*s + b*d) times the
    (flipped) filter tap (a, b), one output element at a time."""
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    (sh, sw), (dh, dw) = stride, dil
    ph, pw = {"valid": (0, 0), "full": (dh * (kh - 1), dw * (kw - 1)), "half": (dh * (kh // 2), dw * (kw // 2))}.get(
        border, (border, border) if isinstance(border, int) else border)
    xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), x.dtype)
    xp[:, :, ph:ph + H, pw:pw + W] = x
    wf = w[:, :, ::-1, ::-1] if flip else w
    oh, ow = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((N, O, oh, ow), "float64")
    for n, o, i, j in itertools.product(range(N), range(O), range(oh), range(ow)):
        for c, a, b in itertools.product(range(C), range(kh), range(kw)):
            out[n, o, i, j] += float(xp[n, c, i * sh + a * dh, j * sw + b * dw]) * float(wf[o, c, a, b])
    return out


def loop_pool(x, ws, stride, pad, ignore_border, mode):
    """Theano's Pool.perform, one window at a time: windows start every `stride` in the padded
    input, are cut at its end, and (except for average_inc_pad) to the unpadded input."""
    H, W = x.shape[-2:]
    Hp, Wp = H + 2 * pad[0], W + 2 * pad[1]
    y = np.zeros(x.shape[:-2] + (Hp, Wp))
    y[..., pad[0]:pad[0] + H, pad[1]:pad[1] + W] = x

    def count(n, w, s, p):
        if ignore_border:
            return (n + 2 * p - w) // s + 1
        return (n - 1) // s + 1 if s >= w else max(0, (n - 1 - w + s) // s) + 1
    oh, ow = count(H, ws[0], stride[0], pad[0]), count(W, ws[1], stride[1], pad[1])
    out = np.zeros(x.shape[:-2] + (oh, ow))
    for k in np.ndindex(*x.shape[:-2]):
        for i, j in itertools.product(range(oh), range(ow)):
            r0, c0 = i * stride[0], j * stride[1]
            r1, c1 = min(r0 + ws[0], Hp), min(c0 + ws[1], Wp)
            if mode != "average_inc_pad":
                r0, c0, r1, c1 = max(r0, pad[0]), max(c0, pad[1]), min(r1, H + pad[0]), min(c1, W + pad[1])
            region = y[k][r0:r1, c0:c1]
            out[k + (i, j)] = {"max": region.max, "sum": region.sum}.get(mode, region.mean)()
    return out


def test_theano_import_paths():
    import symnb.tensor.signal.pool as pool_module
    assert st.nnet.__name__ == "symnb.tensor.nnet" and st.nnet.conv2d is st.conv2d is conv2d
    assert st.nnet.softmax is st.softmax and st.nnet.sigmoid is st.sigmoid
    assert st.signal.pool is pool is pool_module and pool.pool_2d is st.pool_2d


def conv_cases():
    return [(b, s, f, d) for b in BORDERS for s in STRIDES for f in (True, False) for d in ((1, 1), (2, 1))]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_conv2d_matches_direct_loop(dtype):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3, 9, 8)).astype(dtype), rng.standard_normal((4, 3, 3, 2)).astype(dtype)
    X, Wv = st.tensor4("x", dtype=dtype), st.tensor4("w", dtype=dtype)
    cases = conv_cases()
    outs = [conv2d(X, Wv, border_mode=b, subsample=s, filter_flip=f, filter_dilation=d) for b, s, f, d in cases]
    got = sn.function([X, Wv], outs, backend="numpy")(x, w)
    for case, out, value in zip(cases, outs, got):
        assert value.dtype == dtype and out.type.accepts_shape(value.shape), case
        np.testing.assert_allclose(value, loop_conv(x, w, *case), rtol=1e-5 if dtype == "float32" else 1e-12,
                                   atol=1e-5 if dtype == "float32" else 1e-12, err_msg=str(case))


def test_conv2d_static_shapes_and_hints():
    x, w = st.tensor("x", "float32", (8, 3, 28, 28)), st.tensor("w", "float32", (20, 3, 5, 5))
    assert conv2d(x, w).type.shape == (8, 20, 24, 24)
    assert conv2d(x, w, border_mode="full", subsample=(2, 2)).type.shape == (8, 20, 16, 16)
    assert conv2d(x, w, border_mode="half").type.shape == (8, 20, 28, 28)
    assert conv2d(st.ftensor4("x"), w).type.shape == (None, 20, None, None)
    assert conv2d(x, st.ftensor4("w"), border_mode=(1, 2)).type.shape == (8, None, None, None)
    assert conv2d(st.dtensor4(), w).dtype == "float64"          # operands promoted, as Theano
    assert conv2d(x, w, input_shape=(8, 3, 28, 28), filter_shape=(20, 3, 5, 5)).type.shape == (8, 20, 24, 24)
    with pytest.raises(ValueError, match="filter_shape"):
        conv2d(x, w, filter_shape=(10, 3, 5, 5))


def test_conv2d_errors_name_the_problem():
    x, w = st.tensor("x", "float64", (1, 3, 4, 4)), st.tensor("w", "float64", (2, 2, 3, 3))
    with pytest.raises(ValueError, match="3 channels"):
        conv2d(x, w)
    with pytest.raises(ValueError, match="do not fit"):
        conv2d(x, st.tensor("w", "float64", (2, 3, 5, 5)))
    with pytest.raises(ValueError, match="border_mode"):
        conv2d(st.dtensor4(), st.dtensor4(), border_mode="same")
    with pytest.raises(TypeError, match="4-d"):
        conv2d(st.dmatrix(), st.dtensor4())
    X, W = st.dtensor4("x"), st.dtensor4("w")
    f = sn.function([X, W], conv2d(X, W), backend="numpy")
    with pytest.raises(ValueError, match="channels"):
        f(np.zeros((1, 2, 5, 5)), np.zeros((1, 3, 2, 2)))


@pytest.mark.parametrize("border,stride,flip,dil", [("valid", (1, 1), True, (1, 1)), ("full", (2, 1), False, (1, 1)),
                                                   ("half", (1, 2), True, (2, 1)), ((1, 2), (2, 2), False, (1, 1))])
def test_conv2d_gradients_by_finite_differences(border, stride, flip, dil):
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 2, 5, 6)), rng.standard_normal((3, 2, 3, 2))
    sn.verify_grad(lambda a, b: conv2d(a, b, border_mode=border, subsample=stride, filter_flip=flip,
                                       filter_dilation=dil), [x, w], rng=rng)


def test_conv2d_second_order_gradients():
    """The gradient ops' own gradients (used by Hessian-vector products) are right too."""
    rng = np.random.default_rng(3)
    x, w, v = rng.standard_normal((1, 2, 5, 5)), rng.standard_normal((2, 2, 3, 3)), rng.standard_normal((1, 2, 5, 3))

    def grads(a, b, c):
        y = conv2d(a, b, border_mode=1, subsample=(1, 2))
        ga, gb = sn.grad((y * c).sum(), [a, b])
        return (ga ** 2).sum() + (gb ** 2).sum() + (ga * a).sum()
    sn.verify_grad(grads, [x, w, v], rng=rng)


def pool_cases():
    windows = [((2, 2), None), ((3, 2), (1, 2)), ((2, 3), (3, 1)), ((3, 3), (2, 2))]
    out = []
    for mode in pool.MODES:
        for (ws, stride), ignore, pad in itertools.product(windows, (True, False), ((0, 0), (1, 1), (2, 1))):
            if (pad == (0, 0) or ignore) and pad[0] < ws[0] and pad[1] < ws[1]:
                out.append((ws, stride, pad, ignore, mode))
    return out


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_pool_2d_matches_direct_loop(dtype):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 7, 6)).astype(dtype)
    X = st.tensor4("x", dtype=dtype)
    cases = pool_cases()
    outs = [pool.pool_2d(X, ws, ignore_border=ig, stride=s, pad=p, mode=m) for ws, s, p, ig, m in cases]
    got = sn.function([X], outs, backend="numpy")(x)
    for (ws, s, p, ig, m), out, value in zip(cases, outs, got):
        assert value.dtype == dtype and out.type.accepts_shape(value.shape)
        np.testing.assert_allclose(value, loop_pool(x, ws, s or ws, p, ig, m), rtol=1e-6 if dtype == "float32"
                                   else 1e-13, atol=1e-6, err_msg=str((ws, s, p, ig, m)))


def test_pool_2d_shapes_leading_axes_and_errors():
    x = st.tensor("x", "float64", (5, 4, 2, 9, 9))
    assert pool.pool_2d(x, (2, 2)).type.shape == (5, 4, 2, 4, 4)
    assert pool.pool_2d(x, (2, 2), ignore_border=False).type.shape == (5, 4, 2, 5, 5)
    assert pool.pool_2d(x, (3, 3), stride=(2, 2), pad=(1, 1)).type.shape == (5, 4, 2, 5, 5)
    assert st.pool_2d(st.dmatrix(), ws=(2, 2), mode="average").owner.op.mode == "average_inc_pad"
    v = np.random.default_rng(5).standard_normal((3, 5, 7))
    X = st.dtensor3("x")
    got = sn.function([X], pool.pool_2d(X, (2, 3), ignore_border=False, mode="sum"), backend="numpy")(v)
    np.testing.assert_allclose(got, loop_pool(v, (2, 3), (2, 3), (0, 0), False, "sum"), rtol=1e-13)
    empty = pool.pool_2d(X, (2, 2))                         # a window larger than the input: no output
    assert sn.function([X], empty, backend="numpy")(np.ones((2, 1, 1))).shape == (2, 0, 0)
    with pytest.raises(ValueError, match="ignore_border"):
        pool.pool_2d(X, (2, 2), pad=(1, 1), ignore_border=False)
    with pytest.raises(ValueError, match="smaller than the window"):
        pool.pool_2d(X, (2, 2), pad=(2, 0))
    with pytest.raises(ValueError, match="mode"):
        pool.pool_2d(X, (2, 2), mode="median")


@pytest.mark.parametrize("mode", pool.MODES)
def test_pool_2d_gradients_by_finite_differences(mode):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, 2, 5, 6))
    for ws, stride, pad, ignore in [((2, 2), None, (0, 0), True), ((3, 2), (1, 2), (1, 1), True),
                                    ((2, 3), (2, 2), (0, 0), False)]:
        sn.verify_grad(lambda a: pool.pool_2d(a, ws, ignore_border=ignore, stride=stride, pad=pad, mode=mode),
                       [x], rng=rng)


def test_max_pool_gradient_goes_to_every_tied_maximum():
    X = st.dmatrix("x")
    g = sn.grad(pool.pool_2d(X, (2, 2), stride=(1, 1)).sum(), X)
    value = sn.function([X], g, backend="numpy")(np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 3.0]]))
    np.testing.assert_array_equal(value, [[1, 1, 0], [1, 0, 1]])   # window 1: three maxima; window 2: one


@pytest.mark.parametrize("mode", ["max", "average_exc_pad"])
def test_pool_second_order_gradients(mode):
    rng = np.random.default_rng(7)
    x, v = rng.standard_normal((1, 1, 5, 5)), rng.standard_normal((1, 1, 3, 3))

    def f(a, c):
        g = sn.grad((pool.pool_2d(a, (3, 3), stride=(2, 2), pad=(1, 1), mode=mode) * c).sum(), a)
        return (g * g).sum() + (g * a).sum()
    sn.verify_grad(f, [x, v], rng=rng)
