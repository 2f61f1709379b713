// The entry points of a generated symnb module (stage "program"), included at the end of
// the generated source, which defines SYMNB_NV (number of values), INFO and compute():
//   run(state, *inputs)   -> tuple of all graph outputs (the Program protocol)
//   call(state, *args)    -> what sn.Function returns, shared updates stored (fast path)
//   new_state(...), bind(...), set_runtime(...): set-up from Python.
#pragma once
#include <pthread.h>
#include "runtime.h"
#include "blas.h"

namespace symnb {

static bool clashes(Arr* a, Arr* const* others, int n, int skip = -1) {
    for (int k = 0; k < n; k++)
        if (k != skip && others[k] && overlap(a, others[k])) return true;
    return false;
}

static Arr* fresh_copy(Arr* a) { return (Arr*)PyArray_NewCopy(a, NPY_CORDER); }

// What sn.Function does after computing: check each update against its variable's static
// shape, copy any value that is read-only or would alias what it must not, store every
// update (all or none), and return the outputs.
static PyObject* finish(State* S, const Info& I, Arr** v) {
    const int nu = I.n_user, ns = I.n_shared;
    Arr* after[256];
    Arr* outs[256];
    if (ns > 256 || S->n_out > 256) { PyErr_SetString(PyExc_RuntimeError, "too many values"); return NULL; }
    for (int s = 0; s < ns; s++) after[s] = v[nu + s];
    Keep keep;   // copies made here
    const npy_intp* shp = S->upd_shape;
    for (int u = 0; u < S->n_upd; u++) {
        Arr* a = v[I.out_idx[S->n_out + u]];
        int nd = PyArray_NDIM(a);
        for (int d = 0; d < nd; d++)
            if (shp[d] >= 0 && shp[d] != PyArray_DIM(a, d)) {
                char want[160], got[160];
                shape_str(want, sizeof want, nd, shp, true);
                shape_str(got, sizeof got, nd, PyArray_DIMS(a));
                PyErr_Format(PyExc_ValueError, "the update of %U: expected shape %s, got %s",
                             PyTuple_GET_ITEM(S->labels, nu + S->upd_target[u]), want, got);
                return NULL;
            }
        shp += nd;
        after[S->upd_target[u]] = a;
    }
    for (int u = 0; u < S->n_upd; u++) {
        int s = S->upd_target[u];
        // A new value may reuse its own variable's storage (an in-place update), nothing else's.
        if (!PyArray_ISWRITEABLE(after[s]) || clashes(after[s], v, nu) || clashes(after[s], after, ns, s))
            if (!(after[s] = keep.add(fresh_copy(after[s])))) return NULL;
    }
    for (int u = 0; u < S->n_upd; u++) {
        int s = S->upd_target[u];
        Py_INCREF(after[s]);
        if (PyList_SetItem(PyTuple_GET_ITEM(S->containers, s), 0, (PyObject*)after[s]) < 0) return NULL;
    }
    // Returned arrays belong to the caller: none may alias an input, a shared value (old or
    // new) or another output.
    for (int k = 0; k < S->n_out; k++) {
        Arr* a = v[I.out_idx[k]];
        bool copy = !PyArray_ISWRITEABLE(a) || clashes(a, v, nu + ns) || clashes(a, outs, k);
        for (int u = 0; u < S->n_upd && !copy; u++) copy = overlap(a, after[S->upd_target[u]]);
        if (copy && !(a = keep.add(fresh_copy(a)))) return NULL;
        outs[k] = a;
    }
    if (S->single) {
        if (S->n_out == 0) Py_RETURN_NONE;
        Py_INCREF(outs[0]);
        return (PyObject*)outs[0];
    }
    PyObject* list = PyList_New(S->n_out);
    for (int k = 0; list && k < S->n_out; k++) {
        Py_INCREF(outs[k]);
        PyList_SET_ITEM(list, k, (PyObject*)outs[k]);
    }
    return list;
}

// May nodes overwrite graph input k (a shared variable)? Only if it is writeable and shares
// no memory with another input (a caller may pass the shared array itself as an argument).
static bool destroyable(Arr* const* v, int n_inputs, int k) {
    if (!PyArray_ISWRITEABLE(v[k])) return false;
    for (int j = 0; j < n_inputs; j++)
        if (j != k && overlap(v[j], v[k])) return false;
    return true;
}

static State* get_state(PyObject* o) {
    return (State*)PyCapsule_GetPointer(o, "symnb.state");
}

// Checks every argument, computes, and finishes (fast) or returns all outputs (run).
// v and destroy have room for every value (SYMNB_NV), zero-initialized.
static PyObject* entry(const Info& I, int (*compute)(State*, Arr**, const bool*), Arr** v, bool* destroy,
                       PyObject* const* a, Py_ssize_t n, bool fast) {
    State* S = n > 0 ? get_state(a[0]) : NULL;
    if (!S) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "the first argument must be a symnb state");
        return NULL;
    }
    const int n_in = I.n_user + I.n_shared, expected = fast ? I.n_user : n_in;
    if (fast && !S->bound) { PyErr_SetString(PyExc_RuntimeError, "state not bound to a function"); return NULL; }
    if (n - 1 != expected) {
        if (fast) PyErr_SetNone(S->retry);
        else PyErr_Format(PyExc_TypeError, "run() takes %d inputs, got %d", expected, (int)(n - 1));
        return NULL;
    }
    PyObject* result = NULL;
    const npy_intp* shape = I.in_shape;
    for (int k = 0; k < n_in; shape += I.in_ndim[k], k++) {
        bool shared = k >= I.n_user;
        PyObject* o = a[1 + k];
        if (fast && shared) {
            PyObject* box = PyTuple_GET_ITEM(S->containers, k - I.n_user);
            if (PyList_GET_SIZE(box) != 1) {
                PyErr_Format(PyExc_RuntimeError, "%U: its storage was emptied", PyTuple_GET_ITEM(S->labels, k));
                goto done;
            }
            o = PyList_GET_ITEM(box, 0);
        }
        int rc = arg(o, I.in_types[k], I.in_ndim[k], shape, &v[k]);
        if (rc < 0) goto done;
        if (rc == 1) {
            if (fast && !shared) PyErr_SetNone(S->retry);
            else PyErr_Format(PyExc_TypeError, "%U: got a value of the wrong type, dtype, ndim or shape (%R)",
                              PyTuple_GET_ITEM(S->labels, k), Py_TYPE(o));
            goto done;
        }
    }
    // Shared storage is written over only in sn.Function's call, and only by its own update.
    for (int j = 0; fast && j < I.n_destroy; j++) {
        int k = I.destroy_idx[j], u = I.destroy_out[j] - S->n_out;
        destroy[k] = u >= 0 && u < S->n_upd && S->upd_target[u] == k - I.n_user && destroyable(v, n_in, k);
    }
    if (compute(S, v, destroy) < 0) goto done;
    if (fast) {
        result = finish(S, I, v);
    } else if ((result = PyTuple_New(I.n_outputs))) {
        for (int k = 0; k < I.n_outputs; k++) {
            Py_INCREF(v[I.out_idx[k]]);
            PyTuple_SET_ITEM(result, k, (PyObject*)v[I.out_idx[k]]);
        }
    }
done:
    for (int k = 0; k < I.n_vars; k++) Py_XDECREF(v[k]);
    return result;
}

static void free_state(PyObject* cap) {
    State* S = (State*)PyCapsule_GetPointer(cap, "symnb.state");
    if (!S) return;
    for (Py_ssize_t k = 0; k < S->n_slots; k++) Py_XDECREF(S->slots[k]);
    Py_XDECREF(S->consts); Py_XDECREF(S->fallbacks); Py_XDECREF(S->wheres); Py_XDECREF(S->labels);
    Py_XDECREF(S->containers); Py_XDECREF(S->retry);
    PyMem_Free(S->slots); PyMem_Free(S->upd_target); PyMem_Free(S->upd_shape);
    PyMem_Free(S);
}

// new_state(consts, fallbacks, wheres, labels, retry) -> capsule
static PyObject* new_state(const Info& I, PyObject* args) {
    PyObject *c, *f, *w, *l, *r;
    if (!PyArg_ParseTuple(args, "O!O!O!O!O", &PyTuple_Type, &c, &PyTuple_Type, &f, &PyTuple_Type, &w,
                          &PyTuple_Type, &l, &r))
        return NULL;
    if (PyTuple_GET_SIZE(l) != I.n_user + I.n_shared) {
        PyErr_SetString(PyExc_ValueError, "one label per graph input");
        return NULL;
    }
    State* S = (State*)PyMem_Calloc(1, sizeof(State));
    Arr** slots = (Arr**)PyMem_Calloc(I.n_slots ? I.n_slots : 1, sizeof(Arr*));
    if (!S || !slots) { PyMem_Free(S); PyMem_Free(slots); return PyErr_NoMemory(); }
    PyObject* objs[] = {c, f, w, l, r};
    for (PyObject* o : objs) Py_INCREF(o);
    S->consts = c; S->fallbacks = f; S->wheres = w; S->labels = l; S->retry = r;
    S->slots = slots;
    S->n_slots = I.n_slots;
    PyObject* cap = PyCapsule_New(S, "symnb.state", free_state);
    if (!cap) {
        for (PyObject* o : objs) Py_DECREF(o);
        PyMem_Free(slots); PyMem_Free(S);
    }
    return cap;
}

// bind(state, containers, n_out, single, targets, static shapes (flat)) for call().
static PyObject* bind(const Info& I, PyObject* args) {
    PyObject *cap, *containers, *targets, *shapes;
    int n_out, single;
    if (!PyArg_ParseTuple(args, "OO!ipO!O!", &cap, &PyTuple_Type, &containers, &n_out, &single, &PyTuple_Type,
                          &targets, &PyTuple_Type, &shapes))
        return NULL;
    State* S = get_state(cap);
    if (!S) return NULL;
    int n_upd = (int)PyTuple_GET_SIZE(targets);
    if (PyTuple_GET_SIZE(containers) != I.n_shared || n_out + n_upd != I.n_outputs) {
        PyErr_SetString(PyExc_ValueError, "bind: the function does not match the graph");
        return NULL;
    }
    for (Py_ssize_t s = 0; s < I.n_shared; s++) {
        PyObject* box = PyTuple_GET_ITEM(containers, s);
        if (!PyList_Check(box) || PyList_GET_SIZE(box) != 1) {
            PyErr_SetString(PyExc_TypeError, "bind: shared storage must be one-element lists");
            return NULL;
        }
    }
    int* tg = (int*)PyMem_Calloc(n_upd + 1, sizeof(int));
    npy_intp* sh = (npy_intp*)PyMem_Calloc(PyTuple_GET_SIZE(shapes) + 1, sizeof(npy_intp));
    if (!tg || !sh) { PyMem_Free(tg); PyMem_Free(sh); return PyErr_NoMemory(); }
    for (int u = 0; u < n_upd; u++) tg[u] = (int)PyLong_AsLong(PyTuple_GET_ITEM(targets, u));
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(shapes); k++) sh[k] = PyLong_AsSsize_t(PyTuple_GET_ITEM(shapes, k));
    if (PyErr_Occurred()) { PyMem_Free(tg); PyMem_Free(sh); return NULL; }
    for (int u = 0; u < n_upd; u++)
        if (tg[u] < 0 || tg[u] >= I.n_shared) {
            PyMem_Free(tg); PyMem_Free(sh);
            PyErr_SetString(PyExc_ValueError, "bind: bad update target");
            return NULL;
        }
    Py_INCREF(containers);
    Py_XSETREF(S->containers, containers);
    PyMem_Free(S->upd_target); PyMem_Free(S->upd_shape);
    S->upd_target = tg; S->upd_shape = sh;
    S->n_out = n_out; S->single = single; S->n_upd = n_upd; S->bound = 1;
    Py_RETURN_NONE;
}

// set_runtime((dgemm, sgemm, dgemv, sgemv, ddot, sdot), fortran, (set_num_threads,
// get_num_threads, shared state) or zeros, np.add, (log, cos, sin), threads, pool slot)
static PyObject* set_runtime(PyObject*, PyObject* args) {
    unsigned long long p[6], t[3], slot = 0;
    PyObject *add, *ufuncs;
    int fortran, threads;
    if (!PyArg_ParseTuple(args, "(KKKKKK)p(KKK)OO!i|K", &p[0], &p[1], &p[2], &p[3], &p[4], &p[5], &fortran, &t[0],
                          &t[1], &t[2], &add, &PyTuple_Type, &ufuncs, &threads, &slot))
        return NULL;
    if (slot) share_pool((int64_t*)slot);
    const bool counted = t[0] && t[1] && t[2];
    blas_threads.set = counted ? (void (*)(int))t[0] : nullptr;
    blas_threads.get = counted ? (int (*)())t[1] : nullptr;
    blas_threads.state = counted ? (int64_t*)t[2] : nullptr;
    Blas<double>::gemm_p = (void*)p[0]; Blas<float>::gemm_p = (void*)p[1];
    Blas<double>::gemv_p = (void*)p[2]; Blas<float>::gemv_p = (void*)p[3];
    Blas<double>::dot_p = (void*)p[4]; Blas<float>::dot_p = (void*)p[5];
    Blas<double>::fortran = Blas<float>::fortran = fortran;
    Py_INCREF(add);
    Py_INCREF(ufuncs);
    Py_XSETREF(np_add, add);
    Py_XSETREF(np_ufuncs, ufuncs);
    n_threads = threads > 0 ? threads : 1;
    // Threads do not survive fork(): a forked child (multiprocessing) runs serially.
    static bool registered = false;
    if (!registered && pthread_atfork(NULL, NULL, pool_after_fork) == 0) registered = true;
    Py_RETURN_NONE;
}

}  // namespace symnb

static PyObject* symnb_run(PyObject*, PyObject* const* a, Py_ssize_t n) {
    symnb::Arr* v[SYMNB_NV] = {};
    bool destroy[SYMNB_NV] = {};
    return symnb::entry(INFO, compute, v, destroy, a, n, false);
}
static PyObject* symnb_call(PyObject*, PyObject* const* a, Py_ssize_t n) {
    symnb::Arr* v[SYMNB_NV] = {};
    bool destroy[SYMNB_NV] = {};
    return symnb::entry(INFO, compute, v, destroy, a, n, true);
}
static PyObject* symnb_new_state(PyObject*, PyObject* args) { return symnb::new_state(INFO, args); }
static PyObject* symnb_bind(PyObject*, PyObject* args) { return symnb::bind(INFO, args); }

static PyMethodDef symnb_methods[] = {
    {"run", (PyCFunction)(void (*)(void))symnb_run, METH_FASTCALL, "run(state, *inputs) -> all graph outputs"},
    {"call", (PyCFunction)(void (*)(void))symnb_call, METH_FASTCALL, "call(state, *args): sn.Function's call"},
    {"new_state", symnb_new_state, METH_VARARGS, "new_state(consts, fallbacks, wheres, labels, retry)"},
    {"bind", symnb_bind, METH_VARARGS, "bind(state, containers, n_out, single, targets, shapes)"},
    {"set_runtime", symnb::set_runtime, METH_VARARGS, "set_runtime(blas, fortran, blas_threads, add, ufuncs, threads, pool_slot=0)"},
    {NULL, NULL, 0, NULL}};
static struct PyModuleDef symnb_module = {PyModuleDef_HEAD_INIT, SYMNB_STR(SYMNB_MODULE), NULL, -1, symnb_methods};
PyMODINIT_FUNC SYMNB_CAT(PyInit_, SYMNB_MODULE)(void) {
    import_array();
    return PyModule_Create(&symnb_module);
}
