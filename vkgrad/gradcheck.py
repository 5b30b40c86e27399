"""Finite-difference gradient checks in float64."""
from __future__ import annotations

import numpy as np

from . import config
from .autograd import run_backward
from .tensor import Tensor, tensor


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Compare autograd gradients of ``fn(*inputs)`` with central differences.

    ``inputs``: arrays or tensors; each is copied to a float64 CPU tensor that
    requires grad.  A non-scalar output is reduced with a fixed random
    projection.  Returns True, or raises AssertionError naming the input and
    the worst element (False with ``raise_exception=False``)."""
    arrays = [np.array(x.numpy() if isinstance(x, Tensor) else x, dtype=np.float64) for x in inputs]
    rng = np.random.default_rng(1234)
    proj = {}

    def scalar(out):
        if out.size == 1:
            return out.reshape(())
        if out.shape not in proj:
            proj[out.shape] = tensor(rng.standard_normal(out.shape), dtype="f64", device="cpu")
        return (out * proj[out.shape]).sum()

    def value(arrs):
        ts = [tensor(a, dtype="f64", device="cpu") for a in arrs]
        prev = config.grad_enabled
        config.grad_enabled = False
        try:
            return float(scalar(fn(*ts)).item())
        finally:
            config.grad_enabled = prev

    ts = [tensor(a, dtype="f64", device="cpu", requires_grad=True) for a in arrays]
    prev_check = config.check_finite_loss
    config.check_finite_loss = False
    try:
        leaves = run_backward(scalar(fn(*ts)))
    finally:
        config.check_finite_loss = prev_check
    for i, (t, a) in enumerate(zip(ts, arrays)):
        analytic = np.asarray(leaves[id(t)][1]) if id(t) in leaves else np.zeros_like(a)
        numeric = np.zeros_like(a)
        flat = a.reshape(-1)
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + eps
            fp = value(arrays)
            flat[j] = old - eps
            fm = value(arrays)
            flat[j] = old
            numeric.reshape(-1)[j] = (fp - fm) / (2 * eps)
        bad = np.abs(analytic - numeric) > atol + rtol * np.abs(numeric)
        if bad.any():
            k = int(np.argmax(np.abs(analytic - numeric)))
            msg = (f"gradcheck: input {i} (shape {list(a.shape)}): analytic and numeric gradients "
                   f"differ at flat index {k}: {analytic.reshape(-1)[k]:.8g} vs "
                   f"{numeric.reshape(-1)[k]:.8g} ({int(bad.sum())} of {a.size} elements out of "
                   f"atol={atol}, rtol={rtol})")
            if raise_exception:
                raise AssertionError(msg)
            return False
    return True
