"""RBM training updates (CD-k, PCD, FPCD) as one compiled symnb function per method: each
call takes one minibatch and updates the RBM's shared parameters in place.

Called by RBM.fit (rbm.py); sits between the data and the samplers in the sampling flow.
"""
from __future__ import annotations

import numpy as np

import symnb as sn
import symnb.tensor as st

from . import rbm as _rbm


def update_function(model, method, batch_size, k, weight_decay, seed):
    """(function(X, lr, fast_lr, fast_decay) -> reconstruction error, persistent chains or None)."""
    W, b, c = model.params
    dt = model.dtype
    rs = sn.RandomStream(seed)
    X = st.tensor("X", dt, shape=(None, model.n_visible))
    lr, fast_lr, fast_decay = (st.scalar(n, dtype=dt) for n in ("lr", "fast_lr", "fast_decay"))
    updates, chains = [], None
    if method == "fpcd":      # Tieleman & Hinton's fast weights: the negative phase uses W + W_f
        fast = [sn.shared(np.zeros_like(p.get_value()), name=p.name + "_fast") for p in (W, b, c)]
        Wn, bn, cn = (p + f for p, f in zip((W, b, c), fast))
    else:
        Wn, bn, cn = W, b, c
    if method == "cd":
        v = X
    else:
        chains = sn.shared(np.zeros((batch_size, model.n_visible), dt), name="chains")
        v = chains
    for _ in range(k):
        _, _, v = _rbm.gibbs_step(rs, v, Wn, bn, cn)
    if chains is not None:
        updates.append((chains, v))
    ph0 = _rbm.hidden_mean(X, W, c)
    ph1 = _rbm.hidden_mean(v, Wn, cn)
    n = st.cast(X.shape[0], dt)
    gW = (st.dot(X.T, ph0) - st.dot(v.T, ph1)) / n
    gb = (X - v).sum(axis=0) / n
    gc = (ph0 - ph1).sum(axis=0) / n
    updates += [(W, W + lr * (gW - weight_decay * W)), (b, b + lr * gb), (c, c + lr * gc)]
    if method == "fpcd":
        updates += [(f, fast_decay * f + fast_lr * g) for f, g in zip(fast, (gW, gb, gc))]
    # reconstruction error of the batch, from the positive phase already computed
    err = ((_rbm.visible_mean(ph0, W, b) - X) ** 2).mean()
    f = sn.function([X, lr, fast_lr, fast_decay], err, updates=updates, backend=_rbm.BACKEND,
                    on_unused_input="ignore")
    return f, chains


def train(model, X, method, epochs, batch_size, lr, k, fast_lr, fast_decay, weight_decay, seed, progress):
    from tqdm.auto import tqdm
    f, chains = update_function(model, method, batch_size, k, weight_decay, seed)
    rng = np.random.default_rng(seed)
    Xf = X.astype(model.dtype)
    if chains is not None:       # persistent chains start at random training examples
        chains.set_value(Xf[rng.choice(len(Xf), batch_size)])
    n_batches = len(Xf) // batch_size
    args = [np.asarray(a, model.dtype) for a in (lr, fast_lr, fast_decay)]
    with tqdm(total=epochs * n_batches, desc=f"{method} {model.n_visible}-{model.n_hidden}",
              disable=not progress, mininterval=0.5) as bar:
        for epoch in range(epochs):
            shuffled = Xf[rng.permutation(len(Xf))]
            errs = np.empty(n_batches)
            for i in range(n_batches):
                errs[i] = f(shuffled[i * batch_size:(i + 1) * batch_size], *args)
                if i % 50 == 49:
                    bar.update(50)
            bar.update(n_batches - n_batches // 50 * 50)
            model.history.append((method, epoch, float(errs.mean())))
            bar.set_postfix(recon=f"{errs.mean():.4f}")
