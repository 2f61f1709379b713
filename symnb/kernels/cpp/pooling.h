// 2-d pooling for generated symnb modules (stage "program"): max, sum and the two averages
// over the last two axes and their gradients, with Theano's windows (core/ops/pool.py);
// the planes are split between the pool's threads. Included only by modules that pool.
#pragma once
#include "blas.h"

namespace symnb {

enum { POOL_MAX = 0, POOL_SUM = 1, POOL_AVG_INC = 2, POOL_AVG_EXC = 3 };

struct PoolGeom {
    npy_intp planes, H, W, oh, ow, wh, ww, sh, sw, ph, pw;
    int mode;
};

static inline npy_intp pool_length(npy_intp n, npy_intp ws, npy_intp st, npy_intp pad, bool ignore_border) {
    if (ignore_border) {
        const npy_intp r = n + 2 * pad - ws;
        return r < 0 ? 0 : r / st + 1;
    }
    if (st >= ws) return n <= 0 ? 0 : (n - 1) / st + 1;
    const npy_intp r = n - 1 - ws + st;
    return (r < 0 ? 0 : r / st) + 1;
}

// The geometry of pooling x (C-contiguous, 2 or more axes); the pooled shape in dims.
static void pool_setup(Arr* x, int mode, npy_intp wh, npy_intp ww, npy_intp sh, npy_intp sw, npy_intp ph,
                       npy_intp pw, bool ignore_border, PoolGeom* g, npy_intp* dims) {
    const int nd = PyArray_NDIM(x);
    npy_intp planes = 1;
    for (int d = 0; d < nd - 2; d++) planes *= (dims[d] = PyArray_DIM(x, d));
    const npy_intp H = PyArray_DIM(x, nd - 2), W = PyArray_DIM(x, nd - 1);
    *g = PoolGeom{planes, H, W, pool_length(H, wh, sh, ph, ignore_border), pool_length(W, ww, sw, pw, ignore_border),
                  wh, ww, sh, sw, ph, pw, mode};
    dims[nd - 2] = g->oh;
    dims[nd - 1] = g->ow;
}

// An operand of the gradient (the pooled input or its gradient) must have the pooled shape.
static int pool_check(State* S, int node, const char* what, Arr* a, int nd, const npy_intp* dims) {
    if (PyArray_NDIM(a) == nd && !memcmp(PyArray_DIMS(a), dims, nd * sizeof(npy_intp))) return 0;
    char got[160], exp[160];
    shape_str(got, sizeof got, PyArray_NDIM(a), PyArray_DIMS(a));
    shape_str(exp, sizeof exp, nd, dims);
    return fail(S, node, PyExc_ValueError, "pool_2d gradient: %s has shape %s, expected %s", what, got, exp);
}

// The windows along one axis: window i covers [lo[i], hi[i]) of the input and an average
// divides by cnt[i] (cut at the padded border only, for average_inc_pad); one array of 3n.
static void pool_ranges(npy_intp n, npy_intp out, npy_intp ws, npy_intp st, npy_intp pad, bool inc, npy_intp* r) {
    for (npy_intp i = 0; i < out; i++) {
        const npy_intp y = i * st - pad, end = y + ws;
        r[i] = y < 0 ? 0 : y;
        r[out + i] = end < n ? end : n;
        r[2 * out + i] = inc ? (end < n + pad ? end : n + pad) - y : r[out + i] - r[i];
    }
}

// Runs f(plane, rows, cols) over the planes, split between the threads when it pays off;
// rows and cols are pool_ranges of the two axes.
template <class F> static int pool_planes(const PoolGeom& g, F&& f) {
    npy_intp* r = (npy_intp*)malloc(3 * (g.oh + g.ow) * sizeof(npy_intp) + 1);
    if (!r) { PyErr_NoMemory(); return -1; }
    pool_ranges(g.H, g.oh, g.wh, g.sh, g.ph, g.mode == POOL_AVG_INC, r);
    pool_ranges(g.W, g.ow, g.ww, g.sw, g.pw, g.mode == POOL_AVG_INC, r + 3 * g.oh);
    const npy_intp *rows = r, *cols = r + 3 * g.oh;
    auto span = [&f, rows, cols](npy_intp p0, npy_intp p1) -> int {
        for (npy_intp p = p0; p < p1; p++) f(p, rows, cols);
        return 0;
    };
    const npy_intp work = g.planes * (g.H * g.W + g.oh * g.ow * g.wh * g.ww);
    {
        NoGil nogil(work);
        run_spans(g.planes, work >= (1 << 16), 1, span);
    }
    free(r);
    return 0;
}

// out = the pooled x (both C-contiguous): each output row is built from its input rows, one
// input row at a time, the windows' columns reduced first.
template <class T> static int pool_forward(const PoolGeom& g, const T* x, T* out) {
    const npy_intp oh = g.oh, ow = g.ow, W = g.W;
    const bool max = g.mode == POOL_MAX, avg = g.mode >= POOL_AVG_INC;
    return pool_planes(g, [&](npy_intp p, const npy_intp* rows, const npy_intp* cols) {
        const T* xp = x + p * g.H * W;
        for (npy_intp i = 0; i < oh; i++) {
            T* o = out + (p * oh + i) * ow;
            for (npy_intp j = 0; j < ow; j++) o[j] = max ? -(T)INFINITY : (T)0;
            for (npy_intp r = rows[i]; r < rows[oh + i]; r++) {
                const T* xr = xp + r * W;
                if (max) {
                    // Selects, not branches: a branch on random data mispredicts half the time
                    // (LeNet's first pooling took 5.9 ms instead of 1). NaN wins, as np.maximum.
                    for (npy_intp j = 0; j < ow; j++) {
                        T acc = o[j];
                        bool nan = acc != acc;
                        for (npy_intp c = cols[j]; c < cols[ow + j]; c++) {
                            const T v = xr[c];
                            nan |= v != v;
                            acc = acc > v ? acc : v;
                        }
                        o[j] = nan ? (T)NAN : acc;
                    }
                } else {
                    for (npy_intp j = 0; j < ow; j++) {
                        T acc = o[j];
                        for (npy_intp c = cols[j]; c < cols[ow + j]; c++) acc += xr[c];
                        o[j] = acc;
                    }
                }
            }
            if (avg)
                for (npy_intp j = 0; j < ow; j++) o[j] /= (T)(rows[2 * oh + i] * cols[2 * ow + j]);
        }
    });
}

// c ? d : +0, as a mask: g++ made a branch of the select (mispredicted half the time on
// random data: LeNet's first max pooling gradient took 6.8 ms instead of 2.7), and d * c
// would turn an infinite d into NaN where c is false.
// U: the unsigned integer of T's size.
template <class T, class U> static inline T keep_if_bits(bool c, T d) {
    U u;
    memcpy(&u, &d, sizeof u);
    u &= -(U)c;
    memcpy(&d, &u, sizeof u);
    return d;
}
static inline float keep_if(bool c, float d) { return keep_if_bits<float, uint32_t>(c, d); }
static inline double keep_if(bool c, double d) { return keep_if_bits<double, uint64_t>(c, d); }

// gx = the gradient of the pooling at x given gz (pooled = the pooled x, max only): each
// window's gz goes to its maximal elements (all of them on a tie) or spreads over the
// window (divided by its count for averages).
template <class T> static int pool_backward(const PoolGeom& g, const T* x, const T* pooled, const T* gz, T* gx) {
    const npy_intp oh = g.oh, ow = g.ow, W = g.W;
    const bool max = g.mode == POOL_MAX, avg = g.mode >= POOL_AVG_INC;
    return pool_planes(g, [&](npy_intp p, const npy_intp* rows, const npy_intp* cols) {
        const npy_intp in = p * g.H * W;
        memset(gx + in, 0, g.H * W * sizeof(T));
        for (npy_intp i = 0; i < oh; i++) {
            const npy_intp o = (p * oh + i) * ow;
            for (npy_intp r = rows[i]; r < rows[oh + i]; r++) {
                const T* xr = x + in + r * W;
                T* gr = gx + in + r * W;
                for (npy_intp j = 0; j < ow; j++) {
                    const T d = avg ? gz[o + j] / (T)(rows[2 * oh + i] * cols[2 * ow + j]) : gz[o + j];
                    const T m = max ? pooled[o + j] : (T)0;
                    for (npy_intp c = cols[j]; c < cols[ow + j]; c++)
                        gr[c] += keep_if(!max || xr[c] == m, d);
                }
            }
        }
    });
}

}  // namespace symnb
