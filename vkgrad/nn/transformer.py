"""PyTorch's transformer layers: TransformerEncoderLayer, TransformerEncoder,
TransformerDecoderLayer, TransformerDecoder, Transformer -- the same arguments, parameters
(names, shapes, initialisation) and arithmetic, composed of MultiheadAttention,
Linear, LayerNorm and Dropout, so state dicts carry over both ways."""
from __future__ import annotations

import copy

import numpy as np

from .. import ops
from ..tensor import tensor
from .layers import Dropout, LayerNorm, Linear, ModuleList, MultiheadAttention
from .module import Module

_ACTIVATIONS = {"relu": ops.relu, "gelu": ops.gelu}


def _activation(owner, activation):
    """"relu", "gelu" or a callable (a function or a module) taking a tensor."""
    if isinstance(activation, str):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"{owner}: activation should be relu/gelu or a callable, not {activation!r}")
        return _ACTIVATIONS[activation]
    if not callable(activation):
        raise TypeError(f"{owner}: activation should be relu/gelu or a callable, got {type(activation).__name__}")
    return activation


class _Layer(Module):
    """What the encoder and decoder layers share: the feed-forward block, the norms
    and dropouts, the residual order (``norm_first``: pre-norm)."""

    def _common(self, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first,
                norm_first, bias, device, dtype, cross_attention):
        name = type(self).__name__
        if d_model < 1 or dim_feedforward < 1:
            raise ValueError(f"{name}: d_model and dim_feedforward must be positive, got {d_model} and "
                             f"{dim_feedforward}")
        kw = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **kw)
        if cross_attention:  # (the decoder's attention to the encoder's output)
            self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                     batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        n_norms = 3 if cross_attention else 2  # a residual block each
        for i in range(1, n_norms + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        for i in range(1, n_norms + 1):
            setattr(self, f"dropout{i}", Dropout(dropout))
        self.activation = _activation(name, activation)
        self.batch_first = batch_first

    def _sa_block(self, attn, drop, x, mem, mask, key_padding_mask, is_causal):
        x = attn(x, mem, mem, attn_mask=mask, key_padding_mask=key_padding_mask, need_weights=False,
                 is_causal=is_causal)[0]
        return drop(x)

    def _ff_block(self, x, drop):
        return drop(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def _run(self, x, blocks):
        """Each block (norm, fn) as a residual: x + fn(norm(x)) (norm_first) or
        norm(x + fn(x))."""
        for norm, fn in blocks:
            x = x + fn(norm(x)) if self.norm_first else norm(x + fn(x))
        return x


class TransformerEncoderLayer(_Layer):
    """PyTorch's: self-attention and a feed-forward block (``linear2(dropout(
    activation(linear1(x))))``), each with a residual connection and a layer norm
    after it (or before it: ``norm_first``).  ``forward(src, src_mask=None,
    src_key_padding_mask=None, is_causal=False)``; src [S, N, E] (``batch_first``:
    [N, S, E]) or unbatched [S, E]; masks as MultiheadAttention's.  ``activation``:
    "relu", "gelu" or a callable."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        self._common(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first,
                     bias, device, dtype, cross_attention=False)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        return self._run(src, [
            (self.norm1, lambda x: self._sa_block(self.self_attn, self.dropout1, x, x, src_mask,
                                                  src_key_padding_mask, is_causal)),
            (self.norm2, lambda x: self._ff_block(x, self.dropout2))])


class TransformerDecoderLayer(_Layer):
    """PyTorch's: self-attention over the target, attention to ``memory`` (the
    encoder's output) and a feed-forward block, each with a residual connection and
    a layer norm (``norm_first``: before).  ``forward(tgt, memory, tgt_mask=None,
    memory_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None,
    tgt_is_causal=False, memory_is_causal=False)``."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        self._common(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first,
                     bias, device, dtype, cross_attention=True)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        return self._run(tgt, [
            (self.norm1, lambda x: self._sa_block(self.self_attn, self.dropout1, x, x, tgt_mask,
                                                  tgt_key_padding_mask, tgt_is_causal)),
            (self.norm2, lambda x: self._sa_block(self.multihead_attn, self.dropout2, x, memory, memory_mask,
                                                  memory_key_padding_mask, memory_is_causal)),
            (self.norm3, lambda x: self._ff_block(x, self.dropout3))])


def _clones(owner, layer, num_layers, kind):
    if not isinstance(layer, kind):
        raise TypeError(f"{owner}: expected a {kind.__name__}, got {type(layer).__name__}")
    if num_layers < 1:
        raise ValueError(f"{owner}: num_layers must be positive, got {num_layers}")
    return ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])  # each its own parameters


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` (each with its own parameters,
    starting from the layer's), then ``norm`` if given -- PyTorch's.
    ``forward(src, mask=None, src_key_padding_mask=None, is_causal=None)``.
    ``enable_nested_tensor`` / ``mask_check`` (PyTorch's fast path switches) are
    accepted: the result does not depend on them."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        self.layers = _clones("TransformerEncoder", encoder_layer, num_layers, TransformerEncoderLayer)
        self.num_layers, self.norm = num_layers, norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        return self.norm(x) if self.norm is not None else x


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer``, then ``norm`` if given --
    PyTorch's.  ``forward(tgt, memory, tgt_mask=None, memory_mask=None,
    tgt_key_padding_mask=None, memory_key_padding_mask=None, tgt_is_causal=None,
    memory_is_causal=False)``."""

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _clones("TransformerDecoder", decoder_layer, num_layers, TransformerDecoderLayer)
        self.num_layers, self.norm = num_layers, norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return self.norm(x) if self.norm is not None else x


class Transformer(Module):
    """PyTorch's encoder-decoder transformer: ``num_encoder_layers`` encoder layers
    and ``num_decoder_layers`` decoder layers (each stack ending in a layer norm),
    every parameter of more than one dimension re-drawn by xavier_uniform_ as
    PyTorch does.  ``forward(src, tgt, src_mask=None, tgt_mask=None,
    memory_mask=None, src_key_padding_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
    memory_is_causal=False)``; ``generate_square_subsequent_mask(sz)``: the causal
    float mask."""

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_feedforward=2048,
                 dropout=0.1, activation="relu", custom_encoder=None, custom_decoder=None, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        common = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first, bias)
        self.encoder = custom_encoder if custom_encoder is not None else TransformerEncoder(
            TransformerEncoderLayer(*common, **kw), num_encoder_layers, LayerNorm(d_model, layer_norm_eps, bias=bias,
                                                                               **kw))
        self.decoder = custom_decoder if custom_decoder is not None else TransformerDecoder(
            TransformerDecoderLayer(*common, **kw), num_decoder_layers, LayerNorm(d_model, layer_norm_eps, bias=bias,
                                                                               **kw))
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        from .init import xavier_uniform_
        for p in self.parameters():
            if p.ndim > 1:
                xavier_uniform_(p)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        nb = 0 if self.batch_first else 1
        if src.ndim == 3 and tgt.ndim == 3 and src.shape[nb] != tgt.shape[nb]:
            raise ValueError(f"Transformer: src {list(src.shape)} and tgt {list(tgt.shape)} have different batch "
                             f"sizes (axis {nb})")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError(f"Transformer: src and tgt must have d_model = {self.d_model} features, got "
                             f"{list(src.shape)} and {list(tgt.shape)}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """[sz, sz]: 0 on and below the diagonal, -inf above (a float tensor)."""
        return tensor(np.where(np.triu(np.ones((sz, sz), bool), 1), -np.inf, 0.0), device=device, dtype=dtype)
