"""Convolutions, pooling and normalization: what the op table cannot express (errors and their
texts, running statistics, indices, warnings, double-backward nodes, a small network)."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ndgrad
import ndgrad.nn.functional as NF


def both(*arrays, grad=False):
    """The arrays as torch tensors and as ndgrad tensors."""
    t = [torch.tensor(a, requires_grad=grad) for a in arrays]
    n = [ndgrad.tensor(a, requires_grad=grad) for a in arrays]
    return t, n


def same_error(fn_t, fn_n, exc=RuntimeError):
    with pytest.raises(exc) as want:
        fn_t()
    with pytest.raises(exc) as got:
        fn_n()
    assert str(got.value) == str(want.value)


R = np.random.default_rng(0)
X4 = R.standard_normal((2, 3, 6, 6))
W4 = R.standard_normal((4, 3, 3, 3))


@pytest.mark.parametrize("make", [
    lambda F, lib, x, w: F.conv2d(lib.tensor(np.ones((2, 3))), w),
    lambda F, lib, x, w: F.conv2d(x, lib.tensor(np.ones((4, 2, 3, 3)))),
    lambda F, lib, x, w: F.conv2d(lib.tensor(np.ones((2, 3, 6, 6), np.float32)), w),
    lambda F, lib, x, w: F.conv2d(x, w, groups=2),
    lambda F, lib, x, w: F.conv2d(x, w, groups=0),
    lambda F, lib, x, w: F.conv2d(lib.tensor(np.ones((1, 4, 5, 5))), lib.tensor(np.ones((3, 2, 3, 3))), groups=2),
    lambda F, lib, x, w: F.conv2d(x, lib.tensor(np.ones((4, 3, 9, 9)))),
    lambda F, lib, x, w: F.conv2d(x, w, padding="same", stride=2),
    lambda F, lib, x, w: F.conv2d(x, w, padding="foo"),
    lambda F, lib, x, w: F.conv2d(x, w, bias=lib.tensor(np.zeros(3))),
    lambda F, lib, x, w: F.conv2d(x, w, stride=0),
    lambda F, lib, x, w: F.conv2d(x, w, dilation=0),
    lambda F, lib, x, w: F.conv2d(x, w, padding=-1),
    lambda F, lib, x, w: F.conv2d(x, w, stride=(1, 1, 1)),
    lambda F, lib, x, w: F.conv2d(x, lib.tensor(np.ones((4, 3, 3)))),
    lambda F, lib, x, w: F.conv1d(x, w),
    lambda F, lib, x, w: F.conv_transpose2d(x, w),
    lambda F, lib, x, w: F.conv_transpose2d(lib.tensor(np.ones((1, 4, 3, 3))), w, output_padding=1),
    lambda F, lib, x, w: F.max_pool2d(x, 2, padding=2),
    lambda F, lib, x, w: F.avg_pool2d(x, 2, padding=2),
    lambda F, lib, x, w: F.max_pool2d(lib.tensor(np.ones((2, 3, 2, 2))), 3),
    lambda F, lib, x, w: F.max_pool2d(x, 2, stride=0),
    lambda F, lib, x, w: F.max_pool2d(lib.tensor(np.ones((3, 5))), 2),
    lambda F, lib, x, w: F.avg_pool2d(x, 2, divisor_override=0),
    lambda F, lib, x, w: F.adaptive_avg_pool2d(lib.tensor(np.ones((2, 3))), 2),
    lambda F, lib, x, w: F.layer_norm(x, (5,)),
    lambda F, lib, x, w: F.layer_norm(x, (6,), lib.tensor(np.ones(2))),
    lambda F, lib, x, w: F.group_norm(x, 2),
    lambda F, lib, x, w: F.group_norm(x, 3, lib.tensor(np.ones(2))),
    lambda F, lib, x, w: F.batch_norm(x, lib.zeros(4), lib.ones(3)),
    lambda F, lib, x, w: F.batch_norm(x, None, lib.ones(3)),
], ids=range(31))
def test_errors_match_torch(make):
    (xt, wt), (xn, wn) = both(X4, W4)
    same_error(lambda: make(TF, torch, xt, wt), lambda: make(NF, ndgrad, xn, wn))


def test_type_and_value_errors_match_torch():
    (xt,), (xn,) = both(X4)
    same_error(lambda: TF.layer_norm(xt, 6), lambda: NF.layer_norm(xn, 6), TypeError)
    (x1t,), (x1n,) = both(np.ones((1, 3)))
    same_error(lambda: TF.batch_norm(x1t, None, None, training=True),
               lambda: NF.batch_norm(x1n, None, None, training=True), ValueError)


def test_running_stats_update_in_place():
    x = R.standard_normal((5, 3, 4)).astype(np.float32)
    (xt, mt, vt), (xn, mn, vn) = both(x, np.zeros(3, np.float32), np.ones(3, np.float32))
    for _ in range(2):
        TF.batch_norm(xt, mt, vt, training=True, momentum=0.3)
        NF.batch_norm(xn, mn, vn, training=True, momentum=0.3)
    np.testing.assert_allclose(mn.numpy(), mt.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(vn.numpy(), vt.numpy(), rtol=1e-5, atol=1e-6)
    assert mn._version == mt._version
    before = mn.numpy().copy()
    NF.batch_norm(xn, mn, vn, training=False)  # eval mode reads the statistics, never writes them
    np.testing.assert_array_equal(mn.numpy(), before)


def test_max_pool_indices_and_ties():
    x = np.array([[[[1., 3., 3., 0.], [3., 2., 1., 1.], [0., 0., 5., 5.], [0., 0., 5., 5.]]]])
    (xt,), (xn,) = both(x, grad=True)
    vt, it = TF.max_pool2d(xt, 2, return_indices=True)
    vn, i_n = NF.max_pool2d(xn, 2, return_indices=True)
    assert i_n.dtype == ndgrad.int64 and i_n.grad_fn is None
    np.testing.assert_array_equal(i_n.numpy(), it.numpy())
    vt.sum().backward()
    vn.sum().backward()
    np.testing.assert_array_equal(xn.grad.numpy(), xt.grad.numpy())


def test_overlapping_max_windows_accumulate():
    x = np.zeros((1, 1, 5, 5))
    x[0, 0, 2, 2] = 9.0
    (xt,), (xn,) = both(x, grad=True)
    TF.max_pool2d(xt, 3, stride=1).sum().backward()
    NF.max_pool2d(xn, 3, stride=1).sum().backward()
    assert xn.grad.numpy()[0, 0, 2, 2] == xt.grad.numpy()[0, 0, 2, 2] == 9.0
    np.testing.assert_array_equal(xn.grad.numpy(), xt.grad.numpy())


def test_max_pool_integer_input():
    x = np.arange(16).reshape(1, 1, 4, 4)
    got = NF.max_pool2d(ndgrad.tensor(x), 2)
    want = TF.max_pool2d(torch.tensor(x), 2)
    assert got.dtype == ndgrad.int64
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_same_padding_warns_like_torch():
    (xt, wt), (xn, wn) = both(R.standard_normal((1, 2, 5)), R.standard_normal((1, 2, 4)))
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        NF.conv1d(xn, wn, padding="same")
    with warnings.catch_warnings(record=True) as want:
        warnings.simplefilter("always")
        TF.conv1d(xt, wt, padding="same")
    assert len(got) == len(want) == 1
    assert str(want[0].message).startswith(str(got[0].message))


@pytest.mark.parametrize("name, make, args", [
    ("conv2d", lambda F, x, w: F.conv2d(x, w, padding=1, stride=2), (X4, W4)),
    ("conv_transpose2d", lambda F, x, w: F.conv_transpose2d(x, w, stride=2), (X4, W4.swapaxes(0, 1))),
    ("max_pool2d", lambda F, x: F.max_pool2d(x, 3, stride=2), (X4,)),
    ("avg_pool2d", lambda F, x: F.avg_pool2d(x, 3, stride=2, padding=1), (X4,)),
    ("adaptive_avg_pool2d", lambda F, x: F.adaptive_avg_pool2d(x, (4, 3)), (X4,)),
])
def test_double_backward_matches_torch(name, make, args):
    """grad of a grad: values and the names PyTorch gives the double-backward nodes."""
    res = []
    for F, lib, ins in ((TF, torch, both(*args, grad=True)[0]), (NF, ndgrad, both(*args, grad=True)[1])):
        y = make(F, *ins)
        g = lib.autograd.grad((y * y).sum(), ins, create_graph=True)
        hv = lib.autograd.grad(sum((gi * gi).sum() for gi in g), ins)
        res.append((g[0].grad_fn.name(), [h.numpy() for h in hv]))
    assert res[0][0] == res[1][0]
    for a, b in zip(res[0][1], res[1][1]):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-10)


def test_no_graph_without_grad():
    (xn, wn), _ = both(X4, W4)
    _, (xn, wn) = both(X4, W4)
    assert NF.conv2d(xn, wn).grad_fn is None
    with ndgrad.no_grad():
        _, (xg, wg) = both(X4, W4, grad=True)
        assert NF.conv2d(xg, wg).grad_fn is None


def test_small_convnet_matches_torch():
    """The benchmark's network: values and every parameter's gradient, in float32."""
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s).astype(np.float32) * 0.3 for s in
              ((8, 1, 12, 12), (4, 1, 3, 3), (4,), (6, 4, 3, 3), (6,))]
    outs = []
    for lib, F, ts in ((torch, TF, both(*arrays, grad=True)[0]), (ndgrad, NF, both(*arrays, grad=True)[1])):
        x, w1, b1, w2, b2 = ts
        h = F.max_pool2d(lib.relu(F.conv2d(x, w1, b1)), 2)
        y = F.conv2d(h, w2, b2, padding=1).relu()
        F.layer_norm(y, y.shape[1:]).pow(2).sum().backward()
        outs.append([t.grad.numpy() for t in ts])
    for a, b in zip(*outs):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4)


def _graph(fn, depth=3):
    """A node's name and, ``depth`` levels down, its inputs' (None for a missing edge)."""
    if fn is None or depth == 0:
        return None
    return fn.name(), [_graph(f, depth - 1) for f, _ in fn.next_functions]


UNBATCHED = {
    "conv1d": ((3, 7), (4, 3, 3), {"padding": 1}),
    "conv2d": ((3, 6, 5), (4, 3, 2, 3), {"stride": 2}),
    "conv_transpose2d": ((3, 4, 4), (3, 2, 3, 3), {"stride": 2}),
}


@pytest.mark.parametrize("name", UNBATCHED)
def test_unbatched_input_squeezes_like_torch(name):
    xs, ws, kw = UNBATCHED[name]
    (xt, wt, bt), (xn, wn, bn) = both(R.standard_normal(xs), R.standard_normal(ws),
                                      R.standard_normal(ws[1] if "transpose" in name else ws[0]),
                                      grad=True)
    ot, on = getattr(TF, name)(xt, wt, bt, **kw), getattr(NF, name)(xn, wn, bn, **kw)
    assert on.grad_fn.name() == ot.grad_fn.name() == "SqueezeBackward1"
    assert _graph(on.grad_fn) == _graph(ot.grad_fn)
    assert on._is_view() == ot._is_view()
    np.testing.assert_allclose(on.detach().numpy(), ot.detach().numpy(), rtol=1e-12, atol=1e-12)
    k = R.standard_normal(tuple(ot.shape))
    (ot * torch.tensor(k)).sum().backward()
    (on * ndgrad.tensor(k)).sum().backward()
    for a, b in ((xt, xn), (wt, wn), (bt, bn)):
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-10, atol=1e-12)
