"""Optimizers and schedulers; updates run on the parameters' device."""
from . import lr_scheduler
from .adam import Adagrad, Adam, AdamW, RMSprop
from .clip import clip_grad_norm
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler", "clip_grad_norm"]
