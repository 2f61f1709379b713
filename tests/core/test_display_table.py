"""One display table: pp, latex and the graph drawings read an op's symbol, precedence and
LaTeX from the op (elemwise.ScalarOp), so changing the table changes all three."""
import dataclasses

import symnb as sn
import symnb.tensor as st
from symnb.core.ops import elemwise as E

x, y = st.dvector("x"), st.dvector("y")


def test_changing_the_table_changes_every_view(monkeypatch):
    monkeypatch.setitem(E.SCALAR_OPS, "maximum", dataclasses.replace(
        E.SCALAR_OPS["maximum"], symbol="|^|", prec=E.ADD, tex=r"\operatorname{top}"))
    monkeypatch.setitem(E.SCALAR_OPS, "lt", dataclasses.replace(E.SCALAR_OPS["lt"], tex=r"\prec"))
    e = st.maximum(x, y)
    assert sn.pp(e) == "x |^| y"
    assert sn.pp(e * 2) == "(x |^| y) * 2.0"                # the precedence is the table's too
    assert sn.latex(e) == r"\operatorname{top}\left(x, y\right)"
    assert sn.latex(st.lt(x, y)) == r"x \prec y"
    assert e.owner.op.label == "|^|"
    from symnb import viz
    assert 'label="|^|"' in viz.graph(e).dot


def test_labels_for_drawings():
    assert (x + y).owner.op.label == "+"
    assert st.exp(x).owner.op.label == "exp"
    assert st.dmatrix("M").T.owner.op.label == "transpose"
    assert (x < y).owner.op.label == "<"
