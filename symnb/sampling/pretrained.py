"""mnist_rbm(): the 784-500 PCD RBM on the bundled MNIST subset, trained on first use and
cached on disk ($SYMNB_CACHE_DIR/models or ~/.cache/symnb/models).

Sits between datasets/rbm and the samplers: the default model of notebooks and widgets.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile

from . import datasets
from .rbm import RBM

# Changing any of these trains (and caches) a new model under a new name.
MNIST_RBM_SETTINGS = dict(n_hidden=500, method="pcd", epochs=10, batch_size=20, lr=0.05, seed=0)


def model_dir():
    return datasets.data_dir().parent / "models"


def mnist_rbm(progress=True, retrain=False, **overrides):
    """The 784-500 PCD RBM of the bundled MNIST subset (X of datasets.mnist()), with
    rbm.data set to that X. Trained on first use (about a minute on two cores) and loaded
    from the cache afterwards; keyword arguments override MNIST_RBM_SETTINGS."""
    settings = {**MNIST_RBM_SETTINGS, **overrides}
    (X, _), _ = datasets.mnist()
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    path = model_dir() / f"mnist_rbm_{key}.npz"
    if path.exists() and not retrain:
        try:
            rbm = RBM.load(path)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):      # a damaged cache entry: train again
            rbm = None
        if rbm is not None and rbm.W.shape == (784, settings["n_hidden"]):
            rbm.data = X
            return rbm
    rbm = RBM(784, settings["n_hidden"], seed=settings["seed"])
    rbm.fit(X, method=settings["method"], epochs=settings["epochs"], batch_size=settings["batch_size"],
            lr=settings["lr"], progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
    os.close(fd)
    try:
        rbm.save(tmp)
        os.replace(tmp, path)           # atomic: a concurrent reader sees all or nothing
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return rbm
