"""The C++ backend, registered as "cpp": renderer -> g++ + cache -> program (stage "backend").

`available()` says whether this machine can compile; `source()` renders without compiling.
"""
from __future__ import annotations

from ..base import Backend, register
from .compiler import compiler, compiler_available, user_flags
from .program import CppProgram
from .renderer import CppRenderer


class CppBackend(Backend):
    name = "cpp"

    def available(self):
        return compiler_available()

    def source(self, fgraph):
        return CppRenderer().render(fgraph).source

    def compile(self, fgraph):
        return CppProgram(fgraph)

    def settings(self):
        return compiler(), user_flags()     # $CXX and $SYMNB_CXXFLAGS, read at each compile


register(CppBackend())
