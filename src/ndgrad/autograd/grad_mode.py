"""Grad modes: whether ops record a graph. Thread-local, nestable, usable as decorators.

The engine and the op table read ``state.enabled`` directly; everything else goes through here.
"""
from __future__ import annotations

import functools
import threading


class _State(threading.local):
    enabled = True
    inference = False


state = _State()


def is_grad_enabled() -> bool:
    """Whether ops record a graph on this thread.

    >>> import ndgrad
    >>> ndgrad.is_grad_enabled()
    True
    """
    return state.enabled


def is_inference_mode_enabled() -> bool:
    """Whether an ``inference_mode`` block is active on this thread."""
    return state.inference


class _Mode:
    """A context manager that is also a decorator: a decorated function runs inside the mode."""

    def __new__(cls, *args, **kwargs):
        # `@no_grad` without parentheses hands the function to the constructor.
        if args and callable(args[0]) and not isinstance(args[0], bool):
            return cls()(args[0])
        return super().__new__(cls)

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.clone():
                return func(*args, **kwargs)
        return wrapper

    def clone(self):
        return type(self)()


class no_grad(_Mode):
    """Turn graph recording off inside the block (`torch.no_grad`).

    >>> import ndgrad
    >>> x = ndgrad.ones(2, requires_grad=True)
    >>> with ndgrad.no_grad():
    ...     (x * 2).requires_grad
    False
    """

    def __new__(cls, func=None):
        # PERF: the common `no_grad()` without _Mode.__new__'s *args and **kwargs
        if func is not None:
            return _Mode.__new__(cls, func)
        return object.__new__(cls)

    def __enter__(self):
        self.prev = state.enabled
        state.enabled = False

    def __exit__(self, exc_type, exc, tb):
        state.enabled = self.prev
        return False


class enable_grad(_Mode):
    """Turn graph recording back on inside the block (`torch.enable_grad`)."""

    def __enter__(self):
        self.prev = state.enabled
        state.enabled = True

    def __exit__(self, *exc):
        state.enabled = self.prev
        return False


class set_grad_enabled(_Mode):
    """Set grad mode now; as a context manager, restore the previous mode on exit."""

    def __init__(self, mode: bool):
        self.prev = state.enabled
        self.mode = bool(mode)
        state.enabled = self.mode

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        state.enabled = self.prev
        return False

    def clone(self):
        return set_grad_enabled(self.mode)


class inference_mode(_Mode):
    """Like ``no_grad``, and marks the block as inference-only (`torch.inference_mode`)."""

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)

    def __enter__(self):
        self.prev = (state.enabled, state.inference)
        if self.mode:
            state.enabled, state.inference = False, True

    def __exit__(self, *exc):
        state.enabled, state.inference = self.prev
        return False

    def clone(self):
        return inference_mode(self.mode)
