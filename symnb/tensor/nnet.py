"""`symnb.tensor.nnet`, where Theano code imports its network ops from (`from
theano.tensor.nnet import conv2d`): the same ops as in symnb.tensor, under Theano's names."""
from ..core.ops import (conv2d, sigmoid, softplus, softmax, log_softmax, relu,  # noqa: F401
                        binary_crossentropy, sigmoid_binary_crossentropy, categorical_crossentropy)
from ..core.ops import Conv2d, Conv2dGradInputs, Conv2dGradFilters  # noqa: F401

logsoftmax = log_softmax
