"""The C++ backend's op tests on the CUDA backend: the same graphs, compared with the
reference backend; without a GPU each graph's module is compiled to PTX, then the test skips."""
from .checks import copy_tests

globals().update(copy_tests("test_cpp_ops.py", "ops_on_cuda"))
