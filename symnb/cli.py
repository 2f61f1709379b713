"""`symnb cache list|info|clear`: look at and empty the compile cache."""
from __future__ import annotations

import argparse
import time

from .kernels import cache


def _size(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="symnb", description="symnb command line")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("cache", help="the compile cache")
    c.add_argument("action", choices=["list", "info", "clear"])
    args = parser.parse_args(argv)
    if args.action == "list":
        for e in cache.entries():
            age = time.time() - e.mtime
            print(f"{e.key[:16]}  {_size(e.size):>9s}  {age / 3600:6.1f} h  {(e.meta or {}).get('module', '?')}")
    elif args.action == "info":
        from .kernels.cpp.compiler import compiler, compiler_available
        es = cache.entries()
        print(f"directory: {cache.cache_dir()}")
        print(f"entries:   {len(es)} ({_size(sum(e.size for e in es))})")
        print(f"compiler:  {compiler()}: {compiler_available()[1]}")
    else:
        n, freed = cache.clear()
        print(f"removed {n} entries ({_size(freed)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
