"""Graph inspection (next_functions, name, node hooks, ``_saved_*``) and saved-tensor hooks,
compared with PyTorch."""
import numpy as np
import pytest
import torch

import ndgrad

X = np.array([0.5, 2.0, 1.5])


def _show(v):
    if hasattr(v, "detach"):
        fn = v.grad_fn
        return ("tensor", v.detach().numpy().tolist(), str(v.dtype), v.requires_grad,
                None if fn is None else fn.name())
    return v


SAVED = ["self", "other", "exponent", "result", "self_sym_sizes", "dim", "keepdim", "alpha",
         "condition", "self_sym_numel"]
EXPRS = {
    "mul": lambda lib, x: x * x.exp(),
    "mul_scalar": lambda lib, x: x * 2,
    "pow_scalar": lambda lib, x: x ** 2,
    "pow_tensor": lambda lib, x: x ** x,
    "rpow": lambda lib, x: 2 ** x,
    "exp": lambda lib, x: x.exp(),
    "div": lambda lib, x: x / x.exp(),
    "log": lambda lib, x: x.log(),
    "sqrt": lambda lib, x: x.sqrt(),
    "tanh": lambda lib, x: x.tanh(),
    "sigmoid": lambda lib, x: x.sigmoid(),
    "sin": lambda lib, x: x.sin(),
    "cos": lambda lib, x: x.cos(),
    "abs": lambda lib, x: x.abs(),
    "relu": lambda lib, x: x.relu(),
    "reciprocal": lambda lib, x: x.reciprocal(),
    "sum": lambda lib, x: x.sum(),
    "sum_dim": lambda lib, x: x.sum(0),
    "mean": lambda lib, x: x.mean(),
    "mean_dim": lambda lib, x: x.mean(0, keepdim=True),
    "add": lambda lib, x: x + x,
    "sub": lambda lib, x: x - x,
    "reshape": lambda lib, x: x.reshape(3, 1),
    "expand": lambda lib, x: x.reshape(3, 1).expand(3, 2),
    "where": lambda lib, x: lib.where(x > 1, x, x * 2),
}


def _saved_attrs(lib, key):
    x = lib.tensor(X, requires_grad=True)
    fn = EXPRS[key](lib, x).grad_fn
    out = {"name": fn.name()}
    for a in SAVED:
        try:
            v = getattr(fn, "_saved_" + a)
        except AttributeError:
            continue
        out[a] = _show(v)
    return out


@pytest.mark.parametrize("key", [k for k in EXPRS if k not in ("mul_scalar",)])
def test_saved_values_match_torch(key):
    got, want = _saved_attrs(ndgrad, key), _saved_attrs(torch, key)
    assert got["name"] == want["name"]
    for a, w in want.items():
        assert a in got, f"{want['name']}._saved_{a} missing"
        g = got[a]
        if isinstance(w, tuple) and w and w[0] == "tensor":
            assert g[0] == "tensor" and g[2:] == w[2:]
            np.testing.assert_allclose(g[1], w[1], rtol=1e-6)
        else:
            assert g == w, a


def test_saved_self_of_a_leaf_is_the_leaf_and_freed_after_backward():
    for lib in (torch, ndgrad):
        x = lib.tensor(X, requires_grad=True)
        y = x * x.exp()
        assert y.grad_fn._saved_self is x
        y.sum().backward()
        with pytest.raises(RuntimeError, match="Trying to backward through the graph a second"):
            y.grad_fn._saved_self


def _structure(lib):
    x = lib.tensor(X, requires_grad=True)
    w = lib.tensor(X * 2, requires_grad=True)
    y = (x * w).exp().sum()
    fn = y.grad_fn

    def walk(f, depth=0):
        if f is None:
            return None
        return (f.name() if hasattr(f, "name") else type(f).__name__,
                [(walk(n, depth + 1), nr) for n, nr in f.next_functions])
    return walk(fn)


def test_next_functions_match_torch():
    assert _structure(ndgrad) == _structure(torch)


def _node_hooks(lib):
    x = lib.tensor(X, requires_grad=True)
    y = x.exp()
    z = (y * 3).sum()
    seen = []
    y.grad_fn.register_prehook(lambda go: seen.append(("pre", go[0].tolist())))

    def post(gi, go):
        seen.append(("post", gi[0].tolist(), go[0].tolist()))
        return (gi[0] * 2,)
    h = y.grad_fn.register_hook(post)
    z.backward(retain_graph=True)
    first = x.grad.tolist()
    h.remove()
    x.grad = None
    z.backward()
    return seen, first, x.grad.tolist()


def test_node_hooks_match_torch():
    got, want = _node_hooks(ndgrad), _node_hooks(torch)
    assert len(got[0]) == len(want[0])
    for g, w in zip(got[0], want[0]):
        assert g[0] == w[0]
        for a, b in zip(g[1:], w[1:]):
            np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6)
    np.testing.assert_allclose(got[2], want[2], rtol=1e-6)


def _hooked(lib):
    packed = []

    def pack(t):
        packed.append(tuple(t.shape))
        return t * 1

    x = lib.tensor(X, requires_grad=True)
    with lib.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = x.exp() * x
    info = (list(packed), _show(y.grad_fn._saved_self), _show(y.grad_fn._saved_other))
    g, = lib.autograd.grad(y.sum(), x, create_graph=True)
    g2, = lib.autograd.grad(g.sum(), x)
    return info, g.tolist(), g2.tolist()


def test_saved_tensors_hooks_match_torch():
    got, want = _hooked(ndgrad), _hooked(torch)
    assert got[0][0] == want[0][0]
    for g, w in zip(got[0][1:], want[0][1:]):
        assert g[2:] == w[2:]
        np.testing.assert_allclose(g[1], w[1], rtol=1e-6)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)
    np.testing.assert_allclose(got[2], want[2], rtol=1e-12)


def test_unpack_hook_value_is_what_backward_uses():
    x = ndgrad.tensor(X, requires_grad=True)
    with ndgrad.autograd.graph.saved_tensors_hooks(lambda t: t.detach().numpy().copy(),
                                                   lambda a: ndgrad.tensor(a * 0 + 10)):
        y = x * x  # both factors are replaced by 10 when backward unpacks them
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [20., 20., 20.])


def test_hooks_nest_and_apply_to_custom_functions():
    calls = []

    class Sq(ndgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 2 * x * g

    x = ndgrad.tensor(X, requires_grad=True)
    outer = ndgrad.autograd.graph.saved_tensors_hooks(lambda t: calls.append("outer") or t,
                                                      lambda t: t)
    inner = ndgrad.autograd.graph.saved_tensors_hooks(lambda t: calls.append("inner") or t,
                                                      lambda t: t)
    with outer:
        with inner:
            y = Sq.apply(x)
        z = y.exp()
    (y.sum() + z.sum()).backward()
    assert calls == ["inner", "outer"]
    np.testing.assert_allclose(x.grad.numpy(), 2 * X + np.exp(X ** 2) * 2 * X)


def test_save_on_cpu_and_no_cost_when_off():
    from ndgrad import _ops
    x = ndgrad.tensor(X, requires_grad=True)
    with ndgrad.autograd.graph.save_on_cpu():
        assert _ops._ON_RECORD is not None
        y = (x * x).sum()
    assert _ops._ON_RECORD is None
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * X)
