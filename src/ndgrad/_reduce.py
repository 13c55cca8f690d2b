"""Reductions and scans beyond sum and mean (which live in the core): prod, max/min, amax/amin,
argmax/argmin, var/std, logsumexp, cumsum/cumprod, all/any/count_nonzero, median, sort, topk."""
from __future__ import annotations

import builtins
import warnings

import numpy as np

from . import _dtypes
from . import _ops as O
from . import return_types
from ._ops import NX, TX, apply, defop, expand_back, kept_shape
from ._out import ERR_RESULT_CAST, into_one as _into_one, refuse_grad as _refuse_grad
from ._out import tp_name as _tp_name, write_out as _write_out
from ._tensor import Tensor, _c10_name, _wrap, _wrap_dim

__all__ = ["prod", "max", "min", "amax", "amin", "argmax", "argmin", "var", "std", "var_mean",
           "std_mean", "logsumexp", "cumsum", "cumprod", "all", "any", "count_nonzero", "median",
           "sort", "topk"]

_INT64 = np.dtype(np.int64)


def _kept(xp, t, shape, dims, keepdim):
    """``t`` (a reduction over ``dims``) reshaped so that it broadcasts against ``shape``."""
    return t if keepdim else xp.reshape(t, kept_shape(shape, dims))


# ---------------------------------------------------------------------------------------------
# Gradient helpers, in both array namespaces
# ---------------------------------------------------------------------------------------------

def _rev_cumsum(a, dim):
    # PERF: the scan writes through a flipped view of a contiguous result, so the gradient needs
    # no copy to become contiguous later: cumsum's backward 20% faster on 1000x1000.
    out = np.empty(np.shape(a), np.result_type(a))
    np.cumsum(np.flip(a, dim), axis=dim, out=np.flip(out, dim))
    return out


def _ties(a, out, dims, keepdim, nan_ties=False):
    """Piecewise-constant weights 1/count on the elements equal to the reduced value: the
    gradient is split evenly among ties, as PyTorch does. A NaN result matches the NaNs only
    with ``nan_ties`` (full max/min/median); amax/amin give NaN gradients there, as PyTorch."""
    a = getattr(a, "_data", a)
    out = _kept(np, getattr(out, "_data", out), a.shape, dims, keepdim)
    mask = a == out
    if nan_ties and a.dtype.kind in "fc":
        mask |= np.isnan(a) & np.isnan(out)
    with np.errstate(invalid="ignore"):
        return (mask / np.sum(mask, axis=dims, keepdims=True)).astype(a.dtype)


def _prod_grad_np(g, a, out, dim, keepdim):
    g = _kept(np, g, a.shape, dim, keepdim)
    out = _kept(np, out, a.shape, dim, keepdim)
    zero = a == 0
    if not zero.any():
        return g * out / a
    # NOTE: out / a is 0/0 at a zero. With one zero in a slice, only that element gets a gradient
    # (the product of the others); with two or more, none does.
    nz = np.sum(zero, axis=dim, keepdims=True)
    others = np.prod(np.where(zero, 1, a), axis=dim, keepdims=True)
    return np.where(nz == 0, g * out / np.where(zero, 1, a),
                    np.where((nz == 1) & zero, g * others, 0))


def _eye_mask(n, trailing):
    return np.eye(n, dtype=bool).reshape((n, n) + (1,) * trailing)


def _omit_each(a, dim):
    """``a`` repeated along a new axis at ``dim`` (k), with element k of each copy set to 1."""
    xs = tuple(a.shape)
    n = xs[dim]
    ex = TX.broadcast_to(TX.reshape(a, xs[:dim] + (1,) + xs[dim:]), xs[:dim] + (n,) + xs[dim:])
    return TX.where(_eye_mask(n, len(xs) - dim - 1), 1.0, ex)


def _prod_grad_graph(g, a, out, dim, keepdim):
    g = _kept(TX, g, a.shape, dim, keepdim)
    if not (a._data == 0).any():
        return g * _kept(TX, out, a.shape, dim, keepdim) / a
    # NOTE: with zeros, the product of the others is taken by masking each element in turn
    # (n x n per slice): no division, so it stays differentiable to any order.
    x, d = (a, dim[0]) if dim else (TX.reshape(a, (-1,)), 0)
    others = apply(PROD_DIM, _omit_each(x, d), attrs=((d + 1,), False, None))
    return g * TX.reshape(others, a.shape)


def _cumprod_grad_np(g, a, out, dim):
    w = g * out
    zero = a == 0
    if not zero.any():
        return _rev_cumsum(w, dim) / a
    # NOTE: PyTorch's O(n) formula. Before a slice's first zero z the usual reversed cumsum over
    # a_k holds; at z the gradient is prod(a[:z]) * sum_{j>=z} g_j prod(a[z+1:j+1]); after z, 0.
    seen = np.cumsum(zero, axis=dim)
    before = seen == 0
    first = zero & (seen == 1)
    safe = np.where(before, a, 1)
    res = np.where(before, _rev_cumsum(w, dim) / safe, 0)
    head = np.prod(safe, axis=dim, keepdims=True)
    tail = np.cumprod(np.where(before | first, 1, a), axis=dim)
    at_z = head * np.sum(np.where(before, 0, g * tail), axis=dim, keepdims=True)
    return np.where(first, at_z, res)


def _cumprod_grad_graph(g, a, out, dim):
    if not (a._data == 0).any():
        return TX.rev_cumsum_along(g * out, dim) / a
    # NOTE: the O(n) formula above is not differentiable across the zero; as PyTorch does under
    # create_graph, use omitted products C[k, j] = prod_{i<=j, i!=k} a_i (n x n per slice).
    xs = tuple(a.shape)
    n = xs[dim]
    c = apply(CUMPROD, _omit_each(a, dim), attrs=(dim + 1, None))
    upper = np.triu(np.ones((n, n), bool)).reshape((n, n) + (1,) * (len(xs) - dim - 1))
    gc = TX.reshape(g, xs[:dim] + (1,) + xs[dim:]) * c
    return apply(O.SUM_DIM, TX.where(upper, gc, 0.0), attrs=((dim + 1,), False, None))


def _put_fwd(g, idx, dim, shape):
    z = np.zeros(shape, g.dtype)
    np.put_along_axis(z, idx, g, dim)  # NOTE: indices are distinct along dim in every use
    return z


# -- internal ops the rules use under create_graph ---------------------------------------------
REV_CUMSUM = defop("FlipBackward0", "g", _rev_cumsum,
                   lambda xp, g, dim: xp.cumsum_along(g, dim), attrs="dim", dtype="keep")
TAKE_ALONG = defop("GatherBackward0", "a", lambda a, idx, dim: np.take_along_axis(a, idx, dim),
                   lambda xp, g, a_shape, idx, dim: xp.put_along(g, idx, dim, a_shape),
                   attrs="idx dim", dtype="keep")
PUT_ALONG = defop("ScatterBackward0", "g", _put_fwd,
                  lambda xp, g, idx, dim: xp.take_along(g, idx, dim),
                  attrs="idx dim shape", dtype="keep")

NX.cumsum_along = lambda x, dim: np.cumsum(x, axis=dim)
TX.cumsum_along = lambda x, dim: apply(CUMSUM, x, attrs=(dim, None))
NX.rev_cumsum_along = _rev_cumsum
TX.rev_cumsum_along = lambda x, dim: apply(REV_CUMSUM, x, attrs=(dim,))
NX.take_along = lambda x, idx, dim: np.take_along_axis(x, idx, dim)
TX.take_along = lambda x, idx, dim: apply(TAKE_ALONG, x, attrs=(idx, dim))
NX.put_along = _put_fwd
TX.put_along = lambda g, idx, dim, shape: apply(PUT_ALONG, g, attrs=(idx, dim, tuple(shape)))
NX.prod_grad, TX.prod_grad = _prod_grad_np, _prod_grad_graph
NX.cumprod_grad, TX.cumprod_grad = _cumprod_grad_np, _cumprod_grad_graph


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------

def _select_fwd(a, dim, keepdim, idx):
    if a.ndim == 0:
        return a.copy()
    v = np.take_along_axis(a, idx, dim)
    return v if keepdim else np.squeeze(v, dim)


def _select_rule(xp, g, a_shape, dim, keepdim, idx):
    if not a_shape:
        return g
    return xp.put_along(g if keepdim else xp.reshape(g, idx.shape), idx, dim, a_shape)


# Values picked by precomputed indices along dim; the gradient goes to those indices.
_SELECT = {name: defop(name, "a", _select_fwd, _select_rule, attrs="dim keepdim idx",
                       dtype="keep")
           for name in ("MaxBackward0", "MinBackward0", "MedianBackward1", "SortBackward0",
                        "TopkBackward0")}


def _even_rule(xp, g, a, out):
    return g * xp.asarray(_ties(a, out, None, True, nan_ties=True))


MAX = defop("MaxBackward1", "a", np.max, _even_rule, dtype="keep")
MIN = defop("MinBackward1", "a", np.min, _even_rule, dtype="keep")
MEDIAN = defop("MedianBackward0", "a", lambda a: _median_all(a), _even_rule, dtype="keep")


def _extreme_rule(xp, g, a, out, dim, keepdim):
    return expand_back(xp, g, a.shape, dim, keepdim) * xp.asarray(_ties(a, out, dim, keepdim))


AMAX = defop("AmaxBackward0", "a", lambda a, dim, keepdim: np.max(a, axis=dim, keepdims=keepdim),
             _extreme_rule, attrs="dim keepdim", dtype="keep")
AMIN = defop("AminBackward0", "a", lambda a, dim, keepdim: np.min(a, axis=dim, keepdims=keepdim),
             _extreme_rule, attrs="dim keepdim", dtype="keep")

PROD = defop("ProdBackward0", "a", lambda a, dtype: np.prod(a, dtype=dtype),
             lambda xp, g, a, out: xp.prod_grad(g, a, out, None, True), attrs="dtype", dtype="keep")
PROD_DIM = defop("ProdBackward1", "a",
                 lambda a, dim, keepdim, dtype: np.prod(a, axis=dim, keepdims=keepdim, dtype=dtype),
                 lambda xp, g, a, out, dim, keepdim: xp.prod_grad(g, a, out, dim, keepdim),
                 attrs="dim keepdim dtype", dtype="keep")


def _scan_fwd(fn):
    def fwd(a, dim, dtype):
        if dim is None:  # a 0-d tensor
            return fn(a, dtype=dtype).reshape(())
        return fn(a, axis=dim, dtype=dtype)
    return fwd


CUMSUM = defop("CumsumBackward0", "a", _scan_fwd(np.cumsum),
               lambda xp, g, dim: g if dim is None else xp.rev_cumsum_along(g, dim),
               attrs="dim dtype", dtype="keep")
CUMPROD = defop("CumprodBackward0", "a", _scan_fwd(np.cumprod),
                lambda xp, g, a, out, dim: g if dim is None else xp.cumprod_grad(g, a, out, dim),
                attrs="dim dtype", dtype="keep")


def _lse_fwd(a, dim, keepdim):
    m = np.max(a, axis=dim, keepdims=True, initial=-np.inf)
    # NOTE: shifting by the max keeps exp() in range for inputs of +/-1000; an infinite max is
    # not shifted, so that inf - inf never appears.
    m = np.where(np.isfinite(m), m, 0)
    e = _exp_inplace(a - m)
    with np.errstate(divide="ignore"):
        s = np.log(np.sum(e, axis=dim, keepdims=True)) + m
    return s if keepdim else np.squeeze(s, axis=dim)


def _exp_inplace(e):
    """``exp(e)``, written into ``e`` when it is a float array.

    PERF: a fresh 4 MB array costs as much as a pass over it (page faults)."""
    return np.exp(e, out=e) if isinstance(e, np.ndarray) and e.dtype.kind == "f" else np.exp(e)


def _lse_grad_np(g, a, out, dim, keepdim):
    with np.errstate(invalid="ignore"):  # NOTE: a slice of -inf gives nan silently, as in PyTorch
        e = _exp_inplace(a - _kept(NX, out, a.shape, dim, keepdim))
    e *= _kept(NX, g, a.shape, dim, keepdim)
    return e


NX.lse_grad = _lse_grad_np
TX.lse_grad = lambda g, a, out, dim, keepdim: (expand_back(TX, g, a.shape, dim, keepdim) *
                                               TX.exp(a - _kept(TX, out, a.shape, dim, keepdim)))
LOGSUMEXP = defop("LogsumexpBackward0", "a", _lse_fwd,
                  lambda xp, g, a, out, dim, keepdim: xp.lse_grad(g, a, out, dim, keepdim),
                  attrs="dim keepdim", dtype="float")


def _var_fwd(a, dim, correction, keepdim):
    d = a - np.mean(a, axis=dim, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sum(d * d, axis=dim, keepdims=keepdim) / builtins.max(
            O._numel(a.shape, dim) - correction, 0)


def _var_grad(xp, g, a, dim, correction, keepdim):
    """d var / d a, times g: 2 (a - mean) / (N - correction)."""
    n = O._numel(a.shape, dim)
    centered = a - xp.sum_keep(a, dim) / n
    scale = 2.0 / (n - correction) if n - correction > 0 else np.inf
    return expand_back(xp, g, a.shape, dim, keepdim) * centered * scale


def _std_grad(xp, g, a, out, dim, correction, keepdim):
    return _var_grad(xp, g / (2 * out), a, dim, correction, keepdim)


def _mean_grad(xp, g, a, dim, keepdim):
    return expand_back(xp, g, a.shape, dim, keepdim) / O._numel(a.shape, dim)


VAR = defop("VarBackward0", "a", _var_fwd, _var_grad, attrs="dim correction keepdim",
            dtype="keep")
STD = defop("StdBackward0", "a", lambda a, dim, correction, keepdim:
            np.sqrt(_var_fwd(a, dim, correction, keepdim)),
            _std_grad, attrs="dim correction keepdim", dtype="keep")
VAR_MEAN = defop("VarMeanBackward0", "a",
                 lambda a, dim, correction, keepdim: (_var_fwd(a, dim, correction, keepdim),
                                                      np.mean(a, axis=dim, keepdims=keepdim)),
                 lambda xp, g, a, dim, correction, keepdim:
                     _var_grad(xp, g[0], a, dim, correction, keepdim) +
                     _mean_grad(xp, g[1], a, dim, keepdim),
                 attrs="dim correction keepdim", dtype="keep", nout=2)
STD_MEAN = defop("StdMeanBackward0", "a",
                 lambda a, dim, correction, keepdim: (np.sqrt(_var_fwd(a, dim, correction, keepdim)),
                                                      np.mean(a, axis=dim, keepdims=keepdim)),
                 lambda xp, g, a, out, dim, correction, keepdim:
                     _std_grad(xp, g[0], a, out, dim, correction, keepdim) +
                     _mean_grad(xp, g[1], a, dim, keepdim),
                 attrs="dim correction keepdim", dtype="keep", nout=2)


# ---------------------------------------------------------------------------------------------
# Index computations (NumPy, no gradient)
# ---------------------------------------------------------------------------------------------

def _argsort(a, dim, descending):
    """Stable sort order along dim, NaN counted as the largest value (PyTorch's order)."""
    if not descending:
        return np.argsort(a, axis=dim, kind="stable")
    # NOTE: a stable descending order that keeps ties (and NaNs) in their original order:
    # sort the reversed array ascending, then reverse the order and the positions.
    n = a.shape[dim]
    order = np.argsort(np.flip(a, dim), axis=dim, kind="stable")
    return (n - 1) - np.flip(order, dim)


def _first_nan(a, dim):
    """Per slice along dim: whether it holds a NaN, and where the first one is (keepdims)."""
    nan = np.isnan(a)
    return np.any(nan, axis=dim, keepdims=True), np.expand_dims(np.argmax(nan, axis=dim), dim)


def _median_index(a, dim):
    k = (a.shape[dim] - 1) // 2
    v = np.take(np.partition(a, k, axis=dim), [k], axis=dim)
    # NOTE: PyTorch returns the k-th index of a stable sort: among the elements equal to the
    # median, the (k - number smaller)-th in order. Found in O(n), without sorting.
    eq = a == v
    rank = k - np.sum(a < v, axis=dim, keepdims=True)
    idx = np.argmax(eq & (np.cumsum(eq, axis=dim) == rank + 1), axis=dim, keepdims=True)
    if a.dtype.kind in "fc":
        has_nan, where_nan = _first_nan(a, dim)
        idx = np.where(has_nan, where_nan, idx)
    return idx


def _median_all(a):
    flat = a.reshape(-1)
    if a.dtype.kind in "fc" and np.isnan(flat).any():
        return np.asarray(np.nan, a.dtype)
    k = (flat.size - 1) // 2
    return np.partition(flat, k)[k]


# ---------------------------------------------------------------------------------------------
# PyTorch's choice among ties in sort (stable=False) and topk
# ---------------------------------------------------------------------------------------------
# NOTE: PyTorch's CPU sort(stable=False) is libstdc++'s std::sort; its topk (ATen/native/
# TopKImpl.h) is std::partial_sort when k * 64 <= n, else std::nth_element and (sorted=True)
# std::sort of the first k - 1. None is stable: which of several equal values they pick, and in
# which order, is whatever these algorithms leave (and topk(sorted=False)'s order is
# nth_element's, ties or not). Slices where that is free of ties take one stable argsort; the
# others replay the algorithms on the elements' dense ranks (smaller is
# better), every Hoare partition of one pass over all slices done as a few NumPy calls. Only
# the heaps (partial_sort's k <= n / 64 entries, and the depth-limit fallback that median-of-3
# pivots make rare) run in Python.
# PERF: sort of 10^6 int64 in [0, 50) takes 3 s here (PyTorch 0.3 s), of (1000, 100) 0.06 s
# (0.02 s); slices without ties, and sort(stable=True), cost one stable argsort.

def _heap_adjust(hq, hp, hole, length, vq, vp):
    """libstdc++'s __adjust_heap on lists of ranks/positions."""
    top = child = hole
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if hq[child] < hq[child - 1]:
            child -= 1
        hq[hole], hp[hole] = hq[child], hp[child]
        hole = child
    if length % 2 == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        hq[hole], hp[hole] = hq[child - 1], hp[child - 1]
        hole = child - 1
    parent = (hole - 1) // 2
    while hole > top and hq[parent] < vq:
        hq[hole], hp[hole] = hq[parent], hp[parent]
        hole, parent = parent, (parent - 1) // 2
    hq[hole], hp[hole] = vq, vp


def _heap_select(q, p, first, middle, last):
    """libstdc++'s __heap_select: the best of q[first:last] into a heap on q[first:middle]."""
    hq, hp = q[first:middle].tolist(), p[first:middle].tolist()
    n = len(hq)
    for parent in range((n - 2) // 2, -1, -1):
        _heap_adjust(hq, hp, parent, n, hq[parent], hp[parent])
    rest = np.flatnonzero(q[middle:last] < hq[0]) + middle
    while rest.size:
        # NOTE: only elements better than the heap's top enter it, and the top only improves,
        # so the candidates are refiltered in blocks instead of visiting every element.
        for i in rest[:256].tolist():
            if q[i] < hq[0]:
                vq, vp = int(q[i]), int(p[i])
                q[i], p[i] = hq[0], hp[0]
                _heap_adjust(hq, hp, 0, n, vq, vp)
        rest = rest[256:]
        rest = rest[q[rest] < hq[0]]
    q[first:middle], p[first:middle] = hq, hp


def _partial_sort(q, p, first, middle, last):
    """libstdc++'s __partial_sort: heap select, then sort the heap."""
    _heap_select(q, p, first, middle, last)
    hq, hp = q[first:middle].tolist(), p[first:middle].tolist()
    for end in range(len(hq) - 1, 0, -1):
        vq, vp = hq[end], hp[end]
        hq[end], hp[end] = hq[0], hp[0]
        _heap_adjust(hq, hp, 0, end, vq, vp)
    q[first:middle], p[first:middle] = hq, hp


def _swap(q, p, i, j):
    q[i], q[j] = q[j], q[i]
    p[i], p[j] = p[j], p[i]


def _ranges(first, last):
    """The positions of all ranges [first[r], last[r]) in order, and how many each has."""
    size = last - first
    return np.arange(size.sum()) + np.repeat(first - (np.cumsum(size) - size), size), size


def _counts(mask, size):
    """How many of each consecutive run of ``size`` entries of ``mask`` are set."""
    c = np.concatenate([[0], np.cumsum(mask)])
    end = np.cumsum(size)
    return c[end] - c[end - size]


def _lg(size):
    """floor(log2(size)) of positive integers, as libstdc++'s std::__lg."""
    return np.frexp(size.astype(np.float64))[1] - 1


def _pick(a, i, ok, fill):
    return np.where(ok, a[np.where(ok, i, 0)], fill) if a.size else np.full(ok.shape, fill)


def _partition(q, p, first, last):
    """libstdc++'s __unguarded_partition_pivot (median of three to the front, then Hoare's
    partition) on every range [first, last) of the flat arrays at once; returns the cuts."""
    a, b, c = first + 1, first + (last - first) // 2, last - 1
    qa, qb, qc = q[a], q[b], q[c]
    _swap(q, p, first, np.where(qa < qb, np.where(qb < qc, b, np.where(qa < qc, c, a)),
                                np.where(qa < qc, a, np.where(qb < qc, c, b))))
    pos, size = _ranges(first + 1, last)
    v, pivot = q[pos], np.repeat(q[first], size)
    # NOTE: the left scan stops at each element not better than the pivot, the right scan at
    # each one not worse; the i-th stops from either end are swapped while they have not crossed.
    is_l, is_r = v >= pivot, v <= pivot
    lpos, rpos = pos[is_l], pos[is_r]
    nl, nr = _counts(is_l, size), _counts(is_r, size)
    lstart, rend = np.cumsum(nl) - nl, np.cumsum(nr)
    pairs = np.minimum(nl, nr)
    i = np.arange(pairs.sum()) - np.repeat(np.cumsum(pairs) - pairs, pairs)
    li, ri = lpos[np.repeat(lstart, pairs) + i], rpos[np.repeat(rend - 1, pairs) - i]
    swap = li < ri
    _swap(q, p, li[swap], ri[swap])
    m = _counts(swap, pairs)
    end = np.iinfo(np.int64).max
    return np.minimum(_pick(lpos, lstart + m, m < nl, end), _pick(rpos, rend - m, m > 0, end))


def _stable_sort(q, p, first, last):
    """Insertion sort of every range, which is a stable sort: libstdc++'s last pass."""
    pos, size = _ranges(first, last)
    order = np.lexsort((q[pos], np.repeat(np.arange(size.size), size)))
    q[pos], p[pos] = q[pos][order], p[pos][order]


def _std_sort(q, p, first, last):
    """std::sort (introsort, then one insertion sort) of every range [first, last)."""
    f, l = first, last
    depth = _lg(np.maximum(l - f, 1)) * 2
    while True:
        big = l - f > 16
        f, l, depth = f[big], l[big], depth[big]
        for fi, li in zip(f[depth == 0].tolist(), l[depth == 0].tolist()):
            _partial_sort(q, p, fi, li, li)
        f, l, depth = f[depth > 0], l[depth > 0], depth[depth > 0] - 1
        if not f.size:
            break
        cut = _partition(q, p, f, l)
        f, l, depth = np.concatenate([f, cut]), np.concatenate([cut, l]), np.tile(depth, 2)
    _stable_sort(q, p, first, last)


def _nth_element(q, p, first, nth, last):
    """std::nth_element (introselect) of every range [first, last) around its ``nth``."""
    f, l = first.copy(), last.copy()
    depth = _lg(l - f) * 2
    heaped = np.zeros(f.size, bool)
    while True:
        live = np.flatnonzero((l - f > 3) & ~heaped)
        for r in live[depth[live] == 0].tolist():
            _heap_select(q, p, f[r], nth[r] + 1, l[r])
            _swap(q, p, f[r], nth[r])
            heaped[r] = True
        live = live[depth[live] > 0]
        if not live.size:
            break
        depth[live] -= 1
        cut = _partition(q, p, f[live], l[live])
        low = cut <= nth[live]
        f[live[low]], l[live[~low]] = cut[low], cut[~low]
    _stable_sort(q, p, f[~heaped], l[~heaped])


def _ties_in_order(a, order):
    """Whether each element of ``a`` sorted by ``order`` equals the next one (NaNs are equal)."""
    s = np.take_along_axis(a, order, -1)
    tie = s[:, 1:] == s[:, :-1]
    if s.dtype.kind in "fc":
        tie |= np.isnan(s[:, 1:]) & np.isnan(s[:, :-1])
    return tie


def _replay(order, tie, rows):
    """For ``rows``: flat copies of the elements' dense ranks in ``order`` (equal elements share
    one) and of their positions, and where each row starts."""
    n = order.shape[1]
    rank = np.empty((rows.size, n), order.dtype)
    np.put_along_axis(rank, order[rows], np.concatenate(
        [np.zeros((rows.size, 1), order.dtype), np.cumsum(~tie[rows], axis=1)], axis=1), -1)
    return rank.ravel(), np.tile(np.arange(n), rows.size), np.arange(rows.size) * n


def _topk_index(a, k, largest, sorted):
    """PyTorch's topk indices along the last axis of a 2-D array, ties included."""
    n = a.shape[-1]
    if k == 0 or n <= 3:
        return _argsort(a, -1, largest)[:, :k]
    partial = k * 64 <= n
    if not (partial or sorted):
        return _topk_replay(a, k, largest, sorted, partial)
    # NOTE: the stable order of the k + 1 best (np.argpartition's, O(n), in index order) is the
    # answer wherever no two of them are equal; only the other rows need a replay.
    # PERF: topk(50) of (64, 50000) normal floats: 37 ms, 590 ms with a full argsort (PyTorch 32).
    m = builtins.min(k + 1, n)
    if m < n:
        best = np.argpartition(a, n - m if largest else m - 1, axis=-1)
        best = np.sort(best[:, n - m:] if largest else best[:, :m], axis=-1)
    else:
        best = np.broadcast_to(np.arange(n), a.shape)
    order = np.take_along_axis(best, _argsort(np.take_along_axis(a, best, -1), -1, largest), -1)
    idx = order[:, :k].copy()
    rows = np.flatnonzero(np.any(_ties_in_order(a, order)[:, :k], axis=1))
    if rows.size:
        idx[rows] = _topk_replay(a[rows], k, largest, sorted, partial)
    return idx


def _topk_replay(a, k, largest, sorted, partial):
    n = a.shape[-1]
    order = _argsort(a, -1, largest)
    if partial and k == 1:
        return order[:, :1]  # NOTE: partial_sort's heap of one keeps the first of the best
    q, p, start = _replay(order, _ties_in_order(a, order), np.arange(len(a)))
    if partial:
        for s in start.tolist():
            _partial_sort(q, p, s, s + k, s + n)
    else:
        _nth_element(q, p, start, start + k - 1, start + n)
        if sorted:
            _std_sort(q, p, start, start + k - 1)
    return p.reshape(-1, n)[:, :k]


def _sort_index(a, descending, stable):
    """PyTorch's sort indices along the last axis of a 2-D array: std::sort's order of ties
    unless ``stable`` (up to 16 elements, std::sort is an insertion sort, which is stable)."""
    order = _argsort(a, -1, descending)
    n = a.shape[-1]
    if stable or n <= 16:
        return order
    tie = _ties_in_order(a, order)
    rows = np.flatnonzero(np.any(tie, axis=1))
    if rows.size:
        q, p, start = _replay(order, tie, rows)
        _std_sort(q, p, start, start + n)
        order[rows] = p.reshape(-1, n)
    return order


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------

def _dims(dim, ndim):
    """None (all dims), or the sorted tuple of non-negative dims an int or a sequence names."""
    if dim is None:
        return None
    if isinstance(dim, (list, tuple)):
        if not dim:
            return None
        dims = [_wrap_dim(d, ndim) for d in dim]
        for i, d in enumerate(dims):
            if d in dims[:i]:
                raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        return tuple(sorted(dims)) if ndim else ()
    return (_wrap_dim(dim, ndim),) if ndim else ()


def _int_dtype(input, dtype):
    """PyTorch's accumulation dtype for sum-like ops: integers and bools widen to int64."""
    if dtype is not None:
        return _dtypes.to_dtype(dtype).np
    return _INT64 if input._data.dtype.kind in "biu" else None


def _empty_check(name, input, d):
    if input._data.ndim and input._data.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


_PROD_SIGNATURES = {
    True: ("(tuple)", " * (*, torch.dtype dtype = None)\n"
           " * (int dim, bool keepdim = False, *, torch.dtype dtype = None)\n"),
    False: ("(Tensor, tuple)", " * (Tensor input, *, torch.dtype dtype = None)\n"
            " * (Tensor input, int dim, bool keepdim = False, *, torch.dtype dtype = None, "
            "Tensor out = None)\n")}


def _prod(input, dim, keepdim, dtype, method):
    d = _int_dtype(input, dtype)
    if dim is None:
        return apply(PROD, input, attrs=(d,))
    if not isinstance(dim, int):
        got, sigs = _PROD_SIGNATURES[method]
        got = got.replace("tuple", type(dim).__name__)
        raise TypeError(f"prod() received an invalid combination of arguments - got {got}, but "
                        f"expected one of:\n{sigs}")
    nd = input._data.ndim
    return apply(PROD_DIM, input, attrs=((_wrap_dim(dim, nd),) if nd else None, keepdim, d))


def prod(input: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """The product of all elements, or over ``dim``.

    >>> import ndgrad
    >>> ndgrad.tensor([[1., 2.], [3., 4.]]).prod(1)
    tensor([ 2., 12.])
    """
    return _prod(input, dim, keepdim, dtype, False)


# -- out=: the (values, indices) of max, min, median, sort and topk written into given tensors --
def _out_pair(name: str, out, argnum: int) -> tuple:
    """``out`` checked as PyTorch's argument parser checks it: a tuple (or list) of two tensors."""
    if not isinstance(out, (tuple, list)):
        raise TypeError(f"{name}(): argument 'out' must be tuple of Tensors, not {_tp_name(out)}")
    for j, t in enumerate(out):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {j} in argument {argnum}, but got "
                            f"{_tp_name(t)}")
    if len(out) != 2:
        raise TypeError(f"expected tuple of 2 elements but got {len(out)}")
    return tuple(out)


def _check_out_dtypes(name: str, outs, results, input: Tensor) -> None:
    if name == "median":  # NOTE: median's out= runs the older argument checks, indices first
        values, indices = outs
        if indices._data.dtype != _INT64:
            raise RuntimeError("Expected tensor for argument #1 'indices' to have scalar type "
                               f"Long; but got torch.{indices.dtype._legacy}Tensor instead (while "
                               "checking arguments for median)")
        if values._data.dtype != input._data.dtype:
            raise RuntimeError(
                "Expected tensor for 'values' to have the same type as tensor for argument #2 "
                f"'self'; but type torch.{values.dtype._legacy}Tensor does not equal "
                f"torch.{input.dtype._legacy}Tensor (while checking arguments for median)")
        return
    for o, r in zip(outs, results):
        if o._data.dtype != r.dtype:
            raise RuntimeError(f"Expected out tensor to have dtype {_c10_name(r.dtype)}, but got "
                               f"{_c10_name(o._data.dtype)} instead")


def _into(name: str, out, argnum: int, input: Tensor, compute, cls):
    """``compute()``'s (values, indices) written into the two tensors of ``out``, with PyTorch's
    checks in its order: out= refuses autograd, then the op checks its arguments, then the
    dtypes of ``out``; tensors of another shape are resized."""
    outs = _out_pair(name, out, argnum)
    _refuse_grad(name, (input,), outs)
    results = [r._data for r in compute()]
    _check_out_dtypes(name, outs, results, input)
    for o, r in zip(outs, results):
        _write_out(o, r)
    return cls(outs)


def _minmax(name, input, dim, keepdim, other):
    full, cls = (MAX, return_types.max) if name == "max" else (MIN, return_types.min)
    if isinstance(dim, Tensor) or other is not None:
        import ndgrad
        return getattr(ndgrad, "maximum" if name == "max" else "minimum")(
            input, other if other is not None else dim)
    if dim is None:
        if input._data.size == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                               "input.numel() == 0. Specify the reduction dim with the 'dim' "
                               "argument.")
        return apply(full, input)
    if not isinstance(keepdim, bool):
        raise TypeError(f"{name}(): argument 'keepdim' (position 2) must be bool, not "
                        f"{type(keepdim).__name__}")
    a = input._data
    d = _wrap_dim(dim, a.ndim)
    _empty_check(name, input, d)
    if a.ndim:
        # NOTE: argmax/argmin give the first extremal index (first NaN if any), like PyTorch.
        idx = np.expand_dims((np.argmax if name == "max" else np.argmin)(a, axis=d), d)
    else:
        idx = np.zeros((), np.int64)
    values = apply(_SELECT["MaxBackward0" if name == "max" else "MinBackward0"], input,
                   attrs=(d, keepdim, idx))
    return cls((values, _wrap(idx if keepdim or not a.ndim else np.squeeze(idx, d))))


def _method_kwargs(name, dim, keepdim, other, kwargs):
    """The TypeError of `Tensor.max`/`min` for a keyword they lack (``out``): PyTorch's parser
    lists the overloads when no argument came by position, else Python's message."""
    if dim is None and keepdim is False and other is None:
        got = "".join(f"{k}={_tp_name(v)}, " for k, v in kwargs.items())
        bad = "      didn't match because some of the keywords were incorrect: " + \
            ", ".join(kwargs) + "\n"
        raise TypeError(f"{name}() received an invalid combination of arguments - got ({got}), but "
                        f"expected one of:\n * ()\n{bad} * (Tensor other)\n{bad}"
                        " * (int dim, bool keepdim = False)\n")
    raise TypeError(f"{name}() got an unexpected keyword argument '{next(iter(kwargs))}'")


def _max_method(self: Tensor, dim=None, keepdim: bool = False, *, other=None, **kwargs):
    """`Tensor.max`: as `max`, without ``out`` (as in PyTorch)."""
    if kwargs:
        _method_kwargs("max", dim, keepdim, other, kwargs)
    return _minmax("max", self, dim, keepdim, other)


def _min_method(self: Tensor, dim=None, keepdim: bool = False, *, other=None, **kwargs):
    """`Tensor.min`: as `min`, without ``out`` (as in PyTorch)."""
    if kwargs:
        _method_kwargs("min", dim, keepdim, other, kwargs)
    return _minmax("min", self, dim, keepdim, other)


ERR_CAN_CAST = ("Expected canCast( typeMetaToScalarType(self.dtype()), typeMetaToScalarType("
                "out.dtype())) to be true, but got false.  (Could this error message be improved?  "
                "If so, please report an enhancement request to PyTorch.)")
_MINMAX_SIGNATURES = (" * (Tensor input, *, Tensor out = None)\n{}"
                      " * (Tensor input, Tensor other, *, Tensor out = None)\n"
                      " * (Tensor input, int dim, bool keepdim = False, *, tuple of Tensors out = "
                      "None)\n")


def _minmax_out(name, input, dim, keepdim, other, out):
    if out is None:
        return _minmax(name, input, dim, keepdim, other)
    if isinstance(dim, Tensor) or other is not None:
        other = other if other is not None else dim
        if not isinstance(out, Tensor):
            got = "Tensor, Tensor" if isinstance(dim, Tensor) else "Tensor, other=Tensor"
            raise TypeError(f"{name}() received an invalid combination of arguments - got ({got}, "
                            f"out={_tp_name(out)}), but expected one of:\n" +
                            _MINMAX_SIGNATURES.format("      didn't match because some of the "
                                                      "keywords were incorrect: out\n"))
        fn = "maximum" if name == "max" else "minimum"
        return _into_one(fn, out, (input, other), lambda: _minmax(name, input, None, False, other),
                         ERR_RESULT_CAST, True)
    if dim is None:
        if not isinstance(out, Tensor):
            raise TypeError(f"{name}() received an invalid combination of arguments - got (Tensor, "
                            f"out={_tp_name(out)}), but expected one of:\n" +
                            _MINMAX_SIGNATURES.format(""))
        return _into_one(name, out, (input,), lambda: _full_minmax_out(name, input), ERR_CAN_CAST)
    cls = return_types.max_out if name == "max" else return_types.min_out
    return _into(name, out, 3, input, lambda: _minmax(name, input, dim, keepdim, None), cls)


def _full_minmax_out(name, input):
    """The full max or min, as written into out=: there an empty input gives the reduction's
    identity (-inf for max, the dtype's largest value for an integer min...) where the plain
    function raises."""
    a = input._data
    if a.size:
        return _minmax(name, input, None, False, None)
    if a.dtype.kind == "f":
        v = -np.inf if name == "max" else np.inf
    elif a.dtype.kind == "b":
        v = name == "min"
    else:
        info = np.iinfo(a.dtype)
        v = info.min if name == "max" else info.max
    return _wrap(np.array(v, a.dtype))


def max(input: Tensor, dim=None, keepdim: bool = False, *, other=None, out=None):
    """The largest element; with ``dim``, ``(values, indices)`` along it (written into the
    tensors of ``out`` if given); with a tensor, the elementwise maximum.

    >>> import ndgrad
    >>> ndgrad.tensor([[1., 5.], [3., 2.]]).max(1).indices
    tensor([1, 0])
    """
    return _minmax_out("max", input, dim, keepdim, other, out)


def min(input: Tensor, dim=None, keepdim: bool = False, *, other=None, out=None):
    """The smallest element; with ``dim``, ``(values, indices)`` (written into the tensors of
    ``out`` if given); with a tensor, the elementwise minimum."""
    return _minmax_out("min", input, dim, keepdim, other, out)


def _extreme(op, name, input, dim, keepdim):
    a = input._data
    dims = _dims(dim, a.ndim)
    if a.size == 0:
        if dims is None:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                               "input.numel() == 0. Specify the reduction dim with the 'dim' "
                               "argument.")
        for d in dims:
            _empty_check(name, input, d)
    return apply(op, input, attrs=(dims, keepdim))


def amax(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """The maximum over ``dim`` (all dims by default); ties share the gradient evenly."""
    return _extreme(AMAX, "amax", input, dim, keepdim)


def amin(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """The minimum over ``dim`` (all dims by default); ties share the gradient evenly."""
    return _extreme(AMIN, "amin", input, dim, keepdim)


def _arg(name, fn, input, dim, keepdim):
    a = input._data
    if a.dtype == bool:
        raise RuntimeError(f"{name}(): does not support bool input")
    if dim is None:
        if a.size == 0:
            raise IndexError(f"{name}(): Expected reduction dim to be specified for "
                             "input.numel() == 0.")
        r = fn(a, axis=None)
        return _wrap(np.full((1,) * a.ndim if keepdim else (), r, np.int64))
    d = _wrap_dim(dim, a.ndim)
    _empty_check(name, input, d)
    if not a.ndim:
        return _wrap(np.zeros((), np.int64))
    return _wrap(fn(a, axis=d, keepdims=keepdim).astype(np.int64))


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """The index of the largest element (the first one among ties), flat or along ``dim``.

    >>> import ndgrad
    >>> ndgrad.tensor([1, 3, 3]).argmax()
    tensor(1)
    """
    return _arg("argmax", np.argmax, input, dim, keepdim)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """The index of the smallest element (the first one among ties), flat or along ``dim``."""
    return _arg("argmin", np.argmin, input, dim, keepdim)


def _correction(name, input, unbiased, correction):
    if input._data.dtype.kind not in "fc":
        raise RuntimeError("std and var only support floating point and complex dtypes")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return correction


def _var_like(op, name, input, dim, unbiased, keepdim, correction):
    if isinstance(dim, bool):  # the legacy positional form var(input, unbiased)
        dim, unbiased = None, dim
    c = _correction(name, input, unbiased, correction)
    dims = _dims(dim, input._data.ndim)
    if O._numel(input._data.shape, dims) - c <= 0:
        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly less "
                      "than the reduction factor (input numel divided by output numel).",
                      UserWarning, stacklevel=3)
    return apply(op, input, attrs=(dims, c, keepdim))


def var(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction=None) -> Tensor:
    """The variance over ``dim`` (all dims by default), divided by N - correction.

    >>> import ndgrad
    >>> ndgrad.tensor([1., 2., 3., 4.]).var()
    tensor(1.6667)
    """
    return _var_like(VAR, "var", input, dim, unbiased, keepdim, correction)


def std(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction=None) -> Tensor:
    """The standard deviation over ``dim``: ``var(...).sqrt()``."""
    return _var_like(STD, "std", input, dim, unbiased, keepdim, correction)


def var_mean(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
             correction=None) -> tuple:
    """``(var, mean)`` over ``dim`` in one pass."""
    return _var_like(VAR_MEAN, "var_mean", input, dim, unbiased, keepdim, correction)


def std_mean(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
             correction=None) -> tuple:
    """``(std, mean)`` over ``dim`` in one pass."""
    return _var_like(STD_MEAN, "std_mean", input, dim, unbiased, keepdim, correction)


def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(input), dim))``, computed without overflow.

    >>> import ndgrad
    >>> ndgrad.tensor([1000., 1000.]).logsumexp(0)
    tensor(1000.6932)
    """
    return apply(LOGSUMEXP, input, attrs=(_dims(dim, input._data.ndim), keepdim))


def _scan(op, input, dim, dtype):
    nd = input._data.ndim
    d = _wrap_dim(dim, nd)
    return apply(op, input, attrs=(d if nd else None, _int_dtype(input, dtype)))


def cumsum(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Running sums along ``dim``.

    >>> import ndgrad
    >>> ndgrad.tensor([1, 2, 3]).cumsum(0)
    tensor([1, 3, 6])
    """
    return _scan(CUMSUM, input, dim, dtype)


def cumprod(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Running products along ``dim``; the gradient is exact when the input holds zeros."""
    return _scan(CUMPROD, input, dim, dtype)


def _logical(fn, input, dim, keepdim):
    a = input._data
    r = fn(a, axis=_dims(dim, a.ndim), keepdims=keepdim)
    # NOTE: PyTorch keeps uint8 for uint8 inputs (a legacy of masks before bool existed).
    return _wrap(np.asarray(r).astype(np.uint8 if a.dtype == np.uint8 else bool))


def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Whether every element (over ``dim``) is nonzero.

    >>> import ndgrad
    >>> ndgrad.tensor([[1, 0], [1, 1]]).all(1)
    tensor([False,  True])
    """
    return _logical(np.all, input, dim, keepdim)


def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Whether some element (over ``dim``) is nonzero."""
    return _logical(np.any, input, dim, keepdim)


def count_nonzero(input: Tensor, dim=None) -> Tensor:
    """The number of nonzero elements (over ``dim``), as int64."""
    a = input._data
    return _wrap(np.asarray(np.count_nonzero(a, axis=_dims(dim, a.ndim))).astype(np.int64))


def median(input: Tensor, dim: int | None = None, keepdim: bool = False, *, out=None):
    """The lower median of all elements, or ``(values, indices)`` along ``dim`` (written into
    the tensors of ``out`` if given). NaN wins.

    >>> import ndgrad
    >>> ndgrad.tensor([3., 1., 2., 4.]).median()
    tensor(2.)
    """
    if out is None:
        return _median(input, dim, keepdim)
    if dim is None:
        raise TypeError('median() missing 1 required positional arguments: "dim"')
    return _into("median", out, 3, input, lambda: _median(input, dim, keepdim),
                 return_types.median_out)


def _median(input: Tensor, dim: int | None = None, keepdim: bool = False):
    """`Tensor.median`: as `median`, without ``out``."""
    a = input._data
    if a.dtype == bool:
        raise NotImplementedError(f'"{"median_cpu" if dim is None else "median_out"}" not '
                                  "implemented for 'Bool'")
    if dim is None:
        if a.size == 0:
            return _wrap(np.asarray(np.nan, a.dtype))
        return apply(MEDIAN, input)
    d = _wrap_dim(dim, a.ndim)
    _empty_check("median", input, d)
    idx = _median_index(a, d) if a.ndim else np.zeros((), np.int64)
    values = apply(_SELECT["MedianBackward1"], input, attrs=(d, keepdim, idx))
    return return_types.median(
        (values, _wrap(idx if keepdim or not a.ndim else np.squeeze(idx, d))))


# -- sort's arguments: PyTorch's two signatures and the texts of its argument parser ------------
# NOTE: PyTorch accepts ``sort(input, dim=-1, descending=False)`` or, when ``stable`` is given,
# only the keyword-only ``sort(input, *, stable, dim=-1, descending=False)``: ``x.sort(1,
# stable=True)`` is a TypeError. Each parameter: (name, type, required, keyword-only, None ok).
_SORT_PARAMS = {
    True: (((("stable", "bool", True, True, True), ("dim", "int", False, True, False),
              ("descending", "bool", False, True, False)),
             "(*, bool stable, int dim = -1, bool descending = False)"),
            ((("dim", "int", False, False, False), ("descending", "bool", False, False, False)),
             "(int dim = -1, bool descending = False)")),
    False: (((("input", "Tensor", True, False, False), ("stable", "bool", True, True, True),
               ("dim", "int", False, True, False), ("descending", "bool", False, True, False),
               ("out", "tuple of Tensors", False, True, True)),
              "(Tensor input, *, bool stable, int dim = -1, bool descending = False, tuple of "
              "Tensors out = None)"),
             ((("input", "Tensor", True, False, False), ("dim", "int", False, False, False),
               ("descending", "bool", False, False, False),
               ("out", "tuple of Tensors", False, True, True)),
              "(Tensor input, int dim = -1, bool descending = False, *, tuple of Tensors out = "
              "None)")),
}


def _fits(kind: str, v) -> bool:
    if kind == "int":
        return (isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))) or (
            isinstance(v, Tensor) and v._data.ndim == 0 and v._data.dtype.kind in "iu")
    if kind == "bool":
        return isinstance(v, bool)
    if kind == "Tensor":
        return isinstance(v, Tensor)
    return isinstance(v, (tuple, list))


_MISSING = object()


def _parse(params, args, kwargs, raise_error: bool):
    """PyTorch's FunctionSignature::parse: the values by name, or None when they do not fit
    (or, with ``raise_error``, the TypeError saying why)."""
    def fail(msg):
        if raise_error:
            raise TypeError(msg)
        return None
    max_pos = builtins.sum(not kw for _, _, _, kw, _ in params)
    need = builtins.sum(req for _, _, req, _, _ in params)
    if len(args) > max_pos:  # NOTE: "from 1 to 0" when only keywords fit, as PyTorch says
        return fail(f"sort() takes from {need} to {max_pos} positional arguments but "
                    f"{len(args)} were given")
    values, left = {}, len(kwargs)
    for i, (name, kind, req, _, none_ok) in enumerate(params):
        given = i < len(args)
        v = args[i] if given else kwargs.get(name, _MISSING)
        if not given and v is not _MISSING:
            left -= 1
        if v is _MISSING or (v is None and none_ok):
            if v is _MISSING and req:
                missing = [f'"{p[0]}"' for p in params[i:] if p[2]]
                # NOTE: PyTorch says "arguments" even for one.
                return fail(f"sort() missing {len(missing)} required positional arguments: "
                            f"{', '.join(missing)}")
            continue
        if not _fits(kind, v):
            where = f" (position {i + 1})" if given else ""
            return fail(f"sort(): argument '{name}'{where} must be {kind}, not {_tp_name(v)}")
        if kind == "tuple of Tensors":
            for j, t in enumerate(v):
                if not isinstance(t, Tensor):  # PyTorch raises this one while matching
                    raise TypeError(f"expected Tensor as element {j} in argument {i}, but got "
                                    f"{_tp_name(t)}")
        values[name] = v
    if left:
        names = [p[0] for p in params]
        for k in kwargs:
            if k not in names:
                return fail(f"sort() got an unexpected keyword argument '{k}'")
            if names.index(k) < len(args):
                return fail(f"sort() got multiple values for argument '{k}'")
    return values


_MUL, _M64 = 0xc6a4a7935bd1e995, (1 << 64) - 1


def _std_hash(key: str) -> int:
    """libstdc++'s std::hash<std::string> (_Hash_bytes with its seed 0xc70f6907)."""
    b = key.encode()
    n = len(b)
    h = (0xc70f6907 ^ (n * _MUL)) & _M64
    end = n & ~7
    for i in range(0, end, 8):
        d = (int.from_bytes(b[i:i + 8], "little") * _MUL) & _M64
        h = ((h ^ (((d ^ (d >> 47)) * _MUL) & _M64)) * _MUL) & _M64
    if n & 7:
        h = ((h ^ int.from_bytes(b[end:], "little")) * _MUL) & _M64
    h = ((h ^ (h >> 47)) * _MUL) & _M64
    return h ^ (h >> 47)


def _map_order(keys) -> list:
    """The order a libstdc++ unordered_map<std::string, ...> iterates ``keys`` inserted in
    order: PyTorch's error texts list keyword arguments so (13 buckets hold up to 13 keys; a new
    key goes first in its bucket, and an empty bucket's first key goes first of all)."""
    order = []
    for k in keys:
        b = _std_hash(k) % 13
        at = next((i for i, q in enumerate(order) if _std_hash(q) % 13 == b), 0)
        order.insert(at, k)
    return order


def _type_of(v, formatted: bool) -> str:
    if formatted and isinstance(v, (tuple, list)):
        inner = ", ".join(_tp_name(x) for x in v)
        return (f"tuple of ({inner}{',' if len(v) == 1 else ''})" if isinstance(v, tuple)
                else f"list of [{inner}]")
    return _tp_name(v)


def _sort_error(method: bool, args, kwargs):
    """PyTorch's text when no signature of sort fits (torch/csrc/utils/invalid_arguments.cpp)."""
    keys = _map_order(kwargs) if len(kwargs) <= 13 else list(kwargs)
    got = "".join(f"{_type_of(a, False)}, " for a in args) + "".join(
        f"{k}={_type_of(kwargs[k], False)}, " for k in keys)
    msg = (f"sort() received an invalid combination of arguments - got "
           f"({got[:-2] if args else got}), but expected one of:\n")
    for _, text in _SORT_PARAMS[method]:
        msg += f" * {text}\n"
        # NOTE: PyTorch's own parse of the printed signature: split at ", ", the name after
        # the last space, so "int dim = -1" is named "-1" and its type "int dim =" fits nothing.
        tokens = text[1:-1].split(", ")
        names = [t[t.rfind(" ") + 1:] for t in tokens]
        types = [t[:t.rfind(" ")] if " " in t else t for t in tokens]
        if len(args) + len(kwargs) != len(tokens):
            continue
        start = builtins.max(len(tokens) - len(kwargs), 0)
        wrong = [k for k in keys if k not in names[start:]]
        if wrong:
            msg += ("      didn't match because some of the keywords were incorrect: "
                    f"{', '.join(wrong)}\n")
            continue
        descs = []
        given = list(args) + [kwargs[names[i]] for i in range(len(args), len(tokens))]
        for i, v in enumerate(given):
            ok = _tp_name(v) in {"int": ("int",), "float": ("float", "int")}.get(
                types[i], (types[i],))
            desc = ("" if i < len(args) else f"{names[i]}=") + _type_of(v, True)
            descs.append(desc if ok else f"!{desc}!")
        msg += ("      didn't match because some of the arguments have invalid types: "
                f"({', '.join(descs)})\n")
    raise TypeError(msg)


def _sort_args(method: bool, args, kwargs):
    """``(input, dim, descending, stable)`` as PyTorch's parser reads sort's arguments."""
    sigs = _SORT_PARAMS[method]
    for params, _ in sigs:
        values = _parse(params, args, kwargs, False)
        if values is not None:
            break
    else:
        n = len(args) + len(kwargs)
        fits = [params for params, _ in sigs
                if builtins.sum(p[2] for p in params) <= n <= len(params)]
        if len(fits) == 1:
            _parse(fits[0], args, kwargs, True)
        _sort_error(method, args, kwargs)
    return (values.get("input"), int(values.get("dim", -1)), bool(values.get("descending", False)),
            bool(values.get("stable") or False), values.get("out"))


def sort(*args, **kwargs) -> return_types.sort:
    """``(values, indices)`` sorted along ``dim``, ties in PyTorch's order, NaN sorts last:
    ``sort(input, dim=-1, descending=False)`` or ``sort(input, *, stable, dim=-1,
    descending=False)`` (``stable`` only with keyword arguments, as in PyTorch).

    >>> import ndgrad
    >>> ndgrad.tensor([3., 1., 2.]).sort().indices
    tensor([1, 2, 0])
    """
    input, dim, descending, stable, out = _sort_args(False, args, kwargs)
    if out is None:
        return _sort(input, dim, descending, stable)
    return _into("sort", out, 3, input, lambda: _sort(input, dim, descending, stable),
                 return_types.sort_out)


def _sort_method(self: Tensor, *args, **kwargs) -> return_types.sort:
    """`Tensor.sort`: ``self.sort(dim=-1, descending=False)`` or ``self.sort(*, stable, ...)``."""
    return _sort(self, *_sort_args(True, args, kwargs)[1:4])


def _sort(input: Tensor, dim: int, descending: bool, stable: bool):
    a = input._data
    d = _wrap_dim(dim, a.ndim)
    if a.ndim:
        flat = np.moveaxis(a, d, -1)
        idx = _sort_index(flat.reshape(np.prod(flat.shape[:-1], dtype=int), flat.shape[-1]),
                          descending, stable)
        idx = np.moveaxis(idx.reshape(flat.shape), -1, d)
    else:
        idx = np.zeros((), np.int64)
    values = apply(_SELECT["SortBackward0"], input, attrs=(d, True, idx))
    return return_types.sort((values, _wrap(idx)))


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True, *,
         out=None):
    """The ``k`` largest (or smallest) elements along ``dim`` and their indices (written into
    the tensors of ``out`` if given); equal values are picked and ordered as PyTorch's CPU topk
    does.

    >>> import ndgrad
    >>> ndgrad.tensor([1., 3., 3., 2.]).topk(2).indices
    tensor([1, 2])
    """
    if out is None:
        return _topk(input, k, dim, largest, sorted)
    return _into("topk", out, 5, input, lambda: _topk(input, k, dim, largest, sorted),
                 return_types.topk_out)


def _topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """`Tensor.topk`: as `topk`, without ``out``."""
    a = input._data
    d = _wrap_dim(dim, a.ndim)
    if a.dtype == bool:
        raise RuntimeError("topk does not support bool dtypes on CPU")
    n = a.shape[d] if a.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")
    if a.ndim:
        flat = np.moveaxis(a, d, -1)
        idx = _topk_index(flat.reshape(np.prod(flat.shape[:-1], dtype=int), n), k, largest, sorted)
        idx = np.moveaxis(idx.reshape(flat.shape[:-1] + (k,)), -1, d)
    else:
        idx = np.zeros((), np.int64)
    values = apply(_SELECT["TopkBackward0"], input, attrs=(d, True, idx))
    return return_types.topk((values, _wrap(idx)))


T = Tensor
T.prod = lambda self, dim=None, keepdim=False, *, dtype=None: _prod(self, dim, keepdim, dtype, True)
# NOTE: the methods take no out= (as in PyTorch), and its argument errors name them so.
for _method, _name in ((_max_method, "max"), (_min_method, "min"), (_median, "median"),
                       (_topk, "topk")):
    _method.__name__ = _method.__qualname__ = _name
T.max = _max_method
T.min = _min_method
T.amax = amax
T.amin = amin
T.argmax = argmax
T.argmin = argmin
T.var = var
T.std = std
T.logsumexp = logsumexp
T.cumsum = cumsum
T.cumprod = cumprod
T.all = all
T.any = any
T.count_nonzero = count_nonzero
T.median = _median
T.sort = _sort_method
T.topk = _topk
