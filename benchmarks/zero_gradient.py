"""A contractive autoencoder's training call (784-500, batch 20, a Jacobian penalty whose
floor division has a zero gradient) on one backend, this checkout against an earlier
revision of symnb, both imported into one process and timed interleaved.

    python -m benchmarks.zero_gradient --base 2caa82b [--backend numpy] [--rounds 7]

The earlier revision's package is extracted with `git archive` into a temporary folder
under another name, so the two versions run side by side on the same data.
"""
from __future__ import annotations

import argparse
import importlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def import_revision(rev: str, into: Path):
    """symnb as of `rev`, importable as `symnb_<rev>` (its imports inside are relative)."""
    name = "symnb_" + "".join(c for c in rev if c.isalnum())
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "symnb"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    (into / "symnb").rename(into / name)
    sys.path.insert(0, str(into))
    return importlib.import_module(name), importlib.import_module(name + ".tensor")


def contractive_step(sn, T, backend, batch=20, visible=784, hidden=500, examples=100, seed=0):
    """The training function of a contractive autoencoder over a minibatch index."""
    rng = np.random.default_rng(seed)
    data = sn.shared(rng.random((examples, visible)), name="data")
    W = sn.shared(rng.uniform(-0.1, 0.1, (visible, hidden)), name="W")
    b_hid, b_vis = sn.shared(np.zeros(hidden), name="b_hid"), sn.shared(np.zeros(visible), name="b_vis")
    x, index = T.dmatrix("x"), T.lscalar("index")
    code = T.sigmoid(T.dot(x, W) + b_hid)
    recon = T.sigmoid(T.dot(code, W.T) + b_vis)
    jacobian = T.reshape(code * (1 - code), (batch, 1, hidden)) * T.reshape(W, (1, visible, hidden))
    reconstruction = -T.sum(x * T.log(recon) + (1 - x) * T.log(1 - recon), axis=1)
    contraction = T.sum(jacobian ** 2) // batch
    cost = T.mean(reconstruction) + 0.1 * T.mean(contraction)
    params = [W, b_hid, b_vis]
    grads = sn.grad(cost, params)
    return sn.function([index], cost, updates=[(p, p - 0.01 * g) for p, g in zip(params, grads)],
                       givens={x: data[index * batch:(index + 1) * batch]}, backend=backend)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="git revision to compare against")
    ap.add_argument("--backend", default="numpy")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import symnb as sn
    import symnb.tensor as T
    with tempfile.TemporaryDirectory() as tmp:
        old_sn, old_T = import_revision(args.base, Path(tmp))
        steps = {"this checkout": contractive_step(sn, T, args.backend),
                 args.base: contractive_step(old_sn, old_T, args.backend)}
        costs = {k: float(f(0)) for k, f in steps.items()}      # warm-up; same model, same cost
        times = {k: [] for k in steps}
        for r in range(args.rounds):
            for k, f in steps.items():
                start = time.perf_counter()
                f(r % 5)
                times[k].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    for k in steps:
        print(f"{k:>16}: median {med[k] * 1e3:8.1f} ms over {args.rounds} calls (first cost {costs[k]:.6f})")
    print(f"speed-up: {med[args.base] / med['this checkout']:.2f}x on the {args.backend} backend")


if __name__ == "__main__":
    main()
