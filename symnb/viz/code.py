"""Generated code, for reading: `code_view(f)` shows a compiled function's source highlighted
(pygments), one collapsible block per graph node labelled with the node it implements,
and the compiler command that built it. Display stage, after the backend renderer.
"""
from __future__ import annotations

import html
import re

from ..core.printing import pp

# A node's code in a generated C++ module starts "// k: opname" then "{" at column 0, and
# runs to the next node's, or to the end of the compute function ("    return 0;").
HEADER = re.compile(r"^// (\d+): ([^\n]*)\n\{$", re.M)
BODY_END = "\n    return 0;\n}"
CSS_CLASS = "symnb-code"
LANGUAGES = {"cpp": "C++", "cuda": "CUDA", "python": "listing (reference backend: one NumPy call per node)"}


def highlight(code: str, language: str = "cpp") -> str:
    """HTML for code, highlighted by pygments (escaped plain text if pygments is missing)."""
    try:
        from pygments import highlight as _highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import get_lexer_by_name
    except ImportError:
        return f'<pre class="{CSS_CLASS}">{html.escape(code)}</pre>'
    return _highlight(code, get_lexer_by_name(language), HtmlFormatter(cssclass=CSS_CLASS))


def style_sheet() -> str:
    try:
        from pygments.formatters import HtmlFormatter
    except ImportError:
        return ""
    css = HtmlFormatter(style="default").get_style_defs(f".{CSS_CLASS}")
    return (f"<style>{css}\n.{CSS_CLASS} pre {{margin:0; font-size:12px; line-height:1.3}}\n"
            ".symnb-block > summary {cursor:pointer; font-family:monospace; font-size:12px}\n"
            ".symnb-block {border-left:3px solid #b3c7e6; padding-left:6px; margin:2px 0}</style>")


def compiler_command(f) -> str:
    """The command(s) that build f's module, as its compiler driver runs them ('' if none)."""
    if f.backend_name != "cpp" or not f.source:
        return ""
    from ..kernels.cpp.compiler import command_text
    return command_text(f.source)


def _node_order(f) -> list:
    """The nodes in the order the renderer numbered their blocks (the schedule every backend runs)."""
    return list(f.fgraph.nodes)


def _describe(node) -> str:
    """One line saying which graph node a block implements: the op, its result and where it was built."""
    out = node.outputs[0]
    expr = pp(out).splitlines()[-1] if out.owner is not None else ""
    expr = expr if len(expr) <= 90 else expr[:89] + "…"
    types = ", ".join(str(o.type) for o in node.outputs)
    where = f" — built at line {node.trace.lineno}" if node.trace else ""
    return f"{node.op.label} → {types}: {expr}{where}"


class CodeView:
    """A compiled function's generated code: `_repr_html_` for Jupyter, str() for a terminal."""

    def __init__(self, f, language=None):
        self.function = f
        self.source = str(f.source or "")
        self.language = language or getattr(f.source, "language", "cpp")
        self.command = compiler_command(f)

    def blocks(self) -> list[tuple[str, str]]:
        """(title, code) parts of the source, in order and together the whole source: module
        code, and one part per node; a line break between two nodes stays with the first."""
        nodes = _node_order(self.function)
        src = self.source
        heads = list(HEADER.finditer(src))
        parts, pos = [], 0

        def glue(text, title):
            if text.strip() or not parts:
                parts.append((title, text))
            else:
                parts[-1] = (parts[-1][0], parts[-1][1] + text)

        for m, nxt in zip(heads, heads[1:] + [None]):
            glue(src[pos:m.start()], "module code" if pos else "module header")
            end = src.find(BODY_END, m.start())
            end = len(src) if end < 0 else end + 1
            if nxt is not None:
                end = min(end, nxt.start())
            end = max(src.rfind("\n}", m.start(), end) + 2, m.end())    # the block's own closing brace
            k = int(m.group(1))
            title = _describe(nodes[k]) if k < len(nodes) else m.group(2)
            parts.append((f"node {k}: {title}", src[m.start():end]))
            pos = end
        glue(src[pos:], "module code: tables and entry points" if pos else "module code")
        return parts

    def _repr_html_(self):
        f = self.function
        if not self.source:
            return f"<p>The <code>{f.backend_name}</code> backend generates no code.</p>"
        out = [style_sheet(), f'<div class="symnb-codeview"><p><b>generated {LANGUAGES.get(self.language, self.language)}</b> '
               f"({len(self.source.splitlines())} lines, backend <code>{f.backend_name}</code>)</p>"]
        if self.command:
            out.append("<details><summary>compiler command</summary><div style='white-space:pre-wrap'>"
                       + html.escape(self.command) + "</div></details>")
        for title, code in self.blocks():
            is_node = title.startswith("node ")
            out.append(f'<details class="symnb-block"{" open" if is_node else ""}>'
                       f"<summary>{html.escape(title)}</summary>{highlight(code.strip(), self.language)}</details>")
        out.append("</div>")
        return "\n".join(out)

    def __str__(self):
        return (f"// {self.command}\n" if self.command else "") + self.source

    def __repr__(self):
        return f"<symnb code view: {len(self.source.splitlines())} lines of {self.language}>"


def code_view(f, language=None) -> CodeView:
    """The generated code of compiled function f, highlighted, one collapsible block per node."""
    return CodeView(f, language)


def source_html(text) -> str:
    """Function.source in Jupyter: the whole text, highlighted."""
    return style_sheet() + highlight(str(text), getattr(text, "language", "cpp"))
