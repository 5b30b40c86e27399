"""PyTorch's keyword spellings beside NumPy's, for users coming from either."""
import functools
import inspect

_ALIASES = (("dim", "axis"), ("dims", "axis"), ("keepdim", "keepdims"))
_CASTS = ("sum", "mean", "prod", "cumsum", "cumprod", "norm")  # (PyTorch's dtype=: the input cast first)


def torch_kwargs(fn):
    """Let ``fn`` (which takes ``axis`` / ``keepdims``) also take PyTorch's ``dim`` /
    ``keepdim`` (and, with a ``correction``, ``unbiased`` / ``ddof``, and PyTorch's
    positional ``var(x, dim, unbiased, keepdim)`` -- a bool third: unbiased; sum / mean / prod /
    cumsum / cumprod / norm PyTorch's ``dtype``: the input cast to it first); both
    spellings of one argument at once is an error."""
    params = inspect.signature(fn).parameters
    corrects = "correction" in params  # (var / std: PyTorch's older unbiased=, NumPy's ddof=)
    casts = fn.__name__ in _CASTS and "dtype" not in params

    @functools.wraps(fn)
    def wrapper(*args, **kw):
        for torch_name, name in _ALIASES:
            if torch_name in kw:
                if name in kw:
                    raise TypeError(f"{fn.__name__}: give {name}= or {torch_name}=, not both")
                kw[name] = kw.pop(torch_name)
        if corrects and len(args) >= 3 and isinstance(args[2], bool):  # PyTorch's var(x, dim, unbiased, keepdim)
            if "unbiased" in kw or "correction" in kw or "ddof" in kw or len(args) > 4 or (
                    len(args) == 4 and "keepdims" in kw):
                raise TypeError(f"{fn.__name__}: ({fn.__name__}(x, dim, unbiased, keepdim) is PyTorch's positional "
                                "form) got unbiased or keepdim twice")
            kw["correction"] = 1 if args[2] else 0
            if len(args) == 4:
                kw["keepdims"] = args[3]
            args = args[:2]
        if corrects:
            for old, conv in (("unbiased", lambda v: 1 if v else 0), ("ddof", int)):
                if old in kw:
                    if "correction" in kw:
                        raise TypeError(f"{fn.__name__}: give correction= or {old}=, not both")
                    kw["correction"] = conv(kw.pop(old))
        if casts and "dtype" in kw:
            dtype = kw.pop("dtype")
            if dtype is not None:
                args = (args[0].to(dtype=dtype),) + args[1:]
        return fn(*args, **kw)
    return wrapper
