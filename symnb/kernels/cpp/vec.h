// AVX-512 lanes for the explicit elementwise kernels (render_vector.py; stage "program"):
// 16 float32 lanes (symnb::v16) or 8 float64 lanes (symnb::v8) under the same names, masked
// loads and stores (a kernel's first and last steps), and glibc's vector math behind plain
// names (V::log, V::tanh, ...). vmath.h adds symnb's own float32 exp, log1p, sin and cos.
// Only GCC builtins and vector extensions: <immintrin.h> alone takes 0.25 s to parse. A
// compiler without one of them (not GCC 12 or later) leaves SYMNB_V16 undefined, and the
// kernels' `omp simd` branch is compiled instead.
#pragma once

#if defined(__AVX512F__) && !defined(__clang__) && __GNUC__ >= 12 && __has_builtin(__builtin_shufflevector) \
    && __has_builtin(__builtin_ia32_loadups512_mask) && __has_builtin(__builtin_ia32_storeups512_mask) \
    && __has_builtin(__builtin_ia32_loadupd512_mask) && __has_builtin(__builtin_ia32_storeupd512_mask) \
    && __has_builtin(__builtin_ia32_movntps512) && __has_builtin(__builtin_ia32_movntpd512) \
    && __has_builtin(__builtin_ia32_sqrtps512_mask) && __has_builtin(__builtin_ia32_sqrtpd512_mask) \
    && __has_builtin(__builtin_ia32_vfmaddps512_mask) && __has_builtin(__builtin_ia32_rndscaleps_mask) \
    && __has_builtin(__builtin_ia32_scalefps512_mask) && __has_builtin(__builtin_ia32_fixupimmps512_mask) \
    && __has_builtin(__builtin_ia32_maxps512_mask) && __has_builtin(__builtin_ia32_minps512_mask) \
    && __has_builtin(__builtin_ia32_cmpps512_mask) && __has_builtin(__builtin_ia32_blendmps_512_mask)
#define SYMNB_V16 1

// One lane type: F (T x N), its bits I, its lane mask M, and what a kernel does with them.
// splat lists its lanes: `F{} + v` would add +0.0 to v, turning -0.0 into +0.0 (and costing
// an add before each broadcast).
#define SYMNB_X8(v) v, v, v, v, v, v, v, v
#define SYMNB_X16(v) SYMNB_X8(v), SYMNB_X8(v)
#define SYMNB_LANES(T, BITS, MASK, N, SUFFIX, ABS_BITS) \
    typedef T F __attribute__((vector_size(64))); \
    typedef BITS I __attribute__((vector_size(64))); \
    typedef MASK M; \
    static const M ALL = (M)((1u << N) - 1); \
    static const long LANES = N; \
    static inline F splat(T v) { return F{SYMNB_X##N(v)}; } \
    static inline M tail(long n) { return n >= LANES ? ALL : (M)((1u << n) - 1); }   /* the first n lanes */ \
    static inline long to_line(const T* p) { return (long)((0 - (unsigned long)p) & 63) / (long)sizeof(T); } \
    static inline F load(const T* p, M m) { return __builtin_ia32_loadu##SUFFIX##512_mask(p, F{}, m); } \
    static inline void store(T* p, M m, F v) { __builtin_ia32_storeu##SUFFIX##512_mask(p, v, m); } \
    static inline void stream(T* p, F v) { __builtin_ia32_movnt##SUFFIX##512(p, v); }   /* p on a line */ \
    static inline F sqrt(F x) { return __builtin_ia32_sqrt##SUFFIX##512_mask(x, x, ALL, 4); } \
    static inline F abs(F x) { return (F)((I)x & (BITS)ABS_BITS); } \
    static inline F fabs(F x) { return abs(x); }
namespace symnb {
// After streamed stores (V::stream, render_vector.py), before the pool hands the output over.
static inline void fence() { __builtin_ia32_sfence(); }
namespace v16 { SYMNB_LANES(float, int, unsigned short, 16, ps, 0x7fffffff) }
namespace v8 { SYMNB_LANES(double, long long, unsigned char, 8, pd, 0x7fffffffffffffffLL) }
}  // namespace symnb
#undef SYMNB_LANES
#undef SYMNB_X16
#undef SYMNB_X8

// glibc's vector functions (16 float32 or 8 float64 lanes) under their plain names (the lane
// forms of scalar.py's MATH table: a function added there needs its line here).
#define SYMNB_GLIBC16(name) extern "C" symnb::v16::F _ZGVeN16v_##name##f(symnb::v16::F) noexcept; \
    namespace symnb { namespace v16 { static inline F name(F x) { return _ZGVeN16v_##name##f(x); } } }
#define SYMNB_GLIBC8(name) extern "C" symnb::v8::F _ZGVeN8v_##name(symnb::v8::F) noexcept; \
    namespace symnb { namespace v8 { static inline F name(F x) { return _ZGVeN8v_##name(x); } } }
#define SYMNB_GLIBC(name) SYMNB_GLIBC16(name) SYMNB_GLIBC8(name)
SYMNB_GLIBC(log) SYMNB_GLIBC(tan) SYMNB_GLIBC(expm1) SYMNB_GLIBC(log2) SYMNB_GLIBC(log10) SYMNB_GLIBC(exp2)
SYMNB_GLIBC(sinh) SYMNB_GLIBC(cosh) SYMNB_GLIBC(tanh) SYMNB_GLIBC(asin) SYMNB_GLIBC(acos) SYMNB_GLIBC(atan)
SYMNB_GLIBC(asinh) SYMNB_GLIBC(acosh) SYMNB_GLIBC(atanh) SYMNB_GLIBC(erf) SYMNB_GLIBC(erfc)
SYMNB_GLIBC8(exp) SYMNB_GLIBC8(log1p) SYMNB_GLIBC8(sin) SYMNB_GLIBC8(cos)
#define SYMNB_GLIBC2(name) extern "C" symnb::v16::F _ZGVeN16vv_##name##f(symnb::v16::F, symnb::v16::F) noexcept; \
    extern "C" symnb::v8::F _ZGVeN8vv_##name(symnb::v8::F, symnb::v8::F) noexcept; \
    namespace symnb { namespace v16 { static inline F name(F x, F y) { return _ZGVeN16vv_##name##f(x, y); } } \
                      namespace v8 { static inline F name(F x, F y) { return _ZGVeN8vv_##name(x, y); } } }
SYMNB_GLIBC2(hypot)
extern "C" symnb::v16::F _ZGVeN16v_sinf(symnb::v16::F) noexcept;     // vmath.h's sin and cos beyond 2^13
extern "C" symnb::v16::F _ZGVeN16v_cosf(symnb::v16::F) noexcept;
#undef SYMNB_GLIBC2
#undef SYMNB_GLIBC
#undef SYMNB_GLIBC8
#undef SYMNB_GLIBC16

// scalar.h's sigmoid and softplus, operation for operation (the same bits); in each
// namespace once its exp and log1p are declared (vmath.h for float32).
#define SYMNB_SIGMOID_SOFTPLUS(T, LN2) \
    static inline F sigmoid(F x) { return (T)1 / ((T)1 + exp(-x)); } \
    static inline F softplus(F x) { \
        const F l = log1p(exp(-abs(x))); \
        return x == (T)0 ? splat(LN2) : (x < (T)0 ? l : x + l); }
namespace symnb { namespace v8 { SYMNB_SIGMOID_SOFTPLUS(double, 0.6931471805599453) } }
#endif
