"""Record a whole training step once and replay it: ``vkgrad.capture_step``.

    @vg.capture_step
    def train_step(xb, yb):
        loss = vg.softmax_cross_entropy(model(xb), yb)
        opt.step(vg.backward(loss))
        return loss

    for xb, yb in batches:              # NumPy arrays (or CPU tensors)
        loss = train_step(xb, yb)       # a tensor, updated in place on every replay

The first call with a given input signature runs eagerly (it creates the
optimizer state and pipelines), the second is recorded while it runs, and
later calls only write the inputs into the recorded input blocks and submit
the recorded commands again: no Python autograd, no dispatch recording, one
submission.  Per-step scalars are re-read on each replay (the optimizers'
learning rate and step count, dropout seeds), so replays compute exactly what
eager calls would.  Other Python-side effects inside the function do not
repeat.  Not capturable: host reads inside the function (``.item()``, the
NaN check of ``backward``, which is switched off while recording, a
``GradScaler``), and data-dependent Python control flow.  On the CPU backend,
or with a new input shape, the function simply runs eagerly.
"""
from __future__ import annotations

import functools

import numpy as np

from . import config
from .backends import get_backend
from .tensor import Tensor, tensor


class CapturedStep:
    def __init__(self, fn, warmup=1, device=None):
        self.fn, self.warmup, self.device = fn, int(warmup), device
        self._sig = None
        self._calls = 0
        self._cap = None
        self._inputs = None
        self._out = None
        functools.update_wrapper(self, fn)

    def _host(self, a):
        if isinstance(a, Tensor):
            if a.device != "cpu":
                raise TypeError("capture_step: pass NumPy arrays or CPU tensors as inputs (a device "
                                f"tensor on {a.device} would need a device copy per step)")
            return a.numpy()
        return np.asarray(a)

    def __call__(self, *args):
        arrays = [self._host(a) for a in args]
        be = get_backend(self.device)
        if not hasattr(be, "begin_capture"):  # e.g. the CPU backend: nothing to replay
            return self.fn(*[tensor(a, device=self.device) for a in arrays])
        sig = tuple((a.shape, a.dtype.str) for a in arrays)
        if sig != self._sig:
            self._sig, self._calls, self._cap = sig, 0, None
        self._calls += 1
        if self._cap is not None:
            for slot, a in zip(self._inputs, arrays):
                be.write_block(slot.data, a)
            be.replay(self._cap)
            return self._out
        if self._calls <= self.warmup:
            return self.fn(*[tensor(a, device=self.device) for a in arrays])
        return self._record(be, arrays)

    def _record(self, be, arrays):
        prev_check = config.check_finite_loss
        config.check_finite_loss = False
        be.begin_capture()
        try:
            inputs = [tensor(a, device=self.device) for a in arrays]
            out = self.fn(*inputs)
            cap = be.end_capture()
        except BaseException:
            be.abort_capture()
            raise
        finally:
            config.check_finite_loss = prev_check
        self._cap, self._inputs, self._out = cap, inputs, out
        be.replay(cap, advance=False)  # run the recorded step itself, once
        return out

    def reset(self):
        """Forget the recording (e.g. after changing the model or optimizer)."""
        self._sig, self._calls, self._cap, self._inputs, self._out = None, 0, None, None, None


def capture_step(fn=None, *, warmup=1, device=None):
    """Decorator: record a training step once, then replay it (see the module doc)."""
    if fn is None:
        return lambda f: CapturedStep(f, warmup, device)
    return CapturedStep(fn, warmup, device)
