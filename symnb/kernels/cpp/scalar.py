"""C++ code for each elementwise scalar op, as a table (name -> code builder).

Used by the C++ renderer for Elemwise and Fused loop bodies; a CUDA renderer can start
from the same table and override entries. Semantics match NumPy's ufunc loops.
"""
from __future__ import annotations

import math

import numpy as np

CTYPE = {"float64": "double", "float32": "float", "int8": "int8_t", "int16": "int16_t", "int32": "int32_t",
         "int64": "int64_t", "uint8": "uint8_t", "uint16": "uint16_t", "uint32": "uint32_t",
         "uint64": "uint64_t", "bool": "npy_bool"}
NPY = {"float64": "NPY_FLOAT64", "float32": "NPY_FLOAT32", "int8": "NPY_INT8", "int16": "NPY_INT16",
       "int32": "NPY_INT32", "int64": "NPY_INT64", "uint8": "NPY_UINT8", "uint16": "NPY_UINT16",
       "uint32": "NPY_UINT32", "uint64": "NPY_UINT64", "bool": "NPY_BOOL"}

# libm names; float32 uses the f-suffixed function.
MATH = {"exp": "exp", "exp2": "exp2", "expm1": "expm1", "log": "log", "log2": "log2", "log10": "log10",
        "log1p": "log1p", "sqrt": "sqrt", "sin": "sin", "cos": "cos", "tan": "tan", "arcsin": "asin",
        "arccos": "acos", "arctan": "atan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "arcsinh": "asinh",
        "arccosh": "acosh", "arctanh": "atanh", "erf": "erf", "erfc": "erfc", "floor": "floor", "ceil": "ceil",
        "round": "nearbyint", "sigmoid": "symnb_sigmoid", "softplus": "symnb_softplus"}
INFIX = {"add": "+", "sub": "-", "mul": "*", "eq": "==", "neq": "!=", "lt": "<", "le": "<=", "gt": ">",
         "ge": ">="}
BITWISE = {"and_": "&", "or_": "|", "xor": "^"}


def literal(value, dtype) -> str:
    """A C++ literal of this dtype."""
    if dtype == "bool":
        return "1" if value else "0"
    if dtype.startswith(("int", "uint")):
        return f"(({CTYPE[dtype]}){int(value)}LL)" if dtype != "uint64" else f"(({CTYPE[dtype]}){int(value)}ULL)"
    v = float(value)
    if math.isnan(v):
        return f"(({CTYPE[dtype]})NAN)"
    if math.isinf(v):
        return f"(({CTYPE[dtype]}){'-' if v < 0 else ''}INFINITY)"
    return f"(({CTYPE[dtype]}){v!r})"


def scalar_code(name, params, args, in_dtypes, out_dtype):
    """C++ expression for one scalar op, or None when this backend has no code for it."""
    if out_dtype not in CTYPE or any(d not in CTYPE for d in in_dtypes):
        return None
    T = CTYPE[out_dtype]
    is_float = out_dtype.startswith("float")
    common = np.result_type(*in_dtypes).name if in_dtypes else out_dtype
    C = CTYPE.get(common)
    fsuf = "f" if out_dtype == "float32" else ""
    cast = [f"(({T}){a})" for a in args]
    if name == "cast":
        return f"(({T})({args[0]} != 0))" if out_dtype == "bool" else f"(({T}){args[0]})"
    if out_dtype == "bool" and name in ("add", "mul", "sub", "true_div"):
        return None                                    # NumPy's boolean arithmetic: leave to NumPy
    if name in ("add", "mul") and len(args) >= 2:
        return "(" + f" {INFIX[name]} ".join(cast) + ")"
    if name == "sub":
        return f"({cast[0]} - {cast[1]})"
    if name in ("eq", "neq", "lt", "le", "gt", "ge"):
        return f"((npy_bool)((({C}){args[0]}) {INFIX[name]} (({C}){args[1]})))"
    if name in BITWISE:
        return f"(({T})({cast[0]} {BITWISE[name]} {cast[1]}))"
    if name == "invert":
        return f"((npy_bool)!{args[0]})" if out_dtype == "bool" else f"(({T})~{args[0]})"
    if name == "true_div":
        return f"({cast[0]} / {cast[1]})" if is_float else None
    if name == "int_div":
        return f"symnb_fdiv_np<{T}>({cast[0]}, {cast[1]})" if is_float else f"symnb_idiv<{T}>({cast[0]}, {cast[1]}, &err)"
    if name == "mod":
        return f"symnb_fmod_np<{T}>({cast[0]}, {cast[1]})" if is_float else f"symnb_imod<{T}>({cast[0]}, {cast[1]}, &err)"
    if name == "pow":
        return f"pow{fsuf}({cast[0]}, {cast[1]})" if is_float else f"symnb_ipow<{T}>({cast[0]}, {cast[1]}, &err)"
    if name == "neg":
        return f"(({T})-{cast[0]})"
    if name == "abs":
        return f"fabs{fsuf}({cast[0]})" if is_float else f"(({T})({cast[0]} < 0 ? -{cast[0]} : {cast[0]}))"
    if name == "sign":
        return f"symnb_sign<{T}>({cast[0]})"
    if name == "sqr":
        return f"({cast[0]} * {cast[0]})"
    if name == "reciprocal":
        return f"(({T})1 / {cast[0]})" if is_float else None
    if name == "maximum":
        return f"symnb_max<{T}>({cast[0]}, {cast[1]})"
    if name == "minimum":
        return f"symnb_min<{T}>({cast[0]}, {cast[1]})"
    if name == "switch":
        return f"({args[0]} ? {cast[1]} : {cast[2]})"
    if name in ("identity", "zero_grad"):
        return cast[0]
    if name in MATH and is_float:
        return f"{MATH[name]}{fsuf}({cast[0]})"
    return None
