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

_GAINS = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3.0, "relu": math.sqrt(2.0), "selu": 3.0 / 4.0,
          "identity": 1.0, "conv1d": 1.0, "conv2d": 1.0, "conv3d": 1.0, "conv_transpose1d": 1.0,
          "conv_transpose2d": 1.0, "conv_transpose3d": 1.0}


def _check(op, t):
    if not isinstance(t, Tensor):
        raise TypeError(f"init.{op}: expected a vkgrad Tensor, got {type(t).__name__}")
    return t


def calculate_gain(nonlinearity, param=None):
    """The recommended scale of an initialisation for ``nonlinearity`` (linear,
    identity, the convolutions, sigmoid, tanh, relu, selu, leaky_relu with slope
    ``param``), as PyTorch's."""
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


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight: PyTorch's private helper, which custom
    reset_parameters() code calls (``fan_in, _ = init._calculate_fan_in_and_fan_out(w)``)."""
    return _fans("_calculate_fan_in_and_fan_out", tensor)


def uniform_(t, a=0.0, b=1.0, generator=None):
    """Values drawn uniformly from [a, b) (``generator``: a vkgrad.Generator's, as in
    every initialiser that draws)."""
    return _check("uniform_", t).assign_(rng(generator).uniform(a, b, t.shape))


def normal_(t, mean=0.0, std=1.0, generator=None):
    """Values drawn from N(mean, std^2)."""
    return _check("normal_", t).assign_(rng(generator).normal(mean, std, t.shape))


def constant_(t, val):
    """Every value ``val``."""
    return _check("constant_", t).assign_(np.full(t.shape, float(val)))


def zeros_(t):
    return constant_(t, 0.0)


def ones_(t):
    return constant_(t, 1.0)


def xavier_uniform_(t, gain=1.0, generator=None):
    """U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio)."""
    fi, fo = _fans("xavier_uniform_", _check("xavier_uniform_", t))
    a = gain * math.sqrt(6.0 / (fi + fo))
    return uniform_(t, -a, a, generator)


def xavier_normal_(t, gain=1.0, generator=None):
    """N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fi, fo = _fans("xavier_normal_", _check("xavier_normal_", t))
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fi + fo)), generator)


def _kaiming_std(op, t, a, mode, nonlinearity):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init.{op}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fi, fo = _fans(op, _check(op, t))
    return calculate_gain(nonlinearity, a) / math.sqrt(fi if mode == "fan_in" else fo)


def kaiming_uniform_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """U(-b, b), b = gain * sqrt(3 / fan) (He et al.), PyTorch's defaults."""
    b = math.sqrt(3.0) * _kaiming_std("kaiming_uniform_", t, a, mode, nonlinearity)
    return uniform_(t, -b, b, generator)


def kaiming_normal_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """N(0, std^2), std = gain / sqrt(fan) (He et al.), PyTorch's defaults."""
    return normal_(t, 0.0, _kaiming_std("kaiming_normal_", t, a, mode, nonlinearity), generator)


def _erfinv(x):
    """erf's inverse on (-1, 1), vectorised (M. Giles' single-precision
    approximation, relative error ~1e-7: ample for drawing initial weights)."""
    w = -np.log((1.0 - x) * (1.0 + x))
    lo, hi = w - 2.5, np.sqrt(np.maximum(w, 5.0)) - 3.0
    p_lo, p_hi = np.full_like(x, 2.81022636e-08), np.full_like(x, -0.000200214257)
    for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503, -0.00417768164,
              0.246640727, 1.50140941):
        p_lo = c + p_lo * lo
    for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047,
              1.00167406, 2.83297682):
        p_hi = c + p_hi * hi
    return np.where(w < 5.0, p_lo, p_hi) * x


def trunc_normal_(t, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """N(mean, std^2) truncated to [a, b] (PyTorch's method: uniform draws mapped
    through the normal's inverse CDF between the bounds')."""
    _check("trunc_normal_", t)
    if not a < b or not std > 0:
        raise ValueError(f"init.trunc_normal_: need a < b and std > 0, got a={a}, b={b}, std={std}")
    cdf = lambda x: 0.5 * (1.0 + math.erf((x - mean) / std / math.sqrt(2.0)))  # noqa: E731
    u = rng(generator).uniform(2 * cdf(a) - 1, 2 * cdf(b) - 1, t.shape)
    u = np.clip(u, -1 + 1e-15, 1 - 1e-15)
    return t.assign_(np.clip(mean + std * math.sqrt(2.0) * _erfinv(u), a, b))


def orthogonal_(t, gain=1.0, generator=None):
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al.; PyTorch's: the QR of a
    normal draw, signs fixed by R's diagonal), over t viewed as [rows, the rest]."""
    _check("orthogonal_", t)
    if t.ndim < 2:
        raise ValueError(f"init.orthogonal_: expected at least 2 dimensions, got shape {list(t.shape)}")
    rows = t.shape[0]
    cols = t.size // rows
    flat = rng(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return t.assign_((gain * q).reshape(t.shape))


def eye_(t):
    """The identity matrix (a 2-d tensor)."""
    _check("eye_", t)
    if t.ndim != 2:
        raise ValueError(f"init.eye_: expected a 2-d tensor, got shape {list(t.shape)}")
    return t.assign_(np.eye(*t.shape))


def dirac_(t, groups=1):
    """A convolution weight [out, in, *kernel] (3 to 5 dimensions) that passes each
    input channel to its output at the kernel's centre (per group), as PyTorch's."""
    _check("dirac_", t)
    if t.ndim not in (3, 4, 5) or t.shape[0] % groups:
        raise ValueError(f"init.dirac_: expected a 3-, 4- or 5-d weight with out channels divisible by groups, "
                         f"got shape {list(t.shape)} and groups={groups}")
    w = np.zeros(t.shape)
    og = t.shape[0] // groups
    centre = tuple(k // 2 for k in t.shape[2:])
    for g in range(groups):
        for d in range(min(og, t.shape[1])):
            w[(g * og + d, d) + centre] = 1.0
    return t.assign_(w)


def sparse_(t, sparsity, std=0.01, generator=None):
    """A 2-d weight N(0, std^2) with ``sparsity`` of each column's rows zero (PyTorch's)."""
    _check("sparse_", t)
    if t.ndim != 2:
        raise ValueError(f"init.sparse_: expected a 2-d tensor, got shape {list(t.shape)}")
    rows, cols = t.shape
    r = rng(generator)
    w = r.normal(0.0, std, (rows, cols))
    zeros = int(math.ceil(sparsity * rows))
    for c in range(cols):
        w[r.permutation(rows)[:zeros], c] = 0.0
    return t.assign_(w)


# PyTorch's deprecated spellings without the trailing underscore (the same in-place initialisers)
uniform, normal, constant, eye, dirac = uniform_, normal_, constant_, eye_, dirac_
xavier_uniform, xavier_normal, kaiming_uniform, kaiming_normal = xavier_uniform_, xavier_normal_, \
    kaiming_uniform_, kaiming_normal_
orthogonal, sparse = orthogonal_, sparse_
