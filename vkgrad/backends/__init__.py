"""Backend registry and device selection.

Device strings: ``"cpu"``, ``"vulkan"`` (= ``"vulkan:0"``), ``"vulkan:N"`` and
``"auto"`` (Vulkan when a device is present, else CPU).
"""
from __future__ import annotations

from .base import Backend, BackendError, Device
from .cpu import CPUBackend

_cpu = CPUBackend()
_backends = {"cpu": _cpu}
_vulkan_error = None


def _vulkan_module():
    """Import the Vulkan backend, or raise a BackendError saying what to install."""
    global _vulkan_error
    if _vulkan_error is not None:
        raise BackendError(_vulkan_error)
    try:
        from . import vulkan  # noqa: F401  (optional: needs kp and compiled shaders)
    except ImportError as e:
        _vulkan_error = (
            f"the Vulkan backend is not available ({e}). Install a Vulkan driver "
            "and Kompute: run `bash ci/setup.sh` (Debian packages libvulkan-dev, "
            "mesa-vulkan-drivers, glslang-tools; kp built from its PyPI sdist), "
            "then reinstall vkgrad so its shaders are compiled.")
        raise BackendError(_vulkan_error) from None
    return vulkan


def normalize_device(device):
    """Canonical device string for a user-given one."""
    if device is None:
        from .. import config
        device = config.default_device
    if not isinstance(device, str):
        device = str(device)
    d = device.strip().lower()
    if d == "auto":
        return Device("vulkan:0" if vulkan_available() else "cpu")
    if d == "cpu":
        return Device("cpu")
    if d == "vulkan" or d.startswith("vulkan:"):
        idx = d.split(":", 1)[1] if ":" in d else "0"
        if not idx.isdigit():
            raise ValueError(f"device {device!r}: expected 'vulkan:N' with an integer N")
        return Device(f"vulkan:{int(idx)}")
    raise ValueError(f"unknown device {device!r}; expected 'cpu', 'vulkan', 'vulkan:N' or 'auto'")


def get_backend(device) -> Backend:
    d = normalize_device(device)
    b = _backends.get(d)
    if b is None:
        mod = _vulkan_module()
        b = mod.VulkanBackend(int(d.split(":")[1]))
        _backends[d] = b
    return b


_available = []  # cached: counting devices creates a Vulkan instance (milliseconds)


def vulkan_available() -> bool:
    if not _available:
        try:
            _available.append(_vulkan_module().device_count() > 0)
        except BackendError:
            _available.append(False)
    return _available[0]


def devices():
    """Every device vkgrad can use, as dicts (name, kind, limits)."""
    out = [{"device": "cpu", "name": "NumPy (host CPU)", "kind": "cpu"}]
    try:
        mod = _vulkan_module()
    except BackendError:
        return out
    out.extend(mod.list_devices())
    return out


class _Cudnn:
    """``torch.backends.cudnn``'s switches, for PyTorch scripts that set them: vkgrad's
    kernels are its own and deterministic, so ``benchmark`` / ``deterministic`` change
    nothing."""
    enabled, benchmark, deterministic = False, False, True


cudnn = _Cudnn()

__all__ = ["Backend", "BackendError", "get_backend", "normalize_device", "devices",
           "vulkan_available"]
