// Runtime support for generated symnb modules: input checks, reusable buffers, errors,
// NumPy-exact scalar helpers and BLAS entry points. Included by every generated module
// (and hashed into its cache key).
#pragma once
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <numpy/arrayobject.h>
#include <cmath>
#include <cstdint>
#include <cstring>

// glibc's vector math library: SIMD variants of these let `omp simd` loops vectorize them.
extern "C" {
#define SYMNB_SIMD(f) __attribute__((simd("notinbranch"))) double f(double); \
                      __attribute__((simd("notinbranch"))) float f##f(float);
SYMNB_SIMD(exp) SYMNB_SIMD(log) SYMNB_SIMD(sin) SYMNB_SIMD(cos) SYMNB_SIMD(tan) SYMNB_SIMD(expm1)
SYMNB_SIMD(log1p) SYMNB_SIMD(log2) SYMNB_SIMD(log10) SYMNB_SIMD(exp2) SYMNB_SIMD(sinh) SYMNB_SIMD(cosh)
SYMNB_SIMD(tanh) SYMNB_SIMD(asin) SYMNB_SIMD(acos) SYMNB_SIMD(atan) SYMNB_SIMD(asinh) SYMNB_SIMD(acosh)
SYMNB_SIMD(atanh) SYMNB_SIMD(erf) SYMNB_SIMD(erfc)
#undef SYMNB_SIMD
}

#define SYMNB_STR2(x) #x
#define SYMNB_STR(x) SYMNB_STR2(x)
#define SYMNB_CAT2(a, b) a##b
#define SYMNB_CAT(a, b) SYMNB_CAT2(a, b)

typedef int64_t blasint;
enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
typedef void (*gemm_d_t)(int, int, int, blasint, blasint, blasint, double, const double*, blasint,
                         const double*, blasint, double, double*, blasint);
typedef void (*gemm_s_t)(int, int, int, blasint, blasint, blasint, float, const float*, blasint,
                         const float*, blasint, float, float*, blasint);
typedef void (*gemv_d_t)(int, int, blasint, blasint, double, const double*, blasint, const double*, blasint,
                         double, double*, blasint);
typedef void (*gemv_s_t)(int, int, blasint, blasint, float, const float*, blasint, const float*, blasint,
                         float, float*, blasint);
typedef double (*dot_d_t)(blasint, const double*, blasint, const double*, blasint);
typedef float (*dot_s_t)(blasint, const float*, blasint, const float*, blasint);
static gemm_d_t blas_dgemm; static gemm_s_t blas_sgemm;
static gemv_d_t blas_dgemv; static gemv_s_t blas_sgemv;
static dot_d_t blas_ddot; static dot_s_t blas_sdot;

// Raise `type` with the node's description (op, user line) appended.
static void symnb_raise(PyObject* type, const char* where, const char* msg) {
    PyErr_Format(type, "%s\n  while computing %s", msg, where);
}

// A C-contiguous, aligned array of exactly this dtype/ndim for argument k (new reference).
static PyArrayObject* symnb_input(PyObject* o, int k, const char* name, int typenum, int nd,
                                  const npy_intp* static_shape) {
    if (!PyArray_Check(o)) {
        PyErr_Format(PyExc_TypeError, "input %d (%s): expected a NumPy array, got %s", k, name,
                     Py_TYPE(o)->tp_name);
        return NULL;
    }
    PyArrayObject* a = (PyArrayObject*)o;
    if (PyArray_TYPE(a) != typenum || PyArray_NDIM(a) != nd) {
        PyErr_Format(PyExc_TypeError, "input %d (%s): expected dtype %s with ndim=%d, got %s with ndim=%d",
                     k, name, PyArray_DescrFromType(typenum)->typeobj->tp_name, nd,
                     PyArray_DESCR(a)->typeobj->tp_name, PyArray_NDIM(a));
        return NULL;
    }
    for (int d = 0; d < nd; d++) {
        if (static_shape[d] >= 0 && PyArray_DIM(a, d) != static_shape[d]) {
            PyErr_Format(PyExc_ValueError, "input %d (%s): axis %d has length %ld, expected %ld", k, name, d,
                         (long)PyArray_DIM(a, d), (long)static_shape[d]);
            return NULL;
        }
    }
    // Byte-swapped, misaligned or strided arrays are copied; the common case is a new reference.
    return (PyArrayObject*)PyArray_FromArray(a, PyArray_DescrFromType(typenum), NPY_ARRAY_CARRAY);
}

// A buffer for a node output: the one from the previous call when nobody else holds it and
// the shape is unchanged (no page faults for big arrays), else a fresh one. New reference.
static PyArrayObject* symnb_buffer(PyArrayObject** slot, int nd, const npy_intp* dims, int typenum) {
    PyArrayObject* b = *slot;
    if (b && Py_REFCNT(b) == 1 && PyArray_NDIM(b) == nd && memcmp(PyArray_DIMS(b), dims, nd * sizeof(npy_intp)) == 0) {
        Py_INCREF(b);
        return b;
    }
    Py_XDECREF(b);
    *slot = (PyArrayObject*)PyArray_EMPTY(nd, (npy_intp*)dims, typenum, 0);
    Py_XINCREF(*slot);
    return *slot;
}

// Output shape of an elementwise node; broadcasting is static (only axes typed 1 stretch).
static int symnb_broadcast(int nd, npy_intp* out, int nin, PyArrayObject* const* ins, const signed char* bcast,
                           const char* where) {
    char msg[256];
    for (int d = 0; d < nd; d++) {
        out[d] = 1;
        for (int k = 0; k < nin; k++) {
            int kd = d - (nd - PyArray_NDIM(ins[k]));
            npy_intp n = kd < 0 ? 1 : PyArray_DIM(ins[k], kd);
            if (n == 1) continue;
            if (out[d] == 1) out[d] = n;
            else if (n != out[d]) {
                snprintf(msg, sizeof msg, "shapes do not match on axis %d: lengths %ld and %ld", d, (long)out[d], (long)n);
                symnb_raise(PyExc_ValueError, where, msg);
                return -1;
            }
        }
        for (int k = 0; k < nin; k++) {
            int kd = d - (nd - PyArray_NDIM(ins[k]));
            if (kd >= 0 && PyArray_DIM(ins[k], kd) == 1 && out[d] != 1 && !bcast[k * 32 + kd]) {
                snprintf(msg, sizeof msg, "runtime broadcasting is not allowed: input %d has length 1 on axis %d "
                         "but is not typed as broadcastable there (the result has length %ld)", k, kd, (long)out[d]);
                symnb_raise(PyExc_ValueError, where, msg);
                return -1;
            }
        }
    }
    return 0;
}

// NumPy's floor division and remainder (npy_divmod), and integer versions that flag x/0.
template <class T> static inline T symnb_fmod_np(T a, T b) {
    T mod = std::fmod(a, b);
    if (!b) return mod;
    if (mod) { if ((b < 0) != (mod < 0)) mod += b; } else mod = std::copysign((T)0, b);
    return mod;
}
template <class T> static inline T symnb_fdiv_np(T a, T b) {
    if (!b) return a / b;
    T mod = std::fmod(a, b), div = (a - mod) / b;
    if (mod && ((b < 0) != (mod < 0))) div -= 1;
    if (div) { T f = std::floor(div); if (div - f > (T)0.5) f += 1; return f; }
    return std::copysign((T)0, a / b);
}
template <class T> static inline T symnb_idiv(T a, T b, int* err) {
    if (b == 0) { *err = 1; return 0; }
    if (b == -1 && a < 0 && a == (T)(((T)1) << (sizeof(T) * 8 - 1))) return a;   // MIN / -1 wraps in NumPy
    T q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1;
    return q;
}
template <class T> static inline T symnb_imod(T a, T b, int* err) {
    if (b == 0) { *err = 1; return 0; }
    if (b == -1) return 0;
    T r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
}
template <class T> static inline T symnb_ipow(T a, T b, int* err) {
    if (b < 0) { *err = 2; return 0; }
    T r = 1;
    while (b) { if (b & 1) r *= a; a *= a; b >>= 1; }
    return r;
}
template <class T> static inline T symnb_max(T a, T b) { return (a >= b || std::isnan((double)a)) ? a : b; }
template <class T> static inline T symnb_min(T a, T b) { return (a <= b || std::isnan((double)a)) ? a : b; }
template <class T> static inline T symnb_sign(T a) { return a > 0 ? (T)1 : (a < 0 ? (T)-1 : a); }
static inline double symnb_softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static inline float symnb_softplusf(float x) { return x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x)); }
static inline double symnb_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static inline float symnb_sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

static int symnb_check_flag(int err, const char* where) {
    if (err == 1) { PyErr_Format(PyExc_ZeroDivisionError, "integer division by zero\n  while computing %s", where); return -1; }
    if (err == 2) { PyErr_Format(PyExc_ValueError, "integers to negative integer powers are not allowed\n  while computing %s", where); return -1; }
    return 0;
}

// BLAS operand layout for a 2-d array: row-major (NoTrans) or its transpose (Trans) with a
// leading dimension; anything else is replaced by a C-contiguous copy. 0 on success.
static int symnb_blas_layout(PyArrayObject** a, int* trans, blasint* ld) {
    npy_intp item = PyArray_ITEMSIZE(*a), r = PyArray_DIM(*a, 0), c = PyArray_DIM(*a, 1);
    npy_intp s0 = PyArray_STRIDE(*a, 0), s1 = PyArray_STRIDE(*a, 1);
    if ((s1 == item || c <= 1) && s0 % item == 0 && s0 >= (c > 1 ? c : 1) * item) {
        *trans = NoTrans; *ld = s0 / item; return 0;
    }
    if ((s0 == item || r <= 1) && s1 % item == 0 && s1 >= (r > 1 ? r : 1) * item) {
        *trans = Trans; *ld = s1 / item; return 0;
    }
    PyArrayObject* copy = (PyArrayObject*)PyArray_NewCopy(*a, NPY_CORDER);
    if (!copy) return -1;
    Py_DECREF(*a);
    *a = copy;
    *trans = NoTrans;
    *ld = c > 1 ? c : 1;
    return 0;
}

static double symnb_scalar(PyArrayObject* a) {
    return PyArray_TYPE(a) == NPY_FLOAT ? *(float*)PyArray_DATA(a) : *(double*)PyArray_DATA(a);
}
