"""More of PyTorch's functions, composed of the other ops (differentiable where
PyTorch's are): sign bits and NaN-ignoring extremes, Bessel and polygamma
functions, diagonal embeddings and scatters into slices, finite-difference
gradients, combinations, histograms, the mode, sampling (multinomial,
bernoulli, poisson, binomial), window functions and dtype queries.  Integer
number theory (gcd, lcm), frexp and the sampling draw on the host."""
from __future__ import annotations

import builtins
import itertools
import math
import numbers
from collections import namedtuple

import numpy as np

from ..tensor import Tensor, canonical_dtype, tensor
from ._core import as_tensor, check_tensor, int_as_f32
from .compat import movedim, vstack
from .einsum import einsum
from .elementwise import (abs as abs_, add, eq, exp, exp2, ge, gt, isnan, le, lt, mul, pow as pow_, sign, sqrt,
                          sub, to, trunc, where)
from .indexing import index_copy
from .shape import cat, diagonal, gather, getitem, norm, reshape, sum as sum_

_LN2 = math.log(2.0)


def _like(x, a, dtype=None):
    """A host array as a tensor on x's device (in x's float dtype by default)."""
    return tensor(np.asarray(a), dtype=dtype or x.dtype, device=x.device)


def _host_ints(op, *ts):
    """int32 tensors (or Python ints) as int64 host arrays."""
    arrays = []
    for t in ts:
        if isinstance(t, Tensor):
            if t.dtype != "i32":
                raise TypeError(f"{op}: expected int32 tensors, got {t.dtype}")
            arrays.append(t.numpy().astype(np.int64))
        elif isinstance(t, numbers.Integral) and not isinstance(t, bool):
            arrays.append(np.asarray(t, np.int64))
        else:
            raise TypeError(f"{op}: expected int32 tensors or ints, got {type(t).__name__}")
    return arrays


# -- signs and extremes ---------------------------------------------------------
def sgn(x):
    """sign(x) (PyTorch's sgn, for real tensors)."""
    return sign(x)


def signbit(x):
    """1.0 where x's sign bit is set (negative numbers, -0.0, -inf), else 0.0; not
    differentiable."""
    from .elementwise import atan2
    check_tensor("signbit", x)
    return lt(atan2(x.detach(), -1.0), 0.0)  # (C's atan2 keeps the sign of a zero: -pi for -0.0)


def copysign(a, b):
    """|a| with the sign (bit) of b; the gradient flows to a only."""
    check_tensor("copysign", a)
    b = as_tensor("copysign", b, a)
    return mul(abs_(a), where(signbit(b), -1.0, 1.0))


def fmax(a, b):
    """Elementwise maximum that ignores NaN (NaN only where both are)."""
    check_tensor("fmax", a)
    b = as_tensor("fmax", b, a)
    return where(isnan(a), b, where(isnan(b), a, where(ge(a, b), a, b)))  # (a tie's gradient to a, PyTorch's)


def fmin(a, b):
    """Elementwise minimum that ignores NaN (as ``fmax``)."""
    check_tensor("fmin", a)
    b = as_tensor("fmin", b, a)
    return where(isnan(a), b, where(isnan(b), a, where(le(a, b), a, b)))


def isposinf(x):
    """1.0 where x is +inf (not differentiable)."""
    check_tensor("isposinf", x)
    return eq(x.detach(), float("inf"))


def isneginf(x):
    """1.0 where x is -inf (not differentiable)."""
    check_tensor("isneginf", x)
    return eq(x.detach(), float("-inf"))


def isreal(x):
    """1.0 everywhere: vkgrad's tensors are real."""
    check_tensor("isreal", x)
    return _like(x, np.ones(x.shape), "f32" if x.dtype == "i32" else None)


# -- powers and logarithms -----------------------------------------------------------
def float_power(a, b):
    """a ** b (PyTorch computes it in float64; here in the operands' dtype, float64
    where they are)."""
    if isinstance(a, Tensor):
        return pow_(a, b)
    return pow_(as_tensor("float_power", a, b), b)


def logaddexp2(a, b):
    """log2(2**a + 2**b) without overflow."""
    from .compat import logaddexp
    check_tensor("logaddexp2", a)
    b = as_tensor("logaddexp2", b, a)
    return mul(logaddexp(mul(a, _LN2), mul(b, _LN2)), 1.0 / _LN2)


def ldexp(x, e):
    """x * 2**e."""
    check_tensor("ldexp", x)
    e = as_tensor("ldexp", e, x)
    return mul(x, exp2(e if e.dtype != "i32" else to(e, dtype=x.dtype)))


FrexpResult = namedtuple("frexp", "mantissa exponent")  # (PyTorch's torch.return_types)
HistogramResult = namedtuple("histogram", "hist bin_edges")


def frexp(x):
    """(mantissa, exponent): x = mantissa * 2**exponent with |mantissa| in [0.5, 1)
    (0 for 0), the exponent int32; computed on the host, not differentiable."""
    check_tensor("frexp", x)
    m, e = np.frexp(x.detach().numpy())
    return FrexpResult(_like(x, m), _like(x, e.astype(np.int32), "i32"))


def gcd(a, b):
    """The greatest common divisor of int32 tensors (broadcast; on the host)."""
    x, y = _host_ints("gcd", a, b)
    return _like(a, np.gcd(x, y).astype(np.int32), "i32")


def lcm(a, b):
    """The least common multiple of int32 tensors (broadcast; on the host)."""
    x, y = _host_ints("lcm", a, b)
    return _like(a, np.lcm(x, y).astype(np.int32), "i32")


def rsub(a, b, alpha=1):
    """b - alpha * a (PyTorch's reversed subtraction)."""
    check_tensor("rsub", a)
    return sub(b if isinstance(b, Tensor) else as_tensor("rsub", b, a), mul(a, alpha) if alpha != 1 else a)


# -- special functions ----------------------------------------------------------------
_I0_SMALL = (1.0, 3.5156229, 3.0899424, 1.2067492, 0.2659732, 0.0360768, 0.0045813)
_I0_LARGE = (0.39894228, 0.01328592, 0.00225319, -0.00157565, 0.00916281, -0.02057706, 0.02635537, -0.01647633,
             0.00392377)
_I1_SMALL = (0.5, 0.87890594, 0.51498869, 0.15084934, 0.02658733, 0.00301532, 0.00032411)
_I1_LARGE = (0.39894228, -0.03988024, -0.00362018, 0.00163801, -0.01031555, 0.02282967, -0.02895312, 0.01787654,
             -0.00420059)


def _poly(t, coefs):
    out = None
    for c in reversed(coefs):
        out = _like(t, np.full((), c)) if out is None else add(mul(out, t), c)
    return out


def _bessel(x, order, scaled):
    """I0 / I1 (exp(-|x|) I0 / I1 when ``scaled``) by Abramowitz & Stegun 9.8.1-4
    (relative error below 2e-7), branch-free: both forms, selected."""
    ax = abs_(x)
    small = lt(ax.detach(), 3.75)
    xs = where(small, x, 1.0)
    t = mul(xs, 1.0 / 3.75)
    t = mul(t, t)
    near = _poly(t, _I0_SMALL if order == 0 else _I1_SMALL)
    if order == 1:
        near = mul(near, xs)
    if scaled:
        near = mul(near, exp(-abs_(xs)))
    axl = where(small, 4.0, ax)
    far = mul(_poly(3.75 / axl, _I0_LARGE if order == 0 else _I1_LARGE), 1.0 / sqrt(axl))
    if not scaled:
        far = mul(far, exp(axl))
    if order == 1:
        far = mul(far, sign(x))
    return where(small, near, far)


def i0(x):
    """The modified Bessel function of the first kind, order 0; differentiable."""
    check_tensor("i0", x)
    return _bessel(x, 0, False)


def polygamma(n, x):
    """The n-th derivative of digamma: digamma for n = 0, else (-1)^(n+1) n!
    sum_k 1 / (x + k)^(n+1) by the recurrence up to x + M >= 12 (M from x's
    smallest value, read back) and the asymptotic series there; composed, so its
    gradient is polygamma(n + 1)."""
    from .elementwise import digamma
    check_tensor("polygamma", x)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"polygamma: n must be an int >= 0, got {n!r}")
    if n == 0:
        return digamma(x)
    lo = float(x.detach().numpy().min()) if x.size else 12.0
    shift = builtins.max(0, math.ceil(12.0 - lo)) if np.isfinite(lo) else 0
    fact = math.factorial(n)
    total = None
    for k in range(shift):  # psi(n)(x) = psi(n)(x + M) + (-1)^(n+1) n! sum_k (x + k)^-(n+1)
        term = pow_(add(x, float(k)), -(n + 1.0))
        total = term if total is None else add(total, term)
    z = add(x, float(shift))
    # (-1)^(n+1) [ (n-1)! / z^n + n! / (2 z^(n+1)) + sum_j B_2j (2j+n-1)! / ((2j)! z^(2j+n)) ]
    bern = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6)
    series = add(mul(pow_(z, -float(n)), float(math.factorial(n - 1))), mul(pow_(z, -(n + 1.0)), fact / 2.0))
    for j, b in enumerate(bern, 1):
        c = b * math.factorial(2 * j + n - 1) / math.factorial(2 * j)
        series = add(series, mul(pow_(z, -float(2 * j + n)), c))
    if total is not None:
        series = add(series, mul(total, float(fact)))
    return mul(series, 1.0 if n % 2 else -1.0)


def mvlgamma(x, p):
    """The log multivariate gamma function (special.multigammaln)."""
    from ..special import multigammaln
    return multigammaln(x, p)


# -- products and norms ------------------------------------------------------------
def dist(x, y, p=2.0):
    """||x - y||_p over all elements (broadcast)."""
    check_tensor("dist", x)
    return norm(sub(x, as_tensor("dist", y, x)), p)


def inner(a, b):
    """The sum over the last axes of a and b: shape a.shape[:-1] + b.shape[:-1]
    (a product with a number for 0-d operands)."""
    from .products import tensordot
    check_tensor("inner", a)
    b = as_tensor("inner", b, a)
    if a.ndim == 0 or b.ndim == 0:
        return mul(a, b)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"inner: the last axes of {list(a.shape)} and {list(b.shape)} must match")
    return tensordot(a, b, ([a.ndim - 1], [b.ndim - 1]))


def vdot(a, b):
    """The dot product of two vectors (real: vkgrad.dot)."""
    from .compat import dot
    return dot(a, b)


def renorm(x, p, dim, maxnorm):
    """Each sub-tensor along ``dim`` whose p-norm exceeds ``maxnorm`` scaled down to
    it (by maxnorm / (norm + 1e-7), PyTorch's)."""
    check_tensor("renorm", x)
    d = x._dim("renorm", dim)
    axes = tuple(i for i in range(x.ndim) if i != d)
    n = norm(x, float(p), axes, True) if axes else abs_(x)
    scale = where(gt(n, float(maxnorm)), mul(1.0 / add(n, 1e-7), float(maxnorm)), 1.0)
    return mul(x, scale)


# -- diagonals and scatters into parts ----------------------------------------------
def _diag_onehot(x, k, rows, cols, offset):
    """[k, rows, cols]: one at (i, i + offset) (i - offset, i below) for i < k."""
    e = np.zeros((k, rows, cols))
    for i in range(k):
        r, c = (i, i + offset) if offset >= 0 else (i - offset, i)
        e[i, r, c] = 1.0
    return _like(x, e)


def diag_embed(x, offset=0, dim1=-2, dim2=-1):
    """Square matrices whose ``offset`` diagonal holds x's last axis: shape x.shape[:-1]
    plus two axes of n + |offset| at dim1, dim2 (of the result)."""
    check_tensor("diag_embed", x)
    if x.ndim < 1:
        raise ValueError("diag_embed: expected at least one axis")
    k = x.shape[-1]
    n = k + builtins.abs(int(offset))
    out = einsum("...k,kij->...ij", x, _diag_onehot(x, k, n, n, int(offset)))
    nd = out.ndim
    d1, d2 = dim1 % nd, dim2 % nd
    if d1 == d2:
        raise ValueError(f"diag_embed: dim1 and dim2 must differ, got {dim1} and {dim2}")
    return movedim(out, (nd - 2, nd - 1), (d1, d2))


def diagflat(x, offset=0):
    """A square matrix with x's elements (flattened) on the ``offset`` diagonal."""
    check_tensor("diagflat", x)
    return diag_embed(reshape(x, (x.size,)), offset)


def diagonal_scatter(x, src, offset=0, dim1=0, dim2=1):
    """x with the diagonal ``diagonal(x, offset, dim1, dim2)`` replaced by src;
    gradients to both."""
    check_tensor("diagonal_scatter", x)
    d1, d2 = x._dim("diagonal_scatter", dim1), x._dim("diagonal_scatter", dim2)
    want = diagonal(x.detach(), offset, d1, d2).shape
    src = as_tensor("diagonal_scatter", src, x)
    if tuple(src.shape) != tuple(want):
        raise ValueError(f"diagonal_scatter: src has shape {list(src.shape)}, the diagonal {list(want)}")
    moved = movedim(x, (d1, d2), (-2, -1))
    rows, cols = moved.shape[-2:]
    e = _diag_onehot(x, want[-1], rows, cols, int(offset))
    placed = einsum("...k,kij->...ij", src, e)
    mask = sum_(e, 0)
    out = add(mul(moved, sub(1.0, mask)), placed)
    return movedim(out, (-2, -1), (d1, d2))


def slice_scatter(x, src, dim=0, start=None, end=None, step=1):
    """x with ``x[start:end:step]`` along ``dim`` replaced by src; gradients to both."""
    check_tensor("slice_scatter", x)
    d = x._dim("slice_scatter", dim)
    idx = np.arange(x.shape[d])[slice(start, end, step)]
    src = as_tensor("slice_scatter", src, x)
    want = x.shape[:d] + (len(idx),) + x.shape[d + 1:]
    if tuple(src.shape) != tuple(want):
        raise ValueError(f"slice_scatter: src has shape {list(src.shape)}, the slice {list(want)}")
    return index_copy(x, d, idx, src)


def select_scatter(x, src, dim, index):
    """x with ``select(x, dim, index)`` replaced by src; gradients to both."""
    check_tensor("select_scatter", x)
    d = x._dim("select_scatter", dim)
    i = int(index) + (x.shape[d] if int(index) < 0 else 0)
    if not 0 <= i < x.shape[d]:
        raise IndexError(f"select_scatter: index {index} out of range for axis {d} of length {x.shape[d]}")
    src = as_tensor("select_scatter", src, x)
    if tuple(src.shape) != x.shape[:d] + x.shape[d + 1:]:
        raise ValueError(f"select_scatter: src has shape {list(src.shape)}, expected "
                         f"{list(x.shape[:d] + x.shape[d + 1:])}")
    return index_copy(x, d, np.array([i]), reshape(src, x.shape[:d] + (1,) + x.shape[d + 1:]))


# -- differences, combinations, histograms, the mode ---------------------------------
def _axis_slice(x, d, sl):
    return getitem(x, (slice(None),) * d + (sl,))


def gradient(y, *, spacing=1.0, dim=None, edge_order=1):
    """PyTorch's torch.gradient: the derivative estimate along each axis in ``dim``
    (default all) -- central differences inside, one-sided at the edges
    (``edge_order`` 1 or 2); ``spacing`` a number, one per axis, or coordinates
    (1-d arrays, unequal steps allowed).  A tuple, one tensor per axis."""
    check_tensor("gradient", y)
    dims = list(range(y.ndim)) if dim is None else [y._dim("gradient", d) for d in
                                                    (dim if isinstance(dim, (list, tuple)) else [dim])]
    if edge_order not in (1, 2):
        raise ValueError(f"gradient: edge_order must be 1 or 2, got {edge_order}")
    sp = list(spacing) if isinstance(spacing, (list, tuple)) else [spacing] * len(dims)
    if len(sp) != len(dims):
        raise ValueError(f"gradient: {len(sp)} spacings for {len(dims)} axes")
    outs = []
    for d, s in zip(dims, sp):
        n = y.shape[d]
        if n < edge_order + 1:
            raise ValueError(f"gradient: axis {d} has {n} points, edge_order={edge_order} needs at least "
                             f"{edge_order + 1}")
        coords = np.asarray(s.numpy() if isinstance(s, Tensor) else s, dtype=np.float64)
        coords = np.arange(n) * float(coords) if coords.ndim == 0 else coords
        if coords.shape != (n,):
            raise ValueError(f"gradient: coordinates for axis {d} must have {n} values, got {coords.shape}")
        h = np.diff(coords)
        shape = [1] * y.ndim
        shape[d] = n - 2

        def col(a):
            return _like(y, np.asarray(a, dtype=np.float64).reshape(shape))
        hl, hr = h[:-1], h[1:]
        f0, f1, f2 = (_axis_slice(y, d, slice(a, n - 2 + a)) for a in range(3))
        inner_ = add(add(mul(f2, col(hl * hl / (hl * hr * (hl + hr)))), mul(f0, col(-hr * hr / (hl * hr * (hl + hr))))),
                     mul(f1, col((hr * hr - hl * hl) / (hl * hr * (hl + hr)))))
        first, last = (_axis_slice(y, d, slice(a, a + 1)) for a in (0, n - 1))
        second, before = (_axis_slice(y, d, slice(a, a + 1)) for a in (1, n - 2))
        if edge_order == 1:
            lo = mul(sub(second, first), 1.0 / h[0])
            hi = mul(sub(last, before), 1.0 / h[-1])
        else:  # second order one-sided (NumPy's, uniform or not)
            third, third_last = _axis_slice(y, d, slice(2, 3)), _axis_slice(y, d, slice(n - 3, n - 2))
            a0, a1 = h[0], h[1]
            lo = add(add(mul(first, -(2 * a0 + a1) / (a0 * (a0 + a1))), mul(second, (a0 + a1) / (a0 * a1))),
                     mul(third, -a0 / (a1 * (a0 + a1))))
            b1, b0 = h[-1], h[-2]
            hi = add(add(mul(third_last, b1 / (b0 * (b0 + b1))), mul(before, -(b0 + b1) / (b0 * b1))),
                     mul(last, (2 * b1 + b0) / (b1 * (b0 + b1))))
        outs.append(cat([lo, inner_, hi], d))
    return tuple(outs)


@int_as_f32
def combinations(x, r=2, with_replacement=False):
    """The r-element combinations of a vector's elements, as rows [C, r] (itertools'
    order; int32 ones too); gradients flow back to the elements."""
    from .shape import index_select
    check_tensor("combinations", x)
    if x.ndim != 1:
        raise ValueError(f"combinations: expected a vector, got shape {list(x.shape)}")
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    idx = np.array(list(pick(range(x.shape[0]), int(r))), dtype=np.int64).reshape(-1, int(r))
    if idx.size == 0:
        return _like(x, np.zeros((0, int(r))))
    return reshape(index_select(x, 0, idx.reshape(-1)), idx.shape)


def unravel_index(indices, shape):
    """The coordinates of flat indices in an array of ``shape``: a tuple of int32
    tensors (of indices' shape)."""
    arr = indices.numpy() if isinstance(indices, Tensor) else np.asarray(indices)
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    total = int(np.prod(shape))
    if np.any(arr < -total) or np.any(arr >= total):
        raise IndexError(f"unravel_index: indices out of range for shape {list(shape)}")
    coords = np.unravel_index(np.where(arr < 0, arr + total, arr).astype(np.int64), shape)
    dev = indices.device if isinstance(indices, Tensor) else None
    return tuple(tensor(c.astype(np.int32), dtype="i32", device=dev) for c in coords)


def histogram(x, bins=100, *, range=None, weight=None, density=False):
    """(hist, bin_edges) of x's elements (NumPy's histogram: ``bins`` a count or the
    edges, ``weight``, ``density``); on the host, not differentiable."""
    check_tensor("histogram", x)
    b = bins.numpy() if isinstance(bins, Tensor) else bins
    w = weight.numpy().astype(np.float64) if isinstance(weight, Tensor) else weight
    h, edges = np.histogram(x.detach().numpy().astype(np.float64).ravel(), b, range, density=density,
                            weights=None if w is None else np.ravel(w))
    return HistogramResult(_like(x, h), _like(x, edges))


def mode(x, dim=-1, keepdim=False):
    """(values, indices): the most frequent value along ``dim`` (the smallest among
    ties) and the last index where it occurs; the values' gradient goes there."""
    check_tensor("mode", x)
    d = x._dim("mode", dim) if x.ndim else 0
    a = np.moveaxis(x.detach().numpy(), d, -1) if x.ndim else x.detach().numpy().reshape(1)
    flat = a.reshape(-1, a.shape[-1])
    idx = np.zeros(flat.shape[0], np.int64)
    for i, row in enumerate(flat):
        vals, counts = np.unique(row, return_counts=True)
        v = vals[np.argmax(counts)]
        idx[i] = np.nonzero(row == v)[0][-1]
    ind = idx.reshape(a.shape[:-1])
    Mode = namedtuple("mode", "values indices")
    if x.ndim == 0:
        return Mode(x * 1.0, _like(x, np.zeros((), np.int32), "i32"))
    it = _like(x, np.expand_dims(ind, d).astype(np.int32), "i32")
    values = gather(x, d, it)
    if not keepdim:
        values = reshape(values, x.shape[:d] + x.shape[d + 1:])
        it = reshape(it, x.shape[:d] + x.shape[d + 1:])
    return Mode(values, it)


# -- sampling -------------------------------------------------------------------------
def _rng(generator=None):
    from ..random import rng
    return rng(generator)


def multinomial(probs, num_samples, replacement=False, *, generator=None):
    """Indices drawn from each row's (unnormalised, non-negative) weights: [n] or
    [rows, n] int32; without replacement, num_samples must not exceed the nonzero
    weights."""
    check_tensor("multinomial", probs)
    if probs.ndim not in (1, 2):
        raise ValueError(f"multinomial: expected a vector or matrix of weights, got shape {list(probs.shape)}")
    p = probs.detach().numpy().astype(np.float64).reshape(-1, probs.shape[-1])
    if np.any(p < 0) or not np.all(np.isfinite(p)) or np.any(p.sum(1) <= 0):
        raise ValueError("multinomial: weights must be finite, non-negative and not all zero in a row")
    n = int(num_samples)
    if not replacement and n > int((p > 0).sum(1).min()):
        raise ValueError(f"multinomial: {n} samples without replacement from rows with fewer nonzero weights")
    g = _rng(generator)
    out = np.stack([g.choice(p.shape[1], n, replace=bool(replacement), p=row / row.sum()) for row in p])
    out = out.reshape(probs.shape[:-1] + (n,)).astype(np.int32)
    return tensor(out, dtype="i32", device=probs.device)


def bernoulli(p, generator=None):
    """1.0 with probability p, else 0.0 (elementwise, on p's device, in its dtype;
    ``generator``: a vkgrad.Generator's draws, else vkgrad's generator)."""
    check_tensor("bernoulli", p)
    u = tensor(_rng(generator).random(p.shape), dtype=p.dtype, device=p.device)
    return lt(u, p.detach())


def poisson(rates, generator=None):
    """Poisson draws with the given rates (on the host, in the rates' dtype)."""
    check_tensor("poisson", rates)
    return _like(rates, _rng(generator).poisson(rates.detach().numpy().astype(np.float64)))


def binomial(count, prob, generator=None):
    """Binomial draws: successes in ``count`` trials of probability ``prob`` (on the host)."""
    check_tensor("binomial", count)
    prob = as_tensor("binomial", prob, count)
    n = np.rint(count.detach().numpy().astype(np.float64)).astype(np.int64)
    return _like(count, _rng(generator).binomial(n, prob.detach().numpy().astype(np.float64)))


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, device=None):
    """PyTorch's ``normal``: draws from N(mean, std^2), mean and std tensors (broadcast)
    or numbers (then ``size`` gives the shape); on the host from vkgrad's generator or
    ``generator``, on the tensors' device (``device``, else the default) -- not
    differentiable (``distributions.Normal(mean, std).rsample()`` is)."""
    ts = [t for t in (mean, std) if isinstance(t, Tensor)]
    if ts:
        if size is not None:
            raise ValueError("normal: size goes with a number mean and std, not tensors")
        m, sd = (t.detach().numpy().astype(np.float64) if isinstance(t, Tensor) else float(t) for t in (mean, std))
        try:
            shape = np.broadcast_shapes(np.shape(m), np.shape(sd))
        except ValueError:
            raise ValueError(f"normal: mean {list(np.shape(m))} and std {list(np.shape(sd))} do not broadcast") from None
        dtype, device = dtype or ts[0].dtype, device or ts[0].device
    else:
        if size is None:
            raise ValueError("normal: give size with a number mean and std (or mean / std tensors)")
        m, sd = float(mean), float(std)
        shape = (int(size),) if isinstance(size, numbers.Integral) else tuple(int(n) for n in size)
    if np.any(np.asarray(sd) < 0):
        raise ValueError("normal: std must be >= 0")
    return tensor(_rng(generator).normal(m, sd, shape), dtype=canonical_dtype(dtype), device=device)


# -- windows ---------------------------------------------------------------------------
def _window(name, N, periodic, make, dtype, device):
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or N < 0:
        raise ValueError(f"{name}: window_length must be an int >= 0, got {N!r}")
    if N == 0:
        w = np.zeros(0)
    elif N == 1:
        w = np.ones(1)
    else:
        w = make(N + 1)[:-1] if periodic else make(N)
    return tensor(w, dtype=canonical_dtype(dtype), device=device)


def hann_window(window_length, periodic=True, *, dtype=None, device=None):
    """The Hann window (``periodic``: of length N + 1, the last point dropped -- for spectra)."""
    return _window("hann_window", window_length, periodic, np.hanning, dtype, device)


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None, device=None):
    """alpha - beta cos(2 pi n / (N - 1)) (``periodic`` as hann_window)."""
    return _window("hamming_window", window_length, periodic,
                   lambda m: alpha - beta * np.cos(2 * np.pi * np.arange(m) / (m - 1)), dtype, device)


def blackman_window(window_length, periodic=True, *, dtype=None, device=None):
    """The Blackman window (``periodic`` as hann_window)."""
    return _window("blackman_window", window_length, periodic, np.blackman, dtype, device)


def bartlett_window(window_length, periodic=True, *, dtype=None, device=None):
    """The triangular Bartlett window (``periodic`` as hann_window)."""
    return _window("bartlett_window", window_length, periodic, np.bartlett, dtype, device)


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, device=None):
    """The Kaiser window of shape ``beta`` (``periodic`` as hann_window)."""
    return _window("kaiser_window", window_length, periodic, lambda m: np.kaiser(m, beta), dtype, device)


# -- dtypes and queries ----------------------------------------------------------------
_ORDER = ("i32", "f16", "f32", "f64")


def _dt(x):
    if isinstance(x, Tensor):
        return x.dtype
    if isinstance(x, bool):
        return "i32"
    if isinstance(x, numbers.Integral):
        return "i32"
    if isinstance(x, numbers.Real):
        return "f32"
    return canonical_dtype(x)


def promote_types(type1, type2):
    """The dtype both convert to (vkgrad's four: int32 < f16 < f32 < f64)."""
    a, b = canonical_dtype(type1), canonical_dtype(type2)
    return a if _ORDER.index(a) >= _ORDER.index(b) else b


def result_type(a, b):
    """The dtype of an operation on a and b (tensors or numbers): a float number
    with an int32 tensor gives the default float dtype; a number does not widen a
    float tensor (PyTorch's rules)."""
    from .. import config
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if ta and tb:
        return promote_types(a.dtype, b.dtype)
    if ta or tb:
        t, other = (a, b) if ta else (b, a)
        if t.dtype == "i32" and _dt(other) != "i32":
            return config.default_dtype
        return t.dtype
    return promote_types(_dt(a), _dt(b)) if _dt(a) == _dt(b) == "i32" else config.default_dtype


def can_cast(from_, to_):
    """Whether a cast keeps the kind (no float to int32; PyTorch's can_cast)."""
    return not (canonical_dtype(from_) != "i32" and canonical_dtype(to_) == "i32")


def finfo(dtype=None):
    """NumPy's finfo of a float dtype (bits, eps, max, min, tiny, smallest_normal, resolution)."""
    from .. import config
    d = canonical_dtype(dtype) or config.default_dtype
    if d == "i32":
        raise TypeError("finfo: int32 is not a float dtype (use iinfo)")
    return np.finfo({"f16": np.float16, "f32": np.float32, "f64": np.float64}[d])


def iinfo(dtype):
    """NumPy's iinfo of int32 (bits, max, min)."""
    if canonical_dtype(dtype) != "i32":
        raise TypeError(f"iinfo: expected an int dtype, got {dtype!r}")
    return np.iinfo(np.int32)


def numel(x):
    """The number of elements."""
    check_tensor("numel", x)
    return x.size


def is_floating_point(x):
    check_tensor("is_floating_point", x)
    return x.dtype != "i32"


def is_complex(x):
    """False: vkgrad's tensors are real."""
    check_tensor("is_complex", x)
    return False


def is_nonzero(x):
    """The truth of a one-element tensor (an error for any other size, as PyTorch's)."""
    check_tensor("is_nonzero", x)
    if x.size != 1:
        raise RuntimeError(f"is_nonzero: a tensor of {x.size} elements is ambiguous")
    return bool(x.item() != 0)


def is_same_size(a, b):
    return tuple(a.shape) == tuple(b.shape)


# -- aliases -------------------------------------------------------------------------------
absolute = abs_
fix = trunc
concat = concatenate = cat
row_stack = vstack


def greater(a, b):
    return gt(a, b)


def less(a, b):
    return lt(a, b)


def greater_equal(a, b):
    from .elementwise import ge
    return ge(a, b)


def less_equal(a, b):
    from .elementwise import le
    return le(a, b)


def not_equal(a, b):
    from .compat import ne
    return ne(a, b)


def chain_matmul(*matrices):
    """The product of the matrices in order (linalg.multi_dot)."""
    from ..linalg import multi_dot
    return multi_dot(matrices)


def ger(a, b):
    """The outer product of two vectors."""
    from .elementwise import outer
    return outer(a, b)


__all__ = ["sgn", "signbit", "copysign", "fmax", "fmin", "isposinf", "isneginf", "isreal", "float_power",
           "logaddexp2", "ldexp", "frexp", "gcd", "lcm", "rsub", "i0", "polygamma", "mvlgamma", "dist", "inner",
           "vdot", "renorm", "diag_embed", "diagflat", "diagonal_scatter", "slice_scatter", "select_scatter",
           "gradient", "combinations", "unravel_index", "histogram", "mode", "multinomial", "bernoulli", "normal", "poisson",
           "binomial", "hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window",
           "promote_types", "result_type", "can_cast", "finfo", "iinfo", "numel", "is_floating_point", "is_complex",
           "is_nonzero", "is_same_size", "absolute", "fix", "concat", "concatenate", "row_stack", "greater", "less",
           "greater_equal", "less_equal", "not_equal", "chain_matmul", "ger"]
