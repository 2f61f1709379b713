"""Rich displays of what a notebook user holds: a compiled Function, a rewrite result, the
generated source. Last stage of the data flow.

The classes live in layers below this one (core, kernels, function), which must not import
viz; `install()` gives them their `_repr_html_` when symnb.viz is imported (symnb does).
"""
from __future__ import annotations

import html
import re

from ..core.printing import pp
from ..core.rewrite import RewriteResult
from .engine import RenderError

MAX_ROWS = 200          # history rows shown in a table; the rest is counted
ANSWERS = {"memo": "reused: the same graph was compiled earlier in this process",
           "memory": "cache hit: module already loaded in this process",
           "disk": "cache hit: module loaded from the disk cache",
           "built": "compiled now (cache miss)", None: "nothing compiled"}
TABLE_CSS = ("<style>.symnb-table td, .symnb-table th {text-align:left; padding:1px 8px; vertical-align:top;"
             " font-size:12px} .symnb-table td.num, .symnb-table th.num {text-align:right}"
             " .symnb-table code {white-space:pre}</style>")


def _atomic(expr: str) -> bool:
    """No operator outside brackets: f(a + b) and x[0] are atomic, a + b and -x are not."""
    depth = 0
    for ch in expr:
        depth += (ch in "([{") - (ch in ")]}")
        if depth == 0 and ch in " -~":
            return False
    return True


def short(v, n: int = 70) -> str:
    """pp(v) on one line (the names pp gives shared parts put back), cut to n characters."""
    *defs, text = pp(v).splitlines()
    for line in reversed(defs):
        name, _, expr = line.partition(" = ")
        expr = expr if _atomic(expr) else f"({expr})"
        text = re.sub(rf"\b{re.escape(name)}\b", lambda _: expr, text)
    return text if len(text) <= n else text[:n - 1] + "…"


def table(header, rows, numeric=()) -> str:
    """An HTML table; columns whose index is in `numeric` align right."""
    def cell(tag, k, value):
        cls = ' class="num"' if k in numeric else ""
        return f"<{tag}{cls}>{value}</{tag}>"
    head = "".join(cell("th", k, html.escape(h)) for k, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", k, v) for k, v in enumerate(r)) + "</tr>" for r in rows)
    return f'<table class="symnb-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _svg_or_message(draw) -> str:
    try:
        return draw()._repr_html_()
    except RenderError as e:
        return f"<pre>(no drawing: {html.escape(str(e))})</pre>"


def history_table(result: RewriteResult, rows: int = MAX_ROWS) -> str:
    """Every applied rule: pass, rule, before -> after, one aligned row each."""
    steps = result.history
    body = [(str(k), html.escape(s.pass_name), f"<code>{html.escape(s.rule)}</code>",
             f"<code>{html.escape(short(s.before))}</code>", f"<code>{html.escape(short(s.after))}</code>")
            for k, s in enumerate(steps[:rows])]
    more = f"<p>… and {len(steps) - rows} more steps</p>" if len(steps) > rows else ""
    return table(("#", "pass", "rule", "before", "after"), body, numeric=(0,)) + more


def stats_table(result: RewriteResult) -> str:
    counts: dict[str, int] = {}
    for s in result.history:
        counts[s.pass_name] = counts.get(s.pass_name, 0) + 1
    rows = [(html.escape(s["pass"]), str(counts.get(s["pass"], 0) if s["pass"] != "input" else ""),
             str(s["nodes"]), str(s["depth"]), f"{s['seconds'] * 1e3:.2f}") for s in result.stats]
    return table(("pass", "rewrites", "nodes", "depth", "ms"), rows, numeric=(1, 2, 3, 4))


def rewrite_html(result: RewriteResult) -> str:
    from .graph import graph
    return (TABLE_CSS + f"<div class='symnb-rewrite'><p><b>rewrite</b>: {len(result.history)} steps over "
            f"{len(result.stages)} passes</p>" + stats_table(result)
            + "<details><summary>history</summary>" + history_table(result) + "</details>"
            + "<details open><summary>rewritten graph</summary>"
            + _svg_or_message(lambda: graph(result)) + "</details></div>")


def function_html(f) -> str:
    """Inputs, outputs, updates, backend, how long it took and how the cache answered, code, graph."""
    from .code import code_view
    from .graph import graph
    rows = [("input", html.escape(v.name or f"input {k}"), str(v.type)) for k, v in enumerate(f.inputs)]
    rows += [("output", f"out {k}", str(v.type)) for k, v in enumerate(f.outputs)]
    rows += [("update", html.escape(var.name or str(k)), str(var.type)) for k, (var, _) in enumerate(f.updates)]
    seconds = getattr(f, "build_seconds", None)
    answer = ANSWERS.get(getattr(f, "cache_answer", None), str(getattr(f, "cache_answer", "")))
    took = f"{seconds:.3f} s" if seconds is not None else "?"
    name = html.escape(f.name or "function")
    return (TABLE_CSS + f"<div class='symnb-function'><p><b>{name}</b>: compiled symnb function, backend "
            f"<code>{f.backend_name}</code>, {len(f.fgraph.nodes)} nodes; built in {took} ({answer})</p>"
            + table(("", "name", "type"), rows)
            + "<details><summary>graph</summary>" + _svg_or_message(lambda: graph(f)) + "</details>"
            + "<details><summary>generated code</summary>" + code_view(f)._repr_html_() + "</details></div>")


def install() -> None:
    """Give the lower layers' classes their notebook displays (idempotent)."""
    from ..function import Function
    from ..kernels.base import Source
    from .code import source_html
    RewriteResult._repr_html_ = rewrite_html
    Function._repr_html_ = function_html
    Source._repr_html_ = source_html
