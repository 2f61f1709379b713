"""g++ driver (stage "compiler + disk cache"): one C++ source string, a CPython extension
using the NumPy C API, in; a loaded Python module out, cached by symnb.kernels.cache.

Module name contract: the name is derived from the cache key and passed to the compiler
as `-DSYMNB_MODULE=symnb_<20 hex>`; the source builds its names from that macro (runtime.h
defines SYMNB_STR/SYMNB_CAT; a source without runtime.h defines the two-level macros):

    static PyModuleDef def = {PyModuleDef_HEAD_INIT, SYMNB_STR(SYMNB_MODULE), NULL, -1, methods};
    PyMODINIT_FUNC SYMNB_CAT(PyInit_, SYMNB_MODULE)(void) { import_array(); return PyModule_Create(&def); }
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from importlib.machinery import ExtensionFileLoader
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path
from types import ModuleType
from typing import Sequence

from .. import cache
from .renderer import SECOND_UNIT

HERE = Path(__file__).parent  # runtime headers (*.h): on the include path and in the key
# Every flag that changes the object code is here, so the cache key covers all of them.
# -fno-math-errno changes no result (only whether libm sets errno) and lets loops call
# glibc's SIMD math (scalar.h declares it); -ffast-math would change results: never.
# -mprefer-vector-width=512: AVX-512 machines run the 16-lane glibc variants (B float64 1.8 -> 1.0 ms).
# -ffp-contract=off: no fused multiply-adds, so a*b+c rounds twice, as NumPy computes it.
# -O2, not -O3: `omp simd` loops (every generated elementwise loop) vectorize the same at -O2;
# -O3's extra inlining, unswitching, peeling, cloning and costlier vectorizer took 40% of the
# MLP training function's compile time and bought nothing measurable (workloads A-E, sums,
# softmax, broadcast and transposed loops, each within noise). A header loop that must be
# vectorized says `#pragma omp simd`: -O2's cost model alone only takes the trivial ones.
# -fno-exceptions: nothing throws (errors are Python exceptions, set and returned as NULL/-1),
# so the unwinding paths were dead weight (4% of the compile); for the same reason no unwind
# tables and no RTTI (another 4%). No RTL GCSE and no second scheduling pass: the tree
# passes already did that work for our loops, and on an out-of-order core the schedule
# after allocation bought nothing measurable (benchmarks A-E unchanged), at 9% of the MLP
# module's compile.
# -fopenmp-simd: `omp simd` without the OpenMP runtime; threads come from pool.h (a libgomp
# that another library loaded first would otherwise run our loops with its spin policy).
FLAGS = ("-O2", "-pipe", "-march=native", "-mprefer-vector-width=512", "-fno-tree-loop-distribute-patterns", "-fPIC",
         "-shared", "-std=c++17", "-fno-exceptions", "-fno-rtti", "-fno-asynchronous-unwind-tables", "-fno-gcse",
         "-fno-schedule-insns2", "-fopenmp-simd", "-pthread", "-fno-math-errno", "-ffp-contract=off",
         "-fvisibility=hidden", "-DNPY_NO_DEPRECATED_API=NPY_1_7_API_VERSION")
LIBS = ("-lmvec",)


class CompilerUnavailable(RuntimeError):
    """No working C++ compiler (or no Python headers) on this machine."""


class CompileError(RuntimeError):
    """The compiler rejected the generated source.

    `stderr` is the compiler's output verbatim, `command` the argv that ran;
    source_context() shows the generated lines the diagnostics point at.
    """

    def __init__(self, command: Sequence[str], stderr: str, source: str,
                 filename: str = "", returncode: int | None = None):
        self.command, self.stderr, self.source = list(command), stderr, source
        self.filename, self.returncode = filename, returncode
        super().__init__(self._message())

    def __reduce__(self):  # picklable despite the custom signature
        return type(self), (self.command, self.stderr, self.source, self.filename, self.returncode)

    def locations(self) -> list[tuple[int, int]]:
        """(line, column) of each diagnostic in the generated file, errors first."""
        name = re.escape(self.filename) if self.filename else r"[^\s:]+\.cpp"
        pat = re.compile(rf"^(?:.*/)?{name}:(\d+):(\d+):\s*(fatal error|error)?")
        errors, others = [], []
        for m in map(pat.match, self.stderr.splitlines()):
            if m:
                (errors if m.group(3) else others).append((int(m.group(1)), int(m.group(2))))
        return list(dict.fromkeys(errors or others))

    def source_context(self, context: int = 2, max_locations: int = 5) -> str:
        """The generated source around each diagnostic, numbered, the line itself marked '>'."""
        lines, blocks = self.source.splitlines(), []
        for line, col in self.locations()[:max_locations]:
            block = [f"{self.filename or 'source'}:{line}:{col}"]
            for n in range(max(1, line - context), min(len(lines), line + context) + 1):
                block.append(f"{'>' if n == line else ' '}{n:5d} | {lines[n - 1]}")
            blocks.append("\n".join(block))
        return "\n\n".join(blocks)

    def _message(self) -> str:
        ctx = self.source_context()
        status = "" if self.returncode is None else f" (exit {self.returncode})"
        return (f"C++ compilation failed{status}\ncommand: {shlex.join(self.command)}\n"
                f"{self.stderr.rstrip()}" + (f"\n\ngenerated source:\n{ctx}" if ctx else ""))


# ----------------------------------------------------------------------------- toolchain
@dataclass(frozen=True)
class Toolchain:
    cxx: tuple[str, ...]       # argv prefix from $CXX (may be e.g. "ccache g++")
    user_flags: tuple[str, ...]  # from $SYMNB_CXXFLAGS, after FLAGS (e.g. -mno-avx512f)
    path: str                  # the resolved compiler program
    version: str               # its --version output
    target: str                # what -march=native expands to here
    includes: tuple[str, ...]  # Python, NumPy and runtime header directories
    fingerprint: str           # sha256 over all of the above, flags, headers, Python/NumPy ABI


_toolchains: dict[str, Toolchain | CompilerUnavailable] = {}


def compiler() -> str:
    """The compiler command: $CXX, else g++ (read at call time)."""
    return os.environ.get("CXX") or "g++"


def user_flags() -> str:
    """$SYMNB_CXXFLAGS (read at call time): flags added after FLAGS to every build.

    They are part of the toolchain fingerprint, hence of every cache key. The test suite
    runs the C++ op and random-graph tests a second time with -mno-avx512f, so the
    portable kernels are exercised on machines that have AVX-512 too.
    """
    return os.environ.get("SYMNB_CXXFLAGS", "")


def _numpy_abi() -> tuple[str, int]:
    import numpy
    try:
        from numpy._core.multiarray import _get_ndarray_c_version
    except ImportError:  # NumPy 1.x
        from numpy.core.multiarray import _get_ndarray_c_version
    return numpy.__version__, int(_get_ndarray_c_version())


def _probe(cxx_env: str, flags_env: str) -> Toolchain:
    import numpy
    cxx, extra = tuple(shlex.split(cxx_env)), tuple(shlex.split(flags_env))
    path = shutil.which(cxx[0]) if cxx else None
    if not path:
        raise CompilerUnavailable(f"the C++ compiler {cxx_env!r} is not on PATH (set $CXX)")
    try:
        ver = subprocess.run([*cxx, "--version"], capture_output=True, text=True, timeout=60)
        # -### prints what -march=native expands to without compiling: a cache shared over
        # NFS by machines with different CPUs must not hand one the other's instructions.
        tgt = subprocess.run([*cxx, "-march=native", *extra, "-###", "-E", "-x", "c++", os.devnull],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        raise CompilerUnavailable(f"the C++ compiler {cxx_env!r} does not run: {e}") from e
    if ver.returncode != 0:
        raise CompilerUnavailable(f"`{shlex.join([*cxx, '--version'])}` failed:\n{ver.stderr}")
    target = "\n".join(ln for ln in tgt.stderr.splitlines() if "cc1" in ln) or tgt.stderr
    includes = (sysconfig.get_paths()["include"], numpy.get_include(), str(HERE))
    if not os.path.exists(os.path.join(includes[0], "Python.h")):
        raise CompilerUnavailable(f"Python.h is not in {includes[0]}: install the Python "
                                  "development headers (e.g. python3-dev)")
    headers = {p.name: p.read_text() for p in sorted(HERE.glob("*.h"))}
    abi = [sys.implementation.cache_tag, sysconfig.get_config_var("EXT_SUFFIX"), _numpy_abi()]
    fp = json.dumps([list(cxx), path, ver.stdout, target, FLAGS, extra, LIBS, includes, headers, abi])
    return Toolchain(cxx, extra, path, ver.stdout.strip(), target, includes,
                     hashlib.sha256(fp.encode()).hexdigest())


def toolchain() -> Toolchain:
    """The probed compiler for the current $CXX and $SYMNB_CXXFLAGS; probed once per
    process per pair of values."""
    env = (compiler(), user_flags())
    tc = _toolchains.get(env)
    if tc is None:
        try:
            tc = _probe(*env)
        except CompilerUnavailable as e:
            tc = e
        _toolchains[env] = tc
    if isinstance(tc, CompilerUnavailable):
        raise tc
    return tc


def avx512() -> bool:
    """Do the modules built now use AVX-512 (what -march=native and $SYMNB_CXXFLAGS leave on)?"""
    words = toolchain().target.split()
    last = {w: i for i, w in enumerate(words) if w in ("-mavx512f", "-mno-avx512f")}   # the last one wins
    return last.get("-mavx512f", -1) > last.get("-mno-avx512f", -1)


def compiler_available() -> tuple[bool, str]:
    """(True, "<path>: <version line>") when the compiler runs, else (False, why)."""
    try:
        tc = toolchain()
    except CompilerUnavailable as e:
        return False, str(e)
    return True, f"{tc.path}: {tc.version.splitlines()[0] if tc.version else '?'}"


# ----------------------------------------------------------------------------- compile
def module_key(source: str, extra_flags: Sequence[str] = ()) -> str:
    """The cache key: sha256 over the toolchain fingerprint, extra flags and the source."""
    h = hashlib.sha256(toolchain().fingerprint.encode())
    h.update(json.dumps(list(extra_flags)).encode() + b"\0")
    h.update(source.encode())
    return h.hexdigest()


def module_name(key: str) -> str:
    return f"symnb_{key[:20]}"


def _compiler_argv(name: str) -> list[str]:
    tc = toolchain()
    return [*tc.cxx, *FLAGS, *tc.user_flags, *(f"-I{d}" for d in tc.includes), f"-DSYMNB_MODULE={name}"]


def build_command(name: str, so_file: str, extra_flags: Sequence[str] = ()) -> list[str]:
    """The argv run inside the build directory, which holds `<name>.cpp`."""
    # Libraries after the source file, or the linker drops them as unused.
    return [*_compiler_argv(name), f"{name}.cpp", *extra_flags, *LIBS, "-o", so_file]


def unit_commands(name: str, so_file: str, units: int, extra_flags: Sequence[str] = ()) -> list[list[str]]:
    """A source split in `units` translation units (renderer.SECOND_UNIT): one argv per
    unit, `<name>.cpp`, `<name>_2.cpp`, each to an object file, then the link."""
    files = [f"{name}.cpp"] + [f"{name}_{i + 1}.cpp" for i in range(1, units)]
    compile_ = [[*_compiler_argv(name), "-c", f, *extra_flags, "-o", f[:-4] + ".o"] for f in files]
    link = [*toolchain().cxx, "-shared", "-pthread", *(f[:-4] + ".o" for f in files), *extra_flags, *LIBS, "-o", so_file]
    return compile_ + [link]


def commands(name: str, so_file: str, units: int, extra_flags: Sequence[str] = ()) -> list[list[str]]:
    """Every argv of a build, in order: one for a one-unit source, else one per unit, then the link."""
    if units == 1:
        return [build_command(name, so_file, extra_flags)]
    return unit_commands(name, so_file, units, extra_flags)


def command_text(source: str, so_file: str | None = None) -> str:
    """The commands that build `source`'s module, one line each, as the shell would take them."""
    name = module_name(module_key(source))
    cmds = commands(name, so_file or f"{name}.so", source.count(SECOND_UNIT) + 1)
    return "\n".join(shlex.join(c) for c in cmds)


def _run_all(cmds: list[list[str]], workdir: Path) -> list[subprocess.CompletedProcess]:
    """Run the commands at once; their completed processes in order."""
    procs = [subprocess.Popen(c, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in cmds]
    outputs = [p.communicate() for p in procs]
    return [subprocess.CompletedProcess(c, p.returncode, *o) for c, p, o in zip(cmds, procs, outputs)]


def _build(workdir: Path, source: str, name: str, extra_flags: Sequence[str], verbose: bool) -> dict:
    units = source.split(SECOND_UNIT)
    files = [f"{name}.cpp"] + [f"{name}_{i + 1}.cpp" for i in range(1, len(units))]
    for f, text in zip(files, units):
        (workdir / f).write_text(text, encoding="utf-8")
    # A new file name per build: a process that loaded an older build of this key would
    # otherwise get the old, still-mapped library back from dlopen for the same path.
    so = f"{name}-{secrets.token_hex(4)}.so"
    *compile_, last = commands(name, so, len(units), extra_flags)
    steps = [compile_, [last]] if compile_ else [[last]]     # the units at once (one core each), then the link
    t0 = time.perf_counter()
    output = ""
    for cmds in steps:
        if verbose:
            print("\n".join(shlex.join(c) for c in cmds), flush=True)
        # Relative file names keep build-dir paths out of diagnostics: `symnb_x.cpp:12:5: error`.
        for k, proc in enumerate(_run_all(cmds, workdir)):
            output += proc.stdout + proc.stderr
            if verbose:
                print(proc.stdout + proc.stderr, end="", flush=True)
            if proc.returncode != 0:
                unit = k if len(cmds) > 1 or len(units) == 1 else None
                raise CompileError(proc.args, proc.stderr, units[unit] if unit is not None else source,
                                   files[unit] if unit is not None else "", proc.returncode)
    seconds = time.perf_counter() - t0
    if verbose:
        print(f"symnb: compiled {name} in {seconds:.2f} s", flush=True)
    src = files[0]
    tc = toolchain()
    return {"module": name, "so": so, "source": src, "compiler": tc.path,
            "compiler_version": tc.version.splitlines()[0] if tc.version else "",
            "flags": [*FLAGS, *tc.user_flags, *extra_flags, *LIBS], "source_size": len(source),
            "compile_seconds": seconds, "compiler_output": output[-20000:]}


def _load(entry: Path, meta: dict) -> ModuleType:
    name, so = meta["module"], meta["so"]
    if Path(so).name != so or not name.isidentifier():
        raise ValueError(f"bad record in {entry / cache.META}")
    path = str(entry / so)
    loader = ExtensionFileLoader(name, path)
    module = module_from_spec(spec_from_file_location(name, path, loader=loader))
    loader.exec_module(module)
    return module


def compile_module(source: str, force: bool = False, verbose: bool = False,
                   extra_flags: Sequence[str] = ()) -> ModuleType:
    """Compile `source` (see the module docstring for SYMNB_MODULE) and load it.

    Cached on disk under module_key() and in memory for this process, so an identical
    source again costs a hash and a dict lookup. force=True rebuilds and replaces the
    entry; verbose=True prints the command and the compiler's output. Raises
    CompileError when the compiler fails, CompilerUnavailable when there is none.
    """
    key = module_key(source, extra_flags)
    name = module_name(key)
    return cache.get_or_build(
        key, lambda workdir: _build(workdir, source, name, extra_flags, verbose), _load,
        force=force, verbose=verbose)
