"""Creation functions (zeros, ones, full and their _like forms, randn, rand, randint), the shape helpers
(view, flatten, unsqueeze, squeeze) and the small modules built on them (Identity,
Flatten, ModuleList, CrossEntropyLoss, MSELoss): values on every backend against
NumPy, gradients against float64 finite differences, errors naming the op."""
import numpy as np
import pytest

import vkgrad as vg
from vkgrad import nn


def test_creation_functions(bk):
    z = vg.zeros(2, 3, dtype=bk.dtype, device=bk.device)
    o = vg.ones((4,), dtype=bk.dtype, device=bk.device, requires_grad=True)
    f = vg.full((2, 2), -1.5, dtype=bk.dtype, device=bk.device)
    assert z.shape == (2, 3) and z.dtype == bk.dtype and z.device == vg.normalize_device(bk.device)
    assert o.requires_grad and not z.requires_grad
    bk.close(z.numpy(), np.zeros((2, 3)))
    bk.close(o.numpy(), np.ones(4))
    bk.close(f.numpy(), np.full((2, 2), -1.5))
    assert vg.zeros(0, 3, device=bk.device).shape == (0, 3)
    assert vg.full(5, 2.0, device=bk.device).shape == (5,)
    x = bk.t(np.arange(6.0).reshape(2, 3))
    for like, want in ((vg.zeros_like(x), 0.0), (vg.ones_like(x), 1.0), (vg.full_like(x, 3.0), 3.0)):
        assert like.shape == x.shape and like.dtype == x.dtype and like.device == x.device
        bk.close(like.numpy(), np.full((2, 3), want))
    labels = vg.full((3,), 2, dtype="i32", device=bk.device)
    assert labels.dtype == "i32" and labels.numpy().tolist() == [2, 2, 2]
    # PyTorch's dtype from a Python fill value: an int fills an integer tensor
    assert vg.full((2,), 7, device=bk.device).dtype == "i32"
    assert vg.full((2,), 7.0, device=bk.device).dtype == vg.get_default_dtype()
    f2 = f.to(bk.device, copy=True, non_blocking=True)  # (PyTorch's copy=: a new tensor though nothing changes)
    assert f2 is not f and f.to(bk.device) is f and f2.numpy().tolist() == f.numpy().tolist()
    assert vg.zeros_like(x, dtype="i32").dtype == "i32"


def test_creation_defaults_follow_the_settings():
    vg.set_default_dtype("f64")
    assert vg.zeros(2, device="cpu").dtype == "f64"
    vg.set_default_dtype("f32")
    vg.set_default_device("cpu")
    assert vg.ones(2).device == "cpu" and vg.ones(2).dtype == "f32"


def test_creation_errors():
    with pytest.raises(ValueError, match=r"zeros: the shape must be non-negative integers, got \[2, -1\]"):
        vg.zeros(2, -1)
    with pytest.raises(TypeError, match="ones: the shape must be integers"):
        vg.ones("a")
    with pytest.raises(ValueError, match="full: an i32 tensor cannot hold 1.5"):
        vg.full(2, 1.5, dtype="i32")
    with pytest.raises(ValueError, match="unknown dtype"):
        vg.zeros(2, dtype="f8")
    with pytest.raises(TypeError, match="zeros_like: expected a vkgrad Tensor, got ndarray"):
        vg.zeros_like(np.zeros(2))


def test_shape_helpers_values_and_gradients(bk):
    r = np.random.default_rng(3)
    a = r.standard_normal((2, 3, 4))
    cases = [(lambda t: t.flatten(), lambda x: x.reshape(-1)),
             (lambda t: t.flatten(1), lambda x: x.reshape(2, 12)),
             (lambda t: t.flatten(0, 1), lambda x: x.reshape(6, 4)),
             (lambda t: t.flatten(-2, -1), lambda x: x.reshape(2, 12)),
             (lambda t: t.view(4, 6), lambda x: x.reshape(4, 6)),
             (lambda t: t.view((-1, 4)), lambda x: x.reshape(-1, 4)),
             (lambda t: t.unsqueeze(0), lambda x: x[None]),
             (lambda t: t.unsqueeze(-1), lambda x: x[..., None]),
             (lambda t: t.unsqueeze(2), lambda x: x[:, :, None]),
             (lambda t: t.unsqueeze(1).squeeze(1), lambda x: x),
             (lambda t: t.unsqueeze(0).unsqueeze(3).squeeze(), lambda x: x),
             (lambda t: t.squeeze(1), lambda x: x)]  # (size 3: unchanged, as in PyTorch)
    ar = a.astype(np.float16).astype(np.float64) if bk.dtype == "f16" else a
    for i, (fn, want) in enumerate(cases):
        t = bk.t(a, requires_grad=True)
        y = fn(t)
        bk.close(y.numpy(), want(ar), what=f"case {i}")
        w = r.standard_normal(y.shape)
        (y * bk.t(w)).sum().backward()
        bk.close(t.grad.numpy(), w.reshape(a.shape), what=f"case {i} gradient")
        assert vg.gradcheck(lambda x, fn=fn: fn(x) * 2.0, [a])
    s = bk.t(np.array(5.0))
    assert s.flatten().shape == (1,) and s.unsqueeze(0).shape == (1,) and s.squeeze().shape == ()


def test_shape_helper_errors():
    t = vg.tensor(np.zeros((2, 3)))
    with pytest.raises(IndexError, match=r"unsqueeze: dim 3 out of range for a tensor of shape \[2, 3\] "
                                         r"\(expected an integer in \[-3, 2\]\)"):
        t.unsqueeze(3)
    with pytest.raises(IndexError, match="squeeze: dim -3 out of range"):
        t.squeeze(-3)
    with pytest.raises(IndexError, match="flatten: dim 1.5 out of range"):
        t.flatten(1.5)
    with pytest.raises(ValueError, match="flatten: start_dim 1 comes after end_dim 0"):
        t.flatten(1, 0)
    with pytest.raises(ValueError, match="reshape: cannot reshape"):
        t.view(4, -1)


def test_identity_flatten_modulelist(bk):
    vg.manual_seed(1)
    layers = nn.ModuleList([nn.Linear(12, 5, device=bk.device, dtype=bk.dtype)])
    layers.append(nn.Linear(5, 2, device=bk.device, dtype=bk.dtype))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.flat, self.layers, self.out = nn.Flatten(), layers, nn.Identity()

        def forward(self, x):
            x = self.flat(x)
            for m in self.layers:
                x = m(x)
            return self.out(x)

    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]
    assert len(layers) == 2 and layers[1] is list(layers)[1]
    x = np.random.default_rng(4).standard_normal((3, 3, 4))
    xr = x.astype(np.float16).astype(np.float64) if bk.dtype == "f16" else x
    W0, b0, W1, b1 = (p.numpy().astype(np.float64) for p in net.parameters())
    bk.close(net(bk.t(x)).numpy(), (xr.reshape(3, 12) @ W0.T + b0) @ W1.T + b1, atol=max(bk.atol, 3e-2 if
                                                                                          bk.dtype == "f16" else 0))
    assert "Flatten(start_dim=1, end_dim=-1)" in repr(net)
    with pytest.raises(TypeError, match="ModuleList: expected a Module, got int"):
        layers.append(3)
    with pytest.raises(NotImplementedError, match="ModuleList has no forward"):
        layers(bk.t(x))


def test_loss_modules_match_the_functions(bk):
    r = np.random.default_rng(5)
    logits, labels = r.standard_normal((6, 4)), r.integers(0, 4, 6)
    onehot = np.eye(4)[labels]
    lr = logits.astype(np.float16).astype(np.float64) if bk.dtype == "f16" else logits
    z = lr - lr.max(1, keepdims=True)
    want = -(z - np.log(np.exp(z).sum(1, keepdims=True)))[np.arange(6), labels].mean()
    for tgt in (bk.t(labels), bk.t(onehot)):
        t = bk.t(logits, requires_grad=True)
        loss = nn.CrossEntropyLoss()(t, tgt)
        bk.close(loss.item(), want)
        loss.backward()
        p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        bk.close(t.grad.numpy(), (p - onehot) / 6)
    pred, target = r.standard_normal((3, 5)), r.standard_normal((3, 5))
    pr = pred.astype(np.float16).astype(np.float64) if bk.dtype == "f16" else pred
    tr = target.astype(np.float16).astype(np.float64) if bk.dtype == "f16" else target
    bk.close(nn.MSELoss()(bk.t(pred), bk.t(target)).item(), ((pr - tr) ** 2).mean())


def test_random_creation_is_seeded_and_the_same_on_every_backend(bk):
    vg.manual_seed(11)
    a = vg.randn(3, 4, dtype=bk.dtype, device=bk.device, requires_grad=True)
    u = vg.rand((1000,), device=bk.device)
    k = vg.randint(-3, 7, (500,), device=bk.device)
    vg.manual_seed(11)
    ref = np.random.default_rng(11)
    bk.close(a.numpy(), ref.standard_normal((3, 4)).astype(np.float16 if bk.dtype == "f16" else np.float64))
    assert a.requires_grad and a.shape == (3, 4) and a.dtype == bk.dtype
    un = u.numpy()
    assert un.shape == (1000,) and un.min() >= 0 and un.max() < 1 and 0.4 < un.mean() < 0.6
    kn = k.numpy()
    assert k.dtype == "i32" and kn.min() == -3 and kn.max() == 6
    vg.manual_seed(3)
    on_cpu = vg.randn(5, device="cpu", dtype="f64").numpy()
    vg.manual_seed(3)
    bk.close(vg.randn(5, device=bk.device, dtype=bk.dtype).numpy(), on_cpu, what="a seed's values, any backend")
    vg.manual_seed(5)
    x1 = vg.randn(4, device=bk.device).numpy()
    vg.manual_seed(5)
    assert np.array_equal(x1, vg.randn(4, device=bk.device).numpy())


def test_generator_objects_draw_on_their_own(bk):
    """vg.Generator as torch.Generator: every sampler that takes ``generator=`` draws from
    it (NumPy's PCG64 from its seed, as vkgrad's own), reproducibly from a seed, on
    every backend, and leaves vkgrad's generator where it was; get_state / set_state
    replay; anything else as a generator is refused."""
    g = vg.Generator()
    assert g.initial_seed() == 67280421310721 and g.manual_seed(7) is g
    vg.manual_seed(0)
    before = vg.get_rng_state()
    ref = np.random.default_rng(7)
    dev = dict(device=bk.device)
    bk.close(vg.randn(2, 3, generator=g, dtype=bk.dtype, **dev).numpy(), ref.standard_normal((2, 3)))
    bk.close(vg.rand(4, generator=g, **dev).numpy(), ref.random(4))
    assert vg.randint(0, 9, (5,), generator=g, **dev).numpy().tolist() == ref.integers(0, 9, 5).tolist()
    assert vg.randperm(6, generator=g, **dev).numpy().tolist() == ref.permutation(6).tolist()
    bk.close(vg.normal(1.0, 2.0, (3,), generator=g, **dev).numpy(), ref.normal(1.0, 2.0, 3))
    m, s = bk.t(np.array([0.0, 10.0])), bk.t(np.array([1.0, 0.5]))
    bk.close(vg.normal(m, s, generator=g).numpy(), ref.normal([0.0, 10.0], [1.0, 0.5], (2,)))
    bk.close(bk.t(np.zeros(3)).uniform_(-1, 1, generator=g).numpy(), ref.uniform(-1, 1, 3))
    bk.close(bk.t(np.zeros(2)).normal_(generator=g).numpy(), ref.normal(0.0, 1.0, 2))
    w = vg.nn.init.kaiming_uniform_(bk.t(np.zeros((4, 3))), generator=g)
    bound = np.sqrt(3.0) * np.sqrt(2.0 / (1 + 0.0 ** 2)) / np.sqrt(3)
    bk.close(w.numpy(), ref.uniform(-bound, bound, (4, 3)))
    p = bk.t(np.array([0.2, 0.9, 0.5]))
    assert vg.bernoulli(p, generator=g).numpy().tolist() == (ref.random(3) < [0.2, 0.9, 0.5]).astype(float).tolist()
    g.manual_seed(3)
    a = vg.randn(5, generator=g, **dev).numpy()
    state = g.get_state()
    b = vg.rand(4, generator=g, **dev).numpy()
    g.set_state(state)
    assert np.array_equal(b, vg.rand(4, generator=g, **dev).numpy())
    g.manual_seed(3)
    assert np.array_equal(a, vg.randn(5, generator=g, **dev).numpy())
    assert vg.get_rng_state() == before  # (vkgrad's own generator untouched)
    with pytest.raises(TypeError, match="generator: expected a vkgrad.Generator, got int"):
        vg.randn(2, generator=3)
    with pytest.raises(ValueError, match="normal: give size"):
        vg.normal(0.0, 1.0)


def test_random_creation_errors():
    with pytest.raises(ValueError, match=r"randint: high \(2\) must be greater than low \(2\)"):
        vg.randint(2, 2, (3,))
    with pytest.raises(TypeError, match="randint: low and high must be integers"):
        vg.randint(0.5, 2, (3,))
    with pytest.raises(ValueError, match="randint: .* does not fit int32"):
        vg.randint(0, 2 ** 40, (3,))
    with pytest.raises(ValueError, match="randn: the shape must be non-negative integers"):
        vg.randn(-2)


def test_transpose_permute_and_swapaxes(bk):
    """Tensor.transpose as NumPy's (arguments or one tuple), permute as PyTorch's,
    swapaxes as PyTorch's two-axis transpose; gradients permuted back; the two-axis
    call on more dimensions names swapaxes."""
    x = np.random.default_rng(6).standard_normal((2, 3, 4, 5))
    t = bk.t(x, requires_grad=True)
    xs = np.asarray(t.numpy(), np.float64)
    for got, want in ((t.transpose(0, 2, 1, 3), xs.transpose(0, 2, 1, 3)), (t.transpose((3, 2, 1, 0)), xs.transpose()),
                      (t.permute(1, 0, 3, 2), xs.transpose(1, 0, 3, 2)), (t.permute([0, 1, 3, 2]), xs.swapaxes(2, 3)),
                      (t.swapaxes(1, -1), xs.swapaxes(1, 3)), (t.transpose(), xs.transpose())):
        assert got.shape == want.shape
        np.testing.assert_array_equal(np.asarray(got.numpy(), np.float64), want)
    w = np.random.default_rng(7).standard_normal((2, 5, 4, 3))
    (t.swapaxes(1, 3) * bk.t(w)).sum().backward()
    bk.close(t.grad.numpy(), w.swapaxes(1, 3).astype(np.float16 if bk.dtype == "f16" else np.float64))
    # PyTorch's transpose(dim0, dim1) swaps: a 2-d W.transpose(0, 1) is W's transpose (NumPy's would be W)
    assert t.transpose(1, 2).shape == (2, 4, 3, 5) and vg.transpose(t, 1, 3).shape == (2, 5, 4, 3)
    m = bk.t(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(m.transpose(0, 1).numpy(), np.arange(6.0).reshape(2, 3).T)
    for shape in ((0, 8, 16), (8, 0, 16), (2, 8, 0)):  # (empty: a Vulkan transpose had divided by 0)
        assert bk.t(np.zeros(shape)).permute(0, 2, 1).numpy().shape == (shape[0], shape[2], shape[1])
    with pytest.raises(ValueError, match=r"transpose: axes \[1, 2\] are not a permutation of \[0, 1, 2, 3\]"):
        vg.transpose(t, (1, 2))
    with pytest.raises(IndexError, match=r"swapaxes: dim 4 out of range"):
        t.swapaxes(0, 4)


def test_functional_namespaces():
    """vkgrad.functional and vkgrad.nn.functional (PyTorch's ``F``) hold the same functions,
    but for cross_entropy: PyTorch's (of logits) under F, ggmlR's (of probabilities) at the top."""
    import vkgrad.functional as F1
    import vkgrad.nn.functional as F
    assert F is vg.nn.functional and set(F.__all__) == set(F1.__all__)
    for name in ("relu", "softmax", "pad", "interpolate", "scaled_dot_product_attention",
                 "layer_norm", "conv2d", "embedding", "linear"):  # (F's activations take PyTorch's inplace=,
        f = getattr(F, name)  # its softmaxes PyTorch's positional _stacklevel / dtype: wrappers of the same;
        top = getattr(vg, name)  # vkgrad's takes PyTorch's out=: a wrapper too)
        assert {top, getattr(top, "__wrapped__", None)} & {f, getattr(f, "accepts_inplace_of", None),
                                                           getattr(f, "__wrapped__", None)}
    # (F's losses take PyTorch's whole signatures: its size_average / reduce)
    assert F.cross_entropy.__wrapped__ is vg.softmax_cross_entropy.__wrapped__
    assert F1.cross_entropy is vg.cross_entropy.__wrapped__
    x = vg.tensor([[1.0, -2.0]], device="cpu")
    assert F.relu(x).numpy().tolist() == [[1.0, 0.0]]
    # PyTorch's function forms of Tensor methods: torch.relu_(x), torch.ravel(x), torch.detach(x), ...
    assert vg.relu_(x) is x and x.numpy().tolist() == [[1.0, 0.0]]
    assert vg.exp_(vg.tensor([0.0], device="cpu")).numpy().tolist() == [1.0]
    assert vg.ravel(vg.ones(2, 3, device="cpu")).shape == (6,) and not vg.detach(vg.ones(1, requires_grad=True)).requires_grad
    with pytest.raises(TypeError, match="sqrt_: expected a vkgrad Tensor, got list"):
        vg.sqrt_([4.0])


def test_arange_linspace_eye(bk):
    """arange (int32 from integers, else the float dtype), linspace, eye: PyTorch's
    arguments, NumPy's values, on the device asked for; errors."""
    a = vg.arange(5, device=bk.device)
    assert a.dtype == "i32" and a.device == vg.normalize_device(bk.device) and a.numpy().tolist() == [0, 1, 2, 3, 4]
    bk.close(vg.arange(1, 2, 0.25, device=bk.device, dtype=bk.dtype).numpy(), np.arange(1, 2, 0.25))
    assert vg.arange(6, 0, -2, device=bk.device).numpy().tolist() == [6, 4, 2]
    bk.close(vg.linspace(-1, 1, 5, device=bk.device, dtype=bk.dtype).numpy(), np.linspace(-1, 1, 5))
    bk.close(vg.eye(3, 4, device=bk.device, dtype=bk.dtype).numpy(), np.eye(3, 4))
    assert vg.eye(2, device=bk.device, dtype=bk.dtype).shape == (2, 2)
    with pytest.raises(ValueError, match="arange: step must not be 0"):
        vg.arange(0, 3, 0)
    with pytest.raises(ValueError, match="linspace: steps must be a non-negative int, got -1"):
        vg.linspace(0, 1, -1)
    with pytest.raises(ValueError, match=r"repeat: 1 sizes for a tensor of shape \[2, 2\] \(at least 2\)"):
        vg.eye(2, device="cpu").repeat(2)
    with pytest.raises(ValueError, match=r"tile: reps must be non-negative ints, got \[-1\]"):
        vg.tile(vg.eye(2, device="cpu"), -1)


def test_pytorch_creation_and_grad_mode_spellings():
    """from_numpy / as_tensor / is_tensor, and set_grad_enabled as a call and a context."""
    t = vg.from_numpy(np.arange(3))
    assert t.dtype == "i32" and vg.is_tensor(t) and not vg.is_tensor(np.arange(3))
    assert vg.as_tensor(t) is t and vg.as_tensor(t, dtype="f32").dtype == "f32"
    assert vg.as_tensor([1.0, 2.0]).numpy().tolist() == [1.0, 2.0]
    with vg.set_grad_enabled(False):
        assert not vg.is_grad_enabled()
        y = vg.tensor([1.0], requires_grad=True) * 2.0
        assert not y.requires_grad
    assert vg.is_grad_enabled()
    vg.set_grad_enabled(False)
    assert not vg.is_grad_enabled()
    vg.set_grad_enabled(True)
    assert vg.is_grad_enabled()


def test_device_and_cuda_names():
    """PyTorch's device idiom resolves: torch.cuda is never available (vkgrad's GPUs are
    Vulkan devices), torch.device gives vkgrad's names."""
    dev = vg.device("cuda" if vg.cuda.is_available() else "cpu")
    assert dev == "cpu" and vg.ones(2).to(dev).device == "cpu" and vg.cuda.device_count() == 0
    if vg.vulkan_available():
        assert vg.device("vulkan") == "vulkan:0"
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        vg.device("tpu")
    m = vg.nn.Linear(2, 2)
    assert vg.compile(m) is m and vg.compile()(m) is m  # (scripts' torch.compile: eager here)
    vg.backends.cudnn.benchmark = True
    vg.set_float32_matmul_precision("high")
    with pytest.raises(ValueError, match="set_float32_matmul_precision: expected 'highest', 'high' or 'medium'"):
        vg.set_float32_matmul_precision("low")


def test_pytorch_legacy_constructors_and_device_objects(bk):
    """PyTorch's legacy constructors, still common in custom layers
    (``nn.Parameter(torch.Tensor(out, in))``): vg.Tensor(*sizes) (zero-filled),
    vg.Tensor(data), vg.Tensor() (empty), FloatTensor / LongTensor / ... in their dtype,
    isinstance by dtype, x.type(FloatTensor), x.new(...) in x's dtype and device; a
    device answers .type and .index and still equals its name."""
    name = vg.device(bk.device)  # ("vulkan" is "vulkan:0")
    vg.set_default_device(bk.device)
    vg.set_default_dtype(bk.dtype)
    w = vg.nn.Parameter(vg.Tensor(2, 3))
    assert w.shape == (2, 3) and w.dtype == bk.dtype and w.device == name and not w.numpy().any()
    assert vg.Tensor([1, 2]).numpy().tolist() == [1.0, 2.0] and vg.Tensor().shape == (0,)
    assert vg.Tensor(2, 1, 3, 1).shape == (2, 1, 3, 1)
    lt = vg.LongTensor([1, 2])
    assert lt.dtype == "i32" and lt.numpy().tolist() == [1, 2] and vg.FloatTensor(3).shape == (3,)
    assert isinstance(lt, vg.LongTensor) and isinstance(lt, vg.Tensor) and not isinstance(lt, vg.FloatTensor)
    x = bk.t(np.array([1.5, -2.0]))
    assert x.type(vg.IntTensor).dtype == "i32" and x.type(vg.IntTensor).numpy().tolist() == [1, -2]
    n = x.new(3, 2)
    assert n.shape == (3, 2) and n.dtype == x.dtype and n.device == x.device and x.new([4, 5]).numpy().tolist() == [4, 5]
    with pytest.raises(TypeError, match="Tensor: PyTorch's legacy constructor takes non-negative sizes"):
        vg.Tensor(2, -1)
    dev = x.device
    assert dev == name and str(dev) == name and dev.type == name.split(":")[0]
    assert dev.index == (None if name == "cpu" else int(name.split(":")[1]))
    assert vg.device("cpu").type == "cpu" and vg.device("cpu").index is None and vg.device("vulkan:1").index == 1


def test_pickle_and_index_protocols(bk):
    """Tensors pickle by value on every device (a Vulkan backend holds an unpicklable
    device handle): dtype, device, requires_grad and the subclass kept, no graph;
    a whole module round-trips.  An integer one-element tensor is an index, a float
    one is refused, as PyTorch's; int32 ** negative int raises instead of giving 0."""
    import pickle
    x = bk.t(np.array([1.5, -2.0, 3.0]), requires_grad=True)
    y = pickle.loads(pickle.dumps(x * 2))
    assert y.device == x.device and y.dtype == x.dtype and y.is_leaf and y.backend is x.backend
    bk.close(y.numpy(), [3.0, -4.0, 6.0])
    assert pickle.loads(pickle.dumps(x)).requires_grad
    p = pickle.loads(pickle.dumps(vg.nn.Parameter(x.detach(), name="w")))
    assert isinstance(p, vg.nn.Parameter) and p.name == "w" and p.requires_grad
    b = pickle.loads(pickle.dumps(vg.nn.Buffer(x.detach(), persistent=False)))
    assert isinstance(b, vg.nn.Buffer) and not b.persistent
    m = vg.nn.Linear(3, 2).to(bk.device, dtype=bk.dtype)
    m2 = pickle.loads(pickle.dumps(m))
    bk.close(m2(x[None]).detach().numpy(), m(x[None]).detach().numpy())
    i = bk.t(np.array([2]))
    assert [10, 20, 30][i] == 30 and list(range(i[0])) == [0, 1]
    with pytest.raises(TypeError, match="only integer tensors of a single element can be converted to an index"):
        [1, 2][x[0]]
    with pytest.raises(ValueError, match=r"pow: integers to negative integer powers are not allowed"):
        i ** -1
    assert (i ** 2).numpy().tolist() == [4]
    assert +x is x and x.real is x and +i is i  # (unary + raised TypeError)
