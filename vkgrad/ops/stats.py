"""PyTorch's order statistics and NaN-aware reductions, composed of the sort, gather
and elementwise ops (so every backend runs them and their gradients come from
those ops): median / nanmedian, quantile / nanquantile, nansum / nanmean,
var_mean / std_mean, aminmax, count_nonzero, msort, and the running cummax /
cummin / logcumsumexp."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..tensor import Tensor
from .._names import torch_kwargs
from ._core import check_tensor, int_as_f32, norm_axes
from .elementwise import (abs as abs_, add, affine, ceil, clamp, eq, exp, floor, isnan, log1p, lt, maximum,
                          minimum, mul, round as round_, sub, to, where)
from .shape import _axis, amax, amin, gather, mean, reshape, scan, sort, std, sum, transpose, var

MedianResult = namedtuple("median", "values indices")
NanmedianResult = namedtuple("nanmedian", "values indices")
AminmaxResult = namedtuple("aminmax", "min max")
CummaxResult = namedtuple("cummax", "values indices")
CumminResult = namedtuple("cummin", "values indices")


def _rows(op, x, dim):
    """x as [R, n] rows along ``dim`` (None: one row of every element), with the
    shape the reduction leaves (keepdim False, True)."""
    check_tensor(op, x)
    if dim is None:
        return reshape(x, (1, x.size)), (), (1,) * x.ndim
    ax = _axis(op, x, dim)
    perm = tuple(d for d in range(x.ndim) if d != ax) + (ax,)
    xt = x if ax == x.ndim - 1 else transpose(x, perm)
    rest = tuple(x.shape[d] for d in perm[:-1])
    return reshape(xt, (int(np.prod(rest)) if rest else 1, x.shape[ax])), rest, \
        x.shape[:ax] + (1,) + x.shape[ax + 1:]


def _wide(t):
    """f16 widened to f32 (counts past 2048 are not exact in halves)."""
    return to(t, dtype="f32") if t.dtype == "f16" else t


def _not_nan(x):
    """1.0 where x is not NaN (at least f32, no gradient)."""
    return affine(_wide(isnan(x.detach())), -1.0, 1.0)


def _non_nan_count(x2):
    """[R, 1]: how many of each row are not NaN (float, no gradient)."""
    return sum(_not_nan(x2), 1, keepdims=True)


def _take_rows(v, pos):
    """v[r, pos[r, j]] for float positions (whole numbers, [R, k]): int32 on the
    device, gathered with v's gradient."""
    return gather(v, 1, to(pos, dtype="i32"))


def _median(op, x, dim, keepdim, ignore_nan, result):
    if x.ndim == 0 and dim is not None:  # (PyTorch's: a 0-d tensor's axis 0 or -1)
        norm_axes(op, int(dim), 0)
        v, i = _median(op, reshape(x, (1,)), 0, False, ignore_nan, result)
        return result(reshape(v, ()), Tensor(i.backend.reshape(i.handle, ()), i.backend))
    x2, rest, kept = _rows(op, x, dim)
    n = x2.shape[1]
    if n == 0:
        raise ValueError(f"{op}: cannot take the median of an empty axis (shape {list(x.shape)})")
    v, i = sort(x2, 1)  # (stable, NaN last: the first NaN of a row sorts before the others)
    c = _non_nan_count(x2)
    if ignore_nan:  # the lower middle of the values that are not NaN (all NaN: NaN)
        k = floor(affine(maximum(affine(c, 1.0, -1.0), 0.0), 0.5))
    else:  # NaN if the row has one (at the first NaN's index), else the lower middle
        k = where(lt(c, float(n)), c, float((n - 1) // 2))
    vals = _take_rows(v, k)
    idx = to(_take_rows(to(i, dtype="f32"), to(k, dtype="f32")), dtype="i32")
    shape = kept if keepdim else rest
    if dim is None:
        return reshape(vals, shape)
    return result(reshape(vals, shape), Tensor(idx.backend.reshape(idx.handle, shape), idx.backend))


@int_as_f32
def median(x, dim=None, keepdim=False):
    """PyTorch's median: the lower of the two middle values (no averaging); of all
    elements (a 0-d tensor) or, along ``dim``, (values, indices).  A row with a NaN
    gives NaN and the first NaN's index; the gradient goes to the element chosen."""
    return _median("median", x, dim, keepdim, False, MedianResult)


def nanmedian(x, dim=None, keepdim=False):
    """median of the values that are not NaN (a row of NaN only gives NaN)."""
    return _median("nanmedian", x, dim, keepdim, True, NanmedianResult)


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(op, x, q, dim, keepdim, interpolation, ignore_nan):
    check_tensor(op, x)
    qh = q.numpy() if isinstance(q, Tensor) else np.asarray(q, dtype=np.float64)
    if qh.ndim > 1 or not np.issubdtype(qh.dtype, np.number) or qh.size == 0 and qh.ndim == 0:
        raise ValueError(f"{op}: q must be a number or a 1-d sequence of them, got shape {list(qh.shape)}")
    if np.any(~((qh >= 0) & (qh <= 1))):
        raise ValueError(f"{op}: q must lie in [0, 1], got {qh.tolist()}")
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"{op}: interpolation must be one of {', '.join(_INTERPOLATIONS)}, got {interpolation!r}")
    x2, rest, kept = _rows(op, x, dim)
    n = x2.shape[1]
    if n == 0:
        raise ValueError(f"{op}: cannot take a quantile of an empty axis (shape {list(x.shape)})")
    v = sort(x2, 1).values
    c = _non_nan_count(x2)
    last = affine(c, 1.0, -1.0) if ignore_nan else affine(c, 0.0, float(n - 1))  # [R, 1]: the last place counted
    pt = "f64" if x.dtype == "f64" else "f32"  # (positions and weights: f32 at least)
    qt = Tensor(x.backend.from_numpy(qh.reshape(1, -1).astype(np.float64), pt), x.backend)
    pos = clamp(mul(to(last, dtype=pt), qt), 0.0, float(n - 1))  # [R, Q] (all NaN: 0, a NaN)
    lo, hi = floor(pos), ceil(pos)
    if interpolation == "nearest":
        out = _take_rows(v, round_(pos))  # (halves to even, as PyTorch)
    elif interpolation == "lower":
        out = _take_rows(v, lo)
    elif interpolation == "higher":
        out = _take_rows(v, hi)
    else:
        a, b = _take_rows(v, lo), _take_rows(v, hi)
        w = 0.5 if interpolation == "midpoint" else to(sub(pos, lo), dtype=x.dtype)
        out = add(a, mul(sub(b, a), w))
        out = where(eq(lo.detach(), hi.detach()), a, out)  # (an exact position: that value, inf included)
    if not ignore_nan:
        out = where(lt(c, float(n)), float("nan"), out)
    shape = kept if keepdim else rest
    out = transpose(out, (1, 0))  # [Q, R]: q's axis first, as PyTorch
    return reshape(out, shape if qh.ndim == 0 else (qh.size,) + shape)


def quantile(x, q, dim=None, keepdim=False, *, interpolation="linear"):
    """PyTorch's quantile: the q-th quantiles (q a number or a 1-d sequence in [0, 1];
    its axis first in the result) of all elements or along ``dim``, between the
    sorted values by ``interpolation`` ("linear", "lower", "higher", "midpoint",
    "nearest"); a row with a NaN gives NaN.  Gradients go to the values used."""
    return _quantile("quantile", x, q, dim, keepdim, interpolation, False)


def nanquantile(x, q, dim=None, keepdim=False, *, interpolation="linear"):
    """quantile of the values that are not NaN (a row of NaN only gives NaN)."""
    return _quantile("nanquantile", x, q, dim, keepdim, interpolation, True)


def nansum(x, dim=None, keepdim=False):
    """The sum of the values that are not NaN (their gradient 0)."""
    check_tensor("nansum", x)
    return sum(where(isnan(x.detach()), 0.0, x), dim, keepdim)


def nanmean(x, dim=None, keepdim=False):
    """The mean of the values that are not NaN (none: NaN)."""
    check_tensor("nanmean", x)
    total = sum(_wide(where(isnan(x.detach()), 0.0, x)), dim, keepdim)
    return to(total / sum(_not_nan(x), dim, keepdim), dtype=x.dtype)


@torch_kwargs
def var_mean(x, axis=None, correction=1, keepdims=False):
    """(var, mean) along ``axis`` / ``dim`` (PyTorch's order)."""
    return var(x, axis, keepdims=keepdims, correction=correction), mean(x, axis, keepdims)


@torch_kwargs
def std_mean(x, axis=None, correction=1, keepdims=False):
    """(std, mean) along ``axis`` / ``dim``."""
    return std(x, axis, keepdims=keepdims, correction=correction), mean(x, axis, keepdims)


def aminmax(x, *, dim=None, keepdim=False):
    """(min, max) along ``dim`` (all: None), values only (amin / amax)."""
    check_tensor("aminmax", x)
    if x.size == 0:
        raise ValueError(f"aminmax: empty tensor of shape {list(x.shape)}")
    return AminmaxResult(amin(x, dim, keepdim), amax(x, dim, keepdim))


@int_as_f32(int_result=False)
def count_nonzero(x, dim=None):
    """How many elements are not 0 (NaN counts), along ``dim`` (an int, a tuple or
    None: all): int32."""
    check_tensor("count_nonzero", x)
    return to(sum(affine(_wide(eq(x.detach(), 0.0)), -1.0, 1.0), dim), dtype="i32")


@int_as_f32
def msort(x):
    """x sorted along its first axis (sort(x, 0).values)."""
    return sort(x, 0).values


def _cum_extreme(op, x, dim, combine, fill, result):
    """(running max / min, the index of its last occurrence: PyTorch's) along dim;
    the values gathered at those indices (their gradient there)."""
    check_tensor(op, x)
    if x.ndim == 0:
        norm_axes(op, int(dim), 0)
        return result(x * 1.0, Tensor(x.backend.from_numpy(np.zeros((), np.int32), "i32"), x.backend))
    ax = _axis(op, x, dim)
    xd = to(x.detach(), dtype="f32") if x.dtype == "f16" else x.detach()
    run = scan(xd, ax, combine, fill)
    record = where(eq(xd, run), 1.0, isnan(xd))  # a new extreme, a tie of it or a NaN: its index from here
    n = x.shape[ax]
    pos = Tensor(x.backend.from_numpy(np.arange(n, dtype=np.float64).reshape(
        (n,) + (1,) * (x.ndim - 1 - ax)), xd.dtype), x.backend)
    idx = to(scan(where(record, pos, -1.0), ax, maximum, -1.0), dtype="i32")
    return result(gather(x, ax, idx), idx)


@int_as_f32
def cummax(x, dim):
    """PyTorch's cummax: (running maximum, index of its last occurrence) along
    ``dim`` (NaN propagates); the gradient goes to the element at the index."""
    return _cum_extreme("cummax", x, dim, maximum, float("-inf"), CummaxResult)


@int_as_f32
def cummin(x, dim):
    """PyTorch's cummin (as ``cummax``)."""
    return _cum_extreme("cummin", x, dim, minimum, float("inf"), CumminResult)


def _logaddexp(a, b):
    """log(exp(a) + exp(b)): max + log1p(exp(-|a - b|)), and equal operands (-inf
    and inf included) max + log 2 -- the gradient halves there as maximum's does."""
    d = where(eq(a.detach(), b.detach()), 0.0, -abs_(sub(a, b)))
    return add(maximum(a, b), log1p(exp(d)))


def logcumsumexp(x, dim):
    """log(cumsum(exp(x))) along ``dim``, without overflow (a running logaddexp)."""
    check_tensor("logcumsumexp", x)
    if x.ndim == 0:
        norm_axes("logcumsumexp", int(dim), 0)
        return x * 1.0
    return scan(x, _axis("logcumsumexp", x, dim), _logaddexp, float("-inf"))


__all__ = ["median", "nanmedian", "quantile", "nanquantile", "nansum", "nanmean", "var_mean", "std_mean", "aminmax",
           "count_nonzero", "msort", "cummax", "cummin", "logcumsumexp"]
