"""Elementwise fusion: each connected group of elementwise ops computing arrays of one
shape becomes one `Fused` node (one loop in a backend); independent groups over the same
shape that share inputs are merged into one multi-output node.
"""
from __future__ import annotations

from ..graph import Constant, rebuild, toposort
from ..ops import Elemwise, Fused
from ..ops.base import apply_op
from ..ops.fused import scalar_placeholder
from .engine import Step
from .shapes import same_shape


def _fusable(node) -> bool:
    return node is not None and isinstance(node.op, Elemwise)


def _groups(nodes, outputs):
    """Vertical groups: a producer joins its consumer's group when every client is in it."""
    clients: dict[int, list] = {}
    for n in nodes:
        for i in n.inputs:
            clients.setdefault(id(i), []).append(n)
    exported = {id(o) for o in outputs}
    group_of: dict[int, int] = {}
    groups = []
    for root in reversed(nodes):
        if not _fusable(root) or id(root) in group_of:
            continue
        gid = len(groups)
        group = [root]
        group_of[id(root)] = gid
        frontier = [root]
        while frontier:
            n = frontier.pop()
            for inp in n.inputs:
                p = inp.owner
                if not _fusable(p) or id(p) in group_of or id(inp) in exported:
                    continue
                if not all(group_of.get(id(c)) == gid for c in clients[id(inp)]):
                    continue
                if not same_shape(inp, root.outputs[0]):
                    continue       # a smaller, broadcast intermediate is computed once, outside
                group_of[id(p)] = gid
                group.append(p)
                frontier.append(p)
        groups.append(group)
    return groups


def _ancestors(var, cache):
    if id(var) not in cache:
        cache[id(var)] = {id(n) for n in toposort([var])}
    return cache[id(var)]


def _external(group):
    ids = {id(n) for n in group}
    ext = []
    for n in group:
        for i in n.inputs:
            if (i.owner is None or id(i.owner) not in ids) and all(i is not e for e in ext):
                ext.append(i)
    return ext


def _merge_siblings(groups):
    """Merge groups over the same shape that share an input and do not depend on each other."""
    cache: dict = {}
    merged = [list(g) for g in groups if g]
    changed = True
    while changed:
        changed = False
        for a in range(len(merged)):
            for b in range(a + 1, len(merged)):
                ga, gb = merged[a], merged[b]
                if not ga or not gb or not same_shape(ga[0].outputs[0], gb[0].outputs[0]):
                    continue
                ea, eb = _external(ga), _external(gb)
                if not any(x is y for x in ea for y in eb if not isinstance(x, Constant)):
                    continue
                ids_a, ids_b = {id(n) for n in ga}, {id(n) for n in gb}
                if any(ids_a & _ancestors(e, cache) for e in eb) or any(ids_b & _ancestors(e, cache) for e in ea):
                    continue
                merged[a] = ga + gb
                merged[b] = []
                changed = True
    return [g for g in merged if g]


def _build(group, roots, memo):
    """One Fused node for the group; inner graph on 0-d placeholders."""
    ext = _external(group)
    inner_of: dict[int, object] = {}
    node_inputs = []
    for e in ext:
        if isinstance(e, Constant) and e.ndim == 0:
            inner_of[id(e)] = e                       # scalars are inlined in the loop body
            continue
        ph = scalar_placeholder(e.dtype)
        inner_of[id(e)] = ph
        node_inputs.append((ph, memo.get(id(e), e)))
    ids = {id(n) for n in group}
    for n in toposort([r for r in roots]):
        if id(n) not in ids:
            continue
        out = apply_op(n.op, [inner_of[id(i)] for i in n.inputs], as_list=True)
        for o, new in zip(n.outputs, out):
            inner_of[id(o)] = new
    op = Fused(tuple(ph for ph, _ in node_inputs), tuple(inner_of[id(r)] for r in roots))
    return apply_op(op, [v for _, v in node_inputs], as_list=True)


def fuse(outputs, history=None, pass_name="fuse"):
    nodes = toposort(outputs)
    groups = _merge_siblings(_groups(nodes, outputs))
    exported = {id(o) for o in outputs}
    plans = {}
    for g in groups:
        ids = {id(n) for n in g}
        clients_outside = {id(i) for n in nodes if id(n) not in ids for i in n.inputs}
        roots = [n.outputs[0] for n in g if id(n.outputs[0]) in clients_outside or id(n.outputs[0]) in exported]
        if len(g) < 2 and len(roots) < 2:
            continue
        last = max(g, key=nodes.index)
        plans[id(last)] = (g, roots)
    grouped = {id(n) for g, _ in plans.values() for n in g}
    memo: dict[int, object] = {}

    def visit(n, _):
        if id(n) in plans:
            g, roots = plans[id(n)]
            outs = _build(g, roots, memo)
            for r, new in zip(roots, outs):
                memo[id(r)] = new
                if history is not None:
                    history.append(Step(pass_name, "fuse_elemwise", r, new))
            return []
        return [] if id(n) in grouped else None    # a group's inner nodes live on in its Fused op
    return rebuild(outputs, visit, nodes, memo)


def fuse_pass(outputs, history, name):
    return fuse(outputs, history, name)
