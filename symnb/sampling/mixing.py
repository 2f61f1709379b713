"""Mixing metrics for sampler output: ISL (binary-kernel Parzen), CSL (Bengio et al. 2013),
mode hopping through a classifier trained with symnb, ESS and integrated autocorrelation
time, and the exact distribution of a small RBM with the TV distance of samples to it.

Last stage of the sampling flow: samplers -> mixing (this file) -> benchmarks, notebooks.
"""
from __future__ import annotations

import itertools

import numpy as np
from scipy.special import logsumexp

import symnb as sn
import symnb.tensor as st


# ----------------------------------------------------------------------------- Parzen / ISL
def _as_float(a):
    return np.ascontiguousarray(np.asarray(a).reshape(len(a), -1), dtype=np.float32)


def hamming(A, B):
    """Hamming distances between the binary rows of A (n, d) and B (m, d): (n, m), via
    one matrix product: d(a, b) = |a| + |b| - 2 a.b."""
    A, B = _as_float(A), _as_float(B)
    return A.sum(1)[:, None] + B.sum(1)[None, :] - 2 * (A @ B.T)


def parzen_log_density(X, samples, beta, chunk=500):
    """log p(x) for each row of X under the binary-kernel Parzen density of `samples`:
    p(x) = 1/N sum_i prod_d beta^[x_d = s_id] (1 - beta)^[x_d != s_id], 0.5 < beta < 1."""
    if not 0.5 < beta < 1:
        raise ValueError(f"beta: expected 0.5 < beta < 1, got {beta}")
    samples = _as_float(samples)
    d, n = samples.shape[1], len(samples)
    out = np.empty(len(X))
    for i in range(0, len(X), chunk):
        h = hamming(X[i:i + chunk], samples).astype(np.float64)
        out[i:i + chunk] = logsumexp((d - h) * np.log(beta) + h * np.log1p(-beta), axis=1) - np.log(n)
    return out


BETAS = tuple(np.round(np.concatenate([np.arange(0.80, 0.99, 0.01), [0.985, 0.99, 0.995]]), 4))


def choose_beta(samples, X_valid, betas=BETAS):
    """The bandwidth with the highest mean validation log-density."""
    samples, X_valid = _as_float(samples), _as_float(X_valid)
    d = samples.shape[1]
    h = np.concatenate([hamming(X_valid[i:i + 500], samples) for i in range(0, len(X_valid), 500)]).astype(np.float64)
    n = len(samples)
    scores = [np.mean(logsumexp((d - h) * np.log(b) + h * np.log1p(-b), axis=1) - np.log(n)) for b in betas]
    return float(betas[int(np.argmax(scores))])


def isl(samples, X_test, X_valid, betas=BETAS):
    """Indirect sampling likelihood: mean log-density of X_test under the Parzen density of
    `samples` (n, d), bandwidth chosen on X_valid. Returns (isl, beta)."""
    beta = choose_beta(samples, X_valid, betas)
    return float(parzen_log_density(X_test, samples, beta).mean()), beta


def isl_curve(samples, X_test, X_valid, sizes=(100, 1000, 10000)):
    """ISL from the first N samples for each N in sizes (those not above len(samples))."""
    return {n: isl(samples[:n], X_test, X_valid)[0] for n in sizes if n <= len(samples)}


def csl(means, X_test, eps=1e-6, chunk=500):
    """Conservative sampling-based likelihood (Bengio, Yao, Alain & Vincent 2013): the mean
    over X_test of log 1/N sum_i P(x | h_i), with P(v=1|h_i) = means[i] from the chain."""
    P = np.clip(np.asarray(means, np.float64).reshape(len(means), -1), eps, 1 - eps)
    logp, log1p = np.log(P), np.log1p(-P)
    base = log1p.sum(1)
    X = _as_float(X_test).astype(np.float64)
    out = np.empty(len(X))
    for i in range(0, len(X), chunk):
        ll = X[i:i + chunk] @ (logp - log1p).T + base
        out[i:i + chunk] = logsumexp(ll, axis=1) - np.log(len(P))
    return float(out.mean())


# ----------------------------------------------------------------------------- classifier, modes
class Classifier:
    """A 784-h-10 tanh MLP trained with symnb (minibatch SGD on cross-entropy); predict
    gives the class of each image (binary or P(v=1|h) means)."""

    def __init__(self, n_in=784, n_hidden=256, n_classes=10, seed=0):
        rng = np.random.default_rng(seed)
        s = np.sqrt(6 / (n_in + n_hidden))
        self.params = [sn.shared(rng.uniform(-s, s, (n_in, n_hidden)).astype(np.float32), name="W1"),
                       sn.shared(np.zeros(n_hidden, np.float32), name="b1"),
                       sn.shared(np.zeros((n_hidden, n_classes), np.float32), name="W2"),
                       sn.shared(np.zeros(n_classes, np.float32), name="b2")]
        X = st.fmatrix("X")
        W1, b1, W2, b2 = self.params
        p = st.softmax(st.dot(st.tanh(st.dot(X, W1) + b1), W2) + b2)
        y, lr = st.lvector("y"), st.fscalar("lr")
        cost = st.categorical_crossentropy(p, y).mean()
        grads = sn.grad(cost, self.params)
        self._train = sn.function([X, y, lr], cost, updates=[(q, q - lr * g) for q, g in zip(self.params, grads)],
                                  backend="cpp")
        self._predict = sn.function([X], st.argmax(p, axis=1), backend="cpp")

    def fit(self, X, y, epochs=5, batch_size=100, lr=0.1, seed=0):
        rng = np.random.default_rng(seed)
        X, y = _as_float(X), np.asarray(y, np.int64)
        for _ in range(epochs):
            order = rng.permutation(len(X))
            for i in range(0, len(X) - batch_size + 1, batch_size):
                idx = order[i:i + batch_size]
                self._train(X[idx], y[idx], np.float32(lr))
        return self

    def predict(self, X):
        X = np.asarray(X)
        flat = _as_float(X.reshape(-1, X.shape[-1]))
        return self._predict(flat).reshape(X.shape[:-1])

    def accuracy(self, X, y):
        return float((self.predict(X) == np.asarray(y)).mean())


def class_changes(labels, per=1000):
    """Class changes per `per` steps of each chain; labels (steps, chains) -> (chains,)."""
    labels = np.asarray(labels)
    return (labels[1:] != labels[:-1]).sum(0) * per / max(len(labels) - 1, 1)


def classes_visited(labels):
    """Number of distinct classes each chain visited; labels (steps, chains) -> (chains,)."""
    labels = np.asarray(labels)
    return np.array([len(np.unique(labels[:, j])) for j in range(labels.shape[1])])


# ----------------------------------------------------------------------------- autocorrelation
def integrated_autocorrelation_time(x, c=5.0):
    """Integrated autocorrelation time of a trace (Sokal's automatic window: the smallest
    M with M >= c tau(M)); x (steps,) or (steps, chains) averaged over chains."""
    x = np.asarray(x, np.float64)
    x = x[:, None] if x.ndim == 1 else x
    n = len(x)
    xc = x - x.mean(0)
    f = np.fft.rfft(xc, n=2 * n, axis=0)
    acf = np.fft.irfft(f * np.conj(f), axis=0)[:n].mean(1)
    if acf[0] <= 0:
        return 1.0          # a constant trace: no information on correlation
    rho = acf / acf[0]
    taus = 2 * np.cumsum(rho) - 1
    window = np.arange(n) >= c * taus
    m = int(np.argmax(window)) if window.any() else n - 1
    return float(max(taus[m], 1.0))


def effective_sample_size(x):
    """ESS of a trace: steps / IAT per chain, summed over chains."""
    x = np.asarray(x)
    chains = 1 if x.ndim == 1 else x.shape[1]
    return len(x) * chains / integrated_autocorrelation_time(x)


# ----------------------------------------------------------------------------- exact (small RBM)
def all_states(n):
    return np.array(list(itertools.product((0, 1), repeat=n)), dtype=np.uint8)


def exact_distribution(rbm):
    """P(v) for all 2**n_visible states (in all_states order), by enumeration."""
    if rbm.n_visible > 20:
        raise ValueError(f"exact_distribution: {rbm.n_visible} visible units is too many to enumerate (max 20)")
    V = all_states(rbm.n_visible)
    W, b, c = (p.astype(np.float64) for p in (rbm.W, rbm.b, rbm.c))
    logp = V @ b + np.logaddexp(0, V @ W + c).sum(1)
    return np.exp(logp - logsumexp(logp))


def state_index(V):
    """Index of each binary row of V in all_states order (first unit = most significant)."""
    V = np.asarray(V).reshape(-1, np.asarray(V).shape[-1]).astype(np.int64)
    return V @ (1 << np.arange(V.shape[1])[::-1])


def tv_distance(samples, p):
    """Total-variation distance between the empirical distribution of samples and p."""
    counts = np.bincount(state_index(samples), minlength=len(p))
    return 0.5 * float(np.abs(counts / counts.sum() - p).sum())


def tv_curve(samples, p, checkpoints):
    """TV of the first t steps (all chains pooled) for each t; samples (steps, chains, d)."""
    return np.array([tv_distance(samples[:t].reshape(-1, samples.shape[-1]), p) for t in checkpoints])


def tv_floor(p, sizes, n_chains, repeats=20, seed=0):
    """Mean TV reached by exact independent samples of the same sizes (n_chains * t)."""
    rng = np.random.default_rng(seed)
    d = int(np.log2(len(p)))
    out = []
    for t in sizes:
        tvs = [tv_distance(all_states(d)[rng.choice(len(p), t * n_chains, p=p)], p) for _ in range(repeats)]
        out.append(float(np.mean(tvs)))
    return np.array(out)
