import numpy as np
import pytest

import vkgrad as vg


def test_seed_section1_raw_params(bk):
    x = bk.t(np.arange(1, 7).reshape(3, 2) / 6.0)  # batch-first [3, 2]
    rng = np.random.default_rng(0)
    Wn, bn = rng.standard_normal((2, 2)), np.array([0.1, -0.1])
    W = vg.Parameter(Wn, name="W", device=bk.device, dtype=bk.dtype)
    b = vg.Parameter(bn, name="b", device=bk.device, dtype=bk.dtype)
    with vg.grad_tape():
        h = vg.relu(vg.add(vg.matmul(x, W), b))
        loss = vg.mean(vg.mul(h, h))
    grads = vg.backward(loss)
    assert set(grads) == {"W", "b"}
    assert isinstance(grads["W"], vg.Tensor) and grads["W"].device == W.device
    xn = np.arange(1, 7).reshape(3, 2) / 6.0
    pre = xn @ Wn + bn
    dh = 2 * np.maximum(pre, 0) / pre.size * (pre > 0)
    bk.close(np.asarray(grads["W"]), xn.T @ dh, what="dW")
    bk.close(grads["b"].numpy(), dh.sum(0), what="db")
    assert W.grad is None  # backward() returns gradients, it does not accumulate


def test_reuse_accumulates(bk):
    x = bk.t([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x + x * 3.0 + x).sum()  # d/dx = 2x + 4
    y.backward()
    bk.close(x.grad.numpy(), 2 * np.array([1.0, 2, 3]) + 4)
    y2 = (x * 2.0).sum()
    y2.backward()  # accumulates into .grad
    bk.close(x.grad.numpy(), 2 * np.array([1.0, 2, 3]) + 6)


def test_slices_of_one_tensor_meet_in_one_gradient(bk, monkeypatch):
    """Basic indexing's gradients stay their pieces until read (autograd.SliceGrad):
    disjoint slices (a fused projection's q, k, v), overlapping ones, interleaved
    strides, a slice's gradient meeting a dense one, a hook and retain_grad on the
    sliced tensor, and anomaly mode -- the sums of their unslices on every backend,
    the pieces written in one array of the shape (Backend.unslice_many)."""
    r = np.random.default_rng(54)
    xv, w = r.standard_normal((4, 9)), r.standard_normal((4, 9))
    be = vg.get_backend(bk.device)
    calls = []
    orig = type(be).unslice_many
    monkeypatch.setattr(type(be), "unslice_many", lambda self, pieces, shape: calls.append(len(pieces))
                        or orig(self, pieces, shape))
    cases = [  # (the slices' gradient as a function of x; its sum's gradient's NumPy twin)
        (lambda x: [x[:, 0:3], x[:, 3:6], x[:, 6:9]], [3]),
        (lambda x: [x[:, 0:5], x[:, 3:9], x[1:3, 2:4]], [3]),
        (lambda x: [x[:, ::2], x[:, 1::2], x[::3, 1:8:3]], [3]),
        (lambda x: [x[:, 0:4], x * 2.0, x[2:, 5:]], [1, 1]),  # (a dense gradient between: each piece then)
    ]
    for make_parts, pieces in cases:
        x64 = vg.tensor(xv, requires_grad=True, device="cpu", dtype="f64")
        parts64 = make_parts(x64 * 1.0)
        sum((p * vg.tensor(w[tuple(slice(0, n) for n in p.shape)], device="cpu", dtype="f64")).sum()
            for p in parts64).backward()
        want = x64.grad.numpy()
        calls.clear()
        x = bk.t(xv, requires_grad=True)
        h = x * 1.0
        h.retain_grad()
        seen = []
        h.register_hook(lambda g: seen.append(g.numpy()))
        parts = make_parts(h)
        loss = sum((p * bk.t(w[tuple(slice(0, n) for n in p.shape)])).sum() for p in parts)
        with vg.autograd.detect_anomaly():
            loss.backward()
        bk.close(x.grad.numpy(), want)
        bk.close(h.grad.numpy(), want)
        bk.close(seen[0], want)
        assert calls == pieces, calls


def test_the_shared_unit_seed_never_becomes_a_gradient(bk):
    """backward's seed (1.0) is a kept constant: a leaf whose gradient would be it,
    or a view of it, gets a copy, so writing into that gradient changes nothing else."""
    s = bk.t(2.0, requires_grad=True)
    s.backward()  # the loss is the leaf itself
    bk.close(s.grad.numpy(), 1.0)
    s.grad.assign_(np.array(5.0))
    v = bk.t([3.0], requires_grad=True)
    v.reshape(()).backward()  # the gradient is a view of the seed
    bk.close(v.grad.numpy(), [1.0])
    v.grad.assign_(np.array([7.0]))
    x = bk.t([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    bk.close(x.grad.numpy(), [2.0, 4.0])
    w = bk.t(4.0, requires_grad=True)
    w.backward()
    bk.close(w.grad.numpy(), 1.0)


def test_diamond_graph():
    a = vg.tensor([0.5, -1.0], requires_grad=True, device="cpu", dtype="f64")
    b = vg.exp(a)
    c = b * b + vg.sigmoid(b)
    c.sum().backward()
    e = np.exp([0.5, -1.0])
    s = 1 / (1 + np.exp(-e))
    np.testing.assert_allclose(a.grad.numpy(), (2 * e + s * (1 - s)) * e)


def test_no_grad_records_nothing():
    w = vg.Parameter(np.ones(3), name="w")
    with vg.no_grad():
        y = (w * 2.0).sum()
    assert not y.requires_grad
    with vg.no_grad():
        with vg.grad_tape():
            z = (w * 2.0).sum()
    assert z.requires_grad


def test_backward_names_from_modules_and_dicts():
    model = vg.nn.Sequential(vg.nn.Linear(3, 4, activation="relu"), vg.nn.Linear(4, 2))
    x = vg.tensor(np.ones((5, 3)))
    grads = vg.backward(vg.softmax_cross_entropy(model(x), np.array([0, 1, 0, 1, 1])))
    assert set(grads) == {"0.weight", "0.bias", "1.weight", "1.bias"}
    W1 = vg.Parameter(np.ones((2, 2)))
    opt = vg.optim.SGD({"W1": W1}, lr=0.1)
    g = vg.backward((W1 * W1).sum())
    assert list(g) == ["W1"]
    opt.step(g)
    np.testing.assert_allclose(W1.numpy(), 0.8)


def test_inner_module_call_keeps_outer_names():
    model = vg.nn.Sequential(vg.nn.Linear(2, 2), vg.nn.Linear(2, 2))
    model(vg.tensor(np.ones((3, 2))))
    model[1](vg.tensor(np.ones((3, 2))))
    assert [p.name for p in model.parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_backward_errors():
    w = vg.Parameter(np.ones((2, 3)), name="w")
    with pytest.raises(RuntimeError, match=r"non-scalar output of shape \[2, 3\]"):
        vg.backward(w * 2.0)
    with pytest.raises(RuntimeError, match="does not require grad"):
        vg.backward(vg.tensor([1.0]).sum())
    with pytest.raises(ValueError, match=r"grad has shape \[3\], expected .*\[2, 3\]"):
        (w * 2.0).backward(np.ones(3))
    nan_loss = (w * float("nan")).sum()
    with pytest.raises(FloatingPointError, match="loss is nan"):
        vg.backward(nan_loss)
    (w * 2.0).backward(np.ones((2, 3)))  # explicit gradient for a non-scalar works
    np.testing.assert_allclose(w.grad.numpy(), 2.0)


def test_graph_freed_after_backward():
    w = vg.Parameter(np.ones(2))
    loss = (w * w).sum()
    loss.backward()
    with pytest.raises(RuntimeError):
        loss.backward()  # the root's node is gone
    loss2 = (w * w).sum()
    loss2.backward(retain_graph=True)
    loss2.backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 + 2 + 2)  # three backward passes of d(w*w)/dw = 2w


def test_tensor_api(bk):
    t = bk.t(np.arange(6.0).reshape(2, 3))
    assert t.shape == (2, 3) and t.dtype == bk.dtype and t.device.startswith(bk.device)
    assert np.asarray(t).shape == (2, 3)
    assert bk.t([4.0]).item() == 4.0
    with pytest.raises(ValueError, match="6 elements"):
        t.item()
    assert vg.tensor(np.array([1, 2])).dtype == "i32"
    u = t.to("cpu")
    np.testing.assert_allclose(u.numpy(), np.arange(6.0).reshape(2, 3))


def test_tensor_hooks_and_retain_grad(bk):
    """register_hook sees each tensor's complete gradient and may replace it (a
    leaf's too, before it lands in .grad); retain_grad keeps a non-leaf's gradient
    at backward(); handles remove hooks; as PyTorch."""
    x = bk.t(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    y = x * 2.0
    z = y * y
    seen = []
    h = y.register_hook(lambda g: seen.append(g.numpy().copy()))
    y.register_hook(lambda g: g * 0.5)
    y.retain_grad()
    x.register_hook(lambda g: g + 1.0)
    z.sum().backward()
    bk.close(seen[0], 4 * np.array([1.0, -2.0, 3.0]), what="y's gradient seen by the hook")
    bk.close(y.grad.numpy(), 2 * np.array([1.0, -2.0, 3.0]), what="y.grad after the hooks")
    bk.close(x.grad.numpy(), 4 * np.array([1.0, -2.0, 3.0]) + 1.0, what="x's gradient, hooked")
    h.remove()
    seen.clear()
    x.grad = None
    (x * 2.0).sum().backward()
    assert not seen
    with pytest.raises(ValueError, match=r"a hook on a tensor of shape \[3\] returned list"):
        w = x * 1.0
        w.register_hook(lambda g: [1, 2, 3])
        w.sum().backward()
    with pytest.raises(RuntimeError, match=r"register_hook: the tensor of shape \[3\] does not require grad"):
        bk.t(np.ones(3)).register_hook(print)


def test_module_hooks_and_lookups():
    """Forward (pre-)hooks see and may replace inputs and outputs, and come off with
    their handles; add_module / register_parameter / get_submodule / get_parameter
    / named_children / buffers / del, as PyTorch's."""
    from vkgrad import nn
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    feats = []
    h = net[1].register_forward_hook(lambda m, args, out: feats.append(out))
    x = vg.tensor(np.ones((2, 3)))
    y = net(x)
    assert len(feats) == 1 and feats[0].shape == (2, 4)
    with net[0].register_forward_pre_hook(lambda m, args: (args[0] * 0.0,)):
        np.testing.assert_allclose(net(x).numpy(), np.broadcast_to(
            np.maximum(net[0].bias.numpy(), 0) @ net[2].weight.numpy().T + net[2].bias.numpy(), (2, 2)), rtol=1e-6)
    h.remove()
    np.testing.assert_array_equal(net(x).numpy(), y.numpy())
    assert len(feats) == 2  # (the hook ran inside the pre-hook's block, not after remove)
    assert net.get_submodule("2") is net[2] and net.get_parameter("2.bias") is net[2].bias
    with pytest.raises(AttributeError, match="Sequential has no sub-module '5'"):
        net.get_submodule("5")
    m = nn.Module()
    m.add_module("lin", nn.Linear(2, 2))
    m.register_parameter("scale", vg.Parameter(np.ones(2)))
    m.register_buffer("count", vg.tensor(np.zeros(1)))
    assert [n for n, _ in m.named_children()] == ["lin"] and len(m.buffers()) == 1
    assert [n for n, _ in m.named_parameters()] == ["scale", "lin.weight", "lin.bias"]
    del m.scale
    assert [n for n, _ in m.named_parameters()] == ["lin.weight", "lin.bias"]
    with pytest.raises(TypeError, match="Module.add_module: 'x' must be a Module or None, got int"):
        m.add_module("x", 3)


def test_module_hook_options_and_duplicates_are_pytorchs():
    """PyTorch's hook options -- with_kwargs (pre-hooks may rewrite the keyword
    arguments), prepend, always_call (run when forward raises) -- were TypeErrors;
    named_modules / named_parameters / named_buffers take remove_duplicate, apply
    visits a shared sub-module once, and a Sequential's slice keeps its names."""
    from vkgrad import nn

    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)
            self.again = self.lin  # (one module under two names)

        def forward(self, x, scale=1.0):
            if scale < 0:
                raise ValueError("negative scale")
            return self.lin(x) * scale
    net, calls = Scaled(), []
    x = vg.tensor(np.ones((1, 2)), device="cpu")
    net.to("cpu")
    want = net(x, scale=3.0).numpy()
    net.register_forward_pre_hook(lambda m, args, kwargs: (args, {**kwargs, "scale": 3.0}), with_kwargs=True)
    net.register_forward_hook(lambda m, args, kwargs, out: calls.append(("kw", dict(kwargs))), with_kwargs=True)
    net.register_forward_hook(lambda m, args, out: calls.append("first"), prepend=True)
    net.register_forward_hook(lambda m, args, out: calls.append(("always", out)), always_call=True)
    np.testing.assert_array_equal(net(x, scale=1.0).numpy(), want)
    assert calls[:2] == ["first", ("kw", {"scale": 3.0})] and calls[2][0] == "always"
    calls.clear()
    net._hooks["pre"].clear()
    with pytest.raises(ValueError, match="negative scale"):
        net(x, scale=-1.0)
    assert calls == [("always", None)]
    assert [n for n, _ in net.named_modules()] == ["", "lin"]
    assert [n for n, _ in net.named_modules(remove_duplicate=False)] == ["", "lin", "again"]
    assert [n for n, _ in net.named_parameters(remove_duplicate=False)] == ["lin.weight", "lin.bias", "again.weight",
                                                                            "again.bias"]
    seen = []
    net.apply(seen.append)
    assert seen == [net.lin, net]
    seq = nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Identity())
    assert [n for n, _ in seq[1:].named_children()] == ["1", "2"]


def test_in_place_ops_and_their_version_checks(bk):
    """add_ / sub_ / mul_ / div_ / clamp_ / fill_ / zero_ / copy_ / normal_ /
    uniform_ change the storage in place (the same buffer); a tensor that requires
    grad refuses them while recording; a tensor a gradient needs, changed in place
    after use (also through a detached or reshaped view), stops backward with a
    clear error."""
    x = bk.t(np.array([1.0, -2.0, 3.0]))
    buf = x.handle
    x.add_(1.0).mul_(2.0).sub_(bk.t(np.ones(3)), alpha=2.0).div_(2.0)
    assert x.handle is buf
    bk.close(x.numpy(), [1.0, -2.0, 3.0])
    x.clamp_(min=0.0)
    bk.close(x.numpy(), [1.0, 0.0, 3.0])
    x.copy_(np.array([5.0]))  # broadcast, as PyTorch's copy_
    bk.close(x.numpy(), [5.0, 5.0, 5.0])
    x.zero_()
    assert not x.numpy().any()
    vg.manual_seed(1)
    x.uniform_(2.0, 3.0)
    assert ((x.numpy() >= 2.0) & (x.numpy() < 3.0)).all()
    w = bk.t(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"add_: an in-place change of a leaf tensor that requires grad \(shape "
                                           r"\[3\]\)"):
        w.add_(1.0)
    with vg.no_grad():
        w.mul_(2.0)  # (a manual update, as PyTorch's)
    bk.close(w.numpy(), [2.0, 4.0, 6.0])
    x = bk.t(np.array([1.0, 2.0, 3.0]))
    loss = (w * x).sum()
    x.detach().fill_(7.0)  # w's gradient needs x: changed through a detached alias
    with pytest.raises(RuntimeError, match="backward: a tensor this gradient needs .* was changed by an in-place"):
        loss.backward()
    x2 = bk.t(np.array([[1.0, 2.0, 3.0]]))
    loss = (w * x2.reshape(3)).sum()
    x2.add_(1.0)
    with pytest.raises(RuntimeError, match="changed by an in-place operation"):
        loss.backward()
    with pytest.raises(ValueError, match=r"add_: the result has shape \[2, 3\], not the tensor's \[3\]"):
        x.add_(bk.t(np.ones((2, 3))))
    ok = (w * bk.t(np.array([1.0, 1.0, 1.0]))).sum()
    ok.backward()  # untouched inputs: fine
    bk.close(w.grad.numpy(), [1.0, 1.0, 1.0])


def test_augmented_assignment_is_in_place(bk):
    """``+= -= *= /= //= %= **=`` and a mask's ``&= |= ^=`` change the tensor in place,
    as PyTorch's: a hand-written SGD step ``p -= lr * p.grad`` under no_grad() moves the
    model's parameters (it left them unchanged, silently, while the operators fell back
    to a new tensor); refused on a leaf that requires grad while recording; on a
    non-leaf recorded (the gradient goes through); another name for the tensor, and a
    reshape view of it, see the change."""
    model = vg.nn.Linear(2, 1, device=bk.device, dtype=bk.dtype)
    w0 = model.weight.numpy().copy()
    (model(bk.t(np.ones((3, 2)))) ** 2).sum().backward()
    g = model.weight.grad.numpy()
    with vg.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad
    bk.close(model.weight.numpy(), w0 - 0.1 * g)
    x = bk.t(np.array([1.0, 2.0, 4.0]))
    alias, view, buf = x, x.reshape(3, 1), x.handle
    x += 1.0
    x *= 2.0
    x /= bk.t(np.array([2.0, 3.0, 5.0]))
    x **= 2
    assert x is alias and x.handle is buf
    bk.close(x.numpy(), [4.0, 4.0, 4.0])
    bk.close(view.numpy().ravel(), [4.0, 4.0, 4.0])
    i = vg.arange(6, device=bk.device)
    i //= 4
    j = vg.arange(6, device=bk.device)
    j %= 4
    assert i.dtype == j.dtype == "i32" and i.numpy().tolist() == [0, 0, 0, 0, 1, 1]
    assert j.numpy().tolist() == [0, 1, 2, 3, 0, 1]
    m = bk.t(np.array([1.0, 2.0, 3.0])) > 1.5
    m &= bk.t(np.array([1.0, 0.0, 1.0])) > 0.5
    m |= bk.t(np.array([1.0, 0.0, 0.0])) > 0.5
    m ^= bk.t(np.array([0.0, 0.0, 1.0])) > 0.5
    assert m.numpy().tolist() == [1.0, 0.0, 0.0]
    w = bk.t(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(RuntimeError, match="sub_: an in-place change of a leaf tensor that requires grad"):
        w -= 1.0
    y = w * 3.0
    y += w  # (a non-leaf: recorded, as PyTorch's)
    y.sum().backward()
    bk.close(w.grad.numpy(), [4.0, 4.0])


def test_data_is_pytorchs_alias_outside_autograd(bk):
    """``.data`` as PyTorch's: a tensor sharing the storage, no gradient, its in-place
    changes (DCGAN's ``weight.data.normal_(0, 0.02)``, WGAN's ``p.data.clamp_(-c, c)``,
    ``p.grad.data.zero_()``) reach the tensor without a version bump (a graph recorded
    before still runs backward); ``p.data = t`` makes p hold t's values. It was the
    backend's array (now ``.handle``): those calls raised AttributeError and the
    assignment broke the tensor."""
    m = vg.nn.Linear(3, 2, device=bk.device, dtype=bk.dtype)
    w = m.weight
    d = w.data
    assert isinstance(d, vg.Tensor) and not d.requires_grad and d.handle is w.handle and d.shape == w.shape
    x = bk.t(np.ones((4, 3)))
    loss = (m(x) ** 2).sum()
    vg.manual_seed(3)
    w.data.normal_(0.0, 0.02)
    assert np.abs(w.numpy()).max() < 0.2 and w.requires_grad and w.handle is d.handle
    loss.backward()  # (untracked: no version error, as PyTorch's)
    w.data.clamp_(-0.01, 0.01)  # (recording on: the alias needs no no_grad())
    assert np.abs(w.numpy()).max() <= 0.01 + 1e-6
    w.grad.data.zero_()
    assert not w.grad.numpy().any()
    bk.close(m.bias.data.numpy(), m.bias.numpy())
    m.weight.data = bk.t(np.full((2, 3), 0.5))
    assert m.weight.requires_grad and m.weight.numpy().tolist() == [[0.5] * 3] * 2
    m.weight.grad = None
    m(x).sum().backward()
    bk.close(m.weight.grad.numpy(), np.full((2, 3), 4.0))
    with pytest.raises(TypeError, match="data: assign a vkgrad Tensor, got int"):
        m.weight.data = 3


def test_setitem_in_place(bk):
    """x[index] = value: numbers, arrays and tensors broadcast to the selection, any
    index x[...] takes (masks included); the same buffer; the in-place guards."""
    a = np.arange(12.0).reshape(3, 4)
    x, want = bk.t(a), a.copy()
    buf = x.handle
    x[1] = 5.0
    want[1] = 5.0
    x[:, [0, 2]] = np.array([[-1.0], [-2.0], [-3.0]])
    want[:, [0, 2]] = np.array([[-1.0], [-2.0], [-3.0]])
    x[x > 8.0] = 0.0
    want[want > 8.0] = 0.0
    x[0, 1:3] = bk.t(np.array([7.0, 8.0]))
    want[0, 1:3] = [7.0, 8.0]
    x[bk.t(np.array([2, 2], np.int32))] = bk.t(np.arange(8.0).reshape(2, 4))  # (the last write wins)
    want[[2, 2]] = np.arange(8.0).reshape(2, 4)
    np.testing.assert_array_equal(x.numpy(), want)
    assert x.handle is buf
    w = bk.t(a, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"setitem: an in-place change of a leaf tensor that requires grad"):
        w[0] = 1.0
    with pytest.raises(ValueError, match=r"setitem: a value of shape \[3\] does not broadcast to the selection's "
                                         r"shape \[2, 4\]"):
        x[:2] = np.ones(3)
    with pytest.raises(IndexError, match=r"setitem: .*index 5 is out of bounds"):
        x[5] = 1.0


def test_boolean_masks_and_advanced_indices_are_pytorchs(bk):
    """vg.tensor of a boolean array is a mask (1.0 / 0.0, as comparisons give): it
    indexed as integer positions 0 and 1 (x[vg.tensor([False, False, True])] gave
    rows 0, 0, 1) and ~ flipped its bits.  Masks among other advanced indices or of
    several axes take their nonzero positions (PyTorch's rule; they raised), a ...
    spanning no axis leaves the arrays beside it adjacent, and setitem places the
    selection as getitem does (integers beside arrays: PyTorch's, not NumPy's)."""
    torch = pytest.importorskip("torch")
    a = np.arange(24.0).reshape(2, 3, 4)
    m3, m34 = np.array([False, True, True]), np.arange(12).reshape(3, 4) % 5 == 0
    mask = vg.tensor(np.array([False, True]), device=bk.device)
    assert mask.dtype in ("f32", "f16", "f64") and (~mask).numpy().tolist() == [1.0, 0.0]
    def T(M, v):
        return torch.tensor(v) if M is torch else vg.tensor(v, device=bk.device)
    cases = [lambda M: (mask if M is vg else torch.tensor([False, True]),), lambda M: (0, T(M, m3), 1),
             lambda M: (slice(None), T(M, m34)), lambda M: (T(M, np.array([1, 0])), T(M, m3)),
             lambda M: (1, slice(None), T(M, np.array([0, 3])), ...),
             lambda M: (slice(None), T(M, np.array([[0, 1]])), ..., T(M, np.array([3, 1]))),
             lambda M: (1, slice(None), [0, 2], ...)]
    for k, case in enumerate(cases):
        x, t = bk.t(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        got, want = x[case(vg)], t[case(torch)]
        assert got.shape == tuple(want.shape), (k, got.shape, want.shape)
        bk.close(got.numpy(), want.detach().numpy(), what=f"case {k}")
        w = np.cos(np.arange(want.numel())).reshape(want.shape)
        (got * bk.t(w)).sum().backward()
        (want * torch.tensor(w)).sum().backward()
        bk.close(x.grad.numpy(), t.grad.numpy(), what=f"case {k} grad")
    x, t = bk.t(a.reshape(2, 3, 2, 2)), torch.tensor(a.reshape(2, 3, 2, 2))
    v = np.arange(6.0).reshape(3, 2) * 10
    x[1, :, [0, 1], 1] = bk.t(v)  # ([3, 2] in PyTorch's placement; NumPy's is [2, 3])
    t[1, :, [0, 1], 1] = torch.tensor(v)
    bk.close(x.numpy(), t.numpy())
    # an empty selection still joins the graph: the value's gradient 0, as PyTorch's (it was "not used")
    x, v = bk.t(a, requires_grad=True) * 1.0, bk.t(np.ones(4), requires_grad=True)
    x[0, :, 2:2] = v[:0]
    x[np.zeros((2, 3, 4), bool)] = v.sum()
    gv, = vg.autograd.grad(x.sum(), [v])
    assert gv.numpy().tolist() == [0.0] * 4


def test_in_place_change_of_a_view_writes_through(bk):
    """PyTorch's views: an in-place change of a basic-index result, narrow, select,
    diagonal, t / T / mT / transpose / permute -- or of a view of one, a temporary --
    writes into the tensor it came from (``x[1].add_(5)``, ``K.diagonal().add_(eps)``,
    ``emb.weight[pad].zero_()``, rows of ``for row in x``); advanced indices give
    copies, as PyTorch's; recorded, the gradient flows through the written value."""
    a = np.arange(24.0).reshape(4, 6)
    x, want = bk.t(a), a.copy()
    x[1].add_(5.0)
    want[1] += 5.0
    x[:, 1:3].mul_(2.0)
    want[:, 1:3] *= 2.0
    x[0][2:].fill_(-1.0)
    want[0][2:] = -1.0
    for row in x[2:]:
        row.sub_(1.0)
    want[2:] -= 1.0
    x.narrow(1, -2, 2).zero_()
    want[:, -2:] = 0.0
    x.select(0, 3).clamp_(max=10.0)
    want[3] = np.minimum(want[3], 10.0)
    x.diagonal().add_(100.0)
    want[np.arange(4), np.arange(4)] += 100.0
    x.diagonal(1).fill_(7.0)
    want[np.arange(4), np.arange(1, 5)] = 7.0
    x.t()[0].fill_(3.0)
    want[:, 0] = 3.0
    x.T[5].copy_(bk.t(np.array([1.0, 2.0, 3.0, 4.0])))  # (a row of x.T: a column of x)
    want[:, 5] = [1.0, 2.0, 3.0, 4.0]
    x[[0, 1]].fill_(0.0)  # an advanced index: a copy
    bk.close(x.numpy(), want, what="writes through views")
    c = bk.t(np.arange(24.0).reshape(2, 3, 4))
    c.permute(2, 0, 1)[1].mul_(0.0)
    c.mT[0, 0].fill_(1.5)
    cw = np.arange(24.0).reshape(2, 3, 4)
    cw[:, :, 1] = 0.0
    cw[0, :, 0] = 1.5
    bk.close(c.numpy(), cw, what="permute / mT views")
    w = bk.t(a, requires_grad=True)
    with vg.no_grad():
        w[0].zero_()  # (nn.Embedding's padding row)
    assert not w.numpy()[0].any()
    # where gradients are recorded through them too, as PyTorch's CopySlices (figures from PyTorch)
    p = bk.t(a, requires_grad=True)
    y = p * 2.0
    v = y[1:3]
    v.mul_(3.0)
    bk.close(y.numpy(), a * np.array([[2.0], [6.0], [6.0], [2.0]]), what="recorded: written through")
    (y.sum() + v.sum()).backward()
    bk.close(p.grad.numpy(), np.array([[2.0], [12.0], [12.0], [2.0]]) * np.ones((4, 6)), what="gradient")
    # and the other way: a change of the base reaches its live views (they were copies as taken)
    b = bk.t(a)
    row, col, tr = b[1], b[:, 2], b.t()
    b.mul_(2.0)
    b[0, 2] = -5.0
    bk.close(row.numpy(), 2 * a[1], what="row view of a changed base")
    bk.close(col.numpy(), np.r_[-5.0, 2 * a[1:, 2]], what="column view")
    bk.close(tr.numpy(), np.where(np.arange(4)[:, None] * 6 + np.arange(6) == 2, -5.0, 2 * a).T, what="t() view")
    row.fill_(1.0)  # (a view's change: its base, and the base's other views)
    bk.close(col.numpy()[1], 1.0, what="a sibling view")
    q = bk.t(a, requires_grad=True)
    h = q * 2.0
    first = h[1]
    h.mul_(3.0)  # (recorded: first follows, with its gradient -- PyTorch's 36 per element of q's row 1)
    (first * first).sum().backward()
    bk.close(q.grad.numpy()[1], 72.0 * a[1], rtol=max(bk.rtol, 2e-3), what="gradient through the followed view")
    assert not q.grad.numpy()[[0, 2, 3]].any()
    lin = vg.nn.Linear(3, 2, device=bk.device, dtype=bk.dtype)
    wt, b0 = lin.weight.t(), lin.bias[0]
    opt = vg.optim.Adam(lin.parameters(), lr=0.1)
    lin(bk.t(np.ones((4, 3)))).sum().backward()
    opt.step()  # (the fused update writes the parameters: their views follow)
    bk.close(wt.numpy(), lin.weight.numpy().T, what="a parameter's view after a step")
    bk.close(b0.numpy(), lin.bias.numpy()[0], what="a parameter's element after a step")
    # a tied decoder weight kept as a view across steps trains as the weight used directly (PyTorch's
    # view regenerates its grad_fn from the updated base; here it was stale, then raised in backward)
    X = np.random.default_rng(0).standard_normal((8, 4))
    curves = []
    for held in (True, False):
        vg.manual_seed(3)
        enc = vg.nn.Linear(4, 3, bias=False, device=bk.device, dtype=bk.dtype)
        wt = enc.weight.t()
        opt = vg.optim.SGD(enc.parameters(), lr=0.1)
        losses = []
        for _ in range(4):
            rec = enc(bk.t(X)) @ (wt.T if held else enc.weight)
            loss = ((rec - bk.t(X)) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        curves.append(losses)
    bk.close(np.array(curves[0]), np.array(curves[1]), what="held tied view vs the weight")
    assert curves[0][-1] < curves[0][0]
    # a recurrence written into a buffer from its own views (out[:, t] = f(out[:, t - 1])): the gradient
    # of the list-and-stack form (it raised 'changed by an in-place operation' before)
    Wn = np.random.default_rng(1).standard_normal((3, 3)) * 0.5
    grads = []
    for buffered in (True, False):
        w = bk.t(Wn, requires_grad=True)
        if buffered:
            out = vg.zeros(2, 5, 3, device=bk.device, dtype=bk.dtype)
            out[:, 0] = bk.t(np.ones((2, 3)))
            for t in range(1, 5):
                out[:, t] = vg.tanh(out[:, t - 1] @ w)
        else:
            steps = [bk.t(np.ones((2, 3)))]
            for t in range(1, 5):
                steps.append(vg.tanh(steps[-1] @ w))
            out = vg.stack(steps, 1)
        (out * bk.t(np.cos(np.arange(30.0)).reshape(2, 5, 3))).sum().backward()
        grads.append(w.grad.numpy())
    bk.close(grads[0], grads[1], what="recurrence through a buffer")


def test_in_place_shape_changes(bk):
    """PyTorch's unsqueeze_ / squeeze_ / t_ / transpose_ / swapaxes_ change the tensor's
    own shape, recorded where gradients are (the gradient of the reshaped values,
    against the out-of-place chain); resize_ keeps the elements in order (cut or
    zero-padded) and refuses a tensor that requires grad; a leaf that requires grad
    only under no_grad, as the other in-place ops."""
    x0 = np.random.default_rng(2).standard_normal((3, 1, 4))
    w = np.cos(np.arange(12.0))
    grads = []
    for in_place in (True, False):
        x = bk.t(x0, requires_grad=True)
        h = x * 2.0
        if in_place:
            assert h.unsqueeze_(-1).transpose_(0, 3).squeeze_(0) is h
            assert h.shape == (1, 4, 3) and h.swapaxes_(1, 2).squeeze_().t_().shape == (4, 3)
        else:
            h = h.unsqueeze(-1).transpose(0, 3).squeeze(0).swapaxes(1, 2).squeeze().t()
        (h * bk.t(w.reshape(4, 3))).sum().backward()
        grads.append(x.grad.numpy())
    bk.close(grads[0], grads[1], what="in-place shape changes' gradient")
    a = bk.t(np.arange(6.0))
    assert a.resize_(2, 3).shape == (2, 3) and a.numpy().tolist() == [[0, 1, 2], [3, 4, 5]]
    assert a.resize_(4).numpy().tolist() == [0, 1, 2, 3] and a.resize_((1, 6)).numpy().tolist() == [[0, 1, 2, 3, 0, 0]]
    assert a.resize_as_(bk.t(np.ones((2, 1)))).shape == (2, 1)
    p = bk.t(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"resize_: the tensor of shape \[2, 3\] requires grad"):
        p.resize_(6)
    with pytest.raises(RuntimeError, match="t_: an in-place change of a leaf tensor that requires grad"):
        p.t_()
    with vg.no_grad():
        p.t_()
    assert p.shape == (3, 2) and p.requires_grad
    with pytest.raises(ValueError, match=r"t_: expected a tensor of at most 2 dimensions, got shape \[3, 1, 4\]"):
        bk.t(x0).t_()
    b = bk.t(np.zeros((3, 4)))
    r = b[0]
    b.unsqueeze_(0)
    r.fill_(1.0)  # (a view of the old shape: unlinked, not broadcast into b's rows)
    assert not b.numpy().any() and r.numpy().tolist() == [1.0] * 4
    r = b[0, 0]
    b.data = bk.t(np.zeros((2, 4)))  # (new storage: the old views stay with the old)
    r.fill_(2.0)
    assert not b.numpy().any()
    q = bk.t(x0)  # (PyTorch's host-memory spellings, accepted: the tensor itself)
    assert q.pin_memory() is q and not q.is_pinned() and q.share_memory_() is q and not q.is_shared()
    assert q.data_ptr() == q.detach().data_ptr() == q.reshape(12).data_ptr() != q.clone().data_ptr()


def test_in_place_ops_in_the_graph(bk):
    """In-place ops while recording, as PyTorch's: a buffer filled with values
    that require grad passes their gradient on (it was lost, silently); a non-leaf
    changed in place (mul_, relu_, clamp_, setitem, fill_) takes the op's place in
    the graph, the op reading its old value -- also where PyTorch refuses (an
    output an earlier op saved: exp, then mul_); an op recorded from the old value
    before, or a reshape alias, raises."""
    xv, wv = np.array([1.0, -2.0, 3.0]), np.array([0.5, 1.5, -1.0])
    x, w = bk.t(xv, requires_grad=True), bk.t(wv, requires_grad=True)
    z = vg.zeros((2, 3), device=bk.device, dtype=bk.dtype)
    for i in range(2):  # (an RNN's outputs into a buffer)
        z[i] = x * (i + 1) + w
    gx, gw = vg.autograd.grad((z * z).sum(), [x, w])
    bk.close(gx.numpy(), 2 * (xv + wv) + 4 * (2 * xv + wv))
    bk.close(gw.numpy(), 2 * (xv + wv) + 2 * (2 * xv + wv))
    y = x * 1.0
    y.relu_()
    y.clamp_(max=2.0)
    y[0] = 0.25
    gx, gw = vg.autograd.grad((y * w).sum(), [x, w])
    bk.close(gx.numpy(), wv * (xv > 0) * (xv <= 2) * [0, 1, 1])
    bk.close(gw.numpy(), [0.25, 0.0, 2.0])
    y = x.exp()
    y.mul_(w)  # (exp's saved output is the old storage: left as it was)
    gx, gw = vg.autograd.grad(y.sum(), [x, w])
    bk.close(gx.numpy(), wv * np.exp(xv), rtol=max(bk.rtol, 1e-5))
    bk.close(gw.numpy(), np.exp(xv), rtol=max(bk.rtol, 1e-5))
    y = x * 3.0
    y.fill_(2.0)
    gx, gw = vg.autograd.grad((y * w).sum(), [x, w])
    bk.close(gx.numpy(), [0.0, 0.0, 0.0])
    bk.close(gw.numpy(), [2.0, 2.0, 2.0])
    buf = vg.zeros(3, device=bk.device, dtype=bk.dtype)
    buf.copy_(x)  # (copy_ from a tensor that requires grad)
    bk.close(vg.autograd.grad((buf * buf).sum(), [x])[0].numpy(), 2 * xv)
    y = x * 3.0
    z = y * y
    y.add_(w)  # (recorded: z's product reaches y as it was, through y's version history -- PyTorch's)
    bk.close(vg.autograd.grad((z + y).sum(), [x])[0].numpy(), 18 * xv + 3, rtol=max(bk.rtol, 2e-3))
    y = x * 3.0
    z = y * y
    with vg.no_grad():
        y.add_(w)  # (not recorded: z's saved y changed under it)
    with pytest.raises(RuntimeError, match="backward: a tensor this gradient needs .* was changed by an in-place"):
        (z + y).sum().backward()
    y = x * 3.0
    r = y.reshape((3, 1))
    y.mul_(2.0)  # (recorded into its reshape view too: test_in_place_changes_reach_reshape_views_and_detaches)
    bk.close(vg.autograd.grad(r.sum(), [x])[0].numpy(), np.full(3, 6.0))


def test_in_place_changes_reach_reshape_views_and_detaches(bk):
    """A reshape / view / flatten / unsqueeze shares its input's storage, as PyTorch's
    views: a recorded in-place change of any of them reaches the others recorded
    (their gradients follow it), the ops recorded from them before keep the values
    they saw; a detach() sees the values only; a reshape of a leaf that requires
    grad is refused a recorded change, as PyTorch's view of a leaf."""
    av = np.array([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]])
    a = bk.t(av, requires_grad=True)
    c = a * 1.0
    v = c.view(-1)
    v[0] = 3.0  # -> c[0, 0]
    bk.close(c.numpy(), [[3.0, -2.0, 3.0], [-4.0, 5.0, -6.0]])
    bk.close(vg.autograd.grad((c * bk.t(np.arange(6.0).reshape(2, 3))).sum(), [a])[0].numpy(),
             [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]])
    c = a * 1.0
    v, w, f, u = c.view(-1), c.reshape(3, 2), c.flatten(), c.unsqueeze(0)
    y = v * v  # (recorded before the change: keeps v's value then)
    b = bk.t(av[::-1].copy(), requires_grad=True)
    w.mul_(b.reshape(3, 2))
    for t in (c, v, w, f, u):
        bk.close(t.numpy().reshape(2, 3), av * av[::-1])
    gc, gb = vg.autograd.grad(u.sum() + y.sum(), [a, b])
    bk.close(gc.numpy(), av[::-1] + 2 * av)
    bk.close(gb.numpy(), av)
    c = a * 1.0
    vg.nn.functional.relu(c.view(-1), inplace=True)  # (PyTorch's F.relu(x.view(-1), inplace=True))
    bk.close(c.numpy(), np.maximum(av, 0))
    bk.close(vg.autograd.grad(c.sum(), [a])[0].numpy(), (av > 0) * 1.0)
    c = a * 1.0
    r = c[1]  # (a basic-index view of c; its reshape shares r's storage)
    rv = r.view(3, 1)
    rv.mul_(2.0)
    bk.close(c.numpy(), [av[0], 2 * av[1]])
    bk.close(vg.autograd.grad(c.sum(), [a])[0].numpy(), [[1.0] * 3, [2.0] * 3])
    c = a * 1.0
    d = c.detach()
    c.mul_(2.0)
    bk.close(d.numpy(), 2 * av)
    assert not d.requires_grad and d.is_leaf
    z = bk.t(np.zeros(6))  # (no gradient until a recorded change through its view)
    zv = z.view(2, 3)
    zv[0] = a[0]
    assert z.requires_grad
    bk.close(vg.autograd.grad(z.sum(), [a])[0].numpy(), [[1.0] * 3, [0.0] * 3])
    c = a * 1.0
    parts = c.tensor_split(2, dim=0)
    c[2:2] = 5.0  # (an empty selection: nothing written; an empty piece's change was an IndexError)
    vg.tensor_split(parts[1][:, 3:], 2, dim=1)[1].clamp_(-0.2, 0.2)
    bk.close(c.numpy(), av)
    with pytest.raises(RuntimeError, match=r"mul_: an in-place change of a view of a leaf tensor that requires grad "
                                           r"\(shape \[2, 3\]\)"):
        a.view(-1).mul_(2.0)


class _ScaledExp(vg.autograd.Function):
    """exp(x) * scale with its own backward (saved output; a non-tensor argument)."""

    @staticmethod
    def forward(ctx, x, scale=1.0):
        y = vg.exp(x) * scale
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y, None


class _RoundSign(vg.autograd.Function):
    """Two outputs, PyTorch 2's setup_context form: a straight-through round and a
    non-differentiable sign."""

    @staticmethod
    def forward(x, k):
        return vg.round(x * k), vg.sign(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.k = inputs[1]
        ctx.mark_non_differentiable(output[1])

    @staticmethod
    def backward(ctx, g, g_sign):
        assert g_sign is not None and not g_sign.numpy().any()  # (materialised zeros)
        return g * ctx.k, None


def test_custom_function(bk):
    """autograd.Function: forward without recording, backward's gradients into the
    graph (checked against finite differences), several outputs, a
    non-differentiable one, needs_input_grad, and clear errors."""
    x = bk.t(np.array([0.3, -1.2, 2.0]), requires_grad=True)
    (_ScaledExp.apply(x, 2.0) * bk.t(np.array([1.0, 2.0, 3.0]))).sum().backward()
    bk.close(x.grad.numpy(), 2 * np.exp(x.numpy().astype(np.float64)) * [1, 2, 3], what="custom backward")
    assert vg.gradcheck(lambda a: _ScaledExp.apply(a * a, 0.5).sum(), [np.array([0.2, -0.4, 0.9])])
    x.grad = None
    r, s = _RoundSign.apply(x, 3.0)
    assert r.requires_grad and not s.requires_grad and s.numpy().tolist() == [1, -1, 1]
    (r * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0, 6.0])

    class ExpArgmax(vg.autograd.Function):  # (an int32 output: its zero gradient made on the device)
        @staticmethod
        def forward(ctx, a):
            i = a.argmax()
            ctx.mark_non_differentiable(i)
            return a.exp(), i

        @staticmethod
        def backward(ctx, g, gi):
            assert gi.dtype == "i32" and gi.item() == 0
            return g * 2.0
    x.grad = None
    e, i = ExpArgmax.apply(x)
    assert i.item() == 2 and not i.requires_grad
    e.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])

    class Bad(vg.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            Bad.seen = ctx.needs_input_grad
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g
    y = bk.t(np.ones(3))
    out = Bad.apply(x, y)
    assert Bad.seen == (True, False)
    with pytest.raises(RuntimeError, match=r"Bad.backward returned 1 gradients, expected one per input of forward \(2"):
        out.sum().backward()

    class WrongShape(Bad):
        @staticmethod
        def backward(ctx, g):
            return g.sum(), None
    with pytest.raises(RuntimeError, match=r"WrongShape.backward: the gradient for an input of shape \[3\] is \[\]"):
        WrongShape.apply(x, y).sum().backward()


def test_autograd_grad(bk):
    """autograd.grad: gradients for leaves and intermediates, several outputs with
    their weights, ``.grad`` untouched, unused inputs, create_graph's second derivative."""
    x = bk.t(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    h = x * 2.0
    (gh, gx) = vg.autograd.grad((h * h).sum(), [h, x])
    bk.close(gh.numpy(), 2 * 2 * np.array([1.0, -2.0, 3.0]), what="intermediate")
    bk.close(gx.numpy(), 8 * np.array([1.0, -2.0, 3.0]), what="leaf")
    assert x.grad is None
    a, b = x * 3.0, x.sum()
    (g,) = vg.autograd.grad([a, b], x, grad_outputs=[bk.t(np.array([1.0, 0.0, 2.0])), None])
    bk.close(g.numpy(), [4.0, 1.0, 7.0], what="two outputs")
    z = bk.t(np.ones(2), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"autograd.grad: input 1 \(shape \[2\]\) is not used by the outputs"):
        vg.autograd.grad((x * x).sum(), [x, z])
    gx, gz = vg.autograd.grad((x * x).sum(), [x, z], allow_unused=True)
    assert gz is None and gx.shape == (3,)
    (g2,) = vg.autograd.grad((x * x * x).sum(), x, create_graph=True)  # 3 x^2, recorded
    (h2,) = vg.autograd.grad(g2.sum(), x)
    bk.close(h2.numpy(), 6 * np.array([1.0, -2.0, 3.0]), what="second derivative")


def test_module_full_backward_hook(bk):
    """register_full_backward_hook: the gradients of the module's inputs and
    outputs (PyTorch's grad_input / grad_output tuples), a returned grad_input
    replacing them, None for an input without a gradient, removable."""
    r = np.random.default_rng(4)
    lin = vg.nn.Linear(4, 3, device=bk.device, dtype=bk.dtype)
    x = bk.t(r.standard_normal((2, 4)), requires_grad=True)
    seen = []
    h = lin.register_full_backward_hook(lambda m, gi, go: seen.append((m, gi, go)))
    y = lin(x)
    (y * y).sum().backward()
    (m, gi, go), = seen
    assert m is lin and len(gi) == 1 and len(go) == 1
    bk.close(go[0].numpy(), 2 * y.numpy().astype(np.float64), what="grad_output")
    bk.close(gi[0].numpy(), x.grad.numpy(), what="grad_input")
    bk.close(gi[0].numpy(), (2 * y.numpy().astype(np.float64)) @ lin.weight.numpy().astype(np.float64), what="dx")
    h.remove()
    with lin.register_full_backward_hook(lambda m, gi, go: (gi[0] * 0.0,)):
        x.grad = None
        lin(x).sum().backward()
        assert not x.grad.numpy().any() and lin.weight.grad is not None
    seen.clear()
    lin.register_backward_hook(lambda m, gi, go: seen.append(gi))
    lin(bk.t(r.standard_normal((2, 4)))).sum().backward()
    assert seen == [(None,)]


def test_autograd_functional(bk):
    """autograd.functional: jacobian (one backward pass per output element), vjp and
    jvp against the closed forms; hessian / hvp / vhp through a recorded gradient."""
    r = np.random.default_rng(15)
    W, x, u, v = r.standard_normal((2, 3)), r.standard_normal(3), r.standard_normal(2), r.standard_normal(3)
    Wt = bk.t(W)

    def f(a):
        return vg.tanh(Wt @ a)
    xr = x.astype(np.float16).astype(np.float64) if bk.dtype == "f16" else x
    want = (1 - np.tanh(W @ xr) ** 2)[:, None] * W
    J = vg.autograd.functional.jacobian(f, bk.t(x))
    assert J.shape == (2, 3)
    bk.close(J.numpy(), want, atol=max(bk.atol, 1e-3), what="jacobian")
    out, g = vg.autograd.functional.vjp(f, bk.t(x), bk.t(u))
    bk.close(g.numpy(), u @ want, atol=max(bk.atol, 1e-3), what="vjp")
    out, jv = vg.autograd.functional.jvp(f, bk.t(x), bk.t(v))
    bk.close(jv.numpy(), want @ v, atol=max(bk.atol, 1e-3), what="jvp")
    Ja, Jb = vg.autograd.functional.jacobian(lambda a, b: (a * b).sum(0), (bk.t(W), bk.t(2 * W)))
    assert Ja.shape == Jb.shape == (3, 2, 3)
    # the Hessian of sum(tanh(W x)): W^T diag(-2 tanh (1 - tanh^2)) W; hvp / vhp its product with v
    t = np.tanh(W @ xr)
    Hw = W.T @ np.diag(-2 * t * (1 - t * t)) @ W
    H = vg.autograd.functional.hessian(lambda a: f(a).sum(), bk.t(x))
    bk.close(H.numpy(), Hw, atol=max(bk.atol, 2e-2), what="hessian")
    _, hv = vg.autograd.functional.hvp(lambda a: f(a).sum(), bk.t(x), bk.t(v))
    bk.close(hv.numpy(), Hw @ v, atol=max(bk.atol, 2e-2), what="hvp")
    _, vh = vg.autograd.functional.vhp(lambda a: f(a).sum(), bk.t(x), bk.t(v))
    bk.close(vh.numpy(), v @ Hw, atol=max(bk.atol, 2e-2), what="vhp")


def test_autograd_functional_create_graph():
    """With create_graph=True the jacobian, vjp, jvp, hessian, hvp and vhp stay
    recorded towards the inputs (PyTorch's): their gradients against float64
    finite differences of the same function."""
    r = np.random.default_rng(16)
    W, x0, v0 = r.standard_normal((3, 3)), r.standard_normal(3), r.standard_normal(3)
    AF = vg.autograd.functional

    def f(a):
        return vg.tanh(vg.tensor(W, dtype="f64", device="cpu") @ a) * a

    def scalar(a):
        return (f(a) * a).sum()
    w = np.cos(np.arange(27.0))
    calls = {"jacobian": lambda a: AF.jacobian(f, a, create_graph=True),
             "vjp": lambda a: AF.vjp(f, a, vg.tensor(v0, device="cpu", dtype="f64"), create_graph=True)[1],
             "jvp": lambda a: AF.jvp(f, a, vg.tensor(v0, device="cpu", dtype="f64"), create_graph=True)[1],
             "hessian": lambda a: AF.hessian(scalar, a, create_graph=True),
             "hvp": lambda a: AF.hvp(scalar, a, vg.tensor(v0, device="cpu", dtype="f64"), create_graph=True)[1],
             "vhp": lambda a: AF.vhp(scalar, a, vg.tensor(v0, device="cpu", dtype="f64"), create_graph=True)[1]}
    for name, call in calls.items():
        def loss(a):
            out = call(a)
            return (out * vg.tensor(w[:out.size].reshape(out.shape), device="cpu", dtype="f64")).sum()
        x = vg.tensor(x0, device="cpu", dtype="f64", requires_grad=True)
        (g,) = vg.autograd.grad(loss(x), [x])
        eps, fd = 1e-6, np.zeros(3)
        for i in range(3):
            hi, lo = x0.copy(), x0.copy()
            hi[i] += eps
            lo[i] -= eps
            fd[i] = (loss(vg.tensor(hi, device="cpu", dtype="f64")).item() - loss(vg.tensor(lo, device="cpu", dtype="f64")).item()) / (2 * eps)
        np.testing.assert_allclose(g.numpy(), fd, rtol=1e-5, atol=1e-7, err_msg=name)
    # without create_graph the results are detached, as PyTorch's
    assert not AF.jacobian(f, vg.tensor(x0, device="cpu", dtype="f64", requires_grad=True)).requires_grad


def test_func_pytrees_per_sample_gradients_ensembles_and_composition():
    """torch.func's idioms: grad of a dict of parameters (a gradient dict back),
    per-sample gradients by vmap(grad(loss), in_dims=(None, 0, 0)) over
    functional_call, an ensemble by stack_module_state + vmap -- each against
    the loop it stands for -- and transforms that compose: jacrev / hessian /
    vjp / vmap(grad) of tensors that require grad are differentiable again
    (their results were detached)."""
    r = np.random.default_rng(5)
    X, Y = r.standard_normal((5, 3)), r.standard_normal(5)
    m = vg.nn.Linear(3, 1, device="cpu", dtype="f64")
    params = {k: v.detach() for k, v in m.named_parameters()}

    def loss(p, xi, yi):
        return ((vg.func.functional_call(m, p, (xi.unsqueeze(0),)).squeeze() - yi) ** 2)
    x, y = vg.tensor(X, device="cpu", dtype="f64"), vg.tensor(Y, device="cpu", dtype="f64")
    per = vg.func.vmap(vg.func.grad(loss), in_dims=(None, 0, 0))(params, x, y)
    assert set(per) == {"weight", "bias"} and per["weight"].shape == (5, 1, 3) and per["bias"].shape == (5, 1)
    W, b = m.weight.numpy(), m.bias.numpy()
    res = X @ W[0] + b[0] - Y
    np.testing.assert_allclose(per["weight"].numpy()[:, 0], 2 * res[:, None] * X, rtol=1e-12)
    np.testing.assert_allclose(per["bias"].numpy()[:, 0], 2 * res, rtol=1e-12)
    g = vg.func.grad(lambda p: sum(loss(p, x[i], y[i]) for i in range(5)))(params)
    np.testing.assert_allclose(g["weight"].numpy(), per["weight"].numpy().sum(0), rtol=1e-12)
    models = [vg.nn.Linear(3, 2, device="cpu", dtype="f64") for _ in range(3)]
    ps, bs = vg.func.stack_module_state(models)
    assert ps["weight"].shape == (3, 2, 3) and ps["weight"].requires_grad and ps["weight"].is_leaf and bs == {}
    out = vg.func.vmap(lambda p, bb, xx: vg.func.functional_call(models[0], (p, bb), (xx,)), in_dims=(0, 0, None))(
        ps, bs, x)
    for k, mk in enumerate(models):
        np.testing.assert_allclose(out.numpy()[k], mk(x).detach().numpy(), rtol=1e-12)
    # composition: a result differentiable towards an outer input, against finite differences
    A = r.standard_normal((4, 3))

    def outer(name, fn, x0):
        def f(a):
            return fn(vg.tensor(a, device="cpu", dtype="f64", requires_grad=True))
        t = vg.tensor(x0, device="cpu", dtype="f64", requires_grad=True)
        out = fn(t)
        assert out.requires_grad, name
        (gx,) = vg.autograd.grad(out.sum(), [t])
        fd = np.array([(f(x0 + e).sum().item() - f(x0 - e).sum().item()) / 2e-6 for e in np.eye(x0.size).reshape(
            (x0.size,) + x0.shape) * 1e-6])
        np.testing.assert_allclose(gx.numpy().reshape(-1), fd, rtol=1e-5, atol=1e-8, err_msg=name)
    At = vg.tensor(A, device="cpu", dtype="f64")
    outer("jacrev", lambda t: vg.func.jacrev(lambda a: At @ a.sin())(t), r.standard_normal(3))
    outer("hessian", lambda t: vg.func.hessian(lambda a: (a.sin() * a ** 2).sum())(t), r.standard_normal(3))
    outer("vjp", lambda t: vg.func.vjp(lambda a: a.tanh() * 2, t)[1](vg.ones(3, device="cpu", dtype="f64"))[0],
          r.standard_normal(3))
    outer("vmap grad", lambda t: vg.func.vmap(vg.func.grad(lambda w, xi: ((xi * w).sum()) ** 2), in_dims=(None, 0))(
        vg.tensor(Y[:3], device="cpu", dtype="f64"), t), r.standard_normal((4, 3)))


def test_func_functional_call_grad_vjp_jacrev_vmap(bk):
    """vkgrad.func: functional_call runs a module with other parameters and buffers
    (gradients to them, the module's own untouched, tied weights shared, strict
    keys), grad / grad_and_value (argnums, has_aux), vjp, jacrev and vmap
    (in_dims / out_dims, tuple outputs) against NumPy."""
    r = np.random.default_rng(31)
    m = vg.nn.Sequential(vg.nn.Linear(3, 4, device=bk.device, dtype=bk.dtype), vg.nn.BatchNorm1d(4, device=bk.device,
                                                                                              dtype=bk.dtype))
    X = r.standard_normal((6, 3))
    W, b = r.standard_normal((4, 3)), r.standard_normal(4)
    own = m[0].weight.numpy().copy()
    w_t, b_t = bk.t(W, requires_grad=True), bk.t(b, requires_grad=True)
    rm = vg.zeros(4, device=bk.device, dtype=m[1].running_mean.dtype)
    out = vg.func.functional_call(m, {"0.weight": w_t, "0.bias": b_t, "1.running_mean": rm}, (bk.t(X),))
    h = X @ W.T + b
    want = (h - h.mean(0)) / np.sqrt(h.var(0) + 1e-5)
    bk.close(out.numpy(), want, atol=max(bk.atol, 1e-2))
    bk.close(rm.numpy(), 0.1 * h.mean(0), atol=max(bk.atol, 1e-2))  # (the given buffer took the update)
    assert np.all(m[1].running_mean.numpy() == 0) and np.array_equal(m[0].weight.numpy(), own)
    (out * bk.t(r.standard_normal((6, 4)))).sum().backward()
    assert w_t.grad is not None and b_t.grad is not None and m[0].weight.grad is None
    assert [n for n, _ in m.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    with pytest.raises(RuntimeError, match=r"functional_call: for Sequential: missing keys \['0.bias'"):
        vg.func.functional_call(m, {"0.weight": w_t}, (bk.t(X),), strict=True)
    tied = vg.nn.Sequential(vg.nn.Linear(3, 3, device=bk.device, dtype=bk.dtype))
    tied.extra = tied[0]  # (the same Linear under two names)
    got = vg.func.functional_call(tied, {"0.weight": bk.t(np.eye(3)), "0.bias": bk.t(np.zeros(3))}, bk.t(X))
    bk.close(got.numpy(), X)
    with pytest.raises(ValueError, match=r"functional_call: got several values for \['0.bias', 'extra.bias'\]"):
        vg.func.functional_call(tied, {"0.bias": bk.t(np.zeros(3)), "extra.bias": bk.t(np.ones(3))}, bk.t(X))

    def f(w, x):
        return (vg.tanh(x @ w) ** 2).sum()
    w = r.standard_normal((3, 2))
    th = np.tanh(X @ w)
    gw = X.T @ (2 * th * (1 - th ** 2))
    bk.close(vg.func.grad(f)(bk.t(w), bk.t(X)).numpy(), gw, atol=max(bk.atol, 2e-2))
    (gw2, gx), val = vg.func.grad_and_value(f, argnums=(0, 1))(bk.t(w), bk.t(X))
    bk.close(gw2.numpy(), gw, atol=max(bk.atol, 2e-2))
    bk.close(gx.numpy(), (2 * th * (1 - th ** 2)) @ w.T, atol=max(bk.atol, 2e-2))
    bk.close(val.numpy(), (th ** 2).sum(), atol=max(bk.atol, 5e-2))
    g, aux = vg.func.grad(lambda w_: (f(w_, bk.t(X)), "aux"), has_aux=True)(bk.t(w))
    assert aux == "aux" and g.shape == (3, 2)
    out, fn = vg.func.vjp(lambda a: a * a, bk.t(np.array([1.0, 2.0, 3.0])))
    assert fn(bk.t(np.ones(3)))[0].numpy().tolist() == [2.0, 4.0, 6.0] == fn(bk.t(np.ones(3)))[0].numpy().tolist()
    J = vg.func.jacrev(lambda a: vg.tanh(a) * 2.0)(bk.t(np.array([0.5, -1.0])))
    bk.close(J.numpy(), np.diag(2 * (1 - np.tanh([0.5, -1.0]) ** 2)), atol=max(bk.atol, 1e-2))
    A, v = r.standard_normal((4, 3)), r.standard_normal(3)
    got = vg.vmap(lambda row, vec: (row * vec).sum(), in_dims=(0, None))(bk.t(A), bk.t(v))
    bk.close(got.numpy(), A @ v, atol=max(bk.atol, 1e-2))
    s, p = vg.vmap(lambda col: (col.sum(), col * 2.0), in_dims=1, out_dims=(0, 1))(bk.t(A))
    bk.close(s.numpy(), A.sum(0), atol=max(bk.atol, 1e-2))
    bk.close(p.numpy(), 2 * A)
    with pytest.raises(ValueError, match=r"vmap: the mapped axes differ in size"):
        vg.vmap(lambda a, c: a + c)(bk.t(A), bk.t(v))
    H = vg.func.hessian(lambda a: (a * a * a).sum())(bk.t(np.array([1.0, -2.0])))
    bk.close(H.numpy(), np.diag([6.0, -12.0]), what="func.hessian")
    gg = vg.func.grad(lambda y: vg.func.grad(lambda a: (a * a * a).sum())(y).sum())(bk.t(np.array([1.0, -2.0])))
    bk.close(gg.numpy(), [6.0, -12.0], what="grad(grad(f))")


def test_func_matches_torch_func_if_available():
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(32)
    X, W = r.standard_normal((5, 3)), r.standard_normal((3, 2))
    m = vg.nn.Linear(3, 2, device="cpu", dtype="f64")
    t = torch.nn.Linear(3, 2).double()
    p = {"weight": W.T.copy(), "bias": r.standard_normal(2)}
    ours = {k: vg.tensor(v, dtype="f64", device="cpu", requires_grad=True) for k, v in p.items()}
    theirs = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
    o = vg.func.functional_call(m, ours, (vg.tensor(X, dtype="f64", device="cpu"),))
    to = torch.func.functional_call(t, theirs, (torch.tensor(X),))
    np.testing.assert_allclose(o.numpy(), to.detach().numpy(), atol=1e-12)
    (o ** 3).sum().backward()
    (to ** 3).sum().backward()
    for k in p:
        np.testing.assert_allclose(ours[k].grad.numpy(), theirs[k].grad.numpy(), atol=1e-12)
    f = (lambda w, x, lib: (lib.sin(x @ w) ** 2).sum())
    g = vg.func.grad(lambda w, x: f(w, x, vg), argnums=(0, 1))(vg.tensor(W, dtype="f64", device="cpu"),
                                                              vg.tensor(X, dtype="f64", device="cpu"))
    tg = torch.func.grad(lambda w, x: f(w, x, torch), argnums=(0, 1))(torch.tensor(W), torch.tensor(X))
    for a, b in zip(g, tg):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-12)
    J = vg.func.jacrev(lambda w: vg.sin(vg.tensor(X, dtype="f64", device="cpu") @ w))(vg.tensor(W, dtype="f64",
                                                                                                device="cpu"))
    tJ = torch.func.jacrev(lambda w: torch.sin(torch.tensor(X) @ w))(torch.tensor(W))
    np.testing.assert_allclose(J.numpy(), tJ.numpy(), atol=1e-12)
    vm = vg.vmap(lambda x: x.outer(x), in_dims=0, out_dims=2)(vg.tensor(X, dtype="f64", device="cpu"))
    tvm = torch.vmap(lambda x: x.outer(x), in_dims=0, out_dims=2)(torch.tensor(X))
    np.testing.assert_allclose(vm.numpy(), tvm.numpy(), atol=1e-12)
    # jvp / linearize (by reverse mode) and jacrev's has_aux: torch.func's (they were missing)
    w64, v64 = vg.tensor(W, dtype="f64", device="cpu"), vg.tensor(np.cos(W), dtype="f64", device="cpu")
    h = (lambda w, lib, x: lib.tanh(x @ w) * w.sum())
    out, jv = vg.func.jvp(lambda w: h(w, vg, vg.tensor(X, dtype="f64", device="cpu")), (w64,), (v64,))
    tout, tjv = torch.func.jvp(lambda w: h(w, torch, torch.tensor(X)), (torch.tensor(W),), (torch.tensor(np.cos(W)),))
    np.testing.assert_allclose(out.numpy(), tout.numpy(), atol=1e-12)
    np.testing.assert_allclose(jv.numpy(), tjv.numpy(), atol=1e-12)
    out, fn = vg.func.linearize(lambda a, b: a * b.sin(), w64, v64)
    tout, tfn = torch.func.linearize(lambda a, b: a * b.sin(), torch.tensor(W), torch.tensor(np.cos(W)))
    np.testing.assert_allclose(fn(v64, w64).numpy(), tfn(torch.tensor(np.cos(W)), torch.tensor(W)).numpy(), atol=1e-12)
    (J, aux) = vg.func.jacrev(lambda w: (w.exp(), w.sum()), has_aux=True)(w64)
    (tJ, taux) = torch.func.jacrev(lambda w: (w.exp(), w.sum()), has_aux=True)(torch.tensor(W))
    np.testing.assert_allclose(J.numpy(), tJ.numpy(), atol=1e-12)
    assert float(aux) == pytest.approx(float(taux))
    with pytest.raises(ValueError, match=r"jvp: tangent 0 must be a tensor of its primal's shape \[3, 2\], got \[2\]"):
        vg.func.jvp(lambda w: w * 2, (w64,), (vg.tensor(np.ones(2), dtype="f64", device="cpu"),))


def test_detect_anomaly_names_the_op_whose_gradient_is_nan(bk):
    """Anomaly mode: backward stops at the first op whose input gradient holds a
    NaN, naming it and the user's line that made it; off by default and after the
    block; set_detect_anomaly / vg.set_anomaly_enabled switch it; check_nan=False
    records without checking."""
    x = bk.t(np.array([1.0, 2.0]), requires_grad=True)
    with vg.autograd.detect_anomaly():
        assert vg.is_anomaly_enabled() and vg.autograd.is_anomaly_enabled()
        z = (vg.sqrt(x - 1.0) * 0.0).sum()  # (sqrt's gradient at 0 is inf: times the 0 coming back, NaN)
        with pytest.raises(RuntimeError, match=r"Function 'sqrt' returned nan values in its 0th output") as e:
            z.backward()
    assert "test_autograd.py" in str(e.value) and not vg.is_anomaly_enabled()
    z = (vg.sqrt(x - 1.0) * 0.0).sum()
    z.backward()  # (not in anomaly mode: the NaN gradient goes through)
    assert np.isnan(x.grad.numpy()[0])
    x.grad = None

    @vg.autograd.detect_anomaly(check_nan=False)
    def step():
        (vg.sqrt(x - 1.0) * 0.0).sum().backward()
    step()
    assert np.isnan(x.grad.numpy()[0])
    vg.set_anomaly_enabled(True)
    try:
        assert vg.is_anomaly_enabled() and vg.is_anomaly_check_nan_enabled()
        with vg.autograd.set_detect_anomaly(False):
            assert not vg.is_anomaly_enabled()
        assert vg.is_anomaly_enabled()
    finally:
        vg.set_anomaly_enabled(False)
    assert vg.autograd.gradcheck(lambda a: (a * a).sum(), [np.array([0.5, -1.0])])


def test_checkpoint_recomputes_with_the_same_gradients(bk):
    """utils.checkpoint: the same outputs and gradients (inputs and the parameters
    the function uses, dropout included: the random state is replayed) as the
    plain run, with no intermediate activation kept in the graph;
    checkpoint_sequential chunks a Sequential the same way."""
    from vkgrad.utils.checkpoint import checkpoint, checkpoint_sequential
    from vkgrad.autograd import _topo
    r = np.random.default_rng(41)
    X = r.standard_normal((5, 4))
    vg.manual_seed(3)
    net = vg.nn.Sequential(vg.nn.Linear(4, 8, device=bk.device, dtype=bk.dtype), vg.nn.Tanh(),
                           vg.nn.Dropout(0.3), vg.nn.Linear(8, 8, device=bk.device, dtype=bk.dtype), vg.nn.GELU(),
                           vg.nn.Linear(8, 2, device=bk.device, dtype=bk.dtype))

    def run(mode):
        for p in net.parameters():
            p.grad = None
        x = bk.t(X, requires_grad=True)
        vg.manual_seed(9)
        if mode == "plain":
            y = net(x)
        elif mode == "checkpoint":
            y = checkpoint(net, x)
            kept = [t.shape for t in _topo(y) if t._node is not None]
            assert (5, 8) not in kept  # (no hidden activation is kept: only the checkpoint's own nodes)
        else:
            y = checkpoint_sequential(net, 3, x)
        (y * y).sum().backward()
        return y.numpy(), x.grad.numpy(), [p.grad.numpy() for p in net.parameters()]
    want = run("plain")
    for mode in ("checkpoint", "sequential"):
        got = run(mode)
        bk.close(got[0], want[0], what=f"{mode} output")
        bk.close(got[1], want[1], what=f"{mode} input grad")
        for a, b in zip(got[2], want[2]):
            bk.close(a, b, what=f"{mode} parameter grad")
    grads = vg.backward((checkpoint(lambda a, b: (a * b).sum() * 2.0, bk.t(X, requires_grad=True),
                                    bk.t(X)) ** 2))  # (a tensor argument without grad, the Gradients dict)
    assert isinstance(grads, vg.Gradients)
    with vg.no_grad():
        assert checkpoint(net, bk.t(X)).shape == (5, 2)
    with pytest.raises(ValueError, match=r"checkpoint_sequential: segments must lie in \[1, 6\], got 9"):
        checkpoint_sequential(net, 9, bk.t(X))


def _gp_problem():
    r = np.random.default_rng(71)
    return (r.standard_normal((6, 3)) * 0.7, r.standard_normal(6) * 0.1, r.standard_normal((1, 6)) * 0.7,
            r.standard_normal((5, 3)))


def _gradient_penalty(lib, W1, b1, W2, X, act):
    """WGAN-GP's penalty mean((||dD/dx|| - 1)^2) of the critic D(x) = W2 act(W1 x + b1)
    (lib: vkgrad or torch), the gradient recorded."""
    x = X
    h = act(x @ W1.T + b1)
    d = (h @ W2.T).sum()
    (gx,) = lib.autograd.grad(d, x, create_graph=True)
    norm = ((gx * gx).sum(1) + 1e-12) ** 0.5
    return ((norm - 1.0) ** 2).mean()


@pytest.mark.parametrize("act", ["tanh", "relu", "sigmoid", "softplus"])
def test_gradient_penalty_backpropagates_through_the_gradient(bk, act):
    """create_graph: a WGAN-GP gradient penalty (the norm of the critic's input
    gradient) differentiated again into the critic's weights, on every backend
    against float64 finite differences of the penalty itself."""
    W1, b1, W2, X = _gp_problem()
    f = {"tanh": vg.tanh, "relu": vg.relu, "sigmoid": vg.sigmoid, "softplus": vg.softplus}[act]

    def penalty(device, dtype, w1, bb, w2, grads=False):
        ps = [vg.tensor(a, device=device, dtype=dtype, requires_grad=grads) for a in (w1, bb, w2)]
        x = vg.tensor(X, device=device, dtype=dtype, requires_grad=True)
        gp = _gradient_penalty(vg, ps[0], ps[1], ps[2], x, f)
        if grads:
            gp.backward()
            return gp.numpy(), [np.zeros(p.shape) if p.grad is None else p.grad.numpy().astype(np.float64)
                                for p in ps]  # (relu's b1: only through the mask, no gradient)
        return float(gp.numpy())
    val, got = penalty(bk.device, bk.dtype, W1, b1, W2, grads=True)
    h = 1e-6
    for i, a in enumerate((W1, b1, W2)):
        fd = np.zeros(a.shape)
        for k in range(a.size):
            up = [w.copy() for w in (W1, b1, W2)]
            dn = [w.copy() for w in (W1, b1, W2)]
            up[i].flat[k] += h
            dn[i].flat[k] -= h
            fd.flat[k] = (penalty("cpu", "f64", *up) - penalty("cpu", "f64", *dn)) / (2 * h)
        scale = max(1.0, float(np.abs(fd).max()))
        bk.close(got[i], fd, atol=(1e-6 if bk.dtype == "f64" else bk.atol * 4) * scale,
                 rtol=max(bk.rtol, 1e-4), what=f"{act} parameter {i}")


class _Cube(vg.autograd.Function):
    """x^3, its backward written in ops (differentiable again)."""
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a * a * a

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * 3.0 * a * a


def test_second_derivatives_through_nn_layers_and_custom_functions(bk):
    """create_graph through nn.Linear / Conv2d / LayerNorm / BatchNorm1d and a custom
    autograd.Function whose backward is written in ops; Tensor.backward(
    create_graph=True) leaves a differentiable .grad (a MAML inner step); an op
    without a differentiable rule is refused by name."""
    r = np.random.default_rng(72)
    net = vg.nn.Sequential(vg.nn.Conv2d(2, 3, 3, padding=1, device=bk.device, dtype=bk.dtype), vg.nn.GELU(),
                           vg.nn.Flatten(), vg.nn.LayerNorm(48, device=bk.device, dtype=bk.dtype),
                           vg.nn.Linear(48, 4, device=bk.device, dtype=bk.dtype),
                           vg.nn.BatchNorm1d(4, device=bk.device, dtype=bk.dtype))
    x = bk.t(r.standard_normal((3, 2, 4, 4)), requires_grad=True)
    (gx,) = vg.autograd.grad((net(x) ** 3).sum(), x, create_graph=True)
    (gx * gx).sum().backward()
    assert all(p.grad is not None and np.isfinite(p.grad.numpy()).all() for p in net.parameters())

    a = bk.t(np.array([1.0, 2.0]), requires_grad=True)
    (ga,) = vg.autograd.grad(_Cube.apply(a).sum(), a, create_graph=True)
    (ha,) = vg.autograd.grad(ga.sum(), a)
    bk.close(ha.numpy(), [6.0, 12.0], what="custom Function's second derivative")
    w = bk.t(np.array([0.5, -1.0]), requires_grad=True)
    loss = ((w * w * w).sum() - 1.0) ** 2
    loss.backward(create_graph=True)
    fast = w - w.grad * 0.1  # (one inner step; its outer gradient goes through w.grad)
    (outer,) = vg.autograd.grad((fast * fast).sum(), w)
    W = np.array([0.5, -1.0])
    g1 = 2 * ((W ** 3).sum() - 1) * 3 * W ** 2
    H = 2 * np.outer(3 * W ** 2, 3 * W ** 2) + 2 * ((W ** 3).sum() - 1) * np.diag(6 * W)
    want = 2 * (W - 0.1 * g1) @ (np.eye(2) - 0.1 * H)
    bk.close(outer.numpy(), want, atol=max(bk.atol, 2e-3), what="MAML outer gradient")
    emb = vg.nn.Embedding(5, 2, device=bk.device, dtype=bk.dtype)
    e = (emb(np.array([1, 3, 3])) ** 3).sum()
    (ge,) = vg.autograd.grad(e, emb.weight, create_graph=True)
    (he,) = vg.autograd.grad(ge.sum(), emb.weight)
    Wv = emb.weight.numpy().astype(np.float64)
    bk.close(he.numpy(), 6 * Wv * np.array([0, 1, 0, 2, 0])[:, None], atol=max(bk.atol, 1e-2), what="embedding")
    xp = bk.t(r.standard_normal((1, 2, 4, 4)), requires_grad=True)
    (gp,) = vg.autograd.grad((vg.max_pool2d(xp * xp * xp, 2) ** 2).sum(), xp, create_graph=True)
    (hp,) = vg.autograd.grad(gp.sum(), xp)
    X3 = xp.numpy().astype(np.float64)
    win = X3 ** 3
    chosen = (win == np.maximum.reduceat(np.maximum.reduceat(win, [0, 2], 2), [0, 2], 3).repeat(2, 2).repeat(2, 3))
    # d/dx of 2 x^3 * 3 x^2 at the chosen taps: 30 x^4
    bk.close(hp.numpy(), np.where(chosen, 30 * X3 ** 4, 0.0), atol=max(bk.atol, 5e-2), rtol=max(bk.rtol, 1e-2),
             what="max_pool2d second derivative")
    y = vg.lp_pool2d(bk.t(np.abs(r.standard_normal((1, 1, 4, 4))) + 0.5, requires_grad=True), 3.0, 2)
    (gl,) = vg.autograd.grad(y.sum(), [t for t in vg.autograd._topo(y) if t._node is None][0], create_graph=True)
    assert gl.shape == (1, 1, 4, 4) and gl.requires_grad  # (lp_pool: composed of the average pool)
    for cls in (vg.nn.GRU, vg.nn.LSTM):  # (the recurrence's twin in recorded ops)
        rnn = cls(2, 3, device=bk.device, dtype=bk.dtype)
        xs = bk.t(r.standard_normal((4, 2, 2)), requires_grad=True)
        out = rnn(xs)[0]
        (plain,) = vg.autograd.grad((out ** 2).sum(), xs, retain_graph=True)
        (g_r,) = vg.autograd.grad((out ** 2).sum(), xs, create_graph=True)
        bk.close(g_r.numpy(), plain.numpy(), atol=max(bk.atol, 1e-3), what=f"{cls.__name__} recorded gradient")
        (h_r,) = vg.autograd.grad((g_r * g_r).sum(), rnn.weight_hh_l0)
        assert h_r.shape == rnn.weight_hh_l0.shape and np.isfinite(h_r.numpy()).all()
    xs = bk.t(r.standard_normal((4, 2, 2)), requires_grad=True)
    hn = rnn(vg.nn.utils.rnn.pack_padded_sequence(xs, [4, 2]))[1][0]  # (packed: the masked steps carry the state)
    (plain,) = vg.autograd.grad((hn ** 3).sum(), xs, retain_graph=True)
    (g_r,) = vg.autograd.grad((hn ** 3).sum(), xs, create_graph=True)
    bk.close(g_r.numpy(), plain.numpy(), atol=max(bk.atol, 1e-3), what="packed LSTM recorded gradient")
    assert not g_r.numpy()[2:, 1].any()  # (the second row's steps past its length get nothing)
    xu = vg.tensor(r.standard_normal((1, 2, 4, 4)), dtype="f64", device="cpu", requires_grad=True)

    def unpooled(x):  # (max_unpool2d's gradient gathers at the indices: differentiable again)
        v, i = vg.max_pool2d(x, 2, return_indices=True)
        return (vg.max_unpool2d(v * v, i, 2) ** 2).sum()
    assert vg.autograd.gradgradcheck(unpooled, (xu,))


def test_gradgradcheck_passes_and_catches_a_wrong_second_derivative():
    from vkgrad.ops._core import make
    assert vg.autograd.gradgradcheck(lambda x: (vg.sigmoid(x) * vg.exp(x) + vg.log1p(x * x)).sum(),
                                     [np.array([0.3, -0.5, 1.2])])
    assert vg.autograd.gradgradcheck(lambda x, w: vg.tanh(x @ w).sum(), [np.ones((2, 3)) * 0.5,
                                                                        np.array([[0.1], [-0.4], [0.7]])])

    def square_with_a_wrong_vjp(x):
        be = x.backend
        return make(be.binary("mul", x.handle, x.handle), be, (x,), lambda g: (be.binary("mul", g, be.unary(
            "affine", x.handle, 2.0, 0.0)),), vjp=lambda g: (g * 3.0,))  # (d/dx x^2 is 2x, not 3)
    with pytest.raises(AssertionError, match="gradgradcheck: input 0 element"):
        vg.autograd.gradgradcheck(lambda x: square_with_a_wrong_vjp(x).sum(), [np.array([0.5, 1.5])])


def test_second_derivatives_match_torch_if_available():
    """Gradient penalties and Hessians against PyTorch's in f64."""
    torch = pytest.importorskip("torch")
    W1, b1, W2, X = _gp_problem()
    for act, tact in (("tanh", torch.tanh), ("softplus", torch.nn.functional.softplus),
                      ("gelu", torch.nn.functional.gelu)):
        ps = [vg.tensor(a, device="cpu", dtype="f64", requires_grad=True) for a in (W1, b1, W2)]
        tps = [torch.tensor(a, requires_grad=True) for a in (W1, b1, W2)]
        gp = _gradient_penalty(vg, *ps, vg.tensor(X, device="cpu", dtype="f64", requires_grad=True),
                               getattr(vg, act))
        tgp = _gradient_penalty(torch, *tps, torch.tensor(X, requires_grad=True), tact)
        gp.backward()
        tgp.backward()
        np.testing.assert_allclose(gp.numpy(), tgp.detach().numpy(), rtol=1e-12)
        for p, q in zip(ps, tps):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=act)
    r = np.random.default_rng(73)
    idx = np.array([[0, 2, 1], [2, 2, 0]])
    for fn, tfn, a in ((lambda x: vg.gather(x, 1, idx), lambda x: torch.gather(x, 1, torch.tensor(idx)),
                        r.standard_normal((2, 3))),
                       (lambda x: vg.conv2d(x, vg.tensor(np.ones((2, 1, 2, 2)) * 0.3, device="cpu", dtype="f64")),
                        lambda x: torch.nn.functional.conv2d(x, torch.ones(2, 1, 2, 2, dtype=torch.float64) * 0.3),
                        r.standard_normal((1, 1, 3, 3))),
                       (lambda x: vg.layer_norm(x, (3,)), lambda x: torch.nn.functional.layer_norm(x, (3,)),
                        r.standard_normal((2, 3))),
                       (lambda x: vg.sort(x, 1)[0] * vg.arange(4, dtype="f64", device="cpu") + vg.topk(x, 2)[0].sum(),
                        lambda x: torch.sort(x, 1)[0] * torch.arange(4, dtype=torch.float64) + torch.topk(x, 2)[0].sum(),
                        r.standard_normal((3, 4))),
                       (lambda x: vg.max_pool2d(x * x * x, 3, 1, 1), lambda x: torch.nn.functional.max_pool2d(
                           x * x * x, 3, 1, 1), r.standard_normal((1, 2, 5, 5))),
                       (lambda x: vg.chunk(x, 3, 1)[0] * vg.split(x, [1, 2], 1)[1][:, :1] + vg.pad(x, (1, 0))[:, :1],
                        lambda x: torch.chunk(x, 3, 1)[0] * torch.split(x, [1, 2], 1)[1][:, :1]
                        + torch.nn.functional.pad(x, (1, 0))[:, :1], r.standard_normal((2, 3)))):
        x, tx = vg.tensor(a, device="cpu", dtype="f64", requires_grad=True), torch.tensor(a, requires_grad=True)
        (g,) = vg.autograd.grad((fn(x) ** 3).sum(), x, create_graph=True)
        (tg,) = torch.autograd.grad((tfn(tx) ** 3).sum(), tx, create_graph=True)
        (h,) = vg.autograd.grad((g * g).sum(), x)
        (th,) = torch.autograd.grad((tg * tg).sum(), tx)
        np.testing.assert_allclose(h.numpy(), th.numpy(), rtol=1e-9, atol=1e-10)
    torch.manual_seed(0)
    for mode in ("LSTM", "GRU"):  # (packed sequences: masked steps)
        tm = getattr(torch.nn, mode)(3, 4, bidirectional=True).double()
        vm = getattr(vg.nn, mode)(3, 4, bidirectional=True, device="cpu", dtype="f64")
        vm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
        X = r.standard_normal((5, 3, 3))
        x, tx = vg.tensor(X, dtype="f64", device="cpu", requires_grad=True), torch.tensor(X, requires_grad=True)
        vo = vg.nn.utils.rnn.pad_packed_sequence(vm(vg.nn.utils.rnn.pack_padded_sequence(x, [5, 3, 2]))[0])[0]
        to = torch.nn.utils.rnn.pad_packed_sequence(tm(torch.nn.utils.rnn.pack_padded_sequence(tx, [5, 3, 2]))[0])[0]
        (g,) = vg.autograd.grad((vo ** 2).sum(), x, create_graph=True)
        (tg,) = torch.autograd.grad((to ** 2).sum(), tx, create_graph=True)
        (g * g).sum().backward()
        (tg * tg).sum().backward()
        for p, q in zip(vm.parameters(), tm.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=1e-12, err_msg=f"packed {mode}")
    for mode, kw in (("LSTM", {}), ("GRU", {}), ("RNN", {}), ("LSTM", {"proj_size": 2})):
        tm = getattr(torch.nn, mode)(3, 4, num_layers=2, bidirectional=True, **kw).double()
        vm = getattr(vg.nn, mode)(3, 4, num_layers=2, bidirectional=True, device="cpu", dtype="f64", **kw)
        vm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
        X = r.standard_normal((5, 2, 3))
        x, tx = vg.tensor(X, dtype="f64", device="cpu", requires_grad=True), torch.tensor(X, requires_grad=True)
        (g,) = vg.autograd.grad((vm(x)[0] ** 2).sum(), x, create_graph=True)
        (tg,) = torch.autograd.grad((tm(tx)[0] ** 2).sum(), tx, create_graph=True)
        (g * g).sum().backward()
        (tg * tg).sum().backward()
        for p, q in zip(vm.parameters(), tm.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=1e-12, err_msg=f"{mode} {kw}")
    x0, A = r.standard_normal(4), r.standard_normal((3, 4))
    H = vg.autograd.functional.hessian(lambda x: vg.log_softmax(vg.tensor(A, device="cpu", dtype="f64") @ x, 0)[0],
                                       vg.tensor(x0, device="cpu", dtype="f64"))
    tH = torch.autograd.functional.hessian(lambda x: torch.log_softmax(torch.tensor(A) @ x, 0)[0], torch.tensor(x0))
    np.testing.assert_allclose(H.numpy(), tH.numpy(), atol=1e-12)


def test_once_differentiable_refuses_gradients_of_gradients(bk):
    """A Function whose backward is once_differentiable (PyTorch's decorator; the
    host-computed gradients inside vkgrad: incomplete gamma, gamma draws, SyncBatchNorm)
    gives its first gradient and refuses create_graph by name, never a second
    derivative that misses its terms."""
    class Cube(_Cube):  # (its backward written in ops, so without the decorator it would differentiate)
        backward = staticmethod(vg.autograd.function.once_differentiable(_Cube.backward))
    x = bk.t(np.array([1.0, 2.0]), requires_grad=True)
    (g,) = vg.autograd.grad(Cube.apply(x).sum(), x)
    bk.close(g.numpy(), [3.0, 12.0])
    with pytest.raises(NotImplementedError, match=r"backward\(create_graph=True\): the op 'Cube' \(output shape"):
        vg.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    a = bk.t(np.array([2.0, 3.0]), requires_grad=True)
    with pytest.raises(NotImplementedError, match=r"backward\(create_graph=True\): the op 'StandardGamma'"):
        vg.autograd.grad(vg.distributions.Gamma(a, 1.0).rsample().sum(), a, create_graph=True)
    with pytest.raises(NotImplementedError, match=r"backward\(create_graph=True\): the op 'gammainc'"):
        vg.autograd.grad(vg.special.gammainc(2.0, a).sum(), a, create_graph=True)
    assert vg.autograd.function.Function is vg.autograd.Function


def test_torch_autograd_backward_accumulates_into_grad(bk):
    """vg.autograd.backward is PyTorch's torch.autograd.backward: one tensor or several
    (with grad_tensors), accumulated into .grad, None returned -- it was ggmlR's
    vg.backward under that name, which returns the gradients and leaves .grad alone,
    so a PyTorch loop calling it stepped on no gradient, silently. vg.backward is
    still ggmlR's."""
    x = bk.t(np.array([1.0, 2.0]), requires_grad=True)
    assert vg.autograd.backward((x * x).sum()) is None
    bk.close(x.grad.numpy(), [2.0, 4.0])
    y, z = x * 3.0, (x * x).sum()
    vg.autograd.backward([y, z], [bk.t(np.array([1.0, 0.5])), None])
    bk.close(x.grad.numpy(), [2.0 + 3.0 + 2.0, 4.0 + 1.5 + 4.0])
    with pytest.raises(ValueError, match="backward: 1 grad_tensors for 2 tensors"):
        vg.autograd.backward([y, z], [None])
    w = vg.Parameter(np.array([1.0, -1.0]), name="w", dtype=bk.dtype, device=bk.device)
    grads = vg.backward((w * w).sum())
    assert w.grad is None and "w" in grads
    bk.close(grads["w"].numpy(), [2.0, -2.0])


def test_empty_selections_have_zero_gradients(bk):
    """An empty basic-index slice's gradient is zeros -- on Vulkan it was a reused
    memory block's bits (no dispatch binds an empty gradient: 7.0s from a freed
    tensor came back) -- as are an empty gather's and a cat's with an empty piece."""
    for _ in range(3):
        junk = bk.t(np.full((3, 1, 4), 7.0)) * 1.0
        del junk
    x = bk.t(np.ones((3, 1, 4)), requires_grad=True)
    (x[1::2, 1::2, 1::2] + 1).sum().backward()
    assert x.grad.numpy().tolist() == np.zeros((3, 1, 4)).tolist()
    x.grad = None
    out = x.gather(2, bk.t(np.zeros((3, 1, 0)), dtype="i32"))
    assert out.shape == (3, 1, 0) and out.requires_grad
    out.sum().backward()
    assert x.grad.numpy().tolist() == np.zeros((3, 1, 4)).tolist()
    c = vg.cat([x, x[:0], 2 * x], 0)
    bk.close(c.numpy(), np.concatenate([np.ones((3, 1, 4)), 2 * np.ones((3, 1, 4))]))
