"""Mixing metrics against direct NumPy computations on tiny cases; exact enumeration and TV
on a small RBM; the classifier and mode-hopping counts."""
import itertools

import numpy as np
import pytest

from symnb.sampling import RBM, Gibbs, RatesFPCD, datasets, mixing


def test_isl_matches_direct_parzen():
    rng = np.random.default_rng(0)
    S = (rng.random((6, 5)) < 0.5).astype(np.uint8)
    T = (rng.random((4, 5)) < 0.5).astype(np.uint8)
    beta = 0.8
    direct = [np.log(np.mean([np.prod([beta if x[d] == s[d] else 1 - beta for d in range(5)]) for s in S]))
              for x in T]
    np.testing.assert_allclose(mixing.parzen_log_density(T, S, beta), direct, rtol=1e-10)
    # the bandwidth is the grid point that scores best on validation data
    V = (rng.random((5, 5)) < 0.5).astype(np.uint8)
    betas = (0.6, 0.75, 0.9)
    best = max(betas, key=lambda b: mixing.parzen_log_density(V, S, b).mean())
    value, chosen = mixing.isl(S, T, V, betas=betas)
    assert chosen == best and value == pytest.approx(mixing.parzen_log_density(T, S, best).mean())
    with pytest.raises(ValueError, match="beta"):
        mixing.parzen_log_density(T, S, 0.4)


def test_csl_matches_direct():
    rng = np.random.default_rng(1)
    P = rng.uniform(0.05, 0.95, (7, 4))
    T = (rng.random((3, 4)) < 0.5).astype(np.uint8)
    direct = np.mean([np.log(np.mean([np.prod(p ** x * (1 - p) ** (1 - x)) for p in P])) for x in T])
    assert mixing.csl(P, T) == pytest.approx(direct, rel=1e-10)


def test_autocorrelation_of_ar1():
    """AR(1) with coefficient a has IAT (1 + a) / (1 - a)."""
    rng = np.random.default_rng(2)
    a, n = 0.8, 100000
    x = np.empty(n)
    x[0] = 0
    e = rng.normal(size=n)
    for t in range(1, n):
        x[t] = a * x[t - 1] + e[t]
    assert mixing.integrated_autocorrelation_time(x) == pytest.approx(9.0, rel=0.15)
    assert mixing.effective_sample_size(x) == pytest.approx(n / 9.0, rel=0.15)
    assert mixing.integrated_autocorrelation_time(rng.normal(size=(5000, 3))) == pytest.approx(1.0, abs=0.2)


def test_mode_hopping_counts():
    labels = np.array([[0, 1], [0, 1], [1, 1], [2, 1], [2, 1]])
    np.testing.assert_allclose(mixing.class_changes(labels, per=4), [2, 0])
    assert list(mixing.classes_visited(labels)) == [3, 1]


def test_classifier_learns_separated_modes():
    X, y = datasets.modes(n=600, n_visible=20, n_modes=4, flip=0.05, seed=3)
    clf = mixing.Classifier(n_in=20, n_hidden=16, n_classes=4).fit(X[:500], y[:500], epochs=20, lr=0.5)
    assert clf.accuracy(X[500:], y[500:]) > 0.95
    assert clf.predict(np.stack([X[:3], X[3:6]])).shape == (2, 3)


def test_exact_distribution_and_tv():
    rbm = RBM(6, 3, seed=1, dtype="float64", weight_scale=1.0)
    p = mixing.exact_distribution(rbm)
    V = mixing.all_states(6)
    assert np.allclose(np.exp(-rbm.free_energy(V) - rbm.log_partition()), p, rtol=1e-10)
    assert mixing.state_index(V[[0, 5, 63]]).tolist() == [0, 5, 63]
    assert mixing.tv_distance(V[[5, 5]], np.eye(64)[5]) == 0
    assert mixing.tv_distance(V[[5, 6]], np.eye(64)[5]) == pytest.approx(0.5)
    floor = mixing.tv_floor(p, [10, 1000], n_chains=2, repeats=5)
    assert floor[0] > floor[1] > 0


def test_samplers_approach_the_exact_distribution():
    """On a 10-6 RBM of a multi-modal set both samplers' TV falls toward the floor."""
    X, _ = datasets.modes(n=400, n_visible=10, n_modes=3, flip=0.05, seed=1)
    rbm = RBM(10, 6, seed=0, dtype="float64", weight_scale=1.0)
    rng = np.random.default_rng(0)
    rbm.b, rbm.c = rng.normal(0, 0.3, 10), rng.normal(0, 0.3, 6)      # the samplers' test RBM
    p = mixing.exact_distribution(rbm)
    steps = [100, 3000]
    floor = mixing.tv_floor(p, steps, n_chains=4, repeats=5)
    for sampler in (Gibbs(rbm, n_chains=4, seed=7, init="data", data=X),
                    RatesFPCD(rbm, data=X, n_chains=4, eps_f=0.0, eta=0.95, seed=7, init="data")):
        tv = mixing.tv_curve(sampler.run(3000), p, steps)
        assert tv[1] < tv[0] and tv[1] < floor[1] + 0.1, (tv, floor)


def test_all_states_order():
    assert [tuple(r) for r in mixing.all_states(3)] == list(itertools.product((0, 1), repeat=3))
