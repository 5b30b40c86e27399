"""``vkgrad.nn.utils``: PyTorch's gradient clipping under its module path."""
from __future__ import annotations

from ..optim.clip import clip_grad_norm
from ..optim.optimizer import _param_list, grad_for


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, grads=None):
    """PyTorch's ``clip_grad_norm_``: ``vkgrad.clip_grad_norm`` (the L2 norm only)."""
    if float(norm_type) != 2.0:
        raise ValueError(f"clip_grad_norm_: norm_type {norm_type!r} is not supported (2.0: the L2 norm)")
    return clip_grad_norm(parameters, max_norm, grads=grads)


def clip_grad_value_(parameters, clip_value, grads=None):
    """PyTorch's ``clip_grad_value_``: every gradient clamped into [-clip_value,
    clip_value] (each gets a new buffer, as clip_grad_norm, so shared gradients are
    clamped once)."""
    if clip_value is None or clip_value <= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be > 0, got {clip_value}")
    for k, p in _param_list(parameters, "clip_grad_value_"):
        g = grad_for(grads, k, p, "clip_grad_value_")
        if g is not None:
            g.data = g.backend.unary("clamp", g.data, -float(clip_value), float(clip_value))
