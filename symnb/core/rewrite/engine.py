"""The rewrite engine: patterns, rules as plain data, a fixed-point graph rewriter.

Stage 3 of the data flow (graph -> rewritten graph). Rules are `Rule(name, pattern, fn)`
values kept in ordinary lists (`rules_a + rules_b`), so a notebook user can define,
redefine and re-run them; every applied rule is recorded as a `Step` in a history.
"""
from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..graph import Constant, Variable
from ..ops.base import apply_op


class RewriteError(RuntimeError):
    """A rule produced an ill-typed replacement, or rules keep rewriting each other."""


@dataclass(frozen=True)
class Pat:
    """Match a variable: `op` is an elemwise scalar name, an Op class, a tuple of those, or None
    (anything); `src` are patterns for the node's inputs; `name` binds the variable; `rest`
    lets the node have more inputs than `src` and binds the unmatched ones as a tuple."""

    op: object = None
    src: tuple | None = None
    name: str | None = None
    where: Callable | None = None
    value: object = None          # for constants: every element equals this value
    rest: str | None = None

    def __call__(self, *src, name=None, rest=None):
        return Pat(self.op, src, name or self.name, self.where, self.value, rest)

    def named(self, name):
        return Pat(self.op, self.src, name, self.where, self.value, self.rest)


def var(name=None, where=None) -> Pat:
    """Any variable (bound to `name`)."""
    return Pat(None, None, name, where)


def const(value=None, name=None) -> Pat:
    """A constant (whose elements all equal `value`, if given)."""
    return Pat(Constant, None, name, None, value)


class _Ops:
    """`P.exp(x)` is `Pat("exp", (x,))`: one attribute per elemwise scalar op."""

    def __getattr__(self, scalar):
        return Pat(scalar)


P = _Ops()
COMMUTATIVE = {"add", "mul", "maximum", "minimum", "eq", "neq", "and_", "or_", "xor"}


def scalar_value(v: Variable):
    """The single value of a constant whose elements are all equal, else None."""
    if not isinstance(v, Constant) or v.data.size == 0:
        return None
    flat = v.data.reshape(-1)
    first = flat[0]
    return first.item() if np.all(flat == first) else None


def _op_matches(spec, v: Variable) -> bool:
    if spec is None:
        return True
    if isinstance(spec, tuple):
        return any(_op_matches(s, v) for s in spec)
    if spec is Constant:
        return isinstance(v, Constant)
    node = v.owner
    if node is None:
        return False
    if isinstance(spec, str):
        return getattr(node.op, "scalar", None) == spec
    return isinstance(node.op, spec)


def match(pat: Pat, v: Variable, bindings: dict) -> dict | None:
    if not _op_matches(pat.op, v):
        return None
    if pat.value is not None:
        val = scalar_value(v)
        if val is None or val != pat.value:
            return None
    if pat.where is not None and not pat.where(v):
        return None
    if pat.name is not None:
        if pat.name in bindings and bindings[pat.name] is not v:
            return None
        bindings = {**bindings, pat.name: v}
    if pat.src is None:
        return bindings
    if v.owner is None:
        return None
    inputs = v.owner.inputs
    n, k = len(inputs), len(pat.src)
    if n < k or (n > k and pat.rest is None):
        return None
    for order in _orders(v.owner.op, n, k):
        b = bindings
        for p, j in zip(pat.src, order):
            b = match(p, inputs[j], b)
            if b is None:
                break
        else:
            if pat.rest is not None:
                b = {**b, pat.rest: tuple(inputs[j] for j in range(n) if j not in order)}
            return b
    return None


def _orders(op, n, k):
    """Which inputs the k sub-patterns try: any k of the n for a commutative op (while that
    stays a few hundred tries), else the first k in order."""
    if getattr(op, "scalar", None) in COMMUTATIVE and math.perm(n, k) <= 720:
        return itertools.permutations(range(n), k)
    return [tuple(range(k))]


@dataclass(frozen=True)
class Rule:
    """When `pattern` matches a variable, `fn(v, **bindings)` returns its replacement or None."""

    name: str
    pattern: Pat
    fn: Callable

    def apply(self, v: Variable):
        b = match(self.pattern, v, {})
        return None if b is None else self.fn(v, **b)


@dataclass
class Step:
    """One applied rule: `before` was replaced by `after`."""

    pass_name: str
    rule: str
    before: Variable
    after: Variable


def check_replacement(rule: str, old: Variable, new: Variable):
    """Keep the type: same dtype and ndim; static lengths may only become more specific."""
    if not isinstance(new, Variable):
        raise RewriteError(f"rule {rule!r} returned {type(new).__name__}, not a variable")
    ok = new.dtype == old.dtype and new.ndim == old.ndim and all(
        a is None or a == b for a, b in zip(old.type.shape, new.type.shape))
    if not ok:
        raise RewriteError(f"rule {rule!r} replaced {old.type} by {new.type}: a rewrite must keep "
                           "the dtype and ndim and may not lose static lengths")


def _index(rules):
    """Rules by the op their pattern's root matches, so each node tries only plausible rules."""
    by_key: dict[object, list] = {}
    generic = []
    for r in rules:
        roots = r.pattern.op if isinstance(r.pattern.op, tuple) else (r.pattern.op,)
        if any(k is None or k is Constant for k in roots):
            generic.append(r)
            continue
        for k in roots:
            by_key.setdefault(k, []).append(r)
    return by_key, generic


def _candidates(v, by_key, generic):
    """The rules a variable tries, first match wins. Not list order: rules keyed on the
    node's scalar name come first, then those keyed on its op classes (most derived first),
    then generic ones (root None or Constant); within each group, list order. So a rule that
    must beat another for the same node needs the same kind of root (both P.add, ...)."""
    node = v.owner
    if node is None:
        return generic
    out = list(by_key.get(getattr(node.op, "scalar", None), ()))
    for cls in type(node.op).__mro__:
        out += by_key.get(cls, ())
    return out + generic


def graph_rewrite(outputs, rules, history=None, pass_name="rewrite", max_steps=50_000):
    """Rewrite bottom-up to a fixed point (explicit stack; nodes are hash-consed, so each
    distinct subgraph is rewritten once). Raises RewriteError naming the rules when they
    rewrite a variable back into itself, or apply more than `max_steps` times."""
    by_key, generic = _index(rules)
    done: dict[int, Variable] = {}
    keep = []              # keep replaced variables alive so their ids stay unique
    applied: list[str] = []
    replacing: dict[int, int] = {}    # variable replaced, its replacement not rewritten yet -> len(applied)

    def cycle(v):
        names = list(dict.fromkeys(applied[replacing[id(v)]:]))
        return RewriteError(f"pass {pass_name!r}: the rules {names} rewrite {v} back into itself (a cycle)")

    for out in outputs:
        stack = [(out, None)]
        while stack:
            v, pending = stack.pop()
            if pending is not None:                 # v was replaced by `pending`, now rewritten
                done[id(v)] = done[id(pending)]
                del replacing[id(v)]
                continue
            if id(v) in done:
                continue
            if id(v) in replacing:
                raise cycle(v)
            node = v.owner
            if node is None:
                done[id(v)] = v
                continue
            todo = [i for i in node.inputs if id(i) not in done]
            if todo:
                stack.append((v, None))
                stack.extend((i, None) for i in todo)
                continue
            new_inputs = [done[id(i)] for i in node.inputs]
            if all(a is b for a, b in zip(new_inputs, node.inputs)):
                nv = v
            else:
                nv = apply_op(node.op, new_inputs, trace=node.trace, as_list=True)[v.index]
                if id(nv) in replacing:
                    raise cycle(nv)
            replacement = None
            for rule in _candidates(nv, by_key, generic):
                r = rule.apply(nv)
                if r is not None and r is not nv:
                    check_replacement(rule.name, nv, r)
                    replacement = r
                    break
            if replacement is None:
                done[id(v)] = done[id(nv)] = nv
                keep.append(nv)
                continue
            replacing[id(v)] = len(applied)
            applied.append(rule.name)
            if history is not None:
                history.append(Step(pass_name, rule.name, nv, replacement))
            if len(applied) > max_steps:
                top = Counter(applied).most_common(3)
                raise RewriteError(f"pass {pass_name!r}: more than {max_steps} rewrites; the rules "
                                   f"{top} keep rewriting each other (a cycle?)")
            keep.append(replacement)
            stack.append((v, replacement))
            stack.append((replacement, None))
    return [done[id(o)] for o in outputs]


@dataclass
class RulePass:
    """A pass that rewrites with a list of rules to a fixed point."""

    rules: list = field(default_factory=list)

    def __call__(self, outputs, history, name):
        return graph_rewrite(outputs, self.rules, history, name)
