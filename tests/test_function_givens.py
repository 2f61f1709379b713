"""givens reach every graph a function runs, the random streams' state updates included:
a draw sized by a replaced input (the denoising autoencoder's corruption) works."""
import numpy as np

import symnb as sn
import symnb.tensor as st


def test_draw_sized_by_a_given_input(backend):
    data = sn.shared(np.arange(1.0, 61.0).reshape(12, 5), name="data")
    x, i = st.dmatrix("x"), st.lscalar("i")
    draws = sn.RandomStream(42)
    mask = draws.binomial(size=x.shape, n=1, p=0.6, dtype="float64")
    f = sn.function([i], [mask * x, mask], givens={x: data[i * 4:(i + 1) * 4]}, backend=backend)
    kept, m = f(1)
    assert m.shape == (4, 5) and set(np.unique(m)) <= {0.0, 1.0}
    np.testing.assert_array_equal(kept, m * np.arange(21.0, 41.0).reshape(4, 5))
    again = f(1)[1]
    assert not np.array_equal(m, again)                  # the state advanced past the first draw
    # The same stream read without givens, over the same 4x5 values, draws the same bits.
    ref = sn.RandomStream(42)
    y = st.dmatrix("y")
    g = sn.function([y], ref.binomial(size=y.shape, n=1, p=0.6, dtype="float64"), backend="numpy")
    np.testing.assert_array_equal(g(np.zeros((4, 5))), m)
    np.testing.assert_array_equal(g(np.zeros((4, 5))), again)
