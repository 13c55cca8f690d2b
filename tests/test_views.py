"""Views against PyTorch: shared storage and version counters, ``_base``, in-place changes through
views (CopySlices) and of their bases, and the errors PyTorch raises for in-place on views."""
import warnings

import numpy as np
import pytest
import torch

import ndgrad
from both import same

BASE = np.arange(1., 13.).reshape(3, 4) / 7


def leaf(t, a=BASE):
    return t.tensor(np.array(a, dtype=np.float64), requires_grad=True)


def test_mul_through_a_row_view():
    def f(t):
        x = leaf(t)
        y = x * 1
        y[0].mul_(2)
        y.sum().backward()
        return y, x.grad
    same(f)


def test_zeroing_a_slice_of_a_clone():
    def f(t):
        x = leaf(t)
        y = x.clone()
        y[1:] = 0
        y.sum().backward()
        return y, x.grad
    same(f)


def test_add_into_a_transposed_view():
    def f(t):
        x = leaf(t)
        w = leaf(t, BASE.T * 3)
        y = x * 1
        v = y.t()
        v.add_(w)
        (y * y).sum().backward()
        return v, y, x.grad, w.grad
    same(f)


INPLACE_THROUGH = {
    "diagonal": lambda t, y: y.diagonal(1).mul_(3),
    "narrow": lambda t, y: y.narrow(1, 1, 2).mul_(t.arange(6.).reshape(3, 2)),
    "select": lambda t, y: y.select(1, -1).sub_(5),
    "view": lambda t, y: y.view(12)[3:5].fill_(5.0),
    "reshape": lambda t, y: y.reshape(2, 6).mul_(-1),
    "permute-unsqueeze-squeeze": lambda t, y: y.permute(1, 0).unsqueeze(0).squeeze(0).mul_(3),
    "flatten": lambda t, y: y.flatten().div_(4),
    "unflatten": lambda t, y: y.unflatten(1, (2, 2))[:, 1].zero_(),
    "mT": lambda t, y: y.mT[1:].add_(1),
    "slice-step": lambda t, y: y[:, ::2].mul_(2),
    "advanced-on-view": lambda t, y: y[1:].__setitem__((slice(None), [0, 0, 3]), 9.0),
    "getitem-mixed-setitem": lambda t, y: y.__setitem__((0, [1, 2]), 4.0),
    "copy_": lambda t, y: y[0].copy_(t.arange(4.)),
    "masked_fill_": lambda t, y: y[1:].masked_fill_(y[1:] > 1, 0.5),
    "tril_": lambda t, y: y[:, 1:].tril_(),
}


@pytest.mark.parametrize("name", sorted(INPLACE_THROUGH))
def test_inplace_through_views_matches_torch(name):
    def f(t):
        x = leaf(t)
        y = x * 2
        INPLACE_THROUGH[name](t, y)
        (y ** 2).sum().backward()
        return y, y._version, x.grad
    same(f)


@pytest.mark.parametrize("name", ["diagonal", "select", "view", "slice-step", "mT"])
def test_inplace_through_views_double_backward(name):
    def f(t):
        x = leaf(t)
        y = x * x
        INPLACE_THROUGH[name](t, y)
        g = t.autograd.grad((y ** 2).sum(), x, create_graph=True)[0]
        return g, t.autograd.grad(g.sum(), x)[0]
    same(f)


VIEWS = {
    "view": lambda x: x.view(4, 3), "reshape": lambda x: x.reshape(12), "getitem": lambda x: x[1:, ::2],
    "transpose": lambda x: x.transpose(0, 1), "permute": lambda x: x.permute(1, 0),
    "expand": lambda x: x[:1].expand(5, 4), "squeeze": lambda x: x[:1].squeeze(0),
    "unsqueeze": lambda x: x.unsqueeze(1), "diagonal": lambda x: x.diagonal(-1),
    "select": lambda x: x.select(1, 2), "narrow": lambda x: x.narrow(0, 1, 2), "t": lambda x: x.t(),
    "T": lambda x: x.T, "mT": lambda x: x.mT, "flatten": lambda x: x.flatten(),
    "unflatten": lambda x: x.unflatten(0, (1, 3)), "split": lambda x: x.split(2, 1)[1],
    "chunk": lambda x: x.chunk(2)[0], "unbind": lambda x: x.unbind(1)[3],
    "broadcast_to": lambda x: x.broadcast_to((2, 3, 4)), "swapdims": lambda x: x.swapdims(0, 1),
    "ellipsis": lambda x: x[...], "none": lambda x: x[None], "view-of-view": lambda x: x[1:].t()[2],
}
COPIES = {
    "flip": lambda x: x.flip(0), "roll": lambda x: x.roll(1), "repeat": lambda x: x.repeat(1, 1),
    "tile": lambda x: x.tile((1,)), "reshape-copy": lambda x: x.t().reshape(12),
    "flatten-copy": lambda x: x.t().flatten(), "cat": lambda x: ndgrad.cat([x]) if isinstance(
        x, ndgrad.Tensor) else torch.cat([x]),
    "gather": lambda x: x.gather(0, (x > 100).long()), "index_select": lambda x: x.index_select(
        1, (x[0] > 100).long()), "advanced": lambda x: x[[0, 1]], "mask": lambda x: x[x > 0],
    "tril": lambda x: x.tril(), "diag": lambda x: x.diag(), "take": lambda x: x.take((x[0] > 9).long()),
    "masked_fill": lambda x: x.masked_fill(x > 100, 0.0), "masked_select": lambda x: x.masked_select(x > 0),
}


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_views_share_storage_and_version(name):
    def f(t):
        x = t.tensor(BASE)
        v = VIEWS[name](x)
        before = (v._is_view(), v._base is x, v._version)
        x.add_(1)
        seen = v.clone()
        if name not in ("expand", "broadcast_to"):
            v.mul_(10)
        return before, v._version, x._version, seen, x
    same(f)


@pytest.mark.parametrize("name", sorted(COPIES))
def test_copies_do_not_share_storage(name):
    def f(t):
        x = t.tensor(BASE)
        c = COPIES[name](x)
        before = (c._is_view(), c._base is None, c._version)
        x.add_(1)
        return before, c, c._version
    same(f)


def test_base_is_the_root_and_storage_is_numpy_shared():
    x = ndgrad.tensor(BASE)
    v = x[1:].t().unsqueeze(0)[0, 2]
    assert v._base is x and np.shares_memory(v.numpy(), x.numpy())
    v.fill_(-1)
    assert x._version == 1 and (x[1:, 2] == -1).all()


def test_views_of_leaves_and_their_inplace_errors():
    same(lambda t: leaf(t)[0].mul_(2))
    same(lambda t: leaf(t).t().add_(1))
    same(lambda t: leaf(t).diagonal().zero_())
    same(lambda t: leaf(t).view(12).__setitem__(0, 1.0))

    def no_grad_ok(t):
        x = leaf(t)
        with t.no_grad():
            x[0].mul_(2)
        return x, x._version
    same(no_grad_ok)


def test_multi_output_views_refuse_inplace():
    same(lambda t: (leaf(t) * 1).split(2, 1)[0].mul_(2))
    same(lambda t: (leaf(t) * 1).split([1, 2])[1].add_(2))
    same(lambda t: (leaf(t) * 1).chunk(2)[0].zero_())
    same(lambda t: (leaf(t) * 1).unbind(1)[0].mul_(2))

    def base_changed(t):
        y = leaf(t) * 1
        a, b = y.split(2)
        y.add_(1)
        return a.grad_fn

    same(base_changed)

    def without_grad(t):
        y = t.tensor(BASE)
        a, _ = y.split(2)
        a.mul_(2)
        return y
    same(without_grad)


def test_expanded_views_refuse_inplace_except_fills():
    same(lambda t: t.ones(3, 1).expand(3, 4).add_(1))
    same(lambda t: t.ones(3, 1).expand(3, 4).mul_(t.ones(3, 4)))

    def fills(t):
        x = t.ones(3, 1)
        x.expand(3, 4).zero_()
        y = t.ones(3)
        y.broadcast_to((2, 3)).fill_(2.0)
        return x, y, x._version
    same(fills)


def test_autograd_grad_through_inplace_on_views():
    def f(t):
        x = leaf(t)
        w = leaf(t, [1., 2., 3.])
        y = x * x
        y[:, 1].mul_(w)
        return t.autograd.grad((y ** 2).sum(), [x, w])
    same(f)


def test_view_sees_base_inplace_and_regenerates_grad_fn():
    def f(t):
        x = leaf(t)
        y = x * 1
        v = y[1]
        y.mul_(2)
        out = (v * v).sum()
        out.backward()
        return type(v.grad_fn).__name__, v, x.grad
    same(f)


def test_saved_view_modified_inplace_is_detected():
    def f(t):
        x = leaf(t)
        y = x * 1
        v = y[0]
        z = v.exp()
        y.mul_(2)
        z.sum().backward()
    same(f)


def test_setitem_value_gradient_through_view():
    def f(t):
        x = t.zeros(3, 4)
        w = leaf(t, [1., 2., 3., 4.])
        x[1] = w
        x.t()[2:, 0] = w[:2] * 3
        (x ** 2).sum().backward()
        return x, w.grad, x._version
    same(f)


def test_contiguous_copies_only_when_needed():
    def f(t):
        x = leaf(t)
        y = x.t().contiguous()
        z = y.view(-1) * t.arange(12.)
        z.sum().backward()
        return (x.contiguous() is x, y.is_contiguous(), y._is_view(), x.t().is_contiguous(), z,
                x.grad)
    same(f)


def test_restriding_a_view_in_place_keeps_it_a_view_of_the_base():
    def f(t):
        x = leaf(t)
        y = x * 1
        v = y[1:]
        v.t_()
        names = [type(v.grad_fn).__name__, type(y.grad_fn).__name__]
        v.mul_(t.arange(8.).reshape(4, 2))
        names.append(type(y.grad_fn).__name__)
        (y * y).sum().backward()
        return names, v._base is y, y._version, v._version, y, v, x.grad
    same(f)


def test_sibling_views_regenerate_after_a_view_is_restrided():
    def f(t):
        x = leaf(t)
        y = x * 1
        v, w = y[1], y[2:]
        v.unsqueeze_(1)
        w.mul_(3)
        v.mul_(2)
        out = (w * w).sum() + (v * v).sum()
        out.backward()
        return type(w.grad_fn).__name__, type(v.grad_fn).__name__, y._version, x.grad
    same(f)


def test_restride_bumps_the_version_saved_tensors_check():
    def f(t):
        x = leaf(t)
        y = x * 1
        y.t_()
        z = y * y
        y.unsqueeze_(0)
        z.sum().backward()
    same(f)


def test_scatter_into_a_view_rewrites_the_base():
    def f(t):
        x = leaf(t)
        src = leaf(t, [[5., 6.]])
        y = x * 1
        v = y.t()[1:]
        v.scatter_(1, t.tensor([[2, 0]]), src * 2)
        v.index_add_(0, t.tensor([2, 2]), src.t().expand(2, 3), alpha=-1)
        (y ** 2).sum().backward()
        return type(y.grad_fn).__name__, type(v.grad_fn).__name__, y, x.grad, src.grad
    same(f)


@pytest.mark.parametrize("op", ["add_", "copy_", "sub_"])
def test_view_used_after_an_inplace_op_with_a_tensor_that_depends_on_it(op):
    def f(t):
        x = leaf(t)
        y = x * x
        v = y.t()
        getattr(v, op)(v * 2)
        out = (v * t.arange(12.).reshape(4, 3)).sum()
        out.backward()
        return type(v.grad_fn).__name__, v, x.grad
    same(f)


# -- views cut before their base was reshaped in place (t_, transpose_, squeeze_, unsqueeze_) ---
# The old views still see the same storage; their gradients must follow it, not the new shape.
RESTRIDES = {
    "t_": lambda y: y.t_(),
    "transpose_": lambda y: y.transpose_(0, 1),
    "swapdims_": lambda y: y.swapdims_(1, 0),
    "swapaxes_": lambda y: y.swapaxes_(0, -1),
    "unsqueeze_": lambda y: y.unsqueeze_(1),
    "squeeze_": lambda y: y.unsqueeze_(0).squeeze_(0),
    "t_twice": lambda y: y.t_().unsqueeze_(2).t_(),
}
OLD_VIEWS = {
    "view": lambda y: y.view(12),
    "row": lambda y: y[1],
    "column_slice": lambda y: y[:, 1:3],
    "transposed": lambda y: y.t(),
    "view_of_view": lambda y: y.view(2, 6)[:, 1:],
    "unflatten_then_index": lambda y: y.view(2, 2, 3)[1, :, ::2],
}


@pytest.mark.parametrize("restride", RESTRIDES)
@pytest.mark.parametrize("cut", OLD_VIEWS)
def test_gradient_through_a_view_cut_before_its_base_was_restrided(restride, cut):
    def f(t):
        x = leaf(t)
        y = x * 1
        w = OLD_VIEWS[cut](y)
        RESTRIDES[restride](y)
        k = t.tensor(np.linspace(-1, 2, w.numel()).reshape(w.shape))
        (w * k).sum().backward()
        return w, w.grad_fn.name(), y._version, w._version, x.grad
    same(f)


@pytest.mark.parametrize("restride", RESTRIDES)
@pytest.mark.parametrize("cut", OLD_VIEWS)
def test_inplace_through_a_view_cut_before_its_base_was_restrided(restride, cut):
    def f(t):
        x = leaf(t)
        s = leaf(t, np.array(1.5))
        y = x * 1
        w = OLD_VIEWS[cut](y)
        RESTRIDES[restride](y)
        w.mul_(s).add_(1)
        k = t.tensor(np.linspace(-1, 2, y.numel()).reshape(y.shape))
        (y * k).sum().backward()
        return y, w, y.grad_fn.name(), y._version, w._version, x.grad, s.grad
    same(f)


def test_new_view_of_an_old_view_after_the_base_was_restrided():
    def f(t):
        x = leaf(t)
        y = x * 1
        w = y.view(12)
        y.t_()
        v = w[2:9:3]
        v.mul_(x[0, :3])
        (y * y).sum().backward()
        return y, v, v.grad_fn.name(), x.grad
    same(f)


def test_double_backward_through_a_view_cut_before_a_restride():
    def f(t):
        x = leaf(t)
        y = x * x
        w = y.view(12)
        y.t_()
        w[3:].mul_(x.view(12)[:9])
        g, = t.autograd.grad((y ** 2).sum(), x, create_graph=True)
        (g * g).sum().backward()
        return g, x.grad
    same(f)


def test_views_cut_after_a_restride_use_the_new_layout():
    def f(t):
        x = leaf(t)
        y = x * 1
        old = y.view(12)
        y.t_()
        new = y[1:, ::2]
        new.mul_(2)
        (old * t.arange(12.)).sum().backward()
        return old, new, x.grad
    same(f)


def test_restride_of_a_plain_tensor_with_views_then_autograd():
    def f(t):
        x = leaf(t)
        y = t.tensor(np.arange(12.).reshape(3, 4))
        w = y.view(12)
        y.t_()
        w[5:].mul_(x.view(12)[:7])
        (y * t.arange(12.).view(4, 3)).sum().backward()
        return y, w.detach(), x.grad
    same(f)


def test_forward_ad_through_a_view_cut_before_a_restride_is_refused():
    import ndgrad.autograd.forward_ad as fwAD
    y = ndgrad.tensor(np.arange(6.).reshape(2, 3))
    w = y.view(6)
    y.t_()
    with fwAD.dual_level():
        d = fwAD.make_dual(ndgrad.ones(6), ndgrad.ones(6))
        with pytest.raises(RuntimeError, match=r"reshaped in place .*clone\(\) the view"):
            w.mul_(d)
    np.testing.assert_array_equal(w.numpy(), np.arange(6.))


def test_forward_ad_through_a_strided_view_cut_before_a_restride():
    import ndgrad.autograd.forward_ad as fwAD
    import torch.autograd.forward_ad as tfwAD

    def f(t, ad):
        y = t.tensor(np.arange(6.).reshape(2, 3))
        w = y[:, 1:]
        y.t_()
        with ad.dual_level():
            d = ad.make_dual(t.ones(2, 2), t.arange(4.).view(2, 2))
            w.mul_(d)
            return ad.unpack_dual(y).tangent.numpy().copy(), y.numpy().copy()
    for a, b in zip(f(torch, tfwAD), f(ndgrad, fwAD)):
        np.testing.assert_array_equal(b, a)


def test_view_cut_64_restrides_ago_still_follows_its_base():
    def f(t):
        x = leaf(t)
        y = x * 1
        w = y.view(12)
        for _ in range(63):
            y.t_()
        (w * t.arange(12.)).sum().backward()
        return y._version, x.grad
    same(f)


def test_view_cut_more_than_64_restrides_ago_is_refused():
    x = leaf(ndgrad)
    y = x * 1
    w = y.view(12)
    for _ in range(65):
        y.t_()
    assert len(y.__dict__["_restrides"]) == 64  # a loop of t_() holds bounded memory
    with pytest.raises(RuntimeError, match=r"more than 64 times.*clone\(\) the view"):
        (w * 2).sum().backward()

    def f(t):  # views cut after the restrides are fine
        x = leaf(t)
        y = x * 1
        for _ in range(65):
            y.t_()
        fresh = y[1:, ::2]
        fresh.mul_(t.tensor([[1.], [2.], [3.]]))
        (y * t.arange(12.).view(4, 3)).sum().backward()
        return y, x.grad
    same(f)


def test_double_backward_through_an_old_view_read_after_a_restride():
    def f(t):
        x = leaf(t)
        y = x * x
        w = y.view(12)
        y.t_()
        g, = t.autograd.grad((w ** 3 * t.arange(12.)).sum(), x, create_graph=True)
        (g * g).sum().backward()
        return g, x.grad, w.grad_fn.name()
    same(f)


# -- views of a tensor without history, when an in-place op gives it one -------------------------
UNTRACKED_VIEWS = {  # views of a 3 x 4 tensor, cut before or after x[0] is written in place
    "slice": lambda x: x[:2, 1:], "select": lambda x: x[:, 2], "view": lambda x: x.view(12)[2:9],
    "reshape": lambda x: x.reshape(2, 6), "transpose": lambda x: x.t(),
    "diagonal": lambda x: x.diagonal(), "unsqueeze": lambda x: x[1:].unsqueeze(0),
    "view-of-a-view": lambda x: x[:, 1:].t()[1],
}
WRITES = {
    "mul_": lambda a, w: a.mul_(w),
    "copy_": lambda a, w: a.copy_(w),
    "+=": lambda a, w: a.__iadd__(w),
}
WEIGHTS = np.arange(12.).reshape(3, 4) % 5 - 2


def _write_then_read(t, kind, order, write, w):
    """x (no history), its row a written in place with w, and a view b cut before or after."""
    x = t.tensor(BASE)
    a = x[0]
    b = UNTRACKED_VIEWS[kind](x) if order == "before" else None
    WRITES[write](a, w)
    if b is None:
        b = UNTRACKED_VIEWS[kind](x)
    return x, a, b


@pytest.mark.parametrize("write", sorted(WRITES))
@pytest.mark.parametrize("order", ["before", "after"])
@pytest.mark.parametrize("kind", sorted(UNTRACKED_VIEWS))
def test_views_of_an_untracked_tensor_require_grad_after_an_inplace_write(kind, order, write):
    def f(t):
        w = leaf(t, BASE[0] * 3)
        x, a, b = _write_then_read(t, kind, order, write, w)
        flags = [v.requires_grad for v in (x, a, b)] + [v.is_leaf for v in (x, a, b)]
        names = [type(v.grad_fn).__name__ for v in (x, a, b)]
        gb = t.autograd.grad((b * 2).sum(), w, retain_graph=True)
        gx = t.autograd.grad((x * t.tensor(WEIGHTS)).sum(), w)
        return flags, names, b, gb, gx
    same(f)

    # and the gradient of both reads against central differences
    def loss(w):
        x, _, b = _write_then_read(ndgrad, kind, order, write, w)
        return (b * 2).sum() + (x * ndgrad.tensor(WEIGHTS)).sum()
    w0, d = BASE[0] * 3, np.random.default_rng(2).uniform(-1, 1, 4)
    w = ndgrad.tensor(w0, requires_grad=True)
    (g,) = ndgrad.autograd.grad(loss(w), w)
    h = 1e-6
    fd = (loss(ndgrad.tensor(w0 + h * d)).item() - loss(ndgrad.tensor(w0 - h * d)).item()) / (2 * h)
    np.testing.assert_allclose(float((g.numpy() * d).sum()), fd, rtol=1e-7, atol=1e-9)


def test_a_view_whose_base_got_a_history_reads_as_a_leaf_until_its_grad_fn_is_read():
    # PyTorch's in-place check and retain_grad see the grad_fn the view had before (none).
    def inplace_first(t):
        x = t.zeros(4)
        b = x[2:]
        x[:2].mul_(leaf(t, [1., 2.]))
        b.add_(1)

    def retain_first(t):
        x = t.zeros(4)
        b = x[2:]
        x[:2].copy_(leaf(t, [1., 2.]))
        b.retain_grad()
        return b.retains_grad

    def read_first(t):
        x = t.zeros(4)
        b = x[2:]
        w = leaf(t, [1., 2.])
        x[:2].copy_(w)
        name = type(b.grad_fn).__name__
        b.add_(w)
        return name, b, x, t.autograd.grad((x * t.arange(4.)).sum(), w)
    same(inplace_first)
    same(retain_first)
    same(read_first)


def test_saved_untracked_view_modified_through_its_base_names_its_new_grad_fn():
    def f(t):
        x = t.zeros(4)
        b = x[2:]
        y = b * leaf(t, [1., 2.])
        x[:2].mul_(leaf(t, [3., 4.]))
        y.sum().backward()
    same(f)


def test_views_made_in_no_grad_mode_refuse_a_tracked_inplace():
    def read_after_base_write(t):
        x = t.zeros(4)
        with t.no_grad():
            b = x[2:]
        x[:2].mul_(leaf(t, [1., 2.]))
        return b.requires_grad, b * 2

    def write_through(t):
        x = t.zeros(4)
        with t.no_grad():
            a = x[:2]
        a.mul_(leaf(t, [1., 2.]))

    def write_through_untracked(t):  # nothing requires grad: allowed
        x = t.zeros(4)
        with t.no_grad():
            a = x[:2]
        a.mul_(2)
        return x, a

    def view_of_a_tracked_tensor(t):
        y = leaf(t) * 1
        with t.no_grad():
            v = y[1:]
        y[0].mul_(2)
        return v.grad_fn
    for f in (read_after_base_write, write_through, write_through_untracked,
              view_of_a_tracked_tensor):
        same(f)


def test_multi_output_views_of_an_untracked_tensor_refuse_a_tracked_inplace():
    def base_written(t):
        x = t.zeros(2, 3)
        rows = x.unbind(0)
        x[:, 0].copy_(leaf(t, [1., 2.]))
        return rows[1].requires_grad, rows[1].grad_fn

    def view_written(t):
        x = t.zeros(2, 3)
        a, _ = x.split(1)
        a.mul_(leaf(t, [[1., 2., 3.]]))
    same(base_written)
    same(view_written)


# -- views cut before their base came to require grad -------------------------------------------
# PyTorch: they require grad with their base but have no grad_fn and no edge to it, so what flows
# through them is dropped, until the base changes in place (then their grad_fn is regenerated).
CUTS = {
    "slice": lambda x: x[1:], "view": lambda x: x.view(2, 2), "t": lambda x: x.view(2, 2).t(),
    "select": lambda x: x[0], "unsqueeze": lambda x: x.unsqueeze(0),
    "unbind": lambda x: x.unbind()[1], "split": lambda x: x.split(2)[1],
    "expand": lambda x: x[None].expand(2, 4), "diagonal": lambda x: x.view(2, 2).diagonal(),
    "reshape": lambda x: x.reshape(2, 2), "narrow": lambda x: x.narrow(0, 1, 2),
    "detach": lambda x: x.detach(), "view of a view": lambda x: x[1:][1:],
}


@pytest.mark.parametrize("cut", sorted(CUTS))
def test_view_cut_before_requires_grad_(cut):
    def f(t):
        x = t.zeros(4)
        v = CUTS[cut](x)
        x.requires_grad_()
        before = [v.requires_grad, v.grad_fn, v.is_leaf, repr(v)]
        y = v * 2
        edges = [n and n.name() for n, _ in y.grad_fn.next_functions]
        y.sum().backward()
        return before, y.requires_grad, edges, x.grad, v.grad, v.requires_grad, v.grad_fn
    same(f)


STALE = [
    "(v * 2).sum().backward(); r = x.grad",
    "v.backward(t.ones(3))", "t.autograd.grad(v, v, t.ones(3))",
    "r = t.autograd.grad((v * 2).sum(), v)", "r = t.autograd.grad((v * 2).sum(), x)",
    "r = t.autograd.grad((v * 2).sum() + x.sum(), [x, v], allow_unused=True)",
    "(v * 2).sum().backward(inputs=[x]); r = x.grad",
    "r = [n and n.name() for n, _ in (v + (x * 1)[1:]).grad_fn.next_functions]",
    "v.retain_grad(); r = v.retains_grad",
    "v.register_hook(lambda g: 1 / 0); (v * 2).sum().backward(); r = v.grad",
    "r = [v.detach().requires_grad, v.clone().requires_grad, v.clone().grad_fn.next_functions[0][0]]",
    "y = x.clone(); y[1:] = v; r = [n and n.name() for n, _ in y.grad_fn.next_functions]",
    "x.requires_grad_(False); r = [v.requires_grad, v.grad_fn, v.is_leaf]; x.requires_grad_(); "
    "r += [v.requires_grad, v.grad_fn]",
    "v.requires_grad_(False); r = [v.requires_grad, v.is_leaf]",
    "v.requires_grad_(); (v * 2).sum().backward(); r = [v.grad, x.grad, v.grad_fn]",
    "r = v.grad", "v.mul_(2)", "r = [copy.deepcopy(v).requires_grad]",
    "w = v[1:]; r = [w.requires_grad, w.grad_fn.name(), w.is_leaf, w.grad_fn.next_functions[0][0]]",
    "r = [(v * y).sum().backward(), y.grad, x.grad]",
    "with t.no_grad(): r = [(v * 2).requires_grad]",
    # the base changed in place: the view's grad_fn is made from the base, and gradients flow
    "with t.no_grad(): x.add_(1)\n(v * 2).sum().backward(); r = [v.grad_fn.name(), x.grad]",
]


@pytest.mark.parametrize("code", STALE)
def test_view_cut_before_requires_grad_in_use(code):
    import copy

    def f(t):
        x = t.zeros(4)
        v = x[1:]
        x.requires_grad_()
        env = {"t": t, "x": x, "v": v, "copy": copy, "y": t.ones(3, requires_grad=True),
               "r": None}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            exec(code, env)
        return env["r"], [str(w.message) for w in caught]
    same(f)


def test_view_cut_in_no_grad_or_before_a_change_of_its_base():
    def no_grad_view(t):
        x = t.zeros(4)
        with t.no_grad():
            v = x[1:]
        x.requires_grad_()
        r = [v.requires_grad, v.grad_fn]
        (v * 2).sum().backward()
        return r, x.grad

    def written_in_place(t):
        x = t.zeros(4)
        with t.no_grad():
            v = x[1:]
        x.requires_grad_()
        v.mul_(2)

    def changed_before_requires_grad(t):
        x = t.zeros(4)
        v = x[1:]
        x.add_(1)
        x.requires_grad_()
        (v * 2).sum().backward()
        return v.grad_fn.name(), x.grad
    for f in (no_grad_view, written_in_place, changed_before_requires_grad):
        same(f)
