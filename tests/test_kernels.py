"""Every matmul / elementwise kernel variant the Vulkan backend picks, against
the CPU backend, on odd and aligned shapes, with transposes, bias and activations."""
import os

import numpy as np
import pytest

import vkgrad as vg

pytestmark = pytest.mark.skipif(not vg.vulkan_available(), reason="no Vulkan device")

# (M, K, N): which kernel they reach in f32 -- scalar (odd K/N), matmul4 (aligned,
# small), matmul_sg (M*N*K >= 2**18; operands read as stored, transposed or not,
# when aligned, else after a padding pass).  The last six have partial row and
# column tiles and K not a multiple of the subgroup size; the last has M a
# multiple of 4 and K of none (a transposed A padded along K only).
SHAPES = [(5, 7, 3), (1, 13, 10), (33, 17, 9), (8, 12, 16), (6, 784, 10), (96, 64, 48),
          (130, 64, 36), (64, 128, 40), (3, 1024, 256), (37, 203, 77), (257, 300, 33),
          (68, 300, 20), (72, 264, 26), (64, 203, 40), (37, 1000, 45), (20, 777, 30)]


# quiet NaNs with payloads (and signs): a kernel that moves values through floats
# loses them (NVIDIA: any f16 NaN becomes 0x7fff; lavapipe's integer half packing 0x7e00)
_NAN_PAYLOAD = {"f32": np.uint32(0xFFC00123), "f16": np.uint16(0xFE55)}


def _spy(be, patch, record=lambda shader, spec: shader):
    """A list of record(shader, spec) for every dispatch while ``patch`` (a
    monkeypatch or its context) holds."""
    seen, orig = [], be._dispatch

    def spy(shader, tag, spec, *rest, **kw):
        seen.append(record(shader, spec))
        return orig(shader, tag, spec, *rest, **kw)
    patch.setattr(be, "_dispatch", spy)
    return seen


def _lower_loop_cap(be, cap, patch):
    """Lavapipe's loop limit as the backend sees it lowered to ``cap`` (skips on
    devices without one), so small work takes the paths that respect it."""
    if not be._loop_cap:
        pytest.skip("a device with lavapipe's loop limit")
    patch.setattr(be, "_loop_cap", cap)


def _cpu_vs_vk(fn_vk, fn_np, arrays, dtype, rtol, atol):
    got = fn_vk(*[vg.tensor(a, device="vulkan", dtype=dtype).handle for a in arrays])
    be = vg.get_backend("vulkan")
    want = fn_np(*[a.astype(np.float16).astype(np.float64) if dtype == "f16" else a for a in arrays])
    np.testing.assert_allclose(be.to_numpy(got).astype(np.float64), want, rtol=rtol, atol=atol)


# sm: the shared-memory kernel GPUs get, run here too; sm-split: with K split into slices (GPUs: small C)
@pytest.mark.parametrize("kernel", ["device", "sm", "sm128", "sm-split"])
@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("ta,tb", [(False, False), (False, True), (True, False), (True, True)])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_matmul_variants(shape, ta, tb, dtype, kernel, monkeypatch):
    M, K, N = shape
    r = np.random.default_rng(M * 7 + K)
    a = r.uniform(-1, 1, (K, M) if ta else (M, K))
    b = r.uniform(-1, 1, (N, K) if tb else (K, N))
    bias = r.uniform(-1, 1, N)
    be = vg.get_backend("vulkan")
    if kernel.startswith("sm"):
        monkeypatch.setattr(be, "matmul_kernel", "sm")
        monkeypatch.setattr(be, "matmul_tile", 128 if kernel == "sm128" else 64)
        monkeypatch.setattr(be, "_tile_forced", True)
        monkeypatch.setattr(be, "_splitk", kernel == "sm-split")
    tol = dict(rtol=2e-2, atol=2e-2 * np.sqrt(K)) if dtype == "f16" else dict(rtol=1e-4, atol=1e-4)
    _cpu_vs_vk(lambda x, y, z: be.matmul(x, y, ta, tb, bias=z, act="relu"),
               lambda x, y, z: np.maximum((x.T if ta else x) @ (y.T if tb else y) + z, 0),
               [a, b, bias], dtype, **tol)


@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_matmul_sm_splits_k_for_small_outputs(dtype, monkeypatch):
    """matmul_sm with C of few blocks and a long K, with VKGRAD_MATMUL_SPLITK=1 (here:
    _splitk on): slices of K in parallel, then matmul_splitk adds them with bias and
    activation; C of many blocks, or split K off (CPU devices' default), in one dispatch;
    values as the CPU's."""
    be = vg.get_backend("vulkan")
    monkeypatch.setattr(be, "matmul_kernel", "sm")
    monkeypatch.setattr(be, "matmul_tile", 64)
    seen = _spy(be, monkeypatch, lambda shader, spec: shader)
    r = np.random.default_rng(3)
    tol = dict(rtol=2e-2, atol=0.5) if dtype == "f16" else dict(rtol=1e-4, atol=1e-3)
    for (M, K, N), split, want in (((40, 1500, 70), True, ["matmul_sm", "matmul_splitk"]),
                                   ((40, 1500, 70), False, ["matmul_sm"]),
                                   ((1100, 600, 1100), True, ["matmul_sm"]),  # 324 blocks: no split
                                   ((64, 9000, 40), True, ["matmul_sm", "matmul_splitk"])):  # 32 slices
        monkeypatch.setattr(be, "_splitk", split)
        a, b, bias = r.uniform(-1, 1, (M, K)), r.uniform(-1, 1, (K, N)), r.uniform(-1, 1, N)
        seen.clear()
        _cpu_vs_vk(lambda x, y, z: be.matmul(x, y, bias=z, act="tanh"), lambda x, y, z: np.tanh(x @ y + z),
                   [a, b, bias], dtype, **tol)
        assert [s for s in seen if s.startswith("matmul")] == want, ((M, K, N), split, seen)
    assert be._k_splits(4, 4096) == 16 and be._k_splits(200, 4096) == 1 and be._k_splits(4, 256) == 1
    assert be._k_splits(2, 65536) == 32 and be._k_splits(9, 65536) == 28  # (at most 32; ~256 workgroups)


def test_matmul_and_transpose_kernel_choice(monkeypatch):
    """Large products take matmul_sg on CPU devices and matmul_sm (shared-memory
    tiles) on GPUs, or what VKGRAD_MATMUL_KERNEL names (anything else: a clear
    error); small ones take matmul4 (its texel-read twin on CPU devices).  Transposes: blocks on CPU devices, tiles on
    GPUs, or VKGRAD_TRANSPOSE's choice; im2col / col2im: runs on CPU devices, batch walks on GPUs, or
    VKGRAD_WINDOW_WALK's.  Split K: on GPUs but integrated ones."""
    import subprocess
    import sys
    be = vg.get_backend("vulkan")
    tuning = os.environ.get("VKGRAD_DEVICE_TUNING", "auto")  # (cpu or gpu: that kind's choices forced)
    want = "sg" if tuning == "cpu" or (tuning == "auto" and be.limits["device_type"] == "Cpu") else "sm"
    assert be.matmul_kernel == os.environ.get("VKGRAD_MATMUL_KERNEL", "auto").replace("auto", want)
    seen = _spy(be, monkeypatch)
    x = vg.tensor(np.ones((64, 128)), device="vulkan").handle
    for kern in ("sg", "sm"):
        monkeypatch.setattr(be, "matmul_kernel", kern)
        seen.clear()
        be.matmul(x, x, trans_b=True)  # 64 x 128 x 64: 2**19 multiply-adds
        assert seen[-1] == f"matmul_{kern}", seen
    seen.clear()
    y = vg.tensor(np.ones((8, 8)), device="vulkan").handle
    be.matmul(y, y)
    assert seen == [be._tx("matmul4", 16)] and seen[0] in ("matmul4", "matmul4_tx"), seen  # (CPU devices: texel reads)
    for var, value, choices in (("VKGRAD_MATMUL_KERNEL", "fast", "auto, sg or sm"),
                                ("VKGRAD_DEVICE_TUNING", "tpu", "auto, cpu or gpu"),
                                ("VKGRAD_MATMUL_SPLITK", "yes", "auto, 0 or 1"),
                                ("VKGRAD_TRANSPOSE", "smem", "auto, blocks or tiles"),
                                ("VKGRAD_WINDOW_WALK", "rows", "auto, runs or batch"),
                                ("VKGRAD_COL_SPLIT", "2", "auto, 0 or 1"),
                                ("VKGRAD_REDUCE_ITEMS", "1000", "auto, 1024, 4096, 16384, 65536 or 262144")):
        r = subprocess.run([sys.executable, "-c", "import vkgrad as vg; vg.get_backend('vulkan')"],
                           env={**os.environ, var: value}, capture_output=True, text=True)
        assert r.returncode != 0 and f"{var} must be {choices}, got '{value}'" in r.stderr
    assert be.transpose_kernel == os.environ.get("VKGRAD_TRANSPOSE", "auto").replace(
        "auto", "blocks" if want == "sg" else "tiles")
    assert be.window_walk == os.environ.get("VKGRAD_WINDOW_WALK", "auto").replace(
        "auto", "runs" if want == "sg" else "batch")
    # split K: GPU choices except on integrated GPUs, or VKGRAD_MATMUL_SPLITK's
    split = {"0": False, "1": True}.get(os.environ.get("VKGRAD_MATMUL_SPLITK", "auto"),
                                        want == "sm" and be.limits["device_type"] != "IntegratedGpu")
    assert be._splitk == split


def test_matmul_sm_block_follows_the_device_and_the_product(monkeypatch):
    """matmul_sm's 128 x 128 blocks (8 x 8 per invocation) on desktop GPUs for
    products with at least 128 of them whose edges do not waste them (a C of 64
    columns: half of each idle), 64 x 64 otherwise; VKGRAD_MATMUL_TILE forces one
    (anything else: a clear error).  Values: test_matmul_variants."""
    import subprocess
    import sys
    be = vg.get_backend("vulkan")
    if "VKGRAD_MATMUL_TILE" not in os.environ and be.limits["device_type"] == "Cpu":
        assert be.matmul_tile == 64
    monkeypatch.setattr(be, "matmul_kernel", "sm")
    monkeypatch.setattr(be, "matmul_tile", 128)
    monkeypatch.setattr(be, "_tile_forced", False)
    specs = _spy(be, monkeypatch, lambda shader, spec: (shader, spec))
    for m, n, tm in ((1280, 1280, 4), (1536, 1536, 8),  # 100 or 144 blocks of 128 x 128
                     (32768, 64, 4), (32768, 1000, 8), (16384, 192, 4)):  # C's columns: 50, 98, 75% used
        x = vg.tensor(np.ones((m, 16)), device="vulkan").handle
        y = vg.tensor(np.ones((16, n)), device="vulkan").handle
        specs.clear()
        c = be.matmul(x, y)
        assert specs[-1] == ("matmul_sm", (0, tm)), (m, n, specs)
        np.testing.assert_allclose(be.to_numpy(c), np.full((m, n), 16.0))
    r = subprocess.run([sys.executable, "-c", "import vkgrad as vg; vg.get_backend('vulkan')"],
                       env={**os.environ, "VKGRAD_MATMUL_TILE": "96"}, capture_output=True, text=True)
    assert r.returncode != 0 and "VKGRAD_MATMUL_TILE must be auto, 64 or 128, got '96'" in r.stderr


@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_matmul_sg_pads_unaligned_operands_without_transposing(dtype, monkeypatch):
    """An operand matmul_sg cannot read as stored (K not a whole number of 16-byte
    loads; B's N; a transposed A's M not a multiple of 4) is zero-padded in its
    own layout (whole rows: pad2d's fast path) and read transposed as it was;
    a transposed A's extra rows of C are left out of the [M, N] result."""
    be = vg.get_backend("vulkan")
    if not (be.limits.get("subgroup_shuffle") and be._texel):
        pytest.skip("matmul_sg needs subgroup shuffles and texel buffers")
    monkeypatch.setattr(be, "matmul_kernel", "sg")
    pads, orig = [], be._pad2d
    monkeypatch.setattr(be, "_pad2d", lambda x, *a: pads.append(a[-1]) or orig(x, *a))
    seen = _spy(be, monkeypatch, lambda shader, spec: (shader, spec))
    r = np.random.default_rng(5)
    tol = dict(rtol=2e-2, atol=2e-1) if dtype == "f16" else dict(rtol=1e-4, atol=1e-4)
    for (M, K, N), ta, tb, want_pads in [((96, 203, 70), False, True, [1, 1]), ((64, 203, 40), True, False, [1, 1]),
                                         ((37, 203, 40), True, False, [1, 1]), ((37, 200, 40), True, True, [1])]:
        a = r.uniform(-1, 1, (K, M) if ta else (M, K))
        b = r.uniform(-1, 1, (N, K) if tb else (K, N))
        pads.clear()
        seen.clear()
        _cpu_vs_vk(lambda x, y: be.matmul(x, y, ta, tb), lambda x, y: (x.T if ta else x) @ (y.T if tb else y),
                   [a, b], dtype, **tol)
        assert pads == want_pads, ((M, K, N), ta, tb, pads)  # pad2d's s1: 1 = rows copied whole
        (spec,) = [sp for sh, sp in seen if sh == "matmul_sg"]
        assert spec[2:4] == (int(ta), int(tb)), spec


@pytest.mark.parametrize("why", ["no texel usage", "too many texels"])
def test_matmul_sg_falls_back_without_texel_buffers(why, monkeypatch):
    """matmul_sg reads A and B as uniform texel buffers; where the arena cannot
    back such views, or an operand has more texels than the device allows, a
    large product takes matmul4 instead, with the same values."""
    be = vg.get_backend("vulkan")
    monkeypatch.setattr(be, "matmul_kernel", "sg")
    if why == "no texel usage":
        monkeypatch.setattr(be, "_texel", False)
    else:
        monkeypatch.setattr(be, "_max_texels", 1000)  # the device limit, as the backend holds it
    seen = _spy(be, monkeypatch)
    r = np.random.default_rng(3)
    a, b = r.uniform(-1, 1, (64, 128)), r.uniform(-1, 1, (128, 48))
    _cpu_vs_vk(lambda x, y: be.matmul(x, y), lambda x, y: x @ y, [a, b], "f32", rtol=1e-4, atol=1e-4)
    assert seen == ["matmul4"], seen


@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_quad_kernels_read_texels_or_storage_buffers(dtype, monkeypatch):
    """The quad kernels' inputs: texel buffers ("_tx" twins) on CPU devices where
    the arena backs texel views and the input fits the device's texel limit,
    storage buffers otherwise (GPUs; refused views; too many texels): same values."""
    be = vg.get_backend("vulkan")
    r = np.random.default_rng(4)
    a, b = r.uniform(-1, 1, (256, 512)), r.uniform(-1, 1, (256, 512))
    ops = [(lambda x, y: be.binary("add", x, y), lambda x, y: x + y),
           (lambda x, y: be.unary("exp", x), lambda x, y: np.exp(x)),
           (lambda x, y: be.reduce("sum", x, (0,), False), lambda x, y: x.sum(axis=0)),
           (lambda x, y: be._copy_contig(x, be._alloc(x.shape, x.dtype)), lambda x, y: x)]
    tol = dict(rtol=2e-3, atol=2e-2) if dtype == "f16" else dict(rtol=1e-5, atol=1e-5)
    cases = [({}, True), ({"_texel_reads": False}, False), ({"_texel": False}, False),
             ({"_max_texels": 1000}, False)]
    for patch, texel in cases:
        with monkeypatch.context() as m:
            m.setattr(be, "_texel_reads", True)
            for k, v in patch.items():
                m.setattr(be, k, v)
            seen = _spy(be, m)
            for fvk, fnp in ops:
                _cpu_vs_vk(fvk, fnp, [a, b], dtype, **tol)
        quad = {s for s in seen if s.split("_")[0] in ("binary4", "unary4", "reduce4", "copy4")}
        want = {"binary4", "unary4", "reduce4", "copy4"}
        assert quad == ({k + "_tx" for k in want} if texel else want), (patch, seen)


@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True)])
def test_matmul_sg_with_a_subgroup_size_other_than_the_reported_one(dtype, ta, tb, monkeypatch):
    """Devices may run a shader at another subgroup size than they report: the
    shuffle kernel then takes its run-time-size path, with the same results."""
    be = vg.get_backend("vulkan")
    sg = be.limits.get("subgroup_size", 0)
    if not be.limits.get("subgroup_shuffle") or not 4 <= sg <= 64:
        pytest.skip("no subgroup shuffle kernel on this device")
    monkeypatch.setitem(be.limits, "subgroup_size", 16 if sg != 16 else 8)
    r = np.random.default_rng(1)
    a, b, bias = r.uniform(-1, 1, (72, 300)), r.uniform(-1, 1, (300, 40)), r.uniform(-1, 1, 40)
    a, b = (a.T.copy() if ta else a), (b.T.copy() if tb else b)
    tol = dict(rtol=2e-2, atol=2e-2 * np.sqrt(300)) if dtype == "f16" else dict(rtol=1e-4, atol=1e-4)
    _cpu_vs_vk(lambda x, y, z: be.matmul(x, y, ta, tb, bias=z, act="relu"),
               lambda x, y, z: np.maximum((x.T if ta else x) @ (y.T if tb else y) + z, 0),
               [a, b, bias], dtype, **tol)


@pytest.mark.parametrize("texel_reads", [True, False])  # False: the storage-buffer kernels GPUs run
@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("n", [1, 3, 4, 8, 12, 17, 64, 1000, 4097])
def test_elementwise_fast_and_general_paths(n, dtype, texel_reads, monkeypatch):
    """Elementwise ops, casts both ways, a column and a scalar operand, dropout, at
    sizes with and without a tail shorter than a 16-byte quad."""
    r = np.random.default_rng(n)
    a, b = r.uniform(0.5, 2, n), r.uniform(0.5, 2, n)
    be = vg.get_backend("vulkan")
    monkeypatch.setattr(be, "_texel_reads", texel_reads)
    tol = dict(rtol=2e-3, atol=2e-3) if dtype == "f16" else dict(rtol=1e-6, atol=1e-6)
    _cpu_vs_vk(lambda x, y: be.binary("div", x, y), np.divide, [a, b], dtype, **tol)
    _cpu_vs_vk(lambda x: be.unary("sqrt", x), np.sqrt, [a], dtype, **tol)
    _cpu_vs_vk(lambda x: be.cast(x, dtype), lambda x: x, [a], dtype, **tol)
    other = "f16" if dtype == "f32" else "f32"
    src = a.astype(np.float32 if dtype == "f32" else np.float16)
    np.testing.assert_array_equal(be.to_numpy(be.cast(be.from_numpy(src, dtype), other)),
                                  src.astype(np.float16 if other == "f16" else np.float32))
    _cpu_vs_vk(lambda x, y: be.binary("mul", x, y), np.multiply, [a.reshape(n, 1), np.tile(b, (8, 1)).T],
               dtype, **tol)
    _cpu_vs_vk(lambda x, y: be.binary("sub", x, y), np.subtract, [a, b[:1].reshape(())], dtype, **tol)
    src = a.astype(np.float32 if dtype == "f32" else np.float16)  # dropout: the CPU's mask, bit for bit
    y, m = (be.to_numpy(h) for h in be.dropout(be.from_numpy(src, dtype), 0.3, 7))
    yc, mc = vg.get_backend("cpu").dropout(src, 0.3, 7)
    np.testing.assert_array_equal(m, mc)
    np.testing.assert_allclose(y, yc, rtol=1e-3 if dtype == "f16" else 1e-7)


@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("a_shape,b_shape", [((5, 8), (8,)), ((3, 16), (1, 16)), ((7, 24), (24,)),
                                             ((2, 3, 16), (3, 16)), ((16,), (4, 16)), ((6, 12), (12,)),
                                             ((4, 10), (10,)), ((3, 8), (3, 1)), ((5, 16), (5, 1)),
                                             ((3, 4, 8), (3, 4, 1)), ((6, 8), ()), ((2, 5, 16), (5, 1)),
                                             ((5, 12), (5, 1))])
@pytest.mark.parametrize("texel_reads", [True, False])
def test_broadcast_binary_quads_and_general_path(a_shape, b_shape, dtype, texel_reads, monkeypatch):
    """A repeating operand in whole 16-byte quads, or one constant along the
    output's trailing axes (a column, a scalar) over whole quads, takes binary4
    (reading texels or storage buffers); others binary.comp, or on CPU devices
    the strided copy's texel twin and binary4."""
    r = np.random.default_rng(len(a_shape) * 10 + a_shape[-1])
    a, b = r.uniform(0.5, 2, a_shape), r.uniform(-2, 2, b_shape)
    be = vg.get_backend("vulkan")
    monkeypatch.setattr(be, "_texel_reads", texel_reads)
    tol = dict(rtol=2e-3, atol=2e-3) if dtype == "f16" else dict(rtol=1e-6, atol=1e-6)
    _cpu_vs_vk(lambda x, y: be.binary("sub", x, y), np.subtract, [a, b], dtype, **tol)
    _cpu_vs_vk(lambda x, y: be.binary("relu_bwd", y, x), lambda x, y: x * (y > 0), [a, b], dtype, **tol)


@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_columns_and_scalars_take_the_quad_kernel(dtype, monkeypatch):
    """binary4's REP 4 / 5: an operand constant along the output's trailing axes,
    on either side, when those axes span whole quads.  Other broadcasts: on CPU
    devices (texel twins) over whole quads, or where the general shader's column
    walk does not fit (f16 columns of an odd length), the operand materialised by
    the strided copy, then binary4 REP 0; else the general shader."""
    be = vg.get_backend("vulkan")
    seen = _spy(be, monkeypatch, lambda shader, spec: (shader.split("_")[0], spec[1] if len(spec) > 1 else None))
    f16 = dtype == "f16"
    general = ("binary4", 0) if be._texel_reads and be._texel else ("binary", None)
    cases = [((5, 16), (5, 1), ("binary4", 5)), ((6, 8), (), ("binary4", 5)), ((3, 4, 8), (3, 4, 1), ("binary4", 5)),
             ((2, 5, 16), (5, 1), general), ((5, 12), (5, 1), general if f16 else ("binary4", 5))]
    r = np.random.default_rng(2)
    for a_shape, b_shape, want in cases:
        a, b = r.uniform(-2, 2, a_shape), r.uniform(-2, 2, b_shape)
        for swap in (False, True):
            seen.clear()
            x, y = (b, a) if swap else (a, b)
            _cpu_vs_vk(lambda u, v: be.binary("div", u, v), np.divide, [x, y], dtype,
                       **(dict(rtol=5e-3, atol=5e-3) if f16 else dict(rtol=1e-6, atol=1e-6)))
            got = [d for d in seen if d[0].startswith("binary")]
            assert got == [(want[0], 4 if swap and want[1] == 5 else want[1])], (a_shape, b_shape, swap, seen)


@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("shape,axes", [((300, 256), (0,)), ((70000,), (0,)), ((3, 40000), (1,)),
                                        ((1024, 96), (1,)), ((1024, 97), (1,)), ((2, 300, 8, 16), (1,)),
                                        ((2, 300, 8, 16), (1, 2)), ((2, 300, 8, 16), (0, 2)),
                                        ((5000, 24), (0, 1)), ((700, 200), (0,)), ((3, 600, 136), (1,)),
                                        ((700, 99), (0,)), ((1023, 77), (1,))])
def test_reductions_quad_and_general_paths(shape, axes, dtype):
    """Large reductions take reduce4.comp (columns or rows in 16-byte quads, in parts),
    the rest reduce.comp; sums, maxima and sums of squares against NumPy."""
    r = np.random.default_rng(int(np.prod(shape)) % 1000)
    x = r.uniform(-1, 1, shape)
    be = vg.get_backend("vulkan")
    n = np.prod([shape[a] for a in axes])
    tol = dict(rtol=1e-2, atol=2e-3 * np.sqrt(n)) if dtype == "f16" else dict(rtol=1e-5, atol=1e-5 * np.sqrt(n))
    _cpu_vs_vk(lambda v: be.reduce("sum", v, axes, False), lambda v: v.sum(axes), [x], dtype, **tol)
    _cpu_vs_vk(lambda v: be.reduce("max", v, axes, True), lambda v: v.max(axes, keepdims=True), [x], dtype, **tol)
    _cpu_vs_vk(lambda v: be.reduce("sumsq", v, axes, False), lambda v: (v * v).sum(axes), [x], dtype, **tol)


@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("texel_reads", [True, False])  # False: storage buffers, as GPUs read them
@pytest.mark.parametrize("by_subgroup", [False, True])  # True: a subgroup per part, as on GPUs
def test_reductions_of_rows_and_columns_not_in_whole_quads_take_reduce4(dtype, texel_reads, by_subgroup,
                                                                        monkeypatch):
    """Large sums, sums of squares and maxima over rows of any length take reduce4
    directly: an invocation (or a subgroup) per part of a row, the part's elements
    before its first whole quad and after its last read word by word -- rows that
    start mid-quad, parts shorter than a quad, one long odd row.  Over the rows of
    one output row with an odd number of columns: sums take all but the last
    rows % e (e rows as one row of whole quads, then the e partial rows) and add
    those few rows' sums; maxima, on CPU devices, pad to whole quads (-inf: the
    values here are all negative, so a zero pad would show).  Short rows keep
    reduce.comp (an invocation per output)."""
    be = vg.get_backend("vulkan")
    if texel_reads and not be._twins:
        pytest.skip("this device's arenas back no texel views")
    sg = be.limits.get("subgroup_size", 0)
    if by_subgroup and not (8 <= sg <= 64 and 64 % sg == 0):
        pytest.skip("no subgroup size the subgroup-per-part layout takes")
    monkeypatch.setattr(be, "_texel_reads", texel_reads)
    monkeypatch.setattr(be, "_rows_by_subgroup", by_subgroup)
    seen = _spy(be, monkeypatch, lambda shader, spec: (shader.split("_")[0], spec[1] if shader.startswith(
        "reduce4") else None))
    r = np.random.default_rng(8)
    tol = dict(rtol=1e-2, atol=0.5) if dtype == "f16" else dict(rtol=1e-5, atol=1e-3)
    row = ("reduce4", 3 if by_subgroup else 1)
    cases = [((300, 1021), 1, [row]), ((3, 70001), 1, [row]), ((70003,), 0, [row]), ((4096, 37), 1, [row]),
             ((4096, 13), 1, [("reduce", None)])]
    # a row count in whole quads: e rows make one row of whole quads (reduce4), then the e partial rows
    e_rows = [("reduce4", 2 if 99 >= sg else 0), ("reduce", None)]
    cases.append(((704, 99), 0, e_rows))
    cols = -(-99 // (8 if dtype == "f16" else 4))  # quads per padded row: the span layout if a subgroup's
    # (sums: the rows but the last few as above, those apart; maxima on CPU devices: a pad pass)
    cases.append(((701, 99), 0, {"sum": e_rows, "sumsq": e_rows,
                                 "max": [("pad2d", None), ("reduce4", 2 if cols >= sg else 0)] if be._twins else []}))
    cases.append(((3, 640, 37), 1, [("reduce4", 2 if 37 >= sg else 0)]))
    for shape, axis, want in cases:
        x = r.uniform(-3, -1, shape) * (0.1 if dtype == "f16" else 1)  # f16: sums of 70001 within its range
        for op, fn in (("sum", np.sum), ("sumsq", lambda v, axis: (v * v).sum(axis)), ("max", np.max)):
            seen.clear()
            _cpu_vs_vk(lambda v: be.reduce(op, v, (axis,), False), lambda v: fn(v, axis=axis), [x], dtype,
                       **dict(tol, atol=tol["atol"] * np.sqrt(shape[axis] / 100)))
            w = want[op] if isinstance(want, dict) else want
            assert seen[:len(w)] == w, (shape, op, seen)


@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_column_sums_take_the_span_layout_when_a_row_fills_a_subgroup(dtype, monkeypatch):
    """Columns of at least a subgroup's worth of quads per row: reduce4's span
    layout (mode 2), including a short last span; narrower rows: mode 0."""
    be = vg.get_backend("vulkan")
    sg = be.limits.get("subgroup_size", 0)
    if not 0 < sg <= 64:
        pytest.skip("no usable subgroup size")
    calls = _spy(be, monkeypatch, lambda shader, spec: (shader, spec))
    e = 8 if dtype == "f16" else 4
    r = np.random.default_rng(1)
    for cols, want in ((sg * 5 + 3, 2), (sg - 1, 0)):
        x = r.uniform(-1, 1, (max(600, (1 << 16) // (cols * e) + 1), cols * e))
        calls.clear()
        tol = dict(rtol=1e-2, atol=2e-3 * np.sqrt(len(x))) if dtype == "f16" else dict(rtol=1e-5, atol=1e-4)
        _cpu_vs_vk(lambda v: be.reduce("sum", v, (0,), False), lambda v: v.sum(0), [x], dtype, **tol)
        modes = [spec[1] for shader, spec in calls if shader.startswith("reduce4")]
        assert modes[:1] == [want], (cols, modes)


def _np_softmax(x):
    z = x - x.max(-1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(-1, keepdims=True)


@pytest.mark.parametrize("texel_reads", [True, False])  # False: the storage-buffer kernels GPUs run
@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("rows,C", [(3, 8), (70, 16), (33, 12), (1100, 40), (5000, 16), (50, 1000), (20, 300),
                                    (1030, 264), (5000, 72), (2000, 301), (2000, 302), (70, 37), (1200, 18),
                                    (3, 5), (1100, 9)])
def test_softmax_and_xent_rows_quad_and_general_paths(rows, C, dtype, texel_reads, monkeypatch):
    """Rows in 16-byte quads take the quad loops (the loss's gradient in the input's
    dtype) -- whole quads, and the ends of rows that do not start or end on one
    word by word (f32, f16 rows of an even length) -- the rest the scalar or
    workgroup ones; labels and dense targets; on CPU devices the quad and scalar
    loops read through texel views."""
    monkeypatch.setattr(vg.get_backend("vulkan"), "_texel_reads", texel_reads)
    r = np.random.default_rng(rows + C)
    x = r.uniform(-4, 4, (rows, C))
    be = vg.get_backend("vulkan")
    tol = dict(rtol=2e-2, atol=2e-3) if dtype == "f16" else dict(rtol=1e-5, atol=1e-6)
    _cpu_vs_vk(lambda v: be.softmax(v), _np_softmax, [x], dtype, **tol)
    _cpu_vs_vk(lambda v: be.softmax(v, log=True), lambda v: np.log(_np_softmax(v)), [x], dtype,
               rtol=tol["rtol"], atol=2e-2 if dtype == "f16" else 1e-5)
    labels = r.integers(0, C, rows)
    hx = vg.tensor(x, device="vulkan", dtype=dtype).handle
    want_p = _np_softmax(x.astype(np.float16).astype(np.float64) if dtype == "f16" else x)
    want_l = -np.log(want_p[np.arange(rows), labels]).mean()
    want_d = (want_p - np.eye(C)[labels]) / rows  # the loss's gradient, from the forward
    for t in (vg.tensor(labels.astype(np.int32), device="vulkan", dtype="i32").handle,
              vg.tensor(np.eye(C)[labels], device="vulkan", dtype=dtype).handle):
        loss, d = be.softmax_xent(hx, t)
        assert d.dtype == dtype
        np.testing.assert_allclose(be.to_numpy(d).astype(np.float64), want_d, rtol=tol["rtol"],
                                   atol=tol["atol"] / rows)
        np.testing.assert_allclose(float(be.to_numpy(loss)), want_l, rtol=tol["rtol"] * 10)


@pytest.mark.parametrize("gpu_tuning", [False, True])
def test_softmax_rows_not_in_whole_quads_take_the_quad_loops(gpu_tuning, monkeypatch):
    """Rows that do not start or end on a quad take the quad loops (QUADS 1, or 2
    with a subgroup per row on GPUs) -- f16 rows of an odd length too, their
    shared end words written half by half (atomics); rows shorter than two quads
    the scalar loop."""
    be = vg.get_backend("vulkan")
    if gpu_tuning:
        monkeypatch.setattr(be, "_small_grid", 0)
        monkeypatch.setattr(be, "_texel_reads", False)
    seen = _spy(be, monkeypatch, lambda shader, spec: (shader.split("_")[0], spec[1] if len(spec) > 1 else None))
    r = np.random.default_rng(3)
    for dtype, C, want in (("f32", 1001, 1), ("f16", 1002, 1), ("f16", 1001, 1), ("f32", 37, 1), ("f16", 37, 1),
                           ("f16", 13, 0), ("f32", 7, 0)):
        if want and be._sg_rows(C, dtype):  # (GPU choices: here, or forced by VKGRAD_DEVICE_TUNING)
            want = 2
        x = vg.tensor(r.uniform(-4, 4, (1100, C)), device="vulkan", dtype=dtype).handle
        labels = vg.tensor(r.integers(0, C, 1100).astype(np.int32), device="vulkan", dtype="i32").handle
        seen.clear()
        be.softmax(x)
        be.softmax_xent(x, labels)
        # (xent does up to 4096 rows of at most 256 in one workgroup: a lane per row)
        assert [m for k, m in seen if k in ("softmax", "xent")] == [want, min(want, 1) if C <= 256 else want], \
            (dtype, C, seen)


@pytest.mark.parametrize("gpu_tuning", [False, True])  # True: the choices a GPU gets (a subgroup per row)
@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("rows,C", [(3, 8), (33, 12), (5000, 16), (50, 1000), (2000, 301), (1030, 264),
                                    (1030, 266)])
def test_softmax_and_xent_of_masked_logits(rows, C, dtype, gpu_tuning, monkeypatch):
    """Logits of -inf (masked classes), leading a row too: the online log-sum-exp
    of every path took exp(-inf - -inf) = NaN there; zero probabilities, a log-
    softmax of -inf and a finite loss and gradient, as NumPy (and PyTorch) give."""
    be = vg.get_backend("vulkan")
    if gpu_tuning:
        monkeypatch.setattr(be, "_small_grid", 0)
        monkeypatch.setattr(be, "_texel_reads", False)
    r = np.random.default_rng(rows * C)
    x = r.uniform(-4, 4, (rows, C))
    x[:, :C // 3 + 1] = -np.inf  # leading a row: the first quads all -inf
    x[::2, -1] = -np.inf
    tol = dict(rtol=2e-2, atol=2e-3) if dtype == "f16" else dict(rtol=1e-5, atol=1e-6)
    _cpu_vs_vk(lambda v: be.softmax(v), _np_softmax, [x], dtype, **tol)
    with np.errstate(divide="ignore"):
        _cpu_vs_vk(lambda v: be.softmax(v, log=True), lambda v: np.log(_np_softmax(v)), [x], dtype,
                   rtol=tol["rtol"], atol=2e-2 if dtype == "f16" else 1e-5)
    labels = r.integers(C // 3 + 1, C - 1, rows)  # classes not masked
    want_p = _np_softmax(x.astype(np.float16).astype(np.float64) if dtype == "f16" else x)
    want_l = -np.log(want_p[np.arange(rows), labels]).mean()
    want_d = (want_p - np.eye(C)[labels]) / rows
    hx = vg.tensor(x, device="vulkan", dtype=dtype).handle
    for t in (vg.tensor(labels.astype(np.int32), device="vulkan", dtype="i32").handle,
              vg.tensor(np.eye(C)[labels], device="vulkan", dtype=dtype).handle):
        loss, d = be.softmax_xent(hx, t)
        np.testing.assert_allclose(be.to_numpy(d).astype(np.float64), want_d, rtol=tol["rtol"],
                                   atol=tol["atol"] / rows)
        np.testing.assert_allclose(float(be.to_numpy(loss)), want_l, rtol=tol["rtol"] * 10)


@pytest.mark.parametrize("targets", ["dense", "ignored_labels"])
@pytest.mark.parametrize("gpu_tuning", [False, True])  # True: the choices a GPU gets (a subgroup per row)
@pytest.mark.parametrize("texel_reads", [True, False])
@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("rows,C", [(6, 5), (33, 12), (1100, 9), (5000, 16), (50, 1000), (2000, 301), (1030, 266)])
def test_xent_rows_outside_one_hot(rows, C, dtype, texel_reads, gpu_tuning, targets, monkeypatch):
    """Every xent path (the one-workgroup kernel, the per-row ones) against NumPy on
    rows that are not one-hot.  Dense rows need not sum to 1 (a zeroed row masking a
    sample, multi-hot rows): the gradient is softmax * sum(t) - t, as PyTorch's
    (every path wrote softmax - t, silently wrong there); the CPU backend's kernels
    alike.  Labels equal to ``ignore`` (ignore_index: -100 padding, or a class id)
    take no part: the mean over the other rows, their gradient rows 0 (the one-
    workgroup kernel counts the kept rows, the per-row ones are rescaled after);
    every row ignored: a NaN loss, a zero gradient."""
    be = vg.get_backend("vulkan")
    monkeypatch.setattr(be, "_texel_reads", texel_reads)
    if gpu_tuning:
        monkeypatch.setattr(be, "_small_grid", 0)
    r = np.random.default_rng(rows + 7 * C)
    x = r.uniform(-4, 4, (rows, C))
    t = r.uniform(0, 1, (rows, C)) * (r.uniform(0, 1, (rows, C)) < 0.3)  # sums from 0 to C / 3
    t[0], t[-1, :2] = 0.0, 1.0
    if dtype == "f16":
        x, t = x.astype(np.float16).astype(np.float64), t.astype(np.float16).astype(np.float64)
    hx = vg.tensor(x, device="vulkan", dtype=dtype).handle
    z = x - x.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    tol = dict(rtol=2e-2, atol=2e-3) if dtype == "f16" else dict(rtol=1e-5, atol=1e-6)

    def check(got, want_l, want_d, atol):
        np.testing.assert_allclose(be.to_numpy(got[1]).astype(np.float64), want_d, rtol=tol["rtol"], atol=atol)
        np.testing.assert_allclose(float(be.to_numpy(got[0])), want_l, rtol=tol["rtol"] * 10)

    if targets == "dense":
        want_l, want_d = -(t * logp).sum() / rows, (np.exp(logp) * t.sum(1, keepdims=True) - t) / rows
        check(be.softmax_xent(hx, vg.tensor(t, device="vulkan", dtype=dtype).handle), want_l, want_d, tol["atol"] * C / rows)  # (sums to C / 3)
        cpu = vg.get_backend("cpu")  # (C for f32, NumPy for f64)
        for cdt in ("f32", "f64"):
            loss, d = cpu.softmax_xent(cpu.from_numpy(x, cdt), cpu.from_numpy(t, cdt))
            np.testing.assert_allclose(cpu.to_numpy(d), want_d, rtol=1e-5, atol=1e-7)
            np.testing.assert_allclose(float(cpu.to_numpy(loss)), want_l, rtol=1e-5)
        return
    for ignore in (-100, 1):
        labels = r.integers(0, C, rows)
        labels[(r.uniform(0, 1, rows) < 0.3) | (np.arange(rows) == 0)] = ignore
        keep = labels != ignore
        n = keep.sum()
        want_d = (np.exp(logp) - np.eye(C)[np.where(keep, labels, 0)]) * keep[:, None] / n
        lab = vg.tensor(labels.astype(np.int32), device="vulkan", dtype="i32").handle
        check(be.softmax_xent(hx, lab, ignore), -logp[keep, labels[keep]].sum() / n, want_d, tol["atol"] / n)
    loss, d = be.softmax_xent(hx, vg.tensor(np.full(rows, -100, np.int32), device="vulkan", dtype="i32").handle, -100)
    assert np.isnan(float(be.to_numpy(loss))) and not be.to_numpy(d).any()


@pytest.mark.parametrize("texel_reads", [False, True])
@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_long_rows_of_quads_take_a_subgroup_per_row(dtype, texel_reads, monkeypatch):
    """On GPUs, softmax and softmax-xent rows of at least a subgroup's worth of
    quads are read by a subgroup each (QUADS = 2), also by the texel-read twins;
    values against NumPy (and in the GPU-tuning test)."""
    be = vg.get_backend("vulkan")
    monkeypatch.setattr(be, "_small_grid", 0)
    monkeypatch.setattr(be, "_texel_reads", texel_reads)
    if not be._sg_rows(1 << 12, dtype):
        pytest.skip("no subgroup shuffles")
    seen = _spy(be, monkeypatch,
                lambda shader, spec: (shader, spec[1] if shader.split("_")[0] in ("softmax", "xent") else None))
    xv = np.random.default_rng(5).uniform(-4, 4, (1030, 264))
    x = vg.tensor(xv, device="vulkan", dtype=dtype).handle
    y = be.softmax(x)
    labels = np.random.default_rng(6).integers(0, 264, 1030)
    loss, d = be.softmax_xent(x, vg.tensor(labels.astype(np.int32), device="vulkan", dtype="i32").handle)
    tx = "_tx" if texel_reads else ""
    assert ("softmax" + tx, 2) in seen and ("xent" + tx, 2) in seen, seen
    xr = xv.astype(np.float16).astype(np.float64) if dtype == "f16" else xv
    tol = dict(rtol=2e-2, atol=2e-3) if dtype == "f16" else dict(rtol=1e-5, atol=1e-6)
    want = _np_softmax(xr)
    np.testing.assert_allclose(be.to_numpy(y).astype(np.float64), want, **tol)
    np.testing.assert_allclose(be.to_numpy(d).astype(np.float64), (want - np.eye(264)[labels]) / 1030,
                               rtol=tol["rtol"], atol=tol["atol"] / 1030)
    np.testing.assert_allclose(float(be.to_numpy(loss)), -np.log(want[np.arange(1030), labels]).mean(),
                               rtol=tol["rtol"] * 10)


def test_linear_gradients_through_the_tuned_kernels_match_cpu():
    r = np.random.default_rng(0)
    x, w, b = r.standard_normal((96, 64)), r.standard_normal((48, 64)) * 0.1, r.standard_normal(48)
    grads = {}
    for dev in ("cpu", "vulkan"):
        ts = [vg.tensor(v, device=dev, requires_grad=True) for v in (x, w, b)]
        vg.linear(*ts, activation="tanh").sum().backward()
        grads[dev] = [t.grad.numpy() for t in ts]
    for g_cpu, g_vk in zip(grads["cpu"], grads["vulkan"]):
        np.testing.assert_allclose(g_vk, g_cpu, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("gpu_layout", [False, True], ids=["device-layout", "gpu-layout"])
@pytest.mark.parametrize("bufs", [16, 32])  # four or eight parameters per dispatch
@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_fused_adam_matches_per_parameter_updates(dtype, bufs, gpu_layout, monkeypatch):
    """Also with the workgroups a GPU gets (256 invocations, a grid over the
    longest parameter; on a CPU device: one subgroup, two workgroups past 32K)."""
    be = vg.get_backend("vulkan")
    if be.limits.get("max_per_stage_storage_buffers", 16) < bufs:
        pytest.skip(f"the device binds fewer than {bufs} storage buffers per stage")
    monkeypatch.setitem(be.limits, "max_per_stage_storage_buffers", bufs)
    if gpu_layout:
        monkeypatch.setattr(be, "_small_grid", 0)
    r = np.random.default_rng(1)
    sizes = [1, 3, 64, 17, 256, 5, 40001]
    ps = [r.uniform(-1, 1, n) for n in sizes]
    gs = [r.uniform(-1, 1, n) for n in sizes]
    results = []
    for fused in (True, False):
        items = [(vg.tensor(p, device="vulkan", dtype=dtype).handle, vg.tensor(g, device="vulkan", dtype=dtype).handle,
                  be.full((len(p),), 0.1, "f32"), be.full((len(p),), 0.2, "f32")) for p, g in zip(ps, gs)]
        for step in (1, 2):
            if fused:
                be.adam_multi_(items, 1e-2, 0.9, 0.999, 1e-8, 0.01, step, True)
            else:
                for it in items:
                    be.adam_(*it, 1e-2, 0.9, 0.999, 1e-8, 0.01, step, True)
        results.append([[be.to_numpy(h) for h in it] for it in items])
    for a, b in zip(*results):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    be.reset_counters()
    be.adam_multi_(items, 1e-2, 0.9, 0.999, 1e-8, 0.0, 3, False)
    be.synchronize()
    assert be.counters["dispatches"] == (2 if bufs == 16 else 1)  # seven parameters, 4 or 8 per dispatch


def test_fused_adam_converts_gradients_of_another_dtype():
    """f32 gradients of f16 parameters are converted to f16 first (only f16
    gradients of f32 masters have a variant of their own)."""
    be = vg.get_backend("vulkan")
    r = np.random.default_rng(5)
    ps, gs = [r.uniform(-1, 1, n) for n in (3, 64)], [r.uniform(-1, 1, n) for n in (3, 64)]
    results = []
    for gdt in ("f32", "f16"):
        items = [(vg.tensor(p, device="vulkan", dtype="f16").handle, vg.tensor(g.astype(np.float16), device="vulkan",
                  dtype=gdt).handle, be.full((len(p),), 0.1, "f32"), be.full((len(p),), 0.2, "f32"))
                 for p, g in zip(ps, gs)]
        be.adam_multi_(items, 1e-2, 0.9, 0.999, 1e-8, 0.0, 1, False)
        results.append([[be.to_numpy(it[k]) for k in (0, 2, 3)] for it in items])
    for a, b in zip(*results):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


def test_fused_adam_reads_f16_gradients_of_f32_masters():
    """f16 parameters train through f32 masters: adam_multi_ reads their f16
    gradients itself (no conversion dispatch), bit-equal to converting first;
    a large one (the 16-byte-load kernel, its own dispatch) too."""
    be = vg.get_backend("vulkan")
    r = np.random.default_rng(4)
    sizes = [1, 3, 64, 17, 256, 1 << 16]
    ps = [r.uniform(-1, 1, n) for n in sizes]
    gs = [r.uniform(-1, 1, n).astype(np.float16) for n in sizes]
    results = []
    for convert in (False, True):
        items = [(vg.tensor(p, device="vulkan").handle,
                  vg.tensor(g, device="vulkan", dtype="f32" if convert else "f16").handle,
                  be.full((len(p),), 0.1, "f32"), be.full((len(p),), 0.2, "f32")) for p, g in zip(ps, gs)]
        be.synchronize()
        be.reset_counters()
        be.adam_multi_(items, 1e-2, 0.9, 0.999, 1e-8, 0.01, 1, False)
        be.synchronize()
        per = 8 if be.limits.get("max_per_stage_storage_buffers", 16) >= 32 else 4
        assert be.counters["dispatches"] == -(-5 // per) + 1  # five small parameters and a large one, no casts
        results.append([[be.to_numpy(it[k]) for k in (0, 2, 3)] for it in items])  # p, m, v
    for a, b in zip(*results):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("gpu_rule", [False, True])  # True: GPU grids (no texel reads, workgroup paths)
@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("shape", [(3, 700), (300, 5), (40, 9), (2000, 1100)], ids=str)
def test_row_and_column_kernels_serial_and_workgroup_paths(shape, dtype, gpu_rule, monkeypatch):
    """reduce / softmax / xent / batch norm take a serial path (an invocation per
    output: always on CPU devices; on GPUs for short loops or many outputs) or a
    workgroup tree reduction: both against the CPU."""
    if gpu_rule:
        monkeypatch.setattr(vg.get_backend("vulkan"), "_small_grid", 0)
        monkeypatch.setattr(vg.get_backend("vulkan"), "_texel_reads", False)
    r = np.random.default_rng(shape[0])
    x = r.uniform(-2, 2, shape)
    t = np.eye(shape[1])[r.integers(0, shape[1], shape[0])]
    tol = dict(rtol=2e-2, atol=2e-2) if dtype == "f16" else dict(rtol=1e-4, atol=1e-5)
    cpu, vk = vg.get_backend("cpu"), vg.get_backend("vulkan")
    xr = x.astype(np.float16).astype(np.float64) if dtype == "f16" else x

    def both(fn, *arrays):
        got = fn(vk, *[vg.tensor(a, device="vulkan", dtype=dtype).handle for a in arrays])
        want = fn(cpu, *[vg.tensor(a.astype(np.float16) if dtype == "f16" else a, device="cpu",
                                   dtype="f64").handle for a in arrays])
        got, want = (got, want) if isinstance(got, tuple) else ((got,), (want,))
        for g, w in zip(got, want):
            scale = max(1.0, float(np.abs(w).max()))
            np.testing.assert_allclose(vk.to_numpy(g).astype(np.float64), w, rtol=tol["rtol"],
                                       atol=tol["atol"] * scale)

    for axes in [(0,), (1,), (0, 1)]:
        both(lambda be, a: be.reduce("sum", a, axes, False), x)
        both(lambda be, a: be.reduce("max", a, axes, False), x)
    both(lambda be, a: be.softmax(a), x)
    both(lambda be, a: be.softmax(a, log=True), x)
    both(lambda be, a, b: be.softmax_xent(a, b), x, t)
    gamma, beta, g = r.uniform(0.5, 1.5, shape[1]), r.uniform(-1, 1, shape[1]), r.uniform(-1, 1, shape)
    both(lambda be, a, ga, be_: be.batchnorm_fwd(a, ga, be_, 1e-5), x, gamma, beta)
    mean, inv = xr.mean(0), 1 / np.sqrt(xr.var(0) + 1e-5)
    stats = {be: [vg.tensor(s, device=be.device, dtype="f32" if be is vk else "f64").handle for s in (mean, inv)]
             for be in (cpu, vk)}  # batch statistics are f32 whatever x's dtype
    both(lambda be, gg, a, ga: be.batchnorm_bwd(gg, a, *stats[be], ga), g, x, gamma)


@pytest.mark.parametrize("comb_lanes", [False, True], ids=["comb-invocation", "comb-subgroup"])
@pytest.mark.parametrize("texel_reads", [True, False])  # False: storage buffers, as GPUs read them
@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("shape", [(2000, 33), (4096, 64), (600, 100), (300, 222), (128, 257)], ids=str)
def test_batchnorm_of_large_batches_in_parts(shape, dtype, texel_reads, comb_lanes, monkeypatch):
    """Large batches take bn_part / bn_comb / bn_apply (rows in parts, the last
    one short; channels in quads, or a width not in whole quads read as rows of
    e rows each -- [300, 222] f32, [128, 257] -- or one by one): y, the statistics, the running
    statistics and the exact gradient against the CPU -- with a mean far from 0
    (1000 + noise of 0.5 in f32: the parts' deviations merged, where E[x^2] -
    E[x]^2 would lose the variance to cancellation).  bn_comb both ways: an
    invocation per channel, and a subgroup per channel (GPUs; [128, 257] has
    fewer parts than lanes).  Backward's bn_apply by storage buffers over a capped grid."""
    vk, cpu = vg.get_backend("vulkan"), vg.get_backend("cpu")
    if texel_reads and not vk._twins:
        pytest.skip("this device's arenas back no texel views")
    sg = vk.limits.get("subgroup_size", 0)
    if comb_lanes and not (vk.limits.get("subgroup_shuffle") and 8 <= sg <= 64 and 64 % sg == 0):
        pytest.skip("no subgroup shuffles of 8 to 64 lanes on this device")
    monkeypatch.setattr(vk, "_texel_reads", texel_reads)
    monkeypatch.setattr(vk, "_shuffle_lanes", comb_lanes)
    # a GPU's bn_apply grid in backward, made small: its invocations loop over whole
    # rows, loading their channels' coefficients once ([4096, 64], [600, 100]; twins
    # ignore it)
    monkeypatch.setattr(vk, "_bn_apply_groups", 2)
    seen = _spy(vk, monkeypatch, lambda shader, spec: shader.split("_tx")[0])
    r = np.random.default_rng(shape[1])
    N, C = shape
    x = r.normal(1000.0 if dtype == "f32" else 3.0, 0.5, shape)
    g, gamma, beta = r.normal(0, 1, shape), r.uniform(0.5, 1.5, C), r.normal(0, 1, C)
    rnd = (lambda a: a.astype(np.float16).astype(np.float64)) if dtype == "f16" else (lambda a: a)
    T = lambda a, dt=dtype: vg.tensor(a, device="vulkan", dtype=dt).handle  # noqa: E731
    rm_c, rv_c = np.full(C, 0.5), np.full(C, 2.0)
    want = cpu.batchnorm_fwd(rnd(x), rnd(gamma), rnd(beta), 1e-5, rm_c, rv_c, 0.1)
    rm, rv = T(np.full(C, 0.5), "f32"), T(np.full(C, 2.0), "f32")
    got = vk.batchnorm_fwd(T(x), T(gamma), T(beta), 1e-5, rm, rv, 0.1)
    assert seen[:3] == ["bn_part", "bn_comb", "bn_apply"], seen
    # (f32: x = 1000 + noise keeps about 6e-5 of absolute resolution, y twice that; a
    # cancelling variance would be off by tens of percent)
    tol = dict(rtol=2e-2, atol=2e-2) if dtype == "f16" else dict(rtol=1e-3, atol=1e-3)
    for a, b, what in zip(list(got) + [rm, rv], list(want) + [rm_c, rv_c], ("y", "mean", "var", "invstd", "rm", "rv")):
        np.testing.assert_allclose(vk.to_numpy(a).astype(np.float64), b, **tol, err_msg=what)
    mean, inv = got[1], got[3]
    seen.clear()
    dx, dgam, dbet = vk.batchnorm_bwd(T(g), T(x), mean, inv, T(gamma))
    assert seen[:3] == ["bn_part", "bn_comb", "bn_apply"], seen
    wx, wg, wb = cpu.batchnorm_bwd(rnd(g), rnd(x), vk.to_numpy(mean).astype(np.float64),
                                   vk.to_numpy(inv).astype(np.float64), rnd(gamma))
    for a, b, what in ((dx, wx, "dx"), (dgam, wg, "dgamma"), (dbet, wb, "dbeta")):
        scale = max(1.0, float(np.abs(b).max()))
        np.testing.assert_allclose(vk.to_numpy(a).astype(np.float64), b, rtol=tol["rtol"],
                                   atol=tol["atol"] * scale, err_msg=what)


@pytest.mark.parametrize("shape", [(300, 5), (40, 9), (40, 12)], ids=str)  # workgroup, serial, quads
def test_batchnorm_kernel_updates_running_statistics(shape):
    r = np.random.default_rng(2)
    x = r.uniform(-2, 2, shape)
    out = {}
    for dev in ("cpu", "vulkan"):
        be = vg.get_backend(dev)
        rm = vg.tensor(np.full(shape[1], 0.5), device=dev, dtype="f32").handle
        rv = vg.tensor(np.full(shape[1], 2.0), device=dev, dtype="f32").handle
        h = lambda a: vg.tensor(a, device=dev, dtype="f32").handle  # noqa: E731
        be.batchnorm_fwd(h(x), h(np.ones(shape[1])), h(np.zeros(shape[1])), 1e-5, rm, rv, 0.2)
        out[dev] = be.to_numpy(rm), be.to_numpy(rv)
    np.testing.assert_allclose(out["vulkan"][0], 0.5 + 0.2 * (x.mean(0) - 0.5), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["vulkan"][1], 2.0 + 0.2 * (x.var(0, ddof=1) - 2.0), rtol=1e-5)
    for a, b in zip(out["vulkan"], out["cpu"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("texel_reads", [True, False])
@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("shape", [(6, 5), (3, 700), (5000, 3), (300, 260), (2000, 301)], ids=str)
def test_softmax_xent_with_labels_all_paths(shape, dtype, texel_reads, monkeypatch):
    """Labels read by the loss kernels directly, in the one-workgroup fused-mean path
    and the per-row path with a separate mean, forward and backward (texel views
    on CPU devices, storage buffers)."""
    be = vg.get_backend("vulkan")
    monkeypatch.setattr(be, "_texel_reads", texel_reads)
    seen = _spy(be, monkeypatch)
    r = np.random.default_rng(shape[1])
    x = r.uniform(-3, 3, shape)
    labels = r.integers(0, shape[1], shape[0])
    res = {}
    for dev, dt in (("cpu", "f64"), ("vulkan", dtype)):
        z = vg.tensor(x.astype(np.float16) if dtype == "f16" else x, device=dev, dtype=dt,
                      requires_grad=True)
        loss = vg.softmax_cross_entropy(z, labels)
        loss.backward()
        res[dev] = float(loss.item()), z.grad.numpy().astype(np.float64)
    tol = 2e-2 if dtype == "f16" else 1e-5
    assert res["vulkan"][0] == pytest.approx(res["cpu"][0], rel=tol)
    np.testing.assert_allclose(res["vulkan"][1], res["cpu"][1], rtol=tol, atol=tol / shape[0])
    xent = [s for s in seen if s.startswith("xent")]
    # an invocation per row (or one workgroup) reads through texel views on CPU devices
    # (there always an invocation per row; GPUs take a workgroup per row for long rows, few)
    serial = be._serial(shape[1], shape[0])
    assert serial == (bool(be._small_grid) or shape[1] <= 256 or shape[0] >= 1024)
    assert xent == ["xent_tx" if texel_reads and be._texel and serial else "xent"], (shape, seen)


@pytest.mark.parametrize("shape,axes", [((300000,), (0,)), ((3, 100000, 2), (1,)),
                                        ((20000, 3), (0,)), ((7, 9000), (0, 1))], ids=str)
def test_long_reductions_in_two_passes(shape, axes):
    """Long reductions with few outputs go through parallel partials first."""
    be = vg.get_backend("vulkan")
    a = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    t = vg.tensor(a, device="vulkan")
    for op, f in [("sum", np.sum), ("max", np.max), ("sumsq", lambda x, axis: np.sum(x * x, axis=axis))]:
        got = be.to_numpy(be.reduce(op, t.handle, axes, False))
        np.testing.assert_allclose(got, f(a.astype(np.float64), axis=axes), rtol=1e-4, atol=1e-3,
                                   err_msg=op)


@pytest.mark.parametrize("n", [1024, 1 << 16, 1 << 16 | 3])
def test_adam_quad_path_matches_cpu(n):
    r = np.random.default_rng(n)
    p, g = r.uniform(-1, 1, n).astype(np.float32), r.uniform(-1, 1, n).astype(np.float32)
    out = {}
    for dev in ("cpu", "vulkan"):
        be = vg.get_backend(dev)
        items = [(vg.tensor(p, device=dev).handle, vg.tensor(g, device=dev).handle,
                  be.full((n,), 0.1, "f32"), be.full((n,), 0.2, "f32"))]
        for step in (1, 2):
            be.adam_multi_(items, 1e-2, 0.9, 0.999, 1e-8, 0.01, step, False)
        out[dev] = [be.to_numpy(h) for h in (items[0][0], items[0][2], items[0][3])]
    for a, b in zip(out["vulkan"], out["cpu"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n", [4096, 4099])  # 4099: a tail of three elements
@pytest.mark.parametrize("gdt", ["f32", "f16"])  # f16: an f16 parameter's f32 master, read as halves
@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_quad_path_matches_cpu(momentum, nesterov, gdt, n):
    r = np.random.default_rng(3)
    p, g = r.uniform(-1, 1, n).astype(np.float32), r.uniform(-1, 1, n).astype(np.float32)
    out = {}
    for dev in ("cpu", "vulkan"):
        be = vg.get_backend(dev)
        w, gg = vg.tensor(p, device=dev).handle, vg.tensor(g, device=dev, dtype=gdt).handle
        buf = be.full((n,), 0.0, "f32") if momentum else None
        for first in (True, False):
            be.sgd_(w, gg, buf, 0.1, momentum, 0.0, nesterov, 0.01, first)
        out[dev] = be.to_numpy(w)
    np.testing.assert_allclose(out["vulkan"], out["cpu"], rtol=1e-5, atol=1e-6)


def test_copy_many_converts_masters_eight_per_dispatch():
    """Optimizer steps write f32 master weights back to f16 parameters with
    copy_many_: f32 -> f16 pairs eight per dispatch (odd sizes, a pair past the
    first eight), other pairs by copy_; values as NumPy's conversion."""
    be = vg.get_backend("vulkan")
    r = np.random.default_rng(3)
    sizes = [1, 3, 64, 1001, 7, 2, 256, 33, 5, 4097]
    srcs = [r.uniform(-3, 3, n) for n in sizes]
    pairs = [(vg.tensor(np.zeros(n), device="vulkan", dtype="f16").handle,
              vg.tensor(a, device="vulkan", dtype="f32").handle) for n, a in zip(sizes, srcs)]
    same = (vg.tensor(np.zeros(9), device="vulkan", dtype="f32").handle,
            vg.tensor(np.arange(9.0), device="vulkan", dtype="f32").handle)
    be.synchronize()
    d0 = be.counters["dispatches"]
    be.copy_many_(pairs + [same])
    used = be.counters["dispatches"] - d0
    for (dst, _), a in zip(pairs, srcs):
        np.testing.assert_array_equal(be.to_numpy(dst), a.astype(np.float32).astype(np.float16))
    np.testing.assert_array_equal(be.to_numpy(same[0]), np.arange(9.0, dtype=np.float32))
    if be.limits.get("max_per_stage_storage_buffers", 16) >= 16:
        assert used == 3  # two cast_multi dispatches (8 + 2 pairs) and one copy


def test_batch_statistics_are_f32_for_f16_inputs():
    """batchnorm_fwd keeps the batch statistics in f32 for f16 x (no conversion
    passes; batchnorm_bwd reads them so); f16 statistics there are an error."""
    be = vg.get_backend("vulkan")
    x = vg.tensor(np.random.default_rng(0).uniform(-1, 1, (8, 12)), device="vulkan", dtype="f16").handle
    one, zero = (vg.tensor(np.full(12, v), device="vulkan", dtype="f16").handle for v in (1.0, 0.0))
    y, mean, var, inv = be.batchnorm_fwd(x, one, zero, 1e-5)
    assert y.dtype == "f16" and {mean.dtype, var.dtype, inv.dtype} == {"f32"}
    with pytest.raises(vg.BackendError, match="batch statistics must be f32"):
        be.batchnorm_bwd(x, x, be.cast(mean, "f16"), inv, one)


def test_gpu_tuning_gives_the_same_values(monkeypatch):
    """The choices tuned per device kind (workgroups, parts of long reductions,
    accumulators per lane, Adam's workgroup size) as a GPU gets them, run here:
    reductions of every layout, softmax rows and the fused Adam against the CPU."""
    be = vg.get_backend("vulkan")
    monkeypatch.setattr(be, "_small_grid", 0)
    monkeypatch.setattr(be, "_texel_reads", False)  # GPUs read the quad kernels' inputs as storage buffers
    monkeypatch.setattr(be, "_reduce_items", 16384)
    monkeypatch.setattr(be, "_col_spans", {"f32": (2, 1), "f16": (1, 4)})
    sg = be.limits.get("subgroup_size", 0)
    monkeypatch.setattr(be, "_rows_by_subgroup", 8 <= sg <= 64 and 64 % sg == 0)
    r = np.random.default_rng(7)
    for shape, axes in [((700, 200), (0,)), ((3, 600, 136), (1,)), ((5000, 24), (0,)), ((64, 4096), (1,)),
                        ((300000,), (0,)), ((300001,), (0,)), ((257, 1021), (1,)), ((32767,), (0,)),
                        ((3, 5000), (1,)), ((1 << 20,), (0,))]:  # (rows passes again over many parts)
        x = r.uniform(-1, 1, shape)
        n = np.prod([shape[a] for a in axes])
        _cpu_vs_vk(lambda v: be.reduce("sum", v, axes, False), lambda v: v.sum(axes), [x], "f32",
                   rtol=1e-5, atol=1e-5 * np.sqrt(n))
    for dtype, tol in (("f32", dict(rtol=1e-5, atol=1e-6)), ("f16", dict(rtol=2e-2, atol=2e-3))):
        for rows, C in ((1030, 264), (5000, 72), (1030, 266), (5000, 70)):  # a subgroup per row (ends too)
            x = r.uniform(-4, 4, (rows, C))
            _cpu_vs_vk(lambda v: be.softmax(v), _np_softmax, [x], dtype, **tol)
            labels = r.integers(0, C, rows)
            xr = x.astype(np.float16).astype(np.float64) if dtype == "f16" else x
            want_p = _np_softmax(xr)
            loss, d = be.softmax_xent(vg.tensor(x, device="vulkan", dtype=dtype).handle,
                                      vg.tensor(labels.astype(np.int32), device="vulkan", dtype="i32").handle)
            np.testing.assert_allclose(be.to_numpy(d).astype(np.float64), (want_p - np.eye(C)[labels]) / rows,
                                       rtol=tol["rtol"], atol=tol["atol"] / rows)
            np.testing.assert_allclose(float(be.to_numpy(loss)), -np.log(want_p[np.arange(rows), labels]).mean(),
                                       rtol=tol["rtol"] * 10)
    sizes = [5, 300, 4096, 70000]
    ps, gs = [r.uniform(-1, 1, n) for n in sizes], [r.uniform(-1, 1, n) for n in sizes]
    out = {}
    for dev in ("cpu", "vulkan"):
        b = vg.get_backend(dev)
        items = [(vg.tensor(p, device=dev).handle, vg.tensor(g, device=dev).handle, b.full((len(p),), 0.0, "f32"),
                  b.full((len(p),), 0.0, "f32")) for p, g in zip(ps, gs)]
        b.adam_multi_(items, 1e-2, 0.9, 0.999, 1e-8, 0.0, 1, False)
        out[dev] = [b.to_numpy(it[0]) for it in items]
    for a, w in zip(out["vulkan"], out["cpu"]):
        np.testing.assert_allclose(a, w, rtol=1e-5, atol=1e-6)


def test_f16_outputs_identical_with_either_half_packing(monkeypatch):
    """CPU devices run the variants that pack halves by integer arithmetic
    (-DSOFT_HALF), GPUs packHalf2x16: both give the same bits, on elementwise
    (whole quads and not), conversions, the f16 matmul output, softmax rows,
    dropout and the master-weight copies."""
    be = vg.get_backend("vulkan")
    r = np.random.default_rng(11)
    xs = {n: r.uniform(-3, 3, n) * 10.0 ** r.integers(-6, 4, n) for n in (1000, 4097)}
    m32 = r.uniform(-2, 2, (24, 36))
    outs = {}
    for soft in (True, False):
        be.synchronize()
        monkeypatch.setattr(be, "_soft_half", soft)
        monkeypatch.setattr(be, "_spirv", {})
        monkeypatch.setattr(be, "_algos", {})
        got = []
        for n, x in xs.items():
            h = vg.tensor(x, device="vulkan", dtype="f16").handle
            got += [be.binary("mul", h, h), be.unary("exp", h), be.unary("tanh", h),
                    be.cast(vg.tensor(x, device="vulkan").handle, "f16"), be.dropout(h, 0.3, 5)[0]]
        a16 = vg.tensor(m32, device="vulkan", dtype="f16").handle
        odd = vg.tensor(m32[:5, :7], device="vulkan", dtype="f16").handle  # K = 7: the scalar kernel
        got += [be.matmul(a16, a16, trans_a=True), be.softmax(a16),
                be.matmul(odd, vg.tensor(m32[:7, :6], device="vulkan", dtype="f16").handle)]
        dst = vg.tensor(np.zeros(999), device="vulkan", dtype="f16").handle
        be.copy_many_([(dst, vg.tensor(xs[1000][:999], device="vulkan").handle)])
        got.append(dst)
        outs[soft] = [be.to_numpy(g).view(np.uint16) if be.dtype_of(g) == "f16" else be.to_numpy(g) for g in got]
        outs[(soft, "spirv")] = next(v for k, v in be._spirv.items() if k.startswith("binary4"))
    assert outs[(True, "spirv")] != outs[(False, "spirv")]  # two different modules did run
    assert all(be.dtype_of(g) == "f16" for g in got[:10] + got[-2:])
    for i, (sw, hw) in enumerate(zip(outs[True], outs[False])):
        np.testing.assert_array_equal(sw, hw, err_msg=f"output {i}")


@pytest.mark.parametrize("shape,axes", [((33, 7), (0,)), ((7, 33), (1,)), ((3, 5, 7), (0, 2)), ((9, 4, 5), (1,))])
def test_f16_reductions_write_halves(shape, axes, monkeypatch):
    """A serial reduction of an f16 tensor writes its result as halves (two per
    invocation, odd counts included): no conversion dispatch."""
    be = vg.get_backend("vulkan")
    x = np.random.default_rng(2).uniform(-1, 1, shape)
    seen = _spy(be, monkeypatch)
    h = vg.tensor(x, device="vulkan", dtype="f16").handle
    seen.clear()
    y = be.reduce("sum", h, axes, False)
    assert be.dtype_of(y) == "f16" and "cast" not in seen, seen
    want = x.astype(np.float16).astype(np.float64).sum(axes)
    np.testing.assert_allclose(be.to_numpy(y).astype(np.float64), want, rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("texel_reads", [True, False])
def test_f16_relu_backward_moves_bits(texel_reads, monkeypatch):
    """binary4's f16 relu_bwd works on the halves' bits (g where x > 0, else +0, as
    the float path): exact for zeros of either sign, subnormals, infinities and
    NaN with its payload -- operands read by quads (same shapes, either one
    repeating), a column operand (REP 4 / 5) and the tail words of odd sizes alike
    (an H100 made NaN 0x7fff where halves went through floats)."""
    be = vg.get_backend("vulkan")
    if texel_reads and not be._twins:
        pytest.skip("this device's arenas back no texel views")
    monkeypatch.setattr(be, "_texel_reads", texel_reads)
    seen = _spy(be, monkeypatch, lambda shader, spec: (shader.split("_")[0], spec[1] if len(spec) > 1 else None))
    r = np.random.default_rng(11)
    special = np.array([0.0, -0.0, 6e-8, -6e-8, np.inf, -np.inf, np.nan, 1.0, -1.0, 65504.0], np.float16)
    x = r.standard_normal((64, 48)).astype(np.float16)
    x.flat[::5] = special[r.integers(0, len(special), x.size)][::5]
    g = r.standard_normal((64, 48)).astype(np.float16)
    g.flat[::7] = special[r.integers(0, len(special), g.size)][::7]
    g.view(np.uint16).flat[::11] = _NAN_PAYLOAD["f16"]

    def want(xv, gv):
        xb, gb = np.broadcast_arrays(xv, gv)
        return np.where(xb > 0, gb, np.float16(0)).view(np.uint16)
    for xv, gv, rep in ((x, g, 0), (x, g[0], 2), (x[0], g, 1), (x, g[:, :1], 5), (x[:, :1], g, 4),
                        (x[:7, :9], g[:7, :9], 0)):  # (63 values: a tail of words)
        seen.clear()
        got = be.to_numpy(be.binary("relu_bwd", be.from_numpy(xv, "f16"), be.from_numpy(gv, "f16")))
        np.testing.assert_array_equal(got.view(np.uint16), want(xv, gv))
        assert ("binary4", rep) in seen, (rep, seen)


@pytest.mark.parametrize("n", [4096, 4093])  # 4093: a tail of words after the quads
def test_f16_relu_neg_fill_move_bits(n):
    """unary4's f16 relu, neg and fill work on the halves' bits (relu: x where it
    is in 1 .. 0x7c00 or NaN, else +0; neg: the sign flipped; fill: beta's bits): exact
    for zeros, subnormals, infinities and NaN, the tail (float path) alike."""
    be = vg.get_backend("vulkan")
    r = np.random.default_rng(n)
    special = np.array([0.0, -0.0, 6e-8, -6e-8, np.inf, -np.inf, np.nan, 1.0, -1.0, 65504.0], np.float16)
    x = r.standard_normal(n).astype(np.float16)
    x[::3] = special[r.integers(0, len(special), x.size)][::3]
    x[-3:] = special[[1, 4, 6]]  # in the tail too
    x.view(np.uint16)[::29] = _NAN_PAYLOAD["f16"]
    x.view(np.uint16)[-2] = _NAN_PAYLOAD["f16"]  # (the H100's tail, through floats, made it 0x7fff)
    h = be.from_numpy(x, "f16")
    u16 = lambda a: np.asarray(a, np.float16).view(np.uint16)  # noqa: E731
    relu = np.where((x > 0) | np.isnan(x), x, np.float16(0))  # NaN propagates (NumPy, PyTorch)
    np.testing.assert_array_equal(u16(be.to_numpy(be.unary("relu", h))), u16(relu))
    np.testing.assert_array_equal(u16(be.to_numpy(be.unary("neg", h))), u16(x) ^ np.uint16(0x8000))
    np.testing.assert_array_equal(u16(be.to_numpy(be.unary("fill", h, 0.0, 1.5))), u16(np.full(n, 1.5)))


def test_activation_backward_kernel_choice(monkeypatch):
    """act_bias_bwd: a quad of columns per invocation where the columns fill quads
    (the texel twin on CPU devices), a column per invocation else; a CPU device
    composes binary4 and reduce4 above 2**16 elements, a GPU up to 1024 rows fuses."""
    be = vg.get_backend("vulkan")
    seen = _spy(be, monkeypatch, lambda shader, spec: (shader, spec))
    mk = lambda shape: vg.tensor(np.ones(shape), device="vulkan").handle  # noqa: E731
    tx = "_tx" if be._texel_reads and be._texel else ""
    cases = [((32, 64), ("act_bias_bwd" + tx, (1, 1))), ((7, 10), ("act_bias_bwd", (1, 0))),
             ((600, 1024), ("act_bias_bwd" + tx, (1, 1)) if not be._small_grid else ("binary4" + tx, None)),
             ((64, 1025), ("act_bias_bwd", (1, 0)) if not be._small_grid else ("binary4" + tx, None))]
    for shape, (shader, spec) in cases:
        seen.clear()
        be.act_bias_bwd("relu", mk(shape), mk(shape))
        assert seen[0][0] == shader and (spec is None or seen[0][1] == spec), (shape, seen)


@pytest.mark.parametrize("texel_reads", [True, False])  # False: the storage-buffer kernel GPUs run
@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh", "gelu", "gelu_tanh"])
@pytest.mark.parametrize("rows,cols", [(32, 64), (7, 10), (5, 9), (40, 520), (600, 1024)])
def test_fused_activation_and_bias_backward(rows, cols, act, dtype, texel_reads, monkeypatch):
    """act_bias_bwd (gp = g * act'(.), db = gp summed over rows): the fused kernel
    (a quad of columns per invocation where they fill quads; else f32, or f16
    with an even column count, written as halves) or the composed primitives
    (also a CPU device's choice above 2**16 elements), against the CPU backend."""
    monkeypatch.setattr(vg.get_backend("vulkan"), "_texel_reads", texel_reads)
    r = np.random.default_rng(rows * cols)
    y, g = r.uniform(-2, 2, (rows, cols)), r.uniform(-1, 1, (rows, cols))
    if act in ("sigmoid",):
        y = 1 / (1 + np.exp(-y))
    elif act == "tanh":
        y = np.tanh(y)
    be, cpu = vg.get_backend("vulkan"), vg.get_backend("cpu")
    q = (lambda a: a.astype(np.float16).astype(np.float64)) if dtype == "f16" else (lambda a: a)
    gp, db = be.act_bias_bwd(act, *[vg.tensor(a, device="vulkan", dtype=dtype).handle for a in (y, g)])
    wgp, wdb = cpu.act_bias_bwd(act, *[vg.tensor(q(a), device="cpu", dtype="f64").handle for a in (y, g)])
    assert be.dtype_of(gp) == be.dtype_of(db) == dtype
    tol = dict(rtol=1e-2, atol=1e-2) if dtype == "f16" else dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(be.to_numpy(gp).astype(np.float64), wgp, **tol)
    np.testing.assert_allclose(be.to_numpy(db).astype(np.float64), wdb, rtol=tol["rtol"], atol=tol["atol"] * rows)


@pytest.mark.parametrize("n", [70000, 70003])  # 70003: a tail of three elements
@pytest.mark.parametrize("texel_reads", [True, False])
def test_large_parameter_updates_read_texels_or_storage_buffers(texel_reads, n, monkeypatch):
    """adam4 / sgd4 (large f32 parameters, f32 or f16 gradients, any size): on CPU
    devices their "_tx" twins read param, grad and state through texel views and
    write them through storage buffers of the same ranges; either way the CPU's
    values, over two steps (the state read back)."""
    be = vg.get_backend("vulkan")
    monkeypatch.setattr(be, "_texel_reads", texel_reads)
    seen = _spy(be, monkeypatch)
    r = np.random.default_rng(12)
    p0, gs = r.uniform(-1, 1, n), [r.uniform(-1, 1, n) for _ in range(2)]
    for gdt in ("f32", "f16"):
        out = {}
        for dev in ("cpu", "vulkan"):
            b = vg.get_backend(dev)
            p_a, p_s = vg.tensor(p0, device=dev).handle, vg.tensor(p0, device=dev).handle
            m, v, buf = (b.full((n,), 0.0, "f32") for _ in range(3))
            for step, g in enumerate(gs, 1):
                gh = vg.tensor(g, device=dev, dtype=gdt).handle
                b.adam_(p_a, gh, m, v, 1e-2, 0.9, 0.999, 1e-8, 0.01, step, True)
                b.sgd_(p_s, gh, buf, 1e-2, 0.9, 0.0, True, 0.01, step == 1)
            out[dev] = [b.to_numpy(h) for h in (p_a, m, v, p_s, buf)]
        for a, w in zip(out["vulkan"], out["cpu"]):
            np.testing.assert_allclose(a, w, rtol=1e-5, atol=1e-6)
    want = {"adam4_tx", "sgd4_tx"} if texel_reads else {"adam4", "sgd4"}
    assert want <= set(seen), seen


@pytest.mark.parametrize("cap", [1, 3, 7, 128])
@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_quad_loops_cover_every_quad_once_at_any_grid(dtype, cap, monkeypatch):
    """The texel twins' quad loops (vec4.glsl FOR_QUADS: a contiguous run per
    subgroup, runs that end early or hold nothing) at grids of 1 to 128 workgroups:
    copy, unary, binary (also with a tail shorter than a quad, either or both
    operands repeating, a column on either side), casts, pad, strided copies
    (transpose, slice, broadcast), slice gradients, Adam, SGD give the CPU's values, on quad counts
    that split unevenly."""
    be = vg.get_backend("vulkan")
    if not (be._texel_reads and be._texel):
        pytest.skip("texel-read kernels are for CPU devices")
    monkeypatch.setattr(be, "_small_grid", 0)  # the grid exactly as _quad_groups gives it
    monkeypatch.setattr(be, "_quad_cap", cap)
    seen = _spy(be, monkeypatch)
    r = np.random.default_rng(cap)
    rows, cols = 193, 24  # 1158 f32 quads (579 f16 ones): never a whole number of runs
    a, b = r.uniform(-1, 1, (rows, cols)), r.uniform(-1, 1, (rows, cols))
    row, col = r.uniform(-1, 1, cols), r.uniform(-1, 1, (rows, 1))
    tol = dict(rtol=2e-3, atol=2e-2) if dtype == "f16" else dict(rtol=1e-6, atol=1e-6)
    _cpu_vs_vk(lambda x: be._copy_contig(x, be._alloc(x.shape, x.dtype)), lambda x: x, [a], dtype, **tol)
    _cpu_vs_vk(lambda x: be.unary("tanh", x), np.tanh, [a], dtype, **tol)
    _cpu_vs_vk(lambda x, y: be.binary("mul", x, y), lambda x, y: x * y, [a, b], dtype, **tol)
    odd = a.size - 1 - 4 * (dtype == "f16")  # not a whole number of quads: a tail of words
    _cpu_vs_vk(lambda x, y: be.binary("mul", x, y), lambda x, y: x * y, [a.ravel()[:odd], b.ravel()[:odd]],
               dtype, **tol)
    _cpu_vs_vk(lambda x: be.unary("tanh", x), np.tanh, [a.ravel()[:odd]], dtype, **tol)
    for n in (odd, a.size):  # casts: eight elements a step, a tail of words
        src = a.ravel()[:n].astype(np.float32 if dtype == "f32" else np.float16)
        other = "f16" if dtype == "f32" else "f32"
        got = be.to_numpy(be.cast(be.from_numpy(src, dtype), other))
        np.testing.assert_array_equal(got, src.astype(np.float16 if other == "f16" else np.float32))
    _cpu_vs_vk(lambda x, y: be.binary("sub", x, y), lambda x, y: x - y, [a, row], dtype, **tol)
    _cpu_vs_vk(lambda x, y: be.binary("sub", x, y), lambda x, y: x - y, [row, a], dtype, **tol)
    _cpu_vs_vk(lambda x, y: be.binary("add", x, y), lambda x, y: x + y,
               [row[None].repeat(2, 0), row], dtype, **tol)
    _cpu_vs_vk(lambda x, y: be.binary("mul", x, y), lambda x, y: x * y, [a, col], dtype, **tol)  # a column
    _cpu_vs_vk(lambda x, y: be.binary("sub", x, y), lambda x, y: x - y, [col, a], dtype, **tol)
    _cpu_vs_vk(lambda x: be._pad2d(x, rows, 21, rows + 2, 28, cols, 1),
               lambda x: np.pad(x[:, :21], ((0, 2), (0, 7))), [a], dtype, **tol)
    _cpu_vs_vk(lambda x: be.permute(x, (1, 0)), lambda x: x.T, [a], dtype, **tol)  # strided copies
    _cpu_vs_vk(lambda x: be.slice(x, (1, 2), (1, 1), (192, 20)), lambda x: x[1:, 2:22], [a], dtype, **tol)
    _cpu_vs_vk(lambda x: be.broadcast_to(x, (rows, cols)), lambda x: np.broadcast_to(x, (rows, cols)),
               [row], dtype, **tol)

    def unsliced(g, starts, steps):
        y = np.zeros((rows, cols))
        y[tuple(slice(s, s + k * t, t) for s, k, t in zip(starts, g.shape, steps))] = g
        return y
    for starts, steps, g in (((1, 2), (1, 1), a[:192, :20]), ((1, 2), (2, 3), a[:96, :8])):  # slice gradients
        _cpu_vs_vk(lambda x: be.unslice(x, (rows, cols), starts, steps), lambda x: unsliced(x, starts, steps),
                   [g], dtype, **tol)
    n = rows * cols
    out = {}
    for dev in ("cpu", "vulkan"):
        bk = vg.get_backend(dev)
        p_a, p_s = vg.tensor(a.ravel(), device=dev).handle, vg.tensor(a.ravel(), device=dev).handle
        m, v, buf = (bk.full((n,), 0.0, "f32") for _ in range(3))
        for step in (1, 2):
            g = vg.tensor(b.ravel() * step, device=dev, dtype=dtype).handle
            bk.adam_(p_a, g, m, v, 1e-2, 0.9, 0.999, 1e-8, 0.0, step, False)
            bk.sgd_(p_s, g, buf, 1e-2, 0.9, 0.0, False, 0.0, step == 1)
        out[dev] = [bk.to_numpy(h) for h in (p_a, m, v, p_s, buf)]
    for got, want in zip(out["vulkan"], out["cpu"]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    want = {"cast_tx", "copy4_tx", "copy_tx", "unslice_tx", "unary4_tx", "binary4_tx", "adam4_tx", "sgd4_tx",
            "pad2d_h_tx" if dtype == "f16" else "pad2d_tx"}
    assert want <= set(seen), seen


# (kernel, texel reads): transpose4 as CPU devices read it (texel views) and as
# GPUs would (storage buffers), and transpose_sm (shared-memory tiles, GPUs' default)
@pytest.mark.parametrize("kernel,texel_reads", [("blocks", True), ("blocks", False), ("tiles", False)])
@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_transposes_of_the_last_two_axes_take_blocks_and_move_bits(dtype, kernel, texel_reads, monkeypatch):
    """Permutes that swap x's last two (merged) axes, both in whole quads, take
    transpose4 (blocks of 4 x 4 f32 or 8 x 8 halves) or transpose_sm (tiles of
    32 x 32; f16 64 x 32, a row pair's halves a word) -- tiles cut short at the edges, batches, size-1 axes merged away --
    and move the bits exactly; the rest the strided copy."""
    be = vg.get_backend("vulkan")
    if texel_reads and not be._twins:
        pytest.skip("this device's arenas back no texel views")
    sg = be.limits.get("subgroup_size", 0)
    if kernel == "blocks" and not (4 <= sg <= 64 and 64 % sg == 0):
        pytest.skip("transpose4 wants a subgroup size dividing 64")
    monkeypatch.setattr(be, "_texel_reads", texel_reads)
    monkeypatch.setattr(be, "transpose_kernel", kernel)
    shader = "transpose4" if kernel == "blocks" else "transpose"
    seen = _spy(be, monkeypatch, lambda shader, spec: shader.split("_")[0])
    np_dt, view = (np.float32, np.uint32) if dtype == "f32" else (np.float16, np.uint16)
    r = np.random.default_rng(4)
    for shape, axes, block in (((64, 48), (1, 0), True), ((264, 200), (1, 0), True), ((3, 40, 24), (0, 2, 1), True),
                               ((2, 3, 16, 32), (0, 1, 3, 2), True), ((1, 64, 1, 32), (0, 3, 2, 1), True),
                               ((40, 1, 24), (1, 2, 0), True), ((96, 72), (1, 0), True),
                               ((2, 104, 136), (0, 2, 1), True), ((37, 24), (1, 0), False),
                               ((4, 8, 16), (2, 1, 0), False)):
        x = (r.standard_normal(shape) * 10.0 ** r.integers(-8, 5, shape)).astype(np_dt)
        x.flat[::7], x.flat[::11], x.flat[::13] = -0.0, np.inf, np.nan
        x.view(view).flat[::19] = _NAN_PAYLOAD[dtype]
        seen.clear()
        got = be.to_numpy(be.permute(be.from_numpy(x, dtype), axes))
        want = np.ascontiguousarray(x.transpose(axes))
        assert got.shape == want.shape
        np.testing.assert_array_equal(got.view(view), want.view(view), err_msg=str((shape, axes)))
        assert (shader in seen) == block, (shape, axes, seen)


@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("texel_reads", [True, False])  # False: storage buffers, as GPUs read them
def test_strided_copies_move_bits_exactly(dtype, texel_reads, monkeypatch):
    """Strided copies and slice gradients (copy / unslice, and their texel twins
    on CPU devices) move the bits: infinities, -0, subnormals and NaN with their
    payloads come out as they went in, through permutes of 2 to 4 dimensions (the
    index advanced digit by digit), slices with steps (1 to 4 dimensions),
    broadcasts and slice gradients; outputs not in whole quads (the texel twins end
    with a tail of words, an f16 pad half +0).  (An H100 made every f16 NaN 0x7fff
    where halves went through floats.)"""
    be = vg.get_backend("vulkan")
    if texel_reads and not be._texel:
        pytest.skip("this device's arenas back no texel views")
    monkeypatch.setattr(be, "_texel_reads", texel_reads)
    np_dt, view = (np.float32, np.uint32) if dtype == "f32" else (np.float16, np.uint16)
    r = np.random.default_rng(9)
    x = (r.standard_normal((6, 5, 4, 8)) * 10.0 ** r.integers(-8, 5, (6, 5, 4, 8))).astype(np_dt)
    x.flat[::7], x.flat[::11], x.flat[::13], x.flat[::17] = -0.0, np.inf, np.finfo(np_dt).smallest_subnormal, np.nan
    x.view(view).flat[::19] = _NAN_PAYLOAD[dtype]
    h = be.from_numpy(x, dtype)
    cases = [(lambda: be.permute(h, (3, 1, 0, 2)), x.transpose(3, 1, 0, 2)),
             (lambda: be.permute(h, (1, 0, 2, 3)), x.transpose(1, 0, 2, 3)),
             (lambda: be.slice(h, (1, 0, 0, 0), (2, 1, 1, 2), (3, 5, 4, 4)), x[1::2, :, :, ::2]),
             (lambda: be.slice(h, (1, 0, 1, 0), (2, 1, 1, 3), (3, 5, 3, 3)), x[1::2, :, 1:4, ::3]),
             (lambda: be.broadcast_to(be.slice(h, (0, 0, 0, 0), (1, 1, 1, 1), (1, 1, 4, 8)), (3, 7, 4, 8)),
              np.broadcast_to(x[:1, :1], (3, 7, 4, 8))),
             (lambda: be.slice(be.from_numpy(x.ravel(), dtype), (1,), (3,), (320,)), x.ravel()[1::3][:320]),
             (lambda: be.broadcast_to(be.slice(h, (0, 0, 1, 3), (1, 1, 1, 1), (1, 1, 3, 5)), (3, 7, 3, 5)),
              np.broadcast_to(x[:1, :1, 1:4, 3:8], (3, 7, 3, 5))),  # 315 elements
             (lambda: be.slice(be.from_numpy(x.ravel(), dtype), (2,), (3,), (317,)), x.ravel()[2::3][:317])]
    g = x[:3, :4, :2, :4]  # slice gradients (unslice_tx): 4-d with steps, and 1-d
    want4 = np.zeros((6, 5, 4, 8), np_dt)
    want4[1::2, 1:5, ::2, 3:7] = g
    want1 = np.zeros(968, np_dt)
    want1[5:965:3] = x.ravel()[:320]  # 5 + 3 * 319 = 962 < 968
    cases += [(lambda: be.unslice(be.from_numpy(g, dtype), (6, 5, 4, 8), (1, 1, 0, 3), (2, 1, 2, 1)), want4),
              (lambda: be.unslice(be.from_numpy(x.ravel()[:320], dtype), (968,), (5,), (3,)), want1),
              (lambda: be.unslice(be.from_numpy(x.ravel()[:320], dtype), (967,), (5,), (3,)), want1[:967])]
    # runs of whole quads (the texel twins' QUADS walks): a permute and a slice keeping
    # x's last axis (8 values: two f32 quads, one of halves), a broadcast along the
    # last axis, a slice gradient and a slice written over a tensor on quad boundaries
    wide = np.concatenate([x, x[::-1]], axis=3)  # [6, 5, 4, 16]
    hw = be.from_numpy(wide, dtype)
    want_q = np.zeros((6, 5, 4, 24), np_dt)
    want_q[1::2, :, :, 8:16] = x[:3]
    put_q = np.concatenate([wide, wide[:, :, :, :8]], axis=3)
    put_q[:, :, 1:3, 8:16] = x[:, :, :2]
    cases += [(lambda: be.permute(h, (2, 0, 1, 3)), x.transpose(2, 0, 1, 3)),
              (lambda: be.slice(hw, (1, 0, 0, 8), (2, 1, 1, 1), (3, 5, 4, 8)), wide[1::2, :, :, 8:]),
              (lambda: be.broadcast_to(be.slice(h, (0, 0, 0, 5), (1, 1, 1, 1), (6, 5, 4, 1)), (6, 5, 4, 16)),
               np.broadcast_to(x[:, :, :, 5:6], (6, 5, 4, 16))),
              (lambda: be.unslice(be.from_numpy(x[:3], dtype), (6, 5, 4, 24), (1, 0, 0, 8), (2, 1, 1, 1)), want_q),
              (lambda: be.put_slice(be.from_numpy(np.concatenate([wide, wide[:, :, :, :8]], axis=3), dtype),
                                    be.from_numpy(x[:, :, :2], dtype), (0, 0, 1, 8), (1, 1, 1, 1)), put_q),
              # unit steps, not in quads (a convolution's padding): no step's division or lattice test
              (lambda: be.unslice(be.from_numpy(x[:, :, :2, :3], dtype), (6, 6, 4, 8), (0, 1, 1, 2), (1, 1, 1, 1)),
               np.pad(x[:, :, :2, :3], ((0, 0), (1, 0), (1, 1), (2, 3))))]
    seen = _spy(be, monkeypatch, lambda shader, spec: (shader, spec[1:]))  # (QUADS) / (BASE, QUADS, STEPS1)
    for fn, want in cases:
        got = be.to_numpy(fn())
        assert got.shape == want.shape
        np.testing.assert_array_equal(got.view(view), np.ascontiguousarray(want).view(view))
    if texel_reads and be._twins:  # every walk of quads taken
        assert {("copy_tx", (1,)), ("copy_tx", (2,)), ("unslice_tx", (0, 1, 0)), ("unslice_tx", (1, 1, 1)),
                ("unslice_tx", (0, 0, 1))} <= set(seen), seen


@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("win", [((3, 3), (1, 1), (1, 1), (1, 1), (5, 7)),  # 'same'-like: pads both sides
                                 ((2, 3), (2, 1), (0, 2), (2, 1), (2, 9)),  # dilation, odd pads
                                 ((2, 2), (2, 2), (0, 0), (1, 1), (3, 4)),  # ceil_mode: a row and column past the end
                                 ((1, 1), (3, 2), (0, 0), (1, 1), (2, 4)),  # 1x1 with strides: rows skipped
                                 # more taps than unrolled (over [2, 3, 12, 13]): loops over the taps reaching each element
                                 ((12, 13), (12, 13), (0, 0), (1, 1), (1, 1)),  # a global pool
                                 ((9, 9), (2, 3), (4, 4), (1, 1), (6, 5)),  # overlapping, padded
                                 ((9, 8), (3, 2), (4, 7), (1, 2), (4, 7))],  # dilated: every tap tried
                         ids=["3x3-pad1", "dilated", "past-end", "1x1-strided", "global", "9x9-looped", "dilated-looped"])
def test_im2col_moves_bits_and_col2im_is_its_adjoint(win, dtype, monkeypatch):
    """im2col against the CPU backend's windows, bit for bit (NaN payloads, -inf
    padding of a max pool, f16 rows of an odd width whose words straddle two rows),
    both kernels: im2col.comp's windows read in place (GPUs; an f16 image block of
    an odd length takes the copy) and copy.comp's walk over the padded input (CPU
    devices); col2im against the CPU's sums (the same f32 additions in the same
    order: equal bits) and as the adjoint: <im2col(x), c> = <x, col2im(c)>;
    window_scatter (gathering the taps its int32 idx names) against the one-hot
    rows through col2im, bit for bit; window_max (one pass) against the maxima and
    argmax of im2col's rows, ties and NaN included.  Windows of more than 64 taps:
    col2im's looped taps (a 56 x 56 window unrolled took lavapipe minutes to
    compile), window_max composed of the rows' maxima and argmax."""
    from vkgrad.backends.base import Backend, Window
    be, cpu = vg.get_backend("vulkan"), vg.get_backend("cpu")
    w = Window(*win)
    np_dt, view = (np.float32, np.uint32) if dtype == "f32" else (np.float16, np.uint16)
    r = np.random.default_rng(3)
    x = r.uniform(-2, 2, (2, 3, 12, 13) if w.kernel[0] * w.kernel[1] > 64 else (2, 3, 5, 7)).astype(np_dt)
    x.view(view).flat[::23] = _NAN_PAYLOAD[dtype]
    seen = _spy(be, monkeypatch, lambda shader, spec: (shader, spec[8:] if shader.startswith("col2im")
                                                       else spec[7:]))  # (col2im's, window_max's BATCH)
    for walk in ("runs", "batch"):
        monkeypatch.setattr(be, "window_walk", walk)
        for pad in (0.0, float("-inf")):
            seen.clear()
            got = be.to_numpy(be.im2col(be.from_numpy(x, dtype), w, pad))
            want = cpu.im2col(x, w, pad)
            assert got.shape == want.shape == (2 * w.out[0] * w.out[1], 3 * w.kernel[0] * w.kernel[1])
            np.testing.assert_array_equal(got.view(view), want.view(view))
            whole = dtype == "f32" or want.size % 4 == 0  # (two images' blocks: each even)
            assert (("im2col", ()) in seen) == (walk == "batch" and whole), (walk, seen)
        c = r.uniform(-1, 1, want.shape).astype(np_dt)
        seen.clear()
        got = be.to_numpy(be.col2im(be.from_numpy(c, dtype), x.shape, w))
        np.testing.assert_array_equal(got.view(view), cpu.col2im(c, x.shape, w).view(view))
        # a max pool's gradient: the gather (SCATTER) against the one-hot rows col2im'd (the default)
        g = r.uniform(-1, 1, (2, 3) + w.out).astype(np_dt)
        idx = r.integers(0, w.kernel[0] * w.kernel[1], g.shape).astype(np.int32)
        got = be.to_numpy(be.window_scatter(be.from_numpy(g, dtype), be.from_numpy(idx, "i32"), x.shape, w))
        np.testing.assert_array_equal(got.view(view), Backend.window_scatter(cpu, g, idx, x.shape, w).view(view))
        batch = walk == "batch" and (dtype == "f32" or x.size % 4 == 0)  # (an image's block even)
        assert (seen[0] == ("col2im", (1,))) == batch, (walk, seen)
        # a max pool in one pass against the default's reduced rows: maxima (NaN too) and first taps
        xm = r.permutation(x.size).reshape(x.shape).astype(np_dt) // 3  # ties of three
        xm.flat[::29] = np.nan
        seen.clear()
        ym, im = be.window_max(be.from_numpy(xm, dtype), w)
        ycpu, icpu = Backend.window_max(cpu, xm, w)
        np.testing.assert_array_equal(be.to_numpy(ym), ycpu)
        np.testing.assert_array_equal(be.to_numpy(im), icpu)
        if w.kernel[0] * w.kernel[1] <= 64:  # (else composed of the rows' maxima)
            batch = walk == "batch" and (dtype == "f32" or w.out[0] * w.out[1] % 2 == 0)  # (a plane's block even)
            assert (seen[0] == ("window_max", (1,))) == batch, (walk, seen)
    monkeypatch.undo()
    x64 = r.uniform(-1, 1, x.shape)
    c64 = r.uniform(-1, 1, want.shape)
    lhs = float(np.sum(cpu.im2col(x64, w) * c64))
    rhs = float(np.sum(x64 * cpu.col2im(c64, x.shape, w)))
    assert abs(lhs - rhs) < 1e-9 * max(1.0, abs(lhs))


@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_im2col_windows_walk_chunks_of_the_batch_and_loop_over_the_grid(dtype, monkeypatch):
    """The batch walks' grid (im2col.comp, col2im.comp and window_max.comp BATCH, a
    max pool's over the planes): with few invocations
    wanted (_BATCH_LANES) each walks a chunk of the batch, the last one short (7
    images in chunks of 2), and a grid capped below its work (_MAX_GROUPS) loops
    over the rest -- bit for bit with the CPU's windows and sums (a 1x1 window over
    odd sizes too: each image's block even)."""
    import vkgrad.backends.vulkan as vk
    from vkgrad.backends.base import Backend, Window
    be, cpu = vg.get_backend("vulkan"), vg.get_backend("cpu")
    np_dt, view = (np.float32, np.uint32) if dtype == "f32" else (np.float16, np.uint16)
    x = np.random.default_rng(5).uniform(-2, 2, (7, 3, 9, 10)).astype(np_dt)
    monkeypatch.setattr(be, "window_walk", "batch")
    batch_spec = {"im2col": lambda spec: (1,), "col2im": lambda spec: spec[8:], "window_max": lambda spec: spec[7:]}
    seen = _spy(be, monkeypatch, lambda shader, spec: shader + ("" if batch_spec.get(shader, lambda sp: ())(spec)
                                                                == (1,) else " runs"))
    for win, lanes, groups in ((((3, 3), (1, 1), (1, 1), (1, 1), (9, 10)), 4 * 1024, 4096),
                               (((3, 3), (2, 1), (1, 1), (1, 1), (5, 10)), 1, 2),
                               (((1, 1), (1, 1), (0, 0), (1, 1), (9, 10)), 1024, 1)):
        monkeypatch.setattr(vk, "_BATCH_LANES", lanes)
        monkeypatch.setattr(vk, "_MAX_GROUPS", groups)
        seen.clear()
        w = Window(*win)
        got = be.to_numpy(be.im2col(be.from_numpy(x, dtype), w, -1.5))
        np.testing.assert_array_equal(got.view(view), cpu.im2col(x, w, -1.5).view(view))
        got = be.to_numpy(be.col2im(be.from_numpy(got, dtype), x.shape, w))
        np.testing.assert_array_equal(got.view(view), cpu.col2im(cpu.im2col(x, w, -1.5), x.shape, w).view(view))
        ym, im = be.window_max(be.from_numpy(x, dtype), w)
        want_m, want_i = Backend.window_max(cpu, x, w)
        np.testing.assert_array_equal(be.to_numpy(ym).view(view), want_m.view(view))
        np.testing.assert_array_equal(be.to_numpy(im), want_i)
        assert seen == ["im2col", "col2im", "window_max"], seen
    # forced on a device with lavapipe's loop limit: no walk whose invocations would loop past it
    monkeypatch.setattr(vk, "_MAX_GROUPS", 4096)
    monkeypatch.setattr(vk, "_BATCH_LANES", 1 << 19)
    monkeypatch.setattr(be, "_loop_cap", 100)
    assert be._batch_grid(10 ** 6, 1, "f32") is None and be._batch_grid(1000, 10, "f32", 5) == (1000, 1)


@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_matmul_sg_subgroups_walk_more_tiles_than_the_grid(dtype, monkeypatch):
    """On CPU devices matmul_sg's grid is capped (32 workgroups a core) and its
    subgroups walk the tiles by a grid stride: a product of more tiles than the
    grid's subgroups (1290 tiles of 32 x 16, a row tail, a padded column block)
    reaches every one, with its bias."""
    be = vg.get_backend("vulkan")
    monkeypatch.setattr(be, "matmul_kernel", "sg")  # (GPU tuning: matmul_sm otherwise)
    seen = _spy(be, monkeypatch, lambda shader, spec: shader)
    r = np.random.default_rng(12)
    a, b, bias = r.uniform(-1, 1, (4100, 36)), r.uniform(-1, 1, (36, 150)), r.uniform(-1, 1, 150)
    got = be.to_numpy(be.matmul(*(vg.tensor(v, device="vulkan", dtype=dtype).handle for v in (a, b)),
                                bias=vg.tensor(bias, device="vulkan", dtype=dtype).handle))
    assert "matmul_sg" in seen
    rd = (lambda v: v.astype(np.float16).astype(np.float64)) if dtype == "f16" else (lambda v: v)
    tol = 2e-2 if dtype == "f16" else 1e-4
    np.testing.assert_allclose(got.astype(np.float64), rd(a) @ rd(b) + rd(bias), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_grid_stride_kernels_cover_more_units_than_a_capped_grid(dtype):
    """On CPU devices the grid-stride kernels (FOR_UNITS) get at most _quad_cap
    workgroups: one-hot rows and gathered rows of more units than such a grid has
    invocations still reach every element."""
    be = vg.get_backend("vulkan")
    r = np.random.default_rng(13)
    n_units = (be._quad_cap + 3) * 256 * (2 if dtype == "f16" else 1)  # past the capped grid
    lab = r.integers(0, 4, n_units // 4 + 5).astype(np.int32)
    got = be.to_numpy(be.one_hot(be.from_numpy(lab, "i32"), 4, dtype))
    np.testing.assert_array_equal(got, np.eye(4)[lab])
    w = r.uniform(-1, 1, (300, 257)).astype(np.float16 if dtype == "f16" else np.float32)
    idx = r.integers(0, 300, n_units // 257 + 3).astype(np.int32)
    got = be.to_numpy(be.gather_rows(be.from_numpy(w, dtype), be.from_numpy(idx, "i32")))
    np.testing.assert_array_equal(got, w[idx])


@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_max_pool_gradient_of_tiling_windows_is_a_gather(dtype, monkeypatch):
    """window_scatter where the windows tile the input (stride = kernel; rows and
    columns past the last window 0): unpool.comp, a gather of each element's tap
    (a quad of the result a store; the walk carried across rows and planes) --
    equal to the CPU backend's; overlapping or padded windows, or a result not in
    whole quads, take col2im's walk."""
    from vkgrad.backends.base import Window
    be, cpu = vg.get_backend("vulkan"), vg.get_backend("cpu")
    seen = _spy(be, monkeypatch, lambda shader, spec: shader.replace("_tx", ""))
    np_dt = np.float32 if dtype == "f32" else np.float16
    e = 8 if dtype == "f16" else 4
    r = np.random.default_rng(8)
    for shape, win in (((3, 2, 6, 10), Window((2, 2), (2, 2), (0, 0), (1, 1), (3, 5))),
                       ((2, 4, 9, 8), Window((3, 2), (3, 2), (0, 0), (1, 1), (3, 4))),  # a row past the windows
                       ((2, 3, 7, 9), Window((2, 2), (2, 2), (0, 0), (1, 1), (3, 4))),
                       ((2, 2, 6, 8), Window((3, 3), (2, 2), (1, 1), (1, 1), (3, 4)))):  # overlapping, padded
        x = r.integers(0, 3, shape).astype(np_dt)  # ties: the first tap
        y, idx = cpu.window_max(x, win)
        g = r.standard_normal(y.shape).astype(np_dt)
        seen.clear()
        got = be.to_numpy(be.window_scatter(be.from_numpy(g, dtype), be.from_numpy(idx, "i32"), shape, win))
        np.testing.assert_array_equal(got, cpu.window_scatter(g, idx, shape, win), err_msg=str(shape))
        tiled = win.stride == win.kernel and win.padding == (0, 0) and np.prod(shape) % e == 0
        assert seen == (["unpool"] if tiled else ["col2im"]), (shape, seen)


@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_cat_writes_each_piece_into_its_region(dtype, monkeypatch):
    """cat on CPU devices: pieces whose runs along the axis are whole quads at quad
    offsets are each written into their region of the result (copy_tx QUADS 3, one
    dispatch a piece, empty pieces none) -- bit for bit, NaN payloads included --;
    other pieces take the base class's unslice / put_slice."""
    be = vg.get_backend("vulkan")
    seen = _spy(be, monkeypatch, lambda shader, spec: (shader, spec[1:]))
    np_dt, view = (np.float32, np.uint32) if dtype == "f32" else (np.float16, np.uint16)
    e = 8 if dtype == "f16" else 4
    r = np.random.default_rng(5)
    for shapes, axis, quads in (([(2, 3, 8), (2, 5, 8), (2, 0, 8)], 1, True), ([(3, 16), (5, 16)], 0, True),
                                ([(4, 8), (4, 16), (4, 8)], 1, True), ([(6, 2, 4), (6, 2, 12)], 2, e == 4),
                                ([(2, 3, 5), (2, 3, 3)], 2, False), ([(1, 16), (1, 8)], 1, True)):
        xs = [r.standard_normal(sh).astype(np_dt) for sh in shapes]
        for x in xs:
            x.view(view).flat[::5] = _NAN_PAYLOAD[dtype]
        seen.clear()
        got = be.to_numpy(be.cat([be.from_numpy(x, dtype) for x in xs], axis))
        want = np.concatenate(xs, axis)
        assert got.shape == want.shape
        np.testing.assert_array_equal(got.view(view), want.view(view), err_msg=str((shapes, axis)))
        if be._twins:
            assert (seen == [("copy_tx", (3,))] * sum(x.size > 0 for x in xs)) == quads, (shapes, seen)


@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("D", [64, 24, 257, 4])
def test_gather_rows_moves_bits_and_marks_bad_indices(D, dtype, monkeypatch):
    """Embedding rows (gather_rows): bit for bit (NaN payloads, -0, inf), an index
    outside [0, V) a row of NaN; rows of whole quads by the texel twin on CPU
    devices (a quad a gather), the rest element by element."""
    be = vg.get_backend("vulkan")
    seen = _spy(be, monkeypatch)
    np_dt, view = (np.float32, np.uint32) if dtype == "f32" else (np.float16, np.uint16)
    r = np.random.default_rng(D)
    w = r.standard_normal((50, D)).astype(np_dt)
    w.flat[::7], w.flat[::11] = -0.0, np.inf
    w.view(view).flat[::13] = _NAN_PAYLOAD[dtype]
    idx = r.integers(0, 50, 77).astype(np.int32)
    idx[[3, 40]] = -1, 50
    got = be.to_numpy(be.gather_rows(be.from_numpy(w, dtype), be.from_numpy(idx, "i32")))
    ok = (idx >= 0) & (idx < 50)
    np.testing.assert_array_equal(got[ok].view(view), w[idx[ok]].view(view))
    assert np.isnan(got[~ok]).all()
    quads = D % (8 if dtype == "f16" else 4) == 0 and be._twins
    assert seen == ["gather_rows_tx" if quads else "gather_rows"], seen


@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("R,D", [(37, 8), (130, 48), (3, 1024), (1, 16), (200, 24), (9000, 40), (5, 2056)])
def test_layer_norm_kernels_against_the_composition(R, D, dtype, monkeypatch):
    """layernorm.comp and layernorm_bwd.comp (rows of whole quads: one dispatch
    each way; on GPUs lanes of a subgroup per row, rows of any length, a subgroup's
    last rows past the end on short ones) against the base
    class's composition of primitives on the same device, with and without scale
    and shift: y, the statistics, dx and g * xhat; rows not in whole quads (f16
    D = 24) take the composition."""
    from vkgrad.backends.base import Backend
    be = vg.get_backend("vulkan")
    seen = _spy(be, monkeypatch)
    r = np.random.default_rng(R + D)
    np_dt = np.float16 if dtype == "f16" else np.float32
    x = (r.standard_normal((R, D)) * 3 + 2).astype(np_dt)
    w, b, g = r.uniform(0.5, 1.5, D).astype(np_dt), r.standard_normal(D).astype(np_dt), \
        r.standard_normal((R, D)).astype(np_dt)
    h = {k: be.from_numpy(v, dtype) for k, v in dict(x=x, w=w, b=b, g=g).items()}
    fused = D % (8 if dtype == "f16" else 4) == 0 and (
        be._shuffle_lanes or be._serial(D, R) and (bool(be._small_grid) or D <= 256))
    tol = dict(rtol=2e-2, atol=2e-2) if dtype == "f16" else dict(rtol=1e-5, atol=1e-5)
    for wb in ((h["w"], h["b"]), (None, None), (h["w"], None)):
        seen.clear()
        got = be.layer_norm(h["x"], *wb, 1e-5)
        want = Backend.layer_norm(be, h["x"], *wb, 1e-5)
        assert (seen[0] == ("layernorm_tx" if be._twins else "layernorm")) == fused, seen
        for a, c in zip(got, want):
            np.testing.assert_allclose(be.to_numpy(a).astype(np.float64), be.to_numpy(c).astype(np.float64), **tol)
        seen.clear()
        got = be.layer_norm_bwd(h["g"], h["x"], wb[0], got[1], got[2], wb[0] is not None)
        want = Backend.layer_norm_bwd(be, h["g"], h["x"], wb[0], want[1], want[2], wb[0] is not None)
        assert (seen[0] == ("layernorm_bwd_tx" if be._twins else "layernorm_bwd")) == fused, seen
        assert (got[1] is None) == (want[1] is None) == (wb[0] is None)
        for a, c in zip(got, want):
            if a is not None:
                np.testing.assert_allclose(be.to_numpy(a).astype(np.float64), be.to_numpy(c).astype(np.float64),
                                           **tol)


@pytest.mark.parametrize("shape", [(37, 203), (5, 7), (64, 130), (3, 1)])
def test_padding_contiguous_rows_by_texels_is_exact(shape):
    """pad2d(_h)_tx with ROWS = 1 reads a quad from the two texels covering it
    (f32 values, f16 bits moved without conversion): the same bits as the
    element-by-element path, at every offset, with zeros, infinities and
    subnormals, and the fill outside [R, C] (zeros; -inf)."""
    be = vg.get_backend("vulkan")
    if not (be._texel_reads and be._texel):
        pytest.skip("texel-read kernels are for CPU devices")
    R, C = shape
    r = np.random.default_rng(R * C)
    for dt, shader, np_dt, view in (("f32", "pad2d_tx", np.float32, np.uint32),
                                    ("f16", "pad2d_h_tx", np.float16, np.uint16)):
        x = (r.standard_normal(shape) * 10.0 ** r.integers(-8, 5, shape)).astype(np_dt)
        x.flat[::7], x.flat[::11], x.flat[::13] = -0.0, np.inf, np.finfo(np_dt).smallest_subnormal
        h = be.from_numpy(x, dt)
        C2 = -(-C // 8) * 8 + 8
        for fill in (0.0, -np.inf):
            bits = int(np.array(fill, np_dt).view(view))
            outs = []
            for rows in (1, 0):
                y = be._alloc((R + 3, C2), dt)
                be._dispatch(shader, dt, (rows,), ((R + 3) * C2 // 4 + 63) // 64,
                             [R, C, R + 3, C2, C, 1, bits], [h, y, h])
                outs.append(be.to_numpy(y).view(view).copy())
            want = np.full((R + 3, C2), fill, np_dt)
            want[:R, :C] = x
            np.testing.assert_array_equal(outs[0], outs[1])
            np.testing.assert_array_equal(outs[0], want.view(view))


def test_matmul_rejects_operands_of_different_dtypes():
    """The backend primitive reads both operands (and the bias) in one dtype: a
    mix is a clear error, not a product of misread values (the tensor-level
    operator promotes before it gets here)."""
    be = vg.get_backend("vulkan")
    a = vg.tensor(np.ones((4, 4)), device="vulkan", dtype="f16").handle
    b = vg.tensor(np.ones((4, 4)), device="vulkan", dtype="f32").handle
    with pytest.raises(vg.BackendError, match=r"matmul: operands \[4, 4\] f16 and \[4, 4\] f32"):
        be.matmul(a, b)
    with pytest.raises(vg.BackendError, match="bias f16"):
        be.matmul(b, b, bias=vg.tensor(np.ones(4), device="vulkan", dtype="f16").handle)
    x = vg.tensor(np.ones((4, 4)), dtype="f16", device="vulkan") @ vg.tensor(np.ones((4, 4)), device="vulkan")
    np.testing.assert_allclose(x.numpy(), np.full((4, 4), 4.0))


@pytest.mark.parametrize("texel_reads", [True, False])  # False: the storage-buffer kernels GPUs take
def test_a_repeating_operand_of_a_size_not_in_quads_reaches_every_element(texel_reads, monkeypatch):
    """An operand repeating along the output's rows (a scalar, a short row) with a
    total size not in whole quads: CPU devices materialise it (the strided copy's
    texel twin, with its tail of words) and run binary4; the general shader walked
    an invocation per column of the repeating operand down every row -- a scalar
    times [1025, 257] was one invocation for all 263425 elements, cut short by
    lavapipe's loop limit at 65535 (found by a random test: the loss-scaled gradient
    of softmax_cross_entropy).  Both operand orders, f32 and f16, both paths."""
    be = vg.get_backend("vulkan")
    if texel_reads and not be._twins:
        pytest.skip("this device's arenas back no texel views")
    monkeypatch.setattr(be, "_texel_reads", texel_reads)
    r = np.random.default_rng(11)
    for big, small in (((1025, 257), ()), ((100001, 3), (3,)), ((70001,), (1,)), ((33, 2049, 3), (2049, 3))):
        for dt, npdt, tol in (("f32", np.float32, 1e-6), ("f16", np.float16, 2e-3)):
            x, v = r.uniform(-2, 2, big).astype(npdt), r.uniform(0.5, 2, small).astype(npdt)
            hx, hv = be.from_numpy(x, dt), be.from_numpy(v, dt)
            for got, want in ((be.binary("mul", hx, hv), x.astype(np.float64) * v),
                              (be.binary("sub", hv, hx), v.astype(np.float64) - x)):
                np.testing.assert_allclose(be.to_numpy(got).astype(np.float64), want, rtol=tol, atol=tol,
                                           err_msg=f"{big} {small} {dt}")


def test_long_loops_are_not_cut_short():
    """lavapipe ends an invocation's loops after 65535 iterations in all, silently
    (a [1, 100000] @ [100000, 1] product came out 65535; softmax over [4096, 4096]
    left its last rows unwritten): products with a long K run in slices there,
    long softmax / xent rows take a workgroup each, and row kernels keep small grids
    for small work only.  Values on every device, any dtype of operands."""
    be = vg.get_backend("vulkan")
    r = np.random.default_rng(7)
    K = 70000
    for (M, N, ta, tb) in ((1, 1, False, False), (3, 5, True, False), (2, 6, False, True)):
        a = r.uniform(-1, 1, (K, M) if ta else (M, K)).astype(np.float32)
        b = r.uniform(-1, 1, (N, K) if tb else (K, N)).astype(np.float32)
        bias = r.uniform(-1, 1, N).astype(np.float32)
        got = be.to_numpy(be.matmul(be.from_numpy(a, "f32"), be.from_numpy(b, "f32"), ta, tb,
                                    bias=be.from_numpy(bias, "f32"), act="relu"))
        want = np.maximum((a.T if ta else a).astype(np.float64) @ (b.T if tb else b) + bias, 0)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-2, err_msg=str((M, N, ta, tb)))
    x = r.uniform(-3, 3, (4096, 4096)).astype(np.float32)
    lab = r.integers(0, 4096, 4096).astype(np.int32)
    z = x - x.max(1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    h = be.from_numpy(x, "f32")
    np.testing.assert_allclose(be.to_numpy(be.softmax(h)), p, rtol=1e-4, atol=1e-7)
    loss, d = be.softmax_xent(h, be.from_numpy(lab, "i32"))
    onehot = np.eye(4096)[lab]
    np.testing.assert_allclose(be.to_numpy(d), (p - onehot) / 4096, rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(float(be.to_numpy(loss)), -np.log(p[np.arange(4096), lab]).mean(), rtol=1e-4)
    for shape in ((3, 100000), (2, 50001)):  # rows longer than a lane's loop may run
        x = r.uniform(-3, 3, shape).astype(np.float32)
        z = x - x.max(1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        np.testing.assert_allclose(be.to_numpy(be.softmax(be.from_numpy(x, "f32"))), p, rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("items", [1024, 262144])
def test_reductions_and_batch_norm_with_any_count_of_parallel_parts(items, monkeypatch):
    """The count of parallel parts of long reductions and batch norm's first pass
    (VKGRAD_REDUCE_ITEMS; 1024 on CPU devices, 65536 on GPUs) changes how many
    partials are merged, not the values: sums over rows, columns and all, and batch
    norm forward and backward, against the CPU at the two ends of the choices."""
    vk, cpu = vg.get_backend("vulkan"), vg.get_backend("cpu")
    monkeypatch.setattr(vk, "_reduce_items", items)
    r = np.random.default_rng(12)
    x, g = r.normal(0, 1, (6000, 260)), r.normal(0, 1, (6000, 260))  # (f16 sums stay finite)
    for dt, tol in (("f32", 1e-4), ("f16", 2e-2)):
        rnd = (lambda a: a.astype(np.float16).astype(np.float64)) if dt == "f16" else (lambda a: a)
        h = vk.from_numpy(x.astype(np.float32), dt)
        for ax in ((0,), (1,), (0, 1)):
            got = vk.to_numpy(vk.reduce("sum", h, ax, False)).astype(np.float64)
            want = rnd(x).sum(axis=ax)
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.sqrt(x.size), err_msg=f"{dt} {ax}")
        one, zero = vk.from_numpy(np.ones(260, np.float32), dt), vk.from_numpy(np.zeros(260, np.float32), dt)
        y, mean, _, inv = vk.batchnorm_fwd(h, one, zero, 1e-5)
        wy, wm, _, wi = cpu.batchnorm_fwd(rnd(x), np.ones(260), np.zeros(260), 1e-5)
        np.testing.assert_allclose(vk.to_numpy(y).astype(np.float64), wy, rtol=tol, atol=tol * 3)
        dx, dgam, _ = vk.batchnorm_bwd(vk.from_numpy(g.astype(np.float32), dt), h, mean, inv, one)
        wx, wg, _ = cpu.batchnorm_bwd(rnd(g), rnd(x), vk.to_numpy(mean).astype(np.float64),
                                      vk.to_numpy(inv).astype(np.float64), np.ones(260))
        np.testing.assert_allclose(vk.to_numpy(dx).astype(np.float64), wx, rtol=tol, atol=tol * 3)
        np.testing.assert_allclose(vk.to_numpy(dgam).astype(np.float64), wg, rtol=tol, atol=tol * 30)


@pytest.mark.parametrize("split", [False, True], ids=["subgroups", "split"])
@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_gpu_column_sums_reduce_many_partials_again(dtype, split, monkeypatch):
    """GPU choices: column sums by subgroup spans over many rows leave more than 64
    partial rows; those take another reduce4 pass (not the last pass's lane per
    output looping over all of them), and the last pass then reads at most 64
    rows.  An item by one subgroup, or by a workgroup of 256 whose subgroups take
    interleaved rows (SPLIT; more items wanted here, for as many partial rows).
    Values against NumPy, sums and maxima, with and without keepdims."""
    be = vg.get_backend("vulkan")
    if not 0 < be.limits.get("subgroup_size", 0) <= 64:
        pytest.skip("no subgroups")
    monkeypatch.setattr(be, "_small_grid", 0)
    monkeypatch.setattr(be, "_texel_reads", False)
    monkeypatch.setattr(be, "_reduce_items", 65536 * (16 if split else 1))
    monkeypatch.setattr(be, "_col_split", split)
    monkeypatch.setattr(be, "_col_spans", {"f32": (2, 1), "f16": (1, 4)})  # (a GPU's)
    seen = _spy(be, monkeypatch, lambda shader, spec: (shader.split("_")[0], spec))
    r = np.random.default_rng(21)
    tol = dict(rtol=2e-2, atol=0.5) if dtype == "f16" else dict(rtol=1e-4, atol=1e-3)
    x = r.uniform(-1, 1, (20000, 1024))
    for op, fn in (("sum", np.sum), ("max", np.max)):
        seen.clear()
        _cpu_vs_vk(lambda v: be.reduce(op, v, (0,), False), lambda v: fn(v, axis=0), [x], dtype, **tol)
        passes = [spec for k, spec in seen if k == "reduce4"]
        assert len(passes) >= 2 and all(sp[1] == 2 and (sp[4:5] == (1,)) == split for sp in passes), (op, seen)
        assert passes[0][0] == {"sum": 0, "max": 1}[op]
    x3 = r.uniform(-1, 1, (3, 9000, 512))
    _cpu_vs_vk(lambda v: be.reduce("sum", v, (1,), True), lambda v: v.sum(1, keepdims=True), [x3], dtype, **tol)
    x = r.uniform(-1, 1, (7000, 1000))  # spans of the row: the last one short
    _cpu_vs_vk(lambda v: be.reduce("sum", v, (0,), False), lambda v: v.sum(0), [x], dtype, **tol)


@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_column_sums_of_wide_rows_not_in_whole_quads_end(dtype):
    """Column sums whose width is not in whole quads, over a row count that is
    (e rows viewed as one row of whole quads, then the e partial rows): with wide
    rows the partial rows (e x width >= 2**16 elements) took the same path again
    and recursed without end (found by a random test: the gradient of a [64, 257,
    17, 5, 2] * [257, 17, 5, 2] product).  Values against NumPy."""
    be = vg.get_backend("vulkan")
    r = np.random.default_rng(13)
    for shape in ((64, 43690), (8, 16386), (16, 8194)):
        x = r.uniform(-1, 1, shape)
        _cpu_vs_vk(lambda v: be.reduce("sum", v, (0,), False), lambda v: v.sum(0), [x], dtype,
                   **(dict(rtol=1e-2, atol=2e-2) if dtype == "f16" else dict(rtol=1e-5, atol=1e-4)))


@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("part", [3, 7, 4096])
def test_argmax_splits_long_rows_in_parts(part, dtype, monkeypatch):
    """argmax_rows over rows split into parts of ``part`` elements, the parts'
    candidates picked by further passes (parts of 3 over rows of 50: four levels),
    against NumPy: ties across parts (the first wins), NaN in a later part, rows
    of -inf, the maximum in the last element; the dispatches' parts as asked."""
    import vkgrad.backends.vulkan as vk
    be = vg.get_backend("vulkan")
    monkeypatch.setattr(vk, "_ARGMAX_PART", part)
    seen = _spy(be, monkeypatch, lambda shader, spec: (shader, spec))
    r = np.random.default_rng(part)
    C = 50 if part < 4096 else 70001
    x = r.integers(0, 5, (6, C)).astype(np.float64)
    x[1] = -np.inf
    x[2, 40], x[2, 45] = np.nan, np.nan
    x[3, -1] = 9
    x[4, 11], x[4, 47] = 7, 7
    xs = x.astype(np.float16 if dtype == "f16" else np.float32)
    got = be.to_numpy(be.argmax_rows(be.from_numpy(xs, dtype)))
    np.testing.assert_array_equal(got, np.argmax(xs, axis=1))
    levels = {3: 4, 7: 3, 4096: 2}[part]  # passes: 50 -> 17 -> 6 -> 2 -> 1, 50 -> 8 -> 2 -> 1, 70001 -> 18 -> 1
    assert [s for s in seen if s[0] == "argmax"] == \
        [("argmax", (0, 1))] + [("argmax", (1, 1))] * (levels - 2) + [("argmax", (1, 0))]


def test_matmul_sg_grid_keeps_each_subgroup_under_the_loop_limit(monkeypatch):
    """On CPU devices matmul_sg's subgroups walk its tiles in a small grid: it
    grows with lavapipe's loop limit in view (a turn per tile and K / sg per
    tile, 65535 in all per invocation, past which a loop stops silently: two
    workgroups left 4096 x 1024 x 4096 zero past row 992, 5400^3 past row 160).
    A product past the real limit, then smaller ones under a lowered limit, whose
    grids as dispatched keep every subgroup's walk under it -- and use every core;
    values against NumPy."""
    be = vg.get_backend("vulkan")
    if not be._small_grid or not be._loop_cap or be.matmul_kernel != "sg":
        pytest.skip("a CPU device's grid (lavapipe) with matmul_sg")
    sg = be.limits["subgroup_size"]
    r = np.random.default_rng(5)

    def check(M, K, N, tol):
        a, b = r.standard_normal((M, K)).astype(np.float32), r.standard_normal((K, N)).astype(np.float32)
        c = be.to_numpy(be.matmul(be.from_numpy(a, "f32"), be.from_numpy(b, "f32")))
        np.testing.assert_allclose(c, a @ b, rtol=tol, atol=tol)
    check(2048, 1024, 2304, 2e-3)  # 9216 tiles: 576 a subgroup in two workgroups, 130 turns each

    class Prog:  # the program's dispatches, as recorded (after _dispatch's own grid rules)
        def __init__(self, prog):
            self.prog, self.groups = prog, []

        def dispatch(self, algo, gx, *rest):
            self.groups.append(gx)
            return self.prog.dispatch(algo, gx, *rest)

        def __getattr__(self, name):
            return getattr(self.prog, name)

        def __len__(self):
            return len(self.prog)
    seen = _spy(be, monkeypatch, lambda shader, spec: shader)

    def grid(M, K, N):  # the product's grid as dispatched
        be.synchronize()
        prog = be._prog = Prog(be._prog)
        seen.clear()
        try:
            check(M, K, N, 1e-4)  # (its read flushes: recording moves on to the other program)
        finally:  # the program being recorded, whatever happened: not monkeypatch's restore of
            # the one current at the first call, which may be the other one by then -- its
            # descriptor pools were then reset while its submission ran (lavapipe crashed)
            be._prog = be._progs[be._pi]
        assert seen == ["matmul_sg"] and len(prog.groups) == 1, (seen, prog.groups)
        return prog.groups[0]
    # every core (a workgroup each) once there are more than 8 workgroups' tiles: a grid
    # of two fell to _dispatch's rule for tiny work, one workgroup (1024 x 1024 x 512 at
    # half the rate); one for the tiniest
    assert grid(1024, 64, 512) == be._small_grid and grid(64, 64, 64) == 1
    monkeypatch.setattr(be, "_loop_cap", 40)
    for M, K, N in ((1024, 32, 512), (2048, 24, 256), (512, 8, 2048)):  # (K under the limit: no slices)
        g = grid(M, K, N)
        tiles = -(-M // (4 * sg)) * -(-N // 16)
        per_sg = -(-tiles // (g * (64 // sg)))
        assert per_sg * (2 + -(-K // sg)) <= 40, (M, K, N, g, per_sg)


def test_argmax_small_grid_stays_under_the_loop_limit():
    """Rows of 4096 (one part each) in a grid small enough for CPU devices' rule
    (two workgroups: 24 rows of 4096 for each invocation here, past lavapipe's
    65535 loop turns, answered index 0 for rows never walked): the grid grows
    with the walk's length."""
    be = vg.get_backend("vulkan")
    x = np.random.default_rng(9).standard_normal((3000, 4096)).astype(np.float32)
    x[np.arange(3000), np.arange(3000) % 4096] = 9  # a maximum in a different place in every row
    got = be.to_numpy(be.argmax_rows(be.from_numpy(x, "f32")))
    np.testing.assert_array_equal(got, np.arange(3000) % 4096)


@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("sliced", [False, True])
def test_bmm_against_cpu(ta, tb, dtype, sliced, monkeypatch):
    """bmm (where matmul_sg runs and reads the operands as stored, large batches:
    every item's tiles in one matmul_sg grid -- partial row and column tiles
    included; else one dispatch over the batch: matmul4 where each operand is read
    along a multiple of 4, else matmul.comp; large products whose bytes keep the
    offsets aligned: the tuned 2-D product per item, on views) against
    the CPU backend on odd shapes, operands stored transposed or not, f16 written as
    halves where N is even; ``sliced``: K past a lowered loop limit, in slices added
    in f32."""
    be, cpu = vg.get_backend("vulkan"), vg.get_backend("cpu")
    if sliced:
        _lower_loop_cap(be, 6, monkeypatch)
    seen = _spy(be, monkeypatch)
    r = np.random.default_rng(11)
    np_dt = np.float32 if dtype == "f32" else np.float16
    q = 8 if dtype == "f16" else 4
    for Bt, M, K, N in ((3, 5, 13, 7), (2, 9, 16, 6), (1, 1, 1, 1), (2, 64, 64, 64), (5, 8, 12, 4), (2, 256, 256, 256),
                        (5, 36, 64, 40), (7, 44, 48, 21)):
        a = r.uniform(-1, 1, (Bt, K, M) if ta else (Bt, M, K)).astype(np_dt)
        b = r.uniform(-1, 1, (Bt, N, K) if tb else (Bt, K, N)).astype(np_dt)
        seen.clear()
        got = be.to_numpy(be.bmm(be.from_numpy(a, dtype), be.from_numpy(b, dtype), ta, tb))
        want = cpu.bmm(a, b, ta, tb)
        assert got.shape == want.shape == (Bt, M, N) and got.dtype == want.dtype
        tol = 2e-3 if dtype == "f16" else 1e-5
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=tol, atol=tol)
        generic, mm4 = seen.count("matmul"), sum(sh.startswith("matmul4") for sh in seen)
        if (be.matmul_kernel == "sg" and not sliced and Bt * M * K * N >= 1 << 18 and K % q == 0
                and (M % 4 == 0 or not ta) and (N % q == 0 or tb)):  # one matmul_sg grid over the batch
            odd16 = dtype == "f16" and N % 2 == 1  # f32 out, then halves
            assert seen[0] == "matmul_sg" and len(seen) == 1 + odd16 and seen[-1].startswith("cast" if odd16 else "m"), seen
        elif M * K * N >= (1 << 18 if be._small_grid else 1 << 24):  # aligned, large: tuned 2-d products on views
            assert sliced or (generic == 0 and sum(sh.startswith("matmul_s") for sh in seen) == Bt), seen
        elif sliced:  # a dispatch over the batch per slice of K (6: matmul.comp)
            assert generic + mm4 == -(-K // 6), seen
        elif (M if ta else K) % 4 == 0 and (K if tb else N) % 4 == 0:  # 4 values a load: matmul4 over the batch
            assert (generic, mm4) == (0, 1), seen
        else:
            assert (generic, mm4) == (1, 0), seen


@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("path", ["onehot", "scan", "scan-spans"])
@pytest.mark.parametrize("B", [57, 56])
def test_index_add_rows_against_cpu(B, path, dtype, monkeypatch):
    """index_add_rows (an embedding's weight gradient): the one-hot product for
    small [B, V], index_add.comp's scan beyond (forced here: on CPU devices always
    for B a multiple of 4 -- four indices a load --, else from 2^22; 2^24 on GPUs),
    in spans of positions
    under a lowered loop limit; against the CPU backend's np.add.at (the same f32
    additions in the same order: equal values), repeated and unused rows, D not in
    whole quads; an index out of range makes every row NaN."""
    import vkgrad.backends.vulkan as vk
    be, cpu = vg.get_backend("vulkan"), vg.get_backend("cpu")
    if path == "onehot" and B % 4 == 0 and be._small_grid:
        pytest.skip("CPU devices scan B a multiple of 4 whatever its size")
    if path != "onehot":
        monkeypatch.setattr(vk, "_ONEHOT_MAX", 0)
        monkeypatch.setattr(vk, "_ONEHOT_MAX_CPU", 0)
    if path == "scan-spans":
        _lower_loop_cap(be, 40, monkeypatch)
    seen = _spy(be, monkeypatch)
    r = np.random.default_rng(12)
    np_dt = np.float32 if dtype == "f32" else np.float16
    V, D = 23, 7
    idx = r.integers(0, V - 3, B).astype(np.int32)  # rows V - 3 .. V - 1 unused
    idx[:9] = 5  # a row gathered nine times
    g = r.uniform(-1, 1, (B, D)).astype(np_dt)
    got = be.to_numpy(be.index_add_rows(be.from_numpy(g, dtype), be.from_numpy(idx, "i32"), V))
    want = cpu.index_add_rows(g, idx, V)
    assert got.shape == want.shape == (V, D) and got.dtype == want.dtype
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=1e-3 if dtype == "f16" else 1e-6,
                               atol=1e-3 if dtype == "f16" else 1e-6)
    scans = sum(s.startswith("index_add") for s in seen)
    span = 40 // (2 + 2 + 3) if B % 4 else 4  # (B a multiple of 4: spans of whole quads of indices)
    assert scans == {"onehot": 0, "scan": 1, "scan-spans": -(-B // span)}[path], seen
    idx[30] = V  # out of range (device indices are not checked)
    got = be.to_numpy(be.index_add_rows(be.from_numpy(g, dtype), be.from_numpy(idx, "i32"), V))
    assert np.isnan(got).all() and np.isnan(cpu.index_add_rows(g, idx, V)).all()


@pytest.mark.parametrize("cap,scans", [(20, 28), (6, 0)])
def test_index_add_rows_under_the_loop_limit(cap, scans, monkeypatch):
    """index_add.comp's spans stay under lavapipe's loop limit whatever B: with B a
    multiple of 4 but a budget of fewer than four positions, one index a load in
    spans of two (four at a time ran [4, 69120] rows past the limit, their ends left
    unwritten: found by the random-op sweep's flip gradient); rows too long for one
    position's turns take the one-hot product.  Against the CPU backend."""
    import vkgrad.backends.vulkan as vk
    be, cpu = vg.get_backend("vulkan"), vg.get_backend("cpu")
    monkeypatch.setattr(vk, "_ONEHOT_MAX", 0)
    monkeypatch.setattr(vk, "_ONEHOT_MAX_CPU", 0)
    _lower_loop_cap(be, cap, monkeypatch)  # D = 7: 2 + 2 + 3 turns a position
    seen = _spy(be, monkeypatch)
    r = np.random.default_rng(13)
    B, V, D = 56, 9, 7
    idx = r.integers(0, V, B).astype(np.int32)
    g = r.uniform(-1, 1, (B, D)).astype(np.float32)
    got = be.to_numpy(be.index_add_rows(be.from_numpy(g, "f32"), be.from_numpy(idx, "i32"), V))
    np.testing.assert_allclose(got, cpu.index_add_rows(g, idx, V), rtol=1e-6, atol=1e-6)
    assert sum(x.startswith("index_add") for x in seen) == scans, seen


@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("N,H", [(64, 128), (3, 8), (5, 16), (7, 6), (2, 12)])
def test_rnn_cell_kernels_against_the_composition(N, H, dtype, monkeypatch):
    """rnn_cell.comp (LSTM and GRU steps, forward and backward, with and without the
    cell's own gradient) against the base class's composition on the same device,
    the inputs read through row views of a sequence's projection (Backend.rows) at
    every step; units not in whole quads (H = 6; f16 H = 12) take the composition."""
    from vkgrad.backends.base import Backend
    be = vg.get_backend("vulkan")
    seen = _spy(be, monkeypatch)
    r = np.random.default_rng(N * H)
    np_dt = np.float16 if dtype == "f16" else np.float32
    up = lambda *shape: be.from_numpy((r.standard_normal(shape) * 2).astype(np_dt), dtype)  # noqa: E731
    fused = H % (8 if dtype == "f16" else 4) == 0
    tol = dict(rtol=2e-2, atol=2e-2) if dtype == "f16" else dict(rtol=2e-5, atol=2e-5)
    T = 3
    seq4, seq3 = up(T, N, 4 * H), up(T, N, 3 * H)
    for t in range(T):
        x4 = be.reshape(be.rows(seq4, t, t + 1), (N, 4 * H))
        x3 = be.reshape(be.rows(seq3, t, t + 1), (N, 3 * H))
        hg4, hg3, c, h, dh, dc = up(N, 4 * H), up(N, 3 * H), up(N, H), up(N, H), up(N, H), up(N, H)
        for name, args in (("lstm_cell", (x4, hg4, c)), ("gru_cell", (x3, hg3, h))):
            kernel = ["rnn_cell_tx" if be._twins else "rnn_cell"]
            seen.clear()
            got = getattr(be, name)(*args)
            assert (seen == kernel) == fused, seen
            want = getattr(Backend, name)(be, *args)
            for a, b in zip(got, want):
                np.testing.assert_allclose(be.to_numpy(a).astype(np.float64), be.to_numpy(b).astype(np.float64),
                                           err_msg=f"{name} t={t}", **tol)
            if name == "lstm_cell":
                pairs = []
                for d in (dc, None):
                    seen.clear()
                    pairs.append((be.lstm_cell_bwd(dh, d, got[2], c, got[1]),))
                    assert (seen == kernel) == fused, seen
                    pairs[-1] += (Backend.lstm_cell_bwd(be, dh, d, want[2], c, want[1]),)
            else:
                seen.clear()
                pairs = [(be.gru_cell_bwd(dh, got[1], hg3, h),)]
                assert (seen == kernel) == fused, seen
                pairs[-1] += (Backend.gru_cell_bwd(be, dh, want[1], hg3, h),)
            for got_b, want_b in pairs:
                for a, b in zip(got_b, want_b):
                    np.testing.assert_allclose(be.to_numpy(a).astype(np.float64),
                                               be.to_numpy(b).astype(np.float64), err_msg=f"{name} backward t={t}",
                                               **tol)


@pytest.mark.parametrize("R,n", [(3, 2), (5, 17), (2, 1000), (1, 2048), (4100, 5), (2, 2049)])
def test_row_sorts_in_shared_memory_match_the_passes(R, n, monkeypatch):
    """GPUs sort rows of up to 2048 in one dispatch (sort_rows_sm.comp: a workgroup
    a row, all stages in shared memory); the positions equal those of the passes
    over memory (sort_stage.comp) -- ties in order, NaN, infinities, -0 -- both ways,
    f32 and f16, more rows than workgroups; longer rows keep the passes."""
    be = vg.get_backend("vulkan")
    r = np.random.default_rng(R * n)
    x = r.integers(-4, 5, (R, n)).astype(np.float32)
    x.flat[::7], x.flat[::11], x.flat[::13] = np.nan, -np.inf, -0.0
    for dtype in ("f32", "f16"):
        h = be.from_numpy(x, dtype)
        for desc in (False, True):
            want = be.to_numpy(be.sort_rows(h, desc)[1]) if be._small_grid else None
            with monkeypatch.context() as m:
                m.setattr(be, "_small_grid", 0)
                seen = _spy(be, m)
                v, i = be.sort_rows(h, desc)
                got = be.to_numpy(i)
                assert ("sort_rows_sm" in seen) == (n <= 2048), seen
            keys = np.where(np.isnan(x), np.inf, x)  # (stable: NaN last ascending, first descending)
            ref = np.lexsort((np.where(np.isnan(x), 0, -x), ~np.isnan(x)), axis=-1) if desc else \
                np.lexsort((keys, np.isnan(x)), axis=-1)
            np.testing.assert_array_equal(got, ref, err_msg=f"{dtype} desc={desc}")
            if want is not None:
                np.testing.assert_array_equal(got, want)
            np.testing.assert_array_equal(be.to_numpy(v).view(np.uint16 if dtype == "f16" else np.uint32),
                                          np.take_along_axis(x.astype(np.float16 if dtype == "f16" else np.float32),
                                                             ref, -1).view(np.uint16 if dtype == "f16" else np.uint32))
