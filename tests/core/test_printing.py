import re

import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st

a, b, c, x = st.dscalars("a", "b", "c", "x")
M, W = st.dmatrices("M", "W")
v = st.dvector("v")
i = st.iscalar("i")


@pytest.mark.parametrize("expr,text", [
    # precedence and associativity, as Python reads them
    (lambda: a - (b - c), "a - (b - c)"),
    (lambda: (a - b) - c, "a - b - c"),
    (lambda: a * (b + c), "a * (b + c)"),
    (lambda: a / (b * c), "a / (b * c)"),
    (lambda: -(x ** 2), "-x ** 2.0"),
    (lambda: (-x) ** 2, "(-x) ** 2.0"),
    (lambda: x ** (b ** c), "x ** b ** c"),
    (lambda: (x ** b) ** c, "(x ** b) ** c"),
    (lambda: (a + b) > c, "a + b > c"),
    (lambda: (a < b) & (b < c), "(a < b) & (b < c)"),
    (lambda: (a > b) | (i & i + 1), "(a > b) | i & i + 1"),
    # function-call syntax
    (lambda: st.tanh(x) + st.sigmoid(a), "tanh(x) + sigmoid(a)"),
    (lambda: st.cast(x, "float32"), "cast(x, float32)"),
    (lambda: st.dot(M, v).sum(), "sum(dot(M, v))"),
    (lambda: M.sum(axis=0), "sum(M, axis=0)"),
    (lambda: st.tanh(M).max(axis=1, keepdims=True), "max(tanh(M), axis=1, keepdims=True)"),
    (lambda: M.reshape((2, -1)), "reshape(M, (2, -1))"),
    (lambda: st.concatenate([M, W], axis=1), "concatenate([M, W], axis=1)"),
    # indexing and axes
    (lambda: M[1:, ::2], "M[1:, ::2]"),
    (lambda: M[i, :-1], "M[i, :-1]"),
    (lambda: st.set_subtensor(v[1:], 0.0), "set_subtensor(v[1:], 0.0)"),
    (lambda: M.T, "M.T"),
    (lambda: v[:, None], "v[:, None]"),
    (lambda: st.tensor("T3", shape=(None, None, None)).dimshuffle(2, 0, 1), "dimshuffle(T3, (2, 0, 1))"),
    # constants and unnamed inputs
    (lambda: v + np.array([1.0, 2.0, 3.0]), "v + [1.0, 2.0, 3.0]"),
    (lambda: v + np.arange(100.0), "v + Constant{float64[100]}"),
    (lambda: st.dvector() * -2.5, "<float64[?]> * -2.5"),
    (lambda: (-2.0) ** x, "(-2.0) ** x"),
    # a shared subexpression is named once; single uses stay inline
    (lambda: st.exp(x) + st.exp(x) * 2, "t0 = exp(x)\nt0 + t0 * 2.0"),
    (lambda: [st.exp(x) + 1, st.log(x)], "exp(x) + 1.0\nlog(x)"),
])
def test_pp(expr, text):
    assert sn.pp(expr()) == text


def test_pp_names_shared_terms_after_the_user_and_never_twice():
    h = st.tanh(st.dscalar("z"))        # a fresh input: names stick to hash-consed nodes
    h.name = "h"
    t0 = st.dscalar("t0")
    assert sn.pp(h * h + h) == "h = tanh(z)\nh * h + h"
    assert sn.pp(st.exp(t0) * st.exp(t0)) == "t1 = exp(t0)\nt1 * t1"


def test_repr_uses_pp_for_small_graphs():
    assert repr(a * (b + c)) == "a * (b + c)"
    assert repr(st.dvector()) == "<float64[?]>"


def test_dprint_tree_with_repeated_subtree():
    out = sn.dprint(st.exp(x) + st.exp(x) * 2, file="str")
    assert out == (
        "add [id A] float64 scalar\n"
        "├─ exp [id B] float64 scalar\n"
        "│  └─ x [id C] float64 scalar\n"
        "└─ mul [id D] float64 scalar\n"
        "   ├─ exp [id B] float64 scalar ···\n"
        "   └─ 2.0 [id E] float64 scalar\n")


def test_dprint_depth_types_and_names():
    h = st.tanh(st.dot(M, st.dvector("u")))
    h.name = "h"
    assert sn.dprint(h.sum(), file="str", depth=2, print_type=False) == (
        "sum{axis=[0]} [id A]\n"
        "└─ tanh 'h' [id B]\n")
    assert "M [id C] float64[?, ?]" in sn.dprint(h, file="str")
    assert "float64[3, ?]" in sn.dprint(st.tensor("s", shape=(3, None)) * 2, file="str")


def test_dprint_prints_unless_asked_for_a_string(capsys):
    text = sn.dprint(x + 1)
    assert capsys.readouterr().out == text


def test_dprint_of_function_shows_updates_and_inner_graphs():
    w = sn.shared(np.ones(3), name="w")
    f = sn.function([v], (st.exp(v) * w).sum(), updates=[(w, w - 0.1 * v)])
    out = sn.dprint(f, file="str")
    roots = [line for line in out.splitlines() if line and line[0] not in " │├└" and "[id" in line]
    assert len(roots) == 2 + out.count("\n\nfused")         # two trees, then one line per inner graph
    assert roots[1].endswith("(update of w)")
    assert "Inner graphs:" in out and "i0 [id" in out
    assert sn.pp(f).splitlines()[-1] == "w := w - 0.1 * v"


def _balanced(tex):
    depth = 0
    for ch in tex:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0 and tex.count(r"\left") == tex.count(r"\right")


@pytest.mark.parametrize("expr,tex", [
    (lambda: 1 / (1 + st.exp(-x)), r"\frac{1}{1 + \exp\left(-x\right)}"),
    (lambda: st.sigmoid(x) + st.softplus(x), r"\sigma\left(x\right) + \operatorname{softplus}\left(x\right)"),
    (lambda: st.sqrt(x) ** 2 + st.log(x), r"\sqrt{x}^{2} + \log\left(x\right)"),
    (lambda: st.dscalar("alpha") * st.dmatrix("W_1").T, r"\alpha \cdot W_{1}^{\top}"),
    (lambda: st.dvector("x_hidden") + st.dvector("b2"), r"x_{\mathrm{hidden}} + b_{2}"),
    (lambda: (a + b) * c - a / b / c, r"\left(a + b\right) \cdot c - \frac{a}{b \cdot c}"),
    (lambda: -(x ** 2) + (-x) ** 2, r"-x^{2} + \left(-x\right)^{2}"),
    (lambda: a - (b - c) + 2 * a, r"a - \left(b - c\right) + 2 a"),
    (lambda: M.sum(axis=0) + M.max(), r"\sum_{\mathrm{axis}=0} M + \max M"),
    (lambda: M.mean(axis=1), r"\operatorname{mean}_{\mathrm{axis}=1} M"),
    (lambda: st.dot(M, v) + st.dot(v, v), r"M v + v \cdot v"),
    (lambda: st.softmax(st.dot(M.T, v)), r"\mathrm{softmax}\left(M^{\top} v\right)"),
    (lambda: M[1:, i] + v[0], r"M_{1:, i} + v_{0}"),
    (lambda: st.outer(v, st.exp(v)), r"v \exp\left(v\right)^{\top}"),
    (lambda: (a < b) & (b < c), r"a < b \land b < c"),
    (lambda: st.tanh(x) ** 2 + st.tanh(x), r"t_{0}^{2} + t_{0} \quad \text{where } t_{0} = \tanh\left(x\right)"),
])
def test_latex(expr, tex):
    assert sn.latex(expr()) == tex


def test_latex_of_gradient_is_readable():
    xv = st.dvector("x")
    g = sn.grad((st.tanh(st.dot(W, xv)) ** 2).sum(), W)
    tex = sn.latex(g)
    assert tex == (r"\left(2 t_{0} \cdot \left(1 - t_{0}^{2}\right)\right) x^{\top}"
                   r" \quad \text{where } t_{0} = \tanh\left(W x\right)")
    # the same mathematics after rewriting and fusion
    assert sn.latex(sn.function([W, xv], g)) == tex


def test_latex_of_logistic_gradient():
    # sn.grad differentiates the stabilized cost: 1/(1+exp(-x)) became sigmoid(x)
    tex = sn.latex(sn.grad(1 / (1 + st.exp(-x)), x))
    assert tex == r"t_{0} \cdot \left(1 - t_{0}\right) \quad \text{where } t_{0} = \sigma\left(x\right)"


def test_latex_of_mean_squared_error_and_its_gradient():
    X, y = st.dmatrix("X"), st.dvector("y")
    w = st.dvector("w")
    mse = ((st.dot(X, w) - y) ** 2).mean()
    assert sn.latex(mse) == r"\operatorname{mean} \left(X w - y\right)^{2}"
    assert sn.latex(sn.grad(mse, w)) == \
        r"X^{\top} \frac{2 \left(X w - y\right)}{\operatorname{len}_{0}\left(X\right)}"


def test_latex_is_balanced_on_many_ops():
    X = st.dmatrix("X")
    t = st.ivector("t")
    exprs = [st.categorical_crossentropy(st.softmax(st.dot(X, W)), t).mean(),
             st.switch(x > 0, x, 0) + abs(x) + x // 2 + x % 3, X.var(axis=0), st.logsumexp(X, axis=1),
             st.set_subtensor(v[1:], 0.0), st.concatenate([X, W]), X.reshape((2, -1)), X[t]]
    for e in exprs + [sn.grad(exprs[0], W)]:
        assert _balanced(sn.latex(e)), sn.latex(e)
    assert re.search(r"_\{i, t_\{i\}\}", sn.latex(exprs[0]))      # x[arange(n), t] reads x_{i, t_i}


def test_repr_latex():
    assert (st.exp(x) + 1)._repr_latex_() == r"$$\exp\left(x\right) + 1$$"
