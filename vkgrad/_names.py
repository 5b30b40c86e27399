"""PyTorch's keyword spellings beside NumPy's, for users coming from either."""
import functools

_ALIASES = (("dim", "axis"), ("keepdim", "keepdims"))


def torch_kwargs(fn):
    """Let ``fn`` (which takes ``axis`` / ``keepdims``) also take PyTorch's ``dim`` /
    ``keepdim``; both spellings of one argument at once is an error."""
    @functools.wraps(fn)
    def wrapper(*args, **kw):
        for torch_name, name in _ALIASES:
            if torch_name in kw:
                if name in kw:
                    raise TypeError(f"{fn.__name__}: give {name}= or {torch_name}=, not both")
                kw[name] = kw.pop(torch_name)
        return fn(*args, **kw)
    return wrapper
