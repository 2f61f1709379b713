"""Explicit AVX-512 kernels for float loops (stage "backend renderer").

An eligible node's kernel is written with vec.h's lane types (16 float32 or 8 float64 lanes)
instead of as an `omp simd` loop: its whole steps run on a 64-byte aligned output (NumPy's
large arrays start 16 bytes off a cache line, and GCC's loop splits every access over two:
2*a+3*b float32 over 50k elements here took 12% longer, over 1000 elements 30%), the ends of
the range are masked steps instead of a scalar loop, and the float32 transcendentals of
vmath.h are inline (GCC calls a vector function per 16 lanes, and the call, with every
register saved around it, cost as much as expf itself). Eligible: every operand, result and
intermediate value of one float dtype, every inner op's scalar-table entry marked `lanes`
(scalar.py; render_elemwise.loop_body writes the body). The `#else` branch keeps the
`omp simd` kernel for compilers without AVX-512; both compute the same bits.
"""
from __future__ import annotations

LANES = {"float32": "symnb::v16", "float64": "symnb::v8"}
# Float32 functions whose scalar and `omp simd` calls go to vmath.h's entry points: its own,
# and scalar.h's helpers built on exp and log1p.
_VMATH_USES = {"exp": ("exp",), "log1p": ("log1p",), "sin": ("sin",), "cos": ("cos",), "sigmoid": ("exp",),
               "softplus": ("exp", "log1p")}


def kernel(dtype, params, loads, stmts, stores, calls, scalar_kernel) -> str:
    """The kernel lambda, else (no AVX-512) `scalar_kernel`: whole steps on an output 64-byte
    aligned, a masked step before them and one after. RTL GCSE and the second scheduling
    pass, off for the module (compiler.py), are back on for kernels that call transcendentals
    (`calls`): without them B's kernel took 12% longer.

    loads[i] is "x{j}" with its pointer b{i} and whether it is a scalar; stores are the
    result expressions for q0, q1, ..."""
    lds = " ".join(f"const V::F {name} = {'V::splat(b%d[0])' % i if scalar else 'V::load(b%d + i, m)' % i};"
                   for i, (name, scalar) in enumerate(loads))
    # Whole steps of a `big` loop (render_elemwise.STREAM_BYTES) store past the caches
    # (V::stream, which needs a line) where the output lines up with q0, element-aligned: a
    # plain store first reads the line it writes.
    sts = " ".join(f"if (m == V::ALL && nt{k}) V::stream(q{k} + i, {r}); else V::store(q{k} + i, m, {r});"
                   for k, r in enumerate(stores))
    nts = " ".join(f"const bool nt{k} = big && (uintptr_t)q0 % sizeof(*q0) == 0"
                   + (f" && (uintptr_t)q{k} % sizeof(*q{k}) == 0 && V::to_line(q{k} + lo) == V::to_line(q0 + lo);"
                      if k else ";") for k in range(len(stores)))
    attrs = 'noinline, optimize("gcse", "schedule-insns2")' if calls else "noinline"
    return "\n".join([
        "#if SYMNB_V16",
        f"auto kern = []({', '.join(params)}) __attribute__(({attrs})) -> int {{ namespace V = {LANES[dtype]};",
        nts,
        "auto step = [&](npy_intp i, V::M m) __attribute__((always_inline)) {",
        f"{lds}", *stmts, f"{sts} }};",
        "const npy_intp head = V::to_line(q0 + lo) < hi - lo ? V::to_line(q0 + lo) : hi - lo;",
        "for (npy_intp i = lo, e = lo + head;;) {",
        "    if (i < e) { step(i, V::tail(e - i)); i = e; }",
        "    if (e == hi) break;",
        "    for (; i + V::LANES <= hi; i += V::LANES) step(i, V::ALL);",
        "    e = hi;",
        "}",
        "if (big) symnb::fence();",
        "return 0; };",
        "#else  // no AVX-512",
        scalar_kernel,
        "#endif  // no AVX-512"])


def vmath_uses(calls) -> list:
    """The vmath.h functions whose SYMNB_VMATH_ENTRY a loop making these (function, dtype)
    calls outside an explicit kernel needs (about 20 ms of compile time each, so only those)."""
    return sorted({name for fn, dtype in calls if dtype == "float32" for name in _VMATH_USES.get(fn, ())})
