"""Rows for matrix products, einsum, decompositions and norms (ndgrad._linalg, ndgrad.linalg).

Matrices are well conditioned (``A + n I``), symmetric positive definite where the op needs it,
and have distinct singular values / eigenvalues. Decompositions whose vectors are defined only up
to sign are compared through sign-invariant outputs (|U|, U diag(S) Vh) in the gradient checks.
"""
import numpy as np

from optable import Row, Sample, arr, rows, symmetric


def _well(rng, *shape, dtype=np.float64):
    """Square matrices with a dominant diagonal: invertible, well conditioned."""
    n = shape[-1]
    return (arr(rng, *shape) + n * np.eye(n)).astype(dtype)


def _spd(rng, *shape, dtype=np.float64):
    m = arr(rng, *shape)
    return (m @ np.swapaxes(m, -1, -2) + shape[-1] * np.eye(shape[-1])).astype(dtype)


def _matmul(rng):
    pairs = [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 2)), ((3, 4), (4, 2)), ((2, 3, 4), (4,)),
             ((2, 3, 4), (4, 2)), ((4,), (2, 4, 3)), ((3, 4), (2, 4, 2)), ((2, 3, 4), (2, 4, 5)),
             ((1, 3, 4), (2, 4, 2)), ((2, 1, 3, 4), (5, 4, 2))]
    s = [Sample((arr(rng, *a), arr(rng, *b))) for a, b in pairs]
    s.append(Sample((arr(rng, 3, 4, dtype=np.float32), arr(rng, 4, 2, dtype=np.float32))))
    return s


def _einsum(rng):
    return [Sample(("ij,jk->ik", arr(rng, 2, 3), arr(rng, 3, 4))),
            Sample(("ii->", arr(rng, 3, 3))),
            Sample(("ii->i", arr(rng, 3, 3))),
            Sample(("ij->ji", arr(rng, 2, 3))),
            Sample(("i,j->ij", arr(rng, 2), arr(rng, 3))),
            Sample(("bij,bjk->bik", arr(rng, 2, 3, 4), arr(rng, 2, 4, 2))),
            Sample(("...ij,...jk", arr(rng, 2, 2, 3), arr(rng, 3, 4))),
            Sample(("bi,bi->b", arr(rng, 3, 4), arr(rng, 1, 4))),
            Sample(("ij,jk,kl->il", arr(rng, 2, 3), arr(rng, 3, 4), arr(rng, 4, 2))),
            Sample(("i,->i", arr(rng, 3), arr(rng))),
            Sample(("iij->j", arr(rng, 3, 3, 2))),
            Sample(("ij,ij", arr(rng, 2, 3, dtype=np.float32), arr(rng, 2, 3, dtype=np.float32)))]


def _tensordot(rng):
    return [Sample((arr(rng, 2, 3, 4), arr(rng, 3, 4, 2))),
            Sample((arr(rng, 2, 3, 4), arr(rng, 4, 2, 3)), {"dims": ([1, 2], [2, 0])}),
            Sample((arr(rng, 2, 3), arr(rng, 3, 4)), {"dims": 1}),
            Sample((arr(rng, 2), arr(rng, 3)), {"dims": 0}),
            Sample((arr(rng, 3, 4), arr(rng, 2, 3)), {"dims": ([0], [1])})]


def _norm(rng):
    return [Sample((arr(rng, 3, 4),)), Sample((arr(rng, 3, 4),), {"p": 1, "dim": 1}),
            Sample((arr(rng, 2, 3, 4),), {"p": 3, "dim": (0, 2), "keepdim": True}),
            Sample((arr(rng, 3, 4),), {"p": float("inf")}),
            Sample((arr(rng, 3, 4),), {"p": "fro", "dim": (0, 1)}),
            Sample((arr(rng, 3, 4),), {"p": "nuc"}),
            Sample((arr(rng),)), Sample((arr(rng, 5, dtype=np.float32),))]


def _vector_norm(rng):
    x = arr(rng, 3, 4)
    s = [Sample((x,), {"ord": o}) for o in (2, 1, 3, 1.5, float("inf"), -float("inf"), 0)]
    return s + [Sample((arr(rng, 2, 3, 4),), {"dim": 1}),
                Sample((arr(rng, 2, 3, 4),), {"ord": 3, "dim": (0, 2), "keepdim": True}),
                Sample((arr(rng, 2, 3),), {"ord": float("inf"), "dim": -1}),
                Sample((arr(rng),)), Sample((arr(rng, 4, dtype=np.float32),))]


def _matrix_norm(rng):
    s = [Sample((arr(rng, 3, 4),), {"ord": o})
         for o in ("fro", "nuc", 1, -1, 2, -2, float("inf"), -float("inf"))]
    return s + [Sample((arr(rng, 2, 3, 3),), {"ord": "nuc"}),
                Sample((arr(rng, 3, 2, 4),), {"ord": 1, "dim": (0, 2), "keepdim": True}),
                Sample((arr(rng, 3, 2, 4),), {"ord": 2, "dim": (2, 0)}),
                Sample((arr(rng, 3, 3, dtype=np.float32),), {"ord": -1})]


def _linalg_norm(rng):
    return [Sample((arr(rng, 2, 3, 4),)), Sample((arr(rng, 3, 4),), {"ord": 2}),
            Sample((arr(rng, 4),), {"ord": 1}), Sample((arr(rng, 3, 4),), {"ord": 3, "dim": 1}),
            Sample((arr(rng, 2, 3, 4),), {"ord": "nuc", "dim": (1, 2)}),
            Sample((arr(rng, 3, 4),), {"ord": float("inf")}), Sample((arr(rng),))]


def _square(rng):
    return [Sample((_well(rng, 3, 3),)), Sample((_well(rng, 2, 4, 4),)),
            Sample((_well(rng, 1, 1),)), Sample((_well(rng, 3, 3, dtype=np.float32),))]


def _slogdet(rng):
    neg = _well(rng, 3, 3)
    return _square(rng) + [Sample((neg[[1, 0, 2]],))]  # a row swap: negative determinant


def _solve(rng):
    return [Sample((_well(rng, 3, 3), arr(rng, 3))),
            Sample((_well(rng, 3, 3), arr(rng, 3, 2))),
            Sample((_well(rng, 2, 3, 3), arr(rng, 2, 3))),
            Sample((_well(rng, 2, 3, 3), arr(rng, 3, 4))),
            Sample((_well(rng, 3, 3), arr(rng, 2, 1, 3, 2))),
            Sample((_well(rng, 3, 3), arr(rng, 2, 3)), {"left": False}),
            Sample((_well(rng, 3, 3, dtype=np.float32), arr(rng, 3, dtype=np.float32)))]


def _qr(rng):
    return [Sample((arr(rng, 4, 3),)), Sample((arr(rng, 3, 5),)), Sample((_well(rng, 2, 3, 3),)),
            Sample((_well(rng, 3, 3),), {"mode": "complete"}),
            Sample((arr(rng, 2, 4),), {"mode": "complete"}),
            Sample((arr(rng, 4, 3, dtype=np.float32),))]


def _svd_outputs(r):
    U, S, Vh = r
    k = S.shape[-1]
    U, Vh = U[..., :k], Vh[..., :k, :]
    return [S, U.abs(), Vh.abs(), U @ (S[..., None] * Vh)]


def _svd(rng):
    # NOTE: square inputs only: for those LAPACK's signs agree between NumPy and PyTorch, so the
    # forward check can compare U and Vh directly; test_linalg.py covers the rectangular cases.
    return [Sample((arr(rng, 3, 3),)), Sample((arr(rng, 2, 4, 4),)),
            Sample((arr(rng, 3, 3),), {"full_matrices": False}),
            Sample((arr(rng, 3, 3, dtype=np.float32),))]


def _spd_samples(rng):
    return [Sample((_spd(rng, 3, 3),)), Sample((_spd(rng, 2, 4, 4),)),
            Sample((_spd(rng, 3, 3),), {"upper": True}), Sample((_spd(rng, 3, 3, dtype=np.float32),))]


def _eigh_outputs(r):
    L, V = r
    return [L, V * V[..., :1, :].sign()]  # eigenvectors up to sign: first row made positive


def _eigh(rng):
    return [Sample((_spd(rng, 3, 3),)), Sample((_spd(rng, 4, 4),), {"UPLO": "U"}),
            Sample((_spd(rng, 3, 3, dtype=np.float32),))]


# NOTE: cholesky and eigh read one triangle of A, while PyTorch's gradient is the symmetric one,
# so their finite differences are taken along symmetric directions (project=symmetric).
rows(
    Row("matmul", _matmul, method="matmul"),
    Row("mm", lambda rng: [Sample((arr(rng, 3, 4), arr(rng, 4, 2))),
                           Sample((arr(rng, 1, 3, dtype=np.float32), arr(rng, 3, 2, dtype=np.float32)))],
        method="mm"),
    Row("bmm", lambda rng: [Sample((arr(rng, 2, 3, 4), arr(rng, 2, 4, 5))),
                            Sample((arr(rng, 1, 2, 2), arr(rng, 1, 2, 3)))], method="bmm"),
    Row("mv", lambda rng: [Sample((arr(rng, 3, 4), arr(rng, 4))),
                           Sample((arr(rng, 2, 3, dtype=np.float32), arr(rng, 3, dtype=np.float32)))],
        method="mv"),
    Row("dot", lambda rng: [Sample((arr(rng, 4), arr(rng, 4))),
                            Sample((arr(rng, 1, dtype=np.float32), arr(rng, 1, dtype=np.float32)))],
        method="dot"),
    Row("outer", lambda rng: [Sample((arr(rng, 3), arr(rng, 4))), Sample((arr(rng, 1), arr(rng, 2)))],
        method="outer"),
    Row("einsum", _einsum),
    Row("tensordot", _tensordot),
    Row("norm", _norm, method="norm"),
    Row("linalg.vector_norm", _vector_norm),
    Row("linalg.matrix_norm", _matrix_norm),
    Row("linalg.norm", _linalg_norm),
    Row("linalg.inv", _square),
    Row("linalg.det", _square),
    Row("linalg.slogdet", _slogdet),
    Row("linalg.solve", _solve),
    Row("linalg.qr", _qr),
    Row("linalg.svd", _svd, outputs=_svd_outputs),
    Row("linalg.cholesky", _spd_samples, project=symmetric),
    Row("linalg.eigh", _eigh, outputs=_eigh_outputs, project=symmetric),
)
