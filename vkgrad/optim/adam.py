from __future__ import annotations

import math

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
                st = self.state[id(p)] = [self._zeros_like(p), self._second_moment(p), 0]
            elif st[0] is None:  # (RMSprop: a first-moment buffer is not saved with its state)
                st[0] = self._zeros_like(p)
            st[2] += 1
            groups.setdefault((id(p.backend), st[2]), (p.backend, st, []))[2].append(
                (target, g, st[0], st[1]))
        b2 = self.betas[1]
        for be, st, items in groups.values():  # one fused update per backend and step count
            # lr, beta1 (a schedule may cycle it) and the step as callables: a replayed step re-reads them
            be.adam_multi_(items, self._lr_at(st), lambda: self.betas[0], b2, self.eps, self.weight_decay,
                           self._bias_step(st), self.decoupled, self._SQ_COEF, self._form)

    _SQ_COEF = None  # the g^2 term's coefficient in v (None: 1 - beta2)
    _form = "adam"  # the update's form (Backend.adam_)

    def _second_moment(self, p):
        return self._zeros_like(p)

    def _lr_at(self, st):
        """The learning rate of a step (a callable: replays re-read it)."""
        return lambda: self.lr

    def _bias_step(self, st):
        """The step count the bias corrections use (a callable: replays re-read it)."""
        return lambda: st[2]

    def _advance(self, params):
        super()._advance(params)
        for p in params:
            self.state[id(p)][2] += 1


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter); default 0.01 like PyTorch."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr, betas, eps, weight_decay)


class RMSprop(Adam):
    """RMSprop (Tieleman & Hinton): v = alpha v + (1 - alpha) g^2, then
    p -= lr g / (sqrt(v) + eps), ``weight_decay`` L2 added to the gradient -- PyTorch's
    RMSprop and its defaults.  ``momentum``: buf = momentum buf + g / (sqrt(v) + eps),
    p -= lr buf; ``centered``: the gradient's running average a subtracted, p -= lr g /
    (sqrt(v - a^2) + eps) -- one or the other (both at once are not available).  It
    runs on Adam's fused kernels with no bias correction (beta1 = 0 plain: m = g; the
    momentum buffer or the average in m otherwise); its state is ``square_avg``,
    ``momentum_buffer`` or ``grad_avg`` where used, and ``step``."""

    _HYPER = ("alpha", "eps", "weight_decay", "momentum", "centered")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        if momentum and centered:
            raise ValueError("RMSprop: momentum and centered together are not available (either one is)")
        if not 0.0 <= alpha < 1.0 or not 0.0 <= momentum < 1.0 or eps < 0 or weight_decay < 0:
            raise ValueError(f"RMSprop: alpha and momentum must lie in [0, 1), eps and weight_decay be >= 0, got "
                             f"alpha={alpha}, momentum={momentum}, eps={eps}, weight_decay={weight_decay}")
        self.momentum, self.centered = float(momentum), bool(centered)
        super().__init__(params, lr, (0.0, alpha), eps, weight_decay)
        self.alpha = float(alpha)

    @property
    def _form(self):
        return "momentum" if self.momentum else "centered" if self.centered else "adam"

    @property
    def _STATE(self):  # noqa: N802  (the optimizers' name for their state's parts)
        kept = {"momentum": ("momentum_buffer",), "centered": ("grad_avg",)}.get(self._form, ())
        return ("square_avg",) + kept + ("step",)

    @property
    def betas(self):  # beta1: the momentum, the average's decay, or m = g
        return (self.momentum if self.momentum else self.alpha if self.centered else 0.0, self.alpha)

    @betas.setter
    def betas(self, value):  # (Adam's constructor sets them)
        self.alpha = float(value[1])

    def _bias_step(self, st):
        return lambda: math.inf  # beta ** inf = 0: no bias correction

    def _state_parts(self, st):  # [m, v, step] as _STATE names them (m only where it is state)
        return [st[1], st[2]] if self._form == "adam" else [st[1], st[0], st[2]]

    def _state_from_parts(self, cur, parts):
        m = parts[1] if self._form != "adam" else cur[0] if isinstance(cur, list) else None
        st = [m, parts[0], parts[-1]]
        if isinstance(cur, list):
            cur[:] = st
            return cur
        return st


class Adagrad(RMSprop):
    """Adagrad (Duchi et al.): sum += g^2, then p -= clr g / (sqrt(sum) + eps) with
    clr = lr / (1 + (step - 1) lr_decay), ``weight_decay`` L2 added to the gradient --
    PyTorch's Adagrad and its defaults.  On Adam's fused kernels (one dispatch for
    all parameters) with the first moment off, v accumulating (beta2 = 1, its g^2
    term's coefficient 1) and no bias correction; its state is ``sum`` and ``step``."""

    _HYPER = ("lr_decay", "eps", "weight_decay", "initial_accumulator_value")
    _STATE = ("sum", "step")
    _SQ_COEF = 1.0

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                 eps=1e-10):
        if lr_decay < 0 or weight_decay < 0 or initial_accumulator_value < 0 or eps < 0:
            raise ValueError(f"Adagrad: lr_decay, weight_decay, initial_accumulator_value and eps must be >= 0, "
                             f"got {lr_decay}, {weight_decay}, {initial_accumulator_value}, {eps}")
        self.momentum, self.centered = 0.0, False  # (RMSprop's plain form)
        Adam.__init__(self, params, lr, (0.0, 0.0), eps, weight_decay)
        self.lr_decay, self.initial_accumulator_value = float(lr_decay), float(initial_accumulator_value)

    @property
    def betas(self):
        return (0.0, 1.0)

    @betas.setter
    def betas(self, value):  # (fixed: Adam's constructor sets them)
        pass

    def _second_moment(self, p):
        dt = "f64" if p.dtype == "f64" else "f32"
        return p.backend.full(p.shape, self.initial_accumulator_value, dt)

    def _lr_at(self, st):
        return lambda: self.lr / (1.0 + (st[2] - 1) * self.lr_decay)
