"""Types of the graph: a dtype plus a static shape (None = unknown length).

First stage of the data flow: every variable of the graph carries a TensorType, and
ops use the helpers here to infer output types with NumPy's broadcasting and promotion.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Short dtype prefixes of the constructors (dscalar, fmatrix, ...), as in PyTensor.
PREFIX_DTYPES = {"d": "float64", "f": "float32", "i": "int32", "l": "int64", "b": "int8",
                 "w": "int16", "c": "complex128", "z": "complex128", "u": "uint8"}
FLOAT_DTYPES = ("float16", "float32", "float64")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


def canonical_dtype(dtype) -> str:
    """Normalise 'float', np.float32, 'bool' ... to a NumPy dtype name."""
    if dtype == "floatX":
        dtype = "float64"
    return np.dtype(dtype).name


def is_float(dtype: str) -> bool:
    return dtype in FLOAT_DTYPES


def is_int(dtype: str) -> bool:
    return dtype in INT_DTYPES or dtype == "bool"


@dataclass(frozen=True)
class TensorType:
    """dtype + static shape; shape entries are ints or None (unknown at build time)."""

    dtype: str
    shape: tuple

    def __post_init__(self):
        object.__setattr__(self, "dtype", canonical_dtype(self.dtype))
        shape = tuple(None if s is None else int(s) for s in self.shape)
        if any(s is not None and s < 0 for s in shape):
            raise ValueError(f"static shape {shape} has a negative length")
        object.__setattr__(self, "shape", shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def broadcastable(self) -> tuple:
        return tuple(s == 1 for s in self.shape)

    def __str__(self):
        dims = ", ".join("?" if s is None else str(s) for s in self.shape)
        return f"{self.dtype}[{dims}]" if self.shape else f"{self.dtype} scalar"

    def accepts_shape(self, shape) -> bool:
        return len(shape) == self.ndim and all(s is None or s == v for s, v in zip(self.shape, shape))

    def filter(self, value, name="input"):
        """Turn a user value into an ndarray of this type, or raise naming the input.

        Lossless conversions only: Python scalars and lists that fit, and safe dtype casts.
        """
        if isinstance(value, np.ndarray):
            arr = value
        elif isinstance(value, (bool, int, float, complex, np.generic, list, tuple)):
            arr = np.asarray(value)
            if arr.dtype == object:
                raise TypeError(f"{name}: expected {self}, got a ragged or non-numeric sequence")
            if arr.dtype.name != self.dtype and not np.can_cast(arr.dtype, self.dtype, "safe"):
                # A Python literal like 1.5 for a float32 or 3 for an int8 is fine when exact.
                converted = arr.astype(self.dtype)
                if not np.array_equal(converted.astype(arr.dtype), arr, equal_nan=arr.dtype.kind in "fc"):
                    raise TypeError(f"{name}: expected {self}; the value {value!r} does not fit in {self.dtype}")
                arr = converted
        else:
            raise TypeError(f"{name}: expected {self}, got {type(value).__name__}")
        if arr.ndim != self.ndim:
            raise TypeError(f"{name}: expected {self} (ndim={self.ndim}), got an array with ndim={arr.ndim} "
                            f"and shape {arr.shape}")
        if arr.dtype.name != self.dtype:
            if not np.can_cast(arr.dtype, self.dtype, "safe"):
                raise TypeError(f"{name}: expected {self}, got dtype {arr.dtype.name}; casting "
                                f"{arr.dtype.name} to {self.dtype} would lose information "
                                f"(cast it explicitly with .astype('{self.dtype}'))")
            arr = arr.astype(self.dtype)
        if not self.accepts_shape(arr.shape):
            raise ValueError(f"{name}: expected shape {_shape_str(self.shape)}, got {arr.shape}")
        return arr


def _shape_str(shape) -> str:
    return "(" + ", ".join("?" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def broadcast_shapes(*shapes, opname="op", types=()):
    """Static NumPy broadcasting; unknown dims stay unknown unless another input fixes them.

    Raises ValueError at graph-build time when two known lengths cannot broadcast.
    """
    ndim = max((len(s) for s in shapes), default=0)
    padded = [(1,) * (ndim - len(s)) + tuple(s) for s in shapes]
    out = []
    for d in range(ndim):
        known = {s[d] for s in padded if s[d] is not None and s[d] != 1}
        if len(known) > 1:
            shown = ", ".join(str(t) for t in types) or ", ".join(map(_shape_str, shapes))
            raise ValueError(f"{opname}: shapes cannot be broadcast together: {shown} "
                             f"(dimension {d} from the right-aligned shapes has lengths {sorted(known)})")
        if known:
            out.append(known.pop())
        elif any(s[d] is None for s in padded):
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


def result_dtype(*operands) -> str:
    """NumPy 2 (NEP 50) promotion: operands are dtype names or weak Python scalars."""
    return np.result_type(*operands).name


def upcast(dtype, *dtypes) -> str:
    """The dtype of a sum of values of these dtypes (PyTensor's scalar.upcast):
    upcast('int32', 'float32') is 'float64', as NumPy adds such arrays."""
    return result_dtype(*(canonical_dtype(d) for d in (dtype, *dtypes)))
