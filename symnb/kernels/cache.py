"""On-disk compile cache shared by the compiled backends (compiler + disk cache stage).

A backend hands in a key, a `build(workdir) -> meta` callback and a `load(entry, meta)`
callback; this module owns the directory, the per-key lock, atomic install and recovery.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import stat
import sys
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

T = TypeVar("T")

ENV_VAR = "SYMNB_CACHE_DIR"
META = "meta.json"
# A temp dir untouched this long belongs to a process that died mid-build.
STALE_SECONDS = 3600.0

# (cache root, key) -> loaded object: a repeated compile in one process costs a dict lookup.
_memory: dict[tuple[str, str], Any] = {}
# How get_or_build calls were answered in this process, by answer: "memory", "disk",
# "built" (a Function's display compares counts before and after its compile).
answers: Counter = Counter()


class CacheError(RuntimeError):
    """The cache directory is unsafe to use, or an entry failed to load twice."""


class CacheWarning(UserWarning):
    """An entry was skipped (foreign owner) or rebuilt (corrupt)."""


# ----------------------------------------------------------------------------- layout
def cache_dir() -> Path:
    """The cache root: $SYMNB_CACHE_DIR or ~/.cache/symnb (read at call time)."""
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "symnb"


def entry_path(key: str, root: Path | None = None) -> Path:
    root = cache_dir() if root is None else root
    return root / key[:2] / key


def _check_private_dir(path: Path, what: str) -> None:
    st = os.stat(path)  # follows a symlinked root on purpose: the target is what we trust
    if not stat.S_ISDIR(st.st_mode):
        raise CacheError(f"symnb cache {what} {path} is not a directory")
    if st.st_uid != os.getuid():
        raise CacheError(
            f"refusing symnb cache {what} {path}: owned by uid {st.st_uid}, not by you "
            f"(uid {os.getuid()}); set ${ENV_VAR} to a directory of your own")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise CacheError(
            f"refusing symnb cache {what} {path}: it is group- or world-writable "
            f"(mode {stat.S_IMODE(st.st_mode):o}), so others could plant code in it; "
            f"run `chmod 700 {path}` or set ${ENV_VAR}")


def ensure_root(root: Path | None = None) -> Path:
    """Create the cache root (mode 0700) with its locks/ and tmp/ and check it is private."""
    root = cache_dir() if root is None else root
    os.makedirs(root, mode=0o700, exist_ok=True)
    _check_private_dir(root, "directory")
    for sub in ("locks", "tmp"):
        os.makedirs(root / sub, mode=0o700, exist_ok=True)
        _check_private_dir(root / sub, f"subdirectory {sub}/ in")
    return root


def _foreign(path: Path) -> str | None:
    """Why path may not be trusted (None if it is ours and nobody else can write it)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if st.st_uid != os.getuid():
        return f"{path} is owned by uid {st.st_uid}, not by you (uid {os.getuid()})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{path} is writable by others (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def _entry_foreign(entry: Path) -> str | None:
    reason = _foreign(entry.parent) or _foreign(entry)
    if reason is None and entry.is_dir() and not entry.is_symlink():
        for p in entry.iterdir():
            reason = _foreign(p)
            if reason:
                break
    return reason


# ----------------------------------------------------------------------------- helpers
class _KeyLock:
    """flock on <root>/locks/<key>.lock: one builder per key across processes and threads.

    The kernel drops the lock when its holder dies, so a killed compile never wedges others.
    """

    def __init__(self, root: Path, key: str, verbose: bool):
        self.path, self.verbose, self.fd = root / "locks" / f"{key}.lock", verbose, -1

    def __enter__(self):
        # O_RDONLY is enough for flock and works even on a lock file we could not write.
        self.fd = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if self.verbose:
                print(f"symnb: waiting for another process building {self.path.stem}")
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)  # closing releases the flock


def _digest(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _checksums(workdir: Path) -> dict[str, list]:
    return {p.name: [p.stat().st_size, _digest(p)]
            for p in sorted(workdir.iterdir()) if p.is_file() and p.name != META}


def read_meta(entry: Path) -> dict:
    with open(entry / META, encoding="utf-8") as f:
        meta = json.load(f)
    if not isinstance(meta, dict) or not isinstance(meta.get("files"), dict):
        raise ValueError(f"{entry / META} is not a symnb cache record")
    return meta


def _verify(entry: Path) -> dict:
    """Check every recorded file against its size and sha256 before anything is loaded:
    dlopen of a truncated shared object can crash the process instead of raising."""
    if entry.is_symlink() or not entry.is_dir():
        raise ValueError(f"{entry} is not a directory")
    meta = read_meta(entry)
    for name, (size, digest) in meta["files"].items():
        p = entry / name
        if p.is_symlink() or not p.is_file():
            raise FileNotFoundError(f"{p} is missing")
        if p.stat().st_size != size or _digest(p) != digest:
            raise ValueError(f"{p} does not match its recorded size/checksum")
    return meta


def _discard(path: Path, root: Path) -> bool:
    """Move path out of the way (atomic), then delete it; False if it cannot be moved."""
    trash = Path(tempfile.mkdtemp(prefix="old-", dir=root / "tmp"))
    try:
        os.rename(path, trash / "entry")
    except OSError:
        shutil.rmtree(trash, ignore_errors=True)
        return False
    shutil.rmtree(trash, ignore_errors=True)
    return True


def clean_stale(root: Path | None = None, max_age: float = STALE_SECONDS) -> int:
    """Remove temp dirs left by processes that died mid-build; returns how many."""
    tmp = (cache_dir() if root is None else root) / "tmp"
    n, now = 0, time.time()
    for p in tmp.iterdir() if tmp.is_dir() else ():
        try:
            if now - p.lstat().st_mtime > max_age:
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
                n += 1
        except OSError:
            pass
    return n


# ----------------------------------------------------------------------------- main API
def get_or_build(key: str, build: Callable[[Path], dict], load: Callable[[Path, dict], T], *,
                 force: bool = False, verbose: bool = False) -> T:
    """Return load(entry, meta) for key, building the entry first if needed.

    build(workdir) writes its files into an empty private directory and returns a
    JSON-able dict that is stored in meta.json (with the key, time and checksums).
    load(entry, meta) must not assume a fixed file name for anything it dlopens: a
    process that rebuilds an entry it already loaded needs new file names (a loaded
    shared object stays mapped under its path), so builds should name files uniquely.
    force=True rebuilds and replaces the entry even when a good one exists.
    """
    root = cache_dir()
    mkey = (str(root), key)
    if not force and mkey in _memory:
        answers["memory"] += 1
        return _memory[mkey]
    ensure_root(root)
    entry = entry_path(key, root)
    with _KeyLock(root, key, verbose):
        if not force and os.path.lexists(entry):
            reason = _entry_foreign(entry)
            if reason:
                warnings.warn(f"symnb cache: not loading {entry}: {reason}; rebuilding it",
                              CacheWarning, stacklevel=2)
                if not _discard(entry, root):
                    # We cannot move it (e.g. a root-owned shard): build privately, uncached.
                    obj = _build_private(key, root, build, load, verbose)
                    answers["built"] += 1
                    _memory[mkey] = obj
                    return obj
            else:
                try:
                    obj = load(entry, _verify(entry))
                    if verbose:
                        print(f"symnb: loaded {entry}")
                    answers["disk"] += 1
                    _memory[mkey] = obj
                    return obj
                except Exception as e:  # corrupt, truncated, missing or unloadable
                    warnings.warn(f"symnb cache: entry {entry} is unusable ({e}); rebuilding it",
                                  CacheWarning, stacklevel=2)
                    if not _discard(entry, root):
                        raise CacheError(f"cannot remove the corrupt cache entry {entry}") from e
        clean_stale(root)
        workdir = _build(key, root, build)
        if os.path.lexists(entry) and not _discard(entry, root):
            shutil.rmtree(workdir, ignore_errors=True)
            raise CacheError(f"cannot replace the cache entry {entry}")
        os.makedirs(entry.parent, mode=0o700, exist_ok=True)
        os.rename(workdir, entry)  # atomic: readers see no entry or a complete one
        try:
            obj = load(entry, _verify(entry))
        except BaseException:
            _discard(entry, root)  # a fresh build that does not load is not worth keeping
            raise
        if verbose:
            print(f"symnb: built and loaded {entry}")
        answers["built"] += 1
    _memory[mkey] = obj
    return obj


def _build(key: str, root: Path, build: Callable[[Path], dict]) -> Path:
    workdir = Path(tempfile.mkdtemp(prefix=f"{key[:16]}-", dir=root / "tmp"))
    try:
        t0 = time.time()
        user_meta = dict(build(workdir) or {})
        meta = {**user_meta, "key": key, "created": t0, "build_seconds": time.time() - t0,
                "pid": os.getpid(), "python": sys.version.split()[0],
                "files": _checksums(workdir)}
        with open(workdir / META, "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1)
            f.flush()
            os.fsync(f.fileno())  # the rename must not publish a record still in page cache only
        return workdir
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise


def _build_private(key, root, build, load, verbose):
    workdir = _build(key, root, build)
    if verbose:
        print(f"symnb: built {key} privately in {workdir} (not installed)")
    return load(workdir, _verify(workdir))


def forget(key: str | None = None, root: Path | None = None) -> None:
    """Drop in-memory entries (all, or one key / one root) so the next lookup goes to disk."""
    for mk in [mk for mk in _memory
               if (key is None or mk[1] == key) and (root is None or mk[0] == str(root))]:
        del _memory[mk]


# ----------------------------------------------------------------------------- inspection
@dataclass
class EntryInfo:
    key: str
    path: Path
    size: int
    mtime: float
    meta: dict | None  # None when meta.json is unreadable


def _tree_size(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def entries(root: Path | None = None) -> list[EntryInfo]:
    """Installed entries, oldest first (does not create or check the root)."""
    root = cache_dir() if root is None else root
    out = []
    for shard in sorted(root.glob("[0-9a-f][0-9a-f]")) if root.is_dir() else ():
        for p in shard.iterdir():
            try:
                meta = read_meta(p)
            except (OSError, ValueError):
                meta = None
            st = p.lstat()
            out.append(EntryInfo(p.name, p, _tree_size(p), (meta or {}).get("created", st.st_mtime), meta))
    return sorted(out, key=lambda e: e.mtime)


def clear(root: Path | None = None) -> tuple[int, int]:
    """Remove every entry, temp dir and lock file; returns (entries removed, bytes freed).

    A process compiling at that moment loses its temp dir and fails; it can retry.
    """
    root = cache_dir() if root is None else root
    if not root.exists():
        return 0, 0
    _check_private_dir(root, "directory")
    n, size = len(entries(root)), _tree_size(root)
    for p in root.iterdir():
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)  # what others own and we cannot delete stays
        else:
            p.unlink(missing_ok=True)
    forget(root=root)
    return n - len(entries(root)), size - _tree_size(root)
