"""Explicit 16-lane kernels for float32 loops that call vector math (stage "backend renderer").

GCC vectorizes an `omp simd` loop that calls exp by calling a vector function once per 16
lanes; the call, with every vector register saved around it, costs about what exp itself
does. An eligible node's kernel is written here with vmath.h's vector type instead: the
same element code, its transcendentals inline, the end of the range under a lane mask. It
is eligible when every operand, result and intermediate value is float32, every inner op is
in VECTOR_OPS and at least one is a transcendental. The `#else` branch keeps the `omp simd`
kernel for compilers without AVX-512; both compute the same bits (vmath.h).
"""
from __future__ import annotations

import re

from ...core.graph import Constant, toposort
from ...core.ops import Elemwise
from .scalar import literal

# Inner op -> vector expression over vmath.h's V::F (args are C expressions of that type).
_INFIX = {"add": " + ", "mul": " * ", "sub": " - ", "true_div": " / "}
_INLINE = ("exp", "log1p", "sin", "cos", "sqrt", "abs", "sigmoid", "softplus")
_GLIBC = {"log": "log", "tan": "tan", "expm1": "expm1", "log2": "log2", "log10": "log10", "exp2": "exp2",
          "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "arcsin": "asin", "arccos": "acos", "arctan": "atan",
          "arcsinh": "asinh", "arccosh": "acosh", "arctanh": "atanh", "erf": "erf", "erfc": "erfc"}
TRANSCENDENTAL = frozenset(_INLINE + tuple(_GLIBC)) - {"sqrt", "abs"}


def vector_op(name, args):
    """The vector expression of one inner op, or None when the kernels have none."""
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
        return f"(1.0f / {a})"
    if name in _INLINE:
        return f"V::{name}({a})"
    if name in _GLIBC:
        return f"_ZGVeN16v_{_GLIBC[name]}f({a})"
    return None


def vector_body(inner_in, inner_out, names):
    """(statements, result expressions) of one 16-lane step over the inner graph, or None.

    `names` are the C expressions (V::F) of the inner inputs, in order."""
    if any(v.dtype != "float32" for v in (*inner_in, *inner_out)):
        return None
    known = {id(v): n for v, n in zip(inner_in, names)}
    lines, calls = [], False

    def expr(v):
        if id(v) in known:
            return known[id(v)]
        if isinstance(v, Constant) and v.dtype == "float32":
            return f"V::splat({literal(v.data.item(), 'float32')})"
        return None

    for j, n in enumerate(toposort(list(inner_out))):
        if not isinstance(n.op, Elemwise) or n.outputs[0].dtype != "float32":
            return None
        args = [expr(i) for i in n.inputs]
        code = None if None in args or any(i.dtype != "float32" for i in n.inputs) else vector_op(n.op.scalar, args)
        if code is None:
            return None
        calls = calls or n.op.scalar in TRANSCENDENTAL
        known[id(n.outputs[0])] = f"t{j}"
        lines.append(f"const V::F t{j} = {code};")
    results = [expr(o) for o in inner_out]
    return (lines, results) if calls and None not in results else None


def kernel(params, loads, stmts, stores, scalar_kernel) -> str:
    """The kernel lambda, else (no AVX-512) `scalar_kernel`: 16 lanes a step, whole steps
    on an output 64-byte aligned (NumPy's large arrays start 16 bytes off a cache line, and
    a step over two lines cost 7% here), a masked step before them and one after. RTL GCSE
    and the second scheduling pass, off for the module (compiler.py), are back on for these
    kernels: without them B's kernel took 12% longer.

    loads[i] is "x{j}" with its pointer b{i} and whether it is a scalar; stores are the
    result expressions for q0, q1, ..."""
    lds = " ".join(f"const V::F {name} = {'V::splat(b%d[0])' % i if scalar else 'V::load(b%d + i, m)' % i};"
                   for i, (name, scalar) in enumerate(loads))
    sts = " ".join(f"V::store(q{k} + i, m, {r});" for k, r in enumerate(stores))
    return "\n".join([
        "#if SYMNB_V16",
        f"auto kern = []({', '.join(params)}) __attribute__((noinline, optimize(\"gcse\", \"schedule-insns2\"))) "
        "-> int { namespace V = symnb::v16;",
        "auto step = [&](npy_intp i, V::M m) __attribute__((always_inline)) {",
        f"{lds}", *stmts, f"{sts} }};",
        "const npy_intp head = V::to_line(q0 + lo) < hi - lo ? V::to_line(q0 + lo) : hi - lo;",
        "for (npy_intp i = lo, e = lo + head;;) {",
        "    if (i < e) { step(i, V::tail(e - i)); i = e; }",
        "    if (e == hi) break;",
        "    for (; i + 16 <= hi; i += 16) step(i, V::ALL);",
        "    e = hi;",
        "}",
        "return 0; };",
        "#else  // no AVX-512",
        scalar_kernel,
        "#endif  // no AVX-512"])


_FALLBACK = re.compile(r"^#else  // no AVX-512\n.*?^#endif  // no AVX-512$", re.S | re.M)
# Calls that need vmath.h's entry points, by function (scalar.h's helpers call exp and log1p).
_ENTRY_USES = {"exp": ("symnb_expf(", "sigmoidf(", "softplusf("), "log1p": ("symnb_log1pf(", "softplusf("),
               "sin": ("symnb_sinf(",), "cos": ("symnb_cosf(",)}


def vmath_entries(body: str) -> str:
    """SYMNB_VMATH_ENTRY lines for the vmath.h functions that `omp simd` loops or scalar code
    of this module call (about 20 ms of compile time each, so only those)."""
    used = _FALLBACK.sub("", body)
    return "\n".join(f"SYMNB_VMATH_ENTRY({name})" for name, keys in _ENTRY_USES.items()
                     if any(k in used for k in keys))
