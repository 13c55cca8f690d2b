"""Custom autograd Functions: each scenario runs on PyTorch and on ndgrad and must agree."""
import warnings

import numpy as np
import pytest
import torch

import ndgrad


def _error(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001  the type and text are what is compared
        return type(e).__name__, str(e)
    return None


def _np(t):
    return None if t is None else t.detach().numpy().copy()


def same(scenario):
    """Run ``scenario(lib)`` on both libraries and compare what it returns, leaf by leaf."""
    want, got = scenario(torch), scenario(ndgrad)
    _compare(got, want)


def _compare(got, want):
    if isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want), (got, want)
        for g, w in zip(got, want):
            _compare(g, w)
    elif isinstance(want, np.ndarray):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    else:
        assert got == want


def _functions(lib):
    class Mul(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return g * y, g * x

    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 3 * x ** 2 * g

    return Mul, Cube


def test_forward_backward_and_node():
    def scenario(lib):
        Mul, _ = _functions(lib)
        x = lib.tensor([[1., 2., 3.], [4., 5., 6.]], dtype=lib.float64, requires_grad=True)
        y = lib.tensor([0.5, -1., 2.], dtype=lib.float64, requires_grad=True)
        out = Mul.apply(x, y)
        fn = out.grad_fn
        info = (type(fn).__name__, fn.name(), len(fn.next_functions),
                [type(f).__name__ for f, _ in fn.next_functions], fn.needs_input_grad, repr(out))
        out.sum().backward()
        return info, _np(x.grad), _np(y.grad)
    same(scenario)


def test_setup_context_style_and_multiple_outputs():
    def scenario(lib):
        seen = []

        class Two(lib.autograd.Function):
            @staticmethod
            def forward(x, y):
                return x * y, x + y

            @staticmethod
            def setup_context(ctx, inputs, output):
                ctx.save_for_backward(*inputs)
                ctx.k = 3

            @staticmethod
            def backward(ctx, g1, g2):
                seen.append(_np(g2))
                x, y = ctx.saved_tensors
                return g1 * y + g2 * ctx.k, g1 * x + g2
        x = lib.tensor([2.], dtype=lib.float64, requires_grad=True)
        y = lib.tensor([3.], dtype=lib.float64, requires_grad=True)
        p, q = Two.apply(x, y)
        info = (p.grad_fn.k, p.grad_fn is q.grad_fn, p.output_nr, q.output_nr)
        p.sum().backward()
        return info, seen, _np(x.grad), _np(y.grad)
    same(scenario)


def test_materialize_grads_off_and_non_tensor_arguments():
    def scenario(lib):
        seen = []

        class M(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, n):
                ctx.set_materialize_grads(False)
                ctx.n = n
                return x * n, x * 3

            @staticmethod
            def backward(ctx, g1, g2):
                seen.append(g2 is None)
                return g1 * ctx.n, None
        x = lib.tensor([2.], requires_grad=True)
        a, _ = M.apply(x, 5)
        info = (a.grad_fn.needs_input_grad, len(a.grad_fn.next_functions), a.grad_fn.saved_tensors)
        a.sum().backward()
        return info, seen, _np(x.grad)
    same(scenario)


def test_no_graph_without_grad():
    def scenario(lib):
        Mul, _ = _functions(lib)
        x = lib.ones(2, requires_grad=True)
        with lib.no_grad():
            a = Mul.apply(x, x)
        b = Mul.apply(lib.ones(2), lib.ones(2))
        return a.grad_fn is None, a.requires_grad, b.requires_grad
    same(scenario)


def test_double_backward_through_a_function():
    def scenario(lib):
        _, Cube = _functions(lib)
        x = lib.tensor([2., 3.], dtype=lib.float64, requires_grad=True)
        g, = lib.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
        info = (g.grad_fn.name(), _np(g))
        g2, = lib.autograd.grad(g.sum(), x)
        return info, _np(g2)
    same(scenario)


def test_wrong_number_of_gradients():
    def scenario(lib):
        class F(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                return x * y

            @staticmethod
            def backward(ctx, g):
                return g
        x, y = lib.ones(2, 3, requires_grad=True), lib.ones(3, requires_grad=True)
        return _error(lambda: F.apply(x, y).sum().backward())
    same(scenario)


def test_extra_none_gradients_are_allowed():
    def scenario(lib):
        class F(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g * 2, None, None
        x = lib.ones(2, requires_grad=True)
        F.apply(x).sum().backward()
        return _np(x.grad)
    same(scenario)


def test_gradient_of_wrong_shape():
    def scenario(lib):
        class G(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                return x * y

            @staticmethod
            def backward(ctx, g):
                return g.sum(0), g
        x, y = lib.ones(2, 3, requires_grad=True), lib.ones(3, requires_grad=True)
        return _error(lambda: G.apply(x, y).sum().backward())
    same(scenario)


def test_broadcastable_gradient_is_summed_back():
    def scenario(lib):
        class B(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                return x * y

            @staticmethod
            def backward(ctx, g):
                return g, g  # (2, 3) for y of shape (3,): summed back by the engine
        x, y = lib.ones(2, 3, requires_grad=True), lib.ones(3, requires_grad=True)
        B.apply(x, y).sum().backward()
        return _np(x.grad), _np(y.grad)
    same(scenario)


def test_saved_tensor_modified_in_place():
    def scenario(lib):
        _, Cube = _functions(lib)
        a = lib.ones(3, requires_grad=True)
        b = a * 1
        o = Cube.apply(b)
        b.add_(1)
        return _error(lambda: o.sum().backward())
    same(scenario)


def test_saved_output_modified_in_place():
    def scenario(lib):
        class SO(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x.exp()
                ctx.save_for_backward(y)
                return y

            @staticmethod
            def backward(ctx, g):
                y, = ctx.saved_tensors
                return g * y
        x = lib.ones(2, requires_grad=True)
        o = SO.apply(x)
        name = o.grad_fn.saved_tensors[0].grad_fn.name()
        with lib.no_grad():
            o.mul_(2)
        return name, _error(lambda: o.sum().backward())
    same(scenario)


def test_saved_tensors_after_backward():
    def scenario(lib):
        _, Cube = _functions(lib)
        x = lib.ones(3, requires_grad=True)
        o = Cube.apply(x)
        o.sum().backward()
        return _error(lambda: o.grad_fn.saved_tensors)
    same(scenario)


def test_mark_dirty():
    def scenario(lib):
        class Dirty(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                x.mul_(2)
                ctx.mark_dirty(x)
                return x

            @staticmethod
            def backward(ctx, g):
                return 2 * g
        a = lib.ones(3, requires_grad=True)
        c = a.clone()
        o = Dirty.apply(c)
        info = (o is c, o.grad_fn.name(), c._version)
        o.sum().backward()
        return info, _np(a.grad), _error(lambda: Dirty.apply(a))
    same(scenario)


def test_input_returned_unchanged_is_a_view():
    def scenario(lib):
        class Id(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x

            @staticmethod
            def backward(ctx, g):
                return g * 3
        a = lib.ones(3, requires_grad=True)
        o = Id.apply(a)
        info = (o is a, o.grad_fn.name(), o._base is a)
        o.sum().backward()
        return info, _np(a.grad)
    same(scenario)


def test_mark_non_differentiable():
    def scenario(lib):
        class ND(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                v = x * 2
                ctx.mark_non_differentiable(v)
                return v, lib.tensor([1, 2])

            @staticmethod
            def backward(ctx, g, gi):
                return g
        v, i = ND.apply(lib.ones(3, requires_grad=True))
        return v.requires_grad, i.requires_grad, v.grad_fn is None
    same(scenario)


def test_once_differentiable():
    def scenario(lib):
        class O(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 2

            @staticmethod
            @lib.autograd.function.once_differentiable
            def backward(ctx, g):
                x, = ctx.saved_tensors
                return 2 * x * g
        a = lib.ones(3, requires_grad=True)
        v = lib.ones(3, requires_grad=True)
        g, = lib.autograd.grad(O.apply(a), a, v, create_graph=True)
        plain, = lib.autograd.grad(O.apply(a).sum(), a)
        return repr(g), repr(plain), _error(lambda: g.sum().backward())
    same(scenario)


def test_missing_backward_and_legacy_call():
    def scenario(lib):
        class NoB(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

        class NS(lib.autograd.Function):
            def forward(ctx, x):
                return x
        a = lib.ones(2, requires_grad=True)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            legacy = _error(lambda: NS()(a))
        return (_error(lambda: NoB.apply(a).sum().backward()), legacy,
                [x.category.__name__ for x in w])
    same(scenario)


def test_hooks_on_a_function_node():
    def scenario(lib):
        Mul, _ = _functions(lib)
        x = lib.tensor([1., 2.], requires_grad=True)
        out = Mul.apply(x, x)
        seen = []
        out.grad_fn.register_prehook(lambda go: seen.append(_np(go[0])))
        out.grad_fn.register_hook(lambda gi, go: (gi[0] * 10, gi[1]))
        out.sum().backward()
        return seen, _np(x.grad)
    same(scenario)


def test_exported():
    assert ndgrad.autograd.Function is ndgrad.autograd.function.Function
    with pytest.raises(NotImplementedError, match="You must implement the forward function"):
        class Empty(ndgrad.autograd.Function):
            pass
        Empty.apply(ndgrad.ones(1))
