"""The C++ backend: graph -> C++ source (one or two translation units) -> CPython extension module."""
