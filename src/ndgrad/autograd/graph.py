"""Graph-level tools: saved-tensor hooks (`torch.autograd.graph`) and the one switch through
which they, and anomaly mode, see each node as it is recorded. Node inspection lives on
``engine.Node``."""
from __future__ import annotations

import threading

__all__ = ["saved_tensors_hooks", "save_on_cpu", "Node"]

from .engine import Node


class _HookState(threading.local):
    def __init__(self):
        self.stack = []  # (pack_hook, unpack_hook) pairs, innermost last
        self.anomaly = False
        self.check_nan = True


hook_state = _HookState()


class Packed:
    """A value an op saved for backward, as the pack hook returned it, and how to get it back."""

    __slots__ = ("packed", "unpack_hook", "grad_fn", "output_nr", "leaf", "is_output")

    def unpack(self, graph, node=None, inspect=False):
        """The saved value again: an array for a plain backward, a tensor when building a graph
        (``inspect``: as ``grad_fn._saved_*`` shows it, a leaf standing in for a saved leaf)."""
        from .._tensor import Tensor, _wrap
        t = self.unpack_hook(self.packed)
        if not isinstance(t, Tensor):
            raise TypeError("Output of saved tensor unpack_hook expected to be a Tensor but got "
                            f"result of type {type(t).__name__}")
        if not graph:
            return t._data
        # NOTE: as in PyTorch, the unpacked value takes the saved tensor's place in the graph.
        if self.leaf is not None and inspect:
            out = _wrap(t._data)
            out._requires_grad = True
            return out
        if self.leaf is not None:
            from .._ops import _INDEX_OPS, _record
            out = _wrap(t._data)
            _record(_INDEX_OPS["AliasBackward0"], out, (self.leaf,), (self.leaf._data,),
                    (_identity,))
            return out
        out = _wrap(t._data, node if self.is_output else self.grad_fn)
        out._output_nr = self.output_nr
        return out


def pack(value, hooks, output_nr=None):
    """Wrap one saved tensor (an input, or with ``output_nr`` the node's own output)."""
    pack_hook, unpack_hook = hooks
    p = Packed()
    p.packed = pack_hook(value)
    p.unpack_hook = unpack_hook
    p.is_output = output_nr is not None
    p.grad_fn = None if p.is_output else value._grad_fn
    p.output_nr = output_nr if p.is_output else value._output_nr
    # NOTE: a leaf is kept itself (as PyTorch keeps its grad accumulator), so that gradients
    # through an unpacked value still reach it.
    p.leaf = value if not p.is_output and value._grad_fn is None and value._requires_grad \
        else None
    return p


def _identity(x):
    return x


def _on_record(node, out):
    """Called for each recorded table-op node while a hook or anomaly mode is active."""
    state = hook_state
    if state.anomaly:
        from .anomaly_mode import record_stack
        record_stack(node)
    if state.stack and node.saved:
        from .._ops import _SavedOut
        from .._tensor import Tensor
        hooks = state.stack[-1]
        saved = list(node.saved)
        versions = [None] * len(saved) if node.versions is None else list(node.versions)
        for i, v in enumerate(saved):
            if type(v) is _SavedOut:
                saved[i] = pack(out if out._data is v.arr else _as_tensor(v), hooks, v.nr)
            elif isinstance(v, Tensor):
                saved[i] = pack(v, hooks)
            else:
                continue
            versions[i] = 0  # NOTE: not None, so the unpacking branch runs; never compared
        node.saved, node.versions = tuple(saved), tuple(versions)


def _as_tensor(v):
    from .._tensor import _wrap
    t = _wrap(v.arr)
    t._vc = v.vc
    return t


def refresh() -> None:
    """Install the record hook only while something needs it: off, it costs one global check."""
    from .. import _ops
    _ops._ON_RECORD = _on_record if (hook_state.stack or hook_state.anomaly) else None


class saved_tensors_hooks:
    """Pack every tensor saved for backward with ``pack_hook``; ``unpack_hook`` restores it.

    >>> import ndgrad
    >>> x = ndgrad.ones(2, requires_grad=True)
    >>> with ndgrad.autograd.graph.saved_tensors_hooks(lambda t: t * 1, lambda t: t):
    ...     y = x * x
    >>> y.sum().backward(); x.grad
    tensor([2., 2.])
    """

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook, self.unpack_hook = pack_hook, unpack_hook

    def __enter__(self):
        hook_state.stack.append((self.pack_hook, self.unpack_hook))
        refresh()
        return self

    def __exit__(self, *exc):
        hook_state.stack.pop()
        refresh()


class save_on_cpu(saved_tensors_hooks):
    """Keep saved tensors on the CPU; with NumPy storage they already live there."""

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda"):
        super().__init__(lambda t: (t.device, t.cpu()), lambda packed: packed[1])


def current_hooks():
    """The innermost (pack, unpack) pair, or None."""
    stack = hook_state.stack
    return stack[-1] if stack else None
