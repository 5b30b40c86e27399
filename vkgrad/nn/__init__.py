"""Modules: Module, Linear, Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, BatchNorm2d, Embedding,
MultiheadAttention, TransformerEncoder(Layer), TransformerDecoder(Layer), RNN, LSTM, GRU (and cells), BatchNorm1d, LayerNorm, Dropout,
Sequential, ModuleList, Identity, Flatten, activations, losses."""
from ..tensor import Parameter
from .layers import (ELU, GELU, AdaptiveAvgPool2d, ConvTranspose2d, Dropout2d, GroupNorm, AvgPool1d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv1d, Conv2d,
                     MaxPool1d, MaxPool2d, Upsample, BCEWithLogitsLoss, CrossEntropyLoss, Dropout, Embedding, Flatten, Identity, LayerNorm,
                     LeakyReLU, Linear, LogSoftmax, ModuleList, MSELoss, MultiheadAttention, ReLU, Sequential, Sigmoid,
                     SiLU, Softmax, Softplus, Tanh, CELU, ReLU6, Hardsigmoid, Hardswish, Mish, LogSigmoid, Softsign,
                     SELU, Hardtanh, PReLU, BCELoss, L1Loss, SmoothL1Loss, HuberLoss, NLLLoss, KLDivLoss,
                     ModuleDict, ParameterDict, ParameterList, Unflatten, Conv3d, MaxPool3d, AvgPool3d, BatchNorm3d,
                     PixelShuffle, PixelUnshuffle, GLU, Softmin, CosineSimilarity, PairwiseDistance, AdaptiveAvgPool1d,
                     ZeroPad1d, ZeroPad2d, ZeroPad3d, ConstantPad1d, ConstantPad2d, ConstantPad3d, ReflectionPad1d,
                     ReflectionPad2d, ReflectionPad3d, ReplicationPad1d, ReplicationPad2d, ReplicationPad3d,
                     CircularPad1d, CircularPad2d, CircularPad3d, Dropout1d, Dropout3d, InstanceNorm1d, InstanceNorm2d,
                     InstanceNorm3d, AdaptiveMaxPool1d, AdaptiveMaxPool2d, Tanhshrink, Softshrink, Hardshrink,
                     Threshold, MarginRankingLoss, HingeEmbeddingLoss, SoftMarginLoss, CosineEmbeddingLoss,
                     TripletMarginLoss, MultiMarginLoss, MultiLabelSoftMarginLoss, PoissonNLLLoss, GaussianNLLLoss,
                     ConvTranspose1d, Unfold, Fold, ChannelShuffle, LocalResponseNorm, Softmax2d, Bilinear,
                     EmbeddingBag, MaxUnpool1d, MaxUnpool2d, CTCLoss,
                     UpsamplingNearest2d, UpsamplingBilinear2d, AlphaDropout, FeatureAlphaDropout, RMSNorm, RReLU,
                     LPPool1d, LPPool2d, AdaptiveAvgPool3d, ConvTranspose3d, MaxUnpool3d, MultiLabelMarginLoss,
                     TripletMarginWithDistanceLoss, LazyLinear, AdaptiveMaxPool3d, LPPool3d, LazyConv1d,
                     LazyConv2d, LazyConv3d, LazyConvTranspose1d, LazyConvTranspose2d, LazyConvTranspose3d,
                     LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d, LazyInstanceNorm1d, LazyInstanceNorm2d,
                     LazyInstanceNorm3d)
from .adaptive import AdaptiveLogSoftmaxWithLoss
from .syncbn import SyncBatchNorm
from .data_parallel import DataParallel
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, _CellBase as RNNCellBase, _RNNBase as RNNBase
from .transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer, TransformerEncoder,
                          TransformerEncoderLayer)
from . import functional, init, utils
from .module import Buffer, Module

__all__ = ["Module", "Parameter", "Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm2d",
           "Conv1d", "MaxPool1d", "AvgPool1d", "Upsample", "GroupNorm", "Dropout2d", "ConvTranspose2d", "Embedding", "BatchNorm1d", "LayerNorm", "MultiheadAttention", "TransformerEncoderLayer",
           "TransformerEncoder", "TransformerDecoderLayer", "TransformerDecoder", "Transformer", "RNN", "LSTM", "GRU",
           "RNNCell", "LSTMCell", "GRUCell", "Dropout", "Sequential",
           "ModuleList", "Identity", "Flatten", "ReLU", "Sigmoid", "Tanh", "GELU", "SiLU", "LeakyReLU", "ELU",
           "Softplus", "Softmax", "LogSoftmax", "CrossEntropyLoss", "BCEWithLogitsLoss", "MSELoss",
           "CELU", "ReLU6", "Hardsigmoid", "Hardswish", "Mish", "LogSigmoid", "Softsign", "SELU", "Hardtanh", "PReLU",
           "BCELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "NLLLoss", "KLDivLoss", "ModuleDict", "ParameterDict",
           "ParameterList", "Unflatten", "Conv3d", "MaxPool3d", "AvgPool3d", "BatchNorm3d",
           "PixelShuffle", "PixelUnshuffle", "GLU", "Softmin", "CosineSimilarity", "PairwiseDistance",
           "AdaptiveAvgPool1d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d",
           "ConstantPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d",
           "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d", "Dropout1d",
           "Dropout3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
           "Tanhshrink", "Softshrink", "Hardshrink", "Threshold", "MarginRankingLoss", "HingeEmbeddingLoss",
           "SoftMarginLoss", "CosineEmbeddingLoss", "TripletMarginLoss", "MultiMarginLoss", "MultiLabelSoftMarginLoss",
           "PoissonNLLLoss", "GaussianNLLLoss", "ConvTranspose1d", "Unfold", "Fold", "ChannelShuffle",
           "LocalResponseNorm", "Softmax2d", "Bilinear", "EmbeddingBag", "MaxUnpool1d",
           "MaxUnpool2d", "CTCLoss", "UpsamplingNearest2d",
           "UpsamplingBilinear2d",
           "init", "functional", "utils", "AlphaDropout", "FeatureAlphaDropout", "RMSNorm", "RReLU", "LPPool1d", "LPPool2d", "AdaptiveAvgPool3d", "ConvTranspose3d", "MaxUnpool3d", "MultiLabelMarginLoss",
           "TripletMarginWithDistanceLoss", "LazyLinear", "AdaptiveMaxPool3d", "LPPool3d", "LazyConv1d",
           "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d",
           "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d",
           "LazyInstanceNorm3d", "AdaptiveLogSoftmaxWithLoss", "SyncBatchNorm", "Buffer", "RNNBase", "RNNCellBase",
           "NLLLoss2d", "DataParallel"]
NLLLoss2d = NLLLoss  # (PyTorch's older name: NLLLoss takes [N, C, H, W] too)
