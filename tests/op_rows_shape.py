"""Rows for the shape, indexing and view ops (cat and stack take tensor lists, which the finite
difference check cannot perturb: tests/test_shape.py checks their gradients)."""
import numpy as np

from optable import Row, Sample, alias, arr, rows


def _idx(*values):
    return np.array(values, dtype=np.int64)


def _mask(rng, *shape):
    m = rng.uniform(size=shape) > 0.5
    m.flat[0], m.flat[-1] = True, False
    return m


def _reshape(rng):
    return [Sample((arr(rng, 3, 4), (4, 3))), Sample((arr(rng, 2, 6), (-1,))),
            Sample((arr(rng), (1, 1))), Sample((arr(rng, 2, 3, 2, dtype=np.float32), (3, -1)))]


def _broadcast_to(rng):
    return [Sample((arr(rng, 3, 1), (2, 3, 4))), Sample((arr(rng), (3,))),
            Sample((arr(rng, 4), (3, 4)))]


def _flatten(rng):
    return [Sample((arr(rng, 2, 3, 4),)), Sample((arr(rng, 2, 3, 4), 1)),
            Sample((arr(rng, 2, 3, 4, 2), 1, 2)), Sample((arr(rng),)), Sample((arr(rng, 5),))]


def _squeeze(rng):
    return [Sample((arr(rng, 3, 1, 4, 1),)), Sample((arr(rng, 3, 1, 4), 1)),
            Sample((arr(rng, 1, 3, 1), (0, 2))), Sample((arr(rng, 3, 4), 0)), Sample((arr(rng),))]


def _along(rng):
    """A tensor, dim and an index tensor for gather-like ops (repeats included)."""
    return [(arr(rng, 3, 4), 0, np.array([[0, 1, 2, 0], [2, 2, 1, 1]])),
            (arr(rng, 3, 4), 1, np.array([[3, 0], [1, 1], [2, 0]])),
            (arr(rng, 2, 3, 4), -1, rng.integers(0, 4, size=(2, 2, 3)))]


def _scatter(rng):
    # distinct targets along `dim`, so the result does not depend on the order of writes
    idx0 = np.array([[0, 1, 2, 0], [2, 0, 1, 1]])
    idx1 = np.array([[3, 0], [1, 2], [0, 3]])
    return [Sample((arr(rng, 3, 4), 0, idx0, arr(rng, 2, 4))),
            Sample((arr(rng, 3, 4), 1, idx1, arr(rng, 3, 2))),
            Sample((arr(rng, 3, 4), 0, idx0), {"value": 1.5}),
            Sample((arr(rng, 3, 4), 1, idx1, -2.0))]


def _scatter_add(rng):
    return [Sample((arr(rng, 3, 4), 0, np.array([[0, 1, 2, 0], [0, 0, 1, 1]]), arr(rng, 2, 4))),
            Sample((arr(rng, 3, 4), 1, np.array([[3, 3], [1, 2], [0, 0]]), arr(rng, 3, 2))),
            Sample((arr(rng, 2, 3, dtype=np.float32), 0, np.array([[1, 1, 0]]),
                    arr(rng, 1, 3, dtype=np.float32)))]


def _scatter_reduce(rng):
    # NOTE: src has the index's shape: PyTorch's own backward fails on a larger src
    idx0 = np.array([[0, 1, 2, 0], [0, 0, 1, 1]])  # repeats: several src values per slot
    idx1 = np.array([[3, 3], [1, 2], [0, 0]])
    return [Sample((arr(rng, 3, 4), 0, idx0, arr(rng, 2, 4), "sum")),
            Sample((arr(rng, 3, 4), 0, idx0, arr(rng, 2, 4), "sum"), {"include_self": False}),
            Sample((arr(rng, 3, 4), 1, idx1, arr(rng, 3, 2), "prod")),
            Sample((arr(rng, 3, 4), 0, idx0, arr(rng, 2, 4), "prod"), {"include_self": False}),
            Sample((arr(rng, 3, 4), 0, idx0, arr(rng, 2, 4), "mean")),
            Sample((arr(rng, 3, 4), 1, idx1, arr(rng, 3, 2), "mean"), {"include_self": False}),
            Sample((arr(rng, 3, 4), 0, idx0, arr(rng, 2, 4), "amax")),
            Sample((arr(rng, 3, 4), 1, idx1, arr(rng, 3, 2), "amax"), {"include_self": False}),
            Sample((arr(rng, 3, 4), 0, idx0, arr(rng, 2, 4), "amin")),
            Sample((arr(rng, 2, 3, dtype=np.float32), 0, np.array([[1, 1, 0]]),
                    arr(rng, 1, 3, dtype=np.float32), "amin"), {"include_self": False})]


def _split(rng):
    return [Sample((arr(rng, 5, 3), 2)), Sample((arr(rng, 5, 3), [1, 4])),
            Sample((arr(rng, 2, 7), 3, 1)), Sample((arr(rng, 4, 3), [2, 1, 0], -1))]


def _index_add(rng):
    return [Sample((arr(rng, 3, 4), 0, _idx(0, 2, 0), arr(rng, 3, 4))),
            Sample((arr(rng, 3, 4), 1, _idx(1, 1), arr(rng, 3, 2)), {"alpha": -2.0}),
            Sample((arr(rng, 3, 4), -1, _idx(3), arr(rng, 3, 1)))]


def _index_fill(rng):
    # NOTE: PyTorch's backward for a tensor value fails on negative indices: numbers only there
    return [Sample((arr(rng, 3, 4), 0, _idx(0, 2, 0), 1.5)),
            Sample((arr(rng, 3, 4), 1, _idx(3, -1, 0), 0.25)),
            Sample((arr(rng, 3, 4), 1, _idx(3, 1, 3), arr(rng))),
            Sample((arr(rng, 2, 3, 4), -1, np.array(2), -0.5)),
            Sample((arr(rng), 0, _idx(0), arr(rng))),
            Sample((arr(rng, 2, 3, dtype=np.float32), 1, _idx(2), arr(rng, dtype=np.float32)))]


def _index_copy(rng):
    return [Sample((arr(rng, 3, 4), 0, _idx(2, 0), arr(rng, 2, 4))),
            Sample((arr(rng, 3, 4), 1, _idx(3, 1, 0), arr(rng, 3, 3))),
            Sample((arr(rng, 2, 3, 4), -1, np.array(1), arr(rng, 2, 3, 1))),
            Sample((arr(rng), 0, _idx(0), arr(rng))),
            Sample((arr(rng, 2, 3, dtype=np.float32), 0, _idx(1),
                    arr(rng, 1, 3, dtype=np.float32)))]


def _masked_scatter(rng):
    return [Sample((arr(rng, 3, 4), _mask(rng, 3, 4), arr(rng, 12))),
            Sample((arr(rng, 3, 1), _mask(rng, 3, 4), arr(rng, 3, 5))),
            Sample((arr(rng, 3, 4), _mask(rng, 4), arr(rng, 2, 7))),
            Sample((arr(rng), np.array(True), arr(rng, 2))),
            Sample((arr(rng, 2, 3, dtype=np.float32), _mask(rng, 2, 3),
                    arr(rng, 6, dtype=np.float32)))]


def _masked_fill(rng):
    return [Sample((arr(rng, 3, 4), _mask(rng, 3, 4), 0.5)),
            Sample((arr(rng, 3, 1), _mask(rng, 3, 4), -1.0)),
            Sample((arr(rng, 3, 4), _mask(rng, 4), arr(rng))),
            Sample((arr(rng), np.array(True), 2.0)),
            Sample((arr(rng, 2, 3, dtype=np.float32), _mask(rng, 2, 3), arr(rng, dtype=np.float32)))]


def _masked_select(rng):
    return [Sample((arr(rng, 3, 4), _mask(rng, 3, 4))), Sample((arr(rng, 3, 1), _mask(rng, 3, 4))),
            Sample((arr(rng, 4), _mask(rng, 3, 4))), Sample((arr(rng), np.array(True)))]


def _tri(rng):
    return [Sample((arr(rng, 4, 4),)), Sample((arr(rng, 3, 5), 1)), Sample((arr(rng, 2, 4, 3), -1)),
            Sample((arr(rng, 3, 3, dtype=np.float32), 2))]


def _diagonal(rng):
    return [Sample((arr(rng, 4, 4),)), Sample((arr(rng, 3, 5), 1)), Sample((arr(rng, 3, 5), -2)),
            Sample((arr(rng, 2, 3, 4), 0, 2, 0)), Sample((arr(rng, 2, 3, 4), -1, -1, 1))]


rows(
    Row("reshape", _reshape, method="reshape"),
    Row("broadcast_to", _broadcast_to, method="broadcast_to"),
    Row("flatten", _flatten, method="flatten"),
    Row("unflatten", lambda rng: [Sample((arr(rng, 3, 4), 1, (2, 2))),
                                  Sample((arr(rng, 6, 2), 0, (3, -1)))], method="unflatten"),
    Row("squeeze", _squeeze, method="squeeze"),
    Row("unsqueeze", lambda rng: [Sample((arr(rng, 3, 4), 1)), Sample((arr(rng, 3, 4), -1)),
                                  Sample((arr(rng), 0))], method="unsqueeze"),
    Row("permute", lambda rng: [Sample((arr(rng, 2, 3, 4), (2, 0, 1))), Sample((arr(rng, 3, 4), (-1, 0))),
                                Sample((arr(rng), ()))], method="permute"),
    Row("transpose", lambda rng: [Sample((arr(rng, 2, 3, 4), 0, 2)), Sample((arr(rng, 3, 4), -1, 0))],
        method="transpose"),
    Row("swapaxes", lambda rng: [Sample((arr(rng, 2, 3, 4), 1, 2))], method="swapaxes"),
    Row("swapdims", lambda rng: [Sample((arr(rng, 2, 3, 4), 0, -1))], method="swapdims"),
    Row("t", lambda rng: [Sample((arr(rng, 3, 4),)), Sample((arr(rng, 4),)), Sample((arr(rng),))],
        method="t"),
    Row("tile", lambda rng: [Sample((arr(rng, 2, 3), (2, 1))), Sample((arr(rng, 2, 3), (2,))),
                             Sample((arr(rng, 3), (2, 1, 2))), Sample((arr(rng), (3,)))], method="tile"),
    Row("flip", lambda rng: [Sample((arr(rng, 3, 4), (0,))), Sample((arr(rng, 2, 3, 4), (0, -1))),
                             Sample((arr(rng, 4), (0,)))], method="flip"),
    Row("roll", lambda rng: [Sample((arr(rng, 3, 4), 1, 0)), Sample((arr(rng, 3, 4), (1, -2), (0, 1))),
                             Sample((arr(rng, 3, 4), 5))], method="roll"),
    Row("cat", lambda rng: [Sample(([arr(rng, 2, 3), arr(rng, 1, 3)],), grad_args=(0,)),
                            Sample(([arr(rng, 2, 3), arr(rng, 2, 1), arr(rng, 2, 2)], 1), grad_args=(0,)),
                            Sample(([arr(rng, 2, 3), arr(rng, 2, 3, dtype=np.float32)], -1),
                                   grad_args=(0,))],
        grad=False, note="gradients: tests/test_shape.py"),
    Row("stack", lambda rng: [Sample(([arr(rng, 2, 3), arr(rng, 2, 3)],), grad_args=(0,)),
                              Sample(([arr(rng, 2, 3), arr(rng, 2, 3), arr(rng, 2, 3)], -1),
                                     grad_args=(0,)),
                              Sample(([arr(rng), arr(rng)],), grad_args=(0,))],
        grad=False, note="gradients: tests/test_shape.py"),
    Row("hstack", lambda rng: [Sample(([arr(rng, 2, 3), arr(rng, 2, 1)],), grad_args=(0,)),
                               Sample(([arr(rng, 3), arr(rng)],), grad_args=(0,))],
        grad=False, note="gradients: tests/test_shape.py"),
    Row("vstack", lambda rng: [Sample(([arr(rng, 2, 3), arr(rng, 3)],), grad_args=(0,)),
                               Sample(([arr(rng), arr(rng)],), grad_args=(0,))],
        grad=False, note="gradients: tests/test_shape.py"),
    Row("split", _split, method="split"),
    Row("chunk", lambda rng: [Sample((arr(rng, 5, 3), 2)), Sample((arr(rng, 2, 6), 4, 1)),
                              Sample((arr(rng, 3, 2), 3))], method="chunk"),
    Row("unbind", lambda rng: [Sample((arr(rng, 3, 4),)), Sample((arr(rng, 2, 3, 4), -1))],
        method="unbind"),
    Row("narrow", lambda rng: [Sample((arr(rng, 4, 5), 1, 1, 3)), Sample((arr(rng, 4, 5), 0, -2, 2))],
        method="narrow"),
    Row("select", lambda rng: [Sample((arr(rng, 4, 5), 1, 2)), Sample((arr(rng, 4, 5), 0, -1)),
                               Sample((arr(rng, 4), 0, 3))], method="select"),
    Row("gather", lambda rng: [Sample(a) for a in _along(rng)], method="gather"),
    Row("scatter", _scatter, method="scatter"),
    Row("scatter_add", _scatter_add, method="scatter_add"),
    Row("scatter_reduce", _scatter_reduce, method="scatter_reduce"),
    Row("index_select", lambda rng: [Sample((arr(rng, 3, 4), 0, _idx(2, 0, 2))),
                                     Sample((arr(rng, 3, 4), -1, _idx(1))),
                                     Sample((arr(rng, 5), 0, np.array(3)))], method="index_select"),
    Row("index_add", _index_add, method="index_add"),
    Row("index_fill", _index_fill, method="index_fill"),
    Row("index_copy", _index_copy, method="index_copy"),
    Row("masked_fill", _masked_fill, method="masked_fill"),
    Row("masked_scatter", _masked_scatter, method="masked_scatter"),
    Row("masked_select", _masked_select, method="masked_select"),
    Row("take", lambda rng: [Sample((arr(rng, 3, 4), _idx(0, 11, 5, 5))),
                             Sample((arr(rng, 3, 4), np.array([[1, -1], [2, 2]]))),
                             Sample((arr(rng), np.array(0)))], method="take"),
    Row("tril", _tri, method="tril"),
    Row("triu", _tri, method="triu"),
    Row("diag", lambda rng: [Sample((arr(rng, 4),)), Sample((arr(rng, 3), 1)), Sample((arr(rng, 3), -2)),
                             Sample((arr(rng, 3, 4),)), Sample((arr(rng, 4, 3), -1))], method="diag"),
    Row("diagonal", _diagonal, method="diagonal"),
    Row("trace", lambda rng: [Sample((arr(rng, 3, 3),)), Sample((arr(rng, 2, 4),)),
                              Sample((arr(rng, 3, 3, dtype=np.float32),))], method="trace"),
)

alias("concat", "concatenate")
