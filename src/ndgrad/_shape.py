"""Shape, indexing and view ops: reshape and friends, cat/stack/split, gather/scatter, masks,
tril/triu/diagonal, and ``Tensor.__getitem__``/``__setitem__``. Views share their base's storage;
the in-place machinery behind them (CopySlices) lives in ``_ops``."""
from __future__ import annotations

import functools
import math
import operator
import warnings

import numpy as np

from . import _ops as O
from ._math import _no_derivative
from ._ops import NX, TX, apply, defop, inplace, make_view
from ._tensor import Tensor, _c10_name, _wrap, _wrap_dim
from .autograd.grad_mode import state

__all__ = ["reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "permute", "transpose",
           "swapaxes", "swapdims", "t", "broadcast_to", "tile", "flip", "roll", "cat", "concat",
           "concatenate", "stack", "hstack", "vstack", "split", "chunk", "unbind", "narrow",
           "select", "gather", "scatter", "scatter_add", "scatter_reduce", "index_select",
           "index_add", "index_fill", "index_copy", "masked_fill", "masked_scatter",
           "masked_select", "take", "tril", "triu", "diag", "diagonal", "trace"]


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _wants_grad(x: Tensor) -> bool:
    return state.enabled and (x._grad_fn is not None or x._requires_grad)


def _both(np_fn, tensor_fn):
    """A view function that works on a base-shaped array or tensor (see ``_ops.make_view``)."""
    return lambda y: tensor_fn(y) if isinstance(y, Tensor) else np_fn(y)


def _view(op, x: Tensor, arr: np.ndarray, view_fn, attrs=()) -> Tensor:
    """``arr`` (a NumPy view of ``x``'s data) as a view tensor, with ``op`` as its grad_fn."""
    t = make_view(x, arr, view_fn)
    if _wants_grad(x):
        O._record(op, t, (x,), (x._data,), attrs)
    return t


def _multi_view(op, x: Tensor, arrs, view_fns, attrs, kind: str) -> tuple:
    """Several views of ``x`` made by one node (split, chunk, unbind)."""
    outs = [make_view(x, a, f) for a, f in zip(arrs, view_fns)]
    for t in outs:
        t._multi_view = kind
    if _wants_grad(x) and outs:
        O._record(op, outs[0], (x,), (x._data,), attrs)
        node = outs[0]._grad_fn
        node.out_metas = tuple((t._data.shape, t._data.dtype) for t in outs)
        for i, t in enumerate(outs):
            t._grad_fn, t._output_nr = node, i
    return tuple(outs)


_reshape_rule = O._reshape_rule


def _reshape_op(name):
    return defop(name, "a", np.reshape, _reshape_rule, attrs="shape", dtype="keep")


# ---------------------------------------------------------------------------------------------
# The table: shape ops whose derivative is another shape op
# ---------------------------------------------------------------------------------------------

SQUEEZE = {k: _reshape_op(f"SqueezeBackward{k}") for k in (0, 1, 2)}
UNSQUEEZE = _reshape_op("UnsqueezeBackward0")
UNSAFE_VIEW = defop("UnsafeViewBackward0", "a", lambda a, shape: np.reshape(a, shape).copy(),
                    _reshape_rule, attrs="shape", dtype="keep")


def _permute_rule(xp, g, dims):
    return xp.permute(g, tuple(np.argsort(dims)))


PERMUTES = {name: defop(name, "a", np.transpose, _permute_rule, attrs="dims", dtype="keep")
            for name in ("PermuteBackward0", "TransposeBackward0", "TBackward0")}


def _repeat_rule(xp, g, a_shape, repeats):
    pad = (1,) * (len(repeats) - len(a_shape)) + tuple(a_shape)
    pairs = [v for r, s in zip(repeats, pad) for v in (r, s)]
    summed = xp.sum_dims(xp.reshape(g, pairs), tuple(range(0, 2 * len(pad), 2)))
    return xp.reshape(summed, a_shape)


REPEAT = defop("RepeatBackward0", "a",
               lambda a, repeats: np.tile(a.reshape((1,) * (len(repeats) - a.ndim) + a.shape), repeats),
               _repeat_rule, attrs="repeats", dtype="keep")
FLIP = defop("FlipBackward0", "a", lambda a, dims: np.flip(a, dims).copy(),
             lambda xp, g, dims: xp.flip(g, dims), attrs="dims", dtype="keep")
ROLL = defop("RollBackward0", "a", lambda a, shifts, dims: np.roll(a, shifts, dims),
             lambda xp, g, shifts, dims: xp.roll(g, tuple(-s for s in shifts), dims),
             attrs="shifts dims", dtype="keep")
TRIL = defop("TrilBackward0", "a", np.tril, lambda xp, g, k: xp.tril(g, k), attrs="k", dtype="keep")
TRIU = defop("TriuBackward0", "a", np.triu, lambda xp, g, k: xp.triu(g, k), attrs="k", dtype="keep")
TRACE = defop("TraceBackward0", "a", np.trace,
              lambda xp, g, a_shape: g * xp.asarray(np.eye(*a_shape)), dtype="keep")
# NOTE: a diagonal is a writable NumPy view (`_diag_array`), so `_scatter_fwd` (zeros, then write
# the gradient through the view) gives both diagonal's backward and diag's 1-D forward.
DIAGONAL = defop("DiagonalBackward0", "a", lambda a, view_fn: view_fn(a), O._index_rule,
                 attrs="view_fn", dtype="keep")
DIAG_COPY = defop("DiagonalBackward0_copy", "a", lambda a, view_fn: view_fn(a).copy(),
                  O._index_rule, attrs="view_fn", dtype="keep")
DIAG_EMBED = defop("DiagEmbedBackward0", "a", O._scatter_fwd, lambda g, view_fn: view_fn(g),
                   attrs="shape view_fn", dtype="keep")


@functools.lru_cache(maxsize=None)
def _cat_op(n: int):
    def part(i):
        return lambda g, dim, bounds: g[(slice(None),) * dim + (slice(bounds[i], bounds[i + 1]),)]
    return defop("CatBackward0", " ".join(f"t{i}" for i in range(n)),
                 lambda *a: np.concatenate(a[:n], axis=a[n]),
                 *[part(i) for i in range(n)], attrs="dim bounds")


@functools.lru_cache(maxsize=None)
def _stack_op(n: int):
    def part(i):
        return lambda g, dim: g[(slice(None),) * dim + (i,)]
    return defop("StackBackward0", " ".join(f"t{i}" for i in range(n)),
                 lambda *a: np.stack(a[:n], axis=a[n]), *[part(i) for i in range(n)], attrs="dim")


@functools.lru_cache(maxsize=None)
def _split_op(name: str, n: int):
    if name == "UnbindBackward0":
        rule = lambda xp, g, dim: xp.stack(g, dim)  # noqa: E731
    else:
        rule = lambda xp, g, dim: xp.cat(g, dim)  # noqa: E731
    # NOTE: no forward here: `_split_sizes` and `unbind` cut the views themselves.
    return defop(name, "a", None, rule, attrs="dim", dtype="keep", nout=n)


# -- gathers and scatters: an index tensor becomes a NumPy key, and backward accumulates -----
def _embed(xp, g, shape, region):
    """``g`` placed at ``region`` of a zero tensor of ``shape`` (the identity when it fills it)."""
    if tuple(g.shape) == tuple(shape):
        return g
    return xp.view_scatter(g, shape, operator.itemgetter(region))


GATHER = defop("GatherBackward0", "a", lambda a, key: a[key],
               lambda xp, g, a_shape, key: xp.index_acc(g, a_shape, key), attrs="key", dtype="keep")


def _scatter_src(a, src, key, region):
    r = a.copy()
    r[key] = src[region]
    return r


def _scatter_value(a, key, value):
    r = a.copy()
    r[key] = value
    return r


def _zero_at(xp, g, key):
    return g * xp.asarray(O._zero_at(tuple(g.shape), key))


SCATTER = defop("ScatterBackward0", "a src", _scatter_src,
                lambda xp, g, key: _zero_at(xp, g, key),
                lambda xp, g, src_shape, key, region: _embed(xp, g[key], src_shape, region),
                attrs="key region", dtype="keep")
SCATTER_VALUE = defop("ScatterBackward1", "a", _scatter_value,
                      lambda xp, g, key: _zero_at(xp, g, key), attrs="key value", dtype="keep")
SCATTER_ADD = defop("ScatterAddBackward0", "a src",
                    lambda a, src, key, region: a + O._index_acc_fwd(src[region], a.shape, key),
                    lambda g: g,
                    lambda xp, g, src_shape, key, region: _embed(xp, g[key], src_shape, region),
                    attrs="key region", dtype="keep")
INDEX_SELECT = defop("IndexSelectBackward0", "a", lambda a, key: a[key],
                     lambda xp, g, a_shape, key: xp.index_acc(g, a_shape, key),
                     attrs="key", dtype="keep")
INDEX_ADD = defop("IndexAddBackward0", "a source",
                  lambda a, source, key, alpha: a + alpha * O._index_acc_fwd(source, a.shape, key),
                  lambda g: g, lambda g, key, alpha: g[key] * alpha if alpha != 1 else g[key],
                  attrs="key alpha", dtype="keep")
MASKED_FILL = defop("MaskedFillBackward0", "a mask",
                    lambda a, mask, value: np.where(mask, np.asarray(value).astype(a.dtype), a),
                    lambda xp, g, mask: xp.where(mask, 0.0, g), None, attrs="value", dtype="keep")
MASKED_FILL_TENSOR = defop("MaskedFillBackward1", "a mask value",
                           lambda a, mask, value: np.where(mask, value.astype(a.dtype), a),
                           lambda xp, g, mask: xp.where(mask, 0.0, g), None,
                           lambda xp, g, mask: xp.where(mask, g, 0.0), dtype="keep")
MASKED_SELECT = defop("MaskedSelectBackward0", "a",
                      lambda a, shape, key: np.broadcast_to(a, shape)[key],
                      lambda xp, g, shape, key: xp.index_acc(g, shape, key),
                      attrs="shape key", dtype="keep")
TAKE = defop("TakeBackward0", "a", lambda a, key: a.reshape(-1)[key],
             lambda xp, g, a_shape, key: xp.reshape(xp.index_acc(g, (math.prod(a_shape),), (key,)),
                                                      a_shape),
             attrs="key", dtype="keep")
# NOTE: index_fill's key holds each index once (see `_index_fill`), so the value's gradient
# counts each filled slice once, as PyTorch's does.
INDEX_FILL = defop("IndexFillBackward0", "a", _scatter_value,
                   lambda xp, g, key: _zero_at(xp, g, key), attrs="key value", dtype="keep")
INDEX_FILL_TENSOR = defop("IndexFillBackward1", "a value",
                          lambda a, value, key: _scatter_value(a, key, value),
                          lambda xp, g, key: _zero_at(xp, g, key),
                          lambda g, key: g[key].sum(), attrs="key", dtype="keep")
INDEX_COPY = defop("IndexCopyBackward0", "a source",
                   lambda a, source, key: _scatter_value(a, key, source),
                   lambda xp, g, key: _zero_at(xp, g, key), lambda g, key: g[key],
                   attrs="key", dtype="keep")


def _masked_scatter_fwd(a, source, mask, flat):
    r = np.broadcast_to(a, mask.shape).copy()
    r.reshape(-1)[flat] = source.reshape(-1)[:flat.size]
    return r


def _masked_scatter_source_rule(xp, g, source_shape, flat):
    """The gradient at the masked positions, laid into the leading elements of ``source``."""
    picked = xp.reshape(g, (math.prod(g.shape),))[flat]
    n = math.prod(source_shape)
    return xp.reshape(xp.index_acc(picked, (n,), (np.arange(flat.size),)), source_shape)


# NOTE: the op works on flat positions (`flat`: np.flatnonzero of the broadcast mask), which
# serves a 0-d result as well as any other.
MASKED_SCATTER = defop("MaskedScatterBackward0", "a source", _masked_scatter_fwd,
                       lambda xp, g, mask: xp.where(mask, 0.0, g), _masked_scatter_source_rule,
                       attrs="mask flat", dtype="keep")


def _scatter_accumulate_fwd(a, src, key, region, reduce):
    r = a.copy()
    ufunc = np.add if reduce == "add" else np.multiply
    ufunc.at(r, key, src[region] if isinstance(src, np.ndarray) else src)  # repeats accumulate
    return r


def _scatter_reduce_op(name: str, inputs: str):
    """scatter's ``reduce=``: PyTorch records a node that cannot differentiate."""
    rules = [_no_derivative(name) for _ in inputs.split()]
    attrs = "key region reduce" if inputs == "a src" else "src key region reduce"
    op = defop("NotImplemented", inputs, _scatter_accumulate_fwd, *rules, attrs=attrs,
               dtype="keep")
    op.node_cls.name = lambda self: "torch::autograd::NotImplemented"
    op.no_jvp = f"aten::{name}"
    return O.show_edges(op)  # the edges of the inputs that require grad only


SCATTER_REDUCE_OPS = {(name, inputs): _scatter_reduce_op(name, inputs)
                      for name in ("scatter", "scatter_") for inputs in ("a src", "a")}


# -- scatter_reduce: the rules follow PyTorch's scatter_reduce_backward -------------------------
_REDUCES = ("sum", "prod", "mean", "amax", "amin")
_REDUCE_START = {"sum": 0, "mean": 0, "prod": 1}


def _reduce_start(dtype, reduce):
    """What a slot holds before any src value arrives when ``include_self=False``."""
    if reduce in _REDUCE_START:
        return _REDUCE_START[reduce]
    big = np.inf if dtype.kind == "f" else np.iinfo(dtype).max
    return -big if reduce in ("amax", "max") else big


def _scatter_reduce_fwd(a, src, key, region, reduce, include_self, hit, count):
    r = a.copy()
    if not include_self:
        r[hit] = _reduce_start(a.dtype, reduce)
    ufunc = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum,
             "amin": np.minimum, "max": np.maximum, "min": np.minimum}[reduce]
    ufunc.at(r, key, src[region])  # NOTE: .at, so repeated indices all take part
    if reduce == "mean":
        r = r / count if r.dtype.kind in "fc" else r // count
    return r


def _np(x):
    """A value's array (masks and counts are piecewise constant: they carry no gradient)."""
    return x._data if isinstance(x, Tensor) else x


def _tie_weights(a, src, out, key, region):
    """PyTorch's even split among the values equal to the result: (self's, src's) weights."""
    a, src, out = _np(a), _np(src)[region], _np(out)
    self_is = (a == out).astype(out.dtype)
    src_is = (src == out[key]).astype(out.dtype)
    n = self_is + O._index_acc_fwd(src_is, out.shape, key)
    n = np.where(n == 0, 1, n)
    return self_is / n, src_is / n[key]


def _check_reduce(reduce):
    # NOTE: PyTorch's forward also takes "max" and "min"; only its backward refuses them.
    if reduce not in _REDUCES:
        raise RuntimeError("Expected 'reduce' to be one of 'sum', 'prod', 'mean', 'amax', 'amin' "
                           f"but got {reduce}.")


def _scatter_reduce_self_rule(xp, g, a, src, out, key, region, reduce, include_self, hit, count):
    _check_reduce(reduce)
    if reduce == "sum":
        r = g
    elif reduce == "mean":
        r = g / xp.asarray(count)
    elif reduce == "prod":
        zero = _np(a) == 0
        masked = xp.where(zero, 1.0, a)
        r = g * xp.scatter_reduce(masked, src, key, region, reduce, include_self, hit,
                                  count) / masked
    else:
        r = g * xp.asarray(_tie_weights(a, src, out, key, region)[0])
    return r if include_self else xp.where(hit, 0.0, r)


def _scatter_reduce_src_rule(xp, g, a, src, src_shape, out, key, region, reduce, include_self,
                             hit, count):
    _check_reduce(reduce)
    if reduce == "sum":
        r = g[key]
    elif reduce == "mean":
        r = (g / xp.asarray(count))[key]
    elif reduce == "prod":
        zero = _np(src)[region] == 0
        zeros_at = O._index_acc_fwd(zero.astype(np.float64), tuple(out.shape), key)[key]
        single = zero & (zeros_at == 1)
        single_full = np.zeros(tuple(src_shape), bool)
        single_full[region] = single
        masked_src = xp.where(single_full, 1.0, src)
        with_one = xp.scatter_reduce(a, masked_src, key, region, reduce, include_self, hit, count)
        r = xp.where(single, (g * with_one)[key], (g * out)[key] / xp.where(zero, 1.0, src[region]))
        if xp is TX and (zeros_at > 1).any():
            r = apply(_DOUBLE_ZERO_ERROR, r)  # PyTorch's Error node: raises only if reached
    else:
        r = g[key] * xp.asarray(_tie_weights(a, src, out, key, region)[1])
    return _embed(xp, r, src_shape, region)


def _double_zero_rule(g):
    raise RuntimeError("scatter_reduce(): Double backward is unsupported for src when >1 zeros in "
                       "src are scattered to the same position in self")


_DOUBLE_ZERO_ERROR = defop("Error", "a", lambda a: a, _double_zero_rule, dtype="keep")
SCATTER_REDUCE = defop("ScatterReduceBackward0", "a src", _scatter_reduce_fwd,
                       _scatter_reduce_self_rule, _scatter_reduce_src_rule,
                       attrs="key region reduce include_self hit count", dtype="keep")


# ---------------------------------------------------------------------------------------------
# reshape, view, flatten, squeeze, unsqueeze
# ---------------------------------------------------------------------------------------------

def _infer_shape(shape: tuple, n: int) -> tuple:
    """``shape`` with its -1 resolved, or PyTorch's error when it cannot hold ``n`` elements."""
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = math.prod(s for s in shape if s != -1)
    if any(s < -1 for s in shape):
        raise RuntimeError(f"invalid shape dimension {min(shape)}")
    if -1 in shape:
        if known == 0 or n % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {n}")
        return tuple(n // known if s == -1 else s for s in shape)
    if known != n:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {n}")
    return shape


def _try_view(a: np.ndarray, shape: tuple):
    try:
        return np.reshape(a, shape, copy=False)
    except ValueError:
        return None


def _reshape_fn(shape):
    return _both(lambda y: np.reshape(y, shape), lambda y: reshape(y, shape))


def _as_view(x: Tensor, shape: tuple, op=None):
    """A reshape that shares storage, or None when the strides do not allow one."""
    arr = _try_view(x._data, shape)
    if arr is None:
        return None
    return _view(O.RESHAPE if op is None else op, x, arr, _reshape_fn(shape), (shape,))


def view(self: Tensor, *shape) -> Tensor:
    """The same storage seen with another shape (`Tensor.view`)."""
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer, tuple, list)):
        raise TypeError("view(): changing the dtype of a tensor is not supported")
    shape = _infer_shape(_shape_arg(shape), self._data.size)
    t = _as_view(self, shape)
    if t is None:
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at "
                           "least one dimension spans across two contiguous subspaces). Use "
                           ".reshape(...) instead.")
    return t


def reshape(input: Tensor, *shape) -> Tensor:
    """The same elements in a new shape: a view when the strides allow it, else a copy.

    >>> import ndgrad
    >>> ndgrad.arange(6).reshape(2, -1)
    tensor([[0, 1, 2],
            [3, 4, 5]])
    """
    shape = _infer_shape(_shape_arg(shape), input._data.size)
    t = _as_view(input, shape, None if input._data.flags.c_contiguous else O.RESHAPE_ALIAS)
    return t if t is not None else apply(UNSAFE_VIEW, input, attrs=(shape,))


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Dimensions ``start_dim`` to ``end_dim`` merged into one."""
    shape = input._data.shape
    if not shape:
        return reshape(input, (1,))
    s, e = _wrap_dim(start_dim, len(shape)), _wrap_dim(end_dim, len(shape))
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return input
    return reshape(input, shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    """Dimension ``dim`` split into ``sizes`` (one entry may be -1)."""
    shape = input._data.shape
    d = _wrap_dim(dim, len(shape))
    sizes = tuple(int(s) for s in sizes)
    known = math.prod(s for s in sizes if s != -1)
    if (-1 not in sizes and known != shape[d]) or (-1 in sizes and (known == 0 or shape[d] % known)):
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size "
                           f"of dim {dim} ({shape[d]}) in the input tensor")
    sizes = tuple(shape[d] // known if s == -1 else s for s in sizes)
    return view(input, shape[:d] + sizes + shape[d + 1:])


def _squeezed(shape: tuple, dim) -> tuple:
    """(the shape without the size-1 dims ``dim`` names, which of PyTorch's three overloads)."""
    if dim is None:
        dims, k = range(len(shape)), 0
    elif isinstance(dim, (tuple, list)):
        dims, k = {_wrap_dim(d, len(shape)) for d in dim}, 2
    else:
        dims, k = (_wrap_dim(dim, len(shape)),), 1
    return tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1)), k


def _unsqueezed(shape: tuple, dim: int) -> tuple:
    d = _wrap_dim(dim, len(shape) + 1)
    return shape[:d] + (1,) + shape[d:]


def squeeze(input: Tensor, dim=None) -> Tensor:
    """Size-1 dimensions removed: all of them, or those among ``dim`` (an int or a tuple)."""
    new, k = _squeezed(input._data.shape, dim)
    return _as_view(input, new, SQUEEZE[k])


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """A size-1 dimension inserted at ``dim``."""
    return _as_view(input, _unsqueezed(input._data.shape, dim), UNSQUEEZE)


# ---------------------------------------------------------------------------------------------
# permute, transpose, t, expand, repeat, flip, roll
# ---------------------------------------------------------------------------------------------

def _permute(input: Tensor, dims: tuple, name: str) -> Tensor:
    fn = _both(lambda y: np.transpose(y, dims), lambda y: permute(y, dims))
    return _view(PERMUTES[name], input, np.transpose(input._data, dims), fn, (dims,))


def permute(input: Tensor, *dims) -> Tensor:
    """The dimensions reordered: result dim ``i`` is input dim ``dims[i]``."""
    dims = _shape_arg(dims)
    n = input._data.ndim
    if len(dims) != n:
        raise RuntimeError("permute(sparse_coo): number of dimensions in the tensor input does not "
                           "match the length of the desired ordering of dimensions i.e. input.dim() "
                           f"= {n} is not equal to len(dims) = {len(dims)}")
    dims = tuple(_wrap_dim(d, n) for d in dims)
    if len(set(dims)) != n:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return _permute(input, dims if n else (), "PermuteBackward0")


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Dimensions ``dim0`` and ``dim1`` swapped."""
    n = input._data.ndim
    d0, d1 = _wrap_dim(dim0, n), _wrap_dim(dim1, n)
    dims = list(range(n))
    if n:
        dims[d0], dims[d1] = dims[d1], dims[d0]
    return _permute(input, tuple(dims), "TransposeBackward0")


swapaxes = swapdims = transpose


def t(input: Tensor) -> Tensor:
    """The transpose of a matrix; tensors with fewer dimensions come back as they are (a view)."""
    n = input._data.ndim
    if n > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {n}D")
    return _permute(input, tuple(range(n))[::-1], "TBackward0")


# -- the in-place forms: the tensor itself takes the view's shape and strides ------------------
# NOTE: PyTorch names their nodes with a suffix of their own (TBackward1, SqueezeBackward3...).
SQUEEZE_INPLACE = {k: _reshape_op(f"SqueezeBackward{k}") for k in (3, 4, 5)}
UNSQUEEZE_INPLACE = _reshape_op("UnsqueezeBackward1")
PERMUTES_INPLACE = {name: defop(name, "a", np.transpose, _permute_rule, attrs="dims", dtype="keep")
                    for name in ("TBackward1", "TransposeBackward1")}


def _restride(self: Tensor, op, arr: np.ndarray, view_fn, undo, attrs) -> Tensor:
    """``self`` made into its view ``arr`` in place: new shape, a version bump, and (when a
    gradient is wanted) ``op`` as its grad_fn. ``undo`` maps the new layout back to the old."""
    t = _view(op, self, arr, view_fn, attrs)
    self._data = t._data
    self._vc[0] += 1
    if self._base is not None:
        self._view_fn, self._view_ver = t._view_fn, self._vc[0]
    else:
        O.note_restride(self, undo)
    tangent = t.__dict__.get("_fw_grad")
    if tangent is not None:
        self._fw_grad = tangent
    if t._grad_fn is not None:
        self._grad_fn, self._output_nr = t._grad_fn, 0
    return self


def _reshape_(self: Tensor, shape: tuple, op) -> Tensor:
    return _restride(self, op, np.reshape(self._data, shape), _reshape_fn(shape),
                     _reshape_fn(self._data.shape), (shape,))


def squeeze_(self: Tensor, dim: int | tuple | None = None) -> Tensor:
    """`Tensor.squeeze_`: ``squeeze`` in place."""
    new, k = _squeezed(self._data.shape, dim)
    return _reshape_(self, new, SQUEEZE_INPLACE[k + 3])  # PyTorch's in-place nodes: 3, 4, 5


def unsqueeze_(self: Tensor, dim: int) -> Tensor:
    """`Tensor.unsqueeze_`: ``unsqueeze`` in place."""
    return _reshape_(self, _unsqueezed(self._data.shape, dim), UNSQUEEZE_INPLACE)


def _permute_(self: Tensor, dims: tuple, name: str) -> Tensor:
    fn = _both(lambda y: np.transpose(y, dims), lambda y: permute(y, dims))
    inv = tuple(np.argsort(dims).tolist())
    undo = _both(lambda y: np.transpose(y, inv), lambda y: permute(y, inv))
    return _restride(self, PERMUTES_INPLACE[name], np.transpose(self._data, dims), fn, undo,
                     (dims,))


def transpose_(self: Tensor, dim0: int, dim1: int) -> Tensor:
    """`Tensor.transpose_`: ``transpose`` in place."""
    n = self._data.ndim
    d0, d1 = _wrap_dim(dim0, n), _wrap_dim(dim1, n)
    dims = list(range(n))
    if n:
        dims[d0], dims[d1] = dims[d1], dims[d0]
    return _permute_(self, tuple(dims), "TransposeBackward1")


def t_(self: Tensor) -> Tensor:
    """`Tensor.t_`: ``t`` in place."""
    n = self._data.ndim
    if n > 2:
        raise RuntimeError(f"t_() expects a tensor with <= 2 dimensions, but self is {n}D")
    return _permute_(self, tuple(range(n))[::-1], "TBackward1")


_WARNED = set()


def _warn_once(key: str, msg: str) -> None:
    # NOTE: PyTorch warns about these once per process (TORCH_WARN_ONCE).
    if key not in _WARNED:
        _WARNED.add(key)
        warnings.warn(msg, UserWarning, stacklevel=3)


def _T(self: Tensor) -> Tensor:
    n = self._data.ndim
    if n == 0:
        _warn_once("T0", "Tensor.T is deprecated on 0-D tensors. This function is the identity "
                         "in these cases.")
    elif n != 2:
        _warn_once("T", "The use of `x.T` on tensors of dimension other than 2 to reverse their "
                        "shape is deprecated and it will throw an error in a future release. "
                        "Consider `x.mT` to transpose batches of matrices or "
                        "`x.permute(*torch.arange(x.ndim - 1, -1, -1))` to reverse the dimensions "
                        "of a tensor.")
    return _permute(self, tuple(range(n))[::-1], "PermuteBackward0")


def _mT(self: Tensor) -> Tensor:
    if self._data.ndim < 2:
        raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. Got "
                           f"{self._data.ndim}-D tensor.")
    return transpose(self, -2, -1)


def _expand_shape(shape: tuple, size: tuple, legacy: str) -> tuple:
    """The shape ``expand(size)`` gives (-1 keeps a dimension), with PyTorch's errors."""
    if len(size) < len(shape):
        raise RuntimeError(f"expand(torch.{legacy}Tensor{{{list(shape)}}}, size={list(size)}): the "
                           f"number of sizes provided ({len(size)}) must be greater or equal to the "
                           f"number of dimensions in the tensor ({len(shape)})")
    lead = len(size) - len(shape)
    out = []
    for i, s in enumerate(size):
        if i < lead:
            if s < 0:
                raise RuntimeError(f"The expanded size of the tensor ({s}) isn't allowed in a "
                                   f"leading, non-existing dimension {i}")
            out.append(s)
            continue
        have = shape[i - lead]
        if s == -1:
            s = have
        elif have != 1 and s != have:
            raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing size "
                               f"({have}) at non-singleton dimension {i}.  Target sizes: "
                               f"{list(size)}.  Tensor sizes: {list(shape)}")
        out.append(s)
    return tuple(out)


def _expand(self: Tensor, *size) -> Tensor:
    shape = _expand_shape(self._data.shape, _shape_arg(size), self.dtype._legacy)
    fn = _both(lambda y: _expand_array(y, shape), lambda y: broadcast_to(y, shape))
    return _view(O.EXPAND, self, _expand_array(self._data, shape), fn, (shape,))


def _expand_array(a: np.ndarray, shape: tuple) -> np.ndarray:
    # NOTE: np.broadcast_to's view is read-only; PyTorch lets fill_ and zero_ write through an
    # expanded view (other in-place ops refuse it, see `_ops.inplace`).
    return np.lib.stride_tricks.as_strided(a, shape, np.broadcast_to(a, shape).strides)


def broadcast_to(input: Tensor, size) -> Tensor:
    """A view of ``input`` broadcast to ``size`` (`torch.broadcast_to`)."""
    return _expand(input, tuple(size))


def _repeat(self: Tensor, *repeats) -> Tensor:
    repeats = _shape_arg(repeats)
    if len(repeats) < self._data.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of "
                           "dimensions of tensor")
    return apply(REPEAT, self, attrs=(repeats,))


def tile(input: Tensor, dims) -> Tensor:
    """``input`` repeated ``dims[i]`` times along each dimension (missing leading dims are 1)."""
    dims = _shape_arg((dims,))
    return _repeat(input, (1,) * (input._data.ndim - len(dims)) + dims)


def _dim_tuple(dims, ndim) -> tuple:
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    return tuple(_wrap_dim(d, ndim) for d in dims)


def flip(input: Tensor, dims) -> Tensor:
    """``input`` reversed along ``dims`` (a copy, as in PyTorch)."""
    return apply(FLIP, input, attrs=(_dim_tuple(dims, input._data.ndim),))


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """Elements shifted cyclically along ``dims``, or over the flattened tensor."""
    shifts = (shifts,) if isinstance(shifts, (int, np.integer)) else tuple(shifts)
    if dims is None:
        return apply(ROLL, input, attrs=(tuple(int(s) for s in shifts), None))
    dims = _dim_tuple(dims, input._data.ndim)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    return apply(ROLL, input, attrs=(tuple(int(s) for s in shifts), dims))


# ---------------------------------------------------------------------------------------------
# cat, stack, split, chunk, unbind, narrow, select
# ---------------------------------------------------------------------------------------------

def cat(tensors, dim: int = 0) -> Tensor:
    """Tensors joined along an existing dimension.

    >>> import ndgrad
    >>> ndgrad.cat([ndgrad.tensor([1, 2]), ndgrad.tensor([3])])
    tensor([1, 2, 3])
    """
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    first = tensors[0]._data.shape
    for i, x in enumerate(tensors):
        if x._data.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    d = _wrap_dim(dim, len(first))
    for i, x in enumerate(tensors):
        shape = x._data.shape
        if len(shape) != len(first):
            raise RuntimeError(f"Tensors must have same number of dimensions: got {len(first)} and "
                               f"{len(shape)}")
        for k, (a, b) in enumerate(zip(first, shape)):
            if k != d and a != b:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected "
                                   f"size {a} but got size {b} for tensor number {i} in the list.")
    bounds = tuple(np.cumsum([0] + [x._data.shape[d] for x in tensors]).tolist())
    return apply(_cat_op(len(tensors)), *tensors, attrs=(d, bounds))


concat = concatenate = cat


def stack(tensors, dim: int = 0) -> Tensor:
    """Tensors of equal shape joined along a new dimension."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    first = tensors[0]._data.shape
    for i, x in enumerate(tensors):
        if x._data.shape != first:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(first)} at "
                               f"entry 0 and {list(x._data.shape)} at entry {i}")
    d = _wrap_dim(dim, len(first) + 1)
    return apply(_stack_op(len(tensors)), *tensors, attrs=(d,))


def hstack(tensors) -> Tensor:
    """Tensors joined column-wise (along dim 0 for 1-D tensors)."""
    tensors = [reshape(x, (1,)) if x._data.ndim == 0 else x for x in tensors]
    return cat(tensors, 0 if tensors and tensors[0]._data.ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    """Tensors joined row-wise, 0-D and 1-D tensors first made rows."""
    return cat([reshape(x, (1, -1)) if x._data.ndim < 2 else x for x in tensors], 0)


def _split_sizes(input: Tensor, sizes, dim: int, name: str, kind: str) -> tuple:
    d = _wrap_dim(dim, input._data.ndim)
    fns, arrs, lo = [], [], 0
    for s in sizes:
        key = (slice(None),) * d + (slice(lo, lo + s),)
        fns.append(operator.itemgetter(key))
        arrs.append(input._data[key])
        lo += s
    return _multi_view(_split_op(name, len(sizes)), input, arrs, fns, (d,), kind)


def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Views of consecutive pieces along ``dim``: pieces of one size, or of the listed sizes."""
    n = tensor.size(dim)
    if isinstance(split_size_or_sections, (int, np.integer)):
        s = int(split_size_or_sections)
        if s == 0 and n:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension "
                               f"size of {n}")
        sizes = [s] * (n // s) + ([n % s] if n % s else []) if s else [0]
        return _split_sizes(tensor, sizes, dim, "SplitBackward0", "Split")
    sizes = [int(s) for s in split_size_or_sections]
    if sum(sizes) != n:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input "
                           f"tensor's size at dimension {_wrap_dim(dim, tensor._data.ndim)}), but "
                           f"got split_sizes={sizes}")
    return _split_sizes(tensor, sizes, dim, "SplitWithSizesBackward0", "SplitWithSizes")


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """At most ``chunks`` views of (nearly) equal size along ``dim``."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    n = input.size(dim)
    return split(input, max(1, -(-n // chunks)), dim)


def unbind(input: Tensor, dim: int = 0) -> tuple:
    """The slices along ``dim``, as views without that dimension."""
    d = _wrap_dim(dim, input._data.ndim)
    keys = [(slice(None),) * d + (i,) + (Ellipsis,) for i in range(input._data.shape[d])]
    return _multi_view(_split_op("UnbindBackward0", len(keys)), input,
                       [input._data[k] for k in keys], [operator.itemgetter(k) for k in keys],
                       (d,), "Unbind")


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """The view ``input[..., start:start + length, ...]`` along ``dim``."""
    d = _wrap_dim(dim, input._data.ndim)
    n = input._data.shape[d]
    if start < 0:
        start += n
    if start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    key = (slice(None),) * d + (slice(start, start + length),)
    return _view(O._INDEX_OPS["SliceBackward0"], input, input._data[key],
                 operator.itemgetter(key), (operator.itemgetter(key),))


def select(input: Tensor, dim: int, index: int) -> Tensor:
    """The view of ``input`` at ``index`` along ``dim``, without that dimension."""
    d = _wrap_dim(dim, input._data.ndim)
    n = input._data.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input._data.shape)} at dimension {d}")
    key = (slice(None),) * d + (index,) + (Ellipsis,)
    fn = operator.itemgetter(key)
    return _view(O._INDEX_OPS["SelectBackward0"], input, input._data[key], fn, (fn,))


# ---------------------------------------------------------------------------------------------
# gather, scatter, index_select, index_add, masks, take
# ---------------------------------------------------------------------------------------------

def _index_array(index: Tensor, what: str) -> np.ndarray:
    a = index._data if isinstance(index, Tensor) else np.asarray(index)
    if a.dtype.kind not in "iu":
        raise RuntimeError(f"{what}(): Expected dtype int32/int64 for index")
    return a


def _along_key(input: Tensor, dim: int, index, what: str, src=None):
    """The NumPy key that picks ``input[..., index[i][j], ...]`` (index along ``dim``)."""
    idx = _index_array(index, what)
    shape = input._data.shape
    d = _wrap_dim(dim, len(shape))
    if idx.ndim != len(shape):
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    for k, (i, s) in enumerate(zip(idx.shape, shape)):
        too_big_src = src is not None and i > src._data.shape[k]
        if (k != d and i > s) or too_big_src:
            if src is None:
                raise RuntimeError(f"Size does not match at dimension {k} expected index "
                                   f"{list(idx.shape)} to be no larger than self {list(shape)} "
                                   f"apart from dimension {d}")
            raise RuntimeError(f"Expected index {list(idx.shape)} to be no larger than self "
                               f"{list(shape)} apart from dimension {d} and to be no larger size "
                               f"than src {list(src._data.shape)}")
    if idx.size and (idx.min() < 0 or idx.max() >= shape[d]):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise RuntimeError(f"index {bad} is out of bounds for dimension {d} with size {shape[d]}")
    key = tuple(idx if k == d else
                np.arange(n).reshape((1,) * k + (n,) + (1,) * (idx.ndim - k - 1))
                for k, n in enumerate(idx.shape))
    return key, tuple(slice(0, n) for n in idx.shape)


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """``out[i][j] = input[index[i][j]][j]`` for dim 0 (and likewise for other dims)."""
    key, _ = _along_key(input, dim, index, "gather")
    return apply(GATHER, input, attrs=(key,))


_SCATTER_ARGS_ERROR = (
    "{}() received an invalid combination of arguments - got (int, Tensor), but expected one "
    "of:\n * (int dim, Tensor index, Tensor src)\n * (int dim, Tensor index, Tensor src, *, str "
    "reduce)\n * (int dim, Tensor index, Number value)\n * (int dim, Tensor index, Number value, "
    "*, str reduce)\n")


def _same_dtype(input: Tensor, src: Tensor, msg: str) -> None:
    if src._data.dtype != input._data.dtype:
        raise RuntimeError(msg.format(self=input.dtype._legacy, src=src.dtype._legacy))


def _scatter_index(index: Tensor) -> None:
    if index._data.dtype not in (np.int32, np.int64):
        raise RuntimeError("scatter(): Expected dtype int32/int64 for index")


def _scatter(input: Tensor, dim: int, index: Tensor, src, value, reduce, run, name: str) -> Tensor:
    if src is None:
        src = value
    if src is None:
        raise TypeError(_SCATTER_ARGS_ERROR.format(name))
    if reduce is not None and reduce not in ("add", "multiply"):
        raise RuntimeError("reduce argument must be either add or multiply.")
    _scatter_index(index)
    if isinstance(src, Tensor):
        _same_dtype(input, src, "scatter(): Expected self.dtype to be equal to src.dtype")
        key, region = _along_key(input, dim, index, "scatter", src)
        if reduce is None:
            return run(SCATTER, input, src, attrs=(key, region))
        _warn_once("scatter_reduce", "The reduce argument of torch.scatter with Tensor src is "
                   "deprecated and will be removed in a future PyTorch release. Use "
                   "torch.scatter_reduce instead for more reduction options.")
        if not (state.enabled and (src._grad_fn is not None or src._requires_grad)):
            # NOTE: PyTorch's node then has no edge for src at all (not even a None one).
            return run(SCATTER_REDUCE_OPS[name, "a"], input, attrs=(src._data, key, region, reduce))
        return run(SCATTER_REDUCE_OPS[name, "a src"], input, src, attrs=(key, region, reduce))
    key, _ = _along_key(input, dim, index, "scatter")
    if reduce is None:
        return run(SCATTER_VALUE, input, attrs=(key, src))
    return run(SCATTER_REDUCE_OPS[name, "a"], input, attrs=(src, key, None, reduce))


def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None,
            reduce: str | None = None) -> Tensor:
    """A copy of ``input`` with ``src`` (a tensor or a number) written at ``index`` along
    ``dim``; ``reduce`` ("add" or "multiply") combines instead of overwriting."""
    return _scatter(input, dim, index, src, value, reduce, apply, "scatter")


def _scatter_(self: Tensor, dim: int, index: Tensor, src=None, *, value=None,
              reduce: str | None = None) -> Tensor:
    return _scatter(self, dim, index, src, value, reduce, inplace, "scatter_")


def _scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor, run) -> Tensor:
    _scatter_index(index)
    _same_dtype(input, src, "scatter(): Expected self.dtype to be equal to src.dtype")
    key, region = _along_key(input, dim, index, "scatter", src)
    return run(SCATTER_ADD, input, src, attrs=(key, region))


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """A copy of ``input`` with ``src`` added at ``index`` along ``dim`` (repeats accumulate)."""
    return _scatter_add(input, dim, index, src, apply)


def _scatter_reduce(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str,
                    include_self: bool, run) -> Tensor:
    if reduce not in _REDUCES + ("max", "min"):
        raise RuntimeError("reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    _scatter_index(index)
    _same_dtype(input, src, "scatter(): Expected self.dtype to be equal to src.dtype")
    key, region = _along_key(input, dim, index, "scatter", src)
    hit = np.zeros(input._data.shape, bool)
    hit[key] = True
    count = None
    if reduce == "mean":
        count = np.full(input._data.shape, 1 if include_self else 0, input._data.dtype)
        np.add.at(count, key, 1)
        count[count == 0] = 1
    return run(SCATTER_REDUCE, input, src, attrs=(key, region, reduce, bool(include_self), hit,
                                                  count))


def scatter_reduce(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    """A copy of ``input`` with ``src`` reduced (sum, prod, mean, amax, amin) into the slots
    ``index`` picks along ``dim``."""
    return _scatter_reduce(input, dim, index, src, reduce, include_self, apply)


def _scatter_reduce_(self: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                     include_self: bool = True) -> Tensor:
    return _scatter_reduce(self, dim, index, src, reduce, include_self, inplace)


def _vector_key(input: Tensor, dim: int, index, what: str):
    idx = _index_array(index, what)
    if idx.ndim > 1:
        raise IndexError(f"{what}(): Index is supposed to be a vector")
    idx = idx.reshape(-1)
    d = _wrap_dim(dim, input._data.ndim)
    n = input._data.shape[d] if input._data.ndim else 1
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError("index out of range in self")
    return d, (slice(None),) * d + (idx,)


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The slices of ``input`` at ``index`` (a vector) along ``dim``."""
    _, key = _vector_key(input, dim, index, "index_select")
    return apply(INDEX_SELECT, input, attrs=(key,))


def _slice_key(input: Tensor, dim: int, idx: np.ndarray, negative: bool, error):
    """(dim, key): the NumPy key of the slices at ``idx`` along ``dim``; ``error(bad, dim, size)``
    is raised for an index out of bounds (negatives count from the end if ``negative``)."""
    idx = idx.reshape(-1)
    shape = input._data.shape
    d = _wrap_dim(dim, len(shape))
    n = shape[d] if shape else 1
    if idx.size:
        lo, hi = idx.min(), idx.max()
        if lo < (-n if negative else 0) or hi >= n:
            raise error(lo if lo < (-n if negative else 0) else hi, d, n)
    if not shape:
        return d, np.array(idx.size > 0)  # NOTE: a 0-d mask key: the element, or nothing
    return d, (slice(None),) * d + (idx,)


def _index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, alpha, run) -> Tensor:
    idx = index._data
    if idx.dtype not in (np.int32, np.int64):
        raise RuntimeError("index_add_(): Expected dtype int32/int64 for index but got: "
                           f"{index.dtype._legacy}")
    if idx.ndim > 1:
        raise IndexError("index_add_(): Index is supposed to be a vector, but got dim: "
                         f"{idx.ndim} with type: {index.dtype._legacy} and size: {list(idx.shape)}")
    _same_dtype(input, source, "index_add_(): self ({self}) and source ({src}) must have the same "
                               "scalar type")
    d, key = _slice_key(input, dim, idx, False, lambda bad, d, n: RuntimeError(
        f"index {bad} is out of bounds for dimension {d} with size {n}"))
    k, shape, sshape = idx.size, input._data.shape, source._data.shape
    if d < len(sshape) and sshape[d] != k:
        raise RuntimeError(f"index_add_(): Number of indices ({k}) should be equal to "
                           f"source.size(dim): ({sshape[d]}), for dim: {d}")
    if len(sshape) != len(shape) or any(a != b for i, (a, b) in enumerate(zip(shape, sshape))
                                        if i != d):
        raise RuntimeError("source tensor shape must match self tensor shape, excluding the "
                           f"specified dimension. Got self.shape = {list(shape)} source.shape = "
                           f"{list(sshape)}")
    return run(INDEX_ADD, input, source, attrs=(key, alpha))


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    """A copy of ``input`` with ``alpha * source`` added at ``index`` along ``dim``."""
    return _index_add(input, dim, index, source, alpha, apply)


def _index_fill(input: Tensor, dim: int, index: Tensor, value, run) -> Tensor:
    idx = index._data
    if idx.dtype != np.int64:
        raise IndexError("index_fill_(): Expected dtype int64 for index.")
    if idx.ndim > 1:
        raise RuntimeError("Index has to be a vector/scalar")
    _slice_key(input, dim, idx, True, lambda bad, d, n: IndexError(
        f"index {bad} is out of bounds for dimension {d} with size {n}"))
    n = input._data.shape[_wrap_dim(dim, input._data.ndim)] if input._data.ndim else 1
    _, key = _slice_key(input, dim, np.unique(idx % max(n, 1)), True, None)  # checked above
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError("index_fill_ only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value._data.ndim} dimension(s).")
        return run(INDEX_FILL_TENSOR, input, value, attrs=(key,))
    return run(INDEX_FILL, input, attrs=(key, value))


def index_fill(input: Tensor, dim: int, index: Tensor, value) -> Tensor:
    """A copy of ``input`` with the slices at ``index`` along ``dim`` set to ``value``.

    >>> import ndgrad
    >>> ndgrad.zeros(2, 3).index_fill(1, ndgrad.tensor([0, 2]), 1.0)
    tensor([[1., 0., 1.],
            [1., 0., 1.]])
    """
    return _index_fill(input, dim, index, value, apply)


def _index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor, run) -> Tensor:
    idx = index._data
    if idx.dtype != np.int64:
        raise RuntimeError("index_copy_(): Expected a long tensor for index, but got "
                           f"{index.dtype._legacy}")
    _same_dtype(input, source, "index_copy_(): self and source expected to have the same dtype, "
                               "but got (self) {self} and (source) {src}")
    shape, sshape = input._data.shape, source._data.shape
    d = _wrap_dim(dim, len(shape))
    if shape and sshape and len(sshape) != len(shape):
        raise IndexError("index_copy_(): When source and destination are not scalars, their "
                         f"dimensionality must match. Source dimensionality ({len(sshape)}), "
                         f"destination dimensionality ({len(shape)})")
    cut, scut = shape[:d] + shape[d + 1:], sshape[:d] + sshape[d + 1:]
    if cut != scut:
        raise RuntimeError("index_copy_(): Source/destination tensor must have same slice shapes. "
                           f"Destination slice shape: {' '.join(map(str, cut))} at dimension {d} "
                           f"and source slice shape: {' '.join(map(str, scut))} at dimension 0.")
    if idx.ndim > 1:
        raise IndexError(f"index_copy_(): Index should have dimension 1 or 0 (got {idx.ndim})")
    if not sshape and idx.size != 1:
        raise IndexError("index_copy_(): When source is scalar, index should have one element "
                         f"(got {idx.size})")
    if sshape and sshape[d] != idx.size:
        raise IndexError(f"index_copy_(): Number of indices ({idx.size}) should be equal to "
                         f"source.size(dim) ({sshape[d]})")
    _, key = _slice_key(input, dim, idx, False, lambda bad, d, n: IndexError(
        f"index_copy_(): index {bad} is out of bounds for dimension {d} with size {n}"))
    return run(INDEX_COPY, input, source, attrs=(key,))


def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """A copy of ``input`` with the slices at ``index`` along ``dim`` replaced by ``source``'s."""
    return _index_copy(input, dim, index, source, apply)


def _masked_scatter(input: Tensor, mask: Tensor, source: Tensor, run) -> Tensor:
    if mask._data.dtype != np.bool_:
        raise RuntimeError("masked_scatter_ only supports boolean masks, but got mask with dtype "
                           f"{mask.dtype._legacy}")
    if source._data.dtype != input._data.dtype:
        raise RuntimeError("masked_scatter: expected self and source to have same dtypes but got"
                           f"{input.dtype._legacy} and {source.dtype._legacy}")
    if run is inplace:
        shape, mshape = input._data.shape, mask._data.shape
        if len(mshape) > len(shape):
            raise RuntimeError(f"expand(CPUBoolType{{{list(mshape)}}}, size={list(shape)}): the "
                               f"number of sizes provided ({len(shape)}) must be greater or equal "
                               f"to the number of dimensions in the tensor ({len(mshape)})")
        _expand_shape(mshape, shape, "Bool")
    else:
        try:
            shape = np.broadcast_shapes(mask._data.shape, input._data.shape)
        except ValueError as exc:
            O._raise_broadcast((mask._data, input._data), exc)
    m = np.broadcast_to(mask._data, shape)
    flat = np.flatnonzero(m)
    if flat.size > source._data.size:
        raise RuntimeError("Number of elements of source < number of ones in mask")
    return run(MASKED_SCATTER, input, source, attrs=(m, flat))


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """A copy of ``input`` with ``source``'s leading elements written, in order, where ``mask``
    is True (input and mask broadcast)."""
    return _masked_scatter(input, mask, source, apply)


def _check_mask(mask) -> None:
    if mask._data.dtype != np.bool_:
        raise RuntimeError("masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{_c10_name(mask.dtype)}")


def _masked_fill(input: Tensor, mask: Tensor, value, run) -> Tensor:
    _check_mask(mask)
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError("masked_fill_ only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value._data.ndim} dimension(s).")
        return run(MASKED_FILL_TENSOR, input, mask, value)
    return run(MASKED_FILL, input, mask, attrs=(value,))


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """``input`` with ``value`` (a number or a 0-D tensor) where ``mask`` is True."""
    return _masked_fill(input, mask, value, apply)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The elements of ``input`` where ``mask`` is True, as a 1-D tensor (both broadcast)."""
    if mask._data.dtype != np.bool_:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    shape = np.broadcast_shapes(input._data.shape, mask._data.shape)
    key = np.broadcast_to(mask._data, shape)
    return apply(MASKED_SELECT, input, attrs=(shape, key))


def take(input: Tensor, index: Tensor) -> Tensor:
    """The elements of the flattened ``input`` at ``index``, in ``index``'s shape."""
    idx = _index_array(index, "take")
    n = input._data.size
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx.min() if idx.min() < -n else idx.max()
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} elements.")
    return apply(TAKE, input, attrs=(idx,))


# ---------------------------------------------------------------------------------------------
# tril, triu, diag, diagonal, trace
# ---------------------------------------------------------------------------------------------

def _need_matrix(input: Tensor, what: str) -> None:
    if input._data.ndim < 2:
        raise RuntimeError(f"{what}: input tensor must have at least 2 dimensions")


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dimensions; the rest zeroed."""
    _need_matrix(input, "tril")
    return apply(TRIL, input, attrs=(diagonal,))


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dimensions; the rest zeroed."""
    _need_matrix(input, "triu")
    return apply(TRIU, input, attrs=(diagonal,))


def _diag_array(a: np.ndarray, offset: int, d1: int, d2: int) -> np.ndarray:
    """A writable NumPy view of a diagonal, laid out as PyTorch's (the diagonal dim last)."""
    v = np.diagonal(a, offset, d1, d2)
    # NOTE: np.diagonal's view is flagged read-only only as a deprecation guard; it is a real
    # view, and writes through it must reach the base as they do in PyTorch.
    if a.flags.writeable:
        v.flags.writeable = True
    return v


def _diag_fn(offset: int, d1: int, d2: int):
    return _both(lambda y: _diag_array(y, offset, d1, d2),
                 lambda y: diagonal(y, offset, d1, d2))


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """A view of the diagonal over ``dim1`` and ``dim2``, appended as the last dimension."""
    n = input._data.ndim
    d1, d2 = _wrap_dim(dim1, n), _wrap_dim(dim2, n)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    fn = _diag_fn(offset, d1, d2)
    return _view(DIAGONAL, input, _diag_array(input._data, offset, d1, d2), fn, (fn,))


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A square matrix with ``input`` (1-D) on a diagonal, or a matrix's diagonal (a copy)."""
    n = input._data.ndim
    if n == 1:
        m = input._data.shape[0] + abs(diagonal)
        return apply(DIAG_EMBED, input, attrs=((m, m), _diag_fn(diagonal, 0, 1)))
    if n != 2:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {n}D")
    return apply(DIAG_COPY, input, attrs=(_diag_fn(diagonal, 0, 1),))


def trace(input: Tensor) -> Tensor:
    """The sum of a matrix's main diagonal."""
    if input._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input._data.ndim}")
    return apply(TRACE, input)


# ---------------------------------------------------------------------------------------------
# Indexing: basic indices give views; integer arrays and masks give copies (IndexBackward0)
# ---------------------------------------------------------------------------------------------

def _is_basic(idx) -> bool:
    items = idx if isinstance(idx, tuple) else (idx,)
    for i in items:
        if not (i is None or i is Ellipsis or isinstance(i, slice) or
                (isinstance(i, (int, np.integer)) and not isinstance(i, bool))):
            return False
    return True


def _index_name(idx, shape) -> str:
    """The grad_fn PyTorch gives ``x[idx]``: that of the last index that changes anything."""
    if isinstance(idx, slice):
        return "SliceBackward0"
    items = idx if isinstance(idx, tuple) else (idx,)
    consumed = len([i for i in items if i is not None and i is not Ellipsis])
    name = "AliasBackward0"
    dim = 0
    for i in items:
        if i is Ellipsis:
            dim += len(shape) - consumed
        elif i is None:
            name = "UnsqueezeBackward0"
        elif isinstance(i, slice):
            if i.indices(shape[dim]) != (0, shape[dim], 1):
                name = "SliceBackward0"
            dim += 1
        else:
            name = "SelectBackward0"
            dim += 1
    return name


def _unwrap_index(i):
    """One index item as NumPy sees it, with PyTorch's checks on steps and index dtypes."""
    if isinstance(i, slice):
        if i.step is not None and i.step < 0:
            raise ValueError("step must be greater than zero")
        if any(isinstance(v, Tensor) for v in (i.start, i.stop, i.step)):
            i = slice(*(int(v) if isinstance(v, Tensor) else v for v in (i.start, i.stop, i.step)))
        return i
    if isinstance(i, list):
        i = np.array([v._data if isinstance(v, Tensor) else v for v in i])
        if i.dtype.kind == "f":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        return i
    if isinstance(i, Tensor):
        a = i._data
        if a.dtype.kind not in "biu":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        # NOTE: PyTorch treats a 0-d integer tensor like a Python int (a view, SelectBackward0).
        return int(a) if a.ndim == 0 and a.dtype.kind in "iu" else a
    return i


def _check_masks(items, shape) -> None:
    """PyTorch's error for a boolean mask whose shape differs from the dims it covers."""
    consumed = sum(i.ndim if isinstance(i, np.ndarray) and i.dtype == np.bool_ else 1
                   for i in items if i is not None and i is not Ellipsis)
    seen, dim = [], 0
    for i in items:
        if i is Ellipsis:
            seen.extend(shape[dim:dim + len(shape) - consumed])
            dim += len(shape) - consumed
        elif i is None:
            seen.append(1)
        elif isinstance(i, slice):
            if dim < len(shape):
                seen.append(len(range(*i.indices(shape[dim]))))
            dim += 1
        elif isinstance(i, np.ndarray) and i.dtype == np.bool_:
            have = shape[dim:dim + i.ndim]
            for k, s in enumerate(i.shape):
                if k >= len(have) or have[k] != s:
                    view_shape = seen + list(shape[dim:])
                    raise IndexError(f"The shape of the mask {list(i.shape)} at index {k} does not "
                                     f"match the shape of the indexed tensor {view_shape} at index "
                                     f"{len(seen) + k}")
            seen.extend(have)
            dim += i.ndim
        elif isinstance(i, np.ndarray):
            if dim < len(shape):
                seen.append(shape[dim])
            dim += 1
        else:
            dim += 1


def _key(self: Tensor, idx):
    if isinstance(idx, tuple):
        key = tuple(_unwrap_index(i) for i in idx)
        items = key
    else:
        key = _unwrap_index(idx)
        items = (key,)
    if any(isinstance(i, np.ndarray) and i.dtype == np.bool_ for i in items):
        _check_masks(items, self._data.shape)
    return key


def _numpy_index_error(exc: IndexError, ndim: int) -> IndexError:
    msg = str(exc)
    if msg.startswith("too many indices"):
        msg = f"too many indices for tensor of dimension {ndim}"
    return IndexError(msg.replace("axis", "dimension"))


def _basic_view(self: Tensor, key) -> Tensor:
    full = O._basic_index(key)
    fn = operator.itemgetter(full)
    try:
        arr = self._data[full]
    except IndexError as exc:
        raise _numpy_index_error(exc, self._data.ndim) from None
    return _view(O._INDEX_OPS[_index_name(key, self._data.shape)], self, arr, fn, (fn,))


def _advanced(self: Tensor, key):
    """PyTorch applies ints, slices and None first (a view), then the tensor indices to what is
    left; NumPy would treat ints beside arrays as arrays. Returns (the view, the array key)."""
    items = key if isinstance(key, tuple) else (key,)
    basic, adv = [], []
    for i in items:
        if isinstance(i, np.ndarray) or isinstance(i, bool):
            i = np.asarray(i)
            basic.extend([slice(None)] * (i.ndim if i.dtype == np.bool_ else 1))
            adv.append(i)
        elif i is None or isinstance(i, slice):
            basic.append(i)
            adv.append(slice(None))
        elif i is Ellipsis:
            basic.append(i)
            adv.append(i)
        else:
            basic.append(i)
    a = self._data
    try:
        arr = a[O._basic_index(tuple(basic))]
    except IndexError as exc:
        raise _numpy_index_error(exc, a.ndim) from None
    if arr.shape == a.shape and arr.strides == a.strides:
        return self, tuple(adv)  # NOTE: full slices alone make no view in PyTorch either
    return _basic_view(self, tuple(basic)), tuple(adv)


def getitem(self: Tensor, idx) -> Tensor:
    """``self[idx]``: basic indices give a view that shares storage; others a copy."""
    key = _key(self, idx)
    if self._data.ndim == 0 and not isinstance(key, np.ndarray) and not (
            key is None or key is Ellipsis or
            (isinstance(key, tuple) and all(i is None or i is Ellipsis for i in key))):
        raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                         "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
    if _is_basic(key):
        return _basic_view(self, key)
    src, key = _advanced(self, key)
    try:
        return apply(O.INDEX, src, attrs=(key,))
    except IndexError as exc:
        raise _numpy_index_error(exc, src._data.ndim) from None


def setitem(self: Tensor, idx, value) -> None:
    """``self[idx] = value``: an in-place copy into the indexed region."""
    key = _key(self, idx)
    if _is_basic(key):
        try:
            arr = self._data[O._basic_index(key)]
        except IndexError as exc:
            raise _numpy_index_error(exc, self._data.ndim) from None
        # NOTE: PyTorch writes straight into `self` when the index selects all of it (x[:] = v).
        same = arr.shape == self._data.shape and arr.strides == self._data.strides
        dst = self if same else _basic_view(self, key)
        if isinstance(value, Tensor) and value._data.ndim:
            vshape = value._data.shape
            while vshape and vshape[0] == 1:  # PyTorch drops leading 1s before expanding
                vshape = vshape[1:]
            _expand_shape(vshape, dst._data.shape, value.dtype._legacy)
            inplace(O.COPY, dst, value)
        else:
            if not isinstance(value, Tensor):
                value = _wrap(np.asarray(value, dtype=self._data.dtype))
            inplace(O.FILL_TENSOR, dst, value)
        return
    dst, key = _advanced(self, key)
    try:
        target = np.broadcast_to(np.zeros((), bool), dst._data.shape)[key].shape
    except IndexError as exc:
        raise _numpy_index_error(exc, dst._data.ndim) from None
    if not isinstance(value, Tensor):
        value = _wrap(np.asarray(value, dtype=self._data.dtype))
    elif value._data.dtype != self._data.dtype:
        raise RuntimeError("Index put requires the source and destination dtypes match, got "
                           f"{self.dtype._legacy} for the destination and {value.dtype._legacy} "
                           "for the source.")
    try:
        np.broadcast_shapes(value._data.shape, target)
    except ValueError:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(value._data.shape)} cannot "
                           f"be broadcast to indexing result of shape {list(target)}") from None
    inplace(O.INDEX_PUT, dst, value, attrs=(key,))


# ---------------------------------------------------------------------------------------------
# The array namespaces' extra functions, and the Tensor methods
# ---------------------------------------------------------------------------------------------

NX.permute = np.transpose
TX.permute = permute
NX.sum_dims = lambda g, axes: np.sum(g, axis=axes)
TX.sum_dims = lambda g, axes: apply(O.SUM_DIM, g, attrs=(axes, False, None))
NX.flip = np.flip
TX.flip = lambda g, dims: apply(FLIP, g, attrs=(dims,))
NX.roll = np.roll
TX.roll = lambda g, shifts, dims: apply(ROLL, g, attrs=(shifts, dims))
NX.tril, NX.triu = np.tril, np.triu
TX.tril = lambda g, k: apply(TRIL, g, attrs=(k,))
TX.triu = lambda g, k: apply(TRIU, g, attrs=(k,))
NX.cat = lambda gs, dim: np.concatenate(gs, axis=dim)
TX.cat = cat
NX.stack = lambda gs, dim: np.stack(gs, axis=dim)
TX.stack = stack
NX.scatter_reduce = _scatter_reduce_fwd
TX.scatter_reduce = lambda a, src, *attrs: apply(SCATTER_REDUCE, a, src, attrs=attrs)


def _batched(x: Tensor) -> bool:
    return O._VMAP is not None and type(x) is O._VMAP.BatchedTensor


def _leaf_checked(method, out_of_place):
    """An in-place method that, like PyTorch, refuses a leaf that requires grad (or a view of
    one) before it looks at its arguments. Inside vmap it writes ``out_of_place``'s result."""
    @functools.wraps(method)
    def checked(self, *args, **kwargs):
        O.check_inplace(self)
        if _batched(self):
            # NOTE: the op's NumPy keys are cut for one batch element; the out-of-place op runs
            # per element under vmap, and copy_ writes its batched result back.
            return self.copy_(out_of_place(self, *args, **kwargs))
        return method(self, *args, **kwargs)
    return checked


def _restrider(method, out_of_place):
    """An in-place shape method (t_, squeeze_...); inside vmap the batched tensor takes the
    out-of-place view's value, which keeps the batch dimension in front."""
    @functools.wraps(method)
    def checked(self, *args, **kwargs):
        O.check_inplace(self)
        if _batched(self):
            new = out_of_place(self, *args, **kwargs)
            self._value, self._data = new._value, new._data
            return self
        return method(self, *args, **kwargs)
    return checked


T = Tensor
T.__getitem__ = getitem
T.__setitem__ = setitem
T.view = view
T.reshape = reshape
T.flatten = flatten
T.unflatten = unflatten
T.squeeze = squeeze
T.unsqueeze = unsqueeze
T.permute = permute
T.transpose = transpose
T.swapaxes = T.swapdims = transpose
T.t = t
T.T = property(_T)
T.mT = property(_mT)
T.expand = _expand
T.expand_as = lambda self, other: _expand(self, other._data.shape)
T.broadcast_to = broadcast_to
T.repeat = _repeat
T.tile = lambda self, *dims: tile(self, _shape_arg(dims))
T.flip = lambda self, *dims: flip(self, _shape_arg(dims))
T.roll = roll
T.split = split
T.chunk = chunk
T.unbind = unbind
T.narrow = narrow
T.select = select
T.gather = gather
T.scatter = scatter
T.scatter_add = scatter_add
T.index_select = index_select
T.index_add = index_add
T.masked_fill = masked_fill
T.masked_select = masked_select
T.take = take
T.tril = tril
T.triu = triu
T.diag = diag
T.diagonal = diagonal
T.trace = trace
T.masked_fill_ = lambda self, mask, value: _masked_fill(self, mask, value, inplace)
T.index_fill = index_fill
T.index_copy = index_copy
T.masked_scatter = masked_scatter
T.scatter_reduce = scatter_reduce
T.scatter_ = _leaf_checked(_scatter_, lambda self, *a, **k: scatter(self, *a, **k))
T.scatter_reduce_ = _leaf_checked(_scatter_reduce_,
                                  lambda self, *a, **k: scatter_reduce(self, *a, **k))
T.scatter_add_ = _leaf_checked(lambda self, dim, index, src:
                               _scatter_add(self, dim, index, src, inplace),
                               lambda self, *a: scatter_add(self, *a))
T.index_add_ = _leaf_checked(lambda self, dim, index, source, *, alpha=1:
                             _index_add(self, dim, index, source, alpha, inplace),
                             lambda self, *a, **k: index_add(self, *a, **k))
T.index_fill_ = _leaf_checked(lambda self, dim, index, value:
                              _index_fill(self, dim, index, value, inplace),
                              lambda self, *a: index_fill(self, *a))
T.index_copy_ = _leaf_checked(lambda self, dim, index, source:
                              _index_copy(self, dim, index, source, inplace),
                              lambda self, *a: index_copy(self, *a))
T.masked_scatter_ = _leaf_checked(lambda self, mask, source:
                                  _masked_scatter(self, mask, source, inplace),
                                  lambda self, *a: masked_scatter(self, *a))
T.squeeze_ = _restrider(squeeze_, lambda self, *a: self.squeeze(*a))
T.unsqueeze_ = _restrider(unsqueeze_, lambda self, *a: self.unsqueeze(*a))
T.transpose_ = T.swapdims_ = T.swapaxes_ = _restrider(transpose_,
                                                     lambda self, *a: self.transpose(*a))
T.t_ = _restrider(t_, lambda self: self.t())
T.tril_ = lambda self, diagonal=0: inplace(TRIL, self, attrs=(diagonal,))
T.triu_ = lambda self, diagonal=0: inplace(TRIU, self, attrs=(diagonal,))
