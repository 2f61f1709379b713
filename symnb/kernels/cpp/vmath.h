// Float32 exp, log1p, sin and cos for AVX-512 (stage "program"), 16 lanes at a time.
//
// GCC vectorizes an `omp simd` loop that calls glibc's vector math by calling a function per
// 16 lanes, and the call, with every vector register saved around it, costs as much as expf
// itself. These are written as inline vector code instead: the explicit kernels
// (render_vector.py) inline them, and the same functions serve every other loop and scalar
// call through the vector function ABI (SYMNB_VMATH_ENTRY below), so a float32 exp gives
// the same bits whichever loop computes it. Float64 keeps glibc's (NumPy's 1e-12 contract).
//
// Largest errors, measured over all 2^32 float32 inputs against the correctly rounded value:
// exp 0.95 ulp, log1p 1.61 ulp, sin and cos 1.99 ulp; NaN, infinities, signed zeros, subnormal
// results and the domain edges (log1p(-1) = -inf, log1p(x < -1) = NaN) as in C99.
#pragma once
#include "vec.h"

#if SYMNB_V16
namespace symnb { namespace v16 {

static inline F fma(F a, F b, F c) { return __builtin_ia32_vfmaddps512_mask(a, b, c, ALL, 4); }
static inline F fma(F a, float b, float c) { return fma(a, splat(b), splat(c)); }
static inline F rint(F a) { return __builtin_ia32_rndscaleps_mask(a, 8, a, ALL, 4); }  // nearest, quiet
static inline F scalef(F a, F b) { return __builtin_ia32_scalefps512_mask(a, b, a, ALL, 4); }
static inline F as_f(I a) { return (F)a; }
static inline I as_i(F a) { return (I)a; }
// Lanes of `x` by class (0 QNaN, 1 SNaN, 2 zero, 3 one, 4 -inf, 5 +inf, 6 negative,
// 7 positive) set from `table`'s nibbles: 0 keeps res, 1 x, 2 NaN, 3 NaN, 4 -inf, 5 +inf.
static inline F fixup(F res, F x, int table) { return __builtin_ia32_fixupimmps512_mask(res, x, I{} + table, 0, ALL, 4); }
// NaN-passing clamps: max(c, x) is x when x is NaN.
static inline F clamp(F x, float lo, float hi) {
    F v = __builtin_ia32_maxps512_mask(splat(lo), x, x, ALL, 4);
    return __builtin_ia32_minps512_mask(splat(hi), v, v, ALL, 4);
}

// exp: x = n ln2 + r, |r| <= ln2/2; exp(r) by a degree-6 polynomial, 2^n by vscalefps
// (which also rounds subnormal results once, and gives inf and 0 past the clamps).
static inline F exp(F x) {
    x = clamp(x, -104.0f, 89.0f);
    const F n = rint(x * 0x1.715476p+0f);
    F r = fma(n, splat(-0x1.62e43p-1f), x);
    r = fma(n, splat(0x1.05c610p-29f), r);
    F e = fma(r, 0x1.6d10fcp-10f, 0x1.120b62p-7f);
    e = fma(e, r, splat(0x1.55551ap-5f));
    e = fma(e, r, splat(0x1.5554dep-3f));
    e = fma(e, r, splat(0.5f));
    e = fma(e, r, splat(1.0f));
    return scalef(fma(e, r, splat(1.0f)), n);
}

// log1p: 1 + x = 2^k (1 + f) with 1 + f in [2/3, 4/3), f = x 2^-k + (2^-k - 1) rounded once;
// log(1 + f) = f + f^2 Q(f), Q of degree 8 (relative error 1e-8 on the interval).
static inline F log1p(F x) {
    const F u = x + 1.0f;
    const F k = __builtin_convertvector((as_i(u) - 0x3f2aaaab) >> 23, F);
    const F s = scalef(splat(1.0f), -k);
    const F f = fma(x, s, s - 1.0f);
    F q = fma(f, -0x1.fcd036p-4f, 0x1.1990bcp-3f);
    q = fma(q, f, splat(-0x1.f75896p-4f));
    q = fma(q, f, splat(0x1.1fdcf0p-3f));
    q = fma(q, f, splat(-0x1.557832p-3f));
    q = fma(q, f, splat(0x1.99bf86p-3f));
    q = fma(q, f, splat(-0x1.ffffb6p-3f));
    q = fma(q, f, splat(0x1.55552cp-2f));
    q = fma(q, f, splat(-0.5f));
    F res = fma(k, splat(0x1.62e43p-1f), fma(k, splat(-0x1.05c610p-29f), fma(q, f * f, f)));
    res = fixup(res, u, 0x03530422);      // 1 + x: 0 -> -inf, negative or -inf -> NaN, +inf -> +inf
    return fixup(res, x, 0x00000100);     // x = -0 -> -0
}

// sin(n pi + r) = (-1)^n sin(r), |r| <= pi/2, r in three parts of pi; sin(r) = r + r^3 P(r^2).
// Lanes beyond |x| = 2^13, where the reduction loses bits, take glibc's sinf/cosf.
static inline F sin_reduced(F r, I odd) {
    const F r2 = r * r;
    F p = fma(r2, -0x1.9db1ccp-26f, 0x1.719692p-19f);
    p = fma(p, r2, splat(-0x1.a01906p-13f));
    p = fma(p, r2, splat(0x1.111110p-7f));
    p = fma(p, r2, splat(-0x1.555556p-3f));
    return as_f(as_i(fma(r * r2, p, r)) ^ (odd << 31));
}
static inline F reduce_pi(F x, F n) {
    F r = fma(n, splat(-0x1.921fb6p+1f), x);
    r = fma(n, splat(0x1.777a5cp-24f), r);
    return fma(n, splat(0x1.ee59dap-49f), r);
}
static inline M beyond(F x, float bound) {
    return __builtin_ia32_cmpps512_mask(as_f(as_i(x) & 0x7fffffff), splat(bound), 30, ALL, 4);   // > (quiet)
}
static inline F sin(F x) {
    const F n = rint(x * 0x1.45f306p-2f);
    F res = fixup(sin_reduced(reduce_pi(x, n), __builtin_convertvector(n, I)), x, 0x00000100);   // -0 -> -0
    const M big = beyond(x, 0x1p13f);
    if (__builtin_expect(big != 0, 0)) res = __builtin_ia32_blendmps_512_mask(res, _ZGVeN16v_sinf(x), big);
    return res;
}
// cos(x) = cos|x|, |x| = (m - 1/2) pi + r: cos = (-1)^m sin(r).
static inline F cos(F x) {
    const F a = as_f(as_i(x) & 0x7fffffff);
    const F m = rint(fma(a, 0x1.45f306p-2f, 0.5f));
    F res = sin_reduced(reduce_pi(a, m - 0.5f), __builtin_convertvector(m, I));
    const M big = beyond(x, 0x1p13f);
    if (__builtin_expect(big != 0, 0)) res = __builtin_ia32_blendmps_512_mask(res, _ZGVeN16v_cosf(x), big);
    return res;
}
SYMNB_SIGMOID_SOFTPLUS(float, 0.6931472f)
}}  // namespace symnb::v16

// The vector function ABI's entry points for one function: `omp simd` loops call the 16-lane
// one (the 4- and 8-lane ones serve loops GCC vectorizes narrower), scalar code the scalar
// one; all of them run the code above. The renderer instantiates only what a module calls.
typedef float symnb_v4 __attribute__((vector_size(16)));
typedef float symnb_v8 __attribute__((vector_size(32)));
#define SYMNB_VMATH_ENTRY(name) \
    extern "C" __attribute__((visibility("hidden"), used)) symnb::v16::F _ZGVeN16v_symnb_##name##f(symnb::v16::F x) { \
        return symnb::v16::name(x); } \
    extern "C" __attribute__((visibility("hidden"), used)) symnb_v8 _ZGVdN8v_symnb_##name##f(symnb_v8 x) { \
        return __builtin_shufflevector(symnb::v16::name(__builtin_shufflevector(x, x, 0, 1, 2, 3, 4, 5, 6, 7, \
            0, 1, 2, 3, 4, 5, 6, 7)), symnb::v16::F{}, 0, 1, 2, 3, 4, 5, 6, 7); } \
    extern "C" __attribute__((visibility("hidden"), used)) symnb_v8 _ZGVcN8v_symnb_##name##f(symnb_v8 x) { \
        return _ZGVdN8v_symnb_##name##f(x); } \
    extern "C" __attribute__((visibility("hidden"), used)) symnb_v4 _ZGVbN4v_symnb_##name##f(symnb_v4 x) { \
        return __builtin_shufflevector(_ZGVdN8v_symnb_##name##f(__builtin_shufflevector(x, x, 0, 1, 2, 3, 0, 1, 2, 3)), \
            symnb_v8{}, 0, 1, 2, 3); } \
    extern "C" __attribute__((visibility("hidden"))) float symnb_##name##f##_scalar(float) noexcept __asm__("symnb_" #name "f"); \
    extern "C" float symnb_##name##f##_scalar(float x) noexcept { return symnb::v16::name(symnb::v16::splat(x))[0]; }

extern "C" {
__attribute__((simd("notinbranch"))) float symnb_expf(float) noexcept;
__attribute__((simd("notinbranch"))) float symnb_log1pf(float) noexcept;
__attribute__((simd("notinbranch"))) float symnb_sinf(float) noexcept;
__attribute__((simd("notinbranch"))) float symnb_cosf(float) noexcept;
}

#else   // no AVX-512: glibc's functions, as for float64
#define SYMNB_VMATH_ENTRY(name)
#define symnb_expf expf
#define symnb_log1pf log1pf
#define symnb_sinf sinf
#define symnb_cosf cosf
#endif
