"""``ndgrad.autograd``: ``backward`` and ``grad``, the public doors into the engine."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .engine import run_backward
from . import forward_ad, graph
from . import functional
from .anomaly_mode import detect_anomaly, set_detect_anomaly
from .function import Function
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled,
                        no_grad, set_grad_enabled)

# Bound by _tensor.py once the Tensor class exists (the two modules import each other).
Tensor = Size = _wrap = None

__all__ = ["backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
           "is_grad_enabled", "is_inference_mode_enabled", "Function", "forward_ad", "graph",
           "gradcheck", "gradgradcheck", "GradcheckError", "detect_anomaly", "set_detect_anomaly"]


def _tuple(x):
    if x is None:
        return None
    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def _make_grads(outputs, grads, create_graph):
    """Check or create the seed gradient of each output, as PyTorch's ``_make_grads`` does."""
    out = []
    for i, (o, g) in enumerate(zip(outputs, grads)):
        if isinstance(g, Tensor):
            if g._data.shape != o._data.shape:
                raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                                   f"{Size(g._data.shape)} and output[{i}] has a shape of "
                                   f"{Size(o._data.shape)}.")
            if o._data.dtype.kind == "c" and g._data.dtype.kind != "c":
                raise RuntimeError("For complex Tensors, both grad_output and output are required "
                                   "to have the same dtype. Mismatch in dtype: grad_output[" + str(i)
                                   + f"] has a dtype of {g.dtype} and output[{i}] has a dtype of "
                                   f"{o.dtype}.")
            out.append(g if create_graph else g._data.astype(o._data.dtype, copy=False))
        elif g is None:
            if o.requires_grad:
                if o._data.size != 1:
                    raise RuntimeError("grad can be implicitly created only for scalar outputs")
                if o._data.dtype.kind == "c":
                    raise RuntimeError("grad can be implicitly created only for real scalar outputs "
                                       f"but got {o.dtype}")
            ones = np.ones(o._data.shape, o._data.dtype)
            out.append(_wrap(ones) if create_graph else ones)
        else:
            raise TypeError("gradients can be either Tensors or None, but got " + type(g).__name__)
    return out


def _check_roots(outputs):
    for i, o in enumerate(outputs):
        # NOTE: a view cut before its base required grad requires grad but has no edge to run
        if not o.requires_grad or not o._requires_grad and o._sync_grad_fn() is None:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a "
                               "grad_fn")


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph: bool = False,
             grad_variables=None, inputs=None) -> None:
    """Accumulate gradients of ``tensors`` into the leaves' ``.grad`` (`torch.autograd.backward`)."""
    tensors = _tuple(tensors)
    if grad_tensors is None:
        grad_tensors = grad_variables
    grads = (None,) * len(tensors) if grad_tensors is None else _tuple(grad_tensors)
    if len(grads) != len(tensors):
        raise RuntimeError(f"got {len(grads)} tensors and {len(tensors)} gradients")
    if inputs is not None:
        inputs = _tuple(inputs)
        if len(inputs) == 0:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    if retain_graph is None:
        retain_graph = create_graph
    seeds = _make_grads(tensors, grads, create_graph)
    _check_roots(tensors)
    run_backward(tensors, seeds, retain_graph, create_graph, inputs=inputs, accumulate=True)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         only_inputs: bool = True, allow_unused=None, is_grads_batched: bool = False,
         materialize_grads: bool = False):
    """The gradients of ``outputs`` with respect to ``inputs``, returned rather than accumulated.

    >>> import ndgrad
    >>> x = ndgrad.tensor(3.0, requires_grad=True)
    >>> ndgrad.autograd.grad(x ** 2, x)
    (tensor(6.),)
    """
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, "
                         "but got: allow_unused=False.")
    if allow_unused is None:
        allow_unused = materialize_grads
    outputs = _tuple(outputs)
    single = isinstance(inputs, Tensor)
    inputs = _tuple(inputs)
    grads = (None,) * len(outputs) if grad_outputs is None else _tuple(grad_outputs)
    if len(grads) != len(outputs):
        raise RuntimeError(f"grad requires one grad_output per output: got {len(grads)} "
                           f"grad_outputs and {len(outputs)} outputs")
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    seeds = _make_grads(outputs, grads, create_graph)
    _check_roots(outputs)
    results = run_backward(outputs, seeds, retain_graph, create_graph, inputs=inputs,
                           accumulate=False)
    out = []
    seen = {id(s) for s in seeds}  # arrays a result must not share: seeds, earlier results
    for i, (t, r) in enumerate(zip(inputs, results)):
        if r is None:
            if not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have "
                                   "been used in the graph. Set allow_unused=True if this is the "
                                   "desired behavior.")
            if materialize_grads:
                r = _wrap(np.zeros(t._data.shape, t._data.dtype))
        elif not create_graph:
            # A result may be a seed or another result passed through (AddBackward hands `g` on),
            # or a read-only broadcast view: only then is it copied.
            # PERF: per-sample gradients under vmap are large; copying each cost ~40% there.
            if type(r) is not np.ndarray or id(r) in seen or id(r.base) in seen or \
                    not r.flags.writeable:
                r = np.array(r, copy=True)
            seen.add(id(r))
            r = _wrap(r)
        out.append(r)
    return tuple(out)
