"""Rows for the core ops: arithmetic, the seed's elementwise functions, sum, mean, comparisons."""
import numpy as np

from optable import Row, Sample, alias, arr, binary, pos, rows, unary


def _reduce(rng):
    return [Sample((arr(rng, 3, 4),)), Sample((arr(rng),)), Sample((arr(rng, 2, 3, 4),), {"dim": 1}),
            Sample((arr(rng, 2, 3, 4),), {"dim": (0, 2), "keepdim": True}),
            Sample((arr(rng, 3, 4),), {"dim": -1}), Sample((arr(rng, 3, dtype=np.float32),))]


def _away_from_zero(rng, *shape, dtype=np.float64):
    x = rng.uniform(0.3, 2.0, size=shape) * rng.choice([-1, 1], size=shape)
    return np.asarray(x).astype(dtype)


def _pow(rng):
    return [Sample((pos(rng, 3, 4), 2)), Sample((pos(rng, 3, 4), 0.5)), Sample((arr(rng, 4), 3)),
            Sample((pos(rng, 3, 4), pos(rng, 3, 4))), Sample((pos(rng, 3, 1), pos(rng, 4))),
            Sample((pos(rng), pos(rng, 2, 3))), Sample((pos(rng, 2, 3), 0)),
            Sample((2.0, arr(rng, 3))), Sample((arr(rng, 2, 2), -1.0 + 0 * 1))]


def _cmp(rng):
    a = arr(rng, 3, 4)
    return [Sample((a, a.copy())), Sample((arr(rng, 3, 1), arr(rng, 4))), Sample((arr(rng), 0.5)),
            Sample((np.arange(4), 2))]


rows(
    Row("add", binary(), method="add"),
    Row("sub", binary(), method="sub"),
    Row("mul", binary(), method="mul"),
    Row("div", binary(arr, _away_from_zero), method="div"),
    Row("rsub", binary(), note="other - input"),
    Row("pow", _pow, method="pow"),
    Row("neg", unary(), method="neg"),
    Row("reciprocal", unary(_away_from_zero), method="reciprocal"),
    Row("abs", unary(_away_from_zero), method="abs"),
    Row("sign", unary(_away_from_zero), method="sign"),
    Row("exp", unary(), method="exp"),
    Row("log", unary(pos), method="log"),
    Row("sqrt", unary(pos), method="sqrt"),
    Row("sin", unary(), method="sin"),
    Row("cos", unary(), method="cos"),
    Row("tanh", unary(), method="tanh"),
    Row("sigmoid", unary(), method="sigmoid"),
    Row("relu", unary(_away_from_zero), method="relu"),
    Row("sum", _reduce, method="sum"),
    Row("mean", _reduce, method="mean"),
    Row("clone", unary(), method="clone"),
    Row("where", lambda rng: [Sample((arr(rng, 3, 4) > 0, arr(rng, 3, 4), arr(rng, 3, 4))),
                              Sample((arr(rng, 3, 1) > 0, arr(rng, 4), arr(rng))),
                              Sample((arr(rng, 3) > 0, arr(rng, 3), 0.5))]),
    *[Row(n, _cmp, method=n, grad=False) for n in ("eq", "ne", "lt", "le", "gt", "ge")],
)

alias("subtract", "multiply", "divide", "true_divide", "negative", "absolute")
