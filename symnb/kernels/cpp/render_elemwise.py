"""C++ loops for Elemwise and Fused nodes (stage "backend renderer").

One loop per node: a flat path when every operand is a full-size C-contiguous array or a
scalar (`omp simd`, vectorized transcendental calls, threads above a size threshold), and
a strided path over rows for broadcasting and views. Statically typed broadcasting is
checked at run time before any element is touched. Float loops of arithmetic and math
functions also get an explicit AVX-512 kernel (render_vector.py), written from the same
scalar-table entries on lanes (loop_body).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...core.graph import Constant, toposort
from ...core.ops import Elemwise, Fused
from ...core.ops.base import apply_op
from ...core.ops.fused import scalar_placeholder
from . import render_vector
from .scalar import CHEAP, CTYPE, is_checked, literal

MAX_OPERANDS = 64
# Loops whose output reaches this many bytes store it past the caches, where it could not
# stay anyway (render_vector.kernel): 2*a+3*b float64 at 1e7 went 6.9 -> 4.6 ms, a+1 4.1 ->
# 2.9 ms; at 1e6 (8 MB, in cache for the next node) they store as before.
STREAM_BYTES = 1 << 25
CHUNK = 128        # elements per buffered block of a strided row
TILE = 256         # elements per block of whole short rows (tiled)


def inner_graph(node):
    """(inner inputs, inner outputs) of a fused node; a plain Elemwise is a one-op fusion."""
    if isinstance(node.op, Fused):
        return node.op.inner_inputs, node.op.inner_outputs
    phs = tuple(scalar_placeholder(i.dtype) for i in node.inputs)
    return phs, tuple(apply_op(node.op, phs, as_list=True))


class Body(NamedTuple):
    """One element of an inner graph (loop_body): statements, the result expressions, whether
    an integer op may fail (reported through `err`), and the (function, dtype) calls made."""
    stmts: list
    results: list
    checked: bool
    calls: frozenset

    def transcendental(self) -> bool:
        """Calls a function that costs tens of cycles an element (exp, tanh, pow, ...)."""
        return any(fn not in CHEAP for fn, _ in self.calls)


def loop_body(renderer, inner_in, inner_out, names, lanes=False):
    """The Body computing the outputs of one element of the inner graph (inner_graph), from
    the renderer's scalar table; None when an op has no code. `names` are the C expressions
    of the inner inputs, in order. `lanes`: a whole vector of elements at once (vec.h's V::F,
    render_vector.py), only where every value has the one float dtype and every op has lane
    code."""
    dtype = inner_out[0].dtype
    if lanes and (dtype not in render_vector.LANES or any(v.dtype != dtype for v in (*inner_in, *inner_out))):
        return None
    names = {id(v): names[k] for k, v in enumerate(inner_in)}
    lines, checked, calls = [], False, frozenset()

    def expr(v):
        if id(v) in names:
            return names[id(v)]
        if isinstance(v, Constant) and v.dtype in CTYPE and (not lanes or v.dtype == dtype):
            lit = literal(v.data.item(), v.dtype)
            return f"V::splat({lit})" if lanes else lit
        return None

    for j, n in enumerate(toposort(list(inner_out))):
        if not isinstance(n.op, Elemwise) or (lanes and n.outputs[0].dtype != dtype):
            return None
        args = [expr(i) for i in n.inputs]
        out = n.outputs[0]
        code = None if None in args else renderer.scalar_code(
            n.op.scalar, n.op.params, args, [i.dtype for i in n.inputs], out.dtype, lanes)
        if code is None:
            return None
        checked = checked or is_checked(n.op.scalar, out.dtype)
        calls |= code[1]
        names[id(out)] = f"t{j}"
        lines.append(f"const {'V::F' if lanes else CTYPE[out.dtype]} t{j} = {code[0]};")
    results = [expr(o) for o in inner_out]
    return None if None in results else Body(lines, results, checked, calls)


def render(c):
    """Code builder for Elemwise and Fused nodes."""
    node = c.node
    if any(v.dtype not in CTYPE for v in node.inputs + node.outputs):
        return None
    # 0-d constants become literals; every other input is an array operand.
    operands = [j for j, v in enumerate(node.inputs) if c.const_scalar(j) is None]
    if len(operands) + len(node.outputs) > MAX_OPERANDS:
        return None
    names = [literal(c.const_scalar(j), v.dtype) if j not in operands else f"x{j}"
             for j, v in enumerate(node.inputs)]
    graph = inner_graph(node)
    body = loop_body(c.renderer, *graph, names)
    if body is None:
        return None
    loop = Loop(c, operands, body)
    if not body.checked:
        loop.vector = loop_body(c.renderer, *graph, [n if j in operands else f"V::splat({n})"
                                                     for j, n in enumerate(names)], lanes=True)
    if loop.vector is None:      # the `omp simd` loop is the kernel on every machine
        for name in render_vector.vmath_uses(body.calls):
            c.need("SYMNB_VMATH_ENTRY", name)
    flat = loop.flat_condition()
    lines = loop.shape_and_outputs() + ["int err = 0;", loop.kernel()]
    if flat == "1":        # scalars only (0-d or all-ones shapes): no rows to walk
        lines += ["{", loop.flat(), "}"]
    else:
        lines += [f"if ({flat}) {{", loop.flat(), "} else if (n) {", loop.rows(), "}"]
    if loop.checked:
        lines.append(f"if (err) {{ loop_error(err); return refail(S, {c.k}); }}")
    return "\n".join(ln for ln in lines if ln)


class Loop:
    """The pieces of one elementwise node's loop: shape and outputs, the flat path, rows."""

    def __init__(self, c, operands, body):
        self.c, self.operands, self.element = c, operands, body
        self.stmts, self.results, self.checked = body.stmts, body.results, body.checked
        self.vector = None     # the Body on lanes of an explicit kernel, if eligible
        node = c.node
        self.nd = node.outputs[0].ndim
        self.ins = [c.ins[j] for j in operands]
        self.T = [CTYPE[node.inputs[j].dtype] for j in operands]
        self.OT = [CTYPE[o.dtype] for o in node.outputs]
        self.nops = len(self.ins) + len(self.OT)
        # Loops that can fail (integer division) OR together their elements' error bits.
        self.red = " reduction(|:err)" if self.checked else ""

    def body(self, load, store) -> str:
        """One element: load each operand (load(i, type)), compute, store each result."""
        loads = [f"const {t} x{j} = {load(i, t)};" for i, (j, t) in enumerate(zip(self.operands, self.T))]
        stores = [store(k, t, r) for k, (t, r) in enumerate(zip(self.OT, self.results))]
        return " ".join(loads + self.stmts + stores)

    def kernel(self) -> str:
        """The node's only copy of its element code: kern(lo, hi, operand pointers..., output
        pointers..., big) computes elements [lo, hi), scalar operands read at index 0. The
        flat path calls it on the arrays (`big`: outputs of STREAM_BYTES or more, whose stores
        the AVX-512 kernel streams past the caches), the rows path on rows or on small
        buffers (generated code compiles in proportion to the copies of its loops)."""
        params = [f"const {t}* b{i}" for i, t in enumerate(self.T)] + [f"{t}* q{k}" for k, t in enumerate(self.OT)]
        body = self.body(lambda i, t: f"b{i}[{'0' if self._scalar(i) else 'i'}]", lambda k, t, r: f"q{k}[i] = {r};")
        params = ["npy_intp lo", "npy_intp hi", *params, "bool big"]
        scalar = "\n".join([f"auto kern = []({', '.join(params)}) __attribute__((noinline)) "
                             "-> int { int err = 0;", f"#pragma omp simd{self.red}",
                             f"for (npy_intp i = lo; i < hi; i++) {{ {body} }}", "return err; };"])
        if self.vector is None:
            return scalar
        loads = [(f"x{j}", self._scalar(i)) for i, j in enumerate(self.operands)]
        v = self.vector
        return render_vector.kernel(self.c.node.outputs[0].dtype, params, loads, v.stmts, v.results,
                                    v.transcendental(), scalar)

    def parallel(self) -> str:
        """C condition for splitting the loop between threads: the bytes it touches, 8 times
        fewer for a loop that calls vector math (a few cycles an element, not a fraction:
        a 50k-element sigmoid took 37 us on one thread)."""
        per = sum(np.dtype(self.c.node.inputs[j].dtype).itemsize for i, j in enumerate(self.operands)
                  if not self._scalar(i)) + sum(np.dtype(o.dtype).itemsize for o in self.c.node.outputs)
        bound = self.c.renderer.parallel_bytes // (8 if self.element.transcendental() else 1)
        return f"n * {per} >= {bound}"

    def shape_and_outputs(self) -> list:
        c, nd = self.c, self.nd
        bc = []
        for j in self.operands:
            v = c.node.inputs[j]
            bc += [1 if s == 1 else 0 for s in v.type.shape] + [0] * (32 - v.ndim)
        lines = [f"Arr* in[] = {{{', '.join(self.ins) or 'NULL'}}};",
                 f"static const signed char bc[] = {{{', '.join(map(str, bc)) or '0'}}};",
                 f"npy_intp dims[{max(nd, 1)}] = {{0}};",
                 f"if (broadcast(S, {c.k}, {nd}, dims, {len(self.ins)}, in, bc) < 0) return -1;"]
        destroy = dict(getattr(c.node.op, "destroy_map", None) or {})
        if self.checked:    # a loop that can stop half-way never writes over a shared variable
            destroy = {k: j for k, j in destroy.items() if c.node.inputs[j].owner is not None}
        like = next((x for i, x in enumerate(self.ins) if not self._scalar(i)), None)
        for k in range(len(self.OT)):
            alloc = c.buffer(k, nd, "dims", like)
            if k in destroy:
                x = c.ins[destroy[k]]
                alloc = (f"if ({c.may_destroy(destroy[k])} && PyArray_IS_C_CONTIGUOUS({x}) && same_dims({x}, {nd}, dims)) "
                         f"{{ {c.outs[k]} = {x}; Py_INCREF({x}); }}\nelse {{\n{alloc}\n}}")
            lines.append(alloc)
        return lines + [f"const npy_intp n = PyArray_SIZE({c.outs[0]});"]

    def _scalar(self, i) -> bool:
        """Operands typed as all ones are scalars: read once, at index 0."""
        return all(s == 1 for s in self.c.node.inputs[self.operands[i]].type.shape)

    def flat_condition(self) -> str:
        return " && ".join(f"PyArray_IS_C_CONTIGUOUS({x}) && PyArray_SIZE({x}) == n"
                           for i, x in enumerate(self.ins) if not self._scalar(i)) or "1"

    def flat(self) -> str:
        """Every operand full size and C-contiguous (or a scalar): the kernel over the arrays,
        split between threads when it touches enough bytes (parallel())."""
        c = self.c
        ptrs = [f"(const {t}*)PyArray_DATA({x})" for x, t in zip(self.ins, self.T)]
        ptrs += [f"({t}*)PyArray_DATA({o})" for o, t in zip(c.outs, self.OT)]
        big = f"n * (npy_intp)sizeof({self.OT[0]}) >= {STREAM_BYTES}"
        # Captured by value: a worker thread then finds the pointers in the closure that the
        # pool copies next to the job, not behind the caller's stack and arrays (pool.h).
        names = [f"d{i}" for i in range(len(ptrs))]
        captures = ", ".join(["kern"] + [f"{d} = {p}" for d, p in zip(names, ptrs)] + [f"big = {big}"])
        return "\n".join([f"auto span = [{captures}](npy_intp lo, npy_intp hi) -> int {{ "
                           f"return kern(lo, hi, {', '.join(names)}, big); }};",
                          f"err |= run_spans(n, {self.parallel()}, 64, span);"])

    def rows(self) -> str:
        """Broadcasting and views: the kernel on each row of the output where every operand
        is unit-stride along it, else on chunks of the row with the other operands copied
        into small buffers (operands that stretch along it are filled, outputs copied back),
        so the arithmetic still vectorizes. Short rows go in blocks of whole rows where their
        operands allow (tiled)."""
        c, n_in = self.c, len(self.ins)
        scalar = [self._scalar(i) for i in range(n_in)]
        direct = " && ".join([f"it.inner[{i}] == sizeof({t})" for i, t in enumerate(self.T) if not scalar[i]]
                             + [f"it.inner[{n_in + k}] == sizeof({t})" for k, t in enumerate(self.OT)]) or "1"
        decls = " ".join([f"{t} g{i}[{CHUNK}];" for i, t in enumerate(self.T) if not scalar[i]]
                         + [f"{t} s{k}[{CHUNK}];" for k, t in enumerate(self.OT)])
        # Chunk of one row: unit-stride operands in place, the others through the buffers.
        pick = [f"(const {t}*)p[{i}]" if scalar[i] else
                f"(it.inner[{i}] == sizeof({t}) ? (const {t}*)p[{i}] + j0 : "
                f"(gather_row(g{i}, p[{i}], j0, cnt, it.inner[{i}]), (const {t}*)g{i}))"
                for i, t in enumerate(self.T)]
        pick += [f"(it.inner[{n_in + k}] == sizeof({t}) ? ({t}*)p[{n_in + k}] + j0 : s{k})" for k, t in enumerate(self.OT)]
        put = " ".join(f"if (it.inner[{n_in + k}] != sizeof({t})) scatter_row(s{k}, p[{n_in + k}], j0, cnt, "
                       f"it.inner[{n_in + k}]);" for k, t in enumerate(self.OT))
        return "\n".join([
            f"Arr* ops[] = {{{', '.join(self.ins + c.outs)}}};",
            f"Strided it; it.init({self.nd}, dims, {self.nops}, ops);",
            "const npy_intp rows = it.rows, len = it.len;",
            (self.tiled() + "\nelse {") if self.broadcasts() else "{",
            f"const npy_intp step = ({direct}) ? len : {CHUNK};",
            f"auto span = [&](npy_intp lo, npy_intp hi) __attribute__((noinline)) -> int {{ int err = 0; "
            f"char* p[{self.nops}];",
            "for (npy_intp r = lo; r < hi; r++) {",
            f"    {decls}",
            "    it.row(r, p);",
            "    for (npy_intp j0 = 0; j0 < len; j0 += step) {",
            "        const npy_intp cnt = len - j0 < step ? len - j0 : step;",
            f"        err |= kern(0, cnt, {', '.join(pick)}, false);",
            f"        {put}",
            "    }",
            "}",
            "return err; };",
            f"err |= run_spans(rows, {self.parallel()} && rows > 1, 1, span);",
            "}"])

    def broadcasts(self) -> bool:
        """Some operand stretches over the output (static: only axes typed length 1 do), the
        only case where the tiled path differs from the rows path; without one, the rows
        path only serves views, and the generated code stays smaller."""
        out = self.c.node.outputs[0].type.shape
        for i in range(len(self.ins)):
            shape = self.c.node.inputs[self.operands[i]].type.shape
            if not self._scalar(i) and (len(shape) < len(out) or any(
                    s == 1 and o != 1 for s, o in zip(shape, out[len(out) - len(shape):]))):
                return True
        return False

    def tiled(self) -> str:
        """Short rows (a bias over 10 classes) in blocks of whole rows, one kernel call per
        TILE elements instead of one per row: full-size operands in place, an operand that
        is one row repeated copied into a block once, one value per row spread over it per
        block. The `if` of the rows path: it applies when every operand is one of those and
        the outputs are C-contiguous."""
        c, n_in = self.c, len(self.ins)
        arrays = [i for i in range(n_in) if not self._scalar(i)]
        kinds = " ".join(f"const int k{i} = tile_kind({self.ins[i]}, n, rows, len, it.inner[{i}], sizeof({self.T[i]}));"
                         for i in arrays)
        ok = " && ".join([f"k{i} < 3" for i in arrays] + [f"PyArray_IS_C_CONTIGUOUS({o})" for o in c.outs])
        data = [f"(const {t}*)PyArray_DATA({x})" for x, t in zip(self.ins, self.T)]
        decls = " ".join(f"{self.T[i]} t{i}[{TILE}];" for i in arrays)
        once = " ".join(f"if (k{i} == 1) tile_row(t{i}, {data[i]}, len, G);" for i in arrays)
        per_block = " ".join(f"if (k{i} == 2) tile_col(t{i}, {data[i]} + r0, len, nr);" for i in arrays)
        args = [f"(k{i} ? t{i} : {data[i]} + r0 * len)" if i in arrays else data[i] for i in range(n_in)]
        args += [f"({t}*)PyArray_DATA({o}) + r0 * len" for o, t in zip(c.outs, self.OT)]
        return "\n".join([
            f"{kinds}",
            f"if (len <= {TILE // 4} && rows > 1 && {ok or '1'}) {{",
            f"const npy_intp G = {TILE} / len, blocks = (rows + G - 1) / G;",
            "auto tspan = [&](npy_intp lo, npy_intp hi) __attribute__((noinline)) -> int { int err = 0;",
            f"    {decls} {once}",
            "    for (npy_intp b = lo; b < hi; b++) {",
            "        const npy_intp r0 = b * G, nr = rows - r0 < G ? rows - r0 : G;",
            f"        {per_block}",
            f"        err |= kern(0, nr * len, {', '.join(args)}, false);",
            "    }",
            "return err; };",
            f"err |= run_spans(blocks, {self.parallel()} && blocks > 1, 1, tspan);",
            "}"])


CODE = {Elemwise: render, Fused: render}
