"""Smoke test of workload G (benchmarks/scan.py): every implementation of each loop row,
at a tiny size, agrees with NumPy (saturated RBM weights make the draws deterministic)."""
from benchmarks import harness, peers, scan


def test_loop_rows_match_numpy():
    rows = scan.rows_g(steps=5, batch=3, n_in=4, hidden=6, gibbs_steps=3, n_vis=12, n_hid=8, chains=3, saturate=True,
                       peer_names=peers.PEERS)
    assert len(rows) == 3
    for row in rows:
        assert not row.random
        cells = harness.run_row(row, budget=0.0, check_only=True)
        if "cpp" in peers.symnb_backends():
            assert "symnb:cpp" in cells
        for name, cell in cells.items():
            assert not cell.note, f"{row.label}, {name}: {cell.note}\n{cell.trace}"
