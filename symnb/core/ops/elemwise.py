"""Elementwise ops: one table of scalar operations (NumPy impl + gradient rule side by side).

`Elemwise(name)` applies a scalar op with NumPy broadcasting; output dtypes are exactly
those NumPy gives (found by running the reference impl on one-element dummies).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..graph import Constant, as_variable
from ..types import TensorType, broadcast_shapes, canonical_dtype, is_float, result_dtype
from .base import Op, apply_op


def _special(name):
    """scipy.special.<name>, imported at first use: importing scipy.special costs more
    than half of `import symnb` and starts a second OpenBLAS thread pool."""
    def call(*args, **kwargs):
        import scipy.special
        return getattr(scipy.special, name)(*args, **kwargs)
    call.__name__ = call.__qualname__ = name
    return call


# Python's own precedence levels (loosest first), so pp's output reads and parses as Python.
CMP, OR, XOR, AND, ADD, MUL, UNARY, POW, ATOM = 1, 2, 3, 4, 10, 20, 30, 40, 100


@dataclass(frozen=True)
class ScalarOp:
    """A scalar operation: its NumPy implementation, its gradient rule, and its display facts
    (what pp, latex and the graph drawings read: one table for all of them)."""

    nin: int
    impl: Callable
    # grad(inputs, output, g) -> list of input gradients (None: no gradient); None: zero grad.
    grad: Callable | None
    symbol: str = ""      # infix (or, with one input, prefix) symbol; '' for function-call syntax
    integer_safe: bool = True
    prec: int = ATOM      # the symbol's precedence (Python's levels above)
    assoc: str | None = "left"    # "left", "right", None: comparisons chain, never group
    tex: str = ""         # LaTeX for the function name or relation symbol ('' : \operatorname{name})
    # How LaTeX writes it: "fn" f(x), "wrap" \sqrt{x} |x|, "same": as its input (casts, identity).
    tex_form: str = "fn"


def _int_div_check(fn):
    def impl(x, y):
        if np.issubdtype(np.result_type(x, y), np.integer) and np.any(np.asarray(y) == 0):
            raise ZeroDivisionError(f"integer {fn.__name__} by zero")
        return fn(x, y)
    impl.__name__ = fn.__name__
    return impl


def _variadic(fn):
    def impl(*xs):
        return functools.reduce(fn, xs)
    impl.__name__ = fn.__name__
    return impl


def _switch(c, a, b):
    return np.where(c, a, b)


def _identity(x):
    # np.positive would refuse booleans; identity must pass every dtype through.
    return np.array(x, copy=True)


def _zero_grads(inputs, z, g):
    return [zeros_like(x) if is_float(x.dtype) else None for x in inputs]


# name -> ScalarOp. Gradient rules are written with the functions below (x, y inputs,
# z output, g output gradient), right next to the forward rule.
SCALAR_OPS: dict[str, ScalarOp] = {
    "add": ScalarOp(-1, _variadic(np.add), lambda xs, z, g: [g] * len(xs), "+", prec=ADD),
    "mul": ScalarOp(-1, _variadic(np.multiply),
                    lambda xs, z, g: [mul(g, *[y for j, y in enumerate(xs) if j != i]) for i in range(len(xs))],
                    "*", prec=MUL),
    "sub": ScalarOp(2, np.subtract, lambda xs, z, g: [g, neg(g)], "-", prec=ADD),
    "true_div": ScalarOp(2, np.true_divide, lambda xs, z, g: [g / xs[1], neg(g) * xs[0] / sqr(xs[1])], "/", prec=MUL),
    "int_div": ScalarOp(2, _int_div_check(np.floor_divide), _zero_grads, "//", prec=MUL),
    "mod": ScalarOp(2, _int_div_check(np.remainder), lambda xs, z, g: [g, neg(g) * floor(xs[0] / xs[1])], "%", prec=MUL),
    "pow": ScalarOp(2, np.power, lambda xs, z, g: [
        g * xs[1] * pow(xs[0], xs[1] - 1),
        g * z * log(switch(eq(xs[0], 0), 1, xs[0])) if is_float(xs[1].dtype) else None],
        "**", prec=POW, assoc="right"),
    "neg": ScalarOp(1, np.negative, lambda xs, z, g: [neg(g)], "-", prec=UNARY),
    "abs": ScalarOp(1, np.abs, lambda xs, z, g: [g * sign(xs[0])], tex_form="wrap"),
    "sign": ScalarOp(1, np.sign, _zero_grads),
    "exp": ScalarOp(1, np.exp, lambda xs, z, g: [g * z], tex=r"\exp"),
    "exp2": ScalarOp(1, np.exp2, lambda xs, z, g: [g * z * np.log(2.0)]),
    "expm1": ScalarOp(1, np.expm1, lambda xs, z, g: [g * (z + 1)]),
    "log": ScalarOp(1, np.log, lambda xs, z, g: [g / xs[0]], tex=r"\log"),
    "log2": ScalarOp(1, np.log2, lambda xs, z, g: [g / (xs[0] * np.log(2.0))], tex=r"\log_{2}"),
    "log10": ScalarOp(1, np.log10, lambda xs, z, g: [g / (xs[0] * np.log(10.0))], tex=r"\log_{10}"),
    "log1p": ScalarOp(1, np.log1p, lambda xs, z, g: [g / (xs[0] + 1)]),
    "sqrt": ScalarOp(1, np.sqrt, lambda xs, z, g: [g * 0.5 / z], tex_form="wrap"),
    "sqr": ScalarOp(1, np.square, lambda xs, z, g: [g * 2 * xs[0]]),
    "reciprocal": ScalarOp(1, np.reciprocal, lambda xs, z, g: [neg(g) * sqr(z)]),
    "sin": ScalarOp(1, np.sin, lambda xs, z, g: [g * cos(xs[0])], tex=r"\sin"),
    "cos": ScalarOp(1, np.cos, lambda xs, z, g: [neg(g) * sin(xs[0])], tex=r"\cos"),
    "tan": ScalarOp(1, np.tan, lambda xs, z, g: [g * (1 + sqr(z))], tex=r"\tan"),
    "arcsin": ScalarOp(1, np.arcsin, lambda xs, z, g: [g / sqrt(1 - sqr(xs[0]))], tex=r"\arcsin"),
    "arccos": ScalarOp(1, np.arccos, lambda xs, z, g: [neg(g) / sqrt(1 - sqr(xs[0]))], tex=r"\arccos"),
    "arctan": ScalarOp(1, np.arctan, lambda xs, z, g: [g / (1 + sqr(xs[0]))], tex=r"\arctan"),
    "sinh": ScalarOp(1, np.sinh, lambda xs, z, g: [g * cosh(xs[0])], tex=r"\sinh"),
    "cosh": ScalarOp(1, np.cosh, lambda xs, z, g: [g * sinh(xs[0])], tex=r"\cosh"),
    "tanh": ScalarOp(1, np.tanh, lambda xs, z, g: [g * (1 - sqr(z))], tex=r"\tanh"),
    "arcsinh": ScalarOp(1, np.arcsinh, lambda xs, z, g: [g / sqrt(sqr(xs[0]) + 1)]),
    "arccosh": ScalarOp(1, np.arccosh, lambda xs, z, g: [g / sqrt(sqr(xs[0]) - 1)]),
    "arctanh": ScalarOp(1, np.arctanh, lambda xs, z, g: [g / (1 - sqr(xs[0]))]),
    "sigmoid": ScalarOp(1, _special("expit"), lambda xs, z, g: [g * z * (1 - z)], tex=r"\sigma"),
    # softplus(x) = log(1 + exp(x)) = logaddexp(0, x), computed without overflow.
    "softplus": ScalarOp(1, lambda x: np.logaddexp(0, x), lambda xs, z, g: [g * sigmoid(xs[0])]),
    "erf": ScalarOp(1, _special("erf"), lambda xs, z, g: [g * (2 / np.sqrt(np.pi)) * exp(neg(sqr(xs[0])))]),
    "erfc": ScalarOp(1, _special("erfc"), lambda xs, z, g: [g * (-2 / np.sqrt(np.pi)) * exp(neg(sqr(xs[0])))]),
    "floor": ScalarOp(1, np.floor, _zero_grads, tex_form="wrap"),
    "ceil": ScalarOp(1, np.ceil, _zero_grads, tex_form="wrap"),
    "round": ScalarOp(1, np.round, _zero_grads),
    "maximum": ScalarOp(2, np.maximum, lambda xs, z, g: [g * ge(xs[0], xs[1]), g * lt(xs[0], xs[1])], tex=r"\max"),
    "hypot": ScalarOp(2, np.hypot, lambda xs, z, g: [g * xs[0] / z, g * xs[1] / z], integer_safe=False),
    "minimum": ScalarOp(2, np.minimum, lambda xs, z, g: [g * le(xs[0], xs[1]), g * gt(xs[0], xs[1])], tex=r"\min"),
    "switch": ScalarOp(3, _switch, lambda xs, z, g: [None, switch(xs[0], g, 0), switch(xs[0], 0, g)]),
    "eq": ScalarOp(2, np.equal, _zero_grads, "==", prec=CMP, assoc=None, tex=r"="),
    "neq": ScalarOp(2, np.not_equal, _zero_grads, "!=", prec=CMP, assoc=None, tex=r"\neq"),
    "lt": ScalarOp(2, np.less, _zero_grads, "<", prec=CMP, assoc=None, tex=r"<"),
    "le": ScalarOp(2, np.less_equal, _zero_grads, "<=", prec=CMP, assoc=None, tex=r"\leq"),
    "gt": ScalarOp(2, np.greater, _zero_grads, ">", prec=CMP, assoc=None, tex=r">"),
    "ge": ScalarOp(2, np.greater_equal, _zero_grads, ">=", prec=CMP, assoc=None, tex=r"\geq"),
    "and_": ScalarOp(2, np.bitwise_and, None, "&", prec=AND, tex=r"\land"),
    "or_": ScalarOp(2, np.bitwise_or, None, "|", prec=OR, tex=r"\lor"),
    "xor": ScalarOp(2, np.bitwise_xor, None, "^", prec=XOR, tex=r"\oplus"),
    "invert": ScalarOp(1, np.invert, None, "~", prec=UNARY, tex=r"\lnot"),
    "identity": ScalarOp(1, _identity, lambda xs, z, g: [g], tex_form="same"),
    # Identity whose gradient is zero (stop_gradient / PyTensor's zero_grad).
    "zero_grad": ScalarOp(1, _identity, _zero_grads, tex_form="same"),
}


@functools.lru_cache(maxsize=4096)
def _numpy_dtype(name: str, dtypes: tuple, params: tuple) -> str:
    """The dtype NumPy's own function gives for these input dtypes."""
    dummies = [np.ones((1,), d) for d in dtypes]
    with np.errstate(all="ignore"):
        return np.asarray(Elemwise(name, params).perform(*dummies)[0]).dtype.name


@dataclass(frozen=True)
class Elemwise(Op):
    """Apply the scalar op `scalar` elementwise with NumPy broadcasting."""
    shaped_like = "broadcast"
    shape_arithmetic = True

    scalar: str
    params: tuple = ()    # ('float32',) for cast

    @property
    def name(self):
        return f"cast{{{self.params[0]}}}" if self.scalar == "cast" else self.scalar

    @property
    def label(self) -> str:
        """Drawings write a binary operator by its symbol (+, *, <), anything else by name."""
        spec = self.spec
        return spec.symbol if spec.symbol and spec.nin != 1 else self.name

    @property
    def spec(self) -> ScalarOp:
        return SCALAR_OPS[self.scalar] if self.scalar != "cast" else _CAST

    def infer(self, *inputs):
        spec = self.spec
        if spec.nin not in (-1, len(inputs)):
            raise TypeError(f"{self.name} takes {spec.nin} inputs, got {len(inputs)}")
        shape = broadcast_shapes(*[i.type.shape for i in inputs], opname=self.name,
                                 types=[i.type for i in inputs])
        try:
            dtype = _numpy_dtype(self.scalar, tuple(i.dtype for i in inputs), self.params)
        except TypeError as e:
            raise TypeError(f"{self.name} is not defined for dtypes "
                            f"{', '.join(i.dtype for i in inputs)} ({e})") from None
        return [TensorType(dtype, shape)]

    def perform(self, *arrays):
        if self.scalar == "cast":
            return (np.asarray(arrays[0]).astype(self.params[0]),)
        with np.errstate(all="ignore"):
            return (np.asarray(self.spec.impl(*arrays)),)

    def validate(self, node, arrays, outputs):
        from .shape import check_static_broadcast
        check_static_broadcast(self.name, node.inputs, arrays, outputs[0].shape)

    def grad(self, inputs, outputs, gouts):
        g = gouts[0]
        spec = self.spec
        if spec.grad is None:
            return [None] * len(inputs)
        grads = spec.grad(list(inputs), outputs[0], g)
        result = []
        for x, gx in zip(inputs, grads):
            if gx is None or not is_float(x.dtype):
                result.append(None)
                continue
            gx = as_variable(gx)
            from .shape import sum_to
            result.append(cast(sum_to(gx, x), x.dtype))
        return result


# cast{dtype}: its impl needs the target dtype, so perform() special-cases it.
_CAST = ScalarOp(1, None, lambda xs, z, g: [g], tex_form="same")


COMPARISONS = ("eq", "neq", "lt", "le", "gt", "ge")


def apply_elemwise(name, *inputs):
    """Build Elemwise(name)(*inputs), giving weak Python literals the other operands' dtype.

    NEP 50: int8 + 1 stays int8, float32 * 2.5 stays float32, int8 + 1000 is an error
    (NumPy's OverflowError), except in comparisons, which NumPy makes exact.
    """
    inputs = [as_variable(i) for i in inputs]
    # The condition of a switch selects; it takes no part in the result's dtype.
    lead = 1 if name == "switch" else 0
    weak = [j >= lead and isinstance(v, Constant) and v.weak for j, v in enumerate(inputs)]
    if any(weak) and not all(weak[lead:]):
        operands = [v.data.item() if w else v.dtype for v, w in zip(inputs[lead:], weak[lead:])]
        try:
            with np.errstate(over="ignore"):     # float32 + 1e300 is inf, as in NumPy
                common = result_dtype(*operands)
                inputs = [Constant(np.asarray(v.data.item(), dtype=common)) if w else v
                          for v, w in zip(inputs, weak)]
        except OverflowError as e:
            if name not in COMPARISONS:
                raise TypeError(f"{name}: {e} (the literal does not fit the other operand's dtype; "
                                f"cast the tensor first, e.g. x.astype('int64'))") from None
            # An out-of-range literal keeps its own dtype: the comparison promotes and stays exact.
            inputs = [Constant(v.data) if w else v for v, w in zip(inputs, weak)]
    return apply_op(Elemwise(name), inputs)


def _fn(name):
    def f(*xs):
        return apply_elemwise(name, *xs)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"Elementwise {name} with NumPy broadcasting and dtype rules."
    return f


for _name in SCALAR_OPS:
    globals()[_name] = _fn(_name)

# Names Python reserves or that read better with the PyTensor spelling.
true_div = globals()["true_div"]
pow = globals()["pow"]   # noqa: A001  (symbolic pow, shadows the builtin on purpose)
abs = globals()["abs"]   # noqa: A001
round = globals()["round"]  # noqa: A001


def cast(x, dtype):
    """Convert x to dtype (NumPy astype semantics: C-style truncation for float -> int)."""
    x = as_variable(x)
    dtype = canonical_dtype(dtype)
    if x.dtype == dtype:
        return x
    return apply_op(Elemwise("cast", (dtype,)), [x])


def zeros_like(x, dtype=None):
    x = as_variable(x)
    from .shape import alloc
    return alloc(np.zeros((), dtype or x.dtype), x.shape)


def ones_like(x, dtype=None):
    x = as_variable(x)
    from .shape import alloc
    return alloc(np.ones((), dtype or x.dtype), x.shape)


def clip(x, lo, hi):
    """np.clip: min(max(x, lo), hi)."""
    return minimum(maximum(x, lo), hi)


def where(cond, a, b):
    return switch(cond, a, b)
