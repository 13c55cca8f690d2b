"""ndgrad.func.jvp and jacfwd by forward-mode AD, against torch.func: several inputs, has_aux,
argnums, nesting with grad, jacrev, vmap and themselves, errors, and proof that dual tensors
(not a reverse pass) compute them."""
import numpy as np
import pytest
import torch
import torch.func as tf

import ndgrad
import ndgrad.autograd.forward_ad as fwAD
import ndgrad.func as nf


def close(a, b, atol=1e-10):
    if isinstance(b, (tuple, list, dict)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in (zip(a.values(), b.values()) if isinstance(b, dict) else zip(a, b)):
            close(x, y, atol)
        return
    assert isinstance(a, ndgrad.Tensor), type(a)
    assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
    assert str(a.dtype) == str(b.dtype)
    assert a.requires_grad == b.requires_grad
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=atol, rtol=1e-7)


def both(make):
    """``make(func_module, lib)`` with ndgrad and torch, compared."""
    ours, theirs = make(nf, ndgrad), make(tf, torch)
    close(ours, theirs)
    return ours


# functions of several inputs, some returning several outputs
FUNCS = {
    "mul_exp": lambda m: lambda x, y: m.exp(x) * y,
    "pair": lambda m: lambda x, y: (m.sin(x) * y.sum(), m.tanh(y) * (x * x).sum()),
    "matmul": lambda m: lambda x, y: (m.sigmoid(x @ y.unsqueeze(1)).squeeze(1)
                                      / (1 + y.pow(2)).sum()),
    "scalar": lambda m: lambda x, y: (m.log1p(x * x) * m.cos(y).sum()).sum(),
}


@pytest.fixture
def data(rng):
    return rng.standard_normal((2, 3)), rng.standard_normal(3), rng.standard_normal((2, 3)), \
        rng.standard_normal(3)


def T(m, *arrays):
    return tuple(m.tensor(a) for a in arrays)


@pytest.mark.parametrize("name", ["mul_exp", "pair", "scalar"])
def test_jvp_several_inputs(name, data):
    x, y, u, v = data
    both(lambda F, m: F.jvp(FUNCS[name](m), T(m, x, y), T(m, u, v)))


def test_jvp_matmul_and_zero_tangent_output(data):
    x, y, u, v = data
    x3, y3 = x[:, :3], y
    both(lambda F, m: F.jvp(FUNCS["matmul"](m), T(m, x3, y3), T(m, u, v)))
    # an output that does not depend on the primals gets a zero tangent
    both(lambda F, m: F.jvp(lambda a: (a * 2, m.ones(2, dtype=m.float64)), T(m, y), T(m, v)))


def test_jvp_has_aux_and_nested_primals(data):
    x, y, u, v = data
    both(lambda F, m: F.jvp(lambda a, b: (m.exp(a[0]) * b, {"s": a[1].sum()}),
                            ((m.tensor(x), m.tensor(y)), m.tensor(y)),
                            ((m.tensor(u), m.tensor(v)), m.tensor(v)), has_aux=True))


def test_jvp_float32_and_0d(rng):
    a = rng.standard_normal(4).astype(np.float32)
    both(lambda F, m: F.jvp(lambda t: m.sin(t) * t, (m.tensor(a),), (m.ones(4),)))
    both(lambda F, m: F.jvp(lambda t: m.exp(t) * t, (m.tensor(0.5, dtype=m.float64),),
                            (m.tensor(2.0, dtype=m.float64),)))


@pytest.mark.parametrize("name", list(FUNCS))
@pytest.mark.parametrize("argnums", [0, 1, (0, 1), (1, 0)])
def test_jacfwd(name, argnums, data):
    x, y = data[0], data[1]
    both(lambda F, m: F.jacfwd(FUNCS[name](m), argnums=argnums)(*T(m, x, y)))


def test_jacfwd_has_aux(data):
    x, y = data[0], data[1]
    both(lambda F, m: F.jacfwd(lambda a, b: (m.exp(a) * b, (a * b).sum()), argnums=(0, 1),
                               has_aux=True)(*T(m, x, y)))


def test_jacfwd_matches_finite_differences(rng):
    x = rng.standard_normal(4)
    f = (lambda t: ndgrad.tanh(t) * ndgrad.exp(t).sum())
    jac = nf.jacfwd(f)(ndgrad.tensor(x)).numpy()
    eps = 1e-6
    fd = np.stack([(f(ndgrad.tensor(x + eps * e)).numpy() - f(ndgrad.tensor(x - eps * e)).numpy())
                   / (2 * eps) for e in np.eye(4)], axis=1)
    np.testing.assert_allclose(jac, fd, rtol=1e-6, atol=1e-8)


SCALAR = lambda m: lambda t: (m.tanh(t) * m.exp(t).sum() + m.sigmoid(t) * t[0]).sum()  # noqa: E731


@pytest.mark.parametrize("make", [
    lambda F, m, x: F.hessian(SCALAR(m))(x),
    lambda F, m, x: F.jacfwd(F.jacrev(SCALAR(m)))(x),
    lambda F, m, x: F.jacfwd(F.grad(SCALAR(m)))(x),
    lambda F, m, x: F.jacrev(F.jacfwd(SCALAR(m)))(x),
    lambda F, m, x: F.jacfwd(F.jacfwd(SCALAR(m)))(x),
    lambda F, m, x: F.jacfwd(F.hessian(SCALAR(m)))(x),
    lambda F, m, x: F.grad(lambda a: F.jvp(SCALAR(m), (a,), (a * a,))[1])(x),
    lambda F, m, x: F.jvp(F.grad(SCALAR(m)), (x,), (m.exp(x),)),
    lambda F, m, x: F.jvp(lambda a: F.jvp(SCALAR(m), (a,), (m.cos(a),))[1], (x,), (x + 1,)),
], ids=["hessian", "jacfwd_jacrev", "jacfwd_grad", "jacrev_jacfwd", "jacfwd_jacfwd",
        "third_order", "grad_jvp", "jvp_grad", "jvp_jvp"])
def test_nesting_with_grad_and_itself(make, rng):
    x = rng.standard_normal(3)
    both(lambda F, m: make(F, m, m.tensor(x)))


def test_hessian_argnums(data):
    x, y = data[0], data[1]
    both(lambda F, m: F.hessian(FUNCS["scalar"](m), argnums=(0, 1))(*T(m, x, y)))


def test_jvp_of_grad_with_a_closed_over_primal(rng):
    x, v = rng.standard_normal(3), rng.standard_normal(3)
    both(lambda F, m: F.jvp(lambda a: F.grad(lambda t: m.sin(t * a).sum())(m.tensor(v)),
                            (m.tensor(x),), (m.tensor(v),)))


@pytest.mark.parametrize("in_dims", [(0, 0), (0, None), (None, 0)])
def test_vmap_of_jvp(in_dims, rng):
    p, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    p = p if in_dims[0] == 0 else p[0]
    t = t if in_dims[1] == 0 else t[0]
    f = lambda m: lambda a: m.exp(a) * m.sin(a).sum()  # noqa: E731
    both(lambda F, m: F.vmap(lambda a, b: F.jvp(f(m), (a,), (b,)), in_dims=in_dims)(
        m.tensor(p), m.tensor(t)))


def test_jvp_of_vmap_and_per_sample_jacobians(rng):
    p, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    both(lambda F, m: F.jvp(F.vmap(lambda a: m.tanh(a) * a.sum()), (m.tensor(p),), (m.tensor(t),)))
    both(lambda F, m: F.vmap(F.jacfwd(lambda a: m.tanh(a) * a.sum()))(m.tensor(p)))
    both(lambda F, m: F.vmap(F.hessian(lambda a: (m.exp(a) * a.sum()).sum()))(m.tensor(p)))


def test_reverse_through_jvp_keeps_the_graph(rng):
    x, v = rng.standard_normal(3), rng.standard_normal(3)
    res = []
    for m, F in ((ndgrad, nf), (torch, tf)):
        a = m.tensor(x, requires_grad=True)
        out, tan = F.jvp(lambda t: m.sin(t) * t, (a,), (m.tensor(v),))
        (g,) = m.autograd.grad((out * tan).sum(), a)
        res.append((out, tan, g))
    close(*res)


def test_jvp_and_jacfwd_use_dual_tensors(monkeypatch, rng):
    calls = []
    make_dual = fwAD.make_dual

    def spy(tensor, tangent, **kw):
        calls.append(tuple(tangent.shape))
        return make_dual(tensor, tangent, **kw)

    def no_reverse(*args, **kwargs):
        raise AssertionError("a reverse pass ran")
    monkeypatch.setattr(fwAD, "make_dual", spy)
    monkeypatch.setattr(ndgrad.autograd, "grad", no_reverse)
    monkeypatch.setattr(nf, "vjp", no_reverse)
    x = rng.standard_normal((2, 3))
    out, tan = nf.jvp(lambda t: ndgrad.exp(t), (ndgrad.tensor(x),), (ndgrad.ones(2, 3),))
    np.testing.assert_allclose(tan.numpy(), np.exp(x))
    assert calls == [(2, 3)]
    jac = nf.jacfwd(lambda t: ndgrad.exp(t).sum(0))(ndgrad.tensor(x))
    # one dual tensor for the whole Jacobian: the basis tangents batched by vmap
    assert calls[1:] == [(6, 2, 3)]
    np.testing.assert_allclose(jac.numpy(), tf.jacfwd(lambda t: t.exp().sum(0))(
        torch.tensor(x)).numpy())


def test_jvp_leaves_no_tangent_behind(rng):
    x = ndgrad.tensor(rng.standard_normal(3))
    out, tan = nf.jvp(lambda t: t * 2, (x,), (ndgrad.ones(3),))
    assert fwAD.unpack_dual(out).tangent is None and fwAD.unpack_dual(x).tangent is None
    assert not out.requires_grad and not tan.requires_grad


ERRORS = [
    lambda f, m: f.jvp(lambda a: a, (m.ones(3),), (m.ones(3),), has_aux=True),
    lambda f, m: f.jvp(lambda a: (a, a, a), (m.ones(3),), (m.ones(3),), has_aux=True),
    lambda f, m: f.jvp(lambda a: 3, (m.ones(3),), (m.ones(3),)),
    lambda f, m: f.jvp(lambda a: a, (m.ones(3),), (m.ones(3, dtype=m.int64),)),
    lambda f, m: f.jvp(lambda a: a, (m.arange(3),), (m.ones(3),)),
    lambda f, m: f.jvp(lambda: 1, (), ()),
    lambda f, m: f.jvp(lambda a: a, (1.0,), (1.0,)),
    lambda f, m: f.jvp(lambda a: a, (m.ones(2),), (1.0,)),
    lambda f, m: f.jvp(lambda a: a, (m.ones(2),), ([m.ones(2)],)),
    lambda f, m: f.jvp(lambda a: a, (m.ones(2),), (m.ones(3),)),
    lambda f, m: f.jacfwd(lambda a: 3)(m.ones(3)),
    lambda f, m: f.jacfwd(lambda a: a, argnums=2)(m.ones(3)),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(i):
    with pytest.raises(Exception) as theirs:
        ERRORS[i](tf, torch)
    with pytest.raises(Exception) as ours:
        ERRORS[i](nf, ndgrad)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)
