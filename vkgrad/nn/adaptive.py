"""PyTorch's AdaptiveLogSoftmaxWithLoss (Grave et al., "Efficient softmax
approximation for GPUs"): frequent classes in a head softmax, the rest in
clusters reached through the head, each cluster a smaller projection."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from .. import ops
from ..tensor import Tensor, tensor, zeros_like
from .layers import Linear, ModuleList, Sequential
from .module import Module

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    """``cutoffs`` (increasing, below ``n_classes``) split the classes: the first
    ``cutoffs[0]`` in the head with one entry per cluster, cluster i's classes
    behind a projection to ``in_features // div_value ** (i + 1)``.  ``forward(input,
    target)`` gives (the target's log-probability per row, the mean negative of
    it); ``log_prob(input)`` the full [N, n_classes] log-probabilities;
    ``predict(input)`` their argmax."""

    def __init__(self, in_features, n_classes, cutoffs, div_value=4.0, head_bias=False, device=None, dtype=None):
        super().__init__()
        cutoffs = list(cutoffs)
        if (not cutoffs or cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("AdaptiveLogSoftmaxWithLoss: cutoffs must be a sorted sequence of unique positive "
                             f"ints below n_classes - 1 ({n_classes - 1}), got {cutoffs}")
        self.in_features, self.n_classes, self.div_value = int(in_features), int(n_classes), float(div_value)
        self.cutoffs = [int(c) for c in cutoffs] + [self.n_classes]
        self.shortlist_size, self.n_clusters = self.cutoffs[0], len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head_bias = bool(head_bias)
        self.head = Linear(self.in_features, self.head_size, bias=self.head_bias, device=device, dtype=dtype)
        tail = []
        for i in range(self.n_clusters):
            hsz = int(self.in_features // (self.div_value ** (i + 1)))
            osz = self.cutoffs[i + 1] - self.cutoffs[i]
            tail.append(Sequential(Linear(self.in_features, hsz, bias=False, device=device, dtype=dtype),
                                   Linear(hsz, osz, bias=False, device=device, dtype=dtype)))
        self.tail = ModuleList(tail)

    def _check(self, x, op):
        if not isinstance(x, Tensor) or x.ndim not in (1, 2) or x.shape[-1] != self.in_features:
            raise ValueError(f"AdaptiveLogSoftmaxWithLoss.{op}: input must be [N, {self.in_features}] or "
                             f"[{self.in_features}], got {list(getattr(x, 'shape', ()))}")

    def forward(self, input, target):
        self._check(input, "forward")
        single = input.ndim == 1
        x = input.unsqueeze(0) if single else input
        t = np.asarray(target.numpy() if isinstance(target, Tensor) else target).astype(np.int64).reshape(-1)
        if t.shape[0] != x.shape[0]:
            raise ValueError(f"AdaptiveLogSoftmaxWithLoss: {t.shape[0]} targets for {x.shape[0]} rows")
        if t.size and (t.min() < 0 or t.max() >= self.n_classes):
            raise ValueError(f"AdaptiveLogSoftmaxWithLoss: targets must lie in [0, {self.n_classes - 1}], got "
                             f"[{t.min()}, {t.max()}]")
        gather = t.copy()
        out = None
        for i in range(self.n_clusters):
            lo, hi = self.cutoffs[i], self.cutoffs[i + 1]
            rows = np.flatnonzero((t >= lo) & (t < hi))
            if rows.size == 0:
                continue
            gather[rows] = self.shortlist_size + i
            logp = ops.log_softmax(self.tail[i](ops.index_select(x, 0, rows)), 1)
            local = ops.gather(logp, 1, tensor((t[rows] - lo)[:, None].astype(np.int32), dtype="i32",
                                               device=x.device)).reshape((rows.size,))
            base = out if out is not None else zeros_like(x[:, 0])
            out = ops.index_copy(base, 0, rows, local)
        head = ops.log_softmax(self.head(x), 1)
        picked = ops.gather(head, 1, tensor(gather[:, None].astype(np.int32), dtype="i32",
                                            device=x.device)).reshape((x.shape[0],))
        output = picked if out is None else picked + out
        loss = -ops.mean(output)
        return _ASMoutput(output[0] if single else output, loss)

    def log_prob(self, input):
        """[N, n_classes] log-probabilities (a vector for one row)."""
        self._check(input, "log_prob")
        x = input.unsqueeze(0) if input.ndim == 1 else input
        head = ops.log_softmax(self.head(x), 1)
        parts = [head[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            k = self.shortlist_size + i
            parts.append(ops.log_softmax(self.tail[i](x), 1) + head[:, k:k + 1])
        out = ops.cat(parts, 1)
        return out[0] if input.ndim == 1 else out

    def predict(self, input):
        """The most probable class of each row (int32)."""
        return ops.argmax(self.log_prob(input), -1)

    def extra_repr(self):
        return (f"in_features={self.in_features}, n_classes={self.n_classes}, cutoffs={self.cutoffs[:-1]}, "
                f"div_value={self.div_value}, head_bias={self.head_bias}")
