"""C++ loops for Elemwise and Fused nodes (stage "backend renderer").

One loop per node: a flat path when every operand is a full-size C-contiguous array or a
scalar (`omp simd`, vectorized transcendental calls, threads above a size threshold), and
a strided path over rows for broadcasting and views. Statically typed broadcasting is
checked at run time before any element is touched.
"""
from __future__ import annotations

from ...core.graph import Constant, toposort
from ...core.ops import Elemwise, Fused
from ...core.ops.base import apply_op
from ...core.ops.fused import scalar_placeholder
from .scalar import CTYPE, is_checked, literal

MAX_OPERANDS = 64


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
    stmts, results, checked = code
    nd = node.outputs[0].ndim
    ins = [c.ins[j] for j in operands]
    bc = []
    for j in operands:
        v = node.inputs[j]
        bc += [1 if s == 1 else 0 for s in v.type.shape] + [0] * (32 - v.ndim)
    lines = [f"Arr* in[] = {{{', '.join(ins) or 'NULL'}}};",
             f"static const signed char bc[] = {{{', '.join(map(str, bc)) or '0'}}};",
             f"npy_intp dims[{max(nd, 1)}] = {{0}};",
             f"if (broadcast(S, {c.k}, {nd}, dims, {len(ins)}, in, bc) < 0) return -1;"]
    destroy = dict(getattr(node.op, "destroy_map", None) or {})
    for k, o in enumerate(node.outputs):
        alloc = c.buffer(k, nd, "dims")
        if k in destroy:
            j = destroy[k]
            x = c.ins[j]
            alloc = (f"if ({c.may_destroy(j)} && PyArray_IS_C_CONTIGUOUS({x}) && same_dims({x}, {nd}, dims)) "
                     f"{{ {c.outs[k]} = {x}; Py_INCREF({x}); }}\nelse {{\n{alloc}\n}}")
        lines.append(alloc)
    lines.append(f"const npy_intp n = PyArray_SIZE({c.outs[0]});")
    # Operands typed as all-ones (scalars) are read once; others must be full size to go flat.
    scalar = [all(s == 1 for s in node.inputs[j].type.shape) for j in operands]
    flat = " && ".join(f"PyArray_IS_C_CONTIGUOUS({x}) && PyArray_SIZE({x}) == n"
                       for x, s in zip(ins, scalar) if not s) or "1"
    T = [CTYPE[node.inputs[j].dtype] for j in operands]
    OT = [CTYPE[o.dtype] for o in node.outputs]
    lines += [f"const char* b{i} = PyArray_BYTES({x});" for i, x in enumerate(ins)]
    lines += [f"char* q{k} = PyArray_BYTES({o});" for k, o in enumerate(c.outs)]
    # Loops that can fail (integer division) return error bits from each lambda call.
    err_decl = "int err = 0; " if checked else ""
    ret = " return err;" if checked else ""
    lam = "int" if checked else "void"

    def body(load, store):
        loads = [f"const {t} x{j} = {load(i, t)};" for i, (j, t) in enumerate(zip(operands, T))]
        stores = [store(k, t, r) for k, (t, r) in enumerate(zip(OT, results))]
        return " ".join(loads + stmts + stores)

    flat_body = body(lambda i, t: f"(({'const ' + t}*)b{i})[{'0' if scalar[i] else 'i'}]",
                     lambda k, t, r: f"(({t}*)q{k})[i] = {r};")
    strided_body = body(lambda i, t: f"*(const {t}*)(p[{i}] + j * it.inner[{i}])",
                        lambda k, t, r: f"*({t}*)(p[{len(ins) + k}] + j * it.inner[{len(ins) + k}]) = {r};")
    call = "err |= elem(i);" if checked else "elem(i);"
    red = " reduction(|:err)" if checked else ""
    T_par = c.renderer.parallel_threshold
    lines += [
        "int err = 0;" if checked else "",
        f"if ({flat}) {{",
        f"    auto elem = [&](npy_intp i) -> {lam} {{ {err_decl}{flat_body}{ret} }};",
        f"    if (n > {T_par}) {{",
        f"        #pragma omp parallel for simd num_threads(n_threads) schedule(static){red}",
        f"        for (npy_intp i = 0; i < n; i++) {call}",
        "    } else {",
        f"        #pragma omp simd{red}",
        f"        for (npy_intp i = 0; i < n; i++) {call}",
        "    }",
        "} else if (n) {",
        f"    Arr* ops[] = {{{', '.join(ins + c.outs)}}};",
        f"    Strided it; it.init({nd}, dims, {len(ins) + len(c.outs)}, ops);",
        f"    auto row = [&](npy_intp r) -> {lam} {{ {err_decl}char* p[{len(ins) + len(c.outs)}]; it.row(r, p);",
        f"        for (npy_intp j = 0; j < it.len; j++) {{ {strided_body} }}{ret} }};",
        f"    const npy_intp rows = it.rows;",
        f"    if (n > {T_par} && rows > 1) {{",
        f"        #pragma omp parallel for num_threads(n_threads) schedule(static){red}",
        f"        for (npy_intp i = 0; i < rows; i++) {'err |= row(i);' if checked else 'row(i);'}",
        "    } else {",
        f"        for (npy_intp i = 0; i < rows; i++) {'err |= row(i);' if checked else 'row(i);'}",
        "    }",
        "}",
    ]
    if checked:
        lines.append(f"if (err) {{ loop_error(err); return refail(S, {c.k}); }}")
    return "\n".join(ln for ln in lines if ln)


CODE = {Elemwise: render, Fused: render}
