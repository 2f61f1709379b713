"""DOT text -> SVG: the layout program behind every drawn graph (display stage).

Graphviz's own `dot` when it is on the PATH; otherwise `graphviz-pure`, a static build of
Graphviz installed from PyPI with symnb (its program is named `graphviz-pure`, and it may
sit next to the Python interpreter without being on the PATH).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys


class RenderError(RuntimeError):
    """No layout program, or the layout program rejected the DOT text."""


def _next_to_python(program: str) -> str | None:
    """A console script of the environment running us, found even when its bin/ is not on PATH."""
    for folder in (os.path.dirname(sys.executable), os.path.join(sys.prefix, "bin")):
        path = os.path.join(folder, program)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def find_engine() -> tuple[str, str]:
    """(engine name, program path): ('dot', ...) or ('graphviz-pure', ...). Looked up on each
    call (cheap), so a changed PATH is seen at once."""
    dot = shutil.which("dot")
    if dot:
        return "dot", dot
    pure = shutil.which("graphviz-pure") or _next_to_python("graphviz-pure")
    if pure:
        return "graphviz-pure", pure
    raise RenderError("no Graphviz layout program: install symnb's dependency `graphviz-pure` "
                      "(pip install graphviz-pure) or the system package `graphviz`")


def render_svg(dot_source: str, timeout: float = 60.0) -> str:
    """Lay out `dot_source` and return the SVG text (no XML prologue, ready to inline)."""
    name, program = find_engine()
    try:
        proc = subprocess.run([program, "-Tsvg"], input=dot_source.encode("utf-8"), capture_output=True,
                              timeout=timeout)
    except (OSError, subprocess.SubprocessError) as e:
        raise RenderError(f"{name} ({program}) did not run: {e}") from e
    if proc.returncode != 0:
        raise RenderError(f"{name} failed (exit {proc.returncode}): {proc.stderr.decode('utf-8', 'replace').strip()}")
    svg = proc.stdout.decode("utf-8")
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg
