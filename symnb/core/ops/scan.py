"""The Scan op: a loop whose body is an inner graph, run once per step (graph stage).

`sn.scan` (core/scan.py) builds it; this module holds its meaning: types, the reference
implementation that runs the body step by step, and the gradient (core/scan_grad.py).
Node inputs: [n_steps, *sequences, *initial states, *non-sequences]. Each sequence is
sliced to one row per step (taps are separate sequences); a state's initial value has one
row per lag (lag = -min(taps)). Node outputs: each state's buffer (its initial rows, then
one row per step; only the last `lag` rows when `keep` says so), then each mapped output.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..graph import toposort
from ..types import TensorType
from .base import Op


def _shape_str(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


@dataclass(frozen=True)
class Scan(Op):
    """inner_inputs: sequence rows, state taps (flattened, by state then tap), non-sequences;
    inner_outputs: new state rows, mapped rows, then the stop condition if `until`."""

    inner_inputs: tuple
    inner_outputs: tuple
    n_seqs: int
    taps: tuple             # per state: sorted negative taps
    n_mapped: int
    until: bool = False
    keep: tuple = ()        # per state: True -> only the last lag rows are output
    truncate_gradient: int = -1
    labels: tuple = ()      # names of the sequences then the outputs, for messages
    label: str = "scan"

    @property
    def name(self):
        return self.label

    @property
    def n_states(self):
        return len(self.taps)

    @property
    def lags(self):
        return tuple(-min(t) for t in self.taps)

    @property
    def nout(self):
        return self.n_states + self.n_mapped

    @property
    def n_nonseqs(self):
        return len(self.inner_inputs) - self.n_seqs - sum(len(t) for t in self.taps)

    def kept(self, k) -> bool:
        return k < len(self.keep) and self.keep[k]

    def seq_label(self, j):
        return self.labels[j] if j < len(self.labels) else f"sequence {j}"

    def out_label(self, k):
        j = self.n_seqs + k
        return self.labels[j] if j < len(self.labels) else f"output {k}"

    # ------------------------------------------------------------------ display
    def step_inputs(self) -> list:
        """Names of the body's inputs (what dprint, pp and latex call them)."""
        return [v.name or f"i{k}" for k, v in enumerate(self.inner_inputs)]

    def inner_labels(self) -> dict:
        return {id(v): n for v, n in zip(self.inner_inputs, self.step_inputs())}

    def summary(self) -> str:
        parts = [f"{self.n_seqs} sequence rows"] if self.n_seqs else []
        parts += [f"states with taps {[list(t) for t in self.taps]}"] if self.taps else []
        parts += [f"{self.n_mapped} mapped"] if self.n_mapped else []
        parts += [f"{self.n_nonseqs} non-sequences"] if self.n_nonseqs else []
        kept = [k for k in range(self.n_states) if self.kept(k)]
        parts += [f"states {kept} keep their last rows only"] if kept else []
        return "(" + ", ".join(parts + (["until"] if self.until else [])) + ")"

    def split_inputs(self, inputs):
        """(n_steps, sequences, initial states, non-sequences) of a node's inputs."""
        s, m = 1 + self.n_seqs, 1 + self.n_seqs + self.n_states
        return inputs[0], list(inputs[1:s]), list(inputs[s:m]), list(inputs[m:])

    def split_inner_inputs(self):
        """(sequence rows, [taps of each state], non-sequences) among the inner inputs."""
        seqs = list(self.inner_inputs[:self.n_seqs])
        k, taps = self.n_seqs, []
        for t in self.taps:
            taps.append(list(self.inner_inputs[k:k + len(t)]))
            k += len(t)
        return seqs, taps, list(self.inner_inputs[k:])

    def infer(self, n_steps, *rest):
        _, seqs, inits, nonseqs = self.split_inputs((n_steps,) + rest)
        if n_steps.ndim != 0 or not n_steps.dtype.startswith(("int", "uint")):
            raise TypeError(f"{self.name}: n_steps must be an integer scalar, got {n_steps.type}")
        inner_seqs, inner_taps, inner_ns = self.split_inner_inputs()
        for outer, inner, what in ([(s, i, "sequence") for s, i in zip(seqs, inner_seqs)]
                                   + [(x, t[0], "initial state") for x, t in zip(inits, inner_taps)]):
            if outer.dtype != inner.dtype or outer.ndim != inner.ndim + 1:
                raise TypeError(f"{self.name}: {what} of type {outer.type} does not give rows of type {inner.type}")
        for outer, inner in zip(nonseqs, inner_ns):
            if outer.dtype != inner.dtype or outer.ndim != inner.ndim:
                raise TypeError(f"{self.name}: non-sequence of type {outer.type} where the body takes {inner.type}")
        types = []
        for k, (x, lag) in enumerate(zip(inits, self.lags)):
            types.append(TensorType(x.dtype, (lag if self.kept(k) else None,) + x.type.shape[1:]))
        for o in self.inner_outputs[self.n_states:self.n_states + self.n_mapped]:
            types.append(TensorType(o.dtype, (None,) + o.type.shape))
        return types

    # ------------------------------------------------------------------ reference backend
    @cached_property
    def _steps(self):
        return toposort(list(self.inner_outputs))

    def run_body(self, values):
        """The inner outputs for one step, from the inner inputs' values."""
        env = {id(v): x for v, x in zip(self.inner_inputs, values)}
        for node in self._steps:
            args = [env[id(i)] if id(i) in env else i.data for i in node.inputs]
            for o, r in zip(node.outputs, node.op.perform(*args)):
                env[id(o)] = r
        return [env[id(o)] if id(o) in env else o.data for o in self.inner_outputs]

    def check_lengths(self, n, seqs):
        if n < 0:
            raise ValueError(f"{self.name}: n_steps must be >= 0, got {n}")
        for j, s in enumerate(seqs):
            rows = np.shape(s)[0]
            if rows < n:
                others = ", ".join(f"{self.seq_label(i)}: {np.shape(x)[0]}" for i, x in enumerate(seqs))
                raise ValueError(f"{self.name}: n_steps is {n}, but {self.seq_label(j)} gives only {rows} "
                                 f"steps (steps per sequence, after taps: {others})")

    def check_row(self, k, t, row, want_shape, want_from):
        if np.shape(row) != tuple(want_shape):
            raise ValueError(f"{self.name}: {self.out_label(k)} of the body has shape {_shape_str(np.shape(row))} "
                             f"at step {t}, but {want_from} has shape {_shape_str(want_shape)}")

    def perform(self, n_steps, *rest):
        _, seqs, inits, nonseqs = self.split_inputs((n_steps,) + rest)
        return self.loop(int(n_steps), seqs, inits, nonseqs, self.run_body, np)

    def loop(self, n, seqs, inits, nonseqs, body, xp):
        """The loop itself: `body` (inner input values -> inner output values) once per step,
        on arrays of the module `xp` (NumPy here; cupy for the CUDA backend, whose body is a
        launch plan on the device)."""
        self.check_lengths(n, seqs)
        for k, (x, lag) in enumerate(zip(inits, self.lags)):
            if x.shape[0] != lag:
                raise ValueError(f"{self.name}: the initial state of {self.out_label(k)} needs {lag} rows "
                                 f"(taps {list(self.taps[k])}), got shape {_shape_str(x.shape)}")
        # Each state's history: its rows so far (all of them, or the last lag when kept).
        hist = [list(x) for x in inits]
        mapped = [[] for _ in range(self.n_mapped)]
        for t in range(n):
            values = [s[t] for s in seqs]
            for h, taps in zip(hist, self.taps):
                values += [h[len(h) + tap] for tap in taps]
            outs = body(values + list(nonseqs))
            for k, (h, x) in enumerate(zip(hist, inits)):
                row = xp.asarray(outs[k], dtype=x.dtype)
                self.check_row(k, t, row, x.shape[1:], "its initial state")
                h.append(row)
                if self.kept(k):
                    del h[0]
            for j, m in enumerate(mapped):
                row = outs[self.n_states + j]
                if m:
                    self.check_row(self.n_states + j, t, row, m[0].shape, "its value at step 0")
                m.append(row)
            if self.until and bool(outs[-1]):
                break
        results = [xp.stack(h) if h else xp.zeros(x.shape, x.dtype) for h, x in zip(hist, inits)]
        for j, m in enumerate(mapped):
            o = self.inner_outputs[self.n_states + j]
            empty = xp.zeros((0,) + tuple(s or 0 for s in o.type.shape), o.dtype)
            results.append(xp.stack(m).astype(o.dtype, copy=False) if m else empty)
        return tuple(results)

    def grad(self, inputs, outputs, gouts):
        from ..scan_grad import scan_grad
        return scan_grad(self, inputs, outputs, gouts)
