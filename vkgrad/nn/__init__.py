"""Modules: Module, Linear, Embedding, BatchNorm1d, LayerNorm, Dropout, Sequential, ModuleList, Identity,
Flatten, activations, losses."""
from ..tensor import Parameter
from .layers import (GELU, BatchNorm1d, CrossEntropyLoss, Dropout, Embedding, Flatten, Identity, LayerNorm, Linear,
                     ModuleList, MSELoss, ReLU, Sequential, Sigmoid, Softmax, Tanh)
from . import init
from .module import Module

__all__ = ["Module", "Parameter", "Linear", "Embedding", "BatchNorm1d", "LayerNorm", "Dropout", "Sequential",
           "ModuleList", "Identity", "Flatten", "ReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "CrossEntropyLoss",
           "MSELoss", "init"]
