"""save/load as NumPy .npz (arrays only; no pickled code)."""
from __future__ import annotations

import numpy as np

from .nn.module import Module
from .tensor import Tensor

SEP = "/"  # joins the keys of nested dicts in the file (module keys use ".")


def _flatten(obj, prefix, out):
    for k, v in obj.items():
        if not isinstance(k, str) or SEP in k or not k:
            raise TypeError(f"save: keys must be non-empty strings without {SEP!r} (it nests), got {k!r}")
        name = prefix + k
        if isinstance(v, Module):
            v = v.state_dict()
        if isinstance(v, dict):
            if not v:  # kept as a marker: load gives the empty dict back
                out[name + SEP] = np.zeros(0, np.float32)
            _flatten(v, name + SEP, out)
            continue
        a = v.numpy() if isinstance(v, Tensor) else np.asarray(v)
        if a.dtype == object:
            raise TypeError(f"save: entry {name!r} is not a numeric array, a string or a dict "
                            f"(got {type(v).__name__})")
        out[name] = a


def save(obj, path):
    """Save a Module's state dict, or a dict of tensors / arrays / numbers / strings,
    to ``path`` (.npz).  Dicts may nest (e.g. ``{"model": model.state_dict(),
    "opt": opt.state_dict(), "sched": sched.state_dict(), "epoch": 7}``; a Module
    as a value stands for its state dict); ``load`` gives the same nesting back."""
    if isinstance(obj, Module):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        raise TypeError(f"save: expected a Module or a dict of arrays, got {type(obj).__name__}")
    state = {}
    _flatten(obj, "", state)
    with open(path, "wb") as f:
        np.savez(f, **state)


def load(path, model=None, *, map_location=None, weights_only=None, mmap=None):  # noqa: ARG001
    """Read what ``save`` wrote: a dict name -> NumPy array (numbers and strings as
    0-d arrays), nested as it was saved; with ``model``, also load a model's state
    dict into it (names and shapes checked) and return the model.  PyTorch's
    ``map_location``, ``weights_only`` and ``mmap`` are accepted so its code runs:
    nothing is unpickled (arrays only, whatever ``weights_only`` says) and arrays
    have no device (``load_state_dict`` puts them on the model's)."""
    with np.load(path, allow_pickle=False) as z:
        state = {}
        for k in z.files:
            *path_, leaf = k.split(SEP)
            d = state
            for part in path_:
                d = d.setdefault(part, {})
            if leaf:  # (an empty leaf: the marker of an empty dict)
                d[leaf] = z[k]
    if model is not None:
        model.load_state_dict(state)
        return model
    return state
