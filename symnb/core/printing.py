"""Printing graphs: short names, dprint (tree with types), pp (infix), latex."""
from __future__ import annotations


def short_str(v) -> str:
    if v.name:
        return v.name
    from .graph import Constant
    if isinstance(v, Constant):
        return str(v.data) if v.data.size < 6 else f"Constant{{{v.type}}}"
    if v.owner is None:
        return f"<{v.type}>"
    return f"{v.owner.op}(" + ", ".join(short_str(i) for i in v.owner.inputs) + ")"


def latex(v) -> str:
    return short_str(v)
