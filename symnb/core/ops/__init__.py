"""The op set of the core, by topic; `from symnb.core import ops` gives every constructor."""
from .base import Op, apply_op, NotDifferentiableError  # noqa: F401
from .elemwise import *  # noqa: F401,F403
from .elemwise import SCALAR_OPS, Elemwise, cast, zeros_like, ones_like, clip, where, apply_elemwise  # noqa: F401
from .elemwise import abs, pow, round, true_div  # noqa: F401
from .reduce import (Reduce, sum, prod, max, min, argmax, argmin, all, any, mean, var, std,  # noqa: F401
                     logsumexp, reduce_)
from .shape import (Shape, MakeVector, Alloc, DimShuffle, Reshape, Join,  # noqa: F401
                    shape, alloc, zeros, ones, full, sum_to, dimshuffle, transpose, expand_dims,
                    squeeze, reshape, flatten, concatenate, stack, as_shape)
from .creation import Arange, Eye, arange, eye  # noqa: F401
from .subtensor import Subtensor, IncSubtensor, subtensor, set_subtensor, inc_subtensor  # noqa: F401
from .blas import Dot, BatchedMatmul, dot, matmul, outer, tensordot  # noqa: F401
from .nnet import (Softmax, LogSoftmax, LogSoftmaxGrad, softmax, log_softmax, relu, binary_crossentropy,  # noqa: F401
                   sigmoid_binary_crossentropy, categorical_crossentropy, xlogx, xlogy0)
from .conv import Conv2d, Conv2dGradInputs, Conv2dGradFilters, conv2d  # noqa: F401
from .pool import Pool, MaxPoolGrad, MaxPoolGradGrad, AveragePoolGrad, pool_2d  # noqa: F401
from .fused import Fused, scalar_placeholder  # noqa: F401
from .loop import MapRange, map_range  # noqa: F401
