"""repr/str against PyTorch: every dtype, modes, widths, wrapping, summarisation, suffixes."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import ndgrad

CASES = [
    "tensor([1, 2, 3])", "tensor([1., 2., 3.])", "tensor(2.)", "tensor(3)", "tensor(True)",
    "tensor([1e-5, 1, 1000])", "tensor([1., 1e9])", "tensor([1.5, float('nan'), float('inf')])",
    "tensor([1., float('inf'), -float('inf')])", "tensor([-0.0, 1.0])", "tensor([0.0001, 2.])",
    "tensor([0.00001, 2.])", "tensor([100000000.0, 2.0])", "tensor([[1.25, -2, 3], [4, 5, 6]], dtype=lib.float64)",
    "arange(2000.).reshape(2, 1000)", "arange(100.).reshape(10, 10) / 3", "arange(1001)",
    "arange(5000.).reshape(10, 10, 50)", "zeros(0)", "zeros(0, 3)", "zeros(0, dtype=lib.int64)",
    "tensor([1+2j, 3-1j])", "tensor([1, 2], dtype=lib.uint8)", "tensor([1.5], dtype=lib.float16)",
    "tensor([1, 2], dtype=lib.int32)", "tensor([True, False])", "ones(2, 3, dtype=lib.float64)",
    "tensor([[1e10, 1], [2, 3]])", "tensor([0., 0.])", "tensor([float('nan')])",
    "tensor([123456789.0])", "tensor([1.23456789])", "tensor([-1.5, 2.25, -3.125])",
    "arange(30.).reshape(30, 1)", "tensor([[[1, 2], [3, 4]], [[5, 6], [7, 8]]])",
    "tensor([1e-10, 1e10, -5.])", "tensor(-0.)", "tensor(1e-8)",
]


@pytest.mark.parametrize("expr", CASES)
def test_repr_matches_torch(expr):
    want = eval(expr, {"lib": torch, **{k: getattr(torch, k) for k in ("tensor", "arange", "zeros", "ones")}})
    got = eval(expr, {"lib": ndgrad, **{k: getattr(ndgrad, k) for k in ("tensor", "arange", "zeros", "ones")}})
    assert repr(got) == repr(want)
    assert str(got) == str(want)


def test_grad_fn_and_requires_grad_suffixes():
    for lib in (torch, ndgrad):
        x = lib.tensor([1., 2.], requires_grad=True)
        y = x * 2
        z = lib.ones(2, 30, dtype=lib.float64, requires_grad=True) * 3
    assert repr(ndgrad.tensor([1., 2.], requires_grad=True)) == repr(torch.tensor([1., 2.], requires_grad=True))
    for build in (lambda lib: lib.tensor([1., 2.], requires_grad=True) * 2,
                  lambda lib: lib.ones(2, 30, dtype=lib.float64, requires_grad=True) * 3,
                  lambda lib: lib.arange(30.).reshape(30, 1) * lib.ones(2, requires_grad=True),
                  lambda lib: (lib.tensor([1., 2.], requires_grad=True) ** 2).mean(),
                  lambda lib: lib.tensor([1., 2.], dtype=lib.float64, requires_grad=True) + 1):
        assert repr(build(ndgrad)) == repr(build(torch))


def test_printoptions_match_torch():
    try:
        for lib in (torch, ndgrad):
            lib.set_printoptions(precision=2, linewidth=40)
        assert repr(ndgrad.arange(20.) / 3) == repr(torch.arange(20.) / 3)
        for lib in (torch, ndgrad):
            lib.set_printoptions(sci_mode=True)
        assert repr(ndgrad.tensor([1.5, 2.])) == repr(torch.tensor([1.5, 2.]))
        for lib in (torch, ndgrad):
            lib.set_printoptions(profile="full")
        assert repr(ndgrad.arange(1500)) == repr(torch.arange(1500))
    finally:
        for lib in (torch, ndgrad):
            lib.set_printoptions(profile="default", sci_mode=None)


def test_size_dtype_device_repr():
    assert repr(ndgrad.zeros(2, 3).shape) == repr(torch.zeros(2, 3).shape)
    assert str(ndgrad.zeros(2, 3).size()) == str(torch.zeros(2, 3).size())
    assert repr(ndgrad.tensor(1.).shape) == repr(torch.tensor(1.).shape)
    for name in ("float32", "float64", "float16", "int8", "int16", "int32", "int64", "uint8",
                 "bool", "complex64", "complex128"):
        assert repr(getattr(ndgrad, name)) == repr(getattr(torch, name))
    assert repr(ndgrad.tensor(1.).device) == repr(torch.tensor(1.).device)
    assert str(ndgrad.tensor(1.).device) == str(torch.tensor(1.).device)


def test_format_of_zero_dim_uses_item():
    for spec in ("", ".3f", "e"):
        assert format(ndgrad.tensor(2.4), spec) == format(torch.tensor(2.4), spec)


SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6)


@st.composite
def arrays(draw):
    kind = draw(st.sampled_from(["f32", "f64", "i64", "i32", "bool", "f32-small"]))
    if kind == "bool":
        return draw(hnp.arrays(np.bool_, SHAPES))
    if kind in ("i64", "i32"):
        dt = np.int64 if kind == "i64" else np.int32
        return draw(hnp.arrays(dt, SHAPES, elements=st.integers(-10**6, 10**6)))
    if kind == "f32-small":
        return draw(hnp.arrays(np.float32, SHAPES, elements=st.floats(-100, 100, width=32)))
    dt = np.float32 if kind == "f32" else np.float64
    return draw(hnp.arrays(dt, SHAPES, elements=st.floats(allow_nan=True, allow_infinity=True,
                                                          width=32 if dt == np.float32 else 64)))


@settings(max_examples=200, deadline=None)
@given(arrays())
def test_random_arrays_print_like_torch(a):
    assert repr(ndgrad.from_numpy(a.copy())) == repr(torch.from_numpy(a.copy()))
