"""Linear algebra beyond the op table: error types and texts, grad_fn names, named-tuple reprs,
norm subgradients at 0, cholesky/eigh gradients along symmetric directions, rectangular SVDs
(compared through sign-invariant functions) and QR's non-differentiable modes."""
import numpy as np
import pytest
import torch

import ndgrad

LIBS = (torch, ndgrad)


def r64(lib, *shape, seed=0):
    return lib.tensor(np.random.default_rng(seed).standard_normal(shape))


def spd(n, batch=(), seed=0):
    m = np.random.default_rng(seed).standard_normal(batch + (n, n))
    return m @ np.swapaxes(m, -1, -2) + n * np.eye(n)


def outcome(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the type and text are what is compared
        return type(e).__name__.lstrip("_"), str(e), isinstance(e, RuntimeError)
    return None


# -- errors ------------------------------------------------------------------------------------
ERRORS = {
    "mm shapes": lambda L: L.mm(r64(L, 2, 3), r64(L, 2, 3)),
    "mm not matrix": lambda L: L.mm(r64(L, 3), r64(L, 3, 2)),
    "mm dtypes": lambda L: L.mm(r64(L, 2, 3), r64(L, 3, 2).float()),
    "matmul 2x2": lambda L: r64(L, 2, 3) @ r64(L, 2, 3),
    "matmul 1x1": lambda L: r64(L, 3) @ r64(L, 4),
    "matmul 2x1": lambda L: r64(L, 2, 3) @ r64(L, 4),
    "matmul 1x2": lambda L: r64(L, 3) @ r64(L, 4, 2),
    "matmul batch": lambda L: r64(L, 5, 2, 3) @ r64(L, 4, 3, 2),
    "matmul inner": lambda L: r64(L, 5, 2, 3) @ r64(L, 5, 4, 2),
    "matmul list other": lambda L: L.matmul(r64(L, 2, 2), [1.0, 2.0]),
    "matmul number input": lambda L: L.matmul(3, r64(L, 2, 2)),
    "matmul 1x2 dtypes": lambda L: L.matmul(r64(L, 3), r64(L, 3, 2).float()),
    "matmul 1x2 shapes": lambda L: L.matmul(r64(L, 3), r64(L, 4, 2)),
    "matmul 3x1": lambda L: r64(L, 5, 2, 3) @ r64(L, 4),
    "matmul 3x2": lambda L: r64(L, 5, 2, 3) @ r64(L, 4, 2),
    "matmul 1x3": lambda L: r64(L, 3) @ r64(L, 5, 4, 2),
    "matmul 0d": lambda L: L.matmul(r64(L), r64(L, 3)),
    "matmul dtypes": lambda L: r64(L, 2, 3) @ r64(L, 3, 2).float(),
    "bmm 2d": lambda L: L.bmm(r64(L, 2, 3), r64(L, 3, 2)),
    "bmm shapes": lambda L: L.bmm(r64(L, 4, 2, 3), r64(L, 5, 3, 2)),
    "mv shapes": lambda L: L.mv(r64(L, 2, 3), r64(L, 4)),
    "mv ranks": lambda L: L.mv(r64(L, 3), r64(L, 3)),
    "dot 2d": lambda L: L.dot(r64(L, 2, 3), r64(L, 2, 3)),
    "dot sizes": lambda L: L.dot(r64(L, 3), r64(L, 4)),
    "dot dtypes": lambda L: L.dot(r64(L, 3), r64(L, 3).float()),
    "outer 2d": lambda L: L.outer(r64(L, 3, 2), r64(L, 3)),
    "einsum sizes": lambda L: L.einsum("ij,jk->ik", r64(L, 2, 3), r64(L, 2, 3)),
    "einsum operands": lambda L: L.einsum("ij,jk->ik", r64(L, 2, 3)),
    "einsum subscripts": lambda L: L.einsum("ijk->ik", r64(L, 2, 3)),
    "einsum dtypes": lambda L: L.einsum("ij,jk", r64(L, 2, 3).float(), r64(L, 3, 2)),
    "tensordot sizes": lambda L: L.tensordot(r64(L, 2, 3), r64(L, 2, 3), dims=1),
    "inv singular": lambda L: L.linalg.inv(L.zeros(3, 3)),
    "inv singular batch": lambda L: L.linalg.inv(L.zeros(2, 3, 3)),
    "inv rank 1": lambda L: L.linalg.inv(L.tensor([[1., 2.], [2., 4.]])),
    "inv not square": lambda L: L.linalg.inv(r64(L, 2, 3)),
    "inv 1d": lambda L: L.linalg.inv(r64(L, 3)),
    "inv int": lambda L: L.linalg.inv(L.arange(4).reshape(2, 2)),
    "det not square": lambda L: L.linalg.det(r64(L, 2, 3)),
    "cholesky not pd": lambda L: L.linalg.cholesky(-L.eye(3)),
    "cholesky batch": lambda L: L.linalg.cholesky(L.tensor([[[1., 0], [0, 1]], [[1, 2], [2, 1]]])),
    "solve singular": lambda L: L.linalg.solve(L.zeros(3, 3, dtype=L.float64), r64(L, 3)),
    "solve dtypes": lambda L: L.linalg.solve(L.zeros(3, 3), r64(L, 3)),
    "solve shapes": lambda L: L.linalg.solve(r64(L, 3, 3), r64(L, 4, 2)),
    "qr mode": lambda L: L.linalg.qr(r64(L, 3, 3), mode="x"),
    "qr 1d": lambda L: L.linalg.qr(r64(L, 3)),
    "eigh UPLO": lambda L: L.linalg.eigh(r64(L, 3, 3), UPLO="X"),
    "svd 1d": lambda L: L.linalg.svd(r64(L, 3)),
    "vector_norm int": lambda L: L.linalg.vector_norm(L.arange(3)),
    "vector_norm inf empty": lambda L: L.linalg.vector_norm(r64(L, 0), float("inf")),
    "vector_norm dims": lambda L: L.linalg.vector_norm(r64(L, 3, 3), dim=(0, 0)),
    "matrix_norm 1d": lambda L: L.linalg.matrix_norm(r64(L, 3)),
    "matrix_norm ord": lambda L: L.linalg.matrix_norm(r64(L, 3, 3), 3),
    "norm nuc dim": lambda L: L.norm(r64(L, 3, 3), p="nuc", dim=0),
    "linalg.norm 3d": lambda L: L.linalg.norm(r64(L, 3, 3, 3), 2),
    "qr mode r backward": lambda L: L.linalg.qr(r64(L, 3, 4).requires_grad_(), mode="r")[1].sum().backward(),
    "qr complete tall backward":
        lambda L: L.linalg.qr(r64(L, 4, 3).requires_grad_(), mode="complete")[0].sum().backward(),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_error_matches_torch(name):
    want = outcome(lambda: ERRORS[name](torch))
    assert want is not None
    assert outcome(lambda: ERRORS[name](ndgrad)) == want


def test_linalg_error_is_a_runtime_error():
    with pytest.raises(ndgrad.linalg.LinAlgError):
        ndgrad.linalg.cholesky(-ndgrad.eye(2))
    assert issubclass(ndgrad.linalg.LinAlgError, RuntimeError)


# -- grad_fn names -----------------------------------------------------------------------------
NAMED = {
    "dot": lambda L, a, b: a[0] @ b[0, :, 0],
    "mv": lambda L, a, b: a @ b[0, :, 0],
    "squeeze": lambda L, a, b: a[0] @ b[0],
    "mm": lambda L, a, b: a @ b[0],
    "unsafe view": lambda L, a, b: a.reshape(2, 1, 3) @ b[0],
    "clone": lambda L, a, b: a[0] @ b,
    "bmm": lambda L, a, b: L.bmm(a[None], b[:1]),
    "outer": lambda L, a, b: L.outer(a[0], b[0, 0]),
    "einsum mul": lambda L, a, b: L.einsum("ij,ij->ij", a, a),
    "einsum sum": lambda L, a, b: L.einsum("ij->", a),
    "einsum permute": lambda L, a, b: L.einsum("ij->ji", a),
    "einsum view": lambda L, a, b: L.einsum("ij,kjl->ikl", a, b),
    "tensordot": lambda L, a, b: L.tensordot(a, b, dims=([1], [1])),
    "inv": lambda L, a, b: L.linalg.inv(a[:, :2]),
    "det": lambda L, a, b: L.linalg.det(a[:, :2]),
    "slogdet": lambda L, a, b: L.linalg.slogdet(a[:, :2]).logabsdet,
    "slogdet sign": lambda L, a, b: L.linalg.slogdet(a[:, :2]).sign,
    "solve": lambda L, a, b: L.linalg.solve(a[:, :2], b[0, :2]),
    "cholesky": lambda L, a, b: L.linalg.cholesky(a @ a.mT),
    "qr": lambda L, a, b: L.linalg.qr(a).R,
    "svd": lambda L, a, b: L.linalg.svd(a).S,
    "eigh": lambda L, a, b: L.linalg.eigh(a @ a.mT).eigenvectors,
    "norm": lambda L, a, b: L.norm(a),
    "vector_norm": lambda L, a, b: L.linalg.vector_norm(a, 1),
    "norm nuc": lambda L, a, b: L.norm(a, "nuc"),
    **{f"matrix_norm {o}": (lambda L, a, b, o=o: L.linalg.matrix_norm(a, o))
       for o in ("fro", "nuc", 1, -1, 2, -2, float("inf"), -float("inf"))},
}


@pytest.mark.parametrize("name", list(NAMED))
def test_grad_fn_names(name):
    got = []
    for L in LIBS:
        a = r64(L, 2, 3, seed=1).requires_grad_()
        b = r64(L, 4, 3, 2, seed=2).requires_grad_()
        got.append(type(NAMED[name](L, a, b).grad_fn).__name__)
    assert got[0] == got[1]


def test_matmul_name_depends_on_which_side_requires_grad():
    for L in LIBS:
        a, b = r64(L, 2, 3), r64(L, 4, 3, 2)
        assert type((a.requires_grad_() @ b).grad_fn).__name__ == "CloneBackward0"
        assert type((r64(L, 2, 3) @ b.requires_grad_()).grad_fn).__name__ == "UnsafeViewBackward0"


# -- results that print like PyTorch's ---------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda L, A: L.linalg.slogdet(A), lambda L, A: L.linalg.qr(A), lambda L, A: L.linalg.eigh(A),
    lambda L, A: L.linalg.svd(A), lambda L, A: L.linalg.qr(A, mode="r"),
    lambda L, A: A @ A, lambda L, A: L.matmul(L.arange(4).reshape(2, 2), L.arange(2))])
def test_repr_matches_torch(fn):
    reprs = [repr(fn(L, L.tensor([[2., 1.], [1., 3.]], requires_grad=True))) for L in LIBS]
    assert reprs[0] == reprs[1]


def test_named_fields_and_tuple_unpacking():
    A = ndgrad.tensor(spd(3))
    res = ndgrad.linalg.slogdet(A)
    sign, logabsdet = res
    assert res.sign is sign and res.logabsdet is logabsdet
    assert ndgrad.linalg.eigh(A)._fields == ("eigenvalues", "eigenvectors")
    assert ndgrad.linalg.svd(A)._fields == ("U", "S", "Vh")


# -- norms: subgradient 0 where the norm is 0 ---------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda L, z: L.norm(z), lambda L, z: L.linalg.vector_norm(z, 3, dim=1).sum(),
    lambda L, z: L.linalg.vector_norm(z, float("inf")), lambda L, z: L.linalg.vector_norm(z, 1),
    lambda L, z: L.linalg.vector_norm(z, 1.5), lambda L, z: L.linalg.matrix_norm(z),
    lambda L, z: L.linalg.norm(z, dim=0).sum()])
def test_norm_gradient_at_zero_is_zero(make):
    data = np.zeros((2, 3))
    data[1] = [1., -2., 0.]  # one zero row, and a zero inside a nonzero row
    got = []
    for L in LIBS:
        z = L.tensor(data, requires_grad=True)
        make(L, z).backward()
        got.append(z.grad.numpy())
    assert not np.isnan(got[1]).any()
    np.testing.assert_allclose(got[1], got[0], atol=1e-12)


def test_norm_at_zero_second_derivative_is_finite():
    z = ndgrad.zeros(3, dtype=ndgrad.float64, requires_grad=True)
    (g,) = ndgrad.autograd.grad(ndgrad.norm(z), z, create_graph=True)
    (h,) = ndgrad.autograd.grad(g.sum(), z)
    assert not np.isnan(h.numpy()).any()


def test_vector_norm_ord_zero_has_no_gradient():
    for L in LIBS:
        x = r64(L, 3, 4).requires_grad_()
        y = L.linalg.vector_norm(x, 0)
        assert y.requires_grad
        y.backward()
        assert x.grad is None


# -- gradients checked along symmetric directions, and rectangular SVDs ------------------------
def _value_and_grads(L, make, arrays, seed=7):
    xs = [L.tensor(a, requires_grad=True) for a in arrays]
    outs = make(L, *xs)
    outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
    rng = np.random.default_rng(seed)
    total = sum((o * L.tensor(rng.uniform(-1, 1, tuple(o.shape)))).sum() for o in outs)
    total.backward()
    return [o.detach().numpy() for o in outs], [x.grad.numpy() for x in xs]


def _fd_check(make, arrays, directions, seed=7):
    """First and second directional derivatives of <w, make(x)> along ``directions`` against
    float64 central differences."""
    rng = np.random.default_rng(seed)

    def f(xs):
        outs = make(ndgrad, *xs)
        outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
        wr = np.random.default_rng(seed)
        return sum((o * ndgrad.tensor(wr.uniform(-1, 1, tuple(o.shape)))).sum() for o in outs)

    v = directions(rng)
    u = directions(rng)
    h = 1e-6
    shifted = lambda e, d: [ndgrad.tensor(a + e * x) for a, x in zip(arrays, d)]  # noqa: E731
    fd = (f(shifted(h, v)).item() - f(shifted(-h, v)).item()) / (2 * h)
    xs = [ndgrad.tensor(a, requires_grad=True) for a in arrays]
    gs = ndgrad.autograd.grad(f(xs), xs, create_graph=True)
    analytic = sum(float((g.detach().numpy() * d).sum()) for g, d in zip(gs, v))
    np.testing.assert_allclose(analytic, fd, rtol=1e-5, atol=1e-7)

    def grad_dot_u(e):
        ts = [ndgrad.tensor(a + e * x, requires_grad=True) for a, x in zip(arrays, v)]
        return sum(float((g.numpy() * d).sum())
                   for g, d in zip(ndgrad.autograd.grad(f(ts), ts), u))
    h2 = 1e-5
    fd2 = (grad_dot_u(h2) - grad_dot_u(-h2)) / (2 * h2)
    gu = sum((g * ndgrad.tensor(d)).sum() for g, d in zip(gs, u))
    hv = ndgrad.autograd.grad(gu, xs)
    analytic2 = sum(float((g.numpy() * d).sum()) for g, d in zip(hv, v))
    np.testing.assert_allclose(analytic2, fd2, rtol=1e-4, atol=1e-6)


def _sym_directions(shape):
    def make(rng):
        d = rng.uniform(-1, 1, shape)
        return [d + np.swapaxes(d, -1, -2)]
    return make


SYMMETRIC = {
    "cholesky": (lambda L, A: L.linalg.cholesky(A), spd(3)),
    "cholesky batched upper": (lambda L, A: L.linalg.cholesky(A, upper=True), spd(4, (2,), seed=1)),
    "eigh": (lambda L, A: (lambda l, v: (l, v.abs()))(*L.linalg.eigh(A)), spd(3, seed=2)),
    "eigh batched U": (lambda L, A: (lambda l, v: (l, v.abs()))(*L.linalg.eigh(A, UPLO="U")),
                       spd(3, (2,), seed=3)),
    "eigh values": (lambda L, A: L.linalg.eigh(A).eigenvalues, spd(4, seed=4)),
    "eigh vectors": (lambda L, A: (lambda v: v * v[..., :1, :].sign())(L.linalg.eigh(A)[1]),
                     spd(4, seed=5)),
}


@pytest.mark.parametrize("name", list(SYMMETRIC))
def test_symmetric_input_gradients(name):
    make, A = SYMMETRIC[name]
    want_out, want_grad = _value_and_grads(torch, make, [A])
    got_out, got_grad = _value_and_grads(ndgrad, make, [A])
    for g, w in zip(got_out + got_grad, want_out + want_grad):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-8)
    _fd_check(make, [A], _sym_directions(A.shape))


def _svd_invariants(full):
    def make(L, A):
        U, S, Vh = L.linalg.svd(A, full_matrices=full)
        k = S.shape[-1]
        U, Vh = U[..., :k], Vh[..., :k, :]
        return S, U.abs(), Vh.abs(), U @ (S[..., None] * Vh)
    return make


@pytest.mark.parametrize("shape,full", [((5, 3), False), ((3, 5), False), ((2, 4, 3), False),
                                        ((5, 3), True), ((2, 3, 4), True)])
def test_rectangular_svd(shape, full):
    A = np.random.default_rng(11).standard_normal(shape)
    make = _svd_invariants(full)
    want_out, want_grad = _value_and_grads(torch, make, [A])
    got_out, got_grad = _value_and_grads(ndgrad, make, [A])
    for g, w in zip(got_out + got_grad, want_out + want_grad):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-8)
    U, S, Vh = ndgrad.linalg.svd(ndgrad.tensor(A), full_matrices=full)
    assert tuple(U.shape) == tuple(torch.linalg.svd(torch.tensor(A), full_matrices=full).U.shape)
    _fd_check(make, [A], lambda rng: [rng.uniform(-1, 1, shape)])


def test_qr_mode_r_forward():
    A = np.random.default_rng(3).standard_normal((4, 3))
    q, r = ndgrad.linalg.qr(ndgrad.tensor(A), mode="r")
    tq, tr = torch.linalg.qr(torch.tensor(A), mode="r")
    assert tuple(q.shape) == tuple(tq.shape) == (0,)
    np.testing.assert_allclose(r.numpy(), tr.numpy(), atol=1e-12)


# -- second derivatives against PyTorch's double backward --------------------------------------
@pytest.mark.parametrize("make", [
    lambda L, a: (a @ a.mT @ a).sum() ** 2,
    lambda L, a: L.linalg.det(a @ a.mT + L.eye(3, dtype=L.float64)),
    lambda L, a: L.linalg.inv(a @ a.mT + L.eye(3, dtype=L.float64)).sum() ** 2,
    lambda L, a: L.einsum("ij,kj,kl->il", a, a, a).pow(2).sum(),
    lambda L, a: L.linalg.vector_norm(a, 3) ** 2])
def test_hessian_vector_product_matches_torch(make):
    A = np.random.default_rng(4).standard_normal((3, 4))
    v = np.random.default_rng(5).standard_normal((3, 4))
    res = []
    for L in LIBS:
        a = L.tensor(A, requires_grad=True)
        (g,) = L.autograd.grad(make(L, a), a, create_graph=True)
        (h,) = L.autograd.grad((g * L.tensor(v)).sum(), a)
        res.append(h.numpy())
    np.testing.assert_allclose(res[1], res[0], rtol=1e-7, atol=1e-9)


# -- operators, methods, dtypes ----------------------------------------------------------------
def test_matmul_operator_and_methods():
    a, b = np.arange(6.).reshape(2, 3), np.arange(3.)
    for name, args in [("matmul", (b,)), ("mv", (b,)), ("dot", ()), ("outer", ()), ("norm", ())]:
        x = a if name in ("matmul", "mv") else b
        got = getattr(ndgrad.tensor(x), name)(*[ndgrad.tensor(y) for y in (args or (b,))]) \
            if name != "norm" else ndgrad.tensor(x).norm()
        want = getattr(torch.tensor(x), name)(*[torch.tensor(y) for y in (args or (b,))]) \
            if name != "norm" else torch.tensor(x).norm()
        np.testing.assert_allclose(got.numpy(), want.numpy())
    assert ndgrad.Tensor.__rmatmul__(ndgrad.tensor(b), ndgrad.tensor(a)).tolist() == [5.0, 14.0]


def test_integer_matmul_keeps_integer_dtype():
    for L in LIBS:
        out = L.arange(6).reshape(2, 3) @ L.arange(3)
        assert str(out.dtype) == "torch.int64"
        assert out.tolist() == [5, 14]


def test_einsum_accepts_a_list_of_operands():
    a, b = np.arange(6.).reshape(2, 3), np.arange(12.).reshape(3, 4)
    got = ndgrad.einsum("ij,jk", [ndgrad.tensor(a), ndgrad.tensor(b)])
    np.testing.assert_allclose(got.numpy(), a @ b)


def test_solve_left_false_and_broadcast_batches():
    rng = np.random.default_rng(8)
    A = rng.standard_normal((2, 1, 3, 3)) + 3 * np.eye(3)
    B = rng.standard_normal((4, 3, 2))
    want_out, want_grad = _value_and_grads(torch, lambda L, a, b: L.linalg.solve(a, b), [A, B])
    got_out, got_grad = _value_and_grads(ndgrad, lambda L, a, b: L.linalg.solve(a, b), [A, B])
    for g, w in zip(got_out + got_grad, want_out + want_grad):
        np.testing.assert_allclose(g, w, rtol=1e-7, atol=1e-9)
