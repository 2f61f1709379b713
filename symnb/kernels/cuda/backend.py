"""The CUDA backend, registered as "cuda": renderer -> NVRTC + cache -> cupy program, and
the boundary between the caller's arrays and the device (stage "backend").

Inputs may be cupy arrays on this device (no copy) or anything NumPy takes (copied once);
shared variables move to the device on first use and stay there; outputs are cupy arrays,
or NumPy with CudaBackend(outputs="numpy").
"""
from __future__ import annotations

from ..base import Backend, HostCheck, register, to_host
from .renderer import CudaRenderer


def device_status() -> tuple[bool, str]:
    """(whether a CUDA device can run kernels here, why not)."""
    try:
        import cupy
    except ImportError as e:
        return False, f"cupy is not installed (pip install 'symnb[cuda]'): {e}"
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:     # no driver, or one too old for this CUDA
        return False, f"no usable CUDA driver ({e})"
    return (True, "") if n > 0 else (False, "no CUDA device")


class DeviceCheck:
    """Accepts a value for one typed slot: a cupy array of the exact type on this device as it
    is, a host value (checked as on the host backends) copied to the device once."""

    __slots__ = ("type", "label", "host", "cp")

    def __init__(self, type_, label):
        import cupy
        self.type, self.label, self.host, self.cp = type_, label, HostCheck(type_, label), cupy

    def __call__(self, value):
        cp = self.cp
        if not isinstance(value, cp.ndarray):
            return cp.asarray(self.host(value))
        here = cp.cuda.Device().id
        if value.device.id != here:
            raise ValueError(f"{self.label}: the array is on GPU {value.device.id}, the function runs on GPU {here}")
        t = self.type
        if value.dtype.name != t.dtype:
            raise TypeError(f"{self.label}: expected {t}, got a cupy array of dtype {value.dtype.name} "
                            f"(cast it with .astype('{t.dtype}'); device arrays are never converted implicitly)")
        if value.ndim != t.ndim:
            raise TypeError(f"{self.label}: expected {t} (ndim={t.ndim}), got a cupy array with ndim={value.ndim}")
        if not t.accepts_shape(value.shape):
            raise ValueError(f"{self.label}: expected shape {t.shape}, got {value.shape}")
        return value


class CudaBackend(Backend):
    name = "cuda"

    def __init__(self, outputs="cupy"):
        if outputs not in ("cupy", "numpy"):
            raise ValueError("CudaBackend: outputs must be 'cupy' or 'numpy'")
        self.outputs = outputs

    def available(self):
        return device_status()

    def source(self, fgraph):
        return CudaRenderer().render(fgraph).source

    def compile(self, fgraph):
        ok, why = device_status()
        if not ok:
            raise RuntimeError(f"backend='cuda' needs a CUDA GPU, and this machine has none usable: {why}. "
                               "sn.codegen(..., backend='cuda') still shows the generated code.")
        from .program import CudaProgram
        return CudaProgram(fgraph)

    def input_check(self, type_, label):
        return DeviceCheck(type_, label)

    def stored(self, container):
        """The shared value on the device: moved there on first use, kept there after."""
        import cupy
        if not isinstance(container[0], cupy.ndarray):
            container[0] = cupy.asarray(container[0])
        return container[0]

    def own(self, arr, taken):
        import cupy
        if not isinstance(arr, cupy.ndarray):       # outputs="numpy": a host array
            return super().own(arr, taken)
        if any(isinstance(t, cupy.ndarray) and cupy.may_share_memory(arr, t) for t in taken):
            return arr.copy()
        return arr

    def result(self, value):
        if self.outputs == "numpy":
            return to_host(value)
        import cupy
        return cupy.asarray(value)


register(CudaBackend())
