"""Learning-rate schedulers; call ``step()`` once per epoch."""
from __future__ import annotations

import math

from .._values import scalar


def _per_group(owner, what, value, n, kind=float):
    """``value`` for each of n parameter groups: one for all, or a list of n (as
    PyTorch's schedulers take max_lr, min_lr, lr_lambda, ...)."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{owner}: expected one {what} or a list of {n} (one per parameter group), "
                             f"got {len(value)}")
        return [v if kind is None else kind(v) for v in value]
    return [value if kind is None else kind(value)] * n


class _Scheduler:
    """Base of the built-in schedules.  As PyTorch's, each parameter group follows
    the schedule from its own base rate (its lr when the scheduler is made):
    ``_group_lr(i, base)`` is group i's rate at ``last_epoch``; ``get_lr()`` lists
    them, ``step()`` sets them and returns the first group's, ``get_last_lr()``
    lists the groups' rates (PyTorch's).  A group added to the optimizer later
    keeps its own rate."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.base_lrs = [o._lr for o in optimizer._groups_served()]
        self.last_epoch = 0

    @property
    def base_lr(self):
        """The first group's base rate."""
        return self.base_lrs[0]

    def _n(self):
        return len(self.base_lrs)

    def _group_lr(self, i, base):
        raise NotImplementedError

    def get_lr(self):
        """Each group's rate at the current epoch."""
        return [self._group_lr(i, b) for i, b in enumerate(self.base_lrs)]

    def _set(self, lrs):
        for o, lr in zip(self.optimizer._groups_served(), lrs):
            o._lr = float(lr)  # (one group's: the optimizer's lr setter would move them all)
        return self.optimizer.lr

    def step(self):
        self.last_epoch += 1
        return self._set(self.get_lr())

    def get_last_lr(self):
        """Each parameter group's current rate (PyTorch's)."""
        return [o._lr for o in self.optimizer._groups_served()]

    def _lr_now(self, i):
        """Group i's current rate."""
        return self.optimizer._groups_served()[i]._lr

    def state_dict(self):
        """The schedule's position (``last_epoch``) and base rates, for checkpoints."""
        return {"type": type(self).__name__, "last_epoch": self.last_epoch, "base_lr": self.base_lr,
                "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, sd):
        """Restore ``state_dict()``'s values (0-d arrays from ``vkgrad.load`` too); the
        optimizer's lr is its own state (``Optimizer.load_state_dict``).  A state
        with one base rate (saved before the groups had their own) moves every
        group's by its ratio to the first's; PyTorch's scheduler state (its
        ``last_epoch`` and ``base_lrs``, ReduceLROnPlateau's counters) loads too."""
        if isinstance(sd, dict) and "type" not in sd and "last_epoch" in sd and "_last_lr" in sd:
            sd = dict(sd, type=type(self).__name__)  # (PyTorch's scheduler state: the same names)
        kind = scalar(sd.get("type")) if isinstance(sd, dict) else None
        if kind != type(self).__name__:
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state is of a "
                             f"{kind or 'non-scheduler'}, expected a {type(self).__name__}")
        self.last_epoch = int(scalar(sd["last_epoch"]))
        if "base_lrs" in sd:
            lrs = [float(v) for v in (sd["base_lrs"].tolist() if hasattr(sd["base_lrs"], "tolist") else sd["base_lrs"])]
            if len(lrs) != self._n():
                raise ValueError(f"{type(self).__name__}.load_state_dict: the state has {len(lrs)} base rates, "
                                 f"this optimizer {self._n()} parameter groups")
            self.base_lrs = lrs
        elif "base_lr" in sd:
            b, first = float(scalar(sd["base_lr"])), self.base_lrs[0]
            self.base_lrs = [b if i == 0 else (v * b / first if first else b) for i, v in enumerate(self.base_lrs)]


class _Chainable(_Scheduler):
    """A schedule lr = floor + (base_lr - floor) * g(epoch), stepped as PyTorch's
    chainable forms: each group's current rate moves by g(t) / g(t - 1) (a rate
    set by hand between steps goes on from there, PyTorch's behaviour), the closed
    form where g(t - 1) is 0."""

    _floor = 0.0

    def _g(self, t):
        raise NotImplementedError

    def _group_lr(self, i, base):
        return self._floor + (base - self._floor) * self._g(self.last_epoch)

    def step(self):
        self.last_epoch += 1
        g0, g1, m = self._g(self.last_epoch - 1), self._g(self.last_epoch), self._floor
        return self._set([m + (cur - m) * (g1 / g0) if g0 else self._group_lr(i, base)
                          for i, (cur, base) in enumerate(zip(self.get_last_lr(), self.base_lrs))])


class StepLR(_Chainable):
    """lr = base_lr * gamma ** (epoch // step_size)."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        if step_size < 1:
            raise ValueError(f"StepLR: step_size must be >= 1, got {step_size}")
        super().__init__(optimizer)
        self.step_size, self.gamma = int(step_size), float(gamma)

    def _g(self, t):
        return self.gamma ** (t // self.step_size)


class CosineAnnealingLR(_Chainable):
    """lr = lr_min + (base_lr - lr_min) * (1 + cos(pi * t / T_max)) / 2 (``eta_min``:
    PyTorch's name for lr_min), for each parameter group from its own base_lr.

    t is the epoch, held at T_max afterwards (PyTorch's rate goes on along the
    cosine, back up); with ``restart=True`` t runs modulo T_max (warm restarts
    every T_max epochs)."""

    def __init__(self, optimizer, T_max, lr_min=0.0, restart=False, eta_min=None):
        if T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be >= 1, got {T_max}")
        if eta_min is not None:  # (PyTorch's name for lr_min)
            if lr_min:
                raise TypeError("CosineAnnealingLR: give lr_min= or eta_min=, not both")
            lr_min = eta_min
        super().__init__(optimizer)
        self.T_max, self.lr_min, self.restart = int(T_max), float(lr_min), bool(restart)

    @property
    def _floor(self):
        return self.lr_min

    def _g(self, t):
        t = t % self.T_max if self.restart else min(t, self.T_max)
        return (1 + math.cos(math.pi * t / self.T_max)) / 2


class ExponentialLR(_Chainable):
    """lr = base_lr * gamma ** epoch."""

    def __init__(self, optimizer, gamma):
        if not gamma > 0:
            raise ValueError(f"ExponentialLR: gamma must be > 0, got {gamma}")
        super().__init__(optimizer)
        self.gamma = float(gamma)

    def _g(self, t):
        return self.gamma ** t


class MultiStepLR(_Chainable):
    """lr = base_lr * gamma ** (the number of milestones reached by the epoch)."""

    def __init__(self, optimizer, milestones, gamma=0.1):
        ms = sorted(int(m) for m in milestones)
        if not ms or ms[0] < 1:
            raise ValueError(f"MultiStepLR: milestones must be epochs >= 1, got {list(milestones)}")
        super().__init__(optimizer)
        self.milestones, self.gamma = ms, float(gamma)

    def _g(self, t):
        return self.gamma ** sum(t >= m for m in self.milestones)


class LinearLR(_Chainable):
    """lr = base_lr * a factor moved linearly from start_factor to end_factor over
    total_iters epochs, then held (a warm-up, as PyTorch's LinearLR).  The factor
    applies from construction: the optimizer's lr is set to base_lr * start_factor."""

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5):
        if not (0 < start_factor <= 1 and 0 <= end_factor <= 1) or total_iters < 1:
            raise ValueError(f"LinearLR: factors must lie in (0, 1] and [0, 1], total_iters >= 1, got "
                             f"{start_factor}, {end_factor}, {total_iters}")
        super().__init__(optimizer)
        self.start_factor, self.end_factor, self.total_iters = float(start_factor), float(end_factor), int(total_iters)
        self._set(self.get_lr())

    def _g(self, t):
        t = min(t, self.total_iters) / self.total_iters
        return self.start_factor + (self.end_factor - self.start_factor) * t


def _lambdas(owner, lr_lambda, n):
    fns = _per_group(owner, "lr_lambda", lr_lambda, n, None)
    for f in fns:
        if not callable(f):
            raise TypeError(f"{owner}: lr_lambda must be callable (or a list of them, one per parameter "
                            f"group), got {type(f).__name__}")
    return fns


class LambdaLR(_Scheduler):
    """lr = base_lr * lr_lambda(epoch) (applied from construction, epoch 0);
    ``lr_lambda`` one function or a list of one per parameter group; its
    state_dict holds the position only, not the functions."""

    def __init__(self, optimizer, lr_lambda):
        super().__init__(optimizer)
        self.lr_lambdas = _lambdas("LambdaLR", lr_lambda, self._n())
        self._set(self.get_lr())

    def _group_lr(self, i, base):
        return base * float(self.lr_lambdas[i](self.last_epoch))


class ReduceLROnPlateau(_Scheduler):
    """lr *= factor when ``step(metric)`` has not improved on the best value (by more
    than ``threshold``: relative with ``threshold_mode="rel"``, absolute with "abs")
    for more than ``patience`` epochs, then waits ``cooldown`` epochs; never below
    ``min_lr`` (one, or a list of one per parameter group), nor by less than ``eps``
    (PyTorch's); each group's rate from its own.  ``mode="max"`` for metrics that
    should rise (accuracy)."""

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0.0, eps=1e-8):
        if mode not in ("min", "max") or threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max' and threshold_mode 'rel' or 'abs', "
                             f"got {mode!r}, {threshold_mode!r}")
        super().__init__(optimizer)
        self.min_lrs = _per_group("ReduceLROnPlateau", "min_lr", min_lr, self._n())
        if not 0.0 < factor < 1.0 or patience < 0 or cooldown < 0 or threshold < 0 or min(self.min_lrs) < 0:
            raise ValueError(f"ReduceLROnPlateau: factor must lie in (0, 1), patience, cooldown, threshold and "
                             f"min_lr be >= 0, got {factor}, {patience}, {cooldown}, {threshold}, {min_lr}")
        self.mode, self.factor, self.patience = mode, float(factor), int(patience)
        self.threshold, self.threshold_mode, self.cooldown = float(threshold), threshold_mode, int(cooldown)
        self.eps = float(eps)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs, self.cooldown_counter = 0, 0

    def _better(self, v):
        sign = 1.0 if self.mode == "max" else -1.0  # (the direction of an improvement)
        if self.threshold_mode == "rel":
            return sign * (v - self.best * (1 + sign * self.threshold)) > 0
        return sign * (v - (self.best + sign * self.threshold)) > 0

    def step(self, metric):
        """One epoch's metric (a number, or a one-element tensor: read from it)."""
        v = float(metric.item() if hasattr(metric, "item") else metric)
        self.last_epoch += 1
        if self._better(v):
            self.best, self.num_bad_epochs = v, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            lrs = self.get_last_lr()
            news = [max(lr * self.factor, m) for lr, m in zip(lrs, self.min_lrs)]
            self._set([new if lr - new > self.eps else lr for lr, new in zip(lrs, news)])
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        return self.optimizer.lr

    def state_dict(self):
        sd = super().state_dict()
        sd.update(best=self.best, num_bad_epochs=self.num_bad_epochs, cooldown_counter=self.cooldown_counter)
        return sd

    def load_state_dict(self, sd):
        super().load_state_dict(sd)
        self.best = float(scalar(sd["best"]))
        self.num_bad_epochs = int(scalar(sd["num_bad_epochs"]))
        self.cooldown_counter = int(scalar(sd["cooldown_counter"]))


class ConstantLR(_Chainable):
    """lr = base_lr * factor until epoch total_iters, then base_lr (PyTorch's)."""

    def __init__(self, optimizer, factor=1.0 / 3, total_iters=5):
        if not 0 <= factor <= 1 or total_iters < 0:
            raise ValueError(f"ConstantLR: factor must lie in [0, 1] and total_iters be >= 0, got {factor}, "
                             f"{total_iters}")
        super().__init__(optimizer)
        self.factor, self.total_iters = float(factor), int(total_iters)
        self._set(self.get_lr())

    def _g(self, t):
        return self.factor if t < self.total_iters else 1.0


class PolynomialLR(_Chainable):
    """lr = base_lr * (1 - min(epoch, total_iters) / total_iters) ** power (PyTorch's)."""

    def __init__(self, optimizer, total_iters=5, power=1.0):
        if total_iters < 1:
            raise ValueError(f"PolynomialLR: total_iters must be >= 1, got {total_iters}")
        super().__init__(optimizer)
        self.total_iters, self.power = int(total_iters), float(power)

    def _g(self, t):
        return (1.0 - min(t, self.total_iters) / self.total_iters) ** self.power


class MultiplicativeLR(_Scheduler):
    """lr multiplied by lr_lambda(epoch) at each step (PyTorch's); ``lr_lambda`` one
    function or a list of one per parameter group; its state_dict holds the
    position only, not the functions."""

    def __init__(self, optimizer, lr_lambda):
        super().__init__(optimizer)
        self.lr_lambdas = _lambdas("MultiplicativeLR", lr_lambda, self._n())

    def _group_lr(self, i, base):
        if self.last_epoch == 0:
            return base
        return self._lr_now(i) * float(self.lr_lambdas[i](self.last_epoch))


class CosineAnnealingWarmRestarts(_Scheduler):
    """PyTorch's SGDR: lr = eta_min + (base_lr - eta_min) (1 + cos(pi T_cur / T_i)) / 2,
    T_cur the epochs since the last restart, the first period T_0, each next one
    T_mult times longer."""

    def __init__(self, optimizer, T_0, T_mult=1, eta_min=0.0):
        if T_0 < 1 or T_mult < 1 or int(T_mult) != T_mult:
            raise ValueError(f"CosineAnnealingWarmRestarts: T_0 must be >= 1 and T_mult an integer >= 1, got "
                             f"{T_0}, {T_mult}")
        super().__init__(optimizer)
        self.T_0, self.T_mult, self.eta_min = int(T_0), int(T_mult), float(eta_min)

    def _group_lr(self, i, base):
        e, T_i = self.last_epoch, self.T_0
        while e >= T_i:  # (a handful of periods: the loop is the closed form's log)
            e -= T_i
            T_i *= self.T_mult
        return self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * e / T_i)) / 2


def _momentum_kind(optimizer):
    """"betas" (the Adam family's beta1) or "momentum" (SGD's, RMSprop's) as the
    optimizer's hyperparameters name them -- PyTorch's choice by its defaults
    (RMSprop runs on Adam's kernels but has no betas) --, or None."""
    hyper = type(optimizer)._HYPER
    return "betas" if "betas" in hyper else "momentum" if "momentum" in hyper else None


def _check_momentum(name, optimizer, cycle_momentum):
    if cycle_momentum and _momentum_kind(optimizer) is None:
        raise ValueError(f"{name}: {type(optimizer).__name__} has neither momentum nor betas to cycle; "
                         "pass cycle_momentum=False")


def _cycles_momentum(optimizer, cycle_momentum):
    """Whether a schedule moves the momentum: asked for, and the optimizer has one --
    an SGD or RMSprop made with momentum 0 too, as PyTorch's (the schedule sets it
    before the first step, which then keeps a momentum buffer)."""
    return bool(cycle_momentum) and _momentum_kind(optimizer) is not None


def _set_momentum(group, m):
    """One parameter group's SGD momentum, or the Adam family's beta1 (captured
    steps re-read both); ``group``: the optimizer serving it (its own attribute:
    the optimizer's setter would move every group's)."""
    if _momentum_kind(group) == "betas":
        object.__setattr__(group, "betas", (m, group.betas[1]))
    else:
        object.__setattr__(group, "momentum", m)


class OneCycleLR(_Scheduler):
    """PyTorch's 1cycle policy, stepped once per batch: lr rises from max_lr /
    div_factor to max_lr over the first pct_start of total_steps, then falls to
    max_lr / div_factor / final_div_factor ("cos" or "linear"; ``three_phase``: back
    to the initial lr first, then down); with ``cycle_momentum`` the momentum (SGD)
    or beta1 (the Adam family) moves the other way, between max_momentum and
    base_momentum.  max_lr and the momenta: one, or a list of one per parameter
    group.  Stepping past total_steps raises, as PyTorch's."""

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False):
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR: give total_steps, or epochs and steps_per_epoch")
            total_steps = int(epochs) * int(steps_per_epoch)
        if total_steps < 2 or not 0 < pct_start < 1 or anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: total_steps must be >= 2, pct_start lie in (0, 1) and anneal_strategy be "
                             f"'cos' or 'linear', got {total_steps}, {pct_start}, {anneal_strategy!r}")
        _check_momentum("OneCycleLR", optimizer, cycle_momentum)
        super().__init__(optimizer)
        n = self._n()
        self.total_steps, self.anneal = int(total_steps), anneal_strategy
        self.max_lrs = _per_group("OneCycleLR", "max_lr", max_lr, n)
        self.base_lrs = [m / div_factor for m in self.max_lrs]  # (the initial rates)
        hi, lo = (_per_group("OneCycleLR", w, v, n) for w, v in (("max_momentum", max_momentum),
                                                                  ("base_momentum", base_momentum)))
        T = float(self.total_steps)
        self.ends = [pct_start * T - 1, 2 * pct_start * T - 2, T - 1] if three_phase else [pct_start * T - 1, T - 1]
        # per group: the rates and momenta at the phases' bounds
        self.lrs = [[b, m, b, b / final_div_factor] if three_phase else [b, m, b / final_div_factor]
                    for b, m in zip(self.base_lrs, self.max_lrs)]
        self.moms = [[h, l_, h, h] if three_phase else [h, l_, h] for h, l_ in zip(hi, lo)]
        self.cycle_momentum = _cycles_momentum(optimizer, cycle_momentum)
        self._set(self.get_lr())

    def _ann(self, start, end, pct):
        if self.anneal == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _group_lr(self, i, base):
        t = self.last_epoch
        if t > self.total_steps:  # (PyTorch's count: a step per batch of total_steps batches is allowed,
            # its last rate -- never used -- past the cycle's end)
            raise ValueError(f"OneCycleLR: stepped {t} times, past total_steps = {self.total_steps}")
        start = 0.0
        for k, end in enumerate(self.ends):
            if t <= end or k == len(self.ends) - 1:
                pct = (t - start) / (end - start)
                if self.cycle_momentum:
                    _set_momentum(self.optimizer._groups_served()[i], self._ann(*self.moms[i][k:k + 2], pct))
                return self._ann(*self.lrs[i][k:k + 2], pct)
            start = end
        raise AssertionError("unreachable")


class CyclicLR(_Scheduler):
    """PyTorch's cyclical learning rate, stepped once per batch: lr goes from
    base_lr up to max_lr over step_size_up steps and back over step_size_down
    (default the same), the amplitude scaled per cycle ("triangular": 1,
    "triangular2": halved each cycle) or per step ("exp_range": gamma ** step), or
    by ``scale_fn(x)`` with ``scale_mode`` "cycle" or "iterations"; with
    ``cycle_momentum`` the momentum (SGD) or beta1 (the Adam family) moves the other
    way, between max_momentum and base_momentum.  The rates and momenta: one, or
    a list of one per parameter group.  The optimizer's lr is set to base_lr (and
    its momentum to max_momentum) at construction."""

    def __init__(self, optimizer, base_lr, max_lr, step_size_up=2000, step_size_down=None, mode="triangular",
                 gamma=1.0, scale_fn=None, scale_mode="cycle", cycle_momentum=True, base_momentum=0.8,
                 max_momentum=0.9):
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError(f"CyclicLR: mode must be 'triangular', 'triangular2' or 'exp_range', got {mode!r}")
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"CyclicLR: scale_mode must be 'cycle' or 'iterations', got {scale_mode!r}")
        up = int(step_size_up)
        down = up if step_size_down is None else int(step_size_down)
        if up < 1 or down < 0:
            raise ValueError(f"CyclicLR: step_size_up must be >= 1 and step_size_down >= 0, got {up}, {down}")
        _check_momentum("CyclicLR", optimizer, cycle_momentum)
        super().__init__(optimizer)
        n = self._n()
        self.base_lrs, self.max_lrs = (_per_group("CyclicLR", w, v, n) for w, v in (("base_lr", base_lr),
                                                                                      ("max_lr", max_lr)))
        self.gamma = float(gamma)
        self.total_size, self.step_ratio = float(up + down), up / float(up + down)
        if scale_fn is None:
            self.scale_fn = {"triangular": lambda x: 1.0, "triangular2": lambda x: 1 / 2.0 ** (x - 1),
                             "exp_range": lambda x: self.gamma ** x}[mode]
            self.scale_mode = "iterations" if mode == "exp_range" else "cycle"
        else:
            self.scale_fn, self.scale_mode = scale_fn, scale_mode
        self.cycle_momentum = _cycles_momentum(optimizer, cycle_momentum)
        self.base_momentums, self.max_momentums = (_per_group("CyclicLR", w, v, n) for w, v in (
            ("base_momentum", base_momentum), ("max_momentum", max_momentum)))
        self._set(self.get_lr())

    def get_lr(self):
        t = self.last_epoch
        cycle = math.floor(1 + t / self.total_size)
        x = 1.0 + t / self.total_size - cycle
        factor = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else t)  # (once a step, for every group)
        if self.cycle_momentum:
            for o, hi, lo in zip(self.optimizer._groups_served(), self.max_momentums, self.base_momentums):
                _set_momentum(o, hi - (hi - lo) * factor * scale)
        return [b + (m - b) * factor * scale for b, m in zip(self.base_lrs, self.max_lrs)]


class _OfSchedulers(_Scheduler):
    """A scheduler driving others (``self.schedulers``): their states in its own."""

    def state_dict(self):
        sd = super().state_dict()
        sd["schedulers"] = [s.state_dict() for s in self.schedulers]
        return sd

    def load_state_dict(self, sd):
        super().load_state_dict(sd)
        for s, ssd in zip(self.schedulers, sd["schedulers"]):
            s.load_state_dict(ssd)


class SequentialLR(_OfSchedulers):
    """PyTorch's SequentialLR: ``schedulers[i]`` drives the lr from epoch
    ``milestones[i - 1]`` on, each restarted (from its epoch 0) at its milestone;
    all take the first one's base lr."""

    def __init__(self, optimizer, schedulers, milestones):
        schedulers, milestones = list(schedulers), [int(m) for m in milestones]
        if len(schedulers) < 1 or len(milestones) != len(schedulers) - 1 or milestones != sorted(milestones):
            raise ValueError(f"SequentialLR: expected n schedulers and n - 1 increasing milestones, got "
                             f"{len(schedulers)} and {milestones}")
        for s in schedulers:
            if getattr(s, "optimizer", None) is not optimizer or isinstance(s, (ReduceLROnPlateau, SequentialLR)):
                raise ValueError("SequentialLR: each scheduler must be an epoch scheduler of this optimizer")
        super().__init__(optimizer)
        self.schedulers, self.milestones = schedulers, milestones
        self.base_lrs = list(schedulers[0].base_lrs)
        for s in schedulers:  # (constructing them may have moved the lr: undone)
            s.base_lrs, s.last_epoch = list(self.base_lrs), 0
        self._set(self.base_lrs)
        self._set(schedulers[0].get_lr())

    def step(self):
        self.last_epoch += 1
        i = sum(self.last_epoch >= m for m in self.milestones)
        s = self.schedulers[i]
        if i > 0 and self.milestones[i - 1] == self.last_epoch:
            s.last_epoch = 0  # restarted at its milestone
            return self._set(s.get_lr())
        return s.step()


class ChainedScheduler(_OfSchedulers):
    """PyTorch's ChainedScheduler: several schedules of one optimizer at once, the
    rate the first one's base times each schedule's factor (its rate over its own
    base) -- PyTorch's chained result for the multiplicative schedules, which are
    the ones taken: StepLR, MultiStepLR, ExponentialLR, ConstantLR, LinearLR,
    PolynomialLR, LambdaLR and CosineAnnealingLR with lr_min 0.  ``step()`` steps
    them all."""

    def __init__(self, schedulers, optimizer=None):
        schedulers = list(schedulers)
        if not schedulers:
            raise ValueError("ChainedScheduler: expected at least one scheduler")
        optimizer = optimizer or schedulers[0].optimizer
        kinds = (StepLR, MultiStepLR, ExponentialLR, ConstantLR, LinearLR, PolynomialLR, LambdaLR, CosineAnnealingLR)
        for s in schedulers:
            if getattr(s, "optimizer", None) is not optimizer:
                raise ValueError("ChainedScheduler: every scheduler must drive this optimizer")
            if not isinstance(s, kinds) or (isinstance(s, CosineAnnealingLR) and (s.lr_min or s.restart)):
                raise ValueError(f"ChainedScheduler: {type(s).__name__} is not a factor of its base rate "
                                 "(chain StepLR, MultiStepLR, ExponentialLR, ConstantLR, LinearLR, PolynomialLR, "
                                 "LambdaLR or CosineAnnealingLR with lr_min 0)")
        super().__init__(optimizer)
        self.schedulers = schedulers
        self.base_lrs = list(schedulers[0].base_lrs)
        self._set(self.get_lr())

    def _group_lr(self, i, base):
        lr = base
        for s in self.schedulers:
            b = s.base_lrs[i]
            lr *= s._group_lr(i, b) / b if b else 0.0
        return lr

    def step(self):
        self.last_epoch += 1
        for s in self.schedulers:
            s.last_epoch += 1
        return self._set(self.get_lr())


class LRScheduler:
    """PyTorch's base class for custom schedules: subclass it, call
    ``super().__init__(optimizer, last_epoch)`` and define ``get_lr()`` returning one
    rate per parameter group (from ``self.base_lrs`` and ``self.last_epoch``);
    ``step()`` moves every group there, ``get_last_lr()`` lists them.  As
    PyTorch's, construction takes the first step (epoch 0)."""

    def __init__(self, optimizer, last_epoch=-1):
        self.optimizer = optimizer
        groups = optimizer.param_groups
        if last_epoch == -1:
            self.base_lrs = [g["lr"] for g in groups]
        else:  # (resuming: the groups' initial rates)
            self.base_lrs = [o.initial_lr for o in optimizer._groups_served()]
        self.last_epoch = last_epoch
        self._last_lr = None
        self.step()

    def get_lr(self):
        raise NotImplementedError(f"{type(self).__name__} must define get_lr() (one rate per parameter group)")

    def step(self, epoch=None):
        self.last_epoch = self.last_epoch + 1 if epoch is None else int(epoch)
        lrs = self.get_lr()
        lrs = list(lrs) if isinstance(lrs, (list, tuple)) else [lrs] * len(self.base_lrs)
        if len(lrs) != len(self.base_lrs):
            raise ValueError(f"{type(self).__name__}.get_lr returned {len(lrs)} rates for {len(self.base_lrs)} "
                             "parameter groups")
        for g, lr in zip(self.optimizer.param_groups, lrs):
            g["lr"] = float(lr)
        self._last_lr = [float(lr) for lr in lrs]

    def get_last_lr(self):
        return list(self._last_lr)

    def state_dict(self):
        """The scheduler's attributes but the optimizer (PyTorch's)."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer" and not callable(v)}

    def load_state_dict(self, state_dict):
        self.__dict__.update({k: v for k, v in state_dict.items()})


_LRScheduler = LRScheduler  # (PyTorch's older name)
