"""Reverse-mode symbolic differentiation: grad, jacobian, hessian, verify_grad.

Builds new graph nodes from each op's gradient rule (defined next to the op), so the
gradient is an ordinary graph that the rewriter simplifies and the backends compile.
"""
from __future__ import annotations

import warnings

import numpy as np

from .graph import Constant, Variable, as_variable, evaluate, replace, toposort
from .ops import NotDifferentiableError
from .ops import elemwise as E
from .ops.base import describe_inputs
from .types import is_float


class DisconnectedInputError(ValueError):
    """The cost does not depend on a variable that grad was asked to differentiate for."""


class GradientError(AssertionError):
    """verify_grad found the symbolic gradient far from the finite-difference estimate."""


def _describe(v: Variable) -> str:
    return f"{v.name!r} ({v.type})" if v.name else str(v.type)


def _where(node) -> str:
    return f" (built at {node.trace})" if node is not None and node.trace else ""


def grad(cost, wrt, consider_constant=None, disconnected_inputs="raise", known_grads=None, stabilize=True):
    """d cost / d wrt for a scalar float cost; a list of variables in gives a list out.

    `known_grads` {variable: its gradient} starts backpropagation from given gradients too
    (with cost=None, from them alone, as in PyTensor). With `stabilize`, the cost is first
    rewritten into numerically stable form (log(sigmoid) -> -softplus(-x), ...) so that the
    gradient is built from the stable expression too.
    """
    single = not isinstance(wrt, (list, tuple))
    wrt = [wrt] if single else list(wrt)
    known = _known_grads(known_grads)
    if cost is None:
        if not known:
            raise TypeError("grad: cost=None needs known_grads to start from")
    else:
        cost = as_variable(cost)
        if cost.ndim != 0:
            raise TypeError(f"grad: the cost must be a scalar, got {cost.type}; reduce it first "
                            "(e.g. cost.sum()) or use sn.jacobian")
        if not is_float(cost.dtype):
            raise TypeError(f"grad: the cost must have a float dtype, got {cost.dtype}")
    for w in wrt:
        if not isinstance(w, Variable):
            raise TypeError(f"grad: wrt must be symbolic variables, got {type(w).__name__}")
        if not is_float(w.dtype):
            raise TypeError(f"grad: cannot differentiate with respect to {_describe(w)}: "
                            "only float variables have gradients")
    if disconnected_inputs not in ("raise", "warn", "ignore"):
        raise ValueError("disconnected_inputs must be 'raise', 'warn' or 'ignore'")
    constant = {id(c) for c in (consider_constant or [])}
    if stabilize and not known:     # known_grads name nodes that must stay as built
        cost = _stabilized(cost, wrt + list(consider_constant or []))
    order = toposort([cost] if cost is not None else [v for v, _ in known])

    # Forward: which variables depend on some wrt (only through non-constant paths).
    depends = {id(w) for w in wrt}
    for node in order:
        if any(id(i) in depends and id(i) not in constant for i in node.inputs):
            depends.update(id(o) for o in node.outputs)

    grads: dict[int, Variable] = {} if cost is None else {id(cost): E.ones_like(cost)}
    for var, g in known:
        grads[id(var)] = g
    blocked = []   # (node, input) where the path to a wrt has no gradient
    for node in reversed(order):
        gouts = [grads.get(id(o)) for o in node.outputs]
        if all(g is None for g in gouts):
            continue
        live = [id(i) in depends and id(i) not in constant for i in node.inputs]
        if not any(live):
            continue
        if not node.op.differentiable:
            if not any(is_live and is_float(i.dtype) for i, is_live in zip(node.inputs, live)):
                continue    # reached only through integers (a draw's size): no gradient flows there
            raise NotDifferentiableError(
                f"grad: {node.op} is not differentiable, but the cost depends on its output"
                f"{_where(node)}\n  inputs: {describe_inputs(node.inputs)}")
        if len(gouts) > 1:
            gouts = [E.zeros_like(o) if g is None else g for o, g in zip(node.outputs, gouts)]
        gins = node.op.grad(list(node.inputs), list(node.outputs), gouts)
        for inp, gi, is_live in zip(node.inputs, gins, live):
            if not is_live:
                continue
            if gi is None:
                blocked.append((node, inp))
                continue
            prev = grads.get(id(inp))
            grads[id(inp)] = gi if prev is None else prev + gi

    result = []
    for w in wrt:
        g = grads.get(id(w))
        if g is None:
            g = _disconnected(w, order, blocked, depends, disconnected_inputs)
        result.append(E.cast(g, w.dtype) if g.dtype != w.dtype else g)
    return result[0] if single else result


def _known_grads(known_grads) -> list:
    """[(variable, gradient)] with each gradient of its variable's dtype and ndim."""
    out = []
    for var, g in (known_grads or {}).items():
        g = as_variable(g)
        if g.ndim != var.ndim:
            raise TypeError(f"grad: known_grads gives {_describe(var)} a gradient of type {g.type}; "
                            f"it needs {var.ndim} dimensions")
        out.append((var, g if g.dtype == var.dtype else E.cast(g, var.dtype)))
    return out


def _stabilized(cost, keep):
    """The cost rewritten by the stabilize pass, leaving the variables in `keep` untouched."""
    from .rewrite import rewrite
    from .rewrite.pipeline import STABILIZE_PASSES
    inner = [v for v in keep if v.owner is not None]
    holes = {v: Variable(v.type, name=v.name) for v in inner}
    (frozen,) = replace([cost], holes) if holes else [cost]
    (stable,) = rewrite([frozen], STABILIZE_PASSES).outputs
    return replace([stable], {h: v for v, h in holes.items()})[0] if holes else stable


def _disconnected(w, order, blocked, depends, mode):
    path = [n for n in blocked if id(w) in depends]
    if path:
        node, inp = path[0]
        culprit = inp.owner if inp.owner is not None else node
        msg = (f"grad: the cost depends on {_describe(w)} only through {culprit.op}, which has no "
               f"gradient{_where(culprit)}")
        if mode == "raise":
            raise NotDifferentiableError(msg)
    else:
        msg = (f"grad: the cost does not depend on {_describe(w)}; pass disconnected_inputs='ignore' "
               "to get a zero gradient instead")
        if mode == "raise":
            raise DisconnectedInputError(msg)
    if mode == "warn":
        warnings.warn(msg, stacklevel=3)
    return E.zeros_like(w)


def jacobian(expression, wrt, consider_constant=None, disconnected_inputs="raise"):
    """d expression[i] / d wrt for a vector expression: shape (n, *wrt.shape)."""
    from .ops.loop import map_range
    from .ops.shape import stack, shape
    expression = as_variable(expression)
    single = not isinstance(wrt, (list, tuple))
    wrt = [wrt] if single else list(wrt)
    if expression.ndim == 0:
        out = grad(expression, wrt, consider_constant, disconnected_inputs)
    elif expression.ndim != 1:
        raise TypeError(f"jacobian: the expression must be a vector, got {expression.type}; flatten it")
    else:
        n = expression.type.shape[0]
        if n is not None:
            rows = [grad(expression[i], wrt, consider_constant, disconnected_inputs) for i in range(n)]
            out = [stack([r[k] for r in rows]) if n else E.zeros_like(w)[None][:0]
                   for k, w in enumerate(wrt)]
        else:
            out = map_range(shape(expression)[0], lambda i: grad(
                expression[i], wrt, consider_constant, disconnected_inputs))
    return out[0] if single else out


def hessian(cost, wrt, consider_constant=None, disconnected_inputs="raise"):
    """Matrix of second derivatives of a scalar cost with respect to each vector in wrt."""
    single = not isinstance(wrt, (list, tuple))
    wrt = [wrt] if single else list(wrt)
    out = []
    for w in wrt:
        if w.ndim != 1:
            raise TypeError(f"hessian: wrt must be vectors, got {w.type}")
        g = grad(cost, w, consider_constant, disconnected_inputs)
        out.append(jacobian(g, w, consider_constant, disconnected_inputs))
    return out[0] if single else out


# PyTensor's finite-difference step and tolerances per dtype.
_EPS = {"float64": 1e-7, "float32": 3e-4, "float16": 1e-1}
_TOL = {"float64": 1e-4, "float32": 1e-2, "float16": 5e-2}


def verify_grad(fn, points, rng=None, eps=None, rel_tol=None, abs_tol=None, n_tests=2):
    """Check grad(fn) against finite differences along a random projection of fn's output.

    `fn` takes symbolic variables (one per point) and returns a symbolic tensor. Raises
    GradientError with the worst element when the two disagree.
    """
    rng = rng if rng is not None else np.random.default_rng(42)
    points = [np.asarray(p) for p in points]
    for p in points:
        if not is_float(p.dtype.name):
            raise TypeError(f"verify_grad: points must be float arrays, got {p.dtype}")
    dtype = max((p.dtype.name for p in points), key=lambda d: np.dtype(d).itemsize)
    eps = eps or _EPS[dtype]
    tol_a, tol_r = abs_tol or _TOL[dtype], rel_tol or _TOL[dtype]
    from .types import TensorType
    symbols = [Variable(TensorType(p.dtype.name, tuple(1 if s == 1 else None for s in p.shape)),
                        name=f"input{i}") for i, p in enumerate(points)]
    out = as_variable(fn(*symbols))
    env = dict(zip(symbols, points))
    out_val = evaluate([out], env)[0]
    for _ in range(n_tests):
        proj = Constant(rng.random(np.shape(out_val)).astype(out.dtype) + 0.5)
        cost = E.mul(out, proj).sum() if out.ndim else E.mul(out, proj)
        analytic = evaluate(grad(cost, symbols, disconnected_inputs="ignore"), env)

        def f(vals):
            return float(evaluate([cost], dict(zip(symbols, vals)))[0])
        for k, p in enumerate(points):
            numeric = np.zeros(p.shape, dtype="float64")
            for idx in np.ndindex(*p.shape):
                hi = [q.copy() for q in points]
                lo = [q.copy() for q in points]
                hi[k][idx] += eps
                lo[k][idx] -= eps
                numeric[idx] = (f(hi) - f(lo)) / (2 * eps)
            a = np.asarray(analytic[k], dtype="float64")
            abs_err = np.abs(a - numeric)
            rel_err = abs_err / np.maximum(np.abs(a) + np.abs(numeric), 1e-8)
            bad = ~((abs_err <= tol_a) | (rel_err <= tol_r))   # written so that nan counts as bad
            if np.any(bad):
                i = np.unravel_index(np.argmax(np.where(bad, rel_err, -1)), p.shape) if p.ndim else ()
                raise GradientError(
                    f"verify_grad: the gradient w.r.t. input {k} disagrees with finite differences at "
                    f"index {i}: symbolic {a[i]!r}, numeric {numeric[i]!r} (abs err {abs_err[i]:.3g}, "
                    f"rel err {rel_err[i]:.3g}; tolerances abs {tol_a}, rel {tol_r})")
