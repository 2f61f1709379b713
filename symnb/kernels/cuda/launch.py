"""The CUDA launch template (stage "program"): one step per node, run in order by the thin
Python driver of program.py on device arrays, with no host-device copy between steps.

A step reads its inputs from `env` (device arrays; small host arrays from shape
arithmetic are uploaded), takes its outputs from `ctx.buffer` (reused from call to call
while nobody else holds them) and launches its kernel of the module (renderer.py).
"""
from __future__ import annotations

import math

import numpy as np

from ...core.graph import Constant
from ..base import to_host
from ..numpy import run_node

THREADS = 256            # per block; a power of two (block_reduce)
MAX_BLOCKS = 1 << 16     # grid-stride loops cover the rest


def blocks(n: int) -> tuple:
    return (max(1, min((n + THREADS - 1) // THREADS, MAX_BLOCKS)),)


class Step:
    """One node's work. `kernel`: the name of its function in the module, or None."""

    kernel = None

    def bind(self, module, node, ins, outs):
        self.fn = module.get_function(self.kernel) if self.kernel else None
        self.node, self.ins, self.outs = node, ins, outs

    def run(self, env, ctx):
        raise NotImplementedError


class Elementwise(Step):
    def __init__(self, kernel, k, operands, nd, dtypes, checked):
        self.kernel, self.k, self.operands, self.nd, self.dtypes, self.checked = kernel, k, operands, nd, dtypes, checked

    def run(self, env, ctx):
        arrs = [ctx.device(env[self.ins[j]]) for j in self.operands]
        try:
            shape = np.broadcast_shapes(*(a.shape for a in arrs)) if arrs else ()
        except ValueError as e:
            raise ValueError(f"shapes {[a.shape for a in arrs]} do not broadcast ({e})") from None
        shape = (1,) * (self.nd - len(shape)) + tuple(shape)
        outs = [ctx.buffer(self.k, j, shape, dt) for j, dt in enumerate(self.dtypes)]
        for o, out in zip(self.outs, outs):
            env[o] = out
        n = math.prod(shape)
        if n == 0:
            return
        flat = all(a.flags.c_contiguous and (a.size == n or a.size == 1) for a in arrs)
        args = [np.int64(n), np.int32(flat), *(np.int64(d) for d in shape)]
        for a in arrs:
            pad = self.nd - a.ndim
            strides = [0] * pad + [0 if d == 1 else s // a.itemsize for d, s in zip(a.shape, a.strides)]
            args += [a, np.int64(a.size != 1), *(np.int64(s) for s in strides)]
        self.fn(blocks(n), (THREADS,), (*args, *outs, ctx.err_at(self.k)))


class Reduction(Step):
    """A reduction kernel (renderer.reduction): one block per output element; for fewer
    outputs than SPLIT_BELOW over at least PART_ELEMENTS elements each, several blocks per
    output (`parts`, up to TARGET_BLOCKS blocks in all) whose partial results the kernel's
    <name>_parts combines: a single block over 1e8 elements would keep one SM busy."""

    SPLIT_BELOW = 256
    PART_ELEMENTS = 8 * THREADS
    TARGET_BLOCKS = 1024

    def __init__(self, kernel, k, kept, red, dtype, keepdims):
        self.kernel, self.k, self.kept, self.red, self.dtype, self.keepdims = kernel, k, kept, red, dtype, keepdims

    def bind(self, module, node, ins, outs):
        super().bind(module, node, ins, outs)
        self.fn_parts = module.get_function(self.kernel + "_parts")

    @classmethod
    def parts(cls, n_out, n_red) -> int:
        if n_out >= cls.SPLIT_BELOW or n_red < 2 * cls.PART_ELEMENTS:
            return 1
        return max(1, min(n_red // cls.PART_ELEMENTS, cls.TARGET_BLOCKS // n_out))

    def run(self, env, ctx):
        x = ctx.device(env[self.ins[0]])
        kd = [x.shape[d] for d in self.kept]
        n_out, n_red = math.prod(kd), math.prod(x.shape[d] for d in self.red)
        kind = self.node.op.kind
        if n_red == 0 and n_out and kind in ("max", "min", "argmax", "argmin"):
            raise ValueError(f"{kind}: zero-size array along axis {self.node.op.axis} has no identity")
        shape = [1 if d in self.red else x.shape[d] for d in range(x.ndim)] if self.keepdims else kd
        out = ctx.buffer(self.k, 0, tuple(shape), self.dtype)
        env[self.outs[0]] = out
        if n_out == 0:
            return
        parts = self.parts(n_out, n_red)
        part = out
        if parts > 1:     # partial results: the output's type, or an Arg (16 bytes) for arg kinds
            arg = kind in ("argmax", "argmin")
            part = ctx.buffer(self.k, 1, (n_out * parts * (2 if arg else 1),), "int64" if arg else self.dtype)
        args = [x, out, part, np.int64(n_out), np.int64(n_red), np.int64(parts)]
        for group in (self.kept, self.red):
            for d in group:
                args += [np.int64(x.shape[d]), np.int64(x.strides[d] // x.itemsize)]
        self.fn((min(n_out * parts, MAX_BLOCKS),), (THREADS,), tuple(args))
        if parts > 1:
            self.fn_parts((min(n_out, MAX_BLOCKS),), (THREADS,), (part, out, np.int64(n_out), np.int64(parts)))


class Rows(Step):
    """softmax-like ops along `axis`: made the last, contiguous axis, one block per row."""

    def __init__(self, kernel, k, axis, n_in):
        self.kernel, self.k, self.axis, self.n_in = kernel, k, axis, n_in

    def run(self, env, ctx):
        cp = ctx.cp
        xs = [cp.ascontiguousarray(cp.moveaxis(ctx.device(env[i]), self.axis, -1)) for i in self.ins]
        if len({x.shape for x in xs}) != 1:
            raise ValueError(f"shapes {[x.shape for x in xs]} differ")
        y = ctx.buffer(self.k, 0, xs[0].shape, xs[0].dtype.name)
        env[self.outs[0]] = cp.moveaxis(y, -1, self.axis)
        if y.size:
            length = y.shape[-1]
            rows = y.size // length
            self.fn((min(rows, MAX_BLOCKS),), (THREADS,), (*xs, y, np.int64(rows), np.int64(length)))


class Draw(Step):
    """A Philox draw; the new state is written by the kernel (the state stays on the device)."""

    def __init__(self, kernel, k, dist, dtype):
        self.kernel, self.k, self.dist, self.dtype = kernel, k, dist, dtype

    def bind(self, module, node, ins, outs):
        super().bind(module, node, ins, outs)
        # Constant sizes and trial counts are read here once: their device copies would
        # otherwise be read back, waiting for the GPU, at every call.
        self.known = {j: np.asarray(v.data) for j, v in enumerate(node.inputs) if isinstance(v, Constant)}

    def _host(self, env, j):
        return self.known[j] if j in self.known else to_host(env[self.ins[j]])

    def run(self, env, ctx):
        cp = ctx.cp
        state = ctx.device(env[self.ins[0]])
        shape = tuple(int(s) for s in self._host(env, 1))
        if any(s < 0 for s in shape):
            raise ValueError("negative dimensions are not allowed")
        n = math.prod(shape)
        params = []
        for i in self.ins[2:]:
            p = ctx.device(env[i])
            if p.size != 1:
                try:
                    p = cp.ascontiguousarray(cp.broadcast_to(p, shape))
                except ValueError:
                    raise ValueError("the parameters do not broadcast to the sample shape") from None
            params += [p, np.int64(p.size != 1)]
        if self.dist == "binomial":
            trials = int(np.asarray(self._host(env, 2)).reshape(-1)[0])
            if trials < 0:
                raise ValueError(f"binomial: n must be non-negative, got {trials}")
            words = 2 * n * trials
        else:
            per = 2 if self.dtype == "float64" else 1
            words = per * (n + n % 2 if self.dist == "normal" else n)
        new_state = ctx.buffer(self.k, 0, (2,), "uint64")
        out = ctx.buffer(self.k, 1, shape, self.dtype)
        env[self.outs[0]], env[self.outs[1]] = new_state, out
        self.fn(blocks(n), (THREADS,), (state, new_state, out, np.int64(n), np.uint64((words + 3) // 4), *params))


class ScanLoop(Step):
    """A scan: Scan.loop (the reference's loop, with its checks and messages) on cupy arrays,
    the body a Plan of the module's kernels run once per step; the states' rows stay on the
    device. n_steps and an `until` condition are read back (one sync per step for `until`)."""

    def __init__(self, k, fgraph, steps, nodes, wheres):
        self.k, self.fgraph, self.inner_steps, self.inner_nodes, self.wheres = k, fgraph, steps, nodes, wheres

    def bind(self, module, node, ins, outs):
        import cupy as cp
        from .program import Plan
        super().bind(module, node, ins, outs)
        self.body = Plan(cp, module, self.fgraph, self.inner_steps, self.inner_nodes, self.wheres)

    def run(self, env, ctx):
        op = self.node.op
        n_steps, seqs, inits, nonseqs = op.split_inputs([env[i] for i in self.ins])
        dev = ctx.device
        # Sequences and states on the device (their rows feed kernels every step); the
        # non-sequences as they are (host shape values stay on the host for the body's glue).
        results = op.loop(int(to_host(n_steps)), [dev(s) for s in seqs], [dev(x) for x in inits],
                          list(nonseqs), self.body, ctx.cp)
        for o, r in zip(self.outs, results):
            env[o] = r


class Product(Step):
    """dot, gemm, gemv and batched matmul through cupy (cuBLAS)."""

    def __init__(self, k, op):
        self.k, self.op = k, op

    def run(self, env, ctx):
        cp = ctx.cp
        vals = [ctx.device(env[i]) for i in self.ins]
        dt = self.node.outputs[0].dtype
        kind = type(self.op).__name__
        if kind in ("Gemm", "Gemv"):
            C, alpha, A, B, beta = vals
            out = beta * C + alpha * cp.dot(A, B)
        else:
            a, b = (v.astype(dt, copy=False) for v in vals)
            if kind == "Dot" and a.shape[-1] != b.shape[0]:
                raise ValueError(f"dot: shapes {a.shape} and {b.shape} are not aligned")
            out = cp.matmul(a, b) if kind == "BatchedMatmul" else cp.dot(a, b)
        env[self.outs[0]] = out.astype(dt, copy=False)


class Glue(Step):
    """A node without a kernel: its reference implementation on the device arrays (views,
    shapes, joins work that way through NumPy's dispatch to cupy), else on host copies; once
    host copies have worked where device arrays failed, on host copies from then on (the node
    then joins `fallbacks`, so it is visible). A call whose arguments are wrong fails on both
    and changes nothing."""

    def __init__(self, k, node, fallbacks):
        self.k, self.host, self.fallbacks = k, False, fallbacks

    def run(self, env, ctx):
        vals = [env[i] for i in self.ins]
        if not self.host:
            try:
                results = self.node.op.perform(*vals)
                self.node.op.validate(self.node, vals, results)
            except Exception:
                results = run_node(self.node, [to_host(v) for v in vals])     # raises for bad arguments
                self.host = True
                self.fallbacks.append(self.node)
        else:
            results = run_node(self.node, [to_host(v) for v in vals])
        for o, r in zip(self.outs, results):
            env[o] = r

