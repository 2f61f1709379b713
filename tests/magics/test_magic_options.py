"""%%symbolic through IPython's own shell: loading, help, namespace effects, every option."""
import numpy as np
import pytest

import symnb as sn
from symnb.magics import SymbolicMagics

CELL = '''
W = dmatrix("W")
x = dvector("x")
y = (tanh(dot(W, x)) ** 2).sum()
'''


def test_load_ext_registers_the_cell_magic(ip):
    assert ip.find_cell_magic("symbolic") is not None


def test_help_documents_every_option_with_an_example(ip):
    doc = ip.find_cell_magic("symbolic").__doc__
    for option in ("--show", "--grad", "--function", "--backend", "--force", "--verbose"):
        assert option in doc
        assert any(line.strip().startswith("%%symbolic") and option in line for line in doc.splitlines()), option
    for what in ("graph", "rewritten", "math", "grad", "code", "steps", "none"):
        assert what in doc
    assert ip.object_inspect("%%symbolic")["found"]


def test_tensor_names_are_available_but_never_replace_the_users(run, ip):
    ip.user_ns["dot"] = "mine"
    cell = run("%%symbolic --show none\nx = dvector('x')\ny = tanh(x).sum()\nz = dot")
    assert cell.error is None
    assert ip.user_ns["dot"] == "mine" and ip.user_ns["z"] == "mine"
    assert "sum" not in ip.user_ns and "max" not in ip.user_ns      # Python's builtins stay visible
    assert isinstance(ip.user_ns["y"], sn.Variable) and "dvector" not in ip.run_line_magic("who_ls", "")


def test_result_is_the_last_symbolic_expression_else_the_last_assignment(run):
    cell = run("%%symbolic --show math\nx = dvector('x')\ny = exp(x)\ny + 1")
    assert cell.mimes("text/latex") and r"\exp" in cell.mimes("text/latex")[0]
    assert "+ 1" in cell.mimes("text/latex")[0]
    cell = run("%%symbolic --show math\nx = dvector('x')\ny = exp(x)\nn = 3")
    assert cell.mimes("text/latex")[0].count("=") == 1 and "+ 1" not in cell.mimes("text/latex")[0]
    assert run("%%symbolic\nn = 3").stdout.startswith("%%symbolic: the cell built no symbolic result")


def test_default_show_is_graph_rewritten_math(run):
    cell = run("%%symbolic" + CELL)
    assert cell.error is None
    assert len(cell.mimes("image/svg+xml")) == 2                    # as written, after rewriting
    assert len(cell.mimes("text/latex")) == 1
    assert "graph** as written" in cell.text and "after rewriting" in cell.text


@pytest.mark.parametrize("what, svg, latex", [("graph", 1, 0), ("rewritten", 1, 0), ("math", 0, 1),
                                              ("none", 0, 0), ("graph,math", 1, 1)])
def test_show_picks_the_displays(run, what, svg, latex):
    cell = run(f"%%symbolic --show {what}" + CELL)
    assert (len(cell.mimes("image/svg+xml")), len(cell.mimes("text/latex"))) == (svg, latex)


def test_show_steps_is_the_rewrite_stepper(run):
    cell = run("%%symbolic --show steps" + CELL)
    assert cell.error is None
    assert any("application/vnd.jupyter.widget-view+json" in o.data for o in cell.outputs)


def test_show_rejects_unknown_displays_and_grad_without_wrt(run):
    assert "unknown ['pictures']" in str(run("%%symbolic --show pictures" + CELL).error)
    assert "--show grad needs --grad" in str(run("%%symbolic --show grad" + CELL).error)


def test_grad_binds_each_gradient_and_shows_it_as_mathematics(run, ip):
    cell = run("%%symbolic --grad W,x --show grad" + CELL)
    assert cell.error is None
    gW, gx = ip.user_ns["d_y_d_W"], ip.user_ns["d_y_d_x"]
    assert gW.type.ndim == 2 and gx.type.ndim == 1
    tex = cell.mimes("text/latex")
    assert len(tex) == 2 and all(r"\frac{\partial y}{\partial" in t for t in tex)
    assert "`d_y_d_W`" in cell.text and "`d_y_d_x`" in cell.text
    rng = np.random.default_rng(0)
    Wv, xv = rng.standard_normal((3, 4)), rng.standard_normal(4)
    expected = 2 * np.tanh(Wv @ xv) * (1 - np.tanh(Wv @ xv) ** 2)
    np.testing.assert_allclose(sn.function([ip.user_ns["W"], ip.user_ns["x"]], gx, backend="numpy")(Wv, xv),
                               Wv.T @ expected)


def test_nodes_the_options_build_point_at_the_magic_line(run, ip):
    run("%%symbolic --grad x --show none\nx = dvector('x')\ny = exp(x).sum()")
    assert ip.user_ns["y"].owner.trace.lineno == 3
    trace = ip.user_ns["d_y_d_x"].owner.trace        # built by --grad, not by a line of the body
    assert trace.lineno == 1 and trace.line() == "%%symbolic --grad x --show none"


def test_grad_errors_name_the_option(run):
    assert "no symbolic variable named 'q'" in str(run("%%symbolic --grad q" + CELL).error)
    cell = run("%%symbolic --grad x --show none\nx = dvector('x')\ny = x * 2")
    assert "TypeError in --grad x: grad: the cost must be a scalar" in cell.stdout and "Traceback" not in cell.stdout


def test_function_takes_inputs_in_creation_order(run, ip, cache_root):
    cell = run("%%symbolic --function f --backend numpy --show none" + CELL)
    assert cell.error is None and [v.name for v in ip.user_ns["f"].inputs] == ["W", "x"]
    assert "f(W, x) compiled for numpy" in cell.stdout
    swapped = CELL.replace('W = dmatrix("W")\nx = dvector("x")', 'x = dvector("x")\nW = dmatrix("W")')
    run("%%symbolic --function f --backend numpy --show none" + swapped)
    assert [v.name for v in ip.user_ns["f"].inputs] == ["x", "W"]


def test_function_returns_the_result_then_the_gradients(run, ip):
    cell = run("%%symbolic --function f --grad x --backend numpy --show none\nx = dvector('x')\ny = (x ** 3).sum()")
    assert cell.error is None
    value, slope = ip.user_ns["f"](np.arange(3.0))
    assert value == 9.0 and list(slope) == [0.0, 3.0, 12.0]


def test_show_code_compiles_and_shows_the_source(run, cache_root):
    cell = run("%%symbolic --show code --backend numpy\nx = dvector('x')\ny = exp(x).sum()")
    assert cell.error is None
    html = "".join(cell.mimes("text/html"))
    assert "numpy" in html and "exp" in html


def test_cuda_backend_says_clearly_when_it_is_unavailable(run):
    from symnb.kernels.base import BACKENDS
    if "cuda" in BACKENDS and BACKENDS["cuda"].available()[0]:
        pytest.skip("CUDA is available here")
    cell = run("%%symbolic --function f --backend cuda" + CELL)
    assert type(cell.error).__name__ == "UsageError"
    assert "--backend cuda: the cuda backend is not available here" in str(cell.error)
    assert "use --backend cpp or --backend numpy" in str(cell.error)


def test_magic_class_is_the_one_registered(ip):
    assert any(isinstance(m, SymbolicMagics) for m in ip.magics_manager.registry.values())
