"""Bad inputs raise errors that name the op or input, what was expected, and the user line."""
import inspect
import re

import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st

THIS_FILE = "test_errors.py"


def test_static_dot_shape_mismatch_names_op_types_and_line():
    a, b = st.dmatrix("a", shape=(2, 3)), st.dmatrix("b", shape=(4, 5))
    with pytest.raises(ValueError) as err:
        st.dot(a, b)
    msg = str(err.value)
    assert "inner dimensions do not match" in msg and "a: float64[2, 3]" in msg
    assert f"{THIS_FILE}, line {inspect.currentframe().f_lineno - 3}" in msg and "st.dot(a, b)" in msg


def test_adding_incompatible_static_shapes():
    with pytest.raises(ValueError, match=r"add: shapes cannot be broadcast together.*float64\[3\].*float64\[4\]"):
        st.dvector(shape=(3,)) + st.dvector(shape=(4,))


def test_wrong_ndim_on_call():
    x = st.dvector("x")
    f = sn.function([x], x * 2, backend="numpy")
    with pytest.raises(TypeError, match=r"input 0 \(x\): expected float64\[\?\] \(ndim=1\).*ndim=2"):
        f(np.ones((2, 2)))


def test_lossy_dtype_on_call():
    x = st.fvector("x")
    f = sn.function([x], x * 2, backend="numpy")
    with pytest.raises(TypeError, match=r"input 0 \(x\).*casting float64 to float32 would lose information"):
        f(np.ones(3))


def test_wrong_static_shape_on_call():
    x = st.dvector("x", shape=(3,))
    with pytest.raises(ValueError, match=r"input 0 \(x\): expected shape \(3,\), got \(4,\)"):
        sn.function([x], x + 1, backend="numpy")(np.ones(4))


def test_unknown_axis():
    with pytest.raises(ValueError, match="sum: axis 3 is out of bounds for an input with 2 dimensions"):
        st.dmatrix("m").sum(axis=3)
    with pytest.raises(ValueError, match="sum: axis -3 is out of bounds"):
        st.dmatrix("m").sum(axis=-3)
    with pytest.raises(TypeError, match="sum: axis must be None, an int or a tuple of ints, got 'rows'"):
        st.dmatrix("m").sum(axis="rows")


def test_update_with_different_type():
    w = sn.shared(np.zeros(3), name="w")
    with pytest.raises(TypeError, match=r"update of shared variable 'w' has type float64\[\?, \?\]"):
        sn.function([], [], updates=[(w, st.outer(w, w))])


def test_grad_of_non_scalar():
    x = st.dvector("x")
    with pytest.raises(TypeError, match="the cost must be a scalar, got float64"):
        sn.grad(x ** 2, x)


def test_grad_through_argmax():
    x = st.dvector("x")
    with pytest.raises(sn.NotDifferentiableError, match="only through argmax"):
        sn.grad(x.argmax().astype("float64") * 2.0, x)


def test_grad_of_disconnected_input():
    x, y = st.dscalars("x", "y")
    with pytest.raises(sn.DisconnectedInputError, match="does not depend on 'y'"):
        sn.grad(x ** 2, y)
    zero = sn.grad(x ** 2, y, disconnected_inputs="ignore")
    assert sn.function([y], zero, backend="numpy", on_unused_input="ignore")(3.0) == 0.0


def test_missing_input():
    x, y = st.dscalars("x", "y")
    with pytest.raises(ValueError, match="need input y"):
        sn.function([x], x + y)


def test_runtime_shape_mismatch_names_op_and_line(backend):
    a, b = st.dvectors("a", "b")
    c = a + b
    line = inspect.currentframe().f_lineno - 1
    f = sn.function([a, b], c, backend=backend)
    with pytest.raises(ValueError) as err:
        f(np.ones(3), np.ones(4))
    msg = str(err.value)
    assert "while computing add" in msg and re.search(r"\b3\b\D{1,8}\b4\b", msg)   # the two lengths
    assert f"{THIS_FILE}, line {line}" in msg and "c = a + b" in msg


def test_runtime_broadcast_of_unknown_axis(backend):
    a, b = st.dmatrices("a", "b")
    f = sn.function([a, b], a * b, backend=backend)
    with pytest.raises(ValueError, match="(?s)runtime broadcasting is not allowed.*while computing mul"):
        f(np.ones((3, 4)), np.ones((1, 4)))


def test_reshape_to_incompatible_size(backend):
    with pytest.raises(ValueError, match=r"cannot reshape float64\[2, 3\] into shape \(4, 2\)"):
        st.dmatrix(shape=(2, 3)).reshape((4, 2))
    x = st.dvector("x")
    with pytest.raises(ValueError, match=r"cannot reshape an array of shape \(5,\) into \(2, 2\)"):
        sn.function([x], x.reshape((2, 2)), backend=backend)(np.ones(5))


def test_out_of_range_index(backend):
    x = st.dvector("x")
    with pytest.raises(IndexError, match="index 7 is out of bounds for axis 0 with size 3"):
        sn.function([x], x[7], backend=backend)(np.ones(3))


def test_integer_division_by_zero(backend):
    i, j = st.iscalars("i", "j")
    with pytest.raises(ZeroDivisionError, match="(?s)integer .* by zero.*while computing int_div"):
        sn.function([i, j], i // j, backend=backend)(1, 0)


def test_symbolic_variable_has_no_truth_value():
    x = st.dscalar("x")
    with pytest.raises(TypeError, match="no truth value"):
        if x > 0:
            pass
