"""Plain values from what vkgrad.load gives back (numbers and strings as 0-d arrays)."""
import numpy as np


def scalar(v):
    """A Python number or string from itself or a 0-d array."""
    return v.item() if isinstance(v, np.ndarray) else v
