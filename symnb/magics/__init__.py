"""IPython integration (first stage of the data flow): the %%symbolic cell magic.

`%load_ext symnb` registers it; `%%symbolic?` shows its options with an example each.
"""
from __future__ import annotations

from .symbolic import SymbolicMagics


def load_ipython_extension(ipython) -> None:
    ipython.register_magics(SymbolicMagics)


__all__ = ["SymbolicMagics", "load_ipython_extension"]
