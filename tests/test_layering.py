"""The core is pure: it imports nothing from the backends, magics, display or function layers."""
import ast
import pathlib
import subprocess
import sys

import symnb

CORE = pathlib.Path(symnb.__file__).parent / "core"
FORBIDDEN = ("symnb.kernels", "symnb.magics", "symnb.viz", "symnb.function", "symnb.sampling")


def _imports(path: pathlib.Path):
    module = "symnb." + ".".join(path.relative_to(CORE.parent).with_suffix("").parts)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                yield ".".join(base + ([node.module] if node.module else []))
            else:
                yield node.module


def test_core_modules_import_nothing_from_upper_layers():
    offenders = [(p.name, imp) for p in CORE.rglob("*.py") for imp in _imports(p)
                 if imp and imp.startswith(FORBIDDEN)]
    assert not offenders


def test_importing_the_core_alone_loads_no_upper_layer():
    # A bare `symnb` package object, so that symnb/__init__.py (which loads every layer) does not run.
    code = ("import importlib.util, sys; sys.modules.pop('symnb', None); "
            "spec = importlib.util.find_spec('symnb'); import types; "
            "pkg = types.ModuleType('symnb'); pkg.__path__ = spec.submodule_search_locations; "
            "sys.modules['symnb'] = pkg; import symnb.core.grad, symnb.core.random, symnb.core.printing; "
            "print(sorted(m for m in sys.modules if m.startswith(%r)))" % (FORBIDDEN,))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
