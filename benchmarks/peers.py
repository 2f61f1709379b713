"""Optional peers of the benchmark (numexpr, PyTensor, JAX, PyTorch) and symnb's backends.

Sits beside the data flow: each peer is imported on first use and skipped cleanly, with
the reason recorded, when it is not installed (`pip install -e '.[bench]'` brings them).
"""
from __future__ import annotations

import functools
import importlib

PEERS = ("numexpr", "pytensor", "jax", "torch")

# Column headers; the labels say how each peer runs (torch.compile took ~18 s per first
# compile on the 2-core machine, so the PyTorch column is eager, as its label says).
LABELS = {"numpy": "NumPy", "numexpr": "numexpr", "pytensor": "PyTensor", "jax": "JAX jit",
          "torch": "PyTorch eager"}


def label(impl: str) -> str:
    if impl.startswith("symnb:"):
        return f"symnb {impl.split(':', 1)[1]}"
    return LABELS.get(impl, impl)


def _configure(name, module):
    if name == "jax":
        # float64 rows must run in float64 (JAX computes in float32 unless told otherwise).
        module.config.update("jax_enable_x64", True)
    if name == "pytensor":
        linker = type(module.compile.mode.get_default_mode().linker).__name__
        LABELS["pytensor"] = f"PyTensor ({linker.removesuffix('Linker').lower()})"


_missing: dict[str, str] = {}      # peer -> why it could not be imported


@functools.cache
def load(name: str):
    """The peer's module, or None when it cannot be imported (see why_missing)."""
    try:
        module = importlib.import_module(name)
        _configure(name, module)
        return module
    except Exception as e:  # noqa: BLE001  (any import failure means: skip this peer)
        _missing[name] = f"{type(e).__name__}: {e}".splitlines()[0]
        return None


def why_missing(name: str) -> str:
    return _missing.get(name, "")


def available(selected=PEERS) -> list[str]:
    return [p for p in selected if p in PEERS and load(p) is not None]


def version(name: str) -> str:
    module = load(name)
    return "not installed" if module is None else getattr(module, "__version__", "?")


def symnb_backends() -> list[str]:
    """The symnb backends to time: every registered one that is available here, the
    compiled ones first (the first one is the one the speed targets are checked on)."""
    from symnb.kernels.base import BACKENDS
    names = [n for n, b in BACKENDS.items() if b.available()[0]]
    return sorted(names, key=lambda n: n == "numpy")
