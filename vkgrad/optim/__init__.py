"""Optimizers and schedulers; updates run on the parameters' device."""
from . import lr_scheduler, swa_utils
from .adam import Adadelta, Adagrad, Adam, Adamax, AdamW, NAdam, RAdam, RMSprop
from .clip import clip_grad_norm
from .lbfgs import LBFGS
from .rprop import Rprop
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam", "Adadelta", "LBFGS", "Rprop", "lr_scheduler", "swa_utils", "clip_grad_norm"]
