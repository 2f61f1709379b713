// Runtime support for generated symnb modules (stage "program"): the per-function state,
// argument checks at the boundary, views, aliasing tests, errors naming the node and Python
// fallbacks; the nodes' reusable buffers are in buffers.h.
#pragma once
#define PY_SSIZE_T_CLEAN
// A module may be built from two translation units (renderer.py, SPLIT): NumPy's function
// table is then one symbol, set by import_array in the first (the second defines
// NO_IMPORT_ARRAY), and the globals below are `inline`, one object for the whole module.
#define PY_ARRAY_UNIQUE_SYMBOL symnb_PyArray_API
#include <Python.h>
#include <numpy/arrayobject.h>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include "pool.h"

#if NPY_ABI_VERSION < 0x02000000   // NumPy 1.x headers
#define PyDataType_ELSIZE(d) ((d)->elsize)
#endif

#define SYMNB_STR2(x) #x
#define SYMNB_STR(x) SYMNB_STR2(x)
#define SYMNB_CAT2(a, b) a##b
#define SYMNB_CAT(a, b) SYMNB_CAT2(a, b)

namespace symnb {

typedef PyArrayObject Arr;

// Everything that differs between two functions sharing one generated module.
struct State {
    PyObject* consts;      // tuple of read-only arrays
    PyObject* fallbacks;   // tuple of callables: a node's reference implementation
    PyObject* wheres;      // tuple of str: "op\n  built at file, line: source" per node
    PyObject* labels;      // tuple of str: one per graph input (user inputs, then shared)
    PyObject* containers;  // tuple of lists: the shared variables' storage
    PyObject* retry;       // exception class: "convert the arguments in Python and call again"
    Arr** slots;           // one reusable buffer per allocating node output
    Py_ssize_t n_slots;
    // Set by bind() for sn.Function's fast path: which outputs are update values.
    int bound, n_out, single, n_upd;
    int* upd_target;       // the shared variable each update value is stored in
    npy_intp* upd_shape;   // static shapes of those variables, concatenated (-1: unknown)
};

// What a generated module declares about its function (module.h reads it).
struct Info {
    int n_user, n_shared, n_vars, n_outputs, n_slots, n_destroy;
    const int* in_types;        // NumPy type number of each graph input
    const int* in_ndim;
    const npy_intp* in_shape;   // static shapes, concatenated (-1: unknown)
    const int* out_idx;         // v[] index of each graph output
    const int* destroy_idx;     // graph inputs (shared variables) some node may overwrite ...
    const int* destroy_out;     // ... if this graph output is that variable's update
};

// NumPy objects the generated code calls (exact NumPy semantics where it matters).
inline PyObject* np_add;      // np.add (add.at for advanced inc_subtensor)
inline PyObject* np_ufuncs;   // tuple (log, cos, sin): normal draws use NumPy's own bits

// ------------------------------------------------------------------------------ errors
static const char* where(State* S, int node) {
    return PyUnicode_AsUTF8(PyTuple_GET_ITEM(S->wheres, node));
}

// Raise `type` with a formatted message and the node's description; returns -1.
static int fail(State* S, int node, PyObject* type, const char* fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    PyErr_Format(type, "%s\n  while computing %s", msg, where(S, node));
    return -1;
}

// Append the node's description to the pending exception (from a NumPy call); returns -1.
static int refail(State* S, int node) {
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    bool plain = t == PyExc_ValueError || t == PyExc_IndexError || t == PyExc_TypeError ||
                 t == PyExc_ZeroDivisionError || t == PyExc_OverflowError;
    PyObject* text = plain && v ? PyObject_Str(v) : NULL;
    if (!text) { PyErr_Restore(t, v, tb); return -1; }
    PyErr_Format(t, "%U\n  while computing %s", text, where(S, node));
    Py_DECREF(text); Py_XDECREF(t); Py_XDECREF(v); Py_XDECREF(tb);
    return -1;
}

static void shape_str(char* buf, size_t n, int nd, const npy_intp* dims, bool symbolic = false) {
    size_t k = snprintf(buf, n, "(");
    for (int d = 0; d < nd && k < n; d++)
        k += (symbolic && dims[d] < 0) ? snprintf(buf + k, n - k, d ? ", ?" : "?")
                                       : snprintf(buf + k, n - k, d ? ", %ld" : "%ld", (long)dims[d]);
    if (k < n) snprintf(buf + k, n - k, nd == 1 ? ",)" : ")");
}

// ------------------------------------------------------------------------------ RAII
// New references released at scope exit, also when an error returns early.
struct Keep {   // up to 512 of them, released together
    PyObject* p[512];
    int n = 0;
    ~Keep() { while (n) Py_DECREF(p[--n]); }
    Arr* add(Arr* a) { if (a && n < 512) p[n++] = (PyObject*)a; return a; }
};

struct Ref {    // one of them
    PyObject* p;
    explicit Ref(void* q = NULL) : p((PyObject*)q) {}
    ~Ref() { Py_XDECREF(p); }
    Ref(const Ref&) = delete;
    Ref& operator=(const Ref&) = delete;
    Arr* a() const { return (Arr*)p; }
    void reset(void* q) { Py_XDECREF(p); p = (PyObject*)q; }
};

// ------------------------------------------------------------------------------ inputs
static bool same_dtype(PyArray_Descr* d, int typenum) {
    PyArray_Descr* e = PyArray_DescrFromType(typenum);
    bool ok = (PyTypeNum_ISNUMBER(d->type_num) || PyTypeNum_ISBOOL(d->type_num)) && d->kind == e->kind &&
              PyDataType_ELSIZE(d) == PyDataType_ELSIZE(e);
    Py_DECREF(e);
    return ok;
}

// A value for a typed graph input: 0 with a new reference in *out, 1 when Python should
// convert it first (wrong kind of object, dtype, ndim or static shape), -1 on error.
// Byte-swapped and misaligned arrays are copied; any strides (negative, zero) are kept.
static int arg(PyObject* o, int typenum, int nd, const npy_intp* shape, Arr** out) {
    if (!PyArray_Check(o)) {
        if (nd != 0) return 1;
        if (PyFloat_CheckExact(o) && typenum == NPY_FLOAT64) {
            double x = PyFloat_AS_DOUBLE(o);
            Arr* a = (Arr*)PyArray_SimpleNew(0, NULL, NPY_FLOAT64);
            if (!a) return -1;
            *(double*)PyArray_DATA(a) = x;
            *out = a;
            return 0;
        }
        if (PyLong_CheckExact(o) && (typenum == NPY_INT64 || typenum == NPY_FLOAT64 || typenum == NPY_INT32)) {
            int overflow = 0;
            long long x = PyLong_AsLongLongAndOverflow(o, &overflow);
            if (overflow || (x == -1 && PyErr_Occurred())) { PyErr_Clear(); return 1; }
            if (typenum == NPY_INT32 && (x < INT32_MIN || x > INT32_MAX)) return 1;
            Arr* a = (Arr*)PyArray_SimpleNew(0, NULL, typenum);
            if (!a) return -1;
            if (typenum == NPY_INT64) *(int64_t*)PyArray_DATA(a) = x;
            else if (typenum == NPY_INT32) *(int32_t*)PyArray_DATA(a) = (int32_t)x;
            else *(double*)PyArray_DATA(a) = (double)x;
            *out = a;
            return 0;
        }
        if (PyArray_IsScalar(o, Generic)) {     // np.float64(x) and the like, of the input's dtype
            PyArray_Descr* d = PyArray_DescrFromScalar(o);
            const bool same = d && same_dtype(d, typenum) && PyArray_ISNBO(d->byteorder);
            Py_XDECREF(d);
            if (!same) { PyErr_Clear(); return 1; }
            *out = (Arr*)PyArray_FromScalar(o, NULL);
            return *out ? 0 : -1;
        }
        return 1;
    }
    Arr* a = (Arr*)o;
    if (PyArray_NDIM(a) != nd || !same_dtype(PyArray_DESCR(a), typenum)) return 1;
    for (int d = 0; d < nd; d++)
        if (shape[d] >= 0 && PyArray_DIM(a, d) != shape[d]) return 1;
    if (PyArray_ISALIGNED(a) && PyArray_ISNOTSWAPPED(a)) {
        Py_INCREF(a);
        *out = a;
        return 0;
    }
    *out = (Arr*)PyArray_FromArray(a, PyArray_DescrFromType(typenum), NPY_ARRAY_CARRAY);
    return *out ? 0 : -1;
}

// ------------------------------------------------------------------------------ memory
// [lo, hi) bytes an array may touch; empty arrays touch nothing.
static bool extent(Arr* a, char** lo, char** hi) {
    char *l = PyArray_BYTES(a), *h = l;
    for (int d = 0; d < PyArray_NDIM(a); d++) {
        npy_intp n = PyArray_DIM(a, d), s = PyArray_STRIDE(a, d);
        if (n == 0) return false;
        if (s > 0) h += s * (n - 1); else l += s * (n - 1);
    }
    *lo = l;
    *hi = h + PyArray_ITEMSIZE(a);
    return true;
}

static bool overlap(Arr* a, Arr* b) {
    char *la, *ha, *lb, *hb;
    if (!extent(a, &la, &ha) || !extent(b, &lb, &hb)) return false;
    return la < hb && lb < ha;
}

// A C-contiguous version of `a` (a itself when it already is). New reference.
static Arr* contiguous(Arr* a) {
    if (PyArray_IS_C_CONTIGUOUS(a)) { Py_INCREF(a); return a; }
    return (Arr*)PyArray_NewCopy(a, NPY_CORDER);
}

// A view of base's memory. New reference; writeable only if base is.
static Arr* view(Arr* base, int nd, const npy_intp* dims, const npy_intp* strides, char* data) {
    PyArray_Descr* descr = PyArray_DESCR(base);
    Py_INCREF(descr);
    Arr* v = (Arr*)PyArray_NewFromDescr(&PyArray_Type, descr, nd, (npy_intp*)dims, (npy_intp*)strides, data,
                                        PyArray_FLAGS(base) & NPY_ARRAY_WRITEABLE, NULL);
    if (!v) return NULL;
    Py_INCREF(base);
    if (PyArray_SetBaseObject(v, (PyObject*)base) < 0) { Py_DECREF(v); return NULL; }
    return v;
}

// ------------------------------------------------------------------------------ broadcasting
static bool same_dims(Arr* a, int nd, const npy_intp* dims) {
    return PyArray_NDIM(a) == nd && (nd == 0 || memcmp(PyArray_DIMS(a), dims, nd * sizeof(npy_intp)) == 0);
}

// PyArray_CopyInto, a memmove when both are C-contiguous arrays of one dtype and shape
// (NumPy's copy machinery costs about a microsecond even for 600 elements).
static int copy_into(Arr* dst, Arr* src) {
    if (dst == src) return 0;
    if (PyArray_IS_C_CONTIGUOUS(dst) && PyArray_IS_C_CONTIGUOUS(src) &&
        PyArray_EquivTypes(PyArray_DESCR(dst), PyArray_DESCR(src)) && PyArray_ISNBO(PyArray_DESCR(src)->byteorder) &&
        same_dims(src, PyArray_NDIM(dst), PyArray_DIMS(dst)) && PyArray_ISWRITEABLE(dst)) {
        memmove(PyArray_DATA(dst), PyArray_DATA(src), (size_t)PyArray_NBYTES(src));
        return 0;
    }
    return PyArray_CopyInto(dst, src);
}

// The shape of an elementwise result. Broadcasting is static: an operand's axis stretches
// only if typed as length 1 (bcast[k * 32 + axis]), as the reference checks.
static int broadcast(State* S, int node, int nd, npy_intp* out, int nin, Arr* const* ins, const signed char* bcast) {
    for (int d = 0; d < nd; d++) {
        out[d] = 1;
        for (int k = 0; k < nin; k++) {
            int kd = d - (nd - PyArray_NDIM(ins[k]));
            npy_intp n = kd < 0 ? 1 : PyArray_DIM(ins[k], kd);
            if (n == 1) continue;
            if (out[d] == 1) out[d] = n;
            else if (n != out[d])
                return fail(S, node, PyExc_ValueError, "shapes do not match on axis %d: lengths %ld and %ld", d,
                            (long)out[d], (long)n);
        }
        for (int k = 0; k < nin; k++) {
            int kd = d - (nd - PyArray_NDIM(ins[k]));
            if (kd >= 0 && PyArray_DIM(ins[k], kd) == 1 && out[d] != 1 && !bcast[k * 32 + kd])
                return fail(S, node, PyExc_ValueError, "runtime broadcasting is not allowed: input %d has length 1 "
                            "on axis %d at run time but is not typed as broadcastable there (the result has length "
                            "%ld); give it a static length 1 there (dimshuffle/expand_dims) or use alloc", k, kd,
                            (long)out[d]);
        }
    }
    return 0;
}

// Rows of a broadcast elementwise loop: operands' byte strides over the output's axes (0
// where an operand stretches), length-1 axes dropped and contiguous runs merged; the last
// axis is the inner loop, row(r) gives every operand's pointer at the start of row r.
// Elements [j0, j0 + cnt) of a row with byte stride `inner` into the buffer g, and back.
// How a loop over short rows reads an operand in blocks of whole rows (render_elemwise,
// tiled): 0 the array itself (C-contiguous, full size), 1 one row repeated (a bias), 2 one
// value per row (a keepdims sum), 3 not that way.
static inline int tile_kind(Arr* a, npy_intp n, npy_intp rows, npy_intp len, npy_intp inner, npy_intp item) {
    if (!PyArray_IS_C_CONTIGUOUS(a)) return 3;
    const npy_intp size = PyArray_SIZE(a);
    if (size == n) return 0;
    if (size == len && inner == item) return 1;
    if (size == rows && inner == 0) return 2;
    return 3;
}
template <class T> __attribute__((noinline)) static void tile_row(T* t, const T* row, npy_intp len, npy_intp G) {
    for (npy_intp q = 0; q < G; q++) memcpy(t + q * len, row, (size_t)len * sizeof(T));
}
template <class T> __attribute__((noinline)) static void tile_col(T* t, const T* col, npy_intp len, npy_intp nr) {
    for (npy_intp q = 0; q < nr; q++)
        for (npy_intp j = 0; j < len; j++) t[q * len + j] = col[q];
}

template <class T> __attribute__((noinline)) static void gather_row(T* g, const char* p, npy_intp j0, npy_intp cnt, npy_intp inner) {
    if (inner == (npy_intp)sizeof(T)) {
        const T* q = (const T*)p + j0;
        #pragma omp simd
        for (npy_intp j = 0; j < cnt; j++) g[j] = q[j];
    } else if (inner == 0) {
        const T x = *(const T*)p;
        #pragma omp simd
        for (npy_intp j = 0; j < cnt; j++) g[j] = x;
    } else {
        for (npy_intp j = 0; j < cnt; j++) g[j] = *(const T*)(p + (j0 + j) * inner);
    }
}
template <class T> __attribute__((noinline)) static void scatter_row(const T* s, char* p, npy_intp j0, npy_intp cnt, npy_intp inner) {
    if (inner == (npy_intp)sizeof(T)) {
        T* q = (T*)p + j0;
        #pragma omp simd
        for (npy_intp j = 0; j < cnt; j++) q[j] = s[j];
    } else {
        for (npy_intp j = 0; j < cnt; j++) *(T*)(p + (j0 + j) * inner) = s[j];
    }
}

struct Strided {
    enum { MAXOPS = 64 };
    int nops = 0, nd = 0;
    npy_intp dim[NPY_MAXDIMS], st[MAXOPS][NPY_MAXDIMS], inner[MAXOPS], len = 1, rows = 1;
    char* base[MAXOPS];
    __attribute__((noinline)) void init(int ndim, const npy_intp* dims, int n, Arr* const* ops) {
        nops = n;
        int m = 0;
        for (int a = 0; a < ndim; a++) {
            if (dims[a] == 1) continue;
            bool merge = m > 0;
            for (int k = 0; k < n; k++) {
                int kd = a - (ndim - PyArray_NDIM(ops[k]));
                st[k][m] = (kd < 0 || PyArray_DIM(ops[k], kd) == 1) ? 0 : PyArray_STRIDE(ops[k], kd);
                merge = merge && st[k][m - 1] == st[k][m] * dims[a];
            }
            if (merge) {
                dim[m - 1] *= dims[a];
                for (int k = 0; k < n; k++) st[k][m - 1] = st[k][m];
            } else {
                dim[m++] = dims[a];
            }
        }
        for (int k = 0; k < n; k++) {
            base[k] = PyArray_BYTES(ops[k]);
            inner[k] = m ? st[k][m - 1] : 0;
        }
        len = m ? dim[m - 1] : 1;
        nd = m ? m - 1 : 0;
        rows = 1;
        for (int a = 0; a < nd; a++) rows *= dim[a];
    }
    // The operands' pointers at the start of row r (idx: its index over the outer dims).
    __attribute__((noinline)) void seek(npy_intp r, npy_intp* idx, char** p) const {
        for (int a = nd - 1; a >= 0; a--) { idx[a] = r % dim[a]; r /= dim[a]; }
        for (int k = 0; k < nops; k++) {
            char* q = base[k];
            for (int a = 0; a < nd; a++) q += idx[a] * st[k][a];
            p[k] = q;
        }
    }
    void row(npy_intp r, char** p) const { npy_intp idx[NPY_MAXDIMS]; seek(r, idx, p); }
};

// ------------------------------------------------------------------------------ scalars
template <class T> static inline T get(Arr* a) { return *(const T*)PyArray_DATA(a); }

// An integer-valued 0-d array of any integer dtype as int64 (shape entries, indices).
static int64_t get_int(Arr* a) {
    const void* p = PyArray_DATA(a);
    switch (PyArray_TYPE(a)) {
        case NPY_BOOL: return *(const npy_bool*)p;
        case NPY_INT8: return *(const int8_t*)p;
        case NPY_UINT8: return *(const uint8_t*)p;
        case NPY_INT16: return *(const int16_t*)p;
        case NPY_UINT16: return *(const uint16_t*)p;
        case NPY_INT32: return *(const int32_t*)p;
        case NPY_UINT32: return *(const uint32_t*)p;
        case NPY_UINT64: return (int64_t)*(const uint64_t*)p;
        default: return *(const int64_t*)p;
    }
}

// Element i of an int64 vector (shape vectors).
static inline int64_t at_i64(Arr* a, npy_intp i) {
    return *(const int64_t*)(PyArray_BYTES(a) + i * PyArray_STRIDE(a, 0));
}

// ------------------------------------------------------------------------------ fallback
// Run node `node` through its reference implementation (callable `fb`); each result must
// have the dtype, ndim and static shape the graph promised.
static int fallback(State* S, int node, int fb, int nin, Arr* const* ins, int nout, Arr** outs,
                    const int* types, const int* ndims, const npy_intp* shapes) {
    PyObject* args[64];
    if (nin > 64) return fail(S, node, PyExc_RuntimeError, "too many inputs for a Python fallback");
    for (int k = 0; k < nin; k++) args[k] = (PyObject*)ins[k];
    Ref r(PyObject_Vectorcall(PyTuple_GET_ITEM(S->fallbacks, fb), args, nin, NULL));
    if (!r.p) return -1;
    if (!PyTuple_Check(r.p) || PyTuple_GET_SIZE(r.p) != nout)
        return fail(S, node, PyExc_TypeError, "the reference implementation returned %d values, expected %d",
                    PyTuple_Check(r.p) ? (int)PyTuple_GET_SIZE(r.p) : -1, nout);
    for (int k = 0; k < nout; shapes += ndims[k], k++) {
        Arr* a = (Arr*)PyArray_FromAny(PyTuple_GET_ITEM(r.p, k), PyArray_DescrFromType(types[k]), 0, 0,
                                       NPY_ARRAY_ALIGNED | NPY_ARRAY_NOTSWAPPED, NULL);
        if (!a) return refail(S, node);
        outs[k] = a;
        if (PyArray_NDIM(a) != ndims[k])
            return fail(S, node, PyExc_TypeError, "output %d has %d dimensions, expected %d", k,
                        PyArray_NDIM(a), ndims[k]);
        for (int d = 0; d < ndims[k]; d++)
            if (shapes[d] >= 0 && PyArray_DIM(a, d) != shapes[d])
                return fail(S, node, PyExc_ValueError, "output %d has length %ld on axis %d, expected %ld", k,
                            (long)PyArray_DIM(a, d), d, (long)shapes[d]);
    }
    return 0;
}

}  // namespace symnb

#include "buffers.h"
