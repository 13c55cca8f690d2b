"""Rows for the elementwise math beyond the core: unary functions, rounding, clamping, binary and
ternary arithmetic, closeness tests, logical and bitwise ops."""
import numpy as np

from optable import Row, Sample, alias, arr, binary, pos, rows, unary


def _in(low, high):
    """A domain: uniform values in (low, high)."""
    return lambda rng, *shape, dtype=np.float64: arr(rng, *shape, low=low, high=high, dtype=dtype)


def _away_from_zero(rng, *shape, dtype=np.float64):
    x = rng.uniform(0.3, 2.0, size=shape) * rng.choice([-1, 1], size=shape)
    return np.asarray(x).astype(dtype)


def _off_grid(step):
    """Values at least a fifth of ``step`` away from every multiple of ``step / 2``, so that no
    rounding function is at a jump."""
    def domain(rng, *shape, dtype=np.float64):
        k = rng.integers(-6, 6, size=shape)
        frac = rng.uniform(0.1, 0.4, size=shape)
        return np.asarray((k + frac) * (step / 2)).astype(dtype)
    return domain


def _rounding(rng):
    d = _off_grid(1.0)
    return [Sample((d(rng, 3, 4),)), Sample((d(rng),)), Sample((d(rng, 2, 3, dtype=np.float32),)),
            Sample((np.arange(-3, 4),))]


def _round(rng):
    return _rounding(rng) + [Sample((_off_grid(0.1)(rng, 3, 4),), {"decimals": 1}),
                             Sample((_off_grid(100.0)(rng, 5),), {"decimals": -2}),
                             Sample((_off_grid(0.01)(rng),), {"decimals": 2})]


def _logit(rng):
    # with eps: values inside [eps, 1 - eps] and values clamped, none near the bounds
    x = np.concatenate([rng.uniform(0.01, 0.03, 3), rng.uniform(0.2, 0.8, 6),
                        rng.uniform(0.97, 0.99, 3)]).reshape(3, 4)
    return unary(_in(0.1, 0.9))(rng) + [Sample((x, 0.05)), Sample((x,), {"eps": 0.05})]


def _clamp(rng):
    lo = arr(rng, 3, 4, low=-1.5, high=-0.5)
    return [Sample((arr(rng, 3, 4), -0.5, 0.5)), Sample((arr(rng, 3, 4),), {"min": 0.2}),
            Sample((arr(rng, 3, 4),), {"max": -0.1}), Sample((arr(rng), -1.0, 1.0)),
            Sample((arr(rng, 2, 3, dtype=np.float32), -0.5, 0.5)),
            Sample((np.arange(-3, 4), -1, 2)), Sample((np.arange(-3, 4), 1.5)),
            Sample((arr(rng, 3, 4), lo, lo + 2.0)),
            Sample((arr(rng, 3, 4), arr(rng, 1, 4), arr(rng, 3, 1) + 2.5)),
            Sample((arr(rng, 2, 3), arr(rng, 3))), Sample((arr(rng, 2, 3), None, arr(rng))),
            Sample((arr(rng, 3, 4), arr(rng, 3, 4) + 1, arr(rng, 3, 4) - 1))]  # max < min


def _nan_to_num(rng):
    x = arr(rng, 3, 4)
    x[0, 0], x[1, 2], x[2, 3] = np.nan, np.inf, -np.inf
    # NOTE: the default replacements (the dtype's extremes) would swamp finite differences, so
    # those samples check values and dtypes only.
    return [Sample((x, 1.0, 2.0, -3.0)), Sample((x,), {"posinf": 9.0, "neginf": -9.0}),
            Sample((arr(rng), 0.0, 1.0, -1.0)), Sample((x,), grad_args=()),
            Sample((x.astype(np.float32),), grad_args=()), Sample((np.arange(4),))]


def _int_pairs(rng):
    a = rng.integers(-20, 20, size=(3, 4))
    b = rng.integers(1, 6, size=(3, 4)) * rng.choice([-1, 1], size=(3, 4))
    return [Sample((a, b)), Sample((a, 3)), Sample((a, -4))]


def _division(rng):
    return binary(arr, _away_from_zero)(rng) + _int_pairs(rng) + \
        [Sample((arr(rng, 3, 4), -0.75)), Sample((arr(rng, 2, 3), np.array(0.7)))]


def _minmax(rng):
    return binary(scalar=False)(rng) + [Sample((np.arange(6).reshape(2, 3), np.array([2, 5, 0])))]


def _lerp(rng):
    return [Sample((arr(rng, 3, 4), arr(rng, 3, 4), 0.3)), Sample((arr(rng, 3, 4), arr(rng, 3, 4), 0.8)),
            Sample((arr(rng, 3, 1), arr(rng, 4), -0.2)), Sample((arr(rng), arr(rng, 2, 3), 1.3)),
            Sample((arr(rng, 3, 4), arr(rng, 3, 4), arr(rng, 3, 4, low=0, high=1))),
            Sample((arr(rng, 3, 1), arr(rng, 1, 4), arr(rng, 4, low=0, high=1))),
            Sample((arr(rng, 2, 3), arr(rng, 2, 3), arr(rng, low=0.6, high=1))),
            Sample((arr(rng, 2, 3, dtype=np.float32), arr(rng, 2, 3, dtype=np.float32), 0.25))]


def _addc(den):
    def make(rng):
        return [Sample((arr(rng, 3, 4), arr(rng, 3, 4), den(rng, 3, 4))),
                Sample((arr(rng, 3, 4), arr(rng, 3, 1), den(rng, 1, 4)), {"value": 0.5}),
                Sample((arr(rng), arr(rng, 2, 3), den(rng, 3)), {"value": -2}),
                Sample((arr(rng, 2, 3), arr(rng, 2, 3), den(rng)), {"value": 3.0}),
                Sample((arr(rng, 2, 3, dtype=np.float32), arr(rng, 2, 3, dtype=np.float32),
                        den(rng, 2, 3, dtype=np.float32)))]
    return make


def _isclose(rng):
    a = arr(rng, 3, 4)
    b = a + rng.choice([0.0, 1e-9, 1e-3, 1e-6], size=(3, 4))
    b[0, 0], a[1, 1], b[1, 1] = np.nan, np.nan, np.nan
    return [Sample((a, b)), Sample((a, b), {"equal_nan": True}), Sample((a, b, 1e-3)),
            Sample((a, b), {"atol": 1e-5, "rtol": 0.0}), Sample((a[:1], b)),
            Sample((np.arange(4), np.array([0, 1, 3, 3])))]


def _equal(rng):
    a = arr(rng, 3, 4)
    return [Sample((a, a.copy())), Sample((a, a + 1)), Sample((a, a[:2])),
            Sample((np.arange(4), np.arange(4.0))), Sample((np.array(np.nan), np.array(np.nan)))]


def _cmp(rng):
    a = arr(rng, 3, 4)
    return [Sample((a, a.copy())), Sample((arr(rng, 3, 1), arr(rng, 4))), Sample((arr(rng), 0.5)),
            Sample((np.arange(4), 2))]


def _logical(rng):
    a = rng.integers(-1, 2, size=(3, 4))
    return [Sample((a.astype(np.float64), rng.integers(0, 2, size=(3, 4)).astype(bool))),
            Sample((a, a.T.reshape(3, 4))), Sample((a[:, :1] > 0, a[0])),
            Sample((np.array(0.0), a.astype(np.float32)))]


def _logical_not(rng):
    a = rng.integers(-1, 2, size=(3, 4))
    return [Sample((a,)), Sample((a.astype(np.float32),)), Sample((a > 0,)), Sample((np.array(2.5),))]


def _bitwise(rng):
    a = rng.integers(-50, 50, size=(3, 4))
    return [Sample((a, rng.integers(-50, 50, size=(3, 4)))), Sample((a, 7)),
            Sample((a[:, :1], a[0])), Sample((a > 0, a < 10)),
            Sample((a.astype(np.uint8), np.array(200, dtype=np.uint8))),
            Sample((a.astype(np.int32), np.array(3)))]


def _bitwise_not(rng):
    a = rng.integers(-50, 50, size=(3, 4))
    return [Sample((a,)), Sample((a > 0,)), Sample((a.astype(np.uint8),)), Sample((np.array(5),))]


def _shift(rng):
    a = rng.integers(-50, 50, size=(3, 4))
    return [Sample((a, rng.integers(0, 8, size=(3, 4)))), Sample((a, 3)),
            Sample((a, np.array([0, 63, 64, 70]))), Sample((a, np.array([-1, 1, 2, 3]))),
            Sample((a > 0, 2)), Sample((a.astype(np.int32), np.array(33))),
            Sample((a.astype(np.uint8), np.array(3, dtype=np.uint8)))]


def _special(rng):
    x = arr(rng, 3, 4)
    x[0, 0], x[1, 1], x[2, 2] = np.nan, np.inf, -np.inf
    return [Sample((x,)), Sample((x.astype(np.float32),)), Sample((np.arange(4),)),
            Sample((np.array(np.nan),))]


def _erf_domain(rng, *shape, dtype=np.float64):
    return arr(rng, *shape, low=-3.0, high=3.0, dtype=dtype)


def _erf(rng):
    wide = np.array([-30.0, -6.0, -1.0, -0.5, 0.0, 1e-20, 0.49, 0.5, 0.99, 1.0, 1.5, 2.0, 3.9,
                     4.0, 7.9, 8.0, 20.0, 26.5, 27.5, np.inf, -np.inf, np.nan])
    return unary(_erf_domain)(rng) + [Sample((wide,), grad_args=()), Sample((np.arange(-2, 3),))]


rows(
    Row("exp2", unary(), method="exp2"),
    Row("expm1", unary(), method="expm1"),
    Row("log2", unary(pos), method="log2"),
    Row("log10", unary(pos), method="log10"),
    Row("log1p", unary(_in(-0.5, 2.0)), method="log1p"),
    Row("rsqrt", unary(pos), method="rsqrt"),
    Row("square", lambda rng: unary()(rng) + [Sample((np.arange(-3, 3),)),
                                              Sample((np.array([True, False]),))], method="square"),
    Row("tan", unary(_in(-1.2, 1.2)), method="tan"),
    Row("asin", unary(_in(-0.9, 0.9)), method="asin", alias="arcsin"),
    Row("acos", unary(_in(-0.9, 0.9)), method="acos", alias="arccos"),
    Row("atan", unary(), method="atan", alias="arctan"),
    Row("sinh", unary(), method="sinh"),
    Row("cosh", unary(), method="cosh"),
    Row("asinh", unary(), method="asinh", alias="arcsinh"),
    Row("acosh", unary(_in(1.2, 3.0)), method="acosh", alias="arccosh"),
    Row("atanh", unary(_in(-0.9, 0.9)), method="atanh", alias="arctanh"),
    Row("logit", _logit, method="logit"),
    Row("erf", _erf, method="erf", rtol=1e-6, atol=1e-7),
    Row("erfc", _erf, method="erfc", rtol=1e-6, atol=1e-7),
    Row("floor", _rounding, method="floor"),
    Row("ceil", _rounding, method="ceil"),
    Row("round", _round, method="round"),
    Row("trunc", _rounding, method="trunc", alias="fix"),
    Row("frac", lambda rng: _rounding(rng)[:3], method="frac"),
    Row("clamp", _clamp, method="clamp"),
    Row("clip", _clamp, method="clip"),
    Row("nan_to_num", _nan_to_num, method="nan_to_num"),
    Row("floor_divide", _division, method="floor_divide", grad=False),
    Row("remainder", _division, method="remainder"),
    Row("fmod", _division, method="fmod"),
    Row("atan2", lambda rng: binary(scalar=False)(rng) + [Sample((np.arange(4), np.array([1, -2, 3, 0])))],
        method="atan2", alias="arctan2"),
    Row("maximum", _minmax, method="maximum"),
    Row("minimum", _minmax, method="minimum"),
    Row("fmax", _minmax, method="fmax"),
    Row("fmin", _minmax, method="fmin"),
    Row("hypot", binary(scalar=False), method="hypot"),
    Row("logaddexp", binary(scalar=False), method="logaddexp"),
    Row("lerp", _lerp, method="lerp"),
    Row("addcmul", _addc(arr), method="addcmul"),
    Row("addcdiv", _addc(_away_from_zero), method="addcdiv"),
    Row("isclose", _isclose, method="isclose", grad=False),
    Row("allclose", _isclose, method="allclose", grad=False),
    Row("equal", _equal, method="equal", grad=False),
    *[Row(n, _cmp, method=n, grad=False)
      for n in ("greater", "less", "greater_equal", "less_equal", "not_equal")],
    *[Row(n, _logical, method=n, grad=False) for n in ("logical_and", "logical_or", "logical_xor")],
    Row("logical_not", _logical_not, method="logical_not", grad=False),
    *[Row(n, _bitwise, method=n, grad=False) for n in ("bitwise_and", "bitwise_or", "bitwise_xor")],
    Row("bitwise_not", _bitwise_not, method="bitwise_not", grad=False),
    Row("bitwise_left_shift", _shift, method="bitwise_left_shift", grad=False),
    Row("bitwise_right_shift", _shift, method="bitwise_right_shift", grad=False),
    *[Row(n, _special, method=n, grad=False) for n in ("isnan", "isinf", "isfinite")],
)

alias("arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "arctan2", "fix")
