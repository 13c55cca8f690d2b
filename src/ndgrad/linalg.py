"""``ndgrad.linalg``: linear-algebra functions (`torch.linalg`); they are defined in ``_linalg``."""
from ._linalg import (LinAlgError, cholesky, det, eigh, inv, linalg_norm as norm, matrix_norm, qr,
                      slogdet, solve, svd, vector_norm)

__all__ = ["LinAlgError", "cholesky", "det", "eigh", "inv", "norm", "matrix_norm", "qr", "slogdet",
           "solve", "svd", "vector_norm"]
