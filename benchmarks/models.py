"""The workloads' mathematics, written once over a small per-library namespace (symnb,
PyTensor, JAX, PyTorch), so every implementation computes the same graph.

Sits beside the data flow: elementwise.py, training.py and rbm.py build rows from these.
The hand-tuned NumPy baselines live next to their rows instead (they are not one graph).
"""
from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np

# Workload A (the Theano paper's elementwise expressions) and B (transcendentals).
EXPRESSIONS_A = ("a**2+b**2+2*a*b", "2*a+3*b", "a+1", "2*a+b**10")
EXPRESSION_B = "exp(-x)*sin(y)+log1p(z*z)"
_NAMES = ("a", "b", "x", "y", "z")


def expression_inputs(expr: str) -> list[str]:
    """The input names an expression reads, in a fixed order."""
    return [v for v in _NAMES if re.search(rf"\b{v}\b", expr)]


def as_function(expr: str, m):
    """expr as a plain Python function of its inputs (expression_inputs order), using the
    library namespace m's exp/sin/log1p: the one definition every implementation runs,
    parsed once so a call costs what a hand-written lambda costs."""
    args = ", ".join(expression_inputs(expr))
    return eval(f"lambda {args}: {expr}", {"__builtins__": {}, "exp": m.exp, "sin": m.sin, "log1p": m.log1p})


# ----------------------------------------------------------------------------- models
def logreg_cost(m, X, y, W, b):
    """Mean negative log-likelihood of softmax regression (workload C)."""
    return m.nll(m.softmax(m.dot(X, W) + b), y)


def mlp_cost(m, X, y, W1, b1, W2, b2):
    """The 784-500-10 tanh MLP of the Theano paper (workload D)."""
    return m.nll(m.softmax(m.dot(m.tanh(m.dot(X, W1) + b1), W2) + b2), y)


def rbm_cd1(m, v0, W, vb, hb, lr):
    """New (W, vb, hb) after one contrastive-divergence step on the batch v0 (workload E)."""
    ph0 = m.sigmoid(m.dot(v0, W) + hb)
    v1 = m.bernoulli(m.sigmoid(m.dot(m.bernoulli(ph0), W.T) + vb))
    ph1 = m.sigmoid(m.dot(v1, W) + hb)
    scale = lr / v0.shape[0]
    return [W + scale * (m.dot(v0.T, ph0) - m.dot(v1.T, ph1)),
            vb + scale * (v0 - v1).sum(axis=0), hb + scale * (ph0 - ph1).sum(axis=0)]


def rbm_gibbs(m, v, W, vb, hb):
    """One block-Gibbs step v -> h -> v' of the chains v (workload E)."""
    h = m.bernoulli(m.sigmoid(m.dot(v, W) + hb))
    return m.bernoulli(m.sigmoid(m.dot(h, W.T) + vb))


def lenet_cost(m, X, y, W0, b0, W1, b1, W2, b2, W3, b3):
    """The Theano tutorial's LeNet (workload F): rows of 784 pixels as 1 x 28 x 28 images,
    two conv (valid) -> 2x2 max pool -> tanh(+ bias) layers, a tanh layer, softmax NLL."""
    h0 = m.tanh(m.maxpool(m.conv(m.reshape(X, (-1, 1, 28, 28)), W0)) + m.channel(b0))
    h1 = m.tanh(m.maxpool(m.conv(h0, W1)) + m.channel(b1))
    h2 = m.tanh(m.dot(m.reshape(h1, (-1, 800)), W2) + b2)
    return m.nll(m.softmax(m.dot(h2, W3) + b3), y)


def _conv_ops(m, conv, maxpool, reshape, channel):
    """Workload F's ops in a namespace: correlation (symnb's filter_flip=False, the
    others' native conv), 2x2 max pooling, reshape, a per-channel bias."""
    m.conv, m.maxpool, m.reshape, m.channel = conv, maxpool, reshape, channel
    return m


# ----------------------------------------------------------------------------- namespaces
def _nll_indexing(m):
    return lambda p, y: -m.log(p[m.arange(y.shape[0]), y]).mean()


def symnb_namespace(seed=0, backend="numpy"):
    import symnb as sn
    import symnb.tensor as st
    rng = sn.RandomStream(seed=seed)
    m = SimpleNamespace(
        exp=st.exp, sin=st.sin, log1p=st.log1p, log=st.log, tanh=st.tanh, sigmoid=st.sigmoid,
        dot=st.dot, softmax=st.softmax,
        # symnb's idiom: categorical_crossentropy(softmax) is built as a stable log_softmax
        nll=lambda p, y: st.categorical_crossentropy(p, y).mean(),
        # the draws' states update themselves (default updates), as with Theano's streams
        bernoulli=lambda p: rng.binomial(n=1, p=p, size=p.shape, dtype=p.dtype),
        tensor=lambda name, dtype, ndim: st.tensor(name, dtype=dtype, ndim=ndim),
        shared=lambda value, name: sn.shared(value, name=name), grad=sn.grad,
        function=lambda inputs, outputs, updates=(): sn.function(inputs, outputs, updates=updates,
                                                                 backend=backend))
    return _conv_ops(m, lambda x, w: st.conv2d(x, w, filter_flip=False),
                     lambda x: st.pool_2d(x, (2, 2), ignore_border=True), st.reshape,
                     lambda b: b.dimshuffle("x", 0, "x", "x"))


class _PytensorDraws:
    """PyTensor's explicit RNG threading: each draw consumes the state the last one left;
    `updates()` hands the final state back to the shared generator."""

    def __init__(self, seed):
        import pytensor.tensor as pt
        self.shared = self.state = pt.random.shared_rng(seed=seed)

    def bernoulli(self, p):
        self.state, sample = self.state.binomial(1, p)
        return sample.astype(p.dtype)

    def updates(self):
        return [] if self.state is self.shared else [(self.shared, self.state)]


def pytensor_namespace(seed=0):
    import pytensor
    import pytensor.tensor as pt
    draws = _PytensorDraws(seed)
    m = SimpleNamespace(
        exp=pt.exp, sin=pt.sin, log1p=pt.log1p, log=pt.log, tanh=pt.tanh, sigmoid=pt.sigmoid,
        dot=pt.dot, softmax=lambda x: pt.special.softmax(x, axis=-1), arange=pt.arange,
        bernoulli=draws.bernoulli,
        tensor=lambda name, dtype, ndim: pt.tensor(name, dtype=dtype, shape=(None,) * ndim),
        shared=lambda value, name: pytensor.shared(value, name=name), grad=pytensor.grad,
        function=lambda inputs, outputs, updates=(): pytensor.function(
            inputs, outputs, updates=list(updates) + draws.updates()))
    m.nll = _nll_indexing(m)
    return m


class _JaxKeys:
    """Hands out fresh subkeys inside one traced call; `key` is the state to carry out."""

    def __init__(self, key):
        self.key = key

    def bernoulli(self, p):
        import jax
        self.key, sub = jax.random.split(self.key)
        return jax.random.bernoulli(sub, p).astype(p.dtype)


def jax_namespace(key=None):
    import jax
    import jax.numpy as jnp
    keys = _JaxKeys(key)
    m = SimpleNamespace(exp=jnp.exp, sin=jnp.sin, log1p=jnp.log1p, log=jnp.log, tanh=jnp.tanh,
                        sigmoid=jax.nn.sigmoid, dot=jnp.dot, softmax=jax.nn.softmax, arange=jnp.arange,
                        bernoulli=keys.bernoulli, keys=keys)
    m.nll = _nll_indexing(m)
    conv = lambda x, w: jax.lax.conv_general_dilated(x, w, (1, 1), "VALID",  # noqa: E731
                                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
    pool = lambda x: jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")  # noqa: E731
    return _conv_ops(m, conv, pool, jnp.reshape, lambda b: b[None, :, None, None])


def torch_namespace(seed=0):
    import torch
    gen = torch.Generator().manual_seed(seed)
    m = SimpleNamespace(exp=torch.exp, sin=torch.sin, log1p=torch.log1p, log=torch.log, tanh=torch.tanh,
                        sigmoid=torch.sigmoid, dot=torch.matmul, softmax=lambda x: torch.softmax(x, dim=-1),
                        arange=torch.arange, bernoulli=lambda p: torch.bernoulli(p, generator=gen))
    m.nll = _nll_indexing(m)
    F = torch.nn.functional
    return _conv_ops(m, F.conv2d, lambda x: F.max_pool2d(x, 2), torch.reshape, lambda b: b[None, :, None, None])


def numpy_namespace():
    return SimpleNamespace(exp=np.exp, sin=np.sin, log1p=np.log1p)
