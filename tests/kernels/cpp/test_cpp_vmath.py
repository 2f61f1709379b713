"""Float32 exp, log1p, sin and cos (vmath.h) and the explicit AVX-512 kernels
(render_vector.py): accuracy against float64, C99's special values, the same bits from
every kind of loop, every length and alignment, and eligibility."""
import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st
from symnb.kernels.base import BACKENDS

from . import avx512

pytestmark = pytest.mark.skipif(not BACKENDS["cpp"].available()[0], reason=BACKENDS["cpp"].available()[1])

FUNCS = {"exp": np.exp, "log1p": np.log1p, "sin": np.sin, "cos": np.cos}


# Largest error in ulps over all 2^32 inputs, measured exhaustively for vmath.h (exp 0.95,
# log1p 1.61, sin and cos 1.99); without AVX-512 these are glibc's, held to its documented 4.
BOUND = {"exp": 1.0, "log1p": 2.0, "sin": 2.0, "cos": 2.0}


def ulps(got, x, fn):
    """|got - fn(x)| in units of the last place of the float32 nearest the float64 value."""
    ref = fn(x.astype(np.float64))
    spacing = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
    ok = np.isfinite(ref) & np.isfinite(got)
    return np.abs(got.astype(np.float64)[ok] - ref[ok]) / spacing[ok]


@pytest.mark.parametrize("name", FUNCS)
def test_accuracy_over_every_513th_float32(name):
    """8.4 million bit patterns spread over all of float32 (every sign and exponent), each
    within the bound of the float64 result rounded, and the non-finite ones exactly NumPy's."""
    x = np.arange(0, 2 ** 32, 513, dtype=np.uint64).astype(np.uint32).view(np.float32)
    v = st.tensor("x", dtype="float32", shape=(None,))
    got = sn.function([v], getattr(st, name)(v), backend="cpp")(x)
    with np.errstate(all="ignore"):
        err = ulps(got, x, FUNCS[name])
        want = FUNCS[name](x)
    assert err.max() <= (BOUND[name] if avx512() else 4.0), f"{name}: {err.max():.3f} ulp"
    bad = ~np.isfinite(want) | ~np.isfinite(got)
    np.testing.assert_array_equal(got[bad], want[bad])


def test_special_values_are_c99s():
    tiny, sub = np.float32(1e-30), np.float32(1e-40)
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -1.0, -1.5, -np.nextafter(1, 2, dtype=np.float32), 88.72,
                  89.0, -103.9, -110.0, tiny, -tiny, sub, -sub, 3e38, -3e38, 8191.0, 8193.0, 1e30],
                 dtype=np.float32)
    v = st.tensor("x", dtype="float32", shape=(None,))
    f = sn.function([v], [getattr(st, n)(v) for n in FUNCS], backend="cpp")
    with np.errstate(all="ignore"):
        for name, got in zip(FUNCS, f(x)):
            want = FUNCS[name](x)
            same = (np.isnan(got) & np.isnan(want)) | ((got == want) & (np.signbit(got) == np.signbit(want)))
            close = np.isclose(got, want, rtol=4e-7, atol=0) & np.isfinite(want) & (want != 0)
            assert np.all(same | close), f"{name}: {x[~(same | close)]} -> {got[~(same | close)]}, not {want[~(same | close)]}"


@pytest.mark.parametrize("name", ["exp", "log1p", "sin", "cos", "sigmoid", "softplus"])
def test_every_loop_gives_the_same_bits(name):
    """The explicit kernel (exp alone), the `omp simd` loop with its narrower and scalar
    steps (exp under np.maximum, which the kernels leave to GCC), and a 0-d call agree bit
    for bit, as do strided and broadcast operands. (Without AVX-512 these are glibc's
    functions, whose scalar and vector versions differ in the last bit.)"""
    same = np.testing.assert_array_equal if avx512() else \
        (lambda got, want: np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-37))
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(1003) * 4).astype(np.float32)
    if name == "log1p":
        x = np.abs(x)
    v = st.tensor("x", dtype="float32", shape=(None,))
    op = getattr(st, name)
    kernel = sn.function([v], op(v), backend="cpp")
    guarded = sn.function([v], st.maximum(op(v), np.float32(-2)), backend="cpp")
    want = kernel(x)
    same(guarded(x), np.maximum(want, -2))
    s = st.tensor("s", dtype="float32", shape=())
    one = sn.function([s], op(s), backend="cpp")
    same(np.array([one(np.float32(e)) for e in x[:40]]), want[:40])
    same(kernel(x[::-3]), want[::-3])
    m = st.tensor("m", dtype="float32", shape=(None, None))
    r = st.tensor("r", dtype="float32", shape=(None,))
    grid = sn.function([m, r], op(m + r), backend="cpp")
    same(grid(np.zeros((59, 17), np.float32), x[:17]), np.broadcast_to(want[:17], (59, 17)))
    np.testing.assert_allclose(want, sn.function([v], op(v), backend="numpy")(x), rtol=1e-6, atol=1e-37)


def test_kernel_source_and_eligibility():
    """What gets an explicit kernel, and which entry points a module instantiates (the
    source is the same on every machine: the preprocessor picks the branch)."""
    x, y = st.tensor("x", dtype="float32", shape=(None,)), st.tensor("y", dtype="float32", shape=(None,))
    src = sn.codegen([x, y], st.exp(-x) * st.sin(y) + st.log1p(x * x) / 3, backend="cpp")
    assert "#if SYMNB_V16" in src and "V::exp(" in src and "V::log1p(" in src and "V::sin(" in src
    assert "SYMNB_VMATH_ENTRY" not in src          # nothing but the kernel calls them
    assert 'optimize("gcse"' in src                # a transcendental's kernel keeps GCSE
    plain = sn.codegen([x, y], x * y + 1, backend="cpp")
    assert "namespace V = symnb::v16" in plain and 'optimize("gcse"' not in plain
    d = st.tensor("d", dtype="float64", shape=(None,))
    assert "namespace V = symnb::v8" in sn.codegen([d], st.exp(d) * 2, backend="cpp")
    guarded = sn.codegen([x], st.maximum(st.exp(x), np.float32(0)), backend="cpp")        # no vector maximum
    assert "#if SYMNB_V16" not in guarded and "SYMNB_VMATH_ENTRY(exp)" in guarded
    i = st.tensor("i", dtype="int32", shape=(None,))
    assert "#if SYMNB_V16" not in sn.codegen([i], i * 3 + 1, backend="cpp")                # integers
    assert "#if SYMNB_V16" not in sn.codegen([x, d], x * 2 + d, backend="cpp")            # two dtypes


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", [0, 1, 7, 15, 16, 17, 1000, 70001])
def test_every_length_offset_and_operand_kind(n, dtype):
    """Masked first and last steps at every offset from a cache line, a 0-d operand, a
    constant; arithmetic alone is exact."""
    rng = np.random.default_rng(n)
    T = np.dtype(dtype).type
    x, y, s = (st.tensor("x", dtype=dtype, shape=(None,)), st.tensor("y", dtype=dtype, shape=(None,)),
               st.tensor("s", dtype=dtype, shape=()))
    outs = [st.tanh(x) * s - st.cos(y) / T(7) + st.softplus(-x), (x * s - y) / (y + T(0.5)) + T(1)]
    f, g = sn.function([x, y, s], outs, backend="cpp"), sn.function([x, y, s], outs, backend="numpy")
    buf = rng.random(2 * n + 32).astype(dtype)
    for off in (0, 1, 3, 5):
        a, b = buf[off:off + n], buf[n + 16 + off:][:n]
        got, want = f(a, b, T(0.25)), g(a, b, T(0.25))
        np.testing.assert_allclose(got[0], want[0], rtol=2e-6 if dtype == "float32" else 1e-12, atol=1e-7)
        np.testing.assert_array_equal(got[1], want[1])


def test_the_branch_for_machines_without_avx512_compiles(tmp_path):
    """Modules carry an `omp simd` kernel for compilers without AVX-512: the same source,
    built for x86-64-v3, compiles (with glibc's functions behind symnb_expf and the rest)."""
    import subprocess
    from symnb.kernels.cpp.compiler import build_command
    x, d = st.tensor("x", dtype="float32", shape=(None,)), st.tensor("d", dtype="float64", shape=(None,))
    src = sn.codegen([x, d], [st.exp(-x) * st.sin(x) + st.softplus(x), st.maximum(st.exp(x), np.float32(0)),
                              st.sigmoid(d) * 2 + st.log1p(d)], backend="cpp")
    assert "#if SYMNB_V16" in src and "SYMNB_VMATH_ENTRY(exp)" in src
    (tmp_path / "m.cpp").write_text(src)
    cmd = build_command("m", "m.so", ["-march=x86-64-v3", "-mno-avx512f", "-fsyntax-only"])
    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_negative_zero_scalar_keeps_its_sign_in_every_lane(dtype):
    """A scalar operand is broadcast to all lanes; adding +0.0 to do it made -0.0 positive."""
    x, s = st.tensor("x", dtype=dtype, shape=(None,)), st.scalar("s", dtype=dtype)
    f = sn.function([x, s], [x * s, s - x, st.exp(x) * s], backend="cpp")
    xs = np.linspace(0, 1, 37, dtype=dtype)
    xs[0] = 0.0
    for got, want in zip(f(xs, np.asarray(-0.0, dtype)), (xs * -0.0, -0.0 - xs, np.exp(xs) * -0.0)):
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_outputs_past_the_caches_are_streamed_and_exact(dtype):
    """Outputs of 32 MB or more store their whole steps past the caches (render_elemwise.
    STREAM_BYTES); the masked ends and the strided path store as usual. Every element is
    NumPy's, whatever the input's place in a cache line."""
    x = st.tensor("x", dtype=dtype, shape=(None,))
    f = sn.function([x], [x * 2 + 1, x - 3], backend="cpp")
    n = (1 << 25) // np.dtype(dtype).itemsize + 37
    rng = np.random.default_rng(4)
    base = rng.random(n + 16).astype(dtype)
    for off in (0, 3):
        xs = base[off:off + n]
        for got, want in zip(f(xs), (xs * 2 + 1, xs - 3)):
            np.testing.assert_array_equal(got, want)
    big = rng.random(2 * n).astype(dtype)[::2]      # strided: the rows path, plain stores
    np.testing.assert_array_equal(f(big)[0], big * 2 + 1)


def test_a_big_loop_over_an_input_off_its_element_alignment():
    """An input not aligned to its elements (a view of bytes at an odd offset), big enough
    that the output is streamed: every element is NumPy's."""
    x = st.tensor("x", dtype="float64", shape=(None,))
    f = sn.function([x], x + 1, backend="cpp")
    n = (1 << 25) // 8 + 5
    raw = np.zeros(n * 8 + 1, np.uint8)
    xs = raw[1:].view(np.float64)
    xs[:] = np.arange(n, dtype=np.float64) % 7
    assert not xs.flags.aligned
    np.testing.assert_array_equal(f(xs), xs + 1)
