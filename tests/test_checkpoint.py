"""Activation checkpointing: the same gradients as without it, PyTorch's warnings and errors, and
a lower memory peak on a deep MLP."""
import gc
import tracemalloc
import warnings

import numpy as np
import pytest
import torch
import torch.utils.checkpoint

import ndgrad
from ndgrad.utils.checkpoint import checkpoint, checkpoint_sequential


def _segment(lib, w):
    return lambda t: ((t * w).tanh().exp() * t).sin()


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_same_gradients_as_without_checkpoint(use_reentrant):
    x0, w0 = np.array([0.5, 1.0, 2.0]), np.array([1.5, -1.0, 0.5])
    x = ndgrad.tensor(x0, requires_grad=True)
    w = ndgrad.tensor(w0, requires_grad=True)  # a parameter the segment closes over
    _segment(ndgrad, w)(x).sum().backward()
    plain = (x.grad.numpy().copy(), w.grad.numpy().copy())
    x.grad = w.grad = None
    out = checkpoint(_segment(ndgrad, w), x, use_reentrant=use_reentrant)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), plain[0])
    np.testing.assert_array_equal(w.grad.numpy(), plain[1])
    tx, tw = torch.tensor(x0, requires_grad=True), torch.tensor(w0, requires_grad=True)
    tout = torch.utils.checkpoint.checkpoint(_segment(torch, tw), tx, use_reentrant=use_reentrant)
    tout.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    assert out.grad_fn.name() == tout.grad_fn.name()


def test_double_backward_without_reentrant():
    x0 = np.array([0.5, 1.0, 2.0])
    res = []
    for lib, ck in ((ndgrad, checkpoint), (torch, torch.utils.checkpoint.checkpoint)):
        x = lib.tensor(x0, requires_grad=True)
        g, = lib.autograd.grad(ck(lambda t: t.exp() * t * t, x, use_reentrant=False).sum(), x,
                               create_graph=True)
        g2, = lib.autograd.grad(g.sum(), x)
        res.append((g.detach().numpy(), g2.numpy()))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-12)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-12)


def test_random_ops_replay_the_same_numbers():
    ndgrad.manual_seed(0)
    x = ndgrad.ones(5, requires_grad=True)
    for reentrant in (True, False):
        x.grad = None
        out = checkpoint(lambda t: t * ndgrad.rand(5), x, use_reentrant=reentrant)
        out.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), out.detach().numpy())


def _messages(lib, ck):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ck(lambda t: t * 2, lib.ones(3, requires_grad=True))
        o = ck(lambda t: t * 2, lib.ones(3), use_reentrant=True)
    x = lib.ones(3, requires_grad=True)
    try:
        lib.autograd.grad(ck(lambda t: t.exp(), x, use_reentrant=True).sum(), x)
        err = None
    except RuntimeError as e:
        err = str(e)
    return [str(m.message) for m in w if "jit" not in str(m.message)], o.requires_grad, err


def test_warnings_and_errors_match_torch():
    assert _messages(ndgrad, checkpoint) == _messages(torch, torch.utils.checkpoint.checkpoint)


def test_checkpoint_sequential():
    fs = [lambda t: t.sin(), lambda t: t * 3, lambda t: t.exp(), lambda t: t.tanh()]
    x = ndgrad.tensor([0.1, 0.2], requires_grad=True)
    checkpoint_sequential(fs, 2, x, use_reentrant=False).sum().backward()
    tx = torch.tensor([0.1, 0.2], requires_grad=True)
    torch.utils.checkpoint.checkpoint_sequential(fs, 2, tx, use_reentrant=False).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


def _mlp_peak(ck, use_reentrant=True):
    """Peak traced bytes of forward + backward through a 24-layer MLP, 4 layers per segment."""
    rng = np.random.default_rng(0)
    ws = [ndgrad.tensor(rng.normal(0, 0.05, (256, 256)), requires_grad=True) for _ in range(24)]
    x = ndgrad.tensor(rng.normal(0, 1, (512, 256)), requires_grad=True)

    def block(i):
        def run(h):
            for w in ws[i:i + 4]:
                h = (h @ w).tanh() * 1.5
            return h
        return run

    gc.collect()
    tracemalloc.start()
    h = x
    for i in range(0, 24, 4):
        h = checkpoint(block(i), h, use_reentrant=use_reentrant) if ck else block(i)(h)
    h.sum().backward()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, x.grad.numpy().copy()


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_checkpoint_lowers_peak_memory(use_reentrant):
    plain, g_plain = _mlp_peak(False)
    ck, g_ck = _mlp_peak(True, use_reentrant)
    np.testing.assert_array_equal(g_ck, g_plain)
    assert ck < 0.5 * plain, (ck, plain)
