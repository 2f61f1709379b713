"""On-disk compile cache: one entry per key, safe under concurrency and crashes.

Stage "compiler + disk cache" of the data flow. Entries live in `$SYMNB_CACHE_DIR` or
`~/.cache/symnb` (mode 0700); a per-key file lock makes N processes compiling the same
source compile once; an entry is built in a temporary directory and installed with an
atomic rename, so a process killed mid-build leaves no half entry; an entry that fails
to load is removed and rebuilt once; entries not owned by the user are never loaded.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import Callable

_loaded: dict[str, object] = {}     # key -> loaded object, for this process


class CacheError(RuntimeError):
    """The cache directory cannot be used safely."""


def cache_root() -> Path:
    """The private cache directory (created 0700); refuses one others could write to."""
    root = Path(os.environ.get("SYMNB_CACHE_DIR") or Path.home() / ".cache" / "symnb")
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = root.stat()
    if st.st_uid != os.getuid():
        raise CacheError(f"cache directory {root} is owned by uid {st.st_uid}, not by you; "
                         "set SYMNB_CACHE_DIR to a private directory")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise CacheError(f"cache directory {root} is writable by others; chmod 700 it or set SYMNB_CACHE_DIR")
    return root


def make_key(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode())
        h.update(b"\0")
    return h.hexdigest()


def entry_dir(key: str) -> Path:
    return cache_root() / key[:2] / key


def _owned(path: Path) -> bool:
    try:
        return path.stat().st_uid == os.getuid() and all(
            p.stat().st_uid == os.getuid() for p in path.iterdir())
    except OSError:
        return False


class _Lock:
    """An exclusive flock on <root>/locks/<key>.lock (released if the process dies)."""

    def __init__(self, key):
        locks = cache_root() / "locks"
        locks.mkdir(mode=0o700, exist_ok=True)
        self.path = locks / f"{key}.lock"

    def __enter__(self):
        self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def get_or_build(key: str, build: Callable[[Path], dict], load: Callable[[Path], object], force=False):
    """The object for `key`: from memory, else loaded from disk, else built then loaded.

    build(tmpdir) writes the entry's files into tmpdir and returns metadata; load(entry)
    returns the object or raises if the entry is unusable (it is then rebuilt once).
    """
    if not force and key in _loaded:
        return _loaded[key]
    final = entry_dir(key)
    with _Lock(key):
        if force and final.exists():
            shutil.rmtree(final, ignore_errors=True)
        for attempt in range(2):
            if not final.exists():
                _install(key, final, build)
            if not _owned(final):
                raise CacheError(f"cache entry {final} is not owned by you: not loading it")
            try:
                obj = load(final)
                break
            except Exception:
                if attempt:
                    raise
                shutil.rmtree(final, ignore_errors=True)   # truncated or garbage: rebuild once
    _loaded[key] = obj
    return obj


def _install(key, final: Path, build):
    final.parent.mkdir(mode=0o700, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"tmp-{key[:16]}-", dir=cache_root()))
    try:
        meta = build(tmp) or {}
        meta.update(key=key, created=time.time())
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        os.rename(tmp, final)          # atomic: readers see no entry or a whole one
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def entries() -> list[dict]:
    """Metadata of every installed entry (for `symnb cache list`)."""
    out = []
    for meta in sorted(cache_root().glob("??/*/meta.json")):
        try:
            info = json.loads(meta.read_text())
        except (OSError, ValueError):
            info = {"key": meta.parent.name, "corrupt": True}
        info["size"] = sum(p.stat().st_size for p in meta.parent.iterdir())
        info["path"] = str(meta.parent)
        out.append(info)
    return out


def clear(max_age_s: float | None = None) -> int:
    """Remove entries (and stale temporary build directories, locks); returns how many."""
    root = cache_root()
    n = 0
    now = time.time()
    for child in list(root.iterdir()):
        if child.name == "locks" or not child.is_dir():
            continue
        targets = [child] if child.name.startswith("tmp-") else list(child.iterdir())
        for t in targets:
            if max_age_s is None or now - t.stat().st_mtime > max_age_s:
                shutil.rmtree(t, ignore_errors=True)
                n += not t.name.startswith("tmp-")
    if max_age_s is None:
        shutil.rmtree(root / "locks", ignore_errors=True)
        _loaded.clear()
    return n
