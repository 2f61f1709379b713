"""2-d pooling over the last two axes (Theano's pool_2d: max, sum, average with or without
the padding) and its gradients. Reference semantics are Theano's Pool.perform: a max or
a sum ignores the padding, "average_inc_pad" counts it, "average_exc_pad" does not, and
windows cut by the border (ignore_border=False) reduce over what they cover.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..graph import as_variable
from ..types import TensorType, is_float
from .base import Op, apply_op
from . import elemwise as E

MODES = ("max", "sum", "average_inc_pad", "average_exc_pad")


def pool_length(n, ws, stride, pad, ignore_border):
    """Number of windows along one axis (Theano's Pool.out_shape)."""
    if n is None:
        return None
    if ignore_border:
        return max(0, (n + 2 * pad - ws) // stride + 1)
    if stride >= ws:
        return (n - 1) // stride + 1
    return max(0, (n - 1 - ws + stride) // stride) + 1


def window_counts(n, out, ws, stride, pad, include_pad):
    """How many elements each window along one axis averages over."""
    start = np.arange(out) * stride
    end = np.minimum(start + ws, n + 2 * pad)
    if not include_pad:
        start, end = np.maximum(start, pad), np.minimum(end, n + pad)
    return end - start


@dataclass(frozen=True)
class _Pool(Op):
    ws: tuple = (2, 2)
    stride: tuple = (2, 2)
    pad: tuple = (0, 0)
    ignore_border: bool = True
    mode: str = "max"

    @property
    def name(self):
        return f"{type(self).__name__.lower()}{{{self.mode}}}"

    def out_shape(self, shp):
        return tuple(shp[:-2]) + tuple(pool_length(shp[-2 + i], self.ws[i], self.stride[i], self.pad[i],
                                                   self.ignore_border) for i in range(2))

    def _same(self, op_class):
        """op_class with this op's window, stride, padding, border and mode."""
        return op_class(self.ws, self.stride, self.pad, self.ignore_border, self.mode)

    def _check_max_pair(self, what, x, out, third):
        """The inputs of MaxPoolGrad or MaxPoolGradGrad: x, pooled x and a third (name, value)."""
        self._check(x)
        name, v = third
        if out.type.dtype != x.dtype or v.type.dtype != x.dtype:
            raise TypeError(f"{what}: x, out and {name} must share one dtype, got {x.type}, {out.type}, {v.type}")

    def _adjoint_grad(self, op_class, inputs, gouts):
        """The gradient of MaxPoolGrad or MaxPoolGradGrad (inputs x, pooled x, and a third,
        in which each is linear, with the other as its adjoint); in x and the pooled x it is
        piecewise constant (the maxima move only at ties)."""
        x, out, _ = inputs
        return [E.zeros_like(x), E.zeros_like(out), apply_op(self._same(op_class), [x, out, gouts[0]])]

    def _check(self, x):
        if x.ndim < 2 or not is_float(x.dtype):
            raise TypeError(f"pool_2d: the input must be floats of 2 or more dimensions, got {x.type}")

    def _extended(self, x, fill):
        """x padded with `fill` to cover every window: explicit padding and cut windows."""
        H, W = x.shape[-2:]
        oh, ow = self.out_shape(x.shape)[-2:]
        (ph, pw), (sh, sw) = self.pad, self.stride
        eh, ew = (oh - 1) * sh + self.ws[0], (ow - 1) * sw + self.ws[1]
        widths = [(0, 0)] * (x.ndim - 2) + [(ph, max(eh - H - ph, 0)), (pw, max(ew - W - pw, 0))]
        return np.pad(x, widths, constant_values=fill), oh, ow

    def _slices(self, oh, ow):
        """For each window offset (a, b): the index selecting it in every window at once."""
        (sh, sw) = self.stride
        if oh == 0 or ow == 0:      # no windows (a slice below would then wrap around)
            return
        for a in range(self.ws[0]):
            for b in range(self.ws[1]):
                yield (Ellipsis, slice(a, a + sh * (oh - 1) + 1, sh), slice(b, b + sw * (ow - 1) + 1, sw))

    def _counts(self, H, W, oh, ow):
        inc = self.mode == "average_inc_pad"
        return np.outer(window_counts(H, oh, self.ws[0], self.stride[0], self.pad[0], inc),
                        window_counts(W, ow, self.ws[1], self.stride[1], self.pad[1], inc))

    def _crop(self, g, H, W):
        (ph, pw) = self.pad
        return np.ascontiguousarray(g[..., ph:ph + H, pw:pw + W])


@dataclass(frozen=True)
class Pool(_Pool):
    """The pooled input: one value per window of the last two axes."""

    def infer(self, x):
        self._check(x)
        return [TensorType(x.dtype, self.out_shape(x.type.shape))]

    def perform(self, x):
        H, W = x.shape[-2:]
        if self.mode == "max":
            ext, oh, ow = self._extended(x, -np.inf if x.size else 0)
            out = np.full(x.shape[:-2] + (oh, ow), -np.inf, dtype=x.dtype)
            for s in self._slices(oh, ow):
                np.maximum(out, ext[s], out=out)
            return (out,)
        ext, oh, ow = self._extended(x, 0)
        out = np.zeros(x.shape[:-2] + (oh, ow), dtype=x.dtype)
        for s in self._slices(oh, ow):
            out += ext[s]
        if self.mode != "sum":
            out /= self._counts(H, W, oh, ow).astype(x.dtype)
        return (out,)

    def grad(self, inputs, outputs, gouts):
        x, gz = inputs[0], gouts[0]
        if self.mode == "max":
            return [apply_op(self._same(MaxPoolGrad), [x, outputs[0], gz])]
        return [apply_op(self._same(AveragePoolGrad), [x, gz])]


@dataclass(frozen=True)
class MaxPoolGrad(_Pool):
    """Max pooling's gradient, inputs (x, pooled x, gz): each window's gradient goes to the
    elements equal to its maximum (all of them on a tie, as Theano), summed over windows."""

    def infer(self, x, out, gz):
        self._check_max_pair("max pool gradient", x, out, ("gz", gz))
        return [x.type]

    def perform(self, x, out, gz):
        H, W = x.shape[-2:]
        if out.shape != gz.shape or out.shape != self.out_shape(x.shape):
            raise ValueError(f"max pool gradient: pooled shape {out.shape} and gradient shape {gz.shape} do not "
                             f"fit an input of shape {x.shape}")
        ext, oh, ow = self._extended(x, -np.inf if x.size else 0)
        g = np.zeros(ext.shape, dtype=x.dtype)
        for s in self._slices(oh, ow):
            g[s] += np.where(ext[s] == out, gz, 0)
        return (self._crop(g, H, W),)

    def grad(self, inputs, outputs, gouts):
        return self._adjoint_grad(MaxPoolGradGrad, inputs, gouts)


@dataclass(frozen=True)
class MaxPoolGradGrad(_Pool):
    """The adjoint of MaxPoolGrad in gz, inputs (x, pooled x, ggx): per window, the sum of
    ggx over the elements equal to its maximum (second derivatives through max pooling)."""

    def infer(self, x, out, ggx):
        self._check_max_pair("max pool second gradient", x, out, ("ggx", ggx))
        return [out.type]

    def perform(self, x, out, ggx):
        if out.shape != self.out_shape(x.shape) or ggx.shape != x.shape:
            raise ValueError(f"max pool second gradient: pooled shape {out.shape} and ggx shape {ggx.shape} do "
                             f"not fit an input of shape {x.shape}")
        ext, oh, ow = self._extended(x, -np.inf if x.size else 0)
        gext, _, _ = self._extended(ggx, 0)
        ggz = np.zeros(out.shape, dtype=x.dtype)
        for s in self._slices(oh, ow):
            ggz += np.where(ext[s] == out, gext[s], 0)
        return (ggz,)

    def grad(self, inputs, outputs, gouts):
        return self._adjoint_grad(MaxPoolGrad, inputs, gouts)


@dataclass(frozen=True)
class AveragePoolGrad(_Pool):
    """Sum and average pooling's gradient, inputs (x, gz): gz spread over each window
    (divided by the window's count for averages)."""

    def infer(self, x, gz):
        self._check(x)
        if gz.type.dtype != x.dtype:
            raise TypeError(f"average pool gradient: x and gz must share one dtype, got {x.type}, {gz.type}")
        return [x.type]

    def perform(self, x, gz):
        H, W = x.shape[-2:]
        oh, ow = self.out_shape(x.shape)[-2:]
        if gz.shape != x.shape[:-2] + (oh, ow):
            raise ValueError(f"average pool gradient: gradient shape {gz.shape} does not fit an input of "
                             f"shape {x.shape}")
        ext, _, _ = self._extended(x, 0)
        g = np.zeros(ext.shape, dtype=x.dtype)
        gzc = gz if self.mode == "sum" else gz / self._counts(H, W, oh, ow).astype(x.dtype)
        for s in self._slices(oh, ow):
            g[s] += gzc
        return (self._crop(g, H, W),)

    def grad(self, inputs, outputs, gouts):
        # Linear in gz; its adjoint is the pooling itself (of the padded, not cropped, input).
        return [None, apply_op(self._same(Pool), [gouts[0]])]


def pool_2d(input, ws=None, ignore_border=True, stride=None, pad=(0, 0), mode="max", ds=None, st=None,
            padding=None):
    """Theano's pool_2d over the last two axes; `ds`, `st`, `padding` are its old names for
    ws, stride, pad. stride defaults to ws; padding needs ignore_border=True."""
    ws = ws if ws is not None else ds
    stride = stride if stride is not None else (st if st is not None else ws)
    pad = padding if padding is not None else pad
    if ws is None:
        raise ValueError("pool_2d: ws (the window shape) is required")
    if mode == "average":
        mode = "average_inc_pad"
    if mode == "max_deterministic":
        mode = "max"
    if mode not in MODES:
        raise ValueError(f"pool_2d: mode must be one of {MODES}, got {mode!r}")
    ws, stride, pad = (tuple(int(v) for v in t) for t in (ws, stride, pad))
    if len(ws) != 2 or len(stride) != 2 or len(pad) != 2 or min(ws + stride) < 1 or min(pad) < 0:
        raise ValueError(f"pool_2d: ws and stride must be two positive ints and pad two non-negative ints, "
                         f"got ws={ws}, stride={stride}, pad={pad}")
    if pad != (0, 0) and not ignore_border:
        raise ValueError("pool_2d: padding works only with ignore_border=True")
    if pad[0] >= ws[0] or pad[1] >= ws[1]:
        raise ValueError(f"pool_2d: the padding {pad} must be smaller than the window {ws}")
    return apply_op(Pool(ws, stride, pad, bool(ignore_border), mode), [as_variable(input)])
