"""The GPU benchmark's columns built on the CPU (a host backend, PyTorch on "cpu", JAX's CPU
device): each computes the same MLP step and Gibbs chain as the hand-written NumPy baseline,
so a GPU session only has to time them. Without a GPU the script says so and exits 2."""
import numpy as np
import pytest

from benchmarks import gpu, peers
from benchmarks.harness import Impl
from symnb.kernels.cuda.backend import device_status


def cpu_peers():
    try:
        import torch
    except ImportError:
        torch = None
    return torch, peers.load("jax")


def expected_columns(torch, jax):
    names = {"symnb numpy", "NumPy (CPU)"}
    if torch is not None:
        names.add("PyTorch eager (CPU)")
    if jax is not None:
        names |= {"JAX jit (CPU)", "JAX jit (CPU, float32 matmuls)"}
    return names


def test_mlp_columns_take_numpys_step():
    torch, jax = cpu_peers()
    X, y, init = gpu.mlp_problem(batch=6, sizes=(12, 8, 3))
    impls = gpu.mlp_impls(X, y, init, backend="numpy", torch=torch, jax=jax)
    assert set(impls) == expected_columns(torch, jax)
    errors = gpu.state_errors(impls, init)
    assert set(errors) == set(impls) - {"NumPy (CPU)"}
    for name, err in errors.items():
        assert err < 1e-4, f"{name}: its step differs from NumPy's by {err:.2e} of the change"


def test_gibbs_columns_draw_numpys_chains_when_draws_are_certain():
    torch, jax = cpu_peers()
    W, vb, hb, v0 = gpu.gibbs_problem(chains=3, n_vis=12, n_hid=8, weight_scale=1e6)
    impls = gpu.gibbs_impls(W, vb, hb, v0, steps=3, backend="numpy", torch=torch, jax=jax)
    assert set(impls) == expected_columns(torch, jax)
    chains = {}
    for name, (impl, sync) in impls.items():
        impl.run()
        sync()
        (chains[name],) = impl.state()
    want = chains.pop("NumPy (CPU)")
    assert want.dtype == np.float32 and not np.array_equal(want, v0)
    for name, got in chains.items():
        np.testing.assert_array_equal(np.asarray(got), want, err_msg=name)


def test_a_failing_column_is_reported_and_the_row_kept():
    def broken():
        raise RuntimeError("launch failed\nmore")
    impls = {"symnb cuda": (Impl(lambda: None), lambda: None), "peer": (Impl(broken), lambda: None)}
    row = gpu.timed_row("row", impls, least=1)
    text = gpu.table([row, *gpu.section("B", lambda: 1 / 0)])
    assert "peer failed: RuntimeError: launch failed |" in text
    assert "| B | failed: ZeroDivisionError: division by zero |" in text


@pytest.mark.skipif(device_status()[0], reason="a GPU is present: the benchmark runs")
def test_without_gpu_the_script_says_so_and_exits_2(capsys):
    assert gpu.main([]) == 2
    assert "no GPU here" in capsys.readouterr().err


def test_the_row_names_the_ops_run_on_the_host():
    X, y, init = gpu.mlp_problem(batch=4, sizes=(6, 5, 3))
    impls = gpu.mlp_impls(X, y, init, backend="numpy")
    label, t, peer_times, notes = gpu.timed_row("mlp", impls, least=1, notes="checked")
    assert isinstance(t, float) and set(peer_times) == {"NumPy (CPU)"}
    assert notes.startswith("checked; ops run on the host: ")
