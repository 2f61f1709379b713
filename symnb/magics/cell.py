"""Running a %%symbolic cell body (first step of the magic): Python in the user namespace,
with symnb.tensor's names available, and the cell's symbolic result picked out.
"""
from __future__ import annotations

import ast
import builtins
import linecache
import time
from dataclasses import dataclass, field

from ..core.graph import Constant, SharedVariable, Variable, graph_inputs
from . import errors

# symnb.tensor names that would hide a Python builtin inside the cell (sum, max, abs, ...)
# are left out: `sum(values)` keeps meaning Python's sum; the methods (x.sum()) remain.
_HIDES_BUILTIN = set(dir(builtins))


def tensor_names() -> dict:
    """The public names of symnb.tensor a cell can use without importing them."""
    from .. import tensor as st
    return {k: v for k, v in vars(st).items()
            if not k.startswith("_") and k not in _HIDES_BUILTIN and not isinstance(v, type(st))}


def provide_tensor_names(shell) -> list[str]:
    """Put symnb.tensor's names into the user namespace where the user has no such name
    (hidden from %who, like %pylab's); returns the names added."""
    missing = {k: v for k, v in tensor_names().items() if k not in shell.user_ns}
    shell.push(missing, interactive=False)
    return sorted(missing)


def is_symbolic(value) -> bool:
    if isinstance(value, Variable):
        return True
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, Variable) for v in value)


def _target_names(target) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for elt in target.elts for n in _target_names(elt)]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return []


def assigned_names(body: list[ast.stmt]) -> list[str]:
    """Names the top-level statements assign, in the order the cell assigns them."""
    names = []
    for stmt in body:
        if isinstance(stmt, ast.Assign):
            targets = stmt.targets
        elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
            targets = [stmt.target]
        else:
            continue
        for t in targets:
            names.extend(_target_names(t))
    return names


@dataclass
class CellRun:
    """What a cell built: its result (a variable or a list of them) and where it came from."""

    result: object = None
    name: str = "result"          # the name the result is bound to in the cell
    assigned: list = field(default_factory=list)   # names assigned, in order
    filename: str = ""
    seconds: float = 0.0

    @property
    def outputs(self) -> list:
        return [self.result] if isinstance(self.result, Variable) else list(self.result or [])

    def inputs(self, namespace, outputs) -> list:
        """The free inputs of `outputs`: first those the cell assigned, in the order it assigned
        them, then any others (made in earlier cells) in the order the graph reaches them."""
        free = [v for v in graph_inputs(outputs) if not isinstance(v, (Constant, SharedVariable))]
        wanted, ordered = {id(v) for v in free}, []
        for name in self.assigned:
            value = namespace.get(name)
            for v in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(v, Variable) and id(v) in wanted and all(v is not o for o in ordered):
                    ordered.append(v)
        return ordered + [v for v in free if all(v is not o for o in ordered)]


def run_body(shell, line: str, cell: str) -> CellRun:
    """Execute the cell in shell.user_ns; its lines keep the numbers the user sees (line 1
    is the %%symbolic line), and tracebacks and node traces show the cell's text."""
    raw = f"%%symbolic {line}\n{cell}"
    source = "#" + raw      # line 1 stays a line, so the body keeps the numbers the user sees
    filename = shell.compile.cache(source, shell.execution_count, raw_code=raw)
    linecache.cache[filename] = (len(raw), None, raw.splitlines(True), filename)   # shown as typed
    tree = ast.parse(source, filename)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    run = CellRun(assigned=assigned_names(tree.body), filename=filename)
    ns = shell.user_ns
    start = time.perf_counter()
    value = None
    try:
        exec(compile(tree, filename, "exec"), ns)
        if last is not None:
            value = eval(compile(ast.Expression(last.value), filename, "eval"), ns)
    except Exception as e:
        raise errors.from_cell(shell, e, filename) from None
    run.seconds = time.perf_counter() - start
    if is_symbolic(value):
        run.result = value
        run.name = last.value.id if isinstance(last.value, ast.Name) else "result"
        return run
    if value is not None:       # a plain value at the end shows as it would in any cell
        shell.displayhook(value)
    for name in reversed(run.assigned):
        if isinstance(ns.get(name), Variable):
            run.result, run.name = ns[name], name
            break
    return run


def from_magic_line(filename: str, fn, *args, **kwargs):
    """fn(*args, **kwargs), called from a frame on the cell's line 1 (the %%symbolic line):
    nodes that --grad, the rewriter or the compiler build record that line as where they were
    built (symnb's traces skip symnb's own frames), not a line inside IPython."""
    return eval(compile("fn(*args, **kwargs)", filename, "eval"), {"fn": fn, "args": args, "kwargs": kwargs})
