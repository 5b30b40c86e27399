"""PyTorch's margin and likelihood losses, composed of elementwise ops and sums (so
every backend runs them and the autograd differentiates them): margin_ranking,
hinge_embedding, soft_margin, cosine_embedding, triplet_margin, multi_margin,
multilabel_soft_margin, poisson_nll, gaussian_nll.  ``reduction`` is "mean"
(PyTorch's default), "sum" or "none" throughout."""
from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor, tensor
from ._core import as_tensor, check_tensor, loss_precision
from .elementwise import (_softplus, add, affine, clamp, eq, exp, gt, log, logsigmoid, maximum, minimum, mul, neg,
                          pow, relu, sub, where)
from .nn import _check_range, _check_reduction, _int_tensor, _reduce, one_hot, pairwise_distance
from .shape import mean, sum


def _operands(op, reduction, x, *others, what="input's"):
    """x in the loss's precision and the others as tensors beside it, each of x's
    shape exactly."""
    _check_reduction(op, reduction)
    check_tensor(op, x)
    x = loss_precision(x)
    ts = []
    for name, o in others:
        t = as_tensor(op, o, x)
        if t.shape != x.shape:
            raise ValueError(f"{op}: {name} has shape {list(t.shape)}, expected the {what} shape {list(x.shape)}")
        ts.append(t if t.dtype == x.dtype else t.to(dtype=x.dtype))
    return (x, *ts)


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """max(0, -y (x1 - x2) + margin) per element, y = 1 (x1 should rank higher) or
    -1 (PyTorch's MarginRankingLoss)."""
    x1, x2, y = _operands("margin_ranking_loss", reduction, input1, ("input2", input2), ("target", target),
                          what="input1's")
    return _reduce(clamp(add(neg(mul(y, sub(x1, x2))), float(margin)), 0.0), reduction)  # (at 0: active, PyTorch's)


def hinge_embedding_loss(input, target, margin=1.0, reduction="mean"):
    """x where y = 1, max(0, margin - x) where y = -1 (PyTorch's HingeEmbeddingLoss:
    a target that is neither takes both terms, as there)."""
    x, y = _operands("hinge_embedding_loss", reduction, input, ("target", target))
    pos = where(eq(y, -1.0), 0.0, x)
    neg_ = where(eq(y, 1.0), 0.0, clamp(affine(x, -1.0, float(margin)), 0.0))
    return _reduce(add(pos, neg_), reduction)


def soft_margin_loss(input, target, reduction="mean"):
    """log(1 + exp(-y x)) per element, y = +-1 (PyTorch's SoftMarginLoss)."""
    x, y = _operands("soft_margin_loss", reduction, input, ("target", target))
    return _reduce(_softplus(neg(mul(y, x))), reduction)


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1, the
    cosine along the last axis of [N, D] (or [D]) inputs with y [N] (or a number),
    as PyTorch's CosineEmbeddingLoss (its 1e-12 added to each squared norm)."""
    op = "cosine_embedding_loss"
    _check_reduction(op, reduction)
    check_tensor(op, input1)
    x1 = loss_precision(input1)
    x2 = as_tensor(op, input2, x1)
    if x1.shape != x2.shape or x1.ndim not in (1, 2):
        raise ValueError(f"{op}: expected inputs of one shape [N, D] or [D], got {list(x1.shape)} and "
                         f"{list(x2.shape)}")
    y = as_tensor(op, target, x1)
    if y.shape != x1.shape[:-1]:
        raise ValueError(f"{op}: target has shape {list(y.shape)}, expected {list(x1.shape[:-1])} (one per pair)")
    y = y if y.dtype == x1.dtype else y.to(dtype=x1.dtype)
    x2 = x2 if x2.dtype == x1.dtype else x2.to(dtype=x1.dtype)
    sq = lambda t: add(sum(mul(t, t), -1), 1e-12)  # noqa: E731
    cos = mul(sum(mul(x1, x2), -1), pow(mul(sq(x1), sq(x2)), -0.5))
    per = add(where(eq(y, 1.0), affine(cos, -1.0, 1.0), 0.0),
              where(eq(y, -1.0), relu(add(cos, -float(margin))), 0.0))
    return _reduce(per, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean"):
    """max(0, d(a, p) - d(a, n) + margin), d the p-norm distance along the last axis
    (``pairwise_distance``); ``swap`` takes d(a, n) as min(d(a, n), d(p, n))
    (PyTorch's TripletMarginLoss)."""
    return _triplet("triplet_margin_loss", anchor, positive, negative, lambda u, v: pairwise_distance(u, v, p, eps),
                    margin, swap, reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0, swap=False,
                                      reduction="mean"):
    """triplet_margin_loss with any ``distance_function(u, v)`` -> [N] (None: the
    2-norm, pairwise_distance), PyTorch's TripletMarginWithDistanceLoss."""
    return _triplet("triplet_margin_with_distance_loss", anchor, positive, negative,
                    distance_function or pairwise_distance, margin, swap, reduction)


def _triplet(op, anchor, positive, negative, dist, margin, swap, reduction):
    a, pos, ng = _operands(op, reduction, anchor, ("positive", positive), ("negative", negative),
                           what="anchor's")
    if a.ndim not in (1, 2):
        raise ValueError(f"{op}: expected inputs [N, D] or [D], got {list(a.shape)}")
    d_ap = dist(a, pos)
    d_an = dist(a, ng)
    if swap:
        d_an = minimum(d_an, dist(pos, ng))
    return _reduce(relu(add(sub(d_ap, d_an), float(margin))), reduction)


def multilabel_margin_loss(input, target, reduction="mean"):
    """PyTorch's MultiLabelMarginLoss: for each row, the sum over its target classes
    j (``target``'s leading entries, up to the first -1) and the other classes i of
    max(0, 1 - (x[j] - x[i])), over the number of classes; ``target`` integers of
    input's shape [N, C] or [C] (read on the host)."""
    op = "multilabel_margin_loss"
    _check_reduction(op, reduction)
    check_tensor(op, input)
    x = loss_precision(input)
    single = x.ndim == 1
    x2 = x.reshape((1, -1)) if single else x
    if x2.ndim != 2:
        raise ValueError(f"{op}: expected input [N, C] or [C], got {list(input.shape)}")
    t = np.asarray(target.numpy() if isinstance(target, Tensor) else target)
    if t.shape != tuple(input.shape) or (t.size and t.dtype.kind not in "iu"):
        raise ValueError(f"{op}: target must be integers of the input's shape {list(input.shape)}, got "
                         f"{t.dtype} {list(t.shape)}")
    t2 = t.reshape(x2.shape)
    N, C = x2.shape
    is_target = np.zeros((N, C))
    for n in range(N):
        for c in t2[n]:
            if c < 0:
                break
            if c >= C:
                raise ValueError(f"{op}: target class {int(c)} is out of range for {C} classes")
            is_target[n, c] = 1.0
    pair = tensor(is_target[:, :, None] * (1.0 - is_target[:, None, :]), dtype=x.dtype, device=x.device)
    gap = affine(sub(x2.unsqueeze(-1), x2.unsqueeze(-2)), -1.0, 1.0)  # 1 - (x[j] - x[i]), [N, j, i]
    per = sum(mul(relu(gap), pair), (1, 2)) * (1.0 / C)
    return _reduce(per.reshape(()) if single else per, reduction)


def _labels_one_hot(op, x, target):
    """Integer labels [N] (on the host or x's device) for x [N, C] as one-hot rows in
    x's dtype (a host label out of range is an error, as one_hot's)."""
    if x.ndim != 2:
        raise ValueError(f"{op}: expected input [N, C], got {list(x.shape)}")
    labels, host = _int_tensor(op, "target", target, x.device)
    if labels.shape != (x.shape[0],):
        raise ValueError(f"{op}: target has shape {list(labels.shape)}, expected [{x.shape[0]}] (a label per row)")
    _check_range(op, "target", host, x.shape[1])
    return one_hot(labels, x.shape[1], x.dtype)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, reduction="mean"):
    """For each row x [C] and its label y: sum over i != y of
    max(0, margin - x[y] + x[i]) ** p, over C (times weight[y]) (PyTorch's
    MultiMarginLoss; p 1 or 2)."""
    op = "multi_margin_loss"
    _check_reduction(op, reduction)
    check_tensor(op, input)
    if p not in (1, 2):
        raise ValueError(f"{op}: p must be 1 or 2, got {p!r}")
    x = loss_precision(input)
    if x.ndim == 1:  # one row [C] and a label (PyTorch's unbatched form): the loss of that row
        t1 = target.reshape(1) if isinstance(target, Tensor) else np.reshape(target, (1,))
        out = multi_margin_loss(x.reshape(1, -1), t1, p, margin, weight, reduction)
        return out.reshape(()) if reduction == "none" else out
    oh = _labels_one_hot(op, x, target)
    xy = sum(mul(x, oh), 1, keepdims=True)
    h = relu(add(sub(x, xy), float(margin)))
    h = mul(h, h) if p == 2 else h
    h = mul(h, affine(oh, -1.0, 1.0))  # not the label's own column
    if weight is not None:
        w = as_tensor(op, weight, x)
        if w.shape != (x.shape[1],):
            raise ValueError(f"{op}: weight must have shape [{x.shape[1]}] (one per class), got {list(w.shape)}")
        h = mul(h, sum(mul(oh, w), 1, keepdims=True))
    return _reduce(affine(sum(h, 1), 1.0 / x.shape[1]), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, reduction="mean"):
    """-(y log sigmoid(x) + (1 - y) log sigmoid(-x)) averaged over the C classes of
    each row [N, C] (times ``weight`` [C]) (PyTorch's MultiLabelSoftMarginLoss)."""
    op = "multilabel_soft_margin_loss"
    x, y = _operands(op, reduction, input, ("target", target))
    if x.ndim not in (1, 2):
        raise ValueError(f"{op}: expected input [N, C] or [C], got {list(x.shape)}")
    per = neg(add(mul(y, logsigmoid(x)), mul(affine(y, -1.0, 1.0), logsigmoid(neg(x)))))
    if weight is not None:
        w = as_tensor(op, weight, x)
        if w.shape != (x.shape[-1],):
            raise ValueError(f"{op}: weight must have shape [{x.shape[-1]}] (one per class), got {list(w.shape)}")
        per = mul(per, w)
    return _reduce(mean(per, -1), reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, eps=1e-8, reduction="mean"):
    """Poisson negative log-likelihood (PyTorch's PoissonNLLLoss): exp(x) - y x for a
    log-rate x (``log_input``), else x - y log(x + eps); ``full`` adds Stirling's
    approximation of log(y!) where y > 1."""
    x, y = _operands("poisson_nll_loss", reduction, input, ("target", target))
    per = sub(exp(x), mul(y, x)) if log_input else sub(x, mul(y, log(add(x, float(eps)))))
    if full:
        ys = maximum(y, 1.0)  # (the term is 0 where y <= 1: the log of 1, not of 0)
        st = add(sub(mul(y, log(ys)), y), mul(log(affine(ys, 2 * math.pi)), 0.5))
        per = add(per, where(gt(y, 1.0), st, 0.0))
    return _reduce(per, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Gaussian negative log-likelihood (PyTorch's GaussianNLLLoss):
    0.5 (log v + (x - y)^2 / v) (+ 0.5 log 2 pi with ``full``), v the variance
    clamped at ``eps`` for the value but not the gradient (as PyTorch's in-place
    clamp under no_grad).  ``var`` has the input's shape, or it with the last axis
    1 or dropped (one variance per row)."""
    op = "gaussian_nll_loss"
    x, y = _operands(op, reduction, input, ("target", target))
    v = as_tensor(op, var, x)
    if v.shape != x.shape:
        if x.ndim and v.shape == x.shape[:-1]:
            v = v.reshape(v.shape + (1,))
        elif not (x.ndim and v.shape == x.shape[:-1] + (1,)):
            raise ValueError(f"{op}: var has shape {list(v.shape)}, expected the input's shape {list(x.shape)}, "
                             f"or it with the last axis 1 or dropped")
    v = v if v.dtype == x.dtype else v.to(dtype=x.dtype)
    vc = add(v, sub(clamp(v, min=float(eps)), v).detach())
    d = sub(x, y)
    per = mul(add(log(vc), mul(mul(d, d), pow(vc, -1.0))), 0.5)
    if full:
        per = add(per, 0.5 * math.log(2 * math.pi))
    return _reduce(per, reduction)


_NEG = -1e30  # "log 0" for the CTC recursion: finite, so unreachable states keep finite gradients


def _logsumexp3(a, b, c):
    m = maximum(maximum(a, b), c)
    return add(m, log(add(add(exp(sub(a, m)), exp(sub(b, m))), exp(sub(c, m)))))


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """PyTorch's connectionist temporal classification loss: log_probs [T, N, C]
    (log_softmax's; or [T, C] unbatched), targets [N, S] padded or the N targets
    concatenated (host integers, no blank among them), input_lengths and
    target_lengths (host ints per row).  The forward recursion over the targets
    with blanks between and around, all rows and states at once, a step per time
    step (the autograd differentiates it); "mean" divides each row's loss by its
    target length, then averages.  An impossible alignment gives inf (0 with
    ``zero_infinity``, its gradient too).  The gradient is the exact one towards
    ``log_probs``; PyTorch's kernel returns ``exp(log_probs) - posterior``, which
    differs from it by a multiple of each row's probabilities: after the usual
    log_softmax both give the logits the same gradient."""
    from .shape import cat, gather, getitem
    op = "ctc_loss"
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    check_tensor(op, log_probs)
    lp = loss_precision(log_probs)
    lp = lp if lp.dtype != "f16" else lp.to(dtype="f32")
    unbatched = lp.ndim == 2
    if unbatched:
        lp = lp.reshape(lp.shape[0], 1, lp.shape[1])
    if lp.ndim != 3:
        raise ValueError(f"{op}: log_probs must be [T, N, C] or [T, C], got {list(log_probs.shape)}")
    T, N, C = lp.shape
    as_host = lambda v: np.asarray(v.numpy() if isinstance(v, Tensor) else v)  # noqa: E731
    il = as_host(input_lengths).reshape(-1).astype(np.int64)
    tl = as_host(target_lengths).reshape(-1).astype(np.int64)
    tg = as_host(targets)
    if il.shape != (N,) or tl.shape != (N,) or (il < 0).any() or (il > T).any() or (tl < 0).any():
        raise ValueError(f"{op}: input_lengths and target_lengths must be {N} ints, inputs in [0, {T}], got "
                         f"{il.tolist()} and {tl.tolist()}")
    if tg.dtype.kind not in "iu":
        raise TypeError(f"{op}: targets must be integers, got {tg.dtype}")
    if tg.ndim == 2 and not unbatched or (unbatched and tg.ndim == 1 and tg.size >= tl.sum() and tl.size == 1):
        rows = [tg.reshape(N, -1)[n, :tl[n]] for n in range(N)]
    elif tg.ndim == 1 and tg.size == tl.sum():
        rows = np.split(tg, np.cumsum(tl)[:-1])
    else:
        raise ValueError(f"{op}: targets must be [N, S] or the {int(tl.sum())} targets concatenated, got "
                         f"{list(tg.shape)}")
    if any(r.size != k for r, k in zip(rows, tl)) or any(((r < 0) | (r >= C) | (r == blank)).any() for r in rows):
        raise ValueError(f"{op}: each row needs target_lengths targets in [0, {C}) other than the blank {blank}")
    L = int(tl.max(initial=0))
    S = 2 * L + 1
    ext = np.full((N, S), blank, np.int64)
    for n, r in enumerate(rows):
        ext[n, 1:2 * len(r):2] = r
    skip = np.zeros((N, S), bool)
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    dev, dt = lp.device, lp.dtype
    const = lambda a: tensor(np.asarray(a, np.float64), dtype=dt, device=dev)  # noqa: E731
    E = gather(lp, 2, np.broadcast_to(ext[None], (T, N, S)))  # [T, N, S]: each state's emission
    ninf = const(np.full((N, S), _NEG))
    first = np.zeros((N, S), bool)
    first[:, 0] = True
    first[:, 1] = tl > 0
    alpha = where(const(first), getitem(E, 0), ninf)
    pad1, pad2 = const(np.full((N, 1), _NEG)), const(np.full((N, 2), _NEG))
    skip_t = const(skip)
    live = const((np.arange(T)[:, None] < il[None, :])[..., None].astype(float))  # [T, N, 1]: t inside row n (one upload)
    for t in range(1, int(il.max(initial=0))):
        a1 = cat([pad1, getitem(alpha, (slice(None), slice(0, S - 1)))], 1)
        a2 = where(skip_t, cat([pad2, getitem(alpha, (slice(None), slice(0, S - 2)))], 1), ninf) if S > 2 else ninf
        new = add(_logsumexp3(alpha, a1, a2), getitem(E, t))
        alpha = where(getitem(live, t), new, alpha)
    last = np.stack([2 * tl, np.maximum(2 * tl - 1, 0)], 1)  # the final blank and the last target
    ends = gather(alpha, 1, last)
    ends = where(const(np.stack([np.ones(N), tl > 0], 1)), ends, const(np.full((N, 2), _NEG)))
    ll = _logsumexp3(getitem(ends, (slice(None), 0)), getitem(ends, (slice(None), 1)), const(np.full(N, _NEG)))
    loss = neg(ll)
    loss = where(gt(loss, 1e29), 0.0 if zero_infinity else float("inf"), loss)  # (no alignment fits)
    if unbatched:
        loss = loss.reshape(())
    if reduction == "none":
        return loss
    if reduction == "sum":
        return sum(loss)
    return mean(mul(loss, const(1.0 / np.maximum(tl, 1)).reshape(loss.shape)))
