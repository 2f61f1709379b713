"""C++ code for reductions, BLAS products, (log-)softmax and random draws (stage "backend
renderer"); the loops themselves are templates in reduce.h, blas.h and philox.h.
"""
from __future__ import annotations

import numpy as np

from ...core.ops import BatchedMatmul, Dot, LogSoftmax, LogSoftmaxGrad, Reduce, Softmax
from ...core.ops.blas import Gemm, Gemv
from ...core.random import RandomDraw
from .scalar import CTYPE, NPY

BLAS_DTYPES = ("float32", "float64")
REDUCE_KINDS = {"sum": "SUM", "prod": "PROD", "max": "MAX", "min": "MIN", "all": "ALL", "any": "ANY"}


def reduce_(c):
    node, op = c.node, c.node.op
    x, out = node.inputs[0], node.outputs[0]
    if x.dtype not in CTYPE or out.dtype not in CTYPE:
        return None
    red = [1 if d in op.axis else 0 for d in range(x.ndim)]
    if op.keepdims:
        dims = [f"{1 if r else f'PyArray_DIM({c.ins[0]}, {d})'}" for d, r in enumerate(red)]
    else:
        dims = [f"PyArray_DIM({c.ins[0]}, {d})" for d, r in enumerate(red) if not r]
    TI, TO = CTYPE[x.dtype], CTYPE[out.dtype]
    if op.kind in ("argmax", "argmin"):
        call = f"argreduce<{TI}, {'true' if op.kind == 'argmax' else 'false'}>"
    else:
        call = f"reduce<{REDUCE_KINDS[op.kind]}, {TI}, {TO}>"
    return "\n".join([
        f"static const bool red[] = {{{', '.join(map(str, red)) or '0'}}};",
        f"npy_intp dims[{max(len(dims), 1)}] = {{{', '.join(dims) or '0'}}};",
        c.buffer(0, len(dims), "dims"),
        f"if ({call}(S, {c.k}, {c.ins[0]}, red, {c.outs[0]}) < 0) return -1;"])


def _blas_ok(node):
    dt = node.outputs[0].dtype
    return dt in BLAS_DTYPES and all(i.dtype == dt for i in node.inputs if i.ndim)


def _in_out_dtype(c):
    """(statements, C names) of the inputs converted to the output's dtype where they differ."""
    dt = c.node.outputs[0].dtype
    lines, names = [], []
    for j, (x, v) in enumerate(zip(c.ins, c.node.inputs)):
        if v.dtype == dt:
            names.append(x)
            continue
        lines.append(f"Ref in{j}(PyArray_FromArray({x}, PyArray_DescrFromType({NPY[dt]}), NPY_ARRAY_ALIGNED)); "
                     f"if (!in{j}.p) {c.fail()}")
        names.append(f"in{j}.a()")
    return lines, names


def dot(c):
    node = c.node
    if node.outputs[0].dtype not in BLAS_DTYPES:
        return None
    a, b = node.inputs
    lines, (A, B) = _in_out_dtype(c)
    T = CTYPE[node.outputs[0].dtype]
    if a.ndim == 1 and b.ndim == 1:
        return "\n".join(lines + [c.buffer(0, 0, "NULL"),
                                  f"if (dot<{T}>(S, {c.k}, {A}, {B}, {c.outs[0]}) < 0) return -1;"])
    if a.ndim == 2 and b.ndim == 2:
        c.need("SYMNB_PRODUCT_ENTRY", T)
        return "\n".join(lines + [
            f"npy_intp dims[2] = {{PyArray_DIM({A}, 0), PyArray_DIM({B}, 1)}};", c.buffer(0, 2, "dims"),
            f"if (gemm<{T}>(S, {c.k}, 1, {A}, {B}, 0, {c.outs[0]}, true) < 0) return -1;"])
    if a.ndim == 1:     # v @ M = M.T @ v
        lines.append("static const int order[] = {1, 0};")
        lines.append(f"Ref mt(dimshuffle(S, {c.k}, {B}, 2, order)); if (!mt.p) return -1;")
        A, B = "mt.a()", A
    return "\n".join(lines + [
        f"npy_intp dims[1] = {{PyArray_DIM({A}, 0)}};", c.buffer(0, 1, "dims"),
        f"if (gemv<{T}>(S, {c.k}, 1, {A}, {B}, 0, {c.outs[0]}, true) < 0) return -1;"])


def scaled_product(c):
    """gemm/gemv: beta*C + alpha*A@B, written over C when the rewriter marked it in place."""
    node = c.node
    if not _blas_ok(node):
        return None
    C, alpha, A, B, beta = c.ins
    T = CTYPE[node.outputs[0].dtype]
    nd = node.inputs[0].ndim
    fn = "gemm" if nd == 2 else "gemv"
    if fn == "gemm":
        c.need("SYMNB_PRODUCT_ENTRY", T)
    out = c.outs[0]
    own = "\n".join([
        c.buffer(0, nd, f"PyArray_DIMS({C})"),
        f"if (copy_into({out}, {C}) < 0) {c.fail()}"])
    if node.op.destroy_map:
        own = (f"if ({c.may_destroy(0)} && PyArray_IS_C_CONTIGUOUS({C}) && !overlap({C}, {A}) && "
               f"!overlap({C}, {B})) {{ {out} = {C}; Py_INCREF({C}); }}\nelse {{\n{own}\n}}")
    return "\n".join([
        own,
        f"if ({fn}<{T}>(S, {c.k}, get<{T}>({alpha}), {A}, {B}, get<{T}>({beta}), {out}, false) < 0) return -1;"])


def batched_matmul(c):
    node = c.node
    if node.outputs[0].dtype not in BLAS_DTYPES:
        return None
    a, b = node.inputs
    lines, (A, B) = _in_out_dtype(c)
    T = CTYPE[node.outputs[0].dtype]
    nd = a.ndim
    c.need("SYMNB_PRODUCT_ENTRY", T)
    flags = [[1 if s == 1 else 0 for s in v.type.shape[:-2]] for v in (a, b)]
    return "\n".join(lines + [
        f"static const bool bca[] = {{{', '.join(map(str, flags[0]))}}}, bcb[] = {{{', '.join(map(str, flags[1]))}}};",
        f"npy_intp dims[{nd}];",
        f"if (batch_shape(S, {c.k}, {A}, {B}, bca, bcb, dims) < 0) return -1;",
        c.buffer(0, nd, "dims"),
        f"if (batched<{T}>(S, {c.k}, {A}, {B}, {c.outs[0]}) < 0) return -1;"])


def softmax(c):
    node = c.node
    x = node.inputs[0]
    if x.dtype not in BLAS_DTYPES:
        return None
    log = "true" if isinstance(node.op, LogSoftmax) else "false"
    return "\n".join([
        f"Ref xc(contiguous({c.ins[0]})); if (!xc.p) {c.fail()}",
        c.buffer(0, x.ndim, f"PyArray_DIMS({c.ins[0]})"),
        f"if (softmax<{CTYPE[x.dtype]}, {log}>(S, {c.k}, xc.a(), {node.op.axis % max(x.ndim, 1)}, {c.outs[0]}) < 0) "
        "return -1;"])


def log_softmax_grad(c):
    node = c.node
    g = node.inputs[0]
    if g.dtype not in BLAS_DTYPES or g.ndim == 0:
        return None
    return "\n".join([
        f"Ref gc(contiguous({c.ins[0]})), lc(contiguous({c.ins[1]})); if (!gc.p || !lc.p) {c.fail()}",
        c.buffer(0, g.ndim, f"PyArray_DIMS({c.ins[0]})"),
        f"if (log_softmax_grad<{CTYPE[g.dtype]}>(S, {c.k}, gc.a(), lc.a(), {node.op.axis % max(g.ndim, 1)}, "
        f"{c.outs[0]}) < 0) return -1;"])


def _ct(*dtypes):
    return CTYPE[np.result_type(*dtypes).name]


def random_draw(c):
    """Philox words in C++; the transforms in the types the reference computes them in."""
    node, op = c.node, c.node.op
    state, size, *params = c.ins
    pv = node.inputs[2:]
    sample = node.outputs[1]
    if any(v.dtype not in CTYPE for v in node.inputs + node.outputs) or op.dtype not in CTYPE:
        return None
    nd = sample.ndim
    TO = CTYPE[op.dtype]
    args = f"S, {c.k}, {c.outs[1]}"
    tail = f"w, {nd}, shape, n"
    if op.dist == "binomial":
        nwords = "2 * n * trials"
        pre = [f"int64_t trials = get_int({params[0]});",
               f"if (trials < 0) return fail(S, {c.k}, PyExc_ValueError, \"binomial: n must be non-negative, got %ld\", "
               "(long)trials);",
               f"if (trials && n > INT64_MAX / 4 / trials) return fail(S, {c.k}, PyExc_ValueError, \"sample too large\");"]
        draw = f"draw_binomial<{CTYPE[pv[1].dtype]}, {TO}>({args}, trials, {params[1]}, {tail})"
    else:
        fdt = op.dtype
        per = 2 if fdt == "float64" else 1
        TU = CTYPE[fdt]
        if op.dist == "uniform":
            lo, hi = pv
            td = np.result_type(hi.dtype, lo.dtype)
            tm = np.result_type(td, fdt)
            types = [TU, CTYPE[td.name], CTYPE[tm.name], _ct(lo.dtype, tm), CTYPE[lo.dtype], CTYPE[hi.dtype], TO]
            nwords = f"{per} * n"
            draw = f"draw_uniform<{', '.join(types)}>({args}, {params[0]}, {params[1]}, {tail})"
        else:
            loc, scale = pv
            tm = np.result_type(scale.dtype, fdt)
            types = [TU, CTYPE[tm.name], _ct(loc.dtype, tm), CTYPE[loc.dtype], CTYPE[scale.dtype], TO]
            nwords = f"{per} * (n + n % 2)"
            draw = f"draw_normal<{', '.join(types)}>({args}, {params[0]}, {params[1]}, {tail})"
        pre = [f"if (n > INT64_MAX / 8) return fail(S, {c.k}, PyExc_ValueError, \"sample too large\");"]
    # The words' buffer is kept between calls (a fresh one page-faults in every call).
    general = [f"npy_intp wd[1] = {{{nwords}}};",
               f"Ref words(buffer({c.slot()}, 1, wd, NPY_UINT32)); if (!words.p) {c.fail()}",
               "const uint32_t* w = (const uint32_t*)PyArray_DATA(words.a());",
               "blocks = philox_words(key, ctr, wd[0], (uint32_t*)w);",
               f"if ({draw} < 0) return -1;"]
    if op.dist == "binomial":     # Bernoulli layers (RBM sampling): no words' buffer
        TP, p = CTYPE[pv[1].dtype], params[1]
        general = [f"if (trials == 1 && PyArray_IS_C_CONTIGUOUS({p}) && PyArray_ISALIGNED({p}) && "
                   f"PyArray_SIZE({p}) == n) {{",
                   f"blocks = bernoulli_direct<{TP}, {TO}>(key, ctr, (const {TP}*)PyArray_DATA({p}), "
                   f"({TO}*)PyArray_DATA({c.outs[1]}), n);",
                   "} else {", *general, "}"]
    return "\n".join([
        f"npy_intp shape[{max(nd, 1)}] = {{0}}, n = 0;",
        f"if (check_state(S, {c.k}, {state}, {size}, {nd}, shape, &n) < 0) return -1;",
        f"const uint64_t key = *(uint64_t*)PyArray_BYTES({state}), "
        f"ctr = *(uint64_t*)(PyArray_BYTES({state}) + PyArray_STRIDE({state}, 0));",
        *pre,
        c.buffer(1, nd, "shape"),
        "uint64_t blocks;",
        *general,
        "npy_intp two[1] = {2};",
        c.buffer(0, 1, "two"),
        f"((uint64_t*)PyArray_DATA({c.outs[0]}))[0] = key;",
        f"((uint64_t*)PyArray_DATA({c.outs[0]}))[1] = ctr + blocks;"])


CODE = {Reduce: reduce_, Dot: dot, Gemm: scaled_product, Gemv: scaled_product, BatchedMatmul: batched_matmul,
        Softmax: softmax, LogSoftmax: softmax, LogSoftmaxGrad: log_softmax_grad, RandomDraw: random_draw}

