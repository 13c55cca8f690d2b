"""The public op functions (``ndgrad.exp``, ``ndgrad.sum``...) and the Tensor methods that
forward to them. Argument handling lives here; the math lives in the op table (``_ops``)."""
from __future__ import annotations

import types

import numpy as np

from . import _dtypes
from . import _out
from . import _ops as O
from ._dtypes import to_dtype
from ._ops import apply, binary, inplace, rbinary, unary
from ._tensor import Tensor, _wrap, _wrap_dim
from .autograd.grad_mode import state

_Number = (bool, int, float, complex)


def _dims(dim, ndim):
    """Normalize ``dim`` (an int or a sequence of ints) to a sorted tuple of non-negative dims."""
    if isinstance(dim, (list, tuple)):
        wrapped = [_wrap_dim(d, ndim) for d in dim]
        for d in wrapped:
            if wrapped.count(d) > 1:
                raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        return tuple(sorted(wrapped)) if ndim else ()
    return (_wrap_dim(dim, ndim),) if ndim else ()


def _tensor_arg(x, name="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(x).__name__}")
    return x


# -- arithmetic ------------------------------------------------------------------------------
def add(input, other, *, alpha=1, out=None) -> Tensor:
    """``input + alpha * other``.

    >>> import ndgrad
    >>> ndgrad.add(ndgrad.tensor([1., 2.]), 1)
    tensor([2., 3.])
    """
    if out is not None:
        return _out.into("add", out, (input, other), lambda: add(input, other, alpha=alpha))
    if not isinstance(input, Tensor):
        input, other = other, input  # add is symmetric; keep a tensor first
        if alpha != 1:
            return add(ndgrad_tensor(other), input, alpha=alpha)
    if alpha != 1:
        return apply(O.ADD_ALPHA, input, other, attrs=(alpha,))
    return binary(O.ADD, input, other)


def ndgrad_tensor(x):
    return x if isinstance(x, Tensor) else _wrap(np.asarray(x))


_is_bool = O._is_bool


def sub(input, other, *, alpha=1, out=None) -> Tensor:
    """``input - alpha * other``."""
    if out is not None:
        return _out.into("sub", out, (input, other), lambda: sub(input, other, alpha=alpha))
    # PERF: tensors are checked inline, as fast as the input-only check this replaced
    if (input._data.dtype.kind == "b" if type(input) is Tensor else _is_bool(input)) or (
            other._data.dtype.kind == "b" if type(other) is Tensor else _is_bool(other)):
        O.refuse_bool_subtraction((input, other))
    if not isinstance(input, Tensor):
        # NOTE: PyTorch wraps the number as a tensor: SubBackward0, with no edge for it
        return apply(O.SUB, input, other) if alpha == 1 else \
            apply(O.SUB_ALPHA, input, other, attrs=(alpha,))
    if alpha != 1:
        return apply(O.SUB_ALPHA, input, other, attrs=(alpha,))
    return binary(O.SUB, input, other)


def rsub(input, other, *, alpha=1) -> Tensor:
    """``other - alpha * input``."""
    if isinstance(other, Tensor):
        return apply(O.RSUB_TENSOR, input, other) if alpha == 1 else \
            apply(O.RSUB_TENSOR_ALPHA, input, other, attrs=(alpha,))
    return apply(O.RSUB, input, other) if alpha == 1 else \
        apply(O.RSUB_ALPHA, input, other, attrs=(alpha,))


def mul(input, other, *, out=None) -> Tensor:
    """``input * other``."""
    if out is not None:
        return _out.into("mul", out, (input, other), lambda: mul(input, other))
    if not isinstance(input, Tensor):
        input, other = other, input
    return binary(O.MUL, input, other)


def _check_rounding_mode(rounding_mode, input, other):
    if rounding_mode not in ("floor", "trunc"):
        raise RuntimeError("div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                           f"but found '{rounding_mode}'")
    if _is_bool(input) and _is_bool(other):
        raise NotImplementedError(f'"div_{rounding_mode}_cpu" not implemented for \'Bool\'')


def div(input, other, *, rounding_mode=None, out=None) -> Tensor:
    """``input / other`` (true division; integers give the default float dtype)."""
    if out is not None:
        return _out.into("div", out, (input, other),
                         lambda: div(input, other, rounding_mode=rounding_mode))
    if rounding_mode is not None:
        _check_rounding_mode(rounding_mode, input, other)
        return apply(O.DIV_MODE, input, other, attrs=(rounding_mode,))
    if not isinstance(input, Tensor):
        return mul(reciprocal(other), input)
    if input._data.dtype.kind != "f":
        return apply(O.DIV, input, other)
    return binary(O.DIV, input, other)


def neg(input) -> Tensor:
    """``-input``."""
    if input._data.dtype.kind == "b":
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you "
                           "are trying to invert a mask, use the `~` or `logical_not()` operator "
                           "instead.")
    return unary(O.NEG, input)  # PERF: the one-input hot path for floats: 22.2k -> 15.3k


def reciprocal(input) -> Tensor:
    return unary(O.RECIPROCAL, input)


def pow(input, exponent) -> Tensor:
    """``input ** exponent``; either side may be a number."""
    if not isinstance(input, Tensor):
        return apply(O.RPOW, input, exponent)
    if isinstance(exponent, Tensor):
        if exponent._data.ndim == 0 and exponent._grad_fn is None and not exponent._requires_grad \
                and input._data.ndim:
            exponent = exponent.item()
        else:
            return apply(O.POW_TENSOR, input, exponent)
    if isinstance(exponent, int) and exponent < 0 and input._data.dtype.kind in "iub":
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    return binary(O.POW, input, exponent)


def abs(input) -> Tensor:
    return unary(O.ABS, input)


def exp(input) -> Tensor:
    return unary(O.EXP, input)


def log(input) -> Tensor:
    return unary(O.LOG, input)


def sqrt(input) -> Tensor:
    return unary(O.SQRT, input)


def sin(input) -> Tensor:
    return unary(O.SIN, input)


def cos(input) -> Tensor:
    return unary(O.COS, input)


def tanh(input) -> Tensor:
    return unary(O.TANH, input)


def sigmoid(input) -> Tensor:
    return unary(O.SIGMOID, input)


def relu(input) -> Tensor:
    return unary(O.RELU, input)


def sign(input) -> Tensor:
    return unary(O.SIGN, input)


def where(condition, input, other) -> Tensor:
    """Elements of ``input`` where ``condition`` holds, else of ``other``."""
    return apply(O.WHERE, condition, input, other)


# -- reductions ------------------------------------------------------------------------------
def _sum_dtype(input, dtype):
    if dtype is not None:
        return to_dtype(dtype).np
    return np.dtype(np.int64) if input._data.dtype.kind in "biu" else None


def sum(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """The sum of all elements, or over ``dim``.

    >>> import ndgrad
    >>> ndgrad.tensor([[1, 2], [3, 4]]).sum(0)
    tensor([4, 6])
    """
    d = _sum_dtype(input, dtype)
    if dim is None:
        return apply(O.SUM, input, attrs=(d,))
    return apply(O.SUM_DIM, input, attrs=(_dims(dim, input._data.ndim), keepdim, d))


def mean(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """The mean of all elements, or over ``dim``; floating and complex dtypes only."""
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind not in "fc":
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {input.dtype._legacy}")
    if dim is None:
        return unary(O.MEAN, input)  # PERF: the one-input hot path: 36.6k -> 30.5k instructions
    return apply(O.MEAN_DIM, input, attrs=(_dims(dim, input._data.ndim), keepdim))


# -- comparisons -----------------------------------------------------------------------------
def eq(input, other):
    return apply(O.EQ, input, other)


def ne(input, other):
    return apply(O.NE, input, other)


def lt(input, other):
    return apply(O.LT, input, other)


def le(input, other):
    return apply(O.LE, input, other)


def gt(input, other):
    return apply(O.GT, input, other)


def ge(input, other):
    return apply(O.GE, input, other)


# -- copies and shapes -----------------------------------------------------------------------
def clone(input, *, memory_format=None) -> Tensor:
    return unary(O.CLONE, input)  # PERF: the one-input hot path: 21.9k -> 15.6k


def to_dtype(x: Tensor, dtype) -> Tensor:
    return apply(O.TO_COPY, x, attrs=(_dtypes.to_dtype(dtype).np,))


# ---------------------------------------------------------------------------------------------
# Tensor methods: one line each
# ---------------------------------------------------------------------------------------------

def _scalar_or_tensor(x):
    return isinstance(x, (Tensor,) + _Number) or isinstance(x, np.generic)


T = Tensor
# PERF: the operators go straight to the hot path, which rejects unsupported operand types.
T.__add__ = lambda self, other: binary(O.ADD, self, other)
T.__radd__ = T.__add__
T.__sub__ = lambda self, other: binary(O.SUB, self, other) if self._data.dtype.kind != "b" \
    else sub(self, other)
T.__rsub__ = lambda self, other: apply(O.RSUB, self, other) if _scalar_or_tensor(other) else NotImplemented
T.__mul__ = lambda self, other: binary(O.MUL, self, other)
T.__rmul__ = T.__mul__
T.__truediv__ = lambda self, other: binary(O.DIV, self, other) if self._data.dtype.kind == "f" \
    else div(self, other) if _scalar_or_tensor(other) else NotImplemented
T.__rtruediv__ = lambda self, other: mul(reciprocal(self), other) if _scalar_or_tensor(other) else NotImplemented
T.__pow__ = lambda self, other: pow(self, other) if _scalar_or_tensor(other) else NotImplemented
T.__rpow__ = lambda self, other: apply(O.RPOW, other, self) if _scalar_or_tensor(other) else NotImplemented
T.__neg__ = neg
T.__pos__ = lambda self: self
T.__abs__ = abs
T.__eq__ = lambda self, other: eq(self, other) if _scalar_or_tensor(other) else NotImplemented
T.__ne__ = lambda self, other: ne(self, other) if _scalar_or_tensor(other) else NotImplemented
T.__lt__ = lt
T.__le__ = le
T.__gt__ = gt
T.__ge__ = ge
T.__and__ = lambda self, other: apply(O.BITWISE_AND, self, other)
T.__or__ = lambda self, other: apply(O.BITWISE_OR, self, other)
T.__xor__ = lambda self, other: apply(O.BITWISE_XOR, self, other)
T.__rand__, T.__ror__, T.__rxor__ = T.__and__, T.__or__, T.__xor__
T.__invert__ = lambda self: apply(O.BITWISE_NOT, self)
T.__iadd__ = lambda self, other: inplace(O.ADD, self, other)
T.__isub__ = lambda self, other: inplace(O.SUB, self, other)
T.__imul__ = lambda self, other: inplace(O.MUL, self, other)
T.__itruediv__ = lambda self, other: inplace(O.DIV, self, other)


# NOTE: the methods take no out= (as in PyTorch): Python's TypeError names them.
def _add_method(self, other, *, alpha=1):
    return binary(O.ADD, self, other) if alpha == 1 else add(self, other, alpha=alpha)


def _sub_method(self, other, *, alpha=1):
    return sub(self, other, alpha=alpha)


def _mul_method(self, other):
    return binary(O.MUL, self, other)


def _div_method(self, other, *, rounding_mode=None):
    return div(self, other, rounding_mode=rounding_mode)


def _named(f, name):
    """``f`` under another name, the one Python's argument errors show."""
    g = types.FunctionType(f.__code__, f.__globals__, name, f.__defaults__, f.__closure__)
    g.__kwdefaults__, g.__qualname__ = f.__kwdefaults__, name
    return g


for _method, _names in ((_add_method, ("add",)), (_sub_method, ("sub", "subtract")),
                        (_mul_method, ("mul", "multiply")),
                        (_div_method, ("div", "divide", "true_divide"))):
    for _name in _names:
        setattr(T, _name, _named(_method, _name))
T.neg = neg
T.negative = neg
T.reciprocal = reciprocal
T.pow = pow
T.abs = abs
T.exp = exp
T.log = log
T.sqrt = sqrt
T.sin = sin
T.cos = cos
T.tanh = tanh
T.sigmoid = sigmoid
T.relu = relu
T.sign = sign
T.sum = sum
T.mean = mean
T.eq = eq
T.ne = ne
T.lt = lt
T.le = le
T.gt = gt
T.ge = ge
T.clone = clone
T.add_ = lambda self, other, *, alpha=1: inplace(O.ADD, self, other) if alpha == 1 else \
    inplace(O.ADD_ALPHA, self, other, attrs=(alpha,))
T.sub_ = lambda self, other, *, alpha=1: inplace(O.SUB, self, other) if alpha == 1 else \
    inplace(O.SUB_ALPHA, self, other, attrs=(alpha,))
T.mul_ = lambda self, other: inplace(O.MUL, self, other)


def _div_(self, other, *, rounding_mode=None):
    if rounding_mode is None:
        return inplace(O.DIV, self, other)
    _check_rounding_mode(rounding_mode, self, other)
    return inplace(O.DIV_MODE, self, other, attrs=(rounding_mode,))


T.div_ = _div_


def zero_(self: Tensor) -> Tensor:
    """Fill with zeros in place."""
    if not (state.enabled and (self._grad_fn is not None or self._requires_grad)) and \
            O._FWD is None and O._VMAP is None and self._data.flags.writeable:
        # PERF: `x.grad.zero_()` records nothing: one fill, one version bump (~3x faster)
        self._data.fill(0)
        self._vc[0] += 1
        return self
    return inplace(O.ZERO, self)


T.zero_ = zero_
T.fill_ = lambda self, value: inplace(O.FILL_TENSOR, self, value) if isinstance(value, Tensor) \
    else inplace(O.FILL, self, attrs=(value,))
T.copy_ = lambda self, src, non_blocking=False: inplace(O.COPY, self, src)
