"""2-d convolution (Theano's conv2d: NCHW images, OIHW filters) and its two gradients.

Three ops of one family: the forward map, its adjoint in the image (GradInputs) and in
the filters (GradFilters); each one's gradient is built from the other two, so every order
of differentiation stays in the family. Backends own the fast code (kernels/).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..graph import as_variable
from ..types import TensorType, is_float, result_dtype
from .base import Op, apply_op
from . import elemwise as E
from .shape import shape, static_entries


def resolve_pad(border, kh, kw, dilation):
    """(ph, pw) for a border mode and a kernel: "valid" 0, "full" the dilated kernel less
    one, "half" half the dilated kernel (rounded down), or the given pair."""
    dh, dw = dilation
    if border == "valid":
        return 0, 0
    if border == "full":
        return dh * (kh - 1), dw * (kw - 1)
    if border == "half":
        return dh * (kh // 2), dw * (kw // 2)
    return tuple(border)


def out_length(n, k, pad, stride, dil):
    """Output length along one axis: windows of the dilated kernel over the padded input."""
    if None in (n, k):
        return None
    return (n + 2 * pad - dil * (k - 1) - 1) // stride + 1


def _border(border_mode):
    if isinstance(border_mode, str):
        if border_mode not in ("valid", "full", "half"):
            raise ValueError(f"conv2d: border_mode must be 'valid', 'full', 'half', an int or a pair of ints, "
                             f"got {border_mode!r}")
        return border_mode
    pair = (border_mode, border_mode) if isinstance(border_mode, (int, np.integer)) else tuple(border_mode)
    if len(pair) != 2 or not all(isinstance(p, (int, np.integer)) and p >= 0 for p in pair):
        raise ValueError(f"conv2d: border_mode pads must be two non-negative ints, got {border_mode!r}")
    return tuple(int(p) for p in pair)


def _pair(v, what):
    pair = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(pair) != 2 or not all(isinstance(p, (int, np.integer)) and p >= 1 for p in pair):
        raise ValueError(f"conv2d: {what} must be two positive ints, got {v!r}")
    return tuple(int(p) for p in pair)


@dataclass(frozen=True)
class _Conv(Op):
    """Parameters shared by the family: border ("valid", "full", "half" or (ph, pw)),
    subsample (strides), filter_flip (True: convolution; False: correlation), dilation."""

    border: object = "valid"
    subsample: tuple = (1, 1)
    filter_flip: bool = True
    dilation: tuple = (1, 1)

    def geometry(self, H, W, kh, kw):
        """(ph, pw, OH, OW) for an image of H x W and a kernel of kh x kw (ints or None)."""
        ph, pw = resolve_pad(self.border, kh or 0, kw or 0, self.dilation)
        if isinstance(self.border, str) and self.border != "valid":
            ph, pw = (ph if kh is not None else None), (pw if kw is not None else None)
        oh = None if ph is None else out_length(H, kh, ph, self.subsample[0], self.dilation[0])
        ow = None if pw is None else out_length(W, kw, pw, self.subsample[1], self.dilation[1])
        return ph, pw, oh, ow

    def _check(self, what, *vs):
        for v in vs:
            if v.ndim != 4 or not is_float(v.dtype):
                raise TypeError(f"{self.name}: {what} must be 4-d floats, got {v.type}")
        if len({v.dtype for v in vs}) != 1:
            raise TypeError(f"{self.name}: operands must share one dtype, got {', '.join(str(v.type) for v in vs)}")

    @staticmethod
    def _shape_from(v, known):
        """The static shape a gradient's shape argument v gives, `known` where v's entry is not."""
        if v.ndim != 1 or v.dtype != "int64" or v.type.shape[0] not in (None, 4):
            raise TypeError(f"conv2d gradient: a shape argument must be an int64 vector of length 4, got {v.type}")
        return tuple(k if s is None else s for s, k in zip(static_entries(v, 4), known))

    def _gradient_geometry(self, xshape, wshape, gzshape):
        """(ph, pw, oh, ow) of a gradient's convolution, image and filter shapes given; an
        output gradient or channel count that does not fit them is a ValueError."""
        (n, c, H, W), (o, c2, kh, kw) = xshape, wshape
        ph, pw, oh, ow = self._runtime_geometry(H, W, kh, kw)
        if tuple(gzshape) != (n, o, oh, ow) or c != c2:
            raise ValueError(f"conv2d gradient: an image of shape {tuple(xshape)}, filters of shape {tuple(wshape)} "
                             f"and an output gradient of shape {tuple(gzshape)} do not fit")
        return ph, pw, oh, ow

    def _runtime_geometry(self, H, W, kh, kw):
        if kh < 1 or kw < 1:
            raise ValueError(f"{self.name}: the filters are empty ({kh}x{kw})")
        ph, pw, oh, ow = self.geometry(H, W, kh, kw)
        if oh < 1 or ow < 1:
            raise ValueError(f"{self.name}: a {kh}x{kw} kernel (dilation {self.dilation}) does not fit an "
                             f"image of {H}x{W} padded by ({ph}, {pw})")
        return ph, pw, oh, ow

    def _flipped(self, w):
        return w[:, :, ::-1, ::-1] if self.filter_flip else w

    def _windows(self, x, ph, pw, kh, kw, oh, ow):
        """x padded, as a read-only (N, C, OH, OW, kh, kw) view of its kernel windows."""
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else np.ascontiguousarray(x)
        (sh, sw), (dh, dw) = self.subsample, self.dilation
        s = xp.strides
        return np.lib.stride_tricks.as_strided(
            xp, (x.shape[0], x.shape[1], oh, ow, kh, kw),
            (s[0], s[1], s[2] * sh, s[3] * sw, s[2] * dh, s[3] * dw), writeable=False)

    def _same(self, op_class):
        return op_class(self.border, self.subsample, self.filter_flip, self.dilation)


@dataclass(frozen=True)
class Conv2d(_Conv):
    """out[n, o] = sum over c of x[n, c] (padded) correlated with the (flipped) w[o, c]."""

    def infer(self, x, w):
        self._check("the image and the filters", x, w)
        (n, c, H, W), (o, c2, kh, kw) = x.type.shape, w.type.shape
        if None not in (c, c2) and c != c2:
            raise ValueError(f"conv2d: the image has {c} channels, the filters expect {c2}")
        _, _, oh, ow = self.geometry(H, W, kh, kw)
        if (oh is not None and oh < 1) or (ow is not None and ow < 1):
            raise ValueError(f"conv2d: {kh}x{kw} filters do not fit a {H}x{W} image with border {self.border!r}")
        return [TensorType(x.dtype, (n, o, oh, ow))]

    def perform(self, x, w):
        if x.shape[1] != w.shape[1]:
            raise ValueError(f"conv2d: the image has {x.shape[1]} channels, the filters expect {w.shape[1]}")
        kh, kw = w.shape[2:]
        ph, pw, oh, ow = self._runtime_geometry(*x.shape[2:], kh, kw)
        win = self._windows(x, ph, pw, kh, kw, oh, ow)
        out = np.tensordot(win, self._flipped(w), axes=([1, 4, 5], [1, 2, 3]))   # (N, OH, OW, O)
        return (np.ascontiguousarray(out.transpose(0, 3, 1, 2), dtype=x.dtype),)

    def grad(self, inputs, outputs, gouts):
        x, w = inputs
        gz = gouts[0]
        return [apply_op(self._same(Conv2dGradInputs), [gz, w, shape(x)]),
                apply_op(self._same(Conv2dGradFilters), [x, gz, shape(w)])]


@dataclass(frozen=True)
class Conv2dGradInputs(_Conv):
    """The image gradient of conv2d: inputs (gz, w, shape of the image)."""

    def infer(self, gz, w, xshape):
        self._check("the output gradient and the filters", gz, w)
        return [TensorType(gz.dtype, self._shape_from(xshape, (gz.type.shape[0], w.type.shape[1], None, None)))]

    def perform(self, gz, w, xshape):
        n, c, H, W = xs = tuple(int(s) for s in xshape)
        kh, kw = w.shape[2:]
        ph, pw, oh, ow = self._gradient_geometry(xs, w.shape, gz.shape)
        (sh, sw), (dh, dw) = self.subsample, self.dilation
        wf = self._flipped(w)
        gx = np.zeros((n, c, H + 2 * ph, W + 2 * pw), dtype=gz.dtype)
        for a in range(kh):
            for b in range(kw):
                part = np.tensordot(gz, wf[:, :, a, b], axes=([1], [0]))          # (N, OH, OW, C)
                gx[:, :, a * dh:a * dh + sh * (oh - 1) + 1:sh, b * dw:b * dw + sw * (ow - 1) + 1:sw] += \
                    part.transpose(0, 3, 1, 2)
        return (np.ascontiguousarray(gx[:, :, ph:ph + H, pw:pw + W]),)

    def grad(self, inputs, outputs, gouts):
        gz, w, xshape = inputs
        ggx = gouts[0]     # <ggx, G(gz, w)> = <conv(ggx, w), gz>
        return [apply_op(self._same(Conv2d), [ggx, w]),
                apply_op(self._same(Conv2dGradFilters), [ggx, gz, shape(w)]), None]


@dataclass(frozen=True)
class Conv2dGradFilters(_Conv):
    """The filter gradient of conv2d: inputs (x, gz, shape of the filters)."""

    def infer(self, x, gz, wshape):
        self._check("the image and the output gradient", x, gz)
        return [TensorType(x.dtype, self._shape_from(wshape, (gz.type.shape[1], x.type.shape[1], None, None)))]

    def perform(self, x, gz, wshape):
        ws = tuple(int(s) for s in wshape)
        kh, kw = ws[2:]
        ph, pw, oh, ow = self._gradient_geometry(x.shape, ws, gz.shape)
        win = self._windows(x, ph, pw, kh, kw, oh, ow)
        gw = np.tensordot(gz, win, axes=([0, 2, 3], [0, 2, 3]))                 # (O, C, kh, kw)
        return (np.ascontiguousarray(self._flipped(gw), dtype=x.dtype),)

    def grad(self, inputs, outputs, gouts):
        x, gz, wshape = inputs
        ggw = gouts[0]     # <ggw, G(x, gz)> = <conv(x, ggw), gz>
        return [apply_op(self._same(Conv2dGradInputs), [gz, ggw, shape(x)]),
                apply_op(self._same(Conv2d), [x, ggw]), None]


def _hint(v, given, what):
    """Theano's shape hints: checked against the static type where both are known."""
    if given is None:
        return
    given = tuple(given)
    if len(given) != 4 or any(g is not None and s is not None and g != s for g, s in zip(given, v.type.shape)):
        raise ValueError(f"conv2d: {what} {given} does not match {v.type}")


def conv2d(input, filters, input_shape=None, filter_shape=None, border_mode="valid", subsample=(1, 1),
           filter_flip=True, image_shape=None, filter_dilation=(1, 1), num_groups=1, unshared=False):
    """Theano's conv2d: input (batch, channels, rows, cols), filters (out channels, channels,
    rows, cols); filter_flip=True convolves (the kernel flipped), False correlates."""
    if num_groups != 1 or unshared:
        raise NotImplementedError("conv2d: grouped and unshared convolutions are not supported")
    x, w = as_variable(input), as_variable(filters)
    _hint(x, input_shape if input_shape is not None else image_shape, "input_shape")
    _hint(w, filter_shape, "filter_shape")
    dt = result_dtype(x.dtype, w.dtype)
    x, w = (v if v.dtype == dt else E.cast(v, dt) for v in (x, w))
    op = Conv2d(_border(border_mode), _pair(subsample, "subsample"), bool(filter_flip),
                _pair(filter_dilation, "filter_dilation"))
    return apply_op(op, [x, w])
