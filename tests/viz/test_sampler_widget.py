"""The sampler widget's Python side without a browser: frames, controls, messages, and the
live metrics it shows (checked against symnb.sampling.mixing)."""
import numpy as np
import pytest
import traitlets

from symnb.sampling import RBM, datasets, mixing
from symnb.viz import SamplerWidget
from symnb.viz.sampler_state import NO_CLASS, ClassTrace, LiveISL, initial_states

PIXELS = 784


@pytest.fixture(scope="module")
def mnist():
    (X, y), (Xt, _) = datasets.mnist()
    return X[:600], y[:600], Xt[:200]


@pytest.fixture(scope="module")
def rbm(mnist):
    return RBM(PIXELS, 32, seed=0, weight_scale=0.5)


@pytest.fixture(scope="module")
def classifier(mnist):
    X, y, _ = mnist
    return mixing.Classifier(n_hidden=16).fit(X, y, epochs=1)


@pytest.fixture
def widget(rbm, mnist, classifier):
    X, y, Xt = mnist

    def make(**kw):
        kw = {"n_chains": 4, "steps_per_frame": 3, "isl_points": 50, "plot_interval": 0.0, **kw}
        return SamplerWidget(rbm, data=X, labels=y, held_out=Xt, classifier=classifier, seed=3, **kw)
    return make


def test_frames_advance_every_panel(widget):
    w = widget(herding=True)
    assert [p.name for p in w.panels] == ["Gibbs", "rates-FPCD", "herding"]
    first = w.frame
    w.step(2)
    assert w.frame == first + 2 and w.steps == 6
    P, C, L = 3, 4, w.shape
    assert (L["panels"], L["chains"], L["side"]) == (P, C, 28)
    assert len(w.images) == P * C * PIXELS and len(w.film) == P * L["film"] * PIXELS
    assert len(w.ribbon) == P * C * L["ribbon"]
    ribbon = np.frombuffer(w.ribbon, np.uint8).reshape(P, C, L["ribbon"])
    for panel, strip in zip(w.panels, ribbon):
        assert panel.steps == 6 and panel.trace.t == 6
        np.testing.assert_array_equal(strip[:, -1], panel.trace.labels[5])     # newest column: last step
        np.testing.assert_array_equal(strip[:, -2], panel.trace.labels[2])
        assert (strip[:, :-2] == NO_CLASS).all()
    images = np.frombuffer(w.images, np.uint8).reshape(P, C, PIXELS)
    np.testing.assert_array_equal(images[1], np.rint(w.panels[1].current * 255))
    assert [s["name"] for s in w.stats] == ["Gibbs", "rates-FPCD", "herding"]
    assert w.isl_png.startswith(b"\x89PNG") and all(s["isl"] is not None for s in w.stats)
    assert w.frame_ms > 0


def test_rates_fpcd_with_eps_zero_is_the_gibbs_panel(widget):
    w = widget(eps_f=0.0)
    w.step(3)
    gibbs, rates = w.panels
    np.testing.assert_array_equal(gibbs.current, rates.current)
    np.testing.assert_array_equal(gibbs.trace.labels[:9], rates.trace.labels[:9])
    w.eps_f = 0.03                        # the slider reaches the sampler, no rebuild
    assert w.samplers[1].eps_f == pytest.approx(0.03) and w.steps == 9
    w.step(3)
    assert not np.array_equal(gibbs.current, rates.current)


def test_reset_replays_the_same_frames(widget):
    w = widget()
    w.step(2)
    images, labels = w.images, [p.trace.labels[:6].copy() for p in w.panels]
    w.reset()
    assert w.steps == 0 and all(p.trace.t == 0 and p.isl.n == 0 for p in w.panels)
    w.step(2)
    assert w.images == images
    for p, lab in zip(w.panels, labels):
        np.testing.assert_array_equal(p.trace.labels[:6], lab)


def test_chains_and_starting_state_controls(widget, mnist):
    w = widget()
    w.step()
    w.n_chains = 9
    assert w.steps == 0 and w.shape["chains"] == 9 and all(s.n_chains == 9 for s in w.samplers)
    w.step()
    assert len(w.images) == 2 * 9 * PIXELS
    w.init = "mode"
    v0 = w.samplers[0].v0
    assert (v0 == v0[0]).all() and all((s.v0 == v0).all() for s in w.samplers)
    X, y, _ = mnist
    assert any((x == v0[0]).all() for x in X[y == 1])
    for name, bad in [("eps_f", -0.1), ("eta", 1.0), ("n_chains", 0), ("steps_per_frame", 0), ("init", "zeros")]:
        with pytest.raises(traitlets.TraitError, match=name):
            setattr(w, name, bad)


def test_browser_messages_drive_frames(widget):
    w = widget()
    start = w.frame
    w._on_msg(w, {"type": "tick", "frame": start}, [])
    assert w.frame == start                       # paused: a tick produces nothing
    w.play()
    for _ in range(3):                            # at most two frames ahead of what was drawn
        w._on_msg(w, {"type": "tick", "frame": start}, [])
    assert w.frame == start + 2
    w._on_msg(w, {"type": "tick", "frame": start + 1}, [])
    assert w.frame == start + 3
    w._on_msg(w, {"type": "step"}, [])
    assert w.frame == start + 4 and not w.playing
    w._on_msg(w, {"type": "reset"}, [])
    assert w.steps == 0


def test_the_budget_stops_the_animation(widget):
    w = widget(budget=7)
    w.play()
    assert [w.produce_frame() for _ in range(4)] == [True, True, True, False]
    assert w.steps == 7 and not w.playing


def test_live_isl_matches_mixing_isl(mnist):
    _, _, Xt = mnist
    rng = np.random.default_rng(0)
    samples = (rng.random((40, PIXELS)) < Xt[:40].mean(0) * 0.9 + 0.05).astype(np.uint8)
    live = LiveISL(Xt[:30], Xt[30:60])
    live.add(samples[:25])
    live.add(samples[25:])
    isl, beta = live.value()
    expected, expected_beta = mixing.isl(samples, Xt[:30], Xt[30:60])
    assert beta == expected_beta and isl == pytest.approx(expected, rel=1e-9)
    assert np.isnan(LiveISL(Xt[:30], Xt[30:60]).value()[0])


def test_class_trace_counts_match_mixing():
    rng = np.random.default_rng(1)
    labels = np.repeat(rng.integers(0, 10, (30, 5)), rng.integers(1, 6, 30), axis=0)
    trace = ClassTrace(5, capacity=len(labels), ribbon_len=4)
    for chunk in np.array_split(labels, 7):
        trace.add(chunk)
    assert trace.changes_per_1000() == pytest.approx(mixing.class_changes(labels).mean())
    assert trace.stats()["visited_per_chain"] == pytest.approx(mixing.classes_visited(labels).mean(), abs=0.005)
    np.testing.assert_array_equal(trace.labels, labels)


def test_initial_states(mnist):
    X, y, _ = mnist
    noise = initial_states("noise", X, y, 3, seed=0)
    assert noise.shape == (3, PIXELS) and set(np.unique(noise)) == {0, 1}
    data = initial_states("data", X, y, 3, seed=0)
    assert all(any((x == d).all() for x in X) for d in data)
    with pytest.raises(ValueError, match="class 11"):
        initial_states("mode", X, y, 3, seed=0, mode_class=11)
