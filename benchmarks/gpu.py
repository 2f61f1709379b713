"""The GPU section of the benchmarks: symnb's CUDA backend side by side with its peers on one
machine, printed as Markdown for benchmarks/RESULTS.md ("GPU (CUDA backend)").

Rows: A = a**2 + b**2 + 2*a*b at 1e6..1e8 float32 against cupy's eager arithmetic and the
device-to-device copy bandwidth; the MLP 784-500-10 SGD step and 1000 Gibbs steps of 100 RBM
chains against NumPy on this machine's CPU, PyTorch eager and JAX jit on the GPU (each peer
skipped, saying why, when missing or without a GPU). Usage: python -m benchmarks.gpu [--quick]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import traceback

import numpy as np
import scipy.special

from . import machine, models, peers, rbm, training
from .harness import Impl

LR = training.LEARNING_RATE


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


def gpu_peers() -> tuple[dict, dict]:
    """({"torch": module or None, "jax": module or None}, {name: why it is left out})."""
    found, why = {"torch": None, "jax": None}, {}
    try:
        import torch
        if torch.cuda.is_available():
            found["torch"] = torch
        else:
            why["torch"] = f"torch {torch.__version__} sees no CUDA device"
    except ImportError as e:
        why["torch"] = str(e)
    # JAX would take 75% of the GPU's memory at its first use, starving cupy and PyTorch.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    jax = peers.load("jax")
    if jax is None:
        why["jax"] = peers.why_missing("jax")
    else:
        try:
            jax.devices("gpu")
            if jax.default_backend() != "gpu":
                raise RuntimeError(f"JAX's default backend is {jax.default_backend()}")
            found["jax"] = jax
        except RuntimeError as e:
            why["jax"] = f"jax {jax.__version__} has no GPU: {str(e).splitlines()[0]}"
    return found, why


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


# ----------------------------------------------------------------------------- implementations
# Each builder returns name -> (Impl, sync). backend="cuda" puts symnb, PyTorch and JAX on the
# GPU (JAX on its default device, the GPU when it has one); the tests build the same columns
# on the CPU (a host backend, torch on "cpu", JAX's CPU) to check their mathematics.

def _places(backend):
    """(where the peers run, symnb's array module, its sync, the torch device)."""
    if backend == "cuda":
        import cupy as cp
        return "GPU", cp, cp.cuda.Device().synchronize, "cuda"
    return "CPU", np, lambda: None, "cpu"


def _jax_columns(jax, where, build) -> dict:
    """JAX at its default matmul precision (TF32 on recent NVIDIA GPUs), and at float32 as
    every other column computes; the precision is part of jit's cache key, so the timed calls
    run under it too."""
    default, full = build(), build()

    def run():
        with jax.default_matmul_precision("float32"):
            return full.run()
    return {f"JAX jit ({where})": (default, lambda: None),
            f"JAX jit ({where}, float32 matmuls)": (Impl(run, full.state), lambda: None)}


def mlp_problem(batch=500, sizes=(784, 500, 10), seed=0):
    """(X float32, y int64, [W1, b1, W2, b2] float32) of the MLP step."""
    rng = np.random.default_rng(seed)
    X = rng.random((batch, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], batch)
    init = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        init += [rng.normal(0, 0.01, (fan_in, fan_out)).astype(np.float32), np.zeros(fan_out, np.float32)]
    return X, y, init


def numpy_mlp(X, y, init) -> Impl:
    """The step by hand: forward, backward, in-place SGD."""
    W1, b1, W2, b2 = (v.copy() for v in init)
    batch = len(y)

    def step():
        h = np.tanh(X @ W1 + b1)
        z = h @ W2 + b2
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(batch), y] -= 1
        p /= batch
        dh = (p @ W2.T) * (1 - h * h)
        for w, g in ((W2, h.T @ p), (b2, p.sum(axis=0)), (W1, X.T @ dh), (b1, dh.sum(axis=0))):
            w -= LR * g
    return Impl(step, lambda: [W1, b1, W2, b2])


def mlp_impls(X, y, init, backend="cuda", torch=None, jax=None) -> dict:
    """symnb (first), NumPy on the CPU, and the peers given, each one SGD step per run()."""
    where, xp, sync, dev = _places(backend)
    m = models.symnb_namespace(backend=backend)
    params = [m.shared(v.copy(), f"p{k}") for k, v in enumerate(init)]
    Xs, ys = m.tensor("X", "float32", 2), m.tensor("y", "int64", 1)
    cost = models.mlp_cost(m, Xs, ys, *params)
    step = m.function([Xs, ys], cost, [(p, p - LR * g) for p, g in zip(params, m.grad(cost, params))])
    Xd, yd = xp.asarray(X), xp.asarray(y)
    sym = Impl(lambda: step(Xd, yd), lambda: [p.get_value() for p in params])
    sym.function = step     # the row's notes name its nodes that ran on the host
    impls = {f"symnb {backend}": (sym, sync), "NumPy (CPU)": (numpy_mlp(X, y, init), lambda: None)}
    if torch is not None:
        tp = [torch.tensor(v, device=dev, requires_grad=True) for v in init]
        tX, ty = torch.tensor(X, device=dev), torch.tensor(y, device=dev)

        def torch_step():
            h = torch.tanh(tX @ tp[0] + tp[1])
            loss = torch.nn.functional.cross_entropy(h @ tp[2] + tp[3], ty)
            grads = torch.autograd.grad(loss, tp)
            with torch.no_grad():
                for p, g in zip(tp, grads):
                    p -= LR * g
        impls[f"PyTorch eager ({where})"] = (Impl(torch_step, lambda: [p.detach().cpu().numpy() for p in tp]),
                                             torch.cuda.synchronize if dev == "cuda" else lambda: None)
    if jax is not None:     # jax.jit of value_and_grad, donated parameters (training.py)
        impls.update(_jax_columns(jax, where, lambda: training.jax_sgd(models.mlp_cost, init, X, y)))
    return impls


def gibbs_problem(chains=100, n_vis=784, n_hid=500, weight_scale=0.01):
    """(W, vb, hb, v0) float32; weight_scale 1e6 makes every draw certain (0 or 1)."""
    W, vb, hb = rbm.initial_rbm(n_vis, n_hid, weight_scale)
    return tuple(np.asarray(a, np.float32) for a in (W, vb, hb, rbm.binary_batch(chains, n_vis)))


def gibbs_impls(W, vb, hb, v0, steps, backend="cuda", torch=None, jax=None) -> dict:
    """symnb (first), NumPy on the CPU and the peers given, each `steps` block-Gibbs steps of
    the chains v0 per run(), each with its own random generator."""
    where, _, sync, dev = _places(backend)
    m = models.symnb_namespace(backend=backend)
    Ws, vbs, hbs = (m.shared(a.copy(), k) for a, k in ((W, "W"), (vb, "vb"), (hb, "hb")))
    v = m.shared(v0.copy(), "v")
    gibbs = m.function([], [], [(v, models.rbm_gibbs(m, v, Ws, vbs, hbs))])

    def symnb_run():
        for _ in range(steps):
            gibbs()
    chains, n_vis, n_hid = v0.shape[0], W.shape[0], W.shape[1]
    nrng, x = np.random.default_rng(0), [v0.copy()]

    def numpy_run():
        for _ in range(steps):
            h = (nrng.random((chains, n_hid), dtype=np.float32) < scipy.special.expit(x[0] @ W + hb)).astype(np.float32)
            x[0] = (nrng.random((chains, n_vis), dtype=np.float32) < scipy.special.expit(h @ W.T + vb)).astype(np.float32)
    sym = Impl(symnb_run, lambda: [v.get_value()])
    sym.function = gibbs
    impls = {f"symnb {backend}": (sym, sync), "NumPy (CPU)": (Impl(numpy_run, lambda: [x[0]]), lambda: None)}
    if torch is not None:
        tW, tvb, thb = (torch.tensor(a, device=dev) for a in (W, vb, hb))
        tx = [torch.tensor(v0, device=dev)]

        def torch_run():
            with torch.inference_mode():
                for _ in range(steps):
                    h = torch.bernoulli(torch.sigmoid(tx[0] @ tW + thb))
                    tx[0] = torch.bernoulli(torch.sigmoid(h @ tW.T + tvb))
        impls[f"PyTorch eager ({where})"] = (Impl(torch_run, lambda: [tx[0].cpu().numpy()]),
                                             torch.cuda.synchronize if dev == "cuda" else lambda: None)
    if jax is not None:     # a jitted step with a key split per draw, called `steps` times (rbm.py)
        impls.update(_jax_columns(jax, where, lambda: rbm.jax_gibbs(W, vb, hb, v0, steps)))
    return impls


def failure(e: Exception) -> str:
    """What a table cell says for a column or section that raised (the rest still runs)."""
    return f"failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:160]


def state_errors(impls, init) -> dict[str, float | str]:
    """One run() of each implementation, then the max error of its state (the parameters
    after one SGD step) against NumPy's, relative to how far NumPy's moved from `init`."""
    states = {}
    for name, (impl, sync) in impls.items():
        try:
            impl.run()
            sync()
            states[name] = [np.asarray(s, np.float64) for s in impl.state()]
        except Exception as e:  # noqa: BLE001  (a peer's failure is a result to report)
            states[name] = failure(e)
    ref = states.pop("NumPy (CPU)")
    moved = max(float(np.max(np.abs(r - i))) for r, i in zip(ref, init))
    return {name: got if isinstance(got, str) else max(float(np.max(np.abs(a - r))) for a, r in zip(got, ref)) / moved
            for name, got in states.items()}


# ----------------------------------------------------------------------------- rows
def measure(impl, sync, least) -> float | str:
    """Median seconds per run(), or why it failed (a failing column never loses the row)."""
    try:
        return median_seconds(impl.run, sync, least=least)
    except Exception as e:  # noqa: BLE001  (a peer's failure is a result to report)
        return failure(e)


def host_nodes(impl) -> str:
    """The ops of symnb's function (impl.function) that ran through NumPy on host copies."""
    import symnb as sn
    if not hasattr(impl, "function"):
        return ""
    return "ops run on the host: " + (", ".join(sorted({n.op.name for n in sn.nodes(impl.function).in_python})) or "none")


def timed_row(label, impls, least=5, notes="") -> tuple:
    """(label, symnb's time, {peer: time}, notes): symnb is the first implementation."""
    (_, (impl, sync)), *others = impls.items()
    times = measure(impl, sync, least), {k: measure(i, s, least) for k, (i, s) in others}
    return label, *times, "; ".join(n for n in (notes, host_nodes(impl)) if n)


def rows_mlp(backend, torch, jax, batch=500):
    X, y, init = mlp_problem(batch)
    impls = mlp_impls(X, y, init, backend, torch, jax)
    errors = state_errors(impls, init)
    notes = "parameter change vs NumPy's after one step, max error / max change: " + ", ".join(
        f"{k} {v}" if isinstance(v, str) else f"{k} {v:.1e}" for k, v in errors.items())
    return [timed_row(f"MLP 784-500-10 SGD step, batch {batch}", impls, notes=notes)]


def rows_gibbs(backend, torch, jax, steps, chains=100):
    W, vb, hb, v0 = gibbs_problem(chains)
    impls = gibbs_impls(W, vb, hb, v0, steps, backend, torch, jax)
    return [timed_row(f"{steps} Gibbs steps, {chains} chains, RBM 784-500", impls, least=1)]


def _ms(t) -> str:
    return t if isinstance(t, str) else f"{t * 1e3:.3f} ms"


def table(rows) -> str:
    lines = ["| row | symnb cuda | peers (time, symnb's speed-up) | notes |", "|---|---|---|---|"]
    for name, t, peer_times, notes in rows:
        ps = "; ".join(f"{k} {_ms(v)}" + ("" if isinstance(v, str) or isinstance(t, str) else f" ({v / t:.1f}x)")
                       for k, v in peer_times.items())
        lines.append(f"| {name} | {_ms(t)} | {ps} | {notes} |")
    return "\n".join(lines)


def section(name, build) -> list:
    """The rows of one section, or one row saying why it failed (the other sections still run)."""
    try:
        return build()
    except Exception as e:  # noqa: BLE001
        print(f"benchmarks.gpu: {name} failed", file=sys.stderr)
        traceback.print_exc()
        return [(name, failure(e), {}, "")]


def describe(cp, found, why) -> str:
    props = cp.cuda.runtime.getDeviceProperties(0)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    torch, jax = found["torch"], found["jax"]
    try:
        nvrtc = ".".join(map(str, cp.cuda.nvrtc.getVersion()))
    except Exception as e:  # noqa: BLE001  (then every symnb row says why too)
        nvrtc = failure(e)
    peer = [f"PyTorch {torch.__version__} (CUDA {torch.version.cuda})" if torch else f"PyTorch: {why['torch']}",
            f"JAX {jax.__version__} ({jax.devices()[0].device_kind})" if jax else f"JAX: {why['jax']}"]
    return "\n".join([
        f"- GPU: {name}, {props['totalGlobalMem'] / 2 ** 30:.0f} GiB, compute capability "
        f"{props['major']}.{props['minor']}; driver {cp.cuda.runtime.driverGetVersion()}, "
        f"CUDA runtime {cp.cuda.runtime.runtimeGetVersion()}, NVRTC {nvrtc}",
        f"- CPU: {machine.cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}, "
        f"NumPy {np.__version__}, cupy {cp.__version__}, symnb {machine.symnb_revision()}",
        "- Peers: " + "; ".join(peer), ""])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes and 20 Gibbs steps")
    args = ap.parse_args(argv)
    from symnb.kernels.cuda.backend import device_status
    ok, why_not = device_status()
    if not ok:
        print(f"benchmarks.gpu: no GPU here ({why_not}); nothing measured", file=sys.stderr)
        return 2
    import cupy as cp
    found, why = gpu_peers()
    print(describe(cp, found, why))
    sizes = [10 ** 6, 10 ** 7] if args.quick else [10 ** 6, 10 ** 7, 10 ** 8]
    steps = 20 if args.quick else 1000
    rows = (section("A", lambda: rows_a(cp, sizes))
            + section("MLP step", lambda: rows_mlp("cuda", found["torch"], found["jax"]))
            + section("Gibbs", lambda: rows_gibbs("cuda", found["torch"], found["jax"], steps)))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
