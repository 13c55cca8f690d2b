"""Activation checkpointing (`torch.utils.checkpoint`): keep a segment's inputs, not its
intermediate values, and run its forward again during backward."""
from __future__ import annotations

import warnings

from ..autograd.function import Function
from ..autograd.grad_mode import enable_grad, state
from ..autograd.graph import saved_tensors_hooks

__all__ = ["checkpoint", "checkpoint_sequential"]

_NO_USE_REENTRANT = (
    "torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. Starting in "
    "PyTorch 2.9, calling checkpoint without use_reentrant will raise an exception. "
    "use_reentrant=False is recommended, but if you need to preserve the current default "
    "behavior, you can pass use_reentrant=True. Refer to docs for more details on the "
    "differences between the two variants.")


def _rng_state():
    from .. import _creation
    return _creation._rng.bit_generator.state


class _rng_restored:
    """Run a block with the random state a forward pass started from, then put it back."""

    def __init__(self, saved):
        self.saved = saved

    def __enter__(self):
        from .. import _creation
        if self.saved is not None:
            self.now = _creation._rng.bit_generator.state
            _creation._rng.bit_generator.state = self.saved

    def __exit__(self, *exc):
        from .. import _creation
        if self.saved is not None:
            _creation._rng.bit_generator.state = self.now


def _detached(args):
    from .._tensor import Tensor
    out = []
    for a in args:
        if isinstance(a, Tensor):
            d = a.detach()
            d._requires_grad = a.requires_grad
            a = d
        out.append(a)
    return out


class CheckpointFunction(Function):
    """The reentrant variant: one node that reruns the segment and backpropagates through it."""

    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, *args):
        from .._tensor import Tensor
        ctx.run_function = run_function
        ctx.rng = _rng_state() if preserve_rng_state else None
        ctx.inputs = [None if isinstance(a, Tensor) else a for a in args]
        ctx.tensor_indices = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx.save_for_backward(*[a for a in args if isinstance(a, Tensor)])
        return run_function(*args)

    @staticmethod
    def backward(ctx, *grads):
        from .._tensor import Tensor
        from ..autograd import backward
        if ctx._partial:
            raise RuntimeError(
                "When use_reentrant=True, torch.utils.checkpoint is incompatible with .grad() or "
                "passing an `inputs` parameter to .backward(). To resolve this error, you can "
                "either set use_reentrant=False, or call .backward() without passing the `inputs` "
                "argument.")
        inputs = list(ctx.inputs)
        for i, t in zip(ctx.tensor_indices, ctx.saved_tensors):
            inputs[i] = t
        inputs = _detached(inputs)
        with enable_grad(), _rng_restored(ctx.rng):
            outputs = ctx.run_function(*inputs)
        if isinstance(outputs, Tensor):
            outputs = (outputs,)
        roots, seeds = [], []
        for o, g in zip(outputs, grads):
            if isinstance(o, Tensor) and o.requires_grad:
                roots.append(o)
                seeds.append(g)
        if not roots:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not "
                               "necessary")
        backward(roots, seeds)
        return (None, None) + tuple(a.grad if isinstance(a, Tensor) else None for a in inputs)


class _Recompute:
    """Saved-tensor hooks that keep only a counter, and rerun the segment to unpack."""

    def __init__(self, fn, args, kwargs, rng):
        self.fn, self.args, self.kwargs, self.rng = fn, args, kwargs, rng
        self.count = 0
        self.values = {}

    def pack(self, t):
        self.count += 1
        return self.count - 1

    def unpack(self, idx):
        if idx not in self.values:
            store = []
            with enable_grad(), _rng_restored(self.rng), \
                    saved_tensors_hooks(lambda t: store.append(t), _never):
                self.fn(*_detached(self.args), **self.kwargs)
            self.values = dict(enumerate(store))
        # NOTE: each value is unpacked once per backward, so it is freed as soon as it is used.
        return self.values.pop(idx)


def _never(packed):
    raise RuntimeError("a recomputed checkpoint segment was differentiated through")


def checkpoint(function, *args, use_reentrant: bool | None = None, context_fn=None,
               determinism_check: str = "default", debug: bool = False,
               preserve_rng_state: bool = True, **kwargs):
    """``function(*args)``, keeping only its inputs for backward and recomputing the rest.

    >>> import ndgrad
    >>> from ndgrad.utils.checkpoint import checkpoint
    >>> x = ndgrad.ones(2, requires_grad=True)
    >>> checkpoint(lambda t: (t * 3).sum(), x, use_reentrant=False).backward(); x.grad
    tensor([3., 3.])
    """
    from .._tensor import Tensor
    if use_reentrant is None:
        warnings.warn(_NO_USE_REENTRANT, UserWarning, stacklevel=2)
        use_reentrant = True
    rng = _rng_state() if preserve_rng_state else None
    if use_reentrant:
        if kwargs:
            raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
        if state.enabled and not any(isinstance(a, Tensor) and a.requires_grad for a in args):
            warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                          UserWarning, stacklevel=2)
        return CheckpointFunction.apply(function, preserve_rng_state, *args)
    frame = _Recompute(function, args, kwargs, rng)
    with saved_tensors_hooks(frame.pack, frame.unpack):
        return function(*args, **kwargs)


def checkpoint_sequential(functions, segments: int, input, use_reentrant: bool | None = None,
                          **kwargs):
    """Run ``functions`` (a list of callables) in ``segments`` checkpointed chunks."""
    if use_reentrant is None:
        warnings.warn(_NO_USE_REENTRANT, UserWarning, stacklevel=2)
        use_reentrant = True
    functions = list(functions.children()) if hasattr(functions, "children") else list(functions)
    size = max(len(functions) // segments, 1)

    def run(start, end):
        def chunk(x):
            for f in functions[start:end + 1]:
                x = f(x)
            return x
        return chunk

    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant, **kwargs)
    return run(end + 1, len(functions) - 1)(input)
