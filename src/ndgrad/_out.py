"""out=: results written into a given tensor, with PyTorch's checks in its order (out= refuses
autograd, memory overlap, the op's own argument checks, the dtype cast), its resizing (with the
deprecation warning where PyTorch gives it) and its version bump. Shared by the elementwise
functions, the factories and the reductions."""
from __future__ import annotations

import builtins
import inspect
import math
import sys
import warnings

import numpy as np

from . import _dtypes
from ._tensor import Tensor, _c10_name
from .autograd.grad_mode import state

ERR_OUT_GRAD = ("{}(): functions with out=... arguments don't support automatic differentiation, "
                "but one of the arguments requires grad.")
WARN_RESIZED = (
    "An output with one or more elements was resized since it had shape {}, which does not match "
    "the required output shape {}. This behavior is deprecated, and in a future PyTorch release "
    "outputs will not be resized unless they have zero elements. You can explicitly reuse an out "
    "tensor t by resizing it, inplace, to zero elements with t.resize_(0).")
ERR_RESULT_CAST = "result type {} can't be cast to the desired output type {}"
ERR_INTERNAL_OVERLAP = (
    "unsupported operation: more than one element of the written-to tensor refers to a single "
    "memory location. Please clone() the tensor before performing the operation.")
ERR_PARTIAL_OVERLAP = (
    "unsupported operation: some elements of the input tensor and the written-to tensor refer to "
    "a single memory location. Please clone() the tensor before performing the operation.")


def tp_name(v) -> str:
    """The name PyTorch's messages give a value's type (C's tp_name: numpy.int64, Tensor)."""
    cls = type(v)
    return f"numpy.{cls.__name__}" if cls.__module__ == "numpy" else cls.__name__


def check_tensor(name: str, out) -> Tensor:
    """``out`` checked as PyTorch's argument parser checks a ``Tensor out``."""
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {tp_name(out)}")
    return out


def refuse_grad(name: str, inputs, outs) -> None:
    if state.enabled and builtins.any(isinstance(t, Tensor) and t.requires_grad
                                      for t in tuple(inputs) + tuple(outs)):
        raise RuntimeError(ERR_OUT_GRAD.format(name))


def _user_stacklevel() -> int:
    """The stacklevel that attributes a warning to the first caller outside ndgrad."""
    level, f = 2, sys._getframe(2)
    while f is not None and f.f_globals.get("__name__", "").partition(".")[0] == "ndgrad":
        level, f = level + 1, f.f_back
    return level


def resize_out(o: Tensor, shape: tuple, warn: bool = True) -> bool:
    """Resize ``o`` to ``shape`` as PyTorch resizes an out= tensor: with the deprecation warning
    (``warn``, as resize_output gives it) when it had elements; a view stays in its base's
    storage, and a tensor keeps the leading elements of its storage (as resize_ does). Whether
    it was resized."""
    a = o._data
    if a.shape == shape:
        return False
    if warn and a.size:
        warnings.warn(WARN_RESIZED.format(list(a.shape), list(shape)), UserWarning,
                      stacklevel=_user_stacklevel())
    if o._base is not None:
        resize_view(o, shape)
    else:
        resize_base(o, shape)
    return True


def _storage(o: Tensor) -> np.ndarray | None:
    """The flat memory behind ``o`` (not a view), from its first element: what an earlier
    resize kept, or its own array when C-contiguous; None when it has none to offer."""
    a = o._data
    if not a.flags.c_contiguous or not a.flags.writeable:
        return None
    kept = o.__dict__.get("_storage")
    if kept is not None and kept.dtype == a.dtype and kept.size >= a.size and \
            kept.__array_interface__["data"][0] == a.__array_interface__["data"][0]:
        return kept
    return a.reshape(-1)


def _move_views(o: Tensor, old: np.ndarray, new: np.ndarray) -> None:
    """Views of ``o`` in storage ``old`` re-pointed to the same offsets and strides in ``new``,
    as PyTorch's views follow a storage that resize_ reallocated. NOTE: the views found are the
    ones ``o`` keeps (cut while it had no history: an out= tensor has none)."""
    start = old.__array_interface__["data"][0]
    end = start + old.nbytes
    for r in o.__dict__.get("_plain_views", ()):
        v = r()
        if v is None:
            continue
        d = v._data
        p = d.__array_interface__["data"][0]
        if start <= p < end or not d.size and p == start:
            at = (p - start) // d.itemsize
            v._data = np.lib.stride_tricks.as_strided(new[at:], d.shape, d.strides)


def resize_base(o: Tensor, shape: tuple) -> None:
    """Resize a tensor that is not a view as PyTorch's resize_: in its storage while that is
    large enough, else into a new one that starts with the old one's elements, the views cut
    before moved with it."""
    from ._ops import note_restride
    a = o._data
    old_shape, m, n = a.shape, a.size, math.prod(shape)
    storage = _storage(o)
    if storage is None or n > storage.size:
        grown = np.empty(n, a.dtype)
        if storage is None:
            k = builtins.min(m, n)
            grown[:k] = a.reshape(-1)[:k]
        else:
            grown[:storage.size] = storage
            _move_views(o, storage, grown)
        storage = grown
    o._data = storage[:n].reshape(shape)
    o._storage = storage

    # NOTE: views cut before map the old layout; this maps the new one back to it, padding with
    # zeros where the tensor shrank (elements that are then in its storage only).
    def undo(x):
        flat = x.reshape(-1)
        if n >= m:
            return flat[:m].reshape(old_shape)
        return np.concatenate([flat, np.zeros(m - n, x.dtype)]).reshape(old_shape)
    note_restride(o, undo)


def write_out(o: Tensor, r: np.ndarray, warn: bool = True) -> None:
    """``r`` copied into ``o``, which is resized first if its shape differs."""
    resize_out(o, r.shape, warn)
    np.copyto(o._data, r, casting="unsafe")  # NOTE: the callers checked that the dtypes cast
    o._vc[0] += 1


def resize_view(v: Tensor, shape: tuple) -> None:
    """Resize a view as PyTorch does: contiguous, from the same place in its base's storage, so
    the base sees what is written. PyTorch grows the storage when the view runs past its end;
    a NumPy array cannot grow, so that raises here."""
    root = v._base
    storage = root._data
    n = math.prod(shape)
    start = (v._data.__array_interface__["data"][0] - storage.__array_interface__["data"][0]) \
        // storage.itemsize
    if not storage.flags.c_contiguous or start + n > storage.size:
        why = "is not contiguous" if start + n <= storage.size else "ends before the result does"
        raise RuntimeError(f"a view of shape {list(v._data.shape)} cannot be resized to "
                           f"{list(shape)} as an out= tensor: its base's storage {why}; pass a "
                           "tensor of the result's shape, or one that is not a view")
    v._data = storage.reshape(-1)[start:start + n].reshape(shape)
    # NOTE: the base's flat positions: a view function that reads them copies, so writes through
    # the view (and its own views) go by position (see _ops.view_fn_now).
    pos = np.arange(start, start + n).reshape(shape)
    v._view_fn = lambda x: x.reshape(-1)[pos]
    v._view_exact = False
    v._layout = root.__dict__.get("_restrided", 0)


def _dense(a: np.ndarray) -> bool:
    """PyTorch's is_non_overlapping_and_dense: contiguous in some order of the dims."""
    step = a.itemsize
    for s, n in sorted((s, n) for n, s in zip(a.shape, a.strides) if n != 1):
        if s != step:
            return False
        step *= n
    return True


def check_overlap(out: Tensor, inputs) -> None:
    """PyTorch's memory-overlap checks of an out= tensor: none of its elements may share memory
    (a broadcast view), and an input may share its memory only as the very same view. Layouts
    that are not dense are not checked (PyTorch calls them too hard)."""
    o = out._data
    if not o.size:
        return
    if not _dense(o):
        if builtins.any(s == 0 and n > 1 for n, s in zip(o.shape, o.strides)):
            raise RuntimeError(ERR_INTERNAL_OVERLAP)
        return
    start = o.__array_interface__["data"][0]
    end = start + o.size * o.itemsize
    for t in inputs:
        if not isinstance(t, Tensor) or t is out:
            continue
        a = t._data
        if not a.size or not _dense(a):
            continue
        s = a.__array_interface__["data"][0]
        e = s + a.size * a.itemsize
        if s == start and e == end and a.strides == o.strides:
            continue
        if s < end and start < e:
            raise RuntimeError(ERR_PARTIAL_OVERLAP)


def into(name: str, out, inputs, compute) -> Tensor:
    """``compute()`` written into ``out`` as PyTorch's elementwise ops write it: ``out`` must be
    a tensor, then `into_one` as TensorIterator does it. Returns ``out``."""
    return into_one(name, check_tensor(name, out), inputs, compute, ERR_RESULT_CAST, True)


def into_one(name: str, out: Tensor, inputs, compute, cast_error: str,
             iterator: bool = False, exact: str | None = None, twice: bool | None = None,
             refuse: bool = True) -> Tensor:
    """``compute()`` written into ``out`` after `refuse_grad`; the result's dtype need only cast
    to ``out``'s (PyTorch's canCast: never to a lower kind, bool < integer < floating < complex),
    or, given ``exact`` (a message with {out} and {result}, or their C++ names {out_c10} and
    {result_c10}), must be ``out``'s. ``out`` is
    resized, with the warning, if its shape differs. ``iterator``: as PyTorch's TensorIterator
    writes, with `check_overlap` first; PyTorch 2.13 gives the warning twice there when the
    result's dtype is not ``out``'s, unless ``twice`` says otherwise. ``refuse``: whether
    `refuse_grad` runs (ops with no derivative leave it to the caller)."""
    if refuse:
        refuse_grad(name, inputs, (out,))
    if iterator:
        check_overlap(out, inputs)
    r = compute()._data
    have = _dtypes.FROM_NUMPY[r.dtype]
    if exact is not None and r.dtype != out._data.dtype:
        raise RuntimeError(exact.format(out=out.dtype._legacy, result=have._legacy,
                                        out_c10=_c10_name(out.dtype), result_c10=_c10_name(have)))
    if _dtypes.category(have) > _dtypes.category(out.dtype):
        raise RuntimeError(cast_error.format(have._legacy, out.dtype._legacy))
    if twice is None:
        twice = r.dtype != out._data.dtype
    if iterator and twice and out._data.size and out._data.shape != r.shape:
        warnings.warn(WARN_RESIZED.format(list(out._data.shape), list(r.shape)), UserWarning,
                      stacklevel=_user_stacklevel())
    write_out(out, r)
    return out


# The functions of the namespace that take out= through `with_out`: those PyTorch's
# TensorIterator writes, and matrix products. The core arithmetic, maximum/minimum, the
# factories and some reductions take it themselves.
PRODUCTS = ("mm", "bmm", "mv")
ELEMENTWISE = (
    "abs", "absolute", "neg", "negative", "sign", "exp", "exp2", "expm1", "log", "log2", "log10",
    "log1p", "sqrt", "rsqrt", "square", "reciprocal", "sin", "cos", "tan", "asin", "acos", "atan",
    "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "arcsinh",
    "arccosh", "arctanh", "sigmoid", "logit", "erf", "erfc", "floor", "ceil", "round", "trunc",
    "fix", "frac", "clamp", "clip", "nan_to_num", "pow", "atan2", "arctan2", "remainder", "fmod",
    "fmax", "fmin", "hypot", "logaddexp", "lerp", "addcmul", "addcdiv", "where", "eq", "ne", "lt",
    "le", "gt", "ge", "greater", "less", "greater_equal", "less_equal", "not_equal", "logical_and",
    "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor",
    "bitwise_not", "bitwise_left_shift", "bitwise_right_shift",
)


# Where PyTorch wants out's dtype to be the result's, and its words for it.
_FOUND = "Found dtype {out} but expected {result}"
EXACT = dict.fromkeys(("abs", "absolute", "neg", "negative", "sign", "floor", "ceil", "round",
                       "trunc", "fix", "frac", "clamp", "clip", "bitwise_not"), _FOUND)
EXACT["nan_to_num"] = "nan_to_num: dtype of out: {out} should be same as input: {result}"
EXACT["where"] = "Expected out type to be {result} but got {out}"
EXACT.update(dict.fromkeys(PRODUCTS, "Expected out tensor to have dtype {result_c10}, but got "
                                     "{out_c10} instead"))
COMPARISONS = ("eq", "ne", "lt", "le", "gt", "ge", "greater", "less", "greater_equal",
               "less_equal", "not_equal")
LOGICAL = ("logical_and", "logical_or", "logical_xor", "logical_not")
# PyTorch's out= functions that resize once into a dtype of their own (the others warn twice)
ONCE = ("logit",) + LOGICAL
# The name PyTorch's message about autograd gives an alias: that of the op it runs.
CANONICAL = {"absolute": "abs", "negative": "neg", "arcsin": "asin", "arccos": "acos",
             "arctan": "atan", "arcsinh": "asinh", "arccosh": "acosh", "arctanh": "atanh",
             "arctan2": "atan2", "clip": "clamp", "fix": "trunc", "square": "pow"}


def common_dtype(values):
    """The dtype PyTorch's type promotion gives ``values``, tensors and numbers
    (`torch.result_type` of two)."""
    dims, zeros, scalars = [], [], []
    for v in values:
        if isinstance(v, Tensor):
            (dims if v.ndim else zeros).append(v.dtype)
        else:
            scalars.append(v)
    return _dtypes.result_type(dims, zeros, scalars)


def with_out(f, name: str):
    """``f`` with PyTorch's out=: the result written by `into_one`, as TensorIterator writes it
    for an elementwise op. Without out=, the call goes straight to ``f``; the Tensor methods,
    which take no out=, stay ``f``."""
    def run(*args, out=None, **kwargs):
        if out is None:
            return f(*args, **kwargs)
        check_tensor(name, out)
        values = args + tuple(kwargs.values())
        inputs = [a for a in values if isinstance(a, Tensor)]
        exact, twice = EXACT.get(name), None
        if name == "lerp":
            weight = args[2] if len(args) > 2 else kwargs.get("weight")
            if isinstance(weight, Tensor):
                exact = _FOUND  # NOTE: lerp's tensor-weight overload only
        elif name in ("clamp", "clip") and any(isinstance(v, Tensor) for v in values[1:]):
            exact = None  # NOTE: bounds that are tensors: TensorIterator's casts
        elif name == "where":
            for pos, arg in ((2, "input"), (3, "other")):
                v = args[pos - 1] if len(args) >= pos else kwargs.get(arg)
                if not isinstance(v, Tensor):  # the overloads with a number take no out=
                    raise TypeError(f"where(): argument '{arg}' (position {pos}) must be Tensor, "
                                    f"not {tp_name(v)}")
        elif name in ONCE or name == "pow" and args and not isinstance(args[0], Tensor):
            twice = False
        elif name in COMPARISONS:
            twice = out.dtype not in (_dtypes.bool_, common_dtype(values))
        elif name == "mv" and not out.ndim:
            # NOTE: PyTorch runs mv into a 0-d out as addmv, whose check speaks first
            exact = ("addmv input tensors must have the same dtype, but got {out}, {result}, and "
                     "{result}")
        refuse = True
        if name in COMPARISONS or name in LOGICAL:
            refuse = False  # NOTE: PyTorch writes these into any out, its autograd state kept
        elif name.startswith("bitwise"):
            # NOTE: integer results: only an out that requires grad is refused, under the name
            # of PyTorch's dispatcher (a non-leaf out PyTorch takes, its grad_fn NotImplemented).
            refuse = False
            if state.enabled and out.requires_grad:
                raise RuntimeError(ERR_OUT_GRAD.format(f"aten::{name}"))
        return into_one(CANONICAL.get(name, name), out, inputs, lambda: f(*args, **kwargs),
                        ERR_RESULT_CAST, name not in PRODUCTS, exact, twice, refuse)
    run.__name__ = run.__qualname__ = name
    run.__doc__, run.__module__ = f.__doc__, f.__module__
    try:
        sig = inspect.signature(f)
        run.__signature__ = sig.replace(parameters=list(sig.parameters.values()) + [
            inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, default=None)])
    except (TypeError, ValueError):
        pass
    return run
