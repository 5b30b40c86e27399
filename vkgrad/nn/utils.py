"""``vkgrad.nn.utils``: PyTorch's gradient clipping, parameters as one vector, and
``rnn.pad_sequence``, under their module paths."""
from __future__ import annotations

import types

from .. import ops
from ..optim.clip import clip_grad_norm
from ..optim.optimizer import _param_list, grad_for
from ..tensor import Tensor


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, grads=None):
    """PyTorch's ``clip_grad_norm_``: ``vkgrad.clip_grad_norm`` (the L2 norm only)."""
    if float(norm_type) != 2.0:
        raise ValueError(f"clip_grad_norm_: norm_type {norm_type!r} is not supported (2.0: the L2 norm)")
    return clip_grad_norm(parameters, max_norm, grads=grads)


def clip_grad_value_(parameters, clip_value, grads=None):
    """PyTorch's ``clip_grad_value_``: every gradient clamped into [-clip_value,
    clip_value] (each gets a new buffer, as clip_grad_norm, so shared gradients are
    clamped once)."""
    if clip_value is None or clip_value <= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be > 0, got {clip_value}")
    for k, p in _param_list(parameters, "clip_grad_value_"):
        g = grad_for(grads, k, p, "clip_grad_value_")
        if g is not None:
            g.data = g.backend.unary("clamp", g.data, -float(clip_value), float(clip_value))


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


def pad_sequence(sequences, batch_first=False, padding_value=0.0):
    """Tensors [L_i, *] padded with ``padding_value`` to the longest and stacked:
    [L, B, *] ([B, L, *] with ``batch_first``), as PyTorch's (differentiable)."""
    seqs = list(sequences)
    if not seqs or not all(isinstance(t, Tensor) and t.ndim >= 1 for t in seqs):
        raise ValueError("pad_sequence: expected a non-empty list of tensors of at least one dimension")
    L = max(t.shape[0] for t in seqs)
    padded = [ops.pad(t, (0, 0) * (t.ndim - 1) + (0, L - t.shape[0]), value=float(padding_value))
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
