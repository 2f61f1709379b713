"""Gradients as mathematics: the gradients of logistic regression and of a 784-500-10 MLP
typeset short enough to read on one screen, in the notation a textbook uses."""
import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st

SCREEN = 400        # characters of TeX: about two lines of a notebook at its default width


def _balanced(tex):
    return tex.count("{") == tex.count("}") and tex.count(r"\left") == tex.count(r"\right")


def logistic_regression():
    X, Y = st.dmatrix("X"), st.dvector("Y")
    w, b = sn.shared(np.zeros(784), name="w"), sn.shared(0.0, name="b")
    p_1 = 1 / (1 + st.exp(-st.dot(X, w) - b))
    xent = -Y * st.log(p_1) - (1 - Y) * st.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    return sn.grad(cost, [w, b])


def mlp():
    X, y = st.dmatrix("X"), st.ivector("y")
    W1, b1 = sn.shared(np.zeros((784, 500)), name="W1"), sn.shared(np.zeros(500), name="b1")
    W2, b2 = sn.shared(np.zeros((500, 10)), name="W2"), sn.shared(np.zeros(10), name="b2")
    hidden = st.tanh(st.dot(X, W1) + b1)
    cost = st.categorical_crossentropy(st.softmax(st.dot(hidden, W2) + b2), y).mean()
    return sn.grad(cost, [W1, b1, W2, b2])


@pytest.mark.parametrize("grads", [logistic_regression, mlp])
def test_each_gradient_fits_a_screen_as_written_and_rewritten(grads):
    for g in grads():
        for tex in (sn.latex(g), sn.latex(sn.rewrite(g).output)):
            assert len(tex) <= SCREEN, tex
            assert _balanced(tex)
            assert tex.count(r"\operatorname{len}") <= 1, tex    # a mean's count, written once
            assert r"\operatorname{inc}" not in tex and "arange" not in tex


def test_logistic_regression_gradient_divides_by_the_count_once():
    gw, gb = logistic_regression()
    tex = sn.latex(gw)
    assert tex.startswith(r"0.02 w + X^{\top} \frac{")
    # The hand-written 1 / (1 + exp(-X w - b)) is recognised as a sigmoid (stabilize.py).
    assert (r"\frac{\sigma\left(t_{0}\right) \cdot \left(1 - Y\right) - \sigma\left(-t_{0}\right) \cdot Y}"
            r"{\operatorname{len}_{0}\left(Y\right)}") in tex
    assert tex.endswith(r"\text{where } t_{0} = X w + b")
    assert sn.latex(gb).startswith(r"\sum \frac{")


def test_mlp_output_gradient_reads_softmax_minus_onehot():
    gW1, gb1, gW2, gb2 = mlp()
    delta = (r"\frac{\mathrm{softmax}\left(t_{0} W_{2} + b_{2}\right) - \operatorname{onehot}\left(y\right)}"
             r"{\operatorname{len}_{0}\left(X\right)}")
    where = r"\quad \text{where } t_{0} = \tanh\left(X W_{1} + b_{1}\right)"
    for g in (gW2, sn.rewrite(gW2).output):       # the same mathematics after rewriting
        assert sn.latex(g) == r"t_{0}^{\top} " + delta + " " + where
    assert sn.latex(gW1) == (r"X^{\top} \left(" + delta + r" W_{2}^{\top} \cdot \left(1 - t_{0}^{2}\right)\right) "
                             + where)
    assert sn.latex(gb2).startswith(r"\sum_{\mathrm{axis}=0} \frac{\mathrm{softmax}")


def test_shared_parts_of_several_gradients_are_named_once():
    tex = sn.latex(mlp())
    assert tex.count(r"\operatorname{onehot}") == 1 and r"\text{where }" in tex
    assert len(tex) <= 2 * SCREEN
