"""Shared by the op tests: compile a graph with the reference backend and hold it to NumPy.

`check` compiles twice (as built and after the default rewrites), because a rewrite that
changes a dtype or a value is as wrong as an op that does.
"""
import numpy as np

import symnb as sn
import symnb.tensor as st

RTOL = {"float64": 1e-12, "float32": 2e-6, "float16": 2e-3, "complex128": 1e-12}


def typed(arr, name=None, static=False):
    """A symbolic input for arr: its dtype, and length 1 typed where arr has length 1
    (broadcasting is static); `static` fixes every length."""
    arr = np.asarray(arr)
    shape = arr.shape if static else tuple(1 if n == 1 else None for n in arr.shape)
    return st.tensor(name, arr.dtype, shape)


def compiled(inputs, out, *values, rewrite=True):
    return sn.function(inputs, out, backend="numpy", rewrite=rewrite, on_unused_input="ignore")(*values)


def same(got, expected, rtol=None):
    """Exact dtype and shape; values equal (floats within a few ulps of their precision)."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.dtype == expected.dtype, f"dtype {got.dtype}, NumPy gives {expected.dtype}"
    assert got.shape == expected.shape, f"shape {got.shape}, NumPy gives {expected.shape}"
    if expected.dtype.kind in "fc":
        np.testing.assert_allclose(got, expected, rtol=rtol or RTOL[expected.dtype.name], atol=0,
                                   equal_nan=True)
    else:
        np.testing.assert_array_equal(got, expected)


def check(inputs, out, values, expected, rtol=None):
    """out(*values) equals `expected` with and without rewriting, and fits out's static type."""
    for rewrite in (False, True):
        got = compiled(inputs, out, *values, rewrite=rewrite)
        same(got, expected, rtol)
        assert out.type.accepts_shape(np.shape(got)), f"static type {out.type}, result shape {np.shape(got)}"


def numpy_or_error(fn, *args):
    """fn(*args), or the kind of error NumPy raises for it (TypeError, OverflowError, ValueError)."""
    try:
        with np.errstate(all="ignore"):
            return fn(*args)
    except (TypeError, OverflowError, ValueError) as e:
        return next(kind for kind in (TypeError, OverflowError, ValueError) if isinstance(e, kind))
