"""C++ code for each elementwise scalar op, as a table (name -> code builder).

Stage "backend renderer": the loops of Elemwise and Fused nodes are built from these
expressions; the helpers they call live in scalar.h. Semantics match NumPy's ufunc loops
(integer wraparound, floor division signs, NaN propagation). An entry marked `lanes` also
writes the op on whole vectors of one float dtype (vec.h's V::F, for the explicit AVX-512
kernels of render_vector.py) when asked with `Scalar.lanes`; the same entry serves both.
A CUDA renderer starts from the same table and overrides entries.
"""
from __future__ import annotations

import math

import numpy as np

CTYPE = {"float64": "double", "float32": "float", "int8": "int8_t", "int16": "int16_t", "int32": "int32_t",
         "int64": "int64_t", "uint8": "uint8_t", "uint16": "uint16_t", "uint32": "uint32_t",
         "uint64": "uint64_t", "bool": "npy_bool"}
# Every dtype a graph input may have; those without a CTYPE only reach Python fallbacks.
NPY = {name: f"NPY_{name.upper()}" for name in CTYPE} | {
    "float16": "NPY_FLOAT16", "complex64": "NPY_COMPLEX64", "complex128": "NPY_COMPLEX128"}

# libm names (the f-suffixed function for float32); scalar.h declares their SIMD forms and
# vec.h their lane forms (V::name without the namespace), except NO_LANES's.
MATH = {"exp": "exp", "exp2": "exp2", "expm1": "expm1", "log": "log", "log2": "log2", "log10": "log10",
        "log1p": "log1p", "sqrt": "sqrt", "sin": "sin", "cos": "cos", "tan": "tan", "arcsin": "asin",
        "arccos": "acos", "arctan": "atan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "arcsinh": "asinh",
        "arccosh": "acosh", "arctanh": "atanh", "erf": "erf", "erfc": "erfc", "floor": "floor", "ceil": "ceil",
        "round": "nearbyint", "sigmoid": "symnb::sigmoid", "softplus": "symnb::softplus", "abs": "fabs",
        "hypot": "hypot"}
NO_LANES = frozenset(["floor", "ceil", "round"])
# Calls that cost a few cycles an element, not tens (the rest count as transcendental).
CHEAP = frozenset(["sqrt", "abs", "floor", "ceil", "round"])
# Float32 functions that vmath.h implements itself (symnb_expf, ...; glibc's without AVX-512).
VMATH = ("exp", "log1p", "sin", "cos")
COMPARE = {"eq": "==", "neq": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
BITWISE = {"and_": "&", "or_": "|", "xor": "^"}
# Integer ops that wrap on overflow go through unsigned arithmetic (scalar.h).
WRAPPING = {"add": "wadd", "sub": "wsub", "mul": "wmul"}
# Integer ops that can fail set a bit in `err` (raised after the loop).
CHECKED = {"int_div": "idiv", "mod": "imod", "pow": "ipow"}


def literal(value, dtype) -> str:
    """A C++ literal of this dtype."""
    if dtype == "bool":
        return "1" if value else "0"
    if dtype.startswith(("int", "uint")):
        suffix = "ULL" if dtype.startswith("uint") else "LL"
        v = int(value)
        if v == -2 ** 63:
            return "((int64_t)(-9223372036854775807LL - 1))"
        return f"(({CTYPE[dtype]}){v}{suffix})"
    v = float(value)
    if math.isnan(v):
        return f"(({CTYPE[dtype]})NAN)"
    if math.isinf(v):
        return f"(({CTYPE[dtype]}){'-' if v < 0 else ''}INFINITY)"
    return f"(({CTYPE[dtype]}){v!r})"


def is_checked(name, out_dtype) -> bool:
    """Does this op's integer loop report errors through `err`?"""
    return name in CHECKED and not out_dtype.startswith("float")


class Scalar:
    """What a scalar-code entry sees: the op's name and params, the C expressions of its
    arguments, their dtypes and the output's, and the usual derived pieces. `lanes`: write
    the op on vec.h's lane type instead (every argument and the result of the one float
    dtype, so no casts). `calls` collects the (function, dtype) pairs the code calls."""

    __slots__ = ("name", "params", "args", "in_dtypes", "out_dtype", "T", "is_float", "is_bool", "cast", "f",
                 "lanes", "calls")

    def __init__(self, name, params, args, in_dtypes, out_dtype, lanes=False):
        self.name, self.params, self.args, self.in_dtypes, self.out_dtype = name, params, args, in_dtypes, out_dtype
        self.T = T = CTYPE[out_dtype]
        self.is_float = out_dtype.startswith("float")
        self.is_bool = out_dtype == "bool"
        self.lanes = lanes
        self.cast = list(args) if lanes else [f"(({T}){a})" for a in args]
        self.f = "f" if out_dtype == "float32" else ""
        self.calls = set()

    def call(self, fn):
        """fn(arguments) for a MATH function (or a libm one by its own name): float32's
        f-suffixed form, vmath.h's own for VMATH; on lanes V::fn, or None without one."""
        self.calls.add((fn, self.out_dtype))
        name = MATH.get(fn, fn)
        if self.lanes:
            return None if fn in NO_LANES else f"V::{name.removeprefix('symnb::')}({', '.join(self.cast)})"
        name = f"symnb_{fn}f" if fn in VMATH and self.f else f"{name}{self.f}"
        return f"{name}({', '.join(self.cast)})"


def lanes(entry):
    """Marks a table entry that also writes its op on lanes (Scalar.lanes)."""
    entry.lanes = True
    return entry


def _cast(s):
    return f"(({s.T})({s.args[0]} != 0))" if s.is_bool else f"(({s.T}){s.args[0]})"


def _compare(s):
    common = CTYPE.get(np.result_type(*s.in_dtypes).name)
    return None if common is None else \
        f"((npy_bool)((({common}){s.args[0]}) {COMPARE[s.name]} (({common}){s.args[1]})))"


# NumPy's boolean arithmetic: + is or, * is and; bitwise ops are logical.
_BOOL_OPS = {"add": "|", "mul": "&", **BITWISE, "maximum": "|", "minimum": "&"}


@lanes
def _arith(s):
    if s.is_bool:
        return "(npy_bool)(" + f" {_BOOL_OPS[s.name]} ".join(s.cast) + ")"
    if s.is_float:
        return "(" + f" {dict(add='+', mul='*', sub='-')[s.name]} ".join(s.cast) + ")"
    out = s.cast[0]
    for c in s.cast[1:]:
        out = f"symnb::{WRAPPING[s.name]}<{s.T}>({out}, {c})"
    return out


def _bitwise(s):
    if s.is_bool:
        return "(npy_bool)(" + f" {_BOOL_OPS[s.name]} ".join(s.cast) + ")"
    return None if s.is_float else f"(({s.T})({s.cast[0]} {BITWISE[s.name]} {s.cast[1]}))"


def _invert(s):
    if s.is_bool:
        return f"((npy_bool)!{s.args[0]})"
    return None if s.is_float else f"(({s.T})~{s.args[0]})"


def _checked(s):
    if s.is_float:
        return s.call("pow") if s.name == "pow" else \
            f"symnb::{'fdiv_np' if s.name == 'int_div' else 'fmod_np'}<{s.T}>({s.cast[0]}, {s.cast[1]})"
    return f"symnb::{CHECKED[s.name]}<{s.T}>({s.cast[0]}, {s.cast[1]}, &err)"


def _extreme(s):
    if s.is_bool:
        return "(npy_bool)(" + f" {_BOOL_OPS[s.name]} ".join(s.cast) + ")"
    return f"symnb::{'fmax_np' if s.name == 'maximum' else 'fmin_np'}<{s.T}>({s.cast[0]}, {s.cast[1]})"


@lanes
def _math(s):
    """A libm function (symnb's vmath.h for some float32 ones); integer rounding is identity,
    integer abs wraps."""
    if not s.is_float:
        return s.cast[0] if s.name in ("floor", "ceil", "round") else \
            f"symnb::iabs<{s.T}>({s.cast[0]})" if s.name == "abs" else None
    return s.call(s.name)


# op name -> entry(Scalar) -> C expression or None (no code for these dtypes). A backend
# copies the table and replaces entries; ALL_DTYPES entries also handle bool outputs (every
# other entry gives none for them); `lanes` entries also write float lanes.
SCALAR = {
    "cast": _cast,
    "identity": lanes(lambda s: s.cast[0]), "zero_grad": lanes(lambda s: s.cast[0]),
    **{name: _compare for name in COMPARE},
    "switch": lambda s: f"({s.args[0]} ? {s.cast[1]} : {s.cast[2]})",
    "add": _arith, "mul": _arith, "sub": _arith,
    **{name: _bitwise for name in BITWISE},
    "invert": _invert,
    "true_div": lanes(lambda s: f"({s.cast[0]} / {s.cast[1]})" if s.is_float else None),
    **{name: _checked for name in CHECKED},
    "neg": lanes(lambda s: f"(-{s.cast[0]})" if s.is_float else f"symnb::wneg<{s.T}>({s.cast[0]})"),
    "sign": lambda s: f"symnb::sign_np<{s.T}>({s.cast[0]})",
    "sqr": lanes(lambda s: f"({s.cast[0]} * {s.cast[0]})" if s.is_float else
                 f"symnb::wmul<{s.T}>({s.cast[0]}, {s.cast[0]})"),
    "reciprocal": lanes(lambda s: f"(({s.T})1 / {s.cast[0]})" if s.is_float else None),
    "maximum": _extreme, "minimum": _extreme,
    **{name: _math for name in MATH},
}
ALL_DTYPES = frozenset(["cast", "identity", "zero_grad", *COMPARE, "switch", "add", "mul", *BITWISE, "invert",
                        "maximum", "minimum", "floor", "ceil", "round"])


def scalar_code(name, params, args, in_dtypes, out_dtype, table=SCALAR, lanes=False):
    """(C expression, the calls it makes: Scalar.calls) for one scalar op, or None when this
    backend has no code for it (on `lanes`: no lane code)."""
    if out_dtype not in CTYPE or any(d not in CTYPE for d in in_dtypes):
        return None
    entry = table.get(name)
    if entry is None or (out_dtype == "bool" and name not in ALL_DTYPES) or \
            (lanes and not getattr(entry, "lanes", False)):
        return None
    s = Scalar(name, params, args, in_dtypes, out_dtype, lanes)
    code = entry(s)
    return None if code is None else (code, frozenset(s.calls))
