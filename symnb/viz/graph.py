"""Graph -> picture: `sn.viz.graph(outputs, rewritten=False)` draws a graph as SVG.

Display stage: reads a graph (what the user built, its rewritten form, a compiled
function's graph), writes DOT text with one style per kind of node, and lays it out with
engine.render_svg. Jupyter shows the result through `_repr_mimebundle_`.
"""
from __future__ import annotations

from ..core.graph import Constant, SharedVariable, Variable, replace, toposort
from ..core.ops import Fused, Shape
from ..core.ops.scan import Scan
from ..core.printing import format_constant, pp
from ..core.rewrite import RewriteResult, rewrite
from .engine import render_svg

# One look per kind of node (inputs, constants, shared variables, ops, fused loops, outputs).
STYLE = {
    "input": 'shape=ellipse, style=filled, fillcolor="#d9f2d0", color="#2e7d32"',
    "constant": 'shape=box, style="filled,rounded", fillcolor="#eeeeee", color="#9e9e9e", fontsize=10',
    "shared": 'shape=cylinder, style=filled, fillcolor="#ffe0b2", color="#e65100"',
    "op": 'shape=box, style="filled,rounded", fillcolor="#dbe9f8", color="#1f4e79"',
    "fused": 'shape=box, style="filled,rounded,bold", fillcolor="#fff3c4", color="#b28704"',
    "output": 'shape=box, style="filled,bold", fillcolor="#f8d7e3", color="#ad1457", peripheries=2',
    "context": 'shape=box, style="filled,dashed", fillcolor="#f5f5f5", color="#9e9e9e", fontsize=10',
}
NEW = 'color="#d62728", penwidth=3'           # a node a rewrite created (rewritten view)
CHANGED = 'fillcolor="#ff9f43", color="#c0392b", penwidth=3'   # what the stepper's step made
REMOVED = 'fillcolor="#eeeeee", color="#9e9e9e", style="filled,rounded,dashed", fontcolor="#757575"'  # ... and replaced
LABEL_CHARS = 48        # a longer fused expression is cut in its label (whole in its tooltip)
FIT_WIDTH = 1100        # pixels of a notebook's output area; wider top-down layouts go left to right
FOLD_SHAPES = 20        # above this many ops, shape and index arithmetic is drawn as labelled leaves


def _quote(text: str) -> str:
    """A DOT string literal whose lines break where text's do."""
    esc = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "\\n".join(esc.splitlines() or [""]) + '"'


def _shorten(text: str, n: int = LABEL_CHARS) -> str:
    lines = []
    for line in text.splitlines():
        lines.append(line if len(line) <= n else line[:n - 1] + "…")
    return "\n".join(lines[:6] + (["…"] if len(lines) > 6 else []))


def fused_expression(node) -> str:
    """The elementwise expression a Fused node computes, in terms of its inputs' names."""
    op = node.op
    names = {}
    for k, (inner, outer) in enumerate(zip(op.inner_inputs, node.inputs)):
        short = outer.name if outer.name and len(outer.name) <= 8 else None
        if isinstance(outer, Constant) and outer.data.size == 1:
            short = format_constant(outer)
        names[inner] = Variable(inner.type, name=short or f"i{k}")
    outs = replace(list(op.inner_outputs), names)
    text = pp(outs)
    if len(outs) > 1:
        lines = text.splitlines()
        lines[-len(outs):] = [f"out{k} = {line}" for k, line in enumerate(lines[-len(outs):])]
        text = "\n".join(lines)
    return text


def _outputs_of(obj) -> tuple[list, list]:
    """(variables to draw, label of each): a variable, a list, a rewrite result or a Function."""
    if isinstance(obj, RewriteResult):
        obj = list(obj.outputs)
    if hasattr(obj, "fgraph"):                      # a compiled Function
        outs = list(obj.fgraph.outputs)
        labels = [f"out {k}" for k in range(len(obj.outputs))]
        labels += [f"update {var.name or k}" for k, (var, _) in enumerate(obj.updates)]
        return outs, labels
    outs = [obj] if isinstance(obj, Variable) else list(obj)
    return outs, [o.name or f"out {k}" if len(outs) > 1 else (o.name or "out") for k, o in enumerate(outs)]


class Graph:
    """A drawn graph: `.dot` (DOT text), `.svg()` (laid out once, then kept); Jupyter shows the SVG.

    `new` and `changed` hold ids of nodes to mark: created by a rewrite, changed by the
    shown rewrite step.
    """

    def __init__(self, outputs, labels=None, new=(), changed=(), removed=(), cut=(), title=None,
                 expand_fused=False, rankdir=None, fold_shapes=None):
        self.outputs = list(outputs)
        self.labels = labels or [o.name or f"out {k}" for k, o in enumerate(self.outputs)]
        self.new, self.changed, self.removed = set(new), set(changed), set(removed)
        self.title, self.expand_fused = title, expand_fused
        nodes = toposort(self.outputs)
        if fold_shapes is None:
            fold_shapes = len(nodes) > FOLD_SHAPES
        self.plumbing = shape_plumbing(nodes) if fold_shapes else set()
        # Nodes not drawn: their outputs appear as context leaves labelled with their expression.
        self.cut = set(cut) | self.plumbing
        self.nodes = [n for n in nodes if id(n) not in self.cut]
        self.rankdir = rankdir or self._direction()
        self.dot = self._write()
        self._svg = None

    def _direction(self) -> str:
        """Top-down unless that is wider than a notebook and left-to-right is narrower."""
        level: dict[int, int] = {}
        for n in self.nodes:
            level[id(n)] = 1 + max((level.get(id(i.owner), 0) for i in n.inputs if i.owner is not None), default=0)
        per_level: dict[int, int] = {}
        for d in level.values():
            per_level[d] = per_level.get(d, 0) + 1
        depth, breadth = len(per_level) + 2, max(per_level.values(), default=1)     # + leaves, outputs
        top_down, left_right = breadth * 110, depth * 140
        return "LR" if top_down > FIT_WIDTH and left_right < top_down else "TB"

    # ------------------------------------------------------------------ DOT
    def _write(self) -> str:
        self.ids: dict[int, str] = {}
        lines = [f"digraph symnb {{\n  rankdir={self.rankdir}; nodesep=0.25; ranksep=0.35;",
                 '  node [fontname="Helvetica", fontsize=11, margin="0.08,0.04", height=0.3];',
                 '  edge [color="#555555", arrowsize=0.6, fontname="Helvetica", fontsize=9];']
        if self.title:
            lines.append(f'  labelloc=t; fontname="Helvetica"; fontsize=13; label={_quote(self.title)};')
        for node in self.nodes:
            for v in node.inputs:
                if self._is_leaf(v) and id(v) not in self.ids:
                    lines.append(self._leaf(v))
            lines.extend(self._op(node))
            for k, v in enumerate(node.inputs):
                slot = self._slot(node, k)
                attrs = [f"headlabel={_quote(slot)}"] if slot else []
                if v.owner is not None and len(v.owner.outputs) > 1:
                    attrs.append(f"taillabel={_quote(f'[{v.index}]')}")
                lines.append(f"  {self._source(v)} -> {self.ids[id(node)]}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
        for k, (o, label) in enumerate(zip(self.outputs, self.labels)):
            if self._is_leaf(o) and id(o) not in self.ids:
                lines.append(self._leaf(o))
            tip = f"{label}: {o.type}"
            lines.append(f'  out{k} [label={_quote(label)}, tooltip={_quote(tip)}, class="symnb-output", '
                         f'{STYLE["output"]}];')
            lines.append(f"  {self._source(o)} -> out{k};")
        lines.append("}")
        return "\n".join(lines)

    @staticmethod
    def _slot(node, k) -> str:
        """The label of input k's edge where argument order matters: its position, or the
        name a fused node's expression gives it (i0, i1, ...)."""
        if not 2 <= len(node.inputs) <= 6 or getattr(node.op, "scalar", None) in ("add", "mul"):
            return ""           # one input, or so many that the numbers would pile up unreadably
        return f"i{k}" if isinstance(node.op, Fused) else str(k)

    def _is_leaf(self, v) -> bool:
        return v.owner is None or id(v.owner) in self.cut

    def _source(self, v) -> str:
        """The DOT id an edge leaves from: the node computing v, or v's own leaf."""
        return self.ids[id(v)] if self._is_leaf(v) else self.ids[id(v.owner)]

    def _leaf(self, v) -> str:
        ident = self.ids[id(v)] = f"v{len(self.ids)}"
        if v.owner is not None and id(v.owner) in self.plumbing:
            kind, label = "context", _shorten(shape_text(v, self.plumbing), 32)
        elif v.owner is not None:           # a cut node's output: context, named by its expression
            kind, label = "context", _shorten(v.name or pp(v).splitlines()[-1], 32)
        elif isinstance(v, Constant):
            kind, label = "constant", v.name or format_constant(v)
        elif isinstance(v, SharedVariable):
            kind, label = "shared", v.name or "shared"
        else:
            kind, label = "input", v.name or str(v.type)
        tip = f"{kind}{' ' + v.name if v.name else ''}: {v.type}"
        classes, extra = f"symnb-{kind}", f", {NEW}" if id(v) in self.new else ""
        if id(v) in self.changed:
            classes, extra = classes + " symnb-changed", extra + ", " + CHANGED
        return f'  {ident} [label={_quote(label)}, tooltip={_quote(tip)}, class="{classes}", {STYLE[kind]}{extra}];'

    def _op(self, node) -> list[str]:
        ident = self.ids[id(node)] = f"n{len(self.ids)}"
        op = node.op
        outs = ", ".join(str(o.type) for o in node.outputs)
        tip = f"{op.name} -> {outs}" + (f"\nbuilt at {node.trace}" if node.trace else "")
        classes = ["symnb-op"]
        extra = ""
        if id(node) in self.new:
            classes.append("symnb-new")
            extra += ", " + NEW
        if id(node) in self.changed:
            classes.append("symnb-changed")
            extra += ", " + CHANGED
        if id(node) in self.removed:
            classes.append("symnb-removed")
            extra += ", " + REMOVED
        if isinstance(op, Fused):
            expr = fused_expression(node)
            tip = f"{expr}\n{tip}"
            if self.expand_fused:
                return self._cluster(node, ident, "fused loop", [f"i{k}" for k in range(len(op.inner_inputs))],
                                     tip, classes + ["symnb-fused"], extra, "fused")
            label, kind = f"fused loop ({len(op.inner_nodes)} ops)\n{_shorten(expr)}", "fused"
            classes.append("symnb-fused")
        elif isinstance(op, Scan):      # a loop is always drawn open: its body is what it does
            return self._cluster(node, ident, f"{op.label}: one step", op.step_inputs(), tip,
                                 classes + ["symnb-scan"], extra, "op")
        else:
            label, kind = op.label, "op"
        if any(o.name for o in node.outputs):
            label += "\n" + ", ".join(o.name for o in node.outputs if o.name)
        return [f'  {ident} [label={_quote(label)}, tooltip={_quote(tip)}, class="{" ".join(classes)}", '
                f'{STYLE[kind]}{extra}];']

    def _cluster(self, node, ident, title, input_labels, tip, classes, extra, kind) -> list[str]:
        """A node with an inner graph (a fused loop, a scan's step) drawn open: the inner
        graph inside a box, its inputs as small circles labelled `input_labels`."""
        op = node.op
        lines = [f"  subgraph cluster_{ident} {{", f'    label={_quote(title)}; style="rounded,dashed"; '
                 'color="#b28704"; fontname="Helvetica"; fontsize=10;', f"    tooltip={_quote(tip)};"]
        inner_ids = {}
        for k, (v, name) in enumerate(zip(op.inner_inputs, input_labels)):
            inner_ids[id(v)] = f"{ident}_i{k}"
            lines.append(f'    {ident}_i{k} [label={_quote(_shorten(name, 16))}, shape=ellipse, width=0.3, height=0.25, fontsize=9, '
                         'style=filled, fillcolor="#ffffff"];')
        for j, inner in enumerate(toposort(list(op.inner_outputs))):
            inner_ids[id(inner)] = f"{ident}_n{j}"
            lines.append(f'    {ident}_n{j} [label={_quote(inner.op.label)}, {STYLE["op"]}];')
            for v in inner.inputs:
                src = inner_ids.get(id(v.owner) if v.owner is not None else id(v))
                if src is None:          # an inner constant (or a value the body reads from outside)
                    src = inner_ids[id(v)] = f"{ident}_c{len(inner_ids)}"
                    text = format_constant(v) if isinstance(v, Constant) else (v.name or str(v.type))
                    lines.append(f'    {src} [label={_quote(_shorten(text, 24))}, {STYLE["constant"]}];')
                lines.append(f"    {src} -> {ident}_n{j};")
        # The node itself: a small collector the outer edges attach to.
        lines.append(f'    {ident} [label={_quote("out" if kind == "fused" else op.label)}, tooltip={_quote(tip)}, '
                     f'class="{" ".join(classes)}", {STYLE[kind]}{extra}];')
        for o in op.inner_outputs:
            src = inner_ids.get(id(o.owner) if o.owner is not None else id(o))
            if src is not None:
                lines.append(f"    {src} -> {ident};")
        lines.append("  }")
        return lines

    # ------------------------------------------------------------------ display
    def svg(self) -> str:
        if self._svg is None:
            self._svg = render_svg(self.dot)
        return self._svg

    def _repr_svg_(self):
        return self.svg()

    def _repr_html_(self):
        # Inline SVG (not an <img>): tooltips work and a page can find nodes by class.
        return f'<div class="symnb-graph" style="max-width:100%; overflow:auto">{self.svg()}</div>'

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"image/svg+xml": self.svg(), "text/html": self._repr_html_(), "text/plain": repr(self)}

    def __repr__(self):
        return f"<symnb graph: {len(self.nodes)} ops, {len(self.outputs)} outputs>"


def graph(outputs, rewritten=False, passes=None, expand_fused=False, title=None) -> Graph:
    """Draw `outputs` (a variable, a list, a rewrite result or a compiled Function) as SVG.

    rewritten=True draws the graph after the rewrite pipeline (`passes` as in sn.rewrite),
    with the nodes the rewrite created marked in red, as in a rewrite result's drawing; a
    Function is drawn as it runs. expand_fused=True opens each fused
    loop to show its inner graph.
    """
    outs, labels = _outputs_of(outputs)
    new = ()
    if isinstance(outputs, RewriteResult) and outputs.original:
        new = created_nodes(outputs.original, outputs)
    elif rewritten and not hasattr(outputs, "fgraph") and not isinstance(outputs, RewriteResult):
        result = rewrite(outs, passes=passes)
        new = created_nodes(outs, result)
        outs = list(result.outputs)
    return Graph(outs, labels, new=new, title=title, expand_fused=expand_fused)


def created_nodes(original, result) -> set:
    """Ids of the nodes of result.outputs a rewrite created: the replacements it recorded, and
    nodes of an operation the original graph did not have (a node merely rebuilt on new
    inputs, such as tanh over a gemv that replaced dot + add, is not counted)."""
    ops = {n.op for n in toposort(original)}
    replacements = {id(s.after.owner) for s in result.history if s.after.owner is not None}
    return {id(n) for n in toposort(list(result.outputs)) if n.op not in ops or id(n) in replacements}


def shape_plumbing(nodes) -> set:
    """Ids of the nodes that only compute shapes and indices from shapes (x.shape[0],
    arange(n)): integers of at most one dimension, made from shapes and constants."""
    plumbing: set[int] = set()
    for n in nodes:
        ints = all(o.dtype.startswith(("int", "uint")) and o.ndim <= 1 for o in n.outputs)
        made_of_shapes = all(isinstance(i, Constant) or (i.owner is not None and id(i.owner) in plumbing)
                             for i in n.inputs)
        if isinstance(n.op, Shape) or (ints and made_of_shapes):
            plumbing.add(id(n))
    return plumbing


def shape_text(v, plumbing) -> str:
    """v (computed by shape plumbing) as text, each array it measures named by its name or
    its op: dot.shape[0], arange(0, X.shape[0], 1)."""
    names = {}
    for n in toposort([v]):
        if id(n) in plumbing and isinstance(n.op, Shape):
            x = n.inputs[0]
            names[x] = Variable(x.type, name=x.name or (x.owner.op.label if x.owner is not None else "x"))
    return pp(replace([v], names)[0]).splitlines()[-1]
