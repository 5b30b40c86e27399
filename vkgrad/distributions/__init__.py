"""``vkgrad.distributions``: PyTorch's torch.distributions -- Normal, Uniform,
Exponential, Laplace, Bernoulli, Categorical, OneHotCategorical (and its
straight-through rsample), MultivariateNormal, Gamma, Beta, Dirichlet, Poisson
(``distribution.py``); TransformedDistribution and its transforms, Independent,
LogNormal, HalfNormal, Cauchy, HalfCauchy, Gumbel, Weibull, InverseGamma,
Kumaraswamy, Pareto, GeneralizedPareto, StudentT, Chi2, FisherSnedecor, Geometric,
Binomial, NegativeBinomial, Multinomial, LowRankMultivariateNormal, VonMises,
MixtureSameFamily, ContinuousBernoulli, LogisticNormal and the relaxed (Concrete)
Bernoulli / one-hot categorical
(``more.py``); and
``kl_divergence`` with PyTorch's ``register_kl`` registry (``kl.py``).

Parameters are tensors (or numbers) on any device; ``log_prob``, ``entropy``,
``mean`` / ``variance`` / ``stddev``, ``cdf`` / ``icdf`` where defined and
``rsample`` (the reparameterised draw: gradients flow into the parameters) are
composed of vkgrad's ops.  Noise is drawn on the host from vkgrad's generator
(``vkgrad.manual_seed``), so one seed gives the same samples on every backend.
Gamma, Beta, Dirichlet, StudentT and Chi2 draw gamma variates on the host,
reparameterised implicitly (their ``rsample`` differentiates the draw's
quantile); Poisson and the discrete ones sample without a reparameterised
gradient (``sample``, not ``rsample``)."""
from . import transforms
from .distribution import (Bernoulli, Beta, Categorical, Dirichlet, Distribution, Exponential, Gamma, Laplace,
                           MultivariateNormal, Normal, OneHotCategorical, OneHotCategoricalStraightThrough, Poisson,
                           Uniform)
from .kl import kl_divergence, register_kl
from .more import (Binomial, Cauchy, Chi2, ContinuousBernoulli, FisherSnedecor, GeneralizedPareto, Geometric, Gumbel,
                   HalfCauchy, HalfNormal, Independent, InverseGamma, Kumaraswamy, LogisticNormal, LogNormal,
                   LowRankMultivariateNormal, MixtureSameFamily, Multinomial, NegativeBinomial, Pareto,
                   RelaxedBernoulli, RelaxedOneHotCategorical, StudentT, TransformedDistribution, VonMises, Weibull)
from .transforms import (AbsTransform, AffineTransform, CatTransform, ComposeTransform,
                         CumulativeDistributionTransform, ExpTransform, IndependentTransform, LowerCholeskyTransform,
                         PowerTransform, ReshapeTransform, SigmoidTransform, SoftmaxTransform, SoftplusTransform,
                         StackTransform, StickBreakingTransform, TanhTransform, Transform)

__all__ = ["Distribution", "Normal", "Uniform", "Exponential", "Laplace", "Bernoulli", "Categorical",
           "OneHotCategorical", "OneHotCategoricalStraightThrough", "MultivariateNormal", "Gamma", "Beta",
           "Dirichlet", "Poisson", "kl_divergence",
           "register_kl", "transforms", "Transform", "ExpTransform", "AffineTransform", "SigmoidTransform",
           "TanhTransform", "SoftplusTransform", "PowerTransform", "AbsTransform", "ComposeTransform",
           "TransformedDistribution", "Independent", "LogNormal", "HalfNormal", "Cauchy", "HalfCauchy", "Gumbel",
           "Weibull", "Pareto", "StudentT", "Chi2", "Geometric", "Binomial", "NegativeBinomial", "Multinomial",
           "VonMises", "MixtureSameFamily", "RelaxedBernoulli", "RelaxedOneHotCategorical",
           "LowRankMultivariateNormal", "InverseGamma", "Kumaraswamy", "FisherSnedecor", "ContinuousBernoulli",
           "LogisticNormal", "GeneralizedPareto", "SoftmaxTransform",
           "StickBreakingTransform", "LowerCholeskyTransform", "ReshapeTransform", "IndependentTransform",
           "CumulativeDistributionTransform", "CatTransform", "StackTransform"]
