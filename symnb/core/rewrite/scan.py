"""The scan pass of the rewrite pipeline: what happens to a loop's body (rewrite stage).

For each Scan node: outputs nobody reads are dropped, with what only they needed;
loop-invariant subexpressions move out of the body (computed once, then read as
non-sequences), and so do products of a sequence's rows with an invariant matrix (one GEMM
over all steps); the body is rewritten with the default pipeline (its steps enter
the history under "<scan name>/<pass>"); a state read only at its last rows keeps only
those rows (memory O(state), not O(n_steps x state)).
"""
from __future__ import annotations

import dataclasses

from ..graph import Constant, Variable, replace, toposort
from ..ops.base import apply_op
from ..ops.blas import Dot, dot
from ..ops.scan import Scan
from ..ops.shape import reshape, shape, stack
from ..ops.subtensor import Subtensor
from ..random import RandomDraw
from .engine import Step

STATEFUL = (RandomDraw,)      # never hoisted: a draw advances its stream on every step


def hoist_invariants(op: Scan, inputs):
    """(op, inputs) with every body subexpression that depends only on non-sequences and
    constants computed outside the loop; (op, inputs) unchanged when there is none."""
    n_steps, seqs, inits, nonseqs = op.split_inputs(list(inputs))
    _, _, ns_inner = op.split_inner_inputs()
    invariant = {id(v) for v in ns_inner}
    nodes = toposort(list(op.inner_outputs))
    for node in nodes:
        if not isinstance(node.op, STATEFUL) and all(
                id(i) in invariant or isinstance(i, Constant) for i in node.inputs):
            invariant.update(id(o) for o in node.outputs)
    # The invariant values the loop reads: inputs of variant nodes and body outputs.
    frontier, seen = [], set()
    for v in [i for n in nodes if not id(n.outputs[0]) in invariant for i in n.inputs] + list(op.inner_outputs):
        if id(v) in invariant and v.owner is not None and id(v) not in seen:
            seen.add(id(v))
            frontier.append(v)
    if not frontier:
        return op, inputs
    placeholders = [Variable(v.type, name=v.name) for v in frontier]
    inner_out = replace(list(op.inner_outputs), dict(zip(frontier, placeholders)))
    from . import rewrite        # the pass runs last: the hoisted values get the rest now
    outer = rewrite(replace(frontier, dict(zip(ns_inner, nonseqs)))).outputs
    used = {id(i) for n in toposort(inner_out) for i in n.inputs} | {id(o) for o in inner_out}
    keep_ns = [(i, o) for i, o in zip(ns_inner, nonseqs) if id(i) in used]
    new_inner = tuple(op.inner_inputs[:len(op.inner_inputs) - len(ns_inner)]) + tuple(
        i for i, _ in keep_ns) + tuple(placeholders)
    new_op = dataclasses.replace(op, inner_inputs=new_inner, inner_outputs=tuple(inner_out))
    return new_op, [n_steps, *seqs, *inits, *[o for _, o in keep_ns], *outer]


def rewrite_body(op: Scan, history):
    """op with its inner graph rewritten by the default pipeline; the steps go to history."""
    from . import rewrite
    result = rewrite(list(op.inner_outputs))
    if history is not None:
        history.extend(Step(f"{op.name}/{s.pass_name}", s.rule, s.before, s.after) for s in result.history)
    new = tuple(result.outputs)
    return op if all(a is b for a, b in zip(new, op.inner_outputs)) else dataclasses.replace(op, inner_outputs=new)


def prune(op: Scan, inputs, wanted):
    """(op, inputs, {old output index: new}) without the outputs nobody reads (wanted[k]
    False) and the inputs only they needed; a state goes only when no kept output reads it."""
    _, in_taps, _ = op.split_inner_inputs()
    keep = list(wanted)
    while True:
        needed = list(op.inner_outputs[op.nout:]) + [o for k, o in enumerate(op.inner_outputs[:op.nout]) if keep[k]]
        reach = {id(v) for v in needed} | {id(i) for n in toposort(needed) for i in n.inputs}
        more = [k for k in range(op.n_states) if not keep[k] and any(id(p) in reach for p in in_taps[k])]
        if not more:
            break
        for k in more:
            keep[k] = True
    n_steps, seqs, inits, nonseqs = op.split_inputs(list(inputs))
    in_seqs, _, in_ns = op.split_inner_inputs()
    states = [k for k in range(op.n_states) if keep[k]]
    mapped = [j for j in range(op.n_mapped) if keep[op.n_states + j]]
    s_keep = [j for j, v in enumerate(in_seqs) if id(v) in reach]
    ns_keep = [i for i, v in enumerate(in_ns) if id(v) in reach]
    if all(keep) and len(s_keep) == len(in_seqs) and len(ns_keep) == len(in_ns):
        return op, inputs, None
    new = dataclasses.replace(
        op, inner_inputs=tuple([in_seqs[j] for j in s_keep] + [p for k in states for p in in_taps[k]]
                               + [in_ns[i] for i in ns_keep]),
        inner_outputs=tuple(op.inner_outputs[k] for k in states + [op.n_states + j for j in mapped])
        + tuple(op.inner_outputs[op.nout:]),
        n_seqs=len(s_keep), taps=tuple(op.taps[k] for k in states), n_mapped=len(mapped),
        keep=tuple(op.kept(k) for k in states),
        labels=tuple([op.seq_label(j) for j in s_keep] + [op.out_label(k) for k in states]
                     + [op.out_label(op.n_states + j) for j in mapped]))
    ins = [n_steps, *[seqs[j] for j in s_keep], *[inits[k] for k in states], *[nonseqs[i] for i in ns_keep]]
    index = {k: i for i, k in enumerate(states + [op.n_states + j for j in mapped])}
    return new, ins, index


def push_out_sequence_dots(op: Scan, inputs):
    """(op, inputs) with each product of a sequence's row and a loop-invariant matrix done
    for every step at once before the loop (one big GEMM instead of n_steps small ones; an
    RNN's input projection); (op, inputs) unchanged when there is none."""
    n_steps, seqs, inits, nonseqs = op.split_inputs(list(inputs))
    in_seqs, _, in_ns = op.split_inner_inputs()
    outer_seq = {id(r): x for r, x in zip(in_seqs, seqs)}
    outer_ns = {id(v): x for v, x in zip(in_ns, nonseqs)}
    found = [n for n in toposort(list(op.inner_outputs)) if isinstance(n.op, Dot) and id(n.inputs[0]) in outer_seq
             and n.inputs[1].ndim == 2 and (id(n.inputs[1]) in outer_ns or isinstance(n.inputs[1], Constant))]
    if not found:
        return op, inputs
    rows, outer = [], []
    for node in found:
        x, w = node.inputs
        X, W = outer_seq[id(x)][:n_steps], outer_ns.get(id(w), w)
        if x.ndim == 1:
            product = dot(X, W)
        else:
            flat = dot(reshape(X, stack([-1, shape(X)[2]]), ndim=2), W)
            product = reshape(flat, stack([shape(X)[0], shape(X)[1], shape(W)[1]]), ndim=3)
        rows.append(Variable(node.outputs[0].type, name=f"{x.name}@{w.name}" if x.name and w.name else None))
        outer.append(product)
    inner_out = replace(list(op.inner_outputs), {n.outputs[0]: r for n, r in zip(found, rows)})
    n_in_seqs = op.n_seqs
    new = dataclasses.replace(op, inner_inputs=tuple(in_seqs) + tuple(rows) + op.inner_inputs[n_in_seqs:],
                              inner_outputs=tuple(inner_out), n_seqs=n_in_seqs + len(rows),
                              labels=tuple(op.seq_label(j) for j in range(n_in_seqs))
                              + tuple(f"{op.seq_label(in_seqs.index(n.inputs[0]))} (times a matrix)" for n in found)
                              + op.labels[n_in_seqs:])
    new, ins, _ = prune(new, [n_steps, *seqs, *outer, *inits, *nonseqs], [True] * new.nout)
    return new, ins


def _last_row_readers(v, lag, clients, returned):
    """The nodes that read v, when each picks one of its last `lag` rows (v[-1], v[-2, 3],
    also through slices that drop leading rows, v[1:][-1]); None when some node reads more."""
    readers = clients.get(id(v), [])
    if not readers or id(v) in returned:
        return None
    picks = []
    for n in readers:
        if not isinstance(n.op, Subtensor) or n.inputs[0] is not v:
            return None
        first = n.op.idx[0]
        if isinstance(first, int) and -lag <= first < 0:
            picks.append(n)
        elif (n.op.idx == (("s", first[1], None, None),) if isinstance(first, tuple) else False) \
                and isinstance(first[1], int) and first[1] >= 0:
            more = _last_row_readers(n.outputs[0], lag, clients, returned)
            if more is None:
                return None
            picks += more
        else:
            return None
    return picks


def scan_pass(outputs, history, name):
    nodes = toposort(outputs)
    if not any(isinstance(n.op, Scan) for n in nodes):
        return outputs
    clients: dict[int, list] = {}
    for n in nodes:
        for i in n.inputs:
            clients.setdefault(id(i), []).append(n)
    returned = {id(o) for o in outputs}
    mapping = {}
    for node in nodes:
        if not isinstance(node.op, Scan):
            continue
        inputs = replace(list(node.inputs), mapping) if mapping else list(node.inputs)
        op, inputs, index = prune(node.op, inputs, [id(o) in clients or id(o) in returned for o in node.outputs])
        olds = list(node.outputs) if index is None else [node.outputs[k] for k in sorted(index, key=index.get)]
        pruned = op
        op, inputs = hoist_invariants(op, inputs)
        hoisted = op is not pruned
        pushing = op
        op, inputs = push_out_sequence_dots(op, inputs)
        pushed = op is not pushing
        op = rewrite_body(op, history)
        picks = [None if op.kept(k) else _last_row_readers(olds[k], lag, clients, returned)
                 for k, lag in enumerate(op.lags)]
        if any(p is not None for p in picks):
            op = dataclasses.replace(op, keep=tuple(op.kept(k) or p is not None for k, p in enumerate(picks)))
        if op is node.op and all(a is b for a, b in zip(inputs, node.inputs)):
            continue
        new_outs = apply_op(op, inputs, trace=node.trace, as_list=True)
        for rule, done in (("scan_prune_outputs", index is not None), ("scan_hoist_invariants", hoisted),
                           ("scan_push_out_sequence_dots", pushed)):
            if done and history is not None:
                history.append(Step(name, rule, olds[0], new_outs[0]))
        for k, (old, new) in enumerate(zip(olds, new_outs)):
            if k >= len(picks) or picks[k] is None:
                mapping[old] = new
                continue
            for reader in picks[k]:       # v[-j] of the kept rows is v[-j] of the history
                before = reader.outputs[0]
                after = apply_op(reader.op, [new, *reader.inputs[1:]], trace=reader.trace)
                mapping[before] = after
                if history is not None:
                    history.append(Step(name, "scan_keep_last_states", before, after))
    return replace(outputs, mapping) if mapping else outputs
