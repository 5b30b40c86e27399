"""Muon, as PyTorch's ``torch.optim.Muon`` (Jordan et al., 2024): SGD momentum
whose update, a matrix, is orthogonalised by a quintic Newton-Schulz iteration
(its singular values pushed towards 1) before the step, with decoupled weight
decay and a shape-dependent rate.  For 2-d weights only (biases and embeddings
belong to another optimizer, as in PyTorch).  The iteration runs in the
parameters' dtype (f32 masters for f16; PyTorch's in bfloat16) as matrix products
on their device; a captured step is refused (the rate is a host number)."""
from __future__ import annotations

import math

from .. import autograd, ops
from ..tensor import Tensor
from .optimizer import Optimizer


def zeropower_via_newtonschulz(x, coefficients=(3.4445, -4.7750, 2.0315), steps=5, eps=1e-7):
    """Muon's orthogonalisation of a matrix ``x`` (a Tensor): ``steps`` quintic
    Newton-Schulz iterations ``X <- a X + (b A + c A^2) X``, ``A = X X^T``, from
    ``x / max(||x||_F, eps)`` (on the wide orientation: the Gram matrix is the
    smaller one)."""
    if x.ndim != 2:
        raise ValueError(f"Muon: the Newton-Schulz iteration takes a matrix, got shape {list(x.shape)}")
    if not 0 <= int(steps) < 100 or len(coefficients) != 3:
        raise ValueError(f"Muon: ns_steps must lie in [0, 100) and ns_coefficients be three numbers, got "
                         f"{steps}, {coefficients}")
    a, b, c = (float(v) for v in coefficients)
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    x = x / ops.clamp(ops.sqrt((x * x).sum()), eps, None)
    for _ in range(int(steps)):
        gram = ops.matmul(x, x.T)
        x = x * a + ops.matmul(gram * b + ops.matmul(gram, gram) * c, x)
    return x.T if tall else x


class Muon(Optimizer):
    """PyTorch's Muon: ``momentum`` (buf = lerp(buf, g, 1 - momentum)),
    ``nesterov`` (the update lerp(g, buf, momentum)), ``ns_coefficients``,
    ``ns_steps``, ``eps`` (the iteration's), ``weight_decay`` (decoupled:
    w *= 1 - lr wd) and ``adjust_lr_fn``: None / "original" (lr sqrt(max(1, A/B))
    for an A x B weight) or "match_rms_adamw" (0.2 lr sqrt(max(A, B))).  Its state
    is ``momentum_buffer``."""

    _HYPER = ("weight_decay", "momentum", "nesterov", "ns_coefficients", "eps", "ns_steps", "adjust_lr_fn")
    _STATE = ("momentum_buffer",)

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(3.4445, -4.7750, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None):
        super().__init__(params, lr)
        if momentum < 0 or weight_decay < 0:
            raise ValueError(f"Muon: momentum and weight_decay must be >= 0, got {momentum}, {weight_decay}")
        if adjust_lr_fn not in (None, "original", "match_rms_adamw"):
            raise ValueError(f"Muon: adjust_lr_fn must be None, 'original' or 'match_rms_adamw', got {adjust_lr_fn!r}")
        if not 0 <= int(ns_steps) < 100 or len(ns_coefficients) != 3:
            raise ValueError(f"Muon: ns_steps must lie in [0, 100) and ns_coefficients be three numbers, got "
                             f"{ns_steps}, {ns_coefficients}")
        for key, p in self.params:
            if p.ndim != 2:
                raise ValueError(f"Muon: parameters must be 2-d matrices, got {key!r} of shape {list(p.shape)} "
                                 "(give biases and embeddings to another optimizer, e.g. AdamW)")
        self.weight_decay, self.momentum, self.nesterov = float(weight_decay), float(momentum), bool(nesterov)
        self.ns_coefficients, self.eps, self.ns_steps = tuple(float(v) for v in ns_coefficients), float(eps), \
            int(ns_steps)
        self.adjust_lr_fn = adjust_lr_fn

    def _state_parts(self, st, p):
        return [st]

    def _state_from_parts(self, cur, parts, p):
        return parts[0]

    def _rate(self, shape):
        A, B = shape
        return self.lr * (0.2 * math.sqrt(max(A, B)) if self.adjust_lr_fn == "match_rms_adamw"
                          else math.sqrt(max(1.0, A / B)))

    def _apply(self, work):
        for _, p, target, g in work:
            be, w, grad = self._composed(p, target, g, "Muon")
            if id(p) not in self.state:
                self.state[id(p)] = self._zeros_like(p)
            buf = Tensor(self.state[id(p)], be)
            with autograd.no_grad():
                buf = buf + (grad - buf) * (1.0 - self.momentum)
                update = grad + (buf - grad) * self.momentum if self.nesterov else buf
                o = zeropower_via_newtonschulz(update, self.ns_coefficients, self.ns_steps, self.eps)
                w = w * (1.0 - self.lr * self.weight_decay) - o * self._rate(p.shape)
            self._write(be, ((self.state[id(p)], buf), (target, w)))
