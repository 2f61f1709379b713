"""Products with a narrow result (narrow.h, AVX-512 machines): A read by rows (X @ W) and
by columns (X.T @ dZ), every layout of B, tails of every axis, alpha and beta from the
rewriter's gemm, the threaded splits of a training step, NaN and infinities, against NumPy."""
import subprocess

import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st

from .test_cpp_blas import TOL, layouts
from .test_cpp_ops import compare, pytestmark  # noqa: F401  (skips without a compiler)

# (M, K, N): the logistic regression's product, N from 1 to 16 (past 10: two column
# blocks), M and K off the lane and block sizes, a K shorter than one vector.
SHAPES = [(60, 784, 10), (3, 700, 16), (17, 300, 1), (100, 64, 11), (5, 1000, 7), (33, 9, 10), (1, 4099, 3),
          (70, 5, 12)]


def _reference(a, b):
    return (a.astype(np.float64) @ b.astype(np.float64)).astype(a.dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("m,k,n", SHAPES)
def test_narrow_products_in_every_layout(dtype, m, k, n):
    rng = np.random.default_rng(m * k + n)
    A, B = (st.tensor(s, dtype=dtype, shape=(None, None)) for s in "AB")
    f = sn.function([A, B], st.dot(A, B), backend="cpp")
    a = rng.normal(size=(m, k)).astype(dtype)
    b = rng.normal(size=(k, n)).astype(dtype)
    want = _reference(a, b)
    scale = np.sqrt(k) * TOL[dtype] * 4
    # A by rows (C order) and by columns (the transpose of a C-ordered K x M array)
    for la in (a, np.ascontiguousarray(a.T).T, layouts(a)[2]):
        for lb in layouts(b):
            got = f(la, lb)
            np.testing.assert_allclose(got, want, rtol=0, atol=scale * max(1.0, float(np.abs(want).max())))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n", [10, 7, 13])
def test_alpha_and_beta_of_the_rewriters_gemm(dtype, n):
    A, B, C, D = (st.tensor(s, dtype=dtype, shape=(None, None)) for s in "ABCD")
    s = st.scalar("s", dtype=dtype)
    rng = np.random.default_rng(7)
    a, b, c, d = (rng.normal(size=shape).astype(dtype) for shape in ((40, 300), (300, n), (40, n), (300, 40)))
    # A by rows, and D.T by columns (D is C-ordered), each accumulated into C
    f = compare([A, B, C, D, s], [C + s * st.dot(A, B), C - st.dot(D.T, B), s * st.dot(A, B)],
                [a, b, c, d, np.asarray(-0.75, dtype)], rtol=TOL[dtype] * 100)
    assert "gemm" in {n.op.name.split("{")[0] for n in sn.nodes(f)}


def test_nan_and_infinity_reach_exactly_the_outputs_they_touch():
    A, B = st.dmatrices("A", "B")
    f = sn.function([A, B], [st.dot(A, B), st.dot(A.T, B[:, :7].T[:, :21].T)], backend="cpp")
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=(21, 500)), rng.normal(size=(500, 9))
    a[3, 17], a[20, 499], b[250, 4] = np.nan, np.inf, -np.inf
    got = f(a, b)
    with np.errstate(invalid="ignore"):
        wants = (a @ b, a.T @ b[:21, :7])
    for g, want in zip(got, wants):
        np.testing.assert_array_equal(np.isnan(g), np.isnan(want))
        ok = np.isfinite(want)
        np.testing.assert_allclose(g[ok], want[ok], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_softmax_regression_steps_match_the_reference(dtype):
    """The benchmark's step: X @ W (split over K between threads, partial sums added) and
    W -= lr * X.T @ dZ in place (split over the rows of W), 5 steps on both backends."""
    rng = np.random.default_rng(9)
    X, y = st.tensor("X", dtype=dtype, shape=(None, None)), st.ivector("y")
    w0 = (rng.normal(size=(784, 10)) * 0.05).astype(dtype)
    fs = []
    for backend in ("cpp", "numpy"):
        W = sn.shared(w0.copy(), name="W")
        p = st.softmax(st.dot(X, W))
        cost = -st.mean(st.log(p[st.arange(y.shape[0]), y]))
        fs.append((sn.function([X, y], cost, updates=[(W, W - 0.1 * sn.grad(cost, W))], backend=backend), W))
    for step in range(5):
        x, labels = rng.random((60, 784)).astype(dtype), rng.integers(0, 10, 60).astype(np.int32)
        (f, W), (g, V) = fs
        np.testing.assert_allclose(f(x, labels), g(x, labels), rtol=TOL[dtype] * 100)
        np.testing.assert_allclose(W.get_value(), V.get_value(), rtol=TOL[dtype] * 100, atol=TOL[dtype])


def test_products_compile_for_machines_without_avx512(tmp_path):
    from symnb.kernels.cpp.compiler import build_command
    A, B = st.dmatrices("A", "B")
    F = st.tensor("F", dtype="float32", shape=(None, None))
    (tmp_path / "m.cpp").write_text(sn.codegen([A, B, F], [st.dot(A, B), st.dot(F, F.T)], backend="cpp"))
    cmd = build_command("m", "m.so", ["-march=x86-64-v3", "-mno-avx512f", "-fsyntax-only"])
    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_read_by_columns_from_any_place_in_a_cache_line(dtype):
    """Rows of A' a whole number of cache lines apart, starting anywhere in a line: the
    blocks then start on a line, the first one masked below row 0."""
    A, B = (st.tensor(s, dtype=dtype, shape=(None, None)) for s in "AB")
    f = sn.function([A, B], st.dot(A, B), backend="cpp")
    rng = np.random.default_rng(10)
    k, lda = 60, 64
    b = rng.normal(size=(k, 10)).astype(dtype)
    for offset in range(17):
        for m in (64, 49, 3):
            buf = np.zeros(k * lda + 32, dtype)
            at = buf[offset:offset + k * lda].reshape(k, lda)[:, :m]
            at[:] = rng.normal(size=(k, m))
            np.testing.assert_allclose(f(at.T, b), _reference(at.T, b), rtol=TOL[dtype] * 100, atol=TOL[dtype] * 10)
