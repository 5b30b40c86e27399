"""Elementwise ops: arithmetic with broadcasting, activations, casts."""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..backends import get_backend, normalize_device
from ..tensor import FLOAT_DTYPES, Tensor, canonical_dtype, tensor
from ._core import as_tensor, broadcast_shape, check_tensor, int_as_f32, make, promote, same_device, unbroadcast


def _scalar(x):
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


# -- unary, driven by a backward rule ------------------------------------
def _unary(op, x, alpha=0.0, beta=0.0, bwd=None, name=None, dvjp=None):
    """Apply a backend unary op; ``bwd(x, y, g)`` gives the input gradient handle;
    ``dvjp(x, g)`` the same from Tensors in recorded ops (gradients of gradients)."""
    check_tensor(name or op, x)
    be = x.backend
    y = be.unary(op, x.handle, alpha, beta)
    return make(y, be, (x,), lambda g: (bwd(x.handle, y, g),),
                vjp=None if dvjp is None else (lambda g: (dvjp(x, g),)))


def affine(x, alpha, beta=0.0):
    """x * alpha + beta for Python scalars alpha and beta."""
    be = x.backend
    return _unary("affine", x, float(alpha), float(beta),
                  lambda xd, y, g: be.unary("affine", g, float(alpha), 0.0),
                  dvjp=lambda x_, g: affine(g, float(alpha)))


def neg(x):
    return affine(x, -1.0)


def _exp_grad(x, g):
    return mul(g, exp(x))


def _log_grad(x, g):
    return div(g, x)


def exp(x):
    return _unary("exp", x, bwd=lambda xd, y, g: x.backend.binary("mul", g, y), dvjp=_exp_grad)


def log(x):
    return _unary("log", x, bwd=lambda xd, y, g: x.backend.binary("div", g, xd), dvjp=_log_grad)


def sqrt(x):
    be = x.backend
    return _unary("sqrt", x, bwd=lambda xd, y, g: be.unary("affine", be.binary("div", g, y), 0.5),
                  dvjp=lambda x_, g: affine(div(g, sqrt(x_)), 0.5))


def sqrt0(x):
    """sqrt whose gradient is 0 where the root is 0 (not g / 0): the root of a sum of
    squares -- std, a distance, a norm -- at a constant or a zero, as PyTorch's
    std / norm backward masks it."""
    be = x.backend

    def bwd(xd, y, g):
        zero = be.full(tuple(y.shape), 0.0, x.dtype)
        return be.select(be.binary("eq", y, zero), zero, be.unary("affine", be.binary("div", g, y), 0.5))
    return _unary("sqrt", x, bwd=bwd, dvjp=lambda x_, g: where(eq(x_.detach(), 0.0), 0.0,
                                                                affine(div(g, sqrt0(x_)), 0.5)))


def _stepwise(op, x):
    """A piecewise-constant op (sign, floor, ...): its gradient is zero (PyTorch's)."""
    be = x.backend
    return _unary(op, x, bwd=lambda xd, y, g: be.full(tuple(g.shape), 0.0, x.dtype),
                  dvjp=lambda x_, g: affine(g, 0.0))


def sin(x):
    """sin x (the shaders' own range reduction and polynomial: within 2e-6 of NumPy
    for |x| < 8192 on lavapipe)."""
    be = x.backend
    return _unary("sin", x, bwd=lambda xd, y, g: be.binary("mul", g, be.unary("cos", xd)),
                  dvjp=lambda x_, g: mul(g, cos(x_)))


def cos(x):
    """cos x (as ``sin``)."""
    be = x.backend
    return _unary("cos", x, bwd=lambda xd, y, g: be.unary("neg", be.binary("mul", g, be.unary("sin", xd))),
                  dvjp=lambda x_, g: neg(mul(g, sin(x_))))


def tan(x):
    """sin x / cos x."""
    check_tensor("tan", x)
    return div(sin(x), cos(x))


def log1p(x):
    """log(1 + x), accurate for small x."""
    be = x.backend
    return _unary("log1p", x, bwd=lambda xd, y, g: be.binary("div", g, be.unary("affine", xd, 1.0, 1.0)),
                  dvjp=lambda x_, g: div(g, affine(x_, 1.0, 1.0)))


def expm1(x):
    """exp(x) - 1, accurate for small x."""
    be = x.backend
    return _unary("expm1", x, bwd=lambda xd, y, g: be.binary("mul", g, be.unary("affine", y, 1.0, 1.0)),
                  dvjp=lambda x_, g: mul(g, exp(x_)))


def _erf_grad(x, g):
    """g * 2 / sqrt(pi) * exp(-x^2), recorded."""
    return mul(g, affine(exp(neg(mul(x, x))), 2.0 / math.sqrt(math.pi)))


def erf(x):
    """The error function (relative accuracy near 0; 1.5e-7 absolute beyond |x| 0.5)."""
    return _unary("erf", x, bwd=lambda xd, y, g: x.backend.binary("erf_bwd", xd, g), dvjp=_erf_grad)


def _inv_sqrt_bwd(be, x, g, sign, c):
    """sign * g / sqrt(c - x^2) (c = 1) or g / sqrt(x^2 + c): the inverse functions'
    derivatives."""
    x2 = be.binary("mul", x, x)
    t = be.unary("affine", x2, -1.0, 1.0) if sign != 0 else be.unary("affine", x2, 1.0, c)
    r = be.binary("mul", g, be.unary("pow", t, -0.5))
    return be.unary("neg", r) if sign < 0 else r


def atan(x):
    """arctan x (Cephes' reduction and polynomial in the shaders: ~2 ulp)."""
    be = x.backend
    return _unary("atan", x, bwd=lambda xd, y, g: be.binary(
        "div", g, be.unary("affine", be.binary("mul", xd, xd), 1.0, 1.0)),
        dvjp=lambda x_, g: div(g, affine(mul(x_, x_), 1.0, 1.0)))


def asin(x):
    """arcsin x (NaN outside [-1, 1]), as atan(x / sqrt(1 - x^2))."""
    return _unary("asin", x, bwd=lambda xd, y, g: _inv_sqrt_bwd(x.backend, xd, g, 1, 1.0),
                  dvjp=lambda x_, g: mul(g, pow(affine(mul(x_, x_), -1.0, 1.0), -0.5)))


def acos(x):
    """arccos x (NaN outside [-1, 1]), as 2 atan(sqrt((1 - x) / (1 + x)))."""
    return _unary("acos", x, bwd=lambda xd, y, g: _inv_sqrt_bwd(x.backend, xd, g, -1, 1.0),
                  dvjp=lambda x_, g: neg(mul(g, pow(affine(mul(x_, x_), -1.0, 1.0), -0.5))))


def asinh(x):
    """arsinh x, accurate near 0 (log1p) and for large |x| (log 2|x|)."""
    return _unary("asinh", x, bwd=lambda xd, y, g: _inv_sqrt_bwd(x.backend, xd, g, 0, 1.0),
                  dvjp=lambda x_, g: mul(g, pow(affine(mul(x_, x_), 1.0, 1.0), -0.5)))


def acosh(x):
    """arcosh x (NaN below 1)."""
    return _unary("acosh", x, bwd=lambda xd, y, g: _inv_sqrt_bwd(x.backend, xd, g, 0, -1.0),
                  dvjp=lambda x_, g: mul(g, pow(affine(mul(x_, x_), 1.0, -1.0), -0.5)))


def atanh(x):
    """artanh x (+-inf at +-1, NaN beyond), as log1p(2x / (1 - x)) / 2."""
    be = x.backend
    return _unary("atanh", x, bwd=lambda xd, y, g: be.binary(
        "div", g, be.unary("affine", be.binary("mul", xd, xd), -1.0, 1.0)),
        dvjp=lambda x_, g: div(g, affine(mul(x_, x_), -1.0, 1.0)))


def atan2(y, x):
    """The angle of the point (x, y): arctan(y / x) in the right quadrant, in
    [-pi, pi] (C's atan2: signed zeros and infinities included); broadcast."""
    y, x = _pair("atan2", y, x)
    return _binary("atan2", y, x)


def hypot(a, b):
    """sqrt(a^2 + b^2) without overflow on the way; broadcast."""
    a, b = _pair("hypot", a, b)
    return _binary("hypot", a, b)


arctan, arcsin, arccos, arcsinh, arccosh, arctanh, arctan2 = atan, asin, acos, asinh, acosh, atanh, atan2  # (PyTorch's
# NumPy-style aliases)


def lgamma(x):
    """log |Gamma(x)| (+inf at the poles 0, -1, ...); its gradient is digamma.  The
    shaders' Stirling series after the recurrence: relative 1e-7, absolute ~1e-6
    beside the roots at 1 and 2 (exact at them)."""
    be = x.backend
    return _unary("lgamma", x, bwd=lambda xd, y, g: be.binary("mul", g, be.unary("digamma", xd)),
                  dvjp=lambda x_, g: mul(g, digamma(x_)))


def digamma(x):
    """psi(x) = d/dx log Gamma(x) (-inf at 0, NaN at the negative integers, as
    PyTorch's); its gradient is trigamma."""
    be = x.backend
    def dvjp(x_, g):
        from .extras import polygamma
        return mul(g, polygamma(1, x_))
    return _unary("digamma", x, bwd=lambda xd, y, g: be.binary("mul", g, be.unary("trigamma", xd)), dvjp=dvjp)


def erfc(x):
    """1 - erf(x) with relative accuracy in the tails (fractional error below
    1.2e-7 in the shaders)."""
    be = x.backend
    return _unary("erfc", x, bwd=lambda xd, y, g: be.unary("neg", be.binary("erf_bwd", xd, g)),
                  dvjp=lambda x_, g: neg(_erf_grad(x_, g)))


def erfinv(x):
    """The inverse of erf on (-1, 1) (+-inf at +-1, NaN beyond): Giles'
    approximation and a Newton step; gradient sqrt(pi) / 2 exp(erfinv(x)^2)."""
    be = x.backend
    def dvjp(x_, g):
        y_ = erfinv(x_)
        return mul(g, affine(exp(mul(y_, y_)), math.sqrt(math.pi) / 2.0))
    return _unary("erfinv", x, bwd=lambda xd, y, g: be.binary(
        "mul", g, be.unary("affine", be.unary("exp", be.binary("mul", y, y)), math.sqrt(math.pi) / 2.0)), dvjp=dvjp)


def sinh(x):
    """(exp(x) - exp(-x)) / 2, as expm1s (accurate near 0)."""
    check_tensor("sinh", x)
    return affine(sub(expm1(x), expm1(neg(x))), 0.5)


def cosh(x):
    """(exp(x) + exp(-x)) / 2."""
    check_tensor("cosh", x)
    return affine(add(exp(x), exp(neg(x))), 0.5)


def exp2(x):
    """2 ** x."""
    check_tensor("exp2", x)
    return exp(affine(x, math.log(2.0)))


def log2(x):
    """log x / log 2."""
    check_tensor("log2", x)
    return affine(log(x), 1.0 / math.log(2.0))


def log10(x):
    """log x / log 10."""
    check_tensor("log10", x)
    return affine(log(x), 1.0 / math.log(10.0))


def reciprocal(x):
    """1 / x."""
    check_tensor("reciprocal", x)
    return pow(x, -1.0)


def rsqrt(x):
    """1 / sqrt(x)."""
    check_tensor("rsqrt", x)
    return pow(x, -0.5)


def square(x):
    """x * x."""
    check_tensor("square", x)
    return pow(x, 2.0)


def sign(x):
    """-1, 0 or 1 by the sign of x (NaN stays NaN, as NumPy's; PyTorch gives 0);
    zero gradient."""
    return _stepwise("sign", x)


def floor(x):
    """The largest integer <= x; zero gradient."""
    return _stepwise("floor", x)


def ceil(x):
    """The smallest integer >= x; zero gradient."""
    return _stepwise("ceil", x)


def trunc(x):
    """x rounded toward zero; zero gradient."""
    return _stepwise("trunc", x)


def frac(x):
    """x - trunc(x) (the sign of x kept, as PyTorch's); gradient 1."""
    check_tensor("frac", x)
    return sub(x, trunc(x))


def round(x, decimals=0):
    """x rounded to the nearest integer, halves to even (NumPy's and PyTorch's), or
    to ``decimals`` decimal places (x * 10**d rounded, over 10**d); zero gradient."""
    check_tensor("round", x)
    if not isinstance(decimals, numbers.Integral) or isinstance(decimals, bool):
        raise TypeError(f"round: decimals must be an int, got {type(decimals).__name__}")
    if decimals == 0:
        return _stepwise("round", x)
    s = 10.0 ** int(decimals)
    return affine(_stepwise("round", affine(x, s)), 1.0 / s)


def pow(x, exponent):
    """x ** exponent: a number exponent in one shader op (NumPy's rules for negative
    x); a tensor exponent (or a number base: ``2 ** t``) composed as
    exp(e log|x|) with the sign of an odd integer power, NaN for a negative base
    and a fractional power, 0 ** 0 = 1 -- broadcast, differentiable in both."""
    if isinstance(x, Tensor) and _scalar(exponent):
        e = float(exponent)
        if e == 0.0:  # (x ** 0 is 1 everywhere: gradient 0, not 0 * 0 ** -1 = NaN at 0, as PyTorch's)
            return _unary("pow", x, e, bwd=lambda xd, y, g: x.backend.full(tuple(g.shape), 0.0, x.dtype),
                          dvjp=lambda x_, g: affine(g, 0.0))
        return _unary("pow", x, e, bwd=lambda xd, y, g: x.backend.binary("pow_bwd", xd, g, e),
                      dvjp=lambda x_, g: mul(g, affine(pow(x_, e - 1.0), e)) if e != 0.0 else affine(g, 0.0))
    if _scalar(x) and x > 0 and isinstance(exponent, Tensor):
        return exp(mul(exponent, math.log(float(x))))
    x, e = _pair("pow", x, exponent)
    ax = abs(x)
    zero = eq(ax.detach(), 0.0)
    ed = e.detach()
    mag = exp(mul(e, log(where(zero, 1.0, ax))))
    mag = where(zero, where(eq(ed, 0.0), 1.0, where(gt(ed, 0.0), 0.0, float("inf"))), mag)
    odd = eq(sub(ed, mul(floor(mul(ed, 0.5)), 2.0)), 1.0)
    return where(lt(x.detach(), 0.0), where(eq(ed, floor(ed)), where(odd, neg(mag), mag), float("nan")), mag)


def clamp(x, min=None, max=None):
    """x limited to [min, max] (numbers: one shader op, the gradient where inside;
    tensors: broadcast, the gradient x's where min <= x <= max -- at a bound too, as
    PyTorch's clamp, not shared as maximum's tie -- else the bound's)."""
    if min is None and max is None:
        raise ValueError("clamp: give at least one of min and max")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = x if min is None else where(lt(x.detach(), min.detach() if isinstance(min, Tensor) else min), min, x)
        if max is None:
            return out
        return where(gt(out.detach(), max.detach() if isinstance(max, Tensor) else max), max, out)
    lo = -float("inf") if min is None else float(min)
    hi = float("inf") if max is None else float(max)
    if lo > hi:
        raise ValueError(f"clamp: min ({lo}) is greater than max ({hi})")
    return _unary("clamp", x, lo, hi, bwd=lambda xd, y, g: x.backend.binary("clamp_bwd", xd, g, lo, hi),
                  dvjp=lambda x_, g: mul(g, mul(ge(x_.detach(), lo), le(x_.detach(), hi))))


def _relu_grad(x, g):
    return mul(g, gt(x.detach(), 0.0))


def relu(x):
    return _unary("relu", x, bwd=lambda xd, y, g: x.backend.binary("relu_bwd", y, g), dvjp=_relu_grad)


def abs(x):
    """|x| as relu(x) + relu(-x): exact, NaN kept, and the gradient sign(x) with 0
    at 0 (as PyTorch's)."""
    check_tensor("abs", x)
    return add(relu(x), relu(neg(x)))


def leaky_relu(x, negative_slope=0.01):
    """x where x > 0, else negative_slope * x: relu(x) - slope * relu(-x) (exact, NaN
    kept)."""
    check_tensor("leaky_relu", x)
    return where(gt(x, 0.0), x, affine(x, float(negative_slope)))  # (at 0: the slope's gradient, PyTorch's)


def silu(x):
    """x * sigmoid(x) (swish)."""
    check_tensor("silu", x)
    return mul(x, sigmoid(x))


def elu(x, alpha=1.0):
    """x where x > 0, else alpha * expm1(x) (accurate near 0); the expm1 taken of
    min(x, 0), so a large x neither overflows nor sends NaN into the gradient."""
    check_tensor("elu", x)
    # (clamp, not minimum: at 0 the gradient is alpha, PyTorch's -- minimum's tie halved it, wrong for alpha 1)
    return where(gt(x, 0.0), x, affine(expm1(clamp(x, None, 0.0)), float(alpha)))


def _softplus(x):
    """log(1 + exp(x)), as max(x, 0) + log(1 + exp(-|x|)) (no overflow), its gradient
    sigmoid(x) of its own: the composition's kinks at 0 cancel in the value but
    not in their subgradients (0 there: softplus, logsigmoid and cross-entropy
    with logits had no gradient at a zero logit -- a zero-initialised head)."""
    be, xd = x.backend, x.detach()
    y = add(relu(xd), log1p(exp(neg(abs(xd)))))
    return make(y.handle, be, (x,), lambda g: (be.binary("mul", g, be.unary("sigmoid", x.handle)),),
                vjp=lambda g: (mul(g, sigmoid(x)),))


def softplus(x, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, overflow-free; x itself where beta x > threshold
    (PyTorch's; ``threshold=None``: never)."""
    check_tensor("softplus", x)
    b = float(beta)
    if b <= 0:
        raise ValueError(f"softplus: beta must be > 0, got {beta}")
    bx = x if b == 1.0 else affine(x, b)
    y = _softplus(bx) if b == 1.0 else affine(_softplus(bx), 1.0 / b)
    return y if threshold is None else where(gt(bx, float(threshold)), x, y)


def hardtanh(x, min_val=-1.0, max_val=1.0):
    """x clamped into [min_val, max_val] (PyTorch's hardtanh; relu6 is [0, 6])."""
    check_tensor("hardtanh", x)
    lo, hi = float(min_val), float(max_val)
    if not lo < hi:
        raise ValueError(f"hardtanh: min_val {min_val} must be below max_val {max_val}")
    # (the gradient strictly inside, PyTorch's: clamp's reaches its bounds)
    return where(mul(gt(x, lo), lt(x, hi)), x, clamp(x.detach(), lo, hi))


def relu6(x):
    """min(max(x, 0), 6)."""
    return hardtanh(x, 0.0, 6.0)


def hardsigmoid(x):
    """clamp(x / 6 + 1/2, 0, 1): 0 below -3, 1 above 3 (PyTorch's)."""
    check_tensor("hardsigmoid", x)
    inside = lt(abs(x.detach()), 3.0)  # (the gradient strictly inside (-3, 3), PyTorch's)
    return add(mul(affine(x, 1.0 / 6.0, 0.5), inside), ge(x.detach(), 3.0))


def hardswish(x):
    """x * hardsigmoid(x) (PyTorch's, MobileNetV3's)."""
    return mul(x, hardsigmoid(x))


def mish(x):
    """x * tanh(softplus(x))."""
    check_tensor("mish", x)
    return mul(x, tanh(_softplus(x)))


def logsigmoid(x):
    """log(sigmoid(x)) = -softplus(-x) (no overflow either way)."""
    check_tensor("logsigmoid", x)
    return neg(_softplus(neg(x)))


def softsign(x):
    """x / (1 + |x|)."""
    check_tensor("softsign", x)
    return div(x, affine(abs(x), 1.0, 1.0))


def tanhshrink(x):
    """x - tanh(x)."""
    check_tensor("tanhshrink", x)
    return sub(x, tanh(x))


def _lambd(op, lambd):
    if not float(lambd) >= 0.0:
        raise ValueError(f"{op}: lambd must be at least 0, got {lambd}")
    return float(lambd)


def softshrink(x, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, else 0 (PyTorch's)."""
    check_tensor("softshrink", x)
    lam = _lambd("softshrink", lambd)
    return sub(relu(affine(x, 1.0, -lam)), relu(affine(x, -1.0, -lam)))


def hardshrink(x, lambd=0.5):
    """x where |x| > lambd, else 0 (PyTorch's)."""
    check_tensor("hardshrink", x)
    lam = _lambd("hardshrink", lambd)
    return where(add(gt(x, lam), lt(x, -lam)), x, 0.0)


def threshold(x, threshold, value):
    """x where x > threshold, else ``value`` (PyTorch's F.threshold)."""
    check_tensor("threshold", x)
    return where(gt(x, float(threshold)), x, float(value))


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def selu(x):
    """scale * elu(x, alpha) with PyTorch's (self-normalising) constants."""
    return affine(elu(x, _SELU_ALPHA), _SELU_SCALE)


def celu(x, alpha=1.0):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) (PyTorch's)."""
    check_tensor("celu", x)
    if float(alpha) == 0.0:
        raise ValueError("celu: alpha must not be 0")
    a = float(alpha)
    return where(gt(x, 0.0), x, affine(expm1(affine(clamp(x, None, 0.0), 1.0 / a)), a))


def prelu(x, weight):
    """max(0, x) + weight * min(0, x), weight [1] (shared) or [C], one slope per
    channel (axis 1 of [N, C, ...]; an input of fewer than 2 axes has one channel),
    as PyTorch's prelu."""
    check_tensor("prelu", x)
    check_tensor("prelu", weight)
    C = x.shape[1] if x.ndim >= 2 else 1
    if weight.ndim != 1 or weight.shape[0] not in (1, C):
        raise ValueError(f"prelu: weight must have shape [1] or [{C}] (the channels of input "
                         f"{list(x.shape)}), got {list(weight.shape)}")
    w = weight.reshape((weight.shape[0],) + (1,) * (x.ndim - 2)) if x.ndim >= 2 else weight
    return where(gt(x, 0.0), x, mul(w, x))  # (at 0: the weight's slope, PyTorch's)


def _sigmoid_grad(x, g):
    s_ = sigmoid(x)
    return mul(g, mul(s_, affine(s_, -1.0, 1.0)))


def _tanh_grad(x, g):
    t_ = tanh(x)
    return mul(g, affine(mul(t_, t_), -1.0, 1.0))


def sigmoid(x):
    return _unary("sigmoid", x, bwd=lambda xd, y, g: x.backend.binary("sigmoid_bwd", y, g), dvjp=_sigmoid_grad)


def tanh(x):
    return _unary("tanh", x, bwd=lambda xd, y, g: x.backend.binary("tanh_bwd", y, g), dvjp=_tanh_grad)


_GELU_K = math.sqrt(2.0 / math.pi)


def _gelu_grad(x, g, approximate):
    """g * d gelu / dx in recorded ops: Phi(x) + x phi(x), or the tanh form's derivative."""
    if approximate == "none":
        cdf = affine(erf(affine(x, 1.0 / math.sqrt(2.0))), 0.5, 0.5)
        pdf = affine(exp(affine(mul(x, x), -0.5)), 1.0 / math.sqrt(2.0 * math.pi))
        return mul(g, add(cdf, mul(x, pdf)))
    x2 = mul(x, x)
    t = tanh(affine(add(x, affine(mul(x2, x), 0.044715)), _GELU_K))
    dt = mul(affine(mul(t, t), -1.0, 1.0), affine(x2, 3 * 0.044715 * _GELU_K, _GELU_K))
    return mul(g, add(affine(t, 0.5, 0.5), affine(mul(x, dt), 0.5)))


def gelu(x, approximate="none"):
    """GELU: exact ``x*Phi(x)`` (approximate="none") or the tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    op = "gelu" if approximate == "none" else "gelu_tanh"
    return _unary(op, x, bwd=lambda xd, y, g: x.backend.binary(op + "_bwd", xd, g), name="gelu",
                  dvjp=lambda x_, g: _gelu_grad(x_, g, approximate))


# -- binary with broadcasting ---------------------------------------------
def _binary(op, a, b):
    a, b = promote(op, a, b)
    be = a.backend
    broadcast_shape(op, a.shape, b.shape)  # a clear error before the backend sees it
    sa, sb = a.shape, b.shape
    ad, bd = a.handle, b.handle
    out = be.binary(op, ad, bd)

    def backward(g):
        if op == "add":
            ga, gb = g, g
        elif op == "sub":
            ga, gb = g, be.unary("neg", g)
        elif op == "mul":
            ga = be.binary("mul", g, bd) if a.requires_grad else None
            gb = be.binary("mul", g, ad) if b.requires_grad else None
        elif op == "div":  # d/da = g/b, d/db = -g*out/b
            ga = be.binary("div", g, bd) if a.requires_grad else None
            gb = be.unary("neg", be.binary("div", be.binary("mul", g, out), bd)) \
                if b.requires_grad else None
        elif op == "atan2":  # d/dy = g x / h^2, d/dx = -g y / h^2 (h = hypot(y, x)), as (g / h) (x / h):
            h = be.binary("hypot", ad, bd)  # no h^2 to overflow or underflow in f16
            inf = be.full(tuple(h.shape), float("inf"), a.dtype)
            h = be.select(be.binary("eq", h, be.full(tuple(h.shape), 0.0, a.dtype)), inf, h)  # (0 at (0, 0), as
            q = be.binary("div", g, h)  # PyTorch's)
            ga = be.binary("mul", q, be.binary("div", bd, h)) if a.requires_grad else None
            gb = be.unary("neg", be.binary("mul", q, be.binary("div", ad, h))) if b.requires_grad else None
        elif op == "hypot":  # d/da = g (a / h), d/db = g (b / h): the ratios at most 1
            ga = be.binary("mul", g, be.binary("div", ad, out)) if a.requires_grad else None
            gb = be.binary("mul", g, be.binary("div", bd, out)) if b.requires_grad else None
        else:  # maximum / minimum: g to the operand chosen, halved on ties (as PyTorch)
            first = be.binary("gt", ad, bd) if op == "maximum" else be.binary("gt", bd, ad)
            half = be.unary("affine", be.binary("eq", ad, bd), 0.5, 0.0)
            ga = be.binary("mul", g, be.binary("add", first, half))
            gb = be.binary("sub", g, ga) if b.requires_grad else None
        return (None if ga is None else unbroadcast(be, ga, sa),
                None if gb is None else unbroadcast(be, gb, sb))

    return make(out, be, (a, b), backward, vjp=lambda g: _binary_vjp(op, a, b, g))


def _sum_to(g, shape):
    """g summed back to ``shape`` (the inverse of a broadcast), recorded."""
    if tuple(g.shape) == tuple(shape):
        return g
    from .shape import reshape, sum as sum_
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1)
    return reshape(sum_(g, axes) if axes else g, tuple(shape))


def _binary_vjp(op, a, b, g):
    """The gradients of a binary op in recorded ops (create_graph)."""
    if op == "add":
        ga, gb = g, g
    elif op == "sub":
        ga, gb = g, neg(g)
    elif op == "mul":
        ga, gb = mul(g, b), mul(g, a)
    elif op == "div":
        ga = div(g, b)
        gb = neg(div(mul(ga, a), b))
    elif op in ("maximum", "minimum"):
        ad, bd = a.detach(), b.detach()
        first = gt(ad, bd) if op == "maximum" else gt(bd, ad)
        w = add(first, affine(eq(ad, bd), 0.5))
        ga = mul(g, w)
        gb = sub(g, ga)
    elif op == "hypot":
        h = hypot(a, b)
        ga, gb = mul(g, div(a, h)), mul(g, div(b, h))
    else:  # atan2(y = a, x = b)
        h2 = add(mul(a, a), mul(b, b))
        h2 = where(eq(h2.detach(), 0.0), float("inf"), h2)
        ga, gb = mul(g, div(b, h2)), neg(mul(g, div(a, h2)))
    return _sum_to(ga, a.shape), _sum_to(gb, b.shape)


def add(a, b, *, alpha=1):
    """a + b (``alpha``: PyTorch's a + alpha * b)."""
    if alpha != 1:
        b = b * alpha
    if _scalar(b) and isinstance(a, Tensor):
        return affine(a, 1.0, b)
    if _scalar(a) and isinstance(b, Tensor):
        return affine(b, 1.0, a)
    a, b = _pair("add", a, b)
    return _binary("add", a, b)


def sub(a, b, *, alpha=1):
    """a - b (``alpha``: PyTorch's a - alpha * b)."""
    if alpha != 1:
        b = b * alpha
    if _scalar(b) and isinstance(a, Tensor):
        return affine(a, 1.0, -b)
    if _scalar(a) and isinstance(b, Tensor):
        return affine(b, -1.0, a)
    a, b = _pair("sub", a, b)
    return _binary("sub", a, b)


def mul(a, b):
    if _scalar(b) and isinstance(a, Tensor):
        return affine(a, b)
    if _scalar(a) and isinstance(b, Tensor):
        return affine(b, a)
    a, b = _pair("mul", a, b)
    return _binary("mul", a, b)


def div(a, b, rounding_mode=None):
    """a / b; PyTorch's ``rounding_mode`` "trunc" / "floor": the quotient rounded (``divide``)."""
    if rounding_mode is not None:
        from .compat import divide
        return divide(a, b, rounding_mode=rounding_mode)
    if _scalar(b) and isinstance(a, Tensor):
        return affine(a, 1.0 / b)
    if _scalar(a) and isinstance(b, Tensor):
        return affine(pow(b, -1.0), a)
    a, b = _pair("div", a, b)
    return _binary("div", a, b)


@int_as_f32(at=(0, 1))
def outer(a, b):
    """The outer product of two vectors: [n] x [m] -> [n, m] (int32 ones: int32)."""
    check_tensor("outer", a)
    check_tensor("outer", b)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"outer: expected two vectors, got shapes {list(a.shape)} and {list(b.shape)}")
    return mul(a.reshape((a.shape[0], 1)), b)


def isnan(x):
    """1.0 where x is NaN, else 0.0 (in x's float dtype; not differentiable)."""
    check_tensor("isnan", x)
    return Tensor(x.backend.unary("affine", x.backend.binary("eq", x.handle, x.handle), -1.0, 1.0), x.backend)


def isinf(x):
    """1.0 where x is +-inf, else 0.0 (not differentiable)."""
    check_tensor("isinf", x)
    return eq(abs(x).detach(), float("inf"))


def isfinite(x):
    """1.0 where x is neither NaN nor infinite, else 0.0 (not differentiable)."""
    check_tensor("isfinite", x)
    return Tensor(x.backend.binary("eq", x.handle, x.handle), x.backend) - isinf(x)


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """x with NaN, +inf and -inf replaced (by default 0 and the dtype's largest and
    smallest finite values, as PyTorch's); the gradient passes where x is kept."""
    check_tensor("nan_to_num", x)
    big = float(np.finfo(np.float16 if x.dtype == "f16" else np.float32 if x.dtype == "f32" else np.float64).max)
    y = where(isnan(x), float(nan), x)
    y = where(eq(x.detach(), float("inf")), big if posinf is None else float(posinf), y)
    return where(eq(x.detach(), -float("inf")), -big if neginf is None else float(neginf), y)


_UNSET = object()


def where(cond, a=_UNSET, b=_UNSET):
    """a where ``cond`` is nonzero (NaN counts; a comparison's 1.0 / 0.0, or int32),
    else b, all three broadcast (NumPy rules); a and b may be Python numbers.  An
    exact select (inf or NaN in the branch not taken never leaks in); the gradient
    goes to the operand chosen, none to cond.  ``where(cond)`` alone is PyTorch's
    nonzero(cond, as_tuple=True)."""
    if a is _UNSET and b is _UNSET:
        from .indexing import nonzero
        return nonzero(cond, as_tuple=True)
    if a is _UNSET or b is _UNSET:
        raise TypeError("where: give both a and b (or neither: the indices of cond's nonzeros)")
    if not isinstance(cond, Tensor):
        raise TypeError(f"where: cond must be a vkgrad Tensor, got {type(cond).__name__}")
    cd = cond if cond.dtype in FLOAT_DTYPES else to(cond, dtype="f32")
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = as_tensor("where", a, cd)
    a, b = _pair("where", a, b)
    a, b = promote("where", a, b)
    same_device("where", cond, a)
    be, dt = a.backend, a.dtype
    shape = broadcast_shape("where", broadcast_shape("where", cond.shape, a.shape), b.shape)
    swap = cd.dtype != dt
    if swap:  # cond in another dtype: its "is zero" mask (exactly 0 / 1, NaN 0) in dt, a and b swapped
        c = be.cast(be.binary("eq", cd.handle, be.full((), 0.0, cd.dtype)), dt)
    else:
        c = cd.handle
    full = lambda h: h if tuple(h.shape) == tuple(shape) else be.broadcast_to(h, shape)  # noqa: E731
    c, ad, bd = full(c), full(a.handle), full(b.handle)
    first, second = (bd, ad) if swap else (ad, bd)
    out = be.select(c, first, second)
    sa, sb = a.shape, b.shape

    def backward(g):
        z = be.full(tuple(shape), 0.0, dt)
        ga, gb = (be.select(c, z, g), be.select(c, g, z)) if swap else (be.select(c, g, z), be.select(c, z, g))
        return unbroadcast(be, ga, sa), unbroadcast(be, gb, sb)

    return make(out, be, (a, b), backward, vjp=lambda g: (_sum_to(where(cond, g, 0.0), sa),
                                                          _sum_to(where(cond, 0.0, g), sb)))


def maximum(a, b):
    """Elementwise maximum, broadcast (NumPy rules); NaN from either operand
    propagates; the gradient goes to the larger operand, halved on ties."""
    a, b = _pair("maximum", a, b)
    return _binary("maximum", a, b)


def minimum(a, b):
    """Elementwise minimum (as ``maximum``)."""
    a, b = _pair("minimum", a, b)
    return _binary("minimum", a, b)


def _compare(op, a, b, prim, swap=False):
    """A comparison as 1.0 / 0.0 in the operands' float dtype (int32 operands
    compared as f32: exact below 2**24), broadcast; not differentiable."""
    a, b = _pair(op, a, b)
    a, b = (t if t.dtype in FLOAT_DTYPES else to(t, dtype="f32") for t in (a, b))
    a, b = promote(op, a, b)
    broadcast_shape(op, a.shape, b.shape)
    a, b = (b, a) if swap else (a, b)
    return Tensor(a.backend.binary(prim, a.handle, b.handle), a.backend)


def gt(a, b):
    """1.0 where a > b, else 0.0 (NaN compares false), as ``eq``."""
    return _compare("gt", a, b, "gt")


def lt(a, b):
    """1.0 where a < b, else 0.0 (NaN compares false), as ``eq``."""
    return _compare("lt", a, b, "gt", swap=True)


def ge(a, b):
    """1.0 where a >= b, else 0.0 (NaN compares false), as ``eq``."""
    return _compare("ge", a, b, "ge")


def le(a, b):
    """1.0 where a <= b, else 0.0 (NaN compares false), as ``eq``."""
    return _compare("le", a, b, "ge", swap=True)


def eq(a, b):
    """1.0 where a == b, else 0.0, broadcast (NumPy rules), in the operands' float
    dtype (int32 operands compared as f32: exact below 2**24); not differentiable.
    Accuracy on the device: ``vg.mean(vg.eq(vg.argmax(logits, 1), labels))``."""
    return _compare("eq", a, b, "eq")


def _pair(op, a, b):
    if isinstance(a, Tensor):
        return a, as_tensor(op, b, a)
    if isinstance(b, Tensor):
        return as_tensor(op, a, b), b
    raise TypeError(f"{op}: expected at least one vkgrad Tensor, got {type(a).__name__} "
                    f"and {type(b).__name__}")


# -- device and dtype moves -----------------------------------------------
def to(x, device=None, dtype=None):
    """Copy to another device and/or dtype; gradients flow back for float casts."""
    dtype = canonical_dtype(dtype) or x.dtype
    src_be = x.backend
    dst_be = src_be if device is None else get_backend(normalize_device(device))
    if dst_be is src_be and dtype == x.dtype:
        return x
    src_dtype = x.dtype
    h = x.handle
    if dst_be is not src_be:
        h = dst_be.from_numpy(src_be.to_numpy(h), dtype)
    elif dtype != src_dtype:
        h = src_be.cast(h, dtype)

    def backward(g):
        if dst_be is not src_be:
            return (src_be.from_numpy(dst_be.to_numpy(g), src_dtype),)
        return (src_be.cast(g, src_dtype),)

    if dtype not in ("f16", "f32", "f64") or src_dtype not in ("f16", "f32", "f64"):
        return Tensor(h, dst_be)
    return make(h, dst_be, (x,), backward, vjp=lambda g: (to(g, device=x.device, dtype=src_dtype),))


def clone(x):
    """A copy in new storage, same device and dtype; the gradient passes through
    unchanged (as PyTorch's clone)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"clone: expected a vkgrad Tensor, got {type(x).__name__}")
    be = x.backend
    h = be.cast(x.handle, x.dtype)  # (a cast to its own dtype: a copy on every backend)
    if x.dtype not in FLOAT_DTYPES:
        return Tensor(h, be)
    return make(h, be, (x,), lambda g: (g,), vjp=lambda g: (g,))


@int_as_f32
def masked_fill(x, mask, value):
    """x with ``value`` where ``mask`` is true (nonzero): a boolean NumPy array or a
    tensor broadcast to x's shape (PyTorch's masked_fill); the gradient goes to
    x's unmasked elements."""
    check_tensor("masked_fill", x)
    if isinstance(mask, Tensor):
        same_device("masked_fill", x, mask)
        m = mask
    else:
        m = tensor(np.asarray(mask).astype(np.float32), device=x.device, dtype=x.dtype)
    if broadcast_shape("masked_fill", m.shape, x.shape) != tuple(x.shape):
        raise ValueError(f"masked_fill: mask of shape {list(m.shape)} does not broadcast to the input's "
                         f"shape {list(x.shape)}")
    return where(m, float(value), x)
