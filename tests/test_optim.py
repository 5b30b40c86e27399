import importlib
import io
import math

import numpy as np
import pytest

import vkgrad as vg
from vkgrad.optim import SGD, Adam, AdamW
from vkgrad.optim.lr_scheduler import CosineAnnealingLR, StepLR

P0 = np.array([[0.5, -1.0, 2.0], [0.1, 0.0, -0.3]])


def _grad(p, t):  # a deterministic gradient that changes every step
    return np.sin(p * 3 + t)


def _ref_adam(steps, lr, b1, b2, eps, wd, decoupled):
    p, m, v = P0.copy(), np.zeros_like(P0), np.zeros_like(P0)
    for t in range(1, steps + 1):
        g = _grad(p, t)
        if wd and not decoupled:
            g = g + wd * p
        if wd and decoupled:
            p = p * (1 - lr * wd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    return p


def _ref_sgd(steps, lr, mom, nesterov, wd):
    p, buf = P0.copy(), None
    for t in range(1, steps + 1):
        g = _grad(p, t) + wd * p
        if mom:
            buf = g.copy() if buf is None else mom * buf + g
            g = g + mom * buf if nesterov else buf
        p = p - lr * g
    return p


def _run(bk, opt_cls, steps, **kw):
    p = vg.Parameter(P0, name="p", device=bk.device, dtype=bk.dtype)
    opt = opt_cls([p], **kw)
    for t in range(1, steps + 1):
        g = _grad(p.numpy().astype(np.float64), t)
        opt.step({"p": bk.t(g)})
    return p.numpy()


@pytest.mark.parametrize("kw", [dict(momentum=0.0, nesterov=False, weight_decay=0.0),
                                dict(momentum=0.9, nesterov=False, weight_decay=0.01),
                                dict(momentum=0.9, nesterov=True, weight_decay=0.0)])
def test_sgd_matches_reference(bk, kw):
    got = _run(bk, SGD, 5, lr=0.05, **kw)
    bk.close(got, _ref_sgd(5, 0.05, kw["momentum"], kw["nesterov"], kw["weight_decay"]))


@pytest.mark.parametrize("cls,wd", [(Adam, 0.0), (Adam, 0.1), (AdamW, 0.1)])
def test_adam_matches_reference(bk, cls, wd):
    got = _run(bk, cls, 6, lr=0.01, weight_decay=wd)
    bk.close(got, _ref_adam(6, 0.01, 0.9, 0.999, 1e-8, wd, cls is AdamW))


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_optimizers_match_torch(name):
    torch = pytest.importorskip("torch")
    kw = {"SGD": dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
          "Adam": dict(lr=0.01, weight_decay=0.05), "AdamW": dict(lr=0.01, weight_decay=0.05)}[name]
    p = vg.Parameter(P0, dtype="f64", device="cpu")
    tp = torch.tensor(P0, requires_grad=True)
    opt = getattr(vg.optim, name)([p], **kw)
    topt = getattr(torch.optim, name)([tp], **kw)
    for t in range(1, 8):
        g = _grad(P0, t)
        p.grad = vg.tensor(g, dtype="f64", device="cpu")
        tp.grad = torch.tensor(g)
        opt.step()
        topt.step()
    np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_step_uses_dot_grad_and_zero_grad():
    p = vg.Parameter(np.ones(3))
    opt = SGD([p], lr=0.5)
    (p * p).sum().backward()
    opt.step()
    np.testing.assert_allclose(p.numpy(), 0.0)
    opt.zero_grad()
    assert p.grad is None


def test_lr_is_mutable():
    p = vg.Parameter(np.ones(1))
    opt = SGD([p], lr=0.1)
    opt.lr = 1.0
    opt.step({"0": vg.tensor([1.0])})
    np.testing.assert_allclose(p.numpy(), 0.0)


def test_step_lr_exact():
    opt = Adam([vg.Parameter(np.ones(1))], lr=1e-3)
    s = StepLR(opt, step_size=30, gamma=0.5)
    lrs = [s.step() for _ in range(95)]
    for e, lr in enumerate(lrs, start=1):
        assert lr == pytest.approx(1e-3 * 0.5 ** (e // 30), rel=1e-12)
    assert opt.lr == lrs[-1]


@pytest.mark.parametrize("restart", [False, True])
def test_cosine_exact(restart):
    opt = Adam([vg.Parameter(np.ones(1))], lr=1e-3)
    s = CosineAnnealingLR(opt, T_max=150, lr_min=1e-5, restart=restart)
    for e in range(1, 320):
        lr = s.step()
        t = e % 150 if restart else min(e, 150)
        assert lr == pytest.approx(1e-5 + (1e-3 - 1e-5) * (1 + math.cos(math.pi * t / 150)) / 2, rel=1e-12)
    if not restart:
        assert opt.lr == pytest.approx(1e-5)


def test_clip_grad_norm(bk):
    a = vg.Parameter(np.zeros(2), name="a", device=bk.device, dtype=bk.dtype)
    b = vg.Parameter(np.zeros((2, 2)), name="b", device=bk.device, dtype=bk.dtype)
    grads = {"a": bk.t([3.0, 0.0]), "b": bk.t([[0.0, 4.0], [0.0, 0.0]])}
    norm = vg.clip_grad_norm([a, b], max_norm=1.0, grads=grads)
    assert isinstance(norm, vg.Tensor) and norm.device == a.device
    assert norm.item() == pytest.approx(5.0, rel=bk.rtol)
    bk.close(grads["a"].numpy(), [0.6, 0.0], atol=1e-3 if bk.dtype == "f16" else None)
    bk.close(grads["b"].numpy(), [[0.0, 0.8], [0.0, 0.0]], atol=1e-3 if bk.dtype == "f16" else None)
    # under the limit: unchanged; the seed's argument order works too
    norm2 = vg.clip_grad_norm([a, b], grads, 10.0)
    assert norm2.item() == pytest.approx(1.0, rel=1e-2)
    bk.close(grads["a"].numpy(), [0.6, 0.0], atol=1e-3 if bk.dtype == "f16" else None)


def test_clip_then_step_from_backward_dict():
    model = vg.nn.Linear(3, 2)
    params = model.parameters()
    opt = SGD(params, lr=0.1)
    x = vg.tensor(np.random.default_rng(0).standard_normal((4, 3)) * 50)
    grads = vg.backward(vg.softmax_cross_entropy(model(x), np.array([0, 1, 1, 0])))
    before = {k: v.numpy().copy() for k, v in grads.items()}
    total = np.sqrt(sum((v.astype(np.float64) ** 2).sum() for v in before.values()))
    vg.clip_grad_norm(params, max_norm=0.5, grads=grads)
    after = np.sqrt(sum((v.numpy().astype(np.float64) ** 2).sum() for v in grads.values()))
    assert total > 0.5 and after == pytest.approx(0.5, rel=1e-4)
    w0 = model.weight.numpy().copy()
    opt.step(grads)
    np.testing.assert_allclose(model.weight.numpy(), w0 - 0.1 * grads["weight"].numpy(), rtol=1e-6)


def test_optimizer_errors():
    p = vg.Parameter(np.ones((2, 2)), name="p")
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match="parameter 0"):
        SGD([vg.tensor([1.0])], lr=0.1)
    opt = SGD([p], lr=0.1)
    with pytest.raises(ValueError, match=r"SGD: gradient for 'p' has shape \[3\], expected .*\[2, 2\]"):
        opt.step({"p": vg.tensor([1.0, 2.0, 3.0])})


def _resume_case(bk, kind, dtype):
    """(make, run) for a small model with an optimizer and a StepLR schedule."""
    r = np.random.default_rng(0)
    X = r.standard_normal((6, 16, 4))
    Y = r.integers(0, 3, (6, 16)).astype(np.int32)

    def make():
        vg.manual_seed(0)
        vg.set_default_dtype(dtype)
        m = vg.nn.Sequential(vg.nn.Linear(4, 8, activation="relu", device=bk.device),
                             vg.nn.BatchNorm1d(8, device=bk.device), vg.nn.Linear(8, 3, device=bk.device))
        ps = m.parameters()
        opt = {"adam": lambda: Adam(ps, lr=1e-2, weight_decay=1e-3), "adamw": lambda: AdamW(ps, lr=1e-2),
               "sgd": lambda: SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
               "sgd-plain": lambda: SGD(ps, lr=0.1)}[kind]()
        return m, opt, StepLR(opt, step_size=2, gamma=0.5)

    def run(m, opt, sch, steps):
        for i in steps:
            loss = vg.softmax_cross_entropy(m(vg.tensor(X[i], device=bk.device)), Y[i])
            opt.step(vg.backward(loss))
            sch.step()
        return [np.asarray(p.numpy(), np.float64) for p in m.parameters()]
    return make, run


@pytest.mark.parametrize("kind", ["adam", "adamw", "sgd", "sgd-plain"])
def test_checkpoint_resumes_training_exactly(bk, kind, tmp_path):
    """Model, optimizer and scheduler state saved in one file (nested dicts) and
    loaded into fresh objects: the next steps give what uninterrupted training
    gives (Adam's moments and step, SGD's momentum, the lr schedule; f16
    parameters' f32 masters); without the optimizer's state they do not."""
    make, run = _resume_case(bk, kind, bk.dtype)
    want = run(*make(), range(6))
    m, opt, sch = make()
    run(m, opt, sch, range(3))
    path = str(tmp_path / "ck.npz")
    vg.save({"model": m, "opt": opt.state_dict(), "sched": sch.state_dict(), "epoch": 3}, path)
    ck = vg.load(path)
    assert int(ck["epoch"]) == 3 and str(ck["opt"]["type"]) == type(opt).__name__
    m2, opt2, sch2 = make()
    m2.load_state_dict(ck["model"])
    opt2.load_state_dict(ck["opt"])
    sch2.load_state_dict(ck["sched"])
    assert opt2.lr == opt.lr and opt2.step_count == 3 and sch2.last_epoch == 3
    for a, b in zip(want, run(m2, opt2, sch2, range(3, 6))):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
    if kind != "sgd-plain":  # (plain SGD has no state: only the lr matters)
        m3, opt3, sch3 = make()
        m3.load_state_dict(ck["model"])
        sch3.load_state_dict(ck["sched"])
        opt3.lr = opt.lr
        assert any(not np.allclose(a, b, rtol=1e-6, atol=1e-7) for a, b in zip(want, run(m3, opt3, sch3, range(3, 6))))


def test_optimizer_state_dict_in_memory_and_errors(bk):
    """state_dict() without a file round-trips too (Python numbers, PyTorch's
    state names); loading checks the type, the keys and the shapes."""
    make, run = _resume_case(bk, "adam", "f32")
    m, opt, sch = make()
    run(m, opt, sch, range(2))
    sd = opt.state_dict()
    assert set(sd["state"]["0.weight"]) == {"exp_avg", "exp_avg_sq", "step"} and sd["state"]["0.weight"]["step"] == 2
    assert sd["hyper"]["betas"] == (0.9, 0.999) and sd["step_count"] == 2 and sd["masters"] == {}
    m2, opt2, _ = make()
    opt2.load_state_dict(sd)
    np.testing.assert_array_equal(opt2.state_dict()["state"]["2.bias"]["exp_avg"], sd["state"]["2.bias"]["exp_avg"])
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: the state is of a SGD, expected a Adam"):
        opt2.load_state_dict(SGD(m2.parameters(), lr=0.1).state_dict())
    bad = dict(sd, state={**sd["state"], "9.weight": sd["state"]["0.weight"]})
    with pytest.raises(KeyError, match=r"state for parameters this optimizer does not have: \['9.weight'\]"):
        opt2.load_state_dict(bad)
    bad = dict(sd, state={**sd["state"], "0.weight": dict(sd["state"]["0.weight"], exp_avg=np.zeros((2, 2)))})
    with pytest.raises(ValueError, match=r"exp_avg for '0.weight' has shape \[2, 2\], expected \[8, 4\]"):
        opt2.load_state_dict(bad)
    with pytest.raises(ValueError, match="StepLR.load_state_dict: the state is of a non-scheduler"):
        StepLR(opt2, 2).load_state_dict({"last_epoch": 1})


def test_save_nests_dicts_and_checks_keys(tmp_path):
    """vkgrad.save flattens nested dicts (and Modules in them) with '/' and load
    nests them back, empty dicts and strings included; keys holding '/' or
    values NumPy cannot store as numbers or strings are refused by name."""
    path = str(tmp_path / "n.npz")
    obj = {"a": {"b": np.arange(3), "c": {}, "d": {"e": 2.5}}, "name": "Adam", "m": vg.nn.Linear(2, 1)}
    vg.save(obj, path)
    got = vg.load(path)
    assert set(got) == {"a", "name", "m"} and got["a"]["c"] == {} and float(got["a"]["d"]["e"]) == 2.5
    assert str(got["name"]) == "Adam" and set(got["m"]) == {"weight", "bias"}
    np.testing.assert_array_equal(got["a"]["b"], np.arange(3))
    buf = io.BytesIO()  # (a file object, as PyTorch's save / load take)
    vg.save(obj, buf)
    buf.seek(0)
    again = vg.load(buf)
    assert float(again["a"]["d"]["e"]) == 2.5 and set(again["m"]) == {"weight", "bias"}
    with pytest.raises(TypeError, match=r"keys must be non-empty strings without '/'"):
        vg.save({"x/y": 1}, path)
    with pytest.raises(TypeError, match=r"entry 'a/f' is not a numeric array, a string or a dict"):
        vg.save({"a": {"f": object()}}, path)


def test_checkpoint_with_rng_state_resumes_dropout_and_shuffles(bk, tmp_path):
    """With vkgrad.get_rng_state() saved alongside, a model with dropout trained
    from a shuffling DataLoader resumes exactly: the masks and the epoch orders
    after the checkpoint are those of uninterrupted training."""
    r = np.random.default_rng(2)
    X, Y = r.standard_normal((48, 4)), r.integers(0, 3, 48).astype(np.int32)

    def make():
        vg.manual_seed(0)
        m = vg.nn.Sequential(vg.nn.Linear(4, 16, activation="relu", device=bk.device), vg.nn.Dropout(0.3),
                             vg.nn.Linear(16, 3, device=bk.device))
        return m, Adam(m.parameters(), lr=1e-2), vg.data.DataLoader(X, Y, batch_size=16, device=bk.device)

    def epochs(m, opt, loader, n):
        for _ in range(n):
            for xb, yb in loader:
                opt.step(vg.backward(vg.softmax_cross_entropy(m(xb), yb)))
        return [np.asarray(p.numpy(), np.float64) for p in m.parameters()]

    want = epochs(*make(), 4)
    m, opt, loader = make()
    epochs(m, opt, loader, 2)
    path = str(tmp_path / "ck.npz")
    vg.save({"model": m, "opt": opt.state_dict(), "rng": vg.get_rng_state()}, path)
    vg.manual_seed(123)  # (whatever came between)
    ck = vg.load(path)
    m2, opt2, loader2 = make()
    m2.load_state_dict(ck["model"])
    opt2.load_state_dict(ck["opt"])
    vg.set_rng_state(ck["rng"])
    for a, b in zip(want, epochs(m2, opt2, loader2, 2)):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="set_rng_state: expected the dict get_rng_state"):
        vg.set_rng_state({"seed": 1})


def _lrs(make, n=12):
    opt = vg.optim.SGD([vg.Parameter(np.zeros(2), device="cpu")], lr=0.5)
    sched = make(opt)
    out = [opt.lr]
    for _ in range(n):
        sched.step()
        out.append(opt.lr)
    return out, sched


def _torch_lrs(torch, make_sched, lr, n):
    """PyTorch's lr after construction and each of n steps of SGD with a scheduler."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = make_sched(opt)
    out = [opt.param_groups[0]["lr"]]
    for _ in range(n):
        opt.step()
        sched.step()
        out.append(opt.param_groups[0]["lr"])
    return out


def test_more_schedulers_match_their_formulas_and_pytorch():
    cases = {
        "ExponentialLR": ((0.8,), lambda e: 0.5 * 0.8 ** e),
        "MultiStepLR": (([3, 7], 0.5), lambda e: 0.5 * 0.5 ** ((e >= 3) + (e >= 7))),
        "LinearLR": ((0.25, 1.0, 4), lambda e: 0.5 * (0.25 + 0.75 * min(e, 4) / 4)),
        "LambdaLR": ((lambda e: 1 / (1 + e),), lambda e: 0.5 / (1 + e)),
    }
    try:
        import torch
    except ImportError:
        torch = None
    for name, (args, want) in cases.items():
        got, sched = _lrs(lambda o: getattr(vg.optim.lr_scheduler, name)(o, *args))
        np.testing.assert_allclose(got, [want(e) for e in range(13)], rtol=1e-12, err_msg=name)
        if torch is not None:
            theirs = _torch_lrs(torch, lambda o: getattr(torch.optim.lr_scheduler, name)(o, *args), 0.5, 12)
            np.testing.assert_allclose(got, theirs, rtol=1e-12, err_msg=f"{name} vs PyTorch")
    # a checkpoint of the position (and of the optimizer: as PyTorch's, the schedule goes on from
    # the optimizer's rate) resumes the schedule
    _, s = _lrs(lambda o: vg.optim.lr_scheduler.MultiStepLR(o, [3, 7], 0.5), n=5)
    opt2 = vg.optim.SGD([vg.Parameter(np.zeros(2), device="cpu")], lr=0.5)
    s2 = vg.optim.lr_scheduler.MultiStepLR(opt2, [3, 7], 0.5)
    s2.load_state_dict(s.state_dict())
    opt2.load_state_dict(s.optimizer.state_dict())
    assert s2.step() == s.step() == 0.25  # epoch 6
    assert s2.step() == s.step() == 0.125  # epoch 7: the second milestone


def test_more_schedulers_errors():
    opt = vg.optim.SGD([vg.Parameter(np.zeros(2), device="cpu")], lr=0.5)
    with pytest.raises(ValueError, match="ExponentialLR: gamma must be > 0, got 0"):
        vg.optim.lr_scheduler.ExponentialLR(opt, 0)
    with pytest.raises(ValueError, match=r"MultiStepLR: milestones must be epochs >= 1, got \[\]"):
        vg.optim.lr_scheduler.MultiStepLR(opt, [])
    with pytest.raises(ValueError, match="LinearLR: factors must lie in"):
        vg.optim.lr_scheduler.LinearLR(opt, 0.0)
    with pytest.raises(TypeError, match=r"LambdaLR: lr_lambda must be callable \(or a list of them, one per parameter "
                                       r"group\), got float"):
        vg.optim.lr_scheduler.LambdaLR(opt, 0.5)


def _rmsprop_ref(w, gs, lr=0.01, alpha=0.9, eps=1e-8, weight_decay=0.1, momentum=0.0, centered=False):
    v, a, buf = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for g in gs:
        g = g + weight_decay * w
        v = alpha * v + (1 - alpha) * g * g
        a = alpha * a + (1 - alpha) * g
        step = g / (np.sqrt(v - a * a if centered else v) + eps)
        buf = momentum * buf + step
        w = w - lr * (buf if momentum else step)
    return w


def _adagrad_ref(w, gs, lr=0.1, lr_decay=0.05, weight_decay=0.01, initial_accumulator_value=0.2, eps=1e-10):
    v = np.full_like(w, initial_accumulator_value)
    for step, g in enumerate(gs, 1):
        g = g + weight_decay * w
        v = v + g * g
        w = w - lr / (1 + (step - 1) * lr_decay) * g / (np.sqrt(v) + eps)
    return w


# case: optimizer, its arguments here, its state's names
_ON_ADAM = {"RMSprop": ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.1), {"square_avg", "step"}),
            "RMSprop-momentum": ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.1, momentum=0.8),
                                 {"square_avg", "momentum_buffer", "step"}),
            "RMSprop-centered": ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.1, centered=True),
                                 {"square_avg", "grad_avg", "step"}),
            "RMSprop-centered-momentum": ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.1, momentum=0.8,
                                                          centered=True),
                                          {"square_avg", "momentum_buffer", "grad_avg", "step"}),
            "Adagrad": ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.01, initial_accumulator_value=0.2),
                        {"sum", "step"})}


@pytest.mark.parametrize("case", sorted(_ON_ADAM))
def test_rmsprop_and_adagrad_match_pytorch_and_resume_from_a_checkpoint(bk, case):
    """RMSprop (plain, with momentum, centered, both) and Adagrad on Adam's fused kernels
    (no bias correction; m = g, the momentum buffer or the gradient's average, or
    both in one m of two buffers;
    Adagrad's v a sum, its learning rate decaying) against their formulas (PyTorch's,
    also compared where present); saved and loaded mid-way each goes on as if
    uninterrupted; f16 parameters update their f32 masters."""
    name, kw, names = _ON_ADAM[case]
    make = getattr(vg.optim, name)
    ref = (lambda w, gs: _rmsprop_ref(w, gs, **kw)) if name == "RMSprop" else (lambda w, gs: _adagrad_ref(w, gs, **kw))
    r = np.random.default_rng(3)
    w0, gs = r.standard_normal((6, 5)), [r.standard_normal((6, 5)) for _ in range(8)]
    p = vg.Parameter(w0, device=bk.device, dtype=bk.dtype)
    opt = make([p], **kw)
    for g in gs[:4]:
        p.grad = bk.t(g)
        opt.step()
    sd = opt.state_dict()
    assert set(sd["state"][next(iter(sd["state"]))]) == names
    q = vg.Parameter(p.numpy().astype(np.float64), device=bk.device, dtype=bk.dtype, name=p.name)
    opt2 = make([q], **kw)
    opt2.load_state_dict(sd)
    for g in gs[4:]:
        for t, o in ((p, opt), (q, opt2)):
            t.grad = bk.t(g)
            o.step()
    tol = dict(rtol=2e-2, atol=2e-2) if bk.dtype == "f16" else dict(rtol=1e-5, atol=1e-6)
    gr = [g.astype(np.float16).astype(np.float64) for g in gs] if bk.dtype == "f16" else gs
    np.testing.assert_allclose(p.numpy().astype(np.float64), ref(w0, gr), **tol)
    if bk.dtype != "f16":  # (an f16 parameter resumes from its saved master: the same values)
        np.testing.assert_array_equal(q.numpy(), p.numpy())
    try:
        import torch
    except ImportError:
        return
    tp = torch.nn.Parameter(torch.tensor(w0))
    to = getattr(torch.optim, name)([tp], **kw)
    for g in gs:
        tp.grad = torch.tensor(g)
        to.step()
    np.testing.assert_allclose(ref(w0, gs), tp.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_rmsprop_and_adagrad_errors():
    p = [vg.Parameter(np.zeros(2), device="cpu")]
    be = vg.get_backend("cpu")
    z = np.zeros(2)
    with pytest.raises(vg.BackendError, match="cpu adam_: unknown op 'nesterov'; expected one of adam, momentum, "
                                               "centered"):
        be.adam_(z.copy(), z, z.copy(), z.copy(), 0.1, 0.9, 0.99, 1e-8, 0.0, 1, False, form="nesterov")
    with pytest.raises(ValueError, match="Adagrad: lr_decay, weight_decay, initial_accumulator_value and eps must be "
                                         ">= 0, got -0.1"):
        vg.optim.Adagrad(p, lr_decay=-0.1)
    with pytest.raises(ValueError, match=r"RMSprop: alpha and momentum must lie in \[0, 1\).*alpha=1.0"):
        vg.optim.RMSprop(p, alpha=1.0)
    # a checkpoint's hyperparameters come with it (as PyTorch's): a state with momentum
    # makes a plain RMSprop one with momentum, its buffer loaded
    q = vg.Parameter(np.ones(2), device="cpu")
    src = vg.optim.RMSprop([q], momentum=0.5)
    q.grad = vg.tensor(np.ones(2), device="cpu")
    src.step()
    dst = vg.optim.RMSprop([q])
    dst.load_state_dict(src.state_dict())
    assert dst.momentum == 0.5 and set(dst.state_dict()["state"]["0"]) == {"square_avg", "momentum_buffer", "step"}


def test_reduce_lr_on_plateau_matches_pytorch():
    metrics = [1.0, 0.9, 0.95, 0.91, 0.92, 0.93, 0.89, 0.9, 0.9, 0.9, 0.9, 0.9, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6]
    # PyTorch's figures for these settings (recorded; compared live below where present)
    expect = {0: [0.1] * 4 + [0.01] * 5 + [0.001] * 6 + [0.0001] * 3,
              1: [0.1] * 3 + [0.05] * 5 + [0.025] * 6 + [0.02] * 4,
              3: [0.1] * 3 + [1e-2] * 2 + [1e-3] * 2 + [1e-4] * 2 + [1e-5] * 2 + [1e-6] * 3 + [1e-7] * 2 + [1e-8] * 2,
              4: [0.1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7] + [1e-8] * 11}
    settings = [dict(patience=2), dict(patience=1, cooldown=2, factor=0.5, min_lr=0.02),
                dict(mode="max", patience=0), dict(threshold_mode="abs", threshold=0.05, patience=1),
                dict(mode="max", threshold_mode="abs", threshold=0.02, patience=0)]
    try:
        import torch
    except ImportError:
        torch = None
    for i, kw in enumerate(settings):
        opt = vg.optim.SGD([vg.Parameter(np.zeros(1), device="cpu")], lr=0.1)
        s = vg.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
        got = [s.step(vg.tensor(m) if k % 2 else m) for k, m in enumerate(metrics)]
        if i in expect:
            np.testing.assert_allclose(got, expect[i], rtol=1e-12)
        if torch is not None:
            p = torch.nn.Parameter(torch.zeros(1))
            to = torch.optim.SGD([p], lr=0.1)
            ts = torch.optim.lr_scheduler.ReduceLROnPlateau(to, **kw)
            theirs = []
            for m in metrics:
                ts.step(m)
                theirs.append(to.param_groups[0]["lr"])
            np.testing.assert_allclose(got, theirs, rtol=1e-12, err_msg=str(kw))
    # checkpointed mid-way, it goes on alike
    opt = vg.optim.SGD([vg.Parameter(np.zeros(1), device="cpu")], lr=0.1)
    s = vg.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1)
    for m in metrics[:7]:
        s.step(m)
    opt2 = vg.optim.SGD([vg.Parameter(np.zeros(1), device="cpu")], lr=opt.lr)
    s2 = vg.optim.lr_scheduler.ReduceLROnPlateau(opt2, patience=1)
    s2.load_state_dict(s.state_dict())
    assert [s.step(m) for m in metrics[7:]] == [s2.step(m) for m in metrics[7:]]
    with pytest.raises(ValueError, match="ReduceLROnPlateau: mode must be 'min' or 'max' and threshold_mode "
                                         "'rel' or 'abs', got 'up', 'rel'"):
        vg.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="up")
    with pytest.raises(ValueError, match="got 'min', 'absolute'"):
        vg.optim.lr_scheduler.ReduceLROnPlateau(opt, threshold_mode="absolute")
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau: factor must lie in \(0, 1\)"):
        vg.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=1.5)


def test_nn_utils_clipping_and_inference_mode(bk):
    """nn.utils.clip_grad_norm_ (PyTorch's name: the L2 norm) and clip_grad_value_
    (each gradient clamped, on the device); inference_mode as no_grad, also as a
    decorator."""
    from vkgrad import nn
    a = vg.Parameter(np.zeros(3), device=bk.device, dtype=bk.dtype)
    b = vg.Parameter(np.zeros(2), device=bk.device, dtype=bk.dtype)
    a.grad, b.grad = bk.t(np.array([3.0, -4.0, 0.5])), bk.t(np.array([-0.25, 12.0]))
    nn.utils.clip_grad_value_([a, b], 1.0)
    bk.close(a.grad.numpy(), np.array([1.0, -1.0, 0.5]))
    bk.close(b.grad.numpy(), np.array([-0.25, 1.0]))
    a.grad, b.grad = bk.t(np.array([3.0, 0.0, 0.0])), bk.t(np.array([4.0, 0.0]))
    norm = nn.utils.clip_grad_norm_([a, b], 1.0)
    bk.close(norm.numpy(), 5.0, rtol=2e-3)
    bk.close(a.grad.numpy(), np.array([0.6, 0.0, 0.0]), rtol=2e-3, atol=1e-3)
    with pytest.raises(ValueError, match="clip_grad_norm_: max_norm must be > 0, got 0"):
        nn.utils.clip_grad_norm_([a, b], 0, norm_type=1)  # (other orders: test_fusion_clip_norms_and_total_norm)
    with pytest.raises(ValueError, match="clip_grad_value_: clip_value must be > 0, got 0"):
        nn.utils.clip_grad_value_([a, b], 0)
    x = bk.t(np.ones(2), requires_grad=True)
    with vg.inference_mode():
        assert not (x * 2).requires_grad
    with vg.inference_mode(False):
        assert (x * 2).requires_grad

    @vg.inference_mode()
    def f(t):
        return t * 2
    assert not f(x).requires_grad and (x * 2).requires_grad


def _trace(sched_of, opt_of, n):
    """(lr, momentum or beta1) before and after each of n steps."""
    p = vg.Parameter(np.zeros(2), device="cpu")
    opt = opt_of([p])
    s = sched_of(opt)
    mom = lambda: opt.betas[0] if hasattr(opt, "betas") else opt.momentum  # noqa: E731
    out = [(opt.lr, mom())]
    for _ in range(n):
        s.step()
        out.append((opt.lr, mom()))
    return np.array(out), s


def test_cyclic_and_sequential_schedulers_match_formulas_and_pytorch():
    """ConstantLR, PolynomialLR, MultiplicativeLR, CosineAnnealingWarmRestarts,
    OneCycleLR (two and three phases, cos and linear, momentum or beta1 cycled) and
    SequentialLR: their formulas, and PyTorch's schedules step by step where torch
    is present; OneCycleLR past its steps and bad arguments raise."""
    L = vg.optim.lr_scheduler
    sgd = lambda ps: vg.optim.SGD(ps, lr=0.5, momentum=0.9)  # noqa: E731
    adam = lambda ps: vg.optim.Adam(ps, lr=0.5)  # noqa: E731
    cases = [("ConstantLR", (0.5, 4), {}, sgd, 8), ("PolynomialLR", (10, 2.0), {}, sgd, 12),
             ("MultiplicativeLR", (lambda e: 0.9,), {}, sgd, 6), ("CosineAnnealingWarmRestarts", (3, 2, 0.01), {}, sgd, 25),
             ("OneCycleLR", (1.0,), dict(total_steps=31), sgd, 30),
             ("OneCycleLR", (1.0,), dict(epochs=4, steps_per_epoch=5, three_phase=True, anneal_strategy="linear"),
              adam, 19),
             ("CyclicLR", (0.1, 1.0), dict(step_size_up=4), sgd, 20),
             ("CyclicLR", (0.1, 1.0), dict(step_size_up=3, step_size_down=5, mode="triangular2"), adam, 30),
             ("CyclicLR", (0.1, 1.0), dict(step_size_up=2, mode="exp_range", gamma=0.9, base_momentum=0.7), sgd, 15),
             ("CyclicLR", (0.1, 1.0), dict(step_size_up=2, scale_fn=lambda x: 1 / (1 + x), scale_mode="iterations",
                                           cycle_momentum=False), sgd, 9)]
    got = {}
    for i, (name, args, kw, opt_of, n) in enumerate(cases):
        got[i] = got[name, opt_of] = _trace(lambda o: getattr(L, name)(o, *args, **kw), opt_of, n)[0]
    lr = got["PolynomialLR", sgd][:, 0]
    np.testing.assert_allclose(lr, [0.5 * (1 - min(e, 10) / 10) ** 2 for e in range(13)], rtol=1e-12)
    np.testing.assert_allclose(got["ConstantLR", sgd][:, 0], [0.25] * 4 + [0.5] * 5)
    np.testing.assert_allclose(got["MultiplicativeLR", sgd][:, 0], 0.5 * 0.9 ** np.arange(7), rtol=1e-12)
    warm = got["CosineAnnealingWarmRestarts", sgd][:, 0]
    assert warm[0] == warm[3] == warm[9] == 0.5 and warm[2] < warm[1] < warm[0]  # restarts at 3, then 3 + 6
    one = got["OneCycleLR", sgd]
    top = np.argmax(one[:, 0])  # (the peak at step 0.3 * 31 - 1: between steps 8 and 9)
    assert abs(one[0, 0] - 1.0 / 25) < 1e-12 and one[top, 0] > 0.99 and one[-1, 0] < 1e-5 and top in (8, 9)
    assert abs(one[0, 1] - 0.95) < 1e-12 and one[top, 1] == one[:, 1].min() < 0.851
    cyc = got[6][:9]  # triangular: up over 4 steps, down over 4; momentum the other way
    np.testing.assert_allclose(cyc[:, 0], [0.1, 0.325, 0.55, 0.775, 1.0, 0.775, 0.55, 0.325, 0.1], rtol=1e-12)
    np.testing.assert_allclose(cyc[[0, 4, 8], 1], [0.9, 0.8, 0.9], rtol=1e-12)
    seq, _ = _trace(lambda o: L.SequentialLR(o, [L.LinearLR(o, 0.1, 1.0, 5), L.CosineAnnealingLR(o, 10)], [5]), sgd, 14)
    np.testing.assert_allclose(seq[:6, 0], [0.05, 0.14, 0.23, 0.32, 0.41, 0.5], rtol=1e-12)  # then the cosine from 0.5
    try:
        import torch
    except ImportError:
        return
    T = torch.optim.lr_scheduler
    for i, (name, args, kw, opt_of, n) in enumerate(cases):
        tp = torch.nn.Parameter(torch.zeros(1))
        to = torch.optim.SGD([tp], lr=0.5, momentum=0.9) if opt_of is sgd else torch.optim.Adam([tp], lr=0.5)
        ts = getattr(T, name)(to, *args, **kw)
        g = to.param_groups[0]
        theirs = [(g["lr"], g["betas"][0] if "betas" in g else g["momentum"])]
        for _ in range(n):
            to.step()
            ts.step()
            theirs.append((g["lr"], g["betas"][0] if "betas" in g else g["momentum"]))
        np.testing.assert_allclose(got[i], theirs, rtol=1e-12, atol=1e-15, err_msg=name)
    tp = torch.nn.Parameter(torch.zeros(1))
    to = torch.optim.SGD([tp], lr=0.5, momentum=0.9)
    ts = T.SequentialLR(to, [T.LinearLR(to, 0.1, 1.0, 5), T.CosineAnnealingLR(to, 10)], [5])
    theirs = [to.param_groups[0]["lr"]]
    for _ in range(14):
        to.step()
        ts.step()
        theirs.append(to.param_groups[0]["lr"])
    np.testing.assert_allclose(seq[:, 0], theirs, rtol=1e-12)


def test_one_cycle_errors_and_its_beta1_in_a_captured_step():
    """OneCycleLR refuses steps past its total and optimizers without momentum;
    Adam's beta1, cycled by it, is re-read by a captured step's replay (the same
    parameters as eager steps)."""
    L = vg.optim.lr_scheduler
    p = vg.Parameter(np.zeros(2), device="cpu")
    s = L.OneCycleLR(vg.optim.Adam([p], lr=0.1), 1.0, total_steps=3)
    s.step()
    s.step()
    s.step()  # (PyTorch's count: a step after each of total_steps batches; the last rate is never used)
    with pytest.raises(ValueError, match="OneCycleLR: stepped 4 times, past total_steps = 3"):
        s.step()
    with pytest.raises(ValueError, match="OneCycleLR: give total_steps, or epochs and steps_per_epoch"):
        L.OneCycleLR(vg.optim.Adam([p], lr=0.1), 1.0)
    with pytest.raises(ValueError, match="CosineAnnealingWarmRestarts: T_0 must be >= 1"):
        L.CosineAnnealingWarmRestarts(vg.optim.Adam([p], lr=0.1), 0)
    with pytest.raises(ValueError, match="SequentialLR: expected n schedulers and n - 1 increasing milestones"):
        L.SequentialLR(vg.optim.Adam([p], lr=0.1), [L.ConstantLR(vg.optim.Adam([p], lr=0.1))], [3])
    dev = "vulkan" if vg.vulkan_available() else "cpu"
    r = np.random.default_rng(5)
    x, y = r.standard_normal((8, 3)), r.standard_normal((8, 1))
    finals = []
    for captured in (False, True):
        vg.manual_seed(0)
        model = vg.nn.Linear(3, 1, device=dev)
        opt = vg.optim.Adam(model.parameters(), lr=0.1)
        sched = L.OneCycleLR(opt, 0.5, total_steps=6)

        def step(xb, yb):
            loss = vg.mse_loss(model(xb), yb)
            opt.step(vg.backward(loss))
            return loss
        run = vg.capture_step(step) if captured else (lambda a, b: step(vg.tensor(a, device=dev),
                                                                          vg.tensor(b, device=dev)))
        for _ in range(5):
            run(x, y)
            sched.step()
        finals.append(model.weight.numpy().copy())
    np.testing.assert_allclose(finals[1], finals[0], rtol=1e-5, atol=1e-6)


def _np_adam_family(name, w, grads, lr, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, decoupled=False, rho=0.9, md=4e-3):
    """NumPy transcriptions of PyTorch's Adamax, NAdam, RAdam and Adadelta steps."""
    w = w.copy()
    m, v, prod = np.zeros_like(w), np.zeros_like(w), 1.0
    for t, g in enumerate(grads, 1):
        if wd and decoupled:
            w = w * (1 - lr * wd)
        elif wd:
            g = g + wd * w
        if name == "Adadelta":
            v = rho * v + (1 - rho) * g * g
            u = np.sqrt(m + eps) / np.sqrt(v + eps) * g
            m = rho * m + (1 - rho) * u * u
            w = w - lr * u
            continue
        m = b1 * m + (1 - b1) * g
        if name == "Adamax":
            v = np.maximum(b2 * v, np.abs(g) + eps)
            w = w - lr / (1 - b1 ** t) * m / v
            continue
        v = b2 * v + (1 - b2) * g * g
        bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
        if name == "NAdam":
            mu, mu_next = b1 * (1 - 0.5 * 0.96 ** (t * md)), b1 * (1 - 0.5 * 0.96 ** ((t + 1) * md))
            prod *= mu
            d = np.sqrt(v / bc2) + eps
            w = w - lr * (1 - mu) / (1 - prod) * g / d - lr * mu_next / (1 - prod * mu_next) * m / d
        else:  # RAdam
            rho_inf = 2 / (1 - b2) - 1
            rho_t = rho_inf - 2 * t * b2 ** t / bc2
            if rho_t > 5:
                r = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                w = w - lr * m / bc1 * r * np.sqrt(bc2) / (np.sqrt(v) + eps)
            else:
                w = w - lr * m / bc1
    return w


@pytest.mark.parametrize("name,kw", [("Adamax", dict(lr=0.01, weight_decay=0.1)),
                                     ("NAdam", dict(lr=0.01, weight_decay=0.05)),
                                     ("NAdam", dict(lr=0.01, weight_decay=0.05, decoupled_weight_decay=True)),
                                     ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
                                     ("Adadelta", dict(lr=0.5, weight_decay=0.1))])
def test_adamax_nadam_radam_adadelta(bk, name, kw):
    """Adamax, NAdam, RAdam (both of its phases: 10 steps cross rho_t = 5) and
    Adadelta on Adam's fused kernels, a small and a large parameter (the large one's
    own 16-byte-load dispatch on Vulkan), against NumPy transcriptions of PyTorch's
    updates and PyTorch itself where present; their state names."""
    r = np.random.default_rng(7)
    w0 = [r.standard_normal((5, 3)), r.standard_normal((300, 250))]
    steps = [[r.standard_normal(w.shape) for w in w0] for _ in range(10)]
    ps = [vg.Parameter(w, device=bk.device, dtype=bk.dtype) for w in w0]
    opt = getattr(vg.optim, name)(ps, **kw)
    for gs in steps:
        for p, g in zip(ps, gs):
            p.grad = bk.t(g)
        opt.step()
    npkw = dict(lr=kw["lr"], wd=kw.get("weight_decay", 0.0), decoupled=kw.get("decoupled_weight_decay", False),
                eps=1e-6 if name == "Adadelta" else 1e-8)
    tol = dict(rtol=2e-2, atol=2e-2) if bk.dtype == "f16" else dict(rtol=1e-4, atol=1e-5)
    for i, (p, w) in enumerate(zip(ps, w0)):
        bk.close(p.numpy(), _np_adam_family(name, w, [gs[i] for gs in steps], **npkw), what=name, **tol)
    state = opt.state_dict()["state"]
    names = {"Adamax": {"exp_avg", "exp_inf", "step"}, "Adadelta": {"square_avg", "acc_delta", "step"}}.get(
        name, {"exp_avg", "exp_avg_sq", "step"})
    assert set(next(iter(state.values()))) == names
    try:
        import torch
    except ImportError:
        return
    tps = [torch.nn.Parameter(torch.tensor(w)) for w in w0]
    topt = getattr(torch.optim, name)(tps, **kw)
    for gs in steps:
        for tp, g in zip(tps, gs):
            tp.grad = torch.tensor(g)
        topt.step()
    for p, tp in zip(ps, tps):
        bk.close(p.numpy(), tp.detach().numpy(), what=f"{name} vs PyTorch", **tol)


def test_swa_utils_average_anneal_and_update_bn(bk):
    """AveragedModel's SWA mean and EMA of the parameters (buffers copied or
    averaged), SWALR's annealing (and PyTorch's where present), update_bn's running
    statistics as the plain average over the batches; the averaged model runs."""
    from vkgrad.optim import swa_utils
    r = np.random.default_rng(8)
    vg.manual_seed(0)
    nn = vg.nn
    model = nn.Sequential(nn.Linear(3, 4, device=bk.device, dtype=bk.dtype), nn.BatchNorm1d(4, device=bk.device,
                                                                                             dtype=bk.dtype))
    swa = swa_utils.AveragedModel(model)
    ema = swa_utils.AveragedModel(model, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(0.5), use_buffers=True)
    ema1 = swa_utils.AveragedModel(model, avg_fn=swa_utils.get_ema_avg_fn(0.5))
    snaps, run_means = [], []
    for _ in range(3):
        for p in model.parameters():
            p.assign_(r.standard_normal(p.shape))
        model(bk.t(r.standard_normal((5, 3))))  # moves the running statistics
        snaps.append([p.numpy().astype(np.float64) for p in model.parameters()])
        run_means.append(model[1].running_mean.numpy().astype(np.float64))
        for m in (swa, ema, ema1):
            m.update_parameters(model)
    assert swa.n_averaged.item() == 3
    for i, p in enumerate(swa.module.parameters()):
        bk.close(p.numpy(), np.mean([s[i] for s in snaps], 0), what=f"SWA mean {i}")
    want_ema = [0.25 * s0 + 0.25 * s1 + 0.5 * s2 for s0, s1, s2 in zip(*snaps)]
    for i, (p, q) in enumerate(zip(ema.module.parameters(), ema1.module.parameters())):
        bk.close(p.numpy(), want_ema[i], what=f"EMA {i}")
        bk.close(q.numpy(), want_ema[i], what=f"EMA (avg_fn) {i}")
    bk.close(swa.module[1].running_mean.numpy(), run_means[-1], what="buffers copied")
    bk.close(ema.module[1].running_mean.numpy(), 0.25 * run_means[0] + 0.25 * run_means[1] + 0.5 * run_means[2],
             what="buffers averaged")
    xs = [r.standard_normal((6, 3)) for _ in range(3)]
    swa_utils.update_bn([(bk.t(x), None) for x in xs], swa)
    with vg.no_grad():
        h = [swa.module[0](bk.t(x)).numpy().astype(np.float64) for x in xs]
    bk.close(swa.module[1].running_mean.numpy(), np.mean([a.mean(0) for a in h], 0), what="update_bn mean")
    bk.close(swa.module[1].running_var.numpy(), np.mean([a.var(0, ddof=1) for a in h], 0), what="update_bn var")
    assert swa.module[1].momentum == 0.1 and swa.training
    assert swa(bk.t(xs[0])).shape == (6, 4)
    p = vg.Parameter(np.zeros(1), device="cpu")
    lrs = []
    for strategy, epochs in (("cos", 4), ("linear", 3), ("cos", 0)):
        opt = vg.optim.SGD([p], lr=1.0)
        s = swa_utils.SWALR(opt, 0.1, anneal_epochs=epochs, anneal_strategy=strategy)
        lrs.append([opt.lr] + [s.step() for _ in range(6)])
    np.testing.assert_allclose(lrs[1], [1.0, 0.7, 0.4, 0.1, 0.1, 0.1, 0.1], rtol=1e-12)
    assert lrs[0][4:] == [0.1] * 3 and lrs[2] == [0.1] * 7  # (anneal_epochs=0: swa_lr at once)
    with pytest.raises(ValueError, match="AveragedModel: give avg_fn or multi_avg_fn, not both"):
        swa_utils.AveragedModel(model, avg_fn=lambda *a: a[0], multi_avg_fn=lambda *a: None)
    try:
        import torch
    except ImportError:
        return
    for (strategy, epochs), mine in zip((("cos", 4), ("linear", 3), ("cos", 0)), lrs):
        theirs = _torch_lrs(torch, lambda o: torch.optim.swa_utils.SWALR(o, 0.1, anneal_epochs=epochs,
                                                                         anneal_strategy=strategy), 1.0, 6)
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, err_msg=f"SWALR {strategy} {epochs}")


def _lsq_closure(bk, A, b, power):
    """A zero parameter w and LBFGS's closure for sum((A w - b) ** power)."""
    w = vg.Parameter(np.zeros(A.shape[1]), device=bk.device, dtype=bk.dtype)
    At, bt = bk.t(A), bk.t(b)

    def closure():
        w.grad = None
        loss = vg.sum((vg.matmul(At, w) - bt) ** power)
        loss.backward()
        return loss
    return w, closure


def test_lbfgs_solves_least_squares_on_every_backend(bk):
    """LBFGS with and without the strong-Wolfe line search reaches the least-squares
    solution of a small well-conditioned problem; errors are clear."""
    if bk.dtype == "f16":
        with pytest.raises(TypeError, match="LBFGS: f16 parameters are not supported"):
            vg.optim.LBFGS([vg.Parameter(np.zeros(2), device=bk.device, dtype="f16")])
        return
    r = np.random.default_rng(9)
    A, b = r.standard_normal((20, 4)) + np.eye(20, 4) * 3, r.standard_normal(20)
    want = np.linalg.lstsq(A, b, rcond=None)[0]
    for ls in (None, "strong_wolfe"):
        w, closure = _lsq_closure(bk, A, b, 2)
        opt = vg.optim.LBFGS([w], max_iter=50, line_search_fn=ls)
        for _ in range(3):
            opt.step(closure)
        np.testing.assert_allclose(w.numpy(), want, atol=1e-3, err_msg=f"line search {ls}")
    with pytest.raises(ValueError, match="LBFGS.step: needs a closure"):
        opt.step()
    with pytest.raises(ValueError, match="LBFGS: line_search_fn must be None or 'strong_wolfe'"):
        vg.optim.LBFGS([w], line_search_fn="armijo")


def test_lbfgs_checkpoint_resumes_the_same_steps(bk, tmp_path):
    """LBFGS's curvature history goes through state_dict / vkgrad.save: a run
    resumed from a checkpoint after two steps takes the uninterrupted run's third."""
    if bk.dtype == "f16":
        pytest.skip("LBFGS takes f32 / f64 parameters")
    r = np.random.default_rng(10)
    A, b = r.standard_normal((12, 5)), r.standard_normal(12)

    def make():
        return _lsq_closure(bk, A, b, 4)
    w, closure = make()
    opt = vg.optim.LBFGS([w], max_iter=3, history_size=4, line_search_fn="strong_wolfe")
    opt.step(closure)
    opt.step(closure)
    vg.save({"w": w, "opt": opt.state_dict()}, tmp_path / "ck.npz")
    opt.step(closure)
    ck = vg.load(tmp_path / "ck.npz")
    assert ck["opt"]["lbfgs"]["old_dirs"].shape[1] == 5 and int(ck["opt"]["lbfgs"]["n_iter"]) >= 3
    w2, closure2 = make()
    with vg.no_grad():
        w2.copy_(vg.tensor(ck["w"], device=bk.device, dtype=bk.dtype))
    opt2 = vg.optim.LBFGS([w2], max_iter=3, history_size=4, line_search_fn="strong_wolfe")
    opt2.load_state_dict(ck["opt"])
    opt2.step(closure2)
    np.testing.assert_allclose(w2.numpy(), w.numpy(), rtol=1e-5, atol=1e-6)
    fresh = vg.optim.LBFGS([w2], max_iter=3)
    fresh.load_state_dict({k: v for k, v in opt.state_dict().items() if k != "lbfgs"})  # (an old checkpoint)
    assert fresh._lbfgs == {"func_evals": 0, "n_iter": 0}
    vg.save({"o": vg.optim.LBFGS([w2]).state_dict()}, tmp_path / "none.npz")  # (line_search_fn None saves)
    again = vg.optim.LBFGS([w2], line_search_fn="strong_wolfe")
    again.load_state_dict(vg.load(tmp_path / "none.npz")["o"])
    assert again.line_search_fn is None and fresh.line_search_fn == "strong_wolfe"


def test_lbfgs_matches_pytorch():
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(10)
    X = r.standard_normal((40, 3))
    Y = (X @ np.array([1.0, -2.0, 0.5]) + 0.1 * np.sin(X[:, 0]))[:, None]
    for ls in (None, "strong_wolfe"):
        m = vg.nn.Sequential(vg.nn.Linear(3, 6, device="cpu", dtype="f64"), vg.nn.Tanh(),
                             vg.nn.Linear(6, 1, device="cpu", dtype="f64"))
        tm = torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1)).double()
        with torch.no_grad():
            for p, tp in zip(m.parameters(), tm.parameters()):
                tp.copy_(torch.tensor(p.numpy()))
        opt = vg.optim.LBFGS(m.parameters(), max_iter=8, history_size=4, line_search_fn=ls)
        topt = torch.optim.LBFGS(tm.parameters(), max_iter=8, history_size=4, line_search_fn=ls)
        x, y = vg.tensor(X, device="cpu", dtype="f64"), vg.tensor(Y, device="cpu", dtype="f64")

        def closure():
            m.zero_grad()
            loss = vg.mse_loss(m(x), y)
            loss.backward()
            return loss

        def tclosure():
            topt.zero_grad()
            loss = torch.nn.functional.mse_loss(tm(torch.tensor(X)), torch.tensor(Y))
            loss.backward()
            return loss
        for _ in range(3):
            assert abs(opt.step(closure).item() - topt.step(tclosure).item()) < 1e-10
        for p, tp in zip(m.parameters(), tm.parameters()):
            np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-9, atol=1e-11, err_msg=str(ls))


def test_rprop_matches_its_formula_and_pytorch(bk):
    """Rprop: per-element step sizes grown while the gradient keeps its sign, shrunk
    (and the step skipped) when it flips, clamped; against a NumPy transcription of
    PyTorch's update on every backend, PyTorch itself where present; resumes from a
    checkpoint."""
    r = np.random.default_rng(11)
    w0 = r.standard_normal(6)
    grads = [np.sin(3 * w0 + k) * (k % 3 - 1) for k in range(12)]
    w, prev, size = w0.copy(), np.zeros(6), np.full(6, 0.05)
    for g in grads:
        s = g * prev
        size = np.clip(size * np.where(s > 0, 1.2, np.where(s < 0, 0.5, 1.0)), 1e-6, 50)
        g = np.where(s < 0, 0.0, g)
        w, prev = w - np.sign(g) * size, g
    p = vg.Parameter(w0, device=bk.device, dtype=bk.dtype)
    opt = vg.optim.Rprop([p], lr=0.05)
    for k, g in enumerate(grads):
        p.grad = bk.t(g)
        opt.step()
        if k == 5:  # a checkpoint: a new optimizer picks up there
            sd = opt.state_dict()
            opt = vg.optim.Rprop([p], lr=0.05)
            opt.load_state_dict(sd)
    bk.close(p.numpy(), _round(bk, w) if bk.dtype == "f16" else w, atol=bk.atol * 10)
    with pytest.raises(ValueError, match=r"Rprop: etas must be \(decrease in \(0, 1\), increase > 1\)"):
        vg.optim.Rprop([p], etas=(1.5, 1.2))
    try:
        import torch
    except ImportError:
        return
    tw = torch.nn.Parameter(torch.tensor(w0))
    to = torch.optim.Rprop([tw], lr=0.05)
    for g in grads:
        tw.grad = torch.tensor(g)
        to.step()
    np.testing.assert_allclose(w, tw.detach().numpy(), rtol=1e-12)


def _round(bk, a):
    return a.astype(np.float16).astype(np.float64)


def _group_run(opt_fn, device, dtype, steps=5, tweak=None, capture=False):
    r = np.random.default_rng(12)
    W1, W2, X, Y = r.standard_normal((4, 3)), r.standard_normal((2, 4)), r.standard_normal((8, 3)), \
        r.standard_normal((8, 2))
    a, b = vg.Parameter(W1, device=device, dtype=dtype), vg.Parameter(W2, device=device, dtype=dtype)
    opt = opt_fn(a, b)

    def step(x, y):
        opt.zero_grad()
        loss = ((vg.tanh(x @ a.T) @ b.T - y) ** 2).mean()
        loss.backward()
        opt.step()
        return loss
    run = vg.capture_step(step) if capture else (
        lambda x, y: step(vg.tensor(x, device=device, dtype=dtype), vg.tensor(y, device=device, dtype=dtype)))
    for s in range(steps):
        run(X, Y)
        if tweak and s == 1:
            tweak(opt)
    return a.numpy(), b.numpy(), opt


def _torch_group_run(torch, make, tweak=False):
    """_group_run's problem in PyTorch (``tweak``: the second group's lr set to 0.003
    after step 2, as _group_run's tweak does)."""
    r = np.random.default_rng(12)
    W1, W2, X, Y = r.standard_normal((4, 3)), r.standard_normal((2, 4)), r.standard_normal((8, 3)), \
        r.standard_normal((8, 2))
    a, b = torch.tensor(W1, requires_grad=True), torch.tensor(W2, requires_grad=True)
    opt = make(a, b)
    for s in range(5):
        opt.zero_grad()
        ((torch.tanh(torch.tensor(X) @ a.T) @ b.T - torch.tensor(Y)) ** 2).mean().backward()
        opt.step()
        if tweak and s == 1:
            opt.param_groups[1]["lr"] = 0.003
    return a.detach().numpy(), b.detach().numpy()


def test_parameter_groups(bk, tmp_path):
    """PyTorch's parameter groups: per-group options (lr, momentum, weight decay),
    param_groups read and written live (captured steps too), schedulers moving
    every group by its ratio, checkpoints, add_param_group, clear errors."""
    if bk.dtype == "f16":
        pytest.skip("(f32 / f64 parameters: the f16 path is the same code per group)")

    def tweak(o):
        o.param_groups[1]["lr"] = 0.003

    def sgd(a, b):
        return vg.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.05, "momentum": 0.5}], lr=0.1, momentum=0.9,
                            weight_decay=0.01)
    a1, b1, opt = _group_run(sgd, bk.device, bk.dtype, tweak=tweak)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.003] and opt.param_groups[1]["momentum"] == 0.5
    assert len(opt.parameters()) == 2 and len(opt.param_groups[0]["params"]) == 1
    if bk.device != "cpu":  # a captured step reads each group's rate on every replay
        a2, b2, _ = _group_run(sgd, bk.device, bk.dtype, tweak=tweak, capture=True)
        np.testing.assert_allclose(a2, a1, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(b2, b1, rtol=1e-6, atol=1e-6)
    # one group per optimizer gives the same steps as separate optimizers
    r = np.random.default_rng(13)
    w = vg.Parameter(r.standard_normal(3), device=bk.device, dtype=bk.dtype)
    v = vg.Parameter(r.standard_normal(3), device=bk.device, dtype=bk.dtype)
    opt = vg.optim.AdamW([{"params": [w], "weight_decay": 0.0}, {"params": [v]}], lr=0.01, weight_decay=0.1)
    sched = vg.optim.lr_scheduler.StepLR(opt, 1, 0.5)
    opt.param_groups[1]["lr"] = 0.02
    sched.step()
    assert [g["lr"] for g in opt.param_groups] == [0.005, 0.01]  # (each moved by the factor: 0.02 -> 0.01)
    for p in (w, v):
        p.grad = vg.ones(3, device=bk.device, dtype=bk.dtype)
    opt.step()
    sd = opt.state_dict()
    vg.save({"opt": sd}, tmp_path / "g.npz")
    opt2 = vg.optim.AdamW([{"params": [w], "weight_decay": 0.0}, {"params": [v]}], lr=0.01, weight_decay=0.1)
    opt2.load_state_dict(vg.load(tmp_path / "g.npz")["opt"])
    assert opt2.param_groups[1]["lr"] == 0.01 and opt2.param_groups[0]["weight_decay"] == 0.0
    assert opt2._extra[0].step_count == 1
    u = vg.Parameter(np.zeros(2), device=bk.device, dtype=bk.dtype)
    opt.add_param_group({"params": [u], "lr": 0.5})
    assert len(opt.param_groups) == 3 and opt.param_groups[2]["lr"] == 0.5 and opt.param_groups[2]["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError, match="AdamW: a parameter appears in more than one group"):
        vg.optim.AdamW([{"params": [w]}, {"params": [w, v]}])
    with pytest.raises(ValueError, match=r"SGD: parameter group 1 has unknown options \['betas'\]"):
        vg.optim.SGD([{"params": [w]}, {"params": [v], "betas": (0.9, 0.99)}], lr=0.1)
    with pytest.raises(ValueError, match="LBFGS: parameter groups are not supported"):
        vg.optim.LBFGS([{"params": [w]}, {"params": [v]}])
    with pytest.raises(ValueError, match=r"AdamW.load_state_dict: the state has 1 parameter groups, this optimizer 3"):
        opt.load_state_dict(vg.optim.AdamW([w]).state_dict())


def test_grads_dict_keys_and_groups_everywhere():
    """A plain dict of gradients keyed by the parameters themselves updates them (it
    found nothing before, silently); one whose keys name no parameter raises, in
    step, clip_grad_norm and GradScaler.unscale_; ASGD's averaged weights of every
    group."""
    a = vg.Parameter(np.ones(3), device="cpu")
    b = vg.Parameter(np.ones(2), device="cpu")
    opt = vg.optim.SGD([a, b], lr=0.5)
    opt.step({a: vg.tensor(np.full(3, 2.0), device="cpu")})
    np.testing.assert_array_equal(a.numpy(), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(b.numpy(), [1.0, 1.0])  # (no gradient: unchanged)
    opt.step({"1": np.full(2, 1.0)})  # (by key: the index as a string)
    np.testing.assert_array_equal(b.numpy(), [0.5, 0.5])
    stray = {"weight": np.ones(3), vg.Parameter(np.ones(3), device="cpu"): np.ones(3)}
    with pytest.raises(KeyError, match=r"SGD: none of the 2 keys of grads \('weight', <tensor \[3\]>\) names a "
                                       r"parameter \(expected keys like \['0', '1'\]"):
        opt.step(stray)
    with pytest.raises(KeyError, match="clip_grad_norm: none of the 2 keys"):
        vg.optim.clip_grad_norm([a, b], 1.0, grads=stray)
    with pytest.raises(KeyError, match="GradScaler.unscale_: none of the 2 keys"):
        vg.amp.GradScaler().unscale_(opt, stray)
    opt.step({})  # (empty: nothing to update, as a backward() of no parameters)
    ps = [vg.Parameter(np.ones(2), device="cpu", dtype="f64") for _ in range(2)]
    avg = vg.optim.ASGD([{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.2}], lr=0.1, t0=0)
    for p in ps:
        p.grad = vg.tensor(np.ones(2), device="cpu", dtype="f64")
    avg.step()
    assert len(avg.averaged()) == 2
    np.testing.assert_allclose(avg.averaged()[1].numpy(), ps[1].numpy())  # (after one step: the weights)


def test_parameter_groups_match_torch_if_available():
    torch = pytest.importorskip("torch")

    def torch_run(make):
        return _torch_group_run(torch, make, tweak=True)
    for name, kw0, kw1, base in (("SGD", {}, {"lr": 0.05, "momentum": 0.5}, dict(lr=0.1, momentum=0.9,
                                                                                 weight_decay=0.01)),
                                 ("AdamW", {"weight_decay": 0.0}, {}, dict(lr=0.01, weight_decay=0.1)),
                                 ("RMSprop", {"alpha": 0.9}, {"centered": True}, dict(lr=0.01))):
        ours = _group_run(lambda a, b: getattr(vg.optim, name)([dict(params=[a], **kw0), dict(params=[b], **kw1)],
                                                               **base), "cpu", "f64",
                          tweak=lambda o: o.param_groups[1].__setitem__("lr", 0.003))
        theirs = torch_run(lambda a, b: getattr(torch.optim, name)([dict(params=[a], **kw0), dict(params=[b], **kw1)],
                                                                   **base))
        for o, t in zip(ours[:2], theirs):
            np.testing.assert_allclose(o, t, atol=1e-12, err_msg=name)


def test_amsgrad(bk):
    """Adam / AdamW(amsgrad=True): the running maximum of v in the denominator (a
    NumPy transcription of PyTorch's update), its state checkpointed, a captured
    step refused with a clear error."""
    if bk.dtype == "f16":
        pytest.skip("(the f16 path runs on the f32 masters, as the other optimizers')")
    r = np.random.default_rng(14)
    w0, grads = r.standard_normal(4), [r.standard_normal(4) * s for s in (1.0, 0.1, 2.0, 0.05)]
    for cls, decoupled in ((vg.optim.Adam, False), (vg.optim.AdamW, True)):
        p = vg.Parameter(w0, device=bk.device, dtype=bk.dtype)
        opt = cls([p], lr=0.1, weight_decay=0.05, amsgrad=True)
        w, m, v, vmax = w0.copy(), np.zeros(4), np.zeros(4), np.zeros(4)
        for t, g in enumerate(grads, 1):
            p.grad = vg.tensor(g, device=bk.device, dtype=bk.dtype)
            opt.step()
            if decoupled:
                w = w * (1 - 0.1 * 0.05)
            else:
                g = g + 0.05 * w
            m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
            vmax = np.maximum(vmax, v)
            w = w - 0.1 / (1 - 0.9 ** t) * m / (np.sqrt(vmax) / np.sqrt(1 - 0.999 ** t) + 1e-8)
        bk.close(p.numpy(), w, what=f"{cls.__name__} amsgrad")
        sd = opt.state_dict()
        bk.close(sd["state"][p.name or "0"]["max_exp_avg_sq"], vmax, rtol=max(bk.rtol, 1e-4), what="max_exp_avg_sq")
        assert opt.param_groups[0]["amsgrad"] is True
    if bk.device != "cpu":
        q = vg.Parameter(w0, device=bk.device, dtype=bk.dtype)
        opt = vg.optim.Adam([q], amsgrad=True)

        @vg.capture_step
        def step(x):
            opt.zero_grad()
            (q * x).sum().backward()
            opt.step()
        step(np.ones(4))
        with pytest.raises(RuntimeError, match=r"Adam\(amsgrad=True\) runs composed ops with per-step host numbers"):
            step(np.ones(4))


def test_amsgrad_matches_torch_if_available():
    torch = pytest.importorskip("torch")
    ours = _group_run(lambda a, b: vg.optim.AdamW([a, b], lr=0.05, weight_decay=0.1, amsgrad=True), "cpu", "f64")
    theirs = _torch_group_run(torch, lambda a, b: torch.optim.AdamW([a, b], lr=0.05, weight_decay=0.1, amsgrad=True))
    np.testing.assert_allclose(ours[0], theirs[0], atol=1e-12)
    np.testing.assert_allclose(ours[1], theirs[1], atol=1e-12)


def test_chained_scheduler():
    """ChainedScheduler: the product of the schedules' factors (PyTorch's chained
    result for multiplicative schedules), checkpointed; a schedule that is not a
    factor is refused."""
    L = vg.optim.lr_scheduler
    p = vg.Parameter(np.zeros(2), device="cpu")
    opt = vg.optim.SGD([p], lr=1.0)
    cs = L.ChainedScheduler([L.ConstantLR(opt, factor=0.5, total_iters=3), L.ExponentialLR(opt, gamma=0.9),
                             L.CosineAnnealingLR(opt, T_max=10)])
    got = [opt.lr] + [cs.step() for _ in range(8)]
    want = [(0.5 if t < 3 else 1.0) * 0.9 ** t * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(9)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    sd = cs.state_dict()
    opt2 = vg.optim.SGD([p], lr=1.0)
    cs2 = L.ChainedScheduler([L.ConstantLR(opt2, factor=0.5, total_iters=3), L.ExponentialLR(opt2, gamma=0.9),
                              L.CosineAnnealingLR(opt2, T_max=10)])
    cs2.load_state_dict(sd)
    assert abs(cs2.step() - cs.step()) < 1e-15
    with pytest.raises(ValueError, match="ChainedScheduler: CosineAnnealingLR is not a factor of its base rate"):
        L.ChainedScheduler([L.CosineAnnealingLR(opt, T_max=5, eta_min=0.1)])
    torch = pytest.importorskip("torch")
    tp = torch.nn.Parameter(torch.zeros(2))
    to = torch.optim.SGD([tp], lr=1.0)
    T = torch.optim.lr_scheduler
    tcs = T.ChainedScheduler([T.ConstantLR(to, factor=0.5, total_iters=3), T.ExponentialLR(to, gamma=0.9),
                              T.CosineAnnealingLR(to, T_max=10)])
    theirs = [to.param_groups[0]["lr"]]
    for _ in range(8):
        to.step()
        tcs.step()
        theirs.append(to.param_groups[0]["lr"])
    np.testing.assert_allclose(got, theirs, rtol=1e-12)


def _np_asgd(W, grads, lr, lambd, alpha, t0, wd):
    w, ax, eta, mu = W.copy(), np.zeros_like(W), lr, 1.0
    for t, g in enumerate(grads, 1):
        g = g + wd * w
        w = w * (1 - lambd * eta) - eta * g
        ax = w.copy() if mu == 1 else ax + (w - ax) * mu
        eta, mu = lr / (1 + lambd * lr * t) ** alpha, 1 / max(1, t - t0)
    return w, ax


def _np_adafactor(W, grads, lr, b2d=-0.8, eps1=None, eps2=1e-3, d=1.0, wd=0.0):
    w = W.copy()
    eps1 = np.finfo(np.float64).eps if eps1 is None else eps1
    row, col, var = np.zeros(W.shape[:-1] + (1,)), np.zeros(W.shape[:-2] + (1, W.shape[-1])), np.zeros(W.shape)
    for t, g in enumerate(grads, 1):
        rate = t ** b2d
        alpha = max(eps2, np.sqrt(np.mean(w * w))) * min(lr, 1 / np.sqrt(t))
        w = w * (1 - lr * wd)
        if W.ndim >= 2:
            row = row + ((g * g).mean(-1, keepdims=True) - row) * rate
            col = col + ((g * g).mean(-2, keepdims=True) - col) * rate
            est = row @ col / np.maximum(row.mean(-2, keepdims=True), eps1)
        else:
            est = var = var + (g * g - var) * rate
        u = g / np.sqrt(np.maximum(est, eps1 * eps1))
        w = w - u * alpha / max(1.0, np.sqrt(np.mean(u * u)) / d)
    return w


def _np_muon(W, grads, lr, wd=0.1, mom=0.95, nesterov=True, coef=(3.4445, -4.7750, 2.0315), steps=5, adjust=None):
    w, buf = W.copy(), np.zeros_like(W)
    A, B = W.shape
    rate = lr * (0.2 * np.sqrt(max(A, B)) if adjust == "match_rms_adamw" else np.sqrt(max(1, A / B)))
    for g in grads:
        buf = buf + (g - buf) * (1 - mom)
        x = g + (buf - g) * mom if nesterov else buf
        x = x.T if A > B else x
        x = x / max(np.linalg.norm(x), 1e-7)
        for _ in range(steps):
            gram = x @ x.T
            x = coef[0] * x + (coef[1] * gram + coef[2] * gram @ gram) @ x
        w = w * (1 - lr * wd) - rate * (x.T if A > B else x)
    return w


_NEW_OPTIMIZERS = [
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.75, t0=3, weight_decay=0.1),
     lambda W, gs: _np_asgd(W, gs, 0.05, 0.01, 0.75, 3, 0.1)[0]),
    ("Adafactor", dict(lr=0.05, weight_decay=0.1), lambda W, gs: _np_adafactor(W, gs, 0.05, wd=0.1)),
    ("Adafactor", dict(lr=0.05, eps=(1e-3, 1e-2), d=1.5, beta2_decay=-0.5),
     lambda W, gs: _np_adafactor(W, gs, 0.05, b2d=-0.5, eps1=1e-3, eps2=1e-2, d=1.5)),
    ("Muon", dict(lr=0.05), lambda W, gs: _np_muon(W, gs, 0.05)),
    ("Muon", dict(lr=0.05, nesterov=False, adjust_lr_fn="match_rms_adamw", weight_decay=0.0),
     lambda W, gs: _np_muon(W, gs, 0.05, wd=0.0, nesterov=False, adjust="match_rms_adamw")),
]


def _new_optimizer_problem(shapes):
    r = np.random.default_rng(15)
    ws = [r.standard_normal(s) for s in shapes]
    return ws, [[np.sin(3 * w + k) * (1 + k % 3) for w in ws] for k in range(8)]


@pytest.mark.parametrize("name,kw,ref", _NEW_OPTIMIZERS, ids=[f"{c[0]}-{i}" for i, c in enumerate(_NEW_OPTIMIZERS)])
def test_asgd_adafactor_muon_match_their_formulas(bk, name, kw, ref):
    """ASGD, Adafactor (factored for a matrix and a batch of matrices, unfactored for
    a vector) and Muon against NumPy transcriptions of PyTorch's updates on every
    backend, resumed from a checkpoint midway; a captured step refused."""
    shapes = [(5, 3)] if name == "Muon" else [(5, 3), (2, 3, 4), (3,)]
    if name == "Muon":
        shapes.append((3, 6))  # (a tall and a wide matrix: the iteration on the wide one)
    ws, steps = _new_optimizer_problem(shapes)
    eps1 = {"f64": None, "f32": np.finfo(np.float32).eps, "f16": np.finfo(np.float16).eps}[bk.dtype]
    if name == "Adafactor" and kw.get("eps", (None,))[0] is None and bk.dtype != "f64":
        ref = (lambda W, gs: _np_adafactor(W, gs, 0.05, eps1=eps1, wd=0.1))  # eps1: the dtype's epsilon
    ps = [vg.Parameter(w, device=bk.device, dtype=bk.dtype) for w in ws]
    cls = getattr(vg.optim, name)
    opt = cls(ps, **kw)
    for k, gs in enumerate(steps):
        for p, g in zip(ps, gs):
            p.grad = bk.t(g)
        opt.step()
        if k == 3:
            sd = opt.state_dict()
            opt = cls(ps, **kw)
            opt.load_state_dict(sd)
    for i, (p, w) in enumerate(zip(ps, ws)):
        want = ref(w, [gs[i] for gs in steps])
        bk.close(p.numpy(), _round(bk, want) if bk.dtype == "f16" else want,
                 atol=max(bk.atol * 10, 2e-6 if bk.dtype == "f32" else 1e-12), what=f"{name} {list(w.shape)}")
    if bk.device != "cpu":
        q = vg.Parameter(ws[0], device=bk.device, dtype=bk.dtype)
        opt = cls([q], **kw)

        @vg.capture_step
        def step(x):
            opt.zero_grad()
            (q * x).sum().backward()
            opt.step()
        step(np.ones((5, 3)))
        with pytest.raises(RuntimeError, match=f"{name} runs composed ops with per-step host numbers"):
            step(np.ones((5, 3)))


def test_asgd_adafactor_muon_state_and_errors():
    """Their state under PyTorch's names (Adafactor's factors of the parameter's
    shape less one axis), ASGD's averaged weights, Muon's 2-d requirement, the
    hyperparameter checks."""
    ws, steps = _new_optimizer_problem([(5, 3), (3,)])
    ps = [vg.Parameter(w, device="cpu") for w in ws]
    opt = vg.optim.Adafactor(ps)
    for p, g in zip(ps, steps[0]):
        p.grad = vg.tensor(g, device="cpu")
    opt.step()
    st = opt.state_dict()["state"]
    assert sorted(st["0"]) == ["col_var", "row_var", "step"] and sorted(st["1"]) == ["step", "variance"]
    assert st["0"]["row_var"].shape == (5, 1) and st["0"]["col_var"].shape == (1, 3)
    bad = dict(opt.state_dict())
    bad["state"] = {"0": {**st["0"], "row_var": np.zeros((1, 3))}, "1": st["1"]}
    with pytest.raises(ValueError, match=r"Adafactor.load_state_dict: row_var for '0' has shape \[1, 3\], "
                                         r"expected \[5, 1\]"):
        vg.optim.Adafactor(ps).load_state_dict(bad)
    ps = [vg.Parameter(w, device="cpu", dtype="f64") for w in ws]
    a = vg.optim.ASGD(ps, lr=0.1, t0=0)
    for gs in steps[:3]:
        for p, g in zip(ps, gs):
            p.grad = vg.tensor(g, device="cpu", dtype="f64")
        a.step()
    w, ax = _np_asgd(ws[0], [gs[0] for gs in steps[:3]], 0.1, 1e-4, 0.75, 0, 0.0)
    np.testing.assert_allclose(a.averaged()[0].numpy(), ax, rtol=1e-12)
    assert isinstance(a.state_dict()["state"]["0"]["eta"], float)
    with pytest.raises(ValueError, match=r"Muon: parameters must be 2-d matrices, got '1' of shape \[3\]"):
        vg.optim.Muon(ps)
    with pytest.raises(ValueError, match="Muon: adjust_lr_fn must be None, 'original' or 'match_rms_adamw'"):
        vg.optim.Muon(ps[:1], adjust_lr_fn="x")
    with pytest.raises(ValueError, match="Adafactor: expected beta2_decay <= 0"):
        vg.optim.Adafactor(ps, beta2_decay=0.5)
    with pytest.raises(ValueError, match="ASGD: lambd and weight_decay must be >= 0"):
        vg.optim.ASGD(ps, weight_decay=-1)
    groups = vg.optim.Muon([{"params": ps[:1]}, {"params": [vg.Parameter(np.ones((2, 2)), device="cpu")], "lr": 0.5}], lr=0.1)
    assert [g["lr"] for g in groups.param_groups] == [0.1, 0.5]


def test_asgd_adafactor_muon_match_torch_if_available():
    """Against PyTorch itself in f64 (ASGD's rates in f64: PyTorch keeps them in the
    default dtype; Muon's iteration runs in bfloat16 there, so to its precision)."""
    torch = pytest.importorskip("torch")
    ws, steps = _new_optimizer_problem([(5, 3), (3, 6)])
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        for name, kw, _ in _NEW_OPTIMIZERS:
            ps = [vg.Parameter(w, device="cpu", dtype="f64") for w in ws]
            tps = [torch.nn.Parameter(torch.tensor(w)) for w in ws]
            opt, topt = getattr(vg.optim, name)(ps, **kw), getattr(torch.optim, name)(tps, **kw)
            for gs in steps:
                for p, tp, g in zip(ps, tps, gs):
                    p.grad, tp.grad = vg.tensor(g, device="cpu", dtype="f64"), torch.tensor(g)
                opt.step()
                topt.step()
            for p, tp, w in zip(ps, tps, ws):
                tol = 0.03 * np.abs(tp.detach().numpy() - w).max() if name == "Muon" else 1e-12
                np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), atol=tol, err_msg=name)
    finally:
        torch.set_default_dtype(old)


def _two_group_run(lib, make, n, metric=None, edit=None):
    """Rates (and momenta) of both groups of SGD([lr 0.1], [lr 0.01, momentum 0.8],
    momentum 0.9) after construction and each of n steps; ``lib``: vkgrad or torch."""
    mk = (lambda: vg.Parameter(np.zeros(2), device="cpu")) if lib is vg else (lambda: lib.nn.Parameter(lib.zeros(2)))
    opt = lib.optim.SGD([{"params": [mk()]}, {"params": [mk()], "lr": 0.01, "momentum": 0.8}], lr=0.1, momentum=0.9)
    sched = make(lib.optim.lr_scheduler if lib is vg else lib.optim.lr_scheduler, opt)
    row = lambda: [g["lr"] for g in opt.param_groups] + [g["momentum"] for g in opt.param_groups]  # noqa: E731
    out = [row()]
    for t in range(n):
        if lib is not vg:
            opt.step()
        if edit is not None and t == edit:
            opt.param_groups[1]["lr"] = 0.02  # (by hand: the chainable schedules go on from it)
        sched.step(metric[t]) if metric is not None else sched.step()
        out.append(row())
    return np.array(out)


_GROUP_SCHEDULES = [
    ("StepLR", lambda L, o: L.StepLR(o, 3, 0.5), 10, None),
    ("StepLR edited", lambda L, o: L.StepLR(o, 3, 0.5), 10, None),
    ("MultiStepLR", lambda L, o: L.MultiStepLR(o, [2, 5], 0.3), 8, None),
    ("ExponentialLR", lambda L, o: L.ExponentialLR(o, 0.8), 6, None),
    ("LinearLR", lambda L, o: L.LinearLR(o, 0.2, 1.0, 4), 7, None),
    ("ConstantLR", lambda L, o: L.ConstantLR(o, 0.25, 3), 6, None),
    ("PolynomialLR", lambda L, o: L.PolynomialLR(o, 6, 2.0), 8, None),
    ("CosineAnnealingLR", lambda L, o: L.CosineAnnealingLR(o, 10, eta_min=0.002), 10, None),
    ("CosineAnnealingWarmRestarts", lambda L, o: L.CosineAnnealingWarmRestarts(o, 3, 2, eta_min=0.001), 14, None),
    ("LambdaLR", lambda L, o: L.LambdaLR(o, [lambda e: 0.9 ** e, lambda e: 1 / (1 + e)]), 6, None),
    ("MultiplicativeLR", lambda L, o: L.MultiplicativeLR(o, [lambda e: 0.9, lambda e: 0.5]), 6, None),
    ("OneCycleLR", lambda L, o: L.OneCycleLR(o, [1.0, 0.2], total_steps=12, base_momentum=[0.8, 0.7],
                                             max_momentum=[0.95, 0.9]), 11, None),
    ("CyclicLR", lambda L, o: L.CyclicLR(o, [0.01, 0.001], [0.1, 0.05], step_size_up=3, mode="triangular2",
                                         base_momentum=[0.8, 0.6], max_momentum=[0.9, 0.85]), 14, None),
    ("ReduceLROnPlateau", lambda L, o: L.ReduceLROnPlateau(o, patience=0, factor=0.5, min_lr=[0.02, 0.004]), 8,
     [1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7]),
    ("SWALR", lambda L, o: importlib.import_module(L.__name__.replace("lr_scheduler", "swa_utils")).SWALR(
        o, [0.05, 0.002], anneal_epochs=3), 5, None),
]


@pytest.mark.parametrize("name,make,n,metric", _GROUP_SCHEDULES, ids=[c[0] for c in _GROUP_SCHEDULES])
def test_schedulers_per_parameter_group(name, make, n, metric):
    """Each group on the schedule from its own rate (PyTorch's): eta_min / min_lr
    floors, per-group lists of max_lr, base_lr, lambdas, momenta and min_lr; a rate
    set by hand carried on by the chainable schedules; against PyTorch where
    present, and the closed forms here."""
    edit = 4 if "edited" in name else None
    got = _two_group_run(vg, make, n, metric, edit)
    t = np.arange(n + 1)
    if name == "CosineAnnealingLR":  # eta_min + (base - eta_min) (1 + cos) / 2, each group its base
        for j, base in enumerate([0.1, 0.01]):
            np.testing.assert_allclose(got[:, j], 0.002 + (base - 0.002) * (1 + np.cos(np.pi * t / 10)) / 2,
                                       rtol=1e-12)
    elif name == "LambdaLR":
        np.testing.assert_allclose(got[:, :2], np.stack([0.1 * 0.9 ** t, 0.01 / (1 + t)], 1), rtol=1e-12)
    elif name == "StepLR edited":  # 0.02 set after step 4 (epoch 4): halved at epoch 6 and 9
        np.testing.assert_allclose(got[:, 1], [0.01] * 3 + [0.005] * 2 + [0.02] + [0.01] * 3 + [0.005] * 2)
    elif name == "OneCycleLR":  # from max_lr / 25 up to max_lr (at 0.3 * 12 - 1 steps), momenta the other way
        np.testing.assert_allclose(got[0], [0.04, 0.008, 0.95, 0.9])
        assert got[:, 0].max() == pytest.approx(1.0, rel=0.02) and got[:, 1].max() == pytest.approx(0.2, rel=0.02)
    elif name == "ReduceLROnPlateau":  # halved each bad epoch, each group down to its own floor
        np.testing.assert_allclose(got[-1, :2], [0.02, 0.004])
    elif name == "CyclicLR":
        np.testing.assert_allclose(got[3, :4], [0.1, 0.05, 0.8, 0.6])  # the first peak
    torch = pytest.importorskip("torch")
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (PyTorch's warnings on the order of step calls)
        theirs = _two_group_run(torch, make, n, metric, edit)
    np.testing.assert_allclose(got, theirs, rtol=1e-10, atol=1e-15)


def test_scheduler_group_lists_checked_and_last_lr():
    p, q = vg.Parameter(np.zeros(2), device="cpu"), vg.Parameter(np.zeros(2), device="cpu")
    opt = vg.optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.01}], lr=0.1)
    L = vg.optim.lr_scheduler
    with pytest.raises(ValueError, match=r"OneCycleLR: expected one max_lr or a list of 2 \(one per parameter "
                                         r"group\), got 3"):
        L.OneCycleLR(opt, [1.0, 0.5, 0.1], total_steps=10)
    with pytest.raises(TypeError, match="LambdaLR: lr_lambda must be callable"):
        L.LambdaLR(opt, [lambda e: 1.0, 2.0])
    s = L.ExponentialLR(opt, 0.5)
    assert s.step() == 0.05 and s.get_last_lr() == [0.05, 0.005] and s.base_lrs == [0.1, 0.01]
    sd = s.state_dict()
    s2 = L.ExponentialLR(vg.optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.3}], lr=0.2), 0.5)
    s2.load_state_dict(sd)
    assert s2.base_lrs == [0.1, 0.01] and s2.last_epoch == 1
    with pytest.raises(ValueError, match="ExponentialLR.load_state_dict: the state has 2 base rates, this "
                                         "optimizer 1 parameter groups"):
        L.ExponentialLR(vg.optim.SGD([p], lr=0.1), 0.5).load_state_dict(sd)


_MAXIMIZE = [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
             ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
             ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
             ("AdamW", dict(lr=0.01)), ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
             ("Adagrad", dict(lr=0.1, lr_decay=0.1)), ("Adamax", dict(lr=0.01)), ("NAdam", dict(lr=0.01)),
             ("RAdam", dict(lr=0.01, weight_decay=0.1)), ("Adadelta", dict(lr=1.0)), ("Rprop", dict(lr=0.01)),
             ("ASGD", dict(lr=0.01, t0=2)), ("Adafactor", dict(lr=0.01))]


@pytest.mark.parametrize("name,kw", _MAXIMIZE, ids=[f"{n}-{i}" for i, (n, _) in enumerate(_MAXIMIZE)])
def test_maximize(bk, name, kw):
    """PyTorch's ``maximize``: the steps of maximize=True on g are those on -g (on
    every backend, weight decay and all), per parameter group, in the checkpoint;
    Adam's decoupled_weight_decay is AdamW's update; both against PyTorch where
    present."""
    if bk.dtype == "f16" and name in ("Adafactor", "ASGD", "Rprop"):
        pytest.skip("(f32 / f64 state: the f16 path is the same negation)")
    r = np.random.default_rng(3)
    ws = [r.standard_normal((4, 3)), r.standard_normal(3)]
    steps = [[r.standard_normal(w.shape) for w in ws] for _ in range(4)]

    def run(maximize, sign, groups=False):
        ps = [vg.Parameter(w, device=bk.device, dtype=bk.dtype) for w in ws]
        spec = [{"params": ps[:1]}, {"params": ps[1:], "maximize": maximize}] if groups else ps
        opt = getattr(vg.optim, name)(spec, **kw, **({} if groups else {"maximize": maximize}))
        for gs in steps:
            for p, g in zip(ps, gs):
                p.grad = vg.tensor(sign * g, device=bk.device, dtype=bk.dtype)
            opt.step()
        return [p.numpy() for p in ps], opt
    up, opt = run(True, 1.0)
    down, _ = run(False, -1.0)
    for a, b in zip(up, down):
        bk.close(a, b, what=f"{name} maximize")
    assert opt.state_dict()["hyper"]["maximize"] is True
    mixed, _ = run(True, 1.0, groups=True)  # (the first group minimizes: its own default)
    bk.close(mixed[1], up[1], what="a maximizing group")
    plain, _ = run(False, 1.0)
    bk.close(mixed[0], plain[0], what="a minimizing group")
    if name == "Adam" and kw.get("decoupled_weight_decay"):
        ps = [vg.Parameter(w, device=bk.device, dtype=bk.dtype) for w in ws]
        adamw = vg.optim.AdamW(ps, lr=0.01, weight_decay=0.1, maximize=True)
        for gs in steps:
            for p, g in zip(ps, gs):
                p.grad = vg.tensor(g, device=bk.device, dtype=bk.dtype)
            adamw.step()
        for a, p in zip(up, ps):
            bk.close(a, p.numpy(), what="Adam(decoupled_weight_decay) = AdamW")
    if bk.device != "cpu" or bk.dtype != "f32":
        return
    torch = pytest.importorskip("torch")
    tps = [torch.nn.Parameter(torch.tensor(w, dtype=torch.float32)) for w in ws]
    topt = getattr(torch.optim, name)(tps, **kw, maximize=True)
    for gs in steps:
        for tp, g in zip(tps, gs):
            tp.grad = torch.tensor(g, dtype=torch.float32)
        topt.step()
    for a, tp in zip(up, tps):
        np.testing.assert_allclose(a, tp.detach().numpy(), rtol=2e-5, atol=2e-6, err_msg=f"{name} vs PyTorch")


_PYTORCH_SD = [("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True)), ("AdamW", dict(lr=0.01)),
               ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)), ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
               ("Adagrad", dict(lr=0.1)), ("Adamax", dict(lr=0.01)), ("NAdam", dict(lr=0.01)), ("RAdam", dict(lr=0.01)),
               ("Adadelta", dict(lr=1.0)), ("Rprop", dict(lr=0.01)), ("ASGD", dict(lr=0.01, t0=1)),
               ("Adafactor", dict(lr=0.01))]


@pytest.mark.parametrize("name,kw", _PYTORCH_SD, ids=[n for n, _ in _PYTORCH_SD])
def test_loads_pytorch_optimizer_state(name, kw):
    """A PyTorch optimizer's state_dict() (two groups, three steps in) loads into
    vkgrad's: the next steps equal PyTorch's in f64, the groups' rates restored."""
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(9)
    ws = [r.standard_normal((4, 3)), r.standard_normal(3), r.standard_normal((2, 3))]
    steps = [[r.standard_normal(w.shape) for w in ws] for _ in range(5)]
    tps = [torch.nn.Parameter(torch.tensor(w)) for w in ws]
    topt = getattr(torch.optim, name)([{"params": tps[:2]}, {"params": tps[2:], "lr": kw["lr"] / 2}], **kw)
    for gs in steps[:3]:
        for p, g in zip(tps, gs):
            p.grad = torch.tensor(g)
        topt.step()
    ps = [vg.Parameter(p.detach().numpy().copy(), device="cpu", dtype="f64") for p in tps]
    opt = getattr(vg.optim, name)([{"params": ps[:2]}, {"params": ps[2:], "lr": 1.0}], **kw)
    opt.load_state_dict(topt.state_dict())
    assert opt.param_groups[1]["lr"] == kw["lr"] / 2
    for gs in steps[3:]:
        for p, tp, g in zip(ps, tps, gs):
            p.grad, tp.grad = vg.tensor(g, device="cpu", dtype="f64"), torch.tensor(g)
        opt.step()
        topt.step()
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-9, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("name,args,kw", [("StepLR", (3, 0.5), {}), ("CosineAnnealingLR", (10,), {}),
                                          ("OneCycleLR", (1.0,), dict(total_steps=20)),
                                          ("CyclicLR", (0.01, 0.1), dict(step_size_up=3)),
                                          ("ReduceLROnPlateau", (), dict(patience=0))])
def test_loads_pytorch_scheduler_state(name, args, kw):
    """A PyTorch scheduler's state_dict() (with its optimizer's) loads into vkgrad's:
    the following rates and momenta are PyTorch's."""
    torch = pytest.importorskip("torch")
    import warnings
    tp = torch.nn.Parameter(torch.zeros(2))
    topt = torch.optim.SGD([tp], lr=0.1, momentum=0.9)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, *args, **kw)
    plateau = name == "ReduceLROnPlateau"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(5):
            topt.step()
            tsched.step(1.0) if plateau else tsched.step()
    opt = vg.optim.SGD([vg.Parameter(np.zeros(2), device="cpu")], lr=0.1, momentum=0.9)
    sched = getattr(vg.optim.lr_scheduler, name)(opt, *args, **kw)
    opt.load_state_dict(topt.state_dict())
    sched.load_state_dict(tsched.state_dict())
    for _ in range(4):
        topt.step()
        (tsched.step(1.0), sched.step(1.0)) if plateau else (tsched.step(), sched.step())
        assert opt.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12, abs=1e-15)
        assert opt.momentum == pytest.approx(topt.param_groups[0]["momentum"], rel=1e-12)


def test_pytorch_optimizer_state_format_and_errors():
    """PyTorch's format by hand (NumPy values, as torch.load(..., weights_only) and
    .numpy() give them): SGD's momentum buffers by parameter index; mismatched
    groups, parameters and state parts are named."""
    a, b = vg.Parameter(np.zeros(3), device="cpu"), vg.Parameter(np.zeros(2), device="cpu")
    opt = vg.optim.SGD([a, b], lr=0.1, momentum=0.9)
    sd = {"state": {1: {"momentum_buffer": np.full(2, 1.0)}},
          "param_groups": [{"lr": 0.2, "momentum": 0.9, "dampening": 0, "weight_decay": 0, "nesterov": False,
                            "maximize": False, "foreach": None, "differentiable": False, "fused": None,
                            "params": [0, 1]}]}
    opt.load_state_dict(sd)
    assert opt.lr == 0.2
    a.grad, b.grad = vg.zeros(3, device="cpu"), vg.zeros(2, device="cpu")
    opt.step()  # b: buf = 0.9 * 1 + 0 -> b -= 0.2 * 0.9
    np.testing.assert_allclose(b.numpy(), [-0.18, -0.18], rtol=1e-6)
    np.testing.assert_allclose(a.numpy(), [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="SGD.load_state_dict: PyTorch's state has 2 parameter groups, this optimizer 1"):
        opt.load_state_dict({"state": {}, "param_groups": sd["param_groups"] * 2})
    with pytest.raises(ValueError, match="SGD.load_state_dict: PyTorch's parameter group 0 has 1 parameters, this "
                                         "optimizer's 2"):
        opt.load_state_dict({"state": {}, "param_groups": [{**sd["param_groups"][0], "params": [0]}]})
    with pytest.raises(KeyError, match=r"SGD.load_state_dict: PyTorch's state \['exp_avg'\] for parameter 0 has no "
                                       r"counterpart here"):
        opt.load_state_dict({"state": {0: {"exp_avg": np.zeros(3)}}, "param_groups": sd["param_groups"]})


def test_custom_lr_scheduler_subclass(tmp_path):
    """lr_scheduler.LRScheduler: a PyTorch-style subclass (get_lr over base_lrs and
    last_epoch) moves every parameter group; the first step at construction, its
    state saved and restored; equal to PyTorch's where present."""
    L = vg.optim.lr_scheduler

    class Warmup(L.LRScheduler):
        def __init__(self, opt, warm, last_epoch=-1):
            self.warm = warm
            super().__init__(opt, last_epoch)

        def get_lr(self):
            return [b * min(1.0, (self.last_epoch + 1) / self.warm) for b in self.base_lrs]
    p, q = vg.Parameter(np.zeros(2), device="cpu"), vg.Parameter(np.zeros(2), device="cpu")
    opt = vg.optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.5}], lr=0.1)
    s = Warmup(opt, 4)
    got = [s.get_last_lr()]
    for _ in range(5):
        s.step()
        got.append(s.get_last_lr())
    np.testing.assert_allclose(got, [[0.025, 0.125], [0.05, 0.25], [0.075, 0.375]] + [[0.1, 0.5]] * 3)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    sd = s.state_dict()
    assert sd["last_epoch"] == 5 and sd["warm"] == 4 and "optimizer" not in sd
    s2 = Warmup(vg.optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.5}], lr=0.1), 4)
    s2.load_state_dict(sd)
    assert s2.last_epoch == 5

    class Broken(L.LRScheduler):
        def get_lr(self):
            return [0.1]
    with pytest.raises(ValueError, match="Broken.get_lr returned 1 rates for 2 parameter groups"):
        Broken(vg.optim.SGD([{"params": [p]}, {"params": [q]}], lr=0.1))
    assert L._LRScheduler is L.LRScheduler
    torch = pytest.importorskip("torch")

    class TWarmup(torch.optim.lr_scheduler.LRScheduler):
        def __init__(self, opt, warm, last_epoch=-1):
            self.warm = warm
            super().__init__(opt, last_epoch)

        def get_lr(self):
            return [b * min(1.0, (self.last_epoch + 1) / self.warm) for b in self.base_lrs]
    tp, tq = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    topt = torch.optim.SGD([{"params": [tp]}, {"params": [tq], "lr": 0.5}], lr=0.1)
    ts = TWarmup(topt, 4)
    theirs = [ts.get_last_lr()]
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(5):
            ts.step()
            theirs.append(ts.get_last_lr())
    np.testing.assert_allclose(got, theirs)


@pytest.mark.parametrize("make", [lambda ps: vg.optim.SGD(ps, lr=0.1, momentum=0.9), lambda ps: vg.optim.Adam(ps, lr=0.1)])
def test_step_takes_pytorchs_closure(bk, make):
    """opt.step(closure) / step(closure=...) as PyTorch's: the closure (zero_grad, loss,
    backward) runs with gradients recorded -- also inside no_grad() --, its loss is
    returned, and the update is the one ``backward(); step()`` makes."""
    w1 = vg.Parameter(np.array([1.0, -2.0]), dtype=bk.dtype, device=bk.device)
    w2 = vg.Parameter(np.array([1.0, -2.0]), dtype=bk.dtype, device=bk.device)
    o1, o2 = make([w1]), make([w2])
    x = bk.t(np.array([0.5, 3.0]))
    for _ in range(2):
        def closure():
            o1.zero_grad()
            loss = ((w1 * x) ** 2).sum()
            loss.backward()
            return loss
        with vg.no_grad():
            got = o1.step(closure) if _ == 0 else o1.step(closure=closure)
        o2.zero_grad()
        want = ((w2 * x) ** 2).sum()
        want.backward()
        assert o2.step() is None
        bk.close(got.numpy(), want.numpy())
        bk.close(w1.numpy(), w2.numpy())
    with pytest.raises(TypeError, match="grads must be the dict from vkgrad.backward\\(\\), a closure or None, got int"):
        o1.step(3)


def test_pytorchs_implementation_switches_are_accepted():
    """foreach= / fused= / capturable= (PyTorch's ways to run one update) are accepted on
    every optimizer, plain or with groups; differentiable=True is refused by name."""
    m = vg.nn.Linear(2, 1, device="cpu")
    for cls in (vg.optim.SGD, vg.optim.Adam, vg.optim.AdamW, vg.optim.RMSprop, vg.optim.Adagrad):
        opt = cls(m.parameters(), lr=0.1, foreach=True, fused=False, capturable=False, differentiable=False)
        assert opt.param_groups[0]["lr"] == 0.1
    vg.optim.Adam([{"params": m.parameters()}], lr=1e-3, fused=True)
    with pytest.raises(ValueError, match=r"Adam: differentiable=True \(gradients through the update\) is not supported"):
        vg.optim.Adam(m.parameters(), differentiable=True)


def test_optimizer_zero_grad_set_to_none_false_zeroes():
    """opt.zero_grad(set_to_none=False) zeroes the gradients in place, as PyTorch's and
    Module.zero_grad (it dropped them)."""
    p = vg.Parameter(np.array([1.0, 2.0]), device="cpu")
    opt = vg.optim.SGD([p], lr=0.1)
    (p * p).sum().backward()
    g = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is g and p.grad.numpy().tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert p.grad is None


def test_cycled_momentum_of_optimizers_made_without_it_matches_torch():
    """OneCycleLR / CyclicLR cycle the momentum of an SGD or RMSprop made with
    momentum 0, as PyTorch's (it set 0.95 before the first step: vkgrad kept 0,
    and RMSprop's beta1 was cycled instead); SGD keeps a momentum buffer from the
    first step with momentum (momentum set after steps without raised TypeError)."""
    torch = pytest.importorskip("torch")
    for name in ("SGD", "RMSprop"):
        for sched in ("OneCycleLR", "CyclicLR"):
            got = []
            for M in (torch, vg):
                p = M.nn.Parameter(M.tensor([1.0, -2.0], dtype=M.float64, **({"device": "cpu"} if M is vg else {})))
                opt = getattr(M.optim, name)([p], lr=0.01, momentum=0)
                L = M.optim.lr_scheduler
                s = L.OneCycleLR(opt, max_lr=0.05, total_steps=12) if sched == "OneCycleLR" else \
                    L.CyclicLR(opt, 0.001, 0.05, step_size_up=3)
                for _ in range(8):
                    opt.zero_grad()
                    (p ** 2).sum().backward()
                    opt.step()
                    s.step()
                got.append(p.detach().numpy() if M is torch else p.numpy())
            np.testing.assert_allclose(got[1], got[0], rtol=1e-10, err_msg=f"{name} {sched}")
    for M in (torch, vg):
        p = M.nn.Parameter(M.tensor([1.0, -2.0], dtype=M.float64, **({"device": "cpu"} if M is vg else {})))
        opt = M.optim.SGD([p], lr=0.01)
        for i in range(4):
            if i == 1:
                opt.param_groups[0]["momentum"] = 0.9
            opt.zero_grad()
            (p ** 2).sum().backward()
            opt.step()
        got.append(p.detach().numpy() if M is torch else p.numpy())
    np.testing.assert_allclose(got[-1], got[-2], rtol=1e-12)
    with pytest.raises(ValueError, match="OneCycleLR: Adagrad has neither momentum nor betas to cycle"):
        vg.optim.lr_scheduler.OneCycleLR(vg.optim.Adagrad([vg.Parameter(np.zeros(2), device="cpu")]), 0.1,
                                         total_steps=5)
