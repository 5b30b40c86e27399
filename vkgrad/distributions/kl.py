"""``kl_divergence(p, q)`` and ``register_kl``: PyTorch's registry of KL formulas
by the pair of distribution types (the most specific registered pair wins, as
PyTorch's lookup)."""
from __future__ import annotations

import math

import numpy as np

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
    batch = tuple(np.broadcast_shapes(p.batch_shape, q.batch_shape))
    # (triangular solves, their batch axes broadcast: a batch of locs with one scale raised in solve)
    M = linalg.solve_triangular(q.scale_tril, p.scale_tril, upper=False)
    diff = linalg.solve_triangular(q.scale_tril, (q.loc - p.loc).unsqueeze(-1), upper=False).squeeze(-1)
    kl = (ops.sum(M * M, (-2, -1)) + ops.sum(diff * diff, -1) - n) * 0.5 + q._half_logdet() - p._half_logdet()
    return ops.broadcast_to(kl, batch)


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


# pairs whose supports make KL(p || q) infinite (p puts mass where q has none), as PyTorch's registry: inf over
# p's batch
_INFINITE = {"Normal": ("Uniform", "Pareto", "Gamma", "Exponential", "ContinuousBernoulli", "Beta"),
             "Laplace": ("Uniform", "Pareto", "Gamma", "Exponential", "ContinuousBernoulli", "Beta"),
             "Gumbel": ("Uniform", "Pareto", "Gamma", "Exponential", "ContinuousBernoulli", "Beta"),
             "Exponential": ("Uniform", "Pareto", "ContinuousBernoulli", "Beta"),
             "Gamma": ("Uniform", "Pareto", "ContinuousBernoulli", "Beta"),
             "Pareto": ("Uniform", "ContinuousBernoulli", "Beta"),
             "Beta": ("Pareto",), "ContinuousBernoulli": ("Pareto",), "Poisson": ("Binomial", "Bernoulli")}


def _kl_infinite(p, q):
    from ..tensor import full_like
    return full_like(p.mean, math.inf)


def _dist_type(name):
    return getattr(d, name, None) or getattr(m, name)


for _p, _qs in _INFINITE.items():
    for _q in _qs:
        register_kl(_dist_type(_p), _dist_type(_q))(_kl_infinite)


# -- KL(p || q) = -H(p) - E_p[log q(x)] for the pairs of different families PyTorch has formulas for: log q is a
# combination of a few statistics of x (x, x^2, log x, log(1 - x), |x - m|, exp(-x / s)), and p's expectations of
# them are known in closed form
def _p_name(p):
    return type(p).__name__


def _mean(p):
    if _p_name(p) == "Pareto":  # (inf for alpha <= 1: 0 here, _kl_cross puts the inf -- no inf * 0 in the gradient)
        return ops.where(p.alpha > 1.0, p.alpha * p.scale / (p.alpha - 1.0), 0.0)
    return p.mean


def _second_moment(p):
    if _p_name(p) == "Pareto":  # (inf for alpha <= 2: as _mean's)
        return ops.where(p.alpha > 2.0, p.alpha * p.scale * p.scale / (p.alpha - 2.0), 0.0)
    m_ = p.mean
    return p.variance + m_ * m_


def _mean_log(p):
    n = _p_name(p)
    if n == "Exponential":
        return -ops.log(p.rate) - m._EULER
    if n == "Gamma":
        return ops.digamma(p.concentration) - ops.log(p.rate)
    if n == "Beta":
        return ops.digamma(p.concentration1) - ops.digamma(p.concentration1 + p.concentration0)
    if n == "Pareto":
        return ops.log(p.scale) + 1.0 / p.alpha
    if n == "Uniform":  # (for low >= 0: the mean of log over [low, high])
        return _mean_log_uniform(p.low, p.high)
    raise NotImplementedError


def _mean_log_uniform(lo, hi):
    """E[log u] for u uniform on [lo, hi], 0 <= lo < hi."""
    return (ops.xlogy(hi, hi) - ops.xlogy(lo, lo)) / (hi - lo) - 1.0


def _mean_log1m(p):
    n = _p_name(p)
    if n == "Beta":
        return ops.digamma(p.concentration0) - ops.digamma(p.concentration1 + p.concentration0)
    if n == "Uniform":  # (1 - x is uniform on [1 - high, 1 - low])
        return _mean_log_uniform(1.0 - p.high, 1.0 - p.low)
    raise NotImplementedError


def _mean_exp(p, t):
    """E_p[exp(t x)] (p's moment generating function at t < 0)."""
    n = _p_name(p)
    if n == "Normal":
        return ops.exp(p.loc * t + p.scale * p.scale * t * t * 0.5)
    if n == "Exponential":
        return p.rate / (p.rate - t)
    if n == "Gamma":
        return (1.0 - t / p.rate) ** (-p.concentration)
    if n == "Uniform":
        return (ops.exp(t * p.high) - ops.exp(t * p.low)) / (t * (p.high - p.low))
    raise NotImplementedError


def _mean_abs(p, c):
    """E_p|x - c|."""
    n = _p_name(p)
    if n == "Normal":  # (the folded normal's mean)
        mu, s = p.loc - c, p.scale
        return (s * math.sqrt(2.0 / math.pi) * ops.exp(-(mu * mu) / (s * s * 2.0))
                + mu * ops.erf(mu / (s * math.sqrt(2.0))))
    raise NotImplementedError


def _cross(p, q):
    """E_p[log q(x)] over q's support (the caller makes it inf where p leaves it)."""
    n = _p_name(q)
    if n == "Normal":
        m1, m2 = _mean(p), _second_moment(p)
        return -ops.log(q.scale) - d._HALF_LOG_2PI - (m2 - 2.0 * q.loc * m1 + q.loc * q.loc) / (q.scale * q.scale * 2.0)
    if n == "Exponential":
        return ops.log(q.rate) - q.rate * _mean(p)
    if n == "Gamma":
        a, b = q.concentration, q.rate
        return a * ops.log(b) - ops.lgamma(a) + (a - 1.0) * _mean_log(p) - b * _mean(p)
    if n == "Gumbel":
        z_mean = (_mean(p) - q.loc) / q.scale
        return -ops.log(q.scale) - z_mean - ops.exp(q.loc / q.scale) * _mean_exp(p, -1.0 / q.scale)
    if n == "Laplace":
        return -ops.log(q.scale * 2.0) - _mean_abs(p, q.loc) / q.scale
    if n == "Beta":
        a, b = q.concentration1, q.concentration0
        lbeta = ops.lgamma(a) + ops.lgamma(b) - ops.lgamma(a + b)
        return (a - 1.0) * _mean_log(p) + (b - 1.0) * _mean_log1m(p) - lbeta
    if n == "Uniform":
        return -ops.log(q.high - q.low)
    if n == "Pareto":
        return ops.log(q.alpha) + q.alpha * ops.log(q.scale) - (q.alpha + 1.0) * _mean_log(p)
    if n == "ContinuousBernoulli":  # (its log_prob: x logits - softplus(logits) + the log normaliser)
        return _mean(p) * q.logits - ops.softplus(q.logits) + q._log_norm()
    if n == "Poisson":
        return _mean(p) * ops.log(q.rate) - q.rate  # (p on {0, 1}: log x! = 0)
    raise NotImplementedError



def _support(dist):
    """(low, high) of a distribution's support: numbers or tensors, None where unbounded."""
    n = _p_name(dist)
    if n in ("Exponential", "Gamma"):
        return 0.0, None
    if n in ("Beta", "ContinuousBernoulli", "Bernoulli"):
        return 0.0, 1.0
    if n == "Uniform":
        return dist.low, dist.high
    if n == "Pareto":
        return dist.scale, None
    if n == "Poisson":
        return 0.0, None
    return None, None


def _below(a, b):
    """a < b (None: unbounded -- below nothing, nothing below it) as True / False or a 1.0 / 0.0 tensor."""
    if a is None or b is None:
        return False
    if isinstance(a, float) and isinstance(b, float):
        return a < b
    return ops.lt(a, b) if not isinstance(a, float) else ops.gt(b, a)


# the moments of x a log density of q needs (Pareto's are infinite for alpha <= that order)
_MOMENT_ORDER = {"Normal": 2, "Exponential": 1, "Gamma": 1, "Gumbel": 1, "ContinuousBernoulli": 1, "Poisson": 1}


def _kl_cross(p, q):
    kl = -p.entropy() - _cross(p, q)
    k = _MOMENT_ORDER.get(_p_name(q))
    if k and _p_name(p) == "Pareto":
        kl = ops.where(ops.le(p.alpha, float(k)), math.inf, kl)
    (plo, phi), (qlo, qhi) = _support(p), _support(q)
    if (qlo is not None and plo is None) or (qhi is not None and phi is None):
        return _kl_infinite(p, q)  # (p unbounded where q is bounded)
    for out in (_below(plo, qlo), _below(qhi, phi)):  # (p's support reaching past q's: inf there)
        if out is True:
            return _kl_infinite(p, q)
        if out is not False:
            kl = ops.where(out, math.inf, kl)
    return kl


_CROSS_PAIRS = [("Bernoulli", "Poisson"), ("Beta", "ContinuousBernoulli"), ("Beta", "Exponential"), ("Beta", "Gamma"),
                ("Beta", "Normal"), ("Beta", "Uniform"), ("ContinuousBernoulli", "ContinuousBernoulli"),
                ("ContinuousBernoulli", "Exponential"), ("ContinuousBernoulli", "Normal"),
                ("ContinuousBernoulli", "Uniform"), ("Exponential", "Gamma"), ("Exponential", "Gumbel"),
                ("Exponential", "Normal"), ("Gamma", "Exponential"), ("Gamma", "Gumbel"), ("Gamma", "Normal"),
                ("Gumbel", "Normal"), ("Laplace", "Normal"), ("Normal", "Gumbel"), ("Normal", "Laplace"),
                ("Pareto", "Exponential"), ("Pareto", "Gamma"), ("Pareto", "Normal"), ("Pareto", "Pareto"),
                ("Uniform", "Beta"), ("Uniform", "ContinuousBernoulli"), ("Uniform", "Exponential"),
                ("Uniform", "Gamma"), ("Uniform", "Gumbel"), ("Uniform", "Pareto")]
for _p, _q in _CROSS_PAIRS:
    register_kl(_dist_type(_p), _dist_type(_q))(_kl_cross)
