"""PyTorch's SyncBatchNorm: batch norm whose statistics are those of the global
batch across the ranks of ``vkgrad.distributed`` (MPI).  Each rank's channel sums
(count, sum, sum of squares) are all-reduced in the forward and the gradient's two
channel sums in the backward -- 3C + 1 and 2C numbers through the host a step --,
so every rank normalises with the global mean and variance and the input
gradients are those of the global batch norm.  One process (or eval mode) is
plain BatchNorm."""
from __future__ import annotations

import numpy as np

from .. import distributed, ops
from ..autograd import Function, once_differentiable
from ..tensor import tensor
from .layers import BatchNorm1d, _running_factor


def _world():
    return distributed.world_size() if distributed.is_initialized() else 1


class _SyncBN(Function):
    """forward(x, weight, bias, module): the globally normalised x."""

    @staticmethod
    def forward(ctx, x, weight, bias, m):
        axes = (0,) + tuple(range(2, x.ndim))
        C = x.shape[1]
        shape = (1, C) + (1,) * (x.ndim - 2)
        xs = x if x.dtype != "f16" else x.to(dtype="f32")
        local = np.concatenate([[x.size / C], ops.sum(xs, axes).numpy().astype(np.float64),
                                ops.sum(xs * xs, axes).numpy().astype(np.float64)])
        tot = distributed.allreduce_array(local)
        n, s, ss = tot[0], tot[1:C + 1], tot[C + 1:]
        mean = s / n
        var = np.maximum(ss / n - mean * mean, 0.0)
        invstd = 1.0 / np.sqrt(var + m.eps)
        if m.track_running_stats:
            mom = _running_factor(m, x)
            for buf, v in ((m.running_mean, mean), (m.running_var, var * n / max(n - 1.0, 1.0))):
                buf.assign_((1.0 - mom) * buf.numpy().astype(np.float64) + mom * v)
        dt = xs.dtype
        mean_t = tensor(mean.reshape(shape), dtype=dt, device=x.device)
        inv_t = tensor(invstd.reshape(shape), dtype=dt, device=x.device)
        xhat = (xs - mean_t) * inv_t
        ctx.save, ctx.weight = (xhat, inv_t, n, axes, shape), weight
        y = xhat
        if weight is not None:
            y = y * weight.reshape(shape).to(dtype=dt) + bias.reshape(shape).to(dtype=dt)
        return y.to(dtype=x.dtype) if y.dtype != x.dtype else y

    @staticmethod
    @once_differentiable  # (the ranks' sums come through the host: no second derivative, as PyTorch's)
    def backward(ctx, g):
        xhat, inv_t, n, axes, shape = ctx.save
        C = shape[1]
        gs = g if g.dtype == xhat.dtype else g.to(dtype=xhat.dtype)
        gb = ops.sum(gs, axes)
        gw = ops.sum(gs * xhat, axes)
        tot = distributed.allreduce_array(np.concatenate([gb.numpy().astype(np.float64),
                                                          gw.numpy().astype(np.float64)]))
        mean_dy = tensor((tot[:C] / n).reshape(shape), dtype=xhat.dtype, device=g.device)
        mean_dy_xhat = tensor((tot[C:] / n).reshape(shape), dtype=xhat.dtype, device=g.device)
        w = ctx.weight
        scale = inv_t if w is None else inv_t * w.reshape(shape).to(dtype=xhat.dtype)
        gx = (gs - mean_dy - xhat * mean_dy_xhat) * scale
        gx = gx.to(dtype=g.dtype) if gx.dtype != g.dtype else gx
        if w is None:
            return gx, None, None, None
        return gx, gw.to(dtype=w.dtype), gb.to(dtype=w.dtype), None


class SyncBatchNorm(BatchNorm1d):
    """Batch norm over [N, C, *] with the statistics of the global batch across the
    ranks of ``vkgrad.distributed`` (``process_group`` is accepted: all ranks);
    in eval mode, or in one process, it is BatchNorm.  ``convert_sync_batchnorm``
    swaps a model's BatchNorm layers for it."""

    _input = ((2, 3, 4, 5), "an input [N, C, *] of 2 to 5 axes")

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def forward(self, x):
        if not (self.training or not self.track_running_stats) or _world() == 1:
            return super().forward(x)
        if getattr(x, "ndim", None) not in self._input[0] or x.shape[1] != self.num_features:
            raise ValueError(f"SyncBatchNorm: expected an input [N, {self.num_features}, *], got "
                             f"{list(getattr(x, 'shape', ()))}")
        return _SyncBN.apply(x, self.weight, self.bias, self)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm1d / 2d / 3d replaced by a SyncBatchNorm
        holding its parameters and running statistics (the same tensors)."""
        if isinstance(module, BatchNorm1d) and not isinstance(module, SyncBatchNorm):
            new = cls.__new__(cls)
            new.__dict__.update(module.__dict__)
            object.__setattr__(new, "process_group", process_group)
            return new
        for name, child in list(module._modules.items()):
            if child is not None:
                converted = cls.convert_sync_batchnorm(child, process_group)
                if converted is not child:
                    setattr(module, name, converted)
        return module


__all__ = ["SyncBatchNorm"]
