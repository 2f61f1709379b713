"""Frames per second that the sampler widget's Python side produces, without a browser: Gibbs
and rates-FPCD, 16 chains each, on the MNIST RBM, for several steps per frame; and how a
frame's time divides between the samplers' steps and the widget's own work (classifying every
step, the ISL counts, packing the pixels, the plot).

    python -m benchmarks.sampler_widget [--frames 60] [--quick]

Sits beside the data flow: it drives symnb.viz.SamplerWidget.produce_frame, as the browser's
requests do. The browser's rate is measured by tests/browser/test_sampler_widget_browser.py.
"""
from __future__ import annotations

import argparse
import os
import time

from symnb.sampling import mnist_rbm
from symnb.viz import SamplerWidget

from . import machine


def frame_rate(widget, frames):
    """(frames per second, share of the time spent in the samplers' steps)."""
    t0 = time.perf_counter()
    for _ in range(frames):
        widget.produce_frame()
    total = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(frames):
        for s in widget.samplers:
            s.run(widget.steps_per_frame, mean=True)
    sampling = time.perf_counter() - t0
    return frames / total, min(sampling / total, 1.0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--chains", type=int, default=16)
    ap.add_argument("--steps", type=int, nargs="*", default=[1, 5, 10])
    ap.add_argument("--quick", action="store_true", help="a one-epoch RBM (same cost per step) and 20 frames")
    args = ap.parse_args(argv)
    rbm = mnist_rbm(epochs=1, progress=False) if args.quick else mnist_rbm()
    frames = 20 if args.quick else args.frames
    w = SamplerWidget(rbm, n_chains=args.chains, seed=1, budget=10**9, plot_interval=1.0)
    w.step(3)                                       # compiled, warm
    print(f"# sampler widget, Python side: 2 samplers x {args.chains} chains, 784-500 RBM, {frames} frames")
    print(f"# {machine.cpu_model()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    print("| steps per frame | frames/s | steps/s per sampler | share in the samplers' steps |")
    print("|---|---|---|---|")
    for k in args.steps:
        w.steps_per_frame = k
        fps, share = frame_rate(w, frames)
        print(f"| {k} | {fps:.1f} | {fps * k:.0f} | {100 * share:.0f} % |")
    print(f"# load average {os.getloadavg()[0]:.1f} at the end; ISL plot every {w.plot_interval:.0f} s")


if __name__ == "__main__":
    main()
