"""Graph rewriting: `rewrite(outputs, passes=None)` runs the default pipeline (pipeline.py)
and returns the rewritten outputs with the history of every rule applied."""
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

    @property
    def output(self) -> Variable:
        return self.outputs[0]

    def steps(self, pass_name=None):
        return [s for s in self.history if pass_name is None or s.pass_name == pass_name]


def rewrite(outputs, passes=None) -> RewriteResult:
    """Run `passes` (default: pipeline.DEFAULT_PASSES) over outputs; a variable in gives one back
    as `.output`. Each pass is (name, callable(outputs, history, name) -> outputs)."""
    from .pipeline import DEFAULT_PASSES
    single = isinstance(outputs, Variable)
    outs = [as_variable(o) for o in ([outputs] if single else outputs)]
    passes = DEFAULT_PASSES if passes is None else passes
    result = RewriteResult(outs)
    result.stats.append({"pass": "input", **graph_stats(outs), "seconds": 0.0})
    for name, run in passes:
        start = time.perf_counter()
        with shapes.scope():
            outs = run(outs, result.history, name)
        result.stats.append({"pass": name, **graph_stats(outs), "seconds": time.perf_counter() - start})
        result.stages.append((name, outs))
    result.outputs = outs
    return result
