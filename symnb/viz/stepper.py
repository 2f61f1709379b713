"""The rewrite stepper: an ipywidgets widget that walks `sn.rewrite(outputs).history` one
applied rule at a time (display stage, reading the rewrite stage's record).

Each step shows its pass, its rule, the rule's algebra (the comment the rule carries in
its source), the step as mathematics, and a picture of the part of the graph it changed:
what it replaced (grey, dashed), what it made (orange), drawn over the unchanged nodes
they read (dashed boxes).
"""
from __future__ import annotations

import html
import inspect
import re

from ..core.graph import toposort
from ..core.printing import latex
from ..core.rewrite import RewriteResult, _named, rewrite
from .display import history_table, short, stats_table, TABLE_CSS
from .engine import RenderError
from .graph import Graph

MAX_TEX = 300       # a step's formula longer than this is shown as text


def _rules_by_name(passes) -> dict:
    rules = {}
    for _, run in passes:
        for rule in getattr(run, "rules", ()):
            rules.setdefault(rule.name, rule)
    return rules


def rule_algebra(rule) -> str:
    """The algebra a rule carries as comments in its source ('x - 0 -> x'), '' if none."""
    if rule is None:
        return ""
    try:
        source = inspect.getsource(rule.fn)
    except (OSError, TypeError):
        return ""
    comments = [c.strip() for c in re.findall(r"#\s*([^\n]*)", source)]
    algebra = [c for c in comments if "->" in c or "→" in c]
    return "; ".join(dict.fromkeys(algebra))


def step_graph(step) -> Graph:
    """The nodes a step replaced and made, over the unchanged nodes they read."""
    before = {id(n) for n in toposort([step.before])}
    after = {id(n) for n in toposort([step.after])}
    # The result itself is marked even when the rule picked an existing node (x ** 1 -> x).
    result = {id(step.after.owner) if step.after.owner is not None else id(step.after)}
    shared = (before & after) - result
    return Graph([step.before, step.after], ["before", "after"],
                 changed=(after - shared) | result, removed=before - after, cut=shared, rankdir="TB")


def step_tex(step) -> str:
    """The step as mathematics, before \\to after (text when the formulas are long)."""
    a, b = latex(step.before), latex(step.after)
    # LaTeX hides what many rules change (a * 1.0 and a both read a): then the code says it.
    if a == b or len(a) + len(b) > MAX_TEX:
        return f"<p><code>{html.escape(short(step.before))}</code> → <code>{html.escape(short(step.after))}</code></p>"
    return f"$${a} \\;\\longrightarrow\\; {b}$$"


class RewriteStepper:
    """`RewriteStepper(outputs)`: slider and previous/next buttons over the rewrite history.

    `outputs` is a variable, a list of them or an sn.rewrite result. The widget is built on
    first display (`.widget`), so the class itself works without a frontend.
    """

    def __init__(self, outputs, passes=None):
        from ..core.rewrite.pipeline import DEFAULT_PASSES
        self.result = outputs if isinstance(outputs, RewriteResult) else rewrite(
            [outputs] if not isinstance(outputs, (list, tuple)) else list(outputs), passes=passes)
        self.steps = self.result.history
        # Pass names ("canonicalize") stand for the default pass of that name, as in rewrite().
        self.rules = _rules_by_name(DEFAULT_PASSES if passes is None else [_named(p, DEFAULT_PASSES) for p in passes])
        self._widget = None
        self._svgs: dict[int, str] = {}

    def step_html(self, k: int) -> str:
        s = self.steps[k]
        algebra = rule_algebra(self.rules.get(s.rule))
        return (f"<p><b>step {k + 1} of {len(self.steps)}</b> — pass <code>{html.escape(s.pass_name)}</code>, "
                f"rule <code>{html.escape(s.rule)}</code>"
                + (f"<br>rule: <code>{html.escape(algebra)}</code>" if algebra else "") + "</p>"
                + step_tex(s))

    def graph_svg(self, k: int) -> str:
        if k not in self._svgs:
            try:
                self._svgs[k] = step_graph(self.steps[k]).svg()
            except RenderError as e:
                self._svgs[k] = f"<pre>(no drawing: {html.escape(str(e))})</pre>"
        return self._svgs[k]

    def summary_html(self) -> str:
        per_rule: dict[tuple, int] = {}
        for s in self.steps:
            per_rule[(s.pass_name, s.rule)] = per_rule.get((s.pass_name, s.rule), 0) + 1
        rules = "".join(f"<tr><td>{html.escape(p)}</td><td><code>{html.escape(r)}</code></td>"
                        f"<td class='num'>{n}</td></tr>" for (p, r), n in per_rule.items())
        return (TABLE_CSS + "<p><b>rewrites per pass</b></p>" + stats_table(self.result)
                + "<p><b>rewrites per rule</b></p><table class='symnb-table'><tr><th>pass</th><th>rule</th>"
                f"<th class='num'>times</th></tr>{rules}</table>"
                + "<details><summary>every step</summary>" + history_table(self.result) + "</details>")

    @property
    def widget(self):
        if self._widget is None:
            self._widget = self._build()
        return self._widget

    def _build(self):
        import ipywidgets as W
        summary = W.HTML(self.summary_html())
        summary.add_class("symnb-step-summary")
        if not self.steps:
            return W.VBox([W.HTML("<p>The rewrite applied no rule: the graph was already in final form.</p>"),
                           summary])
        # No readout: the slider counts from 0, the text beside it ("step k of n") from 1.
        slider = W.IntSlider(value=0, min=0, max=len(self.steps) - 1, description="step",
                             continuous_update=False, readout=False)
        prev, nxt = W.Button(description="previous", icon="arrow-left"), W.Button(description="next", icon="arrow-right")
        prev.add_class("symnb-step-previous")
        nxt.add_class("symnb-step-next")
        info = W.HTMLMath()
        info.add_class("symnb-step-info")
        picture = W.HTML()
        picture.add_class("symnb-step-graph")

        def show(k):
            info.value = self.step_html(k)
            picture.value = self.graph_svg(k)
            prev.disabled, nxt.disabled = k == 0, k == len(self.steps) - 1

        slider.observe(lambda change: show(change["new"]), names="value")
        prev.on_click(lambda _: setattr(slider, "value", max(slider.value - 1, 0)))
        nxt.on_click(lambda _: setattr(slider, "value", min(slider.value + 1, slider.max)))
        show(0)
        step_view = W.VBox([W.HBox([prev, slider, nxt]), info, picture])
        tabs = W.Tab(children=[step_view, summary])
        tabs.set_title(0, "steps")
        tabs.set_title(1, "summary")
        tabs.add_class("symnb-stepper")
        return tabs

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude) or {}
        bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self):
        return f"<symnb RewriteStepper: {len(self.steps)} steps over {len(self.result.stages)} passes>"
