"""More of torch.distributions: TransformedDistribution and Independent, the
distributions PyTorch builds on them (LogNormal, HalfNormal, HalfCauchy,
Gumbel, Weibull, Pareto, RelaxedBernoulli, RelaxedOneHotCategorical), and
Cauchy, StudentT, Chi2, Geometric, Binomial, NegativeBinomial, Multinomial,
VonMises and MixtureSameFamily.  Densities are composed of vkgrad's ops;
noise comes from vkgrad's generator; draws without a reparameterisation
(StudentT, Chi2, the discrete ones, VonMises) are made on the host."""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..autograd import no_grad
from ..random import rng
from ..tensor import Tensor, ones_like, tensor, zeros_like
from .distribution import (Categorical, Distribution, Exponential, Gamma, Normal, Uniform, _BinaryLogits,
                           _LocScale, _host_draw, _logits_probs, _params, _shape)
from .transforms import AbsTransform, AffineTransform, ExpTransform, PowerTransform, SigmoidTransform, _sum_right

_EULER = 0.57721566490153286061


class TransformedDistribution(Distribution):
    """``base`` pushed through ``transforms`` (one or a list): samples are the
    transformed base samples (rsample where the base has one), log_prob(y) =
    base.log_prob(x) - sum log |dy/dx| with x the inverse image."""

    def __init__(self, base_distribution, transforms):
        self.base_dist = base_distribution
        self.transforms = list(transforms) if isinstance(transforms, (list, tuple)) else [transforms]
        self.has_rsample = base_distribution.has_rsample
        ev = max([len(base_distribution.event_shape)] + [t.event_dim for t in self.transforms])
        shape = base_distribution.batch_shape + base_distribution.event_shape
        self.batch_shape, self.event_shape = shape[:len(shape) - ev], shape[len(shape) - ev:]

    def _like(self):
        return self.base_dist._like()

    def rsample(self, sample_shape=()):
        x = self.base_dist.rsample(sample_shape)
        for t in self.transforms:
            x = t(x)
        return x

    def _sample(self, shape):
        with no_grad():
            x = self.base_dist.sample(shape)
            for t in self.transforms:
                x = t(x)
        return x

    def log_prob(self, value):
        y = self._check(value)
        ev = len(self.event_shape)
        total = None
        for t in reversed(self.transforms):
            x = t.inv(y)
            term = _sum_right(t.log_abs_det_jacobian(x, y), ev - t.event_dim)
            total = term if total is None else total + term
            y = x
        base = _sum_right(self.base_dist.log_prob(y), ev - len(self.base_dist.event_shape))
        return base - total if total is not None else base

    def _monotonize(self, c):
        """c, or 1 - c where the transforms together decrease (they flip the cdf)."""
        sign = 1.0
        for t in self.transforms:
            sign = sign * t.sign
        return ops.where(ops.gt(sign, 0.0), c, 1.0 - c) if isinstance(sign, Tensor) else (c if sign > 0 else 1.0 - c)

    def cdf(self, value):
        y = self._check(value)
        for t in reversed(self.transforms):
            y = t.inv(y)
        return self._monotonize(self.base_dist.cdf(y))

    def icdf(self, value):
        x = self.base_dist.icdf(self._monotonize(self._check(value)))  # (the quantile of 1 - p if flipped)
        for t in self.transforms:
            x = t(x)
        return x


class Independent(Distribution):
    """``base`` with its last ``reinterpreted_batch_ndims`` batch axes counted as
    event axes: log_prob and entropy summed over them."""

    def __init__(self, base_distribution, reinterpreted_batch_ndims):
        n = int(reinterpreted_batch_ndims)
        if not 0 <= n <= len(base_distribution.batch_shape):
            raise ValueError(f"Independent: reinterpreted_batch_ndims {n} exceeds the base's batch axes "
                             f"{list(base_distribution.batch_shape)}")
        self.base_dist, self.reinterpreted_batch_ndims = base_distribution, n
        bs = base_distribution.batch_shape
        self.batch_shape = bs[:len(bs) - n]
        self.event_shape = bs[len(bs) - n:] + base_distribution.event_shape
        self.has_rsample = base_distribution.has_rsample

    def _like(self):
        return self.base_dist._like()

    def rsample(self, sample_shape=()):
        return self.base_dist.rsample(sample_shape)

    def _sample(self, shape):
        return self.base_dist.sample(shape)

    def log_prob(self, value):
        return _sum_right(self.base_dist.log_prob(value), self.reinterpreted_batch_ndims)

    def entropy(self):
        return _sum_right(self.base_dist.entropy(), self.reinterpreted_batch_ndims)

    @property
    def mode(self):
        return self.base_dist.mode

    @property
    def mean(self):
        return self.base_dist.mean

    @property
    def variance(self):
        return self.base_dist.variance


class LogNormal(TransformedDistribution):
    """exp of N(loc, scale^2)."""

    def __init__(self, loc, scale):
        super().__init__(Normal(loc, scale), ExpTransform())
        self.loc, self.scale = self.base_dist.loc, self.base_dist.scale

    @property
    def mode(self):
        return ops.exp(self.loc - self.scale * self.scale)

    @property
    def mean(self):
        return ops.exp(self.loc + self.scale * self.scale * 0.5)

    @property
    def variance(self):
        s2 = self.scale * self.scale
        return ops.expm1(s2) * ops.exp(self.loc * 2.0 + s2)

    def entropy(self):
        return self.base_dist.entropy() + self.loc


class _Folded(TransformedDistribution):
    """|X| for X of ``base_cls(0, scale)``, symmetric about 0: density 2 f(x) for
    x >= 0."""

    def __init__(self, base_cls, scale):
        super().__init__(base_cls(0.0 if not isinstance(scale, Tensor) else scale * 0.0, scale), AbsTransform())
        self.scale = self.base_dist.scale

    def log_prob(self, value):
        v = self._check(value)
        return ops.where(ops.ge(v, 0.0), self.base_dist.log_prob(v) + math.log(2.0), float("-inf"))

    def cdf(self, value):
        return self.base_dist.cdf(self._check(value)) * 2.0 - 1.0

    def icdf(self, value):
        return self.base_dist.icdf((self._check(value) + 1.0) * 0.5)

    def entropy(self):
        return self.base_dist.entropy() - math.log(2.0)


class HalfNormal(_Folded):
    """|N(0, scale^2)|."""

    def __init__(self, scale):
        super().__init__(Normal, scale)

    @property
    def mode(self):
        return self.scale * 0.0

    @property
    def mean(self):
        return self.scale * math.sqrt(2.0 / math.pi)

    @property
    def variance(self):
        return self.scale * self.scale * (1.0 - 2.0 / math.pi)


class Cauchy(_LocScale):
    """Cauchy(loc, scale): 1 / (pi scale (1 + ((x - loc) / scale)^2)); no mean."""

    def rsample(self, sample_shape=()):
        u = self._noise(_shape(sample_shape) + self.batch_shape, rng().random)
        return self.loc + ops.tan((u - 0.5) * math.pi) * self.scale

    def log_prob(self, value):
        z = (self._check(value) - self.loc) / self.scale
        return -math.log(math.pi) - ops.log(self.scale) - ops.log1p(z * z)

    def cdf(self, value):
        return ops.atan((self._check(value) - self.loc) / self.scale) * (1.0 / math.pi) + 0.5

    def icdf(self, value):
        return self.loc + ops.tan((self._check(value) - 0.5) * math.pi) * self.scale

    def entropy(self):
        return ops.log(self.scale) + math.log(4 * math.pi)

    @property
    def mean(self):
        return self.loc * float("nan")

    @property
    def variance(self):
        return self.scale * float("inf")


class HalfCauchy(_Folded):
    """|Cauchy(0, scale)|."""

    def __init__(self, scale):
        super().__init__(Cauchy, scale)

    @property
    def mode(self):
        return self.scale * 0.0

    @property
    def mean(self):
        return self.scale * float("inf")

    @property
    def variance(self):
        return self.scale * float("inf")


class Gumbel(TransformedDistribution):
    """Gumbel(loc, scale): loc - scale log(-log U)."""

    def __init__(self, loc, scale):
        (loc_, scale_), _ = _params("Gumbel", loc, scale)
        fi = np.finfo({"f16": np.float16, "f32": np.float32}.get(loc_.dtype, np.float64))
        base = Uniform(zeros_like(loc_) + float(fi.tiny), zeros_like(loc_) + (1.0 - float(fi.eps)))  # (PyTorch's)
        super().__init__(base, [ExpTransform().inv, AffineTransform(0.0, -1.0), ExpTransform().inv,
                                AffineTransform(loc_, -scale_)])
        self.loc, self.scale = loc_, scale_

    def log_prob(self, value):
        z = (self._check(value) - self.loc) / self.scale
        return -(z + ops.exp(-z)) - ops.log(self.scale)

    def cdf(self, value):
        return ops.exp(-ops.exp(-(self._check(value) - self.loc) / self.scale))

    def icdf(self, value):
        return self.loc - ops.log(-ops.log(self._check(value))) * self.scale

    @property
    def mode(self):
        return self.loc

    @property
    def mean(self):
        return self.loc + self.scale * _EULER

    @property
    def variance(self):
        return self.scale * self.scale * (math.pi ** 2 / 6.0)

    def entropy(self):
        return ops.log(self.scale) + (1.0 + _EULER)


class Weibull(TransformedDistribution):
    """Weibull(scale, concentration): scale (-log(1 - U))^(1 / concentration)."""

    def __init__(self, scale, concentration):
        (scale_, conc), _ = _params("Weibull", scale, concentration)
        self.scale, self.concentration = scale_, conc
        super().__init__(Exponential(ones_like(scale_)),
                         [PowerTransform(ops.reciprocal(conc)), AffineTransform(0.0, scale_)])

    @property
    def mode(self):
        c = self.concentration
        return self.scale * ((c - 1.0) / c) ** ops.reciprocal(c)

    @property
    def mean(self):
        return self.scale * ops.exp(ops.lgamma(1.0 + ops.reciprocal(self.concentration)))

    @property
    def variance(self):
        k = ops.reciprocal(self.concentration)
        return self.scale * self.scale * (ops.exp(ops.lgamma(1.0 + k * 2.0)) - ops.exp(ops.lgamma(1.0 + k) * 2.0))

    def entropy(self):
        return _EULER * (1.0 - ops.reciprocal(self.concentration)) + ops.log(self.scale / self.concentration) + 1.0


class InverseGamma(TransformedDistribution):
    """InverseGamma(concentration, rate): 1 / Gamma(concentration, rate) (PyTorch's;
    reparameterised through the gamma draw)."""

    def __init__(self, concentration, rate):
        (conc, rate_), _ = _params("InverseGamma", concentration, rate)
        self.concentration, self.rate = conc, rate_
        super().__init__(Gamma(conc, rate_), PowerTransform(-1.0))

    @property
    def mode(self):
        return self.rate / (self.concentration + 1.0)

    @property
    def mean(self):  # (infinite for concentration <= 1, as PyTorch's)
        c = self.concentration
        return ops.where(ops.gt(c, 1.0), self.rate / (c - 1.0), float("inf"))

    @property
    def variance(self):
        c = self.concentration
        m1 = c - 1.0
        return ops.where(ops.gt(c, 2.0), self.rate * self.rate / (m1 * m1 * (c - 2.0)), float("inf"))

    def entropy(self):
        c = self.concentration
        return c + ops.log(self.rate) + ops.lgamma(c) - (c + 1.0) * ops.digamma(c)


class Kumaraswamy(TransformedDistribution):
    """Kumaraswamy(concentration1 a, concentration0 b) on (0, 1): density a b x^(a-1)
    (1 - x^a)^(b-1); (1 - U^(1/b))^(1/a) of a uniform U (PyTorch's; reparameterised)."""

    def __init__(self, concentration1, concentration0):
        (c1, c0), _ = _params("Kumaraswamy", concentration1, concentration0)
        self.concentration1, self.concentration0 = c1, c0
        super().__init__(Uniform(zeros_like(c0), ones_like(c0)),
                         [PowerTransform(ops.reciprocal(c0)), AffineTransform(1.0, -1.0),
                          PowerTransform(ops.reciprocal(c1))])

    def _moment(self, n):  # E[x^n] = b B(1 + n / a, b)
        a, b = self.concentration1, self.concentration0
        k = n / a + 1.0
        return b * ops.exp(ops.lgamma(k) + ops.lgamma(b) - ops.lgamma(k + b))

    @property
    def mode(self):  # ((a - 1) / (a b - 1))^(1/a) where a, b >= 1, else NaN (PyTorch's formula: NaN for b > 1 too)
        a, b = self.concentration1, self.concentration0
        m = ((a - 1.0) / (a * b - 1.0)) ** ops.reciprocal(a)
        return ops.where(ops.ge(a, 1.0) * ops.ge(b, 1.0), m, float("nan"))

    @property
    def mean(self):
        return self._moment(1.0)

    @property
    def variance(self):
        m = self._moment(1.0)
        return self._moment(2.0) - m * m

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        t1 = 1.0 - ops.reciprocal(a)
        t0 = 1.0 - ops.reciprocal(b)
        h_b = ops.digamma(b + 1.0) + _EULER  # (the harmonic number of b)
        return t0 + t1 * h_b - ops.log(a) - ops.log(b)


class Pareto(TransformedDistribution):
    """Pareto(scale, alpha): scale exp(Exponential(alpha)), x >= scale."""

    def __init__(self, scale, alpha):
        (scale_, alpha_), _ = _params("Pareto", scale, alpha)
        self.scale, self.alpha = scale_, alpha_
        super().__init__(Exponential(alpha_), [ExpTransform(), AffineTransform(0.0, scale_)])

    def log_prob(self, value):
        v = self._check(value)
        inside = ops.ge(v, self.scale)
        lp = ops.log(self.alpha) + ops.log(self.scale) * self.alpha - ops.log(ops.where(inside, v, 1.0)) * (
            self.alpha + 1.0)
        return ops.where(inside, lp, float("-inf"))

    @property
    def mode(self):
        return self.scale

    @property
    def mean(self):
        a = ops.clamp(self.alpha, 1.0, None)
        return ops.where(ops.gt(self.alpha, 1.0), a * self.scale / (a - 1.0), float("inf"))

    @property
    def variance(self):
        a = ops.clamp(self.alpha, 2.0, None)
        return ops.where(ops.gt(self.alpha, 2.0), self.scale * self.scale * a / ((a - 1.0) * (a - 1.0) * (a - 2.0)),
                         float("inf"))

    def entropy(self):
        return ops.log(self.scale / self.alpha) + ops.reciprocal(self.alpha) + 1.0


class StudentT(Distribution):
    """Student's t(df, loc, scale).  ``rsample``: loc + scale X / sqrt(Z / df) of a
    normal X and a Chi2(df) Z (PyTorch's construction), differentiable in all three."""

    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0):
        (self.df, self.loc, self.scale), self.batch_shape = _params("StudentT", df, loc, scale)

    _first = "df"

    def rsample(self, sample_shape=()):
        full = _shape(sample_shape) + tuple(self.batch_shape)
        x = tensor(rng().standard_normal(full), dtype=self.df.dtype, device=self.df.device)
        z = Chi2(self.df.broadcast_to(full)).rsample()
        return self.loc + self.scale * x * ops.rsqrt(z / self.df)

    def log_prob(self, value):
        z = (self._check(value) - self.loc) / self.scale
        df = self.df
        norm = ops.lgamma((df + 1.0) * 0.5) - ops.lgamma(df * 0.5) - ops.log(df) * 0.5 - ops.log(self.scale) - \
            0.5 * math.log(math.pi)
        return norm - (df + 1.0) * 0.5 * ops.log1p(z * z / df)

    @property
    def mode(self):
        return self.loc

    @property
    def mean(self):
        return ops.where(ops.gt(self.df, 1.0), self.loc, float("nan"))

    @property
    def variance(self):
        df = self.df
        v = self.scale * self.scale * df / ops.clamp(df - 2.0, 1e-30, None)
        return ops.where(ops.gt(df, 2.0), v, ops.where(ops.gt(df, 1.0), float("inf"), float("nan")))

    def entropy(self):
        df = self.df
        lbeta = ops.lgamma(df * 0.5) + math.lgamma(0.5) - ops.lgamma((df + 1.0) * 0.5)
        return (ops.log(self.scale) + (df + 1.0) * 0.5 * (ops.digamma((df + 1.0) * 0.5) - ops.digamma(df * 0.5))
                + ops.log(df) * 0.5 + lbeta)


class GeneralizedPareto(Distribution):
    """The generalized Pareto distribution (PyTorch's): for z = (x - loc) / scale
    >= 0 (and z <= -1 / concentration when concentration < 0), log density
    -log(scale) - (1 / c + 1) log1p(c z), exp(-z) / scale at c = 0; ``rsample``
    through the inverse cdf, differentiable in all three parameters."""

    has_rsample = True

    def __init__(self, loc, scale, concentration):
        (self.loc, self.scale, self.concentration), self.batch_shape = _params(
            "GeneralizedPareto", loc, scale, concentration)

    _first = "loc"

    def _at_zero(self):  # (c = 0: the exponential limits, chosen by an exact select)
        return ops.eq(self.concentration, 0.0)

    def _c(self):  # (c where it is not 0, 1 where it is: no 0 / 0 in the branch not taken)
        return ops.where(self._at_zero(), 1.0, self.concentration)

    def rsample(self, sample_shape=()):  # (exponential noise drawn on the host: a uniform u near 1 rounds to 1
        full = _shape(sample_shape) + tuple(self.batch_shape)  # in f16, -log(1 - u) to inf)
        return self._from_exponential(self._noise(full, rng().standard_exponential))

    def _from_exponential(self, t):
        """x whose standardised exponential quantile is t (t = -log(1 - cdf))."""
        c = self._c()
        return self.loc + self.scale * ops.where(self._at_zero(), t, ops.expm1(c * t) / c)

    def icdf(self, value):
        return self._from_exponential(-ops.log1p(-value))

    def cdf(self, value):
        z = (self._check(value) - self.loc) / self.scale
        c = self._c()
        tail = ops.where(self._at_zero(), -z, -ops.log1p(c * z) / c)  # (log of 1 - cdf)
        return -ops.expm1(tail)

    def log_prob(self, value):
        z = (self._check(value) - self.loc) / self.scale
        c = self._c()
        return -ops.log(self.scale) - ops.where(self._at_zero(), z, (1.0 / c + 1.0) * ops.log1p(c * z))

    @property
    def mean(self):  # (NaN where it does not exist, c >= 1, as PyTorch's)
        c = self.concentration
        return ops.where(ops.lt(c, 1.0), self.loc + self.scale / (1.0 - c), math.nan)

    @property
    def variance(self):  # (NaN for c >= 1/2, as PyTorch's)
        c = self.concentration
        return ops.where(ops.lt(c, 0.5), self.scale * self.scale / ((1.0 - c) * (1.0 - c) * (1.0 - 2.0 * c)),
                         math.nan)

    @property
    def mode(self):
        return self.loc + self.scale * 0.0

    def entropy(self):
        return ops.log(self.scale) + self.concentration + 1.0


class Chi2(Gamma):
    """Chi-squared with ``df`` degrees of freedom: Gamma(df / 2, 1 / 2)."""

    def __init__(self, df):
        (df_,), _ = _params("Chi2", df)
        super().__init__(df_ * 0.5, zeros_like(df_) + 0.5)
        self.df = df_


class FisherSnedecor(Distribution):
    """Fisher-Snedecor F(df1, df2): (X1 / df1) / (X2 / df2) of chi-squared X1, X2
    (PyTorch's); ``rsample`` through two Gamma draws, differentiable in both."""

    has_rsample = True

    def __init__(self, df1, df2):
        (self.df1, self.df2), self.batch_shape = _params("FisherSnedecor", df1, df2)

    _first = "df1"

    def rsample(self, sample_shape=()):
        full = _shape(sample_shape) + tuple(self.batch_shape)
        a, b = self.df1.broadcast_to(full) * 0.5, self.df2.broadcast_to(full) * 0.5
        tiny = float(np.finfo(np.float16 if self.df1.dtype == "f16" else np.float32).tiny)
        x1, x2 = Gamma(a, a).rsample(), Gamma(b, b).rsample()
        return ops.clamp(x1, tiny, None) / ops.clamp(x2, tiny, None)

    def log_prob(self, value):
        v = self._check(value)
        h1, h2 = self.df1 * 0.5, self.df2 * 0.5
        r = self.df1 / self.df2
        norm = ops.lgamma(h1 + h2) - ops.lgamma(h1) - ops.lgamma(h2)
        return norm + h1 * ops.log(r) + (h1 - 1.0) * ops.log(v) - (h1 + h2) * ops.log1p(r * v)

    @property
    def mode(self):  # ((df1 - 2) / df1) (df2 / (df2 + 2)) where df1 > 2, else NaN (PyTorch's)
        m = (self.df1 - 2.0) / self.df1 * self.df2 / (self.df2 + 2.0)
        return ops.where(ops.gt(self.df1, 2.0), m, float("nan"))

    @property
    def mean(self):
        return ops.where(ops.gt(self.df2, 2.0), self.df2 / (self.df2 - 2.0), float("nan"))

    @property
    def variance(self):
        d1, d2 = self.df1, self.df2
        v = 2.0 * d2 * d2 * (d1 + d2 - 2.0) / (d1 * (d2 - 2.0) * (d2 - 2.0) * (d2 - 4.0))
        return ops.where(ops.gt(d2, 4.0), v, float("nan"))


class Geometric(_BinaryLogits, Distribution):
    """The number of failures before the first success (probability ``probs`` or
    sigmoid(``logits``)): p (1 - p)^k."""

    def __init__(self, probs=None, logits=None):
        self.logits, self.batch_shape = _logits_probs("Geometric", probs, logits, True)

    @property
    def mode(self):
        return self.probs * 0.0

    @property
    def mean(self):
        return ops.exp(-self.logits)  # (1 - p) / p

    @property
    def variance(self):
        p = self.probs
        return (1.0 - p) / (p * p)

    def _sample(self, shape):
        p = self.probs.detach().numpy().astype(np.float64)
        return _host_draw(self.logits, lambda: rng().geometric(p, size=shape + self.batch_shape) - 1.0)

    def log_prob(self, value):
        k = self._check(value)
        return k * ops.logsigmoid(-self.logits) + ops.logsigmoid(self.logits)

    def entropy(self):
        p = self.probs
        return (ops.softplus(-self.logits) * p + ops.softplus(self.logits) * (1.0 - p)) / p


def _log_binom(n, k):
    return ops.lgamma(n + 1.0) - ops.lgamma(k + 1.0) - ops.lgamma(n - k + 1.0)


class Binomial(_BinaryLogits, Distribution):
    """Successes in ``total_count`` trials of probability ``probs`` (or
    sigmoid(``logits``)); float samples drawn on the host."""

    def __init__(self, total_count=1, probs=None, logits=None):
        lg, _ = _logits_probs("Binomial", probs, logits, True)
        (self.total_count, self.logits), self.batch_shape = _params("Binomial", total_count * 1.0 if not isinstance(
            total_count, Tensor) else total_count, lg)
        self.total_count = self.total_count.detach()

    @property
    def mode(self):
        n = self.total_count
        return ops.clamp(ops.floor((n + 1.0) * self.probs), None, n)

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def variance(self):
        p = self.probs
        return self.total_count * p * (1.0 - p)

    def _sample(self, shape):
        n = np.rint(self.total_count.numpy().astype(np.float64)).astype(np.int64)
        p = self.probs.detach().numpy().astype(np.float64)
        return _host_draw(self.logits, lambda: rng().binomial(n, p, size=shape + self.batch_shape).astype(np.float64))

    def log_prob(self, value):
        k = self._check(value)
        n = self.total_count
        return _log_binom(n, k) + k * ops.logsigmoid(self.logits) + (n - k) * ops.logsigmoid(-self.logits)

    def entropy(self):
        """-sum_k p(k) log p(k) over the support 0..total_count (one count for the batch)."""
        n = self.total_count.numpy()
        if n.size and not np.all(n == n.flat[0]):
            raise NotImplementedError("Binomial.entropy: the total counts differ across the batch")
        top = int(n.flat[0]) if n.size else 0
        ks = tensor(np.arange(top + 1.0).reshape((-1,) + (1,) * len(self.batch_shape)), dtype=self.logits.dtype,
                    device=self.logits.device)
        lp = self.log_prob(ks)
        return -ops.sum(ops.exp(lp) * lp, 0)


class NegativeBinomial(_BinaryLogits, Distribution):
    """Successes before ``total_count`` failures, each trial a success with
    probability ``probs`` (or sigmoid(``logits``)), as PyTorch's."""

    def __init__(self, total_count, probs=None, logits=None):
        lg, _ = _logits_probs("NegativeBinomial", probs, logits, True)
        (self.total_count, self.logits), self.batch_shape = _params(
            "NegativeBinomial", total_count * 1.0 if not isinstance(total_count, Tensor) else total_count, lg)

    @property
    def mode(self):
        return ops.clamp(ops.floor((self.total_count - 1.0) * ops.exp(self.logits)), 0.0, None)

    @property
    def mean(self):
        return self.total_count * ops.exp(self.logits)

    @property
    def variance(self):
        return self.mean / ops.sigmoid(-self.logits)

    def _sample(self, shape):
        r = self.total_count.detach().numpy().astype(np.float64)
        p = self.probs.detach().numpy().astype(np.float64)
        size = shape + self.batch_shape
        lam = rng().gamma(np.broadcast_to(r, size), np.broadcast_to(p / (1.0 - p), size))
        return _host_draw(self.logits, lambda: rng().poisson(lam).astype(np.float64))

    def log_prob(self, value):
        k = self._check(value)
        r = self.total_count
        return (ops.lgamma(k + r) - ops.lgamma(k + 1.0) - ops.lgamma(r) + r * ops.logsigmoid(-self.logits)
                + k * ops.logsigmoid(self.logits))


class Multinomial(Distribution):
    """Counts [..., K] of ``total_count`` draws from the categories' ``probs`` (or
    softmax(``logits``)); float samples drawn on the host."""

    def __init__(self, total_count=1, probs=None, logits=None):
        self._categorical = Categorical(probs=probs, logits=logits)
        self.total_count = int(total_count)
        self.batch_shape = self._categorical.batch_shape
        self.event_shape = (self._categorical.num_categories,)
        self.logits = self._categorical.logits

    _first = "logits"

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def mean(self):
        return self.probs * float(self.total_count)

    @property
    def variance(self):
        p = self.probs
        return p * (1.0 - p) * float(self.total_count)

    def _sample(self, shape):
        p = self.probs.detach().numpy().astype(np.float64).reshape(-1, self.event_shape[0])
        n = int(np.prod(shape)) if shape else 1
        out = np.stack([rng().multinomial(self.total_count, row / row.sum(), size=n) for row in p], 1)
        return _host_draw(self.logits, lambda: out.reshape(shape + self.batch_shape + self.event_shape)
                          .astype(np.float64))

    def log_prob(self, value):
        k = self._check(value)
        return (math.lgamma(self.total_count + 1.0) - ops.sum(ops.lgamma(k + 1.0), -1)
                + ops.sum(ops.where(ops.eq(k, 0.0), 0.0, k * self.logits), -1))

    def entropy(self):
        """n H(categories) - log n! + sum_i E[log x_i!], each count x_i ~ Binomial(n,
        p_i) summed over its support 1..n (PyTorch's formula).  The counts' log
        probabilities are written out, not Binomial's: its logits clamp p to
        [1e-7, 1 - 1e-7], which f16 cannot hold (p = 1 became an infinite logit)."""
        n = self.total_count
        p = self.probs
        ks = tensor(np.arange(1.0, n + 1.0).reshape((-1,) + (1,) * p.ndim), dtype=p.dtype, device=p.device)
        lp = ops.log(ops.clamp(p, 1e-300 if p.dtype == "f64" else 1e-30, None))
        log_binom = ops.lgamma(ks * 0.0 + (n + 1.0)) - ops.lgamma(ks + 1.0) - ops.lgamma((n + 1.0) - ks)
        q = ops.clamp(1.0 - p, 0.0, None)
        lq = ops.log(ops.where(ops.gt(q, 0.0), q, 1.0))
        bin_lp = log_binom + ks * lp + ops.where(ops.gt(q, 0.0), ((n * 1.0) - ks) * lq,
                                                 ops.where(ops.eq(ks, float(n)), 0.0, float("-inf")))
        term2 = ops.sum(ops.sum(ops.exp(bin_lp) * ops.lgamma(ks + 1.0), 0), -1)
        return self._categorical.entropy() * float(n) - math.lgamma(n + 1.0) + term2


class LowRankMultivariateNormal(Distribution):
    """N(loc, W W^T + diag(D)) over the last axis, from ``cov_factor`` W [..., n, r]
    and ``cov_diag`` D [..., n] (PyTorch's): log_prob and entropy through the r x r
    capacitance I + W^T D^-1 W (Woodbury, matrix determinant lemma), so n may be
    large; rsample loc + W e_r + sqrt(D) e_n."""

    has_rsample = True

    def __init__(self, loc, cov_factor, cov_diag):
        op = "LowRankMultivariateNormal"
        loc, cov_factor, cov_diag = (t if isinstance(t, Tensor) else tensor(np.asarray(t, np.float64))
                                     for t in (loc, cov_factor, cov_diag))
        if loc.ndim < 1 or cov_factor.ndim < 2 or cov_diag.ndim < 1:
            raise ValueError(f"{op}: expected loc [..., n], cov_factor [..., n, r], cov_diag [..., n]; got "
                             f"{list(loc.shape)}, {list(cov_factor.shape)}, {list(cov_diag.shape)}")
        n = loc.shape[-1]
        if cov_factor.shape[-2] != n or cov_diag.shape[-1] != n:
            raise ValueError(f"{op}: cov_factor [..., {n}, r] and cov_diag [..., {n}] must match loc's last axis "
                             f"{n}; got {list(cov_factor.shape)} and {list(cov_diag.shape)}")
        try:
            self.batch_shape = tuple(np.broadcast_shapes(loc.shape[:-1], cov_factor.shape[:-2], cov_diag.shape[:-1]))
        except ValueError:
            raise ValueError(f"{op}: batch shapes {list(loc.shape[:-1])}, {list(cov_factor.shape[:-2])} and "
                             f"{list(cov_diag.shape[:-1])} do not broadcast") from None
        self.loc, self.cov_factor, self.cov_diag = loc, cov_factor, cov_diag
        self.event_shape = (n,)

    _first = "loc"

    @property
    def mode(self):
        return self.mean

    @property
    def mean(self):  # (PyTorch's: over the whole batch)
        return ops.broadcast_to(self.loc, self.batch_shape + tuple(self.event_shape))

    @property
    def variance(self):
        return ops.broadcast_to(ops.sum(self.cov_factor * self.cov_factor, -1) + self.cov_diag,
                                self.batch_shape + tuple(self.event_shape))

    @property
    def covariance_matrix(self):
        W = self.cov_factor
        return W @ W.mT + ops.diag_embed(self.cov_diag)

    @property
    def scale_tril(self):
        from .. import linalg
        return linalg.cholesky(self.covariance_matrix)

    @property
    def precision_matrix(self):
        from .. import linalg
        return linalg.inv(self.covariance_matrix)

    def _capacitance_tril(self):
        """L of I + W^T D^-1 W (r x r)."""
        from .. import linalg
        W = self.cov_factor
        Wt_Dinv = W.mT / self.cov_diag.unsqueeze(-2)
        r = W.shape[-1]
        eye = tensor(np.eye(r), dtype=W.dtype, device=W.device)
        return linalg.cholesky(Wt_Dinv @ W + eye)

    def _logdet(self):
        Lc = self._capacitance_tril()
        return 2.0 * ops.sum(ops.log(ops.diagonal(Lc, 0, -2, -1)), -1) + ops.sum(ops.log(self.cov_diag), -1), Lc

    def rsample(self, sample_shape=()):
        full = _shape(sample_shape) + tuple(self.batch_shape)
        r = self.cov_factor.shape[-1]
        e_r = self._noise(full + (r,), rng().standard_normal)
        e_n = self._noise(full + tuple(self.event_shape), rng().standard_normal)
        return self.loc + (self.cov_factor @ e_r.unsqueeze(-1)).squeeze(-1) + ops.sqrt(self.cov_diag) * e_n

    def log_prob(self, value):
        from .. import linalg
        diff = self._check(value) - self.loc
        logdet, Lc = self._logdet()
        W, D = self.cov_factor, self.cov_diag
        Dinv_x = diff / D
        Wt_Dinv_x = (W.mT @ Dinv_x.unsqueeze(-1))  # [..., r, 1]
        if Lc.shape[:-2] != Wt_Dinv_x.shape[:-2]:
            Lc = Lc.broadcast_to(Wt_Dinv_x.shape[:-2] + Lc.shape[-2:])
        z = linalg.solve_triangular(Lc, Wt_Dinv_x, upper=False).squeeze(-1)
        maha = ops.sum(diff * Dinv_x, -1) - ops.sum(z * z, -1)
        return (maha + logdet) * -0.5 - self.event_shape[0] * 0.5 * math.log(2 * math.pi)

    def entropy(self):
        logdet, _ = self._logdet()
        n = self.event_shape[0]
        return ops.broadcast_to(logdet * 0.5 + n * 0.5 * (1.0 + math.log(2 * math.pi)), self.batch_shape)


class VonMises(Distribution):
    """The von Mises distribution on the circle: exp(kappa cos(x - loc)) /
    (2 pi I0(kappa)); draws on the host."""

    def __init__(self, loc, concentration):
        (self.loc, self.concentration), self.batch_shape = _params("VonMises", loc, concentration)

    def _sample(self, shape):
        mu, k = self.loc.numpy().astype(np.float64), self.concentration.numpy().astype(np.float64)
        return _host_draw(self.loc, lambda: rng().vonmises(mu, k, size=shape + self.batch_shape))

    def log_prob(self, value):
        from ..special import i0e
        k = self.concentration
        return k * (ops.cos(self._check(value) - self.loc) - 1.0) - math.log(2 * math.pi) - ops.log(i0e(k))

    @property
    def mode(self):
        return self.loc

    @property
    def mean(self):
        return self.loc

    @property
    def variance(self):
        from ..special import i0e, i1e
        return 1.0 - i1e(self.concentration) / i0e(self.concentration)


class MixtureSameFamily(Distribution):
    """A mixture: the component (the last batch axis of ``component_distribution``)
    drawn from ``mixture_distribution`` (a Categorical), then the value from it;
    log_prob = logsumexp(log w + component log_prob)."""

    def __init__(self, mixture_distribution, component_distribution):
        if not isinstance(mixture_distribution, Categorical):
            raise TypeError("MixtureSameFamily: mixture_distribution must be a Categorical")
        cb = component_distribution.batch_shape
        k = mixture_distribution.num_categories
        if not cb or cb[-1] != k or tuple(mixture_distribution.batch_shape) != tuple(cb[:-1]):
            raise ValueError(f"MixtureSameFamily: the components' batch shape {list(cb)} must end with the "
                             f"mixture's {k} categories after its batch shape "
                             f"{list(mixture_distribution.batch_shape)}")
        self.mixture_distribution, self.component_distribution = mixture_distribution, component_distribution
        self.batch_shape, self.event_shape = cb[:-1], component_distribution.event_shape

    def _like(self):
        return self.component_distribution._like()

    def _pad(self, t):
        """Mixture weights [..., K] shaped to broadcast with the components' event axes."""
        return t.reshape(t.shape + (1,) * len(self.event_shape))

    @property
    def mean(self):
        w = self._pad(self.mixture_distribution.probs)
        return ops.sum(w * self.component_distribution.mean, -1 - len(self.event_shape))

    @property
    def variance(self):
        ax = -1 - len(self.event_shape)
        w = self._pad(self.mixture_distribution.probs)
        m = self.component_distribution.mean
        mean = ops.sum(w * m, ax, keepdims=True)
        return ops.sum(w * self.component_distribution.variance, ax) + ops.sum(w * (m - mean) * (m - mean), ax)

    def log_prob(self, value):
        v = self._check(value)
        v = v.unsqueeze(-1 - len(self.event_shape))  # (a component axis to broadcast over)
        lp = self.component_distribution.log_prob(v)
        return ops.logsumexp(lp + self.mixture_distribution.logits, -1)

    def cdf(self, value):
        """The weights' sum of the components' cdfs (PyTorch's; univariate components)."""
        v = self._check(value).unsqueeze(-1 - len(self.event_shape))
        return ops.sum(self.component_distribution.cdf(v) * self.mixture_distribution.probs, -1)

    def _sample(self, shape):
        with no_grad():
            idx = self.mixture_distribution.sample(shape)  # [*shape, *batch]
            comp = self.component_distribution.sample(shape)  # [*shape, *batch, K, *event]
            k = self.mixture_distribution.num_categories
            one = ops.one_hot(idx.reshape((idx.size,)), k, dtype=comp.dtype).reshape(idx.shape + (k,))
            return ops.sum(comp * self._pad(one), -1 - len(self.event_shape))


class RelaxedBernoulli(_BinaryLogits, TransformedDistribution):
    """The Concrete / Gumbel-sigmoid relaxation of a Bernoulli at ``temperature``:
    sigmoid((logits + logistic noise) / temperature), reparameterised."""

    def __init__(self, temperature, probs=None, logits=None):
        lg, shape = _logits_probs("RelaxedBernoulli", probs, logits, True)
        self.temperature, self.logits = temperature, lg
        super().__init__(_LogitRelaxedBernoulli(temperature, lg), SigmoidTransform())


class _LogitRelaxedBernoulli(Distribution):
    has_rsample = True

    def __init__(self, temperature, logits):
        self.temperature, self.logits, self.batch_shape = temperature, logits, logits.shape

    _first = "logits"

    def rsample(self, sample_shape=()):
        tiny = 1e-7 if self.logits.dtype != "f64" else 1e-15
        u = ops.clamp(self._noise(_shape(sample_shape) + self.batch_shape, rng().random), tiny, 1.0 - tiny)
        return (self.logits + ops.log(u) - ops.log1p(-u)) / self.temperature

    def log_prob(self, value):
        t = self.temperature
        diff = self.logits - self._check(value) * t
        return (ops.log(t) if isinstance(t, Tensor) else math.log(t)) + diff - ops.softplus(diff) * 2.0


class RelaxedOneHotCategorical(TransformedDistribution):
    """The Concrete / Gumbel-softmax relaxation of a one-hot Categorical at
    ``temperature``: softmax((logits + Gumbel noise) / temperature), reparameterised."""

    def __init__(self, temperature, probs=None, logits=None):
        base = _ExpRelaxedCategorical(temperature, probs, logits)
        self.temperature, self.logits = temperature, base.logits
        super().__init__(base, ExpTransform())

    @property
    def probs(self):
        return ops.exp(self.logits)

    def log_prob(self, value):  # (the exp map's Jacobian over the event's axis)
        y = self._check(value)
        x = ops.log(y)
        return self.base_dist.log_prob(x) - ops.sum(x, -1)


class _ExpRelaxedCategorical(Distribution):
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None):
        cat = Categorical(probs=probs, logits=logits)
        self.temperature, self.logits = temperature, cat.logits
        self.batch_shape, self.event_shape = cat.batch_shape, (cat.num_categories,)

    _first = "logits"

    def rsample(self, sample_shape=()):
        g = self._noise(_shape(sample_shape) + self.batch_shape + self.event_shape, rng().gumbel)
        s = (self.logits + g) / self.temperature
        return s - ops.logsumexp(s, -1, keepdims=True)

    def log_prob(self, value):
        k = self.event_shape[0]
        t = self.temperature
        logt = math.log(t) if not isinstance(t, Tensor) else ops.log(t)
        score = self.logits - self._check(value) * t
        score = score - ops.logsumexp(score, -1, keepdims=True)
        return ops.sum(score, -1) + math.lgamma(k) + (k - 1) * logt


__all__ = ["TransformedDistribution", "Independent", "LogNormal", "HalfNormal", "Cauchy", "HalfCauchy", "Gumbel",
           "Weibull", "Pareto", "StudentT", "Chi2", "Geometric", "Binomial", "NegativeBinomial", "Multinomial",
           "VonMises", "MixtureSameFamily", "RelaxedBernoulli", "RelaxedOneHotCategorical"]


class ContinuousBernoulli(_BinaryLogits, Distribution):
    """PyTorch's ContinuousBernoulli(probs or logits) on [0, 1] (Loaiza-Ganem and
    Cunningham, 2019; a VAE's likelihood of pixels in [0, 1]): density
    C(p) p^x (1 - p)^(1 - x), its normaliser C and moments by their Taylor series
    where p lies within ``lims`` of 1/2 (the closed forms divide by 1 - 2p there);
    reparameterised through the icdf."""

    has_rsample = True

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501)):
        self.logits, self.batch_shape = _logits_probs("ContinuousBernoulli", probs, logits, True)
        self._lims = (float(lims[0]), float(lims[1]))

    def _outside(self):
        """1.0 where p is far enough from 1/2 for the closed forms."""
        p = self.probs
        return ops.maximum(ops.le(p, self._lims[0]), ops.gt(p, self._lims[1]))

    def _cut(self):
        return ops.where(self._outside(), self.probs, self._lims[0])

    def _log_norm(self):
        c = self._cut()
        below, above = ops.where(ops.le(c, 0.5), c, 0.0), ops.where(ops.ge(c, 0.5), c, 1.0)
        closed = ops.log(ops.abs(ops.log1p(-c) - ops.log(c))) - ops.where(
            ops.le(c, 0.5), ops.log1p(below * -2.0), ops.log(above * 2.0 - 1.0))
        x = (self.probs - 0.5) ** 2
        return ops.where(self._outside(), closed, (x * (104.0 / 45.0) + 4.0 / 3.0) * x + math.log(2.0))

    @property
    def mean(self):
        c = self._cut()
        closed = c / (c * 2.0 - 1.0) + 1.0 / (ops.log1p(-c) - ops.log(c))
        x = self.probs - 0.5
        return ops.where(self._outside(), closed, (x * x * (16.0 / 45.0) + 1.0 / 3.0) * x + 0.5)

    @property
    def variance(self):
        c = self._cut()
        closed = c * (c - 1.0) / (1.0 - c * 2.0) ** 2 + 1.0 / (ops.log1p(-c) - ops.log(c)) ** 2
        x = (self.probs - 0.5) ** 2
        return ops.where(self._outside(), closed, 1.0 / 12.0 - (1.0 / 15.0 - x * (128.0 / 945.0)) * x)

    def rsample(self, sample_shape=()):
        return self.icdf(self._noise(_shape(sample_shape) + self.batch_shape, rng().random))

    def log_prob(self, value):  # (-binary cross-entropy with logits, plus the log normaliser)
        return self._check(value) * self.logits - ops.softplus(self.logits) + self._log_norm()

    def cdf(self, value):
        v, c = self._check(value), self._cut()
        closed = (c ** v * (1.0 - c) ** (1.0 - v) + c - 1.0) / (c * 2.0 - 1.0)
        inside = ops.where(self._outside(), closed, v)
        return ops.where(ops.le(v, 0.0), 0.0, ops.where(ops.ge(v, 1.0), 1.0, inside))

    def icdf(self, value):
        v, c = self._check(value), self._cut()
        closed = (ops.log1p(-c + v * (c * 2.0 - 1.0)) - ops.log1p(-c)) / (ops.log(c) - ops.log1p(-c))
        return ops.where(self._outside(), closed, v)

    def entropy(self):
        log0, log1 = ops.log1p(-self.probs), ops.log(self.probs)
        return self.mean * (log0 - log1) - self._log_norm() - log0


class LogisticNormal(Distribution):
    """PyTorch's LogisticNormal(loc, scale): a point of the K-simplex, PyTorch's
    stick-breaking map of N(loc, scale^2) on K - 1 coordinates (the last axis of
    loc / scale; a number: one); reparameterised.  ``base_dist`` is that normal
    (Independent over the coordinates), as PyTorch's."""

    has_rsample = True

    def __init__(self, loc, scale):
        (loc_, scale_), shape = _params("LogisticNormal", loc, scale)
        if not shape:
            loc_, scale_, shape = loc_.reshape((1,)), scale_.reshape((1,)), (1,)
        self.loc, self.scale = loc_, scale_
        self.base_dist = Independent(Normal(loc_, scale_), 1)
        self.batch_shape, self.event_shape = shape[:-1], (shape[-1] + 1,)

    def _like(self):
        return self.loc

    def _log_offsets(self, n):
        """log(n), log(n - 1), ..., log(1): the stick's shift for each coordinate."""
        return tensor(np.log(np.arange(n, 0, -1.0)), dtype=self.loc.dtype, device=self.loc.device)

    def _ones(self, like):
        return ones_like(like[..., :1])

    def _stick(self, x):
        z = ops.sigmoid(x - self._log_offsets(x.shape[-1]))
        rest = ops.cumprod(1.0 - z, -1)
        one = self._ones(z)
        return ops.cat([z, one], -1) * ops.cat([one, rest], -1)

    def rsample(self, sample_shape=()):
        return self._stick(self.base_dist.rsample(sample_shape))

    def log_prob(self, value):
        y = self._check(value)
        yc = y[..., :-1]
        logs = self._log_offsets(yc.shape[-1])
        tiny = float(np.finfo(np.float32 if yc.dtype != "f64" else np.float64).tiny)
        sf = ops.clamp(1.0 - ops.cumsum(yc, -1), tiny, None)
        x = ops.log(yc) - ops.log(sf) + logs
        xs = x - logs  # (the log|det J| of the map at x, PyTorch's)
        return self.base_dist.log_prob(x) - ops.sum(-xs + ops.logsigmoid(xs) + ops.log(yc), -1)
