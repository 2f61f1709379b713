"""sn.function: inputs/outputs/updates/givens -> rewrite -> backend program -> Function.

Semantics shared by every backend: outputs are computed from the values before the
call, then shared-variable updates are applied (all from pre-call values); no returned
array and no shared variable's storage aliases an input, another output or another variable.
"""
from __future__ import annotations

import warnings
from collections import OrderedDict

import numpy as np

from .core.graph import Apply, Constant, SharedVariable, Variable, as_variable, graph_inputs, replace, toposort
from .core.ops.loop import MapRange
from .core.rewrite import rewrite as rewrite_graph
from .core.rewrite.inplace import mark_inplace
from .kernels.base import BACKENDS, FunctionGraph
from .kernels import numpy as _numpy_backend  # noqa: F401  (registers the reference backend)
from .kernels.cpp import backend as _cpp_backend  # noqa: F401  (registers the C++ backend)

# None: C++ when this machine can compile, else the reference backend (with one warning).
DEFAULT_BACKEND = None
_warned_no_compiler = False


def _backend_name(requested) -> str:
    global _warned_no_compiler
    if requested or DEFAULT_BACKEND:
        return requested or DEFAULT_BACKEND
    ok, why = BACKENDS["cpp"].available()
    if ok:
        return "cpp"
    if not _warned_no_compiler:
        _warned_no_compiler = True
        warnings.warn(f"symnb: no working C++ compiler, so functions run on the NumPy reference backend "
                      f"(backend='cpp' would raise): {why}", RuntimeWarning, stacklevel=4)
    return "numpy"


def _as_pairs(pairs):
    if pairs is None:
        return []
    if isinstance(pairs, dict):
        return list(pairs.items())
    return [tuple(p) for p in pairs]


def _label(var: Variable) -> str:
    return f"{var.name!r}" if var.name else repr(var)


def _replacement(var, new, role):
    """`new` standing for `var` (role: "updates" or "givens"), checked against var's type.

    Literals and arrays take var's dtype when that loses nothing; a symbolic value must
    already have it, since a silent cast would change what the graph computes.
    """
    what = f"the update of shared variable {_label(var)}" if role == "updates" else f"the replacement of {_label(var)}"
    if not isinstance(new, Variable) or isinstance(new, Constant):
        return Constant(var.type.filter(new.data if isinstance(new, Constant) else new, f"{role}: {what}"))
    t = new.type
    if t.dtype != var.dtype or t.ndim != var.ndim or any(
            a is not None and b is not None and a != b for a, b in zip(var.type.shape, t.shape)):
        hint = f"; cast it with .astype('{var.dtype}')" if t.dtype != var.dtype else ""
        raise TypeError(f"{role}: {what} has type {t}, but the variable has type {var.type}{hint}")
    return new


def _fresh(arr, taken):
    """arr, or a copy of it when it is read-only or may share memory with an array in `taken`."""
    if not arr.flags.writeable or any(np.may_share_memory(arr, t) for t in taken):
        return arr.copy()
    return arr


class Function:
    """A compiled function: call it with one value per input, get arrays back."""

    def __init__(self, inputs, outputs, updates=(), givens=None, backend=None, rewrite=True,
                 name=None, on_unused_input="raise", *, compile=True):
        if on_unused_input not in ("raise", "warn", "ignore"):
            raise ValueError("function: on_unused_input must be 'raise', 'warn' or 'ignore'")
        self.single = not isinstance(outputs, (list, tuple))
        outputs = [] if outputs is None else ([outputs] if self.single else list(outputs))
        self.inputs = list(inputs)
        for i, v in enumerate(self.inputs):
            if not isinstance(v, Variable) or v.owner is not None or isinstance(v, (Constant, SharedVariable)):
                raise TypeError(f"function: input {i} ({v!r}) must be a symbolic input variable such as "
                                "st.dvector('x'), not an expression, a constant or a shared variable")
        if len({id(v) for v in self.inputs}) != len(self.inputs):
            raise ValueError("function: the same input variable is listed twice")
        outputs = [as_variable(o) for o in outputs]
        pairs = []
        for var, new in _as_pairs(updates):
            if not isinstance(var, SharedVariable):
                raise TypeError(f"updates: {var!r} is not a shared variable; only shared variables can be updated")
            pairs.append((var, _replacement(var, new, "updates")))
        if len({id(k) for k, _ in pairs}) != len(pairs):
            raise ValueError("updates: a shared variable is updated twice")
        # Random draws' state updates are part of what the function runs: givens apply to
        # them too (a draw of size x.shape with x given), so they are gathered first.
        pairs = self._add_default_updates(outputs, pairs)
        if givens:
            if not all(isinstance(old, Variable) for old, _ in _as_pairs(givens)):
                raise TypeError("givens: each pair must be (variable to replace, replacement)")
            mapping = {old: _replacement(old, new, "givens") for old, new in _as_pairs(givens)}
            replaced = replace(outputs + [v for _, v in pairs], mapping)
            outputs, pairs = replaced[:len(outputs)], [(k, v) for (k, _), v in zip(pairs, replaced[len(outputs):])]
            pairs = self._add_default_updates(outputs, pairs)   # draws the replacements bring
        self.updates = pairs
        self.shared = self._check_inputs(outputs, pairs, on_unused_input)

        all_outputs = outputs + [v for _, v in pairs]
        self.backend_name = _backend_name(backend)
        # What a pickle keeps: the graph after givens, every update explicit, the options.
        self._spec = (list(self.inputs), (outputs[0] if outputs else None) if self.single else list(outputs),
                      list(pairs), self.backend_name, rewrite, name, on_unused_input)
        if self.backend_name not in BACKENDS:
            raise ValueError(f"function: unknown backend {self.backend_name!r}; available: {sorted(BACKENDS)}")
        leaves = self.inputs + self.shared
        # An identical graph compiled before in this process: no rewriting, no rendering.
        key, passes = _memo_key(self.backend_name, rewrite, leaves, all_outputs, len(outputs),
                                [k for k, _ in pairs]) if compile and MEMO_SIZE > 0 else (None, ())
        hit = _MEMO.get(key) if key is not None else None
        self._rewritten, self._rewrite_later = None, None
        if hit is not None:
            _MEMO.move_to_end(key)
            self.fgraph = hit.instantiate(leaves)
            if rewrite:
                self._rewrite_later = (all_outputs, rewrite)   # the history, if anyone asks
            self.program = hit.program(self.backend_name, self.fgraph)
        else:
            if rewrite:
                self._rewritten = rewrite_graph(all_outputs, passes=None if rewrite is True else rewrite)
                all_outputs = list(self._rewritten.outputs)
                new_values = all_outputs[len(outputs):]
                all_outputs = mark_inplace(self.inputs, all_outputs, [(k, v) for (k, _), v in zip(pairs, new_values)])
            self.fgraph = FunctionGraph(leaves, all_outputs)
            # compile=False stops at the graph (sn.codegen renders it without compiling).
            self.program = None
            if key is not None:
                entry = _Memo(self.fgraph, passes)
                self.program = entry.program(self.backend_name, self.fgraph)
                _remember(key, entry)
            elif compile:
                self.program = BACKENDS[self.backend_name].compile(self.fgraph)
        self.outputs = self.fgraph.outputs[:len(outputs)]
        # A program may offer a call that checks, computes and stores updates in one go; it
        # raises `_retry` when the arguments need TensorType.filter's conversions first.
        fast = getattr(self.program, "fast_path", None)
        self._fast, self._retry = fast(self) if fast else (None, None)
        self.name = name
        self._n_out = len(outputs)
        self._input_checks = [_Check(v.type, f"input {i} ({v.name or v.type})") for i, v in enumerate(self.inputs)]
        position = {id(s): k for k, s in enumerate(self.shared)}
        self._update_checks = [(position[id(k)], _Check(k.type, f"the update of shared variable {_label(k)}"))
                               for k, _ in pairs]
        self._by_name = {v.name: i for i, v in enumerate(self.inputs) if v.name}

    def _check_inputs(self, outputs, pairs, on_unused_input):
        """The shared variables the function reads or writes; errors for missing inputs."""
        free = [v for v in graph_inputs(outputs + [v for _, v in pairs]) if not isinstance(v, Constant)]
        shared = [v for v in free if isinstance(v, SharedVariable)]
        shared += [k for k, _ in pairs if all(k is not s for s in shared)]
        listed = {id(v) for v in self.inputs}
        missing = [v for v in free if not isinstance(v, SharedVariable) and id(v) not in listed]
        if missing:
            raise ValueError(f"function: the outputs need input {missing[0]!r} ({missing[0].type}), "
                             "which is not in the inputs list")
        used = {id(v) for v in free}
        unused = [v for v in self.inputs if id(v) not in used]
        if unused and on_unused_input == "raise":
            raise ValueError(f"function: input {unused[0]!r} is not used to compute any output "
                             "(pass on_unused_input='ignore' to allow it)")
        if unused and on_unused_input == "warn":
            warnings.warn(f"function: input {unused[0]!r} is not used", stacklevel=4)
        return shared

    @staticmethod
    def _add_default_updates(outputs, pairs):
        """Shared variables with a default_update (random streams) update themselves."""
        explicit = {id(k) for k, _ in pairs}
        frontier = outputs + [v for _, v in pairs]
        while True:
            extra = [(v, v.default_update) for v in graph_inputs(frontier)
                     if isinstance(v, SharedVariable) and v.default_update is not None and id(v) not in explicit]
            if not extra:
                return pairs
            for k, v in extra:
                explicit.add(id(k))
                pairs.append((k, v))
            frontier = [v for _, v in extra]

    def __reduce__(self):
        # Pickled as its graph and options; loading compiles again, which finds the module
        # in the compile cache when the cache holds it (the generated code is the same).
        return _reloaded, self._spec

    @property
    def rewritten(self):
        """The rewrite's result (outputs, history, per-pass statistics); None with rewrite=False.
        A function found in the memo rewrites its graph again only when this is asked for."""
        if self._rewrite_later is not None:
            outs, rewrite = self._rewrite_later
            self._rewritten = rewrite_graph(outs, passes=None if rewrite is True else rewrite)
            self._rewrite_later = None
        return self._rewritten

    @property
    def source(self) -> str:
        return self.program.source

    def _arguments(self, args, kwargs):
        """One value per input, from positional values and keywords naming inputs."""
        if len(args) > len(self.inputs):
            raise TypeError(f"function expects {len(self.inputs)} inputs ("
                            + ", ".join(repr(v) for v in self.inputs) + f"), got {len(args)}")
        if not kwargs and len(args) == len(self.inputs):
            return args
        slots = list(args) + [_MISSING] * (len(self.inputs) - len(args))
        for key, val in kwargs.items():
            if key not in self._by_name:
                raise TypeError(f"function got an unexpected keyword argument {key!r}")
            if slots[self._by_name[key]] is not _MISSING:
                raise TypeError(f"function got multiple values for input {key!r}")
            slots[self._by_name[key]] = val
        missing = [f"{i} ({v.name or v.type})" for i, (v, a) in enumerate(zip(self.inputs, slots)) if a is _MISSING]
        if missing:
            raise TypeError("function is missing a value for input " + ", ".join(missing))
        return slots

    def __call__(self, *args, **kwargs):
        if self._fast is not None and not kwargs:
            try:
                return self._fast(*args)
            except self._retry:
                pass
        args = self._arguments(args, kwargs)
        values = [check(a) for check, a in zip(self._input_checks, args)]
        if self._fast is not None:
            return self._fast(*values)
        before = [s.container[0] for s in self.shared]
        results = self.program(values + before)
        outs = list(results[:self._n_out])
        after = list(before)
        # Every new value is checked before any is stored: a failing call changes no shared variable.
        for (pos, check), val in zip(self._update_checks, results[self._n_out:]):
            after[pos] = check(val)
        for pos, _ in self._update_checks:
            # A new value may reuse its own variable's buffer (an in-place update), nothing else's.
            after[pos] = _fresh(after[pos], values + after[:pos] + after[pos + 1:])
        for pos, _ in self._update_checks:
            self.shared[pos].container[0] = after[pos]
        # Returned arrays belong to the caller: none may alias an input, a shared value or another output.
        taken = values + before + [after[pos] for pos, _ in self._update_checks]
        for k, out in enumerate(outs):
            outs[k] = _fresh(np.asarray(out), taken + outs[:k])
        if self.single:
            return outs[0] if outs else None
        return outs


class _Check:
    """Accepts a value for one typed slot (an input, an update): exact arrays pass at once."""

    __slots__ = ("type", "label", "dtype", "ndim", "fixed")

    def __init__(self, type_, label):
        self.type, self.label = type_, label
        self.dtype, self.ndim = np.dtype(type_.dtype), type_.ndim
        self.fixed = tuple((k, s) for k, s in enumerate(type_.shape) if s is not None)

    def __call__(self, value):
        # TensorType.filter handles every case; skipping it for the common exact match saves
        # microseconds per value, which is most of a small compiled function's call.
        if (type(value) is np.ndarray and value.dtype is self.dtype and value.ndim == self.ndim
                and all(value.shape[k] == s for k, s in self.fixed)):
            return value
        return self.type.filter(value, self.label)


_MISSING = object()


# ----------------------------------------------------------------------------- memo
# Structurally identical graphs (same ops, wiring, constants, leaf types and names, node
# traces, update targets, backend and rewrite options) compile to the same program, so
# sn.function keeps the last few rewritten graphs and programs, with every user input and
# shared variable replaced by a placeholder: an entry holds no user value and no shared
# storage; each Function gets its own graph over its own variables and its own program
# state. MEMO_SIZE = 0 turns the memo off; clear_memo() empties it.
MEMO_SIZE = 64
MEMO_MAX_CONSTANT_BYTES = 1 << 20    # graphs with more constant data are not kept
_MEMO: "OrderedDict[tuple, _Memo]" = OrderedDict()


def clear_memo() -> None:
    _MEMO.clear()


def _remember(key, entry):
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


def _memo_key(backend_name, rewrite, leaves, outputs, n_out, targets):
    """(a hashable description of everything the rewritten graph and program depend on, the
    pass objects it names by id), or (None, ()) when the graph is not to be memoized."""
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
    key = (backend_name, passes[0], tuple((v.type, v.name, type(v)) for v in leaves),
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
    memo, order = dict(mapping), []
    for node in nodes:
        new = Apply(node.op, [memo.get(id(i), i) for i in node.inputs], [o.type for o in node.outputs], node.trace)
        for o, n in zip(node.outputs, new.outputs):
            memo[id(o)] = n
        order.append(new)
    return order, [memo.get(id(v), v) for v in outputs]


def _graph(inputs, nodes, outputs):
    fgraph = FunctionGraph.__new__(FunctionGraph)
    fgraph.inputs, fgraph.outputs, fgraph.nodes = inputs, outputs, nodes
    return fgraph


class _Memo:
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
            proto = BACKENDS[backend_name].compile(self.fgraph)
            self.shares = callable(getattr(proto, "fresh", None))
            self.prototype = proto if self.shares else None
        if not self.shares:
            return BACKENDS[backend_name].compile(fgraph)
        return self.prototype.fresh(fgraph)


def _reloaded(inputs, outputs, updates, backend, rewrite, name, on_unused_input):
    return Function(inputs, outputs, updates, None, backend, rewrite, name, on_unused_input)


def function(inputs, outputs=None, updates=None, givens=None, backend=None, rewrite=True, name=None,
             on_unused_input="raise") -> Function:
    """Compile a function from symbolic inputs to outputs (PyTensor's pytensor.function)."""
    return Function(inputs, outputs, updates or (), givens, backend, rewrite, name, on_unused_input)


def codegen(inputs, outputs=None, updates=None, givens=None, backend=None, rewrite=True,
            on_unused_input="raise") -> str:
    """The code sn.function would compile for these arguments (Function.source), uncompiled."""
    f = Function(inputs, outputs, updates or (), givens, backend, rewrite, None, on_unused_input, compile=False)
    return BACKENDS[f.backend_name].source(f.fgraph)


def nodes(outputs):
    """Topologically sorted op nodes computing `outputs` (each with .op.name and .inputs)."""
    if isinstance(outputs, Function):
        outputs = outputs.fgraph.outputs
    outputs = [outputs] if isinstance(outputs, Variable) else list(outputs)
    return toposort(outputs)
