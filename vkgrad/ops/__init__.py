"""Every op once, forward and backward, written against backend primitives."""
from .elementwise import (add, affine, clamp, div, eq, exp, gelu, log, mul, neg, pow, relu,
                          sigmoid, sqrt, sub, tanh, to)
from .nn import (batch_norm, cross_entropy, dropout, linear, log_softmax, matmul, mse_loss,
                 softmax, softmax_cross_entropy)
from .shape import argmax, getitem, max, mean, reshape, sum, transpose

__all__ = ["add", "affine", "clamp", "div", "eq", "exp", "gelu", "log", "mul", "neg", "pow", "relu",
           "sigmoid", "sqrt", "sub", "tanh", "to", "batch_norm", "cross_entropy", "dropout",
           "linear", "log_softmax", "matmul", "mse_loss", "softmax", "softmax_cross_entropy",
           "max", "argmax", "mean", "reshape", "sum", "transpose", "getitem"]
