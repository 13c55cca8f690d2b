"""Rows for nn.functional's convolutions, pooling and normalization."""
import numpy as np

from optable import Row, Sample, arr, rows

F = "nn.functional."


def _conv1d(rng):
    return [Sample((arr(rng, 2, 3, 9), arr(rng, 4, 3, 3), arr(rng, 4)), {"stride": 2, "padding": 1}),
            Sample((arr(rng, 3, 8), arr(rng, 2, 3, 2)), {"padding": "same"}),
            Sample((arr(rng, 2, 6, 10), arr(rng, 3, 2, 3)), {"groups": 3, "dilation": 2}),
            Sample((arr(rng, 2, 3, 7, dtype=np.float32), arr(rng, 2, 3, 3, dtype=np.float32)))]


def _conv2d(rng):
    return [Sample((arr(rng, 2, 3, 6, 5), arr(rng, 4, 3, 3, 2), arr(rng, 4))),
            Sample((arr(rng, 2, 4, 7, 6), arr(rng, 6, 2, 3, 2), arr(rng, 6)),
                   {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2), "groups": 2}),
            Sample((arr(rng, 1, 3, 7, 6), arr(rng, 2, 3, 3, 3)), {"padding": "same", "dilation": 2}),
            Sample((arr(rng, 2, 2, 5, 5), arr(rng, 3, 2, 2, 2)), {"padding": "valid", "stride": 2}),
            Sample((arr(rng, 3, 5, 5), arr(rng, 2, 3, 3, 3), arr(rng, 2)), {"padding": 1}),
            Sample((arr(rng, 2, 1, 6, 6, dtype=np.float32), arr(rng, 3, 1, 3, 3, dtype=np.float32),
                    arr(rng, 3, dtype=np.float32)))]


def _conv_t2d(rng):
    return [Sample((arr(rng, 2, 4, 3, 4), arr(rng, 4, 2, 3, 3), arr(rng, 2))),
            Sample((arr(rng, 2, 4, 4, 5), arr(rng, 4, 3, 3, 2), arr(rng, 6)),
                   {"stride": (2, 3), "padding": 1, "output_padding": (1, 2), "groups": 2,
                    "dilation": (2, 1)}),
            Sample((arr(rng, 3, 4, 4), arr(rng, 3, 2, 2, 2)), {"stride": 2, "padding": 1}),
            Sample((arr(rng, 1, 2, 3, 3, dtype=np.float32), arr(rng, 2, 2, 3, 3, dtype=np.float32)),
                   {"stride": 2})]


def _max_pool(rng):
    return [Sample((arr(rng, 2, 3, 8, 8), 2)),
            Sample((arr(rng, 2, 3, 9, 8), 3), {"stride": 2, "padding": 1, "dilation": (1, 2),
                                               "ceil_mode": True}),
            Sample((arr(rng, 3, 7, 6), (3, 2)), {"stride": (2, 1), "return_indices": True}),
            Sample((arr(rng, 2, 2, 5, 5, dtype=np.float32), 2), {"ceil_mode": True})]


def _avg_pool(rng):
    return [Sample((arr(rng, 2, 3, 8, 8), 2)),
            Sample((arr(rng, 2, 3, 9, 8), 3), {"stride": 2, "padding": 1, "ceil_mode": True,
                                               "count_include_pad": False}),
            Sample((arr(rng, 3, 7, 6), (3, 2)), {"stride": (2, 1), "padding": (1, 0),
                                                 "ceil_mode": True}),
            Sample((arr(rng, 2, 3, 6, 6), 2), {"divisor_override": 3}),
            Sample((arr(rng, 2, 2, 5, 5, dtype=np.float32), 3), {"stride": 1})]


def _adaptive(rng):
    return [Sample((arr(rng, 2, 3, 9, 8), (4, 5))), Sample((arr(rng, 3, 7, 7), 3)),
            Sample((arr(rng, 2, 3, 6, 6), (None, 4))), Sample((arr(rng, 2, 3, 5, 4), 1)),
            Sample((arr(rng, 2, 2, 6, 6, dtype=np.float32), 4))]


def _batch_norm(rng):
    return [Sample((arr(rng, 4, 3, 5, 2), None, None, arr(rng, 3), arr(rng, 3)), {"training": True}),
            Sample((arr(rng, 5, 3), arr(rng, 3), arr(rng, 3, low=0.5), arr(rng, 3), None),
                   {"training": True, "momentum": 0.2}, grad_args=(0, 3)),
            Sample((arr(rng, 4, 3, 5), arr(rng, 3), arr(rng, 3, low=0.5), arr(rng, 3), arr(rng, 3)),
                   grad_args=(0, 3, 4)),
            Sample((arr(rng, 4, 2, 3, 3, dtype=np.float32), None, None), {"training": True,
                                                                         "eps": 1e-3})]


def _layer_norm(rng):
    return [Sample((arr(rng, 4, 3, 5, 2), (5, 2), arr(rng, 5, 2), arr(rng, 5, 2))),
            Sample((arr(rng, 3, 4), (4,))), Sample((arr(rng, 6), [6], None, arr(rng, 6))),
            Sample((arr(rng, 2, 3, 4, dtype=np.float32), (4,), arr(rng, 4, dtype=np.float32)))]


def _group_norm(rng):
    return [Sample((arr(rng, 4, 6, 5, 2), 3, arr(rng, 6), arr(rng, 6))), Sample((arr(rng, 3, 4), 2)),
            Sample((arr(rng, 2, 6, 3), 6, arr(rng, 6)), {"eps": 1e-3}),
            Sample((arr(rng, 2, 4, 3, 3, dtype=np.float32), 1, arr(rng, 4, dtype=np.float32)))]


rows(
    Row(F + "conv1d", _conv1d),
    Row(F + "conv2d", _conv2d),
    Row(F + "conv_transpose2d", _conv_t2d),
    Row(F + "max_pool2d", _max_pool, outputs=lambda out: out[:1] if isinstance(out, tuple) else out),
    Row(F + "avg_pool2d", _avg_pool),
    Row(F + "adaptive_avg_pool2d", _adaptive),
    Row(F + "batch_norm", _batch_norm),
    Row(F + "layer_norm", _layer_norm),
    Row(F + "group_norm", _group_norm),
)
