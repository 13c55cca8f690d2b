"""nn.functional behaviour the op table cannot express: node names, in-place forms, errors and
warnings, dropout's randomness, extreme inputs, and gradients that differ from finite differences
on purpose (padding_idx, scale_grad_by_freq, clamped norms)."""
import warnings

import numpy as np
import pytest
import torch

import ndgrad

LIBS = (ndgrad, torch)


def both(fn):
    """Run ``fn(lib)`` with ndgrad and with torch."""
    return fn(ndgrad), fn(torch)


def close(a, b, atol=1e-6, rtol=1e-5):
    assert str(a.dtype) == str(b.dtype)
    assert tuple(a.shape) == tuple(b.shape)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=atol, rtol=rtol)


X = np.random.default_rng(3).uniform(-2, 2, size=(4, 5))
LABELS = np.array([0, 3, 1, 4])


def _x(lib, data=X, grad=True, dtype=None):
    return lib.tensor(data, dtype=dtype, requires_grad=grad)


# -- node names ---------------------------------------------------------------------------------
NAMED = {
    "relu": lambda L, x: L.nn.functional.relu(x),
    "relu6": lambda L, x: L.nn.functional.relu6(x),
    "leaky_relu": lambda L, x: L.nn.functional.leaky_relu(x),
    "elu": lambda L, x: L.nn.functional.elu(x),
    "selu": lambda L, x: L.nn.functional.selu(x),
    "celu": lambda L, x: L.nn.functional.celu(x),
    "gelu": lambda L, x: L.nn.functional.gelu(x),
    "gelu_tanh": lambda L, x: L.nn.functional.gelu(x, approximate="tanh"),
    "silu": lambda L, x: L.nn.functional.silu(x),
    "mish": lambda L, x: L.nn.functional.mish(x),
    "softplus": lambda L, x: L.nn.functional.softplus(x),
    "hardtanh": lambda L, x: L.nn.functional.hardtanh(x),
    "hardsigmoid": lambda L, x: L.nn.functional.hardsigmoid(x),
    "hardswish": lambda L, x: L.nn.functional.hardswish(x),
    "logsigmoid": lambda L, x: L.nn.functional.logsigmoid(x),
    "softmax": lambda L, x: L.nn.functional.softmax(x, 1),
    "log_softmax": lambda L, x: L.nn.functional.log_softmax(x, 1),
    "softmin": lambda L, x: L.nn.functional.softmin(x, 1),
    "linear": lambda L, x: L.nn.functional.linear(x, L.ones(3, 5, dtype=L.float64)),
    "linear_bias": lambda L, x: L.nn.functional.linear(x, L.ones(3, 5, dtype=L.float64),
                                                       L.ones(3, dtype=L.float64)),
    "linear_3d": lambda L, x: L.nn.functional.linear(x[None], L.ones(3, 5, dtype=L.float64)),
    "pad": lambda L, x: L.nn.functional.pad(x, (1, 1)),
    "reflect": lambda L, x: L.nn.functional.pad(x[None], (1, 2), mode="reflect"),
    "replicate2d": lambda L, x: L.nn.functional.pad(x[None], (1, 2, 1, 1), mode="replicate"),
    "embedding": lambda L, x: L.nn.functional.embedding(L.tensor([1, 2]), x),
    "mse": lambda L, x: L.nn.functional.mse_loss(x, L.zeros(4, 5, dtype=L.float64)),
    "smooth_l1": lambda L, x: L.nn.functional.smooth_l1_loss(x, L.zeros(4, 5, dtype=L.float64)),
    "huber": lambda L, x: L.nn.functional.huber_loss(x, L.zeros(4, 5, dtype=L.float64)),
    "cross_entropy": lambda L, x: L.nn.functional.cross_entropy(x, L.tensor(LABELS)),
    "nll": lambda L, x: L.nn.functional.nll_loss(x, L.tensor(LABELS), reduction="none"),
    "bce": lambda L, x: L.nn.functional.binary_cross_entropy(x.sigmoid(),
                                                             L.full((4, 5), 0.5, dtype=L.float64)),
    "cosine": lambda L, x: L.nn.functional.cosine_similarity(x, x + 1),
    "dropout": lambda L, x: L.nn.functional.dropout(x, 0.3),
}


@pytest.mark.parametrize("name", sorted(NAMED))
def test_grad_fn_names_match_torch(name):
    got, want = both(lambda L: NAMED[name](L, _x(L)))
    assert got.grad_fn.name() == want.grad_fn.name()


INPLACE = {
    "relu": {}, "relu6": {}, "leaky_relu": {"negative_slope": 0.1}, "elu": {"alpha": 0.7},
    "selu": {}, "celu": {"alpha": 1.5}, "hardtanh": {"min_val": -0.5, "max_val": 1.2},
    "silu": {}, "mish": {}, "hardsigmoid": {}, "hardswish": {},
}


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_forms_match_torch(name):
    def run(L):
        x = _x(L, X * 2)
        y = x * 1
        out = getattr(L.nn.functional, name)(y, inplace=True, **INPLACE[name])
        assert out is y
        (out * L.tensor(X, dtype=L.float64)).sum().backward()
        return out, x.grad, out.grad_fn.name()
    (o1, g1, n1), (o2, g2, n2) = both(run)
    close(o1, o2)
    close(g1, g2)
    assert n1 == n2


def test_inplace_on_leaf_is_refused():
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        ndgrad.nn.functional.relu(_x(ndgrad), inplace=True)


# -- errors and warnings ------------------------------------------------------------------------
def _F(L):
    return L.nn.functional


ERRORS = {
    "ce_batch": lambda L: _F(L).cross_entropy(_x(L), L.tensor([1, 2])),
    "ce_nd_target": lambda L: _F(L).cross_entropy(L.zeros(2, 4, 3), L.tensor([[1, 2], [0, 1]])),
    "ce_out_of_bounds": lambda L: _F(L).cross_entropy(_x(L), L.tensor([1, 2, 7, 0])),
    "ce_negative": lambda L: _F(L).cross_entropy(_x(L), L.tensor([1, 2, -3, 0])),
    "ce_multi_target": lambda L: _F(L).cross_entropy(_x(L), L.zeros(4, 2)),
    "ce_int32": lambda L: _F(L).cross_entropy(_x(L), L.tensor([1, 2, 3, 0], dtype=L.int32)),
    "ce_label_smoothing": lambda L: _F(L).cross_entropy(_x(L), L.tensor(LABELS),
                                                        label_smoothing=1.5),
    "ce_prob_weight": lambda L: _F(L).cross_entropy(_x(L), L.zeros(4, 5, dtype=L.float64),
                                                    weight=L.ones(3, dtype=L.float64)),
    "nll_weight_shape": lambda L: _F(L).nll_loss(_x(L), L.tensor(LABELS),
                                                 weight=L.ones(3, dtype=L.float64)),
    "nll_weight_grad": lambda L: _F(L).nll_loss(_x(L), L.tensor(LABELS),
                                                weight=L.ones(5, dtype=L.float64,
                                                              requires_grad=True)),
    "reduction": lambda L: _F(L).mse_loss(_x(L), _x(L), reduction="avg"),
    "mse_shape": lambda L: _F(L).mse_loss(_x(L), L.zeros(3)),
    "mse_weight": lambda L: _F(L).mse_loss(_x(L), _x(L), weight=L.ones(5)),
    "smooth_l1_beta": lambda L: _F(L).smooth_l1_loss(_x(L), _x(L), beta=-1.0),
    "huber_delta": lambda L: _F(L).huber_loss(_x(L), _x(L), delta=0.0),
    "bce_shape": lambda L: _F(L).binary_cross_entropy(_x(L).sigmoid(), L.zeros(5)),
    "bce_range": lambda L: _F(L).binary_cross_entropy(_x(L), L.zeros(4, 5, dtype=L.float64)),
    "bce_weight_grad": lambda L: _F(L).binary_cross_entropy(
        _x(L).sigmoid(), L.zeros(4, 5, dtype=L.float64), weight=_x(L)),
    "bce_logits_shape": lambda L: _F(L).binary_cross_entropy_with_logits(_x(L), L.zeros(5)),
    "bce_logits_pos_weight_grad": lambda L: _F(L).binary_cross_entropy_with_logits(
        _x(L), L.zeros(4, 5, dtype=L.float64), pos_weight=L.ones(5, requires_grad=True)),
    "kl_reduction": lambda L: _F(L).kl_div(_x(L), _x(L), reduction="avg"),
    "one_hot_negative": lambda L: _F(L).one_hot(L.tensor([1, -1])),
    "one_hot_too_big": lambda L: _F(L).one_hot(L.tensor([1, 5]), 3),
    "one_hot_float": lambda L: _F(L).one_hot(L.tensor([1.0, 2.0])),
    "one_hot_empty": lambda L: _F(L).one_hot(L.tensor([], dtype=L.int64)),
    "dropout_p": lambda L: _F(L).dropout(_x(L), 1.5),
    "pad_odd": lambda L: _F(L).pad(_x(L), (1,)),
    "pad_too_long": lambda L: _F(L).pad(L.zeros(3), (1, 1, 1, 1)),
    "pad_mode": lambda L: _F(L).pad(_x(L), (1, 1), mode="mirror"),
    "pad_reflect_size": lambda L: _F(L).pad(L.zeros(1, 3), (3, 3), mode="reflect"),
    "pad_reflect_2d": lambda L: _F(L).pad(L.zeros(1, 1, 3, 3), (1, 1, 3, 3), mode="reflect"),
    "pad_reflect_dims": lambda L: _F(L).pad(L.zeros(1, 3), (1, 1, 1, 1), mode="reflect"),
    "pad_replicate_1d": lambda L: _F(L).pad(L.zeros(3), (1, 1), mode="replicate"),
    "pad_circular_wrap": lambda L: _F(L).pad(L.zeros(1, 1, 3), (4, 4), mode="circular"),
    "pad_value": lambda L: _F(L).pad(L.zeros(1, 3), (1, 1), mode="reflect", value=1.0),
    "embedding_index": lambda L: _F(L).embedding(L.tensor([5]), _x(L)),
    "embedding_float": lambda L: _F(L).embedding(L.tensor([1.0]), _x(L)),
    "embedding_padding_idx": lambda L: _F(L).embedding(L.tensor([1]), _x(L), padding_idx=4),
    "linear_shape": lambda L: _F(L).linear(_x(L), L.zeros(3, 4, dtype=L.float64)),
    "linear_dtype": lambda L: _F(L).linear(_x(L), L.zeros(3, 5)),
    "bilinear_shape": lambda L: _F(L).bilinear(_x(L), _x(L), L.zeros(2, 3, 5, dtype=L.float64)),
    "cosine_shape": lambda L: _F(L).cosine_similarity(_x(L), L.zeros(4, 3, dtype=L.float64)),
    "gelu_approximate": lambda L: _F(L).gelu(_x(L), approximate="fast"),
    "gelu_int": lambda L: _F(L).gelu(L.tensor([1, 2])),
    "softmax_int": lambda L: _F(L).softmax(L.tensor([[1, 2]]), 0),
    "log_softmax_int": lambda L: _F(L).log_softmax(L.tensor([1, 2]), 0),
    "leaky_relu_int": lambda L: _F(L).leaky_relu(L.tensor([1, 2])),
    "hardtanh_bounds": lambda L: _F(L).hardtanh(_x(L), 2.0, 1.0),
    "softmax_dim": lambda L: _F(L).softmax(_x(L), 2),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_match_torch(name):
    caught = []
    for L in (torch, ndgrad):
        with pytest.raises(Exception) as info, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ERRORS[name](L)
        caught.append(info.value)
    want, got = caught
    assert type(got).__name__ == type(want).__name__
    assert str(got) == str(want)


WARNS = {
    "softmax_dim": lambda L: _F(L).softmax(_x(L)),
    "log_softmax_dim": lambda L: _F(L).log_softmax(_x(L)),
    "softmin_dim": lambda L: _F(L).softmin(_x(L)),
    "kl_mean": lambda L: _F(L).kl_div(_x(L), _x(L).exp()),
    "mse_broadcast": lambda L: _F(L).mse_loss(_x(L), L.zeros(5, dtype=L.float64)),
    "l1_broadcast": lambda L: _F(L).l1_loss(_x(L), L.zeros(1, 5, dtype=L.float64)),
    "legacy_reduction": lambda L: _F(L).cross_entropy(_x(L), L.tensor(LABELS), size_average=False),
}


@pytest.mark.parametrize("name", sorted(WARNS))
def test_warnings_match_torch(name):
    results = []
    for L in (torch, ndgrad):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            out = WARNS[name](L)
        results.append((out, [(x.category, str(x.message)) for x in w]))
    (want, wmsg), (got, gmsg) = results
    assert gmsg == wmsg and gmsg
    close(got, want)


# -- dropout ------------------------------------------------------------------------------------
def test_dropout_is_seeded_scaled_and_masks_the_gradient():
    F = ndgrad.nn.functional
    x = ndgrad.ones(200, 100, requires_grad=True)
    ndgrad.manual_seed(5)
    a = F.dropout(x, 0.3)
    ndgrad.manual_seed(5)
    b = F.dropout(x, 0.3)
    assert np.array_equal(a.detach().numpy(), b.detach().numpy())
    vals = a.detach().numpy()
    levels = np.unique(vals)
    assert len(levels) == 2 and levels[0] == 0 and levels[1] == np.float32(1 / 0.7)
    assert abs((vals == 0).mean() - 0.3) < 0.02
    a.sum().backward()
    assert np.array_equal(x.grad.numpy(), vals)
    c = F.dropout(x, 0.3)
    assert not np.array_equal(c.detach().numpy(), vals)  # the generator moved on


def test_dropout_identity_and_extremes():
    F = ndgrad.nn.functional
    x = ndgrad.randn(4, 3, requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    z = F.dropout(x, 1.0)
    assert z.grad_fn.name() == "MulBackward0" and not z.detach().numpy().any()
    y = x * 1
    out = F.dropout(y, 0.5, inplace=True)
    assert out is y and set(np.unique((y / x).detach().numpy().round(6))) <= {0.0, 2.0}


# -- numerics -----------------------------------------------------------------------------------
BIG = np.array([[1000.0, -1000.0, 0.5], [-1000.0, 3.0, 1000.0]])
EXTREME = {
    "log_softmax": lambda L, x: L.nn.functional.log_softmax(x, 1),
    "softmax": lambda L, x: L.nn.functional.softmax(x, 0),
    "cross_entropy": lambda L, x: L.nn.functional.cross_entropy(x, L.tensor([1, 0])),
    "cross_entropy_probs": lambda L, x: L.nn.functional.cross_entropy(
        x, L.tensor([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]], dtype=x.dtype)),
    "softplus": lambda L, x: L.nn.functional.softplus(x),
    "logsigmoid": lambda L, x: L.nn.functional.logsigmoid(x),
    "bce_with_logits": lambda L, x: L.nn.functional.binary_cross_entropy_with_logits(
        x, L.full((2, 3), 0.3, dtype=x.dtype), pos_weight=L.full((3,), 2.0, dtype=x.dtype)),
    "gelu": lambda L, x: L.nn.functional.gelu(x / 100),
    "silu": lambda L, x: L.nn.functional.silu(x),
    "mish": lambda L, x: L.nn.functional.mish(x),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(EXTREME))
def test_large_inputs_stay_finite_and_match_torch(name, dtype):
    def run(L):
        x = L.tensor(BIG, dtype=getattr(L, dtype), requires_grad=True)
        out = EXTREME[name](L, x)
        out.sum().backward()
        return out, x.grad
    (o1, g1), (o2, g2) = both(run)
    assert np.isfinite(o1.detach().numpy()).all() and np.isfinite(g1.numpy()).all()
    close(o1, o2, atol=1e-4)
    close(g1, g2, atol=1e-5)


def test_gelu_matches_torch_over_a_wide_range():
    grid = np.linspace(-12, 12, 4001)
    got, want = both(lambda L: L.nn.functional.gelu(L.tensor(grid)))
    close(got, want, atol=1e-14, rtol=1e-13)


def test_binary_cross_entropy_at_saturated_probabilities():
    p = np.array([0.0, 1.0, 0.5, 1e-30])
    t = np.array([0.3, 0.6, 1.0, 0.0])

    def run(L):
        x = L.tensor(p, requires_grad=True)
        tt = L.tensor(t, requires_grad=True)
        out = L.nn.functional.binary_cross_entropy(x, tt, reduction="none")
        out.sum().backward()
        return out, x.grad, tt.grad
    got, want = both(run)
    for g, w in zip(got, want):
        close(g, w)


def test_zero_vectors_in_normalize_and_cosine_similarity():
    data = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])

    def run(L):
        x = L.tensor(data, requires_grad=True)
        y = L.tensor(data[::-1].copy(), requires_grad=True)
        n = L.nn.functional.normalize(x, dim=1)
        c = L.nn.functional.cosine_similarity(x, y, dim=1)
        (n.sum() + c.sum()).backward()
        return n, c, x.grad, y.grad
    got, want = both(run)
    for g, w in zip(got, want):
        close(g, w)


def test_softmax_dtype_argument():
    def run(L):
        x = L.tensor(X, dtype=L.float32, requires_grad=True)
        out = L.nn.functional.log_softmax(x, 1, dtype=L.float64)
        out.sum().backward()
        return out, x.grad
    (o1, g1), (o2, g2) = both(run)
    close(o1, o2)
    close(g1, g2)


# -- gradients that are not the derivative of the forward ---------------------------------------
@pytest.mark.parametrize("kwargs", [{"padding_idx": 2}, {"padding_idx": -1},
                                    {"scale_grad_by_freq": True},
                                    {"padding_idx": 0, "scale_grad_by_freq": True}])
def test_embedding_gradient_options(kwargs):
    idx = np.array([[2, 2, 3], [0, 1, 2]])

    def run(L):
        w = _x(L)
        out = L.nn.functional.embedding(L.tensor(idx), w, **kwargs)
        (out * L.tensor(np.arange(30.0).reshape(2, 3, 5) - 4)).sum().backward()
        return out, w.grad
    (o1, g1), (o2, g2) = both(run)
    close(o1, o2)
    close(g1, g2)


def test_embedding_max_norm_renormalizes_rows_in_place():
    def run(L):
        w = L.tensor(X * 3)
        out = L.nn.functional.embedding(L.tensor([0, 2, 2]), w, max_norm=1.5)
        return out, w
    (o1, w1), (o2, w2) = both(run)
    close(o1, o2)
    close(w1, w2)


def test_one_hot_infers_classes_and_is_int64():
    got, want = both(lambda L: L.nn.functional.one_hot(L.tensor([[3, 0], [1, 1]])))
    assert str(got.dtype) == "torch.int64"
    assert np.array_equal(got.numpy(), want.numpy())


def test_double_backward_of_cross_entropy_matches_torch():
    def run(L):
        x = _x(L)
        loss = L.nn.functional.cross_entropy(x, L.tensor(LABELS), label_smoothing=0.1)
        (g,) = L.autograd.grad(loss, x, create_graph=True)
        (h,) = L.autograd.grad((g * g).sum(), x)
        return g, h
    (g1, h1), (g2, h2) = both(run)
    close(g1, g2)
    close(h1, h2)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_every_target_ignored_gives_nan_loss_and_zero_grad(label_smoothing):
    def run(L):
        x = _x(L)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            loss = L.nn.functional.cross_entropy(x, L.tensor([-100] * 4),
                                                 label_smoothing=label_smoothing)
            loss.backward()
        return loss, x.grad
    (l1, g1), (l2, g2) = both(run)
    assert np.isnan(l1.item()) and np.isnan(l2.item())
    close(g1, g2)


# Targets that take nll_loss's mask-free path (every target a class, none ignored) and those
# that do not: ignored targets below, inside and above the class range, weights, more dims.
NLL_CASES = {
    "plain": (np.array([0, 3, 1, 4, 2, 0]), {}),
    "weighted": (np.array([0, 3, 1, 4, 2, 0]), {"weight": [0.5, 2.0, 1.0, 3.0, 0.25]}),
    "ignored -100": (np.array([0, -100, 1, 4, -100, 0]), {}),
    "ignore_index inside the classes": (np.array([0, 3, 1, 4, 2, 3]), {"ignore_index": 3}),
    "ignore_index unused inside": (np.array([0, 1, 1, 4, 2, 0]), {"ignore_index": 3}),
    "ignore_index above the classes": (np.array([0, 255, 1, 4, 255, 0]), {"ignore_index": 255}),
    "weighted and ignored": (np.array([0, -100, 1, 4, 2, 0]),
                             {"weight": [0.5, 2.0, 1.0, 3.0, 0.25]}),
    "sum": (np.array([0, 3, 1, 4, 2, 0]), {"reduction": "sum"}),
    "none": (np.array([0, 3, 1, 4, -100, 0]), {"reduction": "none"}),
    "uint8 targets": (np.array([0, 3, 1, 4, 2, 0], np.uint8), {}),
}


@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("extra_dim", [False, True])
@pytest.mark.parametrize("case", sorted(NLL_CASES))
def test_nll_targets_match_torch(case, extra_dim, fn):
    target, kwargs = NLL_CASES[case]
    rng = np.random.default_rng(3)
    data = rng.standard_normal((6, 5, 3) if extra_dim else (6, 5))
    if extra_dim:
        target = np.stack([target, target[::-1], np.roll(target, 1)], 1)

    def run(L):
        x = L.tensor(data, requires_grad=True)
        kw = dict(kwargs)
        if "weight" in kw:
            kw["weight"] = L.tensor(kw["weight"], dtype=L.float64)
        inp = x if fn == "cross_entropy" else L.log_softmax(x, 1)
        loss = getattr(L.nn.functional, fn)(inp, L.tensor(target), **kw)
        loss.sum().backward()
        return loss, x.grad
    if case == "uint8 targets" and extra_dim:
        # PyTorch's kernel for more than two input dims takes Long targets only
        with pytest.raises(RuntimeError) as got:
            run(ndgrad)
        with pytest.raises(RuntimeError) as want:
            run(torch)
        assert str(got.value) == str(want.value)
        return
    (l1, g1), (l2, g2) = both(run)
    close(l1, l2)
    close(g1, g2)


@pytest.mark.parametrize("target", [[0, 5, 1], [0, -1, 1], [0, -100, 7]])
def test_nll_target_out_of_bounds_raises_as_torch(target):
    def run(L):
        return L.nn.functional.cross_entropy(L.zeros(3, 5), L.tensor(target))
    with pytest.raises(IndexError) as got:
        run(ndgrad)
    # NOTE: PyTorch's CPU kernel names the first bad target in an IndexError too.
    with pytest.raises(IndexError) as want:
        run(torch)
    assert str(got.value) == str(want.value)


# -- the block-wise exp-family kernels -------------------------------------------------------
FAST = {
    "sigmoid": lambda L, x: L.sigmoid(x),
    "logsigmoid": lambda L, x: L.nn.functional.logsigmoid(x),
    "softplus": lambda L, x: L.nn.functional.softplus(x),
    "softplus(2, 3)": lambda L, x: L.nn.functional.softplus(x, 2.0, 3.0),
    "softplus(0.5, 40)": lambda L, x: L.nn.functional.softplus(x, 0.5, 40.0),
    "silu": lambda L, x: L.nn.functional.silu(x),
    "mish": lambda L, x: L.nn.functional.mish(x),
    "elu": lambda L, x: L.nn.functional.elu(x),
    "elu(-0.5)": lambda L, x: L.nn.functional.elu(x, -0.5),
    "selu": lambda L, x: L.nn.functional.selu(x),
    "celu(0.5)": lambda L, x: L.nn.functional.celu(x, 0.5),
    "celu(-2)": lambda L, x: L.nn.functional.celu(x, -2.0),
    "leaky_relu(0.1)": lambda L, x: L.nn.functional.leaky_relu(x, 0.1),
    "leaky_relu(-2)": lambda L, x: L.nn.functional.leaky_relu(x, -2.0),
}
# a grid over the exp family's range (finite in float32 for every op), tiny magnitudes where
# log1p and expm1 matter, signed zeros, and +-1000
GRID = np.concatenate([np.linspace(-40, 40, 80001), -np.logspace(-10, 1, 2000),
                       np.logspace(-10, 1, 2000), [0.0, -0.0, 1000.0, -1000.0]])
# NOTE: outputs are within a few ulps of PyTorch's, relatively, down to the tiny values where
# log1p and expm1 matter. Gradients get an absolute slack of a few ulps of 1: PyTorch's SIMD
# exp rounds differently from NumPy's, and out + alpha (elu) or 1 - s (sigmoid, silu) cancel.
TOL = {"float32": (dict(rtol=1e-5, atol=0), dict(rtol=1e-5, atol=4e-7)),
       "float64": (dict(rtol=1e-12, atol=0), dict(rtol=1e-12, atol=1e-15))}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(FAST))
def test_fast_activations_match_torch_over_their_range(name, dtype):
    g = np.random.default_rng(5).uniform(0.5, 1.5, GRID.size)

    def run(L):
        x = L.tensor(GRID, dtype=getattr(L, dtype), requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no NumPy overflow warnings: PyTorch gives none
            out = FAST[name](L, x)
            out.backward(L.tensor(g, dtype=x.dtype))
        return out, x.grad
    (o1, g1), (o2, g2) = both(run)
    close(o1, o2, **TOL[dtype][0])
    close(g1, g2, **TOL[dtype][1])


@pytest.mark.parametrize("name", list(FAST))
def test_fast_activations_on_large_strided_and_half_inputs(name):
    # more elements than a block, odd-sized, transposed (not contiguous), and float16
    data = np.random.default_rng(6).uniform(-12, 12, size=(301, 233))
    g = np.random.default_rng(7).uniform(-1, 1, size=(233, 301))
    for dtype in ("float32", "float16"):
        def run(L):
            x = L.tensor(data, dtype=getattr(L, dtype), requires_grad=True)
            out = FAST[name](L, x.t())
            out.backward(L.tensor(g, dtype=x.dtype))
            return out, x.grad
        (o1, g1), (o2, g2) = both(run)
        # float16: computed in float32 as PyTorch does, rounded once (a few elements differ by
        # up to 4 ulps, where PyTorch's float32 intermediate rounded the other way)
        tol = TOL["float32"] if dtype == "float32" else [dict(rtol=5e-3, atol=1e-6)] * 2
        close(o1, o2, **tol[0])
        close(g1, g2, **tol[1])


@pytest.mark.parametrize("name", ["sigmoid", "logsigmoid", "softplus(2, 3)", "silu", "mish",
                                  "selu", "celu(0.5)"])
def test_fast_activations_second_derivatives_match_torch(name):
    def run(L):
        x = L.tensor(np.linspace(-5, 5, 40), requires_grad=True)  # away from the kinks
        (g,) = L.autograd.grad(FAST[name](L, x).sum(), x, create_graph=True)
        (h,) = L.autograd.grad((g * g).sum(), x)
        return g, h
    (g1, h1), (g2, h2) = both(run)
    close(g1, g2, rtol=1e-12, atol=1e-14)
    close(h1, h2, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("bounds", [(-1.0, 1.0), (0.0, 6.0)])
@pytest.mark.parametrize("n", [11, 100_003])
def test_hardtanh_gradient_at_bounds_and_in_blocks_as_torch(bounds, n):
    # Zero at and beyond the bounds. NaN sits at index 0, inside PyTorch's vectorized body,
    # where its gradient is 0 (its scalar loop for a tail shorter than a vector passes it on).
    special = np.array([np.nan, -2, -1, -0.5, 0, 0.5, 1, 2, 6, 7, np.inf, -np.inf], np.float32)
    x = np.random.default_rng(0).uniform(-8, 8, n).astype(np.float32)
    x[:11] = special[:11] if n > 11 else special[1:12]
    g = np.random.default_rng(1).uniform(-1, 1, n).astype(np.float32)
    res = []
    for lib in (torch, ndgrad):
        t = lib.tensor(x, requires_grad=True)
        y = lib.nn.functional.hardtanh(t, *bounds)
        y.backward(lib.tensor(g))
        res.append((y.detach().numpy(), t.grad.numpy()))
    np.testing.assert_array_equal(res[1][0], res[0][0])
    np.testing.assert_array_equal(res[1][1], res[0][1])


def test_hardtanh_gradient_outside_is_plus_zero_whatever_the_incoming_gradient():
    x = np.array([-2, 0.5, 7, 3, -1, 9], np.float32)
    g = np.array([-1.0, np.inf, np.inf, -2.0, np.nan, -3.0], np.float32)
    res = []
    for lib in (torch, ndgrad):
        t = lib.tensor(x, requires_grad=True)
        lib.nn.functional.relu6(t).backward(lib.tensor(g))
        res.append(t.grad.numpy())
    np.testing.assert_array_equal(res[1], res[0])
    np.testing.assert_array_equal(np.signbit(res[1]), np.signbit(res[0]))


# -- the mask-free kernels, bit for bit with PyTorch, in blocks and not ------------------------
# Special values sit at the front, inside PyTorch's vectorized body; the incoming gradient has
# infinities, NaN and signed zeros where the masks drop it or pass it.
SPECIAL = np.array([np.nan, -3, 3, -np.inf, np.inf, -0.0, 0.0, -1.5, 2.9999998, -2.9999998,
                    3.0000002, -3.0000002, 6, -6, 1e-40, -1e-40, 6.0000005, 5.9999995])
BITWISE = {
    "relu": lambda L, x: L.nn.functional.relu(x),
    "hardswish": lambda L, x: L.nn.functional.hardswish(x),
    "hardsigmoid": lambda L, x: L.nn.functional.hardsigmoid(x),
    "relu6": lambda L, x: L.nn.functional.relu6(x),
    "hardtanh(-0.5, 2)": lambda L, x: L.nn.functional.hardtanh(x, -0.5, 2.0),
    "leaky_relu": lambda L, x: L.nn.functional.leaky_relu(x),
    "leaky_relu(0.2)": lambda L, x: L.nn.functional.leaky_relu(x, 0.2),
    "leaky_relu(1)": lambda L, x: L.nn.functional.leaky_relu(x, 1.0),
    "leaky_relu(3)": lambda L, x: L.nn.functional.leaky_relu(x, 3.0),
    "leaky_relu(-2)": lambda L, x: L.nn.functional.leaky_relu(x, -2.0),
    "leaky_relu(0)": lambda L, x: L.nn.functional.leaky_relu(x, 0.0),
}
# NOTE: hardsigmoid's gradient is g / 6, correctly rounded; PyTorch's g * (1 / 6) in float32
# (and (1 / 6 in float32) in float64) rounds the other way in a third of the elements.
ROUNDED = {"hardsigmoid"}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", [300, 300_001])
@pytest.mark.parametrize("name", list(BITWISE))
def test_masked_activations_bit_for_bit_as_torch(name, n, dtype):
    rng = np.random.default_rng(8)
    x = rng.uniform(-8, 8, n)
    x[:SPECIAL.size] = SPECIAL
    x[n - n // 4:] = rng.choice(SPECIAL, n // 4)  # spread over the last blocks too
    g = rng.uniform(-2, 2, n)
    g[20:32] = [np.inf, -np.inf, np.nan, -0.0, 0.0, -1, np.inf, -np.inf, np.nan, -0.0, 2, -2]
    x[20:32] = [-5, 5, -5, -5, 5, 0.5, 1.5, -1.5, 1.5, -1.5, np.nan, -0.0]
    res = []
    for lib in (torch, ndgrad):
        t = lib.tensor(x, dtype=getattr(lib, dtype), requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # PyTorch warns of nothing: neither may ndgrad
            y = BITWISE[name](lib, t)
            y.backward(lib.tensor(g, dtype=t.dtype))
        res.append((y.detach().numpy(), t.grad.numpy()))
    (y_nd, g_nd), (y_th, g_th) = res[1], res[0]
    np.testing.assert_array_equal(y_nd, y_th)
    if name in ROUNDED:
        want = np.where((x > -3) & (x < 3), g.astype(dtype) / 6, 0.0).astype(dtype)
        np.testing.assert_array_equal(g_nd, want)
        close(ndgrad.tensor(g_nd), torch.tensor(g_th), rtol=2.5e-7, atol=0)
    else:
        np.testing.assert_array_equal(g_nd, g_th)
    for got, want in ((y_nd, y_th), (g_nd, g_th)):  # signed zeros (NaN's sign is PyTorch's SIMD's)
        num = ~np.isnan(want)
        np.testing.assert_array_equal(np.signbit(got[num]), np.signbit(want[num]))


def test_hardswish_gradient_at_the_kinks_as_torch():
    # Zero at -3 itself, the incoming gradient at 3 itself (the slope there would give 1.5 g).
    res = []
    for lib in (torch, ndgrad):
        t = lib.tensor([-3.0, 3.0, -4.0, 4.0], requires_grad=True)
        lib.nn.functional.hardswish(t).backward(lib.ones(4))
        res.append(t.grad.tolist())
    assert res[1] == res[0] == [0.0, 1.0, 0.0, 1.0]


@pytest.mark.parametrize("name", ["hardswish", "hardsigmoid"])
def test_hard_activations_keep_relative_accuracy_near_minus_three(name):
    # PyTorch's order, (a + 3) first: a / 6 + 0.5 cancels there, and was off by 9e-4 relatively
    x = np.float32(-3) + np.arange(1, 2001, dtype=np.float32) * np.float32(2.0 ** -22)
    for dtype in ("float32", "float64"):
        y = [getattr(lib.nn.functional, name)(lib.tensor(x, dtype=getattr(lib, dtype))).numpy()
             for lib in (ndgrad, torch)]
        np.testing.assert_array_equal(y[0], y[1])


@pytest.mark.parametrize("name", ["elu", "selu", "celu(0.5)"])
def test_elu_family_keeps_the_sign_of_zero_in_blocks(name):
    # the branch-free elu adds scale * max(a, 0) to the negative branch: zeros must come out as
    # PyTorch's, at +0.0, -0.0 and tiny values, within blocks and across them
    x = np.random.default_rng(9).uniform(-3, 3, 200_003).astype(np.float32)
    x[::7] = 0.0
    x[1::7] = -0.0
    x[2::97] = np.float32(1e-45)
    x[3::97] = np.float32(-1e-30)
    res = [(FAST[name](lib, lib.tensor(x))).numpy() for lib in (ndgrad, torch)]
    zero = res[1] == 0
    np.testing.assert_array_equal(res[0][zero], res[1][zero])
    np.testing.assert_array_equal(np.signbit(res[0][zero]), np.signbit(res[1][zero]))
    close(ndgrad.tensor(res[0]), torch.tensor(res[1]), rtol=1e-6, atol=0)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape", [(600, 100), (40, 30, 70), (3, 70_001), (70_001, 1)])
def test_softmax_in_blocks_of_rows_as_row_by_row(name, shape):
    # Large arrays run on blocks of rows; each row must come out as alone, forward and backward,
    # and as PyTorch's.
    rng = np.random.default_rng(10)
    x = rng.uniform(-20, 20, shape).astype(np.float32)
    g = rng.uniform(-1, 1, shape).astype(np.float32)
    f = getattr(ndgrad.nn.functional, name)
    t = ndgrad.tensor(x, requires_grad=True)
    f(t, -1).backward(ndgrad.tensor(g))
    rows = x.reshape(-1, shape[-1])
    picks = [0, 1, rows.shape[0] // 2, rows.shape[0] - 1]
    for i in picks:
        r = ndgrad.tensor(rows[i], requires_grad=True)
        y = f(r, -1)
        y.backward(ndgrad.tensor(g.reshape(-1, shape[-1])[i]))
        np.testing.assert_array_equal(f(t.detach(), -1).numpy().reshape(-1, shape[-1])[i],
                                      y.detach().numpy())
        np.testing.assert_array_equal(t.grad.numpy().reshape(-1, shape[-1])[i], r.grad.numpy())
    th = torch.tensor(x, requires_grad=True)
    getattr(torch.nn.functional, name)(th, -1).backward(torch.tensor(g))
    close(f(t.detach(), -1), getattr(torch.nn.functional, name)(th.detach(), -1), atol=1e-6)
    close(t.grad, th.grad, atol=1e-6)


# -- second derivatives at the kinks, and where PyTorch has none --------------------------------
def _outcome(fn, L):
    """('ok', value) or ('raise', type name, message): what ``fn(L)`` does."""
    try:
        return ("ok", fn(L))
    except Exception as e:  # noqa: BLE001 - the exception is the result being compared
        return ("raise", type(e).__name__, str(e))


@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("wrt", ["input", "grad_output"])
def test_hardsigmoid_double_backward_raises_at_the_second_backward_as_torch(inplace, wrt):
    data = np.array([-4.0, -3.0, -1.0, 0.0, 2.5, 3.0, 5.0])

    def first(L):
        x = L.tensor(data, requires_grad=True)
        v = L.tensor(data / 2 + 1, requires_grad=True)
        y = L.nn.functional.hardsigmoid(x.clone() if inplace else x, inplace=inplace)
        (g,) = L.autograd.grad(y, x, v, create_graph=True)
        return x, v, g

    def second(L):
        x, v, g = first(L)
        return L.autograd.grad((g * g).sum(), x if wrt == "input" else v)

    (x1, _, g1), (x2, _, g2) = both(first)
    close(g1, g2)
    assert g1.requires_grad and g2.requires_grad
    assert g1.grad_fn.name() == g2.grad_fn.name() == "torch::autograd::NotImplemented"
    got, want = _outcome(second, ndgrad), _outcome(second, torch)
    assert want[0] == "raise" and got == want


KINKS = np.array([-4.0, -3.0, -2.5, -1.0, -0.5, 0.0, 0.4, 1.0, 1.2, 2.9, 3.0, 3.5, 6.0, 7.0, 25.0])
KINKED = {  # name: (kwargs, PyTorch's node names its gradient shares)
    "hardswish": ({}, True), "relu6": ({}, True), "hardtanh": ({}, True),
    "hardtanh(-2, 3)": ({"min_val": -2.0, "max_val": 3.0}, True),
    "leaky_relu(0.2)": ({"negative_slope": 0.2}, True), "relu": ({}, True),
    "elu": ({}, True), "elu(0.5)": ({"alpha": 0.5}, True), "selu": ({}, True),
    "celu(2)": ({"alpha": 2.0}, True), "softplus": ({}, False),
    "softplus(2, 10)": ({"beta": 2.0, "threshold": 10.0}, False), "silu": ({}, True),
    "mish": ({}, True), "gelu": ({}, False), "gelu(tanh)": ({"approximate": "tanh"}, False),
}
KINKED_CASES = [(name, inplace) for name in sorted(KINKED) for inplace in (False, True)
                if not (inplace and name.startswith(("softplus", "gelu")))]  # no in-place form


@pytest.mark.parametrize("name, inplace", KINKED_CASES)
def test_activation_second_derivatives_at_the_kinks_match_torch(name, inplace):
    # The gradient's gradient, for the input and for the incoming gradient (which requires grad
    # too), at and around the kinks: PyTorch's double-backward formulas are zero at a kink, and a
    # masked gradient stays attached to the input with a zero derivative.
    kwargs, named = KINKED[name]
    fn = name.split("(")[0]
    v_data = np.random.default_rng(11).uniform(-1, 1, KINKS.size)
    u_data = np.random.default_rng(12).uniform(-1, 1, KINKS.size)
    for dtype in ("float64", "float32"):
        def run(L):
            x = L.tensor(KINKS, dtype=getattr(L, dtype), requires_grad=True)
            v = L.tensor(v_data, dtype=x.dtype, requires_grad=True)
            f = getattr(L.nn.functional, fn)
            y = f(x.clone(), inplace=True, **kwargs) if inplace else f(x, **kwargs)
            (g,) = L.autograd.grad(y, x, v, create_graph=True)
            gx, gv = L.autograd.grad((g * L.tensor(u_data, dtype=x.dtype)).sum(), [x, v])
            return g, gx, gv, g.grad_fn.name()
        (g1, gx1, gv1, n1), (g2, gx2, gv2, n2) = both(run)
        tol = dict(rtol=1e-12, atol=1e-14) if dtype == "float64" else dict(rtol=1e-5, atol=1e-6)
        close(g1, g2, **tol)
        close(gx1, gx2, **tol)
        close(gv1, gv2, **tol)
        if named:
            assert n1 == n2


@pytest.mark.parametrize("call", ["torch.softmax(x)", "torch.log_softmax(x)", "x.softmax()",
                                  "x.log_softmax()"])
def test_softmax_without_dim_raises_as_torch(call):
    caught = []
    for L in LIBS:
        with pytest.raises(TypeError) as info:
            eval(call, {"torch": L, "x": L.ones(2, 3)})
        caught.append(str(info.value))
    assert caught[0] == caught[1]
