"""PyTorch's torch.distributions.transforms: invertible maps y = f(x) with
``log_abs_det_jacobian(x, y)``, for ``TransformedDistribution``.  Each is
composed of vkgrad's ops (differentiable)."""
from __future__ import annotations

import math

from .. import ops
from ..tensor import Tensor, zeros_like


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


def _sum_right(v, n):
    """v summed over its last n axes."""
    return ops.sum(v, tuple(range(-n, 0))) if n > 0 else v


identity_transform = ComposeTransform([])

__all__ = ["Transform", "ExpTransform", "AffineTransform", "SigmoidTransform", "TanhTransform",
           "SoftplusTransform", "PowerTransform", "AbsTransform", "ComposeTransform", "identity_transform"]
