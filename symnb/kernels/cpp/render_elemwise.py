"""C++ loops for Elemwise and Fused nodes (stage "backend renderer").

One loop per node: a flat path when every operand is a full-size C-contiguous array or a
scalar (`omp simd`, vectorized transcendental calls, threads above a size threshold), and
a strided path over rows for broadcasting and views. Statically typed broadcasting is
checked at run time before any element is touched.
"""
from __future__ import annotations

import re

from ...core.graph import Constant, toposort
from ...core.ops import Elemwise, Fused
from ...core.ops.base import apply_op
from ...core.ops.fused import scalar_placeholder
from .scalar import CTYPE, is_checked, literal

MAX_OPERANDS = 64
CHUNK = 128        # elements per buffered block of a strided row
# Calls that scalar.h declares SIMD (glibc's vector math), and the helpers built on them.
VECTOR_MATH = re.compile(r"\b(exp|log|sin|cos|tan|expm1|log1p|log2|log10|exp2|sinh|cosh|tanh|asin|acos|atan|asinh|"
                         r"acosh|atanh|erf|erfc|pow|sigmoid|softplus)f?\(")


def inner_graph(node):
    """(inner inputs, inner outputs) of a fused node; a plain Elemwise is a one-op fusion."""
    if isinstance(node.op, Fused):
        return node.op.inner_inputs, node.op.inner_outputs
    phs = tuple(scalar_placeholder(i.dtype) for i in node.inputs)
    return phs, tuple(apply_op(node.op, phs, as_list=True))


def loop_body(renderer, node, names):
    """(statements, result expressions, checked) computing the outputs of one element.

    `names` maps inner input ids to C expressions; None when an op has no C++ code."""
    inner_in, inner_out = inner_graph(node)
    names = {id(v): names[k] for k, v in enumerate(inner_in)}
    lines, checked = [], False

    def expr(v):
        if id(v) in names:
            return names[id(v)]
        if isinstance(v, Constant) and v.dtype in CTYPE:
            return literal(v.data.item(), v.dtype)
        return None

    for j, n in enumerate(toposort(list(inner_out))):
        if not isinstance(n.op, Elemwise):
            return None
        args = [expr(i) for i in n.inputs]
        out = n.outputs[0]
        code = None if None in args else renderer.scalar_code(
            n.op.scalar, n.op.params, args, [i.dtype for i in n.inputs], out.dtype)
        if code is None:
            return None
        checked = checked or is_checked(n.op.scalar, out.dtype)
        names[id(out)] = f"t{j}"
        lines.append(f"const {CTYPE[out.dtype]} t{j} = {code};")
    results = [expr(o) for o in inner_out]
    return None if None in results else (lines, results, checked)


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
    code = loop_body(c.renderer, node, names)
    if code is None:
        return None
    loop = Loop(c, operands, *code)
    lines = loop.shape_and_outputs() + ["int err = 0;",
                                        f"if ({loop.flat_condition()}) {{", loop.flat(),
                                        "} else if (n) {", loop.rows(), "}"]
    if loop.checked:
        lines.append(f"if (err) {{ loop_error(err); return refail(S, {c.k}); }}")
    return "\n".join(ln for ln in lines if ln)


class Loop:
    """The pieces of one elementwise node's loop: shape and outputs, the flat path, rows."""

    def __init__(self, c, operands, stmts, results, checked):
        self.c, self.operands, self.stmts, self.results, self.checked = c, operands, stmts, results, checked
        node = c.node
        self.nd = node.outputs[0].ndim
        self.ins = [c.ins[j] for j in operands]
        self.T = [CTYPE[node.inputs[j].dtype] for j in operands]
        self.OT = [CTYPE[o.dtype] for o in node.outputs]
        self.nops = len(self.ins) + len(self.OT)
        # Loops that can fail (integer division) or the error bits of their elements.
        self.red = " reduction(|:err)" if checked else ""

    def body(self, load, store) -> str:
        """One element: load each operand (load(i, type)), compute, store each result."""
        loads = [f"const {t} x{j} = {load(i, t)};" for i, (j, t) in enumerate(zip(self.operands, self.T))]
        stores = [store(k, t, r) for k, (t, r) in enumerate(zip(self.OT, self.results))]
        return " ".join(loads + self.stmts + stores)

    def spans(self, count, parallel, align, code) -> list:
        """`code` (statements over [lo, hi)) as one out-of-line function, run over [0, count)
        by one thread, or split between threads when `parallel` holds: one copy of the loop
        body serves both (generated code compiles in proportion to its copies)."""
        return [f"auto span = [&](npy_intp lo, npy_intp hi) __attribute__((noinline)) -> int {{ int err = 0;",
                code, "return err; };",
                f"err |= run_spans({count}, {parallel}, {align}, span);"]

    def calls_vector_math(self) -> bool:
        return any(VECTOR_MATH.search(st) for st in self.stmts)

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
        for k in range(len(self.OT)):
            alloc = c.buffer(k, nd, "dims")
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
        """Every operand full size and C-contiguous (or a scalar): one vectorized loop."""
        c = self.c
        ptrs = [f"const {t}* b{i} = (const {t}*)PyArray_DATA({x});" for i, (x, t) in enumerate(zip(self.ins, self.T))]
        ptrs += [f"{t}* q{k} = ({t}*)PyArray_DATA({o});" for k, (o, t) in enumerate(zip(c.outs, self.OT))]
        body = self.body(lambda i, t: f"b{i}[{'0' if self._scalar(i) else 'i'}]", lambda k, t, r: f"q{k}[i] = {r};")
        loop = f"#pragma omp simd{self.red}\nfor (npy_intp i = lo; i < hi; i++) {{ {body} }}"
        return "\n".join(ptrs + self.spans("n", f"n > {c.renderer.parallel_threshold}", 64, loop))

    def rows(self) -> str:
        """Broadcasting and views: the output's rows, each a unit-stride loop when operands are
        contiguous along it (or, where their type says they stretch there, constant along
        it), else through small contiguous buffers so the arithmetic still vectorizes."""
        c, n_in = self.c, len(self.ins)
        out_last = c.node.outputs[0].type.shape[-1] if self.nd else 1
        const = [c.node.inputs[j].ndim == 0 or (c.node.inputs[j].type.shape[-1] == 1 and out_last != 1)
                 for j in self.operands]
        unit = " && ".join([f"it.inner[{i}] == {'0' if k else f'sizeof({t})'}" for i, (k, t) in enumerate(zip(const, self.T))]
                           + [f"it.inner[{n_in + k}] == sizeof({t})" for k, t in enumerate(self.OT)])
        hoisted = " ".join(f"const {t} c{i} = *(const {t}*)p[{i}];" for i, (k, t) in enumerate(zip(const, self.T)) if k)
        fast = self.body(lambda i, t: f"c{i}" if const[i] else f"((const {t}*)p[{i}])[j]",
                         lambda k, t, r: f"(({t}*)p[{n_in + k}])[j] = {r};")
        decls = " ".join([f"{t} s{k}[{CHUNK}];" for k, t in enumerate(self.OT)]
                         + [f"{t} g{i}[{CHUNK}];" for i, t in enumerate(self.T)])
        # Operand i's element j of the row at p, and output k's, in place of buffer slot `at`.
        gather = " ".join(f"gather_row(g{i} + at, p[{i}], j0, cnt, it.inner[{i}]);" for i in range(n_in))
        scatter = " ".join(f"scatter_row(s{k} + at, p[{n_in + k}], j0, cnt, it.inner[{n_in + k}]);"
                           for k in range(len(self.OT)))
        buffered = self.body(lambda i, t: f"g{i}[j]", lambda k, t, r: f"s{k}[j] = {r};")
        simd = f"#pragma omp simd{self.red}"
        n_out = len(self.OT)
        keep = " ".join(f"outp[q][{k}] = p[{n_in + k}];" for k in range(n_out))
        back = " ".join(f"p[{n_in + k}] = outp[q][{k}];" for k in range(n_out))
        loop = "\n".join([
            f"char* p[{self.nops}];",
            "for (npy_intp r = lo; r < hi; r++) {",
            f"    if (G == 1 && unit) {{ it.row(r, p); {hoisted}",
            f"        {simd}",
            f"        for (npy_intp j = 0; j < len; j++) {{ {fast} }}",
            "        continue;",
            "    }",
            # Through the buffers: a group of G short rows, or a long row CHUNK at a time.
            f"    for (npy_intp j0 = 0; j0 < (G > 1 ? 1 : len); j0 += {CHUNK}) {{",
            f"        const npy_intp nr = G > 1 ? (rows - r * G < G ? rows - r * G : G) : 1, "
            f"cnt = G > 1 ? len : (len - j0 < {CHUNK} ? len - j0 : {CHUNK}), m = nr * cnt;",
            f"        {decls} npy_intp idx[NPY_MAXDIMS]; char* outp[{CHUNK}][{n_out}];",
            "        it.seek(G > 1 ? r * G : r, idx, p);",
            f"        for (npy_intp q = 0, at = 0; q < nr; q++, at += cnt, it.next(idx, p)) {{ {gather} {keep} }}",
            f"        {simd}",
            f"        for (npy_intp j = 0; j < m; j++) {{ {buffered} }}",
            f"        for (npy_intp q = 0, at = 0; q < nr; q++, at += cnt) {{ {back} {scatter} }}",
            "    }",
            "}"])
        return "\n".join([
            f"Arr* ops[] = {{{', '.join(self.ins + c.outs)}}};",
            f"Strided it; it.init({self.nd}, dims, {self.nops}, ops);",
            f"const bool unit = {unit};",
            "const npy_intp rows = it.rows, len = it.len;",
            # Short rows (10 classes) of a loop that calls vector math are worked G at a time
            # through the buffers: one vector loop over G * len elements instead of G loops
            # that are mostly remainder, each remainder element a scalar call.
            f"const npy_intp G = {int(self.calls_vector_math())} && len <= {CHUNK // 4} ? {CHUNK} / len : 1, "
            "groups = (rows + G - 1) / G;"]
            + self.spans("groups", f"n > {c.renderer.parallel_threshold} && groups > 1", 1, loop))


CODE = {Elemwise: render, Fused: render}
