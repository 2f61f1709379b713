"""Text views of a graph: dprint (tree with types), pp (infix), short names for repr.

Display stage of the data flow, usable on any graph: what the user built, a gradient,
or the rewritten outputs of a compiled function. LaTeX lives in latex.py.
"""
from __future__ import annotations

import io
import sys

from .graph import Constant, Variable, as_variable, rebuild, replace, toposort
from .ops import (Alloc, DimShuffle, Elemwise, Fused, IncSubtensor, Join, MakeVector, Reduce, Reshape,
                  Shape, Softmax, LogSoftmax, Subtensor)
# Symbols and precedence come from the op table (elemwise.ScalarOp), as for latex and drawings.
from .ops.elemwise import ATOM, UNARY

INLINE_SIZE = 6     # constants with at most this many elements are printed in full


def graph_outputs(obj) -> list:
    """The variables to show: a variable, a list of them, or a compiled function's outputs."""
    if isinstance(obj, Variable):
        return [obj]
    if hasattr(obj, "fgraph"):          # a compiled Function: rewritten outputs, then updates
        return list(obj.fgraph.outputs)
    return [as_variable(o) for o in obj]


def expand_fused(outputs) -> list:
    """The same graph with each Fused node replaced by the elementwise expression it computes."""
    return rebuild(outputs, lambda node, ins: replace(list(node.op.inner_outputs), dict(zip(node.op.inner_inputs, ins)))
                   if isinstance(node.op, Fused) else None)


def format_constant(c: Constant) -> str:
    d = c.data
    if d.ndim == 0:
        return repr(d.item())
    if d.size <= INLINE_SIZE:
        return repr(d.tolist())
    return f"Constant{{{c.type}}}"


def leaf_str(v: Variable) -> str:
    if v.name:
        return v.name
    if isinstance(v, Constant):
        return format_constant(v)
    return f"<{v.type}>"


def short_str(v: Variable) -> str:
    """What repr() shows: pp for small graphs, the op and type otherwise."""
    if v.owner is None:
        return leaf_str(v)
    if len(toposort([v])) <= 12:
        return pp(v)
    return f"{v.owner.op}(...) : {v.type}"


def index_parts(idx, parts) -> list[str]:
    """Text of each index entry (see ops.subtensor): ints, slices, symbolic scalars, arrays."""
    it = iter(parts)
    out = []
    for e in idx:
        if isinstance(e, tuple):
            start, stop, step = [next(it) if p == "?" else ("" if p is None else str(p)) for p in e[1:]]
            out.append(f"{start}:{stop}" + (f":{step}" if step else ""))
        elif e in ("?", "a"):
            out.append(next(it))
        else:
            out.append(str(e))
    return out


def _is_trivial(v: Variable) -> bool:
    """A node so small that naming it would not help: -x, x.T, x[0], x.shape, cast(x)."""
    node = v.owner
    if node is None:
        return True
    if any(i.owner is not None for i in node.inputs):
        return False
    op = node.op
    return isinstance(op, (Alloc, DimShuffle, Shape, Subtensor)) or \
        (isinstance(op, Elemwise) and (op.spec.prec == UNARY or op.scalar == "cast"))


class _Printer:
    """Infix printer: each non-trivial subexpression used twice or more is named once.

    Texts are built bottom-up in topological order (no recursion, so a sum of a thousand
    terms prints); a named node's text is its name wherever it is used.
    """

    def __init__(self, outputs):
        nodes = toposort(outputs)
        uses: dict[int, int] = {}
        for v in [i for node in nodes for i in node.inputs] + list(outputs):
            uses[id(v)] = uses.get(id(v), 0) + 1
        self.taken = {v.name for node in nodes for v in node.inputs if v.name and v.owner is None}
        self.lines: list[str] = []
        self.done: dict[int, tuple[str, int]] = {}
        for node in nodes:
            for o in node.outputs:
                text, prec = self.node_expr(o)
                if uses.get(id(o), 0) > 1 and not _is_trivial(o):
                    name = self.fresh(o)
                    self.lines.append(f"{name} = {text}")
                    text, prec = name, ATOM
                self.done[id(o)] = (text, prec)

    def fresh(self, v: Variable) -> str:
        name, k = v.name, len(self.lines)
        while not name or name in self.taken:
            name, k = f"t{k}", k + 1
        self.taken.add(name)
        return name

    def expr(self, v: Variable) -> tuple[str, int]:
        if v.owner is None:
            text = leaf_str(v)
            return text, (UNARY if text.startswith("-") else ATOM)
        return self.done[id(v)]

    def sub(self, v, min_prec, strict=False) -> str:
        text, prec = self.expr(v)
        return f"({text})" if prec < min_prec or (strict and prec == min_prec) else text

    def arg(self, v) -> str:
        return self.expr(v)[0]

    def shape_arg(self, v) -> str:
        """A shape vector reads best as a tuple: (2, -1)."""
        if isinstance(v, Constant) and v.ndim == 1:
            items = [str(s) for s in v.data.tolist()]
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        return self.arg(v)

    def node_expr(self, v) -> tuple[str, int]:
        node = v.owner
        op, ins = node.op, node.inputs
        if isinstance(op, Elemwise):
            return self.elemwise(op, ins)
        if isinstance(op, Reduce):
            axis = "" if len(op.axis) == ins[0].ndim else \
                f", axis={op.axis[0] if len(op.axis) == 1 else op.axis}"
            return f"{op.kind}({self.arg(ins[0])}{axis}{', keepdims=True' if op.keepdims else ''})", ATOM
        if isinstance(op, DimShuffle):
            return self.dimshuffle(op, ins[0])
        if isinstance(op, Subtensor):
            return f"{self.sub(ins[0], ATOM)}[{', '.join(index_parts(op.idx, map(self.arg, ins[1:])))}]", ATOM
        if isinstance(op, IncSubtensor):
            where = ", ".join(index_parts(op.idx, map(self.arg, ins[2:])))
            return f"{op.name.split('{')[0]}({self.sub(ins[0], ATOM)}[{where}], {self.arg(ins[1])})", ATOM
        if isinstance(op, Shape):
            return f"{self.sub(ins[0], ATOM)}.shape", ATOM
        if isinstance(op, MakeVector):
            return "(" + ", ".join(map(self.arg, ins)) + ("," if len(ins) == 1 else "") + ")", ATOM
        if isinstance(op, (Reshape, Alloc)):
            return f"{op.name}({self.arg(ins[0])}, {self.shape_arg(ins[1])})", ATOM
        if isinstance(op, Join):
            return f"concatenate([{', '.join(map(self.arg, ins))}], axis={op.axis})", ATOM
        if isinstance(op, (Softmax, LogSoftmax)):
            axis = "" if op.axis == ins[0].ndim - 1 else f", axis={op.axis}"
            return f"{op.name}({self.arg(ins[0])}{axis})", ATOM
        text = f"{op.name}({', '.join(map(self.arg, ins))})"
        return (text + f"[{v.index}]" if len(node.outputs) > 1 else text), ATOM

    def elemwise(self, op, ins) -> tuple[str, int]:
        spec = op.spec
        if spec.symbol and len(ins) >= 2:
            sym, prec, assoc = spec.symbol, spec.prec, spec.assoc
            # Left-associative: a - b - c needs no parentheses, a - (b - c) does; ** the reverse.
            parts = [self.sub(ins[0], prec, strict=assoc != "left")]
            parts += [self.sub(i, prec, strict=assoc != "right") for i in ins[1:]]
            return f" {sym} ".join(parts), prec
        if spec.symbol and spec.prec == UNARY:
            return spec.symbol + self.sub(ins[0], UNARY, strict=True), UNARY
        if op.scalar == "cast":
            return f"cast({self.arg(ins[0])}, {op.params[0]})", ATOM
        return f"{op.scalar}({', '.join(map(self.arg, ins))})", ATOM

    def dimshuffle(self, op, x) -> tuple[str, int]:
        kept = [o for o in op.order if o != "x"]
        if x.ndim == 2 and op.order == (1, 0):
            return f"{self.sub(x, ATOM)}.T", ATOM
        if kept == list(range(x.ndim)):        # only inserts broadcast axes: x[:, None]
            return f"{self.sub(x, ATOM)}[{', '.join('None' if o == 'x' else ':' for o in op.order)}]", ATOM
        if "x" not in op.order and kept == sorted(kept):   # only drops length-1 axes
            dropped = tuple(d for d in range(x.ndim) if d not in kept)
            return f"squeeze({self.arg(x)}, axis={dropped[0] if len(dropped) == 1 else dropped})", ATOM
        return f"dimshuffle({self.arg(x)}, {op.order})", ATOM


def update_labels(obj, n_outputs: int, label) -> list[str]:
    """Per shown output, '' or label(shared variable) for a compiled function's updates."""
    labels = [""] * n_outputs
    if hasattr(obj, "fgraph"):
        for k, (var, _) in enumerate(obj.updates):
            labels[len(obj.outputs) + k] = label(var)
    return labels


def pp(obj) -> str:
    """Infix text of a variable (or list): shared subexpressions named once, then the result.

    For a compiled function: its rewritten outputs, then each update as `w := ...`.
    """
    outputs = expand_fused(graph_outputs(obj))
    printer = _Printer(outputs)
    labels = update_labels(obj, len(outputs), lambda var: f"{var.name or var.type} := ")
    results = [label + printer.arg(o) for label, o in zip(labels, outputs)]
    loops = [f"where {name} steps ({', '.join(ins)}) -> {body.replace(chr(10), '; ')}"
             for name, ins, body in loop_bodies(outputs, pp)]
    return "\n".join(printer.lines + results + loops)


def loop_bodies(outputs, show) -> list[tuple]:
    """(name, step input names, show(step outputs)) for each loop (Scan node) in the graph."""
    found = []
    for node in toposort(outputs):
        step = getattr(node.op, "step_inputs", None)
        if step is not None:
            found.append((node.op.name, step(), show(list(node.op.inner_outputs))))
    return found


def _letters(n: int) -> str:
    """0 -> A, 25 -> Z, 26 -> BA: PyTensor-style ids."""
    out = ""
    while True:
        out = chr(65 + n % 26) + out
        n //= 26
        if not n:
            return out


class _Tree:
    """dprint's writer: one line per node, each node expanded once and referenced after."""

    def __init__(self, print_type, depth):
        self.print_type, self.depth = print_type, depth
        self.ids: dict[int, str] = {}
        self.inner: list = []           # ops with an inner graph, printed after the trees
        self.buf = io.StringIO()

    def ident(self, v) -> tuple[str, bool]:
        key = id(v.owner) if v.owner is not None else id(v)
        seen = key in self.ids
        if not seen:
            self.ids[key] = _letters(len(self.ids))
        return self.ids[key], seen

    def walk(self, root, prefix="", child_prefix="", labels=None, note=""):
        """Write root's tree depth-first (an explicit stack: deep graphs print too)."""
        labels = labels or {}
        stack = [(root, prefix, child_prefix, 0, note)]
        while stack:
            v, prefix, child_prefix, level, note = stack.pop()
            ident, seen = self.ident(v)
            node = v.owner
            if node is None:
                label = labels.get(id(v)) or leaf_str(v)
            else:
                label = str(node.op) + (f".{v.index}" if len(node.outputs) > 1 else "")
                if v.name:
                    label += f" '{v.name}'"
                if hasattr(node.op, "inner_outputs") and not seen:
                    self.inner.append((node, ident))
            typ = f" {v.type}" if self.print_type else ""
            more = " ···" if seen and node is not None else ""
            self.buf.write(f"{prefix}{label} [id {ident}]{typ}{note}{more}\n")
            if seen or node is None or 0 <= self.depth <= level + 1:
                continue
            n = len(node.inputs)
            for k in reversed(range(n)):
                last = k == n - 1
                stack.append((node.inputs[k], child_prefix + ("└─ " if last else "├─ "),
                              child_prefix + ("   " if last else "│  "), level + 1, ""))

    def inner_graphs(self):
        """Fused loops and map_range bodies: their inner graphs, as PyTensor prints them."""
        if not self.inner:
            return
        self.buf.write("\nInner graphs:\n")
        done = 0
        while done < len(self.inner):
            node, ident = self.inner[done]
            done += 1
            op = node.op
            named = getattr(op, "inner_labels", lambda: {})()    # a loop names its rows and states
            labels = {id(p): named.get(id(p), f"i{k}") for k, p in enumerate(getattr(op, "inner_inputs", ()))}
            summary = getattr(op, "summary", lambda: "")()
            self.buf.write(f"\n{op} [id {ident}]{' ' + summary if summary else ''}\n")
            for o in op.inner_outputs:
                self.walk(o, " ← ", "   ", labels)


class PrintedTree(str):
    """dprint's text once it has been printed: a str, that a notebook does not show again
    as the cell's value (it would repeat the tree as one escaped string)."""

    def _ipython_display_(self):
        pass


def dprint(obj, file=None, print_type=True, depth=-1) -> str:
    """PyTensor-style debug tree: op, [id X], type; a repeated subtree is shown once.

    `obj` is a variable, a list of them or a compiled function (its rewritten outputs,
    then its updates). Prints to `file` (stdout by default) unless file="str"; returns
    the text either way (once printed, as a PrintedTree: Jupyter does not show it twice).
    """
    outputs = graph_outputs(obj)
    notes = update_labels(obj, len(outputs), lambda var: f" (update of {var.name or var.type})")
    tree = _Tree(print_type, depth)
    for o, note in zip(outputs, notes):
        tree.walk(o, note=note)
    tree.inner_graphs()
    text = tree.buf.getvalue()
    if file == "str":
        return text
    (file or sys.stdout).write(text)
    return PrintedTree(text)


def latex(obj) -> str:
    from .latex import latex as _latex
    return _latex(obj)
