"""PyTorch's ``torch.nn.utils.parametrizations``: ``orthogonal``, ``weight_norm``
and ``spectral_norm`` as parametrizations (``parametrize``), with PyTorch's
state-dict names (``parametrizations.weight.original``, ``original0`` /
``original1`` for weight_norm's g and v)."""
from __future__ import annotations

import numpy as np

from .. import linalg, ops
from ..autograd import no_grad
from ..random import rng
from ..tensor import Tensor, tensor
from . import parametrize
from .module import Module

_MAPS = ("matrix_exp", "cayley", "householder")


def _eye_like(x, n, k):
    return Tensor(x.backend.from_numpy(np.broadcast_to(np.eye(n, k), x.shape[:-2] + (n, k)).copy(), x.dtype),
                  x.backend)


def _make_orthogonal(A):
    """Q of A = QR with diag(R) >= 0 (A tall)."""
    Q, R = linalg.qr(A)
    signs = ops.sign(ops.diagonal(R, 0, -2, -1))
    signs = ops.where(ops.eq(signs, 0.0), 1.0, signs)
    return ops.mul(Q, ops.unsqueeze(signs, -2))


class _Orthogonal(Module):
    """Q from an unconstrained tensor: exp or the Cayley transform of a skew
    matrix made of its lower triangle, or a product of Householder reflectors of
    its columns; with ``use_trivialization``, the result multiplies ``base`` (the
    orthogonalised initial weight)."""

    def __init__(self, weight, orthogonal_map, *, use_trivialization=True):
        super().__init__()
        self.shape = tuple(weight.shape)
        self.orthogonal_map = orthogonal_map
        self.use_trivialization = use_trivialization
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X):
        n, k = X.shape[-2:]
        transposed = n < k
        if transposed:
            X = ops.swapaxes(X, -1, -2)
            n, k = k, n
        if self.orthogonal_map in ("matrix_exp", "cayley"):
            X = ops.tril(X)
            if n != k:
                X = ops.cat([X, Tensor(X.backend.from_numpy(np.zeros(X.shape[:-2] + (n, n - k)), X.dtype),
                                       X.backend)], -1)
            A = ops.sub(X, ops.swapaxes(X, -1, -2))
            if self.orthogonal_map == "matrix_exp":
                Q = linalg.matrix_exp(A)
            else:
                eye = _eye_like(A, n, n)
                Q = linalg.solve(ops.sub(eye, ops.mul(A, 0.5)), ops.add(eye, ops.mul(A, 0.5)))
            if n != k:
                Q = Q[..., :k]
        else:
            A = ops.tril(X, -1)
            tau = ops.div(2.0, ops.add(ops.sum(ops.mul(A, A), -2), 1.0))
            Q = linalg.householder_product(A, tau)
            Q = ops.mul(Q, ops.unsqueeze(ops.trunc(ops.diagonal(X, 0, -2, -1)), -2))
        if self.use_trivialization:
            Q = ops.matmul(self.base, Q)
        return ops.swapaxes(Q, -1, -2) if transposed else Q

    def right_inverse(self, Q):
        if tuple(Q.shape) != self.shape:
            raise ValueError(f"orthogonal: expected a matrix or batch of matrices of shape {list(self.shape)}, "
                             f"got {list(Q.shape)}")
        with no_grad():
            Q_init = Q
            n, k = Q.shape[-2:]
            transpose = n < k
            if transpose:
                Q = ops.swapaxes(Q, -1, -2)
                n, k = k, n
            if not self.use_trivialization:
                if self.orthogonal_map != "householder":
                    raise NotImplementedError("orthogonal: assigning to the matrix_exp or cayley parametrization "
                                              "needs use_trivialization=True")
                from .._linalg_top import geqrf
                A, tau = geqrf(Q)
                a = A.numpy().astype(np.float64)
                d = np.sign(np.diagonal(a, 0, -2, -1)).copy()
                d[tau.numpy() == 0.0] *= -1
                idx = np.arange(min(n, k))
                a[..., idx, idx] = d
                A = tensor(a, dtype=Q.dtype, device=Q.device)
                return ops.swapaxes(A, -1, -2) if transpose else A
            if n == k:
                eye = _eye_like(Q, k, k)
                err = float(ops.amax(ops.abs(ops.sub(ops.matmul(ops.swapaxes(Q, -1, -2), Q), eye))).item()) \
                    if Q.size else 0.0
                eps = 10.0 * n * float(np.finfo({"f64": np.float64, "f16": np.float16}.get(Q.dtype,
                                                                                        np.float32)).eps)
                Q = _make_orthogonal(Q) if err > eps else ops.clone(Q)
            else:
                N = tensor(rng().standard_normal(tuple(Q.shape[:-2]) + (n, n - k)), dtype=Q.dtype, device=Q.device)
                Q = _make_orthogonal(ops.cat([Q, N], -1))
            self.base = Q
            neg = -_eye_like(Q_init, *Q_init.shape[-2:])
            return neg


def orthogonal(module, name="weight", orthogonal_map=None, *, use_trivialization=True):
    """Make ``module.<name>`` (a matrix or batch of matrices) orthogonal: Q^T Q = I
    for tall, Q Q^T = I for wide ones.  ``orthogonal_map``: "matrix_exp" (default
    for square), "cayley", or "householder" (default otherwise).  With
    ``use_trivialization`` (default) the initial weight is kept (orthogonalised by
    QR if it is not orthogonal) in ``parametrizations.<name>[0].base``."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"orthogonal: {type(module).__name__} has no parameter or buffer named {name!r}")
    if weight.ndim < 2:
        raise ValueError(f"orthogonal: expected a matrix or batch of matrices, got a tensor of {weight.ndim} "
                         "dimensions")
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.shape[-2] == weight.shape[-1] else "householder"
    if orthogonal_map not in _MAPS:
        raise ValueError(f'orthogonal: orthogonal_map must be "matrix_exp", "cayley" or "householder", got '
                         f"{orthogonal_map!r}")
    orth = _Orthogonal(weight, orthogonal_map, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module


def _norm_except_dim(v, dim):
    """PyTorch's norm_except_dim: the classic weight_norm's norm, dim -1 meaning all axes."""
    from .utils import _norm_except
    return _norm_except(v, None if dim == -1 else dim)


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return ops.mul(weight_v, ops.div(weight_g, _norm_except_dim(weight_v, self.dim)))

    def right_inverse(self, weight):
        return _norm_except_dim(weight, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """Weight normalisation as a parametrization: ``original0`` the magnitude g
    (norms over every axis but ``dim``; None: one norm), ``original1`` the
    direction v; the weight is v g / ||v||."""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        nd = weight.ndim
        if not -nd <= dim < nd:
            raise IndexError(f"spectral_norm: dim {dim} out of range for a {nd}-d weight")
        if n_power_iterations <= 0:
            raise ValueError(f"spectral_norm: n_power_iterations must be positive, got {n_power_iterations}")
        self.dim, self.eps = dim % nd if nd else 0, eps
        if nd > 1:
            self.n_power_iterations = n_power_iterations
            h, w = self._matrix(weight).shape
            for nm, size in (("_u", h), ("_v", w)):
                self.register_buffer(nm, ops.normalize(tensor(rng().standard_normal(size), dtype=weight.dtype,
                                                              device=weight.device), 2.0, 0, eps))
            self._power_method(self._matrix(weight), 15)

    def _matrix(self, weight):
        if self.dim:
            weight = ops.transpose(weight, (self.dim,) + tuple(d for d in range(weight.ndim) if d != self.dim))
        return ops.reshape(weight, (weight.shape[0], -1))

    def _power_method(self, W, n):
        with no_grad():
            W = W.detach()
            u, v = self._u, self._v
            for _ in range(n):
                u = ops.normalize(ops.matmul(W, v), 2.0, 0, self.eps)
                v = ops.normalize(ops.matmul(u, W), 2.0, 0, self.eps)
            for buf, new in ((self._u, u), (self._v, v)):  # in place: a captured step keeps the buffers
                buf.backend.copy_(buf.handle, new.handle)

    def forward(self, weight):
        if weight.ndim == 1:
            return ops.normalize(weight, 2.0, 0, self.eps)
        W = self._matrix(weight)
        if self.training:
            self._power_method(W, self.n_power_iterations)
        sigma = ops.sum(ops.mul(self._u.detach(), ops.matmul(W, self._v.detach())))
        return ops.div(weight, sigma)

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Spectral normalisation as a parametrization: the weight divided by its
    largest singular value, estimated by power iteration (``n_power_iterations``
    per training read; 15 at registration) with the vectors in the buffers
    ``parametrizations.<name>[0]._u`` / ``_v``; ``dim`` the output axis (1 for
    transposed convolutions)."""
    from .layers import ConvTranspose2d  # (ConvTranspose1d / 3d derive from it)
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"spectral_norm: {type(module).__name__} has no parameter or buffer named {name!r}")
    if dim is None:
        dim = 1 if isinstance(module, ConvTranspose2d) else 0
    parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module


__all__ = ["orthogonal", "weight_norm", "spectral_norm"]
