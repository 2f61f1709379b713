"""The Python side of the sampler widget, without any display: one Panel per sampler (its
chains, class trace, filmstrip, running ISL) advanced a frame at a time.

Sits between symnb.sampling (samplers, classifier, metrics) and the widget (sampler.py),
which packs what the panels hold into binary traitlets for the browser.
"""
from __future__ import annotations

import numpy as np

from symnb.sampling import mixing
from symnb.sampling.samplers import initial_chains

NO_CLASS = 255      # ribbon cell before a chain has a class (drawn grey)
_BITS = np.array([bin(i).count("1") for i in range(256)], np.uint8)


def _pack(X):
    """Binary rows (n, D) as 64-bit words (D padded with zeros): Hamming distances by XOR
    and bit counts are exact, single-threaded, and do not slow down when other processes
    hold the cores as the float product's threads do."""
    bits = np.packbits(np.asarray(X, np.uint8), axis=1)
    bits = np.pad(bits, ((0, 0), (0, -bits.shape[1] % 8)))
    return np.ascontiguousarray(bits).view(np.uint64)


def _popcount(words):
    if hasattr(np, "bitwise_count"):          # NumPy >= 2
        return np.bitwise_count(words)
    return _BITS[words.view(np.uint8)].reshape(*words.shape, 8).sum(-1)


class LiveISL:
    """Indirect sampling likelihood (binary-kernel Parzen, bandwidth chosen on validation
    data) of a growing set of samples, updated as samples arrive.

    For each held-out image it keeps how many samples lie at each Hamming distance, so a
    new batch costs one pass of distances and the ISL for every bandwidth follows from those
    counts: log p(x) = log sum_d n_x(d) beta^(D-d) (1-beta)^d - log N.
    """

    def __init__(self, X_test, X_valid, betas=mixing.BETAS):
        X_valid, X_test = np.asarray(X_valid), np.asarray(X_test)
        self.D, self.n_valid = X_valid.shape[1], len(X_valid)
        self.packed = _pack(np.concatenate([X_valid, X_test]))      # validation rows first
        self.betas = np.asarray(betas, np.float64)
        # exp(-j log(beta / (1 - beta))): the kernel at distance dmin + j relative to the
        # nearest sample's. Past j*log(beta/(1-beta)) = 100 a term weighs < e^-100 of the
        # nearest one's, so even 1e9 samples there change log p by far less than 1 ulp.
        slope = np.log(self.betas / (1 - self.betas))
        self.span = int(min(self.D + 1, np.ceil(100 / slope.min()) + 1))
        self._decay = np.exp(-np.outer(np.arange(self.span), slope))
        self.reset()

    def reset(self):
        self.counts = np.zeros((len(self.packed), self.D + 1))
        self.n = 0

    def add(self, samples):
        """Samples: binary (n, D)."""
        samples = _pack(np.asarray(samples).reshape(-1, self.D))
        h = _popcount(self.packed[:, None, :] ^ samples[None, :, :]).sum(axis=2, dtype=np.intp)   # (rows, n)
        rows = np.arange(len(self.packed))
        for j in range(h.shape[1]):           # one sample at a time: no repeated index in a +=
            self.counts[rows, h[:, j]] += 1
        self.n += len(samples)

    def _log_density(self, counts):
        """(len(X), n_betas): log p(x) for every bandwidth."""
        dmin = (counts > 0).argmax(axis=1)
        idx = dmin[:, None] + np.arange(self.span)[None, :]
        shifted = np.take_along_axis(np.pad(counts, ((0, 0), (0, self.span))), idx, axis=1)
        logb, log1mb = np.log(self.betas), np.log1p(-self.betas)
        nearest = (self.D - dmin[:, None]) * logb + dmin[:, None] * log1mb
        return nearest + np.log(shifted @ self._decay) - np.log(self.n)

    def value(self):
        """(ISL on the test images, chosen beta), or (nan, nan) before any sample."""
        if self.n == 0:
            return float("nan"), float("nan")
        logp = self._log_density(self.counts)
        best = int(np.argmax(logp[:self.n_valid].mean(axis=0)))
        return float(logp[self.n_valid:, best].mean()), float(self.betas[best])


class ClassTrace:
    """The class of every step of every chain: the history, the running counters the panel
    shows, and the ribbon (one column per frame, the newest on the right)."""

    def __init__(self, n_chains, capacity, ribbon_len, n_classes=10):
        self.labels = np.empty((capacity, n_chains), np.uint8)
        self.t = 0
        self.last = None
        self.changes = 0
        self.visited = np.zeros((n_chains, n_classes), bool)
        self.ribbon = np.full((n_chains, ribbon_len), NO_CLASS, np.uint8)

    def add(self, labels):
        """labels: (steps, chains) classes of this frame's steps."""
        labels = np.asarray(labels, np.uint8)
        k, chains = labels.shape
        seq = np.concatenate([labels[:1] if self.last is None else self.last[None], labels])
        self.changes += int((seq[1:] != seq[:-1]).sum())
        room = max(0, min(k, len(self.labels) - self.t))      # the history stops at capacity
        self.labels[self.t:self.t + room] = labels[:room]
        self.t += k
        self.last = labels[-1]
        self.visited[np.arange(chains)[None, :], labels] = True
        self.ribbon = np.roll(self.ribbon, -1, axis=1)
        self.ribbon[:, -1] = labels[-1]

    def changes_per_1000(self):
        """Class changes per 1000 steps of a chain, averaged over the chains."""
        steps = max(self.t - 1, 1)
        return 1000.0 * self.changes / (steps * self.visited.shape[0])

    def stats(self):
        return {"changes_per_1000": round(self.changes_per_1000(), 2),
                "visited_per_chain": round(float(self.visited.sum(1).mean()), 2),
                "visited_total": int(self.visited.any(0).sum())}


class Panel:
    """One sampler in the widget: run(k) takes k steps of its chains, absorb() updates what
    the panel shows (current means, filmstrip of chain 0, class trace, ISL)."""

    def __init__(self, name, sampler, isl, capacity, film_len=12, ribbon_len=160):
        self.name, self.sampler, self.isl = name, sampler, isl
        n_chains, n_visible = sampler.n_chains, sampler.rbm.n_visible
        self.trace = ClassTrace(n_chains, capacity, ribbon_len)
        self.current = np.zeros((n_chains, n_visible), np.float32)
        self.film = np.zeros((film_len, n_visible), np.float32)
        self.isl_curve = []          # (samples seen, ISL, beta) at each plot refresh
        self.steps = 0

    def run(self, k):
        """k steps of the chains: their P(v=1|h), (k, chains, n_visible)."""
        return self.sampler.run(k, mean=True)

    def absorb(self, means, labels):
        """Update the display from run()'s means and their classes (k, chains)."""
        self.trace.add(labels)
        # the chains' binary states at the frame: true samples of each chain, one per frame
        self.isl.add(self.sampler.v)
        self.current = means[-1]
        self.film = np.roll(self.film, -1, axis=0)
        self.film[-1] = means[-1, 0]
        self.steps += len(means)

    def record_isl(self):
        """Add the ISL of the samples so far to the curve (a few ms: done at plot time)."""
        if self.isl.n:
            self.isl_curve.append((self.isl.n, *self.isl.value()))

    def stats(self):
        isl = round(self.isl_curve[-1][1], 2) if self.isl_curve else None
        return {"name": self.name, "steps": self.steps, "isl": isl, **self.trace.stats()}


def initial_states(kind, data, labels, n_chains, seed, mode_class=1):
    """The chains' common starting states: 'noise' (fair coin per pixel), 'data' (random
    training images) or 'mode' (every chain at the same image of class mode_class, a
    single mode to escape from)."""
    if kind in ("noise", "data"):
        return initial_chains(kind, n_chains, data.shape[1], seed, data)
    rng = np.random.default_rng(seed)
    if kind == "mode":
        members = np.flatnonzero(np.asarray(labels) == mode_class)
        if not len(members):
            raise ValueError(f"init='mode': no training image of class {mode_class}")
        return np.repeat(np.asarray(data[members[rng.integers(len(members))]], np.uint8)[None], n_chains, 0)
    raise ValueError(f"init: expected 'noise', 'data' or 'mode', got {kind!r}")
