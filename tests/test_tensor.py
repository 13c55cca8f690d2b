"""Tensors: creation, dtypes and promotion, attributes, conversions, against PyTorch."""
import numpy as np
import pytest
import torch

import ndgrad
from both import same

CREATION = [
    lambda t: t.tensor([1, 2, 3]), lambda t: t.tensor([1., 2.]), lambda t: t.tensor(2.5),
    lambda t: t.tensor([True, False]), lambda t: t.tensor([1, 2.5]), lambda t: t.tensor([[1, 2], [3, 4]]),
    lambda t: t.tensor(1 + 2j), lambda t: t.tensor([1, 2], dtype=t.float64),
    lambda t: t.tensor([1, 2, 3], dtype=t.float, requires_grad=True),
    lambda t: t.tensor(2, requires_grad=True), lambda t: t.tensor([[1, 2], [3]]),
    lambda t: t.tensor(np.array([1., 2.], dtype=np.float64)), lambda t: t.tensor(np.float32(3)),
    lambda t: t.zeros(2, 3), lambda t: t.zeros((2, 3)), lambda t: t.ones(2, dtype=t.int64),
    lambda t: t.full((2, 2), 7), lambda t: t.full((2,), 1.5), lambda t: t.full((2,), True),
    lambda t: t.empty(0), lambda t: t.arange(5), lambda t: t.arange(1, 4, 0.5), lambda t: t.arange(0., 1, 0.25),
    lambda t: t.arange(10, 0, -3), lambda t: t.linspace(0, 1, 5), lambda t: t.linspace(-3, 7, 11),
    lambda t: t.linspace(0, 1, 1), lambda t: t.eye(3), lambda t: t.eye(2, 3, dtype=t.int64),
    lambda t: t.zeros_like(t.tensor([1, 2])), lambda t: t.ones_like(t.tensor([1., 2.]), dtype=t.float64),
    lambda t: t.full_like(t.tensor([1, 2]), 3), lambda t: t.zeros(2, 3, requires_grad=True),
    lambda t: t.zeros(-1), lambda t: t.Tensor([1, 2]), lambda t: t.Tensor(2, 3).shape,
    lambda t: t.as_tensor([1, 2]), lambda t: t.as_tensor(np.arange(3.)),
    lambda t: t.tensor([1, 2]).requires_grad_(), lambda t: t.tensor([1.]).requires_grad_().requires_grad,
]


@pytest.mark.parametrize("i", range(len(CREATION)))
def test_creation_matches_torch(i):
    same(CREATION[i])


def test_random_factories_shapes_dtypes_and_seed():
    ndgrad.manual_seed(3)
    a = ndgrad.rand(2, 3)
    ndgrad.manual_seed(3)
    b = ndgrad.rand(2, 3)
    assert (a == b).all() if hasattr(a, "all") else np.array_equal(a.numpy(), b.numpy())
    assert a.dtype is ndgrad.float32 and a.shape == (2, 3)
    assert 0 <= a.numpy().min() and a.numpy().max() < 1
    n = ndgrad.randn(1000, dtype=ndgrad.float64)
    assert n.dtype is ndgrad.float64 and abs(n.numpy().mean()) < 0.2
    r = ndgrad.randint(0, 5, (100,))
    assert r.dtype is ndgrad.int64 and r.numpy().min() >= 0 and r.numpy().max() < 5
    assert ndgrad.randn_like(ndgrad.zeros(2, dtype=ndgrad.float64)).dtype is ndgrad.float64
    assert ndgrad.rand(2, requires_grad=True).requires_grad


PROMOTION = [
    lambda t: (t.tensor([1, 2, 3]) * 1.5).dtype, lambda t: (t.tensor([1, 2]) / 2).dtype,
    lambda t: t.tensor([True, False]) + 1, lambda t: (t.tensor([1.], dtype=t.float16) + t.tensor(1., dtype=t.float64)).dtype,
    lambda t: t.tensor([1, 2, 3], dtype=t.int32) + t.tensor(5), lambda t: (t.tensor([1., 2]) + t.tensor([1, 2], dtype=t.float64)).dtype,
    lambda t: (t.tensor([1, 2], dtype=t.uint8) + t.tensor([1, 2], dtype=t.int8)).dtype,
    lambda t: (t.tensor([1, 2]) + t.tensor([1.], dtype=t.float16)).dtype,
    lambda t: (t.tensor([1., 2.]) * (1 + 1j)).dtype, lambda t: (t.tensor([True]) * 2.5).dtype,
    lambda t: (t.tensor([1, 2], dtype=t.int32) * 2).dtype, lambda t: (t.tensor(1, dtype=t.int32) * t.tensor([2], dtype=t.int8)).dtype,
    lambda t: (t.tensor([1., 2.], dtype=t.float64) * t.tensor(2., dtype=t.float32)).dtype,
    lambda t: (t.tensor(1.) + t.tensor([1, 2])).dtype, lambda t: (t.tensor([1, 2]) ** 2).dtype,
    lambda t: (t.tensor([1, 2]) ** 0.5).dtype, lambda t: t.tensor([1, 2]) ** -1,
    lambda t: t.tensor([1, 2]).exp().dtype, lambda t: t.tensor([1, 2]).sum().dtype,
    lambda t: t.tensor([True, True]).sum(), lambda t: t.tensor([1, 2], dtype=t.uint8).sum().dtype,
    lambda t: t.tensor([1, 2]).mean(), lambda t: t.tensor([1, 2]) > 1.5,
    lambda t: t.tensor([1, 2]).add_(1.5), lambda t: t.tensor([1., 2.]).add_(t.tensor([1, 2])),
    lambda t: t.tensor([1, 2]) + t.tensor([1, 2, 3]), lambda t: t.promote_types(t.int64, t.float16),
    lambda t: t.result_type(t.tensor([1, 2]), 1.0), lambda t: (2 - t.tensor([1, 2])).dtype,
    lambda t: (2.5 - t.tensor([1, 2])), lambda t: 2 ** t.tensor([1, 2]), lambda t: 2.0 ** t.tensor([1., 2.]),
]


@pytest.mark.parametrize("i", range(len(PROMOTION)))
def test_type_promotion_matches_torch(i):
    same(PROMOTION[i])


def test_default_dtype():
    try:
        for t in (torch, ndgrad):
            t.set_default_dtype(t.float64)
        same(lambda t: (t.tensor([1.5]), t.arange(0., 2.), t.tensor([1, 2]) / 2, t.get_default_dtype(),
                        t.tensor(1 + 1j).dtype, t.zeros(2)))
    finally:
        for t in (torch, ndgrad):
            t.set_default_dtype(t.float32)


ATTRS = [
    lambda t: (t.zeros(2, 3).shape, t.zeros(2, 3).size(), t.zeros(2, 3).size(1), t.zeros(2, 3).size(-1)),
    lambda t: (t.zeros(2, 3).dim(), t.zeros(2, 3).ndim, t.zeros(2, 3).numel(), t.zeros(2, 3).dtype),
    lambda t: t.zeros(2, 3).size(2), lambda t: t.tensor(3.5).item(), lambda t: type(t.tensor(3).item()),
    lambda t: t.tensor([1., 2.]).item(), lambda t: t.tensor([[1, 2], [3, 4]]).tolist(),
    lambda t: t.tensor(2.).tolist(), lambda t: t.tensor([1, 2]).float(), lambda t: t.tensor([1.5, 2.7]).long(),
    lambda t: t.tensor([1.5]).double(), lambda t: t.tensor([1.5]).int(), lambda t: t.tensor([0., 2.]).bool(),
    lambda t: t.tensor([1.5]).to(t.float64), lambda t: t.tensor([1.5], requires_grad=True).to(t.float64),
    lambda t: t.tensor([1.5], requires_grad=True).double(), lambda t: t.tensor([1.5], requires_grad=True).clone(),
    lambda t: t.tensor([1.5]).half(), lambda t: len(t.zeros(4, 2)), lambda t: len(t.tensor(1.)),
    lambda t: float(t.tensor([2.5])), lambda t: int(t.tensor(3.9)), lambda t: bool(t.tensor([0.])),
    lambda t: bool(t.tensor([1., 2.])), lambda t: t.tensor([1.5], requires_grad=True).numpy(),
    lambda t: t.tensor([1.5], requires_grad=True).detach().numpy().tolist(), lambda t: t.tensor([1., 2.]).is_leaf,
    lambda t: t.tensor([1.5], requires_grad=True).is_floating_point(), lambda t: t.tensor([1]).is_floating_point(),
    lambda t: t.tensor([1.5], requires_grad=True).type(), lambda t: t.tensor([1]).type(),
    lambda t: t.zeros(2, dtype=t.int64).element_size(), lambda t: t.is_tensor(t.zeros(1)),
    lambda t: [x.item() for x in t.tensor([1., 2.])], lambda t: t.tensor([3.]).__index__() if False else int(t.tensor([3])),
]


@pytest.mark.parametrize("i", range(len(ATTRS)))
def test_attributes_and_conversions_match_torch(i):
    same(ATTRS[i])


def test_numpy_and_from_numpy_share_memory():
    a = np.arange(3.)
    t = ndgrad.from_numpy(a)
    a[0] = 10
    assert t[0].item() == 10
    t.numpy()[1] = 20
    assert a[1] == 20
    x = ndgrad.tensor([1., 2.], requires_grad=True)
    with ndgrad.no_grad():
        x.numpy()[0] = 5  # allowed under no_grad, shares memory
    assert x[0].item() == 5
    assert np.asarray(ndgrad.tensor([1, 2])).tolist() == [1, 2]
    with pytest.raises(TypeError, match="can't convert np.ndarray of type numpy.object_"):
        ndgrad.from_numpy(np.array([object()]))


def test_requires_grad_errors_match_torch():
    same(lambda t: setattr(t.tensor([1]), "requires_grad", True))
    same(lambda t: setattr(t.tensor([1.]), "requires_grad", 1))
    same(lambda t: setattr(t.tensor([1.], requires_grad=True) * 2, "requires_grad", False))
    same(lambda t: setattr(t.tensor([1.], requires_grad=True) * 2, "requires_grad", True))
    same(lambda t: (t.tensor([1.], requires_grad=True) * 2).requires_grad_(False))
    same(lambda t: t.tensor([1]).requires_grad_())

    def toggle(t):
        x = t.tensor([1.])
        x.requires_grad = True
        a = x.requires_grad
        x.requires_grad = False
        return a, x.requires_grad, x.is_leaf
    same(toggle)


# Integer and bool results of a tensor that requires grad: PyTorch records no node for them.
INTEGER_RESULTS = ["x.long()", "x.int()", "x.bool()", "x.to(t.int64)", "x.to(dtype=t.bool)",
                   "x.type(t.int32)", "x.round().long()", "x.long().clone()", "x.long()[0]",
                   "x.long() + 1", "x.long() * 2", "x > 0", "x.argmax()", "x.sort()[1]",
                   "t.eq(x, x)", "x.double()", "x.half()", "x.long().float()"]


@pytest.mark.parametrize("expr", INTEGER_RESULTS)
def test_integer_results_do_not_require_grad_as_in_torch(expr):
    def f(t):
        x = t.tensor([0.5, 1.5]).requires_grad_()
        y = eval(expr, {"t": t, "x": x})
        return y, y.requires_grad, y.is_leaf, type(y.grad_fn).__name__
    same(f)


def test_grad_setter_checks_match_torch():
    def assign(value_fn):
        def f(t):
            x = t.tensor([1., 2., 3.], requires_grad=True)
            x.grad = value_fn(t, x)
            return x.grad
        return f
    same(assign(lambda t, x: 3))
    same(assign(lambda t, x: t.zeros(2)))
    same(assign(lambda t, x: t.zeros(3, dtype=t.float64)))
    same(assign(lambda t, x: x))
    same(assign(lambda t, x: t.ones(3)))
    same(assign(lambda t, x: None))


def test_detach_shares_storage_and_version():
    def f(t):
        x = t.tensor([1., 2.], requires_grad=True)
        d = x.detach()
        d[0] = 5
        d.add_(1)
        return x, d, x._version, d._version, d.requires_grad, d.is_leaf
    same(f)

    def g(t):
        x = t.tensor([1., 2.], requires_grad=True)
        y = x * 2
        y.detach_()
        return y, y.requires_grad, y.is_leaf, y.grad_fn
    same(g)
    same(lambda t: (t.tensor([1., 2.], requires_grad=True) * 2)[0].detach_())

    def data(t):
        x = t.tensor([1., 2.], requires_grad=True)
        d = x.data
        d[0] = 7
        return x, d.requires_grad, x._version, d._version
    same(data)

    def set_data(t):
        x = t.tensor([1., 2.], requires_grad=True)
        x.data = t.tensor([3., 4.])
        return x
    same(set_data)
