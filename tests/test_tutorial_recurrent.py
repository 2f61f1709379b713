"""The Theano tutorials' models that loop with scan (rbm, DBN, hmc, lstm, rnnslu, rnnrbm),
written in those programs' idioms: Gibbs chains whose random draws advance through scan's
updates, a persistent chain in a shared variable, gradients with `consider_constant`,
leapfrog steps with adaptive step sizes in shared variables, masked recurrences, a softmax
per step, nested loops with `n_steps`. Each learns (or samples) on both backends, alike."""
import copy
from collections import OrderedDict

import numpy as np

import symnb as sn
import symnb.tensor as st
from symnb.kernels.base import BACKENDS
from symnb.tensor import xlogx
from tests.test_tutorial_models import N_CLASSES, N_IN, Dense, SoftmaxClassifier, digits, epochs, minibatch, sgd, \
    shared_dataset


class RBM:
    """Binary RBM: free energy, block Gibbs sampling, CD-k / PCD-k updates."""

    def __init__(self, draws, inp, n_visible, n_hidden, rng, W=None, hbias=None):
        bound = 4 * np.sqrt(6.0 / (n_visible + n_hidden))
        self.W = W if W is not None else sn.shared(rng.uniform(-bound, bound, (n_visible, n_hidden)), name="W")
        self.hbias = hbias if hbias is not None else sn.shared(np.zeros(n_hidden), name="hbias")
        self.vbias = sn.shared(np.zeros(n_visible), name="vbias")
        self.draws, self.x, self.n_visible = draws, inp, n_visible
        self.params = [self.W, self.hbias, self.vbias]

    def free_energy(self, v):
        return -st.dot(v, self.vbias) - st.sum(st.log(1 + st.exp(st.dot(v, self.W) + self.hbias)), axis=1)

    def _sample(self, pre):
        mean = st.sigmoid(pre)
        return pre, mean, self.draws.binomial(size=mean.shape, n=1, p=mean, dtype="floatX")

    def sample_h(self, v):
        return self._sample(st.dot(v, self.W) + self.hbias)

    def sample_v(self, h):
        return self._sample(st.dot(h, self.W.T) + self.vbias)

    def gibbs_hvh(self, h):
        visible = self.sample_v(h)
        return list(visible) + list(self.sample_h(visible[2]))

    def cost_updates(self, rate, persistent=None, k=1):
        """(monitoring cost, updates): the chain starts at the data's hidden sample (CD) or
        at the persistent chain (PCD); the gradient treats the chain's end as a constant."""
        start = self.sample_h(self.x)[2] if persistent is None else persistent
        (pre_v, _, v, _, _, h), updates = sn.scan(self.gibbs_hvh, outputs_info=[None] * 5 + [start], n_steps=k)
        end = v[-1]
        cost = st.mean(self.free_energy(self.x)) - st.mean(self.free_energy(end))
        grads = sn.grad(cost, self.params, consider_constant=[end])
        updates = OrderedDict(updates)
        for p, g in zip(self.params, grads):
            updates[p] = p - g * st.cast(rate, "floatX")
        if persistent is None:
            return self.cross_entropy(st.sigmoid(pre_v[-1])), updates
        updates[persistent] = h[-1]
        return self.pseudo_likelihood(updates), updates

    def cross_entropy(self, recon):
        return st.mean(st.sum(self.x * st.log(recon) + (1 - self.x) * st.log(1 - recon), axis=1))

    def pseudo_likelihood(self, updates):
        """Stochastic pseudo-likelihood: flip one bit (a different one per call) of every input."""
        bit = sn.shared(0, name="bit_i_idx")
        xi = st.round(self.x)
        flipped = st.set_subtensor(xi[:, bit], 1 - xi[:, bit])
        cost = st.mean(self.n_visible * st.log(st.sigmoid(self.free_energy(flipped) - self.free_energy(xi))))
        updates[bit] = (bit + 1) % self.n_visible
        return cost


def recon_error(rbm, x, data):
    """Deterministic mean-field reconstruction cross-entropy of all the data (lower is better)."""
    recon = st.sigmoid(st.dot(st.sigmoid(st.dot(rbm.x, rbm.W) + rbm.hbias), rbm.W.T) + rbm.vbias)
    return sn.function([], -rbm.cross_entropy(recon), givens={x: data}, backend="numpy")


def rbm(backend):
    images, _ = digits()
    train_x = sn.shared(images, borrow=True)
    index, x = st.lscalar("index"), st.matrix("x")
    model = RBM(sn.RandomStream(1234), x, N_IN, 16, np.random.default_rng(123))
    chain = sn.shared(np.zeros((10, 16)), borrow=True)
    cost, updates = model.cost_updates(0.1, persistent=chain, k=2)
    train = sn.function([index], cost, updates=updates, givens={x: minibatch(train_x, index)}, backend=backend)
    error = recon_error(model, x, train_x)
    before = float(error())
    monitored = epochs(train, 12, 4)
    return [before, float(error())] + monitored


def dbn(backend):
    """Sigmoid layers pretrained bottom-up as RBMs sharing their weights, then fine-tuned."""
    images, labels = digits()
    train_x, train_y = shared_dataset(images, labels)
    index, x, y, rate = st.lscalar("index"), st.matrix("x"), st.ivector("y"), st.scalar("lr")
    rng, draws = np.random.default_rng(123), sn.RandomStream(2 ** 30)
    layers, inp, n_in, runs = [], x, N_IN, []
    for n_out in (32, 16):
        layer = Dense(rng, inp, n_in, n_out, activation=st.sigmoid)
        model = RBM(draws, inp, n_in, n_out, rng, W=layer.W, hbias=layer.b)
        cost, updates = model.cost_updates(rate)
        train = sn.function([index, rate], cost, updates=updates, givens={x: minibatch(train_x, index)},
                            backend=backend)
        error = recon_error(model, x, train_x)
        before = float(error())
        epochs(train, 12, 3, 0.1)
        runs += [before, float(error())]
        layers.append(layer)
        inp, n_in = layer.output, n_out
    top = SoftmaxClassifier(inp, n_in, N_CLASSES)
    cost = top.nll(y)
    params = [p for layer in layers for p in layer.params] + top.params
    finetune = sn.function([index], cost, updates=sgd(cost, params, 0.1),
                           givens={x: minibatch(train_x, index), y: minibatch(train_y, index)}, backend=backend)
    return runs + epochs(finetune, 12, 3)


def run_both(model, *args):
    """The model's figures on each available backend, finite, the C++ ones equal to NumPy's."""
    out = {}
    for backend in ("numpy", "cpp"):
        if BACKENDS[backend].available()[0]:
            out[backend] = np.array(model(backend, *args))
            assert np.all(np.isfinite(out[backend])), backend
    if "cpp" in out:
        np.testing.assert_allclose(out["cpp"], out["numpy"], rtol=1e-9, atol=1e-12)
    return out["numpy"]


def test_rbm_learns_with_a_persistent_chain():
    """PCD-2 (the tutorial's default kind of chain; DBN below uses CD-1), reporting the
    stochastic pseudo-likelihood; the mean-field reconstruction error drops."""
    before, after, *_ = run_both(rbm)
    assert after < 0.9 * before


def test_dbn_pretrains_layer_by_layer_then_finetunes():
    figures = run_both(dbn)
    assert figures[1] < figures[0] and figures[3] < figures[2]
    assert figures[-1] < figures[4]


def kinetic(vel):
    return 0.5 * (vel ** 2).sum(axis=1)


def leapfrog(pos, vel, step, energy, n_steps):
    """Half a momentum step, n_steps - 1 full steps in a scan, half a step: (position, velocity)."""
    def full_step(p, v, step):
        new_v = v - step * sn.grad(energy(p).sum(), p)
        return [p + step * new_v, new_v]

    vel = vel - 0.5 * step * sn.grad(energy(pos).sum(), pos)
    (all_pos, all_vel), updates = sn.scan(full_step, outputs_info=[pos + step * vel, vel], non_sequences=[step],
                                          n_steps=n_steps - 1)
    end = all_pos[-1]
    return end, all_vel[-1] - 0.5 * step * sn.grad(energy(end).sum(), end), updates


class HMCSampler:
    """Hamiltonian Monte Carlo over a batch of chains kept in a shared variable, with the
    step size adapted towards a target acceptance rate (both in shared variables)."""

    def __init__(self, draws, init, energy, step=0.01, n_steps=20, target=0.9):
        self.positions = sn.shared(init, name="positions")
        self.step = sn.shared(np.asarray(step), name="stepsize")
        self.rate = sn.shared(np.asarray(target), name="avg_acceptance_rate")
        pos = self.positions
        vel0 = draws.normal(size=pos.shape)
        end, vel, updates = leapfrog(pos, vel0, self.step, energy, n_steps)
        before, after = energy(pos) + kinetic(vel0), energy(end) + kinetic(vel)
        accept = (st.exp(before - after) - draws.uniform(size=before.shape)) >= 0
        new_rate = 0.9 * self.rate + 0.1 * st.mean(st.cast(accept, "floatX"))
        new_step = st.clip(st.switch(self.rate > target, self.step * 1.02, self.step * 0.98), 1e-3, 0.25)
        updates = OrderedDict(updates)
        updates.update([(pos, st.switch(accept.dimshuffle(0, "x"), end, pos)), (self.step, new_step),
                        (self.rate, new_rate)])
        self.simulate = updates

    def draw(self, backend, n_burnin, n_samples):
        move = sn.function([], [], updates=self.simulate, backend=backend)
        for _ in range(n_burnin):
            move()
        samples = []
        for _ in range(n_samples):
            move()
            samples.append(self.positions.get_value())
        return np.asarray(samples), float(self.rate.get_value()), float(self.step.get_value())


def gaussian_target(dim=3, seed=5):
    rng = np.random.default_rng(seed)
    mu = rng.uniform(-1, 1, dim)
    basis = np.linalg.qr(rng.standard_normal((dim, dim)))[0]
    cov = basis @ np.diag(rng.uniform(0.3, 1.0, dim)) @ basis.T
    return mu, cov


def hmc(backend):
    mu, cov = gaussian_target()
    prec = sn.shared(np.linalg.inv(cov), name="precision")
    centre = sn.shared(mu, name="mu")

    def energy(x):
        d = x - centre
        return 0.5 * (st.dot(d, prec) * d).sum(axis=1)

    sampler = HMCSampler(sn.RandomStream(123), np.random.default_rng(7).standard_normal((20, 3)), energy)
    samples, rate, step = sampler.draw(backend, 40, 100)
    return np.concatenate([samples.ravel(), [rate, step]])


def test_hmc_samples_a_gaussian_with_leapfrog_in_scan():
    figures = run_both(hmc)
    samples, (rate, step) = figures[:-2].reshape(-1, 3), figures[-2:]
    mu, cov = gaussian_target()
    assert 0.6 < rate <= 1 and step > 0.01       # above the target rate, the step grew
    assert np.abs(samples.mean(axis=0) - mu).max() < 0.15
    assert np.abs(np.cov(samples.T) - cov).max() < 0.2


def token_sequences(n=24, vocab=10, seed=3):
    """Sequences of 3 to 8 tokens; the label says whether small tokens outnumber large ones."""
    rng = np.random.default_rng(seed)
    seqs = [rng.integers(1, vocab, size=rng.integers(3, 9)) for _ in range(n)]
    return seqs, [int((s < vocab // 2).sum() > (s >= vocab // 2).sum()) for s in seqs]


def pad(seqs):
    """Time-major (steps, samples) token matrix and its mask, as the LSTM tutorial prepares them."""
    x = np.zeros((max(map(len, seqs)), len(seqs)), dtype="int64")
    mask = np.zeros(x.shape)
    for j, s in enumerate(seqs):
        x[:len(s), j], mask[:len(s), j] = s, 1.0
    return x, mask


def lstm(backend, dim=8, vocab=10):
    """An LSTM over masked, padded minibatches, mean-pooled over time into a softmax; SGD in the
    tutorial's two functions (gradients into shared buffers, then the step), dropout switched
    by a shared flag."""
    rng = np.random.default_rng(11)
    Wemb = sn.shared(0.1 * rng.standard_normal((vocab, dim)), name="Wemb")
    W = sn.shared(np.concatenate([np.linalg.qr(rng.standard_normal((dim, dim)))[0] for _ in range(4)], 1), name="W")
    U = sn.shared(np.concatenate([np.linalg.qr(rng.standard_normal((dim, dim)))[0] for _ in range(4)], 1), name="U")
    b = sn.shared(np.zeros(4 * dim), name="b")
    U_out, b_out = sn.shared(0.1 * rng.standard_normal((dim, 2)), name="U_out"), sn.shared(np.zeros(2), name="b_out")
    params = [Wemb, W, U, b, U_out, b_out]
    x, mask, y = st.matrix("x", dtype="int64"), st.matrix("mask", dtype="floatX"), st.vector("y", dtype="int64")
    n_steps, n_samples = x.shape[0], x.shape[1]

    def gate(z, k):
        return z[:, k * dim:(k + 1) * dim]

    def step(m, x_t, h_prev, c_prev):
        z = st.dot(h_prev, U) + x_t
        c = st.sigmoid(gate(z, 1)) * c_prev + st.sigmoid(gate(z, 0)) * st.tanh(gate(z, 3))
        c = m[:, None] * c + (1.0 - m)[:, None] * c_prev      # padding keeps the last state
        h = st.sigmoid(gate(z, 2)) * st.tanh(c)
        return m[:, None] * h + (1.0 - m)[:, None] * h_prev, c

    emb = Wemb[x.flatten()].reshape([n_steps, n_samples, dim])
    zero = st.alloc(st.cast(0.0, "floatX"), n_samples, dim)
    (h, _), _ = sn.scan(step, sequences=[mask, st.dot(emb, W) + b], outputs_info=[zero, zero], n_steps=n_steps)
    pooled = (h * mask[:, :, None]).sum(axis=0) / mask.sum(axis=0)[:, None]
    use_noise = sn.shared(np.asarray(0.0), name="use_noise")
    draws = sn.RandomStream(415)
    kept = st.switch(use_noise, pooled * draws.binomial(size=pooled.shape, p=0.5, n=1, dtype=pooled.dtype),
                     pooled * 0.5)
    pred = st.nnet.softmax(st.dot(kept, U_out) + b_out)
    cost = -st.log(pred[st.arange(n_samples), y] + 1e-8).mean()

    lr = st.scalar("lr")
    buffers = [sn.shared(p.get_value() * 0.0) for p in params]
    f_grad = sn.function([x, mask, y], cost, updates=list(zip(buffers, sn.grad(cost, params))), backend=backend)
    f_update = sn.function([lr], [], updates=[(p, p - lr * g) for p, g in zip(params, buffers)], backend=backend)
    seqs, labels = token_sequences()
    batches = [(*pad(seqs[i:i + 6]), np.array(labels[i:i + 6])) for i in range(0, len(seqs), 6)]
    before = float(np.mean([f_grad(*bt) for bt in batches]))
    use_noise.set_value(np.asarray(1.0))
    for _ in range(8):
        for bt in batches:
            f_grad(*bt)
            f_update(0.5)
    use_noise.set_value(np.asarray(0.0))
    return [before, float(np.mean([f_grad(*bt) for bt in batches]))]


def test_lstm_learns_over_masked_sequences():
    before, after = run_both(lstm)
    assert after < before


def context_windows(sentence, size):
    """Each word's window of `size` word indices centred on it, padded with index -1."""
    padded = [-1] * (size // 2) + list(sentence) + [-1] * (size // 2)
    return np.array([padded[i:i + size] for i in range(len(sentence))], dtype="int32")


def slot_sentences(n=12, vocab=8, n_classes=3, seed=9):
    """Sentences of 4 to 7 words; a word's tag depends on it and on the word before it."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        s = rng.integers(0, vocab, size=rng.integers(4, 8))
        out.append((s, ((s + np.concatenate([[0], s[:-1]])) % n_classes).astype("int32")))
    return out


def rnnslu(backend, vocab=8, n_classes=3, dim=6, window=3, n_hidden=10):
    """An Elman network tagging every word: scan over the sentence's windowed embeddings
    returns the hidden state and a softmax per step; embeddings are renormalised after
    each update."""
    rng = np.random.default_rng(17)

    def init(*shape):
        return sn.shared(0.2 * rng.uniform(-1.0, 1.0, shape))
    emb, wx, wh, w = init(vocab + 1, dim), init(dim * window, n_hidden), init(n_hidden, n_hidden), init(n_hidden,
                                                                                                        n_classes)
    bh, b, h0 = sn.shared(np.zeros(n_hidden)), sn.shared(np.zeros(n_classes)), sn.shared(np.zeros(n_hidden))
    params = [emb, wx, wh, w, bh, b, h0]
    idxs, y, lr = st.imatrix("idxs"), st.ivector("y_sentence"), st.scalar("lr")
    x = emb[idxs].reshape((idxs.shape[0], dim * window))

    def recurrence(x_t, h_prev):
        h_t = st.sigmoid(st.dot(x_t, wx) + st.dot(h_prev, wh) + bh)
        return [h_t, st.nnet.softmax(st.dot(h_t, w) + b)]

    (_, s), _ = sn.scan(recurrence, sequences=x, outputs_info=[h0, None], n_steps=x.shape[0])
    nll = -st.mean(st.log(s)[st.arange(x.shape[0]), y])
    train = sn.function([idxs, y, lr], nll, updates=[(p, p - lr * g) for p, g in zip(params, sn.grad(nll, params))],
                        backend=backend)
    normalize = sn.function([], [], updates={emb: emb / st.sqrt((emb ** 2).sum(axis=1)).dimshuffle(0, "x")},
                            backend=backend)
    data = [(context_windows(s, window), t) for s, t in slot_sentences(vocab=vocab, n_classes=n_classes)]
    costs = []
    for _ in range(6):
        epoch = []
        for w_, t in data:
            epoch.append(float(train(w_, t, 0.5)))
            normalize()
        costs.append(np.mean(epoch))
        if len(costs) == 1:             # the best model so far, kept as the tutorial keeps it
            kept = copy.deepcopy(params)
            snapshot = [p.get_value().copy() for p in params]
    for p, k, v in zip(params, kept, snapshot):     # the copy did not follow the training
        assert np.array_equal(k.get_value(), v) and not np.array_equal(p.get_value(), v)
    return costs


def test_rnnslu_elman_tags_words_with_a_softmax_per_step():
    costs = run_both(rnnslu)
    assert costs[-1] < costs[0]


def rbm_chain(v, W, bv, bh, k, draws):
    """k Gibbs steps from v in a scan: (sample, free-energy cost, log-likelihood monitor, updates).
    bv and bh may be vectors, or one row per time step."""
    def gibbs_step(v):
        mean_h = st.sigmoid(st.dot(v, W) + bh)
        h = draws.binomial(size=mean_h.shape, n=1, p=mean_h, dtype="floatX")
        mean_v = st.sigmoid(st.dot(h, W.T) + bv)
        return mean_v, draws.binomial(size=mean_v.shape, n=1, p=mean_v, dtype="floatX")

    def free_energy(v):
        return -(v * bv).sum() - st.log(1 + st.exp(st.dot(v, W) + bh)).sum()

    chain, updates = sn.scan(lambda v: gibbs_step(v)[1], outputs_info=[v], n_steps=k)
    sample = chain[-1]
    mean_v = gibbs_step(sample)[0]
    monitor = (xlogx.xlogy0(v, mean_v) + xlogx.xlogy0(1 - v, 1 - mean_v)).sum() / v.shape[0]
    return sample, (free_energy(v) - free_energy(sample)) / v.shape[0], monitor, updates


def moving_bars(n=6, length=10, n_visible=8, seed=21):
    """Piano-roll-like sequences: two adjacent notes moving up one step at a time."""
    rng = np.random.default_rng(seed)
    rolls = []
    for start in rng.integers(0, n_visible, size=n):
        roll = np.zeros((length, n_visible))
        for t in range(length):
            roll[t, (start + t) % n_visible] = roll[t, (start + t + 1) % n_visible] = 1.0
        rolls.append(roll)
    return rolls


def rnnrbm(backend, n_visible=8, n_hidden=12, n_recurrent=6):
    """An RNN whose state sets the biases of an RBM at every step. Training runs the RNN in
    a scan, then one Gibbs chain over all steps; generation nests the RBM's chain (a scan
    with n_steps) inside the RNN's scan."""
    rng = np.random.default_rng(29)
    draws = sn.RandomStream(99)

    def init(*shape):
        return sn.shared(rng.normal(scale=0.1, size=shape))
    W, Wuh, Wuv, Wvu, Wuu = (init(n_visible, n_hidden), init(n_recurrent, n_hidden), init(n_recurrent, n_visible),
                             init(n_visible, n_recurrent), init(n_recurrent, n_recurrent))
    bv, bh, bu = sn.shared(np.zeros(n_visible)), sn.shared(np.zeros(n_hidden)), sn.shared(np.zeros(n_recurrent))
    params = [W, bv, bh, Wuh, Wuv, Wvu, Wuu, bu]
    v, u0 = st.matrix("v"), st.zeros((n_recurrent,))

    def recurrence(v_t, u_prev):
        bv_t, bh_t = bv + st.dot(u_prev, Wuv), bh + st.dot(u_prev, Wuh)
        if v_t is None:                 # generating: sample this step's notes first
            v_t, _, _, updates = rbm_chain(st.zeros((n_visible,)), W, bv_t, bh_t, 5, draws)
            return [v_t, st.tanh(bu + st.dot(v_t, Wvu) + st.dot(u_prev, Wuu))], updates
        return [st.tanh(bu + st.dot(v_t, Wvu) + st.dot(u_prev, Wuu)), bv_t, bh_t]

    (_, bv_t, bh_t), updates = sn.scan(lambda v_t, u_prev, *_: recurrence(v_t, u_prev), sequences=v,
                                       outputs_info=[u0, None, None], non_sequences=params)
    sample, cost, monitor, chain_updates = rbm_chain(v, W, bv_t[:], bh_t[:], 5, draws)
    updates = OrderedDict(updates)
    updates.update(chain_updates)
    grads = sn.grad(cost, params, consider_constant=[sample])
    updates.update((p, p - 0.1 * g) for p, g in zip(params, grads))
    train = sn.function([v], monitor, updates=updates, backend=backend)
    (notes, _), generated = sn.scan(lambda u_prev, *_: recurrence(None, u_prev), outputs_info=[None, u0],
                                    non_sequences=params, n_steps=6)
    generate = sn.function([], notes, updates=generated, backend=backend)
    monitors = [float(np.mean([train(roll) for roll in moving_bars()])) for _ in range(8)]
    roll = generate()
    assert roll.shape == (6, n_visible) and set(np.unique(roll)) <= {0.0, 1.0}
    return monitors + list(roll.ravel())


def test_rnnrbm_trains_and_generates_with_a_nested_scan():
    figures = run_both(rnnrbm)
    assert figures[7] > figures[0]          # the monitor is a log-likelihood: it rises
