import pytest

import symnb as sn
import symnb.tensor as st

a, b, c, x = st.dscalars("a", "b", "c", "x")
M = st.dmatrix("M")
v = st.dvector("v")


@pytest.mark.parametrize("expr,text", [
    (lambda: a - (b - c), "a - (b - c)"),
    (lambda: (a - b) - c, "a - b - c"),
    (lambda: -(x ** 2), "-x ** 2.0"),
    (lambda: (-x) ** 2, "(-x) ** 2.0"),
    (lambda: (x ** 2) ** 3, "(x ** 2.0) ** 3.0"),
    (lambda: a * (b + c), "a * (b + c)"),
    (lambda: a / (b * c), "a / (b * c)"),
    (lambda: (a + b) > c, "a + b > c"),
    (lambda: M[1:, ::2], "M[1:, ::2]"),
    (lambda: M.T, "M.T"),
    (lambda: M.sum(axis=0), "sum(M, axis=0)"),
    (lambda: st.dot(M, v).sum(), "sum(dot(M, v))"),
    (lambda: st.cast(x, "float32"), "cast(x, float32)"),
    (lambda: v[:, None], "v[:, None]"),
    (lambda: st.exp(x) + st.exp(x) * 2, "t0 = exp(x)\nt0 + t0 * 2.0"),
    (lambda: st.tanh(M).max(axis=1, keepdims=True), "max(tanh(M), axis=1, keepdims=True)"),
])
def test_pp(expr, text):
    assert sn.pp(expr()) == text


def test_dprint_shows_types_and_repeated_subtree_once():
    out = sn.dprint(st.exp(x) + st.exp(x) * 2, file="str")
    lines = out.splitlines()
    assert lines[0] == "add [id A] float64 scalar"
    assert "├─ exp [id B] float64 scalar" in lines[1]
    assert sum("exp [id B]" in line for line in lines) == 2
    assert lines[4].endswith("···")


def test_dprint_of_function_includes_updates():
    w = sn.shared(1.0, name="w")
    f = sn.function([x], x * w, updates=[(w, w + x)])
    out = sn.dprint(f, file="str")
    assert "'x'" not in out.splitlines()[0] and "w" in out


def _balanced(tex):
    depth = 0
    for ch in tex:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    return depth == 0


def test_latex_logistic_and_names():
    alpha, W1 = st.dscalar("alpha"), st.dmatrix("W_1")
    assert sn.latex(1 / (1 + st.exp(-x))) == r"\frac{1}{1 + \exp\left(-x\right)}"
    assert sn.latex(alpha * W1.T) == r"\alpha \cdot W_{1}^{\top}"
    assert sn.latex(st.sqrt(x) ** 2) == r"\sqrt{x}^{2}"
    assert sn.latex(st.sigmoid(x)) == r"\sigma\left(x\right)"


def test_latex_gradient_is_balanced_and_names_shared_terms():
    g = sn.grad((1 / (1 + st.exp(-x))).sum(), x)
    tex = sn.latex(g)
    # sn.grad differentiates the stabilized cost: 1/(1+exp(-x)) became sigmoid(x)
    assert _balanced(tex) and r"\sigma\left(x\right)" in tex
    assert (st.exp(x) + 1)._repr_latex_().startswith("$$")
