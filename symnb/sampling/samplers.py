"""Samplers of a trained RBM: Gibbs, rates-FPCD (Breuleux, Bengio & Vincent 2011) and a
herding-style variant, M chains at once, each step one call of a compiled symnb function.

Third stage of the sampling flow: RBM -> samplers (this file) -> mixing metrics / widget.
Rates-FPCD step: with W+W_f, b+b_f, c+c_f do one Gibbs step; from the new v and
h_mean = P(h=1|v) form S; then W_f <- eta W_f + eps_f (R_W - S_W) (likewise b_f, c_f).
"""
from __future__ import annotations

import numpy as np

import symnb as sn
import symnb.tensor as st

from . import rbm as _rbm
from .rbm import binary_data


def initial_chains(kind, n_chains, n_visible, seed, data=None):
    """Chains' starting states, uint8 (n_chains, n_visible): 'noise' (a fair coin per unit) or
    'data' (random rows of data)."""
    rng = np.random.default_rng(seed)
    if kind == "noise":
        return (rng.random((n_chains, n_visible)) < 0.5).astype(np.uint8)
    return np.asarray(data[rng.choice(len(data), n_chains, replace=len(data) < n_chains)], np.uint8)


def rates(rbm, data, batch=2000):
    """The data statistics (R_W, R_b, R_c) under the RBM's (slow) parameters:
    R_W = mean of x P(h=1|x)', R_b = mean of x, R_c = mean of P(h=1|x)."""
    data = binary_data(data, rbm.n_visible, "rates: data")
    RW = np.zeros((rbm.n_visible, rbm.n_hidden))
    Rc = np.zeros(rbm.n_hidden)
    for i in range(0, len(data), batch):
        x = data[i:i + batch].astype(rbm.dtype)
        ph = rbm.hidden_mean(x)
        RW += x.T @ ph
        Rc += ph.sum(0)
    n = len(data)
    return tuple(r.astype(rbm.dtype) for r in (RW / n, data.mean(0), Rc / n))


class Sampler:
    """M chains of an RBM. run(n) -> uint8 (n, M, n_visible) binary samples, one row per
    step; run(n, mean=True) -> float (n, M, n_visible) P(v=1|h) of each step."""

    fast = False            # whether the step adapts fast parameters (rates-FPCD, herding)
    deterministic = False   # herding takes the most probable state instead of drawing it

    def __init__(self, rbm, n_chains=10, seed=0, init="noise", data=None):
        if not isinstance(n_chains, (int, np.integer)) or n_chains < 1:
            raise ValueError(f"n_chains: expected a positive integer, got {n_chains!r}")
        self.rbm, self.n_chains, self.seed = rbm, int(n_chains), int(seed)
        self.data = data if data is not None else rbm.data
        if data is not None:
            self.data = binary_data(data, rbm.n_visible, f"{type(self).__name__}: data")
        self.v0 = self._initial(init)
        dt = rbm.dtype
        self._v = sn.shared(self.v0.astype(dt), name="chains")
        self._total = self._total_parameters() if self.fast else []
        self._step_fn = None
        self.mean = None          # P(v=1|h) of the last step, (M, n_visible) float
        self.t = 0                # steps taken since the last reset

    def _initial(self, init):
        M, n = self.n_chains, self.rbm.n_visible
        if isinstance(init, str):
            if init not in ("noise", "data"):
                raise ValueError(f"init: expected 'noise', 'data' or an array, got {init!r}")
            if init == "data" and self.data is None:
                raise ValueError("init='data' needs data= (or an RBM that was fit on data)")
            return initial_chains(init, M, n, self.seed, self.data)
        v = np.asarray(init)
        if v.ndim == 1:
            v = np.broadcast_to(v, (M, v.shape[0]))
        if v.shape != (M, n):
            raise ValueError(f"init: expected an array of shape ({M}, {n}) or ({n},), got {v.shape}")
        return binary_data(v, n, "init").astype(np.uint8)

    # ------------------------------------------------------------------ the compiled step
    def _effective(self):
        """The parameters the step uses: the RBM's, or slow + fast where there are fast ones."""
        return tuple(self._total) if self._total else self.rbm.params

    def _build(self):
        rs = sn.RandomStream(self.seed)
        v = self._v
        W, b, c = self._effective()
        if self.deterministic:
            h = st.cast(_rbm.times(v, W) + c > 0, v.dtype)
            pre_v = _rbm.times_t(h, W) + b
            pv, v1 = st.sigmoid(pre_v), st.cast(pre_v > 0, v.dtype)
        else:
            _, pv, v1 = _rbm.gibbs_step(rs, v, W, b, c)
        updates = [(v, v1)] + self._fast_updates(v1, W, c)
        self._rs = rs
        return sn.function([], [st.cast(v1, "uint8"), pv], updates=updates, backend=_rbm.BACKEND)

    def _fast_updates(self, v1, W, c):
        return []

    def step(self):
        """One step of every chain; returns the new states (M, n_visible) uint8."""
        if self._step_fn is None:
            self._step_fn = self._build()
        v, self.mean = self._step_fn()
        self.t += 1
        return v

    def run(self, n_steps, mean=False):
        """n_steps steps: uint8 (n_steps, M, n_visible) states, or with mean=True the
        float P(v=1|h) of each step."""
        v, p = self.record(n_steps, states=not mean, means=mean)
        return p if mean else v

    def record(self, n_steps, states=True, means=True):
        """n_steps steps, keeping both (states, means) as run() gives them (None if not kept)."""
        n_steps, shape = int(n_steps), (int(n_steps), self.n_chains, self.rbm.n_visible)
        vs = np.empty(shape, np.uint8) if states else None
        ps = np.empty(shape, self.rbm.dtype) if means else None
        for i in range(n_steps):
            v = self.step()
            if states:
                vs[i] = v
            if means:
                ps[i] = self.mean
        return vs, ps

    @property
    def v(self):
        """The chains' current states, uint8 (M, n_visible)."""
        return self._v.get_value().astype(np.uint8)

    def reset(self):
        """Back to the initial states, fast parameters zero, random streams at the seed."""
        self._v.set_value(self.v0.astype(self.rbm.dtype))
        for total, slow in zip(self._total, self._slow_values() if self._total else ()):
            total.set_value(slow)
        if self._step_fn is not None:
            self._rs.seed(self.seed)
        self.mean, self.t = None, 0


class Gibbs(Sampler):
    """Block-Gibbs sampling: h ~ P(h|v), v ~ P(v|h), the RBM's parameters fixed."""


class RatesFPCD(Sampler):
    """The rates-FPCD sampler: Gibbs steps under W+W_f whose fast weights chase the data
    rates R computed once from `data`: W_f <- eta W_f + eps_f (R_W - S_W). eps_f = 0 is
    exactly Gibbs sampling. per_chain=True gives each chain its own fast weights."""

    fast = True
    eta_one_allowed = False        # eta = 1 would let the fast weights grow without bound

    def __init__(self, rbm, data=None, n_chains=10, eps_f=0.01, eta=0.95, seed=0, init="noise",
                 per_chain=False, rates=None):
        self.per_chain = bool(per_chain)
        self._eps = sn.shared(np.asarray(0, rbm.dtype), name="eps_f")
        self._eta = sn.shared(np.asarray(0, rbm.dtype), name="eta")
        self.eps_f, self.eta = eps_f, eta
        super().__init__(rbm, n_chains=n_chains, seed=seed, init=init, data=data)
        if rates is None:
            if self.data is None:
                raise ValueError(f"{type(self).__name__}: data= is needed to compute the rates")
            rates = _rbm_rates(rbm, self.data)
        self.rates = tuple(np.asarray(r, rbm.dtype) for r in rates)

    eps_f = property(lambda self: float(self._eps.get_value()), lambda self, x: self._set_eps(x))
    eta = property(lambda self: float(self._eta.get_value()), lambda self, x: self._set_eta(x))

    def _set_eps(self, x):
        if not np.isfinite(x) or x < 0:
            raise ValueError(f"eps_f: expected a number >= 0, got {x!r}")
        self._eps.set_value(np.asarray(x, self._eps.dtype))

    def _set_eta(self, x):
        if not (0 <= x < 1 or (x == 1 and self.eta_one_allowed)):
            raise ValueError(f"eta: expected 0 <= eta < 1, got {x!r}")
        self._eta.set_value(np.asarray(x, self._eta.dtype))

    def _slow_values(self):
        """The RBM's parameters, one copy per chain with per-chain fast weights."""
        lead = (self.n_chains,) if self.per_chain else ()
        return [np.ascontiguousarray(np.broadcast_to(p.get_value(), lead + p.get_value().shape))
                for p in self.rbm.params]

    def _total_parameters(self):
        # The state is slow + fast (W_t = W + W_f) rather than W_f: the step then reads one
        # array per parameter instead of adding two first. With eps_f = 0 the update adds
        # exact zeros, so the chains stay bit for bit those of Gibbs sampling.
        return [sn.shared(v, name=p.name + "_total") for v, p in zip(self._slow_values(), self.rbm.params)]

    def _hidden_statistic(self, v1, W, c):
        return _rbm.hidden_mean(v1, W, c)      # h_mean = P(h=1|v') under the same parameters

    def _statistics(self, v1, W, c):
        """S_W, S_b, S_c from the new states (averaged over the chains that share W_f)."""
        hs = self._hidden_statistic(v1, W, c)
        if self.per_chain:
            return st.expand_dims(v1, 2) * st.expand_dims(hs, 1), v1, hs
        m = st.cast(v1.shape[0], v1.dtype)
        return st.dot(v1.T, hs) / m, v1.mean(axis=0), hs.mean(axis=0)

    def _fast_updates(self, v1, W, c):
        """W_f <- eta W_f + eps_f (R - S), written on W_t = W + W_f:
        W_t <- W_t + (1 - eta) (W - W_t) + eps_f (R - S)."""
        S = self._statistics(v1, W, c)
        R = [st.constant(r) for r in self.rates]
        return [(t, t + (1 - self._eta) * (p - t) + self._eps * (r - s))
                for t, p, r, s in zip(self._total, self.rbm.params, R, S)]

    @property
    def fast_weights(self):
        """The current (W_f, b_f, c_f) as NumPy arrays (total minus slow)."""
        return tuple(t.get_value() - p.get_value() for t, p in zip(self._total, self.rbm.params))


class Herding(RatesFPCD):
    """Herding-style variant with the same rates: each unit takes its most probable value
    given the other layer (no draws), and the fast parameters chase R with the binary
    states' statistics S = v'h. eta = 1 (no decay, as in Welling's herding) is allowed."""

    deterministic = True
    eta_one_allowed = True

    def _hidden_statistic(self, v1, W, c):
        return st.cast(_rbm.times(v1, W) + c > 0, v1.dtype)


def _rbm_rates(rbm, data):
    """Rates cached on the RBM per data array (computing them is a pass over the data)."""
    cache = rbm._rates_cache
    key = (id(data), data.shape)
    if key not in cache:
        cache.clear()
        cache[key] = (data, rates(rbm, data))      # holding data keeps its id unique
    return cache[key][1]
