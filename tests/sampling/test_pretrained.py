"""mnist_rbm(): trained on first use, then loaded from its cache file; a damaged entry is
retrained. (A 784-8 RBM for one epoch keeps it fast; the real one is 784-500.)"""
import numpy as np

from symnb.sampling import pretrained


def test_mnist_rbm_trains_once_then_loads(tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained, "model_dir", lambda: tmp_path)
    small = dict(n_hidden=8, epochs=1, batch_size=100, progress=False)
    rbm = pretrained.mnist_rbm(**small)
    assert rbm.W.shape == (784, 8) and rbm.data.shape == (20000, 784) and len(rbm.history) == 1
    files = list(tmp_path.glob("mnist_rbm_*.npz"))
    assert len(files) == 1
    again = pretrained.mnist_rbm(**small)
    assert again.history == [] and np.array_equal(again.W, rbm.W)      # loaded, not retrained
    files[0].write_bytes(b"not an npz file")
    fixed = pretrained.mnist_rbm(**small)
    assert len(fixed.history) == 1 and np.array_equal(fixed.W, rbm.W)   # retrained, same seed
