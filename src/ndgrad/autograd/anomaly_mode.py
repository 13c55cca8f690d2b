"""Anomaly detection (`torch.autograd.detect_anomaly`): remember where each node was created, and
check every gradient a node returns for NaN. Costs nothing while off."""
from __future__ import annotations

import os
import traceback
import warnings
import weakref

import numpy as np

from . import engine
from .grad_mode import _Mode
from .graph import hook_state, refresh

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled"]

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_traces: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def record_stack(node) -> None:
    """Keep the user's part of the stack that created ``node``."""
    frames = [f for f in traceback.extract_stack()[:-1] if not f.filename.startswith(_PACKAGE)]
    _traces[node] = "".join(traceback.format_list(frames))


def _report(node) -> None:
    stack = _traces.get(node)
    if stack is None:
        msg = (f"Error detected in {node.name()}. No forward pass information available. Enable "
               "detect anomaly during forward pass for more information.")
    else:
        msg = (f"Error detected in {node.name()}. Traceback of forward call that caused the "
               f"error:\n{stack}")
    warnings.warn(msg, UserWarning, stacklevel=3)


def _run_node(node, grads, graph, useful):
    """The engine's call of one node while anomaly mode is on."""
    try:
        outs = node.apply(grads, graph, useful)
    except Exception:
        _report(node)
        raise
    if hook_state.check_nan:
        for i, g in enumerate(outs):
            if g is not None and np.isnan(g._data if graph else g).any():
                _report(node)
                raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th "
                                   "output.")
    return outs


def _set(mode: bool, check_nan: bool) -> None:
    hook_state.anomaly, hook_state.check_nan = bool(mode), bool(check_nan)
    engine.ANOMALY = _run_node if mode else None
    refresh()


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on."""
    return hook_state.anomaly


def is_anomaly_check_nan_enabled() -> bool:
    """Whether anomaly detection checks gradients for NaN."""
    return hook_state.check_nan


class detect_anomaly(_Mode):
    """Context manager / decorator that turns anomaly detection on
    (`torch.autograd.detect_anomaly`).

    >>> import ndgrad, warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     with ndgrad.autograd.detect_anomaly():
    ...         ndgrad.autograd.anomaly_mode.is_anomaly_enabled()
    True
    """

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and "
                      "should only be enabled for debugging.", UserWarning, stacklevel=2)

    def clone(self):
        return type(self)(self.check_nan)

    def __enter__(self):
        self.prev, self.prev_check_nan = hook_state.anomaly, hook_state.check_nan
        _set(True, self.check_nan)
        return self

    def __exit__(self, *exc):
        _set(self.prev, self.prev_check_nan)


class set_detect_anomaly:
    """Turn anomaly detection on or off; as a context manager, restore the old mode on exit."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self.prev, self.prev_check_nan = hook_state.anomaly, hook_state.check_nan
        _set(mode, check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set(self.prev, self.prev_check_nan)
