"""ndgrad.autograd.functional against torch.autograd.functional: jacobian, hessian, vjp, jvp,
hvp, vhp for tensors and tuples, vectorize and strategy, create_graph, strict errors."""
import numpy as np
import pytest
import torch
import torch.autograd.functional as TAF

import ndgrad
import ndgrad.autograd.functional as AF
from both import same


def close(a, b, atol=1e-10):
    if isinstance(b, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b), (type(a), type(b))
        for x, y in zip(a, b):
            close(x, y, atol)
        return
    assert type(a) is ndgrad.Tensor, type(a)
    assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
    assert str(a.dtype) == str(b.dtype)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=atol, rtol=1e-7)


def multi(m):
    return lambda x, y: (m.sin(x) * y, (x * x).sum() * m.exp(y))


def scalar(m):
    return lambda x, y: (m.sin(x) * y).sum() + (y ** 3).sum() * x.sum()


def single(m):
    return lambda x: m.tanh(x) * x.sum()


@pytest.fixture
def data(rng):
    return rng.standard_normal((2, 3)), rng.standard_normal(3)


def nd(*a):
    return tuple(ndgrad.tensor(x) for x in a)


def th(*a):
    return tuple(torch.tensor(x) for x in a)


@pytest.mark.parametrize("vectorize", [False, True])
def test_jacobian(data, vectorize):
    close(AF.jacobian(multi(ndgrad), nd(*data), vectorize=vectorize),
          TAF.jacobian(multi(torch), th(*data), vectorize=vectorize))
    close(AF.jacobian(single(ndgrad), nd(data[0])[0], vectorize=vectorize),
          TAF.jacobian(single(torch), th(data[0])[0], vectorize=vectorize))
    close(AF.jacobian(single(ndgrad), nd(data[1]), vectorize=vectorize),
          TAF.jacobian(single(torch), th(data[1]), vectorize=vectorize))


def test_jacobian_0d_and_unused_input(rng):
    a = rng.standard_normal(())
    close(AF.jacobian(lambda x: x * x, ndgrad.tensor(a)),
          TAF.jacobian(lambda x: x * x, torch.tensor(a)))
    for vec in (False, True):
        close(AF.jacobian(lambda x, y: x * 2, nd(a, a), vectorize=vec),
              TAF.jacobian(lambda x, y: x * 2, th(a, a), vectorize=vec))


def test_jacobian_forward_mode(data):
    close(AF.jacobian(multi(ndgrad), nd(*data), vectorize=True, strategy="forward-mode"),
          TAF.jacobian(multi(torch), th(*data), vectorize=True, strategy="forward-mode"))


def test_vectorize_runs_one_batched_backward(data, monkeypatch):
    from ndgrad.autograd import engine
    calls = []
    real = engine.run_backward

    def spy(*a, **k):
        calls.append(1)
        return real(*a, **k)
    monkeypatch.setattr(engine, "run_backward", spy)
    monkeypatch.setattr(ndgrad.autograd, "run_backward", spy)
    AF.jacobian(single(ndgrad), nd(data[0])[0], vectorize=True)
    assert len(calls) == 1
    calls.clear()
    AF.jacobian(single(ndgrad), nd(data[0])[0], vectorize=False)
    assert len(calls) == 6


@pytest.mark.parametrize("vectorize", [False, True])
@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
def test_hessian(data, vectorize, strategy):
    if strategy == "forward-mode" and not vectorize:
        with pytest.raises(NotImplementedError):
            AF.hessian(scalar(ndgrad), nd(*data), outer_jacobian_strategy=strategy)
        return
    close(AF.hessian(scalar(ndgrad), nd(*data), vectorize=vectorize,
                     outer_jacobian_strategy=strategy),
          TAF.hessian(scalar(torch), th(*data), vectorize=vectorize,
                      outer_jacobian_strategy=strategy))
    f = lambda m: lambda x: (m.sin(x) * x).sum()  # noqa: E731
    close(AF.hessian(f(ndgrad), nd(data[1])[0], vectorize=vectorize),
          TAF.hessian(f(torch), th(data[1])[0], vectorize=vectorize))


def test_products(data, rng):
    v = (rng.standard_normal((2, 3)), rng.standard_normal(3))
    close(AF.vjp(multi(ndgrad), nd(*data), nd(*v)), TAF.vjp(multi(torch), th(*data), th(*v)))
    close(AF.jvp(multi(ndgrad), nd(*data), nd(*v)), TAF.jvp(multi(torch), th(*data), th(*v)))
    close(AF.hvp(scalar(ndgrad), nd(*data), nd(*v)), TAF.hvp(scalar(torch), th(*data), th(*v)))
    close(AF.vhp(scalar(ndgrad), nd(*data), nd(*v)), TAF.vhp(scalar(torch), th(*data), th(*v)))
    a = rng.standard_normal(())
    close(AF.vjp(lambda x: x.exp(), ndgrad.tensor(a)), TAF.vjp(lambda x: x.exp(), torch.tensor(a)))


@pytest.mark.parametrize("vectorize", [False, True])
def test_create_graph(rng, vectorize):
    a = rng.standard_normal(3)
    x, tx = ndgrad.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    j = AF.jacobian(lambda t: t ** 3, x, create_graph=True, vectorize=vectorize)
    tj = TAF.jacobian(lambda t: t ** 3, tx, create_graph=True, vectorize=vectorize)
    assert j.requires_grad
    close(ndgrad.autograd.grad(j.sum(), x)[0], torch.autograd.grad(tj.sum(), tx)[0])
    h = AF.hessian(lambda t: (t ** 4).sum(), x, create_graph=True, vectorize=vectorize)
    th_ = TAF.hessian(lambda t: (t ** 4).sum(), tx, create_graph=True, vectorize=vectorize)
    close(ndgrad.autograd.grad(h.sum(), x)[0], torch.autograd.grad(th_.sum(), tx)[0])
    # without create_graph nothing is attached
    assert not AF.jacobian(lambda t: t ** 3, x, vectorize=vectorize).requires_grad


ERRORS = [
    lambda F, m: F.jacobian(lambda a: a, m.ones(3), strategy="forward-mode"),
    lambda F, m: F.vjp(lambda a: a, m.ones(3)),
    lambda F, m: F.vjp(lambda a: a * 2, m.ones(3), m.ones(2)),
    lambda F, m: F.vjp(lambda a, b: (a, b), (m.ones(3), m.ones(2)), (m.ones(3),)),
    lambda F, m: F.hessian(lambda a: a, m.ones(3)),
    lambda F, m: F.jacobian(lambda a: 3, m.ones(3)),
    lambda F, m: F.jacobian(lambda a: a, [m.ones(3)]),
    lambda F, m: F.vjp(lambda a: m.ones(3), m.ones(3), m.ones(3), strict=True),
    lambda F, m: F.jacobian(lambda a: a, m.ones(3), strict=True, vectorize=True),
    lambda F, m: F.jacobian(lambda a, b: a * 2, (m.ones(2), m.ones(2)), strict=True),
    lambda F, m: F.hvp(lambda a: (a * 2).sum(), m.ones(2), m.ones(2), strict=True),
    lambda F, m: F.jvp(lambda a: a, m.ones(2)),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(i):
    with pytest.raises(Exception) as theirs:
        ERRORS[i](TAF, torch)
    with pytest.raises(Exception) as ours:
        ERRORS[i](AF, ndgrad)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value).replace("'torch.", "'ndgrad.")


def _fd_jacobian(f, x, eps=1e-6):
    """Central differences of ``f`` (NumPy in, NumPy out) at ``x``: shape out.shape + x.shape."""
    cols = []
    for k in range(x.size):
        d = np.zeros(x.size)
        d[k] = eps
        d = d.reshape(x.shape)
        cols.append((f(x + d) - f(x - d)) / (2 * eps))
    return np.moveaxis(np.array(cols), 0, -1).reshape(np.shape(f(x)) + x.shape)


@pytest.mark.parametrize("vectorize", [False, True])
def test_against_finite_differences(rng, vectorize):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal(3)
    f = lambda x, y: ndgrad.sin(x) * y + (x * x).sum() * ndgrad.exp(y)  # noqa: E731
    jx, jy = AF.jacobian(f, nd(a, b), vectorize=vectorize)
    num = lambda x, y: f(ndgrad.tensor(x), ndgrad.tensor(y)).numpy()  # noqa: E731
    np.testing.assert_allclose(jx.numpy(), _fd_jacobian(lambda x: num(x, b), a), atol=1e-6)
    np.testing.assert_allclose(jy.numpy(), _fd_jacobian(lambda y: num(a, y), b), atol=1e-6)
    s = lambda x: (ndgrad.sin(x) * x).sum() * x[0]  # noqa: E731
    hess = AF.hessian(s, ndgrad.tensor(b), vectorize=vectorize)
    grad = lambda x: AF.vjp(s, ndgrad.tensor(x))[1].numpy()  # noqa: E731
    np.testing.assert_allclose(hess.numpy(), _fd_jacobian(grad, b), atol=1e-6)


# NOTE: inputs on the kinks (-3, 3, 0, 6) and between; PyTorch's forward-mode jacobian takes the
# derivatives of the ops themselves (hardsigmoid's backward has none), by forward AD.
KINKED = [-4., -3., -1., 0., 0.5, 3., 4., 6., 7.]


@pytest.mark.parametrize("fn", ["hardsigmoid", "hardswish", "relu6", "hardtanh"])
def test_forward_mode_jacobian_of_piecewise_linear_activations(fn):
    def jac(lib, af):
        x = lib.tensor(KINKED, dtype=lib.float64)
        return af.jacobian(getattr(lib.nn.functional, fn), x, vectorize=True,
                           strategy="forward-mode")
    close(jac(ndgrad, AF), jac(torch, TAF))


def test_forward_mode_hessian_of_an_op_without_a_second_derivative_raises_as_torch():
    # PyTorch runs the outer Jacobian by forward AD, which hardsigmoid_backward lacks.
    def hess(lib):
        x = lib.tensor(KINKED, dtype=lib.float64)
        return lib.autograd.functional.hessian(lambda x: lib.nn.functional.hardsigmoid(x).sum(),
                                               x, outer_jacobian_strategy="forward-mode",
                                               vectorize=True)
    same(hess)


@pytest.mark.parametrize("requires_grad", [False, True])
def test_forward_mode_results_print_as_torch(requires_grad):
    # PyTorch's forward-mode results keep a graph (shown as grad_fn) to its internal copies of the
    # inputs, never to the inputs themselves.
    def run(lib):
        x = lib.tensor([0.5, 1.0], dtype=lib.float64, requires_grad=requires_grad)
        y = lib.tensor([[0.3, -1.0], [2., 1.]], dtype=lib.float64, requires_grad=True)
        g = lambda x, y: (x.sin() * (y @ x)).sum()  # noqa: E731
        H = lib.autograd.functional.hessian(g, (x, y), outer_jacobian_strategy="forward-mode",
                                            vectorize=True)
        J = lib.autograd.functional.jacobian(lambda x: x ** 3, x, strategy="forward-mode",
                                             vectorize=True)
        return H, J, lib.autograd.grad(H[1][0].sum(), y, allow_unused=True)
    same(run)
