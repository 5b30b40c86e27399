"""``kl_divergence(p, q)`` and ``register_kl``: PyTorch's registry of KL formulas
by the pair of distribution types (the most specific registered pair wins, as
PyTorch's lookup)."""
from __future__ import annotations

import math

from .. import ops
from . import distribution as d

_KL = {}


def register_kl(type_p, type_q):
    """A decorator registering ``fn(p, q)`` as KL(p || q) for those types (and their
    subclasses, unless a more specific pair is registered)."""
    def deco(fn):
        _KL[(type_p, type_q)] = fn
        return fn
    return deco


def _lookup(tp, tq):
    best, rank = None, None
    for (a, b), fn in _KL.items():
        if issubclass(tp, a) and issubclass(tq, b):
            r = (tp.__mro__.index(a), tq.__mro__.index(b))
            if rank is None or r < rank:
                best, rank = fn, r
    return best


def kl_divergence(p, q):
    """KL(p || q) by the registered formula for the pair's types."""
    fn = _lookup(type(p), type(q))
    if fn is None:
        raise NotImplementedError(f"kl_divergence: no formula for {type(p).__name__} against {type(q).__name__}")
    return fn(p, q)


@register_kl(d.Normal, d.Normal)
def _kl_normal(p, q):
    r = p.scale / q.scale
    dd = (p.loc - q.loc) / q.scale
    return (r * r + dd * dd - 1.0) * 0.5 - ops.log(r)


@register_kl(d.Uniform, d.Uniform)
def _kl_uniform(p, q):
    inside = ops.le(q.low, p.low) * ops.ge(q.high, p.high)
    return ops.where(inside, ops.log((q.high - q.low) / (p.high - p.low)), float("inf"))


@register_kl(d.Uniform, d.Normal)
def _kl_uniform_normal(p, q):
    # log(sqrt(2 pi) scale / w) + (w^2 / 12 + (mid - loc)^2) / (2 scale^2), w the width, mid the centre
    w = p.high - p.low
    return ops.log(q.scale * math.sqrt(2.0 * math.pi) / w) + (w * w * (1.0 / 12.0) + (
        (p.high + p.low) * 0.5 - q.loc) ** 2) / (q.scale * q.scale * 2.0)


@register_kl(d.Exponential, d.Exponential)
def _kl_exponential(p, q):
    r = q.rate / p.rate
    return r - ops.log(r) - 1.0


@register_kl(d.Laplace, d.Laplace)
def _kl_laplace(p, q):
    r = p.scale / q.scale
    t = ops.abs(p.loc - q.loc) / q.scale
    return -ops.log(r) + t + r * ops.exp(-t / r) - 1.0


@register_kl(d.Bernoulli, d.Bernoulli)
def _kl_bernoulli(p, q):
    pp = p.probs
    return pp * (ops.logsigmoid(p.logits) - ops.logsigmoid(q.logits)) + (1.0 - pp) * (
        ops.logsigmoid(-p.logits) - ops.logsigmoid(-q.logits))


@register_kl(d.Categorical, d.Categorical)
def _kl_categorical(p, q):
    return ops.sum(p.probs * (p.logits - q.logits), -1)


@register_kl(d.Gamma, d.Gamma)
def _kl_gamma(p, q):
    a, b, c, e = p.concentration, p.rate, q.concentration, q.rate
    return ((a - c) * ops.digamma(a) - ops.lgamma(a) + ops.lgamma(c) + c * (ops.log(b) - ops.log(e))
            + a * (e - b) / b)


@register_kl(d.Beta, d.Beta)
def _kl_beta(p, q):
    a1, b1, a2, b2 = p.concentration1, p.concentration0, q.concentration1, q.concentration0
    t = a1 + b1
    return (q._log_norm() - p._log_norm() + (a1 - a2) * ops.digamma(a1) + (b1 - b2) * ops.digamma(b1)
            + (a2 - a1 + b2 - b1) * ops.digamma(t))


@register_kl(d.Dirichlet, d.Dirichlet)
def _kl_dirichlet(p, q):
    a, b = p.concentration, q.concentration
    a0 = ops.sum(a, -1, keepdims=True)
    return q._log_norm() - p._log_norm() + ops.sum((a - b) * (ops.digamma(a) - ops.digamma(a0)), -1)


@register_kl(d.Poisson, d.Poisson)
def _kl_poisson(p, q):
    return p.rate * (ops.log(p.rate) - ops.log(q.rate)) - p.rate + q.rate


@register_kl(d.MultivariateNormal, d.MultivariateNormal)
def _kl_mvn(p, q):
    from .. import linalg
    n = p.event_shape[0]
    M = linalg.solve(q.scale_tril, p.scale_tril)
    diff = linalg.solve(q.scale_tril, q.loc - p.loc)
    return (ops.sum(M * M, (-2, -1)) + ops.sum(diff * diff, -1) - n) * 0.5 + q._half_logdet() - p._half_logdet()


from . import more as m  # noqa: E402  (after the basic pairs: more builds on distribution)
from .transforms import _sum_right  # noqa: E402


@register_kl(m.Independent, m.Independent)
def _kl_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError("kl_divergence: Independent distributions of different event ranks")
    return _sum_right(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)


@register_kl(m.LogNormal, m.LogNormal)
def _kl_lognormal(p, q):
    return _kl_normal(p.base_dist, q.base_dist)  # (KL is invariant under the shared exp map)


@register_kl(m.HalfNormal, m.HalfNormal)
def _kl_halfnormal(p, q):
    r = p.scale / q.scale
    return (r * r - 1.0) * 0.5 - ops.log(r)


@register_kl(m.Cauchy, m.Cauchy)
def _kl_cauchy(p, q):
    s, dl = p.scale + q.scale, p.loc - q.loc
    return ops.log(s * s + dl * dl) - ops.log(p.scale * q.scale * 4.0)


@register_kl(m.Gumbel, m.Gumbel)
def _kl_gumbel(p, q):
    ct1, ct2 = p.scale / q.scale, q.loc / q.scale
    ct3 = p.loc / q.scale
    t1 = -ops.log(ct1) - ct2 + ct3
    t2 = ct1 * m._EULER
    t3 = ops.exp(ct2 + ops.lgamma(ct1 + 1.0) - ct3)
    return t1 + t2 + t3 - (1.0 + m._EULER)


@register_kl(m.Geometric, m.Geometric)
def _kl_geometric(p, q):
    return -p.entropy() - ops.logsigmoid(q.logits) - p.mean * ops.logsigmoid(-q.logits)


@register_kl(m.Binomial, m.Binomial)
def _kl_binomial(p, q):
    if not bool((p.total_count == q.total_count).all()):
        raise NotImplementedError("kl_divergence: Binomials of different total counts")
    n = p.total_count
    pp = p.probs
    return n * (pp * (ops.logsigmoid(p.logits) - ops.logsigmoid(q.logits))
                + (1.0 - pp) * (ops.logsigmoid(-p.logits) - ops.logsigmoid(-q.logits)))


def _as_mvn(p):
    return p if isinstance(p, d.MultivariateNormal) else d.MultivariateNormal(p.loc, scale_tril=p.scale_tril)


@register_kl(m.LowRankMultivariateNormal, m.LowRankMultivariateNormal)
@register_kl(m.LowRankMultivariateNormal, d.MultivariateNormal)
@register_kl(d.MultivariateNormal, m.LowRankMultivariateNormal)
def _kl_lowrank(p, q):
    """Through the dense factors (the covariance's Cholesky): O(n^3), equal to
    PyTorch's capacitance formulas."""
    return _kl_mvn(_as_mvn(p), _as_mvn(q))
