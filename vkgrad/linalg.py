"""``vkgrad.linalg``: PyTorch's torch.linalg for real matrices [..., m, n] (batches
over the leading axes).

Norms, products and powers are composed of the device ops.  The factorizations
(inv, det, slogdet, solve, cholesky, eigh, svd, qr, pinv) have no shaders: they
run in float64 NumPy on the host -- the inputs read back, the results uploaded in
the input's dtype -- and their gradients (PyTorch's formulas, also in float64 on
the host) read the incoming gradient back the same way.  That is a round trip
per call, fine for the small matrices they usually see (covariances,
normalizing flows, Gaussian processes); no shader is faster at n < 64 on
lavapipe anyway."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from . import ops
from .ops._core import check_tensor, make
from .tensor import Tensor

SlogdetResult = namedtuple("slogdet", "sign logabsdet")
LuFactorResult = namedtuple("lu_factor", "LU pivots")
LuFactorExResult = namedtuple("lu_factor_ex", "LU pivots info")
LuResult = namedtuple("lu", "P L U")
LstsqResult = namedtuple("lstsq", "solution residuals rank singular_values")
InvExResult = namedtuple("inv_ex", "inverse info")
SolveExResult = namedtuple("solve_ex", "result info")
CholeskyExResult = namedtuple("cholesky_ex", "L info")
EighResult = namedtuple("eigh", "eigenvalues eigenvectors")
SvdResult = namedtuple("svd", "U S Vh")
QrResult = namedtuple("qr", "Q R")


class LinAlgError(RuntimeError, ValueError):
    """A matrix the operation cannot take -- singular, not positive definite, no
    convergence: PyTorch's torch.linalg.LinAlgError (a RuntimeError), also a
    ValueError (vkgrad's bad-input error)."""


def _mT(a):
    return np.swapaxes(a, -1, -2)


def _square(op, A):
    check_tensor(op, A)
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"{op}: expected square matrices [..., n, n], got {list(A.shape)}")


def _matrices(op, A):
    check_tensor(op, A)
    if A.ndim < 2:
        raise ValueError(f"{op}: expected matrices [..., m, n], got {list(A.shape)}")


def _host(op, inputs, forward, backward, differentiable=None):
    """Outputs ``forward(*arrays)`` (float64 NumPy of the inputs) as tensors in the
    first input's dtype on its device; their gradients ``backward(arrays, outputs,
    grads)`` -> one array (or None) per input, grads None where an output got none.
    ``differentiable``: which outputs carry a gradient (default all)."""
    be = inputs[0].backend
    dt = inputs[0].dtype
    xs = [t.numpy().astype(np.float64) for t in inputs]
    try:
        outs = forward(*xs)
    except np.linalg.LinAlgError as e:
        raise LinAlgError(f"{op}: {e} (input shapes {[list(t.shape) for t in inputs]})") from None
    shapes = [o.shape for o in outs]
    ends = np.cumsum([int(np.prod(s)) for s in shapes])
    flat = np.concatenate([o.reshape(-1) for o in outs]) if outs else np.zeros(0)
    diff = differentiable or [True] * len(outs)

    def grad_fn(g):
        gh = be.to_numpy(g).astype(np.float64)
        parts = np.split(gh, ends[:-1])
        grads = [p.reshape(s) if d and np.any(p) else None for p, s, d in zip(parts, shapes, diff)]
        if all(gr is None for gr in grads):
            return (None,) * len(inputs)
        try:
            gin = backward(xs, outs, grads)
        except np.linalg.LinAlgError as e:
            raise LinAlgError(f"{op} (backward): {e}") from None
        return tuple(None if gi is None or not t.requires_grad else be.from_numpy(gi.astype(np.float64), dt)
                     for gi, t in zip(gin, inputs))

    packed = make(be.from_numpy(flat, dt), be, tuple(inputs), grad_fn)
    starts = [0] + list(ends[:-1])
    return [ops.reshape(ops.getitem(packed, slice(int(a), int(b))), s) if d else
            Tensor(be.from_numpy(o, dt), be) for a, b, s, o, d in zip(starts, ends, shapes, outs, diff)]


# -- inverse, determinant, solve ---------------------------------------------
def inv(A):
    """The inverse of square matrices; gradient -A^-T g A^-T."""
    _square("inv", A)

    def bwd(xs, outs, gs):
        Y = outs[0]
        return (-_mT(Y) @ gs[0] @ _mT(Y),)
    return _host("inv", [A], lambda a: [np.linalg.inv(a)], bwd)[0]


def _adjugate(a):
    """adj(A) by the SVD (defined for singular A too: det(U) det(V) V adj(S) U^T)."""
    u, s, vh = np.linalg.svd(a)
    n = s.shape[-1]
    others = np.stack([np.prod(np.delete(s, i, axis=-1), axis=-1) for i in range(n)], -1) if n > 1 else \
        np.ones_like(s)
    sign = np.linalg.det(u) * np.linalg.det(vh)
    return sign[..., None, None] * (_mT(vh) * others[..., None, :]) @ _mT(u)


def det(A):
    """The determinant; gradient g adj(A)^T (the adjugate from the SVD: finite for
    singular matrices too)."""
    _square("det", A)
    return _host("det", [A], lambda a: [np.asarray(np.linalg.det(a))],
                 lambda xs, outs, gs: (gs[0][..., None, None] * _mT(_adjugate(xs[0])),))[0]


def slogdet(A):
    """(sign, log|det|) (PyTorch's pair); log|det|'s gradient g A^-T, the sign's none."""
    _square("slogdet", A)

    def fwd(a):
        s, l = np.linalg.slogdet(a)
        return [np.asarray(s), np.asarray(l)]
    sign, logabs = _host("slogdet", [A], fwd, lambda xs, outs, gs: (
        gs[1][..., None, None] * _mT(np.linalg.inv(xs[0])),), differentiable=[False, True])
    return SlogdetResult(sign, logabs)


def logdet(A):
    """log det A (NaN for a negative determinant, -inf for a singular matrix)."""
    sign, logabs = slogdet(A)
    return ops.where(ops.lt(sign, 0.0), float("nan"), logabs)


def _unbroadcast_np(g, shape):
    while g.ndim > len(shape):
        g = g.sum(0)
    for i, n in enumerate(shape):
        if n == 1 and g.shape[i] != 1:
            g = g.sum(i, keepdims=True)
    return g


def solve(A, B, *, left=True):
    """X with A X = B (``left=False``: X A = B); B [..., n, k] or a vector [..., n]
    (when it has one axis fewer than A), batch axes broadcast.  Gradients:
    gB = A^-T gX, gA = -gB X^T."""
    _square("solve", A)
    check_tensor("solve", B)
    n = A.shape[-1]
    vec = B.ndim == A.ndim - 1 or B.ndim == 1
    if (B.shape[-1] if vec else B.shape[-2 if left else -1]) != n:
        raise ValueError(f"solve: A {list(A.shape)} and B {list(B.shape)} do not fit (A X = B)")
    if not left:
        if vec:
            raise ValueError("solve: left=False needs B as matrices [..., k, n]")
        return ops.swapaxes(solve(ops.swapaxes(A, -1, -2), ops.swapaxes(B, -1, -2)), -1, -2)

    def fwd(a, b):
        bb = b[..., None] if vec else b
        batch = np.broadcast_shapes(a.shape[:-2], bb.shape[:-2])
        x = np.linalg.solve(np.broadcast_to(a, batch + a.shape[-2:]), np.broadcast_to(bb, batch + bb.shape[-2:]))
        return [x[..., 0] if vec else x]

    def bwd(xs, outs, gs):
        a, b = xs
        x = outs[0][..., None] if vec else outs[0]
        g = gs[0][..., None] if vec else gs[0]
        gb = np.linalg.solve(_mT(np.broadcast_to(a, x.shape[:-2] + a.shape[-2:])), g)
        ga = -gb @ _mT(x)
        return _unbroadcast_np(ga, a.shape), _unbroadcast_np(gb[..., 0] if vec else gb, b.shape)
    return _host("solve", [A, B], fwd, bwd)[0]


def cholesky(A, *, upper=False):
    """L lower-triangular with L L^T = A (symmetric positive definite; only A's
    lower triangle is read), or U = L^T (``upper``); PyTorch's gradient."""
    _square("cholesky", A)

    def bwd(xs, outs, gs):
        L = _mT(outs[0]) if upper else outs[0]
        gL = np.tril(_mT(gs[0]) if upper else gs[0])
        P = _mT(L) @ gL
        P = np.tril(P) - 0.5 * np.eye(P.shape[-1]) * P  # (the diagonal halved)
        Linv = np.linalg.inv(L)
        S = _mT(Linv) @ P @ Linv
        return (0.5 * (S + _mT(S)),)

    def fwd(a):
        L = np.linalg.cholesky(np.tril(a) + _mT(np.tril(a, -1)))
        return [_mT(L) if upper else L]
    return _host("cholesky", [A], fwd, bwd)[0]


# -- spectral ----------------------------------------------------------------
def eigh(A, UPLO="L"):
    """Eigenvalues (ascending) and eigenvectors (columns) of symmetric matrices (the
    ``UPLO`` triangle read); PyTorch's gradient (finite for distinct eigenvalues)."""
    _square("eigh", A)
    if UPLO not in ("L", "U"):
        raise ValueError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")

    def bwd(xs, outs, gs):
        w, V = outs
        gw, gV = gs
        inner = np.zeros(V.shape) if gV is None else _mT(V) @ gV
        inner = 0.5 * (inner - _mT(inner))
        E = w[..., None, :] - w[..., :, None]
        n = w.shape[-1]
        E[..., np.arange(n), np.arange(n)] = 1.0
        inner = inner / E
        inner[..., np.arange(n), np.arange(n)] = 0.0 if gw is None else gw
        return (V @ inner @ _mT(V),)
    w, V = _host("eigh", [A], lambda a: list(np.linalg.eigh(a, UPLO=UPLO)), bwd)
    return EighResult(w, V)


def eigvalsh(A, UPLO="L"):
    """eigh's eigenvalues alone."""
    return eigh(A, UPLO).eigenvalues


def _svd_bwd(U, S, Vh, gU, gS, gVh):
    """PyTorch's svd_backward (real, thin U [m, k], S [k], Vh [k, n])."""
    V = _mT(Vh)
    gV = None if gVh is None else _mT(gVh)
    k = S.shape[-1]
    m, n = U.shape[-2], V.shape[-2]
    eye = np.arange(k)
    inner = np.zeros(U.shape[:-2] + (k, k))
    if gU is not None or gV is not None:
        E = S[..., None, :] ** 2 - S[..., :, None] ** 2
        E[..., eye, eye] = 1.0
        if gU is not None:
            UgU = _mT(U) @ gU
            inner = inner + ((UgU - _mT(UgU)) / E) * S[..., None, :]
        if gV is not None:
            VgV = _mT(V) @ gV
            inner = inner + S[..., :, None] * ((VgV - _mT(VgV)) / E)
        inner[..., eye, eye] = 0.0
    if gS is not None:
        inner[..., eye, eye] = gS
    gA = U @ inner @ Vh
    if gU is not None and m > k:
        gA = gA + (gU - U @ (_mT(U) @ gU)) / S[..., None, :] @ Vh
    if gV is not None and n > k:
        gA = gA + U @ ((_mT(gV) - (_mT(gV) @ V) @ Vh) / S[..., :, None])
    return gA


def svd(A, full_matrices=True):
    """U, S, Vh with A = U diag(S) Vh, S descending; PyTorch's gradient (finite for
    distinct nonzero singular values; with ``full_matrices`` the columns past
    min(m, n) get none, as PyTorch's)."""
    _matrices("svd", A)
    k = min(A.shape[-2:])

    def bwd(xs, outs, gs):
        U, S, Vh = outs
        gU, gS, gVh = gs
        return (_svd_bwd(U[..., :, :k], S, Vh[..., :k, :], None if gU is None else gU[..., :, :k], gS,
                         None if gVh is None else gVh[..., :k, :]),)
    U, S, Vh = _host("svd", [A], lambda a: list(np.linalg.svd(a, full_matrices=full_matrices)), bwd)
    return SvdResult(U, S, Vh)


def svdvals(A):
    """The singular values, descending; gradient U diag(g) Vh."""
    _matrices("svdvals", A)

    def bwd(xs, outs, gs):
        U, S, Vh = np.linalg.svd(xs[0], full_matrices=False)
        return ((U * gs[0][..., None, :]) @ Vh,)
    return _host("svdvals", [A], lambda a: [np.linalg.svd(a, compute_uv=False)], bwd)[0]


def qr(A, mode="reduced"):
    """Q, R with A = Q R ("reduced": Q [m, k], R [k, n]; "complete": Q [m, m]; "r":
    R alone, Q empty); the gradient for m >= n in "reduced" mode (the formula of
    Walter and Lehmann, as PyTorch's)."""
    _matrices("qr", A)
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    m, n = A.shape[-2:]

    def fwd(a):
        if mode == "r":
            return [np.zeros((0,)), np.linalg.qr(a, mode="r")]
        return list(np.linalg.qr(a, mode=mode))

    def bwd(xs, outs, gs):
        if mode != "reduced" or m < n:
            raise np.linalg.LinAlgError("the gradient is implemented for mode='reduced' with m >= n")
        Q, R = outs
        gQ = np.zeros(Q.shape) if gs[0] is None else gs[0]
        gR = np.zeros(R.shape) if gs[1] is None else gs[1]
        M = R @ _mT(gR) - _mT(gQ) @ Q
        M = np.tril(M) + _mT(np.tril(M, -1))  # copyltu
        return (_mT(np.linalg.solve(R, _mT(gQ + Q @ M))),)
    Q, R = _host("qr", [A], fwd, bwd)
    return QrResult(Q, R)


def pinv(A, *, rtol=None, hermitian=False):
    """The Moore-Penrose pseudo-inverse (singular values below rtol * the largest
    dropped; rtol None: max(m, n) * eps(f32 / f64)); gradient for a constant rank
    -P^T g P^T + (I - A P) g^T P P^T + P^T P g^T (I - P A)."""
    _matrices("pinv", A)
    tol = rtol if rtol is not None else max(A.shape[-2:]) * float(np.finfo(np.float64 if A.dtype == "f64"
                                                                           else np.float32).eps)

    def bwd(xs, outs, gs):
        a, P, G = xs[0], outs[0], gs[0]
        Im, In = np.eye(a.shape[-2]), np.eye(a.shape[-1])
        return (-_mT(P) @ G @ _mT(P) + (Im - a @ P) @ _mT(G) @ P @ _mT(P) + _mT(P) @ P @ _mT(G) @ (In - P @ a),)
    return _host("pinv", [A], lambda a: [np.linalg.pinv(a, rcond=tol, hermitian=hermitian)], bwd)[0]


def matrix_rank(A, *, rtol=None, hermitian=False):
    """The number of singular values above rtol * the largest (int32; not
    differentiable)."""
    _matrices("matrix_rank", A)
    s = np.linalg.svd(A.numpy().astype(np.float64), compute_uv=False)
    tol = (rtol if rtol is not None else max(A.shape[-2:]) * float(np.finfo(np.float32).eps)) * \
        s.max(-1, keepdims=True, initial=0.0)
    return Tensor(A.backend.from_numpy((s > tol).sum(-1).astype(np.int32), "i32"), A.backend)


# -- LU and triangular solves ------------------------------------------------------
def _lu_np(a, pivot=True):
    """LAPACK's getrf on a batch [..., m, n] (float64): the packed LU, the 1-based
    row swaps (int32) and info (the 1-based column of the first zero pivot, 0 if
    none).  Partial pivoting, vectorised over the batch; a zero pivot leaves its
    column as it is and goes on, as LAPACK does."""
    m, n = a.shape[-2:]
    k, batch = min(m, n), a.shape[:-2]
    A = np.array(a, dtype=np.float64).reshape((-1, m, n))
    piv = np.tile(np.arange(1, k + 1, dtype=np.int32), (A.shape[0], 1))
    info = np.zeros(A.shape[0], np.int32)
    rows = np.arange(A.shape[0])
    for j in range(k):
        if pivot:
            p = j + np.argmax(np.abs(A[:, j:, j]), axis=1)
            piv[:, j] = p + 1
            top = A[rows, j].copy()
            A[rows, j] = A[rows, p]
            A[rows, p] = top
        d = A[:, j, j]
        zero = d == 0
        info[(info == 0) & zero] = j + 1
        A[:, j + 1:, j] /= np.where(zero, 1.0, d)[:, None]
        A[:, j + 1:, j + 1:] -= A[:, j + 1:, j:j + 1] * A[:, j:j + 1, j + 1:]
    return A.reshape(a.shape), piv.reshape(batch + (k,)), info.reshape(batch)


def _perm_np(piv, m):
    """The row order [..., m] the swaps ``piv`` (1-based) make: A[perm] = L U."""
    perm = np.tile(np.arange(m), piv.shape[:-1] + (1,)).reshape(-1, m)
    flat = piv.reshape(-1, piv.shape[-1]) - 1
    rows = np.arange(perm.shape[0])
    for j in range(flat.shape[1]):
        pj, top = flat[:, j], perm[:, j].copy()
        perm[:, j] = perm[rows, pj]
        perm[rows, pj] = top
    return perm.reshape(piv.shape[:-1] + (m,))


def _unpack_np(LU):
    m, n = LU.shape[-2:]
    k = min(m, n)
    L = np.tril(LU[..., :, :k], -1) + np.eye(m, k)
    return L, np.triu(LU[..., :k, :])


def _tri_solve_np(T, B, lower, unit=False):
    """T^-1 B for triangular T (the other triangle ignored; ``unit``: ones on the
    diagonal), by NumPy's solve of the clean triangle."""
    n = T.shape[-1]
    T = np.tril(T, -1 if unit else 0) if lower else np.triu(T, 1 if unit else 0)
    if unit:
        T = T + np.eye(n)
    return np.linalg.solve(T, B)


def _lu_backward_np(P, L, U, gL, gU):
    """PyTorch's linalg_lu_backward (real): the gradient of A = P L U from those of L
    (unit lower, [m, k]) and U ([k, n]); square, wide and tall."""
    m, k, n = L.shape[-2], L.shape[-1], U.shape[-1]
    gL = np.zeros(L.shape) if gL is None else gL
    gU = np.zeros(U.shape) if gU is None else gU
    if m == n:
        gA = np.tril(_mT(L) @ gL, -1) + np.triu(gU @ _mT(U))
        gA = _mT(_tri_solve_np(U, _mT(gA), lower=False))  # gA U^-T
        gA = _tri_solve_np(_mT(L), gA, lower=False, unit=True)  # L^-T gA
    elif m < n:
        U1 = U[..., :, :k]
        gA = np.tril(_mT(L) @ gL - np.triu(gU) @ _mT(U), -1)
        gA = _mT(_tri_solve_np(U1, _mT(gA), lower=False))
        gA = np.concatenate([gA + np.triu(gU[..., :, :k]), gU[..., :, k:]], -1)
        gA = _tri_solve_np(_mT(L), gA, lower=False, unit=True)
    else:
        L1 = L[..., :k, :]
        gA = np.triu(gU @ _mT(U) - _mT(L) @ np.tril(gL, -1))
        gA = _tri_solve_np(_mT(L1), gA, lower=False, unit=True)
        gA = np.concatenate([gA + np.tril(gL[..., :k, :], -1), gL[..., k:, :]], -2)
        gA = _mT(_tri_solve_np(U, _mT(gA), lower=False))
    return P @ gA


def _perm_matrix_np(perm):
    m = perm.shape[-1]
    P = np.zeros(perm.shape + (m,))
    np.put_along_axis(P, perm[..., :, None], 1.0, -1)
    return _mT(P)  # P[perm[i], i] = 1: A = P L U


def _i32(be, a):
    return Tensor(be.from_numpy(np.array(a, dtype=np.int32, order="C"), "i32"), be)  # (0-d kept: not ascontiguousarray)


def lu_factor_ex(A, *, pivot=True, check_errors=False):
    """(LU, pivots, info) of LAPACK's getrf: L (unit, below the diagonal) and U
    packed in one matrix, the 1-based row swaps (int32), info > 0 where a pivot
    is exactly zero (``check_errors``: raise instead).  Differentiable through LU
    (PyTorch's formula: square, wide and tall)."""
    _matrices("lu_factor", A)
    m = A.shape[-2]
    be = A.backend
    held = {}

    def fwd(a):
        LU, piv, info = _lu_np(a, pivot)
        held.update(piv=piv, info=info)
        return [LU]

    def bwd(xs, outs, gs):
        L, U = _unpack_np(outs[0])
        k = L.shape[-1]
        g = gs[0]
        P = _perm_matrix_np(_perm_np(held["piv"], m))
        return (_lu_backward_np(P, L, U, np.tril(g[..., :, :k], -1), np.triu(g[..., :k, :])),)
    (LU,) = _host("lu_factor", [A], fwd, bwd)
    if check_errors and np.any(held["info"]):
        raise LinAlgError(f"lu_factor: the factorization has a zero pivot (singular input; info "
                         f"{held['info'].tolist()})")
    return LuFactorExResult(LU, _i32(be, held["piv"]), _i32(be, held["info"]))


def lu_factor(A, *, pivot=True):
    """(LU, pivots): ``lu_factor_ex`` that raises for a singular matrix, as
    PyTorch's (a square one; a rectangular zero pivot is the caller's)."""
    LU, piv, info = lu_factor_ex(A, pivot=pivot)
    if A.shape[-1] == A.shape[-2] and np.any(info.numpy()):
        raise LinAlgError(f"lu_factor: the matrix is singular (a zero pivot; input shape {list(A.shape)}); "
                         "lu_factor_ex returns info instead")
    return LuFactorResult(LU, piv)


def lu_unpack(LU, pivots, unpack_data=True, unpack_pivots=True):
    """(P, L, U) from ``lu_factor``'s packing: L [m, k] unit lower, U [k, n] upper
    (gradients flow back to LU), P [m, m] the permutation with A = P L U."""
    _matrices("lu_unpack", LU)
    m, n = LU.shape[-2:]
    k = min(m, n)
    be = LU.backend
    P = L = U = None
    if unpack_data:
        eye = Tensor(be.from_numpy(np.eye(m, k), LU.dtype), be)
        L = ops.add(ops.tril(LU[..., :, :k], -1), eye)
        U = ops.triu(LU[..., :k, :])
    if unpack_pivots:
        piv = pivots.numpy().astype(np.int64) if isinstance(pivots, Tensor) else np.asarray(pivots, np.int64)
        P = Tensor(be.from_numpy(_perm_matrix_np(_perm_np(piv, m)), LU.dtype), be)
    return LuResult(P, L, U)


def lu(A, *, pivot=True):
    """(P, L, U) with A = P L U (``lu_factor`` unpacked); differentiable."""
    LU, piv = lu_factor_ex(A, pivot=pivot)[:2]
    return lu_unpack(LU, piv)


def lu_solve(LU, pivots, B, *, left=True, adjoint=False):
    """X with A X = B from A's ``lu_factor`` (``adjoint``: A^T X = B; ``left=False``:
    X A = B); gradients to B and to LU (through A = P L U)."""
    _square("lu_solve", LU)
    _matrices("lu_solve", B)
    n = LU.shape[-1]
    if B.shape[-2 if left else -1] != n:
        raise ValueError(f"lu_solve: LU {list(LU.shape)} and B {list(B.shape)} do not fit (A X = B)")
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return ops.swapaxes(lu_solve(LU, pivots, ops.swapaxes(B, -1, -2), adjoint=not adjoint), -1, -2)
    piv = pivots.numpy().astype(np.int64) if isinstance(pivots, Tensor) else np.asarray(pivots, np.int64)
    perm = _perm_np(piv, n)

    def parts(lu_):
        L, U = _unpack_np(lu_)
        return L, U, _perm_matrix_np(perm)

    def solve_(lu_, b, adj):
        L, U, P = parts(lu_)
        if adj:  # A^T X = B: X = P L^-T U^-T B
            return P @ _tri_solve_np(_mT(L), _tri_solve_np(_mT(U), b, lower=True), lower=False, unit=True)
        return _tri_solve_np(U, _tri_solve_np(L, _mT(P) @ b, lower=True, unit=True), lower=False)

    def fwd(lu_, b):
        batch = np.broadcast_shapes(lu_.shape[:-2], b.shape[:-2])
        return [solve_(np.broadcast_to(lu_, batch + lu_.shape[-2:]), np.broadcast_to(b, batch + b.shape[-2:]),
                       adjoint)]

    def bwd(xs, outs, gs):
        lu_, b = xs
        X, g = outs[0], gs[0]
        lub = np.broadcast_to(lu_, X.shape[:-2] + lu_.shape[-2:])
        gB = solve_(lub, g, not adjoint)
        gA = -gB @ _mT(X) if not adjoint else -X @ _mT(gB)
        L, U, P = parts(lub)
        PgA = _mT(P) @ gA
        gLU = np.tril(PgA @ _mT(U), -1) + np.triu(_mT(L) @ PgA)
        return _unbroadcast_np(gLU, lu_.shape), _unbroadcast_np(gB, b.shape)
    return _host("lu_solve", [LU, B], fwd, bwd)[0]


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """X with T X = B (``left=False``: X T = B), T the upper or lower triangle of A
    (the rest is not read; ``unitriangular``: ones on its diagonal, A's not read);
    batch axes broadcast.  Gradients: gB = T^-T gX, gA = -gB X^T on the triangle."""
    _square("solve_triangular", A)
    _matrices("solve_triangular", B)
    n = A.shape[-1]
    if B.shape[-2 if left else -1] != n:
        raise ValueError(f"solve_triangular: A {list(A.shape)} and B {list(B.shape)} do not fit (A X = B)")
    if not left:
        return ops.swapaxes(solve_triangular(ops.swapaxes(A, -1, -2), ops.swapaxes(B, -1, -2), upper=not upper,
                                             unitriangular=unitriangular), -1, -2)
    lower = not upper

    def fwd(a, b):
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        return [_tri_solve_np(np.broadcast_to(a, batch + a.shape[-2:]), np.broadcast_to(b, batch + b.shape[-2:]),
                              lower, unitriangular)]

    def bwd(xs, outs, gs):
        a, b = xs
        X = outs[0]
        ab = np.broadcast_to(a, X.shape[:-2] + a.shape[-2:])
        gB = _tri_solve_np(_mT(ab), gs[0], not lower, unitriangular)
        gA = -gB @ _mT(X)
        off = 1 if unitriangular else 0
        gA = np.tril(gA, -off) if lower else np.triu(gA, off)
        return _unbroadcast_np(gA, a.shape), _unbroadcast_np(gB, b.shape)
    return _host("solve_triangular", [A, B], fwd, bwd)[0]


# -- the _ex forms, least squares -------------------------------------------------
def inv_ex(A, *, check_errors=False):
    """(inverse, info): info > 0 (the first zero pivot) for a singular matrix, whose
    inverse is NaN; the others' inverses carry inv's gradient."""
    _square("inv_ex", A)
    info = lu_factor_ex(A.detach()).info
    bad = info.numpy() != 0
    if not bad.any():
        return InvExResult(inv(A), info)
    if check_errors:
        raise LinAlgError(f"inv_ex: singular matrix (info {info.numpy().tolist()})")
    eye = Tensor(A.backend.from_numpy(np.eye(A.shape[-1]), A.dtype), A.backend)
    mask = Tensor(A.backend.from_numpy(np.asarray(bad, np.float64)[..., None, None], A.dtype), A.backend)
    safe = inv(ops.where(ops.gt(mask, 0.5), eye, A))  # (the singular ones replaced, then NaN)
    return InvExResult(ops.where(ops.gt(mask, 0.5), float("nan"), safe), info)


def solve_ex(A, B, *, left=True, check_errors=False):
    """(result, info): ``solve`` with info > 0 for a singular A (its result NaN)."""
    _square("solve_ex", A)
    Ainv, info = inv_ex(A.detach(), check_errors=check_errors)
    if not np.any(info.numpy()):
        return SolveExResult(solve(A, B, left=left), info)
    return SolveExResult(ops.matmul(Ainv, B) if left else ops.matmul(B, Ainv), info)


def _cholesky_info(a):
    """The order of the first leading minor that is not positive definite (0: none)."""
    out = np.zeros(a.shape[:-2], np.int32)
    for idx in np.ndindex(*a.shape[:-2]):
        m = np.tril(a[idx]) + _mT(np.tril(a[idx], -1))
        for k in range(1, m.shape[-1] + 1):
            try:
                np.linalg.cholesky(m[:k, :k])
            except np.linalg.LinAlgError:
                out[idx] = k
                break
    return out


def cholesky_ex(A, *, upper=False, check_errors=False):
    """(L, info): ``cholesky`` with info the order of the first leading minor that is
    not positive definite (0: none; its L is NaN then)."""
    _square("cholesky_ex", A)
    info = _cholesky_info(A.numpy().astype(np.float64))
    be = A.backend
    if not info.any():
        return CholeskyExResult(cholesky(A, upper=upper), _i32(be, info))
    if check_errors:
        raise LinAlgError(f"cholesky_ex: the input is not positive definite (info {info.tolist()})")
    eye = Tensor(be.from_numpy(np.eye(A.shape[-1]), A.dtype), be)
    mask = Tensor(be.from_numpy(np.asarray(info != 0, np.float64)[..., None, None], A.dtype), be)
    L = cholesky(ops.where(ops.gt(mask, 0.5), eye, A), upper=upper)
    return CholeskyExResult(ops.where(ops.gt(mask, 0.5), float("nan"), L), _i32(be, info))


def lstsq(A, B, rcond=None, *, driver=None):
    """Least squares: X minimising ||A X - B|| (the minimum-norm one if A is rank
    deficient), as ``pinv(A) @ B`` (differentiable: pinv's gradient).  PyTorch's
    tuple: ``rank`` (int32) and, for the drivers "gelsd" / "gelss", the singular
    values and (m > n, full rank) the squared residuals per column; the default
    "gelsy" leaves those empty, as PyTorch's CPU does."""
    _matrices("lstsq", A)
    check_tensor("lstsq", B)
    vec = B.ndim == A.ndim - 1
    m, n = A.shape[-2:]
    if B.shape[-1 if vec else -2] != m:
        raise ValueError(f"lstsq: A {list(A.shape)} and B {list(B.shape)} do not fit (rows of A X = B)")
    if driver not in (None, "gels", "gelsy", "gelsd", "gelss"):
        raise ValueError(f"lstsq: driver must be 'gels', 'gelsy', 'gelsd' or 'gelss', got {driver!r}")
    eps = float(np.finfo(np.float64 if A.dtype == "f64" else np.float32).eps)
    tol = max(m, n) * eps if rcond is None else rcond
    P = pinv(A, rtol=tol)
    X = ops.matmul(P, ops.unsqueeze(B, -1) if vec else B)
    X = ops.squeeze(X, -1) if vec else X
    be = A.backend
    s = np.linalg.svd(A.numpy().astype(np.float64), compute_uv=False)
    rank = (s > tol * s.max(-1, keepdims=True, initial=0.0)).sum(-1).astype(np.int32)
    empty = Tensor(be.from_numpy(np.zeros(0), A.dtype), be)
    if driver in ("gelsd", "gelss"):
        sv = Tensor(be.from_numpy(s, A.dtype), be)
        if m > n and np.all(rank == n):
            r = ops.sub(ops.matmul(A, ops.unsqueeze(X, -1) if vec else X), ops.unsqueeze(B, -1) if vec else B)
            res = ops.sum(ops.mul(r, r), -2)
            res = ops.squeeze(res, -1) if vec else res
        else:
            res = empty
    else:
        sv = res = empty
    return LstsqResult(X, res, _i32(be, rank), sv)


# -- composed on the device ------------------------------------------------------
def matrix_power(A, n):
    """A^n by repeated squaring (n < 0: of inv(A); n = 0: the identity)."""
    _square("matrix_power", A)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"matrix_power: n must be an int, got {n!r}")
    if n < 0:
        A, n = inv(A), -int(n)
    if n == 0:
        eye = Tensor(A.backend.from_numpy(np.broadcast_to(np.eye(A.shape[-1]), A.shape).copy(), A.dtype), A.backend)
        return eye
    result, base = None, A
    while n:
        if n & 1:
            result = base if result is None else ops.matmul(result, base)
        n >>= 1
        if n:
            base = ops.matmul(base, base)
    return result


def multi_dot(tensors):
    """The product of a chain of matrices (the first and last may be vectors)."""
    ts = list(tensors)
    if len(ts) < 2:
        raise ValueError(f"multi_dot: expected at least two tensors, got {len(ts)}")
    out = ts[0]
    for t in ts[1:]:
        out = ops.matmul(out, t)
    return out


def vecdot(x, y, *, dim=-1):
    """sum(x * y) along ``dim`` (broadcast)."""
    return ops.sum(ops.mul(x, y), dim)


def cross(a, b, *, dim=-1):
    """The cross product of 3-vectors along ``dim`` (vkgrad.cross)."""
    return ops.cross(a, b, dim)


def vector_norm(x, ord=2, dim=None, keepdim=False):
    """The ``ord``-norm over ``dim`` (all by default): a number > 0, inf, -inf, or 0
    (the count of nonzeros, no gradient)."""
    check_tensor("vector_norm", x)
    return ops.norm(x, ord, dim, keepdim)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False):
    """The matrix norm over the two axes ``dim``: "fro", "nuc" (sum of singular
    values), inf / -inf (max / min row sum of |A|), 1 / -1 (columns), 2 / -2
    (largest / smallest singular value)."""
    _matrices("matrix_norm", A)
    r, c = (A._dim("matrix_norm", d) for d in dim)
    if r == c:
        raise ValueError(f"matrix_norm: dim must name two axes, got {dim}")
    if ord == "fro":
        return ops.norm(A, 2.0, (r, c), keepdim)
    if ord in ("nuc", 2, -2):
        moved = ops.movedim(A, (r, c), (-2, -1))
        s = svdvals(moved)
        out = ops.sum(s, -1) if ord == "nuc" else (ops.amax(s, -1) if ord == 2 else ops.amin(s, -1))
        if keepdim:
            for d in sorted((r, c)):
                out = ops.unsqueeze(out, d)
        return out
    if ord in (np.inf, -np.inf, 1, -1):
        along, across = (c, r) if ord in (np.inf, -np.inf) else (r, c)
        sums = ops.sum(ops.abs(A), along, keepdims=True)
        out = (ops.amax if ord > 0 else ops.amin)(sums, across, keepdims=True)
        return out if keepdim else ops.reshape(out, tuple(s for i, s in enumerate(A.shape) if i not in (r, c)))
    raise ValueError(f"matrix_norm: ord must be 'fro', 'nuc', inf, -inf, 1, -1, 2 or -2, got {ord!r}")


def norm(A, ord=None, dim=None, keepdim=False):
    """PyTorch's linalg.norm: a vector norm for an int ``dim`` (or a 1-d input, or
    ord None with dim None: the flattened 2-norm), a matrix norm for two axes (or a
    2-d input with ``ord``)."""
    check_tensor("norm", A)
    if isinstance(dim, (tuple, list)) and len(dim) == 2:
        return matrix_norm(A, "fro" if ord is None else ord, tuple(dim), keepdim)
    if dim is None and ord is not None and A.ndim == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim)
    if dim is None and ord is not None and A.ndim != 1:
        raise ValueError(f"norm: ord {ord!r} without dim needs a 1-d or 2-d input, got {list(A.shape)}")
    return vector_norm(A, 2.0 if ord is None else ord, dim, keepdim)


def matrix_exp(A):
    """exp(A) by scaling and squaring: a degree-18 Taylor polynomial (Horner) of
    A / 2^s, then s squarings, with ||A / 2^s||_1 <= 1/2 (s from the host's norm).
    Matrix products on the device; the gradient is that of the products (exact
    for the approximation, within its 1e-16 relative error)."""
    _square("matrix_exp", A)
    n = A.shape[-1]
    norm1 = float(np.abs(A.detach().numpy().astype(np.float64)).sum(-2).max(initial=0.0))
    s = max(0, int(np.ceil(np.log2(norm1 / 0.5)))) if norm1 > 0.5 else 0
    X = ops.mul(A, 1.0 / 2 ** s) if s else A
    eye = Tensor(A.backend.from_numpy(np.broadcast_to(np.eye(n), A.shape).copy(), A.dtype), A.backend)
    E = eye
    for k in range(18, 0, -1):  # I + X/k (I + X/(k+1) (...))
        E = ops.add(eye, ops.mul(ops.matmul(X, E), 1.0 / k))
    for _ in range(s):
        E = ops.matmul(E, E)
    return E


def cond(A, p=None):
    """The condition number: ||A|| ||A^-1|| in the matrix norm ``p`` (None or 2:
    the ratio of the extreme singular values, for any shape; -2 its inverse)."""
    _matrices("cond", A)
    if p in (None, 2, -2):
        s = svdvals(A)
        big, small = ops.amax(s, -1), ops.amin(s, -1)
        return ops.div(big, small) if p != -2 else ops.div(small, big)
    _square("cond", A)
    return ops.mul(matrix_norm(A, p), matrix_norm(inv(A), p))


def vander(x, *, N=None):
    """The Vandermonde matrix [..., n, N] of x [..., n]: columns x^0 .. x^(N-1)
    (increasing, PyTorch's linalg.vander; N defaults to n), as running products
    (exact gradients at zero)."""
    check_tensor("vander", x)
    if x.ndim < 1:
        raise ValueError("vander: expected a vector [..., n], got a 0-d tensor")
    N = x.shape[-1] if N is None else int(N)
    if N < 1:
        raise ValueError(f"vander: N must be >= 1, got {N}")
    ones = Tensor(x.backend.from_numpy(np.ones(x.shape + (1,)), x.dtype), x.backend)
    if N == 1:
        return ones
    powers = ops.cumprod(ops.broadcast_to(ops.unsqueeze(x, -1), x.shape + (N - 1,)), -1)
    return ops.cat([ones, powers], -1)


def tensorinv(A, ind=2):
    """The inverse of A as a linear map from its first ``ind`` axes' product to the
    rest: shape A.shape[ind:] + A.shape[:ind]."""
    check_tensor("tensorinv", A)
    out_shape, in_shape = A.shape[:ind], A.shape[ind:]
    rows, cols = int(np.prod(out_shape)), int(np.prod(in_shape))
    if ind < 1 or rows != cols:
        raise ValueError(f"tensorinv: the product of the first ind={ind} axes of {list(A.shape)} must equal "
                         "the rest's")
    return ops.reshape(inv(ops.reshape(A, (rows, cols))), tuple(in_shape) + tuple(out_shape))


def tensorsolve(A, B, dims=None):
    """X with tensordot(A, X, X.ndim) = B; ``dims``: axes of A moved to the end first."""
    check_tensor("tensorsolve", A)
    if dims is not None:
        dims = [A._dim("tensorsolve", d) for d in dims]
        A = ops.movedim(A, tuple(dims), tuple(range(A.ndim - len(dims), A.ndim)))
    x_shape = A.shape[B.ndim:]
    rows, cols = int(np.prod(B.shape)), int(np.prod(x_shape))
    if int(np.prod(A.shape[:B.ndim])) != rows or rows != cols:
        raise ValueError(f"tensorsolve: A {list(A.shape)} must hold B's {rows} elements ({list(B.shape)}) in its "
                         "first axes and as many in the rest")
    return ops.reshape(solve(ops.reshape(A, (rows, cols)), ops.reshape(B, (rows,))), tuple(x_shape))


def householder_product(A, tau):
    """The first n columns of H_1 ... H_k, H_i = I - tau_i v_i v_i^T with v_i the
    i-th column of A [..., m, n] below the diagonal and 1 on it (LAPACK's orgqr,
    PyTorch's linalg.householder_product); composed on the device, so
    differentiable in A and tau."""
    _matrices("householder_product", A)
    check_tensor("householder_product", tau)
    m, n = A.shape[-2:]
    k = tau.shape[-1] if tau.ndim else 0
    if not m >= n >= k or tau.shape[:-1] != A.shape[:-2]:
        raise ValueError(f"householder_product: expected A [..., m, n] with m >= n and tau [..., k] with k <= n, "
                         f"got A {list(A.shape)} and tau {list(tau.shape)}")
    be, dt = A.backend, A.dtype
    Q = Tensor(be.from_numpy(np.broadcast_to(np.eye(m, n), A.shape).copy(), dt), be)
    for i in reversed(range(k)):  # H_i (H_i+1 (... I)): each reflector applied to the product so far
        below = Tensor(be.from_numpy((np.arange(m) > i).astype(np.float64), dt), be)
        unit = Tensor(be.from_numpy((np.arange(m) == i).astype(np.float64), dt), be)
        v = ops.add(ops.mul(A[..., :, i], below), unit)
        vQ = ops.matmul(ops.unsqueeze(v, -2), Q)  # [..., 1, n]
        t = ops.unsqueeze(ops.unsqueeze(tau[..., i], -1), -1)
        Q = ops.sub(Q, ops.mul(t, ops.matmul(ops.unsqueeze(v, -1), vQ)))
    return Q


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """The diagonals of matrices (over the last two axes by default)."""
    return ops.diagonal(A, offset, dim1, dim2)


def matmul(a, b):
    """vkgrad.matmul."""
    return ops.matmul(a, b)


__all__ = ["LinAlgError", "inv", "det", "slogdet", "logdet", "solve", "cholesky", "eigh", "eigvalsh", "svd", "svdvals", "qr", "pinv",
           "matrix_rank", "matrix_power", "multi_dot", "vecdot", "cross", "vector_norm", "matrix_norm", "norm",
           "lu_factor", "lu_factor_ex", "lu", "lu_unpack", "lu_solve", "solve_triangular", "inv_ex", "solve_ex",
           "cholesky_ex", "lstsq", "matrix_exp", "cond", "vander", "tensorinv", "tensorsolve", "diagonal", "matmul",
           "householder_product"]
