"""The RBM's compiled graphs against NumPy formulas, log Z against brute force, training,
save/load and the filter grid, on small RBMs."""
import itertools

import numpy as np
import pytest
from scipy.special import expit, logsumexp

from symnb.sampling import RBM, datasets


@pytest.fixture(scope="module")
def small():
    rbm = RBM(n_visible=9, n_hidden=5, seed=3, dtype="float64", weight_scale=0.8)
    rng = np.random.default_rng(0)
    rbm.b, rbm.c = rng.normal(0, 0.5, 9), rng.normal(0, 0.5, 5)
    return rbm


def test_conditionals_and_free_energy_match_numpy(small):
    rng = np.random.default_rng(1)
    V = (rng.random((7, 9)) < 0.5).astype(np.uint8)
    H = (rng.random((7, 5)) < 0.5).astype(np.uint8)
    W, b, c = small.W, small.b, small.c
    np.testing.assert_allclose(small.hidden_mean(V), expit(V @ W + c), rtol=1e-12)
    np.testing.assert_allclose(small.visible_mean(H), expit(H @ W.T + b), rtol=1e-12)
    np.testing.assert_allclose(small.free_energy(V), -(V @ b) - np.logaddexp(0, V @ W + c).sum(1), rtol=1e-12)


def test_free_energy_marginalizes_the_energy(small):
    """exp(-F(v)) = sum_h exp(-E(v, h)), by brute force over h."""
    W, b, c = small.W, small.b, small.c
    v = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1], np.uint8)
    Hs = np.array(list(itertools.product((0, 1), repeat=5)), float)
    energies = -(v @ b) - Hs @ c - (v @ W) @ Hs.T
    assert small.free_energy(v)[0] == pytest.approx(-logsumexp(-energies), rel=1e-12)


@pytest.mark.parametrize("shape", [(9, 5), (4, 11)])
def test_log_partition_against_brute_force(shape):
    rbm = RBM(*shape, seed=2, dtype="float64", weight_scale=1.0)
    W, b, c = rbm.W, rbm.b + 0.3, rbm.c - 0.2
    rbm.b, rbm.c = b, c
    V = np.array(list(itertools.product((0, 1), repeat=shape[0])), float)
    Hs = np.array(list(itertools.product((0, 1), repeat=shape[1])), float)
    E = -(V @ b)[:, None] - (Hs @ c)[None, :] - V @ W @ Hs.T
    assert rbm.log_partition() == pytest.approx(logsumexp(-E), rel=1e-12)


def test_gibbs_step_is_seeded_and_consistent(small):
    V = np.tile(np.array([1, 0, 1, 1, 0, 0, 1, 0, 1], np.uint8), (200, 1))
    h1, pv1, v1 = small.gibbs(V, seed=5)
    h2, pv2, v2 = small.gibbs(V, seed=5)
    assert np.array_equal(v1, v2) and np.array_equal(h1, h2)
    np.testing.assert_allclose(pv1, expit(h1 @ small.W.T + small.b), rtol=1e-12)
    # the draws follow the conditional: mean of h over 200 rows near P(h=1|v)
    assert np.abs(h1.mean(0) - small.hidden_mean(V[:1])[0]).max() < 0.15


def test_bad_arguments_are_clear(small):
    with pytest.raises(ValueError, match=r"shape \(N, 9\)"):
        small.free_energy(np.zeros((3, 8)))
    with pytest.raises(ValueError, match="binary"):
        small.fit(np.full((10, 9), 2), epochs=1)
    with pytest.raises(ValueError, match="method"):
        small.fit(np.zeros((10, 9)), method="sgd")


@pytest.mark.parametrize("method", ["pcd", "fpcd"])
def test_training_raises_data_likelihood(method, tmp_path):
    X, _ = datasets.modes(n=400, n_visible=10, n_modes=3, flip=0.05, seed=1)
    rbm = RBM(10, 6, seed=0, dtype="float64")
    before = -rbm.free_energy(X).mean() - rbm.log_partition()
    rbm.fit(X, method=method, epochs=20, batch_size=20, lr=0.1, progress=False)
    after = -rbm.free_energy(X).mean() - rbm.log_partition()
    assert after > before + 1.0, (before, after)
    assert rbm.history[-1][0] == method and len(rbm.history) == 20
    rbm.save(tmp_path / "r.npz")
    back = RBM.load(tmp_path / "r.npz")
    assert np.array_equal(back.W, rbm.W) and np.array_equal(back.c, rbm.c) and back.dtype == "float64"


def test_cd_k_trains():
    X, _ = datasets.modes(n=200, n_visible=10, n_modes=2, flip=0.05, seed=2)
    rbm = RBM(10, 4, seed=0, dtype="float64")
    err0 = rbm.reconstruction_error(X)
    rbm.fit(X, method="cd", k=2, epochs=10, batch_size=10, lr=0.1, progress=False)
    assert rbm.reconstruction_error(X) < err0 * 0.8


def test_filters_grid():
    rbm = RBM(16, 6, seed=0)
    grid = rbm.filters(n=6, shape=(4, 4), ncols=3, pad=1)
    assert grid.shape == (2 * 5 - 1, 3 * 5 - 1) and grid.min() >= 0 and grid.max() <= 1
    first = rbm.W[:, 0].reshape(4, 4)
    np.testing.assert_allclose(grid[:4, :4], (first - first.min()) / (first.max() - first.min()), rtol=1e-6)
