"""Anomaly mode: PyTorch's warnings, NaN errors, and the forward traceback of the failing node."""
import warnings

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad.autograd import engine


def _run(lib, fn):
    """Messages of warnings and of the error ``fn`` raises, without torch's C++ location."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            fn(lib)
            err = None
        except RuntimeError as e:
            err = str(e)
    msgs = [str(m.message).split(" (Triggered internally")[0] for m in w
            if m.category is UserWarning and "jit" not in str(m.message)]
    return msgs, err


def _nan_from_div(lib):
    with lib.autograd.detect_anomaly():
        a = lib.tensor([0.0, 1.0], requires_grad=True)
        y = a / a  # FORWARD-LINE-DIV
        y.sum().backward()


def _nan_from_sqrt(lib):
    with lib.autograd.detect_anomaly():
        b = lib.tensor([-1.0, 1.0], requires_grad=True)
        z = b.sqrt()  # FORWARD-LINE-SQRT
        z.sum().backward()


@pytest.mark.parametrize("fn", [_nan_from_div, _nan_from_sqrt], ids=["div", "sqrt"])
def test_nan_error_and_forward_traceback_match_torch(fn):
    with np.errstate(all="ignore"):
        # NOTE: one line for both, so the caller's frame in the two tracebacks is the same
        got, want = [_run(lib, fn) for lib in (ndgrad, torch)]
    assert got[1] == want[1]
    assert got[0] == want[0]
    assert "FORWARD-LINE" in got[0][-1] and "Traceback of forward call" in got[0][-1]


def test_error_inside_a_custom_backward_reports_its_forward_line():
    class Boom(ndgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            raise ValueError("boom")

    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with ndgrad.autograd.detect_anomaly():
            x = ndgrad.ones(2, requires_grad=True)
            y = Boom.apply(x)  # THE-BOOM-LINE
            with pytest.raises(ValueError, match="boom"):
                y.sum().backward()
    text = str(w[-1].message)
    assert text.startswith("Error detected in BoomBackward. Traceback of forward call")
    assert "THE-BOOM-LINE" in text


def test_modes_and_flags_match_torch():
    def flags(lib):
        out = []
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            out.append((lib.is_anomaly_enabled(), lib.is_anomaly_check_nan_enabled()))
            lib.autograd.set_detect_anomaly(True)
            out.append((lib.is_anomaly_enabled(), lib.is_anomaly_check_nan_enabled()))
            lib.autograd.set_detect_anomaly(False)
            with lib.autograd.set_detect_anomaly(True, check_nan=False):
                out.append((lib.is_anomaly_enabled(), lib.is_anomaly_check_nan_enabled()))
                b = lib.tensor([-1.0, 1.0], requires_grad=True)
                with np.errstate(all="ignore"):
                    b.sqrt().sum().backward()  # NaN gradients pass when check_nan is off
                out.append(np.isnan(b.grad.numpy()).tolist())
            out.append((lib.is_anomaly_enabled(), lib.is_anomaly_check_nan_enabled()))
            with lib.autograd.detect_anomaly(check_nan=False):
                out.append((lib.is_anomaly_enabled(), lib.is_anomaly_check_nan_enabled()))
            out.append(lib.is_anomaly_enabled())
        out.append([str(m.message) for m in w if m.category is UserWarning and
                    "jit" not in str(m.message)])
        return out
    assert flags(ndgrad) == flags(torch)


def test_no_cost_when_off():
    from ndgrad import _ops
    assert engine.ANOMALY is None and _ops._ON_RECORD is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with ndgrad.autograd.detect_anomaly():
            assert engine.ANOMALY is not None and _ops._ON_RECORD is not None
    assert engine.ANOMALY is None and _ops._ON_RECORD is None


def test_version_error_hint_changes_in_anomaly_mode():
    def run(lib):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with lib.autograd.detect_anomaly():
                a = lib.ones(3, requires_grad=True)
                c = (a * 1).exp()
                c.add_(1)
                with pytest.raises(RuntimeError) as e:
                    c.sum().backward()
        return str(e.value)
    got = run(ndgrad)
    assert got == run(torch) and got.endswith("Good luck!")
