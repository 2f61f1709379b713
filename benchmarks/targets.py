"""The speed targets of the C++ backend issue, checked against one run's records.

Sits at the end of the benchmark flow: records -> [(target, measured, pass/fail)] for
report.py. Ratios are NumPy time / symnb time (medians, same process), on the first symnb
backend the run timed (the compiled one when there is one).
"""
from __future__ import annotations

from .report import fmt_time, ratio, size_label

NOT_MEASURED = "not measured in this run"


def _verdict(ok):
    return "pass" if ok else "FAIL"


def _failure(picked, impl) -> str:
    """The note of the first row where impl failed or gave a wrong result, else ''."""
    for row, cells in picked:
        cell = cells.get(impl)
        if cell is not None and cell.seconds is None:
            return f"{cell.note} ({row.label})"
    return ""


def _ratio_target(name, records, impl, goal, pick):
    """min ratio over the records that `pick` selects, >= goal."""
    picked = [(row, cells) for row, cells in records if pick(row)]
    failed = _failure(picked, impl)
    if failed:
        return name, failed, "FAIL"
    found = [(ratio(cells, impl), row) for row, cells in picked]
    found = [(r, row) for r, row in found if r is not None]
    if not found:
        return name, NOT_MEASURED, "-"
    worst, row = min(found, key=lambda f: f[0])
    where = f" ({row.key['expr']}, n={size_label(row.key['n'])})" if len(found) > 1 and "expr" in row.key else ""
    return name, f"{worst:.2f}x{where}", _verdict(worst >= goal)


def _speed_targets(records, impl):
    out = []
    a = records.get("A", [])
    for dtype in ("float64", "float32"):
        for n, goal in ((10 ** 3, 3), (10 ** 5, 5), (10 ** 7, 6)):
            out.append(_ratio_target(f"A {dtype} n={size_label(n)}: >= {goal}x (min over the 3 "
                                     "expressions besides a+1)", a, impl, goal,
                                     lambda r, n=n, d=dtype: r.key["n"] == n and r.key["dtype"] == d
                                     and r.key["expr"] != "a+1"))
    out.append(_ratio_target("A `a+1`: never below 0.9x (any size, either dtype)", a, impl, 0.9,
                             lambda r: r.key["expr"] == "a+1"))
    for dtype in ("float64", "float32"):
        out.append(_ratio_target(f"B {dtype} n=1e6: >= 6x", records.get("B", []), impl, 6,
                                 lambda r, d=dtype: r.key["dtype"] == d))
    out.append(_ratio_target("C logistic regression step: >= 2.5x", records.get("C", []), impl, 2.5, lambda r: True))
    out.append(_ratio_target("D MLP step: >= 1.4x", records.get("D", []), impl, 1.4, lambda r: True))
    for kind, what in (("cd1", "CD-1 step"), ("gibbs", "Gibbs sampling")):
        out.append(_ratio_target(f"E RBM {what}: >= 1.5x", records.get("E", []), impl, 1.5,
                                 lambda r, k=kind: r.key["kind"] == k))
    loops = [(row, cells) for rows in records.values() for row, cells in rows if row.key.get("kind") == "gibbs_scan"]
    out.append(_ratio_target("loops: RBM Gibbs chain as one scan: >= 2.5x", loops, impl, 2.5, lambda r: True))
    out.append(_loop_target(loops, impl))
    name = "call overhead of a one-scalar function: <= 2 us"
    overhead = records.get("overhead", [])
    cell = overhead[0][1].get(impl) if overhead else None
    if cell is None:
        out.append((name, NOT_MEASURED, "-"))
    elif cell.seconds is None:
        out.append((name, cell.note, "FAIL"))
    else:
        out.append((name, fmt_time(cell.seconds), _verdict(cell.seconds <= 2e-6)))
    return out


def _loop_target(records, impl):
    """The Gibbs scan against the same steps made by separate calls of the compiled step."""
    name = "loops: Gibbs scan within 1.2x of separate step calls (no loop overhead)"
    for row, cells in records:
        loop, steps = cells.get(impl), cells.get(f"{impl} step calls")
        if loop and steps and loop.seconds and steps.seconds:
            return name, f"{loop.seconds / steps.seconds:.2f}x the step calls' time", \
                _verdict(loop.seconds <= 1.2 * steps.seconds)
    return name, NOT_MEASURED, "-"


def _peer_target(records, impl, peer_names):
    """symnb ahead of every installed peer on every row where one was timed."""
    compared, behind = 0, []
    for rows in records.values():
        for row, cells in rows:
            mine = cells.get(impl)
            for peer in peer_names:
                theirs = cells.get(peer)
                if mine is None or theirs is None or mine.seconds is None or theirs.seconds is None:
                    continue
                compared += 1
                if theirs.seconds < mine.seconds:
                    behind.append((mine.seconds / theirs.seconds, peer, row.label))
    name = "ahead of every installed peer on every row"
    if not compared:
        return name, NOT_MEASURED, "-"
    behind.sort(reverse=True)
    worst = "; ".join(f"{peer} {slower:.2f}x faster on {label}" for slower, peer, label in behind[:3])
    return name, f"behind on {len(behind)} of {compared} comparisons" + (f" (worst: {worst})" if worst else ""), \
        _verdict(not behind)


def _compile_targets(compile_results, rewrite, backend):
    r = compile_results.get(backend)
    out = []
    for key, name, goal in (("cold", "MLP training function, cold compile: <= 1.5 s", 1.5),
                            ("warm", "... new process, filled cache, beyond importing symnb: <= 150 ms", 0.15),
                            ("rebuild", "... rebuilt in the same process: <= 10 ms", 0.01)):
        if r is None:
            out.append((name, NOT_MEASURED, "-"))
        elif "error" in r:
            out.append((name, f"failed: {r['error']}", "FAIL"))
        else:
            out.append((name, fmt_time(r[key]), _verdict(r[key] <= goal)))
    out.append(("rewriting the MLP training graph (default pipeline): < 100 ms",
                fmt_time(rewrite["seconds"]), _verdict(rewrite["seconds"] < 0.1)) if rewrite
               else ("rewriting the MLP training graph: < 100 ms", NOT_MEASURED, "-"))
    return out


def evaluate(records, compile_results, rewrite, backend, peer_names) -> list[tuple[str, str, str]]:
    impl = f"symnb:{backend}"
    return (_speed_targets(records, impl) + [_peer_target(records, impl, peer_names)]
            + _compile_targets(compile_results, rewrite, backend))
