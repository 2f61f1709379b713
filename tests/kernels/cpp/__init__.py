"""Helpers shared by the C++ backend tests."""
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def child_env() -> dict:
    """This process's environment for a child Python that imports symnb from this checkout."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))


def avx512() -> bool:
    """Does -march=native here include AVX-512 (vmath.h's own functions and explicit kernels)?"""
    from symnb.kernels.cpp.compiler import avx512 as enabled
    return enabled()
