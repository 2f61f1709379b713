"""`symnb.tensor.signal`: Theano's signal namespace (`from theano.tensor.signal import pool`)."""
from . import pool  # noqa: F401
