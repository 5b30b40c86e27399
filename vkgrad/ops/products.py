"""PyTorch's products and differences built on matmul, broadcasting and slices:
tensordot, kron, block_diag, cartesian_prod, baddbmm / addbmm / addmv / addr,
cross, diff, cov / corrcoef, trapezoid / cumulative_trapezoid."""
from __future__ import annotations

import builtins

import numpy as np

from ._core import as_tensor, check_tensor
from .elementwise import add, mul, sqrt, sub
from .nn import matmul
from .shape import _axis, cat, getitem, pad, reshape, scan, stack, sum, transpose


def _scaled(op, input, prod, beta, alpha):
    """beta * input + alpha * prod (beta 0: input ignored, NaN included, as PyTorch)."""
    check_tensor(op, input)
    p = prod if alpha == 1 else mul(prod, float(alpha))
    return p if beta == 0 else add(input if beta == 1 else mul(input, float(beta)), p)


def tensordot(a, b, dims=2):
    """Contract a's last ``dims`` axes with b's first (an int), or the axes paired in
    ``dims = (a_axes, b_axes)``: one matmul of the two rearranged."""
    check_tensor("tensordot", a)
    check_tensor("tensordot", b)
    if isinstance(dims, (int, np.integer)) and not isinstance(dims, bool):
        if not 0 <= dims <= builtins.min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: dims {dims} exceeds the dimensions of shapes {list(a.shape)} and "
                             f"{list(b.shape)}")
        ax_a, ax_b = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        ax_a, ax_b = ([d] if isinstance(d, (int, np.integer)) else list(d) for d in dims)
        ax_a = [a._dim("tensordot", d) for d in ax_a]
        ax_b = [b._dim("tensordot", d) for d in ax_b]
    if len(ax_a) != len(ax_b) or any(a.shape[i] != b.shape[j] for i, j in zip(ax_a, ax_b)):
        raise ValueError(f"tensordot: contracted axes {ax_a} of {list(a.shape)} and {ax_b} of {list(b.shape)} "
                         "must pair up with equal lengths")
    free_a = [d for d in range(a.ndim) if d not in ax_a]
    free_b = [d for d in range(b.ndim) if d not in ax_b]
    k = int(np.prod([a.shape[d] for d in ax_a]))
    am = reshape(transpose(a, tuple(free_a + ax_a)), (-1, k))
    bm = reshape(transpose(b, tuple(ax_b + free_b)), (k, -1))
    return reshape(matmul(am, bm), tuple(a.shape[d] for d in free_a) + tuple(b.shape[d] for d in free_b))


def kron(a, b):
    """The Kronecker product: blocks a[i] * b, shapes multiplied axis by axis (the
    shorter one padded with leading 1s)."""
    check_tensor("kron", a)
    b = as_tensor("kron", b, a)
    n = builtins.max(a.ndim, b.ndim)
    sa, sb = (1,) * (n - a.ndim) + a.shape, (1,) * (n - b.ndim) + b.shape
    ai = reshape(a, tuple(v for s in sa for v in (s, 1)))
    bi = reshape(b, tuple(v for s in sb for v in (1, s)))
    return reshape(mul(ai, bi), tuple(x * y for x, y in zip(sa, sb)))


def block_diag(*tensors):
    """The tensors (0-d, 1-d as a row, or 2-d) down the diagonal of one matrix,
    zeros elsewhere."""
    if not tensors:
        raise ValueError("block_diag: expected at least one tensor")
    mats = []
    for t_ in tensors:
        check_tensor("block_diag", t_)
        if t_.ndim > 2:
            raise ValueError(f"block_diag: expected tensors of at most 2 dimensions, got shape {list(t_.shape)}")
        mats.append(reshape(t_, (1, 1) if t_.ndim == 0 else (1, t_.shape[0]) if t_.ndim == 1 else t_.shape))
    width = builtins.sum(m.shape[1] for m in mats)
    rows, left = [], 0
    for m in mats:
        rows.append(pad(m, (left, width - left - m.shape[1])))
        left += m.shape[1]
    return cat(rows, 0)


def cartesian_prod(*tensors):
    """Every combination of the 1-d tensors' elements, as rows [prod(n), k] (one
    tensor: itself)."""
    from .compat import meshgrid
    if len(tensors) == 1:
        check_tensor("cartesian_prod", tensors[0])
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack([reshape(g, (-1,)) for g in grids], 1)


def baddbmm(input, batch1, batch2, *, beta=1.0, alpha=1.0):
    """beta * input + alpha * (batch1 @ batch2) for [B, n, m] @ [B, m, p]."""
    _check_dims("baddbmm", (batch1, 3), (batch2, 3))
    return _scaled("baddbmm", input, matmul(batch1, batch2), beta, alpha)


def addbmm(input, batch1, batch2, *, beta=1.0, alpha=1.0):
    """beta * input + alpha * the sum over the batch of batch1[i] @ batch2[i]."""
    _check_dims("addbmm", (batch1, 3), (batch2, 3))
    return _scaled("addbmm", input, sum(matmul(batch1, batch2), 0), beta, alpha)


def addmv(input, mat, vec, *, beta=1.0, alpha=1.0):
    """beta * input + alpha * (mat @ vec)."""
    _check_dims("addmv", (mat, 2), (vec, 1))
    return _scaled("addmv", input, matmul(mat, vec), beta, alpha)


def addr(input, vec1, vec2, *, beta=1.0, alpha=1.0):
    """beta * input + alpha * outer(vec1, vec2)."""
    from .elementwise import outer
    _check_dims("addr", (vec1, 1), (vec2, 1))
    return _scaled("addr", input, outer(vec1, vec2), beta, alpha)


def _check_dims(op, *pairs):
    for t_, nd in pairs:
        check_tensor(op, t_)
        if t_.ndim != nd:
            raise ValueError(f"{op}: expected {nd}-d operands, got shapes "
                             f"{[list(p[0].shape) for p in pairs]}")


def cross(a, b, dim=-1):
    """The cross product of 3-vectors along ``dim`` (broadcast; PyTorch's
    linalg.cross)."""
    check_tensor("cross", a)
    b = as_tensor("cross", b, a)
    nd = builtins.max(a.ndim, b.ndim)
    d = dim % nd if -nd <= dim < nd else None
    if d is None or (a.shape[d - nd + a.ndim] if d - nd + a.ndim >= 0 else 1) != 3 or \
            (b.shape[d - nd + b.ndim] if d - nd + b.ndim >= 0 else 1) != 3:
        raise ValueError(f"cross: axis {dim} must have length 3 in both, got shapes {list(a.shape)} and "
                         f"{list(b.shape)}")
    a = reshape(a, (1,) * (nd - a.ndim) + a.shape)
    b = reshape(b, (1,) * (nd - b.ndim) + b.shape)

    def c(t_, i):
        return getitem(t_, (slice(None),) * d + (slice(i, i + 1),))
    return cat([sub(mul(c(a, 1), c(b, 2)), mul(c(a, 2), c(b, 1))),
                sub(mul(c(a, 2), c(b, 0)), mul(c(a, 0), c(b, 2))),
                sub(mul(c(a, 0), c(b, 1)), mul(c(a, 1), c(b, 0)))], d)


def diff(x, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along ``dim`` (x[i + 1] - x[i], n times), after
    joining ``prepend`` / ``append`` there."""
    check_tensor("diff", x)
    ax = _axis("diff", x, dim)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"diff: n must be a non-negative int, got {n!r}")
    parts = [as_tensor("diff", p, x) for p in (prepend,) if p is not None] + [x] + \
        [as_tensor("diff", p, x) for p in (append,) if p is not None]
    x = cat(parts, ax) if len(parts) > 1 else x
    for _ in range(int(n)):
        m = x.shape[ax]
        if m == 0:
            break
        x = sub(getitem(x, (slice(None),) * ax + (slice(1, m),)), getitem(x, (slice(None),) * ax + (slice(0, m - 1),)))
    return x


def cov(x, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the variables in x's rows (observations in its
    columns; a 1-d x is one variable), with integer frequency and real observation
    weights as NumPy's / PyTorch's; divided by (sum of weights - correction)."""
    check_tensor("cov", x)
    if x.ndim > 2:
        raise ValueError(f"cov: expected 1-d or 2-d input (variables x observations), got {list(x.shape)}")
    m = reshape(x, (1, -1)) if x.ndim < 2 else x
    N = m.shape[1]
    w = None
    for name, wt in (("fweights", fweights), ("aweights", aweights)):
        if wt is None:
            continue
        wt = as_tensor("cov", wt, x)
        if wt.shape != (N,):
            raise ValueError(f"cov: {name} must be 1-d of the observations' count {N}, got {list(wt.shape)}")
        w = wt if w is None else mul(w, wt)
    if w is None:
        wsum = float(N)
        avg = sum(m, 1, keepdims=True) / float(N)
        norm = wsum - correction
    else:
        wsum = sum(w)
        avg = sum(mul(m, w), 1, keepdims=True) / wsum
        if aweights is None or correction == 0:
            norm = wsum - float(correction)
        else:
            aw = as_tensor("cov", aweights, x)
            norm = wsum - float(correction) * sum(mul(w, aw)) / wsum
    c = sub(m, avg)
    cw = c if w is None else mul(c, w)
    out = matmul(cw, transpose(c)) / norm
    return reshape(out, ()) if x.ndim < 2 else out


def corrcoef(x):
    """Pearson's correlation coefficients of x's rows: cov / sqrt(var_i var_j),
    clipped to [-1, 1] as NumPy's."""
    from .elementwise import clamp
    from .shape import diagonal
    c = cov(x)
    if c.ndim == 0:
        return c / c
    d = sqrt(diagonal(c))
    return clamp(c / reshape(d, (-1, 1)) / reshape(d, (1, -1)), -1.0, 1.0)


def _trap_parts(op, y, x, dx, dim):
    check_tensor(op, y)
    ax = _axis(op, y, dim)
    n = y.shape[ax]

    def sl(t_, a, b):
        return getitem(t_, (slice(None),) * ax + (slice(a, b),))
    avg = mul(add(sl(y, 1, n), sl(y, 0, n - 1)), 0.5)
    if x is None:
        return mul(avg, float(dx)), ax
    x = as_tensor(op, x, y)
    if x.ndim == 1:
        if x.shape[0] != n:
            raise ValueError(f"{op}: x of length {x.shape[0]} must match axis {ax} of y (length {n})")
        h = sub(getitem(x, slice(1, n)), getitem(x, slice(0, n - 1)))
        h = reshape(h, (n - 1,) + (1,) * (y.ndim - 1 - ax))
    else:
        h = sub(sl(x, 1, n), sl(x, 0, n - 1))
    return mul(avg, h), ax


def trapezoid(y, x=None, *, dx=1.0, dim=-1):
    """The trapezoidal rule's integral of y along ``dim`` (spacing ``dx``, or at the
    points ``x``: 1-d along that axis, or y's shape)."""
    parts, ax = _trap_parts("trapezoid", y, x, dx, dim)
    return sum(parts, ax)


def cumulative_trapezoid(y, x=None, *, dx=1.0, dim=-1):
    """The trapezoidal rule's running integral along ``dim`` (one shorter)."""
    parts, ax = _trap_parts("cumulative_trapezoid", y, x, dx, dim)
    return scan(parts, ax, lambda a, b: a + b, 0.0)


trapz = trapezoid

__all__ = ["tensordot", "kron", "block_diag", "cartesian_prod", "baddbmm", "addbmm", "addmv", "addr", "cross",
           "diff", "cov", "corrcoef", "trapezoid", "trapz", "cumulative_trapezoid"]
