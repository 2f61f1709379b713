"""Reductions against NumPy 2: sum prod mean var std max min argmax argmin logsumexp all any,
with axis None / int / negative / tuple, keepdims, integer and boolean inputs, empty axes."""
import numpy as np
import pytest
import scipy.special as sps

import symnb.tensor as st

from .opcheck import check, compiled, typed

KINDS = ["sum", "prod", "mean", "var", "std", "max", "min", "argmax", "argmin", "logsumexp", "all", "any"]
AXES = [None, 0, 1, -1, (0, 2), (2, -3), (0, 1, 2), ()]


def numpy_reduce(kind, data, axis, keepdims, **kw):
    if kind in ("argmax", "argmin") and isinstance(axis, tuple):
        return arg_over_axes(kind, data, axis, keepdims)
    fn = sps.logsumexp if kind == "logsumexp" else getattr(np, kind)
    return np.asarray(fn(data, axis=axis, keepdims=keepdims, **kw))


def arg_over_axes(kind, data, axis, keepdims):
    """NumPy's argmax takes one axis; over several it is the argmax of the flattened axes."""
    axis = sorted(a % data.ndim for a in axis)
    keep = [d for d in range(data.ndim) if d not in axis]
    flat = data.transpose(keep + axis).reshape([data.shape[d] for d in keep] + [-1])
    out = getattr(np, kind)(flat, axis=-1)
    return out.reshape([1 if d in axis else n for d, n in enumerate(data.shape)]) if keepdims else out


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("kind", KINDS)
def test_float64_reductions(kind, axis, keepdims):
    data = np.random.default_rng(3).standard_normal((2, 3, 4))
    x = typed(data, "x")
    if kind in ("argmax", "argmin") and axis == ():
        with pytest.raises(TypeError):     # as NumPy: an empty tuple names no axis to search
            getattr(st, kind)(x, axis=axis)
        return
    if kind in ("all", "any"):
        data = data > 0.5
        x = typed(data, "x")
    expected = numpy_reduce(kind, data, axis, keepdims)
    check([x], getattr(st, kind)(x, axis=axis, keepdims=keepdims), [data], expected)
    if kind not in ("logsumexp",):
        check([x], getattr(x, kind)(axis=axis, keepdims=keepdims), [data], expected)


@pytest.mark.parametrize("dtype", ["int8", "int32", "uint8", "bool", "float32", "float16", "int64"])
@pytest.mark.parametrize("kind", ["sum", "prod", "mean", "var", "std", "max", "min", "argmax", "all", "any",
                                  "logsumexp"])
@pytest.mark.parametrize("axis", [None, 1])
def test_dtypes_follow_numpy(kind, dtype, axis):
    """sum of int8 is int64, mean of ints is float64, max keeps the dtype, any is bool, ..."""
    data = np.array([[1, 3, 0, 2], [5, 1, 1, 4], [2, 2, 7, 1]]).astype(dtype)
    expected = numpy_reduce(kind, data, axis, False)
    x = typed(data, "x")
    check([x], getattr(st, kind)(x, axis=axis), [data], expected, rtol=5e-3 if dtype == "float16" else None)


@pytest.mark.parametrize("ddof", [0, 1, 2])
@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, True), (1, False), ((0, 1), True)])
def test_var_and_std_with_ddof(ddof, axis, keepdims):
    data = np.random.default_rng(4).standard_normal((3, 5))
    for x in (typed(data, "x"), typed(data, "x", static=True)):
        for kind in ("var", "std"):
            expected = numpy_reduce(kind, data, axis, keepdims, ddof=ddof)
            check([x], getattr(st, kind)(x, axis=axis, keepdims=keepdims, ddof=ddof), [data], expected)
            check([x], getattr(x, kind)(axis=axis, keepdims=keepdims, ddof=ddof), [data], expected)


def test_mean_of_integers_is_float64_and_dtype_argument():
    x = st.imatrix("x")
    data = np.array([[1, 2, 4], [3, 5, 8]], "int32")
    check([x], x.mean(), [data], data.mean())
    check([x], x.mean(axis=0), [data], data.mean(axis=0))
    check([x], st.mean(x, axis=1, keepdims=True), [data], data.mean(axis=1, keepdims=True))
    check([x], st.mean(x, axis=1, dtype="float32"), [data], data.mean(axis=1, dtype="float32"))
    check([x], st.sum(x, axis=0, dtype="int16"), [data], data.sum(axis=0, dtype="int16"))
    f = st.fmatrix("f")
    check([f], f.mean(axis=0), [data.astype("float32")], data.astype("float32").mean(axis=0))


def test_argmax_over_several_axes_and_with_ties():
    x = st.dtensor3("x")
    data = np.random.default_rng(5).standard_normal((3, 2, 4))
    for axis in [(0, 2), (1, 2), (0, 1), (-1, 0)]:
        for kind in ("argmax", "argmin"):
            check([x], getattr(st, kind)(x, axis=axis), [data], arg_over_axes(kind, data, axis, False))
            check([x], getattr(st, kind)(x, axis=axis, keepdims=True), [data], arg_over_axes(kind, data, axis, True))
    ties = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    m = st.dmatrix("m")
    check([m], st.argmax(m, axis=1), [ties], np.argmax(ties, axis=1))   # the first of equal maxima
    check([m], st.argmin(m), [ties], np.argmin(ties))


def test_logsumexp_is_stable_and_exact_at_infinities():
    x = st.dmatrix("x")
    data = np.array([[1000.0, 1000.0, -1000.0], [-np.inf, -np.inf, -np.inf], [np.inf, 0.0, 1.0]])
    check([x], st.logsumexp(x, axis=1), [data], sps.logsumexp(data, axis=1))
    check([x], st.logsumexp(x, axis=1, keepdims=True), [data[:1]], sps.logsumexp(data[:1], axis=1, keepdims=True))


@pytest.mark.filterwarnings("ignore:Mean of empty slice")
@pytest.mark.parametrize("kind", ["sum", "prod", "mean", "all", "any", "max", "argmax"])
def test_empty_inputs(kind):
    x = st.dmatrix("x")
    data = np.zeros((0, 3))
    if kind in ("max", "argmax"):
        with pytest.raises(ValueError):
            compiled([x], getattr(st, kind)(x, axis=0), data)
        with pytest.raises(ValueError, match="zero-size"):
            getattr(st, kind)(st.tensor("e", shape=(0, 3)), axis=0)
        check([x], getattr(st, kind)(x, axis=1), [data], getattr(np, kind)(data, axis=1))
        return
    with np.errstate(all="ignore"):
        check([x], getattr(st, kind)(x, axis=0), [data], numpy_reduce(kind, data, 0, False))
        check([x], getattr(st, kind)(x), [data], numpy_reduce(kind, data, None, False))


@pytest.mark.parametrize("axis", [None, 0, -1])
@pytest.mark.parametrize("kind", ["sum", "max", "argmax", "all", "prod"])
def test_zero_dimensional_input(kind, axis):
    """As in NumPy, a 0-d input accepts axis 0 and -1 and reduces nothing."""
    x = st.dscalar("x")
    check([x], getattr(st, kind)(x, axis=axis), [np.float64(2.5)], numpy_reduce(kind, np.float64(2.5), axis, False))


def test_bad_axes_are_build_errors():
    m = st.dmatrix("m")
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        m.sum(axis=2)
    with pytest.raises(ValueError, match="out of bounds"):
        st.max(m, axis=-3)
    with pytest.raises(ValueError, match="repeated axis"):
        st.mean(m, axis=(1, -1))
    with pytest.raises(TypeError, match="axis must be"):
        st.sum(m, axis=1.0)
