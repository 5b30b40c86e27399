"""capture_step: a recorded training step replays exactly what eager steps compute."""
import numpy as np
import pytest

import vkgrad as vg
from vkgrad import nn


def _train(capture, device, steps=7, optimizer="adam", read_each=True, pipelined=True):
    vg.manual_seed(0)
    vg.set_default_device(device)
    model = nn.Sequential(nn.Linear(4, 64, activation="relu"), nn.BatchNorm1d(64), nn.Dropout(0.3),
                          nn.Linear(64, 32, activation="relu"), nn.Linear(32, 3))
    opt = (vg.optim.Adam(model.parameters(), lr=1e-2) if optimizer == "adam"
           else vg.optim.RMSprop(model.parameters(), lr=1e-2) if optimizer == "rmsprop"
           else vg.optim.Adagrad(model.parameters(), lr=5e-2, lr_decay=0.01) if optimizer == "adagrad"
           else vg.optim.RMSprop(model.parameters(), lr=1e-2, momentum=0.5) if optimizer == "rmsprop-momentum"
           else vg.optim.RMSprop(model.parameters(), lr=1e-2, centered=True) if optimizer == "rmsprop-centered"
           else vg.optim.RMSprop(model.parameters(), lr=1e-2, momentum=0.5, centered=True)
           if optimizer == "rmsprop-both"
           else vg.optim.SGD(model.parameters(), lr=5e-2, momentum=0.9, nesterov=True))
    sched = vg.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)

    def step(xb, yb):
        loss = vg.softmax_cross_entropy(model(xb), yb)
        grads = vg.backward(loss)
        vg.clip_grad_norm(model.parameters(), 1.0, grads=grads)
        opt.step(grads)
        return loss

    f = vg.capture_step(step, pipelined=pipelined) if capture else (lambda a, b: step(vg.tensor(a), vg.tensor(b)))
    r = np.random.default_rng(0)
    losses = []
    for i in range(steps):
        loss = f(r.standard_normal((32, 4)), r.integers(0, 3, 32))
        if read_each:
            losses.append(loss.item())
        elif capture and i >= 1 and device.startswith("vulkan"):  # recorded from the 2nd call
            assert vg.get_backend(device)._replaying, "the replay was waited for"
        sched.step()
    if not read_each:
        losses.append(loss.item())  # waits for the last replay
    return losses, model.state_dict(), opt.step_count


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop", "adagrad", "rmsprop-momentum", "rmsprop-centered",
                                       "rmsprop-both"])
def test_replay_matches_eager_bit_for_bit(bk, optimizer):
    if bk.dtype == "f16":
        pytest.skip("dtype-independent")
    eager = _train(False, bk.device, optimizer=optimizer)
    captured = _train(True, bk.device, optimizer=optimizer)
    assert eager[0] == captured[0]
    assert eager[2] == captured[2] == 7
    for k, v in eager[1].items():
        np.testing.assert_array_equal(captured[1][k], v, err_msg=k)


@pytest.mark.parametrize("pipelined", [True, False])
def test_replays_not_waited_for_match_eager_bit_for_bit(bk, pipelined):
    """Replays return before the device has run them (a recording's next replay
    waits for its last before writing its inputs; pipelined: two recordings in
    turn): fresh inputs every step, read only at the end."""
    if bk.dtype == "f16":
        pytest.skip("dtype-independent")
    eager = _train(False, bk.device, steps=9, read_each=False)
    captured = _train(True, bk.device, steps=9, read_each=False, pipelined=pipelined)
    assert eager[0] == captured[0] and eager[2] == captured[2] == 9
    for k, v in eager[1].items():
        np.testing.assert_array_equal(captured[1][k], v, err_msg=k)


@pytest.mark.skipif(not vg.vulkan_available(), reason="no Vulkan device")
def test_replay_is_one_submission_and_no_recording():
    vg.set_check_finite(False)
    vg.set_default_device("vulkan")
    model = nn.Sequential(nn.Linear(4, 8, activation="relu"), nn.Linear(8, 3))
    opt = vg.optim.Adam(model.parameters())

    @vg.capture_step
    def step(xb, yb):
        loss = vg.softmax_cross_entropy(model(xb), yb)
        opt.step(vg.backward(loss))
        return loss

    x, y = np.ones((5, 4)), np.array([0, 1, 2, 0, 1])
    step(x, y)
    step(x, y)  # recorded
    step(x, y)  # recorded again: two recordings replay in turn
    be = vg.get_backend("vulkan")
    be.reset_counters()
    for _ in range(10):
        loss = step(x, y)
    assert be.counters["replays"] == 10 and be.counters["submissions"] == 10
    assert be.counters["dispatches"] == 0 and be.counters["pipelines_created"] == 0
    assert be.counters["blocks_created"] == 0
    assert len(be._replaying) == 2  # both recordings submitted, neither waited for
    assert np.isfinite(loss.item())
    step(np.ones((6, 4)), np.array([0, 1, 2, 0, 1, 2]))  # a new shape: eager, then its own recordings
    assert be.counters["dispatches"] > 0
    step(np.ones((6, 4)), np.array([0, 1, 2, 0, 1, 2]))
    step(np.ones((6, 4)), np.array([0, 1, 2, 0, 1, 2]))
    be.reset_counters()
    step(x, y)
    step(np.ones((6, 4)), np.array([0, 1, 2, 0, 1, 2]))
    assert be.counters["replays"] == 2 and be.counters["dispatches"] == 0


@pytest.mark.skipif(not vg.vulkan_available(), reason="no Vulkan device")
def test_host_read_inside_a_captured_step_is_a_clear_error():
    vg.set_default_device("vulkan")
    w = vg.Parameter(np.ones(3))

    @vg.capture_step
    def step(x):
        v = (w * x).sum()
        return v.item()

    step(np.ones(3))
    with pytest.raises(vg.BackendError, match="read on the host .* inside a captured step"):
        step(np.ones(3))
    assert (w * 2.0).numpy().tolist() == [2.0, 2.0, 2.0]  # the backend still works


@pytest.mark.skipif(not vg.vulkan_available(), reason="no Vulkan device")
@pytest.mark.parametrize("captured", [False, True])
def test_allocation_splits_a_free_block_without_waiting(monkeypatch, captured):
    """With no free block of a size class and the arenas' bump space used up, an
    allocation splits a larger free block rather than wait for pending work: inside
    a capture a wait is a host read (the MLP's captured step on a GPU, split K's f32
    scratch, raised CaptureError), outside it a submission mid-step (a 1024-wide
    MLP at batch 1024 trained after other models, whose freed blocks were of other
    sizes, took 2.4 submissions a step, the device idle at each)."""
    from vkgrad.backends.vulkan import VulkanBackend
    be = VulkanBackend(0)
    try:
        big = be._alloc((1 << 16,), "f32")
        del big  # a free block of 64 Ki words
        be.synchronize()
        monkeypatch.setattr(be, "_bump_alloc", lambda cls: None)  # the arenas' bump space used up
        x = be.from_numpy(np.ones(1024, np.float32), "f32")
        be.unary("neg", x)  # pending work
        if captured:
            be.begin_capture()  # (submits the pending work first)
        subs = be.counters["submissions"]
        small = be._alloc((1000,), "f32")
        if captured:
            assert be.end_capture() is not None
        assert small.block.cls == 1024
        assert be.counters["submissions"] == subs  # no wait
    finally:
        be.close()


@pytest.mark.skipif(not vg.vulkan_available(), reason="no Vulkan device")
def test_a_captured_step_held_until_exit_is_released_before_the_device():
    """A recording kept in a global outlives the backend's atexit close: the close
    releases it first (this crashed the interpreter at exit), and a replay after
    the close is a clear error."""
    import subprocess
    import sys
    code = """
import numpy as np, vkgrad as vg
from vkgrad import nn
vg.set_default_device("vulkan")
model = nn.Sequential(nn.Linear(4, 8, activation="relu"), nn.Linear(8, 3))
opt = vg.optim.Adam(model.parameters(), lr=1e-2)
def step(xb, yb):
    loss = vg.softmax_cross_entropy(model(xb), yb)
    opt.step(vg.backward(loss))
    return loss
STEP = vg.capture_step(step)
x, y = np.ones((4, 4)), np.array([0, 1, 2, 0])
for _ in range(3):
    STEP(x, y)
be = vg.get_backend("vulkan")
cap = next(iter(be._captures))
be.close()
try:
    be.replay(cap)
except vg.BackendError as e:
    print("replay after close:", e)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "captured step was released" in r.stdout


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_loading_a_checkpoint_into_a_captured_step(bk, optimizer, tmp_path):
    """Model and optimizer state loaded after the step was captured: written into
    the buffers the recording holds (Adam's step count in place too), so the
    replays go on from the checkpoint exactly as eager steps from it would."""
    if bk.dtype == "f16":
        pytest.skip("dtype-independent")
    vg.set_default_device(bk.device)
    r = np.random.default_rng(5)
    data = [(r.standard_normal((16, 4)), r.integers(0, 3, 16).astype(np.int32)) for _ in range(6)]

    def make():
        vg.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 16, activation="relu"), nn.BatchNorm1d(16), nn.Linear(16, 3))
        opt = (vg.optim.Adam(model.parameters(), lr=1e-2) if optimizer == "adam"
               else vg.optim.SGD(model.parameters(), lr=5e-2, momentum=0.9))

        def step(xb, yb):
            loss = vg.softmax_cross_entropy(model(xb), yb)
            opt.step(vg.backward(loss))
            return loss
        return model, opt, step

    model, opt, step = make()
    for x, y in data:
        step(vg.tensor(x), vg.tensor(y))
    want = {k: np.asarray(v) for k, v in model.state_dict().items()}
    model, opt, step = make()
    for x, y in data[:3]:
        step(vg.tensor(x), vg.tensor(y))
    path = str(tmp_path / "ck.npz")
    vg.save({"model": model, "opt": opt.state_dict()}, path)
    model, opt, step = make()
    f = vg.capture_step(step)
    for x, y in data[:2]:  # warm-up, then the recording: some other state
        f(x, y)
    ck = vg.load(path)
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["opt"])
    for x, y in data[3:]:
        f(x, y)
    for k, v in model.state_dict().items():
        np.testing.assert_allclose(v, want[k], rtol=1e-6, atol=1e-7, err_msg=k)


def _embed_step_losses(capture, device, dtype):
    """A step through the newer ops -- embedding, indexing, cat, comparisons, where,
    maximum, layer_norm, dropout -- eager or captured: its losses and a weight."""
    vg.manual_seed(0)
    emb = nn.Embedding(20, 8, device=device, dtype=dtype)
    body = nn.Sequential(nn.Linear(16, 32, device=device, dtype=dtype), nn.LayerNorm(32, device=device, dtype=dtype),
                         nn.Dropout(0.2), nn.Linear(32, 5, device=device, dtype=dtype))
    opt = vg.optim.Adam(emb.parameters() + body.parameters(), lr=1e-2)

    def step(ib, yb):
        e = emb(ib)
        h = vg.cat([e[:, 0], e[:, 1]], 1)
        h = vg.where(vg.gt(h, -1.0), h, vg.maximum(h * 0.5, -1.5))
        loss = vg.softmax_cross_entropy(body(h), yb)
        opt.step(vg.backward(loss))
        return loss

    f = vg.capture_step(step) if capture else (
        lambda a, b: step(vg.tensor(a, device=device), vg.tensor(b, device=device)))
    r = np.random.default_rng(1)
    losses = [float(f(r.integers(0, 20, (32, 2)).astype(np.int32), r.integers(0, 5, 32).astype(np.int32)).item())
              for _ in range(6)]
    return losses, body[0].weight.numpy()


def test_replay_of_the_newer_ops_matches_eager_bit_for_bit(bk):
    if bk.device == "cpu":
        pytest.skip("capture records device work")
    (a, wa), (b, wb) = _embed_step_losses(False, bk.device, bk.dtype), _embed_step_losses(True, bk.device, bk.dtype)
    assert a == b and np.array_equal(wa, wb)
    assert a[-1] < a[0]  # (it trains)


def _train_cnn(capture, device, steps=5):
    vg.manual_seed(1)
    vg.set_default_device(device)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
                          nn.AvgPool2d(3, 2, padding=1, count_include_pad=False), nn.Upsample(scale_factor=2),
                          nn.GroupNorm(3, 3), nn.Dropout2d(0.2), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(12, 2))
    opt = vg.optim.Adam(model.parameters(), lr=1e-2)

    def step(xb, yb):
        loss = vg.softmax_cross_entropy(model(xb), yb)
        opt.step(vg.backward(loss))
        return loss

    f = vg.capture_step(step) if capture else (lambda a, b: step(vg.tensor(a), vg.tensor(b)))
    r = np.random.default_rng(0)
    losses = [f(r.standard_normal((4, 1, 7, 7)), r.integers(0, 2, 4)).item() for _ in range(steps)]
    return losses, model.state_dict(), f


def test_cnn_replay_matches_eager_bit_for_bit(bk):
    """Convolutions and pools (im2col / col2im, the pools' argmax and per-position
    divisors kept on the device), upsampling, group norm and channel dropout (fresh
    masks each replay) replay exactly what eager steps compute; on Vulkan a replay
    is one submission."""
    if bk.dtype == "f16":
        pytest.skip("dtype-independent")
    eager = _train_cnn(False, bk.device)
    captured = _train_cnn(True, bk.device)
    assert eager[0] == captured[0]
    for k, v in eager[1].items():
        np.testing.assert_array_equal(captured[1][k], v, err_msg=k)
    if bk.device.startswith("vulkan"):
        be = vg.get_backend(bk.device)
        be.reset_counters()
        for _ in range(3):
            captured[2](np.ones((4, 1, 7, 7)), np.array([0, 1, 0, 1]))
        assert be.counters["replays"] == be.counters["submissions"] == 3
        assert be.counters["dispatches"] == be.counters["pipelines_created"] == be.counters["blocks_created"] == 0


def test_batch_norm_count_advances_on_replays(bk):
    """num_batches_tracked counts a captured step's replays (the recording's own
    batch and each replay); momentum=None -- a new factor each step -- raises."""
    if bk.device == "cpu" or bk.dtype == "f16":
        pytest.skip("(captured steps: the Vulkan backend's)")
    x, y = np.random.default_rng(0).standard_normal((8, 3)), np.eye(4)[np.arange(8) % 4]
    for momentum in (0.1, None):
        m = nn.Sequential(nn.Linear(3, 4, device=bk.device), nn.BatchNorm1d(4, momentum=momentum, device=bk.device))
        opt = vg.optim.SGD(m.parameters(), lr=0.1)

        def step(xb, yb):
            loss = vg.softmax_cross_entropy(m(xb), yb)
            opt.step(vg.backward(loss))
            return loss
        f = vg.capture_step(step)
        if momentum is None:
            with pytest.raises(ValueError, match="BatchNorm1d: momentum=None .* cannot be captured"):
                for _ in range(3):
                    f(x, y)
            continue
        for _ in range(5):
            f(x, y)
        vg.get_backend(bk.device).synchronize()
        assert m[1].num_batches_tracked == 5 and int(m.state_dict()["1.num_batches_tracked"]) == 5
