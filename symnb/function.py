"""sn.function: inputs/outputs/updates/givens -> rewrite -> backend program -> Function.

Semantics shared by every backend: outputs are computed from the values before the
call, then shared-variable updates are applied (all from pre-call values).
"""
from __future__ import annotations

import warnings

import numpy as np

from .core.graph import Constant, SharedVariable, Variable, as_variable, graph_inputs, replace, toposort
from .core.rewrite import rewrite as rewrite_graph
from .core.rewrite.inplace import mark_inplace
from .kernels.base import BACKENDS, FunctionGraph
from .kernels import numpy as _numpy_backend  # noqa: F401  (registers the reference backend)
from .kernels.cpp import program as _cpp_backend  # noqa: F401  (registers the C++ backend)

DEFAULT_BACKEND = "numpy"


def _as_pairs(updates):
    if updates is None:
        return []
    if isinstance(updates, dict):
        return list(updates.items())
    return [tuple(u) for u in updates]


def _check_update(var, new):
    if not isinstance(var, SharedVariable):
        raise TypeError(f"updates: {var!r} is not a shared variable; only shared variables can be updated")
    new = as_variable(new)
    if isinstance(new, Constant) and new.weak:
        new = Constant(np.asarray(new.data, dtype=var.dtype))
    if new.dtype != var.dtype or new.ndim != var.ndim or not all(
            a is None or b is None or a == b for a, b in zip(var.type.shape, new.type.shape)):
        hint = f"; cast it with .astype('{var.dtype}')" if new.dtype != var.dtype else ""
        raise TypeError(f"updates: the update of shared variable {var.name or var!r} has type {new.type}, "
                        f"but the variable has type {var.type}{hint}")
    return new


def _default_backend():
    return DEFAULT_BACKEND


class Function:
    """A compiled function: call it with one value per input, get arrays back."""

    def __init__(self, inputs, outputs, updates=(), givens=None, backend=None, rewrite=True,
                 name=None, on_unused_input="raise"):
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
        pairs = [(k, _check_update(k, v)) for k, v in _as_pairs(updates)]
        if len({id(k) for k, _ in pairs}) != len(pairs):
            raise ValueError("updates: a shared variable is updated twice")
        if givens:
            givens = dict(_as_pairs(givens))
            for old, new in givens.items():
                new = as_variable(new)
                if new.ndim != old.ndim:
                    raise TypeError(f"givens: {old!r} ({old.type}) cannot be replaced by {new.type}")
            replaced = replace(outputs + [v for _, v in pairs], {k: as_variable(v) for k, v in givens.items()})
            outputs, pairs = replaced[:len(outputs)], [(k, v) for (k, _), v in zip(pairs, replaced[len(outputs):])]
        pairs = self._add_default_updates(outputs, pairs)
        self.updates = pairs
        self.outputs_user = outputs

        all_outputs = outputs + [v for _, v in pairs]
        free = [v for v in graph_inputs(all_outputs) if not isinstance(v, Constant)]
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
            warnings.warn(f"function: input {unused[0]!r} is not used", stacklevel=3)
        self.shared = shared

        self.rewritten = None
        if rewrite:
            self.rewritten = rewrite_graph(all_outputs, passes=None if rewrite is True else rewrite)
            all_outputs = list(self.rewritten.outputs)
            new_values = all_outputs[len(outputs):]
            all_outputs = mark_inplace(self.inputs, all_outputs, [(k, v) for (k, _), v in zip(pairs, new_values)])
        self.outputs = all_outputs[:len(outputs)]
        self.fgraph = FunctionGraph(self.inputs + self.shared, all_outputs)
        self.backend_name = backend or _default_backend()
        if self.backend_name not in BACKENDS:
            raise ValueError(f"function: unknown backend {self.backend_name!r}; available: {sorted(BACKENDS)}")
        self.program = BACKENDS[self.backend_name].compile(self.fgraph)
        self.name = name
        self._n_out = len(outputs)
        self._update_vars = [k for k, _ in pairs]

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

    @property
    def source(self) -> str:
        return self.program.source

    def __call__(self, *args, **kwargs):
        if kwargs:
            by_name = {v.name: i for i, v in enumerate(self.inputs) if v.name}
            args = list(args) + [None] * (len(self.inputs) - len(args))
            for k, val in kwargs.items():
                if k not in by_name:
                    raise TypeError(f"function got an unexpected keyword argument {k!r}")
                args[by_name[k]] = val
        if len(args) != len(self.inputs):
            raise TypeError(f"function expects {len(self.inputs)} inputs ("
                            + ", ".join(repr(v) for v in self.inputs) + f"), got {len(args)}")
        values = [v.type.filter(a, f"input {i} ({v.name or v.type})")
                  for i, (v, a) in enumerate(zip(self.inputs, args))]
        values += [s.container[0] for s in self.shared]
        results = self.program(values)
        for var, val in zip(self._update_vars, results[self._n_out:]):
            var.container[0] = np.asarray(val, dtype=var.dtype)
        outs = results[:self._n_out]
        if self.single:
            return outs[0] if outs else None
        return outs


def function(inputs, outputs=None, updates=None, givens=None, backend=None, rewrite=True, name=None,
             on_unused_input="raise") -> Function:
    """Compile a function from symbolic inputs to outputs (PyTensor's pytensor.function)."""
    return Function(inputs, outputs, updates or (), givens, backend, rewrite, name, on_unused_input)


def nodes(outputs):
    """Topologically sorted op nodes computing `outputs` (each with .op.name and .inputs)."""
    if isinstance(outputs, Function):
        outputs = outputs.fgraph.outputs
    outputs = [outputs] if isinstance(outputs, Variable) else list(outputs)
    return toposort(outputs)
