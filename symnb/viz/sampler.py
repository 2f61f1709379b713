"""The sampler widget: chains of several samplers of one RBM (Gibbs against rates-FPCD by
default) animated side by side in JupyterLab, with live mode-hopping counters and ISL curves.

Last stage of the sampling flow: symnb.sampling -> sampler_state.Panel (frames, in Python)
-> this widget (binary traitlets) -> sampler.js (canvas drawing, asks for the next frame).
"""
from __future__ import annotations

import io
import pathlib
import time

import anywidget
import numpy as np
import traitlets as t

from .sampler_state import LiveISL, Panel, initial_states

SAMPLERS = {"gibbs": "Gibbs", "rates_fpcd": "rates-FPCD", "herding": "herding"}    # name -> panel title
INITS = ("noise", "data", "mode")
IN_FLIGHT = 2           # frames Python may run ahead of the browser's drawing
HISTORY = 200_000       # steps of class history kept per chain (the counters run on past it)


def _sampler_class(name):
    from symnb import sampling
    return {"gibbs": sampling.Gibbs, "rates_fpcd": sampling.RatesFPCD, "herding": sampling.Herding}[name]


def _as_classifier(classifier):
    """A callable (..., n_visible) -> class of each image."""
    return classifier.predict if hasattr(classifier, "predict") else classifier


class SamplerWidget(anywidget.AnyWidget):
    """Samplers of one RBM side by side, with the same seed, starting states and step budget.

    SamplerWidget(rbm=None, data=None, labels=None, held_out=None, herding=False, ...):
    rbm defaults to mnist_rbm() and data/labels/held_out to the bundled MNIST subset; any
    RBM with data of its size works. `classifier` (a callable or an object with .predict)
    names the class of each image; by default a mixing.Classifier is trained on the data.

    Controls (in the browser or as attributes): play/pause (`playing`), step, reset,
    `steps_per_frame`, `eps_f` (0 makes rates-FPCD Gibbs), `eta`, `n_chains`, `init`
    ('noise', 'data' or 'mode': every chain in one image of class mode_class). The browser
    asks for a frame each time it has drawn one, and Python runs at most IN_FLIGHT frames
    ahead of it; `step()` and `produce_frame()` drive the same machinery without a browser.
    """

    _esm = pathlib.Path(__file__).with_name("sampler.js")
    _css = pathlib.Path(__file__).with_name("sampler.css")

    playing = t.Bool(False).tag(sync=True)
    steps_per_frame = t.Int(5).tag(sync=True)
    # the setting benchmarks/mixing.py's sweep chose by held-out ISL on the MNIST RBM
    eps_f = t.Float(0.05).tag(sync=True)
    eta = t.Float(0.99).tag(sync=True)
    n_chains = t.Int(16).tag(sync=True)
    init = t.Unicode("data").tag(sync=True)
    budget = t.Int(20000).tag(sync=True)
    # what the browser draws; all set together in one message per frame
    frame = t.Int(0).tag(sync=True)
    shape = t.Dict().tag(sync=True)             # panels, chains, film and ribbon lengths, image side
    images = t.Bytes(b"").tag(sync=True)
    film = t.Bytes(b"").tag(sync=True)
    ribbon = t.Bytes(b"").tag(sync=True)
    stats = t.List().tag(sync=True)
    isl_png = t.Bytes(b"").tag(sync=True)
    frame_ms = t.Float(0.0).tag(sync=True)      # Python's time to produce a frame (moving average)

    def __init__(self, rbm=None, data=None, labels=None, held_out=None, samplers=("gibbs", "rates_fpcd"),
                 herding=False, classifier=None, seed=0, isl_points=300, mode_class=1,
                 film_len=12, ribbon_len=160, plot_interval=1.0, **controls):
        from symnb.sampling import datasets, mixing
        if data is None:
            (data, labels), (held_out, _) = datasets.mnist()
        if held_out is None:
            raise ValueError("held_out: the ISL needs held-out images (validation and test) when data= is given")
        names = list(samplers) + (["herding"] if herding and "herding" not in samplers else [])
        unknown = [n for n in names if n not in SAMPLERS]
        if unknown:
            raise ValueError(f"samplers: unknown {unknown}; expected some of {list(SAMPLERS)}")
        if rbm is None:
            from symnb.sampling import mnist_rbm
            rbm = mnist_rbm()
        self.rbm, self.data, self.labels, self.names = rbm, np.asarray(data), labels, names
        if classifier is None:
            if labels is None:
                raise ValueError("labels: a classifier is trained on the data's labels; give labels= or classifier=")
            classifier = mixing.Classifier(n_in=rbm.n_visible).fit(self.data, labels, epochs=2, lr=0.5)
        self.classify = _as_classifier(classifier)
        held_out = np.asarray(held_out)
        self.isl_sets = (held_out[isl_points:2 * isl_points], held_out[:isl_points])   # (test, validation)
        self.seed, self.mode_class = int(seed), int(mode_class)
        self.film_len, self.ribbon_len, self.plot_interval = int(film_len), int(ribbon_len), float(plot_interval)
        self._plot, self._plotted_at = None, -np.inf
        self.panels = []
        super().__init__(**controls)
        self._build_samplers()
        self.on_msg(self._on_msg)

    # ------------------------------------------------------------------ validation of controls
    @t.validate("eps_f")
    def _check_eps(self, proposal):
        if not proposal.value >= 0:
            raise t.TraitError(f"eps_f: expected a number >= 0, got {proposal.value}")
        return proposal.value

    @t.validate("eta")
    def _check_eta(self, proposal):
        if not 0 <= proposal.value < 1:
            raise t.TraitError(f"eta: expected 0 <= eta < 1, got {proposal.value}")
        return proposal.value

    @t.validate("n_chains", "steps_per_frame", "budget")
    def _check_positive(self, proposal):
        if proposal.value < 1:
            raise t.TraitError(f"{proposal.trait.name}: expected an integer >= 1, got {proposal.value}")
        return proposal.value

    @t.validate("init")
    def _check_init(self, proposal):
        if proposal.value not in INITS:
            raise t.TraitError(f"init: expected one of {INITS}, got {proposal.value!r}")
        return proposal.value

    # ------------------------------------------------------------------ samplers and panels
    def _build_samplers(self):
        """New samplers (same seed, same starting states) for the current n_chains and init."""
        v0 = initial_states(self.init, self.data, self.labels, self.n_chains, self.seed, self.mode_class)
        self.samplers = []
        for name in self.names:
            cls = _sampler_class(name)
            if name == "gibbs":
                s = cls(self.rbm, n_chains=self.n_chains, seed=self.seed, init=v0)
            else:
                s = cls(self.rbm, data=self.data, n_chains=self.n_chains, eps_f=self.eps_f, eta=self.eta,
                        seed=self.seed, init=v0)
            self.samplers.append(s)
        self._new_panels()

    def _new_panels(self):
        # the class history (not the counters) stops at HISTORY steps: a huge budget allocates nothing
        self.panels = [Panel(SAMPLERS[name], s, LiveISL(*self.isl_sets),
                             capacity=min(self.budget, HISTORY),
                             film_len=self.film_len, ribbon_len=self.ribbon_len)
                       for name, s in zip(self.names, self.samplers)]
        self._plot, self._plotted_at = None, -np.inf        # fresh axes for the new curves
        self._publish()

    @t.observe("n_chains", "init")
    def _restart(self, change):
        if self.panels:
            self.playing = False
            self._build_samplers()

    @t.observe("eps_f", "eta")
    def _retune(self, change):
        for s in getattr(self, "samplers", []):
            if hasattr(s, change.name):
                setattr(s, change.name, change.new)

    # ------------------------------------------------------------------ frames
    @property
    def steps(self):
        return self.panels[0].steps if self.panels else 0

    def produce_frame(self):
        """Advance every sampler by steps_per_frame (within the budget) and publish the
        frame. Returns False, and stops playing, once the budget is spent."""
        k = min(self.steps_per_frame, self.budget - self.steps)
        if k <= 0:
            self.playing = False
            return False
        t0 = time.perf_counter()
        means = [p.run(k) for p in self.panels]
        labels = self.classify(np.stack(means))       # one classifier call for every panel
        for p, m, lab in zip(self.panels, means, labels):
            p.absorb(m, lab)
        self._publish()
        ms = 1000 * (time.perf_counter() - t0)
        self.frame_ms = ms if self.frame_ms == 0 else 0.8 * self.frame_ms + 0.2 * ms
        return True

    def _publish(self):
        def pack(arrays):
            return np.clip(np.rint(np.stack(arrays) * 255), 0, 255).astype(np.uint8).tobytes()
        plot = None
        if time.monotonic() - self._plotted_at >= self.plot_interval:
            for p in self.panels:
                p.record_isl()
            plot = self.isl_figure()
            self._plotted_at = time.monotonic()
        with self.hold_sync():
            self.shape = {"panels": len(self.panels), "chains": self.n_chains, "film": self.film_len,
                          "ribbon": self.ribbon_len, "side": int(np.sqrt(self.rbm.n_visible)),
                          "budget": self.budget}
            self.images = pack([p.current for p in self.panels])
            self.film = pack([p.film for p in self.panels])
            self.ribbon = np.stack([p.trace.ribbon for p in self.panels]).tobytes()
            self.stats = [p.stats() for p in self.panels]
            if plot is not None:
                self.isl_png = plot
            self.frame += 1

    def isl_figure(self):
        """The ISL curves of all panels on one matplotlib plot, as PNG bytes."""
        if self._plot is None:
            self._plot = IslPlot([p.name for p in self.panels])
        return self._plot.png([p.isl_curve for p in self.panels])

    # ------------------------------------------------------------------ controls
    def play(self):
        """Start the animation (the browser view requests the frames)."""
        self.playing = True

    def pause(self):
        self.playing = False

    def step(self, frames=1):
        """Pause and produce `frames` frames; the last one refreshes the ISL curves."""
        self.playing = False
        for i in range(frames):
            if i == frames - 1:
                self._plotted_at = -np.inf
            if not self.produce_frame():
                break

    def reset(self):
        """Chains back to their starting states, fast weights to zero, counters cleared."""
        self.playing = False
        for s in self.samplers:
            s.reset()
        self._new_panels()

    def _on_msg(self, _widget, content, _buffers):
        kind = content.get("type")
        if kind == "tick":
            # a view that has drawn frame n asks for one more; up to IN_FLIGHT frames ahead
            # of the views, so that Python computes a frame while the browser receives and
            # draws the previous one (a second view of the widget adds no frames)
            if self.playing and self.frame < content.get("frame", -1) + IN_FLIGHT:
                self.produce_frame()
        elif kind == "step":
            self.step()
        elif kind == "reset":
            self.reset()


class IslPlot:
    """ISL curves against the number of samples, one line per sampler, on one matplotlib
    figure rendered to PNG. The axes are drawn again only when a curve leaves them (their
    limits then grow with a margin); otherwise the lines are drawn over the saved axes
    (blitting): a few milliseconds instead of a full draw's hundred."""

    def __init__(self, names):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        self.fig = Figure(figsize=(5.6, 2.6), dpi=80)
        self.canvas = FigureCanvasAgg(self.fig)
        self.ax = ax = self.fig.add_subplot()
        ax.set_xscale("log")
        ax.set_xlabel("samples (one per chain per frame)")
        ax.set_ylabel("ISL (nats)")
        ax.grid(alpha=0.3)
        self.lines = [ax.plot([], [], label=n, animated=True)[0] for n in names]
        ax.legend(loc="lower right")
        self.fig.tight_layout()
        self.limits, self.background = None, None

    def _fit_axes(self, points):
        (x0, y0), (x1, y1) = points.min(0), points.max(0)
        if self.limits is not None:
            lx0, lx1, ly0, ly1 = self.limits
            if lx0 <= x0 and x1 <= lx1 and ly0 <= y0 and y1 <= ly1:
                return
        pad = 0.25 * (y1 - y0) + 5
        self.limits = (x0 / 1.5, x1 * 4, y0 - pad, y1 + pad)
        self.ax.set_xlim(*self.limits[:2])
        self.ax.set_ylim(*self.limits[2:])
        self.background = None

    def png(self, curves):
        from PIL import Image
        curves = [np.asarray(c, np.float64).reshape(-1, 3)[:, :2] for c in curves]
        points = np.concatenate(curves)
        points = points[np.isfinite(points).all(1)]
        if len(points):
            self._fit_axes(points)
        if self.background is None:
            self.canvas.draw()
            self.background = self.canvas.copy_from_bbox(self.fig.bbox)
        self.canvas.restore_region(self.background)
        for line, curve in zip(self.lines, curves):
            line.set_data(curve[:, 0], curve[:, 1])
            self.ax.draw_artist(line)
        buf = io.BytesIO()
        Image.fromarray(np.asarray(self.canvas.buffer_rgba())).save(buf, format="png", compress_level=1)
        return buf.getvalue()
