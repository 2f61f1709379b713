"""Indexing against NumPy 2: basic (ints, negatives, slices with steps, symbolic scalars,
None, ...), integer-array and boolean-mask indexing, set_subtensor and inc_subtensor."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as hs

import symnb.tensor as st

from .opcheck import check, compiled, typed

A = np.arange(12.0).reshape(3, 4) * 1.5 - 4
T = np.arange(24.0).reshape(2, 3, 4)
i, j = st.lscalar("i"), st.iscalar("j")
iv, jv = st.lvector("iv"), st.ivector("jv")
mask = st.tensor("mask", "bool", (None,))
VALUES = {i: np.int64(2), j: np.int32(-1), iv: np.array([2, 0, 2, -1]), jv: np.array([1, 3, 0, 3], "int32"),
          mask: np.array([True, False, True])}

# name: (symbolic form of x, NumPy form of a); x is A (or T for names ending in t3).
BASIC = {
    "int": (lambda x: x[1], lambda a: a[1]),
    "neg_int": (lambda x: x[-1, 2], lambda a: a[-1, 2]),
    "slices": (lambda x: x[1:, ::2], lambda a: a[1:, ::2]),
    "neg_steps": (lambda x: x[::-1, -2::-2], lambda a: a[::-1, -2::-2]),
    "empty_slice": (lambda x: x[2:1], lambda a: a[2:1]),
    "past_the_end": (lambda x: x[1:10, -10:2], lambda a: a[1:10, -10:2]),
    "newaxis": (lambda x: x[None], lambda a: a[None]),
    "newaxis_mid": (lambda x: x[:, None, 1], lambda a: a[:, None, 1]),
    "ellipsis": (lambda x: x[..., 0], lambda a: a[..., 0]),
    "ellipsis_newaxis_t3": (lambda x: x[0, ..., None], lambda a: a[0, ..., None]),
    "ellipsis_mid_t3": (lambda x: x[1, ..., ::-1], lambda a: a[1, ..., ::-1]),
    "all": (lambda x: x[:], lambda a: a[:]),
    "symbolic": (lambda x: x[i, i:], lambda a: a[2, 2:]),
    "symbolic_neg": (lambda x: x[j], lambda a: a[-1]),
    "symbolic_slice": (lambda x: x[j::-1, :i], lambda a: a[-1::-1, :2]),
    "symbolic_step": (lambda x: x[::i], lambda a: a[::2]),
    "numpy_int": (lambda x: x[np.int32(1), np.int64(-1)], lambda a: a[1, -1]),
    "scalar_var": (lambda x: x[1, 1][None], lambda a: a[1, 1][None]),
}
ADVANCED = {
    "int_list": (lambda x: x[[0, 2, 2]], lambda a: a[[0, 2, 2]]),
    "int_array": (lambda x: x[iv], lambda a: a[[2, 0, 2, -1]]),
    "two_arrays": (lambda x: x[iv, jv], lambda a: a[[2, 0, 2, -1], [1, 3, 0, 3]]),
    "column_array": (lambda x: x[:, jv], lambda a: a[:, [1, 3, 0, 3]]),
    "array_and_slice": (lambda x: x[iv, 1::2], lambda a: a[[2, 0, 2, -1], 1::2]),
    "int_and_array": (lambda x: x[1, jv], lambda a: a[1, [1, 3, 0, 3]]),
    "matrix_index": (lambda x: x[np.array([[0, 1], [2, 2]])], lambda a: a[np.array([[0, 1], [2, 2]])]),
    "broadcast_indices": (lambda x: x[np.array([[0], [2]]), np.array([1, 3])],
                          lambda a: a[np.array([[0], [2]]), np.array([1, 3])]),
    "non_adjacent_t3": (lambda x: x[[0, 1], :, [3, 2]], lambda a: a[[0, 1], :, [3, 2]]),
    "int_counts_as_array_t3": (lambda x: x[1, :, [0, 2]], lambda a: a[1, :, [0, 2]]),
    "adjacent_t3": (lambda x: x[:, [0, 2], [1, 1]], lambda a: a[:, [0, 2], [1, 1]]),
    "newaxis_with_array": (lambda x: x[iv, None], lambda a: a[[2, 0, 2, -1], None]),
    "newaxis_before_array": (lambda x: x[None, :, jv], lambda a: a[None, :, [1, 3, 0, 3]]),
    "newaxis_between_arrays_t3": (lambda x: x[[0, 1], None, [1, 2]], lambda a: a[[0, 1], None, [1, 2]]),
    "ellipsis_array_t3": (lambda x: x[..., [0, 0]], lambda a: a[..., [0, 0]]),
    "mask": (lambda x: x[x > 2], lambda a: a[a > 2]),
    "row_mask": (lambda x: x[mask], lambda a: a[[True, False, True]]),
    "row_mask_and_slice": (lambda x: x[mask, 1:], lambda a: a[[True, False, True], 1:]),
    "const_mask": (lambda x: x[:, np.array([True, False, False, True])], lambda a: a[:, [True, False, False, True]]),
    "mask_2d_of_t3": (lambda x: x[x[:, :, 0] > 5], lambda a: a[a[:, :, 0] > 5]),
    "uint8_index": (lambda x: x[np.array([2, 1], "uint8")], lambda a: a[[2, 1]]),
    "empty_index": (lambda x: x[np.zeros(0, "int64")], lambda a: a[np.zeros(0, "int64")]),
}


def run_case(cases, name, static):
    build, ref = cases[name]
    data = T if name.endswith("t3") else A
    x = typed(data, "x", static=static)
    out = build(x)
    check([x, *VALUES], out, [data, *VALUES.values()], ref(data))


@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize("name", sorted(BASIC))
def test_basic_indexing(name, static):
    run_case(BASIC, name, static)


@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize("name", sorted(ADVANCED))
def test_advanced_indexing(name, static):
    run_case(ADVANCED, name, static)


def test_static_lengths_of_results():
    x = st.tensor("x", shape=(5, 4))
    assert x[::-2].type.shape == (3, 4)
    assert x[3:0:-1, -1].type.shape == (3,)
    assert x[:-1:-1].type.shape == (0, 4)
    assert x[[0, 2]].type.shape == (2, 4)
    assert x[np.array([True, False, True, True, False])].type.shape == (3, 4)
    assert x[:, [[0, 1, 2]]].type.shape == (5, 1, 3)
    assert x[iv, 1:3].type.shape == (None, 2)
    assert x[None, i].type.shape == (1, 4)


def test_index_errors():
    x = st.tensor("x", shape=(3, 4))
    for bad in (lambda: x[3], lambda: x[:, -5], lambda: x[[0, 3]], lambda: x[np.array([True, False])],
                lambda: x[1, 2, 3], lambda: x[..., ...]):
        with pytest.raises(IndexError):
            bad()
    with pytest.raises(IndexError, match="integer or boolean"):
        x[st.dvector("f")]
    with pytest.raises(TypeError, match="integer scalars"):
        x[st.dscalar("s"):]
    m = st.dmatrix("m")
    with pytest.raises(IndexError):
        compiled([m], m[5], A)
    with pytest.raises(IndexError):
        compiled([m, iv], m[iv], A, np.array([0, 3]))


def updated(a, key, v, how):
    b = a.copy()
    if how == "set":
        b[key] = v
    elif how == "inc":
        b[key] += v
    else:               # advanced inc: repeated indices accumulate
        np.add.at(b, key, v)
    return b


UPDATES = {
    "set_basic": (lambda x: st.set_subtensor(x[1:, 0], 7), lambda a: updated(a, (slice(1, None), 0), 7.0, "set")),
    "inc_basic": (lambda x: st.inc_subtensor(x[:, 1], x[:, 0]), lambda a: updated(a, (slice(None), 1), a[:, 0], "inc")),
    "set_neg_step": (lambda x: st.set_subtensor(x[::-2], x[:2] * 10), lambda a: updated(a, slice(None, None, -2), a[:2] * 10, "set")),
    "set_broadcast_row": (lambda x: st.set_subtensor(x[1:], x[0]), lambda a: updated(a, slice(1, None), a[0], "set")),
    "inc_symbolic": (lambda x: st.inc_subtensor(x[i, j], 100), lambda a: updated(a, (2, -1), 100.0, "inc")),
    "set_adv": (lambda x: st.set_subtensor(x[[0, 2]], 0), lambda a: updated(a, [0, 2], 0.0, "set")),
    "set_adv_pairs": (lambda x: st.set_subtensor(x[iv[:2], jv[:2]], -1), lambda a: updated(a, ([2, 0], [1, 3]), -1.0, "set")),
    "inc_adv_repeated": (lambda x: st.inc_subtensor(x[[0, 0, 2]], 1), lambda a: updated(a, [0, 0, 2], 1.0, "at")),
    "inc_adv_repeated_rows": (lambda x: st.inc_subtensor(x[iv], x[:4 - 0][[0, 1, 2, 0]]),
                              lambda a: updated(a, [2, 0, 2, -1], a[[0, 1, 2, 0]], "at")),
    "inc_adv_columns": (lambda x: st.inc_subtensor(x[:, jv], 1), lambda a: updated(a, (slice(None), [1, 3, 0, 3]), 1.0, "at")),
    "inc_adv_pairs_repeated": (lambda x: st.inc_subtensor(x[[1, 1, 1], [2, 2, 0]], np.array([1.0, 2.0, 4.0])),
                               lambda a: updated(a, ([1, 1, 1], [2, 2, 0]), np.array([1.0, 2.0, 4.0]), "at")),
    "set_mask": (lambda x: st.set_subtensor(x[x > 2], 0), lambda a: updated(a, a > 2, 0.0, "set")),
    "inc_mask": (lambda x: st.inc_subtensor(x[x > 2], x[x > 2] * 2), lambda a: updated(a, a > 2, a[a > 2] * 2, "inc")),
    "set_row_mask": (lambda x: st.set_subtensor(x[mask], -x[mask]), lambda a: updated(a, [True, False, True], -a[[0, 2]], "set")),
    "inc_int_into_float": (lambda x: st.inc_subtensor(x[0], np.arange(4)), lambda a: updated(a, 0, np.arange(4), "inc")),
    "set_t3": (lambda x: st.set_subtensor(x[:, 1, [0, 3]], 5), lambda a: updated(a, (slice(None), 1, [0, 3]), 5.0, "set")),
}


@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize("name", sorted(UPDATES))
def test_set_and_inc_subtensor(name, static):
    run_case(UPDATES, name, static)


def test_updates_of_integer_tensors_and_literals():
    x = st.imatrix("x")
    data = np.arange(6, dtype="int32").reshape(2, 3)
    check([x], st.set_subtensor(x[0], 1.7), [data], updated(data, 0, 1.7, "set"))   # as NumPy: truncates
    check([x], st.inc_subtensor(x[:, 1], 2), [data], updated(data, (slice(None), 1), 2, "inc"))
    with pytest.raises(TypeError, match="cannot add"):
        st.inc_subtensor(x[0], 1.5)          # NumPy: x[0] += 1.5 is a casting error
    with pytest.raises(TypeError, match="out of bounds"):
        st.set_subtensor(st.bvector("b")[0], 1000)
    with pytest.raises(TypeError, match="cannot put"):
        st.set_subtensor(x[0], st.dvector("f"))
    with pytest.raises(TypeError, match="indexed variable"):
        st.set_subtensor(x, 1)


@settings(max_examples=60, deadline=None)
@given(n=hs.integers(0, 6), start=hs.none() | hs.integers(-8, 8), stop=hs.none() | hs.integers(-8, 8),
       step=hs.none() | hs.integers(-3, 3).filter(bool))
def test_random_slices_match_numpy_and_static_lengths(n, start, stop, step):
    data = np.arange(n * 2, dtype="float64").reshape(n, 2)
    key = slice(start, stop, step)
    for static in (False, True):
        x = typed(data, "x", static=static)
        check([x], x[key], [data], data[key])
        check([x], st.set_subtensor(x[key], -1), [data], updated(data, key, -1.0, "set"))
    lo, hi, sp = st.lscalar("lo"), st.lscalar("hi"), st.lscalar("sp")
    x = typed(data, "x")
    values = [np.int64(0 if p is None else p) for p in (start, stop, step)]
    sym = slice(lo if start is not None else None, hi if stop is not None else None, sp if step is not None else None)
    check([x, lo, hi, sp], x[sym], [data, *values], data[key])
