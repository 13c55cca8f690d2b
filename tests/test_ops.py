"""Every row of the op table, checked against PyTorch and against float64 finite differences."""
import importlib
import inspect
import pkgutil

import numpy as np
import pytest
import torch

import ndgrad
import optable

# Each tests/op_rows_*.py registers its rows on import.
for _m in sorted(pkgutil.iter_modules([optable.__file__.rsplit("/", 1)[0]])):
    if _m.name.startswith("op_rows_"):
        importlib.import_module(_m.name)

ROWS = optable.ROWS
IDS = [r.name for r in ROWS]


def resolve(root, dotted):
    obj = root
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def to_lib(lib, x, requires_grad=False):
    if isinstance(x, np.ndarray):
        t = lib.tensor(x)
        if requires_grad:
            t.requires_grad_(True)
        return t
    if isinstance(x, (list, tuple)) and x and all(isinstance(v, np.ndarray) for v in x):
        return type(x)(to_lib(lib, v, requires_grad) for v in x)
    return x


def call(lib, row, sample, grad=False, arrays=None):
    fn = resolve(lib, row.torch_name if (lib is torch and row.torch_name) else row.name)
    args = list(sample.args if arrays is None else arrays)
    diff = sample.diff_indices()
    targs = [to_lib(lib, a, grad and i in diff) for i, a in enumerate(args)]
    return fn(*targs, **sample.kwargs), targs


def float_outputs(row, out):
    if row.outputs is not None:
        out = row.outputs(out)
    if isinstance(out, (tuple, list)):
        return [o for o in out if hasattr(o, "dtype") and (o.dtype.is_floating_point or o.dtype.is_complex)]
    return [out]


def as_np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def all_outputs(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


CASES = [(r, i) for r in ROWS for i in range(len(r.samples(np.random.default_rng(0))))]


def case_id(c):
    return f"{c[0].name}-{c[1]}"


def sample_of(row, i):
    return row.samples(np.random.default_rng(1234))[i]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_forward_matches_torch(case):
    row, i = case
    s = sample_of(row, i)
    got, _ = call(ndgrad, row, s)
    want, _ = call(torch, row, s)
    gs, ws = all_outputs(got), all_outputs(want)
    assert len(gs) == len(ws)
    for g, w in zip(gs, ws):
        if not hasattr(w, "dtype"):
            assert g == w
            continue
        assert str(g.dtype) == str(w.dtype)
        assert tuple(g.shape) == tuple(w.shape)
        np.testing.assert_allclose(as_np(g), as_np(w), rtol=row.rtol, atol=row.atol)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_method_matches_function(case):
    row, i = case
    if row.method is None:
        pytest.skip("no Tensor method")
    s = sample_of(row, i)
    if not isinstance(s.args[0], np.ndarray):
        pytest.skip("first argument is not a tensor")
    want, _ = call(torch, row, s)
    args = [to_lib(ndgrad, a) for a in s.args]
    got = getattr(args[0], row.method)(*args[1:], **s.kwargs)
    for g, w in zip(all_outputs(got), all_outputs(want)):
        np.testing.assert_allclose(as_np(g), as_np(w), rtol=row.rtol, atol=row.atol)


def _weighted_sum(lib, row, out, weights):
    total = None
    for o, w in zip(float_outputs(row, out), weights):
        term = (o * lib.tensor(w, dtype=o.dtype)).sum()
        total = term if total is None else total + term
    return total


def _weights(row, out, seed=7):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, size=tuple(o.shape)) for o in float_outputs(row, out)]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_gradient_matches_torch(case):
    row, i = case
    if not row.grad:
        pytest.skip("not differentiable")
    s = sample_of(row, i)
    if not s.diff_indices():
        pytest.skip("no floating input")
    got, gargs = call(ndgrad, row, s, grad=True)
    want, wargs = call(torch, row, s, grad=True)
    w = _weights(row, want)
    _weighted_sum(torch, row, want, w).backward()
    _weighted_sum(ndgrad, row, got, w).backward()
    for k in s.diff_indices():
        for ga, wa in zip(all_outputs(gargs[k]), all_outputs(wargs[k])):
            assert (ga.grad is None) == (wa.grad is None)
            if wa.grad is not None:
                assert str(ga.grad.dtype) == str(wa.grad.dtype)
                np.testing.assert_allclose(ga.grad.numpy(), wa.grad.numpy(), rtol=row.rtol,
                                           atol=max(row.atol, 1e-5))


def _f64(sample):
    return [a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
            for a in sample.args]


def _scalar_fn(row, sample, weights):
    """x (a flat vector of the differentiable inputs) -> <weights, f(x)> as an ndgrad scalar."""
    base = _f64(sample)
    diff = sample.diff_indices()
    shapes = [base[k].shape for k in diff]

    def f(flat_tensors):
        args = [ndgrad.tensor(a) if isinstance(a, np.ndarray) else a for a in base]
        for k, t in zip(diff, flat_tensors):
            args[k] = t
        fn = resolve(ndgrad, row.name)
        out = fn(*args, **sample.kwargs)
        return _weighted_sum(ndgrad, row, out, weights)
    return f, base, diff, shapes


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_finite_differences(case):
    """First and second directional derivatives against float64 central differences."""
    row, i = case
    if not row.grad:
        pytest.skip("not differentiable")
    s = sample_of(row, i)
    if not s.diff_indices():
        pytest.skip("no floating input")
    out, _ = call(ndgrad, row, s)
    w = _weights(row, out)
    f, base, diff, shapes = _scalar_fn(row, s, w)
    rng = np.random.default_rng(99)
    project = row.project or (lambda d: d)
    v = [project(rng.uniform(-1, 1, size=sh)) for sh in shapes]
    u = [project(rng.uniform(-1, 1, size=sh)) for sh in shapes]

    def value(eps, direction):
        ts = [ndgrad.tensor(base[k] + eps * d) for k, d in zip(diff, direction)]
        return f(ts).item()

    h = 1e-6
    fd = (value(h, v) - value(-h, v)) / (2 * h)
    xs = [ndgrad.tensor(base[k], requires_grad=True) for k in diff]
    grads = ndgrad.autograd.grad(f(xs), xs, create_graph=True, allow_unused=True)
    analytic = sum(float((g.detach().numpy() * d).sum()) for g, d in zip(grads, v) if g is not None)
    np.testing.assert_allclose(analytic, fd, rtol=1e-4, atol=row.fd_atol)
    if not row.gradgrad:
        return
    # d/de <grad f(x + e v), u> against the Hessian-vector product from double backward
    def grad_dot_u(eps):
        ts = [ndgrad.tensor(base[k] + eps * d, requires_grad=True) for k, d in zip(diff, v)]
        gs = ndgrad.autograd.grad(f(ts), ts, allow_unused=True)
        return sum(float((g.numpy() * d).sum()) for g, d in zip(gs, u) if g is not None)
    h2 = 1e-5
    fd2 = (grad_dot_u(h2) - grad_dot_u(-h2)) / (2 * h2)
    gu = None
    for g, d in zip(grads, u):
        if g is not None and g.requires_grad:
            term = (g * ndgrad.tensor(d)).sum()
            gu = term if gu is None else gu + term
    if gu is None:
        analytic2 = 0.0
    else:
        hv = ndgrad.autograd.grad(gu, xs, allow_unused=True)
        analytic2 = sum(float((g.numpy() * d).sum()) for g, d in zip(hv, v) if g is not None)
    np.testing.assert_allclose(analytic2, fd2, rtol=1e-3, atol=max(row.fd_atol, 1e-4))


# -- coverage: every public op has a row -------------------------------------------------------
OP_MODULES = ("ndgrad._api", "ndgrad._math", "ndgrad._reduce", "ndgrad._shape", "ndgrad._linalg",
              "ndgrad.nn.functional")
NOT_OPS = {"ndgrad_tensor", "getitem", "setitem", "to_dtype"}


def public_ops():
    """Dotted names of the public op functions in ndgrad, ndgrad.linalg, ndgrad.nn.functional."""
    names = set()
    for prefix, ns in (("", ndgrad), ("linalg.", ndgrad.linalg), ("nn.functional.", ndgrad.nn.functional)):
        for name in dir(ns):
            obj = getattr(ns, name)
            if inspect.isfunction(obj) and obj.__module__.startswith(OP_MODULES) and \
                    obj.__name__ not in NOT_OPS and not name.startswith("_"):
                names.add(prefix + name)
    return names


def test_every_public_op_has_a_row():
    covered = {r.name for r in ROWS} | {r.alias for r in ROWS if r.alias}
    missing = sorted(public_ops() - covered - set(optable.ALIASES))
    assert not missing, f"ops without a row in tests/op_rows_*.py: {missing}"
