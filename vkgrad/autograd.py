"""Reverse-mode autograd: the tape, backward, gradient accumulation, no_grad."""
from __future__ import annotations

import contextlib
import math
import types

from . import config
from .tensor import Tensor


@contextlib.contextmanager
def no_grad():
    """Ops inside record nothing (inference, optimizer updates)."""
    prev = config.grad_enabled
    config.grad_enabled = False
    try:
        yield
    finally:
        config.grad_enabled = prev


def inference_mode(mode=True):
    """PyTorch's inference_mode: ``no_grad`` (``mode`` False: recording as it was);
    a context manager or a decorator."""
    return no_grad() if mode else _unchanged()


@contextlib.contextmanager
def _unchanged():
    yield


@contextlib.contextmanager
def grad_tape():
    """Ops inside are recorded for ``backward`` (the seed's ``with_grad_tape``).

    Recording is on by default, as in PyTorch; the tape re-enables it inside a
    ``no_grad`` block and makes the intent explicit."""
    prev = config.grad_enabled
    config.grad_enabled = True
    try:
        yield
    finally:
        config.grad_enabled = prev


enable_grad = grad_tape


class set_grad_enabled:
    """PyTorch's set_grad_enabled(mode): turns recording on or off now, and as a
    context manager puts the previous mode back on exit."""

    def __init__(self, mode):
        self.prev = config.grad_enabled
        config.grad_enabled = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        config.grad_enabled = self.prev


def is_grad_enabled():
    return config.grad_enabled


class Gradients(dict):
    """Gradients keyed by parameter name, also found by the parameter itself.

    ``grads["W"]`` by name; ``grads.of(param)`` by identity (what optimizers
    use, so a key rename never loses a gradient)."""

    def __init__(self):
        super().__init__()
        self._by_id = {}

    def _put(self, key, leaf, g):
        self[key] = g
        self._by_id[id(leaf)] = key

    def of(self, param):
        key = self._by_id.get(id(param))
        return self.get(key) if key is not None else None


def _topo(root, stop=(), more=()):
    """Tensors reachable from root (and the tensors in ``more``) through recorded
    nodes, in topological order (not expanding past the ids in ``stop``)."""
    order, seen = [], set()
    stack = [(t, False) for t in reversed(more)] + [(root, False)]
    while stack:
        t, done = stack.pop()
        if done:
            order.append(t)
            continue
        i = id(t)
        if i in seen:
            continue
        seen.add(i)
        stack.append((t, True))
        node = t._node
        if node is not None and i not in stop:
            for p, v in zip(node[1], node[2]):
                if p is not None and p._version[0] != v:  # (changed in place since: the input as it was)
                    p = _as_recorded(p, v)
                if p is not None and p.requires_grad and id(p) not in seen:
                    stack.append((p, False))
    return order


def _as_recorded(p, v):
    """An op's input p as the op recorded it, at version v: p changed in place since,
    while recording, is p's snapshot then (Version.history) -- the graph links ops
    to tensors, the snapshot to the node p had; None where that is gone (changed
    without recording, or the snapshot freed)."""
    ref = (p._version.history or {}).get((v, id(p)))
    return ref() if ref is not None else None


def _recorded_inputs(parents, versions):
    """The node's inputs as recorded (``_as_recorded``), or None if one is gone."""
    out = []
    for p, v in zip(parents, versions):
        if p is not None and p._version[0] != v:
            p = _as_recorded(p, v)
            if p is None:
                return None
        out.append(p)
    return tuple(out)


class Parts(dict):
    """The gradients of a multi-output op's outputs, by output index, on their way
    to its joint node (ops._core.make_multi): gathered (two for one output added)
    for one backward of the whole op -- a split's pieces meet in one write of the
    input's gradient (not each spread to its shape and summed), a recurrence's
    output and final states in one pass back through the steps."""

    def merge(self, be, other):
        for i, g in other.items():
            self[i] = g if i not in self else be.binary("add", self[i], g)
        return self


class SliceGrad:
    """A gradient that is zero but at blocks of its tensor (basic indexing's
    backward), kept as its pieces -- (g, starts, steps) each -- until it is read:
    the slices of one tensor (a fused projection's q, k and v) meet in one write of
    its shape (``Backend.unslice_many``), not an unslice each and their sums
    (the CPU's: the transformer block's step 0.962x the time, paired).  Immutable:
    merging makes a new one."""
    __slots__ = ("shape", "pieces")

    def __init__(self, shape, pieces):
        self.shape, self.pieces = tuple(shape), tuple(pieces)

    def dense(self, be):
        return be.unslice_many(self.pieces, self.shape)


def _dense(be, g):
    return g.dense(be) if type(g) is SliceGrad else g


def _accumulate(be, prev, g):
    if prev is None:
        return Parts(g) if isinstance(g, Parts) else g  # (a copy: the pieces' own dicts stay theirs)
    if type(prev) is SliceGrad and type(g) is SliceGrad:
        return SliceGrad(prev.shape, prev.pieces + g.pieces)
    prev, g = _dense(be, prev), _dense(be, g)
    return prev.merge(be, g) if isinstance(prev, Parts) else be.binary("add", prev, g)


def unit_seed(be, shape, dtype):
    """backward's gradient for a one-element loss: a kept constant 1 (no fill per
    step); an op whose backward is trivial at it (softmax-cross-entropy) compares
    by identity."""
    return be.constant(shape, 1.0, dtype)


def run_backward(loss, grad=None, accumulate=False, retain_graph=False, create_graph=False):
    """Propagate from ``loss``; returns {id(leaf): (leaf, grad handle)} (with
    ``create_graph``: (leaf, grad Tensor), the gradients themselves recorded).

    With ``accumulate`` the gradients are also added into each leaf's ``.grad``."""
    if create_graph:
        return _run_backward_graph(loss, grad, accumulate)
    if not isinstance(loss, Tensor):
        raise TypeError(f"backward: expected a vkgrad Tensor, got {type(loss).__name__}")
    if not loss.requires_grad:
        raise RuntimeError(
            f"backward: the tensor of shape {list(loss.shape)} does not require grad; "
            "compute it from Parameters (or tensors with requires_grad=True) with recording on")
    be = loss.backend
    if grad is None:
        if loss.size != 1:
            raise RuntimeError(
                f"backward: a gradient is needed for a non-scalar output of shape {list(loss.shape)}; "
                "pass grad= with that shape, or reduce the output (e.g. .sum()) first")
        if config.check_finite_loss:
            v = loss.item()
            if not math.isfinite(v) and not _scaled_loss(loss):
                raise FloatingPointError(
                    f"backward: the loss is {v} (not finite); check the learning rate, the inputs, "
                    "class labels (labels already on a device are not range-checked: one outside "
                    "[0, classes) makes the loss NaN) and log()/div() of values near zero "
                    "(vkgrad.set_check_finite(False) turns this check off)")
        g0 = unit_seed(be, loss.shape, loss.dtype)  # read-only: see the leaves below
    else:
        gt = grad if isinstance(grad, Tensor) else None
        if gt is None:
            from .tensor import tensor
            gt = tensor(grad, dtype=loss.dtype, device=loss.device)
        if gt.shape != loss.shape:
            raise ValueError(f"backward: grad has shape {list(gt.shape)}, expected the output's "
                             f"shape {list(loss.shape)}")
        g0 = gt.handle
    order = _topo(loss)
    grads = {id(loss): g0}
    leaves = {}
    for t in reversed(order):
        g = grads.pop(id(t), None)
        if g is None:
            continue
        if type(g) is SliceGrad:
            g = g.dense(be)
        if t._hooks:
            g = _run_hooks(t, g, accumulate)
        node = t._node
        if node is None:
            leaves[id(t)] = (t, g)
            continue
        fn, parents, versions = node[:3]
        changed = bool(versions) and t._version[0] != versions[-1]
        for p, v in zip(parents, versions):  # (a loop: any() of a generator costs ~1 us a node)
            if p is not None and p._version[0] != v:
                parents = _recorded_inputs(parents, versions)
                changed = changed or parents is None
                break
        if changed:
            raise RuntimeError(
                f"backward: a tensor this gradient needs (of shape {list(t.shape)}, or an input of the op that "
                "made it) was changed by an in-place operation after it was used; compute the gradient "
                "first, or modify a copy (clone())")
        pgs = fn(g)
        if len(node) > 4 and config.anomaly_check_nan:
            _check_anomaly(be, node[4], pgs)
        for p, pg in zip(parents, pgs):
            if pg is None or p is None or not p.requires_grad:
                continue
            i = id(p)
            prev = grads.get(i)
            grads[i] = pg if prev is None and type(pg) is not Parts else _accumulate(be, prev, pg)
        if not retain_graph:
            t._node = _FREED
    if grad is None:  # a leaf's gradient that is (a view of) the shared unit seed gets its own copy
        for k, (t, g) in list(leaves.items()):
            if g.size == 1 and be.shares_storage(g, g0):  # handles' .size is cheap
                leaves[k] = (t, be.unary("affine", g, 1.0, 0.0))
    if accumulate:
        for t, g in leaves.values():
            if t.grad is None:
                t.grad = Tensor(g, t.backend)
            else:
                t.grad = Tensor(be.binary("add", t.grad.handle, g), t.backend)
        for t, _ in leaves.values():  # (Tensor.register_post_accumulate_grad_hook)
            for hook in list(((t._hooks or {}).get("post_accumulate") or {}).values()):
                hook(t)
    return leaves


def _op_name(fn):
    """The op a backward rule belongs to (its defining function's name)."""
    q = getattr(fn, "__qualname__", "") or "?"
    return q.split(".<locals>")[0].split(".")[-1] or "?"


def composed_vjp(fn, inputs):
    """A ``vjp`` for a fused op from a composed twin: ``fn(*inputs)`` recomputed in
    recorded ops (each with its own vjp) and differentiated to the inputs with
    ``create_graph`` -- the gradients keep their graphs through the inputs."""
    def vjp(g):
        with enable_grad():
            out = fn(*inputs)
        live = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
        got = _run_backward_graph(out, g, False, stop={id(t) for t in live})
        return tuple(got.get(id(t), (None, None))[1] if isinstance(t, Tensor) else None for t in inputs)
    return vjp


def composed_vjp_parts(fn, inputs):
    """``composed_vjp`` for a multi-output op (its joint node's ``Parts``): the twin
    ``fn(*inputs)`` gives every output; the parts' gradients weight them."""
    def vjp(parts):
        with enable_grad():
            outs = fn(*inputs)
        seeds = [(outs[k], g) for k, g in parts.items() if outs[k].requires_grad]
        if not seeds:
            return (None,) * len(inputs)
        live = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
        # (the parts seed the outputs: they are factors of the result, not part of the graph walked)
        got = _run_backward_graph(seeds[0][0], seeds[0][1], False, stop={id(t) for t in live}, more=seeds[1:])
        return tuple(got.get(id(t), (None, None))[1] if isinstance(t, Tensor) else None for t in inputs)
    return vjp


def _run_backward_graph(loss, grad, accumulate, stop=None, more=()):
    """backward(create_graph=True): every node's ``vjp`` (its gradient rule written
    in recorded ops) instead of its buffer-level rule, so the gradients have graphs
    of their own (gradients of gradients: Hessian-vector products, gradient
    penalties).  An op without one is refused by name.  The graph is kept."""
    from . import ops
    if not isinstance(loss, Tensor):
        raise TypeError(f"backward: expected a vkgrad Tensor, got {type(loss).__name__}")
    if not loss.requires_grad:
        raise RuntimeError(f"backward: the tensor of shape {list(loss.shape)} does not require grad")
    be = loss.backend
    if grad is None:
        if loss.size != 1:
            raise RuntimeError(f"backward: a gradient is needed for a non-scalar output of shape "
                               f"{list(loss.shape)}")
        g0 = Tensor(be.full(loss.shape, 1.0, loss.dtype), be)
    else:
        from .tensor import tensor
        g0 = grad if isinstance(grad, Tensor) else tensor(grad, dtype=loss.dtype, device=loss.device)
        if g0.shape != loss.shape:
            raise ValueError(f"backward: grad has shape {list(g0.shape)}, expected {list(loss.shape)}")
    order = _topo(loss, stop or (), [t for t, _ in more])
    grads = {id(loss): g0}
    for t, g in more:  # (further seeded outputs: composed_vjp_parts)
        grads[id(t)] = g if id(t) not in grads else ops.add(grads[id(t)], g)
    leaves = {}
    prev = config.grad_enabled
    config.grad_enabled = True
    try:
        for t in reversed(order):
            g = grads.pop(id(t), None)
            if g is None:
                continue
            if stop is not None and id(t) in stop:  # (a composed vjp's input: its gradient, nothing past it)
                leaves[id(t)] = (t, g)
                continue
            if t._hooks:
                g = _run_hooks(t, g, accumulate, tensors=True)
            node = t._node
            if node is None:
                leaves[id(t)] = (t, g)
                continue
            fn, parents, versions = node[:3]
            if fn is _freed:
                _freed(None)
            parents = _recorded_inputs(parents, versions)
            if parents is None:
                raise RuntimeError("backward: a tensor this gradient needs was changed by an in-place operation "
                                   "after it was used")
            vjp = node[3] if len(node) > 3 else None
            if vjp is None:
                raise NotImplementedError(
                    f"backward(create_graph=True): the op '{_op_name(fn)}' (output shape {list(t.shape)}) has no "
                    "differentiable gradient rule; gradients of gradients go through the elementwise ops, "
                    "matmul / linear, sums and means, shapes (reshape, transpose, slicing, cat, split, pad, "
                    "broadcast), "
                    "softmax / log_softmax / softmax_cross_entropy, where, casts, dropout, convolutions and pools, "
                    "gather / scatter / index ops / embedding, layer_norm / batch_norm, the recurrent layers and "
                    "custom Functions")
            pgs = vjp(g)
            for p, pg in zip(parents, pgs):
                if pg is None or p is None or not p.requires_grad:
                    continue
                cur = grads.get(id(p))
                if isinstance(pg, Parts):  # (an output of a multi-output op: its joint node gathers them)
                    merged = Parts(cur or {})
                    for k, v in pg.items():
                        merged[k] = v if k not in merged else ops.add(merged[k], v)
                    grads[id(p)] = merged
                else:
                    grads[id(p)] = pg if cur is None else ops.add(cur, pg)
    finally:
        config.grad_enabled = prev
    if accumulate:
        for t, g in leaves.values():
            t.grad = g if t.grad is None else ops.add(t.grad, g)
        for t, _ in leaves.values():
            for hook in list(((t._hooks or {}).get("post_accumulate") or {}).values()):
                hook(t)
    return leaves


def _anomaly_trace():
    """(the vkgrad function the user called, the user's frames) of the op being
    recorded, for anomaly mode's report."""
    import os
    import traceback
    root = os.path.dirname(os.path.abspath(__file__))
    frames = traceback.extract_stack()[:-2]
    first = next((i for i, f in enumerate(frames) if os.path.abspath(f.filename).startswith(root)), len(frames))
    # (the op's own name: past the decorators' frames -- int_as_f32's, torch_kwargs' -- around it)
    name = next((f.name for f in frames[first:] if f.name != "wrapper"), "?")
    return name, traceback.format_list(frames[:first])


def _check_anomaly(be, trace, pgs):
    """Anomaly mode: a NaN in an op's input gradients names the op and where it was made."""
    import numpy as np
    for i, pg in enumerate(pgs):
        if pg is None or isinstance(pg, Parts):
            continue
        a = np.asarray(be.to_numpy(_dense(be, pg)))
        if a.dtype.kind == "f" and np.isnan(a).any():
            name, frames = trace
            raise RuntimeError(f"Function '{name}' returned nan values in its {i}th output (the gradient of its "
                               f"input {i}; anomaly mode).  The op was made at:\n" + "".join(frames))


class detect_anomaly:
    """PyTorch's detect_anomaly: inside (a context manager or a decorator), ops
    remember where they were made and backward checks every gradient for NaN
    (``check_nan``), raising with the op's name and the line that made it.  Each
    gradient is read back: slow, for debugging."""

    def __init__(self, check_nan=True):
        self.check_nan = bool(check_nan)

    def __enter__(self):
        self.prev = (config.detect_anomaly, config.anomaly_check_nan)
        config.detect_anomaly, config.anomaly_check_nan = True, self.check_nan
        return self

    def __exit__(self, *exc):
        config.detect_anomaly, config.anomaly_check_nan = self.prev

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)
        return wrapper


class set_detect_anomaly(detect_anomaly):
    """Anomaly mode on or off (``mode``) now; as a context manager, the previous
    setting back on exit."""

    def __init__(self, mode, check_nan=True):
        super().__init__(check_nan)
        self.prev = (config.detect_anomaly, config.anomaly_check_nan)
        config.detect_anomaly, config.anomaly_check_nan = bool(mode), self.check_nan

    def __enter__(self):
        return self


def is_anomaly_enabled():
    return config.detect_anomaly


def is_anomaly_check_nan_enabled():
    return config.anomaly_check_nan


def _run_hooks(t, g, accumulate, tensors=False):
    """t's gradient through its hooks (register_hook), in order, then kept in
    t.grad where retain_grad asked for it (Tensor.backward; after the hooks, as
    PyTorch's).  ``tensors``: g is a Tensor (create_graph), else a handle."""
    be = t.backend
    for key, hook in list(t._hooks.items()):
        if key in ("retain", "post_accumulate"):
            continue
        r = hook(g if tensors else Tensor(g, be))
        if r is not None:
            if not isinstance(r, Tensor) or r.shape != t.shape:
                raise ValueError(f"backward: a hook on a tensor of shape {list(t.shape)} returned "
                                 f"{type(r).__name__ if not isinstance(r, Tensor) else list(r.shape)}; "
                                 "expected None or a tensor of that shape")
            g = r if tensors else r.handle
    if accumulate and t._hooks.get("retain"):
        if tensors:
            t.grad = g if t.grad is None else t.grad + g
        else:
            t.grad = Tensor(g, be) if t.grad is None else Tensor(be.binary("add", t.grad.handle, g), be)
    return g


_unnamed = [0]


def _freed(g):
    raise RuntimeError("backward: the graph through this tensor was freed by an earlier backward; "
                       "pass retain_graph=True to the first backward() to go through it twice")


_FREED = (_freed, (), ())  # (no versions to check)


def backward_grads(loss, grad=None, retain_graph=False, create_graph=False):
    """``vkgrad.backward(loss)`` (ggmlR's): the gradients of ``loss`` for every leaf
    it depends on, keyed by name (``create_graph``: recorded, differentiable again).

    Keys are the parameters' names (``Parameter(name=...)``, module paths such
    as ``"0.weight"``, or an optimizer's dict keys); the values are tensors on
    the parameter's device.  Leaves' ``.grad`` is left untouched."""
    leaves = run_backward(loss, grad, accumulate=False, retain_graph=retain_graph, create_graph=create_graph)
    out = Gradients()
    for t, g in leaves.values():
        key = t.name
        if key is None or key in out:
            _unnamed[0] += 1
            key = f"{t.name or 'tensor'}_{_unnamed[0]}"
        out._put(key, t, g if create_graph else Tensor(g, t.backend))
    return out


def _scaled_loss(loss):
    """Whether ``loss`` is a GradScaler's scaled loss: its overflow is the scaler's
    to handle (the step skipped, the scale backed off), not an error."""
    from .amp import GradScaler
    return GradScaler._made(loss)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """PyTorch's ``torch.autograd.backward``: each of ``tensors`` (one or a sequence;
    non-scalar ones weighted by its ``grad_tensors``) backpropagated into the leaves'
    ``.grad``, accumulated; returns None.  (``vkgrad.backward(loss)`` is ggmlR's: it
    returns the gradients and leaves ``.grad`` alone -- the same call here would
    not have changed any ``.grad``.)"""
    ts = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None:
        gs = [None] * len(ts)
    else:
        gs = [grad_tensors] if isinstance(grad_tensors, Tensor) or not isinstance(grad_tensors, (list, tuple)) \
            else list(grad_tensors)
    if len(gs) != len(ts):
        raise ValueError(f"backward: {len(gs)} grad_tensors for {len(ts)} tensors")
    for i, (t, g) in enumerate(zip(ts, gs)):
        if not isinstance(t, Tensor):
            raise TypeError(f"backward: expected vkgrad Tensors, got {type(t).__name__}")
        last = i == len(ts) - 1  # (the graph kept for the next tensor's pass: they may share it)
        t.backward(g, retain_graph=bool(retain_graph) if last else True, create_graph=create_graph, inputs=inputs)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """PyTorch's torch.autograd.grad: the gradients of ``outputs`` (a tensor or a
    sequence; non-scalar ones weighted by ``grad_outputs``) with respect to each of
    ``inputs`` (leaves or intermediate tensors), as a tuple; ``.grad`` is left
    alone.  An input the outputs do not reach is an error unless ``allow_unused``
    (then None).  ``create_graph``: the gradients are recorded too, so they can be
    differentiated again (through the ops that have differentiable gradient rules;
    another op is refused by name)."""
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        gos = [None] * len(outs)
    else:
        gos = [grad_outputs] if isinstance(grad_outputs, Tensor) or len(outs) == 1 and not isinstance(
            grad_outputs, (list, tuple)) else list(grad_outputs)
    if len(gos) != len(outs):
        raise ValueError(f"autograd.grad: {len(gos)} grad_outputs for {len(outs)} outputs")
    for t in ins:
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError("autograd.grad: every input must be a tensor that requires grad, got "
                               f"{type(t).__name__ if not isinstance(t, Tensor) else list(t.shape)}")
    if len(outs) == 1:
        root, g = outs[0], gos[0]
    else:  # one root: the outputs weighted by their gradients, summed
        from . import ops
        root = None
        for o, go in zip(outs, gos):
            if go is None and o.size != 1:
                raise RuntimeError(f"autograd.grad: a gradient is needed for the output of shape {list(o.shape)}")
            term = ops.sum(o if go is None else o * go)
            root = term if root is None else root + term
        g = 1.0
    captured = {}
    keys = []
    for t in ins:  # a hook on each input keeps its full gradient (leaves' and intermediates' alike)
        if t._hooks is None:
            t._hooks = {}
        key = object()
        keys.append(key)
        t._hooks[key] = lambda gt, t=t: captured.__setitem__(id(t), gt) or None
    try:
        run_backward(root, g, accumulate=False, retain_graph=bool(retain_graph) or create_graph,
                     create_graph=create_graph)
    finally:
        for t, key in zip(ins, keys):
            t._hooks.pop(key, None)
    result = []
    for i, t in enumerate(ins):
        if id(t) not in captured and not allow_unused:
            raise RuntimeError(f"autograd.grad: input {i} (shape {list(t.shape)}) is not used by the outputs; "
                               "pass allow_unused=True for None")
        result.append(captured.get(id(t)))
    return tuple(result)


class FunctionCtx:
    """The ``ctx`` of a custom ``Function``: ``save_for_backward(*tensors)`` /
    ``saved_tensors``, ``needs_input_grad``, ``mark_non_differentiable(*outputs)``,
    ``set_materialize_grads(flag)``; other attributes are free for the user."""

    def __init__(self):
        self.saved_tensors = ()
        self.needs_input_grad = ()
        self.materialize_grads = True
        self._non_differentiable = set()

    def save_for_backward(self, *tensors):
        self.saved_tensors = tuple(tensors)

    def mark_non_differentiable(self, *tensors):
        self._non_differentiable |= {id(t) for t in tensors}

    def mark_dirty(self, *tensors):
        """Accepted for PyTorch code; vkgrad's version counters track in-place changes."""

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)


class Function:
    """PyTorch's torch.autograd.Function: subclass with static ``forward(ctx,
    *args)`` (or ``forward(*args)`` plus ``setup_context(ctx, inputs, output)``) and
    ``backward(ctx, *grad_outputs)`` returning one gradient (a tensor or None) per
    input of forward; call ``MyFn.apply(*args)``.  Forward runs without recording;
    backward receives the outputs' gradients as tensors (zeros for outputs that got
    none, unless ``ctx.set_materialize_grads(False)``) and runs without recording
    too (its gradients are not differentiable)."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("Function: subclasses define forward")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("Function: subclasses define backward")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        from .ops._core import make, make_multi
        name = cls.__name__
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        separate = cls.setup_context is not Function.setup_context
        with no_grad():
            out = cls.forward(*args, **kwargs) if separate else cls.forward(ctx, *args, **kwargs)
        if separate:
            cls.setup_context(ctx, args, out)
        outs = out if isinstance(out, tuple) else (out,)
        if not outs or not all(isinstance(o, Tensor) for o in outs):
            raise TypeError(f"{name}.forward must return a tensor or a tuple of tensors, got {type(out).__name__}")
        parents = tuple(a for a in args if isinstance(a, Tensor))
        be = outs[0].backend

        def backward_parts(parts):
            gouts = []
            for i, o in enumerate(outs):
                if i in parts:
                    gouts.append(Tensor(parts[i], be))
                else:
                    gouts.append(Tensor(be.full(o.shape, 0.0, o.dtype), be) if ctx.materialize_grads else None)
            with no_grad():
                gin = cls.backward(ctx, *gouts)
            gin = gin if isinstance(gin, tuple) else (gin,)
            if len(gin) < len(args) or any(g is not None for g in gin[len(args):]):
                raise RuntimeError(f"{name}.backward returned {len(gin)} gradients, expected one per input of "
                                   f"forward ({len(args)}; None for those without one)")
            handles = []
            for a, g in zip(args, gin):
                if not isinstance(a, Tensor):
                    if g is not None:
                        raise RuntimeError(f"{name}.backward returned a gradient for an input that is not a tensor")
                    continue
                if g is None or not a.requires_grad:
                    handles.append(None)
                    continue
                if not isinstance(g, Tensor) or g.shape != a.shape:
                    raise RuntimeError(f"{name}.backward: the gradient for an input of shape {list(a.shape)} is "
                                       f"{list(g.shape) if isinstance(g, Tensor) else type(g).__name__}")
                handles.append(g.handle if g.dtype == a.dtype else be.cast(g.handle, a.dtype))
            return tuple(handles)

        def recorded(g):  # (create_graph: the user's backward, recorded -- differentiable where its ops are)
            gin = cls.backward(ctx, g)
            gin = gin if isinstance(gin, tuple) else (gin,)
            return tuple(gi for a, gi in zip(args, gin) if isinstance(a, Tensor))
        # (once_differentiable: no vjp, so create_graph through it is refused by name)
        vjp = None if getattr(cls.backward, "_once_differentiable", False) else recorded

        def backward_one(g):
            return backward_parts({0: g})
        backward_one.__qualname__ = name  # (errors name the Function)
        if len(outs) == 1 and not isinstance(out, tuple):
            res = (make(outs[0].handle, be, parents, backward_one, vjp=vjp),)
        else:
            res = make_multi([o.handle for o in outs], be, parents, backward_parts)
        res = tuple(Tensor(r.handle, be) if id(o) in ctx._non_differentiable else r for r, o in zip(res, outs))
        return res[0] if not isinstance(out, tuple) else res


def once_differentiable(backward):
    """PyTorch's ``autograd.function.once_differentiable``: a Function's backward
    whose result is not differentiable again (it computes on the host, or in ops
    whose own gradients it does not express); gradients of gradients through it
    (create_graph=True) are refused with its name instead of coming out wrong."""
    backward._once_differentiable = True
    return backward


# ``vkgrad.autograd.function``: PyTorch's module path for these three
function = types.SimpleNamespace(Function=Function, FunctionCtx=FunctionCtx, once_differentiable=once_differentiable)


class _Functional:
    """``vkgrad.autograd.functional``: PyTorch's jacobian / vjp / jvp, from repeated
    first-order backward passes (one per output element for the Jacobian); hessian,
    hvp and vhp through a recorded gradient.  ``create_graph=True`` keeps each
    result recorded towards the inputs (for a gradient of it, PyTorch's)."""

    @staticmethod
    def _call(func, inputs, create_graph=False):
        """(single, the inputs as func sees them, func's output).  With create_graph
        an input that requires grad enters through a recorded reshape (PyTorch's
        view_as), so the results stay differentiable towards it; others detached."""
        from . import ops
        single = isinstance(inputs, Tensor)
        ins = (inputs,) if single else tuple(inputs)
        with enable_grad():
            xs = tuple(ops.reshape(x, x.shape) if create_graph and x.requires_grad else
                       x.detach().requires_grad_(True) for x in ins)
            out = func(*xs)
        return single, xs, out

    @staticmethod
    def _kept(t, create_graph):
        """A result: recorded with create_graph, detached otherwise (PyTorch's)."""
        return t if create_graph else t.detach()

    @staticmethod
    def _zeros(x):
        return Tensor(x.backend.full(x.shape, 0.0, x.dtype), x.backend)

    @staticmethod
    def vjp(func, inputs, v=None, create_graph=False, strict=False):
        """(func(inputs), v^T J): the outputs' gradients weighted by ``v`` (None for a
        one-element output), for each input."""
        single, xs, out = _Functional._call(func, inputs, create_graph)
        if not isinstance(out, Tensor):
            raise TypeError("autograd.functional.vjp: func must return one tensor")
        g = grad(out, list(xs), grad_outputs=v, create_graph=create_graph, allow_unused=True)
        g = tuple(gi if gi is not None else _Functional._zeros(x) for gi, x in zip(g, xs))
        return _Functional._kept(out, create_graph), (g[0] if single else g)

    @staticmethod
    def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
        """d func(inputs) / d inputs: [*out.shape, *in.shape] per input (a tuple of
        them for several inputs), one backward pass per output element."""
        single, xs, out = _Functional._call(func, inputs, create_graph)
        if not isinstance(out, Tensor):
            raise TypeError("autograd.functional.jacobian: func must return one tensor")
        from . import ops
        flat = out.reshape((out.size,))
        rows = [[] for _ in xs]
        for i in range(out.size):
            gs = grad(flat[i], list(xs), retain_graph=True, create_graph=create_graph, allow_unused=True)
            for k, (gk, x) in enumerate(zip(gs, xs)):
                rows[k].append(gk if gk is not None else _Functional._zeros(x))
        jac = tuple((ops.stack(r, 0) if r else Tensor(x.backend.full((0,) + x.shape, 0.0, x.dtype), x.backend))
                    .reshape(out.shape + x.shape) for r, x in zip(rows, xs))
        return jac[0] if single else jac

    @staticmethod
    def jvp(func, inputs, v=None, create_graph=False, strict=False):
        """(func(inputs), J v): the Jacobian (one backward pass per output element)
        times the input-space vector(s) ``v``."""
        single = isinstance(inputs, Tensor)
        ins = (inputs,) if single else tuple(inputs)
        vs = (v,) if single else tuple(v) if v is not None else (None,) * len(ins)
        with (enable_grad() if create_graph else no_grad()):
            out = func(*ins)
        jac = _Functional.jacobian(func, inputs, create_graph=create_graph)
        jac = (jac,) if single else jac
        from . import ops
        total = None
        for j, x, vk in zip(jac, ins, vs):
            if vk is None:
                if x.size != 1:
                    raise RuntimeError("autograd.functional.jvp: v is needed for inputs of more than one element")
                vk = Tensor(x.backend.full(x.shape, 1.0, x.dtype), x.backend)
            term = ops.sum(j.reshape(out.shape + (x.size,)) * vk.reshape((x.size,)), -1)
            total = term if total is None else total + term
        return out, total

    @staticmethod
    def _first_grads(func, inputs, create_graph=False):
        """(single, xs, value, the gradients of func's one-element output recorded)."""
        single, xs, out = _Functional._call(func, inputs, create_graph)
        if not isinstance(out, Tensor) or out.size != 1:
            raise RuntimeError("autograd.functional: func must return a one-element tensor for second derivatives")
        gs = grad(out, list(xs), create_graph=True, allow_unused=True)
        return single, xs, out, gs

    @staticmethod
    def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy=None):
        """The second derivatives of func's one-element output: [*x.shape, *x.shape]
        for one input, H[i][j] ([*xi.shape, *xj.shape]) for several; one backward
        pass per element of the gradient, through its recorded graph."""
        from . import ops
        single, xs, out, gs = _Functional._first_grads(func, inputs, create_graph)
        rows = []
        for gi, xi in zip(gs, xs):
            per = [[] for _ in xs]
            flat = None if gi is None else gi.reshape((gi.size,))
            for k in range(xi.size):
                hk = (None,) * len(xs) if flat is None or not flat.requires_grad else \
                    grad(flat[k], list(xs), retain_graph=True, create_graph=create_graph, allow_unused=True)
                for j, (h, xj) in enumerate(zip(hk, xs)):
                    per[j].append(_Functional._kept(h, create_graph) if h is not None else _Functional._zeros(xj))
            rows.append(tuple(ops.stack(p, 0).reshape(xi.shape + xj.shape) if p else
                              Tensor(xj.backend.full(xi.shape + xj.shape, 0.0, xj.dtype), xj.backend)
                              for p, xj in zip(per, xs)))
        return rows[0][0] if single else tuple(rows)

    @staticmethod
    def hvp(func, inputs, v=None, create_graph=False, strict=False):
        """(func(inputs), H v): the Hessian of func's one-element output times v
        (one backward pass through the recorded gradient)."""
        from . import ops
        single, xs, out, gs = _Functional._first_grads(func, inputs, create_graph)
        vs = (v,) if single else tuple(v)
        dot = None
        for g_, vk in zip(gs, vs):
            if g_ is not None:
                term = ops.sum(g_ * vk)
                dot = term if dot is None else dot + term
        if dot is None or not dot.requires_grad:
            hv = tuple(_Functional._zeros(x) for x in xs)
        else:
            hv = tuple(_Functional._kept(h, create_graph) if h is not None else _Functional._zeros(x)
                       for h, x in zip(grad(dot, list(xs), create_graph=create_graph, allow_unused=True), xs))
        return _Functional._kept(out, create_graph), (hv[0] if single else hv)

    vhp = hvp  # (v^T H = (H v)^T: the Hessian is symmetric)


functional = _Functional()


def gradcheck(fn, inputs, *args, **kwargs):
    """vkgrad.gradcheck (float64 finite differences) under PyTorch's path."""
    from .gradcheck import gradcheck as check
    return check(fn, inputs, *args, **kwargs)


def gradgradcheck(func, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, **kwargs):
    """PyTorch's gradgradcheck: the gradients of ``sum(grad(func(inputs)) * w)`` (the
    first gradient recorded with create_graph, w fixed random weights) against
    float64 finite differences of that first gradient.  Inputs are float64 CPU
    tensors or arrays; True, or an AssertionError naming the worst element."""
    import numpy as np
    from . import ops
    from .tensor import tensor
    arrays = [np.asarray(a.numpy() if isinstance(a, Tensor) else a, dtype=np.float64)
              for a in (inputs if isinstance(inputs, (list, tuple)) else [inputs])]
    r = np.random.default_rng(0)
    ws = [r.uniform(0.5, 1.5, a.shape) for a in arrays]

    def first(arrs, create):
        xs = [tensor(a, dtype="f64", device="cpu", requires_grad=True) for a in arrs]
        out = func(*xs)
        go = None if grad_outputs is None else grad_outputs
        gs = grad(out if out.size == 1 or go is not None else ops.sum(out), xs, grad_outputs=go,
                  create_graph=create, allow_unused=True)
        return xs, [g if g is not None else tensor(np.zeros(a.shape), dtype="f64", device="cpu")
                    for g, a in zip(gs, arrs)]
    xs, gs = first(arrays, True)
    total = None
    for g, w in zip(gs, ws):
        term = ops.sum(g * tensor(w, dtype="f64", device="cpu"))
        total = term if total is None else total + term
    got = grad(total, xs, allow_unused=True) if total.requires_grad else [None] * len(xs)
    for i, a in enumerate(arrays):
        want = np.zeros(a.shape)
        for k in range(a.size):
            up, dn = [b.copy() for b in arrays], [b.copy() for b in arrays]
            up[i].flat[k] += eps
            dn[i].flat[k] -= eps
            f_up = sum(float((g.numpy() * w).sum()) for g, w in zip(first(up, False)[1], ws))
            f_dn = sum(float((g.numpy() * w).sum()) for g, w in zip(first(dn, False)[1], ws))
            want.flat[k] = (f_up - f_dn) / (2 * eps)
        have = np.zeros(a.shape) if got[i] is None else got[i].numpy()
        if not np.allclose(have, want, atol=atol, rtol=rtol):
            k = int(np.argmax(np.abs(have - want)))
            raise AssertionError(f"gradgradcheck: input {i} element {k}: second derivative {have.flat[k]} by "
                                 f"create_graph, {want.flat[k]} by finite differences")
    return True
