"""The binary RBM as symnb graphs: energies, conditionals, block-Gibbs steps, and training by
CD-k, PCD and FPCD, each update one call of a function compiled by the C++ backend.

Second stage of the sampling flow: datasets -> RBM (this file) -> samplers -> mixing.
E(v,h) = -b'v - c'h - v'Wh;  P(h=1|v) = sigmoid(c + W'v);  P(v=1|h) = sigmoid(b + Wh).
"""
from __future__ import annotations

import itertools

import numpy as np

import symnb as sn
import symnb.tensor as st

BACKEND = "cpp"


# ----------------------------------------------------------------------------- graph pieces
def bernoulli(rs, p):
    """Binary draws with probabilities p, as p's dtype (one uniform per unit)."""
    return st.cast(rs.uniform(size=p.shape, dtype=p.dtype) < p, p.dtype)


def times(v, W):
    """v @ W per row: W is one matrix shared by all rows, or one per row (M, n, m)."""
    return st.dot(v, W) if W.ndim == 2 else st.matmul(st.expand_dims(v, 1), W)[:, 0, :]


def times_t(h, W):
    """h @ W.T per row (W as in `times`)."""
    return st.dot(h, W.T) if W.ndim == 2 else st.matmul(st.expand_dims(h, 1), st.transpose(W, (0, 2, 1)))[:, 0, :]


def hidden_mean(v, W, c):
    return st.sigmoid(times(v, W) + c)


def visible_mean(h, W, b):
    return st.sigmoid(times_t(h, W) + b)


def gibbs_step(rs, v, W, b, c):
    """One block-Gibbs step v -> h -> v': returns (h, P(v=1|h), v'). The h draw is made
    before the v draw, so two graphs built alike consume their streams alike."""
    h = bernoulli(rs, hidden_mean(v, W, c))
    pv = visible_mean(h, W, b)
    return h, pv, bernoulli(rs, pv)


def free_energy(v, W, b, c):
    """F(v) = -b'v - sum_j softplus(c_j + (W'v)_j), so that P(v) = exp(-F(v)) / Z."""
    return -st.dot(v, b) - st.softplus(st.dot(v, W) + c).sum(axis=-1)


def binary_data(X, n_visible, what="data"):
    """X checked to be a (N, n_visible) array of zeros and ones; returned as given."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != n_visible:
        raise ValueError(f"{what}: expected an array of shape (N, {n_visible}), got shape {X.shape}")
    if X.size and not np.isin(np.unique(X), (0, 1)).all():
        raise ValueError(f"{what}: expected binary values (0 or 1), got values such as "
                         f"{np.unique(X)[~np.isin(np.unique(X), (0, 1))][:3]}")
    return X


# ----------------------------------------------------------------------------- the model
class RBM:
    """A binary-binary RBM whose parameters are symnb shared variables (float32 by
    default); rbm.W, rbm.b, rbm.c read and write them as NumPy arrays."""

    def __init__(self, n_visible=784, n_hidden=500, seed=0, dtype="float32", weight_scale=0.01):
        self.n_visible, self.n_hidden, self.seed, self.dtype = int(n_visible), int(n_hidden), int(seed), dtype
        rng = np.random.default_rng(seed)
        self._W = sn.shared(rng.normal(0, weight_scale, (n_visible, n_hidden)).astype(dtype), name="W")
        self._b = sn.shared(np.zeros(n_visible, dtype), name="b")
        self._c = sn.shared(np.zeros(n_hidden, dtype), name="c")
        self._fns = {}
        self._rates_cache = {}    # samplers' data rates, valid until the parameters change
        self.data = None          # the training set of the last fit (samplers' init="data")
        self.history = []         # per epoch: (method, epoch, reconstruction error)

    def _setter(name):
        def put(self, value):
            getattr(self, name).set_value(np.asarray(value, self.dtype))
            self._rates_cache.clear()          # the samplers' rates were the old parameters'
        return put

    # parameters as NumPy arrays
    W = property(lambda self: self._W.get_value(), _setter("_W"))
    b = property(lambda self: self._b.get_value(), _setter("_b"))
    c = property(lambda self: self._c.get_value(), _setter("_c"))
    del _setter

    @property
    def params(self):
        """The shared variables (W, b, c), for graphs built on this RBM."""
        return self._W, self._b, self._c

    def _fn(self, name, build):
        if name not in self._fns:
            self._fns[name] = build()
        return self._fns[name]

    def _input(self, X, n):
        return np.ascontiguousarray(np.asarray(X).reshape(-1, n), dtype=self.dtype)

    # ------------------------------------------------------------------ conditionals
    def free_energy(self, V):
        """F(v) for each row of V (N, n_visible)."""
        V = binary_data(np.atleast_2d(V), self.n_visible, "free_energy: V")

        def build():
            v = st.tensor("V", self.dtype, ndim=2)
            return sn.function([v], free_energy(v, *self.params), backend=BACKEND)
        return self._fn("free_energy", build)(self._input(V, self.n_visible))

    def hidden_mean(self, V):
        """P(h=1|v) for each row of V: (N, n_hidden)."""
        def build():
            v = st.tensor("V", self.dtype, ndim=2)
            return sn.function([v], hidden_mean(v, self._W, self._c), backend=BACKEND)
        return self._fn("hidden_mean", build)(self._input(V, self.n_visible))

    def visible_mean(self, H):
        """P(v=1|h) for each row of H: (N, n_visible)."""
        def build():
            h = st.tensor("H", self.dtype, ndim=2)
            return sn.function([h], visible_mean(h, self._W, self._b), backend=BACKEND)
        return self._fn("visible_mean", build)(self._input(H, self.n_hidden))

    def gibbs(self, V, seed=0):
        """One block-Gibbs step from each row of V: (h, P(v=1|h), v')."""
        def build():
            v, rs = st.tensor("V", self.dtype, ndim=2), sn.RandomStream(self.seed)
            return rs, sn.function([v], list(gibbs_step(rs, v, *self.params)), backend=BACKEND)
        rs, f = self._fn("gibbs", build)
        rs.seed(seed)
        return f(self._input(V, self.n_visible))

    def log_partition(self):
        """log Z by exact enumeration of the smaller layer (at most 2**24 states)."""
        W, b, c = (p.astype(np.float64) for p in (self.W, self.b, self.c))
        small = min(self.n_visible, self.n_hidden)
        if small > 24:
            raise ValueError(f"log_partition: the smaller layer has {small} units; exact enumeration "
                             "needs at most 24")
        S = np.array(list(itertools.product((0.0, 1.0), repeat=small)))
        if self.n_hidden <= self.n_visible:      # sum over v analytically, enumerate h
            terms = S @ c + np.logaddexp(0, S @ W.T + b).sum(1)
        else:
            terms = S @ b + np.logaddexp(0, S @ W + c).sum(1)
        return float(np.logaddexp.reduce(terms))

    # ------------------------------------------------------------------ training
    def fit(self, X, method="pcd", epochs=10, batch_size=20, lr=0.05, k=1, fast_lr=None,
            fast_decay=19 / 20, weight_decay=0.0, seed=None, progress=True, init_visible_bias=True):
        """Train on binary X (N, n_visible) by "cd" (CD-k), "pcd" or "fpcd" (Tieleman &
        Hinton 2009: fast weights with their own rate fast_lr (default lr) and decay).
        One compiled call per minibatch update; a tqdm bar counts the updates."""
        from .training import train
        self._rates_cache.clear()
        X = binary_data(X, self.n_visible, "fit: X")
        if method not in ("cd", "pcd", "fpcd"):
            raise ValueError(f"fit: method must be 'cd', 'pcd' or 'fpcd', got {method!r}")
        if int(k) < 1 or int(batch_size) < 1 or int(epochs) < 0 or not lr > 0:
            raise ValueError(f"fit: need k >= 1, batch_size >= 1, epochs >= 0 and lr > 0 "
                             f"(got k={k}, batch_size={batch_size}, epochs={epochs}, lr={lr})")
        if init_visible_bias and not self.history:
            # Hinton's practical guide: b = log(p/(1-p)) of the data's pixel means.
            p = np.clip(X.mean(0), 1e-3, 1 - 1e-3)
            self.b = np.log(p / (1 - p))
        train(self, X, method, int(epochs), int(batch_size), float(lr), int(k),
              float(lr if fast_lr is None else fast_lr), float(fast_decay), float(weight_decay),
              self.seed if seed is None else seed, progress)
        self.data = X
        return self

    def reconstruction_error(self, X):
        """Mean squared error between X and P(v=1|P(h=1|X)) (a cheap training monitor)."""
        return float(((self.visible_mean(self.hidden_mean(X)) - X) ** 2).mean())

    # ------------------------------------------------------------------ persistence, display
    def save(self, path):
        np.savez(path, W=self.W, b=self.b, c=self.c, seed=self.seed, dtype=self.dtype)

    @classmethod
    def load(cls, path):
        with np.load(path) as z:
            W = z["W"]
            rbm = cls(W.shape[0], W.shape[1], seed=int(z["seed"]), dtype=str(z["dtype"]))
            rbm.W, rbm.b, rbm.c = W, z["b"], z["c"]
        return rbm

    def filters(self, n=100, shape=(28, 28), ncols=10, pad=1):
        """The first n filters (columns of W) as one image grid (2-D float array in [0, 1]),
        each filter scaled to its own range; show it with matplotlib's imshow."""
        W = self.W[:, :n].T
        return tile(W.reshape(-1, *shape), ncols, pad, per_image=True)


def tile(images, ncols=10, pad=1, per_image=False):
    """Images (n, h, w) as one grid; per_image=True scales each to [0, 1] on its own."""
    images = np.asarray(images, np.float64)
    if per_image:
        lo = images.min(axis=(1, 2), keepdims=True)
        images = (images - lo) / np.maximum(images.max(axis=(1, 2), keepdims=True) - lo, 1e-12)
    n, h, w = images.shape
    nrows = -(-n // ncols)
    grid = np.ones((nrows * (h + pad) - pad, ncols * (w + pad) - pad))
    for i, im in enumerate(images):
        r, q = divmod(i, ncols)
        grid[r * (h + pad):r * (h + pad) + h, q * (w + pad):q * (w + pad) + w] = im
    return grid
