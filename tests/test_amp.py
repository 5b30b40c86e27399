"""Mixed precision: f32 master weights, loss scaling, skipped steps, accuracy in f16."""
import numpy as np
import pytest

import vkgrad as vg
from vkgrad import nn
from vkgrad.amp import GradScaler


def _tiny_grad_loss(w):
    # d loss / d w = 1e-8 everywhere: below f16's smallest subnormal (6e-8); the
    # loss itself is f32, as vkgrad's loss functions are for f16 inputs
    return (w * 1e-4).sum().to(dtype="f32") * 1e-4


def test_gradient_underflows_in_f16_and_survives_with_scaling(bk):
    w = vg.Parameter(np.ones(4), device=bk.device, dtype="f16")
    g_plain = vg.backward(_tiny_grad_loss(w)).of(w)
    assert np.all(g_plain.numpy() == 0)  # underflow without scaling
    scaler = GradScaler()
    opt = vg.optim.SGD([w], lr=1e6)
    grads = vg.backward(scaler.scale(_tiny_grad_loss(w)))
    scaler.unscale_(opt, grads)
    g = grads.of(w)
    assert g.dtype == "f32"
    np.testing.assert_allclose(g.numpy(), 1e-8, rtol=2e-2)
    assert scaler.step(opt, grads)
    scaler.update()
    np.testing.assert_allclose(w.numpy().astype(np.float64), 1.0 - 1e-2, rtol=2e-3)


@pytest.mark.parametrize("targets", ["labels", "dense"])
def test_scaled_softmax_xent_of_f16_logits(bk, targets):
    """softmax_cross_entropy reads f16 logits as they are and returns an f32 loss;
    scaled by GradScaler's 2**16 (beyond f16's range) its gradient is still
    finite and, unscaled, the f32 one."""
    r = np.random.default_rng(0)
    x, lab = r.uniform(-2, 2, (16, 5)), r.integers(0, 5, 16)
    t = lab if targets == "labels" else np.eye(5)[lab]
    z16 = vg.tensor(x, device=bk.device, dtype="f16", requires_grad=True)
    loss = vg.softmax_cross_entropy(z16, t)
    assert loss.dtype == "f32"
    scaler = GradScaler()
    g16 = vg.backward(scaler.scale(loss)).of(z16)
    assert g16.dtype == "f16" and np.all(np.isfinite(g16.numpy()))
    z = vg.tensor(x.astype(np.float16), device="cpu", dtype="f64", requires_grad=True)
    want = vg.backward(vg.softmax_cross_entropy(z, t)).of(z).numpy()
    np.testing.assert_allclose(g16.numpy().astype(np.float64) / scaler.get_scale(), want, rtol=1e-2, atol=1e-4)
    assert float(loss.item()) == pytest.approx(float(vg.softmax_cross_entropy(z, t).item()), rel=1e-3)


def test_overflow_skips_exactly_one_step_and_halves_the_scale(bk):
    vg.manual_seed(0)
    model = nn.Linear(3, 2, device=bk.device, dtype="f16")
    opt = vg.optim.Adam(model.parameters(), lr=1e-2)
    scaler = GradScaler(init_scale=1024.0, growth_interval=1000)
    x = np.random.default_rng(0).standard_normal((4, 3))
    taken = []
    for step in range(5):
        xs = x.copy()
        if step == 2:
            xs[0, 0] = np.inf  # an overflowing batch
        before = model.weight.numpy().copy()
        loss = vg.softmax_cross_entropy(model(vg.tensor(xs, device=bk.device, dtype="f16")),
                                        np.array([0, 1, 0, 1]))
        grads = vg.backward(scaler.scale(loss))  # (an overflowing scaled loss passes the finite check)
        taken.append(scaler.step(opt, grads))
        scaler.update()
        if step == 2:
            np.testing.assert_array_equal(model.weight.numpy(), before)  # untouched
    assert taken == [True, True, False, True, True]
    assert scaler.skipped_steps == 1 and opt.step_count == 4
    assert scaler.get_scale() == 512.0


def test_scaler_unscales_every_parameter_group(bk):
    """Each group's gradients unscaled (a group after the first stepped with the
    scale still in them before), and an inf in a later group skips the step."""
    def run(scaler, inf=False):
        a = vg.Parameter(np.ones(3), device=bk.device)
        b = vg.Parameter(np.ones(3), device=bk.device)
        opt = vg.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.05}], lr=0.1)
        loss = (a * 2.0).sum() + (b * (np.inf if inf else 3.0)).sum()
        grads = vg.backward(scaler.scale(loss) if scaler else loss)
        taken = scaler.step(opt, grads) if scaler else opt.step(grads)
        return a.numpy(), b.numpy(), taken
    a0, b0, _ = run(None)
    np.testing.assert_allclose(b0, 1 - 0.05 * 3.0, rtol=1e-6)
    a1, b1, taken = run(GradScaler(init_scale=1024.0))
    assert taken
    np.testing.assert_allclose(a1, a0, rtol=1e-6)
    np.testing.assert_allclose(b1, b0, rtol=1e-6)
    vg.set_check_finite(False)
    a2, b2, taken = run(GradScaler(init_scale=1024.0), inf=True)
    assert not taken and (a2 == 1).all() and (b2 == 1).all()


def test_scaler_state_dict_is_pytorchs():
    """GradScaler's state dict has PyTorch's keys: vkgrad's and PyTorch's load into
    each other (an older vkgrad one's growth_tracker too)."""
    s = GradScaler(init_scale=512.0, growth_interval=7)
    s._growth_tracker = 3
    sd = s.state_dict()
    assert sd == {"scale": 512.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 7,
                  "_growth_tracker": 3}
    t = GradScaler()
    t.load_state_dict(dict(sd, growth_tracker=sd.pop("_growth_tracker")))
    assert t.get_scale() == 512.0 and t._growth_tracker == 3
    with pytest.raises(ValueError, match="GradScaler.load_state_dict: the state is empty"):
        t.load_state_dict({})
    torch = pytest.importorskip("torch")
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ts = torch.amp.GradScaler("cpu")
    ts.load_state_dict(s.state_dict())
    assert ts.get_scale() == 512.0 and ts.state_dict()["_growth_tracker"] == 3
    u = GradScaler()
    u.load_state_dict(ts.state_dict())
    assert u.get_scale() == 512.0 and u.growth_interval == 7 and u._growth_tracker == 3


def test_scale_grows_after_a_run_of_good_steps():
    w = vg.Parameter(np.ones(2), device="cpu")
    opt = vg.optim.SGD([w], lr=0.1)
    s = GradScaler(init_scale=8.0, growth_interval=3)
    for _ in range(3):
        s.step(opt, vg.backward(s.scale((w * w).sum())))
        s.update()
    assert s.get_scale() == 16.0
    with pytest.raises(RuntimeError, match="already called"):
        g = vg.backward(s.scale((w * w).sum()))
        s.unscale_(opt, g)
        s.unscale_(opt, g)


def test_f16_parameters_keep_f32_master_weights(bk):
    w = vg.Parameter(np.ones(3), device=bk.device, dtype="f16")
    opt = vg.optim.SGD([w], lr=1e-4)
    for _ in range(100):  # each update (1e-4) is below f16's spacing at 1.0 (~1e-3)
        opt.step({"0": vg.tensor(np.ones(3), device=bk.device, dtype="f16")})
    np.testing.assert_allclose(w.numpy().astype(np.float64), 0.99, atol=1e-3)
    assert w.dtype == "f16" and opt.masters[id(w)] is not None


def _iris_accuracy(device, mode, seed=42):
    vg.manual_seed(seed)
    vg.set_default_device(device)
    vg.set_default_dtype("f16" if mode == "f16" else "f32")
    from vkgrad.datasets import iris_split
    x_tr, y_tr, x_vl, y_vl = iris_split(seed=seed)
    model = nn.Sequential(nn.Linear(4, 64, activation="relu"), nn.BatchNorm1d(64), nn.Dropout(0.3),
                          nn.Linear(64, 32, activation="relu"), nn.Linear(32, 3))
    opt = vg.optim.Adam(model.parameters(), lr=1e-2)
    scaler = GradScaler(enabled=mode != "f32")
    dl = vg.data.DataLoader(x_tr, y_tr, batch_size=32, seed=1)
    for _ in range(60):
        for xb, yb in dl:
            with vg.autocast("f16", enabled=mode == "autocast"):
                loss = vg.softmax_cross_entropy(model(xb), yb)
            scaler.step(opt, vg.backward(scaler.scale(loss)))
            scaler.update()
    model.eval()
    with vg.no_grad():
        pred = model(vg.tensor(x_vl)).numpy().argmax(1)
    return float(np.mean(pred == y_vl.argmax(1)))


def test_iris_f16_within_two_points_of_f32(bk):
    if bk.dtype == "f16":
        pytest.skip("the f16 modes are chosen inside the test")
    # mean validation accuracy over three 120/30 splits (90 validation rows), so
    # that one flower (3.3 points of a 30-row split) is not the whole margin
    def acc(mode):
        return np.mean([_iris_accuracy(bk.device, mode, seed) for seed in (42, 7, 123)])

    acc32 = acc("f32")
    for mode in ("f16", "autocast"):
        a = acc(mode)
        assert a >= 0.9 and a >= acc32 - 0.02, (mode, a, acc32)


def test_mlp_784_1024_1024_10_f16_within_two_points_of_f32():
    """The big MLP on a synthetic 10-class set, CPU backend (f16 storage, f32 math)."""
    from vkgrad.datasets import synthetic_classification
    x, y = synthetic_classification(3000, 784, 10, seed=3, noise=13.0)  # ~90% after 2 epochs
    xtr, ytr, xte, yte = x[:2400], y[:2400], x[2400:], y[2400:]
    accs = {}
    for mode in ("f32", "autocast"):
        vg.manual_seed(0)
        model = nn.Sequential(nn.Linear(784, 1024, activation="relu", device="cpu"),
                              nn.Linear(1024, 1024, activation="relu", device="cpu"),
                              nn.Linear(1024, 10, device="cpu"))
        opt = vg.optim.Adam(model.parameters(), lr=1e-3)
        scaler = GradScaler(enabled=mode != "f32")
        for epoch in range(2):
            for xb, yb in vg.data.DataLoader(xtr, ytr, batch_size=256, seed=epoch, device="cpu"):
                with vg.autocast("f16", enabled=mode != "f32"):
                    loss = vg.softmax_cross_entropy(model(xb), yb)
                scaler.step(opt, vg.backward(scaler.scale(loss)))
                scaler.update()
        with vg.no_grad():
            pred = model(vg.tensor(xte, device="cpu")).numpy().argmax(1)
        accs[mode] = float(np.mean(pred == yte))
    assert 0.7 < accs["f32"] < 0.99, accs  # trained, and not saturated (a real comparison)
    assert accs["autocast"] >= accs["f32"] - 0.02, accs


def test_cnn_under_autocast_trains_with_f32_weights(bk):
    """Conv2d / BatchNorm2d / pools under vg.autocast("f16") with loss scaling: the
    convolutions run in f16 (activations f16), the weights and their gradients stay
    f32, and the network learns as in f32."""
    if bk.dtype == "f16":
        pytest.skip("autocast starts from f32 weights")
    import sys
    import os
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
    try:
        import cnn
    finally:
        sys.path.pop(0)
    vg.manual_seed(0)
    x, y = cnn.shapes(256, np.random.default_rng(0))
    net = cnn.model().to(bk.device)
    opt = vg.optim.Adam(net.parameters(), lr=3e-3)
    scaler = GradScaler()
    xb, yb = bk.t(x, dtype="f32"), bk.t(y)
    losses = []
    for _ in range(25):
        with vg.autocast("f16"):
            h = net[0](xb)
            loss = vg.softmax_cross_entropy(net(xb), yb)
        assert h.dtype == "f16"
        grads = vg.backward(scaler.scale(loss))
        assert scaler.step(opt, grads)
        scaler.update()
        losses.append(loss.item())
    assert all(p.dtype == "f32" for p in net.parameters())
    assert losses[-1] < 0.7 * losses[0], losses


def test_scaler_pytorch_loop_with_overflow_and_its_api(bk):
    """PyTorch's loop -- scale(loss).backward(), unscale_, clipping, step, update --
    through overflowing batches with the finite-loss check on (the scaled loss's
    inf is the scaler's to handle; an unscaled one still raises); the scale
    follows PyTorch's (figures recorded from torch.amp.GradScaler); the getters,
    setters and scale() of a list."""
    from vkgrad import config
    assert config.check_finite_loss
    w = vg.Parameter(np.array([[1.0, -2.0], [0.5, 3.0]]), device=bk.device, dtype=bk.dtype)
    opt = vg.optim.SGD([w], lr=0.1)
    scaler = GradScaler(init_scale=8.0, growth_factor=4.0, backoff_factor=0.25, growth_interval=3)
    scales, before = [], w.numpy().copy()
    for s in range(7):
        opt.zero_grad()
        loss = (w * w).sum()
        if s in (0, 2, 3):
            loss = loss * float("inf")
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        vg.nn.utils.clip_grad_norm_([w], 1.0)
        scaler.step(opt)
        if s == 0:
            np.testing.assert_array_equal(w.numpy(), before)  # (skipped)
        scaler.update()
        scales.append(scaler.get_scale())
    assert scales == [2.0, 2.0, 0.5, 0.125, 0.125, 0.125, 0.5]
    assert np.all(np.isfinite(w.numpy())) and not np.array_equal(w.numpy(), before)
    with pytest.raises(FloatingPointError, match="backward: the loss is inf"):
        ((w * w).sum() * float("inf")).backward()
    assert scaler.is_enabled() and not GradScaler(enabled=False).is_enabled()
    assert (scaler.get_growth_factor(), scaler.get_backoff_factor(), scaler.get_growth_interval()) == (4.0, 0.25, 3)
    scaler.set_growth_factor(3.0)
    scaler.set_backoff_factor(0.5)
    scaler.set_growth_interval(10)
    assert (scaler.get_growth_factor(), scaler.get_backoff_factor(), scaler.get_growth_interval()) == (3.0, 0.5, 10)
    a, b = scaler.scale([vg.tensor([2.0], device=bk.device), vg.tensor([3.0], device=bk.device)])
    assert a.item() == 2.0 * scaler.get_scale() and b.item() == 3.0 * scaler.get_scale()
    assert not vg.is_autocast_enabled("cpu") and vg.get_autocast_dtype("cuda") == "f16"
    with vg.autocast("cpu", dtype=vg.float16):
        assert vg.is_autocast_enabled() and vg.get_autocast_dtype("cpu") == "f16"


def test_pytorch_autocast_and_scaler_spellings_and_custom_fwd_bwd():
    """autocast("cuda", dtype=...) / autocast(device_type=...) and GradScaler("cuda")
    as PyTorch scripts write them; custom_fwd(cast_inputs=) casts a Function's
    inputs and turns autocast off inside, custom_bwd runs the backward under the
    forward's autocast state."""
    from vkgrad import config
    with vg.autocast("cuda", dtype=vg.float16):
        assert config.autocast == "f16"
    with vg.amp.autocast(device_type="cpu", dtype="bfloat16"):
        assert config.autocast == "f16"
    with vg.autocast("cuda", enabled=False):
        assert config.autocast is None
    assert vg.amp.GradScaler("cuda", init_scale=8.0).get_scale() == 8.0 and vg.amp.is_autocast_available("cuda")
    with pytest.raises(TypeError, match="GradScaler: the first argument is the device type"):
        vg.amp.GradScaler(8.0)
    seen = {}

    class Square(vg.autograd.Function):
        @staticmethod
        @vg.amp.custom_fwd(cast_inputs=vg.float32)
        def forward(ctx, x):
            seen["fwd"] = (x.dtype, config.autocast)
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @vg.amp.custom_bwd
        def backward(ctx, g):
            seen["bwd"] = config.autocast
            (x,) = ctx.saved_tensors
            return g * x * 2.0
    x = vg.tensor(np.array([1.0, 2.0]), dtype="f16", device="cpu", requires_grad=True)
    with vg.autocast("f16"):
        y = Square.apply(x)
    y.sum().backward()
    assert seen == {"fwd": ("f32", None), "bwd": None} and x.grad.numpy().tolist() == [2.0, 4.0]

    class Keep(vg.autograd.Function):
        @staticmethod
        @vg.amp.custom_fwd
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        @vg.amp.custom_bwd
        def backward(ctx, g):
            seen["keep"] = config.autocast
            return g
    z = vg.tensor(np.ones(2), device="cpu", requires_grad=True)
    with vg.autocast("f16"):
        w = Keep.apply(z)
    w.sum().backward()
    assert seen["keep"] == "f16"
