"""Graph -> presentation terms: the mathematics a graph means, as a reader would write it.

Display stage, first half of `latex`: broadcasts, casts and fills are dropped, constants
folded, signs pulled out (x - y, not add(x, mul(-1, y))), sum/len read as mean; latex.py
typesets the result. Terms are hash-consed, so a repeated subexpression is one object.
"""
from __future__ import annotations

import numpy as np

from .graph import Constant, Variable, toposort
from .ops import (Alloc, Arange, DimShuffle, Dot, Elemwise, IncSubtensor, LogSoftmax, LogSoftmaxGrad, MakeVector,
                  Reduce, Shape, Softmax, Subtensor)
from .ops.blas import Gemm, Gemv
from .ops.elemwise import AND, CMP, OR, SCALAR_OPS, XOR
from .random import RandomDraw

# From the op table (elemwise.ScalarOp): scalar ops that change nothing a reader cares about
# (dtype, gradient stopping), relations, logic, and functions written around their argument.
TRANSPARENT = {"cast"} | {n for n, s in SCALAR_OPS.items() if s.tex_form == "same"}
RELATIONS = {n for n, s in SCALAR_OPS.items() if s.prec == CMP}
LOGIC = {n for n, s in SCALAR_OPS.items() if s.prec in (AND, OR, XOR)}
WRAPPED = {n for n, s in SCALAR_OPS.items() if s.tex_form == "wrap"}
SAME_SHAPE = (Softmax, LogSoftmax)     # non-elementwise ops whose output has their input's shape


class Term:
    """A node of the presentation tree; made only by `TermBuilder.make`, so `is` is equality.

    head: 'name', 'input', 'num', 'array', 'add', 'mul', 'neg', 'div', 'pow', 'fn', ...;
    attr: the head's parameter (a name, a value, axes, an index spec).
    """

    __slots__ = ("head", "args", "attr")

    def __init__(self, head, args, attr):
        self.head, self.args, self.attr = head, args, attr


def is_num(t: Term, value=None) -> bool:
    """A real number term (optionally equal to value)."""
    return t.head == "num" and isinstance(t.attr, (int, float)) and (value is None or t.attr == value)


def postorder(roots) -> list[Term]:
    """Every distinct term reachable from roots, each after its arguments."""
    order, seen = [], set()
    stack = [(t, False) for t in reversed(roots)]
    while stack:
        t, expanded = stack.pop()
        if expanded:
            order.append(t)
        elif id(t) not in seen:
            seen.add(id(t))
            stack.append((t, True))
            stack.extend((a, False) for a in reversed(t.args))
    return order


class TermBuilder:
    """Graph -> terms, simplifying as it builds; one builder per picture, so sharing shows."""

    def __init__(self):
        self.table: dict = {}
        self.of: dict[int, Term] = {}
        self.counts: dict[int, Term] = {}      # reduce term -> number of elements it reduces
        self.labels: dict[int, str] = {}       # term -> the name the user gave its variable

    def make(self, head, args=(), attr=None) -> Term:
        key = (head, type(attr), attr, tuple(id(a) for a in args))
        t = self.table.get(key)
        if t is None:
            t = self.table[key] = Term(head, tuple(args), attr)
        return t

    def num(self, v) -> Term:
        v = v.item() if isinstance(v, np.generic) else v
        if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
            v = int(v)
        return self.make("num", (), v)

    # Smart constructors: each returns the simplest term equal to what was asked for.
    def add(self, *ts) -> Term:
        flat = [a for t in ts for a in (t.args if t.head == "add" else (t,))]
        rest = [t for t in flat if not is_num(t)]
        total = sum(t.attr for t in flat if is_num(t))
        if total != 0:      # the folded number goes where the first one was: 1 - x stays 1 - x
            first = next(i for i, t in enumerate(flat) if is_num(t))
            at = sum(1 for t in flat[:first] if not is_num(t))
            if total > 0 and rest and all(t.head == "neg" for t in rest[:at]):
                at = 0      # -1/t + 1 reads 1 - 1/t
            rest.insert(at, self.num(total))
        if not rest:
            return self.num(total)
        if len(rest) == 1:
            return rest[0]
        return (self.common_denominator(rest) if total == 0 else None) or self.make("add", rest)

    def common_denominator(self, terms) -> Term | None:
        """a / (n c) - b / n = (a / c - b) / n: a factor every term divides by is written once
        (a mean's gradient divides each term by the number of rows)."""
        parts = []
        for t in terms:
            sign, body = (-1, t.args[0]) if t.head == "neg" else (1, t)
            if body.head != "div":
                return None
            den = body.args[1]
            parts.append((sign, body.args[0], list(den.args) if den.head == "mul" else [den]))
        common = [f for f in parts[0][2] if not is_num(f) and all(any(f is g for g in p[2]) for p in parts[1:])]
        if not common:
            return None
        out = []
        for sign, num, factors in parts:
            rest = [f for f in factors if not any(f is c for c in common)]
            term = self.div(num, self.mul(*rest)) if rest else num
            out.append(self.neg(term) if sign < 0 else term)
        out.sort(key=lambda t: t.head == "neg")       # (b - a) / n rather than (-a + b) / n
        return self.div(self.add(*out), self.mul(*common))

    def mul(self, *ts) -> Term:
        coef, rest = 1, []
        for t in (a for t in ts for a in (t.args if t.head == "mul" else (t,))):
            if t.head == "neg":
                coef, t = -coef, t.args[0]
            if is_num(t):
                coef *= t.attr
            else:
                rest.append(t)
        if coef == 0 or not rest:
            return self.num(coef)
        fracs = [t for t in rest if t.head == "div"]
        if fracs:           # a * (b / c) reads as (a b) / c
            others = [t for t in rest if t.head != "div"]
            body = self.div(self.mul(self.num(abs(coef)), *others, *[f.args[0] for f in fracs]),
                            self.mul(*[f.args[1] for f in fracs]))
        elif len(rest) == 1 and abs(coef) == 1:
            body = rest[0]
        else:
            body = self.make("mul", ([self.num(abs(coef))] if abs(coef) != 1 else []) + rest)
        return self.neg(body) if coef < 0 else body

    def neg(self, t) -> Term:
        if t.head == "neg":
            return t.args[0]
        return self.num(-t.attr) if is_num(t) else self.make("neg", (t,))

    def div(self, a, b) -> Term:
        if is_num(b, 1):
            return a
        if a.head == "neg":
            return self.neg(self.div(a.args[0], b))
        if a.head == "div":                                 # (a / b) / c = a / (b c)
            return self.div(a.args[0], self.mul(a.args[1], b))
        if b.head == "div":                                 # a / (b / c) = a c / b
            return self.div(self.mul(a, b.args[1]), b.args[0])
        if a.head == "reduce" and a.attr[0] == "sum" and self.counts.get(id(a)) is b:   # sum / n = mean
            mean = self.make("reduce", a.args, ("mean",) + a.attr[1:])
            self.counts[id(mean)] = b
            return mean
        return self.make("div", (a, b))

    def pow(self, a, b) -> Term:
        if is_num(b, 1):
            return a
        if is_num(b, 0):
            return self.num(1)
        if is_num(a) and is_num(b):
            try:
                value = float(a.attr) ** b.attr
            except (ZeroDivisionError, OverflowError):
                value = None
            if isinstance(value, float):        # not 0 ** -1, not (-1) ** 0.5
                return self.num(value)
        return self.make("pow", (a, b))

    def outer(self, a, b) -> Term:
        sign = (a.head == "neg") != (b.head == "neg")
        a, b = (t.args[0] if t.head == "neg" else t for t in (a, b))
        t = self.make("outer", (a, b))
        return self.neg(t) if sign else t

    # graph -> terms
    def build(self, outputs) -> list[Term]:
        for node in toposort(outputs):
            for o in node.outputs:
                t = self.of[id(o)] = self.node(o)
                if o.name and t.args:
                    self.labels.setdefault(id(t), o.name)
        return [self.term(o) for o in outputs]

    def term(self, v: Variable) -> Term:
        t = self.of.get(id(v))
        if t is not None:
            return t
        if isinstance(v, Constant) and v.name is None:
            d = v.data
            if d.size and d.dtype != object and np.all(d == d.flat[0]):    # a fill reads as its value
                return self.num(d.flat[0])
            return self.make("array", (), v)
        return self.make("name", (), v.name) if v.name else self.make("input", (), str(v.type))

    def length(self, x: Variable, k: int) -> Term:
        """len_k(x), traced back to where the length comes from: the rows of X @ w are X's."""
        while x.type.shape[k] is None and x.owner is not None:
            op, ins = x.owner.op, x.owner.inputs
            if isinstance(op, Elemwise):
                src = [i for i in ins if i.ndim == x.ndim and i.type.shape[k] != 1]
                if not src:
                    break
                x = src[0]
            elif isinstance(op, SAME_SHAPE):
                x = ins[0]
            elif isinstance(op, Dot):
                x, k = (ins[0], k) if k < ins[0].ndim - 1 else (ins[1], k - ins[0].ndim + 2)
            elif isinstance(op, Subtensor) and op.idx and all(e == "a" for e in op.idx) and k < ins[1].ndim:
                x = ins[1]          # x[a, b]: its lengths are the index arrays' (the rows of x[arange(n), t] are t's)
            elif isinstance(op, Arange):
                start, stop, step = (self.term(i) for i in ins)
                if is_num(start, 0) and is_num(step, 1):
                    return stop                 # arange(n) has n entries
                break
            else:
                break
        n = x.type.shape[k]
        return self.num(n) if n is not None else self.make("len", (self.term(x),), k)

    def node(self, v: Variable) -> Term:
        op, ins = v.owner.op, v.owner.inputs
        args = [self.term(i) for i in ins]
        if isinstance(op, Elemwise):
            return self.elemwise(op.scalar, ins, args)
        if isinstance(op, Alloc):
            return args[0]
        if isinstance(op, DimShuffle):
            kept = [o for o in op.order if o != "x"]
            if kept == sorted(kept):                    # only adds or drops broadcast axes
                return args[0]
            if op.order == tuple(reversed(range(ins[0].ndim))):
                return args[0].args[0] if args[0].head == "T" else self.make("T", args)
            return self.make("call", args, ("transpose", str(op.order)))
        if isinstance(op, Reduce):
            if op.kind == "sum" and op.axis == (ins[0].ndim - 1,) and ins[0].ndim == 2:
                rows = self.without_onehot(args[0])
                if rows is not None:            # each one-hot row sums to 1
                    return rows
            t = self.make("reduce", args, (op.kind, op.axis, len(op.axis) == ins[0].ndim))
            self.counts[id(t)] = self.mul(*[self.length(ins[0], a) for a in op.axis])
            return t
        if isinstance(op, Subtensor):
            if ins[0].owner is not None and isinstance(ins[0].owner.op, Shape) and isinstance(op.idx[0], int):
                return self.length(ins[0].owner.inputs[0], op.idx[0])
            return self.make("index", (args[0], *self.index_args(op.idx, ins[1:], args[1:])), op.idx)
        if isinstance(op, IncSubtensor):
            where = self.index_args(op.idx, ins[2:], args[2:])
            if is_num(args[0], 0) and len(op.idx) == 2 and where[0].head == "name" and where[0].attr == "i" \
                    and where[1].head == "index":       # zeros with v at (i, t_i): v times t's one-hot rows
                return self.mul(args[1], self.make("call", (where[1].args[0],), ("onehot", None)))
            return self.make("inc", (args[0], args[1], *where), (op.set_, op.idx))
        if isinstance(op, Shape):
            return self.make("call", args, ("shape", None))
        if isinstance(op, Dot):
            return self.make("dot", args, (ins[0].ndim, ins[1].ndim))
        if isinstance(op, (Gemm, Gemv)):                # beta C + alpha A B
            c, alpha, a, b, beta = args
            return self.add(self.mul(beta, c), self.mul(alpha, self.make("dot", (a, b), (2, ins[3].ndim))))
        if isinstance(op, LogSoftmaxGrad):             # g - softmax(x) (g's sums along the axis)
            g, lsm = args
            soft = lsm.args[0] if lsm.head == "fn" and lsm.attr == "log" else self.make("fn", (lsm,), "exp")
            axis = op.axis % ins[0].ndim
            rows = self.without_onehot(g) if (ins[0].ndim, axis) == (2, 1) else None
            if rows is None:
                rows = self.make("reduce", (g,), ("sum", (axis,), ins[0].ndim == 1))
            return self.add(g, self.neg(self.mul(soft, rows)))
        if isinstance(op, (Softmax, LogSoftmax)):
            sm = self.make("call", args, ("softmax", None))
            return sm if isinstance(op, Softmax) else self.make("fn", (sm,), "log")
        if isinstance(op, MakeVector):
            return self.make("tuple", args)
        if isinstance(op, RandomDraw):                  # a sample reads as its distribution
            return self.make("call", args[2:] if v.index else args[:1], (op.dist if v.index else "next", None))
        call = self.make("call", args, (op.name.split("{")[0], None))
        return self.make("pick", (call,), v.index) if len(v.owner.outputs) > 1 else call

    def without_onehot(self, t) -> Term | None:
        """t with its one-hot factor replaced by 1 (the sum of each of its rows), else None."""
        if t.head == "call" and t.attr == ("onehot", None):
            return self.num(1)
        if t.head == "neg":
            inner = self.without_onehot(t.args[0])
            return None if inner is None else self.neg(inner)
        if t.head == "div":
            inner = self.without_onehot(t.args[0])
            return None if inner is None else self.div(inner, t.args[1])
        if t.head == "mul":
            hot = [k for k, f in enumerate(t.args) if f.head == "call" and f.attr == ("onehot", None)]
            if len(hot) == 1:
                return self.mul(*[self.num(1) if k == hot[0] else f for k, f in enumerate(t.args)])
        return None

    def index_args(self, idx, ins, args) -> list[Term]:
        """x[arange(len(x)), t] picks one entry per row: show it as x_{i, t_i}."""
        if idx[:2] == ("a", "a") and ins[0].owner is not None and isinstance(ins[0].owner.op, Arange):
            start, step = (self.term(s) for s in (ins[0].owner.inputs[0], ins[0].owner.inputs[2]))
            if is_num(start, 0) and is_num(step, 1):
                i = self.make("name", (), "i")
                return [i, self.make("index", (args[1], i), ("a",)), *args[2:]]
        return list(args)

    def elemwise(self, s, ins, args) -> Term:
        if s in TRANSPARENT:
            return args[0]
        one = self.num(1)
        if s == "exp" and args[0].head == "fn" and args[0].attr == "log":
            return args[0].args[0]                      # exp(log_softmax(z)) reads softmax(z)
        rules = {"add": lambda: self.add(*args), "sub": lambda: self.add(args[0], self.neg(args[1])),
                 "mul": lambda: self.mul(*self.outer_or_args(ins, args)),
                 "neg": lambda: self.neg(args[0]), "true_div": lambda: self.div(*args),
                 "reciprocal": lambda: self.div(one, args[0]),
                 "pow": lambda: self.pow(*args), "sqr": lambda: self.pow(args[0], self.num(2)),
                 "exp2": lambda: self.pow(self.num(2), args[0]),
                 "log1p": lambda: self.make("fn", (self.add(one, args[0]),), "log"),
                 "expm1": lambda: self.add(self.make("fn", args, "exp"), self.num(-1)),
                 "int_div": lambda: self.make("wrap", (self.div(*args),), "floor"),
                 "switch": lambda: self.make("cases", args), "mod": lambda: self.make("mod", args),
                 "invert": lambda: self.make("not", args)}
        if s in rules:
            return rules[s]()
        head = "wrap" if s in WRAPPED else "rel" if s in RELATIONS else "logic" if s in LOGIC else "fn"
        return self.make(head, args, s)

    def outer_or_args(self, ins, args) -> list[Term]:
        """col[:, None] * row[None, :] is the outer product: shown as a b^T."""
        def side(v):
            while v.owner is not None and (isinstance(v.owner.op, Alloc) or (
                    isinstance(v.owner.op, Elemwise) and v.owner.op.scalar in TRANSPARENT)):
                v = v.owner.inputs[0]
            if v.owner is not None and isinstance(v.owner.op, DimShuffle) and v.owner.inputs[0].ndim == 1:
                return {(0, "x"): "col", ("x", 0): "row"}.get(v.owner.op.order)
            return None
        sides = [side(v) for v in ins]
        cols = [a for a, s in zip(args, sides) if s == "col"]
        rows = [a for a, s in zip(args, sides) if s == "row"]
        if not cols or not rows:
            return args
        return [a for a, s in zip(args, sides) if s is None] + [self.outer(self.mul(*cols), self.mul(*rows))]
