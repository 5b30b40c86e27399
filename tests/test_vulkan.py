"""Vulkan-only behaviour: synchronisation under the validation layer, counters,
memory reuse, error paths and device listing."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import vkgrad as vg
from vkgrad.backends.base import BackendError

pytestmark = pytest.mark.skipif(not vg.vulkan_available(), reason="no Vulkan device")
HERE = os.path.dirname(os.path.abspath(__file__))
LAYER = "/usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json"


def _be():
    return vg.get_backend("vulkan")


def test_arena_kind_follows_the_device():
    be = _be()
    forced = os.environ.get("VKGRAD_VULKAN_ARENA")
    want = forced or ("host" if be.limits["device_type"] in ("Cpu", "IntegratedGpu") else "device")
    assert be.arena_kind == want


def test_op_ids_match_shaders():
    from vkgrad.backends.base import BINARY_OPS, UNARY_OPS
    src = open(os.path.join(HERE, "..", "shaders", "ops.glsl")).read()
    for prefix, ops in (("U", UNARY_OPS), ("B", BINARY_OPS)):
        ids = {m.group(1).lower(): int(m.group(2))
               for m in re.finditer(rf"#define {prefix}_(\w+) (\d+)u", src)}
        assert ids == {op: i for i, op in enumerate(ops)}


def _run_under_validation(tmp_path, **env):
    settings = tmp_path / "vk_layer_settings.txt"
    settings.write_text(
        "khronos_validation.enables = VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT\n"
        "khronos_validation.report_flags = error,warn\n"
        "khronos_validation.debug_action = VK_DBG_LAYER_ACTION_LOG_MSG\n")
    e = dict(os.environ, VK_INSTANCE_LAYERS="VK_LAYER_KHRONOS_validation",
             VK_LAYER_SETTINGS_PATH=str(settings), **env)
    r = subprocess.run([sys.executable, os.path.join(HERE, "vk_sync_check.py")], env=e,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert "loss" in out
    return [ln for ln in out.splitlines() if "Validation" in ln or "VUID" in ln or "SYNC-" in ln]


@pytest.mark.skipif(not os.path.exists(LAYER), reason="vulkan-validationlayers not installed")
@pytest.mark.parametrize("arena", ["host", "device"])
@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_iris_step_clean_under_sync_validation(tmp_path, dtype, arena):
    """host: one host-visible arena; device: device-local arena + staging copies."""
    msgs = _run_under_validation(tmp_path, VKGRAD_DTYPE=dtype, VKGRAD_VULKAN_ARENA=arena)
    assert msgs == [], "\n".join(msgs[:20])


@pytest.mark.skipif(not os.path.exists(LAYER), reason="vulkan-validationlayers not installed")
@pytest.mark.parametrize("arena", ["host", "device"])
def test_validation_catches_missing_barriers(tmp_path, arena):
    """The check above can fail: without vkgrad's barriers the layer reports hazards."""
    msgs = _run_under_validation(tmp_path, VKGRAD_DEBUG_SKIP_BARRIERS="1", VKGRAD_VULKAN_ARENA=arena)
    assert any("SYNC-HAZARD" in m for m in msgs)


def test_device_local_arena_runs_the_vulkan_suite():
    """The staging path (device-local arena, per-block upload/download copies) that
    discrete GPUs use, exercised on this device by rerunning the Vulkan tests."""
    if os.environ.get("VKGRAD_VULKAN_ARENA"):
        pytest.skip("already running with a forced arena kind")
    env = dict(os.environ, VKGRAD_VULKAN_ARENA="device", VKGRAD_TEST_BACKENDS="vulkan-f32,vulkan-f16")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                        os.path.join(HERE, "test_ops.py"), os.path.join(HERE, "test_kernels.py"),
                        os.path.join(HERE, "test_optim.py"), "-k", "not torch"],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert " passed" in r.stdout


def test_gpu_tuning_runs_the_vulkan_suite():
    """The choices a GPU gets (storage-buffer reads, grid-stride loops, matmul_sm,
    a subgroup per part of a row, hardware half packing, ...), forced here by
    VKGRAD_DEVICE_TUNING=gpu: the Vulkan tests again, so CI without a GPU checks the
    values of the GPU's paths (their speed needs a GPU: ci/gpu-bench.sh)."""
    if os.environ.get("VKGRAD_DEVICE_TUNING"):
        pytest.skip("already running with forced tuning")
    env = dict(os.environ, VKGRAD_DEVICE_TUNING="gpu", VKGRAD_TEST_BACKENDS="vulkan-f32,vulkan-f16")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                        os.path.join(HERE, "test_ops.py"), os.path.join(HERE, "test_kernels.py"),
                        os.path.join(HERE, "test_optim.py"), os.path.join(HERE, "test_capture.py"),
                        os.path.join(HERE, "test_amp.py"), os.path.join(HERE, "test_random_ops.py"),
                        "-k", "not torch"],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert " passed" in r.stdout


def _iris_step_fn(dtype="f32"):
    vg.manual_seed(0)
    from vkgrad import nn
    model = nn.Sequential(nn.Linear(4, 64, activation="relu", device="vulkan", dtype=dtype),
                          nn.BatchNorm1d(64, device="vulkan", dtype=dtype), nn.Dropout(0.3),
                          nn.Linear(64, 32, activation="relu", device="vulkan", dtype=dtype),
                          nn.Linear(32, 3, device="vulkan", dtype=dtype))
    opt = vg.optim.Adam(model.parameters(), lr=1e-3)
    r = np.random.default_rng(0)
    xs = r.standard_normal((32, 4))
    ys = r.integers(0, 3, 32)

    def step():
        x = vg.tensor(xs, device="vulkan", dtype=dtype)
        loss = vg.softmax_cross_entropy(model(x), vg.tensor(ys, device="vulkan"))
        g = vg.backward(loss)
        vg.clip_grad_norm(model.parameters(), 5.0, grads=g)
        opt.step(g)
        return loss

    return step


def test_training_stays_on_device_and_memory_is_flat():
    vg.set_check_finite(False)
    be = _be()
    step = _iris_step_fn()
    for _ in range(3):
        loss = step()  # hold the loss as the loop below does
    be.synchronize()
    be.reset_counters()
    for _ in range(50):
        loss = step()
    be.synchronize()
    c = dict(be.counters)
    assert c["pipelines_created"] == 0, c        # nothing compiled in steady state
    assert c["blocks_created"] == 0, c           # every allocation reuses a freed block
    assert c["downloads"] == 0, c                # no host reads: no NumPy fallback
    assert c["uploads"] == 2 * 50, c             # only the inputs (x and the labels)
    assert c["dispatches"] > 50 * 20
    assert c["submissions"] == 50                # one queue submission per step
    live = c["live_bytes"]
    views = []  # texel views a step's program made (CPU devices): released when it is cleared
    for _ in range(20):
        step()
        views.append(sum(p.texel_views for p in be._progs))
    be.synchronize()
    assert be.counters["live_bytes"] == live
    assert max(views) == views[0], views
    if be._texel_reads:
        assert views[0] > 0
    assert np.isfinite(loss.item())
    assert be.counters["downloads"] == 1


def test_steps_whose_blocks_outgrow_the_arena_still_take_one_submission_each():
    """A step's blocks are pending while the next one records: when the arenas are
    full, an allocation adds one (within a bound) rather than wait for them -- a
    wait submitted half the step and idled the device (MLPs 512-1536 wide at
    batches 1024-8192 took 1.5-2.9 submissions a step).  An eager loop that never
    submits is still held to a bound: 4x what was live after the last full wait,
    6x what was live at the last submission, 256 MiB at least."""
    from vkgrad.backends.vulkan import VulkanBackend
    be = VulkanBackend(0)
    try:
        x = be.from_numpy(np.ones(1 << 20, np.float32), "f32")  # 4 MiB blocks
        arena = be.counters["arena_bytes"]
        subs = []
        for _ in range(6):
            s0 = be.counters["submissions"]
            y = x
            for _ in range(3 * arena // (5 << 22) + 1):  # 0.6 of the first arena: two steps overflow it
                y = be.unary("neg", y)
            del y
            be.end_step()
            subs.append(be.counters["submissions"] - s0)
        assert subs == [1] * 6, subs
        assert be.counters["arena_bytes"] > arena
        be.synchronize()
        live = be.counters["live_bytes"]
        assert be._settled_live == live
        # the bound: a loop recording without a submission waits once the arenas would pass it
        # (the steps above may have grown the arenas past it already: then none is added)
        bound = max(256 << 20, 4 * live, 6 * be._step_live)
        before, subs0 = be.counters["arena_bytes"], be.counters["submissions"]
        y = x
        for _ in range(2 * bound // (4 << 20)):
            y = be.unary("neg", y)
        assert be.counters["arena_bytes"] <= max(before, bound + (4 << 20))
        assert be.counters["submissions"] > subs0  # it waited for its own work instead
        np.testing.assert_array_equal(be.to_numpy(y), np.ones(1 << 20, np.float32))
    finally:
        be.close()


def test_an_arena_the_device_refuses_means_a_wait_not_an_error():
    """Where adding an arena (rather than waiting) fails because the device refuses
    the memory, the allocation waits for pending work and reuses its blocks: only
    memory that is short after the wait is an error."""
    from vkgrad.backends.vulkan import VulkanBackend
    be = VulkanBackend(0)
    real = be.mgr

    class Refusing:  # the device has no memory for another arena
        def __getattr__(self, name):
            return getattr(real, name)

        def tensor_t(self, *a, **k):
            raise RuntimeError("vk::Device::allocateMemory: ErrorOutOfDeviceMemory")
    try:
        x = be.from_numpy(np.ones(1 << 20, np.float32), "f32")
        arena = be.counters["arena_bytes"]
        be.mgr = Refusing()
        y, subs = x, be.counters["submissions"]
        for _ in range(2 * arena // (4 << 20)):  # twice the arena's blocks, each freed by the next
            y = be.unary("neg", y)
        assert be.counters["submissions"] > subs and be.counters["arena_bytes"] == arena
        np.testing.assert_array_equal(be.to_numpy(y), np.ones(1 << 20, np.float32))
        keep = []
        with pytest.raises(BackendError, match="could not allocate"):  # short after the wait too
            for _ in range(arena // (4 << 20)):
                keep.append(be._alloc((1 << 20,), "f32"))
        assert len(keep) >= arena // (4 << 20) - 3  # (x, y and the backend's own small blocks)
    finally:
        be.mgr = real
        be.close()


def test_empty_cache_gives_back_the_last_arenas_that_hold_no_tensor():
    """memory_stats counts live tensors' bytes and the arenas'; empty_cache waits
    for the work, then releases the trailing arenas without a live block (not past
    one that has one) and later allocations grow the pool again."""
    from vkgrad.backends.vulkan import VulkanBackend
    be = VulkanBackend(0)
    try:
        first = be.counters["arena_bytes"]
        keep = be.from_numpy(np.arange(1 << 20, dtype=np.float32), "f32")
        big = [be.from_numpy(np.full(1 << 22, i, np.float32), "f32") for i in range(12)]  # 16 MiB each
        st = be.memory_stats()
        assert st["arenas"] >= 3 and st["reserved_bytes"] > first
        assert st["allocated_bytes"] >= 12 * (16 << 20) + (4 << 20)
        last = big[-1]
        assert last.block.arena == len(be.arenas) - 1
        del big[:-1]
        assert be.empty_cache() == 0  # the last arena holds a live tensor: nothing after it to release
        y = be.unary("neg", keep)  # pending work: empty_cache waits for it
        del big, last
        released = be.empty_cache()
        assert released > 0 and be.memory_stats()["reserved_bytes"] == st["reserved_bytes"] - released
        assert be.memory_stats()["arenas"] == 1 + max(keep.block.arena, y.block.arena)  # theirs stay
        np.testing.assert_array_equal(be.to_numpy(keep), np.arange(1 << 20, dtype=np.float32))
        np.testing.assert_array_equal(be.to_numpy(y), -np.arange(1 << 20, dtype=np.float32))
        again = [be.unary("neg", be.from_numpy(np.full(1 << 22, i, np.float32), "f32")) for i in range(12)]
        assert [float(be.to_numpy(a)[-1]) for a in again] == [-float(i) for i in range(12)]
    finally:
        be.close()


def test_memory_api_on_each_device():
    assert vg.empty_cache("cpu") == 0
    with pytest.raises(BackendError, match="the cpu device keeps no memory pool"):
        vg.memory_allocated("cpu")
    x = vg.tensor(np.ones(1000), device="vulkan")
    assert vg.memory_allocated("vulkan") >= 4000 and vg.memory_reserved("vulkan") >= vg.memory_allocated("vulkan")
    assert vg.empty_cache("vulkan") >= 0
    assert x.numpy().sum() == 1000


def test_a_step_is_submitted_without_waiting_and_reads_see_every_step():
    """end_step submits the step and returns while the device runs it (the next
    step records into the other program); a host read waits for both.  Five such
    steps with BN running statistics and SGD momentum equal the CPU backend's."""
    from vkgrad import nn
    vg.set_check_finite(False)
    be = _be()
    out = {}
    for dev in ("cpu", "vulkan"):
        vg.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 16, activation="relu", device=dev), nn.BatchNorm1d(16, device=dev),
                              nn.Linear(16, 3, device=dev))
        opt = vg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        r = np.random.default_rng(0)
        for _ in range(5):
            x, y = r.standard_normal((8, 4)), r.integers(0, 3, 8)
            loss = vg.softmax_cross_entropy(model(vg.tensor(x, device=dev)), vg.tensor(y, device=dev))
            opt.step(vg.backward(loss))
            if dev == "vulkan":
                assert any(be._inflight), "the step's submission was waited for"
        out[dev] = [p.numpy() for p in model.parameters()] + [model[1].running_mean.numpy(), loss.numpy()]
        if dev == "vulkan":
            assert not any(be._inflight)  # the reads above waited
    for a, b in zip(out["cpu"], out["vulkan"]):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


def test_waits_that_poll_the_fence_first_see_every_step(monkeypatch):
    """VKGRAD_FENCE_SPIN_US (GPUs: host waits poll the fence before blocking): the
    submitter's polling wait, set directly here (a CPU device never takes it from
    the variable), returns only when the work is done -- steps and reads as
    without it; the variable takes the listed values only and stays 0 on a CPU
    device; by default discrete GPUs poll 200 us, other devices not at all."""
    be = _be()
    from vkgrad.backends.vulkan import _fence_spin_us
    default = be._submitter.spin_us  # (200 on a discrete GPU; the variable may be set)
    if not os.environ.get("VKGRAD_FENCE_SPIN_US"):
        assert default == _fence_spin_us("auto", be.limits["device_type"])
    r = np.random.default_rng(1)
    a, b = r.standard_normal((300, 200)), r.standard_normal((200, 100))
    want = a @ b
    try:
        for us in (50, 1000):
            be._submitter.set_spin_us(us)
            assert be._submitter.spin_us == us
            ha = vg.tensor(a, device="vulkan")
            for _ in range(3):  # steps in flight, then a read that waits for them
                y = (ha @ vg.tensor(b, device="vulkan")).relu()
                be.flush()
            np.testing.assert_allclose(y.numpy(), np.maximum(want, 0), rtol=1e-4, atol=1e-4)
    finally:
        be._submitter.set_spin_us(default)
    probe = "import vkgrad as vg; print(vg.get_backend('vulkan')._submitter.spin_us)"
    out = subprocess.run([sys.executable, "-c", probe], env={**os.environ, "VKGRAD_FENCE_SPIN_US": "200"},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-1]) == (0 if be.limits["device_type"] == "Cpu" else 200)
    out = subprocess.run([sys.executable, "-c", probe], env={**os.environ, "VKGRAD_FENCE_SPIN_US": "7"},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "VKGRAD_FENCE_SPIN_US must be auto, 0, 50, 200 or 1000, got '7'" in out.stderr
    # the default polls on discrete GPUs only; a CPU device never polls
    assert [_fence_spin_us("auto", d) for d in ("DiscreteGpu", "IntegratedGpu", "Cpu")] == [200, 0, 0]
    assert [_fence_spin_us(c, "DiscreteGpu") for c in ("0", "1000")] == [0, 1000]
    assert _fence_spin_us("1000", "Cpu") == 0


_PLACEMENT_PROBE = r"""
import json, os, sys
if len(sys.argv) > 1:
    os.sched_setaffinity(0, {int(c) for c in sys.argv[1].split(",")})
import numpy as np
import vkgrad as vg
from vkgrad.backends.base import BackendError
from vkgrad.backends import get_backend
be = get_backend("vulkan")
x = vg.tensor(np.ones((64, 64)), device="vulkan")
y = x @ x
be.flush()  # submitted; the host goes on recording
cpu = be._submitter.excluded_cpu
driver = sorted(be._driver_threads)
during = {t: sorted(os.sched_getaffinity(t)) for t in driver}
be.synchronize()
cap = vg.capture_step(lambda a: (vg.tensor(a, device="vulkan") @ x).sum())
for _ in range(3):
    cap(np.ones((64, 64), np.float32))
be.synchronize()
print(json.dumps(dict(cpu=cpu, driver=driver, during=during, after_wait=be._submitter.excluded_cpu,
                      allowed=sorted(os.sched_getaffinity(0)), value=float(y.numpy()[0, 0]))))
"""


def _placement(*affinity):
    out = subprocess.run([sys.executable, "-c", _PLACEMENT_PROBE, *affinity], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    import json
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs Linux and two cores")
def test_cpu_driver_threads_are_kept_off_the_recording_core():
    """On a CPU device the driver's threads run elsewhere than the host thread that
    goes on recording after a submit; waiting for everything gives them every
    core back; one allowed core: nothing is placed."""
    if _be().limits["device_type"] != "Cpu":
        pytest.skip("only CPU devices (lavapipe) run submissions on host threads")
    r = _placement()
    assert r["value"] == 64.0
    assert r["driver"], "the driver's threads were not found"
    assert r["cpu"] in r["allowed"]
    for tid, cpus in r["during"].items():
        assert r["cpu"] not in cpus and cpus == [c for c in r["allowed"] if c != r["cpu"]], (tid, cpus)
    assert r["after_wait"] == -1
    one = _placement(str(r["allowed"][0]))
    assert one["value"] == 64.0 and one["cpu"] == -1


def test_f16_moves_half_the_bytes():
    be = _be()
    a = np.random.default_rng(0).standard_normal((64, 128))
    be.reset_counters()
    t32 = vg.tensor(a, device="vulkan", dtype="f32")
    b32 = be.counters["upload_bytes"]
    t16 = vg.tensor(a, device="vulkan", dtype="f16")
    b16 = be.counters["upload_bytes"] - b32
    assert b16 * 2 == b32
    np.testing.assert_allclose(t16.numpy().astype(np.float32), t32.numpy(), rtol=1e-3, atol=1e-3)


def test_device_moves_and_listing():
    x = vg.tensor(np.arange(5.0), device="cpu")
    y = x.to("vulkan")
    assert y.device == "vulkan:0"
    np.testing.assert_array_equal(y.to("cpu").numpy(), x.numpy())
    devs = vg.devices()
    vk = [d for d in devs if d["kind"] == "vulkan"]
    assert vk and vk[0]["max_storage_buffer_range"] > 0 and vk[0]["name"]
    assert vg.get_default_device() == "vulkan:0"  # "auto" picks Vulkan when present
    with pytest.raises(vg.BackendError, match="vulkan:7 does not exist"):
        vg.tensor([1.0], device="vulkan:7")


def test_info_prints_devices_and_shaders():
    r = subprocess.run([sys.executable, "-m", "vkgrad", "info"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0
    assert "vulkan:0" in r.stdout and "SPIR-V modules" in r.stdout and "default device" in r.stdout
    assert "kernels: large matmuls matmul_" in r.stdout


def test_error_paths_leave_the_backend_working():
    be = _be()
    limit = be.max_words * 4
    with pytest.raises(vg.BackendError, match="maxStorageBufferRange"):
        vg.tensor(np.zeros(limit // 4 + 16, dtype=np.float32), device="vulkan")
    with pytest.raises(vg.BackendError, match="dtype f64 is not supported"):
        vg.tensor([1.0], device="vulkan", dtype="f64")
    # device memory exhausted: cap the arenas' total a little above what exists now
    saved = be.memory_limit
    be.memory_limit = be.counters["arena_bytes"] + 3 * limit // 2
    big = []
    try:
        with pytest.raises(vg.BackendError, match="out of device memory"):
            for _ in range(64):
                big.append(vg.tensor(np.zeros(limit // 16, dtype=np.float32), device="vulkan"))
    finally:
        be.memory_limit = saved
    # tensors were made before the cap was reached, in an arena added for them (how many
    # fit depends on the device's buffer range: 4 of 8 MiB on lavapipe, 3 of 256 MiB on an H200)
    assert len(big) >= 1 and len(be.arenas) >= 2
    del big
    x = vg.tensor([1.0, 2.0], device="vulkan")
    np.testing.assert_allclose((x * 3.0).numpy(), [3.0, 6.0])


def test_texel_layout_rejects_bad_input_and_keeps_the_algorithm():
    """set_texel_layout (the rebuild of a kp algorithm for texel bindings) names
    what is wrong, and a failed rebuild leaves the algorithm as it was."""
    from vkgrad.backends.vulkan import _vkext
    be = _be()
    a = be._algo("copy4", "u32")  # a storage-buffer algorithm, 2 bindings
    spirv = be._spirv_of("copy4_tx_u32")
    with pytest.raises(RuntimeError, match="1 formats for 2 bindings"):
        _vkext.set_texel_layout(a, spirv, [107])
    with pytest.raises(RuntimeError, match="multiple of 4"):
        _vkext.set_texel_layout(a, spirv[:-1], [107, 0])
    with pytest.raises(RuntimeError, match="unsupported texel buffer format"):
        _vkext.set_texel_layout(a, spirv, [37, 0])
    x = vg.tensor(np.arange(8.0), device="vulkan").handle
    y = be._alloc((8,), "f32")
    be._dispatch("copy4", "u32", (), 1, [8], [x, y])  # the algorithm still copies
    np.testing.assert_array_equal(be.to_numpy(y), np.arange(8.0))


def test_tensors_beyond_one_arena():
    """More live data than maxStorageBufferRange: several arenas, ops across them."""
    be = _be()
    n = be.max_words // 3  # three of these cannot share one arena
    r = np.random.default_rng(0)
    arrays = [r.standard_normal(n).astype(np.float32) for _ in range(4)]
    ts = [vg.tensor(a, device="vulkan") for a in arrays]
    assert len({t.handle.block.arena for t in ts}) >= 2
    total = ts[0] + ts[1] * ts[2] - ts[3]
    np.testing.assert_allclose(total.numpy(), arrays[0] + arrays[1] * arrays[2] - arrays[3], rtol=1e-6)


def test_bench_tool_runs_and_writes_json(tmp_path):
    """python -m vkgrad.bench: a smoke run (no timing asserted, only the report's shape)."""
    out = tmp_path / "b.json"
    r = subprocess.run([sys.executable, "-m", "vkgrad.bench", "--size", "small", "--reps", "1",
                        "--only", "optimizer,elementwise,conv,layernorm", "--dtype", "f32", "--no-progress",
                        "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    import json
    res = json.loads(out.read_text())
    assert set(res["ceilings"]) >= {"fma_scalar_gflops", "fma_vec4_gflops", "copy_shader_gbs"}
    if _be()._texel_reads:  # the copy it uses reads texels; the storage-buffer copy is reported beside it
        assert res["ceilings"]["copy_shader_storage_gbs"] > 0 and "with storage-buffer reads" in r.stdout
    fams = {row["family"] for row in res["results"]}
    assert fams == {"optimizer", "elementwise", "conv", "layernorm"}
    for row in res["results"]:
        assert row["value"] > 0 and row["numpy_value"] > 0 and row["seconds"] > 0
    units = {row["case"].split(" ")[0]: row["unit"] for row in res["results"] if row["family"] == "conv"}
    assert units == {"im2col": "GB/s", "col2im": "GB/s", "conv2d": "GFLOP/s"}
    assert "of ceiling" in r.stdout


@pytest.mark.parametrize("capture", [False, True])
def test_training_benchmark_reports_one_submission_per_step(tmp_path, capture):
    """benchmarks/train_step.py on the Vulkan device: the iris model, the MLP, the
    CNN and the transformer block (embedding, batched products) in a steady state
    take one queue submission per step and create no pipeline
    or buffer (eager: every op recorded by Python; captured: the recording replayed)."""
    import json
    out = tmp_path / "t.json"
    r = subprocess.run([sys.executable, os.path.join(HERE, "..", "benchmarks", "train_step.py"), "--device",
                        "vulkan", "--steps", "20", "--no-torch", "--json", str(out)]
                       + (["--capture"] if capture else []), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(out.read_text())
    for kind in ("iris", "mlp", "cnn", "attn"):
        w = res[f"{kind}_per_step"]
        assert w["submissions"] == 1.0 and w["pipelines_created"] == 0 and w["blocks_created"] == 0, (kind, w)
        assert (w["dispatches"] == 0) == capture, (kind, w)
    assert "1.00 submissions" in r.stdout


def test_bench_picks_cases_and_rejects_unknown_names(tmp_path):
    """--cases keeps the cases whose names start with the given words; an unknown
    family, dtype or case name is an error naming the valid ones (not silently nothing)."""
    from vkgrad import bench
    res = bench.run({"elementwise"}, ("f32",), "small", 1, False, names=["transpose"])
    assert [(r["family"], r["case"].split(" ")[0], r["dtype"]) for r in res["results"]] == \
        [("elementwise", "transpose", "f32")]
    for kw, msg in ((dict(only={"elementwize"}), "unknown 'elementwize'; families are matmul"),
                    (dict(dtypes=("f64",)), "unknown 'f64'"),
                    (dict(names=["transpose", "bogus"]), "no case starts with 'bogus'; cases are square")):
        with pytest.raises(ValueError, match=msg):
            bench.run(**kw)
    r = subprocess.run([sys.executable, "-m", "vkgrad.bench", "--cases", "bogus"], capture_output=True, text=True)
    assert r.returncode == 2 and "no case starts with 'bogus'" in r.stderr


def test_bench_timer_runs_many_calls_in_one_submission():
    """The bench times ``inner`` calls of a recorder that allocates its output per
    call in one submission, by the device's clock: its warm-up grows the arenas to
    hold a run's outputs (the allocator otherwise waited for the device at every
    call once an arena was full -- a submission per call, timed by the wall clock,
    which put submit-and-wait latency into GPU figures)."""
    from vkgrad import bench
    be = _be()
    a = be.from_numpy(np.ones(1 << 16, np.float32), "f32")
    run = bench._gpu_timer(be, lambda: be.binary("add", a, a), min_time=0.05)
    for _ in range(3):
        bench._CLOCKS.update(device=0, wall=0)
        subs = be.counters["submissions"]
        assert run() > 0
        assert be.counters["submissions"] == subs + 1
        assert bench._CLOCKS == {"device": 1, "wall": 0}


def test_timed_synchronize_reports_the_device_time_of_one_submission():
    """The bench's clock: device timestamps around one submission, within the wall
    time around it, growing with the work; None when nothing was recorded."""
    import time
    from vkgrad.backends.vulkan import VulkanBackend
    # a backend of its own: the shared one's arenas hold earlier tests' blocks of other
    # sizes, and _alloc synchronizes (a second submission) when no block of a size is free
    be = VulkanBackend(0)
    try:
        _timed_rounds(be, time)
    finally:
        be.close()


def _timed_rounds(be, time):
    assert be.timed_synchronize() is None  # nothing recorded: nothing to time
    an = np.random.default_rng(0).uniform(-1, 1, (512, 512)).astype(np.float32) / 16
    a = be.from_numpy(an, "f32")
    times = {}
    for n in (1, 8):
        for _ in range(2):  # the first round builds pipelines
            subs = be.counters["submissions"]
            t0 = time.perf_counter()
            x = a
            for _ in range(n):  # a chain (each product reads the last), so the device runs them in turn
                x = be.matmul(x, a)
            dev = be.timed_synchronize()
            wall = time.perf_counter() - t0
        assert be.counters["submissions"] == subs + 1
        assert dev is not None and 0 < dev <= wall, (dev, wall)
        times[n] = dev
        want = an
        for _ in range(n):
            want = want @ an
        np.testing.assert_allclose(be.to_numpy(x), want, rtol=1e-3, atol=1e-6)
    assert times[8] > 2 * times[1], times
    # timing is off again: an ordinary submission writes no timestamps
    be.matmul(a, a)
    slot = be._pi
    be.synchronize()
    assert be._submitter.elapsed(slot) == -1.0
