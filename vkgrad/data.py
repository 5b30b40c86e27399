"""DataLoader: shuffled mini-batches of (x, y) as tensors on the default device."""
from __future__ import annotations

import math

import numpy as np

from .random import rng
from .tensor import Tensor, tensor


class DataLoader:
    """Batches of ``(xb, yb)`` over the first axis of ``x`` and ``y``.

    Every sample appears once per epoch; with ``shuffle`` the order changes
    every epoch (from ``seed``, else from ``vkgrad.manual_seed``'s generator).
    ``y`` may be one-hot rows or integer labels; ``y=None`` yields ``xb`` only."""

    def __init__(self, x, y=None, batch_size=32, shuffle=True, drop_last=False, seed=None,
                 device=None, dtype=None):
        self.x, self.y = self._array("x", x), None if y is None else self._array("y", y)
        if self.x.ndim < 1 or self.x.shape[0] == 0:
            raise ValueError(f"DataLoader: x must have at least one sample, got shape {list(self.x.shape)}")
        if self.y is not None and self.y.shape[0] != self.x.shape[0]:
            raise ValueError(f"DataLoader: x has {self.x.shape[0]} samples but y has "
                             f"{self.y.shape[0]} (shapes {list(self.x.shape)} and {list(self.y.shape)})")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), shuffle, drop_last
        self.device, self.dtype = device, dtype
        self._rng = np.random.default_rng(seed) if seed is not None else None
        self.shard = (0, 1)  # (rank, world): set by vkgrad.distributed

    @staticmethod
    def _array(name, a):
        if isinstance(a, Tensor):
            return a.numpy()
        try:
            return np.asarray(a)
        except ValueError as e:  # ragged: e.g. an (x, y) pair passed as x
            raise ValueError(f"DataLoader: {name} must be one array of samples, got a {type(a).__name__} "
                             f"that NumPy cannot stack ({e}); pass inputs and targets apart: "
                             f"DataLoader(x, y)") from None

    def __len__(self):
        n = self._indices_len()
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _indices_len(self):
        n = self.x.shape[0]
        r, w = self.shard
        return len(range(r, n, w))

    def epoch_order(self):
        """The sample indices of one epoch, in the order they will be served."""
        n = self.x.shape[0]
        order = (self._rng or rng()).permutation(n) if self.shuffle else np.arange(n)
        r, w = self.shard
        return order[r::w]

    def __iter__(self):
        order = self.epoch_order()
        bs = self.batch_size
        for s in range(0, len(order), bs):
            idx = order[s:s + bs]
            if self.drop_last and len(idx) < bs:
                break
            xb = tensor(self.x[idx], dtype=self.dtype, device=self.device)
            if self.y is None:
                yield xb
            else:
                yb = tensor(self.y[idx], dtype=None if self.y.dtype.kind in "iub" else self.dtype,
                            device=self.device)
                yield xb, yb

    epoch = __iter__  # the seed's dl$epoch()
