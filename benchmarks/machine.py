"""Machine and version facts recorded with every benchmark result."""
from __future__ import annotations

import os
import platform
import subprocess

import numpy as np
import scipy


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def compiler_version() -> str:
    try:
        out = subprocess.run([os.environ.get("CXX", "g++"), "--version"], capture_output=True, text=True)
        return out.stdout.splitlines()[0]
    except (OSError, IndexError):
        return "no C++ compiler"


def describe() -> list[str]:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    import symnb
    return [f"- CPU: {cpu_model()}, {os.cpu_count()} cores, {mem:.0f} GiB",
            f"- Python {platform.python_version()}, NumPy {np.__version__}, SciPy {scipy.__version__}, "
            f"symnb {symnb.__version__}",
            f"- Compiler: {compiler_version()}"]
