"""Time the default rewrite pipeline on the 784-500-10 MLP training graph (cost, 4
gradients, 4 updates). Run: `python benchmarks/rewrite_time.py` (prints a Markdown row)."""
from __future__ import annotations

import platform
import statistics
import time

import numpy as np

import symnb as sn
import symnb.tensor as st


def mlp_training_outputs():
    rng = np.random.default_rng(0)
    X, y = st.dmatrix("X"), st.ivector("y")
    params = [sn.shared(rng.standard_normal((784, 500)) * 0.01, name="W1"), sn.shared(np.zeros(500), name="b1"),
              sn.shared(rng.standard_normal((500, 10)) * 0.01, name="W2"), sn.shared(np.zeros(10), name="b2")]
    W1, b1, W2, b2 = params
    hidden = st.tanh(st.dot(X, W1) + b1)
    cost = st.categorical_crossentropy(st.softmax(st.dot(hidden, W2) + b2), y).mean()
    grads = sn.grad(cost, params)
    return [cost] + grads + [p - 0.01 * g for p, g in zip(params, grads)]


def main(repeats=30):
    times = []
    for _ in range(repeats):
        outputs = mlp_training_outputs()      # a fresh graph each time: nothing is cached
        start = time.perf_counter()
        result = sn.rewrite(outputs)
        times.append(time.perf_counter() - start)
    stats = result.stats
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}, "
          f"numpy {np.__version__}")
    print("| graph | nodes before | nodes after | rewrite median (ms) | min (ms) | target |")
    print("|---|---|---|---|---|---|")
    print(f"| MLP 784-500-10 training (cost, 4 grads, 4 updates) | {stats[0]['nodes']} | {stats[-1]['nodes']} "
          f"| {statistics.median(times) * 1e3:.1f} | {min(times) * 1e3:.1f} | < 100 ms |")


if __name__ == "__main__":
    main()
