"""Scan on the CUDA backend: the body's kernels in the function's module, the loop in the
driver. Each graph compiles to PTX on any machine; on a GPU, results match the reference
(Elman forward and BPTT gradients, a Gibbs chain drawing the same bits, until)."""
import numpy as np

import symnb as sn
import symnb.tensor as st
from tests.core.test_scan import elman, gibbs_chain

from .checks import OnCuda


def both(inputs, outputs, args, updates=None, rtol=1e-10):
    want = sn.function(inputs, outputs, updates=updates, backend="numpy")(*args)
    got = OnCuda.function(inputs, outputs, updates=updates, backend="cuda")(*args)   # PTX, then the GPU or a skip
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)


def test_elman_forward_and_bptt():
    X, h0, W, U, b = st.dmatrix("X"), st.dvector("h0"), st.dmatrix("W"), st.dmatrix("U"), st.dvector("b")
    hs = elman(X, h0, W, U, b)
    cost = (hs ** 2).sum()
    rng = np.random.default_rng(0)
    args = [rng.normal(size=(7, 3)), rng.normal(size=4), rng.normal(size=(3, 4)) * 0.5,
            rng.normal(size=(4, 4)) * 0.5, rng.normal(size=4)]
    both([X, h0, W, U, b], [hs, *sn.grad(cost, [W, U, b, X])], args)


def test_gibbs_chain_draws_the_references_bits():
    v0, W = st.dmatrix("v0"), st.dmatrix("W")
    chains, updates = gibbs_chain(sn.RandomStream(seed=7), v0, W, 5)
    wv = np.random.default_rng(3).normal(size=(6, 4))
    both([v0, W], [chains], [np.ones((2, 6)), wv], updates=updates, rtol=0)


def test_until_stops_the_loop():
    x = st.dscalar("x")
    vals, _ = sn.scan(lambda v: (v * 2, sn.until(v * 2 > 100)), outputs_info=x, n_steps=50)
    both([x], [vals], [3.0], rtol=0)
