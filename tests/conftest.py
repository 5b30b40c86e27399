"""Every test that takes ``bk`` runs once per backend configuration.

Configurations: cpu (f32), and when a Vulkan device exists, vulkan-f32 and
vulkan-f16.  VKGRAD_TEST_BACKENDS="cpu,vulkan-f32" restricts the list.
VKGRAD_TEST_CPU_SPLIT=N runs the CPU backend's ops split over N threads however
small they are (chunks of one row, blocks of 5 elements), to test the split paths
on every op."""
import os
from dataclasses import dataclass

import numpy as np
import pytest

import vkgrad as vg


@dataclass
class BackendCfg:
    name: str
    device: str
    dtype: str
    rtol: float
    atol: float

    def t(self, a, requires_grad=False, dtype=None):
        """A tensor on this configuration's device and dtype."""
        a = np.asarray(a)
        dt = dtype or ("i32" if a.dtype.kind in "iu" else self.dtype)
        return vg.tensor(a, requires_grad=requires_grad, dtype=dt, device=self.device)

    def close(self, got, want, rtol=None, atol=None, what=""):
        got = np.asarray(got, dtype=np.float64)
        want = np.asarray(want, dtype=np.float64)
        assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
        np.testing.assert_allclose(got, want, rtol=rtol or self.rtol, atol=atol or self.atol,
                                   err_msg=f"{self.name} {what}")


def _configs():
    cfgs = [BackendCfg("cpu", "cpu", "f32", 1e-5, 1e-6)]
    if vg.vulkan_available():
        cfgs.append(BackendCfg("vulkan-f32", "vulkan", "f32", 1e-4, 1e-5))
        cfgs.append(BackendCfg("vulkan-f16", "vulkan", "f16", 2e-2, 2e-2))
    want = os.environ.get("VKGRAD_TEST_BACKENDS")
    if want:
        names = [w.strip() for w in want.split(",")]
        missing = [n for n in names if n not in [c.name for c in cfgs]]
        if missing:
            raise RuntimeError(f"VKGRAD_TEST_BACKENDS asks for {missing}, which this machine lacks")
        cfgs = [c for c in cfgs if c.name in names]
    return cfgs


CONFIGS = _configs()

if os.environ.get("VKGRAD_TEST_CPU_SPLIT"):
    from vkgrad.backends import cpu as _cpu
    _cpu._PAR_MIN, _cpu._BLAS_ONE_THREAD, _cpu._BLOCK = 1, 0, 5
    vg.set_num_threads(int(os.environ["VKGRAD_TEST_CPU_SPLIT"]))


@pytest.fixture(params=CONFIGS, ids=[c.name for c in CONFIGS])
def bk(request):
    return request.param


@pytest.fixture(autouse=True)
def _reset_defaults():
    vg.manual_seed(0)
    yield
    vg.set_default_dtype("f32")
    vg.config.default_device = "auto"
    vg.config.grad_enabled = True
    vg.config.check_finite_loss = True
