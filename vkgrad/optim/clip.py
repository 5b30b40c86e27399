from __future__ import annotations

from ..tensor import Tensor
from .optimizer import _param_list, check_grads_keys, grad_for


def clip_grad_norm(params, max_norm, grads=None):
    """Scale gradients in place so their global L2 norm is at most ``max_norm``.

    ``params``: a list, dict or ``model.parameters()``; the gradients come from
    ``grads`` (the dict from ``vkgrad.backward``) or each parameter's ``.grad``.
    Each gradient tensor gets a new scaled buffer, so gradients that share
    storage are scaled once.  Returns the norm before clipping as a 0-d tensor on the device (no host
    read).  The seed's argument order ``clip_grad_norm(params, grads, max_norm)``
    also works."""
    if isinstance(max_norm, dict):  # seed order: (params, grads, max_norm)
        max_norm, grads = grads, max_norm
    if max_norm is None or max_norm <= 0:
        raise ValueError(f"clip_grad_norm: max_norm must be > 0, got {max_norm}")
    named = _param_list(params, "clip_grad_norm")
    check_grads_keys(grads, named, "clip_grad_norm")
    items = [(k, p, grad_for(grads, k, p, "clip_grad_norm")) for k, p in named]
    items = [(k, p, g) for k, p, g in items if g is not None]
    if not items:
        raise ValueError("clip_grad_norm: none of the parameters has a gradient")
    be = items[0][2].backend
    total = None
    for _, _, g in items:
        s = be.reduce("sumsq", g.handle, tuple(range(g.ndim)), False)
        if g.dtype != "f32" and g.dtype != "f64":
            s = be.cast(s, "f32")
        total = s if total is None else be.binary("add", total, s)
    norm = be.unary("sqrt", total)
    coef = be.unary("clip_coef", norm, float(max_norm))
    for _, _, g in items:
        c = coef if g.dtype == be.dtype_of(coef) else be.cast(coef, g.dtype)
        g.handle = be.binary("mul", g.handle, c)  # new buffer: leaf gradients may share one
    return Tensor(norm, be)
