"""Shape and indexing ops against PyTorch: grad_fn names, errors and their texts, indexing with
every kind of index, setitem, method-only ops (view, expand, repeat, T, mT) and the gradients of
the ops that take tensor lists (cat, stack, hstack, vstack), checked by finite differences too."""
import subprocess
import sys

import numpy as np
import pytest
import torch

import ndgrad
from both import outcome, same

BASE = np.arange(1., 25.).reshape(2, 3, 4) / 7


def leaf(t, a=BASE):
    return t.tensor(np.array(a, dtype=np.float64), requires_grad=True)


def grads(t, make, n_inputs=1, weights_seed=3):
    """Values and first gradients of ``make(t, *leaves)`` with random output weights."""
    xs = [leaf(t, BASE + k) for k in range(n_inputs)]
    out = make(t, *xs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    rng = np.random.default_rng(weights_seed)
    total = sum((o * t.tensor(rng.uniform(-1, 1, tuple(o.shape)))).sum() for o in outs)
    total.backward()
    return [o.detach() for o in outs] + [x.grad for x in xs]


def check_fd(make, n_inputs=1):
    """First and second directional derivatives of ndgrad's ``make`` against float64 differences."""
    rng = np.random.default_rng(5)
    bases = [BASE + k for k in range(n_inputs)]
    v = [rng.uniform(-1, 1, BASE.shape) for _ in bases]
    u = [rng.uniform(-1, 1, BASE.shape) for _ in bases]

    def f(xs):
        out = make(ndgrad, *xs)
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        w = np.random.default_rng(11)
        return sum(((o * ndgrad.tensor(w.uniform(-1, 1, tuple(o.shape)))) ** 2).sum() for o in outs)

    def at(eps, d, req=False):
        return [ndgrad.tensor(b + eps * di, requires_grad=req) for b, di in zip(bases, d)]

    h = 1e-6
    fd = (f(at(h, v)).item() - f(at(-h, v)).item()) / (2 * h)
    xs = at(0, v, True)
    gs = ndgrad.autograd.grad(f(xs), xs, create_graph=True)
    np.testing.assert_allclose(sum(float((g.detach().numpy() * d).sum()) for g, d in zip(gs, v)),
                               fd, rtol=1e-5, atol=1e-6)

    def gu(eps):
        ys = at(eps, v, True)
        return sum(float((g.numpy() * d).sum())
                   for g, d in zip(ndgrad.autograd.grad(f(ys), ys), u))
    fd2 = (gu(1e-5) - gu(-1e-5)) / 2e-5
    hv = ndgrad.autograd.grad(sum((g * ndgrad.tensor(d)).sum() for g, d in zip(gs, u)), xs,
                              allow_unused=True)
    got = sum(float((g.numpy() * d).sum()) for g, d in zip(hv, v) if g is not None)
    np.testing.assert_allclose(got, fd2, rtol=1e-4, atol=1e-5)


def same_grads(make, n_inputs=1):
    want = grads(torch, make, n_inputs)
    got = grads(ndgrad, make, n_inputs)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert tuple(g.shape) == tuple(w.shape) and str(g.dtype) == str(w.dtype)
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-10, atol=1e-12)


# -- tensor-list ops and method-only ops: values, gradients, finite differences ---------------
DIFFERENTIABLE = {
    "cat0": (lambda t, a, b: t.cat([a, b[:1]]), 2),
    "cat-1": (lambda t, a, b: t.cat([a, b[..., :2], a], -1), 2),
    "concat": (lambda t, a, b: t.concat([a[0], b[1]], 1), 2),
    "stack": (lambda t, a, b: t.stack([a, b], 1), 2),
    "stack-0d": (lambda t, a, b: t.stack([a[0, 0, 0], b[1, 2, 3]]), 2),
    "hstack": (lambda t, a, b: t.hstack([a[0], b[1, :, :1]]), 2),
    "hstack-1d": (lambda t, a, b: t.hstack([a[0, 0], b[1, 1, 2]]), 2),
    "vstack": (lambda t, a, b: t.vstack([a[0], b[1, 1]]), 2),
    "view": (lambda t, a: a.view(4, 6).view(-1, 2), 1),
    "expand": (lambda t, a: a[:, :1].expand(3, -1, 2, 4), 1),
    "expand_as": (lambda t, a: a[0, :, :1].expand_as(a), 1),
    "repeat": (lambda t, a: a[0].repeat(2, 1, 3), 1),
    "T": (lambda t, a: a[0].T, 1),
    "mT": (lambda t, a: a.mT, 1),
    "getitem-mixed": (lambda t, a: a[1, [0, 2, 2], 1:3], 1),
    "getitem-mask": (lambda t, a: a[a > 1.5], 1),
    "getitem-repeats": (lambda t, a: a[[0, 0, 1], ..., [3, 3, 0]], 1),
    "getitem-none-step": (lambda t, a: a[None, :, -2:, ::3], 1),
    "setitem-adv": (lambda t, a, b: _set(t, a, ([0, 1], [2, 0]), b[0, 0]), 2),
    "setitem-slice": (lambda t, a, b: _set(t, a, (slice(None), 1), b[1, 0] * 2), 2),
    "setitem-mask": (lambda t, a, b: _set(t, a, a > 1.05, b.sum()), 2),
    "split-cat": (lambda t, a: t.cat(a.split([1, 2], 1)[::-1], 1), 1),
    "unbind-stack": (lambda t, a: t.stack(a.unbind(2)[1:], 0), 1),
}


def _set(t, a, idx, value):
    y = a * 1
    y[idx] = value
    return y


@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE))
def test_gradients_match_torch(name):
    make, n = DIFFERENTIABLE[name]
    same_grads(make, n)


@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE))
def test_finite_differences(name):
    make, n = DIFFERENTIABLE[name]
    check_fd(make, n)


def test_cat_promotes_dtypes():
    same(lambda t: t.cat([t.ones(2, dtype=t.float32), t.ones(1, dtype=t.float64)]))
    same(lambda t: t.cat([t.ones(2, dtype=t.int32), t.ones(1)]))
    same(lambda t: t.stack([t.tensor([True]), t.tensor([False])]))


# -- grad_fn names -----------------------------------------------------------------------------
NAMED = [
    lambda t, x: x.reshape(24), lambda t, x: x.transpose(0, 1).reshape(24), lambda t, x: x.view(6, 4),
    lambda t, x: x.flatten(), lambda t, x: x.mT.flatten(1), lambda t, x: x.unflatten(2, (2, 2)),
    lambda t, x: x[:1].squeeze(), lambda t, x: x[:1].squeeze(0), lambda t, x: x[:1].squeeze((0, 1)),
    lambda t, x: x.unsqueeze(1), lambda t, x: x.permute(2, 0, 1), lambda t, x: x.transpose(0, 2),
    lambda t, x: x.swapaxes(0, 1), lambda t, x: x[0].t(), lambda t, x: x[0, 0].t(), lambda t, x: x[0].T,
    lambda t, x: x.mT, lambda t, x: x[:, :1].expand(2, 3, 4), lambda t, x: t.broadcast_to(x, (2, 2, 3, 4)),
    lambda t, x: x.repeat(1, 2, 1), lambda t, x: t.tile(x, (2,)), lambda t, x: x.flip(0),
    lambda t, x: x.roll(1, 0), lambda t, x: x.roll(2), lambda t, x: t.cat([x, x]),
    lambda t, x: t.stack([x, x]), lambda t, x: t.hstack([x, x]), lambda t, x: t.vstack([x[0, 0], x[1, 1]]),
    lambda t, x: x.split(1), lambda t, x: x.split([2, 1], 1), lambda t, x: x.chunk(2, 2),
    lambda t, x: x.unbind(1), lambda t, x: x.narrow(2, 1, 2), lambda t, x: x.select(1, 0),
    lambda t, x: x.gather(1, t.tensor([[[0, 1]]])), lambda t, x: x.scatter(0, t.tensor([[[1]]]), 2.0),
    lambda t, x: x.scatter(0, t.tensor([[[1]]]), x[:1, :1, :1] * 2),
    lambda t, x: x.scatter_add(0, t.tensor([[[1]]]), x), lambda t, x: x.index_select(2, t.tensor([0, 0])),
    lambda t, x: x.index_add(0, t.tensor([1]), x[:1]), lambda t, x: x.masked_fill(x > 1, 0.0),
    lambda t, x: x.masked_fill(x > 1, x[0, 0, 0]), lambda t, x: x.masked_select(x > 1),
    lambda t, x: x.take(t.tensor([0, 5])), lambda t, x: x.tril(), lambda t, x: x.triu(-1),
    lambda t, x: t.diag(x[0, 0]), lambda t, x: t.diag(x[0]), lambda t, x: x.diagonal(0, 1, 2),
    lambda t, x: x[0].trace(), lambda t, x: x[1], lambda t, x: x[:, 1:], lambda t, x: x[...],
    lambda t, x: x[None], lambda t, x: x[:, None, 0], lambda t, x: x[[0, 1]], lambda t, x: x[x > 1],
    lambda t, x: x[t.tensor(1)], lambda t, x: x[0, [1, 2]],
]


@pytest.mark.parametrize("i", range(len(NAMED)))
def test_grad_fn_names_match_torch(i):
    def names(t):
        out = NAMED[i](t, leaf(t))
        outs = out if isinstance(out, tuple) else (out,)
        return [(type(o.grad_fn).__name__, o._is_view(), o.output_nr, tuple(o.shape)) for o in outs]
    assert names(ndgrad) == names(torch)


# -- errors ------------------------------------------------------------------------------------
def _x(t):
    return t.arange(12.).reshape(3, 4)


ERRORS = [
    lambda t: _x(t).t().view(12), lambda t: _x(t).reshape(5), lambda t: _x(t).reshape(-1, -1),
    lambda t: _x(t).view(5, 3), lambda t: t.cat([_x(t), t.ones(2, 3)]),
    lambda t: t.cat([_x(t), t.ones(2, 3)], 1), lambda t: t.cat([_x(t), t.ones(3)]),
    lambda t: t.cat([t.tensor(1.), t.tensor(2.)]), lambda t: t.cat([]), lambda t: t.cat([_x(t)], 2),
    lambda t: t.stack([_x(t), t.ones(3, 5)]), lambda t: t.stack([]), lambda t: _x(t).transpose(0, 2),
    lambda t: _x(t)[3], lambda t: _x(t)[:, 4], lambda t: _x(t)[-4], lambda t: _x(t)[[0, 3]],
    lambda t: _x(t)[t.tensor([0, 5])], lambda t: _x(t)[0, 0, 0], lambda t: _x(t)[::-1],
    lambda t: _x(t)[:, ::-2], lambda t: _x(t)[t.tensor([0.])],
    lambda t: _x(t)[t.ones(2, 4, dtype=t.bool)], lambda t: _x(t)[:, t.ones(5, dtype=t.bool)],
    lambda t: t.ones(2, 3, 4)[0, t.ones(4, 4, dtype=t.bool)],
    lambda t: _x(t).gather(1, t.tensor([[4]])), lambda t: _x(t).gather(1, t.tensor([4])),
    lambda t: _x(t).gather(1, t.tensor([[0.]])), lambda t: _x(t).gather(0, t.tensor([[0] * 5])),
    lambda t: _x(t).scatter(0, t.tensor([[0, 1]]), t.ones(1, 1)),
    lambda t: _x(t).scatter(0, t.tensor([[0]])),
    lambda t: _x(t).index_select(0, t.tensor([3])), lambda t: _x(t).index_select(0, t.tensor([[0]])),
    lambda t: _x(t).narrow(0, 2, 2), lambda t: _x(t).select(0, 3), lambda t: _x(t).split(0),
    lambda t: _x(t).split([1, 1]), lambda t: _x(t).chunk(0), lambda t: _x(t).repeat(2),
    lambda t: _x(t).expand(2, 4), lambda t: _x(t).expand(4), lambda t: _x(t).expand(-1, 3, 4),
    lambda t: _x(t).permute(0, 0), lambda t: _x(t).permute(0), lambda t: _x(t).squeeze(2),
    lambda t: _x(t).unsqueeze(3), lambda t: _x(t).flatten(1, 0), lambda t: _x(t).unflatten(1, (3, 2)),
    lambda t: t.ones(2, 3, 4).t(), lambda t: t.ones(2).mT, lambda t: t.ones(3).trace(),
    lambda t: t.diag(t.ones(2, 2, 2)), lambda t: t.ones(3).tril(),
    lambda t: _x(t).masked_fill(t.ones(3, 4), 0), lambda t: _x(t).masked_fill(t.ones(3, 4).long(), 0),
    lambda t: _x(t).masked_fill(_x(t) > 0, t.tensor([1.])), lambda t: _x(t).masked_select(t.ones(3, 4)),
    lambda t: _x(t).take(t.tensor([12])), lambda t: _x(t).take(t.tensor([-13])), lambda t: t.tensor(1.)[0],
    lambda t: _x(t).roll((1, 2), (0,)), lambda t: _x(t).index_add(0, t.tensor([0]), t.ones(2, 4)),
    lambda t: _x(t).__setitem__(slice(None), t.ones(2)),
    lambda t: _x(t).__setitem__([0, 1], t.ones(3)),
    lambda t: _x(t).__setitem__(5, 1.0),
    lambda t: t.ones(2, 3, 4).__setitem__((1, slice(1, None)), t.ones(1, 3)),
    lambda t: _x(t).__setitem__([0, 1], t.ones(4, dtype=t.float64)),
    lambda t: t.ones(3, 1).masked_fill_(t.ones(3, 4, dtype=t.bool), 0),
    lambda t: _x(t).diagonal(0, 1, 1),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(i):
    want = outcome(torch, ERRORS[i])
    assert want[0] == "raise"
    assert outcome(ndgrad, ERRORS[i]) == want


T_WARNINGS = """
import sys, warnings, importlib
t = importlib.import_module(sys.argv[1])
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as w:
    shapes = [tuple(t.ones(3).T.shape), tuple(t.tensor(1.).T.shape), tuple(t.ones(2, 3, 4).T.shape),
              tuple(t.ones(2, 3).T.shape), tuple(t.ones(1).T.shape)]
print(shapes, [str(x.message).split(" (Triggered")[0] for x in w])
"""


def test_T_warnings_match_torch():
    """Once per process, as PyTorch: so each library runs in a fresh interpreter."""
    runs = [subprocess.run([sys.executable, "-c", T_WARNINGS, lib], capture_output=True,
                           text=True, check=True).stdout for lib in ("torch", "ndgrad")]
    assert runs[0] == runs[1] and "deprecated" in runs[0]


# -- indexing ----------------------------------------------------------------------------------
INDICES = [
    1, -1, (0, 2), (slice(1, None),), (slice(None, None, 2),), (slice(-2, None), slice(-3, -1)),
    (slice(None), slice(1, 4, 2), 0), None, (None, 0, None), Ellipsis, (Ellipsis, 1), (0, Ellipsis, None),
    [1, 0, 1], ([0, 1], [2, 2]), ([[0], [1]], [0, 2]), (1, [0, 2, 0]), (0, slice(None), [3, 1]),
    ([0, 1], slice(None), 1), (slice(None), [0, 0], [1, 2]), (slice(None), None, [2, 0]),
    ([0, 1], 1, [2, 0]), ([1, 0], ..., [0, 3]), (slice(1, None), [0, 2]), (None, [1, 0]),
    "mask", "mask2", "mask_rows", "idx_tensor", "idx0d", (slice(5, 10),), (slice(-10, 1),),
]


def _index(t, x, i):
    if i == "mask":
        return x > 1.5
    if i == "mask2":
        return (slice(None), x[0] > 1.6)
    if i == "mask_rows":
        return t.tensor([True, False])
    if i == "idx_tensor":
        return (t.tensor([[1, 0]]), t.tensor([2, 0]), 1)
    if i == "idx0d":
        return (t.tensor(1), slice(None), t.tensor(2))
    return i


@pytest.mark.parametrize("i", range(len(INDICES)))
def test_getitem_matches_torch(i):
    def f(t):
        x = leaf(t)
        y = x[_index(t, x, INDICES[i])]
        (y * t.arange(float(y.numel())).reshape(y.shape)).sum().backward()
        return y, x.grad, y._is_view()
    same(f)


@pytest.mark.parametrize("i", range(len(INDICES)))
def test_setitem_matches_torch(i):
    def f(t):
        x = leaf(t)
        v = t.tensor(3.0, dtype=t.float64, requires_grad=True)
        y = x * 1
        y[_index(t, x, INDICES[i])] = v * 2
        z = x * 1
        z[_index(t, x, INDICES[i])] = -1.5
        ((y + z) ** 2).sum().backward()
        return y, z, x.grad, v.grad
    same(f)


def test_setitem_with_tensor_values_matches_torch():
    def f(t):
        x = leaf(t)
        w = t.tensor([1., 2., 3., 4.], dtype=t.float64, requires_grad=True)
        y = x * 1
        y[0, [0, 2]] = w
        y[1, 1:] = w.reshape(1, 4)
        y[:, :, 0] = w[0]
        y[y > 2] = w[3] * 2
        (y ** 2).sum().backward()
        return y, x.grad, w.grad
    same(f)


def test_repeated_indices_accumulate_to_any_order():
    def f(t):
        x = leaf(t)
        y = x[[0, 0, 1, 0], [2, 2, 1, 2]]
        g = t.autograd.grad((y ** 3).sum(), x, create_graph=True)[0]
        return g, t.autograd.grad((g ** 2).sum(), x)[0]
    same(f)


def test_getitem_keeps_integer_dtypes():
    same(lambda t: (t.arange(12).reshape(3, 4)[[0, 2], 1:], t.arange(6)[t.arange(6) > 2]))
    same(lambda t: t.arange(12).reshape(3, 4).flip(1).roll(1).tril().diagonal())
    same(lambda t: t.arange(12).reshape(3, 4).gather(1, t.tensor([[0], [3], [1]])).trace())


def test_integer_setitem_and_masked_fill_():
    def f(t):
        x = t.arange(12).reshape(3, 4)
        x[1] = 7
        x[[0, 2], [1, 1]] = t.tensor([-1, -2])
        x.masked_fill_(x > 8, 0)
        return x, x.tril_(), x.triu_(1)
    same(f)


def test_scatter_add_and_index_add_accumulate_repeats():
    def f(t):
        x = leaf(t, np.zeros((3, 4)))
        src = leaf(t, np.arange(8.).reshape(2, 4))
        a = x.scatter_add(0, t.tensor([[1, 1, 1, 0], [1, 2, 1, 0]]), src)
        b = x.index_add(0, t.tensor([2, 2]), src, alpha=3)
        (a * b + a).sum().backward()
        return a, b, x.grad, src.grad
    same(f)


def test_large_index_backward_accumulates():
    rng = np.random.default_rng(0)
    g = rng.standard_normal((5000, 8))
    idx = rng.integers(0, 50, 5000)

    def f(t):
        x = t.tensor(np.zeros((50, 8)), requires_grad=True)
        x[t.tensor(idx)].backward(t.tensor(g))
        return x.grad
    np.testing.assert_allclose(f(ndgrad).numpy(), f(torch).numpy(), rtol=1e-12, atol=1e-12)
