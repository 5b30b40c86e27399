"""Reductions and shape ops: sum, mean, var, std, max, min, argmax, argmin,
logsumexp, reshape, transpose, broadcast_to, cat, stack, split, chunk, unbind,
indexing."""
from __future__ import annotations

import builtins
import numbers
from collections import namedtuple

import numpy as np

from ..autograd import SliceGrad
from ..tensor import Tensor, zeros
from .._names import torch_kwargs
from ._core import as_tensor, broadcast_shape, check_tensor, int_as_f32, make, make_pieces, norm_axes, same_device


def _keep_shape(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


@int_as_f32
@torch_kwargs
def sum(x, axis=None, keepdims=False):
    check_tensor("sum", x)
    be, shape = x.backend, x.shape
    axes = norm_axes("sum", axis, x.ndim)
    out = be.reduce("sum", x.handle, axes, keepdims)
    return make(out, be, (x,), lambda g: (
        be.broadcast_to(be.reshape(g, _keep_shape(shape, axes)), shape),),
        vjp=lambda g: (broadcast_to(reshape(g, _keep_shape(shape, axes)), shape),))


def _scaled_sum(x, axes, keepdims, scale):
    """sum(x over axes) * scale, summed and scaled in f32 before it is stored in x's
    dtype: an f16 mean of many values must not overflow on its way (PyTorch's
    mean of 100000 f16 ones is 1, a sum in halves would be inf)."""
    be, shape = x.backend, x.shape
    out = be.unary("affine", be.reduce("sum", x.handle, axes, keepdims, f32=True), float(scale), 0.0)
    if x.dtype == "f16":
        out = be.cast(out, "f16")
    def vjp(g):
        from .elementwise import affine
        return (broadcast_to(reshape(affine(g, float(scale)), _keep_shape(shape, axes)), shape),)
    return make(out, be, (x,), lambda g: (be.broadcast_to(be.unary(  # (scaled before it is spread)
        "affine", be.reshape(g, _keep_shape(shape, axes)), float(scale), 0.0), shape),), vjp=vjp)


@torch_kwargs
def mean(x, axis=None, keepdims=False):
    check_tensor("mean", x)
    axes = norm_axes("mean", axis, x.ndim)
    n = int(np.prod([x.shape[a] for a in axes])) if axes else 1
    if n == 0:
        raise ValueError(f"mean: cannot average over an empty axis of shape {list(x.shape)}")
    return _scaled_sum(x, axes, keepdims, 1.0 / n)


@torch_kwargs
def var(x, axis=None, keepdims=False, correction=1):
    """Variance along axes: sum((x - mean)^2) / (n - correction), two passes (no
    E[x^2] - E[x]^2 cancellation).  correction=1 (Bessel's, PyTorch's default);
    n <= correction gives NaN or inf, as in PyTorch; f16 computed in f32 (squared
    deviations below 2e-4 would underflow)."""
    check_tensor("var", x)
    if x.dtype == "f16":
        from .elementwise import to
        return to(var(to(x, dtype="f32"), axis=axis, keepdims=keepdims, correction=correction), dtype="f16")
    if not isinstance(correction, (int, float)) or isinstance(correction, bool) or correction < 0:
        raise ValueError(f"var: correction must be a non-negative number, got {correction!r}")
    axes = norm_axes("var", axis, x.ndim)
    n = int(np.prod([x.shape[a] for a in axes])) if axes else 1
    if n == 0:
        raise ValueError(f"var: cannot take the variance over an empty axis of shape {list(x.shape)}")
    from .elementwise import mul, sub
    d = sub(x, mean(x, axes, keepdims=True))
    dof = builtins.max(n - correction, 0)  # (PyTorch's: no fewer than 0 degrees of freedom -- 0 / 0 NaN, s / 0 inf)
    return _scaled_sum(mul(d, d), axes, keepdims, 1.0 / dof if dof else float("inf"))


@torch_kwargs
def std(x, axis=None, keepdims=False, correction=1):
    """sqrt(var(x, axis, keepdims, correction)); the gradient of a zero std (a
    constant) is 0, as PyTorch's; f16 in f32 (its variance may underflow where the
    std does not)."""
    check_tensor("std", x)
    from .elementwise import sqrt0, to
    if x.dtype == "f16":
        return to(std(to(x, dtype="f32"), axis=axis, keepdims=keepdims, correction=correction), dtype="f16")
    return sqrt0(var(x, axis, keepdims=keepdims, correction=correction))


@int_as_f32
@torch_kwargs
def amax(x, axis=None, keepdims=False):
    """Maximum along axes (PyTorch's amax, NumPy's max; values only); the gradient
    goes to the arg-max (split evenly on ties, as PyTorch's amax)."""
    check_tensor("amax", x)
    be, shape = x.backend, x.shape
    axes = norm_axes("amax", axis, x.ndim)
    if x.size == 0 and any(shape[a] == 0 for a in axes):  # (an empty axis kept: an empty result)
        raise ValueError(f"amax: cannot reduce an empty axis of shape {list(shape)}")
    out = be.reduce("max", x.handle, axes, keepdims)

    def weights():  # (the arg-max's share of the gradient: a constant of the forward)
        ks = _keep_shape(shape, axes)
        mask = be.binary("eq", x.handle, be.reshape(out, ks))
        return be.binary("div", mask, be.reduce("sum", mask, axes, True)), ks

    def backward(g):
        w, ks = weights()
        return (be.binary("mul", w, be.reshape(g, ks)),)

    def vjp(g):
        from .elementwise import mul
        w, ks = weights()
        return (mul(Tensor(w, be), reshape(g, ks)),)

    return make(out, be, (x,), backward, vjp=vjp)


@int_as_f32
@torch_kwargs
def argmax(x, axis=None, keepdims=False):
    """Index of the maximum along ``axis`` (the first one; a NaN counts as the
    maximum, as in NumPy and PyTorch), or in the flattened tensor when ``axis`` is
    None: an int32 tensor on x's device, not differentiable -- e.g. accuracy on
    the device, ``(vg.argmax(logits, 1).float() == labels.float()).float().mean()``."""
    check_tensor("argmax", x)
    be, shape = x.backend, x.shape
    if axis is None:
        if x.size == 0:
            raise ValueError("argmax: empty tensor")
        out = be.argmax_rows(be.reshape(x.handle, (1, x.size)))
        return Tensor(be.reshape(out, (1,) * x.ndim if keepdims else ()), be)
    if isinstance(axis, (tuple, list)):
        raise TypeError(f"argmax: axis must be an int or None, got {axis!r}")
    (ax,) = norm_axes("argmax", axis, x.ndim) or (0,)
    C = shape[ax] if x.ndim else 1
    if C == 0:
        raise ValueError(f"argmax: axis {axis} of shape {list(shape)} is empty")
    rest = tuple(n for i, n in enumerate(shape) if i != ax)
    h = x.handle if x.ndim == 0 or ax == x.ndim - 1 else \
        be.permute(x.handle, tuple(i for i in range(x.ndim) if i != ax) + (ax,))
    rows = int(np.prod(rest)) if rest else 1
    out = be.argmax_rows(be.reshape(h, (rows, C))) if rows else be.from_numpy(np.zeros(0, np.int32), "i32")
    return Tensor(be.reshape(out, _keep_shape(shape, (ax,)) if keepdims and x.ndim else rest), be)


def reshape(x, shape, *, _transient=False):
    """Same elements, new shape; one dimension may be -1.  (``_transient``: a view an
    op slices at once and drops -- diagonal's --, not counted as sharing x's storage,
    which would refuse x recorded in-place changes after.)"""
    if not hasattr(x, "shape"):
        raise TypeError(f"reshape: expected a vkgrad Tensor, got {type(x).__name__}")
    shape = tuple(int(s) for s in (shape if isinstance(shape, (tuple, list)) else (shape,)))
    n = x.size
    if shape.count(-1) > 1:
        raise ValueError(f"reshape: only one dimension can be -1, got {list(shape)}")
    if -1 in shape:
        rest = int(np.prod([s for s in shape if s != -1]))
        if rest == 0 or n % rest:
            raise ValueError(f"reshape: cannot reshape {list(x.shape)} ({n} elements) to {list(shape)}")
        shape = tuple(n // rest if s == -1 else s for s in shape)
    if any(s < 0 for s in shape) or int(np.prod(shape)) != n:
        raise ValueError(f"reshape: cannot reshape {list(x.shape)} ({n} elements) to {list(shape)}")
    be, old = x.backend, x.shape
    h = be.reshape(x.handle, shape)
    return make(h, be, (x,), lambda g: (be.reshape(g, old),),
                view_of=x if not _transient and be.shares_storage(h, x.handle) else None,
                vjp=lambda g: (reshape(g, old),))


def transpose(x, axes=None, dim1=None):
    """NumPy's transpose: the axes reversed (swapped for 2-D), or permuted by the
    tuple ``axes``; PyTorch's ``transpose(x, dim0, dim1)``: those two axes swapped."""
    if not hasattr(x, "shape"):
        raise TypeError(f"transpose: expected a vkgrad Tensor, got {type(x).__name__}")
    nd = x.ndim
    if dim1 is not None:  # (PyTorch's two dims)
        if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in (axes, dim1)):
            raise TypeError(f"transpose: dim0 and dim1 must be ints, got {axes!r} and {dim1!r}")
        a, b = ((norm_axes("transpose", int(d), nd) or (0,))[0] for d in (axes, dim1))
        perm = list(range(nd))
        perm[a], perm[b] = perm[b], perm[a]
        axes = tuple(perm)
    if axes is None:
        axes = tuple(reversed(range(nd)))
    else:
        axes = tuple(a % nd if -nd <= a < nd else a for a in axes)
        if sorted(axes) != list(range(nd)):
            raise ValueError(f"transpose: axes {list(axes)} are not a permutation of "
                             f"{list(range(nd))} for shape {list(x.shape)}")
    if nd < 2:
        return x
    be = x.backend
    inv = tuple(np.argsort(axes))
    return make(be.permute(x.handle, axes), be, (x,), lambda g: (be.permute(g, inv),),
                vjp=lambda g: (transpose(g, inv),))


def _pieces(op, tensors):
    """The tensors of cat / stack as a checked list on one device, in one dtype: the
    widest float among them where they differ (PyTorch's promotion: f16 with f32 ->
    f32, int32 with a float -> that float; the casts differentiable)."""
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of tensors, got {type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{op}: expected at least one tensor, got an empty sequence")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: item {i} is a {type(t).__name__}, expected a vkgrad Tensor")
    same_device(op, *tensors)
    dts = {t.dtype for t in tensors}
    if len(dts) > 1:
        from .elementwise import to
        target = builtins.max(dts - {"i32"}, key=("f16", "f32", "f64").index)
        return [t if t.dtype == target else to(t, dtype=target) for t in tensors]
    return list(tensors)


def _slice_t(x, starts, steps, lens):
    """The strided block of x (starts, steps, lens per axis), recorded with a
    differentiable gradient (``_unslice_t``): the slicing pair of create_graph."""
    be, shape = x.backend, x.shape
    return make(be.slice(x.handle, starts, steps, lens), be, (x,),
                lambda g: (SliceGrad(shape, [(g, starts, steps)]),),
                vjp=lambda g: (_unslice_t(g, shape, starts, steps),))


def _unslice_t(g, shape, starts, steps):
    """Zeros of ``shape`` with g placed at the strided block (``_slice_t``'s gradient), recorded."""
    be, lens = g.backend, list(g.shape)
    return make(be.unslice(g.handle, shape, starts, steps), be, (g,), lambda h: (be.slice(h, starts, steps, lens),),
                vjp=lambda h: (_slice_t(h, starts, steps, lens),))


def _rows_gather_t(x2, idx, m):
    """Rows idx (m of them) of x2 [n, D], recorded; its gradient ``_rows_add_t``."""
    be, n = x2.backend, x2.shape[0]
    return make(be.gather_rows(x2.handle, idx), be, (x2,), lambda g: (be.index_add_rows(g, idx, n),),
                vjp=lambda g: (_rows_add_t(g, idx, n),))


def _rows_add_t(s2, idx, n):
    """s2's rows [m, D] added into n rows at idx, recorded; its gradient ``_rows_gather_t``."""
    be, m = s2.backend, s2.shape[0]
    return make(be.index_add_rows(s2.handle, idx, n), be, (s2,), lambda g: (be.gather_rows(g, idx),),
                vjp=lambda g: (_rows_gather_t(g, idx, m),))


def _cols_gather_t(x2, ih, n):
    """gather_cols of x2 [R, n] at ih [R, k], recorded; its gradient ``_cols_add_t``."""
    be = x2.backend
    return make(be.gather_cols(x2.handle, ih), be, (x2,), lambda g: (be.scatter_add_cols(g, ih, n),),
                vjp=lambda g: (_cols_add_t(g, ih, n),))


def _cols_add_t(s2, ih, n):
    """s2 [R, k] added into R rows of n columns at ih, recorded; its gradient ``_cols_gather_t``."""
    be = s2.backend
    return make(be.scatter_add_cols(s2.handle, ih, n), be, (s2,), lambda g: (be.gather_cols(g, ih),),
                vjp=lambda g: (_cols_gather_t(g, ih, n),))


@torch_kwargs
def cat(tensors, axis=0):
    """The tensors joined along ``axis`` (every other axis equal), as torch.cat and
    np.concatenate; each one's gradient is its slice of the output's."""
    ts = _pieces("cat", tensors)
    nd = ts[0].ndim
    if nd == 0:
        raise ValueError("cat: 0-d tensors cannot be joined; use stack")
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -nd <= axis < nd:
        raise ValueError(f"cat: axis {axis!r} is out of range for tensors with {nd} dimensions")
    ax = int(axis) % nd
    for i, t in enumerate(ts):
        if t.ndim != nd or t.shape[:ax] + t.shape[ax + 1:] != ts[0].shape[:ax] + ts[0].shape[ax + 1:]:
            raise ValueError(f"cat: tensor {i} has shape {list(t.shape)}, tensor 0 {list(ts[0].shape)}; "
                             f"all shapes must match except along axis {ax}")
    be = ts[0].backend
    shape = list(ts[0].shape)
    shape[ax] = int(np.sum([t.shape[ax] for t in ts]))
    starts, off = [], 0
    for t in ts:
        starts.append([0] * ax + [off] + [0] * (nd - ax - 1))
        off += t.shape[ax]
    ones = [1] * nd
    out = be.cat([t.handle for t in ts], ax)

    def backward(g):
        return tuple(be.slice(g, st, ones, list(t.shape)) for t, st in zip(ts, starts))

    return make(out, be, tuple(ts), backward,
                vjp=lambda g: tuple(_slice_t(g, st, ones, list(t.shape)) for t, st in zip(ts, starts)))


@torch_kwargs
def stack(tensors, axis=0):
    """The tensors (all of one shape) along a new axis ``axis`` (in [-ndim - 1,
    ndim]), as torch.stack and np.stack."""
    ts = _pieces("stack", tensors)
    for i, t in enumerate(ts):
        if t.shape != ts[0].shape:
            raise ValueError(f"stack: tensor {i} has shape {list(t.shape)}, tensor 0 {list(ts[0].shape)}; "
                             "all must have the same shape")
    nd = ts[0].ndim + 1
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -nd <= axis < nd:
        raise ValueError(f"stack: axis {axis!r} is out of range for a result with {nd} dimensions")
    ax = int(axis) % nd
    return cat([reshape(t, t.shape[:ax] + (1,) + t.shape[ax:]) for t in ts], ax)


def getitem(x, index):
    """Indexing: integers, slices with positive steps, ``...`` and ``None``, plus one
    advanced index -- an integer array or list, an int32 tensor, or a boolean mask
    of its axis (or of the whole tensor: ``x[x > 0]``, read to the host) -- or
    several integer ones broadcast together (``q[arange(B), actions]``), taken by
    index_select (PyTorch's placement: their axes where they stood when adjacent,
    first when a slice stands between them).

    The result is a copy (tensors here are always contiguous); the gradient flows
    back into the selected positions (repeats summed)."""
    if not isinstance(index, tuple):
        index = (index,)
    adv = [k for k, i in enumerate(index) if _advanced(i)]
    masks = {k: m for k in adv for m in (_mask_of(index[k]),) if m is not None}
    consumed = [0 if i is None or i is Ellipsis else masks[k].ndim if k in masks else 1  # (axes of x each takes)
                for k, i in enumerate(index)]
    if adv and builtins.sum(1 for i in index if i is Ellipsis) == 1 and builtins.sum(consumed) <= x.ndim:
        # ... written out as the slices it stands for (PyTorch's: one spanning no axis leaves the advanced
        # indices on either side adjacent)
        at = next(k for k, i in enumerate(index) if i is Ellipsis)
        return getitem(x, index[:at] + (slice(None),) * (x.ndim - builtins.sum(consumed)) + index[at + 1:])
    if masks and (len(adv) > 1 or any(m.ndim > 1 for m in masks.values())) and not (
            len(index) == 1 and masks[0].shape == x.shape):
        # boolean masks among other advanced indices, or of several axes: their nonzero positions, one
        # integer array per axis they cover (PyTorch's rule); a whole-tensor mask keeps its own path
        expanded = []
        for k, i in enumerate(index):
            if k not in masks:
                expanded.append(i)
                continue
            ax = builtins.sum(consumed[:k])  # (the axis of x the mask starts at: no ... is left here)
            m = masks[k]
            if m.shape != x.shape[ax:ax + m.ndim]:
                raise IndexError(f"indexing: the boolean mask of shape {list(m.shape)} at index {k} does not match "
                                 f"the axes {list(x.shape[ax:ax + m.ndim])} it covers (shape {list(x.shape)})")
            expanded.extend(np.nonzero(m))
        return getitem(x, tuple(expanded))
    if len(adv) > 1:
        span = range(adv[0], adv[-1] + 1)
        if all(k in adv or isinstance(index[k], (int, np.integer)) and not isinstance(index[k], bool) for k in span):
            # integers between arrays join them (0-d indices broadcast along), as PyTorch's
            index = tuple(np.asarray(i) if k in span and k not in adv else i for k, i in enumerate(index))
            adv = list(span)
        if adv != list(span):  # apart: their axes first (NumPy's and PyTorch's rule)
            y = getitem(x, tuple(slice(None) if k in adv else i for k, i in enumerate(index)))
            axes = [_axis_of(x, index, k) for k in adv]
            y = transpose(y, tuple(axes) + tuple(d for d in range(y.ndim) if d not in axes))
            return _joint_index(y, tuple(index[k] for k in adv), list(range(len(adv))))
        return _joint_index(x, index, adv)
    if adv:
        return _advanced_index(x, index, adv[0])
    if any(not (i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer)))
           for i in index) or any(isinstance(i, bool) for i in index):
        raise TypeError(f"indexing: only integers, slices, ... and None are supported, got "
                        f"{index!r} for shape {list(x.shape)}")
    n_real = len([i for i in index if i is not None and i is not Ellipsis])
    if len([i for i in index if i is Ellipsis]) > 1:
        raise IndexError("indexing: only one ... is allowed")
    if n_real > x.ndim:
        raise IndexError(f"indexing: {n_real} indices for a tensor of shape {list(x.shape)}")
    expanded = []
    for i in index:
        if i is Ellipsis:
            expanded.extend([slice(None)] * (x.ndim - n_real))
        else:
            expanded.append(i)
    if Ellipsis not in index:
        expanded.extend([slice(None)] * (x.ndim - n_real))
    starts, steps, lens, final = [], [], [], []
    d = 0
    for i in expanded:
        if i is None:
            final.append(1)
            continue
        size = x.shape[d]
        if isinstance(i, slice):
            start, stop, step = i.indices(size)
            if step <= 0:
                raise ValueError(f"indexing: negative slice steps are not supported (axis {d} "
                                 f"of shape {list(x.shape)})")
            n = len(range(start, stop, step))
            starts.append(start if n else 0)
            steps.append(step)
            lens.append(n)
            final.append(n)
        else:
            k = int(i)
            if not -size <= k < size:
                raise IndexError(f"indexing: index {k} is out of range for axis {d} with size {size}")
            starts.append(k % size)
            steps.append(1)
            lens.append(1)
        d += 1
    be, shape = x.backend, x.shape
    out = be.reshape(be.slice(x.handle, starts, steps, lens), tuple(final))
    return make(out, be, (x,), lambda g: (SliceGrad(shape, [(be.reshape(g, tuple(lens)), starts, steps)]),),
                vjp=lambda g: (_unslice_t(reshape(g, tuple(lens)), shape, starts, steps),))


def _mask_of(i):
    """A boolean index as a host mask -- a NumPy bool array or list, or a float tensor
    (vkgrad's booleans: a comparison's 1.0 / 0.0, read to the host) -- else None."""
    if isinstance(i, Tensor):
        return None if i.dtype == "i32" else i.numpy() != 0
    if isinstance(i, (list, np.ndarray)):
        a = np.asarray(i)
        return a if a.dtype == bool and a.ndim > 0 else None
    return None


def _advanced(i):
    if isinstance(i, Tensor):
        return True
    if isinstance(i, (list, np.ndarray)):
        return True
    return False


def _axis_of(x, index, k):
    """The axis that index[k] stands for once the basic indices before it have
    been applied (integers drop an axis, None adds one, ... spans the rest)."""
    before = index[:k]
    if any(j is Ellipsis for j in before):  # (not `in`: a NumPy index compares elementwise)
        real = len([j for j in index if j is not None and j is not Ellipsis])
        return len([j for j in before if j is not Ellipsis and not isinstance(j, (int, np.integer))]) + x.ndim - real
    return len([j for j in before if not isinstance(j, (int, np.integer))])


def _joint_index(x, index, adv):
    """x[..., i1, i2, ...] with adjacent integer array indices (PyTorch's
    ``q[arange(B), actions]``): broadcast together, they pick elements of the
    merged axes -- one index_select of flat positions (device int32 indices: f32
    arithmetic on the device, exact below 2**24; they must lie in range, negatives
    counted from the end)."""
    from .elementwise import to
    idx = [index[k] if isinstance(index[k], Tensor) else np.asarray(index[k]) for k in adv]
    if any(isinstance(i, Tensor) and i.dtype != "i32" or not isinstance(i, Tensor) and np.asarray(i).dtype.kind
           not in "iu" for i in idx):
        raise IndexError("indexing: several advanced indices must all be integers (a boolean mask goes alone)")
    y = getitem(x, index[:adv[0]] + (slice(None),) * len(adv) + index[adv[-1] + 1:])
    ax = _axis_of(x, index, adv[0])
    sizes = y.shape[ax:ax + len(adv)]
    strides = [int(np.prod(sizes[j + 1:])) for j in range(len(sizes))]
    merged = reshape(y, y.shape[:ax] + (int(np.prod(sizes)),) + y.shape[ax + len(adv):])
    try:
        bshape = np.broadcast_shapes(*(tuple(i.shape) for i in idx))
    except ValueError:
        raise IndexError(f"indexing: index shapes {[list(i.shape) for i in idx]} do not broadcast together") from None
    if not any(isinstance(i, Tensor) and i.device != "cpu" for i in idx):
        hs = [np.asarray(i.numpy() if isinstance(i, Tensor) else i).astype(np.int64) for i in idx]
        for h, n, k in zip(hs, sizes, adv):
            if h.size and (h.min() < -n or h.max() >= n):
                raise IndexError(f"indexing: index out of range for an axis of length {n} (position {k}, shape "
                                 f"{list(x.shape)})")
        flat = builtins.sum(np.broadcast_to(h % builtins.max(n, 1), bshape) * st for h, n, st in zip(hs, sizes, strides))
        flat = np.asarray(flat).reshape(-1)
    else:
        if int(np.prod(sizes)) >= 1 << 24:
            raise IndexError(f"indexing: device indices over {int(np.prod(sizes))} positions (f32 arithmetic is exact "
                             "below 2**24): read them to the host first")
        dev = next(i.device for i in idx if isinstance(i, Tensor) and i.device != "cpu")
        from ..tensor import tensor
        parts = [to(i if isinstance(i, Tensor) and i.device == dev else
                    tensor(np.asarray(i.numpy() if isinstance(i, Tensor) else i), dtype="i32", device=dev), dtype="f32")
                 for i in idx]
        parts = [_from_end_f32(p_, n) for p_, n in zip(parts, sizes)]
        f = parts[0] * float(strides[0])
        for p_, st in zip(parts[1:], strides[1:]):
            f = f + p_ * float(st)
        flat = to(broadcast_to(f, bshape) if f.shape != tuple(bshape) else f, dtype="i32").reshape((-1,))
    out = index_select(merged, ax, flat)
    return reshape(out, merged.shape[:ax] + tuple(bshape) + merged.shape[ax + 1:])


def _advanced_index(x, index, k):
    """x[index] where index[k] is an array / tensor of integers or booleans."""
    i = index[k]
    if isinstance(i, Tensor):  # int32 indices stay on their device; a float tensor (a comparison's
        # 1.0 / 0.0: vkgrad's booleans) is a mask, read to the host
        host = None if i.dtype == "i32" and i.device != "cpu" else i.numpy()
        if host is not None and i.dtype != "i32":
            host = host != 0
    else:
        host = np.asarray(i)
    if host is not None and host.dtype == bool:
        if len(index) == 1 and host.shape == x.shape and x.ndim > 1:  # a whole-tensor mask: the 1-d selection
            return index_select(reshape(x, (x.size,)), 0, np.flatnonzero(host))
        if host.ndim != 1:
            raise IndexError(f"indexing: a boolean mask must cover one axis or the whole tensor, got shape "
                             f"{list(host.shape)} for shape {list(x.shape)}")
        host = np.flatnonzero(host)
    elif host is not None and host.size and host.dtype.kind not in "iu":
        raise IndexError(f"indexing: array indices must be integers or booleans, got {host.dtype}")
    basic = index[:k] + (slice(None),) + index[k + 1:]
    y = getitem(x, basic)
    ax = _axis_of(x, index, k)
    n = y.shape[ax]
    idx = host if host is not None else i
    shape = tuple(idx.shape)
    if host is not None:
        if host.size and (host.min() < -n or host.max() >= n):
            raise IndexError(f"indexing: index out of range for axis {ax} of length {n} (shape {list(x.shape)})")
        flat = host.reshape(-1) % builtins.max(n, 1)
    else:
        flat = from_end(i.reshape((i.size,)), n)
    out = index_select(y, ax, flat)
    return out if len(shape) == 1 else reshape(out, y.shape[:ax] + shape + y.shape[ax + 1:])


def from_end(i, n):
    """Device int32 indices into an axis of length ``n`` with the negative ones
    counted from its end, as PyTorch's ``x[t]`` / ``take``: i + n where i < 0, on
    the device (no host read; f32 arithmetic, exact for n below 2**24 -- longer axes
    keep the indices as they are)."""
    from .elementwise import to
    return i if n >= 1 << 24 else to(_from_end_f32(to(i, dtype="f32"), n), dtype="i32")


def _from_end_f32(f, n):
    """Indices held in f32 with the negative ones counted from the end of n: f + n there."""
    from .elementwise import lt
    return f + lt(f, 0.0) * float(n)


@int_as_f32
def broadcast_to(x, shape):
    """x repeated along its size-1 (or missing leading) axes to ``shape`` (NumPy's
    rules; PyTorch's ``expand`` takes -1 for a kept size: Tensor.expand): a copy,
    its gradient summed back to x's shape."""
    check_tensor("broadcast_to", x)
    shape = tuple(int(n) for n in shape)
    if len(shape) < x.ndim or any(n < 0 for n in shape) or any(
            d != n and d != 1 for d, n in zip(x.shape[::-1], shape[::-1])):
        raise ValueError(f"broadcast_to: shape {list(x.shape)} cannot be broadcast to {list(shape)} "
                         "(each axis must match or be 1; new axes go in front)")
    if x.shape == shape:
        return x
    be = x.backend
    from ._core import unbroadcast
    from .elementwise import _sum_to
    return make(be.broadcast_to(x.handle, shape), be, (x,), lambda g: (unbroadcast(be, g, x.shape),),
                vjp=lambda g: (_sum_to(g, x.shape),))


def _sizes(op, x, ax, sizes):
    """The pieces' sizes along axis ``ax`` summing to its length, checked."""
    n = x.shape[ax]
    if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0 for s in sizes) \
            or int(np.sum(sizes)) != n:
        raise ValueError(f"{op}: sizes {list(sizes)} must be non-negative integers summing to {n}, the length "
                         f"of axis {ax} of shape {list(x.shape)}")
    return [int(s) for s in sizes]


def _axis(op, x, axis):
    if x.ndim == 0:
        raise ValueError(f"{op}: a 0-d tensor has no axis to split")
    (ax,) = norm_axes(op, int(axis), x.ndim)
    return ax


def _split_at(x, ax, sizes):
    """The pieces of x of ``sizes`` along axis ``ax`` (copies).  Their gradients meet
    in one cat along ax (zeros for pieces that got none): x's gradient is written
    once, where a slice's gradient per piece would spread each to x's shape."""
    be, nd = x.backend, x.ndim
    starts = np.cumsum([0] + sizes[:-1])
    ones, shapes = [1] * nd, [x.shape[:ax] + (n,) + x.shape[ax + 1:] for n in sizes]
    handles = [be.slice(x.handle, [0] * ax + [int(a)] + [0] * (nd - ax - 1), ones, list(sh))
               for a, sh in zip(starts, shapes)]
    dtype = be.dtype_of(x.handle)

    def join(parts):
        return be.cat([parts[i] if i in parts else be.constant(sh, 0.0, dtype) for i, sh in enumerate(shapes)], ax)

    def tjoin(parts):
        return cat([parts[i] if i in parts else Tensor(be.constant(sh, 0.0, dtype), be) for i, sh in enumerate(shapes)],
                   ax)
    return make_pieces(handles, be, x, join, tjoin)


@int_as_f32
@torch_kwargs
def split(x, split_size_or_sections, axis=0):
    """PyTorch's split: pieces of ``split_size_or_sections`` along ``axis`` (the last
    piece shorter where the length is not a multiple), or of the sizes in a list.
    A tuple of tensors, each with its gradient back into x, and each x's view
    (``_as_views``)."""
    check_tensor("split", x)
    ax = _axis("split", x, axis)
    n = x.shape[ax]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = _sizes("split", x, ax, split_size_or_sections)
    else:
        k = split_size_or_sections
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"split: split_size must be a positive integer, got {k!r}")
        sizes = [int(k)] * (n // k) + ([n % k] if n % k or n == 0 else [])
    starts = np.cumsum([0] + sizes[:-1])
    return _as_views(x, _split_at(x, ax, sizes),
                     [(slice(None),) * ax + (slice(int(a), int(a) + n),) for a, n in zip(starts, sizes)])


def _as_views(x, pieces, indices):
    """Pieces of x (a split's, unbind's), each linked to x as its view at x[index]:
    an in-place change of a piece reaches x and x's reaches the pieces, as
    PyTorch's (``q, k, v = qkv.chunk(3, -1); q.mul_(scale)`` scales qkv)."""
    from ..tensor import _index_view
    for p, idx in zip(pieces, indices):
        _index_view(p, x, idx)
    return pieces


@int_as_f32
@torch_kwargs
def chunk(x, chunks, axis=0):
    """PyTorch's chunk: ``chunks`` pieces of ceil(length / chunks) along ``axis``
    (the last shorter; fewer pieces where the length runs out)."""
    check_tensor("chunk", x)
    if isinstance(chunks, bool) or not isinstance(chunks, (int, np.integer)) or chunks < 1:
        raise ValueError(f"chunk: chunks must be a positive integer, got {chunks!r}")
    ax = _axis("chunk", x, axis)
    return split(x, builtins.max(1, -(-x.shape[ax] // int(chunks))), ax)


@int_as_f32
@torch_kwargs
def unbind(x, axis=0):
    """The slices of x along ``axis``, that axis removed (PyTorch's unbind); their
    gradients meet in one write of x's (split's)."""
    check_tensor("unbind", x)
    ax = _axis("unbind", x, axis)
    shape = x.shape[:ax] + x.shape[ax + 1:]
    return _as_views(x, tuple(reshape(t, shape) for t in _split_at(x, ax, [1] * x.shape[ax])),
                     [(slice(None),) * ax + (i,) for i in range(x.shape[ax])])


@int_as_f32
@torch_kwargs
def amin(x, axis=None, keepdims=False):
    """Minimum along axes (NaN wins, as in NumPy and PyTorch; values only); the
    gradient goes to the arg-min (split evenly on ties): -amax(-x)."""
    check_tensor("amin", x)
    from .elementwise import neg
    return neg(amax(neg(x), axis, keepdims))


@int_as_f32
@torch_kwargs
def argmin(x, axis=None, keepdims=False):
    """Index of the minimum along ``axis`` (the first; a NaN counts as it, as in
    NumPy and PyTorch), or in the flattened tensor: int32, not differentiable."""
    check_tensor("argmin", x)
    from .elementwise import neg
    return argmax(neg(x), axis, keepdims)


@torch_kwargs
def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) along axes, shifted by the maximum (no overflow): the
    gradient is softmax(x) over those axes; rows of -inf give -inf, a +inf +inf."""
    check_tensor("logsumexp", x)
    from .elementwise import abs, add, exp, log, lt, sub, where
    axes = norm_axes("logsumexp", axis, x.ndim)
    m = amax(x, axes, keepdims=True).detach()
    m = where(lt(abs(m), float("inf")), m, 0.0)  # an infinite (or NaN) maximum shifts by 0
    out = add(log(sum(exp(sub(x, m)), axes, keepdims=True)), m)
    return out if keepdims else reshape(out, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def _take(x, ax, index, key=None):
    """x's slices along axis ``ax`` at ``index`` (host ints, uploaded once per
    ``key`` when given; or an int32 tensor on x's device): the backend's row gather
    with that axis first, its gradient the rows' index_add (repeats summed)."""
    be = x.backend
    n = x.shape[ax]
    perm = (ax,) + tuple(i for i in range(x.ndim) if i != ax)
    inv = tuple(int(i) for i in np.argsort(perm))
    rest = tuple(x.shape[i] for i in perm[1:])
    D = int(np.prod(rest))
    if isinstance(index, Tensor):
        idx, m = be.reshape(index.handle, (index.size,)), index.size
    else:
        host = np.asarray(index, np.int32).reshape(-1)
        idx = be.host_constant(key, lambda: host, "i32") if key is not None else be.from_numpy(host, "i32")
        m = host.size
    xt = x.handle if ax == 0 else be.permute(x.handle, perm)
    out = be.reshape(be.gather_rows(be.reshape(xt, (n, D)), idx), (m,) + rest)

    def backward(g):
        gt = g if ax == 0 else be.permute(g, perm)
        s = be.reshape(be.index_add_rows(be.reshape(gt, (m, D)), idx, n), (n,) + rest)
        return (s if ax == 0 else be.permute(s, inv),)

    def vjp(g):
        gt = g if ax == 0 else transpose(g, perm)
        s_ = reshape(_rows_add_t(reshape(gt, (m, D)), idx, n), (n,) + rest)
        return (s_ if ax == 0 else transpose(s_, inv),)

    return make(out if ax == 0 else be.permute(out, inv), be, (x,), backward, vjp=vjp)


@int_as_f32
@torch_kwargs
def index_select(x, axis, index):
    """PyTorch's index_select: x's slices along ``axis`` at ``index`` (1-d ints on the
    host, checked against the axis's length, or an int32 tensor on x's device, where
    one out of range gives NaN rows, as embedding); the gradient sums repeats."""
    check_tensor("index_select", x)
    ax = _axis("index_select", x, axis)
    if isinstance(index, Tensor):
        same_device("index_select", x, index)
        if index.dtype != "i32" or index.ndim > 1:
            raise ValueError(f"index_select: index must be 1-d int32, got {index.dtype} {list(index.shape)}")
        return _take(x, ax, index)
    host = np.asarray(index)
    if host.ndim > 1 or (host.size and not np.issubdtype(host.dtype, np.integer)):
        raise ValueError(f"index_select: index must be 1-d integers, got {host.dtype} {list(host.shape)}")
    n = x.shape[ax]
    if host.size and (host.min() < -n or host.max() >= n):
        raise IndexError(f"index_select: index out of range for axis {ax} of length {n} (shape {list(x.shape)})")
    return _take(x, ax, host % builtins.max(n, 1))


@int_as_f32
@torch_kwargs
def flip(x, axis):
    """x reversed along ``axis`` (an int or a tuple of them; PyTorch's flip(dims))."""
    check_tensor("flip", x)
    x0 = x
    for ax in norm_axes("flip", axis, x.ndim):
        n = x.shape[ax]
        if n > 1:
            x = _take(x, ax, np.arange(n - 1, -1, -1), key=("flip", n))
    return _own(x, x0)


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


@int_as_f32
def pad(x, pad, mode="constant", value=0.0):
    """PyTorch's F.pad: ``pad`` (before, after) pairs from the last axis backwards;
    ``mode`` "constant" (``value``), "reflect" (mirrored, the edge not repeated; pads
    shorter than the axis), "replicate" (the edge repeated) or "circular" (wrapped;
    pads up to the axis's length); a negative pad crops, as PyTorch's (first for
    "constant" and "circular", the padded axis for the others); differentiable."""
    check_tensor("pad", x)
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {', '.join(_PAD_MODES)}, got {mode!r}")
    pads = tuple(pad)
    if len(pads) % 2 or len(pads) // 2 > x.ndim or any(
            isinstance(p, bool) or not isinstance(p, (int, np.integer)) for p in pads):
        raise ValueError(f"pad: expected (before, after) pairs of ints for at most the {x.ndim} axes of "
                         f"{list(x.shape)}, got {list(pads)}")
    pairs = [(x.ndim - 1 - i, int(pads[2 * i]), int(pads[2 * i + 1])) for i in range(len(pads) // 2)]
    for ax, b, a in pairs:
        if builtins.max(-b, 0) + builtins.max(-a, 0) > x.shape[ax] or (
                mode in ("reflect", "replicate") and (b < 0 or a < 0) and x.shape[ax] + b + a < 1):
            raise ValueError(f"pad: cropping ({b}, {a}) of axis {ax} of length {x.shape[ax]} (shape "
                             f"{list(x.shape)}) removes {'more than ' if mode == 'constant' else ''}the axis")
    if mode in ("constant", "circular") and any(b < 0 or a < 0 for _, b, a in pairs):  # (cropped first)
        crop = [slice(None)] * x.ndim
        for ax, b, a in pairs:
            crop[ax] = slice(builtins.max(-b, 0), x.shape[ax] - builtins.max(-a, 0))
        x = getitem(x, tuple(crop))
        pairs = [(ax, builtins.max(b, 0), builtins.max(a, 0)) for ax, b, a in pairs]
    if mode == "constant":
        be = x.backend
        shape = list(x.shape)
        starts = [0] * x.ndim
        for ax, b, a in pairs:
            shape[ax] += b + a
            starts[ax] = b
        ones = [1] * x.ndim
        out = be.unslice(x.handle, shape, starts, ones) if value == 0 else \
            be.put_slice(be.full(tuple(shape), float(value), x.dtype), x.handle, starts, ones)
        return make(out, be, (x,), lambda g: (be.slice(g, starts, ones, list(x.shape)),),
                    vjp=lambda g: (_slice_t(g, starts, ones, list(x.shape)),))
    for ax, b, a in pairs:
        n = x.shape[ax]
        if not b and not a:
            continue
        if (mode == "reflect" and builtins.max(b, a) >= n) or (mode == "circular" and builtins.max(b, a) > n) \
                or n == 0:
            raise ValueError(f"pad: {mode} padding ({b}, {a}) of axis {ax} of length {n} (shape {list(x.shape)}) "
                             f"must be {'shorter than' if mode == 'reflect' else 'at most'} the axis")
        i = np.arange(-b, n + a)
        idx = (np.abs(i) - np.maximum(2 * (np.abs(i) - (n - 1)), 0) if mode == "reflect" else
               np.clip(i, 0, n - 1) if mode == "replicate" else i % n)
        x = _take(x, ax, idx, key=("pad", mode, n, b, a))
    return x


@int_as_f32
def tile(x, reps):
    """NumPy's tile / PyTorch's Tensor.repeat: x repeated ``reps`` times along each
    axis (more reps than axes: new leading axes) -- a broadcast copy, its gradient
    the repeats summed."""
    check_tensor("tile", x)
    reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps)
    if any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0 for k in reps):
        raise ValueError(f"tile: reps must be non-negative ints, got {list(reps)}")
    nd = builtins.max(len(reps), x.ndim)
    reps = (1,) * (nd - len(reps)) + tuple(int(k) for k in reps)
    shape = (1,) * (nd - x.ndim) + tuple(x.shape)
    spread = reshape(x, tuple(d for n in shape for d in (1, n)))
    out = broadcast_to(spread, tuple(d for k, n in zip(reps, shape) for d in (k, n)))
    return _own(reshape(out, tuple(k * n for k, n in zip(reps, shape))), x)


@int_as_f32
@torch_kwargs
def cumsum(x, axis):
    """Running sums along ``axis`` (PyTorch's cumsum(dim)): log2(n) passes each
    adding the values so far shifted by 1, 2, 4, ... (Hillis-Steele; the sums in a
    tree order, not left to right); the gradient is the reversed running sum."""
    check_tensor("cumsum", x)
    return scan(x, _axis("cumsum", x, axis), lambda a, b: a + b, 0.0)


def scan(x, ax, combine, fill):
    """The running ``combine`` (associative) along axis ``ax``: log2(n) passes, each
    combining x with itself shifted by 1, 2, 4, ... and padded with ``fill`` (the
    combine's identity); Hillis-Steele, differentiable through ``combine``.  f16 in
    f32, rounded once at the end (PyTorch accumulates so: log2(n) roundings to
    halves were 8x its error over 255 elements)."""
    if x.dtype == "f16" and x.shape[ax] > 2:
        from .elementwise import to
        return to(scan(to(x, dtype="f32"), ax, combine, fill), dtype="f16")
    n, s, x0 = x.shape[ax], 1, x
    while s < n:
        head = getitem(x, (slice(None),) * ax + (slice(0, n - s),))  # (one piece: its own slice)
        x = combine(x, cat([_zeros_along(x, ax, s, fill), head], ax))
        s *= 2
    return _own(x, x0)


def _own(out, x):
    """``out``, an op's result that may be x itself or a reshape of it (a scan over
    one element, a flip of length-1 axes, a tile by ones, a roll by 0), copied in
    new storage where it shares x's: PyTorch's result is a new tensor there, and
    an in-place change of one must not reach the other."""
    if out is x or out._version is x._version:
        from .elementwise import clone
        return clone(out)
    return out


def _zeros_along(x, ax, k, value=0.0):
    """Zeros (or ``value``) shaped as x with k along axis ax, on x's device (a kept
    constant)."""
    shape = x.shape[:ax] + (k,) + x.shape[ax + 1:]
    return Tensor(x.backend.constant(shape, value, x.dtype), x.backend)


@int_as_f32
@torch_kwargs
def cumprod(x, axis):
    """Running products along ``axis`` (PyTorch's cumprod(dim)): cumsum's log2(n)
    shifted passes, multiplying; the gradient through those products is exact at
    zeros too (no division)."""
    check_tensor("cumprod", x)
    return scan(x, _axis("cumprod", x, axis), lambda a, b: a * b, 1.0)


@int_as_f32
@torch_kwargs
def prod(x, axis=None, keepdims=False):
    """The product along ``axis`` (all by default): the halves multiplied, log2(n)
    times (a 1 padding an odd length); exact gradients at zeros (no division)."""
    check_tensor("prod", x)
    if axis is None:
        out = prod(reshape(x, (x.size,)), 0)
        return reshape(out, (1,) * x.ndim) if keepdims else out
    ax = _axis("prod", x, axis)
    n, x0 = x.shape[ax], x
    if n == 0:
        out = _zeros_along(x, ax, 1, 1.0)
    else:
        while n > 1:
            if n % 2:
                x = cat([x, _zeros_along(x, ax, 1, 1.0)], ax)
                n += 1
            a, b = _split_at(x, ax, [n // 2, n // 2])
            x, n = a * b, n // 2
        out = x
    return _own(out if keepdims else reshape(out, out.shape[:ax] + out.shape[ax + 1:]), x0)


@int_as_f32
@torch_kwargs
def roll(x, shifts, axis=None):
    """x's elements shifted cyclically by ``shifts`` along ``axis`` (ints or tuples of
    them, as PyTorch's roll(shifts, dims)); without an axis, of the flattened x."""
    check_tensor("roll", x)
    if axis is None:
        if not isinstance(shifts, (int, np.integer)):
            raise ValueError(f"roll: without dims, shifts must be one int, got {shifts!r}")
        return reshape(roll(reshape(x, (x.size,)), shifts, 0), x.shape)
    shifts = (shifts,) if isinstance(shifts, (int, np.integer)) else tuple(shifts)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if len(shifts) != len(axes):
        raise ValueError(f"roll: {len(shifts)} shifts for {len(axes)} dims")
    x0 = x
    for sh, a in zip(shifts, axes):
        ax = _axis("roll", x, a)
        n = x.shape[ax]
        k = int(sh) % n if n else 0
        if k:
            head, tail = _split_at(x, ax, [n - k, k])
            x = cat([tail, head], ax)
    return _own(x, x0)


def _tri(op, x, diagonal, lower):
    check_tensor(op, x)
    if x.ndim < 2:
        raise ValueError(f"{op}: expected at least 2 dimensions, got shape {list(x.shape)}")
    n, m = x.shape[-2:]
    k = int(diagonal)
    keep = (lambda: np.tril(np.ones((n, m)), k)) if lower else (lambda: np.triu(np.ones((n, m)), k))
    be = x.backend
    mask = Tensor(be.host_constant((op, n, m, k), keep, x.dtype), be)
    from .elementwise import where
    return where(mask, x, 0.0)


@int_as_f32
def tril(x, diagonal=0):
    """The lower triangle of the last two axes (on and below ``diagonal``), zeros
    elsewhere (an exact select: an inf above it does not leak)."""
    return _tri("tril", x, diagonal, True)


@int_as_f32
def triu(x, diagonal=0):
    """The upper triangle of the last two axes (on and above ``diagonal``)."""
    return _tri("triu", x, diagonal, False)


@int_as_f32
def diagonal(x, offset=0, dim1=0, dim2=1):
    """The diagonal of axes dim1, dim2 (``offset`` above it, below for negative),
    those axes removed and the diagonal appended as the last (PyTorch's
    ``torch.diagonal``): a strided slice of the flattened pair, so its gradient
    is one unslice."""
    check_tensor("diagonal", x)
    if x.ndim < 2:
        raise ValueError(f"diagonal: expected at least 2 dimensions, got shape {list(x.shape)}")
    (d1,), (d2,) = (norm_axes("diagonal", int(d), x.ndim) for d in (dim1, dim2))
    if d1 == d2:
        raise ValueError(f"diagonal: dim1 and dim2 must differ, both are {d1}")
    rest = [i for i in range(x.ndim) if i not in (d1, d2)]
    if (d1, d2) != (x.ndim - 2, x.ndim - 1):
        x = transpose(x, tuple(rest) + (d1, d2))
    lead, (n, m), k = x.shape[:-2], x.shape[-2:], int(offset)
    length = builtins.max(0, builtins.min(n, m - k) if k >= 0 else builtins.min(n + k, m))
    start = k if k >= 0 else -k * m
    flat = reshape(x, lead + (n * m,), _transient=True)
    if length == 0:
        return getitem(flat, (slice(None),) * len(lead) + (slice(0, 0),))
    return getitem(flat, (slice(None),) * len(lead) + (slice(start, start + (length - 1) * (m + 1) + 1, m + 1),))


_diagonal = diagonal  # (diag's argument shadows the name)


@int_as_f32
def diag(x, diagonal=0):
    """PyTorch's ``torch.diag``: of a vector, the square matrix with it on diagonal
    ``diagonal`` (zeros elsewhere); of a matrix, that diagonal as a vector."""
    check_tensor("diag", x)
    k = int(diagonal)
    if x.ndim == 2:
        return _diagonal(x, k)
    if x.ndim != 1:
        raise ValueError(f"diag: expected a vector or a matrix, got shape {list(x.shape)}")
    n = x.shape[0]
    z = zeros(n, n, dtype=x.dtype, device=x.device)
    # [v | 0 (n x n)] row by row is [n, n + 1]; its first n*n elements, read as n x n,
    # put v[i] at (i, i)
    rows = cat([reshape(x, (n, 1)), z], 1)
    m = reshape(getitem(reshape(rows, (n * (n + 1),)), slice(0, n * n)), (n, n))
    if k:
        a = builtins.abs(k)
        m = pad(m, (a, 0, 0, a) if k > 0 else (0, a, a, 0))
    return m


def trace(x):
    """The sum of a matrix's diagonal."""
    check_tensor("trace", x)
    if x.ndim != 2:
        raise ValueError(f"trace: expected a matrix, got shape {list(x.shape)}")
    return sum(diagonal(x))


def _index_tensor(op, x, index, ax):
    """``index`` as an int32 tensor on x's device with x's number of axes; host
    integers are checked against axis ``ax``'s length (device ones are not: one out
    of range gives NaN, as embedding)."""
    if isinstance(index, Tensor):
        same_device(op, x, index)
        if index.dtype != "i32":
            raise TypeError(f"{op}: index must be int32, got {index.dtype} of shape {list(index.shape)}")
        it, host = index, None
    else:
        host = np.asarray(index)
        if host.size and not np.issubdtype(host.dtype, np.integer):
            raise TypeError(f"{op}: index must be integers, got {host.dtype}")
        it = None
    shape = tuple((it if it is not None else host).shape)
    if len(shape) != x.ndim:
        raise ValueError(f"{op}: index must have as many dimensions as the input ({list(x.shape)}), got "
                         f"{list(shape)}")
    n = x.shape[ax]
    if host is not None and host.size and (host.min() < 0 or host.max() >= n):
        raise IndexError(f"{op}: index out of range for axis {ax} of length {n}: values in "
                         f"[{host.min()}, {host.max()}]")
    if it is None:
        from ..tensor import tensor
        it = tensor(host.astype(np.int32), dtype="i32", device=x.device)
    return it


def _cols(x, it, ax):
    """(x as [R, n] with axis ax last, it's handle as [R, m], the permutation, it's
    shape with ax last)."""
    nd = x.ndim
    perm = tuple(i for i in range(nd) if i != ax) + (ax,)
    be = x.backend
    xt = x if ax == nd - 1 else transpose(x, perm)
    ih = it.handle if ax == nd - 1 else be.permute(it.handle, perm)
    ishape = tuple(it.shape[i] for i in perm)
    R = int(np.prod(ishape[:-1]))
    return reshape(xt, (R, xt.shape[-1])), be.reshape(ih, (R, ishape[-1])), perm, ishape


def _uncols(y, perm, shape):
    """[R, k] back to ``shape`` (axis ax last) and then x's axis order."""
    y = reshape(y, shape)
    return y if perm == tuple(range(len(perm))) else transpose(y, tuple(int(i) for i in np.argsort(perm)))


@int_as_f32
@torch_kwargs
def gather(x, axis, index):
    """PyTorch's gather: out[i][j][k] = x[i][index[i][j][k]][k] for axis 1 (and so
    on), of index's shape; ``index`` an int32 tensor on x's device or host integers
    (checked), with x's number of axes and no larger than x along the others.  Its
    gradient adds into x at the indices (scatter_add; repeats summed)."""
    check_tensor("gather", x)
    ax = _axis("gather", x, axis)
    it = _index_tensor("gather", x, index, ax)
    if any(it.shape[d] > x.shape[d] for d in range(x.ndim) if d != ax):
        raise ValueError(f"gather: index of shape {list(it.shape)} is larger than the input {list(x.shape)} "
                         f"along an axis other than {ax}")
    if it.size == 0:  # (still x's: a gradient of zeros, as PyTorch's)
        be = x.backend
        return make(be.full(tuple(it.shape), 0.0, x.dtype), be, (x,), lambda g: (be.full(x.shape, 0.0, x.dtype),),
                    vjp=lambda g: (x.detach() * 0.0,))
    if any(it.shape[d] < x.shape[d] for d in range(x.ndim) if d != ax):
        x = getitem(x, tuple(slice(None) if d == ax else slice(0, it.shape[d]) for d in range(x.ndim)))
    x2, ih, perm, ishape = _cols(x, it, ax)
    return _uncols(_cols_gather_t(x2, ih, x.shape[ax]), perm, ishape)


@int_as_f32
def take_along_dim(x, indices, dim=None):
    """PyTorch's take_along_dim: gather along ``dim`` with x and ``indices``
    broadcast along the other axes (host indices may be negative, counted from the
    end); ``dim=None``: of the flattened x at flat indices."""
    check_tensor("take_along_dim", x)
    if dim is None:
        x = reshape(x, (x.size,))
        indices = indices.reshape((indices.size,)) if isinstance(indices, Tensor) else np.ravel(indices)
        dim = 0
    ax = _axis("take_along_dim", x, dim)
    if not isinstance(indices, Tensor):
        host = np.asarray(indices)
        if host.size and np.issubdtype(host.dtype, np.integer):
            indices = np.where(host < 0, host + x.shape[ax], host)
    ish = tuple(indices.shape)
    if len(ish) != x.ndim:
        raise ValueError(f"take_along_dim: indices must have as many dimensions as the input ({list(x.shape)}), "
                         f"got {list(ish)}")
    others = [i for i in range(x.ndim) if i != ax]
    bshape = broadcast_shape("take_along_dim", tuple(x.shape[i] for i in others), tuple(ish[i] for i in others))
    xs = tuple(bshape[others.index(i)] if i != ax else x.shape[ax] for i in range(x.ndim))
    js = tuple(bshape[others.index(i)] if i != ax else ish[ax] for i in range(x.ndim))
    if xs != x.shape:
        x = broadcast_to(x, xs)
    if js != ish:
        if isinstance(indices, Tensor):
            indices = Tensor(indices.backend.broadcast_to(indices.handle, js), indices.backend)
        else:
            indices = np.broadcast_to(indices, js)
    return gather(x, ax, indices)


@torch_kwargs
def scatter_add(x, axis, index, src):
    """PyTorch's scatter_add: x plus src's elements added at ``index`` along
    ``axis`` (out[i][index[i][j][k]][k] += src[i][j][k] for axis 1), repeats summed
    in order; index (as gather's) no larger than src, nor than x along the other
    axes.  Gradients: x's passes through, src's is gathered at the indices."""
    check_tensor("scatter_add", x)
    ax = _axis("scatter_add", x, axis)
    it = _index_tensor("scatter_add", x, index, ax)
    src = as_tensor("scatter_add", src, x)
    if src.ndim != x.ndim or any(it.shape[d] > src.shape[d] for d in range(x.ndim)) or any(
            it.shape[d] > x.shape[d] for d in range(x.ndim) if d != ax):
        raise ValueError(f"scatter_add: index of shape {list(it.shape)} must be no larger than src "
                         f"{list(src.shape)}, nor than the input {list(x.shape)} along axes other than {ax}")
    if it.size == 0:
        return x
    if src.shape != it.shape:
        src = getitem(src, tuple(slice(0, k) for k in it.shape))
    s2, ih, perm, ishape = _cols(src, it, ax)
    n = x.shape[ax]
    y = _uncols(_cols_add_t(s2, ih, n), perm, ishape[:-1] + (n,))
    if y.shape != x.shape:  # index shorter than x along other axes: zeros beyond
        pads = []
        for d in reversed(range(x.ndim)):
            pads += [0, x.shape[d] - y.shape[d]]
        y = pad(y, tuple(pads))
    from .elementwise import add
    return add(x, y)


SortResult = namedtuple("sort", "values indices")  # (PyTorch's torch.return_types: fields and order)


def _sort(op, x, axis, descending):
    """(values, int32 indices) of x sorted along ``axis`` (the backend's sort_rows
    on rows with that axis last); the values' gradient goes back through the
    inverse permutation (the positions sorted again), a gather."""
    check_tensor(op, x)
    if x.ndim == 0 or x.size == 0:  # (nothing to order)
        if x.ndim:
            norm_axes(op, int(axis), x.ndim)
        return x * 1.0, Tensor(x.backend.from_numpy(np.zeros(x.shape, np.int32), "i32"), x.backend)
    (ax,) = norm_axes(op, int(axis), x.ndim)
    perm = tuple(i for i in range(x.ndim) if i != ax) + (ax,)
    xt = x if ax == x.ndim - 1 else transpose(x, perm)
    tshape = xt.shape
    n = tshape[-1]
    R = int(np.prod(tshape[:-1]))
    be = x.backend
    x2 = reshape(xt, (R, n))
    vals, pos = be.sort_rows(x2.handle, bool(descending))

    def backward(g):
        inv = be.sort_rows(be.cast(pos, "f32"))[1]
        return (be.gather_cols(g, inv),)

    v = make(vals, be, (x2,), backward, vjp=lambda g: (_cols_add_t(g, pos, n),))  # (the permutation's scatter)
    i = Tensor(pos, be)
    inv_perm = tuple(int(k) for k in np.argsort(perm))
    back = (lambda t: t) if ax == x.ndim - 1 else (lambda t: transpose(t, inv_perm))
    return back(reshape(v, tshape)), back(reshape(i, tshape))


@int_as_f32
@torch_kwargs
def sort(x, axis=-1, descending=False, stable=False):
    """PyTorch's sort: (values, indices) along ``axis`` (``dim``), ascending (NaN
    last) or ``descending`` (NaN first); always stable -- equal values keep their
    order (``stable`` is accepted).  The values' gradient goes to the elements
    they came from; the indices are int32."""
    return SortResult(*_sort("sort", x, axis, descending))


@int_as_f32
@torch_kwargs
def argsort(x, axis=-1, descending=False, stable=False):
    """The int32 indices that sort x along ``axis`` (``sort``'s second part)."""
    return _sort("argsort", x, axis, descending)[1]


def _sorted_part(op, x, k, axis, lowest, descending, first):
    """x sorted along ``axis`` and cut to the positions [first(k), k) there:
    (values, int32 indices, the axis); k checked to lie in [lowest, n]."""
    check_tensor(op, x)
    (ax,) = norm_axes(op, int(axis), x.ndim) if x.ndim else (0,)
    n = x.shape[ax] if x.ndim else 1
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not lowest <= k <= n:
        raise ValueError(f"{op}: k must be an integer in [{lowest}, {n}] (the length of axis {axis} of shape "
                         f"{list(x.shape)}), got {k!r}")
    v, i = _sort(op, x, axis, descending)
    if x.ndim == 0:
        return v, i, ax
    a, k = first(int(k)), int(k)
    cut = tuple(slice(a, k) if d == ax else slice(None) for d in range(x.ndim))
    idx = x.backend.slice(i.handle, [a if d == ax else 0 for d in range(x.ndim)], [1] * x.ndim,
                          [k - a if d == ax else s for d, s in enumerate(x.shape)])
    return getitem(v, cut), Tensor(idx, x.backend), ax


TopkResult = namedtuple("topk", "values indices")


@int_as_f32
@torch_kwargs
def topk(x, k, axis=-1, largest=True, sorted=True):
    """PyTorch's topk: (values, indices) of the k largest (``largest=False``: the
    smallest) along ``axis``, in order (``sorted`` is accepted; they always are;
    NaN counts as the largest); a full sort, then its first k."""
    v, i, _ = _sorted_part("topk", x, k, axis, 0, largest, lambda k: 0)
    return TopkResult(v, i)


KthvalueResult = namedtuple("kthvalue", "values indices")


@int_as_f32
@torch_kwargs
def kthvalue(x, k, axis=-1, keepdims=False):
    """PyTorch's kthvalue: (values, indices) of the k-th smallest (1-based) along
    ``axis`` (NaN counts as the largest)."""
    vals, idx, ax = _sorted_part("kthvalue", x, k, axis, 1, False, lambda k: k - 1)
    if not keepdims and x.ndim:
        shape = tuple(s for d, s in enumerate(x.shape) if d != ax)
        vals, idx = reshape(vals, shape), Tensor(x.backend.reshape(idx.handle, shape), x.backend)
    return KthvalueResult(vals, idx)


MaxResult = namedtuple("max", "values indices")
MinResult = namedtuple("min", "values indices")


def _extreme(op, x, dim, keepdim, axis, keepdims):
    """PyTorch's max / min, with NumPy's keywords for the values alone."""
    check_tensor(op, x)
    if isinstance(dim, Tensor):  # max(x, other): the elementwise maximum
        if keepdim or axis is not None or keepdims is not None:
            raise TypeError(f"{op}: {op}(x, other) is elementwise and takes no axis or keepdim")
        from .elementwise import maximum, minimum
        return (maximum if op == "max" else minimum)(x, dim)
    values, arg, result = (amax, argmax, MaxResult) if op == "max" else (amin, argmin, MinResult)
    if axis is not None or keepdims is not None:
        if dim is not None or keepdim:
            raise TypeError(f"{op}: give axis= / keepdims= (NumPy's: the values) or dim / keepdim (PyTorch's: "
                            "values and indices), not both")
        return values(x, axis, bool(keepdims))
    if dim is None:
        return values(x, None, bool(keepdim))
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int ({op}(x, dim) gives the values and their indices along one "
                        f"axis), got {dim!r}; a{op}(x, dim=...) or {op}(x, axis=...) reduce several axes")
    if x.ndim == 0:
        norm_axes(op, int(dim), 0)
        v, i = _extreme(op, reshape(x, (1,)), 0, False, None, None)
        return result(reshape(v, ()), i)
    (ax,) = norm_axes(op, int(dim), x.ndim)
    if x.shape[ax] == 0:
        raise ValueError(f"{op}: cannot reduce the empty axis {dim} of shape {list(x.shape)}")
    idx = arg(x.detach(), ax, keepdims=True)
    v = gather(x, ax, idx)  # (the gradient to the index, as PyTorch's)
    if not keepdim:
        rest = x.shape[:ax] + x.shape[ax + 1:]
        v, idx = reshape(v, rest), Tensor(x.backend.reshape(idx.handle, rest), x.backend)
    return result(v, idx)


@int_as_f32
def max(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """PyTorch's max: ``max(x)`` the largest element (NaN wins); ``max(x, dim,
    keepdim=False)`` the pair (values, indices) along ``dim``, the first maximum's
    int32 index, the values' gradient to it; ``max(x, other)`` the elementwise
    maximum.  NumPy's ``axis=`` (an int or a tuple) / ``keepdims=`` give the values
    alone (``amax``), the gradient split evenly on ties."""
    return _extreme("max", x, dim, keepdim, axis, keepdims)


@int_as_f32
def min(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """PyTorch's min, as ``max``: ``min(x)``; ``min(x, dim)`` the pair (values,
    indices); ``min(x, other)`` elementwise; ``axis=`` / ``keepdims=`` the values
    alone (``amin``)."""
    return _extreme("min", x, dim, keepdim, axis, keepdims)


@torch_kwargs
def norm(x, p="fro", axis=None, keepdims=False):
    """PyTorch's norm / linalg.vector_norm over ``axis`` (all by default): p a number
    >= 0 or "fro" (2), inf (max |x|) or -inf (min |x|) -- below 1 not a norm, 0 the
    count of nonzeros (no gradient), as PyTorch's.  A zero vector's gradient is 0 (as
    PyTorch's), not NaN.  f16 computed in f32 (PyTorch's accumulation: squares of
    values below 2e-4 would underflow -- a norm of 100 halves 1e-4 was 0).  The one
    p-norm: distances (cdist, pdist, pairwise_distance) and normalize use it."""
    from .elementwise import abs as abs_, affine as affine_, eq, pow as pow_, to
    check_tensor("norm", x)
    if x.dtype == "f16":
        return to(norm(to(x, dtype="f32"), p=p, axis=axis, keepdims=keepdims), dtype="f16")
    if p == "fro":
        p = 2.0
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not (p >= 0 or p == -np.inf):
        raise ValueError(f"norm: p must be a number >= 0, 'fro', inf or -inf, got {p!r}")
    if p == 0:  # (the count; its gradient 0, recorded as PyTorch's: a loss of it still has a backward)
        count = sum(affine_(eq(x.detach(), 0.0), -1.0, 1.0), axis, keepdims)
        be = x.backend
        return make(count.handle, be, (x,), lambda g: (be.full(x.shape, 0.0, x.dtype),),
                    vjp=lambda g: (zeros(x.shape, dtype=x.dtype, device=x.device),))
    a = abs_(x)
    if p == np.inf:
        return amax(a, axis, keepdims)
    if p == -np.inf:
        return amin(a, axis, keepdims)
    return root_of_sum(sum(x * x if p == 2 else pow_(a, float(p)), axis, keepdims), float(p))


def root_of_sum(s, p=2.0):
    """s ** (1 / p) of a sum of p-th powers, its gradient 0 where s is 0 (not inf * 0)."""
    from .elementwise import eq, pow as pow_, sqrt0, where
    if p == 2.0:
        return sqrt0(s)
    zero = eq(s, 0.0)
    return where(zero, 0.0, pow_(where(zero, 1.0, s), 1.0 / p))
