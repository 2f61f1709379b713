"""Scan compiled by the C++ backend (one native loop in the module) against the reference
backend and NumPy loops: taps, mapped outputs, BPTT, random chains, until, bad calls."""
import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st
from symnb.kernels.base import BACKENDS
from tests.core.test_scan import elman, gibbs_chain, numpy_elman, power

pytestmark = pytest.mark.skipif(not BACKENDS["cpp"].available()[0], reason="no C++ compiler")


def both(inputs, outputs, *args):
    """The outputs of the reference and the C++ function (which must agree), from the C++ one."""
    want = sn.function(inputs, outputs, backend="numpy")(*args)
    f = sn.function(inputs, outputs, backend="cpp")
    got = f(*args)
    for a, b in zip(got if isinstance(got, list) else [got], want if isinstance(want, list) else [want]):
        assert a.shape == b.shape and a.dtype == b.dtype
        assert np.allclose(a, b, rtol=1e-5, atol=1e-6)
    assert "auto body = [&](Arr** v)" in f.source        # the loop is in the module
    return got


def test_power_taps_mapped_outputs_and_step_counts():
    A, k = st.dvector("A"), st.iscalar("k")
    res = power(A, k)
    a = np.array([0.5, 1.5, -2.0])
    for n in (0, 1, 5):
        r, g = both([A, k], [res, sn.grad((res ** 2).sum(), A)], a, n)
        assert np.allclose(r, np.reshape([a ** i for i in range(1, n + 1)], (n, 3)))
    x, y0 = st.dvector("x"), st.dvector("y0")
    (ys, zs), _ = sn.scan(lambda a, b, y3, y1: (a + b + 0.5 * y1 - 0.25 * y3, st.stack([a, y1])),
                          sequences=dict(input=x, taps=[-2, 0]),
                          outputs_info=[dict(initial=y0, taps=[-3, -1]), None])
    gx, gy0 = sn.grad((ys ** 2).sum() + zs.sum(), [x, y0])
    both([x, y0], [ys, zs, gx, gy0], np.arange(1.0, 9.0), np.array([0.1, -0.2, 0.3]))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_elman_rnn_forward_and_backward(dtype):
    rng = np.random.default_rng(0)
    X, h0 = rng.normal(size=(7, 4, 3)), rng.normal(size=(4, 6)) * 0.5
    W, U, b = rng.normal(size=(3, 6)) * 0.4, rng.normal(size=(6, 6)) * 0.4, rng.normal(size=6) * 0.1
    gh = rng.normal(size=(7, 4, 6))
    sX, sh0, sW, sU = (st.tensor(n, dtype, (None,) * d) for n, d in [("X", 3), ("h0", 2), ("W", 2), ("U", 2)])
    sb = st.tensor("b", dtype, (None,))
    hs = elman(sX, sh0, sW, sU, sb)
    cost = (hs * gh.astype(dtype)).sum()
    vals = [v.astype(dtype) for v in (X, h0, W, U, b)]
    got = both([sX, sh0, sW, sU, sb], [hs] + sn.grad(cost, [sX, sh0, sW, sU, sb]), *vals)
    tol = 1e-4 if dtype == "float32" else 1e-8
    for a, e in zip(got, numpy_elman(X, h0, W, U, b, gh)):
        assert np.allclose(a, e, rtol=tol, atol=tol)


def test_random_chain_identical_between_backends_and_continues():
    v0, W = st.dmatrix("v0"), st.dmatrix("W")
    wv = np.random.default_rng(3).normal(size=(6, 4))
    runs = {}
    for backend in ("numpy", "cpp"):
        chains, updates = gibbs_chain(sn.RandomStream(seed=11), v0, W, 5)
        f = sn.function([v0, W], chains, updates=updates, backend=backend)
        runs[backend] = [f(np.zeros((3, 6)), wv) for _ in range(2)]
    assert all(np.array_equal(a, b) for a, b in zip(runs["numpy"], runs["cpp"]))
    assert not np.array_equal(runs["cpp"][0], runs["cpp"][1])


def test_until_and_nested_scan():
    x0 = st.dscalar("x0")
    r, _ = sn.scan(lambda x: (2 * x, sn.until(2 * x > 100)), outputs_info=x0, n_steps=50)
    assert both([x0], [r, sn.grad(r.sum(), x0)], 1.0)[0].tolist() == [2, 4, 8, 16, 32, 64, 128]
    # A scan in a scan: row sums of running products.
    M = st.dmatrix("M")
    rows, _ = sn.scan(lambda row: sn.scan(lambda x, acc: acc * x, sequences=row, outputs_info=st.constant(1.0))[0][-1],
                      sequences=M)
    m = np.arange(1.0, 7.0).reshape(2, 3)
    assert np.allclose(both([M], [rows, sn.grad(rows.sum(), M)], m)[0], m.prod(axis=1))


def test_errors_name_the_sequence_and_output():
    x, n = st.dvector("x"), st.iscalar("n")
    ys, _ = sn.scan(lambda a, s: s + a, sequences=x, outputs_info=st.constant(0.0), n_steps=n)
    f = sn.function([x, n], ys, backend="cpp")
    with pytest.raises(ValueError, match=r"n_steps is 5, but sequences\[0\] \('x', tap 0\) gives only 3 steps"):
        f(np.ones(3), 5)
    with pytest.raises(ValueError, match="n_steps must be >= 0"):
        f(np.ones(3), -1)
    grow, _ = sn.scan(lambda h: st.concatenate([h, h]), outputs_info=x, n_steps=2)
    g = sn.function([x], grow, backend="cpp")
    with pytest.raises(ValueError, match=r"output 0 \('x'\) of the body has shape \(4,\) at step 0, but its initial "
                                         r"state has shape \(2,\)"):
        g(np.ones(2))
    assert np.allclose(f(np.ones(3), 2), [1, 2])        # the module is still usable


def test_100000_steps_returning_the_last_state_run_in_constant_memory():
    import tracemalloc
    x0, k = st.dvector("x0"), st.iscalar("k")
    res, _ = sn.scan(lambda x: x * 0.5 + 1, outputs_info=x0, n_steps=k)
    f = sn.function([x0, k], res[-1], backend="cpp")
    peaks = []
    for n in (10, 100_000):     # the whole history of 100,000 steps would be 800 MB
        tracemalloc.start()
        out = f(np.zeros(1000), n)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert np.allclose(out, 2 - 2 * 0.5 ** n)
    assert peaks[1] <= peaks[0] + 64 * 1024 and peaks[1] < 1e6
