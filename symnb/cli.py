"""Command line: `symnb cache list|info|clear` looks at and empties the compile cache
(the "compiler + disk cache" stage, between the backend renderer and the loaded program).
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Sequence


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _age(seconds: float) -> str:
    for unit, span in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= span:
            return f"{seconds / span:.0f}{unit}"
    return f"{max(seconds, 0):.0f}s"


def _cache_list(args) -> int:
    from .kernels import cache
    now = time.time()
    for e in cache.entries():
        name = e.meta.get("module", "?") if e.meta else "(unreadable meta.json)"
        print(f"{e.key}  {_size(e.size):>10}  {_age(now - e.mtime):>4}  {name}")
    return 0


def _cache_info(args) -> int:
    from .kernels import cache
    from .kernels.cpp.compiler import compiler_available
    root, found = cache.cache_dir(), cache.entries()
    ok, msg = compiler_available()
    print(f"cache dir:  {root}{'' if root.exists() else ' (not created yet)'}")
    print(f"entries:    {len(found)}")
    print(f"total size: {_size(sum(e.size for e in found))}")
    tmp = [p for p in (root / "tmp").iterdir()] if (root / "tmp").is_dir() else []
    if tmp:
        print(f"temp dirs:  {len(tmp)} (builds in progress or left by killed ones)")
    print(f"compiler:   {msg if ok else 'unavailable: ' + msg}")
    return 0


def _cache_clear(args) -> int:
    from .kernels import cache
    n, freed = cache.clear()
    print(f"removed {n} entr{'y' if n == 1 else 'ies'} ({_size(freed)}) from {cache.cache_dir()}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="symnb", description="symnb command line tools")
    sub = parser.add_subparsers(dest="command", required=True)
    cache_p = sub.add_parser("cache", help="the compile cache ($SYMNB_CACHE_DIR or ~/.cache/symnb)")
    actions = cache_p.add_subparsers(dest="action", required=True)
    for name, func, text in (("list", _cache_list, "one line per entry: key, size, age, module"),
                             ("info", _cache_info, "directory, entries, total size, compiler"),
                             ("clear", _cache_clear, "remove every entry, temp dir and lock")):
        actions.add_parser(name, help=text).set_defaults(func=func)
    args = parser.parse_args(argv)
    from .kernels.cache import CacheError
    try:
        return args.func(args)
    except CacheError as e:  # an unsafe cache dir: say why instead of a traceback
        print(f"symnb: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
