"""Compiled functions pickle as their graph and options; loading compiles again, and the
compile cache makes that a lookup when it holds the module."""
import copy
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import symnb as sn
import symnb.tensor as st
from symnb.kernels.base import BACKENDS
from tests.kernels.cpp import child_env


def _denoising_step(backend):
    """A minibatch training step with givens and a random corruption of the given input."""
    rng = np.random.default_rng(0)
    data = sn.shared(rng.random((20, 5)), name="data")
    W = sn.shared(rng.standard_normal((5, 3)) * 0.1, name="W")
    x, i = st.dmatrix("x"), st.lscalar("i")
    draws = sn.RandomStream(11)
    kept = draws.binomial(size=x.shape, n=1, p=0.7, dtype="float64") * x
    recon = st.sigmoid(st.dot(st.sigmoid(st.dot(kept, W)), W.T))
    cost = -st.mean(st.sum(x * st.log(recon) + (1 - x) * st.log(1 - recon), axis=1))
    return sn.function([i], [cost, recon], updates=[(W, W - 0.1 * sn.grad(cost, W))],
                       givens={x: data[i * 4:(i + 1) * 4]}, backend=backend)


@pytest.mark.parametrize("backend", ["numpy", "cpp"])
@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_function_round_trip_gives_identical_values(backend, how):
    f = _denoising_step(backend)
    f(0)
    g = pickle.loads(pickle.dumps(f)) if how == "pickle" else copy.deepcopy(f)
    assert g.backend_name == backend and [s.name for s in g.shared] == [s.name for s in f.shared]
    for s, t in zip(f.shared, g.shared):
        assert s is not t
        np.testing.assert_array_equal(s.get_value(), t.get_value())
    for k in (1, 2, 3):                          # same state: same draws, same updates
        for a, b in zip(f(k), g(k)):
            np.testing.assert_array_equal(a, b)
    for s, t in zip(f.shared, g.shared):
        np.testing.assert_array_equal(s.get_value(), t.get_value())


def test_single_output_and_keywords_survive():
    x = st.dvector("x")
    f = sn.function([x], st.exp(x).sum(), name="total", backend="numpy")
    g = pickle.loads(pickle.dumps(f))
    assert g.name == "total" and g(x=np.zeros(3)) == 3.0


_SAVE = """
import pickle, sys, numpy as np, symnb as sn, symnb.tensor as st
x = st.dvector("x"); w = sn.shared(np.array([1.0, 2.0, 3.0]), name="w")
f = sn.function([x], st.tanh(x * w).sum() * 1.25, updates=[(w, w * 0.5)], backend="cpp")
f(np.ones(3))
pickle.dump(f, open(sys.argv[1], "wb"))
"""
_LOAD = """
import pickle, sys, numpy as np
from symnb.kernels import cache
before = {e.key: e.mtime for e in cache.entries()}
g = pickle.load(open(sys.argv[1], "rb"))
after = {e.key: e.mtime for e in cache.entries()}
print(repr((float(g(np.ones(3))), g.shared[0].get_value().tolist(), sorted(before.items()), sorted(after.items()))))
"""


def _child(code, path, cache_dir):
    env = dict(child_env(), SYMNB_CACHE_DIR=str(cache_dir))
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code), str(path)], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_reload_in_a_new_process_uses_the_compile_cache(tmp_path):
    saved, filled, empty = tmp_path / "f.pkl", tmp_path / "cache", tmp_path / "empty"
    _child(_SAVE, saved, filled)
    built = sorted(os.listdir(filled))
    value, w, before, after = eval(_child(_LOAD, saved, filled))
    want = np.tanh(np.array([0.5, 1.0, 1.5])).sum() * 1.25     # w was halved by the first call
    assert np.isclose(value, want) and w == [0.25, 0.5, 0.75]
    assert before and after == before                           # nothing compiled: the cache had it
    assert sorted(os.listdir(filled)) == built
    value2, _, before2, after2 = eval(_child(_LOAD, saved, empty))
    assert value2 == value and before2 == [] and len(after2) >= 1   # an empty cache: compiled again


class HalvingOutputs(type(BACKENDS["numpy"])):
    """The reference backend with an option, as CudaBackend(outputs="numpy") has one."""

    def __init__(self, factor):
        self.factor = factor

    def result(self, value):
        return np.asarray(value) * self.factor


def test_a_backend_with_options_comes_back_with_them():
    x = st.dvector("x")
    f = sn.function([x], x + 1, backend=HalvingOutputs(0.5))
    g = pickle.loads(pickle.dumps(f))
    assert g.backend.factor == 0.5 and np.array_equal(g(np.ones(2)), [1.0, 1.0])
