"""Data for the samplers: the bundled binarized MNIST subset, the standard IDX files (from a
path or downloaded to the cache, checksum-verified) and a small multi-modal synthetic set.

First stage of the sampling flow: datasets -> RBM.fit -> samplers -> mixing metrics.
MNIST is by Yann LeCun, Corinna Cortes and Christopher J. C. Burges (CC BY-SA 3.0).
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
import tempfile
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path

import numpy as np

ATTRIBUTION = ("MNIST database of handwritten digits by Yann LeCun, Corinna Cortes and Christopher "
               "J. C. Burges, licensed CC BY-SA 3.0; binarized subset (pixel > 127) of it.")
SUBSET_FILE = "mnist_binary_subset.npz"
N_PIXELS = 784

# sha256 of the *uncompressed* IDX bytes: a mirror that re-gzips the files still verifies.
MNIST_FILES = {
    "train_images": ("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    "train_labels": ("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    "test_images": ("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "test_labels": ("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
}
MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/")

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


# ----------------------------------------------------------------------------- IDX files
def _read_bytes(path) -> bytes:
    path = Path(path)
    with (gzip.open(path) if path.suffix == ".gz" else open(path, "rb")) as f:
        return f.read()


def parse_idx(data: bytes, what="IDX data") -> np.ndarray:
    """The array an IDX byte string holds (magic 0,0,type,ndim; big-endian uint32 dims)."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{what}: not an IDX file (bad magic number {data[:4]!r})")
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        raise ValueError(f"{what}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    body = data[4 + 4 * ndim:]
    if len(body) != int(np.prod(shape)) * dtype.itemsize:
        raise ValueError(f"{what}: header says shape {shape} ({np.prod(shape) * dtype.itemsize} bytes) "
                         f"but {len(body)} bytes follow")
    return np.frombuffer(body, dtype).reshape(shape).astype(dtype.newbyteorder("="))


def load_idx(path) -> np.ndarray:
    """Read one IDX file (optionally gzipped, by its .gz suffix) into an array."""
    return parse_idx(_read_bytes(path), what=str(path))


def write_idx(path, array) -> None:
    """Write an array as an IDX file (gzipped when path ends in .gz): for tests and subsets."""
    array = np.asarray(array)
    code = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_DTYPES.items()}[array.dtype.newbyteorder("=")]
    big = array.astype(np.dtype(_IDX_DTYPES[code]))
    data = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + big.tobytes()
    with (gzip.open(path, "wb") if str(path).endswith(".gz") else open(path, "wb")) as f:
        f.write(data)


def _find(directory: Path, stem: str):
    for name in (stem, stem + ".gz"):
        if (directory / name).exists():
            return directory / name
    return None


def data_dir() -> Path:
    """Where downloaded data lives: $SYMNB_CACHE_DIR/data or ~/.cache/symnb/data."""
    env = os.environ.get("SYMNB_CACHE_DIR")
    return (Path(env).expanduser() if env else Path.home() / ".cache" / "symnb") / "data"


def _verified(path: Path, sha256: str) -> Path:
    digest = hashlib.sha256(_read_bytes(path)).hexdigest()
    if digest != sha256:
        raise ValueError(f"{path}: checksum mismatch (sha256 of its IDX bytes is {digest}, expected "
                         f"{sha256}); delete the file and download it again")
    return path


def download(stem: str, sha256: str, directory, mirrors=MNIST_MIRRORS, timeout=30.0) -> Path:
    """Fetch `stem`.gz from the first mirror that answers into `directory`, verify its
    checksum, and install it atomically. Raises ConnectionError naming every mirror tried."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    failures = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + stem + ".gz"
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".part.gz")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                shutil.copyfileobj(resp, out)
            _verified(Path(tmp), sha256)
            target = directory / (stem + ".gz")
            os.replace(tmp, target)
            return target
        except (urllib.error.URLError, OSError, ValueError) as exc:
            failures.append(f"{url}: {getattr(exc, 'reason', exc)}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise ConnectionError(f"could not download {stem} (offline?). Tried:\n  " + "\n  ".join(failures)
                          + f"\nPut the standard IDX file in {directory} or pass path= to a folder that has it.")


def mnist_idx(path=None, download_missing=False, files=MNIST_FILES, mirrors=MNIST_MIRRORS):
    """The full standard MNIST from its four IDX files: ((X, y), (Xt, yt)) with X uint8
    grey levels (N, 784) and int64 labels. Looks in `path` (a folder), else in the data
    cache; with download_missing=True it fetches what is missing (checksum-verified)."""
    directory = Path(path) if path is not None else data_dir() / "mnist"
    arrays = {}
    for key, (stem, sha) in files.items():
        found = _find(directory, stem)
        if found is None:
            if not download_missing:
                raise FileNotFoundError(f"{stem}[.gz] not found in {directory}; pass path= to the folder "
                                        "holding the MNIST IDX files, or download_missing=True")
            found = download(stem, sha, directory, mirrors)
        arrays[key] = load_idx(_verified(found, sha))
    flat = {k: (v.reshape(len(v), -1) if v.ndim == 3 else v.astype(np.int64)) for k, v in arrays.items()}
    return (flat["train_images"], flat["train_labels"]), (flat["test_images"], flat["test_labels"])


# ----------------------------------------------------------------------------- bundled subset
def binarize(images, threshold=127) -> np.ndarray:
    """Grey levels -> uint8 {0, 1} (pixel > threshold)."""
    return (np.asarray(images) > threshold).astype(np.uint8)


def save_subset(path, train, test) -> None:
    """Write ((X, y), (Xt, yt)) binary images as packed bits (the bundled file's format)."""
    (X, y), (Xt, yt) = train, test
    np.savez_compressed(path, train_bits=np.packbits(X, axis=1), train_labels=y.astype(np.uint8),
                        test_bits=np.packbits(Xt, axis=1), test_labels=yt.astype(np.uint8),
                        n_pixels=np.int64(X.shape[1]), attribution=np.array(ATTRIBUTION))


def load_subset(path):
    with np.load(path) as z:
        n = int(z["n_pixels"])
        return ((np.unpackbits(z["train_bits"], axis=1, count=n), z["train_labels"].astype(np.int64)),
                (np.unpackbits(z["test_bits"], axis=1, count=n), z["test_labels"].astype(np.int64)))


def mnist():
    """The bundled binarized MNIST subset (offline): ((X, y), (Xt, yt)), X uint8 {0,1}
    of shape (20000, 784), Xt (5000, 784), int64 labels 0..9. See ATTRIBUTION."""
    with resources.as_file(resources.files(__package__) / "data" / SUBSET_FILE) as path:
        return load_subset(path)


# ----------------------------------------------------------------------------- synthetic
def prototypes(n_visible=12, n_modes=4, seed=0, min_distance=None):
    """n_modes random binary patterns at pairwise Hamming distance >= min_distance
    (default n_visible // 3), so the modes are well separated."""
    min_distance = n_visible // 3 if min_distance is None else min_distance
    rng = np.random.default_rng(seed)
    for _ in range(10000):
        P = (rng.random((n_modes, n_visible)) < 0.5).astype(np.uint8)
        d = (P[:, None, :] != P[None, :, :]).sum(-1) + np.eye(n_modes, dtype=int) * n_visible
        if d.min() >= min_distance:
            return P
    raise ValueError(f"no {n_modes} patterns of {n_visible} bits at distance >= {min_distance}")


def modes(n=2000, n_visible=12, n_modes=4, flip=0.05, seed=0):
    """A small multi-modal binary data set: (X uint8 (n, n_visible), y int64 mode index).
    Each row is one of `n_modes` separated prototypes with each bit flipped with prob. flip.
    Small enough (2**n_visible states) that an RBM on it can be enumerated exactly."""
    P = prototypes(n_visible, n_modes, seed)
    rng = np.random.default_rng(seed + 1)
    y = rng.integers(0, n_modes, n)
    X = P[y] ^ (rng.random((n, n_visible)) < flip).astype(np.uint8)
    return X, y.astype(np.int64)
