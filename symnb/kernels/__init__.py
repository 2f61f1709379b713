"""Backends: each turns a rewritten graph into a program (reference NumPy, generated C++)."""
