"""The driver's kernel launches against the kernels' C signatures, without a GPU: each graph's
launch plan (program.py, launch.py) runs on NumPy arrays standing in for device arrays, and
every launch is checked against the parameters of the kernel it calls (count, pointer or
value, element type), its grid and block; every kernel of the module is launched. On a GPU,
a mismatch would be a wrong result or a crash, not an error."""
import re
import sys
from types import SimpleNamespace

import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st
from symnb.core.graph import SharedVariable
from symnb.function import Function
from symnb.kernels.cpp.scalar import CTYPE
from symnb.kernels.cuda import program
from symnb.kernels.cuda.backend import CudaBackend

from .test_cuda_codegen import GRAPHS

# C parameter types -> dtypes (the fixed-width names are prelude.cuh's typedefs).
C_DTYPE = {c: np.dtype(d) for d, c in CTYPE.items()} | {
    "long long": np.dtype("int64"), "unsigned long long": np.dtype("uint64"), "int": np.dtype("int32")}


class OnDevice(np.ndarray):
    """A NumPy array posing as a cupy one: the driver must have put every array it launches
    with "on the device" (through cupy.asarray or its own buffers)."""

    def get(self):
        return np.array(self)


def _dev(a, dtype=None):
    return np.asarray(a, dtype=dtype).view(OnDevice)


FAKE_CUPY = SimpleNamespace(
    ndarray=OnDevice, asarray=_dev, zeros=lambda *a, **k: _dev(np.zeros(*a, **k)),
    empty=lambda *a, **k: _dev(np.zeros(*a, **k)), moveaxis=np.moveaxis,
    ascontiguousarray=lambda a: _dev(np.ascontiguousarray(a)), broadcast_to=np.broadcast_to,
    dot=np.dot, matmul=np.matmul, stack=lambda xs: _dev(np.stack(xs)), cuda=SimpleNamespace(Device=lambda: SimpleNamespace(compute_capability="80")))


def signatures(source: str) -> dict:
    """kernel name -> [(dtype, is_pointer)] of its parameters; dtype None for a pointer to a
    struct of the prelude (any device buffer: its layout is the kernel's)."""
    out = {}
    for name, params in re.findall(r'extern "C" __global__ void (\w+)\(([^)]*)\)', source):
        sig = []
        for p in params.split(","):
            words = [w for w in p.replace("*", " * ").split() if w not in ("const", "__restrict__")]
            pointer, ctype = "*" in words, " ".join(w for w in words[:-1] if w != "*")
            assert ctype in C_DTYPE or (pointer and re.fullmatch(r"\w+<\w+>", ctype)), f"{name}: {p}"
            sig.append((C_DTYPE.get(ctype), pointer))
        out[name] = sig
    return out


class Kernel:
    def __init__(self, name, sig, launched):
        self.name, self.sig, self.launched = name, sig, launched

    def __call__(self, grid, block, args):
        where = f"kernel {self.name}"
        for dims, most in ((grid, 2 ** 31 - 1), (block, 1024)):
            assert isinstance(dims, tuple) and 1 <= len(dims) <= 3, f"{where}: grid/block {dims!r}"
            assert all(type(d) is int and 1 <= d <= most for d in dims), f"{where}: grid/block {dims!r}"
        assert int(np.prod(block)) <= 1024
        assert isinstance(args, tuple) and len(args) == len(self.sig), \
            f"{where}: {len(args)} arguments for {len(self.sig)} parameters"
        for k, (arg, (dtype, pointer)) in enumerate(zip(args, self.sig)):
            if pointer:
                assert isinstance(arg, OnDevice), f"{where}, argument {k}: {type(arg).__name__}, not a device array"
            else:
                assert isinstance(arg, np.generic), f"{where}, argument {k}: {type(arg).__name__}, not a NumPy scalar"
            assert dtype is None or arg.dtype == dtype, f"{where}, argument {k}: {arg.dtype}, the kernel takes {dtype}"
        self.launched.add(self.name)


def launch_plan(monkeypatch, inputs, outputs, values, updates=None):
    """Build the function's CUDA program on the stand-ins, call it once; return (the kernels'
    signatures, the kernels launched)."""
    f = Function(inputs, outputs, updates or (), None, "cuda", True, None, "raise", compile=False)
    source = f.backend.source(f.fgraph)
    sigs, launched = signatures(source), set()
    fake_module = SimpleNamespace(get_function=lambda name: Kernel(name, sigs[name], launched))
    monkeypatch.setitem(sys.modules, "cupy", FAKE_CUPY)
    monkeypatch.setattr(program, "load_module", lambda src, arch: fake_module)
    prog = program.CudaProgram(f.fgraph)
    shared = [v.get_value() for v in f.fgraph.inputs if isinstance(v, SharedVariable)]
    prog([*values, *shared])
    return sigs, launched


def _values(inputs, rng):
    shapes = {"X": (5, 3), "W": (3, 3), "bias": (3,), "a": (6,), "b": (6,), "x": (4,), "y": (4,), "i": (7,)}
    return [(rng.random(shapes[v.name]) * 4).astype(v.dtype) for v in inputs]


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_every_launch_fits_its_kernel(monkeypatch, name):
    ins, outs = GRAPHS[name]
    sigs, launched = launch_plan(monkeypatch, ins, outs, _values(ins, np.random.default_rng(0)))
    # A reduction's second kernel (<name>_parts) runs only where a few outputs have many elements.
    assert sigs and launched == {k for k in sigs if not k.endswith("_parts")}


def test_launches_with_views_broadcasts_draws_and_products(monkeypatch):
    X, bias, C, Y = st.dmatrix("X"), st.dvector("bias"), st.dmatrix("C"), st.fmatrix("Y")
    rng = sn.RandomStream(seed=1)
    w = sn.shared(np.ones(3), name="w")
    lsm = st.log_softmax(X.T + bias)
    outs = [sn.grad(lsm.sum() + (lsm * lsm).sum(), X), 2.0 * C + 0.5 * st.dot(X, X.T),
            rng.normal(loc=bias, scale=2.0, size=(4, 3)), rng.binomial(n=3, p=0.25, size=(5,), dtype="float64"),
            rng.uniform(low=bias, high=bias + 1, size=(2, 3)), X.argmin(axis=0), X.sum(axis=1, keepdims=True),
            Y.sum(), st.argmax(Y, axis=1)]       # few outputs, many elements each
    values = [np.arange(15.0).reshape(3, 5), np.arange(3.0), np.ones((3, 3)), np.ones((2, 6000), np.float32)]
    sigs, launched = launch_plan(monkeypatch, [X, bias, C, Y], outs, values, updates=[(w, w * 2)])
    parts = {k for k in sigs if k.endswith("_parts")}
    assert launched - parts == set(sigs) - parts and len(sigs) >= 6
    assert not parts or len(launched & parts) == 2        # Y's sum and argmax split their rows


def test_copied_tests_compare_numpy_outputs_within_the_gpu_float32_bound(monkeypatch):
    """On a GPU, the op tests' functions must hand back NumPy arrays: np.asarray on a cupy
    array raises, so every comparison with the reference would fail."""
    from . import checks
    built = []
    monkeypatch.setattr(checks, "GPU_OK", True)
    monkeypatch.setattr(sn, "function", lambda *a, backend=None, **kw: built.append(backend))
    x = st.fvector("x")
    checks.OnCuda.function([x], x + 1, backend="cuda")
    checks.OnCuda.function([x], x + 1, backend="numpy")
    assert isinstance(built[0], CudaBackend) and built[0].outputs == "numpy" and built[1] == "numpy"
    ops = checks.copy_tests("test_cpp_ops.py", "ops_bound_check")
    same = ops["test_unary_float_ops"].__globals__["assert_same"]
    want = np.float32([1.0, 2.0])
    same(want * np.float32(1 + 5e-6), want, 1e-6)              # within 1e-5: accepted
    with pytest.raises(AssertionError):
        same(want * np.float32(1 + 5e-5), want, 1e-6)
    with pytest.raises(AssertionError):
        same(np.nextafter(want, 3), want, 0.0)                  # exact stays exact


def test_a_scan_runs_its_body_kernels_once_per_step(monkeypatch):
    """A scan's body joins the module and its loop runs in the driver: an Elman step with a
    reduction and a random draw inside, its kernels launched at every step (a mapped output
    and a state with two taps); the loop's rows stay "on the device"."""
    x, W, h0 = st.fmatrix("x"), st.fmatrix("W"), st.fmatrix("h0")
    rng = sn.RandomStream(seed=2)

    def step(xt, h2, h1, W):
        h = st.tanh(st.dot(xt, W) + h1 - 0.5 * h2) * rng.binomial(n=1, p=0.9, size=h1.shape, dtype="float32")
        return h, (h * h).sum()

    (hs, norms), _ = sn.scan(step, sequences=x, outputs_info=[dict(initial=h0, taps=[-2, -1]), None],
                             non_sequences=W)
    values = [np.ones((4, 3), np.float32), np.eye(3, dtype=np.float32), np.zeros((2, 3), np.float32)]
    calls = []
    from symnb.core.ops.scan import Scan
    real_loop = Scan.loop
    monkeypatch.setattr(Scan, "loop", lambda self, n, *a: calls.append(n) or real_loop(self, n, *a))
    sigs, launched = launch_plan(monkeypatch, [x, W, h0], [hs, norms], values)
    assert calls == [4] and launched == {k for k in sigs if not k.endswith("_parts")}
    assert {"fused", "random_binomial", "sum"} <= {k.split("_", 1)[1] for k in launched}


def test_bptt_launches_fit_their_kernels(monkeypatch):
    """Backpropagation through time: the gradient is a second scan (backwards over the first's
    states), its body's kernels in the same module; both loops run through the driver. (The
    stand-in kernels compute nothing, so the backward loop's step count, which a kernel
    computes, is 0 here: its body's launches are checked by the test above's kind of graph.)"""
    from symnb.core.ops.scan import Scan
    from tests.core.test_scan import elman
    X, h0, W, U, b = st.dmatrix("X"), st.dvector("h0"), st.dmatrix("W"), st.dmatrix("U"), st.dvector("b")
    hs = elman(X, h0, W, U, b)
    rng = np.random.default_rng(0)
    values = [rng.normal(size=(5, 3)), rng.normal(size=4), rng.normal(size=(3, 4)), rng.normal(size=(4, 4)),
              rng.normal(size=4)]
    loops = []
    real_loop = Scan.loop
    monkeypatch.setattr(Scan, "loop", lambda self, n, *a: loops.append((self.name, n)) or real_loop(self, n, *a))
    sigs, launched = launch_plan(monkeypatch, [X, h0, W, U, b], [hs, *sn.grad((hs ** 2).sum(), [W, U, b])], values)
    assert len(loops) == 2 and loops[0][1] == 5 and "k8_fused" in launched and len(sigs) >= 6


def test_numpy_outputs_are_owned_beside_device_inputs(monkeypatch):
    """With outputs="numpy", a result reaches `own` as a host array while the inputs and shared
    values it is checked against are on the device: cupy's may_share_memory refuses a NumPy
    array, so the host check must answer for it."""
    def may_share_memory(a, b):
        if not (isinstance(a, OnDevice) and isinstance(b, OnDevice)):
            raise TypeError("Argument 'a' has incorrect type")
        return np.may_share_memory(a, b)

    monkeypatch.setitem(sys.modules, "cupy", SimpleNamespace(**vars(FAKE_CUPY), may_share_memory=may_share_memory))
    backend, on_device, host = CudaBackend(outputs="numpy"), _dev(np.ones(3)), np.ones(3)
    assert backend.own(host, [on_device]) is host
    assert backend.own(host, [host[:2]]) is not host                      # aliasing a host array: copied
    device = CudaBackend()
    assert device.own(on_device, [on_device[:1]]) is not on_device        # the device check still runs


def test_glue_moves_to_the_host_only_when_host_copies_work(monkeypatch):
    """A node without a kernel whose reference code refuses device arrays runs on host copies
    from then on, and is listed as running in Python; a call with bad arguments, which fails
    on the host too, raises and moves nothing."""
    from symnb.kernels.cuda.launch import Glue

    class Device(OnDevice):
        __cuda_array_interface__ = {}          # what to_host looks for: copied back with .get()

    x = st.dvector("x")
    node = x[::-1].owner
    real = type(node.op).perform

    def picky(self, *args):
        if any(isinstance(a, OnDevice) for a in args):
            raise TypeError("device arrays refused")
        if not len(args[0]):
            raise ValueError("a bad argument")
        return real(self, *args)

    monkeypatch.setattr(type(node.op), "perform", picky)
    fallbacks = []
    glue = Glue(0, node, fallbacks)
    glue.bind(None, node, [0], [1])
    with pytest.raises(ValueError, match="bad argument"):
        glue.run([np.zeros(0).view(Device), None], None)
    assert not glue.host and fallbacks == []
    env = [np.arange(3.0).view(Device), None]
    glue.run(env, None)
    assert glue.host and fallbacks == [node] and np.array_equal(env[1], [2.0, 1.0, 0.0])
