"""Rows for the reductions and scans of ndgrad._reduce (sum and mean are in op_rows_core)."""
import numpy as np

from optable import Row, Sample, arr, pos, rows


def _distinct(rng, *shape, dtype=np.float64):
    """Values with no ties and gaps of at least 0.1, so that max/sort/median are smooth."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.1 - 0.05 * n + rng.uniform(0, 0.02, n)).reshape(shape).astype(dtype)


def _with_zeros(rng, *shape, zeros=((0, 1),)):
    a = rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1, 1], size=shape)
    for z in zeros:
        a[z] = 0.0
    return a


def _prod(rng):
    return [Sample((arr(rng, 3, 4),)), Sample((arr(rng),)), Sample((arr(rng, 2, 3, 4), 1)),
            Sample((arr(rng, 3, 4), -1), {"keepdim": True}), Sample((arr(rng, 3, 4), 0)),
            Sample((arr(rng, 3, dtype=np.float32),)),
            Sample((_with_zeros(rng, 3, 4),)),                                  # one zero
            Sample((_with_zeros(rng, 3, 4, zeros=((0, 1), (2, 2))),)),          # two zeros
            Sample((_with_zeros(rng, 3, 4, zeros=((0, 1), (2, 2))), 1)),        # one per row
            Sample((_with_zeros(rng, 3, 4, zeros=((0, 1), (0, 3), (1, 0))), 1)),  # two in a row
            Sample((arr(rng), 0))]


def _full_and_dim(rng):
    return [Sample((_distinct(rng, 3, 4),)), Sample((_distinct(rng, 3, 4), 1)),
            Sample((_distinct(rng, 2, 3, 4), 0), {"keepdim": True}), Sample((_distinct(rng, 5), -1)),
            Sample((arr(rng),)), Sample((arr(rng), 0)),
            Sample((_distinct(rng, 3, 4, dtype=np.float32), 1))]


def _amax(rng):
    return [Sample((_distinct(rng, 3, 4),)), Sample((_distinct(rng, 3, 4),), {"dim": 1}),
            Sample((_distinct(rng, 3, 4),), {"dim": (0, 1), "keepdim": True}),
            Sample((_distinct(rng, 2, 3, 4),), {"dim": (0, 2)}), Sample((arr(rng),)),
            Sample((_distinct(rng, 4, dtype=np.float32),), {"dim": 0})]


def _arg(rng):
    return [Sample((_distinct(rng, 3, 4),)), Sample((_distinct(rng, 3, 4), 1)),
            Sample((_distinct(rng, 3, 4), 0, True)), Sample((np.array([1, 3, 3, 0, 3]),)),
            Sample((np.array([[2., np.nan, 1.], [1., 1., 0.]]), 1)), Sample((arr(rng),))]


def _var(rng):
    return [Sample((arr(rng, 3, 4),)), Sample((arr(rng, 3, 4), 1)),
            Sample((arr(rng, 2, 3, 4), (0, 2)), {"keepdim": True}),
            Sample((arr(rng, 3, 4),), {"dim": 0, "correction": 0}),
            Sample((arr(rng, 3, 4),), {"dim": -1, "unbiased": False}),
            Sample((arr(rng, 3, 4), 1, True)), Sample((arr(rng, 5),), {"correction": 2}),
            Sample((arr(rng, 3, 4, dtype=np.float32), 0))]


def _std(rng):
    return [Sample((arr(rng, 3, 4),)), Sample((arr(rng, 3, 4), 1)),
            Sample((arr(rng, 2, 3, 4), (0, 2)), {"keepdim": True}),
            Sample((arr(rng, 3, 4),), {"dim": 0, "correction": 0}),
            Sample((arr(rng, 3, 4),), {"dim": -1, "unbiased": False}),
            Sample((arr(rng, 3, 4, dtype=np.float32), 0))]


def _lse(rng):
    return [Sample((arr(rng, 3, 4), 1)), Sample((arr(rng, 2, 3, 4), (0, 2)), {"keepdim": True}),
            Sample((arr(rng), 0)), Sample((arr(rng, 3, 4), -1), {"keepdim": True}),
            Sample((np.array([[1000., -1000.], [-1000., -1000.], [999., 1000.]]), 1)),
            Sample((arr(rng, 3, 4, dtype=np.float32), 0)), Sample((np.arange(6).reshape(2, 3), 1))]


def _cumsum(rng):
    return [Sample((arr(rng, 3, 4), 1)), Sample((arr(rng, 3, 4), 0)), Sample((arr(rng, 2, 3, 4), -1)),
            Sample((arr(rng), 0)), Sample((np.arange(5), 0)),
            Sample((arr(rng, 4, dtype=np.float32), 0))]


def _cumprod(rng):
    return [Sample((arr(rng, 3, 4), 1)), Sample((arr(rng, 3, 4), 0)), Sample((arr(rng, 2, 3, 4), -1)),
            Sample((arr(rng), 0)), Sample((np.arange(1, 5), 0)),
            Sample((_with_zeros(rng, 3, 5, zeros=((0, 1), (1, 4))), 1)),
            Sample((_with_zeros(rng, 3, 5, zeros=((0, 1), (0, 3), (2, 0))), 1)),
            Sample((_with_zeros(rng, 4, 3, zeros=((1, 1),)), 0)),
            Sample((arr(rng, 4, dtype=np.float32), 0))]


def _logical(rng):
    a = np.array([[1., 0., 2.], [3., 4., 5.]])
    return [Sample((a,)), Sample((a, 1)), Sample((a, 0, True)), Sample((a > 1,), {"dim": (0, 1)}),
            Sample((np.array([1, 0, 2], dtype=np.uint8),)), Sample((arr(rng),))]


def _count(rng):
    a = np.array([[1., 0., 2.], [0., 0., 5.]])
    return [Sample((a,)), Sample((a, 1)), Sample((a, (0, 1))), Sample((np.arange(4),)),
            Sample((arr(rng),))]


def _median(rng):
    return [Sample((_distinct(rng, 3, 4),)), Sample((_distinct(rng, 3, 5),)),
            Sample((_distinct(rng, 3, 4), 1)), Sample((_distinct(rng, 3, 5), 0, True)),
            Sample((arr(rng),)),
            Sample((arr(rng), 0)), Sample((_distinct(rng, 4, 3, dtype=np.float32), 0))]


def _sort(rng):
    return [Sample((_distinct(rng, 3, 4),)), Sample((_distinct(rng, 3, 4), 0)),
            Sample((_distinct(rng, 2, 3, 4),), {"dim": 1, "descending": True}),
            Sample((_distinct(rng, 3, 4),), {"stable": True}),
            Sample((arr(rng),)), Sample((_distinct(rng, 5, dtype=np.float32),), {"descending": True})]


def _topk(rng):
    return [Sample((_distinct(rng, 3, 5), 2)), Sample((_distinct(rng, 3, 5), 3, 0)),
            Sample((_distinct(rng, 2, 3, 4), 2), {"dim": 1, "largest": False}),
            Sample((_distinct(rng, 6), 6)), Sample((arr(rng), 1)),
            Sample((_distinct(rng, 5, dtype=np.float32), 2), {"largest": False})]


rows(
    Row("prod", _prod, method="prod"),
    Row("max", _full_and_dim, method="max"),
    Row("min", _full_and_dim, method="min"),
    Row("amax", _amax, method="amax"),
    Row("amin", lambda rng: [Sample((np.asarray(-s.args[0]),), s.kwargs) for s in _amax(rng)], method="amin"),
    Row("argmax", _arg, method="argmax", grad=False),
    Row("argmin", _arg, method="argmin", grad=False),
    Row("var", _var, method="var"),
    Row("std", _std, method="std"),
    Row("var_mean", _var),
    Row("std_mean", _std),
    Row("logsumexp", _lse, method="logsumexp"),
    Row("cumsum", _cumsum, method="cumsum"),
    Row("cumprod", _cumprod, method="cumprod"),
    Row("all", _logical, method="all", grad=False),
    Row("any", _logical, method="any", grad=False),
    Row("count_nonzero", _count, method="count_nonzero", grad=False),
    Row("median", _median, method="median"),
    Row("sort", _sort, method="sort"),
    Row("topk", _topk, method="topk"),
)
