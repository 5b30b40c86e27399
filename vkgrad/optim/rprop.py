"""Rprop, as PyTorch's ``torch.optim.Rprop``: per-element step sizes grown while the
gradient keeps its sign and shrunk when it flips (then that element waits a step);
the update moves by the step size against the gradient's sign.  Composed of the
elementwise ops on the parameters' device (its state: ``prev``, ``step_size``,
``step``)."""
from __future__ import annotations

from .. import autograd, ops
from ..tensor import Tensor
from .optimizer import Optimizer


class Rprop(Optimizer):
    """PyTorch's Rprop: ``etas`` (decrease, increase) and ``step_sizes`` (min, max);
    the step sizes start at ``lr``."""

    _HYPER = ("etas", "step_sizes")
    _STATE = ("prev", "step_size", "step")

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0), maximize=False):
        super().__init__(params, lr, maximize)
        eminus, eplus = (float(e) for e in etas)
        if not 0.0 < eminus < 1.0 < eplus:
            raise ValueError(f"Rprop: etas must be (decrease in (0, 1), increase > 1), got {etas}")
        smin, smax = (float(s) for s in step_sizes)
        if not 0.0 <= smin <= smax:
            raise ValueError(f"Rprop: step_sizes must be (min, max) with 0 <= min <= max, got {step_sizes}")
        self.etas, self.step_sizes = (eminus, eplus), (smin, smax)

    def _apply(self, work):
        eminus, eplus = self.etas
        smin, smax = self.step_sizes
        for _, p, target, g in work:
            be, w, grad = self._composed(p, target, g)  # (capturable: no per-step host number)
            st = self.state.get(id(p))
            if st is None:
                st = self.state[id(p)] = [self._zeros_like(p), be.full(p.shape, self.lr, be.dtype_of(target)), 0]
            prev, size = Tensor(st[0], be), Tensor(st[1], be)
            with autograd.no_grad():
                s = grad * prev
                up, down = ops.gt(s, 0.0), ops.lt(s, 0.0)
                eta = ops.where(up, eplus, ops.where(down, eminus, 1.0))
                new_size = ops.clamp(size * eta, smin, smax)
                grad = ops.where(down, 0.0, grad)  # a flipped sign: this element waits a step
                new_w = w - ops.sign(grad) * new_size
            self._write(be, ((target, new_w), (st[1], new_size), (st[0], grad)))
            st[2] += 1

    def _advance(self, params):
        super()._advance(params)
        for p in params:
            self.state[id(p)][2] += 1
