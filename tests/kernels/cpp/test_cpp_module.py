"""The C++ module as a whole: sn.codegen's source, the default backend and its fallback
without a compiler, in-place writes it refuses, buffers it never reuses while they are
held, and what the renderer asks for structurally (vector math entry points, product
entries, lane kernels) instead of finding it in the generated text."""
import re
import warnings

import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st

from . import avx512
from .test_cpp_ops import pytestmark  # noqa: F401  (skips without a compiler)


def test_codegen_returns_the_source_without_compiling():
    x = st.dvector("x")
    src = sn.codegen([x], st.exp(x).sum(), backend="cpp")
    assert '#include "module.h"' in src and "reduce<SUM" in src and "exp(" in src
    f = sn.function([x], st.exp(x).sum(), backend="cpp")
    assert f.source == src


def test_cpp_is_the_default_and_without_a_compiler_the_reference_runs_with_one_warning(monkeypatch):
    import importlib
    from symnb.kernels.cpp import compiler
    function_module = importlib.import_module("symnb.function")     # the module, not sn.function
    x = st.dscalar("x")
    assert sn.function([x], x + 1).backend_name == "cpp"
    monkeypatch.setenv("CXX", "no-such-compiler-symnb")
    monkeypatch.setattr(function_module, "_warned_no_compiler", False)
    with pytest.warns(RuntimeWarning, match="no working C\\+\\+ compiler"):
        f = sn.function([x], x + 1)
    assert f.backend_name == "numpy" and f(1.0) == 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sn.function([x], x * 2)(2.0) == 4.0          # said once, not at every function
    with pytest.raises(compiler.CompilerUnavailable, match="no-such-compiler-symnb"):
        sn.function([x], x + 1, backend="cpp")


def test_in_place_marks_that_would_corrupt_a_value_are_not_followed():
    from symnb.core.ops import Fused, scalar_placeholder
    from symnb.core.ops.base import apply_op
    a, b = scalar_placeholder("float64"), scalar_placeholder("float64")
    double = Fused((a,), (a * 2,), destroy=((0, 0),))
    add = Fused((a, b), (a + b,), destroy=((0, 0),))
    w = sn.shared(np.arange(4.0).reshape(2, 2), name="w")
    # Over a shared variable whose update it is not: w must keep its value.
    f = sn.function([], apply_op(double, [w]), backend="cpp", rewrite=False)
    np.testing.assert_array_equal(f(), [[0, 2], [4, 6]])
    np.testing.assert_array_equal(w.get_value(), [[0, 1], [2, 3]])
    # w + w.T written over w while the loop still reads w.T.
    g = sn.function([], [], updates=[(w, apply_op(add, [w, w.T]))], backend="cpp", rewrite=False)
    g()
    np.testing.assert_array_equal(w.get_value(), [[0, 3], [3, 6]])


@pytest.mark.parametrize("dtype,suffix", [("float64", b"exp"), ("float32", b"expf")])
def test_transcendental_loops_call_the_vector_math_library(dtype, suffix):
    """Contiguous loops call glibc's SIMD variants (_ZGV<isa>N<lanes>v_exp...), not one scalar
    call per element; float32 on AVX-512 calls nothing: vmath.h's exp is inline."""
    x = st.tensor("x", dtype=dtype, shape=(None,))
    f = sn.function([x], st.exp(-x) * 2, backend="cpp")
    with open(f.program.module.__file__, "rb") as fh:
        symbols = fh.read()
    if dtype == "float32" and avx512():
        assert not re.search(rb"expf", symbols), "a float32 exp call left in an AVX-512 module"
    else:
        assert re.search(rb"_ZGV[a-z]N\d+v_" + suffix + rb"\b", symbols), f"no SIMD {suffix.decode()} in the module"
    np.testing.assert_allclose(f(np.linspace(-3, 3, 1000, dtype=dtype)),
                               np.exp(-np.linspace(-3, 3, 1000, dtype=dtype)) * 2, rtol=1e-6)


def test_kept_results_and_shared_values_are_never_reused_as_buffers():
    """Buffers alternate with a spare when last call's array is still held (by the caller
    or as a shared variable's value): nothing anyone holds is written over."""
    x = st.dvector("x")
    s = sn.shared(np.zeros(50_000), name="s")
    f = sn.function([x], st.exp(x) * 2, updates=[(s, s * 0.5 + x)], backend="cpp")
    kept, values = [], []
    for k in range(4):
        arg = np.full(50_000, float(k))
        kept.append(f(arg))
        values.append(s.get_value())
    for k, r in enumerate(kept):
        np.testing.assert_allclose(r, np.exp(np.full(50_000, float(k))) * 2, rtol=1e-14)
    expected = 0.0
    for k, v in enumerate(values):
        expected = expected * 0.5 + k
        assert v[0] == expected and v[-1] == expected, k


def test_big_elementwise_outputs_start_where_their_input_does():
    """An elementwise output of 32 KB or more starts at its first input's place in a cache
    line (buffers.h, line_at), so the loop's steps are aligned for both; when the input
    moves, the buffer's view moves over the same memory. Results stay exact, a kept result
    (or a view of one) is never written over, and small outputs are left where NumPy puts
    them."""
    a, b = st.dvectors("a", "b")
    f = sn.function([a, b], 2 * a + 3 * b, backend="cpp")
    n = 20_000
    raw = np.random.default_rng(11).random(n + 80)
    memory, kept = set(), []
    for off in (0, 2, 5, 0, 7, 1, 1, 3):
        x, y = raw[off:off + n], raw[80 - off:80 - off + n]
        out = f(x, y)
        np.testing.assert_array_equal(out, 2 * x + 3 * y)
        assert out.ctypes.data % 64 == x.ctypes.data % 64 and out.flags.c_contiguous and out.flags.writeable
        memory.add(out.base.ctypes.data)
        if off == 7:
            kept.append((out, (2 * x + 3 * y).copy()))
        del out
    assert len(memory) == 2          # the buffer, and a second one once a result was kept
    for out, want in kept:
        np.testing.assert_array_equal(out, want)
    small = f(raw[1:101], raw[:100])
    assert small.base is None and np.array_equal(small, 2 * raw[1:101] + 3 * raw[:100])
    # Views of a placed result have its base as their base (NumPy skips arrays that do not
    # own their data): the caller's slice, and a graph output that is a view of the buffer.
    ones = np.ones(n)
    head = f(ones, ones)[:5]
    f(ones * 10, ones * 10)
    np.testing.assert_array_equal(head, np.full(5, 5.0))
    g = sn.function([a, b], (2 * a + 3 * b).dimshuffle("x", 0), backend="cpp")
    first = g(ones, ones)
    second = g(ones * 10, ones * 10)
    assert not np.shares_memory(first, second)
    np.testing.assert_array_equal(first, np.full((1, n), 5.0))


def test_one_table_entry_gives_scalar_and_lane_code():
    """hypot is one line of scalar.py's MATH: the `omp simd` loop calls libm's hypot (glibc's
    vector form, declared in scalar.h) and the explicit AVX-512 kernel V::hypot, both written
    from that entry; an op with no lane form (floor) keeps its node on the `omp simd` loop."""
    for dtype, fn in (("float32", "hypotf("), ("float64", "hypot(")):
        x, y = (st.tensor(n, dtype=dtype, shape=(None,)) for n in "xy")
        src = sn.codegen([x, y], st.hypot(x, y) * 2, backend="cpp")
        assert "V::hypot(" in src and fn in src and "#if SYMNB_V16" in src
        assert "#if SYMNB_V16" not in sn.codegen([x], st.floor(x) * 2, backend="cpp")
        f = sn.function([x, y], st.hypot(x, y) * 2, backend="cpp")
        a, b = np.linspace(-3, 3, 1001, dtype=dtype), np.linspace(5, -1e3, 1001, dtype=dtype)
        np.testing.assert_allclose(f(a, b), np.hypot(a, b) * 2, rtol=2 * np.finfo(dtype).eps)


def test_entry_points_are_asked_for_by_the_nodes_that_call_them():
    """Module-level entry points come from what the builders report, not from searching the
    source: a float32 exp in an `omp simd` loop asks for vmath.h's exp, a float32 sigmoid for
    exp too (scalar.h's sigmoidf calls it), float64 for nothing; a matrix product for its
    element type's product kernels."""
    def entries(inputs, outputs):
        src = sn.codegen(inputs, outputs, backend="cpp")
        return sorted(re.findall(r"^(SYMNB_\w+_ENTRY\(\w+\))$", src, re.M))

    x32, y32 = st.vector("x", dtype="float32"), st.vector("y", dtype="float32")
    m, n = st.matrix("m", dtype="float32"), st.dmatrix("n")
    # A lane kernel calls vmath.h inline: no entry. A cast keeps the loop off lanes.
    assert entries([x32], st.exp(x32) + 1) == []
    assert entries([x32, y32], st.cast(st.exp(x32) > y32, "float32")) == ["SYMNB_VMATH_ENTRY(exp)"]
    assert entries([x32, y32], st.cast(st.sigmoid(x32) > st.log1p(y32), "float32")) == \
        ["SYMNB_VMATH_ENTRY(exp)", "SYMNB_VMATH_ENTRY(log1p)"]
    d, v = st.dvectors("d", "v")
    assert entries([d], st.cast(st.exp(d) > 0, "float64")) == []
    assert entries([m, n], [st.dot(m, m), st.dot(n, n).sum()]) == \
        ["SYMNB_PRODUCT_ENTRY(double)", "SYMNB_PRODUCT_ENTRY(float)"]
    assert entries([v, n], st.dot(n, v)) == []      # gemv: BLAS only
    # Headers beyond the runtime's are asked for the same way.
    img, k = st.tensor4("img"), st.tensor4("k")
    assert '#include "conv.h"' in sn.codegen([img, k], st.nnet.conv2d(img, k), backend="cpp")
    assert '#include "conv.h"' not in sn.codegen([v], v * 2, backend="cpp")


def test_avx512_modules_build_on_any_machine(tmp_path):
    """The explicit kernels, vmath.h's entry points and the product kernels are compiled only
    where -march=native has AVX-512: built here for an AVX-512 target (not loaded), so a
    machine without it still checks that branch of the generated code and the headers."""
    from symnb.kernels.cpp import compiler
    x, y = (st.tensor(n, dtype="float32", shape=(None,)) for n in "xy")
    d = st.dvector("d")
    w = st.matrix("w", dtype="float32")
    # Separate shapes, so that the rewriter does not fuse them into one loop.
    outs = [st.hypot(w, w.T) * 2 + st.sigmoid(w), st.cast(st.exp(x) > st.softplus(y), "float32"),
            st.tanh(d) + st.sqrt(abs(d)), st.dot(w, w).sum(), st.nnet.softmax(w)]
    src = sn.codegen([x, y, d, w], outs, backend="cpp")
    assert "SYMNB_VMATH_ENTRY(exp)" in src and "SYMNB_PRODUCT_ENTRY(float)" in src
    try:
        meta = compiler._build(tmp_path, src, "symnb_avx512_check", ["-march=icelake-server"], False)
    except compiler.CompileError as e:
        pytest.fail(f"the AVX-512 branch does not build:\n{e}")
    gcc = re.search(r"\(GCC\) (\d+)|^g\+\+ .* (\d+)\.\d+\.\d+$", compiler.toolchain().version, re.M)
    if not gcc or int(gcc.group(1) or gcc.group(2)) < 12:
        pytest.skip("vec.h's kernels need GCC 12 or later; this compiler built the portable branch")
    so = (tmp_path / meta["so"]).read_bytes()
    for symbol in (b"_ZGVeN16vv_hypotf", b"_ZGVeN16v_symnb_expf", b"symnb_log1pf"):
        assert symbol in so, symbol
