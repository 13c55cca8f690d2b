"""out= of the arithmetic functions, maximum/minimum, the factories and F.normalize: the result
written into the given tensor as PyTorch writes it (resizing, casts, errors, version bumps)."""
import warnings

import pytest

from both import same

# -- elementwise ops: add, sub, mul, div, maximum, minimum ---------------------------------------
BINARY = {
    "add": lambda t, x, y, out: t.add(x, y, out=out),
    "add alpha": lambda t, x, y, out: t.add(x, y, alpha=2, out=out),
    "add number first": lambda t, x, y, out: t.add(2, x, out=out),
    "sub": lambda t, x, y, out: t.sub(x, y, out=out),
    "sub alpha": lambda t, x, y, out: t.sub(x, y, alpha=3, out=out),
    "subtract number": lambda t, x, y, out: t.subtract(x, 1.5, out=out),
    "mul": lambda t, x, y, out: t.mul(x, y, out=out),
    "multiply number first": lambda t, x, y, out: t.multiply(3, x, out=out),
    "div": lambda t, x, y, out: t.div(x, y, out=out),
    "div floor": lambda t, x, y, out: t.div(x, y, rounding_mode="floor", out=out),
    "divide number": lambda t, x, y, out: t.divide(x, 4, out=out),
    "true_divide": lambda t, x, y, out: t.true_divide(x, y, out=out),
    "maximum": lambda t, x, y, out: t.maximum(x, y, out=out),
    "minimum": lambda t, x, y, out: t.minimum(x, y, out=out),
}

OUTS = {
    "result shape": lambda t, dt: t.full((2, 3), 7, dtype=dt),
    "empty": lambda t, dt: t.empty(0, dtype=dt),
    "other shape": lambda t, dt: t.zeros(4, dtype=dt),  # resized, with PyTorch's warning
    "0-d": lambda t, dt: t.zeros((), dtype=dt),
    "transposed": lambda t, dt: t.full((3, 2), 7, dtype=dt).t(),
    "row of a base": lambda t, dt: t.full((2, 2, 3), 7, dtype=dt)[1],
    "strided view": lambda t, dt: t.full((2, 6), 7, dtype=dt)[:, ::2],
}


def _warnings_of(call):
    """What ``call()`` returns, and the warnings it gave: (category, text) each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = call()
    return r, [(w.category.__name__, str(w.message).split(" (Triggered internally")[0])
               for w in caught]


def _inputs(t, dtype):
    x = t.tensor([[1.5, -2., 3.], [4., 5.25, -6.]]).to(dtype)
    y = t.tensor([2., -1.5, 4.]).to(dtype)  # broadcast against x; no integer zero
    return x, y


@pytest.mark.parametrize("out_dtype", ["float32", "float64", "complex64"])
@pytest.mark.parametrize("kind", sorted(OUTS))
@pytest.mark.parametrize("call", sorted(BINARY))
def test_elementwise_out_written_as_torch(call, kind, out_dtype):
    def f(t):
        x, y = _inputs(t, t.float32)
        out = OUTS[kind](t, getattr(t, out_dtype))
        r, said = _warnings_of(lambda: BINARY[call](t, x, y, out))
        return r is out, out, out._version, said, out._base
    same(f)


@pytest.mark.parametrize("out_dtype", ["int64", "int32", "bool", "float16", "float64"])
@pytest.mark.parametrize("in_dtype", ["int64", "bool", "float64"])
@pytest.mark.parametrize("call", sorted(BINARY))
def test_elementwise_out_dtype_casts_as_torch(call, in_dtype, out_dtype):
    def f(t):
        x, y = _inputs(t, getattr(t, in_dtype))
        out = t.empty(0, dtype=getattr(t, out_dtype))
        return BINARY[call](t, x, y, out), out, out._version
    same(f)


OUT_ERRORS = [
    # out= refuses autograd: an input or the out tensor requires grad (checked before dtypes)
    "t.add(x.requires_grad_(), y, out=E())", "t.mul(x, y, out=E(requires_grad=True))",
    "t.div(x.requires_grad_(), y, out=E(dtype=t.int64))", "t.maximum(x, y.requires_grad_(), out=E())",
    "t.sub(x, y, out=t.zeros(3, requires_grad=True) * 1)",
    # the op's own checks, then the cast
    "t.sub(x.bool(), y.bool(), out=E(dtype=t.bool))", "t.div(x, y, rounding_mode='up', out=E())",
    "t.minimum(x, 2, out=E())", "t.maximum(x, y.long(), out=E(dtype=t.int64))",
    "t.add(x.int(), 2.5, out=E(dtype=t.int32))", "t.mul(x.long(), y.long(), out=E(dtype=t.bool))",
    "t.add(x, y, out=t.zeros(5, 5))",
    # memory overlap: a broadcast out tensor, an input sharing part of out's memory
    "t.add(x, y, out=t.zeros(3).expand(2, 3))", "t.maximum(x, x, out=t.zeros(1, 1).expand(2, 3))",
    "t.add(z[:4], 1, out=z[2:])", "t.mul(z[1], z[:2], out=z[:2])",
    "t.add(z.view(2, 3), 1, out=z.view(3, 2))", "t.div(z.view(2, 3).t(), 1, out=z.view(3, 2))",
    "t.sub(z[:3], z[3:], out=z[:3])", "t.add(z[::2], 10, out=z[1::2])",
    # the argument itself
    "t.add(x, y, out=[E()])", "t.mul(x, y, out=(E(),))", "t.maximum(x, y, out=3)",
    "t.minimum(x, y, out=[E()])", "t.sub(x, y, out=None)",
    # the methods take no out=
    "x.add(y, out=E())", "x.mul(y, out=E())", "x.maximum(y, out=E())", "x.minimum(y, out=E())",
    "x.sub(y, out=E())",
]


@pytest.mark.parametrize("expr", OUT_ERRORS)
def test_elementwise_out_errors_as_torch(expr):
    def f(t):
        x, y = _inputs(t, t.float32)
        z = t.arange(6.)
        env = {"t": t, "x": x, "y": y, "z": z,
               "E": lambda dtype=t.float32, requires_grad=False: t.empty(
                   0, dtype=dtype, requires_grad=requires_grad)}
        r = eval(expr, env)
        return r, z
    same(f)


def test_elementwise_out_under_no_grad_and_into_an_input():
    def f(t):
        x, y = _inputs(t, t.float32)
        x.requires_grad_()
        o = t.zeros(2, 3, requires_grad=True)
        with t.no_grad():
            t.add(x, y, out=o)
        c = x.detach().clone()
        r = t.mul(c, y, out=c)  # the same tensor: no overlap error
        w = t.maximum(c.view(2, 3), y, out=c.view(2, 3))  # the same view of it
        return o, o.requires_grad, o.is_leaf, r is c, c, c._version, w
    same(f)


def test_elementwise_out_view_resized_in_its_base():
    def f(t):
        base = t.full((3, 2), 7.)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = t.add(t.ones(2, 2), 1, out=base[0])
        return r, base, base._version, r._base is base
    same(f)


# -- the other elementwise functions: out= through ndgrad._out.with_out ---------------------------
def _unary_call(name):
    return lambda t, x, y, out: getattr(t, name)(x, out=out)


UNARY_NAMES = ["abs", "absolute", "neg", "negative", "sign", "exp", "exp2", "expm1", "log", "log2",
               "log10", "log1p", "sqrt", "rsqrt", "square", "reciprocal", "sin", "cos", "tan",
               "asin", "acos", "atan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
               "asinh", "atanh", "arcsinh", "arctanh", "sigmoid", "logit", "erf", "erfc", "floor",
               "ceil", "round", "trunc", "fix", "frac", "nan_to_num", "logical_not"]
ELEMENTWISE = {name: _unary_call(name) for name in UNARY_NAMES}
ELEMENTWISE.update({
    "acosh": lambda t, x, y, out: t.acosh(x + 1, out=out),
    "arccosh": lambda t, x, y, out: t.arccosh(x + 1, out=out),
    "logit eps": lambda t, x, y, out: t.logit(x, 0.3, out=out),
    "round decimals": lambda t, x, y, out: t.round(x * 10, decimals=1, out=out),
    "nan_to_num nan": lambda t, x, y, out: t.nan_to_num(x.log() - 5, nan=1.0, out=out),
    "clamp": lambda t, x, y, out: t.clamp(x, 0.3, 0.6, out=out),
    "clamp tensors": lambda t, x, y, out: t.clamp(x, min=y, out=out),
    "clip": lambda t, x, y, out: t.clip(x, max=0.5, out=out),
    "pow": lambda t, x, y, out: t.pow(x, 2, out=out),
    "pow tensors": lambda t, x, y, out: t.pow(x, y, out=out),
    "pow number first": lambda t, x, y, out: t.pow(2, x, out=out),
    "atan2": lambda t, x, y, out: t.atan2(x, y, out=out),
    "arctan2": lambda t, x, y, out: t.arctan2(x, y, out=out),
    "remainder": lambda t, x, y, out: t.remainder(x, y, out=out),
    "fmod": lambda t, x, y, out: t.fmod(x, 0.2, out=out),
    "fmax": lambda t, x, y, out: t.fmax(x, y, out=out),
    "fmin": lambda t, x, y, out: t.fmin(x, y, out=out),
    "hypot": lambda t, x, y, out: t.hypot(x, y, out=out),
    "logaddexp": lambda t, x, y, out: t.logaddexp(x, y, out=out),
    "lerp": lambda t, x, y, out: t.lerp(x, y, 0.3, out=out),
    "lerp tensor weight": lambda t, x, y, out: t.lerp(x, y, y, out=out),
    "addcmul": lambda t, x, y, out: t.addcmul(x, y, y, value=0.5, out=out),
    "addcdiv": lambda t, x, y, out: t.addcdiv(x, x, y, value=2, out=out),
    "where": lambda t, x, y, out: t.where(x > 0.4, x, y, out=out),
    "logical_and": lambda t, x, y, out: t.logical_and(x > 0.4, y, out=out),
    "logical_or": lambda t, x, y, out: t.logical_or(x > 0.4, y > 0.5, out=out),
    "logical_xor": lambda t, x, y, out: t.logical_xor(x, y > 0.5, out=out),
    "bitwise_and": lambda t, x, y, out: t.bitwise_and((x * 10).long(), 6, out=out),
    "bitwise_or": lambda t, x, y, out: t.bitwise_or((x * 10).long(), (y * 10).long(), out=out),
    "bitwise_xor": lambda t, x, y, out: t.bitwise_xor(x > 0.4, y > 0.5, out=out),
    "bitwise_not": lambda t, x, y, out: t.bitwise_not((x * 10).long(), out=out),
    "bitwise_left_shift": lambda t, x, y, out: t.bitwise_left_shift((x * 10).long(), 2, out=out),
    "bitwise_right_shift": lambda t, x, y, out: t.bitwise_right_shift((x * 10).long(), 1, out=out),
})
ELEMENTWISE.update({name: (lambda name: lambda t, x, y, out: getattr(t, name)(x, y, out=out))(name)
                    for name in ["eq", "ne", "lt", "le", "gt", "ge", "greater", "less",
                                 "greater_equal", "less_equal", "not_equal"]})


def _unit_inputs(t):
    x = t.tensor([[0.5, 0.25, 0.75], [0.3, 0.65, 0.9]])
    y = t.tensor([0.2, 0.7, 0.4])  # broadcast against x
    return x, y


def test_every_elementwise_out_name_has_a_case():
    import ndgrad
    from ndgrad import _out
    assert {name.split(" ")[0] for name in ELEMENTWISE} == set(_out.ELEMENTWISE)
    assert set(PRODUCTS) == set(_out.PRODUCTS)
    assert all(getattr(ndgrad, name).__name__ == name for name in _out.ELEMENTWISE + _out.PRODUCTS)


@pytest.mark.parametrize("kind", ["result shape", "empty", "other shape", "transposed"])
@pytest.mark.parametrize("out_dtype", ["float32", "float64", "int64", "bool"])
@pytest.mark.parametrize("call", sorted(ELEMENTWISE))
def test_more_elementwise_out_written_as_torch(call, out_dtype, kind):
    def f(t):
        x, y = _unit_inputs(t)
        out = OUTS[kind](t, getattr(t, out_dtype))
        r, said = _warnings_of(lambda: ELEMENTWISE[call](t, x, y, out))
        return r is out, out, out._version, said
    same(f)


@pytest.mark.parametrize("call", sorted(ELEMENTWISE))
def test_more_elementwise_out_refuses_autograd_as_torch(call):
    def f(t):
        x, y = _unit_inputs(t)
        return ELEMENTWISE[call](t, x.requires_grad_(), y, t.empty(0))
    same(f)


# NOTE: functions with one signature; where PyTorch has several (eq, pow, clamp...), its message
# for an out= of another type lists them, and ndgrad's names the argument as here.
@pytest.mark.parametrize("call", ["exp", "where", "atan2", "logit", "sigmoid", "nan_to_num"])
def test_more_elementwise_out_argument_checked_as_torch(call):
    def f(t):
        x, y = _unit_inputs(t)
        return ELEMENTWISE[call](t, x, y, [t.empty(0)])
    same(f)


@pytest.mark.parametrize("call", ["eq", "lt", "logical_and", "logical_not", "bitwise_and",
                                  "bitwise_not", "exp", "clamp"])
@pytest.mark.parametrize("out", ["leaf", "non-leaf"])
def test_more_elementwise_out_that_requires_grad_as_torch(call, out):
    def f(t):
        x, y = _unit_inputs(t)
        o = t.zeros(2, 3, requires_grad=True)
        if out == "non-leaf" and call != "bitwise_and" and call != "bitwise_not":
            o = o * 1  # NOTE: PyTorch records NotImplemented for a bitwise op into one
        r = ELEMENTWISE[call](t, x, y, o)
        return r, r.requires_grad, r.is_leaf, type(r.grad_fn).__name__, r._version
    same(f)


def test_more_elementwise_out_into_an_input_and_without_out():
    def f(t):
        x, y = _unit_inputs(t)
        r = t.exp(x, out=x)
        w = t.clamp(x, 1.5, 2, out=x.t().t())
        return r is x, x, x._version, w, t.sin(y, out=None), t.where(y > 0.3, y, 0.)
    same(f)


# -- matrix products: out's dtype must be the result's -------------------------------------------
PRODUCTS = ["mm", "bmm", "mv"]
# NOTE: bmm's (2, 2, 2) result outgrows these views' bases: PyTorch grows a base's storage,
# a NumPy array cannot grow, and ndgrad says so (see _out.resize_view).
OUTGROWN = [("bmm", "row of a base"), ("bmm", "transposed")]


@pytest.mark.parametrize("kind", sorted(OUTS))
@pytest.mark.parametrize("out_dtype", ["float32", "float64", "int64", "bool"])
@pytest.mark.parametrize("call", PRODUCTS)
def test_product_out_written_as_torch(call, out_dtype, kind):
    def f(t):
        a, b = _unit_inputs(t)[0], t.tensor([[1.5, -2., 0.5], [0.25, 3., -1.]])
        out = OUTS[kind](t, getattr(t, out_dtype))
        r, said = _warnings_of(lambda: getattr(t, call)(*_product_args(t, call, a, b), out=out))
        return r is out, out, out._version, said
    if (call, kind) in OUTGROWN and out_dtype == "float32":
        import ndgrad
        with pytest.raises(RuntimeError, match="cannot be resized to .* as an out= tensor"):
            f(ndgrad)
        return
    same(f)


def _product_args(t, name, a, b):
    if name == "mm":
        return a, b.t()
    if name == "bmm":
        return a.expand(2, 2, 3), b.t().expand(2, 3, 2)
    return a, b[0]


@pytest.mark.parametrize("call", PRODUCTS)
def test_product_out_errors_as_torch(call):
    def f(t):
        a, b = _unit_inputs(t)[0], t.tensor([[1.5, -2., 0.5], [0.25, 3., -1.]])
        fn = getattr(t, call)
        args = _product_args(t, call, a, b)
        said = []
        for make in (lambda: fn(*args, out=t.empty(0, requires_grad=True)),
                     lambda: fn(args[0].requires_grad_(), args[1], out=t.empty(0)),
                     lambda: fn(args[1], args[1], out=t.empty(0, dtype=t.float64))):
            try:
                said.append(("ok", make()))
            except Exception as e:  # noqa: BLE001 - the error is what is compared
                said.append((type(e).__name__, str(e)))
        return said
    same(f)


# A resized out= tensor keeps its storage while that is large enough, and PyTorch's views follow
# it when it grows past it; sizes: shrink, same count, grow within, grow past.
RESIZES = [((2, 2), (5,), (7,)), ((3, 2), (6,), (2,)), ((1,), (4,), (12,)), ((6,), (0,), (9,))]


@pytest.mark.parametrize("sizes", RESIZES, ids=str)
@pytest.mark.parametrize("call", ["add", "zeros"])
def test_views_cut_before_a_resize_share_the_resized_storage(sizes, call):
    def f(t):
        base = t.arange(6.)
        views = [base[:3], base[1::2], base.view(2, 3)[1], base[5:]]
        for shape in sizes:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if call == "add":
                    t.add(t.ones(shape), len(views), out=base)
                else:
                    t.zeros(shape, out=base)
            views.append(base[-1:] if base.numel() else base[:])
            base += 1
        views[0][0] = -5.
        views[1].mul_(3)
        return base, views, [v._version for v in views]
    same(f)


# -- factories: zeros, ones, empty ---------------------------------------------------------------
FACTORY_OUTS = {
    "same shape": lambda t, dt: t.full((2, 3), 7, dtype=dt),
    "flat, as many elements": lambda t, dt: t.full((6,), 7, dtype=dt),
    "more elements": lambda t, dt: t.arange(10).to(dt),
    "fewer elements": lambda t, dt: t.arange(2).to(dt),
    "empty": lambda t, dt: t.empty(0, dtype=dt),
    "view in a base": lambda t, dt: t.full((10,), 7, dtype=dt)[2:],
    "column of a base": lambda t, dt: t.full((3, 3), 7, dtype=dt)[:, 1],
}


@pytest.mark.parametrize("dtype", ["float32", "int64", "bool"])
@pytest.mark.parametrize("kind", sorted(FACTORY_OUTS))
@pytest.mark.parametrize("fn", ["zeros", "ones", "empty"])
def test_factory_out_written_as_torch(fn, kind, dtype):
    def f(t):
        out = FACTORY_OUTS[kind](t, getattr(t, dtype))
        out = out.clone() if out._base is None else out
        base, v, n = out._base, out._version, out.numel()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = getattr(t, fn)((2, 3) if kind != "column of a base" else (3,), out=out)
        # empty keeps the elements the storage had; those past its old end are garbage
        seen = out if fn != "empty" else (out.shape, out.reshape(-1)[:n])
        return r is out, seen, out.dtype, out._version - v, [str(w.message) for w in caught], base
    same(f)


FACTORY_ERRORS = [
    "t.zeros(2, out=E(dtype=t.int64), dtype=t.float32)", "t.ones(2, out=E(), dtype=t.float64)",
    "t.empty(2, out=E(dtype=t.int64), dtype=t.float32)",
    "t.zeros(2, out=E(requires_grad=True))", "t.ones(2, out=E(requires_grad=True))",
    "t.empty(2, out=E(requires_grad=True))", "t.empty(0, out=E(requires_grad=True))",
    "t.zeros(2, out=E(requires_grad=True), dtype=t.float64)",
    "t.zeros(2, 2, out=E(dtype=t.int64), requires_grad=True)",
    "t.empty(2, out=E(dtype=t.int64), requires_grad=True)",
    "t.zeros(2, out=[E()])", "t.ones(2, out=3)", "t.empty(2, out=(E(),))",
    "t.zeros(2, out=None)",
]


@pytest.mark.parametrize("expr", FACTORY_ERRORS)
def test_factory_out_errors_as_torch(expr):
    def f(t):
        env = {"t": t, "E": lambda dtype=t.float32, requires_grad=False: t.empty(
            0, dtype=dtype, requires_grad=requires_grad)}
        return eval(expr, env)
    same(f)


def test_factory_out_requires_grad_and_grad_mode():
    def f(t):
        o = t.full((4,), 7.)
        r = t.zeros(2, 3, out=o, requires_grad=True)
        e = t.full((2,), 7.)
        t.empty(2, out=e, requires_grad=True)
        leaf = t.full((2,), 7., requires_grad=True)
        with t.no_grad():
            t.ones(3, out=leaf)  # requires_grad=False is set on the leaf
        made = t.full((2,), 7., requires_grad=True) * 1
        with t.no_grad():
            t.zeros(2, out=made)  # a tensor of a graph keeps requiring grad
        try:
            t.zeros(1, out=t.ones(3, requires_grad=True)[:1])
            view_of_leaf = None
        except RuntimeError as err:
            view_of_leaf = str(err)
        return (r is o, o, o.requires_grad, o.is_leaf, e.requires_grad, leaf, leaf._version,
                made.requires_grad, made.grad_fn.name(), view_of_leaf)
    same(f)


@pytest.mark.parametrize("fn", ["zeros", "ones"])
@pytest.mark.parametrize("n", [3, 2])
def test_factory_out_into_a_graph_records_not_implemented(fn, n):
    def f(t):
        x = t.tensor([1., 2., 3.], requires_grad=True)
        y = x * 2
        r = getattr(t, fn)(n, out=y)
        names = [y.grad_fn.name()] + [g.name() for g, _ in y.grad_fn.next_functions]
        try:
            y.sum().backward()
            err = None
        except RuntimeError as e:
            err = str(e)
        return r is y, y.detach(), y._version, names, err
    same(f)


# -- F.normalize -------------------------------------------------------------------------------
NORMALIZE = [
    "F.normalize(x, out=t.empty(2, 3))", "F.normalize(x, p=1, dim=0, out=t.empty(0))",
    "F.normalize(x, out=t.empty(3))", "F.normalize(x, out=t.empty(2, 3, dtype=t.float64))",
    "F.normalize(x, out=t.empty(2, 3, dtype=t.int64))",
    "F.normalize(x.requires_grad_(), out=t.empty(2, 3))", "F.normalize(x, out=x)",
]


@pytest.mark.parametrize("expr", NORMALIZE)
def test_normalize_out_as_torch(expr):
    def f(t):
        x = t.tensor([[1., -2., 2.], [0., 3., 4.]])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = eval(expr, {"t": t, "F": t.nn.functional, "x": x})
        return r, r._version, x, [str(w.message).split(" (Triggered")[0] for w in caught]
    same(f)
