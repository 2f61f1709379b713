"""An IPython shell with symnb loaded, and a private compile cache per test."""
import pytest
from IPython.testing import globalipapp
from IPython.utils.capture import capture_output

from symnb.function import clear_memo
from symnb.kernels import cache


@pytest.fixture
def ip():
    shell = globalipapp.start_ipython() or globalipapp.get_ipython()
    shell.run_line_magic("load_ext", "symnb")
    # A terminal shell computes text/plain only; a notebook kernel computes every format.
    shell.display_formatter.active_types = shell.display_formatter.format_types
    yield shell
    shell.reset()          # each test starts from an empty namespace


@pytest.fixture
def cache_root(tmp_path, monkeypatch):
    """A private compile cache; what this process loaded from it is forgotten afterwards."""
    monkeypatch.setenv("SYMNB_CACHE_DIR", str(tmp_path / "cache"))
    yield tmp_path / "cache"
    cache.forget(root=tmp_path / "cache")
    clear_memo()


class Cell:
    """One executed cell: its error, printed text and displayed MIME bundles."""

    def __init__(self, shell, source):
        with capture_output() as cap:
            self.result = shell.run_cell(source)
        self.stdout, self.outputs = cap.stdout, cap.outputs
        self.error = self.result.error_in_exec or self.result.error_before_exec

    def mimes(self, mime) -> list[str]:
        return [o.data[mime] for o in self.outputs if mime in o.data]

    @property
    def text(self) -> str:
        return self.stdout + "\n".join(self.mimes("text/markdown"))


@pytest.fixture
def run(ip):
    return lambda source: Cell(ip, source)
