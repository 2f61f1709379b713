"""The merge pass of the rewrite stage: equal constants become one object, so the nodes that
use them become one node (hash-consing merges the rest when they are rebuilt).

Nodes are hash-consed and constants interned by value, so duplicates are rare: a Python
literal left weak (its dtype yields to the other operand) and an array of the same value
and dtype are two constants, and `alloc(1.0, n)`, `alloc(np.float64(1), n)` two nodes.
Equal means equal bytes: 0.0 and -0.0 stay apart (1/x tells them apart).
"""
from __future__ import annotations

from ..graph import Constant, rebuild, toposort
from ..ops.base import apply_op
from .engine import Step, check_replacement


def _key(c: Constant):
    return c.data.dtype.str, c.data.shape, c.data.tobytes()


def merge_pass(outputs, history, name):
    """Use one constant per value and dtype (the strong one: ops infer types from dtypes
    alone, so the swap keeps every type, which check_replacement confirms)."""
    nodes = toposort(outputs)
    twins: dict[tuple, dict] = {}
    for node in nodes:
        for i in node.inputs:
            if isinstance(i, Constant):
                twins.setdefault(_key(i), {})[id(i)] = i
    chosen = {id(c): min(group.values(), key=lambda g: g.weak)
              for group in twins.values() if len(group) > 1 for c in group.values()}
    if not chosen:
        return outputs
    def visit(node, ins):
        merged = [chosen.get(id(i), i) for i in ins]
        if all(a is b for a, b in zip(merged, node.inputs)):
            return None
        new = apply_op(node.op, merged, trace=node.trace, as_list=True)
        for old, n in zip(node.outputs, new):
            check_replacement("merge_constants", old, n)
        if any(a is not b for a, b in zip(merged, ins)):
            history.append(Step(name, "merge_constants", node.outputs[0], new[0]))
        return new
    return type(outputs)(rebuild(outputs, visit, nodes))
