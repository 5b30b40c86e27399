"""vkgrad: a PyTorch-style autograd engine on Vulkan compute shaders, with a NumPy backend.

Batch-first layout (``[batch, features]``).  See README.md for a tour."""
from __future__ import annotations

import math as _math

__version__ = "0.1.0"

from . import config
from .autograd import (Gradients, backward_grads as backward, enable_grad, grad_tape, inference_mode, is_grad_enabled,
                       no_grad, set_grad_enabled)
from .backends import BackendError, devices, get_backend, normalize_device, vulkan_available
from .gradcheck import gradcheck
from .ops import *  # noqa: F401,F403  (the functional API)
from .ops import __all__ as _ops_all
from .random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from .tensor import (Parameter, Tensor, arange, as_tensor, canonical_dtype, empty, empty_like, eye, from_numpy, full,
                     full_like, is_tensor, linspace, logspace, ones, ones_like, rand, rand_like, randint, randint_like,
                     randn, randn_like, randperm, set_printoptions, tensor, tril_indices, triu_indices, zeros,
                     zeros_like, DoubleTensor, FloatTensor, HalfTensor, IntTensor, LongTensor)
from . import amp, data, distributions, func, functional, linalg, nn, optim, parallel, special, testing, utils  # noqa: E402
from .func import vmap
from .special import gammainc as igamma, gammaincc as igammac, sinc  # (PyTorch's top-level names)
from .linalg import det, logdet, matrix_power, slogdet
from .linalg import inv as inverse, pinv as pinverse
from ._linalg_top import (cholesky, cholesky_inverse, cholesky_solve, geqrf, lu, lu_solve, lu_unpack, matrix_exp,
                          orgqr, pca_lowrank, qr, svd, svd_lowrank, triangular_solve, vander)
from .amp import autocast, get_autocast_dtype, is_autocast_enabled
from .capture import capture_step
from .optim.clip import clip_grad_norm
from .serialization import load, save


# PyTorch's dtype names (vkgrad's dtypes are strings; int64 is int32 here)
float32 = float = "f32"
float16 = half = "f16"
float64 = double = "f64"
int32 = int = int64 = long = "i32"
bfloat16 = "bfloat16"  # (autocast's dtype: runs as f16; no bfloat16 storage -- tensors refuse it by name)
# PyTorch's constants
inf, nan, e, pi, newaxis = _math.inf, _math.nan, _math.e, _math.pi, None


def set_default_dtype(dtype):
    """Dtype of new float tensors and parameters: "f32" or "f16" (f16 storage,
    f32 arithmetic); "f64" for CPU gradient checks."""
    d = canonical_dtype(dtype)
    if d not in ("f32", "f16", "f64"):
        raise ValueError(f"set_default_dtype: expected 'f32', 'f16' or 'f64', got {dtype!r}")
    config.default_dtype = d


def get_default_dtype():
    return config.default_dtype


def set_default_device(device):
    """Device of new tensors: "cpu", "vulkan", "vulkan:N" or "auto" (Vulkan if present)."""
    d = normalize_device(device)  # validates, and raises if Vulkan is missing
    if d != "cpu":
        get_backend(d)
    config.default_device = device if device == "auto" else d


def get_default_device():
    return normalize_device(config.default_device)


def set_num_threads(n):
    """Threads the CPU backend splits a large op over (convolutions' windows, max
    pools, products, softmax rows, elementwise ops of costly functions, optimizer
    updates), as ``torch.set_num_threads``.  Default: the CPUs this process may run
    on, or ``VKGRAD_NUM_THREADS``.  Only independent rows are split, so results do
    not depend on it, except a product's last bits (which BLAS's own threads move
    too): its BLAS runs on one thread inside each of vkgrad's."""
    from .backends import cpu
    cpu.set_num_threads(n)


def get_num_threads():
    """The CPU backend's thread count (see set_num_threads)."""
    from .backends import cpu
    return cpu.get_num_threads()


def device(spec="auto"):
    """PyTorch's torch.device: the device name vkgrad uses ("cpu", "vulkan:N"), for
    ``.to(device)`` and ``device=`` ("auto": Vulkan if present)."""
    return normalize_device(spec)


class _NoCuda:
    """``vkgrad.cuda``: PyTorch scripts ask ``torch.cuda.is_available()``; vkgrad's GPUs
    are Vulkan devices (``vkgrad.vulkan_available()``, device "vulkan"), so CUDA is
    never available here."""

    amp = amp  # (torch.cuda.amp's GradScaler and autocast: vkgrad.amp's)

    @staticmethod
    def is_available():
        return False

    @staticmethod
    def device_count():
        return 0

    @staticmethod
    def manual_seed(value):
        """(vkgrad's one generator: ``vkgrad.manual_seed``)"""
        manual_seed(value)

    manual_seed_all = manual_seed


cuda = _NoCuda()


def compile(model=None, **kwargs):
    """PyTorch's torch.compile, for scripts that call it: the model (or function) as
    it is -- vkgrad runs eagerly; ``vkgrad.capture_step`` records and replays a whole
    training step instead."""
    if model is None:
        return lambda m: m
    return model


def set_float32_matmul_precision(precision):
    """PyTorch's switch for TF32 matmuls: vkgrad's f32 matmuls are f32 ("highest");
    accepted so scripts run."""
    if precision not in ("highest", "high", "medium"):
        raise ValueError(f"set_float32_matmul_precision: expected 'highest', 'high' or 'medium', got {precision!r}")


def get_float32_matmul_precision():
    """"highest": vkgrad's f32 matmuls are f32 (PyTorch's TF32 switch is accepted, not used)."""
    return "highest"


_deterministic = {"on": False, "warn_only": False}


def use_deterministic_algorithms(mode, *, warn_only=False):
    """PyTorch's reproducibility switch, recorded: vkgrad's kernels already give the
    same bits run to run on one device -- sums in fixed orders, no float atomics
    (scatters and col2im gather their sources) --, and the CPU backend's for one
    thread count (``set_num_threads``: a product's last bits follow BLAS's split)."""
    _deterministic.update(on=bool(mode), warn_only=bool(warn_only))


def are_deterministic_algorithms_enabled():
    return _deterministic["on"]


def is_deterministic_algorithms_warn_only_enabled():
    return _deterministic["warn_only"]


def set_num_interop_threads(n):
    """Accepted (PyTorch's inter-op pool): vkgrad runs ops one after another."""
    if not n >= 1:  # (vkgrad.int is a dtype here)
        raise ValueError(f"set_num_interop_threads: expected a positive number, got {n}")


def get_num_interop_threads():
    return 1


def is_inference_mode_enabled():
    """Whether gradients are off (vkgrad's inference_mode is no_grad)."""
    return not config.grad_enabled


class Size(tuple):
    """PyTorch's torch.Size: a tuple of dimensions (vkgrad's shapes are plain tuples,
    equal to it), with ``numel()``."""

    def numel(self):
        n = 1
        for d in self:
            n *= d
        return n

    def __repr__(self):
        return f"vkgrad.Size({list(self)})"


def scalar_tensor(s, dtype=None, device=None, requires_grad=False):
    """A 0-d tensor of the number ``s`` (PyTorch's)."""
    return tensor(s * 1.0, dtype=dtype, device=device, requires_grad=requires_grad)  # (vkgrad.float is a dtype)


def asarray(obj, dtype=None, device=None, copy=None, requires_grad=False):
    """PyTorch's asarray: a tensor of obj (a tensor as it is unless dtype / device /
    copy ask otherwise; arrays, lists, numbers as ``tensor``)."""
    if isinstance(obj, Tensor):
        out = obj.to(device=device, dtype=dtype) if (device or dtype) else obj
        out = out.clone() if copy and out is obj else out
        return out.requires_grad_(True) if requires_grad and not out.requires_grad else out
    return tensor(obj, dtype=dtype, device=device, requires_grad=requires_grad)


def typename(obj):
    """PyTorch's: "torch.FloatTensor"-style names of tensors (vkgrad's: the dtype's), a
    type's qualified name otherwise."""
    if isinstance(obj, Tensor):
        return f"vkgrad.{obj.dtype}"
    t = obj if isinstance(obj, type) else type(obj)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def set_anomaly_enabled(mode, check_nan=True):
    """PyTorch's torch.set_anomaly_enabled: autograd.set_detect_anomaly(mode, check_nan)."""
    from .autograd import set_detect_anomaly
    set_detect_anomaly(mode, check_nan)


def is_anomaly_enabled():
    return config.detect_anomaly


def is_anomaly_check_nan_enabled():
    return config.anomaly_check_nan


def set_check_finite(flag):
    """Whether backward() reads the loss and raises on NaN/inf (default True)."""
    config.check_finite_loss = bool(flag)


def memory_stats(device=None):
    """The memory pool of ``device`` (default: the default device): bytes of live
    tensors ("allocated_bytes": with blocks pending work still holds) and of the
    arenas holding them ("reserved_bytes").  The cpu device keeps no pool (raises)."""
    return get_backend(device or get_default_device()).memory_stats()


def memory_allocated(device=None):
    """Bytes of live tensors on ``device`` (see ``memory_stats``)."""
    return memory_stats(device)["allocated_bytes"]


def memory_reserved(device=None):
    """Bytes of the arenas on ``device`` (see ``memory_stats``)."""
    return memory_stats(device)["reserved_bytes"]


def empty_cache(device=None):
    """Wait for ``device``'s work and give back the arenas at the end of its pool
    that hold no tensor (they grow while training and are kept for reuse); the
    bytes released (0 on the cpu device)."""
    return get_backend(device or get_default_device()).empty_cache()


def info(file=None):
    """Print the devices, the shader build and the default backend."""
    import sys
    from .backends import devices as _devices
    out = file or sys.stdout
    print(f"vkgrad {__version__}", file=out)
    print(f"default device: {get_default_device()} (setting {config.default_device!r}), "
          f"default dtype: {config.default_dtype}", file=out)
    for d in _devices():
        extras = ", ".join(f"{k}={v}" for k, v in d.items() if k not in ("device", "name"))
        print(f"  {d['device']:<10} {d['name']}  ({extras})", file=out)
    from .backends import cpu as _cpu
    print(_cpu.build_info(), file=out)
    try:
        from .backends import vulkan as _vk
        print(_vk.shader_build_info(), file=out)
        if get_default_device().startswith("vulkan"):
            be = get_backend(get_default_device())
            print(f"arena: {be.arena_kind}-visible memory, {be.counters['arena_bytes']} bytes in "
                  f"{len(be.arenas)} arena(s) of at most {be.max_words * 4} bytes each", file=out)
            print(f"kernels: large matmuls matmul_{be.matmul_kernel}"
                  + (f" ({be.matmul_tile} x {be.matmul_tile} blocks)" if be.matmul_kernel == "sm" else "")
                  + ", inputs read as " + ("texel buffers" if be._twins else "storage buffers"),
                  file=out)
    except ImportError as e:
        print(f"Vulkan backend unavailable: {e}", file=out)


__all__ = ["Tensor", "Parameter", "tensor", "zeros", "ones", "full", "zeros_like", "ones_like", "full_like",
           "arange", "linspace", "eye",
           "randn", "rand", "randint", "backward", "grad_tape", "no_grad", "inference_mode", "enable_grad",
           "is_grad_enabled", "Gradients", "gradcheck", "manual_seed", "Generator", "get_rng_state", "set_rng_state", "set_printoptions", "FloatTensor", "DoubleTensor", "HalfTensor", "IntTensor", "LongTensor",
           "clip_grad_norm", "save", "load", "set_default_dtype", "get_default_dtype", "set_default_device",
           "get_default_device", "set_num_threads", "get_num_threads", "devices", "info", "set_check_finite",
           "get_float32_matmul_precision", "use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
           "is_deterministic_algorithms_warn_only_enabled", "set_num_interop_threads", "get_num_interop_threads",
           "is_inference_mode_enabled", "Size", "scalar_tensor", "asarray", "typename",
           "set_anomaly_enabled", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled", "func", "vmap", "nn", "optim", "data",
           "functional", "BackendError", "amp", "autocast", "is_autocast_enabled", "get_autocast_dtype", "parallel", "capture_step", "memory_stats",
           "memory_allocated", "memory_reserved", "empty_cache"] + list(_ops_all)


# PyTorch's function forms of Tensor methods (torch.relu_(x), torch.ravel(x), ...): the method called
_METHOD_FUNCTIONS = ("abs_", "acos_", "acosh_", "addmv_", "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_",
                     "clamp_max_", "clamp_min_", "clip_", "cos_", "cosh_", "deg2rad_", "erf_", "erfc_", "exp2_", "exp_",
                     "expm1_", "fix_", "floor_", "frac_", "gcd_", "i0_", "lcm_", "ldexp_", "log10_", "log1p_", "log2_",
                     "log_", "logit_", "nan_to_num_", "neg_", "negative_", "rad2deg_", "reciprocal_", "relu_", "round_",
                     "rsqrt_", "sigmoid_", "sin_", "sinc_", "sinh_", "sqrt_", "square_", "tan_", "tanh_", "trunc_",
                     "ravel", "adjoint", "fill_", "put", "index_put_", "real", "is_signed", "detach", "detach_",
                     "split_with_sizes", "resize_as_")


def _method_function(name):
    def fn(input, *args, **kwargs):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: expected a vkgrad Tensor, got {type(input).__name__}")
        return getattr(input, name)(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``input.{name}(...)`` as a function (PyTorch's torch.{name})."
    return fn


for _name in _METHOD_FUNCTIONS:
    if _name not in globals():
        globals()[_name] = _method_function(_name)
__all__ += [n for n in _METHOD_FUNCTIONS if n not in __all__]


def _accepting_out():
    """PyTorch's ``out=`` on the functions (``tensor.with_out``); vkgrad's own calls
    go to vkgrad.ops, unwrapped."""
    import inspect

    from .tensor import with_out
    g = globals()
    for name in _ops_all:
        fn = g.get(name)
        if inspect.isfunction(fn) and "out" not in inspect.signature(fn).parameters:
            g[name] = with_out(fn)


_accepting_out()
