// Scalar helpers with NumPy's exact semantics, used by the loops the renderer generates
// for elementwise and fused nodes (stage "program"); scalar.py maps op names to them.
// NVRTC compiles them too (kernels/cuda): SYMNB_HD makes them device functions there, and
// the CUDA prelude stands in for the standard headers and the vector math below.
#pragma once
#ifdef __CUDACC_RTC__
#define SYMNB_HD __device__
#else
#define SYMNB_HD
#include <cmath>
#include <cstdint>
#include <type_traits>

// glibc's vector math library: declaring SIMD variants lets `omp simd` loops call them
// (-fno-math-errno, no -ffast-math: results stay within a few ulps of libm's).
extern "C" {
#define SYMNB_SIMD(name) __attribute__((simd("notinbranch"))) double name(double) noexcept; \
                         __attribute__((simd("notinbranch"))) float name##f(float) noexcept;
SYMNB_SIMD(exp) SYMNB_SIMD(log) SYMNB_SIMD(sin) SYMNB_SIMD(cos) SYMNB_SIMD(tan) SYMNB_SIMD(expm1)
SYMNB_SIMD(log1p) SYMNB_SIMD(log2) SYMNB_SIMD(log10) SYMNB_SIMD(exp2) SYMNB_SIMD(sinh) SYMNB_SIMD(cosh)
SYMNB_SIMD(tanh) SYMNB_SIMD(asin) SYMNB_SIMD(acos) SYMNB_SIMD(atan) SYMNB_SIMD(asinh) SYMNB_SIMD(acosh)
SYMNB_SIMD(atanh) SYMNB_SIMD(erf) SYMNB_SIMD(erfc)
#undef SYMNB_SIMD
#define SYMNB_SIMD2(name) __attribute__((simd("notinbranch"))) double name(double, double) noexcept; \
                          __attribute__((simd("notinbranch"))) float name##f(float, float) noexcept;
SYMNB_SIMD2(pow) SYMNB_SIMD2(hypot)
#undef SYMNB_SIMD2
}
// Float32 exp, log1p, sin and cos: symnb's own (AVX-512), else glibc's.
#include "vmath.h"
#endif  // __CUDACC_RTC__

namespace symnb {

// Integer arithmetic wraps as in NumPy: computed on the unsigned type (no C++ overflow UB).
template <class T> using U = typename std::make_unsigned<T>::type;
template <class T> static inline SYMNB_HD T wadd(T a, T b) { return (T)((U<T>)a + (U<T>)b); }
template <class T> static inline SYMNB_HD T wsub(T a, T b) { return (T)((U<T>)a - (U<T>)b); }
template <class T> static inline SYMNB_HD T wmul(T a, T b) { return (T)((U<T>)a * (U<T>)b); }
template <class T> static inline SYMNB_HD T wneg(T a) { return (T)((U<T>)0 - (U<T>)a); }
template <class T> static inline SYMNB_HD T iabs(T a) { return a < 0 ? wneg(a) : a; }

// NumPy's floor division and remainder for floats (npy_divmod).
template <class T> static inline SYMNB_HD T fmod_np(T a, T b) {
    T mod = std::fmod(a, b);
    if (!b) return mod;
    if (mod) { if ((b < 0) != (mod < 0)) mod += b; } else mod = std::copysign((T)0, b);
    return mod;
}
template <class T> static inline SYMNB_HD T fdiv_np(T a, T b) {
    if (!b) return a / b;
    T mod = std::fmod(a, b), div = (a - mod) / b;
    if (mod && ((b < 0) != (mod < 0))) div -= 1;
    if (div) { T f = std::floor(div); if (div - f > (T)0.5) f += 1; return f; }
    return std::copysign((T)0, a / b);
}

// Integer versions: a zero divisor sets *err (ZeroDivisionError after the loop).
template <class T> static inline SYMNB_HD T idiv(T a, T b, int* err) {
    if (b == 0) { *err |= 1; return 0; }
    if (std::is_signed<T>::value && b == (T)-1) return wneg(a);   // MIN // -1 wraps, as in NumPy
    T q = a / b;
    if (std::is_signed<T>::value && (a % b != 0) && ((a < 0) != (b < 0))) q -= 1;
    return q;
}
template <class T> static inline SYMNB_HD T imod(T a, T b, int* err) {
    if (b == 0) { *err |= 1; return 0; }
    if (std::is_signed<T>::value && b == (T)-1) return 0;
    T r = a % b;
    if (std::is_signed<T>::value && r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
}
template <class T> static inline SYMNB_HD T ipow(T a, T b, int* err) {
    if (std::is_signed<T>::value && b < 0) { *err |= 2; return 0; }
    U<T> r = 1, x = (U<T>)a;
    for (U<T> e = (U<T>)b; e; e >>= 1) { if (e & 1) r *= x; x *= x; }
    return (T)r;
}

// maximum/minimum propagate NaN from either side, as np.maximum/np.minimum.
template <class T> static inline SYMNB_HD T fmax_np(T a, T b) { return (a >= b || a != a) ? a : b; }
template <class T> static inline SYMNB_HD T fmin_np(T a, T b) { return (a <= b || a != a) ? a : b; }
template <class T> static inline SYMNB_HD T sign_np(T a) { return a > 0 ? (T)1 : a < 0 ? (T)-1 : a == 0 ? (T)0 : a; }

// scipy.special.expit and np.logaddexp(0, x), branch for branch.
static inline SYMNB_HD double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static inline SYMNB_HD float sigmoidf(float x) { return 1.0f / (1.0f + symnb_expf(-x)); }
static inline SYMNB_HD double softplus(double x) {
    return x == 0 ? 0.6931471805599453 : (x < 0 ? log1p(exp(x)) : x + log1p(exp(-x)));
}
static inline SYMNB_HD float softplusf(float x) {
    return x == 0 ? 0.6931472f : (x < 0 ? symnb_log1pf(symnb_expf(x)) : x + symnb_log1pf(symnb_expf(-x)));
}

#ifndef __CUDACC_RTC__
// Error bits set by integer loops, raised once the loop is done.
static inline int loop_error(int err) {
    if (err & 1) { PyErr_SetString(PyExc_ZeroDivisionError, "integer division or modulo by zero"); return -1; }
    if (err & 2) { PyErr_SetString(PyExc_ValueError, "Integers to negative integer powers are not allowed."); return -1; }
    return 0;
}

#endif  // __CUDACC_RTC__

}  // namespace symnb
