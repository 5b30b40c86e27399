"""``vkgrad.nn.utils``: PyTorch's gradient clipping, parameters as one vector, and
``rnn.pad_sequence``, under their module paths."""
from __future__ import annotations

import types

import numpy as np

from .. import ops
from ..optim.clip import clip_grad_norm
from ..optim.optimizer import _param_list, grad_for
from ..tensor import Tensor, tensor


def _grads_of(parameters, grads, op):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    items = [grad_for(grads, k, p, op) for k, p in _param_list(parameters, op)]
    return [g for g in items if g is not None]


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The ``norm_type``-norm of the tensors taken together (inf: the largest
    |element|) as a 0-d tensor on their device; ``error_if_nonfinite``: raise for a
    NaN or inf norm (a host read)."""
    ts = [tensors] if isinstance(tensors, Tensor) else [t for t in tensors if t is not None]
    if not ts:
        return tensor(0.0)
    p = float(norm_type)
    norms = [ops.norm(t if t.dtype != "f16" else t.to(dtype="f32"), p) for t in ts]
    total = ops.norm(ops.stack(norms, 0), p)
    if error_if_nonfinite and not np.isfinite(total.item()):
        raise RuntimeError(f"get_total_norm: the total norm of order {norm_type} is {total.item()} (not finite)")
    return total


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None, grads=None):
    """Scale the gradients by min(1, max_norm / (total_norm + 1e-6)) (PyTorch's
    second half of clip_grad_norm_), each into a new buffer."""
    coef = ops.clamp(float(max_norm) / (total_norm + 1e-6), None, 1.0)
    for g in _grads_of(parameters, grads, "clip_grads_with_norm_"):
        c = coef if coef.dtype == g.dtype else coef.to(dtype=g.dtype)
        g.handle = (g.detach() * c).handle


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None, grads=None):
    """PyTorch's ``clip_grad_norm_``: the gradients scaled so that their total
    ``norm_type``-norm is at most ``max_norm``; returns the norm before clipping (a
    0-d tensor).  The L2 norm takes ``vkgrad.clip_grad_norm``'s fused path (no host
    read, capturable); other orders (inf, 1, p) are composed."""
    if float(norm_type) == 2.0 and not error_if_nonfinite:
        return clip_grad_norm(parameters, max_norm, grads=grads)
    if max_norm is None or max_norm <= 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be > 0, got {max_norm}")
    gs = _grads_of(parameters, grads, "clip_grad_norm_")
    if not gs:
        raise ValueError("clip_grad_norm_: none of the parameters has a gradient")
    total = get_total_norm(gs, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total, grads=grads)
    return total


def clip_grad_value_(parameters, clip_value, grads=None):
    """PyTorch's ``clip_grad_value_``: every gradient clamped into [-clip_value,
    clip_value] (each gets a new buffer, as clip_grad_norm, so shared gradients are
    clamped once)."""
    if clip_value is None or clip_value <= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be > 0, got {clip_value}")
    for k, p in _param_list(parameters, "clip_grad_value_"):
        g = grad_for(grads, k, p, "clip_grad_value_")
        if g is not None:
            g.handle = g.backend.unary("clamp", g.handle, -float(clip_value), float(clip_value))


def parameters_to_vector(parameters):
    """The parameters flattened and joined into one 1-d tensor (differentiable)."""
    ps = [p for _, p in _param_list(parameters, "parameters_to_vector")]
    return ops.cat([ops.reshape(p, (p.size,)) for p in ps], 0)


def vector_to_parameters(vec, parameters):
    """The parameters' values from consecutive slices of the 1-d ``vec`` (in place,
    as assign_: optimizers and captured steps keep their buffers)."""
    ps = [p for _, p in _param_list(parameters, "vector_to_parameters")]
    if not isinstance(vec, Tensor) or vec.ndim != 1 or vec.size != sum(p.size for p in ps):
        raise ValueError(f"vector_to_parameters: expected a 1-d tensor of {sum(p.size for p in ps)} values, got "
                         f"{type(vec).__name__}{'' if not isinstance(vec, Tensor) else ' ' + str(list(vec.shape))}")
    host, o = vec.numpy(), 0
    for p in ps:
        p.assign_(host[o:o + p.size].reshape(p.shape))
        o += p.size


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Tensors [L_i, *] padded with ``padding_value`` to the longest and stacked:
    [L, B, *] ([B, L, *] with ``batch_first``), as PyTorch's (differentiable);
    ``padding_side`` "left" pads before each sequence (decoder-only prompts)."""
    seqs = list(sequences)
    if not seqs or not all(isinstance(t, Tensor) and t.ndim >= 1 for t in seqs):
        raise ValueError("pad_sequence: expected a non-empty list of tensors of at least one dimension")
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got {padding_side!r}")
    L = max(t.shape[0] for t in seqs)
    side = (lambda n: (0, n)) if padding_side == "right" else (lambda n: (n, 0))
    padded = [ops.pad(t, (0, 0) * (t.ndim - 1) + side(L - t.shape[0]), value=float(padding_value))
              if t.shape[0] < L else t for t in seqs]
    return ops.stack(padded, 0 if batch_first else 1)


def _rnn_namespace():
    from .rnn import (PackedSequence, pack_padded_sequence, pack_sequence, pad_packed_sequence, unpack_sequence,
                      unpad_sequence)
    return types.SimpleNamespace(pad_sequence=pad_sequence, PackedSequence=PackedSequence,
                                 pack_padded_sequence=pack_padded_sequence, pad_packed_sequence=pad_packed_sequence,
                                 pack_sequence=pack_sequence, unpad_sequence=unpad_sequence,
                                 unpack_sequence=unpack_sequence)


rnn = _rnn_namespace()  # (PyTorch's nn.utils.rnn path)


def _norm_except(v, dim):
    """||v|| over every axis but ``dim`` (kept as size-1 axes; dim None: over all)."""
    if dim is None:
        return ops.sqrt(ops.sum(v * v))
    d = dim % v.ndim
    return ops.sqrt(ops.sum(v * v, tuple(i for i in range(v.ndim) if i != d), keepdims=True))


def _reparametrize(module, name, kind, compute, now):
    """Replace parameter ``name`` by what ``compute(module)`` gives before every
    forward, via a forward pre-hook kept as ``module._<kind>_<name>``; until the
    first, ``now``."""
    def hook(mod, args):
        object.__setattr__(mod, name, compute(mod))
    object.__setattr__(module, name, now)
    object.__setattr__(module, f"_{kind}_{name}", module.register_forward_pre_hook(hook))
    return module


def _take_parameter(module, name, op):
    if hasattr(module, f"_weight_norm_{name}") or hasattr(module, f"_spectral_norm_{name}"):
        raise RuntimeError(f"{op}: {name!r} of {type(module).__name__} is already reparametrized")
    w = module._params.get(name) if hasattr(module, "_params") else None
    if w is None:
        raise ValueError(f"{op}: {type(module).__name__} has no parameter {name!r}")
    del module._params[name]
    return w


def weight_norm(module, name="weight", dim=0):
    """PyTorch's (classic) weight normalisation: parameter ``name`` becomes
    ``name_g`` (its norm over every axis but ``dim``; dim None: one norm) and
    ``name_v`` (its direction); the weight, ``name_v * name_g / ||name_v||``, is
    recomputed before each forward.  Returns the module; ``remove_weight_norm``
    undoes it."""
    from .module import Parameter
    w = _take_parameter(module, name, "weight_norm")
    g = Parameter(_norm_except(w, dim).numpy(), device=w.device, dtype=w.dtype)
    v = Parameter(w.numpy(), device=w.device, dtype=w.dtype)
    setattr(module, name + "_g", g)
    setattr(module, name + "_v", v)
    object.__setattr__(module, f"_weight_norm_dim_{name}", dim)
    def compute(m):
        v = getattr(m, name + "_v")
        return v * (getattr(m, name + "_g") / _norm_except(v, getattr(m, f"_weight_norm_dim_{name}")))
    return _reparametrize(module, name, "weight_norm", compute, compute(module))


def remove_weight_norm(module, name="weight"):
    """Fold ``weight_norm``'s two parameters back into one (its current value)."""
    from .module import Parameter
    handle = getattr(module, f"_weight_norm_{name}", None)
    if handle is None:
        raise ValueError(f"remove_weight_norm: weight_norm of {name!r} not found in {type(module).__name__}")
    handle.remove()
    w = getattr(module, name)
    for suffix in ("_g", "_v"):
        delattr(module, name + suffix)
    for attr in (f"_weight_norm_{name}", f"_weight_norm_dim_{name}"):
        object.__delattr__(module, attr)
    object.__delattr__(module, name)
    setattr(module, name, Parameter(w.numpy(), device=w.device, dtype=w.dtype))
    return module


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """PyTorch's (classic) spectral normalisation: the weight divided by its largest
    singular value, estimated by ``n_power_iterations`` of power iteration per
    training forward (buffers ``name_u``, ``name_v`` carry the vectors; eval
    forwards reuse them); the parameter becomes ``name_orig``.  ``dim`` (default 0;
    1 for transposed convolutions) is the output axis."""
    from .layers import ConvTranspose2d
    from .module import Parameter
    from ..random import rng
    if n_power_iterations < 1:
        raise ValueError(f"spectral_norm: n_power_iterations must be >= 1, got {n_power_iterations}")
    w = _take_parameter(module, name, "spectral_norm")
    if dim is None:
        dim = 1 if isinstance(module, ConvTranspose2d) else 0
    setattr(module, name + "_orig", Parameter(w.numpy(), device=w.device, dtype=w.dtype))

    def matrix(t):
        d = dim % t.ndim
        if d:
            t = ops.transpose(t, (d,) + tuple(i for i in range(t.ndim) if i != d))
        return t.reshape(t.shape[0], -1)
    h, wd = matrix(w).shape
    for suffix, n in (("_u", h), ("_v", wd)):
        module.register_buffer(name + suffix, ops.normalize(tensor(rng().standard_normal(n), device=w.device,
                                                                   dtype=w.dtype), 2.0, 0, eps))

    def compute(m):
        W = getattr(m, name + "_orig")
        Wm = matrix(W)
        u, v = getattr(m, name + "_u"), getattr(m, name + "_v")
        if m.training:
            from ..autograd import no_grad
            with no_grad():
                Wd = Wm.detach()
                for _ in range(n_power_iterations):
                    v = ops.normalize(ops.matmul(u, Wd), 2.0, 0, eps)
                    u = ops.normalize(ops.matmul(Wd, v), 2.0, 0, eps)
                for buf, new in ((getattr(m, name + "_u"), u), (getattr(m, name + "_v"), v)):
                    buf.backend.copy_(buf.handle, new.handle)  # (in place: a captured step keeps the buffers)
        sigma = ops.sum(u * ops.matmul(Wm, v))
        return W / sigma
    return _reparametrize(module, name, "spectral_norm", compute, w)  # (the raw weight until a forward)


from . import parametrizations, parametrize, prune  # noqa: E402  (PyTorch's nn.utils submodules)


def _stateless_namespace():
    from ..func import functional_call
    return types.SimpleNamespace(functional_call=functional_call)


stateless = _stateless_namespace()  # (PyTorch's nn.utils.stateless path; vkgrad.func.functional_call)


# -- fusion of a layer with the batch norm after it (PyTorch's nn.utils.fusion) ------------------------
def _host(t):
    return None if t is None else t.detach().numpy().astype(np.float64)


def _fused(w, b, rm, rv, eps, bw, bb, out_axis):
    """(w scaled per output channel by bw / sqrt(rv + eps), the bias folded in), on the host in float64."""
    scale = (np.ones_like(rm) if bw is None else bw) / np.sqrt(rv + eps)
    shape = [1] * w.ndim
    shape[out_axis] = -1
    fw = w * scale.reshape(shape)
    fb = ((np.zeros_like(rm) if b is None else b) - rm) * scale + (np.zeros_like(rm) if bb is None else bb)
    return fw, fb


def _as_parameters(like_w, like_b, fw, fb):
    from ..tensor import Parameter
    dt, dev = like_w.dtype, like_w.device
    w = Parameter(fw, dtype=dt, device=dev).requires_grad_(like_w.requires_grad)
    b = Parameter(fb, dtype=like_b.dtype if like_b is not None else dt, device=dev)
    return w, b.requires_grad_(like_b.requires_grad if like_b is not None else like_w.requires_grad)


def fuse_conv_bn_weights(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, transpose=False):
    """The (weight, bias) Parameters of a convolution that equals conv followed by an
    eval-mode batch norm (``transpose``: a transposed convolution's weight, its
    output channels on axis 1)."""
    fw, fb = _fused(_host(conv_w), _host(conv_b), _host(bn_rm), _host(bn_rv), float(bn_eps), _host(bn_w),
                    _host(bn_b), 1 if transpose else 0)
    return _as_parameters(conv_w, conv_b, fw, fb)


def fuse_linear_bn_weights(linear_w, linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b):
    """The (weight, bias) Parameters of a Linear that equals linear followed by an
    eval-mode batch norm of its outputs."""
    fw, fb = _fused(_host(linear_w), _host(linear_b), _host(bn_rm), _host(bn_rv), float(bn_eps), _host(bn_w),
                    _host(bn_b), 0)
    return _as_parameters(linear_w, linear_b, fw, fb)


def _fuse_eval(op, layer, bn, fuse):
    import copy
    if layer.training or bn.training:
        raise ValueError(f"{op}: fusion only for eval (call .eval() on both modules)")
    if getattr(bn, "running_mean", None) is None or getattr(bn, "running_var", None) is None:
        raise ValueError(f"{op}: the batch norm keeps no running statistics")
    fused = copy.deepcopy(layer)
    fused.weight, fused.bias = fuse(fused.weight, fused.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight,
                                    bn.bias)
    return fused


def fuse_conv_bn_eval(conv, bn, transpose=False):
    """A new convolution equal to ``bn(conv(x))`` in eval mode (inference folding)."""
    return _fuse_eval("fuse_conv_bn_eval", conv, bn, lambda *a: fuse_conv_bn_weights(*a, transpose=transpose))


def fuse_linear_bn_eval(linear, bn):
    """A new Linear equal to ``bn(linear(x))`` in eval mode (bn over the Linear's
    outputs: as many features, or one)."""
    if linear.out_features != bn.num_features and bn.num_features != 1:
        raise ValueError(f"fuse_linear_bn_eval: linear.out_features ({linear.out_features}) must equal "
                         f"bn.num_features ({bn.num_features}) or bn have one feature")
    return _fuse_eval("fuse_linear_bn_eval", linear, bn, fuse_linear_bn_weights)
