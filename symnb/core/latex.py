"""LaTeX view of a graph (what `Variable._repr_latex_` shows in Jupyter).

Display stage: presentation only. Broadcast plumbing that carries no meaning for a
reader (alloc fills, inserted broadcast axes, casts between float types) is elided.
"""
from __future__ import annotations

import re

import numpy as np

from .graph import Constant, Variable, toposort

GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda",
         "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "phi", "chi", "psi", "omega", "Gamma", "Delta",
         "Theta", "Lambda", "Xi", "Pi", "Sigma", "Phi", "Psi", "Omega"}
FUNCS = {"exp": r"\exp", "log": r"\log", "sin": r"\sin", "cos": r"\cos", "tan": r"\tan", "sinh": r"\sinh",
         "cosh": r"\cosh", "tanh": r"\tanh", "arcsin": r"\arcsin", "arccos": r"\arccos", "arctan": r"\arctan",
         "sigmoid": r"\sigma", "log2": r"\log_2", "log10": r"\log_{10}", "sign": r"\operatorname{sign}"}
ADD, MUL, NEG, POW, ATOM = 10, 20, 25, 40, 100


def name_tex(name: str) -> str:
    m = re.fullmatch(r"([A-Za-z]+)_?(\d+)?", name)
    if not m:
        return r"\mathit{" + name.replace("_", r"\_") + "}"
    base, sub = m.groups()
    base = "\\" + base if base in GREEK else (base if len(base) == 1 else r"\mathrm{" + base + "}")
    return base + (f"_{{{sub}}}" if sub else "")


def const_tex(c: Constant) -> str:
    d = c.data
    if d.ndim == 0 or (d.size and np.all(d == d.flat[0])):
        v = d.flat[0].item() if d.size else 0
        if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
            v = int(v)
        return str(v).replace("inf", r"\infty")
    return r"\mathrm{const}_{" + "\\times".join(map(str, d.shape)) + "}"


def _transparent(v: Variable) -> Variable:
    """Skip nodes that only broadcast or cast: they carry no meaning in formulas."""
    while v.owner is not None:
        kind = type(v.owner.op).__name__
        if kind == "Alloc" or (kind == "DimShuffle" and [o for o in v.owner.op.order if o != "x"]
                               == list(range(v.owner.inputs[0].ndim))):
            v = v.owner.inputs[0]
        elif kind == "Elemwise" and v.owner.op.scalar in ("cast", "identity", "zero_grad"):
            v = v.owner.inputs[0]
        else:
            break
    return v


class _Tex:
    def __init__(self, outputs):
        uses: dict[int, int] = {}
        for node in toposort(outputs):
            for i in {id(_transparent(i)): _transparent(i) for i in node.inputs}.values():
                uses[id(i)] = uses.get(id(i), 0) + 1
        self.shared = {k for k, n in uses.items() if n > 1}
        self.names: dict[int, str] = {}
        self.defs: list[str] = []

    def expr(self, v, top=False):
        v = _transparent(v)
        if v.owner is None:
            if isinstance(v, Constant):
                text = const_tex(v)
                return text, (NEG if text.startswith("-") else ATOM)
            return (name_tex(v.name) if v.name else r"\square"), ATOM
        if id(v) in self.names:
            return self.names[id(v)], ATOM
        text, prec = self.node(v)
        if id(v) in self.shared and not top and prec < ATOM or (id(v) in self.shared and len(text) > 24 and not top):
            name = f"t_{{{len(self.names)}}}"
            self.names[id(v)] = name
            self.defs.append(f"{name} = {text}")
            return name, ATOM
        return text, prec

    def sub(self, v, prec, strict=False):
        text, p = self.expr(v)
        return rf"\left({text}\right)" if p < prec or (strict and p == prec) else text

    def node(self, v):
        node = v.owner
        op, ins = node.op, node.inputs
        kind = type(op).__name__
        if kind == "Elemwise":
            s = op.scalar
            if s == "add":
                parts = [self.sub(ins[0], ADD)]
                for i in ins[1:]:
                    t = self.sub(i, ADD)
                    parts.append(t if t.startswith("-") else "+ " + t)
                return " ".join(parts).replace("+ -", "- "), ADD
            if s == "sub":
                return f"{self.sub(ins[0], ADD)} - {self.sub(ins[1], ADD, strict=True)}", ADD
            if s == "mul":
                consts = [i for i in ins if isinstance(_transparent(i), Constant)]
                rest = [i for i in ins if not isinstance(_transparent(i), Constant)]
                if len(consts) == 1 and const_tex(_transparent(consts[0])) == "-1" and rest:
                    inner = " ".join(self.sub(i, MUL) for i in rest)
                    return "-" + inner, NEG
                return r" \cdot ".join(self.sub(i, MUL) for i in consts + rest), MUL
            if s in ("true_div", "int_div"):
                frac = rf"\frac{{{self.expr(ins[0])[0]}}}{{{self.expr(ins[1])[0]}}}"
                return (frac if s == "true_div" else rf"\left\lfloor {frac} \right\rfloor"), ATOM
            if s == "neg":
                return "-" + self.sub(ins[0], NEG + 1), NEG
            if s in ("pow", "sqr"):
                exp = "2" if s == "sqr" else self.expr(ins[1])[0]
                return f"{self.sub(ins[0], POW, strict=True)}^{{{exp}}}", POW
            if s == "sqrt":
                return rf"\sqrt{{{self.expr(ins[0])[0]}}}", ATOM
            if s == "abs":
                return rf"\left|{self.expr(ins[0])[0]}\right|", ATOM
            if s == "reciprocal":
                return rf"\frac{{1}}{{{self.expr(ins[0])[0]}}}", ATOM
            if s in ("eq", "neq", "lt", "le", "gt", "ge"):
                sym = {"eq": "=", "neq": r"\neq", "lt": "<", "le": r"\leq", "gt": ">", "ge": r"\geq"}[s]
                return rf"\left[{self.expr(ins[0])[0]} {sym} {self.expr(ins[1])[0]}\right]", ATOM
            if s == "switch":
                c, a, b = (self.expr(i)[0] for i in ins)
                return rf"\begin{{cases}} {a} & \text{{if }} {c} \\ {b} & \text{{otherwise}} \end{{cases}}", ATOM
            fn = FUNCS.get(s, rf"\operatorname{{{s.replace('_', '')}}}")
            return f"{fn}\\left({', '.join(self.expr(i)[0] for i in ins)}\\right)", ATOM
        if kind == "Reduce":
            sym = {"sum": r"\sum", "prod": r"\prod", "max": r"\max", "min": r"\min"}.get(
                op.kind, rf"\operatorname{{{op.kind}}}")
            axis = "" if len(op.axis) == ins[0].ndim else "_{" + ",".join(f"i_{{{a}}}" for a in op.axis) + "}"
            return f"{sym}{axis} {self.sub(ins[0], MUL + 1)}", MUL
        if kind in ("Dot", "BatchedMatmul"):
            return " ".join(self.sub(i, POW) for i in ins), MUL
        if kind == "DimShuffle":
            if op.order == tuple(reversed(range(ins[0].ndim))):
                return f"{self.sub(ins[0], POW, strict=True)}^{{\\top}}", POW
            return self.expr(ins[0])
        if kind == "Subtensor":
            base = self.sub(ins[0], ATOM)
            base = f"{{{base}}}" if "_" in base or "^" in base else base   # no double subscripts
            return f"{base}_{{{', '.join(self._index(op.idx, ins[1:]))}}}", ATOM
        if kind in ("Softmax", "LogSoftmax"):
            return rf"\mathrm{{{op.name}}}\left({self.expr(ins[0])[0]}\right)", ATOM
        args = ", ".join(self.expr(i)[0] for i in ins)
        return rf"\operatorname{{{op.name.split('{')[0].replace('_', '')}}}\left({args}\right)", ATOM

    def _index(self, idx, parts):
        it = iter(parts)
        out = []
        for e in idx:
            if isinstance(e, tuple):
                b = [self.expr(next(it))[0] if p == "?" else ("" if p is None else str(p)) for p in e[1:]]
                out.append(f"{b[0]}:{b[1]}" + (f":{b[2]}" if b[2] else ""))
            elif e in ("?", "a"):
                out.append(self.expr(next(it))[0])
            else:
                out.append(str(e))
        return out


def latex(obj) -> str:
    """LaTeX for a variable or a list of them, with `t_k` names for repeated subexpressions."""
    outputs = [obj] if isinstance(obj, Variable) else list(obj)
    t = _Tex(outputs)
    results = [t.expr(o, top=True)[0] for o in outputs]
    body = r",\quad ".join(results)
    if t.defs:
        body += r" \quad \text{where } " + r",\ ".join(t.defs)
    return body
