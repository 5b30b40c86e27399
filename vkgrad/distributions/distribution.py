"""The base Distribution and the common distributions: Normal, Uniform,
Exponential, Laplace, Bernoulli, Categorical, OneHotCategorical,
MultivariateNormal, Gamma, Beta, Dirichlet and Poisson (Gamma, Beta, Dirichlet
and Poisson sample without a reparameterised gradient: ``sample``, not
``rsample``).

Parameters are tensors (or numbers) on any device; ``log_prob``, ``entropy``,
``mean`` / ``variance`` / ``stddev`` and ``rsample`` (the reparameterised draw:
gradients flow into the parameters) are composed of vkgrad's ops.  Noise is
drawn on the host from vkgrad's generator (``vkgrad.manual_seed``), so one seed
gives the same samples on every backend."""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..autograd import no_grad
from ..random import rng
from ..tensor import Tensor, tensor

__all__ = ["Distribution", "Normal", "Uniform", "Exponential", "Laplace", "Bernoulli", "Categorical",
           "OneHotCategorical", "MultivariateNormal", "Gamma", "Beta", "Dirichlet", "Poisson"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _params(name, *values):
    """The parameters as tensors on one device and dtype (numbers follow the first
    tensor), broadcast to one shape."""
    like = next((v for v in values if isinstance(v, Tensor)), None)
    ts = []
    for v in values:
        if isinstance(v, Tensor):
            ts.append(v)
        elif like is not None:
            ts.append(tensor(np.asarray(v, np.float64), dtype=like.dtype, device=like.device))
        else:
            ts.append(tensor(np.asarray(v, np.float64)))
    try:
        shape = tuple(np.broadcast_shapes(*[t.shape for t in ts]))
    except ValueError:
        raise ValueError(f"{name}: parameter shapes {[list(t.shape) for t in ts]} do not broadcast") from None
    return [t if t.shape == shape else t.broadcast_to(shape) for t in ts], shape


def _shape(sample_shape):
    return (int(sample_shape),) if isinstance(sample_shape, (int, np.integer)) else tuple(sample_shape)


def _one_hot(idx, k, dtype):
    """int32 class indices of any shape as one-hot rows [..., k]."""
    return ops.one_hot(idx.reshape((idx.size,)), k, dtype=dtype).reshape(idx.shape + (k,))


class Distribution:
    """Base class: ``batch_shape``, ``event_shape``, ``sample(sample_shape)`` (no
    gradient), ``rsample`` where the distribution has one, ``log_prob(value)``,
    ``entropy()``, ``mean``, ``variance``, ``stddev``."""

    has_rsample = False
    batch_shape, event_shape = (), ()
    _first = "loc"  # (the parameter whose device and dtype samples and values take)

    def __init_subclass__(cls, **kw):
        """Accept PyTorch's ``validate_args=`` in every constructor (values are not
        checked against supports here)."""
        super().__init_subclass__(**kw)
        init = cls.__dict__.get("__init__")
        if init is None:
            return
        import functools

        @functools.wraps(init)
        def __init__(self, *args, validate_args=None, **kwargs):
            init(self, *args, **kwargs)
        cls.__init__ = __init__

    def perplexity(self):
        return ops.exp(self.entropy())

    def sample_n(self, n):
        return self.sample((n,))

    def cdf(self, value):
        raise NotImplementedError(f"{type(self).__name__} has no cdf")

    def entropy(self):
        raise NotImplementedError(f"{type(self).__name__} has no closed-form entropy")

    @property
    def mean(self):
        raise NotImplementedError(f"{type(self).__name__} has no closed-form mean")

    @property
    def mode(self):
        """The most likely value (PyTorch's; NaN where there is none)."""
        raise NotImplementedError(f"{type(self).__name__} has no closed-form mode")

    @property
    def variance(self):
        raise NotImplementedError(f"{type(self).__name__} has no closed-form variance")

    def icdf(self, value):
        raise NotImplementedError(f"{type(self).__name__} has no icdf")

    def _like(self):
        return getattr(self, self._first)

    def _noise(self, shape, draw):
        like = self._like()
        return tensor(draw(size=shape), dtype=like.dtype, device=like.device)

    def sample(self, sample_shape=()):
        with no_grad():
            return self.rsample(sample_shape).detach() if self.has_rsample else self._sample(_shape(sample_shape))

    def rsample(self, sample_shape=()):
        raise NotImplementedError(f"{type(self).__name__} has no reparameterised sample (rsample)")

    @property
    def stddev(self):
        return ops.sqrt(self.variance)

    def _check(self, value):
        if not isinstance(value, Tensor):
            value = tensor(np.asarray(value, np.float64), dtype=self._like().dtype, device=self._like().device)
        return value

    def __repr__(self):
        return f"{type(self).__name__}(batch_shape={list(self.batch_shape)}, event_shape={list(self.event_shape)})"

    def _support(self, values, dtype, expand):
        """enumerate_support's [n, *batch] of the n ``values`` (``expand=False``: [n, 1, ...])."""
        vals = np.asarray(values).reshape((-1,) + (1,) * len(self.batch_shape))
        if expand:
            vals = np.broadcast_to(vals, (len(values),) + tuple(self.batch_shape))
        return tensor(np.ascontiguousarray(vals), dtype=dtype, device=self._like().device)


class _BinaryLogits:
    """What the distributions of one success probability share: ``logits`` kept,
    ``probs`` = sigmoid(logits)."""

    _first = "logits"

    @property
    def probs(self):
        return ops.sigmoid(self.logits)


class _LocScale(Distribution):
    """A reparameterised location-scale family: ``loc``, ``scale`` (mean: loc)."""

    has_rsample = True

    def __init__(self, loc, scale):
        (self.loc, self.scale), self.batch_shape = _params(type(self).__name__, loc, scale)

    @property
    def mode(self):
        return self.loc

    @property
    def mean(self):
        return self.loc


class Normal(_LocScale):
    """N(loc, scale^2), elementwise."""

    @property
    def variance(self):
        return self.scale * self.scale

    @property
    def stddev(self):
        return self.scale

    def rsample(self, sample_shape=()):
        eps = self._noise(_shape(sample_shape) + self.batch_shape, rng().standard_normal)
        return self.loc + eps * self.scale

    def log_prob(self, value):
        z = (self._check(value) - self.loc) / self.scale
        return z * z * -0.5 - ops.log(self.scale) - _HALF_LOG_2PI

    def entropy(self):
        return ops.log(self.scale) + (0.5 + _HALF_LOG_2PI)

    def cdf(self, value):
        return (ops.erf((self._check(value) - self.loc) / (self.scale * math.sqrt(2.0))) + 1.0) * 0.5

    def icdf(self, value):
        return self.loc + ops.erfinv(self._check(value) * 2.0 - 1.0) * self.scale * math.sqrt(2.0)


class Uniform(Distribution):
    """Uniform on [low, high), elementwise."""

    has_rsample = True

    def __init__(self, low, high):
        (self.low, self.high), self.batch_shape = _params("Uniform", low, high)

    _first = "low"

    @property
    def mode(self):
        return self.high * float("nan")

    @property
    def mean(self):
        return (self.low + self.high) * 0.5

    @property
    def variance(self):
        w = self.high - self.low
        return w * w * (1.0 / 12.0)

    def rsample(self, sample_shape=()):
        u = self._noise(_shape(sample_shape) + self.batch_shape, rng().random)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value):
        v = self._check(value)
        inside = ops.ge(v, self.low) * ops.lt(v, self.high)
        return ops.where(inside, -ops.log(self.high - self.low), float("-inf"))

    def entropy(self):
        return ops.log(self.high - self.low)

    def cdf(self, value):
        return ops.clamp((self._check(value) - self.low) / (self.high - self.low), 0.0, 1.0)

    def icdf(self, value):
        return self.low + self._check(value) * (self.high - self.low)


class Exponential(Distribution):
    """rate exp(-rate x) for x >= 0."""

    has_rsample = True

    def __init__(self, rate):
        (self.rate,), self.batch_shape = _params("Exponential", rate)

    _first = "rate"

    @property
    def mode(self):
        return self.rate * 0.0

    @property
    def mean(self):
        return ops.reciprocal(self.rate)

    @property
    def variance(self):
        return ops.reciprocal(self.rate * self.rate)

    def rsample(self, sample_shape=()):
        e = self._noise(_shape(sample_shape) + self.batch_shape, rng().standard_exponential)
        return e / self.rate

    def log_prob(self, value):
        v = self._check(value)
        return ops.where(ops.ge(v, 0.0), ops.log(self.rate) - self.rate * v, float("-inf"))

    def entropy(self):
        return 1.0 - ops.log(self.rate)

    def cdf(self, value):
        return -ops.expm1(-self.rate * self._check(value))

    def icdf(self, value):
        return -ops.log1p(-self._check(value)) / self.rate


class Laplace(_LocScale):
    """exp(-|x - loc| / scale) / (2 scale)."""

    @property
    def variance(self):
        return self.scale * self.scale * 2.0

    def rsample(self, sample_shape=()):
        e = self._noise(_shape(sample_shape) + self.batch_shape, rng().laplace)
        return self.loc + e * self.scale

    def log_prob(self, value):
        return -ops.abs(self._check(value) - self.loc) / self.scale - ops.log(self.scale * 2.0)

    def entropy(self):
        return ops.log(self.scale * 2.0) + 1.0

    def cdf(self, value):
        z = self._check(value) - self.loc
        return 0.5 - ops.sign(z) * ops.expm1(-ops.abs(z) / self.scale) * 0.5

    def icdf(self, value):
        t = self._check(value) - 0.5
        return self.loc - self.scale * ops.sign(t) * ops.log1p(ops.abs(t) * -2.0)


def _logits_probs(name, probs, logits, binary):
    if (probs is None) == (logits is None):
        raise ValueError(f"{name}: give probs or logits, one of them")
    if logits is not None:
        (lg,), shape = _params(name, logits)
        return lg, shape
    (p,), shape = _params(name, probs)
    if binary:
        p = ops.clamp(p, 1e-7 if p.dtype != "f64" else 1e-15, 1 - (1e-7 if p.dtype != "f64" else 1e-15))
        return ops.log(p) - ops.log1p(-p), shape
    return ops.log(p / ops.sum(p, -1, keepdims=True)), shape


class Bernoulli(_BinaryLogits, Distribution):
    """1 with probability ``probs`` (or sigmoid(``logits``)), else 0."""

    def __init__(self, probs=None, logits=None):
        self.logits, self.batch_shape = _logits_probs("Bernoulli", probs, logits, True)

    @property
    def mode(self):
        p = self.probs
        return ops.where(ops.eq(p, 0.5), float("nan"), ops.ge(p, 0.5))

    @property
    def mean(self):
        return self.probs

    @property
    def variance(self):
        p = self.probs
        return p * (1.0 - p)

    def _sample(self, shape):
        u = self._noise(shape + self.batch_shape, rng().random)
        return ops.lt(u, self.probs.detach())

    def log_prob(self, value):  # (-binary cross-entropy with logits: l v - softplus(l), broadcast)
        return self._check(value) * self.logits - ops.softplus(self.logits)

    def entropy(self):
        return ops.softplus(self.logits) - self.logits * self.probs

    def enumerate_support(self, expand=True):
        """[2, *batch] of 0 and 1 (``expand=False``: [2, 1, ...])."""
        return self._support(np.arange(2.0), self.logits.dtype, expand)


class Categorical(Distribution):
    """A class index in [0, K) with probabilities ``probs`` [..., K] (normalised) or
    softmax(``logits``); samples are int32."""

    def __init__(self, probs=None, logits=None):
        lg, shape = _logits_probs("Categorical", probs, logits, False)
        if not shape:
            raise ValueError("Categorical: probs / logits need a last axis of categories")
        self.logits = ops.log_softmax(lg, -1)
        self.batch_shape, self.num_categories = shape[:-1], shape[-1]

    _first = "logits"

    @property
    def probs(self):
        return ops.exp(self.logits)

    def _sample(self, shape):  # Gumbel-max: argmax of logits + Gumbel noise
        g = self._noise(shape + self.batch_shape + (self.num_categories,), rng().gumbel)
        return ops.argmax(self.logits.detach() + g, -1)

    def log_prob(self, value):
        v = value if isinstance(value, Tensor) else tensor(np.asarray(value), dtype="i32",
                                                           device=self.logits.device)
        if v.dtype != "i32":
            v = v.to(dtype="i32")
        lg = self.logits
        if v.shape != self.batch_shape:
            shape = tuple(np.broadcast_shapes(v.shape, self.batch_shape))
            lg = lg.broadcast_to(shape + (self.num_categories,))
            v = Tensor(v.backend.broadcast_to(v.handle, shape), v.backend) if v.shape != shape else v
        return ops.gather(lg, -1, v.unsqueeze(-1)).squeeze(-1)

    def entropy(self):
        # logits of zero probabilities are -inf: clamped to the dtype's lowest, so 0 log 0 is 0 (as PyTorch)
        low = float(np.finfo(_NP_DTYPES[self.logits.dtype]).min)
        return -ops.sum(self.probs * ops.clamp(self.logits, low, None), -1)

    def enumerate_support(self, expand=True):
        """[K, *batch] of the class indices (int32; ``expand=False``: [K, 1, ...])."""
        return self._support(np.arange(self.num_categories, dtype=np.int32), "i32", expand)

    @property
    def mode(self):
        return ops.argmax(self.probs, -1)

    @property
    def mean(self):
        raise NotImplementedError("Categorical: the mean of class indices is undefined (as PyTorch's NaN)")


class OneHotCategorical(Categorical):
    """Categorical with one-hot samples [..., K] (float) and values: event_shape [K]."""

    def __init__(self, probs=None, logits=None):
        super().__init__(probs, logits)
        self.event_shape = (self.num_categories,)

    def _sample(self, shape):
        return _one_hot(super()._sample(shape), self.num_categories, self.logits.dtype)

    def log_prob(self, value):
        return ops.sum(self._check(value) * self.logits, -1)

    @property
    def mode(self):
        return _one_hot(ops.argmax(self.probs, -1), self.num_categories, self.logits.dtype)

    @property
    def mean(self):
        return self.probs

    @property
    def variance(self):
        p = self.probs
        return p * (1.0 - p)


class OneHotCategoricalStraightThrough(OneHotCategorical):
    """OneHotCategorical whose ``rsample`` is the straight-through estimator
    (PyTorch's): the one-hot draw forward, the probabilities' gradient backward."""

    has_rsample = True

    def rsample(self, sample_shape=()):
        s = self._sample(_shape(sample_shape))
        p = self.probs
        return s + (p - p.detach())


class MultivariateNormal(Distribution):
    """N(loc, Sigma) over the last axis: ``covariance_matrix`` (factorised by
    vkgrad.linalg.cholesky) or ``scale_tril`` (L with Sigma = L L^T)."""

    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, scale_tril=None):
        from .. import linalg
        if (covariance_matrix is None) == (scale_tril is None):
            raise ValueError("MultivariateNormal: give covariance_matrix or scale_tril, one of them")
        if not isinstance(loc, Tensor):
            loc = tensor(np.asarray(loc, np.float64))
        L = linalg.cholesky(covariance_matrix) if scale_tril is None else scale_tril
        if L.ndim < 2 or L.shape[-1] != L.shape[-2] or L.shape[-1] != loc.shape[-1]:
            raise ValueError(f"MultivariateNormal: loc {list(loc.shape)} and a scale [..., n, n] of its last "
                             f"axis expected, got {list(L.shape)}")
        self.loc, self.scale_tril = loc, L
        self.event_shape = loc.shape[-1:]
        self.batch_shape = tuple(np.broadcast_shapes(loc.shape[:-1], L.shape[:-2]))

    @property
    def mode(self):
        return self.mean

    @property
    def mean(self):  # (PyTorch's: over the whole batch -- a scale's batch axes too)
        return ops.broadcast_to(self.loc, self.batch_shape + self.event_shape)

    @property
    def covariance_matrix(self):
        return self.scale_tril @ self.scale_tril.mT

    @property
    def variance(self):
        return ops.broadcast_to(ops.sum(self.scale_tril * self.scale_tril, -1), self.batch_shape + self.event_shape)

    def rsample(self, sample_shape=()):
        eps = self._noise(_shape(sample_shape) + self.batch_shape + self.event_shape, rng().standard_normal)
        return self.loc + ops.matmul(self.scale_tril, eps.unsqueeze(-1)).squeeze(-1)

    def _half_logdet(self):
        return ops.sum(ops.log(ops.diagonal(self.scale_tril, 0, -2, -1)), -1)

    def log_prob(self, value):
        from .. import linalg
        diff = self._check(value) - self.loc
        L = self.scale_tril
        if L.shape[:-2] != diff.shape[:-1]:
            L = L.broadcast_to(diff.shape[:-1] + L.shape[-2:])
        # (the lower triangle only, as PyTorch's: an upper part of scale_tril is not read, nor given a gradient)
        z = linalg.solve_triangular(L, diff.unsqueeze(-1), upper=False).squeeze(-1)
        n = self.event_shape[0]
        return ops.sum(z * z, -1) * -0.5 - self._half_logdet() - n * _HALF_LOG_2PI

    def entropy(self):
        n = self.event_shape[0]
        return ops.broadcast_to(self._half_logdet() + n * (0.5 + _HALF_LOG_2PI), self.batch_shape)


_NP_DTYPES = {"f16": np.float16, "f32": np.float32, "f64": np.float64}


def _host_draw(like, draw):
    """Samples drawn on the host from the parameters' current values (no gradient)."""
    return tensor(draw(), dtype=like.dtype, device=like.device)


def _standard_gamma_grad(a, x):
    """dx/da of a Gamma(a, 1) draw x at its fixed quantile u = P(a, x) (implicit
    reparameterisation, Figurnov et al. 2018): -(dP/da) / (dP/dx), dP/dx the
    density; dP/da by central differences of the float64 incomplete gamma
    (relative error ~1e-9).  0 where the density underflows (x at 0 or far out)."""
    from ..special import _gamma_density, _gamma_p
    h = np.minimum(1e-5 * np.maximum(a, 1.0), a * 0.5)
    with np.errstate(all="ignore"):
        dp = (_gamma_p(a + h, x) - _gamma_p(a - h, x)) / (2.0 * h)
        dens = _gamma_density(a, x, None)
        return np.where(dens > 0, -dp / np.where(dens > 0, dens, 1.0), 0.0)


def _standard_gamma(concentration):
    """Gamma(a, 1) draws of a tensor of concentrations (on the host, float64, from
    vkgrad's generator), differentiable in a through _standard_gamma_grad."""
    from ..autograd import Function, once_differentiable
    a = concentration.detach().numpy().astype(np.float64)
    x = rng().standard_gamma(a)

    class StandardGamma(Function):
        @staticmethod
        def forward(ctx, at):  # (at least the dtype's smallest normal: Beta / Dirichlet divide by sums of draws)
            return tensor(np.maximum(x, np.finfo(_NP_DTYPES[at.dtype]).tiny), dtype=at.dtype, device=at.device)

        @staticmethod
        @once_differentiable  # (dx/da comes from the host: no second derivative)
        def backward(ctx, g):
            return g * tensor(_standard_gamma_grad(a, x), dtype=g.dtype, device=g.device)
    return StandardGamma.apply(concentration)


class Gamma(Distribution):
    """Gamma(concentration a, rate b): b^a x^(a-1) exp(-b x) / Gamma(a), x > 0.
    ``rsample``: draws differentiable in a (implicit reparameterisation) and b."""

    has_rsample = True

    def __init__(self, concentration, rate):
        (self.concentration, self.rate), self.batch_shape = _params("Gamma", concentration, rate)

    _first = "concentration"

    def rsample(self, sample_shape=()):
        full = _shape(sample_shape) + tuple(self.batch_shape)
        return _standard_gamma(self.concentration.broadcast_to(full)) / self.rate

    @property
    def mode(self):
        return ops.clamp((self.concentration - 1.0) / self.rate, 0.0, None)

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def variance(self):
        return self.concentration / (self.rate * self.rate)

    def cdf(self, value):
        """P(a, rate x), the regularized lower incomplete gamma (``vkgrad.special.gammainc``:
        float64 on the host; gradients to x and the rate, none to the concentration,
        as PyTorch's)."""
        from ..special import gammainc
        return gammainc(self.concentration, self.rate * self._check(value))

    def log_prob(self, value):
        v = self._check(value)
        a, b = self.concentration, self.rate
        lp = a * ops.log(b) + (a - 1.0) * ops.log(ops.where(ops.gt(v, 0.0), v, 1.0)) - b * v - ops.lgamma(a)
        return ops.where(ops.gt(v, 0.0), lp, float("-inf"))

    def entropy(self):
        a = self.concentration
        return a - ops.log(self.rate) + ops.lgamma(a) + (1.0 - a) * ops.digamma(a)


class Beta(Distribution):
    """Beta(a, b) on (0, 1): x^(a-1) (1-x)^(b-1) / B(a, b)."""

    def __init__(self, concentration1, concentration0):
        (self.concentration1, self.concentration0), self.batch_shape = _params("Beta", concentration1,
                                                                               concentration0)

    _first = "concentration1"

    @property
    def mode(self):
        return Dirichlet(ops.stack([self.concentration1, self.concentration0], -1)).mode[..., 0]

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def variance(self):
        t = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (t * t * (t + 1.0))

    has_rsample = True

    def rsample(self, sample_shape=()):
        """X / (X + Y) of Gamma(a, 1) and Gamma(b, 1) draws: differentiable in a and b."""
        full = _shape(sample_shape) + tuple(self.batch_shape)
        x = _standard_gamma(self.concentration1.broadcast_to(full))
        y = _standard_gamma(self.concentration0.broadcast_to(full))
        return x / (x + y)

    def _log_norm(self):
        a, b = self.concentration1, self.concentration0
        return ops.lgamma(a) + ops.lgamma(b) - ops.lgamma(a + b)

    def log_prob(self, value):
        v = self._check(value)
        a, b = self.concentration1, self.concentration0
        inside = ops.gt(v, 0.0) * ops.lt(v, 1.0)
        vv = ops.where(inside, v, 0.5)
        lp = (a - 1.0) * ops.log(vv) + (b - 1.0) * ops.log1p(-vv) - self._log_norm()
        return ops.where(inside, lp, float("-inf"))

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        return (self._log_norm() - (a - 1.0) * ops.digamma(a) - (b - 1.0) * ops.digamma(b)
                + (a + b - 2.0) * ops.digamma(a + b))


class Dirichlet(Distribution):
    """Dirichlet(alpha) over the simplex of the last axis."""

    def __init__(self, concentration):
        (self.concentration,), shape = _params("Dirichlet", concentration)
        if not shape:
            raise ValueError("Dirichlet: concentration needs a last axis of categories")
        self.batch_shape, self.event_shape = shape[:-1], shape[-1:]

    _first = "concentration"

    @property
    def mode(self):
        a = self.concentration
        m = ops.clamp(a - 1.0, 0.0, None)
        m = m / ops.sum(m, -1, keepdims=True)
        # every concentration < 1: the density has no maximum inside, the largest concentration's corner
        # (PyTorch's takes the first corner: its argmax runs over 0 / 0)
        below = ops.amin(ops.lt(a, 1.0), -1, keepdims=True)
        return ops.where(below, _one_hot(ops.argmax(a, -1), a.shape[-1], a.dtype), m)

    @property
    def mean(self):
        return self.concentration / ops.sum(self.concentration, -1, keepdims=True)

    @property
    def variance(self):
        a0 = ops.sum(self.concentration, -1, keepdims=True)
        m = self.concentration / a0
        return m * (1.0 - m) / (a0 + 1.0)

    has_rsample = True

    def rsample(self, sample_shape=()):
        """Gamma(alpha, 1) draws normalised over the last axis: differentiable in alpha."""
        a = self.concentration
        g = _standard_gamma(a.broadcast_to(_shape(sample_shape) + tuple(a.shape)))
        return g / ops.sum(g, -1, keepdims=True)

    def _log_norm(self):
        a = self.concentration
        return ops.sum(ops.lgamma(a), -1) - ops.lgamma(ops.sum(a, -1))

    def log_prob(self, value):
        v = self._check(value)
        return ops.sum((self.concentration - 1.0) * ops.log(v), -1) - self._log_norm()

    def entropy(self):
        a = self.concentration
        a0 = ops.sum(a, -1)
        k = self.event_shape[0]
        return self._log_norm() + (a0 - k) * ops.digamma(a0) - ops.sum((a - 1.0) * ops.digamma(a), -1)


class Poisson(Distribution):
    """Poisson(rate): rate^k exp(-rate) / k! for k = 0, 1, ... (float samples)."""

    def __init__(self, rate):
        (self.rate,), self.batch_shape = _params("Poisson", rate)

    _first = "rate"

    @property
    def mode(self):
        return ops.floor(self.rate)

    @property
    def mean(self):
        return self.rate

    @property
    def variance(self):
        return self.rate

    def _sample(self, shape):
        lam = self.rate.numpy().astype(np.float64)
        return _host_draw(self._like(), lambda: rng().poisson(lam, size=shape + self.batch_shape).astype(np.float64))

    def log_prob(self, value):
        k = self._check(value)
        return ops.xlogy(k, self.rate) - self.rate - ops.lgamma(k + 1.0)
