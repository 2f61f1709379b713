"""Speed of one sampling step (Gibbs and rates-FPCD, M chains of the 784-500 RBM, float32):
symnb's compiled step against the same sampler in careful NumPy, timed interleaved in one
process; and one compiled step called k times against k steps unrolled in one graph.

Used by benchmarks/mixing.py (the RBM-sampling reproduction).
"""
from __future__ import annotations

import contextlib
import ctypes
import time

import numpy as np
import scipy.special

import symnb as sn
import symnb.tensor as st
from symnb.sampling import Gibbs, RatesFPCD
from symnb.kernels.cpp.program import blas_pointers
from symnb.sampling import rbm as rbm_graphs


@contextlib.contextmanager
def blas_threads(n):
    """NumPy's OpenBLAS on n threads inside the block (on a loaded 2-core machine its
    spinning threads can cost NumPy more than they bring)."""
    set_addr, get_addr, _ = blas_pointers()[2]
    if not set_addr:
        yield
        return
    setter = ctypes.CFUNCTYPE(None, ctypes.c_int)(set_addr)
    saved = ctypes.CFUNCTYPE(ctypes.c_int)(get_addr)()
    setter(n)
    try:
        yield
    finally:
        setter(saved)


def one_blas_thread(fn):
    def call():
        with blas_threads(1):
            return fn()
    return call


class NumpySampler:
    """Gibbs / rates-FPCD steps in NumPy with preallocated buffers (the same float32 maths
    as the compiled step; uniforms from NumPy's generator instead of Philox)."""

    def __init__(self, rbm, v0, rates=None, eps_f=0.0, eta=0.95, seed=0):
        self.W, self.b, self.c = rbm.W, rbm.b, rbm.c
        self.v = v0.astype(np.float32)
        self.rates, self.eps, self.eta = rates, np.float32(eps_f), np.float32(eta)
        self.rng = np.random.default_rng(seed)
        M, (n, m) = len(v0), self.W.shape
        self.ph, self.h, self.uh, self.hm = (np.empty((M, m), np.float32) for _ in range(4))
        self.pv, self.uv = (np.empty((M, n), np.float32) for _ in range(2))
        if rates is not None:
            self.Wf, self.bf, self.cf = np.zeros_like(self.W), np.zeros_like(self.b), np.zeros_like(self.c)
            self.Wt, self.S = np.empty_like(self.W), np.empty_like(self.W)

    def _draw(self, p, u, out):
        self.rng.random(out=u, dtype=np.float32)
        np.less(u, p, out=out, casting="unsafe")
        return out

    def step(self):
        if self.rates is None:
            W, b, c = self.W, self.b, self.c
        else:
            W = np.add(self.W, self.Wf, out=self.Wt)
            b, c = self.b + self.bf, self.c + self.cf
        np.dot(self.v, W, out=self.ph)
        self.ph += c
        h = self._draw(scipy.special.expit(self.ph, out=self.ph), self.uh, self.h)
        np.dot(h, W.T, out=self.pv)
        self.pv += b
        v = self._draw(scipy.special.expit(self.pv, out=self.pv), self.uv, self.v)
        if self.rates is not None:
            np.dot(v, W, out=self.hm)
            self.hm += c
            hm = scipy.special.expit(self.hm, out=self.hm)
            RW, Rb, Rc = self.rates
            M = np.float32(len(v))
            # W_f <- eta W_f + eps (R_W - v'hm / M), in place
            np.dot(v.T, hm, out=self.S)
            self.Wf *= self.eta
            self.Wf += self.eps * RW
            self.S *= self.eps / M
            self.Wf -= self.S
            self.bf = self.eta * self.bf + self.eps * (Rb - v.mean(0))
            self.cf = self.eta * self.cf + self.eps * (Rc - hm.mean(0))
        return self.pv


def _unrolled_gibbs(rbm, v0, k, seed):
    """k Gibbs steps in one compiled graph (the alternative to k calls of one step)."""
    rs = sn.RandomStream(seed)
    v = sn.shared(v0.astype(rbm.dtype), name="chains")
    x, outs = v, []
    for _ in range(k):
        _, pv, x = rbm_graphs.gibbs_step(rs, x, *rbm.params)
        outs.append(st.cast(x, "uint8"))
    return sn.function([], st.stack(outs), updates=[(v, x)], backend="cpp")


def _per_step(fn, steps):
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - t) / steps


def step_speed(rbm, data, n_chains=10, steps=100, rounds=7, eps_f=0.01, eta=0.99, unroll=10):
    """Median seconds per step of each implementation, timed round-robin so that load on
    the machine hits all alike. Returns {name: seconds per step}."""
    rng = np.random.default_rng(0)
    v0 = data[rng.choice(len(data), n_chains)]
    g = Gibbs(rbm, n_chains=n_chains, seed=1, init=v0)
    f = RatesFPCD(rbm, data=data, n_chains=n_chains, eps_f=eps_f, eta=eta, seed=1, init=v0)
    unrolled = _unrolled_gibbs(rbm, v0, unroll, seed=1)
    npg, npf = NumpySampler(rbm, v0), NumpySampler(rbm, v0, f.rates, eps_f, eta)
    impls = {"symnb Gibbs": g.step, "NumPy Gibbs": npg.step, "NumPy Gibbs, 1 BLAS thread": one_blas_thread(npg.step),
             "symnb rates-FPCD": f.step, "NumPy rates-FPCD": npf.step,
             "NumPy rates-FPCD, 1 BLAS thread": one_blas_thread(npf.step),
             f"symnb Gibbs, {unroll} steps unrolled per call": unrolled}
    per_call = {name: unroll if "unrolled" in name else 1 for name in impls}
    for fn in impls.values():      # compile and warm up
        fn()
    times = {name: [] for name in impls}
    for _ in range(rounds):
        for name, fn in impls.items():
            times[name].append(_per_step(fn, max(steps // per_call[name], 1)) / per_call[name])
    return {name: float(np.median(t)) for name, t in times.items()}
