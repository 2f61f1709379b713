"""Backpropagation through time: the gradient of a Scan node is another Scan, run backwards.

Called from Scan.grad (ops/scan.py) while sn.grad walks the graph. Step t of the backward
loop (t = n-1 down to n-T, T = n or truncate_gradient) applies the body's own gradient to
the output gradients of step t plus what later steps sent back through the taps; a carry of
lag rows per state holds the gradients still arriving for the positions the taps can reach,
and one accumulator per non-sequence sums its gradient over the steps.
"""
from __future__ import annotations

from .graph import Variable, replace, toposort
from .ops import elemwise as E
from .ops.scan import Scan
from .ops.shape import expand_dims, shape, stack
from .ops.subtensor import set_subtensor
from .types import TensorType, is_float


def _fresh(v, name):
    return Variable(TensorType(v.dtype, v.type.shape), name=name)


def _steps_back(x, n, start):
    """Rows start .. n-1 of x, last first (start None: from 0)."""
    return (x[:n] if start is None else x[start:n])[::-1]


def _body_gradients(op, inner_g, carries):
    """The backward body: gradients of the inner inputs from the output gradients of one step.

    inner_g: {index of a float inner output: its gradient placeholder}; carries: per float
    state, the placeholder of its (lag, ...) carry. Returns {id(inner input): gradient}."""
    from .grad import grad
    known = {}
    for k, g in inner_g.items():
        o = op.inner_outputs[k]
        if k < op.n_states:
            g = g + carries[k][op.lags[k] - 1]
        known[o] = known[o] + g if o in known else g
    wrt = [v for v in op.inner_inputs if is_float(v.dtype)]
    gs = grad(None, wrt, known_grads=known, disconnected_inputs="ignore")
    return {id(v): g for v, g in zip(wrt, gs)}


def _next_carry(lag, carry, tap_grads):
    """Row i of the carry for step t-1 is the gradient so far of buffer position t + i: the
    old row i-1 plus the taps of step t that read that position (tap = i - lag)."""
    rows = []
    for i in range(lag):
        parts = ([carry[i - 1]] if i else []) + [g for tap, g in tap_grads if lag + tap == i]
        total = parts[0] if parts else E.zeros_like(carry[0])
        for p in parts[1:]:
            total = total + p
        rows.append(total)
    return stack(rows)


def scan_grad(op: Scan, inputs, outputs, gouts):
    n_steps, seqs, inits, nonseqs = op.split_inputs(list(inputs))
    if any(op.kept(k) for k in range(op.n_states)):
        raise ValueError(f"grad: {op.name} keeps only its last states; its gradient needs the whole history")
    float_states = [k for k in range(op.n_states) if is_float(inits[k].dtype)]
    float_mapped = [j for j in range(op.n_mapped) if is_float(outputs[op.n_states + j].dtype)]
    none = [None] * len(inputs)
    if not float_states and not float_mapped:
        return none
    # Steps actually run (fewer than n_steps after an until): from an output's length.
    k0 = float_states[0] if float_states else None
    n = shape(outputs[k0])[0] - op.lags[k0] if k0 is not None else shape(outputs[op.n_states])[0]
    tg = op.truncate_gradient
    start = None if tg < 0 else E.maximum(n - tg, 0)
    T = n if start is None else n - start

    in_seqs, in_taps, in_ns = op.split_inner_inputs()
    # Backward sequences: the forward rows and tap values, and the outputs' gradients.
    b_inner, b_outer = [], []
    for row, x in zip(in_seqs, seqs):
        b_inner.append(row)
        b_outer.append(_steps_back(x, n, start))
    for k, (taps, buf) in enumerate(zip(op.taps, outputs)):
        lag = op.lags[k]
        for tap, ph in zip(taps, in_taps[k]):
            b_inner.append(ph)
            b_outer.append(_steps_back(buf[lag + tap:], n, start))
    inner_g = {}
    for k in float_states:
        inner_g[k] = _fresh(in_taps[k][0], "g_new")
        b_inner.append(inner_g[k])
        b_outer.append(_steps_back(gouts[k][op.lags[k]:], n, start))
    for j in float_mapped:
        k = op.n_states + j
        inner_g[k] = _fresh(op.inner_outputs[k], "g_out")
        b_inner.append(inner_g[k])
        b_outer.append(_steps_back(gouts[k], n, start))
    # Backward states: one carry per float state, one accumulator per float non-sequence.
    carries = {k: Variable(TensorType(inits[k].dtype, inits[k].type.shape), name="carry") for k in float_states}
    float_ns = [i for i, v in enumerate(in_ns) if is_float(v.dtype)]
    accs = {i: _fresh(in_ns[i], "acc") for i in float_ns}
    g = _body_gradients(op, inner_g, carries)
    new_states, b_init = [], []
    for k in float_states:
        taps = [(tap, g[id(ph)]) for tap, ph in zip(op.taps[k], in_taps[k])]
        new_states.append(_next_carry(op.lags[k], carries[k], taps))
        b_init.append(expand_dims(E.zeros_like(inits[k]), 0))
    for i in float_ns:
        new_states.append(accs[i] + g[id(in_ns[i])])
        b_init.append(expand_dims(E.zeros_like(nonseqs[i]), 0))
    float_seqs = [j for j, row in enumerate(in_seqs) if is_float(row.dtype)]
    seq_grads = [g[id(in_seqs[j])] for j in float_seqs]

    # What the body computed at step t is in the forward outputs: read it, do not recompute it
    # (tanh's gradient needs tanh's value, the new state itself).
    exprs = new_states + seq_grads
    stored = {}
    for k, o in enumerate(op.inner_outputs[:op.n_states + op.n_mapped]):
        if o.owner is not None and id(o) not in stored:
            stored[id(o)] = (o, _fresh(o, "out"), outputs[k][op.lags[k]:] if k < op.n_states else outputs[k])
    used = {id(o) for n in toposort(exprs) for o in n.outputs}      # `stored` holds computed values only
    reads = [entry for key, entry in stored.items() if key in used]
    if reads:
        exprs = replace(exprs, {o: ph for o, ph, _ in reads})
        b_inner += [ph for _, ph, _ in reads]
        b_outer += [_steps_back(full, n, start) for _, _, full in reads]
    new_states, seq_grads = exprs[:len(new_states)], exprs[len(new_states):]

    bop = Scan(tuple(b_inner + [carries[k] for k in float_states] + [accs[i] for i in float_ns] + in_ns),
               tuple(new_states + seq_grads), len(b_inner), ((-1,),) * len(new_states), len(seq_grads),
               labels=(), label=f"grad_of_{op.name}")
    from .ops.base import apply_op
    bouts = apply_op(bop, [T, *b_outer, *b_init, *nonseqs], as_list=True)

    result = none
    for pos, k in enumerate(float_states):
        lag, gk = op.lags[k], gouts[k][:op.lags[k]]
        carry = bouts[pos][-1]
        if start is not None:      # truncated before step 0: nothing reaches the initial rows
            carry = E.where(E.eq(T, n), carry, E.zeros_like(carry))
        result[1 + len(seqs) + k] = gk + carry
    for pos, i in enumerate(float_ns):
        result[1 + len(seqs) + op.n_states + i] = bouts[len(float_states) + pos][-1]
    for pos, j in enumerate(float_seqs):
        rows = bouts[len(new_states) + pos][::-1]
        x = seqs[j]
        at = E.zeros_like(x)[:n] if start is None else E.zeros_like(x)[start:n]
        result[1 + j] = set_subtensor(at, rows)
    return result
