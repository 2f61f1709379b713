"""C++ code for each elementwise scalar op, as a table (name -> code builder).

Stage "backend renderer": the loops of Elemwise and Fused nodes are built from these
expressions; the helpers they call live in scalar.h. Semantics match NumPy's ufunc loops
(integer wraparound, floor division signs, NaN propagation). A CUDA renderer starts from
the same table and overrides entries.
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

# libm names (the f-suffixed function for float32); scalar.h declares their SIMD forms.
MATH = {"exp": "exp", "exp2": "exp2", "expm1": "expm1", "log": "log", "log2": "log2", "log10": "log10",
        "log1p": "log1p", "sqrt": "sqrt", "sin": "sin", "cos": "cos", "tan": "tan", "arcsin": "asin",
        "arccos": "acos", "arctan": "atan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "arcsinh": "asinh",
        "arccosh": "acosh", "arctanh": "atanh", "erf": "erf", "erfc": "erfc", "floor": "floor", "ceil": "ceil",
        "round": "nearbyint", "sigmoid": "symnb::sigmoid", "softplus": "symnb::softplus", "abs": "fabs"}
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


def scalar_code(name, params, args, in_dtypes, out_dtype):
    """C++ expression for one scalar op, or None when this backend has no code for it."""
    if out_dtype not in CTYPE or any(d not in CTYPE for d in in_dtypes):
        return None
    T = CTYPE[out_dtype]
    is_float = out_dtype.startswith("float")
    is_bool = out_dtype == "bool"
    cast = [f"(({T}){a})" for a in args]
    f = "f" if out_dtype == "float32" else ""
    if name == "cast":
        return f"(({T})({args[0]} != 0))" if is_bool else f"(({T}){args[0]})"
    if name in ("identity", "zero_grad") or (name in ("floor", "ceil", "round") and not is_float):
        return cast[0]
    if name in COMPARE:
        common = CTYPE.get(np.result_type(*in_dtypes).name)
        if common is None:
            return None
        return f"((npy_bool)((({common}){args[0]}) {COMPARE[name]} (({common}){args[1]})))"
    if name == "switch":
        return f"({args[0]} ? {cast[1]} : {cast[2]})"
    if is_bool:
        # NumPy's boolean arithmetic: + is or, * is and; bitwise ops are logical.
        ops = {"add": "|", "mul": "&", **BITWISE, "maximum": "|", "minimum": "&"}
        if name in ops:
            return "(npy_bool)(" + f" {ops[name]} ".join(cast) + ")"
        if name == "invert":
            return f"((npy_bool)!{args[0]})"
        return None
    if name in ("add", "mul", "sub"):
        if is_float:
            return "(" + f" {dict(add='+', mul='*', sub='-')[name]} ".join(cast) + ")"
        out = cast[0]
        for c in cast[1:]:
            out = f"symnb::{WRAPPING[name]}<{T}>({out}, {c})"
        return out
    if name in BITWISE:
        return None if is_float else f"(({T})({cast[0]} {BITWISE[name]} {cast[1]}))"
    if name == "invert":
        return None if is_float else f"(({T})~{args[0]})"
    if name == "true_div":
        return f"({cast[0]} / {cast[1]})" if is_float else None
    if name in CHECKED:
        if is_float:
            return {"int_div": f"symnb::fdiv_np<{T}>({cast[0]}, {cast[1]})",
                    "mod": f"symnb::fmod_np<{T}>({cast[0]}, {cast[1]})",
                    "pow": f"pow{f}({cast[0]}, {cast[1]})"}[name]
        return f"symnb::{CHECKED[name]}<{T}>({cast[0]}, {cast[1]}, &err)"
    if name == "neg":
        return f"(-{cast[0]})" if is_float else f"symnb::wneg<{T}>({cast[0]})"
    if name == "abs" and not is_float:
        return f"symnb::iabs<{T}>({cast[0]})"
    if name == "sign":
        return f"symnb::sign_np<{T}>({cast[0]})"
    if name == "sqr":
        return f"({cast[0]} * {cast[0]})" if is_float else f"symnb::wmul<{T}>({cast[0]}, {cast[0]})"
    if name == "reciprocal":
        return f"(({T})1 / {cast[0]})" if is_float else None
    if name in ("maximum", "minimum"):
        fn = "fmax_np" if name == "maximum" else "fmin_np"
        return f"symnb::{fn}<{T}>({cast[0]}, {cast[1]})"
    if name in MATH and is_float:
        fn = f"symnb_{name}f" if name in VMATH and f else f"{MATH[name]}{f}"
        return f"{fn}({cast[0]})"
    return None
