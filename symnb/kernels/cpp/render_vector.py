"""Explicit AVX-512 kernels for float loops (stage "backend renderer").

An eligible node's kernel is written with vec.h's lane types (16 float32 or 8 float64 lanes)
instead of as an `omp simd` loop: its whole steps run on a 64-byte aligned output (NumPy's
large arrays start 16 bytes off a cache line, and GCC's loop splits every access over two:
2*a+3*b float32 over 50k elements here took 12% longer, over 1000 elements 30%), the ends of
the range are masked steps instead of a scalar loop, and the float32 transcendentals of
vmath.h are inline (GCC calls a vector function per 16 lanes, and the call, with every
register saved around it, cost as much as expf itself). Eligible: every operand, result and
intermediate value of one float dtype, every inner op in the table below. The `#else`
branch keeps the `omp simd` kernel for compilers without AVX-512; both compute the same bits.
"""
from __future__ import annotations

import re

from ...core.graph import Constant, toposort
from ...core.ops import Elemwise
from .scalar import MATH, VMATH, literal

LANES = {"float32": "symnb::v16", "float64": "symnb::v8"}
_INFIX = {"add": " + ", "mul": " * ", "sub": " - ", "true_div": " / "}
# Inner ops that are one function of vec.h / vmath.h (V::exp, V::tanh, ...).
FUNCTIONS = {name: MATH[name] for name in MATH if name not in ("floor", "ceil", "round")} | {
    "sigmoid": "sigmoid", "softplus": "softplus", "abs": "abs"}
TRANSCENDENTAL = frozenset(FUNCTIONS) - {"sqrt", "abs"}


def vector_op(name, args, one):
    """The vector expression of one inner op, or None when the kernels have none. `one` is
    the literal 1 of the dtype."""
    if name in _INFIX and (len(args) == 2 or name in ("add", "mul")):
        return "(" + _INFIX[name].join(args) + ")"
    if len(args) != 1:
        return None
    a = args[0]
    if name in ("identity", "zero_grad"):
        return a
    if name == "neg":
        return f"(-{a})"
    if name == "sqr":
        return f"({a} * {a})"
    if name == "reciprocal":
        return f"({one} / {a})"
    if name in FUNCTIONS:
        return f"V::{FUNCTIONS[name]}({a})"
    return None


def vector_body(inner_in, inner_out, names):
    """(statements, result expressions, whether it calls a transcendental) of one step over
    the inner graph, or None. `names` are the C expressions (V::F) of the inner inputs."""
    dtype = inner_out[0].dtype
    if dtype not in LANES or any(v.dtype != dtype for v in (*inner_in, *inner_out)):
        return None
    known = {id(v): n for v, n in zip(inner_in, names)}
    lines, calls = [], False

    def expr(v):
        if id(v) in known:
            return known[id(v)]
        if isinstance(v, Constant) and v.dtype == dtype:
            return f"V::splat({literal(v.data.item(), dtype)})"
        return None

    for j, n in enumerate(toposort(list(inner_out))):
        if not isinstance(n.op, Elemwise) or n.outputs[0].dtype != dtype:
            return None
        args = [expr(i) for i in n.inputs]
        code = None if None in args or any(i.dtype != dtype for i in n.inputs) else \
            vector_op(n.op.scalar, args, literal(1, dtype))
        if code is None:
            return None
        calls = calls or n.op.scalar in TRANSCENDENTAL
        known[id(n.outputs[0])] = f"t{j}"
        lines.append(f"const V::F t{j} = {code};")
    results = [expr(o) for o in inner_out]
    return None if None in results else (lines, results, calls)


def kernel(dtype, params, loads, stmts, stores, calls, scalar_kernel) -> str:
    """The kernel lambda, else (no AVX-512) `scalar_kernel`: whole steps on an output 64-byte
    aligned, a masked step before them and one after. RTL GCSE and the second scheduling
    pass, off for the module (compiler.py), are back on for kernels that call transcendentals
    (`calls`): without them B's kernel took 12% longer.

    loads[i] is "x{j}" with its pointer b{i} and whether it is a scalar; stores are the
    result expressions for q0, q1, ..."""
    lds = " ".join(f"const V::F {name} = {'V::splat(b%d[0])' % i if scalar else 'V::load(b%d + i, m)' % i};"
                   for i, (name, scalar) in enumerate(loads))
    # Whole steps of a `big` loop (render_elemwise.STREAM_BYTES) store past the caches
    # (V::stream, which needs a line) where the output lines up with q0, element-aligned: a
    # plain store first reads the line it writes.
    sts = " ".join(f"if (m == V::ALL && nt{k}) V::stream(q{k} + i, {r}); else V::store(q{k} + i, m, {r});"
                   for k, r in enumerate(stores))
    nts = " ".join(f"const bool nt{k} = big && (uintptr_t)q0 % sizeof(*q0) == 0"
                   + (f" && (uintptr_t)q{k} % sizeof(*q{k}) == 0 && V::to_line(q{k} + lo) == V::to_line(q0 + lo);"
                      if k else ";") for k in range(len(stores)))
    attrs = 'noinline, optimize("gcse", "schedule-insns2")' if calls else "noinline"
    return "\n".join([
        "#if SYMNB_V16",
        f"auto kern = []({', '.join(params)}) __attribute__(({attrs})) -> int {{ namespace V = {LANES[dtype]};",
        nts,
        "auto step = [&](npy_intp i, V::M m) __attribute__((always_inline)) {",
        f"{lds}", *stmts, f"{sts} }};",
        "const npy_intp head = V::to_line(q0 + lo) < hi - lo ? V::to_line(q0 + lo) : hi - lo;",
        "for (npy_intp i = lo, e = lo + head;;) {",
        "    if (i < e) { step(i, V::tail(e - i)); i = e; }",
        "    if (e == hi) break;",
        "    for (; i + V::LANES <= hi; i += V::LANES) step(i, V::ALL);",
        "    e = hi;",
        "}",
        "if (big) symnb::fence();",
        "return 0; };",
        "#else  // no AVX-512",
        scalar_kernel,
        "#endif  // no AVX-512"])


_FALLBACK = re.compile(r"^#else  // no AVX-512\n.*?^#endif  // no AVX-512$", re.S | re.M)
# Calls that need vmath.h's entry points, by function: its own name, and scalar.h's
# float32 helpers built on exp and log1p.
_HELPERS = {"exp": ("sigmoidf(", "softplusf("), "log1p": ("softplusf(",)}
_ENTRY_USES = {name: (f"symnb_{name}f(",) + _HELPERS.get(name, ()) for name in VMATH}


def vmath_entries(body: str) -> str:
    """SYMNB_VMATH_ENTRY lines for the vmath.h functions that `omp simd` loops or scalar code
    of this module call (about 20 ms of compile time each, so only those)."""
    used = _FALLBACK.sub("", body)
    return "\n".join(f"SYMNB_VMATH_ENTRY({name})" for name, keys in _ENTRY_USES.items()
                     if any(k in used for k in keys))
