"""``vkgrad.nn.functional``: the functional API under PyTorch's module path
(``import vkgrad.nn.functional as F``); the same functions as ``vkgrad.functional``
but for ``cross_entropy``, which is PyTorch's here -- of logits, the fused
``softmax_cross_entropy`` -- where ``vkgrad.cross_entropy`` is ggmlR's, of
probabilities."""
from ..ops import *  # noqa: F401,F403
from ..ops import __all__  # noqa: F401
from ..ops import softmax_cross_entropy as cross_entropy  # noqa: F401  (PyTorch's F.cross_entropy)


def _accepting_inplace(fn):
    """PyTorch's F.<activation>(x, ..., inplace=False): the argument accepted, by
    name or as the positional one after the function's own, so its code runs (the
    result is a new tensor, as the activation modules')."""
    import inspect
    n = len([q for q in inspect.signature(fn).parameters.values() if q.kind is q.POSITIONAL_OR_KEYWORD])

    def f(*args, inplace=False, **kwargs):
        if len(args) == n + 1:
            args = args[:-1]
        return fn(*args, **kwargs)
    f.__name__ = f.__qualname__ = fn.__name__
    f.__doc__ = fn.__doc__
    f.accepts_inplace_of = fn
    return f


for _name in ("relu", "relu6", "leaky_relu", "elu", "selu", "celu", "silu", "mish", "hardtanh", "hardswish",
              "hardsigmoid", "threshold", "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
              "feature_alpha_dropout", "rrelu"):
    globals()[_name] = _accepting_inplace(globals()[_name])
