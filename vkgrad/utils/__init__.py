"""PyTorch's ``torch.utils`` layout: ``vkgrad.utils.data`` is ``vkgrad.data``."""
from . import data

__all__ = ["data"]
