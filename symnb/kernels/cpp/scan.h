// Loops of Scan nodes (render_scan.py, stage "program"): the body reads its rows through
// views made once and moved along their arrays, and each step's results are copied into
// state buffers allocated once per call, so a step allocates no array memory of its own.
#pragma once
#include "runtime.h"

namespace symnb {

// A view of row 0 of `a` (one dimension less), moved to other rows with set_row.
static Arr* row_view(Arr* a) {
    PyArray_Descr* d = PyArray_DESCR(a);
    Py_INCREF(d);
    Arr* r = (Arr*)PyArray_NewFromDescr(&PyArray_Type, d, PyArray_NDIM(a) - 1, PyArray_DIMS(a) + 1,
                                        PyArray_STRIDES(a) + 1, PyArray_BYTES(a),
                                        PyArray_FLAGS(a) & NPY_ARRAY_WRITEABLE, NULL);
    if (!r) return NULL;
    Py_INCREF(a);
    if (PyArray_SetBaseObject(r, (PyObject*)a) < 0) { Py_DECREF(r); return NULL; }
    PyArray_UpdateFlags(r, NPY_ARRAY_UPDATE_ALL);
    return r;
}

// Every row of an array starts where row 0 would with i rows added: same alignment and
// layout, so the view's flags stay true.
static inline void set_row(Arr* r, Arr* a, npy_intp i) {
    ((PyArrayObject_fields*)r)->data = PyArray_BYTES(a) + i * PyArray_STRIDE(a, 0);
}

// The first `rows` rows of `a` as a new view.
static Arr* head(Arr* a, npy_intp rows) {
    npy_intp dims[NPY_MAXDIMS];
    memcpy(dims, PyArray_DIMS(a), PyArray_NDIM(a) * sizeof(npy_intp));
    dims[0] = rows;
    PyArray_Descr* d = PyArray_DESCR(a);
    Py_INCREF(d);
    Arr* h = (Arr*)PyArray_NewFromDescr(&PyArray_Type, d, PyArray_NDIM(a), dims, PyArray_STRIDES(a),
                                        PyArray_BYTES(a), PyArray_FLAGS(a) & NPY_ARRAY_WRITEABLE, NULL);
    if (!h) return NULL;
    Py_INCREF(a);
    if (PyArray_SetBaseObject(h, (PyObject*)a) < 0) { Py_DECREF(h); return NULL; }
    PyArray_UpdateFlags(h, NPY_ARRAY_UPDATE_ALL);
    return h;
}

// Copy `src` into row i of `buf` through its row view `r`; the shapes must be equal (the
// body's value at step t, `what`, against `want`).
static int put_row(State* S, int node, Arr* r, Arr* buf, npy_intp i, Arr* src, const char* what,
                   const char* want, int64_t t) {
    set_row(r, buf, i);
    const int nd = PyArray_NDIM(r);
    if (PyArray_NDIM(src) != nd || memcmp(PyArray_DIMS(src), PyArray_DIMS(r), nd * sizeof(npy_intp)) != 0) {
        char got[160], exp[160];
        shape_str(got, sizeof got, PyArray_NDIM(src), PyArray_DIMS(src));
        shape_str(exp, sizeof exp, nd, PyArray_DIMS(r));
        return fail(S, node, PyExc_ValueError, "%s of the body has shape %s at step %lld, but %s has shape %s", what,
                    got, (long long)t, want, exp);
    }
    if (PyArray_TYPE(src) == PyArray_TYPE(r) && PyArray_IS_C_CONTIGUOUS(src) && PyArray_IS_C_CONTIGUOUS(r)) {
        memmove(PyArray_DATA(r), PyArray_DATA(src), PyArray_NBYTES(r));
        return 0;
    }
    return PyArray_CopyInto(r, src) < 0 ? refail(S, node) : 0;
}

// Rows 0 .. rows-1 of `dst` from `src` (an initial state's rows).
static int put_head(State* S, int node, Arr* dst, Arr* src) {
    Ref h(head(dst, PyArray_DIM(src, 0)));
    if (!h.p) return -1;
    return PyArray_CopyInto(h.a(), src) < 0 ? refail(S, node) : 0;
}

}  // namespace symnb
