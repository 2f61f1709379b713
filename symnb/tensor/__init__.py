"""The PyTensor-style namespace: typed input constructors plus every op constructor.

`import symnb.tensor as st` gives st.dmatrix, st.tanh, st.dot, st.grad-free math, ...
(differentiation and compilation live in the top-level `symnb` namespace).
"""
from __future__ import annotations

import importlib

import numpy as np

from ..core.graph import Constant, Variable, as_variable, shared  # noqa: F401
from ..core.ops import *  # noqa: F401,F403
from ..core.ops import (abs, pow, round, true_div, sum, prod, max, min, all, any,  # noqa: F401
                       SCALAR_OPS, cast, where, clip, zeros_like, ones_like)
from ..core.scan import scan, until  # noqa: F401
from ..core.types import PREFIX_DTYPES, TensorType, canonical_dtype

_NDIM = {"scalar": 0, "vector": 1, "row": 2, "col": 2, "matrix": 2, "tensor3": 3, "tensor4": 4, "tensor5": 5}


def tensor(name=None, dtype="float64", shape=None, ndim=None):
    """A symbolic input of the given dtype and static shape (None entries = unknown length)."""
    if isinstance(name, (tuple, list)) and shape is None:   # tensor(shape=...) positional misuse
        name, shape = None, name
    if shape is None:
        shape = (None,) * (ndim or 0)
    elif ndim is not None and len(shape) != ndim:
        raise ValueError(f"tensor: shape {shape} does not have ndim={ndim}")
    return Variable(TensorType(canonical_dtype(dtype), tuple(shape)), name=name)


def _constructor(kind, dtype=None):
    nd = _NDIM[kind]

    def make(name=None, dtype=dtype or "float64", shape=None):
        if shape is None:
            shape = {"row": (1, None), "col": (None, 1)}.get(kind, (None,) * nd)
        if len(shape) != nd:
            raise ValueError(f"{kind}: shape {shape} must have {nd} entries")
        return tensor(name, dtype, shape)
    make.__name__ = f"{'' if dtype is None else _prefix(dtype)}{kind}"
    make.__doc__ = f"A symbolic {kind} input ({dtype or 'float64 unless dtype= is given'})."
    return make


def _prefix(dtype):
    return next(p for p, d in PREFIX_DTYPES.items() if d == dtype)


def _plural(single):
    def make(*names, **kw):
        return [single(n, **kw) for n in names]
    make.__name__ = single.__name__ + "s"
    return make


for _kind in _NDIM:
    globals()[_kind] = _constructor(_kind)
    for _p in "dfilbwcu":
        _c = _constructor(_kind, PREFIX_DTYPES[_p])
        globals()[_p + _kind] = _c
        globals()[_p + ("matrices" if _kind == "matrix" else _kind + "s")] = _plural(_c)
del _kind, _p, _c

# Theano's submodules: tensor.nnet (conv2d, softmax, ...), tensor.signal.pool and tensor.xlogx
# (as in Theano, `st.xlogx` is the module: `st.xlogx.xlogx(x)`). By name: the star import above
# binds `nnet` and `xlogx` to core.ops' own module and function, which `from . import` would keep.
nnet, signal, xlogx = (importlib.import_module(f"{__name__}.{m}") for m in ("nnet", "signal", "xlogx"))


def constant(value, dtype=None, name=None):
    return Constant(np.asarray(value, dtype=dtype), name=name)


def as_tensor_variable(x, dtype=None):
    return as_variable(x, dtype)


as_tensor = as_tensor_variable
switch = where  # noqa: F811
astype = cast
sigmoid = globals()["sigmoid"]
