// Reductions, arg-reductions and (log-)softmax for generated symnb modules (stage
// "program"). Float sums use NumPy's pairwise summation, so results match it closely.
#pragma once
#include "runtime.h"
#include "scalar.h"
#include <limits>

namespace symnb {

enum Kind { SUM, PROD, MAX, MIN, ALL, ANY };

template <int K, class T> static inline T identity() {
    if (K == SUM || K == ANY) return (T)0;
    if (K == PROD || K == ALL) return (T)1;
    if (std::is_floating_point<T>::value)
        return K == MAX ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
    return K == MAX ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
}

template <int K, class T> static inline T combine(T a, T b) {
    if (K == SUM) { if constexpr (std::is_integral<T>::value) return wadd(a, b); else return a + b; }
    if (K == PROD) { if constexpr (std::is_integral<T>::value) return wmul(a, b); else return a * b; }
    if (K == MAX) return fmax_np(a, b);
    if (K == MIN) return fmin_np(a, b);
    if (K == ALL) return a && b;
    return a || b;
}

template <int K, class TO, class TI> static inline TO conv(TI v) {
    if (K == ALL || K == ANY) return v != 0;
    return (TO)v;
}

// NumPy's pairwise_sum: 8 accumulators in blocks of up to 128, halves above that.
template <class T> static T pairwise(const char* p, npy_intp n, npy_intp s) {
    if (n < 8) {
        T r = 0;
        for (npy_intp i = 0; i < n; i++) r += *(const T*)(p + i * s);
        return r;
    }
    if (n <= 128) {
        T r[8];
        #pragma GCC unroll 8
        for (int j = 0; j < 8; j++) r[j] = *(const T*)(p + j * s);
        npy_intp i = 8;
        if (s == (npy_intp)sizeof(T)) {     // contiguous: the 8 accumulators are one vector
            const T* q = (const T*)p;
            for (; i < n - (n % 8); i += 8) {
                #pragma omp simd
                for (int j = 0; j < 8; j++) r[j] += q[i + j];
            }
        }
        for (; i < n - (n % 8); i += 8) {
            #pragma GCC unroll 8
            for (int j = 0; j < 8; j++) r[j] += *(const T*)(p + (i + j) * s);
        }
        T res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += *(const T*)(p + i * s);
        return res;
    }
    npy_intp n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise<T>(p, n2, s) + pairwise<T>(p + n2 * s, n - n2, s);
}

template <int K, class TI, class TO> static inline TO run(const char* p, npy_intp n, npy_intp s) {
    if constexpr (K == SUM && std::is_floating_point<TO>::value && std::is_same<TI, TO>::value)
        return pairwise<TO>(p, n, s);
    TO acc = identity<K, TO>();
    for (npy_intp i = 0; i < n; i++) acc = combine<K, TO>(acc, conv<K, TO, TI>(*(const TI*)(p + i * s)));
    return acc;
}

// Axes of one reduction after dropping length-1 axes and merging neighbours that are
// laid out as one (a contiguous sum over a whole array becomes a single pairwise run).
struct Axes {
    int n = 0;
    npy_intp dim[NPY_MAXDIMS], xs[NPY_MAXDIMS], os[NPY_MAXDIMS];
    bool red[NPY_MAXDIMS];
    void push(npy_intp d, npy_intp x, npy_intp o, bool r) {
        if (d == 1) return;
        if (n && red[n - 1] == r && xs[n - 1] == x * d && os[n - 1] == o * d) {
            dim[n - 1] *= d; xs[n - 1] = x; os[n - 1] = o;
            return;
        }
        dim[n] = d; xs[n] = x; os[n] = o; red[n] = r; n++;
    }
};

// out (fresh, C-contiguous) = reduction of x over the axes flagged in `red`.
template <int K, class TI, class TO>
static int reduce(State* S, int node, Arr* x, const bool* red, Arr* out) {
    int nd = PyArray_NDIM(x);
    npy_intp m = 1;
    for (int d = 0; d < nd; d++) if (red[d]) m *= PyArray_DIM(x, d);
    if ((K == MAX || K == MIN) && m == 0)
        return fail(S, node, PyExc_ValueError, "zero-size array to reduction operation %s which has no identity",
                    K == MAX ? "maximum" : "minimum");
    TO* o = (TO*)PyArray_DATA(out);
    npy_intp n_out = PyArray_SIZE(out);
    for (npy_intp i = 0; i < n_out; i++) o[i] = identity<K, TO>();
    if (PyArray_SIZE(x) == 0) return 0;
    // Output strides per input axis: 0 on reduced axes (keepdims or not).
    Axes ax;
    npy_intp ostride[NPY_MAXDIMS], acc = sizeof(TO);
    for (int d = nd - 1; d >= 0; d--) {
        ostride[d] = red[d] ? 0 : acc;
        if (!red[d]) acc *= PyArray_DIM(x, d);
    }
    for (int d = 0; d < nd; d++) ax.push(PyArray_DIM(x, d), PyArray_STRIDE(x, d), ostride[d], red[d]);
    const char* px = PyArray_BYTES(x);
    char* po = (char*)o;
    if (ax.n == 0) {
        *o = combine<K, TO>(*o, conv<K, TO, TI>(*(const TI*)px));
        return 0;
    }
    int L = ax.n - 1;
    npy_intp idx[NPY_MAXDIMS] = {0}, rows = 1;
    for (int d = 0; d < L; d++) rows *= ax.dim[d];
    const npy_intp len = ax.dim[L], sx = ax.xs[L], so = ax.os[L];
    for (npy_intp r = 0; r < rows; r++) {
        if (ax.red[L]) {
            TO* t = (TO*)po;
            *t = combine<K, TO>(*t, run<K, TI, TO>(px, len, sx));
        } else if (sx == (npy_intp)sizeof(TI) && so == (npy_intp)sizeof(TO)) {   // a row into the sums
            TO* t = (TO*)po;
            const TI* q = (const TI*)px;
            #pragma omp simd
            for (npy_intp j = 0; j < len; j++) t[j] = combine<K, TO>(t[j], conv<K, TO, TI>(q[j]));
        } else {
            for (npy_intp j = 0; j < len; j++) {
                TO* t = (TO*)(po + j * so);
                *t = combine<K, TO>(*t, conv<K, TO, TI>(*(const TI*)(px + j * sx)));
            }
        }
        for (int d = L - 1; d >= 0; d--) {
            px += ax.xs[d]; po += ax.os[d];
            if (++idx[d] < ax.dim[d]) break;
            px -= ax.xs[d] * ax.dim[d]; po -= ax.os[d] * ax.dim[d];
            idx[d] = 0;
        }
    }
    return 0;
}

// argmax/argmin over the flagged axes (their elements taken in C order, as the reference
// flattens them): the first extremum, or the first NaN.
template <class T, bool MAX>
static int argreduce(State* S, int node, Arr* x, const bool* red, Arr* out) {
    int nd = PyArray_NDIM(x), k = 0;
    npy_intp m = 1;
    PyArray_Dims perm;
    npy_intp order[NPY_MAXDIMS];
    for (int d = 0; d < nd; d++) if (!red[d]) order[k++] = d;
    for (int d = 0; d < nd; d++) if (red[d]) { order[k++] = d; m *= PyArray_DIM(x, d); }
    if (m == 0)
        return fail(S, node, PyExc_ValueError, "attempt to get %s of an empty sequence", MAX ? "argmax" : "argmin");
    perm.ptr = order;
    perm.len = nd;
    Ref t(PyArray_Transpose(x, &perm));
    Ref c(t.p ? PyArray_NewCopy(t.a(), NPY_CORDER) : NULL);
    if (!c.p) return refail(S, node);
    const T* p = (const T*)PyArray_DATA(c.a());
    int64_t* o = (int64_t*)PyArray_DATA(out);
    npy_intp n_out = PyArray_SIZE(out);
    for (npy_intp i = 0; i < n_out; i++, p += m) {
        T best = p[0];
        npy_intp at = 0;
        for (npy_intp j = 1; j < m && best == best; j++)
            if ((MAX ? p[j] > best : p[j] < best) || p[j] != p[j]) { best = p[j]; at = j; }
        o[i] = at;
    }
    return 0;
}

// Rows of 8 to 16 float64 (a classifier's 10 classes) as two vectors, the second masked:
// their maxima and sums reduced in registers, not element by element (a row of 10 took
// about 35 cycles through the scalar loops). Same results: the sum in NumPy's pairwise
// order (8 accumulators, ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)), then the rest in turn).
template <class T> static inline bool short_rows(npy_intp len) {
#ifdef SYMNB_V16
    return std::is_same<T, double>::value && len >= 8 && len <= 16;
#else
    (void)len;
    return false;
#endif
}
#ifdef SYMNB_V16
namespace row8 {
namespace V = v8;
static inline V::M second(npy_intp len) { return V::tail(len - 8); }
// The row's maximum (vmaxpd does not propagate a NaN; the NaN's own exp makes the row NaN).
static inline double max(const double* row, npy_intp len) {
    const V::M m1 = second(len);
    const V::F a = V::load(row, V::ALL), b = V::load(row + 8, m1);
    V::F v = __builtin_ia32_maxpd512_mask(a, __builtin_ia32_blendmpd_512_mask(V::splat(-__builtin_inf()), b, m1), a, V::ALL, 4);
    v = __builtin_ia32_maxpd512_mask(v, __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3), v, V::ALL, 4);
    v = __builtin_ia32_maxpd512_mask(v, __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5), v, V::ALL, 4);
    v = __builtin_ia32_maxpd512_mask(v, __builtin_shufflevector(v, v, 1, 0, 3, 2, 5, 4, 7, 6), v, V::ALL, 4);
    return v[0];
}
static inline double sum(const double* p, npy_intp len) {
    V::F r = V::load(p, V::ALL);
    npy_intp i = 8;
    if (len == 16) { r += V::load(p + 8, V::ALL); i = 16; }
    const V::F t = r + __builtin_shufflevector(r, r, 1, 0, 3, 2, 5, 4, 7, 6);
    const V::F u = t + __builtin_shufflevector(t, t, 2, 3, 0, 1, 6, 7, 4, 5);
    double res = u[0] + u[4];
    for (; i < len; i++) res += p[i];
    return res;
}
// o = f(x) over the row, f on vectors. (Not for x = o: a masked store, then the next row's
// load of the same vector's bytes, stalls until the store leaves the core.)
template <class Fn> static inline void map(double* o, const double* x, npy_intp len, Fn f) {
    const V::M m1 = second(len);
    V::store(o, V::ALL, f(V::load(x, V::ALL)));
    V::store(o + 8, m1, f(V::load(x + 8, m1)));
}
}  // namespace row8
#endif

// The pairwise sum of a contiguous row; `vec`: short_rows said yes.
template <class T> static inline T row_sum(const T* p, npy_intp len, bool vec) {
#ifdef SYMNB_V16
    if constexpr (std::is_same<T, double>::value)
        if (vec) return row8::sum(p, len);
#endif
    (void)vec;
    return pairwise<T>((const char*)p, len, sizeof(T));
}

// softmax / log_softmax of a C-contiguous x along `axis` into out (same shape).
template <class T, bool LOG>
static int softmax(State* S, int node, Arr* x, int axis, Arr* out) {
    npy_intp outer = 1, len = PyArray_DIM(x, axis), inner = 1;
    for (int d = 0; d < axis; d++) outer *= PyArray_DIM(x, d);
    for (int d = axis + 1; d < PyArray_NDIM(x); d++) inner *= PyArray_DIM(x, d);
    if (len == 0)
        return fail(S, node, PyExc_ValueError, "zero-size array to reduction operation maximum which has no identity");
    const T* px = (const T*)PyArray_DATA(x);
    T* po = (T*)PyArray_DATA(out);
    if (inner == 1) {
        // Rows are often short (10 classes): maxima and sums per row, but the exp over the
        // whole array in one vectorized pass, and the logs of all row sums in another.
        T small[512];
        T* mx = outer <= 256 ? small : (T*)PyMem_Malloc(2 * outer * sizeof(T));
        if (!mx) { PyErr_NoMemory(); return refail(S, node); }
        T* ls = mx + outer;
        const npy_intp n = outer * len;
        const bool vec = short_rows<T>(len);
        for (npy_intp r = 0; r < outer; r++) {
            const T* row = px + r * len;
#ifdef SYMNB_V16
            if constexpr (std::is_same<T, double>::value)
                if (vec) {
                    const double m = mx[r] = row8::max(row, len);
                    row8::map(po + r * len, row, len, [=](v8::F a) { return a - v8::splat(m); });
                    continue;
                }
#endif
            // Four running maxima, not one: each step of the chain is a compare and a
            // select (NaN-propagating), and a row of 10 took 45 cycles one after another.
            T m4[4] = {row[0], row[0], row[0], row[0]};
            npy_intp j = 1;
            for (; j + 4 <= len; j += 4)
                for (int k = 0; k < 4; k++) m4[k] = fmax_np(m4[k], row[j + k]);
            for (; j < len; j++) m4[0] = fmax_np(m4[0], row[j]);
            const T m = mx[r] = fmax_np(fmax_np(m4[0], m4[1]), fmax_np(m4[2], m4[3]));
            #pragma omp simd
            for (npy_intp j = 0; j < len; j++) po[r * len + j] = row[j] - m;
        }
        #pragma omp simd
        for (npy_intp i = 0; i < n; i++) po[i] = std::exp(po[i]);
        for (npy_intp r = 0; r < outer; r++) ls[r] = row_sum(po + r * len, len, vec);
        if (LOG) {
            #pragma omp simd
            for (npy_intp r = 0; r < outer; r++) ls[r] = std::log(ls[r]);
        }
        for (npy_intp r = 0; r < outer; r++) {
            const T m = mx[r], l = ls[r];
            T* o = po + r * len;
            const T* row = px + r * len;
#ifdef SYMNB_V16
            if constexpr (std::is_same<T, double>::value)
                if (LOG && vec) {   // (softmax's o / l would read o: the loop below)
                    const v8::F mv = v8::splat(m), lv = v8::splat(l);
                    row8::map(o, row, len, [=](v8::F a) { return (a - mv) - lv; });
                    continue;
                }
#endif
            if (LOG) {
                #pragma omp simd
                for (npy_intp j = 0; j < len; j++) o[j] = (row[j] - m) - l;
            } else {
                #pragma omp simd
                for (npy_intp j = 0; j < len; j++) o[j] = o[j] / l;
            }
        }
        if (mx != small) PyMem_Free(mx);
        return 0;
    }
    // Axis not last: NumPy accumulates these sums slice by slice, in order; so do we.
    T* mx = (T*)PyMem_Malloc(2 * inner * sizeof(T));
    if (!mx) { PyErr_NoMemory(); return refail(S, node); }
    T* s = mx + inner;
    for (npy_intp r = 0; r < outer; r++, px += len * inner, po += len * inner) {
        for (npy_intp i = 0; i < inner; i++) { mx[i] = px[i]; s[i] = 0; }
        for (npy_intp j = 1; j < len; j++)
            for (npy_intp i = 0; i < inner; i++) mx[i] = fmax_np(mx[i], px[j * inner + i]);
        for (npy_intp j = 0; j < len; j++)
            for (npy_intp i = 0; i < inner; i++) {
                T e = std::exp(px[j * inner + i] - mx[i]);
                po[j * inner + i] = e;
                s[i] += e;
            }
        for (npy_intp j = 0; j < len; j++)
            for (npy_intp i = 0; i < inner; i++)
                po[j * inner + i] = LOG ? (px[j * inner + i] - mx[i]) - std::log(s[i]) : po[j * inner + i] / s[i];
    }
    PyMem_Free(mx);
    return 0;
}

// log_softmax's gradient along `axis` of C-contiguous g and lsm (one shape) into out:
// g - exp(lsm) * sum(g), the sums added as NumPy adds them (pairwise along the last axis,
// slice by slice in order along another).
template <class T>
static int log_softmax_grad(State* S, int node, Arr* g, Arr* lsm, int axis, Arr* out) {
    if (!same_dims(lsm, PyArray_NDIM(g), PyArray_DIMS(g)))
        return fail(S, node, PyExc_ValueError, "log_softmax_grad: the gradient and log_softmax have different shapes");
    npy_intp outer = 1, len = PyArray_DIM(g, axis), inner = 1;
    for (int d = 0; d < axis; d++) outer *= PyArray_DIM(g, d);
    for (int d = axis + 1; d < PyArray_NDIM(g); d++) inner *= PyArray_DIM(g, d);
    const npy_intp n = outer * len * inner;
    const T *pg = (const T*)PyArray_DATA(g), *pl = (const T*)PyArray_DATA(lsm);
    T* po = (T*)PyArray_DATA(out);
    #pragma omp simd
    for (npy_intp i = 0; i < n; i++) po[i] = std::exp(pl[i]);
    if (inner == 1) {       // rows: each one's sum, then one pass over it
        const bool vec = short_rows<T>(len);
        for (npy_intp r = 0; r < outer; r++, pg += len, po += len) {
            const T s = row_sum(pg, len, vec);
            // (Not row8::map, which took 1.75k cycles for 60 rows of 10, this loop 1.25k.)
            #pragma omp simd
            for (npy_intp j = 0; j < len; j++) po[j] = pg[j] - po[j] * s;
        }
        return 0;
    }
    T* sums = (T*)PyMem_Malloc(inner * sizeof(T));
    if (!sums) { PyErr_NoMemory(); return refail(S, node); }
    for (npy_intp r = 0; r < outer; r++, pg += len * inner, po += len * inner) {
        for (npy_intp i = 0; i < inner; i++) sums[i] = 0;
        for (npy_intp j = 0; j < len; j++)
            for (npy_intp i = 0; i < inner; i++) sums[i] += pg[j * inner + i];
        for (npy_intp j = 0; j < len; j++)
            for (npy_intp i = 0; i < inner; i++) po[j * inner + i] = pg[j * inner + i] - po[j * inner + i] * sums[i];
    }
    PyMem_Free(sums);
    return 0;
}

}  // namespace symnb
