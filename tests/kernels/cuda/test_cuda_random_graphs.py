"""The C++ backend's random-graph tests on the CUDA backend (skipped without a GPU, after the
first example's module compiled to PTX)."""
from .checks import copy_tests

globals().update(copy_tests("test_cpp_random_graphs.py", "random_graphs_on_cuda"))
