"""Build the binarized MNIST subset that symnb.sampling ships (run once, at build time).

Reads the four standard IDX files from a folder (checksum-verified), keeps the first
20,000 training and 5,000 test images, binarizes them (pixel > 127) and writes them as
packed bits to symnb/sampling/data/mnist_binary_subset.npz.

    python scripts/build_mnist_subset.py PATH_TO_MNIST_IDX_FOLDER
"""
import argparse
from pathlib import Path

import numpy as np

from symnb.sampling import datasets

OUT = Path(__file__).resolve().parents[1] / "symnb" / "sampling" / "data" / datasets.SUBSET_FILE


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mnist_dir", help="folder with the standard MNIST IDX files (.gz or not)")
    ap.add_argument("--n-train", type=int, default=20000)
    ap.add_argument("--n-test", type=int, default=5000)
    ap.add_argument("--threshold", type=int, default=127)
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args(argv)
    (X, y), (Xt, yt) = datasets.mnist_idx(a.mnist_dir)
    train = (datasets.binarize(X[:a.n_train], a.threshold), y[:a.n_train])
    test = (datasets.binarize(Xt[:a.n_test], a.threshold), yt[:a.n_test])
    datasets.save_subset(a.out, train, test)
    print(f"{a.out}: {a.out.stat().st_size / 1e6:.2f} MB; train class counts {np.bincount(train[1])}, "
          f"test {np.bincount(test[1])}")


if __name__ == "__main__":
    main()
