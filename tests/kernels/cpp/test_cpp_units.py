"""Long graphs compile as two translation units (renderer.split_point, compiler.py): the
same results as the reference, one thread pool and one NumPy table for both units, errors
from the second unit naming their node."""
import re
from pathlib import Path

import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st
from symnb.kernels.cpp import renderer
from symnb.kernels.cpp.renderer import SECOND_UNIT, split_point

from .test_cpp_ops import compare, pytestmark  # noqa: F401  (skips without a compiler)


def _long_graph(x, y, n=40):
    """n alternating nodes that do not fuse into one loop (a sum between elementwise ops)."""
    h = x
    for k in range(n):
        h = st.tanh(h * (1.0 + 0.01 * k) + y) if k % 2 else h - h.sum(axis=0) * 0.5
    return h


def test_split_point_balances_the_units():
    assert split_point([500] * 10) is None                       # short: one unit
    cut = split_point([1000] * 40)
    assert 1 <= cut < 40
    first, rest = renderer.GLUE + 1000 * cut, 1000 * (40 - cut)
    assert abs(first - rest) <= 1000
    assert split_point([30000, 10]) == 1                         # never an empty unit


def test_a_long_graph_runs_from_two_units_as_the_reference(monkeypatch):
    monkeypatch.setattr(renderer.CppRenderer, "split_units", True)
    x, y = st.dmatrices("x", "y")
    out = _long_graph(x, y)
    src = sn.codegen([x, y], out, backend="cpp")
    first, rest = src.split(SECOND_UNIT)
    assert "symnb_compute_rest(S, v, destroy)" in first and "#define NO_IMPORT_ARRAY" in rest
    rng = np.random.default_rng(0)
    compare([x, y], out, [rng.normal(size=(300, 400)), rng.normal(size=(300, 400))], rtol=1e-12)


def test_an_error_in_the_second_unit_names_its_node(monkeypatch):
    monkeypatch.setattr(renderer.CppRenderer, "split_units", True)
    x, y = st.dmatrices("x", "y")
    i, j = st.lscalars("i", "j")
    late = st.cast(st.gt(_long_graph(x, y).sum(), 1e300), "int64") + i     # after the long graph
    f = sn.function([x, y, i, j], late // j, backend="cpp")
    first, rest = f.source.split(SECOND_UNIT)
    assert "int_div" in rest and "int_div" not in first
    args = [np.ones((3, 4)), np.ones((3, 4))]
    assert f(*args, 7, 2) == 3
    with pytest.raises(ZeroDivisionError, match="(?s)integer .* by zero.*while computing fused.*int_div"):
        f(*args, 1, 0)


def test_headers_define_no_per_unit_state():
    """Every unit includes the runtime headers: a file-scope `static` variable there would
    be one object per unit (a second pool, a thread count the first unit's set_runtime never
    sets), `inline` gives one per module. module.h (the glue) is in the first unit only."""
    here = Path(renderer.__file__).parent
    found = [f"{h.name}: {line}" for h in sorted(here.glob("*.h")) if h.name != "module.h"
             for line in h.read_text().splitlines() if PER_UNIT.match(line)]
    assert not found, found


PER_UNIT = re.compile(r"^static (?!inline\b|const\b|constexpr\b)[^(]*[=;]")
