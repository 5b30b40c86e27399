"""Every op once, forward and backward, written against backend primitives."""
from .elementwise import (acos, acosh, arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh, asin, asinh, atan,
                          atan2, atanh, digamma, erfc, erfinv, hypot, lgamma)
from .elementwise import (abs, add, affine, ceil, celu, clamp, clone, cos, cosh, div, elu, eq, erf, exp, exp2,
                          expm1, floor, frac, ge, isfinite, isinf, isnan, nan_to_num, gelu, gt, hardshrink, hardsigmoid, hardswish, hardtanh, le,
                          leaky_relu, log, log10, log1p, log2, logsigmoid, lt, masked_fill, maximum, minimum, mish,
                          mul, neg, outer, pow, prelu, reciprocal, relu, relu6, round, rsqrt, selu, sigmoid, sign, silu, sin,
                          sinh, softplus, softshrink, softsign, sqrt, square, sub, tan, tanh, tanhshrink, threshold,
                          to, trunc, where)
from .nn import (bilinear, embedding_bag, gumbel_softmax, batch_norm, binary_cross_entropy, binary_cross_entropy_with_logits, bmm, cross_entropy, dropout,
                 dropout1d, dropout2d, dropout3d, embedding, glu, group_norm, huber_loss, instance_norm, kl_div, l1_loss,
                 layer_norm, linear, log_softmax, pairwise_distance, pixel_shuffle, pixel_unshuffle,
                 matmul, mse_loss, nll_loss, normalize, cosine_similarity, one_hot, scaled_dot_product_attention,
                 smooth_l1_loss, softmax, softmax_cross_entropy)
from .conv import (affine_grid, grid_sample, max_unpool1d, max_unpool2d, channel_shuffle, conv_transpose1d, fold, local_response_norm, unfold, adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool1d, adaptive_max_pool2d, avg_pool1d, avg_pool2d, avg_pool3d, conv1d, conv2d, conv3d, conv_transpose2d,
                   interpolate, max_pool1d, max_pool2d, max_pool3d)
from .einsum import einsum
from ._core import int_as_f32
from .compat import (addcdiv, addcmul, allclose, isin, atleast_1d, atleast_2d, atleast_3d, broadcast_shapes,
                     broadcast_tensors, deg2rad, divide, dsplit, equal, fliplr, flipud, floor_divide, heaviside, hsplit,
                     isclose, logical_and, logical_not, logical_or, logical_xor, bitwise_and, bitwise_or,
                     bitwise_xor, bitwise_not, bitwise_left_shift, bitwise_right_shift, is_integer_pair, multiply,
                     negative, positive, rad2deg, rot90, subtract, tensor_split, true_divide, vsplit)
from .compat import (addmm, all, any, cdist, clamp_min, clamp_max, clip, column_stack, dot, dstack, flatten, fmod,
                     hstack, lerp, logaddexp, logit, meshgrid, mm, movedim, moveaxis, mv, narrow, ne, permute, remainder,
                     repeat_interleave, squeeze, swapaxes, swapdims, t, unflatten, unsqueeze, vstack, xlogy)
from .losses import (ctc_loss, cosine_embedding_loss, gaussian_nll_loss, hinge_embedding_loss, margin_ranking_loss,
                     multi_margin_loss, multilabel_margin_loss, multilabel_soft_margin_loss, poisson_nll_loss,
                     soft_margin_loss, triplet_margin_loss, triplet_margin_with_distance_loss)
from .indexing import (argwhere, bincount, bucketize, histc, index_add, index_copy, index_fill, index_put,
                       masked_scatter, masked_select,
                       nonzero, scatter, scatter_reduce, searchsorted, select, take, unique, unique_consecutive)
from .products import (addbmm, addmv, addr, baddbmm, block_diag, cartesian_prod, corrcoef, cov, cross,
                       cumulative_trapezoid, diff, kron, tensordot, trapezoid, trapz)
from .nn import alpha_dropout, feature_alpha_dropout, pdist, rms_norm, rrelu, softmin
from .conv import (adaptive_avg_pool3d, adaptive_max_pool3d, conv_transpose3d, lp_pool1d, lp_pool2d, lp_pool3d,
                   max_unpool3d)
from .rnn import recurrence
from .stats import (aminmax, count_nonzero, cummax, cummin, logcumsumexp, median, msort, nanmean, nanmedian,
                    nanquantile, nansum, quantile, std_mean, var_mean)
from .extras import *  # noqa: F401,F403  (PyTorch's remaining spellings: see extras.__all__)
from .extras import __all__ as _extras_all
from .shape import (amax, amin, cumprod, norm, prod, argmax, argmin, argsort, broadcast_to, cat, chunk, cumsum, diag, diagonal, flip, gather, scatter_add,
                    take_along_dim, sort, topk, kthvalue, roll, tril, triu, getitem, index_select, logsumexp, max, mean, min, pad,
                    reshape, split, stack, std, sum, tile, trace, transpose, unbind, var)

__all__ = ["abs", "add", "affine", "clamp", "div", "eq", "exp", "gelu", "log", "mul", "neg", "pow", "relu",
           "sigmoid", "sqrt", "sub", "tanh", "to", "batch_norm", "cross_entropy", "dropout",
           "linear", "log_softmax", "matmul", "bmm", "mse_loss", "softmax", "softmax_cross_entropy",
           "layer_norm", "max", "argmax", "mean", "var", "std", "reshape", "sum", "transpose", "getitem", "cat",
           "stack", "clone", "one_hot", "maximum", "minimum", "gt", "lt", "ge", "le", "where", "embedding",
           "leaky_relu", "silu", "elu", "softplus",
           "binary_cross_entropy_with_logits", "conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
           "conv1d", "max_pool1d", "avg_pool1d", "interpolate", "group_norm", "dropout2d", "conv_transpose2d",
           "min", "argmin", "logsumexp", "broadcast_to", "split", "chunk", "unbind", "masked_fill",
           "scaled_dot_product_attention", "index_select", "flip", "pad", "normalize", "cosine_similarity", "tile", "recurrence",
           "hardtanh", "relu6", "hardsigmoid", "hardswish", "mish", "logsigmoid", "softsign", "selu", "celu", "prelu",
           "binary_cross_entropy", "l1_loss", "smooth_l1_loss", "huber_loss", "nll_loss", "kl_div",
           "cumsum", "roll", "tril", "triu", "einsum", "conv3d", "max_pool3d", "avg_pool3d",
           "adaptive_avg_pool1d", "dropout1d", "dropout3d", "glu", "instance_norm", "pairwise_distance",
           "pixel_shuffle", "pixel_unshuffle", "adaptive_max_pool1d", "adaptive_max_pool2d",
           "sin", "cos", "tan", "sinh", "cosh", "log1p", "expm1", "erf", "exp2", "log2", "log10", "reciprocal",
           "rsqrt", "square", "sign", "floor", "ceil", "round", "trunc", "frac", "tanhshrink", "softshrink",
           "hardshrink", "threshold", "outer", "diagonal", "diag", "trace",
           "margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss", "cosine_embedding_loss",
           "triplet_margin_loss", "multi_margin_loss", "multilabel_soft_margin_loss", "poisson_nll_loss",
           "gaussian_nll_loss", "gather", "scatter_add", "take_along_dim", "sort", "argsort", "topk", "kthvalue",
           "conv_transpose1d", "unfold", "fold", "channel_shuffle", "local_response_norm", "bilinear", "embedding_bag",
           "max_unpool1d", "max_unpool2d", "amax", "amin", "norm", "isnan", "isinf", "isfinite", "nan_to_num",
           "addmm", "all", "any", "clamp_min", "clamp_max", "clip", "dot", "flatten", "fmod", "lerp", "mm", "movedim",
           "moveaxis", "mv", "narrow", "ne", "permute", "remainder", "repeat_interleave", "squeeze", "swapaxes",
           "swapdims", "t", "unflatten", "unsqueeze", "prod", "cumprod", "ctc_loss", "affine_grid", "grid_sample", "gumbel_softmax",
           "cdist", "column_stack", "dstack", "hstack", "vstack", "logaddexp", "logit", "meshgrid", "xlogy",
           "acos", "acosh", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh", "asin", "asinh",
           "atan", "atan2", "atanh", "hypot",
           "aminmax", "count_nonzero", "cummax", "cummin", "logcumsumexp", "median", "msort", "nanmean", "nanmedian",
           "nanquantile", "nansum", "quantile", "std_mean", "var_mean",
           "argwhere", "bincount", "bucketize", "histc", "index_put", "masked_scatter", "index_add", "index_copy", "index_fill", "masked_select",
           "nonzero", "scatter", "scatter_reduce", "searchsorted", "select", "take", "unique", "unique_consecutive",
           "addbmm", "addmv", "addr", "baddbmm", "block_diag", "cartesian_prod", "corrcoef", "cov", "cross",
           "cumulative_trapezoid", "diff", "kron", "tensordot", "trapezoid", "trapz",
           "addcdiv", "addcmul", "allclose", "atleast_1d", "atleast_2d", "atleast_3d", "broadcast_shapes",
           "broadcast_tensors", "deg2rad", "divide", "dsplit", "equal", "fliplr", "flipud", "floor_divide",
           "heaviside", "hsplit", "isclose", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
           "bitwise_left_shift", "bitwise_right_shift", "logical_and", "logical_not", "logical_or", "logical_xor", "multiply",
           "negative", "positive", "isin", "rad2deg", "rot90", "subtract", "tensor_split", "true_divide", "vsplit",
           "alpha_dropout", "feature_alpha_dropout", "pdist", "rms_norm", "rrelu", "softmin", "lp_pool1d", "lp_pool2d",
           "adaptive_avg_pool3d", "adaptive_max_pool3d", "lp_pool3d", "conv_transpose3d", "max_unpool3d", "multilabel_margin_loss",
           "triplet_margin_with_distance_loss", "digamma", "erfc", "erfinv", "lgamma"] + list(_extras_all)


def _rounded(kw):
    return kw.get("rounding_mode") is not None  # (div / divide: a rounded quotient of integers is one)


# int32 operands of the arithmetic (PyTorch's arange(5) + 1, labels - 1, idx // 2, where(mask, labels, -100)):
# the operands' positions, and when integer operands give an integer result
for _name, _at, _int in (("add", (0, 1), True), ("sub", (0, 1), True), ("mul", (0, 1), True),
                         ("div", (0, 1), _rounded), ("true_divide", (0, 1), False), ("divide", (0, 1), _rounded),
                         ("neg", (0,), True), ("negative", (0,), True), ("abs", (0,), True), ("maximum", (0, 1), True),
                         ("minimum", (0, 1), True), ("floor_divide", (0, 1), True), ("remainder", (0, 1), True),
                         ("fmod", (0, 1), True), ("clamp", (0, 1, 2), True), ("clip", (0, 1, 2), True),
                         ("square", (0,), True), ("sign", (0,), True), ("pow", (0, 1), "round"),
                         ("where", (1, 2), True), ("floor", (0,), True), ("ceil", (0,), True),
                         ("trunc", (0,), True), ("fix", (0,), True), ("round", (0,), True), ("relu", (0,), True),
                         ("matmul", (0, 1), True), ("mm", (0, 1), True)):
    globals()[_name] = int_as_f32(globals()[_name], at=_at, int_result=_int)


def _integer_powers(fn):
    import functools
    import numbers

    from ..tensor import Tensor

    @functools.wraps(fn)
    def pow(x, exponent):
        # (PyTorch refuses: an int32 result of 2 ** -1 would silently be 0)
        if isinstance(x, Tensor) and x.dtype == "i32" and isinstance(exponent, numbers.Integral) and exponent < 0:
            raise ValueError(f"pow: integers to negative integer powers are not allowed (int32 tensor ** "
                             f"{exponent}); make the base float first")
        return fn(x, exponent)
    return pow


pow = _integer_powers(pow)
# the float functions of int32 tensors: in f32, as PyTorch's (sqrt(arange(5)), exp(labels))
for _name in ("exp", "log", "sqrt", "rsqrt", "sigmoid", "tanh", "sin", "cos", "tan", "sinh", "cosh", "log1p", "expm1",
              "erf", "erfc", "erfinv", "exp2", "log2", "log10", "reciprocal", "atan", "asin", "acos", "asinh", "acosh",
              "atanh", "arctan", "arcsin", "arccos", "arcsinh", "arccosh", "arctanh", "lgamma", "digamma", "logit",
              "deg2rad", "rad2deg"):
    globals()[_name] = int_as_f32(globals()[_name], int_result=False)
for _name in ("atan2", "arctan2", "hypot", "logaddexp", "float_power", "xlogy"):
    globals()[_name] = int_as_f32(globals()[_name], at=(0, 1), int_result=False)
