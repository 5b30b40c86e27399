"""``vkgrad.nn.functional``: the functional API under PyTorch's module path
(``import vkgrad.nn.functional as F``); the same functions as ``vkgrad.functional``
but for ``cross_entropy``, which is PyTorch's here -- of logits, the fused
``softmax_cross_entropy`` -- where ``vkgrad.cross_entropy`` is ggmlR's, of
probabilities."""
from ..ops import *  # noqa: F401,F403
from ..ops import __all__  # noqa: F401
from ..ops import softmax_cross_entropy as cross_entropy  # noqa: F401  (PyTorch's F.cross_entropy)


def _accepting_inplace(fn):
    """PyTorch's F.<activation>(x, ..., inplace=False), the flag by name or as the
    positional one after the function's own: ``inplace=True`` overwrites x, as
    PyTorch's (``tensor.in_place_if``)."""
    import inspect

    from ..tensor import in_place_if
    n = len([q for q in inspect.signature(fn).parameters.values() if q.kind is q.POSITIONAL_OR_KEYWORD])

    def f(*args, inplace=False, **kwargs):
        if len(args) == n + 1:
            args, inplace = args[:-1], args[-1]
        if not args:
            return fn(**kwargs)  # (fn names what is missing)
        return in_place_if(inplace, args[0], fn.__name__ + "_", lambda t: fn(t, *args[1:], **kwargs))
    f.__name__ = f.__qualname__ = fn.__name__
    f.__doc__ = fn.__doc__
    f.accepts_inplace_of = fn
    return f


for _name in ("relu", "relu6", "leaky_relu", "elu", "selu", "celu", "silu", "mish", "hardtanh", "hardswish",
              "hardsigmoid", "threshold", "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
              "feature_alpha_dropout", "rrelu"):
    globals()[_name] = _accepting_inplace(globals()[_name])


def _in_place(name):
    """PyTorch's F.<activation>_(x, ...): x overwritten with the activation (see
    Tensor._inplace_of for the gradient)."""
    fn = globals()[name].accepts_inplace_of

    def f(x, *args, **kwargs):
        return x._inplace_of(name + "_", lambda t: fn(t, *args, **kwargs))
    f.__name__ = f.__qualname__ = name + "_"
    f.__doc__ = f"``{name}`` in place."
    return f


for _name in ("relu", "elu", "leaky_relu", "hardtanh", "celu", "selu", "rrelu", "threshold"):
    globals()[_name + "_"] = _in_place(_name)


def _with_indices(name):
    fn = globals()[name]

    def f(*args, **kwargs):
        return fn(*args, **dict(kwargs, return_indices=True))
    f.__name__ = f.__qualname__ = name + "_with_indices"
    f.__doc__ = f"``{name}(..., return_indices=True)``: (values, indices)."
    return f


for _name in ("max_pool1d", "max_pool2d", "max_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d",
              "adaptive_max_pool3d"):
    globals()[_name + "_with_indices"] = _with_indices(_name)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """PyTorch's deprecated F.upsample: interpolate."""
    return interpolate(input, size, scale_factor, mode, align_corners)  # noqa: F405


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, "nearest")  # noqa: F405


def upsample_bilinear(input, size=None, scale_factor=None):
    """PyTorch's deprecated F.upsample_bilinear: bilinear with align_corners=True."""
    return interpolate(input, size, scale_factor, "bilinear", True)  # noqa: F405


# PyTorch's loss signatures: the deprecated size_average / reduce still in their positional places (an
# old call's F.nll_loss(x, y, w, None, 0) reaches ignore_index, not reduction), folded into reduction as
# PyTorch folds them (reduce=False: "none"; else size_average=False: "sum"; else "mean")
_TORCH_LOSSES = {
    "cross_entropy": ("weight", "size_average", "ignore_index", "reduce", "reduction", "label_smoothing"),
    "nll_loss": ("weight", "size_average", "ignore_index", "reduce", "reduction"),
    "mse_loss": ("size_average", "reduce", "reduction"), "l1_loss": ("size_average", "reduce", "reduction"),
    "smooth_l1_loss": ("size_average", "reduce", "reduction", "beta"),
    "binary_cross_entropy": ("weight", "size_average", "reduce", "reduction"),
    "binary_cross_entropy_with_logits": ("weight", "size_average", "reduce", "reduction", "pos_weight"),
    "kl_div": ("size_average", "reduce", "reduction", "log_target"),
    "poisson_nll_loss": ("log_input", "full", "size_average", "eps", "reduce", "reduction"),
    "margin_ranking_loss": ("margin", "size_average", "reduce", "reduction"),
    "hinge_embedding_loss": ("margin", "size_average", "reduce", "reduction"),
    "soft_margin_loss": ("size_average", "reduce", "reduction"),
    "multilabel_soft_margin_loss": ("weight", "size_average", "reduce", "reduction"),
    "cosine_embedding_loss": ("margin", "size_average", "reduce", "reduction"),
    "multi_margin_loss": ("p", "margin", "weight", "size_average", "reduce", "reduction"),
    "triplet_margin_loss": ("margin", "p", "eps", "swap", "size_average", "reduce", "reduction"),
    "multilabel_margin_loss": ("size_average", "reduce", "reduction"),
}
_LOSS_INPUTS = {"margin_ranking_loss": 3, "cosine_embedding_loss": 3, "triplet_margin_loss": 3}


def _torch_loss(name):
    fn, options = globals()[name], _TORCH_LOSSES[name]
    n_in = _LOSS_INPUTS.get(name, 2)

    def f(*args, **kw):
        if len(args) > n_in + len(options):
            raise TypeError(f"{name}: takes at most {n_in + len(options)} positional arguments, got {len(args)}")
        for opt, v in zip(options, args[n_in:]):
            if opt in kw:
                raise TypeError(f"{name}: got {opt} twice")
            kw[opt] = v
        size_average, reduce = kw.pop("size_average", None), kw.pop("reduce", None)
        if size_average is not None or reduce is not None:  # (PyTorch's legacy_get_string)
            kw["reduction"] = "none" if reduce is False else "sum" if size_average is False else "mean"
        return fn(*args[:n_in], **kw)
    f.__name__ = f.__qualname__ = name
    f.__doc__, f.__wrapped__ = fn.__doc__, fn
    return f


for _name in _TORCH_LOSSES:
    globals()[_name] = _torch_loss(_name)


def _softmax_family(fn):
    """PyTorch's F.softmax / log_softmax / softmin(input, dim=None, _stacklevel=3,
    dtype=None): the legacy third positional argument (an int) skipped, dtype the
    fourth; dim None takes PyTorch's implicit axis (0 for 0-, 1- and 3-d inputs,
    else 1; deprecated there: give dim)."""
    def f(input, dim=None, _stacklevel=3, dtype=None, **kwargs):
        if "axis" in kwargs:
            dim = kwargs.pop("axis")
        if kwargs:
            raise TypeError(f"{fn.__name__}: unexpected arguments {sorted(kwargs)}")
        if dim is None:
            dim = 0 if input.ndim in (0, 1, 3) else 1  # (PyTorch's _get_softmax_dim)
        if dtype is not None and input.dtype != dtype:
            input = input.to(dtype=dtype)
        return fn(input, dim)
    f.__name__ = f.__qualname__ = fn.__name__
    f.__doc__ = fn.__doc__
    f.__wrapped__ = fn
    return f


for _name in ("softmax", "log_softmax", "softmin"):
    globals()[_name] = _softmax_family(globals()[_name])
