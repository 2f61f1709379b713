"""sn.viz.RewriteStepper: slider and buttons over the history, highlighted steps, a summary."""
import html

import pytest

import symnb as sn
import symnb.tensor as st
from symnb import viz
from symnb.viz.stepper import rule_algebra, step_graph

W, v, b = st.dmatrix("W"), st.dvector("v"), st.dvector("b")
cost = (st.tanh(st.dot(W, v) + b) ** 2).sum()


def test_rule_algebra_comes_from_the_rule_source():
    from symnb.core.rewrite.canonicalize import CANONICALIZE
    rules = {r.name: r for r in CANONICALIZE}
    assert rule_algebra(rules["sub_zero"]) == "x - 0 -> x"
    assert rule_algebra(None) == ""


def test_step_graph_marks_what_a_step_replaced_and_made():
    r = sn.rewrite(st.log(1 + st.exp(v)))
    step = next(s for s in r.history if s.rule == "softplus")
    g = step_graph(step)
    made = {n.op.name for n in g.nodes if id(n) in g.changed}
    gone = {n.op.name for n in g.nodes if id(n) in g.removed}
    assert made == {"softplus"} and "log1p" in gone
    svg = html.unescape(g.svg())
    assert "symnb-changed" in svg and "symnb-removed" in svg


def test_widget_steps_with_buttons_and_slider():
    pytest.importorskip("ipywidgets")
    stepper = viz.RewriteStepper([cost, sn.grad(cost, W)])
    assert len(stepper.steps) > 3
    tabs = stepper.widget
    step_view = tabs.children[0]
    (prev, slider, nxt), info, picture = step_view.children[0].children, *step_view.children[1:]
    assert (prev.description, nxt.description) == ("previous", "next")
    assert "symnb-step-graph" in picture._dom_classes and prev.disabled
    first_info, first_picture = info.value, picture.value
    nxt.click()
    assert slider.value == 1 and info.value != first_info and picture.value != first_picture
    assert "symnb&#45;changed" in picture.value or "symnb-changed" in picture.value
    prev.click()
    assert slider.value == 0 and info.value == first_info
    slider.value = slider.max
    assert nxt.disabled and f"step {len(stepper.steps)} of {len(stepper.steps)}" in info.value


def test_summary_counts_rewrites_per_pass():
    stepper = viz.RewriteStepper(sn.grad(cost, W))
    text = stepper.summary_html()
    counts = {}
    for s in stepper.steps:
        counts[s.pass_name] = counts.get(s.pass_name, 0) + 1
    for name, n in counts.items():
        assert f"<td>{name}</td><td class=\"num\">{n}</td>" in text


def test_a_graph_with_nothing_to_rewrite():
    pytest.importorskip("ipywidgets")
    stepper = viz.RewriteStepper(v)
    assert stepper.steps == [] and "applied no rule" in stepper.widget.children[0].value


def test_passes_given_by_name_as_in_rewrite():
    x = st.dvector("x")
    stepper = viz.RewriteStepper(st.log(1 + st.exp(x)) * 1.0, passes=["canonicalize", "stabilize"])
    assert {s.pass_name for s in stepper.steps} <= {"canonicalize", "stabilize"} and stepper.steps
    assert all(s.rule in stepper.rules for s in stepper.steps)      # each step's rule and its algebra
