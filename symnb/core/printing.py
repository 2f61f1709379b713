"""Text views of a graph: dprint (tree with types), pp (infix), short names for repr.

Display stage of the data flow, usable on any graph: what the user built, a gradient,
or the rewritten outputs of a compiled function. LaTeX lives in latex.py.
"""
from __future__ import annotations

import io
import sys

import numpy as np

from .graph import Constant, Variable, toposort

# Infix operators: scalar op name -> (symbol, precedence, associativity).
INFIX = {"add": ("+", 10, "left"), "sub": ("-", 10, "left"), "mul": ("*", 20, "left"),
         "true_div": ("/", 20, "left"), "int_div": ("//", 20, "left"), "mod": ("%", 20, "left"),
         "pow": ("**", 40, "right"), "lt": ("<", 5, None), "le": ("<=", 5, None), "gt": (">", 5, None),
         "ge": (">=", 5, None), "eq": ("==", 5, None), "neq": ("!=", 5, None),
         "and_": ("&", 4, "left"), "xor": ("^", 3, "left"), "or_": ("|", 2, "left")}
PREFIX = {"neg": ("-", 30), "invert": ("~", 30)}
ATOM = 100


def _outputs(obj) -> list:
    if isinstance(obj, Variable):
        return [obj]
    if hasattr(obj, "fgraph"):          # a compiled Function: its rewritten outputs and updates
        return list(obj.fgraph.outputs)
    return list(obj)


def format_constant(c: Constant) -> str:
    d = c.data
    if d.ndim == 0:
        v = d.item()
        if isinstance(v, float):
            return repr(float(v)) if np.isfinite(v) else {np.inf: "inf", -np.inf: "-inf"}.get(v, "nan")
        return repr(v)
    if d.size <= 6:
        return np.array2string(d, separator=", ")
    return f"Constant{{{c.type}}}"


def leaf_str(v: Variable) -> str:
    if v.name:
        return v.name
    if isinstance(v, Constant):
        return format_constant(v)
    return f"<{v.type}>"


def short_str(v: Variable) -> str:
    """One-line description for repr(): pp for small graphs, the op otherwise."""
    if v.owner is None:
        return leaf_str(v)
    if len(toposort([v])) <= 12:
        return pp(v)
    return f"{v.owner.op}(...) : {v.type}"


def _index_str(idx, parts) -> str:
    it = iter(parts)
    out = []
    for e in idx:
        if isinstance(e, tuple):
            start, stop, step = [next(it) if p == "?" else ("" if p is None else str(p)) for p in e[1:]]
            s = f"{start}:{stop}" + (f":{step}" if step else "")
            out.append(s)
        elif e in ("?", "a"):
            out.append(next(it))
        else:
            out.append(str(e))
    return ", ".join(out)


class _Printer:
    """Infix printer: shared non-trivial subexpressions get a name, used once each."""

    def __init__(self, outputs):
        self.names: dict[int, str] = {}
        self.lines: list[str] = []
        uses: dict[int, int] = {}
        for node in toposort(outputs):
            for i in node.inputs:
                uses[id(i)] = uses.get(id(i), 0) + 1
        for o in outputs:
            uses[id(o)] = uses.get(id(o), 0) + 1
        self.shared = {k for k, n in uses.items() if n > 1}

    def expr(self, v: Variable, top=False) -> tuple[str, int]:
        if v.owner is None:
            return leaf_str(v), ATOM
        if id(v) in self.names:
            return self.names[id(v)], ATOM
        text, prec = self.node_expr(v)
        if id(v) in self.shared and not top:
            name = v.name or f"t{len(self.names)}"
            self.names[id(v)] = name
            self.lines.append(f"{name} = {text}")
            return name, ATOM
        return text, prec

    def sub(self, v, min_prec, strict=False) -> str:
        text, prec = self.expr(v)
        return f"({text})" if prec < min_prec or (strict and prec == min_prec) else text

    def node_expr(self, v) -> tuple[str, int]:
        node = v.owner
        op, ins = node.op, node.inputs
        kind = type(op).__name__
        if kind == "Elemwise" and op.scalar in INFIX and len(ins) >= 2:
            sym, prec, assoc = INFIX[op.scalar]
            parts = [self.sub(ins[0], prec, strict=assoc == "right" or assoc is None)]
            parts += [self.sub(i, prec, strict=assoc != "right") for i in ins[1:]]
            return f" {sym} ".join(parts), prec
        if kind == "Elemwise" and op.scalar in PREFIX:
            sym, prec = PREFIX[op.scalar]
            return sym + self.sub(ins[0], prec + 1), prec
        if kind == "Elemwise" and op.scalar == "cast":
            return f"cast({self.expr(ins[0])[0]}, {op.params[0]})", ATOM
        if kind == "Reduce":
            axis = "" if len(op.axis) == ins[0].ndim else \
                f", axis={op.axis[0] if len(op.axis) == 1 else op.axis}"
            return f"{op.kind}({self.expr(ins[0])[0]}{axis}{', keepdims=True' if op.keepdims else ''})", ATOM
        if kind == "DimShuffle":
            x = self.sub(ins[0], ATOM)
            if op.order == tuple(reversed(range(ins[0].ndim))) and ins[0].ndim == 2:
                return f"{x}.T", ATOM
            if "x" in op.order and [o for o in op.order if o != "x"] == list(range(ins[0].ndim)):
                return f"{x}[{', '.join('None' if o == 'x' else ':' for o in op.order)}]", ATOM
            return f"dimshuffle({self.expr(ins[0])[0]}, {op.order})", ATOM
        if kind in ("Subtensor",):
            parts = [self.expr(i)[0] for i in ins[1:]]
            return f"{self.sub(ins[0], ATOM)}[{_index_str(op.idx, parts)}]", ATOM
        if kind == "Shape":
            return f"{self.sub(ins[0], ATOM)}.shape", ATOM
        if kind == "MakeVector":
            return "(" + ", ".join(self.expr(i)[0] for i in ins) + ("," if len(ins) == 1 else "") + ")", ATOM
        args = ", ".join(self.expr(i)[0] for i in ins)
        name = op.scalar if kind == "Elemwise" else op.name
        text = f"{name}({args})"
        if len(node.outputs) > 1:
            text += f"[{v.index}]"
        return text, ATOM


def pp(obj) -> str:
    """Infix text of a variable (or list): shared subexpressions named once, then the result."""
    outputs = _outputs(obj)
    printer = _Printer(outputs)
    results = [printer.expr(o, top=True)[0] for o in outputs]
    return "\n".join(printer.lines + results)


def dprint(obj, file=None, print_type=True, depth=-1) -> str:
    """PyTensor-style debug tree: op, [id X], type; a repeated subtree is shown once."""
    outputs = _outputs(obj)
    ids: dict[int, str] = {}
    buf = io.StringIO()

    def ident(v):
        key = id(v.owner) if v.owner is not None else id(v)
        if key not in ids:
            n = len(ids)
            ids[key] = "".join(chr(65 + d) for d in _digits(n))
        return ids[key]

    def walk(v, prefix, child_prefix, level):
        seen = (id(v.owner) if v.owner is not None else id(v)) in ids
        label = leaf_str(v) if v.owner is None else str(v.owner.op)
        if v.owner is not None and len(v.owner.outputs) > 1:
            label += f".{v.index}"
        typ = f" {v.type}" if print_type else ""
        name = f" '{v.name}'" if v.name and v.owner is not None else ""
        buf.write(f"{prefix}{label} [id {ident(v)}]{name}{typ}{' ···' if seen and v.owner is not None else ''}\n")
        if seen or v.owner is None or level == depth:
            return
        ins = v.owner.inputs
        for k, i in enumerate(ins):
            last = k == len(ins) - 1
            walk(i, child_prefix + ("└─ " if last else "├─ "), child_prefix + ("   " if last else "│  "), level + 1)

    for o in outputs:
        walk(o, "", "", 0)
    text = buf.getvalue()
    if file == "str":
        return text
    (file or sys.stdout).write(text)
    return text


def _digits(n):
    out = [n % 26]
    n //= 26
    while n:
        n -= 1
        out.append(n % 26)
        n //= 26
    return reversed(out)


def latex(v) -> str:
    from .latex import latex as _latex
    return _latex(v)
