"""C++ renderer: a FunctionGraph -> the source of one CPython extension module.

Stage "backend renderer". Every value is a NumPy array; elementwise and fused nodes become
loops (a flat vectorized path and a strided path), dot/gemm/gemv become BLAS calls, and any
other op is called back in Python (its reference implementation) so every graph compiles.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...core.graph import Constant
from ...core.ops import Dot, Elemwise, Fused
from ...core.ops.blas import Gemm, Gemv
from ...core.ops.fused import scalar_placeholder
from ...core.ops.base import apply_op
from ...core.graph import toposort
from .scalar import CTYPE, NPY, literal, scalar_code

PARALLEL_THRESHOLD = 1 << 16      # elements; below this one thread is faster on 2 cores


def c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def describe(node) -> str:
    return f"{node.op}" + (f"\n  built at {node.trace}" if node.trace else "")


@dataclass
class Rendered:
    source: str
    fallbacks: list = field(default_factory=list)     # nodes run by their Python implementation
    constants: list = field(default_factory=list)     # arrays handed to the module at load
    # Node descriptions for error messages, handed over at load: the user's line is not part
    # of the source, so rebuilding the same graph from another cell hits the cache.
    wheres: list = field(default_factory=list)

    def where(self, node) -> str:
        self.wheres.append(describe(node))
        return f"PyUnicode_AsUTF8(PyTuple_GET_ITEM(wheres, {len(self.wheres) - 1}))"


def _inner_graph(node):
    """(inner inputs, inner outputs) of a fused node; a plain Elemwise is a one-op fusion."""
    if isinstance(node.op, Fused):
        return node.op.inner_inputs, node.op.inner_outputs
    phs = tuple(scalar_placeholder(i.dtype) for i in node.inputs)
    return phs, tuple(apply_op(node.op, phs, as_list=True))


def loop_body(node):
    """C++ statements computing the fused node's outputs per element, or None if unsupported."""
    inner_in, inner_out = _inner_graph(node)
    names = {id(v): f"x{k}" for k, v in enumerate(inner_in)}
    lines = []
    for j, n in enumerate(toposort(list(inner_out))):
        args = []
        for i in n.inputs:
            if id(i) in names:
                args.append(names[id(i)])
            elif isinstance(i, Constant):
                args.append(literal(i.data.item(), i.dtype) if i.dtype in CTYPE else "?")
            else:
                return None
        if "?" in args:
            return None
        out = n.outputs[0]
        code = scalar_code(n.op.scalar, n.op.params, args, [i.dtype for i in n.inputs], out.dtype)
        if code is None:
            return None
        names[id(out)] = f"t{j}"
        lines.append(f"const {CTYPE[out.dtype]} t{j} = {code};")
    results = []
    for o in inner_out:
        if id(o) in names:
            results.append(names[id(o)])
        elif isinstance(o, Constant) and o.dtype in CTYPE:
            results.append(literal(o.data.item(), o.dtype))
        else:
            return None
    return lines, results


class CppRenderer:
    """Tables of code per op kind; subclasses (CUDA) override the entries they change."""

    def render(self, fgraph) -> Rendered:
        out = Rendered("")
        var_names: dict[int, str] = {}
        decls, body, slots = [], [], []
        n_in = len(fgraph.inputs)
        for k, v in enumerate(fgraph.inputs):
            var_names[id(v)] = f"v{k}"
            decls.append(f"PyArrayObject* v{k} = NULL;")
            if v.dtype not in NPY:
                body.append(f"v{k} = (PyArrayObject*)args[{k}]; Py_INCREF(v{k});")
                continue
            shape = ", ".join(str(-1 if s is None else s) for s in v.type.shape) or "0"
            body.append(f"{{ static const npy_intp shp[] = {{{shape}}}; v{k} = symnb_input(args[{k}], {k}, "
                        f"{c_string(v.name or str(v.type))}, {NPY[v.dtype]}, {v.ndim}, shp); if (!v{k}) goto fail; }}")
        counter = [n_in]

        def name_of(v):
            if id(v) not in var_names:
                assert isinstance(v, Constant), v
                k = len(out.constants)
                out.constants.append(v.data)
                var_names[id(v)] = f"((PyArrayObject*)PyTuple_GET_ITEM(consts, {k}))"
            return var_names[id(v)]

        for node in fgraph.nodes:
            ins = [name_of(i) for i in node.inputs]
            outs = []
            for o in node.outputs:
                name = f"v{counter[0]}"
                counter[0] += 1
                var_names[id(o)] = name
                decls.append(f"PyArrayObject* {name} = NULL;")
                outs.append(name)
            code = self.node_code(node, ins, outs, slots, out.where(node))
            if code is None:
                code = self.fallback(node, ins, outs, out)
            body.append(f"// {node.op.name}\n{{\n{code}\n}}")
        results = [name_of(o) for o in fgraph.outputs]
        ret = [f"PyObject* result = PyTuple_New({len(results)});", "if (!result) goto fail;"]
        for k, r in enumerate(results):
            ret.append(f"Py_INCREF({r}); PyTuple_SET_ITEM(result, {k}, (PyObject*){r});")
        locals_ = [f"v{k}" for k in range(counter[0])]
        out.source = MODULE.format(
            n_inputs=n_in, n_slots=max(len(slots), 1),
            decls="\n    ".join(decls), body="\n    ".join(body), ret="\n    ".join(ret),
            cleanup="\n    ".join(f"Py_XDECREF({v});" for v in locals_))
        return out

    # -- per-op code -------------------------------------------------------------------
    def node_code(self, node, ins, outs, slots, where):
        if isinstance(node.op, (Elemwise, Fused)):
            return self.elementwise(node, ins, outs, slots, where)
        if isinstance(node.op, (Dot, Gemm, Gemv)) and node.outputs[0].dtype in ("float32", "float64") and \
                all(i.dtype == node.outputs[0].dtype for i in node.inputs if i.ndim):
            return self.blas(node, ins, outs, slots, where)
        return None

    def fallback(self, node, ins, outs, rendered):
        k = len(rendered.fallbacks)
        rendered.fallbacks.append(node)
        call = ", ".join(f"(PyObject*){i}" for i in ins)
        lines = [f"PyObject* r = PyObject_CallFunctionObjArgs(PyTuple_GET_ITEM(fallbacks, {k}), {call}"
                 f"{', ' if call else ''}NULL);", "if (!r) goto fail;"]
        for j, o in enumerate(outs):
            lines.append(f"{o} = (PyArrayObject*)PyTuple_GET_ITEM(r, {j}); Py_INCREF({o});")
        lines.append("Py_DECREF(r);")
        return "\n".join(lines)

    def elementwise(self, node, ins, outs, slots, where):
        code = loop_body(node)
        if code is None:
            return None
        stmts, results = code
        nd = node.outputs[0].ndim
        if nd > 32:
            return None
        nin = len(ins)
        bc = []
        for v in node.inputs:
            flags = [1 if s == 1 else 0 for s in v.type.shape] + [0] * (32 - v.ndim)
            bc.extend(flags)
        destroy = dict(getattr(node.op, "destroy_map", {}) or {})
        lines = [f"const char* where = {where};",
                 f"PyArrayObject* in[] = {{{', '.join(ins) or 'NULL'}}};",
                 f"static const signed char bc[] = {{{', '.join(map(str, bc)) or '0'}}};",
                 f"npy_intp dims[{max(nd, 1)}];",
                 f"if (symnb_broadcast({nd}, dims, {nin}, in, bc, where) < 0) goto fail;"]
        for k, (o, var) in enumerate(zip(outs, node.outputs)):
            slot = f"&slots[{len(slots)}]"
            slots.append(o)
            alloc = f"{o} = symnb_buffer({slot}, {nd}, dims, {NPY[var.dtype]});"
            if k in destroy:
                j = destroy[k]
                alloc = (f"if (PyArray_IS_C_CONTIGUOUS({ins[j]}) && PyArray_NDIM({ins[j]}) == {nd} && "
                         f"PyArray_SIZE({ins[j]}) == PyArray_MultiplyList(dims, {nd})) "
                         f"{{ {o} = {ins[j]}; Py_INCREF({o}); }} else {{ {alloc} }}")
            lines += [alloc, f"if (!{o}) goto fail;"]
        lines.append(f"const npy_intp n = PyArray_MultiplyList(dims, {nd});")
        scalar_in = [v.ndim == 0 or all(s == 1 for s in v.type.shape) for v in node.inputs]
        for k, (i, v) in enumerate(zip(ins, node.inputs)):
            lines.append(f"const char* b{k} = (const char*)PyArray_DATA({i});")
        for k, (o, var) in enumerate(zip(outs, node.outputs)):
            lines.append(f"{CTYPE[var.dtype]}* o{k} = ({CTYPE[var.dtype]}*)PyArray_DATA({o});")
        flat_ok = " && ".join([f"PyArray_IS_C_CONTIGUOUS({i}) && PyArray_SIZE({i}) == n"
                               for i, s in zip(ins, scalar_in) if not s]) or "1"
        loads_flat = [f"const {CTYPE[v.dtype]} x{k} = (({'const ' + CTYPE[v.dtype]}*)b{k})[{'0' if s else 'i'}];"
                      for k, (v, s) in enumerate(zip(node.inputs, scalar_in))]
        stores = [f"o{k}[i] = {r};" for k, r in enumerate(results)]
        inner = "\n        ".join(loads_flat + stmts + stores)
        lines += ["int err = 0;", f"if ({flat_ok}) {{",
                  f"    #pragma omp parallel for simd reduction(|:err) if(n > {PARALLEL_THRESHOLD}) schedule(static)",
                  "    for (npy_intp i = 0; i < n; i++) {", f"        {inner}", "    }", "} else {"]
        # Strided path: per-input byte strides (0 on broadcast axes), odometer over the axes.
        lines.append(f"    npy_intp st[{nin or 1}][{max(nd, 1)}] = {{}};")
        for k, (i, v) in enumerate(zip(ins, node.inputs)):
            lines.append(f"    for (int d = 0; d < PyArray_NDIM({i}); d++) st[{k}][{nd} - PyArray_NDIM({i}) + d] = "
                         f"PyArray_DIM({i}, d) == 1 ? 0 : PyArray_STRIDE({i}, d);")
        loads = [f"const {CTYPE[v.dtype]} x{k} = *(const {CTYPE[v.dtype]}*)(b{k} + off[{k}]);"
                 for k, v in enumerate(node.inputs)]
        body = "\n            ".join(loads + stmts + stores)
        lines += [f"    npy_intp idx[{max(nd, 1)}] = {{}}; npy_intp off[{nin or 1}] = {{}};",
                  "    for (npy_intp i = 0; i < n; i++) {",
                  f"            {body}",
                  f"        for (int d = {nd} - 1; d >= 0; d--) {{",
                  f"            idx[d]++; for (int k = 0; k < {nin}; k++) off[k] += st[k][d];",
                  "            if (idx[d] < dims[d]) break;",
                  f"            for (int k = 0; k < {nin}; k++) off[k] -= st[k][d] * dims[d];",
                  "            idx[d] = 0;", "        }", "    }", "}",
                  "if (symnb_check_flag(err, where) < 0) goto fail;"]
        return "\n".join(lines)

    def blas(self, node, ins, outs, slots, where):
        dtype = node.outputs[0].dtype
        p = "d" if dtype == "float64" else "s"
        T = CTYPE[dtype]
        o = outs[0]
        slot = f"&slots[{len(slots)}]"
        slots.append(o)
        op = node.op
        lines = [f"const char* where = {where};"]
        if isinstance(op, Dot):
            a, b = node.inputs
            A, B = ins
            if a.ndim == 1 and b.ndim == 1:
                return "\n".join(lines + [
                    f"if (PyArray_DIM({A}, 0) != PyArray_DIM({B}, 0)) {{ symnb_raise(PyExc_ValueError, where, "
                    f"\"dot: vectors of different lengths\"); goto fail; }}",
                    f"{o} = (PyArrayObject*)PyArray_EMPTY(0, NULL, {NPY[dtype]}, 0); if (!{o}) goto fail;",
                    f"*({T}*)PyArray_DATA({o}) = blas_{p}dot(PyArray_DIM({A}, 0), ({T}*)PyArray_DATA({A}), "
                    f"PyArray_STRIDE({A}, 0) / {np.dtype(dtype).itemsize}, ({T}*)PyArray_DATA({B}), "
                    f"PyArray_STRIDE({B}, 0) / {np.dtype(dtype).itemsize});"])
            C_init, alpha, beta = None, "1", "0"
        else:
            C, alpha_v, A, B, beta_v = ins
            a, b = node.inputs[2], node.inputs[3]
            C_init, alpha, beta = C, f"symnb_scalar({alpha_v})", f"symnb_scalar({beta_v})"
        lines.append(f"PyArrayObject* A = {A}; PyArrayObject* B = {B}; Py_INCREF(A); Py_INCREF(B);")
        item = np.dtype(dtype).itemsize
        if a.ndim == 2 and b.ndim == 2:
            lines += ["npy_intp M = PyArray_DIM(A, 0), K = PyArray_DIM(A, 1), N = PyArray_DIM(B, 1);",
                      "if (PyArray_DIM(B, 0) != K) { Py_DECREF(A); Py_DECREF(B); symnb_raise(PyExc_ValueError, "
                      "where, \"matrix product: inner dimensions do not match\"); goto fail; }",
                      "npy_intp dims[2] = {M, N};"]
        else:
            mat, vec = ("A", "B") if a.ndim == 2 else ("B", "A")
            rows = "PyArray_DIM(A, 0)" if a.ndim == 2 else "PyArray_DIM(B, 1)"
            inner = "PyArray_DIM(A, 1)" if a.ndim == 2 else "PyArray_DIM(B, 0)"
            lines += [f"npy_intp M = {rows}, K = {inner};",
                      f"if (PyArray_DIM({vec}, 0) != K) {{ Py_DECREF(A); Py_DECREF(B); symnb_raise(PyExc_ValueError, "
                      "where, \"matrix-vector product: lengths do not match\"); goto fail; }",
                      "npy_intp dims[1] = {M};"]
        nd = 2 if (a.ndim == 2 and b.ndim == 2) else 1
        if C_init is not None:
            inplace = bool(getattr(op, "inplace", False))
            lines += [f"if (PyArray_NDIM({C_init}) != {nd} || PyArray_DIM({C_init}, 0) != dims[0]"
                      + (f" || PyArray_DIM({C_init}, 1) != dims[1]" if nd == 2 else "")
                      + ") { Py_DECREF(A); Py_DECREF(B); symnb_raise(PyExc_ValueError, where, "
                      "\"gemm: the accumulator has the wrong shape\"); goto fail; }"]
            own = (f"if ({'1' if inplace else '0'} && PyArray_IS_C_CONTIGUOUS({C_init})) {{ {o} = {C_init}; "
                   f"Py_INCREF({o}); }} else {{ {o} = symnb_buffer({slot}, {nd}, dims, {NPY[dtype]}); "
                   f"if ({o} && PyArray_CopyInto({o}, {C_init}) < 0) {{ Py_DECREF({o}); {o} = NULL; }} }}")
            lines.append(own)
        else:
            lines.append(f"{o} = symnb_buffer({slot}, {nd}, dims, {NPY[dtype]});")
        lines.append(f"if (!{o}) {{ Py_DECREF(A); Py_DECREF(B); goto fail; }}")
        if nd == 2:
            lines += ["int ta, tb; blasint lda, ldb;",
                      "if (symnb_blas_layout(&A, &ta, &lda) < 0 || symnb_blas_layout(&B, &tb, &ldb) < 0) "
                      "{ Py_DECREF(A); Py_DECREF(B); goto fail; }",
                      "if (M && N) {",
                      f"  Py_BEGIN_ALLOW_THREADS",
                      f"  blas_{p}gemm(RowMajor, ta, tb, M, N, K, ({T}){alpha}, ({T}*)PyArray_DATA(A), lda, "
                      f"({T}*)PyArray_DATA(B), ldb, ({T}){beta}, ({T}*)PyArray_DATA({o}), N);",
                      f"  Py_END_ALLOW_THREADS", "}"]
        else:
            transposed_vm = a.ndim == 1      # v @ M = M^T v
            lines += ["int tm; blasint ldm;",
                      f"PyArrayObject** mp = {'&B' if transposed_vm else '&A'};",
                      "if (symnb_blas_layout(mp, &tm, &ldm) < 0) { Py_DECREF(A); Py_DECREF(B); goto fail; }",
                      f"PyArrayObject* V = {'A' if transposed_vm else 'B'};",
                      f"npy_intp r = PyArray_DIM(*mp, 0), c = PyArray_DIM(*mp, 1);",
                      f"int t = {'(tm == NoTrans ? Trans : NoTrans)' if transposed_vm else 'tm'};",
                      "if (M) {",
                      "  Py_BEGIN_ALLOW_THREADS",
                      f"  blas_{p}gemv(RowMajor, t, tm == NoTrans ? r : c, tm == NoTrans ? c : r, "
                      f"({T}){alpha}, ({T}*)PyArray_DATA(*mp), ldm, ({T}*)PyArray_DATA(V), "
                      f"PyArray_STRIDE(V, 0) / {item}, ({T}){beta}, ({T}*)PyArray_DATA({o}), 1);",
                      "  Py_END_ALLOW_THREADS", "}"]
        lines.append("Py_DECREF(A); Py_DECREF(B);")
        return "\n".join(lines)


MODULE = r"""
#include "runtime.h"

// One module may serve several functions with the same code: everything that differs
// (constants, Python fallbacks, node descriptions, reusable buffers) lives in a state
// tuple made by new_state() and passed as the first argument of run().
static void free_slots(PyObject* capsule) {{
    PyArrayObject** s = (PyArrayObject**)PyCapsule_GetPointer(capsule, NULL);
    for (int k = 0; k < {n_slots}; k++) Py_XDECREF(s[k]);
    free(s);
}}

static PyObject* new_state(PyObject* self, PyObject* a) {{
    PyObject *c, *f, *w;
    if (!PyArg_ParseTuple(a, "O!O!O!", &PyTuple_Type, &c, &PyTuple_Type, &f, &PyTuple_Type, &w)) return NULL;
    PyArrayObject** s = (PyArrayObject**)calloc({n_slots}, sizeof(PyArrayObject*));
    if (!s) return PyErr_NoMemory();
    PyObject* cap = PyCapsule_New(s, NULL, free_slots);
    if (!cap) {{ free(s); return NULL; }}
    return Py_BuildValue("(OOON)", c, f, w, cap);
}}

static PyObject* run(PyObject* self, PyObject* const* argv, Py_ssize_t nargs) {{
    if (nargs != {n_inputs} + 1 || !PyTuple_Check(argv[0]) || PyTuple_GET_SIZE(argv[0]) != 4) {{
        PyErr_Format(PyExc_TypeError, "run(state, *args) expects a state and {n_inputs} arguments");
        return NULL;
    }}
    PyObject* consts = PyTuple_GET_ITEM(argv[0], 0);
    PyObject* fallbacks = PyTuple_GET_ITEM(argv[0], 1);
    PyObject* wheres = PyTuple_GET_ITEM(argv[0], 2);
    PyArrayObject** slots = (PyArrayObject**)PyCapsule_GetPointer(PyTuple_GET_ITEM(argv[0], 3), NULL);
    if (!slots) return NULL;
    PyObject* const* args = argv + 1;
    (void)consts; (void)fallbacks; (void)wheres; (void)args;
    PyObject* ret = NULL;
    {decls}
    {body}
    {{
    {ret}
    ret = result;
    }}
fail:
    {cleanup}
    return ret;
}}

static PyObject* set_blas(PyObject* self, PyObject* a) {{
    unsigned long long p[6];
    if (!PyArg_ParseTuple(a, "KKKKKK", &p[0], &p[1], &p[2], &p[3], &p[4], &p[5])) return NULL;
    blas_dgemm = (gemm_d_t)p[0]; blas_sgemm = (gemm_s_t)p[1]; blas_dgemv = (gemv_d_t)p[2];
    blas_sgemv = (gemv_s_t)p[3]; blas_ddot = (dot_d_t)p[4]; blas_sdot = (dot_s_t)p[5];
    Py_RETURN_NONE;
}}

static PyMethodDef methods[] = {{
    {{"run", (PyCFunction)(void(*)(void))run, METH_FASTCALL, "run(state, *inputs): the compiled graph"}},
    {{"new_state", new_state, METH_VARARGS, "new_state(constants, fallbacks, wheres)"}},
    {{"set_blas", set_blas, METH_VARARGS, "BLAS entry points"}},
    {{NULL, NULL, 0, NULL}}
}};
static struct PyModuleDef moddef = {{PyModuleDef_HEAD_INIT, SYMNB_STR(SYMNB_MODULE), NULL, -1, methods}};
PyMODINIT_FUNC SYMNB_CAT(PyInit_, SYMNB_MODULE)(void) {{
    import_array();
    return PyModule_Create(&moddef);
}}
"""
