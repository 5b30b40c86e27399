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
submission, not waited for (the next call waits for it before writing its
inputs; reading the returned tensor waits too).  Per-step scalars are re-read on each replay (the optimizers'
learning rate and step count, dropout seeds), so replays compute exactly what
eager calls would.  Each input signature (e.g. a smaller last batch) gets its
own recording.  Other Python-side effects inside the function do not repeat.  Not capturable: host reads inside the function (``.item()``, the
NaN check of ``backward``, which is switched off while recording, a
``GradScaler``), and data-dependent Python control flow.  On the CPU backend,
the function simply runs eagerly.
"""
from __future__ import annotations

import functools

import numpy as np

from . import config
from .backends import get_backend
from .tensor import Tensor, tensor


class _Recording:
    __slots__ = ("calls", "cap", "inputs", "out")

    def __init__(self):
        self.calls, self.cap, self.inputs, self.out = 0, None, None, None


class CapturedStep:
    """The callable ``capture_step`` returns: one recording per input signature
    (shapes and dtypes), so e.g. a smaller last batch gets its own."""

    def __init__(self, fn, warmup=1, device=None, max_recordings=8):
        self.fn, self.warmup, self.device = fn, int(warmup), device
        self.max_recordings = int(max_recordings)
        self._recs = {}
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
        rec = self._recs.get(sig)
        if rec is None:
            if len(self._recs) >= self.max_recordings:  # many shapes: keep the newest
                self._recs.pop(next(iter(self._recs)))
            rec = self._recs[sig] = _Recording()
        rec.calls += 1
        if rec.cap is not None:  # submitted, not waited for: reading the output waits
            be.replay(rec.cap, inputs=[(slot.data, a) for slot, a in zip(rec.inputs, arrays)])
            return rec.out
        if rec.calls <= self.warmup:
            return self.fn(*[tensor(a, device=self.device) for a in arrays])
        return self._record(be, rec, arrays)

    def _record(self, be, rec, arrays):
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
        rec.cap, rec.inputs, rec.out = cap, inputs, out
        be.replay(cap, advance=False)  # run the recorded step itself, once
        return out

    def reset(self):
        """Forget the recordings (e.g. after changing the model or optimizer)."""
        self._recs.clear()


def capture_step(fn=None, *, warmup=1, device=None):
    """Decorator: record a training step once, then replay it (see the module doc)."""
    if fn is None:
        return lambda f: CapturedStep(f, warmup, device)
    return CapturedStep(fn, warmup, device)
