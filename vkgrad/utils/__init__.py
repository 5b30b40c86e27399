"""PyTorch's ``torch.utils`` layout: ``vkgrad.utils.data`` is ``vkgrad.data``;
``vkgrad.utils.checkpoint`` recomputes activations in the backward."""
from . import checkpoint, data

__all__ = ["checkpoint", "data"]
