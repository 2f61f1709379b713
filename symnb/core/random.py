"""Counter-based random streams (Philox4x32-10): the same bits on every backend.

Graph stage: `RandomStream` draws are ordinary nodes `RandomDraw(dist)(state, size, *params)
-> (new_state, sample)`; the state is a shared variable whose default update advances it.

Bit layout (the contract every backend reproduces):
- state: uint64[2] = [key, counter]. key -> Philox key words (key & 0xffffffff, key >> 32).
- block j of a draw (j = 0, 1, ...) is Philox4x32-10 of the 128-bit counter
  (lo32(counter + j), hi32(counter + j), 0, 0); it yields 4 uint32 words, and the words of
  the draw are the blocks' words in order. The new state is [key, counter + blocks used].
- float64 uniform from words (a, b): ((a >> 5) * 2**26 + (b >> 6)) * 2**-53, in [0, 1).
  float32 uniform from word a: (a >> 8) * 2**-24.
- normal: pairs of uniforms (u1, u2), r = sqrt(-2 log(1 - u1)), sample 2k = r cos(2 pi u2),
  sample 2k+1 = r sin(2 pi u2) (log, cos, sin from the platform libm for bit equality).
- binomial(n, p): sample k counts how many of its n float64 uniforms (words 2nk ...) are < p.

What is frozen, and where:
- Philox words, uniforms (float32 and float64) and binomials: the same bits on every
  machine and every backend, forever (integer arithmetic and exact scalings only).
- normals: the same bits on every backend of one machine. Across machines they agree to
  a few ulp, not bit for bit: log, cos and sin come from the platform's math library,
  whose last bit may differ between processors (NumPy's float64 log and cos on a machine
  with AVX-512 and on one without, for example).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .graph import Constant, SharedVariable, Variable, as_variable
from .ops.base import Op, apply_op
from .ops.shape import as_shape, static_entries
from .types import TensorType, broadcast_shapes, canonical_dtype, is_float

_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = np.uint32(0x9E3779B9), np.uint32(0xBB67AE85)
_MASK32 = np.uint64(0xFFFFFFFF)


def philox4x32(counter, key):
    """Philox4x32-10 on arrays: counter (4, n) uint32, key (2,) or (2, n) uint32 -> (4, n) uint32."""
    c0, c1, c2, c3 = (np.asarray(c, dtype=np.uint32) for c in counter)
    k0, k1 = (np.asarray(k, dtype=np.uint32) for k in key)
    with np.errstate(over="ignore"):
        for _ in range(10):
            p0 = c0.astype(np.uint64) * _M0
            p1 = c2.astype(np.uint64) * _M1
            hi0, lo0 = (p0 >> np.uint64(32)).astype(np.uint32), (p0 & _MASK32).astype(np.uint32)
            hi1, lo1 = (p1 >> np.uint64(32)).astype(np.uint32), (p1 & _MASK32).astype(np.uint32)
            c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
            k0, k1 = k0 + _W0, k1 + _W1
    return np.stack([c0, c1, c2, c3])


def philox_words(key: int, counter: int, nwords: int):
    """The first nwords uint32 words of the stream at (key, counter), and blocks used."""
    blocks = (nwords + 3) // 4
    ctr = np.uint64(counter) + np.arange(blocks, dtype=np.uint64)
    zeros = np.zeros(blocks, np.uint32)
    words = philox4x32([(ctr & _MASK32).astype(np.uint32), (ctr >> np.uint64(32)).astype(np.uint32),
                        zeros, zeros],
                       [np.uint32(key & 0xFFFFFFFF), np.uint32(key >> 32)])
    return words.T.reshape(-1)[:nwords], blocks


def uniform01(words, dtype):
    if dtype == "float32":
        return (words >> np.uint32(8)).astype(np.float32) * np.float32(2.0 ** -24)
    a = (words[0::2] >> np.uint32(5)).astype(np.float64)
    b = (words[1::2] >> np.uint32(6)).astype(np.float64)
    return (a * 67108864.0 + b) * (2.0 ** -53)


_WORDS_PER_UNIFORM = {"float64": 2, "float32": 1}


@dataclass(frozen=True)
class RandomDraw(Op):
    """(state, size, *params) -> (new_state, sample) for dist in uniform/normal/binomial."""
    foldable = False

    dist: str
    dtype: str
    nout = 2

    @property
    def name(self):
        return f"random_{self.dist}{{{self.dtype}}}"

    def infer(self, state, size, *params):
        if state.dtype != "uint64" or state.type.shape != (2,):
            raise TypeError(f"{self.name}: the state must be a uint64 vector of length 2")
        n = size.type.shape[0]
        if size.ndim != 1 or n is None:
            raise TypeError(f"{self.name}: size must be a shape vector of known length")
        shape = static_entries(size, n)
        full = broadcast_shapes(shape, *[p.type.shape for p in params], opname=self.name)
        if len(full) > n or any(s is not None and f is not None and s != f for s, f in zip(shape, full)):
            raise TypeError(f"{self.name}: parameters of shapes {[p.type.shape for p in params]} "
                            f"do not broadcast to the sample shape {shape}")
        return [state.type, TensorType(self.dtype, shape)]

    def perform(self, state, size, *params):
        shape = tuple(int(s) for s in size)
        n = int(np.prod(shape, dtype=np.int64))
        key, counter = int(state[0]), int(state[1])
        if not _fits(shape, [np.shape(p) for p in params]):
            raise ValueError("the parameters do not broadcast to the sample shape")
        if self.dist == "binomial":
            trials = int(params[0])
            if trials < 0:
                raise ValueError(f"{self.name}: n must be non-negative, got {trials}")
            words, blocks = philox_words(key, counter, 2 * n * trials)
            u = uniform01(words, "float64").reshape(n, trials) if trials else np.zeros((n, 0))
            p = np.broadcast_to(params[1], shape).reshape(n, 1)
            sample = (u < p).sum(axis=1).astype(self.dtype).reshape(shape)
        else:
            fdtype = self.dtype
            per = _WORDS_PER_UNIFORM[fdtype]
            count = n + (n % 2) if self.dist == "normal" else n
            words, blocks = philox_words(key, counter, per * count)
            u = uniform01(words, fdtype)
            if self.dist == "uniform":
                lo, hi = params
                sample = (lo + (hi - lo) * u.reshape(shape)).astype(fdtype)
            else:
                loc, scale = params
                u1, u2 = u[0::2], u[1::2]
                one = np.asarray(1, fdtype)
                r = np.sqrt(-2 * np.log(one - u1))
                theta = np.asarray(2 * np.pi, fdtype) * u2
                z = np.empty(count, fdtype)
                z[0::2], z[1::2] = r * np.cos(theta), r * np.sin(theta)
                sample = (loc + scale * z[:n].reshape(shape)).astype(fdtype)
            sample = np.asarray(sample).reshape(shape)
        new_state = np.array([key, counter + blocks], dtype=np.uint64)
        return new_state, np.ascontiguousarray(sample)

    def grad(self, inputs, outputs, gouts):
        return [None] * len(inputs)

    differentiable = False


def _fits(shape, param_shapes):
    """Whether the parameters broadcast to exactly the sample shape (NumPy's rule for size=)."""
    try:
        return np.broadcast_shapes(shape, *param_shapes) == shape
    except ValueError:
        return False


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


class RandomStream:
    """sn.RandomStream(seed): symbolic draws; each draw owns a state advanced per call.

    The key of draw j is splitmix64(seed * 2**20 + j), so draws are independent streams.
    """

    def __init__(self, seed=None):
        self._seed = int(np.random.SeedSequence().entropy % 2**63) if seed is None else int(seed)
        self.states: list[SharedVariable] = []

    def _key(self, j):
        return _splitmix64((self._seed << 20) + j)

    def seed(self, seed):
        self._seed = int(seed)
        for j, s in enumerate(self.states):
            s.set_value(np.array([self._key(j), 0], dtype=np.uint64))

    def _draw(self, dist, dtype, size, params):
        params = [as_variable(p) for p in params]
        if size is None:
            shape = broadcast_shapes(*[p.type.shape for p in params], opname=dist)
            if None in shape:
                raise ValueError(f"{dist}: give size= when the parameters' shapes are not static")
            size = shape
        state = SharedVariable(np.array([self._key(len(self.states)), 0], dtype=np.uint64),
                               name=f"rng_state_{len(self.states)}", shape=(2,))
        self.states.append(state)
        new_state, sample = apply_op(RandomDraw(dist, canonical_dtype(dtype)), [state, as_shape(size), *params])
        state.default_update = new_state
        return sample

    def uniform(self, low=0.0, high=1.0, size=None, dtype="float64"):
        if not is_float(canonical_dtype(dtype)):
            raise TypeError("uniform: dtype must be float32 or float64")
        low, high = [_as_param(p, dtype) for p in (low, high)]
        return self._draw("uniform", dtype, size, [low, high])

    random = uniform

    def normal(self, loc=0.0, scale=1.0, size=None, dtype="float64"):
        if not is_float(canonical_dtype(dtype)):
            raise TypeError("normal: dtype must be float32 or float64")
        loc, scale = [_as_param(p, dtype) for p in (loc, scale)]
        return self._draw("normal", dtype, size, [loc, scale])

    def binomial(self, n=1, p=0.5, size=None, dtype="int64"):
        n = as_variable(np.int64(n) if isinstance(n, int) else n)
        if n.ndim != 0 or n.dtype not in ("int8", "int16", "int32", "int64"):
            raise TypeError(f"binomial: n must be an integer scalar, got {n.type}")
        return self._draw("binomial", dtype, size, [n, _as_param(p, "float64")])


def _as_param(p, dtype):
    """Literals take the draw's dtype; symbolic parameters keep theirs."""
    return p if isinstance(p, Variable) else Constant(np.asarray(p, dtype=dtype))
