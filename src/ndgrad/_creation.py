"""Tensor factories: ``tensor``, ``zeros``, ``arange``, the random ones and the ``*_like`` forms."""
from __future__ import annotations

import warnings

import numpy as np

from . import _dtypes
from . import _out
from ._dtypes import FROM_NUMPY, get_default_dtype, to_dtype
from ._tensor import Tensor, _wrap
from .autograd.grad_mode import state

_rng = np.random.default_rng()


def manual_seed(seed: int):
    """Seed the generator behind ``rand``, ``randn``, ``randint`` and dropout."""
    global _rng
    _rng = np.random.default_rng(int(seed))
    return _rng


def initial_seed() -> int:
    return int(_rng.bit_generator.seed_seq.entropy)


def generator() -> np.random.Generator:
    return _rng


def _finish(arr: np.ndarray, requires_grad: bool, message: str = "only") -> Tensor:
    t = _wrap(arr)
    if requires_grad:
        if arr.dtype.kind not in "fc":
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        t._requires_grad = True
    return t


def _np_dtype(dtype, default):
    return (default if dtype is None else to_dtype(dtype)).np


def _unpack_tensors(data):
    if isinstance(data, Tensor):
        return data._data
    if isinstance(data, (list, tuple)):
        return [_unpack_tensors(d) for d in data]
    return data


def _infer(data) -> np.ndarray:
    """An array from Python data, with PyTorch's dtype inference (floats -> default dtype)."""
    if isinstance(data, np.ndarray):
        if data.dtype not in FROM_NUMPY:
            raise TypeError(f"can't convert np.ndarray of type {data.dtype.type.__module__}."
                            f"{data.dtype.type.__name__}. The only supported types are: float64, "
                            "float32, float16, complex64, complex128, int64, int32, int16, int8, "
                            "uint8, and bool.")
        return data
    if isinstance(data, np.generic):
        return np.asarray(data)
    try:
        arr = np.array(_unpack_tensors(data))
    except ValueError:
        _ragged(data, 0)
        raise
    kind = arr.dtype.kind
    if kind == "f":
        return arr.astype(get_default_dtype().np)
    if kind == "c":
        return arr.astype(_dtypes.default_complex().np)
    if kind in "iu":
        return arr.astype(np.int64)
    if kind == "b":
        return arr
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


def _ragged(data, dim):
    if isinstance(data, (list, tuple)) and data and isinstance(data[0], (list, tuple)):
        n = len(data[0])
        for d in data:
            if not isinstance(d, (list, tuple)) or len(d) != n:
                got = len(d) if isinstance(d, (list, tuple)) else type(d).__name__
                raise ValueError(f"expected sequence of length {n} at dim {dim + 1} (got {got})")
        for d in data:
            _ragged(d, dim + 1)


def tensor(data, dtype=None, device=None, requires_grad: bool = False, pin_memory=False) -> Tensor:
    """A new tensor holding a copy of ``data``.

    >>> import ndgrad
    >>> ndgrad.tensor([1, 2, 3], dtype=ndgrad.float)
    tensor([1., 2., 3.])
    """
    if isinstance(data, Tensor):
        warnings.warn("To copy construct from a tensor, it is recommended to use "
                      "sourceTensor.detach().clone() or sourceTensor.detach().clone()."
                      "requires_grad_(True), rather than torch.tensor(sourceTensor).",
                      UserWarning, stacklevel=2)
    if dtype is not None and not isinstance(data, (np.ndarray, np.generic)):
        # convert Python numbers straight to the requested dtype: no rounding through float32
        try:
            arr = np.array(_unpack_tensors(data), dtype=to_dtype(dtype).np)
        except ValueError:
            _ragged(data, 0)
            raise
    else:
        arr = _infer(data)
        arr = np.array(arr, dtype=None if dtype is None else to_dtype(dtype).np, copy=True)
    return _finish(arr, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """A tensor sharing memory with ``data`` when it is an array (or tensor) of the right dtype."""
    if isinstance(data, Tensor):
        return data if dtype is None or to_dtype(dtype) is data.dtype else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or to_dtype(dtype).np == data.dtype):
        return from_numpy(data)
    arr = _infer(data)
    return _wrap(arr if dtype is None else arr.astype(to_dtype(dtype).np))


def from_numpy(arr: np.ndarray) -> Tensor:
    """A tensor that shares memory with a NumPy array."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(arr).__name__})")
    return _wrap(_infer(arr))


def _size(size, fn: str = "zeros") -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (int, np.integer)) and not (isinstance(s, Tensor) and s.numel() == 1):
            raise TypeError(f"zeros(): argument 'size' (position 1) must be tuple of ints, but "
                            f"found element of type {type(s).__name__} at pos 0")
    size = tuple(int(s) for s in size)
    for s in size:
        if s < 0:
            raise RuntimeError(f"{fn}: Dimension size must be non-negative.")
    return size


def zeros(*size, dtype=None, device=None, requires_grad: bool = False, out=None) -> Tensor:
    """A tensor of zeros. ``ndgrad.zeros(2, 3)`` or ``ndgrad.zeros((2, 3))``."""
    if out is not None:
        return _filled_out("zeros", out, _size(size), 0, dtype, requires_grad)
    return _finish(np.zeros(_size(size), _np_dtype(dtype, get_default_dtype())), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad: bool = False, out=None) -> Tensor:
    """A tensor of ones."""
    if out is not None:
        return _filled_out("ones", out, _size(size, "ones"), 1, dtype, requires_grad)
    return _finish(np.ones(_size(size, "ones"), _np_dtype(dtype, get_default_dtype())), requires_grad)


def empty(*size, dtype=None, device=None, requires_grad: bool = False, out=None,
          memory_format=None) -> Tensor:
    """An uninitialized tensor (zero-filled here, which is one valid uninitialized value); with
    ``out``, that tensor resized (its elements kept, as PyTorch keeps its storage's)."""
    if out is not None:
        _out_dtype("empty", out, dtype)
        if out.requires_grad:
            raise RuntimeError("cannot resize variables that require grad")
        if _out.resize_out(out, _size(size), warn=False):
            out._vc[0] += 1
        return _out_requires_grad(out, requires_grad)
    return zeros(*size, dtype=dtype, requires_grad=requires_grad)


def _out_dtype(name: str, out, dtype) -> None:
    """A factory's out=: a tensor, whose dtype the factory's ``dtype`` (if given) must equal."""
    _out.check_tensor(name, out)
    if dtype is not None and to_dtype(dtype) is not out.dtype:
        raise RuntimeError(f"dtype {to_dtype(dtype)._legacy} does not match dtype of out parameter "
                           f"({out.dtype._legacy})")


def _out_requires_grad(out: Tensor, requires_grad: bool) -> Tensor:
    """``out`` given the factory's ``requires_grad``, as PyTorch sets it: a leaf takes the flag
    (False too), a tensor of a graph keeps requiring grad."""
    if requires_grad and out.dtype.np.kind not in "fc":
        raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
    if out.is_leaf:
        out.requires_grad_(bool(requires_grad))
    return out


def _filled_out(name: str, out, shape: tuple, value, dtype, requires_grad: bool) -> Tensor:
    """zeros/ones written into ``out``: resized without PyTorch's deprecation warning (the
    factories resize as resize_ does), filled, its version bumped once. A leaf that requires
    grad is refused; a tensor made by a differentiable op takes the fill as an in-place op that
    PyTorch records but cannot differentiate."""
    _out_dtype(name, out, dtype)
    if state.enabled and out.requires_grad:
        if (out if out._base is None else out._base).is_leaf:  # a leaf, or a view of one
            raise RuntimeError(_out.ERR_OUT_GRAD.format(f"aten::{name}"))
        _out.resize_out(out, shape, warn=False)
        from ._ops import inplace
        inplace(_fill_not_implemented(name), out, attrs=(value,))
    else:
        _out.resize_out(out, shape, warn=False)
        out._data[...] = value
        out._vc[0] += 1
    return _out_requires_grad(out, requires_grad)


_FILL_OPS = {}


def _fill_not_implemented(name: str):
    """The in-place fill of zeros/ones into a tensor of a graph: a NotImplemented node."""
    if name not in _FILL_OPS:
        from ._ops import defop, show_edges

        def rule(g):
            raise RuntimeError(f"derivative for aten::{name} is not implemented")
        op = defop("NotImplemented", "a", lambda a, v: np.full_like(a, v), rule, attrs="value")
        op.node_cls.name = lambda self: "torch::autograd::NotImplemented"
        op.no_jvp = f"aten::{name}"
        _FILL_OPS[name] = show_edges(op)
    return _FILL_OPS[name]


def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value``; its dtype follows the value's kind by default."""
    if dtype is None:
        fill_value = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
        dtype = _dtypes.scalar_dtype(fill_value)
    return _finish(np.full(_size((size,)), fill_value, to_dtype(dtype).np), requires_grad)


def _like(input, dtype):
    return input.dtype if dtype is None else to_dtype(dtype)


def zeros_like(input, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    return _finish(np.zeros(input.shape, _like(input, dtype).np), requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    return _finish(np.ones(input.shape, _like(input, dtype).np), requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    return zeros_like(input, dtype=dtype, requires_grad=requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False,
              memory_format=None) -> Tensor:
    return _finish(np.full(input.shape, fill_value, _like(input, dtype).np), requires_grad)


def rand_like(input, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    return rand(*input.shape, dtype=_like(input, dtype), requires_grad=requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    return randn(*input.shape, dtype=_like(input, dtype), requires_grad=requires_grad)


def randint_like(input, low=0, high=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), dtype=_like(input, dtype))


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) every ``step``.

    >>> import ndgrad
    >>> ndgrad.arange(3)
    tensor([0, 1, 2])
    """
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if dtype is None:
        dtype = get_default_dtype() if any(isinstance(v, float) for v in vals) else _dtypes.int64
    arr = np.arange(*vals, dtype=np.float64).astype(to_dtype(dtype).np)
    return _finish(arr, requires_grad)


def linspace(start, end, steps: int, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    d = to_dtype(dtype) if dtype is not None else get_default_dtype()
    ct = d.np if d.np.kind in "fc" else np.dtype(np.float64)
    i = np.arange(steps)
    if steps == 1:
        arr = np.array([start], ct)
    else:
        # NOTE: PyTorch fills the first half from `start` and the second from `end`, in the
        # output precision; doing the same keeps the last bits equal.
        step = ct.type(end - start) / ct.type(steps - 1)
        half = steps // 2
        arr = np.where(i < half, ct.type(start) + step * i.astype(ct),
                       ct.type(end) - step * (steps - i - 1).astype(ct))
    return _finish(arr.astype(d.np), requires_grad)


def logspace(start, end, steps: int, base: float = 10.0, *, dtype=None, requires_grad=False):
    d = to_dtype(dtype) if dtype is not None else get_default_dtype()
    return _finish(np.power(base, np.linspace(start, end, steps)).astype(d.np), requires_grad)


def eye(n: int, m: int | None = None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The identity matrix."""
    return _finish(np.eye(n, m, dtype=_np_dtype(dtype, get_default_dtype())), requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None) -> Tensor:
    """Uniform samples from [0, 1)."""
    d = _np_dtype(dtype, get_default_dtype())
    return _finish(_rng.random(_size(size)).astype(d), requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False, generator=None) -> Tensor:
    """Standard normal samples."""
    d = _np_dtype(dtype, get_default_dtype())
    return _finish(_rng.standard_normal(_size(size)).astype(d), requires_grad)


def randint(low, high=None, size=None, *, dtype=None, device=None, requires_grad=False,
            generator=None) -> Tensor:
    """Integers drawn uniformly from [low, high)."""
    if size is None:
        low, high, size = 0, low, high
    d = _np_dtype(dtype, _dtypes.int64)
    return _finish(_rng.integers(low, high, _size((size,))).astype(d), requires_grad)


def randperm(n: int, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _finish(_rng.permutation(n).astype(_np_dtype(dtype, _dtypes.int64)), requires_grad)


def normal(mean=0.0, std=1.0, size=None, *, dtype=None, requires_grad=False) -> Tensor:
    d = _np_dtype(dtype, get_default_dtype())
    return _finish(_rng.normal(mean, std, _size((size,))).astype(d), requires_grad)


def _legacy_init(self: Tensor, *args, **kwargs):
    """``ndgrad.Tensor(data)`` or ``ndgrad.Tensor(2, 3)``: a float tensor, as PyTorch's legacy
    constructor makes."""
    if len(args) == 1 and isinstance(args[0], (list, tuple, np.ndarray, Tensor)):
        src = args[0]
        arr = np.array(_unpack_tensors(src) if not isinstance(src, Tensor) else src._data,
                       dtype=get_default_dtype().np)
    else:
        arr = np.zeros(_size(args), get_default_dtype().np)
    self._data, self._grad_fn, self._vc = arr, None, [0]
