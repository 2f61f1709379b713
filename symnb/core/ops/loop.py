"""map_range: stack an inner graph evaluated for i = 0 .. n-1 (what jacobian needs when
the length is only known at run time; PyTensor uses scan for the same job)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..graph import Constant, SharedVariable, Variable, evaluate, graph_inputs
from ..types import TensorType
from .base import Op, apply_op


@dataclass(frozen=True)
class MapRange(Op):
    """outputs[k][i] = inner_outputs[k] evaluated with index = i; free inputs are node inputs."""
    foldable = False         # its inner graph may read variables that are not its inputs

    index: Variable
    free: tuple
    inner_outputs: tuple
    differentiable = False

    @property
    def nout(self):
        return len(self.inner_outputs)

    @property
    def name(self):
        return f"map_range{{{len(self.inner_outputs)} outputs}}"

    def infer(self, n, *free):
        return [TensorType(o.dtype, (None,) + o.type.shape) for o in self.inner_outputs]

    def perform(self, n, *free):
        env = dict(zip(self.free, free))
        rows = []
        for i in range(int(n)):
            env[self.index] = np.int64(i)
            rows.append(evaluate(list(self.inner_outputs), env))
        if not rows:
            return tuple(np.zeros((0,) + tuple(s or 0 for s in o.type.shape), o.dtype)
                         for o in self.inner_outputs)
        return tuple(np.stack([r[k] for r in rows]) for k in range(len(self.inner_outputs)))


def map_range(n, body):
    """Stack body(i) for i in range(n); body takes a symbolic int64 index and returns a list."""
    index = Variable(TensorType("int64", ()), name="i")
    outs = list(body(index))
    free = tuple(v for v in graph_inputs(outs)
                 if v is not index and not isinstance(v, (Constant, SharedVariable)))
    return apply_op(MapRange(index, free, tuple(outs)), [n, *free], as_list=True)
