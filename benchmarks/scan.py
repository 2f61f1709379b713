"""Workload G: loops. A 1000-step Elman RNN (hidden 100, batch 32, float32) forward and
forward+backward, and 1000 block-Gibbs steps of 100 chains on the 784-500 RBM as one loop.

Sits beside the data flow: symnb runs each as one sn.scan compiled into one call; NumPy and
PyTorch loop in Python, JAX uses lax.scan under jit, PyTensor its scan. The Gibbs row also
times symnb's compiled one-step function called from a Python loop (workload E's way).
"""
from __future__ import annotations

import warnings

import numpy as np

from . import models, peers, rbm
from .harness import Impl, Row

STEPS, BATCH, N_IN, HIDDEN = 1000, 32, 100, 100


def rnn_data(steps=STEPS, batch=BATCH, n_in=N_IN, hidden=HIDDEN, dtype="float32", seed=0):
    """(X, h0, W, U, b, G): inputs, weights, and the weights of the cost sum(hs * G)."""
    rng = np.random.default_rng(seed)
    scale = 1.0 / np.sqrt(hidden)
    arrays = (rng.normal(size=(steps, batch, n_in)), np.zeros((batch, hidden)),
              rng.normal(0, scale, (n_in, hidden)), rng.normal(0, scale, (hidden, hidden)),
              rng.normal(0, 0.1, hidden), rng.normal(size=(steps, batch, hidden)))
    return [a.astype(dtype) for a in arrays]


# ----------------------------------------------------------------------------- NumPy
class NumpyElman:
    """Forward and BPTT in careful NumPy: preallocated states, products into buffers."""

    def __init__(self, X, h0, W, U, b, G):
        self.X, self.h0, self.W, self.U, self.b, self.G = X, h0, W, U, b, G
        self.hs = np.empty(X.shape[:2] + (W.shape[1],), X.dtype)
        self.tmp = np.empty_like(h0)

    def forward(self):
        h = self.h0
        for t, x in enumerate(self.X):
            out = self.hs[t]
            np.dot(x, self.W, out=out)
            out += np.dot(h, self.U, out=self.tmp)
            out += self.b
            np.tanh(out, out=out)
            h = out
        return self.hs

    def backward(self):
        hs = self.forward()
        gW, gU, gb = np.zeros_like(self.W), np.zeros_like(self.U), np.zeros_like(self.b)
        carry = np.zeros_like(self.h0)
        dz = np.empty_like(self.h0)
        for t in range(len(self.X) - 1, -1, -1):
            np.add(self.G[t], carry, out=dz)
            dz *= 1 - hs[t] * hs[t]
            gW += self.X[t].T @ dz
            gU += (hs[t - 1] if t else self.h0).T @ dz
            gb += dz.sum(axis=0)
            np.dot(dz, self.U.T, out=carry)
        return [(hs * self.G).sum(dtype=np.float64), gW, gU, gb]


# ----------------------------------------------------------------------------- symbolic
def symnb_elman(backend, data, backward):
    import symnb as sn
    import symnb.tensor as st
    X, h0, W, U, b, G = (st.tensor(n, d.dtype, (None,) * d.ndim) for n, d in zip("X h0 W U b G".split(), data))
    hs, _ = sn.scan(lambda x, h, W, U, b: st.tanh(st.dot(x, W) + st.dot(h, U) + b), sequences=X,
                    outputs_info=h0, non_sequences=[W, U, b], name="rnn")
    if backward:
        cost = (hs * G).sum()
        f = sn.function([X, h0, W, U, b, G], [cost] + sn.grad(cost, [W, U, b]), backend=backend)
        return Impl(lambda: f(*data))
    f = sn.function([X, h0, W, U, b], hs, backend=backend)
    return Impl(lambda: f(*data[:5]))


def jax_elman(data, backward):
    import jax
    import jax.numpy as jnp

    def forward(W, U, b, X, h0):
        def step(h, x):
            h = jnp.tanh(x @ W + h @ U + b)
            return h, h
        return jax.lax.scan(step, h0, X)[1]

    def cost(W, U, b, X, h0, G):
        return (forward(W, U, b, X, h0) * G).sum()
    X, h0, W, U, b, G = (jax.device_put(a) for a in data)
    if backward:
        f = jax.jit(jax.value_and_grad(cost, argnums=(0, 1, 2)))
        return Impl(lambda: jax.block_until_ready(f(W, U, b, X, h0, G)))
    f = jax.jit(forward)
    return Impl(lambda: f(W, U, b, X, h0).block_until_ready())


def torch_elman(data, backward):
    import torch
    X, h0, W, U, b, G = (torch.from_numpy(a) for a in data)
    params = [W.clone().requires_grad_(backward), U.clone().requires_grad_(backward),
              b.clone().requires_grad_(backward)]

    def forward():
        W, U, b = params
        h, hs = h0, []
        for x in X:
            h = torch.tanh(x @ W + h @ U + b)
            hs.append(h)
        return torch.stack(hs)

    def run_backward():
        cost = (forward() * G).sum()
        grads = torch.autograd.grad(cost, params)
        return [cost] + list(grads)

    def run_forward():
        with torch.inference_mode():
            return forward()
    return Impl(run_backward if backward else run_forward)


def pytensor_elman(data, backward):
    import pytensor
    import pytensor.tensor as pt
    X, h0, W, U, b, G = (pt.tensor(n, dtype=d.dtype, shape=(None,) * d.ndim)
                         for n, d in zip("X h0 W U b G".split(), data))
    hs = pytensor.scan(lambda x, h, W, U, b: pt.tanh(pt.dot(x, W) + pt.dot(h, U) + b), sequences=X,
                       outputs_info=h0, non_sequences=[W, U, b], return_updates=False)
    if backward:
        cost = (hs * G).sum()
        f = pytensor.function([X, h0, W, U, b, G], [cost] + pytensor.grad(cost, [W, U, b]))
        return Impl(lambda: f(*data))
    f = pytensor.function([X, h0, W, U, b], hs)
    return Impl(lambda: f(*data[:5]))


def symnb_gibbs_scan(backend, W, vb, hb, v, steps):
    """The whole chain as one sn.scan: one call runs every step; only the last state is kept."""
    import symnb as sn
    m = models.symnb_namespace(backend=backend)
    params = [sn.shared(p.copy(), name=n) for p, n in zip((W, vb, hb), ("W", "vb", "hb"))]
    chains = sn.shared(v.copy(), name="chains")
    vs, updates = sn.scan(lambda v: models.rbm_gibbs(m, v, *params), outputs_info=chains, n_steps=steps,
                          name="gibbs")
    f = sn.function([], [], updates=[(chains, vs[-1]), *updates.items()], backend=backend)
    return Impl(f, lambda: [chains.get_value()])


def jax_gibbs_scan(W, vb, hb, v, steps):
    import jax

    def chain(key, v, params):
        def step(carry, _):
            key, v = carry
            m = models.jax_namespace(key)
            v = models.rbm_gibbs(m, v, *params)
            return (m.keys.key, v), None
        return jax.lax.scan(step, (key, v), None, length=steps)[0]
    chain = jax.jit(chain, donate_argnums=1)
    params = [jax.device_put(p) for p in (W, vb, hb)]
    state = [jax.random.PRNGKey(0), jax.device_put(v.copy())]

    def run():
        state[:] = chain(state[0], state[1], params)
        state[1].block_until_ready()
    return Impl(run, lambda: [np.asarray(state[1])])


def pytensor_gibbs_scan(W, vb, hb, v, steps):
    """PyTensor threads its generator explicitly: the body returns the generator's new state
    as an update, which scan turns into a state of the loop."""
    import pytensor
    m = models.pytensor_namespace()
    draws = m.bernoulli.__self__
    params = [pytensor.shared(p.copy(), name=n) for p, n in zip((W, vb, hb), ("W", "vb", "hb"))]
    chains = pytensor.shared(v.copy(), name="chains")

    def body(v):
        new_v = models.rbm_gibbs(m, v, *params)
        return new_v, dict(draws.updates())
    with warnings.catch_warnings():     # PyTensor 3 announces that scan will stop returning updates
        warnings.simplefilter("ignore", DeprecationWarning)
        vs, updates = pytensor.scan(body, outputs_info=chains, n_steps=steps, return_updates=True)
    f = pytensor.function([], [], updates=[(chains, vs[-1]), *updates.items()])
    return Impl(f, lambda: [chains.get_value()])


# ----------------------------------------------------------------------------- rows
def rows_g(steps=STEPS, batch=BATCH, n_in=N_IN, hidden=HIDDEN, gibbs_steps=1000, n_vis=784, n_hid=500, chains=100,
           saturate=False, peer_names=peers.PEERS) -> list[Row]:
    """saturate=True: deterministic RBM draws (rbm.rows_e), so the smoke test compares them."""
    data = rnn_data(steps, batch, n_in, hidden)
    installed = peers.available(peer_names)
    compiled = [b for b in peers.symnb_backends() if b != "numpy"]   # the reference runs the body node by node
    rows = []
    for backward in (False, True):
        numpy_rnn = NumpyElman(*data)
        builders = {"numpy": lambda n=numpy_rnn, bw=backward: Impl(n.backward if bw else n.forward)}
        for backend in compiled:
            builders[f"symnb:{backend}"] = lambda backend=backend, bw=backward: symnb_elman(backend, data, bw)
        for name, build in (("pytensor", pytensor_elman), ("jax", jax_elman), ("torch", torch_elman)):
            if name in installed:
                builders[name] = lambda build=build, bw=backward: build(data, bw)
        flops = 2 * steps * batch * hidden * (n_in + hidden) * (3 if backward else 1)
        what = "forward + backward (BPTT)" if backward else "forward"
        rows.append(Row("G", f"Elman RNN {steps} steps, hidden {hidden}, batch {batch}, float32: {what}", builders,
                        key={"kind": "rnn", "backward": backward}, flops=flops, dtype="float32", rtol=2e-3))
    W, vb, hb = rbm.initial_rbm(n_vis, n_hid, 1e6 if saturate else 0.01)
    args = (W, vb, hb, rbm.binary_batch(chains, n_vis, seed=3), gibbs_steps)
    builders = {"numpy": lambda: rbm._numpy_gibbs(*args)}
    for backend in compiled:
        builders[f"symnb:{backend}"] = lambda backend=backend: symnb_gibbs_scan(backend, *args)
        builders[f"symnb:{backend} step calls"] = lambda backend=backend: rbm.symbolic_gibbs(
            models.symnb_namespace(backend=backend), *args)
    for name, build in (("pytensor", pytensor_gibbs_scan), ("jax", jax_gibbs_scan), ("torch", rbm.torch_gibbs)):
        if name in installed:
            builders[name] = lambda build=build: build(*args)
    rows.append(Row("G", f"RBM {n_vis}-{n_hid} {gibbs_steps} Gibbs steps, {chains} chains, as one loop", builders,
                    key={"kind": "gibbs_scan"}, flops=2 * chains * n_vis * n_hid * 2 * gibbs_steps,
                    random=not saturate))
    return rows
