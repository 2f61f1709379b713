// Products with a narrow result (N <= 16 columns) on AVX-512, for blas.h's gemm (stage
// "program"). OpenBLAS spreads N across the vector lanes, so with N = 10 (a logistic
// regression's X @ W and X' @ dZ, 60 x 784 by 10) most of its multiply-adds run on empty
// lanes: each thread's half of either product took about 25k TSC cycles, where the cores'
// multiply-add peak allows 11k. Here the lanes run along the other axes:
// - A read by rows (A @ B, X @ W): dot products along K, 2 rows of A by 10 columns of B at
//   a time, B packed once as B' (N x K, zero-padded), the 20 sums reduced together;
// - A read by columns (A' @ B, X' @ dZ): outer products along M, 2 lane-widths of rows of
//   out by 10 of its columns, each B element broadcast; the block of out is transposed
//   through a small tile.
// Each half now takes about 19k cycles (the rest is packing, sums and transposition, and
// NumPy's rows start 16 bytes off a cache line), the step 8% less. Without AVX-512
// (SYMNB_V16 undefined) every product goes to OpenBLAS.
#pragma once
#include <type_traits>
#include "vec.h"

#ifdef SYMNB_V16
// The accumulators live in registers only once the loops over them are fully unrolled
// before scalar replacement, which GCC does at -O3 alone (the modules build at -O2: there
// the kernels ran at half speed, every accumulator in memory).
#define SYMNB_NARROW_O3 __attribute__((optimize("O3")))

namespace symnb {

// One lane type per element type (vec.h's, with gathers, multiply-adds and the horizontal
// sums the dot products end with).
template <class T> struct Lane;
#define SYMNB_NARROW_LANE(T, NS, IDX, SUFFIX, GATHER) \
    template <> struct Lane<T> { \
        typedef NS::F F; \
        typedef NS::M M; \
        typedef IDX Idx __attribute__((vector_size(64))); \
        enum { N = NS::LANES }; \
        static F load(const T* p, M m) { return NS::load(p, m); } \
        static void store(T* p, M m, F v) { NS::store(p, m, v); } \
        static F splat(T v) { return NS::splat(v); } \
        static F fma(F a, F b, F c) { return __builtin_ia32_vfmadd##SUFFIX##512_mask(a, b, c, NS::ALL, 4); } \
        /* p[i], 0 where m is off */ \
        static F gather(const T* p, Idx i, M m) { return GATHER(F{}, p, i, m, sizeof(T)); } \
        static Idx iota() { Idx i = {}; for (int l = 0; l < N; l++) i[l] = l; return i; } \
        static F sums(const F* a) { return lane_sums(a); } \
    };

// r[i] = the sum of a[i]'s lanes, i < 16 (8): halves of pairs added, then quarters, ...
static inline v16::F lane_sums(const v16::F* a) {
    v16::F h[8], q[4], e[2];
    for (int i = 0; i < 8; i++)
        h[i] = __builtin_shufflevector(a[2 * i], a[2 * i + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
               __builtin_shufflevector(a[2 * i], a[2 * i + 1], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    for (int i = 0; i < 4; i++)
        q[i] = __builtin_shufflevector(h[2 * i], h[2 * i + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
               __builtin_shufflevector(h[2 * i], h[2 * i + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
    for (int i = 0; i < 2; i++)
        e[i] = __builtin_shufflevector(q[2 * i], q[2 * i + 1], 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29) +
               __builtin_shufflevector(q[2 * i], q[2 * i + 1], 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31);
    return __builtin_shufflevector(e[0], e[1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30) +
           __builtin_shufflevector(e[0], e[1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
}
static inline v8::F lane_sums(const v8::F* a) {
    v8::F q[4], e[2];
    for (int i = 0; i < 4; i++)
        q[i] = __builtin_shufflevector(a[2 * i], a[2 * i + 1], 0, 1, 2, 3, 8, 9, 10, 11) +
               __builtin_shufflevector(a[2 * i], a[2 * i + 1], 4, 5, 6, 7, 12, 13, 14, 15);
    for (int i = 0; i < 2; i++)
        e[i] = __builtin_shufflevector(q[2 * i], q[2 * i + 1], 0, 1, 4, 5, 8, 9, 12, 13) +
               __builtin_shufflevector(q[2 * i], q[2 * i + 1], 2, 3, 6, 7, 10, 11, 14, 15);
    return __builtin_shufflevector(e[0], e[1], 0, 2, 4, 6, 8, 10, 12, 14) +
           __builtin_shufflevector(e[0], e[1], 1, 3, 5, 7, 9, 11, 13, 15);
}
SYMNB_NARROW_LANE(float, v16, int, ps, __builtin_ia32_gathersiv16sf)
SYMNB_NARROW_LANE(double, v8, long long, pd, __builtin_ia32_gatherdiv8df)
#undef SYMNB_NARROW_LANE
template <class T> static inline typename Lane<T>::M lanes_tail(npy_intp n) {
    return n <= 0 ? 0 : (typename Lane<T>::M)(n >= Lane<T>::N ? ~0ull : (1ull << n) - 1);
}

// c[i] = alpha * v[i] + beta * c[i] for i < n, without reading c when beta is 0 (BLAS: c
// may hold garbage); v is aligned and readable up to a whole number of lanes.
template <class T> static inline void narrow_put(T* c, const T* v, npy_intp n, T alpha, T beta) {
    typedef Lane<T> L;
    for (npy_intp i = 0; i < n; i += L::N) {
        const typename L::M m = lanes_tail<T>(n - i);
        typename L::F r = L::splat(alpha) * *(const typename L::F*)(v + i);
        if (beta != 0) r += L::splat(beta) * L::load(c + i, m);
        L::store(c + i, m, r);
    }
}

// Rows of A along K: out[m][n] = alpha * A[m] . B'[n] + beta * out[m][n], MR rows of A by
// NR rows of B' at a time. `bt` is B' packed with `ldbt` (a multiple of the lanes) elements a
// row, zero past K and past N up to a multiple of NR rows.
template <class T>
SYMNB_NARROW_O3 static void narrow_rows(npy_intp M, npy_intp N, npy_intp K, T alpha, const T* a, npy_intp lda,
                                        const T* bt, npy_intp ldbt, T beta, T* c, npy_intp ldc) {
    typedef Lane<T> L;
    typedef typename L::F F;
    enum { MR = 2, NR = 10, ACC = MR * NR, PAD = (ACC + L::N - 1) / L::N * L::N };
    const npy_intp full = K / L::N;
    const typename L::M last = lanes_tail<T>(K - full * L::N);
    for (npy_intp n0 = 0; n0 < N; n0 += NR)
        for (npy_intp m0 = 0; m0 < M; m0 += MR) {
            const T* ar[MR];
            for (int i = 0; i < MR; i++) ar[i] = a + (m0 + i < M ? m0 + i : M - 1) * lda;   // tail rows repeat
            const T* br = bt + n0 * ldbt;
            F acc[PAD] = {};   // acc[i * NR + j]: row i of A by row j of B'
            auto step = [&](npy_intp s, typename L::M mask) __attribute__((always_inline)) {
                F av[MR], bv[NR];
                #pragma GCC unroll 32
                for (int i = 0; i < MR; i++) av[i] = L::load(ar[i] + s * L::N, mask);
                #pragma GCC unroll 32
                for (int j = 0; j < NR; j++) bv[j] = *(const F*)(br + j * ldbt + s * L::N);
                #pragma GCC unroll 32
                for (int i = 0; i < ACC; i++) acc[i] = L::fma(av[i / NR], bv[i % NR], acc[i]);
            };
            for (npy_intp s = 0; s < full; s++) step(s, (typename L::M)~0ull);
            if (last) step(full, last);
            alignas(64) T sum[PAD];
            #pragma GCC unroll 4
            for (int g = 0; g < PAD; g += L::N) *(F*)(sum + g) = L::sums(acc + g);
            const npy_intp rows = M - m0 < MR ? M - m0 : MR, cols = N - n0 < NR ? N - n0 : NR;
            if (ldc == NR && cols == NR) narrow_put(c + m0 * ldc, sum, rows * NR, alpha, beta);   // one run
            else
                for (npy_intp i = 0; i < rows; i++) narrow_put(c + (m0 + i) * ldc + n0, sum + i * NR, cols, alpha, beta);
        }
}

// Rows [lo, hi) of an 8-row block of out whose n <= 10 columns are col[j] (lane i: row i),
// row i at c + (r0 + i) * ldc, written as narrow_put writes them: the first 8 columns transposed in
// registers (three rounds of shuffles), the rest one by one. Through a tile and gathers,
// storing the blocks took a quarter of a logistic regression's X' @ dZ.
__attribute__((always_inline)) static inline void put_cols8(double* c, npy_intp ldc, npy_intp r0, npy_intp lo,
                                                            npy_intp hi, const v8::F* col, npy_intp n, double alpha,
                                                            double beta) {
    typedef v8::F F;
    F t[8], u[8];
    alignas(64) F r[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = __builtin_shufflevector(col[i], col[i + 1], 0, 8, 2, 10, 4, 12, 6, 14);
        t[i + 1] = __builtin_shufflevector(col[i], col[i + 1], 1, 9, 3, 11, 5, 13, 7, 15);
    }
    for (int h = 0; h < 8; h += 4)
        for (int i = 0; i < 2; i++) {
            u[h + i] = __builtin_shufflevector(t[h + i], t[h + i + 2], 0, 1, 8, 9, 4, 5, 12, 13);
            u[h + i + 2] = __builtin_shufflevector(t[h + i], t[h + i + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        }
    for (int i = 0; i < 4; i++) {
        r[i] = __builtin_shufflevector(u[i], u[i + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        r[i + 4] = __builtin_shufflevector(u[i], u[i + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
    alignas(64) double rest[2][8];
    *(F*)rest[0] = col[8];   // (constant indices: col is the caller's accumulators, in registers)
    *(F*)rest[1] = col[9];
    const v8::M m = lanes_tail<double>(n < 8 ? n : 8);
    for (npy_intp i = lo; i < hi; i++) {
        double* o = c + (r0 + i) * ldc;
        F v = v8::splat(alpha) * r[i];
        if (beta != 0) v += v8::splat(beta) * v8::load(o, m);
        v8::store(o, m, v);
        for (int j = 8; j < n; j++) {
            double e = alpha * rest[j - 8][i];
            if (beta != 0) e += beta * o[j];
            o[j] = e;
        }
    }
}

// Columns of A (element (m, k) at at[k * lda + m]) along M: out[m][n] = alpha * sum_k
// A[m][k] * B[k][n] + beta * out[m][n], B packed as `bp` (K rows of 10, zero past N).
template <class T>
SYMNB_NARROW_O3 static void narrow_cols(npy_intp M, npy_intp N, npy_intp K, T alpha, const T* at, npy_intp lda, const T* bp,
                        T beta, T* c, npy_intp ldc) {
    typedef Lane<T> L;
    typedef typename L::F F;
    enum { MV = 2, NR = 10, MB = MV * L::N };
    typename L::Idx idx[NR * MB / L::N];   // element f of a run of out is tile[f % N][f / N]
    for (int f = 0; f < NR * MB; f++) idx[f / L::N][f % L::N] = (f % N) * MB + f / N;
    // When every row of A' starts at the same place in a cache line, the blocks start on a
    // line (the first one masked below row 0): NumPy's rows start 16 bytes into a line, and
    // each unaligned load touched two.
    const npy_intp first = (lda * (npy_intp)sizeof(T)) % 64 ? 0 : -(npy_intp)(((uintptr_t)at % 64) / sizeof(T));
    for (npy_intp m0 = first; m0 < M; m0 += MB) {
        typename L::M mask[MV];
        for (int v = 0; v < MV; v++)
            mask[v] = lanes_tail<T>(M - m0 - v * L::N) & (typename L::M)~lanes_tail<T>(-m0 - v * L::N);
        F acc[MV][NR] = {};
        for (npy_intp k = 0; k < K; k++) {
            F x[MV];
            #pragma GCC unroll 32
            for (int v = 0; v < MV; v++) x[v] = L::load(at + k * lda + m0 + v * L::N, mask[v]);
            // the next block's lines of this row of A' (rows of A' are often a page or more apart:
            // no hardware prefetcher follows them)
            #pragma GCC unroll 32
            for (int v = 0; v < MV; v++) __builtin_prefetch(at + k * lda + m0 + MB + v * L::N);
            #pragma GCC unroll 32
            for (int i = 0; i < MV * NR; i++)
                acc[i % MV][i / MV] = L::fma(x[i % MV], L::splat(bp[k * NR + i / MV]), acc[i % MV][i / MV]);
        }
        const npy_intp skip = m0 < 0 ? -m0 : 0, rows = (M - m0 < MB ? M - m0 : MB) - skip;
        if constexpr (std::is_same<T, double>::value) {
            #pragma GCC unroll 2
            for (int v = 0; v < MV; v++) {
                const npy_intp lo = skip > v * 8 ? skip - v * 8 : 0, end = skip + rows - v * 8;
                if (lo < end) put_cols8(c, ldc, m0 + v * 8, lo, end < 8 ? end : 8, acc[v], N, alpha, beta);
            }
            continue;
        }
        alignas(64) T tile[NR][MB];   // tile[j][i]: row m0 + i of out, column j
        for (int j = 0; j < NR; j++)
            for (int v = 0; v < MV; v++) *(F*)&tile[j][v * L::N] = acc[v][j];
        if (ldc == N) {   // the block of out is one run: its elements gathered from the tile in order
            alignas(64) T run[NR * MB];
            for (npy_intp g = 0; g < rows * N; g += L::N)
                *(F*)(run + g) = L::gather(&tile[0][skip], idx[g / L::N], lanes_tail<T>(rows * N - g));
            narrow_put(c + (m0 + skip) * ldc, run, rows * N, alpha, beta);
        } else
            for (npy_intp i = skip; i < skip + rows; i++) {
                alignas(64) T row[2 * L::N];
                for (npy_intp j = 0; j < N; j++) row[j] = tile[j][i];
                narrow_put(c + (m0 + i) * ldc, row, N, alpha, beta);
            }
    }
}

// The product in narrow_rows or narrow_cols, when N is narrow and A is read along one of
// its axes with unit stride; false (nothing done) otherwise or without memory to pack B.
// A[m][k] is a[m * lda + k], or a[k * lda + m] when `ta` (transposed); B likewise with tb.
template <class T>
static bool narrow_gemm(bool ta, bool tb, npy_intp M, npy_intp N, npy_intp K, T alpha, const T* a, npy_intp lda,
                        const T* b, npy_intp ldb, T beta, T* c, npy_intp ldc) {
    const npy_intp bk = tb ? 1 : ldb, bn = tb ? ldb : 1;   // B[k][n] = b[k * bk + n * bn]
    if (N > 16 || M * N * K < 2048 || bk >= (1 << 26)) return false;   // (gather offsets are 32-bit)
    if (!ta) {
        const npy_intp ldbt = (K + Lane<T>::N - 1) / Lane<T>::N * Lane<T>::N, rows = (N + 9) / 10 * 10;
        T* bt = (T*)aligned_alloc(64, (size_t)(rows * ldbt) * sizeof(T));
        if (!bt) return false;
        for (npy_intp n = 0; n < rows; n++)
            for (npy_intp k = 0; k < ldbt; k += Lane<T>::N) {
                const typename Lane<T>::M m = n < N ? lanes_tail<T>(K - k) : 0;
                const T* p = b + k * bk + n * bn;
                *(typename Lane<T>::F*)(bt + n * ldbt + k) = bk == 1 ? Lane<T>::load(p, m) : Lane<T>::gather(p, Lane<T>::iota() * (int)bk, m);
            }
        narrow_rows(M, N, K, alpha, a, lda, bt, ldbt, beta, c, ldc);
        free(bt);
        return true;
    }
    T* bp = (T*)malloc((size_t)(K * 10) * sizeof(T));
    if (!bp) return false;
    for (npy_intp n0 = 0; n0 < N; n0 += 10) {
        const npy_intp w = N - n0 < 10 ? N - n0 : 10;
        for (npy_intp k = 0; k < K; k++)
            for (npy_intp j = 0; j < 10; j++) bp[k * 10 + j] = j < w ? b[k * bk + (n0 + j) * bn] : (T)0;
        narrow_cols(M, w, K, alpha, a, lda, bp, beta, c + n0, ldc);
    }
    free(bp);
    return true;
}

}  // namespace symnb
#endif
