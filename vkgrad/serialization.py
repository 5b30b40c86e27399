"""save/load as NumPy .npz (arrays only; no pickled code)."""
from __future__ import annotations

import numpy as np

from .nn.module import Module
from .tensor import Tensor


def save(obj, path):
    """Save a Module's state dict, or a dict name -> tensor/array, to ``path`` (.npz)."""
    if isinstance(obj, Module):
        state = obj.state_dict()
    elif isinstance(obj, dict):
        state = {k: (v.numpy() if isinstance(v, Tensor) else np.asarray(v)) for k, v in obj.items()}
    else:
        raise TypeError(f"save: expected a Module or a dict of arrays, got {type(obj).__name__}")
    for k, v in state.items():
        if v.dtype == object:
            raise TypeError(f"save: entry {k!r} is not a numeric array")
    with open(path, "wb") as f:
        np.savez(f, **state)


def load(path, model=None):
    """Read a state dict (name -> NumPy array); with ``model``, also load it into
    the model (names and shapes checked) and return the model."""
    with np.load(path, allow_pickle=False) as z:
        state = {k: z[k] for k in z.files}
    if model is not None:
        return model.load_state_dict(state)
    return state
