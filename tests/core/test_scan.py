"""sn.scan on the reference backend: PyTensor's tutorial loops against NumPy loops, gradients
against finite differences and a hand-written BPTT, random draws, until, bad calls."""
import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st


def run(inputs, outputs, *args, **kw):
    return sn.function(inputs, outputs, backend="numpy", **kw)(*args)


def power(A, k):
    res, _ = sn.scan(lambda prior, A: prior * A, outputs_info=st.ones_like(A), non_sequences=A, n_steps=k)
    return res


def polynomial(coef, x):
    comps, _ = sn.scan(lambda c, p, x: c * x ** p, sequences=[coef, st.arange(1000)], non_sequences=x)
    return comps.sum()


def elman(X, h0, W, U, b):
    hs, _ = sn.scan(lambda x, h, W, U, b: st.tanh(st.dot(x, W) + st.dot(h, U) + b),
                    sequences=X, outputs_info=h0, non_sequences=[W, U, b])
    return hs


def numpy_elman(X, h0, W, U, b, gh, truncate=-1):
    """Forward states and BPTT gradients of sum(hs * gh) (truncated to the last steps)."""
    hs, h = [], h0
    for x in X:
        h = np.tanh(x @ W + h @ U + b)
        hs.append(h)
    n = len(X)
    first = 0 if truncate < 0 else max(n - truncate, 0)
    gW, gU, gb, gX = np.zeros_like(W), np.zeros_like(U), np.zeros_like(b), np.zeros_like(X)
    carry = np.zeros_like(h0)
    for t in range(n - 1, first - 1, -1):
        dz = (gh[t] + carry) * (1 - hs[t] ** 2)
        prev = hs[t - 1] if t else h0
        gW += X[t].T @ dz
        gU += prev.T @ dz
        gb += dz.sum(0)
        gX[t] = dz @ W.T
        carry = dz @ U.T
    gh0 = carry if first == 0 else np.zeros_like(h0)
    return np.array(hs), gX, gh0, gW, gU, gb


def test_power_by_repeated_multiplication():
    A, k = st.dvector("A"), st.iscalar("k")
    a = np.array([0.5, 1.5, -2.0, 3.0])
    res = run([A, k], power(A, k), a, 5)
    assert np.allclose(res, np.stack([a ** i for i in range(1, 6)]))
    assert np.allclose(run([A, k], power(A, k)[-1], a, 3), a ** 3)
    sn.verify_grad(lambda A: power(A, 4)[-1], [a])


def test_polynomial_from_coefficients():
    coef, x = st.dvector("coef"), st.dscalar("x")
    c = np.array([1.0, 0.0, 2.0, -1.5])
    assert np.isclose(run([coef, x], polynomial(coef, x), c, 3.0), sum(ci * 3.0 ** i for i, ci in enumerate(c)))
    sn.verify_grad(polynomial, [c, np.array(1.3)])


def test_taps_on_sequences_and_outputs():
    x, y0 = st.dvector("x"), st.dvector("y0")
    # y[t] = x[t-2] + x[t] + 0.5 * y[t-1] - 0.25 * y[t-3]: sums accumulated with taps.
    ys, _ = sn.scan(lambda a, b, y3, y1: a + b + 0.5 * y1 - 0.25 * y3,
                    sequences=dict(input=x, taps=[-2, 0]), outputs_info=dict(initial=y0, taps=[-3, -1]))
    xv, yv = np.arange(1.0, 8.0), np.array([0.1, -0.2, 0.3])
    hist = list(yv)
    for t in range(2, len(xv)):
        hist.append(xv[t - 2] + xv[t] + 0.5 * hist[-1] - 0.25 * hist[-3])
    assert np.allclose(run([x, y0], ys, xv, yv), hist[3:])
    sn.verify_grad(lambda x, y0: sn.scan(lambda a, b, y3, y1: a * b + 0.5 * y1 * y3,
                                         sequences=dict(input=x, taps=[-2, 0]),
                                         outputs_info=dict(initial=y0, taps=[-3, -1]))[0], [xv / 7, yv])


def test_fibonacci_and_mapped_outputs():
    x0, n = st.dvector("x0"), st.iscalar("n")
    (fib, double), _ = sn.scan(lambda a, b: (a + b, 2 * b), outputs_info=[dict(initial=x0, taps=[-2, -1]), None],
                               n_steps=n)
    f, d = run([x0, n], [fib, double], np.array([0.0, 1.0]), 6)
    assert f.tolist() == [1, 2, 3, 5, 8, 13] and d.tolist() == [2, 2, 4, 6, 10, 16]


def test_elman_rnn_forward_and_bptt():
    rng = np.random.default_rng(0)
    X, h0 = rng.normal(size=(6, 3, 4)), rng.normal(size=(3, 5)) * 0.5
    W, U, b = rng.normal(size=(4, 5)) * 0.4, rng.normal(size=(5, 5)) * 0.4, rng.normal(size=5) * 0.1
    gh = rng.normal(size=(6, 3, 5))
    sX, sh0, sW, sU = st.dtensor3("X"), st.dmatrix("h0"), st.dmatrix("W"), st.dmatrix("U")
    sb = st.dvector("b")
    hs = elman(sX, sh0, sW, sU, sb)
    cost = (hs * gh).sum()
    got = run([sX, sh0, sW, sU, sb], [hs] + sn.grad(cost, [sX, sh0, sW, sU, sb]), X, h0, W, U, b)
    for a, e in zip(got, numpy_elman(X, h0, W, U, b, gh)):
        assert np.allclose(a, e)
    sn.verify_grad(lambda X, h0, W, U, b: elman(X, h0, W, U, b), [X[:3], h0, W, U, b])


@pytest.mark.parametrize("k", [2, 10])
def test_truncate_gradient_matches_truncated_bptt(k):
    rng = np.random.default_rng(1)
    X, h0 = rng.normal(size=(5, 2, 3)), rng.normal(size=(2, 4))
    W, U, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 4)) * 0.5, rng.normal(size=4)
    gh = rng.normal(size=(5, 2, 4))
    sX, sh0, sW, sU, sb = st.dtensor3("X"), st.dmatrix("h0"), st.dmatrix("W"), st.dmatrix("U"), st.dvector("b")
    hs, _ = sn.scan(lambda x, h, W, U, b: st.tanh(st.dot(x, W) + st.dot(h, U) + b), sequences=sX,
                    outputs_info=sh0, non_sequences=[sW, sU, sb], truncate_gradient=k)
    got = run([sX, sh0, sW, sU, sb], sn.grad((hs * gh).sum(), [sX, sh0, sW, sU, sb]), X, h0, W, U, b)
    for a, e in zip(got, numpy_elman(X, h0, W, U, b, gh, truncate=k)[1:]):
        assert np.allclose(a, e)


def test_free_variables_and_shared_weights_become_non_sequences():
    w = sn.shared(np.array([0.5, -1.0, 2.0]), name="w")
    x = st.dvector("x")
    ys, _ = sn.scan(lambda xt, h: h * w + xt, sequences=st.stack([x, 2 * x]), outputs_info=st.zeros_like(x))
    xv = np.array([1.0, 2.0, 3.0])
    assert np.allclose(run([x], ys[-1], xv), xv * w.get_value() + 2 * xv)
    gw = run([x], sn.grad(ys[-1].sum(), w), xv)
    assert np.allclose(gw, xv)


@pytest.mark.parametrize("n", [0, 1])
def test_zero_and_one_step(n):
    A, k = st.dvector("A"), st.iscalar("k")
    a = np.array([2.0, 3.0])
    res = run([A, k], power(A, k), a, n)
    assert res.shape == (n, 2) and np.allclose(res, np.reshape([a][:n], (n, 2)))
    g = run([A, k], sn.grad((power(A, k) ** 2).sum(), A), a, n)
    assert np.allclose(g, 2 * a if n else 0)
    if n:
        sn.verify_grad(lambda A: power(A, 1), [a])


def test_until_stops_early():
    x0 = st.dscalar("x0")
    r, _ = sn.scan(lambda x: (2 * x, sn.until(2 * x > 100)), outputs_info=x0, n_steps=50)
    assert run([x0], r, 1.0).tolist() == [2, 4, 8, 16, 32, 64, 128]
    assert run([x0], r, 200.0).tolist() == [400]
    from symnb import scan_module
    r2, _ = sn.scan(lambda x: [x + 1, scan_module.until(x >= 3)], outputs_info=x0, n_steps=10)
    assert run([x0], r2, 0.0).tolist() == [1, 2, 3, 4]
    sn.verify_grad(lambda x0: sn.scan(lambda x: (x * 1.5, sn.until(x > 4)), outputs_info=x0, n_steps=9)[0],
                   [np.array(1.0)])


def gibbs_chain(rng, p0, W, k):
    def step(v, W):
        h = rng.binomial(n=1, p=st.sigmoid(st.dot(v, W)), size=(v.shape[0], W.shape[1])).astype("float64")
        return rng.binomial(n=1, p=st.sigmoid(st.dot(h, W.T)), size=v.shape).astype("float64")
    return sn.scan(step, outputs_info=p0, non_sequences=W, n_steps=k)


def test_random_draws_advance_per_step_and_across_calls():
    v0, W = st.dmatrix("v0"), st.dmatrix("W")
    wv = np.random.default_rng(3).normal(size=(6, 4))
    chains, updates = gibbs_chain(sn.RandomStream(seed=7), v0, W, 4)
    assert len(updates) == 2
    f = sn.function([v0, W], chains, updates=updates, backend="numpy")
    first, second = f(np.zeros((3, 6)), wv), f(np.zeros((3, 6)), wv)
    assert not np.array_equal(first, second)                      # the stream went on
    assert not all(np.array_equal(first[0], first[t]) for t in range(1, 4))   # fresh draws each step
    again, _ = gibbs_chain(sn.RandomStream(seed=7), v0, W, 4)
    g = sn.function([v0, W], again, updates=_, backend="numpy")
    assert np.array_equal(g(np.zeros((3, 6)), wv), first) and np.array_equal(g(np.zeros((3, 6)), wv), second)
    # The k-step chain equals k single steps: the state after the loop is where it stopped.
    rng = sn.RandomStream(seed=7)
    one, upd = gibbs_chain(rng, v0, W, 1)
    step = sn.function([v0, W], one[-1], updates=upd, backend="numpy")
    v = np.zeros((3, 6))
    for t in range(4):
        v = step(v, wv)
        assert np.array_equal(v, first[t])


def test_jacobian_and_hessian_through_scan():
    A = st.dvector("A")
    a = np.array([0.5, -1.2, 2.0])
    J = run([A], sn.jacobian(power(A, 3)[-1], A), a)
    assert np.allclose(J, np.diag(3 * a ** 2))
    H = run([A], sn.hessian(power(A, 3)[-1].sum(), A), a)
    assert np.allclose(H, np.diag(6 * a))


def test_go_backwards_and_return_list():
    x = st.dvector("x")
    (acc,), _ = sn.scan(lambda xt, s: s + xt, sequences=x, outputs_info=st.constant(0.0), go_backwards=True,
                        return_list=True)
    assert run([x], acc, np.array([1.0, 2.0, 4.0])).tolist() == [4, 6, 7]


def test_bad_calls_name_the_output_and_types():
    x, n = st.dvector("x"), st.iscalar("n")
    ys, _ = sn.scan(lambda a, s: s + a, sequences=x, outputs_info=st.constant(0.0), n_steps=n)
    with pytest.raises(ValueError, match=r"n_steps is 5, but sequences\[0\] \('x', tap 0\) gives only 3"):
        run([x, n], ys, np.ones(3), 5)
    with pytest.raises(ValueError, match="returned 2 output.*outputs_info describes 1"):
        sn.scan(lambda s: (s, s), outputs_info=x, n_steps=2)
    with pytest.raises(TypeError, match=r"output 0 of the body is a str"):
        sn.scan(lambda s: "oops", outputs_info=x, n_steps=2)
    f32 = st.fvector("h0")
    with pytest.raises(TypeError, match=r"output 0 of the body has type float64\[\?\], but its initial state "
                                        r"outputs_info\[0\] 'h0' \(float32\[\?\]\) gives steps of type float32"):
        sn.scan(lambda h: h * np.float64(2), outputs_info=f32, n_steps=2)
    with pytest.raises(TypeError, match=r"output 0 of the body has type float64\[\?, \?\]"):
        sn.scan(lambda h: st.outer(h, h), outputs_info=x, n_steps=2)
    with pytest.raises(ValueError, match="give n_steps"):
        sn.scan(lambda s: s, outputs_info=x)
    grow, _ = sn.scan(lambda h: st.concatenate([h, h]), outputs_info=dict(initial=x), n_steps=2)
    with pytest.raises(ValueError, match=r"output 0 \('x'\) of the body has shape \(4,\) at step 0, but its initial "
                                         r"state has shape \(2,\)"):
        run([x], grow, np.ones(2))


def test_rewrites_hoist_invariants_and_rewrite_the_body():
    A, W, k = st.dvector("A"), st.dmatrix("W"), st.iscalar("k")
    res, _ = sn.scan(lambda prior, A, W: prior * st.exp(A) + st.dot(W, W).sum(), outputs_info=st.ones_like(A),
                     non_sequences=[A, W], n_steps=k)
    r = sn.rewrite(res)
    rules = [(s.pass_name, s.rule) for s in r.history]
    assert ("scan", "scan_hoist_invariants") in rules and ("scan/fuse", "fuse_elemwise") in rules
    (scan_node,) = [n for n in sn.nodes(r.outputs) if n.op.name == "scan"]
    assert {n.op.name for n in sn.nodes(list(scan_node.op.inner_outputs))} == {"fused{mul,add}"}
    a, w = np.array([0.1, -0.3]), np.array([[1.0, 2.0], [0.5, -1.0]])
    want = [np.ones(2)]
    for _ in range(4):
        want.append(want[-1] * np.exp(a) + (w @ w).sum())
    assert np.allclose(run([A, W, k], res, a, w, 4), want[1:])


def test_last_state_only_keeps_memory_independent_of_steps():
    import tracemalloc
    x0, k = st.dvector("x0"), st.iscalar("k")
    res, _ = sn.scan(lambda x: x * 0.5 + 1, outputs_info=x0, n_steps=k)
    f = sn.function([x0, k], res[-1], backend="numpy")
    assert "scan_keep_last_states" in [s.rule for s in f.rewritten.history]
    peaks = []
    for n in (30, 600):        # 600 rows of the history would be 48 MB
        tracemalloc.start()
        out = f(np.zeros(10_000), n)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert np.allclose(out, 2 - 2 * 0.5 ** n)
    assert peaks[1] < 2 * peaks[0] + 1e6 and peaks[1] < 4e6


def test_display_shows_the_loop_as_one_node_with_its_body():
    X, h0, W = st.dtensor3("X"), st.dmatrix("h0"), st.dmatrix("W")
    hs, _ = sn.scan(lambda x, h, W: st.tanh(x + st.dot(h, W)), sequences=X, outputs_info=h0, non_sequences=W,
                    name="rnn")
    text = sn.pp(hs[-1])
    assert text.count("scan{rnn}(") == 1
    assert "where scan{rnn} steps (X[t], h0[t-1], W) -> tanh(X[t] + dot(h0[t-1], W))" in text
    tree = sn.dprint(hs[-1], file="str")
    assert "Inner graphs:" in tree and "scan{rnn} [id C] (1 sequence rows, states with taps [[-1]]" in tree
    assert "h0[t-1] [id" in tree
    tex = sn.latex(hs[-1])
    assert r"\text{where scan\{rnn\} steps } \left(\mathrm{X[t]}, \mathrm{h0[t-1]}, W\right) \mapsto \tanh" in tex


def test_backward_loop_reads_forward_states_and_drops_unread_outputs():
    X, h0, W = st.dtensor3("X"), st.dmatrix("h0"), st.dmatrix("W")
    hs, _ = sn.scan(lambda x, h, W: st.tanh(x + st.dot(h, W)), sequences=X, outputs_info=h0, non_sequences=W)
    cost = hs.sum()
    f = sn.function([X, h0, W], sn.grad(cost, W), backend="numpy")
    assert "scan_prune_outputs" in [s.rule for s in f.rewritten.history]
    (back,) = [n for n in sn.nodes(f) if n.op.name == "grad_of_scan"]
    assert back.op.n_mapped == 0                          # no gradient for X: not computed
    assert "tanh" not in str([n.op.name for n in sn.nodes(list(back.op.inner_outputs))])   # not recomputed
    rng = np.random.default_rng(5)
    x, h, w = rng.normal(size=(4, 2, 3)), rng.normal(size=(2, 3)), rng.normal(size=(3, 3)) * 0.5
    assert np.allclose(f(x, h, w), numpy_elman(x, h, np.eye(3), w, np.zeros(3), np.ones((4, 2, 3)))[4])


def test_products_of_sequence_rows_move_out_of_the_loop():
    X, h0, W, U, b = st.dtensor3("X"), st.dmatrix("h0"), st.dmatrix("W"), st.dmatrix("U"), st.dvector("b")
    f = sn.function([X, h0, W, U, b], elman(X, h0, W, U, b), backend="numpy")
    assert "scan_push_out_sequence_dots" in [s.rule for s in f.rewritten.history]
    (loop,) = [n for n in sn.nodes(f) if n.op.name == "scan"]
    assert [n.op.name for n in sn.nodes(list(loop.op.inner_outputs))].count("gemm") == 1   # h @ U only
    rng = np.random.default_rng(2)
    args = rng.normal(size=(5, 2, 3)), rng.normal(size=(2, 4)), rng.normal(size=(3, 4)), rng.normal(size=(4, 4)) * 0.5
    want = numpy_elman(*args, np.full(4, 0.1), np.zeros((5, 2, 4)))[0]
    assert np.allclose(f(*args, np.full(4, 0.1)), want)


def test_theano_rbm_tutorial_gibbs_chain_with_mapped_outputs():
    rng = sn.RandomStream(seed=1)
    W = sn.shared(np.random.default_rng(0).normal(0, 0.5, (6, 4)), name="W")
    hb, vb = sn.shared(np.zeros(4), name="hbias"), sn.shared(np.zeros(6), name="vbias")
    persistent = sn.shared(np.zeros((3, 4)), name="persistent")

    def gibbs_hvh(h0):
        v_mean = st.sigmoid(st.dot(h0, W.T) + vb)
        v = rng.binomial(size=v_mean.shape, n=1, p=v_mean, dtype="float64")
        h_mean = st.sigmoid(st.dot(v, W) + hb)
        return v_mean, v, h_mean, rng.binomial(size=h_mean.shape, n=1, p=h_mean, dtype="float64")

    def free_energy(v):
        return -st.dot(v, vb) - st.log1p(st.exp(st.dot(v, W) + hb)).sum(axis=1)

    (v_means, vs, h_means, hs), updates = sn.scan(gibbs_hvh, outputs_info=[None, None, None, persistent],
                                                  n_steps=3, name="gibbs_hvh")
    chain_end = vs[-1]
    updates[persistent] = hs[-1]
    x = st.dmatrix("x")
    cost = free_energy(x).mean() - free_energy(chain_end).mean()
    gW = sn.grad(cost, W, consider_constant=[chain_end])
    f = sn.function([x], [cost, gW], updates=updates, backend="numpy")
    data = (np.random.default_rng(1).random((3, 6)) < 0.5).astype(float)
    (c1, g1), (c2, _) = f(data), f(data)
    assert np.isfinite(c1) and g1.shape == (6, 4) and c1 != c2     # the chain moved on
    assert set(np.unique(persistent.get_value())) <= {0.0, 1.0}
