"""``vkgrad.nn.functional``: the functional API under PyTorch's module path
(``import vkgrad.nn.functional as F``); the same functions as ``vkgrad.functional``
but for ``cross_entropy``, which is PyTorch's here -- of logits, the fused
``softmax_cross_entropy`` -- where ``vkgrad.cross_entropy`` is ggmlR's, of
probabilities."""
from ..ops import *  # noqa: F401,F403
from ..ops import __all__  # noqa: F401
from ..ops import softmax_cross_entropy as cross_entropy  # noqa: F401  (PyTorch's F.cross_entropy)
