"""symnb.viz: the display stage. Graphs as SVG, the rewrite stepper, the code view, and the
rich displays (HTML, SVG, LaTeX) of the objects a notebook user holds.

    graph(outputs, rewritten=False)  -> Graph (SVG in Jupyter)
    RewriteStepper(outputs)          -> an ipywidgets widget over sn.rewrite(...).history
    code_view(f)                     -> CodeView (highlighted, per-node collapsible source)
"""
from .engine import RenderError, find_engine, render_svg  # noqa: F401
from .graph import Graph, graph  # noqa: F401
from .code import CodeView, code_view  # noqa: F401
from .stepper import RewriteStepper  # noqa: F401
from . import display as _display

_display.install()
