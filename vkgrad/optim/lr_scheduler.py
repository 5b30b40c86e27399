"""Learning-rate schedulers; call ``step()`` once per epoch."""
from __future__ import annotations

import math

from .._values import scalar


class _Scheduler:
    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_epoch = 0

    def step(self):
        self.last_epoch += 1
        self.optimizer.lr = self.get_lr()
        return self.optimizer.lr

    def get_last_lr(self):
        return self.optimizer.lr

    def state_dict(self):
        """The schedule's position (``last_epoch``) and base lr, for checkpoints."""
        return {"type": type(self).__name__, "last_epoch": self.last_epoch, "base_lr": self.base_lr}

    def load_state_dict(self, sd):
        """Restore ``state_dict()``'s values (0-d arrays from ``vkgrad.load`` too); the
        optimizer's lr is its own state (``Optimizer.load_state_dict``)."""
        kind = scalar(sd.get("type")) if isinstance(sd, dict) else None
        if kind != type(self).__name__:
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state is of a "
                             f"{kind or 'non-scheduler'}, expected a {type(self).__name__}")
        self.last_epoch, self.base_lr = int(scalar(sd["last_epoch"])), float(scalar(sd["base_lr"]))


class StepLR(_Scheduler):
    """lr = base_lr * gamma ** (epoch // step_size)."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        if step_size < 1:
            raise ValueError(f"StepLR: step_size must be >= 1, got {step_size}")
        super().__init__(optimizer)
        self.step_size, self.gamma = int(step_size), float(gamma)

    def get_lr(self):
        return self.base_lr * self.gamma ** (self.last_epoch // self.step_size)


class CosineAnnealingLR(_Scheduler):
    """lr = lr_min + (base_lr - lr_min) * (1 + cos(pi * t / T_max)) / 2.

    t is the epoch, held at T_max afterwards; with ``restart=True`` t runs
    modulo T_max (warm restarts every T_max epochs)."""

    def __init__(self, optimizer, T_max, lr_min=0.0, restart=False):
        if T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be >= 1, got {T_max}")
        super().__init__(optimizer)
        self.T_max, self.lr_min, self.restart = int(T_max), float(lr_min), bool(restart)

    def get_lr(self):
        t = self.last_epoch % self.T_max if self.restart else min(self.last_epoch, self.T_max)
        return self.lr_min + (self.base_lr - self.lr_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2
