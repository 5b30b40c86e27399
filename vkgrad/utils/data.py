"""``vkgrad.data`` under PyTorch's path (``from vkgrad.utils.data import DataLoader``)."""
from ..data import *  # noqa: F401,F403
