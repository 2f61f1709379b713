"""In-place marking (the last step before a backend): a node may write its output over an
input that is dead afterwards, and a shared variable's update may overwrite its storage.

`mark_inplace` needs the function's view (which variables are user inputs, which outputs
update which shared variable), so `sn.function` calls it after the rewrite pipeline.
`schedule` orders nodes so a destroyer runs after every other reader of what it destroys;
`check_destroy` verifies a marked graph (the tests run it on many graphs).
"""
from __future__ import annotations

import dataclasses

from ..graph import Constant, SharedVariable, rebuild, toposort
from ..ops import Fused
from ..ops.base import apply_op
from ..ops.blas import Gemm, Gemv
from .shapes import same_shape, scope


class DestroyError(AssertionError):
    """A node would overwrite a user input, a constant, or a value still needed."""


def _clients(nodes):
    out: dict[int, list] = {}
    for n in nodes:
        for i in n.inputs:
            out.setdefault(id(i), []).append(n)
    return out


def _may_destroy(var, node, out_index, clients, protected, update_of):
    """Can `node` write output `out_index` over `var`?"""
    if isinstance(var, Constant) or id(var) in protected:
        return False
    if isinstance(var, SharedVariable):
        # Only the variable's own update, and only if nobody else needs the old value after.
        return update_of.get(id(var)) == (id(node), out_index)
    if var.owner is None or var.owner.op.view_of is not None:   # a view shares memory with its source
        return False
    return len(clients.get(id(var), [])) == 1


def mark_inplace(inputs, outputs, updates):
    """outputs with in-place gemm/gemv/fused nodes where allowed.

    inputs: the user's input variables (never destroyed); outputs: every output of the
    function (user outputs, then update values); updates: [(shared variable, value)].
    """
    nodes = toposort(outputs)
    clients = _clients(nodes)
    protected = {id(v) for v in inputs} | {id(o) for o in outputs}
    for s, val in updates:
        if any(o is s for o in outputs):       # the old value is returned: keep it intact
            protected.add(id(s))
    update_of = {id(s): (id(v.owner), v.index) for s, v in updates if v.owner is not None}
    # an update value also returned to the user would alias the shared storage
    returned = [o for o in outputs[:len(outputs) - len(updates)]]
    for s, v in updates:
        if any(r is v for r in returned):
            update_of.pop(id(s), None)
    def visit(n, ins):
        op = _inplace_op(n, clients, protected, update_of)
        return None if op is None else apply_op(op, ins, trace=n.trace, as_list=True)
    with scope():
        return rebuild(outputs, visit, nodes)


def _inplace_op(n, clients, protected, update_of):
    if isinstance(n.op, (Gemm, Gemv)) and not n.op.inplace:
        if _may_destroy(n.inputs[0], n, 0, clients, protected, update_of):
            return type(n.op)(inplace=True)
    if isinstance(n.op, Fused) and not n.op.destroy:
        pairs, used = [], set()
        for k, out in enumerate(n.outputs):
            for j, inp in enumerate(n.inputs):
                if j in used or inp.dtype != out.dtype or inp.type.shape != out.type.shape and \
                        not same_shape(inp, out):
                    continue
                if _may_destroy(inp, n, k, clients, protected, update_of):
                    pairs.append((k, j))
                    used.add(j)
                    break
        if pairs:
            return dataclasses.replace(n.op, destroy=tuple(pairs))
    return None


def destroyed(node):
    """Input variables `node` writes over."""
    dm = getattr(node.op, "destroy_map", None) or {}
    return [node.inputs[j] for j in dm.values()]


def schedule(outputs):
    """The one node order every backend runs: topological, each destroyer after every other
    reader of its victim, and the nodes that write over a shared variable and feed no other
    node last, so that an error anywhere else leaves every shared variable as it was."""
    return _writers_last(_destroyers_after_readers(toposort(outputs)))


def _writers_last(nodes):
    used = {id(i) for n in nodes for i in n.inputs}

    def late(n):
        return any(isinstance(v, SharedVariable) for v in destroyed(n)) and not any(id(o) in used for o in n.outputs)
    return [n for n in nodes if not late(n)] + [n for n in nodes if late(n)]


def _destroyers_after_readers(nodes):
    clients = _clients(nodes)
    extra: dict[int, list] = {}
    for n in nodes:
        for v in destroyed(n):
            extra[id(n)] = extra.get(id(n), []) + [c for c in clients.get(id(v), []) if c is not n]
    if not extra:
        return nodes
    order, state = [], {}
    for root in nodes:
        stack = [(root, False)]
        while stack:
            n, expanded = stack.pop()
            if state.get(id(n)) == 2:
                continue
            if expanded:
                state[id(n)] = 2
                order.append(n)
                continue
            if state.get(id(n)) == 1:
                raise DestroyError(f"in-place cycle through {n.op}")
            state[id(n)] = 1
            stack.append((n, True))
            deps = [i.owner for i in n.inputs if i.owner is not None] + extra.get(id(n), [])
            stack.extend((d, False) for d in deps if state.get(id(d)) != 2)
    return order


def check_destroy(inputs, outputs, updates, order=None):
    """Raise DestroyError if a marked graph destroys an input, a constant or a live value."""
    order = order or schedule(outputs)
    position = {id(n): k for k, n in enumerate(order)}
    clients = _clients(order)
    user = {id(v) for v in inputs}
    update_of = {id(s): v for s, v in updates}
    for n in order:
        for v in destroyed(n):
            if id(v) in user or isinstance(v, Constant):
                raise DestroyError(f"{n.op} overwrites a user input or constant")
            if any(o is v for o in outputs):
                raise DestroyError(f"{n.op} overwrites a value the function returns")
            new_value = update_of.get(id(v))
            if isinstance(v, SharedVariable) and (new_value is None or new_value.owner is not n):
                raise DestroyError(f"{n.op} overwrites shared variable {v.name} that it does not update")
            late = [c for c in clients.get(id(v), []) if c is not n and position[id(c)] > position[id(n)]]
            if late:
                raise DestroyError(f"{n.op} overwrites a value that {late[0].op} still reads")
