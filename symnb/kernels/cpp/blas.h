// BLAS for generated symnb modules (stage "program"): cblas entry points of the OpenBLAS
// that NumPy bundles (one thread pool with NumPy), set at load; dot, gemv, gemm, batched.
#pragma once
#include "runtime.h"
#include "binary.h"

namespace symnb {

typedef int64_t blasint;   // scipy_openblas64_: 64-bit integers
enum { RowMajor = 101, NoTrans = 111, Trans = 112 };

// Entry points set at load: cblas (NumPy's OpenBLAS, row-major calls as they are) or, when
// that library is missing, Fortran BLAS from scipy.linalg.cython_blas (column-major, 32-bit
// integers): a row-major product is then the column-major product of the transposes.
template <class T> struct Blas {
    typedef void (*gemm_t)(int, int, int, blasint, blasint, blasint, T, const T*, blasint, const T*, blasint,
                           T, T*, blasint);
    typedef void (*gemv_t)(int, int, blasint, blasint, T, const T*, blasint, const T*, blasint, T, T*, blasint);
    typedef T (*dot_t)(blasint, const T*, blasint, const T*, blasint);
    typedef void (*fgemm_t)(const char*, const char*, const int*, const int*, const int*, const T*, const T*,
                            const int*, const T*, const int*, const T*, T*, const int*);
    typedef void (*fgemv_t)(const char*, const int*, const int*, const T*, const T*, const int*, const T*,
                            const int*, const T*, T*, const int*);
    typedef T (*fdot_t)(const int*, const T*, const int*, const T*, const int*);
    static void *gemm_p, *gemv_p, *dot_p;
    static bool fortran;

    static void gemm(int ta, int tb, blasint M, blasint N, blasint K, T alpha, const T* A, blasint lda, const T* B,
                     blasint ldb, T beta, T* C, blasint ldc) {
        if (!fortran) return ((gemm_t)gemm_p)(RowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        const char fa = ta == NoTrans ? 'N' : 'T', fb = tb == NoTrans ? 'N' : 'T';
        int m = (int)M, n = (int)N, k = (int)K, la = (int)lda, lb = (int)ldb, lc = (int)ldc;
        ((fgemm_t)gemm_p)(&fb, &fa, &n, &m, &k, &alpha, B, &lb, A, &la, &beta, C, &lc);
    }
    static void gemv(int t, blasint rows, blasint cols, T alpha, const T* A, blasint lda, const T* x, blasint incx,
                     T beta, T* y, blasint incy) {
        if (!fortran) return ((gemv_t)gemv_p)(RowMajor, t, rows, cols, alpha, A, lda, x, incx, beta, y, incy);
        const char f = t == NoTrans ? 'T' : 'N';
        int m = (int)cols, n = (int)rows, la = (int)lda, ix = (int)incx, iy = (int)incy;
        ((fgemv_t)gemv_p)(&f, &m, &n, &alpha, A, &la, x, &ix, &beta, y, &iy);
    }
    static T dot(blasint n, const T* x, blasint incx, const T* y, blasint incy) {
        if (!fortran) return ((dot_t)dot_p)(n, x, incx, y, incy);
        int n_ = (int)n, ix = (int)incx, iy = (int)incy;
        return ((fdot_t)dot_p)(&n_, x, &ix, y, &iy);
    }
};
template <class T> void* Blas<T>::gemm_p;
template <class T> void* Blas<T>::gemv_p;
template <class T> void* Blas<T>::dot_p;
template <class T> bool Blas<T>::fortran;

// One product, or one thread's part of one: narrow.h's kernels where they apply, else BLAS.
template <class T>
static void gemm_part(int ta, int tb, blasint M, blasint N, blasint K, T alpha, const T* A, blasint lda, const T* B,
                      blasint ldb, T beta, T* C, blasint ldc) {
#ifdef SYMNB_V16
    if (narrow_product(ta == Trans, tb == Trans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) return;
#endif
    Blas<T>::gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// Large products release the GIL; small ones are not worth the two atomic swaps.
struct NoGil {
    PyThreadState* s;
    explicit NoGil(double flops) : s(flops > 1e6 ? PyEval_SaveThread() : NULL) {}
    ~NoGil() { if (s) PyEval_RestoreThread(s); }
};

// OpenBLAS's thread count (NumPy's OpenBLAS, one per process), set at load where it can be:
// set/get, and a lock, a depth and the saved count shared by every generated module.
struct BlasThreads {
    void (*set)(int) = nullptr;
    int (*get)() = nullptr;
    int64_t* state = nullptr;   // [lock, depth, saved]
    void lock() {
        int64_t z;
        while (z = 0, !__atomic_compare_exchange_n(&state[0], &z, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            __builtin_ia32_pause();
    }
    void unlock() { __atomic_store_n(&state[0], 0, __ATOMIC_RELEASE); }
};
inline BlasThreads blas_threads;

// OpenBLAS on one thread while a product is split between our threads (the way out of two
// pools on the same cores): after a threaded product its workers spin for about 0.1 s,
// slowing the loops that follow. In 1000 RBM Gibbs steps the sigmoid and Bernoulli nodes
// took 1.5 times as long next to them. The first caller in saves the count, the last
// out restores it (a NumPy product in another thread meanwhile runs on one thread).
struct OneBlasThread {
    const bool on;
    explicit OneBlasThread(bool needed) : on(needed && blas_threads.set != nullptr) { if (on) enter(); }
    ~OneBlasThread() { if (on) leave(); }
    __attribute__((noinline)) static void enter() {
        blas_threads.lock();
        if (blas_threads.state[1]++ == 0) {
            blas_threads.state[2] = blas_threads.get();
            if (blas_threads.state[2] != 1) blas_threads.set(1);
        }
        blas_threads.unlock();
    }
    __attribute__((noinline)) static void leave() {
        blas_threads.lock();
        if (--blas_threads.state[1] == 0 && blas_threads.state[2] != 1) blas_threads.set((int)blas_threads.state[2]);
        blas_threads.unlock();
    }
};

// Products of 64k multiply-adds or more are split between our threads, each part on one
// OpenBLAS thread. Where OpenBLAS's thread count cannot be set, only those below its own
// threading bound (4 * 65536; on two cores it threads a skinny 60 x 784 by 784 x 10 at no
// gain) are, each part then below the bound.
static inline int split_parts(npy_intp M, npy_intp N, npy_intp K) {
    const double mnk = (double)M * N * K;
    if (n_threads < 2 || mnk < 65536.0 || (M < 16 && N < 16)) return 1;
    if (!blas_threads.set && mnk >= 262144.0 * n_threads) return 1;
    return n_threads;
}

// A 2-d operand as BLAS sees it: row-major as is (NoTrans) or its transpose (Trans) with a
// leading dimension. Anything else (negative or odd strides) becomes a C-contiguous copy
// held in `hold`. Returns the array to pass.
static Arr* blas_operand(Arr* a, Ref& hold, int* trans, blasint* ld) {
    npy_intp item = PyArray_ITEMSIZE(a), r = PyArray_DIM(a, 0), c = PyArray_DIM(a, 1);
    npy_intp s0 = PyArray_STRIDE(a, 0), s1 = PyArray_STRIDE(a, 1);
    if ((s1 == item || c <= 1) && s0 > 0 && s0 % item == 0 && s0 >= (c > 1 ? c : 1) * item) {
        *trans = NoTrans; *ld = s0 / item; return a;
    }
    if ((s0 == item || r <= 1) && s1 > 0 && s1 % item == 0 && s1 >= (r > 1 ? r : 1) * item) {
        *trans = Trans; *ld = s1 / item; return a;
    }
    if (r <= 1 && c <= 1) { *trans = NoTrans; *ld = 1; return a; }
    hold.reset(PyArray_NewCopy(a, NPY_CORDER));
    *trans = NoTrans;
    *ld = c > 1 ? c : 1;
    return hold.a();
}

// A vector operand: its element stride, or a contiguous copy for strides BLAS cannot take.
static Arr* blas_vector(Arr* a, Ref& hold, blasint* inc) {
    npy_intp item = PyArray_ITEMSIZE(a), s = PyArray_STRIDE(a, 0);
    if (s != 0 && s % item == 0) { *inc = s / item; return a; }
    if (PyArray_DIM(a, 0) <= 1) { *inc = 1; return a; }
    hold.reset(PyArray_NewCopy(a, NPY_CORDER));
    *inc = 1;
    return hold.a();
}

template <class T> static T* data(Arr* a) { return (T*)PyArray_DATA(a); }

// out (M x N, C-contiguous) = alpha * A @ B + beta * out; `fresh`: out holds garbage (beta
// is 0). BLAS reads nothing of `out` when beta == 0, but the reference's 0 * out keeps its
// NaNs and infinities: an initialized out is scaled here first.
template <class T>
static int gemm(State* S, int node, T alpha, Arr* A, Arr* B, T beta, Arr* out, bool fresh) {
    npy_intp M = PyArray_DIM(A, 0), K = PyArray_DIM(A, 1), N = PyArray_DIM(B, 1);
    if (PyArray_DIM(B, 0) != K)
        return fail(S, node, PyExc_ValueError, "matrix product: shapes (%ld, %ld) and (%ld, %ld) are not aligned",
                    (long)M, (long)K, (long)PyArray_DIM(B, 0), (long)N);
    if (PyArray_DIM(out, 0) != M || PyArray_DIM(out, 1) != N)
        return fail(S, node, PyExc_ValueError, "matrix product: the accumulator has shape (%ld, %ld), expected "
                    "(%ld, %ld)", (long)PyArray_DIM(out, 0), (long)PyArray_DIM(out, 1), (long)M, (long)N);
    if (M == 0 || N == 0) return 0;
    T* o = data<T>(out);
    if (K == 0 || (beta == 0 && !fresh)) {
        for (npy_intp i = 0; i < M * N; i++) o[i] = fresh ? (T)0 : beta * o[i];
        if (K == 0) return 0;
        beta = 1;
    }
    Ref ha, hb;
    int ta, tb;
    blasint lda, ldb;
    A = blas_operand(A, ha, &ta, &lda);
    B = blas_operand(B, hb, &tb, &ldb);
    if (!A || !B) return refail(S, node);
    NoGil nogil(2.0 * M * N * K);
    const T *a = data<T>(A), *b = data<T>(B);
#ifdef SYMNB_V16
    if (ta == NoTrans && beta == 0 &&
        binary_product(M, N, K, alpha, a, lda, b, tb == NoTrans ? ldb : 1, tb == NoTrans ? 1 : ldb, o))
        return 0;
#endif
    const int parts = split_parts(M, N, K);
    // Each thread computes a block of rows of out (or of columns, when N is the larger
    // side), or, when K is the longest side, sums over a block of K into out or a partial
    // of its own, the partials then added to out by the same threads. That way each thread
    // reads the rows of B that it writes when the same threads update B by rows (W -= lr *
    // X.T @ dH): a logistic regression step's two products took 33 us split by rows, as
    // each thread pulled the half of W the other core had just written, 25 by K. It also
    // suits OpenBLAS better than a block of columns of B: one thread's half of 100 x 784 @
    // 784 x 500 (an RBM's v @ W) took 673 us by K, 828 by columns; the MLP step went 1.01
    // -> 0.91 ms, a Gibbs step 4.57M -> 4.20M cycles. (h @ W.T, K = 500 < N = 784: 674 us
    // by columns, 757 by rows, 882 by K.) One part, our threads busy with another Python
    // thread's loop (split here, the parts would all run on this thread) or no memory for
    // the partials: OpenBLAS as it is.
    const bool by_k = parts > 1 && K > M && K > N && (double)M * N * sizeof(T) <= (1 << 23);
    T* partial = by_k ? (T*)malloc((size_t)((parts - 1) * M * N) * sizeof(T)) : nullptr;
    if (parts == 1 || __atomic_load_n(&pool->busy, __ATOMIC_RELAXED) || (by_k && !partial)) {
        free(partial);
        gemm_part<T>(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, o, N);
        return 0;
    }
    auto block = [=](npy_intp p0, npy_intp p1) -> int {
        for (npy_intp p = p0; p < p1; p++) {
            if (by_k) {
                const npy_intp k0 = K * p / parts, k1 = K * (p + 1) / parts;
                gemm_part<T>(ta, tb, M, N, k1 - k0, alpha, a + (ta == NoTrans ? k0 : k0 * lda), lda,
                              b + (tb == NoTrans ? k0 * ldb : k0), ldb, p ? (T)0 : beta,
                              p ? partial + (p - 1) * M * N : o, N);
            } else if (M >= N) {
                const npy_intp m0 = M * p / parts, m1 = M * (p + 1) / parts;
                gemm_part<T>(ta, tb, m1 - m0, N, K, alpha, a + (ta == NoTrans ? m0 * lda : m0), lda, b, ldb, beta,
                              o + m0 * N, N);
            } else {
                const npy_intp n0 = N * p / parts, n1 = N * (p + 1) / parts;
                gemm_part<T>(ta, tb, M, n1 - n0, K, alpha, a, lda, b + (tb == NoTrans ? n0 : n0 * ldb), ldb, beta,
                              o + n0, N);
            }
        }
        return 0;
    };
    OneBlasThread one((double)M * N * K > 262144.0 * parts);   // else each part is on one thread anyway
    run_spans(parts, true, 1, block);
    if (by_k) {   // the partials added to out, split between the threads too when out is big
        auto add = [&](npy_intp lo, npy_intp hi) -> int {
            for (int p = 1; p < parts; p++) {
                const T* q = partial + (p - 1) * M * N;
                #pragma omp simd
                for (npy_intp i = lo; i < hi; i++) o[i] += q[i];
            }
            return 0;
        };
        run_spans(M * N, M * N >= 16384, 64, add);
        free(partial);
    }
    return 0;
}

// out (M) = alpha * A @ x + beta * out, as gemm.
template <class T>
static int gemv(State* S, int node, T alpha, Arr* A, Arr* x, T beta, Arr* out, bool fresh) {
    npy_intp M = PyArray_DIM(A, 0), K = PyArray_DIM(A, 1);
    if (PyArray_DIM(x, 0) != K)
        return fail(S, node, PyExc_ValueError, "matrix-vector product: shapes (%ld, %ld) and (%ld,) are not "
                    "aligned", (long)M, (long)K, (long)PyArray_DIM(x, 0));
    if (PyArray_DIM(out, 0) != M)
        return fail(S, node, PyExc_ValueError, "matrix-vector product: the accumulator has length %ld, "
                    "expected %ld", (long)PyArray_DIM(out, 0), (long)M);
    if (M == 0) return 0;
    T* o = data<T>(out);
    npy_intp so = PyArray_STRIDE(out, 0) / (npy_intp)sizeof(T);
    if (K == 0 || (beta == 0 && !fresh)) {
        for (npy_intp i = 0; i < M; i++) o[i * so] = fresh ? (T)0 : beta * o[i * so];
        if (K == 0) return 0;
        beta = 1;
    }
    Ref ha, hx;
    int ta;
    blasint lda, incx;
    A = blas_operand(A, ha, &ta, &lda);
    x = A ? blas_vector(x, hx, &incx) : NULL;
    if (!A || !x) return refail(S, node);
    // BLAS walks a negative-stride vector from its far end; NumPy's pointer is the near end.
    const T* px = data<T>(x) + (incx < 0 ? (K - 1) * incx : 0);
    T* po = o + (so < 0 ? (M - 1) * so : 0);
    NoGil nogil(2.0 * M * K);
    if (ta == NoTrans) Blas<T>::gemv(NoTrans, M, K, alpha, data<T>(A), lda, px, incx, beta, po, so);
    else Blas<T>::gemv(Trans, K, M, alpha, data<T>(A), lda, px, incx, beta, po, so);
    return 0;
}

template <class T>
static int dot(State* S, int node, Arr* a, Arr* b, Arr* out) {
    npy_intp n = PyArray_DIM(a, 0);
    if (PyArray_DIM(b, 0) != n)
        return fail(S, node, PyExc_ValueError, "dot: vectors of lengths %ld and %ld", (long)n,
                    (long)PyArray_DIM(b, 0));
    Ref ha, hb;
    blasint ia, ib;
    a = blas_vector(a, ha, &ia);
    b = a ? blas_vector(b, hb, &ib) : NULL;
    if (!a || !b) return refail(S, node);
    const T* pa = data<T>(a) + (ia < 0 ? (n - 1) * ia : 0);
    const T* pb = data<T>(b) + (ib < 0 ? (n - 1) * ib : 0);
    *data<T>(out) = n ? Blas<T>::dot(n, pa, ia, pb, ib) : (T)0;
    return 0;
}

// The result shape of a batched product (*batch, n, k) @ (*batch, k, m); batch axes
// broadcast only where typed as length 1 (bca/bcb flag each batch axis).
static int batch_shape(State* S, int node, Arr* A, Arr* B, const bool* bca, const bool* bcb, npy_intp* dims) {
    int nd = PyArray_NDIM(A);
    for (int d = 0; d < nd - 2; d++) {
        npy_intp a = PyArray_DIM(A, d), b = PyArray_DIM(B, d);
        dims[d] = a == 1 ? b : a;
        if (a != b && a != 1 && b != 1)
            return fail(S, node, PyExc_ValueError, "matmul: batch axis %d has lengths %ld and %ld", d, (long)a, (long)b);
        if ((a == 1 && b != 1 && !bca[d]) || (b == 1 && a != 1 && !bcb[d]))
            return fail(S, node, PyExc_ValueError, "matmul: runtime broadcasting is not allowed: batch axis %d has "
                        "length 1 at run time but is not typed as broadcastable there", d);
    }
    dims[nd - 2] = PyArray_DIM(A, nd - 2);
    dims[nd - 1] = PyArray_DIM(B, nd - 1);
    return 0;
}

// out[i] = A[i] @ B[i] over the (broadcast) batch axes; out is C-contiguous.
template <class T>
static int batched(State* S, int node, Arr* A, Arr* B, Arr* out) {
    const int nd = PyArray_NDIM(out), nb = nd - 2;
    npy_intp count = 1, idx[NPY_MAXDIMS] = {0};
    for (int d = 0; d < nb; d++) count *= PyArray_DIM(out, d);
    char *pa = PyArray_BYTES(A), *pb = PyArray_BYTES(B), *po = PyArray_BYTES(out);
    npy_intp mat = PyArray_DIM(out, nd - 2) * PyArray_DIM(out, nd - 1) * (npy_intp)sizeof(T);
    for (npy_intp i = 0; i < count; i++) {
        Ref a(view(A, 2, PyArray_DIMS(A) + nb, PyArray_STRIDES(A) + nb, pa));
        Ref b(view(B, 2, PyArray_DIMS(B) + nb, PyArray_STRIDES(B) + nb, pb));
        Ref o(view(out, 2, PyArray_DIMS(out) + nb, PyArray_STRIDES(out) + nb, po));
        if (!a.p || !b.p || !o.p) return refail(S, node);
        if (gemm<T>(S, node, 1, a.a(), b.a(), 0, o.a(), true) < 0) return -1;
        po += mat;
        for (int d = nb - 1; d >= 0; d--) {
            npy_intp sa = PyArray_DIM(A, d) == 1 ? 0 : PyArray_STRIDE(A, d);
            npy_intp sb = PyArray_DIM(B, d) == 1 ? 0 : PyArray_STRIDE(B, d);
            pa += sa; pb += sb;
            if (++idx[d] < PyArray_DIM(out, d)) break;
            pa -= sa * PyArray_DIM(out, d); pb -= sb * PyArray_DIM(out, d);
            idx[d] = 0;
        }
    }
    return 0;
}

}  // namespace symnb
