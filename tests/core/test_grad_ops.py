"""verify_grad (finite differences along random projections, float64) for every differentiable
op, on inputs where the op is smooth: positive for log/sqrt, |x| < 1 for arcsin/arctanh, away
from the kinks of abs/maximum and without ties for max."""
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
# Piecewise constant (zero gradient where defined), integer-valued or boolean results.
NO_GRAD = {"sign", "floor", "ceil", "round", "eq", "neq", "lt", "le", "gt", "ge", "and_", "or_", "xor",
           "invert", "int_div", "zero_grad"}
UNARY = sorted(n for n, s in SCALAR_OPS.items() if s.nin == 1 and n not in NO_GRAD)


def verify(fn, *points):
    sn.verify_grad(fn, list(points), rng=rng)


@pytest.mark.parametrize("name", UNARY)
def test_unary(name):
    verify(getattr(st, name), DOMAIN.get(name, ANY))


def test_every_differentiable_scalar_op_is_covered():
    binary = {"add", "sub", "mul", "true_div", "pow", "maximum", "minimum", "mod", "switch", "hypot"}
    assert set(UNARY) | binary | NO_GRAD == set(SCALAR_OPS)


@pytest.mark.parametrize("name,a,b", [
    ("add", ANY, ANY[0]), ("sub", ANY, ANY[:, :1]), ("mul", ANY, POS), ("true_div", ANY, POS),
    ("pow", POS, ANY), ("maximum", ANY, ANY + 0.3), ("minimum", ANY, ANY - 0.3), ("mod", 5.3 + UNIT * 0.2, 2.0 + UNIT[0] * 0.1),
    ("hypot", AWAY, ANY[0]), ("add", ANY[:1], ANY[:, :1]), ("mul", ANY[:1], np.float64(1.5)), ("true_div", np.float64(2.0), POS),
])
def test_binary_with_broadcasting(name, a, b):
    """Inputs of length 1 on an axis (typed as 1) get their gradient summed back over it."""
    verify(getattr(st, name), a, b)


def test_zero_gradient_ops_give_zeros_and_casts_pass_gradients_through():
    x = st.dmatrix("x")
    g = sn.function([x], sn.grad((st.cast(x, "float32") * 3).sum(), x), backend="numpy")(ANY)
    assert g.dtype == "float64"
    np.testing.assert_array_equal(g, np.full_like(ANY, 3.0))
    for name in ("sign", "floor", "ceil", "round", "zero_grad"):
        g = sn.function([x], sn.grad(getattr(st, name)(x).sum() + x.sum(), x), backend="numpy")(ANY)
        np.testing.assert_array_equal(g, np.ones_like(ANY))
    g = sn.function([x], sn.grad((x // 0.5).sum() + (x > 0).sum() * 1.0 + x.sum(), x), backend="numpy")(ANY)
    np.testing.assert_array_equal(g, np.ones_like(ANY))


def test_composites_of_elementwise_ops():
    verify(lambda a, b, c: a * b * c + a + b + c, ANY, POS, UNIT)
    verify(lambda a, b: st.switch(a > 0, a * b, b), AWAY, ANY)
    verify(lambda a, b: st.where(a > 0, a, b[0]), AWAY, ANY)
    verify(lambda a: st.clip(a, -0.5, 0.5), AWAY * 0.4 + 0.01)
    verify(lambda a: a ** 3 + 2 ** a + a ** 0.5, POS)
    verify(lambda a, b: st.sigmoid(a) * st.softplus(b) / (1 + st.exp(-a)), ANY, ANY)


@pytest.mark.parametrize("kind", ["sum", "prod", "max", "min", "mean", "var", "std", "logsumexp"])
@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, False), (1, True), (-1, False), ((0, 1), True),
                                           ((0, 2), False)])
def test_reductions(kind, axis, keepdims):
    data = POS.reshape(3, 2, 2) + ANY.reshape(3, 2, 2) * 0.1      # no ties, away from zero
    verify(lambda a: getattr(st, kind)(a, axis=axis, keepdims=keepdims), data)


def test_reduction_special_cases():
    verify(lambda a: a.var(axis=0, ddof=1) + a.std(ddof=1), POS)
    verify(lambda a: a.prod(axis=0), np.array([[0.0, 2.0, 0.0], [3.0, 4.0, 0.0], [1.5, 5.0, 2.0]]))  # zeros
    verify(lambda a: a.prod(), np.array([[0.0, 2.0], [3.0, -4.0]]))
    verify(lambda a: st.logsumexp(a * 200, axis=1), ANY)                  # large values: stable
    verify(lambda a: a.sum(axis=0, keepdims=True) * a, ANY)
    verify(lambda a: st.max(a, axis=1, keepdims=True) - a, ANY)


@pytest.mark.parametrize("fn", [
    lambda a: a.T, lambda a: st.transpose(a.reshape((2, 3, 2)), (2, 0, 1)),
    lambda a: a.dimshuffle(1, "x", 0), lambda a: a[:1].dimshuffle(1),          # dropping a length-1 axis
    lambda a: a.reshape((2, 6)), lambda a: a.reshape((-1, 2, 3)), lambda a: a.flatten(),
    lambda a: st.flatten(a.reshape((2, 3, 2)), 2),
    lambda a: st.expand_dims(a, (0, -1)), lambda a: st.squeeze(st.expand_dims(a, 0)),
    lambda a: st.concatenate([a, a * 2], axis=0), lambda a: st.concatenate([a[:, :1], a ** 2], axis=-1),
    lambda a: st.stack([a, a ** 2], axis=2), lambda a: st.stack([a[0, 0], a[1, 1] * 2]),
    lambda a: st.alloc(a[0], 2, 4), lambda a: st.alloc(a[0, 0], 3, 4) * a,
    lambda a: st.zeros_like(a) + st.ones_like(a) * a,
], ids=lambda f: str(f.__code__.co_firstlineno))
def test_shape_ops(fn):
    verify(fn, ANY)


@pytest.mark.parametrize("fn", [
    lambda a: a[1:, ::2], lambda a: a[::-1, 1], lambda a: a[-1], lambda a: a[None, 1:3],
    lambda a: a[..., ::-2], lambda a: a[[0, 2, 0]], lambda a: a[:, [3, 3, 1]], lambda a: a[[0, 1], [3, 3]],
    lambda a: a[np.array([[0], [2]]), np.array([1, 1, 3])], lambda a: a[a > 0.1],
    lambda a: a[np.array([True, False, True])], lambda a: a.reshape((2, 3, 2))[[1, 0], :, [0, 0]],
], ids=lambda f: str(f.__code__.co_firstlineno))
def test_indexing(fn):
    verify(fn, ANY)


def test_symbolic_index_gradient():
    x, k = st.dmatrix("x"), st.lscalar("k")
    g = sn.function([x, k], sn.grad((x[k, 1:] ** 2).sum(), x), backend="numpy")(ANY, 2)
    expected = np.zeros_like(ANY)
    expected[2, 1:] = 2 * ANY[2, 1:]
    np.testing.assert_allclose(g, expected)


@pytest.mark.parametrize("fn,y", [
    (lambda a, b: st.set_subtensor(a[1:], b), ANY[1:] * 2),
    (lambda a, b: st.set_subtensor(a[1:], b), ANY[:1] * 2),                    # y broadcast over rows
    (lambda a, b: st.inc_subtensor(a[:, ::-2], b), ANY[:, :2]),
    (lambda a, b: st.inc_subtensor(a[[0, 0, 2]], b), ANY),                      # repeats accumulate
    (lambda a, b: st.inc_subtensor(a[[0, 0], [1, 1]], b), ANY[0, :2]),
    (lambda a, b: st.set_subtensor(a[[0, 2], [1, 1]], b), ANY[0, :1]),
    (lambda a, b: st.set_subtensor(a[[0, 0, -3], 1:], b), ANY[:, 1:]),         # only the last write lands
    (lambda a, b: st.set_subtensor(a[a > 0], b), ANY[0, :1]),
    (lambda a, b: st.inc_subtensor(a[a > 0], b[0, 0] * a[a > 0]), ANY),
], ids=lambda v: str(v.__code__.co_firstlineno) if callable(v) else str(np.shape(v)))
def test_set_and_inc_subtensor(fn, y):
    verify(fn, ANY, y)


@pytest.mark.parametrize("fn,sa,sb", [
    (st.dot, (3, 4), (4, 2)), (st.dot, (3, 4), (4,)), (st.dot, (3,), (3, 4)), (st.dot, (4,), (4,)),
    (st.dot, (2, 3, 4), (4, 2)), (st.matmul, (2, 3, 4), (2, 4, 2)), (st.matmul, (2, 3, 4), (4, 2)),
    (st.matmul, (1, 3, 4), (2, 4, 2)), (st.matmul, (2, 1, 3, 4), (3, 4, 2)), (st.matmul, (4,), (2, 4, 3)),
    (st.matmul, (2, 3, 4), (4,)), (st.outer, (3,), (4,)), (st.outer, (2, 2), (3,)),
    (lambda a, b: st.tensordot(a, b, 0), (2,), (3, 2)), (lambda a, b: st.tensordot(a, b, 2), (2, 3), (2, 3)),
    (lambda a, b: st.tensordot(a, b, [[0, 2], [1, 0]]), (2, 3, 4), (4, 2)),
    (lambda a, b: st.tensordot(a, b, 1), (2, 3), (3, 2, 2)),
], ids=lambda v: str(v) if isinstance(v, tuple) else getattr(v, "__name__", "fn"))
def test_products(fn, sa, sb):
    verify(fn, rng.standard_normal(sa), rng.standard_normal(sb))


@pytest.mark.parametrize("fn", [
    lambda a: st.softmax(a), lambda a: st.softmax(a, axis=0), lambda a: st.softmax(a, axis=None),
    lambda a: st.log_softmax(a), lambda a: st.log_softmax(a, axis=0), lambda a: st.log_softmax(a * 300),
], ids=lambda f: str(f.__code__.co_firstlineno))
def test_softmax(fn):
    verify(fn, ANY)


@pytest.mark.parametrize("axis", [1, 0])
def test_log_softmax_grad_op(axis):
    """The node the specialize pass makes of log_softmax's gradient has a gradient too."""
    from symnb.core.ops import LogSoftmaxGrad
    verify(lambda g, z: LogSoftmaxGrad(axis)(g, st.log_softmax(z, axis=axis)), ANY, POS)


def test_crossentropies():
    labels = np.array([0, 3, 1])
    onehot = np.eye(4)[labels]
    verify(lambda a: st.categorical_crossentropy(st.softmax(a), labels), ANY)
    verify(lambda a: st.categorical_crossentropy(st.softmax(a), onehot), ANY)
    verify(lambda p: st.categorical_crossentropy(p, labels), POS / POS.sum(axis=1, keepdims=True))
    verify(lambda p, t: st.categorical_crossentropy(p, t), POS / POS.sum(axis=1, keepdims=True), onehot * 0.8 + 0.05)
    verify(lambda a: st.categorical_crossentropy(st.softmax(a), rng.integers(0, 4, (2, 3))), ANY.reshape(2, 3, 2)[..., :1]
           * np.ones((1, 1, 4)) + rng.standard_normal((2, 3, 4)))
    targets = (rng.random((3, 4)) > 0.5).astype(float)
    verify(lambda a: st.binary_crossentropy(st.sigmoid(a), targets), ANY)
    verify(lambda a: st.binary_crossentropy(st.sigmoid(a * 100), targets), ANY)        # saturated: stable
    verify(lambda p, t: st.binary_crossentropy(p, t), rng.uniform(0.1, 0.9, (3, 4)), rng.uniform(0, 1, (3, 4)))


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
        verify(lambda a: BadSquare()(a), ANY)
    with pytest.raises(sn.GradientError):          # a nan gradient is never "close enough"
        verify(lambda a: st.sqrt(a) * 0 + a, ANY - 5)


def test_float32_verify_grad_uses_looser_tolerance():
    verify(st.tanh, ANY.astype("float32"))
