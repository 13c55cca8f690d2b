"""Reductions: ties, NaN, zeros in prod/cumprod, named tuples, dtypes, errors and higher orders,
compared with PyTorch where the op table cannot say it."""
import warnings

import numpy as np
import pytest
import torch

import ndgrad
from both import grads_close, same

TIES = [[1., 3., 3.], [2., 0., 2.]]
NANS = [[2., float("nan"), 1., float("nan")], [1., 1., 0., 1.]]


def _grad(lib, data, fn, dtype="float64", create_graph=False):
    x = lib.tensor(data, dtype=getattr(lib, dtype), requires_grad=True)
    out = fn(lib, x)
    out = out[0] if isinstance(out, tuple) else out
    w = lib.tensor(np.linspace(-1, 1.5, out.numel()).reshape(tuple(out.shape)), dtype=out.dtype)
    (g,) = lib.autograd.grad((out * w).sum(), x, create_graph=create_graph)
    return x, g


def _check_grad(data, fn, dtype="float64"):
    _, want = _grad(torch, data, fn, dtype)
    _, got = _grad(ndgrad, data, fn, dtype)
    assert str(got.dtype) == str(want.dtype)
    grads_close(want.numpy(), got.numpy())


# -- ties, as PyTorch splits or picks them -----------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda t, x: x.max(), lambda t, x: x.min(), lambda t, x: x.amax(), lambda t, x: x.amin(0),
    lambda t, x: x.amax(1, keepdim=True), lambda t, x: x.amin((0, 1)), lambda t, x: x.median(),
    lambda t, x: x.max(1), lambda t, x: x.min(0), lambda t, x: t.max(x, 1, True),
    lambda t, x: x.median(1), lambda t, x: x.sort(1), lambda t, x: x.sort(0, descending=True),
])
def test_tie_gradients_match_torch(fn):
    _check_grad(TIES, fn)
    _check_grad(TIES, fn, "float32")


@pytest.mark.parametrize("expr", [
    "x.max(1)", "x.min(1)", "x.max(0, keepdim=True)", "x.argmax()", "x.argmin(1)", "x.argmax(1, True)",
    "x.median(1)", "x.median(0)", "x.median()", "x.sort(1)", "x.sort(1, descending=True)",
    "x.sort(dim=0, stable=True)", "x.amax(1)", "x.max()", "x.min()", "x.topk(2)", "x.topk(1, 0)",
])
@pytest.mark.parametrize("data", [TIES, NANS, [[2., 1., 2., 1., 2., 1.]], [[1, 3, 3, 0, 3]],
                                  [[True, False, True]]])
def test_ties_and_nan_pick_torch_indices(expr, data):
    def run(t):
        x = t.tensor(data)
        if "topk" in expr and x.dtype != t.bool:
            # NOTE: PyTorch's topk orders ties by its partial sort; only the values are compared
            return eval(expr, {"x": x})[0]
        return eval(expr, {"x": x})
    same(run)


def test_median_tie_index_matches_torch_on_random_ties():
    rng = np.random.default_rng(3)
    for n in (5, 6, 9, 10):
        data = rng.integers(0, 3, size=(20, n)).astype(float)
        same(lambda t: t.tensor(data).median(1))
        same(lambda t: t.tensor(data).sort(dim=1, descending=True, stable=True))
        same(lambda t: t.tensor(data).sort(dim=1, stable=True))


def test_nan_gradients():
    _check_grad(NANS, lambda t, x: x.max(1))
    _check_grad(NANS, lambda t, x: x.median(1))
    _check_grad([[2., float("nan"), float("nan")]], lambda t, x: x.amax())


# -- zeros in prod and cumprod -----------------------------------------------------------------
ZERO_CASES = [[[2., 0., 3.], [1., 4., 5.]], [[0., 0., 3.], [1., 4., 0.]],
              [[0., 2., 0.5], [0., 0., 0.]], [[1.5, 2., -1.], [3., 0., 0.]]]


@pytest.mark.parametrize("data", ZERO_CASES)
@pytest.mark.parametrize("fn", [lambda t, x: x.prod(), lambda t, x: x.prod(1), lambda t, x: x.prod(0, True),
                                lambda t, x: x.cumprod(1), lambda t, x: x.cumprod(0)])
def test_zeros_first_and_second_order(data, fn):
    _check_grad(data, fn)
    # second order: the Hessian-vector product against PyTorch's
    hv = []
    for lib in (torch, ndgrad):
        x, g = _grad(lib, data, fn, create_graph=True)
        v = lib.tensor(np.linspace(0.5, -1, 6).reshape(2, 3))
        (h,) = lib.autograd.grad((g * v).sum(), x, allow_unused=True)
        hv.append(np.zeros((2, 3)) if h is None else h.detach().numpy())
    grads_close(hv[0], hv[1])


def test_third_order_cumprod_with_zero():
    out = []
    for lib in (torch, ndgrad):
        x = lib.tensor([1.5, 0., 2., -1.], requires_grad=True)
        y = (x.cumprod(0) * lib.tensor([1., 2., -1., 0.5])).sum()
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        (h,) = lib.autograd.grad(g[3], x, create_graph=True)
        (k,) = lib.autograd.grad(h[2], x)
        out.append(k.numpy())
    grads_close(out[0], out[1])


# -- named tuples ------------------------------------------------------------------------------
def test_return_types_repr_fields_and_unpacking():
    x = ndgrad.tensor(TIES, requires_grad=True)
    r = ndgrad.max(x, 1)
    assert repr(r) == repr(torch.max(torch.tensor(TIES, requires_grad=True), 1))
    values, indices = r
    assert values is r.values and indices is r.indices and r[0] is values
    assert isinstance(r, tuple) and type(r) is ndgrad.return_types.max
    assert r.n_fields == 2 and len(r) == 2
    for name in ("min", "median", "sort", "topk"):
        assert repr(getattr(ndgrad.return_types, name)((1, 2))) == \
            repr(getattr(torch.return_types, name)((1, 2)))
    assert indices.grad_fn is None and indices.dtype is ndgrad.int64
    assert values.grad_fn.name() == "MaxBackward0"
    same(lambda t: type(t.var_mean(t.tensor(TIES), 1)).__name__)


def test_binary_max_min_forms():
    a, b = [[1., 5.], [3., 2.]], [[2., 2.], [2., 2.]]
    same(lambda t: t.max(t.tensor(a), t.tensor(b)))
    same(lambda t: t.min(t.tensor(a), t.tensor(b)))
    same(lambda t: t.tensor(a).max(t.tensor(b)))


# -- dtypes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("expr", [
    "x.prod()", "x.prod(0)", "x.cumsum(0)", "x.cumprod(0)", "x.sum()", "x.argmax()", "x.all()",
    "x.any(0)", "x.count_nonzero()", "x.max()", "x.amax(0)", "x.min(0)", "x.median()", "x.sort(0)",
    "x.prod(dtype=torch.float64)", "x.cumsum(0, dtype=torch.float32)", "x.logsumexp(0)",
])
@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "bool", "float32", "float64"])
def test_result_dtypes(expr, dtype):
    def run(t):
        x = t.tensor([[1, 0, 2], [3, 1, 1]], dtype=getattr(t, dtype))
        return eval(expr, {"x": x, "torch": t})
    same(run)


# -- numerics ----------------------------------------------------------------------------------
def test_logsumexp_is_stable():
    data = [[1000., 1000., -1000.], [-1000., -1000., -1000.], [float("inf"), 1., 2.],
            [-float("inf"), -float("inf"), -float("inf")]]
    same(lambda t: t.tensor(data).logsumexp(1))
    _check_grad(data[:2], lambda t, x: x.logsumexp(1))
    _check_grad(data[:2], lambda t, x: x.logsumexp(1), "float32")


def test_var_std_degrees_of_freedom():
    x = [[1., 2., 4.], [3., 3., 9.]]
    same(lambda t: t.tensor(x).var(1, correction=0))
    same(lambda t: t.tensor(x).std(1, False))
    same(lambda t: t.tensor(x).var(False))
    same(lambda t: t.std_mean(t.tensor(x), (0, 1), keepdim=True, correction=2))
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        v = ndgrad.tensor([1., 2.]).var(correction=2)
    assert v.item() == float("inf")
    assert any(str(w.message).startswith("var(): degrees of freedom is <= 0. Correction should "
                                         "be strictly less than the reduction factor") for w in got)


def test_std_and_var_mean_second_order():
    x = [[1., 2., 4.], [3., 3., 9.]]
    for fn in (lambda t, x: x.std(1), lambda t, x: t.var_mean(x, 0)[0] + t.var_mean(x, 0)[1] ** 2,
               lambda t, x: t.std_mean(x)[0] * t.std_mean(x)[1]):
        hv = []
        for lib in (torch, ndgrad):
            xx, g = _grad(lib, x, fn, create_graph=True)
            (h,) = lib.autograd.grad((g * lib.tensor(np.ones((2, 3)))).sum(), xx)
            hv.append(h.numpy())
        grads_close(hv[0], hv[1])


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("expr", [
    "t.tensor([1, 2]).var()", "t.tensor([1, 2]).std()", "t.tensor([]).max()", "t.zeros(2, 0).max(1)",
    "t.zeros(2, 3).topk(4)", "t.zeros(0).argmax()", "t.zeros(2, 3).max(2)", "t.zeros(2, 3).sort(3)",
    "t.zeros(2, 3).cumsum(-3)", "t.zeros(2, 3).max(1, 2)", "t.zeros(2, 0).argmin(1)",
    "t.zeros(0).amax()", "t.zeros(2, 0).amin(1)", "t.zeros(2, 3).amax((0, 0))",
    "t.zeros(2, 3).var((1, -1))", "t.zeros(2, 3).prod((0, 1))", "t.prod(t.zeros(2, 3), (0, 1))",
    "t.tensor([True]).argmax()", "t.tensor([True]).median()", "t.tensor([True]).median(0)",
    "t.tensor([True]).topk(1)", "t.zeros(2, 3).topk(-1)", "t.zeros(2, 0).median(1)",
])
def test_errors_match_torch(expr):
    same(lambda t: eval(expr, {"t": t}))


def test_zero_dim_inputs():
    for expr in ("x.max(0)", "x.sort()", "x.topk(1)", "x.median(0)", "x.cumsum(0)", "x.cumprod(-1)",
                 "x.prod(0)", "x.argmax(0)", "x.amax()", "x.logsumexp(0)", "x.var(correction=0)"):
        same(lambda t: eval(expr, {"x": t.tensor(3.)}))
