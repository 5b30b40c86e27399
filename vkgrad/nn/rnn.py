"""PyTorch's recurrent layers: RNN, LSTM, GRU and their cells (RNNCell, LSTMCell,
GRUCell) -- the same arguments, parameters (names, shapes, order, initialisation),
gate order and arithmetic, so state dicts carry over both ways.

A layer projects the whole sequence's inputs in one product (``linear`` over
[L, N, in], with ``b_ih + b_hh`` where the arithmetic allows), then runs each
direction's recurrence as one op (``ops.recurrence``: per time step a product
with ``weight_hh`` and one fused cell; its backward computes the weights'
gradients in one product over all steps)."""
from __future__ import annotations

import math
import warnings

import numpy as np

from .. import ops
from ..ops._core import check_tensor
from ..random import rng
from ..tensor import Parameter, Tensor, zeros
from .module import Module

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _input_projection(mode, x, w_ih, b_ih, b_hh):
    """x @ w_ih.T plus the biases that add to it unchanged: both of them but for a
    GRU, whose b_hh sits inside the reset gate's product (ops.recurrence)."""
    if b_ih is not None and mode != "GRU":
        b_ih = b_ih + b_hh
    return ops.linear(x, w_ih, b_ih)


def _params(owner, suffix, gates, input_size, hidden_size, state_size, bias, proj_size, device, dtype):
    """weight_ih, weight_hh, bias_ih, bias_hh (and weight_hr) named with ``suffix``,
    uniform in +-1/sqrt(hidden_size) as PyTorch's."""
    bound, r = 1.0 / math.sqrt(hidden_size), rng()

    def param(*shape):
        return Parameter(r.uniform(-bound, bound, shape), device=device, dtype=dtype)
    setattr(owner, "weight_ih" + suffix, param(gates * hidden_size, input_size))
    setattr(owner, "weight_hh" + suffix, param(gates * hidden_size, state_size))
    if bias:
        setattr(owner, "bias_ih" + suffix, param(gates * hidden_size))
        setattr(owner, "bias_hh" + suffix, param(gates * hidden_size))
    if proj_size:
        setattr(owner, "weight_hr" + suffix, param(proj_size, hidden_size))


def _sizes(name, input_size, hidden_size):
    for what, n in (("input_size", input_size), ("hidden_size", hidden_size)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"{name}: {what} must be a positive integer, got {n!r}")


def _mode(name, nonlinearity):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"{name}: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return "RNN_" + nonlinearity.upper()


def _state(name, what, t, shape, like):
    """A given initial state checked against the shape it must have."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: {what} must be a vkgrad Tensor, got {type(t).__name__}")
    if t.shape != tuple(shape):
        raise ValueError(f"{name}: {what} has shape {list(t.shape)}, expected {list(shape)} for input of shape "
                         f"{list(like.shape)}")
    return t


class PackedSequence:
    """PyTorch's PackedSequence, held padded: ``padded`` time-major [T, B, *] (zeros
    past each sequence's end) and ``lengths`` (host ints, in the batch's own order:
    nothing is sorted).  The recurrent layers run it with each row's state carried
    past its length (ops.recurrence's lengths); ``data`` and ``batch_sizes`` give
    PyTorch's packed layout (rows by time step, longest sequences first)."""

    def __init__(self, padded, lengths):
        self.padded, self.lengths = padded, np.asarray(lengths, dtype=np.int64)

    @property
    def sorted_indices(self):
        return np.argsort(-self.lengths, kind="stable")

    @property
    def unsorted_indices(self):
        return np.argsort(self.sorted_indices, kind="stable")

    @property
    def batch_sizes(self):
        return np.array([(self.lengths > t).sum() for t in range(int(self.lengths.max()))], dtype=np.int64)

    @property
    def data(self):
        T, B = self.padded.shape[:2]
        order = self.sorted_indices
        rows = [t * B + int(b) for t in range(T) for b in order if self.lengths[b] > t]
        flat = ops.reshape(self.padded, (T * B,) + tuple(self.padded.shape[2:]))
        return ops.index_select(flat, 0, np.array(rows))

    def __repr__(self):
        return f"PackedSequence(padded={list(self.padded.shape)}, lengths={self.lengths.tolist()})"


def _zero_past(x, lengths):
    """x [T, B, *] with zeros past each row's length."""
    T, B = x.shape[:2]
    keep = (np.arange(T)[:, None] < lengths[None, :]).reshape((T, B) + (1,) * (x.ndim - 2))
    return ops.masked_fill(x, ~np.broadcast_to(keep, x.shape), 0.0)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """PyTorch's pack_padded_sequence: ``input`` [T, B, *] ([B, T, *] with
    batch_first) whose row b is valid for its first lengths[b] steps; with
    ``enforce_sorted`` the lengths must decrease (as PyTorch requires; here any order
    works: pass enforce_sorted=False)."""
    check_tensor("pack_padded_sequence", input)
    lens = np.asarray(lengths.numpy() if isinstance(lengths, Tensor) else lengths)
    x = ops.transpose(input, (1, 0) + tuple(range(2, input.ndim))) if batch_first else input
    if input.ndim < 2 or lens.shape != (x.shape[1],) or lens.dtype.kind not in "iu" or lens.min() < 1 \
            or lens.max() > x.shape[0]:
        raise ValueError(f"pack_padded_sequence: lengths must be {x.shape[1] if input.ndim >= 2 else '?'} integers "
                         f"in [1, {x.shape[0] if input.ndim >= 2 else '?'}] for input {list(input.shape)}, got "
                         f"{lens.tolist()}")
    if enforce_sorted and np.any(np.diff(lens) > 0):
        raise ValueError(f"pack_padded_sequence: lengths {lens.tolist()} must be sorted in decreasing order when "
                         "enforce_sorted is True (pass enforce_sorted=False)")
    x = x if x.shape[0] == lens.max() else x[:int(lens.max())]
    return PackedSequence(_zero_past(x, lens), lens)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """PyTorch's pad_packed_sequence: (the padded tensor [T, B, *] -- [B, T, *] with
    batch_first --, the lengths as a NumPy int64 array); ``total_length`` pads T up."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence, got {type(sequence).__name__}")
    x, lens = sequence.padded, sequence.lengths
    if padding_value:
        T, B = x.shape[:2]
        pad = (np.arange(T)[:, None] >= lens[None, :]).reshape((T, B) + (1,) * (x.ndim - 2))
        x = ops.masked_fill(x, np.broadcast_to(pad, x.shape), float(padding_value))
    if total_length is not None:
        if total_length < x.shape[0]:
            raise ValueError(f"pad_packed_sequence: total_length {total_length} is less than the longest "
                             f"sequence, {x.shape[0]}")
        x = ops.pad(x, (0, 0) * (x.ndim - 1) + (0, int(total_length) - x.shape[0]), value=float(padding_value))
    if batch_first:
        x = ops.transpose(x, (1, 0) + tuple(range(2, x.ndim)))
    return x, lens.copy()


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """PyTorch's unpad_sequence: the list of each row's first lengths[i] steps of a
    padded [T, B, *] tensor ([B, T, *] with batch_first)."""
    check_tensor("unpad_sequence", padded_sequences)
    x = padded_sequences if batch_first else ops.transpose(padded_sequences, (1, 0) + tuple(
        range(2, padded_sequences.ndim)))
    lens = np.asarray(lengths.numpy() if isinstance(lengths, Tensor) else lengths)
    if lens.shape != (x.shape[0],) or lens.min() < 0 or lens.max() > x.shape[1]:
        raise ValueError(f"unpad_sequence: lengths must be {x.shape[0]} integers in [0, {x.shape[1]}], got "
                         f"{lens.tolist()}")
    return [x[b, :int(n)] for b, n in enumerate(lens)]


def unpack_sequence(packed_sequences):
    """PyTorch's unpack_sequence: a PackedSequence's sequences as a list of [L_i, *]."""
    if not isinstance(packed_sequences, PackedSequence):
        raise TypeError(f"unpack_sequence: expected a PackedSequence, got {type(packed_sequences).__name__}")
    return unpad_sequence(packed_sequences.padded, packed_sequences.lengths)


def pack_sequence(sequences, enforce_sorted=True):
    """PyTorch's pack_sequence: tensors [L_i, *] packed (pad_sequence, then
    pack_padded_sequence)."""
    from .utils import pad_sequence
    return pack_padded_sequence(pad_sequence(sequences), [int(t.shape[0]) for t in sequences],
                                enforce_sorted=enforce_sorted)


class _RNNBase(Module):
    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        _sizes(name, input_size, hidden_size)
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"{name}: num_layers must be a positive integer, got {num_layers!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout={dropout} and num_layers=1: dropout only acts between layers, "
                          "so it does nothing here", stacklevel=3)
        if isinstance(proj_size, bool) or not isinstance(proj_size, int) or not 0 <= proj_size < hidden_size:
            raise ValueError(f"{name}: proj_size must be an integer in [0, hidden_size = {hidden_size}), "
                             f"got {proj_size!r}")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bool(bidirectional), proj_size
        D, out = 2 if bidirectional else 1, proj_size or hidden_size
        for layer in range(num_layers):
            for d in range(D):
                _params(self, f"_l{layer}" + ("_reverse" if d else ""), _GATES[mode],
                        input_size if layer == 0 else out * D, hidden_size, out, bias, proj_size, device, dtype)

    def flatten_parameters(self):
        """PyTorch's (a cuDNN weight layout): the weights here are separate tensors
        already, so there is nothing to do."""

    def _weights(self, suffix):
        return [getattr(self, n + suffix, None) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh",
                                                          "weight_hr")]

    def forward(self, input, hx=None):
        """input [L, N, input_size] ([N, L, input_size] with ``batch_first``),
        unbatched [L, input_size], or a PackedSequence (then the output is one:
        each row's state carried past its length, its h_n its last step's); hx: the initial hidden state [layers * D, N, H_out]
        (unbatched [layers * D, H_out]; an LSTM's a pair (h_0, c_0), c_0's last axis
        hidden_size), zeros when None.  Returns (output [L, N, D * H_out] --
        batch_first: [N, L, ...] --, h_n) or for an LSTM (output, (h_n, c_n)); D is 2
        when bidirectional, H_out proj_size or else hidden_size."""
        name, lstm = type(self).__name__, self.mode == "LSTM"
        packed = isinstance(input, PackedSequence)
        lengths = input.lengths if packed else None
        x = check_tensor(name, input.padded if packed else input)
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size or packed and x.ndim != 3:
            raise ValueError(f"{name}: expected input [L, N, {self.input_size}] "
                             f"({'[N, L, ' + str(self.input_size) + '] with batch_first, ' if self.batch_first else ''}"
                             f"or unbatched [L, {self.input_size}]), got {list(x.shape)}")
        batched = x.ndim == 3
        if not batched:
            x = ops.reshape(x, (x.shape[0], 1, x.shape[1]))
        tax = 1 if self.batch_first and batched and not packed else 0  # the time axis (packed: time-major)
        L, N = x.shape[tax], x.shape[1 - tax]
        if L == 0:
            raise ValueError(f"{name}: the input sequence is empty (shape {list(x.shape)})")
        D, out = 2 if self.bidirectional else 1, self.proj_size or self.hidden_size
        n_states = self.num_layers * D
        if lstm and hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError(f"{name}: hx must be a pair (h_0, c_0), got {type(hx).__name__}")
        h0, c0 = (hx if lstm else (hx, None)) if hx is not None else (None, None)
        states = []
        for what, t, width in (("h_0", h0, out), ("c_0", c0, self.hidden_size)):
            if what == "c_0" and not lstm:
                states.append([None] * n_states)
            elif t is None:
                z = zeros((N, width), dtype=x.dtype, device=x.device)
                states.append([z] * n_states)
            else:
                _state(name, what, t, (n_states, N, width) if batched else (n_states, width), x)
                states.append(list(ops.unbind(t if batched else ops.reshape(t, (n_states, 1, width)), 0)))
        if tax == 1:  # time-major inside (each step's rows contiguous), back at the end
            x = ops.transpose(x, (1, 0, 2))
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                w_ih, w_hh, b_ih, b_hh, w_hr = self._weights(f"_l{layer}" + ("_reverse" if d else ""))
                y, h, c = ops.recurrence(self.mode, _input_projection(self.mode, x, w_ih, b_ih, b_hh),
                                           states[0][layer * D + d], states[1][layer * D + d], w_hh,
                                           b_hh if self.mode == "GRU" else None, w_hr, reverse=bool(d),
                                           lengths=lengths)
                outs.append(y)
                h_n.append(h)
                c_n.append(c)
            x = outs[0] if D == 1 else ops.cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = ops.dropout(x, self.dropout)
        if tax == 1:
            x = ops.transpose(x, (1, 0, 2))
        h_n = ops.stack(h_n, 0)
        c_n = ops.stack(c_n, 0) if lstm else None
        if not batched:
            x = ops.reshape(x, (L, D * out))
            h_n = ops.reshape(h_n, (n_states, out))
            c_n = ops.reshape(c_n, (n_states, self.hidden_size)) if lstm else None
        if packed:
            x = PackedSequence(x, lengths)
        return (x, (h_n, c_n)) if lstm else (x, h_n)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        for k, default in (("bias", True), ("batch_first", False), ("dropout", 0.0), ("bidirectional", False),
                           ("proj_size", 0)):
            if getattr(self, k) != default:
                s += f", {k}={getattr(self, k)}"
        return s


class RNN(_RNNBase):
    """PyTorch's Elman RNN: ``h_t = act(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh)``,
    act tanh or relu (``nonlinearity``); ``num_layers`` stacked (``dropout`` on each
    layer's output but the last, in training), ``bidirectional``, ``batch_first``.
    Parameters ``weight_ih_l{k}`` [H, in], ``weight_hh_l{k}`` [H, H], ``bias_ih_l{k}``,
    ``bias_hh_l{k}`` (``..._reverse`` for the backward direction).  forward(input,
    hx=None) -> (output, h_n): see _RNNBase.forward."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__(_mode("RNN", nonlinearity), input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device=device, dtype=dtype)


class LSTM(_RNNBase):
    """PyTorch's LSTM: gates i, f, g, o from ``x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T +
    b_hh`` (sigmoid, sigmoid, tanh, sigmoid), ``c_t = f * c_{t-1} + i * g``, ``h_t = o *
    tanh(c_t)`` (``proj_size`` > 0: ``h_t`` projected by ``weight_hr_l{k}`` [proj_size,
    H]).  Parameters ``weight_ih_l{k}`` [4H, in], ``weight_hh_l{k}`` [4H, H_out], biases
    [4H]; layers, dropout, bidirectional and batch_first as RNN's.  forward(input,
    hx=None) with hx = (h_0, c_0) -> (output, (h_n, c_n))."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)


class GRU(_RNNBase):
    """PyTorch's GRU: ``r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)``, ``z`` likewise,
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``;
    parameters ``weight_ih_l{k}`` [3H, in] (r, z, n stacked), ``weight_hh_l{k}`` [3H, H],
    biases [3H]; layers, dropout, bidirectional and batch_first as RNN's.
    forward(input, hx=None) -> (output, h_n)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)


class _CellBase(Module):
    def __init__(self, mode, input_size, hidden_size, bias, device, dtype):
        super().__init__()
        _sizes(type(self).__name__, input_size, hidden_size)
        self.mode, self.input_size, self.hidden_size, self.bias = mode, input_size, hidden_size, bias
        _params(self, "", _GATES[mode], input_size, hidden_size, hidden_size, bias, 0, device, dtype)

    def forward(self, input, hx=None):
        """input [N, input_size] or unbatched [input_size]; hx [N, hidden_size] (an
        LSTMCell's a pair (h, c)), zeros when None.  Returns h' (LSTMCell: (h', c'))."""
        name, lstm = type(self).__name__, self.mode == "LSTM"
        x = check_tensor(name, input)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input [N, {self.input_size}] or [{self.input_size}], "
                             f"got {list(x.shape)}")
        batched = x.ndim == 2
        if not batched:
            x = ops.reshape(x, (1, self.input_size))
        N, H = x.shape[0], self.hidden_size
        if lstm and hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError(f"{name}: hx must be a pair (h, c), got {type(hx).__name__}")
        given = (hx if lstm else (hx, None)) if hx is not None else (None, None)
        state = []
        for what, t in zip(("h", "c"), given):
            if t is None:
                state.append(zeros((N, H), dtype=x.dtype, device=x.device) if what == "h" or lstm else None)
            else:
                _state(name, what, t, (N, H) if batched else (H,), input)
                state.append(t if batched else ops.reshape(t, (1, H)))
        b_ih, b_hh = getattr(self, "bias_ih", None), getattr(self, "bias_hh", None)
        xg = ops.reshape(_input_projection(self.mode, x, self.weight_ih, b_ih, b_hh), (1, N, -1))
        _, h, c = ops.recurrence(self.mode, xg, state[0], state[1], self.weight_hh,
                                 b_hh if self.mode == "GRU" else None)
        if not batched:
            h, c = ops.reshape(h, (H,)), (ops.reshape(c, (H,)) if lstm else None)
        return (h, c) if lstm else h

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        return s + (", nonlinearity='relu'" if self.mode == "RNN_RELU" else "")


class RNNCell(_CellBase):
    """One step of RNN: ``h' = act(x @ weight_ih.T + bias_ih + h @ weight_hh.T +
    bias_hh)``; weight_ih [H, in], weight_hh [H, H]."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__(_mode("RNNCell", nonlinearity), input_size, hidden_size, bias, device, dtype)


class LSTMCell(_CellBase):
    """One step of LSTM: forward(input, (h, c)) -> (h', c'); weight_ih [4H, in],
    weight_hh [4H, H], gates i, f, g, o."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, bias, device, dtype)


class GRUCell(_CellBase):
    """One step of GRU: forward(input, h) -> h'; weight_ih [3H, in], weight_hh [3H, H],
    gates r, z, n."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, bias, device, dtype)
