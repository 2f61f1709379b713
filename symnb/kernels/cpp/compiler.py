"""g++ driver: one C++ source (a CPython extension module) -> a loaded Python module.

Stage "compiler + disk cache". The key covers the source, the runtime header, the
compiler and its version, the flags and the Python/NumPy ABI; the module name is derived
from the key and given to the source as the macro SYMNB_MODULE (see runtime.h).
"""
from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import re
import subprocess
import sys
import sysconfig
from functools import lru_cache
from pathlib import Path

import numpy as np

from .. import cache

HERE = Path(__file__).parent
# -fno-math-errno changes no result (only whether libm sets errno) and lets loops vectorize;
# glibc's vector math library (libmvec) supplies the SIMD exp/log/sin... that they call.
FLAGS = ("-O3", "-march=native", "-fPIC", "-shared", "-std=c++17", "-fopenmp", "-fno-math-errno",
         "-fvisibility=hidden", "-DNPY_NO_DEPRECATED_API=NPY_1_7_API_VERSION")
LIBS = ("-lmvec",)


class CompileError(RuntimeError):
    """The compiler rejected generated code; carries its output and the lines it refers to."""

    def __init__(self, command, stderr, source):
        self.command, self.stderr, self.source = command, stderr, source
        super().__init__(f"C++ compilation failed:\n{stderr.strip()}\n{self.excerpt()}")

    def excerpt(self, context=2) -> str:
        lines = self.source.splitlines()
        shown = []
        for m in re.finditer(r"\.cpp:(\d+):(\d+): error", self.stderr):
            n = int(m.group(1))
            for k in range(max(1, n - context), min(len(lines), n + context) + 1):
                shown.append(f"{'>' if k == n else ' '}{k:5d} | {lines[k - 1]}")
            shown.append("")
            if len(shown) > 40:
                break
        return "\n".join(shown)


def compiler() -> str:
    return os.environ.get("CXX", "g++")


@lru_cache(maxsize=8)
def compiler_version(cxx: str) -> str:
    out = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=30)
    if out.returncode:
        raise OSError(out.stderr)
    return out.stdout.splitlines()[0]


@lru_cache(maxsize=8)
def _available(cxx: str) -> tuple[bool, str]:
    try:
        return True, compiler_version(cxx)
    except (OSError, subprocess.SubprocessError, IndexError) as e:
        return False, f"the C++ compiler {cxx!r} does not run: {e}"


def compiler_available() -> tuple[bool, str]:
    """(True, version) when the compiler runs, else (False, why)."""
    return _available(compiler())


def _includes():
    return [f"-I{sysconfig.get_paths()['include']}", f"-I{np.get_include()}", f"-I{HERE}"]


@lru_cache(maxsize=1)
def _abi() -> str:
    runtime = "".join(p.read_text() for p in sorted(HERE.glob("*.h")))
    return "|".join([sys.implementation.cache_tag, sysconfig.get_config_var("EXT_SUFFIX") or "",
                     np.__version__, runtime])


def compile_module(source: str, force=False, verbose=False):
    """Compile (or fetch from the cache) the extension module whose C++ is `source`."""
    cxx = compiler()
    ok, version = compiler_available()
    if not ok:
        raise CompileError([cxx], version, source)
    key = hashlib.sha256("\0".join([source, cxx, version, " ".join(FLAGS + LIBS), _abi()]).encode()).hexdigest()
    name = f"symnb_{key[:20]}"
    so_name = name + (sysconfig.get_config_var("EXT_SUFFIX") or ".so")

    def build(tmp: Path):
        src = tmp / f"{name}.cpp"
        src.write_text(source)
        cmd = [cxx, *FLAGS, *_includes(), f"-DSYMNB_MODULE={name}", str(src), "-o", str(tmp / so_name), *LIBS]
        if verbose:
            print(" ".join(cmd))
        out = subprocess.run(cmd, capture_output=True, text=True)
        if verbose and (out.stdout or out.stderr):
            print(out.stdout + out.stderr)
        if out.returncode:
            raise CompileError(cmd, out.stderr, source)
        return {"module": name, "compiler": version, "flags": list(FLAGS), "source_bytes": len(source)}

    def load(entry: Path, meta: dict):
        spec = importlib.util.spec_from_file_location(
            name, entry / so_name, loader=importlib.machinery.ExtensionFileLoader(name, str(entry / so_name)))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return cache.get_or_build(key, build, load, force=force)
