"""ASGD, as PyTorch's ``torch.optim.ASGD``: SGD whose step size decays as
``lr / (1 + lambd lr t) ** alpha``, with a weight decay towards zero of
``lambd eta`` and a running average ``ax`` of the weights from step ``t0`` on
(Polyak averaging: read it from ``opt.state``, or ``opt.averaged()``).  Composed
of the elementwise ops; its per-step rates are host numbers, so a captured step
is refused."""
from __future__ import annotations

from .. import autograd
from ..tensor import Tensor
from .optimizer import Optimizer


class ASGD(Optimizer):
    """PyTorch's ASGD: ``lambd`` (decay term), ``alpha`` (power of the rate's
    decay), ``t0`` (the step averaging starts at), L2 ``weight_decay``; the state's
    ``eta`` (the step size) and ``mu`` (the averaging rate) are numbers, ``ax``
    the averaged weights."""

    _HYPER = ("lambd", "alpha", "t0", "weight_decay")
    _STATE = ("ax", "eta", "mu", "step")
    _HOST_STATE = ("eta", "mu")

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, maximize=False):
        super().__init__(params, lr, maximize)
        if weight_decay < 0 or lambd < 0:
            raise ValueError(f"ASGD: lambd and weight_decay must be >= 0, got {lambd}, {weight_decay}")
        self.lambd, self.alpha, self.t0 = float(lambd), float(alpha), float(t0)
        self.weight_decay = float(weight_decay)

    def _apply(self, work):
        for _, p, target, g in work:
            be, w, grad = self._composed(p, target, g, "ASGD")
            st = self.state.get(id(p))
            if st is None:
                st = self.state[id(p)] = [self._zeros_like(p), self.lr, 1.0, 0]
            ax, eta, mu = Tensor(st[0], be), st[1], st[2]
            with autograd.no_grad():
                if self.weight_decay:
                    grad = grad + w * self.weight_decay
                w = w * (1.0 - self.lambd * eta) - grad * eta
                ax = w if mu == 1 else ax + (w - ax) * mu
            self._write(be, ((target, w), (st[0], ax)))
            st[3] += 1
            # the next step's rates, from this step's lr (PyTorch's order)
            st[1] = self.lr / (1.0 + self.lambd * self.lr * st[3]) ** self.alpha
            st[2] = 1.0 / max(1.0, st[3] - self.t0)

    def averaged(self):
        """The averaged weights ``ax`` of each parameter that has taken a step, as
        Tensors in the parameters' order, group by group (PyTorch keeps them in
        ``state[p]["ax"]``)."""
        return [Tensor(o.state[id(p)][0], p.backend) for o in self._groups_served() for _, p in o.params
                if id(p) in o.state]
