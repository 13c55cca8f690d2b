"""vmap against torch.func.vmap: batching rules, in_dims/out_dims, nesting, the loop fallback,
composition with grad (per-sample gradients) and errors."""
import numpy as np
import pytest
import torch
import torch.func as tf

import ndgrad
import ndgrad.func as nf
import ndgrad.nn.functional as NF
import torch.nn.functional as TF
from ndgrad import _vmap


def close(a, b, atol=1e-10):
    if isinstance(b, (tuple, list)):
        assert isinstance(a, type(b)) and len(a) == len(b)
        for x, y in zip(a, b):
            close(x, y, atol)
        return
    assert isinstance(a, ndgrad.Tensor) and type(a) is ndgrad.Tensor
    assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
    assert str(a.dtype) == str(b.dtype)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=atol, rtol=1e-7)


def both(fn, *arrays, **kw):
    """Run ``fn(lib, vmap)(*tensors)`` with ndgrad and torch; compare."""
    a = fn(ndgrad, nf.vmap, NF)(*[ndgrad.tensor(x) if isinstance(x, np.ndarray) else x
                                  for x in arrays])
    b = fn(torch, tf.vmap, TF)(*[torch.tensor(x) if isinstance(x, np.ndarray) else x
                                 for x in arrays])
    close(a, b, **kw)


CASES = {
    "elementwise": lambda m, v, F: v(lambda t: (m.sin(t) * 2 + t.exp()) / (1 + t * t)),
    "broadcast_unbatched_more_dims": lambda m, v, F: v(lambda t, u: t * u, in_dims=(0, None)),
    "sum_dim": lambda m, v, F: v(lambda t: t.sum(0)),
    "sum_all": lambda m, v, F: v(lambda t: t.sum()),
    "mean_neg_dim": lambda m, v, F: v(lambda t: t.mean(-1, keepdim=True)),
    "reshape": lambda m, v, F: v(lambda t: t.reshape(-1, 1) + t.view(1, -1)),
    "index": lambda m, v, F: v(lambda t: t[1:] * t[0]),
    "adv_index": lambda m, v, F: v(lambda t: t[[0, 2, 2]]),
    "transpose": lambda m, v, F: v(lambda t: t.unsqueeze(0).transpose(0, 1) @ t.unsqueeze(0)),
    "permute": lambda m, v, F: v(lambda t: t.reshape(1, 3, 1).permute(2, 0, 1).squeeze()),
    "softmax": lambda m, v, F: v(lambda t: F.log_softmax(t, -1) + F.softmax(t, 0)),
    "where": lambda m, v, F: v(lambda t: m.where(t > 0, t, t * 0.1)),
}


@pytest.mark.parametrize("name", CASES)
def test_batching_rules_match_torch(name, rng):
    x = rng.standard_normal((4, 3))
    if name == "broadcast_unbatched_more_dims":
        both(CASES[name], x, rng.standard_normal((2, 3)))
    else:
        both(CASES[name], x)


@pytest.mark.parametrize("shapes", [((5, 3), (3, 2)), ((5, 3), (3,)), ((5, 2, 3), (3, 4)),
                                    ((5, 3), (5, 3, 2)), ((5, 3), (5, 3))])
def test_matmul_ranks(shapes, rng):
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    in_b = 0 if shapes[1][0] == 5 else None
    both(lambda m, v, F: v(lambda p, q: p @ q, in_dims=(0, in_b)), a, b)
    both(lambda m, v, F: v(lambda p, q: m.matmul(p, q), in_dims=(0, in_b)), a, b)


def test_linear_and_unbatched_operand_with_more_dims(rng):
    w, bias = rng.standard_normal((4, 3)), rng.standard_normal(4)
    both(lambda m, v, F: v(lambda t, w, b: F.linear(t, w, b), in_dims=(0, None, None)),
         rng.standard_normal((5, 3)), w, bias)
    # the unbatched operand has more batch dims than the batched one
    both(lambda m, v, F: v(lambda t, u: t @ u, in_dims=(0, None)),
         rng.standard_normal((5, 2, 3)), rng.standard_normal((6, 3, 2)))


def test_in_dims_out_dims_and_pytrees(rng):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    both(lambda m, v, F: v(lambda t: t * 2, in_dims=1, out_dims=1), a)
    both(lambda m, v, F: v(lambda t, u: (t.sum(), u * t.sum()), in_dims=(1, 0), out_dims=(0, 1)),
         a, b)
    pa = ndgrad.tensor(a)
    out = nf.vmap(lambda d: d["p"].sum() * d["q"], in_dims=({"p": 1, "q": None},))(
        {"p": pa, "q": ndgrad.tensor(2.0)})
    ref = tf.vmap(lambda d: d["p"].sum() * d["q"], in_dims=({"p": 1, "q": None},))(
        {"p": torch.tensor(a), "q": torch.tensor(2.0)})
    close(out, ref)
    # an output that does not depend on the batch is expanded
    close(nf.vmap(lambda t: ndgrad.ones(2))(pa), tf.vmap(lambda t: torch.ones(2))(torch.tensor(a)))
    # out_dims=None for a non-tensor output
    assert nf.vmap(lambda t: (t, 3), out_dims=(0, None))(pa)[1] == 3


def test_nested_vmap(rng):
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 4))
    both(lambda m, v, F: v(v(lambda p, q: (p * q).sum())), a, rng.standard_normal((2, 3, 4)))
    both(lambda m, v, F: v(v(lambda p, q: p @ q, in_dims=(0, None)), in_dims=(None, 0)),
         b, rng.standard_normal((5, 4, 2)))
    both(lambda m, v, F: v(v(lambda p: p.sum(0), in_dims=1), in_dims=2), a)


def test_fallback_loop_is_used_and_correct(rng, monkeypatch):
    a = rng.standard_normal((4, 3))
    calls = []
    real = _vmap._fallback

    def spy(*args):
        calls.append(args[0].name)
        return real(*args)
    monkeypatch.setattr(_vmap, "_fallback", spy)
    # flip has no batching rule: it runs once per batch element
    both(lambda m, v, F: v(lambda t: m.flip(t, [0]) * t), a)
    assert "FlipBackward0" in calls
    # and it stays differentiable
    g = nf.vmap(nf.grad(lambda t: (ndgrad.flip(t, [0]) * t.exp()).sum()))(ndgrad.tensor(a))
    r = tf.vmap(tf.grad(lambda t: (torch.flip(t, [0]) * t.exp()).sum()))(torch.tensor(a))
    close(g, r)


def test_rules_need_no_loop(rng, monkeypatch):
    monkeypatch.setattr(_vmap, "_fallback", None)  # any fallback call would fail
    a = rng.standard_normal((4, 3))
    both(lambda m, v, F: v(lambda t: (t.exp() * t.sum() + t.reshape(3, 1)).mean(0)), a)
    both(lambda m, v, F: v(lambda t: m.logsumexp(t, 0) + t.amax(-1) + t.var(0) +
                           m.cumsum(t, 0).sum() + F.log_softmax(t, 0).std()), a)
    both(lambda m, v, F: v(lambda t: (t.unsqueeze(1) @ t.unsqueeze(0)).transpose(0, 1).t()), a)
    both(lambda m, v, F: v(lambda t, w: F.relu(F.linear(t, w)), in_dims=(0, None)),
         a, rng.standard_normal((2, 3)))


def test_promotion_follows_logical_dims():
    # a batched 0-d float64 and a float32 tensor: the 0-d operand does not promote
    x64, x32 = np.arange(3.0), np.ones(2, np.float32)
    both(lambda m, v, F: v(lambda s, t: s * t, in_dims=(0, None)), x64, x32)


def _mlp(lib, F):
    def loss(params, x, y):
        w1, b1, w2, b2 = params
        h = F.relu(F.linear(x, w1, b1))
        out = F.linear(h, w2, b2)
        return F.cross_entropy(out.unsqueeze(0), y.unsqueeze(0))
    return loss


def test_per_sample_gradients_of_an_mlp_match_a_loop(rng):
    shapes = [(16, 8), (16,), (3, 16), (3,)]
    params = [rng.standard_normal(s) * 0.5 for s in shapes]
    xs, ys = rng.standard_normal((6, 8)), rng.integers(0, 3, 6)
    p = tuple(ndgrad.tensor(q) for q in params)
    got = nf.vmap(nf.grad(_mlp(ndgrad, NF)), in_dims=(None, 0, 0))(
        p, ndgrad.tensor(xs), ndgrad.tensor(ys))
    # a loop of ordinary backward calls, one example at a time
    loss = _mlp(ndgrad, NF)
    for i in range(6):
        leaves = [ndgrad.tensor(q, requires_grad=True) for q in params]
        loss(leaves, ndgrad.tensor(xs[i]), ndgrad.tensor(ys[i])).backward()
        for g, leaf in zip(got, leaves):
            np.testing.assert_allclose(g[i].numpy(), leaf.grad.numpy(), atol=1e-12)
    ref = tf.vmap(tf.grad(_mlp(torch, TF)), in_dims=(None, 0, 0))(
        tuple(torch.tensor(q) for q in params), torch.tensor(xs), torch.tensor(ys))
    close(tuple(got), ref)


def test_vmap_inside_grad(rng):
    a = rng.standard_normal((4, 3))
    x = ndgrad.tensor(a, requires_grad=True)
    nf.vmap(lambda t: (t.sin() * t).sum())(x).sum().backward()
    tx = torch.tensor(a, requires_grad=True)
    tf.vmap(lambda t: (t.sin() * t).sum())(tx).sum().backward()
    close(x.grad, tx.grad)


def test_inplace_inside_vmap(rng):
    a = rng.standard_normal((4, 3))
    both(lambda m, v, F: v(lambda t: t.clone().mul_(2).add_(t.sum())), a)
    both(lambda m, v, F: v(lambda t, u: u.clone().add_(t), in_dims=(None, 0)),
         rng.standard_normal(3), a)


ERRORS = [
    (lambda v, m: v(lambda t: t.item())(m.ones(3)), RuntimeError),
    (lambda v, m: v(lambda t: bool(t))(m.ones(3)), RuntimeError),
    (lambda v, m: v(lambda a, b: a + b)(m.ones(2), m.ones(3)), ValueError),
    (lambda v, m: v(lambda a: a, in_dims=1)(m.ones(2)), ValueError),
    (lambda v, m: v(lambda a: a, in_dims=(0, 0))(m.ones(2)), ValueError),
    (lambda v, m: v(lambda a: a, in_dims=0)(3.0), ValueError),
    (lambda v, m: v(lambda a: a, in_dims=None)(m.ones(2)), ValueError),
    (lambda v, m: v(lambda a: m.ones(3).add_(a))(m.ones(3, 3)), RuntimeError),
    (lambda v, m: v(lambda a: 3)(m.ones(3)), ValueError),
    (lambda v, m: v(lambda a: a)(m.ones(())), ValueError),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(i):
    fn, exc = ERRORS[i]
    with pytest.raises(exc) as theirs:
        fn(tf.vmap, torch)
    with pytest.raises(exc) as ours:
        fn(nf.vmap, ndgrad)
    msg = str(theirs.value).replace("torch", "ndgrad")
    assert str(ours.value) == str(theirs.value) or str(ours.value) == msg


def test_chunk_size_and_randomness_are_accepted(rng):
    a = rng.standard_normal((5, 2))
    both(lambda m, v, F: v(lambda t: t * 3, chunk_size=2, randomness="same"), a)


def test_no_vmap_state_left_behind():
    from ndgrad import _ops
    with pytest.raises(RuntimeError):
        nf.vmap(lambda t: t.item())(ndgrad.ones(2))
    assert _ops._VMAP is None and not _vmap._LEVELS


def test_batched_index_tensors(rng):
    table, ids = rng.standard_normal((5, 3)), rng.integers(0, 5, (4, 2))
    both(lambda m, v, F: v(lambda i, t: t[i], in_dims=(0, None)), ids, table)
    both(lambda m, v, F: v(lambda i, t: t[i] * 2, in_dims=(0, 0)), ids, rng.standard_normal((4, 5)))
    both(lambda m, v, F: v(lambda i, t: F.embedding(i, t), in_dims=(0, None)), ids, table)


def test_batched_tensor_repr():
    seen = []
    nf.vmap(lambda t: seen.append(repr(t)) or t)(ndgrad.ones(2, 2))
    tseen = []
    tf.vmap(lambda t: tseen.append(repr(t)) or t)(torch.ones(2, 2))
    assert seen == tseen
