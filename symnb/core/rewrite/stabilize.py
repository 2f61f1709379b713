"""Stabilization rules: rewrite expressions that overflow or cancel into stable forms.

log(1+x) -> log1p, exp(x)-1 -> expm1, log(1+exp x) -> softplus, log(sigmoid) ->
-softplus(-x), log(softmax) -> log_softmax, log(sum(exp)) -> logsumexp, cross-entropies.
The gradients of the stable forms are stable too (softplus' = sigmoid, ...).
"""
from __future__ import annotations

from ..graph import Constant, toposort
from ..ops import Reduce, Softmax
from ..ops import elemwise as E
from ..ops import reduce as R
from ..ops.nnet import log_softmax
from .engine import P, Pat, Rule, const, var
from .canonicalize import _as_type

x, y, t = var("x"), var("y"), var("t")


def _stable(v, out):
    return _as_type(out, v)


def _sum(terms):
    return terms[0] if len(terms) == 1 else E.apply_elemwise("add", *terms)


def _max_shifted(x) -> bool:
    """x - max(x) (the body of logsumexp itself) is already stable."""
    node = x.owner
    if node is None or getattr(node.op, "scalar", None) != "sub":
        return False
    return any(getattr(n.op, "scalar", None) == "zero_grad" for n in toposort([node.inputs[1]]))


def log_sum_exp(v, s, x, **_):
    op = s.owner.op
    if op.kind != "sum" or _max_shifted(x):
        return None
    return _stable(v, R.logsumexp(x, axis=op.axis, keepdims=op.keepdims))   # log(sum(exp x)) -> logsumexp


def log_softmax_rule(v, s, **_):
    return _stable(v, log_softmax(s.owner.inputs[0], s.owner.op.axis))      # log(softmax x) -> log_softmax x


def negated(t):
    """-t, written without a neg where t's form allows (so the logit of a hand-written
    sigmoid, 1 / (1 + exp(-dot(x, w) - b)), comes out as dot(x, w) + b)."""
    node = t.owner
    op = getattr(node.op, "scalar", None) if node is not None else None
    if op == "neg":
        return node.inputs[0]                                            # -(-z) -> z
    if op == "sub":
        a, b = node.inputs
        if a.owner is not None and getattr(a.owner.op, "scalar", None) == "neg":
            return E.add(a.owner.inputs[0], b)                           # -(-a - b) -> a + b
        return E.sub(b, a)                                               # -(a - b) -> b - a
    if op == "add" and any(i.owner is not None and getattr(i.owner.op, "scalar", None) == "neg"
                           for i in node.inputs):
        return _sum([negated(i) for i in node.inputs])                  # -(-a + b) -> a + (-b)
    if isinstance(t, Constant):
        return Constant(-t.data)                                         # -(c) -> (-c)
    return E.neg(t)


def cancel_division(v, **_):
    """a/b * b -> a inside a product (what the gradients of log and of divisions produce)."""
    ins = list(v.owner.inputs)
    for k, d in enumerate(ins):
        if d.owner is None or getattr(d.owner.op, "scalar", None) != "true_div":
            continue
        num, den = d.owner.inputs
        for j, other in enumerate(ins):
            if j != k and other is den:
                rest = [i for n, i in enumerate(ins) if n not in (j, k)] + [num]
                out = rest[0] if len(rest) == 1 else E.apply_elemwise("mul", *rest)
                return _stable(v, out)                                   # (a / b) * b -> a
    return None


def neg_out_of_mul(v, **_):
    ins = v.owner.inputs
    if not any(i.owner is not None and getattr(i.owner.op, "scalar", None) == "neg" for i in ins):
        return None
    flips = 0
    plain = []
    for i in ins:
        if i.owner is not None and getattr(i.owner.op, "scalar", None) == "neg":
            flips += 1
            plain.append(i.owner.inputs[0])
        else:
            plain.append(i)
    prod = E.apply_elemwise("mul", *plain)
    return _stable(v, E.neg(prod) if flips % 2 else prod)                # (-a) * b -> -(a * b)


STABILIZE = [
    Rule("neg_out_of_mul", P.mul, neg_out_of_mul),
    Rule("cancel_division", P.mul, cancel_division),
    Rule("log1p", P.log(P.add(const(1), rest="xs")),
         lambda v, xs: _stable(v, E.log1p(_sum(xs))) if xs else None),                   # log(1+x+..) -> log1p(x+..)
    Rule("log1p_sub", P.log(P.sub(const(1), x)), lambda v, x: _stable(v, E.log1p(E.neg(x)))),  # log(1-x)
    Rule("expm1", P.sub(P.exp(x), const(1)), lambda v, x: _stable(v, E.expm1(x))),        # exp(x)-1 -> expm1(x)
    Rule("expm1_add", P.add(P.exp(x), const(-1), rest="xs"),
         lambda v, x, xs: _stable(v, _sum((E.expm1(x),) + xs))),                          # exp(x)+..-1 -> expm1(x)+..
    Rule("softplus", P.log1p(P.exp(x)), lambda v, x: _stable(v, E.softplus(x))),          # log(1+exp x) -> softplus
    Rule("log_sigmoid", P.log(P.sigmoid(x)),
         lambda v, x: _stable(v, E.neg(E.softplus(E.neg(x))))),                           # log σ(x) -> -softplus(-x)
    Rule("log1m_sigmoid", P.log1p(P.neg(P.sigmoid(x))),
         lambda v, x: _stable(v, E.neg(E.softplus(x)))),                                  # log(1-σ(x)) -> -softplus(x)
    Rule("one_minus_sigmoid", P.sub(const(1), P.sigmoid(x)),
         lambda v, x: _stable(v, E.sigmoid(E.neg(x)))),                                   # 1 - σ(x) -> σ(-x)
    Rule("sigmoid_from_exp", P.true_div(const(1), P.add(const(1), P.exp(x))),
         lambda v, x: _stable(v, E.sigmoid(negated(x)))),                                 # 1/(1+exp(-z)) -> σ(z)
    Rule("log_softmax", P.log(Pat(Softmax, name="s")), log_softmax_rule),
    Rule("logsumexp", P.log(Pat(Reduce, (P.exp(x),), name="s")), log_sum_exp),
]
