"""The three kinds of error a %%symbolic cell can hit, each shown against the user's code."""
import pytest

from symnb.kernels.cpp import compiler
from symnb.kernels.cpp.renderer import CppRenderer

BROKEN = "int symnb_broken = undeclared_name;"


def break_the_generated_code(monkeypatch):
    """The renderer emits one line g++ rejects (as a renderer bug would)."""
    render = CppRenderer.render

    def broken(self, fgraph):
        out = render(self, fgraph)
        out.source = out.source.replace("\n// 0:", f"\n{BROKEN}\n// 0:", 1)
        return out
    monkeypatch.setattr(CppRenderer, "render", broken)


def test_python_error_shows_the_traceback_from_the_cell_line(run):
    cell = run("%%symbolic\nx = dvector('x')\n\ny = tanh(x) + not_defined\n")
    assert isinstance(cell.error, NameError)
    assert "Cell In[" in cell.stdout and "line 4" in cell.stdout and "----> 4 y = tanh(x) + not_defined" in cell.stdout
    assert "symnb/magics" not in cell.stdout and "run_cell_magic" not in cell.stdout


def test_error_in_a_function_the_cell_calls_keeps_its_frames(run):
    cell = run("%%symbolic\ndef helper(v):\n    return v.undefined_method()\nx = dvector('x')\ny = helper(x)")
    assert isinstance(cell.error, AttributeError)
    assert "----> 5 y = helper(x)" in cell.stdout and "----> 3     return v.undefined_method()" in cell.stdout


def test_shape_error_names_the_op_the_shapes_and_the_cell_line(run):
    cell = run("%%symbolic\na = dmatrix('a', shape=(2, 3))\nb = dmatrix('b', shape=(4, 5))\nc = dot(a, b)")
    assert isinstance(cell.error, ValueError)
    out = cell.stdout
    assert "----> 4 c = dot(a, b)" in out and "dot: inner dimensions do not match" in out
    assert "float64[2, 3]" in out and "float64[4, 5]" in out
    assert "symnb/core" not in out and "symnb/magics" not in out      # symnb's own frames stay hidden


def test_type_error_in_the_cell(run):
    cell = run("%%symbolic\nv = dvector('v')\nw = v + 'text'")
    assert isinstance(cell.error, TypeError) and "----> 3 w = v + 'text'" in cell.stdout
    assert "symnb/core" not in cell.stdout


@pytest.mark.skipif(not compiler.compiler_available()[0], reason="no C++ compiler")
def test_compile_error_shows_the_compiler_message_and_the_generated_line(run, monkeypatch, cache_root):
    break_the_generated_code(monkeypatch)
    cell = run("%%symbolic --function f --show none\nx = dvector('x')\ny = exp(x) * 2")
    assert isinstance(cell.error, compiler.CompileError)
    out = cell.stdout
    assert "CompileError while compiling f:" in out and "undeclared_name" in out and "error:" in out
    assert f"| {BROKEN}" in out and "command: " in out                 # the generated line, marked
    assert "Traceback" not in out and "symnb/" not in out.split("command: ")[0]


def test_the_shell_goes_on_after_each_error(run, ip):
    run("%%symbolic\nx = dvector('x')\ny = x + nope")
    cell = run("%%symbolic --show none\nx = dvector('x')\ny = x * 3")
    assert cell.error is None and ip.user_ns["y"].type.ndim == 1
