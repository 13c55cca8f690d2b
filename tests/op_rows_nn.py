"""Rows for nn.functional's activations, softmax family, linear maps, padding, embedding, losses."""
import numpy as np

from optable import Row, Sample, arr, pos, rows, unary

F = "nn.functional."


def _away(rng, *shape, low=0.2, high=2.5, dtype=np.float64):
    """Values of either sign, at least `low` from zero (away from an activation's kink)."""
    x = rng.uniform(low, high, size=shape) * rng.choice([-1, 1], size=shape)
    return np.asarray(x).astype(dtype)


def _near(centers):
    """Values within 0.8 of the given centers (chosen to keep 0.7 away from an op's kinks)."""
    def draw(rng, *shape, dtype=np.float64):
        x = rng.choice(centers, size=shape) + rng.uniform(-0.8, 0.8, size=shape)
        return np.asarray(x).astype(dtype)
    return draw


_away3 = _near([-4.5, -1.5, 1.5, 4.5])  # hardsigmoid, hardswish: kinks at -3 and 3
_away06 = _near([-1.5, 3.0, 7.5])  # relu6: kinks at 0 and 6


def _act(domain=arr, **kwargs):
    """An activation's samples: matrix, 0-d, float32, and each keyword setting."""
    def make(rng):
        s = [Sample((domain(rng, 3, 4),)), Sample((domain(rng),)),
             Sample((domain(rng, 2, 3, dtype=np.float32),))]
        s += [Sample((domain(rng, 2, 5),), {k: v}) for k, v in kwargs.items()]
        return s
    return make


def _softmax(rng):
    return [Sample((arr(rng, 3, 4), 1)), Sample((arr(rng, 2, 3, 4), 0)),
            Sample((arr(rng, 2, 3, 4), -1)), Sample((arr(rng), 0)),
            Sample((arr(rng, 5, dtype=np.float32), 0)),
            Sample((arr(rng, 2, 3) * 400, 1))]


def _softplus(rng):
    return [Sample((arr(rng, 3, 4),)), Sample((arr(rng),)),
            Sample((_away(rng, 2, 3) * 3,), {"beta": 2.0, "threshold": 3.0}),
            Sample((arr(rng, 4, dtype=np.float32),)), Sample((arr(rng, 2, 2) * 400,))]


def _normalize(rng):
    return [Sample((arr(rng, 3, 4),)), Sample((_away(rng, 2, 3, 4),), {"dim": -1, "p": 1.0}),
            Sample((_away(rng, 5),), {"dim": 0, "p": 3.0}),
            Sample((arr(rng, 3, 4),), {"p": float("inf")}),
            Sample((arr(rng, 2, 3, dtype=np.float32),))]


def _linear(rng):
    return [Sample((arr(rng, 3, 4), arr(rng, 5, 4))),
            Sample((arr(rng, 3, 4), arr(rng, 5, 4), arr(rng, 5))),
            Sample((arr(rng, 2, 3, 4), arr(rng, 2, 4), arr(rng, 2))),
            Sample((arr(rng, 4), arr(rng, 3, 4), arr(rng))),
            Sample((arr(rng, 2, 3, dtype=np.float32), arr(rng, 2, 3, dtype=np.float32)))]


def _bilinear(rng):
    return [Sample((arr(rng, 3, 4), arr(rng, 3, 2), arr(rng, 5, 4, 2))),
            Sample((arr(rng, 3, 4), arr(rng, 3, 2), arr(rng, 5, 4, 2), arr(rng, 5))),
            Sample((arr(rng, 2, 3, 4), arr(rng, 2, 3, 3), arr(rng, 2, 4, 3), arr(rng, 2))),
            Sample((arr(rng, 2, 3, dtype=np.float32), arr(rng, 2, 3, dtype=np.float32),
                    arr(rng, 2, 3, 3, dtype=np.float32)))]


def _pad(rng):
    return [Sample((arr(rng, 3, 4), (1, 2))),
            Sample((arr(rng, 2, 3, 4), (1, 0, 2, 1)), {"value": 1.5}),
            Sample((arr(rng, 3, 5), (-1, 2))),
            Sample((arr(rng, 2, 5), (2, 3)), {"mode": "reflect"}),
            Sample((arr(rng, 1, 2, 4, 5), (1, 2, 3, 1)), {"mode": "reflect"}),
            Sample((arr(rng, 2, 3, 4), (2, 3)), {"mode": "replicate"}),
            Sample((arr(rng, 1, 2, 3, 3), (2, 1, 1, 3)), {"mode": "replicate"}),
            Sample((arr(rng, 1, 2, 2, 3, 2), (1, 1, 1, 2, 2, 1)), {"mode": "replicate"}),
            Sample((arr(rng, 2, 3, 4), (2, 3)), {"mode": "circular"}),
            Sample((arr(rng, 1, 2, 3, 4), (1, 2, 3, 1)), {"mode": "circular"}),
            Sample((arr(rng, 2, 3, dtype=np.float32), (1, 1)), {"mode": "reflect"})]


def _embedding(rng):
    idx = rng.integers(0, 5, size=(3, 4))
    idx[0, :2] = 2  # repeated rows accumulate their gradients
    # padding_idx and scale_grad_by_freq change the gradient on purpose (no finite-difference
    # check possible): test_nn_functional.py compares them with PyTorch.
    return [Sample((idx, arr(rng, 5, 3))), Sample((np.array(4), arr(rng, 5, 2))),
            Sample((idx[0], arr(rng, 5, 3, dtype=np.float32)))]


def _pointwise_loss(extra=None, weight=False):
    def make(rng):
        s = [Sample((arr(rng, 3, 4), arr(rng, 3, 4))),
             Sample((arr(rng, 3, 4), arr(rng, 3, 4)), {"reduction": "sum"}),
             Sample((arr(rng, 3, 4), arr(rng, 3, 4)), {"reduction": "none"}),
             Sample((arr(rng), arr(rng))),
             Sample((arr(rng, 3, 4), arr(rng, 4))),  # broadcasts, with PyTorch's warning
             Sample((arr(rng, 2, 3, dtype=np.float32), arr(rng, 2, 3, dtype=np.float32)))]
        if extra:
            s += [Sample((arr(rng, 3, 4), arr(rng, 3, 4)), e) for e in extra]
        if weight:
            s += [Sample((arr(rng, 3, 4), arr(rng, 3, 4), None, None, r, pos(rng, 3, 4)))
                  for r in ("mean", "sum")]
        return s
    return make


def _away_pair(rng, *shape, dtype=np.float64):
    """(input, target) whose differences lie in 0.2..0.8 or 1.7..2.3 in size: away from the kinks
    of l1 (0), smooth_l1 (beta) and huber (delta) for the betas and deltas the rows use."""
    t = arr(rng, *shape, dtype=dtype)
    d = rng.choice([-2.0, -0.5, 0.5, 2.0], size=shape) + rng.uniform(-0.3, 0.3, size=shape)
    return np.asarray(t + d).astype(dtype), t


def _kinked_loss(name, extra, weight=False):
    def make(rng):
        s = []
        for kw in [{}, {"reduction": "sum"}, {"reduction": "none"}] + extra:
            s.append(Sample(_away_pair(rng, 3, 4), kw))
        s.append(Sample(_away_pair(rng)))
        t = arr(rng, 1, 4)
        x0, t0 = _away_pair(rng, 3, 4)
        x = x0 - t0 + t  # input - target keeps its distance from the kinks after broadcasting
        s.append(Sample((x, t), {"reduction": "sum"}))  # broadcasts, with PyTorch's warning
        s.append(Sample(_away_pair(rng, 2, 3, dtype=np.float32)))
        if weight:  # positional: huber_loss(input, target, reduction, delta, weight); l1_loss
            # has size_average and reduce before reduction
            for r in ("mean", "none"):
                x, t = _away_pair(rng, 3, 4)
                s.append(Sample((x, t, r, 1.0, pos(rng, 3, 4)) if name == "huber" else
                                (x, t, None, None, r, pos(rng, 3, 4))))
        return s
    return make


def _labels(rng, n, c, *extra):
    return rng.integers(0, c, size=(n,) + extra)


def _cross_entropy(rng):
    t = _labels(rng, 5, 4)
    t_ign = t.copy()
    t_ign[1] = -100
    return [Sample((arr(rng, 5, 4), t)), Sample((arr(rng, 5, 4), t), {"reduction": "sum"}),
            Sample((arr(rng, 5, 4), t), {"reduction": "none"}),
            Sample((arr(rng, 5, 4), t_ign, pos(rng, 4)), grad_args=(0,)),
            Sample((arr(rng, 5, 4), t), {"label_smoothing": 0.2}),
            Sample((arr(rng, 5, 4), t_ign, pos(rng, 4)), {"label_smoothing": 0.1}, grad_args=(0,)),
            Sample((arr(rng, 5, 4), t_ign), {"label_smoothing": 0.3, "reduction": "sum"}),
            Sample((arr(rng, 5, 4), t), {"ignore_index": 2}),
            Sample((arr(rng, 2, 3, 4), _labels(rng, 2, 3, 4))),
            Sample((arr(rng, 2, 3, 2, 2), _labels(rng, 2, 3, 2, 2)), {"reduction": "none"}),
            Sample((arr(rng, 2, 3, 4), _labels(rng, 2, 3, 4)), {"label_smoothing": 0.1}),
            Sample((arr(rng, 4), np.array(2))),
            Sample((arr(rng, 5, 4), pos(rng, 5, 4) / 4)),
            Sample((arr(rng, 5, 4), pos(rng, 5, 4) / 4, pos(rng, 4)), {"label_smoothing": 0.1},
                   grad_args=(0, 1)),
            Sample((arr(rng, 2, 3, 4), pos(rng, 2, 3, 4)), {"reduction": "none"}),
            Sample((arr(rng, 5, 4, dtype=np.float32), t)),
            Sample((arr(rng, 3, 4) * 1000, _labels(rng, 3, 4)))]


def _nll(rng):
    t = _labels(rng, 5, 4)
    t_ign = t.copy()
    t_ign[0] = -100
    return [Sample((arr(rng, 5, 4), t)), Sample((arr(rng, 5, 4), t), {"reduction": "sum"}),
            Sample((arr(rng, 5, 4), t_ign), {"reduction": "none"}),
            Sample((arr(rng, 5, 4), t_ign, pos(rng, 4)), grad_args=(0,)),
            Sample((arr(rng, 2, 3, 4, 2), _labels(rng, 2, 3, 4, 2))),
            Sample((arr(rng, 4), np.array(1))),
            Sample((arr(rng, 3, 4, dtype=np.float32), _labels(rng, 3, 4)))]


def _prob(rng, *shape, dtype=np.float64):
    return rng.uniform(0.05, 0.95, size=shape).astype(dtype)


def _bce(rng):
    return [Sample((_prob(rng, 3, 4), _prob(rng, 3, 4))),
            Sample((_prob(rng, 3, 4), _prob(rng, 3, 4)), {"reduction": "sum"}),
            Sample((_prob(rng, 3, 4), _prob(rng, 3, 4), pos(rng, 4)), {"reduction": "none"},
                   grad_args=(0, 1)),
            Sample((_prob(rng), _prob(rng))),
            Sample((_prob(rng, 2, 3, dtype=np.float32), _prob(rng, 2, 3, dtype=np.float32)))]


def _bce_logits(rng):
    return [Sample((arr(rng, 3, 4), _prob(rng, 3, 4))),
            Sample((arr(rng, 3, 4), _prob(rng, 3, 4)), {"reduction": "sum"}),
            Sample((arr(rng, 3, 4), _prob(rng, 3, 4), pos(rng, 4), None, None, "none", pos(rng, 4)),
                   grad_args=(0, 1)),
            Sample((arr(rng, 3, 4), _prob(rng, 3, 4), None, None, None, "mean", pos(rng, 3, 1)),
                   grad_args=(0, 1)),
            Sample((arr(rng), _prob(rng))),
            Sample((arr(rng, 2, 2) * 1000, _prob(rng, 2, 2))),
            Sample((arr(rng, 2, 3, dtype=np.float32), _prob(rng, 2, 3, dtype=np.float32)))]


def _kl(rng):
    return [Sample((arr(rng, 3, 4), _prob(rng, 3, 4)), {"reduction": "batchmean"}),
            Sample((arr(rng, 3, 4), _prob(rng, 3, 4)), {"reduction": "sum"}),
            Sample((arr(rng, 3, 4), _prob(rng, 3, 4)), {"reduction": "none"}),
            Sample((arr(rng, 3, 4), arr(rng, 3, 4)),
                   {"reduction": "batchmean", "log_target": True}),
            Sample((arr(rng, 3, 1), _prob(rng, 4)), {"reduction": "sum"}),
            Sample((arr(rng), _prob(rng)), {"reduction": "sum"}),
            Sample((arr(rng, 2, 3, dtype=np.float32), _prob(rng, 2, 3, dtype=np.float32)),
                   {"reduction": "batchmean"})]


def _cosine(rng):
    return [Sample((arr(rng, 3, 4), arr(rng, 3, 4))), Sample((arr(rng, 3, 4), arr(rng, 1, 4))),
            Sample((arr(rng, 2, 3, 4), arr(rng, 4)), {"dim": -1}),
            Sample((arr(rng, 5), arr(rng, 5)), {"dim": 0}),
            Sample((arr(rng, 2, 3, dtype=np.float32), arr(rng, 2, 3, dtype=np.float32)))]


rows(
    Row(F + "relu", _act(_away)),
    Row(F + "relu6", _act(_away06)),
    Row(F + "hardtanh", _act(_away)),
    Row(F + "leaky_relu", _act(_away, negative_slope=0.2)),
    Row(F + "elu", _act(_away, alpha=0.5)),
    Row(F + "selu", _act(_away)),
    Row(F + "celu", _act(_away, alpha=2.0)),
    Row(F + "gelu", _act(arr, approximate="tanh")),
    Row(F + "silu", _act()),
    Row(F + "mish", _act()),
    Row(F + "softplus", _softplus),
    Row(F + "softsign", _act(_away)),
    Row(F + "hardsigmoid", _act(_away3), gradgrad=False,
        note="PyTorch's hardsigmoid_backward has no derivative: a second backward raises"),
    Row(F + "hardswish", _act(_away3)),
    Row(F + "logsigmoid", lambda rng: [Sample((arr(rng, 3, 4),)), Sample((arr(rng),)),
                                       Sample((arr(rng, 2, 2) * 1000,)),
                                       Sample((arr(rng, 3, dtype=np.float32),))]),
    Row(F + "tanh", unary()),
    Row(F + "sigmoid", unary()),
    Row(F + "softmax", _softmax),
    Row(F + "log_softmax", _softmax),
    Row(F + "softmin", _softmax),
    Row("softmax", _softmax, method="softmax"),
    Row("log_softmax", _softmax, method="log_softmax"),
    Row(F + "normalize", _normalize),
    Row(F + "dropout", lambda rng: [Sample((arr(rng, 3, 4),), {"training": False}),
                                    Sample((arr(rng, 3, 4), 0.0))],
        note="random masks are checked in test_nn_functional.py"),
    Row(F + "linear", _linear),
    Row(F + "bilinear", _bilinear),
    Row(F + "one_hot", lambda rng: [Sample((rng.integers(0, 4, size=(3, 2)),)),
                                    Sample((rng.integers(0, 3, size=5), 6)),
                                    Sample((np.array(2), 4))],
        grad=False),
    Row(F + "pad", _pad),
    Row(F + "embedding", _embedding),
    Row(F + "mse_loss", _pointwise_loss(weight=True)),
    Row(F + "l1_loss", _kinked_loss("l1", [], weight=True)),
    Row(F + "smooth_l1_loss", _kinked_loss("smooth_l1", [{"beta": 0.1}, {"beta": 0.0}])),
    Row(F + "huber_loss", _kinked_loss("huber", [{"delta": 0.1}, {"delta": 3.0}], weight=True)),
    Row(F + "cross_entropy", _cross_entropy),
    Row(F + "nll_loss", _nll),
    Row(F + "binary_cross_entropy", _bce),
    Row(F + "binary_cross_entropy_with_logits", _bce_logits),
    Row(F + "kl_div", _kl),
    Row(F + "cosine_similarity", _cosine),
)
