"""Matrix products, einsum, decompositions and norms (`torch.matmul`, `torch.linalg`).

Each decomposition is a primitive whose rule is written with ``xp`` so every derivative order works;
``ndgrad.linalg`` (``linalg.py``) re-exports the ``linalg.*`` functions defined here.
"""
from __future__ import annotations

import inspect
import math

import numpy as np

from . import _ops as O
from ._ops import NX, TX, apply, binary, defop
from ._tensor import Tensor, _c10_name, _wrap_dim
from ._reduce import AMAX, AMIN  # the matrix norms' max/min over a dim, ties split evenly
from .return_types import _structseq

__all__ = ["matmul", "mm", "bmm", "mv", "dot", "outer", "einsum", "tensordot", "norm"]


class LinAlgError(RuntimeError):
    """Raised when a decomposition or solve fails (`torch.linalg.LinAlgError`)."""


SlogdetResult = _structseq("linalg_slogdet", ("sign", "logabsdet"))
QRResult = _structseq("linalg_qr", ("Q", "R"))
SVDResult = _structseq("linalg_svd", ("U", "S", "Vh"))
EighResult = _structseq("linalg_eigh", ("eigenvalues", "eigenvectors"))


# ---------------------------------------------------------------------------------------------
# Helpers the rules use (added to both array namespaces)
# ---------------------------------------------------------------------------------------------

def _mT(a):
    # PERF: the method, not np.swapaxes and its Python wrapper: ~3k instructions less a call
    return a.swapaxes(-1, -2)


def _eye_mask(n: int) -> np.ndarray:
    return np.eye(n, dtype=bool)


def _diag_embed(xp, v):
    """A batch of diagonal matrices with ``v`` on the diagonal (``v``'s dtype kept)."""
    return xp.where(_eye_mask(v.shape[-1]), v[..., None], 0.0)


# ---------------------------------------------------------------------------------------------
# Products
# ---------------------------------------------------------------------------------------------

def _matmul_grad_a(xp, g, a, b):
    if b.ndim == 1:
        return g * b if a.ndim == 1 else g[..., None] * b
    if a.ndim == 1:
        return xp.matmul(b, g[..., None])[..., 0]
    return xp.matmul(g, xp.mT(b))


def _matmul_grad_b(xp, g, a, b):
    if a.ndim == 1:
        return g * a if b.ndim == 1 else a[:, None] * g[..., None, :]
    if b.ndim == 1:
        return xp.matmul(xp.mT(a), g[..., None])[..., 0]
    if a.shape[-2] == 1:
        # PERF: a contraction of length 1 is an outer product; batched (per-sample gradients
        # under vmap), broadcasting beats one tiny GEMM per batch element (~3x).
        return xp.mT(a) * g
    return xp.matmul(xp.mT(a), g)


# NOTE: one primitive (NumPy's matmul, 1-D operands included) under the names PyTorch's own
# decomposition of matmul leaves on the result; the engine sums broadcast batch gradients.
_MATMUL = {name: defop(name, "a b", np.matmul, _matmul_grad_a, _matmul_grad_b)
           for name in ("MmBackward0", "BmmBackward0", "MvBackward0", "DotBackward0",
                        "SqueezeBackward4", "UnsafeViewBackward0", "CloneBackward0")}
TRANSPOSE = defop("TransposeBackward0", "a", _mT, lambda xp, g: xp.mT(g), dtype="keep")


def _same_dtype(a: Tensor, b: Tensor) -> None:
    if a._data.dtype != b._data.dtype:
        raise RuntimeError("expected m1 and m2 to have the same dtype, but got: "
                           f"{_c10_name(a.dtype)} != {_c10_name(b.dtype)}")


def _mm_error(sa, sb):
    raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({sa[0]}x{sa[1]} and "
                       f"{sb[0]}x{sb[1]})")


def _batch_error(batch, k, b_batch, b_k):
    raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                       f"[{batch}, {k}] but got: [{b_batch}, {b_k}].")


def _requires(t: Tensor) -> bool:
    return t._grad_fn is not None or t._requires_grad


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """The matrix product of two tensors, with NumPy's rules for 1-D and batched operands.

    >>> import ndgrad
    >>> ndgrad.matmul(ndgrad.tensor([[1., 2.]]), ndgrad.tensor([3., 4.]))
    tensor([11.])
    """
    plain = type(input) is Tensor and type(other) is Tensor
    if not plain:
        for pos, (name, t) in enumerate((("input", input), ("other", other)), 1):
            if not isinstance(t, Tensor):
                raise TypeError(f"matmul(): argument '{name}' (position {pos}) must be Tensor, "
                                f"not {type(t).__name__}")
    a, b = input._data, other._data
    da, db = a.ndim, b.ndim
    if da == 0 or db == 0:
        raise RuntimeError("both arguments to matmul need to be at least 1D, but they are "
                           f"{da}D and {db}D")
    if da == 1 and db == 1:
        return dot(input, other)
    if da == 2 and db == 1:
        return mv(input, other)
    if da <= 2 and db <= 2:
        if a.dtype != b.dtype:
            _same_dtype(input, other)
        if a.shape[-1] != b.shape[0]:
            _mm_error(a.shape if da == 2 else (1,) + a.shape, b.shape)
        op = _MATMUL["MmBackward0" if da == 2 else "SqueezeBackward4"]
        if plain:
            # PERF: one dtype, shapes checked: binary's hot path, not apply's promotion and its
            # generic record. `x @ w`, (64, 4) by (4, 4) float32 with grad: 53.4k -> 32.0k
            # instructions (NumPy's matmul alone: 11.6k).
            return binary(op, input, other)
        return apply(op, input, other)
    _same_dtype(input, other)
    sa, sb = tuple(input.shape), tuple(other.shape)
    ka = sa[-1]
    kb = sb[0] if db == 1 else sb[-2]
    try:
        batch = np.broadcast_shapes(sa[:-2], sb[:-2] if db > 1 else ())
    except ValueError:
        raise _broadcast_error(sa[:-2], sb[:-2]) from None
    if ka != kb:
        if db == 1:
            rows = math.prod(sa[:-1])
            raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{ka}), vec ({kb})")
        if db == 2:
            _mm_error((math.prod(sa[:-1]), ka), sb)
        _batch_error(math.prod(batch), ka, math.prod(batch), kb)
    name = "UnsafeViewBackward0"
    if da >= 2 and db >= 3 and math.prod(sa[:-2]) == 1 and _requires(input):
        name = "CloneBackward0"
    return apply(_MATMUL[name], input, other)


def _broadcast_error(sa, sb) -> RuntimeError:
    """PyTorch's error for batch shapes that do not broadcast (the last dim that clashes)."""
    n = max(len(sa), len(sb))
    pa, pb = (1,) * (n - len(sa)) + tuple(sa), (1,) * (n - len(sb)) + tuple(sb)
    i = max(i for i in range(n) if pa[i] != pb[i] and pa[i] != 1 and pb[i] != 1)
    return RuntimeError(f"The size of tensor a ({pa[i]}) must match the size of tensor b "
                        f"({pb[i]}) at non-singleton dimension {i}")


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """The product of two matrices."""
    if input.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    _same_dtype(input, mat2)
    if input.shape[1] != mat2.shape[0]:
        _mm_error(input.shape, mat2.shape)
    return apply(_MATMUL["MmBackward0"], input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """The products of two batches of matrices, ``(b, n, m) @ (b, m, p)``."""
    if input.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if mat2.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    _same_dtype(input, mat2)
    b, _, k = input.shape
    if tuple(mat2.shape[:2]) != (b, k):
        _batch_error(b, k, mat2.shape[0], mat2.shape[1])
    return apply(_MATMUL["BmmBackward0"], input, mat2)


def mv(input: Tensor, vec: Tensor) -> Tensor:
    """The product of a matrix and a vector."""
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input.ndim}, {vec.ndim}")
    _same_dtype(input, vec)
    n, k = input.shape
    if vec.shape[0] != k:
        raise RuntimeError(f"size mismatch, got input ({n}), mat ({n}x{k}), vec ({vec.shape[0]})")
    return apply(_MATMUL["MvBackward0"], input, vec)


def dot(input: Tensor, tensor: Tensor) -> Tensor:
    """The inner product of two 1-D tensors.

    >>> import ndgrad
    >>> ndgrad.dot(ndgrad.tensor([1., 2.]), ndgrad.tensor([3., 4.]))
    tensor(11.)
    """
    if input.ndim != 1 or tensor.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {tensor.ndim}D tensors")
    if input._data.dtype != tensor._data.dtype:
        raise RuntimeError("dot : expected both vectors to have same dtype, but found "
                           f"{input.dtype._legacy} and {tensor.dtype._legacy}")
    n, m = input.shape[0], tensor.shape[0]
    if n != m:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{n}] and src [{m}] to have "
                           f"the same number of elements, but got {n} and {m} elements respectively")
    return apply(_MATMUL["DotBackward0"], input, tensor)


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """The outer product of two vectors: ``input[:, None] * vec2``."""
    if input.ndim != 1:
        raise RuntimeError(f"outer: Expected 1-D argument self, but got {input.ndim}-D")
    if vec2.ndim != 1:
        raise RuntimeError(f"outer: Expected 1-D argument vec2, but got {vec2.ndim}-D")
    return input[:, None] * vec2


# -- einsum ------------------------------------------------------------------------------------
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _einsum_grad(xp, g, eq, i, ops):
    """The gradient for operand ``i`` of ``einsum(eq, *ops)``: one more einsum, with an identity
    operand for each repeated subscript (a diagonal) and a ones operand for each subscript that
    was summed out of this operand alone."""
    lhs, out = eq.split("->")
    terms = lhs.split(",")
    mine = terms[i]
    shape = ops[i].shape
    subs = [out] + [t for k, t in enumerate(terms) if k != i]
    operands = [g] + [o for k, o in enumerate(ops) if k != i]
    free = iter(c for c in _LETTERS if c not in eq)
    target = []
    for c, n in zip(mine, shape):
        if c in target:
            c2 = next(free)
            subs.append(c + c2)
            operands.append(xp.asarray(np.eye(n, dtype=_np_dtype(g))))
            c = c2
        target.append(c)
    present = "".join(subs)
    for c, n in zip(target, shape):
        if c not in present:
            subs.append(c)
            operands.append(xp.asarray(np.ones(n, dtype=_np_dtype(g))))
    return xp.einsum(",".join(subs) + "->" + "".join(target), *operands)


def _np_dtype(x):
    return x._data.dtype if isinstance(x, Tensor) else np.asarray(x).dtype


def _einsum_name(eq: str) -> str:
    """The grad_fn PyTorch's decomposition of einsum leaves on the result."""
    lhs, out = eq.split("->")
    terms = lhs.split(",")
    if len(terms) == 1:
        return "SumBackward1" if len(set(out)) < len(set(terms[0])) else "PermuteBackward0"
    if len(terms) == 2 and set(out) == set(lhs) - {","}:
        return "MulBackward0"
    return "ViewBackward0"


_EINSUM_OPS: dict = {}


def _einsum_op(n: int, name: str):
    """The einsum primitive for ``n`` operands (made on first use, one per grad_fn name)."""
    key = (n, name)
    op = _EINSUM_OPS.get(key)
    if op is None:
        names = [f"x{k}" for k in range(n)]
        params = [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                  for p in ["xp", "g", *names, "eq"]]
        rules = []
        for i in range(n):
            def rule(xp, g, *rest, i=i):
                return _einsum_grad(xp, g, rest[-1], i, rest[:-1])
            # NOTE: the op table looks rule parameters up by name, so each rule declares that
            # it reads every operand (x0, x1, ...) and the equation.
            rule.__signature__ = inspect.Signature(params)
            rules.append(rule)
        op = _EINSUM_OPS[key] = defop(
            name, " ".join(names), lambda *a: np.einsum(a[-1], *a[:-1], optimize=len(a) > 2),
            *rules, attrs="eq")
    return op


def _apply_einsum(eq: str, operands, name=None):
    return apply(_einsum_op(len(operands), name or _einsum_name(eq)), *operands, attrs=(eq,))


def einsum(equation: str, *operands) -> Tensor:
    """Sums of products over the subscripts of ``equation`` (`torch.einsum`).

    >>> import ndgrad
    >>> ndgrad.einsum("i,i->", ndgrad.tensor([1., 2.]), ndgrad.tensor([3., 4.]))
    tensor(11.)
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) > len(operands):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
    if len(terms) < len(operands):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    for t in operands[1:]:
        if t._data.dtype != operands[0]._data.dtype:
            raise RuntimeError(f"expected scalar type {operands[0].dtype._legacy} but found "
                               f"{t.dtype._legacy}")
    free = iter(c for c in _LETTERS if c not in eq)
    n_ell = max([t.ndim - len(s) + 3 for s, t in zip(terms, operands) if "..." in s] or [0])
    ell = "".join(next(free) for _ in range(n_ell))
    sizes: dict = {}
    explicit = []
    for k, (s, t) in enumerate(zip(terms, operands)):
        if "..." in s:
            n = t.ndim - len(s) + 3
            s = s.replace("...", ell[n_ell - n:] if n else "")
        elif len(s) != t.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(s)}) does "
                               f"not match the number of dimensions ({t.ndim}) for operand {k} "
                               "and no ellipsis was given")
        for c, n in zip(s, t.shape):
            seen = sizes.get(c)
            if seen is not None and n != seen and n != 1 and seen != 1:
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {k} which "
                                   f"does not broadcast with previously seen size {seen}")
            if seen is None or seen == 1:
                sizes[c] = n
        explicit.append(s)
    if arrow:
        out = rhs.replace("...", ell)
    else:
        letters = "".join(explicit)
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell))
    ops = []
    for s, t in zip(explicit, operands):
        full = tuple(sizes[c] for c in s)
        ops.append(t if tuple(t.shape) == full else apply(O.EXPAND, t, attrs=(full,)))
    return _apply_einsum(",".join(explicit) + "->" + out, ops)


def tensordot(a: Tensor, b: Tensor, dims=2) -> Tensor:
    """Contract ``dims`` dimensions of ``a`` with ``b`` (an int: the last of ``a`` with the first
    of ``b``; or a pair of lists of dimensions)."""
    if isinstance(dims, Tensor):
        dims = dims.tolist() if dims.ndim else dims.item()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        da = list(range(a.ndim - dims, a.ndim))
        db = list(range(dims))
        shown = [(d - a.ndim, e) for d, e in zip(da, db)]
    else:
        da, db = ([dims[0]] if isinstance(dims[0], int) else list(dims[0]),
                  [dims[1]] if isinstance(dims[1], int) else list(dims[1]))
        if len(da) != len(db):
            raise RuntimeError("both dimension lists should have same length")
        shown = list(zip(da, db))
        da = [_wrap_dim(d, a.ndim) for d in da]
        db = [_wrap_dim(d, b.ndim) for d in db]
    for (x, y), (sx, sy) in zip(zip(da, db), shown):
        if a.shape[x] != b.shape[y]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a.shape[x]} in dim {sx} and second has size {b.shape[y]} in "
                               f"dim {sy}")
    sa = list(_LETTERS[:a.ndim])
    sb = list(_LETTERS[a.ndim:a.ndim + b.ndim])
    for x, y in zip(da, db):
        sb[y] = sa[x]
    out = [c for k, c in enumerate(sa) if k not in da] + [c for k, c in enumerate(sb) if k not in db]
    return _apply_einsum(f"{''.join(sa)},{''.join(sb)}->{''.join(out)}", [a, b], "ViewBackward0")


# ---------------------------------------------------------------------------------------------
# Decompositions and solves
# ---------------------------------------------------------------------------------------------

def _check_matrix(name: str, A: Tensor, square: bool = True) -> None:
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg_{name}(): argument 'A' (position 1) must be Tensor, not "
                        f"{type(A).__name__}")
    if A.ndim < 2:
        raise RuntimeError(f"linalg.{name}: The input tensor A must have at least 2 dimensions.")
    if A._data.dtype.kind not in "fc":
        raise RuntimeError(f"linalg.{name}: Expected a floating point or complex tensor as input. "
                           f"Got {A.dtype._legacy}")
    if square and A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.{name}: A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")


def _first_failure(a: np.ndarray, ok) -> tuple:
    """The first batch element (and its prefix, if any) for which ``ok`` fails: error path only."""
    flat = a.reshape((-1,) + a.shape[-2:])
    for k, m in enumerate(flat):
        if not ok(m):
            return (k if a.ndim > 2 else None), m
    return None, flat[0]


def _batch_prefix(k):
    return "" if k is None else f"(Batch element {k}): "


def _inv_fwd(a):
    try:
        return np.linalg.inv(a)
    except np.linalg.LinAlgError:
        k, m = _first_failure(a, lambda m: np.linalg.matrix_rank(m) == m.shape[0])
        # LAPACK's getrf reports the first zero pivot (1-based) of the LU factorization.
        u = _lu_u_diag(m)
        raise LinAlgError(f"linalg.inv: {_batch_prefix(k)}The diagonal element {u} is zero, the "
                          "inversion could not be completed because the input matrix is "
                          "singular.") from None


def _lu_u_diag(m: np.ndarray) -> int:
    """1-based index of the first exactly-zero pivot in LU with partial pivoting (error path)."""
    u = m.astype(np.float64).copy()
    n = u.shape[0]
    for j in range(n):
        p = j + int(np.argmax(np.abs(u[j:, j])))
        if u[p, j] == 0:
            return j + 1
        u[[j, p]] = u[[p, j]]
        u[j + 1:] -= np.outer(u[j + 1:, j] / u[j, j], u[j])
    return n


INV = defop("LinalgInvExBackward0", "A", _inv_fwd,
            lambda xp, g, out: -xp.matmul(xp.mT(out), xp.matmul(g, xp.mT(out))))
DET = defop("LinalgDetBackward0", "A", np.linalg.det,
            lambda xp, g, A, out: (g * out)[..., None, None] * xp.mT(xp.inv(A)))
SLOGDET = defop("LinalgSlogdetBackward0", "A", np.linalg.slogdet,
                lambda xp, g, A: g[1][..., None, None] * xp.mT(xp.inv(A)), nout=2)


def _solve_fwd(A, B, vec, left=True):
    try:
        if not left:  # X A = B is A^T X^T = B^T
            return _mT(np.linalg.solve(_mT(A), _mT(B)))
        return np.linalg.solve(A, B[..., None])[..., 0] if vec else np.linalg.solve(A, B)
    except np.linalg.LinAlgError:
        raise LinAlgError("torch.linalg.solve: The solver failed because the input matrix is "
                          "singular.") from None


def _solve_grad_A(xp, g, A, out, vec, left):
    gB = _solve_grad_B(xp, g, A, vec, left)
    if not left:  # X = B A^{-1}
        return -xp.matmul(xp.mT(out), gB)
    if vec:
        return -(gB[..., :, None] * out[..., None, :])
    return -xp.matmul(gB, xp.mT(out))


def _solve_grad_B(xp, g, A, vec, left):
    if not left:
        return xp.mT(xp.solve(A, xp.mT(g), False))
    return xp.solve(xp.mT(A), g, vec)


SOLVE = defop("LinalgSolveExBackward0", "A B", _solve_fwd, _solve_grad_A, _solve_grad_B,
              attrs="vec left")


def _cholesky_fwd(A, upper):
    try:
        L = np.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        def pd(m):
            try:
                np.linalg.cholesky(m)
                return True
            except np.linalg.LinAlgError:
                return False
        k, m = _first_failure(A, pd)
        order = next(j for j in range(1, m.shape[0] + 1) if not pd(m[:j, :j]))
        raise LinAlgError(f"linalg.cholesky: {_batch_prefix(k)}The factorization could not be "
                          "completed because the input is not positive-definite (the leading "
                          f"minor of order {order} is not positive-definite).") from None
    return _mT(L) if upper else L


def _cholesky_grad(xp, g, out, upper):
    # A = L L^T: gA = sym(L^{-T} Phi(L^T gL) L^{-1}), Phi taking the lower triangle with the
    # diagonal halved (Murray, "Differentiation of the Cholesky decomposition", 2016).
    L, gL = (xp.mT(out), xp.mT(g)) if upper else (out, g)
    n = L.shape[-1]
    P = xp.matmul(xp.mT(L), gL)
    P = xp.where(np.tril(np.ones((n, n), dtype=bool)), P, 0.0)
    P = xp.where(_eye_mask(n), P * 0.5, P)
    Lt = xp.mT(L)
    S = xp.mT(xp.solve(Lt, xp.mT(xp.solve(Lt, P, False)), False))
    return (S + xp.mT(S)) * 0.5


CHOLESKY = defop("LinalgCholeskyExBackward0", "A", _cholesky_fwd, _cholesky_grad, attrs="upper")


def _qr_fwd(A, mode):
    if mode == "r":
        return np.empty((0,), A.dtype), np.linalg.qr(A, mode="r")
    return tuple(np.linalg.qr(A, mode=mode))


def _copyltu(xp, M):
    n = M.shape[-1]
    return xp.where(np.tril(np.ones((n, n), dtype=bool)), M, 0.0) + \
        xp.mT(xp.where(np.tril(np.ones((n, n), dtype=bool), -1), M, 0.0))


def _qr_back_square_r(xp, Q, R, gQ, gR):
    """gA for A = QR with R square (Walter & Lehmann; Liao et al., arXiv:1903.09650)."""
    M = xp.matmul(R, xp.mT(gR)) - xp.matmul(xp.mT(gQ), Q)
    b = gQ + xp.matmul(Q, _copyltu(xp, M))
    return xp.mT(xp.solve(R, xp.mT(b), False))


def _qr_grad(xp, g, A, mode):
    m, n = A.shape[-2], A.shape[-1]
    if mode == "r":
        raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when "
                           "mode='r'. Please use linalg.qr(A, mode='reduced') if you are going to "
                           "differentiate through linalg.qr.")
    if mode == "complete" and m > n:
        raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and "
                           "nrows > ncols.")
    # NOTE: Q and R are recomputed from A, so that under create_graph they carry A's graph.
    Q, R = xp.qr(A, "reduced")
    gQ, gR = g
    if m >= n:
        return _qr_back_square_r(xp, Q, R, gQ, gR)
    # A = [X | Y] with X = Q U square: Y's gradient is Q gV, and X's sees gQ + Y gV^T.
    U, gU, gV = R[..., :m], gR[..., :m], gR[..., m:]
    Y = A[..., m:]
    gX = _qr_back_square_r(xp, Q, U, gQ + xp.matmul(Y, xp.mT(gV)), gU)
    eye = np.eye(n, dtype=_np_dtype(A))
    return xp.matmul(gX, xp.asarray(eye[:m])) + xp.matmul(xp.matmul(Q, gV), xp.asarray(eye[m:]))


QR = defop("LinalgQrBackward0", "A", _qr_fwd, _qr_grad, attrs="mode", nout=2)


def _svd_grad(xp, g, A, full_matrices):
    # Townsend, "Differentiating the singular value decomposition" (2016), real case.
    m, n = A.shape[-2], A.shape[-1]
    k = min(m, n)
    U, S, Vh = xp.svd(A, False)
    gU, gS, gVh = g
    if full_matrices:
        gU, gVh = gU[..., :k], gVh[..., :k, :]
    eye = _eye_mask(k)
    UhgU = xp.matmul(xp.mT(U), gU)
    VhgV = xp.matmul(Vh, xp.mT(gVh))
    S2 = S * S
    E = xp.where(eye, 1.0, S2[..., None, :] - S2[..., :, None])
    inner = ((UhgU - xp.mT(UhgU)) * S[..., None, :] + S[..., :, None] * (VhgV - xp.mT(VhgV))) / E
    inner = inner + _diag_embed(xp, gS)
    gA = xp.matmul(U, xp.matmul(inner, Vh))
    if m > k:
        gA = gA + xp.matmul((gU - xp.matmul(U, UhgU)) / S[..., None, :], Vh)
    if n > k:
        V, gV = xp.mT(Vh), xp.mT(gVh)
        gA = gA + xp.matmul(U, xp.mT((gV - xp.matmul(V, VhgV)) / S[..., None, :]))
    return gA


SVD = defop("LinalgSvdBackward0", "A", lambda A, full_matrices: tuple(
    np.linalg.svd(A, full_matrices=full_matrices)), _svd_grad, attrs="full_matrices", nout=3)


def _eigh_grad(xp, g, A, UPLO):
    # A = V diag(L) V^T: gA = sym(V (diag(gL) + (V^T gV) / E) V^T) with E_ij = L_j - L_i.
    L, V = xp.eigh(A, UPLO)
    gL, gV = g
    n = L.shape[-1]
    eye = _eye_mask(n)
    E = xp.where(eye, 1.0, L[..., None, :] - L[..., :, None])
    inner = xp.where(eye, 0.0, xp.matmul(xp.mT(V), gV) / E) + _diag_embed(xp, gL)
    gA = xp.matmul(V, xp.matmul(inner, xp.mT(V)))
    return (gA + xp.mT(gA)) * 0.5  # symmetric, as PyTorch's


EIGH = defop("LinalgEighBackward0", "A", lambda A, UPLO: tuple(np.linalg.eigh(A, UPLO=UPLO)),
             _eigh_grad, attrs="UPLO", nout=2)


def inv(A: Tensor) -> Tensor:
    """The inverse of a square matrix (or batch of them)."""
    _check_matrix("inv", A)
    return apply(INV, A)


def det(A: Tensor) -> Tensor:
    """The determinant of a square matrix (or batch of them)."""
    _check_matrix("det", A)
    return apply(DET, A)


def slogdet(A: Tensor):
    """The sign and the log of the absolute value of the determinant: ``(sign, logabsdet)``."""
    _check_matrix("slogdet", A)
    return SlogdetResult(apply(SLOGDET, A))


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """The solution ``X`` of ``A X = B`` (``B`` a vector or batch of vectors when its shape is
    ``A.shape[:-1]`` or it is 1-D)."""
    _check_matrix("solve", A)
    if A._data.dtype != B._data.dtype:
        raise RuntimeError("linalg.solve: Expected A and B to have the same dtype, but found A of "
                           f"type {A.dtype._legacy} and B of type {B.dtype._legacy} instead")
    vec = left and (B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1])))
    if not left:
        if B.ndim < 2 or B.shape[-1] != A.shape[-1]:
            cols = B.shape[-1] if B.ndim else 1
            raise RuntimeError("linalg.solve: Incompatible shapes of A and B for the equation XA = B "
                               f"({A.shape[-2]}x{A.shape[-1]} and {B.shape[-2] if B.ndim > 1 else 1}"
                               f"x{cols})")
    else:
        rows = B.shape[-1] if vec else B.shape[-2]
        if rows != A.shape[-1]:
            cols = 1 if vec else B.shape[-1]
            raise RuntimeError("linalg.solve: Incompatible shapes of A and B for the equation AX = "
                               f"B ({A.shape[-2]}x{A.shape[-1]} and {rows}x{cols})")
    return apply(SOLVE, A, B, attrs=(vec, left))


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """The Cholesky factor ``L`` (lower, or ``L^T`` when ``upper``) of a positive-definite matrix."""
    _check_matrix("cholesky", A)
    return apply(CHOLESKY, A, attrs=(upper,))


def qr(A: Tensor, mode: str = "reduced"):
    """The QR decomposition ``(Q, R)``; ``mode`` is 'reduced', 'complete' or 'r'."""
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           "'reduced' (default), 'r', or 'complete'")
    _check_matrix("qr", A, square=False)
    return QRResult(apply(QR, A, attrs=(mode,)))


def svd(A: Tensor, full_matrices: bool = True, *, driver=None):
    """The singular value decomposition ``(U, S, Vh)`` with ``A = U diag(S) Vh``."""
    _check_matrix("svd", A, square=False)
    return SVDResult(apply(SVD, A, attrs=(bool(full_matrices),)))


def eigh(A: Tensor, UPLO: str = "L"):
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix, read from one triangle."""
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    _check_matrix("eigh", A)
    return EighResult(apply(EIGH, A, attrs=(UPLO,)))


# ---------------------------------------------------------------------------------------------
# Norms
# ---------------------------------------------------------------------------------------------

def _vnorm_fwd(a, ord, dim, keepdim):
    x = np.abs(a)
    if ord == 2:
        return np.sqrt(np.sum(x * x, axis=dim, keepdims=keepdim))
    if ord == 1:
        return np.sum(x, axis=dim, keepdims=keepdim)
    if ord == math.inf:
        return np.max(x, axis=dim, keepdims=keepdim)
    if ord == -math.inf:
        return np.min(x, axis=dim, keepdims=keepdim)
    if ord == 0:
        return np.sum(x != 0, axis=dim, keepdims=keepdim).astype(a.dtype)
    return np.sum(x ** ord, axis=dim, keepdims=keepdim) ** (1.0 / ord)


def _kept(xp, t, shape, dim, keepdim):
    if keepdim:
        return t
    return xp.reshape(t, tuple(1 if dim is None or i in dim else s for i, s in enumerate(shape)))


def _vnorm_grad(xp, g, a, out, ord, dim, keepdim):
    # NOTE: where the norm is 0 the gradient is PyTorch's subgradient 0, not 0/0; the inner
    # `where` keeps that nan out of the second derivative too.
    gk, nk = _kept(xp, g, a.shape, dim, keepdim), _kept(xp, out, a.shape, dim, keepdim)
    if ord == 0:
        return None  # as in PyTorch: no gradient at all, so a leaf's .grad stays None
    if ord == 1:
        return xp.sign(a) * gk
    zero = nk == 0
    safe = xp.where(zero, 1.0, nk)
    if ord == 2:
        return xp.where(zero, 0.0, a * (gk / safe))
    if ord in (math.inf, -math.inf):
        return _extreme_grad(xp, gk, a * xp.sign(a), nk, dim) * xp.sign(a)
    absa = a * xp.sign(a)
    return xp.where(zero, 0.0, xp.sign(a) * absa ** (ord - 1) * (gk / safe ** (ord - 1)))


def _extreme_grad(xp, gk, a, ek, dim):
    """The gradient of a max or min: shared evenly among the elements that attain it."""
    hit = xp.where(a == ek, 1.0, 0.0)
    axes = tuple(range(a.ndim)) if dim is None else dim
    return hit * (gk / xp.sum_keep(hit, axes))


VECTOR_NORM = defop("LinalgVectorNormBackward0", "a", _vnorm_fwd, _vnorm_grad,
                    attrs="ord dim keepdim", dtype="keep")


def _norm_dim(dim, ndim):
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    wrapped = [_wrap_dim(d, ndim) for d in dims]
    for d in wrapped:
        if wrapped.count(d) > 1:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    return tuple(sorted(wrapped)) if ndim else None


def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """The ``ord``-norm of ``x`` seen as a vector (over ``dim``, or all elements).

    >>> import ndgrad
    >>> ndgrad.linalg.vector_norm(ndgrad.tensor([3., 4.]))
    tensor(5.)
    """
    if dtype is not None:
        x = x.to(dtype)
    if x._data.dtype.kind not in "fc":
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {x.dtype._legacy}")
    dims = _norm_dim(dim, x.ndim)
    if ord < 0 or math.isinf(ord):
        reduced = range(x.ndim) if dims is None else dims
        if any(x.shape[d] == 0 for d in reduced) or (x.numel() == 0 and x.ndim == 0):
            raise RuntimeError(f"linalg.vector_norm cannot compute the {_ord_str(ord)} norm on an "
                               "empty tensor because the operation does not have an identity")
    ord = float(ord) if not isinstance(ord, bool) else ord
    return apply(VECTOR_NORM, x, attrs=(ord, dims, keepdim))


def _ord_str(ord):
    return {math.inf: "inf", -math.inf: "-inf"}.get(ord, f"{ord}")


def _amax(x, dim, keepdim, largest):
    return apply(AMAX if largest else AMIN, x, attrs=((dim,), keepdim))


def _svdvals(A: Tensor) -> Tensor:
    return apply(SVD, A, attrs=(False,))[1]


def _to_end(A: Tensor, d0: int, d1: int) -> Tensor:
    """``A`` with dims ``d0``, ``d1`` moved to the end (in that order)."""
    if (d0, d1) == (A.ndim - 2, A.ndim - 1):
        return A
    s = _LETTERS[:A.ndim]
    out = "".join(c for k, c in enumerate(s) if k not in (d0, d1)) + s[d0] + s[d1]
    return _apply_einsum(f"{s}->{out}", [A], "PermuteBackward0")


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None) -> Tensor:
    """A matrix norm: 'fro', 'nuc', 1, -1, 2, -2, inf or -inf over the two dims ``dim``."""
    if dtype is not None:
        A = A.to(dtype)
    if A.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    if A._data.dtype.kind not in "fc":
        raise RuntimeError("linalg.matrix_norm: Expected a floating point or complex tensor as "
                           f"input. Got {A.dtype._legacy}")
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {_dims_str(dim)}")
    d0, d1 = (_wrap_dim(d, A.ndim) for d in dim)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, {dim[1]})")
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        s = _svdvals(_to_end(A, d0, d1))
        r = apply(O.SUM_DIM, s, attrs=((s.ndim - 1,), False, None)) if ord == "nuc" else _amax(s, s.ndim - 1, False, ord == 2)
        if keepdim:
            shape = list(r.shape)
            for d in sorted((d0, d1)):
                shape.insert(d, 1)
            r = apply(O.RESHAPE, r, attrs=(tuple(shape),))
        return r
    if ord in (1, -1, math.inf, -math.inf):
        inner, outer_ = (d0, d1) if ord in (1, -1) else (d1, d0)
        s = apply(O.SUM_DIM, apply(O.ABS, A), attrs=((inner,), keepdim, None))
        return _amax(s, outer_ - (not keepdim and outer_ > inner), keepdim, ord > 0)
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def _dims_str(dim):
    return f"[{', '.join(map(str, dim))}]" if isinstance(dim, (list, tuple)) else f"{dim}"


def linalg_norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """A vector or matrix norm, chosen by ``dim`` and ``ord`` (`torch.linalg.norm`)."""
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if len(dims) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype)
        return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype)
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.ndim == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    if A.ndim == 1:
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    raise RuntimeError("linalg.norm: If dim is not specified but ord is, the input must be 1D or "
                       f"2D. Got {A.ndim}D.")


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """The norm of ``input`` (`torch.norm`): 'fro', 'nuc' or a vector ``p``-norm over ``dim``."""
    if p == "nuc":
        return matrix_norm(input, "nuc", (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
    if p == "fro" or p is None:
        p = 2
    return vector_norm(input, p, dim, keepdim, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# The namespaces' functions, and the Tensor methods
# ---------------------------------------------------------------------------------------------

NX.matmul, NX.mT, NX.einsum = np.matmul, _mT, lambda eq, *ops: np.einsum(eq, *ops, optimize=True)
NX.inv = np.linalg.inv
NX.solve = _solve_fwd
NX.qr = lambda A, mode: _qr_fwd(A, mode)
NX.svd = lambda A, full: tuple(np.linalg.svd(A, full_matrices=full))
NX.eigh = lambda A, UPLO: tuple(np.linalg.eigh(A, UPLO=UPLO))

TX.matmul = lambda a, b: apply(_MATMUL["UnsafeViewBackward0"], a, b)
TX.mT = lambda a: apply(TRANSPOSE, a)
TX.einsum = lambda eq, *ops: _apply_einsum(eq, ops)
TX.inv = lambda A: apply(INV, A)
TX.solve = lambda A, B, vec: apply(SOLVE, A, B, attrs=(vec, True))
TX.qr = lambda A, mode: apply(QR, A, attrs=(mode,))
TX.svd = lambda A, full: apply(SVD, A, attrs=(full,))
TX.eigh = lambda A, UPLO: apply(EIGH, A, attrs=(UPLO,))

T = Tensor
T.__matmul__ = lambda self, other: matmul(self, other) if isinstance(other, Tensor) else NotImplemented
T.__rmatmul__ = lambda self, other: matmul(other, self) if isinstance(other, Tensor) else NotImplemented
T.matmul = matmul
T.mm = mm
T.bmm = bmm
T.mv = mv
T.dot = dot
T.outer = outer
T.norm = norm
