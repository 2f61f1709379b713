// Products A @ B whose A holds only zeros and ones (sampled binary units: an RBM's chains
// and hidden samples), for blas.h's gemm (stage "program"), on AVX-512. Row r of the result
// is then the sum of the rows of B that row r of A selects: no multiplications, and with
// half the units on, half the additions of the dense product. Found at run time, by a scan
// of A that stops at its first element when that is neither 0 nor 1, so other products pay
// one load. A NaN or an infinity in B would reach every result of the dense product (0 * inf
// is NaN) but not these sums: a B holding one goes back to BLAS.
#pragma once
#include "narrow.h"

#ifdef SYMNB_V16
namespace symnb {

// Rows [r0, r1) of A: the k of each one in row r go to idx[r * K ...], their count to cnt[r];
// false when an element is neither 0 nor 1 (-0.0 counts as 0). Without branches on the
// values: sampled units are ones and zeros at random, and a branch on each missed half the
// time (590k cycles for 100 x 784, more than the sums).
template <class T>
static bool binary_rows(const T* a, npy_intp lda, npy_intp r0, npy_intp r1, npy_intp K, int32_t* idx, int32_t* cnt) {
    for (npy_intp r = r0; r < r1; r++) {
        const T* row = a + r * lda;
        int32_t* ix = idx + r * K;
        npy_intp n = 0;
        int other = 0;
        for (npy_intp k = 0; k < K; k++) {
            const T x = row[k];
            ix[n] = (int32_t)k;
            n += x == (T)1;
            other |= (x != (T)0) & (x != (T)1);
        }
        if (other) return false;
        cnt[r] = (int32_t)n;
    }
    return true;
}

// Columns [n0, n1) of out (C-contiguous, ldc) = alpha * the sums, B[k][n] at b[k*bk + n*bn].
// B goes through an aligned tile, KB rows by NB columns (32 KB, in L1 while every row of A
// adds its selected rows of it): B's rows may start anywhere in a cache line (W's rows of 500
// doubles: 0.85 cycles an add against 0.6 from the tile) or be B's columns (W.T). False when
// B holds a NaN or an infinity.
template <class T>
SYMNB_NARROW_O3 static bool binary_columns(const int32_t* idx, const int32_t* cnt, int32_t* pos, npy_intp M,
                                           npy_intp K, const T* b, npy_intp bk, npy_intp bn, T alpha, T* c,
                                           npy_intp ldc, npy_intp n0, npy_intp n1) {
    typedef Lane<T> L;
    typedef typename L::F F;
    typedef typename L::M Mask;
    enum { NV = 8, NB = NV * L::N, KB = 4096 / (NV * (int)sizeof(T)) };
    alignas(64) T tile[KB * NB];
    F bad = {};
    for (npy_intp nb = n0; nb < n1; nb += NB) {
        Mask mask[NV];
        for (int v = 0; v < NV; v++) mask[v] = lanes_tail<T>(n1 - nb - v * L::N);
        for (npy_intp r = 0; r < M; r++) pos[r] = 0;
        for (npy_intp kb = 0; kb < K; kb += KB) {
            const npy_intp ke = K - kb < KB ? K : kb + KB;
            for (npy_intp k = kb; k < ke; k++)
                for (int v = 0; v < NV; v++) {
                    const T* src = b + k * bk + (nb + v * L::N) * bn;
                    const F x = bn == 1 ? L::load(src, mask[v]) : L::gather(src, L::iota() * (int)bn, mask[v]);
                    bad += x - x;   // NaN from an infinity or a NaN, else 0
                    *(F*)(tile + (k - kb) * NB + v * L::N) = x;
                }
            const bool last = ke == K;
            for (npy_intp r = 0; r < M; r++) {
                T* o = c + r * ldc + nb;
                const int32_t* ix = idx + r * K;
                // two sets of sums, for odd and even selected rows: each add waits for the
                // last one to the same sum (4 cycles)
                F acc[NV], odd[NV] = {};
                #pragma GCC unroll 32
                for (int v = 0; v < NV; v++) acc[v] = kb ? L::load(o + v * L::N, mask[v]) : F{};
                npy_intp p = pos[r];
                const npy_intp e = cnt[r];
                for (; p + 1 < e && ix[p + 1] < ke; p += 2) {
                    const T* row = tile + (ix[p] - kb) * NB;
                    const T* next = tile + (ix[p + 1] - kb) * NB;
                    #pragma GCC unroll 32
                    for (int v = 0; v < NV; v++) {
                        acc[v] += *(const F*)(row + v * L::N);
                        odd[v] += *(const F*)(next + v * L::N);
                    }
                }
                if (p < e && ix[p] < ke) {
                    const T* row = tile + (ix[p++] - kb) * NB;
                    #pragma GCC unroll 32
                    for (int v = 0; v < NV; v++) acc[v] += *(const F*)(row + v * L::N);
                }
                pos[r] = (int32_t)p;
                #pragma GCC unroll 32
                for (int v = 0; v < NV; v++)
                    L::store(o + v * L::N, mask[v], last ? (acc[v] + odd[v]) * L::splat(alpha) : acc[v] + odd[v]);
            }
        }
    }
    for (int l = 0; l < L::N; l++)
        if (bad[l] != 0) return false;   // NaN != 0
    return true;
}

// out (M x N, C-contiguous, beta 0) = alpha * A @ B when A (read by rows) is binary: rows
// scanned, then columns summed, each split between the threads. False when it does not
// apply (out then rewritten by the caller).
template <class T>
static bool binary_gemm(npy_intp M, npy_intp N, npy_intp K, T alpha, const T* a, npy_intp lda, const T* b,
                        npy_intp bk, npy_intp bn, T* c) {
    // (the lists of ones: 64 MB at most; gather offsets are 32-bit)
    if ((double)M * K > (1 << 24) || (double)M * N * K < 1e6 || N < 2 * Lane<T>::N || bn >= (1 << 26)) return false;
    if (!(a[0] == (T)0 || a[0] == (T)1)) return false;   // the common case: not binary, one load
    const int parts = n_threads < 2 || (double)M * N * K < 4e6 ? 1 : n_threads;
    int32_t* idx = (int32_t*)malloc((size_t)(M * K) * sizeof(int32_t));
    int32_t* cnt = (int32_t*)malloc((size_t)((parts + 1) * M) * sizeof(int32_t));   // then each part's cursors
    int fail = !idx || !cnt;
    auto scan = [&](npy_intp p0, npy_intp p1) -> int {
        if (!binary_rows(a, lda, M * p0 / parts, M * p1 / parts, K, idx, cnt)) __atomic_store_n(&fail, 1, __ATOMIC_RELAXED);
        return 0;
    };
    auto sums = [&](npy_intp p0, npy_intp p1) -> int {
        for (npy_intp p = p0; p < p1; p++) {
            const npy_intp lo = N * p / parts / Lane<T>::N * Lane<T>::N;
            const npy_intp hi = p + 1 == parts ? N : N * (p + 1) / parts / Lane<T>::N * Lane<T>::N;
            if (!binary_columns(idx, cnt, cnt + (p + 1) * M, M, K, b, bk, bn, alpha, c, N, lo, hi))
                __atomic_store_n(&fail, 1, __ATOMIC_RELAXED);
        }
        return 0;
    };
    if (!fail) run_spans(parts, parts > 1, 1, scan);
    if (!fail) {   // past 2/3 ones, OpenBLAS's dense product is as fast (100 x 784 @ 784 x 500:
        npy_intp ones = 0;   // 581 against 605 us at 0.6, 651 against 626 at 0.7)
        for (npy_intp r = 0; r < M; r++) ones += cnt[r];
        fail = 3 * ones > 2 * M * K;
    }
    if (!fail) run_spans(parts, parts > 1, 1, sums);
    free(idx);
    free(cnt);
    return !fail;
}

// The entry points for one element type, defined once per module: the renderer writes
// SYMNB_PRODUCT_ENTRY(T) in the module's first translation unit for each type its products
// use, and blas.h's gemm calls them from either unit (instantiated in each unit that calls
// gemm, the kernels would be compiled twice: 0.25 s of g++ each time).
#define SYMNB_PRODUCT_DECLARE(T) \
    bool narrow_product(bool ta, bool tb, npy_intp M, npy_intp N, npy_intp K, T alpha, const T* a, npy_intp lda, \
                        const T* b, npy_intp ldb, T beta, T* c, npy_intp ldc); \
    bool binary_product(npy_intp M, npy_intp N, npy_intp K, T alpha, const T* a, npy_intp lda, const T* b, \
                        npy_intp bk, npy_intp bn, T* c);
SYMNB_PRODUCT_DECLARE(double)
SYMNB_PRODUCT_DECLARE(float)
#undef SYMNB_PRODUCT_DECLARE
#define SYMNB_PRODUCT_ENTRY(T) \
    bool symnb::narrow_product(bool ta, bool tb, npy_intp M, npy_intp N, npy_intp K, T alpha, const T* a, \
                               npy_intp lda, const T* b, npy_intp ldb, T beta, T* c, npy_intp ldc) { \
        return narrow_gemm<T>(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc); } \
    bool symnb::binary_product(npy_intp M, npy_intp N, npy_intp K, T alpha, const T* a, npy_intp lda, const T* b, \
                               npy_intp bk, npy_intp bn, T* c) { \
        return binary_gemm<T>(M, N, K, alpha, a, lda, b, bk, bn, c); }

}  // namespace symnb
#else
#define SYMNB_PRODUCT_ENTRY(T)
#endif
