"""Backend roles: a Backend turns a rewritten FunctionGraph into a Program (callable).

Data flow: rewritten graph -> renderer (graph -> source text) -> compiler + cache ->
program. Each backend registers itself by name in BACKENDS.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..core.rewrite.inplace import schedule


@dataclass
class FunctionGraph:
    """What a compiled function computes: `outputs` from `inputs` (user inputs then shared)."""

    inputs: list
    outputs: list
    nodes: list = field(init=False)

    def __post_init__(self):
        # In-place nodes run after every other reader of the buffer they overwrite.
        self.nodes = schedule(self.outputs)


class Source(str):
    """Generated source text (Function.source): a str to print or search; in Jupyter it shows
    highlighted (symnb.viz gives this class its display, as the layer above)."""

    language = "cpp"


class Program:
    """A compiled function body: call(list of input arrays) -> list of output arrays.

    Outputs may be inputs, views of them or constants: sn.function copies where the
    caller or a shared variable would otherwise see the same memory.
    """

    source: str = ""

    def __call__(self, args):
        raise NotImplementedError


class Backend:
    name = "?"

    def available(self) -> tuple[bool, str]:
        return True, ""

    def source(self, fgraph: FunctionGraph) -> str:
        """The generated code for fgraph, without compiling it."""
        raise NotImplementedError

    def compile(self, fgraph: FunctionGraph) -> Program:
        raise NotImplementedError


BACKENDS: dict[str, Backend] = {}


def register(backend: Backend) -> Backend:
    BACKENDS[backend.name] = backend
    return backend
