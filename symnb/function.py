"""sn.function: inputs/outputs/updates/givens -> rewrite -> backend program -> Function.

The stages, each a function of its own: `prepare` (check the arguments, add the random
streams' own updates, substitute givens everywhere) -> `compile_graph` (rewrite -> in-place
marking -> schedule -> backend compile, behind a memo of identical graphs) -> Function
(the call boundary: argument checks, shared-variable updates, copies).

Semantics shared by every backend: outputs are computed from the values before the
call, then shared-variable updates are applied (all from pre-call values); no returned
array and no shared variable's storage aliases an input, another output or another variable.
"""
from __future__ import annotations

import time
import warnings
from typing import NamedTuple

from .core.graph import Constant, SharedVariable, Variable, as_variable, graph_inputs, replace, toposort
from .core.rewrite import rewrite as rewrite_graph
from .core.rewrite.inplace import mark_inplace
from . import memo
from .kernels import cache as _cache
from .kernels.base import BACKENDS, Backend, FunctionGraph, Source, get_backend
from .memo import clear_memo  # noqa: F401  (sn.function's memo; symnb.memo has the details)

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


def _input_list(inputs) -> list:
    inputs = list(inputs)
    for i, v in enumerate(inputs):
        if not isinstance(v, Variable) or v.owner is not None or isinstance(v, (Constant, SharedVariable)):
            raise TypeError(f"function: input {i} ({v!r}) must be a symbolic input variable such as "
                            "st.dvector('x'), not an expression, a constant or a shared variable")
    if len({id(v) for v in inputs}) != len(inputs):
        raise ValueError("function: the same input variable is listed twice")
    return inputs


def _add_default_updates(outputs, pairs):
    """pairs plus (v, v.default_update) for each shared variable with one (random streams'
    states) that the graphs read and no pair updates, found again in the new updates' graphs."""
    explicit = {id(k) for k, _ in pairs}
    frontier, pairs = outputs + [v for _, v in pairs], list(pairs)
    while True:
        extra = [(v, v.default_update) for v in graph_inputs(frontier)
                 if isinstance(v, SharedVariable) and v.default_update is not None and id(v) not in explicit]
        if not extra:
            return pairs
        for k, v in extra:
            explicit.add(id(k))
            pairs.append((k, v))
        frontier = [v for _, v in extra]


def prepare(outputs, updates=(), givens=None):
    """Stage 1: (outputs, [(shared variable, new value)]) with every update checked against
    its variable's type, the random streams' own updates added, and givens substituted in
    all of them: a draw sized by a replaced input (x.shape) advances its state by the size
    of the replacement."""
    outputs = [as_variable(o) for o in outputs]
    pairs = []
    for var, new in _as_pairs(updates):
        if not isinstance(var, SharedVariable):
            raise TypeError(f"updates: {var!r} is not a shared variable; only shared variables can be updated")
        pairs.append((var, _replacement(var, new, "updates")))
    if len({id(k) for k, _ in pairs}) != len(pairs):
        raise ValueError("updates: a shared variable is updated twice")
    pairs = _add_default_updates(outputs, pairs)
    if givens:
        if not all(isinstance(old, Variable) for old, _ in _as_pairs(givens)):
            raise TypeError("givens: each pair must be (variable to replace, replacement)")
        mapping = {old: _replacement(old, new, "givens") for old, new in _as_pairs(givens)}

        def substitute(outs, prs):
            done = replace(outs + [v for _, v in prs], mapping)
            return done[:len(outs)], [(k, v) for (k, _), v in zip(prs, done[len(outs):])]
        outputs, pairs = substitute(outputs, pairs)
        # A replacement may read shared variables of its own with default updates.
        known = len(pairs)
        pairs = _add_default_updates(outputs, pairs)
        pairs = pairs[:known] + substitute([], pairs[known:])[1]
    return outputs, pairs


class Compiled(NamedTuple):
    fgraph: FunctionGraph
    program: object            # the backend's Program; None with compile=False
    rewritten: object          # the rewrite's result (history); None without rewriting or on a memo hit
    rewrite_later: object      # on a memo hit: (outputs, passes) to rewrite if the history is asked for
    memo_hit: bool


def compile_graph(backend_name, leaves, n_user_inputs, outputs, targets, rewrite=True, compile=True) -> Compiled:
    """Stages 2-5 for a prepared graph: rewrite -> in-place marking -> schedule (in
    FunctionGraph) -> backend compile. `outputs` are the user's outputs then the new values
    of the shared variables `targets`; leaves are the user inputs then the shared variables.

    An identical graph compiled before in this process (the memo) is neither rewritten nor
    rendered again: then `rewritten` is None and `rewrite_later` holds what to rewrite if
    the history is asked for.
    compile=False stops at the scheduled graph (sn.codegen renders it without compiling).
    """
    n_out = len(outputs) - len(targets)
    key, passes = memo.memo_key(backend_name, rewrite, leaves, outputs, n_out, targets) if compile else (None, ())
    hit = memo.lookup(key)
    if hit is not None:
        fgraph = hit.instantiate(leaves)
        return Compiled(fgraph, hit.program(backend_name, fgraph), None, (outputs, rewrite) if rewrite else None, True)
    rewritten = None
    if rewrite:
        rewritten = rewrite_graph(outputs, passes=None if rewrite is True else rewrite)
        outputs = list(rewritten.outputs)
        outputs = mark_inplace(leaves[:n_user_inputs], outputs, list(zip(targets, outputs[n_out:])))
    fgraph = FunctionGraph(leaves, outputs)
    program = None
    if key is not None:
        entry = memo.Memo(fgraph, passes)
        program = entry.program(backend_name, fgraph)
        memo.remember(key, entry)
    elif compile:
        program = get_backend(backend_name).compile(fgraph)
    return Compiled(fgraph, program, rewritten, None, False)


class Function:
    """A compiled function: call it with one value per input, get arrays back."""

    def __init__(self, inputs, outputs, updates=(), givens=None, backend=None, rewrite=True,
                 name=None, on_unused_input="raise", *, compile=True):
        if on_unused_input not in ("raise", "warn", "ignore"):
            raise ValueError("function: on_unused_input must be 'raise', 'warn' or 'ignore'")
        self.single = not isinstance(outputs, (list, tuple))
        outputs = [] if outputs is None else ([outputs] if self.single else list(outputs))
        self.inputs = _input_list(inputs)
        outputs, pairs = prepare(outputs, updates, givens)
        self.updates = pairs
        self.shared = self._check_inputs(outputs, pairs, on_unused_input)
        self.backend = get_backend(_backend_name(backend))
        self.backend_name = self.backend.name
        # What a pickle keeps: the graph after givens, every update explicit (the streams'
        # own ones included, as givens left them), the options.
        self._spec = (list(self.inputs), (outputs[0] if outputs else None) if self.single else list(outputs),
                      list(pairs), self.backend if isinstance(backend, Backend) else self.backend_name, rewrite, name,
                      on_unused_input)       # a Backend with options comes back with them
        started, answered = time.perf_counter(), _cache.answers.copy()
        built = compile_graph(self.backend_name, self.inputs + self.shared, len(self.inputs),
                              outputs + [v for _, v in pairs], [k for k, _ in pairs], rewrite, compile)
        self.fgraph, self.program, self._rewritten, self._rewrite_later = built[:4]
        self.outputs = self.fgraph.outputs[:len(outputs)]
        if self.program is not None:
            _warn_python_nodes(self.backend_name, self.program.fallback_nodes)
        # What the display reports: seconds spent here, and how the compile was answered:
        # "memo" (same graph compiled in this process), else the costliest answer of the
        # module cache ("built", "disk", "memory"), None when nothing was compiled.
        self.build_seconds = time.perf_counter() - started
        asked = _cache.answers - answered
        self.cache_answer = "memo" if built.memo_hit else next(
            (a for a in ("built", "disk", "memory") if asked[a]), None)
        # A program may offer a call that checks, computes and stores updates in one go; it
        # raises `_retry` when the arguments need TensorType.filter's conversions first.
        self._fast, self._retry = self.program.fast_path(self) if self.program is not None else (None, None)
        self.name = name
        self._n_out = len(outputs)
        check = self.backend.input_check
        self._input_checks = [check(v.type, f"input {i} ({v.name or v.type})") for i, v in enumerate(self.inputs)]
        position = {id(s): k for k, s in enumerate(self.shared)}
        self._update_checks = [(position[id(k)], check(k.type, f"the update of shared variable {_label(k)}"))
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
        text = Source(self.program.source)
        text.language = {"cuda": "cuda", "numpy": "python"}.get(self.backend_name, "cpp")
        return text

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
        backend = self.backend
        before = [backend.stored(s.container) for s in self.shared]
        results = self.program(values + before)
        outs = list(results[:self._n_out])
        after = list(before)
        # Every new value is checked before any is stored: a failing call changes no shared variable.
        for (pos, check), val in zip(self._update_checks, results[self._n_out:]):
            after[pos] = check(val)
        for pos, _ in self._update_checks:
            # A new value may reuse its own variable's buffer (an in-place update), nothing else's.
            after[pos] = backend.own(after[pos], values + after[:pos] + after[pos + 1:])
        for pos, _ in self._update_checks:
            self.shared[pos].container[0] = after[pos]
        # Returned arrays belong to the caller: none may alias an input, a shared value or another output.
        taken = values + before + [after[pos] for pos, _ in self._update_checks]
        for k, out in enumerate(outs):
            outs[k] = backend.own(backend.result(out), taken + outs[:k])
        if self.single:
            return outs[0] if outs else None
        return outs


_MISSING = object()


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
    return f.backend.source(f.fgraph)


class PythonFallbackWarning(RuntimeWarning):
    """An op of a compiled function has no code in its backend and runs its NumPy
    reference implementation there (correct, but at Python speed)."""


_warned_fallbacks: set = set()


def _warn_python_nodes(backend_name, fallback_nodes):
    """One warning per (backend, op) that runs in Python inside a compiled function."""
    for node in fallback_nodes:
        key = (backend_name, node.op.name)
        if key in _warned_fallbacks:
            continue
        _warned_fallbacks.add(key)
        where = f" (built at {node.trace})" if node.trace else ""
        warnings.warn(f"symnb: {node.op} has no {backend_name} code, so it runs its NumPy reference "
                      f"implementation inside the compiled function{where}; sn.nodes(f).in_python lists "
                      "such nodes", PythonFallbackWarning, stacklevel=4)


class Nodes(list):
    """The op nodes a function runs, in order; `in_python`: those its backend runs through
    their NumPy reference implementation (marked in the listing)."""

    def __init__(self, nodes, in_python=()):
        super().__init__(nodes)
        self.in_python = list(in_python)

    def __repr__(self):
        slow = {id(n) for n in self.in_python}
        return "\n".join(f"{k:3d}  {n}" + ("   <- runs in Python" if id(n) in slow else "")
                         for k, n in enumerate(self)) or "(no nodes)"


def nodes(outputs) -> Nodes:
    """The op nodes computing `outputs` in the order they run (a Function: its scheduled,
    rewritten graph, with the nodes that run in Python marked; each node has .op.name and
    .inputs)."""
    if isinstance(outputs, Function):
        python = outputs.program.fallback_nodes if outputs.program is not None else ()
        return Nodes(outputs.fgraph.nodes, python)
    outputs = [outputs] if isinstance(outputs, Variable) else list(outputs)
    return Nodes(toposort(outputs))
