"""``vkgrad.special``: PyTorch's torch.special names for vkgrad's special functions
(``erf``, ``erfc``, ``erfinv``, ``gammaln``, ``digamma``, ...) and a few composed
here (``xlog1py``, ``multigammaln``, ``ndtr``, ``ndtri``, ``log_ndtr``, ``sinc``,
``entr``); all differentiable, on every backend."""
from __future__ import annotations

import math

from . import ops
from .ops import digamma, erf, erfc, erfinv, expm1, exp2, log1p, log_softmax, logit, logsumexp, round, sigmoid, softmax
from .ops import i0, polygamma, xlogy
from .ops.extras import _bessel
from .ops._core import as_tensor, check_tensor

expit = sigmoid
gammaln = ops.lgamma
psi = digamma


def xlog1py(x, y):
    """x * log1p(y), 0 where x is 0 (a NaN y stays NaN)."""
    check_tensor("xlog1py", x)
    y = as_tensor("xlog1py", y, x)
    keep = ops.isnan(y) + (1.0 - ops.eq(x, 0.0))
    return ops.where(keep, x * ops.log1p(ops.where(keep, y, 0.0)), 0.0)


def multigammaln(x, p):
    """log of the multivariate gamma function of dimension ``p``:
    p (p - 1) / 4 log(pi) + sum_i lgamma(x - i / 2) (PyTorch's mvlgamma)."""
    check_tensor("multigammaln", x)
    if isinstance(p, bool) or not isinstance(p, int) or p < 1:
        raise ValueError(f"multigammaln: p must be a positive int, got {p!r}")
    out = ops.lgamma(x)
    for i in range(1, p):
        out = out + ops.lgamma(x - i / 2.0)
    return out + p * (p - 1) / 4.0 * math.log(math.pi)


def ndtr(x):
    """The standard normal CDF: erfc(-x / sqrt 2) / 2 (accurate in the lower tail)."""
    check_tensor("ndtr", x)
    return ops.erfc(x * -math.sqrt(0.5)) * 0.5


def log_ndtr(x):
    """log ndtr(x) (finite down to x ~ -13 in f32, where erfc underflows)."""
    return ops.log(ndtr(x))


def ndtri(p):
    """The standard normal quantile: sqrt 2 erfinv(2 p - 1)."""
    check_tensor("ndtri", p)
    return ops.erfinv(p * 2.0 - 1.0) * math.sqrt(2.0)


def sinc(x):
    """sin(pi x) / (pi x), 1 at 0 (its gradient 0 there)."""
    check_tensor("sinc", x)
    zero = ops.eq(x.detach(), 0.0)
    px = ops.where(zero, 1.0, x) * math.pi
    return ops.where(zero, 1.0, ops.sin(px) / px)


def i0e(x):
    """exp(-|x|) I0(x) (finite where I0 overflows)."""
    check_tensor("i0e", x)
    return _bessel(x, 0, True)


def i1(x):
    """The modified Bessel function of the first kind, order 1."""
    check_tensor("i1", x)
    return _bessel(x, 1, False)


def i1e(x):
    """exp(-|x|) I1(x)."""
    check_tensor("i1e", x)
    return _bessel(x, 1, True)


def entr(x):
    """-x log x elementwise: 0 at 0, -inf below (PyTorch's)."""
    check_tensor("entr", x)
    xd = x.detach()
    pos = ops.gt(xd, 0.0)
    val = ops.where(pos, -x * ops.log(ops.where(pos, x, 1.0)), 0.0)
    return ops.where(ops.lt(xd, 0.0), float("-inf"), val)


__all__ = ["erf", "erfc", "erfinv", "expit", "logit", "xlogy", "xlog1py", "gammaln", "digamma", "psi", "multigammaln",
           "ndtr", "ndtri", "log_ndtr", "sinc", "entr", "expm1", "exp2", "log1p", "logsumexp", "softmax",
           "log_softmax", "round", "i0", "i0e", "i1", "i1e", "polygamma"]
