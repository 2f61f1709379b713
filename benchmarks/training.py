"""Workloads C (logistic regression SGD step, 60 x 784, 10 classes) and D (MLP 784-500-10
SGD step, batch 60), as harness rows; also the MLP training graph the compile-time
measurements build. Sits beside the data flow: symnb runs them through sn.function with
updates= on shared variables, the way a training loop uses it.
"""
from __future__ import annotations

import numpy as np

from . import models, peers
from .harness import Impl, Row

LEARNING_RATE = 0.01


def initial_params(sizes, seed=0):
    """Glorot-uniform weights and zero biases for the layer sizes, e.g. (784, 500, 10)."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        params += [rng.uniform(-bound, bound, (fan_in, fan_out)), np.zeros(fan_out)]
    return params


def batch(n, n_in, n_classes, seed=1):
    """Inputs in [0, 1) (like MNIST pixels) and int32 class labels."""
    rng = np.random.default_rng(seed)
    return rng.random((n, n_in)), rng.integers(0, n_classes, n).astype(np.int32)


def symbolic_sgd(m, cost_fn, params, X, y):
    """The symbolic step (symnb or PyTensor): cost, gradients, updates of shared params."""
    Xs, ys = m.tensor("X", X.dtype.name, 2), m.tensor("y", "int32", 1)
    shared = [m.shared(p.copy(), f"p{i}") for i, p in enumerate(params)]
    cost = cost_fn(m, Xs, ys, *shared)
    grads = m.grad(cost, shared)
    f = m.function([Xs, ys], cost, updates=[(p, p - LEARNING_RATE * g) for p, g in zip(shared, grads)])
    return Impl(lambda: f(X, y), lambda: [p.get_value() for p in shared])


def mlp_training_outputs():
    """The MLP's training graph: inputs, [cost, 4 gradients] and the 4 SGD updates."""
    m = models.symnb_namespace()
    params = [m.shared(p, name) for p, name in zip(initial_params((784, 500, 10)), ("W1", "b1", "W2", "b2"))]
    X, y = m.tensor("X", "float64", 2), m.tensor("y", "int32", 1)
    cost = models.mlp_cost(m, X, y, *params)
    grads = m.grad(cost, params)
    return [X, y], [cost] + grads, [(p, p - LEARNING_RATE * g) for p, g in zip(params, grads)]


def jax_sgd(cost_fn, params, X, y):
    import jax
    m = models.jax_namespace()
    value_and_grad = jax.value_and_grad(lambda ps, X, y: cost_fn(m, X, y, *ps))

    def step(ps, X, y):
        cost, grads = value_and_grad(ps, X, y)
        return cost, [p - LEARNING_RATE * g for p, g in zip(ps, grads)]
    step = jax.jit(step, donate_argnums=0)      # the old parameters' buffers are reused
    state = [[jax.device_put(p.copy()) for p in params]]
    Xd, yd = jax.device_put(X), jax.device_put(y)

    def run():
        cost, state[0] = step(state[0], Xd, yd)
        return jax.block_until_ready((cost, state[0]))[0]
    return Impl(run, lambda: [np.asarray(p) for p in state[0]])


def torch_sgd(cost_fn, params, X, y):
    import torch
    m = models.torch_namespace()
    ps = [torch.tensor(p, requires_grad=True) for p in params]
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))

    def run():
        cost = cost_fn(m, Xt, yt, *ps)
        cost.backward()
        with torch.no_grad():
            for p in ps:
                p.add_(p.grad, alpha=-LEARNING_RATE)
                p.grad = None
        return cost.detach()
    return Impl(run, lambda: [p.detach().numpy().copy() for p in ps])


class NumpyLogreg:
    """Softmax regression step as a careful NumPy user writes it: preallocated buffers,
    in-place updates, the gradient of the mean NLL folded into one scaled buffer."""

    def __init__(self, W, b, X, y):
        self.W, self.b, self.X, self.y = W.copy(), b.copy(), X, y
        self.rows = np.arange(len(y))
        self.z = np.empty((X.shape[0], W.shape[1]), W.dtype)
        self.gW = np.empty_like(self.W)

    def step(self):
        z, rows, y = self.z, self.rows, self.y
        _softmax_into(np.dot(self.X, self.W, out=z), self.b)
        cost = -np.log(z[rows, y]).mean()
        z[rows, y] -= 1.0                       # d cost / d logits, times n
        z *= LEARNING_RATE / len(y)
        self.W -= np.dot(self.X.T, z, out=self.gW)
        self.b -= z.sum(axis=0)
        return cost

    def state(self):
        return [self.W, self.b]


class NumpyMLP:
    """The tanh MLP step in careful NumPy (same habits as NumpyLogreg)."""

    def __init__(self, W1, b1, W2, b2, X, y):
        self.params = [W1.copy(), b1.copy(), W2.copy(), b2.copy()]
        self.X, self.y, self.rows = X, y, np.arange(len(y))
        n = X.shape[0]
        self.h = np.empty((n, W1.shape[1]))
        self.z = np.empty((n, W2.shape[1]))
        self.dh = np.empty_like(self.h)
        self.gW1, self.gW2 = np.empty_like(W1), np.empty_like(W2)

    def step(self):
        W1, b1, W2, b2 = self.params
        h, z, dh, rows, y = self.h, self.z, self.dh, self.rows, self.y
        np.dot(self.X, W1, out=h)
        h += b1
        np.tanh(h, out=h)
        _softmax_into(np.dot(h, W2, out=z), b2)
        cost = -np.log(z[rows, y]).mean()
        z[rows, y] -= 1.0
        z *= LEARNING_RATE / len(y)             # d cost / d logits, times the learning rate
        np.dot(z, W2.T, out=dh)                 # before W2 changes
        dh *= 1.0 - h * h
        W2 -= np.dot(h.T, z, out=self.gW2)
        b2 -= z.sum(axis=0)
        W1 -= np.dot(self.X.T, dh, out=self.gW1)
        b1 -= dh.sum(axis=0)
        return cost

    def state(self):
        return self.params


def _softmax_into(z, b):
    z += b
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)


def _numpy_impl(model):
    return Impl(model.step, model.state)


def _rows(workload, label, cost_fn, numpy_cls, sizes, n, peer_names, flops):
    params = initial_params(sizes)
    X, y = batch(n, sizes[0], sizes[-1])
    builders = {"numpy": lambda: _numpy_impl(numpy_cls(*params, X, y))}
    for backend in peers.symnb_backends():
        builders[f"symnb:{backend}"] = lambda backend=backend: symbolic_sgd(
            models.symnb_namespace(backend=backend), cost_fn, params, X, y)
    peer_builders = {"pytensor": lambda: symbolic_sgd(models.pytensor_namespace(), cost_fn, params, X, y),
                     "jax": lambda: jax_sgd(cost_fn, params, X, y),
                     "torch": lambda: torch_sgd(cost_fn, params, X, y)}
    for name in peers.available(peer_names):
        if name in peer_builders:
            builders[name] = peer_builders[name]
    return [Row(workload, label, builders, key={"sizes": sizes, "batch": n}, flops=flops, rtol=1e-6)]


def _gemm_flops(n, sizes):
    """Forward, weight-gradient and (past the first layer) input-gradient products."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    return sum(2 * n * a * b * (2 if i == 0 else 3) for i, (a, b) in enumerate(pairs))


def rows_c(n=60, n_in=784, n_classes=10, peer_names=peers.PEERS) -> list[Row]:
    sizes = (n_in, n_classes)
    return _rows("C", f"logistic regression SGD step, batch {n}, {n_in} -> {n_classes}",
                 models.logreg_cost, NumpyLogreg, sizes, n, peer_names, _gemm_flops(n, sizes))


def rows_d(n=60, sizes=(784, 500, 10), peer_names=peers.PEERS) -> list[Row]:
    return _rows("D", f"MLP {'-'.join(map(str, sizes))} SGD step, batch {n}",
                 models.mlp_cost, NumpyMLP, sizes, n, peer_names, _gemm_flops(n, sizes))
