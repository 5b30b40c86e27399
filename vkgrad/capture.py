"""Record a whole training step and replay it: ``vkgrad.capture_step``.

    @vg.capture_step
    def train_step(xb, yb):
        loss = vg.softmax_cross_entropy(model(xb), yb)
        opt.step(vg.backward(loss))
        return loss

    for xb, yb in batches:              # NumPy arrays (or CPU tensors)
        loss = train_step(xb, yb)       # a tensor: its recording's output, overwritten
                                        # when that recording replays again

The first call with a given input signature runs eagerly (it creates the
optimizer state and pipelines), the second and third are recorded while they
run (two recordings, replayed in turn; with ``pipelined=False``, one), and
later calls only write the inputs into a recording's input blocks and submit
its commands again: no Python autograd, no dispatch recording, one
submission, not waited for (a recording's next replay waits for its last
before writing its inputs, so with two the host prepares one step while the
device runs the other; reading the returned tensor waits).  Read a returned
tensor before the call after next (the next one with ``pipelined=False``).
Per-step scalars are re-read on each replay (the optimizers' learning rate
and step count, dropout seeds), so replays compute exactly what eager calls
would.  Each input signature (e.g. a smaller last batch) gets its own
recordings.  Other Python-side effects inside the function do not repeat.
Not capturable: host reads inside the function (``.item()``, the NaN check
of ``backward``, which is switched off while recording, a ``GradScaler``),
and data-dependent Python control flow.  On the CPU backend, the function
simply runs eagerly.
"""
from __future__ import annotations

import functools

import numpy as np

from . import config
from .backends import get_backend
from .tensor import Tensor, tensor


class _Recording:
    """The recordings of one input signature: (capture, input tensors, output) each,
    replayed in turn."""
    __slots__ = ("calls", "recs", "turn")

    def __init__(self):
        self.calls, self.recs, self.turn = 0, [], 0


class CapturedStep:
    """The callable ``capture_step`` returns: one recording per input signature
    (shapes and dtypes), so e.g. a smaller last batch gets its own."""

    def __init__(self, fn, warmup=1, device=None, max_recordings=8, pipelined=True):
        self.fn, self.warmup, self.device = fn, int(warmup), device
        self.max_recordings = int(max_recordings)
        # two recordings replayed in turn: one's inputs are written while the other runs
        self.copies = 2 if pipelined else 1
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
        if len(rec.recs) == self.copies:  # submitted, not waited for: reading the output waits
            cap, inputs, out = rec.recs[rec.turn]
            rec.turn = (rec.turn + 1) % self.copies
            be.replay(cap, inputs=[(slot.handle, a) for slot, a in zip(inputs, arrays)])
            return out
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
        rec.recs.append((cap, inputs, out))
        be.replay(cap, advance=False)  # run the recorded step itself, once
        return out

    def reset(self):
        """Forget the recordings (e.g. after changing the model or optimizer)."""
        self._recs.clear()


def capture_step(fn=None, *, warmup=1, device=None, pipelined=True):
    """Decorator: record a training step, then replay it (see the module doc).

    ``pipelined`` (default): two recordings per input signature, replayed in turn,
    so one's inputs are written while the other runs (twice the step's
    intermediate memory); False: one recording, each replay waits for the last."""
    if fn is None:
        return lambda f: CapturedStep(f, warmup, device, pipelined=pipelined)
    return CapturedStep(fn, warmup, device, pipelined=pipelined)
