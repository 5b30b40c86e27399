"""Helpers every op uses: making outputs, coercing inputs, un-broadcasting."""
from __future__ import annotations

import numbers

import numpy as np

from .. import config
from ..backends.base import FLOAT_DTYPES
from ..tensor import Tensor, tensor

_RANK = {"f16": 0, "f32": 1, "f64": 2}


def make(handle, backend, parents, backward_fn, view_of=None, vjp=None):
    """Wrap an op's output; record the node when a parent needs a gradient.
    ``view_of``: a parent whose storage the output shares (its in-place version
    counter is shared too).  ``vjp(g)``: the same gradients as ``backward_fn``
    but of a Tensor ``g``, composed of recorded ops -- what ``backward(create_graph=
    True)`` runs, so that gradients are differentiable again."""
    out = Tensor(handle, backend)
    if view_of is not None:
        out._version = view_of._version
        out._version.share(view_of, out)
    if config.grad_enabled:
        for p in parents:
            if p is not None and p.requires_grad:
                out.requires_grad = True
                # the parents' and the output's versions: in-place changes before backward are caught there
                versions = tuple([0 if q is None else q._version[0] for q in parents] + out._version)
                if config.detect_anomaly:  # (node[3]: the vjp, node[4]: where the op was made)
                    from ..autograd import _anomaly_trace
                    out._node = (backward_fn, parents, versions, vjp, _anomaly_trace())
                else:
                    out._node = (backward_fn, parents, versions, vjp)
                break
    return out


def make_multi(handles, backend, parents, backward_parts, vjp_parts=None):
    """An op's several outputs: each output's gradient is handed on as
    ``Parts({i: g})``; the autograd gathers them for one joint node whose
    ``backward_parts(parts)`` returns the parents' gradients (outputs without a
    gradient are missing from ``parts``); ``vjp_parts`` the same from Tensors in
    recorded ops (create_graph)."""
    if not (config.grad_enabled and any(p is not None and p.requires_grad for p in parents)):
        return tuple(Tensor(h, backend) for h in handles)
    from ..autograd import Parts
    joint = make(handles[0], backend, parents, backward_parts, vjp=vjp_parts)
    return tuple(make(h, backend, (joint,), lambda g, i=i: (Parts({i: g}),), vjp=lambda g, i=i: (Parts({i: g}),))
                 for i, h in enumerate(handles))


def make_pieces(handles, backend, x, join, tjoin=None):
    """Outputs that are pieces of one input x (a split): their gradients meet in
    ``join(parts)``, x's gradient -- one write of it, not one per piece
    (``tjoin``: the same of Tensors, recorded)."""
    return make_multi(handles, backend, (x,), lambda parts: (join(parts),),
                      None if tjoin is None else (lambda parts: (tjoin(parts),)))


def check_tensor(op, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a vkgrad Tensor, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{op}: expected a float tensor, got dtype {x.dtype} of shape {list(x.shape)}")
    return x


def _casts_to_float(kw):
    from ..tensor import canonical_dtype
    return kw.get("dtype") is not None and canonical_dtype(kw["dtype"]) in FLOAT_DTYPES


def int_as_f32(fn=None, *, at=(0,), int_result=True):
    """Let ``fn``'s operands at the positions ``at`` (the first by default; where's two
    branches, not its condition) be int32 tensors, as PyTorch's (``arange(5) + 1``,
    ``labels.max()``, ``arange(T).expand(B, T)``, ``where(mask, labels, -100)``): they
    run in f32 -- exact while values and sums stay below 2**24 -- or in the float
    dtype of a float operand among them, and the float results come back as int32
    where every one of those operands is an integer and ``int_result`` says so (a
    test of the keywords -- div's rounding_mode --, or "round": exp-based powers
    rounded first); an index part of a result, already int32, and every tensor of a
    tuple or list of pieces alike.  ``int_result=False``: the results as the op gives
    them (true division, masks, counts)."""
    if fn is None:
        return lambda f: int_as_f32(f, at=at, int_result=int_result)
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kw):
        operands = [args[i] for i in at if i < len(args)]
        if not any(isinstance(a, Tensor) and a.dtype == "i32" for a in operands) or _casts_to_float(kw):
            return fn(*args, **kw)  # (a float dtype=, PyTorch's cumsum(labels, 0, dtype=float32): fn casts first)
        from .elementwise import round as _round, to
        floats = [a.dtype for a in operands if isinstance(a, Tensor) and a.dtype != "i32"]
        ints = not floats and all(isinstance(a, Tensor) or isinstance(a, numbers.Integral) and not isinstance(a, bool)
                                  for a in operands)
        dt = max(floats, key=_RANK.get) if floats else "f32"  # (int and half: half)
        out = fn(*[to(a, dtype=dt) if i in at and isinstance(a, Tensor) and a.dtype == "i32" else a
                   for i, a in enumerate(args)], **kw)
        if not (ints and (int_result(kw) if callable(int_result) else int_result)):
            return out
        return _ints_back(_round(out) if int_result == "round" else out)
    return wrapper


def _ints_back(out):
    """A result's float tensors as int32 (those in a tuple, namedtuple or list too)."""
    from .elementwise import to
    if isinstance(out, Tensor):
        return out if out.dtype == "i32" else to(out, dtype="i32")
    if isinstance(out, (tuple, list)):
        items = [_ints_back(o) if isinstance(o, (Tensor, tuple, list)) else o for o in out]
        return type(out)(*items) if hasattr(out, "_fields") else type(out)(items)
    return out


def as_tensor(op, x, like):
    """Coerce an array-like operand to a tensor on ``like``'s device."""
    if isinstance(x, Tensor):
        if x.backend is not like.backend:
            raise ValueError(f"{op}: operands are on different devices ({like.device} and "
                             f"{x.device}); move one with .to(device)")
        return x
    if isinstance(x, (np.ndarray, list, tuple, numbers.Number)):
        return tensor(np.asarray(x, dtype=np.float64), dtype=like.dtype if like.dtype in FLOAT_DTYPES
                      else None, device=like.device)
    raise TypeError(f"{op}: unsupported operand type {type(x).__name__}")


def same_device(op, *ts):
    first = None
    for t in ts:
        if t is None:
            continue
        if first is None:
            first = t
        elif t.backend is not first.backend:
            raise ValueError(f"{op}: operands are on different devices ({first.device} and "
                             f"{t.device}); move one with .to(device)")


def promote(op, a, b):
    """Bring two float tensors to one dtype, differentiably: the wider one, or, as
    PyTorch's, the dimensioned one's where the other is 0-d (a scalar: f16 x times
    a 0-d f32 stays f16, f32 x plus a 0-d f64 f32)."""
    check_tensor(op, a)
    check_tensor(op, b)
    same_device(op, a, b)
    if a.dtype == b.dtype:
        return a, b
    from .elementwise import to
    if (a.ndim == 0) != (b.ndim == 0):
        return (to(a, dtype=b.dtype), b) if a.ndim == 0 else (a, to(b, dtype=a.dtype))
    if _RANK[a.dtype] > _RANK[b.dtype]:
        return a, to(b, dtype=a.dtype)
    return to(a, dtype=b.dtype), b


def broadcast_shape(op, sa, sb):
    try:
        return tuple(np.broadcast_shapes(sa, sb))
    except ValueError:
        raise ValueError(f"{op}: shapes {list(sa)} and {list(sb)} cannot be broadcast together "
                         "(NumPy rules: trailing dimensions must match or be 1)") from None


def unbroadcast(backend, g, shape):
    """Sum a gradient of the broadcast shape back to an operand's shape."""
    gs = tuple(g.shape)
    if gs == tuple(shape):
        return g
    lead = len(gs) - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape)
                                      if n == 1 and gs[i + lead] != 1)
    if axes:
        g = backend.reduce("sum", g, axes, False)
    return backend.reshape(g, tuple(shape))


def norm_axes(op, axis, ndim):
    """None -> all axes; int or tuple -> sorted tuple of non-negative axes.  A 0-d
    tensor takes axis 0 or -1, as in PyTorch, and has no axes to reduce: ()."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    out = []
    for a in axes:
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(a % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out)) if ndim else ()


def autocast_to(*ts):
    """Inside vkgrad.autocast: float tensors cast (differentiably) to its dtype."""
    dt = config.autocast
    if dt is None:
        return ts
    from .elementwise import to
    return tuple(t if t is None or t.dtype == dt or t.dtype not in FLOAT_DTYPES else to(t, dtype=dt)
                 for t in ts)


def loss_precision(x):
    """Losses of f16 inputs are computed (and returned) in f32, so that a scaled
    loss's gradient enters the f16 graph already multiplied by dloss/dinput."""
    if x.dtype == "f16":
        from .elementwise import to
        return to(x, dtype="f32")
    return x
