"""Workload F: one SGD step of the Theano tutorial's LeNet (MNIST-sized 28x28 images, batch
100, 20 then 50 filters of 5x5, 2x2 max pooling, 500 tanh units, 10 classes), as harness
rows. Sits beside the data flow like training.py, whose symbolic, JAX and PyTorch steps it reuses.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import models, peers, training
from .harness import Row

LR = training.LEARNING_RATE
# (filters, channels, 5, 5) twice, then the tanh layer and the classifier.
CONV_SHAPES = ((20, 1, 5, 5), (50, 20, 5, 5))
DENSE = ((800, 500), (500, 10))


def initial_params(dtype, seed=0):
    """The tutorial's uniform(+-sqrt(6 / (fan_in + fan_out))) weights (a pooled conv layer's
    fan_out counts its 4 inputs per pooled unit once), zero biases."""
    rng = np.random.default_rng(seed)
    params = []
    for shape in CONV_SHAPES + DENSE:
        fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else shape[0]
        fan_out = shape[0] * int(np.prod(shape[2:])) // 4 if len(shape) == 4 else shape[1]
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        params += [rng.uniform(-bound, bound, shape).astype(dtype), np.zeros(shape[0] if len(shape) == 4
                                                                              else shape[1], dtype)]
    return params


def flops(n=100) -> float:
    """GEMM flops of a step: each conv forward and filter gradient, the second conv's image
    gradient, and the dense layers' three products each (the first's input gradient aside)."""
    c0 = 2 * n * 20 * 24 * 24 * 25
    c1 = 2 * n * 50 * 8 * 8 * 500
    return 2 * c0 + 3 * c1 + 2 * n * 800 * 500 * 3 + 2 * n * 500 * 10 * 3


def _windows(x, k):
    """(N, C, OH, OW, k, k) view of x's valid k x k windows."""
    return sliding_window_view(x, (k, k), axis=(2, 3))


def _conv(x, w):
    """Valid correlation, NCHW by OIHW, as one tensordot over the windows."""
    return np.ascontiguousarray(np.tensordot(_windows(x, w.shape[2]), w, axes=([1, 4, 5], [1, 2, 3]))
                                .transpose(0, 3, 1, 2))


def _pool(c):
    n, k, h, w = c.shape
    return c.reshape(n, k, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def _unpool(c, p, dp):
    """Max pooling's gradient: dp to the elements equal to their window's maximum."""
    n, k, h, w = c.shape
    blocks = c.reshape(n, k, h // 2, 2, w // 2, 2)
    return ((blocks == p[:, :, :, None, :, None]) * dp[:, :, :, None, :, None]).reshape(c.shape)


class NumpyLeNet:
    """The step in NumPy as a careful user writes it: windows as strided views, every
    convolution and its gradients one tensordot, in-place updates."""

    def __init__(self, *args):
        *params, self.X, self.y = args
        self.params = [p.copy() for p in params]
        self.rows = np.arange(len(self.y))

    def step(self):
        W0, b0, W1, b1, W2, b2, W3, b3 = self.params
        n, rows, y = len(self.y), self.rows, self.y
        x = self.X.reshape(n, 1, 28, 28)
        c0 = _conv(x, W0)
        p0 = _pool(c0)
        h0 = np.tanh(p0 + b0[:, None, None])
        c1 = _conv(h0, W1)
        p1 = _pool(c1)
        h1 = np.tanh(p1 + b1[:, None, None])
        f = h1.reshape(n, 800)
        h2 = np.tanh(f @ W2 + b2)
        z = h2 @ W3 + b3
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        cost = -np.log(z[rows, y]).mean()
        z[rows, y] -= 1.0
        z *= LR / n                                   # d cost / d logits, times the learning rate
        dh2 = (z @ W3.T) * (1 - h2 * h2)
        dp1 = (dh2 @ W2.T).reshape(h1.shape) * (1 - h1 * h1)
        dc1 = _unpool(c1, p1, dp1)
        # the image gradient of a valid correlation: a full correlation with the flipped filters
        dh0 = _conv(np.pad(dc1, ((0, 0), (0, 0), (4, 4), (4, 4))), W1[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
        dp0 = dh0 * (1 - h0 * h0)
        dc0 = _unpool(c0, p0, dp0)
        W3 -= h2.T @ z
        b3 -= z.sum(axis=0)
        W2 -= f.T @ dh2
        b2 -= dh2.sum(axis=0)
        W1 -= np.tensordot(dc1, _windows(h0, 5), axes=([0, 2, 3], [0, 2, 3]))
        b1 -= dp1.sum(axis=(0, 2, 3))
        W0 -= np.tensordot(dc0, _windows(x, 5), axes=([0, 2, 3], [0, 2, 3]))
        b0 -= dp0.sum(axis=(0, 2, 3))
        return cost

    def state(self):
        return self.params


def rows_f(n=100, dtypes=("float32", "float64"), peer_names=peers.PEERS) -> list[Row]:
    rows = []
    for dtype in dtypes:
        params = initial_params(dtype)
        rng = np.random.default_rng(1)
        X, y = rng.random((n, 784)).astype(dtype), rng.integers(0, 10, n).astype(np.int32)
        builders = {"numpy": lambda params=params, X=X, y=y: training._numpy_impl(NumpyLeNet(*params, X, y))}
        for backend in peers.symnb_backends():
            builders[f"symnb:{backend}"] = lambda backend=backend, params=params, X=X, y=y: training.symbolic_sgd(
                models.symnb_namespace(backend=backend), models.lenet_cost, params, X, y)
        peer_builders = {"jax": lambda params=params, X=X, y=y: training.jax_sgd(models.lenet_cost, params, X, y),
                         "torch": lambda params=params, X=X, y=y: training.torch_sgd(models.lenet_cost, params, X, y)}
        for name in peers.available(peer_names):
            if name in peer_builders:
                builders[name] = peer_builders[name]
        rows.append(Row("F", f"LeNet SGD step, batch {n}, 28x28 -> 20 and 50 5x5 filters -> 500 -> 10, {dtype}",
                        builders, key={"batch": n, "dtype": dtype}, flops=flops(n), dtype=dtype,
                        rtol=1e-6 if dtype == "float64" else 2e-3))
    return rows


def cpu_times(n=100, dtypes=("float32", "float64"), calls=8, repeats=5) -> dict:
    """{dtype: {implementation: median CPU seconds per step}}: process CPU time (every thread's),
    so other processes' load hardly moves it, unlike the harness's wall-clock medians."""
    import time
    out = {}
    for dtype in dtypes:
        impls = {name: build() for name, build in rows_f(n, (dtype,), peers.available(("jax", "torch")))[0]
                 .builders.items()}
        samples = {name: [] for name in impls}
        for impl in impls.values():
            impl.run()
        for _ in range(repeats):                  # interleaved: a slow stretch hits every column
            for name, impl in impls.items():
                k = 1 if name.endswith("numpy") else calls
                t = time.process_time()
                for _ in range(k):
                    impl.run()
                samples[name].append((time.process_time() - t) / k)
        out[dtype] = {name: sorted(s)[len(s) // 2] for name, s in samples.items()}
    return out


if __name__ == "__main__":
    # One thread each: `OPENBLAS_NUM_THREADS=1 SYMNB_NUM_THREADS=1 python -m benchmarks.convnet`
    # (NumPy's BLAS reads its variable at import); JAX and PyTorch are set here, before use.
    import os
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    if peers.load("torch") is not None:
        peers.load("torch").set_num_threads(1)
    for dtype, cells in cpu_times().items():
        print(f"| LeNet SGD step, batch 100, {dtype}, one thread, CPU time | "
              + " | ".join(f"{peers.label(k)} {v * 1e3:.1f} ms" for k, v in cells.items()) + " |")
