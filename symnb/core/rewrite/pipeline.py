"""The default rewrite pipeline: one explicit, ordered list of named passes."""
from __future__ import annotations

from .canonicalize import CANONICALIZE
from .engine import RulePass
from .fuse import fuse_pass
from .merge import merge_pass
from .scan import scan_pass
from .specialize import SPECIALIZE
from .stabilize import STABILIZE
from .zeros import ZEROS

# Canonical forms, with values that are zeros by construction folded to one alloc of 0.
CANONICAL = CANONICALIZE + ZEROS

# What sn.grad applies to a cost before differentiating it.
STABILIZE_PASSES = [("stabilize", RulePass(CANONICAL + STABILIZE))]

DEFAULT_PASSES = [
    # One constant per value and dtype, so equal subexpressions become one node.
    ("merge", merge_pass),
    # Fold constants, flatten chains, drop neutral elements and gradient broadcast noise.
    ("canonicalize", RulePass(CANONICAL)),
    # Replace overflow- and cancellation-prone forms by stable ones (log1p, softplus, ...).
    ("stabilize", RulePass(CANONICAL + STABILIZE)),
    # Cheaper equivalents for the backends: powers to products, dot + scaled add to gemm/gemv.
    ("specialize", RulePass(CANONICAL + SPECIALIZE)),
    # Each connected group of elementwise ops over one shape becomes one loop (Fused node).
    ("fuse", fuse_pass),
    # Loops: invariants out of the body (rewritten like the rest), the body through this
    # pipeline, states read only at their last rows kept in a ring.
    ("scan", scan_pass),
]
