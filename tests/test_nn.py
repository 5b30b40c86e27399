import io
import math

import numpy as np
import pytest

import vkgrad as vg
from vkgrad import nn


def test_linear_matches_numpy_and_torch_init_bounds(bk):
    vg.manual_seed(0)
    lin = nn.Linear(5, 3, activation="tanh", device=bk.device, dtype=bk.dtype)
    W, b = lin.weight.numpy().astype(np.float64), lin.bias.numpy().astype(np.float64)
    assert W.shape == (3, 5) and b.shape == (3,)
    assert np.abs(W).max() <= 1 / np.sqrt(5) and np.abs(b).max() <= 1 / np.sqrt(5)
    x = np.random.default_rng(1).standard_normal((4, 5))
    xr = x.astype(np.float16).astype(np.float64) if bk.dtype == "f16" else x
    bk.close(lin(bk.t(x)).numpy(), np.tanh(xr @ W.T + b))


def test_manual_seed_reproducible():
    vg.manual_seed(3)
    a = nn.Linear(4, 4).weight.numpy()
    vg.manual_seed(3)
    assert np.array_equal(a, nn.Linear(4, 4).weight.numpy())


def test_batchnorm_train_eval_and_running_stats(bk):
    bn = nn.BatchNorm1d(4, momentum=0.1, device=bk.device, dtype=bk.dtype)
    x = np.random.default_rng(2).standard_normal((8, 4)) * 3 + 1
    xr = x.astype(np.float16).astype(np.float64) if bk.dtype == "f16" else x
    y = bn(bk.t(x)).numpy()
    bk.close(y, (xr - xr.mean(0)) / np.sqrt(xr.var(0) + 1e-5), what="train output")
    rm = 0.1 * xr.mean(0)
    rv = 0.9 + 0.1 * xr.var(0, ddof=1)
    bk.close(bn.running_mean.numpy(), rm, what="running mean")
    bk.close(bn.running_var.numpy(), rv, what="running var")
    bn.eval()
    ye = bn(bk.t(x)).numpy()
    bk.close(ye, (xr - rm) / np.sqrt(rv + 1e-5), what="eval output")


def test_batchnorm_gradients_all_three_inputs():
    def f(x, g, b):
        return vg.batch_norm(x, None, None, g, b, training=True) ** 2
    r = np.random.default_rng(4)
    assert vg.gradcheck(f, [r.standard_normal((6, 3)), r.uniform(0.5, 1.5, 3), r.standard_normal(3)])


def test_batchnorm_matches_torch_if_available():
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(5)
    x = r.standard_normal((10, 4))
    g = r.standard_normal((10, 4))
    bn = nn.BatchNorm1d(4)
    xt = vg.tensor(x, requires_grad=True)
    bn(xt).backward(g)
    tb = torch.nn.BatchNorm1d(4).double()
    xx = torch.tensor(x, requires_grad=True)
    tb(xx).backward(torch.tensor(g))
    np.testing.assert_allclose(xt.grad.numpy(), xx.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.weight.grad.numpy() if bn.weight.grad is not None else 0,
                               tb.weight.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.running_var.numpy(), tb.running_var.numpy(), rtol=1e-5)


def test_batchnorm_without_affine_parameters(bk):
    """PyTorch's affine=False and F.batch_norm(x, ..., weight=None, bias=None): a
    scale of 1 and a shift of 0 without gradients; eval without running statistics
    is an error naming what is missing."""
    r = np.random.default_rng(6)
    x = r.standard_normal((9, 5)) * 2 + 3
    xr = x.astype(np.float16).astype(np.float64) if bk.dtype == "f16" else x
    bn = nn.BatchNorm1d(5, affine=False, device=bk.device, dtype=bk.dtype)
    assert bn.weight is None and bn.bias is None and list(bn.parameters()) == []
    assert sorted(bn.state_dict()) == ["num_batches_tracked", "running_mean", "running_var"]
    assert "affine=False" in repr(bn)
    xt = bk.t(x, requires_grad=True)
    y = bn(xt)
    bk.close(y.numpy(), (xr - xr.mean(0)) / np.sqrt(xr.var(0) + 1e-5), what="train output")
    g = r.standard_normal((9, 5))
    y.backward(bk.t(g))
    # dx of y = (x - mean) * invstd through the batch statistics
    inv = 1 / np.sqrt(xr.var(0) + 1e-5)
    xh = (xr - xr.mean(0)) * inv
    gr = g.astype(np.float16).astype(np.float64) if bk.dtype == "f16" else g
    want = inv * (gr - gr.mean(0) - xh * (gr * xh).mean(0))
    bk.close(xt.grad.numpy(), want, what="dx")
    y2 = vg.batch_norm(bk.t(x), None, None, training=True)  # functional, no weight or bias
    bk.close(y2.numpy(), y.numpy(), what="functional")
    with pytest.raises(ValueError, match=r"batch_norm: eval mode \(training=False\) needs running_mean and running_var"):
        vg.batch_norm(bk.t(x), None, None)
    with pytest.raises(ValueError, match="give both running_mean and running_var"):
        vg.batch_norm(bk.t(x), bn.running_mean, None, training=True)
    with pytest.raises(ValueError, match=r"batch_norm: running_var must be 1-d \[channels\], got \[5, 1\]"):
        vg.batch_norm(bk.t(x), bn.running_mean, bk.t(np.ones((5, 1))), training=True)


def test_batchnorm_without_affine_matches_torch_if_available():
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(7)
    x, g = r.standard_normal((10, 4)), r.standard_normal((10, 4))
    bn = nn.BatchNorm1d(4, affine=False)
    xt = vg.tensor(x, requires_grad=True)
    bn(xt).backward(g)
    tb = torch.nn.BatchNorm1d(4, affine=False).double()
    xx = torch.tensor(x, requires_grad=True)
    tb(xx).backward(torch.tensor(g))
    np.testing.assert_allclose(xt.grad.numpy(), xx.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.running_mean.numpy(), tb.running_mean.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(bn.running_var.numpy(), tb.running_var.numpy(), rtol=1e-5)


def test_dropout_module_train_eval(bk):
    d = nn.Dropout(0.5)
    x = bk.t(np.ones((20, 20)))
    assert (d(x).numpy() == 0).any()
    d.eval()
    assert np.array_equal(d(x).numpy(), x.numpy())


def test_sequential_iris_model_structure():
    model = nn.Sequential(nn.Linear(4, 64, activation="relu"), nn.BatchNorm1d(64), nn.Dropout(0.3),
                          nn.Linear(64, 32, activation="relu"), nn.Linear(32, 3))
    assert len(model.parameters()) == 8
    assert len(model) == 5 and isinstance(model[1], nn.BatchNorm1d)
    model.eval()
    assert not model[2].training
    model.train()
    assert model[2].training
    assert "Linear(in_features=4, out_features=64, bias=True, activation='relu')" in repr(model)


def test_reprs_and_pool_strides_are_pytorchs():
    """A printed model reads as PyTorch's (strings recorded from PyTorch 2.13); a
    pool's stride attribute is its kernel size when not given, as PyTorch's."""
    want = {nn.MaxPool2d(2, return_indices=True): "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, "
                                                  "ceil_mode=False)",
            nn.MaxPool3d(3, 1): "MaxPool3d(kernel_size=3, stride=1, padding=0, dilation=1, ceil_mode=False)",
            nn.AvgPool2d(2, ceil_mode=True): "AvgPool2d(kernel_size=2, stride=2, padding=0)",
            nn.Dropout(0.1): "Dropout(p=0.1, inplace=False)", nn.Dropout2d(): "Dropout2d(p=0.5, inplace=False)",
            nn.Embedding(5, 3, max_norm=1.0, scale_grad_by_freq=True):
                "Embedding(5, 3, max_norm=1.0, scale_grad_by_freq=True)",
            nn.Embedding(5, 3, padding_idx=0): "Embedding(5, 3, padding_idx=0)"}
    for m, text in want.items():
        assert repr(m) == text
    assert nn.MaxPool1d(3).stride == 3 and nn.AvgPool3d(2, 1).stride == 1


def test_state_dict_roundtrip_and_errors(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    sd = model.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                        "1.num_batches_tracked"]
    path = tmp_path / "m.npz"
    vg.save(model, path)
    other = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    vg.load(path, other)
    for k, v in other.state_dict().items():
        np.testing.assert_array_equal(v, sd[k])
    bad = dict(sd)
    bad["0.weight"] = np.zeros((5, 3))
    with pytest.raises(ValueError, match=r"'0.weight' has shape \[5, 3\].*expected \[4, 3\]"):
        other.load_state_dict(bad)
    bad = dict(sd)
    bad["extra"] = bad.pop("0.bias")
    with pytest.raises(KeyError, match=r"missing keys \['0.bias'\].*unexpected keys \['extra'\]"):
        other.load_state_dict(bad)
    assert set(vg.load(path)) == set(sd)
    # PyTorch's keywords accepted (nothing is unpickled either way)
    loaded = vg.load(path, map_location="cpu", weights_only=True)
    other.load_state_dict(loaded)
    np.testing.assert_array_equal(other.state_dict()["0.weight"], sd["0.weight"])


def test_nn_data_parallel_wraps_a_module_on_one_device(bk):
    """PyTorch's nn.DataParallel(model) on one device runs the module (its outputs and
    gradients), its state dict under module.*; several devices are refused with a
    pointer to vkgrad.parallel.DataParallel."""
    inner = nn.Linear(3, 2, device=bk.device, dtype=bk.dtype)
    m = nn.DataParallel(inner, device_ids=[0])
    x = bk.t(np.arange(6.0).reshape(2, 3))
    bk.close(m(x).numpy(), inner(x).numpy(), what="outputs")
    m(x).sum().backward()
    assert inner.weight.grad is not None and list(m.state_dict()) == ["module.weight", "module.bias"]
    with pytest.raises(NotImplementedError, match=r"vkgrad.parallel.DataParallel\(model, devices\)"):
        nn.DataParallel(inner, device_ids=[0, 1])


def test_functional_softmax_family_takes_pytorchs_signature():
    """F.softmax / log_softmax / softmin(input, dim, _stacklevel, dtype): the legacy
    third positional skipped, dtype fourth, dim None PyTorch's implicit axis."""
    F = vg.nn.functional
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    t = vg.tensor(x, device="cpu")
    want = x - np.log(np.exp(x).sum(1, keepdims=True))
    np.testing.assert_allclose(F.log_softmax(t, 1, 3, None).numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(F.log_softmax(t).numpy(), x - np.log(np.exp(x).sum(0, keepdims=True)), rtol=1e-5,
                               atol=1e-6)  # (3-d: PyTorch's implicit axis 0)
    assert F.softmax(t, 1, 3, vg.float16).dtype == "f16" and F.softmax(t, dim=-1, dtype="f64").dtype == "f64"
    np.testing.assert_allclose(F.softmin(t, axis=2).numpy().sum(2), np.ones((2, 3)), rtol=1e-5)


def test_functional_losses_take_pytorchs_positional_signatures():
    """F.<loss> with PyTorch's whole positional signature -- the deprecated
    size_average / reduce in their places, folded into reduction as PyTorch folds
    them (old code's size_average=False is a sum) -- against PyTorch's values."""
    torch = pytest.importorskip("torch")
    import vkgrad.nn.functional as F
    TF = torch.nn.functional
    r = np.random.default_rng(4)
    x, y, w = r.standard_normal((4, 5)), r.integers(0, 5, 4), r.uniform(0.5, 1.5, 5)
    p, q = 1 / (1 + np.exp(-x)), r.uniform(0.1, 0.9, (4, 5))
    cases = [("cross_entropy", (x, y, w, None, 2, None, "sum", 0.1)), ("nll_loss", (x, y, w, None, 3, None, "sum")),
             ("mse_loss", (x, q, None, None, "sum")), ("l1_loss", (x, q, None, False)),
             ("smooth_l1_loss", (x, q, None, None, "mean", 0.3)), ("binary_cross_entropy", (p, q, None, False)),
             ("binary_cross_entropy_with_logits", (x, q, None, None, None, "sum", w)),
             ("kl_div", (x, q, None, None, "batchmean")), ("soft_margin_loss", (x, np.sign(q - 0.5), True, True)),
             ("multi_margin_loss", (x, y, 1, 0.5, w, None, None, "sum"))]
    for name, args in cases:
        ours = getattr(F, name)(*[vg.tensor(a, device="cpu", dtype="i32" if a.dtype.kind == "i" else "f64")
                                  if isinstance(a, np.ndarray) else a for a in args])
        theirs = getattr(TF, name)(*[torch.tensor(a) if isinstance(a, np.ndarray) else a for a in args])
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10, err_msg=name)
    got = F.binary_cross_entropy(vg.tensor(p, device="cpu"), vg.tensor(q, device="cpu"), size_average=False)
    assert abs(got.item() - TF.binary_cross_entropy(torch.tensor(p), torch.tensor(q), reduction="sum").item()) < 1e-3
    with pytest.raises(TypeError, match="mse_loss: got reduction twice"):
        F.mse_loss(vg.tensor(x), vg.tensor(q), None, None, "sum", reduction="mean")
    a = vg.tensor([1.0, 2.0], device="cpu")
    assert vg.add(a, a, alpha=2).tolist() == [3.0, 6.0] and a.sub(a, alpha=0.5).tolist() == [0.5, 1.0]


def test_save_writes_pytorch_checkpoints(tmp_path, bk):
    """vg.save(..., format="torch") writes torch.save's zip without PyTorch: torch.load
    reads it (weights_only=True too) -- a vkgrad model's weights into the same PyTorch
    layers give its outputs --, and vg.load reads it back; dicts, lists, tuples,
    numbers and strings kept, every dtype's tensors and arrays as PyTorch tensors."""
    import io
    torch = pytest.importorskip("torch")
    vg.manual_seed(3)
    vm = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2)).to(bk.device, dtype=bk.dtype)
    vm(bk.t(np.random.default_rng(5).standard_normal((6, 3))))  # (running statistics)
    vm.eval()
    obj = {"model": vm.state_dict(), "epoch": 7, "hist": [0.5, 0.25], "tag": "best",
           "pair": (vg.ones(2, device=bk.device), 3), "ids": vg.tensor([[1, 2], [3, 4]], device=bk.device),
           "f64": np.arange(3.0), "mask": np.array([True, False])}
    vg.save(obj, tmp_path / "v.pt", format="torch")
    got = torch.load(tmp_path / "v.pt", weights_only=True)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    tm.load_state_dict({k: v.float() for k, v in got["model"].items()})
    tm.eval()
    x = np.random.default_rng(6).standard_normal((5, 3))
    bk.close(vm(bk.t(x)).numpy(), tm(torch.tensor(x, dtype=torch.float32)).detach().numpy(), what="torch model")
    assert got["epoch"] == 7 and got["hist"] == [0.5, 0.25] and got["tag"] == "best" and got["pair"][1] == 3
    assert got["ids"].dtype == torch.int32 and got["ids"].tolist() == [[1, 2], [3, 4]]
    assert got["f64"].dtype == torch.float64 and got["mask"].dtype == torch.bool
    back = vg.load(tmp_path / "v.pt")
    assert back["epoch"] == 7 and back["ids"].tolist() == [[1, 2], [3, 4]] and set(back["model"]) == set(got["model"])
    buf = io.BytesIO()  # (a file object, as torch.save takes)
    vg.save(vm, buf, format="torch")
    buf.seek(0)
    assert set(torch.load(buf, weights_only=True)) == set(vm.state_dict())
    with pytest.raises(ValueError, match="save: format must be 'npz' or 'torch', got 'pt'"):
        vg.save(vm, tmp_path / "x", format="pt")


def test_load_reads_pytorch_checkpoints(tmp_path, bk):
    """vg.load reads torch.save's zip files without PyTorch: tensors as arrays (every
    dtype, strided ones, bfloat16 widened), the dicts, lists, numbers and strings
    around them -- a PyTorch model's weights into the same vkgrad layers give its
    outputs; anything else pickled (a whole Module) is refused, as weights_only."""
    torch = pytest.importorskip("torch")
    tm = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3), torch.nn.ReLU(), torch.nn.Flatten(),
                             torch.nn.Linear(12, 4))
    tm(torch.randn(4, 2, 4, 4))  # (running statistics, num_batches_tracked)
    tm.eval()
    extra = {"half": torch.arange(6, dtype=torch.float16).reshape(2, 3).t(), "bf16": torch.tensor([1.5, -2.25],
             dtype=torch.bfloat16), "i64": torch.arange(3), "mask": torch.tensor([True, False]),
             "f64": torch.ones(2, dtype=torch.float64) / 3}
    opt = torch.optim.Adam(tm.parameters())
    tm(torch.randn(2, 2, 4, 4)).sum().backward()
    opt.step()
    torch.save({"model": tm.state_dict(), "extra": extra, "opt": opt.state_dict(), "epoch": 7, "tag": "best",
                "hist": [0.5, 0.25]}, tmp_path / "ck.pt")
    ck = vg.load(tmp_path / "ck.pt", map_location="cpu")
    assert ck["epoch"] == 7 and ck["tag"] == "best" and ck["hist"] == [0.5, 0.25]
    for k, v in extra.items():
        np.testing.assert_array_equal(ck["extra"][k], v.float().numpy() if k == "bf16" else v.numpy(), err_msg=k)
    assert ck["opt"]["param_groups"][0]["betas"] == (0.9, 0.999)
    np.testing.assert_array_equal(ck["opt"]["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"].numpy())
    vm = vg.nn.Sequential(vg.nn.Conv2d(2, 3, 3), vg.nn.BatchNorm2d(3), vg.nn.ReLU(), vg.nn.Flatten(),
                          vg.nn.Linear(12, 4)).to(bk.device, bk.dtype)
    torch.save(tm.state_dict(), tmp_path / "sd.pt")
    assert vg.load(tmp_path / "sd.pt", vm) is vm
    vm.eval()
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 4))
    bk.close(vm(bk.t(x)).numpy(), tm(torch.tensor(x, dtype=torch.float32)).detach().numpy(), what="outputs")
    assert int(vm[1].num_batches_tracked) == 1
    buf = io.BytesIO()
    torch.save(tm.state_dict(), buf)
    buf.seek(0)
    assert vg.load(buf, vm) is vm  # (a file object too)
    torch.save(tm, tmp_path / "whole.pt")
    with pytest.raises(Exception, match=r"load: torch.nn.modules.container.Sequential in .* only weights are read"):
        vg.load(tmp_path / "whole.pt")
    torch.save(tm.state_dict(), tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(ValueError, match=r"is a pickle \(PyTorch's legacy torch.save format"):
        vg.load(tmp_path / "legacy.pt")


def test_state_dicts_interchange_with_pytorch_and_batch_norm_counts():
    """State dicts in PyTorch's order and keys -- a shared (tied) module's tensors
    under each name, batch norm's num_batches_tracked -- load both ways strictly;
    a shared tensor is found under any one of its names; children() lists a shared
    module once; BatchNorm's momentum=None is the cumulative average (it raised a
    TypeError), its count and running statistics equal PyTorch's."""
    def build(lib):
        class M(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = lib.nn.Linear(3, 4)
                self.body = lib.nn.Sequential(lib.nn.Linear(4, 4), lib.nn.BatchNorm1d(4, momentum=None))
                self.head = self.emb  # (tied)

            def forward(self, x):
                return self.body(self.emb(x))
        return M()
    m = build(vg)
    keys = ["emb.weight", "emb.bias", "body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias",
            "body.1.running_mean", "body.1.running_var", "body.1.num_batches_tracked", "head.weight", "head.bias"]
    assert list(m.state_dict()) == keys
    assert [type(c).__name__ for c in m.children()] == ["Linear", "Sequential"]
    x = np.random.default_rng(3).standard_normal((6, 3))
    for i in range(3):
        m(vg.tensor(x * (i + 1)))
    sd = m.state_dict()
    assert int(sd["body.1.num_batches_tracked"]) == 3 and sd["body.1.num_batches_tracked"].dtype == np.int64
    old = {k: v for k, v in sd.items() if not k.startswith("head.")}  # (one name of the tied tensors)
    fresh = build(vg)
    assert fresh.load_state_dict(old) == ([], []) and fresh.body[1].num_batches_tracked == 3
    # a state dict without the counter (PyTorch's before it existed) loads strictly, the counter kept
    assert fresh.load_state_dict({k: v for k, v in old.items() if "num_batches" not in k}) == ([], [])
    assert fresh.body[1].num_batches_tracked == 3
    np.testing.assert_array_equal(fresh.head.weight.numpy(), sd["emb.weight"])
    torch = pytest.importorskip("torch")
    tm = build(torch)
    for i in range(3):
        tm(torch.tensor(x * (i + 1), dtype=torch.float32))
    assert list(tm.state_dict()) == keys
    m2 = build(vg)
    m2.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})  # (strict)
    tm.load_state_dict({k: torch.tensor(v) for k, v in m2.state_dict().items()})
    ours, theirs = build(vg), build(torch)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for i in range(3):
        ours(vg.tensor(x * (i + 1)))
        theirs(torch.tensor(x * (i + 1), dtype=torch.float32))
    for k, v in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[k], v.detach().numpy(), rtol=1e-5, atol=1e-6, err_msg=k)


def test_unknown_activation():
    with pytest.raises(ValueError, match="Linear: unknown activation 'swish'"):
        nn.Linear(2, 2, activation="swish")


def test_custom_module_registers_parameters():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(2, 3)
            self.scale = vg.Parameter(np.ones(3))

        def forward(self, x):
            return self.body(x) * self.scale

    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["scale", "body.weight", "body.bias"]  # as PyTorch
    g = vg.backward(net(vg.tensor(np.ones((4, 2)))).sum())
    assert set(g) == {"body.weight", "body.bias", "scale"}


def test_load_state_dict_writes_in_place(bk):
    """Loading keeps each parameter's buffer, so an optimizer made before the load
    (and a captured step) keeps updating the model."""
    model = nn.Linear(3, 2, device=bk.device, dtype=bk.dtype)
    opt = vg.optim.SGD(model.parameters(), lr=0.5)
    handle = model.weight.handle
    r = model.load_state_dict({"weight": np.ones((2, 3)), "bias": np.zeros(2)})
    assert model.weight.handle is handle and r.missing_keys == [] and r.unexpected_keys == []
    missing, unexpected = model.load_state_dict({"weight": np.ones((2, 3)), "extra": 1.0}, strict=False)
    assert missing == ["bias"] and unexpected == ["extra"]  # (PyTorch's named tuple)
    np.testing.assert_allclose(model.weight.numpy().astype(np.float64), 1.0)
    opt.step({"weight": vg.tensor(np.ones((2, 3)), device=bk.device, dtype=bk.dtype),
              "bias": vg.tensor(np.ones(2), device=bk.device, dtype=bk.dtype)})
    np.testing.assert_allclose(model.weight.numpy().astype(np.float64), 0.5)
    with pytest.raises(ValueError, match=r"assign_: got shape \[4\], expected \[2\]"):
        model.bias.assign_(np.zeros(4))


def test_layernorm_module_values_gradients_and_torch(bk):
    """LayerNorm over the last axis and over the last two: values against NumPy, the
    exact gradient of every input against PyTorch where present (else finite
    differences of the f64 CPU path), state-dict names, no-affine form, errors."""
    r = np.random.default_rng(6)
    for shape, norm in (((5, 8), 8), ((2, 3, 4), (3, 4))):
        x = r.standard_normal(shape) * 2 + 0.5
        ln = nn.LayerNorm(norm, device=bk.device, dtype=bk.dtype)
        ln.weight.assign_(r.uniform(0.5, 1.5, ln.normalized_shape))
        ln.bias.assign_(r.standard_normal(ln.normalized_shape))
        w, b = ln.weight.numpy().astype(np.float64), ln.bias.numpy().astype(np.float64)
        xr = x.astype(np.float16).astype(np.float64) if bk.dtype == "f16" else x
        axes = tuple(range(x.ndim - len(ln.normalized_shape), x.ndim))
        want = (xr - xr.mean(axes, keepdims=True)) / np.sqrt(xr.var(axes, keepdims=True) + 1e-5) * w + b
        t = bk.t(x, requires_grad=True)
        y = ln(t)
        bk.close(y.numpy(), want, what=f"{shape} value")
        g = r.standard_normal(shape)
        (y * bk.t(g)).sum().backward()
        try:
            import torch
        except ImportError:
            torch = None
        if torch is not None:
            tx = torch.tensor(xr, requires_grad=True)
            tw, tb = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
            ty = torch.nn.functional.layer_norm(tx, ln.normalized_shape, tw, tb, 1e-5)
            (ty * torch.tensor(g)).sum().backward()
            tol = dict(rtol=5e-2, atol=5e-2) if bk.dtype == "f16" else {}
            bk.close(t.grad.numpy(), tx.grad.numpy(), what=f"{shape} dx", **tol)
            bk.close(ln.weight.grad.numpy(), tw.grad.numpy(), what=f"{shape} dweight", **tol)
            bk.close(ln.bias.grad.numpy(), tb.grad.numpy(), what=f"{shape} dbias", **tol)
    assert [n for n, _ in nn.Sequential(nn.LayerNorm(4)).named_parameters()] == ["0.weight", "0.bias"]
    plain = nn.LayerNorm(4, elementwise_affine=False, device=bk.device, dtype=bk.dtype)
    assert plain.parameters() == [] and plain(bk.t(r.standard_normal((3, 4)))).shape == (3, 4)
    assert vg.gradcheck(lambda a, w, b: vg.layer_norm(a, 4, w, b),
                        [r.standard_normal((3, 4)), r.uniform(0.5, 1.5, 4), r.standard_normal(4)])


def test_layernorm_var_abs_errors_and_edges():
    x = vg.tensor(np.zeros((2, 3)), device="cpu", dtype="f64")
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape \[4\] does not match the last axes "
                                         r"of the input's shape \[2, 3\]"):
        vg.layer_norm(x, 4)
    with pytest.raises(ValueError, match=r"layer_norm: weight has shape \[2\], expected \[3\]"):
        vg.layer_norm(x, 3, vg.tensor(np.ones(2), device="cpu"))
    with pytest.raises(ValueError, match="LayerNorm: normalized_shape must be positive sizes"):
        nn.LayerNorm(0)
    with pytest.raises(ValueError, match="var: correction must be a non-negative number, got -1"):
        vg.var(x, correction=-1)
    with pytest.raises(ValueError, match=r"var: cannot take the variance over an empty axis"):
        vg.var(vg.tensor(np.zeros((0, 3)), device="cpu"), 0)
    # one value with Bessel's correction: NaN (as PyTorch); biased: 0
    one = vg.tensor(np.array([2.0]), device="cpu", dtype="f64")
    assert np.isnan(vg.var(one).item()) and vg.var(one, correction=0).item() == 0.0
    # abs: NaN kept, gradient sign(x) and 0 at 0
    a = vg.tensor(np.array([-2.0, 0.0, 3.0, np.nan]), device="cpu", dtype="f64", requires_grad=True)
    y = vg.abs(a)
    assert np.array_equal(y.numpy()[:3], [2.0, 0.0, 3.0]) and np.isnan(y.numpy()[3])
    y[:3].sum().backward()
    assert a.grad.numpy().tolist() == [-1.0, 0.0, 1.0, 0.0]


def test_embedding_lookup_gradient_and_errors(bk):
    """Embedding: rows copied exactly for indices of any shape (repeats, f16 rows of
    an odd width sharing words), the weight's gradient summed per index against
    NumPy's np.add.at and finite differences, host indices range-checked, device
    indices out of range giving NaN rows."""
    r = np.random.default_rng(8)
    for V, D in ((7, 5), (300, 64)):
        emb = nn.Embedding(V, D, device=bk.device, dtype=bk.dtype)
        W = emb.weight.numpy().astype(np.float64)
        idx = r.integers(0, V, (4, 9))
        idx[0, :3] = [V - 1, 0, V - 1]
        y = emb(bk.t(idx.astype(np.int32)))
        assert y.shape == (4, 9, D) and y.dtype == bk.dtype
        np.testing.assert_array_equal(y.numpy().astype(np.float64), W[idx])
        g = r.standard_normal((4, 9, D))
        (y * bk.t(g)).sum().backward()
        gr = g.astype(np.float16).astype(np.float64) if bk.dtype == "f16" else g
        want = np.zeros((V, D))
        np.add.at(want, idx.reshape(-1), gr.reshape(-1, D))
        bk.close(emb.weight.grad.numpy(), want, what=f"[{V}, {D}] weight gradient",
                 atol=5e-2 if bk.dtype == "f16" else None)
    assert vg.embedding([2, 0], emb.weight).shape == (2, D)
    assert vg.gradcheck(lambda w: vg.embedding(np.array([[1, 2], [2, 0]]), w), [r.standard_normal((3, 4))])
    if bk.device != "cpu":
        got = vg.embedding(bk.t(np.array([1, 300], dtype=np.int32)), emb.weight).numpy()
        assert np.isnan(got[1]).all() and not np.isnan(got[0]).any()
    assert "Embedding(300, 64)" in repr(nn.Sequential(emb))


def test_embedding_errors():
    w = vg.tensor(np.zeros((4, 2)), device="cpu")
    with pytest.raises(ValueError, match=r"embedding: indices must lie in \[0, 4\), got values in \[-1, 2\]"):
        vg.embedding(vg.tensor(np.array([2, -1], np.int32), device="cpu"), w)
    with pytest.raises(TypeError, match="embedding: indices must be integers, got float64"):
        vg.embedding([1.5], w)
    with pytest.raises(TypeError, match="embedding: indices must be int32, got f32"):
        vg.embedding(vg.tensor(np.array([1.0]), device="cpu"), w)
    with pytest.raises(ValueError, match=r"embedding: weight must be \[num_embeddings >= 1, dim\], got \[4\]"):
        vg.embedding([1], vg.tensor(np.zeros(4), device="cpu"))
    with pytest.raises(ValueError, match="Embedding: sizes must be positive, got 0 x 3"):
        nn.Embedding(0, 3)
    if vg.vulkan_available():  # indices given from the host are checked there, before they go to a device
        wv = w.to("vulkan")
        with pytest.raises(ValueError, match=r"embedding: indices must lie in \[0, 4\), got values in \[2, 99\]"):
            vg.embedding([2, 99], wv)
        with pytest.raises(ValueError, match=r"one_hot: labels must lie in \[0, 3\), got values in \[0, 5\]"):
            vg.one_hot(np.array([0, 5]), 3)


def test_module_moves_and_helpers(bk):
    """to(dtype) / half() / float() keep batch norm's running statistics in f32 (they
    broke its forward when they followed the weights to f16), a training step
    then runs; modules(), apply(), requires_grad_() as in PyTorch."""
    vg.manual_seed(2)
    m = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3)).to(device=bk.device)
    m.to(dtype=bk.dtype)
    assert m[0].weight.dtype == bk.dtype and m[1].running_mean.dtype == "f32"
    x = vg.randn(16, 4, device=bk.device, dtype=bk.dtype)
    loss = nn.CrossEntropyLoss()(m(x), vg.randint(0, 3, (16,), device=bk.device))
    loss.backward()
    assert m[0].weight.grad is not None and np.isfinite(m[1].running_mean.numpy()).all()
    if bk.device != "cpu":
        m.half()
        assert m[3].bias.dtype == "f16" and m[1].running_var.dtype == "f32"
        m(vg.randn(16, 4, device=bk.device, dtype="f16"))
        m.float()
        assert m[3].bias.dtype == "f32" and m[1].running_var.dtype == "f32"
    assert [type(k).__name__ for k in m.modules()] == ["Sequential", "Linear", "BatchNorm1d", "ReLU", "Linear"]
    seen = []
    assert m.apply(lambda k: seen.append(type(k).__name__)) is m
    assert seen == ["Linear", "BatchNorm1d", "ReLU", "Linear", "Sequential"]
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    assert not m(x).requires_grad
    m.requires_grad_()
    assert all(p.requires_grad for p in m.parameters())


def test_module_to_f64_keeps_f64_statistics():
    bn = nn.BatchNorm1d(3).to(device="cpu", dtype="f64")
    assert bn.weight.dtype == "f64" and bn.running_mean.dtype == "f64"


def test_init_functions(bk):
    """nn.init: in place (same storage), seeded, with PyTorch's fans and gains:
    bounds of the uniform ones exact, the normal ones' spread within 5%."""
    w = vg.Parameter(np.zeros((400, 300)), device=bk.device, dtype=bk.dtype)
    data = w.handle
    vg.manual_seed(4)
    assert nn.init.xavier_uniform_(w) is w and w.handle is data
    a = np.sqrt(6 / 700)
    got = w.numpy().astype(np.float64)
    assert np.abs(got).max() <= a * 1.001 and np.abs(got).max() > 0.98 * a
    first = got.copy()
    vg.manual_seed(4)
    nn.init.xavier_uniform_(w)
    np.testing.assert_array_equal(w.numpy(), first.astype(w.numpy().dtype))
    for fn, std in ((lambda t: nn.init.xavier_normal_(t, gain=2.0), 2 * np.sqrt(2 / 700)),
                    (lambda t: nn.init.kaiming_normal_(t, nonlinearity="relu"), np.sqrt(2 / 300)),
                    (lambda t: nn.init.kaiming_normal_(t, mode="fan_out"), np.sqrt(2 / 400)),
                    (lambda t: nn.init.normal_(t, 1.0, 0.5), 0.5)):
        fn(w)
        assert abs(w.numpy().astype(np.float64).std() / std - 1) < 0.05
    nn.init.kaiming_uniform_(w, a=np.sqrt(5))  # (nn.Linear's own bound in PyTorch: 1 / sqrt(fan_in))
    assert abs(np.abs(w.numpy().astype(np.float64)).max() * np.sqrt(300) - 1) < 0.01
    nn.init.uniform_(w, -2, -1)
    assert w.numpy().max() < -0.99 and w.numpy().min() >= -2
    nn.init.ones_(w)
    assert (w.numpy() == 1).all()
    nn.init.zeros_(w)
    assert (w.numpy() == 0).all()
    nn.init.constant_(w, 0.25)
    assert (w.numpy() == 0.25).all()
    assert nn.init.calculate_gain("tanh") == 5 / 3 and nn.init.calculate_gain("leaky_relu", 0.2) == np.sqrt(2 / 1.04)


def test_init_errors():
    with pytest.raises(ValueError, match=r"init.xavier_uniform_: fan in and fan out need at least 2 dimensions, got "
                                         r"shape \[5\]"):
        nn.init.xavier_uniform_(vg.tensor(np.zeros(5)))
    with pytest.raises(ValueError, match="init.kaiming_normal_: mode must be 'fan_in' or 'fan_out', got 'x'"):
        nn.init.kaiming_normal_(vg.tensor(np.zeros((2, 2))), mode="x")
    with pytest.raises(ValueError, match="init.calculate_gain: unknown nonlinearity 'swish'"):
        nn.init.calculate_gain("swish")
    with pytest.raises(TypeError, match="init.normal_: expected a vkgrad Tensor, got ndarray"):
        nn.init.normal_(np.zeros(3))
    # PyTorch's private fan helper, which custom reset_parameters() code calls
    assert nn.init._calculate_fan_in_and_fan_out(vg.empty(64, 32, 3, 3)) == (288, 576)
    assert nn.init._calculate_fan_in_and_fan_out(vg.empty(10, 4)) == (4, 10)


def _cnn(device=None, dtype=None):
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, device=device, dtype=dtype),
                         nn.BatchNorm2d(4, device=device, dtype=dtype), nn.ReLU(),
                         nn.Conv2d(4, 8, 3, padding="same", groups=4, device=device, dtype=dtype),  # depthwise
                         nn.Conv2d(8, 4, 1, groups=2, bias=False, device=device, dtype=dtype),
                         nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, (2, 3), stride=(1, 2), dilation=(2, 1), device=device, dtype=dtype),
                         nn.AvgPool2d(2, 1, padding=1, count_include_pad=False), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(6, 3, device=device, dtype=dtype))


def test_cnn_modules_match_torch(bk):
    """A CNN of every new module (Conv2d with padding / stride / dilation / groups,
    BatchNorm2d, MaxPool2d, AvgPool2d excluding padding, AdaptiveAvgPool2d)
    against the same network in PyTorch: output, every parameter's gradient, the
    input's gradient and the running statistics."""
    torch = pytest.importorskip("torch")
    vg.manual_seed(2)
    model = _cnn(bk.device, bk.dtype)
    tm = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                             torch.nn.Conv2d(4, 8, 3, padding="same", groups=4),
                             torch.nn.Conv2d(8, 4, 1, groups=2, bias=False), torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 6, (2, 3), stride=(1, 2), dilation=(2, 1)),
                             torch.nn.AvgPool2d(2, 1, padding=1, count_include_pad=False),
                             torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(6, 3)).double()
    tol = _vs_torch(torch, bk, model, tm, np.random.default_rng(8).standard_normal((3, 2, 9, 10)))
    bk.close(model[1].running_var.numpy(), tm[1].running_var.numpy(), what="running var", **tol)


def _vs_torch(torch, bk, model, tm, x):
    """model (vkgrad) against tm (PyTorch, f64) given the same parameters: the
    output and the gradients of the input and of every parameter, for a random
    projection of the output.  Returns the tolerances used."""
    with torch.no_grad():
        for (name, p), (tname, tp) in zip(model.named_parameters(), tm.named_parameters()):
            assert name == tname and tuple(tp.shape) == p.shape
            tp.copy_(torch.tensor(p.numpy().astype(np.float64)))
    xr = x.astype(np.float16).astype(np.float64) if bk.dtype == "f16" else x
    t = bk.t(x, requires_grad=True)
    y = model(t)
    g = np.random.default_rng(1).standard_normal(y.shape)
    (y * bk.t(g)).sum().backward()
    tx = torch.tensor(xr, requires_grad=True)
    ty = tm(tx)
    (ty * torch.tensor(g)).sum().backward()
    tol = dict(rtol=5e-2, atol=5e-2) if bk.dtype == "f16" else dict(rtol=1e-4, atol=1e-5)
    bk.close(y.numpy(), ty.detach().numpy(), what="output", **tol)
    bk.close(t.grad.numpy(), tx.grad.numpy(), what="input grad", **tol)
    for (name, p), (_, tp) in zip(model.named_parameters(), tm.named_parameters()):
        scale = max(1.0, float(tp.grad.abs().max()))
        bk.close(p.grad.numpy(), tp.grad.numpy(), what=f"{name} grad", rtol=tol["rtol"], atol=tol["atol"] * scale)
    return tol


def test_multihead_attention_kdim_vdim_matches_torch(bk):
    """MultiheadAttention with kdim / vdim other than embed_dim: PyTorch's separate
    q / k / v projection weights (names, shapes, order), values and every gradient
    against PyTorch in f64; the key's and value's widths checked."""
    torch = pytest.importorskip("torch")
    E, H, N, L, S, Dk, Dv = 8, 2, 3, 5, 4, 6, 5
    r = np.random.default_rng(21)
    kv = r.standard_normal((N, S, Dk)), r.standard_normal((N, S, Dv))
    cast = (lambda a: a.astype(np.float16).astype(np.float64)) if bk.dtype == "f16" else (lambda a: a)

    class Cross(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = nn.MultiheadAttention(E, H, kdim=Dk, vdim=Dv, batch_first=True, device=bk.device,
                                             dtype=bk.dtype)

        def forward(self, x):
            return self.mha(x, bk.t(kv[0]), bk.t(kv[1]))[0]

    class TorchCross(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = torch.nn.MultiheadAttention(E, H, kdim=Dk, vdim=Dv, batch_first=True)

        def forward(self, x):
            return self.mha(x, torch.tensor(cast(kv[0])), torch.tensor(cast(kv[1])))[0]
    model = Cross()
    assert [(n, p.shape) for n, p in model.named_parameters()] == [
        ("mha.q_proj_weight", (E, E)), ("mha.k_proj_weight", (E, Dk)), ("mha.v_proj_weight", (E, Dv)),
        ("mha.in_proj_bias", (3 * E,)), ("mha.out_proj.weight", (E, E)), ("mha.out_proj.bias", (E,))]
    assert model.mha.in_proj_weight is None and "kdim=6, vdim=5" in repr(model.mha)
    _vs_torch(torch, bk, model, TorchCross().double(), r.standard_normal((N, L, E)))
    with pytest.raises(ValueError, match=r"MultiheadAttention: expected query \[L, N, 8\], key \[S, N, 6\] "
                                         r"and value \[S, N, 5\]"):
        model.mha(bk.t(r.standard_normal((N, L, E))), bk.t(kv[1]), bk.t(kv[1]))


def test_multihead_attention_bias_kv_and_zero_attn_match_torch(bk):
    """add_bias_kv (learnt bias_k / bias_v appended to the keys and values) and
    add_zero_attn (a zero key and value appended), the masks padded for them: names,
    values and every gradient against PyTorch in f64, sequence-first self-attention
    with a causal mask and a key padding mask; the weights have S + 2 columns."""
    torch = pytest.importorskip("torch")
    E, H, N, L = 8, 2, 3, 5
    am, kpm = np.triu(np.ones((L, L), bool), 1), np.zeros((N, L), bool)
    kpm[1, -1] = True

    class Self(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = nn.MultiheadAttention(E, H, add_bias_kv=True, add_zero_attn=True, device=bk.device,
                                             dtype=bk.dtype)

        def forward(self, x):
            return self.mha(x, x, x, attn_mask=am, key_padding_mask=kpm)[0]

    class TorchSelf(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = torch.nn.MultiheadAttention(E, H, add_bias_kv=True, add_zero_attn=True)

        def forward(self, x):
            return self.mha(x, x, x, attn_mask=torch.tensor(am), key_padding_mask=torch.tensor(kpm))[0]
    model = Self()
    assert [n for n, _ in model.named_parameters()][:4] == ["mha.in_proj_weight", "mha.in_proj_bias", "mha.bias_k",
                                                             "mha.bias_v"]
    x = np.random.default_rng(25).standard_normal((L, N, E))
    _vs_torch(torch, bk, model, TorchSelf().double(), x)
    assert model.mha(bk.t(x), bk.t(x), bk.t(x))[1].shape == (N, L, L + 2)


def test_attention_masks_as_int32_tensors(bk):
    """vkgrad has no bool dtype: a boolean mask as an int32 tensor (vg.tensor(.., dtype="i32")
    of a boolean array, a comparison's .int()) or a 1.0 / 0.0 one (vg.tensor of a boolean
    array) is boolean -- True masks for
    nn.MultiheadAttention (with add_bias_kv's padded column too), takes part for
    scaled_dot_product_attention -- the NumPy boolean array's results (it was added
    to the scores: +1, not -inf)."""
    E, H, N, L = 8, 2, 3, 5
    r = np.random.default_rng(26)
    kpm = np.zeros((N, L), bool)
    kpm[1, -2:] = True
    am = np.triu(np.ones((L, L), bool), 1)
    x = bk.t(r.standard_normal((N, L, E)))
    tokens = bk.t(np.where(kpm, 0.0, 1.0))
    for kv in (False, True):
        vg.manual_seed(1)
        mha = nn.MultiheadAttention(E, H, add_bias_kv=kv, batch_first=True, device=bk.device, dtype=bk.dtype)
        want, ww = mha(x, x, x, key_padding_mask=kpm, attn_mask=am)
        for k, a in ((vg.tensor(kpm, device=bk.device), vg.tensor(am, device=bk.device)),
                     (vg.tensor(kpm, dtype="i32", device=bk.device), vg.tensor(am, dtype="i32", device=bk.device)),
                     ((tokens == 0).int(), am)):
            got, gw = mha(x, x, x, key_padding_mask=k, attn_mask=a)
            bk.close(got.numpy(), want.numpy(), what="int32 masks")
            bk.close(gw.numpy(), ww.numpy(), what="int32 masks' weights")
        assert (ww.numpy()[1, :, L - 2:L] == 0).all()
    q = bk.t(r.standard_normal((N, H, L, E // H)))
    keep = ~am
    want = vg.nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=keep)
    got = vg.nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=vg.tensor(keep, device=bk.device))
    bk.close(got.numpy(), want.numpy(), what="sdpa int32 mask")
    causal = vg.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True)
    bk.close(got.numpy(), causal.numpy(), what="sdpa int32 mask = causal")
    # a comparison's mask -- vkgrad's 1.0 / 0.0 floats, PyTorch code's `arange(S) >= lengths[:, None]` -- is
    # boolean too (it was added to the scores, silently); a float mask of other values is added, as PyTorch's
    lengths = bk.t(np.array([L, L - 2, L]), dtype="i32")
    pad = vg.arange(L, device=bk.device).unsqueeze(0) >= lengths.unsqueeze(1)
    vg.manual_seed(1)
    mha = nn.MultiheadAttention(E, H, batch_first=True, device=bk.device, dtype=bk.dtype)
    want, _ = mha(x, x, x, key_padding_mask=kpm)
    bk.close(mha(x, x, x, key_padding_mask=pad)[0].numpy(), want.numpy(), what="comparison key_padding_mask")
    # one mask tensor for every layer: its kind found once (a second lookup of a tensor raised, session 30)
    bk.close(mha(x, x, x, key_padding_mask=pad)[0].numpy(), want.numpy(), what="the same mask again")
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, 2 * E, dropout=0.0, batch_first=True), 2).to(
        bk.device, dtype=bk.dtype)
    square = nn.Transformer.generate_square_subsequent_mask(L, device=bk.device, dtype=bk.dtype)
    bk.close(enc(x, mask=square, is_causal=True).numpy(), enc(x, is_causal=True, mask=np.triu(
        np.ones((L, L), bool), 1)).numpy(), rtol=max(bk.rtol, 1e-3), what="two layers, one float mask")
    keep_t = vg.arange(L, device=bk.device).unsqueeze(0) <= vg.arange(L, device=bk.device).unsqueeze(1)
    bk.close(vg.nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=keep_t).numpy(), causal.numpy(),
             what="sdpa comparison mask = causal")
    additive = bk.t(np.where(am, -1e4, 0.0))
    bk.close(vg.nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=additive).numpy(), causal.numpy(),
             rtol=max(bk.rtol, 1e-3), atol=max(bk.atol, 1e-3), what="sdpa additive mask")
    zeros = bk.t(np.zeros((L, L)))  # (an additive mask of zeros: nothing hidden, not everything)
    bk.close(vg.nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=zeros).numpy(),
             vg.nn.functional.scaled_dot_product_attention(q, q, q).numpy(), what="sdpa zero mask")


def test_attention_rows_masked_everywhere_match_torch(bk):
    """A query row whose keys are all masked -- a sequence all padding, a left-padded
    row under a causal mask -- gets zero weights and no gradient in
    scaled_dot_product_attention and in MultiheadAttention without need_weights
    (PyTorch's: the Transformer layers train on such batches; a softmax gave NaN),
    with host and device masks; with need_weights NaN, as PyTorch's."""
    torch = pytest.importorskip("torch")
    E, H, N, L = 4, 2, 2, 3
    r = np.random.default_rng(61)
    x = r.standard_normal((N, L, E))
    kpm = np.array([[False, False, True], [True, True, True]])  # (the second sequence all padding)
    causal_left = np.array([[True, False, False], [True, True, False], [False, False, False]])  # (sdpa: True keeps)
    qkv = r.standard_normal((N, H, L, E // H))
    tq = torch.tensor(qkv, requires_grad=True)
    want = torch.nn.functional.scaled_dot_product_attention(tq, tq, tq, attn_mask=torch.tensor(causal_left))
    want.backward(torch.tensor(np.cos(np.arange(want.numel())).reshape(want.shape)))
    for mask in (causal_left, vg.tensor(causal_left, device=bk.device),
                 bk.t(np.where(causal_left, 0.0, -np.inf))):
        q = bk.t(qkv, requires_grad=True)
        got = vg.nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=mask)
        (got * bk.t(np.cos(np.arange(got.size)).reshape(got.shape))).sum().backward()
        bk.close(got.numpy(), want.detach().numpy(), what=f"sdpa {type(mask).__name__}")
        bk.close(q.grad.numpy(), tq.grad.numpy(), what=f"sdpa grad {type(mask).__name__}")
    torch.manual_seed(0)
    tl = torch.nn.TransformerEncoderLayer(E, H, 8, dropout=0.0, batch_first=True).double()
    vl = nn.TransformerEncoderLayer(E, H, 8, dropout=0.0, batch_first=True)
    vl.load_state_dict({k: vg.tensor(v.numpy()) for k, v in tl.state_dict().items()})
    vl.to(bk.device, dtype=bk.dtype)
    tx = torch.tensor(x, requires_grad=True)
    want = tl(tx, src_key_padding_mask=torch.tensor(kpm))  # (training mode: finite everywhere)
    want.sum().backward()
    for mask in (kpm, vg.tensor(kpm, device=bk.device)):
        vx = bk.t(x, requires_grad=True)
        got = vl(vx, src_key_padding_mask=mask)
        got.sum().backward()
        bk.close(got.numpy(), want.detach().numpy(), what=f"encoder layer {type(mask).__name__}")
        bk.close(vx.grad.numpy(), tx.grad.numpy(), what=f"encoder layer grad {type(mask).__name__}")
    mha = nn.MultiheadAttention(E, H, batch_first=True, device=bk.device, dtype=bk.dtype)
    out, w = mha(bk.t(x), bk.t(x), bk.t(x), key_padding_mask=kpm)
    assert np.isnan(out.numpy()[1]).all() and np.isnan(w.numpy()[1]).all() and np.isfinite(out.numpy()[0]).all()
    # vg.tensor of an all-False boolean array is a boolean mask (nothing takes part), not zeros to add -- also
    # once moved (.to)
    none = vg.tensor(np.zeros((L, L), bool), device="cpu").to(bk.device)
    got = vg.nn.functional.scaled_dot_product_attention(bk.t(qkv), bk.t(qkv), bk.t(qkv), attn_mask=none)
    assert not np.any(got.numpy())


def test_transformer_model_matches_torch(bk):
    """nn.Transformer (two encoder layers, one decoder layer, their final norms,
    xavier_uniform_ on every matrix) against PyTorch's in f64: parameter names,
    values and every gradient with a causal target mask; its errors."""
    torch = pytest.importorskip("torch")
    E, H = 8, 2
    r = np.random.default_rng(24)
    src = r.standard_normal((3, 5, E))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.t = nn.Transformer(E, H, 2, 1, 12, dropout=0.0, batch_first=True, device=bk.device, dtype=bk.dtype)

        def forward(self, tgt):
            mask = nn.Transformer.generate_square_subsequent_mask(tgt.shape[1], device=bk.device, dtype=bk.dtype)
            return self.t(bk.t(src), tgt, tgt_mask=mask)

    class TorchModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.t = torch.nn.Transformer(E, H, 2, 1, 12, dropout=0.0, batch_first=True)

        def forward(self, tgt):
            mask = torch.nn.Transformer.generate_square_subsequent_mask(tgt.shape[1], dtype=torch.float64)
            cast = src.astype(np.float16).astype(np.float64) if bk.dtype == "f16" else src
            return self.t(torch.tensor(cast), tgt, tgt_mask=mask)
    model = Model()
    w = model.t.encoder.layers[0].linear1.weight.numpy()
    assert np.abs(w).max() <= math.sqrt(6 / (E + 12)) * 1.001 and np.abs(w).max() > 0.3  # xavier_uniform_
    _vs_torch(torch, bk, model, TorchModel().double(), r.standard_normal((3, 4, E)))
    with pytest.raises(ValueError, match=r"Transformer: src \[3, 5, 8\] and tgt \[2, 4, 8\] have different batch"):
        model.t(bk.t(src), bk.t(np.zeros((2, 4, E))))


def _np_encoder_layer(layer, x, mask):
    """NumPy's TransformerEncoderLayer (post-norm, ReLU, no dropout) of x [S, N, E]
    with an additive mask [S, S], from the layer's parameters."""
    P = {n: p.numpy().astype(np.float64) for n, p in layer.named_parameters()}
    E, H = layer.self_attn.embed_dim, layer.self_attn.num_heads

    def norm(v, i):
        m, var = v.mean(-1, keepdims=True), v.var(-1, keepdims=True)
        return (v - m) / np.sqrt(var + 1e-5) * P[f"norm{i}.weight"] + P[f"norm{i}.bias"]
    q, k, v = np.split(x @ P["self_attn.in_proj_weight"].T + P["self_attn.in_proj_bias"], 3, axis=-1)
    S, N, _ = x.shape
    heads = [t.reshape(S, N, H, E // H).transpose(1, 2, 0, 3) for t in (q, k, v)]  # [N, H, S, d]
    sc = heads[0] @ heads[1].swapaxes(-1, -2) / np.sqrt(E // H) + mask
    w = np.exp(sc - sc.max(-1, keepdims=True))
    att = (w / w.sum(-1, keepdims=True)) @ heads[2]
    att = att.transpose(2, 0, 1, 3).reshape(S, N, E) @ P["self_attn.out_proj.weight"].T + P["self_attn.out_proj.bias"]
    h = norm(x + att, 1)
    ff = np.maximum(h @ P["linear1.weight"].T + P["linear1.bias"], 0) @ P["linear2.weight"].T + P["linear2.bias"]
    return norm(h + ff, 2)


def test_transformer_encoder_layer_against_numpy_and_finite_differences(bk):
    """TransformerEncoderLayer (without PyTorch): values against a NumPy transcription
    with a causal mask on every backend, the input's and parameters' gradients against
    float64 central differences (vkgrad.gradcheck)."""
    E, H, F, S, N = 8, 2, 12, 5, 3
    r = np.random.default_rng(23)
    layer = nn.TransformerEncoderLayer(E, H, F, dropout=0.0, device=bk.device, dtype=bk.dtype)
    for p in layer.parameters():
        p.assign_(p.numpy() + r.uniform(-0.2, 0.2, p.shape))
    x = r.standard_normal((S, N, E))
    causal = np.triu(np.ones((S, S), bool), 1)
    got = layer(bk.t(x), src_mask=causal).numpy()
    want = _np_encoder_layer(layer, x.astype(np.float16).astype(np.float64) if bk.dtype == "f16" else x,
                             np.where(causal, -np.inf, 0.0))
    bk.close(got, want, what="encoder layer", **(dict(rtol=5e-2, atol=5e-2) if bk.dtype == "f16" else {}))
    if bk.device == "cpu":
        names = [n for n, _ in layer.named_parameters()]
        ref = nn.TransformerEncoderLayer(E, H, F, dropout=0.0, device="cpu", dtype="f64")

        def fn(xin, *params):
            for name, p in zip(names, params):
                setattr(*_owner_attr(ref, name), p)
            return ref(xin, src_mask=causal)
        assert vg.gradcheck(fn, [x] + [p.numpy() for p in layer.parameters()])


def _owner_attr(module, path):
    """(the module holding a parameter, its attribute name) for a dotted path."""
    *mods, attr = path.split(".")
    for m in mods:
        module = getattr(module, m)
    return module, attr


def test_transformer_layers_match_torch(bk):
    """TransformerEncoder (two post-norm ReLU layers and a final norm, causal and
    padding masks) and TransformerDecoder (pre-norm GELU, a causal target mask, a
    padded memory) against PyTorch's in f64 with the same parameters: parameter
    names, values and every gradient; dropout active only in training; errors."""
    torch = pytest.importorskip("torch")
    E, H, F, N, S, T = 8, 2, 12, 3, 5, 4
    r = np.random.default_rng(22)
    am, kpm = np.triu(np.ones((S, S), bool), 1), np.zeros((N, S), bool)
    kpm[1, -1] = True
    mem = r.standard_normal((N, S, E))
    cast = (lambda a: a.astype(np.float16).astype(np.float64)) if bk.dtype == "f16" else (lambda a: a)
    kw = dict(device=bk.device, dtype=bk.dtype)

    class Enc(nn.Module):
        def __init__(self):
            super().__init__()
            layer = nn.TransformerEncoderLayer(E, H, F, dropout=0.0, batch_first=True, **kw)
            self.enc = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(E, **kw))

        def forward(self, x):
            return self.enc(x, mask=am, src_key_padding_mask=kpm)

    class TorchEnc(torch.nn.Module):
        def __init__(self):
            super().__init__()
            layer = torch.nn.TransformerEncoderLayer(E, H, F, dropout=0.0, batch_first=True)
            self.enc = torch.nn.TransformerEncoder(layer, 2, norm=torch.nn.LayerNorm(E), enable_nested_tensor=False)

        def forward(self, x):
            return self.enc(x, mask=torch.tensor(am), src_key_padding_mask=torch.tensor(kpm))

    class Dec(nn.Module):
        def __init__(self):
            super().__init__()
            layer = nn.TransformerDecoderLayer(E, H, F, dropout=0.0, activation="gelu", batch_first=True,
                                               norm_first=True, **kw)
            self.dec = nn.TransformerDecoder(layer, 2)

        def forward(self, x):
            return self.dec(x, bk.t(mem), tgt_is_causal=True, memory_key_padding_mask=kpm)

    class TorchDec(torch.nn.Module):
        def __init__(self):
            super().__init__()
            layer = torch.nn.TransformerDecoderLayer(E, H, F, dropout=0.0, activation="gelu", batch_first=True,
                                                     norm_first=True)
            self.dec = torch.nn.TransformerDecoder(layer, 2)

        def forward(self, x):
            causal = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64)
            return self.dec(x, torch.tensor(cast(mem)), tgt_mask=causal, tgt_is_causal=True,
                            memory_key_padding_mask=torch.tensor(kpm))
    for model, tm, x in ((Enc(), TorchEnc(), r.standard_normal((N, S, E))),
                         (Dec(), TorchDec(), r.standard_normal((N, T, E)))):
        tm = tm.double()
        assert [n for n, _ in model.named_parameters()] == [n for n, _ in tm.named_parameters()]
        for p in model.parameters():  # away from the init (zero biases, unit norms), as in training
            p.assign_(p.numpy() + r.uniform(-0.2, 0.2, p.shape))
        _vs_torch(torch, bk, model, tm, x)
    layer = nn.TransformerEncoderLayer(E, H, F, dropout=0.5, **kw)
    x = bk.t(r.standard_normal((S, N, E)))
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), layer(x).numpy())
    layer.train()
    assert not np.allclose(layer(x).numpy(), layer.eval()(x).numpy())
    with pytest.raises(ValueError, match="TransformerEncoderLayer: activation should be relu/gelu or a callable"):
        nn.TransformerEncoderLayer(E, H, activation="swish")
    with pytest.raises(ValueError, match="TransformerEncoder: num_layers must be positive, got 0"):
        nn.TransformerEncoder(layer, 0)
    with pytest.raises(TypeError, match="TransformerDecoder: expected a TransformerDecoderLayer"):
        nn.TransformerDecoder(layer, 2)


def test_cnn_learns_bars(bk):
    """A small CNN tells horizontal from vertical bars in noisy 8 x 8 images."""
    r = np.random.default_rng(0)
    n = 64
    x = r.normal(0, 0.3, (n, 1, 8, 8))
    y = r.integers(0, 2, n)
    pos = r.integers(1, 7, n)
    for i in range(n):
        if y[i]:
            x[i, 0, :, pos[i]] += 1.0
        else:
            x[i, 0, pos[i], :] += 1.0
    vg.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding="same", device=bk.device, dtype=bk.dtype), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(4, 8, 3, device=bk.device, dtype=bk.dtype), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2, device=bk.device, dtype=bk.dtype))
    opt = vg.optim.Adam(model.parameters(), lr=0.02)
    xb, yb = bk.t(x), bk.t(y)
    losses = []
    for _ in range(40):
        loss = vg.softmax_cross_entropy(model(xb), yb)
        opt.step(vg.backward(loss))
        losses.append(loss.item())
    acc = (np.argmax(model(xb).numpy(), 1) == y).mean()
    assert losses[-1] < 0.5 * losses[0] and acc >= 0.9, (losses[0], losses[-1], acc)


def test_conv_and_pool_errors():
    x = vg.tensor(np.ones((2, 3, 5, 5)), device="cpu")
    w = vg.tensor(np.ones((4, 3, 3, 3)), device="cpu")
    with pytest.raises(ValueError, match=r"conv2d: expected weight \[out_channels, 2, kh, kw\] for input \[2, 2, 5, 5\], "
                                         r"got weight \[4, 3, 3, 3\]"):
        vg.conv2d(vg.tensor(np.ones((2, 2, 5, 5)), device="cpu"), w)
    with pytest.raises(ValueError, match=r"conv2d: expected input \[N, C, H, W\] \(or \[C, H, W\]\), got \[3, 5\]"):
        vg.conv2d(vg.tensor(np.ones((3, 5)), device="cpu"), w)
    with pytest.raises(ValueError, match="conv2d: groups must be a positive int dividing the 3 input channels, "
                                         "got 2"):
        vg.conv2d(x, w, groups=2)
    with pytest.raises(ValueError, match=r"conv2d: expected weight \[out_channels \(a multiple of groups=3\), 1, "
                                         r"kh, kw\] for input \[2, 3, 5, 5\], got weight \[4, 3, 3, 3\]"):
        vg.conv2d(x, w, groups=3)
    with pytest.raises(ValueError, match=r"conv2d: padding='same' needs stride 1"):
        vg.conv2d(x, w, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"conv2d: padding must be an int, a pair, 'valid' or 'same', got 'full'"):
        vg.conv2d(x, w, padding="full")
    with pytest.raises(ValueError, match=r"conv2d: the window \(kernel 3, dilation 3\) is larger than the padded "
                                         r"input \(5 \+ 0 padding\)"):
        vg.conv2d(x, w, dilation=3)
    with pytest.raises(ValueError, match=r"conv2d: bias must be a tensor of shape \[4\], got \[3\]"):
        vg.conv2d(x, w, vg.tensor(np.ones(3), device="cpu"))
    with pytest.raises(TypeError, match=r"conv2d: stride must be an int or a pair of ints, got \(1, 2, 3\)"):
        vg.conv2d(x, w, stride=(1, 2, 3))
    with pytest.raises(ValueError, match="conv2d: stride must be >= 1, got 0"):
        vg.conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match=r"max_pool2d: padding 2 must be at most half the kernel size 3"):
        vg.max_pool2d(x, 3, padding=2)
    with pytest.raises(ValueError, match=r"avg_pool2d: divisor_override must be a positive int, got 0"):
        vg.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d: output_size must be >= 1, got \(0, 0\)"):
        vg.adaptive_avg_pool2d(x, 0)
    with pytest.raises(ValueError, match="Conv2d: padding_mode must be 'zeros', 'reflect', 'replicate' or "
                                         "'circular', got 'mirror'"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="Conv2d: groups must be a positive int dividing in_channels=4 and "
                                         "out_channels=6, got 4"):
        nn.Conv2d(4, 6, 3, groups=4)
    # divisor_override, and an unbatched input keeps its rank
    np.testing.assert_allclose(vg.avg_pool2d(x, 2, divisor_override=1).numpy(), np.full((2, 3, 2, 2), 4.0))
    assert vg.max_pool2d(vg.tensor(np.ones((3, 6, 6)), device="cpu"), 2).shape == (3, 3, 3)


def test_conv1d_modules_match_torch(bk):
    """Conv1d (padding, stride, dilation, groups), MaxPool1d and AvgPool1d against
    PyTorch: output and every gradient; their errors name the 1-d op."""
    torch = pytest.importorskip("torch")
    vg.manual_seed(4)
    model = nn.Sequential(nn.Conv1d(4, 6, 3, padding=1, groups=2, device=bk.device, dtype=bk.dtype), nn.ReLU(),
                          nn.MaxPool1d(3, 2, padding=1), nn.Conv1d(6, 5, 2, dilation=2, device=bk.device, dtype=bk.dtype),
                          nn.AvgPool1d(2, ceil_mode=True, count_include_pad=False))
    tm = torch.nn.Sequential(torch.nn.Conv1d(4, 6, 3, padding=1, groups=2), torch.nn.ReLU(),
                             torch.nn.MaxPool1d(3, 2, padding=1), torch.nn.Conv1d(6, 5, 2, dilation=2),
                             torch.nn.AvgPool1d(2, ceil_mode=True, count_include_pad=False)).double()
    _vs_torch(torch, bk, model, tm, np.random.default_rng(9).standard_normal((3, 4, 17)))
    with pytest.raises(ValueError, match=r"conv1d: expected input \[N, C, L\] \(or \[C, L\]\), got \[2, 3, 4, 5\]"):
        vg.conv1d(vg.tensor(np.ones((2, 3, 4, 5)), device="cpu"), vg.tensor(np.ones((2, 3, 1)), device="cpu"))
    with pytest.raises(ValueError, match=r"conv1d: expected weight \[out_channels, in_channels / groups, k\] for "
                                         r"input \[2, 3, 8\] and groups=1, got weight \[2, 4, 3\]"):
        vg.conv1d(vg.tensor(np.ones((2, 3, 8)), device="cpu"), vg.tensor(np.ones((2, 4, 3)), device="cpu"))
    with pytest.raises(TypeError, match=r"max_pool1d: kernel_size must be an int, got \(2, 2\)"):
        vg.max_pool1d(vg.tensor(np.ones((2, 3, 8)), device="cpu"), (2, 2))
    with pytest.raises(TypeError, match="MaxPool1d: kernel_size is required"):
        nn.MaxPool1d(stride=2)


def test_upsample_matches_torch_and_rejects_what_it_lacks(bk):
    """nn.Upsample / interpolate against PyTorch: nearest by a whole factor (each
    block summed back) and bilinear by 1.5 with align_corners -- values and every
    gradient --; errors."""
    torch = pytest.importorskip("torch")
    for up, tup in ((nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2)),
                    (nn.Upsample(scale_factor=1.5, mode="bilinear", align_corners=True),
                     torch.nn.Upsample(scale_factor=1.5, mode="bilinear", align_corners=True))):
        vg.manual_seed(0)
        _vs_torch(torch, bk, nn.Sequential(up, nn.Conv2d(2, 3, 3, padding=1, device=bk.device, dtype=bk.dtype)),
                  torch.nn.Sequential(tup, torch.nn.Conv2d(2, 3, 3, padding=1)).double(),
                  np.random.default_rng(11).standard_normal((2, 2, 3, 4)))
    x = vg.tensor(np.ones((1, 2, 3, 4)), device="cpu")
    with pytest.raises(ValueError, match="interpolate: mode must be one of nearest, nearest-exact, linear, bilinear, "
                                         "bicubic, trilinear, area, got 'cubic'"):
        vg.interpolate(x, scale_factor=2, mode="cubic")
    with pytest.raises(ValueError, match=r"interpolate: mode 'trilinear' expects input \[N, C, D, H, W\], got "
                                         r"\[1, 2, 3, 4\]"):
        vg.interpolate(x, scale_factor=2, mode="trilinear")
    with pytest.raises(ValueError, match=r"interpolate: mode 'linear' expects input \[N, C, L\], got \[1, 2, 3, 4\]"):
        vg.interpolate(x, scale_factor=2, mode="linear")
    with pytest.raises(ValueError, match="interpolate: align_corners applies to the linear, bilinear, bicubic and trilinear modes only"):
        vg.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match=r"interpolate: scale_factor -1 must be positive numbers"):
        vg.interpolate(x, scale_factor=-1)
    with pytest.raises(ValueError, match=r"interpolate: size \[5\] must be positive ints, one per spatial axis"):
        vg.interpolate(x, size=[5])
    with pytest.raises(ValueError, match="interpolate: give exactly one of size and scale_factor"):
        vg.interpolate(x)


def test_groupnorm_module_matches_torch(bk):
    """GroupNorm (2 groups of 3 channels over 4 x 5 positions, then a convolution)
    against PyTorch: values and every gradient; its errors."""
    torch = pytest.importorskip("torch")
    vg.manual_seed(6)
    gn = nn.GroupNorm(2, 6, device=bk.device, dtype=bk.dtype)
    gn.weight.assign_(np.linspace(0.5, 1.5, 6))
    gn.bias.assign_(np.linspace(-0.3, 0.3, 6))
    _vs_torch(torch, bk, nn.Sequential(gn, nn.Conv2d(6, 2, 1, device=bk.device, dtype=bk.dtype)),
              torch.nn.Sequential(torch.nn.GroupNorm(2, 6), torch.nn.Conv2d(6, 2, 1)).double(),
              np.random.default_rng(12).standard_normal((3, 6, 4, 5)) * 2 + 0.5)
    with pytest.raises(ValueError, match="GroupNorm: num_groups must divide num_channels, got 4 and 6"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="group_norm: num_groups must be a positive int dividing the 6 channels"):
        vg.group_norm(vg.tensor(np.ones((2, 6, 3)), device="cpu"), 4)


def test_conv_transpose2d_module_matches_torch(bk):
    """ConvTranspose2d (stride, padding, output_padding, dilation) in a decoder
    against PyTorch: values and every gradient; its errors."""
    torch = pytest.importorskip("torch")
    vg.manual_seed(7)
    model = nn.Sequential(nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1, device=bk.device,
                                             dtype=bk.dtype), nn.ReLU(),
                          nn.ConvTranspose2d(4, 2, (2, 3), dilation=(1, 2), device=bk.device, dtype=bk.dtype))
    tm = torch.nn.Sequential(torch.nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1), torch.nn.ReLU(),
                             torch.nn.ConvTranspose2d(4, 2, (2, 3), dilation=(1, 2))).double()
    _vs_torch(torch, bk, model, tm, np.random.default_rng(13).standard_normal((2, 3, 4, 5)))
    x = vg.tensor(np.ones((1, 3, 4, 4)), device="cpu")
    with pytest.raises(ValueError, match=r"conv_transpose2d: expected weight \[3, out_channels, kh, kw\]"):
        vg.conv_transpose2d(x, vg.tensor(np.ones((2, 3, 3, 3)), device="cpu"))
    with pytest.raises(ValueError, match="conv_transpose2d: output_padding 2 must be smaller than the stride 2"):
        vg.conv_transpose2d(x, vg.tensor(np.ones((3, 2, 3, 3)), device="cpu"), stride=2, output_padding=2)
    # forward(x, output_size): PyTorch's way to pick output_padding (a U-Net's skip sizes)
    up, tup = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, device=bk.device, dtype=bk.dtype), \
        torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).double()
    xs = np.random.default_rng(3).standard_normal((2, 3, 4, 5))
    def sized(base, m, size):
        class Sized(base):
            def __init__(self):
                super().__init__()
                self.m = m

            def forward(self, a):
                return self.m(a, output_size=size)
        return Sized()
    for size in ((7, 9), (8, 10), [2, 2, 8, 9]):
        _vs_torch(torch, bk, sized(nn.Module, up, size), sized(torch.nn.Module, tup, size), xs)
    with pytest.raises(ValueError, match=r"ConvTranspose2d: output_size \[9, 9\] cannot come from input "
                                         r"\[2, 3, 4, 5\]: each size must lie in \[7, 8\] here"):
        up(bk.t(xs), output_size=(9, 9))


def test_convolutions_of_an_empty_batch(bk):
    """conv2d and conv_transpose2d of a batch of none: outputs [0, C, H, W] of
    PyTorch's shapes, and the weight's and bias's gradients zeros (the CPU's C loops
    leave empty batches to the composition)."""
    torch = pytest.importorskip("torch")
    for op, ws in (("conv2d", (4, 3, 3, 3)), ("conv_transpose2d", (3, 4, 3, 3))):
        ts = [vg.tensor(np.ones(s, np.float32), requires_grad=True, device=bk.device, dtype=bk.dtype)
              for s in ((0, 3, 5, 5), ws, (4,))]
        y = getattr(vg.nn.functional, op)(*ts, stride=2, padding=1)
        tt = [torch.ones(t.shape, requires_grad=True) for t in ts]
        ty = getattr(torch.nn.functional, op)(*tt, stride=2, padding=1)
        assert y.shape == tuple(ty.shape) and y.shape[0] == 0
        (y * 2.0).sum().backward()
        ty.sum().backward()
        for t, u in zip(ts, tt):
            assert t.grad.shape == tuple(u.grad.shape) and not np.abs(t.grad.numpy()).any()


def test_multihead_attention_matches_torch(bk):
    """MultiheadAttention against PyTorch's (f64, the same parameters): batch-first
    self-attention with a causal boolean mask and a key padding mask -- values and
    every gradient --; sequence-first cross-attention with a float mask and the
    head-averaged weights; is_causal; an unbatched call; its errors."""
    torch = pytest.importorskip("torch")
    E, H, N, L = 8, 2, 3, 5
    am, kpm = np.triu(np.ones((L, L), bool), 1), np.zeros((N, L), bool)
    kpm[:, -1] = True

    class SelfAttn(nn.Module):
        def __init__(self, mha):
            super().__init__()
            self.mha = mha

        def forward(self, x):
            return self.mha(x, x, x, attn_mask=am, key_padding_mask=kpm)[0]

    class TorchSelfAttn(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = torch.nn.MultiheadAttention(E, H, batch_first=True)

        def forward(self, x):
            return self.mha(x, x, x, attn_mask=torch.tensor(am), key_padding_mask=torch.tensor(kpm))[0]
    vg.manual_seed(3)
    model, tm = SelfAttn(nn.MultiheadAttention(E, H, batch_first=True, device=bk.device, dtype=bk.dtype)), \
        TorchSelfAttn().double()
    r = np.random.default_rng(14)
    tol = _vs_torch(torch, bk, model, tm, r.standard_normal((N, L, E)))
    cross, tcross = model.mha, tm.mha
    cross.batch_first = tcross.batch_first = False
    q, kv, fm = r.standard_normal((L, N, E)), r.standard_normal((4, N, E)), r.uniform(-1, 0, (L, 4))
    cast = (lambda a: a.astype(np.float16).astype(np.float64)) if bk.dtype == "f16" else (lambda a: a)
    out, w = cross(bk.t(q), bk.t(kv), bk.t(kv), attn_mask=bk.t(fm))
    tout, tw = tcross(*(torch.tensor(cast(a)) for a in (q, kv, kv)), attn_mask=torch.tensor(cast(fm)))
    bk.close(out.numpy(), tout.detach().numpy(), what="cross output", **tol)
    bk.close(w.numpy(), tw.detach().numpy(), what="weights", **tol)
    x = bk.t(r.standard_normal((L, N, E)))  # is_causal without a mask: the causal boolean mask's result
    bk.close(cross(x, x, x, is_causal=True)[0].numpy(), cross(x, x, x, attn_mask=am)[0].numpy(), what="causal",
             rtol=1e-6, atol=1e-6)
    out1, w1 = cross(bk.t(q[:, 0]), bk.t(kv[:, 0]), bk.t(kv[:, 0]), attn_mask=bk.t(fm), need_weights=False)
    assert out1.shape == (L, E) and w1 is None
    bk.close(out1.numpy(), out.numpy()[:, 0], what="unbatched", **tol)
    assert "embed_dim=8, num_heads=2" in repr(cross)
    with pytest.raises(ValueError, match="MultiheadAttention: embed_dim 8 must be a positive multiple of num_heads 3"):
        nn.MultiheadAttention(8, 3)
    with pytest.raises(ValueError, match=r"MultiheadAttention: attn_mask must have shape \[5, 4\] or \[6, 5, 4\]"):
        cross(bk.t(q), bk.t(kv), bk.t(kv), attn_mask=np.zeros((5, 5), bool))
    with pytest.raises(ValueError, match=r"MultiheadAttention: expected query \[L, N, 8\]"):
        cross(bk.t(q[..., :4]), bk.t(kv), bk.t(kv))


def _np_lstm(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """A NumPy transcription of one LSTM layer over x [L, N, in] (PyTorch's gates i, f, g, o)."""
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    out = []
    for xt in x:
        i, f, g, o = np.split(xt @ w_ih.T + b_ih + h @ w_hh.T + b_hh, 4, -1)
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(c)
        out.append(h)
    return np.stack(out), h, c


def test_lstm_against_numpy_and_finite_differences(bk):
    """LSTM without PyTorch: the output and final state against a NumPy transcription
    on every backend (given initial state), every gradient against float64 central
    differences (GRU and RNN too, bidirectional and stacked)."""
    r = np.random.default_rng(30)
    L, N, I, H = 5, 3, 4, 6
    lstm = nn.LSTM(I, H, device=bk.device, dtype=bk.dtype)
    x, h0, c0 = r.standard_normal((L, N, I)), r.standard_normal((1, N, H)), r.standard_normal((1, N, H))
    out, (hn, cn) = lstm(bk.t(x), (bk.t(h0), bk.t(c0)))
    cast = (lambda a: a.astype(np.float16).astype(np.float64)) if bk.dtype == "f16" else (lambda a: a)
    want = _np_lstm(cast(x), cast(h0[0]), cast(c0[0]), *(p.numpy().astype(np.float64) for p in lstm.parameters()))
    tol = dict(rtol=3e-2, atol=3e-2) if bk.dtype == "f16" else {}
    for got, w, what in ((out, want[0], "output"), (hn, want[1][None], "h_n"), (cn, want[2][None], "c_n")):
        bk.close(got.numpy(), w, what=what, **tol)
    if bk.device != "cpu":
        return
    for cls, kw in ((nn.LSTM, dict(num_layers=2, bidirectional=True, proj_size=2)),
                    (nn.GRU, dict(num_layers=2, bidirectional=True, batch_first=True)),
                    (nn.RNN, dict(nonlinearity="relu")), (nn.GRUCell, {}), (nn.LSTMCell, {})):
        ref = cls(I, 3, device="cpu", dtype="f64", **kw)
        names = [n for n, _ in ref.named_parameters()]
        cell = "Cell" in cls.__name__

        def fn(xin, *params):
            for name, p in zip(names, params):
                setattr(ref, name, p)
            y = ref(xin)
            y = list(y) if cell and isinstance(y, tuple) else [y[0]] + (list(y[1]) if isinstance(y[1], tuple)
                                                                        else [y[1]])
            return sum((v * (k + 1.0)).sum() for k, v in enumerate(y if isinstance(y, list) else [y]))
        xin = r.standard_normal((2, I) if cell else (3, 2, I))
        assert vg.gradcheck(fn, [xin] + [p.numpy() for p in ref.parameters()]), cls.__name__


def test_recurrent_layers_match_torch(bk):
    """RNN (tanh / relu), LSTM (stacked, bidirectional, proj_size, given state) and
    GRU (batch_first, bidirectional, stacked) and the three cells against PyTorch's
    in f64 with the same parameters: parameter names and shapes, the output, the
    final states and every gradient; unbatched inputs; dropout between layers in
    training only."""
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(31)
    L, N, I, H = 6, 3, 5, 4
    kw = dict(device=bk.device, dtype=bk.dtype)
    cast = (lambda a: a.astype(np.float16).astype(np.float64)) if bk.dtype == "f16" else (lambda a: a)

    def flat(y):  # outputs and states, all of them, into one vector
        if isinstance(y, (tuple, list)):
            return [v for part in y for v in flat(part)]
        return [y]

    def wrap(m, tm, state, tstate):
        class V(nn.Module):
            def __init__(self):
                super().__init__()
                self.m = m

            def forward(self, x):
                return vg.cat([vg.reshape(v, (-1,)) for v in flat(self.m(x) if state is None else self.m(x, state))])

        class T(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.m = tm

            def forward(self, x):
                return torch.cat([v.reshape(-1) for v in flat(self.m(x) if tstate is None else self.m(x, tstate))])
        return V(), T().double()

    cases = [("RNN", dict(), (L, N, I), None),
             ("RNN", dict(nonlinearity="relu", num_layers=2, bidirectional=True), (L, I), None),
             ("LSTM", dict(num_layers=2, bidirectional=True), (L, N, I), None),
             ("LSTM", dict(proj_size=2, batch_first=True), (N, L, I), ((1, N, 2), (1, N, H))),
             ("LSTM", dict(), (L, I), ((1, H), (1, H))),
             ("GRU", dict(num_layers=2, bidirectional=True, batch_first=True), (N, L, I), (4, N, H)),
             ("RNNCell", dict(), (N, I), (N, H)),
             ("LSTMCell", dict(), (N, I), ((N, H), (N, H))),
             ("GRUCell", dict(bias=False), (I,), (H,))]
    for name, args, xshape, sshape in cases:
        m, tm = getattr(nn, name)(I, H, **args, **kw), getattr(torch.nn, name)(I, H, **args)
        state = tstate = None
        if sshape is not None:
            vals = [r.standard_normal(s) for s in (sshape if isinstance(sshape[0], tuple) else (sshape,))]
            state = tuple(bk.t(v) for v in vals) if len(vals) == 2 else bk.t(vals[0])
            tstate = tuple(torch.tensor(cast(v)) for v in vals) if len(vals) == 2 else torch.tensor(cast(vals[0]))
        v, t = wrap(m, tm, state, tstate)
        assert [n for n, _ in m.named_parameters()] == [n for n, _ in tm.named_parameters()], name
        _vs_torch(torch, bk, v, t, r.standard_normal(xshape))
    lstm = nn.LSTM(I, H, num_layers=3, dropout=0.5, **kw)
    x = bk.t(r.standard_normal((L, N, I)))
    lstm.eval()
    np.testing.assert_array_equal(lstm(x)[0].numpy(), lstm(x)[0].numpy())
    lstm.train()
    assert not np.allclose(lstm(x)[0].numpy(), lstm.eval()(x)[0].numpy())


def test_recurrent_layers_errors_and_repr():
    """Bad sizes, inputs and states name the layer, the shapes and what was expected."""
    with pytest.raises(ValueError, match="LSTM: proj_size must be an integer in \\[0, hidden_size = 4\\), got 4"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="RNN: nonlinearity must be 'tanh' or 'relu', got 'gelu'"):
        nn.RNN(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="GRU: num_layers must be a positive integer, got 0"):
        nn.GRU(3, 4, num_layers=0)
    with pytest.raises(ValueError, match="GRUCell: hidden_size must be a positive integer, got 0"):
        nn.GRUCell(3, 0)
    with pytest.warns(UserWarning, match="dropout only acts between layers"):
        nn.GRU(3, 4, dropout=0.2)
    gru = nn.GRU(3, 4, batch_first=True, device="cpu")
    with pytest.raises(ValueError, match=r"GRU: expected input \[L, N, 3\] \(\[N, L, 3\] with batch_first, or "
                                         r"unbatched \[L, 3\]\), got \[2, 5, 4\]"):
        gru(vg.zeros(2, 5, 4, device="cpu"))
    with pytest.raises(ValueError, match=r"GRU: h_0 has shape \[1, 5, 4\], expected \[1, 2, 4\] for input of "
                                         r"shape \[2, 5, 3\]"):
        gru(vg.zeros(2, 5, 3, device="cpu"), vg.zeros(1, 5, 4, device="cpu"))
    with pytest.raises(ValueError, match=r"GRU: the input sequence is empty \(shape \[2, 0, 3\]\)"):
        gru(vg.zeros(2, 0, 3, device="cpu"))
    with pytest.raises(TypeError, match="LSTM: hx must be a pair \\(h_0, c_0\\), got Tensor"):
        nn.LSTM(3, 4, device="cpu")(vg.zeros(2, 1, 3, device="cpu"), vg.zeros(1, 1, 4, device="cpu"))
    with pytest.raises(ValueError, match=r"LSTMCell: c has shape \[4\], expected \[2, 4\]"):
        nn.LSTMCell(3, 4, device="cpu")(vg.zeros(2, 3, device="cpu"), (vg.zeros(2, 4, device="cpu"),
                                                                        vg.zeros(4, device="cpu")))
    with pytest.raises(ValueError, match=r"RNNCell: expected input \[N, 3\] or \[3\], got \[2, 2\]"):
        nn.RNNCell(3, 4, device="cpu")(vg.zeros(2, 2, device="cpu"))
    assert repr(nn.LSTM(3, 4, num_layers=2, bidirectional=True)) == "LSTM(3, 4, num_layers=2, bidirectional=True)"
    assert repr(nn.RNNCell(3, 4, nonlinearity="relu")) == "RNNCell(3, 4, nonlinearity='relu')"


def test_loss_and_activation_modules_match_torch_and_check_arguments():
    """The loss modules (PyTorch's names, arguments and defaults) against PyTorch's
    on the same inputs; PReLU's parameter learns like PyTorch's; bad arguments name
    the op and what was expected."""
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(40)
    x, y = r.standard_normal((6, 4)), r.standard_normal((6, 4))
    labels = np.array([0, 3, 1, -100, 2, 2])
    logp = x - np.log(np.exp(x).sum(1, keepdims=True))
    probs, t01 = 1 / (1 + np.exp(-x)), r.uniform(0, 1, (6, 4))
    w = r.uniform(0.5, 2.0, 4)
    cases = [("MSELoss", dict(reduction="sum"), x, y), ("L1Loss", {}, x, y), ("SmoothL1Loss", dict(beta=0.5), x, y),
             ("HuberLoss", dict(delta=0.7, reduction="none"), x, y), ("BCELoss", {}, probs, t01),
             ("BCEWithLogitsLoss", dict(pos_weight=w), x, t01), ("NLLLoss", dict(weight=w), logp, labels),
             ("KLDivLoss", dict(reduction="batchmean"), logp, probs / probs.sum(1, keepdims=True)),
             ("CrossEntropyLoss", dict(label_smoothing=0.2, weight=w), x, labels),
             ("CrossEntropyLoss", dict(reduction="none"), x, np.where(labels < 0, 0, labels))]
    for name, kw, a, b in cases:
        tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        xa = vg.tensor(a, requires_grad=True, device="cpu", dtype="f64")
        got = getattr(nn, name)(**kw)(xa, b)
        ta = torch.tensor(a, requires_grad=True)
        want = getattr(torch.nn, name)(**tkw)(ta, torch.tensor(b))
        np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-12, atol=1e-12, err_msg=name)
        got.sum().backward()
        want.sum().backward()
        np.testing.assert_allclose(xa.grad.numpy(), ta.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
    # a weighted loss keeps its weights as buffers, as PyTorch's: in the state dict, moved by .to()
    tw = vg.tensor(w, device="cpu")
    assert list(nn.CrossEntropyLoss(weight=tw).state_dict()) == list(torch.nn.CrossEntropyLoss(
        weight=torch.tensor(w)).state_dict()) == ["weight"]
    assert list(nn.BCEWithLogitsLoss(tw, pos_weight=tw).state_dict()) == ["weight", "pos_weight"]
    assert list(nn.NLLLoss().state_dict()) == [] and nn.NLLLoss().weight is None
    assert nn.MultiMarginLoss(weight=tw).to(dtype="f64").weight.dtype == "f64"
    pr, tpr = nn.PReLU(4, init=0.1, device="cpu", dtype="f64"), torch.nn.PReLU(4, init=0.1).double()
    xi = r.standard_normal((3, 4, 5))
    pr(vg.tensor(xi, device="cpu", dtype="f64")).sum().backward()
    tpr(torch.tensor(xi)).sum().backward()
    np.testing.assert_allclose(pr.weight.grad.numpy(), tpr.weight.grad.numpy(), rtol=1e-12)
    assert [n for n, _ in pr.named_parameters()] == ["weight"]
    with pytest.raises(ValueError, match="mse_loss: reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        nn.MSELoss(reduction="avg")(vg.tensor(x), y)
    with pytest.raises(TypeError, match=r"L1Loss: unexpected arguments \['beta'\]"):
        nn.L1Loss(beta=1.0)
    with pytest.raises(ValueError, match="softmax_cross_entropy: label_smoothing must lie in \\[0, 1\\], got 1.5"):
        vg.softmax_cross_entropy(vg.tensor(x), labels, label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"nll_loss: weight must have shape \[4\] \(one per class\), got \[3\]"):
        vg.nll_loss(vg.tensor(logp), labels, weight=np.ones(3))
    with pytest.raises(TypeError, match=r"nll_loss: targets must be integer class labels \[batch\]"):
        vg.nll_loss(vg.tensor(logp), np.zeros(6))
    with pytest.raises(ValueError, match=r"prelu: weight must have shape \[1\] or \[4\] \(the channels of input "
                                         r"\[6, 4\]\), got \[3\]"):
        vg.prelu(vg.tensor(x), vg.tensor(np.ones(3)))
    with pytest.raises(ValueError, match="kl_div: reduction must be 'mean', 'batchmean', 'sum' or 'none'"):
        vg.kl_div(vg.tensor(logp), probs, reduction="avg")
    with pytest.raises(ValueError, match="hardtanh: min_val 1.0 must be below max_val 1.0"):
        vg.hardtanh(vg.tensor(x), 1.0, 1.0)
    with pytest.raises(ValueError, match="huber_loss: delta must be > 0, got 0"):
        vg.huber_loss(vg.tensor(x), y, delta=0)


def test_module_and_parameter_containers():
    """ModuleDict / ParameterDict / ParameterList register their entries with the
    owner (names as PyTorch's, state dicts round-trip, optimizers see them);
    Unflatten inverts Flatten; bad keys and shapes are named."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.heads = nn.ModuleDict({"a": nn.Linear(3, 2), "b": nn.Linear(3, 4)})
            self.scales = nn.ParameterList([np.ones(2), vg.tensor(np.ones(4))])
            self.extra = nn.ParameterDict({"bias": np.zeros(2)})

        def forward(self, x):
            return self.heads["a"](x) * self.scales[0] + self.extra["bias"]
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["heads.a.weight", "heads.a.bias", "heads.b.weight", "heads.b.bias", "scales.0", "scales.1",
                     "extra.bias"], names
    assert list(net.heads.keys()) == ["a", "b"] and "b" in net.heads and len(net.scales) == 2
    sd = net.state_dict()
    other = Net()
    other.load_state_dict(sd)
    x = vg.tensor(np.random.default_rng(0).standard_normal((5, 3)))
    np.testing.assert_array_equal(other(x).numpy(), net(x).numpy())
    grads = vg.backward(net(x).sum())
    assert grads.of(net.extra["bias"]) is not None and grads.of(net.scales[0]) is not None
    popped = net.heads.pop("b")
    assert isinstance(popped, nn.Linear) and [n for n, _ in net.named_parameters()][:2] == ["heads.a.weight",
                                                                                             "heads.a.bias"]
    assert len(net.parameters()) == 5
    with pytest.raises(KeyError, match="ModuleDict: key 'keys' clashes with an attribute of ModuleDict"):
        net.heads["keys"] = nn.Identity()
    with pytest.raises(KeyError, match="ModuleDict: keys must be non-empty strings without '.'"):
        net.heads["a.b"] = nn.Identity()
    with pytest.raises(TypeError, match="ModuleDict: expected a Module, got int"):
        net.heads["c"] = 3
    flat = vg.tensor(np.arange(24.0).reshape(2, 3, 4))
    u = nn.Unflatten(1, (3, 4))(nn.Flatten()(flat))
    np.testing.assert_array_equal(u.numpy(), flat.numpy())
    np.testing.assert_array_equal(nn.Unflatten(1, (2, -1))(nn.Flatten()(flat)).numpy(), flat.numpy().reshape(2, 2, 6))
    with pytest.raises(ValueError, match=r"unflatten: sizes \[5, 2\] do not split axis 1 of length 12"):
        nn.Unflatten(1, (5, 2))(nn.Flatten()(flat))


def test_parameter_vectors_and_pad_sequence(bk):
    """parameters_to_vector / vector_to_parameters round-trip (in place); pad_sequence
    pads to the longest and stacks, its gradient back to each sequence."""
    lin = nn.Linear(3, 2, device=bk.device, dtype=bk.dtype)
    vec = nn.utils.parameters_to_vector(lin.parameters())
    assert vec.shape == (8,)
    w = lin.weight
    nn.utils.vector_to_parameters(vec * 0.0 + 1.0, lin.parameters())
    assert lin.weight is w and np.all(lin.weight.numpy() == 1) and np.all(lin.bias.numpy() == 1)
    with pytest.raises(ValueError, match="vector_to_parameters: expected a 1-d tensor of 8 values"):
        nn.utils.vector_to_parameters(vec[:3], lin.parameters())
    r = np.random.default_rng(3)
    seqs = [r.standard_normal((n, 2)) for n in (3, 1, 4)]
    ts = [bk.t(s, requires_grad=True) for s in seqs]
    out = nn.utils.rnn.pad_sequence(ts, batch_first=True, padding_value=-1.0)
    want = np.full((3, 4, 2), -1.0)
    for i, s in enumerate(seqs):
        want[i, :len(s)] = s
    bk.close(out.numpy(), want.astype(np.float16) if bk.dtype == "f16" else want, what="padded")
    assert nn.utils.rnn.pad_sequence(ts).shape == (4, 3, 2)
    (out * 2.0).sum().backward()
    for t, s in zip(ts, seqs):
        bk.close(t.grad.numpy(), np.full(s.shape, 2.0), what="pad_sequence gradient")


def test_3d_layers_match_torch(bk):
    """Conv3d (groups, dilation, reflect padding), MaxPool3d, AvgPool3d and
    BatchNorm3d against PyTorch's in f64 with the same parameters: values and every
    gradient; their errors."""
    torch = pytest.importorskip("torch")
    kw = dict(device=bk.device, dtype=bk.dtype)
    r = np.random.default_rng(50)
    # (no bias before the batch norm: its gradient is zero, f32 leaves round-off)
    for make in ((lambda m: m.Sequential(m.Conv3d(4, 6, (3, 2, 3), stride=(2, 1, 1), padding=1, dilation=(1, 2, 1),
                                                          groups=2, **({} if m is torch.nn else kw)),
                                                m.ReLU(), m.MaxPool3d(2, ceil_mode=True))),
                        (lambda m: m.Sequential(m.Conv3d(4, 3, 3, padding="same", padding_mode="reflect", bias=False,
                                                          **({} if m is torch.nn else kw)),
                                                m.BatchNorm3d(3, **({} if m is torch.nn else kw)),
                                                m.AvgPool3d(2, stride=(1, 2, 2), padding=1, count_include_pad=False)))):
        model, tm = make(nn), make(torch.nn).double()
        assert [n for n, _ in model.named_parameters()] == [n for n, _ in tm.named_parameters()]
        _vs_torch(torch, bk, model, tm, r.standard_normal((2, 4, 6, 7, 5)))
    with pytest.raises(ValueError, match=r"conv3d: expected weight \[out_channels, 4, kd, kh, kw\]"):
        vg.conv3d(vg.zeros(1, 4, 3, 3, 3, device="cpu"), vg.zeros(2, 3, 1, 1, 1, device="cpu"))
    with pytest.raises(ValueError, match=r"max_pool3d: expected input \[N, C, D, H, W\] \(or \[C, D, H, W\]\)"):
        vg.max_pool3d(vg.zeros(2, 3, 4, device="cpu"), 2)
    with pytest.raises(ValueError, match="BatchNorm3d: expected a 5-d input"):
        nn.BatchNorm3d(3)(vg.zeros(2, 3, 4, 4, device="cpu"))


def test_shape_padding_and_instance_modules(bk):
    """PixelShuffle / PixelUnshuffle (inverses), GLU, Softmin, CosineSimilarity,
    PairwiseDistance, AdaptiveAvgPool1d, AdaptiveMaxPool1d / 2d, the padding modules, Dropout1d / 3d and
    InstanceNorm1d / 2d / 3d (running statistics too) against PyTorch's in f64 on
    every backend; without torch, the shuffles' round trip."""
    r = np.random.default_rng(60)
    kw = dict(device=bk.device, dtype=bk.dtype)
    x4 = r.standard_normal((2, 8, 3, 5))
    back = nn.PixelUnshuffle(2)(nn.PixelShuffle(2)(bk.t(x4)))
    bk.close(back.numpy(), x4.astype(np.float16) if bk.dtype == "f16" else x4, what="shuffle round trip")
    drop = nn.Dropout3d(0.5)
    y = drop(bk.t(np.ones((4, 6, 2, 3, 2))))  # whole channels kept or dropped
    per_channel = y.numpy().reshape(24, -1)
    assert all(len(set(row.tolist())) == 1 for row in per_channel) and set(per_channel[:, 0].tolist()) <= {0.0, 2.0}
    torch = pytest.importorskip("torch")
    x3, x5 = r.standard_normal((2, 4, 9)), r.standard_normal((2, 3, 4, 5, 6))
    cases = [("PixelShuffle", (2,), x4), ("GLU", (1,), x4), ("Softmin", (1,), x4), ("AdaptiveAvgPool1d", (4,), x3),
             ("ReflectionPad2d", ((1, 2, 2, 0),), x4), ("ReplicationPad3d", (1,), x5),
             ("ConstantPad1d", ((2, 1), 0.5), x3), ("CircularPad2d", (1,), x4),
             ("AdaptiveMaxPool2d", ((2, 3),), x4), ("AdaptiveMaxPool1d", (4,), x3)]
    for name, args, x in cases:
        _vs_torch(torch, bk, getattr(nn, name)(*args), getattr(torch.nn, name)(*args), x)
    for n, x in ((1, x3), (2, x4), (3, x5)):
        m = getattr(nn, f"InstanceNorm{n}d")(x.shape[1], affine=True, track_running_stats=True, **kw)
        tm = getattr(torch.nn, f"InstanceNorm{n}d")(x.shape[1], affine=True, track_running_stats=True).double()
        for p in m.parameters():
            p.assign_(p.numpy() + r.uniform(-0.3, 0.3, p.shape))
        tol = _vs_torch(torch, bk, m, tm, x)
        bk.close(m.running_var.numpy(), tm.running_var.numpy(), what="running var", **tol)
        assert int(m.state_dict()["num_batches_tracked"]) == int(tm.num_batches_tracked) == 0  # (not counted)
        m.eval()
        tm.eval()
        _vs_torch(torch, bk, m, tm, x)

    class Pair(nn.Module):
        def __init__(self, mod):
            super().__init__()
            self.mod = mod

        def forward(self, a):
            return self.mod(a, a * 0.5 + 1.0)
    for m, tm in ((nn.CosineSimilarity(dim=1), torch.nn.CosineSimilarity(dim=1)),
                  (nn.PairwiseDistance(p=1.0), torch.nn.PairwiseDistance(p=1.0))):
        _vs_torch(torch, bk, Pair(m), Pair(tm), x3)
    with pytest.raises(ValueError, match=r"pixel_shuffle: expected \[\*, C \* 3\^2, H, W\], got \[2, 8, 3, 5\]"):
        nn.PixelShuffle(3)(bk.t(x4))
    with pytest.raises(ValueError, match="ZeroPad2d: padding must be an int or 4 ints, got \\(1, 2\\)"):
        nn.ZeroPad2d((1, 2))
    with pytest.raises(ValueError, match="InstanceNorm2d: expected a 3-d or 4-d input"):
        nn.InstanceNorm2d(3)(bk.t(x3[0]))


def test_packed_sequences(bk):
    """Packed variable-length batches (pack_padded_sequence with any order of lengths,
    pad_packed_sequence, pack_sequence) through bidirectional, stacked LSTM and GRU
    and RNN: each row's outputs and final states as when the sequence runs alone
    (without torch), and against PyTorch's packed sequences in f64 (outputs, states,
    every gradient); PyTorch's packed layout (data, batch_sizes)."""
    R = nn.utils.rnn
    r = np.random.default_rng(70)
    T, B, I, H = 6, 4, 3, 5
    lens = np.array([4, 6, 1, 3])
    x = r.standard_normal((B, T, I))
    kw = dict(device=bk.device, dtype=bk.dtype)
    tol = dict(rtol=3e-2, atol=3e-2) if bk.dtype == "f16" else {}
    cases = [("LSTM", dict(num_layers=2, bidirectional=True)), ("GRU", dict(bidirectional=True)),
             ("RNN", dict(num_layers=2)), ("LSTM", dict(proj_size=2, bidirectional=True))]
    for cls, args in cases:
        m = getattr(nn, cls)(I, H, batch_first=True, **args, **kw)
        out, st = m(R.pack_padded_sequence(bk.t(x), lens, batch_first=True, enforce_sorted=False))
        y, ylen = R.pad_packed_sequence(out, batch_first=True, padding_value=-7.0)
        assert ylen.tolist() == lens.tolist() and y.shape[:2] == (B, T)
        hn = (st[0] if isinstance(st, tuple) else st).numpy()
        for b in range(B):  # the row alone, unbatched and unpadded
            yb, sb = m(bk.t(x[b, :lens[b]]))
            bk.close(y.numpy()[b, :lens[b]], yb.numpy(), what=f"{cls} row {b} outputs", **tol)
            assert np.all(y.numpy()[b, lens[b]:] == -7.0)
            bk.close(hn[:, b], (sb[0] if isinstance(sb, tuple) else sb).numpy(), what=f"{cls} row {b} h_n", **tol)
    packed = R.pack_sequence([bk.t(x[b, :n]) for b, n in enumerate(lens)], enforce_sorted=False)
    assert packed.batch_sizes.tolist() == [4, 3, 3, 2, 1, 1] and packed.data.shape == (14, I)
    for b, (seq, n) in enumerate(zip(R.unpack_sequence(packed), lens)):
        bk.close(seq.numpy(), x[b, :n].astype(np.float16) if bk.dtype == "f16" else x[b, :n], what="unpacked")
    assert [t.shape for t in R.unpad_sequence(bk.t(x), lens, batch_first=True)] == [(n, I) for n in lens]
    with pytest.raises(ValueError, match="must be sorted in decreasing order when enforce_sorted is True"):
        R.pack_padded_sequence(bk.t(x), lens, batch_first=True)
    with pytest.raises(ValueError, match=r"pack_padded_sequence: lengths must be 4 integers in \[1, 6\]"):
        R.pack_padded_sequence(bk.t(x), [7, 1, 1, 1], batch_first=True, enforce_sorted=False)
    torch = pytest.importorskip("torch")
    TR = torch.nn.utils.rnn
    cast = (lambda a: a.astype(np.float16).astype(np.float64)) if bk.dtype == "f16" else (lambda a: a)
    for cls, args in cases:
        m = getattr(nn, cls)(I, H, batch_first=True, **args, **kw)
        tm = getattr(torch.nn, cls)(I, H, batch_first=True, **args).double()
        with torch.no_grad():
            for (n, p), (tn, tp) in zip(m.named_parameters(), tm.named_parameters()):
                tp.copy_(torch.tensor(p.numpy().astype(np.float64)))
        xt, tx = bk.t(x, requires_grad=True), torch.tensor(cast(x), requires_grad=True)
        out, st = m(R.pack_padded_sequence(xt, lens, batch_first=True, enforce_sorted=False))
        tout, tst = tm(TR.pack_padded_sequence(tx, torch.tensor(lens), batch_first=True, enforce_sorted=False))
        ys = [R.pad_packed_sequence(out, batch_first=True)[0]] + list(st if isinstance(st, tuple) else (st,))
        tys = [TR.pad_packed_sequence(tout, batch_first=True)[0]] + list(tst if isinstance(tst, tuple) else (tst,))
        loss, tloss = 0.0, 0.0
        for k, (a, b) in enumerate(zip(ys, tys)):
            bk.close(a.numpy(), b.detach().numpy(), what=f"{cls} output {k}", **tol)
            w = np.cos(np.arange(a.size) + k).reshape(a.shape)
            loss, tloss = loss + (a * bk.t(w)).sum(), tloss + (b * torch.tensor(w)).sum()
        loss.backward()
        tloss.backward()
        bk.close(xt.grad.numpy(), tx.grad.numpy(), what=f"{cls} input grad", **tol)
        for (n, p), tp in zip(m.named_parameters(), tm.parameters()):
            scale = max(1.0, float(tp.grad.abs().max()))
            bk.close(p.grad.numpy(), tp.grad.numpy(), what=f"{cls} {n} grad", rtol=tol.get("rtol", 1e-4),
                     atol=tol.get("atol", 1e-5) * scale)


def test_margin_and_likelihood_losses_and_shrink_modules_match_torch():
    """The margin / likelihood loss modules and the shrink activations against
    PyTorch's in f64: values and gradients of every input; bad shapes name the op."""
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(41)
    x, x2, x3 = (r.standard_normal((6, 4)) for _ in range(3))
    ypm = r.choice([-1.0, 1.0], 6)
    labels = np.array([0, 3, 1, 2, 2, 0])
    multi = (r.uniform(0, 1, (6, 4)) > 0.5).astype(float)
    w = r.uniform(0.5, 2.0, 4)
    v = r.uniform(0.1, 2.0, (6, 4))
    cases = [("MarginRankingLoss", dict(margin=0.2), (x[:, 0], x2[:, 0], ypm), 2),
             ("HingeEmbeddingLoss", dict(margin=0.8, reduction="sum"), (x, np.sign(x2)), 1),
             ("SoftMarginLoss", {}, (x, np.sign(x2)), 1),
             ("CosineEmbeddingLoss", dict(margin=0.1), (x, x2, ypm), 2),
             ("TripletMarginLoss", dict(margin=1.5, swap=True, reduction="none"), (x, x2, x3), 3),
             ("TripletMarginLoss", dict(p=1.0), (x, x2, x3), 3),
             ("MultiMarginLoss", dict(margin=2.0, weight=w), (x, labels), 1),
             ("MultiMarginLoss", dict(p=2), (x, labels), 1),
             ("MultiLabelSoftMarginLoss", dict(weight=w), (x, multi), 1),
             ("MultiMarginLoss", dict(p=2, weight=w, reduction="none"), (x[0], labels[1]), 1),  # (unbatched rows)
             ("MultiLabelSoftMarginLoss", dict(reduction="none"), (x[0], multi[0]), 1),
             ("KLDivLoss", dict(reduction="none"), (x, x2), 1),  # (NaN at negative targets, as PyTorch's)
             ("PoissonNLLLoss", dict(full=True), (x, np.abs(x2) * 3), 1),
             ("PoissonNLLLoss", dict(log_input=False), (np.abs(x) + 0.1, np.abs(x2)), 1),
             ("GaussianNLLLoss", dict(full=True), (x, x2, v), 3),
             ("GaussianNLLLoss", dict(eps=0.5), (x, x2, v[:, :1]), 3),
             ("GaussianNLLLoss", {}, (x, x2, v[:, 0]), 3),
             ("Tanhshrink", {}, (x,), 1), ("Softshrink", dict(lambd=0.3), (x,), 1), ("Hardshrink", {}, (x,), 1),
             ("Softplus", dict(beta=2.0, threshold=1.0), (x,), 1), ("Softplus", {}, (x * 15,), 1),
             ("GELU", dict(approximate="tanh"), (x,), 1), ("LeakyReLU", dict(negative_slope=0.2), (x,), 1),
             ("ELU", dict(alpha=0.7), (x,), 1), ("CELU", dict(alpha=0.5), (x,), 1)]  # (1 / alpha exact in f32: PyTorch's)
    for name, kw, args, n_diff in cases:  # the first n_diff arguments differentiated, the rest targets
        tkw = {k: torch.tensor(a) if isinstance(a, np.ndarray) else a for k, a in kw.items()}
        diff = [i < n_diff for i in range(len(args))]
        vs = [vg.tensor(a, requires_grad=True, device="cpu", dtype="f64") if d else a for a, d in zip(args, diff)]
        ts = [torch.tensor(a, requires_grad=d) for a, d in zip(args, diff)]
        got = getattr(nn, name)(**kw)(*vs)
        want = getattr(torch.nn, name)(**tkw)(*ts)
        np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-12, atol=1e-12, err_msg=name)
        vg.set_check_finite(False)  # (the NaN losses)
        try:
            got.sum().backward()
        finally:
            vg.set_check_finite(True)
        want.sum().backward()
        for i, (a, b) in enumerate(zip(vs, ts)):
            if isinstance(a, vg.Tensor):
                np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12,
                                           err_msg=f"{name} grad {i}")
    for act, tact in ((nn.ReLU(inplace=True), torch.nn.ReLU()), (nn.SiLU(True), torch.nn.SiLU()),
                      (nn.LeakyReLU(0.1, inplace=True), torch.nn.LeakyReLU(0.1)),
                      (nn.Hardtanh(inplace=True), torch.nn.Hardtanh()), (nn.Dropout(0.3, inplace=True).eval(), None),
                      (nn.Threshold(0.1, -3.0, True), torch.nn.Threshold(0.1, -3.0))):
        xi = vg.tensor(x, device="cpu")  # inplace=True overwrites the input, as PyTorch's
        assert act(xi) is xi
        want = x if tact is None else tact(torch.tensor(x, dtype=torch.float32)).numpy()
        np.testing.assert_allclose(xi.numpy(), want, rtol=1e-6, atol=1e-7)
    # ... and in a graph: the input (a non-leaf) takes the op's place, its views see it
    xg = vg.tensor(x, device="cpu", requires_grad=True)
    h = xg * 2.0
    flat = h.reshape(-1)
    vg.nn.functional.relu(h, inplace=True)
    np.testing.assert_array_equal(flat.numpy(), np.maximum(2 * x, 0).reshape(-1).astype(np.float32))
    flat.sum().backward()
    np.testing.assert_array_equal(xg.grad.numpy(), np.where(x > 0, 2.0, 0.0))
    with pytest.raises(RuntimeError, match="relu_: an in-place change of a leaf tensor that requires grad"):
        nn.ReLU(inplace=True)(xg)
    with pytest.raises(TypeError, match=r"Sigmoid: expected at most 0 arguments \(\), got 1"):
        nn.Sigmoid(True)
    with pytest.raises(ValueError, match="softplus: beta must be > 0, got 0"):
        nn.Softplus(beta=0)(vg.tensor(x))
    thr, tthr = nn.Threshold(0.1, -3.0), torch.nn.Threshold(0.1, -3.0)
    np.testing.assert_array_equal(thr(vg.tensor(x, device="cpu", dtype="f64")).numpy(),
                                  tthr(torch.tensor(x)).numpy())
    with pytest.raises(ValueError, match=r"multi_margin_loss: target has shape \[5\], expected \[6\]"):
        nn.MultiMarginLoss()(vg.tensor(x), labels[:5])
    with pytest.raises(ValueError, match=r"multi_margin_loss: target must lie in \[0, 4\), got values in \[0, 7\]"):
        vg.multi_margin_loss(vg.tensor(x), np.array([0, 7, 1, 2, 2, 0]))
    with pytest.raises(ValueError, match=r"gaussian_nll_loss: var has shape \[6, 2\], expected the input's shape"):
        vg.gaussian_nll_loss(vg.tensor(x), x2, v[:, :2])
    with pytest.raises(ValueError, match=r"cosine_embedding_loss: target has shape \[5\], expected \[6\]"):
        vg.cosine_embedding_loss(vg.tensor(x), x2, ypm[:5])
    with pytest.raises(ValueError, match=r"margin_ranking_loss: target has shape \[5\], expected the input1's"):
        vg.margin_ranking_loss(vg.tensor(x[:, 0]), x2[:, 0], ypm[:5])
    with pytest.raises(ValueError, match=r"multi_margin_loss: p must be 1 or 2, got 3"):
        vg.multi_margin_loss(vg.tensor(x), labels, p=3)


def test_math_ops_match_torch():
    """The elementwise math and diagonal ops against PyTorch in f64 (values and
    gradients)."""
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(42)
    a = r.uniform(-3, 3, (4, 5))
    pos = r.uniform(0.2, 3, (4, 5))
    for name, arr in [("sin", a), ("cos", a), ("tan", a / 3), ("sinh", a), ("cosh", a), ("log1p", pos),
                      ("expm1", a), ("erf", a), ("exp2", a), ("log2", pos), ("log10", pos), ("reciprocal", pos),
                      ("rsqrt", pos), ("square", a), ("sign", a), ("floor", a), ("ceil", a), ("round", a * 2),
                      ("trunc", a), ("frac", a), ("trace", a), ("diagonal", a)]:
        xv = vg.tensor(arr, requires_grad=True, device="cpu", dtype="f64")
        xt = torch.tensor(arr, requires_grad=True)
        got, want = getattr(xv, name)(), getattr(xt, name)()
        np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-13, atol=1e-14, err_msg=name)
        (got * got).sum().backward()
        (want * want).sum().backward()
        np.testing.assert_allclose(xv.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-14, err_msg=name)
    for k in (-2, 0, 1):
        np.testing.assert_array_equal(vg.diag(vg.tensor(a[0], device="cpu", dtype="f64"), k).numpy(),
                                      torch.diag(torch.tensor(a[0]), k).numpy())
    b = r.standard_normal((3, 4, 4, 2))
    np.testing.assert_allclose(vg.diagonal(vg.tensor(b, device="cpu", dtype="f64"), -1, 2, 1).numpy(),
                               torch.diagonal(torch.tensor(b), -1, 2, 1).numpy())
    np.testing.assert_allclose(vg.einsum("aiib->ab", vg.tensor(b, device="cpu", dtype="f64")).numpy(),
                               torch.einsum("aiib->ab", torch.tensor(b)).numpy(), rtol=1e-13)
    idx = r.integers(0, 4, (3, 2, 4, 2))
    xv, xt = vg.tensor(b, requires_grad=True, device="cpu", dtype="f64"), torch.tensor(b, requires_grad=True)
    sv, st = (vg.tensor(b[:, :1], requires_grad=True, device="cpu", dtype="f64"),
              torch.tensor(b[:, :1], requires_grad=True))
    got = vg.gather(xv, 2, idx) * 2 + vg.scatter_add(xv, 1, idx[:, :1], sv).sum() + vg.take_along_dim(
        xv, idx[:1, :1, :, :1], 2).sum()
    want = torch.gather(xt, 2, torch.tensor(idx)) * 2 + torch.scatter_add(xt, 1, torch.tensor(idx[:, :1]), st).sum() \
        + torch.take_along_dim(xt, torch.tensor(idx[:1, :1, :, :1]), 2).sum()
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-13)
    (got * got).sum().backward()
    (want * want).sum().backward()
    np.testing.assert_allclose(xv.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(sv.grad.numpy(), st.grad.numpy(), rtol=1e-12)
    xv, xt = vg.tensor(b, requires_grad=True, device="cpu", dtype="f64"), torch.tensor(b, requires_grad=True)
    outs = [vg.sort(xv, 1, descending=True), vg.topk(xv, 2, dim=2, largest=False), vg.kthvalue(xv, 3, 1)]
    touts = [torch.sort(xt, 1, descending=True), torch.topk(xt, 2, dim=2, largest=False), torch.kthvalue(xt, 3, 1)]
    for (v, i), (tv, ti) in zip(outs, touts):
        np.testing.assert_array_equal(v.numpy(), tv.detach().numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
    sum(((v * v).sum() for v, _ in outs), vg.tensor(0.0, device="cpu", dtype="f64")).backward()
    sum((v * v).sum() for v, _ in touts).backward()
    np.testing.assert_allclose(xv.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


def test_more_layers_match_torch():
    """ConvTranspose1d, Unfold, Fold, ChannelShuffle, LocalResponseNorm, Softmax2d,
    Bilinear and EmbeddingBag against PyTorch's modules with the same weights, in f64:
    values and every gradient; parameter shapes and bad arguments."""
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(43)
    x4, x3 = r.standard_normal((2, 6, 5, 4)), r.standard_normal((2, 4, 7))
    idx, off = np.array([1, 4, 4, 0, 2, 3, 3, 1]), np.array([0, 2, 2, 5, 8])
    psw = r.uniform(0.5, 1.5, 8)
    cases = [(nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=2),
              torch.nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=2), (x3,)),
             (nn.Unfold((2, 3), dilation=(1, 2), padding=1, stride=2), torch.nn.Unfold((2, 3), (1, 2), 1, 2), (x4,)),
             (nn.Fold((5, 4), 2, padding=1), torch.nn.Fold((5, 4), 2, padding=1), (r.standard_normal((2, 12, 30)),)),
             (nn.ChannelShuffle(3), torch.nn.ChannelShuffle(3), (x4,)),
             (nn.LocalResponseNorm(4, 0.3, 0.6, 1.5), torch.nn.LocalResponseNorm(4, 0.3, 0.6, 1.5), (x4,)),
             (nn.Softmax2d(), torch.nn.Softmax2d(), (x4,)),
             (nn.Bilinear(4, 7, 3), torch.nn.Bilinear(4, 7, 3), (x3[:, :, 0], x3[:, 0])),
             (nn.EmbeddingBag(5, 3, mode="sum"), torch.nn.EmbeddingBag(5, 3, mode="sum"), (idx, off[:-1], psw)),
             (nn.EmbeddingBag(5, 3, mode="max", include_last_offset=True),
              torch.nn.EmbeddingBag(5, 3, mode="max", include_last_offset=True), (idx, off)),
             (nn.EmbeddingBag(5, 3, padding_idx=4), torch.nn.EmbeddingBag(5, 3, padding_idx=4), (idx.reshape(2, 4),)),
             (nn.EmbeddingBag(5, 3, max_norm=1.0, norm_type=3.0, mode="sum"),
              torch.nn.EmbeddingBag(5, 3, max_norm=1.0, norm_type=3.0, mode="sum"), (idx, off[:-1])),
             (nn.EmbeddingBag(5, 3, scale_grad_by_freq=True),  # (a repeated index sorting last: PyTorch's CPU
              torch.nn.EmbeddingBag(5, 3, scale_grad_by_freq=True), (idx[:4].reshape(2, 2),))]  # kernel is right here)
    for mine, theirs, args in cases:
        name = type(mine).__name__
        mine.to(device="cpu", dtype="f64")
        theirs.double()
        for (pn, p), (tn, tp) in zip(mine.named_parameters(), theirs.named_parameters()):
            assert pn == tn and p.shape == tuple(tp.shape), (name, pn, tn)
            with torch.no_grad():
                tp.copy_(torch.tensor(p.numpy()))
        floats = [a.dtype.kind == "f" for a in args]
        vs = [vg.tensor(a, requires_grad=True, device="cpu", dtype="f64") if f else a for a, f in zip(args, floats)]
        ts = [torch.tensor(a, requires_grad=f) for a, f in zip(args, floats)]
        got, want = mine(*vs), theirs(*ts)
        np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-12, atol=1e-13, err_msg=name)
        proj = r.standard_normal(want.shape)
        (got * vg.tensor(proj, device="cpu", dtype="f64")).sum().backward()
        (want * torch.tensor(proj)).sum().backward()
        for a, b in zip(vs + list(mine.parameters()), ts + list(theirs.parameters())):
            if isinstance(a, vg.Tensor):
                np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-11, atol=1e-13, err_msg=name)
    with pytest.raises(TypeError, match=r"Fold: missing required arguments \['kernel_size'\]"):
        nn.Fold((4, 4))
    with pytest.raises(ValueError, match=r"fold: input \[2, 7, 30\] must have C \* 4 rows and 30 columns"):
        vg.fold(vg.tensor(np.zeros((2, 7, 30))), (5, 4), 2, padding=1)
    with pytest.raises(ValueError, match=r"channel_shuffle: expected \[N, C, ...\] with C divisible by groups"):
        vg.channel_shuffle(vg.tensor(x4), 4)
    with pytest.raises(ValueError, match=r"embedding_bag: offsets must start at 0 and not decrease"):
        vg.embedding_bag(idx, vg.tensor(np.ones((5, 3))), np.array([1, 3]))
    with pytest.raises(ValueError, match=r"embedding_bag: with include_last_offset the last offset is the number "
                                         r"of indices, 8, got 5"):
        vg.embedding_bag(np.arange(8) % 5, vg.tensor(np.ones((5, 3))), np.array([0, 3, 5]), include_last_offset=True)
    w64 = np.arange(15.0).reshape(5, 3)  # (a mean in f64: the sum over the count, PyTorch's -- it was f32's 1 / count)
    got = vg.embedding_bag(np.array([[0, 1, 3]]), vg.tensor(w64, device="cpu", dtype="f64"), mode="mean").numpy()
    np.testing.assert_array_equal(got, w64[[0, 1, 3]].sum(0, keepdims=True) / 3)
    with pytest.raises(ValueError, match=r"embedding_bag: per_sample_weights needs mode 'sum', got 'mean'"):
        vg.embedding_bag(idx, vg.tensor(np.ones((5, 3))), off[:-1], per_sample_weights=psw)
    with pytest.raises(ValueError, match=r"embedding_bag: input must lie in \[0, 5\), got values in \[0, 9\]"):
        vg.embedding_bag(np.array([[0, 9]]), vg.tensor(np.ones((5, 3))))
    # PyTorch's argument order; max_norm renormalises the rows indexed in place (row 2 is not indexed)
    w = vg.tensor(np.arange(15.0).reshape(5, 3), device="cpu", dtype="f64")
    got = vg.nn.functional.embedding_bag(np.array([0, 1, 1, 3]), w, np.array([0, 1]), 5.0, 2, True, "sum").numpy()
    norms = np.linalg.norm(w.numpy(), axis=1)
    np.testing.assert_allclose(norms[[0, 1, 3]], [np.sqrt(5), 5, 5], rtol=1e-6)
    np.testing.assert_array_equal(w.numpy()[2], [6, 7, 8])
    np.testing.assert_allclose(got, [w.numpy()[0], w.numpy()[[1, 1, 3]].sum(0)])
    # scale_grad_by_freq: each row's gradient over its index's count in the input (pytorch/pytorch#190063: 2.13's
    # CPU kernel gave row 3 0.5 here)
    w = vg.tensor(np.ones((4, 3)), device="cpu", dtype="f64", requires_grad=True)
    vg.embedding_bag(np.array([1, 1, 3]), w, np.array([0]), mode="sum", scale_grad_by_freq=True).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy()[:, 0], [0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"EmbeddingBag: scale_grad_by_freq does not go with mode 'max'"):
        nn.EmbeddingBag(5, 3, mode="max", scale_grad_by_freq=True)
    assert nn.EmbeddingBag(5, 3, device="cpu", dtype="f64").weight.dtype == "f64"  # (they were dropped)
    with pytest.raises(ValueError, match=r"bilinear: expected inputs \[..., in1\], \[..., in2\]"):
        nn.Bilinear(4, 7, 3)(vg.tensor(x3[:, :, 0]), vg.tensor(x3[:, :3, 0]))


def test_more_initialisers():
    """trunc_normal_ stays in its bounds with the truncated normal's moments;
    orthogonal_ gives orthonormal rows or columns times the gain; eye_, dirac_ (a
    convolution passing its input through) and sparse_; PyTorch's gains."""
    init = nn.init
    t = vg.zeros(400, 500, device="cpu", dtype="f64")
    mu, sd, lo, hi = 0.5, 1.0, -1.0, 1.5
    init.trunc_normal_(t, mu, sd, lo, hi)
    a = t.numpy()
    assert a.min() >= lo and a.max() <= hi
    al, be = (lo - mu) / sd, (hi - mu) / sd
    phi = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    Z = 0.5 * (math.erf(be / math.sqrt(2)) - math.erf(al / math.sqrt(2)))
    mean = mu + sd * (phi(al) - phi(be)) / Z
    var = sd ** 2 * (1 + (al * phi(al) - be * phi(be)) / Z - ((phi(al) - phi(be)) / Z) ** 2)
    assert abs(a.mean() - mean) < 0.01 and abs(a.var() - var) < 0.01
    for shape in ((6, 4), (4, 6), (5, 2, 3)):
        w = vg.zeros(*shape, device="cpu", dtype="f64")
        init.orthogonal_(w, gain=2.0)
        m = w.numpy().reshape(shape[0], -1)
        g = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
        np.testing.assert_allclose(g, 4.0 * np.eye(len(g)), atol=1e-12)
    e = init.eye_(vg.zeros(3, 5, device="cpu"))
    np.testing.assert_array_equal(e.numpy(), np.eye(3, 5))
    conv = nn.Conv2d(3, 3, 3, padding=1, bias=False, device="cpu", dtype="f64")
    init.dirac_(conv.weight)
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 5))
    np.testing.assert_allclose(conv(vg.tensor(x, device="cpu", dtype="f64")).numpy(), x, atol=1e-14)
    sp = init.sparse_(vg.zeros(10, 4, device="cpu"), 0.3).numpy()
    assert ((sp == 0).sum(0) == 3).all()
    assert init.calculate_gain("selu") == 0.75 and init.calculate_gain("conv2d") == 1.0
    with pytest.raises(ValueError, match="init.trunc_normal_: need a < b and std > 0"):
        init.trunc_normal_(t, a=1.0, b=0.0)
    with pytest.raises(ValueError, match=r"init.dirac_: expected a 3-, 4- or 5-d weight"):
        init.dirac_(vg.zeros(3, 3, device="cpu"))


def test_weight_norm_and_spectral_norm_match_torch():
    """nn.utils.weight_norm (dim 0 and None) and spectral_norm (power iteration in
    training, the stored vectors in eval, ConvTranspose's dim 1) against PyTorch's
    with the same parameters and vectors, in f64: outputs, gradients and the updated
    vectors; remove_weight_norm folds the weight back."""
    torch = pytest.importorskip("torch")
    import warnings
    r = np.random.default_rng(44)
    x = r.standard_normal((5, 4))
    for dim in (0, None):
        mine = nn.utils.weight_norm(nn.Linear(4, 3, device="cpu", dtype="f64"), dim=dim)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = torch.nn.utils.weight_norm(torch.nn.Linear(4, 3).double(), dim=dim)
        assert sorted(n for n, _ in mine.named_parameters()) == sorted(n for n, _ in theirs.named_parameters())
        with torch.no_grad():
            for n, p in mine.named_parameters():
                dict(theirs.named_parameters())[n].copy_(torch.tensor(p.numpy()))
        xv, xt = vg.tensor(x, requires_grad=True, device="cpu", dtype="f64"), torch.tensor(x, requires_grad=True)
        got, want = mine(xv), theirs(xt)
        np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-12)
        (got * got).sum().backward()
        (want * want).sum().backward()
        for n, p in mine.named_parameters():
            np.testing.assert_allclose(p.grad.numpy(), dict(theirs.named_parameters())[n].grad.numpy(), rtol=1e-10,
                                       err_msg=f"weight_norm dim={dim} {n}")
        before = mine(xv).numpy()
        nn.utils.remove_weight_norm(mine)
        assert sorted(n for n, _ in mine.named_parameters()) == ["bias", "weight"]
        np.testing.assert_allclose(mine(xv).numpy(), before, rtol=1e-12)
    for make_mine, make_theirs, xs in (
            (lambda: nn.Linear(4, 6, device="cpu", dtype="f64"), lambda: torch.nn.Linear(4, 6).double(), x),
            (lambda: nn.ConvTranspose2d(3, 2, 2, device="cpu", dtype="f64"),
             lambda: torch.nn.ConvTranspose2d(3, 2, 2).double(), r.standard_normal((2, 3, 4, 4)))):
        mine = nn.utils.spectral_norm(make_mine(), n_power_iterations=2)
        theirs = torch.nn.utils.spectral_norm(make_theirs(), n_power_iterations=2)
        with torch.no_grad():
            for n, p in list(mine.named_parameters()) + list(mine.named_buffers()):
                t = dict(list(theirs.named_parameters()) + list(theirs.named_buffers()))[n]
                t.copy_(torch.tensor(p.numpy()))
        xv, xt = vg.tensor(xs, requires_grad=True, device="cpu", dtype="f64"), torch.tensor(xs, requires_grad=True)
        for step in range(3):
            if step == 2:
                mine.eval()
                theirs.eval()
            got, want = mine(xv), theirs(xt)
            np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-10, err_msg=f"step {step}")
        (got * got).sum().backward()
        (want * want).sum().backward()
        np.testing.assert_allclose(mine.weight_orig.grad.numpy(), theirs.weight_orig.grad.numpy(), rtol=1e-9)
        np.testing.assert_allclose(mine.weight_u.numpy(), theirs.weight_u.numpy(), rtol=1e-10)
    lin = nn.Linear(2, 2, device="cpu")
    with pytest.raises(ValueError, match="weight_norm: Linear has no parameter 'kernel'"):
        nn.utils.weight_norm(lin, "kernel")
    nn.utils.weight_norm(lin)
    with pytest.raises(RuntimeError, match="spectral_norm: 'weight' of Linear is already reparametrized"):
        nn.utils.spectral_norm(lin)


def test_weight_and_spectral_norm_on_every_backend(bk):
    """The reparametrized weights computed on the device agree with the CPU in f64
    (power iteration included), gradients too."""
    r = np.random.default_rng(45)
    x = r.standard_normal((6, 5))
    outs = []
    for dev, dt in ((bk.device, bk.dtype), ("cpu", "f64")):
        vg.manual_seed(3)
        m = nn.Sequential(nn.utils.weight_norm(nn.Linear(5, 4, device=dev, dtype=dt)),
                          nn.utils.spectral_norm(nn.Linear(4, 3, device=dev, dtype=dt)))
        y = m(vg.tensor(x, device=dev, dtype=dt))
        y = m(vg.tensor(x, device=dev, dtype=dt))  # (a second power iteration)
        (y * y).sum().backward()
        outs.append([y.numpy(), m[0].weight_g.grad.numpy(), m[1].weight_orig.grad.numpy(), m[1].weight_u.numpy()])
    for a, b in zip(*outs):
        bk.close(a, b, atol=bk.atol * max(1.0, float(np.abs(b).max())))


def test_max_pool_indices_and_unpool(bk):
    """max_pool1d / 2d / adaptive return_indices give PyTorch's positions (h * W + w)
    on every backend; max_unpool puts the maxima back (and its gradient gathers
    them); overlapping windows and bad indices are refused or give NaN."""
    r = np.random.default_rng(46)
    x = r.standard_normal((2, 3, 6, 7))
    t = bk.t(x, requires_grad=True)
    y, idx = vg.max_pool2d(t, (2, 3), stride=(2, 2), padding=(1, 1), return_indices=True)
    xr = _round_like(bk, x)
    win = np.full((2, 3, 8, 9), -np.inf)
    win[:, :, 1:7, 1:8] = xr
    want_idx = np.zeros(y.shape, int)
    for i in range(y.shape[2]):
        for j in range(y.shape[3]):
            patch = win[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 3].reshape(2, 3, -1)
            k = patch.argmax(-1)
            want_idx[:, :, i, j] = (2 * i - 1 + k // 3) * 7 + (2 * j - 1 + k % 3)
    np.testing.assert_array_equal(idx.numpy(), want_idx)
    assert idx.dtype == "i32"
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    v, i2 = pool(t)
    u = unpool(v, i2, output_size=t.shape)
    want = np.zeros_like(xr[:, :, :6, :6])
    blocks = xr[:, :, :6, :6].reshape(2, 3, 3, 2, 3, 2)
    m = blocks.max((3, 5), keepdims=True)
    want = np.where(blocks == m, blocks, 0).reshape(2, 3, 6, 6)
    bk.close(u.numpy()[:, :, :6, :6], want, what="unpool")
    assert u.shape == t.shape and not u.numpy()[:, :, 6:].any()
    (u * bk.t(np.arange(u.size, dtype=float).reshape(u.shape) / 100)).sum().backward()
    flat = np.arange(x.size, dtype=float).reshape(x.shape) / 100
    g = np.where(want != 0, flat[:, :, :6, :6], 0)
    bk.close(t.grad.numpy()[:, :, :6, :6], g, what="unpool grad")
    y1, i1 = vg.max_pool1d(bk.t(x[:, :, 0]), 3, stride=2, return_indices=True)
    np.testing.assert_array_equal(i1.numpy(), np.stack([x[:, :, 0, 2 * j:2 * j + 3].argmax(-1) + 2 * j
                                                        for j in range(3)], -1))
    y2, i2b = vg.max_pool1d(bk.t(x[:, :, 0]), 2, return_indices=True)
    u1 = vg.max_unpool1d(y2, i2b, 2, output_size=(7,)).numpy()
    x0 = _round_like(bk, x[:, :, 0])
    pairs = x0[..., :6].reshape(2, 3, 3, 2)
    assert u1.shape == (2, 3, 7)
    bk.close(u1[..., :6], np.where(pairs == pairs.max(-1, keepdims=True), pairs, 0).reshape(2, 3, 6), what="unpool1d")
    ya, ia = vg.adaptive_max_pool2d(bk.t(x[:, :, :6, :]), (3, 7), return_indices=True)
    assert ia.shape == (2, 3, 3, 7)
    with pytest.raises(ValueError, match=r"max_unpool2d: windows that overlap \(stride \[1, 1\] below kernel"):
        vg.max_unpool2d(v, i2, 2, 1)
    bad = vg.max_unpool2d(v, vg.tensor(np.full(i2.shape, 5, np.int32), dtype="i32", device=bk.device), 2)
    assert np.isnan(bad.numpy()).any()  # position 5 lies outside most windows


def test_max_pool_indices_match_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(47).standard_normal((2, 3, 9, 8))
    for kw in (dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=(2, 3), dilation=2, ceil_mode=True),
               dict(kernel_size=2)):
        _, mine = vg.max_pool2d(vg.tensor(x, device="cpu", dtype="f64"), return_indices=True, **kw)
        _, theirs = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True, **kw)
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy(), err_msg=str(kw))
    v, i = vg.max_pool2d(vg.tensor(x, device="cpu", dtype="f64"), 2, return_indices=True)
    tv, ti = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(vg.max_unpool2d(v, i, 2, output_size=(9, 8)).numpy(),
                                  torch.nn.functional.max_unpool2d(tv, ti, 2, output_size=(9, 8)).numpy())


def _round_like(bk, a):
    return a.astype(np.float16).astype(np.float64) if bk.dtype == "f16" else a


def test_module_api_spellings():
    """register_buffer(persistent=False) stays out of the state dict; parameters /
    buffers with recurse and prefix; zero_grad(set_to_none=False); double / cpu;
    Embedding.from_pretrained; shared sub-modules listed once."""
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 3, device="cpu")
            self.register_buffer("table", vg.tensor(np.ones(4), device="cpu"), persistent=False)
            self.register_buffer("count", vg.tensor(np.zeros(1), device="cpu"))
            self.w = nn.Parameter(np.zeros(2), device="cpu")
    m = M()
    assert list(m.state_dict()) == ["w", "count", "lin.weight", "lin.bias"]  # (PyTorch's order)
    assert [n for n, _ in m.named_buffers()] == ["table", "count"]
    m.load_state_dict(m.state_dict())  # (strict: the transient buffer is not expected)
    assert [n for n, _ in m.named_parameters(recurse=False)] == ["w"]
    assert [n for n, _ in m.named_parameters(prefix="model")][0] == "model.w"
    (m.lin(vg.tensor(np.ones((1, 2)), device="cpu")).sum() + m.w.sum()).backward()
    m.zero_grad(set_to_none=False)
    assert m.w.grad is not None and not m.lin.weight.grad.numpy().any()
    m.zero_grad()
    assert m.w.grad is None
    assert m.double().lin.weight.dtype == "f64" and m.cpu() is m
    shared = nn.Linear(2, 2, device="cpu")
    seq = nn.Sequential(shared, shared)
    assert len(list(seq.modules())) == 2 and len(seq.parameters()) == 2
    emb = nn.Embedding.from_pretrained(np.arange(6.0).reshape(3, 2))
    assert not emb.weight.requires_grad and emb(np.array([2])).numpy().tolist() == [[4.0, 5.0]]
    assert nn.Embedding.from_pretrained(vg.tensor(np.ones((2, 2)), device="cpu"), freeze=False).weight.requires_grad
    # a tensor's table: its device and dtype kept, PyTorch's options by name (the device and dtype
    # went into max_norm and norm_type, and the lookup failed)
    emb = nn.Embedding.from_pretrained(vg.tensor(np.array([[3.0, 4.0], [0.3, 0.4]]), device="cpu"), max_norm=1.0)
    assert emb.max_norm == 1.0 and emb.norm_type == 2.0 and emb.weight.device == "cpu"
    np.testing.assert_allclose(emb(vg.tensor([0, 1], dtype="i32", device="cpu")).numpy(), [[0.6, 0.8], [0.3, 0.4]],
                               rtol=1e-5)


def test_ctc_loss_matches_torch():
    """ctc_loss / CTCLoss against PyTorch's in f64 (through log_softmax, where the
    gradients agree: PyTorch's own is w.r.t. normalised logits): padded and
    concatenated targets, an empty target, another blank, unbatched input, an
    impossible alignment (inf, or 0 with zero_infinity)."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    r = np.random.default_rng(48)
    T, N, C = 9, 4, 6
    x = r.standard_normal((T, N, C))
    tg = np.array([[1, 2, 2, 5], [3, 3, 3, 3], [4, 1, 5, 2], [2, 2, 2, 2]])
    cases = [(tg, [9, 6, 8, 9], [3, 0, 4, 2], {}), (tg, [9, 9, 9, 9], [2, 1, 1, 3], dict(reduction="sum")),
             (np.array([1, 2, 5, 4, 1, 2, 2]), [9, 5, 7, 3], [2, 1, 3, 1], dict(reduction="none")),
             (np.where(tg == 3, 0, tg), [9, 9, 9, 9], [2, 2, 2, 2], dict(blank=3)),
             (tg, [2, 9, 9, 9], [4, 1, 1, 1], dict(reduction="none")),  # row 0: 4 targets in 2 steps
             (tg, [2, 9, 9, 9], [4, 1, 1, 1], dict(zero_infinity=True))]
    for targets, il, tl, kw in cases:
        xv, xt = vg.tensor(x, requires_grad=True, device="cpu", dtype="f64"), torch.tensor(x, requires_grad=True)
        got = nn.CTCLoss(**kw)(vg.log_softmax(xv, -1), targets, np.array(il), np.array(tl))
        want = F.ctc_loss(xt.log_softmax(-1), torch.tensor(targets), torch.tensor(il), torch.tensor(tl), **kw)
        np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-12, err_msg=str(kw))
        if np.isfinite(want.detach().numpy()).all():
            got.sum().backward()
            want.sum().backward()
            np.testing.assert_allclose(xv.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=str(kw))
    xv = vg.tensor(x[:, 0], device="cpu", dtype="f64")
    np.testing.assert_allclose(vg.ctc_loss(vg.log_softmax(xv, -1), np.array([1, 2]), [9], [2]).numpy(),
                               F.ctc_loss(torch.tensor(x[:, 0]).log_softmax(-1), torch.tensor([1, 2]), [9], [2]).numpy(),
                               rtol=1e-12)
    with pytest.raises(ValueError, match=r"ctc_loss: each row needs target_lengths targets in \[0, 6\) other than"):
        vg.ctc_loss(vg.tensor(x), np.zeros((4, 2), int), [9] * 4, [2] * 4)
    with pytest.raises(ValueError, match=r"ctc_loss: input_lengths and target_lengths must be 4 ints"):
        vg.ctc_loss(vg.tensor(x), tg, [10] * 4, [2] * 4)


def test_affine_grid_and_grid_sample_match_torch():
    """affine_grid and grid_sample (bilinear / nearest / bicubic, zeros / border / reflection,
    both corner conventions; reflection's grid reaching two widths out) against
    PyTorch in f64: values and the input's and theta's gradients."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    r = np.random.default_rng(49)
    x = r.standard_normal((2, 3, 5, 6))
    th = np.array([[[0.9, 0.2, 0.1], [-0.1, 1.1, 0.05]], [[1.2, -0.3, -0.2], [0.25, 0.8, 0.3]]])
    for ac in (False, True):
        for pm in ("zeros", "border", "reflection"):
            for mode in ("bilinear", "nearest", "bicubic"):
                tha = th * (2.7 if pm == "reflection" else 1.0)
                xv, tv = (vg.tensor(a, requires_grad=True, device="cpu", dtype="f64") for a in (x, tha))
                xt, tt = torch.tensor(x, requires_grad=True), torch.tensor(tha, requires_grad=True)
                y = vg.grid_sample(xv, vg.affine_grid(tv, (2, 3, 4, 7), align_corners=ac), mode, pm, ac)
                yt = F.grid_sample(xt, F.affine_grid(tt, (2, 3, 4, 7), align_corners=ac), mode, pm, ac)
                what = f"{mode} {pm} align_corners={ac}"
                np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), atol=1e-13, err_msg=what)
                proj = r.standard_normal(yt.shape)
                (y * vg.tensor(proj, device="cpu", dtype="f64")).sum().backward()
                (yt * torch.tensor(proj)).sum().backward()
                np.testing.assert_allclose(xv.grad.numpy(), xt.grad.numpy(), atol=1e-12, err_msg=what)
                tg = tv.grad.numpy() if tv.grad is not None else np.zeros(th.shape)
                np.testing.assert_allclose(tg, tt.grad.numpy(), atol=1e-11, err_msg=what)
    with pytest.raises(ValueError, match="grid_sample: padding_mode must be 'zeros', 'border' or 'reflection'"):
        vg.grid_sample(vg.tensor(x), vg.zeros(2, 4, 4, 2), padding_mode="wrap")
    with pytest.raises(ValueError, match=r"grid_sample: mode 'bicubic' takes a 4-d input \(as PyTorch's\)"):
        vg.grid_sample(vg.zeros(1, 1, 2, 2, 2), vg.zeros(1, 1, 1, 1, 3), mode="bicubic")
    with pytest.raises(ValueError, match=r"affine_grid: expected theta \[N, 2, 3\] and size \(N, C, H, W\), or "
                                         r"theta \[N, 3, 4\] and size \(N, C, D, H, W\), got \[2, 2, 3\]"):
        vg.affine_grid(vg.tensor(th), (2, 3, 4, 4, 7))


def test_volumetric_affine_grid_and_grid_sample_match_torch(bk):
    """5-d affine_grid (theta [N, 3, 4]) and grid_sample (trilinear / nearest, every
    padding mode and corner convention) against PyTorch: values and the input's,
    grid's and theta's gradients (they raised).  The grid is random (f32 values): a
    sample within rounding of a cell edge would take another cell in f32."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    r = np.random.default_rng(62)
    x = r.standard_normal((2, 2, 3, 4, 5))
    for ac in (False, True):
        th = r.standard_normal((2, 3, 4)) * 0.5 + np.eye(3, 4)
        tv, tt = bk.t(th, requires_grad=True), torch.tensor(th, requires_grad=True)
        gv, gt = vg.affine_grid(tv, (2, 2, 2, 3, 4), align_corners=ac), F.affine_grid(tt, (2, 2, 2, 3, 4),
                                                                                     align_corners=ac)
        bk.close(gv.numpy(), gt.detach().numpy(), what=f"affine_grid align_corners={ac}")
        proj = r.standard_normal(gt.shape)
        (gv * bk.t(proj)).sum().backward()
        (gt * torch.tensor(proj)).sum().backward()
        bk.close(tv.grad.numpy(), tt.grad.numpy(), what=f"affine_grid theta grad align_corners={ac}")
        for pm in ("zeros", "border", "reflection"):
            for mode in ("bilinear", "nearest") if bk.dtype != "f16" else ("bilinear",):  # (f16 coordinates
                # round by 1e-3: a nearest tap or the grid's gradient may change cell)
                grid = (r.uniform(-1.3, 1.3, (2, 2, 3, 4, 3)) * (2.3 if pm == "reflection" else 1.0)).astype(
                    np.float16 if bk.dtype == "f16" else np.float32).astype(np.float64)
                xv, gv = bk.t(x, requires_grad=True), bk.t(grid, requires_grad=True)
                xt, gt = torch.tensor(x, requires_grad=True), torch.tensor(grid, requires_grad=True)
                y = vg.grid_sample(xv, gv, mode, pm, ac)
                yt = F.grid_sample(xt, gt, mode, pm, ac)
                what = f"{mode} {pm} align_corners={ac}"
                bk.close(y.numpy(), yt.detach().numpy(), what=what)
                proj = r.standard_normal(yt.shape)
                (y * bk.t(proj)).sum().backward()
                (yt * torch.tensor(proj)).sum().backward()
                bk.close(xv.grad.numpy(), xt.grad.numpy(), what=what + " input grad")
                if mode == "bilinear" and bk.dtype != "f16":
                    bk.close(gv.grad.numpy(), gt.grad.numpy(), what=what + " grid grad")


def test_interpolate_modes_and_upsampling_modules_match_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(50).standard_normal((2, 3, 5, 7))
    for kw in (dict(size=(8, 4), mode="nearest-exact"), dict(scale_factor=1.7, mode="nearest-exact"),
               dict(size=(3, 4), mode="area"), dict(size=(2,), mode="area")):
        a = x[:, :, 0] if len(kw.get("size", (0, 0))) == 1 else x
        np.testing.assert_allclose(vg.interpolate(vg.tensor(a, device="cpu", dtype="f64"), **kw).numpy(),
                                   torch.nn.functional.interpolate(torch.tensor(a), **kw).numpy(), rtol=1e-12,
                                   err_msg=str(kw))
    for mine, theirs in ((nn.UpsamplingNearest2d(scale_factor=2), torch.nn.UpsamplingNearest2d(scale_factor=2)),
                         (nn.UpsamplingBilinear2d(size=(9, 4)), torch.nn.UpsamplingBilinear2d(size=(9, 4)))):
        np.testing.assert_allclose(mine(vg.tensor(x, device="cpu", dtype="f64")).numpy(),
                                   theirs(torch.tensor(x)).numpy(), rtol=1e-12)


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH"])
def test_recurrence_outputs_own_their_storage(bk, mode):
    """out, h_n and c_n of a recurrence are separate tensors (h_n is out's last row in
    value only, as PyTorch's): an in-place change of one leaves the others, and the
    gradient through out, as they were -- on every backend, the CPU's fused loop and
    the Vulkan row views included."""
    r = np.random.default_rng(55)
    T, N, H = 4, 3, 8
    G = {"LSTM": 4, "GRU": 3}.get(mode, 1)
    vals = [r.standard_normal(s) for s in ((T, N, G * H), (N, H), (N, H), (G * H, H), (G * H,))]
    proj = r.standard_normal((T, N, H))

    def run(change, back=True):
        xg, h0, c0, w, b = (bk.t(v, requires_grad=True) for v in vals)
        out, h, c = vg.recurrence(mode, xg, h0, c0 if mode == "LSTM" else None, w, b if mode == "GRU" else None)
        kept = [t.numpy().copy() for t in (out, h, c) if t is not None]
        with vg.no_grad():
            for t in change(out, h, c):
                t.add_(5.0)
        if not back:  # (through a changed out: refused, see test_in_place_ops_and_their_version_checks)
            return kept, [t.numpy() for t in (out, h, c) if t is not None]
        (out * bk.t(proj)).sum().backward()
        return kept, [t.numpy() for t in (out, h, c) if t is not None], xg.grad.numpy(), w.grad.numpy()
    (_, _, gx, gw) = run(lambda out, h, c: [])
    kept, now = run(lambda out, h, c: [out], back=False)
    for a, b_ in zip(kept[1:], now[1:]):
        assert np.array_equal(a, b_)  # (the states: out's change did not reach them)
    kept, now, gx3, gw3 = run(lambda out, h, c: [h] + ([c] if c is not None else []))
    assert np.array_equal(kept[0], now[0])  # (out: the states' changes did not reach it)
    for a, b_ in ((gx3, gx), (gw3, gw)):
        bk.close(a, b_)  # (nor the gradient through out)


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_recurrence_writes_steps_into_row_views(bk, mode, monkeypatch):
    """Where the backend has row views (Vulkan, rows of aligned size), the cells
    write each step's output and input gradient in place (no cat): the same values
    and gradients as the CPU in f64, forward and reverse."""
    be = vg.get_backend(bk.device)
    made = []
    orig = be.row_views

    def counting(shape, dtype):
        r_ = orig(shape, dtype)
        made.append(r_ is not None)
        return r_
    monkeypatch.setattr(be, "row_views", counting)
    r = np.random.default_rng(51)
    L, N, I, H = 5, 4, 3, 8  # rows of 4 x 8 values: aligned in either dtype
    x = r.standard_normal((L, N, I))
    results = []
    for dev, dt in ((bk.device, bk.dtype), ("cpu", "f64")):
        vg.manual_seed(2)
        m = getattr(nn, mode)(I, H, bidirectional=True, device=dev, dtype=dt)
        xt = vg.tensor(x, requires_grad=True, device=dev, dtype=dt)
        out = m(xt)[0]
        (out * vg.tensor(np.linspace(-1, 1, out.size).reshape(out.shape), device=dev, dtype=dt)).sum().backward()
        results.append([out.numpy(), xt.grad.numpy()] + [p.grad.numpy() for p in m.parameters()])
    for a, b in zip(*results):
        bk.close(a, b, atol=bk.atol * max(1.0, float(np.abs(b).max())))
    if bk.device.startswith("vulkan"):
        assert made and all(made), made  # (forward and backward of both directions took the views)


def test_segmentation_losses_and_functional_cross_entropy_match_torch():
    """F.cross_entropy is PyTorch's (of logits) under vkgrad.nn.functional; the
    classification losses take [N, C, d1, ...] maps with labels [N, d1, ...] or
    probabilities (ignore_index, weights, label smoothing, every reduction)."""
    torch = pytest.importorskip("torch")
    import vkgrad.nn.functional as F
    r = np.random.default_rng(52)
    x, y = r.standard_normal((2, 3, 4, 5)), r.integers(0, 3, (2, 4, 5))
    y[0, 0, :2] = -100
    w = np.array([0.5, 1.0, 2.0])
    for red in ("mean", "sum", "none"):
        for kw in (dict(label_smoothing=0.1), dict(weight=w), {}):
            xv, xt = vg.tensor(x, requires_grad=True, device="cpu", dtype="f64"), torch.tensor(x, requires_grad=True)
            tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
            a = F.cross_entropy(xv, y, reduction=red, **kw)
            b = torch.nn.functional.cross_entropy(xt, torch.tensor(y), reduction=red, **tkw)
            np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-14, err_msg=f"{red} {kw}")
            a.sum().backward()
            b.sum().backward()
            np.testing.assert_allclose(xv.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-14)
        lp = x - np.log(np.exp(x).sum(1, keepdims=True))
        np.testing.assert_allclose(vg.nll_loss(vg.tensor(lp, device="cpu", dtype="f64"), y, weight=w, reduction=red)
                                   .numpy(), torch.nn.functional.nll_loss(torch.tensor(lp), torch.tensor(y),
                                                                          torch.tensor(w), reduction=red).numpy(),
                                   rtol=1e-12)
    p = r.uniform(size=x.shape)
    p /= p.sum(1, keepdims=True)
    assert abs(F.cross_entropy(vg.tensor(x, device="cpu", dtype="f64"), p).item()
               - torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(p)).item()) < 1e-12
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: targets of shape \[2, 4\] for input \[2, 3, 4, 5\]"):
        F.cross_entropy(vg.tensor(x), np.zeros((2, 4), int))
    # one unbatched sample (PyTorch's [C] input with a 0-d label or [C] probabilities)
    for red in ("mean", "none"):
        xv, xt = vg.tensor(x[0, :, 0, 0], device="cpu", dtype="f64"), torch.tensor(x[0, :, 0, 0])
        for tv, tt in ((2, torch.tensor(2)), (p[0, :, 0, 0], torch.tensor(p[0, :, 0, 0]))):
            got = F.cross_entropy(xv, tv, reduction=red)
            assert got.shape == () and abs(got.item() - torch.nn.functional.cross_entropy(xt, tt, reduction=red).item()) < 1e-12
        got = F.nll_loss(xv, vg.tensor(1, device="cpu"), reduction=red)
        assert got.shape == () and abs(got.item() - torch.nn.functional.nll_loss(xt, torch.tensor(1)).item()) < 1e-12


def test_sequential_from_ordered_dict_slices_and_insert():
    from collections import OrderedDict
    s = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 3, device="cpu")), ("act", nn.ReLU())]))
    assert list(s.state_dict()) == ["fc.weight", "fc.bias"] and s[0] is s.fc and len(s) == 2
    x = vg.tensor(np.ones((1, 2)), device="cpu")
    np.testing.assert_allclose(s(x).numpy(), np.maximum(s.fc(x).numpy(), 0))
    s2 = nn.Sequential(nn.Linear(2, 3, device="cpu"), nn.ReLU(), nn.Linear(3, 1, device="cpu"))
    tail = s2[1:]
    assert isinstance(tail, nn.Sequential) and len(tail) == 2 and tail[1] is s2[2]
    ml = nn.ModuleList([nn.ReLU()]).extend([nn.Tanh()]).insert(0, nn.Sigmoid())
    assert [type(m).__name__ for m in ml] == ["Sigmoid", "ReLU", "Tanh"] and [n for n, _ in ml.named_children()] == \
        ["0", "1", "2"]
    assert isinstance(ml[:2], nn.ModuleList) and len(ml[:2]) == 2
    with pytest.raises(TypeError, match="Sequential: entry 'x' is a int, expected a Module"):
        nn.Sequential(OrderedDict([("x", 3)]))


def test_reductions_with_indices_match_torch_if_available():
    """max / min pairs, median, quantile, cummax, logcumsumexp and the inverse
    trigonometric functions against PyTorch in f64: values, indices, gradients."""
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(17)
    x = r.integers(-3, 4, (4, 7)).astype(np.float64)  # ties
    x[1, 2] = np.nan
    cases = [
        ("max dim", lambda m, a: m.max(a, 1)), ("min dim keep", lambda m, a: m.min(a, 0, keepdim=True)),
        ("median", lambda m, a: m.median(a, 1)), ("nanmedian", lambda m, a: m.nanmedian(a, 0)),
        ("cummax", lambda m, a: m.cummax(a, 1)), ("cummin", lambda m, a: m.cummin(a, 0)),
        ("quantile", lambda m, a: (m.nanquantile(a, [0.25, 0.6] if m is vg else m.tensor([0.25, 0.6], dtype=a.dtype),
                                                 dim=1),)),
        ("logcumsumexp", lambda m, a: (m.logcumsumexp(a, 1),)),
    ]
    for name, f in cases:
        a = vg.tensor(x, dtype="f64", device="cpu", requires_grad=True)
        b = torch.tensor(x, requires_grad=True)
        got, want = f(vg, a), f(torch, b)
        np.testing.assert_allclose(got[0].numpy(), want[0].detach().numpy(), err_msg=name, rtol=1e-12)
        if len(got) > 1:
            np.testing.assert_array_equal(got[1].numpy(), want[1].numpy(), err_msg=f"{name} indices")
        proj = r.standard_normal(want[0].shape)
        keep = ~np.isnan(want[0].detach().numpy())
        got[0].backward(vg.tensor(proj * keep, dtype="f64", device="cpu"))
        want[0].backward(torch.tensor(proj * keep))
        # (where PyTorch's is NaN -- logcumsumexp's whole row past a NaN, its fused backward multiplying the
        # NaN outputs' zero weights -- vkgrad's composition may give the finite partials, relu-like selects
        # dropping the zero-weighted NaN, as PyTorch's own ops would)
        finite = ~np.isnan(b.grad.numpy())
        np.testing.assert_allclose(np.nan_to_num(a.grad.numpy())[finite], b.grad.numpy()[finite], rtol=1e-10,
                                   atol=1e-12, err_msg=f"{name} gradient")
    u = r.uniform(-0.95, 0.95, (3, 4))
    for name in ("atan", "asin", "acos", "asinh", "atanh"):
        a = vg.tensor(u, dtype="f64", device="cpu", requires_grad=True)
        b = torch.tensor(u, requires_grad=True)
        getattr(vg, name)(a).sum().backward()
        getattr(torch, name)(b).sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, err_msg=name)
    a, b = vg.tensor(u + 2.0, dtype="f64", device="cpu", requires_grad=True), torch.tensor(u + 2.0, requires_grad=True)
    vg.acosh(a).sum().backward()
    torch.acosh(b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)


def test_volumes_interpolate_and_adaptive_pool_match_torch_if_available():
    """interpolate of [N, C, D, H, W] (nearest, nearest-exact, trilinear both corner
    conventions, area) and adaptive_avg_pool3d against PyTorch in f64: values and
    gradients."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    r = np.random.default_rng(51)
    x = r.standard_normal((2, 3, 5, 6, 7))
    cases = [(lambda m, t: m.adaptive_avg_pool3d(t, (3, None, 4)), "adaptive (3, None, 4)"),
             (lambda m, t: m.interpolate(t, size=(4, 9, 5), mode="trilinear"), "trilinear"),
             (lambda m, t: m.interpolate(t, scale_factor=1.5, mode="trilinear", align_corners=True), "corners"),
             (lambda m, t: m.interpolate(t, size=(7, 3, 8)), "nearest"),
             (lambda m, t: m.interpolate(t, size=(7, 3, 8), mode="nearest-exact"), "nearest-exact"),
             (lambda m, t: m.interpolate(t, size=(3, 4, 5), mode="area"), "area")]
    for f, what in cases:
        a = vg.tensor(x, device="cpu", dtype="f64", requires_grad=True)
        b = torch.tensor(x, requires_grad=True)
        y, yt = f(vg, a), f(F, b)
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), atol=1e-12, err_msg=what)
        proj = r.standard_normal(tuple(yt.shape))
        (y * vg.tensor(proj, device="cpu", dtype="f64")).sum().backward()
        (yt * torch.tensor(proj)).sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-12, err_msg=what)
    assert nn.AdaptiveAvgPool3d(2)(vg.tensor(x, device="cpu")).shape == (2, 3, 2, 2, 2)
    with pytest.raises(ValueError, match=r"adaptive_avg_pool3d: expected input \[N, C, D, H, W\]"):
        vg.adaptive_avg_pool3d(vg.tensor(x[0, 0], device="cpu"), 2)


def test_conv_transpose3d_matches_torch_if_available():
    """conv_transpose3d (strides, padding, output_padding, groups, dilation) and
    nn.ConvTranspose3d against PyTorch in f64: values and all three gradients."""
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(52)
    for (shape, cout, k, st, pd, op, g, dl) in [((2, 4, 3, 4, 5), 6, (2, 3, 2), (2, 1, 2), (1, 0, 1), (1, 0, 1), 2,
                                                 (1, 2, 1)),
                                                ((1, 3, 4, 2, 3), 3, (3, 1, 2), (3, 2, 1), (2, 0, 0), (2, 1, 0), 1,
                                                 (2, 1, 1))]:
        x, w, b = r.standard_normal(shape), r.standard_normal((shape[1], cout // g) + k), r.standard_normal(cout)
        ours = [vg.tensor(a, device="cpu", dtype="f64", requires_grad=True) for a in (x, w, b)]
        theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
        y = vg.conv_transpose3d(*ours, st, pd, op, g, dl)
        yt = torch.nn.functional.conv_transpose3d(*theirs, st, pd, op, g, dl)
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), atol=1e-12)
        proj = r.standard_normal(tuple(yt.shape))
        (y * vg.tensor(proj, device="cpu", dtype="f64")).sum().backward()
        (yt * torch.tensor(proj)).sum().backward()
        for a, t in zip(ours, theirs):
            np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), atol=1e-11)
    m = nn.ConvTranspose3d(2, 4, 3, stride=2, padding=1, output_padding=1)
    assert m.weight.shape == (2, 4, 3, 3, 3) and m(vg.zeros(1, 2, 3, 3, 3)).shape == (1, 4, 6, 6, 6)
    with pytest.raises(ValueError, match=r"conv_transpose3d: output_padding \[2, 2, 2\] must be smaller"):
        vg.conv_transpose3d(vg.zeros(1, 2, 3, 3, 3), m.weight, None, 2, 0, 2)


def test_pytorch_constructor_arguments_match_torch_if_available():
    """Embedding's max_norm / scale_grad_by_freq / _weight, BatchNorm's
    track_running_stats=False, Softmax(dim=), Dropout(inplace=) against PyTorch."""
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(53)
    W, idx = r.standard_normal((6, 3)) * 2, np.array([[1, 3, 1], [5, 1, 0]])
    e = nn.Embedding(6, 3, max_norm=1.5, scale_grad_by_freq=True, sparse=False, _weight=W, device="cpu", dtype="f64")
    te = torch.nn.Embedding(6, 3, max_norm=1.5, scale_grad_by_freq=True, _weight=torch.tensor(W))
    proj = r.standard_normal((2, 3, 3))
    y = e(vg.tensor(idx, dtype="i32", device="cpu"))
    (y * vg.tensor(proj, device="cpu", dtype="f64")).sum().backward()
    ty = te(torch.tensor(idx))
    (ty * torch.tensor(proj)).sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(e.weight.numpy(), te.weight.detach().numpy(), atol=1e-12)  # (renormed in place)
    np.testing.assert_allclose(e.weight.grad.numpy(), te.weight.grad.numpy(), atol=1e-12)
    x = r.standard_normal((5, 3))
    bn = nn.BatchNorm1d(3, track_running_stats=False, device="cpu", dtype="f64")
    tbn = torch.nn.BatchNorm1d(3, track_running_stats=False)
    bn.eval()
    tbn.eval()
    np.testing.assert_allclose(bn(vg.tensor(x, device="cpu", dtype="f64")).numpy(),
                               tbn.double()(torch.tensor(x)).detach().numpy(), atol=1e-12)
    assert sorted(bn.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(nn.Softmax(dim=0)(vg.tensor(x, device="cpu", dtype="f64")).numpy(),
                               torch.nn.Softmax(dim=0)(torch.tensor(x)).numpy(), atol=1e-15)
    assert nn.Dropout(0.2, inplace=True).p == 0.2
    with pytest.raises(TypeError, match="Softmax: give dim= or axis=, not both"):
        nn.Softmax(dim=0, axis=1)


def test_max_pool3d_indices_and_unpool(bk):
    """max_pool3d(return_indices) gives PyTorch's positions d * H * W + h * W + w (the
    first maximum in scan order) on every backend; max_unpool3d puts the maxima
    back, its gradient gathering them; overlapping windows are refused."""
    r = np.random.default_rng(54)
    shape = (2, 2, 5, 6, 7)
    x = r.permutation(int(np.prod(shape))).reshape(shape) / 64.0  # (no ties; exact in f16)
    t = bk.t(x, requires_grad=True)
    v, idx = vg.max_pool3d(t, (3, 2, 2), stride=(2, 2, 2), padding=(1, 0, 1), return_indices=True)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (0, 0), (1, 1)), constant_values=-np.inf)
    want_v, want_i = np.zeros(v.shape), np.zeros(v.shape, int)
    for a in range(v.shape[2]):
        for b in range(v.shape[3]):
            for c in range(v.shape[4]):
                patch = xp[:, :, 2 * a:2 * a + 3, 2 * b:2 * b + 2, 2 * c:2 * c + 2].reshape(2, 2, -1)
                k = patch.argmax(-1)
                want_v[:, :, a, b, c] = patch.max(-1)
                kd, kh, kw = np.unravel_index(k, (3, 2, 2))
                want_i[:, :, a, b, c] = (2 * a - 1 + kd) * 42 + (2 * b + kh) * 7 + (2 * c - 1 + kw)
    bk.close(v.numpy(), want_v, what="values")
    np.testing.assert_array_equal(idx.numpy(), want_i)
    v2, i2 = nn.MaxPool3d(2, return_indices=True)(t)
    u = nn.MaxUnpool3d(2)(v2, i2, output_size=t.shape)
    assert u.shape == shape
    (u * bk.t(np.ones(shape))).sum().backward()
    kept = (u.numpy() != 0).astype(float)
    np.testing.assert_array_equal(t.grad.numpy(), kept)  # (the maxima's positions, once each)
    assert kept.sum() == v2.size
    with pytest.raises(ValueError, match=r"max_unpool3d: windows that overlap"):
        vg.max_unpool3d(v2, i2, 2, stride=1)


def test_grouped_query_attention_matches_torch_if_available():
    """scaled_dot_product_attention(enable_gqa=True): key / value heads repeated for
    their query groups -- values and gradients equal PyTorch's in f64; the encoder
    accepts PyTorch's fast-path switches."""
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(55)
    q, k, v = r.standard_normal((2, 6, 5, 4)), r.standard_normal((2, 2, 7, 4)), r.standard_normal((2, 2, 7, 3))
    ours = [vg.tensor(t, device="cpu", dtype="f64", requires_grad=True) for t in (q, k, v)]
    theirs = [torch.tensor(t, requires_grad=True) for t in (q, k, v)]
    o = vg.nn.functional.scaled_dot_product_attention(*ours, is_causal=True, enable_gqa=True)
    t = torch.nn.functional.scaled_dot_product_attention(*theirs, is_causal=True, enable_gqa=True)
    np.testing.assert_allclose(o.numpy(), t.detach().numpy(), atol=1e-13)
    (o * o).sum().backward()
    (t * t).sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-12)
    with pytest.raises(ValueError, match=r"with enable_gqa, key and value heads \(4, 4\) must be equal and divide"):
        vg.nn.functional.scaled_dot_product_attention(ours[0], vg.zeros(2, 4, 7, 4, device="cpu", dtype="f64"),
                                                      vg.zeros(2, 4, 7, 3, device="cpu", dtype="f64"), enable_gqa=True)
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    assert nn.TransformerEncoder(layer, 2, enable_nested_tensor=False, mask_check=False).num_layers == 2


def test_margin_losses_and_lazy_linear(bk):
    """multilabel_margin_loss (targets up to the first -1) against its formula,
    triplet_margin_with_distance_loss with a custom distance against the default's,
    LazyLinear's weight made at the first forward (PyTorch's init bound)."""
    r = np.random.default_rng(56)
    x = r.standard_normal((3, 5))
    y = np.array([[3, 0, -1, 1, 2], [1, 2, 3, 4, -1], [0, -1, 2, 2, 2]])
    want = []
    for n in range(3):
        tg = []
        for c in y[n]:
            if c < 0:
                break
            tg.append(c)
        want.append(sum(max(0.0, 1 - (x[n, j] - x[n, i])) for j in tg for i in range(5) if i not in tg) / 5)
    t = bk.t(x, requires_grad=True)
    loss = nn.MultiLabelMarginLoss(reduction="none")(t, y)
    bk.close(loss.numpy(), want, atol=max(bk.atol, 2e-3), what="multilabel margin")
    loss.sum().backward()
    assert t.grad is not None
    a, p, n_ = (bk.t(r.standard_normal((4, 3))) for _ in range(3))
    bk.close(vg.triplet_margin_with_distance_loss(a, p, n_, margin=0.5).numpy(),
             vg.triplet_margin_loss(a, p, n_, margin=0.5).numpy(), what="default distance")
    l1 = nn.TripletMarginWithDistanceLoss(distance_function=lambda u, v: (u - v).abs().sum(-1), swap=True)(a, p, n_)
    bk.close(l1.numpy(), vg.triplet_margin_loss(a, p, n_, p=1, eps=0.0, swap=True).numpy(), atol=max(bk.atol, 1e-3),
             what="L1 distance")
    lazy = nn.LazyLinear(4, device=bk.device, dtype=bk.dtype)
    assert lazy.weight is None and list(lazy.parameters()) == []
    out = lazy(bk.t(r.standard_normal((2, 7))))
    assert out.shape == (2, 4) and lazy.weight.shape == (4, 7) and lazy.in_features == 7
    assert np.abs(lazy.weight.numpy()).max() <= 1 / np.sqrt(7) + 1e-3
    with pytest.raises(ValueError, match="multilabel_margin_loss: target class 5 is out of range for 5 classes"):
        vg.multilabel_margin_loss(t, np.full((3, 5), 5))


def test_margin_losses_match_torch_if_available():
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(57)
    x = r.standard_normal((3, 5))
    y = np.array([[3, 0, -1, 1, 2], [1, 2, 3, 4, -1], [0, -1, 2, 2, 2]])
    a, A = vg.tensor(x, device="cpu", dtype="f64", requires_grad=True), torch.tensor(x, requires_grad=True)
    vg.multilabel_margin_loss(a, y).backward()
    torch.nn.functional.multilabel_margin_loss(A, torch.tensor(y)).backward()
    np.testing.assert_allclose(a.grad.numpy(), A.grad.numpy(), atol=1e-14)
    trip = [r.standard_normal((4, 3)) for _ in range(3)]
    ours = nn.TripletMarginWithDistanceLoss(distance_function=lambda u, v: 1 - vg.cosine_similarity(u, v, dim=-1),
                                            margin=0.5, swap=True)(*(vg.tensor(t, device="cpu", dtype="f64")
                                                                     for t in trip))
    theirs = torch.nn.TripletMarginWithDistanceLoss(
        distance_function=lambda u, v: 1 - torch.nn.functional.cosine_similarity(u, v, dim=-1), margin=0.5,
        swap=True)(*(torch.tensor(t) for t in trip))
    assert abs(ours.item() - theirs.item()) < 1e-13


def test_adaptive_max_pool3d_and_lp_pool3d(bk):
    """adaptive_max_pool3d (separable: the planes', then the depth's) and lp_pool3d
    against NumPy, on every backend; PyTorch as an oracle where present."""
    r = np.random.default_rng(58)
    shape = (2, 2, 5, 6, 4)
    x = r.permutation(int(np.prod(shape))).reshape(shape) / 64.0
    y = vg.adaptive_max_pool3d(bk.t(x), (2, 3, None))
    want = np.zeros((2, 2, 2, 3, 4))
    for a, (d0, d1) in enumerate(((0, 3), (2, 5))):  # (PyTorch's windows [floor(i n / o), ceil((i + 1) n / o)))
        for b in range(3):
            want[:, :, a, b] = x[:, :, d0:d1, 2 * b:2 * b + 2].max((2, 3))
    bk.close(y.numpy(), want, what="adaptive_max_pool3d")
    z = nn.LPPool3d(2, 2)(bk.t(x))
    blocks = x[:, :, :4, :, :].reshape(2, 2, 2, 2, 3, 2, 2, 2)
    bk.close(z.numpy(), np.sqrt((blocks ** 2).sum((3, 5, 7))), rtol=max(bk.rtol, 1e-4), what="lp_pool3d")
    torch = pytest.importorskip("torch")
    if bk.device == "cpu":
        t = torch.tensor(x)
        np.testing.assert_allclose(vg.nn.AdaptiveMaxPool3d((3, 2, 3))(vg.tensor(x, device="cpu", dtype="f64")).numpy(),
                                   torch.nn.AdaptiveMaxPool3d((3, 2, 3))(t).numpy())


class _Symmetric(nn.Module):
    """A parametrization: the upper triangle mirrored (a right inverse: the
    upper triangle itself)."""

    def forward(self, X):
        return X.triu() + X.triu(1).mT

    def right_inverse(self, S):
        return S.triu()


def test_register_parametrization(bk):
    """parametrize: the weight computed from parametrizations.weight.original on
    every read (PyTorch's state-dict names), gradients reach the original,
    assignment goes through right_inverse, chains apply in order, cached() computes
    once, remove_parametrizations leaves a plain parameter; errors name the
    problem."""
    P = nn.utils.parametrize
    m = nn.Linear(3, 3, device=bk.device, dtype=bk.dtype)
    W0 = m.weight.numpy().astype(np.float64)
    P.register_parametrization(m, "weight", _Symmetric())
    assert type(m).__name__ == "ParametrizedLinear" and P.type_before_parametrizations(m) is nn.Linear
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original"]
    assert P.is_parametrized(m) and P.is_parametrized(m, "weight") and not P.is_parametrized(m, "bias")
    W = m.weight.numpy().astype(np.float64)
    bk.close(W, np.triu(W0) + np.triu(W0, 1).T)
    x = np.random.default_rng(3).standard_normal((2, 3))
    m(bk.t(x)).sum().backward()
    g = np.tile(x.sum(0), (3, 1))  # d/dW of sum(x W^T), folded onto the upper triangle
    bk.close(m.parametrizations.weight.original.grad.numpy(), np.triu(g) + np.tril(g, -1).T,
             atol=max(bk.atol, 1e-2))
    opt = vg.optim.SGD(m.parameters(), lr=0.1)
    opt.step()
    W = m.weight.numpy()
    assert np.allclose(W, W.T)
    S = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 5.0], [3.0, 5.0, 6.0]])
    m.weight = bk.t(S)  # (through right_inverse: the original's upper triangle)
    bk.close(m.weight.numpy(), S)
    assert any(p is m.parametrizations.weight.original for p in opt.parameters())  # (in place: still trained)

    class Double(nn.Module):
        def forward(self, X):
            return X * 2.0
    P.register_parametrization(m, "weight", Double())
    bk.close(m.weight.numpy(), 2 * S)
    calls = []
    m.parametrizations.weight[1].register_forward_hook(lambda mod, a, out: calls.append(1))
    with P.cached():
        m.weight, m.weight
    assert len(calls) == 1
    m.weight
    assert len(calls) == 2
    sd = m.state_dict()
    m2 = nn.Linear(3, 3, device=bk.device, dtype=bk.dtype)
    P.register_parametrization(m2, "weight", _Symmetric())
    P.register_parametrization(m2, "weight", Double())
    m2.load_state_dict(sd)
    bk.close(m2.weight.numpy(), 2 * S)
    P.remove_parametrizations(m, "weight")
    assert type(m) is nn.Linear and list(m.state_dict()) == ["bias", "weight"] and isinstance(m.weight, vg.Parameter)
    bk.close(m.weight.numpy(), 2 * S)
    with pytest.raises(ValueError, match="register_parametrization: Linear has no parameter, buffer or parametrized "
                                         "tensor named 'kernel'"):
        P.register_parametrization(m, "kernel", Double())

    class Shrink(nn.Module):
        def forward(self, X):
            return X[:2]
    with pytest.raises(ValueError, match=r"register_parametrization: the parametrization gives"):
        P.register_parametrization(m, "weight", Shrink())
    with pytest.raises(ValueError, match="remove_parametrizations: Linear has no parametrization on 'bias'"):
        P.remove_parametrizations(m, "bias")


@pytest.mark.parametrize("shape,kind", [((4, 4), None), ((5, 3), None), ((3, 5), "matrix_exp"), ((4, 4), "cayley"),
                                        ((2, 5, 3), "householder")], ids=str)
def test_orthogonal_parametrization_stays_orthogonal_while_training(bk, shape, kind):
    """parametrizations.orthogonal: Q^T Q = I (Q Q^T for wide) at registration (the
    weight orthogonalised by QR into ``base``) and after optimizer steps, for each
    map, batches of matrices included."""
    tol = {"f64": 1e-12, "f32": 2e-5, "f16": 5e-3}[bk.dtype]
    m = nn.Module()
    W0 = np.random.default_rng(4).standard_normal(shape)
    m.weight = vg.Parameter(W0, device=bk.device, dtype=bk.dtype)
    nn.utils.parametrizations.orthogonal(m, orthogonal_map=kind)
    assert list(m.state_dict()) == ["parametrizations.weight.original", "parametrizations.weight.0.base"]

    def check():
        Q = m.weight.numpy().astype(np.float64)
        G = Q.swapaxes(-1, -2) @ Q if shape[-2] >= shape[-1] else Q @ Q.swapaxes(-1, -2)
        np.testing.assert_allclose(G, np.broadcast_to(np.eye(min(shape[-2:])), G.shape), atol=tol)
        return Q
    Q = check()
    if shape[-2] == shape[-1]:  # the QR factor of W0 with a positive diagonal of R
        q, r = np.linalg.qr(W0)
        bk.close(Q, q * np.sign(np.diagonal(r, 0, -2, -1))[..., None, :], atol=max(bk.atol, 10 * tol))
    opt = vg.optim.SGD(m.parameters(), lr=0.2)
    x = bk.t(np.random.default_rng(5).standard_normal(shape[:-2] + (6, shape[-2])))
    for _ in range(3):
        opt.zero_grad()
        (x @ m.weight).tanh().sum().backward()
        opt.step()
    assert not np.allclose(m.weight.numpy(), Q, atol=1e-3)  # (it moved)
    check()


def test_parametrizations_weight_norm_and_spectral_norm(bk):
    """parametrizations.weight_norm (original0 = g, original1 = v) and spectral_norm
    (largest singular value 1 after its 15 registration iterations; its vectors in
    buffers); against PyTorch's values and gradients in f64 where present."""
    r = np.random.default_rng(6)
    W, x = r.standard_normal((4, 3)), r.standard_normal((2, 3))
    for dim in (0, None):
        m = nn.Linear(3, 4, device=bk.device, dtype=bk.dtype)
        m.weight.assign_(W)
        nn.utils.parametrizations.weight_norm(m, dim=dim)
        assert list(m.state_dict()) == ["bias", "parametrizations.weight.original0", "parametrizations.weight.original1"]
        g = np.linalg.norm(W, axis=1, keepdims=True) if dim == 0 else np.linalg.norm(W)
        bk.close(m.parametrizations.weight.original0.numpy(), g)
        bk.close(m.weight.numpy(), W)
    s = nn.Conv2d(2, 3, 3, device=bk.device, dtype=bk.dtype)
    nn.utils.parametrizations.spectral_norm(s)
    assert list(s.state_dict()) == ["bias", "parametrizations.weight.original", "parametrizations.weight.0._u",
                                    "parametrizations.weight.0._v"]
    sv = np.linalg.svd(s.weight.numpy().astype(np.float64).reshape(3, -1), compute_uv=False)[0]
    assert abs(sv - 1.0) < (1e-3 if bk.dtype != "f16" else 1e-2)
    torch = pytest.importorskip("torch")
    if bk.dtype != "f64":
        return
    m = nn.Linear(3, 4, device="cpu", dtype="f64")
    t = torch.nn.Linear(3, 4).double()
    m.weight.assign_(W)
    with torch.no_grad():
        t.weight.copy_(torch.tensor(W))
        t.bias.copy_(torch.tensor(m.bias.numpy()))
    nn.utils.parametrizations.weight_norm(m)
    torch.nn.utils.parametrizations.weight_norm(t)
    m(vg.tensor(x, device="cpu", dtype="f64")).tanh().sum().backward()
    t(torch.tensor(x)).tanh().sum().backward()
    for i in (0, 1):
        np.testing.assert_allclose(getattr(m.parametrizations.weight, f"original{i}").grad.numpy(),
                                   getattr(t.parametrizations.weight, f"original{i}").grad.numpy(), atol=1e-12)
    ours, theirs = nn.Linear(4, 4, device="cpu", dtype="f64"), torch.nn.Linear(4, 4).double()
    W4 = r.standard_normal((4, 4))
    ours.weight.assign_(W4)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(W4))
    nn.utils.parametrizations.orthogonal(ours)
    torch.nn.utils.parametrizations.orthogonal(theirs)
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(), atol=1e-12)


@pytest.mark.parametrize("lazy,eager,args,shape", [
    ("LazyConv1d", "Conv1d", (4, 3), (2, 5, 9)), ("LazyConv2d", "Conv2d", (4, 3), (2, 5, 6, 6)),
    ("LazyConv3d", "Conv3d", (2, 2), (1, 3, 4, 4, 4)), ("LazyConvTranspose2d", "ConvTranspose2d", (3, 2), (2, 4, 3, 3)),
    ("LazyConvTranspose1d", "ConvTranspose1d", (3, 2), (2, 4, 5)), ("LazyBatchNorm1d", "BatchNorm1d", (), (6, 5)),
    ("LazyBatchNorm2d", "BatchNorm2d", (), (3, 4, 2, 2)), ("LazyInstanceNorm1d", "InstanceNorm1d", (), (2, 3, 6)),
    ("LazyLinear", "Linear", (3,), (4, 7))], ids=lambda v: v if isinstance(v, str) else None)
def test_lazy_modules_take_their_first_dimension_from_the_first_input(bk, lazy, eager, args, shape):
    """Lazy modules: arguments checked at construction, no parameters until the
    first forward, then the eager module's (same shapes and attributes; with its
    weights copied in, the same outputs), named and trainable."""
    m = getattr(nn, lazy)(*args, device=bk.device, dtype=bk.dtype)
    assert m.has_uninitialized_params() and m.parameters() == [] and "uninitialized" in repr(m)
    x = bk.t(np.random.default_rng(8).standard_normal(shape))
    out = m(x)
    assert not m.has_uninitialized_params() and isinstance(m, getattr(nn, eager))
    e = getattr(nn, eager)(shape[1] if "Linear" not in lazy else shape[-1], *args, device=bk.device, dtype=bk.dtype)
    assert [(n, p.shape) for n, p in m.named_parameters()] == [(n, p.shape) for n, p in e.named_parameters()]
    e.load_state_dict(m.state_dict())
    bk.close(out.numpy(), e(x).numpy())
    assert repr(m) == "Lazy" + repr(e)
    if m.parameters():
        opt = vg.optim.SGD(m.parameters(), lr=0.1)
        m(x).sum().backward()
        opt.step()


def test_lazy_module_errors():
    with pytest.raises(ValueError, match="LazyConv2d: Conv2d: kernel_size must be >= 1, got 0 "
                                         r"\(in_channels comes from the first input\)"):
        nn.LazyConv2d(4, 0)
    with pytest.raises(ValueError, match="LazyLinear: Linear: sizes must be positive"):
        nn.LazyLinear(0)


def test_module_compile_type_share_memory_to_empty_bfloat16():
    """PyTorch's Module.compile() (in place: None; vkgrad runs eagerly), type(dtype),
    share_memory(), to_empty(device=); bfloat16() refused by name."""
    m = nn.Linear(2, 3, device="cpu")
    assert m.compile() is None and m.share_memory() is m and m.to_empty(device="cpu") is m
    assert m.type(vg.float64) is m and m.weight.dtype == "f64" and m.bias.dtype == "f64"
    with pytest.raises(ValueError, match="vkgrad has no bfloat16 tensors"):
        m.bfloat16()


def test_module_state_dict_hooks_extra_state_backward_pre_hook_and_lookups(bk):
    """get_buffer / set_submodule; get_extra_state / set_extra_state saved under
    "<prefix>_extra_state"; state-dict and load-state-dict hooks (a pre-hook
    renaming an old checkpoint's keys); register_full_backward_pre_hook scaling
    grad_output -- as PyTorch's."""
    class Counter(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2, device=bk.device, dtype=bk.dtype)
            self.steps = 0

        def forward(self, x):
            return self.lin(x)

        def get_extra_state(self):
            return {"steps": self.steps}

        def set_extra_state(self, state):
            self.steps = state["steps"]
    m = nn.Sequential(nn.BatchNorm1d(2, device=bk.device, dtype=bk.dtype), Counter())
    m[1].steps = 7
    assert m.get_buffer("0.running_mean") is m[0].running_mean
    with pytest.raises(AttributeError, match="BatchNorm1d has no buffer 'nope'"):
        m.get_buffer("0.nope")
    sd = m.state_dict()
    assert sd["1._extra_state"] == {"steps": 7}
    fresh = nn.Sequential(nn.BatchNorm1d(2, device=bk.device, dtype=bk.dtype), Counter())
    fresh.load_state_dict(sd)
    assert fresh[1].steps == 7
    seen = []
    m.register_state_dict_pre_hook(lambda mod, prefix, keep: seen.append(("pre", prefix)))
    m[1].register_state_dict_post_hook(lambda mod, d, prefix, meta: d.pop(prefix + "_extra_state"))
    sd2 = m.state_dict()
    assert seen == [("pre", "")] and "1._extra_state" not in sd2
    old = {k.replace("1.lin.", "1.linear."): v for k, v in sd.items()}  # an old checkpoint's names

    def rename(mod, state, prefix, meta, strict, missing, unexpected, errors):
        for k in [k for k in state if k.startswith(prefix + "linear.")]:
            state[k.replace(prefix + "linear.", prefix + "lin.")] = state.pop(k)
    fresh[1].register_load_state_dict_pre_hook(rename)
    forgiven = []
    fresh.register_load_state_dict_post_hook(lambda mod, keys: forgiven.append(list(keys.missing_keys)))
    fresh.load_state_dict(old)
    assert forgiven == [[]] and np.array_equal(fresh[1].lin.weight.numpy(), m[1].lin.weight.numpy())
    assert "1.linear.weight" in old  # (the caller's dict is not edited)
    fresh.set_submodule("1.lin", nn.Linear(2, 3, device=bk.device, dtype=bk.dtype))
    assert fresh[1].lin.out_features == 3
    lin = nn.Linear(2, 2, device=bk.device, dtype=bk.dtype)
    x = bk.t(np.ones((1, 2)), requires_grad=True)
    lin(x).sum().backward()
    plain = x.grad.numpy().copy()
    x.grad = None
    got = []
    lin.register_full_backward_pre_hook(lambda mod, go: got.append(go[0].shape) or (go[0] * 3.0,))
    lin(x).sum().backward()
    assert got == [(1, 2)]
    bk.close(x.grad.numpy(), 3 * plain)


def test_pruning_masks_the_weights_and_their_gradients(bk):
    """nn.utils.prune: l1_unstructured keeps the largest |w|, pruning again takes
    its amount of what is left, ln_structured drops whole rows, the forward uses
    w_orig * mask and gradients reach the kept entries only; global_unstructured
    ranks several tensors together; remove makes it permanent."""
    P = nn.utils.prune
    r = np.random.default_rng(51)
    W = r.standard_normal((4, 6))
    m = nn.Linear(6, 4, device=bk.device, dtype=bk.dtype)
    m.weight.assign_(W)
    P.l1_unstructured(m, "weight", 0.25)
    keep = np.abs(_round16(bk, W)) > np.sort(np.abs(_round16(bk, W)).ravel())[5]
    np.testing.assert_array_equal(m.weight_mask.numpy() != 0, keep)
    assert list(m.state_dict()) == ["bias", "weight_orig", "weight_mask"] and P.is_pruned(m)
    P.l1_unstructured(m, "weight", 2)  # (two more of the 18 left)
    assert int(m.weight_mask.numpy().sum()) == 16
    x = bk.t(r.standard_normal((3, 6)))
    out = m(x)
    bk.close(out.numpy(), x.numpy() @ (m.weight_orig.numpy() * m.weight_mask.numpy()).T + m.bias.numpy())
    out.sum().backward()
    assert np.all(m.weight_orig.grad.numpy()[m.weight_mask.numpy() == 0] == 0)
    P.ln_structured(m, "weight", 1, n=1, dim=0)
    rows = m.weight_mask.numpy().sum(1)
    assert sorted(rows.tolist()).count(0.0) == 1
    a, b = nn.Linear(3, 3, device=bk.device, dtype=bk.dtype), nn.Linear(3, 2, device=bk.device, dtype=bk.dtype)
    a.weight.assign_(np.arange(9.0).reshape(3, 3) - 4.0)
    b.weight.assign_(np.array([[0.5, -7.0, 2.5], [6.0, -0.25, 1.0]]))
    P.global_unstructured([(a, "weight"), (b, "weight")], pruning_method=P.L1Unstructured, amount=5)
    # the five smallest |w| of both: 0, 0.25, 0.5, 1 (a's -1 and 1 and b's 1 tie: stable order)
    assert int(a.weight_mask.numpy().sum() + b.weight_mask.numpy().sum()) == 10
    assert b.weight_mask.numpy()[0, 0] == 0 and b.weight_mask.numpy()[1, 1] == 0 and a.weight_mask.numpy()[1, 1] == 0
    P.remove(m, "weight")
    assert list(m.state_dict()) == ["bias", "weight"] and isinstance(m.weight, vg.Parameter)
    assert sorted(m.weight.numpy().ravel().tolist()).count(0.0) >= 8
    with pytest.raises(ValueError, match="prune.remove: parameter 'weight' of Linear is not pruned"):
        P.remove(m, "weight")
    with pytest.raises(ValueError, match="l1_unstructured: amount 40 exceeds the 24 entries left to prune"):
        P.l1_unstructured(m, "weight", 40)
    P.custom_from_mask(m, "bias", np.array([1, 0, 1, 0]))
    assert m.bias.numpy()[1] == 0 and m.bias.numpy()[3] == 0


def _round16(bk, a):
    return a.astype(np.float16).astype(np.float64) if bk.dtype == "f16" else a


def test_pruning_matches_torch_if_available():
    torch = pytest.importorskip("torch")
    import torch.nn.utils.prune as TP
    r = np.random.default_rng(52)
    W = r.standard_normal((5, 8))
    m, t = nn.Linear(8, 5, device="cpu", dtype="f64"), torch.nn.Linear(8, 5).double()
    m.weight.assign_(W)
    with torch.no_grad():
        t.weight.copy_(torch.tensor(W))
    for fn, args in (("l1_unstructured", (0.3,)), ("l1_unstructured", (4,)), ("ln_structured", (0.4, 2, 0)),
                     ("ln_structured", (1, 1, 1))):
        getattr(nn.utils.prune, fn)(m, "weight", *args)
        getattr(TP, fn)(t, "weight", *args)
        np.testing.assert_array_equal(m.weight_mask.numpy(), t.weight_mask.numpy(), err_msg=str((fn, args)))


def test_fusion_clip_norms_and_total_norm(bk):
    """fuse_conv_bn_eval / fuse_linear_bn_eval equal the pair in eval mode;
    clip_grad_norm_ with inf / 1 / 3 norms and error_if_nonfinite, get_total_norm,
    clip_grads_with_norm_ -- PyTorch's formulas."""
    r = np.random.default_rng(53)
    U = nn.utils
    for conv, bn, shape in ((nn.Conv2d(3, 4, 3, bias=False, device=bk.device, dtype=bk.dtype),
                             nn.BatchNorm2d(4, device=bk.device, dtype=bk.dtype), (2, 3, 6, 6)),
                            (nn.Linear(5, 4, device=bk.device, dtype=bk.dtype),
                             nn.BatchNorm1d(4, device=bk.device, dtype=bk.dtype), (6, 5))):
        for k in range(3):
            bn(conv(bk.t(r.standard_normal(shape) * (k + 1))))
        with pytest.raises(ValueError, match="fusion only for eval"):
            (U.fuse_conv_bn_eval if isinstance(conv, nn.Conv2d) else U.fuse_linear_bn_eval)(conv, bn)
        conv.eval()
        bn.eval()
        fused = (U.fuse_conv_bn_eval if isinstance(conv, nn.Conv2d) else U.fuse_linear_bn_eval)(conv, bn)
        x = bk.t(r.standard_normal(shape))
        bk.close(fused(x).numpy(), bn(conv(x)).numpy(), atol=max(bk.atol, 2e-2), what=type(conv).__name__)
        assert fused is not conv and fused.bias is not None
    G = [r.standard_normal((3, 4)), r.standard_normal(5)]
    for nt, want in ((np.inf, max(np.abs(g).max() for g in G)), (1.0, sum(np.abs(g).sum() for g in G)),
                     (3.0, sum((np.abs(g) ** 3).sum() for g in G) ** (1 / 3))):
        ps = [vg.Parameter(np.zeros(g.shape), device=bk.device, dtype=bk.dtype) for g in G]
        for p, g in zip(ps, G):
            p.grad = bk.t(g)
        total = U.clip_grad_norm_(ps, 1.5, norm_type=nt)
        bk.close(total.numpy(), want, rtol=max(bk.rtol, 1e-3))
        coef = min(1.0, 1.5 / (want + 1e-6))
        for p, g in zip(ps, G):
            bk.close(p.grad.numpy(), g * coef, atol=max(bk.atol, 2e-3))
    ps = [vg.Parameter(np.zeros(2), device=bk.device, dtype=bk.dtype)]
    ps[0].grad = bk.t(np.array([np.inf, 1.0]))
    with pytest.raises(RuntimeError, match="get_total_norm: the total norm of order 2.0 is inf"):
        U.clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    t = U.get_total_norm([bk.t(np.array([3.0])), bk.t(np.array([4.0]))])
    bk.close(t.numpy(), 5.0)
    ps[0].grad = bk.t(np.array([3.0, 4.0]))
    U.clip_grads_with_norm_(ps, 1.0, t)
    bk.close(ps[0].grad.numpy(), [0.6, 0.8], atol=max(bk.atol, 1e-3))


def test_adaptive_log_softmax_with_loss(bk):
    """AdaptiveLogSoftmaxWithLoss: log_prob's rows are distributions over n_classes
    built from the head and the clusters (NumPy's composition of the same weights),
    forward gives each target's log-probability and their mean negative, predict the
    argmax; trainable; errors named."""
    r = np.random.default_rng(61)
    m = nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6], div_value=2.0, device=bk.device, dtype=bk.dtype)
    assert [n for n, _ in m.named_parameters()] == ["head.weight", "tail.0.0.weight", "tail.0.1.weight",
                                                     "tail.1.0.weight", "tail.1.1.weight"]
    assert m.tail[0][0].weight.shape == (4, 8) and m.tail[1][0].weight.shape == (2, 8)
    x = r.standard_normal((6, 8))
    W = {n: p.numpy().astype(np.float64) for n, p in m.named_parameters()}

    def lsm(z):
        z = z - z.max(1, keepdims=True)
        return z - np.log(np.exp(z).sum(1, keepdims=True))
    xr = bk.t(x).numpy().astype(np.float64)
    head = lsm(xr @ W["head.weight"].T)
    full = np.concatenate([head[:, :3]] + [lsm(xr @ W[f"tail.{i}.0.weight"].T @ W[f"tail.{i}.1.weight"].T)
                                           + head[:, 3 + i:4 + i] for i in range(2)], 1)
    lp = m.log_prob(bk.t(x))
    bk.close(lp.numpy(), full, atol=max(bk.atol, 1e-2))
    bk.close(np.exp(lp.numpy().astype(np.float64)).sum(1), np.ones(6), atol=max(bk.atol, 1e-2))
    y = np.array([0, 2, 3, 5, 6, 9])
    out, loss = m(bk.t(x), y)
    bk.close(out.numpy(), full[np.arange(6), y], atol=max(bk.atol, 1e-2))
    bk.close(loss.numpy(), -full[np.arange(6), y].mean(), atol=max(bk.atol, 1e-2))
    assert m.predict(bk.t(x)).numpy().tolist() == full.argmax(1).tolist()
    loss.backward()
    assert all(p.grad is not None for p in m.parameters())
    with pytest.raises(ValueError, match=r"cutoffs must be a sorted sequence of unique positive ints below"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 10, [6, 3])
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 9\], got \[0, 10\]"):
        m(bk.t(x), np.array([0, 1, 2, 3, 4, 10]))


def test_adaptive_log_softmax_matches_torch_if_available():
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(62)
    m = nn.AdaptiveLogSoftmaxWithLoss(16, 20, [5, 12], div_value=2.0, head_bias=True, device="cpu", dtype="f64")
    t = torch.nn.AdaptiveLogSoftmaxWithLoss(16, 20, [5, 12], div_value=2.0, head_bias=True).double()
    assert list(m.state_dict()) == list(t.state_dict())
    t.load_state_dict({k: torch.tensor(v) for k, v in m.state_dict().items()})
    x, y = r.standard_normal((7, 16)), np.array([0, 4, 5, 11, 12, 19, 3])
    o, to = m(vg.tensor(x, dtype="f64", device="cpu"), y), t(torch.tensor(x), torch.tensor(y))
    np.testing.assert_allclose(o.output.numpy(), to.output.detach().numpy(), atol=1e-12)
    o.loss.backward()
    to.loss.backward()
    for p, q in zip(m.parameters(), t.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(m.log_prob(vg.tensor(x, dtype="f64", device="cpu")).numpy(),
                               t.log_prob(torch.tensor(x)).detach().numpy(), atol=1e-12)


def test_more_tensor_module_and_functional_spellings(bk):
    """Tensor.where / reshape_as / sum_to_size / split_with_sizes / mH / H /
    stride / put / the in-place samplers / post-accumulate hooks; F's in-place
    activations, *_with_indices and upsample; nn.Buffer, RNNBase, NLLLoss2d --
    as PyTorch's."""
    import vkgrad.nn.functional as F
    x = bk.t(np.arange(6.0).reshape(2, 3))
    assert x.where(x > 2.0, -1.0).numpy().tolist() == [[-1, -1, -1], [3, 4, 5]]
    assert x.reshape_as(bk.t(np.zeros((3, 2)))).shape == (3, 2) and x.ravel().shape == (6,)
    assert x.sum_to_size(1, 3).numpy().tolist() == [[3, 5, 7]] and x.sum_to_size(3).numpy().tolist() == [3, 5, 7]
    with pytest.raises(ValueError, match=r"sum_to_size: \[2\] does not broadcast to \[2, 3\]"):
        x.sum_to_size(2)
    assert [p.shape for p in x.split_with_sizes([1, 2], 1)] == [(2, 1), (2, 2)]
    assert x.mH.shape == (3, 2) and x.H.shape == (3, 2) and x.adjoint().shape == (3, 2)
    assert x.stride() == (3, 1) and x.stride(0) == 3 and x.storage_offset() == 0 and x.itemsize == x.element_size()
    assert x.get_device() == (-1 if bk.device == "cpu" else 0) and x.is_cpu == (bk.device == "cpu")
    assert x.put(vg.tensor([0, -1], dtype="i32", device=bk.device), bk.t(np.array([9.0, 8.0]))).numpy().tolist() == \
        [[9, 1, 2], [3, 4, 8]]
    assert x.put(np.array([1, 1]), bk.t(np.array([1.0, 2.0])), accumulate=True).numpy()[0, 1] == 4.0
    vg.manual_seed(2)
    e = bk.t(np.zeros((200, 50))).exponential_(2.0).numpy().astype(np.float64)
    assert e.min() >= 0 and abs(e.mean() - 0.5) < 0.02
    b = bk.t(np.zeros(4000)).bernoulli_(0.25).numpy()
    assert set(np.unique(b).tolist()) <= {0.0, 1.0} and abs(b.mean() - 0.25) < 0.03
    r = bk.t(np.zeros(1000)).random_(3, 7).numpy()
    assert set(np.unique(r).tolist()) == {3.0, 4.0, 5.0, 6.0}
    p = vg.Parameter(np.ones(3), device=bk.device, dtype=bk.dtype)
    seen = []
    h = p.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().tolist()))
    (p * 2.0).sum().backward()
    h.remove()
    (p * 2.0).sum().backward()
    assert seen == [[2.0, 2.0, 2.0]]
    y = (p * 1.0)
    y.retain_grad()
    assert y.retains_grad and not p.retains_grad
    z = bk.t(np.array([-1.0, 2.0]))
    assert F.relu_(z) is z and z.numpy().tolist() == [0.0, 2.0]
    F.leaky_relu_(w := bk.t(np.array([-1.0, 2.0])), 0.5)
    assert w.numpy().tolist() == [-0.5, 2.0]
    v, i = F.max_pool2d_with_indices(bk.t(np.arange(16.0).reshape(1, 1, 4, 4)), 2)
    assert v.numpy().ravel().tolist() == [5, 7, 13, 15] and i.numpy().ravel().tolist() == [5, 7, 13, 15]
    assert F.upsample_nearest(bk.t(np.ones((1, 1, 2, 2))), scale_factor=2).shape == (1, 1, 4, 4)

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Buffer(vg.zeros(3, device=bk.device))
            self.b = nn.Buffer(np.ones(2), persistent=False)
    m = M()
    assert list(m.state_dict()) == ["a"] and [n for n, _ in m.named_buffers()] == ["a", "b"]
    assert isinstance(nn.LSTM(2, 3), nn.RNNBase) and isinstance(nn.GRUCell(2, 3), nn.RNNCellBase)
    assert nn.NLLLoss2d is nn.NLLLoss


@pytest.mark.parametrize("fn,shape,size", [("adaptive_max_pool2d", (2, 3, 7, 9), (3, 4)),
                                           ("adaptive_max_pool2d", (3, 7, 9), (4, 4)),
                                           ("adaptive_max_pool3d", (2, 2, 5, 7, 6), (2, 3, 4)),
                                           ("adaptive_max_pool1d", (2, 3, 10), 4)])
def test_adaptive_max_pool_indices_of_uneven_windows(bk, fn, shape, size):
    """Uneven adaptive windows with return_indices: each index names the first
    position holding its box's maximum, the maxima equal the pool without indices,
    and the gradient goes to the indexed positions only -- PyTorch's, exactly, in f64."""
    r = np.random.default_rng(4)
    x = r.standard_normal(shape)
    xt = bk.t(x, requires_grad=True)
    y, i = getattr(vg.nn.functional, fn)(xt, size, return_indices=True)
    assert i.dtype == "i32" and i.shape == y.shape
    bk.close(y.numpy(), getattr(vg.nn.functional, fn)(bk.t(x), size).numpy(), what=f"{fn} maxima")
    lead = len(shape) - (3 if fn.endswith("3d") else 2 if fn.endswith("2d") else 1)
    flat = bk.t(x).numpy().reshape(shape[:lead] + (-1,))
    at = i.numpy().reshape(shape[:lead] + (-1,))
    bk.close(np.take_along_axis(flat, at, -1).reshape(y.shape), y.numpy(), what=f"{fn} values at the indices")
    y.sum().backward()
    counts = np.zeros(flat.shape)
    np.add.at(counts.reshape(-1, flat.shape[-1]), (np.repeat(np.arange(counts.size // flat.shape[-1]),
                                                            at.shape[-1]), at.reshape(-1)), 1.0)
    bk.close(xt.grad.numpy().reshape(counts.shape), counts, what=f"{fn} gradient")
    torch = pytest.importorskip("torch")
    if bk.device == "cpu":
        ty, ti = getattr(torch.nn.functional, fn)(torch.tensor(x), size, return_indices=True)
        ours = getattr(vg.nn.functional, fn)(vg.tensor(x, dtype="f64", device="cpu"), size, return_indices=True)
        assert np.array_equal(ours[1].numpy(), ti.numpy()) and np.array_equal(ours[0].numpy(), ty.numpy())


def test_containers_take_item_assignment_and_keep_their_order():
    """PyTorch's model surgery: seq[i] = m (negative i too), del seq[i] / seq[a:b] (the
    rest renumbered), pop; ModuleList and ParameterList alike; a sub-module or a
    parameter assigned again keeps its place -- setattr(seq, "1", m) moved the entry
    to the end, so the Sequential ran its layers out of order, silently."""
    x = np.arange(6.0).reshape(2, 3)
    seq = nn.Sequential(nn.Linear(3, 4, device="cpu"), nn.ReLU(), nn.Linear(4, 2, device="cpu"))
    seq[-2] = nn.Tanh()
    setattr(seq, "1", nn.Sigmoid())
    assert [type(m).__name__ for m in seq] == ["Linear", "Sigmoid", "Linear"] and list(seq._modules) == ["0", "1", "2"]
    lin0, lin2 = seq[0], seq[2]
    want = lin2(vg.sigmoid(lin0(vg.tensor(x, device="cpu")))).numpy()
    np.testing.assert_allclose(seq(vg.tensor(x, device="cpu")).numpy(), want, rtol=1e-6)
    seq[2] = nn.Linear(4, 5, device="cpu")
    assert seq(vg.tensor(x, device="cpu")).shape == (2, 5)
    del seq[1]
    assert list(seq._modules) == ["0", "1"] and type(seq[1]).__name__ == "Linear"
    assert seq.pop(0) is lin0 and list(seq.state_dict()) == ["0.weight", "0.bias"]
    ml = nn.ModuleList([nn.ReLU(), nn.Tanh(), nn.GELU(), nn.SiLU()])
    del ml[1:3]
    assert [type(m).__name__ for m in ml] == ["ReLU", "SiLU"]
    pl = nn.ParameterList([np.ones(2), np.zeros(2)])
    pl[0] = nn.Parameter(np.full(2, 3.0))
    assert pl[0].numpy().tolist() == [3.0, 3.0] and list(pl.state_dict()) == ["0", "1"]
    with pytest.raises(IndexError, match="Sequential: index 5 out of range for 1 entries"):
        seq[5] = nn.ReLU()
    with pytest.raises(TypeError, match="Sequential: expected a Module, got int"):
        seq[0] = 3

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(2, 2, device="cpu"), nn.Linear(2, 2, device="cpu")
    net = Net()
    net.a = nn.Linear(2, 3, device="cpu")  # (a new head: its place, as PyTorch's)
    assert list(net.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]


def test_parameter_requires_grad_and_cuda_amp_spellings():
    """nn.Parameter(t, requires_grad=False) and PyTorch's positional Parameter(t, False)
    make a frozen parameter (a bool there was taken for its name); torch.cuda.amp's
    GradScaler / autocast are vkgrad.amp's."""
    frozen = nn.Parameter(vg.ones(2, device="cpu"), requires_grad=False)
    assert not frozen.requires_grad and frozen.name is None
    positional = nn.Parameter(vg.ones(2, device="cpu"), False)
    assert not positional.requires_grad and positional.name is None
    assert nn.Parameter(np.ones(2), "w").requires_grad and nn.Parameter(np.ones(2), "w").name == "w"
    assert vg.cuda.amp.GradScaler is vg.amp.GradScaler and vg.cuda.amp.autocast is vg.amp.autocast


def test_state_dict_keep_vars_prefix_and_destination():
    """state_dict(keep_vars=True) gives the tensors themselves (PyTorch's; arrays
    otherwise), ``prefix`` goes before every key and ``destination`` is filled."""
    m = nn.Sequential(nn.Linear(2, 3, device="cpu"), nn.BatchNorm1d(3, device="cpu"))
    sd = m.state_dict(keep_vars=True)
    assert sd["0.weight"] is m[0].weight and sd["1.running_mean"] is m[1].running_mean
    assert isinstance(m.state_dict()["0.weight"], np.ndarray)
    assert list(m.state_dict(prefix="enc."))[:2] == ["enc.0.weight", "enc.0.bias"]
    dest = {"step": 3}
    assert m.state_dict(destination=dest) is dest and "step" in dest and "1.num_batches_tracked" in dest
