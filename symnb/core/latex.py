"""LaTeX view of a graph (what `Variable._repr_latex_` shows in Jupyter).

Display stage, second half: latex_terms.py turns the graph into the mathematics it means;
this module typesets those terms with as few parentheses as precedence allows, naming
each repeated subexpression once (`\\text{where } t_{0} = ...`).
"""
from __future__ import annotations

import math
import re

import numpy as np

from .latex_terms import TermBuilder, is_num, postorder
from .ops.elemwise import SCALAR_OPS
from .printing import expand_fused, graph_outputs, index_parts, loop_bodies, update_labels

GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda",
         "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega", "Gamma",
         "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega"}
# Function names and relation symbols come from the op table (elemwise.ScalarOp.tex), read
# when typesetting; these are the names of the non-scalar operations the terms use.
OTHER_FUNCS = {"softmax": r"\mathrm{softmax}"}
WRAPS = {"sqrt": (r"\sqrt{", "}"), "abs": (r"\left|", r"\right|"), "floor": (r"\left\lfloor ", r"\right\rfloor"),
         "ceil": (r"\left\lceil ", r"\right\rceil")}
BIG = {"sum": r"\sum", "prod": r"\prod", "max": r"\max", "min": r"\min"}
# Binding strength, loosest first: a < b \land c, a + b, \sum x, -x, a b, \frac, x^{2}.
LOGIC, REL, ADD, REDUCE, NEG, MUL, FRAC, POW, ATOM = 0, 1, 10, 12, 15, 20, 30, 40, 100


def number_tex(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return r"\mathrm{" + str(bool(v)) + "}"
    if isinstance(v, complex):
        return str(v).strip("()").replace("j", "i")
    if isinstance(v, float) and not math.isfinite(v):
        return r"\mathrm{NaN}" if v != v else ("-" if v < 0 else "") + r"\infty"
    mant, _, exp = f"{v:.6g}".partition("e")
    return mant + (rf" \times 10^{{{int(exp)}}}" if exp else "")


def _part(s: str) -> str:
    return "\\" + s if s in GREEK else (s if len(s) == 1 or s.isdigit() else r"\mathrm{" + s + "}")


def name_tex(name: str) -> str:
    """alpha -> \\alpha, W_1 and W1 -> W_{1}, x_hid -> x_{\\mathrm{hid}}, anything else upright."""
    m = re.fullmatch(r"([A-Za-z]+?)(?:_?(\d+)|_([A-Za-z0-9]+))?", name)
    if not m:
        return r"\mathrm{" + re.sub(r"([_&%$#{}])", r"\\\1", name) + "}"
    base, digits, word = m.groups()
    sub = digits or word
    return _part(base) + (f"_{{{_part(sub)}}}" if sub else "")


def array_tex(d: np.ndarray) -> str:
    if d.size > 6 or d.ndim > 2:
        return r"\mathrm{const}_{" + r" \times ".join(map(str, d.shape)) + "}"
    if d.ndim == 1:
        return r"\left[" + ", ".join(number_tex(x) for x in d.tolist()) + r"\right]"
    rows = [" & ".join(number_tex(x) for x in r) for r in d.tolist()]
    return r"\begin{bmatrix} " + r" \\ ".join(rows) + r" \end{bmatrix}"


def _trivial(t) -> bool:
    """Terms short enough to repeat rather than name: symbols, numbers, -x, x^T, x_{0}, len_0(x)."""
    return not t.args or (t.head in ("neg", "T", "len", "index") and all(not a.args for a in t.args))


class _Tex:
    """Typesetting: precedence-driven parentheses; repeated terms become t_k definitions."""

    def __init__(self, roots, labels):
        order = postorder(roots)
        uses: dict[int, int] = {}
        for t in [a for t in order for a in t.args] + list(roots):
            uses[id(t)] = uses.get(id(t), 0) + 1
        self.names: dict[int, str] = {}
        self.defs: list[str] = []
        # Bottom-up, so no recursion however deep the graph; a named term reads as its name.
        self.done: dict[int, tuple[str, int]] = {}
        for t in order:
            text, prec = self.render(t)
            if uses[id(t)] > 1 and not _trivial(t):
                label, k = labels.get(id(t)), len(self.names)
                name = name_tex(label) if label else ""
                while not name or name in self.names.values():
                    name, k = f"t_{{{k}}}", k + 1
                self.names[id(t)] = name
                self.defs.append(f"{name} = {text}")
                text, prec = name, ATOM
            self.done[id(t)] = (text, prec)

    def expr(self, t) -> tuple[str, int]:
        return self.done[id(t)]

    def sub(self, t, prec, strict=False) -> str:
        """t's text, in parentheses if it binds more loosely than its place needs."""
        text, p = self.expr(t)
        if p < prec or (strict and p == prec):
            return rf"\left[{text}\right]" if p == REL else rf"\left({text}\right)"   # [a < b]: Iverson
        return text

    def arg(self, t) -> str:
        return self.expr(t)[0]

    def render(self, t) -> tuple[str, int]:
        h, a = t.head, t.args
        if h in ("name", "input", "array", "num"):
            return self.leaf(t)
        if h == "add":
            return self.sum_of(a), ADD
        if h == "mul":
            return self.product(a), MUL
        if h == "neg":
            return "-" + self.sub(a[0], ADD, strict=True), NEG
        if h == "div":
            return rf"\frac{{{self.arg(a[0])}}}{{{self.arg(a[1])}}}", FRAC
        if h in ("pow", "T"):
            exp = r"\top" if h == "T" else self.arg(a[1])
            return f"{self.sub(a[0], POW, strict=True)}^{{{exp}}}", POW
        if h == "fn":
            return f"{self.fname(t.attr)}\\left({', '.join(map(self.arg, a))}\\right)", ATOM
        if h == "wrap":
            return WRAPS[t.attr][0] + self.arg(a[0]) + WRAPS[t.attr][1], ATOM
        if h in ("rel", "logic"):
            prec = REL if h == "rel" else LOGIC
            return f"{self.sub(a[0], prec, h == 'rel')} {SCALAR_OPS[t.attr].tex} {self.sub(a[1], prec, True)}", prec
        if h == "not":
            return r"\lnot " + self.sub(a[0], ATOM), NEG
        if h == "mod":
            return rf"{self.sub(a[0], MUL)} \bmod {self.sub(a[1], MUL, True)}", MUL
        if h == "cases":
            c, x, y = map(self.arg, a)
            return rf"\begin{{cases}} {x} & \text{{if }} {c} \\ {y} & \text{{otherwise}} \end{{cases}}", ATOM
        if h == "reduce":
            kind, axes, full = t.attr
            where = "" if full else r"_{\mathrm{axis}=" + ",".join(map(str, axes)) + "}"
            return f"{BIG.get(kind) or self.opname(kind)}{where} {self.sub(a[0], FRAC)}", REDUCE
        if h == "dot":      # vector . vector, else the matrix product written as juxtaposition
            return (r" \cdot " if t.attr == (1, 1) else " ").join(self.sub(x, FRAC) for x in a), MUL
        if h == "outer":
            return f"{self.sub(a[0], FRAC)} {self.sub(a[1], POW, True)}^{{\\top}}", MUL
        if h == "index":
            return self.indexed(a[0], t.attr, a[1:]), ATOM
        if h == "len":
            return rf"\operatorname{{len}}_{{{t.attr}}}\left({self.arg(a[0])}\right)", ATOM
        if h == "tuple":
            return r"\left(" + ", ".join(map(self.arg, a)) + r"\right)", ATOM
        if h == "inc":
            set_, idx = t.attr
            where = ", ".join(index_parts(idx, map(self.arg, a[2:])))
            return rf"{self.opname('set' if set_ else 'inc')}_{{{where}}}\left({self.arg(a[0])}, " \
                   rf"{self.arg(a[1])}\right)", ATOM
        if h == "pick":
            return rf"{self.sub(a[0], ATOM)}_{{[{t.attr}]}}", ATOM
        name, sub = t.attr                      # "call": a named function, optionally subscripted
        name = self.fname(name)
        return rf"{name}{f'_{{{sub}}}' if sub else ''}\left({', '.join(map(self.arg, a))}\right)", ATOM

    def fname(self, name) -> str:
        """A function's name: the op table's LaTeX for it, else upright text."""
        spec = SCALAR_OPS.get(name)
        return (spec.tex if spec is not None else OTHER_FUNCS.get(name)) or self.opname(name)

    @staticmethod
    def opname(name) -> str:
        return r"\operatorname{" + name.rstrip("_").replace("_", r"\_") + "}"

    @staticmethod
    def leaf(t) -> tuple[str, int]:
        if t.head == "name":
            return name_tex(t.attr), ATOM
        if t.head == "input":                   # an unnamed input: its type
            return r"\langle\mathtt{" + t.attr.replace(" ", r"\ ") + r"}\rangle", ATOM
        if t.head == "array":
            return array_tex(t.attr.data), ATOM
        text = number_tex(t.attr)
        return text, (NEG if text.startswith("-") else ATOM)

    def sum_of(self, terms) -> str:
        parts = [self.sub(terms[0], ADD)]
        for x in terms[1:]:
            if x.head == "neg" and id(x) not in self.names:
                parts.append("- " + self.sub(x.args[0], ADD, strict=True))
            elif is_num(x) and x.attr < 0:
                parts.append("- " + number_tex(-x.attr))
            else:
                parts.append("+ " + self.sub(x, ADD))
        return " ".join(parts)

    def product(self, factors) -> str:
        """2 x \\cdot y: a numeric coefficient is written in front, other factors with \\cdot."""
        parts = [self.sub(f, MUL) for f in factors]
        if is_num(factors[0]) and not parts[1][:1].isdigit():
            return parts[0] + " " + r" \cdot ".join(parts[1:])
        return r" \cdot ".join(parts)

    def indexed(self, base, idx, parts) -> str:
        text = self.arg(base)
        plain = base.head in ("name", "input") or id(base) in self.names
        if not plain or "_" in text:            # x_{0}, but (W_{1})_{0} and (W x)_{0}
            text = rf"\left({text}\right)"
        return f"{text}_{{{', '.join(index_parts(idx, map(self.arg, parts)))}}}"


def latex(obj) -> str:
    """LaTeX (no surrounding $$) for a variable, a list of them or a compiled function.

    A compiled function shows its outputs, then each update as `w \\leftarrow ...`.
    """
    outputs = expand_fused(graph_outputs(obj))
    builder = TermBuilder()
    roots = builder.build(outputs)
    labels = update_labels(obj, len(roots), lambda var: f"{name_tex(var.name or 'shared')} \\leftarrow ")
    tex = _Tex(roots, builder.labels)
    body = r",\quad ".join(label + tex.arg(t) for label, t in zip(labels, roots))
    if tex.defs:
        body += r" \quad \text{where } " + r",\; ".join(tex.defs)
    for name, ins, step in loop_bodies(outputs, latex):
        args = ", ".join(name_tex(n) for n in ins)
        name = name.replace("{", r"\{").replace("}", r"\}")
        body += rf" \quad \text{{where {name} steps }} \left({args}\right) \mapsto {step}"
    return body
