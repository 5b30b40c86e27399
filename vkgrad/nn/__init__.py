"""Modules: Module, Linear, BatchNorm1d, Dropout, Sequential, activations."""
from ..tensor import Parameter
from .layers import GELU, BatchNorm1d, Dropout, Linear, ReLU, Sequential, Sigmoid, Softmax, Tanh
from .module import Module

__all__ = ["Module", "Parameter", "Linear", "BatchNorm1d", "Dropout", "Sequential", "ReLU",
           "Sigmoid", "Tanh", "GELU", "Softmax"]
