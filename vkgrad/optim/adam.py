from __future__ import annotations

import math

from .._values import scalar
from ..backends.base import mom_at
from .optimizer import Optimizer


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction; ``weight_decay`` is L2 added to
    the gradient, as in PyTorch's Adam; ``amsgrad``: the denominator from the
    running maximum of the second moment (composed ops; not capturable)."""

    _HYPER = ("betas", "eps", "weight_decay", "decoupled_weight_decay")
    _STATE = ("exp_avg", "exp_avg_sq", "step")  # self.state[id(p)]: [m, v, step]

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 maximize=False, decoupled_weight_decay=False):
        super().__init__(params, lr, maximize)
        self.decoupled_weight_decay = bool(decoupled_weight_decay)  # (PyTorch's Adam: AdamW's decay)
        b1, b2 = betas
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"{type(self).__name__}: betas must lie in [0, 1), got {betas}")
        if eps < 0 or weight_decay < 0:
            raise ValueError(f"{type(self).__name__}: eps and weight_decay must be >= 0")
        self.betas, self.eps, self.weight_decay = (float(b1), float(b2)), float(eps), float(weight_decay)
        self.amsgrad = bool(amsgrad)
        if self.amsgrad:
            self._STATE = Adam._STATE + ("max_exp_avg_sq",)

    @property
    def decoupled(self):
        """AdamW's weight decay (AdamW: always; NAdam, RAdam, Adam: decoupled_weight_decay)."""
        return self.decoupled_weight_decay

    def _apply(self, work):
        if self.amsgrad:
            return self._apply_amsgrad(work)
        self._start_states(p for _, p, _, _ in work)
        groups = {}
        for _, p, target, g in work:
            st = self.state[id(p)]
            if st[0] is None:  # (RMSprop: a first-moment buffer is not saved with its state)
                st[0] = self._first_moment(p)
            st[2] += 1
            groups.setdefault((id(p.backend), st[2]), (p.backend, st, []))[2].append(
                (target, g, st[0], st[1]))
        b2 = self.betas[1]
        for be, st, items in groups.values():  # one fused update per backend and step count
            # lr, beta1 (a schedule may cycle it) and the step as callables: a replayed step re-reads them
            be.adam_multi_(items, self._lr_at(st), lambda: self.betas[0], b2, self.eps, self.weight_decay,
                           self._bias_step(st), self.decoupled, self._SQ_COEF, self._form, self._scalars(st))

    def _apply_amsgrad(self, work):
        """AMSGrad (PyTorch's amsgrad=True): the denominator from the running maximum
        of v.  Composed of the elementwise ops with the step's bias corrections as
        host numbers, so a captured step cannot replay it (refused there)."""
        from .. import autograd, ops
        from ..tensor import Tensor
        b1, b2 = self.betas
        for _, p, target, g in work:
            be, w, grad = self._composed(p, target, g, f"{type(self).__name__}(amsgrad=True)")
            st = self.state.get(id(p))
            if st is None:
                st = self.state[id(p)] = [self._zeros_like(p), self._zeros_like(p), 0, self._zeros_like(p)]
            st[2] += 1
            t = st[2]
            m, v, vmax = (Tensor(h, be) for h in (st[0], st[1], st[3]))
            with autograd.no_grad():
                if self.weight_decay and self.decoupled:
                    w = w * (1.0 - self.lr * self.weight_decay)
                elif self.weight_decay:
                    grad = grad + w * self.weight_decay
                m = m * b1 + grad * (1.0 - b1)
                v = v * b2 + grad * grad * (1.0 - b2)
                vmax = ops.maximum(vmax, v)
                denom = ops.sqrt(vmax) * (1.0 / math.sqrt(1.0 - b2 ** t)) + self.eps
                w = w - m / denom * (self.lr / (1.0 - b1 ** t))
            self._write(be, ((target, w), (st[0], m), (st[1], v), (st[3], vmax)))

    _SQ_COEF = None  # the g^2 term's coefficient in v (None: 1 - beta2)
    _form = "adam"  # the update's form (Backend.adam_)

    def _scalars(self, st):
        """A callable giving the step's (step_size, rbc2, aux), or None: Adam's bias
        corrections (Backend.adam_)."""
        return None

    def _load_own(self, sd):
        # the parameters starting from loaded state get their moments made together
        # first and the loaded values copied in (a resumed optimizer's fused update
        # keeps them in place, as a fresh one's); fresh zero moments at step 0 are
        # what a first step would make anyway
        states = sd.get("state") if isinstance(sd, dict) else None
        if (not self.amsgrad and isinstance(states, dict)
                and scalar(sd.get("type")) == type(self).__name__):
            self._start_states(p for key, p in self.params if key in states)
        super()._load_own(sd)

    def _start_states(self, ps):
        """[m, v, 0] for those of the parameters ``ps`` without state, their moments
        made together (``_first_moments`` / ``_second_moments``)."""
        fresh = list({id(p): p for p in ps if id(p) not in self.state}.values())
        if fresh:
            for p, m, v in zip(fresh, self._first_moments(fresh), self._second_moments(fresh)):
                self.state[id(p)] = [m, v, 0]

    def _first_moment(self, p):
        return self._zeros_like(p)

    def _first_moments(self, ps):
        """The moments of parameters starting together, made in one ``_full_many``."""
        return self._full_many(ps, 0.0)

    def _second_moments(self, ps):
        return self._full_many(ps, 0.0)

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

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, amsgrad=False,
                 maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)


class RMSprop(Adam):
    """RMSprop (Tieleman & Hinton): v = alpha v + (1 - alpha) g^2, then
    p -= lr g / (sqrt(v) + eps), ``weight_decay`` L2 added to the gradient -- PyTorch's
    RMSprop and its defaults.  ``momentum``: buf = momentum buf + g / (sqrt(v) + eps),
    p -= lr buf; ``centered``: the gradient's running average a subtracted, p -= lr g /
    (sqrt(v - a^2) + eps); both: buf = momentum buf + g / (sqrt(v - a^2) + eps).  It
    runs on Adam's fused kernels with no bias correction (beta1 = 0 plain: m = g; the
    momentum buffer or the average in m otherwise, both in one m of two buffers with
    both); its state is ``square_avg``, ``momentum_buffer`` and ``grad_avg`` where
    used, and ``step``."""

    _HYPER = ("alpha", "eps", "weight_decay", "momentum", "centered")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                 maximize=False):
        if not 0.0 <= alpha < 1.0 or not 0.0 <= momentum < 1.0 or eps < 0 or weight_decay < 0:
            raise ValueError(f"RMSprop: alpha and momentum must lie in [0, 1), eps and weight_decay be >= 0, got "
                             f"alpha={alpha}, momentum={momentum}, eps={eps}, weight_decay={weight_decay}")
        self.momentum, self.centered = float(momentum), bool(centered)
        super().__init__(params, lr, (0.0, alpha), eps, weight_decay, maximize=maximize)
        self.alpha = float(alpha)

    @property
    def _form(self):
        if self.momentum and self.centered:
            return "centered_momentum"
        return "momentum" if self.momentum else "centered" if self.centered else "adam"

    @property
    def _STATE(self):  # noqa: N802  (the optimizers' name for their state's parts)
        kept = {"momentum": ("momentum_buffer",), "centered": ("grad_avg",),
                "centered_momentum": ("momentum_buffer", "grad_avg")}.get(self._form, ())
        return ("square_avg",) + kept + ("step",)

    @property
    def betas(self):  # beta1: the momentum, the average's decay, or m = g
        return (self.momentum if self.momentum else self.alpha if self.centered else 0.0, self.alpha)

    @betas.setter
    def betas(self, value):  # (Adam's constructor sets them)
        self.alpha = float(value[1])

    def _bias_step(self, st):
        return lambda: math.inf  # beta ** inf = 0: no bias correction

    def _first_moments(self, ps):
        if self._form != "centered_momentum":
            return super()._first_moments(ps)
        return [self._first_moment(p) for p in ps]

    def _first_moment(self, p):
        if self._form != "centered_momentum":
            return self._zeros_like(p)
        # the gradient's average, then (from mom_at(n), aligned) the momentum buffer
        dt = "f64" if p.dtype == "f64" else "f32"
        return p.backend.full((mom_at(p.size) + p.size, 1), 0.0, dt)

    @staticmethod
    def _halves(m, p):
        """centered_momentum's m as its two buffers, views of p's shape: (average, momentum)."""
        be, n = p.backend, p.size
        return tuple(be.reshape(be.rows(m, a, a + n), tuple(p.shape)) for a in (0, mom_at(n)))

    def _state_parts(self, st, p):  # [m, v, step] as _STATE names them (m only where it is state)
        if self._form == "centered_momentum":
            avg, buf = self._halves(st[0], p)
            return [st[1], buf, avg, st[2]]
        return [st[1], st[2]] if self._form == "adam" else [st[1], st[0], st[2]]

    def _state_from_parts(self, cur, parts, p):
        if self._form == "centered_momentum":
            v = parts[0]
            m = cur[0] if isinstance(cur, list) and cur[0] is not None else self._first_moment(p)
            for half, part in zip(self._halves(m, p), (parts[2], parts[1])):
                if part is not half:  # (a loaded array: into m's half, in place)
                    p.backend.copy_(half, part)
            st = [m, v, parts[-1]]
        else:
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
                 eps=1e-10, maximize=False):
        if lr_decay < 0 or weight_decay < 0 or initial_accumulator_value < 0 or eps < 0:
            raise ValueError(f"Adagrad: lr_decay, weight_decay, initial_accumulator_value and eps must be >= 0, "
                             f"got {lr_decay}, {weight_decay}, {initial_accumulator_value}, {eps}")
        self.momentum, self.centered = 0.0, False  # (RMSprop's plain form)
        Adam.__init__(self, params, lr, (0.0, 0.0), eps, weight_decay, maximize=maximize)
        self.lr_decay, self.initial_accumulator_value = float(lr_decay), float(initial_accumulator_value)

    @property
    def betas(self):
        return (0.0, 1.0)

    @betas.setter
    def betas(self, value):  # (fixed: Adam's constructor sets them)
        pass

    def _second_moments(self, ps):
        return self._full_many(ps, self.initial_accumulator_value)

    def _lr_at(self, st):
        return lambda: self.lr / (1.0 + (st[2] - 1) * self.lr_decay)


class Adamax(Adam):
    """Adamax (Kingma & Ba, the infinity norm): m = b1 m + (1 - b1) g, u = max(b2 u,
    |g| + eps), p -= lr / (1 - b1^t) m / u -- PyTorch's Adamax and its defaults; state
    ``exp_avg``, ``exp_inf``, ``step``; on Adam's fused kernels (form "adamax")."""

    _STATE = ("exp_avg", "exp_inf", "step")
    _form = "adamax"

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, maximize=maximize)


class NAdam(Adam):
    """NAdam (Dozat: Adam with Nesterov momentum), PyTorch's: the momentum schedule
    mu_t = b1 (1 - 0.5 * 0.96^(t momentum_decay)), p -= lr (1 - mu_t) / (1 - prod mu)
    g / d + lr mu_{t+1} / (1 - prod mu * mu_{t+1}) m / d, d = sqrt(v / (1 - b2^t)) + eps;
    ``decoupled_weight_decay``: AdamW's decay (NAdamW).  State ``exp_avg``,
    ``exp_avg_sq``, ``step`` (the product of the mu is a function of the step);
    on Adam's fused kernels (form "nadam", the coefficients from the host each step)."""

    _HYPER = ("betas", "eps", "weight_decay", "momentum_decay", "decoupled_weight_decay")
    _PYTORCH_DERIVED = ("mu_product",)  # (a function of the step here)
    _form = "nadam"

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, maximize=False):
        if momentum_decay < 0:
            raise ValueError(f"NAdam: momentum_decay must be >= 0, got {momentum_decay}")
        super().__init__(params, lr, betas, eps, weight_decay, maximize=maximize)
        self.momentum_decay, self.decoupled_weight_decay = float(momentum_decay), bool(decoupled_weight_decay)
        self._mu_products = {0: 1.0}  # step -> prod of mu_1 .. mu_step (extended as steps come)

    def _mu(self, t):
        return self.betas[0] * (1.0 - 0.5 * 0.96 ** (t * self.momentum_decay))

    def _mu_product(self, t):
        """prod of mu_1 .. mu_t, extended from the latest step known below t (steps
        advance one at a time; a loaded checkpoint's step starts from 0)."""
        prods = self._mu_products
        if t not in prods:
            k = max(k for k in prods if k <= t)  # (0 is always there)
            for i in range(k + 1, t + 1):
                prods[i] = prods[i - 1] * self._mu(i)
            for old in sorted(prods)[1:-2]:  # keep 0 and the latest two
                del prods[old]
        return prods[t]

    def _scalars(self, st):
        def scalars():
            t = st[2]
            mu, mu_next, prod = self._mu(t), self._mu(t + 1), self._mu_product(t)
            b2 = self.betas[1]
            return (self.lr * mu_next / (1.0 - prod * mu_next), 1.0 / math.sqrt(1.0 - b2 ** t),
                    self.lr * (1.0 - mu) / (1.0 - prod))
        return scalars


class RAdam(Adam):
    """RAdam (Liu et al.: the adaptive rate rectified), PyTorch's: while the variance
    estimate's length rho_t <= 5, p -= lr m / (1 - b1^t) (momentum SGD); after, p -=
    lr r_t sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps); ``decoupled_weight_decay``:
    AdamW's decay.  State ``exp_avg``, ``exp_avg_sq``, ``step``; on Adam's fused kernels
    (form "radam", both terms' coefficients from the host each step)."""

    _HYPER = ("betas", "eps", "weight_decay", "decoupled_weight_decay")
    _form = "radam"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, maximize=maximize)
        self.decoupled_weight_decay = bool(decoupled_weight_decay)

    def _scalars(self, st):
        def scalars():
            t = st[2]
            b1, b2 = self.betas
            bc1, bc2 = 1.0 - b1 ** t, 1.0 - b2 ** t
            rho_inf = 2.0 / (1.0 - b2) - 1.0
            rho_t = rho_inf - 2.0 * t * b2 ** t / bc2
            if rho_t > 5.0:
                rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                return self.lr * rect * math.sqrt(bc2) / bc1, 1.0, 0.0
            return 0.0, 1.0, self.lr / bc1
        return scalars


class Adadelta(RMSprop):
    """Adadelta (Zeiler), PyTorch's: v = rho v + (1 - rho) g^2, u = sqrt(a + eps) /
    sqrt(v + eps) g, a = rho a + (1 - rho) u^2, p -= lr u; state ``square_avg``,
    ``acc_delta``, ``step``; on Adam's fused kernels (form "adadelta": v the squares'
    average, m the updates')."""

    _HYPER = ("rho", "eps", "weight_decay")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
        if not 0.0 <= rho <= 1.0 or eps < 0 or weight_decay < 0:
            raise ValueError(f"Adadelta: rho must lie in [0, 1], eps and weight_decay be >= 0, got {rho}, {eps}, "
                             f"{weight_decay}")
        self.momentum, self.centered = 0.0, False
        Adam.__init__(self, params, lr, (0.0, 0.0), eps, weight_decay, maximize=maximize)
        self.rho = float(rho)

    _form = "adadelta"

    @property
    def _STATE(self):  # noqa: N802
        return ("square_avg", "acc_delta", "step")

    @property
    def betas(self):
        return (0.0, self.rho)

    @betas.setter
    def betas(self, value):  # (Adam's constructor sets them)
        self.rho = float(value[1])

    def _state_parts(self, st, p):  # [m = acc_delta, v = square_avg, step] in _STATE's order
        return [st[1], st[0], st[2]]

    def _state_from_parts(self, cur, parts, p):
        st = [parts[1], parts[0], parts[2]]
        if isinstance(cur, list):
            cur[:] = st
            return cur
        return st
