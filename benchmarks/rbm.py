"""Workload E: a binary RBM 784-500, one CD-1 step on a batch of 20, and block-Gibbs
sampling of 100 chains (1000 steps), as harness rows.

Sits beside the data flow: symnb draws with sn.RandomStream inside the compiled function
and keeps weights and chains in shared variables updated by updates=. Every implementation
calls a one-step function from a Python loop, so the rows compare the same work.
"""
from __future__ import annotations

import numpy as np
import scipy.special

from . import models, peers
from .harness import Impl, Row

LEARNING_RATE = 0.05


def initial_rbm(n_vis, n_hid, weight_scale, seed=0):
    """Weights and biases drawn from N(0, weight_scale^2) (nonzero biases so that even an
    all-zero layer saturates when weight_scale is large)."""
    rng = np.random.default_rng(seed)
    return (rng.normal(0.0, weight_scale, (n_vis, n_hid)), rng.normal(0.0, weight_scale, n_vis),
            rng.normal(0.0, weight_scale, n_hid))


def binary_batch(n, n_vis, seed=1):
    return (np.random.default_rng(seed).random((n, n_vis)) < 0.3).astype(np.float64)


# ----------------------------------------------------------------------------- NumPy
class NumpyRBM:
    """CD-1 and Gibbs steps in careful NumPy: preallocated buffers, uniforms drawn into
    a buffer, expit in place, the weight update accumulated in place."""

    def __init__(self, W, vb, hb, v, seed=2):
        self.W, self.vb, self.hb, self.v = W.copy(), vb.copy(), hb.copy(), v.copy()
        self.rng = np.random.default_rng(seed)
        n, (n_vis, n_hid) = v.shape[0], W.shape
        self.ph0, self.h, self.ph1, self.uh = (np.empty((n, n_hid)) for _ in range(4))
        self.pv, self.v1, self.uv = (np.empty((n, n_vis)) for _ in range(3))
        self.gW = np.empty_like(self.W)

    def _sample(self, p, u, out):
        self.rng.random(out=u)
        np.less(u, p, out=out, casting="unsafe")
        return out

    def _up(self, v, out):
        np.dot(v, self.W, out=out)
        out += self.hb
        return scipy.special.expit(out, out=out)

    def _down(self, h):
        np.dot(h, self.W.T, out=self.pv)
        self.pv += self.vb
        return scipy.special.expit(self.pv, out=self.pv)

    def cd1(self):
        v0 = self.v
        ph0 = self._up(v0, self.ph0)
        v1 = self._sample(self._down(self._sample(ph0, self.uh, self.h)), self.uv, self.v1)
        ph1 = self._up(v1, self.ph1)
        scale = LEARNING_RATE / v0.shape[0]
        # W += scale * (v0' ph0 - v1' ph1), each product into one reused buffer
        ph0 *= scale
        ph1 *= -scale
        self.W += np.dot(v0.T, ph0, out=self.gW)
        self.W += np.dot(v1.T, ph1, out=self.gW)
        self.vb += scale * (v0.sum(axis=0) - v1.sum(axis=0))
        self.hb += ph0.sum(axis=0) + ph1.sum(axis=0)

    def gibbs(self, steps):
        for _ in range(steps):
            h = self._sample(self._up(self.v, self.ph0), self.uh, self.h)
            self._sample(self._down(h), self.uv, self.v)

    def state(self):
        return [self.W, self.vb, self.hb]


# ----------------------------------------------------------------------------- symbolic
def symbolic_cd1(m, W, vb, hb, v0):
    V = m.tensor("v0", "float64", 2)
    shared = [m.shared(p.copy(), name) for p, name in zip((W, vb, hb), ("W", "vb", "hb"))]
    new = models.rbm_cd1(m, V, *shared, LEARNING_RATE)
    f = m.function([V], [], updates=list(zip(shared, new)))
    return Impl(lambda: f(v0), lambda: [p.get_value() for p in shared])


def symbolic_gibbs(m, W, vb, hb, v, steps):
    params = [m.shared(p.copy(), name) for p, name in zip((W, vb, hb), ("W", "vb", "hb"))]
    chains = m.shared(v.copy(), "chains")
    f = m.function([], [], updates=[(chains, models.rbm_gibbs(m, chains, *params))])

    def run():
        for _ in range(steps):
            f()
    return Impl(run, lambda: [chains.get_value()])


def jax_cd1(W, vb, hb, v0):
    import jax

    def step(key, params, v0):
        m = models.jax_namespace(key)
        new = models.rbm_cd1(m, v0, *params, LEARNING_RATE)
        return m.keys.key, new
    step = jax.jit(step, donate_argnums=1)
    state = [jax.random.PRNGKey(0), [jax.device_put(p.copy()) for p in (W, vb, hb)]]
    v0d = jax.device_put(v0)

    def run():
        state[:] = step(state[0], state[1], v0d)
        jax.block_until_ready(state[1])
    return Impl(run, lambda: [np.asarray(p) for p in state[1]])


def jax_gibbs(W, vb, hb, v, steps):
    import jax

    def step(key, v, params):
        m = models.jax_namespace(key)
        new_v = models.rbm_gibbs(m, v, *params)
        return m.keys.key, new_v
    step = jax.jit(step, donate_argnums=1)
    params = [jax.device_put(p) for p in (W, vb, hb)]
    state = [jax.random.PRNGKey(0), jax.device_put(v.copy())]

    def run():
        for _ in range(steps):
            state[:] = step(state[0], state[1], params)
        state[1].block_until_ready()
    return Impl(run, lambda: [np.asarray(state[1])])


def torch_cd1(W, vb, hb, v0):
    import torch
    m = models.torch_namespace()
    params = [torch.tensor(p) for p in (W, vb, hb)]
    v0t = torch.from_numpy(v0)

    def run():
        with torch.inference_mode():
            for p, new in zip(params, models.rbm_cd1(m, v0t, *params, LEARNING_RATE)):
                p.copy_(new)
    return Impl(run, lambda: [p.numpy().copy() for p in params])


def torch_gibbs(W, vb, hb, v, steps):
    import torch
    m = models.torch_namespace()
    params = [torch.from_numpy(p) for p in (W, vb, hb)]
    chains = [torch.tensor(v)]

    def run():
        with torch.inference_mode():
            for _ in range(steps):
                chains[0] = models.rbm_gibbs(m, chains[0], *params)
    return Impl(run, lambda: [chains[0].numpy().copy()])


# ----------------------------------------------------------------------------- rows
def _numpy_cd1(W, vb, hb, v0):
    rbm = NumpyRBM(W, vb, hb, v0)
    return Impl(rbm.cd1, rbm.state)


def _numpy_gibbs(W, vb, hb, v, steps):
    rbm = NumpyRBM(W, vb, hb, v)
    return Impl(lambda: rbm.gibbs(steps), lambda: [rbm.v])


_SYMBOLIC = {"pytensor": models.pytensor_namespace}
_PEERS = {"cd1": {"jax": jax_cd1, "torch": torch_cd1}, "gibbs": {"jax": jax_gibbs, "torch": torch_gibbs}}


def _builders(kind, numpy_fn, symbolic_fn, args, peer_names):
    builders = {"numpy": lambda: numpy_fn(*args)}
    for backend in peers.symnb_backends():
        builders[f"symnb:{backend}"] = lambda backend=backend: symbolic_fn(
            models.symnb_namespace(backend=backend), *args)
    for name in peers.available(peer_names):
        if name in _SYMBOLIC:
            builders[name] = lambda name=name: symbolic_fn(_SYMBOLIC[name](), *args)
        elif name in _PEERS[kind]:
            builders[name] = lambda name=name: _PEERS[kind][name](*args)
    return builders


def rows_e(n_vis=784, n_hid=500, batch=20, chains=100, steps=1000, saturate=False,
           peer_names=peers.PEERS) -> list[Row]:
    """saturate=True draws huge weights and biases, so every probability is 0 or 1 and the
    draws are deterministic: the smoke test compares implementations that way."""
    W, vb, hb = initial_rbm(n_vis, n_hid, 1e6 if saturate else 0.01)
    v0, v = binary_batch(batch, n_vis), binary_batch(chains, n_vis, seed=3)
    random = not saturate
    cd1_flops = 2 * batch * n_vis * n_hid * 5
    gibbs_flops = 2 * chains * n_vis * n_hid * 2 * steps
    return [Row("E", f"RBM {n_vis}-{n_hid} CD-1 step, batch {batch}",
                _builders("cd1", _numpy_cd1, symbolic_cd1, (W, vb, hb, v0), peer_names),
                key={"kind": "cd1"}, flops=cd1_flops, random=random),
            Row("E", f"RBM {n_vis}-{n_hid} {steps} Gibbs steps, {chains} chains",
                _builders("gibbs", _numpy_gibbs, symbolic_gibbs, (W, vb, hb, v, steps), peer_names),
                key={"kind": "gibbs", "steps": steps}, flops=gibbs_flops, random=random)]
