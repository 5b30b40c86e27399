from __future__ import annotations

from .optimizer import Optimizer


class SGD(Optimizer):
    """SGD with optional (Nesterov) momentum and L2 weight decay, as PyTorch's."""

    _HYPER = ("momentum", "dampening", "nesterov", "weight_decay")
    _STATE = ("momentum_buffer",)  # self.state[id(p)]: the buffer, or None without momentum

    def _state_parts(self, st, p):
        return [st]

    def _state_from_parts(self, cur, parts, p):
        return parts[0]

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0,
                 maximize=False):
        super().__init__(params, lr, maximize)
        if momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: momentum and weight_decay must be >= 0, got {momentum}, {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening = 0")
        self.momentum, self.dampening = momentum, dampening
        self.nesterov, self.weight_decay = nesterov, weight_decay

    def _apply(self, work):
        for _, p, target, g in work:
            # (a buffer from the first step with momentum, as PyTorch's: momentum set after steps without)
            first = id(p) not in self.state or self.state[id(p)] is None and bool(self.momentum)
            if first:
                self.state[id(p)] = self._zeros_like(p) if self.momentum else None
            p.backend.sgd_(target, g, self.state[id(p)], lambda: self.lr, lambda: self.momentum,
                           self.dampening, self.nesterov, self.weight_decay, first)
