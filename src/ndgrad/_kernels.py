"""Fast elementwise kernels on large arrays: block-wise evaluation, two threads for large
compute-bound calls, and the small helpers (Horner, branch-free select, bit masks) that the
many-pass formulas of ``_math`` and ``nn.functional`` are built from.

NumPy runs one ufunc at a time over a whole array. A formula of twenty passes over 1e6 floats
therefore streams 80 MB through memory; evaluated in blocks that fit in the cache, the same
formula runs several times faster, with identical results, since every kernel is elementwise.
"""
from __future__ import annotations

import contextvars
import functools
import math
import os
import queue
import threading

import numpy as np

# ---------------------------------------------------------------------------------------------
# Two threads for large compute-bound calls
# ---------------------------------------------------------------------------------------------
# NOTE: NumPy releases the GIL inside a ufunc's loop, so the two parts of one large call run on
# two cores at once: one on the caller's thread, one on a daemon worker started on first use.
# Every element is computed by the same code as on one thread, and the cut falls on a block
# boundary, so the results are those of one thread bit for bit. Only compute-bound work is
# split (exp2, log2, arcsin, pow, the kernels below): memory-bound passes (add, mul, sqrt) ran
# no faster on two threads. The worker's part runs in a copy of the caller's context, under its
# np.errstate.
# PERF: on 2 cores, fwd+bwd on 1e6 float32 (medians, alternating with one thread, two runs):
# 1.4-1.7x for sigmoid, silu, softplus, elu, selu, mish, logsigmoid, asin, acosh, log2 and log10;
# 1.1-1.7x for softmax, log_softmax and gelu; 1.2-1.4x for hardswish, hardsigmoid, leaky_relu.
SPLIT_MIN = 1 << 18  # elements; at 2^17 and fewer two threads gained nothing (exp2, sigmoid)
_threads = 0  # set_num_threads' number; 0 until first asked for
_worker = None  # (thread ident, task queue) of the worker, None until first used


def _physical_cores() -> int:
    """Physical cores among the CPUs this process may run on (hyperthreads counted once)."""
    if hasattr(os, "sched_getaffinity"):
        cpus = os.sched_getaffinity(0)
    else:
        cpus = range(os.cpu_count() or 1)
    cores = set()
    for cpu in cpus:
        try:
            with open(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list") as f:
                cores.add(f.read().strip())
        except OSError:
            cores.add(cpu)
    return max(1, len(cores))


def _env_threads() -> int:
    """The thread count that MKL_NUM_THREADS or OMP_NUM_THREADS asks for, as MKL reads them
    (0: neither does). MKL_NUM_THREADS comes first; a value of it that is not a number means 1,
    OMP_NUM_THREADS is a comma list whose first number counts, and 0 means unset in both."""
    mkl = os.environ.get("MKL_NUM_THREADS", "").strip()
    if mkl:
        n = int(mkl) if mkl.isdigit() else 1
        if n:
            return n
    omp = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(omp) if omp.isdigit() else 0


def _default_threads() -> int:
    """PyTorch's default thread count (MKL's rule, in PyTorch's CPU builds for x86): the
    physical cores, or what the environment asks for (see `_env_threads`), but no more than the
    physical cores unless MKL_DYNAMIC is false."""
    cores = _physical_cores()
    n = _env_threads() or cores
    return n if os.environ.get("MKL_DYNAMIC", "").lower() == "false" else min(n, cores)


def get_num_threads() -> int:
    """The number of threads ndgrad runs large elementwise calls on (``torch.get_num_threads``).

    >>> import ndgrad
    >>> ndgrad.get_num_threads() >= 1
    True
    """
    global _threads
    if not _threads:
        _threads = _default_threads()
    return _threads


def set_num_threads(num_threads: int, /) -> None:
    """Sets the number of threads for large elementwise calls (``torch.set_num_threads``): 1 runs
    everything on the caller's thread; ndgrad cuts a call in two parts at most.

    >>> import ndgrad
    >>> n = ndgrad.get_num_threads()
    >>> ndgrad.set_num_threads(1); ndgrad.get_num_threads()
    1
    >>> ndgrad.set_num_threads(n)
    """
    global _threads
    if not isinstance(num_threads, (int, np.integer)) or isinstance(num_threads, bool):
        raise RuntimeError(f"set_num_threads expects an int, but got {type(num_threads).__name__}")
    if num_threads <= 0:
        raise RuntimeError("set_num_threads expects a positive integer")
    _threads = int(num_threads)


def _serve(tasks):
    """The worker's loop: run each part it is handed, and hand back what it raised, if anything."""
    while True:
        context, work, start, stop, done = tasks.get()
        try:
            context.run(work, start, stop)
        except BaseException as exc:  # handed to the caller, which raises it
            raised = exc
        else:
            raised = None
        # NOTE: the task is dropped before the caller is told: a view it kept alive until the
        # next task would pin its base array (and stop .grad from adopting it: a 4 MB copy).
        context = work = None
        done.put(raised)
        raised = done = None


def _forget_worker():
    global _worker
    _worker = None  # a forked child has no worker thread: it starts its own when needed


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_worker)


def in_two(work, start, stop, align):
    """``work(start, stop)``, an elementwise pass over the elements ``start:stop``: on the
    caller's thread alone, or, where threads are on and there are SPLIT_MIN elements or more,
    cut in two at a multiple of ``align`` (a block size) past ``start``, one part per thread."""
    global _worker
    if stop - start < SPLIT_MIN or (_threads or get_num_threads()) < 2:
        return work(start, stop)
    if _worker is None:
        tasks = queue.SimpleQueue()
        thread = threading.Thread(target=_serve, args=(tasks,), name="ndgrad-worker", daemon=True)
        thread.start()
        _worker = (thread.ident, tasks)
    ident, tasks = _worker
    if threading.get_ident() == ident:  # a kernel that calls a split kernel: already split
        return work(start, stop)
    cut = start + ((stop - start) // 2 + align // 2) // align * align
    done = queue.SimpleQueue()
    tasks.put((contextvars.copy_context(), work, cut, stop, done))
    try:
        work(start, cut)
    finally:
        exc = done.get()  # NOTE: wait even when work raised: the worker may still be writing
    if exc is not None:
        raise exc


def in_halves(ufunc):
    """``ufunc(*arrays)``, in two halves on two threads where the arrays are large, contiguous
    and of one shape and float dtype (see `in_two`), else the plain call."""
    def split(*arrays):
        a = arrays[0]
        if a.dtype.char not in "fd" or not all(
                type(x) is np.ndarray and x.dtype == a.dtype and x.shape == a.shape and
                x.flags.c_contiguous for x in arrays):
            return ufunc(*arrays)
        out = np.empty_like(a)
        flats, dst = [x.reshape(-1) for x in arrays], out.reshape(-1)
        in_two(lambda start, stop: ufunc(*[x[start:stop] for x in flats], out=dst[start:stop]),
               0, a.size, 1 << 12)
        return out

    if ufunc.nin == 1:
        def run(a):
            if a.size < SPLIT_MIN:  # PERF: all that small arrays pay: ~0.1 us a call
                return ufunc(a)
            return split(a)
    else:
        def run(*arrays):
            if arrays[0].size < SPLIT_MIN:
                return ufunc(*arrays)
            return split(*arrays)
    run.__name__ = run.__qualname__ = ufunc.__name__
    return run


BLOCK = 1 << 15  # elements per block: a few float64 temporaries of this size fit in L2
# NOTE: a block holds BLOCK_BYTES of its first input: BLOCK float64 elements, twice as many
# float32 ones, whose kernels then pay half as much per-call overhead (see in_blocks).
BLOCK_BYTES = 8 * BLOCK


def in_blocks(f, split=True):
    """``f(*arrays)``, an elementwise NumPy kernel, run block by block over large arrays, and on
    two threads where `in_two` allows and ``split`` is true.

    Inputs are broadcast to one shape; a 0-d input runs as one element (kernels may write in
    place, which NumPy scalars cannot take).

    PERF: erfc makes some 45 passes over its data, erf and sinh 20-25; in blocks of 32K
    elements they stay in the cache, 2.4x faster on 1e6 elements. Each ufunc call costs 1-2 us,
    some 1.3 ms for 30 passes over 31 blocks: float32 blocks of 64K elements run erf, gelu,
    silu, expm1 and mish 4-11% faster than of 32K (fwd+bwd, 1e6 elements). On two threads (each
    half of the blocks on one), fwd+bwd on 1e6 float32 ran 1.1-1.3x faster for sinh, cosh,
    erf, erfc, atan2, logaddexp and remainder (two runs); less where a kernel makes many light
    passes, whose every ufunc call hands the GIL over (see `_one_thread`).
    """
    @functools.wraps(f)
    def run(*arrays):
        arrays = [np.asarray(a) for a in arrays]
        shape = arrays[0].shape
        if any(a.shape != shape for a in arrays[1:]):
            arrays = np.broadcast_arrays(*arrays)
            shape = arrays[0].shape
        if not shape:
            return f(*[a.reshape(1) for a in arrays]).reshape(())
        n = arrays[0].size
        step = BLOCK_BYTES // arrays[0].itemsize
        if n <= step:
            return f(*arrays)
        flats = [a.reshape(-1) for a in arrays]
        first = f(*[a[:step] for a in flats])
        # NOTE: the result owns its memory (written through a flat view of it), so that .grad
        # can adopt it rather than copy it.
        result = np.empty(shape, first.dtype)
        out = result.reshape(-1)
        out[:step] = first

        def blocks(start, stop):
            for i in range(start, stop, step):
                out[i:i + step] = f(*[a[i:i + step] for a in flats])
        if split:
            in_two(blocks, step, n, step)
        else:
            blocks(step, n)
        return result
    return run


FILL_BYTES = 1 << 19  # bytes per block of `into_blocks`' result


def into_blocks(f):
    """``f(out, *arrays)``, an elementwise kernel that writes its result into ``out``, run block
    by block into a fresh array of the first input's dtype (inputs broadcast to one shape).

    PERF: against `in_blocks`, no block result to allocate and copy. Its kernels make few passes
    with few temporaries, so larger blocks (512 KB) pay off: on 1e6 float32, blocks of 32K
    elements cost 10-40% more than of 128K (the Python overhead of 31 blocks), and one block of
    1e6 elements 15-30% more where the kernel builds integer masks (4 MB temporaries)."""
    @functools.wraps(f)
    def run(*arrays):
        return fill(f, [np.asarray(a) for a in arrays])
    return run


def fill(f, arrays, attrs=()):
    """`into_blocks`' work, without the wrapper: ``f(out, *blocks, *attrs)``."""
    shape = arrays[0].shape
    if any(a.shape != shape for a in arrays[1:]):
        arrays = np.broadcast_arrays(*arrays)
        shape = arrays[0].shape
    result = np.empty(shape, arrays[0].dtype)
    out = result.reshape(-1)
    step = FILL_BYTES // result.itemsize
    if out.size <= step:
        f(out, *[a.reshape(-1) for a in arrays], *attrs)
        return result
    flats = [a.reshape(-1) for a in arrays]

    def blocks(start, stop):
        for i in range(start, stop, step):
            f(out[i:i + step], *[a[i:i + step] for a in flats], *attrs)
    in_two(blocks, 0, out.size, step)
    return result


def into_rows(f):
    """`into_blocks` for kernels that also reduce along the last axis: blocks of whole rows.

    ``f(out, *arrays)`` gets 2-d blocks of rows; the inputs have one shape, of at least one
    dimension, and at least one element."""
    @functools.wraps(f)
    def run(*arrays):
        result = np.empty(arrays[0].shape, arrays[0].dtype)
        n = result.shape[-1]
        out = result.reshape(-1, n)
        rows = [a.reshape(-1, n) for a in arrays]
        step = max(1, FILL_BYTES // (n * result.itemsize))

        def blocks(start, stop):
            for i in range(start // n, stop // n, step):
                f(out[i:i + step], *[r[i:i + step] for r in rows])
        in_two(blocks, 0, result.size, step * n)  # NOTE: counted in elements, cut between rows
        return result
    return run


def ones_where(mask, dtype, value=True):
    """Integers as wide as ``dtype``, all ones where ``mask`` is ``value``, else 0.

    ANDed with the bits of floats they keep a float whole (nan, inf and -0.0 included) or make it
    +0.0, which a multiply by a 0/1 mask cannot (-1 * 0 is -0.0, inf * 0 is nan); XORs with them
    select between two arrays."""
    bits = mask.view(np.int8).astype(f"i{np.dtype(dtype).itemsize}")
    if value:
        np.negative(bits, out=bits)
    else:
        bits -= 1
    return bits


def keep(out, x, mask, value=True):
    """``out`` = ``x`` where ``mask`` is ``value``, else +0.0, by bits (see `ones_where`);
    ``out``, which may be ``x``, and ``x`` are contiguous and of one float dtype.

    PERF: 0.4 ns per element in the cache, where a multiply by the bool mask, its sign fix and
    its check for infinities took 0.9 ns."""
    bits = ones_where(mask, out.dtype, value)
    np.bitwise_and(x.view(bits.dtype), bits, out=out.view(bits.dtype))
    return out


def zeros(like):
    """Zeros of ``like``'s shape and dtype, read-only, for np.maximum and np.minimum, which run
    3x faster against an array than against the number 0 (same results: a tie gives the second
    argument's zero in both)."""
    if like.ndim == 0:
        cached = _ZERO.get(like.dtype)
        if cached is None:
            cached = _ZERO[like.dtype] = np.zeros((), like.dtype)
            cached.flags.writeable = False
        return cached
    cached = _ZEROS.get(like.dtype)
    if cached is None or cached.size < like.size:
        cached = _ZEROS[like.dtype] = np.zeros(max(like.size, 1 << 17), like.dtype)
        cached.flags.writeable = False
    return cached[:like.size].reshape(like.shape)


_ZEROS, _ZERO = {}, {}  # dtype -> a long run of zeros; dtype -> a 0-d zero


def filled(like, value):
    """``value`` in ``like``'s shape and dtype, read-only, for np.maximum and np.minimum (see
    `zeros`): against a number their loops take 0.5-0.6 ns an element on float32, against an
    array 0.2. PERF: 1e6 float32, one thread (CPU time, medians, two runs): expm1_32 7.2 ->
    6.7 ms, logsigmoid fwd 8.6 -> 8.2 ms; the same results."""
    key = (like.dtype, value)
    cached = _FILLED.get(key)
    if cached is None or cached.size < like.size:
        cached = _FILLED[key] = np.full(max(like.size, 1 << 17), value, like.dtype)
        cached.flags.writeable = False
    return cached[:like.size].reshape(like.shape)


_FILLED = {}  # (dtype, value) -> a long run of value


def horner(t, coef):
    """``coef[0] + coef[1]*t + ... + coef[-1]*t**(n-1)``, with one temporary."""
    y = t * coef[-1]
    y += coef[-2]
    for c in coef[-3::-1]:
        y *= t
        y += c
    return y


def select(mask, a, b):
    """``np.where(mask, a, b)`` written into ``a`` (same shape and float dtype).

    PERF: bit operations instead of np.where, which branches per element: 10x faster on a
    random mask."""
    m = ones_where(mask, a.dtype)
    av, bv = a.view(m.dtype), np.asarray(b, a.dtype).view(m.dtype)
    av ^= bv
    av &= m
    av ^= bv
    return a


# ---------------------------------------------------------------------------------------------
# The exp and log family
# ---------------------------------------------------------------------------------------------
# NOTE: NumPy's float32 expm1, log1p, arctanh, arcsinh and logaddexp are scalar libm loops
# (13-30 ns per element), and its SIMD float32 exp and log, though fast, err by up to 2.4 and
# 3.6 ulp. These kernels take float32 arrays and work in float32 arithmetic from bit fields and
# short polynomials (fdlibm's reductions); against float64 math they err by at most 1.8 ulp.
_LOG_POLY = (0.66666662693, 0.40000972152, 0.28498786688, 0.24279078841)  # FreeBSD's logf
_LN2_HI, _LN2_LO = 6.9313812256e-01, 9.0580006145e-06  # k * _LN2_HI is exact for |k| < 256
_EXP_HI, _EXP_LO = 6.9314575195e-01, 1.4286067653e-06
_INV_LN2 = 1.4426950408889634
_EXPM1_POLY = tuple(1.0 / math.factorial(n) for n in range(2, 9))  # r**2 * (1/2! + r/3! + ...)
_SIGN_BIT = np.int32(-0x80000000)
_SQRT_HALF_BITS = np.int32(0x3F3504F3)


def _log32(u, c):
    """``log(u) + c`` for float32 ``u``, ``c`` a correction far below ``u``'s rounding."""
    # NOTE: u = 2**k * (1 + f) with 1 + f in [sqrt(1/2), sqrt(2)): f is exact, and log1p(f) =
    # f - f**2/2 + s * (f**2/2 + R(s**2)), s = f / (2 + f), keeps the rounding in small terms.
    # k and 1 + f come from u's bits less those of sqrt(1/2), in four integer passes.
    bits = u.view(np.int32)
    shifted = bits - _SQRT_HALF_BITS
    k = shifted >> 23
    shifted &= np.int32(-0x800000)
    np.subtract(bits, shifted, out=shifted)
    f = shifted.view(np.float32)
    f -= 1
    s = f + 2
    np.divide(f, s, out=s)
    z = s * s
    r = horner(z, _LOG_POLY)
    r *= z
    half_f2 = f * f
    half_f2 *= 0.5
    r += half_f2
    r *= s
    r += c
    fk = k.astype(np.float32)
    r += fk * np.float32(_LN2_LO)
    np.subtract(half_f2, r, out=r)
    r -= f
    fk *= np.float32(_LN2_HI)
    np.subtract(fk, r, out=r)
    off = bits - 0x00800000
    off = np.greater_equal(off.view(np.uint32), 0x7F000000)  # zero, subnormal, negative, inf, nan
    if off.any():
        r[off] = np.log(u[off])
    return r


def _keep_zero(r, x):
    """``r`` with ``x``'s zeros, signs included, where ``x`` is zero."""
    zero = x == 0
    if zero.any():
        r[zero] = x[zero]
    return r


def _with_sign(r, x):
    """``|r|`` (``r`` nonnegative or nan) given the sign of ``x``, by bits: copysign is slow."""
    bits = r.view(np.int32)
    bits |= x.view(np.int32) & _SIGN_BIT
    return r


def _log1p32(x):
    """``log1p`` of a float32 array: log of u = 1 + x, corrected by (x - (u - 1)) / u."""
    with np.errstate(all="ignore"):
        u = x + np.float32(1)
        c = u - 1
        np.subtract(x, c, out=c)
        c /= u
        return _keep_zero(_log32(u, c), x)


# NOTE: these four and lerp32 run on one thread: on two, their many light float32 passes (a GIL
# hand-off at every ufunc call) ran 0.8-1.1x as fast, fwd+bwd on 1e6 elements, three runs.
_one_thread = functools.partial(in_blocks, split=False)
log1p32 = _one_thread(_log1p32)


@_one_thread
def expm1_32(x):
    """``expm1`` of a float32 array: x = k ln2 + r, expm1 = 2**k * expm1(r) + (2**k - 1)."""
    with np.errstate(all="ignore"):
        xc = np.maximum(x, filled(x, -30.0))  # expm1 rounds to -1 below -17
        k = xc * np.float32(_INV_LN2)
        np.rint(k, out=k)
        r = k * np.float32(_EXP_HI)
        np.subtract(xc, r, out=r)
        r -= k * np.float32(_EXP_LO)
        p = horner(r, _EXPM1_POLY)
        p *= r * r
        p += r
        two_k = k.astype(np.int32)
        two_k += 127
        two_k <<= 23
        t = two_k.view(np.float32)
        p *= t
        t -= 1
        p += t
        # NOTE: 2**k overflows from x = 88.38 on, before expm1 does; those few go through float64.
        rare = xc > np.float32(88.37)
        rare |= x == 0
        if rare.any():
            p[rare] = np.expm1(x[rare].astype(np.float64))
        return p


@_one_thread
def atanh32(x):
    """``atanh`` of a float32 array: with t = 2|x|, 0.5 * log1p(t + t|x| / (1 - |x|))."""
    with np.errstate(all="ignore"):
        a = np.abs(x)
        t = a + a
        y = t * a
        y /= 1 - a
        y += t
        r = _log1p32(y)
        r *= np.float32(0.5)
        beyond = a > 1
        if beyond.any():
            r[beyond] = np.nan
        return _with_sign(r, x)


@_one_thread
def asinh32(x):
    """``asinh`` of a float32 array: log1p(|x| + x**2 / (1 + sqrt(1 + x**2))), and from
    |x| = 2**24 on, where that sum is 2|x| and may overflow, log1p(|x|) + ln2."""
    with np.errstate(all="ignore"):
        a = np.abs(x)
        small = a < np.float32(2.0 ** 24)
        a2 = a * a
        y = a2 + 1
        np.sqrt(y, out=y)
        y += 1
        np.divide(a2, y, out=y)
        y += a
        r = _log1p32(select(small, y, a))
        np.logical_not(small, out=small)
        r += np.multiply(small, np.float32(math.log(2.0)), dtype=np.float32)
        return _with_sign(r, x)


@in_blocks
def logaddexp32(a, b):
    """``logaddexp`` of float32 arrays: max(a, b) + log1p(exp(-|a - b|))."""
    with np.errstate(all="ignore"):
        d = a - b
        np.abs(d, out=d)
        np.negative(d, out=d)
        np.exp(d, out=d)
        r = _log1p32(d)
        r += np.maximum(a, b)
        # NOTE: nan here is a nan input or equal infinities (inf - inf); NumPy has their values.
        odd = np.isnan(r)
        if odd.any():
            r[odd] = np.logaddexp(a[odd], b[odd])
        return r


# ---------------------------------------------------------------------------------------------
# Trigonometric functions and remainders
# ---------------------------------------------------------------------------------------------
# NOTE: NumPy's float32 tan, arctan, arctan2 and fmod are scalar libm loops (10-30 ns per
# element). These kernels build them from its SIMD loops in float64, where a float32 input is
# exact and the final rounding to float32 dominates the error; branches become bit operations on
# the float64 words. The rare inputs outside a kernel's range go to NumPy's own function.

_ROUND = 6755399441055744.0  # 1.5 * 2^52: y + _ROUND rounds y to an integer, in the low bits
_BITS_PIO2 = np.float64(np.pi / 2).view(np.int64)
_BITS_PI = np.float64(np.pi).view(np.int64)


def _words(a):
    return a.view(np.int64)


def _swap(mask, a, b):
    """Swap float64 arrays ``a`` and ``b`` where the int64 ``mask`` is all ones (else 0)."""
    av, bv = _words(a), _words(b)
    d = np.bitwise_xor(av, bv)
    d &= mask
    av ^= d
    bv ^= d


def _monic(t, coef):
    """``coef[0] + coef[1]*t + ... + t**len(coef)``: Horner's rule, one pass fewer."""
    y = t + coef[-1]
    for c in coef[-2::-1]:
        y *= t
        y += c
    return y


def _sign_mask(a):
    """All ones where the sign bit of float64 ``a`` is set, else 0 (``a`` is overwritten)."""
    return np.right_shift(_words(a), 63, out=_words(a))


# pi/2 in three parts of 30, 30 and 53 bits: k * part is exact for integers k < 2^23
_PIO2 = (1.570796325802803, 9.920935791635221e-10, 5.170182981794105e-19)
_TAN_BIG = np.float32(2.0 ** 23)
# tan(r) = r * N(r^2) / D(r^2) on |r| <= pi/4: a least-squares fit (reweighted toward minimax),
# relative error 2.2e-11 (float32 needs 3e-8); D is monic, without its leading 1
_TAN_N = (62.60413601645284, -6.971685729641227, 0.06730906267080441)
_TAN_D = (62.60413601506525, -27.839730963942973)


# NOTE: not on two threads: there it ran no faster (0.97-0.99x on 1e6, three runs), where atan32,
# with like float64 temporaries, ran 1.5x faster; under MALLOC_MMAP_THRESHOLD_=64M it gained 1.3x,
# so the worker's fresh float64 temporaries (page faults) seem to eat the gain.
@_one_thread
def tan32(x):
    """tan of float32 ``x``: Cody-Waite reduction by pi/2 and a rational function, in float64.

    PERF: 1.5x faster than np.tan on float32, and within 0.51 ulp where np.tan is within 1.42."""
    big = np.max(np.abs(x))  # nan if any is nan
    x64 = x.astype(np.float64)
    k = np.multiply(x64, 2 / np.pi)
    k += _ROUND
    odd = np.left_shift(_words(k), 63)  # the sign bit where k is odd
    k -= _ROUND  # NOTE: a zero x gives k = +0.0, so that r, and tan, keep the zero's sign
    r = np.multiply(k, -_PIO2[0])
    r += x64  # exact: both are multiples of 2^-29 and |r| < 1
    t = np.multiply(k, _PIO2[1], out=x64)
    r -= t
    np.multiply(k, _PIO2[2], out=t)
    r -= t
    # odd k: tan(r + pi/2) = -1 / tan(r) = D(z) / (-r N(z)), so negate r and swap N and D
    rw = _words(r)
    rw ^= odd
    z = np.multiply(r, r, out=k)
    n = horner(z, _TAN_N)
    n *= r
    d = _monic(z, _TAN_D)
    _swap(np.right_shift(odd, 63, out=odd), n, d)
    n /= d
    out = n.astype(np.float32)
    if not big < _TAN_BIG:  # also inf and nan
        sel = ~(np.abs(x) < _TAN_BIG)
        out[sel] = np.tan(x[sel])
    return out


# atan(u) = u * P(u^2) / Q(u^2) on [0, 1]: a least-squares fit (reweighted toward minimax),
# relative error 9.5e-10 (float32 needs 3e-8); Q is monic, without its leading 1
_ATAN_P = (19.73135863548101, 22.305159979915523, 5.6635290050474945, 0.1765420218064703)
_ATAN_Q = (19.731358643989424, 28.882277592947073, 11.34473090629401)


def _atan_unit(u):
    """atan of float64 ``u`` in [0, 1] (nan stays nan); ``u`` is overwritten."""
    z = u * u
    p = horner(z, _ATAN_P)
    p *= u
    p /= _monic(z, _ATAN_Q)
    return p


def _reflect(mask, angle, p):
    """``|angle - p|`` where the int64 ``mask`` is all ones, else ``p`` (``p >= 0``; in place).

    With ``0 <= p <= angle`` this is ``angle - p``: the branch of a reflection, with no branch."""
    c = np.bitwise_and(mask, angle, out=mask).view(np.float64)
    np.subtract(c, p, out=p)
    return np.abs(p, out=p)


def _with_sign_of(out, x):
    """float32 ``out`` (sign bit clear) with the sign bit of float32 ``x``, in place."""
    ow = out.view(np.int32)
    ow |= x.view(np.int32) & np.int32(-1 << 31)
    return out


@in_blocks
def atan32(x):
    """atan of float32 ``x``: atan(|x|) = pi/2 - atan(1/|x|) past 1, a rational function on
    [0, 1], and the sign of ``x``, in float64.

    PERF: 1.6x faster than np.arctan on float32, and within 0.52 ulp (np.arctan: 0.84)."""
    a = np.abs(x).astype(np.float64)
    flip = _sign_mask(np.subtract(1.0, a))  # all ones where |x| > 1
    u = np.divide(1.0, a)
    np.minimum(u, a, out=u)  # min(|x|, 1/|x|); inf: 0, nan: nan
    out = _reflect(flip, _BITS_PIO2, _atan_unit(u)).astype(np.float32)
    return _with_sign_of(out, x)


@in_blocks
def atan2_32(y, x):
    """atan2 of float32 ``y`` and ``x``: the atan of min(|x|, |y|) / max(|x|, |y|), reflected
    into its octant, in float64; zeros, infinities and nan take np.arctan2.

    PERF: 2.4x faster than np.arctan2 on float32, and within 0.52 ulp (np.arctan2: 1.42)."""
    ay, ax = np.abs(y).astype(np.float64), np.abs(x).astype(np.float64)
    steep = _sign_mask(np.subtract(ax, ay))  # all ones where |y| > |x|
    _swap(steep, ay, ax)  # ay = min, ax = max
    u = np.divide(ay, ax, out=ay)
    p = _reflect(steep, _BITS_PIO2, _atan_unit(u))
    west = np.right_shift(_words(x.astype(np.float64)), 63)  # all ones where x has its sign set
    out = _with_sign_of(_reflect(west, _BITS_PI, p).astype(np.float32), y)
    if not (ax.min() > 0.0 and ax.max() < np.inf):  # nan compares false
        sel = ~((ax > 0.0) & (ax < np.inf))
        out[sel] = np.arctan2(y[sel], x[sel])
    return out


@in_blocks
def hypot32(a, b):
    """hypot of float32 ``a`` and ``b``: sqrt(a**2 + b**2) in float64, where the squares are
    exact, rounded to float32 (glibc's hypotf, so NumPy's float32 hypot, bit for bit); an
    infinite input gives inf, a nan beside it notwithstanding.

    PERF: 1.7x less CPU time than np.hypot on 1e6 float32 (9.1 -> 5.4 ms, one thread, medians,
    alternating), whose loop is scalar."""
    x, y = a.astype(np.float64), b.astype(np.float64)
    x *= x
    y *= y
    x += y
    np.sqrt(x, out=x)
    if not x.max() < np.inf:  # nan compares false
        x[np.isinf(a) | np.isinf(b)] = np.inf
    return x.astype(np.float32)


@in_blocks
def remainder32(a, b):
    """PyTorch's float remainder of float32 ``a`` and ``b``: fmod(a, b), plus b where that is not
    zero and its sign is not b's; computed as a - floor(a / b) * b in float64, which has b's sign.

    For |a / b| < 2^28 each step is exact: a / b is at least 2^-24 of itself away from an integer
    it is not (a and b have 24 bits), and float64 rounds it by less than 2^-25 of itself, so the
    floor is the exact quotient's; the product and the difference are multiples of the last bit
    of a or b, within 53 bits. The zeros take a's sign, as fmod's. Larger quotients, b = 0,
    infinities and nan take np.fmod and PyTorch's fix-up. PERF: 4x faster than np.fmod on 1e6
    float32, with the same results bit for bit, and 2.3x less CPU time (13.5 -> 5.9 ms, one
    thread, medians, alternating, two runs) than the same formula followed by a sign fix-up in
    int64 bit masks, which the exact floor makes needless."""
    a64 = a.astype(np.float64)
    # NOTE: b broadcast along the first axis (a number: stride 0) stays one row: a pass fewer
    b64 = b[:1].astype(np.float64) if b.strides[0] == 0 else b.astype(np.float64)
    q = np.divide(a64, b64)
    np.floor(q, out=q)
    ok = -2.0 ** 28 < q.min() and q.max() < 2.0 ** 28  # nan compares false
    q *= b64
    r = np.subtract(a64, q, out=q)
    if not (ok and r.max() == r.max()):  # r is nan where b is infinite
        sel = ~(np.abs(np.floor(a64 / b64)) < 2.0 ** 28) | np.isnan(r)
        sa, sb = a[sel], np.broadcast_to(b, a.shape)[sel]
        m = np.fmod(sa, sb)
        fix = (m != 0) & ((m < 0) != (sb < 0))
        m[fix] += sb[fix]
        r[sel] = m
    zero = r == 0
    if zero.any():
        r[zero] = np.copysign(0.0, a64[zero])
    return r.astype(np.float32)


@_one_thread
def lerp32(a, end, weight):
    """PyTorch's two-sided lerp of float32 arrays: ``a + weight * (end - a)`` where |weight| <
    0.5, else ``end - (end - a) * (1 - weight)``, exact at both ends.

    PERF: 1.6x faster than the same formula with np.where over whole arrays: the passes stay in
    the cache, and the branch is a bit select, where np.where mispredicts on random weights."""
    d = np.subtract(end, a)
    near = np.multiply(weight, d)
    near += a
    far = np.subtract(1.0, weight)
    far *= d
    np.subtract(end, far, out=far)
    return select(np.abs(weight) < 0.5, near, far)
