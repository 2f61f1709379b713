"""Smoke test of the benchmark harness: every workload once at a tiny size, each symnb
backend (and each installed peer) checked against the NumPy implementation. Correctness
only: speed is measured by `make bench`, never asserted here."""
import numpy as np
import pytest

from benchmarks import convnet, elementwise, harness, machine, peers, rbm, report, targets, training


def tiny_rows(peer_names=()):
    # saturate=True makes the RBM's draws deterministic, so its rows are compared too
    return (elementwise.rows_a([7, 100], ("float64", "float32"), peer_names)
            + elementwise.rows_b(50, ("float64", "float32"), peer_names)
            + training.rows_c(n=5, n_in=12, n_classes=3, peer_names=peer_names)
            + training.rows_d(n=5, sizes=(12, 8, 3), peer_names=peer_names)
            + rbm.rows_e(n_vis=12, n_hid=8, batch=4, chains=3, steps=3, saturate=True, peer_names=peer_names)
            + elementwise.rows_overhead(peer_names))


def check(rows, expected_impls):
    for row in rows:
        assert not row.random
        cells = harness.run_row(row, budget=0.0, check_only=True)
        assert set(cells) == {"numpy"} | set(expected_impls), row.label
        for name, cell in cells.items():
            assert not cell.note, f"{row.label}, {name}: {cell.note}\n{cell.trace}"


def test_symnb_backends_match_numpy_on_every_workload():
    backends = peers.symnb_backends()
    assert "numpy" in backends
    rows = tiny_rows()
    assert {r.workload for r in rows} == {"A", "B", "C", "D", "E", "overhead"}
    check(rows, [f"symnb:{b}" for b in backends])


@pytest.mark.parametrize("peer", peers.PEERS)
def test_installed_peer_matches_numpy(peer):
    pytest.importorskip(peer)
    rows = [r for r in tiny_rows((peer,)) if peer in r.builders]
    assert rows
    for row in rows:
        row.builders = {k: v for k, v in row.builders.items() if k in ("numpy", peer)}
    check(rows, [peer])


def test_lenet_row_matches_numpy():
    """Workload F at batch 2: symnb's backends and the installed peers against the NumPy step."""
    rows = convnet.rows_f(n=2, dtypes=("float64",), peer_names=peers.available(("jax", "torch")))
    check(rows, [f"symnb:{b}" for b in peers.symnb_backends()] + peers.available(("jax", "torch")))


def test_a_wrong_result_is_reported_not_timed():
    values = np.arange(4.0)
    row = harness.Row("A", "wrong", {"numpy": lambda: harness.Impl(lambda: values + 1),
                                     "symnb:numpy": lambda: harness.Impl(lambda: values + 1.001)})
    cells = harness.run_row(row, budget=0.01)
    assert cells["numpy"].seconds is not None
    assert cells["symnb:numpy"].seconds is None and cells["symnb:numpy"].note.startswith("wrong result")


def test_a_failing_implementation_is_reported():
    def broken():
        raise RuntimeError("no compiler")
    row = harness.Row("A", "broken", {"numpy": lambda: harness.Impl(lambda: 1.0), "symnb:cpp": broken})
    cells = harness.run_row(row, budget=0.01)
    assert cells["symnb:cpp"].note == "failed: RuntimeError: no compiler"


def test_report_and_targets_render_from_records():
    records = {}
    for row in elementwise.rows_a([1000], ("float64",), ()) + elementwise.rows_overhead(()):
        records.setdefault(row.workload, []).append((row, harness.run_row(row, budget=0.002)))
    bounds = {"bandwidth_gbs": 10.0, "gemm_gflops": {"float64": 50.0, "float32": 100.0}}
    checked = targets.evaluate(records, {}, None, "numpy", [])
    text = report.render(["# results"], records, bounds, {}, None, checked)
    assert "| `a+1` float64 n=1e3 |" in text and "## Targets" in text
    by_name = {name: (measured, verdict) for name, measured, verdict in checked}
    assert by_name["A float64 n=1e3: >= 3x (min over the 3 expressions besides a+1)"][1] in ("pass", "FAIL")
    assert by_name["D MLP step: >= 1.4x"] == (targets.NOT_MEASURED, "-")


def test_mlp_training_graph_has_cost_four_gradients_four_updates():
    inputs, outputs, updates = training.mlp_training_outputs()
    assert len(inputs) == 2 and len(outputs) == 5 and len(updates) == 4


def test_gemm_rate_is_measured():
    assert machine.gemm_gflops("float64", n=64, repeats=1) > 0
