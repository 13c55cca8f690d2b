"""vmap's machinery: batched tensors, the per-op batching rules and the loop fallback.

A BatchedTensor shows user code the logical shape; its ``_value`` is an ordinary tensor (or a
BatchedTensor of an outer level) whose dimension 0 is the vmapped one. Ops reach ``dispatch``
through ``_ops.apply`` only while some vmap is active; the graph is recorded on the values.
"""
from __future__ import annotations

import functools
import operator
import sys

import numpy as np

from . import _ops as O
from ._dtypes import FROM_NUMPY, result_type
from ._tensor import Tensor, _wrap, _wrap_dim

_object_new = object.__new__
_LEVELS: dict = {}  # active vmap level -> batch size
_SELF = sys.modules[__name__]
_ITEM = ("vmap: It looks like you're calling .item() on a Tensor. We don't support vmap over "
         "calling .item() on a Tensor, please try to rewrite what you're doing with other "
         "operations. If error is occurring somewhere inside PyTorch internals, please file a "
         "bug report.")
_CONTROL = ("vmap: It looks like you're attempting to use a Tensor in some data-dependent "
            "control flow. We don't support that yet, please file an issue at "
            "https://github.com/pytorch/pytorch/issues .")


def _no_item(self, *args, **kwargs):
    raise RuntimeError(_ITEM)


def _no_control(self, *args, **kwargs):
    raise RuntimeError(_CONTROL)


class BatchedTensor(Tensor):
    """A tensor inside ``vmap``: logical shape outside, a batch dimension 0 in ``_value``."""

    # NOTE: ``_data`` holds the first batch element (a view of the value), so shape, dtype and
    # dimension checks in op wrappers see the logical tensor; values are only read through
    # ``_value``. The graph lives on the value, so this wrapper never has a grad_fn of its own.
    _grad_fn = property(lambda self: None, lambda self, v: None)

    @property
    def requires_grad(self) -> bool:
        return self._value.requires_grad

    item = tolist = __float__ = __int__ = __complex__ = __index__ = _no_item
    __bool__ = _no_control

    def numpy(self, *, force=False):
        raise RuntimeError(_ITEM)

    def __repr__(self, *, tensor_contents=None) -> str:
        inner = repr(self._value).replace("\n", "\n    ")
        return f"BatchedTensor(lvl={self._level}, bdim=0, value=\n    {inner}\n)"

    __str__ = __repr__

    def __getitem__(self, idx):
        key = _batched_key(idx if isinstance(idx, tuple) else (idx,))
        if key is None:
            return _index_per_element(self, idx)
        return _bt(self._value[key], self._level)

    def __setitem__(self, idx, value) -> None:
        key = _batched_key(idx if isinstance(idx, tuple) else (idx,))
        if key is None or (isinstance(value, BatchedTensor) and value._level > self._level):
            raise RuntimeError("vmap: setting a batched region with this index is not supported")
        if isinstance(value, BatchedTensor) and value._level == self._level:
            region = self[idx]
            value = _align(value, region.ndim)
        self._value[key] = value

    def detach(self) -> "BatchedTensor":
        return _bt(self._value.detach(), self._level)

    # -- shape methods: the same method on the value, with dims shifted past the batch ------
    def _batch(self) -> int:
        return self._value._data.shape[0]

    def reshape(self, *shape) -> "BatchedTensor":
        final = Tensor.reshape(_plain_sample(self), *shape).shape  # checks, resolves -1
        return _bt(self._value.reshape((self._batch(),) + tuple(final)), self._level)

    view = reshape

    def permute(self, *dims) -> "BatchedTensor":
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        Tensor.permute(_plain_sample(self), *dims)  # checks
        n = self.ndim
        return _bt(self._value.permute(0, *[_wrap_dim(d, n) + 1 for d in dims]), self._level)

    def transpose(self, dim0: int, dim1: int) -> "BatchedTensor":
        n = self.ndim
        if n == 0:
            _wrap_dim(dim0, 0), _wrap_dim(dim1, 0)
            return self
        return _bt(self._value.transpose(_wrap_dim(dim0, n) + 1, _wrap_dim(dim1, n) + 1),
                   self._level)

    swapaxes = swapdims = transpose

    def t(self) -> "BatchedTensor":
        Tensor.t(_plain_sample(self))  # checks
        return self.transpose(0, 1) if self.ndim == 2 else self

    @property
    def T(self) -> "BatchedTensor":
        return self.permute(*range(self.ndim - 1, -1, -1))

    @property
    def mT(self) -> "BatchedTensor":
        return self.transpose(-2, -1)

    def unsqueeze(self, dim: int) -> "BatchedTensor":
        return _bt(self._value.unsqueeze(_wrap_dim(dim, self.ndim + 1) + 1), self._level)

    def squeeze(self, dim=None) -> "BatchedTensor":
        shape, n = self._data.shape, self.ndim
        if dim is None:
            dims = [i for i, k in enumerate(shape) if k == 1]
        elif isinstance(dim, (tuple, list)):
            dims = [_wrap_dim(d, n) for d in dim]
        else:
            dims = [_wrap_dim(dim, n)]
        keep = tuple(k for i, k in enumerate(shape) if not (i in dims and k == 1))
        return self.reshape(keep)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "BatchedTensor":
        shape = self._data.shape
        if not shape:
            return self.reshape(1)
        s, e = _wrap_dim(start_dim, len(shape)), _wrap_dim(end_dim, len(shape))
        if s >= e:
            return Tensor.flatten(self, start_dim, end_dim) if s > e else self
        return self.reshape(shape[:s] + (int(np.prod(shape[s:e + 1])),) + shape[e + 1:])


def _plain_sample(t: BatchedTensor) -> Tensor:
    """The first batch element as a graph-free tensor: for argument checks only."""
    return _wrap(t._data)


def _index_per_element(self, idx):
    """``self[idx]`` once per batch element, for indices that are batched themselves or that
    NumPy would reorder: the tensor and every batched index tensor are sliced together."""
    items = idx if isinstance(idx, tuple) else (idx,)
    args = (self,) + items
    if isinstance(idx, tuple):
        return _map_loop(lambda t, *k: t[k], args, _level_of(args))
    return _map_loop(lambda t, k: t[k], args, _level_of(args))


def _bt(value: Tensor, level: int) -> BatchedTensor:
    """Wrap ``value`` (batch dimension 0) as a tensor batched at ``level``."""
    t = _object_new(BatchedTensor)
    d = value._data
    t._data = d[0] if d.shape[0] else np.zeros(d.shape[1:], d.dtype)
    t._vc = value._vc
    t._value = value
    t._level = level
    return t


def _batched_key(key):
    """``key`` with a leading full slice, or None when NumPy would move its advanced indices
    to the front (advanced indices that are not adjacent) or an index is itself batched."""
    pos = []
    for i, k in enumerate(key):
        if isinstance(k, BatchedTensor):
            return None
        if isinstance(k, (Tensor, np.ndarray, list)):
            pos.append(i)
    if pos and pos[-1] - pos[0] + 1 != len(pos):
        return None
    return (slice(None),) + tuple(k._data if type(k) is Tensor else k for k in key)


def _level_of(args) -> int:
    level = 0
    for a in args:
        if type(a) is BatchedTensor and a._level > level:
            level = a._level
    return level


def _align(a: BatchedTensor, n: int) -> Tensor:
    """The value of ``a`` with ones inserted after the batch dimension up to ``n`` logical dims,
    so that NumPy's right-aligned broadcasting lines up the logical dimensions."""
    v = a._value
    k = a._data.ndim
    if k >= n:
        return v
    return O.apply(O.RESHAPE, v, attrs=((v.shape[0],) + (1,) * (n - k) + a._data.shape,))


def _promoted(op, args):
    """Tensor arguments cast to the dtype PyTorch picks for the logical (unbatched) operands,
    which a physical batch dimension would otherwise change (0-d tensors promote weakly)."""
    dtypes = {a._data.dtype for a in args if isinstance(a, Tensor)}
    if len(dtypes) < 2 or op.dtype == "keep":
        return args
    dims, zeros, scalars = [], [], []
    for a in args:
        if isinstance(a, Tensor):
            (dims if a._data.ndim else zeros).append(FROM_NUMPY[a._data.dtype])
        elif a is not None:
            scalars.append(a)
    target = result_type(dims, zeros, scalars)
    return tuple(O.apply(O.TO_COPY, a, attrs=(target.np,))
                 if isinstance(a, Tensor) and a._data.dtype != target.np else a for a in args)


# ---------------------------------------------------------------------------------------------
# Batching rules: each maps an op on logical tensors to the same kind of op on the values
# ---------------------------------------------------------------------------------------------

def _elementwise(op, args, attrs, level):
    args = _promoted(op, args)
    n = max(a._data.ndim for a in args if isinstance(a, Tensor))
    new = [_align(a, n) if type(a) is BatchedTensor and a._level == level else a for a in args]
    return _bt(O.apply(op, *new, attrs=attrs), level)


def _shift(dims):
    return tuple(d + 1 for d in dims)


def _rule_sum(op, args, attrs, level):
    v = args[0]._value
    dtype = attrs[0] if attrs else None
    return _bt(O.apply(O.SUM_DIM, v, attrs=(tuple(range(1, v._data.ndim)), False, dtype)), level)


def _rule_sum_dim(op, args, attrs, level):
    return _bt(O.apply(O.SUM_DIM, args[0]._value, attrs=(_shift(attrs[0]),) + tuple(attrs[1:])),
               level)


def _rule_mean(op, args, attrs, level):
    v = args[0]._value
    return _bt(O.apply(O.MEAN_DIM, v, attrs=(tuple(range(1, v._data.ndim)), False)), level)


def _rule_mean_dim(op, args, attrs, level):
    dim, keepdim = attrs
    return _bt(O.apply(O.MEAN_DIM, args[0]._value, attrs=(_shift(dim), keepdim)), level)


def _rule_reshape(op, args, attrs, level):
    v = args[0]._value
    return _bt(O.apply(O.RESHAPE, v, attrs=((v._data.shape[0],) + tuple(attrs[0]),)), level)


def _rule_expand(op, args, attrs, level):
    shape = tuple(attrs[0])
    v = _align(args[0], len(shape))
    return _bt(O.apply(O.EXPAND, v, attrs=((v._data.shape[0],) + shape,)), level)


def _rule_movedim(op, args, attrs, level):
    src, dst = attrs
    return _bt(O.apply(MOVEDIM, args[0]._value, attrs=(src + 1, dst + 1)), level)


def _itemgetter_key(fn):
    if type(fn) is operator.itemgetter:
        items = fn.__reduce__()[1]
        if len(items) == 1 and isinstance(items[0], tuple):
            return _batched_key(items[0])
    return None


def _rule_view_scatter(op, args, attrs, level):
    shape, view_fn = attrs
    key = _itemgetter_key(view_fn)
    if key is None:
        return _fallback(op, args, attrs, level)
    v = args[0]._value
    return _bt(O.apply(op, v, attrs=((v._data.shape[0],) + tuple(shape),
                                     operator.itemgetter(key))), level)


def _rule_view_fn(op, args, attrs, level):
    key = _itemgetter_key(attrs[0])
    if key is None:
        return _fallback(op, args, attrs, level)
    return _bt(O.apply(op, args[0]._value, attrs=(operator.itemgetter(key),)), level)


def _key_tuple(key):
    return key if isinstance(key, tuple) else (key,)


def _rule_index(op, args, attrs, level):
    key = _batched_key(_key_tuple(attrs[0]))
    if key is None:
        return _fallback(op, args, attrs, level)
    return _bt(O.apply(op, args[0]._value, attrs=(key,)), level)


def _rule_index_acc(op, args, attrs, level):
    shape, key = attrs
    bkey = _batched_key(_key_tuple(key))
    if bkey is None:
        return _fallback(op, args, attrs, level)
    v = args[0]._value
    return _bt(O.apply(op, v, attrs=((v._data.shape[0],) + tuple(shape), bkey)), level)


def _matmul_shape(sa, sb):
    if len(sa) == 1 and len(sb) == 1:
        return ()
    if len(sa) == 1:
        return tuple(sb[:-2]) + (sb[-1],)
    if len(sb) == 1:
        return tuple(sa[:-1])
    return tuple(np.broadcast_shapes(sa[:-2], sb[:-2])) + (sa[-2], sb[-1])


def _rule_matmul(op, args, attrs, level):
    from . import _linalg
    a, b = _promoted(op, args)
    sa, sb = a._data.shape, b._data.shape
    out_shape = _matmul_shape(sa, sb)
    k = max(len(sa) - 2, len(sb) - 2, 0)
    # A batched operand becomes a stack of matrices: a 1-D one a row (first operand) or a
    # column (second), with ones after the vmapped dim so NumPy's batch broadcasting lines up.
    new = []
    for i, (x, s) in enumerate(((a, sa), (b, sb))):
        if type(x) is not BatchedTensor or x._level != level:
            new.append(x)
            continue
        v = x._value
        mat = (1,) + tuple(s) if (len(s) == 1 and i == 0) else \
            tuple(s) + (1,) if len(s) == 1 else tuple(s)
        pad = k - (len(mat) - 2)
        new.append(O.apply(O.RESHAPE, v, attrs=((v._data.shape[0],) + (1,) * pad + mat,)))
    batch = next(x._value._data.shape[0] for x in (a, b)
                 if type(x) is BatchedTensor and x._level == level)
    mm = _linalg._MATMUL.get(op.name, _linalg._MATMUL["UnsafeViewBackward0"])
    out = O.apply(mm, *new)
    return _bt(O.apply(O.RESHAPE, out, attrs=((batch,) + out_shape,)), level)


def _rule_addmm(op, args, attrs, level):
    from . import _linalg
    bias, a, b = args
    mm = _linalg._MATMUL["MmBackward0"]
    prod = _rule_matmul(mm, (a, b), (), level) if _level_of((a, b)) == level else \
        O.apply(mm, a, b)
    return O.apply(O.ADD, bias, prod)


def _rule_matrix_t(op, args, attrs, level):
    from . import _linalg
    a = args[0]
    if a._data.ndim < 2:
        return a
    return _bt(O.apply(_linalg.TRANSPOSE, a._value), level)


def _rule_mT(op, args, attrs, level):
    return _bt(O.apply(op, args[0]._value, attrs=attrs), level)


def _rule_permute(op, args, attrs, level):
    dims = attrs[0]
    return _bt(O.apply(op, args[0]._value, attrs=((0,) + _shift(dims),)), level)


def _rule_dim0(op, args, attrs, level):
    """Ops whose first attribute is one normalized dim (softmax, log_softmax)."""
    dim = attrs[0]
    if dim is None:
        return _fallback(op, args, attrs, level)
    return _bt(O.apply(op, args[0]._value, attrs=(dim + 1,) + tuple(attrs[1:])), level)


def _rule_dim_attr(op, args, attrs, level):
    """Reductions and scans whose first attribute is a normalized dim (an int or a tuple, or
    None for all dims, which a scan only gets for a 0-d tensor); 0-d tensors take the loop."""
    dim, n = attrs[0], args[0]._data.ndim
    if not n or (dim is None and op.name in ("CumsumBackward0", "CumprodBackward0")):
        return _fallback(op, args, attrs, level)
    dim = tuple(range(1, n + 1)) if dim is None else dim + 1 if isinstance(dim, int) else \
        _shift(dim)
    return _bt_all(O.apply(op, args[0]._value, attrs=(dim,) + tuple(attrs[1:])), level)


def _bt_all(out, level):
    return tuple(_bt(o, level) for o in out) if isinstance(out, tuple) else _bt(out, level)


def _rule_cat(op, args, attrs, level):
    vals = [to_level(a, level)._value for a in args]
    return _bt(O.apply(op, *vals, attrs=(attrs[0] + 1,) + tuple(attrs[1:])), level)


_NAMED = {("CatBackward0", ("dim", "bounds")): _rule_cat,
          ("StackBackward0", ("dim",)): _rule_cat}
_LAZY = []
_WRAPPED = []


def _ops_of(module):
    """The table ops a module defines at its top level (directly or in a dict)."""
    for v in list(vars(module).values()):
        for op in (v.values() if isinstance(v, dict) else (v,)):
            if isinstance(op, O.Op):
                yield op


def _lazy_rules() -> None:
    """Rules for ops defined in modules that import this one's importers (linalg, shape, nn)."""
    from . import _linalg, _math, _ops, _reduce, _shape
    from .nn import functional as F
    for op in _linalg._MATMUL.values():
        RULES[op] = _rule_matmul
    RULES[F._MM] = _rule_matmul
    RULES[F._ADDMM] = _rule_addmm
    RULES[F._T] = _rule_matrix_t
    RULES[_linalg.TRANSPOSE] = _rule_mT
    RULES[F._SOFTMAX] = RULES[F._LOG_SOFTMAX] = _rule_dim0
    for mod, names in ((_reduce, ("AMAX", "AMIN", "PROD_DIM", "CUMSUM", "CUMPROD", "LOGSUMEXP",
                                  "VAR", "STD", "VAR_MEAN", "STD_MEAN")),
                       (_linalg, ("AMAX", "AMIN"))):
        for name in names:
            op = getattr(mod, name, None)
            if isinstance(op, _ops.Op) and op.attrs[:1] == ["dim"]:
                RULES[op] = _rule_dim_attr
    for op in _shape.PERMUTES.values():
        RULES[op] = _rule_permute
    for mod in (_shape, _linalg, _reduce, F):
        for op in _ops_of(mod):
            # NOTE: reshapes under other grad_fn names (views, squeezes) share one rule.
            if op.attrs == ["shape"] and op.inputs == ["a"] and \
                    getattr(op.fwd, "__wrapped__", op.fwd) in (np.reshape, O._reshape_fwd):
                RULES.setdefault(op, _rule_reshape)
    RULES[_shape.UNSAFE_VIEW] = _rule_reshape
    # NOTE: every op of the elementwise-math module broadcasts elementwise and takes no dims.
    for op in _ops_of(_math):
        RULES.setdefault(op, _elementwise)
    for op in (F._ERF, F._SOFTPLUS, F._LOG_SIGMOID, F._HARDTANH, F._HARDSIGMOID, F._HARDSWISH,
               F._GELU, F._SILU, F._MISH, *F._ELU.values(), *F._CELU.values(),
               *F._LEAKY_RELU.values()):
        RULES[op] = _elementwise
    _LAZY.append(True)


MOVEDIM = O.defop("PermuteBackward0", "a", lambda a, src, dst: np.moveaxis(a, src, dst),
                  lambda xp, g, src, dst: xp.moveaxis(g, dst, src), attrs="src dst", dtype="keep")
O.NX.moveaxis = np.moveaxis
O.TX.moveaxis = lambda g, src, dst: O.apply(MOVEDIM, g, attrs=(src, dst))

_STACKS: dict = {}


def _stack_op(n: int):
    """A primitive stacking ``n`` same-shaped tensors along a new dimension 0."""
    op = _STACKS.get(n)
    if op is None:
        op = _STACKS[n] = O.defop("StackBackward0", " ".join(f"t{i}" for i in range(n)),
                                  lambda *xs: np.stack(xs),
                                  *[(lambda i: lambda g: g[i])(i) for i in range(n)], dtype="keep")
    return op


def stack(tensors) -> Tensor:
    return O.apply(_stack_op(len(tensors)), *tensors)


RULES = {O.SUM: _rule_sum, O.SUM_DIM: _rule_sum_dim, O.MEAN: _rule_mean,
         O.MEAN_DIM: _rule_mean_dim, O.RESHAPE: _rule_reshape, O.RESHAPE_ALIAS: _rule_reshape,
         O.EXPAND: _rule_expand,
         MOVEDIM: _rule_movedim, O.VIEW_SCATTER: _rule_view_scatter,
         O.AS_STRIDED: _rule_view_fn, O.INDEX: _rule_index, O.INDEX_ACC: _rule_index_acc}
RULES.update({op: _rule_view_fn for op in O._INDEX_OPS.values()})
for _op in (O.ADD, O.SUB, O.ADD_ALPHA, O.SUB_ALPHA, O.RSUB, O.MUL, O.DIV, O.NEG, O.RECIPROCAL,
            O.POW, O.POW_TENSOR, O.RPOW, O.ABS, O.EXP, O.LOG, O.SQRT, O.SIN, O.COS, O.TANH,
            O.SIGMOID, O.RELU, O.SIGN, O.WHERE, O.EQ, O.NE, O.LT, O.LE, O.GT, O.GE,
            O.BITWISE_AND, O.BITWISE_OR, O.BITWISE_XOR, O.BITWISE_NOT, O.CLONE, O.TO_COPY,
            O.DIV_MODE):
    RULES[_op] = _elementwise


def register(op, rule=None) -> None:
    """Give ``op`` a batching rule; with no rule, declare it elementwise (broadcasting, no dims)."""
    RULES[op] = _elementwise if rule is None else rule


# ---------------------------------------------------------------------------------------------
# Dispatch, the loop fallback and in-place ops
# ---------------------------------------------------------------------------------------------

def _plain(op, args, attrs):
    O._VMAP = None
    try:
        return O.apply(op, *args, attrs=attrs)
    finally:
        O._VMAP = _SELF


def dispatch(op, args, attrs):
    """Run ``op`` on possibly batched arguments: its rule at the innermost level, or a loop."""
    level = _level_of(args)
    if not level:
        return _plain(op, args, attrs)
    rule = RULES.get(op)
    if rule is None:
        if not _LAZY:
            _lazy_rules()
            return dispatch(op, args, attrs)
        rule = _NAMED.get((op.name, tuple(op.attrs)))
        if rule is None:
            return _fallback(op, args, attrs, level)
    return rule(op, args, attrs, level)


def _map_loop(fn, args, level):
    """``fn`` applied to each batch element of ``args`` (batched at ``level``), restacked."""
    outs = []
    for b in range(_LEVELS[level]):
        outs.append(fn(*[a._value[b] if type(a) is BatchedTensor and a._level == level else a
                         for a in args]))
    if isinstance(outs[0], tuple):
        return tuple(_bt(stack([o[i] for o in outs]), level) for i in range(len(outs[0])))
    return _bt(stack(outs), level)


def _fallback(op, args, attrs, level):
    # NOTE: an op without a batching rule runs once per batch element; correct, not fast.
    return _map_loop(lambda *a: O.apply(op, *a, attrs=attrs), args, level)


def make_view(base, arr, view_fn):
    """A view cut from a batched tensor by ``view_fn`` (written for the logical tensor)."""
    key = _itemgetter_key(view_fn)
    if key is not None:
        return _bt(base._value[key], base._level)
    return _map_loop(view_fn, (base,), base._level)


def inplace(op, self, others, attrs):
    """An in-place op inside vmap: ``self`` must be batched wherever an operand is."""
    level = _level_of((self,) + others)
    if not level:
        O._VMAP = None
        try:
            return O.inplace(op, self, *others, attrs=attrs)
        finally:
            O._VMAP = _SELF
    if type(self) is not BatchedTensor or self._level != level:
        # NOTE: PyTorch reports this as a broadcast failure against the physical shapes.
        phys = [(_LEVELS[level],) + tuple(a.shape) for a in others
                if type(a) is BatchedTensor and a._level == level]
        shape = np.broadcast_shapes(tuple(self.shape), *phys)
        raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast "
                           f"shape {list(shape)}")
    if op is O.INDEX_PUT:
        key = _batched_key(_key_tuple(attrs[0]))
        if key is None:
            raise RuntimeError("vmap: index_put_ with this index is not supported")
        attrs = (key,)
    n = self._data.ndim
    new = [_align(a, n) if type(a) is BatchedTensor and a._level == level else a for a in others]
    O.inplace(op, self._value, *new, attrs=attrs)
    return self


# ---------------------------------------------------------------------------------------------
# Entering and leaving a level
# ---------------------------------------------------------------------------------------------

# Functions that turn an index tensor's values into NumPy keys before any op runs: with such a
# tensor batched they run once per batch element (the op would only see one element's keys).
_VALUE_DEPENDENT = {"nn.functional": ("nll_loss", "cross_entropy", "embedding", "one_hot"),
                    "_shape": ("gather", "scatter", "scatter_add", "index_select", "index_add",
                               "masked_select", "take", "scatter_reduce", "index_fill",
                               "index_copy", "masked_scatter")}


_CLASS_LOSS_DEFAULTS = {"weight": None, "size_average": None, "reduce": None,
                        "label_smoothing": 0.0}


def _batched_class_loss(fn, args, kwargs):
    """cross_entropy / nll_loss with batched class indices as one call on the physical arrays
    (per-sample losses of the flattened batch, then the reduction per sample); None when the
    call is outside this rule (weights, smoothing, spatial dims, ignored targets)."""
    import inspect
    bound = inspect.signature(fn).bind(*args, **kwargs)
    bound.apply_defaults()
    a = bound.arguments
    x, t = a["input"], a["target"]
    if any(a.get(k, v) != v for k, v in _CLASS_LOSS_DEFAULTS.items() if k != "weight") or \
            a.get("weight") is not None or a["reduction"] not in ("mean", "sum", "none"):
        return None
    level = _level_of([x, t])
    if not (type(x) is BatchedTensor and type(t) is BatchedTensor and x._level == t._level == level
            and x._data.dtype.kind == "f" and t._data.ndim == x._data.ndim - 1 <= 1):
        return None
    tv = t._value
    if (tv._data == a["ignore_index"]).any():
        return None
    c = x._data.shape[-1]
    n = x._value._data.shape[0]
    losses = fn(x._value.reshape(-1, c), tv.reshape(-1), reduction="none")
    if x._data.ndim == 2:
        losses = losses.reshape(n, -1)
        if a["reduction"] == "mean":
            losses = losses.mean(1)
        elif a["reduction"] == "sum":
            losses = losses.sum(1)
    return _bt(losses, level)


def _per_element_if_index_batched(fn):
    @functools.wraps(fn)
    def run(*args, **kwargs):
        if O._VMAP is not None:
            names = list(kwargs)
            flat = list(args) + [kwargs[k] for k in names]
            if fn.__name__ in ("cross_entropy", "nll_loss"):
                out = _batched_class_loss(fn, args, kwargs)
                if out is not None:
                    return out
            if any(type(a) is BatchedTensor and a._data.dtype.kind in "biu" for a in flat):
                n = len(args)
                return _map_loop(lambda *a: fn(*a[:n], **dict(zip(names, a[n:]))), flat,
                                 _level_of(flat))
        return fn(*args, **kwargs)
    run._vmap_wrapped = True
    return run


def _tensor_getitem(getitem):
    @functools.wraps(getitem)
    def run(self, idx):
        if O._VMAP is not None and any(type(k) is BatchedTensor for k in
                                       (idx if isinstance(idx, tuple) else (idx,))):
            return _index_per_element(self, idx)
        return getitem(self, idx)
    run._vmap_wrapped = True
    return run


def _wrap_value_dependent() -> None:
    import importlib
    if not getattr(Tensor.__getitem__, "_vmap_wrapped", False):
        Tensor.__getitem__ = _tensor_getitem(Tensor.__getitem__)
    pkg = __name__.rsplit(".", 1)[0]
    top = importlib.import_module(pkg)
    for mod_name, names in _VALUE_DEPENDENT.items():
        mod = importlib.import_module(f"{pkg}.{mod_name}")
        for name in names:
            fn = getattr(mod, name, None)
            if fn is None or getattr(fn, "_vmap_wrapped", False):
                continue
            new = _per_element_if_index_batched(fn)
            setattr(mod, name, new)
            if getattr(top, name, None) is fn:
                setattr(top, name, new)
            if getattr(Tensor, name, None) is fn:
                setattr(Tensor, name, new)


def push(batch_size: int) -> int:
    if not _LEVELS and not _WRAPPED:
        _wrap_value_dependent()
        _WRAPPED.append(True)
    level = max(_LEVELS, default=0) + 1
    _LEVELS[level] = batch_size
    O._VMAP = _SELF
    return level


def pop(level: int) -> None:
    del _LEVELS[level]
    O._VMAP = _SELF if _LEVELS else None


def movedim(t: Tensor, src: int, dst: int) -> Tensor:
    if src == dst:
        return t
    return O.apply(MOVEDIM, t, attrs=(src, dst))


def add_batch_dim(t: Tensor, in_dim: int, level: int) -> BatchedTensor:
    return _bt(movedim(t, _wrap_dim(in_dim, t.ndim), 0), level)


def to_level(t, level: int) -> BatchedTensor:
    """``t`` as a tensor batched at ``level``: expanded along a new batch dimension if needed."""
    if type(t) is BatchedTensor and t._level == level:
        return t
    n = _LEVELS[level]
    v = O.apply(O.RESHAPE, t, attrs=((1,) + tuple(t._data.shape),))
    return _bt(O.apply(O.EXPAND, v, attrs=((n,) + tuple(t._data.shape),)), level)


def remove_batch_dim(t, level: int, out_dim):
    """The value of a result batched at ``level`` with its batch dimension moved to ``out_dim``."""
    if type(t) is not BatchedTensor or t._level != level:
        if out_dim is None:
            return t
        t = to_level(t, level)
    elif out_dim is None:
        raise ValueError("vmap: returning a batched tensor with out_dims=None is not possible")
    v = t._value
    return movedim(v, 0, _wrap_dim(out_dim, v.ndim))


def unwrap_all(t):
    """The plain tensor under every level of batching, levels listed outermost first."""
    levels = []
    while type(t) is BatchedTensor:
        levels.append(t._level)
        t = t._value
    return t, levels[::-1]


def ensure_levels(t, levels):
    """``t`` batched at each of ``levels`` (sorted), expanding along the missing ones."""
    if not levels:
        return t
    top = levels[-1]
    inner = to_level(t, top)._value
    return _bt(ensure_levels(inner, levels[:-1]), top)


def has_level(t, level: int) -> bool:
    while type(t) is BatchedTensor:
        if t._level == level:
            return True
        t = t._value
    return False


def rewrap(plain: Tensor, levels) -> Tensor:
    for lv in levels:
        plain = _bt(plain, lv)
    return plain


def active_levels():
    return sorted(_LEVELS)

