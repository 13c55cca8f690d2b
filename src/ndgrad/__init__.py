"""ndgrad: PyTorch's autograd on NumPy. ``import ndgrad as torch`` runs PyTorch autograd code.

This module only gathers the public names; see ``_tensor`` (the Tensor), ``_ops`` (the op table),
``autograd/engine`` (the engine) and ``autograd/grad_mode`` (grad modes).
"""
from __future__ import annotations

import warnings as _warnings

# NOTE: PyTorch computes inf and nan silently (log(0), exp(1000), 0/0, their gradients); NumPy
# warns on each ("divide by zero encountered in log"). Those warnings are attributed to the
# line that called NumPy, here always a module of ndgrad, so this filter hides exactly them: a
# user's own NumPy code keeps its warnings, and ndgrad's hot path pays nothing (an np.errstate
# per op would). ndgrad's own warnings are UserWarnings and are not affected. An import inside a
# `warnings.catch_warnings()` block (pytest collects tests in one) loses the filter with the
# block's other filters when the block ends.
_warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"ndgrad(\.|$)")

from . import _malloc  # noqa: F401  glibc's malloc thresholds (see the module; NDGRAD_MALLOC)
from ._dtypes import (bool_ as bool, complex64, complex128, dtype, float16, float32, float64,
                      get_default_dtype, int8, int16, int32, int64, promote_types,
                      set_default_dtype, uint8)
from ._dtypes import float16 as half, float32 as float, float64 as double, int16 as short
from ._dtypes import int32 as int, int64 as long, complex64 as cfloat, complex128 as cdouble
from ._tensor import Size, Tensor, device
from ._printing import set_printoptions, get_printoptions
from ._kernels import get_num_threads, set_num_threads
from ._creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like,
                        linspace, logspace, manual_seed, initial_seed, normal, ones, ones_like,
                        rand, rand_like, randint, randint_like, randn, randn_like, randperm,
                        tensor, zeros, zeros_like)
from ._api import (abs, add, clone, cos, div, eq, exp, ge, gt, le, log, lt, mean, mul, ne, neg,
                   pow, reciprocal, relu, rsub, sigmoid, sign, sin, sqrt, sub, sum, tanh, where)
from ._api import (div as divide, div as true_divide, mul as multiply, neg as negative,
                   sub as subtract, abs as absolute)
from ._math import *  # noqa: F401,F403  elementwise math beyond the core
from ._reduce import *  # noqa: F401,F403  reductions
from ._shape import *  # noqa: F401,F403  shape, indexing and view ops
from ._linalg import *  # noqa: F401,F403  matmul and friends
from . import autograd, linalg, nn
from .nn.functional import _torch_softmax as softmax, _torch_log_softmax as log_softmax
from .autograd import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled,
                       no_grad, set_grad_enabled)
from .autograd.anomaly_mode import is_anomaly_check_nan_enabled, is_anomaly_enabled
from . import utils
from . import func
from . import _out

for _name in _out.ELEMENTWISE + _out.PRODUCTS:
    globals()[_name] = _out.with_out(globals()[_name], _name)
del _name

__version__ = "0.1.0"
strided = "torch.strided"


def is_tensor(obj) -> bool:
    """Whether ``obj`` is a Tensor."""
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    return input.numel()


def result_type(tensor1, tensor2):
    """The dtype an arithmetic op on the two would give (`torch.result_type`)."""
    return _out.common_dtype((tensor1, tensor2))


def can_cast(from_, to) -> bool:
    from ._dtypes import category
    return category(from_) <= category(to)
