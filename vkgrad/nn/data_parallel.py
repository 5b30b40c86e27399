"""PyTorch's ``nn.DataParallel`` module wrapper, for code that wraps its model
unconditionally: on one device (PyTorch's own behaviour with one GPU) the wrapped
module runs as it is."""
from __future__ import annotations

from ..backends import normalize_device
from .module import Module


class DataParallel(Module):
    """``DataParallel(module, device_ids=None, output_device=None, dim=0)``: ``forward``
    is ``module``'s, its state dict keys start with ``module.`` (as PyTorch's, so
    checkpoints interchange).  Replicas on several devices are vkgrad's own
    ``vkgrad.parallel.DataParallel`` (a training step split over Vulkan devices, the
    gradients summed): a module wrapper cannot take gradients across devices here, so
    more than one device is refused with that pointer."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        # (PyTorch's ids are GPU indices: Vulkan device N here)
        devices = {f"vulkan:{d}" if isinstance(d, int) else normalize_device(d) for d in (device_ids or [])}
        if len(devices) > 1:
            raise NotImplementedError(
                f"nn.DataParallel over {sorted(devices)}: replicas on several devices are "
                "vkgrad.parallel.DataParallel(model, devices) with its train_step (a module wrapper here runs "
                "one device)")
        if int(dim) != 0:
            raise ValueError(f"nn.DataParallel: only the batch axis 0 is split, got dim={dim}")
        self.module = module
        self.device_ids, self.output_device, self.dim = list(device_ids or []), output_device, 0

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)
