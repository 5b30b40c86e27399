"""Optimizer base: parameter bookkeeping and gradient lookup."""
from __future__ import annotations

import numpy as np

from ..autograd import Gradients
from ..tensor import Tensor


def _param_list(params, owner):
    """[(key, Parameter)] from a list, a dict name->Parameter, or a generator."""
    if isinstance(params, dict):
        items = list(params.items())
        for k, p in items:
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"{owner}: params[{k!r}] is not a Parameter (or a tensor "
                                "with requires_grad=True)")
            if not getattr(p, "_explicit_name", False):
                p.name = k  # backward() keys this gradient by the dict key
        return [(k, p) for k, p in items]
    items = list(params)
    if not items:
        raise ValueError(f"{owner}: got an empty parameter list")
    out = []
    for i, p in enumerate(items):
        if not isinstance(p, Tensor) or not p.requires_grad:
            raise TypeError(f"{owner}: parameter {i} is a {type(p).__name__} without "
                            "requires_grad; pass model.parameters() or Parameters")
        out.append((p.name if p.name is not None else str(i), p))
    return out


def grad_for(grads, key, p, owner="optimizer"):
    """The gradient of p: from a backward() dict, a plain dict, or p.grad."""
    if grads is None:
        g = p.grad
    elif isinstance(grads, Gradients):
        g = grads.of(p)
        if g is None:
            g = grads.get(key)
    elif isinstance(grads, dict):
        g = grads.get(key)
        if g is None and p.name is not None:
            g = grads.get(p.name)
    else:
        raise TypeError(f"{owner}: grads must be the dict from vkgrad.backward() or None, "
                        f"got {type(grads).__name__}")
    if g is None:
        return None
    if not isinstance(g, Tensor):
        g = Tensor(p.backend.from_numpy(np.asarray(g), p.dtype), p.backend)
    if g.shape != p.shape:
        raise ValueError(f"{owner}: gradient for {key!r} has shape {list(g.shape)}, expected "
                         f"the parameter's shape {list(p.shape)}")
    if g.backend is not p.backend:
        raise ValueError(f"{owner}: gradient for {key!r} is on {g.device}, parameter on {p.device}")
    return g


class Optimizer:
    """Base class: ``step(grads=None)``, ``zero_grad()``, mutable ``lr``.

    f16 parameters are trained through f32 master copies: the update runs on
    the master (with f32 optimizer state and an f32 view of the gradient) and
    the result is written back to the f16 parameter.  Subclasses implement
    ``_apply(work)`` over ``[(key, param, target_handle, grad_handle), ...]``."""

    def __init__(self, params, lr):
        if lr < 0:
            raise ValueError(f"{type(self).__name__}: lr must be >= 0, got {lr}")
        self.params = _param_list(params, type(self).__name__)
        self.lr = float(lr)
        self.initial_lr = float(lr)
        self.state = {}
        self.masters = {}
        self.step_count = 0

    def _zeros_like(self, p):
        # optimizer state stays f32 (f64 in gradient checks) whatever the parameter dtype
        dt = "f64" if p.dtype == "f64" else "f32"
        return p.backend.full(p.shape, 0.0, dt)

    def _target(self, p, g):
        """(handle to update, gradient handle in its dtype) for one parameter."""
        be = p.backend
        if p.dtype == "f16":
            m = self.masters.get(id(p))
            if m is None:
                m = self.masters[id(p)] = be.cast(p.data, "f32")
            return m, g.data  # an f16 gradient as it is: the update reads it (backends convert)
        return p.data, (g.data if g.dtype == p.dtype else be.cast(g.data, p.dtype))

    def step(self, grads=None):
        """Update every parameter that has a gradient (from ``grads`` or ``.grad``)."""
        self.step_count += 1
        work = []
        for key, p in self.params:
            g = grad_for(grads, key, p, type(self).__name__)
            if g is not None:
                target, gd = self._target(p, g)
                work.append((key, p, target, gd))
        self._apply(work)
        backends, mirrors = {}, {}
        for _, p, target, _ in work:
            if target is not p.data:  # master -> f16 parameter
                mirrors.setdefault(id(p.backend), []).append((p.data, target))
            backends[id(p.backend)] = p.backend
        for k, pairs in mirrors.items():
            backends[k].copy_many_(pairs)
        params = tuple(p for _, p, _, _ in work)
        for be in backends.values():
            if be.capturing:  # a replay of this step must advance our counters too
                be.on_replay(lambda: self._advance(params))
            be.end_step()  # a training step is done: submit its queued work

    def _advance(self, params):
        """Python-side bookkeeping of one more step, for a replayed (captured) step."""
        self.step_count += 1

    def _apply(self, work):
        raise NotImplementedError

    def zero_grad(self):
        for _, p in self.params:
            p.grad = None

    def parameters(self):
        return [p for _, p in self.params]
