"""Warnings: ndgrad shows what PyTorch shows. PyTorch computes inf and nan silently, where the
NumPy calls underneath would warn ("divide by zero encountered in log")."""
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import ndgrad


def _grad(t, f, x):
    x = t.tensor(x, requires_grad=True)
    f(t, x).sum().backward()
    return x.grad


# Each case computes an inf or a nan somewhere, forward or backward, 0-d or not, float32 or 64.
CASES = {
    "log(0)": lambda t: t.log(t.tensor(0.)),
    "log(-1)": lambda t: t.log(t.tensor([-1., 1.])),
    "exp overflow": lambda t: t.exp(t.tensor([1000.])),
    "0/0": lambda t: t.tensor(0.) / t.tensor(0.),
    "x/0": lambda t: t.tensor([1.], dtype=t.float64) / 0,
    "1/x at 0": lambda t: 1 / t.tensor([0.]),
    "0-d overflow": lambda t: t.tensor(1e30) * t.tensor(1e30),
    "pow overflow": lambda t: t.tensor([2.]) ** 1000.,
    "acos(2)": lambda t: t.acos(t.tensor([2.])),
    "sqrt(-1)": lambda t: t.sqrt(t.tensor([-1.])),
    "grad of sqrt at 0": lambda t: _grad(t, lambda t, x: t.sqrt(x), [0.]),
    "grad of log at 0": lambda t: _grad(t, lambda t, x: t.log(x), [0., 1.]),
    "grad of x/x at 0": lambda t: _grad(t, lambda t, x: x / x, 0.),
    "grad of x**0.5 at 0": lambda t: _grad(t, lambda t, x: x ** 0.5, [0.]),
}


def _warned(fn):
    with warnings.catch_warnings(record=True) as caught:
        fn()
    return [f"{w.category.__name__}: {w.message}" for w in caught]


# NOTE: each library is imported in a fresh interpreter, as in a user's script: pytest runs
# test modules inside warnings.catch_warnings, which would drop the filter ndgrad installs on
# import (and catch_warnings resets the once-per-line registry, so repeats are recorded too).
_SCRIPT = """
import json, sys, warnings
sys.path.insert(0, {tests!r})
import numpy as np
import {lib} as t
from test_warnings import CASES, _warned
print(json.dumps({{name: _warned(lambda: f(t)) for name, f in CASES.items()}}))
print(json.dumps(_warned(lambda: np.log(np.zeros(1)))))
"""


@pytest.fixture(scope="module")
def shown():
    out = {}
    for lib in ("torch", "ndgrad"):
        script = _SCRIPT.format(tests=os.path.dirname(__file__), lib=lib)
        lines = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                               check=True).stdout.splitlines()
        out[lib] = json.loads(lines[0]), json.loads(lines[1])
    return out


@pytest.mark.parametrize("name", CASES)
def test_inf_and_nan_are_silent_as_in_torch(name, shown):
    assert shown["ndgrad"][0][name] == shown["torch"][0][name]
    # the case does make an inf or a nan (or it would test nothing)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # in here ndgrad's filter is gone (see _SCRIPT)
        r = CASES[name](ndgrad)
    assert not np.all(np.isfinite(r.detach().numpy()))


def test_users_own_numpy_warnings_still_show(shown):
    assert shown["ndgrad"][1] == ["RuntimeWarning: divide by zero encountered in log"]
