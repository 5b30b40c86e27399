"""2-D convolution and pooling over [N, C, H, W] (PyTorch's layout and arguments;
the 1-D forms over [N, C, L] as images of one row, the 3-D ones over [N, C, D, H, W]
as 2-D ones per depth tap),
each as sliding windows gathered into rows (the backend's im2col) and reduced:
by a matmul with the weight (conv2d, bias fused), a row maximum (max_pool2d) or
a row sum (avg_pool2d).  Every backward ends in col2im, the windows' adjoint,
which adds up the gradients of overlapping windows."""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd import composed_vjp, no_grad
from ..backends.base import Window
from ..tensor import Tensor
from ._core import autocast_to, check_tensor, make, promote, same_device
from .nn import linear
from .elementwise import maximum, mul
from .shape import _scaled_sum, _take, cat, pad, sum, transpose


def _pair(op, name, v, lo):
    """An int or a pair of ints, each >= lo, as a pair."""
    vals = (v, v) if isinstance(v, numbers.Integral) and not isinstance(v, bool) else v
    if not (isinstance(vals, (tuple, list)) and len(vals) == 2
            and all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in vals)):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")
    if any(a < lo for a in vals):
        raise ValueError(f"{op}: {name} must be >= {lo}, got {v!r}")
    return int(vals[0]), int(vals[1])


def _empty_output(shape, inputs):
    """A result with no elements (a transposed convolution's output of size 0 along an
    axis, as PyTorch's gives), recorded: the inputs' gradients 0."""
    ins = tuple(t for t in inputs if t is not None)
    be, dt = ins[0].backend, ins[0].dtype
    return make(be.full(tuple(shape), 0.0, dt), be, ins, lambda g: tuple(be.full(t.shape, 0.0, t.dtype) for t in ins))


def _batched(op, x):
    """x as [N, C, H, W] (a [C, H, W] input gets a batch of one) and whether it had one."""
    check_tensor(op, x)
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: expected input [N, C, H, W] (or [C, H, W]), got {list(x.shape)}")
    if x.ndim == 3:
        return x.reshape((1,) + x.shape), False
    return x, True


def _out_size(op, n, k, s, p_before, p_after, d, ceil_mode=False):
    span = n + p_before + p_after - d * (k - 1) - 1
    if span < 0:
        raise ValueError(f"{op}: the window (kernel {k}, dilation {d}) is larger than the padded input ({n} + "
                         f"{p_before + p_after} padding)")
    o = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (o - 1) * s >= n + p_before:  # the last window must start inside (PyTorch's rule)
        o -= 1
    return o


def _window(op, x, kernel, stride, padding, dilation, ceil_mode=False):
    """The Window of x [N, C, H, W] for these arguments, checked."""
    kh, kw = kernel
    H, W = x.shape[2:]
    before, after = _padding(op, kernel, stride, padding, dilation)
    out = tuple(_out_size(op, n, k, s, b, a, d, ceil_mode)
                for n, k, s, b, a, d in zip((H, W), kernel, stride, before, after, dilation))
    return Window((kh, kw), stride, before, dilation, out)


def _padding(op, kernel, stride, padding, dilation):
    """(before, after), a pair each: ``padding`` an int, a pair, 'valid' or 'same'
    (stride 1; an odd total puts the extra row and column after, as PyTorch)."""
    if isinstance(padding, str):
        if padding == "valid":
            before = after = (0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride}")
            total = [d * (k - 1) for d, k in zip(dilation, kernel)]
            before = tuple(t // 2 for t in total)  # the odd one after, as PyTorch
            after = tuple(t - b for t, b in zip(total, before))
        else:
            raise ValueError(f"{op}: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    else:
        before = after = _pair(op, "padding", padding, 0)
    return before, after


def _unfold(x, win):
    """The windows of x [N, C, H, W] as rows [N * OH * OW, C * kh * kw] (zeros
    padded), differentiable: the gradient is col2im of the rows' gradient."""
    be, shape = x.backend, x.shape
    return make(be.im2col(x.handle, win), be, (x,), lambda g: (be.col2im(g, shape, win),),
                vjp=lambda g: (_fold(g, shape, win),))


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation, as ``torch.nn.functional.conv2d``: x [N, C, H, W] (or
    [C, H, W]), weight [OC, C / groups, kh, kw], bias [OC] -> [N, OC, OH, OW].
    ``padding``: an int, a pair, 'valid' or 'same' (stride 1; an odd total puts the
    extra row and column after, as PyTorch); zeros are padded.  ``groups``: the
    channels in that many groups, each group's outputs from its inputs only.  By
    the backend's ``conv2d_fwd`` / ``conv2d_bwd`` where it has them (the CPU's C
    loop), else composed (_conv2d_rows) -- the windows gathered into rows [N * OH *
    OW, C * kh * kw] (im2col; their gradient col2im) times weight^T with the bias
    fused (``linear``), transposed to channels first; create_graph differentiates
    the composition."""
    op = "conv2d"
    x, batched = _batched(op, x)
    check_tensor(op, weight)
    same_device(op, x, weight, bias)
    C = x.shape[1]
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1 or C % groups:
        raise ValueError(f"conv2d: groups must be a positive int dividing the {C} input channels, got {groups!r}")
    G = int(groups)
    if weight.ndim != 4 or weight.shape[1] * G != C or weight.shape[0] % G:
        oc = "out_channels" if G == 1 else f"out_channels (a multiple of groups={G})"
        raise ValueError(f"conv2d: expected weight [{oc}, {C // G}, kh, kw] for input {list(x.shape)}, got weight "
                         f"{list(weight.shape)}")
    OC, Cg, kh, kw = weight.shape
    if min(weight.shape) < 1:
        raise ValueError(f"conv2d: weight {list(weight.shape)} has an empty dimension")
    if bias is not None and (not isinstance(bias, Tensor) or bias.shape != (OC,)):
        raise ValueError(f"conv2d: bias must be a tensor of shape [{OC}], got "
                         f"{list(bias.shape) if isinstance(bias, Tensor) else type(bias).__name__}")
    win = _window(op, x, (kh, kw), _pair(op, "stride", stride, 1), padding, _pair(op, "dilation", dilation, 1))
    x, weight, bias = autocast_to(x, weight, bias)
    if x.dtype != weight.dtype:
        x, weight = promote(op, x, weight)
    K, be = kh * kw, x.backend
    # in one backend call where it runs so (the CPU's C loop)
    xd, wd = x.handle, be.reshape(weight.handle, (OC, Cg * K))
    out = be.conv2d_fwd(xd, wd, None if bias is None else bias.handle, win, G)
    if out is not None:
        def backward(g):
            gx, gw, gb = be.conv2d_bwd(g, xd, wd, win, x.requires_grad, weight.requires_grad,
                                       bias is not None and bias.requires_grad, groups=G)
            return gx, None if gw is None else be.reshape(gw, weight.shape), gb
        out = make(out, be, (x, weight, bias), backward,
                   vjp=composed_vjp(lambda *a: _conv2d_rows(*a, win, G), (x, weight, bias)))
        return out if batched else out.reshape(out.shape[1:])
    out = _conv2d_rows(x, weight, bias, win, G)
    return out if batched else out.reshape(out.shape[1:])


def _conv2d_rows(x, weight, bias, win, G):
    """conv2d composed of recorded ops: the windows' rows (im2col) times weight^T, the
    bias fused (``linear``), transposed to [N, OC, OH, OW]; G groups: small ones as
    broadcast products summed over the window (depthwise convolutions), others one
    product per group, joined."""
    N, C, OC, (OH, OW) = x.shape[0], x.shape[1], weight.shape[0], win.out
    Cg, K, OCg = C // G, weight.shape[2] * weight.shape[3], OC // G
    cols = _unfold(x, win)
    if G == 1:
        rows = linear(cols, weight.reshape(OC, C * K), bias)
        return transpose(rows.reshape(N, OH, OW, OC), (0, 3, 1, 2))
    R = cols.shape[0]
    if OCg * Cg <= 16:  # [R, G, 1, Cg K] * [G, OCg, Cg K], summed: OCg times the windows' size
        rows = sum(cols.reshape(R, G, 1, Cg * K) * weight.reshape(G, OCg, Cg * K), axis=3).reshape(R, OC)
        rows = rows if bias is None else rows + bias
    else:
        rows = cat([linear(cols[:, g * Cg * K:(g + 1) * Cg * K], weight[g * OCg:(g + 1) * OCg].reshape(OCg, Cg * K),
                           None if bias is None else bias[g * OCg:(g + 1) * OCg]) for g in range(G)], axis=1)
    return transpose(rows.reshape(N, OH, OW, OC), (0, 3, 1, 2))


def _fold(cols, shape, win):
    """Rows [N * OH * OW, C * kh * kw] summed back into [N, C, H, W] (``shape``) by
    col2im, differentiable: the gradient is im2col (its adjoint)."""
    be = cols.backend
    return make(be.col2im(cols.handle, tuple(shape), win), be, (cols,), lambda g: (be.im2col(g, win),),
                vjp=lambda g: (_unfold(g, win),))


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """The transposed convolution, as ``torch.nn.functional.conv_transpose2d``: x [N,
    Cin, H, W] (or [Cin, H, W]), weight [Cin, Cout, kh, kw], bias [Cout] -> [N, Cout,
    (H - 1) sh - 2 ph + dh (kh - 1) + oph + 1, ...] -- conv2d's gradient with respect to
    its input: by the backend's ``conv2d_bwd`` where it has it (the CPU's C loop),
    else x's rows times the weight, the windows' rows summed back by col2im (their
    gradient im2col).  ``groups``: weight [Cin, Cout / groups, kh, kw], each
    group of input channels feeding its own Cout / groups outputs (one transposed
    convolution per group, joined along the channels)."""
    op = "conv_transpose2d"
    x, batched = _batched(op, x)
    check_tensor(op, weight)
    same_device(op, x, weight, bias)
    C = x.shape[1]
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1 or C % groups:
        raise ValueError(f"{op}: groups must be a positive int dividing the {C} input channels, got {groups!r}")
    if weight.ndim != 4 or weight.shape[0] != C or min(weight.shape) < 1:
        oc = "out_channels" if groups == 1 else "out_channels / groups"
        raise ValueError(f"{op}: expected weight [{C}, {oc}, kh, kw] for input {list(x.shape)}, "
                         f"got weight {list(weight.shape)}")
    G, og = int(groups), weight.shape[1]  # (og: outputs per group)
    if bias is not None and (not isinstance(bias, Tensor) or bias.shape != (og * G,)):
        raise ValueError(f"{op}: bias must be a tensor of shape [{og * G}], got "
                         f"{list(bias.shape) if isinstance(bias, Tensor) else type(bias).__name__}")
    Cin, kh, kw, Cout = C, weight.shape[2], weight.shape[3], og * G
    st, pad, dil = (_pair(op, "stride", stride, 1), _pair(op, "padding", padding, 0),
                    _pair(op, "dilation", dilation, 1))
    opad = _pair(op, "output_padding", output_padding, 0)
    if any(o >= s and o >= d for o, s, d in zip(opad, st, dil)):
        raise ValueError(f"{op}: output_padding {output_padding!r} must be smaller than the stride {stride!r} "
                         f"or the dilation {dilation!r}")
    N, (H, W) = x.shape[0], x.shape[2:]
    out = tuple((n - 1) * s - 2 * p + d * (k - 1) + o + 1
                for n, s, p, d, k, o in zip((H, W), st, pad, dil, (kh, kw), opad))
    if min(out) < 0:
        raise ValueError(f"{op}: the output would be {list(out)} for input {list(x.shape)}")
    if min(out) == 0:  # (an empty result, as PyTorch's)
        y = _empty_output((N, Cout) + out, (x, weight, bias))
        return y if batched else y.reshape(y.shape[1:])
    x, weight, bias = autocast_to(x, weight, bias)
    if x.dtype != weight.dtype:
        x, weight = promote(op, x, weight)
    win, be = Window((kh, kw), st, pad, dil, (H, W)), x.backend
    # conv2d's input gradient (weight [Cin, Cout / G, kh, kw] is that conv2d's, G groups too):
    # by the backend's conv2d_bwd where it runs so (the CPU's C loop)
    xd, wd = x.handle, be.reshape(weight.handle, (Cin, og * kh * kw))
    bd = None if bias is None else bias.handle
    got = None if bias is not None and bias.dtype != x.dtype else \
        be.conv2d_bwd(xd, None, wd, win, True, False, False, x_shape=(N, Cout) + out, groups=G)
    if got is not None:
        y = got[0] if bd is None else be.binary("add", got[0], be.reshape(bd, (Cout, 1, 1)))

        def backward(g):  # (x's gradient is the convolution of g; weight's conv2d's with x, g swapped)
            gx = be.conv2d_fwd(g, wd, None, win, G) if x.requires_grad else None
            gw = be.conv2d_bwd(xd, g, wd, win, False, True, False, groups=G)[1] if weight.requires_grad else None
            gb = be.reduce("sum", g, (0, 2, 3), False) if bias is not None and bias.requires_grad else None
            return gx, None if gw is None else be.reshape(gw, weight.shape), gb
        y = make(y, be, (x, weight, bias), backward,
                 vjp=composed_vjp(lambda *a: _conv_transpose2d_rows(*a, win, out, G), (x, weight, bias)))
    else:
        y = _conv_transpose2d_rows(x, weight, bias, win, out, G)
    return y if batched else y.reshape(y.shape[1:])


def _conv_transpose2d_rows(x, weight, bias, win, out, G):
    """conv_transpose2d composed of recorded ops: x's rows times the weight, summed
    back by col2im (``_fold``) into [N, Cout, *out], the bias added; G groups: one
    such per group, joined along the channels."""
    (N, Cin, H, W), og = x.shape, weight.shape[1]
    if G > 1:
        cg = Cin // G
        return cat([_conv_transpose2d_rows(x[:, g * cg:(g + 1) * cg], weight[g * cg:(g + 1) * cg],
                                           None if bias is None else bias[g * og:(g + 1) * og], win, out, 1)
                    for g in range(G)], 1)
    rows = transpose(x, (0, 2, 3, 1)).reshape(N * H * W, Cin)
    y = _fold(rows @ weight.reshape(Cin, -1), (N, og) + tuple(out), win)
    return y if bias is None else y + bias.reshape(og, 1, 1).to(dtype=y.dtype)


def _pool_args(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    kernel = _pair(op, "kernel_size", kernel_size, 1)
    stride = kernel if stride is None or stride == () else _pair(op, "stride", stride, 1)
    pad = _pair(op, "padding", padding, 0)
    if any(2 * p > k for p, k in zip(pad, kernel)):  # (a window of padding alone: PyTorch's rule)
        raise ValueError(f"{op}: padding {padding!r} must be at most half the kernel size {kernel_size!r}")
    return _window(op, x, kernel, stride, pad, _pair(op, "dilation", dilation, 1), bool(ceil_mode))


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """The maximum of each window, as ``torch.nn.functional.max_pool2d`` (stride
    defaults to the kernel size; padding counts as -inf).  The gradient goes to the
    first maximum of each window in row-major order (PyTorch's choice on ties); a
    NaN in a window is its maximum.  ``return_indices``: also each maximum's
    position in its input plane (h * W + w, int32: PyTorch's, for max_unpool2d)."""
    op = "max_pool2d"
    x, batched = _batched(op, x)
    win = _pool_args(op, x, kernel_size, stride, padding, dilation, ceil_mode)
    be, x_shape = x.backend, x.shape
    y, idx = be.window_max(x.handle, win)
    out = make(y, be, (x,), lambda g: (be.window_scatter(g, idx, x_shape, win),),
               vjp=lambda g: (_window_scatter_t(g, idx, x_shape, win),))
    out = out if batched else out.reshape(out.shape[1:])
    if not return_indices:
        return out
    pos = _tap_positions(Tensor(idx, be), x_shape[2:], win)
    return out, (pos if batched else pos.reshape(pos.shape[1:]))


def _window_columns(idx, x_shape, win, be):
    """[N * OH * OW, C] int32: each window's chosen tap as a column of im2col's rows
    (channel c's taps start at c * kh * kw)."""
    from ..tensor import tensor
    from .shape import reshape
    C = x_shape[1]
    K = win.kernel[0] * win.kernel[1]
    off = tensor((np.arange(C) * K).reshape(1, C, 1, 1).astype(np.float64), dtype="f32", device=be.device)
    cols = transpose(Tensor(idx, be).to(dtype="f32") + off, (0, 2, 3, 1))
    return reshape(cols, (-1, C)).to(dtype="i32").handle


def _window_gather_t(h, ih, x_shape, win):
    """h [N, C, H, W] at each window's chosen tap (``ih``) -> [N, C, OH, OW],
    recorded: the gradient of ``_window_scatter_t``."""
    from .shape import _cols_gather_t, reshape
    N, C = x_shape[:2]
    OH, OW = win.out
    vals = _cols_gather_t(_unfold(h, win), ih, C * win.kernel[0] * win.kernel[1])
    return transpose(reshape(vals, (N, OH, OW, C)), (0, 3, 1, 2))


def _window_scatter_t(g, idx, x_shape, win):
    """g [N, C, OH, OW] placed at each window's chosen tap of [N, C, H, W] (max
    pooling's gradient), recorded; its own gradient gathers there."""
    be = g.backend
    ih = _window_columns(idx, x_shape, win, be)
    return make(be.window_scatter(g.handle, idx, x_shape, win), be, (g,),
                lambda h: (_window_gather_t(Tensor(h, be), ih, x_shape, win).handle,),
                vjp=lambda h: (_window_gather_t(h, ih, x_shape, win),))


def _window_bases(win, be, dtype):
    """Each output position's window origin in the input, rows [OH, 1] and columns
    [OW] (host constants)."""
    (sh, sw), (ph, pw), (OH, OW) = win.stride, win.padding, win.out
    rows = be.host_constant(("win_rows", OH, sh, ph), lambda: (np.arange(OH) * sh - ph).reshape(OH, 1), dtype)
    cols = be.host_constant(("win_cols", OW, sw, pw), lambda: np.arange(OW) * sw - pw, dtype)
    return Tensor(rows, be), Tensor(cols, be)


def _tap_positions(taps, hw, win):
    """Window taps (int32, row-major within the kernel) as positions h * W + w in
    the input plane (f32 arithmetic: exact below 2**24)."""
    from .elementwise import floor
    kw, (dh, dw), W = win.kernel[1], win.dilation, hw[1]
    t = taps.to(dtype="f32")
    r = floor((t + 0.5) * (1.0 / kw))
    rows, cols = _window_bases(win, taps.backend, "f32")
    return ((r * dh + rows) * W + (t - r * kw) * dw + cols).to(dtype="i32")


def _unpool_args(op, x, batched, indices, kernel, stride, padding, output_size, per_axis):
    """A max_unpool's checked arguments: (kernel, stride, padding, batched indices,
    the output's spatial size)."""
    st = kernel if stride is None or stride == () else per_axis(op, "stride", stride, 1)
    pad = per_axis(op, "padding", padding, 0)
    if any(s_ < k for s_, k in zip(st, kernel)):
        raise ValueError(f"{op}: windows that overlap (stride {list(st)} below kernel {list(kernel)}) are not "
                         "supported: a position two windows name would be added twice")
    if not isinstance(indices, Tensor) or indices.dtype != "i32":
        raise TypeError(f"{op}: indices must be max_pool{len(kernel)}d's int32 tensor")
    ib = indices if indices.ndim == x.ndim else indices.reshape((1,) + tuple(indices.shape))
    if ib.shape != x.shape:
        raise ValueError(f"{op}: indices {list(indices.shape)} must have the input's shape "
                         f"{list(x.shape)[int(not batched):]}")
    O = x.shape[2:]
    if output_size is None:
        size = tuple((o - 1) * s_ - 2 * p + k for o, s_, p, k in zip(O, st, pad, kernel))
    else:
        size = tuple(int(v) for v in tuple(output_size)[-len(kernel):])
    for n, o, s_, p, k in zip(size, O, st, pad, kernel):
        if (n + 2 * p - k) // s_ + 1 != o:
            raise ValueError(f"{op}: output size {list(size)} does not give {list(O)} windows of kernel "
                             f"{list(kernel)}, stride {list(st)}, padding {list(pad)}")
    return kernel, st, pad, ib, size


def max_unpool2d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """PyTorch's max_unpool2d: x [N, C, OH, OW] (or [C, OH, OW]) put at ``indices``
    (max_pool2d's, positions in each [H, W] plane) of zeros [N, C, H, W], H = (OH -
    1) stride - 2 padding + kernel (or ``output_size``'s last two); the gradient
    gathers from there.  The positions become window taps and the pool's own
    adjoint scatters them (window_scatter), so the windows must not overlap (stride
    at least the kernel: each position names one window)."""
    op = "max_unpool2d"
    x, batched = _batched(op, x)
    kernel, st, pad, ib, (H, W) = _unpool_args(op, x, batched, indices, _pair(op, "kernel_size", kernel_size, 1),
                                               stride, padding, output_size, _pair)
    OH, OW = x.shape[2:]
    from .elementwise import floor, where
    win = Window(kernel, st, pad, (1, 1), (OH, OW))
    q = ib.to(dtype="f32")
    h = floor((q + 0.5) * (1.0 / W))
    rows, cols = _window_bases(win, x.backend, "f32")
    r, c = h - rows, q - h * W - cols  # the position within its window
    ok = (r >= 0.0) * (r < float(kernel[0])) * (c >= 0.0) * (c < float(kernel[1])) * (q < float(H * W))
    taps = where(ok, r * kernel[1] + c, 0.0).to(dtype="i32")
    be, (N, C) = x.backend, x.shape[:2]
    flat = be.reshape(ib.handle, (N * C, OH * OW))
    bad = be.select(be.cast(ok.handle, x.dtype), be.constant(x.shape, 0.0, x.dtype),
                    be.constant(x.shape, float("nan"), x.dtype))  # a position outside its window: NaN
    from .shape import _cols_gather_t
    y = make(be.window_scatter(be.binary("add", x.handle, bad), taps.handle, (N, C, H, W), win), be, (x,),
             lambda g: (be.reshape(be.gather_cols(be.reshape(g, (N * C, H * W)), flat), (N, C, OH, OW)),),
             vjp=lambda g: (_cols_gather_t(g.reshape(N * C, H * W), flat, H * W).reshape(N, C, OH, OW),))
    return y if batched else y.reshape(y.shape[1:])


def max_unpool1d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """PyTorch's max_unpool1d over [N, C, OL] (or [C, OL]): max_unpool2d of rows."""
    op = "max_unpool1d"
    k = _one(op, "kernel_size", kernel_size, 1)
    s = k if stride is None or stride == () else _one(op, "stride", stride, 1)
    size = None if output_size is None else (1, int(tuple(output_size)[-1]))
    if not isinstance(indices, Tensor):
        raise TypeError(f"{op}: indices must be max_pool1d's int32 tensor")
    return max_unpool2d(_rows_of_one(op, x), indices.unsqueeze(-2), (1, k), (1, s),
                        (0, _one(op, "padding", padding, 0)), size).squeeze(-2)


def _avg_factors(x_hw, win, count_include_pad, divisor_override):
    """1 / the divisor of each output position [OH, OW] (PyTorch's rules), or one
    float when every window has the same."""
    if divisor_override is not None:
        return 1.0 / divisor_override
    (kh, kw), (sh, sw), (ph, pw), _, (OH, OW) = win
    divs = []
    for n, k, s, p, o in ((x_hw[0], kh, sh, ph, OH), (x_hw[1], kw, sw, pw, OW)):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        whole = end - start  # the window within the padded input
        clipped = np.minimum(end, n) - np.maximum(start, 0)
        divs.append(whole if count_include_pad else clipped)
    div = np.outer(divs[0], divs[1]).astype(np.float64)
    return 1.0 / div[0, 0] if np.all(div == div[0, 0]) else 1.0 / div


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """The mean of each window, as ``torch.nn.functional.avg_pool2d``: zeros padded,
    counted in the divisor unless ``count_include_pad=False``; ``divisor_override``
    replaces the divisor.  Windows tiling the input (stride = kernel, no padding: a
    global average too) summed over the axes of a reshape, others unfolded (im2col,
    col2im their gradient); summed in f32 (f16 inputs too)."""
    op = "avg_pool2d"
    x, batched = _batched(op, x)
    win = _pool_args(op, x, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and (not isinstance(divisor_override, numbers.Integral)
                                         or isinstance(divisor_override, bool) or divisor_override < 1):
        raise ValueError(f"{op}: divisor_override must be a positive int, got {divisor_override!r}")
    be = x.backend
    (N, C), (OH, OW), K = x.shape[:2], win.out, win.kernel[0] * win.kernel[1]
    args = (tuple(x.shape[2:]), win, bool(count_include_pad), divisor_override)
    f = _avg_factors(*args)
    if isinstance(f, float) and win.tiles(x.shape[2:]):  # (windows tiling the input -- a global average
        # among them --: sums over the axes of a reshape, not im2col's copy of every window and col2im back)
        (kh, kw), (H, W) = win.kernel, x.shape[2:]
        xt = x if (OH * kh, OW * kw) == (H, W) else x[:, :, :OH * kh, :OW * kw]
        out = _scaled_sum(xt.reshape(N, C, OH, kh, OW, kw), (3, 5), False, f)
        return out if batched else out.reshape(out.shape[1:])
    windows = _unfold(x, win).reshape(N, OH, OW, C, K)
    if isinstance(f, float):  # one divisor: the sums scaled in f32
        rows = _scaled_sum(windows, (4,), False, f)
    else:  # a divisor per position, as [OH, OW, 1] over the rows [N, OH, OW, C]
        fh = be.host_constant(("avg_pool2d",) + args, lambda: f.reshape(OH, OW, 1), x.dtype)
        rows = mul(_scaled_sum(windows, (4,), False, 1.0), Tensor(fh, be))
    out = transpose(rows, (0, 3, 1, 2))
    return out if batched else out.reshape(out.shape[1:])


def adaptive_avg_pool2d(x, output_size):
    """PyTorch's adaptive average pool: means over an ``output_size`` grid (None keeps
    that size; 1 is the global average) of windows [floor(i * n / o), ceil((i + 1) *
    n / o)) along each axis.  Equal windows (the input divides evenly) are an
    avg_pool2d; uneven ones a product with each axis's averaging matrix [o, n] (a
    host constant), so the gradient spreads each mean back over its window."""
    op = "adaptive_avg_pool2d"
    xb, _ = _batched(op, x)
    size = _adaptive_size(op, xb, output_size)
    H, W = xb.shape[2:]
    if H % size[0] == 0 and W % size[1] == 0:
        k = (H // size[0], W // size[1])
        return avg_pool2d(x, k, k)
    be = x.backend

    def means(n, o):  # [n, o]: column i averages the window of output i
        def make_():
            m = np.zeros((n, o))
            for i in range(o):
                a, b = (i * n) // o, -(-((i + 1) * n) // o)
                m[a:b, i] = 1.0 / (b - a)
            return m
        return Tensor(be.host_constant(("adaptive", n, o), make_, x.dtype), be)
    y = x.swapaxes(-1, -2) @ means(H, size[0])  # [..., W, OH]
    return y.swapaxes(-1, -2) @ means(W, size[1])  # [..., OH, OW]


def adaptive_avg_pool3d(x, output_size):
    """PyTorch's adaptive_avg_pool3d over [N, C, D, H, W] (or [C, D, H, W]): the
    depth's windows averaged by a product with its averaging matrix (or left alone
    when kept), then adaptive_avg_pool2d over the rest."""
    op = "adaptive_avg_pool3d"
    check_tensor(op, x)
    if x.ndim not in (4, 5):
        raise ValueError(f"{op}: expected input [N, C, D, H, W] (or [C, D, H, W]), got {list(x.shape)}")
    size = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * 3
    if len(size) != 3:
        raise TypeError(f"{op}: output_size must be an int, None or a triple, got {output_size!r}")
    D, H, W = x.shape[-3:]
    size = tuple(n if o is None else o for o, n in zip(size, (D, H, W)))
    if any(isinstance(o, bool) or not isinstance(o, numbers.Integral) or o < 1 for o in size):
        raise ValueError(f"{op}: output_size must be positive ints (or None), got {output_size!r}")
    if size[0] != D:
        be = x.backend

        def make_():
            m = np.zeros((D, size[0]))
            for i in range(size[0]):
                a, b = (i * D) // size[0], -(-((i + 1) * D) // size[0])
                m[a:b, i] = 1.0 / (b - a)
            return m
        means = Tensor(be.host_constant(("adaptive", D, size[0]), make_, x.dtype), be)
        x = (x.movedim(-3, -1) @ means).movedim(-1, -3)
    lead = x.shape[:-2]
    y = adaptive_avg_pool2d(x.reshape((-1, 1) + x.shape[-2:]), size[1:])
    return y.reshape(lead + size[1:])


def _adaptive_size(op, xb, output_size):
    size = output_size if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    if len(size) != 2:
        raise TypeError(f"{op}: output_size must be an int, None or a pair, got {output_size!r}")
    size = tuple(n if o is None else o for o, n in zip(size, xb.shape[2:]))
    _pair(op, "output_size", size, 1)
    return size


def adaptive_max_pool2d(x, output_size, return_indices=False):
    """PyTorch's adaptive max pool: maxima over an ``output_size`` grid of windows
    [floor(i * n / o), ceil((i + 1) * n / o)) along each axis.  Equal windows are a
    max_pool2d; uneven ones are taken axis by axis (a box's maximum is separable):
    each output's window gathered (host indices, the shorter ones repeating their
    last position) and reduced by max, whose gradient splits ties (so a repeated
    position gets its whole gradient back)."""
    op = "adaptive_max_pool2d"
    xb, batched = _batched(op, x)
    OH, OW = _adaptive_size(op, xb, output_size)
    H, W = xb.shape[2:]
    if H % OH == 0 and W % OW == 0:
        k = (H // OH, W // OW)
        return max_pool2d(x, k, k, return_indices=bool(return_indices))
    if return_indices:
        out = _adaptive_max_indices(xb, (OH, OW))
        return out if batched else tuple(t.reshape(t.shape[1:]) for t in out)
    y = x
    for ax, n, o in ((-2, H, OH), (-1, W, OW)):
        if n == o:
            continue
        starts = [(i * n) // o for i in range(o)]
        ends = [-(-((i + 1) * n) // o) for i in range(o)]
        L = max(b - a for a, b in zip(starts, ends))
        idx = np.array([[min(a + j, b - 1) for j in range(L)] for a, b in zip(starts, ends)])
        a = y.ndim + ax
        g = _take(y, a, idx.reshape(-1), key=("adaptive_max", n, o))  # [.., o * L, ..]
        y = g.reshape(g.shape[:a] + (o, L) + g.shape[a + 1:]).max(axis=a + 1)
    return y


def _adaptive_max_indices(x, out_sizes):
    """(maxima, int32 flat positions in the spatial axes) of x [N, C, *S] over an
    ``out_sizes`` grid of adaptive boxes, as PyTorch's return_indices: each box's
    positions gathered (the shorter boxes repeating their last), the first holding
    the maximum (scan order; a NaN counts as the maximum), and the value read back
    at it, so the gradient goes to that position only (PyTorch's)."""
    import itertools
    from .shape import argmax, gather
    from ..tensor import tensor
    S, (N, C) = tuple(x.shape[2:]), x.shape[:2]
    boxes = [[((i * n) // o, -(-((i + 1) * n) // o)) for i in range(o)] for n, o in zip(S, out_sizes)]
    rows = [[int(np.ravel_multi_index(q, S)) for q in itertools.product(*(range(a, b) for a, b in cell))]
            for cell in itertools.product(*boxes)]
    L = max(len(r) for r in rows)
    table = np.array([r + [r[-1]] * (L - len(r)) for r in rows])  # [cells, L]
    flat = x.reshape(N, C, int(np.prod(S)))
    with no_grad():
        at = argmax(flat[:, :, table], -1)  # [N, C, cells]
        pos = tensor(np.broadcast_to(table.astype(np.float64), (N, C) + table.shape), dtype="f64" if
                     x.device == "cpu" else "f32", device=x.device)  # (positions exact in f32 below 2^24)
        idx = gather(pos, -1, at.unsqueeze(-1)).squeeze(-1).to(dtype="i32")
    y = gather(flat, -1, idx)
    shape = (N, C) + tuple(out_sizes)
    return y.reshape(*shape), idx.reshape(*shape)


def adaptive_max_pool1d(x, output_size, return_indices=False):
    """PyTorch's adaptive_max_pool1d over [N, C, L] (or [C, L]): adaptive_max_pool2d
    over images of one row."""
    op = "adaptive_max_pool1d"
    out = adaptive_max_pool2d(_rows_of_one(op, x), (1, _one(op, "output_size", output_size, 1)), return_indices)
    return tuple(t.squeeze(-2) for t in out) if return_indices else out.squeeze(-2)


def adaptive_max_pool3d(x, output_size, return_indices=False):
    """PyTorch's adaptive_max_pool3d over [N, C, D, H, W] (or [C, D, H, W]):
    adaptive_max_pool2d over each depth slice, then adaptive_max_pool1d along the
    depth (a box's maximum is separable); with ``return_indices`` each box gathered
    whole (_adaptive_max_indices)."""
    op = "adaptive_max_pool3d"
    x, batched = _volumes(op, x)
    size = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * 3
    if len(size) != 3:
        raise TypeError(f"{op}: output_size must be an int, None or a triple, got {output_size!r}")
    N, C, D, H, W = x.shape
    OD, OH, OW = (n if o is None else o for o, n in zip(size, (D, H, W)))
    if return_indices:  # (positions d H W + h W + w, as max_pool3d's)
        out = _adaptive_max_indices(x, (OD, OH, OW))
        return out if batched else tuple(t.reshape(t.shape[1:]) for t in out)
    planes = adaptive_max_pool2d(x.reshape(N, C * D, H, W), (OH, OW))  # [N, C * D, OH, OW]
    rows = transpose(planes.reshape(N, C, D, OH * OW), (0, 1, 3, 2)).reshape(N, C * OH * OW, D)
    out = adaptive_max_pool1d(rows, OD)  # [N, C * OH * OW, OD]
    out = transpose(out.reshape(N, C, OH, OW, OD), (0, 1, 4, 2, 3))
    return out if batched else out.reshape(out.shape[1:])


def _one(op, name, v, lo):
    """An int (or a 1-tuple of one) >= lo."""
    val = v[0] if isinstance(v, (tuple, list)) and len(v) == 1 else v
    if isinstance(val, bool) or not isinstance(val, numbers.Integral):
        raise TypeError(f"{op}: {name} must be an int, got {v!r}")
    if val < lo:
        raise ValueError(f"{op}: {name} must be >= {lo}, got {v!r}")
    return int(val)


def _rows_of_one(op, x):
    """x [N, C, L] (or [C, L]) as images of one row, [N, C, 1, L]."""
    check_tensor(op, x)
    if x.ndim not in (2, 3):
        raise ValueError(f"{op}: expected input [N, C, L] (or [C, L]), got {list(x.shape)}")
    return x.unsqueeze(-2)


def adaptive_avg_pool1d(x, output_size):
    """PyTorch's adaptive_avg_pool1d over [N, C, L] (or [C, L]): adaptive_avg_pool2d
    over images of one row."""
    op = "adaptive_avg_pool1d"
    return adaptive_avg_pool2d(_rows_of_one(op, x), (1, _one(op, "output_size", output_size, 1))).squeeze(-2)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation, as ``torch.nn.functional.conv1d``: x [N, C, L] (or
    [C, L]), weight [OC, C / groups, k], bias [OC] -> [N, OC, OL]; conv2d over
    images of one row."""
    op = "conv1d"
    x2 = _rows_of_one(op, x)
    check_tensor(op, weight)
    if weight.ndim != 3 or isinstance(groups, numbers.Integral) and weight.shape[1] * groups != x.shape[-2]:
        raise ValueError(f"conv1d: expected weight [out_channels, in_channels / groups, k] for input "
                         f"{list(x.shape)} and groups={groups!r}, got weight {list(weight.shape)}")
    pad = padding if isinstance(padding, str) else (0, _one(op, "padding", padding, 0))
    y = conv2d(x2, weight.unsqueeze(2), bias, (1, _one(op, "stride", stride, 1)), pad,
               (1, _one(op, "dilation", dilation, 1)), groups)
    return y.squeeze(-2)


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """``torch.nn.functional.max_pool1d`` over [N, C, L] (or [C, L]): max_pool2d
    over images of one row (``return_indices``: positions along L)."""
    op = "max_pool1d"
    k = _one(op, "kernel_size", kernel_size, 1)
    s = k if stride is None or stride == () else _one(op, "stride", stride, 1)
    out = max_pool2d(_rows_of_one(op, x), (1, k), (1, s), (0, _one(op, "padding", padding, 0)),
                     (1, _one(op, "dilation", dilation, 1)), ceil_mode, return_indices)
    return tuple(t.squeeze(-2) for t in out) if return_indices else out.squeeze(-2)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """``torch.nn.functional.avg_pool1d`` over [N, C, L] (or [C, L]): avg_pool2d
    over images of one row."""
    op = "avg_pool1d"
    k = _one(op, "kernel_size", kernel_size, 1)
    s = k if stride is None or stride == () else _one(op, "stride", stride, 1)
    return avg_pool2d(_rows_of_one(op, x), (1, k), (1, s), (0, _one(op, "padding", padding, 0)), ceil_mode,
                      count_include_pad).squeeze(-2)


def _triple(op, name, v, lo):
    """An int or three ints, each >= lo, as a triple."""
    vals = (v, v, v) if isinstance(v, numbers.Integral) and not isinstance(v, bool) else v
    if not (isinstance(vals, (tuple, list)) and len(vals) == 3
            and all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in vals)):
        raise TypeError(f"{op}: {name} must be an int or three ints, got {v!r}")
    if any(a < lo for a in vals):
        raise ValueError(f"{op}: {name} must be >= {lo}, got {v!r}")
    return tuple(int(a) for a in vals)


def _volumes(op, x):
    """x as [N, C, D, H, W] (a [C, D, H, W] input gets a batch of one) and whether it had one."""
    check_tensor(op, x)
    if x.ndim not in (4, 5):
        raise ValueError(f"{op}: expected input [N, C, D, H, W] (or [C, D, H, W]), got {list(x.shape)}")
    return (x, True) if x.ndim == 5 else (x.reshape((1,) + x.shape), False)


def _padding3(op, kernel, stride, padding, dilation):
    """(before, after) triples: ``padding`` an int, three, 'valid' or 'same' (stride 1)."""
    if isinstance(padding, str):
        dh = _padding(op, kernel[1:], stride[1:], padding, dilation[1:])  # (checks the string and strides)
        dd = _padding(op, (kernel[0], 1), (stride[0], 1), padding, (dilation[0], 1))
        return (dd[0][0],) + dh[0], (dd[1][0],) + dh[1]
    p = _triple(op, "padding", padding, 0)
    return p, p


def _depth_taps(x, kd, sd, dd, before, after, fill, OD):
    """For each tap k of a depth window: the depth slices it reads, [N * OD, C, H, W]
    (x [N, C, D, H, W] padded along depth with ``fill``; the output depths folded into
    the batch)."""
    if before or after:
        x = pad(x, (0, 0, 0, 0, before, after), value=fill)
    N, C, _, H, W = x.shape
    taps = []
    for k in range(kd):
        s = x[:, :, k * dd:k * dd + (OD - 1) * sd + 1:sd]  # [N, C, OD, H, W]
        taps.append(transpose(s, (0, 2, 1, 3, 4)).reshape(N * OD, C, H, W))
    return taps


def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D cross-correlation, as ``torch.nn.functional.conv3d``: x [N, C, D, H, W] (or
    [C, D, H, W]), weight [OC, C / groups, kd, kh, kw], bias [OC] -> [N, OC, OD, OH,
    OW]; ``padding`` an int, three, 'valid' or 'same' (stride 1).  Computed as kd
    conv2d's (one per depth tap of the kernel, each over the depth slices that tap
    reads with the output depths folded into the batch) summed."""
    op = "conv3d"
    x, batched = _volumes(op, x)
    check_tensor(op, weight)
    C = x.shape[1]
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1 or C % groups:
        raise ValueError(f"conv3d: groups must be a positive int dividing the {C} input channels, got {groups!r}")
    if weight.ndim != 5 or weight.shape[1] * groups != C or weight.shape[0] % groups or min(weight.shape) < 1:
        raise ValueError(f"conv3d: expected weight [out_channels, {C // groups}, kd, kh, kw] for input "
                         f"{list(x.shape)} and groups={groups}, got weight {list(weight.shape)}")
    kd, kh, kw = weight.shape[2:]
    stride, dilation = _triple(op, "stride", stride, 1), _triple(op, "dilation", dilation, 1)
    before, after = _padding3(op, (kd, kh, kw), stride, padding, dilation)
    OD = _out_size(op, x.shape[2], kd, stride[0], before[0], after[0], dilation[0])
    hw_pad = padding if isinstance(padding, str) else before[1:]
    N, OC = x.shape[0], weight.shape[0]
    out = None
    for k, xs in enumerate(_depth_taps(x, kd, stride[0], dilation[0], before[0], after[0], 0.0, OD)):
        y = conv2d(xs, weight[:, :, k], bias if k == 0 else None, stride[1:], hw_pad, dilation[1:], groups)
        out = y if out is None else out + y
    OH, OW = out.shape[2:]
    out = transpose(out.reshape(N, OD, OC, OH, OW), (0, 2, 1, 3, 4))
    return out if batched else out.reshape(out.shape[1:])


def conv_transpose3d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """``torch.nn.functional.conv_transpose3d``: x [N, Cin, D, H, W] (or [Cin, D, H,
    W]), weight [Cin, Cout / groups, kd, kh, kw] -> [N, Cout, (D - 1) sd - 2 pd + dd
    (kd - 1) + opd + 1, ...]: per depth tap k a conv_transpose2d of every depth slice
    (depths folded into the batch), its slices spread sd apart and shifted by k dd,
    the taps summed and the padding cropped."""
    op = "conv_transpose3d"
    x, batched = _volumes(op, x)
    check_tensor(op, weight)
    same_device(op, x, weight, bias)
    if weight.ndim != 5 or weight.shape[0] != x.shape[1]:
        raise ValueError(f"{op}: expected weight [in_channels={x.shape[1]}, out_channels / groups, kd, kh, kw], "
                         f"got {list(weight.shape)}")
    stride, dilation = _triple(op, "stride", stride, 1), _triple(op, "dilation", dilation, 1)
    padding, opad = _triple(op, "padding", padding, 0), _triple(op, "output_padding", output_padding, 0)
    if any(o >= max(st, dl) for o, st, dl in zip(opad, stride, dilation)):
        raise ValueError(f"{op}: output_padding {list(opad)} must be smaller than the stride or the dilation")
    N, _, D, H, W = x.shape
    kd = weight.shape[2]
    full = (D - 1) * stride[0] + dilation[0] * (kd - 1) + 1 + opad[0]  # the depth before cropping
    OD = full - 2 * padding[0]
    if OD < 0:
        raise ValueError(f"{op}: padding {list(padding)} leaves no output depth for input depth {D}")
    OH, OW = ((n - 1) * st - 2 * p + dl * (k - 1) + o + 1 for n, st, p, dl, k, o in
              zip((H, W), stride[1:], padding[1:], dilation[1:], weight.shape[3:], opad[1:]))
    if min(OD, OH, OW) == 0:  # (an empty result, as PyTorch's)
        y = _empty_output((N, weight.shape[1] * groups, OD, OH, OW), (x, weight, bias))
        return y if batched else y.reshape(y.shape[1:])
    rows = transpose(x, (0, 2, 1, 3, 4)).reshape(N * D, x.shape[1], H, W)
    out = None
    for k in range(kd):
        y = conv_transpose2d(rows, weight[:, :, k], None, stride[1:], padding[1:], opad[1:], groups, dilation[1:])
        C2, OH, OW = y.shape[1:]
        y = y.reshape(N, D, 1, C2, OH, OW)
        if stride[0] > 1:  # the depth slices sd apart: zeros between
            y = pad(y, (0, 0, 0, 0, 0, 0, 0, stride[0] - 1)).reshape(N, D * stride[0], C2, OH, OW)
            y = y[:, :(D - 1) * stride[0] + 1]
        else:
            y = y.reshape(N, D, C2, OH, OW)
        front = k * dilation[0]
        y = pad(y, (0, 0, 0, 0, 0, 0, front, full - front - y.shape[1]))
        out = y if out is None else out + y
    out = transpose(out[:, padding[0]:padding[0] + OD], (0, 2, 1, 3, 4))
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1, 1)
    return out if batched else out.reshape(out.shape[1:])


def _pool3_args(op, x, kernel_size, stride, padding):
    kernel = _triple(op, "kernel_size", kernel_size, 1)
    stride = kernel if stride is None or stride == () else _triple(op, "stride", stride, 1)
    pad3 = _triple(op, "padding", padding, 0)
    if any(2 * p > k for p, k in zip(pad3, kernel)):
        raise ValueError(f"{op}: padding {padding!r} must be at most half the kernel size {kernel_size!r}")
    return kernel, stride, pad3


def max_pool3d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """The maximum of each [kd, kh, kw] window, as ``torch.nn.functional.max_pool3d``
    (padding counts as -inf): max_pool2d over each depth slice, then the maximum of
    the kd depth taps (separable).  Gradients go to the maximum; on exact ties
    between depth slices they are split (PyTorch picks one).  ``return_indices``:
    PyTorch's positions d * H * W + h * W + w too (for max_unpool3d)."""
    op = "max_pool3d"
    x, batched = _volumes(op, x)
    kernel, stride, pad3 = _pool3_args(op, x, kernel_size, stride, padding)
    dil = _triple(op, "dilation", dilation, 1)
    N, C, D, H, W = x.shape
    OD = _out_size(op, D, kernel[0], stride[0], pad3[0], pad3[0], dil[0], bool(ceil_mode))
    extra = max(0, (OD - 1) * stride[0] + dil[0] * (kernel[0] - 1) + 1 - (D + 2 * pad3[0]))  # (ceil_mode's last)
    plane = max_pool2d(x.reshape(N, C * D, H, W), kernel[1:], stride[1:], pad3[1:], dil[1:], ceil_mode,
                       return_indices)
    plane, pidx = plane if return_indices else (plane, None)
    OH, OW = plane.shape[2:]
    taps = _depth_taps(plane.reshape(N, C, D, OH, OW), kernel[0], stride[0], dil[0], pad3[0], pad3[0] + extra,
                       -math.inf, OD)
    out = taps[0]
    for t in taps[1:]:
        out = maximum(out, t)
    out = transpose(out.reshape(N, OD, C, OH, OW), (0, 2, 1, 3, 4))
    out = out if batched else out.reshape(out.shape[1:])
    if not return_indices:
        return out
    # PyTorch's positions d * H * W + h * W + w: the first depth tap holding the maximum (NaN counting as it),
    # that slice's plane position
    from .shape import argmax, stack, take_along_dim
    with no_grad():
        vals = stack([t.detach() for t in taps], 0)  # [kd, N * OD, C, OH, OW]
        win = argmax(vals, 0, keepdims=True)
        pos = pidx.to(dtype="f32").reshape(N, C, D, OH, OW)
        ptaps = stack(_depth_taps(pos, kernel[0], stride[0], dil[0], pad3[0], pad3[0] + extra, 0.0, OD), 0)
        depth = np.array([[od * stride[0] - pad3[0] + k * dil[0] for od in range(OD)] for k in range(kernel[0])],
                         np.float64)  # [kd, OD]
        be = x.backend
        dt = Tensor(be.from_numpy(np.repeat(depth[:, None, :], N, 1).reshape(kernel[0], N * OD, 1, 1, 1), "f32"), be)
        flat = take_along_dim(ptaps + dt * float(H * W), win, 0)[0]  # [N * OD, C, OH, OW]
        idx = transpose(flat.reshape(N, OD, C, OH, OW), (0, 2, 1, 3, 4)).to(dtype="i32")
    return out, (idx if batched else idx.reshape(idx.shape[1:]))


def max_unpool3d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """PyTorch's max_unpool3d: x [N, C, OD, OH, OW] (or without N) put at ``indices``
    (max_pool3d's, positions in each [D, H, W] volume) of zeros [N, C, D, H, W]; the
    gradient gathers from there.  A scatter of the values (scatter_add into zeros),
    so the windows must not overlap (stride at least the kernel), as max_unpool2d's."""
    from .shape import scatter_add
    op = "max_unpool3d"
    x, batched = _volumes(op, x)
    kernel, st, pad, ib, size = _unpool_args(op, x, batched, indices, _triple(op, "kernel_size", kernel_size, 1),
                                             stride, padding, output_size, _triple)
    N, C = x.shape[:2]
    V = int(np.prod(size))
    zeros_ = Tensor(x.backend.constant((N * C, V), 0.0, x.dtype), x.backend)
    out = scatter_add(zeros_, 1, ib.reshape(N * C, -1), x.reshape(N * C, -1)).reshape((N, C) + size)
    return out if batched else out.reshape(out.shape[1:])


def avg_pool3d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """The mean of each [kd, kh, kw] window, as ``torch.nn.functional.avg_pool3d``:
    zeros padded and counted unless ``count_include_pad=False``; ``divisor_override``
    replaces the divisor.  avg_pool2d over each depth slice, then the depth taps'
    mean (the divisor a product of each axis's count, as the window is a box)."""
    op = "avg_pool3d"
    x, batched = _volumes(op, x)
    kernel, stride, pad3 = _pool3_args(op, x, kernel_size, stride, padding)
    if divisor_override is not None and (not isinstance(divisor_override, numbers.Integral)
                                         or isinstance(divisor_override, bool) or divisor_override < 1):
        raise ValueError(f"{op}: divisor_override must be a positive int, got {divisor_override!r}")
    N, C, D, H, W = x.shape
    OD = _out_size(op, D, kernel[0], stride[0], pad3[0], pad3[0], 1, bool(ceil_mode))
    extra = max(0, (OD - 1) * stride[0] + kernel[0] - (D + 2 * pad3[0]))
    # the planes' sums (divisor 1) when the divisor is overridden, else their means
    plane = avg_pool2d(x.reshape(N, C * D, H, W), kernel[1:], stride[1:], pad3[1:], ceil_mode, count_include_pad,
                       1 if divisor_override is not None else None)
    OH, OW = plane.shape[2:]
    taps = _depth_taps(plane.reshape(N, C, D, OH, OW), kernel[0], stride[0], 1, pad3[0], pad3[0] + extra, 0.0, OD)
    out = taps[0]
    for t in taps[1:]:
        out = out + t
    if divisor_override is not None:
        f = 1.0 / divisor_override
    else:  # the depth count of each output depth (PyTorch's rules, as avg_pool2d's per axis)
        start = np.arange(OD) * stride[0] - pad3[0]
        end = np.minimum(start + kernel[0], D + pad3[0])
        cnt = (end - start) if count_include_pad else (np.minimum(end, D) - np.maximum(start, 0))
        f = 1.0 / cnt.astype(np.float64)
    out = out.reshape(N, OD, C, OH, OW)
    out = out * (float(f) if np.ndim(f) == 0 else f.reshape(1, OD, 1, 1, 1))
    out = transpose(out, (0, 2, 1, 3, 4))
    return out if batched else out.reshape(out.shape[1:])


_MODES = {"nearest": (1, 2, 3), "nearest-exact": (1, 2, 3), "linear": (1,), "bilinear": (2,), "bicubic": (2,),
          "trilinear": (3,), "area": (1, 2, 3)}


def _cubic_near(d, A=-0.75):
    """Cubic convolution's weight at distance |d| <= 1 (PyTorch's bicubic: A = -0.75;
    NumPy arrays, tensors or numbers)."""
    return ((d * (A + 2.0) - (A + 3.0)) * d) * d + 1.0


def _cubic_far(d, A=-0.75):
    """Its weight at distance 1 < |d| < 2."""
    return ((d * A - 5.0 * A) * d + 8.0 * A) * d - 4.0 * A


def _cubic_weights(t):
    """The weights of the four taps floor - 1 .. floor + 2 at fraction t."""
    return _cubic_far(t + 1.0), _cubic_near(t), _cubic_near(1.0 - t), _cubic_far(2.0 - t)


def _cubic_taps(src):
    """PyTorch's bicubic: for source coordinates ``src``, the first of four taps
    (floor - 1) and their weights."""
    i0 = np.floor(src)
    return i0.astype(np.int64) - 1, list(_cubic_weights(src - i0))


def _aa_weights(n, o, scale, cubic):
    """PyTorch's anti-aliased interpolation along an axis of n -> o as a matrix [n, o]
    (transposed: applied as x @ it): output i averages the inputs around (i + 0.5)
    * scale with a triangle (bilinear) or cubic (A = -0.5) filter widened by the
    scale when shrinking, the weights normalised to sum 1
    (aten/src/ATen/native/cpu/UpSampleKernel.cpp's _compute_weights_aa)."""
    support = (2.0 if cubic else 1.0) * (scale if scale >= 1.0 else 1.0)
    inv = 1.0 / scale if scale >= 1.0 else 1.0

    def f(x):
        x = abs(x)
        if cubic:
            return _cubic_near(x, -0.5) if x < 1.0 else _cubic_far(x, -0.5) if x < 2.0 else 0.0
        return 1.0 - x if x < 1.0 else 0.0
    m = np.zeros((n, o))
    for i in range(o):
        center = scale * (i + 0.5)
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), n)
        w = np.array([f((j - center + 0.5) * inv) for j in range(lo, hi)])
        m[lo:hi, i] = w / w.sum() if w.sum() != 0 else w
    return m


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None,
                antialias=False):
    """``torch.nn.functional.interpolate`` of [N, C, L], [N, C, H, W] or [N, C, D, H,
    W]: ``size`` (an int or one per spatial axis) or ``scale_factor`` (the same,
    any positive number); ``mode`` "nearest" (source index floor(dst * scale)),
    "nearest-exact" (floor((dst + 0.5) * scale)), "area" (adaptive_avg_pool),
    "linear" ([N, C, L]), "trilinear" ([N, C, D, H, W]), "bilinear" or "bicubic"
    ([N, C, H, W]; cubic convolution, A = -0.75, taps
    clamped at the edges) -- each axis in turn, two (four) gathers weighted,
    PyTorch's coordinates (``align_corners`` False: half-pixel centres, True: the
    corners' values kept); scale = in / out, or 1 / scale_factor when that is given,
    as PyTorch.  Whole nearest factors repeat each value (a broadcast product);
    gradients sum back into the sources.  ``antialias`` (bilinear, bicubic):
    PyTorch's anti-aliased filters, one weight matrix per axis (_aa_weights)."""
    op = "interpolate"
    check_tensor(op, x)
    if antialias and mode not in ("bilinear", "bicubic"):
        raise ValueError(f"{op}: antialias applies to the bilinear and bicubic modes, got {mode!r}")
    if recompute_scale_factor and scale_factor is not None and size is None:  # (the sizes' own ratios, as PyTorch)
        f = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * (x.ndim - 2)
        size, scale_factor = tuple(int(math.floor(n * v)) for n, v in zip(x.shape[2:], f)), None
    if mode not in _MODES:
        raise ValueError(f"{op}: mode must be one of {', '.join(_MODES)}, got {mode!r}")
    if x.ndim not in (3, 4, 5) or x.ndim - 2 not in _MODES[mode]:
        want = {"linear": "[N, C, L]", "bilinear": "[N, C, H, W]", "bicubic": "[N, C, H, W]",
                "trilinear": "[N, C, D, H, W]"}.get(mode, "[N, C, L], [N, C, H, W] or [N, C, D, H, W]")
        raise ValueError(f"{op}: mode {mode!r} expects input {want}, got {list(x.shape)}")
    if mode in ("nearest", "nearest-exact", "area") and align_corners is not None:
        raise ValueError(f"{op}: align_corners applies to the linear, bilinear, bicubic and trilinear modes only")
    sp = x.shape[2:]
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor")
    per = lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v,) * len(sp)  # noqa: E731
    if size is not None:
        size = per(size)
        if len(size) != len(sp) or any(isinstance(o, bool) or not isinstance(o, numbers.Integral) or o < 1
                                       for o in size):
            raise ValueError(f"{op}: size {list(size)} must be positive ints, one per spatial axis of {list(sp)}")
        scales = tuple(n / o for n, o in zip(sp, size))
    else:
        factors = per(scale_factor)
        if len(factors) != len(sp) or any(isinstance(f, bool) or not isinstance(f, numbers.Real) or f <= 0
                                          for f in factors):
            raise ValueError(f"{op}: scale_factor {scale_factor!r} must be positive numbers (one per spatial axis)")
        size = tuple(int(math.floor(n * f)) for n, f in zip(sp, factors))
        if min(size) < 1:
            raise ValueError(f"{op}: scale_factor {scale_factor!r} leaves an empty output for input {list(sp)}")
        scales = tuple(1.0 / f for f in factors)
    if antialias:  # each axis through its weight matrix (a product: exact gradients)
        be = x.backend
        for k, (n, o, s) in enumerate(zip(sp, size, scales)):
            scale = ((n - 1) / (o - 1) if o > 1 else 0.0) if align_corners else s
            m = Tensor(be.host_constant(("interpolate_aa", mode, n, o, scale),
                                        lambda n=n, o=o, scale=scale: _aa_weights(n, o, scale, mode == "bicubic"),
                                        x.dtype), be)
            x = (x.swapaxes(2 + k, -1) @ m).swapaxes(2 + k, -1)
        return x
    if mode == "area":  # PyTorch's: the adaptive average pool to that size
        return {1: lambda: adaptive_avg_pool1d(x, size[0]), 2: lambda: adaptive_avg_pool2d(x, size),
                3: lambda: adaptive_avg_pool3d(x, size)}[len(sp)]()
    whole = all(o % n == 0 and abs(s * (o // n) - 1) < 1e-12 for n, o, s in zip(sp, size, scales))
    if mode in ("nearest", "nearest-exact") and whole:  # (the two agree on whole factors)  # each value repeated: a broadcast product with kept ones
        factors = tuple(o // n for n, o in zip(sp, size))
        lead = x.shape[:2]
        spread = x.reshape(lead + tuple(d for n in sp for d in (n, 1)))
        be = x.backend
        ones = Tensor(be.constant(tuple(d for f in factors for d in (1, f)), 1.0, x.dtype), be)
        return (spread * ones).reshape(lead + tuple(n * f for n, f in zip(sp, factors)))
    for k, (n, o, s) in enumerate(zip(sp, size, scales)):
        ax = 2 + k
        d = np.arange(o, dtype=np.float64)
        if mode in ("nearest", "nearest-exact"):  # source floor(d * s), or floor((d + 0.5) * s) (exact)
            if o != n or s != 1.0:
                src = np.floor((d + 0.5) * s if mode == "nearest-exact" else d * s)
                x = _take(x, ax, np.minimum(src, n - 1).astype(np.int32), key=(mode, n, o, s))
            continue
        src = (d * ((n - 1) / (o - 1)) if o > 1 else 0 * d) if align_corners else (d + 0.5) * s - 0.5
        if mode == "bicubic":  # four taps, clamped into the axis (PyTorch's)
            first, ws = _cubic_taps(src)
            taps = [np.clip(first + j, 0, n - 1).astype(np.int32) for j in range(4)]
        else:
            src = src if align_corners else np.maximum(src, 0)
            i0 = np.minimum(np.floor(src), n - 1).astype(np.int32)
            w1 = src - i0
            taps, ws = [i0, np.minimum(i0 + 1, n - 1)], [1.0 - w1, w1]
        key = (mode, n, o, s, bool(align_corners))
        be = x.backend
        shape = (o,) + (1,) * (x.ndim - 1 - ax)
        y = None
        for j, (i, w) in enumerate(zip(taps, ws)):
            wt = Tensor(be.host_constant(key + (j, shape), lambda w=w: w.reshape(shape), x.dtype), be)
            term = _take(x, ax, i, key=key + ("i", j)) * wt
            y = term if y is None else y + term
        x = y
    return x


def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """``torch.nn.functional.conv_transpose1d`` over [N, Cin, L] (or [Cin, L]), weight
    [Cin, Cout / groups, k]: conv_transpose2d over images of one row."""
    op = "conv_transpose1d"
    x2 = _rows_of_one(op, x)
    check_tensor(op, weight)
    if weight.ndim != 3:
        raise ValueError(f"{op}: expected weight [in_channels, out_channels / groups, k], got {list(weight.shape)}")
    y = conv_transpose2d(x2, weight.unsqueeze(2), bias, (1, _one(op, "stride", stride, 1)),
                         (0, _one(op, "padding", padding, 0)), (0, _one(op, "output_padding", output_padding, 0)),
                         groups, (1, _one(op, "dilation", dilation, 1)))
    return y.squeeze(-2)


class _Shape:  # a stand-in with only a shape (for _window, which reads nothing else)
    def __init__(self, shape):
        self.shape = tuple(shape)


def _block_window(op, hw, kernel_size, dilation, padding, stride):
    return _window(op, _Shape((1, 1) + tuple(hw)), _pair(op, "kernel_size", kernel_size, 1),
                   _pair(op, "stride", stride, 1), _pair(op, "padding", padding, 0),
                   _pair(op, "dilation", dilation, 1))


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """PyTorch's F.unfold (im2col): the sliding blocks of x [N, C, H, W] (or [C, H,
    W]) as columns [N, C * kh * kw, L], L the blocks' count (zeros padded); its
    gradient sums the columns back (fold)."""
    op = "unfold"
    xb, batched = _batched(op, x)
    win = _block_window(op, xb.shape[2:], kernel_size, dilation, padding, stride)
    N, C = xb.shape[:2]
    L, K = win.out[0] * win.out[1], win.kernel[0] * win.kernel[1]
    y = transpose(_unfold(xb, win).reshape(N, L, C * K), (0, 2, 1))
    return y if batched else y.reshape(y.shape[1:])


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """PyTorch's F.fold (col2im): columns [N, C * kh * kw, L] (or [C * kh * kw, L])
    summed into [N, C, *output_size], overlapping blocks added; unfold's adjoint."""
    op = "fold"
    check_tensor(op, x)
    if x.ndim not in (2, 3):
        raise ValueError(f"{op}: expected input [N, C * kh * kw, L] (or unbatched), got {list(x.shape)}")
    xb = x if x.ndim == 3 else x.unsqueeze(0)
    size = _pair(op, "output_size", output_size, 1)
    win = _block_window(op, size, kernel_size, dilation, padding, stride)
    N, CK, L = xb.shape
    K = win.kernel[0] * win.kernel[1]
    if CK % K or L != win.out[0] * win.out[1]:
        raise ValueError(f"{op}: input {list(x.shape)} must have C * {K} rows and {win.out[0] * win.out[1]} "
                         f"columns (the blocks of output_size {list(size)})")
    y = _fold(transpose(xb, (0, 2, 1)).reshape(N * L, CK), (N, CK // K) + size, win)
    return y if x.ndim == 3 else y.reshape(y.shape[1:])


def channel_shuffle(x, groups):
    """PyTorch's channel shuffle (ShuffleNet): the channels of [N, C, ...] as [groups,
    C / groups] transposed."""
    op = "channel_shuffle"
    check_tensor(op, x)
    if x.ndim < 3 or isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1 \
            or x.shape[1] % groups:
        raise ValueError(f"{op}: expected [N, C, ...] with C divisible by groups, got {list(x.shape)} and "
                         f"groups={groups!r}")
    N, C, rest = x.shape[0], x.shape[1], x.shape[2:]
    y = transpose(x.reshape((N, groups, C // groups) + rest), (0, 2, 1) + tuple(range(3, x.ndim + 1)))
    return y.reshape(x.shape)


def local_response_norm(x, size, alpha=1e-4, beta=0.75, k=1.0):
    """PyTorch's local response norm (AlexNet): x / (k + alpha * the mean of x^2 over
    ``size`` neighbouring channels, zeros beyond the ends) ** beta, over [N, C, ...]."""
    op = "local_response_norm"
    check_tensor(op, x)
    if x.ndim < 3:
        raise ValueError(f"{op}: expected [N, C, ...] (at least 3 dimensions), got {list(x.shape)}")
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
        raise ValueError(f"{op}: size must be a positive int, got {size!r}")
    C = x.shape[1]
    sq = mul(x, x)
    pads = [0, 0] * (x.ndim - 2) + [size // 2, (size - 1) // 2]  # the channel axis, PyTorch's split
    padded = pad(sq, tuple(pads))
    win = padded[:, 0:C]
    for j in range(1, size):  # (size is small: 5 in AlexNet)
        win = win + padded[:, j:j + C]
    return x * ((win * (alpha / size) + k) ** -beta)


def affine_grid(theta, size, align_corners=False):
    """PyTorch's F.affine_grid: the sampling grid [N, H, W, 2] (x, y in [-1, 1]) of
    the affine maps theta [N, 2, 3] over an output of ``size`` (N, C, H, W) -- or the
    volumetric [N, D, H, W, 3] (x, y, z) of theta [N, 3, 4] over (N, C, D, H, W): the
    base grid's homogeneous points times theta (differentiable in theta)."""
    op = "affine_grid"
    check_tensor(op, theta)
    d = len(size) - 2
    if d not in (2, 3) or theta.ndim != 3 or theta.shape[1:] != (d, d + 1) or theta.shape[0] != size[0]:
        raise ValueError(f"{op}: expected theta [N, 2, 3] and size (N, C, H, W), or theta [N, 3, 4] and size "
                         f"(N, C, D, H, W), got {list(theta.shape)} and {list(size)}")
    N, spatial = int(size[0]), tuple(int(v) for v in size[2:])

    def axis(n):
        if n == 1:
            return np.zeros(1)
        return np.linspace(-1.0, 1.0, n) if align_corners else (2 * np.arange(n) + 1) / n - 1

    def build():  # (x along the last axis, then y, z; a 1 appended: homogeneous)
        coords = list(np.meshgrid(*(axis(n) for n in spatial), indexing="ij"))[::-1]
        return np.stack(coords + [np.ones(spatial)], -1).reshape(-1, d + 1)
    pts = Tensor(theta.backend.host_constant(("affine_grid", spatial, bool(align_corners)), build, theta.dtype),
                 theta.backend)
    return (pts @ transpose(theta, (0, 2, 1))).reshape((N,) + spatial + (d,))


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=False):
    """PyTorch's F.grid_sample: input [N, C, H, W] read at grid [N, Ho, Wo, 2] (x, y in
    [-1, 1]; ``align_corners`` as PyTorch's) -> [N, C, Ho, Wo], or volumetric input
    [N, C, D, H, W] at grid [N, Do, Ho, Wo, 3] (x, y, z) -> [N, C, Do, Ho, Wo];
    ``mode`` "bilinear" (trilinear for volumes) or "bicubic" (4-d only: PyTorch's
    cubic convolution, A = -0.75, over 4 x 4 taps; both differentiable in the input
    and the grid) or "nearest" (halves to even); ``padding_mode`` "zeros", "border"
    or "reflection" (bicubic: applied to each tap, as PyTorch's).  Each tap a row
    gather of the input as [N * H * W, C] at device-computed positions (its gradient
    the rows' index_add)."""
    from .elementwise import abs as abs_, clamp, floor, ge, gt, le, lt, round as round_, where
    from .shape import index_select, reshape as reshape_
    op = "grid_sample"
    check_tensor(op, input)
    check_tensor(op, grid)
    same_device(op, input, grid)
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"{op}: mode must be 'bilinear', 'nearest' or 'bicubic', got {mode!r}")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"{op}: padding_mode must be 'zeros', 'border' or 'reflection', got {padding_mode!r}")
    d = input.ndim - 2
    if d not in (2, 3) or grid.ndim != d + 2 or grid.shape[-1] != d or grid.shape[0] != input.shape[0]:
        raise ValueError(f"{op}: expected input [N, C, H, W] and grid [N, Ho, Wo, 2], or input [N, C, D, H, W] "
                         f"and grid [N, Do, Ho, Wo, 3], got {list(input.shape)} and {list(grid.shape)}")
    if mode == "bicubic" and d == 3:
        raise ValueError(f"{op}: mode 'bicubic' takes a 4-d input (as PyTorch's), got {list(input.shape)}")
    N, C = input.shape[:2]
    sizes = input.shape[2:][::-1]  # (W, H[, D]): the sizes of x, y[, z]
    outs = grid.shape[1:-1]
    P = int(np.prod(outs))
    g = grid if grid.dtype == input.dtype else grid.to(dtype=input.dtype)
    coords = [reshape_(g[..., k], (N, P)) for k in range(d)]  # x, y[, z]

    def unnormalise(v, n):
        return (v + 1.0) * (0.5 * (n - 1)) if align_corners else ((v + 1.0) * n - 1.0) * 0.5

    def reflect(v, n):  # PyTorch's reflect_coordinates: mirrored at the edges (pixel centres or corners)
        lo, hi = (0.0, n - 1.0) if align_corners else (-0.5, n - 0.5)
        if lo == hi:
            return v * 0.0
        span = hi - lo
        a = abs_(v - lo)
        flips = floor(a.detach() * (1.0 / span))
        extra = a - flips * span
        odd = flips - floor(flips.detach() * 0.5) * 2.0
        return where(odd, (span + lo) - extra, extra + lo)
    cs = [unnormalise(v, n) for v, n in zip(coords, sizes)]
    if padding_mode == "reflection" and mode != "bicubic":  # (bicubic: each tap's, below)
        cs = [reflect(v, n) for v, n in zip(cs, sizes)]
    if padding_mode != "zeros" and mode != "bicubic":  # then clipped (PyTorch's: no gradient on the border either)
        cs = [where(gt(v, 0.0) * lt(v, n - 1.0), v, clamp(v.detach(), 0.0, n - 1.0)) for v, n in zip(cs, sizes)]
    volume = int(np.prod(sizes))
    rows = transpose(input, (0,) + tuple(range(2, d + 2)) + (1,)).reshape(N * volume, C)
    be = input.backend
    base = Tensor(be.host_constant(("grid_sample_base", N, volume, P),
                                   lambda: np.repeat(np.arange(N) * volume, P).reshape(N, P), "f32"), be)
    strides = [int(np.prod(sizes[:k])) for k in range(d)]  # x 1, y W, z H W

    def tap(pt):  # the rows at integer positions pt (x, y[, z]: f32 tensors), zero outside the input
        inside, pos = None, base
        for v, n, st in zip(pt, sizes, strides):
            ok = ge(v, 0.0) * le(v, n - 1.0)
            inside = ok if inside is None else inside * ok
            pos = pos + clamp(v, 0.0, n - 1.0).to(dtype="f32") * float(st)
        val = index_select(rows, 0, reshape_(pos.to(dtype="i32"), (N * P,)))
        return val * reshape_(inside, (N * P, 1))
    col = lambda t: reshape_(t, (N * P, 1))  # noqa: E731
    if mode == "nearest":
        out = tap([round_(v).detach() for v in cs])
    elif mode == "bicubic":
        (ix, iy), (W, H) = cs, sizes
        x0, y0 = floor(ix).detach(), floor(iy).detach()
        tx, ty = ix - x0, iy - y0

        def bounded(v, n):  # a tap's coordinate under the padding mode (zeros: kept, masked in tap)
            if padding_mode == "reflection":
                v = reflect(v, n)
            return v if padding_mode == "zeros" else clamp(v, 0.0, n - 1.0)
        xs = [(bounded(x0 + (i - 1.0), W), col(wx)) for i, wx in enumerate(_cubic_weights(tx))]
        out = None
        for j, wy in enumerate(_cubic_weights(ty)):
            yj = bounded(y0 + (j - 1.0), H)
            row = None
            for xi, wx in xs:
                term = tap([xi, yj]) * wx
                row = term if row is None else row + term
            out = row * col(wy) if out is None else out + row * col(wy)
    else:  # (bi/tri)linear: the 2^d corners, each weighed by the product of its axes' fractions
        lows = [floor(v).detach() for v in cs]
        ws = [(1.0 - (v - lo), v - lo) for v, lo in zip(cs, lows)]  # each axis's (lower, upper) weights
        out = None
        for corner in range(1 << d):
            bits = [(corner >> k) & 1 for k in range(d)]
            w = None
            for k, bit in enumerate(bits):
                w = ws[k][bit] if w is None else w * ws[k][bit]
            term = tap([lo + 1.0 if bit else lo for lo, bit in zip(lows, bits)]) * col(w)
            out = term if out is None else out + term
    return transpose(out.reshape((N,) + tuple(outs) + (C,)), (0, d + 1) + tuple(range(1, d + 1)))


def _lp(pooled, p, k):
    """(window sums of x^p)^(1/p) from the windows' means of x^p (PyTorch's: the sign
    kept through a relu of |.|, so a negative sum from odd p gives 0 -- not NaN)."""
    from .elementwise import abs as abs_, pow as pow_, relu, sign
    return pow_(mul(mul(sign(pooled), relu(abs_(pooled))), float(k)), 1.0 / float(p))


def lp_pool2d(x, norm_type, kernel_size, stride=None, ceil_mode=False):
    """PyTorch's lp_pool2d: the p-norm (p = ``norm_type``) of each window,
    (sum x^p)^(1/p)."""
    from .elementwise import pow as pow_
    check_tensor("lp_pool2d", x)
    kh, kw = _pair("lp_pool2d", "kernel_size", kernel_size, 1)
    return _lp(avg_pool2d(pow_(x, float(norm_type)), (kh, kw), stride, 0, ceil_mode), norm_type,
               kh * kw)


def lp_pool3d(x, norm_type, kernel_size, stride=None, ceil_mode=False):
    """PyTorch's lp_pool3d over [N, C, D, H, W] (as lp_pool2d)."""
    from .elementwise import pow as pow_
    check_tensor("lp_pool3d", x)
    k = _triple("lp_pool3d", "kernel_size", kernel_size, 1)
    return _lp(avg_pool3d(pow_(x, float(norm_type)), k, stride, 0, ceil_mode), norm_type, k[0] * k[1] * k[2])


def lp_pool1d(x, norm_type, kernel_size, stride=None, ceil_mode=False):
    """PyTorch's lp_pool1d over [N, C, L] (as lp_pool2d)."""
    from .elementwise import pow as pow_
    check_tensor("lp_pool1d", x)
    k = _one("lp_pool1d", "kernel_size", kernel_size, 1)
    return _lp(avg_pool1d(pow_(x, float(norm_type)), k, stride, 0, ceil_mode), norm_type, k)
