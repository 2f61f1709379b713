// 2-d pooling for generated symnb modules (stage "program"): max, sum and the two averages
// over the last two axes and their gradients, with Theano's windows (core/ops/pool.py);
// the planes are split between the pool's threads. Included only by modules that pool.
#pragma once
#include "runtime.h"

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

// Window (i, j) of a plane: its rows [r0, r1) and columns [c0, c1) inside the input, and
// the count an average divides by.
struct Window {
    npy_intp r0, r1, c0, c1, count;
    Window(const PoolGeom& g, npy_intp i, npy_intp j) {
        const npy_intp y = i * g.sh - g.ph, x = j * g.sw - g.pw;
        r0 = y < 0 ? 0 : y; r1 = y + g.wh < g.H ? y + g.wh : g.H;
        c0 = x < 0 ? 0 : x; c1 = x + g.ww < g.W ? x + g.ww : g.W;
        if (g.mode == POOL_AVG_INC) {     // the window cut at the padded border only
            const npy_intp hp = g.H + 2 * g.ph, wp = g.W + 2 * g.pw;
            count = ((i * g.sh + g.wh < hp ? i * g.sh + g.wh : hp) - i * g.sh) *
                    ((j * g.sw + g.ww < wp ? j * g.sw + g.ww : wp) - j * g.sw);
        } else {
            count = (r1 - r0) * (c1 - c0);
        }
    }
};

template <class F> static int pool_planes(const PoolGeom& g, F& f) {
    const npy_intp work = g.planes * (g.H * g.W + g.oh * g.ow * g.wh * g.ww);
    return run_spans(g.planes, work >= (1 << 16), 1, f);
}

// out = the pooled x (both C-contiguous).
template <class T> static int pool_forward(const PoolGeom& g, const T* x, T* out) {
    auto f = [&g, x, out](npy_intp p0, npy_intp p1) -> int {
        for (npy_intp p = p0; p < p1; p++) {
            const T* xp = x + p * g.H * g.W;
            T* op = out + p * g.oh * g.ow;
            for (npy_intp i = 0; i < g.oh; i++)
                for (npy_intp j = 0; j < g.ow; j++) {
                    const Window w(g, i, j);
                    T acc = g.mode == POOL_MAX ? -(T)INFINITY : (T)0;
                    for (npy_intp r = w.r0; r < w.r1; r++)
                        for (npy_intp c = w.c0; c < w.c1; c++) {
                            const T v = xp[r * g.W + c];
                            if (g.mode != POOL_MAX) acc += v;
                            else if (v > acc || v != v) acc = v;     // NaN wins, as np.maximum
                        }
                    op[i * g.ow + j] = g.mode >= POOL_AVG_INC ? acc / (T)w.count : acc;
                }
        }
        return 0;
    };
    return pool_planes(g, f);
}

// gx = the gradient of the pooling at x given gz (pooled = the pooled x, max only): each
// window's gz goes to its maximal elements (all of them on a tie) or spreads over the
// window (divided by its count for averages).
template <class T> static int pool_backward(const PoolGeom& g, const T* x, const T* pooled, const T* gz, T* gx) {
    auto f = [&g, x, pooled, gz, gx](npy_intp p0, npy_intp p1) -> int {
        for (npy_intp p = p0; p < p1; p++) {
            const npy_intp in = p * g.H * g.W, o = p * g.oh * g.ow;
            T* gp = gx + in;
            memset(gp, 0, g.H * g.W * sizeof(T));
            for (npy_intp i = 0; i < g.oh; i++)
                for (npy_intp j = 0; j < g.ow; j++) {
                    const Window w(g, i, j);
                    const T d = g.mode >= POOL_AVG_INC ? gz[o + i * g.ow + j] / (T)w.count : gz[o + i * g.ow + j];
                    const T m = g.mode == POOL_MAX ? pooled[o + i * g.ow + j] : (T)0;
                    for (npy_intp r = w.r0; r < w.r1; r++)
                        for (npy_intp c = w.c0; c < w.c1; c++)
                            if (g.mode != POOL_MAX || x[in + r * g.W + c] == m) gp[r * g.W + c] += d;
                }
        }
        return 0;
    };
    return pool_planes(g, f);
}

}  // namespace symnb
