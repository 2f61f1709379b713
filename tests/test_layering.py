"""The core is pure: it imports nothing from the backends, magics, display or function layers."""
import ast
import pathlib
import subprocess
import sys

import symnb

PACKAGE = pathlib.Path(symnb.__file__).parent
CORE = PACKAGE / "core"
FORBIDDEN = ("symnb.kernels", "symnb.magics", "symnb.viz", "symnb.function", "symnb.sampling")


def imported_modules(source: str, module: str, is_package: bool = False):
    """Absolute names of every module an import statement of `source` may load.

    `from .. import kernels` yields both `symnb` and `symnb.kernels`: the imported name may
    be a submodule, so each one counts.
    """
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def test_import_resolution_covers_relative_forms():
    src = ("import symnb.viz\nfrom ..kernels import cpp\nfrom .. import magics as m\n"
           "from .ops import base\ndef late():\n    from .. import function\n")
    found = set(imported_modules(src, "symnb.core.graph"))
    assert {"symnb.viz", "symnb.kernels", "symnb.kernels.cpp", "symnb.magics",
            "symnb.function", "symnb.core.ops", "symnb.core.ops.base"} <= found
    assert "symnb.core.rewrite.engine" in set(imported_modules("from . import engine", "symnb.core.rewrite", True))


def test_core_modules_import_nothing_from_upper_layers():
    offenders = []
    for path in CORE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        is_package = path.name == "__init__.py"
        module = ".".join(parts[:-1] if is_package else parts)
        offenders += [(str(path.relative_to(PACKAGE)), name)
                      for name in imported_modules(path.read_text(), module, is_package)
                      if name and (name + ".").startswith(tuple(f + "." for f in FORBIDDEN))]
    assert not offenders


def test_importing_the_core_alone_loads_no_upper_layer():
    # A bare `symnb` package object, so that symnb/__init__.py (which loads every layer) does not run.
    code = ("import importlib, importlib.util, pkgutil, sys, types; "
            "spec = importlib.util.find_spec('symnb'); "
            "pkg = types.ModuleType('symnb'); pkg.__path__ = spec.submodule_search_locations; "
            "sys.modules['symnb'] = pkg; import symnb.core; "
            "[importlib.import_module(m.name) for m in "
            "pkgutil.walk_packages(symnb.core.__path__, 'symnb.core.')]; "
            "print(sorted(m for m in sys.modules if m.startswith(%r)))" % (FORBIDDEN,))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_core_has_no_import_cycle():
    """Module-level imports inside symnb.core form no cycle (imports inside functions, made
    when called, do not count; nor does a submodule's import of its own package, whose
    __init__ Python always runs first)."""
    deps = {}
    for path in CORE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        is_package = path.name == "__init__.py"
        module = ".".join(parts[:-1] if is_package else parts)
        top = [n for n in ast.parse(path.read_text()).body if isinstance(n, (ast.Import, ast.ImportFrom))]
        deps[module] = {name for name in imported_modules("\n".join(map(ast.unparse, top)), module, is_package)
                        if name != module and not (module + ".").startswith(name + ".")}
    deps = {m: {d for d in ds if d in deps} for m, ds in deps.items()}
    state, path = {}, []

    def visit(m):       # depth-first; a module met again while on the path closes a cycle
        state[m] = "open"
        path.append(m)
        for d in sorted(deps[m]):
            assert state.get(d) != "open", "import cycle: " + " -> ".join(path[path.index(d):] + [d])
            if d not in state:
                visit(d)
        path.pop()
        state[m] = "done"

    for m in sorted(deps):
        if m not in state:
            visit(m)
    assert len(deps) > 20 and "symnb.core.graph" in deps
