"""sn.scan and sn.until: PyTensor's loop construct, built into one Scan node (graph stage).

The body `fn` is called once, on symbolic rows; what it returns becomes the Scan op's inner
graph (ops/scan.py). Variables the body reads from outside become non-sequences, and shared
variables it updates (random streams included) become states, advanced once per step.
"""
from __future__ import annotations

from collections import OrderedDict

from .graph import Constant, SharedVariable, Variable, as_variable, graph_inputs, replace
from .ops.base import apply_op
from .ops.elemwise import cast, minimum
from .ops.scan import Scan
from .ops.shape import expand_dims, shape
from .types import TensorType


class until:
    """Returned by a scan body (alone, or with its outputs) to stop after the step where
    `condition` is true (PyTensor's scan_module.until)."""

    def __init__(self, condition):
        condition = as_variable(condition)
        if condition.ndim != 0:
            raise TypeError(f"until: the condition must be a scalar, got {condition.type}")
        self.condition = condition if condition.dtype == "bool" else cast(condition, "bool")


def _describe(v) -> str:
    return f"{v.name!r} ({v.type})" if isinstance(v, Variable) and v.name else str(getattr(v, "type", type(v).__name__))


def _listify(x):
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _sequence_specs(sequences):
    """[(variable, taps)] from PyTensor's forms: a variable, or {'input': x, 'taps': [...]}."""
    specs = []
    for j, s in enumerate(_listify(sequences)):
        taps = [0]
        if isinstance(s, dict):
            if "input" not in s:
                raise TypeError(f"scan: sequences[{j}] is a dict without an 'input' entry")
            s, taps = s["input"], list(s.get("taps", [0]))
        x = as_variable(s)
        if x.ndim < 1:
            raise TypeError(f"scan: sequences[{j}] {_describe(x)} must have at least one dimension to loop over")
        if not taps or not all(isinstance(t, int) for t in taps):
            raise TypeError(f"scan: the taps of sequences[{j}] must be a non-empty list of integers, got {taps!r}")
        specs.append((x, taps))
    return specs


def _output_specs(outputs_info):
    """[(initial value or None, taps)]: None or {'initial': None} is a mapped output."""
    specs = []
    for k, o in enumerate(_listify(outputs_info)):
        taps = [-1]
        if isinstance(o, dict):
            o, taps = o.get("initial"), list(o.get("taps", [-1]))
        if o is None:
            specs.append((None, None))
            continue
        if not taps or not all(isinstance(t, int) and t < 0 for t in taps):
            raise ValueError(f"scan: the taps of outputs_info[{k}] must be negative integers, got {taps!r}")
        init = as_variable(o)
        if max(taps) != -1 or len(taps) > 1:
            if init.ndim < 1:
                raise TypeError(f"scan: outputs_info[{k}] with taps {taps} needs one row per lag, "
                                f"got {_describe(init)}")
            rows, row_type = init, TensorType(init.dtype, init.type.shape[1:])
        else:
            rows, row_type = expand_dims(init, 0), init.type
        specs.append(((init, rows, row_type), taps))
    return specs


def _parse_result(result):
    """(outputs, until condition or None, {shared variable: new value}) from the body's return."""
    outs, cond, updates = [], None, OrderedDict()
    for item in (result if isinstance(result, (list, tuple)) else [result]):
        if isinstance(item, until):
            cond = item.condition
        elif isinstance(item, dict):
            updates.update(item)
        elif isinstance(item, (list, tuple)) and not all(isinstance(e, (int, float)) for e in item):
            o, c, u = _parse_result(item)
            outs += o
            cond = c if c is not None else cond
            updates.update(u)
        elif item is not None:
            outs.append(item)
    return outs, cond, updates


def _as_output(k, o):
    try:
        return as_variable(o)
    except TypeError:
        raise TypeError(f"scan: output {k} of the body is a {type(o).__name__} ({o!r:.60}), "
                        "not a symbolic variable") from None


def _check_state(k, out, init, row_type):
    t = out.type
    if t.dtype != row_type.dtype or t.ndim != row_type.ndim or any(
            a is not None and b is not None and a != b for a, b in zip(t.shape, row_type.shape)):
        hint = f"; cast the initial state with .astype('{t.dtype}')" if t.dtype != row_type.dtype else ""
        raise TypeError(f"scan: output {k} of the body has type {t}, but its initial state outputs_info[{k}] "
                        f"{_describe(init)} gives steps of type {row_type}; they must match{hint}")


def _shared_states(exprs, explicit):
    """[(shared variable, its new value)]: the body's own updates, then every default update
    (a random stream's draw) reachable from the body, advanced once per step."""
    pairs = list(explicit.items())
    seen = {id(s) for s, _ in pairs}
    frontier = list(exprs) + [v for _, v in pairs]
    while frontier:
        extra = [(v, v.default_update) for v in graph_inputs(frontier) if isinstance(v, SharedVariable)
                 and v.default_update is not None and id(v) not in seen]
        for s, v in extra:
            seen.add(id(s))
        pairs += extra
        frontier = [v for _, v in extra]
    for s, v in pairs:
        if not isinstance(s, SharedVariable):
            raise TypeError(f"scan: the body's updates must update shared variables, got {s!r}")
        v = as_variable(v)
        if v.type.dtype != s.dtype or v.ndim != s.ndim:
            raise TypeError(f"scan: the body updates shared variable {s.name!r} ({s.type}) with {v.type}")
    return [(s, as_variable(v)) for s, v in pairs]


def _placeholder(v: Variable, name=None) -> Variable:
    return Variable(TensorType(v.dtype, v.type.shape), name=name or v.name)


def scan(fn, sequences=None, outputs_info=None, non_sequences=None, n_steps=None, truncate_gradient=-1,
         go_backwards=False, return_list=False, name=None):
    """Loop `fn` over steps (PyTensor's scan): returns (outputs, updates).

    fn receives, in order, each sequence's rows at its taps, each recurrent output's past
    values at its taps, then the non-sequences, and returns the outputs (with an optional
    `until(condition)` and an optional {shared variable: new value} dict). `updates` holds
    the final value of every shared variable the loop advances (random streams): pass it
    to sn.function so the next call continues from there."""
    label = f"scan{{{name}}}" if name else "scan"
    seq_specs = _sequence_specs(sequences)
    if go_backwards:
        seq_specs = [(x[::-1], taps) for x, taps in seq_specs]
    out_specs = _output_specs(outputs_info)
    user_ns = [as_variable(v) for v in _listify(non_sequences)]

    seq_rows, seq_outer, labels = [], [], []
    for j, (x, taps) in enumerate(seq_specs):
        lo, hi = min(taps), max(taps)
        for tap in taps:
            base = x.name or f"s{j}"
            row_name = f"{base}[t{tap:+d}]" if tap else f"{base}[t]"
            seq_rows.append(Variable(TensorType(x.dtype, x.type.shape[1:]), name=row_name))
            stop = tap - hi if tap < hi else None
            seq_outer.append(x if tap == lo and stop is None else x[tap - lo:stop])
            labels.append(f"sequences[{j}]" + (f" ({x.name!r}, tap {tap})" if x.name else f" (tap {tap})"))
    state_taps = []
    for k, (spec, taps) in enumerate(out_specs):
        if spec is not None:
            init, _, row_type = spec
            state_taps.append([Variable(row_type, name=f"{init.name or f'o{k}'}[t{tap}]") for tap in taps])
    ns_inner = [v if isinstance(v, Constant) else _placeholder(v, v.name or f"n{i}") for i, v in enumerate(user_ns)]
    args = seq_rows + [p for ps in state_taps for p in ps] + ns_inner

    outs, cond, body_updates = _parse_result(fn(*args))
    outs = [_as_output(k, o) for k, o in enumerate(outs)]
    if outputs_info is None:
        out_specs = [(None, None)] * len(outs)
    if len(outs) != len(out_specs):
        raise ValueError(f"scan: the body returned {len(outs)} output(s) ({', '.join(str(o.type) for o in outs)}), "
                         f"but outputs_info describes {len(out_specs)}")
    states = [(k, o, spec) for k, (o, (spec, _)) in enumerate(zip(outs, out_specs)) if spec is not None]
    mapped = [o for o, (spec, _) in zip(outs, out_specs) if spec is None]
    for k, o, (init, _, row_type) in states:
        _check_state(k, o, init, row_type)
    labels += [f"output {k}" + (f" ({spec[0].name!r})" if spec[0].name else "") for k, _, spec in states]
    mapped_labels = [f"output {k}" for k, (spec, _) in enumerate(out_specs) if spec is None]

    # Shared variables the loop advances become states of their own (taps [-1]).
    exprs = [o for _, o, _ in states] + mapped + ([cond] if cond is not None else [])
    shared = _shared_states(exprs, body_updates)
    mapping = {s: _placeholder(s) for s, _ in shared}
    exprs = exprs + [v for _, v in shared]
    # Everything else the body reads from outside becomes a non-sequence.
    bound = {id(v) for v in args} | {id(s) for s in mapping}
    free = [v for v in graph_inputs(exprs) if id(v) not in bound and not isinstance(v, Constant)]
    mapping.update((v, _placeholder(v)) for v in free)
    exprs = replace(exprs, mapping) if mapping else exprs
    n_user_states = len(states)
    new_states = exprs[:n_user_states] + exprs[len(exprs) - len(shared):]
    inner_out = new_states + exprs[n_user_states:n_user_states + len(mapped) + (cond is not None)]

    taps = [tuple(t) for spec, t in out_specs if spec is not None] + [(-1,)] * len(shared)
    inner_in = (seq_rows + [p for ps in state_taps for p in ps] + [mapping[s] for s, _ in shared]
                + [v for v in ns_inner if not isinstance(v, Constant)] + [mapping[v] for v in free])
    outer_init = [spec[1] for _, _, spec in states] + [expand_dims(s, 0) for s, _ in shared]
    outer_ns = [v for v in user_ns if not isinstance(v, Constant)] + free
    labels += [f"shared variable {s.name!r}" for s, _ in shared] + mapped_labels
    if n_steps is None:     # as PyTensor: as many steps as the shortest sequence gives
        if not seq_outer:
            raise ValueError("scan: give n_steps when there are no sequences")
        n_steps = shape(seq_outer[0])[0]
        for s in seq_outer[1:]:
            n_steps = minimum(n_steps, shape(s)[0])
    n_steps = as_variable(n_steps)
    if n_steps.ndim != 0 or not n_steps.dtype.startswith(("int", "uint")):
        raise TypeError(f"scan: n_steps must be an integer scalar, got {_describe(n_steps)}")
    op = Scan(tuple(inner_in), tuple(inner_out), len(seq_rows), tuple(taps), len(mapped), cond is not None,
              (), int(truncate_gradient), tuple(labels), label)
    node_outs = apply_op(op, [cast(n_steps, "int64"), *seq_outer, *outer_init, *outer_ns], as_list=True)

    n_states = len(taps)
    results, it_state, it_mapped = [], iter(range(n_user_states)), iter(range(n_states, n_states + len(mapped)))
    for spec, t in out_specs:
        if spec is None:
            results.append(node_outs[next(it_mapped)])
        else:
            results.append(node_outs[next(it_state)][-min(t):])
    updates = OrderedDict()
    for k, (s, _) in enumerate(shared):
        last = node_outs[n_user_states + k][-1]
        updates[s] = last
        if s.default_update is not None:    # function() without updates= advances it too
            s.default_update = last
    if not return_list and len(results) == 1:
        return results[0], updates
    return results, updates
