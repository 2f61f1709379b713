"""C++ renderer (stage "backend renderer"): a FunctionGraph -> the C++ source of one CPython
extension module whose compute() runs every node in order (a long one in two translation
units, SECOND_UNIT, that compile at once).

`CFamilyRenderer` holds what every C-family backend shares: the tables (scalar code for
each elementwise op, `code_for_op`: op class -> code builder) and the walk over the nodes
(a node without code runs its reference implementation, so every graph compiles).
`CppRenderer` adds the C++ specifics: every value is a NumPy array `v[i]` (NodeCode and
Rendering speak NumPy's C API), the worker pool, and the CPython module around the body.
The CUDA renderer (kernels/cuda) is another small subclass with its own entries.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ...core.graph import Constant, SharedVariable
from . import render_array, render_conv, render_elemwise, render_math, render_scan
from .scalar import CTYPE, NPY, SCALAR, scalar_code

HEADERS = ("runtime.h", "scalar.h", "blas.h", "reduce.h", "array.h", "philox.h", "scan.h")


def describe(node) -> str:
    return f"{node.op}" + (f"\n  built at {node.trace}" if node.trace else "")


def label(v, k) -> str:
    """How messages name graph input k (as sn.Function names its inputs and shared variables)."""
    if isinstance(v, SharedVariable):
        return f"shared variable {v.name!r}" if v.name else f"shared variable {v!r}"
    return f"input {k} ({v.name or v.type})"


def c_array(ctype: str, name: str, values) -> str:
    values = list(values)
    return f"static const {ctype} {name}[] = {{{', '.join(map(str, values)) or '0'}}};"


def shape_entries(var) -> list:
    return [-1 if s is None else s for s in var.type.shape]


@dataclass
class Rendered:
    source: str
    constants: list = field(default_factory=list)   # arrays handed to the module at load
    fallbacks: list = field(default_factory=list)   # nodes run by their Python implementation
    # Node descriptions and input labels for messages, handed over at load: the user's line
    # is not part of the source, so rebuilding the same graph from another cell hits the cache.
    wheres: list = field(default_factory=list)
    labels: list = field(default_factory=list)


class NodeView:
    """What every C-family code builder sees of its node: the node, its number k (for
    messages), the renderer, and its 0-d constant inputs. A backend's builder context
    (NodeCode here, the CUDA renderer's NodeKernel) adds its own names and helpers."""

    def __init__(self, program, node, k):
        self.program, self.node, self.k = program, node, k     # program: the backend's rendering
        self.renderer = program.renderer

    def const_scalar(self, j):
        """The value of input j if it is a 0-d constant, else None."""
        v = self.node.inputs[j]
        return v.data.item() if isinstance(v, Constant) and v.ndim == 0 else None


class NodeCode(NodeView):
    """What a C++ code builder sees: the C names of the node's inputs and outputs (`v[i]`,
    NumPy arrays) and helpers for buffers, errors, in-place writes and entry points. The
    C++ specifics a builder writes (NumPy's C API, buffers.h) are here and in the builders."""

    def __init__(self, program, node, k):
        super().__init__(program, node, k)
        self.ins = [program.name(i) for i in node.inputs]
        self.outs = [program.define(o) for o in node.outputs]

    def slot(self) -> str:
        """A new reusable buffer slot (C expression for its address)."""
        self.program.n_slots += 2          # the buffer and its spare (see buffer() in buffers.h)
        return f"&S->slots[{self.program.n_slots - 2}]"

    def buffer(self, j, nd, dims, like=None) -> str:
        """Statements setting output j to a reusable buffer of shape dims (C array name); `like`:
        an array (C expression) whose place in its cache line the buffer takes (buffers.h)."""
        o = self.node.outputs[j]
        at = f", line_at(PyArray_DATA({like}), {np.dtype(o.dtype).itemsize})" if like else ""
        return (f"{self.outs[j]} = buffer({self.slot()}, {nd}, {dims}, {NPY[o.dtype]}{at});\n"
                f"if (!{self.outs[j]}) return refail(S, {self.k});")

    def fail(self) -> str:
        return f"return refail(S, {self.k});"

    def may_destroy(self, j) -> str:
        """C condition under which input j may be overwritten now ("0": never); see
        Rendering.may_destroy."""
        return self.program.may_destroy(self.node, j) or "0"

    def need(self, macro, arg):
        """Ask for a module-level entry point, `macro(arg)` once in the first translation unit
        (SYMNB_PRODUCT_ENTRY(float), SYMNB_VMATH_ENTRY(exp), ...; ENTRY_WEIGHT)."""
        self.program.entries.add((macro, arg))

    def include(self, header):
        """Ask for a header beyond HEADERS (conv.h, pooling.h: only modules that use them
        parse them)."""
        self.program.headers.add(header)


class Rendering:
    """One rendering: names, slots, constants and fallbacks of a graph's module."""

    def __init__(self, renderer, fgraph):
        self.renderer, self.fgraph = renderer, fgraph
        self.names: dict[int, str] = {}
        self.n_slots = 0
        self.out = Rendered("")
        # Graph inputs are the user's inputs, then the shared variables.
        self.n_user = sum(not isinstance(v, SharedVariable) for v in fgraph.inputs)
        for k, v in enumerate(fgraph.inputs):
            self.names[id(v)] = f"v[{k}]"
        self.const_loads = []
        self.bases = {}      # id(var) -> ids of the variables whose storage var may share
        self.nodes = fgraph.nodes     # schedule(): shared-variable writers that feed nothing come last
        self.order = {id(n): k for k, n in enumerate(self.nodes)}
        self.destroyed_shared = set()   # (graph input, graph output that must be its update)
        self.entries = set()            # (macro, argument) entry points the nodes need (NodeCode.need)
        self.headers = set()            # headers beyond HEADERS the nodes need (NodeCode.include)

    def define(self, v) -> str:
        """A new value slot v[i] for a node output."""
        self.names[id(v)] = f"v[{len(self.names)}]"
        return self.names[id(v)]

    def name(self, v) -> str:
        if id(v) not in self.names:
            assert isinstance(v, Constant), f"unbound variable {v!r}"
            i = len(self.names)
            self.names[id(v)] = f"v[{i}]"
            self.const_loads.append(f"v[{i}] = (Arr*)PyTuple_GET_ITEM(S->consts, {len(self.out.constants)}); "
                                    f"Py_INCREF(v[{i}]);")
            self.out.constants.append(v.data)
        return self.names[id(v)]

    def base_ids(self, v) -> frozenset:
        return self.bases.get(id(v), frozenset([id(v)]))

    def record_aliases(self, node, fallback: bool):
        """Which storage each output may share: views and fallbacks may return their inputs'."""
        ins = frozenset().union(*[self.base_ids(i) for i in node.inputs]) if node.inputs else frozenset()
        destroyed = {j for j in (getattr(node.op, "destroy_map", None) or {}).values()}
        for o in node.outputs:
            if fallback or node.op.view_of is not None:
                self.bases[id(o)] = ins | {id(o)}
            else:
                self.bases[id(o)] = frozenset({id(o)}).union(*[self.base_ids(node.inputs[j]) for j in destroyed])

    def may_destroy(self, node, j) -> str | None:
        """In-place write over input j: checked here against everything that reads the same
        storage later (rewriter mistakes included), then at run time by the returned test.

        Asked while `node` is rendered, before the later nodes are: their outputs' storage is
        not known yet (bases() holds only what earlier nodes recorded). It is not needed: a
        later value can hold the victim's old storage only through a later node that reads a
        value that holds it, and the first such node reads one made by now, which is checked."""
        victim = node.inputs[j]
        if isinstance(victim, Constant) or id(victim) in (id(i) for i in self.fgraph.inputs[:self.n_user]):
            return None
        outs = {id(o) for o in node.outputs}
        me = self.order[id(node)]

        def reads_old(v):      # v may share victim's storage without coming from this node
            b = self.base_ids(v)
            return id(victim) in b and not (b & outs)

        for k, i in enumerate(node.inputs):
            if k != j and i is not victim and reads_old(i):
                return None
        for n in self.nodes:
            if n is not node and self.order[id(n)] > me and any(reads_old(i) for i in n.inputs):
                return None
        if any(reads_old(o) for o in self.fgraph.outputs):
            return None
        if victim.owner is None:
            # A shared variable's storage only ever receives that variable's own update.
            k = self.fgraph.inputs.index(victim)
            kout = next(o for o, i in node.op.destroy_map.items() if i == j)
            places = [p for p, o in enumerate(self.fgraph.outputs) if o is node.outputs[kout]]
            if not places:
                return None
            self.destroyed_shared.add((k, places[0]))
            return f"destroy[{k}]"
        if self.bases.get(id(victim)) != frozenset({id(victim)}):
            return None       # only a buffer this module allocated itself
        return f"owned(S, {self.name(victim)})"


def machine_cores() -> int:
    """The cores this process may run on (compiles in parallel; program.usable_cores)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:
        return os.cpu_count() or 1


# A body of this many characters or more is split between two translation units, built at
# once (compiler.py) and linked into one module. Each unit parses the headers (about 0.4 s
# of g++ here) and the first also holds the module's glue (module.h and the entry points,
# worth about GLUE characters of node code), so shorter bodies gain nothing. The MLP
# training module (34k characters): 1.50 s of g++ as one unit; 0.97 and 0.90 s at once as
# two, then 0.05 s to link.
# Entry points (NodeCode.need), all in the first unit, weigh in the same way: a product
# entry (binary.h's and narrow.h's kernels for one type, 0.25 s of g++; the MLP module's
# units balanced at 10000) and a vmath.h function (0.02 s).
SPLIT_CHARS = 12000
GLUE = 9000
ENTRY_WEIGHT = {"SYMNB_PRODUCT_ENTRY": 10000, "SYMNB_VMATH_ENTRY": 1200}


def split_point(sizes, glue=GLUE) -> int | None:
    """Where the second unit starts (a node index), so the two units' compile work is about
    even, the first also holding `glue`; None to keep one unit."""
    if sum(sizes) < SPLIT_CHARS:
        return None
    half, acc, k = (sum(sizes) + glue) / 2, glue, 0
    while acc + sizes[k] / 2 < half:     # stops at the last node at the latest
        acc += sizes[k]
        k += 1
    return max(k, 1)


REST_DECLARATION = "int symnb_compute_rest(State* S, Arr** v, const bool* destroy);\n"
REST_CALL = "if (symnb_compute_rest(S, v, destroy) < 0) return -1;"
# Where the compiler (compiler._build) cuts the source in two.
SECOND_UNIT = "\n// ---- second translation unit: compiled at the same time, linked into the same module ----\n"

REST_UNIT = r"""// The rest of compute()'s nodes, run in order after the first unit's.
#define NO_IMPORT_ARRAY
{includes}
using namespace symnb;

#define SYMNB_NV {nv}

int symnb_compute_rest(State* S, Arr** v, const bool* destroy) {{
    (void)destroy;
{body}
    return 0;
}}
"""


class CFamilyRenderer:
    """The tables and the node walk of a C-family renderer. A subclass sets `code_for_op`
    (op class -> builder(node_code) -> code or None), `node_code` (what a builder sees, a
    NodeView) and `rendering` (what one graph's rendering gathers), may replace
    `scalar_table` entries (op name -> C expression, scalar.py) and `ctype`, and turns the
    walk into a source."""

    code_for_op: dict = {}
    scalar_table = SCALAR
    ctype = CTYPE
    node_code: type = NodeView
    rendering: type

    def scalar_code(self, name, params, args, in_dtypes, out_dtype, lanes=False):
        return scalar_code(name, params, args, in_dtypes, out_dtype, self.scalar_table, lanes)

    def walk(self, p, out: Rendered, wrap) -> list:
        """Each node's code, in p.nodes' order: its builder's, else its fallback's; `wrap`
        (k, node, code) -> what goes into the body. A node's number k (for its messages) is
        its place in out.wheres, which a loop's inner graph (render_scan.py) shares."""
        body = []
        for node in p.nodes:
            k = len(out.wheres)
            out.wheres.append(describe(node))
            builder = self.code_for_op.get(type(node.op))
            nc = self.node_code(p, node, k)
            code = builder(nc) if builder is not None else None
            fallback = code is None
            if fallback:
                code = self.fallback(nc, out)
            p.record_aliases(node, fallback)
            body.append(wrap(k, node, code))
        return body

    def fallback(self, nc, out: Rendered):
        raise NotImplementedError


class CppRenderer(CFamilyRenderer):
    """Graph -> CPython extension module source."""

    code_for_op = {**render_elemwise.CODE, **render_math.CODE, **render_array.CODE, **render_conv.CODE,
                   **render_scan.CODE}
    node_code = NodeCode        # v[i] names, buffers, in-place writes, entry points
    rendering = Rendering       # names and storage of one graph's values
    # Loops go to the worker pool once the arrays they touch reach 512 KiB: each thread then
    # works on the same part of them on every call, in its own core's cache (a+1 at 1e5
    # float32, 0.8 MB: 10.5 -> 6.7 us; NumPy 8.5-10). Below that, waking a worker costs
    # more than it saves.
    parallel_bytes = 1 << 19
    # Long bodies become two translation units that compile at once on two cores.
    split_units = machine_cores() >= 2

    def render(self, fgraph) -> Rendered:
        p = self.rendering(self, fgraph)
        out = p.out
        out.labels = [label(v, k) for k, v in enumerate(fgraph.inputs)]
        body = self.render_nodes(p)
        out_idx = [int(p.name(o)[2:-1]) for o in fgraph.outputs]
        destroyed = sorted(p.destroyed_shared)
        info = [
            c_array("int", "in_types", [NPY[v.dtype] for v in fgraph.inputs]),
            c_array("int", "in_ndim", [v.ndim for v in fgraph.inputs]),
            c_array("npy_intp", "in_shape", [s for v in fgraph.inputs for s in shape_entries(v)]),
            c_array("int", "out_idx", out_idx),
            c_array("int", "destroy_idx", [k for k, _ in destroyed]),
            c_array("int", "destroy_out", [o for _, o in destroyed]),
            f"static const Info INFO = {{{p.n_user}, {len(fgraph.inputs) - p.n_user}, {len(p.names)}, "
            f"{len(out_idx)}, {p.n_slots}, {len(destroyed)}, in_types, in_ndim, in_shape, out_idx, destroy_idx, "
            "destroy_out};",
        ]
        includes, nv = "\n".join(f'#include "{h}"' for h in HEADERS + tuple(sorted(p.headers))), max(len(p.names), 1)
        entries = sorted(p.entries)
        glue = GLUE + sum(ENTRY_WEIGHT[macro] for macro, _ in entries)
        cut = split_point([len(code) for code in body], glue) if self.split_units else None
        first, rest = (body, []) if cut is None else (body[:cut], body[cut:])
        out.source = MODULE.format(
            includes=includes, nv=nv, loads="\n    ".join(p.const_loads),
            declare_rest=REST_DECLARATION if rest else "",
            body="\n".join(first + ([REST_CALL] if rest else [])), info="\n".join(info),
            entries="\n".join(f"{macro}({arg})" for macro, arg in entries))
        if rest:
            out.source += SECOND_UNIT + REST_UNIT.format(includes=includes, nv=nv, body="\n".join(rest))
        return out

    def render_nodes(self, p) -> list:
        """The code of p's nodes, one block each (the top-level graph, and a loop's inner
        graph in render_scan.py)."""
        return self.walk(p, p.out, lambda k, node, code: f"// {k}: {node.op.name}\n{{\n{code}\n}}")

    def fallback(self, nc: NodeCode, out: Rendered) -> str:
        """Run the node's reference implementation (a Python callable handed over at load)."""
        node = nc.node
        out.fallbacks.append(node)
        fb = len(out.fallbacks) - 1
        outs = node.outputs
        return "\n".join([
            f"Arr* in[] = {{{', '.join(nc.ins) or 'NULL'}}};",
            f"Arr* out[{len(outs)}] = {{}};",
            c_array("int", "types", [NPY[o.dtype] for o in outs]),
            c_array("int", "ndims", [o.ndim for o in outs]),
            c_array("npy_intp", "shapes", [s for o in outs for s in shape_entries(o)]),
            f"int rc = fallback(S, {nc.k}, {fb}, {len(nc.ins)}, in, {len(outs)}, out, types, ndims, shapes);",
            " ".join(f"{o} = out[{j}];" for j, o in enumerate(nc.outs)),
            "if (rc < 0) return -1;"])


MODULE = r"""// Generated by symnb: one function graph as a CPython extension module.
{includes}
using namespace symnb;

#define SYMNB_NV {nv}
{declare_rest}
static int compute(State* S, Arr** v, const bool* destroy) {{
    (void)destroy;
    {loads}
{body}
    return 0;
}}

{info}
{entries}
#include "module.h"
"""
