"""C++ code for convolution and pooling (stage "backend renderer"): conv2d and its two
gradients as im2col + GEMM (conv.h), pool_2d and its gradients as loops (pooling.h).
`CODE` joins the renderer's op table; each builder asks for its header (NodeCode.include).
"""
from __future__ import annotations

from ...core.ops.conv import Conv2d, Conv2dGradFilters, Conv2dGradInputs
from ...core.ops.pool import MODES, AveragePoolGrad, MaxPoolGrad, Pool
from .scalar import CTYPE, NPY

DTYPES = ("float32", "float64")
ROLES = {Conv2d: "CONV_FORWARD", Conv2dGradInputs: "CONV_GRAD_INPUTS", Conv2dGradFilters: "CONV_GRAD_FILTERS"}
BORDERS = {"full": "BORDER_FULL", "half": "BORDER_HALF"}


def _dtype_ok(node):
    dt = node.outputs[0].dtype
    return dt in DTYPES and all(v.dtype == dt for v in node.inputs if v.dtype[0] == "f")


def conv(c):
    """Any of the three: operands made C-contiguous, geometry checked, then conv_run."""
    node, op = c.node, c.node.op
    if not _dtype_ok(node):
        return None
    T = CTYPE[node.outputs[0].dtype]
    c.include("conv.h")
    border = BORDERS.get(op.border, "BORDER_PADS") if isinstance(op.border, str) else "BORDER_PADS"
    ph, pw = op.border if isinstance(op.border, tuple) else (0, 0)
    shp = c.ins[2] if len(c.ins) == 3 else "nullptr"
    return "\n".join([
        f"Ref ac(contiguous({c.ins[0]})), bc(contiguous({c.ins[1]})); if (!ac.p || !bc.p) {c.fail()}",
        "ConvGeom g; npy_intp dims[4];",
        f"if (conv_setup(S, {c.k}, {ROLES[type(op)]}, {border}, {ph}, {pw}, {op.subsample[0]}, {op.subsample[1]}, "
        f"{op.dilation[0]}, {op.dilation[1]}, {str(op.filter_flip).lower()}, ac.a(), bc.a(), {shp}, &g, dims) < 0) "
        "return -1;",
        c.buffer(0, 4, "dims"),
        f"npy_intp sd[1] = {{conv_scratch(g, {ROLES[type(op)]})}};",
        f"Ref scratch(buffer({c.slot()}, 1, sd, {NPY[node.outputs[0].dtype]})); if (!scratch.p) {c.fail()}",
        f"conv_run<{T}>(g, {ROLES[type(op)]}, ac.a(), bc.a(), {c.outs[0]}, scratch.a());"])


def pool(c):
    """Pool and both gradients: x C-contiguous, the pooled shape computed, loops of pooling.h."""
    node, op = c.node, c.node.op
    if not _dtype_ok(node):
        return None
    T = CTYPE[node.outputs[0].dtype]
    c.include("pooling.h")
    x = node.inputs[0]
    nd = x.ndim
    lines = [
        f"Ref xc(contiguous({c.ins[0]})); if (!xc.p) {c.fail()}",
        f"PoolGeom g; npy_intp dims[{nd}];",
        f"pool_setup(xc.a(), {MODES.index(op.mode)}, {op.ws[0]}, {op.ws[1]}, {op.stride[0]}, {op.stride[1]}, "
        f"{op.pad[0]}, {op.pad[1]}, {str(op.ignore_border).lower()}, &g, dims);"]
    if isinstance(op, Pool):
        return "\n".join(lines + [
            c.buffer(0, nd, "dims"),
            f"if (pool_forward<{T}>(g, data<{T}>(xc.a()), data<{T}>({c.outs[0]})) < 0) {c.fail()}"])
    operands = ["pooled", "gz"] if isinstance(op, MaxPoolGrad) else ["gz"]
    for j, what in enumerate(operands, 1):
        lines += [f"Ref {what}(contiguous({c.ins[j]})); if (!{what}.p) {c.fail()}",
                  f"if (pool_check(S, {c.k}, \"{'the pooled input' if what == 'pooled' else 'the output gradient'}\", "
                  f"{what}.a(), {nd}, dims) < 0) return -1;"]
    pooled = f"data<{T}>(pooled.a())" if isinstance(op, MaxPoolGrad) else "nullptr"
    return "\n".join(lines + [
        c.buffer(0, nd, f"PyArray_DIMS({c.ins[0]})"),
        f"if (pool_backward<{T}>(g, data<{T}>(xc.a()), {pooled}, data<{T}>(gz.a()), data<{T}>({c.outs[0]})) < 0) "
        f"{c.fail()}"])


CODE = {Conv2d: conv, Conv2dGradInputs: conv, Conv2dGradFilters: conv,
        Pool: pool, MaxPoolGrad: pool, AveragePoolGrad: pool}
