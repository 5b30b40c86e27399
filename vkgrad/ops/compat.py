"""PyTorch's spellings of what the other ops already do, as functions (the Tensor
methods of the same names call them): shape moves (flatten, squeeze, movedim,
narrow, repeat_interleave, ...), small products (mm, mv, dot, addmm), lerp, fmod,
remainder, ne, clamp_min / clamp_max / clip, all / any."""
from __future__ import annotations

import numbers

import numpy as np

from ..tensor import Tensor
from ._core import check_tensor
from .elementwise import add, clamp, eq, floor, mul, sub, trunc
from .nn import matmul
from .shape import getitem, index_select, max, min, reshape, transpose


def flatten(x, start_dim=0, end_dim=-1):
    """Axes start_dim .. end_dim merged into one."""
    check_tensor("flatten", x)
    return x.flatten(start_dim, end_dim)


def unflatten(x, dim, sizes):
    """Axis ``dim`` split into ``sizes`` (one may be -1)."""
    check_tensor("unflatten", x)
    d = x._dim("unflatten", dim)
    sizes = tuple(int(s) for s in sizes)
    known = int(np.prod([s for s in sizes if s != -1]))
    if sizes.count(-1) > 1 or (sizes.count(-1) == 0 and known != x.shape[d]) or (
            sizes.count(-1) == 1 and (known == 0 or x.shape[d] % known)):
        raise ValueError(f"unflatten: sizes {list(sizes)} do not split axis {d} of length {x.shape[d]}")
    sizes = tuple(x.shape[d] // known if s == -1 else s for s in sizes)
    return reshape(x, x.shape[:d] + sizes + x.shape[d + 1:])


def squeeze(x, dim=None):
    """Axes of size 1 removed: all, or ``dim``."""
    check_tensor("squeeze", x)
    return x.squeeze(dim)


def unsqueeze(x, dim):
    """An axis of size 1 inserted at ``dim``."""
    check_tensor("unsqueeze", x)
    return x.unsqueeze(dim)


def permute(x, dims):
    """The axes in the order ``dims``."""
    check_tensor("permute", x)
    return x.permute(dims)


def swapaxes(x, axis0, axis1):
    """Two axes swapped (PyTorch's transpose(x, dim0, dim1), swapdims)."""
    check_tensor("swapaxes", x)
    return x.swapaxes(axis0, axis1)


swapdims = swapaxes


def t(x):
    """A matrix transposed (vectors and scalars as they are)."""
    check_tensor("t", x)
    if x.ndim > 2:
        raise ValueError(f"t: expects a tensor of at most 2 dimensions, got shape {list(x.shape)}")
    return x if x.ndim < 2 else transpose(x)


def movedim(x, source, destination):
    """Axes ``source`` moved to positions ``destination`` (ints or sequences), the
    others keeping their order."""
    check_tensor("movedim", x)
    src = [source] if isinstance(source, numbers.Integral) else list(source)
    dst = [destination] if isinstance(destination, numbers.Integral) else list(destination)
    if len(src) != len(dst):
        raise ValueError(f"movedim: {len(src)} source axes for {len(dst)} destinations")
    src = [x._dim("movedim", s) for s in src]
    dst = [x._dim("movedim", d) for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"movedim: repeated axes in {source} or {destination}")
    order = [None] * x.ndim
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(i for i in range(x.ndim) if i not in src)
    order = [o if o is not None else next(rest) for o in order]
    return x if order == list(range(x.ndim)) else transpose(x, tuple(order))


moveaxis = movedim


def narrow(x, dim, start, length):
    """x[..., start:start + length, ...] along ``dim`` (start may be negative)."""
    check_tensor("narrow", x)
    d = x._dim("narrow", dim)
    n = x.shape[d]
    s = int(start) + (n if int(start) < 0 else 0)
    if not (0 <= s <= n and 0 <= int(length) <= n - s):
        raise IndexError(f"narrow: start {start} and length {length} do not fit axis {d} of length {n}")
    return getitem(x, tuple(slice(s, s + int(length)) if i == d else slice(None) for i in range(x.ndim)))


def repeat_interleave(x, repeats, dim=None):
    """Each element (``dim=None``: of the flattened x) or slice along ``dim``
    repeated ``repeats`` times (an int, or one count per slice): a gather whose
    gradient sums the copies."""
    check_tensor("repeat_interleave", x)
    if dim is None:
        x, d = reshape(x, (x.size,)), 0
    else:
        d = x._dim("repeat_interleave", dim)
    n = x.shape[d]
    r = np.asarray(repeats.numpy() if isinstance(repeats, Tensor) else repeats)
    if r.dtype.kind not in "iu" or r.ndim > 1 or (r.ndim == 1 and r.size != n) or (r < 0).any():
        raise ValueError(f"repeat_interleave: repeats must be a non-negative int or {n} of them, got {repeats!r}")
    return index_select(x, d, np.repeat(np.arange(n), r))


def _product(op, a, b, fits, expected):
    for t_ in (a, b):
        check_tensor(op, t_)
    if not fits(a, b):
        raise ValueError(f"{op}: expected {expected}, got shapes {list(a.shape)} and {list(b.shape)}")
    return matmul(a, b)


def mm(a, b):
    """The product of two matrices (no broadcasting)."""
    return _product("mm", a, b, lambda a, b: a.ndim == 2 and b.ndim == 2, "two matrices")


def mv(a, v):
    """A matrix times a vector."""
    return _product("mv", a, v, lambda a, v: a.ndim == 2 and v.ndim == 1, "a matrix and a vector")


def dot(a, b):
    """The dot product of two vectors of one length."""
    return _product("dot", a, b, lambda a, b: a.ndim == 1 and b.shape == a.shape, "two vectors of one length")


def addmm(input, mat1, mat2, beta=1.0, alpha=1.0):
    """beta * input + alpha * (mat1 @ mat2), input broadcast."""
    p = mm(mat1, mat2)
    return add(input if beta == 1 else mul(input, float(beta)), p if alpha == 1 else mul(p, float(alpha)))


def lerp(start, end, weight):
    """start + weight * (end - start) (weight a number or a tensor)."""
    check_tensor("lerp", start)
    return add(start, mul(sub(end, start), weight))


def fmod(a, b):
    """The remainder of a / b with a's sign (C's fmod): a - trunc(a / b) * b."""
    check_tensor("fmod", a)
    return sub(a, mul(trunc(a / b), b))


def remainder(a, b):
    """The remainder with b's sign (Python's %): a - floor(a / b) * b."""
    check_tensor("remainder", a)
    return sub(a, mul(floor(a / b), b))


def ne(a, b):
    """1.0 where a != b (NaN too), else 0.0 (not differentiable)."""
    return eq(a, b) * -1.0 + 1.0


def clamp_min(x, min):
    return clamp(x, min=min)


def clamp_max(x, max):
    return clamp(x, max=max)


clip = clamp


def _nonzero(op, x):
    check_tensor(op, x)
    return ne(x.detach(), 0.0)


def all(x, dim=None, keepdim=False):
    """1.0 where every element along ``dim`` (all: None) is nonzero (NaN counts),
    else 0.0 (not differentiable)."""
    return min(_nonzero("all", x), dim, keepdim)


def any(x, dim=None, keepdim=False):
    """1.0 where some element along ``dim`` is nonzero, else 0.0."""
    return max(_nonzero("any", x), dim, keepdim)
