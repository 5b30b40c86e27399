from __future__ import annotations

from .optimizer import Optimizer


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction; ``weight_decay`` is L2 added to
    the gradient, as in PyTorch's Adam."""

    decoupled = False
    _HYPER = ("betas", "eps", "weight_decay")
    _STATE = ("exp_avg", "exp_avg_sq", "step")  # self.state[id(p)]: [m, v, step]

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        b1, b2 = betas
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"{type(self).__name__}: betas must lie in [0, 1), got {betas}")
        if eps < 0 or weight_decay < 0:
            raise ValueError(f"{type(self).__name__}: eps and weight_decay must be >= 0")
        self.betas, self.eps, self.weight_decay = (float(b1), float(b2)), float(eps), float(weight_decay)

    def _apply(self, work):
        groups = {}
        for _, p, target, g in work:
            st = self.state.get(id(p))
            if st is None:
                st = self.state[id(p)] = [self._zeros_like(p), self._zeros_like(p), 0]
            st[2] += 1
            groups.setdefault((id(p.backend), st[2]), (p.backend, st, []))[2].append(
                (target, g, st[0], st[1]))
        b1, b2 = self.betas
        for be, st, items in groups.values():  # one fused update per backend and step count
            # lr and the step as callables: a replayed step re-reads them
            be.adam_multi_(items, lambda: self.lr, b1, b2, self.eps, self.weight_decay,
                           lambda st=st: st[2], self.decoupled)

    def _advance(self, params):
        super()._advance(params)
        for p in params:
            self.state[id(p)][2] += 1


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter); default 0.01 like PyTorch."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr, betas, eps, weight_decay)
