"""The bundled MNIST subset, the IDX reader, the checksum-verified download path (on small
IDX files written here, served by file:// URLs) and the synthetic multi-modal set."""
import hashlib

import numpy as np
import pytest

from symnb.sampling import datasets


def test_bundled_mnist_shapes_and_values():
    (X, y), (Xt, yt) = datasets.mnist()
    assert X.shape == (20000, 784) and Xt.shape == (5000, 784)
    assert X.dtype == np.uint8 and set(np.unique(X)) == {0, 1}
    assert y.shape == (20000,) and yt.shape == (5000,) and y.dtype.kind == "i"
    assert set(np.unique(y)) == set(range(10)) and np.bincount(y).min() > 1500
    assert 0.1 < X.mean() < 0.2          # MNIST binarized at 127: about 13% ink


def test_idx_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    for name, arr in [("a.idx", rng.integers(0, 256, (5, 3, 4)).astype(np.uint8)),
                      ("b.idx.gz", rng.integers(-9, 9, 7).astype(">i4")),
                      ("c.idx", rng.random((2, 3)).astype(np.float32))]:
        datasets.write_idx(tmp_path / name, arr)
        back = datasets.load_idx(tmp_path / name)
        assert back.shape == arr.shape and np.array_equal(back, arr)


def test_idx_rejects_bad_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        datasets.load_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + b"abc")
    with pytest.raises(ValueError, match="header says shape"):
        datasets.load_idx(tmp_path / "short")


def _tiny_mnist(folder):
    """Four small IDX files laid out like MNIST's, and their checksum table."""
    rng = np.random.default_rng(1)
    arrays = {"train_images": rng.integers(0, 256, (6, 28, 28)).astype(np.uint8),
              "train_labels": rng.integers(0, 10, 6).astype(np.uint8),
              "test_images": rng.integers(0, 256, (3, 28, 28)).astype(np.uint8),
              "test_labels": rng.integers(0, 10, 3).astype(np.uint8)}
    files = {}
    for key, arr in arrays.items():
        stem = f"tiny-{key}"
        datasets.write_idx(folder / f"{stem}.gz", arr)
        raw = datasets._read_bytes(folder / f"{stem}.gz")
        files[key] = (stem, hashlib.sha256(raw).hexdigest())
    return arrays, files


def test_mnist_idx_from_path(tmp_path):
    arrays, files = _tiny_mnist(tmp_path)
    (X, y), (Xt, yt) = datasets.mnist_idx(tmp_path, files=files)
    assert X.shape == (6, 784) and np.array_equal(X, arrays["train_images"].reshape(6, -1))
    assert np.array_equal(yt, arrays["test_labels"]) and yt.dtype == np.int64


def test_download_verifies_and_installs(tmp_path):
    served = tmp_path / "mirror"
    served.mkdir()
    arrays, files = _tiny_mnist(served)
    cache = tmp_path / "cache"
    (X, _), _ = datasets.mnist_idx(cache, download_missing=True, files=files, mirrors=[served.as_uri()])
    assert np.array_equal(X, arrays["train_images"].reshape(6, -1))
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{s}.gz" for s, _ in files.values())


def test_download_checksum_mismatch_and_offline(tmp_path):
    served = tmp_path / "mirror"
    served.mkdir()
    _, files = _tiny_mnist(served)
    stem, _ = files["train_labels"]
    with pytest.raises(ConnectionError, match="checksum mismatch"):
        datasets.download(stem, "0" * 64, tmp_path / "c1", mirrors=[served.as_uri()])
    assert not list((tmp_path / "c1").iterdir())      # nothing half-written is left behind
    with pytest.raises(ConnectionError, match="offline"):
        datasets.download(stem, "0" * 64, tmp_path / "c2", mirrors=["http://127.0.0.1:9/"], timeout=2)
    with pytest.raises(FileNotFoundError, match="download_missing=True"):
        datasets.mnist_idx(tmp_path / "empty", files=files)


def test_modes_are_separated():
    X, y = datasets.modes(n=500, n_visible=12, n_modes=4, flip=0.05, seed=0)
    P = datasets.prototypes(12, 4, 0)
    assert X.shape == (500, 12) and X.dtype == np.uint8 and set(np.unique(y)) == {0, 1, 2, 3}
    d = (P[:, None] != P[None]).sum(-1)
    assert d[~np.eye(4, dtype=bool)].min() >= 4
    assert ((X != P[y]).mean() < 0.1)
