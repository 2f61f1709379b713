"""Every teaching notebook runs headless, top to bottom, without an error, and each
%%symbolic cell's outputs hold what its --show asks for (SVG graphs, LaTeX math, widgets)."""
import pathlib
import shlex

import nbformat
import pytest
from nbclient import NotebookClient

from symnb.magics.symbolic import SymbolicMagics, _parse_show

NOTEBOOKS = sorted((pathlib.Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))
WIDGET = "application/vnd.jupyter.widget-view+json"


def expected_outputs(source: str) -> dict:
    """mime type -> how many outputs of it a %%symbolic cell must show at least."""
    first = source.splitlines()[0]
    args = SymbolicMagics.symbolic.parser.parse_args(shlex.split(first[len("%%symbolic"):]))
    show = _parse_show(args.show, bool(args.grad))
    want = {"image/svg+xml": ("graph" in show) + ("rewritten" in show),
            "text/latex": ("math" in show) + (len(args.grad.split(",")) if "grad" in show else 0),
            WIDGET: int("steps" in show), "text/html": int("code" in show)}
    return {mime: n for mime, n in want.items() if n}


def shown(outputs, mime: str) -> list:
    data = [o["data"][mime] for o in outputs if mime in o.get("data", {})]
    if mime == "text/latex":      # mathematics, not the LaTeX form of a code listing
        data = [d for d in data if d.lstrip().startswith("$")]
    if mime == "image/svg+xml":
        data = [d for d in data if "<svg" in d]
    return data


def test_the_tour_comes_first():
    assert NOTEBOOKS[0].name == "00_tour.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, monkeypatch):
    monkeypatch.setenv("SYMNB_NB_QUICK", "1")      # notebooks that read it take a short run
    nb = nbformat.read(path, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks clean"
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    magic_cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("%%symbolic")]
    if path.name[:2] in ("00", "01", "02", "03"):     # the notebooks that teach the notebook layer
        assert magic_cells, f"{path.name} does not use %%symbolic"
    for cell in magic_cells:
        for mime, n in expected_outputs(cell.source).items():
            assert len(shown(cell.outputs, mime)) >= n, f"{path.name}: {cell.source.splitlines()[0]!r} shows no {mime}"
    for cell in nb.cells:      # a cell that draws a figure shows it
        if cell.cell_type == "code" and "plt.show()" in cell.source:
            assert shown(cell.outputs, "image/png"), f"{path.name}: a figure cell shows no picture"
