"""Reductions: ties, NaN, zeros in prod/cumprod, named tuples, dtypes, errors and higher orders,
compared with PyTorch where the op table cannot say it."""
import warnings

import numpy as np
import pytest
import torch

import ndgrad
from both import grads_close, same
from ndgrad import _reduce

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
    same(lambda t: eval(expr, {"x": t.tensor(data)}))


def test_median_tie_index_matches_torch_on_random_ties():
    rng = np.random.default_rng(3)
    for n in (5, 6, 9, 10):
        data = rng.integers(0, 3, size=(20, n)).astype(float)
        same(lambda t: t.tensor(data).median(1))
        same(lambda t: t.tensor(data).sort(dim=1, descending=True, stable=True))
        same(lambda t: t.tensor(data).sort(dim=1, stable=True))


def _tied(rng, shape, dtype):
    """Small integers (ties everywhere), with some NaNs in float tensors."""
    x = rng.integers(0, int(rng.integers(1, 6)), size=shape).astype(np.float64)
    if dtype != "int64" and rng.random() < 0.3:
        x[rng.random(shape) < 0.2] = np.nan
    return x


TIED_SHAPES = [((1,), 0), ((3,), 0), ((4,), 0), ((10,), 0), ((17,), 0), ((40,), -1), ((64,), 0),
               ((130,), 0), ((700,), 0), ((2000,), 0), ((3, 50), 1), ((70, 2), 0), ((2, 130, 3), 1)]


@pytest.mark.parametrize("shape,dim", TIED_SHAPES)
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
def test_topk_ties_match_torch(shape, dim, dtype):
    """PyTorch's topk picks and orders ties by std::partial_sort (k * 64 <= n) or by
    std::nth_element and std::sort: indices and values equal on random tied inputs."""
    rng = np.random.default_rng([*shape, dim % 3, len(dtype)])
    n = shape[dim]
    ks = sorted({1, 2, n, max(1, n // 64), (n + 1) // 2, int(rng.integers(1, n + 1))})
    for k in ks:
        if k > n:
            continue
        for largest in (True, False):
            for sorted_ in (True, False):
                data = _tied(rng, shape, dtype)
                for strided in (False, True):
                    def run(t):
                        x = t.tensor(data, dtype=getattr(t, dtype))
                        if strided:
                            x = x.transpose(0, -1).contiguous().transpose(0, -1)
                        return x.topk(k, dim, largest=largest, sorted=sorted_)
                    same(run)


@pytest.mark.parametrize("shape,dim", TIED_SHAPES)
@pytest.mark.parametrize("descending", [False, True])
def test_unstable_sort_ties_match_torch(shape, dim, descending):
    """sort(stable=False) orders ties as std::sort does (from 17 elements on, not stable)."""
    rng = np.random.default_rng([*shape, dim % 3, descending])
    for dtype in ("float64", "float32", "int64"):
        data = _tied(rng, shape, dtype)
        same(lambda t: t.tensor(data, dtype=getattr(t, dtype)).sort(dim, descending))
        same(lambda t: t.tensor(data, dtype=getattr(t, dtype)).sort(dim=dim, descending=descending,
                                                                    stable=True))


@pytest.mark.parametrize("expr", [
    "t.zeros(0, 100).topk(3)", "t.zeros(2, 0, 5).topk(2, 2, False, False)",
    "t.zeros(0, 40).sort()", "t.zeros(3, 0, 2).sort(1, True)", "t.zeros(0, 40).topk(0)",
    "t.tensor(3.).topk(1, sorted=False)"])
def test_sort_topk_empty_and_0d(expr):
    same(lambda t: eval(expr, {"t": t}))


@pytest.mark.parametrize("expr", [
    "x.topk(3)", "x.topk(3, largest=False)", "x.topk(7, 0, sorted=False)",
    "x.topk(40, sorted=False)", "x.sort()", "x.sort(0, True)", "x.max(1)", "x.min(0)",
    "x.median(1)"])
def test_tie_choice_gradients_match_torch(expr):
    data = np.random.default_rng(8).integers(0, 3, size=(9, 400)).astype(float)
    _check_grad(data, lambda t, x: eval(expr, {"x": x}))
    _check_grad(data, lambda t, x: eval(expr, {"x": x}), "float32")


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
def test_argmax_argmin_max_min_median_ties_match_torch(dtype):
    rng = np.random.default_rng(12)
    for shape, dim in TIED_SHAPES:
        data = _tied(rng, shape, dtype)
        for expr in ("x.max(d)", "x.min(d)", "x.argmax(d)", "x.argmin(d)", "x.median(d)"):
            same(lambda t: eval(expr, {"x": t.tensor(data, dtype=getattr(t, dtype)), "d": dim}))


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


# -- cumsum and logsumexp kernels ----------------------------------------------------------------
def _close(got, want, rtol=1e-6, atol=1e-7):
    assert str(got.dtype) == str(want.dtype) and tuple(got.shape) == tuple(want.shape)
    grads_close(want.detach().numpy(), got.detach().numpy(), rtol, atol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("dim", [0, 1, -1, 2])
def test_cumsum_gradient_values_and_layout(dim, dtype):
    data = np.random.default_rng(3).standard_normal((4, 5, 6))

    def run(t):
        x = t.tensor(data, dtype=getattr(t, dtype), requires_grad=True)
        w = t.tensor(np.linspace(-1, 2, 120).reshape(4, 5, 6), dtype=getattr(t, dtype))
        (x.cumsum(dim) * w).sum().backward()
        return x.grad

    got, want = run(ndgrad), run(torch)
    _close(got, want, rtol={"float32": 1e-6, "float64": 1e-13}[dtype])
    # the reversed scan writes a contiguous result, which .grad takes without reordering
    assert _reduce._rev_cumsum(data, dim).flags.c_contiguous


def test_cumsum_double_backward():
    def run(t):
        x = t.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], dtype=t.float64, requires_grad=True)
        (g,) = t.autograd.grad((x.cumsum(1) ** 2).sum(), x, create_graph=True)
        (h,) = t.autograd.grad((g * g.flip(1)).sum(), x)
        return [g, h]
    for got, want in zip(run(ndgrad), run(torch)):
        _close(got, want, rtol=1e-12)


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, (0, 2), -1])
def test_logsumexp_gradients_and_second_order(dim, keepdim):
    data = np.random.default_rng(4).uniform(-3, 3, (3, 4, 5))
    data[0, 0, :] = -np.inf

    def run(t, dtype):
        x = t.tensor(data, dtype=getattr(t, dtype), requires_grad=True)
        out = x.logsumexp(dim, keepdim=keepdim)
        w = t.tensor(np.linspace(-1, 2, out.numel()).reshape(tuple(out.shape)), dtype=out.dtype)
        (g,) = t.autograd.grad((out * w).sum(), x, create_graph=dtype == "float64")
        return out, g, x

    for dtype in ("float32", "float64"):
        (o1, g1, _), (o2, g2, _) = run(ndgrad, dtype), run(torch, dtype)
        _close(o1, o2)
        _close(g1, g2)
    (_, g1, x1), (_, g2, x2) = run(ndgrad, "float64"), run(torch, "float64")
    finite = np.isfinite(g2.detach().numpy())
    h1 = ndgrad.autograd.grad((g1 * g1)[ndgrad.tensor(finite)].sum(), x1)[0]
    h2 = torch.autograd.grad((g2 * g2)[torch.tensor(finite)].sum(), x2)[0]
    np.testing.assert_allclose(h1.numpy(), h2.numpy(), rtol=1e-10, atol=1e-12)


def test_logsumexp_of_integers_and_zero_dim():
    same(lambda t: t.tensor([[1, 2, 3], [-4, 0, 7]]).logsumexp(1))
    same(lambda t: t.tensor([[1, 2, 3], [-4, 0, 7]], dtype=t.int32).logsumexp(0, keepdim=True))

    def run(t):
        x = t.tensor(0.5, requires_grad=True)
        x.logsumexp(0).backward()
        return x.grad
    same(run)


# -- sort's arguments: ``stable`` comes only with the keyword-only signature -------------------
SORT_CALLS = [
    "x.sort(1, True)", "x.sort(dim=1, stable=True)", "x.sort(stable=True)", "x.sort(stable=False)",
    "x.sort(stable=None)", "x.sort(stable=True, dim=0, descending=True)",
    "x.sort(descending=True, stable=True)", "t.sort(x, stable=True)",
    "t.sort(x, dim=0, stable=True)", "t.sort(input=x, dim=0, stable=True)", "t.sort(x, 0, True)",
    "t.sort(x, stable=True, dim=1, descending=False, out=None)", "x.sort(np.int64(0))",
    "x.sort(t.tensor(1))", "x.sort(dim=t.tensor(0), stable=True)",
    # refused, with PyTorch's texts
    "t.sort(x, 1, stable=True)", "x.sort(1, stable=True)", "x.sort(-1, stable=False)",
    "x.sort(1, stable=None)", "t.sort(x, -1, True, stable=True)", "x.sort(0, True, stable=True)",
    "x.sort(0, descending=True, stable=True)", "t.sort(x, 0, True, stable=True, out=None)",
    "t.sort(x, 0, stable=True, out=None)", "x.sort(True)", "t.sort(x, True)",
    "x.sort(1, False, True)",
    "x.sort(stable=1)", "x.sort(stable=np.bool_(True))", "x.sort(stable=t.tensor(True))",
    "x.sort(dim=1.0)", "x.sort(dim='a')", "x.sort(dim=None)", "x.sort(descending=None)",
    "x.sort(1, stable='a')", "x.sort(0, None)", "x.sort('a', 1)", "x.sort(1.5, True)",
    "x.sort(1, dim=0)", "x.sort(dim=1, stable=True, foo=1)",
    "x.sort(dim=0, descending=True, foo=1)", "x.sort(stable=True, dim=0, descending=True, foo=3)",
    "x.sort(0, stable=True, dim=0, descending=True)",
    "x.sort(dim=0, descending=1)", "x.sort(stable=True, foo=1)", "x.sort(dim=1.5, stable=True)",
    "x.sort(stable=True, dim='a', descending=True)", "x.sort(stable='a', dim=0, descending=True)",
    "t.sort(x, 0, 'a')", "t.sort(x, dim='a')", "t.sort(x, 0, False, out=[1])", "t.sort(x, x)",
    "t.sort(x, 0, True, 1)", "t.sort()", "t.sort(1)", "t.sort(stable=True)", "t.sort(x, foo=1)",
    "t.sort(x, dim=0, input=x)",
]


@pytest.mark.parametrize("expr", SORT_CALLS)
def test_sort_arguments_match_torch(expr):
    def f(t):
        x = t.tensor(TIES)
        r = eval(expr, {"t": t, "x": x, "np": np})
        return r.values, r.indices
    same(f)


def test_sort_stable_keyword_keeps_ties_in_order():
    data = np.array([[2., 1., 2., 1., 2., 1.] * 4])
    for lib in (torch, ndgrad):
        r = lib.tensor(data).sort(stable=True, dim=1, descending=True)
        np.testing.assert_array_equal(r.indices.numpy()[0], [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20,
                                                              22, 1, 3, 5, 7, 9, 11, 13, 15, 17,
                                                              19, 21, 23])


# -- out=: the (values, indices) of sort, topk, max, min and median written into given tensors ---
OUT_CALLS = {
    "sort": lambda t, x, out: t.sort(x, out=out),
    "sort(0, True)": lambda t, x, out: t.sort(x, 0, True, out=out),
    "sort(stable, descending, dim=0)": lambda t, x, out: t.sort(x, stable=True, descending=True,
                                                                dim=0, out=out),
    "sort(dim=1, stable=False)": lambda t, x, out: t.sort(x, dim=1, stable=False, out=out),
    "topk(2)": lambda t, x, out: t.topk(x, 2, out=out),
    "topk(1, 0, largest=False)": lambda t, x, out: t.topk(x, 1, 0, largest=False, out=out),
    "max(1)": lambda t, x, out: t.max(x, 1, out=out),
    "max(0, True)": lambda t, x, out: t.max(x, 0, True, out=out),
    "min(1)": lambda t, x, out: t.min(x, 1, out=out),
    "min(dim=0, keepdim=True)": lambda t, x, out: t.min(x, dim=0, keepdim=True, out=out),
    "median(1)": lambda t, x, out: t.median(x, 1, out=out),
    "median(0, True)": lambda t, x, out: t.median(x, 0, True, out=out),
}


def _outs(t, kind, dtype, shape):
    """out= tensors for values of ``dtype`` and int64 indices, for a result of ``shape``."""
    pair = lambda make: (make(dtype), make(t.int64))  # noqa: E731
    if kind == "empty":
        return pair(lambda dt: t.empty(0, dtype=dt))
    if kind == "empty list":
        return list(pair(lambda dt: t.empty(0, dtype=dt)))
    if kind == "other shape":  # resized, with PyTorch's warning
        return t.zeros(5, dtype=dtype), t.zeros(1, 1, dtype=t.int64)
    if kind == "result shape":
        return pair(lambda dt: t.full(shape, 7, dtype=dt))
    if kind == "transposed":
        return pair(lambda dt: t.full(shape[::-1], 7, dtype=dt).permute(*range(len(shape))[::-1]))
    assert kind == "view"
    return pair(lambda dt: t.full((2,) + shape, 7, dtype=dt)[1])


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
@pytest.mark.parametrize("kind", ["empty", "empty list", "other shape", "result shape",
                                  "transposed", "view"])
@pytest.mark.parametrize("call", sorted(OUT_CALLS))
def test_out_tensors_take_values_and_indices_as_torch(call, kind, dtype):
    def f(t):
        x = t.tensor(TIES, dtype=getattr(t, dtype))
        shape = tuple(OUT_CALLS[call](t, x, None).values.shape)
        out = _outs(t, kind, x.dtype, shape)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = OUT_CALLS[call](t, x, out)
        said = [(w.category.__name__, str(w.message).split(" (Triggered internally")[0])
                for w in caught]
        mine = [r.values is out[0], r.indices is out[1], out[0]._version, out[1]._version]
        bases = [o._base for o in out if o._base is not None]
        return type(r).__name__, r, mine, said, bases
    same(f)


def test_out_refuses_autograd_but_not_under_no_grad():
    def input_requires_grad(t):
        x = t.tensor(TIES, requires_grad=True)
        t.sort(x, out=(t.empty(0), t.empty(0, dtype=t.int64)))

    def out_requires_grad(t):
        t.max(t.tensor(TIES), 1, out=(t.empty(0, requires_grad=True), t.empty(0, dtype=t.int64)))

    def out_of_a_graph(t):
        v = t.zeros(2, requires_grad=True) * 1
        t.topk(t.tensor(TIES), 1, out=(v, t.empty(0, dtype=t.int64)))

    def under_no_grad(t):
        x = t.tensor(TIES, requires_grad=True)
        leaf, made = t.empty(0, requires_grad=True), t.zeros(2, requires_grad=True) * 1
        with t.no_grad():
            r = t.median(x, 1, out=(leaf, t.empty(0, dtype=t.int64)))
            t.min(x, 1, out=(made, t.empty(0, dtype=t.int64)))
        return r, leaf.is_leaf, leaf.requires_grad, made, made.grad_fn.name()

    def checked_before_dtypes_and_dim(t):
        x = t.tensor(TIES, requires_grad=True)
        t.max(x, 5, out=(t.empty(0, dtype=t.float64), t.empty(0)))
    for f in (input_requires_grad, out_requires_grad, out_of_a_graph, under_no_grad,
              checked_before_dtypes_and_dim):
        same(f)


OUT_ERRORS = [
    # dtypes: values must have the input's, indices int64; the op's own checks come first
    "t.sort(x, out=(E(t.float64), L()))", "t.sort(x, out=(E(), E(t.int32)))",
    "t.sort(x, out=(E(t.int64), E()))", "t.topk(x, 2, out=(E(t.float16), L()))",
    "t.max(x, 1, out=(E(), E(t.int32)))", "t.min(x, 0, True, out=(E(t.float64), L()))",
    "t.median(x, 1, out=(E(t.float64), L()))", "t.median(x, 1, out=(E(), E(t.int32)))",
    "t.median(x, 1, out=(E(t.float64), E(t.int32)))", "t.sort(x, 4, out=(E(t.float64), L()))",
    "t.topk(x, 4, out=(E(t.float64), L()))", "t.max(t.zeros(2, 0), 1, out=(E(t.int64), L()))",
    "t.sort(t.zeros(2, 3), out=(t.zeros(3, dtype=t.float64), L()))",
    "t.topk(t.tensor([True]), 1, out=(E(t.bool), L()))",
    "t.median(t.tensor([True]), 0, out=(E(t.bool), L()))",
    # the out= argument itself
    "t.sort(x, out=(E(),))", "t.sort(x, out=[E(), L(), L()])", "t.sort(x, out=(E(), 3))",
    "t.sort(x, out=E())", "t.topk(x, 1, out=(E(),))", "t.topk(x, 1, out=E())",
    "t.topk(x, 1, out=(E(), 3, L()))", "t.max(x, 1, out=(E(), L(), L()))",
    "t.median(x, 1, out=E())", "t.median(x, out=(E(), L()))",
    # the methods take no out=
    "x.sort(out=(E(), L()))", "x.topk(1, out=(E(), L()))", "x.max(1, out=(E(), L()))",
    "x.min(1, out=(E(), L()))", "x.median(1, out=(E(), L()))",
    # out=None is no out
    "t.topk(x, 1, out=None)", "t.max(x, 1, out=None)", "t.median(x, 0, out=None)",
]


@pytest.mark.parametrize("expr", OUT_ERRORS)
def test_out_errors_match_torch(expr):
    def f(t):
        env = {"t": t, "x": t.tensor(TIES), "E": lambda dt=t.float32: t.empty(0, dtype=dt),
               "L": lambda: t.empty(0, dtype=t.int64)}
        return eval(expr, env)
    same(f)


# -- out= of the full max and min (one tensor), and of their elementwise form ---------------------
FULL_OUT = [
    # values, resizing (with the warning when the tensor had elements) and casts the dtype allows
    "t.max(x, out=t.empty(()))", "t.min(x, out=t.empty(3))", "t.max(x, out=t.empty(0))",
    "t.max(x, out=t.empty((), dtype=t.float64))", "t.min(x, out=t.empty(2, dtype=t.complex64))",
    "t.max(x.long(), out=t.empty(()))", "t.min(x.bool(), out=t.empty((), dtype=t.bool))",
    "t.max(x.long(), out=t.empty((), dtype=t.uint8))",
    "t.max(t.tensor([1., float('nan')]), out=t.empty(()))",
    # an empty input gives the reduction's identity where the plain function raises
    "t.max(t.empty(0), out=t.empty(()))", "t.min(t.empty(0, 3), out=t.empty(2))",
    "t.max(t.empty(0, dtype=t.int32), out=t.empty((), dtype=t.int32))",
    "t.min(t.empty(0, dtype=t.uint8), out=t.empty((), dtype=t.uint8))",
    "t.min(t.empty(0, dtype=t.bool), out=t.empty((), dtype=t.bool))",
    # casts PyTorch refuses: to a lower kind
    "t.max(x, out=t.empty((), dtype=t.int64))", "t.min(x.long(), out=t.empty((), dtype=t.bool))",
    "t.max(x.to(t.complex64), out=t.empty(()))",
    # out= refuses autograd, from the input or the out tensor
    "t.max(x.requires_grad_(), out=t.empty(()))", "t.min(x, out=t.empty((), requires_grad=True))",
    "t.max(x.requires_grad_(), out=t.empty((), dtype=t.int64))",
    # the elementwise form writes as maximum/minimum do
    "t.max(x, y, out=t.empty(()))", "t.min(x, other=y, out=t.empty(2, 2))",
    "t.max(x, y, out=t.empty(2, 2, dtype=t.int64))", "t.max(x, y.long(), out=t.empty(0, dtype=t.float16))",
    "t.max(x, y.requires_grad_(), out=t.empty(2, 2))",
    # the argument itself, and the methods, which take no out=
    "t.max(x, out=(t.empty(()),))", "t.min(x, out=5)", "t.max(x, y, out=(t.empty(2, 2),) * 2)",
    "x.max(out=t.empty(()))", "x.min(out=t.empty(()))",
]


@pytest.mark.parametrize("expr", FULL_OUT)
def test_full_max_min_out_as_torch(expr):
    def f(t):
        x, y = t.tensor([[1., 5.], [3., 2.]]), t.tensor([2., 2.])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = eval(expr, {"t": t, "x": x, "y": y})
        said = [str(w.message).split(" (Triggered internally")[0] for w in caught]
        return r, said
    same(f)


def test_full_max_out_returns_the_out_tensor_and_bumps_its_version():
    def f(t):
        o = t.zeros(3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = t.min(t.tensor([4., -1.]), out=o)
        return r is o, o, o._version
    same(f)


def test_out_under_no_grad_keeps_requires_grad():
    def f(t):
        x, o = t.tensor([1., 5.], requires_grad=True), t.empty((), requires_grad=True)
        with t.no_grad():
            t.max(x, out=o)
        return o, o.requires_grad, o.is_leaf
    same(f)


# -- resizing an out= tensor that is a view: contiguous, from where the view starts in its base ---
VIEW_OUT = {
    "sort, row view to 2-D": lambda t, b: t.sort(t.tensor([[3., 1., 2.], [0., 5., 4.]]),
                                                out=(b[0], t.empty(0, dtype=t.int64))),
    "max(1), strided column, smaller": lambda t, b: t.max(
        t.tensor([[3., 1., 2.], [0., 5., 4.]]), 1, out=(b[:, 0], t.empty(0, dtype=t.int64))),
    "max(1), strided column, larger": lambda t, b: t.max(
        t.ones(4, 2), 1, out=(b[:, 0], t.empty(0, dtype=t.int64))),
    "full max, row view": lambda t, b: t.max(t.tensor([[3., 1.], [0., 5.]]), out=b[1]),
    "topk, transposed view": lambda t, b: t.topk(t.arange(6.), 4, out=(b[1:].t(),
                                                                     t.empty(0, dtype=t.int64))),
    "median, view of a view": lambda t, b: t.median(t.tensor([[3., 1., 2.], [0., 5., 4.]]), 1,
                                                    True,
                                                    out=(b[1:][0], t.empty(0, dtype=t.int64))),
}


@pytest.mark.parametrize("call", sorted(VIEW_OUT))
def test_out_view_of_another_shape_is_resized_in_its_base(call):
    def f(t):
        base = t.full((3, 2), 7.)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = VIEW_OUT[call](t, base)
        v = r if isinstance(r, t.Tensor) else r[0]
        state = [v, v._base is base, v.is_contiguous(), base, base._version]
        v.mul_(10)  # and writing through it later reaches the same place
        w = v.reshape(-1)[1:]
        w.add_(1)  # as does writing through a view of it
        return state, v, base
    same(f)


def test_out_view_resized_then_written_in_place_with_grad():
    def f(t):
        b = t.full((3, 2), 7.)
        v = b[1]
        t.sort(t.tensor([3., 1., 2.]), out=(v, t.empty(0, dtype=t.int64)))
        w = t.tensor([1., 2., 3.], requires_grad=True)
        v.mul_(w)
        (b * t.arange(6.).reshape(3, 2)).sum().backward()
        return v, b, w.grad, b.grad_fn.name(), v.grad_fn.name()
    same(f)


def test_out_view_resized_under_no_grad_then_differentiated():
    def f(t):
        x = t.zeros(6, requires_grad=True)
        c = x * 1
        v = c[1:3]
        with t.no_grad():
            t.sort(t.tensor([3., 1., 2.]), out=(v, t.empty(0, dtype=t.int64)))
        (v * t.tensor([1., 2., 3.])).sum().backward()
        return v, c, x.grad, v.grad_fn.name()
    same(f)


def test_out_view_past_the_end_of_its_base_raises():
    # PyTorch grows the storage the view shares with its base; a NumPy array cannot grow
    base = ndgrad.full((3, 2), 7.)
    v = base[2]
    with pytest.raises(RuntimeError, match="cannot be resized to \\[6\\]"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ndgrad.sort(ndgrad.arange(6.), out=(v, ndgrad.empty(0, dtype=ndgrad.int64)))
    assert v.shape == (2,) and base.tolist() == [[7.] * 2] * 3
