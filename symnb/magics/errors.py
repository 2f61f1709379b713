"""How %%symbolic reports failures: each error keeps its type (the cell still fails, so
"run all" stops) but shows only what points at the user's code, never the magic's frames.

Three kinds: a Python error in the cell (the traceback from the cell line down), a type or
shape error raised by symnb while building a node (the traceback down to the cell line that
built it; symnb's message names the op and the shapes), a compiler error (its message and
the generated lines it refers to, no traceback at all).
"""
from __future__ import annotations

import os

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _in_symnb(tb) -> bool:
    return tb.tb_frame.f_code.co_filename.startswith(_PKG_DIR)


def _frames(tb) -> list:
    out = []
    while tb is not None:
        out.append(tb)
        tb = tb.tb_next
    return out


def cell_traceback(tb, filename):
    """The frames of tb from the cell's first frame on; when symnb itself raised, only down
    to the last frame outside symnb (the cell line that built the node). None if the cell
    never ran (the error came from the magic)."""
    frames = _frames(tb)
    start = next((k for k, t in enumerate(frames) if t.tb_frame.f_code.co_filename == filename), None)
    if start is None:
        return None
    frames = frames[start:]
    if _in_symnb(frames[-1]):
        user = [t for t in frames if not _in_symnb(t)]
        user[-1].tb_next = None
    return frames[0]


def _set_rendering(exc: BaseException, lines: list[str]) -> BaseException:
    # IPython shows the lines an exception's _render_traceback_ returns instead of its traceback.
    exc._render_traceback_ = lambda: lines
    return exc


def from_cell(shell, exc: BaseException, filename: str) -> BaseException:
    """exc, set to show the traceback from the cell line (kinds one and two)."""
    tb = cell_traceback(exc.__traceback__, filename)
    if tb is None:
        return exc
    if _frames(exc.__traceback__)[-1] is not _frames(tb)[-1]:
        exc.__suppress_context__ = True    # what symnb was handling inside is not the user's business
    lines = shell.InteractiveTB.structured_traceback(type(exc), exc, tb, tb_offset=0)
    return _set_rendering(exc, lines)


def from_stage(exc: BaseException, stage: str) -> BaseException:
    """exc, set to show only its message, prefixed with the stage that raised it (for an
    error in --grad or --function: the cell ran fine, the traceback would be the magic's)."""
    return _set_rendering(exc, [f"{type(exc).__name__} in {stage}: {exc}"])


def from_compiler(exc: BaseException, name: str) -> BaseException:
    """A compiler error: its message (command, diagnostics, the generated lines they point at)."""
    return _set_rendering(exc, [f"{type(exc).__name__} while compiling {name}:", str(exc)])
