"""No call can crash the process: over a thousand malformed calls (wrong dtype, ndim, shape,
layout, aliasing, special values, non-arrays) to compiled functions, in a subprocess whose
exit code proves it survived. Each call must raise where the reference backend raises,
or return what the reference returns."""
import subprocess
import sys

from . import child_env
from .test_cpp_ops import pytestmark  # noqa: F401  (skips without a compiler)


SCRIPT = r'''
import itertools, sys, warnings
import numpy as np
import symnb as sn, symnb.tensor as st

warnings.simplefilter("ignore")
np.seterr(all="ignore")


def build(backend):
    """name -> (function, valid arguments, reset) for one backend."""
    x, y = st.dmatrix("x"), st.dvector("y")
    i, j = st.ivectors("i", "j")
    idx, k = st.lvector("idx"), st.lscalar("k")
    f3 = st.tensor("f3", dtype="float32", shape=(3, None))
    b = st.tensor("b", dtype="bool", shape=(None,))
    n = st.lscalar("n")
    W = sn.shared(np.linspace(-1, 1, 12).reshape(4, 3), name="W")
    c = sn.shared(np.zeros(3), name="c")
    X = st.dmatrix("X")
    cost = st.sum(st.tanh(st.dot(X, W) + c) ** 2)
    gW, gc = sn.grad(cost, [W, c])
    funcs = {
        "elemwise": (sn.function([x, y], [st.exp(x) * y, x.sum(axis=0), st.dot(x, y), x.T[::-1] + 1],
                                 backend=backend), [np.ones((2, 3)), np.arange(3.0)]),
        "integer": (sn.function([i, j], [i // j, i % j, i * j + 1], backend=backend),
                    [np.arange(1, 4, dtype="int32"), np.array([2, -1, 3], "int32")]),
        "index": (sn.function([x, idx, k], [x[idx], x[k], x[:, k:], st.set_subtensor(x[k], 0.0),
                                            st.inc_subtensor(x[idx, k], 1.0)], backend=backend),
                  [np.arange(12.0).reshape(3, 4), np.array([0, 2, -1]), 1]),
        "static": (sn.function([f3], [st.softmax(f3), st.dot(f3.T, f3), f3.max(axis=1)], backend=backend),
                   [np.ones((3, 2), "float32")]),
        "shape": (sn.function([n, y], [st.zeros((n, 3)), st.arange(n), y.reshape((n, -1)), st.eye(n)[0]],
                              backend=backend), [2, np.arange(4.0)]),
        "mask": (sn.function([b, y], [y[b], st.switch(b, y, 0.0), st.cast(b, "int8").sum()], backend=backend),
                 [np.array([True, False, True]), np.arange(3.0)]),
        "train": (sn.function([X], cost, updates=[(W, W - 0.1 * gW), (c, c - 0.1 * gc)], backend=backend),
                  [np.ones((5, 4))]),
    }

    def reset():
        W.set_value(np.linspace(-1, 1, 12).reshape(4, 3))
        c.set_value(np.zeros(3))

    return funcs, reset, W


def variants(v):
    """Malformed and unusual versions of a valid argument."""
    out = [None, "abc", b"xy", object(), [1, [2, 3]], 1.5, -7, 2 ** 70, True, np.float32(2.0), [],
           np.array("text"), np.array([object()]), np.datetime64("2020-01-01")]
    a = np.asarray(v)
    for dt in ["bool", "int8", "uint8", "int16", "int32", "int64", "uint64", "float16", "float32", "float64",
               "complex128", ">f8", ">i4", "U3"]:
        try:
            out.append(a.astype(dt))
        except (ValueError, TypeError):
            pass
    out += [a[None], a.reshape(-1), np.array(a.sum()), np.zeros((0,) * max(a.ndim, 1), a.dtype),
            np.zeros((1,) * a.ndim, a.dtype), np.zeros(tuple(s + 1 for s in a.shape), a.dtype),
            np.zeros(tuple(max(s - 1, 0) for s in a.shape), a.dtype), a.tolist()]
    if a.ndim:
        big = np.zeros(tuple(3 * s for s in a.shape), a.dtype)
        big[tuple(slice(None, None, 3) for _ in a.shape)] = a
        out += [big[tuple(slice(None, None, 3) for _ in a.shape)], a[::-1].copy()[::-1], a[::-1],
                np.broadcast_to(a.flat[0], a.shape), np.asfortranarray(a), a.T, np.ascontiguousarray(a.T)]
        ro = a.copy()
        ro.setflags(write=False)
        out.append(ro)
        raw = np.zeros(a.nbytes + 1, np.uint8)
        mis = np.frombuffer(raw.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
        mis[...] = a
        out.append(mis)
    if a.dtype.kind == "f":
        for special in (np.nan, np.inf, -np.inf, 1e308, -0.0):
            out.append(np.full_like(a, special))
    if a.dtype.kind in "iu":
        info = np.iinfo(a.dtype)
        out += [np.full_like(a, info.min), np.full_like(a, info.max), np.zeros_like(a), np.full_like(a, -1)]
        if a.ndim == 0:
            out += [np.array(2 ** 40, a.dtype) if a.dtype.itemsize == 8 else np.array(info.max, a.dtype),
                    np.array(-5, a.dtype), np.array(10 ** 6, a.dtype)]
    return out


def outcome(f, args, reset):
    reset()
    try:
        r = f(*args)
        return "ok", r
    except Exception:      # noqa: BLE001  (any Python exception is an acceptable answer; which one
        return "raised", None   # may differ: the reference computes a node before checking its shapes)


def same(a, b):
    if isinstance(a, list):
        return len(a) == len(b) and all(same(p, q) for p, q in zip(a, b))
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.name != b.dtype.name or a.shape != b.shape:     # byte order may differ
        return False
    if a.dtype.kind == "f":
        return np.allclose(a, b, rtol=1e-10, atol=1e-300, equal_nan=True)
    return np.array_equal(a, b)


cpp, reset_cpp, W_cpp = build("cpp")
ref, reset_ref, W_ref = build("numpy")
assert all(not f.program.fallback_nodes for f, _ in cpp.values()), "every node should run in C++"
calls, bad = 0, []
for name, (f, valid) in cpp.items():
    g = ref[name][0]
    cases = []
    for pos, v in enumerate(valid):
        cases += [valid[:pos] + [m] + valid[pos + 1:] for m in variants(v)]
    for m1, m2 in itertools.product(variants(valid[0])[20:30], variants(valid[-1])[20:30]):
        cases.append([m1] + valid[1:-1] + [m2] if len(valid) > 1 else [m1])
    cases.append(valid[:-1])                          # too few arguments
    cases.append(valid + [valid[-1]])                 # too many
    for args in cases:
        got, r1 = outcome(f, args, reset_cpp)
        want, r2 = outcome(g, args, reset_ref)
        calls += 1
        if got != want or (got == "ok" and not same(r1, r2)):
            bad.append((name, [getattr(a, "dtype", type(a)) for a in args], got, want))
    # Outputs fed back as inputs, and the shared weights passed in as an argument.
    for _ in range(3):
        out = f(*valid)
        out = out if isinstance(out, list) else [out]
        for o in out:
            for pos in range(len(valid)):
                args = valid[:pos] + [o] + valid[pos + 1:]
                got, r1 = outcome(f, args, reset_cpp)
                want, r2 = outcome(g, args, reset_ref)
                calls += 1
                if got != want or (got == "ok" and not same(r1, r2)):
                    bad.append((name, "aliased output", got, want))
f, g = cpp["train"][0], ref["train"][0]
for step in range(20):         # X is a view of W's own storage: W must not be updated in place
    got, r1 = outcome(f, [W_cpp.get_value(borrow=True).T], lambda: None)
    want, r2 = outcome(g, [W_ref.get_value(borrow=True).T], lambda: None)
    calls += 1
    if got != want or (got == "ok" and not same(r1, r2)):
        bad.append(("train", "aliased weights", got, want))
# A child forked after big parallel loops ran (multiprocessing's default on Linux) still computes.
import os, time
v = st.dvector("v")
big = sn.function([v], st.exp(v).sum(), backend="cpp")
data = np.full(1 << 20, 0.5)
want = big(data)
pid = os.fork()
if pid == 0:
    os._exit(0 if np.isclose(big(data), want) else 3)
for _ in range(600):
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    time.sleep(0.1)
else:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    status = -1
calls += 1
if status != 0:
    bad.append(("fork", "the forked child hung or failed", status, 0))
print(f"{calls} calls, {len(bad)} mismatches")
for b in bad[:20]:
    print(b)
sys.exit(1 if bad or calls < 1000 else 0)
'''


def test_a_thousand_malformed_calls_never_crash(tmp_path):
    script = tmp_path / "hammer.py"
    script.write_text(SCRIPT)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=child_env(), timeout=900)
    assert proc.returncode == 0, f"exit code {proc.returncode}\n{proc.stdout}\n{proc.stderr[-3000:]}"
    assert "0 mismatches" in proc.stdout
