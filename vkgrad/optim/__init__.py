"""Optimizers and schedulers; updates run on the parameters' device."""
from . import lr_scheduler, swa_utils
from .adafactor import Adafactor
from .adam import Adadelta, Adagrad, Adam, Adamax, AdamW, NAdam, RAdam, RMSprop
from .asgd import ASGD
from .clip import clip_grad_norm
from .lbfgs import LBFGS
from .muon import Muon
from .rprop import Rprop
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam", "Adadelta", "LBFGS", "Rprop", "ASGD", "Adafactor", "Muon", "lr_scheduler", "swa_utils", "clip_grad_norm"]
