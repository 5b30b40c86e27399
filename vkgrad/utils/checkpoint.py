"""PyTorch's ``torch.utils.checkpoint``: activation checkpointing.  A checkpointed
function keeps no intermediate activations after its forward; the backward runs
it again (with the random state it had, so dropout draws the same masks) and
backpropagates through the recomputation.  Memory for compute: one segment's
activations alive at a time."""
from __future__ import annotations

from .. import autograd
from ..autograd import Function, enable_grad
from ..random import get_rng_state, set_rng_state
from ..tensor import Tensor


def _leaves(outs):
    """The tensors requiring grad at the leaves of the graph behind ``outs`` (the
    parameters the function used)."""
    ts = [o for o in outs if isinstance(o, Tensor)]
    if not ts:
        return []
    return [t for t in autograd._topo(ts[0], more=ts[1:]) if t._node is None and t.requires_grad]


class _Checkpoint(Function):
    """forward(fn, n_args, preserve_rng_state, params, info, *args, *params): fn
    run without recording (``info["single"]``: whether it gave one tensor);
    backward: fn run again with recording, then backpropagated to the tensor args
    and the params."""

    @staticmethod
    def forward(ctx, fn, n_args, preserve, params, info, *tensors):
        ctx.fn, ctx.args, ctx.params = fn, tensors[:n_args], params
        ctx.state = get_rng_state() if preserve else None
        out = fn(*ctx.args)
        ctx.single = info["single"] = not isinstance(out, tuple)
        return tuple(o.detach() for o in ((out,) if ctx.single else out))

    @staticmethod
    def backward(ctx, *grads):
        if ctx.state is not None:
            keep = get_rng_state()
            set_rng_state(ctx.state)
        try:
            with enable_grad():
                ins = [a.detach().requires_grad_(a.requires_grad) if isinstance(a, Tensor) else a for a in ctx.args]
                out = ctx.fn(*ins)
        finally:
            if ctx.state is not None:
                set_rng_state(keep)
        outs = (out,) if ctx.single else out
        pairs = [(o, g) for o, g in zip(outs, grads) if o.requires_grad and g is not None]
        wanted = [t for t in ins if isinstance(t, Tensor) and t.requires_grad] + list(ctx.params)
        got = list(autograd.grad([o for o, _ in pairs], wanted, grad_outputs=[g for _, g in pairs],
                                 allow_unused=True)) if pairs and wanted else [None] * len(wanted)
        arg_grads = [got.pop(0) if isinstance(a, Tensor) and a.requires_grad else None for a in ctx.args]
        return (None, None, None, None, None, *arg_grads, *got)


def checkpoint(function, *args, use_reentrant=None, preserve_rng_state=True, **kwargs):
    """``function(*args)`` without keeping its intermediate activations: they are
    recomputed in the backward.  Gradients reach the tensor arguments and the
    parameters ``function`` uses (a module's, for a module or its method; else
    found from a first run's graph, which is then dropped);
    ``use_reentrant`` is accepted (one behaviour: PyTorch's non-reentrant one);
    keyword arguments pass through.  The function must return a tensor or a
    tuple of tensors."""
    from ..nn.module import Module
    fn = (lambda *a: function(*a, **kwargs)) if kwargs else function
    if not autograd.is_grad_enabled():
        return fn(*args)
    owner = function if isinstance(function, Module) else getattr(function, "__self__", None)
    if isinstance(owner, Module):  # (a module or its method: its parameters, no probe run)
        params = [p for p in owner.parameters() if p.requires_grad]
    else:
        state = get_rng_state() if preserve_rng_state else None
        with enable_grad():
            probe = fn(*[a.detach().requires_grad_(a.requires_grad) if isinstance(a, Tensor) else a for a in args])
        params = _leaves(probe if isinstance(probe, tuple) else (probe,))
        del probe
        if state is not None:
            set_rng_state(state)  # (the real forward draws what the probe drew)
    ids = {id(a) for a in args}
    params = [p for p in params if id(p) not in ids]
    info = {}
    outs = _Checkpoint.apply(fn, len(args), preserve_rng_state, params, info, *args, *params)
    return outs[0] if info["single"] else outs


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """A Sequential (or list of modules) run in ``segments`` checkpointed chunks;
    the last chunk runs normally (its activations are needed at once anyway)."""
    fns = list(functions.children()) if hasattr(functions, "children") else list(functions)
    if not 1 <= int(segments) <= max(len(fns), 1):
        raise ValueError(f"checkpoint_sequential: segments must lie in [1, {len(fns)}], got {segments}")
    size = -(-len(fns) // int(segments))
    x = input
    for start in range(0, len(fns), size):
        chunk = fns[start:start + size]

        def run(v, chunk=chunk):
            for f in chunk:
                v = f(v)
            return v
        x = run(x) if start + size >= len(fns) else checkpoint(run, x, **kwargs)
    return x


__all__ = ["checkpoint", "checkpoint_sequential"]
