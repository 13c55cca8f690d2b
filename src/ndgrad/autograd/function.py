"""Custom differentiable functions (`torch.autograd.Function`): a user-written forward and backward
that the engine runs as one node named ``<ClassName>Backward``."""
from __future__ import annotations

import functools
import warnings

import numpy as np

from .engine import ERR_BACKWARD_TWICE, Node, new_node
from .grad_mode import no_grad, state
from .graph import Packed, current_hooks, hook_state, pack

__all__ = ["Function", "FunctionCtx", "once_differentiable"]

_LEGACY = ("Legacy autograd function with non-static forward method is deprecated. Please use "
           "new-style autograd function with static forward method. (Example: "
           "https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)")


class FunctionCtx:
    """What ``forward`` (or ``setup_context``) hands to ``backward`` through ``ctx``."""

    def save_for_backward(self, *tensors) -> None:
        """Keep tensors for backward; they come back, version-checked, as ``saved_tensors``."""
        self._to_save = tensors

    def mark_dirty(self, *args) -> None:
        """Declare inputs that forward modified in place."""
        self._dirty = args

    def mark_non_differentiable(self, *args) -> None:
        """Declare outputs that get no gradient (indices, masks)."""
        self._non_differentiable = args

    def set_materialize_grads(self, value: bool) -> None:
        """Whether backward receives zeros (True, the default) or None for unused outputs."""
        self._materialize_grads = value


class BackwardCFunction(FunctionCtx, Node):
    """The node of one custom Function call; it is also the ``ctx`` its methods receive."""

    _forward_cls = None

    @property
    def saved_tensors(self) -> tuple:
        saved = self.saved
        if saved is None:
            raise RuntimeError(ERR_BACKWARD_TWICE)
        return tuple(self._unpack_one(v, ver) for v, ver in zip(saved, self.versions))

    def _unpack_one(self, v, ver):
        from .._ops import _SavedOut, _version_error
        from .._tensor import _wrap
        if v is None or ver is None:
            return v
        if type(v) is Packed:
            return v.unpack(True, self)
        if type(v) is _SavedOut:
            if v.vc[0] != ver:
                _version_error(_wrap(v.arr), self, v.nr, v.vc[0], ver)
            t = _wrap(v.arr, self)
            t._vc, t._output_nr = v.vc, v.nr
            return t
        if v._vc[0] != ver:
            _version_error(v, v._grad_fn, v._output_nr, v._vc[0], ver)
        return v

    def apply(self, grads, graph, useful=None):
        from .._tensor import Tensor, _wrap
        if self._materialize_grads:
            grads = [g if g is not None or m is None else np.zeros(*m)
                     for g, m in zip(grads, self.out_metas)]
        if graph:
            grads = [g if g is None or isinstance(g, Tensor) else _wrap(g) for g in grads]
        else:
            grads = [None if g is None else _wrap(g) for g in grads]
        self._partial = useful is not None  # backward(inputs=...) or autograd.grad
        res = self._forward_cls.backward(self, *grads)
        if not isinstance(res, tuple):
            res = (res,)
        n = len(self._arg_is_tensor)
        if len(res) != n:
            if len(res) > n and all(r is None for r in res[n:]):
                res = res[:n]
            else:
                raise RuntimeError(f"function {self.name()} returned an incorrect number of "
                                   f"gradients (expected {n}, got {len(res)})")
        outs = []
        k = 0
        for i, (is_tensor, r) in enumerate(zip(self._arg_is_tensor, res)):
            if not is_tensor:
                continue
            meta = self.metas[k]
            k += 1
            if r is None or meta is None:
                outs.append(None)
                continue
            if not isinstance(r, Tensor):
                r = _wrap(np.asarray(r))
            if r._data.shape != meta[0] and not _expandable(meta[0], r._data.shape):
                raise RuntimeError(f"Function {self.name()} returned an invalid gradient at index "
                                   f"{i} - got {list(r._data.shape)} but expected shape "
                                   f"compatible with {list(meta[0])}")
            outs.append(r if graph else r._data)
        return outs


def _expandable(shape, to) -> bool:
    """Whether a tensor of ``shape`` broadcasts to ``to`` (so a gradient of ``to`` sums back)."""
    if len(shape) > len(to):
        return False
    return all(s == t or s == 1 for s, t in zip(shape[::-1], to[::-1]))


class FunctionMeta(type):
    """Gives each Function subclass its node class, named ``<ClassName>Backward``."""

    def __init__(cls, name, bases, ns):
        super().__init__(name, bases, ns)
        cls._backward_cls = type(name + "Backward", (BackwardCFunction,), {"_forward_cls": cls})


class Function(FunctionCtx, metaclass=FunctionMeta):
    """Base class for custom differentiable functions; call them with ``MyFn.apply(...)``.

    >>> import ndgrad
    >>> class Double(ndgrad.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         return x * 2
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         return g * 2
    >>> x = ndgrad.ones(2, requires_grad=True)
    >>> Double.apply(x)
    tensor([2., 2.], grad_fn=<DoubleBackward>)
    """

    def __init__(self, *args, **kwargs):
        warnings.warn(f"{type(self)} should not be instantiated. Methods on autograd functions are "
                      "all static, so you should invoke them on the class itself. Instantiating "
                      "an autograd function will raise an error in a future version of PyTorch.",
                      DeprecationWarning, stacklevel=2)

    def __call__(self, *args, **kwargs):
        raise RuntimeError(_LEGACY)

    @staticmethod
    def forward(*args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your "
                                  "custom autograd.Function to use it with backward mode AD.")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` without recording, then record one node whose backward is ours."""
        from .._ops import _edge
        from .._tensor import Tensor
        is_tensor = tuple(isinstance(a, Tensor) for a in args)
        needs = tuple(t and a.requires_grad for a, t in zip(args, is_tensor))
        record = state.enabled and any(needs)
        tensors = [a for a, t in zip(args, is_tensor) if t]
        edges = tuple(_edge(a) if a.requires_grad else None for a in tensors) if record else ()
        metas = tuple((a._data.shape, a._data.dtype) if a.requires_grad else None
                      for a in tensors) if record else ()
        ctx = new_node(cls._backward_cls, edges, (), (), (), metas)
        ctx.needs_input_grad = needs
        ctx._arg_is_tensor = is_tensor
        ctx._to_save = ctx._dirty = ctx._non_differentiable = ()
        ctx._materialize_grads = True
        custom_setup = cls.setup_context is not Function.setup_context
        with no_grad():
            if custom_setup:
                out = cls.forward(*args, **kwargs)
            else:
                out = cls.forward(ctx, *args, **kwargs)
        if custom_setup:
            cls.setup_context(ctx, args, out)
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        if record:
            outs = _connect(ctx, outs, args)
            if hook_state.anomaly:
                from .anomaly_mode import record_stack
                record_stack(ctx)
        _save(ctx, outs, record)
        return outs[0] if single else outs


def _connect(ctx, outs, args):
    """Make ``ctx`` the grad_fn of each differentiable output."""
    from .._ops import make_view
    from .._tensor import Tensor
    dirty = [id(t) for t in ctx._dirty]
    nondiff = [id(t) for t in ctx._non_differentiable]
    results, metas = [], []
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            results.append(o)
            metas.append(None)
            continue
        metas.append((o._data.shape, o._data.dtype))
        t = o
        if id(o) in dirty:
            if o._grad_fn is None and o._requires_grad:
                raise RuntimeError("a leaf Variable that requires grad has been used in an "
                                   "in-place operation.")
            o._vc[0] += 1  # NOTE: PyTorch bumps a dirty input's version once more
        elif any(o is a for a in args):
            # NOTE: an input returned unchanged becomes a view of it, as in PyTorch.
            t = make_view(o, o._data, _identity)
        if id(o) in nondiff or o._data.dtype.kind not in "fc":
            if t is not o:
                t._grad_fn = None
        else:
            t._grad_fn, t._output_nr = ctx, i
        results.append(t)
    ctx.out_metas = tuple(metas)
    ctx.nout = len(outs)
    return tuple(results)


def _identity(x):
    return x


def _save(ctx, outs, record):
    """Keep what ``save_for_backward`` named: outputs without a cycle, and version numbers."""
    from .._ops import _SavedOut
    to_save = ctx._to_save
    del ctx._to_save
    if not to_save:
        return
    if not record:
        ctx.saved, ctx.versions = tuple(to_save), (None,) * len(to_save)
        return
    hooks = current_hooks()
    saved, versions = [], []
    for t in to_save:
        if t is None:
            saved.append(None)
            versions.append(None)
            continue
        nr = next((i for i, o in enumerate(outs) if o is t and o._grad_fn is ctx), None)
        if hooks is not None:
            saved.append(pack(t, hooks, nr))
        elif nr is not None:
            saved.append(_SavedOut(t._data, t._vc, nr))
        else:
            saved.append(t)
        versions.append(t._vc[0])
    ctx.saved, ctx.versions = tuple(saved), tuple(versions)


# ---------------------------------------------------------------------------------------------
# once_differentiable
# ---------------------------------------------------------------------------------------------

_TWICE = "trying to differentiate twice a function that was marked with @once_differentiable"


class Error(Node):
    """The grad_fn of a once-differentiable backward's results: differentiating it raises."""

    __slots__ = ("nout",)

    def apply(self, grads, graph, useful=None):
        raise RuntimeError(_TWICE)


def once_differentiable(fn):
    """Mark a backward that is not itself differentiable: it runs without recording, and
    differentiating its result raises PyTorch's error instead of giving a wrong answer."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        from .._tensor import Tensor, _wrap
        with no_grad():
            outputs = fn(ctx, *args)
        if not state.enabled or not any(isinstance(a, Tensor) and a.requires_grad for a in args):
            return outputs
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        node = new_node(Error, ())
        node.nout = len(outs)
        wrapped = []
        for i, o in enumerate(outs):
            if isinstance(o, Tensor) and o._data.dtype.kind in "fc":
                o = _wrap(o._data, node)
                o._output_nr = i
            wrapped.append(o)
        return wrapped[0] if single else tuple(wrapped)

    return wrapper
