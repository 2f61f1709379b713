"""Gibbs, rates-FPCD and herding on a small RBM: eps_f = 0 is Gibbs bit for bit, the fast
weights follow the update rule computed in NumPy, seeds reproduce, bad arguments are clear."""
import numpy as np
import pytest
from scipy.special import expit

from symnb.sampling import RBM, Gibbs, Herding, RatesFPCD, datasets, rates

N_VIS, N_HID, M = 10, 6, 4


@pytest.fixture(scope="module")
def setup():
    X, _ = datasets.modes(n=300, n_visible=N_VIS, n_modes=3, flip=0.05, seed=1)
    rbm = RBM(N_VIS, N_HID, seed=0, dtype="float64", weight_scale=1.0)
    rng = np.random.default_rng(0)
    rbm.b, rbm.c = rng.normal(0, 0.3, N_VIS), rng.normal(0, 0.3, N_HID)
    return rbm, X


@pytest.mark.parametrize("per_chain", [False, True])
def test_eps_zero_is_gibbs_bit_for_bit(setup, per_chain):
    rbm, X = setup
    g = Gibbs(rbm, n_chains=M, seed=7, init="data", data=X)
    s = RatesFPCD(rbm, data=X, n_chains=M, eps_f=0.0, eta=0.95, seed=7, init="data", per_chain=per_chain)
    a, b = g.run(300), s.run(300)
    assert a.dtype == np.uint8 and a.shape == (300, M, N_VIS)
    assert np.array_equal(a, b)
    assert len({r.tobytes() for r in a.reshape(-1, N_VIS)}) > 20      # the chains do move
    assert np.array_equal(g.mean, s.mean)


def test_seed_and_reset_reproduce(setup):
    rbm, X = setup
    s = RatesFPCD(rbm, data=X, n_chains=M, eps_f=0.05, eta=0.9, seed=3, init="noise")
    a = s.run(50)
    s.reset()
    assert s.t == 0 and not np.abs(s.fast_weights[0]).any()
    b = s.run(50)
    c = RatesFPCD(rbm, data=X, n_chains=M, eps_f=0.05, eta=0.9, seed=3, init="noise").run(50)
    d = RatesFPCD(rbm, data=X, n_chains=M, eps_f=0.05, eta=0.9, seed=4, init="noise").run(50)
    assert np.array_equal(a, b) and np.array_equal(a, c) and not np.array_equal(a, d)
    assert np.array_equal(s.v, a[-1])


def test_fast_weights_follow_the_rule(setup):
    """W_f <- eta W_f + eps_f (R_W - S_W), S from the new v and P(h=1|v) under W + W_f."""
    rbm, X = setup
    eps, eta = 0.07, 0.8
    s = RatesFPCD(rbm, data=X, n_chains=M, eps_f=eps, eta=eta, seed=2, init="data")
    W, b, c = rbm.W, rbm.b, rbm.c
    ph = expit(X @ W + c)
    RW, Rb, Rc = X.T @ ph / len(X), X.mean(0), ph.mean(0)
    for R, r in zip((RW, Rb, Rc), s.rates):
        np.testing.assert_allclose(r, R, rtol=1e-10)
    Wf, bf, cf = np.zeros_like(W), np.zeros_like(b), np.zeros_like(c)
    for _ in range(3):
        v = s.step().astype(float)
        hm = expit(v @ (W + Wf) + c + cf)
        Wf, bf, cf = (eta * Wf + eps * (RW - v.T @ hm / M), eta * bf + eps * (Rb - v.mean(0)),
                      eta * cf + eps * (Rc - hm.mean(0)))
        for got, want in zip(s.fast_weights, (Wf, bf, cf)):
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_per_chain_fast_weights_are_per_chain(setup):
    rbm, X = setup
    s = RatesFPCD(rbm, data=X, n_chains=M, eps_f=0.1, eta=0.9, seed=2, init="data", per_chain=True)
    v = s.step().astype(float)
    Wf = s.fast_weights[0]
    assert Wf.shape == (M, N_VIS, N_HID)
    hm = expit(v @ rbm.W + rbm.c)
    np.testing.assert_allclose(Wf[1], 0.1 * (s.rates[0] - np.outer(v[1], hm[1])), rtol=1e-9)


def test_herding_takes_the_most_probable_states(setup):
    rbm, X = setup
    s = Herding(rbm, data=X, n_chains=M, eps_f=0.0, eta=1.0, seed=0, init="data")
    v0 = s.v.astype(float)
    v1 = s.step()
    h = (v0 @ rbm.W + rbm.c > 0).astype(float)
    assert np.array_equal(v1, (h @ rbm.W.T + rbm.b > 0).astype(np.uint8))


def test_bad_arguments(setup):
    rbm, X = setup
    with pytest.raises(ValueError, match=r"shape \(N, 10\)"):
        RatesFPCD(rbm, data=X[:, :5], n_chains=M)
    with pytest.raises(ValueError, match="binary"):
        RatesFPCD(rbm, data=X * 3, n_chains=M)
    with pytest.raises(ValueError, match="eps_f"):
        RatesFPCD(rbm, data=X, eps_f=-0.1)
    for eta in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="eta"):
            RatesFPCD(rbm, data=X, eta=eta)
    with pytest.raises(ValueError, match="data="):
        RatesFPCD(rbm, n_chains=M)
    with pytest.raises(ValueError, match="init"):
        Gibbs(rbm, n_chains=M, init=np.zeros((M + 1, N_VIS)))
    with pytest.raises(ValueError, match="init"):
        Gibbs(rbm, n_chains=M, init="ones")
    with pytest.raises(ValueError, match="n_chains"):
        Gibbs(rbm, n_chains=0)
    s = RatesFPCD(rbm, data=X, n_chains=M)
    with pytest.raises(ValueError, match="eps_f"):
        s.eps_f = -1
    assert rates(rbm, X)[1].shape == (N_VIS,)


def test_rates_follow_new_parameters():
    """The data rates a rates-FPCD sampler starts from are cached per data array, and a new
    W, b or c makes them stale."""
    X, _ = datasets.modes(n=100, n_visible=N_VIS, n_modes=3, flip=0.05, seed=2)
    rbm = RBM(N_VIS, N_HID, seed=1, dtype="float64", weight_scale=1.0)
    first = RatesFPCD(rbm, data=X, n_chains=2, seed=0).rates
    for name in ("W", "b", "c"):
        setattr(rbm, name, getattr(rbm, name) * 1.5 + 0.1)
        now = RatesFPCD(rbm, data=X, n_chains=2, seed=0).rates
        assert all(np.array_equal(a, b) for a, b in zip(now, rates(rbm, X))), name
        if name != "b":      # the hidden rates read W and c, not b
            assert not all(np.array_equal(a, b) for a, b in zip(now, first)), name
        first = now
