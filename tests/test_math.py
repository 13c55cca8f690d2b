"""Behaviour of the elementwise math that the op table cannot express: errors and their messages,
gradients at ties and bounds, in-place forms, operators, extreme values, accuracy of erf."""
import math
import warnings

import numpy as np
import pytest
import torch

import ndgrad
from both import same as both_same


def both(fn):
    """Run ``fn(lib)`` with ndgrad and with torch."""
    return fn(ndgrad), fn(torch)


def same(got, want, rtol=1e-6, atol=1e-7):
    """Equal values, dtype and shape (tensors), or equal Python values."""
    if isinstance(want, (tuple, list)):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            same(g, w, rtol, atol)
        return
    if not isinstance(want, torch.Tensor):
        assert got == want
        return
    assert str(got.dtype) == str(want.dtype)
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=rtol, atol=atol)


def same_error(fn):
    """``fn(lib)`` raises the same exception type with the same message in both libraries."""
    with pytest.raises(Exception) as want:
        fn(torch)
    with pytest.raises(Exception) as got:
        fn(ndgrad)
    assert type(got.value) is type(want.value)
    assert str(got.value) == str(want.value)


def grads(fn, *arrays, dtype="float64"):
    """``fn(lib, *tensors)``'s output, and the gradients of a weighted sum of it."""
    def run(lib):
        xs = [lib.tensor(np.array(a, dtype=dtype), requires_grad=True) for a in arrays]
        out = fn(lib, *xs)
        w = lib.tensor(np.linspace(-1, 1, out.numel()).reshape(tuple(out.shape)), dtype=out.dtype)
        (out * w).sum().backward()
        return [out] + [x.grad for x in xs]
    return both(run)


# -- errors ------------------------------------------------------------------------------------
ERRORS = {
    "clamp without bounds": lambda t: t.tensor([1.0]).clamp(),
    "integer // 0": lambda t: t.tensor([3, 4]) // 0,
    "integer floor_divide by a zero tensor": lambda t: t.floor_divide(t.tensor([3, 4]), t.tensor([1, 0])),
    "integer % 0": lambda t: t.tensor([3, 4]) % 0,
    "integer fmod 0": lambda t: t.fmod(t.tensor([3, 4]), 0),
    "bitwise_and on floats": lambda t: t.bitwise_and(t.tensor([1.0]), t.tensor([2.0])),
    "float & float": lambda t: t.tensor([1.0]) & t.tensor([2.0]),
    "int | float number": lambda t: t.tensor([1]) | 2.5,
    "float ^ bool": lambda t: t.tensor([1.0]) ^ t.tensor([True]),
    "bitwise_not on floats": lambda t: t.bitwise_not(t.tensor([1.0])),
    "~ on floats": lambda t: ~t.tensor([1.0]),
    "<< on floats": lambda t: t.tensor([1.0]) << 1,
    ">> by a float": lambda t: t.tensor([4]) >> 1.5,
    "frac of integers": lambda t: t.tensor([1, 2]).frac(),
    "round integers to decimals": lambda t: t.tensor([1, 2]).round(decimals=1),
    "floor of bool": lambda t: t.tensor([True]).floor(),
    "hypot of integers": lambda t: t.hypot(t.tensor([3]), t.tensor([4])),
    "logaddexp of integers": lambda t: t.logaddexp(t.tensor([3]), t.tensor([4])),
    "lerp of integers": lambda t: t.lerp(t.tensor([3]), t.tensor([4]), 0.5),
    "lerp end dtype": lambda t: t.lerp(t.tensor([3.0]), t.tensor([4.0], dtype=t.float64), 0.5),
    "lerp weight dtype": lambda t: t.lerp(t.tensor([3.0]), t.tensor([4.0]), t.tensor([1])),
    "maximum with a number": lambda t: t.maximum(t.tensor([1.0]), 2.0),
    "fmin with a number": lambda t: t.fmin(t.tensor([1.0]), 2),
    "isclose with a number": lambda t: t.isclose(t.tensor([1.0]), 1.0),
    "isclose of two dtypes": lambda t: t.isclose(t.tensor([1.0]), t.tensor([1])),
    "allclose of two dtypes": lambda t: t.allclose(t.tensor([1.0]), t.tensor([1.0], dtype=t.float64)),
    "logical_and with a number": lambda t: t.logical_and(t.tensor([1.0]), 1),
    "addcdiv of integers": lambda t: t.addcdiv(t.tensor([1]), t.tensor([3]), t.tensor([2])),
    "in-place on a leaf": lambda t: t.tensor([1.0], requires_grad=True).exp2_(),
    "in-place float result into integers": lambda t: t.tensor([4]).sqrt_(),
    "in-place logit into integers": lambda t: t.tensor([0]).logit_(),
    "broadcast mismatch": lambda t: t.atan2(t.ones(2, 3), t.ones(4)),
    "in-place broadcast to a larger shape": lambda t: t.ones(3).clamp_(t.zeros(2, 3)),
    "neg_ of bool": lambda t: t.tensor([True]).neg_(),
}


@pytest.mark.parametrize("name", ERRORS)
def test_errors_match_torch(name):
    same_error(ERRORS[name])


# -- gradients PyTorch does not define -----------------------------------------------------------
@pytest.mark.parametrize("expr", ["floor_divide", "x // y", "x // 2", "5 // x", "5 % x"])
def test_not_implemented_derivatives(expr):
    def run(t):
        x = t.tensor([1.5, -2.5], requires_grad=True)
        y = t.tensor([2.0, 0.5], requires_grad=True)
        out = t.floor_divide(x, y) if expr == "floor_divide" else eval(expr)
        return out
    got, want = both(run)
    same(got, want)
    assert got.grad_fn.name() == want.grad_fn.name() == "torch::autograd::NotImplemented"
    assert repr(got) == repr(want)
    same_error(lambda t: run(t).sum().backward())


# -- ties, bounds and nan: PyTorch's choices at kinks ------------------------------------------------
TIES = {
    "maximum": lambda t, a, b: t.maximum(a, b),
    "minimum": lambda t, a, b: t.minimum(a, b),
    "fmax": lambda t, a, b: t.fmax(a, b),
    "fmin": lambda t, a, b: t.fmin(a, b),
    "clamp tensor bounds": lambda t, a, b: t.clamp(a, b, b + 0.5),
    "clamp min tensor": lambda t, a, b: t.clamp(a, min=b),
    "clamp max tensor": lambda t, a, b: t.clamp(a, max=b),
    "clamp max below min": lambda t, a, b: t.clamp(a, b, b - 1),
    "clamp number bounds": lambda t, a, b: t.clamp(a, -1.0, 0.5) + b,
    "clamp min number": lambda t, a, b: t.clamp(a, min=1.0) * b,
    "remainder": lambda t, a, b: t.remainder(a, b),
    "fmod": lambda t, a, b: t.fmod(a, b),
    "atan2 at the origin": lambda t, a, b: t.atan2(a * 0, b * 0),
    "hypot": lambda t, a, b: t.hypot(a, b),
    "logaddexp": lambda t, a, b: t.logaddexp(a, b),
    "lerp": lambda t, a, b: t.lerp(a, b, 0.5),
}
A = [1.0, -1.0, 0.5, 2.0, math.nan, 3.0, math.nan, -1.0, 0.5]
B = [1.0, 2.0, -0.5, 2.0, 1.0, math.nan, math.nan, -1.0, 0.5]


@pytest.mark.parametrize("name", TIES)
def test_gradients_at_ties_and_nan(name):
    got, want = grads(TIES[name], A, B)
    same(got, want)


def test_logaddexp_extremes():
    big = [1000.0, -1000.0, 1000.0, -1000.0, 0.0, math.inf, -math.inf, math.inf]
    other = [-1000.0, 1000.0, 1000.0, -1000.0, 0.0, 1.0, 1.0, math.inf]
    for dtype in ("float32", "float64"):
        got, want = grads(lambda t, a, b: t.logaddexp(a, b), big, other, dtype=dtype)
        same(got, want)
        assert np.isfinite(got[0].detach().numpy()[:5]).all()


def test_logit_eps_and_outside_the_domain():
    x = [-0.5, 0.0, 0.02, 0.3, 0.5, 0.98, 1.0, 1.5]
    for eps in (None, 0.05):
        got, want = grads(lambda t, a: t.logit(a, eps), x)
        same(got, want)


def test_nan_to_num_defaults_and_gradient():
    x = [math.nan, math.inf, -math.inf, 1.5]
    for dtype in ("float32", "float64"):
        got, want = grads(lambda t, a: t.nan_to_num(a) * 0 + t.nan_to_num(a, 0.5, 2.0, -2.0), x,
                          dtype=dtype)
        same(got, want)
        same(*both(lambda t: t.tensor(np.array(x, dtype=dtype)).nan_to_num()), rtol=0)


def test_second_derivatives_match_torch():
    def run(t):
        x = t.tensor(np.array([0.3, -1.2, 2.0, 0.7]), requires_grad=True)
        y = t.tensor(np.array([0.5, 0.9, -1.5, 0.7]), requires_grad=True)
        out = (t.erf(x) * t.atan2(x, y) + t.logaddexp(x, y) * t.hypot(x, y) + t.lerp(x, y, y) ** 2
               + t.maximum(x, y) * x + t.clamp(x, y, y + 1) * y + t.remainder(x, y) * x).sum()
        gx, gy = t.autograd.grad(out, (x, y), create_graph=True)
        hx, hy = t.autograd.grad((gx * gx).sum() + gy.sum(), (x, y))
        return [gx, gy, hx, hy]
    same(*both(run), rtol=1e-10)


# -- values --------------------------------------------------------------------------------------
def test_erf_erfc_float64_accuracy():
    x = np.concatenate([np.linspace(-8, 8, 20001), np.linspace(0, 27.5, 5001), [1e-300, -0.0]])
    for name in ("erf", "erfc"):
        got = getattr(ndgrad, name)(ndgrad.tensor(x)).numpy()
        want = getattr(torch, name)(torch.tensor(x)).numpy()
        tiny = np.abs(want) < 1e-300
        np.testing.assert_allclose(got[~tiny], want[~tiny], rtol=2e-15, atol=0)
        np.testing.assert_allclose(got[tiny], want[tiny], rtol=0, atol=1e-300)


def _float32_grid():
    rng = np.random.default_rng(5)
    mag = np.concatenate([rng.uniform(0, 10, 200000), 10.0 ** rng.uniform(-30, 1.3, 50000),
                          [0.0, 0.5, 0.99999994, 1.0, 1.0000001, 28.0, 30.0]])
    return np.concatenate([mag, -mag]).astype(np.float32)


@pytest.mark.parametrize("name", ["erf", "erfc", "sinh", "cosh"])
def test_float32_kernels_accuracy(name):
    x = _float32_grid()
    got = getattr(ndgrad, name)(ndgrad.tensor(x))
    assert got.dtype == ndgrad.float32
    got = got.numpy()
    exact = getattr(torch, name)(torch.tensor(x, dtype=torch.float64)).numpy()
    ours = getattr(torch, name)(torch.tensor(x)).numpy()
    finite = np.isfinite(ours) & (np.abs(exact) > np.finfo(np.float32).tiny)
    rel = np.abs(got[finite] - exact[finite]) / np.abs(exact[finite])
    # float32 resolves 6e-8: a few units in the last place, away from float32's subnormals
    assert rel.max() < 5e-7, (rel.max(), x[finite][np.argmax(rel)])
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ours))
    np.testing.assert_array_equal(np.signbit(got), np.signbit(ours))
    small = np.abs(exact) <= np.finfo(np.float32).tiny  # the same bound, plus one subnormal step
    np.testing.assert_allclose(got[small], exact[small], rtol=5e-7, atol=1.5e-45)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("name", ["erf", "erfc", "sinh", "cosh"])
def test_kernels_special_values_shapes_and_dtypes(name, dtype):
    vals = [0.0, -0.0, 0.25, -1.5, 3.0, 11.0, -11.0, 100.0, -100.0, 1e4, float("inf"),
            -float("inf"), float("nan")]

    def run(t, work):
        full = t.tensor(vals, dtype=getattr(t, dtype)).to(getattr(t, work))
        scalar = t.tensor(-0.75, dtype=getattr(t, dtype)).to(getattr(t, work))
        big = t.tensor(np.linspace(-4, 4, 70007).reshape(7, 10001).astype(dtype))
        big = big.to(getattr(t, work)).t()
        return [getattr(t, name)(u) for u in (full, scalar, big)]
    # the reference: torch's float64 value, rounded by NumPy
    got, want = run(ndgrad, dtype), run(torch, "float64")
    rtol, atol = {"float16": (1e-3, 6e-8), "float32": (5e-7, 1.5e-45),
                  "float64": (2e-15, 5e-324)}[dtype]
    for g, w in zip(got, want):
        assert str(g.dtype) == "torch." + dtype and tuple(g.shape) == tuple(w.shape)
        np.testing.assert_allclose(g.numpy(), w.numpy().astype(dtype), rtol=rtol, atol=atol)


def test_sinh_cosh_gradients_and_double_backward():
    def run(t):
        x = t.tensor([-3.0, -0.4, 1e-5, 0.0, 0.7, 2.5], dtype=t.float64, requires_grad=True)
        y = (t.sinh(x) * t.cosh(x / 2)).sum()
        (gx,) = t.autograd.grad(y, x, create_graph=True)
        (ggx,) = t.autograd.grad(gx.sum(), x)
        return [y, gx, ggx]
    same(*both(run), rtol=1e-13)


def test_round_half_to_even_and_decimals():
    x = [0.5, 1.5, 2.5, -0.5, -2.5, 0.25, 0.35, 2.675, 125.0, 135.0, -150.0]
    for kw in ({}, {"decimals": 0}, {"decimals": 1}, {"decimals": 2}, {"decimals": -1},
               {"decimals": -2}):
        for dtype in ("float32", "float64"):
            got, want = both(lambda t: t.tensor(np.array(x, dtype=dtype)).round(**kw))
            same(got, want, rtol=0, atol=0)
    got, want = both(lambda t: t.round(t.tensor([1.25], requires_grad=True), decimals=0))
    assert got.grad_fn.name() == want.grad_fn.name() == "RoundBackward1"


DTYPES = {
    "erf of integers": lambda t: t.erf(t.tensor([1, 2])),
    "exp2 of bool": lambda t: t.exp2(t.tensor([True, False])),
    "square of integers": lambda t: t.square(t.tensor([3, -2])),
    "square of bool": lambda t: t.square(t.tensor([True, False])),
    "clamp integers to a float": lambda t: t.tensor([1, 5]).clamp(1.5),
    "clamp integers": lambda t: t.tensor([1, 5]).clamp(2, 4),
    "clamp bool": lambda t: t.tensor([True, False]).clamp(0),
    "clamp integers to a float tensor": lambda t: t.tensor([1, 5]).clamp(t.tensor(1.5)),
    "floor of integers": lambda t: t.tensor([1, 5]).floor(),
    "remainder of integers by a float": lambda t: t.tensor([5, -5]) % 1.5,
    "integer floor division": lambda t: t.tensor([7, -7]) // t.tensor([2, 2]),
    "atan2 of integers": lambda t: t.atan2(t.tensor([1, -2]), t.tensor([3, 1])),
    "maximum of int and float": lambda t: t.maximum(t.tensor([1, 5]), t.tensor([2.5, 0.5])),
    "addcmul of integers": lambda t: t.addcmul(t.tensor([1]), t.tensor([3]), t.tensor([2]), value=2),
    "isclose infinities": lambda t: t.isclose(t.tensor([math.inf, -math.inf, math.inf]),
                                              t.tensor([math.inf, math.inf, math.nan])),
    "allclose": lambda t: t.allclose(t.tensor([1.0, 2.0]), t.tensor([1.0, 2.0 + 1e-9])),
    "equal of two dtypes": lambda t: t.equal(t.tensor([1, 2]), t.tensor([1.0, 2.0])),
    "logical_xor of floats": lambda t: t.logical_xor(t.tensor([0.0, 2.0]), t.tensor([1.5, 0.0])),
    "reflected shifts": lambda t: (2 << t.tensor([1, 3]), 64 >> t.tensor([1, 3])),
    "shift bool": lambda t: t.tensor([True, False]) << 1,
    "reflected bitwise": lambda t: (6 & t.tensor([3, 5]), 6 | t.tensor([3]), 6 ^ t.tensor([3])),
    "bool ~": lambda t: ~t.tensor([True, False]),
    "operators": lambda t: (t.tensor([5.5, -5.5]) % 2, 7 % t.tensor([2.0, -3.0]),
                            t.tensor([5.5, -5.5]) // 2, 7 // t.tensor([2.0, -3.0])),
    "isnan of integers": lambda t: t.isnan(t.tensor([1, 2])),
    "float remainder by zero": lambda t: t.remainder(t.tensor([1.5, -1.5]), 0.0),
    "float floor_divide by zero": lambda t: t.floor_divide(t.tensor([1.5, -1.5, 0.0]), 0.0),
}


@pytest.mark.parametrize("name", DTYPES)
def test_values_and_dtypes(name):
    same(*both(DTYPES[name]))


def test_no_numpy_warnings():
    """Out-of-domain inputs give nan and inf silently, forward and backward, as in PyTorch."""
    x0 = [-1.0, 0.0, 1.0, 2.0, math.inf, -math.inf, math.nan]
    fns = [lambda t, x, z: x.log2(), lambda t, x, z: x.log10(), lambda t, x, z: x.log1p(),
           lambda t, x, z: x.rsqrt(), lambda t, x, z: x.asin(), lambda t, x, z: x.acos(),
           lambda t, x, z: x.acosh(), lambda t, x, z: x.atanh(), lambda t, x, z: x.logit(),
           lambda t, x, z: x.tan(), lambda t, x, z: x.exp2(), lambda t, x, z: x.expm1(),
           lambda t, x, z: x.sinh(), lambda t, x, z: x.cosh(), lambda t, x, z: x.erf(),
           lambda t, x, z: x.erfc(), lambda t, x, z: x.remainder(z), lambda t, x, z: x.fmod(z),
           lambda t, x, z: t.atan2(x, z), lambda t, x, z: t.hypot(x, z),
           lambda t, x, z: t.logaddexp(x, z), lambda t, x, z: t.addcdiv(z, x, z),
           lambda t, x, z: t.lerp(x, z, 0.5), lambda t, x, z: x // 0.0, lambda t, x, z: x % 0.0]
    for fn in fns:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            x = ndgrad.tensor(np.array(x0), requires_grad=True)
            z = ndgrad.tensor(np.array([0.0, 0.0, 0.0, math.inf, 0.0, -math.inf, 1.0]),
                              requires_grad=True)
            got = fn(ndgrad, x, z)
            if got.grad_fn.name() != "torch::autograd::NotImplemented":
                got.backward(ndgrad.ones(7, dtype=ndgrad.float64))
        xt = torch.tensor(np.array(x0), requires_grad=True)
        zt = torch.tensor(z.detach().numpy(), requires_grad=True)
        want = fn(torch, xt, zt)
        same(got, want)
        if x.grad is not None:
            want.backward(torch.ones(7, dtype=torch.float64))
            same([x.grad, z.grad], [xt.grad, zt.grad])


# -- in-place forms ----------------------------------------------------------------------------
INPLACE = {
    "exp2_": (), "expm1_": (), "log2_": (), "log10_": (), "log1p_": (), "rsqrt_": (),
    "square_": (), "tan_": (), "asin_": (), "acos_": (), "atan_": (), "sinh_": (), "cosh_": (),
    "asinh_": (), "acosh_": (), "atanh_": (), "arcsin_": (), "fix_": (), "logit_": (0.1,),
    "erf_": (), "erfc_": (), "floor_": (), "ceil_": (), "round_": (), "trunc_": (), "frac_": (),
    "clamp_": (0.2, 0.6), "clip_": (None, 0.4), "nan_to_num_": (), "abs_": (), "neg_": (),
    "exp_": (), "log_": (), "sqrt_": (), "sin_": (), "cos_": (), "tanh_": (), "sigmoid_": (),
    "relu_": (), "sign_": (), "reciprocal_": (), "pow_": (3,), "remainder_": (0.3,),
    "fmod_": (0.3,), "lerp_": ("T", 0.3), "atan2_": ("T",), "hypot_": ("T",),
    "addcmul_": ("T", "T"), "addcdiv_": ("T", "T"), "floor_divide_": (0.3,),
}
DOMAIN = {"acosh_": 1.5, "log_": 0.1, "sqrt_": 0.1, "log2_": 0.1, "log10_": 0.1, "rsqrt_": 0.1}


@pytest.mark.parametrize("name", INPLACE)
def test_inplace_forms_match_torch(name):
    """On a non-leaf and through a view: values, grad_fn names, versions and gradients."""
    x0 = np.array([0.15, 0.45, 0.7, 0.85]) + DOMAIN.get(name, 0.0)

    def run(t):
        x = t.tensor(x0, requires_grad=True)
        other = t.tensor(x0[::-1].copy(), requires_grad=True)
        args = [other if a == "T" else a for a in INPLACE[name]]
        y = x * 1
        r = getattr(y, name)(*args)
        assert r is y
        base = x * 2
        getattr(base[1:3], name)(*[other[1:3] if a == "T" else a for a in INPLACE[name]])
        out = [y, base, y.grad_fn.name(), base.grad_fn.name(), y._version]
        try:
            ((y + base) * t.tensor(np.array([1.0, -2.0, 3.0, 0.5]))).sum().backward()
            out += [x.grad, other.grad]
        except (RuntimeError, NotImplementedError) as exc:  # PyTorch has no derivative
            out += [type(exc).__name__, str(exc)]
        return out
    got, want = both(run)
    same(got, want, rtol=1e-10)


def test_inplace_operators_match_torch():
    def run(t):
        a = t.tensor([5, -7, 12])
        a %= 4
        a //= t.tensor([2, 3, -5])
        a <<= 3
        a >>= 1
        a &= 6
        a |= 1
        a ^= 3
        f = t.tensor([1.5, 2.0])
        f **= 2
        f %= 1.25
        m = t.tensor([1.0, 0.0])
        m.logical_and_(t.tensor([True, True]))
        b = t.tensor([1, 2])
        b.bitwise_not_()
        return [a, f, m, b]
    same(*both(run))


# -- erf, erfc and gelu kernels: dense grids, tails, saturation -----------------------------------
def _dense(top, n=200001):
    mag = np.linspace(0.0, top, n)
    return np.concatenate([mag, -mag])


@pytest.mark.parametrize("name", ["erf", "erfc"])
def test_erf_erfc_dense_grid_against_math(name):
    ref = np.vectorize(getattr(math, name))
    x64 = _dense(27.0)
    got = getattr(ndgrad, name)(ndgrad.tensor(x64)).numpy()
    want = ref(x64)
    tiny = np.abs(want) < 1e-300
    np.testing.assert_allclose(got[~tiny], want[~tiny], rtol=2e-15, atol=0)
    x32 = _dense(11.0).astype(np.float32)
    got = getattr(ndgrad, name)(ndgrad.tensor(x32)).numpy()
    want = ref(x32.astype(np.float64))
    normal = np.abs(want) > np.finfo(np.float32).tiny
    rel = np.abs(got[normal] - want[normal]) / np.abs(want[normal])
    assert rel.max() < 5e-7, (rel.max(), x32[normal][np.argmax(rel)])
    np.testing.assert_allclose(got[~normal], want[~normal], rtol=5e-7, atol=1.5e-45)


def test_erfc_float32_tail_keeps_relative_accuracy():
    x = np.linspace(3.0, 9.1, 60001).astype(np.float32)  # erfc from 2e-5 down to 1.6e-38
    got = ndgrad.erfc(ndgrad.tensor(x)).numpy().astype(np.float64)
    want = np.vectorize(math.erfc)(x.astype(np.float64))
    assert np.max(np.abs(got - want) / want) < 5e-7
    back = ndgrad.erfc(ndgrad.tensor(-x)).numpy()
    np.testing.assert_allclose(back, 2 - want, rtol=1e-7, atol=0)


def test_float32_erf_saturates_exactly():
    x = np.concatenate([np.linspace(4.3, 50.0, 5001), [1e30, np.inf]]).astype(np.float32)
    got = ndgrad.erf(ndgrad.tensor(np.concatenate([x, -x]))).numpy()
    np.testing.assert_array_equal(got, np.concatenate([np.ones_like(x), -np.ones_like(x)]))
    assert np.all(np.abs(ndgrad.erf(ndgrad.tensor(_dense(10.0).astype(np.float32))).numpy()) <= 1)
    np.testing.assert_array_equal(ndgrad.erfc(ndgrad.tensor(-x)).numpy(), 2)
    np.testing.assert_array_equal(ndgrad.erfc(ndgrad.tensor(x[x >= 10.1])).numpy(), 0)


def _gelu_exact(x, approximate):
    """gelu and its derivative in float64, written without cancellation."""
    if approximate == "tanh":
        k = math.sqrt(2 / math.pi)
        z = k * (x + 0.044715 * x ** 3)
        with np.errstate(over="ignore"):
            s, c = 1 / (1 + np.exp(-2 * z)), 1 / (1 + np.exp(2 * z))  # (1 + tanh z) / 2, 1 - that
        return x * s, s + 2 * k * x * s * c * (1 + 3 * 0.044715 * x * x)
    cdf = 0.5 * np.vectorize(math.erfc)(-x / math.sqrt(2))
    with np.errstate(over="ignore", invalid="ignore"):
        return x * cdf, cdf + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_gelu_dense_grid_as_accurate_as_torch(approximate, dtype):
    """Values and gradients on a dense grid, against float64 written without cancellation: within
    4x torch's own error (1 + tanh z and 1 + erf cancel in the left tail in both), plus a few
    units in the last place of |x| and of the result; zeros carry torch's sign."""
    x = np.concatenate([np.linspace(-12.0, 12.0, 48001), [-100.0, -0.0, 0.0, 1e-30, 100.0]])
    x = x.astype(dtype)

    def run(t):
        a = t.tensor(x, requires_grad=True)
        out = t.nn.functional.gelu(a, approximate=approximate)
        out.backward(t.ones_like(out))
        return out.detach().numpy().astype(np.float64), a.grad.numpy().astype(np.float64)

    got, want = run(ndgrad), run(torch)
    exact = _gelu_exact(x.astype(np.float64), approximate)
    eps = {"float16": 1e-3, "float32": 6e-8, "float64": 1.1e-16}[dtype]
    for g, w, e in zip(got, want, exact):
        err, err_torch = np.abs(g - e), np.abs(w - e)
        # torch's rounding noise, its largest within 50 grid steps
        noise = np.lib.stride_tricks.sliding_window_view(np.pad(err_torch, 50, "edge"), 101)
        bound = 4 * noise.max(axis=1) + 4 * eps * (1 + np.abs(x) + np.abs(e))
        assert np.all(err <= bound), (np.max(err - bound), x[np.argmax(err - bound)])
    zero = (want[0] == 0) & (got[0] == 0)
    assert zero.sum() > 100
    np.testing.assert_array_equal(np.signbit(got[0][zero]), np.signbit(want[0][zero]))


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_double_backward(approximate):
    def run(t):
        a = t.tensor([-6.5, -2.0, -0.3, 0.0, 0.4, 1.7, 7.0], dtype=t.float64, requires_grad=True)
        (g,) = t.autograd.grad(t.nn.functional.gelu(a, approximate=approximate).sum(), a,
                               create_graph=True)
        (h,) = t.autograd.grad((g * g).sum(), a)
        return [g, h]
    same(*both(run), rtol=1e-10, atol=1e-12)


def test_gelu_inf_and_nan_are_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for approximate in ("none", "tanh"):
            a = ndgrad.tensor([np.inf, -np.inf, np.nan, -1e30, 1e30], requires_grad=True)
            ndgrad.nn.functional.gelu(a, approximate=approximate).sum().backward()


# -- float32 kernels of the exp and log family ---------------------------------------------------
def _ulps(got, exact):
    """|got - exact| in units of float32's spacing at ``exact`` (0 where they are equal)."""
    spacing = np.spacing(np.abs(exact.astype(np.float32))).astype(np.float64)
    with np.errstate(invalid="ignore"):
        err = np.abs(got.astype(np.float64) - exact) / spacing
    return np.where(got.astype(np.float64) == exact, 0.0, err)


def _grid32(*ranges, n=200_001):
    """Dense float32 grids over ``ranges``, log-spaced ones given as ("log", lo, hi)."""
    parts = []
    for r in ranges:
        if r[0] == "log":
            g = np.geomspace(r[1], r[2], n)
            parts += [g, -g]
        else:
            parts.append(np.linspace(r[0], r[1], n))
    return np.concatenate(parts).astype(np.float32)


KERNEL_GRIDS = {
    "expm1": (np.expm1, _grid32((-1, 1), (-0.4, 0.4), (-120, 100), ("log", 1e-44, 88.7))),
    "log1p": (np.log1p, _grid32((-1, 1), (-1, -0.99), (1, 1e4), ("log", 1e-44, 3e38))),
    "atanh": (np.arctanh, _grid32((-1, 1), (0.99, 1), (-1, -0.99), ("log", 1e-44, 1))),
    "asinh": (np.arcsinh, _grid32((-3, 3), (-1e5, 1e5), ("log", 1e-44, 3e38))),
}
KERNEL_SPECIALS = np.array(
    [0.0, -0.0, 1e-45, -1e-45, 1e-40, -1e-38, 0.5, -0.5, 1.0, -1.0, 0.99999994, -0.99999994,
     1.0000001, -1.0000001, 2.0, -2.0, 16777216.0, -16777216.0, 88.37, 88.72, 88.73, -87.0,
     -104.0, 3e38, -3e38, np.inf, -np.inf, np.nan], dtype=np.float32)


@pytest.mark.parametrize("name", sorted(KERNEL_GRIDS))
def test_float32_exp_log_kernels_within_two_ulp(name):
    exact_fn, x = KERNEL_GRIDS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = getattr(ndgrad, name)(ndgrad.tensor(x)).numpy()
    with np.errstate(all="ignore"):
        exact = exact_fn(x.astype(np.float64))
        numpy_own = _ulps(exact_fn(x), exact)
        exact32 = exact.astype(np.float32)
    assert got.dtype == np.float32
    finite = np.isfinite(exact32)
    np.testing.assert_array_equal(got[~finite], exact32[~finite])
    err = _ulps(got[finite], exact[finite])
    assert err.max() <= max(2.0, numpy_own[finite].max()), x[finite][np.argmax(err)]
    want = getattr(torch, name)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-30)


@pytest.mark.parametrize("name", sorted(KERNEL_GRIDS))
def test_float32_exp_log_kernels_special_values(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = getattr(ndgrad, name)(ndgrad.tensor(KERNEL_SPECIALS)).numpy()
    want = getattr(torch, name)(torch.from_numpy(KERNEL_SPECIALS)).numpy()
    # NOTE: PyTorch's log1p returns 0 for subnormal inputs; ndgrad returns them, as NumPy does.
    np.testing.assert_allclose(got, want, rtol=3e-7, atol=1e-37)
    zero = (want == 0) & (got == 0)
    assert zero.sum() >= 2
    np.testing.assert_array_equal(np.signbit(got[zero]), np.signbit(want[zero]))


@pytest.mark.parametrize("name", sorted(KERNEL_GRIDS))
def test_float32_exp_log_kernels_on_strided_blocks(name):
    exact_fn, x = KERNEL_GRIDS[name]
    x = x[:300_000].reshape(600, 500)
    a = ndgrad.tensor(x).t()[::2]  # not contiguous, several blocks, odd tail
    got = getattr(ndgrad, name)(a).numpy()
    with np.errstate(all="ignore"):
        exact = exact_fn(x.astype(np.float64)).T[::2]
        exact32 = exact.astype(np.float32)
    finite = np.isfinite(exact32)
    assert _ulps(got[finite], exact[finite]).max() <= 2.0
    np.testing.assert_array_equal(got[~finite], exact32[~finite])


@pytest.mark.parametrize("name", sorted(KERNEL_GRIDS))
def test_float32_exp_log_kernels_keep_float64_and_0d(name):
    exact_fn = KERNEL_GRIDS[name][0]
    x = np.array([-0.7, -1e-9, 0.0, 0.3, 0.9])
    got = getattr(ndgrad, name)(ndgrad.tensor(x)).numpy()
    np.testing.assert_array_equal(got, exact_fn(x))
    scalar = getattr(ndgrad, name)(ndgrad.tensor(0.25))
    same(scalar, getattr(torch, name)(torch.tensor(0.25)), rtol=2e-7, atol=0)


@pytest.mark.parametrize("name", sorted(KERNEL_GRIDS))
def test_float32_exp_log_kernels_gradients(name):
    x = np.linspace(-0.95, 0.95, 70_001)
    out = grads(lambda t, a: getattr(t, name)(a), x, dtype="float32")
    same(*out, rtol=2e-6, atol=1e-7)


def test_float32_inplace_asinh_atanh_use_the_kernels():
    x = np.linspace(-0.99, 0.99, 50_001).astype(np.float32)
    for name in ("asinh", "atanh"):
        a = ndgrad.tensor(x)
        getattr(a, name + "_")()
        np.testing.assert_array_equal(a.numpy(), getattr(ndgrad, name)(ndgrad.tensor(x)).numpy())


def test_float32_logaddexp_within_two_ulp_of_the_larger_input():
    rng = np.random.default_rng(0)
    for lo, hi in [(-2, 2), (-100, 100), (-1e-3, 1e-3), (-30, 30)]:
        a, b = (rng.uniform(lo, hi, 200_000).astype(np.float32) for _ in range(2))
        got = ndgrad.logaddexp(ndgrad.tensor(a), ndgrad.tensor(b)).numpy()
        exact = np.logaddexp(a.astype(np.float64), b.astype(np.float64))
        # NOTE: the result cancels where max(a, b) is near -log1p(exp(-|a - b|)); in ulps of
        # the result the error is then unbounded, in NumPy's and PyTorch's float32 alike.
        scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), np.float32(1))
        assert np.max(np.abs(got - exact) / np.spacing(scale)) <= 2.0
        want = torch.logaddexp(torch.from_numpy(a), torch.from_numpy(b)).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_float32_logaddexp_special_values_and_broadcast():
    s = KERNEL_SPECIALS
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = ndgrad.logaddexp(ndgrad.tensor(s[:, None]), ndgrad.tensor(s)).numpy()
    want = torch.logaddexp(torch.from_numpy(s[:, None]), torch.from_numpy(s)).numpy()
    # NOTE: 2 ulp of 1 absolute: logaddexp(-0.5, -1) = -0.026 cancels (see the test above).
    np.testing.assert_allclose(got, want, rtol=3e-7, atol=2 * np.spacing(np.float32(1)))
    a, b = np.linspace(-5, 5, 40_000, dtype=np.float32), np.float32([[0.5], [-3.0]])
    got = ndgrad.logaddexp(ndgrad.tensor(a), ndgrad.tensor(b)).numpy()
    exact = np.logaddexp(a.astype(np.float64), b)
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), np.float32(1))
    assert got.shape == (2, 40_000) and np.max(np.abs(got - exact) / np.spacing(scale)) <= 2.0
    out = grads(lambda t, x, y: t.logaddexp(x, y), a[:100], b, dtype="float32")
    same(*out, rtol=2e-6, atol=1e-7)


# -- float32 kernels: tan, atan, atan2, remainder, hypot, lerp ---------------------------------
def _bit_grid(lo, hi, step):
    """Every ``step``-th float32 in [lo, hi] (both positive), and their negatives."""
    g = np.arange(np.float32(lo).view(np.int32), np.float32(hi).view(np.int32), step,
                  dtype=np.int32).view(np.float32)
    return np.concatenate([g, -g])


def _near_multiples(step, count, width=20):
    """The float32 neighbours of k * step, k = 1..count: the poles and zeros of tan."""
    centre = (np.arange(1, count + 1) * step).astype(np.float32).view(np.int32)
    g = (centre[:, None] + np.arange(-width, width + 1)).ravel().view(np.float32)
    return np.concatenate([g, -g])


TRIG_SPECIALS = np.array(
    [0.0, -0.0, 1e-45, -1e-45, 1e-40, -3e-39, 1.1754944e-38, 1e-20, -1e-8, 0.41421357, 0.5, 1.0,
     -1.0, 0.99999994, 1.0000001, 2.4142137, 1.5707964, -1.5707964, 3.1415927, 4.712389, 1e4,
     8388607.0, 8388608.0, -16777216.0, 1e20, 3e38, -3e38, np.inf, -np.inf, np.nan],
    dtype=np.float32)
UNARY_KERNELS = {
    "tan": (np.tan, np.concatenate([_bit_grid(1e-6, 8388607.0, 211),
                                    _near_multiples(np.pi / 2, 20_000)])),
    "atan": (np.arctan, _bit_grid(1e-30, 3e38, 313)),
}


@pytest.mark.parametrize("name", sorted(UNARY_KERNELS))
def test_float32_trig_kernels_half_an_ulp(name):
    exact_fn, x = UNARY_KERNELS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = getattr(ndgrad, name)(ndgrad.tensor(x)).numpy()
    exact = exact_fn(x.astype(np.float64))
    assert got.dtype == np.float32
    err = _ulps(got, exact)
    assert err.max() <= 0.52, x[np.argmax(err)]  # NumPy's own: tan 1.42, atan 0.84
    want = getattr(torch, name)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=3e-7, atol=0)


@pytest.mark.parametrize("name", sorted(UNARY_KERNELS))
def test_float32_trig_kernels_special_values_and_layouts(name):
    s = TRIG_SPECIALS
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = getattr(ndgrad, name)(ndgrad.tensor(s)).numpy()
    want = getattr(torch, name)(torch.from_numpy(s)).numpy()
    np.testing.assert_allclose(got, want, rtol=3e-7, atol=0)
    np.testing.assert_array_equal(np.signbit(got[got == 0]), np.signbit(want[want == 0]))
    x = UNARY_KERNELS[name][1][:300_000].reshape(600, 500)
    got = getattr(ndgrad, name)(ndgrad.tensor(x).t()[::2]).numpy()  # strided, several blocks
    dense = getattr(ndgrad, name)(ndgrad.tensor(x.T[::2].copy())).numpy()
    np.testing.assert_array_equal(got, dense)
    x64 = np.linspace(-3, 3, 1001)
    np.testing.assert_array_equal(getattr(ndgrad, name)(ndgrad.tensor(x64)).numpy(),
                                  UNARY_KERNELS[name][0](x64))
    same(getattr(ndgrad, name)(ndgrad.tensor(0.7)), getattr(torch, name)(torch.tensor(0.7)),
         rtol=1e-7, atol=0)


def _mixed32(rng, n):
    """float32 values of every size: uniform, all exponents (denormals too), special values."""
    v = rng.uniform(-4, 4, n).astype(np.float32)
    w = (rng.uniform(-2, 2, n) * 2.0 ** rng.integers(-149, 128, n)).astype(np.float32)
    pick = rng.random(n)
    v[pick < 0.3] = w[pick < 0.3]
    v[pick > 0.98] = rng.choice(TRIG_SPECIALS, (pick > 0.98).sum())
    return v


@pytest.mark.parametrize("name,exact_fn", [("atan2", np.arctan2), ("hypot", np.hypot)])
def test_float32_atan2_kernel_and_hypot(name, exact_fn):
    rng = np.random.default_rng(0)
    a, b = _mixed32(rng, 400_000), _mixed32(rng, 400_000)
    s = TRIG_SPECIALS
    a = np.concatenate([a, np.repeat(s, s.size), rng.uniform(-3, 3, 50_000).astype(np.float32)])
    b = np.concatenate([b, np.tile(s, s.size), rng.uniform(-3, 3, 50_000).astype(np.float32)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = getattr(ndgrad, name)(ndgrad.tensor(a), ndgrad.tensor(b)).numpy()
    exact = exact_fn(a.astype(np.float64), b.astype(np.float64))
    with np.errstate(over="ignore"):
        exact32 = exact.astype(np.float32)
    finite = np.isfinite(exact32)
    np.testing.assert_array_equal(got[~finite], exact32[~finite])
    assert _ulps(got[finite], exact[finite]).max() <= (0.52 if name == "atan2" else 0.5)
    want = getattr(torch, name)(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    # NOTE: atol of one subnormal step: PyTorch's subnormal atan2 is off by one there
    np.testing.assert_allclose(got, want, rtol=3e-7, atol=1.5e-45)
    np.testing.assert_array_equal(np.signbit(got[~np.isnan(got)]), np.signbit(want[~np.isnan(got)]))


def test_float32_hypot_kernel_is_numpys_bit_for_bit():
    """float64 squares and sum, one rounding to float32: NumPy's float32 hypot (glibc's hypotf)
    bit for bit, overflow to inf and inf beside nan included."""
    rng = np.random.default_rng(3)
    a, b = _mixed32(rng, 300_000), _mixed32(rng, 300_000)
    big = np.float32([3e38, -2.5e38, np.inf, -np.inf, np.nan, 1e-45, 0.0, -0.0])
    a = np.concatenate([a, np.repeat(big, big.size)])
    b = np.concatenate([b, np.tile(big, big.size)])
    got = ndgrad.hypot(ndgrad.tensor(a), ndgrad.tensor(b)).numpy()
    with np.errstate(over="ignore"):
        _same_bits(got, np.hypot(a, b))
    # NOTE: PyTorch's float32 hypot is off by an ulp for some inputs near or below float32's
    # smallest normal number; NumPy's is not
    away = (np.abs(a) > 1e-30) & (np.abs(b) > 1e-30)
    _same_bits(got[away], torch.hypot(torch.from_numpy(a), torch.from_numpy(b)).numpy()[away])


def _remainder_exact(a, b):
    """PyTorch's formula on an exact fmod (NumPy's float32 fmod is exact)."""
    with np.errstate(all="ignore"):
        r = np.fmod(a, b)
        return np.where((r != 0) & ((r < 0) != (b < 0)), r + b, r)


def _same_bits(got, want):
    assert got.dtype == want.dtype
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan)
    np.testing.assert_array_equal(got[~nan], want[~nan])
    np.testing.assert_array_equal(np.signbit(got[~nan]), np.signbit(want[~nan]))


def test_float32_remainder_kernel_is_exact():
    rng = np.random.default_rng(1)
    s = TRIG_SPECIALS
    a = np.concatenate([_mixed32(rng, 400_000), np.repeat(s, s.size),
                        rng.integers(-50, 50, 100_000).astype(np.float32),
                        rng.uniform(-1e6, 1e6, 100_000).astype(np.float32)])
    b = np.concatenate([_mixed32(rng, 400_000), np.tile(s, s.size),
                        rng.integers(-6, 6, 100_000).astype(np.float32),
                        rng.uniform(-3, 3, 100_000).astype(np.float32)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = ndgrad.remainder(ndgrad.tensor(a), ndgrad.tensor(b)).numpy()
    _same_bits(got, _remainder_exact(a, b))
    want = torch.remainder(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    # NOTE: PyTorch's float32 fmod gives nan for some huge quotients (tiny or subnormal b);
    # ndgrad keeps C's exact fmod there, as NumPy and PyTorch's float64 do.
    ok = ~np.isnan(want) | np.isnan(got)
    assert ok.mean() > 0.9
    _same_bits(got[ok], want[ok])


def test_float32_remainder_near_integer_quotients():
    """a one float32 step beside n * b, n up to and past 2^28: there the float64 quotient a / b
    is nearest to an integer, and a floor of a rounded quotient one too large would flip the
    remainder's sign; PyTorch's own float32 fmod is the oracle, as C's exact fmod is."""
    rng = np.random.default_rng(7)
    n = np.concatenate([rng.integers(1, 2 ** 12, 60_000), rng.integers(2 ** 20, 2 ** 29, 60_000),
                        2 ** 28 + rng.integers(-3, 3, 1_000)]).astype(np.float64)
    b = (rng.uniform(0.5, 1, n.size) * 2.0 ** rng.integers(-60, 60, n.size)).astype(np.float32)
    b *= rng.choice(np.float32([-1, 1]), n.size)
    a = (n * b * rng.choice([-1.0, 1.0], n.size)).astype(np.float32)
    a = np.concatenate([a, np.nextafter(a, np.float32(np.inf)), np.nextafter(a, -np.inf)])
    b = np.tile(b, 3)
    got = ndgrad.remainder(ndgrad.tensor(a), ndgrad.tensor(b)).numpy()
    _same_bits(got, _remainder_exact(a, b))
    want = torch.remainder(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    ok = ~np.isnan(want)  # see test_float32_remainder_kernel_is_exact
    assert ok.mean() > 0.9
    _same_bits(got[ok], want[ok])
    for other in (0.7, -0.7, 3.0):  # a number: one float64 row for the whole block
        x = np.float32(other) * np.arange(-2 ** 20, 2 ** 20, 97, dtype=np.float32)
        x = np.concatenate([x, np.nextafter(x, np.float32(np.inf)), np.nextafter(x, -np.inf)])
        _same_bits(ndgrad.remainder(ndgrad.tensor(x), other).numpy(),
                   torch.remainder(torch.from_numpy(x), other).numpy())
        # a small block keeps its shape: the number, and a row, broadcast along its first axis
        small, row = x[-60:].reshape(3, 4, 5), np.float32(other) * np.arange(1, 6, dtype=np.float32)
        for b in (ndgrad.tensor(other), ndgrad.tensor(row)):
            want = torch.remainder(torch.from_numpy(small), torch.from_numpy(b.numpy()))
            _same_bits(ndgrad.remainder(ndgrad.tensor(small), b).numpy(), want.numpy())


def test_float32_remainder_kernel_scalars_and_broadcast():
    x = np.linspace(-7, 7, 70_001).astype(np.float32)
    for other in (0.3, -0.3, 2, -2.5, 0.0, math.inf, -math.inf):
        same(ndgrad.remainder(ndgrad.tensor(x), other), torch.remainder(torch.from_numpy(x), other),
             rtol=0, atol=0)
        _same_bits(ndgrad.remainder(ndgrad.tensor(x), other).numpy(),
                   torch.remainder(torch.from_numpy(x), other).numpy())
    same(5.5 % ndgrad.tensor(x[x != 0]), 5.5 % torch.from_numpy(x[x != 0]), rtol=0, atol=0)
    b = np.float32([[1.5], [-0.75]])
    got = ndgrad.remainder(ndgrad.tensor(x), ndgrad.tensor(b)).numpy()
    assert got.shape == (2, x.size)
    _same_bits(got, _remainder_exact(x, b))
    same(ndgrad.tensor(-4.0) % ndgrad.tensor(2.0), torch.tensor(-4.0) % torch.tensor(2.0))


def test_float32_lerp_kernel():
    rng = np.random.default_rng(2)
    a, end = rng.uniform(-3, 3, (2, 100_000)).astype(np.float32)
    w = np.concatenate([rng.uniform(-2, 2, 99_990), [0, 1, 0.5, -0.5, 0.49999997, 0.50000006,
                                                     -0.0, 2, np.inf, np.nan]]).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = ndgrad.lerp(ndgrad.tensor(a), ndgrad.tensor(end), ndgrad.tensor(w)).numpy()
    want = torch.lerp(torch.from_numpy(a), torch.from_numpy(end), torch.from_numpy(w)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(got[w == 0], a[w == 0])  # exact at both ends
    np.testing.assert_array_equal(got[w == 1], end[w == 1])
    got = ndgrad.lerp(ndgrad.tensor(a), ndgrad.tensor(end[:1]), ndgrad.tensor(np.float32(0.75)))
    want = torch.lerp(torch.from_numpy(a), torch.from_numpy(end[:1]), torch.tensor(0.75))
    same(got, want, rtol=1e-6, atol=1e-6)
    for weight in (0.25, 0.75, 1.0):
        same(ndgrad.lerp(ndgrad.tensor(a), ndgrad.tensor(end), weight),
             torch.lerp(torch.from_numpy(a), torch.from_numpy(end), weight), rtol=1e-6, atol=1e-6)


FLOAT32_GRADS = {
    "tan": (lambda t, x: t.tan(x), 1),
    "atan": (lambda t, x: t.atan(x), 1),
    "atan2": (lambda t, x, y: t.atan2(x, y), 2),
    "hypot": (lambda t, x, y: t.hypot(x, y), 2),
    "remainder": (lambda t, x, y: t.remainder(x, y), 2),
    "lerp": (lambda t, x, y, z: t.lerp(x, y, z), 3),
}


@pytest.mark.parametrize("name", sorted(FLOAT32_GRADS))
def test_float32_trig_kernels_gradients(name):
    fn, n = FLOAT32_GRADS[name]
    rng = np.random.default_rng(3)
    xs = [rng.uniform(-1.2, 1.2, 60_000) for _ in range(n)]
    if name == "remainder":
        xs[1] = np.where(xs[1] < 0, xs[1] - 0.5, xs[1] + 0.5)  # away from b = 0
    got, want = grads(fn, *xs, dtype="float32")
    same(got, want, rtol=2e-6, atol=1e-6)


# Integer division with a rounding mode, in place or not, and its errors (PyTorch raises on an
# integer zero divisor where NumPy returns 0 or INT_MIN with a warning).
DIV_ROUNDING = [
    lambda t: t.div(t.tensor([1, 2]), t.tensor([0, 1]), rounding_mode="floor"),
    lambda t: t.div(t.tensor([1, 2]), 0, rounding_mode="trunc"),
    lambda t: t.div(t.tensor([-7, 7]), t.tensor([2, -2]), rounding_mode="trunc"),
    lambda t: t.tensor([7, 8]).div_(2, rounding_mode="trunc"),
    lambda t: t.tensor([7, -8]).div_(t.tensor([2, 3]), rounding_mode="floor"),
    lambda t: t.tensor([7, 8]).div_(0, rounding_mode="floor"),
    lambda t: t.tensor([7, 8]).div_(2),
    lambda t: t.tensor([7., 8.]).div_(2, rounding_mode="x"),
    lambda t: t.tensor([True]).div_(t.tensor([True]), rounding_mode="floor"),
    lambda t: t.tensor([-7.5, 0., 3.]).div_(t.tensor([2., 0., -0.]), rounding_mode="floor"),
    lambda t: (lambda x: (x * 1).div_(t.tensor([2., 3.]), rounding_mode="floor").grad_fn.name())(
        t.tensor([1., 5.], requires_grad=True)),
    lambda t: t.rsub(t.tensor([1., 2.], requires_grad=True), t.tensor([2., 3.])).grad_fn._saved_alpha,
]


@pytest.mark.parametrize("i", range(len(DIV_ROUNDING)))
def test_div_rounding_mode_as_torch(i):
    both_same(DIV_ROUNDING[i])


# Subtraction with bools, through every door: operators, functions, in place, either side.
BOOL_SUBTRACTION = [
    lambda t: t.tensor([1., 2.]) - True,
    lambda t: True - t.tensor([1., 2.]),
    lambda t: t.tensor([True]) - 1,
    lambda t: t.tensor([1.]) - t.tensor([True]),
    lambda t: t.tensor([1, 2]) - True,
    lambda t: t.tensor([True]) - t.tensor([False]),
    lambda t: t.tensor(True) - t.tensor(True),
    lambda t: t.rsub(t.tensor([1.]), True),
    lambda t: t.rsub(t.tensor([True]), t.tensor([True])),
    lambda t: t.sub(t.tensor([1.]), t.tensor([True]), alpha=2),
    lambda t: t.tensor([1., 2.]).sub_(True),
    lambda t: (lambda x: (x.__isub__(True), x)[1])(t.tensor([1., 2.])),
    lambda t: (lambda x: (x.__isub__(t.tensor([True, False])), x)[1])(t.tensor([1., 2.])),
    lambda t: t.tensor([True]) + t.tensor([True]),
    lambda t: 1 - t.tensor([1., 2.]),
]


@pytest.mark.parametrize("i", range(len(BOOL_SUBTRACTION)))
def test_bool_subtraction_as_torch(i):
    both_same(BOOL_SUBTRACTION[i])


# add/sub/rsub with alpha or with a number first: PyTorch's node names and edges, its checks of
# alpha against the promoted dtype, values and gradients.
def _alpha_graph(fn):
    def run(t):
        x = t.tensor([1., 2.], requires_grad=True)
        y = fn(t, x)
        y.sum().backward()
        return y, y.grad_fn.name(), [(None if f is None else f.name(), n)
                                     for f, n in y.grad_fn.next_functions], x.grad
    return run


ALPHA = [
    _alpha_graph(lambda t, x: t.sub(2, x)),
    _alpha_graph(lambda t, x: t.sub(2, x, alpha=3)),
    _alpha_graph(lambda t, x: t.sub(2., x * 2, alpha=0.5)),
    _alpha_graph(lambda t, x: t.add(2, x, alpha=3)),
    lambda t: t.sub(2, t.tensor([1, 2]), alpha=2.5),
    lambda t: t.sub(t.tensor([1, 2]), 2, alpha=2.5),
    lambda t: t.sub(2, t.tensor([1, 2]), alpha=2),
    lambda t: t.add(t.tensor([1, 2]), 2, alpha=2.5),
    lambda t: t.add(t.tensor([1., 2.]), 2, alpha=1j),
    lambda t: t.add(t.tensor([1, 2]), 2.0, alpha=2.5),
    lambda t: t.add(t.tensor([True]), True, alpha=2.5),
    lambda t: t.add(t.tensor([1, 2]), t.tensor([1.]), alpha=2.5),
    lambda t: t.rsub(t.tensor([1, 2]), 3, alpha=1.5),
    lambda t: t.rsub(t.tensor([1, 2]), t.tensor([3, 4]), alpha=1.5),
]


@pytest.mark.parametrize("i", range(len(ALPHA)))
def test_alpha_and_number_first_as_torch(i):
    both_same(ALPHA[i])
