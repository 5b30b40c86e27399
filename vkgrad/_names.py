"""PyTorch's keyword spellings beside NumPy's, for users coming from either."""
import functools
import inspect

_ALIASES = (("dim", "axis"), ("dims", "axis"), ("keepdim", "keepdims"))
_CASTS = ("sum", "mean", "prod", "cumsum", "cumprod", "norm")  # (PyTorch's dtype=: the input cast first)


def torch_kwargs(fn):
    """Let ``fn`` (which takes ``axis`` / ``keepdims``) also take PyTorch's ``dim`` /
    ``keepdim`` (and, with a ``correction``, ``unbiased`` / ``ddof``; sum / mean / prod /
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
