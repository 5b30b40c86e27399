"""Data-parallel training in one process: replicas on several devices.

``DataParallel(model, devices=["vulkan:0", "vulkan:1"])`` (or CPU + Vulkan)
keeps one replica per device.  ``train_step`` splits a batch across them,
runs every replica's forward and backward in its own thread (NumPy and the
Vulkan backend's queue waits release the GIL), averages the gradients on the
first device weighted by each share of the batch, steps the optimizer there
and copies the new weights to the other replicas, so they stay identical.
"""
from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .autograd import Gradients, backward_grads as backward, no_grad
from .optim.adam import Adam
from .backends import normalize_device
from .tensor import Tensor, tensor


class DataParallel:
    """Replicate ``model`` on ``devices`` (default: the default device only)."""

    def __init__(self, model, devices=None):
        devs = [normalize_device(d) for d in (devices or [None])]
        vk = [d for d in devs if d != "cpu"]
        if len(set(vk)) != len(vk):
            raise ValueError(f"DataParallel: each Vulkan device may hold one replica, got {devs}")
        self.devices = devs
        self.module = model.to(devs[0])
        self.replicas = [self.module] + [copy.deepcopy(model).to(d) for d in devs[1:]]
        self._pool = ThreadPoolExecutor(len(devs)) if len(devs) > 1 else None

    # -- the module-like surface -------------------------------------------------
    def parameters(self):
        return self.module.parameters()

    def named_parameters(self):
        return self.module.named_parameters()

    def train(self, mode=True):
        for r in self.replicas:
            r.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def state_dict(self):
        return self.module.state_dict()

    def _shares(self, n):
        if n < len(self.replicas):
            raise ValueError(f"DataParallel: a batch of {n} cannot be split over "
                             f"{len(self.replicas)} devices")
        return np.array_split(np.arange(n), len(self.replicas))

    def _map(self, fn, items):
        if self._pool is None:
            return [fn(*it) for it in items]
        # recording and autocast modes are process-wide (vkgrad.config): threads share them
        return list(self._pool.map(lambda it: fn(*it), items))

    def __call__(self, x):
        """Inference: split x, run the replicas concurrently, gather on the first device."""
        xa = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
        parts = self._map(lambda r, d, idx: r(tensor(xa[idx], device=d)).numpy(),
                          [(r, d, idx) for r, d, idx in zip(self.replicas, self.devices,
                                                            self._shares(len(xa)))])
        return tensor(np.concatenate(parts), device=self.devices[0])

    forward = __call__

    def train_step(self, x, y, loss_fn, optimizer, grad_transform=None):
        """One synchronous data-parallel step; returns the batch loss as a float.

        ``loss_fn(output, y_part)`` must average over its rows (as every vkgrad
        loss does); the gradient of the whole batch's mean is the share-weighted
        sum of the replicas' gradients.  ``grad_transform(grads)`` (e.g. clipping)
        runs on the averaged gradients before the optimizer step."""
        xa = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
        ya = y.numpy() if isinstance(y, Tensor) else np.asarray(y)
        if len(xa) != len(ya):
            raise ValueError(f"DataParallel.train_step: x has {len(xa)} rows but y has {len(ya)}")
        shares = self._shares(len(xa))
        n = float(len(xa))

        def work(r, d, idx):
            loss = loss_fn(r(tensor(xa[idx], device=d)), tensor(ya[idx], device=d)
                           if ya.dtype.kind == "f" else ya[idx])
            return loss, backward(loss)

        results = self._map(work, [(r, d, idx) for r, d, idx in
                                   zip(self.replicas, self.devices, shares)])
        grads = Gradients()
        be0 = self.module.parameters()[0].backend
        for pi, (name, p) in enumerate(self.module.named_parameters()):
            total = None
            for (loss, g), r, idx in zip(results, self.replicas, shares):
                gi = g.of(r.parameters()[pi])
                if gi is None:
                    continue
                h = gi.to(self.devices[0]).handle
                h = be0.unary("affine", h, len(idx) / n, 0.0)
                total = h if total is None else be0.binary("add", total, h)
            if total is not None:
                grads._put(name, p, Tensor(total, be0))
        if grad_transform is not None:
            grad_transform(grads)
        optimizer.step(grads)
        self.sync_replicas()
        return float(sum(float(loss.item()) * len(idx) / n for (loss, _), idx in zip(results, shares)))

    def sync_replicas(self):
        """Copy the first replica's parameters and buffers to the others."""
        src = list(self.module._walk("_params")) + list(self.module._walk("_buffers"))
        with no_grad():
            for r in self.replicas[1:]:
                dst = list(r._walk("_params")) + list(r._walk("_buffers"))
                for (_, s), (_, t) in zip(src, dst):
                    if s.backend is t.backend:
                        t.backend.copy_(t.handle, s.handle)
                    else:
                        t.assign_(s.numpy())


def dp_train(model_fn, x, y, loss_fn, iterations, devices=None, batch_size=32, optimizer_fn=None,
             lr=1e-3, ranks=False, seed=0, log_every=0):
    """Train a model data-parallel; returns ``(model, loss_history)``.

    ``model_fn()`` builds the model; ``devices`` lists the devices of one
    process (``DataParallel``); with ``ranks=True`` the work is split across
    MPI ranks instead (``mpiexec -n N python script.py``, see
    ``vkgrad.distributed``), each rank on its default device.  ``optimizer_fn``
    (default Adam) takes the parameter list and ``lr``.  Each iteration takes
    the next ``batch_size`` rows of a seeded shuffle (the global batch)."""
    from .random import manual_seed
    manual_seed(seed)
    model = model_fn()
    opt_fn = optimizer_fn or (lambda params, lr: Adam(params, lr=lr))
    xa, ya = np.asarray(x), np.asarray(y)
    order = np.random.default_rng(seed).permutation(len(xa))
    history = []
    if ranks:
        from . import distributed as dist
        dist.init()
        dist.broadcast_parameters(model)
        opt = opt_fn(model.parameters(), lr)
        rank, world = dist.rank(), dist.world_size()
    else:
        dp = DataParallel(model, devices)
        opt = opt_fn(dp.parameters(), lr)
    pos = 0
    for it in range(iterations):
        if pos + batch_size > len(order):
            order = np.random.default_rng(seed + it).permutation(len(xa))
            pos = 0
        idx = order[pos:pos + batch_size]
        pos += batch_size
        if ranks:
            part = np.array_split(idx, world)[rank]
            loss = loss_fn(model(tensor(xa[part])), ya[part] if ya.dtype.kind in "iu" else tensor(ya[part]))
            grads = backward(loss)
            dist.allreduce_gradients(model, grads, weight=len(part) / len(idx))
            opt.step(grads)
            history.append(dist.allreduce_scalar(float(loss.item()) * len(part) / len(idx)))
        else:
            history.append(dp.train_step(xa[idx], ya[idx], loss_fn, opt))
        if log_every and (it + 1) % log_every == 0:
            print(f"dp_train: iteration {it + 1}  loss {history[-1]:.4f}", flush=True)
    return model, history
