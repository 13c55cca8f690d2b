"""The graphs PyTorch builds, by node names and edges: the double-backward nodes of the smooth
activations, and the edges nodes list for numbers and for inputs that do not require grad."""
import numpy as np
import pytest
import torch

import ndgrad
from both import same


def _names(fn, depth):
    """``fn``'s name and, ``depth`` levels down, those of its next_functions (None kept)."""
    if fn is None:
        return None
    if not depth:
        return fn.name()
    return fn.name(), [_names(f, depth - 1) for f, _ in fn.next_functions]


ACTIVATIONS = {
    "softplus": lambda t, x: t.nn.functional.softplus(x),
    "softplus beta threshold": lambda t, x: t.nn.functional.softplus(x, beta=2., threshold=3.),
    "gelu": lambda t, x: t.nn.functional.gelu(x),
    "gelu tanh": lambda t, x: t.nn.functional.gelu(x, approximate="tanh"),
    "logsigmoid": lambda t, x: t.nn.functional.logsigmoid(x),
    "sigmoid": lambda t, x: t.sigmoid(x),
    "F.sigmoid": lambda t, x: t.nn.functional.sigmoid(x),
    "x.sigmoid": lambda t, x: x.sigmoid(),
    "tanh": lambda t, x: t.tanh(x),
    "x.tanh": lambda t, x: x.tanh(),
    "silu": lambda t, x: t.nn.functional.silu(x),
    "mish": lambda t, x: t.nn.functional.mish(x),
    "hardsigmoid": lambda t, x: t.nn.functional.hardsigmoid(x),
}
X = [-2.5, -0.7, 0.3, 1.2, 2.9]  # softplus beta=2 crosses its threshold (3) at 1.5


@pytest.mark.parametrize("fn", sorted(set(ACTIVATIONS) - {"mish"}))
def test_double_backward_nodes_as_torch(fn):
    def f(t):
        x = t.tensor(X, requires_grad=True)
        g, = t.autograd.grad(ACTIVATIONS[fn](t, x).sum(), x, create_graph=True)
        w = t.tensor([1., -2., 3., 0.5, 1.5], requires_grad=True)  # a gradient that requires grad
        gw, = t.autograd.grad((ACTIVATIONS[fn](t, x) * w).sum(), x, create_graph=True)
        return _names(g.grad_fn, 3), _names(gw.grad_fn, 2)
    same(f)


@pytest.mark.parametrize("fn", sorted(set(ACTIVATIONS) - {"hardsigmoid"}))
def test_second_and_third_derivatives_as_torch_and_finite_differences(fn):
    def derivs(t, x):
        v = t.tensor([0.3, -1.1, 0.7, 2.0, -0.4], dtype=t.float64)
        y = ACTIVATIONS[fn](t, x)
        g, = t.autograd.grad(y.sum(), x, create_graph=True)
        h, = t.autograd.grad((g * v).sum(), x, create_graph=True)  # v * f''
        k, = t.autograd.grad((h * v).sum(), x)  # v^2 * f'''
        return g.detach().numpy(), h.detach().numpy(), k.numpy()

    got = derivs(ndgrad, ndgrad.tensor(X, dtype=ndgrad.float64, requires_grad=True))
    want = derivs(torch, torch.tensor(X, dtype=torch.float64, requires_grad=True))
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)

    # the third derivative is the difference quotient of the second
    eps = 1e-5
    v = np.array([0.3, -1.1, 0.7, 2.0, -0.4])

    def second(xs):
        return derivs(ndgrad, ndgrad.tensor(xs, dtype=ndgrad.float64, requires_grad=True))[1]
    fd = (second(np.array(X) + eps) - second(np.array(X) - eps)) / (2 * eps) * v
    np.testing.assert_allclose(got[2], fd, rtol=1e-5, atol=1e-7)


# -- next_functions: numbers have no edge where PyTorch takes them as Scalars ---------------------
EDGES = [
    "1 - x", "2.5 - x", "t.rsub(x, 1)", "t.rsub(x, c)", "t.rsub(c, x)", "t.rsub(x, x)",
    "t.rsub(x, 1, alpha=2)", "t.rsub(x, c, alpha=2)", "t.rsub(c, x, alpha=0.5)", "x - 1", "c - x",
    "1 + x", "t.add(x, 1, alpha=2)", "t.sub(x, 1, alpha=2)", "2 * x", "x * c", "x / 2",
    "2 / x", "c / x", "x ** 2", "x ** 0.5", "2 ** x", "x ** c", "c ** x", "x.pow(3)",
    "t.clamp(x, 1, 2)", "t.clamp(x, min=1)", "t.clamp(x, max=2.5)", "x.clamp(1)", "t.clamp(x, c)",
    "t.clamp(c, x)", "t.clamp(x, max=c)", "t.div(x, 2, rounding_mode='floor')",
    "x.div(c, rounding_mode='trunc')", "t.remainder(x, 2)", "t.fmod(x, 2)", "x % 2",
    "t.remainder(2, x)", "t.fmod(x, c)", "t.remainder(c, x)", "t.floor_divide(x, 2)",
    "t.floor_divide(c, x)", "t.where(c > 1, x, c)", "t.where(c > 1, c, x)",
    "t.where(c > 1, x, 2.)", "t.where(c > 1, x, x)",
]


@pytest.mark.parametrize("expr", EDGES)
def test_next_functions_as_torch(expr):
    def f(t):
        x = t.tensor([1.5, 2., 3.], requires_grad=True)
        c = t.tensor([2., 1., 4.])
        y = eval(expr, {"t": t, "x": x, "c": c})
        return _names(y.grad_fn, 1), [nr for _, nr in y.grad_fn.next_functions]
    same(f)


def test_rsub_with_alpha_values_and_gradients_as_torch():
    def f(t):
        x = t.tensor([1.5, 2., 3.], requires_grad=True)
        c = t.tensor([2., 1., 4.], requires_grad=True)
        y = t.rsub(x, c, alpha=2) * t.tensor([1., 2., 3.]) + t.rsub(x, 1.5, alpha=-3)
        y.sum().backward()
        return y, x.grad, c.grad, t.rsub(t.tensor([1, 2]), 3, alpha=2)
    same(f)


def test_not_implemented_nodes_list_only_inputs_that_require_grad():
    def f(t):
        x = t.tensor([1.5, 2., 3.], requires_grad=True)
        w = t.tensor([1., 2., 3.], requires_grad=True)
        g, = t.autograd.grad(t.nn.functional.hardsigmoid(x).sum(), x, create_graph=True)
        gw, = t.autograd.grad((t.nn.functional.hardsigmoid(x) * w).sum(), x, create_graph=True)
        return _names(g.grad_fn, 1), _names(gw.grad_fn, 1)
    same(f)


def test_mish_second_derivative_stays_finite_where_torch_gives_nan():
    # mish's second-order graph differs from PyTorch's on purpose (see nn/functional.py): in
    # float32, PyTorch's is nan once exp(x) overflows; ndgrad's stays finite and right.
    x0 = [30., 60., 100., 400.]

    def second(lib, dtype):
        x = lib.tensor(x0, dtype=dtype, requires_grad=True)
        g, = lib.autograd.grad(lib.nn.functional.mish(x).sum(), x, create_graph=True)
        h, = lib.autograd.grad(g.sum(), x)
        return h.numpy().astype(np.float64)

    assert np.isnan(second(torch, torch.float32)).any()  # the defect this test guards against
    got32, got64 = second(ndgrad, ndgrad.float32), second(ndgrad, ndgrad.float64)

    def first(v):
        x = ndgrad.tensor(v, dtype=ndgrad.float64, requires_grad=True)
        d, = ndgrad.autograd.grad(ndgrad.nn.functional.mish(x).sum(), x)
        return d.numpy()

    eps = 1e-4
    fd = (first(np.add(x0, eps)) - first(np.subtract(x0, eps))) / (2 * eps)
    np.testing.assert_allclose(got64, fd, rtol=1e-6, atol=1e-9)
    assert np.all(np.isfinite(got32))
    np.testing.assert_allclose(got32, got64, rtol=1e-5, atol=1e-6)
