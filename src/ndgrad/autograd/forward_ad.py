"""Forward-mode AD (`torch.autograd.forward_ad`): tangents carried beside primals through every op.

No op needs a JVP rule of its own. Each op's reverse rules give its vector-Jacobian product
g -> J^T g, which is linear in g; so J v = d/dg <J^T g, v>, and one backward pass through the
rules (recorded with the ndgrad namespace ``TX``) yields the tangent of the output.
"""
from __future__ import annotations

import weakref
from collections import namedtuple

import numpy as np

__all__ = ["dual_level", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual",
           "UnpackedDualTensor"]

UnpackedDualTensor = namedtuple("UnpackedDualTensor", ["primal", "tangent"])


class _Level:
    current = None  # the active level, or None
    duals: list = []  # weak references to every tensor given a tangent in this level
    saved: list = []  # (node, slot, _SavedOut) for saved outputs swapped for their dual tensor


def enter_dual_level() -> int:
    """Start a level of forward AD; tangents live until it exits."""
    from .. import _ops
    if _Level.current is not None:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _Level.current = 0
    _Level.duals = []
    _Level.saved = []
    _ops._FWD = _Hooks
    return 0


def exit_dual_level(*, level=None) -> None:
    """End the level: every tangent made in it is dropped."""
    from .. import _ops
    _ops._FWD = None
    for ref in _Level.duals:
        t = ref()
        if t is not None:
            t.__dict__.pop("_fw_grad", None)
    _Level.duals = []
    for node, j, packed in _Level.saved:
        if node.saved is not None:
            node.saved = node.saved[:j] + (packed,) + node.saved[j + 1:]
    _Level.saved = []
    _Level.current = None


class dual_level:
    """Context manager for one level of forward AD.

    >>> import ndgrad
    >>> import ndgrad.autograd.forward_ad as fwAD
    >>> with fwAD.dual_level():
    ...     y = fwAD.make_dual(ndgrad.tensor([1., 2.]), ndgrad.tensor([1., 0.])) ** 2
    ...     fwAD.unpack_dual(y).tangent
    tensor([2., 0.])
    """

    def __enter__(self) -> int:
        return enter_dual_level()

    def __exit__(self, *exc) -> None:
        exit_dual_level()


def _set_tangent(t, tangent) -> None:
    t._fw_grad = tangent
    _Level.duals.append(weakref.ref(t))


def make_dual(tensor, tangent, *, level=None):
    """A view of ``tensor`` that carries ``tangent`` as its forward gradient."""
    from .._ops import make_view, _record, _INDEX_OPS
    from .grad_mode import state
    if _Level.current is None:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, "
                           "make sure to enter_dual_level() first.")
    if tensor._data.dtype.kind not in "fc":
        raise ValueError("Expected primal to be floating point or complex, but got: "
                         f"{tensor.dtype}")
    if tangent._data.dtype.kind not in "fc":
        raise ValueError("Expected tangent to be floating point or complex, but got: "
                         f"{tangent.dtype}")
    if tangent._data.shape != tensor._data.shape:
        raise RuntimeError("Trying to set a forward gradient that has a different size than that "
                           "of the original Tensor, this is not supported. Tensor is of size "
                           f"{list(tensor._data.shape)} while the given forward gradient is of "
                           f"size {list(tangent._data.shape)}.")
    out = make_view(tensor, tensor._data, _identity)
    if state.enabled and tensor.requires_grad:
        _record(_INDEX_OPS["AliasBackward0"], out, (tensor,), (tensor._data,), (_identity,))
    _set_tangent(out, tangent)
    return out


def _identity(x):
    return x


def unpack_dual(tensor, *, level=None) -> UnpackedDualTensor:
    """(primal, tangent): a view of ``tensor`` without its tangent, and the tangent or None."""
    from .._ops import make_view
    tangent = tensor.__dict__.get("_fw_grad") if _Level.current is not None else None
    if tangent is None:
        return UnpackedDualTensor(tensor, None)
    primal = make_view(tensor, tensor._data, _identity)
    primal.__dict__.pop("_fw_grad", None)
    primal._grad_fn, primal._output_nr = tensor._grad_fn, tensor._output_nr
    return UnpackedDualTensor(primal, tangent)


# ---------------------------------------------------------------------------------------------
# What the op table calls while a level is active
# ---------------------------------------------------------------------------------------------

def _tangent_of(a):
    from .._tensor import Tensor
    return a.__dict__.get("_fw_grad") if isinstance(a, Tensor) else None


class _Hooks:
    """The hooks ``_ops`` calls while a level is active."""

    @staticmethod
    def op(op, out, args, arrays, attrs) -> None:
        tangents = [_tangent_of(a) for a in args]
        if not op.differentiable or all(t is None for t in tangents):
            return
        from .. import _ops
        _ops._FWD = None  # NOTE: the JVP's own ops carry no tangents
        try:
            _jvp(op, out, args, arrays, attrs, tangents)
        finally:
            _ops._FWD = _Hooks
        _save_dual(out[0] if isinstance(out, (tuple, list)) else out)

    @staticmethod
    def inplace(op, self, args, arrays, attrs, out) -> None:
        """Before ``self`` is overwritten by ``out``: give it the tangent of the new value,
        written into its old tangent (which a view's base shares) when it has one."""
        from .._tensor import _wrap
        tangents = [_tangent_of(a) for a in args]
        if not op.differentiable or all(t is None for t in tangents):
            return
        from .. import _ops
        probe = _wrap(np.asarray(out, dtype=self._data.dtype))
        _ops._FWD = None
        try:
            _jvp(op, probe, args, arrays, attrs, tangents)
        finally:
            _ops._FWD = _Hooks
        new = probe.__dict__["_fw_grad"]
        old = tangents[0]
        base = self._base
        if old is None and base is not None and not new.requires_grad:
            # NOTE: writing through a view gives the base a tangent that the view shares.
            bt = base.__dict__.get("_fw_grad")
            if bt is None:
                bt = _wrap(np.zeros_like(base._data))
                _set_tangent(base, bt)
            old = _wrap(self._view_fn(bt._data))
            _set_tangent(self, old)
        if old is not None and not new.requires_grad:
            np.copyto(old._data, np.broadcast_to(new._data, old._data.shape), casting="unsafe")
        else:
            _set_tangent(self, new)

    @staticmethod
    def view(base, t, view_fn) -> None:
        tangent = base.__dict__.get("_fw_grad")
        if tangent is not None:
            from .._tensor import _wrap
            from .grad_mode import state
            if tangent.requires_grad and state.enabled:
                # NOTE: a differentiable tangent (reverse over forward) keeps its graph.
                _set_tangent(t, view_fn(tangent))
            else:
                _set_tangent(t, _wrap(view_fn(tangent._data)))


def _save_dual(out) -> None:
    """Let ``out``'s node unpack ``out`` itself, tangent included, where it saved its result.

    A node keeps its own result as a bare array; a backward recorded for forward over reverse
    needs that result's tangent, so while the level lasts the node holds the tensor instead.
    """
    from .._ops import _SavedOut
    node = out._grad_fn
    if node is None or not node.saved or "_fw_grad" not in out.__dict__:
        return
    for j, v in enumerate(node.saved):
        if type(v) is _SavedOut and v.arr is out._data:
            node.saved = node.saved[:j] + (out,) + node.saved[j + 1:]
            _Level.saved.append((node, j, v))


def _jvp(op, out, args, arrays, attrs, tangents) -> None:
    """Tangents of ``out`` = sum_i J_i v_i, through the transpose of the op's reverse rules."""
    if op.no_jvp is not None:
        raise NotImplementedError(f"Trying to use forward AD with {op.no_jvp} that does not "
                                  "support it.")
    from .._ops import _record
    from .._tensor import Tensor, _wrap
    from .engine import _reconcile, run_backward
    from .grad_mode import enable_grad, state
    outs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
    # NOTE: when a primal or tangent requires grad, the tangent is itself differentiable
    # (reverse over forward), so the JVP is built on the real inputs and records a graph.
    graph = state.enabled and any(isinstance(a, Tensor) and a.requires_grad
                                  for a in list(args) + tangents)
    with enable_grad():
        pargs = []
        for a, v in zip(args, tangents):
            if isinstance(a, Tensor) and not (graph and a.requires_grad):
                p = _wrap(a._data)
                p._requires_grad = v is not None
                a = p
            pargs.append(a)
        probe = _wrap(outs[0]._data)
        _record(op, probe, pargs, arrays, attrs)
        node = probe._grad_fn
        if op.diagonal:
            # NOTE: J is diagonal, so J v = J^T v: the rule applied to the tangent, with no
            # derivative of the rule (which PyTorch may not have: hardsigmoid's).
            v = tangents[0] if graph else tangents[0]._data
            (j,) = node.apply([v], graph)
            o = outs[0]
            if graph:
                _set_tangent(o, j if j._data.dtype == o._data.dtype else j.to(o.dtype))
            else:
                _set_tangent(o, _wrap(np.asarray(j, dtype=o._data.dtype).reshape(o._data.shape)))
            return
        seeds = []
        for o in outs:
            g = _wrap(np.zeros(o._data.shape, o._data.dtype))
            g._requires_grad = o._data.dtype.kind in "fc"
            seeds.append(g if g._requires_grad else None)
        if op.nout != 1:
            node.out_metas = tuple((o._data.shape, o._data.dtype) for o in outs)
        res = node.apply(seeds, True)
        total = None
        for r, v, meta in zip(res, tangents, node.metas):
            if r is None or v is None or meta is None:
                continue
            r = _reconcile(r, meta, True)
            v = v if graph else _wrap(v._data)
            term = (r * (v if v._data.dtype == meta[1] else v.to(meta[1]))).sum()
            total = term if total is None else total + term
    wanted = [g for g in seeds if g is not None]
    jv = [None] * len(wanted)
    if total is not None and total.requires_grad:
        one = np.ones((), total._data.dtype)
        jv = run_backward([total], [_wrap(one) if graph else one], False, graph, inputs=wanted,
                          accumulate=False)
    k = 0
    for o, g in zip(outs, seeds):
        if g is None:
            continue
        j = jv[k]
        k += 1
        if j is None:
            j = _wrap(np.zeros(o._data.shape, o._data.dtype))
        elif graph:
            j = j if j._data.dtype == o._data.dtype else j.to(o.dtype)
        else:
            j = _wrap(np.asarray(j, dtype=o._data.dtype).reshape(o._data.shape))
        _set_tangent(o, j)
