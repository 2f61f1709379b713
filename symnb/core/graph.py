"""The graph: variables, hash-consed Apply nodes, constants, shared variables, toposort.

Second stage of the data flow: what a %%symbolic cell builds. Nodes are immutable and
hash-consed (the same op on the same inputs is the same object), so duplicates merge free.
"""
from __future__ import annotations

import os
import sys
import weakref
from dataclasses import dataclass

import numpy as np

from .operators import TensorOperators
from .types import TensorType

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass(frozen=True)
class Trace:
    """Where the user's code built a node: the first frame outside the symnb package."""

    filename: str
    lineno: int
    function: str

    def line(self) -> str:
        import linecache
        return linecache.getline(self.filename, self.lineno).strip()

    def __str__(self):
        src = self.line()
        where = f"{self.filename}, line {self.lineno}, in {self.function}"
        return f"{where}: {src}" if src else where


def user_trace() -> Trace | None:
    frame = sys._getframe(1)
    while frame is not None:
        fname = frame.f_code.co_filename
        if not fname.startswith(_PKG_DIR + os.sep) and "importlib" not in fname:
            return Trace(fname, frame.f_lineno, frame.f_code.co_name)
        frame = frame.f_back
    return None


class Variable(TensorOperators):
    """A typed value in the graph: an input (owner None) or output `index` of `owner`."""

    __slots__ = ("type", "owner", "index", "name", "__weakref__")

    def __init__(self, type: TensorType, owner: "Apply | None" = None, index: int = 0, name: str | None = None):
        self.type, self.owner, self.index, self.name = type, owner, index, name

    # Identity semantics: == builds an eq node only through st.eq; hashing is by object.
    __hash__ = object.__hash__

    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def ndim(self) -> int:
        return self.type.ndim

    @property
    def broadcastable(self):
        return self.type.broadcastable

    @property
    def static_shape(self):
        return self.type.shape

    def __repr__(self):
        from .printing import short_str
        return short_str(self)

    def __str__(self):
        return self.__repr__()

    def __reduce_ex__(self, protocol):
        # An input pickles as itself; a computed variable as the flat list of the nodes that
        # compute it (no recursion per level, so deep graphs pickle), rebuilt through
        # Apply's hash-consing on load (see _rebuilt_output).
        if self.owner is None:
            return super().__reduce_ex__(protocol)
        order = toposort([self])
        where = {id(n): k for k, n in enumerate(order)}
        spec = tuple((n.op, tuple(i if i.owner is None else (where[id(i.owner)], i.index) for i in n.inputs),
                      tuple(o.type for o in n.outputs), n.trace, tuple(o.name for o in n.outputs)) for n in order)
        return _rebuilt_output, (spec, self.index)

    def _repr_latex_(self):
        # Past a few hundred nodes a formula is unreadable: Jupyter then shows the text repr.
        if len(toposort([self])) > 300:
            return None
        from .printing import latex
        return f"$${latex(self)}$$"


class Constant(Variable):
    """A constant; `weak` marks a Python literal whose dtype yields to the other operand."""

    __slots__ = ("data", "weak")
    _interned: "weakref.WeakValueDictionary" = weakref.WeakValueDictionary()

    def __new__(cls, data, weak=False, name=None):
        arr = np.array(data)
        arr.setflags(write=False)
        key = (arr.dtype.str, arr.shape, arr.tobytes(), weak)
        obj = cls._interned.get(key)
        if obj is None:
            obj = object.__new__(cls)
            Variable.__init__(obj, TensorType(arr.dtype.name, arr.shape), None, 0, name)
            obj.data, obj.weak = arr, weak
            cls._interned[key] = obj
        return obj

    def __init__(self, *args, **kwargs):
        pass

    @property
    def value(self):
        return self.data

    def __reduce__(self):
        return (Constant, (self.data, self.weak, self.name))


class SharedVariable(Variable):
    """A variable whose value lives across function calls (weights, RNG states)."""

    __slots__ = ("container", "default_update")

    def __init__(self, value, name=None, shape=None, dtype=None, borrow=False):
        # borrow=True keeps the caller's array as the storage (updates then write into it),
        # where its dtype already fits and it may be written; anything else is copied.
        if borrow and isinstance(value, np.ndarray) and value.flags.writeable and dtype in (None, value.dtype):
            arr = value
        else:
            arr = np.array(value, dtype=dtype)
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"shared: {repr(name) if name else 'a shared variable'} must hold numbers, got {type(value).__name__} "
                            f"{value!r:.60} (dtype {arr.dtype})")
        static = tuple(shape) if shape is not None else (None,) * arr.ndim
        super().__init__(TensorType(arr.dtype.name, static), None, 0, name)
        self.container = [self.type.filter(arr, self._label())]
        self.default_update = None

    def _label(self):
        return f"shared variable {self.name!r}" if self.name else "shared variable"

    def get_value(self, borrow=False, device=False):
        """The value as NumPy; device=True: as the device array (cupy) a GPU backend keeps it
        in (moved there now if it is not yet)."""
        v = self.container[0]
        on_device = hasattr(v, "__cuda_array_interface__")
        if device and not on_device:
            import cupy   # only asked for with a GPU backend installed
            self.container[0] = v = cupy.asarray(v)
            on_device = True
        if on_device and not device:
            return v.get()
        return v if borrow else v.copy()

    def set_value(self, value, borrow=False):
        if hasattr(value, "__cuda_array_interface__"):   # a device array stays on its device
            if value.dtype.name != self.type.dtype or not self.type.accepts_shape(value.shape):
                raise TypeError(f"{self._label()}: expected {self.type}, got a device array of dtype "
                                f"{value.dtype.name} and shape {value.shape}")
            self.container[0] = value if borrow else value.copy()
            return
        arr = self.type.filter(value, self._label())
        # Borrowing a read-only array is declined: an in-place update writes into the storage.
        if arr is value and not (borrow and arr.flags.writeable):
            arr = arr.copy()
        self.container[0] = arr


def shared(value, name=None, shape=None, dtype=None, borrow=False) -> SharedVariable:
    """sn.shared(value, name=None, borrow=False): a SharedVariable holding a copy of value
    (with borrow=True, value itself when it is a writeable array of the right dtype)."""
    return SharedVariable(value, name=name, shape=shape, dtype=dtype, borrow=borrow)


class Apply:
    """One application of an op to input variables; hash-consed on (op, inputs)."""

    __slots__ = ("op", "inputs", "outputs", "trace", "__weakref__")
    _interned: "weakref.WeakValueDictionary" = weakref.WeakValueDictionary()

    def __new__(cls, op, inputs, out_types, trace=None):
        # Keyed by the inputs' ids, not the inputs: a key holding them would keep a dropped
        # node's inputs alive until its entry goes, so a dropped graph took one garbage
        # collection per level to free (each node is a cycle with its outputs). An id is
        # unique while its object lives, and a live node holds its inputs.
        key = (op, tuple(map(id, inputs)))
        node = cls._interned.get(key)
        if node is not None and all(a is b for a, b in zip(node.inputs, inputs)):
            return node
        node = object.__new__(cls)
        node.op, node.inputs, node.trace = op, tuple(inputs), trace
        node.outputs = tuple(Variable(t, node, i) for i, t in enumerate(out_types))
        cls._interned[key] = node
        return node

    @property
    def out(self) -> Variable:
        return self.outputs[0]

    def __reduce__(self):
        return _owner_of, (self.outputs[0],)

    def __repr__(self):
        return f"Apply({self.op}, {len(self.inputs)} inputs)"


def _rebuilt_output(spec, index):
    """Output `index` of the last node of a graph pickled by Variable.__reduce_ex__."""
    nodes = []
    for op, inputs, out_types, trace, names in spec:
        node = Apply(op, [i if isinstance(i, Variable) else nodes[i[0]].outputs[i[1]] for i in inputs],
                     out_types, trace)
        for o, name in zip(node.outputs, names):
            if name is not None:
                o.name = name
        nodes.append(node)
    return nodes[-1].outputs[index]


def _owner_of(v):
    return v.owner


def as_variable(x, dtype=None) -> Variable:
    """Wrap NumPy values and Python literals as constants; pass variables through."""
    if isinstance(x, Variable):
        return x
    if isinstance(x, (bool, int, float)) and not isinstance(x, np.generic) and dtype is None:
        return Constant(x, weak=True)
    if isinstance(x, (list, tuple)) and any(isinstance(e, Variable) for e in x):
        from .ops.shape import stack
        return stack([as_variable(e) for e in x])
    if isinstance(x, (np.ndarray, np.generic, bool, int, float, list, tuple)):
        return Constant(np.asarray(x, dtype=dtype))
    raise TypeError(f"cannot use {type(x).__name__} {x!r} as a symbolic value")


def toposort(outputs) -> list[Apply]:
    """Apply nodes computing `outputs`, each after the nodes it depends on."""
    order, seen = [], set()
    stack = [(v.owner, False) for v in reversed(list(outputs)) if v.owner is not None]
    while stack:
        node, expanded = stack.pop()
        if id(node) in seen:
            continue
        if expanded:
            seen.add(id(node))
            order.append(node)
            continue
        stack.append((node, True))
        for inp in reversed(node.inputs):
            if inp.owner is not None and id(inp.owner) not in seen:
                stack.append((inp.owner, False))
    return order


def graph_inputs(outputs) -> list[Variable]:
    """Variables without an owner (inputs, shared variables, constants) that outputs use."""
    seen, result = set(), []
    for v in outputs:
        if v.owner is None and id(v) not in seen:
            seen.add(id(v))
            result.append(v)
    for node in toposort(outputs):
        for v in node.inputs:
            if v.owner is None and id(v) not in seen:
                seen.add(id(v))
                result.append(v)
    return result


def rebuild(outputs, visit=None, nodes=None, memo=None) -> list[Variable]:
    """`outputs` rebuilt bottom-up: the one graph-rebuild loop every pass uses.

    For each node (in `nodes` order, else toposort(outputs)), `visit(node, inputs)` gets the
    node's inputs after the replacements made so far and may return the node's new outputs
    (a list; [] leaves them unmapped). When it returns None, or there is no visit, a node
    whose inputs changed is built again with its op (types re-inferred, so a more specific
    type propagates) and an unchanged node is kept. `memo` (id(old) -> new) may be seeded.
    """
    from .ops.base import apply_op
    memo = {} if memo is None else memo
    for node in toposort(outputs) if nodes is None else nodes:
        ins = [memo.get(id(i), i) for i in node.inputs]
        new = visit(node, ins) if visit is not None else None
        if new is None:
            if all(a is b for a, b in zip(ins, node.inputs)):
                continue
            new = apply_op(node.op, ins, trace=node.trace, as_list=True)
        memo.update((id(o), n) for o, n in zip(node.outputs, new))
    return [memo.get(id(v), v) for v in outputs]


def replace(outputs, mapping: dict) -> list[Variable]:
    """Rebuild `outputs` with variables substituted per `mapping` (old -> new).

    Types are re-inferred, so a substitution with a more specific type propagates.
    """
    memo = {id(k): as_variable(v) for k, v in mapping.items()}
    # A node whose output is itself substituted is not rebuilt: the substitute stands.
    return rebuild(outputs, lambda node, ins: [memo.get(id(o), o) for o in node.outputs]
                   if any(id(o) in memo for o in node.outputs) else None, memo=memo)


def evaluate(outputs, values: dict):
    """Evaluate `outputs` with the ops' NumPy reference implementations.

    `values` maps input variables to arrays; constants and shared variables supply their
    own values. This is the specification every backend is tested against.
    """
    env = {id(k): np.asarray(v) for k, v in values.items()}

    def value(v):
        if id(v) in env:
            return env[id(v)]
        if isinstance(v, Constant):
            return v.data
        if isinstance(v, SharedVariable):
            return v.container[0]
        raise ValueError(f"evaluate: no value given for input {v!r}")

    for node in toposort(outputs):
        args = [value(i) for i in node.inputs]
        outs = node.op.perform(*args)
        node.op.validate(node, args, outs)
        for o, val in zip(node.outputs, outs):
            env[id(o)] = val
    return [value(o) for o in outputs]
