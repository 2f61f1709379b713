"""sn.viz.graph: styles per kind of node, fused expressions, tooltips, rewritten view, layout engines."""
import html
import shutil

import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st
from symnb import viz
from symnb.viz import engine

W, v, b = st.dmatrix("W"), st.dvector("v"), st.dvector("b")
cost = (st.tanh(st.dot(W, v) + b) ** 2).sum()
grad_W = sn.grad(cost, W)


def svg_text(g) -> str:
    """The SVG with Graphviz's character references decoded (it writes '-' as &#45;)."""
    return html.unescape(g.svg())


def test_each_kind_of_node_has_its_class_and_tooltip():
    w = sn.shared(np.ones(3), name="w")
    y = (st.exp(v) * w + 2.0).sum()
    svg = svg_text(viz.graph(y))
    assert svg.startswith("<svg")
    for cls in ("symnb-input", "symnb-shared", "symnb-constant", "symnb-op", "symnb-output"):
        assert f"{cls}" in svg, cls
    assert 'xlink:title="input v: float64[?]"' in svg          # type and shape in the tooltip
    assert "exp -> float64[?]" in svg


def test_fused_node_shows_its_expression_and_opens():
    r = sn.rewrite(st.exp(v) * 2 + st.sin(v))
    g = viz.graph(r)
    fused = [n for n in g.nodes if isinstance(n.op, sn.core.ops.Fused)]
    assert fused, "the rewrite fused the elementwise ops"
    assert "exp(v) * 2" in g.dot and "sin(v)" in g.dot
    opened = viz.graph(r, expand_fused=True)
    assert "subgraph cluster_" in opened.dot and "subgraph cluster_" not in g.dot
    assert "symnb-fused" in svg_text(opened)


def test_scan_is_one_node_with_its_step_as_a_cluster():
    coef, x = st.dvector("coef"), st.dscalar("x")
    terms, _ = sn.scan(lambda c, p, x: c * x ** p, sequences=[coef, st.arange(10, dtype="float64")],
                       non_sequences=[x])
    for g in (viz.graph(terms.sum()), viz.graph(terms.sum(), rewritten=True)):
        assert g.dot.count("subgraph cluster_") == 1 and "scan: one step" in g.dot
        svg = svg_text(g)
        assert "symnb-scan" in svg and "coef[t]" in svg       # the body's inputs by their step names
        assert sum(isinstance(n.op, sn.core.ops.scan.Scan) for n in g.nodes) == 1


def test_rewritten_view_marks_what_the_rewrite_created():
    g = viz.graph([cost, grad_W], rewritten=True)
    marked = {n.op.name for n in g.nodes if id(n) in g.new}
    assert "gemv" in marked and any(name.startswith("fused") for name in marked)
    assert "tanh" not in marked          # rebuilt over gemv, but written by the user
    assert "symnb-new" in svg_text(g)
    assert not viz.graph([cost, grad_W]).new
    again = viz.graph(sn.rewrite([cost, grad_W]))        # a rewrite result is drawn the same way
    assert {n.op.label for n in again.nodes if id(n) in again.new} == {n.op.label for n in g.nodes if id(n) in g.new}


def test_rank_direction_keeps_the_drawing_narrow():
    deep = v
    for _ in range(12):
        deep = st.tanh(deep) * 2
    assert viz.graph(deep).rankdir == "TB"               # a long chain runs down the page
    wide = st.stack([st.exp(st.dvector(f"x{k}")) for k in range(16)])
    assert viz.graph(wide).rankdir == "LR"               # sixteen side by side would not fit across


def test_large_graphs_draw_shape_arithmetic_as_labelled_leaves():
    X, y = st.dmatrix("X"), st.ivector("y")
    cost = st.categorical_crossentropy(st.softmax(st.tanh(st.dot(X, W))), y).mean()
    g = viz.graph(sn.grad(cost, W))
    drawn = {n.op.name for n in g.nodes}
    assert "shape" not in drawn and "arange" not in drawn and g.plumbing
    assert "arange(0, " in g.dot and ".shape[0]" in g.dot
    small = viz.graph(v.shape[0] + 1)
    assert not small.plumbing and "shape" in small.dot


def test_function_and_mimebundle():
    f = sn.function([W, v, b], [cost, grad_W], updates=[], backend="numpy")
    g = viz.graph(f)
    bundle = g._repr_mimebundle_()
    assert bundle["image/svg+xml"].startswith("<svg")
    assert 'class="symnb-graph"' in bundle["text/html"] and "<svg" in bundle["text/html"]
    assert "out 1" in g.dot


def test_renders_without_dot_on_the_path(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))          # no dot, no graphviz-pure on the PATH
    name, program = engine.find_engine()
    assert name == "graphviz-pure"
    svg = viz.graph([cost, grad_W], rewritten=True).svg()
    assert svg.startswith("<svg") and "gemv" in svg


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_renders_with_dot():
    assert engine.find_engine()[0] == "dot"
    assert viz.graph(cost).svg().startswith("<svg")


def test_bad_dot_text_is_a_clear_error():
    with pytest.raises(engine.RenderError, match="failed"):
        engine.render_svg("digraph { a -> }")



def test_no_engine_at_all_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(engine, "_next_to_python", lambda program: None)
    with pytest.raises(engine.RenderError, match="pip install graphviz-pure"):
        viz.graph(st.exp(v)).svg()
