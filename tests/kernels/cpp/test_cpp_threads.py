"""The module's worker pool (pool.h): loops above the thread threshold, GEMMs split between
threads and big random draws give the single-thread results, also when several Python
threads call compiled functions at once (the GIL is released around big products)."""
import threading

import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st
from symnb.kernels.base import BACKENDS

pytestmark = pytest.mark.skipif(not BACKENDS["cpp"].available()[0], reason="no C++ compiler")


def _functions():
    a, b = st.dvector("a"), st.dvector("b")
    X, W = st.dmatrix("X"), st.dmatrix("W")
    M = st.dmatrix("M")
    stream = sn.RandomStream(seed=3)
    return [
        (sn.function([a, b], st.exp(-a) * st.sin(b) + a * b, backend="cpp"), "flat"),
        (sn.function([M, b], st.tanh(M.T + b), backend="cpp"), "rows"),          # strided rows
        (sn.function([X, W], st.dot(X, W), backend="cpp"), "gemm"),              # split product
        (sn.function([X, W], st.dot(X, W) * 2, backend="cpp"), "big gemm"),      # GIL released
        (sn.function([], stream.uniform(size=(400, 300)), backend="cpp"), "draw"),
    ]


def _args(kind, rng):
    if kind == "flat":
        return [rng.random(200_000), rng.random(200_000)]
    if kind == "rows":
        return [rng.random((700, 300)), rng.random(700)]
    if kind == "gemm":
        return [rng.random((60, 784)), rng.random((784, 10))]
    if kind == "big gemm":
        return [rng.random((200, 300)), rng.random((300, 200))]
    return []


def _reference(kind, args):
    if kind == "flat":
        a, b = args
        return np.exp(-a) * np.sin(b) + a * b
    if kind == "rows":
        M, b = args
        return np.tanh(M.T + b)
    if kind in ("gemm", "big gemm"):
        return args[0] @ args[1] * (2 if kind == "big gemm" else 1)
    return None


def test_threaded_loops_products_and_draws_match():
    rng = np.random.default_rng(0)
    for f, kind in _functions():
        args = _args(kind, rng)
        out = f(*args)
        if kind == "draw":
            assert out.shape == (400, 300) and 0 <= out.min() and out.max() < 1
            assert abs(out.mean() - 0.5) < 0.01
        else:
            np.testing.assert_allclose(out, _reference(kind, args), rtol=1e-12, atol=1e-12)


def test_python_threads_calling_at_once_get_their_own_results():
    rng = np.random.default_rng(1)
    fns = [(f, kind, _args(kind, rng)) for f, kind in _functions() if kind != "draw"]
    expected = [_reference(kind, args) for _, kind, args in fns]
    errors = []

    def worker(seed):
        order = np.random.default_rng(seed).permutation(len(fns))
        for _ in range(30):
            for k in order:
                f, _, args = fns[k]
                got = f(*args)
                if not np.allclose(got, expected[k], rtol=1e-12, atol=1e-12):
                    errors.append(k)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a call hung"
    assert errors == []


def test_thread_count_from_the_environment(monkeypatch):
    from symnb.kernels.cpp.program import usable_cores
    monkeypatch.setenv("SYMNB_NUM_THREADS", "1")
    assert usable_cores() == 1
    monkeypatch.setenv("SYMNB_NUM_THREADS", "nonsense")
    assert usable_cores() >= 1


def test_split_products_leave_openblas_thread_count_as_they_found_it():
    """A split product runs each part on one OpenBLAS thread (blas.h, OneBlasThread): the
    count NumPy's OpenBLAS had comes back after every call, also with four threads at once."""
    import ctypes
    from symnb.kernels.cpp import program
    set_addr, get_addr, state_addr = program.blas_pointers()[2]
    if not set_addr or program.usable_cores() < 2:
        pytest.skip("needs two cores and NumPy's OpenBLAS thread count")
    get = ctypes.CFUNCTYPE(ctypes.c_int)(get_addr)
    set_ = ctypes.CFUNCTYPE(None, ctypes.c_int)(set_addr)
    state = (ctypes.c_int64 * 3).from_address(state_addr)
    X, W = st.dmatrices("X", "W")
    f = sn.function([X, W], st.dot(X, W) * 2, backend="cpp")
    rng = np.random.default_rng(4)
    args = [rng.random((200, 300)), rng.random((300, 200))]
    before = get()
    try:
        for count in (3, 1, before):
            set_(count)
            np.testing.assert_allclose(f(*args), args[0] @ args[1] * 2, rtol=1e-12)
            assert get() == count and state[1] == 0

        def calls():
            for _ in range(50):
                f(*args)

        threads = [threading.Thread(target=calls) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert get() == before and state[1] == 0 and state[0] == 0
    finally:
        set_(before)


def test_functions_share_one_worker_pool():
    """Every module uses the first loaded module's workers (pool.h, share_pool): compiling
    and calling more threaded functions starts no more threads."""
    import os
    from symnb.kernels.cpp.program import usable_cores
    if usable_cores() < 2 or not os.path.isdir("/proc/self/task"):
        pytest.skip("needs two cores and /proc")
    a = st.dvector("a")
    big = np.random.default_rng(5).random(400_000)
    fns = [sn.function([a], st.exp(a) * k + a, backend="cpp") for k in (2.0, 3.0, 4.0, 5.0)]
    fns[0](big)
    threads = len(os.listdir("/proc/self/task"))
    for k, f in zip((2.0, 3.0, 4.0, 5.0), fns):
        np.testing.assert_allclose(f(big), np.exp(big) * k + big, rtol=1e-12)
    assert len(os.listdir("/proc/self/task")) == threads


@pytest.mark.parametrize("m,k,n", [(60, 785, 10), (100, 784, 500)])
def test_products_split_along_k_accumulate_into_kept_values(m, k, n):
    """A product whose K is its longest side is split along K (blas.h): the parts' sums are
    added to the accumulator's own scaled values (an in-place update) and to fresh outputs
    alike, by the threads themselves when the result is big."""
    from symnb.kernels.cpp.program import usable_cores
    if usable_cores() < 2:
        pytest.skip("needs two cores")
    A, B = st.dmatrices("A", "B")
    rng = np.random.default_rng(6)
    W0 = rng.random((m, n))
    W = sn.shared(W0.copy(), name="W")
    f = sn.function([A, B], st.dot(A, B), updates=[(W, 0.5 * W - 0.1 * st.dot(A, B))], backend="cpp")
    a, b = rng.random((m, k)), rng.random((k, n))
    for step in range(3):
        want_out, want_w = a @ b, 0.5 * W.get_value() - 0.1 * (a @ b)
        np.testing.assert_allclose(f(a, b), want_out, rtol=1e-12)
        np.testing.assert_allclose(W.get_value(), want_w, rtol=1e-12)


_SPIN_OR_SLEEP = """
import time
import numpy as np
import symnb as sn
import symnb.tensor as st
a, b = st.fvectors("a", "b")
f = sn.function([a, b], 2 * a + 3 * b, backend="cpp")
rng = np.random.default_rng(10)
x, y = rng.random(100_000, dtype=np.float32), rng.random(100_000, dtype=np.float32)
want = 2 * x + 3 * y
for pause in [0, 0, 2e-5, 0, 1e-3, 0, 5e-5, 2e-3] * 25:
    if pause:
        time.sleep(pause)
    np.testing.assert_array_equal(f(x, y), want)
print("ok")
"""


def test_loops_right_whether_the_workers_spin_or_sleep():
    """Workers spin a few microseconds after a job, then sleep; the caller wakes them only
    when one is counted asleep (pool.h, `sleepers`), and a worker that misses a job leaves
    its chunks to the caller. Calls right after one another, a little apart and long
    apart all finish with every chunk done: in a child process, so that a lost chunk (the
    caller waiting forever, holding the GIL) fails the test instead of hanging the run."""
    import subprocess
    import sys
    from symnb.kernels.cpp.program import usable_cores
    from . import child_env
    if usable_cores() < 2:
        pytest.skip("needs two cores")
    out = subprocess.run([sys.executable, "-c", _SPIN_OR_SLEEP], capture_output=True, text=True, timeout=300,
                         env=child_env())
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_modules_loaded_with_fewer_threads_share_the_pool(monkeypatch):
    """Modules loaded with different thread counts share the process's pool (pool.h,
    `active`): their loops, alternating, finish and stay right. How many threads a job
    used is not visible from here; this checks that the mixed case neither hangs nor
    loses a chunk."""
    from symnb.kernels.cpp.program import usable_cores
    if usable_cores() < 2:
        pytest.skip("needs two cores")
    a = st.dvector("a")
    big = np.random.default_rng(9).random(300_000)
    monkeypatch.setenv("SYMNB_NUM_THREADS", "4")
    wide = sn.function([a], st.exp(a) * 7.25 + a, backend="cpp")
    wide(big)
    monkeypatch.setenv("SYMNB_NUM_THREADS", "2")
    narrow = sn.function([a], st.exp(a) * 9.5 - a, backend="cpp")
    for _ in range(20):
        np.testing.assert_allclose(narrow(big), np.exp(big) * 9.5 - big, rtol=1e-12)
        np.testing.assert_allclose(wide(big), np.exp(big) * 7.25 + big, rtol=1e-12)


def test_a_forked_child_gets_openblas_threads_back():
    """Forked while a split product held OpenBLAS at one thread, a child frees the shared
    lock and restores the count (program._blas_state_after_fork, run at fork)."""
    import ctypes
    from symnb.kernels.cpp import program
    set_addr, get_addr, _ = program.blas_pointers()[2]
    if not set_addr:
        pytest.skip("NumPy's OpenBLAS thread count cannot be set here")
    get = ctypes.CFUNCTYPE(ctypes.c_int)(get_addr)
    set_ = ctypes.CFUNCTYPE(None, ctypes.c_int)(set_addr)
    before = get()
    state = program._BLAS_THREAD_STATE
    try:
        state[0], state[1], state[2] = 1, 1, before
        set_(1)
        program._blas_state_after_fork()
        assert (state[0], state[1], get()) == (0, 0, before)
    finally:
        state[0] = state[1] = 0
        set_(before)
