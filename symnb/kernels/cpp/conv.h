// 2-d convolution for generated symnb modules (stage "program"): im2col + GEMM, one image
// at a time, the batch split between the pool's threads (each product on one OpenBLAS
// thread). Included only by modules that convolve (render_conv.py). Direct loops (each
// filter tap times the image, vectorized along output rows) took 12 ms for the forward pass
// of LeNet's first layer (batch 100, float32, one thread) and 110 ms for its second, against
// 2 and 7-9 ms here: the GEMM's blocking wins even for one input channel.
#pragma once
#include "blas.h"

namespace symnb {

// One convolution as a node computes it: image N x C x H x W, filters O x C x kh x kw,
// pads, strides, dilations, output oh x ow; `flip`: convolution (else correlation).
struct ConvGeom {
    npy_intp N, C, H, W, O, kh, kw, ph, pw, sh, sw, dh, dw, oh, ow;
    bool flip;
    npy_intp ckk() const { return C * kh * kw; }
    npy_intp ohw() const { return oh * ow; }
};

enum { CONV_FORWARD = 0, CONV_GRAD_INPUTS = 1, CONV_GRAD_FILTERS = 2 };
enum { BORDER_PADS = 0, BORDER_FULL = 1, BORDER_HALF = 2 };

static int conv_dims_fail(State* S, int node, const char* what, Arr* a, const npy_intp* want) {
    char got[160], exp[160];
    shape_str(got, sizeof got, PyArray_NDIM(a), PyArray_DIMS(a));
    shape_str(exp, sizeof exp, 4, want);
    return fail(S, node, PyExc_ValueError, "conv2d: %s has shape %s, expected %s", what, got, exp);
}

// The geometry of node `node` (role: forward (x, w), image gradient (gz, w, x's shape) or
// filter gradient (x, gz, w's shape)), checked against its operands; the result's shape in
// dims. -1 with a ValueError naming the shapes when they do not fit.
static int conv_setup(State* S, int node, int role, int border, npy_intp ph, npy_intp pw, npy_intp sh, npy_intp sw,
                      npy_intp dh, npy_intp dw, bool flip, Arr* a, Arr* b, Arr* shp, ConvGeom* g, npy_intp* dims) {
    npy_intp x[4], w[4];
    Arr* img = role == CONV_GRAD_INPUTS ? nullptr : a;
    Arr* fil = role == CONV_GRAD_FILTERS ? nullptr : b;
    for (int d = 0; d < 4; d++) {
        x[d] = img ? PyArray_DIM(img, d) : at_i64(shp, d);
        w[d] = fil ? PyArray_DIM(fil, d) : at_i64(shp, d);
    }
    if (x[1] != w[1])
        return fail(S, node, PyExc_ValueError, "conv2d: the image has %ld channels, the filters expect %ld",
                    (long)x[1], (long)w[1]);
    if (w[2] < 1 || w[3] < 1 || x[0] < 0 || w[0] < 0)
        return fail(S, node, PyExc_ValueError, "conv2d: filters of shape (%ld, %ld, %ld, %ld) are empty", (long)w[0],
                    (long)w[1], (long)w[2], (long)w[3]);
    if (border == BORDER_FULL) { ph = dh * (w[2] - 1); pw = dw * (w[3] - 1); }
    if (border == BORDER_HALF) { ph = dh * (w[2] / 2); pw = dw * (w[3] / 2); }
    const npy_intp rh = x[2] + 2 * ph - dh * (w[2] - 1) - 1, rw = x[3] + 2 * pw - dw * (w[3] - 1) - 1;
    if (rh < 0 || rw < 0)
        return fail(S, node, PyExc_ValueError, "conv2d: a %ldx%ld kernel (dilation %ld, %ld) does not fit an image "
                    "of %ldx%ld padded by (%ld, %ld)", (long)w[2], (long)w[3], (long)dh, (long)dw, (long)x[2],
                    (long)x[3], (long)ph, (long)pw);
    *g = ConvGeom{x[0], x[1], x[2], x[3], w[0], w[2], w[3], ph, pw, sh, sw, dh, dw, rh / sh + 1, rw / sw + 1, flip};
    const npy_intp z[4] = {g->N, g->O, g->oh, g->ow};
    if (role != CONV_FORWARD) {
        Arr* gz = role == CONV_GRAD_INPUTS ? a : b;
        if (PyArray_NDIM(gz) != 4 || memcmp(PyArray_DIMS(gz), z, sizeof z))
            return conv_dims_fail(S, node, "the output gradient", gz, z);
    }
    const npy_intp* out = role == CONV_FORWARD ? z : role == CONV_GRAD_INPUTS ? x : w;
    memcpy(dims, out, 4 * sizeof(npy_intp));
    return 0;
}

// Parts of one convolution's batch, each with its own scratch: none when the work does not
// pay for waking the threads (a 64k multiply-add bound as for products), else four per thread
// (one image each at least), so that a thread the OS puts aside leaves most of its share to
// the others (the pool's threads take each other's unstarted parts).
static inline int conv_parts(const ConvGeom& g) {
    const double macs = (double)g.N * g.O * g.ohw() * g.ckk();
    if (n_threads < 2 || macs < 65536.0) return 1;
    return (int)(g.N < 4 * n_threads ? g.N : 4 * n_threads);
}

// Scratch elements a call needs: a column matrix per thread, and for the filter gradient
// each thread but the first its own partial sum.
static inline npy_intp conv_scratch(const ConvGeom& g, int role) {
    const int parts = conv_parts(g);
    return parts * g.ckk() * g.ohw() + (role == CONV_GRAD_FILTERS ? (parts - 1) * g.O * g.ckk() : 0);
}

// For one kernel offset (a, b): the image row and the first column one output row reads,
// and the output columns [jlo, jhi) that fall inside the image (the rest read padding).
struct Taps {
    npy_intp x0, jlo, jhi;
    Taps(const ConvGeom& g, npy_intp b) {
        const npy_intp rb = g.flip ? g.kw - 1 - b : b;
        x0 = rb * g.dw - g.pw;
        jlo = x0 >= 0 ? 0 : (-x0 + g.sw - 1) / g.sw;
        jhi = g.W - x0 <= 0 ? 0 : (g.W - x0 + g.sw - 1) / g.sw;
        if (jhi > g.ow) jhi = g.ow;
        if (jlo > jhi) jlo = jhi;
    }
};

static inline npy_intp tap_row(const ConvGeom& g, npy_intp a, npy_intp i) {
    return i * g.sh + (g.flip ? g.kh - 1 - a : a) * g.dh - g.ph;
}

// col (ckk x ohw) = the image's windows: row (c, a, b) holds, for every output pixel, the
// input under the filter's tap (a, b) (the flipped tap for a convolution), or 0 in padding.
template <class T> static void im2col(const ConvGeom& g, const T* x, T* col) {
    const npy_intp ow = g.ow;
    for (npy_intp c = 0; c < g.C; c++)
        for (npy_intp a = 0; a < g.kh; a++)
            for (npy_intp b = 0; b < g.kw; b++) {
                T* row = col + ((c * g.kh + a) * g.kw + b) * g.ohw();
                const Taps t(g, b);
                for (npy_intp i = 0; i < g.oh; i++, row += ow) {
                    const npy_intp y = tap_row(g, a, i);
                    if (y < 0 || y >= g.H) { for (npy_intp j = 0; j < ow; j++) row[j] = 0; continue; }
                    const T* xr = x + (c * g.H + y) * g.W + t.x0;
                    for (npy_intp j = 0; j < t.jlo; j++) row[j] = 0;
                    if (g.sw == 1) for (npy_intp j = t.jlo; j < t.jhi; j++) row[j] = xr[j];   // rows of a few elements:
                    else for (npy_intp j = t.jlo; j < t.jhi; j++) row[j] = xr[j * g.sw];        // no memcpy calls
                    for (npy_intp j = t.jhi; j < ow; j++) row[j] = 0;
                }
            }
}

// The adjoint of im2col: gx (C x H x W, zeroed here) = the sum of col's entries over the
// pixels they were read from.
template <class T> static void col2im(const ConvGeom& g, const T* col, T* gx) {
    memset(gx, 0, g.C * g.H * g.W * sizeof(T));
    const npy_intp ow = g.ow;
    for (npy_intp c = 0; c < g.C; c++)
        for (npy_intp a = 0; a < g.kh; a++)
            for (npy_intp b = 0; b < g.kw; b++) {
                const T* row = col + ((c * g.kh + a) * g.kw + b) * g.ohw();
                const Taps t(g, b);
                for (npy_intp i = 0; i < g.oh; i++, row += ow) {
                    const npy_intp y = tap_row(g, a, i);
                    if (y < 0 || y >= g.H) continue;
                    T* xr = gx + (c * g.H + y) * g.W + t.x0;
                    if (g.sw == 1) {
                        #pragma omp simd
                        for (npy_intp j = t.jlo; j < t.jhi; j++) xr[j] += row[j];
                    } else {
                        for (npy_intp j = t.jlo; j < t.jhi; j++) xr[j * g.sw] += row[j];
                    }
                }
            }
}

// Node output `out` (C-contiguous, its shape from conv_setup) from operands a and b (as in
// conv_setup, each C-contiguous); scratch holds conv_scratch elements.
template <class T>
static int conv_run(const ConvGeom& g, int role, Arr* a_, Arr* b_, Arr* out_, Arr* scratch_) {
    const T *a = data<T>(a_), *b = data<T>(b_);
    T *out = data<T>(out_), *scratch = data<T>(scratch_);
    const npy_intp ckk = g.ckk(), ohw = g.ohw(), img = g.C * g.H * g.W, res = g.O * ohw;
    const npy_intp nout = PyArray_SIZE(out_);
    if (nout == 0) return 0;
    if (g.N == 0 || g.O == 0 || ohw == 0) { memset(out, 0, nout * sizeof(T)); return 0; }
    const int parts = conv_parts(g);
    T* partials = scratch + parts * ckk * ohw;
    auto block = [=](npy_intp p0, npy_intp p1) -> int {
        for (npy_intp p = p0; p < p1; p++) {
            T* col = scratch + p * ckk * ohw;
            T* acc = p == 0 ? out : partials + (p - 1) * g.O * ckk;
            for (npy_intp n = g.N * p / parts; n < g.N * (p + 1) / parts; n++) {
                const bool first = n == g.N * p / parts;
                if (role == CONV_FORWARD) {           // out[n] = W (O x ckk) @ col
                    im2col(g, a + n * img, col);
                    Blas<T>::gemm(NoTrans, NoTrans, g.O, ohw, ckk, 1, b, ckk, col, ohw, 0, out + n * res, ohw);
                } else if (role == CONV_GRAD_INPUTS) { // col = W.T @ gz[n]; gx[n] = col2im(col)
                    Blas<T>::gemm(Trans, NoTrans, ckk, ohw, g.O, 1, b, ckk, a + n * res, ohw, 0, col, ohw);
                    col2im(g, col, out + n * img);
                } else {                                // gW += gz[n] (O x ohw) @ col.T
                    im2col(g, a + n * img, col);
                    Blas<T>::gemm(NoTrans, Trans, g.O, ckk, ohw, 1, b + n * res, ohw, col, ohw, first ? 0 : 1, acc,
                                  ckk);
                }
            }
        }
        return 0;
    };
    {
        NoGil nogil(2.0 * g.N * res * ckk);
        OneBlasThread one(parts > 1);
        run_spans(parts, parts > 1, 1, block);
        if (role == CONV_GRAD_FILTERS)
            for (int p = 1; p < parts; p++) {
                const T* q = partials + (p - 1) * g.O * ckk;
                #pragma omp simd
                for (npy_intp i = 0; i < g.O * ckk; i++) out[i] += q[i];
            }
    }
    return 0;
}

}  // namespace symnb
