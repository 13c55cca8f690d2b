"""ndgrad.func transforms against torch.func: grad, grad_and_value, vjp, jvp, jacrev, jacfwd,
hessian, functional_call; their composition with each other and with vmap; errors."""
import numpy as np
import pytest
import torch
import torch.func as tf

import ndgrad
import ndgrad.func as nf


def close(a, b, atol=1e-10):
    if isinstance(b, (tuple, list, dict)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in (zip(a.values(), b.values()) if isinstance(b, dict) else zip(a, b)):
            close(x, y, atol)
        return
    assert type(a) is ndgrad.Tensor, type(a)
    assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
    assert str(a.dtype) == str(b.dtype)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=atol, rtol=1e-7)


def run(transform_name, fn, *arrays, **kw):
    """``func.<transform>(fn(lib))(*tensors)`` with ndgrad and torch, compared."""
    ours = getattr(nf, transform_name)(fn(ndgrad), **kw)(*[ndgrad.tensor(a) for a in arrays])
    theirs = getattr(tf, transform_name)(fn(torch), **kw)(*[torch.tensor(a) for a in arrays])
    close(ours, theirs)
    return ours


def f2(m):
    return lambda x, y: (m.sin(x) * y.sum() + x * x * y[0]).sum()


def fvec(m):
    return lambda x, y: (m.sin(x) * y[:, None], (x * x).sum() * m.exp(y))


@pytest.fixture
def xy(rng):
    return rng.standard_normal((2, 3)), rng.standard_normal(2)


def test_grad_argnums(xy):
    for argnums in (0, 1, (0, 1), (1, 0), -1):
        run("grad", f2, *xy, argnums=argnums)


def test_grad_and_value_has_aux(xy):
    def f(m):
        return lambda x, y: ((x * y[:, None]).sum(), {"s": x.sum()})
    ours = nf.grad_and_value(f(ndgrad), has_aux=True)(*[ndgrad.tensor(a) for a in xy])
    theirs = tf.grad_and_value(f(torch), has_aux=True)(*[torch.tensor(a) for a in xy])
    close(ours[0], theirs[0])
    close(ours[1][0], theirs[1][0])
    close(ours[1][1]["s"], theirs[1][1]["s"])
    g, aux = nf.grad(f(ndgrad), has_aux=True)(*[ndgrad.tensor(a) for a in xy])
    close(aux["s"], theirs[1][1]["s"])


def test_grad_of_grad_and_no_perturbation_confusion(rng):
    a = rng.standard_normal(3)
    run("grad", lambda m: lambda x: (tf.grad if m is torch else nf.grad)(
        lambda y: (y ** 3 * x).sum())(x).sum(), a)
    # the inner function closes over x: d/dx [x * d/dy (x*y)] = d/dx x**2 = 2x
    for m, g in ((ndgrad, nf.grad), (torch, tf.grad)):
        x = m.tensor(1.5)
        assert float(g(lambda x: x * g(lambda y: x * y)(x))(x)) == pytest.approx(3.0)


def test_grad_works_under_no_grad_and_returns_no_graph(xy):
    x, y = ndgrad.tensor(xy[0]), ndgrad.tensor(xy[1])
    with ndgrad.no_grad():
        g = nf.grad(f2(ndgrad))(x, y)
    assert not g.requires_grad
    close(g, tf.grad(f2(torch))(torch.tensor(xy[0]), torch.tensor(xy[1])))


def test_grad_of_outer_leaf_stays_differentiable(rng):
    a = rng.standard_normal(3)
    x = ndgrad.tensor(a, requires_grad=True)
    g = nf.grad(lambda t: (t ** 3).sum())(x)
    assert g.requires_grad
    (h,) = ndgrad.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * a)


def test_vjp(xy, rng):
    ct = (rng.standard_normal((2, 3)), rng.standard_normal(2))
    x, y = xy
    out, fn = nf.vjp(fvec(ndgrad), ndgrad.tensor(x), ndgrad.tensor(y))
    tout, tfn = tf.vjp(fvec(torch), torch.tensor(x), torch.tensor(y))
    close(out, tout)
    close(fn(tuple(ndgrad.tensor(c) for c in ct)), tfn(tuple(torch.tensor(c) for c in ct)))
    # vmap over the vjp function: one batched backward
    cts = (rng.standard_normal((4, 2, 3)), rng.standard_normal((4, 2)))
    close(nf.vmap(fn)(tuple(ndgrad.tensor(c) for c in cts)),
          tf.vmap(tfn)(tuple(torch.tensor(c) for c in cts)))


def test_jvp(xy, rng):
    x, y = xy
    t = (rng.standard_normal((2, 3)), rng.standard_normal(2))
    ours = nf.jvp(fvec(ndgrad), (ndgrad.tensor(x), ndgrad.tensor(y)),
                  tuple(ndgrad.tensor(a) for a in t))
    theirs = tf.jvp(fvec(torch), (torch.tensor(x), torch.tensor(y)),
                    tuple(torch.tensor(a) for a in t))
    close(ours, theirs)


@pytest.mark.parametrize("name", ["jacrev", "jacfwd"])
def test_jacobians(name, xy):
    run(name, fvec, *xy)
    run(name, fvec, *xy, argnums=(0, 1))
    run(name, fvec, *xy, argnums=1)
    run(name, lambda m: lambda x: m.tanh(x) * x.sum(), xy[0])


def test_hessian(xy):
    run("hessian", f2, *xy)
    run("hessian", f2, *xy, argnums=(0, 1))


def test_per_sample_jacobians_and_hessians(rng):
    a = rng.standard_normal((4, 3))
    for name in ("jacrev", "jacfwd", "hessian"):
        fn = (lambda m: lambda t: (m.sin(t) * t.sum()).sum()) if name == "hessian" else \
            (lambda m: lambda t: m.sin(t) * t.sum())
        ours = nf.vmap(getattr(nf, name)(fn(ndgrad)))(ndgrad.tensor(a))
        theirs = tf.vmap(getattr(tf, name)(fn(torch)))(torch.tensor(a))
        close(ours, theirs)


def test_functional_call_with_a_callable(rng):
    w = rng.standard_normal((3, 2))

    def model(params, x):
        return x @ params["w"]
    x = ndgrad.tensor(rng.standard_normal((4, 3)))
    out = nf.functional_call(model, {"w": ndgrad.tensor(w)}, (x,))
    np.testing.assert_allclose(out.numpy(), x.numpy() @ w)
    g = nf.grad(lambda p: nf.functional_call(model, p, x).sum())({"w": ndgrad.tensor(w)})
    np.testing.assert_allclose(g["w"].numpy(), x.numpy().sum(0)[:, None] * np.ones((3, 2)))
    with pytest.raises(ValueError, match="appeared in multiple dictionaries"):
        nf.functional_call(model, ({"w": 1}, {"w": 2}), (x,))


ERRORS = [
    lambda f, m: f.grad(lambda a: a)(m.ones(3)),
    lambda f, m: f.grad(lambda a: (a,))(m.ones(3)),
    lambda f, m: f.grad(lambda a: a.sum(), argnums=2)(m.ones(3)),
    lambda f, m: f.grad_and_value(lambda a: a.sum(), has_aux=True)(m.ones(3)),
    lambda f, m: f.jvp(lambda a: a, m.ones(3), (m.ones(3),)),
    lambda f, m: f.jvp(lambda a: a, (m.ones(3),), (m.ones(2),)),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(i):
    with pytest.raises(Exception) as theirs:
        ERRORS[i](tf, torch)
    with pytest.raises(Exception) as ours:
        ERRORS[i](nf, ndgrad)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)


def test_vjp_errors_match_torch():
    for make in (lambda f, m: f.vjp(lambda x: x * 2, m.ones(3))[1](m.ones(2)),
                 lambda f, m: f.vjp(lambda x: (x * 2, x), m.ones(3))[1](m.ones(3)),
                 lambda f, m: f.jacrev(lambda x: x, argnums=())(m.ones(2)),
                 lambda f, m: f.grad(lambda x: x.sum(), argnums=1.0)(m.ones(2))):
        with pytest.raises(RuntimeError) as theirs:
            make(tf, torch)
        with pytest.raises(RuntimeError) as ours:
            make(nf, ndgrad)
        assert str(ours.value) == str(theirs.value)
