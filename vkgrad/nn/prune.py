"""PyTorch's ``torch.nn.utils.prune``: masks on a module's parameters.

Pruning ``name`` moves the parameter to ``<name>_orig`` (still trained), adds
the buffer ``<name>_mask`` (1 keeps, 0 prunes) and recomputes ``<name> =
<name>_orig * <name>_mask`` before every forward (a forward pre-hook), so
gradients reach the kept entries only.  Pruning again combines the masks: the
new ``amount`` (a fraction, or a count) applies to the entries -- or, for the
structured methods, the channels -- still unpruned, as PyTorch's
PruningContainer.  ``remove`` makes the pruning permanent.  Masks are computed
on the host (NumPy) from the current values."""
from __future__ import annotations

import numbers

import numpy as np

from .. import ops
from ..random import rng
from ..tensor import Parameter, Tensor, tensor


def _count(amount, n, op):
    """The number of entries (of n) that ``amount`` names."""
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real) or amount < 0:
        raise ValueError(f"{op}: amount must be a non-negative int or a fraction in [0, 1], got {amount!r}")
    if isinstance(amount, numbers.Integral):
        if amount > n:
            raise ValueError(f"{op}: amount {amount} exceeds the {n} entries left to prune")
        return int(amount)
    if amount > 1:
        raise ValueError(f"{op}: a fractional amount must lie in [0, 1], got {amount}")
    return int(round(amount * n))


class BasePruningMethod:
    """A pruning rule: ``compute_mask(t, default_mask)`` gives the new mask (a
    NumPy array of 0 / 1) from the tensor's values and the mask so far."""

    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t, default_mask):
        raise NotImplementedError(f"{type(self).__name__} must define compute_mask")

    @classmethod
    def apply(cls, module, name, *args, importance_scores=None, **kwargs):
        method = cls(*args, **kwargs)
        return _apply(module, name, method, importance_scores)


def _scores_and_mask(module, name, importance_scores):
    orig = getattr(module, name + "_orig", None)
    w = orig if orig is not None else getattr(module, name, None)
    if not isinstance(w, Tensor):
        raise ValueError(f"prune: {type(module).__name__} has no parameter {name!r}")
    scores = w if importance_scores is None else importance_scores
    if tuple(scores.shape) != tuple(w.shape):
        raise ValueError(f"prune: importance_scores of shape {list(scores.shape)} for {name!r} of shape "
                         f"{list(w.shape)}")
    mask = getattr(module, name + "_mask", None)
    old = np.ones(w.shape) if mask is None else mask.numpy().astype(np.float64)
    return w, np.abs(scores.detach().numpy().astype(np.float64)), old


def _apply(module, name, method, importance_scores=None):
    w, scores, old = _scores_and_mask(module, name, importance_scores)
    new = method.compute_mask(scores, old)
    if not hasattr(module, name + "_orig"):
        del module._params[name]
        object.__delattr__(module, name)
        module.register_parameter(name + "_orig", w)
        module.register_buffer(name + "_mask", tensor(new, dtype=w.dtype, device=w.device))

        def hook(mod, args):
            object.__setattr__(mod, name, ops.mul(getattr(mod, name + "_orig"), getattr(mod, name + "_mask")))
        handles = module.__dict__.setdefault("_prune_hooks", {})
        handles[name] = module.register_forward_pre_hook(hook)
    else:
        getattr(module, name + "_mask").assign_(new)
    object.__setattr__(module, name, ops.mul(getattr(module, name + "_orig"), getattr(module, name + "_mask")))
    return module


class Identity(BasePruningMethod):
    """Prunes nothing (a mask of ones: makes the parameter prunable by hand)."""

    def compute_mask(self, t, default_mask):
        return default_mask


class _Unstructured(BasePruningMethod):
    """``amount`` of the unpruned entries, the lowest-ranked by ``_scores``."""

    def __init__(self, amount):
        self.amount = amount

    def compute_mask(self, t, default_mask):
        live = np.flatnonzero(default_mask)
        k = _count(self.amount, live.size, self._name)
        mask = default_mask.copy()
        mask.flat[live[np.argsort(self._scores(t.flat[live]), kind="stable")[:k]]] = 0.0
        return mask


class RandomUnstructured(_Unstructured):
    """``amount`` of the unpruned entries, chosen at random (vkgrad's generator)."""

    _name = "random_unstructured"

    def _scores(self, values):
        return rng().random(values.size)


class L1Unstructured(_Unstructured):
    """``amount`` of the unpruned entries with the smallest |value| (or importance score)."""

    _name = "l1_unstructured"

    def _scores(self, values):
        return values


class _Structured(BasePruningMethod):
    """Whole slices along ``dim`` (channels), ``amount`` of those still unpruned."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount, dim=-1):
        self.amount, self.dim = amount, dim

    def _channel_scores(self, t, live):
        raise NotImplementedError

    def compute_mask(self, t, default_mask):
        d = self.dim % t.ndim
        axes = tuple(i for i in range(t.ndim) if i != d)
        live = np.flatnonzero(default_mask.any(axis=axes) if axes else default_mask)
        k = _count(self.amount, live.size, type(self).__name__)
        drop = live[np.argsort(self._channel_scores(np.moveaxis(t, d, 0)[live], live), kind="stable")[:k]]
        mask = default_mask.copy()
        np.moveaxis(mask, d, 0)[drop] = 0.0
        return mask


class RandomStructured(_Structured):
    """``amount`` of the channels along ``dim``, at random."""

    def _channel_scores(self, t, live):
        return rng().random(live.size)


class LnStructured(_Structured):
    """``amount`` of the channels along ``dim`` with the smallest L``n`` norm."""

    def __init__(self, amount, n, dim=-1):
        super().__init__(amount, dim)
        self.n = n

    def _channel_scores(self, t, live):
        flat = t.reshape(t.shape[0], -1)
        return np.linalg.norm(flat, ord=self.n, axis=1) if self.n not in ("fro",) else np.sqrt((flat ** 2).sum(1))


class CustomFromMask(BasePruningMethod):
    """The given mask (combined with the one so far)."""

    def __init__(self, mask):
        self.mask = mask

    def compute_mask(self, t, default_mask):
        m = self.mask.numpy() if isinstance(self.mask, Tensor) else np.asarray(self.mask)
        if m.shape != default_mask.shape:
            raise ValueError(f"custom_from_mask: mask of shape {list(m.shape)} for a tensor of shape "
                             f"{list(default_mask.shape)}")
        return default_mask * (m != 0)


def identity(module, name):
    return Identity.apply(module, name)


def random_unstructured(module, name, amount):
    return RandomUnstructured.apply(module, name, amount)


def l1_unstructured(module, name, amount, importance_scores=None):
    return L1Unstructured.apply(module, name, amount, importance_scores=importance_scores)


def random_structured(module, name, amount, dim):
    return RandomStructured.apply(module, name, amount, dim)


def ln_structured(module, name, amount, n, dim, importance_scores=None):
    return LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)


def custom_from_mask(module, name, mask):
    return CustomFromMask.apply(module, name, mask)


def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs):
    """Prune ``(module, name)`` pairs together: the method's mask over all their
    unpruned entries as one vector (an unstructured method: L1Unstructured,
    RandomUnstructured)."""
    pairs = list(parameters)
    if getattr(pruning_method, "PRUNING_TYPE", None) != "unstructured":
        raise TypeError("global_unstructured: the pruning method must be unstructured")
    parts = [_scores_and_mask(m, n, (importance_scores or {}).get((m, n))) for m, n in pairs]
    scores = np.concatenate([s.ravel() for _, s, _ in parts]) if parts else np.zeros(0)
    old = np.concatenate([o.ravel() for _, _, o in parts]) if parts else np.zeros(0)
    new = pruning_method(**kwargs).compute_mask(scores, old)
    start = 0
    for (m, n), (w, _, _) in zip(pairs, parts):
        piece = new[start:start + w.size].reshape(w.shape)
        start += w.size
        _apply(m, n, CustomFromMask(piece))


def is_pruned(module):
    """Whether any sub-module has a pruned parameter."""
    return any(m.__dict__.get("_prune_hooks") for _, m in module.named_modules())


def remove(module, name):
    """Make the pruning of ``name`` permanent: the parameter ``name`` holds
    ``<name>_orig * <name>_mask``; the mask, the original and the hook go."""
    hooks = module.__dict__.get("_prune_hooks", {})
    if name not in hooks:
        raise ValueError(f"prune.remove: parameter {name!r} of {type(module).__name__} is not pruned")
    hooks.pop(name).remove()
    w = getattr(module, name + "_orig")
    value = (w * getattr(module, name + "_mask")).detach().numpy()
    del module._params[name + "_orig"]
    object.__delattr__(module, name + "_orig")
    del module._buffers[name + "_mask"]
    object.__delattr__(module, name + "_mask")
    object.__delattr__(module, name)
    module.register_parameter(name, Parameter(value, dtype=w.dtype, device=w.device))
    return module


__all__ = ["BasePruningMethod", "Identity", "RandomUnstructured", "L1Unstructured", "RandomStructured",
           "LnStructured", "CustomFromMask", "identity", "random_unstructured", "l1_unstructured",
           "random_structured", "ln_structured", "custom_from_mask", "global_unstructured", "is_pruned", "remove"]
