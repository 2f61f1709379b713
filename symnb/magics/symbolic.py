"""The %%symbolic cell magic (first stage of the data flow): parse the options, run the cell,
differentiate and compile what it built, then display each stage (show.py).
"""
from __future__ import annotations

import time

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ..core.grad import grad
from ..core.graph import Variable
from ..core.rewrite import rewrite
from ..kernels.cpp.compiler import CompileError
from . import errors, show
from .build import BACKEND_CHOICES, check_backend, compile_function
from .cell import from_magic_line, provide_tensor_names, run_body


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _parse_show(text: str | None, has_grad: bool) -> list[str]:
    if text is None:
        return list(show.DEFAULT_SHOW) + (["grad"] if has_grad else [])
    chosen = _comma_list(text)
    unknown = [c for c in chosen if c not in show.SHOW_CHOICES]
    if unknown:
        raise UsageError(f"--show {text}: unknown {unknown}; choose from {', '.join(show.SHOW_CHOICES)}")
    if "grad" in chosen and not has_grad:
        raise UsageError("--show grad needs --grad WRT (the variables to differentiate with respect to)")
    return [c for c in chosen if c != "none"]


@magics_class
class SymbolicMagics(Magics):
    """%%symbolic: symnb's cell magic (registered by `%load_ext symnb`)."""

    @magic_arguments(name="%symbolic")   # the usage line then reads %%symbolic, as the cell is written
    @argument("--show", metavar="WHAT",
              help="comma list of graph, rewritten, math, grad, code, steps, none "
                   "(default graph,rewritten,math, plus grad with --grad). "
                   "Example: %%%%symbolic --show math,steps")
    @argument("--grad", metavar="WRT[,WRT...]",
              help="differentiate the result (a scalar) with respect to these variables; each "
                   "gradient is shown after rewriting and bound as d_<result>_d_<wrt>. "
                   "Example: %%%%symbolic --grad W,b")
    @argument("--function", metavar="NAME",
              help="compile the result (then the gradients) as a function of the cell's inputs, "
                   "in the order the cell created them, and bind it as NAME. "
                   "Example: %%%%symbolic --function f")
    @argument("--backend", metavar="B", default="cpp",
              help=f"backend for --function and --show code: {', '.join(BACKEND_CHOICES)} "
                   "(default cpp). Example: %%%%symbolic --function f --backend numpy")
    @argument("--force", action="store_true",
              help="compile again even when the memory or disk cache holds the module. "
                   "Example: %%%%symbolic --function f --force")
    @argument("--verbose", action="store_true",
              help="print the time of each stage (graph, rewrite, render, compile, load), the "
                   "cache's answer and the compiler command. Example: %%%%symbolic --function f --verbose")
    @cell_magic
    def symbolic(self, line, cell):
        """Build a symbolic graph with Python, then look at it, differentiate it, compile it.

        The cell runs in your namespace with the names of symnb.tensor available
        (dvector, dmatrix, tanh, dot, sigmoid, ...); a name you already have keeps its
        value, and names that would hide a Python builtin (sum, max, abs, ...) are left
        out (use the methods: x.sum()). Everything the cell assigns stays defined.

        The cell's *result* is its last line if that is a symbolic expression, otherwise the
        last symbolic variable it assigned. By default the cell shows the result's graph as
        written, the graph after rewriting, and the result as mathematics::

            %%symbolic
            x = dvector("x")
            y = (tanh(x) ** 2).sum()

        --show picks the displays: graph (as written), rewritten, math, grad (the gradients
        as mathematics), code (the generated source; compiles the result), steps (a widget
        that steps through the rewrite history), none::

            %%symbolic --show rewritten,steps
            y = log(1 + exp(x)).sum()

        --grad differentiates the result with respect to the listed variables and binds
        each gradient as d_<result>_d_<wrt> (here d_cost_d_W and d_cost_d_b)::

            %%symbolic --grad W,b --show grad
            W = dmatrix("W"); b = dvector("b"); v = dvector("v")
            cost = tanh(dot(W, v) + b).sum()

        --function NAME compiles the result, followed by the gradients when --grad is given,
        as NAME(inputs...) with the inputs in the order the cell created them::

            %%symbolic --function f --grad x
            x = dvector("x")
            y = (x ** 2).sum()
            # then: value, slope = f(np.arange(3.0))

        --backend chooses cpp (generated C++, the default), numpy (the reference
        implementation) or cuda (when a GPU and CUDA are available)::

            %%symbolic --function f --backend numpy
            y = exp(dvector("x")).sum()

        Re-running an unchanged cell compiles nothing: the module comes from the memory or
        disk cache. --force compiles it again::

            %%symbolic --function f --force
            y = exp(dvector("x")).sum()

        --verbose prints the time of each stage (graph, rewrite, render, compile, load),
        what the cache answered and the compiler command::

            %%symbolic --function f --verbose --show none
            y = exp(dvector("x")).sum()

        Errors point at the cell: a Python error shows the traceback from the cell's line, a
        type or shape error names the op, the shapes and the line that built the node, and a
        compiler error shows the compiler's message with the generated lines it refers to.
        """
        args = parse_argstring(self.symbolic, line)
        wrt = _comma_list(args.grad or "")
        wanted = _parse_show(args.show, bool(wrt))
        if args.function or "code" in wanted:
            check_backend(args.backend)
        if args.function and not args.function.isidentifier():
            raise UsageError(f"--function {args.function}: not a Python name")
        provide_tensor_names(self.shell)

        start = time.perf_counter()
        run = run_body(self.shell, line, cell)
        if run.result is None:
            print("%%symbolic: the cell built no symbolic result (nothing to show)")
            return
        from_magic_line(run.filename, self._after_cell, args, wrt, wanted, run, start)

    def _after_cell(self, args, wrt, wanted, run, start):
        """Differentiate, compile, display: everything the options ask for once the cell ran."""
        grads = self._gradients(run, wrt)
        graph_s = time.perf_counter() - start
        outputs = run.outputs

        build = None
        if args.function or "code" in wanted:
            fn_outputs = run.result if not grads else outputs + [g for _, _, g in grads.values()]
            name = args.function or "_symbolic_function"
            try:
                build = compile_function(run.inputs(self.shell.user_ns, outputs + [g for _, _, g in grads.values()]),
                                         fn_outputs, args.backend, name, force=args.force)
            except Exception as e:
                if isinstance(e, CompileError):
                    raise errors.from_compiler(e, name) from None
                raise errors.from_stage(e, f"--function {name}") from None
            if args.function:
                self.shell.user_ns[args.function] = build.function
        rewrite_s = None
        if args.verbose and build is None:
            t0 = time.perf_counter()
            rewrite(list(outputs))
            rewrite_s = time.perf_counter() - t0

        self._display(wanted, run, grads, build)
        if args.function:
            show.signature(args.function, build)
        if args.verbose:
            show.verbose_report(graph_s, build, rewrite_s)

    def _gradients(self, run, wrt: list[str]) -> dict:
        """{bound name: (wrt name, wrt variable, gradient)}, each bound in the namespace."""
        if not wrt:
            return {}
        if not isinstance(run.result, Variable):
            raise UsageError("--grad: the result must be one scalar variable, not a list")
        ns, out = self.shell.user_ns, {}
        for name in wrt:
            if not isinstance(ns.get(name), Variable):
                raise UsageError(f"--grad {name}: no symbolic variable named {name!r} in the namespace")
        try:
            found = grad(run.result, [ns[n] for n in wrt])
        except Exception as e:
            raise errors.from_stage(e, f"--grad {','.join(wrt)}") from None
        for name, g in zip(wrt, found):
            bound = f"d_{run.name}_d_{name}"
            ns[bound] = g
            out[bound] = (name, ns[name], g)
        return out

    def _display(self, wanted, run, grads, build):
        for what in wanted:
            try:
                self._show(what, run, grads, build)
            except Exception as e:     # a display that fails says so in one line; the names stay bound
                raise errors.from_stage(e, f"--show {what}") from None

    @staticmethod
    def _show(what, run, grads, build):
        outputs = run.outputs
        if what in ("graph", "rewritten"):
            show.graph(outputs, rewritten=what == "rewritten")
        elif what == "math":
            show.math(outputs, run.name)
        elif what == "grad":
            show.gradients(grads, run.result, run.name)
        elif what == "steps":
            show.steps(outputs)
        elif what == "code":
            show.code(build.function)
