"""PyTorch's index-driven ops on the row-gather / index-add / scatter primitives:
index_add, index_copy, index_fill, scatter, scatter_reduce, masked_select, take,
select, nonzero / argwhere, searchsorted / bucketize, bincount, histc, unique and
unique_consecutive.  Ops whose output's shape depends on the values (nonzero,
masked_select, unique, bincount) read them back to the host, as PyTorch's do."""
from __future__ import annotations

import builtins

import numpy as np

from ..tensor import Tensor
from ._core import check_tensor, int_as_f32, make, same_device
from .elementwise import add, affine, eq, floor, ge, gt, isnan, le, lt, mul, to, where
from .shape import _axis, getitem, reshape, scatter_add, sum


def _index_1d(op, x, ax, index):
    """``index`` as (int32 handle [m], m): host integers checked against axis ax's
    length (negative ones counted from its end), or a 1-d int32 tensor on x's
    device (not checked: one out of range gives NaN, as embedding)."""
    be, n = x.backend, x.shape[ax]
    if isinstance(index, Tensor):
        same_device(op, x, index)
        if index.dtype != "i32" or index.ndim > 1:
            raise ValueError(f"{op}: index must be 1-d int32, got {index.dtype} {list(index.shape)}")
        return be.reshape(index.handle, (index.size,)), index.size, None
    host = np.asarray(index)
    if host.ndim > 1 or (host.size and not np.issubdtype(host.dtype, np.integer)):
        raise ValueError(f"{op}: index must be 1-d integers, got {host.dtype} {list(host.shape)}")
    host = host.reshape(-1).astype(np.int64)
    if host.size and (host.min() < -n or host.max() >= n):
        raise IndexError(f"{op}: index out of range for axis {ax} of length {n} (shape {list(x.shape)}): "
                         f"values in [{host.min()}, {host.max()}]")
    host = host % builtins.max(n, 1)
    return be.from_numpy(host.astype(np.int32), "i32"), host.size, host


def _put_rows(src, ax, idx, m, n):
    """src's m slices along axis ax added into n slices at idx (the backend's
    index_add_rows, that axis first); the gradient takes g's slices at idx."""
    be = src.backend
    perm = (ax,) + tuple(i for i in range(src.ndim) if i != ax)
    inv = tuple(int(i) for i in np.argsort(perm))
    rest = tuple(src.shape[i] for i in perm[1:])
    D = int(np.prod(rest))
    st = src.handle if ax == 0 else be.permute(src.handle, perm)
    out = be.reshape(be.index_add_rows(be.reshape(st, (m, D)), idx, n), (n,) + rest)

    def backward(g):
        gt_ = g if ax == 0 else be.permute(g, perm)
        rows = be.reshape(be.gather_rows(be.reshape(gt_, (n, D)), idx), (m,) + rest)
        return (rows if ax == 0 else be.permute(rows, inv),)

    def vjp(g):
        from .shape import _rows_gather_t, reshape, transpose
        gt_ = g if ax == 0 else transpose(g, perm)
        rows = reshape(_rows_gather_t(reshape(gt_, (n, D)), idx, m), (m,) + rest)
        return (rows if ax == 0 else transpose(rows, inv),)

    return make(out if ax == 0 else be.permute(out, inv), be, (src,), backward, vjp=vjp)


def _indexed(op, x, dim, index, source):
    """Checks shared by index_add / index_copy: (axis, idx, m, host index)."""
    check_tensor(op, x)
    ax = _axis(op, x, dim)
    idx, m, host = _index_1d(op, x, ax, index)
    if source is not None:
        check_tensor(op, source)
        same_device(op, x, source)
        want = x.shape[:ax] + (m,) + x.shape[ax + 1:]
        if source.shape != want:
            raise ValueError(f"{op}: source must have shape {list(want)} (the input's with the index's length "
                             f"along axis {ax}), got {list(source.shape)}")
    return ax, idx, m, host


def _ones_rows(x, ax, m):
    shape = x.shape[:ax] + (m,) + x.shape[ax + 1:]
    return Tensor(x.backend.constant(shape, 1.0, x.dtype), x.backend)


def index_add(x, dim, index, source, *, alpha=1.0):
    """x plus ``alpha`` times source's slices added at ``index`` along ``dim``
    (repeats summed); gradients: x's passes through, source's is taken at index."""
    ax, idx, m, _ = _indexed("index_add", x, dim, index, source)
    if m == 0:
        return x * 1.0
    put = _put_rows(source, ax, idx, m, x.shape[ax])
    return add(x, put if alpha == 1 else mul(put, float(alpha)))


def _no_repeats(op, host):
    if host is not None:
        vals, counts = np.unique(host, return_counts=True)
        if (counts > 1).any():
            raise ValueError(f"{op}: index repeats {vals[counts > 1].tolist()} (PyTorch leaves the result "
                             "undefined)")


def index_copy(x, dim, index, source):
    """x with its slices at ``index`` along ``dim`` replaced by source's (a host
    index must not repeat; a device one's repeats add up); gradients: x's outside
    the index, source's taken at it."""
    ax, idx, m, host = _indexed("index_copy", x, dim, index, source)
    _no_repeats("index_copy", host)
    if m == 0:
        return x * 1.0
    n = x.shape[ax]
    hit = _put_rows(_ones_rows(x, ax, m), ax, idx, m, n)
    return where(gt(hit, 0.0), _put_rows(source, ax, idx, m, n), x)


def index_fill(x, dim, index, value):
    """x with its slices at ``index`` along ``dim`` set to ``value`` (a number or a
    0-d tensor); x's gradient is 0 there."""
    ax, idx, m, _ = _indexed("index_fill", x, dim, index, None)
    if m == 0:
        return x * 1.0
    if isinstance(value, Tensor) and value.ndim != 0:
        raise ValueError(f"index_fill: value must be a number or a 0-d tensor, got shape {list(value.shape)}")
    hit = _put_rows(_ones_rows(x, ax, m), ax, idx, m, x.shape[ax])
    return where(gt(hit, 0.0), value, x)


def _scatter_counts(x, ax, index):
    """How many entries of ``index`` land on each element of x (no gradient)."""
    it = index if isinstance(index, Tensor) else np.asarray(index)
    ones = Tensor(x.backend.constant(tuple(it.shape), 1.0, x.dtype), x.backend)
    return scatter_add(Tensor(x.backend.constant(x.shape, 0.0, x.dtype), x.backend), ax, index, ones)


def _src_tensor(op, x, index, src):
    if isinstance(src, Tensor):
        same_device(op, x, src)
        return src
    shape = tuple((index if isinstance(index, Tensor) else np.asarray(index)).shape)
    return Tensor(x.backend.constant(shape, float(src), x.dtype), x.backend)


def _check_scatter_repeats(op, x, ax, index):
    if isinstance(index, Tensor):
        return
    host = np.asarray(index)
    if host.size == 0 or host.ndim != x.ndim or not np.issubdtype(host.dtype, np.integer):
        return  # (scatter_add names these)
    coords = list(np.indices(host.shape))
    coords[ax] = host % builtins.max(x.shape[ax], 1)
    flat = np.ravel_multi_index(tuple(c.reshape(-1) for c in coords), x.shape, mode="clip")
    if np.unique(flat).size != flat.size:
        raise ValueError(f"{op}: index sends two entries to one element (PyTorch leaves the result undefined); "
                         "scatter_add or scatter_reduce sum them")


def scatter(x, dim, index, src=None, value=None, *, reduce=None):
    """PyTorch's scatter: x with the elements at ``index`` along ``dim`` replaced by
    src's (a tensor at least index's size, or a number: ``value``); ``reduce="add"``
    adds instead, ``"multiply"`` multiplies.  A host index may not send two entries
    to one element.  Gradients: x's where nothing landed, src's taken at the index."""
    check_tensor("scatter", x)
    ax = _axis("scatter", x, dim)
    if (src is None) == (value is None):
        raise TypeError("scatter: give src (a tensor or a number) or value=, one of them")
    s = _src_tensor("scatter", x, index, src if src is not None else value)
    if reduce == "add":
        return scatter_add(x, ax, index, s)
    if reduce == "multiply":
        return _scatter_prod(x, ax, index, s, True)
    if reduce is not None:
        raise ValueError(f"scatter: reduce must be None, 'add' or 'multiply' (scatter_reduce takes 'sum', 'prod', "
                         f"'mean', 'amax' and 'amin'), got {reduce!r}")
    _check_scatter_repeats("scatter", x, ax, index)
    hit = _scatter_counts(x, ax, index)
    placed = scatter_add(Tensor(x.backend.constant(x.shape, 0.0, x.dtype), x.backend), ax, index, s)
    return where(gt(hit, 0.0), placed, x)


def scatter_reduce(x, dim, index, src, reduce, *, include_self=True):
    """PyTorch's scatter_reduce for ``reduce`` "sum", "prod", "mean", "amax" and
    "amin" (of the entries landing on each element, with x's own value when
    ``include_self``; elements nothing lands on keep x's value).  prod / amax /
    amin: the values found on the host (index, x and src read back: a sync on a
    device; no backend primitive scatters products or extremes).  amax / amin share
    the gradient evenly among the entries equal to the result, prod gives each
    entry the product of the others (zeros included), both as PyTorch's."""
    check_tensor("scatter_reduce", x)
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise ValueError(f"scatter_reduce: reduce {reduce!r} is not supported (sum, prod, mean, amax, amin)")
    ax = _axis("scatter_reduce", x, dim)
    s = _src_tensor("scatter_reduce", x, index, src)
    if reduce in ("amax", "amin"):
        return _scatter_extreme(x, ax, index, s, include_self, reduce == "amax")
    if reduce == "prod":
        return _scatter_prod(x, ax, index, s, include_self)
    hit = gt(_scatter_counts(x, ax, index), 0.0)
    base = x if include_self else where(hit, 0.0, x)
    total = scatter_add(base, ax, index, s)
    if reduce == "sum":
        return total
    count = add(_scatter_counts(x, ax, index), 1.0 if include_self else 0.0)
    return where(hit, total / where(hit, count, 1.0), x)


def _scatter_on_host(x, ax, index, s):
    """The host side of scatter_reduce's prod / amax / amin: the index checked and
    read back, as NumPy coordinates into x, where something lands, and the part of
    src the index takes (src may be larger, as PyTorch's)."""
    idx = index.numpy() if isinstance(index, Tensor) else np.asarray(index)
    if idx.ndim == s.ndim and idx.shape != s.shape and all(i <= j for i, j in zip(idx.shape, s.shape)):
        s = s[tuple(slice(0, i) for i in idx.shape)]
    if idx.shape != s.shape or idx.ndim != x.ndim or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
        raise ValueError(f"scatter_reduce: index must fit in src, both with x's {x.ndim} dimensions, got "
                         f"{list(idx.shape)} and {list(s.shape)} for x {list(x.shape)}")
    n = x.shape[ax]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"scatter_reduce: index values must lie in [{-n}, {n}) for axis {ax} of {list(x.shape)}, "
                         f"got {idx.min()} .. {idx.max()}")
    coords = list(np.indices(idx.shape))
    coords[ax] = idx % builtins.max(n, 1)
    coords = tuple(coords)
    hit = np.zeros(x.shape, bool)
    hit[coords] = True
    ix = index if isinstance(index, Tensor) else Tensor(x.backend.from_numpy(idx.astype(np.int32), "i32"), x.backend)
    return coords, hit, ix, s


def _host_tensor(x, a):
    return Tensor(x.backend.from_numpy(np.ascontiguousarray(a, dtype=np.float32), "f32"), x.backend).to(
        dtype=x.dtype)


def _scatter_prod(x, ax, index, s, include_self):
    """scatter_reduce's prod by NumPy's multiply.at on the host.  The gradient: each
    factor's partial is the product of the others, counted from the nonzero
    product and the number of zeros (one zero: it alone gets the rest's product;
    two: nobody gets anything), as PyTorch's; added as (expr - expr.detach()) of
    a linear composition with those partials as constants."""
    coords, hit, ix, s = _scatter_on_host(x, ax, index, s)
    host = x.numpy()
    xv, sv = host.astype(np.float64), s.numpy().astype(np.float64)
    own = xv if include_self else np.where(hit, 1.0, xv)
    r = own.copy()
    np.multiply.at(r, coords, sv)
    result = Tensor(x.backend.from_numpy(np.ascontiguousarray(r.astype(host.dtype)), x.dtype), x.backend)
    if not (x.requires_grad or s.requires_grad):
        return result
    nonzero = np.where(own == 0, 1.0, own)
    np.multiply.at(nonzero, coords, np.where(sv == 0, 1.0, sv))
    zeros = (own == 0).astype(np.int64)
    np.add.at(zeros, coords, (sv == 0).astype(np.int64))

    def others(v, nz, zc):
        return np.where(v == 0, np.where(zc == 1, nz, 0.0), np.where(zc > 0, 0.0, nz / np.where(v == 0, 1.0, v)))
    dx = others(own, nonzero, zeros) if include_self else np.where(hit, 0.0, 1.0)
    ds = others(sv, nonzero[coords], zeros[coords])
    expr = scatter_add(x * _host_tensor(x, dx), ax, ix, s * _host_tensor(x, ds))
    return result + (expr - expr.detach())


def _scatter_extreme(x, ax, index, s, include_self, largest):
    """scatter_reduce's amax / amin: the values by NumPy's maximum.at / minimum.at on
    the host (exact: each is one of the entries); the gradient from a composition
    equal to them -- each entry equal to its element's result weighted by one over
    their count, scattered -- added as (expr - expr.detach())."""
    from .shape import gather
    coords, hit, ix, s = _scatter_on_host(x, ax, index, s)
    xv = x.numpy()
    r = xv.copy() if include_self else np.where(hit, -np.inf if largest else np.inf, xv).astype(xv.dtype)
    (np.maximum if largest else np.minimum).at(r, coords, s.numpy())
    result = Tensor(x.backend.from_numpy(np.ascontiguousarray(r), x.dtype), x.backend)
    if not (x.requires_grad or s.requires_grad):
        return result
    at_src = eq(s.detach(), gather(result, ax, ix))  # (1.0 where an entry is its element's result)
    hitm = _host_tensor(x, hit)
    at_x = eq(x.detach(), result) if include_self else affine(hitm, -1.0, 1.0)
    ties = scatter_add(at_x, ax, ix, at_src)
    expr = scatter_add(x * at_x / ties, ax, ix, s * at_src / gather(ties, ax, ix))
    return result + (expr - expr.detach())


def _host_mask(op, mask):
    if isinstance(mask, Tensor):
        return mask.numpy() != 0
    m = np.asarray(mask)
    if m.dtype != bool:
        raise TypeError(f"{op}: mask must be boolean (or a vkgrad comparison's 1.0 / 0.0), got {m.dtype}")
    return m


@int_as_f32
def masked_select(x, mask):
    """The elements of x where ``mask`` (broadcast together) is true, as a 1-d tensor
    (the mask read to the host); the gradient goes back to them."""
    check_tensor("masked_select", x)
    m = _host_mask("masked_select", mask)
    try:
        shape = tuple(np.broadcast_shapes(x.shape, m.shape))
    except ValueError:
        raise ValueError(f"masked_select: mask of shape {list(m.shape)} does not broadcast with the input "
                         f"{list(x.shape)}") from None
    xb = reshape(x if x.shape == shape else x.broadcast_to(shape), (-1,))
    return getitem(xb, np.broadcast_to(m, shape).reshape(-1))


def index_put(x, indices, values, accumulate=False):
    """x with ``values`` (broadcast) written at ``indices`` (a tuple of integer
    arrays / int32 tensors, one per leading axis, broadcast together), or added
    there with ``accumulate`` (repeated positions summed); a new tensor, gradients
    to x (where not overwritten) and to values."""
    check_tensor("index_put", x)
    idx = [np.asarray(i.numpy() if isinstance(i, Tensor) else i) for i in
           (indices if isinstance(indices, (tuple, list)) else (indices,))]
    if not idx or len(idx) > x.ndim or any(i.size and i.dtype.kind not in "iub" for i in idx):
        raise IndexError(f"index_put: indices must be 1 to {x.ndim} integer (or boolean) arrays, got "
                         f"{[str(i.dtype) for i in idx]}")
    if len(idx) == 1 and idx[0].dtype == bool:
        idx = list(np.nonzero(idx[0]))
    try:
        bshape = np.broadcast_shapes(*[i.shape for i in idx])
    except ValueError:
        raise IndexError(f"index_put: index shapes {[list(i.shape) for i in idx]} do not broadcast") from None
    lead, rest = x.shape[:len(idx)], x.shape[len(idx):]
    for i, n in zip(idx, lead):
        if i.size and (i.min() < -n or i.max() >= n):
            raise IndexError(f"index_put: an index is out of range for an axis of length {n}")
    flat = np.ravel_multi_index(tuple(np.broadcast_to(i % builtins.max(n, 1), bshape) for i, n in zip(idx, lead)),
                                lead).reshape(-1) if lead else np.zeros(1, np.int64)
    rows = reshape(x, (int(np.prod(lead)),) + rest)
    v = values if isinstance(values, Tensor) else Tensor(x.backend.from_numpy(np.asarray(values, np.float64), x.dtype),
                                                        x.backend)
    v = reshape(v.broadcast_to(tuple(bshape) + rest) if v.shape != tuple(bshape) + rest else v,
                (flat.size,) + rest)
    if accumulate:
        out = index_add(rows, 0, flat, v)
    else:
        if np.unique(flat).size != flat.size:  # (the last write wins, as NumPy's)
            keep = np.sort(np.unique(flat.size - 1 - np.unique(flat[::-1], return_index=True)[1]))
            flat, v = flat[keep], getitem(v, keep)
        out = index_copy(rows, 0, flat, v)
    return reshape(out, x.shape)


def masked_scatter(x, mask, source):
    """x with the positions where ``mask`` (broadcast) is true filled, in order, by
    the first elements of ``source``; gradients to x elsewhere and to those
    elements of source."""
    check_tensor("masked_scatter", x)
    m = np.broadcast_to(_host_mask("masked_scatter", mask), x.shape).reshape(-1)
    pos = np.flatnonzero(m)
    check_tensor("masked_scatter", source)
    if source.size < pos.size:
        raise ValueError(f"masked_scatter: the mask selects {pos.size} elements, source has {source.size}")
    flat = reshape(x, (x.size,))
    if pos.size == 0:
        return x * 1.0
    src = getitem(reshape(source, (source.size,)), slice(0, pos.size))
    return reshape(index_copy(flat, 0, pos, src), x.shape)


@int_as_f32(int_result=False)
def nonzero(x, *, as_tuple=False):
    """The indices of x's nonzero elements (NaN counts), row-major, as an int32
    [count, ndim] tensor on x's device, or a tuple of 1-d ones (``as_tuple``)."""
    check_tensor("nonzero", x)
    pos = np.argwhere(x.numpy() != 0).astype(np.int32)
    be = x.backend
    if as_tuple:
        return tuple(Tensor(be.from_numpy(np.ascontiguousarray(pos[:, d]), "i32"), be)
                     for d in range(builtins.max(x.ndim, 1))) if x.ndim else \
            (Tensor(be.from_numpy(np.zeros(int(pos.shape[0]), np.int32), "i32"), be),)
    return Tensor(be.from_numpy(pos.reshape(pos.shape[0], x.ndim), "i32"), be)


@int_as_f32(int_result=False)
def argwhere(x):
    """nonzero(x): [count, ndim] int32 indices."""
    return nonzero(x)


@int_as_f32
def take(x, index):
    """x's elements at flat (row-major) ``index`` of any shape (host integers,
    checked; or an int32 tensor; negatives from the end), in index's shape."""
    from .shape import from_end, index_select
    check_tensor("take", x)
    shape = tuple(index.shape) if isinstance(index, Tensor) else np.shape(index)
    flat = from_end(reshape(index, (index.size,)), x.size) if isinstance(index, Tensor) else np.reshape(index, -1)
    return reshape(index_select(reshape(x, (x.size,)), 0, flat), shape)


@int_as_f32
def select(x, dim, index):
    """x's slice at ``index`` along ``dim`` (that axis removed): x[..., index, ...]."""
    check_tensor("select", x)
    ax = _axis("select", x, dim)
    n = x.shape[ax]
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not -n <= index < n:
        raise IndexError(f"select: index {index!r} is out of range for axis {ax} of length {n}")
    return getitem(x, (slice(None),) * ax + (int(index),))


def searchsorted(sorted_sequence, values, *, out_int32=True, right=False, side=None, sorter=None):
    """Where ``values`` would go in ``sorted_sequence`` (1-d, or [..., M] with
    values [..., K] over the same leading axes) to keep it sorted: the count of
    elements below each value (``right`` / side="right": at or below); NaN sorts
    last.  int32 (``out_int32`` is accepted), computed on the device with M
    comparisons per value."""
    seq = sorted_sequence
    check_tensor("searchsorted", seq)
    if side is not None:
        if side not in ("left", "right"):
            raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
        if right and side == "left":
            raise ValueError("searchsorted: right=True and side='left' disagree")
        right = side == "right"
    if sorter is not None:
        from .shape import take_along_dim
        seq = take_along_dim(seq, sorter, -1)
    scalar = not isinstance(values, Tensor) and np.ndim(values) == 0
    v = values if isinstance(values, Tensor) else Tensor(seq.backend.from_numpy(
        np.asarray(values, np.float64).reshape(np.shape(values)), seq.dtype), seq.backend)
    same_device("searchsorted", seq, v)
    if seq.ndim == 0:
        raise ValueError("searchsorted: sorted_sequence must have at least 1 dimension")
    if seq.ndim > 1 and (v.ndim != seq.ndim or v.shape[:-1] != seq.shape[:-1]):
        raise ValueError(f"searchsorted: values must share the sequence's leading axes {list(seq.shape[:-1])}, "
                         f"got shape {list(v.shape)}")
    seq, v = seq.detach(), v.detach()
    s = seq.unsqueeze(-2) if seq.ndim > 1 else seq
    cmp = (le if right else lt)(s, v.unsqueeze(-1))
    count = sum(to(cmp, dtype="f32") if cmp.dtype == "f16" else cmp, -1)
    count = where(isnan(v), float(seq.shape[-1]), count)
    out = to(count, dtype="i32")
    return reshape(out, ()) if scalar else out


def bucketize(input, boundaries, *, out_int32=True, right=False):
    """The bucket of each element among 1-d ``boundaries``: searchsorted(boundaries,
    input) (``right``: boundaries[i - 1] <= x < boundaries[i])."""
    check_tensor("bucketize", boundaries)
    if boundaries.ndim != 1:
        raise ValueError(f"bucketize: boundaries must be 1-d, got shape {list(boundaries.shape)}")
    return searchsorted(boundaries, input, right=right)


def bincount(x, weights=None, minlength=0):
    """How often each value 0, 1, ... occurs in the 1-d non-negative integers x (a
    host array or an int32 tensor, read back for its maximum): int32, or the sums of
    ``weights`` (differentiable) at each value; at least ``minlength`` long."""
    host = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
    if host.ndim != 1 or (host.size and not np.issubdtype(host.dtype, np.integer)) or (host.size and host.min() < 0):
        raise ValueError(f"bincount: expected 1-d non-negative integers, got {host.dtype} {list(host.shape)}")
    n = builtins.max(int(host.max()) + 1 if host.size else 0, int(minlength))
    if weights is None:
        from ..tensor import tensor
        dev = x.device if isinstance(x, Tensor) else None
        return tensor(np.bincount(host, minlength=n).astype(np.int32), dtype="i32", device=dev)
    check_tensor("bincount", weights)
    if weights.shape != host.shape:
        raise ValueError(f"bincount: weights must have the input's shape {list(host.shape)}, got "
                         f"{list(weights.shape)}")
    if host.size == 0:
        return Tensor(weights.backend.constant((n,), 0.0, weights.dtype), weights.backend)
    idx = weights.backend.from_numpy(host.astype(np.int32), "i32")
    return reshape(_put_rows(reshape(weights, (host.size, 1)), 0, idx, host.size, n), (n,))


def histc(x, bins=100, min=0.0, max=0.0):
    """A histogram of x's elements in ``bins`` equal bins over [min, max] (both 0:
    x's own range, read back; a constant x: [x - 1, x + 1]); elements outside and
    NaN are left out, max falls in the last bin.  In x's dtype; not
    differentiable."""
    check_tensor("histc", x)
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"histc: bins must be a positive int, got {bins!r}")
    lo, hi = float(min), float(max)
    if lo == hi:
        from .shape import amax, amin
        fin = x.detach()
        lo, hi = (float(amin(fin).item()), float(amax(fin).item())) if x.size else (0.0, 0.0)
        if lo == hi:
            lo, hi = lo - 1.0, hi + 1.0
    if not lo < hi:
        raise ValueError(f"histc: max must exceed min, got min={min} and max={max}")
    xd = reshape(to(x.detach(), dtype="f32") if x.dtype == "f16" else x.detach(), (x.size,))
    inside = mul(ge(xd, lo), le(xd, hi))
    b = floor(affine(xd, bins / (hi - lo), -lo * bins / (hi - lo)))
    b = where(eq(xd, hi), float(bins - 1), b)
    idx = to(where(inside, b, 0.0), dtype="i32")
    be = x.backend
    counts = be.index_add_rows(be.reshape(inside.handle, (x.size, 1)), be.reshape(idx.handle, (x.size,)), int(bins))
    out = Tensor(be.reshape(counts, (int(bins),)), be)
    return to(out, dtype=x.dtype) if out.dtype != x.dtype else out


def _unique_host(op, x, dim):
    if not (isinstance(x, Tensor) and x.dtype == "i32"):  # (int32 values as they are)
        check_tensor(op, x)
    h = x.numpy()
    if dim is None:
        return h.reshape(-1), None
    ax = x._dim(op, dim)
    return np.moveaxis(h, ax, 0), ax


def _unique_out(x, vals, ax, inverse, counts, return_inverse, return_counts, inv_shape):
    from ..tensor import tensor
    v = tensor(vals if ax is None else np.moveaxis(vals, 0, ax), dtype=x.dtype, device=x.device)
    out = [v]
    if return_inverse:
        out.append(tensor(inverse.reshape(inv_shape).astype(np.int32), dtype="i32", device=x.device))
    if return_counts:
        out.append(tensor(counts.astype(np.int32), dtype="i32", device=x.device))
    return out[0] if len(out) == 1 else tuple(out)


def unique(x, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """x's distinct elements (or slices along ``dim``), sorted, with the int32
    inverse (where each element went) and counts when asked; computed on the host
    (the count is the values'), not differentiable.  NaNs are distinct, as
    PyTorch's."""
    h, ax = _unique_host("unique", x, dim)
    if ax is None:
        vals, inv, cnt = np.unique(h, return_inverse=True, return_counts=True, equal_nan=False)
    else:
        vals, inv, cnt = np.unique(h.reshape(h.shape[0], -1), axis=0, return_inverse=True, return_counts=True)
        vals = vals.reshape((-1,) + h.shape[1:])
    return _unique_out(x, vals, ax, np.asarray(inv), cnt, return_inverse, return_counts,
                       x.shape if ax is None else (x.shape[ax],))


def unique_consecutive(x, return_inverse=False, return_counts=False, dim=None):
    """x's elements (or slices along ``dim``) with runs of equal neighbours kept
    once, in order; inverse and counts as ``unique``'s (host, not differentiable)."""
    h, ax = _unique_host("unique_consecutive", x, dim)
    rows = h.reshape(h.shape[0], -1) if h.ndim > 1 else h.reshape(-1, 1)
    n = rows.shape[0]
    start = np.ones(n, bool)
    if n > 1:
        start[1:] = np.any(rows[1:] != rows[:-1], axis=1)
    first = np.flatnonzero(start)
    inv = np.cumsum(start) - 1
    cnt = np.diff(np.append(first, n))
    return _unique_out(x, h[first], ax, inv, cnt, return_inverse, return_counts,
                       x.shape if ax is None else (x.shape[ax],))


__all__ = ["index_put", "masked_scatter", "index_add", "index_copy", "index_fill", "scatter", "scatter_reduce", "masked_select", "nonzero",
           "argwhere", "take", "select", "searchsorted", "bucketize", "bincount", "histc", "unique",
           "unique_consecutive"]
