"""Helpers shared by the C++ backend tests."""


def avx512() -> bool:
    """Does -march=native here include AVX-512 (vmath.h's own functions and explicit kernels)?"""
    from symnb.kernels.cpp.compiler import toolchain
    return "-mavx512f " in toolchain().target + " "
