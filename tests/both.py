"""Run one snippet with `torch` bound to PyTorch and to ndgrad, and compare what happens."""
import warnings

import numpy as np
import torch

import ndgrad


def outcome(lib, fn):
    """What `fn(lib)` does: ('ok', value) or ('raise', type name, message)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ("ok", fn(lib))
    except Exception as e:  # noqa: BLE001 - the exception is the result being compared
        return ("raise", type(e).__name__, str(e))


def normalize(v):
    if isinstance(v, (torch.Tensor, ndgrad.Tensor)):
        return ("tensor", repr(v))
    if isinstance(v, (tuple, list)):
        return type(v).__name__, [normalize(x) for x in v]
    if isinstance(v, (torch.dtype, ndgrad.dtype, torch.Size, ndgrad.Size)):
        return repr(v)
    return v


def same(fn):
    """Assert that fn behaves identically under torch and ndgrad (values by repr, errors by text)."""
    a, b = outcome(torch, fn), outcome(ndgrad, fn)
    if a[0] == "ok" and b[0] == "ok":
        assert normalize(b[1]) == normalize(a[1])
    else:
        assert b == a


def grads_close(want, got, rtol=1e-6, atol=1e-7):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=rtol, atol=atol)
