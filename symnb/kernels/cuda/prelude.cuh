// Device prelude of every generated CUDA module (stage "backend renderer"): what NVRTC lacks
// (fixed-width types, the std:: names scalar.h uses), the float32 names scalar.py emits for
// vmath.h's functions, then block reductions, softmax rows and Philox for the kernels.
typedef signed char int8_t;
typedef short int16_t;
typedef int int32_t;
typedef long long int64_t;
typedef unsigned char uint8_t;
typedef unsigned short uint16_t;
typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;
typedef unsigned char npy_bool;
#define NAN __int_as_float(0x7fffffff)
#define INFINITY __int_as_float(0x7f800000)
namespace std {
using ::fmod;
using ::copysign;
using ::floor;
template <class T> struct make_unsigned { typedef T type; };
template <> struct make_unsigned<signed char> { typedef unsigned char type; };
template <> struct make_unsigned<short> { typedef unsigned short type; };
template <> struct make_unsigned<int> { typedef unsigned int type; };
template <> struct make_unsigned<long long> { typedef unsigned long long type; };
template <class T> struct is_signed { static constexpr bool value = T(-1) < T(0); };
}  // namespace std
// vmath.h is the host's (AVX-512); the device has its own float32 functions.
#define symnb_expf expf
#define symnb_log1pf log1pf
#define symnb_sinf sinf
#define symnb_cosf cosf
#include "scalar.h"

namespace symnb {

// One value per block from one per thread (blockDim.x a power of two, at most 1024).
template <class A, class F> __device__ A block_reduce(A v, F combine) {
    __shared__ unsigned char raw[1024 * sizeof(A)];
    A* sh = (A*)raw;
    sh[threadIdx.x] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] = combine(sh[threadIdx.x], sh[threadIdx.x + s]);
        __syncthreads();
    }
    A r = sh[0];
    __syncthreads();
    return r;
}

// argmax/argmin as NumPy: the first extreme, the first NaN before any number.
template <class T> struct Arg { T v; long long i; };
template <class T, bool MAX> __device__ Arg<T> arg_combine(Arg<T> a, Arg<T> b) {
    if (b.i < 0) return a;
    if (a.i < 0) return b;
    if (a.v != a.v) return (b.v != b.v && b.i < a.i) ? b : a;
    if (b.v != b.v) return b;
    const bool better = MAX ? b.v > a.v : b.v < a.v;
    return (better || (b.v == a.v && b.i < a.i)) ? b : a;
}

// softmax / log_softmax of one row (the whole block), as the C++ backend: x - max, then exp
// and its sum.
template <class T, bool LOG> __device__ void softmax_row(const T* x, T* y, long long len) {
    T m = -INFINITY;
    for (long long j = threadIdx.x; j < len; j += blockDim.x) m = fmax_np<T>(m, x[j]);
    m = block_reduce(m, [](T a, T b) { return fmax_np<T>(a, b); });
    T s = 0;
    for (long long j = threadIdx.x; j < len; j += blockDim.x) s += exp(x[j] - m);
    s = block_reduce(s, [](T a, T b) { return a + b; });
    const T ls = log(s);
    for (long long j = threadIdx.x; j < len; j += blockDim.x) y[j] = LOG ? x[j] - m - ls : exp(x[j] - m) / s;
}

// Gradient of log_softmax along a row: g - exp(lsm) * sum(g).
template <class T> __device__ void log_softmax_grad_row(const T* g, const T* l, T* y, long long len) {
    T s = 0;
    for (long long j = threadIdx.x; j < len; j += blockDim.x) s += g[j];
    s = block_reduce(s, [](T a, T b) { return a + b; });
    for (long long j = threadIdx.x; j < len; j += blockDim.x) y[j] = g[j] - exp(l[j]) * s;
}

// Philox4x32-10, bit for bit symnb/core/random.py: block j of the stream at (key, counter).
__device__ inline void philox4(uint64_t key, uint64_t counter, long long j, uint32_t* w) {
    const uint64_t ctr = counter + (uint64_t)j;
    uint32_t c0 = (uint32_t)ctr, c1 = (uint32_t)(ctr >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
#pragma unroll
    for (int r = 0; r < 10; r++) {
        const uint32_t h0 = __umulhi(c0, 0xD2511F53u), l0 = c0 * 0xD2511F53u;
        const uint32_t h1 = __umulhi(c2, 0xCD9E8D57u), l1 = c2 * 0xCD9E8D57u;
        const uint32_t n0 = h1 ^ c1 ^ k0, n2 = h0 ^ c3 ^ k1;
        c1 = l1; c3 = l0; c0 = n0; c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    w[0] = c0; w[1] = c1; w[2] = c2; w[3] = c3;
}
// Uniform number i of the stream in [0, 1): two words (float64) or one (float32).
__device__ inline double uniform64(uint64_t key, uint64_t counter, long long i) {
    uint32_t w[4];
    philox4(key, counter, (2 * i) / 4, w);
    const int o = (int)((2 * i) % 4);
    return ((double)(w[o] >> 5) * 67108864.0 + (double)(w[o + 1] >> 6)) * (1.0 / 9007199254740992.0);
}
__device__ inline float uniform32(uint64_t key, uint64_t counter, long long i) {
    uint32_t w[4];
    philox4(key, counter, i / 4, w);
    return (float)(w[i % 4] >> 8) * (1.0f / 16777216.0f);
}
template <class TU> __device__ inline TU uniform(uint64_t key, uint64_t counter, long long i) {
    return sizeof(TU) == 8 ? (TU)uniform64(key, counter, i) : (TU)uniform32(key, counter, i);
}

}  // namespace symnb
using namespace symnb;
