"""Backend roles: a Backend turns a rewritten FunctionGraph into a Program (callable).

Data flow: rewritten graph -> renderer (graph -> source text) -> compiler + cache ->
program. `Backend` below is the whole contract sn.Function calls, boundary checks and
copies included; backends are found by name in the lazy registry BACKENDS.
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

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
    fallback_nodes: list = []     # nodes run by their reference implementation
    # True when fresh() gives a copy of this program for a graph of the same structure
    # (sn.function's memo then compiles a graph once per process).
    shareable: bool = False

    def __call__(self, args):
        raise NotImplementedError

    def fresh(self, fgraph) -> "Program":
        """This program's code with a state of its own, for a graph of the same structure."""
        raise NotImplementedError

    def fast_path(self, function):
        """(call, retry exception) when the program offers a call that checks arguments,
        computes and stores updates in one go (raising `retry` when the arguments need
        TensorType.filter's conversions first); (None, None) when it does not."""
        return None, None


class HostCheck:
    """Accepts a NumPy value for one typed slot (an input, an update): exact arrays pass at once."""

    __slots__ = ("type", "label", "dtype", "ndim", "fixed")

    def __init__(self, type_, label):
        self.type, self.label = type_, label
        self.dtype, self.ndim = np.dtype(type_.dtype), type_.ndim
        self.fixed = tuple((k, s) for k, s in enumerate(type_.shape) if s is not None)

    def __call__(self, value):
        # TensorType.filter handles every case; skipping it for the common exact match saves
        # microseconds per value, which is most of a small compiled function's call.
        if (type(value) is np.ndarray and value.dtype is self.dtype and value.ndim == self.ndim
                and all(value.shape[k] == s for k, s in self.fixed)):
            return value
        return self.type.filter(to_host(value), self.label)


def to_host(value):
    """A device array (anything with `.get()` and __cuda_array_interface__) as NumPy, else value."""
    if hasattr(value, "__cuda_array_interface__") and hasattr(value, "get"):
        return value.get()
    return value


class Backend:
    """What sn.Function asks of a backend: whether it runs here, the code, the program, and
    the checks and copies at the boundary between the caller's arrays and the program's."""

    name = "?"

    def available(self) -> tuple[bool, str]:
        return True, ""

    def source(self, fgraph: FunctionGraph) -> str:
        """The generated code for fgraph, without compiling it."""
        raise NotImplementedError

    def compile(self, fgraph: FunctionGraph) -> Program:
        raise NotImplementedError

    def settings(self) -> tuple:
        """What, besides the graph, decides the program this backend compiles now (compiler
        and flags from the environment): part of sn.function's in-process memo key."""
        return ()

    # ---- the boundary: host (NumPy) arrays unless a backend says otherwise
    def input_check(self, type_, label):
        """A callable turning a user's value for a slot of this type into what the program
        takes, or raising an error that names `label`."""
        return HostCheck(type_, label)

    def stored(self, container):
        """A shared variable's value (container[0]) as this backend's programs take it; a
        backend may move it into the container in its own form (the device)."""
        return to_host(container[0])

    def own(self, arr, taken):
        """arr, or a copy of it when it is read-only or may share memory with an array in
        `taken` (what is handed out or stored must alias nothing else)."""
        if not arr.flags.writeable or any(np.may_share_memory(arr, t) for t in taken
                                          if isinstance(t, np.ndarray)):
            return arr.copy()
        return arr

    def result(self, value):
        """A program's output as the caller receives it."""
        return np.asarray(value)


# Built-in backends: name -> module that registers it when imported.
KNOWN = {"numpy": "symnb.kernels.numpy", "cpp": "symnb.kernels.cpp.backend",
         "cuda": "symnb.kernels.cuda.backend"}


class Registry(Mapping):
    """Backends by name, each module imported the first time its name is asked for (so a
    backend costs nothing until used); `register` adds one from anywhere."""

    def __init__(self, known):
        self._known, self._loaded = dict(known), {}

    def register(self, backend: Backend) -> Backend:
        self._loaded[backend.name] = backend
        self._known.setdefault(backend.name, None)
        return backend

    def __getitem__(self, name) -> Backend:
        if name not in self._loaded and self._known.get(name):
            importlib.import_module(self._known[name])
        return self._loaded[name]

    def __iter__(self):
        return iter(self._known)

    def __len__(self):
        return len(self._known)


BACKENDS = Registry(KNOWN)


def register(backend: Backend) -> Backend:
    return BACKENDS.register(backend)


def get_backend(name) -> Backend:
    """The backend called `name` (or `name` itself, a Backend with options, such as
    CudaBackend(outputs="numpy")); ValueError naming the known ones otherwise."""
    if isinstance(name, Backend):
        return name
    if name not in BACKENDS:
        raise ValueError(f"function: unknown backend {name!r}; available: {sorted(BACKENDS)}")
    return BACKENDS[name]
