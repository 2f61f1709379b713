"""Scalar dtype helpers where Theano/PyTensor code reaches for them (`theano.scalar.upcast`):
part of the public namespace, built on the core's type rules."""
from __future__ import annotations

from .core.types import upcast  # noqa: F401
