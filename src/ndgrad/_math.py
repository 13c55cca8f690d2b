"""Elementwise math beyond the core: more unary functions, rounding, clamping, binary and ternary
arithmetic, closeness tests, logical and bitwise ops, and the in-place (``name_``) forms of all
elementwise ops. The core arithmetic and comparisons live in ``_ops`` and ``_api``."""
from __future__ import annotations

import functools
import math

import numpy as np
from numpy.polynomial.chebyshev import cheb2poly

from . import _api
from . import _ops as O
from . import _kernels
from . import _out
from ._kernels import horner as _horner, in_blocks as _in_blocks, select as _select
from ._ops import NX, TX, _int_division, apply, defop, inplace
from ._tensor import Tensor, _c10_name

__all__ = [
    "exp2", "expm1", "log2", "log10", "log1p", "rsqrt", "square", "tan", "asin", "acos", "atan",
    "sinh", "cosh", "asinh", "acosh", "atanh", "arcsin", "arccos", "arctan", "arcsinh", "arccosh",
    "arctanh", "logit", "erf", "erfc", "floor", "ceil", "round", "trunc", "fix", "frac", "clamp",
    "clip", "nan_to_num", "floor_divide", "remainder", "fmod", "atan2", "arctan2", "maximum",
    "minimum", "fmax", "fmin", "hypot", "logaddexp", "lerp", "addcmul", "addcdiv", "isclose",
    "allclose", "equal", "greater", "less", "greater_equal", "less_equal", "not_equal",
    "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or",
    "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift", "isnan", "isinf",
    "isfinite",
]

_LN2, _LN10 = math.log(2.0), math.log(10.0)
_NAN = math.nan


def _quiet(f):
    """``f`` with NumPy's floating-point warnings off: PyTorch returns inf and nan silently."""
    @functools.wraps(f)  # NOTE: keeps the signature, which the op table reads to name a rule's inputs
    def run(*args):
        with np.errstate(all="ignore"):
            return f(*args)
    return run


def _unary(name, fwd, rule, dtype="float", attrs=""):
    return defop(name, "a", _quiet(fwd), _quiet(rule), attrs=attrs, dtype=dtype)


def _zero(g):
    return g * 0


# ---------------------------------------------------------------------------------------------
# erf and erfc on NumPy alone
# ---------------------------------------------------------------------------------------------
# NOTE: piecewise Chebyshev expansions, their coefficients computed once at 40 digits (mpmath);
# relative error below 1e-15 everywhere. |x| < 1: erf(x) = x * P(2x^2 - 1). Otherwise
# erfc(x) = exp(-x^2) * erfcx(x), erfcx expanded in 1/x on [0.5, 1), [1, 2), [2, 4), [4, 8),
# [8, 28); erfc then underflows to 0. erfc uses the expansion from 0.5 on, not 1 - erf(x).
_ERF_SMALL = (
    0.9754769393826541, -0.14226120510371365, 0.010035582187599796, -0.0005768764699767485,
    2.741993125219606e-05, -1.1043175507344507e-06, 3.8488755420345036e-08,
    -1.1808582533875466e-09, 3.2334215826050907e-11, -7.991015947004549e-13,
    1.7990725113961456e-14, -3.718635487818682e-16, 7.103599003627703e-18,
    -1.261245445935402e-19, 2.0911640074559498e-21)
_ERFCX_PIECES = (
    (0.5, 1.0, (
        0.530520980213914, 0.09327366851042623, -0.008823700719385572,
        0.0007762186961860084, -6.030472379776285e-05, 3.536683070895783e-06,
        -2.3342010277445547e-08, -3.8491608902590486e-08, 8.560046343064677e-09,
        -1.3573595998038164e-09, 1.8326737624155407e-10, -2.19513318792522e-11,
        2.3210208602693284e-12, -2.0451657964231765e-13, 1.1606159443148493e-14,
        5.72111405920108e-16, -3.2824095814539823e-16)),
    (1.0, 2.0, (
        0.34630983395966086, 0.08590894585892477, -0.0048227258406236305,
        0.00018649431517576382, 2.3252063776608847e-06, -1.4733383612378742e-06,
        1.9195365298660884e-07, -1.691935104974401e-08, 9.652273977708754e-10,
        4.308538357172454e-12, -1.0902437357821795e-11, 1.93196028812465e-12,
        -2.3511940435562066e-13, 2.1898369241077783e-14, -1.38009180994629e-15,
        -2.8754165137574955e-18, 1.8533627662647264e-17, -3.774592924627059e-18,
        5.303846739723953e-19)),
    (2.0, 4.0, (
        0.19763099710706403, 0.05921206256846238, -0.0014375355141329196,
        -1.3710635555965746e-05, 4.1019694634383156e-06, -2.4339401776866506e-07,
        3.501110553087868e-09, 7.983988974835515e-10, -9.570709758537243e-11,
        5.468606047532574e-12, -1.867595007900739e-14, -3.3680771425611986e-14,
        4.226096028297761e-15, -2.879627084731817e-16, 5.352384518405314e-18,
        1.5703984834681576e-18, -2.608328569455735e-19)),
    (4.0, 8.0, (
        0.10375392111994136, 0.03351744352851513, -0.0002620414874514965,
        -1.0298131694161786e-05, 4.329436573796489e-07, 2.9077877633180713e-10,
        -6.635402967385833e-10, 2.4566340910594684e-11, 3.613023697362322e-13,
        -7.59129102971808e-14, 2.9234129978270394e-15, 5.991348950942425e-17,
        -1.2731164002781802e-17, 5.917123424258927e-19, 6.671299455398786e-21)),
    (8.0, 28.0, (
        0.04512625852589129, 0.024929861904123263, -6.534925364662001e-05,
        -5.68306295670437e-06, 7.492148333729862e-08, 3.2793226679676424e-09,
        -1.1137093849794185e-10, -2.1556517772441897e-12, 1.9087299756475666e-13,
        -2.594942896837863e-16, -3.398107261823306e-16, 8.598109651705142e-18,
        5.329737336331396e-19, -3.586046678248993e-20)),
)


def _monomial(cheb, tol):
    """Power-series coefficients of a Chebyshev series, without the terms below ``tol``."""
    c = np.asarray(cheb)
    keep = np.nonzero(np.abs(c) > tol * abs(c[0]))[0][-1] + 1
    return tuple(float(v) for v in cheb2poly(c[:keep]))  # NOTE: Python floats keep float32 float32


# PERF: Horner in place on monomial coefficients (all below 1 in size, so no cancellation) runs
# about 3x faster than Clenshaw's recurrence. These tables serve float64 inputs; float32 ones
# take the shorter paths of _erf32_scaled and _erfc32.
_ERF_SMALL_POLY = _monomial(_ERF_SMALL, 0)
_ERFCX_POLYS = tuple((lo, hi, _monomial(c, 0)) for lo, hi, c in _ERFCX_PIECES)






def _exp_neg_square(x):
    """exp(-x*x) for float64 inputs, without the rounding error of x*x, which exp magnifies."""
    hi = (x.view(np.uint64) & np.uint64(0xFFFFFFFFF8000000)).view(np.float64)  # 26 bits: hi*hi exact
    return np.exp(-hi * hi) * np.exp(-(x - hi) * (x + hi))


def _erfc_large(x):
    """erfc(x) for x >= 0.5 (nan and inf give 0; the callers restore nan)."""
    out = np.zeros_like(x)
    for lo, hi, coef in _ERFCX_POLYS:
        m = (x >= lo) & (x < hi)
        if m.any():
            xs = x[m]
            ua, ub = 1.0 / hi, 1.0 / lo
            t = np.divide(2.0 / (ub - ua), xs)
            t -= (ua + ub) / (ub - ua)
            out[m] = _horner(t, coef) * _exp_neg_square(xs)
    return out


# NOTE: erfc of float32 (and narrower) inputs, branch-free over the whole array: for x >= 0,
# erfc(x) = exp(-x^2) * erfcx(x), erfcx a rational fit P4(x) / Q5(x) on [0, 10.1] (erfc is 0 in
# float32 beyond; relative error 1e-8, coefficients all positive), evaluated in float64, where
# its rounding stays at 1e-16 (float32's Horner would lose 4e-7); erfc(-x) = 2 - erfc(x).
# exp(-x^2) keeps its relative accuracy in the tail: x^2 = y2 + err exactly (Dekker's split,
# err below half an ulp of y2) and exp(-x^2) = exp(-y2) * (1 - err), while exp(-y2) alone would
# magnify y2's rounding up to 6e-6.
# PERF: 11 ms per 1e6 elements against 20 ms for exp(-x^2) in float64 and two expansions.
_ERFCX32_P = (1.0000000011882628, 1.2313906906137724, 0.7239535628687692, 0.225450321907565,
              0.03195648762669141)
_ERFCX32_Q = (1.0, 2.3597701254238723, 2.3866634320817712, 1.3110352124281262,
              0.3996288113337048, 0.056640635884683224)
_ERFC32_CLIP = 10.1


def _exp_neg_square32(y):
    """exp(-y*y) for float32 ``y``, to a few ulps also where exp magnifies y*y's rounding."""
    y2 = y * y
    hi = (y.view(np.int32) & np.int32(-4096)).view(np.float32)  # 12 bits: hi*hi exact
    err = hi * hi
    err -= y2
    lo = y - hi
    hi += y
    lo *= hi
    err += lo  # y*y - y2, exactly up to 2^-35 y*y
    np.negative(y2, out=y2)
    np.exp(y2, out=y2)
    np.subtract(1.0, err, out=err)
    y2 *= err
    return y2


def _erfc32(a):
    """erfc in float32, for inputs of float32 or narrower."""
    x = np.asarray(a, dtype=np.float32)
    y = np.abs(x)
    np.clip(y, 0.0, _ERFC32_CLIP, out=y)
    y64 = y.astype(np.float64)
    r = _horner(y64, _ERFCX32_P)
    r /= _horner(y64, _ERFCX32_Q)
    out = r.astype(np.float32)
    out *= _exp_neg_square32(y)
    # NOTE: erfc(x) for x < 0 as |2 - erfc(-x)|, else |0 - erfc(x)|, with 2 or 0 from x's sign
    # bit (erfc(-0.0) = 1 either way). PERF: 0.7 against 1.2 ns an element for a select; fwd
    # on 1e6 float32, one thread: 15.7 -> 14.8 and 16.9 -> 15.8 ms (CPU time, medians, two runs).
    two = x.view(np.int32) >> 31
    two &= np.int32(0x40000000)  # the bits of 2.0
    t = two.view(np.float32)
    t -= out
    return np.abs(t, out=t)


def _erf_parts(a, cut):
    x = np.asarray(a, dtype=np.float64)
    ax = np.abs(x)
    small = ax < cut
    xs = x[small]
    t = xs * xs
    t *= 2.0
    t -= 1.0
    return x, ax, small, xs * _horner(t, _ERF_SMALL_POLY)


# NOTE: erf of float32 (and narrower) inputs as x * P(x^2) / Q(x^2): a rational least-squares fit
# to erf(x)/x on [0, 3.92] (erf rounds to 1 beyond), reweighted toward minimax, relative error
# 2.6e-8, 4e-7 after float32's rounding. Coefficients all positive, so Horner does not cancel.
# Past 3.92 the fit rises above 1, by 3e-6 at 4.3: clipping |x| to 4.3 and the result to 1 makes
# erf exactly +/-1 in the tails, so that 1 + erf(x) and gelu there are exactly 0, as in PyTorch.
# PERF: no exp and no branch: 25 passes over the data, 2.4x faster than through erfc and exp.
_ERF32_P = (1.1283791065216064, 0.19092285633087158, 0.052813366055488586,
            0.0037867692299187183, 0.0002851473109330982, 2.0431280063348822e-06)
_ERF32_Q = (1.0, 0.5025336742401123, 0.11431915313005447, 0.015011786483228207,
            0.0011672786204144359, 3.803418803727254e-05)
_ERF32_CLIP = 4.3


@functools.lru_cache(maxsize=None)
def _erf32_coefficients(scale, factor):
    return (tuple(c * scale ** (2 * k + 1) * factor for k, c in enumerate(_ERF32_P)),
            tuple(c * scale ** (2 * k) for k, c in enumerate(_ERF32_Q)))


def _erf32_scaled(a, scale=1.0, factor=1.0):
    """``factor * erf(scale * a)`` in float32, both numbers folded into the coefficients."""
    p_coef, q_coef = _erf32_coefficients(scale, factor)
    x = np.clip(np.asarray(a, dtype=np.float32), -_ERF32_CLIP / scale, _ERF32_CLIP / scale)
    s = x * x
    p = _horner(s, p_coef)
    p *= x
    p /= _horner(s, q_coef)
    return np.clip(p, -factor, factor, out=p)


@_in_blocks
def _erf_fwd(a):
    if a.dtype.itemsize < 8:
        return _erf32_scaled(a)
    x, ax, small, erf_small = _erf_parts(a, 1.0)
    out = np.empty_like(x)
    out[small] = erf_small
    big = ~small
    out[big] = np.copysign(1.0 - _erfc_large(ax[big]), x[big])
    return np.where(np.isnan(x), x, out)


@_in_blocks
def _erfc_fwd(a):
    if a.dtype.itemsize < 8:
        return _erfc32(a)
    x, ax, small, erf_small = _erf_parts(a, 0.5)
    out = np.empty_like(x)
    out[small] = 1.0 - erf_small
    big = ~small
    e = _erfc_large(ax[big])
    out[big] = np.where(x[big] > 0, e, 2.0 - e)
    return np.where(np.isnan(x), x, out)


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


# ---------------------------------------------------------------------------------------------
# sinh and cosh through exp
# ---------------------------------------------------------------------------------------------
# PERF: NumPy's sinh and cosh have no SIMD loops (float32 sinh: ~15x the cost of exp), and its
# expm1 neither. So e = exp(|x|) does the work: cosh = (e + 1/e) / 2, and sinh = (e - 1/e) / 2
# from |x| = 1 on; below 1, where e - 1/e cancels, sinh = x * (1 + x^2/3! + x^4/5! + ...).
# Inputs narrower than float64 run in float32. Like PyTorch, both overflow where e does.
_SINH_SERIES = {exact: tuple(1.0 / math.factorial(2 * k + 1) for k in range(9 if exact else 6))
                for exact in (True, False)}


def _exp_parts(a):
    work = np.float64 if a.dtype == np.float64 else np.float32
    x = np.asarray(a, dtype=work)
    ax = np.abs(x)
    return x, ax, np.exp(ax)


def _same_float(out, a):
    return out if out.dtype == a.dtype or a.dtype.kind != "f" else out.astype(a.dtype)


@_in_blocks
def _sinh_fwd(a):
    x, ax, e = _exp_parts(a)
    big = e - 1 / e
    big *= 0.5
    t = x * x
    small = _horner(t, _SINH_SERIES[a.dtype == np.float64])
    small *= ax
    out = _select(ax < 1, small, big)
    return _same_float(_or_sign(out, x), a)


def _or_sign(r, x):
    """``r``, nonnegative or nan, given the sign of ``x`` by its bits, in place.

    PERF: about half the cost of np.copysign (1.0 ns an element on float32): sinh fwd on 1e6
    float32, one thread, 6.1-6.8 -> 5.7-6.5 ms (CPU time, medians, alternating, three runs),
    with the same values."""
    it = np.dtype(f"i{r.dtype.itemsize}")
    bits = r.view(it)
    bits |= x.view(it) & (np.array(-1, it) << (8 * r.dtype.itemsize - 1))
    return r


@_in_blocks
def _cosh_fwd(a):
    x, ax, e = _exp_parts(a)
    out = 1 / e
    out += e
    out *= 0.5
    return _same_float(out, a)


# ---------------------------------------------------------------------------------------------
# The table: unary functions
# ---------------------------------------------------------------------------------------------

def _f32(kernel, numpy_fn):
    """``kernel`` on float32 arrays, ``numpy_fn`` (accurate, and fast enough) on the others.

    PERF: where NumPy's float32 loop is scalar libm (expm1, log1p, arctanh, arcsinh, logaddexp
    among others), the kernels of ``_kernels`` are 1.6-3x faster at 1e6 elements. The float64
    loops are scalar libm too, compute-bound: large arrays take two threads."""
    numpy_fn = _kernels.in_halves(numpy_fn)

    def run(*arrays):
        if all(a.dtype == np.float32 for a in arrays):
            return kernel(*arrays)
        return numpy_fn(*arrays)
    return run


_EXPM1, _LOG1P = _f32(_kernels.expm1_32, np.expm1), _f32(_kernels.log1p32, np.log1p)
_ASINH, _ATANH = _f32(_kernels.asinh32, np.arcsinh), _f32(_kernels.atanh32, np.arctanh)


def _blockwise(kernel, formula, saved="a"):
    """A rule of ``(xp, g, a)``, or of ``(xp, g, out)`` where ``saved`` is "out": ``formula``,
    written for NumPy arrays and tensors alike, or, where a plain backward has float32 or float64
    arrays of one shape, ``kernel(d, g, x)``: the same passes in the same order, block by block
    into a fresh ``d`` (see _kernels.fill).

    PERF: no 4 MB temporaries: the 3-5 passes of these gradients stay in the cache. The rule
    alone, 1e6 float32, one thread (CPU time, medians of 15, alternating), against the formula:
    atan 1.33 -> 1.07 ms, asin 1.96 -> 1.77, acos 2.81 -> 2.26, asinh 1.75 -> 1.58, erf 4.45
    -> 3.11, erfc 5.13 -> 4.15, sinh 5.27 -> 4.78, with the same results bit for bit. The
    two-pass gradients (expm1, exp2) ran 15% slower so, and atanh, acosh, log1p, log10 and
    cosh within 5%: they keep their formulas."""
    def fused(xp, g, x):
        if xp is NX and g.dtype == x.dtype and g.dtype.char in "fd" and g.shape == x.shape:
            return _kernels.fill(kernel, (g, x))
        return formula(xp, g, x)
    if saved == "a":
        def rule(xp, g, a):
            return fused(xp, g, a)
    else:
        def rule(xp, g, out):
            return fused(xp, g, out)
    return rule


def _tan_backward(d, g, out):
    np.multiply(out, out, out=d)
    d += 1
    d *= g


def _one_plus_square_backward(d, g, a):  # g / (1 + a * a)
    np.multiply(a, a, out=d)
    d += 1
    np.divide(g, d, out=d)


def _asin_backward(d, g, a):  # g / sqrt(1 - a * a)
    np.multiply(a, a, out=d)
    np.subtract(1, d, out=d)
    np.sqrt(d, out=d)
    np.divide(g, d, out=d)


def _acos_backward(d, g, a):  # -g / sqrt(1 - a * a): the negation is exact, before or after
    _asin_backward(d, g, a)
    np.negative(d, out=d)


def _asinh_backward(d, g, a):  # g / sqrt(a * a + 1)
    np.multiply(a, a, out=d)
    d += 1
    np.sqrt(d, out=d)
    np.divide(g, d, out=d)


def _erf_backward(scale):
    def kernel(d, g, a):  # g * (scale * exp(-(a * a)))
        np.multiply(a, a, out=d)
        np.negative(d, out=d)
        np.exp(d, out=d)
        d *= scale
        d *= g
    return kernel


def _times(f):
    def kernel(d, g, a):  # g * f(a)
        np.multiply(f(a), g, out=d)
    return kernel


_tan_rule = _blockwise(_tan_backward, lambda xp, g, out: g * (1 + out * out), "out")


# PERF: NumPy's loops for these are compute-bound (SIMD, or scalar libm): large arrays take two
# threads (see _kernels.in_two), 1.5-1.9x on 1e6 float32 (fwd alone).
_halves = _kernels.in_halves
EXP2 = _unary("Exp2Backward0", _halves(np.exp2), lambda g, out: g * (out * _LN2))
EXPM1 = _unary("Expm1Backward0", _EXPM1, lambda g, out: g * (out + 1))
LOG2 = _unary("Log2Backward0", _halves(np.log2), lambda g, a: g / (a * _LN2))
LOG10 = _unary("Log10Backward0", _halves(np.log10), lambda g, a: g / (a * _LN10))
LOG1P = _unary("Log1PBackward0", _LOG1P, lambda g, a: g / (a + 1))
RSQRT = _unary("RsqrtBackward0", lambda a: 1 / np.sqrt(a), lambda g, out: g * (-0.5 * out * out * out))
TAN = _unary("TanBackward0", _f32(_kernels.tan32, np.tan), _tan_rule)
ASIN = _unary("AsinBackward0", _halves(np.arcsin),
              _blockwise(_asin_backward, lambda xp, g, a: g / xp.sqrt(1 - a * a)))
ACOS = _unary("AcosBackward0", _halves(np.arccos),
              _blockwise(_acos_backward, lambda xp, g, a: -g / xp.sqrt(1 - a * a)))
ATAN = _unary("AtanBackward0", _f32(_kernels.atan32, np.arctan),
              _blockwise(_one_plus_square_backward, lambda xp, g, a: g / (1 + a * a)))
SINH = _unary("SinhBackward0", _sinh_fwd,
              _blockwise(_times(_cosh_fwd.__wrapped__), lambda xp, g, a: g * xp.cosh(a)))
COSH = _unary("CoshBackward0", _cosh_fwd, lambda xp, g, a: g * xp.sinh(a))
ASINH = _unary("AsinhBackward0", _ASINH,
               _blockwise(_asinh_backward, lambda xp, g, a: g / xp.sqrt(a * a + 1)))
ACOSH = _unary("AcoshBackward0", _halves(np.arccosh), lambda xp, g, a: g / xp.sqrt(a * a - 1))
ATANH = _unary("AtanhBackward0", _ATANH, lambda g, a: g / (1 - a * a))


def _inplace_undefined(name, fwd):
    """PyTorch records the in-place form but has no derivative for it: backward raises."""
    def rule(g):
        raise NotImplementedError(f"the derivative for 'inplace version of {name}' is not "
                                  "implemented.")
    return _unary(name.capitalize() + "Backward1", fwd, rule)


ASINH_ = _inplace_undefined("asinh", _ASINH)
ACOSH_ = _inplace_undefined("acosh", _halves(np.arccosh))
ATANH_ = _inplace_undefined("atanh", _ATANH)
ERF = _unary("ErfBackward0", _erf_fwd, _blockwise(
    _erf_backward(_TWO_OVER_SQRT_PI),
    lambda xp, g, a: g * (_TWO_OVER_SQRT_PI * xp.exp(-(a * a)))))
ERFC = _unary("ErfcBackward0", _erfc_fwd, _blockwise(
    _erf_backward(-_TWO_OVER_SQRT_PI),
    lambda xp, g, a: g * (-_TWO_OVER_SQRT_PI * xp.exp(-(a * a)))))


# PERF: float32 and float64 run block by block into the result (see _kernels.fill), the same
# passes as the whole-array formulas, bit for bit, without their 4 MB temporaries; the gradient's
# mask is rare, so it is written where it is set rather than selected. 1e6 float32, one thread
# (medians, alternating, two runs): fwd 5.5 -> 4.6 ms (np.log is most of the rest), bwd 4.2 ->
# 2.2 ms.
def _logit_into(out, a, eps):
    if eps is not None:
        np.clip(a, eps, 1 - eps, out=out)
        a = out
    d = np.subtract(1, a)
    np.divide(a, d, out=out)
    np.log(out, out=out)


def _logit_fwd(a, eps):
    if a.dtype.char in "fd":
        return _kernels.fill(_logit_into, (a,), (eps,))
    if eps is not None:
        a = np.clip(a, eps, 1 - eps)
    return np.log(a / (1 - a))


def _logit_backward_into(out, g, a, lo, hi, fill):
    d = np.subtract(1, a)
    d *= a
    np.divide(g, d, out=out)
    outside = a < lo
    outside |= a > hi
    if outside.any():
        out[outside] = fill


def _logit_rule(xp, g, a, eps):
    # PyTorch: nan outside [0, 1] without eps; zero outside [eps, 1 - eps] with it.
    lo, hi, fill = (0.0, 1.0, _NAN) if eps is None else (eps, 1.0 - eps, 0.0)
    if xp is NX and a.dtype.char in "fd" and g.dtype == a.dtype and g.shape == a.shape:
        return _kernels.fill(_logit_backward_into, (g, a), (lo, hi, fill))
    return xp.where((a < lo) | (a > hi), fill, g / (a * (1 - a)))


LOGIT = _unary("LogitBackward0", _logit_fwd, _logit_rule, attrs="eps")


def _keep_int(f):
    """A rounding function that returns integer (and bool) arrays unchanged, as PyTorch does."""
    return lambda a: a.copy() if a.dtype.kind in "iub" else f(a)


FLOOR = _unary("FloorBackward0", _keep_int(np.floor), _zero, dtype="keep")
CEIL = _unary("CeilBackward0", _keep_int(np.ceil), _zero, dtype="keep")
TRUNC = _unary("TruncBackward0", _keep_int(np.trunc), _zero, dtype="keep")
# NOTE: np.rint rounds half to even, like PyTorch's nearbyint.
ROUND = _unary("RoundBackward0", _keep_int(np.rint), _zero, dtype="keep")


def _round_decimals(a, decimals):
    ten = a.dtype.type(10.0 ** abs(decimals))
    # PyTorch scales by a power of ten in the input's dtype, dividing for negative decimals.
    return np.rint(a * ten) / ten if decimals >= 0 else np.rint(a / ten) * ten


ROUND_DECIMALS = _unary("RoundBackward1", _round_decimals, _zero, dtype="keep", attrs="decimals")
FRAC = _unary("FracBackward0", lambda a: a - np.trunc(a), lambda g: g, dtype="keep")


def _clamp_fwd(a, min, max):
    if min is not None:
        a = np.maximum(a, min)
    if max is not None:
        a = np.minimum(a, max)
    return a


def _within(a, min, max):
    """Where the input lies inside the bounds: there the clamp passes the gradient on."""
    if min is None:
        return a <= max
    if max is None:
        return a >= min
    return (a >= min) & (a <= max)


# NOTE: number bounds are inputs without a gradient (not attributes) so that they take part in
# type promotion: an integer tensor clamped to 1.5 becomes a float tensor, as in PyTorch.
CLAMP = O.show_edges(defop("ClampBackward1", "a min max", _clamp_fwd,
                           lambda xp, g, a, min, max: xp.where(_within(a, min, max), g, 0.0),
                           None, None), (0,))


def _clamp_min_rule(xp, g, a, min, max):
    below = a < min
    return xp.where(below if max is None else below & ~(max < min), g, 0.0)


def _clamp_max_rule(xp, g, a, min, max):
    above = a > max
    # NOTE: with max < min the result is max everywhere, so max takes the whole gradient.
    return xp.where(above if min is None else above | (max < min), g, 0.0)


CLAMP_TENSOR = defop("ClampBackward0", "a min max", _clamp_fwd,
                     lambda xp, g, a, min, max: xp.where(_within(a, min, max), g, 0.0),
                     _clamp_min_rule, _clamp_max_rule)
NAN_TO_NUM = defop(
    "NanToNumBackward0", "a",
    lambda a, nan, posinf, neginf: np.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf),
    lambda xp, g, a: xp.where(xp.isfinite(a), g, 0.0), attrs="nan posinf neginf", dtype="keep")

ISNAN = defop("IsnanBackward0", "a", np.isnan, dtype="bool")
ISINF = defop("IsinfBackward0", "a", np.isinf, dtype="bool")
ISFINITE = defop("IsfiniteBackward0", "a", np.isfinite, dtype="bool")


# ---------------------------------------------------------------------------------------------
# The table: binary and ternary functions
# ---------------------------------------------------------------------------------------------

def _checked(f):
    def run(a, b):
        _int_division(a, b)
        return f(a, b)
    return _quiet(run)


def _no_derivative(name):
    def rule(g):
        raise RuntimeError(f"derivative for aten::{name} is not implemented")
    return rule


def _not_implemented_op(name, fwd):
    """An op PyTorch records but cannot differentiate: its grad_fn raises when reached."""
    op = defop("NotImplemented", "a b", fwd, _no_derivative(name), _no_derivative(name))
    op.node_cls.name = lambda self: "torch::autograd::NotImplemented"
    op.no_jvp = f"aten::{name}"
    return O.show_edges(op)  # the edges of the inputs that require grad only


def _remainder(a, b):
    kind = np.result_type(a, b)
    if kind.kind != "f":
        return np.remainder(a, b)
    if kind == np.float32:  # a Python number here is a float32 too, as in PyTorch
        return _kernels.remainder32(np.asarray(a, np.float32), np.asarray(b, np.float32))
    # PyTorch's float remainder: fmod, moved into the divisor's sign (a zero keeps fmod's sign).
    r = np.fmod(a, b)
    fix = (r != 0) & ((r < 0) != (np.asarray(b) < 0))
    return np.where(fix, r + b, r)


FLOOR_DIVIDE = _not_implemented_op("floor_divide", _checked(np.floor_divide))
FLOOR_DIVIDE_ = _not_implemented_op("floor_divide_", _checked(np.floor_divide))
RREMAINDER = _not_implemented_op("remainder", _checked(_remainder))
# NOTE: the Backward0 forms take the number as a Scalar: no edge for it (see O.show_edges)
REMAINDER = O.show_edges(defop("RemainderBackward0", "a other", _checked(_remainder),
                               lambda g: g, None), (0,))
REMAINDER_TENSOR = defop("RemainderBackward1", "a b", _checked(_remainder), lambda g: g,
                         _quiet(lambda xp, g, a, b: -g * xp.floor(a / b)))
FMOD = O.show_edges(defop("FmodBackward0", "a other", _checked(_halves(np.fmod)),
                          lambda g: g, None), (0,))
FMOD_TENSOR = defop("FmodBackward1", "a b", _checked(_halves(np.fmod)), lambda g: g,
                    _quiet(lambda xp, g, a, b: -g * xp.trunc(a / b)))


def _fuses(xp, *arrays):
    """Whether a binary rule's plain backward can run block by block: NumPy arrays of one
    float32 or float64 dtype and one shape (see `_blockwise`)."""
    a = arrays[0]
    return xp is NX and a.dtype.char in "fd" and all(
        x.dtype == a.dtype and x.shape == a.shape for x in arrays[1:])


def _atan2_backward(which):
    def kernel(out, g, a, b):  # g * b / d, or g * -a / d, with d = a * a + b * b
        d = np.multiply(a, a)
        t = np.multiply(b, b)
        d += t
        zero = d == 0
        if zero.any():
            d[zero] = math.inf
        np.multiply(g, b if which == 0 else a, out=out)
        if which == 1:
            np.negative(out, out=out)  # NOTE: g * -a is -(g * a), zeros included
        out /= d
    return kernel


def _atan2_rule(which):
    kernel = _atan2_backward(which)

    def rule(xp, g, a, b):
        if _fuses(xp, g, a, b):  # PERF: see the PERF note of LOGADDEXP
            return _kernels.fill(kernel, (g, a, b))
        d = a * a + b * b
        num = b if which == 0 else -a
        # NOTE: PyTorch gives 0, not nan, where d is 0 (at the origin, or where it underflows):
        # there num is 0 or tiny, and num / inf is 0. One pass fewer than a second where.
        return g * num / xp.where(d == 0, math.inf, d)
    return _quiet(rule)


ATAN2 = defop("Atan2Backward0", "a b", _quiet(_f32(_kernels.atan2_32, np.arctan2)),
              _atan2_rule(0), _atan2_rule(1), dtype="float")
# NOTE: at ties maximum and minimum split the gradient evenly; fmax and fmin give it to input.
MAXIMUM = defop("MaximumBackward0", "a b", np.maximum,
                lambda xp, g, a, b: xp.where(a < b, 0.0, xp.where(a == b, g / 2, g)),
                lambda xp, g, a, b: xp.where(a > b, 0.0, xp.where(a == b, g / 2, g)))
MINIMUM = defop("MinimumBackward0", "a b", np.minimum,
                lambda xp, g, a, b: xp.where(a > b, 0.0, xp.where(a == b, g / 2, g)),
                lambda xp, g, a, b: xp.where(a < b, 0.0, xp.where(a == b, g / 2, g)))
FMAX = defop("FmaxBackward0", "a b", np.fmax,
             lambda xp, g, a, b: xp.where((a >= b) | xp.isnan(b), g, 0.0),
             lambda xp, g, a, b: xp.where((a >= b) | xp.isnan(b), 0.0, g))
FMIN = defop("FminBackward0", "a b", np.fmin,
             lambda xp, g, a, b: xp.where((a <= b) | xp.isnan(b), g, 0.0),
             lambda xp, g, a, b: xp.where((a <= b) | xp.isnan(b), 0.0, g))
HYPOT = defop("HypotBackward0", "a b", _quiet(_f32(_kernels.hypot32, np.hypot)),
              _quiet(lambda g, a, out: g * a / out), _quiet(lambda g, b, out: g * b / out))
def _logaddexp_backward(out, g, a, b):  # g * sigmoid(a - b) = g / (1 + exp(b - a))
    np.subtract(b, a, out=out)  # NOTE: -(a - b), but +0.0 for -0.0: exp gives 1 for both
    np.exp(out, out=out)
    out += 1
    np.reciprocal(out, out=out)
    out *= g


def _logaddexp_rule(xp, g, a, b):
    if _fuses(xp, g, a, b):
        return _kernels.fill(_logaddexp_backward, (g, a, b))
    return g * xp.sigmoid(a - b)


# NOTE: np.logaddexp is stable (finite for +/-1000); sigmoid(a - b) is its stable derivative.
# PERF: the gradients of logaddexp and atan2 run block by block into the result where their
# arrays allow (`_fuses`), the passes of their formulas in the same order, without 4 MB
# temporaries: the same results bit for bit. Each rule alone, 1e6 float32, one thread (CPU
# time, medians, alternating, two runs): logaddexp 4.3-5.2 -> 4.0-4.6 ms (np.exp is most of
# it), atan2 4.6-5.3 -> 2.7-2.8 ms.
LOGADDEXP = defop("LogaddexpBackward0", "a b",
                  _quiet(_f32(_kernels.logaddexp32, np.logaddexp)),
                  _quiet(_logaddexp_rule),
                  _quiet(lambda xp, g, a, b: _logaddexp_rule(xp, g, b, a)))


def _lerp_fwd(a, end, weight):
    # PyTorch's two-sided formula: exact at both ends, weight 0 gives input and 1 gives end.
    if a.dtype == end.dtype == weight.dtype == np.float32:
        return _kernels.lerp32(a, end, weight)
    d = end - a
    return np.where(np.abs(weight) < 0.5, a + weight * d, end - d * (1 - weight))


def _lerp_scalar_fwd(a, end, weight):
    d = end - a
    return a + weight * d if abs(weight) < 0.5 else end - d * (1 - weight)


LERP = defop("LerpBackward0", "a end", _quiet(_lerp_scalar_fwd),
             lambda g, weight: g * (1 - weight), lambda g, weight: g * weight, attrs="weight")
LERP_TENSOR = defop("LerpBackward1", "a end weight", _quiet(_lerp_fwd),
                    lambda g, weight: g * (1 - weight), lambda g, weight: g * weight,
                    lambda g, a, end: g * (end - a))
ADDCMUL = defop("AddcmulBackward0", "a t1 t2",
                lambda a, t1, t2, value: a + value * (t1 * t2),
                lambda g: g, lambda g, t2, value: g * (t2 * value),
                lambda g, t1, value: g * (t1 * value), attrs="value")
ADDCDIV = defop("AddcdivBackward0", "a t1 t2",
                _quiet(lambda a, t1, t2, value: a + value * (t1 / t2)),
                lambda g: g, _quiet(lambda g, t2, value: g * (value / t2)),
                _quiet(lambda g, t1, t2, value: -g * (value * t1 / (t2 * t2))), attrs="value")

ISCLOSE = defop("IscloseBackward0", "a b",
                lambda a, b, rtol, atol, equal_nan: np.isclose(a, b, rtol, atol, equal_nan),
                attrs="rtol atol equal_nan", dtype="bool")
LOGICAL_AND = defop("LogicalAndBackward0", "a b", np.logical_and, dtype="bool")
LOGICAL_OR = defop("LogicalOrBackward0", "a b", np.logical_or, dtype="bool")
LOGICAL_XOR = defop("LogicalXorBackward0", "a b", np.logical_xor, dtype="bool")
LOGICAL_NOT = defop("LogicalNotBackward0", "a", np.logical_not, dtype="bool")
# NOTE: NumPy's shifts already follow PyTorch past the width: 0 to the left, the sign to the right.
LSHIFT = defop("LshiftBackward0", "a b", np.left_shift)  # no rules: not differentiable
RSHIFT = defop("RshiftBackward0", "a b", np.right_shift)  # no rules: not differentiable

# -- what the rules above need from both namespaces -----------------------------------------
NX.cosh, NX.sinh = _quiet(_cosh_fwd), _quiet(_sinh_fwd)
NX.floor, NX.trunc = np.floor, np.trunc
NX.isnan, NX.isfinite, NX.sigmoid = np.isnan, np.isfinite, O._sigmoid
TX.cosh = lambda a: apply(COSH, a)
TX.sinh = lambda a: apply(SINH, a)
TX.floor = lambda a: apply(FLOOR, a)
TX.trunc = lambda a: apply(TRUNC, a)
TX.isnan = lambda a: apply(ISNAN, a)
TX.isfinite = lambda a: apply(ISFINITE, a)
TX.sigmoid = lambda a: apply(O.SIGMOID, a)


# ---------------------------------------------------------------------------------------------
# Public functions. Each op with arguments has a parser `_x_call` returning (op, args, attrs),
# shared by the function (`apply`) and its in-place Tensor method (`inplace`).
# ---------------------------------------------------------------------------------------------

def _run(call):
    """The public function made from a parser: parse the arguments, then apply the op."""
    @functools.wraps(call)
    def fn(*args, **kwargs):
        op, targs, attrs = call(*args, **kwargs)
        return apply(op, *targs, attrs=attrs)
    return fn


def _run_inplace(call):
    """The in-place Tensor method made from a parser: the result is written into ``self``."""
    def method(self, *args, **kwargs):
        op, targs, attrs = call(self, *args, **kwargs)
        return inplace(op, targs[0], *targs[1:], attrs=attrs)
    return method


def exp2(input: Tensor) -> Tensor:
    """2 to the power ``input``.

    >>> import ndgrad
    >>> ndgrad.exp2(ndgrad.tensor([3.]))
    tensor([8.])
    """
    return apply(EXP2, input)


def expm1(input: Tensor) -> Tensor:
    """``exp(input) - 1``, accurate near 0."""
    return apply(EXPM1, input)


def log2(input: Tensor) -> Tensor:
    """Base-2 logarithm."""
    return apply(LOG2, input)


def log10(input: Tensor) -> Tensor:
    """Base-10 logarithm."""
    return apply(LOG10, input)


def log1p(input: Tensor) -> Tensor:
    """``log(1 + input)``, accurate near 0."""
    return apply(LOG1P, input)


def rsqrt(input: Tensor) -> Tensor:
    """``1 / sqrt(input)``."""
    return apply(RSQRT, input)


def square(input: Tensor) -> Tensor:
    """``input ** 2`` (PyTorch records it as a power).

    >>> import ndgrad
    >>> ndgrad.square(ndgrad.tensor([3]))
    tensor([9])
    """
    if input.dtype is _api._dtypes.bool_:
        input = input.long()
    return _api.pow(input, 2)


def tan(input: Tensor) -> Tensor:
    """Tangent."""
    return apply(TAN, input)


def asin(input: Tensor) -> Tensor:
    """Inverse sine."""
    return apply(ASIN, input)


def acos(input: Tensor) -> Tensor:
    """Inverse cosine."""
    return apply(ACOS, input)


def atan(input: Tensor) -> Tensor:
    """Inverse tangent."""
    return apply(ATAN, input)


def sinh(input: Tensor) -> Tensor:
    """Hyperbolic sine."""
    return apply(SINH, input)


def cosh(input: Tensor) -> Tensor:
    """Hyperbolic cosine."""
    return apply(COSH, input)


def asinh(input: Tensor) -> Tensor:
    """Inverse hyperbolic sine."""
    return apply(ASINH, input)


def acosh(input: Tensor) -> Tensor:
    """Inverse hyperbolic cosine."""
    return apply(ACOSH, input)


def atanh(input: Tensor) -> Tensor:
    """Inverse hyperbolic tangent."""
    return apply(ATANH, input)


def _logit_call(input, eps=None):
    return LOGIT, (input,), (eps,)


@_run
def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """``log(p / (1 - p))``, with ``p`` clamped to ``[eps, 1 - eps]`` when ``eps`` is given."""
    return _logit_call(input, eps)


def erf(input: Tensor) -> Tensor:
    """The error function.

    >>> import ndgrad
    >>> ndgrad.erf(ndgrad.tensor([0., 1.]))
    tensor([0.0000, 0.8427])
    """
    return apply(ERF, input)


def erfc(input: Tensor) -> Tensor:
    """The complementary error function ``1 - erf(input)``, accurate in the tail."""
    return apply(ERFC, input)


def _rounding(input, op):
    if input.dtype is _api._dtypes.bool_:
        raise NotImplementedError(f'"{op.name[:-9].lower()}_vml_cpu" not implemented for \'Bool\'')
    return apply(op, input)


def floor(input: Tensor) -> Tensor:
    """The largest integer not above each element (integer tensors are returned as they are)."""
    return _rounding(input, FLOOR)


def ceil(input: Tensor) -> Tensor:
    """The smallest integer not below each element."""
    return _rounding(input, CEIL)


def trunc(input: Tensor) -> Tensor:
    """Round toward zero."""
    return _rounding(input, TRUNC)


def _not_for_integers(input, kernel):
    if input._data.dtype.kind in "iub":
        raise NotImplementedError(f'"{kernel}" not implemented for \'{input.dtype._legacy}\'')


def _round_call(input, *, decimals=None):
    # NOTE: decimals=None is PyTorch's default 0; an explicit decimals (even 0) gives
    # RoundBackward1, as in PyTorch.
    if decimals is None:
        return ROUND, (input,), ()
    _not_for_integers(input, "round_cpu")
    return ROUND_DECIMALS, (input,), (int(decimals),)


@_run
def round(input: Tensor, *, decimals: int | None = None) -> Tensor:
    """Round half to even, to ``decimals`` decimal places.

    >>> import ndgrad
    >>> ndgrad.round(ndgrad.tensor([0.5, 1.5, 2.675]))
    tensor([0., 2., 3.])
    """
    return _round_call(input, decimals=decimals)


def _frac_call(input):
    _not_for_integers(input, "frac_cpu")
    return FRAC, (input,), ()


@_run
def frac(input: Tensor) -> Tensor:
    """The fractional part, ``input - trunc(input)``, with the sign of ``input``."""
    return _frac_call(input)


def _bound(v):
    return v.item() if isinstance(v, np.generic) else v


def _clamp_call(input, min=None, max=None):
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        lo = min if min is None or isinstance(min, Tensor) else _api.ndgrad_tensor(min)
        hi = max if max is None or isinstance(max, Tensor) else _api.ndgrad_tensor(max)
        return CLAMP_TENSOR, (input, lo, hi), ()
    return CLAMP, (input, _bound(min), _bound(max)), ()


@_run
def clamp(input: Tensor, min=None, max=None) -> Tensor:
    """Limit each element to ``[min, max]``; the bounds are numbers or tensors, one may be None.

    >>> import ndgrad
    >>> ndgrad.clamp(ndgrad.tensor([-2., 0.5, 3.]), -1, 1)
    tensor([-1.0000,  0.5000,  1.0000])
    """
    return _clamp_call(input, min, max)


clip = clamp


def _nan_to_num_call(input, nan=0.0, posinf=None, neginf=None):
    return NAN_TO_NUM, (input,), (nan, posinf, neginf)


@_run
def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """Replace nan, +inf and -inf (by default with 0 and the dtype's largest finite values)."""
    return _nan_to_num_call(input, nan, posinf, neginf)


def _floor_divide_call(input, other):
    return FLOOR_DIVIDE, (input, other), ()


@_run
def floor_divide(input, other) -> Tensor:
    """``input // other``, rounding toward minus infinity (not differentiable, as in PyTorch)."""
    return _floor_divide_call(input, other)


def _remainder_call(input, other):
    if not isinstance(input, Tensor):
        return RREMAINDER, (input, other), ()
    return (REMAINDER_TENSOR if isinstance(other, Tensor) else REMAINDER), (input, other), ()


@_run
def remainder(input, other) -> Tensor:
    """Python's ``%``: the remainder has the sign of ``other``.

    >>> import ndgrad
    >>> ndgrad.remainder(ndgrad.tensor([-3, 3]), 2)
    tensor([1, 1])
    """
    return _remainder_call(input, other)


def _fmod_call(input, other):
    return (FMOD_TENSOR if isinstance(other, Tensor) else FMOD), (input, other), ()


@_run
def fmod(input: Tensor, other) -> Tensor:
    """C's ``fmod``: the remainder has the sign of ``input``."""
    return _fmod_call(input, other)


def _atan2_call(input, other):
    return ATAN2, (input, other), ()


@_run
def atan2(input: Tensor, other: Tensor) -> Tensor:
    """The angle of the point ``(other, input)``, in ``(-pi, pi]``."""
    return _atan2_call(input, other)


def _tensor_other(name, other):
    if not isinstance(other, Tensor):
        raise TypeError(f"{name}(): argument 'other' (position 2) must be Tensor, not "
                        f"{type(other).__name__}")


def maximum(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The elementwise maximum (nan wins)."""
    _tensor_other("maximum", other)
    if out is not None:
        return _out.into("maximum", out, (input, other), lambda: apply(MAXIMUM, input, other))
    return apply(MAXIMUM, input, other)


def minimum(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The elementwise minimum (nan wins)."""
    _tensor_other("minimum", other)
    if out is not None:
        return _out.into("minimum", out, (input, other), lambda: apply(MINIMUM, input, other))
    return apply(MINIMUM, input, other)


def _maximum_method(self, other):  # NOTE: the methods take no out= (as in PyTorch)
    return maximum(self, other)


def _minimum_method(self, other):
    return minimum(self, other)


def fmax(input: Tensor, other: Tensor) -> Tensor:
    """The elementwise maximum, ignoring a nan on one side."""
    _tensor_other("fmax", other)
    return apply(FMAX, input, other)


def fmin(input: Tensor, other: Tensor) -> Tensor:
    """The elementwise minimum, ignoring a nan on one side."""
    _tensor_other("fmin", other)
    return apply(FMIN, input, other)


def _float_only(kernel, *tensors):
    for t in tensors:
        if isinstance(t, Tensor) and t._data.dtype.kind in "iub":
            raise NotImplementedError(f'"{kernel}" not implemented for \'{t.dtype._legacy}\'')


def _hypot_call(input, other):
    _float_only("hypot_cpu", input, other)
    return HYPOT, (input, other), ()


@_run
def hypot(input: Tensor, other: Tensor) -> Tensor:
    """``sqrt(input**2 + other**2)`` without overflow."""
    return _hypot_call(input, other)


def logaddexp(input: Tensor, other: Tensor) -> Tensor:
    """``log(exp(input) + exp(other))``, finite for large inputs.

    >>> import ndgrad
    >>> ndgrad.logaddexp(ndgrad.tensor([1000.]), ndgrad.tensor([1000.]))
    tensor([1000.6932])
    """
    _float_only("logaddexp_cpu", input, other)
    return apply(LOGADDEXP, input, other)


def _same_dtype(input, other, name):
    if isinstance(other, Tensor) and other.dtype is not input.dtype:
        raise RuntimeError(f"expected dtype {_c10_name(input.dtype)} for `{name}` but got dtype "
                           f"{_c10_name(other.dtype)}")


def _lerp_call(input, end, weight):
    _same_dtype(input, end, "end")
    if isinstance(weight, Tensor):
        _same_dtype(input, weight, "weight")
        _float_only("lerp_kernel_tensor", input)
        return LERP_TENSOR, (input, end, weight), ()
    _float_only("lerp_kernel_scalar", input)
    return LERP, (input, end), (_bound(weight),)


@_run
def lerp(input: Tensor, end: Tensor, weight) -> Tensor:
    """``input + weight * (end - input)``; ``weight`` is a number or a tensor."""
    return _lerp_call(input, end, weight)


def _addc_value(tensors, value):
    if all(t._data.dtype.kind in "iub" for t in tensors if isinstance(t, Tensor)):
        return int(value)  # NOTE: an integer result takes value as an integer, as PyTorch does
    return value


def _addcmul_call(input, tensor1, tensor2, *, value=1):
    return ADDCMUL, (input, tensor1, tensor2), (_addc_value((input, tensor1, tensor2), value),)


@_run
def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """``input + value * tensor1 * tensor2``."""
    return _addcmul_call(input, tensor1, tensor2, value=value)


ERR_ADDCDIV_INT = (
    "Integer division with addcdiv is no longer supported, and in a future  release addcdiv will "
    "perform a true division of tensor1 and tensor2. The historic addcdiv behavior can be "
    "implemented as (input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for integer "
    "inputs and as (input + value * tensor1 / tensor2) for float inputs. The future addcdiv "
    "behavior is just the latter implementation: (input + value * tensor1 / tensor2), for all "
    "dtypes.")


def _addcdiv_call(input, tensor1, tensor2, *, value=1):
    if tensor1._data.dtype.kind in "iub" and tensor2._data.dtype.kind in "iub":
        raise RuntimeError(ERR_ADDCDIV_INT)
    return ADDCDIV, (input, tensor1, tensor2), (value,)


@_run
def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """``input + value * tensor1 / tensor2``."""
    return _addcdiv_call(input, tensor1, tensor2, value=value)


# -- comparisons -----------------------------------------------------------------------------
def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """``|input - other| <= atol + rtol * |other|``, elementwise (equal infinities are close).

    >>> import ndgrad
    >>> ndgrad.isclose(ndgrad.tensor([1., 2.]), ndgrad.tensor([1., 2.1]))
    tensor([ True, False])
    """
    _tensor_other("isclose", other)
    if input.dtype is not other.dtype:
        raise RuntimeError(f"{input.dtype._legacy} did not match {other.dtype._legacy}")
    return apply(ISCLOSE, input, other, attrs=(rtol, atol, equal_nan))


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """Whether every element of ``input`` is close to ``other`` (see ``isclose``)."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def equal(input: Tensor, other: Tensor) -> bool:
    """Whether both tensors have the same shape and the same values."""
    return input._data.shape == other._data.shape and bool(np.array_equal(input._data, other._data))


greater, less, greater_equal, less_equal, not_equal = _api.gt, _api.lt, _api.ge, _api.le, _api.ne


# -- logical and bitwise ---------------------------------------------------------------------
def logical_and(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise ``input and other`` on truth values (nonzero is true)."""
    _tensor_other("logical_and", other)
    return apply(LOGICAL_AND, input, other)


def logical_or(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise ``input or other`` on truth values."""
    _tensor_other("logical_or", other)
    return apply(LOGICAL_OR, input, other)


def logical_xor(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise exclusive or on truth values."""
    _tensor_other("logical_xor", other)
    return apply(LOGICAL_XOR, input, other)


def logical_not(input: Tensor) -> Tensor:
    """Elementwise ``not input`` (nonzero is true).

    >>> import ndgrad
    >>> ndgrad.logical_not(ndgrad.tensor([0., 2.]))
    tensor([ True, False])
    """
    return apply(LOGICAL_NOT, input)


def _integral(kernel, op, args):
    """Run a bitwise op after checking that the promoted dtype is an integer or bool."""
    _, target = O._arrays(op, args)
    if target.kind not in "iub":
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{O.FROM_NUMPY[target]._legacy}'")
    return op, args, ()


def _bitwise(kernel, op):
    def call(input, other):
        return _integral(kernel, op, (input, other))
    return call


_bitwise_and_call = _bitwise("bitwise_and_cpu", O.BITWISE_AND)
_bitwise_or_call = _bitwise("bitwise_or_cpu", O.BITWISE_OR)
_bitwise_xor_call = _bitwise("bitwise_xor_cpu", O.BITWISE_XOR)
_lshift_call = _bitwise("lshift_cpu", LSHIFT)
_rshift_call = _bitwise("rshift_cpu", RSHIFT)


@_run
def bitwise_and(input, other) -> Tensor:
    """Elementwise ``input & other`` on integer or bool tensors."""
    return _bitwise_and_call(input, other)


@_run
def bitwise_or(input, other) -> Tensor:
    """Elementwise ``input | other`` on integer or bool tensors."""
    return _bitwise_or_call(input, other)


@_run
def bitwise_xor(input, other) -> Tensor:
    """Elementwise ``input ^ other`` on integer or bool tensors."""
    return _bitwise_xor_call(input, other)


def _bitwise_not_call(input):
    return _integral("bitwise_not_cpu", O.BITWISE_NOT, (input,))


@_run
def bitwise_not(input: Tensor) -> Tensor:
    """Elementwise ``~input`` on integer or bool tensors."""
    return _bitwise_not_call(input)


@_run
def bitwise_left_shift(input, other) -> Tensor:
    """``input << other``; shifting by the width or more (or a negative count) gives 0.

    >>> import ndgrad
    >>> ndgrad.bitwise_left_shift(ndgrad.tensor([1, 3]), 2)
    tensor([ 4, 12])
    """
    return _lshift_call(input, other)


@_run
def bitwise_right_shift(input, other) -> Tensor:
    """``input >> other``, arithmetic: the sign fills in from the left."""
    return _rshift_call(input, other)


def isnan(input: Tensor) -> Tensor:
    """Where ``input`` is nan."""
    return apply(ISNAN, input)


def isinf(input: Tensor) -> Tensor:
    """Where ``input`` is +inf or -inf."""
    return apply(ISINF, input)


def isfinite(input: Tensor) -> Tensor:
    """Where ``input`` is neither nan nor infinite."""
    return apply(ISFINITE, input)


arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh
arctan2, fix = atan2, trunc


# ---------------------------------------------------------------------------------------------
# Tensor methods, operators and in-place forms
# ---------------------------------------------------------------------------------------------

def _invert(self):
    if self._data.dtype.kind not in "iub":
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type tensors")
    return apply(O.BITWISE_NOT, self)


def _operand(f):
    """A binary operator that leaves operands it does not know to the other side."""
    return lambda self, other: f(self, other) if _api._scalar_or_tensor(other) else NotImplemented


def _reflected(f):
    return lambda self, other: f(other, self) if _api._scalar_or_tensor(other) else NotImplemented


def _pow_call(self, exponent):
    if isinstance(exponent, Tensor):
        return O.POW_TENSOR, (self, exponent), ()
    return O.POW, (self, exponent), ()


def _neg_call(self):
    if self.dtype is _api._dtypes.bool_:
        _api.neg(self)  # raises PyTorch's error
    return O.NEG, (self,), ()


def _unary_call(op):
    return lambda self: (op, (self,), ())


def _rounding_call(op):
    def call(self):
        if self.dtype is _api._dtypes.bool_:
            _rounding(self, op)  # raises PyTorch's error
        return op, (self,), ()
    return call


T = Tensor
for _name, _fn in {
        "exp2": exp2, "expm1": expm1, "log2": log2, "log10": log10, "log1p": log1p,
        "rsqrt": rsqrt, "square": square, "tan": tan, "asin": asin, "acos": acos, "atan": atan,
        "sinh": sinh, "cosh": cosh, "asinh": asinh, "acosh": acosh, "atanh": atanh,
        "arcsin": asin, "arccos": acos, "arctan": atan, "arcsinh": asinh, "arccosh": acosh,
        "arctanh": atanh, "logit": logit, "erf": erf, "erfc": erfc, "floor": floor, "ceil": ceil,
        "round": round, "trunc": trunc, "fix": trunc, "frac": frac, "clamp": clamp, "clip": clamp,
        "nan_to_num": nan_to_num, "floor_divide": floor_divide, "remainder": remainder,
        "fmod": fmod, "atan2": atan2, "arctan2": atan2, "maximum": _api._named(_maximum_method, "maximum"),
        "minimum": _api._named(_minimum_method, "minimum"), "fmax": fmax, "fmin": fmin, "hypot": hypot, "logaddexp": logaddexp, "lerp": lerp,
        "addcmul": addcmul, "addcdiv": addcdiv, "isclose": isclose, "allclose": allclose,
        "equal": equal, "greater": _api.gt, "less": _api.lt, "greater_equal": _api.ge,
        "less_equal": _api.le, "not_equal": _api.ne, "logical_and": logical_and,
        "logical_or": logical_or, "logical_xor": logical_xor, "logical_not": logical_not,
        "bitwise_and": bitwise_and, "bitwise_or": bitwise_or, "bitwise_xor": bitwise_xor,
        "bitwise_not": bitwise_not, "bitwise_left_shift": bitwise_left_shift,
        "bitwise_right_shift": bitwise_right_shift, "isnan": isnan, "isinf": isinf,
        "isfinite": isfinite}.items():
    setattr(T, _name, _fn)

_INPLACE = {
    "exp2_": _unary_call(EXP2), "expm1_": _unary_call(EXPM1), "log2_": _unary_call(LOG2),
    "log10_": _unary_call(LOG10), "log1p_": _unary_call(LOG1P), "rsqrt_": _unary_call(RSQRT),
    "square_": lambda self: _pow_call(self, 2), "tan_": _unary_call(TAN),
    "asin_": _unary_call(ASIN), "acos_": _unary_call(ACOS), "atan_": _unary_call(ATAN),
    "sinh_": _unary_call(SINH), "cosh_": _unary_call(COSH), "asinh_": _unary_call(ASINH_),
    "acosh_": _unary_call(ACOSH_), "atanh_": _unary_call(ATANH_), "logit_": _logit_call,
    "erf_": _unary_call(ERF), "erfc_": _unary_call(ERFC), "floor_": _rounding_call(FLOOR),
    "ceil_": _rounding_call(CEIL), "trunc_": _rounding_call(TRUNC), "round_": _round_call,
    "frac_": _frac_call, "clamp_": _clamp_call, "nan_to_num_": _nan_to_num_call,
    "abs_": _unary_call(O.ABS), "neg_": _neg_call, "exp_": _unary_call(O.EXP),
    "log_": _unary_call(O.LOG), "sqrt_": _unary_call(O.SQRT), "sin_": _unary_call(O.SIN),
    "cos_": _unary_call(O.COS), "tanh_": _unary_call(O.TANH), "sigmoid_": _unary_call(O.SIGMOID),
    "relu_": _unary_call(O.RELU), "sign_": _unary_call(O.SIGN),
    "reciprocal_": _unary_call(O.RECIPROCAL), "pow_": _pow_call,
    "floor_divide_": lambda self, other: (FLOOR_DIVIDE_, (self, other), ()), "remainder_": _remainder_call, "fmod_": _fmod_call,
    "atan2_": _atan2_call, "hypot_": _hypot_call, "lerp_": _lerp_call,
    "addcmul_": _addcmul_call, "addcdiv_": _addcdiv_call,
    "logical_and_": lambda self, other: (LOGICAL_AND, (self, other), ()),
    "logical_or_": lambda self, other: (LOGICAL_OR, (self, other), ()),
    "logical_xor_": lambda self, other: (LOGICAL_XOR, (self, other), ()),
    "logical_not_": _unary_call(LOGICAL_NOT),
    "bitwise_and_": _bitwise_and_call, "bitwise_or_": _bitwise_or_call,
    "bitwise_xor_": _bitwise_xor_call, "bitwise_not_": _bitwise_not_call,
    "bitwise_left_shift_": _lshift_call, "bitwise_right_shift_": _rshift_call,
}
_INPLACE.update({"clip_": _clamp_call, "fix_": _INPLACE["trunc_"], "arcsin_": _INPLACE["asin_"],
                 "arccos_": _INPLACE["acos_"], "arctan_": _INPLACE["atan_"],
                 "arcsinh_": _INPLACE["asinh_"], "arccosh_": _INPLACE["acosh_"],
                 "arctanh_": _INPLACE["atanh_"], "arctan2_": _atan2_call,
                 "negative_": _neg_call, "absolute_": _INPLACE["abs_"]})
for _name, _call in _INPLACE.items():
    setattr(T, _name, _run_inplace(_call))

# NOTE: these replace the core's bitwise operators to add PyTorch's dtype errors.
T.__and__, T.__or__, T.__xor__ = _operand(bitwise_and), _operand(bitwise_or), _operand(bitwise_xor)
T.__rand__, T.__ror__, T.__rxor__ = T.__and__, T.__or__, T.__xor__
T.__invert__ = _invert
T.__lshift__, T.__rshift__ = _operand(bitwise_left_shift), _operand(bitwise_right_shift)
T.__rlshift__ = _reflected(bitwise_left_shift)
T.__rrshift__ = _reflected(bitwise_right_shift)
T.__mod__, T.__rmod__ = _operand(remainder), _reflected(remainder)
T.__floordiv__, T.__rfloordiv__ = _operand(floor_divide), _reflected(floor_divide)
T.__iand__, T.__ior__, T.__ixor__ = T.bitwise_and_, T.bitwise_or_, T.bitwise_xor_
T.__ilshift__, T.__irshift__ = T.bitwise_left_shift_, T.bitwise_right_shift_
T.__imod__, T.__ifloordiv__, T.__ipow__ = T.remainder_, T.floor_divide_, T.pow_
del _name, _fn, _call
