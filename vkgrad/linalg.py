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
EighResult = namedtuple("eigh", "eigenvalues eigenvectors")
SvdResult = namedtuple("svd", "U S Vh")
QrResult = namedtuple("qr", "Q R")


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
        raise ValueError(f"{op}: {e} (input shapes {[list(t.shape) for t in inputs]})") from None
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
            raise ValueError(f"{op} (backward): {e}") from None
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
    """The ``ord``-norm over ``dim`` (all by default): a number >= 1, inf, -inf, or 0
    (the count of nonzeros, no gradient)."""
    check_tensor("vector_norm", x)
    if ord == 0:
        return ops.sum(ops.ne(x.detach(), 0.0), dim, keepdim)
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


__all__ = ["inv", "det", "slogdet", "logdet", "solve", "cholesky", "eigh", "eigvalsh", "svd", "svdvals", "qr", "pinv",
           "matrix_rank", "matrix_power", "multi_dot", "vecdot", "cross", "vector_norm", "matrix_norm", "norm"]
