"""NVRTC driver for the CUDA backend (stage "compiler + disk cache"): generated source in,
PTX (any machine, no GPU needed) or a cubin for this GPU out, cached by kernels/cache.py
under a key over the source, the headers, NVRTC's version and the target.
"""
from __future__ import annotations

import hashlib
import secrets
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

from .. import cache

HERE = Path(__file__).parent
# Headers the generated source includes, handed to NVRTC by name (no include path).
HEADERS = {"prelude.cuh": HERE / "prelude.cuh", "scalar.h": HERE.parent / "cpp" / "scalar.h"}
OPTIONS = ("-std=c++17", "-default-device")
PTX_ARCH = "compute_80"      # the checks without a GPU: any GPU of the last generations


class CudaCompileError(RuntimeError):
    """NVRTC rejected the generated source; the message holds its log and the lines it names."""

    def __init__(self, log: str, source: str):
        self.log, self.source = log, source
        super().__init__(f"NVRTC could not compile the generated CUDA module:\n{log}")


def nvrtc():
    """cupy's low-level NVRTC binding; ImportError saying what to install without it."""
    try:
        from cupy.cuda import nvrtc as lib
        lib.getVersion()
    except Exception as e:   # no cupy, or no NVRTC library to load
        raise ImportError(f"the CUDA backend needs cupy and NVRTC (pip install 'symnb[cuda]'): {e}") from e
    return lib


@lru_cache(maxsize=1)
def header_texts() -> tuple:
    return tuple((name, path.read_text()) for name, path in HEADERS.items())


def _compile(source: str, arch: str, cubin: bool):
    lib = nvrtc()
    names, texts = zip(*header_texts())
    prog = lib.createProgram(source, "symnb_module.cu", [t.encode() for t in texts], [n.encode() for n in names])
    try:
        try:
            lib.compileProgram(prog, [*OPTIONS, f"-arch={arch}"])
        except lib.NVRTCError:
            raise CudaCompileError(lib.getProgramLog(prog), source) from None
        return lib.getCUBIN(prog) if cubin else lib.getPTX(prog)
    finally:
        lib.destroyProgram(prog)


def compile_ptx(source: str, arch: str = PTX_ARCH) -> str:
    """The PTX of a generated module (works on any machine with cupy and NVRTC)."""
    ptx = _compile(source, arch, cubin=False)
    return ptx.decode() if isinstance(ptx, bytes) else ptx


def ptxas_check(ptx: str, arch: str = "sm_80") -> str | None:
    """Assemble the PTX with `ptxas` when it is installed: None if it accepts it (or there is
    no ptxas), its diagnostics otherwise."""
    ptxas = shutil.which("ptxas")
    if ptxas is None:
        return None
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "m.ptx"
        src.write_text(ptx)
        proc = subprocess.run([ptxas, f"-arch={arch}", str(src), "-o", str(Path(d) / "m.cubin")],
                              capture_output=True, text=True)
    return None if proc.returncode == 0 else proc.stderr


def module_key(source: str, arch: str) -> str:
    h = hashlib.sha256(b"cuda\0" + repr((nvrtc().getVersion(), arch, OPTIONS)).encode())
    for name, text in header_texts():
        h.update(name.encode() + b"\0" + text.encode() + b"\0")
    h.update(source.encode())
    return h.hexdigest()


def load_module(source: str, arch: str):
    """cupy.RawModule of the source compiled for `arch` (sm_XY of this GPU), from the disk
    cache when another process compiled it before."""
    import cupy

    def build(workdir: Path) -> dict:
        name = f"module-{secrets.token_hex(4)}.cubin"
        (workdir / name).write_bytes(_compile(source, arch, cubin=True))
        (workdir / "module.cu").write_text(source)
        return {"cubin": name, "arch": arch}

    def load(entry: Path, meta: dict):
        if Path(meta["cubin"]).name != meta["cubin"]:
            raise ValueError(f"bad record in {entry / cache.META}")
        return cupy.RawModule(path=str(entry / meta["cubin"]))

    return cache.get_or_build(module_key(source, arch), build, load)
