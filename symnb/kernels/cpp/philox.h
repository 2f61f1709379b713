// Philox4x32-10 random draws for generated symnb modules (stage "program"), bit for bit
// the layout symnb/core/random.py documents: words, uniforms, normals, binomials.
#pragma once
#include "runtime.h"

namespace symnb {

// Block j of the stream at (key, counter): its 4 words.
static inline void philox4(uint64_t key, uint64_t counter, npy_intp j, uint32_t& w0, uint32_t& w1, uint32_t& w2,
                           uint32_t& w3) {
    uint64_t ctr = counter + (uint64_t)j;
    uint32_t c0 = (uint32_t)ctr, c1 = (uint32_t)(ctr >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    #pragma GCC unroll 10
    for (int r = 0; r < 10; r++) {     // unrolled, so that loops over blocks vectorize
        uint64_t p0 = (uint64_t)c0 * 0xD2511F53u, p1 = (uint64_t)c2 * 0xCD9E8D57u;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    w0 = c0;
    w1 = c1;
    w2 = c2;
    w3 = c3;
}
#ifdef __AVX512F__
// Sixteen blocks at once, one per 32-bit lane; each 32 x 32 -> 64-bit product as two
// vpmuludq (even lanes, then odd). GCC vectorizes philox4 itself with 64-bit lanes and
// vpmullq (3 uops each): a Bernoulli draw took 6.6 cycles that way, 3.5 this way.
typedef uint32_t v16u __attribute__((vector_size(64)));
typedef uint64_t v8u __attribute__((vector_size(64)));
typedef int v16i __attribute__((vector_size(64)));
typedef long long v8q __attribute__((vector_size(64)));
static inline void mul_wide(v16u c, v16u k, v16u& hi, v16u& lo) {
    const v8u ev = (v8u)__builtin_ia32_pmuludq512_mask((v16i)c, (v16i)k, (v8q){}, (unsigned char)-1);
    const v8u od = (v8u)__builtin_ia32_pmuludq512_mask((v16i)((v8u)c >> 32), (v16i)k, (v8q){}, (unsigned char)-1);
    hi = (v16u)((ev >> 32) | (od & 0xffffffff00000000ull));
    lo = (v16u)((ev & 0xffffffffull) | (od << 32));
}
static inline void philox16(uint64_t key, uint64_t counter, npy_intp j0, uint32_t (*w)[16]) {
    v16u c0, c1, c2 = {}, c3 = {};
    for (int l = 0; l < 16; l++) {
        const uint64_t ctr = counter + (uint64_t)(j0 + l);
        c0[l] = (uint32_t)ctr;
        c1[l] = (uint32_t)(ctr >> 32);
    }
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    const v16u m0 = (v16u){} + 0xD2511F53u, m1 = (v16u){} + 0xCD9E8D57u;
    #pragma GCC unroll 10
    for (int r = 0; r < 10; r++) {
        v16u h0, l0, h1, l1;
        mul_wide(c0, m0, h0, l0);
        mul_wide(c2, m1, h1, l1);
        const v16u n0 = h1 ^ c1 ^ k0, n2 = h0 ^ c3 ^ k1;
        c1 = l1; c3 = l0; c0 = n0; c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    __builtin_memcpy(w[0], &c0, 64);
    __builtin_memcpy(w[1], &c1, 64);
    __builtin_memcpy(w[2], &c2, 64);
    __builtin_memcpy(w[3], &c3, 64);
}
#endif

// Blocks [lo, hi) of the stream, 16 at a time: f(j0, count, w) with w[i][l] word i of
// block j0 + l.
template <class F> static inline void philox_blocks(uint64_t key, uint64_t counter, npy_intp lo, npy_intp hi, F&& f) {
    uint32_t w[4][16];
    npy_intp j = lo;
#ifdef __AVX512F__
    for (; j + 16 <= hi; j += 16) {
        philox16(key, counter, j, w);
        f(j, (npy_intp)16, w);
    }
#endif
    for (; j < hi; j += 16) {
        const npy_intp cnt = hi - j < 16 ? hi - j : 16;
        #pragma omp simd
        for (npy_intp l = 0; l < cnt; l++) philox4(key, counter, j + l, w[0][l], w[1][l], w[2][l], w[3][l]);
        f(j, cnt, w);
    }
}

// Words [0, nwords) of the stream at (key, counter); returns the number of blocks used.
static uint64_t philox_words(uint64_t key, uint64_t counter, npy_intp nwords, uint32_t* out) {
    const npy_intp whole = nwords / 4, blocks = (nwords + 3) / 4;
    auto span = [&](npy_intp lo, npy_intp hi) -> int {
        philox_blocks(key, counter, lo, hi, [&](npy_intp j0, npy_intp cnt, uint32_t (*w)[16]) {
            uint32_t* o = out + 4 * j0;
            for (npy_intp l = 0; l < cnt; l++)
                for (int i = 0; i < 4; i++) o[4 * l + i] = w[i][l];
        });
        return 0;
    };
    run_spans(whole, whole > (1 << 13), 16, span);
    if (blocks > whole) {
        uint32_t w[4];
        philox4(key, counter, whole, w[0], w[1], w[2], w[3]);
        for (npy_intp i = 4 * whole; i < nwords; i++) out[i] = w[i - 4 * whole];
    }
    return (uint64_t)blocks;
}

static inline double uniform53(uint32_t a, uint32_t b) {
    return ((double)(a >> 5) * 67108864.0 + (double)(b >> 6)) * (1.0 / 9007199254740992.0);
}
static inline double uniform64(const uint32_t* w, npy_intp i) { return uniform53(w[2 * i], w[2 * i + 1]); }
static inline float uniform32(const uint32_t* w, npy_intp i) { return (float)(w[i] >> 8) * (1.0f / 16777216.0f); }

// Bernoulli draws (binomial with one trial) on a C-contiguous p: block j of the stream
// gives elements 2j and 2j + 1. The same bits as philox_words + draw_binomial, without the
// words' round trip through memory.
template <class TP, class TO>
static uint64_t bernoulli_direct(uint64_t key, uint64_t counter, const TP* p, TO* o, npy_intp n) {
    const npy_intp pairs = n / 2;
    auto span = [&](npy_intp lo, npy_intp hi) -> int {
        philox_blocks(key, counter, lo, hi, [&](npy_intp j0, npy_intp cnt, uint32_t (*w)[16]) {
            const TP* pp = p + 2 * j0;
            TO* oo = o + 2 * j0;
            #pragma omp simd
            for (npy_intp l = 0; l < cnt; l++) {
                oo[2 * l] = (TO)(uniform53(w[0][l], w[1][l]) < (double)pp[2 * l]);
                oo[2 * l + 1] = (TO)(uniform53(w[2][l], w[3][l]) < (double)pp[2 * l + 1]);
            }
        });
        return 0;
    };
    run_spans(pairs, pairs > (1 << 13), 16, span);
    if (n % 2) {
        uint32_t a, b, c, d;
        philox4(key, counter, pairs, a, b, c, d);
        o[n - 1] = (TO)(uniform53(a, b) < (double)p[n - 1]);
    }
    return (uint64_t)((2 * n + 3) / 4);
}

// Byte offsets of a parameter broadcast (NumPy rules, right-aligned) against a C-ordered
// walk over `shape`.
struct Bcast {
    int nd = 0;
    npy_intp dim[NPY_MAXDIMS], st[NPY_MAXDIMS], idx[NPY_MAXDIMS], off = 0;
    int init(int n, const npy_intp* shape, Arr* p) {
        int pd = PyArray_NDIM(p);
        if (pd > n) return -1;
        nd = n;
        for (int d = 0; d < n; d++) {
            int k = d - (n - pd);
            npy_intp len = k < 0 ? 1 : PyArray_DIM(p, k);
            if (len != 1 && len != shape[d]) return -1;
            dim[d] = shape[d];
            st[d] = len == 1 ? 0 : PyArray_STRIDE(p, k);
            idx[d] = 0;
        }
        return 0;
    }
    void next() {
        for (int d = nd - 1; d >= 0; d--) {
            off += st[d];
            if (++idx[d] < dim[d]) return;
            off -= st[d] * dim[d];
            idx[d] = 0;
        }
    }
};

static int check_state(State* S, int node, Arr* state, Arr* size, int nd, npy_intp* shape, npy_intp* n) {
    if (PyArray_DIM(state, 0) != 2 || PyArray_DIM(size, 0) != nd)
        return fail(S, node, PyExc_ValueError, "a random state is a uint64 vector of length 2");
    *n = 1;
    for (int d = 0; d < nd; d++) {
        shape[d] = (npy_intp)at_i64(size, d);
        if (shape[d] < 0) return fail(S, node, PyExc_ValueError, "negative dimensions are not allowed");
        if (shape[d] && *n > NPY_MAX_INTP / shape[d])
            return fail(S, node, PyExc_ValueError, "the sample is too large");
        *n *= shape[d];
    }
    return 0;
}

// uniform: lo + (hi - lo) * u, each operation in the type NumPy gives it (TD for hi - lo, TM
// for the product, TA for the sum), then cast to TO.
template <class TU, class TD, class TM, class TA, class TL, class TH, class TO>
static int draw_uniform(State* S, int node, Arr* out, Arr* lo, Arr* hi, const uint32_t* w, int nd,
                        const npy_intp* shape, npy_intp n) {
    Bcast bl, bh;
    if (bl.init(nd, shape, lo) < 0 || bh.init(nd, shape, hi) < 0)
        return fail(S, node, PyExc_ValueError, "the parameters do not broadcast to the sample shape");
    TO* o = (TO*)PyArray_DATA(out);
    const char *pl = PyArray_BYTES(lo), *ph = PyArray_BYTES(hi);
    if (PyArray_SIZE(lo) == 1 && PyArray_SIZE(hi) == 1) {     // scalar bounds: one vector loop
        const TL l = *(const TL*)pl;
        const TH h = *(const TH*)ph;
        #pragma omp simd
        for (npy_intp i = 0; i < n; i++) {
            TU u = sizeof(TU) == 8 ? (TU)uniform64(w, i) : (TU)uniform32(w, i);
            TM t = (TM)((TD)h - (TD)l) * (TM)u;
            o[i] = (TO)((TA)l + (TA)t);
        }
        return 0;
    }
    for (npy_intp i = 0; i < n; i++, bl.next(), bh.next()) {
        TU u = sizeof(TU) == 8 ? (TU)uniform64(w, i) : (TU)uniform32(w, i);
        TL l = *(const TL*)(pl + bl.off);
        TH h = *(const TH*)(ph + bh.off);
        TM t = (TM)((TD)h - (TD)l) * (TM)u;
        o[i] = (TO)((TA)l + (TA)t);
    }
    return 0;
}

// binomial: how many of trials uniforms (2 words each) fall below p.
template <class TP, class TO>
static int draw_binomial(State* S, int node, Arr* out, int64_t trials, Arr* p, const uint32_t* w, int nd,
                         const npy_intp* shape, npy_intp n) {
    Bcast bp;
    if (bp.init(nd, shape, p) < 0)
        return fail(S, node, PyExc_ValueError, "the parameters do not broadcast to the sample shape");
    TO* o = (TO*)PyArray_DATA(out);
    const char* pp = PyArray_BYTES(p);
    for (npy_intp i = 0; i < n; i++, bp.next()) {
        double prob = (double)*(const TP*)(pp + bp.off);
        int64_t c = 0;
        for (int64_t t = 0; t < trials; t++) c += uniform64(w, i * trials + t) < prob;
        o[i] = (TO)c;
    }
    return 0;
}

// normal: Box-Muller on pairs of uniforms. log, cos and sin are NumPy's own ufuncs, so the
// bits are the reference's whatever SIMD code NumPy picked on this machine.
template <class TU, class TM, class TA, class TL, class TS, class TO>
static int draw_normal(State* S, int node, Arr* out, Arr* loc, Arr* scale, const uint32_t* w, int nd,
                       const npy_intp* shape, npy_intp n) {
    Bcast bl, bs;
    if (bl.init(nd, shape, loc) < 0 || bs.init(nd, shape, scale) < 0)
        return fail(S, node, PyExc_ValueError, "the parameters do not broadcast to the sample shape");
    npy_intp half = (n + 1) / 2, d1[1] = {half};
    int tn = sizeof(TU) == 8 ? NPY_FLOAT64 : NPY_FLOAT32;
    Ref a(PyArray_EMPTY(1, d1, tn, 0)), theta(PyArray_EMPTY(1, d1, tn, 0));
    if (!a.p || !theta.p) return refail(S, node);
    TU *pa = (TU*)PyArray_DATA(a.a()), *pt = (TU*)PyArray_DATA(theta.a());
    const TU two_pi = (TU)(2 * M_PI);
    for (npy_intp k = 0; k < half; k++) {
        TU u1 = sizeof(TU) == 8 ? (TU)uniform64(w, 2 * k) : (TU)uniform32(w, 2 * k);
        TU u2 = sizeof(TU) == 8 ? (TU)uniform64(w, 2 * k + 1) : (TU)uniform32(w, 2 * k + 1);
        pa[k] = (TU)1 - u1;
        pt[k] = two_pi * u2;
    }
    Ref lg(PyObject_CallOneArg(PyTuple_GET_ITEM(np_ufuncs, 0), a.p));
    Ref cs(lg.p ? PyObject_CallOneArg(PyTuple_GET_ITEM(np_ufuncs, 1), theta.p) : NULL);
    Ref sn(cs.p ? PyObject_CallOneArg(PyTuple_GET_ITEM(np_ufuncs, 2), theta.p) : NULL);
    if (!sn.p) return refail(S, node);
    const TU *pl = (const TU*)PyArray_DATA(lg.a()), *pc = (const TU*)PyArray_DATA(cs.a()),
             *ps = (const TU*)PyArray_DATA(sn.a());
    TO* o = (TO*)PyArray_DATA(out);
    const char *ql = PyArray_BYTES(loc), *qs = PyArray_BYTES(scale);
    for (npy_intp i = 0; i < n; i++, bl.next(), bs.next()) {
        TU r = std::sqrt((TU)-2 * pl[i / 2]);
        TU z = r * (i % 2 ? ps[i / 2] : pc[i / 2]);
        TL l = *(const TL*)(ql + bl.off);
        TM t = (TM) * (const TS*)(qs + bs.off) * (TM)z;
        o[i] = (TO)((TA)l + (TA)t);
    }
    return 0;
}

}  // namespace symnb
