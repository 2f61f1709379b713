"""Fixtures shared by the tests: `backend` runs a test once per registered backend.

A backend this machine cannot run (no compiler, no GPU) shows up as a skip with its reason.
"""
import pytest

import symnb  # noqa: F401  (importing symnb.function registers the backends)
from symnb.kernels.base import BACKENDS

# The reference backend first: when it fails, the others' failures are the same bug.
BACKEND_NAMES = sorted(BACKENDS, key=lambda name: (name != "numpy", name))


@pytest.fixture(params=BACKEND_NAMES)
def backend(request):
    ok, why = BACKENDS[request.param].available()
    if not ok:
        pytest.skip(f"backend {request.param!r} is unavailable here: {why}")
    if request.param == "cuda":
        # These tests compare results with NumPy's, and np.asarray refuses cupy arrays: here
        # "cuda" hands back NumPy arrays (tests/kernels/cuda checks the outputs on the device).
        from symnb.kernels.base import register
        from symnb.kernels.cuda.backend import CudaBackend
        default = BACKENDS["cuda"]
        register(CudaBackend(outputs="numpy"))
        request.addfinalizer(lambda: register(default))
    return request.param
