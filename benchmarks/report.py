"""RESULTS.md from the harness's records: machine and bounds, one table per workload (one
column per implementation, ratios to NumPy), compile times, and the speed targets.

Sits at the end of the benchmark flow: rows + cells (harness.py) -> Markdown text.
"""
from __future__ import annotations

import math

from . import peers

DRAM_BYTES = 64 * 2 ** 20   # rows moving more than this are beyond any cache here: the DRAM bound applies

SECTIONS = {"A": "A. Elementwise expressions (Theano paper)", "B": "B. Transcendentals",
            "C": "C. Logistic regression SGD step", "D": "D. MLP SGD step",
            "E": "E. RBM (CD-1 and block Gibbs)",
            "F": "F. LeNet convnet SGD step (Theano tutorial)", "G": "G. Loops (scan)",
            "overhead": "Call overhead"}


def size_label(n) -> str:
    """1000 -> '1e3' (powers of ten), other sizes as they are."""
    exponent = round(math.log10(n)) if n else 0
    return f"1e{exponent}" if n and 10 ** exponent == n else str(n)


def fmt_time(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            value = seconds / scale
            return f"{value:.3g} {unit}"


def ratio(cells, impl) -> float | None:
    base, cell = cells.get("numpy"), cells.get(impl)
    if base is None or cell is None or base.seconds is None or cell.seconds is None:
        return None
    return base.seconds / cell.seconds


def bound_seconds(row, bounds) -> float | None:
    """The least time the row's call can take here: bytes at DRAM bandwidth, GEMM flops at
    NumPy's large-matrix rate (None when neither applies)."""
    options = []
    if row.bytes >= DRAM_BYTES and bounds.get("bandwidth_gbs"):
        options.append(row.bytes / (bounds["bandwidth_gbs"] * 1e9))
    if row.flops:
        options.append(row.flops / (bounds["gemm_gflops"][row.dtype] * 1e9))
    return max(options) if options else None


def _cell_text(cells, impl, notes):
    cell = cells.get(impl)
    if cell is None:
        return ""
    if cell.seconds is None:
        notes.append(f"{peers.label(impl)}: {cell.note}")
        return f"{cell.note.split(':')[0]} [{len(notes)}]"
    text = fmt_time(cell.seconds)
    if impl != "numpy":
        text += f" ({ratio(cells, impl):.2f}x)"
    if cell.note:
        notes.append(f"{peers.label(impl)}: {cell.note}")
        text += f" [{len(notes)}]"
    return text


def workload_table(records, bounds) -> list[str]:
    impls = []
    for _, cells in records:
        impls += [i for i in cells if i not in impls]
    impls.sort(key=lambda i: (i != "numpy", not i.startswith("symnb:")))
    has_bound = any(bound_seconds(row, bounds) for row, _ in records)
    header = ["workload"] + (["bound"] if has_bound else []) + [peers.label(i) for i in impls]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    notes: list[str] = []
    for row, cells in records:
        line = [row.label + (" \\*" if row.random else "")]
        line += [fmt_time(bound_seconds(row, bounds))] if has_bound else []
        lines.append("| " + " | ".join(line + [_cell_text(cells, i, notes) for i in impls]) + " |")
    footer = [f"[{k}] {n}" for k, n in enumerate(notes, 1)]
    if any(row.random for row, _ in records):
        footer.insert(0, "\\* each implementation draws from its own random generator, so results are not "
                         "compared (the smoke test compares them with saturated, deterministic draws)")
    return lines + [""] + [f + "  " for f in footer]


def compile_table(compile_results, rewrite) -> list[str]:
    lines = ["| backend | cold (empty cache) | new process, filled cache (import of symnb apart) "
             "| same-process rebuild |", "|---|---|---|---|"]
    for backend, r in compile_results.items():
        if "error" in r:
            lines.append(f"| symnb {backend} | failed: {r['error']} | | |")
            continue
        lines.append(f"| symnb {backend} | {fmt_time(r['cold'])} | {fmt_time(r['warm'])} "
                     f"(import {fmt_time(r['import'])}) | {fmt_time(r['rebuild'])} |")
    if rewrite:
        lines += ["", f"Default rewrite pipeline on the MLP training graph (cost, 4 gradients, 4 updates): "
                  f"{rewrite['nodes_before']} -> {rewrite['nodes_after']} nodes, median "
                  f"{fmt_time(rewrite['seconds'])} (min {fmt_time(rewrite['min'])})."]
    return lines


def render(header_lines, records_by_workload, bounds, compile_results, rewrite, targets) -> str:
    out = list(header_lines)
    for workload, records in records_by_workload.items():
        out += ["", f"## {SECTIONS.get(workload, workload)}", ""] + workload_table(records, bounds)
    if compile_results or rewrite:
        out += ["", "## Compile times (MLP 784-500-10 training function)", ""]
        out += compile_table(compile_results, rewrite)
    if targets:
        out += ["", "## Targets", "", "| target | measured | result |", "|---|---|---|"]
        out += [f"| {name} | {measured} | {verdict} |" for name, measured, verdict in targets]
    return "\n".join(out) + "\n"
