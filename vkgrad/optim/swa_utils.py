"""Weight averaging, as ``torch.optim.swa_utils``: ``AveragedModel`` (stochastic
weight averaging, or an exponential moving average with ``get_ema_multi_avg_fn``),
``SWALR`` (anneals the lr to a constant SWA lr) and ``update_bn`` (recomputes batch
norm's running statistics for the averaged weights).  The averages are computed on
the parameters' device, in place."""
from __future__ import annotations

import copy
import math

from .. import autograd
from ..nn.module import Module
from ..tensor import Tensor, tensor
from .lr_scheduler import _per_group, _Scheduler


def _write(dst, value):
    """dst's storage overwritten with value (a tensor of its shape; cast to its dtype)."""
    v = value if value.dtype == dst.dtype else value.to(dtype=dst.dtype)
    dst.backend.copy_(dst.handle, v.handle)


def get_ema_multi_avg_fn(decay=0.999):
    """An exponential moving average, averaged = decay averaged + (1 - decay) model,
    for ``AveragedModel(multi_avg_fn=...)`` (PyTorch's)."""
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"get_ema_multi_avg_fn: decay must lie in [0, 1], got {decay}")

    def ema_update(averaged, current, num_averaged):
        for a, c in zip(averaged, current):
            _write(a, a * decay + c * (1.0 - decay))
    return ema_update


def get_ema_avg_fn(decay=0.999):
    """The same average one parameter at a time, for ``AveragedModel(avg_fn=...)``:
    returns the new average."""
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"get_ema_avg_fn: decay must lie in [0, 1], got {decay}")

    def ema_update(averaged, current, num_averaged):
        return averaged * decay + current * (1.0 - decay)
    return ema_update


class AveragedModel(Module):
    """A copy of ``model`` whose parameters are the running average of the model's
    at each ``update_parameters(model)`` (the first call copies them): the plain
    mean by default (SWA), ``avg_fn(averaged, current, num_averaged)`` -> new
    average per parameter, or ``multi_avg_fn(averaged_list, current_list,
    num_averaged)`` updating them in place (e.g. ``get_ema_multi_avg_fn(0.999)``).
    ``use_buffers``: buffers (batch norm's running statistics) averaged too, else
    copied from the model.  ``n_averaged`` counts the updates (a buffer, so it is
    saved with the state dict).  Calls run the averaged copy."""

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("AveragedModel: give avg_fn or multi_avg_fn, not both")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module.to(device)
        self.avg_fn, self.multi_avg_fn, self.use_buffers = avg_fn, multi_avg_fn, bool(use_buffers)
        self.register_buffer("n_averaged", tensor(0, dtype="i32", device="cpu"))

    def _buffer_dtype(self, name, dtype):
        return "i32" if name == "n_averaged" else dtype

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _tensors(self, model):
        return list(model.parameters()) + (list(model.buffers()) if self.use_buffers else [])

    def update_parameters(self, model):
        mine, theirs = self._tensors(self.module), self._tensors(model)
        if len(mine) != len(theirs) or any(a.shape != b.shape for a, b in zip(mine, theirs)):
            raise ValueError("AveragedModel.update_parameters: the model's parameters do not match the averaged "
                             "copy's (another architecture?)")
        n = int(self.n_averaged.item())
        with autograd.no_grad():
            cur = [b if b.device == a.device else b.to(device=a.device) for a, b in zip(mine, theirs)]
            if n == 0:
                for a, c in zip(mine, cur):
                    _write(a, c)
            elif self.multi_avg_fn is not None:
                self.multi_avg_fn(mine, cur, n)
            else:
                for a, c in zip(mine, cur):
                    _write(a, self.avg_fn(a, c, n) if self.avg_fn is not None else a + (c - a) * (1.0 / (n + 1)))
            if not self.use_buffers:  # the buffers follow the model's
                for a, b in zip(self.module.buffers(), model.buffers()):
                    _write(a, b if b.device == a.device else b.to(device=a.device))
        self.n_averaged = tensor(n + 1, dtype="i32", device=self.n_averaged.device)


class SWALR(_Scheduler):
    """PyTorch's SWALR: from the optimizer's lr, anneals to ``swa_lr`` (one, or a
    list of one per parameter group) over ``anneal_epochs`` steps ("cos" or
    "linear"), then holds it."""

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos"):
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"SWALR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        if isinstance(anneal_epochs, bool) or not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"SWALR: anneal_epochs must be an integer >= 0, got {anneal_epochs!r}")
        super().__init__(optimizer)
        self.swa_lrs = _per_group("SWALR", "swa_lr", swa_lr, self._n())
        self.anneal_epochs, self.anneal_strategy = anneal_epochs, anneal_strategy
        self._set(self.get_lr())  # (unchanged, but for anneal_epochs=0: swa_lr at once, as PyTorch's)

    def _alpha(self, t):
        return (1 - math.cos(math.pi * t)) / 2 if self.anneal_strategy == "cos" else t

    def _group_lr(self, i, base):
        step = self.last_epoch if self.anneal_epochs else max(1, self.last_epoch)
        prev = self._alpha(max(0.0, min(1.0, (step - 1) / max(1, self.anneal_epochs))))
        lr, swa = self._lr_now(i), self.swa_lrs[i]
        start = swa if prev == 1 else (lr - prev * swa) / (1 - prev)  # the lr before annealing
        alpha = self._alpha(max(0.0, min(1.0, step / max(1, self.anneal_epochs))))
        return swa * alpha + start * (1 - alpha)


def update_bn(loader, model, device=None):
    """Recompute every batch norm's running statistics as the plain average over
    one pass of ``loader`` (batches, or (inputs, ...) tuples whose first element
    goes to the model), in training mode without gradients (PyTorch's update_bn:
    for averaged weights, whose statistics the training did not see)."""
    from ..nn.layers import BatchNorm1d
    bns = [m for m in model.modules() if isinstance(m, BatchNorm1d)]
    if not bns:
        return
    momenta = [m.momentum for m in bns]
    for m in bns:
        _write(m.running_mean, m.running_mean * 0.0)
        _write(m.running_var, m.running_var * 0.0 + 1.0)
    was_training = model.training
    model.train()
    k = 0
    with autograd.no_grad():
        for batch in loader:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            if device is not None and isinstance(x, Tensor):
                x = x.to(device=device)
            k += 1
            for m in bns:  # the cumulative average: batch k weighs 1 / k
                m.momentum = 1.0 / k
            model(x)
    for m, mom in zip(bns, momenta):
        m.momentum = mom
    model.train(was_training)
