"""Two threads for large elementwise calls: set_num_threads and get_num_threads as in PyTorch,
and results on two threads equal, bit for bit, to those on one (values and gradients)."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad import _kernels
from both import same

# name -> (function of (lib, x, y), domain of x); y is uniform in (-2, 2)
OPS = {
    "exp2": (lambda t, x, y: t.exp2(x), "any"),
    "log2": (lambda t, x, y: t.log2(x), "positive"),
    "log10": (lambda t, x, y: t.log10(x), "positive"),
    "asin": (lambda t, x, y: t.asin(x), "unit"),
    "acos": (lambda t, x, y: t.acos(x), "unit"),
    "acosh": (lambda t, x, y: t.acosh(x + 2), "positive"),
    "sin": (lambda t, x, y: t.sin(x), "any"),  # backward: cos
    "cos": (lambda t, x, y: t.cos(x), "any"),  # backward: sin
    "pow": (lambda t, x, y: t.pow(x, y), "positive"),  # backward: log
    "hypot": (lambda t, x, y: t.hypot(x, y), "any"),
    "fmod": (lambda t, x, y: t.fmod(x, y), "any"),
    "sigmoid": (lambda t, x, y: t.sigmoid(x), "any"),
    "erf": (lambda t, x, y: t.erf(x), "any"),
    "erfc": (lambda t, x, y: t.erfc(x), "any"),
    "expm1": (lambda t, x, y: t.expm1(x), "any"),
    "log1p": (lambda t, x, y: t.log1p(x), "positive"),
    "sinh": (lambda t, x, y: t.sinh(x), "any"),
    "cosh": (lambda t, x, y: t.cosh(x), "any"),
    "asinh": (lambda t, x, y: t.asinh(x), "any"),
    "atanh": (lambda t, x, y: t.atanh(x), "unit"),
    "tan": (lambda t, x, y: t.tan(x), "any"),  # backward only
    "atan": (lambda t, x, y: t.atan(x), "any"),
    "atan2": (lambda t, x, y: t.atan2(x, y), "any"),
    "logaddexp": (lambda t, x, y: t.logaddexp(x, y), "any"),
    "remainder": (lambda t, x, y: t.remainder(x, y), "any"),
    "remainder(0.7)": (lambda t, x, y: t.remainder(x, 0.7), "any"),
    # NOTE: no eps: with one, PyTorch's gradient at nan is 0 in its vector loop, nan in its tail
    "logit": (lambda t, x, y: t.logit(x), "unit"),
    "gelu": (lambda t, x, y: t.nn.functional.gelu(x), "any"),
    "gelu(tanh)": (lambda t, x, y: t.nn.functional.gelu(x, approximate="tanh"), "any"),
    "softplus": (lambda t, x, y: t.nn.functional.softplus(x), "any"),
    "silu": (lambda t, x, y: t.nn.functional.silu(x), "any"),
    "mish": (lambda t, x, y: t.nn.functional.mish(x), "any"),
    "elu": (lambda t, x, y: t.nn.functional.elu(x), "any"),
    "selu": (lambda t, x, y: t.nn.functional.selu(x), "any"),
    "logsigmoid": (lambda t, x, y: t.nn.functional.logsigmoid(x), "any"),
    "hardswish": (lambda t, x, y: t.nn.functional.hardswish(x), "any"),
    "leaky_relu": (lambda t, x, y: t.nn.functional.leaky_relu(x, 0.2), "any"),
    "softmax": (lambda t, x, y: t.nn.functional.softmax(x.view(ROWS, -1), -1), "any"),
    "log_softmax": (lambda t, x, y: t.nn.functional.log_softmax(x.view(ROWS, -1), -1), "any"),
}
ROWS = 521
N = ROWS * 1019  # odd, and not a multiple of any block: the cut and the last block are ragged
DOUBLES = ("log2", "pow", "erf", "expm1", "log1p", "asinh", "atanh", "atan", "atan2", "logaddexp",
           "tan", "gelu", "softplus", "softmax", "logit")
SINGLES = ("expm1", "log1p", "asinh", "atanh")  # float32 kernels kept on one thread


@pytest.fixture
def threads():
    """Restores ndgrad's thread count and PyTorch's after the test."""
    nd, th = ndgrad.get_num_threads(), torch.get_num_threads()
    yield
    ndgrad.set_num_threads(nd)
    torch.set_num_threads(th)


def _inputs(domain, dtype, rng):
    lo, hi = {"any": (-4, 4), "positive": (0.1, 3), "unit": (-0.99, 0.99)}[domain]
    x = rng.uniform(lo, hi, N)
    x[rng.integers(0, N, 64)] = rng.choice([0.0, -0.0, np.inf, -np.inf, np.nan, 30.0, -30.0], 64)
    return x.astype(dtype), rng.uniform(-2, 2, N).astype(dtype), rng.uniform(-1, 1, N).astype(dtype)


def _run(lib, fn, x, y, w):
    xt, yt = (lib.tensor(a, requires_grad=True) for a in (x, y))
    with np.errstate(all="ignore"):  # NOTE: np.log warns of the zeros and infinities of _inputs
        out = fn(lib, xt, yt)
        out.backward(lib.tensor(w).view(tuple(out.shape)))
    return [t.detach().numpy() for t in (out, xt.grad)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", OPS)
def test_two_threads_give_the_bits_of_one(name, dtype, threads, monkeypatch, rng):
    if dtype == "float64" and name not in DOUBLES:
        pytest.skip("float64: a sample of the ops")
    if dtype == "float32" and name in SINGLES:
        pytest.skip("float32: one thread (see _kernels._one_thread)")
    fn, domain = OPS[name]
    x, y, w = _inputs(domain, dtype, rng)
    split = _kernels.in_two
    seen = set()  # the threads that ran a part of a split call

    def spy(work, start, stop, align):
        def traced(a, b):
            seen.add(threading.get_ident())
            return work(a, b)
        return split(traced, start, stop, align)
    monkeypatch.setattr(_kernels, "in_two", spy)
    ndgrad.set_num_threads(1)
    one = _run(ndgrad, fn, x, y, w)
    assert seen == {threading.get_ident()}
    seen.clear()
    ndgrad.set_num_threads(2)
    two = _run(ndgrad, fn, x, y, w)
    assert len(seen) == 2
    for a, b in zip(one, two):
        assert a.dtype == b.dtype and np.array_equal(a.view(np.uint8), b.view(np.uint8))
    want = _run(torch, fn, x, y, w)
    for a, b in zip(two, want):  # the op table's default tolerances
        finite = np.isfinite(b)  # NOTE: the kernels' own tests pin down inf and nan
        np.testing.assert_allclose(a[finite], b[finite], rtol=1e-4, atol=1e-5)


def test_set_num_threads_matches_torch(threads):
    for n in (1, 3, np.int64(2)):
        same(lambda t: (t.set_num_threads(n), t.get_num_threads()))
    for bad in (0, -1, 2.0, True, None, "2", np.int32(0)):
        same(lambda t: t.set_num_threads(bad))
    with pytest.raises(TypeError):
        ndgrad.get_num_threads(1)


def test_one_thread_runs_on_the_caller(threads, monkeypatch):
    seen = set()
    monkeypatch.setattr(_kernels, "SPLIT_MIN", 8)
    ndgrad.set_num_threads(1)
    _kernels.in_two(lambda a, b: seen.add(threading.get_ident()), 0, 100, 4)
    assert seen == {threading.get_ident()}
    ndgrad.set_num_threads(2)
    _kernels.in_two(lambda a, b: seen.add(threading.get_ident()), 0, 100, 4)
    assert len(seen) == 2


def test_the_worker_keeps_nothing_of_a_finished_call(threads, monkeypatch):
    # A part the worker held on to would pin the arrays of its call: memory, and .grad could
    # not adopt the gradient (it copies what another reference can still see).
    import weakref
    monkeypatch.setattr(_kernels, "SPLIT_MIN", 8)
    ndgrad.set_num_threads(2)
    result = np.zeros(100)
    flat = result.reshape(-1)
    _kernels.in_two(lambda a, b, flat=flat: flat[a:b].fill(1.0), 0, 100, 4)
    assert (result == 1.0).all()
    ref = weakref.ref(result)
    del result, flat
    assert ref() is None


def test_a_large_gradient_is_adopted_not_copied(threads):
    import weakref
    ndgrad.set_num_threads(2)
    n = 2 * _kernels.SPLIT_MIN
    x = ndgrad.tensor(np.linspace(-1, 1, n, dtype=np.float32), requires_grad=True)
    kept = []
    real = _kernels.fill

    def spy(f, arrays, attrs=()):
        r = real(f, arrays, attrs)
        kept.append(weakref.ref(r))  # a weak reference: adoption counts the strong ones
        return r
    try:
        _kernels.fill = spy
        x.relu().backward(ndgrad.ones(n))
    finally:
        _kernels.fill = real
    assert x.grad._data is kept[-1]()


def test_the_cut_falls_on_a_block(threads, monkeypatch):
    parts = []
    monkeypatch.setattr(_kernels, "SPLIT_MIN", 8)
    ndgrad.set_num_threads(2)
    _kernels.in_two(lambda a, b: parts.append((a, b)), 3, 103, 8)
    assert sorted(parts) == [(3, 51), (51, 103)]


def test_worker_errors_and_errstate_reach_the_caller(threads):
    """The worker's part runs under the caller's np.errstate, and what it raises, the caller
    raises: here only the second half overflows."""
    x = np.ones(N, np.float32)
    x[-1] = 1000.0
    for n in (1, 2):
        ndgrad.set_num_threads(n)
        x_, y_ = ndgrad.tensor(x), ndgrad.tensor(x * 10)
        with np.errstate(over="raise"), pytest.raises(FloatingPointError):
            ndgrad.pow(x_, y_)
        with np.errstate(over="ignore"):
            assert ndgrad.pow(x_, y_)[-1].item() == np.inf


def test_a_split_call_inside_a_part_runs_on_its_thread(threads, monkeypatch):
    monkeypatch.setattr(_kernels, "SPLIT_MIN", 8)
    ndgrad.set_num_threads(2)
    inner = []

    def outer(a, b):
        _kernels.in_two(lambda c, d: inner.append((threading.get_ident(), c, d)), a, b, 1)
    done = []
    th = threading.Thread(target=lambda: done.append(_kernels.in_two(outer, 0, 64, 1)), daemon=True)
    th.start()
    th.join(30)
    assert done, "a part that splits again waits for itself"
    # the caller's part, 0:32, splits again (0:16 here, 16:32 on the worker); the worker's part,
    # 32:64, runs whole on the worker
    parts = sorted(inner, key=lambda p: p[1])
    assert [p[1:] for p in parts] == [(0, 16), (16, 32), (32, 64)]
    assert parts[0][0] == th.ident and parts[1][0] == parts[2][0] != th.ident


CHILD = """
import sys, numpy as np, torch, ndgrad
x = ndgrad.tensor(np.linspace(-3, 3, 1 << 19, dtype=np.float32))
ndgrad.pow(x, x); ndgrad.nn.functional.gelu(x)  # the worker has started
print(torch.get_num_threads(), ndgrad.get_num_threads())
"""


def test_default_threads_match_torch_and_the_worker_lets_python_exit():
    """PyTorch's default, from the physical cores, OMP_NUM_THREADS, MKL_NUM_THREADS and
    MKL_DYNAMIC; each child uses the worker, then must exit by itself."""
    envs = [{"OMP_NUM_THREADS": "64,1"},  # no more than the physical cores
            {"OMP_NUM_THREADS": "3", "MKL_DYNAMIC": "false"},
            {"MKL_NUM_THREADS": "x", "OMP_NUM_THREADS": "3"}]
    children = []
    for env in envs:
        full = {k: v for k, v in os.environ.items()
                if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "MKL_DYNAMIC")}
        children.append(subprocess.Popen([sys.executable, "-c", CHILD], env={**full, **env},
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for child in children:
        try:
            out, err = child.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            for c in children:
                c.kill()
            pytest.fail("a child did not exit: a worker thread holds the interpreter")
        assert child.returncode == 0, err
        want, got = out.split()
        assert got == want


def test_without_the_variables_the_default_is_the_physical_cores(monkeypatch):
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "MKL_DYNAMIC"):
        monkeypatch.delenv(name, raising=False)
    unset = _kernels._default_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "4096")
    assert unset == _kernels._default_threads() == _kernels._physical_cores()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_a_forked_child_starts_its_own_worker(threads):
    ndgrad.set_num_threads(2)
    x = ndgrad.tensor(np.linspace(-3, 3, N, dtype=np.float32))
    want = ndgrad.exp2(x).numpy()  # the parent's worker has started
    pid = os.fork()
    if pid == 0:  # the child: without a worker of its own, the split call would wait forever
        try:
            ok = np.array_equal(ndgrad.exp2(x).numpy(), want)
        finally:
            os._exit(0 if ok else 1)
    for _ in range(600):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        threading.Event().wait(0.1)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung")
    assert os.waitstatus_to_exitcode(status) == 0
