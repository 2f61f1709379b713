"""C++ for Scan nodes (stage "backend renderer"): the whole loop inside the module.

The body is the inner graph rendered by the same renderer (its nodes share the module's
buffer slots, constants and messages) as a lambda called once per step; sequences and past
states reach it through row views moved along their arrays (scan.h), and each step's
results are copied into state buffers allocated once per call. A state whose history no
one reads (`keep`) lives in a ring of lag + 1 rows: memory O(state), not O(n_steps).
"""
from __future__ import annotations

import json

from ...core.ops.scan import Scan
from ..base import FunctionGraph
from .scalar import NPY


def _c(text: str) -> str:
    return json.dumps(text)


def _inner(c):
    """(statements loading the body's constants, its node blocks, inner value count, the
    v[] index of each inner output), rendered with the outer program's shared tables."""
    op = c.node.op
    p = c.renderer.rendering(c.renderer, FunctionGraph(list(op.inner_inputs), list(op.inner_outputs)))
    p.out, p.n_slots, p.entries, p.headers = c.program.out, c.program.n_slots, c.program.entries, c.program.headers
    blocks = c.renderer.render_nodes(p)
    outs = [int(p.name(o)[2:-1]) for o in op.inner_outputs]
    c.program.n_slots = p.n_slots
    return p.const_loads, blocks, len(p.names), outs


def _pos(op, k, expr):
    """Row of state k's buffer holding history position `expr` (a ring when kept)."""
    return f"(({expr}) % {op.lags[k] + 1})" if op.kept(k) else f"({expr})"


def scan(c):
    op: Scan = c.node.op
    k, name = c.k, op.name
    N, seqs, inits, nonseqs = op.split_inputs(c.ins)
    loads, blocks, n_inner, inner_outs = _inner(c)
    n_in = len(op.inner_inputs)
    L = [f"const int64_t n = get_int({N});",
         f'if (n < 0) return fail(S, {k}, PyExc_ValueError, "{name}: n_steps must be >= 0, got %lld", (long long)n);']
    for j, s in enumerate(seqs):
        L.append(f"if (PyArray_DIM({s}, 0) < n) return fail(S, {k}, PyExc_ValueError, \"{name}: n_steps is %lld, "
                 f"but %s gives only %ld steps\", (long long)n, {_c(op.seq_label(j))}, (long)PyArray_DIM({s}, 0));")
        L.append(f"Ref Q{j}(row_view({s})); if (!Q{j}.p) return -1;")
    for s, (x, lag) in enumerate(zip(inits, op.lags)):
        nd = c.node.inputs[1 + len(seqs) + s].ndim
        rows = f"{lag + 1}" if op.kept(s) else f"{lag} + n"
        L += [f"if (PyArray_DIM({x}, 0) != {lag}) return fail(S, {k}, PyExc_ValueError, \"{name}: the initial state "
              f"of %s needs {lag} rows (taps {list(op.taps[s])}), got %ld\", {_c(op.out_label(s))}, "
              f"(long)PyArray_DIM({x}, 0));",
              f"npy_intp d{s}[{nd}]; d{s}[0] = {rows};",
              f"for (int d = 1; d < {nd}; d++) d{s}[d] = PyArray_DIM({x}, d);",
              f"Ref B{s}(buffer({c.slot()}, {nd}, d{s}, {NPY[c.node.outputs[s].dtype]}));",
              f"if (!B{s}.p) return refail(S, {k});",
              f"if (put_head(S, {k}, B{s}.a(), {x}) < 0) return -1;",
              f"Ref W{s}(row_view(B{s}.a())); if (!W{s}.p) return -1;"]
        L += [f"Ref R{s}_{m}(row_view(B{s}.a())); if (!R{s}_{m}.p) return -1;" for m in range(len(op.taps[s]))]
    mapped = range(op.n_mapped)
    L += [f"Ref M{j}, MV{j};" for j in mapped]
    L += ["int64_t done = n;",
          "auto body = [&](Arr** v) -> int {",
          "const bool* destroy = nullptr; (void)destroy;", *loads, *blocks, "return 0;", "};",
          "for (int64_t t = 0; t < n; t++) {",
          f"Arr* w[{max(n_in, n_inner)}] = {{}};"]
    slot = 0
    for j, s in enumerate(seqs):
        L.append(f"set_row(Q{j}.a(), {s}, t); w[{slot}] = Q{j}.a();")
        slot += 1
    for s, taps in enumerate(op.taps):
        for m, tap in enumerate(taps):
            L.append(f"set_row(R{s}_{m}.a(), B{s}.a(), {_pos(op, s, f'{op.lags[s]} + t + ({tap})')}); "
                     f"w[{slot}] = R{s}_{m}.a();")
            slot += 1
    for x in nonseqs:
        L.append(f"w[{slot}] = {x};")
        slot += 1
    L.append("int rc = body(w);")
    for s in range(op.n_states):
        L.append(f"if (rc == 0) rc = put_row(S, {k}, W{s}.a(), B{s}.a(), {_pos(op, s, f'{op.lags[s]} + t')}, "
                 f"w[{inner_outs[s]}], {_c(op.out_label(s))}, \"its initial state\", t);")
    for j in mapped:
        o = c.node.outputs[op.n_states + j]
        src = f"w[{inner_outs[op.n_states + j]}]"
        L += ["if (rc == 0 && t == 0) {",
              f"npy_intp dm[{o.ndim}]; dm[0] = n;",
              f"if (PyArray_NDIM({src}) != {o.ndim - 1}) rc = fail(S, {k}, PyExc_TypeError, \"{name}: a body output "
              f"has the wrong number of dimensions\");",
              f"else {{ memcpy(dm + 1, PyArray_DIMS({src}), {o.ndim - 1} * sizeof(npy_intp)); "
              f"M{j}.reset(buffer({c.slot()}, {o.ndim}, dm, {NPY[o.dtype]})); }}",
              f"if (rc == 0 && !M{j}.p) rc = refail(S, {k});",
              f"if (rc == 0) {{ MV{j}.reset(row_view(M{j}.a())); if (!MV{j}.p) rc = -1; }}",
              "}",
              f"if (rc == 0) rc = put_row(S, {k}, MV{j}.a(), M{j}.a(), t, {src}, {_c(op.out_label(op.n_states + j))}, "
              "\"its value at step 0\", t);"]
    stop = f"*(const npy_bool*)PyArray_DATA(w[{inner_outs[-1]}])" if op.until else "false"
    L += [f"const bool stop = rc == 0 && {stop};",
          f"for (int i = {n_in}; i < {n_inner}; i++) Py_XDECREF(w[i]);",
          "if (rc < 0) return -1;",
          "if (stop) { done = t + 1; break; }",
          "}"]
    L += _results(c, op)
    return "\n".join(L)


def _results(c, op):
    """Statements setting the node's outputs: the buffers (cut to the steps run), a kept
    state's last lag rows in order, the mapped outputs."""
    k, L = c.k, []
    for s, lag in enumerate(op.lags):
        out = c.outs[s]
        if op.kept(s):
            nd = c.node.outputs[s].ndim
            L += [f"d{s}[0] = {lag};",
                  f"{out} = buffer({c.slot()}, {nd}, d{s}, {NPY[c.node.outputs[s].dtype]});",
                  f"if (!{out}) return refail(S, {k});",
                  f"Ref O{s}(row_view({out})); if (!O{s}.p) return -1;",
                  f"for (int64_t p = 0; p < {lag}; p++) {{",
                  f"set_row(R{s}_0.a(), B{s}.a(), {_pos(op, s, 'done + p')});",
                  f"if (put_row(S, {k}, O{s}.a(), {out}, p, R{s}_0.a(), \"\", \"\", 0) < 0) return -1;",
                  "}"]
        else:
            L += [f"if (done == n) {{ Py_INCREF(B{s}.p); {out} = B{s}.a(); }}",
                  f"else {out} = head(B{s}.a(), {lag} + done);",
                  f"if (!{out}) return -1;"]
    for j in range(op.n_mapped):
        o = c.node.outputs[op.n_states + j]
        out = c.outs[op.n_states + j]
        static = ", ".join(["0"] + [str(x or 0) for x in o.type.shape[1:]])
        L += [f"if (!M{j}.p) {{",
              f"npy_intp dz[{o.ndim}] = {{{static}}};",
              f"M{j}.reset(buffer({c.slot()}, {o.ndim}, dz, {NPY[o.dtype]})); if (!M{j}.p) return refail(S, {k});",
              "}",
              f"if (done == n || PyArray_DIM(M{j}.a(), 0) == 0) {{ Py_INCREF(M{j}.p); {out} = M{j}.a(); }} "
              f"else {out} = head(M{j}.a(), done);",
              f"if (!{out}) return -1;"]
    return L


CODE = {Scan: scan}
