"""The op protocol: type inference, NumPy reference implementation, gradient rule.

Every op of the graph is an immutable, hashable value (a frozen dataclass). Backends
own the code for each op (kernels/), the core keeps only the meaning of each op.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..graph import Apply, Variable, as_variable, user_trace


class NotDifferentiableError(TypeError):
    """Raised when a gradient has to flow through an op that has none (argmax, ...)."""


@dataclass(frozen=True)
class Op:
    """Base of all ops. Subclasses override `infer`, `perform` and (if differentiable) `grad`."""

    nout = 1
    # False: the op has no gradient (argmax); a gradient reaching it is an error.
    differentiable = True
    # Facts the rewriter, the in-place pass and the backends read, instead of testing
    # class names (a new op states them here, next to its meaning):
    # view_of = k: the output may be a view of input k (shares its memory).
    view_of = None
    # shaped_like = k: the output has input k's shape; "broadcast": the broadcast of all
    # the inputs' shapes; "vector k": the lengths held in the int64 vector input k.
    shaped_like = None
    # False: the value is not a function of the inputs alone (a random draw advances a
    # state), so constant folding must not run perform() at build time.
    foldable = True
    # True: fold only when the result is small (a big fill is cheaper to compute than to store).
    fold_small_only = False
    # True: cheap enough to evaluate at build time on known integer scalars and vectors
    # (the shape arithmetic static_value does, like x.shape[1] * 2).
    shape_arithmetic = False

    @property
    def name(self) -> str:
        return type(self).__name__.lower()

    @property
    def label(self) -> str:
        """How drawings name the op (the display table: see elemwise.ScalarOp for symbols)."""
        return self.name

    def infer(self, *inputs: Variable) -> list:
        """Output TensorTypes for these inputs; raise TypeError/ValueError if invalid."""
        raise NotImplementedError

    def perform(self, *arrays):
        """NumPy reference implementation: a tuple of output arrays."""
        raise NotImplementedError

    def validate(self, node, arrays, outputs):
        """Run-time checks the static types imply (the reference backend calls this)."""

    def grad(self, inputs, outputs, gouts):
        """Gradients w.r.t. inputs (None = no gradient) given output gradients (None = zero)."""
        raise NotImplementedError(f"{self.name} has no gradient rule")

    def __str__(self):
        return self.name

    def __call__(self, *inputs):
        return apply_op(self, inputs)


class GraphBuildError(Exception):
    """Marks errors raised while building a node: they already carry the user's line."""


class BuildTypeError(GraphBuildError, TypeError):
    pass


class BuildValueError(GraphBuildError, ValueError):
    pass


def describe_inputs(inputs) -> str:
    return ", ".join(f"{v.name + ': ' if v.name else ''}{v.type}" for v in inputs)


def apply_op(op: Op, inputs, trace=None, as_list=False):
    """Build (or find, thanks to hash-consing) the node op(*inputs) and return its outputs.

    Type errors are re-raised with the op, the input types and the user's source line.
    """
    inputs = [as_variable(i) for i in inputs]
    trace = trace or user_trace()
    try:
        out_types = op.infer(*inputs)
    except (TypeError, ValueError) as e:
        if isinstance(e, GraphBuildError):
            raise
        where = f"\n  built at {trace}" if trace else ""
        msg = f"{e}\n  op: {op}\n  inputs: {describe_inputs(inputs)}{where}"
        raise (BuildTypeError if isinstance(e, TypeError) else BuildValueError)(msg) from None
    node = Apply(op, inputs, out_types, trace)
    if as_list or op.nout != 1:
        return list(node.outputs)
    return node.outputs[0]
