"""The in-process memo of sn.function (stage "compile", before the backend): structurally
identical graphs compile to the same program, so the last few rewritten graphs and their
programs are kept.

Same ops, wiring, constants, leaf types and names, node traces, update targets, backend
(with its build settings) and rewrite options: same program. An entry holds every user
input and shared variable as a placeholder, so it keeps no user value and no shared
storage; each Function gets its own graph over its own variables and its own program
state. MEMO_SIZE = 0 turns the memo off; clear_memo() empties it.
"""
from __future__ import annotations

from collections import OrderedDict

from .core.graph import Apply, Constant, SharedVariable, Variable, rebuild, toposort
from .core.ops.loop import MapRange
from .kernels.base import FunctionGraph, get_backend

MEMO_SIZE = 64
MEMO_MAX_CONSTANT_BYTES = 1 << 20    # graphs with more constant data are not kept
_MEMO: "OrderedDict[tuple, Memo]" = OrderedDict()


def clear_memo() -> None:
    _MEMO.clear()


def lookup(key):
    """The entry for key (now the most recently used), or None."""
    hit = _MEMO.get(key) if key is not None else None
    if hit is not None:
        _MEMO.move_to_end(key)
    return hit


def remember(key, entry):
    _MEMO[key] = entry
    while len(_MEMO) > MEMO_SIZE:
        _MEMO.popitem(last=False)


def _passes_key(rewrite):
    """(hashable description, the pass objects it names by id): None if not memoizable."""
    from .core.rewrite.pipeline import DEFAULT_PASSES
    if not rewrite:
        return (), ()
    if rewrite is True:
        passes = list(DEFAULT_PASSES)
    elif isinstance(rewrite, (list, tuple)):
        known = dict(DEFAULT_PASSES)
        passes = [(p, known.get(p)) if isinstance(p, str) else p for p in rewrite]
        if not all(isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in passes):
            return None
    else:
        return None
    # A pass object is kept alive by the entry, so its id is not reused while the key is.
    return tuple((name, id(run)) for name, run in passes), tuple(run for _, run in passes)


def memo_key(backend_name, rewrite, leaves, outputs, n_out, targets):
    """(a hashable description of everything the rewritten graph and program depend on, the
    pass objects it names by id), or (None, ()) when the graph is not to be memoized."""
    if MEMO_SIZE <= 0:
        return None, ()
    passes = _passes_key(rewrite)
    if passes is None:
        return None, ()
    ref = {id(v): k for k, v in enumerate(leaves)}
    nodes = toposort(outputs)
    where = {}
    parts, const_bytes = [], 0
    for n, node in enumerate(nodes):
        if isinstance(node.op, MapRange):   # its inner graph may read user variables
            return None, ()
        ins = []
        for v in node.inputs:
            if v.owner is not None:
                ins.append((where[id(v.owner)], v.index))
            elif id(v) in ref:
                ins.append(ref[id(v)])
            else:                          # a Constant: interned, so identity is its value
                const_bytes += v.data.nbytes
                ins.append(v)
        where[id(node)] = n
        parts.append((node.op, tuple(ins), node.trace))
    outs = tuple((where[id(v.owner)], v.index) if v.owner is not None else ref.get(id(v), v) for v in outputs)
    const_bytes += sum(o.data.nbytes for o in outs if isinstance(o, Constant))
    if const_bytes > MEMO_MAX_CONSTANT_BYTES:
        return None, ()
    key = (backend_name, get_backend(backend_name).settings(), passes[0],
           tuple((v.type, v.name, type(v)) for v in leaves),
           tuple(parts), outs, n_out, tuple(ref[id(k)] for k in targets))
    try:
        hash(key)
    except TypeError:   # an op that cannot be hashed
        return None, ()
    return key, passes[1]


def _placeholder(v: Variable) -> Variable:
    """A variable of v's type and name holding nothing (a shared one stays a SharedVariable)."""
    if isinstance(v, SharedVariable):
        ph = object.__new__(SharedVariable)
        Variable.__init__(ph, v.type, None, 0, v.name)
        ph.container, ph.default_update = [None], None
        return ph
    return Variable(v.type, None, 0, v.name)


def _rebuild(nodes, outputs, mapping):
    """nodes (in order) and outputs over new leaves (mapping: id(old leaf) -> new leaf);
    the types are the old ones, so nothing is inferred again."""
    order = []

    def visit(node, ins):
        order.append(Apply(node.op, ins, [o.type for o in node.outputs], node.trace))
        return order[-1].outputs
    return order, rebuild(outputs, visit, nodes, dict(mapping))


def _graph(inputs, nodes, outputs):
    fgraph = FunctionGraph.__new__(FunctionGraph)
    fgraph.inputs, fgraph.outputs, fgraph.nodes = inputs, outputs, nodes
    return fgraph


class Memo:
    """A rewritten graph over placeholders and, where the backend can share it, its program."""

    def __init__(self, fgraph, passes):
        self.passes = passes          # keeps the pass objects the key names by id alive
        self.leaves = [_placeholder(v) for v in fgraph.inputs]
        nodes, outs = _rebuild(fgraph.nodes, fgraph.outputs, {id(a): b for a, b in zip(fgraph.inputs, self.leaves)})
        self.fgraph = _graph(self.leaves, nodes, outs)
        self.prototype, self.shares = None, None

    def instantiate(self, leaves):
        """The graph over these leaves (the same node order: the schedule is structural)."""
        nodes, outs = _rebuild(self.fgraph.nodes, self.fgraph.outputs,
                               {id(a): b for a, b in zip(self.leaves, leaves)})
        return _graph(list(leaves), nodes, outs)

    def program(self, backend_name, fgraph):
        """A program for fgraph: a fresh copy of the prototype (rendered from the placeholder
        graph, so it refers to no user variable) when the backend's programs offer one."""
        if self.shares is None:
            proto = get_backend(backend_name).compile(self.fgraph)
            self.shares = proto.shareable
            self.prototype = proto if self.shares else None
        if not self.shares:
            return get_backend(backend_name).compile(fgraph)
        return self.prototype.fresh(fgraph)
