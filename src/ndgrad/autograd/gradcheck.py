"""Gradient checks (`torch.autograd.gradcheck`, `gradgradcheck`): the analytical Jacobian from
backward against central finite differences, one input element and one output element at a time."""
from __future__ import annotations

import warnings

import numpy as np

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` when the analytical and numerical Jacobians disagree."""


def _as_tuple(x):
    return x if isinstance(x, tuple) else tuple(x) if isinstance(x, list) else (x,)


def _is_diff(x) -> bool:
    from .._tensor import Tensor
    return isinstance(x, Tensor) and x.requires_grad


def _outputs(func, inputs):
    from .._tensor import Tensor
    return [o for o in _as_tuple(func(*inputs)) if isinstance(o, Tensor)]


def _numerical(func, inputs, diff, outputs, eps):
    """jac[j][i]: (numel of input j, numel of output i), by central differences in place."""
    jac = []
    for j in diff:
        x = inputs[j]._data
        flat = x.reshape(-1)  # NOTE: a view of x when x is contiguous
        if not np.shares_memory(flat, x):
            raise ValueError("gradcheck needs contiguous inputs")
        cols = [np.zeros((x.size, o._data.size), o._data.dtype) for o in outputs]
        for k in range(x.size):
            orig = flat[k].copy()
            flat[k] = orig + eps
            plus = [o._data.copy() for o in _outputs(func, inputs)]
            flat[k] = orig - eps
            minus = [o._data.copy() for o in _outputs(func, inputs)]
            flat[k] = orig
            for c, p, m in zip(cols, plus, minus):
                c[k] = ((p - m) / (2 * eps)).reshape(-1)
        jac.append(cols)
    return jac


def _analytical(inputs, diff, outputs):
    """jac[j][i] from one backward pass per output element."""
    from .._tensor import _wrap
    from . import grad
    xs = [inputs[j] for j in diff]
    jac = [[np.zeros((xs[j]._data.size, o._data.size), xs[j]._data.dtype) for o in outputs]
           for j in range(len(xs))]
    for i, o in enumerate(outputs):
        if not o.requires_grad:
            continue
        for m in range(o._data.size):
            seed = np.zeros(o._data.size, o._data.dtype)
            seed[m] = 1
            gs = grad(o, xs, _wrap(seed.reshape(o._data.shape)), retain_graph=True,
                      allow_unused=True)
            for j, g in enumerate(gs):
                if g is not None:
                    jac[j][i][:, m] = g._data.reshape(-1)
    return jac


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, nondet_tol: float = 0.0,
              check_undefined_grad: bool = True, check_grad_dtypes: bool = False,
              check_batched_grad: bool = False, check_batched_forward_grad: bool = False,
              check_forward_ad: bool = False, check_backward_ad: bool = True,
              fast_mode: bool = False, masked=None) -> bool:
    """Whether backward's Jacobian matches finite differences (`torch.autograd.gradcheck`).

    >>> import ndgrad
    >>> x = ndgrad.tensor([1., 2.], dtype=ndgrad.float64, requires_grad=True)
    >>> ndgrad.autograd.gradcheck(lambda t: (t * t).sum(), (x,))
    True
    """
    from .._tensor import _wrap
    inputs = _as_tuple(inputs)
    diff = [i for i, x in enumerate(inputs) if _is_diff(x)]
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but "
                         "none of them have requires_grad=True.")
    for i in diff:
        if inputs[i]._data.dtype not in (np.float64, np.complex128):
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating "
                          "point or complex. This check will likely fail if all the inputs are "
                          "not of double precision floating point or complex. ", UserWarning,
                          stacklevel=2)
    outputs = _outputs(func, inputs)
    if not check_backward_ad:
        return True
    numerical = _numerical(func, inputs, diff, outputs, eps)
    analytical = _analytical(inputs, diff, outputs)
    for i in range(len(outputs)):
        for j in range(len(diff)):
            n, a = numerical[j][i], analytical[j][i]
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                if not raise_exception:
                    return False
                dt = inputs[diff[j]]._data.dtype
                raise GradcheckError(
                    f"Jacobian mismatch for output {i} with respect to input {j},\n"
                    f"numerical:{_wrap(n.astype(dt))}\nanalytical:{_wrap(a.astype(dt))}\n")
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, gen_non_contig_grad_outputs: bool = False,
                  raise_exception: bool = True, nondet_tol: float = 0.0,
                  check_undefined_grad: bool = True, check_grad_dtypes: bool = False,
                  check_batched_grad: bool = False, check_fwd_over_rev: bool = False,
                  check_rev_over_rev: bool = True, fast_mode: bool = False, masked=None) -> bool:
    """``gradcheck`` of the function that maps (inputs, grad_outputs) to the input gradients,
    i.e. of second derivatives (`torch.autograd.gradgradcheck`)."""
    from .. import rand
    from . import grad
    inputs = _as_tuple(inputs)
    if grad_outputs is None:
        outs = [o for o in _outputs(func, inputs) if o.requires_grad]
        grad_outputs = tuple((rand(*o.shape, dtype=o.dtype) * 2 - 1).requires_grad_()
                             for o in outs)
    grad_outputs = _as_tuple(grad_outputs)
    n_out = len(grad_outputs)

    def grads_of(*args):
        xs, gos = args[:-n_out], args[-n_out:]
        outs = [o for o in _outputs(func, xs) if o.requires_grad]
        diff_xs = [x for x in xs if _is_diff(x)]
        gs = grad(outs, diff_xs, gos, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(grads_of, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
