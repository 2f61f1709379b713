"""The CUDA renderer without a GPU: its output for a set of fused expressions matches the
reviewed snapshots in snapshots/, every module compiles to PTX, the device Philox stream is
the reference's bit for bit, and backend="cuda" fails clearly where no GPU can run it."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st
from symnb.core.random import philox_words
from symnb.kernels.cuda.compiler import HEADERS

from .checks import GPU_OK, check_ptx

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("SYMNB_UPDATE_SNAPSHOTS") == "1"


def _graphs():
    a, b = st.fvector("a"), st.fvector("b")
    x, y = st.dvector("x"), st.dvector("y")
    X, bias = st.fmatrix("X"), st.fvector("bias")
    W = st.fmatrix("W")
    i = st.ivector("i")
    rng = sn.RandomStream(seed=3)
    h = st.sigmoid(st.dot(X, W) + bias)
    return {
        "square_of_sum": ([a, b], [a ** 2 + b ** 2 + 2 * a * b]),
        "transcendental": ([x, y], [st.exp(-x) * st.sin(y) + st.log1p(x * x)]),
        "bias_tanh_rows": ([X, bias], [st.tanh(X + bias).sum(axis=1)]),
        "reductions": ([X], [X.max(axis=0), st.argmax(X, axis=1), X.mean(), st.logsumexp(X, axis=1)]),
        "softmax": ([X], [st.softmax(X), st.log_softmax(X)]),
        "integer": ([i], [i // 3, i % 4]),
        "gibbs_step": ([X, W, bias], [rng.binomial(n=1, p=h, size=h.shape, dtype="float32")]),
    }


GRAPHS = _graphs()


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_generated_module_matches_snapshot_and_compiles(name):
    ins, outs = GRAPHS[name]
    src = sn.codegen(ins, outs, backend="cuda")
    snap = SNAPSHOTS / f"{name}.cu"
    if UPDATE or not snap.exists():
        snap.write_text(src)
        if not UPDATE:
            pytest.fail(f"new snapshot {snap.name} written: review it and commit it")
    assert src == snap.read_text(), f"the CUDA output for {name} changed; review it, then rerun with " \
                                    "SYMNB_UPDATE_SNAPSHOTS=1"
    assert src.count('extern "C" __global__') >= 1
    ptx = check_ptx(src)
    # Every kernel of the module is an entry of the PTX, under its extern "C" name.
    for kernel in re.findall(r'extern "C" __global__ void (\w+)\(', src):
        assert f".entry {kernel}(" in ptx


def test_each_fused_elementwise_node_is_one_kernel():
    a, b = st.fvector("a"), st.fvector("b")
    src = sn.codegen([a, b], (a ** 2 + b ** 2 + 2 * a * b) * st.exp(a), backend="cuda")
    assert src.count('extern "C" __global__') == 1


def _philox_on_host(key, counter, blocks):
    """The device philox4 of prelude.cuh, compiled for the host with the CUDA intrinsics it uses."""
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("no g++ to run the device Philox on the host")
    text = HEADERS["prelude.cuh"].read_text()
    fn = re.search(r"__device__ inline void philox4\(.*?\n}\n", text, re.S).group(0)
    prog = "\n".join([
        "#include <cstdint>", "#include <cstdio>", "#include <cstdlib>", "#define __device__",
        "static uint32_t __umulhi(uint32_t a, uint32_t b) { return (uint32_t)(((uint64_t)a * b) >> 32); }",
        fn,
        "int main(int, char** v) { uint64_t key = strtoull(v[1], 0, 10), ctr = strtoull(v[2], 0, 10);",
        "  for (long long j = 0; j < atoll(v[3]); j++) { uint32_t w[4]; philox4(key, ctr, j, w);",
        "    for (int i = 0; i < 4; i++) printf(\"%u\\n\", w[i]); } }"])
    return prog


def test_device_philox_matches_the_reference_stream(tmp_path):
    key, counter, blocks = 0x123456789ABCDEF, 2**32 - 3, 8     # the counter carries into its high word
    (tmp_path / "p.cpp").write_text(_philox_on_host(key, counter, blocks))
    subprocess.run(["g++", "-O1", "-o", str(tmp_path / "p"), str(tmp_path / "p.cpp")], check=True)
    out = subprocess.run([str(tmp_path / "p"), str(key), str(counter), str(blocks)], check=True,
                         capture_output=True, text=True).stdout
    words, used = philox_words(key, counter, 4 * blocks)
    np.testing.assert_array_equal(np.array(out.split(), dtype=np.uint32), words)


@pytest.mark.skipif(GPU_OK, reason="a GPU is present: the function compiles")
def test_cuda_function_without_gpu_is_a_clear_error():
    x = st.dvector("x")
    with pytest.raises(RuntimeError, match="needs a CUDA GPU"):
        sn.function([x], x + 1, backend="cuda")


@pytest.mark.skipif(not GPU_OK, reason="needs a CUDA device")
def test_data_placement_on_the_device():
    import cupy as cp
    from symnb.kernels.cuda.backend import CudaBackend
    x = st.fvector("x")
    w = sn.shared(np.ones(4, np.float32), name="w")
    f = sn.function([x], x * w, updates=[(w, w + x)], backend="cuda")
    out = f(np.arange(4, dtype=np.float32))           # NumPy in: copied once
    assert isinstance(out, cp.ndarray)
    np.testing.assert_array_equal(out.get(), np.arange(4))
    assert isinstance(w.get_value(), np.ndarray) and isinstance(w.get_value(device=True), cp.ndarray)
    np.testing.assert_array_equal(w.get_value(), 1 + np.arange(4))
    out = f(cp.arange(4, dtype=cp.float32))           # cupy in: no copy
    assert isinstance(out, cp.ndarray)
    with pytest.raises(TypeError, match="input 0 .*float64"):
        f(cp.arange(4, dtype=cp.float64))
    g = sn.function([x], x + 1, backend=CudaBackend(outputs="numpy"))
    assert isinstance(g(np.zeros(2, np.float32)), np.ndarray)


def test_few_outputs_over_many_elements_are_split_between_blocks():
    """A full reduction of 1e8 elements runs in TARGET_BLOCKS blocks (then one block combines
    their results), not in one: the split the driver picks, on any machine."""
    from symnb.kernels.cuda.launch import Reduction
    assert Reduction.parts(1, 10 ** 8) == Reduction.TARGET_BLOCKS
    assert Reduction.parts(4, 10 ** 8) == Reduction.TARGET_BLOCKS // 4
    assert Reduction.parts(1, 3000) == 1                      # one block's work
    assert Reduction.parts(1000, 10 ** 6) == 1                # enough outputs for every SM
    assert Reduction.parts(2, 10 ** 5) == 10 ** 5 // Reduction.PART_ELEMENTS
    a = st.fvector("a")
    src = sn.codegen([a], a.sum(), backend="cuda")
    assert "k0_sum_parts(" in src and "part[w] = acc" in src
