"""Fused elementwise node: one loop computing several elementwise ops (and outputs).

The fusion rewrite builds it; backends emit it as one loop over the broadcast shape.
The inner graph is made of Elemwise nodes on 0-d placeholder variables.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..graph import Variable, toposort
from ..types import TensorType, broadcast_shapes
from .base import Op


@dataclass(frozen=True)
class Fused(Op):
    """outputs[k] = inner_outputs[k](inputs...) elementwise, with NumPy broadcasting."""
    shaped_like = "broadcast"

    inner_inputs: tuple     # 0-d Variables, one per node input
    inner_outputs: tuple    # 0-d Variables built from inner_inputs with Elemwise ops
    destroy: tuple = ()     # ((output k, input j), ...): output k may be written over input j

    @property
    def destroy_map(self):
        return dict(self.destroy)

    @property
    def nout(self):
        return len(self.inner_outputs)

    @property
    def inner_nodes(self):
        return toposort(list(self.inner_outputs))

    @property
    def name(self):
        ops = [n.op.name for n in self.inner_nodes]
        return "fused{" + ",".join(ops) + "}" + ("{inplace}" if self.destroy else "")

    def infer(self, *inputs):
        shape = broadcast_shapes(*[i.type.shape for i in inputs], opname=self.name)
        for v, inner in zip(inputs, self.inner_inputs):
            if v.dtype != inner.dtype:
                raise TypeError(f"{self.name}: input of dtype {v.dtype} where {inner.dtype} is expected")
        return [TensorType(o.dtype, shape) for o in self.inner_outputs]

    def perform(self, *arrays):
        # The inner graph is elementwise, so evaluating it on whole arrays is the same loop.
        env = {}
        for v, a in zip(self.inner_inputs, arrays):
            env[v] = a
        shape = np.broadcast_shapes(*[a.shape for a in arrays])
        outs = evaluate_broadcast(list(self.inner_outputs), env)
        return tuple(np.array(np.broadcast_to(o, shape), dtype=v.dtype)
                     for o, v in zip(outs, self.inner_outputs))

    def validate(self, node, arrays, outputs):
        from .shape import check_static_broadcast
        check_static_broadcast(self.name, node.inputs, arrays, outputs[0].shape)

    def grad(self, inputs, outputs, gouts):
        raise NotImplementedError("differentiate before fusing: fused nodes come from the rewriter")


def evaluate_broadcast(outputs, env):
    """Evaluate an inner 0-d graph on arrays: Elemwise impls broadcast, nothing else differs."""
    vals = {id(k): v for k, v in env.items()}
    for node in toposort(outputs):
        args = [vals[id(i)] if id(i) in vals else i.data for i in node.inputs]
        for o, r in zip(node.outputs, node.op.perform(*args)):
            vals[id(o)] = r
    return [vals[id(o)] if id(o) in vals else o.data for o in outputs]


def scalar_placeholder(dtype, name=None) -> Variable:
    return Variable(TensorType(dtype, ()), name=name)
