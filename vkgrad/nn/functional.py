"""``vkgrad.nn.functional``: the functional API under PyTorch's module path
(``import vkgrad.nn.functional as F``); the same functions as ``vkgrad.functional``."""
from ..ops import *  # noqa: F401,F403
from ..ops import __all__  # noqa: F401
