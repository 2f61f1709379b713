"""BLAS in the C++ backend: dot/gemv/gemm in every layout against the reference, updates
folded into gemm in place (no temporary), batched products, both BLAS entry-point kinds."""
import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st
from symnb.kernels.cpp import program

from .test_cpp_ops import compare, pytestmark  # noqa: F401  (skips without a compiler)

TOL = {"float64": 1e-12, "float32": 2e-5}


def layouts(a):
    """The same values as C-contiguous, Fortran-ordered, strided and reversed arrays."""
    big = np.zeros((a.shape[0] * 2, a.shape[1] * 3), a.dtype)
    big[::2, ::3] = a
    rev = np.ascontiguousarray(a[::-1, ::-1])[::-1, ::-1]
    return [a, np.asfortranarray(a), big[::2, ::3], rev]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_dot_in_every_layout(dtype):
    rng = np.random.default_rng(0)
    A, B = (st.tensor(n, dtype=dtype, shape=(None, None)) for n in "AB")
    u, v = (st.tensor(n, dtype=dtype, shape=(None,)) for n in "uv")
    outs = [st.dot(A, B), st.dot(A, v), st.dot(u, B), st.dot(u, u), A[:, :3] @ B.T[:, :3].T]
    a = rng.normal(size=(5, 4)).astype(dtype)
    b = rng.normal(size=(4, 6)).astype(dtype)
    vec4 = rng.normal(size=8).astype(dtype)
    for la, lb in zip(layouts(a), layouts(b)[::-1]):
        compare([A, B, u, v], outs, [la, lb, vec4[::2], vec4[::-2]], rtol=TOL[dtype])


def test_zero_size_and_integer_products():
    A, B = st.dmatrices("A", "B")
    compare([A, B], [st.dot(A, B), st.dot(A, B).sum()], [np.ones((3, 0)), np.ones((0, 4))])
    compare([A, B], st.dot(A, B), [np.ones((0, 3)), np.ones((3, 2))])
    I, J = st.lmatrix("I"), st.lmatrix("J")
    compare([I, J], st.dot(I, J), [np.arange(6).reshape(2, 3), np.arange(12).reshape(3, 4)], python=["dot"])


def test_mismatched_inner_lengths_raise():
    A, B = st.dmatrices("A", "B")
    for backend in ("numpy", "cpp"):
        with pytest.raises(ValueError):
            sn.function([A, B], st.dot(A, B), backend=backend)(np.ones((2, 3)), np.ones((4, 2)))


def test_gemm_and_gemv_from_the_rewriter():
    A, B, C = st.dmatrices("A", "B", "C")
    y, x = st.dvectors("y", "x")
    s = st.dscalar("s")
    outs = [C + s * st.dot(A, B), C - st.dot(A, B), y + 2.0 * st.dot(A, x), st.dot(x, A.T) - y]
    rng = np.random.default_rng(1)
    a, b, c = rng.normal(size=(3, 4)), rng.normal(size=(4, 5)), rng.normal(size=(3, 5))
    f = compare([A, B, C, y, x, s], outs, [a, b, c, np.ones(3), np.ones(4), -0.5], rtol=1e-12)
    kinds = {n.op.name for n in sn.nodes(f)}
    assert {"gemm", "gemv"} <= kinds
    c_before = c.copy()
    f(a, b, c, np.ones(3), np.ones(4), -0.5)
    assert np.array_equal(c, c_before), "a user input must never be overwritten"


def _mlp(backend, seed=0):
    rng = np.random.default_rng(seed)
    X, Y = st.dmatrix("X"), st.dmatrix("Y")
    W1 = sn.shared(rng.normal(size=(6, 8)) * 0.3, name="W1")
    b1 = sn.shared(np.zeros(8), name="b1")
    W2 = sn.shared(rng.normal(size=(8, 3)) * 0.3, name="W2")
    h = st.tanh(st.dot(X, W1) + b1)
    cost = st.mean((st.dot(h, W2) - Y) ** 2)
    params = [W1, b1, W2]
    grads = sn.grad(cost, params)
    f = sn.function([X, Y], cost, updates=[(p, p - 0.1 * g) for p, g in zip(params, grads)], backend=backend)
    return f, params


def test_mlp_step_updates_weights_in_place_through_gemm():
    f, params = _mlp("cpp")
    g, ref = _mlp("numpy")
    assert "gemm{inplace}" in {n.op.name for n in sn.nodes(f)}
    rng = np.random.default_rng(5)
    storage = [p.get_value(borrow=True) for p in params]
    for step in range(5):
        x, y = rng.normal(size=(10, 6)), rng.normal(size=(10, 3))
        np.testing.assert_allclose(f(x, y), g(x, y), rtol=1e-12)
        for p, q in zip(params, ref):
            np.testing.assert_allclose(p.get_value(), q.get_value(), rtol=1e-12, atol=1e-15)
    # W <- W - lr * X'dH wrote into W's own storage: no temporary, same arrays as before.
    assert all(p.get_value(borrow=True) is s for p, s in zip(params, storage))


def test_in_place_update_when_the_caller_passes_the_weights_themselves():
    # The caller's argument aliases W's storage: writing W in place would corrupt the input.
    W = sn.shared(np.arange(6.0).reshape(2, 3), name="W")
    X = st.dmatrix("X")
    upd = W - 0.5 * st.dot(X.T[:, :2], X[:2])[:2]
    f = sn.function([X], st.dot(X, W.T).sum(), updates=[(W, upd)], backend="cpp")
    W_ref = sn.shared(np.arange(6.0).reshape(2, 3), name="W")
    X2 = st.dmatrix("X")
    g = sn.function([X2], st.dot(X2, W_ref.T).sum(), updates=[(W_ref, W_ref - 0.5 * st.dot(X2.T[:, :2], X2[:2])[:2])],
                    backend="numpy")
    for _ in range(3):
        out = f(W.get_value(borrow=True))
        want = g(W_ref.get_value(borrow=True))
        assert out == want
        np.testing.assert_array_equal(W.get_value(), W_ref.get_value())


def test_batched_matmul_with_broadcast_batch_axes():
    a = st.tensor("a", dtype="float64", shape=(None, 1, None, None))
    b = st.tensor("b", dtype="float64", shape=(None, None, None, None))
    c = st.tensor3("c")
    rng = np.random.default_rng(2)
    A, B, C = rng.normal(size=(2, 1, 3, 4)), rng.normal(size=(2, 5, 4, 2)), rng.normal(size=(3, 4, 4))
    compare([a, b, c], [a @ b, c @ c, (c @ c.dimshuffle(0, 2, 1))[:, 0]], [A, B, C], rtol=1e-12)
    compare([a, b, c], [a @ b], [A[..., ::-1, :], B[::-1], C], rtol=1e-12, on_unused_input="ignore")


def test_the_fortran_blas_fallback_gives_the_same_products():
    pointers, fortran, threads = program.blas_pointers()
    assert not fortran, "NumPy's bundled OpenBLAS should be found"
    A, B = st.dmatrices("A", "B")
    v = st.dvector("v")
    f = sn.function([A, B, v], [st.dot(A, B), st.dot(A, v), st.dot(v, A.T[:, :3]), st.dot(v, v)], backend="cpp")
    rng = np.random.default_rng(3)
    args = [rng.normal(size=(3, 4)), np.asfortranarray(rng.normal(size=(4, 2))), rng.normal(size=4)]
    want = f(*args)
    program.blas_pointers.cache_clear()
    from scipy.linalg import cython_blas
    import ctypes
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    name = ctypes.pythonapi.PyCapsule_GetName
    name.restype, name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    caps = [cython_blas.__pyx_capi__[s] for s in program.BLAS_SYMBOLS]
    module = f.program.module
    try:
        module.set_runtime(tuple(get(c, name(c)) for c in caps), True, (0, 0, 0), np.add, (np.log, np.cos, np.sin), 1)
        got = f(*args)
    finally:
        module.set_runtime(pointers, False, threads, np.add, (np.log, np.cos, np.sin), program.usable_cores())
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-13)


def test_a_failing_call_leaves_weights_updated_in_place_untouched():
    W = sn.shared(np.eye(3), name="W")
    c = sn.shared(np.int64(0), name="c")
    X = st.dmatrix("X")
    i, j = st.lvectors("i", "j")
    # W's update comes first in the graph's order; c's fails after it when j has a zero.
    f = sn.function([X, i, j], st.dot(X, W).sum(), updates=[(W, W - 0.1 * st.dot(X.T, X)), (c, c + (i // j).sum())],
                    backend="cpp")
    assert "gemm{inplace}" in {n.op.name for n in sn.nodes(f)}
    x = np.ones((2, 3))
    with pytest.raises(ZeroDivisionError):
        f(x, np.array([1, 2]), np.array([1, 0]))
    np.testing.assert_array_equal(W.get_value(), np.eye(3))
    f(x, np.array([1, 2]), np.array([1, 1]))
    np.testing.assert_allclose(W.get_value(), np.eye(3) - 0.2)
    assert c.get_value() == 3
