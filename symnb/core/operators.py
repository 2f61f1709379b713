"""NumPy-style operators and methods on symbolic variables (x + y, x.sum(axis=0), x.T, x[1:])."""
from __future__ import annotations

import math

import numpy as np

_ops = None


def _o():
    """The op functions, imported on first use (graph.py must load before the ops)."""
    global _ops
    if _ops is None:
        from . import ops
        _ops = ops
    return _ops


class TensorOperators:
    __slots__ = ()
    # `ndarray * variable` must build a node, not loop over the array: NumPy defers to us.
    __array_ufunc__ = None

    # arithmetic
    def __add__(self, o): return _o().add(self, o)
    def __radd__(self, o): return _o().add(o, self)
    def __sub__(self, o): return _o().sub(self, o)
    def __rsub__(self, o): return _o().sub(o, self)
    def __mul__(self, o): return _o().mul(self, o)
    def __rmul__(self, o): return _o().mul(o, self)
    def __truediv__(self, o): return _o().true_div(self, o)
    def __rtruediv__(self, o): return _o().true_div(o, self)
    def __floordiv__(self, o): return _o().int_div(self, o)
    def __rfloordiv__(self, o): return _o().int_div(o, self)
    def __mod__(self, o): return _o().mod(self, o)
    def __rmod__(self, o): return _o().mod(o, self)
    def __pow__(self, o): return _o().pow(self, o)
    def __rpow__(self, o): return _o().pow(o, self)
    def __matmul__(self, o): return _o().matmul(self, o)
    def __rmatmul__(self, o): return _o().matmul(o, self)
    def __neg__(self): return _o().neg(self)
    def __pos__(self): return self
    def __abs__(self): return _o().abs(self)
    # comparisons and logic (== stays identity so variables work as dict keys, as in PyTensor)
    def __lt__(self, o): return _o().lt(self, o)
    def __le__(self, o): return _o().le(self, o)
    def __gt__(self, o): return _o().gt(self, o)
    def __ge__(self, o): return _o().ge(self, o)
    def __invert__(self): return _o().invert(self)
    def __and__(self, o): return _o().and_(self, o)
    def __rand__(self, o): return _o().and_(o, self)
    def __or__(self, o): return _o().or_(self, o)
    def __ror__(self, o): return _o().or_(o, self)
    def __xor__(self, o): return _o().xor(self, o)
    def __rxor__(self, o): return _o().xor(o, self)

    def __bool__(self):
        raise TypeError("a symbolic variable has no truth value; use st.switch/st.where, or "
                        "compile the graph with sn.function and test the result")

    def __iter__(self):
        raise TypeError("a symbolic variable cannot be iterated; index it with x[i]")

    def __len__(self):
        raise TypeError("len() of a symbolic variable is unknown at build time; use x.shape[0]")

    # indexing and shapes
    def __getitem__(self, key): return _o().subtensor(self, key)

    @property
    def shape(self): return _o().shape(self)

    @property
    def size(self):
        if None in self.type.shape:
            return _o().prod(_o().shape(self))
        from .graph import Constant
        return Constant(np.int64(math.prod(self.type.shape)))

    @property
    def T(self): return _o().transpose(self)

    def transpose(self, *axes):
        # x.transpose(1, 0) and x.transpose((1, 0)), as in NumPy
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _o().transpose(self, axes if axes else None)

    def dimshuffle(self, *order): return _o().dimshuffle(self, *order)
    def reshape(self, *shape, ndim=None):
        return _o().reshape(self, shape[0] if len(shape) == 1 else shape, ndim=ndim)
    def flatten(self, ndim=1): return _o().flatten(self, ndim)
    def squeeze(self, axis=None): return _o().squeeze(self, axis)
    def astype(self, dtype): return _o().cast(self, dtype)
    def dot(self, o): return _o().dot(self, o)
    def clip(self, lo, hi): return _o().clip(self, lo, hi)

    # reductions
    def sum(self, axis=None, keepdims=False, dtype=None): return _o().sum(self, axis, keepdims, dtype)
    def prod(self, axis=None, keepdims=False): return _o().prod(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return _o().mean(self, axis, keepdims)
    def var(self, axis=None, keepdims=False, ddof=0): return _o().var(self, axis, keepdims, ddof)
    def std(self, axis=None, keepdims=False, ddof=0): return _o().std(self, axis, keepdims, ddof)
    def max(self, axis=None, keepdims=False): return _o().max(self, axis, keepdims)
    def min(self, axis=None, keepdims=False): return _o().min(self, axis, keepdims)
    def argmax(self, axis=None, keepdims=False): return _o().argmax(self, axis, keepdims)
    def argmin(self, axis=None, keepdims=False): return _o().argmin(self, axis, keepdims)
    def all(self, axis=None, keepdims=False): return _o().all(self, axis, keepdims)
    def any(self, axis=None, keepdims=False): return _o().any(self, axis, keepdims)
