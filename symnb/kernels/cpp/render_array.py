"""C++ code for shape and indexing ops (stage "backend renderer"): transposes, reshapes and
basic indexing as views, the rest into reusable buffers; helpers live in array.h.
"""
from __future__ import annotations

from ...core.ops import Alloc, Arange, DimShuffle, Eye, IncSubtensor, Join, MakeVector, Reshape, Shape, Subtensor
from .scalar import CTYPE, NPY

IDX_INT, IDX_SLICE, IDX_ARRAY = 0, 1, 2
PART_NONE, PART_CONST, PART_SYM = 0, 1, 2


def _part(p):
    if p is None:
        return [PART_NONE, 0]
    return [PART_SYM, 0] if p == "?" else [PART_CONST, int(p)]


def index_spec(idx) -> list:
    """The flat int64 encoding of an index that array.h's IndexReader walks."""
    spec = []
    for e in idx:
        if e == "a":
            spec.append(IDX_ARRAY)
        elif isinstance(e, tuple):
            spec += [IDX_SLICE] + _part(e[1]) + _part(e[2]) + _part(e[3])
        else:
            spec += [IDX_INT] + _part(e)
    return spec


def _index_decls(c, idx):
    syms = c.ins[1:] if isinstance(c.node.op, Subtensor) else c.ins[2:]
    return [f"static const int64_t spec[] = {{{', '.join(f'{s}LL' for s in index_spec(idx)) or '0'}}};",
            f"Arr* syms[] = {{{', '.join(syms) or 'NULL'}}};"]


def view_result(c, call):
    return f"{c.outs[0]} = {call};\nif (!{c.outs[0]}) return -1;"


def dimshuffle(c):
    order = [-1 if o == "x" else o for o in c.node.op.order]
    return "\n".join([f"static const int order[] = {{{', '.join(map(str, order)) or '0'}}};",
                      view_result(c, f"dimshuffle(S, {c.k}, {c.ins[0]}, {len(order)}, order)")])


def reshape(c):
    return view_result(c, f"reshape(S, {c.k}, {c.ins[0]}, {c.ins[1]}, {c.node.op.ndim})")


def _pointwise(c):
    """x[i, j, ...] with one integer index vector per axis: gathered and scattered in C."""
    op, x = c.node.op, c.node.inputs[0]
    syms = c.node.inputs[1:] if isinstance(op, Subtensor) else c.node.inputs[2:]
    return (len(op.idx) == x.ndim and all(e == "a" for e in op.idx) and x.dtype in CTYPE
            and all(v.ndim == 1 and v.dtype != "bool" for v in syms))


def subtensor(c):
    idx = c.node.op.idx
    if "a" not in idx:
        return "\n".join(_index_decls(c, idx) + [view_result(c, f"subtensor(S, {c.k}, {c.ins[0]}, {len(idx)}, spec, syms)")])
    generic = view_result(c, f"advanced_subtensor(S, {c.k}, {c.ins[0]}, {len(idx)}, spec, syms)")
    if not _pointwise(c):
        return "\n".join(_index_decls(c, idx) + [generic])
    T = CTYPE[c.node.inputs[0].dtype]
    return "\n".join(_index_decls(c, idx) + [
        f"npy_intp L[1];",
        f"if (points({len(idx)}, syms, L)) {{",
        c.buffer(0, 1, "L"),
        f"if (gather<{T}>(S, {c.k}, {c.ins[0]}, {len(idx)}, syms, {c.outs[0]}) < 0) return -1;",
        f"}} else {{\n{generic}\n}}"])


def inc_subtensor(c):
    op = c.node.op
    x = c.node.inputs[0]
    set_ = "true" if op.set_ else "false"
    generic = (f"if (inc_subtensor(S, {c.k}, {c.outs[0]}, {c.ins[0]}, {c.ins[1]}, {set_}, "
               f"{'true' if 'a' in op.idx else 'false'}, {len(op.idx)}, spec, syms) < 0) return -1;")
    lines = _index_decls(c, op.idx) + [c.buffer(0, x.ndim, f"PyArray_DIMS({c.ins[0]})")]
    if not _pointwise(c):
        return "\n".join(lines + [generic])
    T = CTYPE[x.dtype]
    return "\n".join(lines + [
        "npy_intp L[1]; int rc = 1;",
        f"if (points({len(op.idx)}, syms, L)) {{",
        f"    if (copy_into({c.outs[0]}, {c.ins[0]}) < 0) {c.fail()}",
        f"    rc = scatter<{T}>(S, {c.k}, {c.outs[0]}, {len(op.idx)}, syms, {c.ins[1]}, {set_});",
        "    if (rc < 0) return -1;",
        "}",
        f"if (rc == 1) {{\n{generic}\n}}"])


def alloc(c):
    value, shp = c.node.inputs
    n = c.node.outputs[0].ndim
    bc = [1 if s == 1 else 0 for s in value.type.shape]
    return "\n".join([
        f"static const bool bc[] = {{{', '.join(map(str, bc)) or '0'}}};",
        f"npy_intp dims[{max(n, 1)}] = {{0}};",
        f"for (int d = 0; d < {n}; d++) dims[d] = (npy_intp)at_i64({c.ins[1]}, d);",
        c.buffer(0, n, "dims"),
        f"if (alloc(S, {c.k}, {c.outs[0]}, {c.ins[0]}, bc) < 0) return -1;"])


def shape(c):
    nd = c.node.inputs[0].ndim
    dims = [f"PyArray_DIM({c.ins[0]}, {d})" for d in range(nd)]
    return "\n".join([
        f"int64_t vals[{max(nd, 1)}] = {{{', '.join(dims) or '0'}}};",
        f"{c.outs[0]} = int_vector({c.slot()}, {nd}, vals);",
        f"if (!{c.outs[0]}) {c.fail()}"])


def make_vector(c):
    out = c.node.outputs[0]
    if out.dtype not in CTYPE or any(i.dtype not in CTYPE for i in c.node.inputs):
        return None
    T = CTYPE[out.dtype]
    n = len(c.ins)
    sets = [f"o[{j}] = ({T})get<{CTYPE[v.dtype]}>({x});" for j, (x, v) in enumerate(zip(c.ins, c.node.inputs))]
    return "\n".join([f"npy_intp dims[1] = {{{n}}};", c.buffer(0, 1, "dims"),
                      f"{T}* o = ({T}*)PyArray_DATA({c.outs[0]});", *sets])


def join(c):
    nd = c.node.outputs[0].ndim
    axis = c.node.op.axis % nd
    return "\n".join([
        f"Arr* xs[] = {{{', '.join(c.ins)}}};",
        f"npy_intp dims[{nd}];",
        f"if (join_shape(S, {c.k}, {len(c.ins)}, xs, {axis}, dims) < 0) return -1;",
        c.buffer(0, nd, "dims"),
        f"if (join(S, {c.k}, {c.outs[0]}, {len(c.ins)}, xs, {axis}) < 0) return -1;"])


def arange(c):
    a, b, s = (f"(PyObject*){x}" for x in c.ins)
    out = c.outs[0]
    generic = (f"{out} = (Arr*)PyArray_ArangeObj({a}, {b}, {s}, PyArray_DescrFromType({NPY[c.node.op.dtype]}));\n"
               f"if (!{out}) {c.fail()}")
    if c.node.op.dtype != "int64" or any(v.dtype not in SIGNED for v in c.node.inputs):
        return generic
    # Integer ranges (the row index of a cross-entropy pick) are filled here: NumPy's
    # PyArray_ArangeObj costs microseconds of Python number handling per call.
    return "\n".join([f"npy_intp L[1];",
                      f"if (int_range_length(get_int({c.ins[0]}), get_int({c.ins[1]}), get_int({c.ins[2]}), L)) {{",
                      c.buffer(0, 1, "L"),
                      f"int64_t* o = (int64_t*)PyArray_DATA({out}); const int64_t a0 = get_int({c.ins[0]}), "
                      f"s0 = get_int({c.ins[2]});",
                      "for (npy_intp i = 0; i < L[0]; i++) o[i] = a0 + i * s0;",
                      f"}} else {{\n{generic}\n}}"])


SIGNED = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32")


def eye(c):
    dtype = c.node.op.dtype
    if dtype not in CTYPE:
        return None
    n, m, k = c.ins
    return "\n".join([f"npy_intp dims[2] = {{(npy_intp)get_int({n}), (npy_intp)get_int({m})}};",
                      c.buffer(0, 2, "dims"), f"eye<{CTYPE[dtype]}>({c.outs[0]}, get_int({k}));"])


CODE = {DimShuffle: dimshuffle, Reshape: reshape, Subtensor: subtensor, IncSubtensor: inc_subtensor,
        Alloc: alloc, Shape: shape, MakeVector: make_vector, Join: join, Arange: arange, Eye: eye}
