"""PyTorch's top-level linear-algebra spellings (``torch.svd``, ``torch.lu``,
``torch.cholesky_solve``, ...) where they differ from ``torch.linalg``'s: the
argument order, V instead of Vh, ``some=``, decreasing Vandermonde powers.  Each
is one of ``vkgrad.linalg``'s functions rearranged."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from . import linalg, ops
from .ops._core import check_tensor
from .tensor import Tensor

SvdResult = namedtuple("svd", "U S V")
QrResult = namedtuple("qr", "Q R")
TriangularSolveResult = namedtuple("triangular_solve", "solution cloned_coefficient")
GeqrfResult = namedtuple("geqrf", "a tau")


def svd(A, some=True, compute_uv=True):
    """(U, S, V) with A = U diag(S) V^T (V, not linalg.svd's Vh; ``some``: the thin
    factors); ``compute_uv=False``: U and V square zero matrices, S alone."""
    if not compute_uv:
        S = linalg.svdvals(A)
        m, n = A.shape[-2:]
        zeros = (lambda r, c: Tensor(A.backend.from_numpy(np.zeros(A.shape[:-2] + (r, c)), A.dtype), A.backend))
        return SvdResult(zeros(m, m), S, zeros(n, n))  # (square zeros whatever ``some``, as PyTorch's)
    U, S, Vh = linalg.svd(A, full_matrices=not some)
    return SvdResult(U, S, ops.swapaxes(Vh, -1, -2))


def qr(A, some=True):
    """(Q, R): linalg.qr's "reduced" (``some``) or "complete" mode."""
    return QrResult(*linalg.qr(A, mode="reduced" if some else "complete"))


def lu(A, pivot=True, get_infos=False):
    """(LU, pivots) packed as ``linalg.lu_factor``'s, and info with ``get_infos``."""
    LU, piv, info = linalg.lu_factor_ex(A, pivot=pivot)
    return (LU, piv, info) if get_infos else (LU, piv)


def lu_solve(b, LU_data, LU_pivots):
    """X with A X = b from ``lu``'s factors (PyTorch's argument order)."""
    return linalg.lu_solve(LU_data, LU_pivots, b)


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True):
    """(P, L, U) with A = P L U (``linalg.lu_unpack``)."""
    return linalg.lu_unpack(LU_data, LU_pivots, unpack_data, unpack_pivots)


def cholesky(A, upper=False):
    """linalg.cholesky (PyTorch's deprecated spelling)."""
    return linalg.cholesky(A, upper=upper)


def cholesky_solve(B, L, upper=False):
    """X with (L L^T) X = B from a Cholesky factor L (``upper``: U^T U); two
    triangular solves, differentiable in B and L."""
    check_tensor("cholesky_solve", B)
    lower = ops.swapaxes(L, -1, -2) if upper else L  # A = lower lower^T
    y = linalg.solve_triangular(lower, B, upper=False)
    return linalg.solve_triangular(ops.swapaxes(lower, -1, -2), y, upper=True)


def cholesky_inverse(L, upper=False):
    """(L L^T)^-1 from a Cholesky factor (``upper``: (U^T U)^-1)."""
    linalg._square("cholesky_inverse", L)
    eye = Tensor(L.backend.from_numpy(np.broadcast_to(np.eye(L.shape[-1]), L.shape).copy(), L.dtype), L.backend)
    return cholesky_solve(eye, L, upper)


def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False):
    """(solution, cloned_coefficient): X with T X = b (``transpose``: T^T X = b), T
    A's upper (default) or lower triangle; PyTorch's deprecated spelling of
    linalg.solve_triangular."""
    T = ops.swapaxes(A, -1, -2) if transpose else A
    X = linalg.solve_triangular(T, b, upper=upper != transpose, unitriangular=unitriangular)
    return TriangularSolveResult(X, ops.clone(A))


def matrix_exp(A):
    """linalg.matrix_exp."""
    return linalg.matrix_exp(A)


def vander(x, N=None, increasing=False):
    """NumPy's / torch.vander: columns x^(N-1) .. x^0 (``increasing``: x^0 first)
    of a vector x."""
    check_tensor("vander", x)
    if x.ndim != 1:
        raise ValueError(f"vander: expected a vector, got shape {list(x.shape)} (linalg.vander takes batches)")
    V = linalg.vander(x, N=N)
    return V if increasing else ops.flip(V, (-1,))


def geqrf(A):
    """(a, tau): LAPACK's compact QR of A [..., m, n] -- R on and above a's
    diagonal, the Householder vectors below it and their scales in tau (for
    ``linalg.householder_product``); not differentiable, as PyTorch's."""
    linalg._matrices("geqrf", A)
    h, tau = np.linalg.qr(A.detach().numpy().astype(np.float64), mode="raw")
    be = A.backend
    return GeqrfResult(Tensor(be.from_numpy(np.ascontiguousarray(np.swapaxes(h, -1, -2)), A.dtype), be),
                       Tensor(be.from_numpy(tau, A.dtype), be))


def orgqr(A, tau):
    """linalg.householder_product (PyTorch's LAPACK-named spelling)."""
    return linalg.householder_product(A, tau)


def svd_lowrank(A, q=6, niter=2, M=None):
    """(U, S, V) of rank ``q`` (of A - M): the leading singular triplets, from the
    exact SVD (PyTorch's randomized approximation converges to these)."""
    del niter  # (exact: no power iterations needed)
    linalg._matrices("svd_lowrank", A)
    X = A if M is None else ops.sub(A, M)
    q = min(int(q), *A.shape[-2:])
    U, S, V = svd(X)
    return SvdResult(U[..., :, :q], S[..., :q], V[..., :, :q])


def pca_lowrank(A, q=None, center=True, niter=2):
    """(U, S, V): principal components of the rows of A (``center``: the column
    means subtracted first); q defaults to min(6, m, n)."""
    linalg._matrices("pca_lowrank", A)
    q = min(6, *A.shape[-2:]) if q is None else q
    X = ops.sub(A, ops.mean(A, -2, keepdims=True)) if center else A
    return svd_lowrank(X, q, niter)


__all__ = ["svd", "qr", "lu", "lu_solve", "lu_unpack", "cholesky", "cholesky_solve", "cholesky_inverse",
           "triangular_solve", "matrix_exp", "vander", "svd_lowrank", "pca_lowrank", "geqrf", "orgqr"]
