"""Reproduction of Breuleux, Bengio & Vincent (2011) on the bundled MNIST: Gibbs against
rates-FPCD and herding over seeds (class changes, classes visited, ISL, CSL, IAT of the
free energy), a sweep of eps_f and eta, TV to the exact distribution of a small RBM, and the
speed of a compiled sampling step against NumPy. Writes a section of benchmarks/RESULTS.md.

    python -m benchmarks.mixing [--quick] [--seeds 10] [--no-write]
"""
from __future__ import annotations

import argparse
import os
import pathlib
import pickle
import platform
import re
import time

import numpy as np

import symnb
from symnb.sampling import RBM, Gibbs, Herding, RatesFPCD, datasets, mixing, mnist_rbm

from . import machine, sampling_speed

RESULTS = pathlib.Path(__file__).resolve().parent / "RESULTS.md"
BEGIN, END = "<!-- begin: RBM sampling (benchmarks/mixing.py) -->", "<!-- end: RBM sampling -->"
SIZES = (100, 1000, 10000)


def training_times():
    """Seconds to train mnist_rbm() from scratch (compile cache as it is) and the classifier."""
    (X, y), (Xt, yt) = datasets.mnist()
    t = time.perf_counter()
    mnist_rbm(progress=False, retrain=True)
    train_s = time.perf_counter() - t
    t = time.perf_counter()
    clf = mixing.Classifier(seed=0).fit(X, y, epochs=5, lr=0.5)
    return {"train_s": train_s, "clf_s": time.perf_counter() - t, "clf_acc": clf.accuracy(Xt, yt)}


class Mnist:
    """The MNIST RBM, the classifier and the image sets, made on first use (a resumed run
    whose MNIST stages are done does not need them)."""

    def __init__(self, args):
        self.args = args

    def __getattr__(self, name):
        if name not in ("rbm", "clf", "X", "valid", "test", "tune"):
            raise AttributeError(name)
        (X, y), (Xt, _) = datasets.mnist()
        self.rbm, self.X = mnist_rbm(progress=False), X
        self.clf = mixing.Classifier(seed=0).fit(X, y, epochs=5, lr=0.5)
        # validation (bandwidths), test (the reported ISL) and tuning (the sweep's choice) are disjoint
        n = self.args.n_test
        self.valid, self.test, self.tune = Xt[:1000], Xt[1000:1000 + n], Xt[1000 + n:]
        return getattr(self, name)


def samplers(rbm, X, seed, n_chains, eps_f, eta):
    return {"Gibbs": Gibbs(rbm, n_chains=n_chains, seed=seed, init="data", data=X),
            "rates-FPCD": RatesFPCD(rbm, data=X, n_chains=n_chains, eps_f=eps_f, eta=eta, seed=seed, init="data"),
            "Herding": Herding(rbm, data=X, n_chains=n_chains, eps_f=eps_f, eta=eta, seed=seed, init="data")}


def measure(sampler, clf, rbm, valid, test, steps, sizes=SIZES, isl=True):
    """One run: mode hopping, ISL over the first N samples (steps in order, chains pooled),
    CSL of the means, IAT of each chain's free-energy trace."""
    v, p = sampler.record(steps)
    labels = clf.predict(p)
    row = {"changes": mixing.class_changes(labels).mean(), "visited": mixing.classes_visited(labels).mean(),
           "visited_min": mixing.classes_visited(labels).min()}
    flat_v, flat_p = v.reshape(-1, v.shape[-1]), p.reshape(-1, p.shape[-1])
    if isl:
        for n, value in mixing.isl_curve(flat_v, test, valid, sizes).items():
            row[f"isl{n}"] = value
        row["csl"] = mixing.csl(flat_p[:max(sizes)], test)     # the same samples as the largest ISL
    F = rbm.free_energy(flat_v).reshape(v.shape[:2])
    row["iat"] = np.mean([mixing.integrated_autocorrelation_time(F[:, j]) for j in range(F.shape[1])])
    return row


def over_seeds(rbm, clf, X, valid, test, args, eps_f, eta):
    rows = {}
    for seed in range(args.seeds):
        for name, s in samplers(rbm, X, seed, args.chains, eps_f, eta).items():
            t = time.perf_counter()
            rows.setdefault(name, []).append(measure(s, clf, rbm, valid, test, args.steps))
            print(f"seed {seed} {name}: {rows[name][-1]} ({time.perf_counter() - t:.1f} s)", flush=True)
    return rows


def sweep(rbm, clf, X, valid, tune, args):
    """rates-FPCD over a grid of (eps_f, eta) on seed 100, ISL on the tuning images; the
    choice is the highest ISL at N = 1000. Returns (rows, (eps_f, eta))."""
    out = []
    s = RatesFPCD(rbm, data=X, n_chains=args.chains, seed=100, init="data")
    for eps in args.sweep_eps:
        for eta in args.sweep_eta:
            s.eps_f, s.eta = eps, eta
            s.reset()
            row = measure(s, clf, rbm, valid, tune, args.steps, sizes=(1000,))
            out.append((eps, eta, row))
            print(f"sweep eps_f={eps} eta={eta}: {row}", flush=True)
    best = max(out, key=lambda r: r[2]["isl1000"])
    return out, best[:2]


def small_rbm_tv(args, eps_values, eta):
    """A 12-8 RBM on four separated modes: TV of pooled samples to the exact distribution."""
    X, _ = datasets.modes(n=2000, n_visible=12, n_modes=4, flip=0.05, seed=0)
    rbm = RBM(12, 8, seed=0, dtype="float64").fit(X, method="pcd", epochs=30, batch_size=20, lr=0.05,
                                                  progress=False)
    p = mixing.exact_distribution(rbm)
    checkpoints = [c for c in (10, 30, 100, 300, 1000, 3000, 10000) if c <= args.tv_steps]
    curves, identical = {}, []
    for seed in range(3):
        g = Gibbs(rbm, n_chains=10, seed=seed, init="data", data=X)
        f0 = RatesFPCD(rbm, data=X, n_chains=10, eps_f=0.0, eta=eta, seed=seed, init="data")
        vg = g.run(args.tv_steps)
        identical.append(np.array_equal(vg, f0.run(args.tv_steps)))
        curves.setdefault("Gibbs", []).append(mixing.tv_curve(vg, p, checkpoints))
        for eps_f in eps_values:
            f = RatesFPCD(rbm, data=X, n_chains=10, eps_f=eps_f, eta=eta, seed=seed, init="data")
            curves.setdefault(f"rates-FPCD eps_f={eps_f}", []).append(mixing.tv_curve(f.run(args.tv_steps), p,
                                                                                      checkpoints))
    floor = mixing.tv_floor(p, checkpoints, n_chains=10)
    means = {k: np.mean(v, axis=0) for k, v in curves.items()}
    return checkpoints, means, floor, rbm.log_partition(), all(identical)


def load_note(loads):
    names = ("setup", "sweep", "seeds", "tv", "speed")
    return ", ".join(f"{n} {loads[n]:.1f}" if n in loads else f"{n} not recorded" for n in names)


def _ms(rows, key):
    a = np.array([r[key] for r in rows], float)
    return a.mean(), a.std(ddof=1) / np.sqrt(len(a)) if len(a) > 1 else 0.0


def render(info, rows, sweep_rows, choice, tv, speed, args):
    eps_f, eta = choice
    L = [BEGIN, "## RBM sampling: Gibbs against rates-FPCD and herding (benchmarks/mixing.py)", ""]
    L += [f"Generated {time.strftime('%Y-%m-%d')} by `python -m benchmarks.mixing"
          f"{' --quick' if args.quick else ''}`. CPU: {machine.cpu_model()}, {os.cpu_count()} cores; "
          f"Python {platform.python_version()}, NumPy {np.__version__}, symnb {symnb.__version__} "
          f"({machine.symnb_revision()}); {machine.compiler_version()}. "
          f"Load average (1 min) at the end of each stage: {load_note(info['load'])} on 2 cores (other "
          f"processes' load distorts the timings).", ""]
    L += [f"`mnist_rbm()` (784-500, PCD, 10 epochs of 20,000 images, batch 20, lr 0.05, float32) trained from "
          f"scratch in **{info['train_s']:.0f} s**. Classifier for mode hopping: 784-256-10 tanh MLP trained with "
          f"symnb ({info['clf_s']:.0f} s), test accuracy {info['clf_acc']:.3f}.", ""]
    L += [f"Over {args.seeds} seeds, {args.chains} chains from training images, {args.steps} steps each; "
          f"rates-FPCD and herding with eps_f = {eps_f}, eta = {eta} (the sweep's choice), fast weights shared by "
          f"the chains. ISL(N): "
          f"binary-kernel Parzen density of the first N samples (steps in order, chains pooled), bandwidth chosen "
          f"on 1000 test images, mean log-likelihood of {info['n_test']} other test images (nats). CSL from "
          f"P(v|h) of the first {max(SIZES)} samples. IAT: integrated autocorrelation time of each chain's free "
          f"energy (steps). Mean ± standard error over seeds.", ""]
    sizes = [n for n in SIZES if f"isl{n}" in next(iter(rows.values()))[0]]
    keys = ["changes", "visited", "visited_min"] + [f"isl{n}" for n in sizes] + ["csl", "iat"]
    L += ["| sampler | class changes / 1000 steps | classes visited per chain | fewest visited | "
          + " | ".join(f"ISL N={n}" for n in sizes) + " | CSL | IAT of F |", "|---" * (len(keys) + 1) + "|"]
    for name, rs in rows.items():
        cells = [f"{m:.1f} ± {s:.1f}" if k in ("changes", "iat") else f"{m:.2f} ± {s:.2f}"
                 for k in keys for m, s in [_ms(rs, k)]]
        L.append(f"| {name} | " + " | ".join(cells) + " |")
    L += ["", f"Sweep of rates-FPCD (seed 100, {args.chains} chains, {args.steps} steps; ISL at N = 1000 on "
          f"{info['n_tune']} test images not used above; the highest ISL was chosen"
          f"{', at the edge of the grid' if eps_f == max(r[0] for r in sweep_rows) else ''}):", "",
          "| eps_f | eta | class changes / 1000 | classes visited | ISL N=1000 |", "|---|---|---|---|---|"]
    L += [f"| {e} | {h} | {r['changes']:.1f} | {r['visited']:.1f} | {r['isl1000']:.1f} |" for e, h, r in sweep_rows]
    checkpoints, curves, floor, logz, identical = tv
    L += ["", f"Small RBM (12-8, PCD on four separated modes, log Z = {logz:.2f}): TV distance of the pooled "
          f"samples of 10 chains to the exact distribution (mean of 3 seeds), beside the floor that as many exact "
          f"independent samples reach. rates-FPCD with eps_f = 0 equals Gibbs bit for bit: "
          f"{identical}. Its fast weights pull the chains' statistics toward the data's rates R, not toward "
          f"the model's, so rates-FPCD is not expected to reach the RBM's exact distribution: the rows show how "
          f"far from it each eps_f (eta = {eta}) stays, on an RBM that Gibbs sampling already mixes.", "",
          "| steps | " + " | ".join(map(str, checkpoints)) + " |", "|---" * (len(checkpoints) + 1) + "|"]
    for name in curves:
        L.append(f"| {name} | " + " | ".join(f"{x:.3f}" for x in curves[name]) + " |")
    L.append("| exact samples (floor) | " + " | ".join(f"{x:.3f}" for x in floor) + " |")
    L += ["", f"Speed of one step, {args.chains} chains of the 784-500 RBM, float32, median of interleaved rounds:", "",
          "| implementation | time per step |", "|---|---|"]
    L += [f"| {k} | {v * 1e3:.2f} ms |" for k, v in speed.items()]
    return "\n".join(L + ["", END, ""])


def write_section(text):
    old = RESULTS.read_text() if RESULTS.exists() else ""
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END) + "\n?", re.S)
    new = pattern.sub(lambda _: text, old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(new)


class Stages:
    """Results of finished stages kept in a pickle (--state), so that a long run that
    stops can resume where it stopped."""

    def __init__(self, path):
        self.path = pathlib.Path(path) if path else None
        self.done = pickle.loads(self.path.read_bytes()) if self.path and self.path.exists() else {}

    def __call__(self, name, compute):
        if name not in self.done:
            self.done[name] = compute()
            self.done.setdefault("load", {})[name] = os.getloadavg()[0]
            if self.path:
                self.path.write_bytes(pickle.dumps(self.done))
        return self.done[name]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 seeds, 500 steps, small sweep (a smoke run)")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--chains", type=int, default=10)
    ap.add_argument("--n-test", type=int, default=2000)
    ap.add_argument("--tv-steps", type=int, default=10000)
    ap.add_argument("--sweep-eps", type=float, nargs="*", default=[0.005, 0.01, 0.02, 0.05, 0.1, 0.2])
    ap.add_argument("--sweep-eta", type=float, nargs="*", default=[0.95, 0.99])
    ap.add_argument("--state", help="a pickle file that keeps finished stages (resume a stopped run)")
    ap.add_argument("--no-write", action="store_true", help="print the section, leave RESULTS.md alone")
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.steps, args.tv_steps, args.sweep_eps, args.sweep_eta = 2, 500, 1000, [0.01], [0.99]
    stage, m = Stages(args.state), Mnist(args)
    info = dict(stage("setup", training_times), n_test=args.n_test, n_tune=len(datasets.mnist()[1][0]) - 1000 - args.n_test)
    sweep_rows, (eps_f, eta) = stage("sweep", lambda: sweep(m.rbm, m.clf, m.X, m.valid, m.tune, args))
    rows = stage("seeds", lambda: over_seeds(m.rbm, m.clf, m.X, m.valid, m.test, args, eps_f, eta))
    tv_eps = sorted({0.005, 0.01, eps_f})
    tv = stage("tv", lambda: small_rbm_tv(args, tv_eps, eta))
    speed = stage("speed", lambda: sampling_speed.step_speed(m.rbm, m.X, n_chains=args.chains, eps_f=eps_f, eta=eta))
    info["load"] = stage.done.get("load", {})
    text = render(info, rows, sweep_rows, (eps_f, eta), tv, speed, args)
    print(text)
    if not args.no_write and not args.quick:
        write_section(text)


if __name__ == "__main__":
    main()
