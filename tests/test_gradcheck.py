"""gradcheck / gradgradcheck: passing on correct gradients, PyTorch's error on wrong ones."""
import importlib
import warnings

import pytest
import torch

import ndgrad
from ndgrad.autograd import GradcheckError, gradcheck, gradgradcheck

TorchGradcheckError = importlib.import_module("torch.autograd.gradcheck").GradcheckError


def _bad_square(lib):
    class BadSquare(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 2

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 3 * x * g  # wrong: d(x^2)/dx is 2x
    return BadSquare


def _first_order_only(lib):
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 3 * x.detach() ** 2 * g  # right value, but cut from the graph
    return Cube


def _x(lib):
    return lib.tensor([1., 2.], dtype=lib.float64, requires_grad=True)


def _y(lib):
    return lib.tensor([[0.5, -1.], [2., 1.5]], dtype=lib.float64, requires_grad=True)


def test_passes_on_correct_gradients():
    assert gradcheck(lambda a, b: (a * b.sin(), a / b.exp()), (_x(ndgrad), _y(ndgrad)))
    assert gradgradcheck(lambda a, b: (a * b.sin(), a / b.exp()), (_x(ndgrad), _y(ndgrad)))
    assert gradcheck(lambda a, n: a ** n, (_x(ndgrad), 3))
    assert gradcheck(_first_order_only(ndgrad).apply, (_x(ndgrad),))


def test_message_matches_torch_on_a_wrong_backward():
    with pytest.raises(TorchGradcheckError) as want:
        torch.autograd.gradcheck(_bad_square(torch).apply, (_x(torch),))
    with pytest.raises(GradcheckError) as got:
        gradcheck(_bad_square(ndgrad).apply, (_x(ndgrad),))
    assert str(got.value) == str(want.value)
    assert isinstance(got.value, RuntimeError)
    assert str(got.value).startswith("Jacobian mismatch for output 0 with respect to input 0,\n"
                                     "numerical:tensor([[2.0000, 0.0000],")


def test_second_input_and_second_output_are_named():
    def f(lib):
        bad = _bad_square(lib).apply
        return lambda a, b: (a * 2, bad(b))
    with pytest.raises(TorchGradcheckError) as want:
        torch.autograd.gradcheck(f(torch), (_x(torch), _y(torch)))
    with pytest.raises(GradcheckError) as got:
        gradcheck(f(ndgrad), (_x(ndgrad), _y(ndgrad)))
    assert str(got.value) == str(want.value)
    assert "output 1 with respect to input 1" in str(got.value)


def test_raise_exception_false_and_tolerances():
    bad = _bad_square(ndgrad).apply
    assert gradcheck(bad, (_x(ndgrad),), raise_exception=False) is False
    # |3x - 2x| = x <= atol + rtol * 2x holds everywhere once rtol is 0.5
    assert gradcheck(bad, (_x(ndgrad),), rtol=0.5)
    assert gradcheck(bad, (_x(ndgrad),), atol=2.01)


def test_gradgradcheck_catches_a_cut_second_derivative():
    with pytest.raises(GradcheckError, match="Jacobian mismatch for output 0 with respect to "
                                             "input 0,\nnumerical:"):
        gradgradcheck(_first_order_only(ndgrad).apply, (_x(ndgrad),))
    assert gradgradcheck(_first_order_only(ndgrad).apply, (_x(ndgrad),),
                         raise_exception=False) is False


def test_input_errors_and_warnings_match_torch():
    f = lambda t: t.exp().sum()  # noqa: E731
    msgs = []
    for lib, gc in ((torch, torch.autograd.gradcheck), (ndgrad, gradcheck)):
        with pytest.raises(ValueError) as e:
            gc(f, (lib.ones(2, dtype=lib.float64),))
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            with pytest.raises(RuntimeError):
                gc(f, (lib.ones(2, requires_grad=True),))  # float32: the check fails
        msgs.append((str(e.value), [str(m.message) for m in w if "double" in str(m.message)]))
    assert msgs[0] == msgs[1]
