"""Forward-mode AD: every op-table row's JVP against reverse mode, and a few against PyTorch."""
import numpy as np
import pytest
import torch
import torch.autograd.forward_ad as tfwAD

import ndgrad
import ndgrad.autograd.forward_ad as fwAD
from test_ops import CASES, case_id, float_outputs, resolve, sample_of


def _f64(x):
    return x.astype(np.float64) if isinstance(x, np.ndarray) and x.dtype.kind == "f" else x


def _run(row, s, args):
    ndgrad.manual_seed(0)  # rows with random ops draw the same numbers in both passes
    return resolve(ndgrad, row.name)(*args, **s.kwargs)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_jvp_matches_reverse_mode(case):
    """<w, J v> from forward mode equals <J^T w, v> from reverse mode, for random v and w."""
    row, i = case
    if not row.grad:
        pytest.skip("not differentiable")
    s = sample_of(row, i)
    diff = s.diff_indices()
    if not diff:
        pytest.skip("no floating input")
    base = [_f64(a) for a in s.args]
    rng = np.random.default_rng(5)
    vs = {k: rng.uniform(-1, 1, size=base[k].shape) for k in diff}

    with fwAD.dual_level():
        args = [ndgrad.tensor(a) if isinstance(a, np.ndarray) else a for a in base]
        for k in diff:
            args[k] = fwAD.make_dual(args[k], ndgrad.tensor(vs[k]))
        outs = float_outputs(row, _run(row, s, args))
        tangents = [fwAD.unpack_dual(o).tangent for o in outs]
    ws = [rng.uniform(-1, 1, size=tuple(o.shape)) for o in outs]
    for o, t in zip(outs, tangents):
        assert t is not None and tuple(t.shape) == tuple(o.shape) and t.dtype == o.dtype
    forward = sum(float((t.numpy() * w).sum()) for t, w in zip(tangents, ws))

    xs = {k: ndgrad.tensor(base[k], requires_grad=True) for k in diff}
    args = [xs[k] if k in xs else (ndgrad.tensor(a) if isinstance(a, np.ndarray) else a)
            for k, a in enumerate(base)]
    outs = float_outputs(row, _run(row, s, args))
    total = sum((o * ndgrad.tensor(w)).sum() for o, w in zip(outs, ws))
    grads = ndgrad.autograd.grad(total, list(xs.values()), allow_unused=True)
    reverse = sum(float((g.numpy() * vs[k]).sum()) for k, g in zip(xs, grads) if g is not None)
    np.testing.assert_allclose(forward, reverse, rtol=1e-7, atol=1e-10)


def _both(fn, primals, tangents):
    with tfwAD.dual_level():
        t_out = fn(torch, *[tfwAD.make_dual(torch.tensor(p), torch.tensor(t))
                            for p, t in zip(primals, tangents)])
        want = tfwAD.unpack_dual(t_out).tangent.numpy()
    with fwAD.dual_level():
        n_out = fn(ndgrad, *[fwAD.make_dual(ndgrad.tensor(p), ndgrad.tensor(t))
                             for p, t in zip(primals, tangents)])
        got = fwAD.unpack_dual(n_out)
        assert got.primal.dtype.is_floating_point
        return got.tangent.numpy(), want


@pytest.mark.parametrize("fn", [
    lambda lib, x, y: (x * y).exp().sum(1),
    lambda lib, x, y: lib.where(x > 0, x.tanh(), y.sigmoid()) / (1 + y * y),
    lambda lib, x, y: (x[0] ** 3 + y[:, 1:].sum() ** 2).sqrt(),
    lambda lib, x, y: x.reshape(6).sin() * y.reshape(6).cos(),
    lambda lib, x, y: (x - y.mean(0, keepdim=True)).abs().log(),
], ids=["mul-exp-sum", "where", "index-pow", "reshape-trig", "mean-abs-log"])
def test_jvp_matches_torch(fn):
    rng = np.random.default_rng(3)
    primals = [rng.uniform(0.5, 2, size=(2, 3)), rng.uniform(-2, 2, size=(2, 3))]
    tangents = [rng.uniform(-1, 1, size=(2, 3)) for _ in primals]
    got, want = _both(fn, primals, tangents)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_dual_api_matches_torch():
    p, t = ndgrad.tensor([1., 2.]), ndgrad.tensor([1., 0.5])
    with pytest.raises(RuntimeError, match="no level exists, make sure to enter_dual_level"):
        fwAD.make_dual(p, t)
    with fwAD.dual_level() as level:
        assert level == 0
        d = fwAD.make_dual(p, t)
        assert d._base is p and d is not p
        u = fwAD.unpack_dual(d.exp() * 2)
        assert type(u).__name__ == "UnpackedDualTensor" and u == (u.primal, u.tangent)
        np.testing.assert_allclose(u.tangent.numpy(), 2 * np.exp([1., 2.]) * [1., 0.5])
        assert fwAD.unpack_dual(p) == (p, None)
        with pytest.raises(RuntimeError) as e:
            fwAD.make_dual(p, ndgrad.ones(3))
        with tfwAD.dual_level(), pytest.raises(RuntimeError) as te:
            tfwAD.make_dual(torch.tensor([1., 2.]), torch.ones(3))
        assert str(e.value) == str(te.value)
        with pytest.raises(RuntimeError, match="Nested forward mode AD is not supported"):
            fwAD.enter_dual_level()
        with pytest.raises(ValueError, match="Expected primal to be floating point or complex, "
                                             "but got: torch.int64"):
            fwAD.make_dual(ndgrad.ones(2, dtype=ndgrad.long), ndgrad.ones(2))
        with pytest.raises(ValueError, match="Expected tangent to be floating point"):
            fwAD.make_dual(p, ndgrad.ones(2, dtype=ndgrad.long))
        kept = d.exp()
    assert fwAD.unpack_dual(kept).tangent is None and fwAD.unpack_dual(d).tangent is None


def test_views_and_multi_output_carry_tangents():
    with fwAD.dual_level():
        x = fwAD.make_dual(ndgrad.tensor([[1., 2.], [3., 4.]]), ndgrad.tensor([[1., 0.], [0., 2.]]))
        np.testing.assert_array_equal(fwAD.unpack_dual(x[1]).tangent.numpy(), [0., 2.])
        np.testing.assert_array_equal(fwAD.unpack_dual(x[:, 0]).tangent.numpy(), [1., 0.])
        np.testing.assert_array_equal(fwAD.unpack_dual(x[[1, 0]]).tangent.numpy(),
                                      [[0., 2.], [1., 0.]])


def test_reverse_over_forward():
    """A tangent that depends on a primal requiring grad is itself differentiable."""
    x = ndgrad.tensor([1., 2.], requires_grad=True)
    tx = torch.tensor([1., 2.], requires_grad=True)
    with fwAD.dual_level():
        t = fwAD.unpack_dual((fwAD.make_dual(x, ndgrad.ones(2)) ** 3).sum()).tangent
    with tfwAD.dual_level():
        tt = tfwAD.unpack_dual((tfwAD.make_dual(tx, torch.ones(2)) ** 3).sum()).tangent
    assert t.requires_grad and t.item() == tt.item()
    t.backward()
    tt.backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


def test_no_cost_outside_a_level():
    from ndgrad import _ops
    assert _ops._FWD is None
    with fwAD.dual_level():
        assert _ops._FWD is not None
    assert _ops._FWD is None


def _inplace_tangents(lib):
    fw = lib.autograd.forward_ad
    out = []
    with fw.dual_level():
        x = fw.make_dual(lib.tensor([[1., 2.], [3., 4.]]), lib.tensor([[1., 0.], [0., 2.]])).clone()
        x.mul_(lib.tensor([[2., 3.], [4., 5.]]))
        out.append(fw.unpack_dual(x).tangent.tolist())
        x[0].mul_(3)  # through a view: the base's tangent changes too
        out.append(fw.unpack_dual(x).tangent.tolist())
        y = lib.zeros(2, 2)
        y.add_(x)  # a plain tensor gains a tangent
        out.append(fw.unpack_dual(y).tangent.tolist())
        z = lib.ones(2)
        z[0] = x[1, 1]  # written through a view of a tensor without one
        out.append(fw.unpack_dual(z).tangent.tolist())
    return out


def test_inplace_ops_update_tangents_like_torch():
    assert _inplace_tangents(ndgrad) == _inplace_tangents(torch)
