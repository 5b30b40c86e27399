"""PyTorch's torch.distributions.transforms: invertible maps y = f(x) with
``log_abs_det_jacobian(x, y)``, for ``TransformedDistribution``.  Each is
composed of vkgrad's ops (differentiable)."""
from __future__ import annotations

import math

from .. import ops
from ..tensor import Tensor, ones_like, tensor, zeros, zeros_like


class Transform:
    """y = self(x), x = self.inv(y), log |dy/dx| = log_abs_det_jacobian(x, y)
    (elementwise unless ``event_dim`` > 0: then summed over that many trailing
    axes by TransformedDistribution); ``sign`` +1 / -1 for monotone maps."""

    event_dim = 0
    bijective = True
    sign = 1

    def __call__(self, x):
        return self._call(x)

    def _call(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not define its forward map")

    def _inverse(self, y):
        raise NotImplementedError(f"{type(self).__name__} has no inverse")

    @property
    def inv(self):
        return _Inverse(self)

    def log_abs_det_jacobian(self, x, y):
        raise NotImplementedError(f"{type(self).__name__} does not define log_abs_det_jacobian")

    def __repr__(self):
        return f"{type(self).__name__}()"


class _Inverse(Transform):
    def __init__(self, t):
        self._t = t
        self.event_dim, self.sign = t.event_dim, t.sign

    def _call(self, x):
        return self._t._inverse(x)

    def _inverse(self, y):
        return self._t(y)

    @property
    def inv(self):
        return self._t

    def log_abs_det_jacobian(self, x, y):
        return -self._t.log_abs_det_jacobian(y, x)


class ExpTransform(Transform):
    """y = exp(x)."""

    def _call(self, x):
        return ops.exp(x)

    def _inverse(self, y):
        return ops.log(y)

    def log_abs_det_jacobian(self, x, y):
        return x


class AffineTransform(Transform):
    """y = loc + scale x (``event_dim``: trailing axes that form one event)."""

    def __init__(self, loc, scale, event_dim=0):
        self.loc, self.scale, self.event_dim = loc, scale, int(event_dim)

    @property
    def sign(self):
        s = self.scale
        return (1 if s >= 0 else -1) if not isinstance(s, Tensor) else ops.sign(s)

    def _call(self, x):
        return x * self.scale + self.loc

    def _inverse(self, y):
        return (y - self.loc) / self.scale

    def log_abs_det_jacobian(self, x, y):
        s = self.scale
        out = ops.log(ops.abs(s)) if isinstance(s, Tensor) else math.log(abs(s))
        return zeros_like(x) + out  # (broadcast to x's shape)


class SigmoidTransform(Transform):
    """y = sigmoid(x)."""

    def _call(self, x):
        return ops.sigmoid(x)

    def _inverse(self, y):
        return ops.logit(y)

    def log_abs_det_jacobian(self, x, y):
        return -ops.softplus(-x) - ops.softplus(x)


class TanhTransform(Transform):
    """y = tanh(x); log |dy/dx| = 2 (log 2 - x - softplus(-2x)) (stable)."""

    def _call(self, x):
        return ops.tanh(x)

    def _inverse(self, y):
        return ops.atanh(y)

    def log_abs_det_jacobian(self, x, y):
        return (math.log(2.0) - x - ops.softplus(x * -2.0)) * 2.0


class SoftplusTransform(Transform):
    """y = softplus(x) = log(1 + exp(x))."""

    def _call(self, x):
        return ops.softplus(x)

    def _inverse(self, y):
        return y + ops.log(-ops.expm1(-y))

    def log_abs_det_jacobian(self, x, y):
        return -ops.softplus(-x)


class PowerTransform(Transform):
    """y = x ** exponent (x > 0)."""

    def __init__(self, exponent):
        self.exponent = exponent

    def _call(self, x):
        return ops.pow(x, self.exponent)

    def _inverse(self, y):
        return ops.pow(y, 1.0 / self.exponent if not isinstance(self.exponent, Tensor) else
                       ops.reciprocal(self.exponent))

    def log_abs_det_jacobian(self, x, y):
        e = self.exponent
        return ops.log(ops.abs(e * y / x)) if isinstance(e, Tensor) else ops.log(ops.abs(y * e / x))

    @property
    def sign(self):  # (decreasing for a negative exponent: a transformed cdf flips)
        e = self.exponent
        return ops.sign(e) if isinstance(e, Tensor) else (1 if e >= 0 else -1)


class AbsTransform(Transform):
    """y = |x| (not bijective: no inverse density)."""

    bijective = False

    def _call(self, x):
        return ops.abs(x)

    def _inverse(self, y):
        return y


class ComposeTransform(Transform):
    """The transforms applied in order (the log-det-Jacobians summed)."""

    def __init__(self, parts):
        self.parts = list(parts)
        self.event_dim = max((t.event_dim for t in self.parts), default=0)

    def _call(self, x):
        for t in self.parts:
            x = t(x)
        return x

    def _inverse(self, y):
        for t in reversed(self.parts):
            y = t.inv(y)
        return y

    def log_abs_det_jacobian(self, x, y):
        total = None
        for t in self.parts:
            nxt = t(x)
            term = _sum_right(t.log_abs_det_jacobian(x, nxt), self.event_dim - t.event_dim)
            total = term if total is None else total + term
            x = nxt
        return total if total is not None else zeros_like(x)


class SoftmaxTransform(Transform):
    """y = softmax(x) over the last axis (PyTorch's: not bijective -- ``inv`` gives
    log y, one of the x mapping to y; no log-det-Jacobian)."""

    event_dim = 1
    bijective = False

    def _call(self, x):
        return ops.softmax(x, -1)

    def _inverse(self, y):
        return ops.log(y)


class StickBreakingTransform(Transform):
    """R^(K-1) -> the K-simplex by stick breaking (PyTorch's): z_i = sigmoid(x_i -
    log(K - 1 - i)), y_i = z_i prod_(j<i) (1 - z_j), the last y the stick left;
    bijective, with its log-det-Jacobian."""

    event_dim = 1

    @staticmethod
    def _offsets(n, like):  # log(n), log(n - 1), ..., log(1): each break centred on an even split
        import numpy as np
        return tensor(np.log(np.arange(n, 0, -1.0)), dtype=like.dtype, device=like.device)

    def _call(self, x):
        z = ops.sigmoid(x - self._offsets(x.shape[-1], x))
        left = ops.cumprod(1.0 - z, -1)  # (the stick left after each break)
        return ops.cat([z, ones_like(z[..., :1])], -1) * ops.cat([ones_like(z[..., :1]), left], -1)

    def _inverse(self, y):
        head = y[..., :-1]
        rest = ops.clamp(1.0 - ops.cumsum(head, -1), min=1e-30)  # (the stick left after each piece)
        return ops.log(head) - ops.log(rest) + self._offsets(head.shape[-1], y)

    def log_abs_det_jacobian(self, x, y):
        u = x - self._offsets(x.shape[-1], x)
        return ops.sum(-u + ops.logsigmoid(u) + ops.log(y[..., :-1]), -1)


class LowerCholeskyTransform(Transform):
    """A square matrix to a lower triangle with a positive diagonal (PyTorch's): its
    strict lower part kept, exp of its diagonal."""

    event_dim = 2
    bijective = False

    def _call(self, x):
        return ops.tril(x, -1) + ops.diag_embed(ops.exp(ops.diagonal(x, 0, -2, -1)))

    def _inverse(self, y):
        return ops.tril(y, -1) + ops.diag_embed(ops.log(ops.diagonal(y, 0, -2, -1)))


class ReshapeTransform(Transform):
    """Events of ``in_shape`` reshaped to ``out_shape`` (the same size; the
    log-det-Jacobian 0)."""

    def __init__(self, in_shape, out_shape):
        import numpy as np
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        if int(np.prod(self.in_shape)) != int(np.prod(self.out_shape)):
            raise ValueError(f"ReshapeTransform: in_shape {list(self.in_shape)} and out_shape "
                             f"{list(self.out_shape)} hold different numbers of elements")
        self.event_dim = len(self.in_shape)

    def _call(self, x):
        return x.reshape(x.shape[:x.ndim - len(self.in_shape)] + self.out_shape)

    def _inverse(self, y):
        return y.reshape(y.shape[:y.ndim - len(self.out_shape)] + self.in_shape)

    def log_abs_det_jacobian(self, x, y):
        return zeros(x.shape[:x.ndim - len(self.in_shape)], dtype=x.dtype, device=x.device)


class IndependentTransform(Transform):
    """``base_transform`` with ``reinterpreted_batch_ndims`` more trailing axes in
    each event (its log-det-Jacobian summed over them)."""

    def __init__(self, base_transform, reinterpreted_batch_ndims):
        self.base_transform, self.reinterpreted_batch_ndims = base_transform, int(reinterpreted_batch_ndims)
        self.event_dim = base_transform.event_dim + self.reinterpreted_batch_ndims
        self.bijective, self.sign = base_transform.bijective, base_transform.sign

    def _call(self, x):
        return self.base_transform(x)

    def _inverse(self, y):
        return self.base_transform.inv(y)

    def log_abs_det_jacobian(self, x, y):
        return _sum_right(self.base_transform.log_abs_det_jacobian(x, y), self.reinterpreted_batch_ndims)


class CumulativeDistributionTransform(Transform):
    """y = distribution.cdf(x) (its inverse the icdf, its log-det-Jacobian the log
    density), PyTorch's."""

    def __init__(self, distribution):
        self.distribution = distribution

    def _call(self, x):
        return self.distribution.cdf(x)

    def _inverse(self, y):
        return self.distribution.icdf(y)

    def log_abs_det_jacobian(self, x, y):
        return self.distribution.log_prob(x)


class _PieceWise(Transform):
    """Transform i applied to piece i of x (``_split``), the results joined back
    (``_join``): CatTransform, StackTransform."""

    def _apply(self, fn, *xs):
        return self._join([fn(t, *parts) for t, *parts in zip(self.transforms, *(self._split(x) for x in xs))])

    def _call(self, x):
        return self._apply(lambda t, p: t(p), x)

    def _inverse(self, y):
        return self._apply(lambda t, p: t.inv(p), y)

    def log_abs_det_jacobian(self, x, y):
        return self._apply(lambda t, a, b: t.log_abs_det_jacobian(a, b), x, y)


class CatTransform(_PieceWise):
    """Transforms applied to consecutive pieces of axis ``dim`` (``lengths`` long; 1
    each by default), their results and log-det-Jacobians concatenated back."""

    def __init__(self, tseq, dim=0, lengths=None):
        self.transforms, self.dim = list(tseq), int(dim)
        self.lengths = [1] * len(self.transforms) if lengths is None else [int(n) for n in lengths]
        if len(self.lengths) != len(self.transforms):
            raise ValueError(f"CatTransform: {len(self.transforms)} transforms and {len(self.lengths)} lengths")
        self.event_dim = max((t.event_dim for t in self.transforms), default=0)

    def _split(self, x):
        total = sum(self.lengths)
        if x.shape[self.dim] != total:
            raise ValueError(f"CatTransform: axis {self.dim} of {list(x.shape)} must hold {total} elements, the "
                             f"lengths' sum")
        return ops.split(x, self.lengths, self.dim)

    def _join(self, parts):
        return ops.cat(parts, self.dim)


class StackTransform(_PieceWise):
    """Transform i applied to index i of axis ``dim``, the results stacked back."""

    def __init__(self, tseq, dim=0):
        self.transforms, self.dim = list(tseq), int(dim)
        self.event_dim = max((t.event_dim for t in self.transforms), default=0)

    def _split(self, x):
        if x.shape[self.dim] != len(self.transforms):
            raise ValueError(f"StackTransform: axis {self.dim} of {list(x.shape)} must hold "
                             f"{len(self.transforms)} elements, one per transform")
        return ops.unbind(x, self.dim)

    def _join(self, parts):
        return ops.stack(parts, self.dim)


def _sum_right(v, n):
    """v summed over its last n axes."""
    return ops.sum(v, tuple(range(-n, 0))) if n > 0 else v


identity_transform = ComposeTransform([])

__all__ = ["Transform", "ExpTransform", "AffineTransform", "SigmoidTransform", "TanhTransform",
           "SoftplusTransform", "PowerTransform", "AbsTransform", "ComposeTransform", "identity_transform",
           "SoftmaxTransform", "StickBreakingTransform", "LowerCholeskyTransform", "ReshapeTransform",
           "IndependentTransform", "CumulativeDistributionTransform", "CatTransform", "StackTransform"]
