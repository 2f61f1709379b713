"""The CUDA program (stage "program"): the module from the compiler and its cache, and the
thin driver that runs the launch plan in order on device arrays, reusing its buffers.
"""
from __future__ import annotations

import sys

import numpy as np

from ...core.graph import Constant
from ..base import Program
from .compiler import load_module
from .renderer import CudaRenderer

# Error bits of integer kernels (scalar.h), raised after the call as the C++ backend does.
ERRORS = {1: (ZeroDivisionError, "integer division or modulo by zero"),
          2: (ValueError, "Integers to negative integer powers are not allowed.")}


class Context:
    """What the steps share: cupy, the reusable buffers, the error flags."""

    def __init__(self, cp, n_nodes):
        self.cp = cp
        self.buffers = {}
        self.errs = cp.zeros(max(n_nodes, 1), dtype=np.int32)

    def device(self, x):
        return x if isinstance(x, self.cp.ndarray) else self.cp.asarray(x)

    def buffer(self, k, j, shape, dtype):
        """Output j of node k: last call's array when it has this shape and dtype and nothing
        outside this table holds it any more (not the caller, a shared variable or a view)."""
        old = self.buffers.get((k, j))
        if old is not None and old.shape == shape and old.dtype.name == dtype and sys.getrefcount(old) <= 3:
            return old
        self.buffers[(k, j)] = new = self.cp.empty(shape, dtype=dtype)
        return new

    def err_at(self, k):
        return self.errs[k:k + 1]


class Plan:
    """Launch steps bound to a module: the value slots of a graph's inputs, constants (uploaded
    once) and node outputs, and the driver that runs the steps in order. A function's whole
    graph is one; a scan's body is another, run once per step by its loop (launch.ScanLoop)."""

    def __init__(self, cp, module, fgraph, steps, nodes, wheres):
        self.wheres = wheres
        slot = {id(v): k for k, v in enumerate(fgraph.inputs)}
        self.constants = []

        def slot_of(v):
            if id(v) not in slot:
                assert isinstance(v, Constant), f"unbound variable {v!r}"
                slot[id(v)] = len(slot)
                self.constants.append((slot[id(v)], cp.asarray(v.data)))   # uploaded once
            return slot[id(v)]

        for step, node in zip(steps, nodes):
            ins = [slot_of(i) for i in node.inputs]
            outs = []
            for o in node.outputs:
                slot[id(o)] = len(slot)
                outs.append(slot[id(o)])
            step.bind(module, node, ins, outs)
        self.steps = steps
        self.out_slots = [slot_of(o) for o in fgraph.outputs]
        self.const_slots = {k for k, _ in self.constants}
        self.n_inputs, self.size = len(fgraph.inputs), len(slot)
        self.checked = any(getattr(s, "checked", False) for s in self.steps)
        self.ctx = Context(cp, len(wheres))

    def __call__(self, args):
        env = [None] * self.size
        env[:self.n_inputs] = args
        for k, data in self.constants:
            env[k] = data
        if self.checked:
            self.ctx.errs.fill(0)
        for step in self.steps:
            try:
                step.run(env, self.ctx)
            except (ValueError, IndexError, ZeroDivisionError, TypeError) as e:
                raise type(e)(f"{e}\n  while computing {self.wheres[step.k]}") from e
        if self.checked:
            flags = self.ctx.errs.get()     # the one copy back: only functions that can fail
            for k in np.flatnonzero(flags):
                err, msg = ERRORS[1 if flags[k] & 1 else 2]
                raise err(f"{msg}\n  while computing {self.wheres[k]}")
        # Constants are the program's: the caller gets copies.
        return [env[k].copy() if k in self.const_slots else env[k] for k in self.out_slots]


class CudaProgram(Program):
    """One generated module and this function's driver state (its Plan: buffers, device
    constants)."""

    shareable = True

    def __init__(self, fgraph):
        import cupy as cp
        rendered = CudaRenderer().render(fgraph)
        self.source, self.fallback_nodes, self.wheres = rendered.source, rendered.fallbacks, rendered.wheres
        self.module = load_module(rendered.source, f"sm_{cp.cuda.Device().compute_capability}")
        self.plan = Plan(cp, self.module, fgraph, rendered.steps, rendered.nodes, rendered.wheres)
        self.steps = self.plan.steps

    def fresh(self, fgraph):
        """A program of its own for a graph of the same structure (the module comes from the cache)."""
        return CudaProgram(fgraph)

    def __call__(self, args):
        return self.plan(args)
