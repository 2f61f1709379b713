"""RBM sampling, built with symnb: data -> RBM (training) -> samplers -> mixing metrics.

`datasets` (bundled binarized MNIST subset, IDX loader, a small multi-modal set), `RBM`,
the samplers `Gibbs`, `RatesFPCD`, `Herding`, `mnist_rbm()` and the `mixing` metrics.
"""
from . import datasets  # noqa: F401
from .rbm import RBM  # noqa: F401
from .samplers import Gibbs, Herding, RatesFPCD, Sampler, rates  # noqa: F401
from .pretrained import mnist_rbm  # noqa: F401
from . import mixing  # noqa: F401
