"""The generic on-disk compile cache (symnb.kernels.cache) with plain-file builds: no
compiler needed, so locking, atomic install and recovery are tested quickly."""
import json
import os
import stat
import threading
import time

import pytest

from symnb.kernels import cache

KEY = "ab" + "0" * 62


@pytest.fixture
def root(tmp_path, monkeypatch):
    r = tmp_path / "cache"
    monkeypatch.setenv("SYMNB_CACHE_DIR", str(r))
    yield r
    cache.forget()


class Recorder:
    """build/load callbacks that log their calls; load returns the payload text."""

    def __init__(self, payload="hello", sleep=0.0):
        self.payload, self.sleep, self.calls = payload, sleep, []

    def build(self, workdir):
        self.calls.append("build")
        time.sleep(self.sleep)
        (workdir / "payload.txt").write_text(self.payload)
        return {"module": "demo"}

    def load(self, entry, meta):
        self.calls.append("load")
        return (entry / "payload.txt").read_text()

    def get(self, key=KEY, **kw):
        return cache.get_or_build(key, self.build, self.load, **kw)


def test_build_install_and_reuse(root):
    rec = Recorder()
    assert rec.get() == "hello"
    entry = cache.entry_path(KEY)
    assert entry == root / "ab" / KEY and entry.is_dir()
    meta = json.loads((entry / "meta.json").read_text())
    assert meta["module"] == "demo" and meta["key"] == KEY and "payload.txt" in meta["files"]
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert rec.get() == "hello" and rec.calls == ["build", "load"]  # memory hit
    cache.forget()
    assert rec.get() == "hello" and rec.calls == ["build", "load", "load"]  # disk hit
    assert list((root / "tmp").iterdir()) == []


def test_env_var_read_at_call_time(tmp_path, monkeypatch):
    for name in ("one", "two"):
        monkeypatch.setenv("SYMNB_CACHE_DIR", str(tmp_path / name))
        Recorder(name).get()
        assert cache.entry_path(KEY).parent.parent == tmp_path / name
    assert [e.key for e in cache.entries(tmp_path / "one")] == [KEY]
    cache.forget()


def test_world_writable_root_refused(root):
    root.mkdir(mode=0o700)
    os.chmod(root, 0o777)
    with pytest.raises(cache.CacheError, match="writable"):
        Recorder().get()


def _can_chown():
    return hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.mark.skipif(not _can_chown(), reason="needs root to fake another owner")
def test_foreign_root_refused(root):
    root.mkdir(mode=0o700)
    os.chown(root, 65534, 65534)
    with pytest.raises(cache.CacheError, match="owned by uid 65534"):
        Recorder().get()


CORRUPTIONS = {
    "truncated": lambda e: (e / "payload.txt").write_text("hel"),
    "garbage_file": lambda e: (e / "payload.txt").write_bytes(b"\x00\xff" * 3),
    "missing_file": lambda e: (e / "payload.txt").unlink(),
    "garbage_meta": lambda e: (e / "meta.json").write_text("{not json"),
    "missing_meta": lambda e: (e / "meta.json").unlink(),
}


@pytest.mark.parametrize("how", sorted(CORRUPTIONS))
def test_corrupt_entry_is_rebuilt(root, how):
    Recorder().get()
    cache.forget()
    CORRUPTIONS[how](cache.entry_path(KEY))
    rec = Recorder()
    with pytest.warns(cache.CacheWarning, match="unusable"):
        assert rec.get() == "hello"
    assert rec.calls == ["build", "load"]  # never loaded the corrupt files
    assert len(cache.entries()) == 1


def test_garbage_in_place_of_entry_is_rebuilt(root):
    Recorder().get()
    cache.forget()
    entry = cache.entry_path(KEY)
    for p in entry.iterdir():
        p.unlink()
    entry.rmdir()
    entry.write_bytes(os.urandom(100))  # a file where the entry directory should be
    with pytest.warns(cache.CacheWarning):
        assert Recorder().get() == "hello"
    assert entry.is_dir()


def test_load_failure_rebuilds_once_then_raises(root):
    Recorder().get()
    cache.forget()

    class Broken(Recorder):
        def load(self, entry, meta):
            self.calls.append("load")
            raise ImportError("cannot load")

    rec = Broken()
    with pytest.warns(cache.CacheWarning), pytest.raises(ImportError, match="cannot load"):
        rec.get()
    assert rec.calls == ["load", "build", "load"]
    assert cache.entries() == []  # the build that would not load was not kept


def test_failed_build_leaves_nothing(root):
    class Failing(Recorder):
        def build(self, workdir):
            (workdir / "half.o").write_text("partial")
            raise RuntimeError("compiler exploded")

    with pytest.raises(RuntimeError, match="exploded"):
        Failing().get()
    assert cache.entries() == [] and list((root / "tmp").iterdir()) == []


def test_force_replaces_entry(root):
    assert Recorder("old").get() == "old"
    rec = Recorder("new")
    assert rec.get() == "old"  # same key: memory hit, no build
    assert rec.get(force=True) == "new" and rec.calls == ["build", "load"]
    cache.forget()
    assert Recorder().get() == "new" and len(cache.entries()) == 1


@pytest.mark.skipif(not _can_chown(), reason="needs root to fake another owner")
@pytest.mark.parametrize("what", ["entry", "file"])
def test_foreign_entry_never_loaded(root, what):
    Recorder("theirs").get()
    cache.forget()
    entry = cache.entry_path(KEY)
    os.chown(entry / "payload.txt" if what == "file" else entry, 65534, 65534)
    rec = Recorder("mine")
    with pytest.warns(cache.CacheWarning, match="owned by uid 65534"):
        assert rec.get() == "mine"
    assert rec.calls == ["build", "load"]
    assert entry.stat().st_uid == os.getuid()


@pytest.mark.skipif(not _can_chown(), reason="needs root to fake another owner")
def test_foreign_entry_that_cannot_be_moved_builds_privately(root, monkeypatch):
    Recorder("theirs").get()
    cache.forget()
    entry = cache.entry_path(KEY)
    os.chown(entry, 65534, 65534)
    monkeypatch.setattr(cache, "_discard", lambda path, root: False)  # as for a non-root user
    with pytest.warns(cache.CacheWarning):
        assert Recorder("mine").get() == "mine"
    assert entry.stat().st_uid == 65534  # left alone, and not loaded


def test_threads_build_once(root):
    rec = Recorder(sleep=0.2)
    results = []
    threads = [threading.Thread(target=lambda: results.append(rec.get())) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["hello"] * 6 and rec.calls.count("build") == 1


def test_stale_temp_dirs_cleaned(root):
    Recorder().get()
    old, fresh = root / "tmp" / "old-build", root / "tmp" / "fresh-build"
    old.mkdir()
    fresh.mkdir()
    os.utime(old, (time.time() - 2 * cache.STALE_SECONDS,) * 2)
    assert cache.clean_stale() == 1
    assert not old.exists() and fresh.exists()


def test_clear_removes_everything(root):
    Recorder().get()
    (root / "tmp" / "left-by-a-killed-build").mkdir()
    n, freed = cache.clear()
    assert n == 1 and freed > 0 and list(root.iterdir()) == []
    assert cache.clear(root / "missing") == (0, 0)
