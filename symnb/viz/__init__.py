"""symnb.viz: the display stage. Graphs as SVG, the rewrite stepper, the code view, the
rich displays (HTML, SVG, LaTeX) of the objects a notebook user holds, and the sampler widget.

    graph(outputs, rewritten=False)  -> Graph (SVG in Jupyter)
    RewriteStepper(outputs)          -> an ipywidgets widget over sn.rewrite(...).history
    code_view(f)                     -> CodeView (highlighted, per-node collapsible source)
    SamplerWidget(rbm, ...)          -> Gibbs against rates-FPCD chains, animated (anywidget)
"""
from .engine import RenderError, find_engine, render_svg  # noqa: F401
from .graph import Graph, graph  # noqa: F401
from .code import CodeView, code_view  # noqa: F401
from .stepper import RewriteStepper  # noqa: F401
from . import display as _display

_display.install()


def __getattr__(name):
    # The sampler widget needs anywidget and symnb.sampling: loaded on first use only.
    if name == "SamplerWidget":
        from .sampler import SamplerWidget
        return SamplerWidget
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
