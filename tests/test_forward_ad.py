"""Forward-mode AD: every op-table row's JVP against reverse mode, and a few against PyTorch."""
import warnings
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


FORWARD_AD_CASES = {
    # PyTorch has no forward derivative for these: it raises NotImplementedError naming the op
    "floor_divide": lambda t, d: t.floor_divide(d, 2.0),
    "floor_divide_": lambda t, d: (d * 1).floor_divide_(t.tensor([2., 3., 1., 1.])),
    "number % tensor": lambda t, d: 5.0 % d,
    "scatter(reduce=)": lambda t, d: d.scatter(0, t.tensor([0, 1]), d[2:] * 2, reduce="multiply"),
    "grad of hardsigmoid": lambda t, d: t.autograd.grad(
        t.nn.functional.hardsigmoid(d).sum(), d, create_graph=True)[0],
    # hardsigmoid has one, although its gradient has no derivative
    "hardsigmoid": lambda t, d: t.nn.functional.hardsigmoid(d),
    "hardsigmoid_": lambda t, d: t.nn.functional.hardsigmoid(d * 1, inplace=True),
    "hardsigmoid(requires_grad)": lambda t, d: t.nn.functional.hardsigmoid(d * d),
}


@pytest.mark.parametrize("name", sorted(FORWARD_AD_CASES))
def test_forward_ad_where_pytorch_has_no_derivative_matches_torch(name):
    primal, tangent = np.array([4., -1., 0.5, -3.5]), np.array([1., 2., 3., 4.])

    def run(t, fw):
        x = t.tensor(primal, requires_grad=name.endswith("(requires_grad)") or "grad" in name)
        with fw.dual_level():
            try:
                out = FORWARD_AD_CASES[name](t, fw.make_dual(x, t.tensor(tangent)))
            except Exception as e:  # noqa: BLE001 - the exception is the result compared
                return type(e).__name__, str(e)
            got = fw.unpack_dual(out)
            tan = got.tangent
            r = [got.primal.detach().numpy(), tan.detach().numpy()]
            if tan.requires_grad:  # reverse over forward: the tangent's own gradient
                try:
                    r.append(t.autograd.grad(tan.sum(), x)[0].numpy())
                except Exception as e:  # noqa: BLE001
                    r.append((type(e).__name__, str(e)))
            return r
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scatter's reduce= is deprecated, in both
        got, want = run(ndgrad, fwAD), run(torch, tfwAD)
    if isinstance(want, tuple):
        assert got == want
        return
    assert len(got) == len(want)
    for a, b in zip(got, want):
        if isinstance(b, tuple):
            assert a == b
        else:  # NOTE: PyTorch's float64 hardsigmoid_backward multiplies by 1/6 rounded to float32
            np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-15)


def test_jacfwd_and_hessian_of_hardsigmoid_match_torch():
    x = np.array([-4., -1., 0.5, 3.5, 2.9])

    def run(t):
        out = [t.func.jacfwd(t.nn.functional.hardsigmoid)(t.tensor(x)).numpy(),
               t.func.jvp(t.nn.functional.hardsigmoid, (t.tensor(x),), (t.tensor(x),))[1].numpy()]
        total = lambda y: t.nn.functional.hardsigmoid(y).sum()  # noqa: E731
        for f in (lambda: t.func.hessian(total)(t.tensor(x)),
                  lambda: t.autograd.functional.jvp(t.nn.functional.hardsigmoid, t.tensor(x),
                                                    t.tensor(x))):
            try:
                f()
            except Exception as e:  # noqa: BLE001 - the exception is the result compared
                out.append((type(e).__name__, str(e)))
        return out
    got, want = run(ndgrad), run(torch)
    for a, b in zip(got[:2], want[:2]):
        np.testing.assert_allclose(a, b, rtol=1e-7)  # 1/6 in float32, as above
    assert got[2:] == want[2:] and len(want) == 4
