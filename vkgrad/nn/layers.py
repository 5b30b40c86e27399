"""Layers: Linear, Conv2d, pools, Embedding, BatchNorm1d / 2d, LayerNorm, Dropout, activations, Identity, Flatten, Sequential,
ModuleList, and the losses as modules."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import config, ops
from ..ops.conv import _one, _padding, _padding3, _pair, _triple
from ..ops.nn import check_activation
from ..random import rng
from ..tensor import Parameter, Tensor, in_place_if, tensor
from .module import Module


class Linear(Module):
    """``y = act(x @ weight.T + bias)``; weight is [out, in], initialised like
    PyTorch (uniform in +-1/sqrt(in) for weight and bias).

    activation: None, "relu", "sigmoid", "tanh", "gelu", "gelu_tanh" or "softmax"
    (fused into the matmul where the backend can)."""

    def __init__(self, in_features, out_features, bias=True, activation=None, device=None,
                 dtype=None):
        super().__init__()
        check_activation("Linear", activation)
        if in_features < 1 or out_features < 1:
            raise ValueError(f"Linear: sizes must be positive, got in={in_features}, out={out_features}")
        self.in_features, self.out_features, self.activation = in_features, out_features, activation
        bound = 1.0 / math.sqrt(in_features)
        r = rng()
        self.weight = Parameter(r.uniform(-bound, bound, (out_features, in_features)),
                                device=device, dtype=dtype)
        self.bias = Parameter(r.uniform(-bound, bound, (out_features,)), device=device,
                              dtype=dtype) if bias else None

    def forward(self, x):
        return ops.linear(x, self.weight, self.bias, self.activation)

    def extra_repr(self):  # (PyTorch's print, with ggmlR's fused activation when there is one)
        act = f", activation={self.activation!r}" if self.activation else ""
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}{act}"


def _scale_shift(shape, on, device, dtype):
    """A normalisation's learnable scale (ones) and shift (zeros) of ``shape``, or (None, None)."""
    if not on:
        return None, None
    return Parameter(np.ones(shape), device=device, dtype=dtype), Parameter(np.zeros(shape), device=device, dtype=dtype)


_MODULE_STATE = ("_params", "_buffers", "_modules", "training", "_named", "_hooks", "_buffer_names", "_transient")


def _lazy(base, name, attr, channels):
    """PyTorch's Lazy<base>: the constructor takes base's arguments but the first
    (``attr``), which the first forward's input gives (``channels(x)``); the
    parameters and buffers are made then (base's init, on the input's device and
    dtype unless given), so run one batch before handing ``parameters()`` to an
    optimizer (as PyTorch requires).  The arguments are checked at construction."""

    def __init__(self, *args, **kwargs):
        Module.__init__(self)
        try:  # (checks the arguments now; the probe's small tensors are dropped)
            probe = base(1, *args, **kwargs)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{name}: {e} ({attr} comes from the first input)") from None
        for k, v in probe.__dict__.items():
            if k not in _MODULE_STATE:
                object.__setattr__(self, k, None if isinstance(v, Tensor) else v)
        object.__setattr__(self, attr, 0)
        self._lazy_args = (args, kwargs)

    def forward(self, x, *rest, **kw):
        pending = self.__dict__.get("_lazy_args")
        if pending is not None:
            args, kwargs = pending
            kwargs = dict(kwargs, device=kwargs.get("device") or x.device, dtype=kwargs.get("dtype") or x.dtype)
            made = base(channels(self, x), *args, **kwargs)
            object.__delattr__(self, "_lazy_args")
            for k, v in made.__dict__.items():
                if k not in ("training", "_hooks"):
                    object.__setattr__(self, k, v)
            self._named = False  # (the new parameters get their names)
        return base.forward(self, x, *rest, **kw)

    def has_uninitialized_params(self):
        """Whether the first forward is still to come."""
        return "_lazy_args" in self.__dict__

    def extra_repr(self):
        return "uninitialized" if self.has_uninitialized_params() else base.extra_repr(self)

    doc = (f"PyTorch's {name}: a {base.__name__} whose ``{attr}`` is the first input's (see ``_lazy``).")
    return type(name, (base,), {"__init__": __init__, "forward": forward, "extra_repr": extra_repr,
                                "has_uninitialized_params": has_uninitialized_params, "__doc__": doc,
                                "__module__": base.__module__})


LazyLinear = _lazy(Linear, "LazyLinear", "in_features", lambda m, x: x.shape[-1])


def _running_factor(m, x):
    """A batch / instance norm's running-statistics factor for this batch: in
    training, with running statistics, the batch counted in ``num_batches_tracked``
    (PyTorch's; a captured step's replays count too) and ``momentum``, or with
    momentum=None 1 / num_batches_tracked -- a cumulative average, whose factor
    changes every step: not in a captured step, which would replay the first;
    otherwise unused (0 for None)."""
    if not (m.training and m.track_running_stats):
        return m.momentum or 0.0
    m.num_batches_tracked += 1
    be = x.backend
    if be.capturing:
        be.on_replay(lambda: setattr(m, "num_batches_tracked", m.num_batches_tracked + 1))
    if m.momentum is not None:
        return m.momentum
    if be.capturing:
        raise ValueError(f"{type(m).__name__}: momentum=None (a cumulative average, a new factor each step) "
                         "cannot be captured; give a momentum")
    return 1.0 / m.num_batches_tracked


class _Tracked:
    """Running statistics' ``num_batches_tracked`` in the state dict (PyTorch's key)."""

    def _host_states(self):
        return ("num_batches_tracked",) if self.track_running_stats else ()


class BatchNorm1d(_Tracked, Module):
    """Batch norm over the batch axis of [N, C], with exact gradients through the
    batch statistics in training and running statistics in eval.  ``affine=False``:
    no learnable scale and shift (``weight`` and ``bias`` are None).  ``momentum``
    (PyTorch's; None: the cumulative average of the batches' statistics);
    ``num_batches_tracked`` counts the training batches (in the state dict, as
    PyTorch's)."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None,
                 dtype=None):
        super().__init__()
        self.num_features, self.eps, self.momentum, self.affine = num_features, eps, momentum, affine
        self.track_running_stats = bool(track_running_stats)
        self.weight, self.bias = _scale_shift(num_features, affine, device, dtype)
        if self.track_running_stats:  # running statistics in f32 even when the weights are f16
            dt = "f64" if (dtype or config.default_dtype) == "f64" else "f32"
            self.register_buffer("running_mean", tensor(np.zeros(num_features), dtype=dt, device=device))
            self.register_buffer("running_var", tensor(np.ones(num_features), dtype=dt, device=device))
            self.num_batches_tracked = 0
        else:  # (PyTorch's: the batch's statistics in eval too)
            self.running_mean = self.running_var = None

    def _buffer_dtype(self, name, dtype):
        return "f64" if dtype == "f64" else "f32"  # (the statistics stay f32 under f16 weights)

    _input = ((2, 3), "a 2-d or 3-d input [N, C(, L)]")

    def forward(self, x):
        if getattr(x, "ndim", None) not in self._input[0]:
            raise ValueError(f"{type(self).__name__}: expected {self._input[1]}, got "
                             f"{list(getattr(x, 'shape', ()))}")
        # the batch-norm kernel updates the f32 running statistics in place, also
        # for f16 activations
        return ops.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                              self.training or not self.track_running_stats, _running_factor(self, x), self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}" +
                ("" if self.track_running_stats else ", track_running_stats=False"))


class BatchNorm2d(BatchNorm1d):
    """Batch norm per channel of images [N, C, H, W], over the batch and the
    spatial axes (as BatchNorm1d, with the same exact gradient)."""

    _input = ((4,), "a 4-d input [N, C, H, W]")


class BatchNorm3d(BatchNorm1d):
    """Batch norm per channel of volumes [N, C, D, H, W], over the batch and the
    spatial axes (as BatchNorm1d, with the same exact gradient)."""

    _input = ((5,), "a 5-d input [N, C, D, H, W]")


class _Conv(Module):
    """Conv1d / Conv2d / Conv3d: a learnt weight [out_channels, in_channels / groups, *kernel]
    and bias [out_channels], initialised like PyTorch (uniform in +-1/sqrt(fan_in),
    fan_in = in_channels / groups * the kernel's size)."""

    _dims, _fn = 2, None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"{name}: channel counts must be positive, got in={in_channels}, out={out_channels}")
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"{name}: padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular', "
                             f"got {padding_mode!r}")
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1 \
                or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: groups must be a positive int dividing in_channels={in_channels} and "
                             f"out_channels={out_channels}, got {groups!r}")
        self.kernel_size = (_pair(name, "kernel_size", kernel_size, 1) if self._dims == 2 else
                            _triple(name, "kernel_size", kernel_size, 1) if self._dims == 3 else
                            (_one(name, "kernel_size", kernel_size, 1),))
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.stride, self.padding, self.dilation, self.padding_mode = stride, padding, dilation, padding_mode
        bound = 1.0 / math.sqrt(in_channels // groups * math.prod(self.kernel_size))
        r = rng()
        self.weight = Parameter(r.uniform(-bound, bound, (out_channels, in_channels // groups) + self.kernel_size),
                                device=device, dtype=dtype)
        self.bias = Parameter(r.uniform(-bound, bound, (out_channels,)), device=device, dtype=dtype) if bias else None

    def forward(self, x):
        padding = self.padding
        if self.padding_mode != "zeros":  # the input padded first (vkgrad.pad), then no padding: PyTorch's way
            x = ops.pad(x, self._pads(), self.padding_mode)
            padding = 0
        return type(self)._fn(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)

    def _pads(self):
        """(before, after) per spatial axis, last axis first (pad's order): the
        convolution's own padding rule (ops.conv._padding; Conv1d as rows of one)."""
        name, p = type(self).__name__, self.padding
        if self._dims == 3:
            before, after = _padding3(name, self.kernel_size, _triple(name, "stride", self.stride, 1), p,
                                      _triple(name, "dilation", self.dilation, 1))
            return (before[2], after[2], before[1], after[1], before[0], after[0])
        if self._dims == 2:
            args = (self.kernel_size, _pair(name, "stride", self.stride, 1), p,
                    _pair(name, "dilation", self.dilation, 1))
        else:
            args = ((1,) + self.kernel_size, (1, _one(name, "stride", self.stride, 1)),
                    p if isinstance(p, str) else (0, _one(name, "padding", p, 0)),
                    (1, _one(name, "dilation", self.dilation, 1)))
        before, after = _padding(name, *args)
        return (before[1], after[1]) + ((before[0], after[0]) if self._dims == 2 else ())

    def extra_repr(self):  # (PyTorch's: the settings that differ from the defaults, sizes as tuples)
        d = len(self.kernel_size)
        each = lambda v: v if isinstance(v, (str, tuple)) else tuple(v) if isinstance(v, list) else (v,) * d  # noqa: E731
        parts = [f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}",
                 f"stride={each(self.stride)}"]
        parts += [f"padding={each(self.padding)}"] if each(self.padding) not in ((0,) * d, "valid") else []
        parts += [f"dilation={each(self.dilation)}"] if each(self.dilation) != (1,) * d else []
        parts += [f"groups={self.groups}"] if self.groups != 1 else []
        parts += ["bias=False"] if self.bias is None else []
        parts += [f"padding_mode={self.padding_mode}"] if self.padding_mode != "zeros" else []
        return ", ".join(parts)


class Conv2d(_Conv):
    """``vkgrad.conv2d`` with a learnt weight [out_channels, in_channels / groups, kh,
    kw] and bias (see _Conv).  ``padding``: int, pair, 'valid' or 'same';
    ``padding_mode`` 'zeros', 'reflect', 'replicate' or 'circular' (the input padded
    by vkgrad.pad first, as PyTorch); ``groups`` dividing both channel counts
    (groups = in_channels: depthwise)."""

    _dims, _fn = 2, ops.conv2d


class Conv3d(_Conv):
    """``vkgrad.conv3d`` with a learnt weight [out_channels, in_channels / groups, kd,
    kh, kw] and bias (see _Conv), over [N, C, D, H, W]; ``padding_mode`` as Conv2d's."""

    _dims, _fn = 3, ops.conv3d


class Conv1d(_Conv):
    """``vkgrad.conv1d`` with a learnt weight [out_channels, in_channels / groups, k]
    and bias (see _Conv), over [N, C, L]."""

    _dims, _fn = 1, ops.conv1d


class ConvTranspose2d(Module):
    """``vkgrad.conv_transpose2d`` with a learnt weight [in_channels, out_channels /
    groups, kh, kw] and bias [out_channels], initialised like PyTorch (uniform in
    +-1/sqrt(fan_in), fan_in = out_channels / groups * kh * kw: the weight's second
    axis, as PyTorch reckons it)."""

    _dims, _fn = 2, staticmethod(ops.conv_transpose2d)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"{name}: channel counts must be positive, got in={in_channels}, out={out_channels}")
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1 \
                or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: groups must be a positive int dividing in_channels={in_channels} "
                             f"and out_channels={out_channels}, got {groups!r}")
        self.kernel_size = (_pair(name, "kernel_size", kernel_size, 1) if self._dims == 2 else
                            (_one(name, "kernel_size", kernel_size, 1),) if self._dims == 1 else
                            _triple(name, "kernel_size", kernel_size, 1))
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.stride, self.padding, self.output_padding, self.dilation = stride, padding, output_padding, dilation
        bound = 1.0 / math.sqrt(out_channels // groups * math.prod(self.kernel_size))
        r = rng()
        self.weight = Parameter(r.uniform(-bound, bound, (in_channels, out_channels // groups) + self.kernel_size),
                                device=device, dtype=dtype)
        self.bias = Parameter(r.uniform(-bound, bound, (out_channels,)), device=device, dtype=dtype) if bias else None

    def forward(self, x, output_size=None):
        """``output_size`` (PyTorch's): the spatial size wanted -- its trailing sizes --,
        which picks output_padding among the sizes this stride can give."""
        pad = self.output_padding if output_size is None else self._output_padding(x, output_size)
        return self._fn(x, self.weight, self.bias, self.stride, self.padding, pad, self.groups, self.dilation)

    def _output_padding(self, x, output_size):
        name, d = type(self).__name__, self._dims
        want = [int(n) for n in (list(output_size)[-d:] if len(output_size) >= d else [])]
        if len(want) != d or x.ndim < d:
            raise ValueError(f"{name}: output_size must give the {d} spatial sizes, got {list(output_size)}")
        each = lambda v: (tuple(v) if isinstance(v, (tuple, list)) else (v,) * d)  # noqa: E731
        pads = []
        for n, w, k, s, p, dl in zip(x.shape[-d:], want, self.kernel_size, each(self.stride), each(self.padding),
                                     each(self.dilation)):
            least = (n - 1) * s - 2 * p + dl * (k - 1) + 1
            if not least <= w < least + max(s, dl):
                raise ValueError(f"{name}: output_size {want} cannot come from input {list(x.shape)}: each size must "
                                 f"lie in [{least}, {least + max(s, dl) - 1}] here")
            pads.append(w - least)
        return tuple(pads)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, output_padding={self.output_padding}, groups={self.groups}, "
                f"dilation={self.dilation}, bias={self.bias is not None}")


class ConvTranspose1d(ConvTranspose2d):
    """``vkgrad.conv_transpose1d`` with a learnt weight [in_channels, out_channels /
    groups, k] (initialised as ConvTranspose2d's)."""

    _dims, _fn = 1, staticmethod(ops.conv_transpose1d)


class ConvTranspose3d(ConvTranspose2d):
    """``vkgrad.conv_transpose3d`` with a learnt weight [in_channels, out_channels /
    groups, kd, kh, kw] (initialised as ConvTranspose2d's)."""

    _dims, _fn = 3, staticmethod(ops.conv_transpose3d)


class _Pool(Module):
    """A pool's arguments kept, given to its function (``_fn``) in order."""

    _fn, _args = None, ()
    _shown = ("kernel_size", "stride", "padding")  # (in the repr: PyTorch's choice per class)

    def __init__(self, *args, **kwargs):
        super().__init__()
        names = self._args
        if len(args) > len(names) or set(kwargs) - set(names):
            raise TypeError(f"{type(self).__name__}: expected arguments {', '.join(names)}")
        vals = dict(zip(names, args), **kwargs)
        if "kernel_size" not in vals:
            raise TypeError(f"{type(self).__name__}: kernel_size is required")
        for n in names:
            setattr(self, n, vals[n] if n in vals else self._defaults[n])
        if getattr(self, "stride", 0) is None:  # (PyTorch's attribute: the kernel size when not given)
            self.stride = self.kernel_size

    def forward(self, x):
        return type(self)._fn(x, **{n: getattr(self, n) for n in self._args})

    def extra_repr(self):
        return ", ".join(f"{n}={getattr(self, n)!r}" for n in self._shown)


# (PyTorch's constructor order: return_indices before ceil_mode -- the functions take them the other way)
_MAX_ARGS = ("kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode")
_MAX_DEFAULTS = {"stride": None, "padding": 0, "dilation": 1, "return_indices": False, "ceil_mode": False}


class MaxPool2d(_Pool):
    """``vkgrad.max_pool2d`` as a module (stride defaults to the kernel size)."""
    _fn, _args, _defaults = ops.max_pool2d, _MAX_ARGS, _MAX_DEFAULTS
    _shown = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")


class MaxPool1d(_Pool):
    """``vkgrad.max_pool1d`` as a module (stride defaults to the kernel size)."""
    _fn, _args, _defaults = ops.max_pool1d, _MAX_ARGS, _MAX_DEFAULTS
    _shown = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")


class _MaxUnpool(_Pool):
    """PyTorch's MaxUnpool: ``forward(input, indices, output_size=None)``."""
    _args, _defaults = ("kernel_size", "stride", "padding"), {"stride": None, "padding": 0}

    def forward(self, x, indices, output_size=None):
        return type(self)._fn(x, indices, **{n: getattr(self, n) for n in self._args}, output_size=output_size)


class MaxUnpool2d(_MaxUnpool):
    """``vkgrad.max_unpool2d`` as a module."""
    _fn = ops.max_unpool2d


class MaxUnpool1d(_MaxUnpool):
    """``vkgrad.max_unpool1d`` as a module."""
    _fn = ops.max_unpool1d


class MaxUnpool3d(_MaxUnpool):
    """``vkgrad.max_unpool3d`` as a module."""
    _fn = ops.max_unpool3d


_AVG_ARGS = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override")
_AVG_DEFAULTS = {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True, "divisor_override": None}


class AvgPool2d(_Pool):
    """``vkgrad.avg_pool2d`` as a module (stride defaults to the kernel size)."""
    _fn, _args, _defaults = ops.avg_pool2d, _AVG_ARGS, _AVG_DEFAULTS


class MaxPool3d(_Pool):
    """``vkgrad.max_pool3d`` as a module (stride defaults to the kernel size)."""
    _fn, _args, _defaults = ops.max_pool3d, _MAX_ARGS, _MAX_DEFAULTS
    _shown = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")


class AvgPool3d(_Pool):
    """``vkgrad.avg_pool3d`` as a module (stride defaults to the kernel size)."""
    _fn, _args, _defaults = ops.avg_pool3d, _AVG_ARGS, _AVG_DEFAULTS


class AvgPool1d(_Pool):
    """``vkgrad.avg_pool1d`` as a module (stride defaults to the kernel size)."""
    _fn = ops.avg_pool1d
    _args = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")
    _defaults = {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True}


class Upsample(Module):
    """``vkgrad.interpolate`` as a module (``size`` or ``scale_factor``; ``mode``
    "nearest", "nearest-exact", "area", "linear", "bilinear" or "bicubic",
    ``align_corners``)."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None):
        super().__init__()
        self.size, self.scale_factor, self.mode, self.align_corners = size, scale_factor, mode, align_corners

    def forward(self, x):
        return ops.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners)

    def extra_repr(self):
        corners = f", align_corners={self.align_corners}" if self.align_corners is not None else ""
        return f"size={self.size}, scale_factor={self.scale_factor}, mode={self.mode!r}{corners}"


class UpsamplingNearest2d(Upsample):
    """PyTorch's UpsamplingNearest2d: ``Upsample(mode="nearest")``."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, "nearest")


class UpsamplingBilinear2d(Upsample):
    """PyTorch's UpsamplingBilinear2d: ``Upsample(mode="bilinear", align_corners=True)``."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, "bilinear", True)


class AdaptiveAvgPool2d(Module):
    """``vkgrad.adaptive_avg_pool2d``: means over an output_size grid of windows, as
    PyTorch's (equal or not; 1: the global average)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return ops.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class Embedding(Module):
    """A lookup table of ``num_embeddings`` vectors of ``embedding_dim``: integer
    indices of any shape in, [*shape, embedding_dim] out (``vkgrad.embedding``);
    weight initialised N(0, 1), as PyTorch's; row ``padding_idx`` zero and without
    a gradient."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, device=None, dtype=None):
        super().__init__()
        self.max_norm, self.norm_type, self.scale_grad_by_freq, self.sparse = max_norm, norm_type, \
            scale_grad_by_freq, sparse
        if num_embeddings < 1 or embedding_dim < 1:
            raise ValueError(f"Embedding: sizes must be positive, got {num_embeddings} x {embedding_dim}")
        if padding_idx is not None:
            if not -num_embeddings <= int(padding_idx) < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} is out of range for {num_embeddings} rows")
            padding_idx = int(padding_idx) % num_embeddings
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        if _weight is not None:  # (PyTorch's: a given table, as it is)
            w = np.asarray(_weight.numpy() if isinstance(_weight, Tensor) else _weight)
            if w.shape != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight has shape {list(w.shape)}, expected "
                                 f"{[num_embeddings, embedding_dim]}")
        else:
            w = rng().standard_normal((num_embeddings, embedding_dim))
            if padding_idx is not None:
                w[padding_idx] = 0.0  # (PyTorch's: the padding row starts at zero and is never trained)
        self.weight = Parameter(w, device=device, dtype=dtype)
        self.weight.requires_grad = not _freeze

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, sparse=False, device=None, dtype=None):
        """An Embedding holding ``embeddings`` [num, dim] (an array or tensor), frozen
        unless ``freeze=False`` (PyTorch's)."""
        w = np.asarray(embeddings.numpy() if isinstance(embeddings, Tensor) else embeddings)
        if w.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: expected a 2-d table, got shape {list(w.shape)}")
        dev = device or (embeddings.device if isinstance(embeddings, Tensor) else None)
        dt = dtype or (embeddings.dtype if isinstance(embeddings, Tensor) else None)
        m = cls(w.shape[0], w.shape[1], padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                scale_grad_by_freq=scale_grad_by_freq, sparse=sparse, device=dev, dtype=dt)
        m.weight.assign_(w)
        m.weight.requires_grad = not freeze
        return m

    def forward(self, indices):
        return ops.embedding(indices, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                             self.scale_grad_by_freq, self.sparse)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}" + "".join(
            f", {k}={v}" for k, v, shown in (("padding_idx", self.padding_idx, self.padding_idx is not None),
                                             ("max_norm", self.max_norm, self.max_norm is not None),
                                             ("norm_type", self.norm_type, self.norm_type != 2),
                                             ("scale_grad_by_freq", True, self.scale_grad_by_freq),
                                             ("sparse", True, self.sparse)) if shown)


class EmbeddingBag(Module):
    """PyTorch's EmbeddingBag: ``forward(input, offsets=None, per_sample_weights=None)``
    reduces each bag's rows by ``mode`` ("sum", "mean", "max"; ``vkgrad.embedding_bag``);
    weight N(0, 1), row ``padding_idx`` zero and left out of the bags."""

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                 mode="mean", sparse=False, _weight=None, include_last_offset=False, padding_idx=None, device=None,
                 dtype=None):
        super().__init__()
        if mode not in ("sum", "mean", "max"):
            raise ValueError(f"EmbeddingBag: mode must be 'sum', 'mean' or 'max', got {mode!r}")
        if scale_grad_by_freq and mode == "max":
            raise ValueError("EmbeddingBag: scale_grad_by_freq does not go with mode 'max' (as PyTorch's)")
        emb = Embedding(num_embeddings, embedding_dim, padding_idx, device=device, dtype=dtype)  # (checks, init)
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, emb.padding_idx
        self.max_norm, self.norm_type, self.scale_grad_by_freq = max_norm, norm_type, bool(scale_grad_by_freq)
        self.mode, self.sparse, self.include_last_offset = mode, bool(sparse), bool(include_last_offset)
        self.weight = emb.weight if _weight is None else Parameter(np.asarray(_weight), device=device, dtype=dtype)

    def forward(self, input, offsets=None, per_sample_weights=None):
        return ops.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                                 self.mode, self.sparse, per_sample_weights, self.include_last_offset, self.padding_idx)

    def extra_repr(self):  # (PyTorch's)
        return f"{self.num_embeddings}, {self.embedding_dim}" + "".join(
            f", {k}={v}" for k, v, shown in (("max_norm", self.max_norm, self.max_norm is not None),
                                             ("norm_type", self.norm_type, self.norm_type != 2),
                                             ("scale_grad_by_freq", True, self.scale_grad_by_freq),
                                             ("mode", repr(self.mode), True),
                                             ("padding_idx", self.padding_idx, self.padding_idx is not None)) if shown)


class Bilinear(Module):
    """PyTorch's Bilinear: y = x1^T W x2 + b per output (``vkgrad.bilinear``), weight
    [out, in1, in2] and bias uniform in +-1/sqrt(in1_features)."""

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        if min(in1_features, in2_features, out_features) < 1:
            raise ValueError(f"Bilinear: sizes must be positive, got {in1_features}, {in2_features}, {out_features}")
        self.in1_features, self.in2_features, self.out_features = in1_features, in2_features, out_features
        bound, r = 1.0 / math.sqrt(in1_features), rng()
        self.weight = Parameter(r.uniform(-bound, bound, (out_features, in1_features, in2_features)), device=device,
                                dtype=dtype)
        self.bias = Parameter(r.uniform(-bound, bound, (out_features,)), device=device, dtype=dtype) if bias else None

    def forward(self, input1, input2):
        return ops.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class MultiheadAttention(Module):
    """PyTorch's multi-head attention: ``forward(query, key, value, key_padding_mask=None,
    need_weights=True, attn_mask=None, average_attn_weights=True, is_causal=False)`` ->
    (output, weights or None), with its parameters (``in_proj_weight`` [3E, E], or with
    ``kdim`` / ``vdim`` other than E ``q_proj_weight`` [E, E], ``k_proj_weight`` [E, kdim],
    ``v_proj_weight`` [E, vdim]; ``in_proj_bias``, ``out_proj``) and initialisation, so
    state dicts carry over.
    Inputs [L, N, E] (``batch_first``: [N, L, E]) or unbatched [L, E]; masks as
    PyTorch's: ``attn_mask`` [L, S] or [N * heads, L, S], ``key_padding_mask`` [N, S],
    boolean NumPy arrays, int32 tensors or vkgrad's boolean float tensors (1.0 / 0.0 only:
    comparisons, ``vkgrad.tensor`` of a boolean array) -- True / nonzero: masked -- or other
    float tensors / arrays, added to the scores; ``is_causal`` with no ``attn_mask``
    masks later positions.  Composed of
    linear (over [..., E]; self-attention -- query, key and value one tensor -- one
    product with ``in_proj_weight``), batched products and softmax (a row masked
    everywhere gives NaN with ``need_weights``, zeros without, as PyTorch's); dropout
    on the weights in training;
    ``add_bias_kv`` (learnt ``bias_k`` / ``bias_v`` [1, 1, E] appended to the keys and
    values) and ``add_zero_attn`` (a key and value of zeros appended), the masks
    padded for them, as PyTorch."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        super().__init__()
        if embed_dim < 1 or num_heads < 1 or embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} must be a positive multiple of "
                             f"num_heads {num_heads}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must lie in [0, 1], got {dropout}")
        kdim, vdim = (embed_dim if d is None else int(d) for d in (kdim, vdim))
        if kdim < 1 or vdim < 1:
            raise ValueError(f"MultiheadAttention: kdim and vdim must be positive, got {kdim} and {vdim}")
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.kdim, self.vdim = kdim, vdim

        def xavier(rows, cols):  # xavier_uniform_, as PyTorch's init
            bound = math.sqrt(6.0 / (rows + cols))
            return Parameter(rng().uniform(-bound, bound, (rows, cols)), device=device, dtype=dtype)
        if kdim == vdim == embed_dim:
            self.in_proj_weight = xavier(3 * embed_dim, embed_dim)
            self.q_proj_weight = self.k_proj_weight = self.v_proj_weight = None
        else:
            self.q_proj_weight = xavier(embed_dim, embed_dim)
            self.k_proj_weight = xavier(embed_dim, kdim)
            self.v_proj_weight = xavier(embed_dim, vdim)
            self.in_proj_weight = None
        self.in_proj_bias = Parameter(np.zeros(3 * embed_dim), device=device, dtype=dtype) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        if bias:
            self.out_proj.bias = Parameter(np.zeros(embed_dim), device=device, dtype=dtype)
        if add_bias_kv:  # a learnt key and value appended to every sequence (xavier_normal_, as PyTorch)
            self.bias_k, self.bias_v = (Parameter(rng().normal(0.0, 1.0 / math.sqrt(embed_dim), (1, 1, embed_dim)),
                                                  device=device, dtype=dtype) for _ in range(2))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = bool(add_zero_attn)

    def _mask(self, m, shape, what, like):
        """An additive mask of ``shape`` and its host array (see additive_mask), or
        (None, None): booleans to -inf where True."""
        if m is None:
            return None, None
        if not hasattr(m, "shape") or tuple(m.shape) not in shape:
            raise ValueError(f"MultiheadAttention: {what} must have shape {' or '.join(str(list(s)) for s in shape)}, "
                             f"got {list(getattr(m, 'shape', ()))}")
        return ops.nn.additive_mask(m, like, true_masks=True, with_host=True)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        E, H = self.embed_dim, self.num_heads
        unbatched = query.ndim == 2
        q, k, v = ((x.unsqueeze(1) if unbatched else x) for x in (query, key, value))
        bf = self.batch_first and not unbatched  # [N, len, .]: no swap of the inputs or the output
        Dk, Dv = self.kdim, self.vdim
        nb = 0 if bf else 1  # the batch axis
        if q.ndim != 3 or q.shape[2] != E or k.ndim != 3 or v.ndim != 3 or k.shape[:2] != v.shape[:2] \
                or k.shape[2] != Dk or v.shape[2] != Dv or k.shape[nb] != q.shape[nb]:
            raise ValueError(f"MultiheadAttention: expected query [L, N, {E}], key [S, N, {Dk}] and value "
                             f"[S, N, {Dv}] (batch_first: [N, L, {E}], ...), got {list(query.shape)}, "
                             f"{list(key.shape)}, {list(value.shape)}")
        N, L, S = q.shape[nb], q.shape[1 - nb], k.shape[1 - nb]
        w, b = self.in_proj_weight, self.in_proj_bias
        if w is not None and query is key and key is value:  # self-attention: one product, then its thirds
            qkv = ops.linear(q, w, b)
            proj = [qkv[..., i * E:(i + 1) * E] for i in range(3)]
        else:
            ws = [w[i * E:(i + 1) * E] for i in range(3)] if w is not None else \
                [self.q_proj_weight, self.k_proj_weight, self.v_proj_weight]
            proj = [ops.linear(x, ws[i], None if b is None else b[i * E:(i + 1) * E])
                    for i, x in enumerate((q, k, v))]
        if self.bias_k is not None:  # one more key and value, learnt: [1, 1, E] along the sequence
            seq = 1 if bf else 0
            proj[1:] = [ops.cat([x, ops.broadcast_to(bias, (N, 1, E) if bf else (1, N, E))], seq)
                        for x, bias in zip(proj[1:], (self.bias_k, self.bias_v))]
        # [len, N, E] (batch_first: [N, len, E]) -> [N, H, len, E / H]: one permute
        heads = (0, 2, 1, 3) if bf else (1, 2, 0, 3)
        qh, kh, vh = (x.reshape(x.shape[:2] + (H, E // H)).permute(*heads) for x in proj)
        if self.add_zero_attn:  # and a key and value of zeros
            be = qh.backend
            zero = Tensor(be.constant((N, H, 1, E // H), 0.0, qh.dtype), be)
            kh, vh = ops.cat([kh, zero], 2), ops.cat([vh, zero], 2)
        extra = kh.shape[2] - S  # the keys appended: their columns of the masks take part
        scores = (qh @ kh.swapaxes(2, 3)) * (1.0 / math.sqrt(E // H))
        if attn_mask is None and is_causal:
            attn_mask = ops.nn.causal_mask(scores.backend, L, S, scores.dtype)
        am, am_host = self._mask(attn_mask, ((L, S), (N * H, L, S)), "attn_mask", scores)
        if unbatched and key_padding_mask is not None:  # [S], as PyTorch's unbatched form
            key_padding_mask = key_padding_mask.reshape((1, -1))
        kpm, kpm_host = self._mask(key_padding_mask, ((N, S),), "key_padding_mask", scores)
        masks, hosts = [], []
        if am is not None:  # (appended keys take part: their columns 0)
            m = ops.pad(am, (0, extra)) if extra else am
            masks.append(m if m.ndim == 2 else m.reshape((N, H, L, S + extra)))
            hosts.append(am_host if am_host is None or am_host.ndim == 2 else am_host.reshape((N, H, L, S)))
        if kpm is not None:
            masks.append((ops.pad(kpm, (0, extra)) if extra else kpm).reshape((N, 1, 1, S + extra)))
            hosts.append(None if kpm_host is None else kpm_host.reshape((N, 1, 1, S)))
        if not masks:
            weights = ops.softmax(scores, -1)
        else:  # (need_weights: NaN where a row is masked everywhere, PyTorch's; else zeros, as its path through
            # scaled_dot_product_attention; appended keys: no such row)
            weights = ops.nn.attention_weights(scores, masks, hosts, safe=not need_weights and not extra)
        weights = ops.dropout(weights, self.dropout, self.training)
        out = (weights @ vh).permute(*((0, 2, 1, 3) if bf else (2, 0, 1, 3)))  # [N, L, H, d] or [L, N, H, d]
        out = self.out_proj(out.reshape(out.shape[:2] + (E,)))
        if unbatched:
            out = out.reshape((L, E))
        if not need_weights:
            return out, None
        weights = ops.mean(weights, axis=1) if average_attn_weights else weights
        return out, (weights.reshape(weights.shape[1:]) if unbatched else weights)

    def extra_repr(self):
        dims = f", kdim={self.kdim}, vdim={self.vdim}" if self.in_proj_weight is None else ""
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}{dims}, " \
               f"batch_first={self.batch_first}"


class LayerNorm(Module):
    """Normalises each sample over its last axes (``normalized_shape``: an int or a
    tuple, as PyTorch's), then a learnable scale and shift of that shape
    (``elementwise_affine=False``: none; ``bias=False``: the scale only).  ``vkgrad.layer_norm``, composed of
    reductions and elementwise ops: exact gradients through the statistics."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        if not shape or any(int(d) < 1 for d in shape):
            raise ValueError(f"LayerNorm: normalized_shape must be positive sizes, got {normalized_shape!r}")
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        self.weight, self.bias = _scale_shift(shape, elementwise_affine, device, dtype)
        if not bias:  # (PyTorch's bias=False: a scale only)
            self.bias = None

    def forward(self, x):
        return ops.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class Dropout(Module):
    """Inverted dropout; the identity in eval mode (``inplace=True`` overwrites the
    input, as the activations')."""

    _fn = ops.dropout

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.inplace = inplace
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: p must lie in [0, 1], got {p}")
        self.p = p

    def forward(self, x):
        return in_place_if(self.inplace, x, type(self)._fn.__name__ + "_",
                           lambda t: type(self)._fn(t, self.p, self.training))

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class AlphaDropout(Dropout):
    """``vkgrad.alpha_dropout`` (for SELU networks) as a module."""
    _fn = ops.alpha_dropout


class FeatureAlphaDropout(Dropout):
    """``vkgrad.feature_alpha_dropout`` (whole channels) as a module."""
    _fn = ops.feature_alpha_dropout


class RMSNorm(Module):
    """PyTorch's RMSNorm: x / sqrt(mean(x^2) + eps) over the last axes
    (``normalized_shape``), times a learnable scale of that shape (ones;
    ``elementwise_affine=False``: none); eps None: the dtype's epsilon."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        if not shape or any(int(d) < 1 for d in shape):
            raise ValueError(f"RMSNorm: normalized_shape must be positive sizes, got {normalized_shape!r}")
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        self.weight = Parameter(np.ones(shape), device=device, dtype=dtype) if elementwise_affine else None

    def forward(self, x):
        return ops.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class Dropout2d(Dropout):
    """Channel dropout of [N, C, H, W] (``vkgrad.dropout2d``); the identity in eval mode."""

    _fn = ops.dropout2d


class Dropout1d(Dropout):
    """Channel dropout of [N, C, L] (``vkgrad.dropout1d``); the identity in eval mode."""

    _fn = ops.dropout1d


class Dropout3d(Dropout):
    """Channel dropout of [N, C, D, H, W] (``vkgrad.dropout3d``); the identity in eval mode."""

    _fn = ops.dropout3d


class _InstanceNorm(_Tracked, Module):
    """PyTorch's InstanceNorm1d / 2d / 3d: each sample's channel normalised over its
    positions (``vkgrad.instance_norm``); ``affine``: a learnt per-channel scale and
    shift; ``track_running_stats``: running means and variances updated in training
    and used in eval."""

    _spatial = 1

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, device=None,
                 dtype=None):
        super().__init__()
        if num_features < 1:
            raise ValueError(f"{type(self).__name__}: num_features must be positive, got {num_features}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight, self.bias = _scale_shift(num_features, affine, device, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", tensor(np.zeros(num_features), dtype="f32", device=device))
            self.register_buffer("running_var", tensor(np.ones(num_features), dtype="f32", device=device))
            self.num_batches_tracked = 0

    def _buffer_dtype(self, name, dtype):
        return "f32"  # (the running statistics stay f32, as batch norm's)

    def forward(self, x):
        n = self._spatial + 2
        if getattr(x, "ndim", None) not in (n - 1, n):
            raise ValueError(f"{type(self).__name__}: expected a {n - 1}-d or {n}-d input, got "
                             f"{list(getattr(x, 'shape', ()))}")
        batched = x.ndim == n
        x = x if batched else x.unsqueeze(0)
        rm, rv = (self.running_mean, self.running_var) if self.track_running_stats else (None, None)
        # (PyTorch's: num_batches_tracked is not counted here, momentum=None updates nothing)
        y = ops.instance_norm(x, rm, rv, self.weight, self.bias, self.training or not self.track_running_stats,
                              self.momentum if self.momentum is not None else 0.0, self.eps)
        return y if batched else y.squeeze(0)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    _spatial = 1


class InstanceNorm2d(_InstanceNorm):
    _spatial = 2


class InstanceNorm3d(_InstanceNorm):
    _spatial = 3


class GroupNorm(Module):
    """``vkgrad.group_norm``: ``num_channels`` in ``num_groups`` groups, each
    normalised over its channels and positions, then a learnable per-channel scale
    and shift (``affine=False``: none), as PyTorch's."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None):
        super().__init__()
        if num_groups < 1 or num_channels < 1 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_groups must divide num_channels, got {num_groups} and {num_channels}")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self.weight, self.bias = _scale_shift(num_channels, affine, device, dtype)

    def forward(self, x):
        return ops.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


_REQUIRED = object()  # (a constructor argument without a default)


_LOSS_BUFFERS = ("weight", "pos_weight")


def _fn_module(name, fn, doc, inputs=1, required=(), **defaults):
    """A module of a function: its constructor takes the ``required`` arguments, then
    ``defaults``' (PyTorch's names, order and defaults; the first ones may be given
    by position), its forward ``fn(*inputs, **those)``."""
    defaults = {**{r: _REQUIRED for r in required}, **defaults}

    def __init__(self, *args, **kw):
        Module.__init__(self)
        if len(args) > len(defaults):
            raise TypeError(f"{name}: expected at most {len(defaults)} arguments ({', '.join(defaults)}), "
                            f"got {len(args)}")
        kw = {**dict(zip(defaults, args)), **kw}
        unknown = sorted(set(kw) - set(defaults))
        if unknown:
            raise TypeError(f"{name}: unexpected arguments {unknown}; it takes {sorted(defaults)}")
        missing = [r for r in required if r not in kw]
        if missing:
            raise TypeError(f"{name}: missing required arguments {missing}")
        for k, v in {**defaults, **kw}.items():
            if k in _LOSS_BUFFERS and (v is None or isinstance(v, Tensor)):
                # PyTorch's weighted losses keep these as buffers: saved, moved by .to()
                self.register_buffer(k, v)
            else:
                object.__setattr__(self, k, v)

    def extra_repr(self):
        return ", ".join(f"{k}={getattr(self, k)!r}" for k, v in defaults.items() if getattr(self, k) is not v)

    def forward(self, *xs):
        if len(xs) != inputs:
            raise TypeError(f"{name}: forward takes {inputs} input(s), got {len(xs)}")
        return fn(*xs, **{k: getattr(self, k) for k in defaults})
    return type(name, (Module,), {"__init__": __init__, "extra_repr": extra_repr, "__doc__": doc,
                                  "forward": forward})


def _act_module(name, fn, inplace=True, **defaults):
    """An activation's module: PyTorch's constructor arguments (``defaults``, then
    ``inplace`` where PyTorch has one: True overwrites the input, as PyTorch's)."""
    if inplace:
        defaults["inplace"] = False
    return _fn_module(name, lambda x, inplace=False, **kw: in_place_if(inplace, x, fn.__name__ + "_",
                                                                        lambda t: fn(t, **kw)),
                      f"""Module form of vkgrad.{fn.__name__}
    ({', '.join(defaults) or 'no arguments'}).""", **defaults)


ReLU = _act_module("ReLU", ops.relu)
Sigmoid = _act_module("Sigmoid", ops.sigmoid, False)
Tanh = _act_module("Tanh", ops.tanh, False)
GELU = _act_module("GELU", ops.gelu, False, approximate="none")
SiLU = _act_module("SiLU", ops.silu)
Softplus = _act_module("Softplus", ops.softplus, False, beta=1.0, threshold=20.0)
ReLU6 = _act_module("ReLU6", ops.relu6)
Hardsigmoid = _act_module("Hardsigmoid", ops.hardsigmoid)
Hardswish = _act_module("Hardswish", ops.hardswish)
Mish = _act_module("Mish", ops.mish)
LogSigmoid = _act_module("LogSigmoid", ops.logsigmoid, False)
Softsign = _act_module("Softsign", ops.softsign, False)
SELU = _act_module("SELU", ops.selu)
Tanhshrink = _act_module("Tanhshrink", ops.tanhshrink, False)
LeakyReLU = _act_module("LeakyReLU", ops.leaky_relu, negative_slope=0.01)
ELU = _act_module("ELU", ops.elu, alpha=1.0)
CELU = _act_module("CELU", ops.celu, alpha=1.0)
Softshrink = _act_module("Softshrink", ops.softshrink, False, lambd=0.5)
Hardshrink = _act_module("Hardshrink", ops.hardshrink, False, lambd=0.5)


class RReLU(Module):
    """``vkgrad.rrelu`` as a module: a random slope in [lower, upper] for each
    negative element in training, their mean in eval."""

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__()
        if not 0.0 <= lower <= upper:
            raise ValueError(f"RReLU: expected 0 <= lower <= upper, got {lower} and {upper}")
        self.lower, self.upper, self.inplace = float(lower), float(upper), inplace

    def forward(self, x):
        return in_place_if(self.inplace, x, "rrelu_", lambda t: ops.rrelu(t, self.lower, self.upper, self.training))

    def extra_repr(self):
        return f"lower={self.lower}, upper={self.upper}"


LPPool1d = _fn_module("LPPool1d", ops.lp_pool1d, """``vkgrad.lp_pool1d`` as a module.""",
                      required=("norm_type", "kernel_size"), stride=None, ceil_mode=False)
LPPool2d = _fn_module("LPPool2d", ops.lp_pool2d, """``vkgrad.lp_pool2d`` as a module.""",
                      required=("norm_type", "kernel_size"), stride=None, ceil_mode=False)
LPPool3d = _fn_module("LPPool3d", ops.lp_pool3d, """``vkgrad.lp_pool3d`` as a module.""",
                      required=("norm_type", "kernel_size"), stride=None, ceil_mode=False)
Threshold = _fn_module("Threshold", lambda x, threshold, value, inplace: in_place_if(
                           inplace, x, "threshold_", lambda t: ops.threshold(t, threshold, value)),
                       """x where x > threshold, else value (``vkgrad.threshold``; inplace as the other
    activations').""", required=("threshold", "value"), inplace=False)
Softmax2d = _fn_module("Softmax2d", lambda x: ops.softmax(x, -3), """softmax over the channels of [N, C, H, W] (or
    [C, H, W]): axis -3.""")
Unfold = _fn_module("Unfold", ops.unfold, """``vkgrad.unfold`` (im2col) as a module.""", required=("kernel_size",),
                    dilation=1, padding=0, stride=1)
Fold = _fn_module("Fold", ops.fold, """``vkgrad.fold`` (col2im) as a module.""",
                  required=("output_size", "kernel_size"), dilation=1, padding=0, stride=1)
ChannelShuffle = _fn_module("ChannelShuffle", ops.channel_shuffle, """``vkgrad.channel_shuffle`` as a module.""",
                            required=("groups",))
LocalResponseNorm = _fn_module("LocalResponseNorm", ops.local_response_norm,
                               """``vkgrad.local_response_norm`` as a module.""", required=("size",), alpha=1e-4,
                               beta=0.75, k=1.0)


class Hardtanh(Module):
    """Module form of vkgrad.hardtanh: x clamped into [min_val, max_val]."""

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        if not float(min_val) < float(max_val):
            raise ValueError(f"Hardtanh: min_val {min_val} must be below max_val {max_val}")
        self.min_val, self.max_val, self.inplace = float(min_val), float(max_val), inplace

    def forward(self, x):
        return in_place_if(self.inplace, x, "hardtanh_", lambda t: ops.hardtanh(t, self.min_val, self.max_val))

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"


class PReLU(Module):
    """PyTorch's PReLU: max(0, x) + weight * min(0, x) with a learnt slope, one
    (``num_parameters`` = 1) or one per channel (axis 1), initialised to ``init``."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, int) or num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be a positive integer, got {num_parameters!r}")
        self.num_parameters = num_parameters
        self.weight = Parameter(np.full(num_parameters, float(init)), device=device, dtype=dtype)

    def forward(self, x):
        return ops.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class Softmax(Module):
    """softmax along ``dim`` (PyTorch's name; NumPy's ``axis`` too), the last axis
    by default."""

    def __init__(self, dim=None, axis=None):
        super().__init__()
        if dim is not None and axis is not None:
            raise TypeError(f"{type(self).__name__}: give dim= or axis=, not both")
        self.axis = dim if dim is not None else axis if axis is not None else -1

    def extra_repr(self):
        return f"dim={self.axis}"

    def forward(self, x):
        return ops.softmax(x, self.axis)


class LogSoftmax(Softmax):
    def forward(self, x):
        return ops.log_softmax(x, self.axis)


class _List(Module):
    """Entries in order, registered with the owner as "0", "1", ... (in ``_kind``:
    sub-modules for Sequential / ModuleList, parameters for ParameterList)."""
    _kind = "_modules"

    def _check(self, m):
        if not isinstance(m, Module):
            raise TypeError(f"{type(self).__name__}: expected a Module, got {type(m).__name__}")
        return m

    def _entries(self):
        return getattr(self, self._kind)

    def append(self, m):
        setattr(self, str(len(self._entries())), self._check(m))
        return self

    def extend(self, items):
        for m in items:
            self.append(m)
        return self

    def __getitem__(self, i):
        entries = list(self._entries().values())
        if isinstance(i, slice):  # (PyTorch's: a container of the same kind; a Sequential keeps the names)
            return type(self)(dict(list(self._entries().items())[i])) if isinstance(self, Sequential) \
                else type(self)(entries[i])
        return entries[i]

    def insert(self, index, m):
        """m placed before position ``index``; the entries renumbered "0", "1", ..."""
        entries = list(self._entries().values())
        entries.insert(index, self._check(m))
        return self._renumbered(entries)

    def _renumbered(self, entries):
        """The entries replaced by ``entries``, named "0", "1", ... (PyTorch's after an
        insert or a deletion)."""
        for name in list(self._entries()):
            delattr(self, name)
        for e in entries:
            self.append(e)
        return self

    def _index(self, i):
        n = len(self)
        if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not -n <= i < n:
            raise IndexError(f"{type(self).__name__}: index {i!r} out of range for {n} entries")
        return int(i) % n

    def __setitem__(self, i, m):
        """Entry ``i`` replaced, its name kept (PyTorch's ``seq[2] = nn.Linear(...)``)."""
        setattr(self, list(self._entries())[self._index(i)], self._check(m))

    def __delitem__(self, i):
        """Entries removed (an index or a slice), the others renumbered "0", "1", ..."""
        entries = list(self._entries().values())
        gone = set(range(len(entries))[i]) if isinstance(i, slice) else {self._index(i)}
        self._renumbered([e for k, e in enumerate(entries) if k not in gone])

    def pop(self, i=-1):
        """Entry ``i`` removed and returned (the others renumbered)."""
        m = self[self._index(i)]
        del self[i]
        return m

    def __len__(self):
        return len(self._entries())

    def __iter__(self):
        return iter(self._entries().values())


class Sequential(_List):
    """Layers applied in order; sub-modules are named "0", "1", ..., or by the keys
    of one OrderedDict given instead (PyTorch's)."""

    def __init__(self, *layers):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], dict):
            for name, m in layers[0].items():
                if not isinstance(m, Module):
                    raise TypeError(f"Sequential: entry {name!r} is a {type(m).__name__}, expected a Module")
                self.add_module(str(name), m)
            return
        for i, m in enumerate(layers):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: argument {i} is a {type(m).__name__}, expected a Module")
            self.append(m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x


class Identity(Module):
    """Returns its input (a placeholder layer, as in PyTorch: any constructor
    arguments are ignored)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Module):
    """``x.flatten(start_dim, end_dim)``: [N, ...] -> [N, features] by default."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class ModuleList(_List):
    """Sub-modules held in a list (registered as "0", "1", ...: their parameters
    belong to the owner); no forward of its own."""

    def __init__(self, modules=()):
        super().__init__()
        self.extend(modules)

    def forward(self, *args):
        raise NotImplementedError("ModuleList has no forward: iterate over its modules")


def _key(owner, key):
    """A dict module's key, checked: entries are attributes of the owner too."""
    name = type(owner).__name__
    if not isinstance(key, str) or not key or "." in key:
        raise KeyError(f"{name}: keys must be non-empty strings without '.', got {key!r}")
    if hasattr(type(owner), key) or key in owner.__dict__ and key not in owner._entries():
        raise KeyError(f"{name}: key {key!r} clashes with an attribute of {name}")
    return key


class _Dict(Module):
    """What ModuleDict and ParameterDict share: a mapping of names to the entries
    registered on the owner (their names in state dicts: "key", or "owner.key")."""
    _kind = "_modules"

    def __init__(self, items=None):
        super().__init__()
        if items is not None:
            self.update(items)

    def _entries(self):
        return getattr(self, self._kind)

    def __getitem__(self, key):
        return self._entries()[key]

    def __setitem__(self, key, value):
        setattr(self, _key(self, key), self._check(value))

    def __delitem__(self, key):
        del self._entries()[key]
        object.__delattr__(self, key)

    def __len__(self):
        return len(self._entries())

    def __iter__(self):
        return iter(self._entries())

    def __contains__(self, key):
        return key in self._entries()

    def keys(self):
        return self._entries().keys()

    def values(self):
        return self._entries().values()

    def items(self):
        return self._entries().items()

    def pop(self, key):
        v = self[key]
        del self[key]
        return v

    def update(self, items):
        for k, v in (items.items() if hasattr(items, "items") else items):
            self[k] = v

    def forward(self, *args):
        raise NotImplementedError(f"{type(self).__name__} has no forward: index it by name")


class ModuleDict(_Dict):
    """Sub-modules by name (PyTorch's ModuleDict): their parameters belong to the
    owner, as "name.key....", in insertion order."""

    def _check(self, m):
        if not isinstance(m, Module):
            raise TypeError(f"ModuleDict: expected a Module, got {type(m).__name__}")
        return m


def _as_parameter(owner, p):
    if isinstance(p, Parameter):
        return p
    if isinstance(p, Tensor):
        return Parameter(p.numpy(), device=p.device, dtype=p.dtype)
    if isinstance(p, (np.ndarray, list, tuple, float, int)):
        return Parameter(np.asarray(p, dtype=np.float64))
    raise TypeError(f"{owner}: expected a Parameter, tensor or array, got {type(p).__name__}")


class ParameterDict(_Dict):
    """Parameters by name (PyTorch's ParameterDict); tensors and arrays become
    Parameters."""
    _kind = "_params"

    def _check(self, p):
        return _as_parameter("ParameterDict", p)


class ParameterList(_List):
    """Parameters in a list, registered as "0", "1", ... (PyTorch's ParameterList);
    tensors and arrays become Parameters."""
    _kind = "_params"

    def __init__(self, values=()):
        super().__init__()
        self.extend(values)

    def _check(self, p):
        return _as_parameter("ParameterList", p)

    def forward(self, *args):
        raise NotImplementedError("ParameterList has no forward: iterate over its parameters")


class Unflatten(Module):
    """Axis ``dim`` split into ``unflattened_size`` (Flatten's inverse, PyTorch's)."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = int(dim), tuple(int(n) for n in unflattened_size)

    def forward(self, x):
        return ops.unflatten(x, self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


def _loss_module(name, fn, doc, **defaults):
    """A loss module: forward(input, target) (see _fn_module)."""
    return _fn_module(name, fn, doc, 2, **defaults)


PixelShuffle = _fn_module("PixelShuffle", ops.pixel_shuffle, """``vkgrad.pixel_shuffle`` as a module.""",
                          upscale_factor=2)
PixelUnshuffle = _fn_module("PixelUnshuffle", ops.pixel_unshuffle, """``vkgrad.pixel_unshuffle`` as a module.""",
                            downscale_factor=2)
GLU = _fn_module("GLU", lambda x, dim: ops.glu(x, dim), """``vkgrad.glu`` as a module.""", dim=-1)
Softmin = _fn_module("Softmin", lambda x, dim: ops.softmin(x, dim if dim is not None else 0 if x.ndim in (0, 1, 3)
                                                        else 1),
                     """softmax(-x) along ``dim`` (None: PyTorch's implicit choice, 0 for 1-d and 3-d
    inputs, else 1).""", dim=None)
CosineSimilarity = _fn_module("CosineSimilarity", lambda a, b, dim, eps: ops.cosine_similarity(a, b, dim, eps),
                              """``vkgrad.cosine_similarity`` as a module.""", 2, dim=1, eps=1e-8)
PairwiseDistance = _fn_module("PairwiseDistance", ops.pairwise_distance,
                              """``vkgrad.pairwise_distance`` as a module.""", 2, p=2.0, eps=1e-6, keepdim=False)
AdaptiveAvgPool1d = _fn_module("AdaptiveAvgPool1d", ops.adaptive_avg_pool1d,
                               """``vkgrad.adaptive_avg_pool1d`` as a module.""", output_size=1)
AdaptiveAvgPool3d = _fn_module("AdaptiveAvgPool3d", ops.adaptive_avg_pool3d,
                               """``vkgrad.adaptive_avg_pool3d`` as a module.""", output_size=1)
AdaptiveMaxPool3d = _fn_module("AdaptiveMaxPool3d", ops.adaptive_max_pool3d,
                               """``vkgrad.adaptive_max_pool3d`` as a module.""", output_size=1, return_indices=False)
AdaptiveMaxPool1d = _fn_module("AdaptiveMaxPool1d", ops.adaptive_max_pool1d,
                               """``vkgrad.adaptive_max_pool1d`` as a module.""", output_size=1, return_indices=False)
AdaptiveMaxPool2d = _fn_module("AdaptiveMaxPool2d", ops.adaptive_max_pool2d,
                               """``vkgrad.adaptive_max_pool2d`` as a module.""", output_size=1, return_indices=False)


def _pad_module(name, mode, n):
    """PyTorch's padding modules: ``padding`` an int (every side) or 2 n ints (last
    axis first), ``vkgrad.pad`` with ``mode``."""
    def __init__(self, padding, value=0.0):
        Module.__init__(self)
        pads = (int(padding),) * (2 * n) if isinstance(padding, int) else tuple(int(p) for p in padding)
        if len(pads) != 2 * n:
            raise ValueError(f"{name}: padding must be an int or {2 * n} ints, got {padding!r}")
        self.padding, self.value = pads, float(value)

    def forward(self, x):
        return ops.pad(x, self.padding, mode, self.value)

    def extra_repr(self):
        return f"padding={self.padding}" + (f", value={self.value}" if mode == "constant" else "")
    return type(name, (Module,), {"__init__": __init__, "forward": forward, "extra_repr": extra_repr,
                                  "__doc__": f"``vkgrad.pad(x, padding, {mode!r})`` over {n} trailing axes."})


ZeroPad1d, ZeroPad2d, ZeroPad3d = (_pad_module(f"ZeroPad{n}d", "constant", n) for n in (1, 2, 3))
ConstantPad1d, ConstantPad2d, ConstantPad3d = (_pad_module(f"ConstantPad{n}d", "constant", n) for n in (1, 2, 3))
ReflectionPad1d, ReflectionPad2d, ReflectionPad3d = (_pad_module(f"ReflectionPad{n}d", "reflect", n) for n in (1, 2, 3))
ReplicationPad1d, ReplicationPad2d, ReplicationPad3d = (_pad_module(f"ReplicationPad{n}d", "replicate", n)
                                                        for n in (1, 2, 3))
CircularPad1d, CircularPad2d, CircularPad3d = (_pad_module(f"CircularPad{n}d", "circular", n) for n in (1, 2, 3))


CrossEntropyLoss = _loss_module(
    "CrossEntropyLoss", ops.softmax_cross_entropy,
    """Softmax cross-entropy of logits [B, C] against integer labels [B] or
    probability rows [B, C] (PyTorch's CrossEntropyLoss): ``softmax_cross_entropy``,
    one fused kernel with the default options (weight, ignore_index, reduction,
    label_smoothing).""", weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0)
BCEWithLogitsLoss = _loss_module(
    "BCEWithLogitsLoss", ops.binary_cross_entropy_with_logits,
    """Binary cross-entropy of sigmoid(logits) against targets in [0, 1] (PyTorch's
    BCEWithLogitsLoss): ``binary_cross_entropy_with_logits``.""", weight=None, reduction="mean", pos_weight=None)
BCELoss = _loss_module("BCELoss", ops.binary_cross_entropy,
                       """Binary cross-entropy of probabilities (PyTorch's BCELoss).""", weight=None, reduction="mean")
MSELoss = _loss_module("MSELoss", ops.mse_loss, """Squared error (PyTorch's MSELoss).""", reduction="mean")
L1Loss = _loss_module("L1Loss", ops.l1_loss, """Absolute error (PyTorch's L1Loss).""", reduction="mean")
SmoothL1Loss = _loss_module("SmoothL1Loss", ops.smooth_l1_loss, """PyTorch's SmoothL1Loss.""", reduction="mean",
                            beta=1.0)
HuberLoss = _loss_module("HuberLoss", ops.huber_loss, """PyTorch's HuberLoss.""", reduction="mean", delta=1.0)
NLLLoss = _loss_module("NLLLoss", ops.nll_loss, """Negative log-likelihood of log-probabilities [B, C] at
    integer labels [B] (PyTorch's NLLLoss).""", weight=None, ignore_index=-100, reduction="mean")
MarginRankingLoss = _fn_module("MarginRankingLoss", ops.margin_ranking_loss, """PyTorch's MarginRankingLoss
    (forward(input1, input2, target)).""", 3, margin=0.0, reduction="mean")
HingeEmbeddingLoss = _loss_module("HingeEmbeddingLoss", ops.hinge_embedding_loss,
                                  """PyTorch's HingeEmbeddingLoss.""", margin=1.0, reduction="mean")
SoftMarginLoss = _loss_module("SoftMarginLoss", ops.soft_margin_loss, """PyTorch's SoftMarginLoss.""",
                              reduction="mean")
CosineEmbeddingLoss = _fn_module("CosineEmbeddingLoss", ops.cosine_embedding_loss, """PyTorch's
    CosineEmbeddingLoss (forward(input1, input2, target)).""", 3, margin=0.0, reduction="mean")
TripletMarginLoss = _fn_module("TripletMarginLoss", ops.triplet_margin_loss, """PyTorch's TripletMarginLoss
    (forward(anchor, positive, negative)).""", 3, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean")
MultiMarginLoss = _loss_module("MultiMarginLoss", ops.multi_margin_loss, """PyTorch's MultiMarginLoss (integer
    labels).""", p=1, margin=1.0, weight=None, reduction="mean")
MultiLabelSoftMarginLoss = _loss_module("MultiLabelSoftMarginLoss", ops.multilabel_soft_margin_loss,
                                        """PyTorch's MultiLabelSoftMarginLoss.""", weight=None, reduction="mean")
MultiLabelMarginLoss = _loss_module("MultiLabelMarginLoss", ops.multilabel_margin_loss,
                                    """PyTorch's MultiLabelMarginLoss (target: class indices, -1 ending them).""",
                                    reduction="mean")
TripletMarginWithDistanceLoss = _fn_module(
    "TripletMarginWithDistanceLoss", ops.triplet_margin_with_distance_loss,
    """PyTorch's TripletMarginWithDistanceLoss (forward(anchor, positive, negative)).""", 3,
    distance_function=None, margin=1.0, swap=False, reduction="mean")
PoissonNLLLoss = _loss_module("PoissonNLLLoss", ops.poisson_nll_loss, """PyTorch's PoissonNLLLoss.""",
                              log_input=True, full=False, eps=1e-8, reduction="mean")
GaussianNLLLoss = _fn_module("GaussianNLLLoss", ops.gaussian_nll_loss, """PyTorch's GaussianNLLLoss
    (forward(input, target, var)).""", 3, full=False, eps=1e-6, reduction="mean")
CTCLoss = _fn_module("CTCLoss", ops.ctc_loss, """PyTorch's CTCLoss (forward(log_probs, targets, input_lengths,
    target_lengths)).""", 4, blank=0, reduction="mean", zero_infinity=False)
KLDivLoss = _loss_module("KLDivLoss", ops.kl_div, """PyTorch's KLDivLoss (input log-probabilities).""",
                         reduction="mean", log_target=False)


LazyConv1d, LazyConv2d, LazyConv3d = (_lazy(c, "Lazy" + c.__name__, "in_channels", lambda m, x: x.shape[-m._dims - 1])
                                      for c in (Conv1d, Conv2d, Conv3d))
LazyConvTranspose1d, LazyConvTranspose2d, LazyConvTranspose3d = (
    _lazy(c, "Lazy" + c.__name__, "in_channels", lambda m, x: x.shape[-m._dims - 1])
    for c in (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d))
LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d = (_lazy(c, "Lazy" + c.__name__, "num_features",
                                                           lambda m, x: x.shape[1])
                                                     for c in (BatchNorm1d, BatchNorm2d, BatchNorm3d))
LazyInstanceNorm1d, LazyInstanceNorm2d, LazyInstanceNorm3d = (
    _lazy(c, "Lazy" + c.__name__, "num_features", lambda m, x: x.shape[-m._spatial - 1])
    for c in (InstanceNorm1d, InstanceNorm2d, InstanceNorm3d))
