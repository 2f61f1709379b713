"""The g++ driver on the disk cache: compile and call a tiny extension, many processes at
once, a compile killed mid-way, corrupt and foreign entries, compile errors, the CLI.

One module is compiled once per session (`prebuilt`); tests copy its entry into their
own cache dir instead of recompiling, so the file stays fast.
"""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from symnb import cli
from symnb.kernels import cache
from symnb.kernels.cpp import compiler
from symnb.kernels.cpp.compiler import CompileError, compile_module
from symnb.kernels.cpp.renderer import SECOND_UNIT

pytestmark = pytest.mark.skipif(not compiler.compiler_available()[0],
                                reason=compiler.compiler_available()[1])

REPO = Path(__file__).resolve().parents[2]

SRC = r"""#include <Python.h>
#include <numpy/arrayobject.h>
#define STR2(x) #x
#define STR(x) STR2(x)
#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)

static PyObject* add(PyObject*, PyObject* args) {
    double a, b;
    if (!PyArg_ParseTuple(args, "dd", &a, &b)) return NULL;
    return PyFloat_FromDouble(a + b);
}

static PyObject* total(PyObject*, PyObject* arg) {
    PyArrayObject* x = (PyArrayObject*)PyArray_FROMANY(arg, NPY_DOUBLE, 1, 1, NPY_ARRAY_IN_ARRAY);
    if (!x) return NULL;
    const double* p = (const double*)PyArray_DATA(x);
    double s = 0;
    for (npy_intp i = 0; i < PyArray_DIM(x, 0); ++i) s += p[i];
    Py_DECREF(x);
    return PyFloat_FromDouble(s);
}

static PyMethodDef methods[] = {
    {"add", add, METH_VARARGS, "a + b over doubles"},
    {"total", total, METH_O, "sum of a 1-d array as float64"},
    {NULL, NULL, 0, NULL}};
static PyModuleDef def = {PyModuleDef_HEAD_INIT, STR(SYMNB_MODULE), NULL, -1, methods};
PyMODINIT_FUNC CAT(PyInit_, SYMNB_MODULE)(void) { import_array(); return PyModule_Create(&def); }
"""

# Compiles (or loads) SRC from the file in argv[1] in each cache dir argv[2:], calls it.
CALL = """
import os, sys
from symnb.kernels.cpp.compiler import compile_module
src = open(sys.argv[1]).read()
for root in sys.argv[2:]:
    os.environ["SYMNB_CACHE_DIR"] = root
    m = compile_module(src)
    assert m.add(1.5, 2.0) == 3.5
    print(m.__file__, flush=True)
"""


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("CXX", "SYMNB_CACHE_DIR")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return {**env, **extra}


def _call_argv(tmp_path, *roots):
    src = tmp_path / "src.cpp"
    src.write_text(SRC)
    return [sys.executable, "-c", CALL, str(src), *map(str, roots)]


def _wrapper(tmp_path):
    """A $CXX that logs each compile (not the --version probes) and can linger after it."""
    log, script = tmp_path / "cxx.log", tmp_path / "cxx-wrapper"
    script.write_text(f"""#!/bin/sh
case " $* " in *" -shared "*) echo start >> '{log}';; esac
g++ "$@"; rc=$?
case " $* " in *" -shared "*) if [ -n "$SLOW" ]; then echo built >> '{log}'; sleep "$SLOW"; fi;; esac
exit $rc
""")
    script.chmod(0o755)
    return script, log


def _starts(log):
    return log.read_text().split().count("start") if log.exists() else 0


@pytest.fixture(scope="session")
def prebuilt(tmp_path_factory):
    root = tmp_path_factory.mktemp("prebuilt") / "cache"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYMNB_CACHE_DIR", str(root))
        mp.delenv("CXX", raising=False)
        t0 = time.perf_counter()
        module = compile_module(SRC)
        seconds = time.perf_counter() - t0
        key = compiler.module_key(SRC)
    return SimpleNamespace(root=root, key=key, entry=cache.entry_path(key, root),
                           module=module, seconds=seconds)


@pytest.fixture
def root(tmp_path, monkeypatch):
    r = tmp_path / "cache"
    monkeypatch.setenv("SYMNB_CACHE_DIR", str(r))
    monkeypatch.delenv("CXX", raising=False)
    return r


def _install_copy(prebuilt, root):
    cache.ensure_root(root)
    dst = cache.entry_path(prebuilt.key, root)
    shutil.copytree(prebuilt.entry, dst)
    return dst


def test_compile_and_call(prebuilt):
    m = prebuilt.module
    assert m.add(1.5, 2) == 3.5
    assert m.total(np.arange(5.0)) == 10.0 and m.total(np.ones(3, np.float32)) == 3.0
    with pytest.raises(ValueError):
        m.total(np.ones((2, 2)))
    assert m.__name__ == compiler.module_name(prebuilt.key) == f"symnb_{prebuilt.key[:20]}"
    meta = json.loads((prebuilt.entry / "meta.json").read_text())
    assert meta["flags"][:len(compiler.FLAGS)] == list(compiler.FLAGS)
    assert "-ffast-math" not in meta["flags"] and meta["source_size"] == len(SRC)
    assert meta["compiler_version"] and meta["created"] <= time.time()
    assert (prebuilt.entry / meta["source"]).read_text() == SRC
    print(f"compile of a small extension: {prebuilt.seconds:.3f} s")


def test_key_covers_source_and_flags(root):
    k = compiler.module_key(SRC)
    assert k == compiler.module_key(SRC)
    assert k != compiler.module_key(SRC + "\n") != compiler.module_key(SRC, ["-DX=1"])


def test_user_flags_reach_the_command_the_key_and_the_target(root, monkeypatch):
    from tests.kernels.cpp import avx512
    monkeypatch.delenv("SYMNB_CXXFLAGS", raising=False)
    plain = compiler.module_key(SRC)
    monkeypatch.setenv("SYMNB_CXXFLAGS", "-mno-avx512f -DSYMNB_FLAG_PROBE=1")
    assert compiler.module_key(SRC) != plain
    cmd = compiler.build_command("m", "m.so")
    assert cmd.index("-march=native") < cmd.index("-mno-avx512f") < cmd.index("m.cpp")
    assert not avx512()                      # what the AVX-512-only tests look at
    m = compile_module(SRC)
    assert m.add(1.0, 2.0) == 3.0
    meta = json.loads((cache.entry_path(compiler.module_key(SRC), root) / "meta.json").read_text())
    assert "-DSYMNB_FLAG_PROBE=1" in meta["flags"]


def test_same_process_rebuild_is_a_memory_hit(prebuilt, monkeypatch):
    monkeypatch.setenv("SYMNB_CACHE_DIR", str(prebuilt.root))
    monkeypatch.delenv("CXX", raising=False)
    # No compiler process may run: not even a version probe.
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("ran a process"))
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        assert compile_module(SRC) is prebuilt.module
        times.append(time.perf_counter() - t0)
    assert min(times) < 0.010
    print(f"same-process rebuild: {min(times) * 1e6:.0f} us")


def test_processes_compiling_at_once_compile_once(tmp_path, root):
    cxx, log = _wrapper(tmp_path)
    env = _env(SYMNB_CACHE_DIR=str(root), CXX=str(cxx), SLOW="1")
    procs = [subprocess.Popen(_call_argv(tmp_path, root), env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(8)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [err for _, err in outs]
    assert _starts(log) == 1
    assert len({out for out, _ in outs}) == 1  # all loaded the one installed entry
    assert len(cache.entries()) == 1


def test_killed_compile_leaves_no_entry(tmp_path, root, monkeypatch):
    cxx, log = _wrapper(tmp_path)
    proc = subprocess.Popen(_call_argv(tmp_path, root), start_new_session=True,
                            env=_env(SYMNB_CACHE_DIR=str(root), CXX=str(cxx), SLOW="60"))
    try:
        deadline = time.time() + 120
        while "built" not in (log.read_text() if log.exists() else ""):
            assert proc.poll() is None and time.time() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # the .so exists in the build dir, not installed
        proc.wait()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the lingering wrapper
        except ProcessLookupError:
            pass
    assert cache.entries() == []
    assert len(list((root / "tmp").iterdir())) == 1  # the abandoned build dir
    monkeypatch.setenv("CXX", str(cxx))  # same key as the killed compile
    assert compile_module(SRC).add(1, 2) == 3
    assert _starts(log) == 2 and len(cache.entries()) == 1
    assert cache.clean_stale(max_age=0) == 1


def _truncate_so(entry):
    so = next(entry.glob("*.so"))
    so.write_bytes(so.read_bytes()[:4096])


def _garbage_so_with_matching_record(entry):
    # Passes the checksum test, so the loader itself must fail and be caught.
    so, meta = next(entry.glob("*.so")), json.loads((entry / "meta.json").read_text())
    so.write_bytes(b"\x7fELF garbage" * 100)
    meta["files"][so.name] = [so.stat().st_size, hashlib.sha256(so.read_bytes()).hexdigest()]
    (entry / "meta.json").write_text(json.dumps(meta))


def _garbage_file_as_entry(entry):
    shutil.rmtree(entry)
    entry.write_bytes(os.urandom(256))


def test_corrupt_entries_recover_in_a_new_process(tmp_path, prebuilt):
    roots = []
    for spoil in (_truncate_so, _garbage_so_with_matching_record, _garbage_file_as_entry):
        r = tmp_path / spoil.__name__
        spoil(_install_copy(prebuilt, r))
        roots.append(r)
    proc = subprocess.run(_call_argv(tmp_path, *roots), env=_env(), capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("unusable") == 3
    for r in roots:
        (e,) = cache.entries(r)
        assert e.meta["pid"] != os.getpid()  # rebuilt by the child
        assert not list((r / "tmp").iterdir())


def test_five_runs_leave_one_entry(tmp_path, prebuilt):
    r = tmp_path / "cache"
    _install_copy(prebuilt, r)  # built in this process: the key is the same in others
    files = set()
    for _ in range(5):
        proc = subprocess.run(_call_argv(tmp_path, r), env=_env(), capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        files.add(proc.stdout.strip())
    assert len(files) == 1 and len(cache.entries(r)) == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to fake another owner")
def test_foreign_entry_is_not_loaded(root, prebuilt):
    entry = _install_copy(prebuilt, root)
    for p in [entry, *entry.iterdir()]:
        os.chown(p, 65534, 65534)
    with pytest.warns(cache.CacheWarning, match="owned by uid 65534"):
        m = compile_module(SRC)
    assert m.add(1, 1) == 2 and Path(m.__file__).parent == entry
    assert all(p.stat().st_uid == os.getuid() for p in [entry, *entry.iterdir()])


def test_compile_error_shows_the_line(root):
    bad = SRC.replace("return PyFloat_FromDouble(a + b);", "return PyFloat_FromDouble(a + b_typo);")
    line = bad.splitlines().index("    return PyFloat_FromDouble(a + b_typo);") + 1
    with pytest.raises(CompileError) as info:
        compile_module(bad)
    e = info.value
    assert "b_typo" in e.stderr and e.stderr.strip() in str(e)
    assert e.locations()[0][0] == line
    assert f">{line:5d} |     return PyFloat_FromDouble(a + b_typo);" in str(e)
    assert "g++" in e.command[0] and "-march=native" in e.command and e.returncode != 0
    assert cache.entries() == [] and not list((root / "tmp").iterdir())


# SRC in two translation units (renderer.SECOND_UNIT): add() calls a function of the second.
SPLIT_SRC = SRC.replace("static PyObject* add(", "double half(double);\nstatic PyObject* add(").replace(
    "return PyFloat_FromDouble(a + b);", "return PyFloat_FromDouble(2 * half(a + b));") + \
    SECOND_UNIT + "double half(double x) {\n    return x / 2;\n}\n"


def test_a_source_in_two_units_builds_one_module(root):
    m = compile_module(SPLIT_SRC)
    assert m.add(1.5, 2) == 3.5 and m.total(np.arange(4.0)) == 6.0
    built = sorted(p.name for p in Path(m.__file__).parent.glob("*.cpp"))
    assert len(built) == 2 and built[1].endswith("_2.cpp")


def test_compile_error_in_the_second_unit_names_its_file_and_line(root):
    bad = SPLIT_SRC.replace("return x / 2;", "return x / two;")
    with pytest.raises(CompileError) as info:
        compile_module(bad)
    e = info.value
    assert e.filename.endswith("_2.cpp") and "-c" in e.command and "two" in e.stderr
    assert e.locations()[0][0] == 2 and ">    2 |     return x / two;" in str(e)
    assert cache.entries() == [] and not list((root / "tmp").iterdir())


def test_force_rebuilds_under_a_new_file_name(root, prebuilt, capsys):
    _install_copy(prebuilt, root)
    old = compile_module(SRC)
    new = compile_module(SRC, force=True, verbose=True)
    assert new is not old and new.__file__ != old.__file__ and new.add(2, 3) == 5
    assert old.add(2, 3) == 5  # the old module stays usable
    out = capsys.readouterr().out
    assert "-DSYMNB_MODULE=symnb_" in out and "compiled" in out
    assert len(cache.entries()) == 1


def test_cli_list_info_clear(root, prebuilt, capsys):
    _install_copy(prebuilt, root)
    (root / "tmp" / "left-by-a-killed-build").mkdir()
    assert cli.main(["cache", "list"]) == 0
    out = capsys.readouterr().out
    assert prebuilt.key in out and compiler.module_name(prebuilt.key) in out
    assert cli.main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert str(root) in out and "entries:    1" in out and "temp dirs:  1" in out
    assert compiler.compiler_available()[1] in out
    assert cli.main(["cache", "clear"]) == 0
    assert "removed 1 entry" in capsys.readouterr().out
    assert list(root.iterdir()) == []
    os.chmod(root, 0o777)
    assert cli.main(["cache", "clear"]) == 1 and "writable" in capsys.readouterr().err


def test_python_dash_m_symnb(root):
    proc = subprocess.run([sys.executable, "-m", "symnb", "cache", "info"],
                          env=_env(SYMNB_CACHE_DIR=str(root)), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and "entries:    0" in proc.stdout, proc.stderr
