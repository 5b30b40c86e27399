"""vkgrad.distributions: densities and entropies against their formulas on every
backend, samples' moments, reparameterised gradients, and PyTorch's
torch.distributions as an oracle (log_prob, entropy, kl_divergence) in f64."""
import math

import numpy as np
import pytest

import vkgrad as vg

D = vg.distributions


def test_densities_entropies_and_samples(bk):
    r = np.random.default_rng(3)
    loc, scale = np.array([0.5, -1.0, 2.0]), np.array([0.7, 1.5, 1.0])
    v = r.standard_normal((4, 3))
    n = D.Normal(bk.t(loc), bk.t(scale))
    want = -((v - loc) / scale) ** 2 / 2 - np.log(scale) - 0.5 * math.log(2 * math.pi)
    bk.close(n.log_prob(bk.t(v)).numpy(), want, what="normal log_prob")
    bk.close(n.entropy().numpy(), 0.5 + 0.5 * math.log(2 * math.pi) + np.log(scale), what="normal entropy")
    bk.close(n.cdf(bk.t(v)).numpy(), 0.5 * (1 + np.vectorize(math.erf)((v - loc) / scale / math.sqrt(2))),
             what="normal cdf")
    vg.manual_seed(1)
    s = n.sample((20000,)).numpy().astype(np.float64)
    assert s.shape == (20000, 3) and np.abs(s.mean(0) - loc).max() < 0.05 and np.abs(s.std(0) - scale).max() < 0.05
    u = D.Uniform(bk.t(np.zeros(3)), bk.t(np.array([1.0, 2.0, 4.0])))
    lp = u.log_prob(bk.t(np.array([[0.5, 1.0, -1.0]]))).numpy()
    assert np.allclose(lp[0, :2], -np.log([1.0, 2.0]), atol=1e-3) and lp[0, 2] == -np.inf
    e = D.Exponential(bk.t(np.array([2.0])))
    bk.close(e.log_prob(bk.t(np.array([0.5]))).numpy(), [math.log(2.0) - 1.0], what="exponential")
    assert np.abs(e.sample((20000,)).numpy().astype(np.float64).mean() - 0.5) < 0.02
    b = D.Bernoulli(probs=bk.t(np.array([0.2, 0.7])))
    bk.close(b.log_prob(bk.t(np.array([[1.0, 0.0], [0.0, 1.0]]))).numpy(), np.log([[0.2, 0.3], [0.8, 0.7]]),
             rtol=max(bk.rtol, 1e-3), what="bernoulli")
    assert np.abs(b.sample((20000,)).numpy().mean(0) - [0.2, 0.7]).max() < 0.02
    c = D.Categorical(probs=bk.t(np.array([0.2, 0.5, 0.3])))
    k = c.sample((30000,))
    assert k.dtype == "i32" and np.abs(np.bincount(k.numpy(), minlength=3) / 30000 - [0.2, 0.5, 0.3]).max() < 0.02
    bk.close(c.log_prob(bk.t(np.array([2, 1]), dtype="i32")).numpy(), np.log([0.3, 0.5]),
             rtol=max(bk.rtol, 1e-3), what="categorical")
    bk.close(c.entropy().numpy(), -(np.array([0.2, 0.5, 0.3]) * np.log([0.2, 0.5, 0.3])).sum(),
             rtol=max(bk.rtol, 1e-3), what="categorical entropy")
    oh = D.OneHotCategorical(logits=bk.t(np.zeros((2, 4)))).sample((5,))
    assert oh.shape == (5, 2, 4) and (oh.numpy().sum(-1) == 1).all()


def test_rsample_gradients_and_errors(bk):
    """rsample's gradients flow into the parameters (d/dloc = 1, d/dscale = eps);
    a multivariate normal's samples have its covariance; bad arguments are named."""
    loc = bk.t(np.array([0.5, -1.0]), requires_grad=True)
    scale = bk.t(np.array([2.0, 0.5]), requires_grad=True)
    vg.manual_seed(2)
    x = D.Normal(loc, scale).rsample((7,))
    x.sum().backward()
    np.testing.assert_allclose(loc.grad.numpy(), [7.0, 7.0])
    eps = (x.numpy().astype(np.float64) - [0.5, -1.0]) / [2.0, 0.5]
    bk.close(scale.grad.numpy(), eps.sum(0), atol=max(bk.atol, 2e-2), what="d/dscale")
    S = np.array([[2.0, 0.6, 0.0], [0.6, 1.0, -0.3], [0.0, -0.3, 0.5]])
    m = D.MultivariateNormal(bk.t(np.array([0.0, 1.0, 2.0])), covariance_matrix=bk.t(S))
    s = m.sample((40000,)).numpy().astype(np.float64)
    assert np.abs(np.cov(s.T) - S).max() < 0.06 and np.abs(s.mean(0) - [0, 1, 2]).max() < 0.03
    with pytest.raises(ValueError, match="Bernoulli: give probs or logits, one of them"):
        D.Bernoulli()
    with pytest.raises(ValueError, match=r"Normal: parameter shapes \[\[2\], \[3\]\] do not broadcast"):
        D.Normal(bk.t(np.zeros(2)), bk.t(np.ones(3)))
    with pytest.raises(NotImplementedError, match="Bernoulli has no reparameterised sample"):
        D.Bernoulli(probs=0.5).rsample()
    with pytest.raises(NotImplementedError, match="kl_divergence: no formula for Normal against Laplace"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Laplace(0.0, 1.0))


def test_distributions_match_torch_if_available():
    torch = pytest.importorskip("torch")
    TD = torch.distributions
    r = np.random.default_rng(4)
    loc, sc, v = r.standard_normal(3), r.uniform(0.5, 2, 3), r.standard_normal((4, 3))
    pr, lg = r.uniform(0.1, 0.9, 3), r.standard_normal((2, 5))
    A = r.standard_normal((3, 3))
    S = A @ A.T + np.eye(3)

    def t(a):
        return vg.tensor(a, device="cpu", dtype="f64", requires_grad=True)

    T = torch.tensor
    pairs = [
        (D.Normal(t(loc), t(sc)), TD.Normal(T(loc), T(sc)), v, D.Normal(t(loc / 2), t(sc * 1.3)),
         TD.Normal(T(loc / 2), T(sc * 1.3))),
        (D.Laplace(t(loc), t(sc)), TD.Laplace(T(loc), T(sc)), v, D.Laplace(t(loc + 0.3), t(sc * 2)),
         TD.Laplace(T(loc + 0.3), T(sc * 2))),
        (D.Exponential(t(sc)), TD.Exponential(T(sc)), np.abs(v), D.Exponential(t(sc * 2)), TD.Exponential(T(sc * 2))),
        (D.Bernoulli(t(pr)), TD.Bernoulli(T(pr)), (v > 0).astype(float), D.Bernoulli(t(pr[::-1].copy())),
         TD.Bernoulli(T(pr[::-1].copy()))),
        (D.Categorical(logits=t(lg)), TD.Categorical(logits=T(lg)), r.integers(0, 5, (3, 2)),
         D.Categorical(logits=t(lg[::-1].copy())), TD.Categorical(logits=T(lg[::-1].copy()))),
        (D.MultivariateNormal(t(loc), t(S)), TD.MultivariateNormal(T(loc), T(S)), v,
         D.MultivariateNormal(t(loc * 0), t(S + np.eye(3))), TD.MultivariateNormal(T(loc * 0), T(S + np.eye(3)))),
        (D.Gamma(t(sc), t(sc[::-1].copy())), TD.Gamma(T(sc), T(sc[::-1].copy())), np.abs(v) + 0.1,
         D.Gamma(t(sc + 1), t(sc)), TD.Gamma(T(sc + 1), T(sc))),
        (D.Beta(t(sc), t(sc + 0.5)), TD.Beta(T(sc), T(sc + 0.5)), pr + 0 * v, D.Beta(t(sc + 1), t(sc)),
         TD.Beta(T(sc + 1), T(sc))),
        (D.Dirichlet(t(np.abs(lg) + 0.3)), TD.Dirichlet(T(np.abs(lg) + 0.3)), r.dirichlet(np.ones(5), (3, 2)),
         D.Dirichlet(t(np.abs(lg[::-1]) + 0.5)), TD.Dirichlet(T(np.abs(lg[::-1]) + 0.5))),
    ]
    for ours, theirs, value, ours2, theirs2 in pairs:
        name = type(ours).__name__
        val = vg.tensor(value, device="cpu", dtype="i32" if value.dtype.kind == "i" else "f64")
        np.testing.assert_allclose(ours.log_prob(val).numpy(), theirs.log_prob(T(value)).numpy(), atol=1e-12,
                                   err_msg=f"{name} log_prob")
        np.testing.assert_allclose(ours.entropy().numpy(), theirs.entropy().detach().numpy(), atol=1e-11,
                                   err_msg=f"{name} entropy")
        np.testing.assert_allclose(D.kl_divergence(ours, ours2).numpy(),
                                   TD.kl_divergence(theirs, theirs2).detach().numpy(), atol=1e-11,
                                   err_msg=f"{name} kl")


def test_gamma_family_on_every_backend(bk):
    """Gamma, Beta, Dirichlet and Poisson: log densities against their formulas
    (math.lgamma), samples' means, gradients of log_prob into the parameters."""
    a, b = np.array([0.7, 2.0, 3.5]), np.array([1.5, 0.5, 2.0])
    x = np.array([0.3, 2.5, 1.0])
    lg = np.vectorize(math.lgamma)
    g = D.Gamma(bk.t(a, requires_grad=True), bk.t(b))
    want = a * np.log(b) + (a - 1) * np.log(x) - b * x - lg(a)
    lp = g.log_prob(bk.t(x))
    bk.close(lp.numpy(), want, rtol=max(bk.rtol, 1e-4), atol=max(bk.atol, 1e-5), what="gamma log_prob")
    lp.sum().backward()  # d/da: log b + log x - digamma(a)
    h = 1e-6
    dig = (lg(a + h) - lg(a - h)) / (2 * h)
    bk.close(g.concentration.grad.numpy(), np.log(b) + np.log(x) - dig, rtol=max(bk.rtol, 1e-4),
             atol=max(bk.atol, 1e-4), what="gamma d/da")
    p = np.array([0.2, 0.5, 0.9])
    want = (a - 1) * np.log(p) + (b - 1) * np.log1p(-p) - (lg(a) + lg(b) - lg(a + b))
    bk.close(D.Beta(bk.t(a), bk.t(b)).log_prob(bk.t(p)).numpy(), want, rtol=max(bk.rtol, 1e-4),
             atol=max(bk.atol, 1e-5), what="beta log_prob")
    k = np.array([0.0, 3.0, 1.0])
    bk.close(D.Poisson(bk.t(b)).log_prob(bk.t(k)).numpy(), k * np.log(b) - b - lg(k + 1), rtol=max(bk.rtol, 1e-4),
             atol=max(bk.atol, 1e-5), what="poisson log_prob")
    vg.manual_seed(5)
    assert abs(D.Gamma(bk.t(np.array([2.0])), bk.t(np.array([0.5]))).sample((20000,)).numpy().mean() - 4.0) < 0.1
    assert abs(D.Beta(bk.t(np.array([2.0])), bk.t(np.array([3.0]))).sample((20000,)).numpy().mean() - 0.4) < 0.01
    d = D.Dirichlet(bk.t(np.array([1.0, 2.0, 3.0]))).sample((8000,)).numpy()
    assert d.shape == (8000, 3) and np.abs(d.mean(0) - [1 / 6, 2 / 6, 3 / 6]).max() < 0.01
    assert abs(D.Poisson(bk.t(np.array([3.0]))).sample((20000,)).numpy().mean() - 3.0) < 0.05
