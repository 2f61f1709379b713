"""symnb: a Theano-style symbolic expression compiler for Jupyter.

Data flow (each stage can be inspected on its own):

    cell source --> magics (parse options, exec cell) --> graph (symnb.core)
      --> rewrite pipeline (symnb.core.rewrite: named passes, each step recorded)
      --> backend renderer (symnb.kernels.<backend>: graph -> source text)
      --> compiler + disk cache (g++ / NVRTC) --> program (loaded module / RawKernel)
      --> compiled function (symnb.function) --> display (symnb.viz)
"""
from __future__ import annotations

from .core.graph import Constant, SharedVariable, Variable, shared  # noqa: F401
from .core.grad import (DisconnectedInputError, GradientError, grad, hessian, jacobian,  # noqa: F401
                        verify_grad)
from .core.ops import NotDifferentiableError  # noqa: F401
from .core.random import RandomStream  # noqa: F401
from .core.printing import dprint, latex, pp  # noqa: F401
from .core.rewrite import rewrite  # noqa: F401
from .core.scan import scan, until  # noqa: F401
from .core.types import TensorType  # noqa: F401
from .function import Function, PythonFallbackWarning, codegen, function, nodes  # noqa: F401
from . import scalar  # noqa: F401  (sn.scalar.upcast, as theano.scalar.upcast)
from . import scan_module, tensor  # noqa: F401
from . import viz  # noqa: F401  (also gives Function, sn.rewrite's result and f.source their notebook displays)

__version__ = "0.1.0"


def load_ipython_extension(ipython):
    """`%load_ext symnb`: registers the %%symbolic cell magic."""
    from .magics import load_ipython_extension as load
    load(ipython)
