"""In-place initialisers, as ``torch.nn.init``: each draws from vkgrad's generator
(``vg.manual_seed``) on the host and writes the tensor's storage in place
(``assign_``: optimizers and captured steps keep referring to it); returns it.

Fans follow PyTorch: a weight [out, in, ...] has fan_in = in * receptive field,
fan_out = out * receptive field."""
from __future__ import annotations

import math

import numpy as np

from ..random import rng
from ..tensor import Tensor

_GAINS = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3.0, "relu": math.sqrt(2.0)}


def _check(op, t):
    if not isinstance(t, Tensor):
        raise TypeError(f"init.{op}: expected a vkgrad Tensor, got {type(t).__name__}")
    return t


def calculate_gain(nonlinearity, param=None):
    """The recommended scale of an initialisation for ``nonlinearity`` (linear,
    sigmoid, tanh, relu, leaky_relu with slope ``param``), as PyTorch's."""
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity not in _GAINS:
        raise ValueError(f"init.calculate_gain: unknown nonlinearity {nonlinearity!r}; expected one of "
                         f"{sorted(_GAINS) + ['leaky_relu']}")
    return _GAINS[nonlinearity]


def _fans(op, t):
    if t.ndim < 2:
        raise ValueError(f"init.{op}: fan in and fan out need at least 2 dimensions, got shape {list(t.shape)}")
    field = int(np.prod(t.shape[2:])) if t.ndim > 2 else 1
    return t.shape[1] * field, t.shape[0] * field


def uniform_(t, a=0.0, b=1.0):
    """Values drawn uniformly from [a, b)."""
    return _check("uniform_", t).assign_(rng().uniform(a, b, t.shape))


def normal_(t, mean=0.0, std=1.0):
    """Values drawn from N(mean, std^2)."""
    return _check("normal_", t).assign_(rng().normal(mean, std, t.shape))


def constant_(t, val):
    """Every value ``val``."""
    return _check("constant_", t).assign_(np.full(t.shape, float(val)))


def zeros_(t):
    return constant_(t, 0.0)


def ones_(t):
    return constant_(t, 1.0)


def xavier_uniform_(t, gain=1.0):
    """U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio)."""
    fi, fo = _fans("xavier_uniform_", _check("xavier_uniform_", t))
    a = gain * math.sqrt(6.0 / (fi + fo))
    return uniform_(t, -a, a)


def xavier_normal_(t, gain=1.0):
    """N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fi, fo = _fans("xavier_normal_", _check("xavier_normal_", t))
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fi + fo)))


def _kaiming_std(op, t, a, mode, nonlinearity):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init.{op}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fi, fo = _fans(op, _check(op, t))
    return calculate_gain(nonlinearity, a) / math.sqrt(fi if mode == "fan_in" else fo)


def kaiming_uniform_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """U(-b, b), b = gain * sqrt(3 / fan) (He et al.), PyTorch's defaults."""
    b = math.sqrt(3.0) * _kaiming_std("kaiming_uniform_", t, a, mode, nonlinearity)
    return uniform_(t, -b, b)


def kaiming_normal_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """N(0, std^2), std = gain / sqrt(fan) (He et al.), PyTorch's defaults."""
    return normal_(t, 0.0, _kaiming_std("kaiming_normal_", t, a, mode, nonlinearity))
