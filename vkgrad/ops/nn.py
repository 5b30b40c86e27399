"""Matmul, fused linear, softmax family, losses, batch norm, layer norm and dropout."""
from __future__ import annotations

import math
import numbers
import weakref

import numpy as np

from ..backends.base import ACTIVATIONS
from ..autograd import composed_vjp, unit_seed
from .. import config
from .._names import torch_kwargs
from ..tensor import Tensor, canonical_dtype, tensor
from ._core import (_RANK, as_tensor, autocast_to, broadcast_shape, check_tensor, loss_precision, make, norm_axes,
                    promote, same_device)
from .elementwise import _softplus, abs, add, affine, clamp, div, exp, gt, log, lt, mul, neg, pow, sub, where
from .shape import amax, broadcast_to, mean, sum, transpose, var

ACT_NAMES = ("relu", "sigmoid", "tanh", "gelu", "gelu_tanh", "softmax")


def matmul(a, b):
    """Matrix product with NumPy's and PyTorch's rules: [M, K] @ [K, N] -> [M, N]; a
    1-d operand is a row (first) or a column (second) whose axis the result drops;
    axes before the last two are batch axes, broadcast against each other.  A batch
    against a 2-d operand is one product (the batch folded into the rows); a batch on
    both sides is the backend's ``bmm`` (on Vulkan the tuned product per large item,
    one dispatch over the batch for small ones)."""
    if not isinstance(a, Tensor):
        a = as_tensor("matmul", a, b)
    if not isinstance(b, Tensor):
        b = as_tensor("matmul", b, a)
    a, b = promote("matmul", *autocast_to(a, b))
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got {list(a.shape)} @ {list(b.shape)}")
    A = a.reshape((1,) + a.shape) if a.ndim == 1 else a
    B = b.reshape(b.shape + (1,)) if b.ndim == 1 else b
    if A.shape[-1] != B.shape[-2]:
        raise ValueError(f"matmul: inner sizes differ: {list(a.shape)} @ {list(b.shape)} "
                         "(expected [..., M, K] @ [..., K, N])")
    (M, K), N = A.shape[-2:], B.shape[-1]
    if A.ndim == 2 and B.ndim == 2:
        out = _product(A, B)
    elif B.ndim == 2:  # the batch folded into the rows: one product
        out = _product(A.reshape((-1, K)), B).reshape(A.shape[:-1] + (N,))
    else:
        try:
            batch = tuple(np.broadcast_shapes(A.shape[:-2], B.shape[:-2]))
        except ValueError:
            raise ValueError(f"matmul: batch axes {list(A.shape[:-2])} and {list(B.shape[:-2])} of "
                             f"{list(a.shape)} @ {list(b.shape)} do not broadcast") from None
        out = _product(broadcast_to(A, batch + (M, K)).reshape((-1, M, K)),
                       broadcast_to(B, batch + (K, N)).reshape((-1, K, N)), batched=True).reshape(batch + (M, N))
    if a.ndim == 1:
        out = out.reshape(out.shape[:-2] + out.shape[-1:])
    if b.ndim == 1:
        out = out.reshape(out.shape[:-1])
    return out


def _swap(t, d0, d1):
    """t with two axes swapped (recorded)."""
    perm = list(range(t.ndim))
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return transpose(t, tuple(perm))


def bmm(a, b):
    """PyTorch's bmm: [B, M, K] @ [B, K, N] -> [B, M, N], one batch on both sides (no
    broadcasting: :func:`matmul` broadcasts)."""
    check_tensor("bmm", a)
    check_tensor("bmm", b)
    a, b = promote("bmm", *autocast_to(a, b))
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ValueError(f"bmm: expected [B, M, K] @ [B, K, N], got {list(a.shape)} @ {list(b.shape)}")
    return _product(a, b, batched=True)


def _product(a, b, batched=False):
    """a @ b by the backend's matmul (2-d) or bmm (``batched``: [B, M, K] @ [B, K, N])."""
    be = a.backend
    f = be.bmm if batched else be.matmul
    ad, bd = a.handle, b.handle

    def backward(g):
        ga = f(g, bd, trans_b=True) if a.requires_grad else None
        gb = f(ad, g, trans_a=True) if b.requires_grad else None
        return ga, gb

    def vjp(g):  # (recorded: create_graph)
        return matmul(g, _swap(b, -1, -2)), matmul(_swap(a, -1, -2), g)

    return make(f(ad, bd), be, (a, b), backward, vjp=vjp)


def check_activation(op, activation):
    if activation is not None and activation not in ACT_NAMES:
        raise ValueError(f"{op}: unknown activation {activation!r}; expected None or one of "
                         f"{', '.join(repr(a) for a in ACT_NAMES)}")


def linear(x, weight, bias=None, activation=None):
    """``act(x @ weight.T + bias)`` in one fused op; weight is [out, in] like PyTorch,
    x [..., in] (leading axes folded into the rows: one product)."""
    check_activation("linear", activation)
    check_tensor("linear", x)
    check_tensor("linear", weight)
    same_device("linear", x, weight, bias)
    xs, ws = x.shape, weight.shape
    if not xs or len(ws) != 2 or xs[-1] != ws[1]:
        raise ValueError(f"linear: expected input [..., {ws[-1]}] for weight "
                         f"{list(ws)} ([out, in]), got input {list(xs)}")
    if len(xs) != 2:  # [..., in] as PyTorch: the leading axes folded into the rows
        y = linear(x.reshape((-1, xs[-1])), weight, bias, activation)
        return y.reshape(xs[:-1] + (ws[0],))
    if bias is not None and bias.shape != (ws[0],):
        raise ValueError(f"linear: bias has shape {list(bias.shape)}, expected [{ws[0]}]")
    x, weight, bias = autocast_to(x, weight, bias)
    if x.dtype != weight.dtype:
        x, weight = promote("linear", x, weight)
    if bias is not None and bias.dtype != weight.dtype:
        from .elementwise import to
        bias = to(bias, dtype=weight.dtype)
    act = activation if activation in ACTIVATIONS else None
    be = x.backend
    xd, wd = x.handle, weight.handle
    bd = None if bias is None else bias.handle
    if act in ("gelu", "gelu_tanh"):
        pre = be.matmul(xd, wd, trans_b=True, bias=bd)
        y = be.unary(act, pre)
    else:
        pre = None
        y = be.matmul(xd, wd, trans_b=True, bias=bd, act=act)

    def backward(g):
        need_db = bias is not None and bias.requires_grad
        if act is None:
            gp, gb = g, (be.reduce("sum", g, (0,), False) if need_db else None)
        else:  # through the activation (and the bias sum) in one backend call
            gp, gb = be.act_bias_bwd(act, pre if act in ("gelu", "gelu_tanh") else y, g, need_db)
        gx = be.matmul(gp, wd) if x.requires_grad else None
        gw = be.matmul(gp, xd, trans_a=True) if weight.requires_grad else None
        return gx, gw, gb

    def vjp(g):  # (recorded: create_graph) the activation's derivative from the recomputed pre-activation
        from .elementwise import _gelu_grad, gt, mul, sigmoid, tanh
        gp = g
        if act is not None:
            pre_t = matmul(x, _swap(weight, 0, 1))
            pre_t = pre_t if bias is None else pre_t + bias
            if act == "relu":
                gp = mul(g, gt(pre_t.detach(), 0.0))
            elif act == "sigmoid":
                s_ = sigmoid(pre_t)
                gp = mul(g, s_ * (1.0 - s_))
            elif act == "tanh":
                t_ = tanh(pre_t)
                gp = mul(g, 1.0 - t_ * t_)
            else:
                gp = _gelu_grad(pre_t, g, "none" if act == "gelu" else "tanh")
        return (matmul(gp, weight), matmul(_swap(gp, 0, 1), x),
                None if bias is None else sum(gp, 0))

    out = make(y, be, (x, weight, bias), backward, vjp=vjp)
    if activation == "softmax":
        out = softmax(out)
    return out


def _last_axis(op, x, axis, fn):
    """Apply fn over the last axis, permuting ``axis`` there and back."""
    check_tensor(op, x)
    if x.ndim == 0:
        raise ValueError(f"{op}: expected at least 1 dimension, got a 0-d tensor")
    ax = axis % x.ndim if -x.ndim <= axis < x.ndim else None
    if ax is None:
        raise ValueError(f"{op}: axis {axis} is out of range for shape {list(x.shape)}")
    if ax == x.ndim - 1:
        return fn(x)
    perm = list(range(x.ndim))
    perm[ax], perm[-1] = perm[-1], perm[ax]
    return transpose(fn(transpose(x, perm)), perm)


def _softmax_last(x):
    be = x.backend
    y = be.softmax(x.handle)

    def backward(g):  # y * (g - sum(g*y))
        return (be.softmax_bwd(y, g),)

    def vjp(g):
        y_ = _softmax_last(x)
        return (y_ * (g - sum(g * y_, x.ndim - 1, keepdims=True)),)

    return make(y, be, (x,), backward, vjp=vjp)


def _log_softmax_last(x):
    be = x.backend
    y = be.softmax(x.handle, log=True)

    def backward(g):  # g - softmax * sum(g)
        return (be.softmax_bwd(y, g, log=True),)

    def vjp(g):
        return (g - _softmax_last(x) * sum(g, x.ndim - 1, keepdims=True),)

    return make(y, be, (x,), backward, vjp=vjp)


@torch_kwargs
def softmax(x, axis=-1, dtype=None):
    """softmax along ``axis`` (``dim``); ``dtype``: x cast to it first (PyTorch's)."""
    return _last_axis("softmax", _cast_first(x, dtype), axis, _softmax_last)


@torch_kwargs
def log_softmax(x, axis=-1, dtype=None):
    """log_softmax along ``axis`` (``dim``); ``dtype``: x cast to it first."""
    return _last_axis("log_softmax", _cast_first(x, dtype), axis, _log_softmax_last)


def _cast_first(x, dtype):
    if dtype is None or not isinstance(x, Tensor) or canonical_dtype(dtype) == x.dtype:
        return x
    from .elementwise import to
    return to(x, dtype=dtype)


def _targets(op, logits, targets, dense=True, ignore=None):
    """[B, C] float targets from one-hot/probabilities or integer labels; with
    dense=False integer labels stay labels (the fused loss reads them; host ones
    equal to ``ignore`` are let through the range check)."""
    if logits.ndim != 2:
        raise ValueError(f"{op}: expected logits of shape [batch, classes], got {list(logits.shape)}")
    b, c = logits.shape
    host = None
    if not isinstance(targets, Tensor):
        host = np.asarray(targets)
        targets = tensor(host, dtype="i32" if host.dtype.kind in "iu" else logits.dtype,
                         device=logits.device)
    elif targets.backend is not logits.backend:
        raise ValueError(f"{op}: targets are on {targets.device}, logits on {logits.device}")
    elif targets.device == "cpu":
        host = targets.handle
    if targets.dtype == "i32":
        if targets.shape != (b,):
            raise ValueError(f"{op}: integer class labels must have shape [{b}] for logits "
                             f"{list(logits.shape)}, got {list(targets.shape)}")
        _check_range(op, "class labels", host if host is None or ignore is None else host[host != ignore], c)
        return targets.backend.one_hot(targets.handle, c, logits.dtype) if dense else targets.handle
    if targets.shape == (b,) and c != 1:  # labels, but not integers
        raise ValueError(f"{op}: class labels of shape [{b}] must be integers (i32), got {targets.dtype}; "
                         f"or give one-hot/probability targets of shape [{b}, {c}]")
    if targets.shape != (b, c):
        raise ValueError(f"{op}: targets must be one-hot/probabilities of shape [{b}, {c}] or "
                         f"integer labels of shape [{b}], got {list(targets.shape)}")
    if targets.dtype != logits.dtype:
        return targets.backend.cast(targets.handle, logits.dtype)
    return targets.handle


def _check_range(op, what, host, n):
    """Integer labels or indices on the host (a NumPy array; None: on a device, where
    checking would cost a read) must lie in [0, n)."""
    if host is not None and host.size and (host.min() < 0 or host.max() >= n):
        raise ValueError(f"{op}: {what} must lie in [0, {n}), got values in [{host.min()}, {host.max()}]")


def _int_tensor(op, what, x, device):
    """(x as an int32 tensor, its values if they are on the host, else None): integers
    given as a list or array are checked there, before the upload."""
    if isinstance(x, Tensor):
        if x.dtype != "i32":
            raise TypeError(f"{op}: {what} must be int32, got {x.dtype} of shape {list(x.shape)}")
        return x, (x.handle if x.device == "cpu" else None)
    host = np.asarray(x)
    if host.dtype.kind not in "iu":
        raise TypeError(f"{op}: {what} must be integers, got {host.dtype}")
    return tensor(host.astype(np.int32), dtype="i32", device=device), host


def one_hot(labels, num_classes=-1, dtype=None):
    """[*labels.shape, num_classes] rows of 0 with a 1 at each label (no gradient;
    a float dtype: vkgrad's masks are float); ``labels`` an int32 tensor or integers
    (then on the default device); ``num_classes=-1``: the largest label + 1 (a read
    of device labels), as PyTorch's.  Labels on the host must lie in [0,
    num_classes); on a device one out of range gives a row of NaN (checking would
    cost a read of the device)."""
    if isinstance(labels, Tensor) and labels.dtype != "i32":
        raise ValueError(f"one_hot: labels must be an int32 tensor, got {labels.dtype} of shape "
                         f"{list(labels.shape)}")
    if num_classes == -1:
        h = labels.numpy() if isinstance(labels, Tensor) else np.asarray(labels)
        num_classes = int(h.max()) + 1 if h.size else 0
        if num_classes < 1:
            raise ValueError("one_hot: cannot infer num_classes from no labels")
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be a positive integer (or -1), got {num_classes!r}")
    labels, host = _int_tensor("one_hot", "labels", labels, None)
    if labels.ndim != 1:
        flat = one_hot(Tensor(labels.backend.reshape(labels.handle, (labels.size,)), labels.backend), num_classes,
                       dtype)
        return flat.reshape(tuple(labels.shape) + (int(num_classes),))
    _check_range("one_hot", "labels", host, num_classes)
    dtype = canonical_dtype(dtype) or config.default_dtype
    if dtype not in ("f16", "f32", "f64"):
        raise ValueError(f"one_hot: dtype must be a float dtype, got {dtype}")
    return Tensor(labels.backend.one_hot(labels.handle, int(num_classes), dtype), labels.backend)


def _renorm_rows(weight, rows, max_norm, norm_type):
    """PyTorch's embedding_renorm_: the rows of ``weight`` at the host indices ``rows``
    rescaled in place to a ``norm_type`` norm of at most ``max_norm``, without a gradient."""
    from ..autograd import no_grad
    rows = np.unique(rows)
    if not rows.size:
        return
    with no_grad():
        sel = weight.detach()[rows]
        n = sel.norm(float(norm_type), 1, keepdims=True)
        weight[rows] = sel * where(gt(n, float(max_norm)), float(max_norm) / (n + 1e-7), 1.0)


def embedding(indices, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False, _counts=None):
    """Rows of ``weight`` [num_embeddings, dim] at the int32 ``indices`` (a tensor of
    any shape, or integers): [*indices.shape, dim], as PyTorch's embedding.  Host
    indices must lie in [0, num_embeddings); on a device one out of range gives a
    row of NaN (as one_hot: checking would cost a read).  The weight's gradient adds
    up each index's rows of the output's gradient (the backend's index_add_rows);
    row ``padding_idx`` (negative: from the end) gets none, as PyTorch's.
    ``max_norm``: the rows looked up are first rescaled in place to a ``norm_type``
    norm of at most max_norm; ``scale_grad_by_freq``: each row's gradient divided by
    how often it occurs in ``indices`` (both read the indices to the host);
    ``sparse`` is accepted (the gradient is dense).  (``_counts``: embedding_bag's
    index frequencies, counted over its whole input.)"""
    check_tensor("embedding", weight)
    if weight.ndim != 2 or weight.shape[0] < 1:
        raise ValueError(f"embedding: weight must be [num_embeddings >= 1, dim], got {list(weight.shape)}")
    if padding_idx is not None:
        if not -weight.shape[0] <= int(padding_idx) < weight.shape[0]:
            raise ValueError(f"embedding: padding_idx {padding_idx} is out of range for {weight.shape[0]} rows")
        padding_idx = int(padding_idx) % weight.shape[0]
    indices, host = _int_tensor("embedding", "indices", indices, weight.device)
    same_device("embedding", weight, indices)
    V, D = weight.shape
    _check_range("embedding", "indices", host, V)
    be = weight.backend
    if max_norm is not None or scale_grad_by_freq:
        host = indices.numpy().reshape(-1) if host is None else np.asarray(host).reshape(-1)
        _check_range("embedding", "indices", host, V)
    if max_norm is not None:
        _renorm_rows(weight, host, max_norm, norm_type)
    flat = be.reshape(indices.handle, (indices.size,))
    out = be.reshape(be.gather_rows(weight.handle, flat), tuple(indices.shape) + (D,))
    freq = None
    if scale_grad_by_freq and indices.size:
        counts = np.bincount(host, minlength=V) if _counts is None else _counts
        freq = be.from_numpy((1.0 / counts[host])[:, None], be.dtype_of(weight.handle))

    def backward(g):
        g2 = be.reshape(g, (indices.size, D))
        if freq is not None:
            g2 = be.binary("mul", g2, freq)
        gw = be.index_add_rows(g2, flat, V)
        if padding_idx is not None:  # (a kept [V, 1] column of ones with a zero)
            keep = be.host_constant(("embedding_pad", V, padding_idx),
                                    lambda: (np.arange(V) != padding_idx).astype(np.float32)[:, None], be.dtype_of(gw))
            gw = be.binary("mul", gw, keep)
        return (gw,)

    def vjp(g):  # (recorded: create_graph)
        from .shape import _rows_add_t
        g2 = g.reshape(indices.size, D)
        if freq is not None:
            g2 = g2 * Tensor(freq, be)
        gw = _rows_add_t(g2, flat, V)
        if padding_idx is not None:
            gw = gw * tensor((np.arange(V) != padding_idx).astype(np.float64)[:, None], dtype=gw.dtype,
                             device=gw.device)
        return (gw,)

    return make(out, be, (weight,), backward, vjp=vjp)


def softmax_cross_entropy(logits, targets, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Fused softmax + cross-entropy, averaged over the batch.

    ``targets``: one-hot (or probability) rows ``[B, C]`` -- rows need not sum to 1,
    the gradient is softmax * sum(t) - t; targets requiring grad get theirs --, or
    integer labels ``[B]``;
    logits [N, C, d1, ...] (segmentation) take labels [N, d1, ...] or probabilities of
    their shape, "none" giving [N, d1, ...].
    PyTorch's CrossEntropyLoss options: ``weight`` [C] (a class's weight; with labels
    the mean divides by the rows' weights), ``ignore_index`` (labels equal to it take
    no part, on the host or a device: the mean over the others), ``reduction`` "mean" /
    "sum" / "none", ``label_smoothing`` in [0, 1]; with the defaults (and any
    ignore_index) one fused kernel (forward and gradient), else composed of
    log_softmax."""
    check_tensor("softmax_cross_entropy", logits)
    _check_reduction("softmax_cross_entropy", reduction)
    if logits.ndim == 1:
        return _unbatched(softmax_cross_entropy, logits, targets, reduction, weight=weight, ignore_index=ignore_index,
                          label_smoothing=label_smoothing)
    if logits.ndim > 2:
        return _per_position("softmax_cross_entropy", softmax_cross_entropy, logits, targets, reduction,
                             weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing)
    if not 0.0 <= float(label_smoothing) <= 1.0:
        raise ValueError(f"softmax_cross_entropy: label_smoothing must lie in [0, 1], got {label_smoothing}")
    if weight is not None or reduction != "mean" or label_smoothing or _learned_targets(targets):
        return _xent_composed(logits, targets, weight, ignore_index, reduction, float(label_smoothing))
    be = logits.backend
    t = _targets("softmax_cross_entropy", logits, targets, dense=False, ignore=ignore_index)
    host = _host_labels(targets)
    # labels on a device may hold ignore_index (the kernel skips those rows); host ones say
    ignore = (None if be.dtype_of(t) != "i32" or host is not None and not np.any(host == ignore_index)
              else int(ignore_index))
    # f16 logits are read as they are: the primitive computes in f32 and returns
    # an f32 loss (loss_precision's rule, without its conversion passes)
    loss, dlogits = be.softmax_xent(logits.handle, t, ignore)  # the gradient comes with the forward
    unit = unit_seed(be, (), be.dtype_of(loss))  # backward's seed when the loss ends the graph

    def backward(g):
        if g is unit:
            return (dlogits,)
        gdt, ddt = be.dtype_of(g), be.dtype_of(dlogits)
        if gdt != ddt:  # a scaled f32 loss of f16 logits: the product in f32 (the scale
            # itself, e.g. 2**16, overflows f16), then the logits' dtype
            return (be.cast(be.binary("mul", be.cast(dlogits, gdt), g), ddt),)
        return (be.binary("mul", dlogits, g),)

    def vjp(g):  # (recorded: create_graph) (softmax * sum(t) - t) / B, times g
        from .elementwise import maximum, to
        p_ = _softmax_last(logits if logits.dtype != "f16" else to(logits, dtype="f32"))
        safe, keep = (targets, None) if ignore is None else _kept_labels(p_, targets, ignore)
        dense = Tensor(_targets("softmax_cross_entropy", logits, safe, dense=True), be)
        n = float(logits.shape[0])
        if keep is not None:  # the kept rows' one-hot rows (ignored ones 0), over their count
            dense = dense * keep.reshape((-1, 1))
            n = maximum(sum(keep), 0.5)
        dense = dense if dense.dtype == p_.dtype else to(dense, dtype=p_.dtype)
        d = (p_ * sum(dense, 1, keepdims=True) - dense) / n
        d = d * (g if g.dtype == d.dtype else to(g, dtype=d.dtype))
        return (d if d.dtype == logits.dtype else to(d, dtype=logits.dtype),)
    return make(loss, be, (logits,), backward, vjp=vjp)


def _unbatched(fn, x, targets, reduction, **kw):
    """A classification loss of one sample (PyTorch's unbatched form: x [C], a label
    or probabilities [C]) as a batch of one; "none" gives a 0-d loss."""
    t = targets.reshape((1,) + tuple(targets.shape)) if isinstance(targets, Tensor) else np.asarray(targets)[None]
    out = fn(x.reshape((1,) + x.shape), t, reduction=reduction, **kw)
    return out.reshape(()) if reduction == "none" else out


def _per_position(op, fn, x, targets, reduction, **kw):
    """A classification loss over [N, C, d1, ...] (PyTorch's K-dimensional form:
    segmentation maps): the class axis moved last and the positions made rows,
    labels [N, d1, ...] (or probabilities of x's shape) alike; "none" gives [N, d1, ...]."""
    N, C, rest = x.shape[0], x.shape[1], x.shape[2:]
    rows = transpose(x, (0,) + tuple(range(2, x.ndim)) + (1,)).reshape(-1, C)
    if isinstance(targets, Tensor):
        t = targets
    else:
        t = np.asarray(targets)
    if tuple(t.shape) == (N,) + tuple(rest):
        t = t.reshape((-1,)) if isinstance(t, Tensor) else t.reshape(-1)
    elif tuple(t.shape) == tuple(x.shape):
        t = transpose(as_tensor(op, t, x), (0,) + tuple(range(2, x.ndim)) + (1,)).reshape(-1, C)
    else:
        raise ValueError(f"{op}: targets of shape {list(t.shape)} for input {list(x.shape)}: expected labels "
                         f"{[N] + list(rest)} or probabilities of the input's shape")
    out = fn(rows, t, reduction=reduction, **kw)
    return out.reshape((N,) + tuple(rest)) if reduction == "none" else out


def cross_entropy(probs, targets, eps=0.0):
    """-mean over rows of sum(targets * log(probs)) for probabilities (e.g. softmax output).

    ``eps`` > 0 clamps probabilities away from zero before the log."""
    check_tensor("cross_entropy", probs)
    probs = loss_precision(probs)
    t = Tensor(_targets("cross_entropy", probs, targets), probs.backend)
    p = probs if not eps else probs.clamp(min=eps)
    return affine(sum(mul(t, log(p))), -1.0 / probs.shape[0])


def _check_reduction(op, reduction):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(x, reduction):
    return mean(x) if reduction == "mean" else sum(x) if reduction == "sum" else x


def _host_labels(targets):
    """Integer labels on the host (a NumPy array), else None."""
    if isinstance(targets, Tensor):
        return targets.handle if targets.device == "cpu" and targets.dtype == "i32" else None
    a = np.asarray(targets)
    return a if a.dtype.kind in "iu" else None


def _learned_targets(targets):
    """Whether probability targets take a gradient (PyTorch's cross_entropy gives
    them one: -log_softmax(x) per element, scaled): the composed loss then."""
    return isinstance(targets, Tensor) and targets.requires_grad and targets.dtype != "i32" and config.grad_enabled


def _xent_composed(logits, targets, weight, ignore_index, reduction, smoothing):
    """softmax_cross_entropy's options, composed: -sum(t * w * log_softmax(x)) per row."""
    op = "softmax_cross_entropy"
    x = loss_precision(logits)
    if x.ndim != 2:
        raise ValueError(f"{op}: expected logits of shape [batch, classes], got {list(x.shape)}")
    B, C = x.shape
    labels = _host_labels(targets) is not None or (isinstance(targets, Tensor) and targets.dtype == "i32")
    targets, keep = _kept_labels(x, targets, ignore_index)
    dense = Tensor(_targets(op, x, targets), x.backend)  # (checked; labels as one-hot rows)
    t = dense
    if _learned_targets(targets):  # probabilities that are themselves trained: the gradient reaches them
        t = targets if targets.dtype == x.dtype else targets.to(dtype=x.dtype)
    if smoothing:
        t = affine(t, 1.0 - smoothing, smoothing / C)
    w = None
    if weight is not None:
        w = as_tensor(op, weight, x)
        if w.shape != (C,):
            raise ValueError(f"{op}: weight must have shape [{C}] (one per class), got {list(w.shape)}")
        w = w if w.dtype == x.dtype else w.to(dtype=x.dtype)
    per = neg(sum(mul(t, log_softmax(x) if w is None else mul(log_softmax(x), w)), axis=1))  # [B]
    if keep is not None:
        per = mul(per, keep)
    if reduction != "mean":
        return _reduce(per, reduction)
    if labels and w is not None:  # PyTorch: divided by the weights of the rows' labels
        rows = sum(mul(dense, w), axis=1)
        return sum(per) / sum(rows if keep is None else mul(rows, keep))
    return affine(sum(per), 1.0 / B) if keep is None else sum(per) / sum(keep)  # (none kept: NaN)


def _kept_labels(x, targets, ignore_index):
    """(labels [B] with those equal to ignore_index made 0, the rows kept as a [B]
    1.0 / 0.0 tensor in x's dtype -- None where every row is kept): host labels
    compared here, labels on a device there (no read); other targets as they are."""
    host = _host_labels(targets)
    if host is not None and host.shape == (x.shape[0],):
        keep = host != ignore_index
        if keep.all():
            return targets, None
        return np.where(keep, host, 0).astype(np.int32), tensor(keep.astype(np.float64), dtype=x.dtype, device=x.device)
    if isinstance(targets, Tensor) and targets.dtype == "i32" and targets.shape == (x.shape[0],):
        from .elementwise import eq, to
        lab = to(targets, dtype="f32")
        keep = 1.0 - eq(lab, float(ignore_index))
        return to(lab * keep, dtype="i32"), keep if keep.dtype == x.dtype else to(keep, dtype=x.dtype)
    return targets, None


def _loss_operands(op, pred, target, what):
    """The prediction in the loss's precision and the target as a tensor beside it,
    of exactly its shape (``what``: the prediction's name in the error)."""
    check_tensor(op, pred)
    pred = loss_precision(pred)
    target = as_tensor(op, target, pred)
    if target.shape != pred.shape:
        raise ValueError(f"{op}: target has shape {list(target.shape)}, expected the "
                         f"{what} shape {list(pred.shape)}")
    return pred, target


def binary_cross_entropy_with_logits(logits, targets, weight=None, reduction="mean", pos_weight=None):
    """softplus(x) - x * y per element: binary cross-entropy of the sigmoid of
    ``logits`` against ``targets`` in [0, 1] of the same shape (PyTorch's), in the
    overflow-free form max(x, 0) - x y + log(1 + exp(-|x|)); ``pos_weight`` (broadcast
    along the last axis) weighs the positive term: pos_weight * y * softplus(-x) +
    (1 - y) * softplus(x); ``weight`` (broadcast to the shape) each element's;
    ``reduction`` "mean" (default), "sum" or "none"."""
    op = "binary_cross_entropy_with_logits"
    _check_reduction(op, reduction)
    x, y = _loss_operands(op, logits, targets, "logits'")
    y = y if y.dtype == x.dtype else y.to(dtype=x.dtype)
    if pos_weight is None:
        per = sub(_softplus(x), mul(x, y))
    else:
        pw = as_tensor(op, pos_weight, x)
        per = add(mul(mul(pw, y), _softplus(neg(x))), mul(affine(y, -1.0, 1.0), _softplus(x)))
    return _reduce(per if weight is None else mul(per, as_tensor(op, weight, x)), reduction)


def _log_at_least_100(p):
    """max(log p, -100), its gradient 0 (not 0 / 0) where p is 0 -- or below f32's
    smallest normal number, which GPUs flush (lavapipe's log of 1e-45 was -88,
    its gradient -inf)."""
    pos = gt(p.detach(), 1.1754944e-38)
    return clamp(where(pos, log(where(pos, p, 1.0)), -100.0), min=-100.0)


def binary_cross_entropy(probs, targets, weight=None, reduction="mean"):
    """-(y log p + (1 - y) log(1 - p)) per element for probabilities p (e.g. a
    sigmoid's output; PyTorch's BCELoss).  The logs are clamped at -100, as
    PyTorch's: p = 0 or 1 gives a finite loss (100 where it is wrong) and a zero
    gradient there (PyTorch's is (p - y) / 1e-12: both vanish through a saturated
    sigmoid)."""
    op = "binary_cross_entropy"
    _check_reduction(op, reduction)
    p, y = _loss_operands(op, probs, targets, "probabilities'")
    y = y if y.dtype == p.dtype else y.to(dtype=p.dtype)
    lp, l1p = _log_at_least_100(p), _log_at_least_100(affine(p, -1.0, 1.0))
    per = neg(add(mul(y, lp), mul(affine(y, -1.0, 1.0), l1p)))
    return _reduce(per if weight is None else mul(per, as_tensor(op, weight, p)), reduction)


def mse_loss(pred, target, reduction="mean"):
    """(pred - target)**2 per element, averaged (``reduction`` "mean"), summed
    ("sum") or kept ("none"); shapes must match exactly."""
    _check_reduction("mse_loss", reduction)
    pred, target = _loss_operands("mse_loss", pred, target, "prediction's")
    d = sub(pred, target)
    return _reduce(mul(d, d), reduction)


def l1_loss(pred, target, reduction="mean"):
    """|pred - target| per element (PyTorch's L1Loss)."""
    _check_reduction("l1_loss", reduction)
    pred, target = _loss_operands("l1_loss", pred, target, "prediction's")
    return _reduce(abs(sub(pred, target)), reduction)


def _smooth(op, pred, target, beta, reduction, scale):
    _check_reduction(op, reduction)
    if float(beta) < 0:
        raise ValueError(f"{op}: {'beta' if scale is None else 'delta'} must be >= 0, got {beta}")
    pred, target = _loss_operands(op, pred, target, "prediction's")
    a = abs(sub(pred, target))
    b = float(beta)
    if b == 0.0:
        return _reduce(a, reduction)
    quad, lin = mul(a, a), affine(a, 1.0, -0.5 * b)  # 0.5 a^2 / beta where a < beta, else a - beta / 2
    per = where(lt(a, b), affine(quad, 0.5 / b), lin)
    return _reduce(per if scale is None else affine(per, b), reduction)


def smooth_l1_loss(pred, target, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - beta / 2, d = pred - target
    (PyTorch's SmoothL1Loss; beta = 0: L1)."""
    return _smooth("smooth_l1_loss", pred, target, beta, reduction, None)


def huber_loss(pred, target, reduction="mean", delta=1.0):
    """0.5 d^2 where |d| < delta, else delta (|d| - delta / 2) (PyTorch's HuberLoss:
    smooth_l1_loss times delta)."""
    if float(delta) <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    return _smooth("huber_loss", pred, target, delta, reduction, True)


def nll_loss(log_probs, targets, weight=None, ignore_index=-100, reduction="mean"):
    """-log_probs[i, y_i] (times weight[y_i]) for log-probabilities [B, C] (e.g.
    log_softmax's; or [N, C, d1, ...] with labels [N, d1, ...]) and integer labels [B]
    (PyTorch's NLLLoss: the mean divides by
    the weights of the rows' labels; labels equal to ``ignore_index`` take no part,
    on the host or a device; a label on a device out of range gives NaN, as one_hot)."""
    op = "nll_loss"
    _check_reduction(op, reduction)
    check_tensor(op, log_probs)
    if log_probs.ndim == 1:
        return _unbatched(nll_loss, log_probs, targets, reduction, weight=weight, ignore_index=ignore_index)
    if log_probs.ndim > 2:
        return _per_position(op, nll_loss, log_probs, targets, reduction, weight=weight, ignore_index=ignore_index)
    x = loss_precision(log_probs)
    if x.ndim != 2:
        raise ValueError(f"{op}: expected log-probabilities [batch, classes], got {list(x.shape)}")
    if _host_labels(targets) is None and not (isinstance(targets, Tensor) and targets.dtype == "i32"):
        raise TypeError(f"{op}: targets must be integer class labels [batch]")
    B, C = x.shape
    host = _host_labels(targets)
    if host is not None and host.shape != (B,):
        raise ValueError(f"{op}: integer class labels must have shape [{B}], got {list(host.shape)}")
    targets, keep = _kept_labels(x, targets, ignore_index)
    onehot = Tensor(_targets(op, x, targets), x.backend)
    if keep is not None:
        onehot = mul(onehot, keep.reshape((-1, 1)))
    if weight is not None:
        w = as_tensor(op, weight, x)
        if w.shape != (C,):
            raise ValueError(f"{op}: weight must have shape [{C}] (one per class), got {list(w.shape)}")
        onehot = mul(onehot, w if w.dtype == x.dtype else w.to(dtype=x.dtype))
    per = neg(sum(mul(onehot, x), axis=1))
    if reduction != "mean":
        return _reduce(per, reduction)
    return sum(per) / sum(onehot)


def kl_div(input, target, reduction="mean", log_target=False):
    """PyTorch's kl_div: ``input`` log-probabilities, ``target`` probabilities (or
    log-probabilities with ``log_target``): target * (log target - input) per
    element, 0 where target is 0; ``reduction`` "mean" (over elements, PyTorch's
    default), "batchmean" (the sum over the batch size: the KL divergence), "sum"
    or "none"."""
    op = "kl_div"
    if reduction not in ("mean", "batchmean", "sum", "none"):
        raise ValueError(f"{op}: reduction must be 'mean', 'batchmean', 'sum' or 'none', got {reduction!r}")
    x, t = _loss_operands(op, input, target, "input's")
    t = t if t.dtype == x.dtype else t.to(dtype=x.dtype)
    if log_target:
        per = mul(exp(t), sub(t, x))
    else:  # PyTorch's xlogy(t, t) - t x: 0 where t is 0 (a clamped log: no NaN gradient), NaN where t < 0
        ent = where(gt(t, 0.0), mul(t, log(clamp(t, min=1e-30))), where(lt(t, 0.0), float("nan"), mul(t, 0.0)))
        per = sub(ent, mul(t, x))
    if reduction == "batchmean":
        return affine(sum(per), 1.0 / (x.shape[0] if x.ndim else 1))
    return _reduce(per, reduction)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    """Batch normalisation per channel (axis 1) of [N, C] or [N, C, *spatial] (over
    the batch and the spatial axes; PyTorch's argument order and defaults).

    Training: batch statistics with the exact gradient through them, and the
    running statistics (if given) updated in place (unbiased variance, like
    PyTorch).  Eval: the running statistics, as constants.  ``weight`` /
    ``bias`` None: a scale of 1 / a shift of 0, without gradients.  Spatial
    inputs: in training by the backend's batchnorm_planes_fwd / _bwd over channel
    planes [N, C, S] where it has them (the CPU's C loops), else through the same
    kernels as rows [N * spatial, C] (channels last); in eval a scale and a shift
    per channel broadcast over the planes."""
    check_tensor("batch_norm", x)
    same_device("batch_norm", x, weight, bias, running_mean, running_var)
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: give both running_mean and running_var, or neither")
    if not training and running_mean is None:
        raise ValueError("batch_norm: eval mode (training=False) needs running_mean and running_var")
    xs = x.shape
    if len(xs) < 2:
        raise ValueError(f"batch_norm: expected input [batch, channels] or [batch, channels, *spatial], "
                         f"got {list(xs)}")
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)):
        if t is None:
            continue
        ts = t.shape
        if len(ts) != 1:
            raise ValueError(f"batch_norm: {name} must be 1-d [channels], got {list(ts)}")
        if xs[1] != ts[0]:
            raise ValueError(f"batch_norm: {name} has {ts[0]} channels but the input {list(xs)} "
                             f"has {xs[1]} (axis 1)")
    if weight is None or bias is None:  # a constant scale / shift, no gradient (affine=False):
        # the backend's kept constants (read only here: no fill or upload per call)
        dt, be = (weight if weight is not None else bias if bias is not None else x).dtype, x.backend
        weight = Tensor(be.constant((x.shape[1],), 1.0, dt), be) if weight is None else weight
        bias = Tensor(be.constant((x.shape[1],), 0.0, dt), be) if bias is None else bias
    if x.dtype != weight.dtype:  # e.g. f16 activations (autocast) with f32 batch-norm weights
        x, weight = promote("batch_norm", x, weight)
    if bias.dtype != weight.dtype:
        from .elementwise import to
        bias = to(bias, dtype=weight.dtype)
    if x.ndim > 2 and training:
        y = _batch_norm_planes(x, running_mean, running_var, weight, bias, momentum, eps)
        if y is not None:
            return y
        perm = (0,) + tuple(range(2, x.ndim)) + (1,)
        rows = transpose(x, perm)
        y = batch_norm(rows.reshape(-1, x.shape[1]), running_mean, running_var, weight, bias, training, momentum, eps)
        return transpose(y.reshape(rows.shape), tuple(np.argsort(perm)))
    be = x.backend
    n = x.shape[0]
    if not training:
        if running_mean.dtype != x.dtype:  # f32 statistics of an f16 model
            from .elementwise import to
            running_mean, running_var = to(running_mean, dtype=x.dtype), to(running_var, dtype=x.dtype)
        scale = mul(weight, pow(affine(running_var, 1.0, eps), -0.5))
        shift = sub(bias, mul(running_mean, scale))
        if x.ndim > 2:  # (broadcast over the planes where they lie: no transposes)
            shp = (1, x.shape[1]) + (1,) * (x.ndim - 2)
            scale, shift = scale.reshape(shp), shift.reshape(shp)
        return mul(x, scale) + shift
    if n < 2:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                         f"got input of shape {list(x.shape)}")
    xd = x.handle
    rm, rv = (None, None) if running_mean is None else (running_mean.handle, running_var.handle)
    y, bmean, bvar, invstd = be.batchnorm_fwd(xd, weight.handle, bias.handle, eps, rm, rv, momentum)

    def backward(g):
        dx, dg, db = be.batchnorm_bwd(g, xd, bmean, invstd, weight.handle)
        return dx, dg, db

    def composed(x_, w_, b_):  # (the same normalisation in recorded ops: create_graph's rule)
        m_ = mean(x_, 0, keepdims=True)
        d_ = sub(x_, m_)
        return add(mul(mul(d_, pow(affine(mean(mul(d_, d_), 0, keepdims=True), 1.0, eps), -0.5)), w_), b_)

    return make(y, be, (x, weight, bias), backward, vjp=composed_vjp(composed, (x, weight, bias)))


def _batch_norm_planes(x, running_mean, running_var, w, b, momentum, eps):
    """Train-mode batch_norm of a spatial input [N, C, *spatial] as channel planes [N,
    C, S] by the backend's batchnorm_planes_fwd / _bwd, without the transposes to rows
    and back (w, b: batch_norm's, in x's dtype); None where the backend has no such
    call or there are too few values (batch_norm's rows then, and its error)."""
    be, xs = x.backend, x.shape
    if xs[0] * int(np.prod(xs[2:])) < 2:
        return None
    C = xs[1]
    x3 = be.reshape(x.handle, (xs[0], C, -1))
    rm, rv = (None, None) if running_mean is None else (running_mean.handle, running_var.handle)
    got = be.batchnorm_planes_fwd(x3, w.handle, b.handle, eps, rm, rv, momentum)
    if got is None:
        return None
    y, bmean, _, invstd = got

    def backward(g):
        dx, dg, db = be.batchnorm_planes_bwd(be.reshape(g, x3.shape), x3, bmean, invstd, w.handle)
        return be.reshape(dx, xs), dg, db

    axes, shp = (0,) + tuple(range(2, len(xs))), (1, C) + (1,) * (len(xs) - 2)

    def composed(x_, w_, b_):  # (the same normalisation in recorded ops: create_graph's rule)
        d_ = sub(x_, mean(x_, axes, keepdims=True))
        var_ = mean(mul(d_, d_), axes, keepdims=True)
        return add(mul(mul(d_, pow(affine(var_, 1.0, eps), -0.5)), w_.reshape(shp)), b_.reshape(shp))

    return make(be.reshape(y, xs), be, (x, w, b), backward, vjp=composed_vjp(composed, (x, w, b)))


def _normalized_shape(op, x, normalized_shape, **params):
    """normalized_shape (an int or ints) as a tuple, checked against x's last axes
    and the shapes of the given parameters (None: absent)."""
    check_tensor(op, x)
    shape = (int(normalized_shape),) if isinstance(normalized_shape, numbers.Integral) else \
        tuple(int(d) for d in normalized_shape)
    k = len(shape)
    if not shape or x.ndim < k or x.shape[x.ndim - k:] != shape:
        raise ValueError(f"{op}: normalized_shape {list(shape)} does not match the last axes of "
                         f"the input's shape {list(x.shape)}")
    for what, t in params.items():
        if t is not None:
            check_tensor(f"{op} ({what})", t)
            if tuple(t.shape) != shape:
                raise ValueError(f"{op}: {what} has shape {list(t.shape)}, expected {list(shape)}")
    return shape


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias over the last
    len(normalized_shape) axes (which must equal normalized_shape), the variance
    biased, as PyTorch's layer_norm; the backend's layer_norm primitives (on
    Vulkan one kernel each way where rows fill whole 16-byte quads), the gradient
    exact through the statistics.  Operands of mixed dtypes meet in the widest."""
    shape = _normalized_shape("layer_norm", x, normalized_shape, weight=weight, bias=bias)
    same_device("layer_norm", x, weight, bias)
    dt = max((t for t in (x, weight, bias) if t is not None), key=lambda t: _RANK[t.dtype]).dtype
    if any(t is not None and t.dtype != dt for t in (x, weight, bias)):  # e.g. f16 activations, f32 weights
        from .elementwise import to
        x, weight, bias = (t if t is None or t.dtype == dt else to(t, dtype=dt) for t in (x, weight, bias))
    be = x.backend
    D = int(np.prod(shape))
    R = x.size // D
    xd = be.reshape(x.handle, (R, D))
    wd, bd = (None if t is None else be.reshape(t.handle, (D,)) for t in (weight, bias))
    y, m, r = be.layer_norm(xd, wd, bd, float(eps))

    def col_sum(h):  # a parameter's gradient: summed over the rows in f32, in its dtype
        s = be.reduce("sum", h, (0,), False, f32=True)
        return be.reshape(s if be.dtype_of(s) == dt else be.cast(s, dt), shape)

    def backward(g):
        gd = be.reshape(g, (R, D))
        dx, gx = be.layer_norm_bwd(gd, xd, wd, m, r, weight is not None and weight.requires_grad)
        return (be.reshape(dx, x.shape), None if gx is None else col_sum(gx),
                col_sum(gd) if bias is not None and bias.requires_grad else None)

    def composed(x_, w_, b_):  # (the same normalisation in recorded ops: create_graph's rule)
        axes = tuple(range(x_.ndim - len(shape), x_.ndim))
        d_ = sub(x_, mean(x_, axes, keepdims=True))
        y_ = mul(d_, pow(affine(mean(mul(d_, d_), axes, keepdims=True), 1.0, float(eps)), -0.5))
        y_ = y_ if w_ is None else mul(y_, w_)
        return y_ if b_ is None else add(y_, b_)

    return make(be.reshape(y, x.shape), be, (x, weight, bias), backward,
                vjp=composed_vjp(composed, (x, weight, bias)))


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    """Group normalisation of [N, C, *]: each sample's channels in ``num_groups``
    groups, each group normalised over its channels and spatial positions (the
    variance biased), then a per-channel scale and shift -- PyTorch's group_norm.
    layer_norm over [N, groups, rest], so its gradient includes the statistics'."""
    check_tensor("group_norm", x)
    if x.ndim < 2:
        raise ValueError(f"group_norm: expected input [N, C, *], got {list(x.shape)}")
    C = x.shape[1]
    if isinstance(num_groups, bool) or not isinstance(num_groups, numbers.Integral) or num_groups < 1 \
            or C % num_groups:
        raise ValueError(f"group_norm: num_groups must be a positive int dividing the {C} channels, got "
                         f"{num_groups!r}")
    for what, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (C,):
            raise ValueError(f"group_norm: {what} has shape {list(t.shape)}, expected [{C}]")
    groups = x.reshape(x.shape[0], int(num_groups), -1)
    y = layer_norm(groups, groups.shape[2], eps=eps).reshape(x.shape)
    per_channel = (C,) + (1,) * (x.ndim - 2)  # broadcast over the positions
    if weight is not None:
        y = mul(y, weight.reshape(per_channel))
    return add(y, bias.reshape(per_channel)) if bias is not None else y


def instance_norm(x, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Instance normalisation of [N, C, *] (PyTorch's instance_norm): each sample's
    channel normalised over its positions (group_norm with a group per channel),
    then a per-channel scale and shift.  With running statistics [C] (f32) and
    ``use_input_stats`` they are updated in place from the batch's average of the
    instances' means and unbiased variances; without ``use_input_stats`` they
    normalise instead (eval with track_running_stats)."""
    check_tensor("instance_norm", x)
    if x.ndim < 3:
        raise ValueError(f"instance_norm: expected input [N, C, *spatial], got {list(x.shape)}")
    C = x.shape[1]
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: use_input_stats=False needs running_mean and running_var")
        return batch_norm(x, running_mean, running_var, weight, bias, training=False, eps=eps)
    y = group_norm(x, C, weight, bias, eps)
    if running_mean is not None and running_var is not None:
        from ..autograd import no_grad
        with no_grad():
            axes = tuple(range(2, x.ndim))
            xs = x.detach().to(dtype="f32")
            m = mean(mean(xs, axis=axes), axis=0)
            v = mean(var(xs, axis=axes, correction=1), axis=0)
            be = x.backend
            for run, new in ((running_mean, m), (running_var, v)):
                upd = add(affine(Tensor(run.handle, be), 1.0 - float(momentum)), affine(new, float(momentum)))
                be.copy_(run.handle, upd.handle)
    return y


def _clamped_norm(x, p, axis, eps):
    """max(||x||_p, eps) along ``axis`` (kept), as PyTorch's normalize (a zero vector's
    gradient is 0)."""
    from .elementwise import maximum
    from .shape import norm
    return maximum(norm(x, p, axis, keepdims=True), float(eps))


@torch_kwargs
def normalize(x, p=2.0, axis=1, eps=1e-12):
    """PyTorch's F.normalize: x / max(||x||_p, eps) along ``axis`` (p as ``norm``'s:
    >= 0, inf, -inf; f16 computed in f32)."""
    check_tensor("normalize", x)
    if not isinstance(p, numbers.Real) or isinstance(p, bool) or not (p >= 0 or p == -math.inf):
        raise ValueError(f"normalize: p must be a number >= 0, inf or -inf, got {p!r}")
    norm_axes("normalize", axis, x.ndim)
    from .elementwise import div, to
    if x.dtype == "f16":  # in f32: eps ** p (1e-24) and small norms' squares are no halves
        return to(normalize(to(x, dtype="f32"), p, axis, eps), dtype="f16")
    return div(x, _clamped_norm(x, p, axis, eps))


@torch_kwargs
def cosine_similarity(x1, x2, axis=1, eps=1e-8):
    """PyTorch's F.cosine_similarity: sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps))
    along ``axis`` of the broadcast operands (that axis removed)."""
    check_tensor("cosine_similarity", x1)
    check_tensor("cosine_similarity", x2)
    from .elementwise import div, to
    if "f16" in (x1.dtype, x2.dtype) and x1.dtype != "f64" and x2.dtype != "f64":  # in f32, as normalize
        return to(cosine_similarity(to(x1, dtype="f32"), to(x2, dtype="f32"), axis, eps), dtype="f16")
    shape = broadcast_shape("cosine_similarity", x1.shape, x2.shape)
    x1, x2 = broadcast_to(x1, shape), broadcast_to(x2, shape)
    (ax,) = norm_axes("cosine_similarity", axis, len(shape))
    n1, n2 = (_clamped_norm(t, 2, ax, eps).squeeze(ax) for t in (x1, x2))
    return div(sum(mul(x1, x2), ax), mul(n1, n2))


def causal_mask(backend, L, S, dtype):
    """The additive [L, S] mask hiding later positions (0 on and below the diagonal,
    -inf above), kept by the backend per shape: uploaded once, not per call."""
    return Tensor(backend.host_constant(("causal", L, S), lambda: np.where(np.triu(np.ones((L, S), bool), 1),
                                                                          -np.inf, 0.0), dtype), backend)


# id(mask tensor) -> (a weak reference to it, its version, its values on the host, whether they are booleans);
# by id, not a WeakKeyDictionary: that compares a found key with == (a tensor's is elementwise)
_MASK_KINDS = {}


def _boolean_floats(m):
    """Whether a float mask (a host array) holds only 0.0 and 1.0, a 1 among them:
    vkgrad's booleans (comparisons, ``.bool()``, ``~`` / ``&`` of them: PyTorch code's
    ``arange(S) >= lengths[:, None]``), not scores to add."""
    return bool(m.size) and bool(np.isin(m, (0.0, 1.0)).all()) and bool((m == 1.0).any())


def _mask_values(m):
    """A float mask tensor's host values and whether they are booleans
    (_boolean_floats): read once per tensor and version (one mask is usually passed
    to every layer)."""
    seen = _MASK_KINDS.get(id(m))
    if seen is not None and seen[0]() is m and seen[1] == m._version[0]:
        return seen[2], seen[3]
    host = m.numpy()
    kind = getattr(m, "_bool", False) or _boolean_floats(host)  # (vg.tensor of a boolean array: one even all False)
    _MASK_KINDS[id(m)] = (weakref.ref(m, lambda _, k=id(m): _MASK_KINDS.pop(k, None)), m._version[0], host, kind)
    return host, kind


def additive_mask(m, like, true_masks, with_host=False):
    """An attention mask as scores to add, on ``like``'s device and dtype: a boolean
    -- a NumPy array, an int32 tensor, or a float one holding only 0 and 1 (vkgrad's
    booleans: comparisons -- PyTorch code's ``arange(S) >= lengths[:, None]`` mask --
    and ``vkgrad.tensor`` of a boolean array, even all False; a float tensor is read
    to the host once per tensor and version) -- to -inf where it is True (``true_masks``: PyTorch's
    nn.MultiheadAttention convention) or where it is False (True: the position takes
    part, scaled_dot_product_attention's), 0 elsewhere; other float arrays and
    tensors as they are (PyTorch's float masks: added).  ``with_host``: (the mask,
    the same as a host array, or None for an int32 tensor on a device: not read)."""
    hidden = None  # host booleans, True where hidden
    if not isinstance(m, Tensor):  # (a NumPy array or nested lists)
        m = np.asarray(m)
        if m.dtype == bool or (m.dtype.kind == "f" and _boolean_floats(m)):
            hidden = (m != 0) if true_masks else (m == 0)
            host = np.where(hidden, -np.inf, 0.0)
        else:
            host = np.asarray(m, np.float64)
        t = tensor(host, device=like.device, dtype=like.dtype)
        return (t, host) if with_host else t
    if m.dtype != "i32":
        vals, boolean = _mask_values(m)
        if not boolean:
            return (m, np.asarray(vals, np.float64)) if with_host else m
        hidden = (vals != 0) if true_masks else (vals == 0)
        m = m.to(dtype="i32")
    elif with_host and m.device == "cpu":  # (host memory already: a copy, no device read)
        hidden = (m.numpy() != 0) if true_masks else (m.numpy() == 0)
    from .elementwise import to
    t = where(m, -math.inf, 0.0) if true_masks else where(m, 0.0, -math.inf)
    t = t if t.dtype == like.dtype else to(t, dtype=like.dtype)
    return (t, None if hidden is None else np.where(hidden, -np.inf, 0.0)) if with_host else t


def attention_weights(scores, masks, hosts=None, safe=True):
    """softmax(scores + the sum of the additive ``masks``) over the last axis (the
    masks summed first: they are smaller than the scores).  ``safe``: a row masked
    everywhere (all -inf) gets zero weights and no gradient -- PyTorch's
    scaled_dot_product_attention's rule, where a plain softmax gives NaN (a sequence
    all padding, a left-padded row under a causal mask).  ``hosts``: the masks as host
    arrays where known (then nothing more runs on the device unless such a row
    exists); else those rows are found from the masks' sum on the device."""
    from .elementwise import eq
    total = None
    for m in masks:
        total = m if total is None else add(total, m)
    if not safe:
        return softmax(scores + total, -1)
    if hosts is not None and all(h is not None for h in hosts):
        dead = np.zeros((1,))
        for h in hosts:
            dead = dead + h
        dead = np.all(np.isneginf(dead), axis=-1, keepdims=True)
        if not dead.any():
            return softmax(scores + total, -1)
        dead = tensor(dead.astype(np.float32), device=scores.device, dtype=scores.dtype)
    else:
        dead = eq(amax(total.detach(), -1, keepdims=True), -math.inf)
    return where(dead, 0.0, softmax(scores + where(dead, 0.0, total), -1))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """PyTorch's: softmax(query @ key^T * scale + mask) @ value over [..., L, E],
    [..., S, E], [..., S, Ev] (batch axes broadcast) -> [..., L, Ev]; ``scale``
    1 / sqrt(E) by default; ``attn_mask`` boolean -- a NumPy array, an int32 tensor or
    vkgrad's 1.0 / 0.0 tensor (True: the position takes part, PyTorch's convention
    here) -- or another float tensor / array, added to the scores; broadcast to
    [..., L, S]; ``is_causal``: later positions hidden (not with
    attn_mask); dropout of the weights with probability ``dropout_p`` (always, as
    PyTorch's function: pass 0.0 in evaluation).  ``enable_gqa``: key and value may
    have fewer heads (axis -3) than query, a divisor of them -- each repeated for its
    group of query heads (grouped-query attention).  A query row whose keys are all
    masked gets zeros (and no gradient), as PyTorch's.  Composed of matmul, softmax
    and dropout, so every gradient is exact."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        check_tensor(f"scaled_dot_product_attention ({name})", t)
    if enable_gqa and query.ndim >= 3 and key.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        hq, hk = query.shape[-3], key.shape[-3]
        if hq % hk or value.shape[-3] != hk:
            raise ValueError(f"scaled_dot_product_attention: with enable_gqa, key and value heads ({hk}, "
                             f"{value.shape[-3]}) must be equal and divide the query's {hq}")
        from .compat import repeat_interleave
        key, value = repeat_interleave(key, hq // hk, -3), repeat_interleave(value, hq // hk, -3)
    same_device("scaled_dot_product_attention", query, key, value)
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2 or query.shape[-1] != key.shape[-1] \
            or key.shape[-2] != value.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: expected query [..., L, E], key [..., S, E] and value "
                         f"[..., S, Ev], got {list(query.shape)}, {list(key.shape)}, {list(value.shape)}")
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: give attn_mask or is_causal, not both")
    L, S = query.shape[-2], key.shape[-2]
    scores = matmul(query, key.swapaxes(-1, -2)) * (1.0 / math.sqrt(query.shape[-1]) if scale is None
                                                     else float(scale))
    if is_causal:  # (row i sees key 0: no row masked everywhere)
        weights = softmax(scores + causal_mask(scores.backend, L, S, scores.dtype), -1)
    elif attn_mask is not None:
        m, host = additive_mask(attn_mask, scores, true_masks=False, with_host=True)
        try:
            np.broadcast_shapes(tuple(m.shape), tuple(scores.shape))
        except ValueError:
            raise ValueError(f"scaled_dot_product_attention: attn_mask of shape {list(m.shape)} does not "
                             f"broadcast to the scores' shape {list(scores.shape)}") from None
        weights = attention_weights(scores, [m], [host])
    else:
        weights = softmax(scores, -1)
    if dropout_p:
        weights = dropout(weights, dropout_p, True)
    return matmul(weights, value)


def dropout2d(x, p=0.5, training=True):
    """Channel dropout of [N, C, H, W] (or [C, H, W]): whole channels zeroed with
    probability p, the rest scaled by 1/(1-p), as PyTorch's dropout2d; one mask
    value a channel (dropout of ones), broadcast over the positions."""
    check_tensor("dropout2d", x)
    if x.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected input [N, C, H, W] (or [C, H, W]), got {list(x.shape)}")
    if not training or p == 0.0:
        return dropout(x, p, training)  # (the identity; p checked)
    be = x.backend
    keep = dropout(Tensor(be.constant(x.shape[:-2] + (1, 1), 1.0, x.dtype), be), p, True)
    return mul(x, keep)


def dropout1d(x, p=0.5, training=True):
    """Channel dropout of [N, C, L] (or [C, L]): dropout2d over [.., L, 1]."""
    check_tensor("dropout1d", x)
    if x.ndim not in (2, 3):
        raise ValueError(f"dropout1d: expected input [N, C, L] (or [C, L]), got {list(x.shape)}")
    return dropout2d(x.unsqueeze(-1), p, training).squeeze(-1)


def dropout3d(x, p=0.5, training=True):
    """Channel dropout of [N, C, D, H, W] (or [C, D, H, W]): dropout2d over the
    depth and height folded together."""
    check_tensor("dropout3d", x)
    if x.ndim not in (4, 5):
        raise ValueError(f"dropout3d: expected input [N, C, D, H, W] (or [C, D, H, W]), got {list(x.shape)}")
    s = x.shape
    return dropout2d(x.reshape(s[:-3] + (s[-3] * s[-2], s[-1])), p, training).reshape(s)


def pixel_shuffle(x, upscale_factor):
    """[*, C r^2, H, W] -> [*, C, H r, W r] (PyTorch's pixel_shuffle: sub-pixel
    convolution's rearrangement), a reshape and a permute."""
    check_tensor("pixel_shuffle", x)
    r = int(upscale_factor)
    if x.ndim < 3 or r < 1 or x.shape[-3] % (r * r):
        raise ValueError(f"pixel_shuffle: expected [*, C * {r}^2, H, W], got {list(x.shape)}")
    *lead, C, H, W = x.shape
    lead = tuple(lead)
    y = x.reshape(lead + (C // (r * r), r, r, H, W))
    n = len(lead)
    y = transpose(y, tuple(range(n)) + (n, n + 3, n + 1, n + 4, n + 2))
    return y.reshape(lead + (C // (r * r), H * r, W * r))


def pixel_unshuffle(x, downscale_factor):
    """pixel_shuffle's inverse: [*, C, H r, W r] -> [*, C r^2, H, W]."""
    check_tensor("pixel_unshuffle", x)
    r = int(downscale_factor)
    if x.ndim < 3 or r < 1 or x.shape[-1] % r or x.shape[-2] % r:
        raise ValueError(f"pixel_unshuffle: expected [*, C, H * {r}, W * {r}], got {list(x.shape)}")
    *lead, C, H, W = x.shape
    lead = tuple(lead)
    n = len(lead)
    y = x.reshape(lead + (C, H // r, r, W // r, r))
    y = transpose(y, tuple(range(n)) + (n, n + 2, n + 4, n + 1, n + 3))
    return y.reshape(lead + (C * r * r, H // r, W // r))


@torch_kwargs
def glu(x, axis=-1):
    """a * sigmoid(b), a and b the halves of x along ``axis`` (PyTorch's GLU)."""
    check_tensor("glu", x)
    from .elementwise import sigmoid
    from .shape import split
    ax = axis % x.ndim if x.ndim else 0
    if x.ndim == 0 or x.shape[ax] % 2:
        raise ValueError(f"glu: axis {axis} of shape {list(x.shape)} must have an even length")
    a, b = split(x, x.shape[ax] // 2, ax)
    return mul(a, sigmoid(b))


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p along the last axis (PyTorch's pairwise_distance; p as
    ``norm``'s); a zero distance's gradient is 0."""
    check_tensor("pairwise_distance", x1)
    from .shape import norm
    return norm(add(sub(x1, x2), float(eps)), float(p), -1, keepdim)


def dropout(x, p=0.5, training=True):
    """Inverted dropout: zero with probability p, scale the rest by 1/(1-p)."""
    check_tensor("dropout", x)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must lie in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    be = x.backend
    if p == 1.0:
        return affine(x, 0.0)
    from ..random import next_seed
    # the seed function, not a seed: a replayed step draws a fresh one each time
    y, mask = be.dropout(x.handle, p, next_seed)
    return make(y, be, (x,), lambda g: (be.binary("mul", g, mask),), vjp=lambda g: (g * Tensor(mask, be),))


def bilinear(input1, input2, weight, bias=None):
    """PyTorch's F.bilinear: y[..., o] = sum_ij x1[..., i] weight[o, i, j] x2[..., j]
    (+ bias[o]) for x1 [..., in1], x2 [..., in2], weight [out, in1, in2]: one product
    of x1 with the weight laid out [in1, out * in2], then x2's dot per output."""
    op = "bilinear"
    check_tensor(op, input1)
    check_tensor(op, input2)
    check_tensor(op, weight)
    if weight.ndim != 3 or input1.shape[-1:] != weight.shape[1:2] or input2.shape[-1:] != weight.shape[2:] \
            or input1.shape[:-1] != input2.shape[:-1]:
        raise ValueError(f"{op}: expected inputs [..., in1], [..., in2] (the same leading shape) and weight "
                         f"[out, in1, in2], got {list(input1.shape)}, {list(input2.shape)} and {list(weight.shape)}")
    O, I1, I2 = weight.shape
    lead = input1.shape[:-1]
    w = transpose(weight, (1, 0, 2)).reshape(I1, O * I2)
    t = matmul(input1.reshape(-1, I1), w).reshape((-1, O, I2))
    y = sum(mul(t, input2.reshape(-1, 1, I2)), -1).reshape(lead + (O,))
    return y if bias is None else add(y, bias)


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """PyTorch's F.embedding_bag (its arguments, in its order): the rows of ``weight``
    at each bag's indices reduced by ``mode`` "sum", "mean" or "max" -> [bags, dim].
    Bags are the rows of a 2-d ``input`` [B, L], or the runs of a 1-d one starting at
    ``offsets`` (read to the host to lay the bags out; ``include_last_offset``: offsets
    has B + 1 entries, the last the number of indices); ``per_sample_weights`` (mode
    "sum") weighs each index; indices equal to ``padding_idx`` take no part; an empty
    bag gives zeros.  ``max_norm``: the rows indexed are first rescaled in place to a
    ``norm_type`` norm of at most max_norm; ``scale_grad_by_freq`` (not with "max"):
    each row's gradient divided by how often its index occurs in ``input`` (the
    documented rule; PyTorch 2.13's CPU kernel divides some rows by another index's
    count, pytorch/pytorch#190063); ``sparse`` is accepted (the gradient is dense).
    One embedding gather of [B, longest bag] rows, masked and reduced."""
    op = "embedding_bag"
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"{op}: mode must be 'sum', 'mean' or 'max', got {mode!r}")
    if per_sample_weights is not None and mode != "sum":
        raise ValueError(f"{op}: per_sample_weights needs mode 'sum', got {mode!r}")
    if scale_grad_by_freq and mode == "max":
        raise ValueError(f"{op}: scale_grad_by_freq does not go with mode 'max' (as PyTorch's)")
    check_tensor(op, weight)
    V = weight.shape[0]
    host = input.numpy() if isinstance(input, Tensor) else np.asarray(input)
    if host.size and host.dtype.kind not in "iu":
        raise TypeError(f"{op}: input must be integer indices, got {host.dtype}")
    if host.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{op}: offsets go with a 1-d input, got input {list(host.shape)}")
        B, L = host.shape
        pos = np.arange(B * L).reshape(B, L)
        valid = np.ones((B, L), bool)
    elif host.ndim == 1:
        if offsets is None:
            raise ValueError(f"{op}: a 1-d input needs offsets")
        off = np.asarray(offsets.numpy() if isinstance(offsets, Tensor) else offsets).astype(np.int64).reshape(-1)
        ends = np.append(off[1:], host.size) if not include_last_offset else off[1:]
        starts = off if not include_last_offset else off[:-1]
        if off.size == 0 or off[0] != 0 or np.any(np.diff(off) < 0) or (ends.size and ends[-1] > host.size):
            raise ValueError(f"{op}: offsets must start at 0 and not decrease within the {host.size} indices, "
                             f"got {off.tolist()}")
        if include_last_offset and off[-1] != host.size:  # (the indices past it would be dropped)
            raise ValueError(f"{op}: with include_last_offset the last offset is the number of indices, "
                             f"{host.size}, got {int(off[-1])}")
        lens = ends - starts
        B, L = starts.size, max(1, int(lens.max(initial=0)))
        pos = np.minimum(starts[:, None] + np.arange(L)[None, :], max(host.size - 1, 0))
        valid = np.arange(L)[None, :] < lens[:, None]
    else:
        raise ValueError(f"{op}: input must be 1-d (with offsets) or 2-d [bags, L], got {list(host.shape)}")
    flat = host.reshape(-1)
    idx = np.where(valid, flat[pos] if flat.size else 0, 0)
    if padding_idx is not None:
        valid &= idx != (int(padding_idx) % V)
    _check_range(op, "input", idx[valid], V)
    if max_norm is not None or scale_grad_by_freq:
        _check_range(op, "input", flat, V)
    if max_norm is not None:
        _renorm_rows(weight, flat, max_norm, norm_type)
    counts = np.bincount(flat, minlength=V) if scale_grad_by_freq else None
    emb = embedding(idx, weight, scale_grad_by_freq=scale_grad_by_freq, _counts=counts)  # [B, L, D]
    mask = tensor(valid[..., None].astype(np.float32), dtype=emb.dtype, device=emb.device)
    if mode == "max":
        out = amax(where(mask, emb, -np.inf), 1)
        return where(tensor(valid.any(1, keepdims=True).astype(np.float32), dtype=out.dtype, device=out.device),
                     out, 0.0)
    w = mask
    if per_sample_weights is not None:
        psw = as_tensor(op, per_sample_weights, emb)
        if psw.shape != host.shape:
            raise ValueError(f"{op}: per_sample_weights has shape {list(psw.shape)}, expected the input's "
                             f"{list(host.shape)}")
        from .shape import index_select
        w = mul(w, index_select(psw.reshape(-1), 0, pos.reshape(-1)).reshape(B, L, 1))
    s = sum(mul(emb, w), 1)
    if mode == "sum":
        return s
    counts = np.maximum(valid.sum(1, keepdims=True), 1).astype(np.float64)
    return div(s, tensor(counts, dtype=s.dtype, device=s.device))  # (PyTorch's: the sum over the count)


def gumbel_softmax(logits, tau=1.0, hard=False, dim=-1):
    """PyTorch's F.gumbel_softmax: softmax((logits + g) / tau) along ``dim``, g Gumbel
    noise drawn from vkgrad's generator; ``hard``: the one-hot of its argmax in the
    forward pass and the soft sample's gradient (straight through)."""
    from ..random import rng
    from .elementwise import sub
    check_tensor("gumbel_softmax", logits)
    if not float(tau) > 0:
        raise ValueError(f"gumbel_softmax: tau must be > 0, got {tau}")
    u = rng().uniform(np.finfo(np.float32).tiny, 1.0, logits.shape)
    g = tensor(-np.log(-np.log(u)), dtype=logits.dtype, device=logits.device)
    y = softmax(mul(add(logits, g), 1.0 / float(tau)), dim)
    if not hard:
        return y
    (ax,) = norm_axes("gumbel_softmax", dim, y.ndim)
    from .shape import argmax as argmax_, scatter_add
    idx = argmax_(y.detach(), ax, keepdims=True)
    onehot = scatter_add(y.detach() * 0.0, ax, idx, tensor(np.ones(idx.shape), dtype=y.dtype, device=y.device))
    return add(sub(onehot, y.detach()), y)


@torch_kwargs
def softmin(x, axis=-1):
    """softmax(-x) along ``axis`` (``dim``)."""
    check_tensor("softmin", x)
    from .elementwise import neg
    return softmax(neg(x), axis)


def rms_norm(x, normalized_shape, weight=None, eps=None):
    """PyTorch's rms_norm: x / sqrt(mean(x^2) + eps) * weight over the last
    len(normalized_shape) axes (eps None: the dtype's machine epsilon, as
    PyTorch's); f16 inputs computed in f32 and returned in f16."""
    from .elementwise import rsqrt, to
    k = len(_normalized_shape("rms_norm", x, normalized_shape, weight=weight))
    if eps is None:
        eps = float(np.finfo({"f16": np.float16, "f64": np.float64}.get(x.dtype, np.float32)).eps)
    xw = to(x, dtype="f32") if x.dtype == "f16" else x
    ms = mean(mul(xw, xw), tuple(range(x.ndim - k, x.ndim)), keepdims=True)
    y = mul(xw, rsqrt(ms + float(eps)))
    y = to(y, dtype=x.dtype) if y.dtype != x.dtype else y
    return y if weight is None else mul(y, weight)


_SELU_NEG = -1.0507009873554805 * 1.6732632423543772  # SELU's value at -inf


def _alpha_dropout(op, x, p, training, mask_shape):
    """Dropped elements set to SELU's negative saturation, then an affine map that
    keeps zero mean and unit variance (PyTorch's alpha_dropout)."""
    check_tensor(op, x)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: p must lie in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return mul(x, 0.0)
    be = x.backend
    keep = mul(dropout(Tensor(be.constant(mask_shape, 1.0, x.dtype), be), p, True), 1.0 - p)  # 1 kept, 0 dropped
    a = ((1.0 - p) * (1.0 + p * _SELU_NEG ** 2)) ** -0.5
    b = -a * _SELU_NEG * p
    dropped = keep * -1.0 + 1.0
    return add(mul(add(mul(x, keep), mul(dropped, _SELU_NEG)), a), b)


def alpha_dropout(x, p=0.5, training=False):
    """Dropout for SELU networks: dropped elements take SELU's negative saturation
    and the result is scaled and shifted to keep the mean and variance; the
    identity in eval mode (PyTorch's default training=False)."""
    return _alpha_dropout("alpha_dropout", x, p, training, x.shape)


def feature_alpha_dropout(x, p=0.5, training=False):
    """alpha_dropout of whole channels of [N, C, ...] (one draw a channel)."""
    check_tensor("feature_alpha_dropout", x)
    if x.ndim < 2:
        raise ValueError(f"feature_alpha_dropout: expected [N, C, ...], got {list(x.shape)}")
    return _alpha_dropout("feature_alpha_dropout", x, p, training, x.shape[:2] + (1,) * (x.ndim - 2))


def rrelu(x, lower=1.0 / 8, upper=1.0 / 3, training=False):
    """Randomized leaky ReLU: in training a slope drawn uniformly from [lower,
    upper] for each negative element (vkgrad's generator), in eval the mean
    slope (lower + upper) / 2."""
    from .elementwise import leaky_relu
    check_tensor("rrelu", x)
    if not 0.0 <= lower <= upper:
        raise ValueError(f"rrelu: expected 0 <= lower <= upper, got {lower} and {upper}")
    if not training:
        return leaky_relu(x, (lower + upper) / 2.0)
    from ..random import rng
    slope = Tensor(x.backend.from_numpy(rng().uniform(lower, upper, x.shape), x.dtype), x.backend)
    return where(gt(x, 0.0), x, mul(x, slope))


def pdist(x, p=2.0):
    """The p-norm distances between every pair of x's rows [N, M], the pairs i < j in
    row-major order ([N (N - 1) / 2]); a zero distance's gradient is 0."""
    from .shape import index_select, norm
    check_tensor("pdist", x)
    if x.ndim != 2:
        raise ValueError(f"pdist: expected [N, M] rows, got {list(x.shape)}")
    if not float(p) >= 0:
        raise ValueError(f"pdist: p must be >= 0, got {p}")
    i, j = np.triu_indices(x.shape[0], 1)
    return norm(sub(index_select(x, 0, i), index_select(x, 0, j)), float(p), -1)
