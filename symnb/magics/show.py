"""What %%symbolic displays (last step of the magic): graphs, stepper and code through
symnb.viz, mathematics through sn.latex, the compiled function's signature and the --verbose report.
"""
from __future__ import annotations

from IPython.display import Markdown, Math, display

from ..core.graph import Variable
from ..core.printing import latex
from ..core.rewrite import rewrite
from ..core.types import TensorType

SHOW_CHOICES = ("graph", "rewritten", "math", "grad", "code", "steps", "none")
DEFAULT_SHOW = ("graph", "rewritten", "math")


def _label(text: str) -> None:
    display(Markdown(text))


def symbol(name: str, like: Variable) -> str:
    """LaTeX for a name, written the way sn.latex writes an input of that name and type."""
    return latex(Variable(TensorType(like.dtype, like.type.shape), name=name))


def graph(outputs, rewritten: bool) -> None:
    from .. import viz    # imported when a cell first asks for a picture
    _label("**graph after rewriting**" if rewritten else "**graph** as written")
    display(viz.graph(outputs, rewritten=rewritten))


def math(outputs, name: str) -> None:
    _label("**math**")
    for k, v in enumerate(outputs):
        lhs = symbol(name if len(outputs) == 1 else f"{name}_{k}", v)
        display(Math(f"{lhs} = {latex(v)}"))


def gradients(grads: dict, result: Variable, name: str) -> None:
    """Each gradient after rewriting, as d<result>/d<wrt> = ..., under the name it is bound to."""
    _label("**gradients** (after rewriting)")
    top = symbol(name, result)
    for bound, (wrt_name, wrt, g) in grads.items():
        r = rewrite(g).output
        display(Math(rf"\frac{{\partial {top}}}{{\partial {symbol(wrt_name, wrt)}}} = {latex(r)}"))
        _label(f"bound as `{bound}`")


def steps(outputs) -> None:
    from .. import viz
    _label("**rewrite steps**")
    display(viz.RewriteStepper(list(outputs)))


def code(f) -> None:
    from .. import viz
    display(viz.code_view(f))      # its header names the language, the size and the backend


def signature(name: str, build) -> None:
    f = build.function
    args = ", ".join(v.name or f"input{k}" for k, v in enumerate(f.inputs))
    total = sum(build.seconds.values())
    print(f"{name}({args}) compiled for {f.backend_name} in {total:.2f} s: {build.cache}")


def verbose_report(graph_s: float, build, rewrite_s: float | None) -> None:
    """Time per stage, the cache's answer, the compiler command."""
    rows = [("graph", graph_s, "running the cell and building gradients")]
    if build is None:
        if rewrite_s is not None:
            rows.append(("rewrite", rewrite_s, "for the displays"))
    else:
        notes = {"rewrite": "inside sn.function", "render": "graph -> source", "compile": build.cache,
                 "load": "loading the module, binding the function"}
        rows += [(stage, s, notes[stage]) for stage, s in build.seconds.items()]
    print("%%symbolic stages:")
    for stage, s, note in rows:
        print(f"  {stage:8s}{s * 1e3:10.1f} ms   {note}")
    if build is not None and build.command:
        print("compiler command (run in the cache entry's directory):")
        print("  " + build.command.replace("\n", "\n  "))
        print(f"cache entry: {build.entry}")
