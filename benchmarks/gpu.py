"""The GPU section of the benchmarks: symnb's CUDA backend side by side with its peers on one
machine, printed as Markdown for benchmarks/RESULTS.md ("GPU (CUDA backend)").

Rows: A = a**2 + b**2 + 2*a*b at 1e6..1e8 float32 against cupy's eager arithmetic and the
device-to-device copy bandwidth; the MLP 784-500-10 SGD step and 1000 Gibbs steps of 100 RBM
chains against NumPy on this machine's CPU and PyTorch eager on the GPU (skipped when
missing; a JAX column is still to be written). Usage: python -m benchmarks.gpu [--quick]
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time

import numpy as np

from . import models, rbm


def median_seconds(run, sync, budget=0.5, least=5) -> float:
    """Median wall time of run() (sync() waits for the device), after a warm-up call."""
    run()
    sync()
    times, start = [], time.perf_counter()
    while len(times) < least or time.perf_counter() - start < budget:
        t = time.perf_counter()
        run()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def rows_a(cp, sizes):
    import symnb as sn
    import symnb.tensor as st
    a, b = st.fvector("a"), st.fvector("b")
    f = sn.function([a, b], a ** 2 + b ** 2 + 2 * a * b, backend="cuda")
    sync = cp.cuda.Device().synchronize
    out = []
    for n in sizes:
        x, y = cp.random.rand(n, dtype=cp.float32), cp.random.rand(n, dtype=cp.float32)
        np.testing.assert_allclose(f(x, y).get(), (x ** 2 + y ** 2 + 2 * x * y).get(), rtol=1e-5)
        dst = cp.empty_like(x)
        t_copy = median_seconds(lambda: cp.copyto(dst, x), sync)
        t_sym = median_seconds(lambda: f(x, y), sync)
        t_eager = median_seconds(lambda: x ** 2 + y ** 2 + 2 * x * y, sync)
        copy_bw = 2 * x.nbytes / t_copy                  # read + write
        fused_bw = 3 * x.nbytes / t_sym                  # two reads, one write
        out.append((f"A float32 n={n:.0e}", t_sym, {"cupy eager": t_eager},
                    f"{fused_bw / 1e9:.0f} GB/s = {fused_bw / copy_bw:.0%} of the D2D copy's {copy_bw / 1e9:.0f} GB/s"))
    return out


def rows_mlp(cp, torch, batch=500):
    rng = np.random.default_rng(0)
    X = rng.random((batch, 784), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    init = [rng.normal(0, 0.01, (784, 500)).astype(np.float32), np.zeros(500, np.float32),
            rng.normal(0, 0.01, (500, 10)).astype(np.float32), np.zeros(10, np.float32)]
    m = models.symnb_namespace(backend="cuda")
    params = [m.shared(v.copy(), f"p{k}") for k, v in enumerate(init)]
    Xs, ys = m.tensor("X", "float32", 2), m.tensor("y", "int64", 1)
    cost = models.mlp_cost(m, Xs, ys, *params)
    step = m.function([Xs, ys], cost, [(p, p - 0.01 * g) for p, g in zip(params, m.grad(cost, params))])
    Xd, yd = cp.asarray(X), cp.asarray(y)
    W1, b1, W2, b2 = (v.copy() for v in init)

    def numpy_step():      # the same step by hand: forward, backward, in-place SGD
        h = np.tanh(X @ W1 + b1)
        z = h @ W2 + b2
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(batch), y] -= 1
        p /= batch
        dh = (p @ W2.T) * (1 - h * h)
        for w, g in ((W2, h.T @ p), (b2, p.sum(axis=0)), (W1, X.T @ dh), (b1, dh.sum(axis=0))):
            w -= 0.01 * g
    peers = {"NumPy (CPU)": median_seconds(numpy_step, lambda: None)}
    if torch is not None:
        dev = torch.device("cuda")
        tp = [torch.tensor(v, device=dev, requires_grad=True) for v in init]
        tX, ty = torch.tensor(X, device=dev), torch.tensor(y, device=dev)

        def torch_step():
            h = torch.tanh(tX @ tp[0] + tp[1])
            loss = torch.nn.functional.cross_entropy(h @ tp[2] + tp[3], ty)
            grads = torch.autograd.grad(loss, tp)
            with torch.no_grad():
                for p, g in zip(tp, grads):
                    p -= 0.01 * g
        peers["PyTorch eager (GPU)"] = median_seconds(torch_step, torch.cuda.synchronize)
    t = median_seconds(lambda: step(Xd, yd), cp.cuda.Device().synchronize)
    return [("MLP 784-500-10 SGD step, batch 500", t, peers, "")]


def rows_gibbs(cp, torch, steps, chains=100, n_vis=784, n_hid=500):
    W, vb, hb = rbm.initial_rbm(n_vis, n_hid, 0.01)
    v0 = rbm.binary_batch(chains, n_vis)
    m = models.symnb_namespace(backend="cuda")
    Ws, vbs, hbs = (m.shared(np.asarray(a, np.float32), k) for a, k in ((W, "W"), (vb, "vb"), (hb, "hb")))
    v = m.shared(np.asarray(v0, np.float32), "v")
    gibbs = m.function([], [], [(v, models.rbm_gibbs(m, v, Ws, vbs, hbs))])
    sync = cp.cuda.Device().synchronize

    def run():
        for _ in range(steps):
            gibbs()
    peers = {}
    npW, npvb, nphb, npv = (np.asarray(a, np.float32) for a in (W, vb, hb, v0))
    nrng = np.random.default_rng(0)

    def numpy_run():
        x = npv
        for _ in range(steps):
            h = (nrng.random((chains, n_hid), dtype=np.float32) < 1 / (1 + np.exp(-(x @ npW + nphb)))).astype(np.float32)
            x = (nrng.random((chains, n_vis), dtype=np.float32) < 1 / (1 + np.exp(-(h @ npW.T + npvb)))).astype(np.float32)
    peers["NumPy (CPU)"] = median_seconds(numpy_run, lambda: None, least=1)
    if torch is not None:
        dev = torch.device("cuda")
        tW, tvb, thb, tv = (torch.tensor(a, device=dev) for a in (npW, npvb, nphb, npv))

        def torch_run():
            x = tv
            for _ in range(steps):
                h = torch.bernoulli(torch.sigmoid(x @ tW + thb))
                x = torch.bernoulli(torch.sigmoid(h @ tW.T + tvb))
        peers["PyTorch eager (GPU)"] = median_seconds(torch_run, torch.cuda.synchronize, least=1)
    t = median_seconds(run, sync, least=1)
    return [(f"{steps} Gibbs steps, {chains} chains, RBM {n_vis}-{n_hid}", t, peers, "")]


def table(rows) -> str:
    lines = ["| row | symnb cuda | peers (time, symnb's speed-up) | notes |", "|---|---|---|---|"]
    for name, t, peers, notes in rows:
        ps = "; ".join(f"{k} {v * 1e3:.3f} ms ({v / t:.1f}x)" for k, v in peers.items())
        lines.append(f"| {name} | {t * 1e3:.3f} ms | {ps} | {notes} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes and 20 Gibbs steps")
    args = ap.parse_args(argv)
    from symnb.kernels.cuda.backend import device_status
    ok, why = device_status()
    if not ok:
        print(f"benchmarks.gpu: no GPU here ({why}); nothing measured", file=sys.stderr)
        return 2
    import cupy as cp
    try:
        import torch
        torch = torch if torch.cuda.is_available() else None
    except ImportError:
        torch = None
    props = cp.cuda.runtime.getDeviceProperties(0)
    print(f"device: {props['name'].decode()}, driver {cp.cuda.runtime.driverGetVersion()}, "
          f"CUDA runtime {cp.cuda.runtime.runtimeGetVersion()}, cupy {cp.__version__}, "
          f"torch {torch.__version__ if torch else 'absent'}, Python {platform.python_version()}\n")
    sizes = [10 ** 6, 10 ** 7] if args.quick else [10 ** 6, 10 ** 7, 10 ** 8]
    rows = rows_a(cp, sizes) + rows_mlp(cp, torch) + rows_gibbs(cp, torch, 20 if args.quick else 1000)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
