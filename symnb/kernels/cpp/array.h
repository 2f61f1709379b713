// Shape and indexing ops for generated symnb modules (stage "program"): transposes,
// reshapes and basic indexing as views; alloc, join, eye into reusable buffers; advanced
// indexing through NumPy's own indexing code.
#pragma once
#include "runtime.h"

namespace symnb {

// dimshuffle: order[k] is an input axis or -1 for a new length-1 axis; dropped input axes
// must have length 1.
static Arr* dimshuffle(State* S, int node, Arr* x, int n, const int* order) {
    npy_intp dims[NPY_MAXDIMS], strides[NPY_MAXDIMS];
    bool kept[NPY_MAXDIMS] = {false};
    for (int k = 0; k < n; k++) {
        if (order[k] < 0) { dims[k] = 1; strides[k] = 0; continue; }
        kept[order[k]] = true;
        dims[k] = PyArray_DIM(x, order[k]);
        strides[k] = PyArray_STRIDE(x, order[k]);
    }
    for (int d = 0; d < PyArray_NDIM(x); d++)
        if (!kept[d] && PyArray_DIM(x, d) != 1) {
            fail(S, node, PyExc_ValueError, "cannot drop axis %d of length %ld", d, (long)PyArray_DIM(x, d));
            return NULL;
        }
    Arr* v = view(x, n, dims, strides, PyArray_BYTES(x));
    if (!v) refail(S, node);
    return v;
}

// reshape to the nd entries of the int64 vector shp (one may be -1): a view when the
// layout allows, else a copy (NumPy's rule).
static Arr* reshape(State* S, int node, Arr* x, Arr* shp, int nd) {
    npy_intp dims[NPY_MAXDIMS], asked[NPY_MAXDIMS], known = 1, total = PyArray_SIZE(x);
    int free_axis = -1;
    if (PyArray_DIM(shp, 0) != nd) {
        fail(S, node, PyExc_ValueError, "reshape: the shape has %ld entries, expected %d", (long)PyArray_DIM(shp, 0), nd);
        return NULL;
    }
    for (int d = 0; d < nd; d++) {
        asked[d] = dims[d] = (npy_intp)at_i64(shp, d);
        if (dims[d] == -1 && free_axis < 0) { free_axis = d; continue; }
        if (dims[d] < 0) {
            fail(S, node, PyExc_ValueError, "reshape: invalid length %ld", (long)dims[d]);
            return NULL;
        }
        known *= dims[d];
    }
    if (free_axis >= 0) dims[free_axis] = known ? total / known : -1;
    if ((free_axis >= 0 && (known == 0 || total % known)) || (free_axis < 0 && known != total)) {
        char from[160], to[160];
        shape_str(from, sizeof from, PyArray_NDIM(x), PyArray_DIMS(x));
        shape_str(to, sizeof to, nd, asked);
        fail(S, node, PyExc_ValueError, "reshape: cannot reshape an array of shape %s into %s", from, to);
        return NULL;
    }
    PyArray_Dims newshape = {dims, nd};
    Arr* r = (Arr*)PyArray_Newshape(x, &newshape, NPY_CORDER);
    if (!r) refail(S, node);
    return r;
}

// Index entries, as the renderer encodes them: INT (one part) or SLICE (start, stop,
// step), each part NONE, a constant, or the next symbolic scalar; ARRAY takes the next
// symbolic index array (advanced indexing only).
enum { IDX_INT = 0, IDX_SLICE = 1, IDX_ARRAY = 2, PART_NONE = 0, PART_CONST = 1, PART_SYM = 2 };

struct IndexReader {
    const int64_t* spec;
    Arr* const* syms;
    int64_t part(bool* none) {
        int64_t mode = *spec++, val = *spec++;
        *none = mode == PART_NONE;
        return mode == PART_SYM ? get_int(*syms++) : val;
    }
};

// x[entries] for basic indexing: a view.
static Arr* subtensor(State* S, int node, Arr* x, int n_idx, const int64_t* spec, Arr* const* syms) {
    IndexReader rd = {spec, syms};
    npy_intp dims[NPY_MAXDIMS], strides[NPY_MAXDIMS];
    char* data = PyArray_BYTES(x);
    int nd = 0, d = 0;
    for (int e = 0; e < n_idx; e++, d++) {
        npy_intp len = PyArray_DIM(x, d), st = PyArray_STRIDE(x, d);
        bool none;
        if (*rd.spec++ == IDX_INT) {
            npy_intp i = (npy_intp)rd.part(&none);
            if (i < -len || i >= len) {
                fail(S, node, PyExc_IndexError, "index %ld is out of bounds for axis %d with size %ld", (long)i, d, (long)len);
                return NULL;
            }
            data += (i < 0 ? i + len : i) * st;
            continue;
        }
        bool n0, n1, n2;
        Py_ssize_t start = rd.part(&n0), stop = rd.part(&n1), step = rd.part(&n2);
        if (n2) step = 1;
        if (step == 0) {
            fail(S, node, PyExc_ValueError, "slice step cannot be zero");
            return NULL;
        }
        if (n0) start = step < 0 ? PY_SSIZE_T_MAX : 0;
        if (n1) stop = step < 0 ? PY_SSIZE_T_MIN : PY_SSIZE_T_MAX;
        Py_ssize_t count = PySlice_AdjustIndices(len, &start, &stop, step);
        dims[nd] = count;
        strides[nd++] = st * step;
        if (count) data += start * st;
    }
    for (; d < PyArray_NDIM(x); d++, nd++) {
        dims[nd] = PyArray_DIM(x, d);
        strides[nd] = PyArray_STRIDE(x, d);
    }
    Arr* v = view(x, nd, dims, strides, data);
    if (!v) refail(S, node);
    return v;
}

// The Python index tuple for NumPy (advanced indexing): ints, slices and index arrays.
static PyObject* index_tuple(int n_idx, const int64_t* spec, Arr* const* syms) {
    IndexReader rd = {spec, syms};
    PyObject* key = PyTuple_New(n_idx);
    for (int e = 0; key && e < n_idx; e++) {
        int64_t kind = *rd.spec++;
        PyObject* item;
        bool none;
        if (kind == IDX_ARRAY) {
            item = (PyObject*)*rd.syms++;
            Py_INCREF(item);
        } else if (kind == IDX_INT) {
            item = PyLong_FromLongLong(rd.part(&none));
        } else {
            PyObject* p[3];
            for (int k = 0; k < 3; k++) {
                int64_t v = rd.part(&none);
                p[k] = none ? (Py_INCREF(Py_None), Py_None) : PyLong_FromLongLong(v);
            }
            item = PySlice_New(p[0], p[1], p[2]);
            for (int k = 0; k < 3; k++) Py_XDECREF(p[k]);
        }
        if (!item) { Py_DECREF(key); return NULL; }
        PyTuple_SET_ITEM(key, e, item);
    }
    return key;
}

static Arr* advanced_subtensor(State* S, int node, Arr* x, int n_idx, const int64_t* spec, Arr* const* syms) {
    Ref key(index_tuple(n_idx, spec, syms));
    PyObject* r = key.p ? PyObject_GetItem((PyObject*)x, key.p) : NULL;
    if (!r) { refail(S, node); return NULL; }
    Arr* a = (Arr*)PyArray_FromAny(r, NULL, 0, 0, NPY_ARRAY_ENSUREARRAY, NULL);
    Py_DECREF(r);
    if (!a) refail(S, node);
    return a;
}

// The length of arange(a, b, s) in *n, when it is computed here exactly (step not zero,
// no overflow); false leaves it to NumPy (its errors and its limits).
static bool int_range_length(int64_t a, int64_t b, int64_t s, npy_intp* n) {
    const int64_t lim = (int64_t)1 << 61;
    if (s == 0 || a > lim || a < -lim || b > lim || b < -lim || s > lim || s < -lim) return false;
    const int64_t span = s > 0 ? b - a : a - b, step = s > 0 ? s : -s;
    *n = span > 0 ? (npy_intp)((span + step - 1) / step) : 0;
    return true;
}

// x[i0, i1, ...] with one integer index vector per axis of x (the cross-entropy pick): do
// all vectors have one length L? Then a gather or scatter below does it; else NumPy does.
static bool points(int n, Arr* const* idx, npy_intp* L) {
    *L = PyArray_DIM(idx[0], 0);
    for (int k = 1; k < n; k++)
        if (PyArray_DIM(idx[k], 0) != *L) return false;
    return true;
}

// The points' index vectors, read once (per point, re-reading each vector's type, data and
// stride and x's shape took 20 cycles: a 60-row cross-entropy pick took 1.3k).
struct Points {
    int n;
    int type[NPY_MAXDIMS];
    const char* data[NPY_MAXDIMS];
    npy_intp step[NPY_MAXDIMS], len[NPY_MAXDIMS], stride[NPY_MAXDIMS];
    Points(Arr* x, int n_, Arr* const* idx) : n(n_) {
        for (int d = 0; d < n; d++) {
            type[d] = PyArray_TYPE(idx[d]);
            data[d] = PyArray_BYTES(idx[d]);
            step[d] = PyArray_STRIDE(idx[d], 0);
            len[d] = PyArray_DIM(x, d);
            stride[d] = PyArray_STRIDE(x, d);
        }
    }
    // The byte offset of point i in x (negative along a negative stride) into *at; false,
    // with IndexError set, when an index is out of bounds.
    bool offset(State* S, int node, npy_intp i, npy_intp* at) const {
        npy_intp off = 0;
        for (int d = 0; d < n; d++) {
            const char* p = data[d] + i * step[d];
            int64_t j;
            switch (type[d]) {
                case NPY_INT8: j = *(const int8_t*)p; break;
                case NPY_UINT8: j = *(const uint8_t*)p; break;
                case NPY_INT16: j = *(const int16_t*)p; break;
                case NPY_UINT16: j = *(const uint16_t*)p; break;
                case NPY_INT32: j = *(const int32_t*)p; break;
                case NPY_UINT32: j = *(const uint32_t*)p; break;
                case NPY_UINT64: j = *(const uint64_t*)p > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)*(const uint64_t*)p; break;
                default: j = *(const int64_t*)p;
            }
            if (j < -len[d] || j >= len[d]) {
                fail(S, node, PyExc_IndexError, "index %ld is out of bounds for axis %d with size %ld", (long)j, d,
                     (long)len[d]);
                return false;
            }
            off += (j < 0 ? j + len[d] : j) * stride[d];
        }
        *at = off;
        return true;
    }
};

template <class T> static int gather(State* S, int node, Arr* x, int n, Arr* const* idx, Arr* out) {
    const Points pts(x, n, idx);
    const char* base = PyArray_BYTES(x);
    T* o = (T*)PyArray_DATA(out);
    for (npy_intp i = 0, L = PyArray_DIM(out, 0); i < L; i++) {
        npy_intp off;
        if (!pts.offset(S, node, i, &off)) return -1;
        o[i] = *(const T*)(base + off);
    }
    return 0;
}

// out[points] += y (or = y), in order, so repeated points accumulate as np.add.at does.
// 1 when y is not a scalar or a vector of the points' length (NumPy does it then).
template <class T> static int scatter(State* S, int node, Arr* out, int n, Arr* const* idx, Arr* y, bool set) {
    npy_intp L = PyArray_DIM(idx[0], 0);
    if (PyArray_NDIM(y) > 1 || (PyArray_NDIM(y) == 1 && PyArray_DIM(y, 0) != L && PyArray_DIM(y, 0) != 1)) return 1;
    Ref yc(PyArray_FromArray(y, PyArray_DescrFromType(PyArray_TYPE(out)), NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST));
    if (!yc.p) return refail(S, node);
    const npy_intp sy = PyArray_NDIM(y) == 1 && PyArray_DIM(y, 0) == L ? PyArray_STRIDE(yc.a(), 0) : 0;
    const Points pts(out, n, idx);
    const char* py = PyArray_BYTES(yc.a());
    char* base = PyArray_BYTES(out);
    for (npy_intp i = 0; i < L; i++) {
        npy_intp off;
        if (!pts.offset(S, node, i, &off)) return -1;
        const T v = *(const T*)(py + i * sy);
        T* t = (T*)(base + off);
        *t = set ? v : (T)(*t + v);
    }
    return 0;
}

// out = a copy of x with x[idx] = y (set) or x[idx] += y (inc; repeated advanced indices
// accumulate, as np.add.at).
static int inc_subtensor(State* S, int node, Arr* out, Arr* x, Arr* y, bool set, bool advanced, int n_idx,
                         const int64_t* spec, Arr* const* syms) {
    if (out != x && copy_into(out, x) < 0) return refail(S, node);
    if (advanced) {
        Ref key(index_tuple(n_idx, spec, syms));
        if (!key.p) return refail(S, node);
        if (set) { if (PyObject_SetItem((PyObject*)out, key.p, (PyObject*)y) < 0) return refail(S, node); }
        else {
            Ref r(PyObject_CallMethod(np_add, "at", "OOO", out, key.p, y));
            if (!r.p) return refail(S, node);
        }
        return 0;
    }
    Ref part(subtensor(S, node, out, n_idx, spec, syms));
    if (!part.p) return -1;
    if (set) { if (copy_into(part.a(), y) < 0) return refail(S, node); }
    else {
        Ref r(PyNumber_InPlaceAdd(part.p, (PyObject*)y));
        if (!r.p) return refail(S, node);
    }
    return 0;
}

// alloc: value broadcast into out; an axis of value only stretches where typed length 1.
static int alloc(State* S, int node, Arr* out, Arr* value, const bool* bcast) {
    int nd = PyArray_NDIM(out), vd = PyArray_NDIM(value);
    if (vd > nd) return fail(S, node, PyExc_ValueError, "cannot broadcast a %d-d value to %d dimensions", vd, nd);
    for (int d = 0; d < vd; d++) {
        npy_intp n = PyArray_DIM(value, d), t = PyArray_DIM(out, nd - vd + d);
        if (n == t) continue;
        if (n != 1)
            return fail(S, node, PyExc_ValueError, "cannot broadcast a value with length %ld on axis %d to length %ld",
                        (long)n, d, (long)t);
        if (!bcast[d])
            return fail(S, node, PyExc_ValueError, "runtime broadcasting is not allowed: the value has length 1 on "
                        "axis %d at run time but is not typed as broadcastable there (the result has length %ld)",
                        d, (long)t);
    }
    if (PyArray_SIZE(out) == 0) return 0;
    if (PyArray_SIZE(value) == 1 && PyArray_ISNUMBER(out)) {
        npy_intp item = PyArray_ITEMSIZE(out), n = PyArray_SIZE(out);
        char* o = PyArray_BYTES(out);
        const char* src = PyArray_BYTES(value);
        bool zero = true;
        for (npy_intp b = 0; b < item; b++) zero = zero && src[b] == 0;
        if (zero) { memset(o, 0, n * item); return 0; }
        for (npy_intp i = 0; i < n; i++) memcpy(o + i * item, src, item);
        return 0;
    }
    return copy_into(out, value) < 0 ? refail(S, node) : 0;
}

// concatenate: out's slabs along `axis` receive the inputs in turn (cast to out's dtype).
static int join(State* S, int node, Arr* out, int n, Arr* const* xs, int axis) {
    int nd = PyArray_NDIM(out);
    npy_intp at = 0;
    for (int k = 0; k < n; k++) {
        npy_intp len = PyArray_DIM(xs[k], axis);
        npy_intp dims[NPY_MAXDIMS];
        memcpy(dims, PyArray_DIMS(out), nd * sizeof(npy_intp));
        dims[axis] = len;
        Ref slab(view(out, nd, dims, PyArray_STRIDES(out), PyArray_BYTES(out) + at * PyArray_STRIDE(out, axis)));
        if (!slab.p || copy_into(slab.a(), xs[k]) < 0) return refail(S, node);
        at += len;
    }
    return 0;
}

// The output shape of join, checking that the inputs agree off the axis.
static int join_shape(State* S, int node, int n, Arr* const* xs, int axis, npy_intp* dims) {
    int nd = PyArray_NDIM(xs[0]);
    memcpy(dims, PyArray_DIMS(xs[0]), nd * sizeof(npy_intp));
    dims[axis] = 0;
    for (int k = 0; k < n; k++) {
        for (int d = 0; d < nd; d++)
            if (d != axis && PyArray_DIM(xs[k], d) != dims[d])
                return fail(S, node, PyExc_ValueError, "concatenate: input %d has length %ld on axis %d, input 0 has %ld",
                            k, (long)PyArray_DIM(xs[k], d), d, (long)dims[d]);
        dims[axis] += PyArray_DIM(xs[k], axis);
    }
    return 0;
}

template <class T> static void eye(Arr* out, int64_t k) {
    npy_intp n = PyArray_DIM(out, 0), m = PyArray_DIM(out, 1);
    T* o = (T*)PyArray_DATA(out);
    memset(o, 0, n * m * sizeof(T));
    for (npy_intp i = 0; i < n; i++)
        if (i + k >= 0 && i + k < m) o[i * m + i + k] = (T)1;
}

}  // namespace symnb
