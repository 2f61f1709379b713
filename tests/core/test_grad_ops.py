"""verify_grad (finite differences along random projections) for every differentiable op."""
import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st
from symnb.core.ops.elemwise import SCALAR_OPS

rng = np.random.default_rng(2)
ANY = rng.standard_normal((3, 4))
POS = rng.uniform(0.5, 2.0, (3, 4))
UNIT = rng.uniform(-0.8, 0.8, (3, 4))
AWAY = np.sign(ANY) * (np.abs(ANY) + 0.2)       # away from the kinks at 0
DOMAIN = {"log": POS, "log2": POS, "log10": POS, "log1p": POS, "sqrt": POS, "reciprocal": POS,
          "arcsin": UNIT, "arccos": UNIT, "arctanh": UNIT, "tan": UNIT, "arccosh": POS + 1.0, "abs": AWAY}
NO_GRAD = {"sign", "floor", "ceil", "round", "eq", "neq", "lt", "le", "gt", "ge", "and_", "or_", "xor",
           "invert", "int_div", "zero_grad", "switch", "mod"}
UNARY = sorted(n for n, s in SCALAR_OPS.items() if s.nin == 1 and n not in NO_GRAD)


@pytest.mark.parametrize("name", UNARY)
def test_unary_grad(name):
    sn.verify_grad(getattr(st, name), [DOMAIN.get(name, ANY)], rng=rng)


@pytest.mark.parametrize("name,pts", [
    ("add", [ANY, ANY[0]]), ("sub", [ANY, ANY[:, :1]]), ("mul", [ANY, POS]), ("true_div", [ANY, POS]),
    ("pow", [POS, ANY]), ("maximum", [ANY, ANY + 0.3]), ("minimum", [ANY, ANY + 0.3]),
])
def test_binary_grad_with_broadcasting(name, pts):
    sn.verify_grad(getattr(st, name), pts, rng=rng)


def test_nary_and_switch_and_clip():
    sn.verify_grad(lambda a, b, c: a * b * c + a + b + c, [ANY, POS, UNIT], rng=rng)
    sn.verify_grad(lambda a, b: st.switch(a > 0, a * b, b), [AWAY, ANY], rng=rng)
    sn.verify_grad(lambda a: st.clip(a, -0.5, 0.5), [AWAY * 0.4 + 0.01], rng=rng)
    sn.verify_grad(lambda a: a % 1.5, [POS], rng=rng)


@pytest.mark.parametrize("kind", ["sum", "prod", "max", "min", "mean", "var", "std", "logsumexp"])
@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, False), (1, True), ((0, 1), True)])
def test_reduction_grads(kind, axis, keepdims):
    sn.verify_grad(lambda a: getattr(st, kind)(a, axis=axis, keepdims=keepdims), [POS + ANY * 0.1], rng=rng)


@pytest.mark.parametrize("fn", [
    lambda a: a.T, lambda a: a.dimshuffle(1, "x", 0), lambda a: a.reshape((2, 6)), lambda a: a.flatten(),
    lambda a: st.concatenate([a, a * 2], axis=0), lambda a: st.stack([a, a ** 2], axis=2),
    lambda a: a[1:, ::2], lambda a: a[::-1, 1], lambda a: a[[0, 2, 0]], lambda a: a[:, [3, 3, 1]],
    lambda a: st.set_subtensor(a[1:], a[:-1] * 2), lambda a: st.inc_subtensor(a[[0, 0]], a[1] ** 2),
    lambda a: st.squeeze(st.expand_dims(a, 0)), lambda a: st.alloc(a[0], 2, 4),
    lambda a: st.outer(a[0], a[1]), lambda a: st.tensordot(a, a, [[1], [1]]),
    lambda a: st.matmul(st.stack([a, a]), a.T), lambda a: st.dot(a, a[0]), lambda a: st.dot(a[:, 0], a),
    lambda a: st.dot(a[0], a[1]), lambda a: st.softmax(a), lambda a: st.log_softmax(a, axis=0),
], ids=lambda f: f.__code__.co_firstlineno)
def test_structural_grads(fn):
    sn.verify_grad(fn, [ANY], rng=rng)


def test_crossentropy_grads():
    labels = np.array([0, 3, 1])
    sn.verify_grad(lambda a: st.categorical_crossentropy(st.softmax(a), labels), [ANY], rng=rng)
    sn.verify_grad(lambda a: st.categorical_crossentropy(st.softmax(a), np.eye(4)[labels]), [ANY], rng=rng)
    targets = (rng.random((3, 4)) > 0.5).astype(float)
    sn.verify_grad(lambda a: st.binary_crossentropy(st.sigmoid(a), targets), [ANY], rng=rng)


def test_verify_grad_catches_a_wrong_gradient():
    from dataclasses import dataclass

    from symnb.core.ops.base import Op
    from symnb.core.types import TensorType

    @dataclass(frozen=True)
    class BadSquare(Op):
        def infer(self, a):
            return [TensorType(a.dtype, a.type.shape)]

        def perform(self, a):
            return (a * a,)

        def grad(self, inputs, outputs, gouts):
            return [gouts[0] * inputs[0]]    # wrong: missing the factor 2

    with pytest.raises(sn.GradientError, match="disagrees with finite differences"):
        sn.verify_grad(lambda a: BadSquare()(a), [ANY], rng=rng)


def test_float32_verify_grad_uses_looser_tolerance():
    sn.verify_grad(st.tanh, [ANY.astype("float32")], rng=rng)
