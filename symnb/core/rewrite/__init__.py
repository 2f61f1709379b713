"""The rewrite stage (graph -> rewritten graph): `rewrite(outputs, passes=None)` runs the
default pipeline (pipeline.py) and returns the outputs with the history of every rule applied.

Dead code is implicit: the rewritten graph is what its outputs reach, so a node that no
output uses any more is gone (there is no separate dead-code pass to run).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..graph import Variable, as_variable, toposort
from . import shapes
from .engine import P, Pat, Rule, RulePass, RewriteError, Step, const, graph_rewrite, var  # noqa: F401


def graph_stats(outputs) -> dict:
    """Node count and depth (longest path from an input) of a graph."""
    nodes = toposort(outputs)
    depth: dict[int, int] = {}
    for n in nodes:
        d = 1 + max((depth.get(id(i.owner), 0) for i in n.inputs if i.owner is not None), default=0)
        depth[id(n)] = d
    return {"nodes": len(nodes), "depth": max(depth.values(), default=0)}


@dataclass
class RewriteResult:
    """Rewritten outputs, the history of applied rules, and per-pass statistics."""

    outputs: list
    history: list = field(default_factory=list)
    stats: list = field(default_factory=list)       # [{"pass", "nodes", "depth", "seconds"}]
    stages: list = field(default_factory=list)      # [(pass name, outputs after it)]
    original: list = field(default_factory=list)    # the outputs as given, before any pass

    @property
    def output(self) -> Variable:
        return self.outputs[0]

    @property
    def passes(self) -> list:
        """The names of the passes run, in order."""
        return [name for name, _ in self.stages]

    def steps(self, pass_name=None):
        return [s for s in self.history if pass_name is None or s.pass_name == pass_name]


def _named(p, default):
    if not isinstance(p, str):
        return p
    known = dict(default)
    if p not in known:
        raise ValueError(f"rewrite: no pass named {p!r}; the default passes are {list(known)}")
    return p, known[p]


def rewrite(outputs, passes=None) -> RewriteResult:
    """Run `passes` (default: pipeline.DEFAULT_PASSES) over outputs; a variable in gives one back
    as `.output`. Each pass is (name, callable(outputs, history, name) -> outputs), or the name
    of a default pass (`passes=["canonicalize", "stabilize"]`)."""
    from .pipeline import DEFAULT_PASSES
    single = isinstance(outputs, Variable)
    outs = [as_variable(o) for o in ([outputs] if single else outputs)]
    container = tuple if isinstance(outputs, tuple) else list
    passes = DEFAULT_PASSES if passes is None else [_named(p, DEFAULT_PASSES) for p in passes]
    result = RewriteResult(outs, original=list(outs))
    result.stats.append({"pass": "input", **graph_stats(outs), "seconds": 0.0})
    for name, run in passes:
        start = time.perf_counter()
        with shapes.scope():
            outs = run(outs, result.history, name)
        result.stats.append({"pass": name, **graph_stats(outs), "seconds": time.perf_counter() - start})
        result.stages.append((name, outs))
    result.outputs = container(outs)
    return result
