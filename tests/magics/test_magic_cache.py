"""Re-running a %%symbolic cell reuses the compiled module (seen in the cache's own records);
--force compiles it again; --verbose reports the stages, the cache's answer and the command."""
import pytest

from symnb.function import clear_memo
from symnb.kernels import cache
from symnb.kernels.cpp import compiler

pytestmark = pytest.mark.skipif(not compiler.compiler_available()[0], reason="no C++ compiler")

CELL = "%%symbolic --function f --show none --verbose{}\nx = dvector('x')\ny = (exp(x) * 3).sum()"


def built(root):
    """key -> build time of every installed entry, and whether a build is under way."""
    return {e.key: e.meta["created"] for e in cache.entries(root)}, list((root / "tmp").iterdir())


def verbose_report_is_complete(out, root):
    for stage in ("graph", "rewrite", "render", "compile", "load"):
        assert any(line.split()[:1] == [stage] and line.split()[2] == "ms" for line in out.splitlines()), stage
    assert "compiler command" in out and "-march=native" in out and "-DSYMNB_MODULE=symnb_" in out
    assert f"cache entry: {cache.entry_path(cache.entries(root)[0].key, root)}" in out


def test_rerun_compiles_nothing_and_force_compiles_again(run, ip, cache_root):
    first = run(CELL.format(""))
    assert first.error is None and "f(x) compiled for cpp" in first.stdout
    assert ": compiled now (cache miss)" in first.stdout
    entries, pending = built(cache_root)
    assert len(entries) == 1 and pending == []
    verbose_report_is_complete(first.stdout, cache_root)
    assert ip.user_ns["f"].backend_name == "cpp"                 # the default backend
    assert ip.user_ns["f"]([0.0, 0.0]) == 6.0

    again = run(CELL.format(""))                        # same process: memo or loaded module
    assert "compiled now" not in again.stdout and built(cache_root) == (entries, [])
    assert "compiled earlier in this process" in again.stdout or "already loaded" in again.stdout

    cache.forget()                                      # as a new process would: only the disk has it
    clear_memo()
    from_disk = run(CELL.format(""))
    assert "module loaded from the disk cache" in from_disk.stdout and built(cache_root) == (entries, [])
    assert ip.user_ns["f"]([0.0]) == 3.0

    forced = run(CELL.format(" --force"))
    after, _ = built(cache_root)
    assert "compiled now (--force)" in forced.stdout
    assert list(after) == list(entries) and after[next(iter(after))] > entries[next(iter(entries))]
    assert ip.user_ns["f"]([1.0]) == pytest.approx(3 * 2.718281828459045)
