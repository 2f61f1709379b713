"""`symnb.tensor.signal.pool`: Theano's pooling module (`pool.pool_2d(x, ws=(2, 2), ...)`)."""
from ...core.ops.pool import MODES, AveragePoolGrad, MaxPoolGrad, MaxPoolGradGrad, Pool, pool_2d  # noqa: F401
