// The reusable buffers of a generated module's node outputs (stage "program"), one slot and
// its spare per allocating output, planned once and reused while shapes do not change.
#pragma once
#include "runtime.h"

namespace symnb {

// The buffer of one node output: last call's array when only the slot holds it and the
// shape is unchanged (big arrays are not page-faulted in again), else a fresh one. slot[1]
// is its spare: when last call's array is still held (it became a shared variable's value,
// or the caller kept it), the one before it may be free again, and the two take turns.
//
// `at` (0-63, or -1 for anywhere): where in its cache line the buffer's data should start,
// from line_at. An elementwise loop aligns its steps to its output; an input that starts
// elsewhere in its line splits every load across two lines. NumPy's arrays start anywhere
// 16 bytes apart: 2*a+3*b over 50k float32 in one core's L2 took 13.3k cycles with both
// inputs off the output's alignment, 12.1k with all three alike. Buffers of PLACED bytes or
// more are placed there, as views into an array 64 bytes longer; when `at` moves, the view
// moves and the memory stays (a fresh multi-megabyte buffer page-faults in again).
enum { PLACED = 1 << 15 };
// (A view of a placed buffer has the buffer's base as its base, not the buffer: NumPy skips
// arrays that do not own their data. So a placed buffer is free only when its base is too.)
static inline bool reusable(Arr* b, int nd, const npy_intp* dims) {
    return b && Py_REFCNT(b) == 1 && (!PyArray_BASE(b) || Py_REFCNT(PyArray_BASE(b)) == 1) &&
           PyArray_NDIM(b) == nd && (nd == 0 || memcmp(PyArray_DIMS(b), dims, nd * sizeof(npy_intp)) == 0);
}
static inline bool placed(Arr* b, int at) {
    return at < 0 || PyArray_NBYTES(b) < PLACED || (int)((uintptr_t)PyArray_DATA(b) % 64) == at;
}

// Where `like` (an operand's data) starts in its cache line, when that suits elements of
// `item` bytes; -1 otherwise.
static inline int line_at(const void* like, size_t item) {
    const int at = (int)((uintptr_t)like % 64);
    return at % item == 0 ? at : -1;
}

// A C-contiguous view of `raw` (steals the reference) at `at` in a line; NULL and raw
// released on failure.
static Arr* view_at(Arr* raw, PyArray_Descr* d, int nd, const npy_intp* dims, int at) {
    char* p = PyArray_BYTES(raw);
    p += (at - (int)((uintptr_t)p % 64) + 64) % 64;
    Arr* a = (Arr*)PyArray_NewFromDescr(&PyArray_Type, d, nd, (npy_intp*)dims, NULL, p, NPY_ARRAY_CARRAY, NULL);
    if (!a) { Py_DECREF(raw); return NULL; }
    if (PyArray_SetBaseObject(a, (PyObject*)raw) < 0) { Py_DECREF(a); return NULL; }   // (steals raw)
    return a;
}

// A fresh C-contiguous array, placed at `at` when that is asked and it is big.
static Arr* fresh_array(int nd, const npy_intp* dims, int typenum, int at) {
    PyArray_Descr* d = PyArray_DescrFromType(typenum);
    if (!d) return NULL;
    npy_intp len = PyArray_MultiplyList((npy_intp*)dims, nd) * PyDataType_ELSIZE(d) + 64;
    if (at < 0 || len - 64 < PLACED) return (Arr*)PyArray_Empty(nd, (npy_intp*)dims, d, 0);   // (steals d)
    Arr* raw = (Arr*)PyArray_EMPTY(1, &len, NPY_UINT8, 0);
    if (!raw) { Py_DECREF(d); return NULL; }
    return view_at(raw, d, nd, dims, at);
}

// *p reusable for this shape (held by the slot alone, its memory too), and at `at` or
// moved there.
static bool take(Arr** p, int nd, const npy_intp* dims, int at) {
    Arr* b = *p;
    if (!reusable(b, nd, dims)) return false;
    if (placed(b, at)) return true;
    Arr* raw = (Arr*)PyArray_BASE(b);
    if (!raw || !PyArray_Check(raw) || PyArray_NBYTES(raw) != PyArray_NBYTES(b) + 64) return false;
    Py_INCREF(raw);
    Py_INCREF(PyArray_DESCR(b));
    Arr* moved = view_at(raw, PyArray_DESCR(b), nd, dims, at);
    if (!moved) { PyErr_Clear(); return false; }
    Py_DECREF(b);
    *p = moved;
    return true;
}

static Arr* buffer(Arr** slot, int nd, const npy_intp* dims, int typenum, int at = -1) {
    Arr* b = *slot;
    if (take(slot, nd, dims, at)) {
        Py_INCREF(*slot);
        return *slot;
    }
    if (b && take(slot + 1, nd, dims, at)) {     // swap in the spare
        *slot = slot[1];
        slot[1] = b;
        Py_INCREF(*slot);
        return *slot;
    }
    for (int d = 0; d < nd; d++)
        if (dims[d] < 0) {
            PyErr_SetString(PyExc_ValueError, "negative dimensions are not allowed");
            return NULL;
        }
    Arr* fresh = fresh_array(nd, dims, typenum, at);
    if (!fresh) return NULL;
    Py_XDECREF(slot[1]);
    slot[1] = b;                                  // still held elsewhere: kept as the spare
    Py_INCREF(fresh);
    *slot = fresh;
    return fresh;
}

// Was `a` allocated by this call's buffers (so a node may write over it)?
static bool owned(State* S, Arr* a) {
    for (Py_ssize_t k = 0; k < S->n_slots; k += 2)      // buffers, not their spares
        if (S->slots[k] == a) return true;
    return false;
}

// A new 0-d array or vector (slot-reused) holding int64 values.
static Arr* int_vector(Arr** slot, int n, const int64_t* vals) {
    npy_intp dims[1] = {n};
    Arr* out = buffer(slot, 1, dims, NPY_INT64);
    if (out) memcpy(PyArray_DATA(out), vals, n * sizeof(int64_t));
    return out;
}

}  // namespace symnb
