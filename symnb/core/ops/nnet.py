"""Neural-network helpers: softmax, log_softmax (stable primitives) and cross-entropies."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..graph import as_variable
from ..types import is_float, is_int
from .base import Op, apply_op
from . import elemwise as E
from . import reduce as R


@dataclass(frozen=True)
class Softmax(Op):
    """exp(x - max) / sum(exp(x - max)) along `axis`."""
    shaped_like = 0

    axis: int = -1

    def infer(self, x):
        if not is_float(x.dtype):
            raise TypeError(f"softmax needs a float input, got {x.type}")
        R.normalize_axis(self.axis, x.ndim, "softmax")
        return [x.type]

    def perform(self, x):
        e = np.exp(x - x.max(axis=self.axis, keepdims=True))
        return (e / e.sum(axis=self.axis, keepdims=True),)

    def grad(self, inputs, outputs, gouts):
        sm, g = outputs[0], gouts[0]
        return [(g - R.sum(g * sm, self.axis, keepdims=True)) * sm]   # J^T g for the softmax


@dataclass(frozen=True)
class LogSoftmax(Op):
    """x - max - log(sum(exp(x - max))) along `axis`: finite wherever x is."""
    shaped_like = 0

    axis: int = -1

    def infer(self, x):
        return Softmax(self.axis).infer(x)

    def perform(self, x):
        s = x - x.max(axis=self.axis, keepdims=True)
        with np.errstate(divide="ignore"):
            return (s - np.log(np.exp(s).sum(axis=self.axis, keepdims=True)),)

    def grad(self, inputs, outputs, gouts):
        lsm, g = outputs[0], gouts[0]
        return [g - E.exp(lsm) * R.sum(g, self.axis, keepdims=True)]


@dataclass(frozen=True)
class LogSoftmaxGrad(Op):
    """g - exp(lsm) * sum(g) along `axis`: LogSoftmax's gradient rule as one node, which
    the specialize pass builds (lsm = log_softmax(x), g the gradient reaching it), so a
    backend runs it in one pass over rows instead of a sum and a fused loop."""
    shaped_like = 0

    axis: int = -1

    def infer(self, g, lsm):
        if not (is_float(g.dtype) and g.type == lsm.type):
            raise TypeError(f"log_softmax_grad needs two floats of one type, got {g.type} and {lsm.type}")
        R.normalize_axis(self.axis, g.ndim, "log_softmax_grad")
        return [g.type]

    def perform(self, g, lsm):
        return (g - np.exp(lsm) * g.sum(axis=self.axis, keepdims=True),)

    def validate(self, node, arrays, outputs):
        if arrays[0].shape != arrays[1].shape:
            raise ValueError(f"log_softmax_grad: shapes {arrays[0].shape} and {arrays[1].shape} differ")

    def grad(self, inputs, outputs, gouts):
        g, lsm = inputs
        gout = gouts[0]
        e = E.exp(lsm)
        return [gout - R.sum(gout * e, self.axis, keepdims=True),
                E.neg(gout * e * R.sum(g, self.axis, keepdims=True))]


def _along(op_class, x, axis):
    """op_class(axis)(x); axis=None normalizes over all elements (as scipy.special.softmax)."""
    x = as_variable(x)
    if axis is None and x.ndim != 1:
        from .shape import reshape, shape
        return reshape(_along(op_class, reshape(x, [-1]), -1), shape(x), ndim=x.ndim)
    axis = R.normalize_axis(-1 if axis is None else axis, x.ndim, op_class.__name__.lower())
    return apply_op(op_class(axis[0] if axis else 0), [x])


def softmax(x, axis=-1):
    return _along(Softmax, x, axis)


def log_softmax(x, axis=-1):
    return _along(LogSoftmax, x, axis)


def relu(x, alpha=0):
    return E.maximum(x, 0) if alpha == 0 else E.switch(E.gt(x, 0), x, alpha * x)


def binary_crossentropy(output, target):
    """-(target * log(output) + (1 - target) * log(1 - output)), elementwise.

    Given sigmoid(x) it is built as softplus(x) - target * x, finite for any x.
    """
    output = as_variable(output)
    if output.owner is not None and getattr(output.owner.op, "scalar", None) == "sigmoid":
        return sigmoid_binary_crossentropy(output.owner.inputs[0], target)
    return E.neg(target * E.log(output) + (1 - target) * E.log(1 - output))


def sigmoid_binary_crossentropy(logits, target):
    """binary_crossentropy(sigmoid(logits), target), computed stably: softplus(x) - t*x."""
    return E.softplus(logits) - target * logits


def categorical_crossentropy(coding_dist, true_dist):
    """-log p[true class] per row: true_dist is an int vector of classes or a one-hot matrix."""
    coding_dist, true_dist = as_variable(coding_dist), as_variable(true_dist)
    node = coding_dist.owner
    # log(softmax(z)) is built as log_softmax(z): finite, and so is its gradient.
    log_p = log_softmax(node.inputs[0], node.op.axis) if node is not None and isinstance(node.op, Softmax) \
        else E.log(coding_dist)
    if is_int(true_dist.dtype) and true_dist.dtype != "bool" and true_dist.ndim == coding_dist.ndim - 1:
        # Class indices: pick log_p[i, j, ..., true_dist[i, j, ...]] along the last axis.
        from .creation import arange
        from .shape import expand_dims, shape
        lead = coding_dist.ndim - 1
        grid = [expand_dims(arange(shape(log_p)[d]), [a for a in range(lead) if a != d]) for d in range(lead)]
        return E.neg(log_p[(*grid, true_dist)])
    if true_dist.ndim != coding_dist.ndim:
        raise TypeError(f"categorical_crossentropy: targets must be class indices ({coding_dist.ndim - 1}-d "
                        f"integers) or a distribution like {coding_dist.type}, got {true_dist.type}")
    return E.neg(R.sum(true_dist * log_p, axis=-1))




def xlogx(x):
    """x * log(x), 0 where x == 0 (PyTensor's xlogx): entropy terms of probabilities."""
    x = as_variable(x)
    return E.mul(x, E.log(E.switch(E.eq(x, 0), 1, x)))      # log(1) = 0 at x = 0, gradient 0 there too


def xlogy0(x, y):
    """x * log(y), 0 where x == 0 (PyTensor's xlogy0): cross-entropy terms with zero targets."""
    x, y = as_variable(x), as_variable(y)
    return E.mul(x, E.log(E.switch(E.eq(x, 0), 1, y)))      # no log(0) * 0 = nan where x is 0
