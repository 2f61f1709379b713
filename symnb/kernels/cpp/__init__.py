"""The C++ backend: graph -> one C++ translation unit -> CPython extension module."""
