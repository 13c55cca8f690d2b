"""Convolutions, pooling and normalization for ``ndgrad.nn.functional``: sliding-window views and
one matrix product per call. Each op's rules call its adjoint op, so derivatives of any order work.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import _ops as O
from .._ops import NX, TX, apply, defop
from .._tensor import Tensor, _wrap

__all__ = ["conv1d", "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d",
           "adaptive_avg_pool2d", "batch_norm", "layer_norm", "group_norm"]


# ---------------------------------------------------------------------------------------------
# Array helpers: padding and sliding windows over the trailing ``d`` dimensions
# ---------------------------------------------------------------------------------------------

def _pad(x, pads, value=0):
    """Pad (or, for negative amounts, crop) the trailing dims of ``x`` by ``pads`` = ((lo, hi), ...)."""
    if any(lo < 0 or hi < 0 for lo, hi in pads):
        x = x[(Ellipsis,) + tuple(slice(max(-lo, 0), n - max(-hi, 0))
                                  for (lo, hi), n in zip(pads, x.shape[x.ndim - len(pads):]))]
        pads = tuple((max(lo, 0), max(hi, 0)) for lo, hi in pads)
    if not any(lo or hi for lo, hi in pads):
        return x
    lead = x.ndim - len(pads)
    # PERF: a filled array and one slice assignment is ~10x faster than np.pad on these sizes.
    z = np.full(x.shape[:lead] + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[lead:], pads)),
                value, x.dtype)
    z[(Ellipsis,) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape[lead:], pads))] = x
    return z


def _windows(x, ksize, stride, dilation):
    """A read-only view ``(*lead, *out, *ksize)`` of the windows over the trailing dims of ``x``."""
    d = len(ksize)
    sp, st = x.shape[-d:], x.strides[-d:]
    out = tuple((n - dl * (k - 1) - 1) // s + 1 for n, k, s, dl in zip(sp, ksize, stride, dilation))
    return as_strided(x, x.shape[:-d] + out + tuple(ksize),
                      x.strides[:-d] + tuple(a * s for a, s in zip(st, stride)) +
                      tuple(a * dl for a, dl in zip(st, dilation)), writeable=False)


def _cols(x, ksize, stride, padding, dilation, groups):
    """im2col: the windows of ``x`` (N, C, *sp) as a (G, C/G * K, N * P) matrix, the output spatial
    shape, and the strides (in elements) of the output grid within each image's P columns."""
    d = len(ksize)
    n, c = x.shape[:2]
    xp = _pad(x, padding)
    out = tuple((m - dl * (k - 1) - 1) // s + 1
                for m, k, s, dl in zip(xp.shape[2:], ksize, stride, dilation))
    if all(s == 1 for s in stride):
        # PERF: with stride 1, a window's top-left corner runs over the flattened padded image, so
        # each column block is one contiguous run (P = rows * padded width) rather than many short
        # rows; the few positions past each row's end are computed and dropped. ~5x faster copy.
        xp = np.ascontiguousarray(xp)
        grid = tuple(math.prod(xp.shape[3 + i:]) for i in range(d))
        p = sum((o - 1) * g for o, g in zip(out, grid)) + 1
        it = xp.itemsize
        win = as_strided(xp, (n, groups, c // groups, p) + tuple(ksize),
                         (xp.strides[0], xp.strides[1] * (c // groups), xp.strides[1], it) +
                         tuple(dl * g * it for dl, g in zip(dilation, grid)), writeable=False)
        order = (1, 2) + tuple(range(4, 4 + d)) + (0, 3)
        return win.transpose(order).reshape(groups, -1, n * p), out, grid
    win = _windows(xp, ksize, stride, dilation)
    win = win.reshape((n, groups, c // groups) + win.shape[2:])
    # NOTE: the output pixels go innermost, so the copy runs over the longest rows it can.
    order = (1, 2) + tuple(range(3 + d, 3 + 2 * d)) + (0,) + tuple(range(3, 3 + d))
    grid = tuple(math.prod(out[i + 1:]) for i in range(d))
    return win.transpose(order).reshape(groups, -1, n * math.prod(out)), out, grid


def _from_grid(y, out, grid):
    """(..., P) columns -> (..., *out): a view that picks the output positions."""
    it = y.itemsize
    return as_strided(y, y.shape[:-1] + out, y.strides[:-1] + tuple(g * it for g in grid),
                      writeable=False)


def _to_grid(y, out, grid):
    """(..., *out) -> (..., P) columns, zero where a column is no output position."""
    p = sum((o - 1) * g for o, g in zip(out, grid)) + 1
    if p == math.prod(out):
        return y.reshape(y.shape[:-len(out)] + (p,))
    z = np.zeros(y.shape[:-len(out)] + (p,), y.dtype)
    it = z.itemsize
    as_strided(z, y.shape, z.strides[:-1] + tuple(g * it for g in grid))[...] = y
    return z


# ---------------------------------------------------------------------------------------------
# Convolution: forward C(x, w), its input adjoint T(y, w) and its weight adjoint W(x, y)
# ---------------------------------------------------------------------------------------------

def _conv_fwd(x, w, b, stride, padding, dilation, groups):
    n = x.shape[0]
    o = w.shape[0]
    cols, out, grid = _cols(x, w.shape[2:], stride, padding, dilation, groups)
    y = np.matmul(w.reshape(groups, o // groups, -1), cols)  # (G, O/G, N * P)
    y = _from_grid(y.reshape(o, n, -1), out, grid).swapaxes(0, 1)
    if b is not None:
        y = y + b.reshape((o,) + (1,) * len(out))
    return np.ascontiguousarray(y)


def _conv_t_fwd(y, w, b, shape, stride, padding, dilation, groups):
    """The transpose of conv in its input (col2im): each output's share of every kernel offset,
    from one matrix product, added back into the padded input; ``shape`` is its spatial shape."""
    d = w.ndim - 2
    n, o = y.shape[:2]
    ksize, cg = w.shape[2:], w.shape[1]
    padded = tuple(m + lo + hi for m, (lo, hi) in zip(shape, padding))
    grid = tuple(math.prod(padded[i + 1:]) for i in range(d))
    # each output position sits at its window's corner in the flattened padded input
    ym = _to_grid(y, y.shape[2:], tuple(s * g for s, g in zip(stride, grid)))
    cols_n = ym.shape[-1]
    ym = ym.reshape(n, groups, o // groups, cols_n).transpose(1, 2, 0, 3)
    ym = ym.reshape(groups, o // groups, n * cols_n)
    cols = np.matmul(w.reshape(groups, o // groups, -1).swapaxes(1, 2), ym)
    cols = cols.reshape(groups * cg, -1, n, cols_n)
    z = np.zeros((groups * cg, n, math.prod(padded)), np.result_type(y, w))
    # PERF: one whole-array add per kernel offset (9 for 3x3), each over contiguous runs, is
    # ~1.7x faster than a stride-1 conv of the zero-padded gradient with the flipped kernel.
    for k, at in enumerate(np.ndindex(*ksize)):
        off = sum(i * dl * g for i, dl, g in zip(at, dilation, grid))
        z[:, :, off:off + cols_n] += cols[:, k]
    z = z.reshape((groups * cg, n) + padded)
    z = z[(slice(None), slice(None)) + tuple(slice(lo, lo + m) for m, (lo, _) in zip(shape, padding))]
    if b is not None:
        z = z + b.reshape((-1,) + (1,) * (d + 1))
    return np.ascontiguousarray(z.swapaxes(0, 1))


def _conv_w_fwd(x, y, w_shape, stride, padding, dilation, groups):
    n, o = y.shape[:2]
    cols, out, grid = _cols(x, w_shape[2:], stride, padding, dilation, groups)
    ym = _to_grid(y, out, grid).reshape(n, groups, o // groups, -1)
    ym = ym.transpose(1, 2, 0, 3).reshape(groups, o // groups, -1)
    return np.matmul(ym, cols.swapaxes(1, 2)).reshape(w_shape)


def _bias_grad(g):
    return g.sum((0,) + tuple(range(2, g.ndim)))


def _conv_ops(name):
    conv = defop(name, "x w b", _conv_fwd,
                 lambda xp, g, w, x_shape, stride, padding, dilation, groups:
                     xp.conv_t(g, w, x_shape[2:], stride, padding, dilation, groups),
                 lambda xp, g, x, w_shape, stride, padding, dilation, groups:
                     xp.conv_w(x, g, w_shape, stride, padding, dilation, groups),
                 _bias_grad, attrs="stride padding dilation groups")
    conv_t = defop(name, "x w b", _conv_t_fwd,
                   lambda xp, g, w, stride, padding, dilation, groups:
                       xp.conv(g, w, None, stride, padding, dilation, groups),
                   lambda xp, g, x, w_shape, stride, padding, dilation, groups:
                       xp.conv_w(g, x, w_shape, stride, padding, dilation, groups),
                   _bias_grad, attrs="shape stride padding dilation groups")
    return conv, conv_t


CONV, CONV_T = _conv_ops("ConvolutionBackward0")
# The ops the rules record when create_graph=True, named as PyTorch names its double backward.
_CONV2, _CONV_T2 = _conv_ops("ConvolutionBackwardBackward0")
_CONV_W = defop("ConvolutionBackwardBackward0", "x y", _conv_w_fwd,
                lambda xp, g, y, x_shape, stride, padding, dilation, groups:
                    xp.conv_t(y, g, x_shape[2:], stride, padding, dilation, groups),
                lambda xp, g, x, stride, padding, dilation, groups:
                    xp.conv(x, g, None, stride, padding, dilation, groups),
                attrs="w_shape stride padding dilation groups")

NX.conv = _conv_fwd
NX.conv_t = lambda y, w, shape, *a: _conv_t_fwd(y, w, None, shape, *a)
NX.conv_w = _conv_w_fwd
TX.conv = lambda x, w, b, *a: apply(_CONV2, x, w, b, attrs=a)
TX.conv_t = lambda y, w, shape, *a: apply(_CONV_T2, y, w, None, attrs=(shape,) + a)
TX.conv_w = lambda x, y, w_shape, *a: apply(_CONV_W, x, y, attrs=(w_shape,) + a)


def _tuple(v, d, name):
    if isinstance(v, int):
        return (v,) * d
    v = tuple(int(i) for i in v)
    if len(v) == 1:
        return v * d
    if len(v) != d:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {d} values "
                           f"to match the convolution dimensions, but got {name}={list(v)}")
    return v


def _check_conv_args(input, weight, bias, d, fname, transposed, groups, stride):
    if not isinstance(input, Tensor):
        raise TypeError(f"{fname}() received an invalid combination of arguments - got "
                        f"({type(input).__name__}, ...)")
    if input.ndim not in (d + 1, d + 2):
        raise RuntimeError(f"Expected {d + 1}D (unbatched) or {d + 2}D (batched) input to {fname}, "
                           f"but got input of size: {list(input.shape)}")
    if weight.ndim != d + 2:
        # NOTE: PyTorch takes the number of dims from the weight, so the stride check fails first.
        raise RuntimeError(f"expected stride to be a single integer value or a list of "
                           f"{weight.ndim - 2} values to match the convolution dimensions, but got "
                           f"stride={list(_tuple(stride, d, 'stride'))}")
    if input._data.dtype != weight._data.dtype:
        raise RuntimeError(f"Input type ({_legacy(input)}) and weight type ({_legacy(weight)}) "
                           "should be the same or input should be a MKLDNN tensor and weight is a "
                           "dense tensor")
    if bias is not None and bias._data.dtype != weight._data.dtype:
        raise RuntimeError(f"Input type ({_legacy(input)}) and bias type ({_legacy(bias)}) should "
                           "be the same")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    shape = list(input.shape) if input.ndim == d + 2 else [1] + list(input.shape)
    c = shape[1]
    want = weight.shape[0] if transposed else weight.shape[1] * groups
    if c != want:
        t = "transposed=1, " if transposed else f"groups={groups}, "
        raise RuntimeError(f"Given {t}weight of size {list(weight.shape)}, expected input{shape} to "
                           f"have {want} channels, but got {c} channels instead")
    out_c = weight.shape[1] * groups if transposed else weight.shape[0]
    if not transposed and weight.shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                           f"at dimension 0, but got weight of size [{list(weight.shape)}] instead")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != out_c):
        raise RuntimeError(f"Given weight of size {list(weight.shape)}, expected bias to be "
                           f"1-dimensional with {out_c} elements, but got bias of size "
                           f"{list(bias.shape)} instead")


def _legacy(t):
    return f"torch.{t.dtype._legacy}Tensor"


def _check_geometry(stride, dilation, padding):
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(dl <= 0 for dl in dilation):
        raise RuntimeError(f"dilation should be greater than zero, but got {list(dilation)}")
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")


def _convnd(input, weight, bias, stride, padding, dilation, groups, d, fname):
    _check_conv_args(input, weight, bias, d, fname, False, groups, stride)
    stride, dilation = _tuple(stride, d, "stride"), _tuple(dilation, d, "dilation")
    ksize = weight.shape[2:]
    _check_geometry(stride, dilation, ())
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * d
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            # NOTE: an odd total goes one more to the end, as PyTorch does.
            pads = tuple((dl * (k - 1) // 2, dl * (k - 1) - dl * (k - 1) // 2)
                         for k, dl in zip(ksize, dilation))
            if any(lo != hi for lo, hi in pads):
                warnings.warn("Using padding='same' with even kernel lengths and odd dilation may "
                              "require a zero-padded copy of the input be created", UserWarning,
                              stacklevel=3)
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        padding = _tuple(padding, d, "padding")
        _check_geometry(stride, dilation, padding)
        pads = tuple((p, p) for p in padding)
    unbatched = input.ndim == d + 1
    x = input[None] if unbatched else input
    sp = x.shape[2:]
    if any(n + lo + hi < dl * (k - 1) + 1 for n, (lo, hi), k, dl in zip(sp, pads, ksize, dilation)):
        padded = " x ".join(str(n + lo + hi) for n, (lo, hi) in zip(sp, pads))
        kern = " x ".join(str(dl * (k - 1) + 1) for k, dl in zip(ksize, dilation))
        raise RuntimeError(f"Calculated padded input size per channel: ({padded}). Kernel size: "
                           f"({kern}). Kernel size can't be greater than actual input size")
    out = apply(CONV, x, weight, bias, attrs=(stride, pads, dilation, groups))
    return out.squeeze(0) if unbatched else out


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-D convolution (cross-correlation) over (N, C, L) inputs, as `torch.nn.functional.conv1d`.

    >>> import ndgrad
    >>> conv1d(ndgrad.ones(1, 1, 4), ndgrad.ones(1, 1, 2))
    tensor([[[2., 2., 2.]]])
    """
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation) over (N, C, H, W) inputs, as `torch.nn.functional.conv2d`.

    >>> import ndgrad
    >>> conv2d(ndgrad.ones(1, 1, 3, 3), ndgrad.ones(1, 1, 2, 2)).shape
    torch.Size([1, 1, 2, 2])
    """
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """2-D transposed convolution, the input-gradient of conv2d, as
    `torch.nn.functional.conv_transpose2d`.

    >>> import ndgrad
    >>> conv_transpose2d(ndgrad.ones(1, 1, 2, 2), ndgrad.ones(1, 1, 2, 2)).shape
    torch.Size([1, 1, 3, 3])
    """
    d = 2
    _check_conv_args(input, weight, bias, d, "conv_transpose2d", True, groups, stride)
    stride, dilation = _tuple(stride, d, "stride"), _tuple(dilation, d, "dilation")
    padding, output_padding = _tuple(padding, d, "padding"), _tuple(output_padding, d, "output_padding")
    _check_geometry(stride, dilation, padding)
    if any(op >= s and op >= dl for op, s, dl in zip(output_padding, stride, dilation)):
        raise RuntimeError(
            "output padding must be smaller than either stride or dilation, but got "
            f"output_padding_height: {output_padding[0]} output_padding_width: {output_padding[1]} "
            f"stride_height: {stride[0]} stride_width: {stride[1]} dilation_height: {dilation[0]} "
            f"dilation_width: {dilation[1]}")
    unbatched = input.ndim == d + 1
    y = input[None] if unbatched else input
    shape = tuple((m - 1) * s - 2 * p + dl * (k - 1) + op + 1 for m, s, p, dl, k, op in
                  zip(y.shape[2:], stride, padding, dilation, weight.shape[2:], output_padding))
    if any(n <= 0 for n in shape):
        raise RuntimeError(f"Given input size per channel: ({' x '.join(map(str, y.shape[2:]))}). "
                           f"Calculated output size per channel: ({' x '.join(map(str, shape))}). "
                           "Output size is too small")
    out = apply(CONV_T, y, weight, bias,
                attrs=(shape, stride, tuple((p, p) for p in padding), dilation, groups))
    return out.squeeze(0) if unbatched else out


# ---------------------------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------------------------

def _pool_geometry(input, kernel_size, stride, padding, dilation, ceil_mode):
    """Checked pooling parameters and the output size per spatial dim (PyTorch's formula)."""
    k = _tuple(kernel_size, 2, "kernel_size")
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else \
        _tuple(stride, 2, "stride")
    p, dl = _tuple(padding, 2, "padding"), _tuple(dilation, 2, "dilation")
    if input.ndim not in (3, 4) or 0 in input.shape[1:]:
        raise RuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")
    if any(v == 0 for v in s):
        raise RuntimeError("stride should not be zero")
    for pi, ki, di in zip(p, k, dl):
        if pi > (di * (ki - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={pi}, kernel_size={ki} and dilation={di}")
    sp = input.shape[-2:]
    out = []
    for n, ki, si, pi, di in zip(sp, k, s, p, dl):
        num = n + 2 * pi - di * (ki - 1) - 1 + (si - 1 if ceil_mode else 0)
        o = num // si + 1
        if ceil_mode and (o - 1) * si >= n + pi:
            o -= 1
        out.append(o)
    if any(o <= 0 for o in out):
        c = input.shape[-3]
        raise RuntimeError(f"Given input size: ({c}x{sp[0]}x{sp[1]}). Calculated output size: "
                           f"({c}x{max(out[0], 0)}x{max(out[1], 0)}). Output size is too small")
    # padding that makes every window fit: the input's padding, more at the end for ceil_mode
    pads = tuple((pi, max(pi, (o - 1) * si + di * (ki - 1) + 1 - n - pi))
                 for n, ki, si, pi, di, o in zip(sp, k, s, p, dl, out))
    return k, s, p, dl, pads, tuple(out)


def _flat_index(idx, shape):
    """``idx`` (flat within each image) as indices into the whole flattened input."""
    m, hw = math.prod(shape[:-2]), shape[-2] * shape[-1]
    return idx.reshape(m, -1) + (np.arange(m) * hw)[:, None]


def _gather_fwd(x, idx, overlap=True):
    # PERF: np.take on the flat input is ~10x faster than np.take_along_axis here.
    return np.take(x.ravel(), _flat_index(idx, x.shape)).reshape(x.shape[:-2] + idx.shape[-2:])


def _scatter_fwd(g, shape, idx, overlap=True):
    flat = _flat_index(idx, shape).ravel()
    if overlap:
        # NOTE: bincount sums the gradients of windows that picked the same element, in one call.
        return np.bincount(flat, weights=g.ravel(), minlength=math.prod(shape)).reshape(
            shape).astype(g.dtype)
    z = np.zeros(math.prod(shape), g.dtype)
    z[flat] = g.ravel()  # PERF: windows that cannot overlap pick distinct elements: ~3x faster
    return z.reshape(shape)


MAX_POOL = defop("MaxPool2DWithIndicesBackward0", "x", _gather_fwd,
                 lambda xp, g, x_shape, idx, overlap: xp.pool_scatter(g, x_shape, idx, overlap),
                 attrs="idx overlap", dtype="keep")
_MAX_POOL_BACK = defop("MaxPool2DWithIndicesBackwardBackward0", "g", _scatter_fwd,
                       lambda xp, g, idx, overlap: xp.pool_gather(g, idx, overlap),
                       attrs="shape idx overlap", dtype="keep")
NX.pool_gather, NX.pool_scatter = _gather_fwd, _scatter_fwd
TX.pool_gather = lambda g, idx, overlap: apply(MAX_POOL, g, attrs=(idx, overlap))
TX.pool_scatter = lambda g, shape, idx, overlap: apply(_MAX_POOL_BACK, g,
                                                       attrs=(tuple(shape), idx, overlap))


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """2-D max pooling, as `torch.nn.functional.max_pool2d`; indices are flat over H*W.

    >>> import ndgrad
    >>> max_pool2d(ndgrad.arange(16.).reshape(1, 1, 4, 4), 2)
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
    """
    k, s, p, dl, pads, out = _pool_geometry(input, kernel_size, stride, padding, dilation, ceil_mode)
    x = input._data
    lowest = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    win = _windows(_pad(x, pads, lowest), k, s, dl)
    nd = win.ndim
    # PERF: kernel offsets first and a max down that axis, not an argmax over a short last axis,
    # is ~7x faster; the first offset holding the maximum is then found with one more reduction.
    w = np.ascontiguousarray(win.transpose((nd - 2, nd - 1) + tuple(range(nd - 2))))
    w = w.reshape((k[0] * k[1],) + win.shape[:-2])
    m = w.max(0)
    hit = w == m
    if x.dtype.kind == "f" and np.isnan(m).any():
        hit |= np.isnan(w)  # NOTE: a NaN is the maximum of its window, as in PyTorch
    rank = np.arange(w.shape[0] - 1, -1, -1, dtype=np.int16).reshape((-1,) + (1,) * m.ndim)
    first = w.shape[0] - 1 - (hit * rank).max(0)  # the first offset holding the maximum
    width = x.shape[-1]
    offsets = (np.arange(k[0])[:, None] * (dl[0] * width) + np.arange(k[1]) * dl[1]).ravel()
    base = (np.arange(out[0]) * s[0] - p[0])[:, None] * width + (np.arange(out[1]) * s[1] - p[1])
    idx = base + offsets[first]
    overlap = any(si < di * (ki - 1) + 1 for si, di, ki in zip(s, dl, k))
    res = apply(MAX_POOL, input, attrs=(idx, overlap))
    return (res, _wrap(idx.astype(np.int64, copy=False))) if return_indices else res


def _avg_fwd(x, k, s, pads, div):
    win = _windows(_pad(x, pads), k, s, (1, 1))
    return (win.sum((-2, -1)) / div).astype(x.dtype, copy=False)


def _avg_back_fwd(g, shape, k, s, pads, div):
    """The adjoint of ``_avg_fwd``: each output's share added back over its window."""
    gd = (g / div).astype(g.dtype, copy=False)
    oh, ow = g.shape[-2:]
    z = np.zeros(shape[:-2] + tuple(n + lo + hi for n, (lo, hi) in zip(shape[-2:], pads)), g.dtype)
    # PERF: a loop over the kh*kw kernel offsets of whole-array slice adds beats np.add.at ~10x.
    for i in range(k[0]):
        for j in range(k[1]):
            z[..., i:i + (oh - 1) * s[0] + 1:s[0], j:j + (ow - 1) * s[1] + 1:s[1]] += gd
    return np.ascontiguousarray(_pad(z, tuple((-lo, -hi) for lo, hi in pads)))


AVG_POOL = defop("AvgPool2DBackward0", "x", _avg_fwd,
                 lambda xp, g, x_shape, k, s, pads, div: xp.avg_back(g, x_shape, k, s, pads, div),
                 attrs="k s pads div", dtype="keep")
_AVG_POOL_BACK = defop("AvgPool2DBackwardBackward0", "g", _avg_back_fwd,
                       lambda xp, g, k, s, pads, div: xp.avg(g, k, s, pads, div),
                       attrs="shape k s pads div", dtype="keep")
NX.avg, NX.avg_back = _avg_fwd, _avg_back_fwd
TX.avg = lambda x, *a: apply(AVG_POOL, x, attrs=a)
TX.avg_back = lambda g, shape, *a: apply(_AVG_POOL_BACK, g, attrs=(tuple(shape),) + a)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """2-D average pooling, as `torch.nn.functional.avg_pool2d`.

    >>> import ndgrad
    >>> avg_pool2d(ndgrad.arange(16.).reshape(1, 1, 4, 4), 2)
    tensor([[[[ 2.5000,  4.5000],
              [10.5000, 12.5000]]]])
    """
    k, s, p, dl, pads, out = _pool_geometry(input, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    counts = []
    for n, ki, si, pi, o in zip(input.shape[-2:], k, s, p, out):
        start = np.arange(o) * si - pi
        end = np.minimum(start + ki, n + pi)
        if count_include_pad:
            counts.append(end - start)
        else:
            counts.append(np.minimum(end, n) - np.maximum(start, 0))
    if divisor_override is not None:
        div = np.full(out, float(divisor_override))
    else:
        div = (counts[0][:, None] * counts[1][None, :]).astype(np.float64)
    return apply(AVG_POOL, input, attrs=(k, s, pads, div))


def _sep_fwd(x, mh, mw):
    return np.matmul(np.matmul(mh, x), mw.T).astype(x.dtype, copy=False)


ADAPTIVE_AVG_POOL = defop("AdaptiveAvgPool2DBackward0", "x", _sep_fwd,
                          lambda xp, g, mh, mw: xp.sep_t(g, mh, mw), attrs="mh mw", dtype="keep")
_ADAPTIVE_BACK = defop("AdaptiveAvgPool2DBackwardBackward0", "g",
                       lambda g, mh, mw: _sep_fwd(g, mh.T, mw.T),
                       lambda xp, g, mh, mw: xp.sep(g, mh, mw), attrs="mh mw", dtype="keep")
NX.sep = _sep_fwd
NX.sep_t = lambda g, mh, mw: _sep_fwd(g, mh.T, mw.T)
TX.sep = lambda x, mh, mw: apply(ADAPTIVE_AVG_POOL, x, attrs=(mh, mw))
TX.sep_t = lambda g, mh, mw: apply(_ADAPTIVE_BACK, g, attrs=(mh, mw))


def _adaptive_matrix(n, o):
    """Row i averages input[floor(i*n/o) : ceil((i+1)*n/o)]."""
    i = np.arange(o)
    start, end = (i * n) // o, -((-(i + 1) * n) // o)
    j = np.arange(n)
    inside = (j >= start[:, None]) & (j < end[:, None])
    return inside / (end - start)[:, None]


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """2-D adaptive average pooling to ``output_size``, as
    `torch.nn.functional.adaptive_avg_pool2d`.

    >>> import ndgrad
    >>> adaptive_avg_pool2d(ndgrad.arange(16.).reshape(1, 1, 4, 4), 1)
    tensor([[[[7.5000]]]])
    """
    if input.ndim not in (3, 4):
        raise RuntimeError(f"adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got "
                           f"{list(input.shape)}")
    size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    h, w = input.shape[-2:]
    size = (h if size[0] is None else size[0], w if size[1] is None else size[1])
    if size == (1, 1):
        # NOTE: PyTorch takes a mean here, so the grad_fn is MeanBackward1.
        return apply(O.MEAN_DIM, input, attrs=((input.ndim - 2, input.ndim - 1), True))
    mh = _adaptive_matrix(h, size[0]).astype(input._data.dtype)
    mw = _adaptive_matrix(w, size[1]).astype(input._data.dtype)
    return apply(ADAPTIVE_AVG_POOL, input, attrs=(mh, mw))


# ---------------------------------------------------------------------------------------------
# Normalization: x is reshaped to ``shape``, normalized over ``axes``, then scaled by w and
# shifted by b, both reshaped to ``wshape``
# ---------------------------------------------------------------------------------------------

def _mean_keep_np(a, axes):
    return np.mean(a, axis=axes, keepdims=True)


NX.mean_keep = _mean_keep_np
TX.mean_keep = lambda a, axes: apply(O.MEAN_DIM, a, attrs=(axes, True))


def _normalize(xp, x, shape, axes, eps):
    xs = xp.reshape(x, shape)
    xc = xs - xp.mean_keep(xs, axes)
    rstd = 1 / xp.sqrt(xp.mean_keep(xc * xc, axes) + eps)
    return xc * rstd, rstd


def _norm_fwd(x, w, b, shape, axes, wshape, eps):
    y = _normalize(NX, x, shape, axes, eps)[0].reshape(x.shape)
    if w is not None:
        y = y * w.reshape(wshape)
    if b is not None:
        y = y + b.reshape(wshape)
    return y.astype(x.dtype, copy=False)


def _norm_grad_x(xp, g, x, w, x_shape, shape, axes, wshape, eps):
    xhat, rstd = _normalize(xp, x, shape, axes, eps)
    gh = xp.reshape(g if w is None else g * xp.reshape(w, wshape), shape)
    gx = rstd * (gh - xp.mean_keep(gh, axes) - xhat * xp.mean_keep(gh * xhat, axes))
    return xp.reshape(gx, x_shape)


def _norm_grad_w(xp, g, x, w_shape, x_shape, shape, axes, wshape, eps):
    xhat = xp.reshape(_normalize(xp, x, shape, axes, eps)[0], x_shape)
    return xp.reshape(xp.sum_to(g * xhat, wshape), w_shape)


def _norm_grad_b(xp, g, b_shape, wshape):
    return xp.reshape(xp.sum_to(g, wshape), b_shape)


def _norm_op(name):
    return defop(name, "x w b", _norm_fwd, _norm_grad_x, _norm_grad_w, _norm_grad_b,
                 attrs="shape axes wshape eps")


BATCH_NORM = _norm_op("NativeBatchNormBackward0")
LAYER_NORM = _norm_op("NativeLayerNormBackward0")
GROUP_NORM = _norm_op("NativeGroupNormBackward0")


def _bn_eval_fwd(x, w, b, mean, rstd, wshape):
    y = (x - mean) * rstd
    if w is not None:
        y = y * w.reshape(wshape)
    if b is not None:
        y = y + b.reshape(wshape)
    return y.astype(x.dtype, copy=False)


BATCH_NORM_EVAL = defop(
    "NativeBatchNormBackward0", "x w b", _bn_eval_fwd,
    lambda xp, g, w, rstd, wshape: g * xp.asarray(rstd) * (1 if w is None else xp.reshape(w, wshape)),
    lambda xp, g, x, w_shape, mean, rstd, wshape:
        xp.reshape(xp.sum_to(g * ((x - xp.asarray(mean)) * xp.asarray(rstd)), wshape), w_shape),
    lambda xp, g, b_shape, wshape: xp.reshape(xp.sum_to(g, wshape), b_shape),
    attrs="mean rstd wshape")


def _check_param(t, n, what):
    if t is not None and t.numel() != n:
        raise RuntimeError(f"{what} should contain {n} elements not {t.numel()}")


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-05) -> Tensor:
    """Batch normalization over dim 1, as `torch.nn.functional.batch_norm`; in training it updates
    the running statistics in place.

    >>> import ndgrad
    >>> batch_norm(ndgrad.tensor([[1.], [3.]]), None, None, training=True)
    tensor([[-1.0000],
            [ 1.0000]])
    """
    if training:
        size = input.shape[0] * math.prod(input.shape[2:])
        if size == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {input.shape!r}")
    c = input.shape[1]
    for t, what in ((running_mean, "running_mean"), (running_var, "running_var"),
                    (weight, "weight"), (bias, "bias")):
        _check_param(t, c, what)
    wshape = (1, c) + (1,) * (input.ndim - 2)
    axes = (0,) + tuple(range(2, input.ndim))
    if not training:
        for t, what in ((running_mean, "running_mean"), (running_var, "running_var")):
            if t is None:
                raise RuntimeError(f"{what} must be defined in evaluation mode")
        x = input._data
        mean = running_mean._data.reshape(wshape).astype(x.dtype)
        rstd = (1 / np.sqrt(running_var._data.reshape(wshape) + eps)).astype(x.dtype)
        return apply(BATCH_NORM_EVAL, input, weight, bias, attrs=(mean, rstd, wshape))
    if running_mean is not None or running_var is not None:
        x = input._data
        mean = x.mean(axis=axes)
        n = x.size // c
        for t, stat in ((running_mean, mean), (running_var, x.var(axis=axes) * n / (n - 1))):
            if t is not None:
                t._data *= 1 - momentum
                t._data += momentum * stat  # NOTE: PyTorch leaves the version counter as is
    return apply(BATCH_NORM, input, weight, bias, attrs=(input.shape, axes, wshape, eps))


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-05) -> Tensor:
    """Normalization over the trailing ``normalized_shape`` dims, as
    `torch.nn.functional.layer_norm`.

    >>> import ndgrad
    >>> layer_norm(ndgrad.tensor([[1., 3.]]), (2,))
    tensor([[-1.0000,  1.0000]])
    """
    if not isinstance(normalized_shape, (tuple, list)) and not hasattr(normalized_shape, "__len__"):
        raise TypeError("layer_norm(): argument 'normalized_shape' (position 2) must be tuple of "
                        f"ints, not {type(normalized_shape).__name__}")
    ns = tuple(normalized_shape)
    k = len(ns)
    if k == 0 or tuple(input.shape[input.ndim - k:]) != ns or input.ndim < k:
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape "
                           f"[*, {', '.join(map(str, ns))}], but got input of size"
                           f"{list(input.shape)}")
    for t, what in ((weight, "weight"), (bias, "bias")):
        if t is not None and tuple(t.shape) != ns:
            raise RuntimeError(f"Expected {what} to be of same shape as normalized_shape, but got "
                               f"{what} of shape {list(t.shape)} and normalized_shape = {list(ns)}")
    axes = tuple(range(input.ndim - k, input.ndim))
    return apply(LAYER_NORM, input, weight, bias, attrs=(input.shape, axes, ns, eps))


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-05) -> Tensor:
    """Normalization over groups of channels, as `torch.nn.functional.group_norm`.

    >>> import ndgrad
    >>> group_norm(ndgrad.tensor([[1., 3.]]), 1)
    tensor([[-1.0000,  1.0000]])
    """
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input.ndim}")
    n, c = input.shape[:2]
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, "
                           f"but got input of shape {list(input.shape)} and num_groups={num_groups}")
    for t, what in ((weight, "weight"), (bias, "bias")):
        if t is not None and (t.ndim != 1 or t.numel() != c):
            raise RuntimeError(f"Expected {what} to be a vector of size equal to the number of "
                               f"channels in input, but got {what} of shape {list(t.shape)} and "
                               f"input of shape {list(input.shape)}")
    wshape = (1, c) + (1,) * (input.ndim - 2)
    return apply(GROUP_NORM, input, weight, bias, attrs=((n, num_groups, -1), (2,), wshape, eps))
