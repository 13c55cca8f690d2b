"""``ndgrad.nn.functional``: activations, softmax, losses, padding, embedding, dropout, linear.

Convolutions, pooling and normalization layers live in ``_conv`` and are re-exported at the end.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .. import _api, _creation
from .. import _kernels, _math
from .. import _ops as O
from .._ops import NX, TX, apply, defop, inplace
from .._tensor import Tensor, _c10_name, _wrap, _wrap_dim
from ..autograd.grad_mode import state

# PERF: np.add.reduce, not .sum() and its Python wrapper: ~3k instructions a sum
_sum = np.add.reduce
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


# ---------------------------------------------------------------------------------------------
# NumPy kernels
# ---------------------------------------------------------------------------------------------

# PERF: softmax and log_softmax over the last axis of a large array run on blocks of whole rows
# (see _kernels.into_rows), each pass in place in the result: 1000x1000 float32, fwd+bwd (CPU
# time), softmax 8.8 -> 7.8 ms and log_softmax 11.5 -> 10.5 ms (np.exp is most of the rest). The
# results are the whole-array formulas', bit for bit: a row's reductions do not depend on the
# rows around it.
def _by_rows(*arrays, dim):
    """Whether ``arrays``, large, C-contiguous, of one shape and float dtype, reduce over their
    last axis (``dim``). NOTE: NumPy sums the rows of a strided array in another order."""
    a = arrays[0]
    return a.size > _kernels.BLOCK and dim == a.ndim - 1 and a.dtype.char in "fd" and \
        all(x.shape == a.shape and x.dtype == a.dtype and x.flags.c_contiguous for x in arrays)


@_kernels.into_rows
def _softmax_rows(out, a):
    np.subtract(a, np.max(a, axis=-1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= np.sum(out, axis=-1, keepdims=True)


@_kernels.into_rows
def _log_softmax_rows(out, a):
    np.subtract(a, np.max(a, axis=-1, keepdims=True), out=out)
    out -= np.log(np.sum(np.exp(out), axis=-1, keepdims=True))


@_kernels.into_rows
def _softmax_backward_rows(r, g, out):
    np.multiply(g, out, out=r)
    np.subtract(g, np.sum(r, axis=-1, keepdims=True), out=r)
    r *= out


@_kernels.into_rows
def _log_softmax_backward_rows(r, g, out):
    np.exp(out, out=r)
    r *= np.sum(g, axis=-1, keepdims=True)
    np.subtract(g, r, out=r)


# PERF: the ufuncs' reduce methods, not np.max/np.sum, whose Python wrappers cost ~5k
# instructions a call: log_softmax of 64x10, 143.5k -> 117.8k.
def _log_softmax_fwd(a, dim):
    if _by_rows(a, dim=dim):
        return _log_softmax_rows(a)
    shifted = a - np.maximum.reduce(a, axis=dim, keepdims=True)
    return shifted - np.log(np.add.reduce(np.exp(shifted), axis=dim, keepdims=True))


def _softmax_fwd(a, dim):
    if _by_rows(a, dim=dim):
        return _softmax_rows(a)
    e = np.exp(a - np.maximum.reduce(a, axis=dim, keepdims=True))
    return e / np.add.reduce(e, axis=dim, keepdims=True)


def _softmax_rule(xp, g, out, dim):
    if xp is NX and _by_rows(g, out, dim=dim):
        return _softmax_backward_rows(g, out)
    return out * (g - xp.sum_keep(g * out, dim))


def _log_softmax_rule(xp, g, out, dim):
    if xp is NX and _by_rows(g, out, dim=dim):
        return _log_softmax_backward_rows(g, out)
    return g - xp.exp(out) * xp.sum_keep(g, dim)


# PERF: the exact gelu and its derivative run block by block through the erf kernels of _math,
# their 30-odd passes staying in the cache; in float32 the scaling of erf's argument and result
# is folded into its coefficients.
_erf_block = _math._erf_fwd.__wrapped__
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_GELU_K = math.sqrt(2 / math.pi)
_GELU_C = 0.044715


def _working(a):
    """``a`` in float32 or float64: PyTorch computes the activations of float16 in float32."""
    return a if a.dtype.itemsize >= 4 else a.astype(np.float32)


def _half_erf(a):
    """erf(a / sqrt(2)) / 2."""
    if a.dtype.itemsize < 8:
        return _math._erf32_scaled(a, _SQRT_HALF, 0.5)
    out = _erf_block(a * _SQRT_HALF)
    out *= 0.5
    return out


@_kernels.in_blocks
def _gelu_np(a):
    x = _working(a)
    out = _half_erf(x)
    if a.dtype == np.float32:
        # NOTE: a/2 * erf + a/2, PyTorch's order for float32, where gelu(-0.0) and gelu(-9.0)
        # are +0.0 (-0.0 in other dtypes).
        out *= x
        out += x * 0.5
    else:
        out += 0.5
        out *= x
    return out


@_kernels.in_blocks
def _gelu_grad_np(a):
    a = _working(a)
    out = _half_erf(a)
    out += 0.5
    t = a * a
    t *= -0.5
    np.exp(t, out=t)
    t *= a
    t *= _INV_SQRT_2PI
    out += t
    return out


def _gelu_into(out, a):
    half_erf = _half_erf(a)
    if a.dtype == np.float32:  # see _gelu_np
        np.multiply(half_erf, a, out=out)
        out += a * 0.5
    else:
        half_erf += 0.5
        np.multiply(half_erf, a, out=out)


def _gelu_backward_into(out, g, a):
    np.multiply(_gelu_grad_np.__wrapped__(a), g, out=out)


@_math._quiet
def _gelu_backward_np(g, a):
    if _fills(g, a):
        return _kernels.fill(_gelu_backward_into, (g, a))
    out = _gelu_grad_np(a)
    out *= g
    return out


# NOTE: with z = sqrt(2/pi) * (a + 0.044715 a^3) and r = 1 / (1 + exp(2z)), (1 + tanh z) / 2 is
# 1 - r and 1 - tanh(z)^2 is 4r(1 - r). Like 1 + tanh z in PyTorch, 1 - r rounds to 0 in the
# left tail, so both give gelu(-9.0) = -0.0.
# PERF: NumPy's tanh costs two of its exps (float32: 4.6 ms per 1e6 elements); this costs one.
def _tanh_parts(a):
    """(a in a working float of at least 32 bits, a*a, r)."""
    x = _working(a)
    x = x.reshape(1) if x.ndim == 0 else x  # NOTE: NumPy scalars cannot be written in place
    x2 = x * x
    r = x2 * (2 * _GELU_K * _GELU_C)
    r += 2 * _GELU_K
    r *= x
    np.exp(r, out=r)
    r += 1.0
    np.divide(1.0, r, out=r)
    return x, x2, r


def _gelu_tanh_np(a):
    x, _, r = _tanh_parts(a)
    np.subtract(1.0, r, out=r)
    r *= x
    return r.reshape(a.shape)


def _gelu_tanh_into(out, a):
    x, _, r = _tanh_parts(a)
    np.subtract(1.0, r, out=r)
    np.multiply(r, x, out=out)


def _gelu_tanh_grad(a):
    x, v, r = _tanh_parts(a)
    v *= 2 * _GELU_K * 3 * _GELU_C
    v += 2 * _GELU_K
    v *= x
    v *= r
    np.subtract(1.0, r, out=r)
    v *= r
    v += r  # NOTE: (1 - r) * v + (1 - r), not (1 - r) * (v + 1): +0.0 in the left tail, as there
    return v


def _gelu_tanh_backward_into(out, g, a):
    np.multiply(_gelu_tanh_grad(a), g, out=out)


@_math._quiet
def _gelu_tanh_backward_np(g, a):
    if _fills(g, a):
        return _kernels.fill(_gelu_tanh_backward_into, (g, a))
    v = _gelu_tanh_grad(a)
    v *= g
    return v.reshape(a.shape)


def _gelu_backward_graph(g, a):
    return g * (0.5 * (1 + TX.erf(a * _SQRT_HALF)) + a * TX.exp(-0.5 * a * a) * _INV_SQRT_2PI)


def _gelu_tanh_backward_graph(g, a):
    t = TX.tanh(_GELU_K * (a + _GELU_C * a * a * a))
    return g * (0.5 * (1 + t) + 0.5 * a * (1 - t * t) * (_GELU_K * (1 + 3 * _GELU_C * a * a)))


@_math._quiet
def _gelu_fwd(a, approximate):
    # PERF: float32 and float64 write the result's blocks in place (see _fill); the tanh form ran
    # its passes over whole arrays before. Fwd+bwd, 1e6 float32 (CPU time): gelu 18.1 -> 15.2 ms,
    # gelu(tanh) 13.6 -> 10.5 ms.
    if _fills(a):
        return _kernels.fill(_gelu_tanh_into if approximate == "tanh" else _gelu_into, (a,))
    out = _gelu_tanh_np(a) if approximate == "tanh" else _gelu_np(a)
    return out.astype(a.dtype, copy=False)


# PERF: the exp-family activations, block by block (see _kernels.in_blocks), from one exp (or
# tanh) per element: NumPy's float32 log1p and expm1 are scalar loops, 5x slower than its exp,
# so log1p(e) is log(1 + e) corrected by the rounding of 1 + e, and expm1(x) is
# 2 tanh(x/2) / (1 - tanh(x/2)). On 1e6 float32 elements fwd+bwd get 2-4x faster.
def _log1p_unit(e, out=None):
    """log1p(e) for e in [0, 1]: log(u) - (u - 1 - e) / u with u = 1 + e, in u's buffer."""
    u = np.add(e, 1, out=out)
    c = u - 1  # NOTE: exact (Sterbenz), as is c - e; the correction is exact to first order
    c -= e
    c /= u
    np.log(u, out=u)
    u -= c
    return u


def _exp_neg_abs(z):
    """exp(-|z|), with -|z| made by setting the sign bit."""
    it = np.dtype(f"i{z.dtype.itemsize}")
    e = np.bitwise_or(z.view(it), np.array(-1, it) << (8 * z.dtype.itemsize - 1)).view(z.dtype)
    return np.exp(e, out=e)


def _logistic(z, sign=-1.0, out=None):
    """1 / (1 + exp(sign * z)): exp overflowing to inf gives 0, as in PyTorch."""
    if sign != 1:
        e = np.multiply(z, sign, out=out)
    elif out is None:
        e = z.copy()
    else:
        e = out
        e[...] = z
    np.exp(e, out=e)
    e += 1
    return np.reciprocal(e, out=e)


def _blocks(kernel, *arrays, attrs=()):
    """``kernel(*blocks, *attrs)`` over ``arrays`` in cache-sized blocks, warnings off."""
    with np.errstate(all="ignore"):
        return _kernels.in_blocks(lambda *xs: kernel(*xs, *attrs))(*arrays)


# NOTE: below this many elements, whole-array formulas (a few ufunc calls) cost less than the
# blocks' bookkeeping (some 10 us); where both exist they give the same results.
_SMALL = 4096


def _fill(kernel, *arrays, attrs=()):
    """A fresh array filled by ``kernel(out, *blocks, *attrs)`` over ``arrays`` in cache-sized
    blocks (see _kernels.into_blocks), warnings off."""
    with np.errstate(all="ignore"):
        return _kernels.fill(kernel, arrays, attrs)


def _fills(*arrays):
    """Whether an activation's kernels can write ``arrays``' result in place: float32 or float64,
    and one dtype and shape (float16 computes in float32, then rounds)."""
    a = arrays[0]
    return a.dtype.char in "fd" and all(x.dtype == a.dtype and x.shape == a.shape
                                        for x in arrays[1:])


def _run(kernel, *arrays, attrs=()):
    """``kernel(*blocks, *attrs, out=None)`` over ``arrays`` in blocks; where `_fills` allows,
    it writes into the result's blocks (``out``), a copy fewer."""
    if _fills(*arrays):
        return _fill(lambda out, *xs: kernel(*xs, out=out), *arrays, attrs=attrs)
    return _blocks(kernel, *arrays, attrs=attrs)


_zeros = _kernels.zeros


def _softplus_kernel(a, beta, threshold, out=None):
    # NOTE: max(z, 0) + log1p(exp(-|z|)) never overflows, so +/-1000 stay finite.
    z = _working(a)
    if beta != 1:
        z = z * beta
    r = _log1p_unit(_exp_neg_abs(z), out)
    r += np.maximum(z, _zeros(z))
    if beta != 1:
        r /= beta
    linear = z > threshold
    if linear.any():
        r[...] = _kernels.select(linear, a.astype(r.dtype), r)
    return r


def _softplus_backward_kernel(g, a, beta, threshold, out=None):
    z = _working(a)
    if beta != 1:
        z = z * beta
    s = _logistic(z, out=out)
    linear = z > threshold
    if linear.any():
        s = _kernels.select(linear, np.ones_like(s), s)
    return np.multiply(s, g, out=out if out is not None else s)


def _logsigmoid_kernel(a):
    a = _working(a)
    r = _log1p_unit(_exp_neg_abs(a))
    np.subtract(np.minimum(a, _zeros(a)), r, out=r)  # PERF: see _kernels.filled
    return r


def _logsigmoid_backward_kernel(g, a):
    s = _logistic(_working(a), 1.0)
    s *= g
    return s


def _silu_kernel(a, out=None):
    a = _working(a)
    e = np.negative(a, out=out)
    np.exp(e, out=e)
    e += 1
    return np.divide(a, e, out=e)


def _silu_backward_kernel(g, a, out=None):
    """g * s * (1 + a * (1 - s)) with s = sigmoid(a), PyTorch's formula."""
    a = _working(a)
    s = _logistic(a)
    r = np.subtract(1, s, out=out)
    r *= a
    r += 1
    r *= s
    r *= g
    return r


def _mish_parts(a):
    """(e, n, m): e = exp(a), n = e (e + 2), m = n + 2, so tanh(softplus(a)) = n / m.

    NOTE: exp's argument is capped where tanh(softplus(a)) and sigmoid(a) round to 1 (20 in
    float32, 40 in float64), so nothing overflows and +/-1000 stay finite."""
    e = np.minimum(a, _kernels.filled(a, 20.0 if a.dtype.itemsize < 8 else 40.0))
    np.exp(e, out=e)
    n = e + 2
    n *= e
    return e, n, n + 2


def _mish_kernel(a):
    a = _working(a)
    _, n, m = _mish_parts(a)
    n /= m  # NOTE: a division, not a product with 1 / m: exactly 1 where tanh rounds to 1
    n *= a
    return n


def _mish_backward_kernel(g, a):
    """g * (t + a * sigmoid(a) * (1 - t**2)) with t = n / m and 1 - t**2 = 4 (n + 1) / m**2."""
    a = _working(a)
    e, n, m = _mish_parts(a)
    d = n + 1
    d /= m
    d /= m
    d *= 4
    s = e + 1
    np.divide(e, s, out=s)
    d *= s
    d *= a
    n /= m
    n += d
    n *= g
    return n


def _elu_kernel(a, alpha, scale, input_scale, out=None):
    # NOTE: the negative branch of min(a, 0) (+0.0 where a > 0, and a's own zero), plus scale *
    # max(a, 0) as t - scale * min(-a, 0): t is +-0.0 where a > 0, and t - (+0.0) is t (-0.0
    # included) where a <= 0. PERF: no select, no copy: fwd 1e6 float32, 9.2 -> 7.2 ms.
    a = _working(a)
    zeros = _zeros(a)
    t = np.minimum(zeros, a, out=out)  # NOTE: the order matters: a tie gives a's zero
    t *= 0.5 * input_scale
    np.tanh(t, out=t)
    d = 1 - t
    t *= 2 * scale * alpha
    t /= d
    np.negative(a, out=d)
    np.minimum(d, zeros, out=d)  # and here +0.0 where a is +0.0
    d *= scale
    t -= d
    return t


def _elu_backward_kernel(g, a, alpha, scale, input_scale, out=None):
    """PyTorch's elu gradient from the input: no cancellation in out + scale * alpha."""
    a = _working(a)
    d = np.multiply(a, input_scale, out=out)
    np.exp(d, out=d)
    d *= input_scale * scale * alpha
    d = _kernels.select(a <= 0, d, scale)
    return np.multiply(d, g, out=d)


def _elu_result_backward_kernel(g, a, out, alpha, scale, input_scale):
    """PyTorch's gradient for the in-place elu_, from its result."""
    d = out + scale * alpha
    d *= input_scale
    d = _kernels.select(a <= 0, d, scale)
    d *= g
    return d


def _activation(kernel, into=False):
    """The forward of an activation op: ``kernel`` in blocks, the result in the input's dtype;
    ``into``: the kernel takes ``out`` (see `_run`)."""
    def fwd(a, *attrs):
        if into:
            return _run(kernel, a, attrs=attrs).astype(a.dtype, copy=False)
        return _blocks(kernel, a, attrs=attrs).astype(a.dtype, copy=False)
    return fwd


def _reduce_np(x, reduction):
    if reduction == "none":
        return x
    return np.sum(x) if reduction == "sum" else np.mean(x)


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------

def _expand_grad(xp, g, shape, reduction):
    """The gradient of a reduced loss, spread back over the elementwise losses."""
    if reduction == "none":
        return g
    g = xp.broadcast_to(g, shape)
    return g if reduction == "sum" else g / max(O._numel(shape), 1)


def _elu_rule(xp, g, a, out, alpha, scale, input_scale):
    if xp is NX:
        return _run(_elu_backward_kernel, g, a, attrs=(alpha, scale, input_scale))
    return _elu_backward(xp, g, a, alpha, scale, input_scale, False)


def _elu_inplace_rule(xp, g, a, out, alpha, scale, input_scale):
    if xp is NX:
        return _blocks(_elu_result_backward_kernel, g, a, out, attrs=(alpha, scale, input_scale))
    return _elu_backward(xp, g, out, alpha, scale, input_scale, True)


def _elu_backward(xp, g, x, alpha, scale, input_scale, is_result):
    """PyTorch's elu_backward, from elu's input ``x`` or, with ``is_result``, its result."""
    if xp is not NX:
        return apply(_ELU_BACKWARD, g, x, attrs=(alpha, scale, input_scale, is_result))
    if is_result:  # the result's sign is the input's
        return _blocks(_elu_result_backward_kernel, g, x, x, attrs=(alpha, scale, input_scale))
    return _blocks(_elu_backward_kernel, g, x, attrs=(alpha, scale, input_scale))


def _elu_double_backward(xp, g, grad, x, alpha, scale, input_scale, is_result):
    """PyTorch's elu_double_backward: zero where ``x >= 0``, the kink at 0 included."""
    if is_result:
        return g * grad * input_scale * (x < 0)
    return _elu_backward(xp, g * grad * input_scale, x, alpha, scale, input_scale, False) * (x < 0)


def _gelu_rule(xp, g, a, approximate):
    if xp is not NX:
        return apply(_GELU_BACKWARD, g, a, attrs=(approximate,))
    if approximate == "tanh":
        return xp.gelu_tanh_backward(g, a)
    return xp.gelu_backward(g, a)


def _gelu_double_backward(xp, g, grad, a, approximate):
    """The second derivative of gelu times ``g * grad`` (PyTorch's gelu_double_backward)."""
    if approximate == "tanh":
        # gelu = a/2 (1 + t), t = tanh(K (a + C a^3)): with s = 1 - t^2 and h = K (1 + 3 C a^2),
        # gelu'' = s h + a/2 s (6 K C a - 2 t h^2)
        t = xp.tanh(_GELU_K * (a + _GELU_C * a * a * a))
        s = 1 - t * t
        h = _GELU_K * (1 + 3 * _GELU_C * a * a)
        return g * grad * (s * (h + 0.5 * a * (6 * _GELU_K * _GELU_C * a - 2 * t * h * h)))
    pdf = xp.exp(-0.5 * a * a) * _INV_SQRT_2PI  # gelu'' = 2 pdf - a^2 pdf
    return g * grad * (pdf * (2 - a * a))


def _silu_rule(xp, g, a):
    if xp is NX:
        return _run(_silu_backward_kernel, g, a)
    # NOTE: PyTorch's graph, grad * s * (1.0 + a * (1.0 - s)) in C++: a number minus a tensor
    # is SubBackward0 from a constant tensor, a tensor plus a number is AddBackward1.
    s = xp.sigmoid(a)
    one_minus_s = _api.sub(_wrap(np.ones_like(s._data)), s)
    return g * s * apply(_ADD_NUMBER, a * one_minus_s, attrs=(1.0,))


def _mish_rule(xp, g, a):
    if xp is NX:
        return _blocks(_mish_backward_kernel, g, a)
    # NOTE: PyTorch's graph here takes tanh(log1p(exp(a))), whose own gradient is nan once
    # exp(a) overflows (a = 100: mish'' is nan in PyTorch); softplus as -logsigmoid(-a) keeps
    # it finite, at the price of other node names in the second-order graph.
    t = xp.tanh(-apply(_LOG_SIGMOID, -a))
    return g * (t + a * xp.sigmoid(a) * (1 - t * t))


def _softplus_rule(xp, g, a, beta, threshold):
    if xp is NX:
        return _run(_softplus_backward_kernel, g, a, attrs=(beta, threshold))
    return apply(_SOFTPLUS_BACKWARD, g, a, attrs=(beta, threshold))


def _softplus_double_backward(xp, g, grad, a, beta, threshold):
    """PyTorch's softplus_double_backward: sigmoid's gradient at ``a * beta``, zero from the
    threshold on."""
    z = a * beta
    return O._sigmoid_rule(xp, g * grad, xp.sigmoid(z)) * (z < threshold) * beta


def _logsigmoid_rule(xp, g, a):
    if xp is NX:
        return _blocks(_logsigmoid_backward_kernel, g, a)
    return apply(_LOG_SIGMOID_BACKWARD, g, a)


def _logsigmoid_double_backward(xp, g, grad, a):
    """PyTorch's log_sigmoid_double_backward: ``g * grad * (s - 1) * s``, s = sigmoid(a)."""
    s = xp.sigmoid(a)
    return g * grad * (s - 1) * s


def _hardswish_kernel(out, a):
    # NOTE: PyTorch's order, a * clamp(a + 3, 0, 6) / 6: a / 6 + 0.5 cancels near -3
    np.add(a, 3, out=out)
    np.clip(out, 0, 6, out=out)
    out *= a
    out /= 6


def _hardswish_backward_kernel(out, g, a):
    np.divide(a, 3, out=out)
    out += 0.5
    out *= g
    high, low = np.greater_equal(a, 3), np.less_equal(a, -3)
    if high.any():  # PERF: most inputs lie between: 1e6 float32 there, 4.3 -> 2.4 ms
        swap = _kernels.ones_where(high, out.dtype)
        bits = out.view(swap.dtype)
        swap &= np.bitwise_xor(bits, g.view(swap.dtype))
        bits ^= swap  # g from 3 on
    if low.any():
        _kernels.keep(out, out, low, False)  # +0.0 up to -3, whatever g


def _hardswish_fwd(a):
    if a.dtype.kind == "f" and a.size > _SMALL:
        return _fill(_hardswish_kernel, a)
    with np.errstate(invalid="ignore"):  # -inf * 0 is nan, silently as in PyTorch
        return a * np.clip(a + 3, 0, 6) / 6


def _hardswish_rule(xp, g, a):
    # NOTE: PyTorch's hardswish_backward: 0 up to -3 (included), g from 3 on (included), and g
    # times the slope between, where NaN goes, as in its vectorized kernel.
    if xp is NX and g.dtype == a.dtype and g.dtype.kind == "f" and g.shape == a.shape and \
            g.size > _SMALL:
        return _fill(_hardswish_backward_kernel, g, a)
    if xp is NX:
        with np.errstate(invalid="ignore"):  # 0 * inf is nan, silently as in PyTorch
            return np.where(a <= -3, 0.0, np.where(a >= 3, g, g * (a / 3 + 0.5)))
    return apply(_HARDSWISH_BACKWARD, g, a)


def _hardsigmoid_kernel(out, a):
    # NOTE: PyTorch's order, clamp(a + 3, 0, 6) / 6: a / 6 + 0.5 cancels near -3
    np.add(a, 3, out=out)
    np.clip(out, 0, 6, out=out)
    out /= 6


def _hardsigmoid_backward_kernel(out, g, a):
    inside = np.greater(a, -3)
    inside &= a < 3
    np.divide(g, 6, out=out)
    if not inside.all():  # PERF: most inputs lie inside: 1e6 float32 there, 2.7 -> 2.1 ms
        _kernels.keep(out, out, inside)  # +0.0 outside, whatever g


def _hardsigmoid_fwd(a):
    if a.dtype.kind == "f" and a.size > _SMALL:
        return _fill(_hardsigmoid_kernel, a)
    return np.clip(a + 3, 0, 6) / 6


def _hardsigmoid_backward(g, a):
    if g.dtype == a.dtype and g.dtype.kind == "f" and g.shape == a.shape and g.size > _SMALL:
        return _fill(_hardsigmoid_backward_kernel, g, a)
    return np.where((a > -3) & (a < 3), g / 6, 0.0)


def _hardsigmoid_rule(xp, g, a):
    if xp is NX:
        return _hardsigmoid_backward(g, a)
    return apply(_HARDSIGMOID_BACKWARD, g, a)


def _nll_rule(xp, g, a_shape, key, wsel, reduction):
    total = _sum(wsel, None)
    # NOTE: with every target ignored (total 0) the gradient is zero, as PyTorch's.
    scale = wsel / total if reduction == "mean" and total else wsel
    if xp is NX:
        # PERF: each (sample, target) position is picked once, so a plain assignment does what
        # index_acc's accumulation does: cross_entropy's backward on 64x10, 219k -> 164k
        # instructions.
        picked = -g * scale
        grad = np.zeros(a_shape, picked.dtype)
        grad[key] = picked
        return grad
    return xp.index_acc(-g * xp.asarray(scale), a_shape, key)


def _bce_input_rule(xp, g, a, t, w, reduction):
    d = (1 - a) * a
    # NOTE: PyTorch clamps the denominator at 1e-12, so a saturated sigmoid gives a finite grad.
    return _expand_grad(xp, g, a.shape, reduction) * w * (a - t) / xp.where(d > 1e-12, d, 1e-12)


def _bce_target_rule(xp, g, a, w, reduction):
    # NOTE: unclamped, as PyTorch's: a saturated input gives an infinite target gradient.
    with np.errstate(divide="ignore"):
        return _expand_grad(xp, g, a.shape, reduction) * w * (xp.log(1 - a) - xp.log(a))


def _bce_fwd(a, t, w, reduction):
    with np.errstate(divide="ignore"):
        la, l1a = np.maximum(np.log(a), -100), np.maximum(np.log1p(-a), -100)
    return _reduce_np(-w * (t * la + (1 - t) * l1a), reduction)


def _smooth_l1_grad(xp, d, beta):
    return xp.where(d * d < beta * beta, d / beta, xp.sign(d))


def _huber_grad(xp, d, delta):
    return xp.where(d * d <= delta * delta, d, delta * xp.sign(d))


def _loss_op(name, elem, elem_grad):
    """A pointwise loss of ``input - target`` with its reduction, as one node."""
    def fwd(a, t, reduction, p):
        return _reduce_np(elem(a - t, p), reduction)

    def rule_a(xp, g, a, t, reduction, p):
        d = a - t
        return _expand_grad(xp, g, d.shape, reduction) * elem_grad(xp, d, p)

    def rule_t(xp, g, a, t, reduction, p):
        d = a - t
        return -(_expand_grad(xp, g, d.shape, reduction) * elem_grad(xp, d, p))
    return defop(name, "a t", fwd, rule_a, rule_t, attrs="reduction p")


def _index_op(name):
    return defop(name, "a", lambda a, key: a[key],
                 lambda xp, g, a_shape, key: xp.index_acc(g, a_shape, key),
                 attrs="key", dtype="keep")


# ---------------------------------------------------------------------------------------------
# The ops. NOTE: these are primitives, not composites, either for numerical stability (softmax,
# log_softmax, softplus, logsigmoid, the losses) or so the graph shows PyTorch's node names.
# ---------------------------------------------------------------------------------------------

_ERF = _math.ERF
_MM = defop("MmBackward0", "a b", np.matmul,
            lambda xp, g, b: xp.mm(g, xp.t(b)), lambda xp, g, a: xp.mm(xp.t(a), g))
_ADDMM = defop("AddmmBackward0", "bias a b", lambda bias, a, b: bias + a @ b,
               lambda g: g, lambda xp, g, b: xp.mm(g, xp.t(b)), lambda xp, g, a: xp.mm(xp.t(a), g))
_T = defop("TBackward0", "a", np.transpose, lambda xp, g: xp.t(g), dtype="keep")
# The reshapes around linear's product, named as PyTorch's graph shows them (see `linear`).
_RESHAPES = {name: defop(name, "a", O._reshape_fwd,
                         lambda xp, g, a_shape: xp.reshape(g, a_shape), attrs="shape", dtype="keep")
             for name in ("UnsafeViewBackward0", "SqueezeBackward4")}

_SOFTMAX = defop("SoftmaxBackward0", "a", _softmax_fwd, _softmax_rule, attrs="dim",
                 dtype="keep")
_LOG_SOFTMAX = defop("LogSoftmaxBackward0", "a", _log_softmax_fwd, _log_softmax_rule,
                     attrs="dim", dtype="keep")
_SOFTPLUS = defop("SoftplusBackward0", "a", _activation(_softplus_kernel, True), _softplus_rule,
                  attrs="beta threshold", dtype="keep")
_LOG_SIGMOID = defop("LogSigmoidBackward0", "a", _activation(_logsigmoid_kernel),
                     _logsigmoid_rule, dtype="keep")
# NOTE: with create_graph=True the gradients of softplus, logsigmoid and gelu are one node each,
# as in PyTorch (softplus_backward(grad, self)...), with PyTorch's formulas for their gradients.
_SOFTPLUS_BACKWARD = defop(
    "SoftplusBackwardBackward0", "grad a",
    lambda grad, a, beta, threshold: _softplus_rule(NX, grad, a, beta, threshold),
    _softplus_rule, _softplus_double_backward, attrs="beta threshold")
_LOG_SIGMOID_BACKWARD = defop("LogSigmoidBackwardBackward0", "grad a",
                              lambda grad, a: _logsigmoid_rule(NX, grad, a), _logsigmoid_rule,
                              _logsigmoid_double_backward)
def _hardtanh_backward_kernel(out, g, a, min_val, max_val):
    inside = np.greater(a, min_val)
    inside &= a < max_val
    _kernels.keep(out, g, inside)  # NOTE: PyTorch writes +0.0 outside, whatever the gradient


def _hardtanh_rule(xp, g, a, min_val, max_val):
    # NOTE: the gradient passes strictly inside the bounds; at NaN it is 0, as in PyTorch's
    # vectorized kernel (its scalar loop, used for the few elements past the last full
    # vector, passes it on instead).
    if xp is NX and g.dtype == a.dtype and g.dtype.kind == "f" and g.shape == a.shape:
        # PERF: a bit mask in cache-sized blocks (see _kernels.keep): np.where on a random mask
        # of 1e6 elements branches per element (~5x slower). Fwd+bwd, relu6 on 1e6 float32 (CPU
        # time): 4.0 -> 2.7 ms against a multiply by the mask with its fixes.
        return _fill(_hardtanh_backward_kernel, g, a, attrs=(min_val, max_val))
    return xp.where((a > min_val) & (a < max_val), g, 0.0)


_HARDTANH = defop("HardtanhBackward0", "a",
                  lambda a, min_val, max_val: np.clip(a, min_val, max_val).astype(a.dtype,
                                                                                 copy=False),
                  _hardtanh_rule, attrs="min_val max_val", dtype="keep")
_HARDTANH.attached = "HardtanhBackwardBackward0"  # PyTorch's hardtanh_backward
_HARDSIGMOID = defop("HardsigmoidBackward0", "a", _hardsigmoid_fwd, _hardsigmoid_rule,
                     dtype="keep")
# NOTE: PyTorch has no derivative for hardsigmoid_backward: with create_graph=True the gradient
# gets a node that raises when a second backward reaches it. Forward AD, which would take that
# derivative, maps tangents through the rule instead (see Op.diagonal).
_HARDSIGMOID.diagonal = True
_HARDSIGMOID_BACKWARD = _math._not_implemented_op("hardsigmoid_backward", _hardsigmoid_backward)
_HARDSWISH = defop("HardswishBackward0", "a", _hardswish_fwd, _hardswish_rule, dtype="keep")
# NOTE: the gradients of hardswish's and elu's gradients are PyTorch's formulas, not derivatives
# of the rules: they are zero at the kinks (+/-3, 0), where the rules' wheres switch branches.
_HARDSWISH_BACKWARD = defop(
    "HardswishBackwardBackward0", "grad a", lambda grad, a: _hardswish_rule(NX, grad, a),
    _hardswish_rule, lambda xp, g, grad, a: xp.where((a > -3) & (a < 3), g * grad / 3, 0.0))
_GELU = defop("GeluBackward0", "a", _gelu_fwd, _gelu_rule, attrs="approximate", dtype="keep")
_GELU_BACKWARD = defop("GeluBackwardBackward0", "grad a",
                       lambda grad, a, approximate: _gelu_rule(NX, grad, a, approximate),
                       _gelu_rule, _gelu_double_backward, attrs="approximate")
_ADD_NUMBER = defop("AddBackward1", "a", lambda a, other: a + other, lambda g: g, attrs="other",
                    dtype="keep")
_SILU = defop("SiluBackward0", "a", _activation(_silu_kernel, True), _silu_rule, dtype="keep")
_MISH = defop("MishBackward0", "a", _activation(_mish_kernel), _mish_rule, dtype="keep")


def _elu_fwd(a, alpha, scale, input_scale):
    if input_scale > 0:  # NOTE: the tanh form of expm1 (see above) holds for arguments <= 0
        return _activation(_elu_kernel, True)(a, alpha, scale, input_scale)
    with np.errstate(over="ignore"):
        return np.where(a > 0, scale * a,
                        (scale * alpha) * np.expm1(np.minimum(a, 0) * input_scale))


def _leaky_kernel(a, negative_slope):
    return _kernels.select(~(a > 0), a * negative_slope, a)


def _leaky_backward_kernel(g, a, negative_slope):
    return _kernels.select(~(a > 0), g * negative_slope, g)


# PERF: leaky_relu without a select. Forward: a where a > 0, else a * slope, is the larger of
# the two for a slope in (0, 1] and the smaller above (nan stays nan, zeros keep their sign).
# Backward: g times a factor of 1 or the slope, built from the mask as integers (its bits are
# those of the slope plus mask * (those of 1 less those of the slope)); g * 1 is g. Fwd+bwd on
# 1e6 float32 (CPU time): 4.7 -> 1.9 ms.
def _leaky_max_kernel(out, a, negative_slope):
    np.multiply(a, negative_slope, out=out)
    (np.maximum if negative_slope <= 1 else np.minimum)(out, a, out=out)


def _leaky_factor_kernel(out, g, a, step, slope_bits):
    factor = out.view(step.dtype)
    np.copyto(factor, np.greater(a, 0).view(np.int8), casting="unsafe")
    factor *= step
    factor += slope_bits
    np.multiply(g, out, out=out)


def _leaky_fwd(a, negative_slope):
    if a.dtype.kind != "f":
        return np.where(a > 0, a, a * negative_slope)
    s = float(negative_slope)
    if 0 < np.asarray(s, a.dtype) < np.inf:
        return _fill(_leaky_max_kernel, a, attrs=(s,))
    return _blocks(_leaky_kernel, a, attrs=(negative_slope,))


def _leaky_rule(xp, g, a, negative_slope):
    if xp is NX and g.dtype == a.dtype and g.dtype.kind == "f" and g.shape == a.shape:
        bits = np.array([1, negative_slope], g.dtype).view(f"i{g.dtype.itemsize}")
        return _fill(_leaky_factor_kernel, g, a, attrs=(bits[:1] - bits[1:], bits[1:]))
    if xp is NX:
        return _blocks(_leaky_backward_kernel, g, a, attrs=(negative_slope,))
    return xp.where(a > 0, g, g * negative_slope)


# PyTorch names the in-place forms' nodes ...Backward1.
_ELU_RULES = (_elu_rule, _elu_inplace_rule)
_ELU_BACKWARD = defop("EluBackwardBackward0", "grad x",
                      lambda grad, x, *attrs: _elu_backward(NX, grad, x, *attrs),
                      lambda xp, g, x, alpha, scale, input_scale, is_result:
                          _elu_backward(xp, g, x, alpha, scale, input_scale, is_result),
                      _elu_double_backward, attrs="alpha scale input_scale is_result")
_ELU = {k: defop(f"EluBackward{k}", "a", _elu_fwd, _ELU_RULES[k],
                 attrs="alpha scale input_scale", dtype="keep") for k in (0, 1)}
_CELU = {k: defop(f"CeluBackward{k}", "a", _elu_fwd, _ELU_RULES[k],
                  attrs="alpha scale input_scale", dtype="keep") for k in (0, 1)}
_LEAKY_RELU = {k: defop(f"LeakyReluBackward{k}", "a", _leaky_fwd, _leaky_rule,
                        attrs="negative_slope", dtype="keep") for k in (0, 1)}
for _op in _LEAKY_RELU.values():
    _op.attached = "LeakyReluBackwardBackward0"  # PyTorch's leaky_relu_backward

_NLL = defop("NllLossBackward0", "a",
             lambda a, key, wsel, reduction: _nll_fwd(a[key], wsel, reduction),
             _nll_rule, attrs="key wsel reduction", dtype="keep")
_BCE = defop("BinaryCrossEntropyBackward0", "a t w", _bce_fwd, _bce_input_rule,
             _bce_target_rule, None, attrs="reduction")
_MSE = _loss_op("MseLossBackward0", lambda d, p: d * d, lambda xp, d, p: 2 * d)
_SMOOTH_L1 = _loss_op("SmoothL1LossBackward0",
                      lambda d, beta: np.where(np.abs(d) < beta, 0.5 * d * d / beta,
                                               np.abs(d) - 0.5 * beta),
                      _smooth_l1_grad)
_HUBER = _loss_op("HuberLossBackward0",
                  lambda d, delta: np.where(np.abs(d) <= delta, 0.5 * d * d,
                                            delta * (np.abs(d) - 0.5 * delta)),
                  _huber_grad)
_CONSTANT_PAD = defop("ConstantPadNdBackward0", "a",
                      lambda a, widths, value, inner: np.pad(a, widths, constant_values=value),
                      lambda g, inner: g[inner], attrs="widths value inner", dtype="keep")
_PAD_OPS = {(mode, k): _index_op(f"{name}Pad{k}DBackward0")
            for mode, name in (("reflect", "Reflection"), ("replicate", "Replication"))
            for k in (1, 2, 3)}
_EMBEDDING = defop("EmbeddingBackward0", "weight", lambda w, idx, keep: w[idx],
                   lambda xp, g, weight_shape, idx, keep:
                       xp.index_acc(g * xp.asarray(keep), weight_shape, idx),
                   attrs="idx keep", dtype="keep")


def _nll_fwd(picked, wsel, reduction):
    loss = -picked * wsel
    if reduction == "none":
        return loss
    if reduction == "sum":
        return _sum(loss, None)
    total = _sum(wsel, None)
    if total:
        return _sum(loss, None) / total
    with np.errstate(invalid="ignore", divide="ignore"):
        return _sum(loss, None) / total


# The xp functions the rules above use, in both namespaces (rules written against `xp` run on
# arrays for a plain backward and record a graph when create_graph=True).
_XP = {
    "tanh": (np.tanh, lambda a: apply(O.TANH, a)),
    "sigmoid": (O._sigmoid, lambda a: apply(O.SIGMOID, a)),
    "erf": (_math._erf_fwd, lambda a: apply(_ERF, a)),
    "gelu_backward": (_gelu_backward_np, _gelu_backward_graph),
    "gelu_tanh_backward": (_gelu_tanh_backward_np, _gelu_tanh_backward_graph),
    "mm": (np.matmul, lambda a, b: apply(_MM, a, b)),
    "t": (np.transpose, lambda a: apply(_T, a)),
}
for _name, (_nx, _tx) in _XP.items():
    if not hasattr(NX, _name):
        setattr(NX, _name, _nx)
        setattr(TX, _name, _tx)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

def _inplace_or_apply(op, input, inplace_flag, attrs=(), inplace_op=None):
    if inplace_flag:
        return inplace(inplace_op or op, input, attrs=attrs)
    if not attrs and op.nout == 1 and op.differentiable:
        return O.unary(op, input)  # PERF: the one-input hot path: F.relu 33.3k -> 27.5k
    return apply(op, input, attrs=attrs)


def _float_only(input: Tensor, kernel: str) -> None:
    if input._data.dtype.kind not in "fc":
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{_c10_scalar_name(input.dtype)}'")


def _c10_scalar_name(dtype) -> str:
    return {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool", "float32": "Float", "float64": "Double",
            "float16": "Half"}.get(dtype.name, dtype.name)


def _not_differentiable(t: Tensor | None, fn: str, arg: str) -> None:
    if t is not None and state.enabled and t.requires_grad:
        raise RuntimeError(f"The function '{fn}' is not differentiable with respect to argument "
                           f"'{arg}'. This input cannot have requires_grad True.")


def _reduction(size_average, reduce, reduction: str) -> str:
    """The reduction mode, from the legacy ``size_average``/``reduce`` flags when they are given."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if size_average and reduce else ("sum" if reduce else "none")
        warnings.warn(f"size_average and reduce args will be deprecated, please use "
                      f"reduction='{reduction}' instead.", stacklevel=3)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def _warn_size(input: Tensor, target: Tensor) -> None:
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.size()}) that is different to the input size "
                      f"({input.size()}). This will likely lead to incorrect results due to "
                      "broadcasting. Please ensure they have the same size.", stacklevel=3)


def _softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to "
                  "include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def _axis(input: Tensor, dim: int):
    d = _wrap_dim(dim, input._data.ndim)
    return d if input._data.ndim else None


def _norm(x: Tensor, p: float, dim: int) -> Tensor:
    """The p-norm over ``dim`` (kept), with a zero gradient at a zero vector as PyTorch's."""
    if p == math.inf:
        ax = x.abs()
        top = _wrap(np.max(ax._data, axis=dim, keepdims=True))
        ties = (ax == top).to(x.dtype)
        return (ax * ties).sum(dim, keepdim=True) / ties.sum(dim, keepdim=True)
    if p == 2:
        s = (x * x).sum(dim, keepdim=True)
        nonzero = s > 0
        return _api.where(nonzero, _api.sqrt(_api.where(nonzero, s, 1.0)), 0.0)
    return ((x.abs() ** p).sum(dim, keepdim=True)) ** (1 / p)


# ---------------------------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------------------------

def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(input, 0) elementwise.

    >>> import ndgrad
    >>> relu(ndgrad.tensor([-1., 2.]))
    tensor([0., 2.])
    """
    return _inplace_or_apply(O.RELU, input, inplace)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(input, 0), 6) elementwise."""
    return hardtanh(input, 0.0, 6.0, inplace)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """``input`` clamped to [min_val, max_val]."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _inplace_or_apply(_HARDTANH, input, inplace, (min_val, max_val))


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``input`` where positive, else ``negative_slope * input``."""
    _float_only(input, "leaky_relu_cpu")
    return _inplace_or_apply(_LEAKY_RELU[0], input, inplace, (negative_slope,), _LEAKY_RELU[1])


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``input`` where positive, else ``alpha * (exp(input) - 1)``."""
    return _inplace_or_apply(_ELU[0], input, inplace, (alpha, 1.0, 1.0), _ELU[1])


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """``scale * elu(input, alpha)`` with the self-normalizing constants."""
    return _inplace_or_apply(_ELU[0], input, inplace, (_SELU_ALPHA, _SELU_SCALE, 1.0), _ELU[1])


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``input`` where positive, else ``alpha * (exp(input / alpha) - 1)``."""
    return _inplace_or_apply(_CELU[0], input, inplace, (alpha, 1.0, 1.0 / alpha), _CELU[1])


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """``input * Phi(input)``, or its tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    _float_only(input, "GeluKernelImpl")
    return apply(_GELU, input, attrs=(approximate,))


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``input * sigmoid(input)``."""
    return _inplace_or_apply(_SILU, input, inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``input * tanh(softplus(input))``."""
    return _inplace_or_apply(_MISH, input, inplace)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * input)) / beta``, linear above ``threshold``."""
    return apply(_SOFTPLUS, input, attrs=(beta, threshold))


def softsign(input: Tensor) -> Tensor:
    """``input / (1 + |input|)``."""
    return input / (input.abs() + 1)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``relu6(input + 3) / 6``."""
    return _inplace_or_apply(_HARDSIGMOID, input, inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``input * relu6(input + 3) / 6``."""
    return _inplace_or_apply(_HARDSWISH, input, inplace)


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(input))``, finite for large inputs of either sign."""
    return apply(_LOG_SIGMOID, input)


def tanh(input: Tensor) -> Tensor:
    """The hyperbolic tangent."""
    return _api.tanh(input)


def sigmoid(input: Tensor) -> Tensor:
    """``1 / (1 + exp(-input))``."""
    return _api.sigmoid(input)


def _softmax_like(name, op, input, dim, stacklevel, dtype, negate=False):
    if dim is None:
        dim = _softmax_dim(name, input.ndim, stacklevel + 1)
    if dtype is not None:
        input = input.to(dtype)
    axis = _axis(input, dim)
    if input._data.dtype.kind not in "fc":
        last = axis is None or axis == input.ndim - 1
        kernel = ("log_softmax" if op is _LOG_SOFTMAX else "softmax") + \
            ("_lastdim_kernel_impl" if last else "_kernel_impl")
        _float_only(input, kernel)
    return apply(op, -input if negate else input, attrs=(axis,))


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``exp(input) / exp(input).sum(dim)``, computed stably."""
    return _softmax_like("softmax", _SOFTMAX, input, dim, _stacklevel, dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype=None) -> Tensor:
    """``log(softmax(input, dim))``, finite for large inputs."""
    return _softmax_like("log_softmax", _LOG_SOFTMAX, input, dim, _stacklevel, dtype)


def _softmax_required_dim(f):
    """``torch.softmax``/``torch.log_softmax`` and the Tensor methods: ``dim`` is required."""
    _missing = object()

    def top(input: Tensor, dim: int = _missing, dtype=None) -> Tensor:
        if dim is _missing:  # PyTorch's argument parser's words
            raise TypeError(f'{f.__name__}() missing 1 required positional arguments: "dim"')
        return f(input, dim, dtype=dtype)
    top.__name__ = top.__qualname__ = f.__name__
    top.__doc__ = f.__doc__
    return top


_torch_softmax = _softmax_required_dim(softmax)
_torch_log_softmax = _softmax_required_dim(log_softmax)
Tensor.softmax = _torch_softmax
Tensor.log_softmax = _torch_log_softmax


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``softmax(-input, dim)``."""
    return _softmax_like("softmin", _SOFTMAX, input, dim, _stacklevel, dtype, negate=True)


# ---------------------------------------------------------------------------------------------
# Normalization, dropout, linear maps, one_hot, pad, embedding
# ---------------------------------------------------------------------------------------------

def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """``input / max(||input||_p, eps)`` along ``dim``."""
    d = _wrap_dim(dim, input.ndim)
    n = _norm(input, p, d)
    denom = _api.where(n > eps, n, eps)
    return input / denom if out is None else _api.div(input, denom, out=out)


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    dt = input._data.dtype
    if p == 1:
        mask = np.zeros(input._data.shape, dt)
    else:
        keep = _creation.generator().random(input._data.shape) >= p
        mask = (keep / (1 - p)).astype(dt)
    return input.mul_(_wrap(mask)) if inplace else input * _wrap(mask)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``."""
    if input.dtype is not weight.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{_c10_name(input.dtype)} != {_c10_name(weight.dtype)}")
    k = input.shape[-1] if input.ndim else 1
    rows = input.numel() // k if k else 0
    if weight.ndim != 2 or weight.shape[1] != k:
        wt = weight.shape[::-1] if weight.ndim == 2 else tuple(weight.shape)
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{k} and "
                           f"{'x'.join(str(s) for s in wt)})")
    wt = apply(_T, weight)
    x = input if input.ndim == 2 else input.reshape(-1, k)
    out = apply(_MM, x, wt) if bias is None else apply(_ADDMM, bias, x, wt)
    if input.ndim == 2:
        return out
    shape = tuple(input.shape[:-1]) + (weight.shape[0],)
    if bias is not None:
        return out.reshape(shape)
    # NOTE: without a bias PyTorch goes through matmul, whose result nodes are named differently.
    view = _RESHAPES["SqueezeBackward4" if input.ndim == 1 else "UnsafeViewBackward0"]
    return apply(view, out, attrs=(shape,))


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x1^T A x2 + b`` for each output feature: ``weight`` has shape (out, in1, in2)."""
    out_f, in1, in2 = weight.shape
    if input1.shape[-1] != in1:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got "
                           f"{input1.shape[-1]} but expected {in1}")
    if input2.shape[-1] != in2:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got "
                           f"{input2.shape[-1]} but expected {in2}")
    lead = tuple(input1.shape[:-1])
    x1, x2 = input1.reshape(-1, in1), input2.reshape(-1, in2)
    # (N, in2) @ (in2, out*in1): contract in2 first, then in1 with a broadcast product.
    t = apply(_MM, x2, apply(_T, weight.reshape(out_f * in1, in2)))
    y = (t.reshape(-1, out_f, in1) * x1[:, None, :]).sum(-1)
    if bias is not None:
        y = y + bias
    return y.reshape(*lead, out_f)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Class indices to one-hot rows of length ``num_classes`` (int64).

    >>> import ndgrad
    >>> one_hot(ndgrad.tensor([0, 2]), 3)
    tensor([[1, 0, 0],
            [0, 0, 1]])
    """
    idx = tensor._data
    if idx.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        if idx.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(idx.max()) + 1
    if idx.size and idx.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if idx.size and idx.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    return _wrap((idx[..., None] == np.arange(num_classes)).astype(np.int64))


_PAD_HELP = ("Supported combinations for non-constant padding:\n"
             "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
             "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
             "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")


def pad(input: Tensor, pad: list, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last ``len(pad) // 2`` dimensions; ``pad`` lists (left, right) from the last dim."""
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    k = len(pad) // 2
    nd = input.ndim
    if k > nd:
        raise RuntimeError("Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension "
                           f"{nd}")
    # (left, right) per padded dimension, first padded dimension first
    pairs = [(int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(k)][::-1]
    dims = list(range(nd - k, nd))
    if mode == "constant":
        crop = tuple(slice(max(-lo, 0), input.shape[d] - max(-hi, 0)) for d, (lo, hi) in
                     zip(dims, pairs))
        x = input[(Ellipsis,) + crop] if any(lo < 0 or hi < 0 for lo, hi in pairs) else input
        widths = [(0, 0)] * (nd - k) + [(max(lo, 0), max(hi, 0)) for lo, hi in pairs]
        inner = (Ellipsis,) + tuple(slice(lo, lo + s) for (lo, _), s in
                                    zip(widths[nd - k:], x.shape[nd - k:]))
        return apply(_CONSTANT_PAD, x, attrs=(widths, 0 if value is None else value, inner))
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if k not in (1, 2, 3) or nd not in (k + 1, k + 2):
        raise NotImplementedError(f"Padding size {len(pad)} is not supported for {nd}D input "
                                  f"tensor.\n{_PAD_HELP}")
    idxs = []
    for d, (lo, hi) in zip(dims, pairs):
        n = input.shape[d]
        i = np.arange(-lo, n + hi)
        if mode == "reflect":
            if lo >= n or hi >= n:
                raise RuntimeError(f"Argument #{2 * k + 2}: Padding size should be less than the "
                                   f"corresponding input dimension, but got: padding ({lo}, {hi}) "
                                   f"at dimension {d} of input {list(input.shape)}")
            i = np.abs(i)
            i = np.where(i >= n, 2 * (n - 1) - i, i)
        elif mode == "replicate":
            i = np.clip(i, 0, n - 1)
        else:
            if lo > n or hi > n:
                raise RuntimeError("Padding value causes wrapping around more than once.")
            i = i % n
        idxs.append(i)
    key = (slice(None),) * (nd - k) + np.ix_(*idxs)
    op = O.INDEX if mode == "circular" else _PAD_OPS[(mode, k)]
    return apply(op, input, attrs=(key,))


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` picked by the integer ``input``; ``padding_idx``'s row gets no grad."""
    idx = input._data
    if idx.dtype not in (np.int64, np.int32):
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following "
                           f"scalar types: Long, Int; but got torch.{input.dtype._legacy}Tensor "
                           "instead (while checking arguments for embedding)")
    num = weight.shape[0]
    if padding_idx is not None:
        if padding_idx > 0:
            assert padding_idx < num, "Padding_idx must be within num_embeddings"
        elif padding_idx < 0:
            assert padding_idx >= -num, "Padding_idx must be within num_embeddings"
            padding_idx = num + padding_idx
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        _embedding_renorm(weight, idx, max_norm, norm_type)
    keep = np.ones(idx.shape, weight._data.dtype)
    if padding_idx is not None:
        keep[idx == padding_idx] = 0
    if scale_grad_by_freq:
        keep = keep / np.bincount(idx.ravel(), minlength=num)[idx]
    return apply(_EMBEDDING, weight, attrs=(idx, keep[..., None].astype(weight._data.dtype)))


def _embedding_renorm(weight: Tensor, idx: np.ndarray, max_norm: float, norm_type: float) -> None:
    """PyTorch's ``embedding_renorm_``: rescale, in place, the used rows longer than max_norm."""
    rows = np.unique(idx)
    w = weight._data
    norms = np.linalg.norm(w[rows], ord=norm_type, axis=-1)
    big = norms > max_norm
    if big.any():
        w[rows[big]] *= (max_norm / (norms[big] + 1e-7))[:, None].astype(w.dtype)
        weight._vc[0] += 1


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``<x1, x2> / (max(||x1||, eps) * max(||x2||, eps))`` along ``dim``."""
    try:
        shape = np.broadcast_shapes(x1._data.shape, x2._data.shape)
    except ValueError as exc:
        O._raise_broadcast((x1._data, x2._data), exc)
    x1 = x1 if x1._data.shape == shape else apply(O.EXPAND, x1, attrs=(shape,))
    x2 = x2 if x2._data.shape == shape else apply(O.EXPAND, x2, attrs=(shape,))

    def unit(x):
        d = _wrap_dim(dim, x.ndim)
        n = _norm(x, 2, d)
        # NOTE: PyTorch clamps the norms under no_grad, so the gradient is the unclamped one's.
        n = n + _wrap(np.maximum(n._data, eps) - n._data)
        return x / n
    return (unit(x1) * unit(x2)).sum(dim)


# ---------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------

def _weighted(loss: Tensor, weight: Tensor, input: Tensor, reduction: str, mean_by_weight: bool):
    if weight.shape != input.shape:
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """The (weighted) mean squared error."""
    _warn_size(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    if weight is not None:
        return _weighted(apply(_MSE, input, target, attrs=("none", None)), weight, input,
                         reduction, True)
    return apply(_MSE, input, target, attrs=(reduction, None))


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """The (weighted) mean absolute error."""
    _warn_size(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    loss = (input - target).abs()
    if weight is not None:
        return _weighted(loss, weight, input, reduction, True)
    return _reduce(loss, reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Squared error below ``beta`` (scaled by 1/beta), absolute error above."""
    _warn_size(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    return apply(_SMOOTH_L1, input, target, attrs=(reduction, beta))


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """Squared error below ``delta``, ``delta``-scaled absolute error above."""
    _warn_size(input, target)
    reduction = _reduction(None, None, reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    if weight is not None:
        return _weighted(apply(_HUBER, input, target, attrs=("none", delta)), weight, input,
                         reduction, False)
    return apply(_HUBER, input, target, attrs=(reduction, delta))


def _check_nll(input: Tensor, target: Tensor, weight: Tensor | None, fn: str):
    nd = input.ndim
    if nd < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {nd})")
    if nd >= 2 and target.ndim >= 1 and input.shape[0] != target.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                         f"batch_size ({target.shape[0]}).")
    if nd <= 2 and target.ndim > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if nd > 2 and tuple(target.shape) != (input.shape[0],) + tuple(input.shape[2:]):
        raise RuntimeError(f"Expected target size {[input.shape[0]] + list(input.shape[2:])}, "
                           f"got {list(target.shape)}")
    if target._data.dtype not in (np.int64, np.uint8):
        raise RuntimeError("expected target dtype to be Long or Byte, but got "
                           f"{_c10_scalar_name(target.dtype)}")
    if nd > 2 and target._data.dtype == np.uint8:
        # NOTE: PyTorch's kernel for more than 2 input dims (nll_loss2d) takes Long targets only
        raise RuntimeError("expected scalar type Long but found Byte")
    c = input.shape[1] if nd >= 2 else input.shape[0]
    if weight is not None:
        if weight.numel() != c:
            raise RuntimeError(f"{fn}weight tensor should be defined either for all {c} classes "
                               f"or no classes but got weight tensor of shape: "
                               f"{list(weight.shape)}")
    return c


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """The negative log likelihood of the target classes, given log-probabilities."""
    reduction = _reduction(size_average, reduce, reduction)
    c = _check_nll(input, target, weight, "")
    return _nll(input, target, weight, ignore_index, reduction, c)


_UNIT = {}  # (target shape, dtype) -> read-only ones: the unweighted targets' weights
_ROWS = {}  # n -> read-only arange(n): the rows a 2-d input's targets sit in


def _cached(cache, key, make):
    """A read-only array kept under ``key`` (cleared past 64 keys: shapes that keep changing)."""
    arr = cache.get(key)
    if arr is None:
        if len(cache) >= 64:
            cache.clear()
        arr = cache[key] = make()
        arr.flags.writeable = False
    return arr


def _nll(input, target, weight, ignore_index, reduction, c):
    """nll_loss past its argument checks (`_check_nll` gave the class count ``c``)."""
    _not_differentiable(weight, "nll_loss_forward" if input.ndim <= 2 else "nll_loss2d_forward",
                        "weight")
    tgt = target._data.astype(np.int64, copy=False)
    dt = input._data.dtype
    if tgt.size and 0 <= np.minimum.reduce(tgt, None) and np.maximum.reduce(tgt, None) < c \
            and not 0 <= ignore_index < c:
        # PERF: every target is a class and none is ignored (the usual batch): no masks, and
        # without class weights the same read-only ones each call
        safe = tgt
        if weight is None:
            wsel = _cached(_UNIT, (tgt.shape, dt), lambda: np.ones(tgt.shape, dt))
        else:
            wsel = weight._data[tgt].astype(dt)
    else:
        valid = tgt != ignore_index
        bad = valid & ((tgt < 0) | (tgt >= c))
        if bad.any():
            raise IndexError(f"Target {tgt[bad].flat[0]} is out of bounds.")
        safe = np.where(valid, tgt, 0)
        wsel = valid.astype(dt) if weight is None else (weight._data[safe] * valid).astype(dt)
    if input.ndim == 1:
        key = (safe,)
    elif input.ndim == 2:
        key = (_cached(_ROWS, len(safe), lambda: np.arange(len(safe))), safe)
    else:
        grid = np.indices(tgt.shape, sparse=True)
        key = (grid[0], safe) + tuple(grid[1:])
    return apply(_NLL, input, attrs=(key, wsel, reduction))


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """``nll_loss(log_softmax(input, 1), target)`` for class indices, or the cross entropy
    against class probabilities when ``target`` is floating and shaped like ``input``."""
    reduction = _reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    class_dim = 0 if input.ndim == 1 else 1
    if target.is_floating_point() and target.shape == input.shape:
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing, class_dim)
    c = _check_nll(input, target, weight, "")
    logp = log_softmax(input, class_dim)
    loss = _nll(logp, target, weight, ignore_index, reduction, c)
    if label_smoothing <= 0:
        return loss
    wshape = [1] * input.ndim
    wshape[class_dim] = c
    smooth = -(logp if weight is None else logp * weight.reshape(wshape)).sum(class_dim)
    ignored = _wrap(target._data == ignore_index)
    smooth = _api.where(ignored, 0.0, smooth)
    if reduction == "mean":
        keep = target._data != ignore_index
        denom = float(keep.sum() if weight is None else weight._data[target._data[keep]].sum())
        # NOTE: with every target ignored the loss is nan and the gradient zero, as PyTorch's,
        # and no division by zero (which would warn) is recorded.
        smooth = smooth.sum() / denom if denom else smooth.sum() * math.nan
    elif reduction == "sum":
        smooth = smooth.sum()
    return (1 - label_smoothing) * loss + smooth * (label_smoothing / c)


def _cross_entropy_probs(input, target, weight, reduction, label_smoothing, class_dim):
    c = input.shape[class_dim]
    if weight is not None and (weight.ndim != 1 or weight.numel() != c):
        raise RuntimeError(f"cross_entropy: weight tensor should be defined either for all {c} "
                           f"classes or no classes but got weight tensor of shape: "
                           f"{list(weight.shape)}")
    logp = log_softmax(input, class_dim)
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / c
    prod = logp * target
    if weight is not None:
        wshape = [1] * input.ndim
        wshape[class_dim] = c
        prod = prod * weight.reshape(wshape)
    if reduction == "none":
        return -prod.sum(class_dim)
    total = -prod.sum()
    if reduction == "sum":
        return total
    return total / (input.numel() // c) if input.numel() else total * math.nan


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``-w * (t * log(x) + (1 - t) * log(1 - x))``, with the logs clamped at -100."""
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.size()}) that is different to the input "
                         f"size ({input.size()}) is deprecated. Please ensure they have the same "
                         "size.")
    x = input._data
    if x.size and (x.min() < 0 or x.max() > 1):
        raise RuntimeError("all elements of input should be between 0 and 1")
    _not_differentiable(weight, "binary_cross_entropy", "weight")
    w = 1.0 if weight is None else weight.detach().expand(*input.shape)
    return apply(_BCE, input, target, w, attrs=(reduction,))


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average=None, reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """``binary_cross_entropy(sigmoid(input), target)``, computed stably from the logits."""
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.size()}) must be the same as input size "
                         f"({input.size()})")
    _not_differentiable(weight, "binary_cross_entropy_with_logits", "weight")
    _not_differentiable(pos_weight, "binary_cross_entropy_with_logits", "pos_weight")
    log_weight = 1 if pos_weight is None else (pos_weight - 1) * target + 1
    loss = (1 - target) * input - log_weight * logsigmoid(input)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """The pointwise KL divergence ``target * (log(target) - input)``; ``input`` holds logs."""
    if size_average is not None or reduce is not None:
        mode = _reduction(size_average, reduce, "mean")
    else:
        if reduction == "mean":
            warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                          "support size.'batchmean' divides only by the batch size, and aligns "
                          "with the KL div math definition.'mean' will be changed to behave the "
                          "same as 'batchmean' in the next major release.", stacklevel=2)
        mode = "sum" if reduction == "batchmean" else _reduction(None, None, reduction)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        zero = _wrap(target._data == 0)
        xlogy = _api.where(zero, 0.0, target * _api.where(zero, 1.0, target).log())
        loss = xlogy - target * input
    loss = _reduce(loss, mode)
    if reduction == "batchmean" and input.ndim != 0:
        loss = loss / input.shape[0]
    return loss


from ._conv import *  # noqa
