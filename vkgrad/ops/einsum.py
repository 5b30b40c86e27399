"""einsum as NumPy and PyTorch spell it, composed of sums, permutes, broadcasts and
batched products (so every backend runs it and the autograd differentiates it):
operands are contracted pairwise, left to right, each pair as one ``matmul``
over [batch, rows, k] @ [batch, k, columns]."""
from __future__ import annotations

import string

import numpy as np

from ..tensor import Tensor
from ._core import check_tensor, same_device
from .nn import matmul
from .shape import broadcast_to, diagonal, reshape, sum, transpose


def _parse(equation, operands):
    """(input subscripts, output subscripts) with ``...`` spelled out as letters the
    equation does not use (aligned from the right, as broadcasting)."""
    eq = equation.replace(" ", "")
    if "->" in eq:
        lhs, out = eq.split("->")
    else:
        lhs, out = eq, None
    ins = lhs.split(",")
    if len(ins) != len(operands):
        raise ValueError(f"einsum: {equation!r} names {len(ins)} operands, got {len(operands)}")
    free = [c for c in string.ascii_letters if c not in eq]
    ell = max((t.ndim - len(s.replace("...", "")) for s, t in zip(ins, operands) if "..." in s), default=0)
    fill = "".join(free[:ell])
    subs = []
    for s, t in zip(ins, operands):
        if s.count("...") > 1 or any(c not in string.ascii_letters for c in s.replace("...", "")):
            raise ValueError(f"einsum: bad subscripts {s!r} in {equation!r} (letters and one '...')")
        if "..." in s:
            k = t.ndim - len(s.replace("...", ""))
            if k < 0:
                raise ValueError(f"einsum: subscripts {s!r} need more dimensions than shape {list(t.shape)}")
            s = s.replace("...", fill[ell - k:])
        if len(s) != t.ndim:
            raise ValueError(f"einsum: subscripts {s!r} for an operand of shape {list(t.shape)}")
        subs.append(s)
    if out is None:  # implicit: the letters used once, sorted, after the ellipsis's
        counts = {}
        for s in subs:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = fill + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in fill))
    else:
        out = out.replace("...", fill)
        if len(set(out)) != len(out) or any(c not in "".join(subs) for c in out):
            raise ValueError(f"einsum: output subscripts {out!r} must be distinct letters of the inputs")
    return subs, out


def _diagonals(t, s):
    """t (subscripts s) with each letter repeated within s taken along its diagonal:
    ``ii`` -> ``i`` (the diagonal's axis last, as ``diagonal`` gives it)."""
    while len(set(s)) != len(s):
        c = next(c for c in s if s.count(c) > 1)
        i = s.index(c)
        j = s.index(c, i + 1)
        if t.shape[i] != t.shape[j]:
            raise ValueError(f"einsum: subscript {c!r} repeated in {s!r} over axes of sizes {t.shape[i]} and "
                             f"{t.shape[j]}")
        t = diagonal(t, 0, i, j)
        s = s[:i] + s[i + 1:j] + s[j + 1:] + c
    return t, s


def _sizes(subs, operands):
    sizes = {}
    for s, t in zip(subs, operands):
        for c, n in zip(s, t.shape):
            had = sizes.get(c, 1)
            if had != 1 and n != 1 and had != n:
                raise ValueError(f"einsum: subscript {c!r} has sizes {had} and {n}")
            sizes[c] = n if n != 1 else had
    return sizes


def _reduce_to(t, s, keep):
    """t (subscripts s) summed over the letters not in ``keep``: (tensor, subscripts)."""
    drop = tuple(i for i, c in enumerate(s) if c not in keep)
    if drop:
        t = sum(t, axis=drop)
        s = "".join(c for c in s if c in keep)
    return t, s


def _arrange(t, s, order, sizes):
    """t permuted to the letters ``order`` (all of s), size-1 axes broadcast."""
    if s != order:
        t = transpose(t, tuple(s.index(c) for c in order))
    full = tuple(sizes[c] for c in order)
    return broadcast_to(t, full) if t.shape != full else t


def _pair(a, sa, b, sb, keep, sizes):
    """Contract a and b over their shared letters not in ``keep``: (tensor, subscripts)."""
    batch = [c for c in sa if c in sb and c in keep]
    k = [c for c in sa if c in sb and c not in keep]
    left = [c for c in sa if c not in sb]
    right = [c for c in sb if c not in sa]
    n = lambda cs: int(np.prod([sizes[c] for c in cs])) if cs else 1  # noqa: E731
    A = reshape(_arrange(a, sa, "".join(batch + left + k), sizes), (n(batch), n(left), n(k)))
    B = reshape(_arrange(b, sb, "".join(batch + k + right), sizes), (n(batch), n(k), n(right)))
    out = matmul(A, B)
    return reshape(out, tuple(sizes[c] for c in batch + left + right)), "".join(batch + left + right)


def einsum(equation, *operands):
    """NumPy's / PyTorch's einsum: ``einsum("bij,bjk->bik", a, b)``, implicit output
    (``"ij,jk"``), ``...`` for broadcast leading axes, any number of operands (also
    given as one list), repeated subscripts within one operand (``"ii->i"``:
    diagonals, ``"ii"``: the trace)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string, got {type(equation).__name__}")
    if not operands:
        raise ValueError("einsum: expected at least one operand")
    for t in operands:
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum: operands must be vkgrad Tensors, got {type(t).__name__}")
        check_tensor("einsum", t)
    same_device("einsum", *operands)
    subs, out = _parse(equation, operands)
    ts = list(operands)
    for i, (t, s) in enumerate(zip(ts, subs)):
        ts[i], subs[i] = _diagonals(t, s)
    sizes = _sizes(subs, ts)
    # each operand's letters used nowhere else summed out first
    for i, (t, s) in enumerate(zip(ts, subs)):
        others = out + "".join(x for j, x in enumerate(subs) if j != i)
        ts[i], subs[i] = _reduce_to(t, s, others)
    t, s = ts[0], subs[0]
    for i in range(1, len(ts)):
        keep = out + "".join(subs[i + 1:])
        t, s = _reduce_to(t, s, keep + subs[i])
        t, s = _pair(t, s, ts[i], subs[i], keep, sizes)
    t, s = _reduce_to(t, s, out)
    return _arrange(t, s, out, sizes) if s != out or t.shape != tuple(sizes[c] for c in out) else t
