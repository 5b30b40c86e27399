"""Adafactor, as PyTorch's ``torch.optim.Adafactor`` (Shazeer & Stern, 2018): the
second moment of a matrix kept as its row and column means (factored along the
last two axes: O(R + C) state for an R x C weight), a relative step size
``max(eps2, rms(w)) min(lr, 1 / sqrt(t))``, the update clipped to RMS ``d`` and
decoupled weight decay.  Composed of the ops on the parameters' device (two host
reads of norms a step, as PyTorch's); a captured step is refused."""
from __future__ import annotations

import math

import numpy as np

from .. import autograd, ops
from ..tensor import Tensor
from .optimizer import Optimizer


class Adafactor(Optimizer):
    """PyTorch's Adafactor: ``beta2_decay`` (the second moment's rate is
    ``t ** beta2_decay``), ``eps`` = (eps1, eps2) (eps1 None: the parameter
    dtype's machine epsilon), ``d`` (the update's RMS clip), ``weight_decay``
    (decoupled).  Its state: ``row_var`` and ``col_var`` for tensors of two or
    more axes, ``variance`` for vectors, and ``step``."""

    _HYPER = ("beta2_decay", "eps", "d", "weight_decay")
    _STATE = ("row_var", "col_var", "variance", "step")

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0,
                 maximize=False):
        super().__init__(params, lr, maximize)
        eps1, eps2 = eps
        if beta2_decay > 0 or (eps1 is not None and eps1 < 0) or eps2 < 0 or d < 1 or weight_decay < 0:
            raise ValueError(f"Adafactor: expected beta2_decay <= 0, eps >= 0, d >= 1, weight_decay >= 0, got "
                             f"beta2_decay={beta2_decay}, eps={eps}, d={d}, weight_decay={weight_decay}")
        self.beta2_decay, self.d, self.weight_decay = float(beta2_decay), float(d), float(weight_decay)
        self.eps = (None if eps1 is None else float(eps1), float(eps2))

    def _state_shape(self, name, p):
        shape = list(p.shape)
        if name == "row_var":
            shape[-1] = 1
        elif name == "col_var":
            shape[-2] = 1
        return tuple(shape)

    def _apply(self, work):
        eps1, eps2 = self.eps
        for _, p, target, g in work:
            be, w, grad = self._composed(p, target, g, "Adafactor")
            st = self.state.get(id(p))
            if st is None:
                dt = "f64" if p.dtype == "f64" else "f32"
                st = self.state[id(p)] = [be.full(self._state_shape(k, p), 0.0, dt) if (k == "variance") ==
                                          (p.ndim < 2) else None for k in self._STATE[:3]] + [0]
            st[3] += 1
            t, n = st[3], max(p.size, 1)
            e1 = float(np.finfo({"f16": np.float16, "f64": np.float64}.get(p.dtype, np.float32)).eps) \
                if eps1 is None else eps1
            rate = t ** self.beta2_decay  # (1 - beta2_t)
            with autograd.no_grad():
                alpha = max(eps2, math.sqrt(float((w * w).sum().item()) / n)) * min(self.lr, 1.0 / math.sqrt(t))
                if self.weight_decay:
                    w = w * (1.0 - self.lr * self.weight_decay)
                sq = grad * grad
                if p.ndim >= 2:
                    row, col = Tensor(st[0], be), Tensor(st[1], be)
                    row = row + (sq.mean(axis=-1, keepdims=True) - row) * rate
                    col = col + (sq.mean(axis=-2, keepdims=True) - col) * rate
                    est = ops.matmul(row, col) / ops.clamp(row.mean(axis=-2, keepdims=True), e1, None)
                    self._write(be, ((st[0], row), (st[1], col)))
                else:
                    var = Tensor(st[2], be)
                    est = var = var + (sq - var) * rate
                    self._write(be, ((st[2], var),))
                update = ops.rsqrt(ops.clamp(est, e1 * e1, None)) * grad
                denom = max(1.0, math.sqrt(float((update * update).sum().item()) / n) / self.d)
                w = w - update * (alpha / denom)
            self._write(be, ((target, w),))
