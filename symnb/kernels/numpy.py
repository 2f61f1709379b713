"""The reference backend: runs each node's NumPy implementation in topological order.

It is the specification the compiled backends are tested against; its "source" is the
flat listing of the steps it executes.
"""
from __future__ import annotations

import numpy as np

from ..core.graph import Constant
from .base import Backend, FunctionGraph, Program, register


def run_node(node, vals):
    """One node's reference implementation; errors name the op, the shapes and the user line."""
    try:
        results = node.op.perform(*vals)
        node.op.validate(node, vals, results)
        return results
    except (ValueError, IndexError, ZeroDivisionError, TypeError) as e:
        where = f"\n  built at {node.trace}" if node.trace else ""
        shapes = ", ".join(str(np.shape(v)) for v in vals)
        raise type(e)(f"{e}\n  while computing {node.op} on inputs of shapes {shapes}{where}") from e


class NumpyProgram(Program):
    def __init__(self, fgraph: FunctionGraph):
        slot = {}
        self.constants = []
        for i, v in enumerate(fgraph.inputs):
            slot[id(v)] = i
        n = len(fgraph.inputs)

        def slot_of(v):
            nonlocal n
            if id(v) not in slot:
                assert isinstance(v, Constant), f"unbound variable {v!r}"
                slot[id(v)] = n
                self.constants.append((n, v.data))
                n += 1
            return slot[id(v)]

        self.steps = []
        for node in fgraph.nodes:
            ins = [slot_of(i) for i in node.inputs]
            outs = []
            for o in node.outputs:
                slot[id(o)] = n
                outs.append(n)
                n += 1
            self.steps.append((node, ins, outs))
        self.out_slots = [slot_of(o) for o in fgraph.outputs]
        self.n_inputs = len(fgraph.inputs)
        self.size = n
        self.source = render(fgraph, self)

    def __call__(self, args):
        env = [None] * self.size
        env[:self.n_inputs] = args
        for i, data in self.constants:
            env[i] = data
        for node, ins, outs in self.steps:
            results = run_node(node, [env[i] for i in ins])
            for o, r in zip(outs, results):
                env[o] = r
        # Aliasing (an output that is an input, a view of one, or a constant) is sn.function's
        # concern: it copies what it hands out or stores only where needed, for every backend.
        return [env[i] for i in self.out_slots]


def render(fgraph: FunctionGraph, program: NumpyProgram) -> str:
    lines = [f"# inputs: " + ", ".join(f"v{i}" for i in range(len(fgraph.inputs)))]
    for i, data in program.constants:
        lines.append(f"v{i} = constant({np.array2string(data, threshold=6)})")
    for node, ins, outs in program.steps:
        lines.append(", ".join(f"v{o}" for o in outs) + f" = {node.op}(" + ", ".join(f"v{i}" for i in ins) + ")")
    lines.append("return " + ", ".join(f"v{i}" for i in program.out_slots))
    return "\n".join(lines)


class NumpyBackend(Backend):
    name = "numpy"

    def source(self, fgraph):
        return NumpyProgram(fgraph).source

    def compile(self, fgraph):
        return NumpyProgram(fgraph)


register(NumpyBackend())
