"""Mixed precision: autocast and dynamic loss scaling.

Two ways to train in f16:

- ``vg.set_default_dtype("f16")``: parameters and activations are f16; the
  optimizers keep f32 master weights and f32 state and write the f16
  parameters back after each update.
- ``with vg.autocast("f16"):`` around the forward pass: parameters stay f32
  (they are the master weights), matmul/linear run on f16 copies, losses in
  f32; gradients flow back to the f32 parameters through the casts.

Either way, scale the loss so that small gradients do not underflow in f16::

    scaler = vg.amp.GradScaler()
    with vg.autocast("f16"):
        loss = vg.softmax_cross_entropy(model(xb), yb)
    grads = vg.backward(scaler.scale(loss))
    scaler.unscale_(opt, grads)              # optional: before clipping
    vg.clip_grad_norm(params, 5.0, grads=grads)
    scaler.step(opt, grads)                  # skipped when a gradient is inf/nan
    scaler.update()
"""
from __future__ import annotations

import contextlib
import math
import weakref

from . import config
from ._values import scalar
from .optim.optimizer import check_grads_keys, grad_for
from .tensor import Tensor, canonical_dtype


_DEVICE_TYPES = ("cuda", "cpu", "vulkan", "xpu", "mps", "hpu", "xla", "mtia")


@contextlib.contextmanager
def autocast(*args, dtype=None, enabled=True, device_type=None, cache_enabled=None):  # noqa: ARG001
    """Run matmul/linear in ``dtype`` (f16 storage, f32 arithmetic; default f16)
    inside the block: ``autocast("f16", enabled)``.  PyTorch's form
    ``autocast("cuda", dtype=torch.float16)`` / ``autocast(device_type="cuda")`` is
    accepted: the device type is ignored (vkgrad's autocast applies on every
    device), bfloat16 runs as f16."""
    args = list(args)
    if args and isinstance(args[0], str) and args[0].split(":")[0] in _DEVICE_TYPES:
        args.pop(0)  # (PyTorch's order: device_type -- ignored --, dtype, enabled)
    if args:
        if dtype is not None:
            raise TypeError("autocast: dtype given twice")
        dtype = args.pop(0)
    if args:
        enabled = args.pop(0)
    if args:
        raise TypeError(f"autocast: too many positional arguments ({len(args)} left over)")
    dtype = "f16" if dtype is None else dtype
    d = "f16" if dtype in ("bfloat16", "bf16") else canonical_dtype(dtype)
    if d not in ("f16", "f32"):
        raise ValueError(f"autocast: dtype must be 'f16' or 'f32', got {dtype!r}")
    prev = config.autocast
    config.autocast = d if enabled and d != "f32" else None
    try:
        yield
    finally:
        config.autocast = prev


def _autocast_call(dtype):
    """autocast(dtype) as a decorator-friendly context (None: off)."""
    return autocast(dtype if dtype else "f32")


def is_autocast_enabled(device_type=None):
    """Whether an ``autocast`` block is on (for every device: the type is ignored)."""
    return config.autocast is not None


def get_autocast_dtype(device_type=None):
    """The dtype matmul / linear run in under autocast: the open block's, else its
    default f16."""
    return config.autocast or "f16"


def is_autocast_available(device_type):
    """True: vkgrad's autocast works on every device."""
    return True


def custom_fwd(fwd=None, *, device_type="cuda", cast_inputs=None):
    """PyTorch's decorator for an autograd.Function's forward: with ``cast_inputs``
    its float tensor inputs are cast to that dtype and autocast is off inside;
    without, it runs under the caller's autocast, which ``custom_bwd`` restores
    for the backward."""
    import functools
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def wrapper(ctx, *args, **kwargs):
        if cast_inputs is None:
            ctx._autocast_dtype = config.autocast
            return fwd(ctx, *args, **kwargs)
        dt = canonical_dtype(cast_inputs)
        args = tuple(a.to(dtype=dt) if isinstance(a, Tensor) and a.dtype in ("f16", "f32", "f64") else a
                     for a in args)
        ctx._autocast_dtype = None
        with _autocast_call(None):
            return fwd(ctx, *args, **kwargs)
    return wrapper


def custom_bwd(bwd=None, *, device_type="cuda"):
    """PyTorch's decorator for an autograd.Function's backward: it runs under the
    autocast state its forward ran under."""
    import functools
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def wrapper(ctx, *grads):
        with _autocast_call(getattr(ctx, "_autocast_dtype", None)):
            return bwd(ctx, *grads)
    return wrapper


class GradScaler:
    """Dynamic loss scaling with PyTorch's defaults and semantics.

    ``scale(loss)`` multiplies by the current scale; ``unscale_(opt, grads)``
    turns the gradients into f32 and divides by the scale (once per step);
    ``step(opt, grads)`` skips the update when any gradient is inf or NaN;
    ``update()`` halves the scale after a skipped step (``backoff_factor``) and
    doubles it (``growth_factor``) after ``growth_interval`` good steps."""

    def __init__(self, device="vulkan", init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        if not isinstance(device, str):
            raise TypeError(f"GradScaler: the first argument is the device type (PyTorch's torch.amp.GradScaler, "
                            f"ignored: vkgrad scales on every device), got {device!r}; pass init_scale= by keyword")
        if growth_factor <= 1.0 or not 0.0 < backoff_factor < 1.0 or init_scale <= 0:
            raise ValueError("GradScaler: need init_scale > 0, growth_factor > 1, 0 < backoff_factor < 1")
        self._scale = float(init_scale)
        self.growth_factor, self.backoff_factor = float(growth_factor), float(backoff_factor)
        self.growth_interval = int(growth_interval)
        self.enabled = enabled
        self._growth_tracker = 0
        self._found = {}      # id(optimizer) -> 0-d tensor, NaN when a gradient was inf/nan
        self._step_skipped = None
        self.skipped_steps = 0

    _scaled = weakref.WeakValueDictionary()  # id -> a scaled loss (backward lets its inf / NaN through)

    @classmethod
    def _made(cls, t):
        return cls._scaled.get(id(t)) is t

    def get_scale(self):
        return self._scale if self.enabled else 1.0

    def is_enabled(self):
        return bool(self.enabled)

    def get_growth_factor(self):
        return self.growth_factor

    def set_growth_factor(self, new_factor):
        self.growth_factor = float(new_factor)

    def get_backoff_factor(self):
        return self.backoff_factor

    def set_backoff_factor(self, new_factor):
        self.backoff_factor = float(new_factor)

    def get_growth_interval(self):
        return self.growth_interval

    def set_growth_interval(self, new_interval):
        self.growth_interval = int(new_interval)

    def scale(self, outputs):
        """``outputs`` times the current scale: one tensor, or a list / tuple of them
        (PyTorch's).  An overflow in the scaled loss does not stop its backward
        (the finite-loss check): ``step`` skips that update and ``update`` backs
        the scale off."""
        if not self.enabled:
            return outputs
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        if not isinstance(outputs, Tensor):
            raise TypeError(f"GradScaler.scale: expected a Tensor (or a list of them), got {type(outputs).__name__}")
        out = outputs * self._scale
        GradScaler._scaled[id(out)] = out
        return out

    def unscale_(self, optimizer, grads=None):
        """Divide the optimizer's gradients by the scale, in f32, and note any inf/nan."""
        if not self.enabled:
            return
        if id(optimizer) in self._found:
            raise RuntimeError("GradScaler.unscale_: already called for this optimizer since the "
                               "last update()")
        inv = 1.0 / self._scale
        flag = None
        named = optimizer._named_params()  # (every parameter group's)
        check_grads_keys(grads, named, "GradScaler.unscale_")
        for key, p in named:
            g = grad_for(grads, key, p, "GradScaler.unscale_")
            if g is None:
                continue
            be = g.backend
            d = g.handle if g.dtype in ("f32", "f64") else be.cast(g.handle, "f32")
            g.handle = be.unary("affine", d, inv, 0.0)  # in the grads dict / .grad, now f32
            # x*0 is 0 for finite x and NaN for inf/nan: one sum flags the whole tensor
            z = be.reduce("sum", be.unary("affine", g.handle, 0.0, 0.0), tuple(range(g.ndim)), False)
            flag = z if flag is None else be.binary("add", flag, z)
        self._found[id(optimizer)] = None if flag is None else Tensor(flag, be)

    def step(self, optimizer, grads=None):
        """Unscale (if not done yet), then ``optimizer.step(grads)`` unless a gradient
        is inf/nan.  Returns True when the step was taken."""
        if not self.enabled:
            optimizer.step(grads)
            return True
        if id(optimizer) not in self._found:
            self.unscale_(optimizer, grads)
        flag = self._found[id(optimizer)]
        bad = flag is not None and not math.isfinite(flag.item())  # the one host read per step
        if bad:
            self.skipped_steps += 1
        else:
            optimizer.step(grads)
        self._step_skipped = bool(bad) or bool(self._step_skipped)
        return not bad

    def update(self, new_scale=None):
        """Adjust the scale after a step (call once per iteration)."""
        if not self.enabled:
            return
        if new_scale is not None:
            self._scale = float(new_scale)
        elif self._step_skipped:
            self._scale *= self.backoff_factor
            self._growth_tracker = 0
        else:
            self._growth_tracker += 1
            if self._growth_tracker >= self.growth_interval:
                self._scale *= self.growth_factor
                self._growth_tracker = 0
        self._found.clear()
        self._step_skipped = None

    def state_dict(self):
        """PyTorch's GradScaler state (its keys: the two load into each other)."""
        return {"scale": self._scale, "growth_factor": self.growth_factor,
                "backoff_factor": self.backoff_factor, "growth_interval": self.growth_interval,
                "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, sd):
        """``state_dict()``'s or PyTorch's GradScaler state (an older vkgrad one's
        ``growth_tracker`` too)."""
        if not sd:
            raise ValueError("GradScaler.load_state_dict: the state is empty (a disabled scaler's)")
        self._scale = float(scalar(sd["scale"]))
        self.growth_factor, self.backoff_factor = float(sd["growth_factor"]), float(sd["backoff_factor"])
        tracker = sd["_growth_tracker"] if "_growth_tracker" in sd else sd["growth_tracker"]
        self.growth_interval, self._growth_tracker = int(sd["growth_interval"]), int(scalar(tracker))
