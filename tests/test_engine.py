"""The engine against PyTorch: backward, grad, accumulation, retain_graph, create_graph, hooks,
version counters, in-place rules, errors, deep graphs and freeing."""
import gc
import threading
import warnings
import weakref

import numpy as np
import pytest
import torch

import ndgrad
from both import outcome, same


def test_scalar_and_vector_backward():
    def f(t):
        x = t.tensor([1., 2., 3.], requires_grad=True)
        y = x ** 2
        y.backward(t.tensor([1., 0.5, 2.]))
        g1 = x.grad.clone()
        (x * 3).sum().backward()
        return g1, x.grad
    same(f)


ERRORS = [
    lambda t: t.tensor([1., 2.], requires_grad=True).mul(2).backward(),
    lambda t: t.tensor(1.).backward(),
    lambda t: (t.tensor(1.) * 2).backward(),
    lambda t: t.tensor([1., 2.], requires_grad=True).mul(2).backward(t.ones(3)),
    lambda t: t.tensor([1., 2.], requires_grad=True).mul(2).backward(3),
    lambda t: t.tensor([1., 2.], requires_grad=True).mul(2).sum().backward(inputs=[]),
    lambda t: t.autograd.grad(t.tensor([1., 2.], requires_grad=True).sum(), [t.ones(2)]),
    lambda t: t.autograd.grad(t.tensor([1., 2.], requires_grad=True).sum(), [t.ones(2, requires_grad=True)]),
    lambda t: t.autograd.grad(t.tensor([1., 2.], requires_grad=True).sum(),
                              [t.ones(2, requires_grad=True)], allow_unused=True),
    lambda t: t.autograd.grad(t.tensor([1., 2.], requires_grad=True).sum(),
                              [t.ones(2, requires_grad=True)], materialize_grads=True),
    lambda t: t.autograd.grad(t.tensor([1., 2.], requires_grad=True).sum(),
                              [t.ones(2, requires_grad=True)], materialize_grads=True, allow_unused=False),
    lambda t: t.autograd.grad(t.tensor([1., 2.], requires_grad=True).mul(2), [t.ones(2, requires_grad=True)]),
    lambda t: t.tensor(1., requires_grad=True).item(),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(i):
    same(ERRORS[i])


def test_backward_twice_needs_retain_graph():
    def twice(retain):
        def f(t):
            x = t.tensor([1., 2.], requires_grad=True)
            y = (x ** 2).sum()
            y.backward(retain_graph=retain)
            y.backward()
            return x.grad
        return f
    same(twice(False))
    same(twice(True))

    def no_saved(t):  # nodes that saved nothing can run again (pytorch#11192)
        x = t.tensor([1., 2.], requires_grad=True)
        k = 2 * x
        l1, l2 = (2 * k).sum(), (3 * k).sum()
        l1.backward()
        l2.backward()
        return x.grad
    same(no_saved)


def test_grad_function_and_inputs_argument():
    def f(t):
        a = t.tensor([1., 2.], requires_grad=True)
        b = t.tensor([3., 4.], requires_grad=True)
        y = (a * b).sum()
        ga, gb = t.autograd.grad(y, (a, b), retain_graph=True)
        y.backward(inputs=[a])
        return ga, gb, a.grad, b.grad
    same(f)

    def nonleaf(t):
        a = t.tensor([1., 2.], requires_grad=True)
        h = a * 3
        y = (h ** 2).sum()
        (gh,) = t.autograd.grad(y, h, retain_graph=True)
        y.backward(inputs=[h])
        return gh, h.grad, a.grad
    same(nonleaf)

    def outputs_list(t):
        a = t.tensor([1., 2.], requires_grad=True)
        return t.autograd.grad([a.sum(), (a * a).sum()], [a], grad_outputs=[t.tensor(2.), t.tensor(1.)])
    same(outputs_list)


def test_higher_order_derivatives():
    def f(t):
        x = t.tensor([0.5, 1.5], requires_grad=True)
        y = (x ** 3 * x.sin()).sum()
        (g1,) = t.autograd.grad(y, x, create_graph=True)
        (g2,) = t.autograd.grad(g1.sum(), x, create_graph=True)
        (g3,) = t.autograd.grad(g2.sum(), x)
        return [round(v, 5) for v in g1.tolist() + g2.tolist() + g3.tolist()]
    same(f)

    def grad_of_grad_attr(t):
        x = t.tensor(2., requires_grad=True)
        y = x ** 3
        y.backward(create_graph=True)
        g = x.grad
        return g, g.requires_grad, type(g.grad_fn).__name__
    same(grad_of_grad_attr)


def test_accumulation_and_zero_grad():
    def f(t):
        x = t.tensor([1., 2.], requires_grad=True)
        out = []
        for _ in range(3):
            (x ** 2).sum().backward()
            out.append(x.grad.clone())
        x.grad.zero_()
        (x * 5).sum().backward()
        return out, x.grad
    same(f)


def test_nonleaf_grad_warning_matches_torch():
    for lib in (torch, ndgrad):
        x = lib.tensor([1., 2.], requires_grad=True)
        y = x * 2
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            assert y.grad is None
        msg = str(w[0].message)
        if lib is torch:
            want = msg.split(" (Triggered internally")[0]
            want_cat = w[0].category
        else:
            assert msg == want and w[0].category is want_cat
            assert w[0].filename == __file__  # points at the user's line


def test_retain_grad_and_hooks():
    def f(t):
        x = t.tensor([1., 2.], requires_grad=True)
        y = x * 3
        y.retain_grad()
        z = y ** 2
        seen = []
        h = z.register_hook(lambda g: seen.append(g.clone()))
        y.register_hook(lambda g: g * 10)
        x.register_hook(lambda g: seen.append(g.clone()))
        z.sum().backward()
        h.remove()
        return y.grad, x.grad, seen, y.retains_grad, x.retains_grad
    same(f)

    def post(t):
        x = t.tensor([1., 2.], requires_grad=True)
        log = []
        x.register_post_accumulate_grad_hook(lambda p: log.append(p.grad.clone()))
        (x * x).sum().backward()
        return log
    same(post)
    same(lambda t: t.tensor([1.]).retain_grad())
    same(lambda t: t.tensor([1.]).register_hook(print))
    same(lambda t: (t.tensor([1.], requires_grad=True) * 2).register_post_accumulate_grad_hook(print))


def test_grad_fn_structure():
    def f(t):
        x = t.tensor([1., 2.], requires_grad=True)
        w = t.tensor([3., 4.])
        y = x * w + 1
        nf = y.grad_fn.next_functions
        inner = nf[0][0].next_functions
        return (type(y.grad_fn).__name__, y.grad_fn.name(), len(nf), type(nf[0][0]).__name__, nf[1],
                [(type(a).__name__, n) for a, n in inner], inner[0][0].next_functions[0][0].variable is x)
    same(f)
    x = ndgrad.tensor([1.], requires_grad=True)
    y = x * 2
    assert y.grad_fn.next_functions[0][0] is y.grad_fn.next_functions[0][0]


VERSION = [
    # a saved input modified in place
    lambda t: _vc_input(t),
    # a saved output modified in place
    lambda t: _vc_output(t),
]


def _vc_input(t):
    a = t.tensor([1., 2.], requires_grad=True)
    b = a * 1
    c = b * b
    b.add_(1)
    c.sum().backward()


def _vc_output(t):
    a = t.tensor([1., 2.], requires_grad=True)
    e = a.exp()
    e.mul_(2)
    e.sum().backward()


def _vc_leaf(t):
    a = t.tensor([1., 2.], requires_grad=True)
    w = t.tensor([3., 4.])
    y = a * w
    with t.no_grad():
        w.add_(1)
    y.sum().backward()


@pytest.mark.parametrize("fn", [_vc_input, _vc_output, _vc_leaf])
def test_version_counter_errors_match_torch(fn):
    same(fn)


def test_inplace_rules_match_torch():
    same(lambda t: t.tensor([1., 2.], requires_grad=True).add_(1))
    same(lambda t: t.tensor([1., 2.], requires_grad=True).zero_())

    def descent(t):
        x = t.tensor([1., 2.], requires_grad=True)
        (x ** 2).sum().backward()
        with t.no_grad():
            x -= 0.1 * x.grad
            x *= 2
        return x, x._version, x.is_leaf, x.requires_grad
    same(descent)

    def nonleaf(t):
        x = t.tensor([1., 2.], requires_grad=True)
        y = x * 2
        y.add_(1)
        y.mul_(x)
        y.sub_(t.tensor(0.5))
        y.div_(2)
        y.sum().backward()
        return y, x.grad, y._version

    same(nonleaf)

    def becomes_nonleaf(t):
        w = t.tensor([1., 2.], requires_grad=True)
        z = t.zeros(2)
        z += w * 3
        z.sum().backward()
        return z, z.is_leaf, w.grad
    same(becomes_nonleaf)

    def setitem(t):
        x = t.tensor([1., 2., 3.], requires_grad=True)
        y = x.clone()
        y[1:] = 0
        y[0] = y[0] * 5
        y.sum().backward()
        return y, x.grad

    same(setitem)

    def setitem_value_grad(t):
        x = t.tensor([1., 2., 3.], requires_grad=True)
        v = t.tensor(4., requires_grad=True)
        y = x * 1
        y[1] = v * 2
        (y * t.tensor([1., 2., 3.])).sum().backward()
        return y, x.grad, v.grad
    same(setitem_value_grad)

    def view_inplace(t):
        x = t.tensor([1., 2., 3.], requires_grad=True)
        y = x * 1
        y[0].mul_(2)
        y.sum().backward()
        return y, x.grad
    same(view_inplace)

    def stale_view(t):
        x = t.tensor([1., 2., 3.], requires_grad=True)
        y = x * 1
        v = y[1:]
        y.mul_(3)
        (v * v).sum().backward()
        return v, x.grad
    same(stale_view)

    same(lambda t: t.tensor([1., 2.], requires_grad=True)[0].mul_(2))
    same(lambda t: t.tensor([1, 2]).add_(1.5))
    same(lambda t: t.tensor([1., 2.]).add_(t.ones(2, 2)))


def test_no_node_without_grad():
    x = ndgrad.tensor([1., 2.], requires_grad=True)
    with ndgrad.no_grad():
        assert (x * 2).grad_fn is None
    assert (ndgrad.tensor([1.]) * 2).grad_fn is None
    with ndgrad.no_grad():
        assert not (x ** 2).requires_grad


def test_deep_chain_is_iterative():
    x = ndgrad.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0
    del y
    gc.collect()


def test_graph_is_freed_without_cycles():
    gc.disable()
    try:
        x = ndgrad.tensor(np.ones(1000), requires_grad=True)
        y = (x.exp() * 2).sin()
        z = y.sum()
        ref_y, ref_node = weakref.ref(y), weakref.ref(y.grad_fn)
        del y, z
        assert ref_y() is None and ref_node() is None  # freed by reference counting alone
        out = x.exp()
        ref_out = weakref.ref(out)
        del out
        assert ref_out() is None  # an op that saves its own result makes no cycle
    finally:
        gc.enable()


def test_thread_local_grad_mode():
    seen = []

    def worker():
        seen.append(ndgrad.is_grad_enabled())
    with ndgrad.no_grad():
        th = threading.Thread(target=worker)
        th.start()
        th.join()
        assert not ndgrad.is_grad_enabled()
    assert seen == [True]


def test_grad_modes_match_torch():
    def f(t):
        x = t.tensor(1., requires_grad=True)
        out = []
        with t.no_grad():
            out.append((x * 2).requires_grad)
            with t.enable_grad():
                out.append((x * 2).requires_grad)
            out.append(t.is_grad_enabled())
        with t.set_grad_enabled(False):
            out.append(t.is_grad_enabled())
        out.append(t.is_grad_enabled())
        t.set_grad_enabled(False)
        out.append(t.is_grad_enabled())
        t.set_grad_enabled(True)
        with t.inference_mode():
            out.append((t.is_grad_enabled(), t.is_inference_mode_enabled(), (x * 2).requires_grad))
        with t.inference_mode(False):
            out.append(t.is_inference_mode_enabled())

        @t.no_grad()
        def deco():
            return (x * 2).requires_grad

        @t.no_grad
        def bare():
            return t.is_grad_enabled()

        @t.enable_grad()
        def on():
            return t.is_grad_enabled()

        @t.inference_mode()
        def inf():
            return t.is_inference_mode_enabled()
        out.append(deco())
        out.append(bare())
        with t.no_grad():
            out.append(on())
        out.append(inf())
        out.append(t.is_grad_enabled())
        return out
    same(f)


def test_seed_check_passes():
    import os
    import subprocess
    import sys
    tool = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "tools", "check_seed.py")
    if not os.path.exists(tool):
        pytest.skip("the shared seed checker is not beside this checkout")
    out = subprocess.run([sys.executable, tool], capture_output=True, text=True, timeout=300)
    assert "seed examples: 9/9 match PyTorch" in out.stdout, out.stdout[-2000:]


def test_tour_runs(tmp_path):
    import subprocess
    import sys
    env = dict(__import__("os").environ, MPLBACKEND="Agg", TMPDIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-m", "ndgrad", "tour"], capture_output=True, text=True,
                         timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    assert "a=2.000000, b=1.000001" in out.stdout or "a=2.000000, b=1.000000" in out.stdout
    assert "lr < 2 / L = 0.0845" in out.stdout
    assert "a=-3.304e+13" in out.stdout  # lr=0.1 diverges exactly as PyTorch does
    png = tmp_path / "ndgrad-tour-descent.png"
    assert png.exists() and png.stat().st_size > 0


def test_grad_results_never_alias_each_other_or_the_seed():
    a = ndgrad.tensor([1., 2.], requires_grad=True)
    b = ndgrad.tensor([3., 4.], requires_grad=True)
    seed = ndgrad.tensor([1., 1.])
    ga, gb = ndgrad.autograd.grad(a + b, (a, b), grad_outputs=seed)
    ga[0] = 10.0
    assert gb.tolist() == [1.0, 1.0] and seed.tolist() == [1.0, 1.0]
    (gs,) = ndgrad.autograd.grad((a * 2).sum(), a)
    gs[0] = 5.0  # a result is writeable even when the rule produced a broadcast view
    assert gs.tolist() == [5.0, 2.0]


def test_adopted_gradients_never_alias_other_arrays():
    # .grad may adopt a gradient array the engine alone holds; it must never share memory with
    # another leaf's .grad, a seed, a saved value or an input, or later in-place changes leak.
    for lib in (ndgrad, torch):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = lib.tensor([4.0, 5.0, 6.0], requires_grad=True)
        w = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
        seed = lib.tensor([1.0, 1.0, 1.0])
        h = (x + y) * w
        h.backward(seed)
        z = (x * w).exp()
        z.sum().backward()
        grads = [x.grad, y.grad, w.grad]
        if lib is ndgrad:
            arrays = [t.detach().numpy() for t in grads + [seed, x, y, w]]
            for i, a in enumerate(arrays):
                for b in arrays[i + 1:]:
                    assert not np.shares_memory(a, b)
        before = [g.clone() for g in grads]
        x.grad.mul_(0)
        assert (y.grad == before[1]).all() and (w.grad == before[2]).all()
        assert (seed == 1).all()


@pytest.mark.parametrize("bshape", [(2,), (1, 2), (4, 1), (1, 1), ()])
def test_broadcast_gradients_summed_back_accumulate_as_pytorch(bshape):
    # A bias's gradient, summed over the batch, may become its .grad without a copy; a second
    # backward must add into it, and changing it must not touch another gradient.
    rng = np.random.default_rng(3)
    xs, ws, bs = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal(bshape)
    grads = {}
    for lib in (ndgrad, torch):
        x = lib.tensor(xs)
        w, b = (lib.tensor(a, requires_grad=True) for a in (ws, bs))
        for _ in range(2):
            ((x @ w + b) ** 2).sum().backward()
        grads[lib] = [b.grad.clone(), w.grad.clone()]
        assert tuple(b.grad.shape) == bshape
        b.grad.mul_(0)
        assert (w.grad == grads[lib][1]).all()
    for g, ref in zip(grads[ndgrad], grads[torch]):
        np.testing.assert_allclose(g.numpy(), ref.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "relu6", "hardtanh", "clamp", "maximum",
                                  "max", "where"])
def test_piecewise_linear_first_derivative_in_the_graph_as_pytorch(name):
    # relu's first derivative only masks the incoming gradient, yet PyTorch keeps it attached to
    # the input (a second derivative is zeros); clamp's, maximum's and max's it detaches.
    def f(t):
        F = t.nn.functional
        x = t.tensor([-1.5, 0.5, 2.0, 7.0], requires_grad=True)
        y = {"relu": F.relu, "leaky_relu": F.leaky_relu, "relu6": F.relu6,
             "hardtanh": F.hardtanh,
             "clamp": lambda v: v.clamp(-1, 1), "maximum": lambda v: t.maximum(v, t.zeros(4)),
             "max": lambda v: v.max(),
             "where": lambda v: t.where(v > 0, v, t.zeros(4))}[name](x)
        (g,) = t.autograd.grad(y.sum(), x, create_graph=True)
        (g2,) = t.autograd.grad(g.sum(), x) if g.requires_grad else (None,)
        return g.requires_grad, g.tolist(), None if g2 is None else g2.tolist()
    same(f)


def _random_graph(lib, seed, create_graph):
    """A random graph over two leaves: values used several times, multi-output ops (split,
    unbind, max over a dim) with some outputs unused, and several roots, one of which also feeds
    another. Returns the leaves' gradients (and, with create_graph, their own derivatives)."""
    rng = np.random.default_rng(seed)
    a = lib.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = lib.tensor(rng.standard_normal(3), requires_grad=True)
    vals = [a, b, a * b]
    for _ in range(12):
        x, y = (vals[i] for i in rng.integers(len(vals), size=2))
        if x.shape[-1:] != y.shape[-1:]:
            y = y.sum()  # broadcasts against anything
        kind = rng.integers(6)
        if kind == 0:
            vals.append(x * y + x)
        elif kind == 1:
            vals.append((x.sin() * y).exp() if x.shape == y.shape else x.tanh())
        elif kind == 2 and x.dim() == 2:
            parts = x.split(1)
            vals.append(parts[int(rng.integers(2))].squeeze(0) * 2)
        elif kind == 3 and x.dim() == 2:
            u = x.unbind(1)
            vals.append(u[0] * u[2] - u[1])
        elif kind == 4 and x.dim() == 2:
            m, i = x.max(1)
            vals.append(m.sum() * x)
        else:
            vals.append(x.cos() + y)
    roots = [v.sum() for v in vals[-3:]]
    roots.append(roots[0] * roots[1])  # a root that depends on another root
    seeds = [lib.tensor(float(s)) for s in rng.standard_normal(len(roots))]
    lib.autograd.backward(roots, seeds, create_graph=create_graph)
    got = [a.grad.detach().numpy().copy(), b.grad.detach().numpy().copy()]
    if create_graph:
        second = lib.autograd.grad((a.grad * a.grad).sum() + b.grad.sum(), [a, b],
                                   allow_unused=True)
        got += [None if s is None else s.detach().numpy() for s in second]
    return got


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("seed", range(20))
def test_random_graphs_match_torch(seed, create_graph):
    want = _random_graph(torch, seed, create_graph)
    got = _random_graph(ndgrad, seed, create_graph)
    for w, g in zip(want, got):
        assert (w is None) == (g is None)
        if w is not None:
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
