"""Modules: Module, Linear, Embedding, BatchNorm1d, LayerNorm, Dropout, Sequential, ModuleList, Identity,
Flatten, activations, losses."""
from ..tensor import Parameter
from .layers import (ELU, GELU, BatchNorm1d, BCEWithLogitsLoss, CrossEntropyLoss, Dropout, Embedding, Flatten, Identity, LayerNorm,
                     LeakyReLU, Linear, LogSoftmax, ModuleList, MSELoss, ReLU, Sequential, Sigmoid, SiLU, Softmax,
                     Softplus, Tanh)
from . import init
from .module import Module

__all__ = ["Module", "Parameter", "Linear", "Embedding", "BatchNorm1d", "LayerNorm", "Dropout", "Sequential",
           "ModuleList", "Identity", "Flatten", "ReLU", "Sigmoid", "Tanh", "GELU", "SiLU", "LeakyReLU", "ELU",
           "Softplus", "Softmax", "LogSoftmax", "CrossEntropyLoss", "BCEWithLogitsLoss", "MSELoss",
           "init"]
