"""The functional API (also re-exported from ``vkgrad``)."""
from .ops import *  # noqa: F401,F403
from .ops import __all__  # noqa: F401
