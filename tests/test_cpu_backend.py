"""The CPU backend's performance paths give the plain paths' results: every split
primitive gives one thread's bits on three threads with chunks of one row and
blocks of 5 elements (so the split paths run at these sizes), the products within
their last bits; the thread-count setting, BLAS's thread count around the
products, malloc's setting, and the fused update of small parameters (cached
packing) against per-parameter updates."""
import os
import subprocess
import sys

import numpy as np
import pytest

import vkgrad as vg
from vkgrad.backends import cpu
from vkgrad.ops.conv import _window

BE = vg.get_backend("cpu")
RNG = np.random.default_rng(7)
_C_ROWS = cpu._c_rows


@pytest.fixture
def split():
    """Runs f once on one thread and once split over three, chunks of one row."""
    saved = cpu.get_num_threads(), cpu._PAR_MIN, cpu._BLAS_ONE_THREAD, cpu._BLOCK

    def run(f):
        cpu.set_num_threads(1)
        one = f()
        cpu.set_num_threads(3)
        cpu._PAR_MIN, cpu._BLAS_ONE_THREAD, cpu._BLOCK = 1, 0, 5
        try:
            return one, f()
        finally:
            cpu._PAR_MIN, cpu._BLAS_ONE_THREAD, cpu._BLOCK = saved[1:]
            cpu.set_num_threads(1)
    yield run
    cpu.set_num_threads(saved[0])


@pytest.fixture
def c_and_numpy(monkeypatch):
    """Runs f with the C loops (_cpukern) on two threads, chunks as small as the
    test sets, then with the NumPy path: (C's result, NumPy's).  Skips without the
    loops."""
    if cpu._kern is None:
        pytest.skip("vkgrad's C loops (_cpukern) not built")
    saved = cpu.get_num_threads()

    def run(f):
        cpu.set_num_threads(2)
        try:
            got = f()
            monkeypatch.setattr(cpu, "_kern", None)
            with np.errstate(over="ignore"):  # (NumPy's x * x of 1e30 below a block: inf, as meant)
                return got, f()
        finally:
            monkeypatch.undo()
            cpu.set_num_threads(saved)
    return run


def same(a, b):
    for x, y in zip(a, b) if isinstance(a, tuple) else [(a, b)]:
        assert x.dtype == y.dtype and x.shape == y.shape
        assert np.array_equal(x, y, equal_nan=True), np.nanmax(np.abs(x.astype(np.float64) - y))


def x_nchw(shape, dtype=np.float32, nan=False):
    x = RNG.integers(-3, 4, shape).astype(dtype)  # (ties: the first tap must win on every split)
    if nan:
        x[RNG.random(shape) < 0.05] = np.nan
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
@pytest.mark.parametrize("k,s,p,d", [(3, 1, 1, 1), (2, 2, 0, 1), (3, 2, 2, 2)])
def test_im2col_col2im(split, dtype, k, s, p, d):
    x = x_nchw((5, 3, 9, 8), dtype)
    win = _window("conv2d", vg.tensor(x), (k, k), (s, s), p, (d, d))
    cols = split(lambda: BE.im2col(x, win, 0.5))
    same(*cols)
    g = RNG.standard_normal(cols[0].shape).astype(dtype)
    same(*split(lambda: BE.col2im(g, x.shape, win)))


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
@pytest.mark.parametrize("k,s,p,d,ceil", [((3, 3), (1, 1), 1, (1, 1), False), ((2, 3), (2, 1), 0, (1, 1), True),
                                          ((3, 2), (2, 3), (2, 1), (2, 1), False), ((1, 1), (2, 2), 0, (1, 1), True),
                                          ((5, 5), (1, 1), 4, (1, 2), False)])
def test_windows_in_c_same_bits_as_numpy(c_and_numpy, monkeypatch, dtype, k, s, p, d, ceil):
    """im2col (a copy, pad's bits where a tap is outside; int32 too) and col2im (the
    taps' sums in window order, NaN and -0.0 among them) by the C loops equal the
    NumPy path's, bit for bit, split over threads, for strides, padding, dilation
    and windows past the end (ceil mode)."""
    x = x_nchw((5, 3, 9, 8), np.float32, nan=True)
    x[0, 0, 0, :3] = -0.0
    x = x.astype(dtype) if dtype == np.int32 else x
    win = _window("max_pool2d", vg.tensor(x), k, s, p, d, ceil)
    pad = -np.inf if dtype == np.float32 else 7
    cols_shape = (5 * win.out[0] * win.out[1], 3 * k[0] * k[1])
    g = RNG.standard_normal(cols_shape).astype(np.float32)
    g[::7] = -0.0
    g[3, 1] = np.nan

    def run():
        monkeypatch.setattr(cpu, "_PAR_MIN", 1)
        return BE.im2col(x, win, pad), BE.col2im(g, x.shape, win)
    for a, b in zip(*c_and_numpy(run)):
        assert a.dtype == b.dtype and np.array_equal(a.view(np.uint32), b.view(np.uint32))


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("k", [(2, 2), (3, 3), (2, 3), (1, 1)])
@pytest.mark.parametrize("nan", [False, True])
def test_max_pool_windows(split, dtype, k, nan):
    x = x_nchw((6, 2, 13, 11), dtype, nan)
    win = _window("max_pool2d", vg.tensor(x), k, k, 0, (1, 1))
    y = split(lambda: BE.window_max(x, win))
    same(*y)
    base = vg.backends.base.Backend.window_max(BE, x, win)  # (im2col's rows reduced: the rule)
    same(y[0], base)
    g = RNG.standard_normal(y[0][0].shape).astype(dtype)
    same(*split(lambda: BE.window_scatter(g, y[0][1], x.shape, win)))


@pytest.mark.parametrize("width", [11, 12, 35])
@pytest.mark.parametrize("k", [(2, 2), (3, 2), (3, 3), (1, 1)])
def test_max_pool_in_c_same_bits(c_and_numpy, monkeypatch, k, width):
    """The C loops' max pool and its gradient against the NumPy path, bit for bit,
    and the base class's rule: NaN windows (the first NaN), ties between -0.0 and
    0.0 (the first tap's zero, as the shader), rows and columns past the last
    window (a gradient of +0.0); rows of fewer than 8 windows (the gradient a
    window at a time) and of more (tap by tap); 2 x 2 windows over rows of whole
    windows (width 12: each row's pairs first, then the rows)."""
    x = x_nchw((5, 3, 13, width), np.float32, nan=True)
    x[:, :, 0:4:2, 0:4] = -0.0
    x[:, :, 1:4:2, 0:4] = 0.0
    x[1, 2, :2, :2] = [[0.0, -0.0], [-0.0, 0.0]]
    win = _window("max_pool2d", vg.tensor(x), k, k, 0, (1, 1))
    g = RNG.standard_normal((5, 3) + win.out).astype(np.float32)
    g[0, 0, 0, 0] = np.nan
    _, idx = vg.backends.base.Backend.window_max(BE, x, win)

    def run():
        monkeypatch.setattr(cpu, "_PAR_MIN", 1)
        return BE.window_max(x, win) + (BE.window_scatter(g, idx, x.shape, win),)
    (y, got_idx, back), (want, want_idx, want_back) = c_and_numpy(run)
    for a, b in ((y, want), (back, want_back)):
        assert np.array_equal(a.view(np.uint32), b.view(np.uint32))
    rule, rule_idx = vg.backends.base.Backend.window_max(BE, x, win)  # (its zeros' sign: the reduction's)
    same(y, rule)
    assert np.array_equal(got_idx, want_idx) and np.array_equal(got_idx, rule_idx)
    assert np.isnan(y).any() and np.signbit(y[y == 0]).any()


def test_gelu_in_c_close_to_numpy(c_and_numpy):
    """GELU and its gradient by the C loop (its own vectorised exp) against the NumPy
    path: the same NaN and infinities, values within 1e-6 (A-S erf's own error is
    1.5e-7; the two exps differ in last bits, which 1 + erf's cancellation keeps
    absolute), on blocks split over threads and a shape below a block."""
    x = np.concatenate([RNG.standard_normal(3 * cpu._BLOCK + 7).astype(np.float32) * 4,
                        np.array([0, -0.0, 1e-30, -1e-30, 1e-45, 6, -6, 10, -10, 14, -14, 30, -30, 1e30, -1e30,
                                  np.inf, -np.inf, np.nan], np.float32)])
    g = RNG.standard_normal(x.shape).astype(np.float32)
    got, want = c_and_numpy(lambda: [BE.unary("gelu", x), BE.binary("gelu_bwd", x, g), BE.unary("gelu", x[:50]),
                                     BE.binary("gelu_bwd", x[-50:], g[-50:])])
    for a, b in zip(got, want):
        assert a.dtype == np.float32 and np.array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("cell", ["lstm", "lstm with dc", "gru"])
def test_recurrent_cells_in_c_close_to_numpy(c_and_numpy, cell):
    """The LSTM and GRU cells and their gradients by the C loops (their own tanh and
    exp) against the NumPy path: the same NaN and infinities, values within 1e-6;
    into a row view (``out``, nothing around it written); the base class's
    composition agrees too."""
    N, H, G = 7, 33, 3 if cell == "gru" else 4
    xg, hg = (RNG.standard_normal((N, G * H)).astype(np.float32) * 3 for _ in range(2))
    xg[0, :8] = [np.nan, np.inf, -np.inf, 100.0, -100.0, 1e-20, -0.0, 0.5]
    xg[1, 2 * H:2 * H + 6] = [np.nan, np.inf, -np.inf, 1e-3, -1e-3, 20.0]
    c, dh, dc = (RNG.standard_normal((N, H)).astype(np.float32) for _ in range(3))

    def run():
        rows = np.zeros((N + 2, H), np.float32)
        if cell == "gru":
            _, acts = BE.gru_cell(xg, hg, c, out=rows[1:N + 1])
            return (rows, acts) + tuple(BE.gru_cell_bwd(dh, acts, hg, c))
        _, c2, acts = BE.lstm_cell(xg, hg, c, out=rows[1:N + 1])
        return (rows, c2, acts) + tuple(BE.lstm_cell_bwd(dh, dc if cell == "lstm with dc" else None, acts, c, c2))
    got, want = c_and_numpy(run)
    with np.errstate(over="ignore", invalid="ignore"):
        base = getattr(vg.backends.base.Backend, "gru_cell" if cell == "gru" else "lstm_cell")(BE, xg, hg, c)
    for a, b in zip(got, want):
        assert a.dtype == np.float32 and np.array_equal(np.isnan(a), np.isnan(b))
        assert np.array_equal(np.isinf(a), np.isinf(b))
        # (1e-6: tanh(-9.86) is -1.0 here, 1 ULP above in NumPy, so 1 - g^2 is 0 or 1.2e-7, times dct)
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got[0][1:N + 1], base[0], rtol=1e-6, atol=1e-7)
    assert not got[0][0].any() and not got[0][-1].any()


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH", "RNN_RELU"])
@pytest.mark.parametrize("reverse", [False, True])
def test_whole_recurrence_in_c_matches_the_step_loop(c_and_numpy, monkeypatch, mode, reverse):
    """The whole recurrence by the C loop (vkg_rnn_seq_f32 and its gradient: chunks of
    the batch's rows through all the steps, over C's pool and over Python's) against
    the step loop: with the NumPy cells and with the C cells, within 1e-6 (of the
    largest value: tanh's last bits carried through the steps); outputs,
    last states and every input's gradient, from the outputs' gradient alone, the
    last states' alone and both."""
    if cpu._sgemm is None:
        pytest.skip("oneDNN's sgemm not found: no fused recurrence")
    T, N, H = 5, 13, 6
    G = {"LSTM": 4, "GRU": 3}.get(mode, 1)
    r = np.random.default_rng(53)
    vals = [r.standard_normal(s).astype(np.float32) for s in ((T, N, G * H), (N, H), (N, H), (G * H, H), (G * H,))]
    vals[3] *= 0.5
    projs = [r.standard_normal(s).astype(np.float32) for s in ((T, N, H), (N, H), (N, H))]
    fused = []
    orig = BE.recurrence_fwd

    def spy(*a):
        got = orig(*a)
        fused.append(got is not None)
        return got
    monkeypatch.setattr(BE, "recurrence_fwd", spy)

    def run():
        res = []
        for which in ("out", "states", "both"):
            ts = [vg.tensor(v, requires_grad=True, device="cpu", dtype="f32") for v in vals]
            xg, h0, c0, w, b = ts
            out, h, c = vg.recurrence(mode, xg, h0, c0 if mode == "LSTM" else None, w, b if mode == "GRU" else None,
                                      reverse=reverse)
            ys = ([out] if which != "states" else []) + ([h] + ([c] if c is not None else []) if which != "out" else [])
            ps = ([projs[0]] if which != "states" else []) + (projs[1:2 + (c is not None)] if which != "out" else [])
            sum((y * vg.tensor(p, device="cpu", dtype="f32")).sum() for y, p in zip(ys, ps)).backward()
            res += [out.numpy(), h.numpy()] + [t.grad.numpy() for t in ts if t.grad is not None]
        return res
    monkeypatch.setattr(cpu, "_PAR_MIN", 1)  # (two chunks of the 13 rows)
    for nopool in (False, True):
        monkeypatch.setattr(cpu, "_NOPOOL", nopool)
        fused.clear()
        got, want = c_and_numpy(run)
        assert fused[:3] == [True] * 3 and not any(fused[3:]), fused  # (C's run fused, NumPy's stepped)
        monkeypatch.setattr(BE, "recurrence_fwd", lambda *a: None)
        stepped = run()
        monkeypatch.setattr(BE, "recurrence_fwd", spy)
        assert len(got) == len(want) == len(stepped) == 3 * (2 + 3 + (mode == "LSTM") + (mode == "GRU"))
        for a, b, c in zip(got, want, stepped):  # (tanh's last bits carried through the steps: scaled)
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6 * max(1.0, float(np.abs(b).max())))
            np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-6 * max(1.0, float(np.abs(b).max())))


def _fused_conv_against_composition(split, monkeypatch, op, method, seed, case, grads):
    """``op`` (a vkgrad.nn.functional convolution, case's shapes and arguments) with the
    backend's ``method`` and without it (the composition of recorded ops): output and
    the gradients asked for (x, weight, bias; some frozen) within float32 products'
    rounding, the same bits on one thread and on three, create_graph's gradients
    (through the composition) alike; returns the C loops called."""
    if cpu._kern is None or cpu._sgemm is None:
        pytest.skip("vkgrad's C loops or oneDNN's sgemm not found: no fused convolution")
    r = np.random.default_rng(seed)
    bias = case["w"][:1] if op == "conv2d" else (case["w"][1] * case.get("groups", 1),)
    x, w, b = (r.standard_normal(s).astype(np.float32) for s in (case["x"], case["w"], bias))
    kw = {k: v for k, v in case.items() if k not in ("x", "w")}
    calls, fused_fn = [], getattr(BE, method)
    monkeypatch.setattr(cpu, "_c_rows", lambda fn, *a, **k: calls.append(fn.__name__) or _C_ROWS(fn, *a, **k))

    def run(fused=True, penalty=False):
        monkeypatch.setattr(BE, method, fused_fn if fused else lambda *a, **k: None)
        ts = [vg.tensor(v, requires_grad=not (grads == "no_" + n), device="cpu", dtype="f32")
              for v, n in ((x, "x"), (w, "w"), (b, "bias"))]
        y = getattr(vg.nn.functional, op)(*ts, **kw)
        if penalty:  # the gradient's own graph: by the composition (create_graph), then differentiated
            gx, = vg.autograd.grad(y.square().sum(), [ts[0]], create_graph=True)
            gx.square().sum().backward()
        else:
            p = np.random.default_rng(5).standard_normal(y.shape).astype(np.float32)
            (y * vg.tensor(p, device="cpu", dtype="f32")).sum().backward()
        return [y.numpy()] + [t.grad.numpy() if t.grad is not None else None for t in ts]
    one, three = split(run)
    want = run(fused=False)
    for a, c, z in zip(one, three, want):
        assert (a is None) == (c is None) == (z is None)
        if a is not None:
            same(a, c)
            np.testing.assert_allclose(a, z, rtol=1e-5, atol=1e-5 * float(np.abs(z).max()))
    assert [g is None for g in one[1:]] == [grads == n for n in ("no_x", "no_w", "no_bias")]
    if grads == "all":
        for a, z in zip(run(penalty=True), run(fused=False, penalty=True)):
            np.testing.assert_allclose(a, z, rtol=1e-4, atol=1e-4 * float(np.abs(z).max()))
    return calls


@pytest.mark.parametrize("case", [
    dict(x=(13, 3, 9, 7), w=(5, 3, 3, 3), padding=1),  # (units of several images, a short last one)
    dict(x=(2, 4, 11, 10), w=(3, 4, 2, 3), stride=(2, 1), padding=(0, 2), dilation=(2, 1)),
    dict(x=(3, 2, 8, 8), w=(4, 2, 4, 4), padding="same"),  # (an even kernel: one more after than before)
    dict(x=(1, 1, 5, 5), w=(1, 1, 5, 5)),
    dict(x=(2, 40, 30, 30), w=(6, 40, 3, 3), stride=3, padding=2),  # (one image a unit; strided taps)
    dict(x=(40, 30, 20, 20), w=(4, 30, 3, 3), padding=1),  # (one image a unit, three units a block of dw)
    dict(x=(300, 1, 4, 4), w=(2, 1, 3, 3), padding=1),  # (16 images a unit, two units a block, short ends)
    dict(x=(3, 2, 9, 9), w=(2, 2, 3, 3), padding=2, dilation=2),  # (rows as the input's: taps as shifted planes)
    dict(x=(2, 1, 3, 3), w=(1, 1, 5, 5), padding=2),  # (taps with no row inside the input)
    dict(x=(2, 2, 5, 6), w=(3, 2, 3, 3), padding=(2, 1)),  # (rows as the input's, two more of them)
    dict(x=(5, 6, 7, 7), w=(6, 1, 3, 3), padding=1, groups=6),  # (depthwise: a product a channel)
    dict(x=(3, 6, 9, 8), w=(9, 2, 3, 2), stride=2, padding=(1, 0), groups=3),  # (groups of 2 inputs, 3 outputs)
    dict(x=(2, 8, 6, 6), w=(8, 4, 3, 3), padding="same", dilation=2, groups=2),
])
@pytest.mark.parametrize("grads", ["all", "no_x", "no_w", "no_bias"])
def test_conv2d_in_c_matches_the_composition(split, monkeypatch, case, grads):
    """conv2d by the C loops (vkg_conv_fwd_f32 / _bwd_f32: units of images, their taps
    and products -- one a group -- in a thread's buffer) against the composition
    (im2col rows, linear or broadcast products, transpose): units and dw's blocks
    fixed by the shape, so one thread's bits on three."""
    calls = _fused_conv_against_composition(split, monkeypatch, "conv2d", "conv2d_fwd", 11, case, grads)
    assert "vkg_conv_fwd_f32" in calls and "vkg_conv_bwd_f32" in calls


@pytest.mark.parametrize("case", [
    dict(x=(3, 4, 5, 6), w=(4, 3, 3, 3), stride=2, padding=1, output_padding=1),
    dict(x=(20, 8, 7, 7), w=(8, 6, 4, 4), stride=2, padding=1),  # (a decoder's upsampling)
    dict(x=(2, 2, 4, 3), w=(2, 3, 3, 2), stride=(1, 2), padding=(0, 1), output_padding=(0, 1), dilation=(2, 1)),
    dict(x=(5, 3, 6, 6), w=(3, 2, 3, 3), padding=1),  # (stride 1: the taps as shifted planes)
    dict(x=(2, 4, 5, 6), w=(4, 3, 3, 3), stride=2, padding=1, output_padding=1, groups=2),
    dict(x=(3, 6, 4, 4), w=(6, 1, 3, 3), padding=1, groups=6),  # (depthwise)
])
@pytest.mark.parametrize("grads", ["all", "no_x", "no_w", "no_bias"])
def test_conv_transpose2d_in_c_matches_the_composition(split, monkeypatch, case, grads):
    """conv_transpose2d (one group) by the convolution's C loops -- its forward is
    conv2d's input gradient (vkg_conv_bwd_f32), its input gradient a convolution
    (vkg_conv_fwd_f32), its weight's conv2d's with the two swapped -- against the
    composition (rows times the weight, col2im)."""
    calls = _fused_conv_against_composition(split, monkeypatch, "conv_transpose2d", "conv2d_bwd", 12, case, grads)
    assert "vkg_conv_bwd_f32" in calls and (grads == "no_x") != ("vkg_conv_fwd_f32" in calls)


@pytest.mark.parametrize("shape", [(6, 5, 7, 9), (4, 3, 21), (2, 3, 2, 5, 4), (3, 2, 1, 1), (40, 17, 33, 1)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_over_planes_in_c_matches_the_rows(split, monkeypatch, shape, affine):
    """Train-mode batch_norm of spatial inputs by the C loops over channel planes
    (vkg_bn_planes_f32 / _bwd_f32, no transposes) against the rows' way (transposed
    to [N S, C] and back): output, the running statistics, and the input's, weight's
    and bias's gradients within 1e-6 (sums in double against NumPy's float32 ones);
    channels split over three threads give one thread's bits; create_graph's
    gradients alike (by the composition)."""
    if cpu._kern is None:
        pytest.skip("vkgrad's C loops (_cpukern) not built")
    r = np.random.default_rng(21)
    x = (r.standard_normal(shape) * 3 + 2).astype(np.float32)
    p = r.standard_normal(shape).astype(np.float32)
    calls, planes = [], BE.batchnorm_planes_fwd
    monkeypatch.setattr(cpu, "_c_rows", lambda fn, *a, **k: calls.append(fn.__name__) or _C_ROWS(fn, *a, **k))

    def run(fused=True, penalty=False):
        monkeypatch.setattr(BE, "batchnorm_planes_fwd", planes if fused else lambda *a, **k: None)
        vg.manual_seed(0)
        m = vg.nn.BatchNorm2d(shape[1], affine=affine, device="cpu")  # (any rank: batch_norm reads axis 1)
        xt = vg.tensor(x, requires_grad=True, device="cpu", dtype="f32")
        ps = [xt] + list(m.parameters())
        y = vg.batch_norm(xt, m.running_mean, m.running_var, m.weight, m.bias, True, 0.1, 1e-5)
        if penalty:
            gx, = vg.autograd.grad((y * y * y).sum(), [xt], create_graph=True)
            gx.square().sum().backward()
        else:
            (y * vg.tensor(p, device="cpu", dtype="f32")).sum().backward()
        return [y.numpy(), m.running_mean.numpy(), m.running_var.numpy()] + [t.grad.numpy() for t in ps]
    one, three = split(run)
    assert "vkg_bn_planes_f32" in calls and "vkg_bn_planes_bwd_f32" in calls
    want = run(fused=False)
    assert len(one) == len(want) == 4 + 2 * affine
    for a, c, z in zip(one, three, want):
        same(a, c)
        np.testing.assert_allclose(a, z, rtol=1e-5, atol=1e-6 * max(1.0, float(np.abs(z).max())))
    got, want = run(penalty=True), run(fused=False, penalty=True)
    scale = max(float(np.abs(z).max()) for z in want)  # (float32 second derivatives: the bias's cancel to ~0)
    for a, z in zip(got, want):
        np.testing.assert_allclose(a, z, rtol=1e-4, atol=1e-6 * scale)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("R,D", [(300, 128), (5, 13), (3, 1)])
def test_layer_norm_in_c_close_to_numpy(c_and_numpy, monkeypatch, affine, R, D):
    """Layer norm and its gradient by the C loops (sums in double) against the NumPy
    path (float32 sums): within 1e-6 relative, blocks of rows split over threads,
    rows shorter than the loops' 8 lanes, NaN rows kept NaN."""
    x = RNG.standard_normal((R, D)).astype(np.float32) * 3 + 1
    x[R // 2, 0] = np.nan
    w, b = (RNG.standard_normal(D).astype(np.float32) if affine else None for _ in range(2))
    g = RNG.standard_normal((R, D)).astype(np.float32)

    def run():
        monkeypatch.setattr(cpu, "_BLOCK", 256)  # (several blocks of rows)
        y, mean, rstd = BE.layer_norm(x, w, b, 1e-5)
        return (y, mean, rstd) + BE.layer_norm_bwd(g, x, w, mean, rstd, True)
    for a, b_ in zip(*c_and_numpy(run)):
        assert a.dtype == b_.dtype and np.array_equal(np.isnan(a), np.isnan(b_))
        np.testing.assert_allclose(a, b_, rtol=1e-6, atol=1e-6 * np.nanmax(np.abs(b_)))


@pytest.mark.parametrize("V", [1, 7, 64, 515])
def test_softmax_in_c_close_to_numpy(c_and_numpy, monkeypatch, V):
    """softmax, log-softmax, their gradients and softmax cross-entropy (int32 labels,
    and float32 target rows: one-hot, soft, a masked -inf logit where the target is 0) by the C loops
    against the NumPy path: rows with a NaN or of -inf only come out NaN, values
    within 1e-6; a label out of range takes NumPy's path (its row NaN, the loss NaN)."""
    R = 300
    x = RNG.standard_normal((R, V)).astype(np.float32) * 4
    x[3, 0] = np.nan
    x[5] = -np.inf
    x[7, :] = 80.0
    lab = RNG.integers(0, V, R).astype(np.int32)
    clean = RNG.standard_normal((R, V)).astype(np.float32) * 4
    bad = lab.copy()
    bad[9] = V
    onehot, soft = np.eye(V, dtype=np.float32)[lab], RNG.random((R, V)).astype(np.float32)
    soft[:, 0], masked = 0.0, clean.copy()
    masked[:, 0] = -np.inf

    with np.errstate(invalid="ignore"):  # (the NaN and -inf rows)
        z = x - x.max(1, keepdims=True)
        ly = z - np.log(np.exp(z).sum(1, keepdims=True))
    y, g = np.exp(ly), RNG.standard_normal((R, V)).astype(np.float32)

    def run():
        monkeypatch.setattr(cpu.CPUBackend, "_XENT_BLOCK", 64 * 64)  # (several blocks of rows)
        monkeypatch.setattr(cpu, "_BLOCK", 64 * 64)
        return ((BE.softmax(x), BE.softmax(x, log=True)) + BE.softmax_xent(clean, lab) + BE.softmax_xent(clean, bad)
                + BE.softmax_xent(clean, onehot) + BE.softmax_xent(masked if V > 1 else clean, soft)
                + (BE.softmax_bwd(y, g), BE.softmax_bwd(ly, g, log=True)))
    got, want = c_and_numpy(run)
    for a, b in zip(got, want):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype and np.array_equal(np.isnan(a), np.isnan(b))
        if a is not got[10] and a is not got[11]:  # (the gradients: below)
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    assert np.isnan(got[0][3]).all() and np.isnan(got[0][5]).all() and np.isnan(got[4]) and np.isnan(got[5][9]).all()
    # (one-hot rows: the labels' bits)
    assert np.isfinite(got[8]) and got[6] == got[2] and np.array_equal(got[7], got[3])
    # the gradients against float64, within 1e-6 of each row's sum (C's sums in double; NumPy's float32
    # pairwise sums 10x that over 515 values); the NaN rows NaN
    y64, g64, ok = y.astype(np.float64), g.astype(np.float64), ~np.isnan(y).any(1)
    for k, s, ref in ((10, (g64 * y64).sum(1, keepdims=True), lambda s: y64 * (g64 - s)),
                      (11, g64.sum(1, keepdims=True), lambda s: g64 - y64 * s)):
        for out, tol in ((got[k], 1e-6), (want[k], 1e-5)):
            np.testing.assert_allclose(out[ok], ref(s)[ok], rtol=0, atol=tol * (1 + np.abs(s[ok]).max()))
        assert np.isnan(got[k][~ok]).all()


@pytest.mark.parametrize("op", ["relu", "gelu", "erf", "sigmoid", "exp", "log"])
def test_unary(split, op):
    x = RNG.standard_normal((7, 5, 3)).astype(np.float32)
    same(*split(lambda: BE.unary(op, x)))
    h = x.astype(np.float16) * 6000  # (f16 results overflow to inf: a value, no warning)
    same(*split(lambda: BE.unary("exp", h)))
    same(*split(lambda: BE.unary(op, h)))
    out = np.empty_like(x)
    r = split(lambda: BE.unary(op, x, out=out).copy())
    same(*r)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_sigmoid_one_exp(dtype):
    """The numerator max(e, x > 0) equals the shaders' exp(min(x, 0)): the same bits
    (a NaN's sign apart) on both sides of 0, at +-0, +-inf, tiny and huge values,
    on [64, 512] (a row of zeros to compare with) and on a short row (a scalar)."""
    from vkgrad.backends.cpu import _sigmoid
    for shape in [(64, 512), (3, 5)]:
        x = (RNG.standard_normal(shape) * 12).astype(dtype)
        x.flat[:9] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30, 300, -300]
        with np.errstate(over="ignore"):
            e = np.exp(-np.abs(x))
            want = np.exp(np.minimum(x, 0)) / (1 + e)
        got = _sigmoid(x)
        assert got.dtype == x.dtype
        ok = ~np.isnan(want)
        assert np.array_equal(np.isnan(got), ~ok)
        assert np.array_equal(got[ok].view(f"u{x.itemsize}"), want[ok].view(f"u{x.itemsize}"))


def test_copysign_by_bits():
    """erf's sign by the bits equals np.copysign bit for bit: signed zeros, NaNs of
    both signs, infinities, negative magnitudes, a strided x."""
    from vkgrad.backends.cpu import _copysign32
    p = (RNG.standard_normal(4099) * 3).astype(np.float32)
    x = (RNG.standard_normal(2 * 4099) * 3).astype(np.float32)[::2]
    p[:6] = [np.nan, -np.nan, 0.0, -0.0, np.inf, -np.inf]
    x[3:9] = [0.0, -0.0, np.nan, -np.nan, -np.inf, np.inf]
    want = np.copysign(p, x)
    assert np.array_equal(_copysign32(p.copy(), x).view(np.uint32), want.view(np.uint32))


@pytest.mark.parametrize("op", ["add", "mul", "gelu_bwd", "hypot", "relu_bwd"])
def test_binary(split, op):
    a, b = RNG.standard_normal((2, 9, 4, 3)).astype(np.float32)
    same(*split(lambda: BE.binary(op, a, b)))
    same(*split(lambda: BE.binary(op, a.astype(np.float16), b.astype(np.float16))))
    same(*split(lambda: BE.binary(op, a, b[:1])))  # (broadcast: one piece)


def test_permute(split):
    x = RNG.standard_normal((4, 3, 5, 6)).astype(np.float32)
    for axes in [(0, 3, 1, 2), (3, 2, 1, 0), (1, 0, 2, 3)]:
        r = split(lambda: BE.permute(x, axes))
        same(*r)
        same(r[0], np.transpose(x, axes).copy())


@pytest.mark.parametrize("log", [False, True])
def test_softmax(split, log):
    x = RNG.standard_normal((5, 4, 7)).astype(np.float32)
    x[1, 2] = -np.inf  # (a row of -inf: NaN, no warning)
    r = split(lambda: BE.softmax(x, log))
    same(*r)
    want = np.log(np.exp(x[0]) / np.exp(x[0]).sum(-1, keepdims=True)) if log else \
        np.exp(x[0]) / np.exp(x[0]).sum(-1, keepdims=True)
    np.testing.assert_allclose(r[0][0], want, rtol=1e-5, atol=1e-6)
    assert np.isnan(r[0][1, 2]).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_softmax_xent(split, dtype, monkeypatch):
    monkeypatch.setattr(cpu.CPUBackend, "_XENT_BLOCK", 12)  # (blocks of 2 rows, on one thread and on three)
    logits = RNG.standard_normal((9, 6)).astype(dtype)
    labels = RNG.integers(0, 6, 9).astype(np.int32)
    r = split(lambda: BE.softmax_xent(logits, labels))
    same(r[0], r[1])
    if dtype == np.float32 and "vkg_xent_blocks_f32" in cpu._ROWS_LOOPS:
        # int32 labels: the blocks over _cpukern's pool, as its loop run chunk by chunk here
        monkeypatch.setattr(cpu, "_ROWS_LOOPS", {k: v for k, v in cpu._ROWS_LOOPS.items()
                                                 if k != "vkg_xent_blocks_f32"})
        same(r[1], split(lambda: BE.softmax_xent(logits, labels))[1])
        monkeypatch.undo()
        monkeypatch.setattr(cpu.CPUBackend, "_XENT_BLOCK", 12)
    c = logits.astype(np.float64)
    ls = c - c.max(1, keepdims=True)
    ls -= np.log(np.exp(ls).sum(1, keepdims=True))
    tol = 1e-6 if dtype == np.float32 else 2e-3
    np.testing.assert_allclose(r[0][0], -ls[np.arange(9), labels].mean(), rtol=tol)
    onehot = np.eye(6)[labels]
    np.testing.assert_allclose(r[0][1], (np.exp(ls) - onehot) / 9, rtol=tol, atol=tol)
    # dense targets with a masked (-inf) logit where the target is 0; a label out of range: a NaN row
    dense = RNG.random((9, 6)).astype(dtype)
    dense[0, 1], logits[0, 1] = 0, -np.inf
    same(*split(lambda: BE.softmax_xent(logits, dense)))
    assert np.isfinite(BE.softmax_xent(logits, dense)[0])
    if dtype == np.float32 and "vkg_xent_blocks_f32" in cpu._ROWS_LOOPS:  # (float32 targets: the C pool too)
        monkeypatch.setattr(cpu, "_ROWS_LOOPS", {k: v for k, v in cpu._ROWS_LOOPS.items()
                                                 if k != "vkg_xent_blocks_f32"})
        same(split(lambda: BE.softmax_xent(logits, dense))[1], split(lambda: BE.softmax_xent(logits, dense))[1])
        monkeypatch.setattr(cpu, "_ROWS_LOOPS", cpu._rows_loops())
    labels[3] = 6
    loss, grad = BE.softmax_xent(logits, labels)
    assert np.isnan(loss) and np.isnan(grad[3]).all() and not np.isnan(grad[4]).any()


@pytest.mark.parametrize("M,N,K", [(9, 4, 5), (4, 9, 5), (1, 7, 3), (6, 1, 8)])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True)])
def test_products(split, M, N, K, ta, tb):
    a = RNG.standard_normal((K, M) if ta else (M, K)).astype(np.float32)
    b = RNG.standard_normal((N, K) if tb else (K, N)).astype(np.float32)
    r = split(lambda: BE.matmul(a, b, ta, tb))
    want = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b)
    for got in r:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    x, y = RNG.standard_normal((2, 5, M, K)).astype(np.float32)[0], RNG.standard_normal((5, K, N)).astype(np.float32)
    for got in split(lambda: BE.bmm(x, y)):
        np.testing.assert_allclose(got, x.astype(np.float64) @ y, rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(cpu._sgemm is None, reason="oneDNN (libdnnl) not found: products by NumPy only")
@pytest.mark.parametrize("M,N,K", [(33, 70, 9), (70, 33, 130), (2, 5, 3)])
def test_sgemm_products(monkeypatch, M, N, K):
    """dnnl_sgemm's products against float64 for every layout _mm takes (row- and
    column-major, with leading dimensions wider than the rows: slices), into an
    output of NaNs (beta 0: never read) and into a slice of one; NumPy's where the
    strides do not fit (every other column) or the dtype is not f32; the caller's
    OpenMP thread count as it was."""
    big = 2 * max(M, N, K) + 5
    base, bb = RNG.standard_normal((2, big, big)).astype(np.float32)
    lefts = [base[:M, :K], base[:K, :M].T, base[1:M + 1, 2:K + 2], base[::2, ::2][:M, :K]]
    rights = [bb[:K, :N], bb[:N, :K].T, bb[3:K + 3, 1:N + 1], bb[::2, ::2][:K, :N]]
    omp_before = cpu._sgemm.max_threads()
    cpu._sgemm.set_threads(3)
    try:
        for a in lefts:
            for b in rights:
                assert a.shape == (M, K) and b.shape == (K, N)
                want = a.astype(np.float64) @ b
                out = np.full((M, N), np.nan, np.float32)
                np.testing.assert_allclose(cpu._mm(a, b, out), want, rtol=1e-5, atol=1e-4)
                wide = np.full((M, N + 4), np.nan, np.float32)
                cpu._mm(a, b, wide[:, 2:N + 2])
                np.testing.assert_allclose(wide[:, 2:N + 2], want, rtol=1e-5, atol=1e-4)
                assert np.isnan(wide[:, :2]).all() and np.isnan(wide[:, N + 2:]).all()
                assert cpu._sgemm.max_threads() == 3
        assert cpu._layout(lefts[3]) == (None, 0)
        d = cpu._mm(lefts[0].astype(np.float64), rights[1].astype(np.float64), np.empty((M, N)))
        np.testing.assert_allclose(d, lefts[0].astype(np.float64) @ rights[1], rtol=1e-12)
    finally:
        cpu._sgemm.set_threads(omp_before)


@pytest.mark.skipif(cpu._sgemm is None, reason="oneDNN (libdnnl) not found: products by NumPy only")
def test_sgemm_and_numpy_products_agree(monkeypatch):
    """The MLP's products (with bias and relu, split over two threads) by oneDNN and
    by NumPy's BLAS, and a training step's parameters either way."""
    saved = cpu.get_num_threads()
    cpu.set_num_threads(2)
    try:
        x = RNG.standard_normal((256, 784)).astype(np.float32)
        w = RNG.standard_normal((1024, 784)).astype(np.float32) * 0.05
        bias = RNG.standard_normal(1024).astype(np.float32)
        fused = BE.matmul(x, w, False, True, bias=bias, act="relu")
        dw = BE.matmul(fused, x, True, False)
        monkeypatch.setattr(cpu, "_sgemm", None)
        np.testing.assert_allclose(fused, BE.matmul(x, w, False, True, bias=bias, act="relu"), rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(dw, BE.matmul(fused, x, True, False), rtol=1e-5, atol=1e-3)
    finally:
        cpu.set_num_threads(saved)


def test_addresses_of_arrays_for_the_c_calls():
    """_addr (the buffer protocol's address where it applies) gives each array's first
    element: contiguous, row slices, transposed and strided views, read-only, empty."""
    a = np.arange(60, dtype=np.float32).reshape(6, 10)
    ro = a.copy()
    ro.flags.writeable = False
    for x in (a, a[2:5], a[:, 3:], a.T, a[::2, 1::3], ro, ro[1:], np.empty((0, 4), np.float32), a[0, 0:0]):
        assert cpu._addr(x) == x.__array_interface__["data"][0]


_POOLED = pytest.mark.skipif(cpu._sgemm is None or cpu._kern is None,
                             reason="oneDNN or the C loops (_cpukern) missing: no pooled products")


@_POOLED
@pytest.mark.parametrize("threads", [2, 5])
def test_pooled_products(threads):
    """vkg_sgemm_par's products (chunks of the rows or the columns, or of a batch's
    items, on _cpukern's spinning threads, more chunks than cores too) against
    float64 for every layout
    (row- and column-major, slices with leading dimensions wider than their rows),
    into an output of NaNs and into a slice of one (nothing outside it written),
    with the bias and ReLU on each chunk in C (NumPy's epilogue's bits, a NaN bias
    too) and through matmul; the caller's OpenMP thread count kept."""
    saved, omp_before = cpu.get_num_threads(), cpu._sgemm.max_threads()
    cpu.set_num_threads(threads)
    cpu._sgemm.set_threads(3)
    try:
        for M, N, K in ((130, 70, 150), (37, 300, 120), (301, 29, 257), (8, 1000, 200)):
            big = max(M, N, K) + 7
            base, bb = RNG.standard_normal((2, big, big)).astype(np.float32)
            lefts = [base[:M, :K], base[:K, :M].T, base[1:M + 1, 2:K + 2]]
            rights = [bb[:K, :N], bb[:N, :K].T, bb[3:K + 3, 1:N + 1]]
            for a in lefts:
                for b in rights:
                    want = a.astype(np.float64) @ b
                    wide = np.full((M, N + 5), np.nan, np.float32)
                    assert cpu._pooled_product(a, b, wide[:, 2:N + 2], threads), (M, N, K)
                    np.testing.assert_allclose(wide[:, 2:N + 2], want, rtol=1e-5, atol=1e-4)
                    assert np.isnan(wide[:, :2]).all() and np.isnan(wide[:, N + 2:]).all()
                    assert cpu._sgemm.max_threads() == 3
                    # the bias and ReLU on each chunk in C: NumPy's epilogue's bits on the same product
                    bias = RNG.standard_normal(N).astype(np.float32)
                    bias[N // 2] = np.nan
                    for relu in (False, True):
                        fused = np.full_like(wide, np.nan)
                        assert cpu._pooled_product(a, b, fused[:, 2:N + 2], threads, bias, relu)
                        eager = wide[:, 2:N + 2] + bias
                        eager = cpu._relu(eager, out=eager) if relu else eager
                        assert np.array_equal(fused[:, 2:N + 2].view(np.uint32), eager.view(np.uint32))
                        assert np.isnan(fused[:, :2]).all() and np.isnan(fused[:, N + 2:]).all()
                    assert cpu._pooled_product(a, b, fused[:, 2:N + 2], threads, None, True)  # (ReLU alone)
                    assert np.array_equal(fused[:, 2:N + 2], np.maximum(wide[:, 2:N + 2], 0))
            bias = RNG.standard_normal(N).astype(np.float32)
            np.testing.assert_allclose(BE.matmul(lefts[0], rights[1], bias=bias, act="relu"),
                                       np.maximum(lefts[0].astype(np.float64) @ rights[1] + bias, 0),
                                       rtol=1e-5, atol=1e-4)
        assert not cpu._pooled_product(base[::2, ::2][:8, :8], bb[:8, :8], np.empty((8, 8), np.float32), 2)
        # batches: items by their strides (transposed items; one right operand for all: stride 0)
        for B, M, N, K in ((64, 64, 64, 32), (7, 130, 90, 70), (3, 300, 20, 400)):
            a = RNG.standard_normal((B, M, K)).astype(np.float32)
            b = RNG.standard_normal((B, K, N)).astype(np.float32)
            a_t = np.ascontiguousarray(a.transpose(0, 2, 1)).transpose(0, 2, 1)
            for x, y in ((a, b), (a_t, b), (a, np.broadcast_to(b[:1], b.shape))):
                out = np.full((B, M, N), np.nan, np.float32)
                assert cpu._pooled_product(x, y, out, threads)
                np.testing.assert_allclose(out, x.astype(np.float64) @ y, rtol=1e-5, atol=1e-4)
                bias, fused = RNG.standard_normal(N).astype(np.float32), np.empty_like(out)
                assert cpu._pooled_product(x, y, fused, threads, bias, True)  # (every item's epilogue)
                assert np.array_equal(fused, np.maximum(out + bias, 0))
            np.testing.assert_allclose(BE.bmm(a, b.transpose(0, 2, 1).copy(), False, True),
                                       a.astype(np.float64) @ b, rtol=1e-5, atol=1e-4)
    finally:
        cpu.set_num_threads(saved)
        cpu._sgemm.set_threads(omp_before)


@_POOLED
def test_pooled_products_from_several_threads_and_a_forked_child():
    """Products from four Python threads at once (one job holds the pool, the others
    run theirs whole) are all right, and so are a forked child's, whose pool starts
    afresh (the parent's threads do not exist there)."""
    import threading
    saved = cpu.get_num_threads()
    cpu.set_num_threads(2)
    try:
        a = RNG.standard_normal((4, 96, 200)).astype(np.float32)
        b = RNG.standard_normal((4, 200, 160)).astype(np.float32)
        bad = []

        def work(i):
            for _ in range(30):
                out = np.empty((96, 160), np.float32)
                if not cpu._pooled_product(a[i], b[i], out, 2) or not np.allclose(out, a[i] @ b[i], atol=1e-3):
                    bad.append(i)
        ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert not bad
        if not hasattr(os, "fork"):
            return
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: a pooled product, its result's check through the pipe
            ok = False
            try:
                out = np.empty((96, 160), np.float32)
                ok = cpu._pooled_product(a[0], b[0], out, 2) and np.allclose(out, a[0] @ b[0], atol=1e-3)
            finally:
                os.write(w, b"1" if ok else b"0")
                os._exit(0)
        os.close(w)
        got = os.read(r, 1)
        os.close(r)
        os.waitpid(pid, 0)
        assert got == b"1"
    finally:
        cpu.set_num_threads(saved)


@_POOLED
def test_row_loops_split_over_the_c_pool(split, monkeypatch):
    """Each C loop split into chunks of rows runs on _cpukern's pool (vkg_rows_par:
    its arguments as words, floats by their bits, addresses moved to each chunk's
    rows) with the bits of one thread's whole run -- from four Python threads at
    once too (one job holds the pool, the others run theirs whole); a loop the pool
    does not know (-1) is refused."""
    import threading
    import time
    calls, orig = [], cpu._kern.vkg_rows_par

    def spy(loop, *rest):
        calls.append(loop)
        return orig(loop, *rest)
    monkeypatch.setattr(cpu._kern, "vkg_rows_par", spy)
    x = x_nchw((6, 5, 8, 8))
    conv = _window("conv2d", vg.tensor(x), (3, 3), (1, 1), 1, (1, 1))
    pool = _window("max_pool2d", vg.tensor(x), (2, 2), (2, 2), 0, (1, 1))
    rows = RNG.standard_normal((37, 50)).astype(np.float32)
    w, b = RNG.standard_normal((2, 50)).astype(np.float32)
    cols = RNG.standard_normal((6 * 64, 45)).astype(np.float32)
    ym, im = BE.window_max(x, pool)
    p0 = RNG.standard_normal((4, cpu.CPUBackend._NATIVE_MIN + 17)).astype(np.float32)
    p0[3] = np.abs(p0[3])

    def adam():
        p, g, m, v = p0.copy()
        BE.adam_(p, g, m, v, 1e-2, 0.9, 0.999, 1e-8, 0.01, 3, True)
        return p, m, v
    ops = {"im2col": lambda: BE.im2col(x, conv, -1.0), "col2im": lambda: BE.col2im(cols, x.shape, conv),
           "maxpool": lambda: BE.window_max(x, pool), "maxpool_bwd": lambda: BE.window_scatter(ym, im, x.shape, pool),
           "softmax": lambda: BE.softmax(rows, True), "layer_norm": lambda: BE.layer_norm(rows, w, b, 1e-5),
           "layer_norm_bwd": lambda: BE.layer_norm_bwd(rows, rows * 0.5, w, *BE.layer_norm(rows, w, b, 1e-5)[1:],
                                                       True),
           "adam": adam}
    for name, f in ops.items():
        calls.clear()
        one, three = split(f)
        assert calls, name
        for a, c in zip(one if isinstance(one, tuple) else [one], three if isinstance(three, tuple) else [three]):
            np.testing.assert_array_equal(np.asarray(a).view(np.uint32), np.asarray(c).view(np.uint32), name)
    saved = cpu.get_num_threads(), cpu._PAR_MIN
    cpu.set_num_threads(2)
    cpu._PAR_MIN = 1
    bad, want = [], BE.softmax(rows)
    try:
        def work():
            for i in range(50):
                if not np.array_equal(BE.softmax(rows), want):
                    bad.append(1)
                if i % 10 == 9:  # (a pause past the workers' spin: jobs that find them asleep)
                    time.sleep(0.001)
        ts = [threading.Thread(target=work) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    finally:
        cpu.set_num_threads(saved[0])
        cpu._PAR_MIN = saved[1]
    assert not bad
    words = (cpu.ctypes.c_int64 * 1)(0)
    assert orig(-1, 2, 4, 1, 1, words, words) == -1 and orig(len(cpu._ROWS_LOOPS), 2, 4, 1, 1, words, words) == -1


def test_relu_and_gelu_by_c_loops_over_whole_arrays(split, monkeypatch):
    """ReLU and its gradient by _cpukern's loops over whole float32 arrays (split over
    its pool) with NumPy's bits: maximum(x, 0) (-0 to +0, NaN payloads kept) and
    PyTorch's threshold_backward, g where x is not <= 0 (a NaN x too), else +0; in
    place too (out = x); GELU and its gradient within 1e-6 of the NumPy path, a
    GELU into its own input left to that path
    (its loop's pointers are restrict); small arrays and other dtypes NumPy's; add
    over whole arrays with NumPy's bits, in place into either input."""
    if cpu._kern is None:
        pytest.skip("vkgrad's C loops (_cpukern) not built")
    calls, orig = [], cpu._c_rows

    def spy(fn, *rest, **kw):
        calls.append(fn.__name__)
        return orig(fn, *rest, **kw)
    monkeypatch.setattr(cpu, "_c_rows", spy)
    x = RNG.standard_normal((5, 7, 1001)).astype(np.float32)
    g = RNG.standard_normal(x.shape).astype(np.float32)
    x.flat[::7] = -0.0
    x.view(np.uint32).flat[::11] = 0xffc01234
    x.flat[::13] = -np.inf
    g.flat[::5] = np.nan
    one, three = split(lambda: (BE.unary("relu", x), BE.binary("relu_bwd", x, g)))
    for got in (one, three):
        np.testing.assert_array_equal(got[0].view(np.uint32), np.maximum(x, 0).view(np.uint32))
        np.testing.assert_array_equal(got[1].view(np.uint32), np.where(x <= 0, np.float32(0), g).view(np.uint32))
    assert calls.count("vkg_relu_f32") == 2 and calls.count("vkg_relu_bwd_f32") == 2
    y = x.copy()
    assert BE.unary("relu", y, out=y) is y and np.array_equal(y.view(np.uint32), np.maximum(x, 0).view(np.uint32))
    # add (a residual's, a gradient's sum): NumPy's bits, -0 + -0, infinities, NaN payloads; into either input
    one, three = split(lambda: BE.binary("add", x, g))
    for got in (one, three):
        np.testing.assert_array_equal(got.view(np.uint32), (x + g).view(np.uint32))
    assert calls.count("vkg_add_f32") == 2
    for into in (0, 1):
        a, b = x.copy(), g.copy()
        y = BE.binary("add", a, b, out=(a, b)[into])
        assert y is (a, b)[into] and np.array_equal(y.view(np.uint32), (x + g).view(np.uint32))
    xg = RNG.uniform(-6, 6, x.shape).astype(np.float32)
    got = BE.unary("gelu", xg)
    assert calls[-1] == "vkg_gelu_f32"
    calls.clear()
    z = xg.copy()
    BE.unary("gelu", z, out=z)
    assert not calls  # (_map's blocks, each a fresh array)
    np.testing.assert_array_equal(z, got)
    monkeypatch.setattr(cpu.CPUBackend, "_ELEMENT_LOOPS", {})
    np.testing.assert_allclose(got, BE.unary("gelu", xg), rtol=1e-6, atol=1e-6)
    small = x[0, 0, :100].copy()
    calls.clear()
    BE.unary("relu", small)
    assert not calls


def test_permutes_that_transpose_matrices_run_by_tiles(split, monkeypatch):
    """A permute that moves B matrices [R, C] to [C, R] (runs of adjacent axes merged,
    axes of length 1 left out: a convolution's rows to channels first and back, a
    single 2-D transpose) runs _cpukern's tiled transpose, its batch split over the
    pool; the bits as NumPy's (NaN payloads, int32 too), edges of partial tiles
    included; other permutes NumPy's."""
    assert cpu._batched_transpose((64, 28, 28, 16), (0, 3, 1, 2)) == (64, 784, 16)
    assert cpu._batched_transpose((64, 16, 28, 28), (0, 2, 3, 1)) == (64, 16, 784)
    assert cpu._batched_transpose((5, 7), (1, 0)) == (1, 5, 7)
    assert cpu._batched_transpose((2, 1, 3), (2, 1, 0)) == (1, 2, 3)
    assert cpu._batched_transpose((16, 64, 4, 32), (0, 2, 1, 3)) is None  # (the inner axis stays)
    assert cpu._batched_transpose((2, 3, 4), (1, 0, 2)) is None and cpu._batched_transpose((4, 5), (0, 1)) is None
    if cpu._kern is None:
        pytest.skip("vkgrad's C loops (_cpukern) not built")
    calls, orig = [], cpu._kern.vkg_transpose_32

    def spy(*args):
        calls.append(args[2:])
        return orig(*args)
    monkeypatch.setattr(cpu._kern, "vkg_transpose_32", spy)
    for shape, axes, dtype in (((6, 9, 7, 17), (0, 3, 1, 2), np.float32), ((5, 37, 33), (0, 2, 1), np.int32),
                               ((70, 65), (1, 0), np.float32), ((3, 1, 40, 1, 50), (1, 0, 4, 3, 2), np.float32)):
        x = RNG.standard_normal(shape).astype(dtype) if dtype == np.float32 else RNG.integers(-9, 9, shape, dtype)
        if dtype == np.float32:
            x.view(np.uint32).flat[::13] = 0x7fc01234  # (a NaN payload: its bits kept)
        calls.clear()
        one, three = split(lambda: BE.permute(x, axes))
        want = np.ascontiguousarray(np.transpose(x, axes))
        for got in (one, three):
            assert got.shape == want.shape and np.array_equal(got.view(np.uint32), want.view(np.uint32))
        assert calls, (shape, axes)
    calls.clear()
    np.testing.assert_array_equal(BE.permute(x[:, :, :, :, :8], (4, 2, 0, 1, 3)),
                                  np.transpose(x[:, :, :, :, :8], (4, 2, 0, 1, 3)))
    assert not calls  # (not a transpose of matrices, nor contiguous: NumPy's)


@pytest.mark.skipif(cpu._blas is None, reason="NumPy's BLAS is not the OpenBLAS its wheels bundle")
def test_blas_threads_restored(split):
    before = cpu._blas[1]()
    a = RNG.standard_normal((64, 32)).astype(np.float32)
    split(lambda: BE.matmul(a, a, False, True))
    assert cpu._blas[1]() == before and cpu._blas_depth[0] == 0


@pytest.mark.parametrize("form", ["adam", "adamax", "nadam", "momentum"])
def test_optimizer_updates(split, form):
    n = 5 * cpu.CPUBackend._CHUNK + 17  # (several chunks, the last short)
    state = RNG.standard_normal((4, n)).astype(np.float32)
    state[3] = np.abs(state[3])

    def adam():
        p, g, m, v = state.copy()
        BE.adam_(p, g, m, v, 1e-2, 0.9, 0.999, 1e-8, 0.01, 3, True, form=form)
        return p, m, v
    same(*split(adam))

    def sgd():
        p, g, b, _ = state.copy()
        BE.sgd_(p, g, b, 0.1, 0.9, 0.0, True, 1e-4, False)
        return p, b
    same(*split(sgd))


@pytest.mark.parametrize("n", [1, 17, 3 * cpu.CPUBackend._CHUNK + 5])
@pytest.mark.parametrize("wd,decoupled", [(0.0, False), (0.01, False), (0.01, True)])
def test_fused_adam_same_bits_as_numpy(c_and_numpy, monkeypatch, n, wd, decoupled):
    """The C loop of the Adam update (one pass, two threads) gives the NumPy path's
    bits, NaN and infinity in the gradient and a denormal moment included, for
    plain Adam, L2 weight decay and AdamW, over steps."""
    state = RNG.standard_normal((4, n)).astype(np.float32)
    state[3] = np.abs(state[3])
    state[1, :3] = [np.nan, np.inf, -np.inf][:n]
    state[3, -1] = 1e-40

    def run():
        monkeypatch.setattr(cpu.CPUBackend, "_NATIVE_MIN", 1)  # (the C loop at every size here)
        p, g, m, v = state.copy()
        for step in (1, 2, 7):
            BE.adam_(p, g, m, v, 1e-2, 0.9, 0.999, 1e-8, wd, step, decoupled)
        return p, m, v
    for a, b in zip(*c_and_numpy(run)):
        assert np.array_equal(a, b, equal_nan=True)


def test_training_steps_equal_across_thread_counts(split):
    """A CNN's steps (convolution, max pool, softmax cross-entropy, Adam) end at
    the same parameters on one and three threads (the products within 1e-6)."""
    from vkgrad import nn
    x = RNG.standard_normal((6, 1, 8, 8)).astype(np.float32)
    y = RNG.integers(0, 3, 6).astype(np.int32)

    def train():
        vg.set_default_device("cpu")  # (the fixture resets it)
        vg.manual_seed(1)
        model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Linear(64, 3))
        opt = vg.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(3):
            opt.zero_grad()
            vg.nn.functional.cross_entropy(model(vg.tensor(x, device="cpu")), vg.tensor(y, device="cpu")).backward()
            opt.step()
        return [p.numpy() for p in model.parameters()]
    one, three = split(train)
    for a, b in zip(one, three):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_set_num_threads():
    saved = vg.get_num_threads()
    try:
        vg.set_num_threads(2)
        assert vg.get_num_threads() == 2 == cpu.get_num_threads()
        for bad in (0, -1, 1.5, True, "2"):
            with pytest.raises(ValueError, match="set_num_threads: expected a positive int"):
                vg.set_num_threads(bad)
    finally:
        vg.set_num_threads(saved)


def test_default_threads_from_the_environment():
    code = "import vkgrad as vg; print(vg.get_num_threads())"
    env = dict(os.environ, VKGRAD_NUM_THREADS="3")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "3"
    env["VKGRAD_NUM_THREADS"] = "zero"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "VKGRAD_NUM_THREADS" in out.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_memory_kept_unless_asked_not_to():
    code = "import vkgrad as vg; print(vg.get_backend('cpu').malloc_tuned)"
    for extra, want in [({}, "True"), ({"VKGRAD_CPU_MALLOC": "0"}, "False"),
                        ({"MALLOC_TRIM_THRESHOLD_": "1000000"}, "False")]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "VKGRAD_CPU_MALLOC"))}
        out = subprocess.run([sys.executable, "-c", code], env=dict(env, **extra), capture_output=True, text=True,
                             check=True)
        assert out.stdout.strip() == want, extra


def test_fused_small_updates_equal_per_parameter_updates():
    """adam_multi_ packs the small parameters once (cached by their arrays): equal,
    bit for bit, to one adam_ each, over steps, after a state array is replaced
    (load_state_dict does) and with a non-contiguous parameter (not packed)."""
    shapes = [(64, 4), (64,), (3, 32), (3,), (5, 7)]
    start = [[RNG.standard_normal(s).astype(np.float32) for _ in range(4)] for s in shapes]
    for it in start:
        it[3] = np.abs(it[3])  # (v >= 0)

    def run(fused):
        items = [[a.copy() for a in it] for it in start]
        items[4][0] = np.asfortranarray(items[4][0])  # (not C-contiguous)
        for step in (1, 2, 3):
            if step == 3:
                items[1][2] = items[1][2].copy()  # a new m array for one parameter
            if fused:
                BE.adam_multi_([tuple(it) for it in items], 1e-2, 0.9, 0.999, 1e-8, 0.0, step, False)
            else:
                for it in items:
                    BE.adam_(*it, 1e-2, 0.9, 0.999, 1e-8, 0.0, step, False)
        return [a for it in items for a in it]
    for a, b in zip(run(True), run(False)):
        assert np.isfinite(a).all() and np.array_equal(a, b)
    # the packed path ran (4 contiguous parameters) and missed the cache after the replacement
    assert len(BE._pack_cache) >= 1


def test_moments_made_together_update_in_place():
    """full_many lays small buffers out back to back in one allocation (a large one
    apart): adam_multi_ then updates those moments in place, not packed -- equal,
    bit for bit, to one adam_ each; Adam's state on the CPU is laid out so."""
    shapes = [(64, 4), (64,), (3, 32), (3,), (300, 300)]
    start = [[RNG.standard_normal(s).astype(np.float32) for _ in range(4)] for s in shapes]

    def run(fused):
        ps = [it[0].copy() for it in start]
        ms, vs = BE.full_many(shapes, 0.5, "f32"), BE.full_many(shapes, 0.25, "f32")
        for step in (1, 2, 3):
            items = [(p, it[1] * step, m, v) for p, it, m, v in zip(ps, start, ms, vs)]
            if fused:
                BE.adam_multi_(items, 1e-2, 0.9, 0.999, 1e-8, 0.0, step, False)
            else:
                for it in items:
                    BE.adam_(*it, 1e-2, 0.9, 0.999, 1e-8, 0.0, step, False)
        return items
    fused, plain = run(True), run(False)
    for a, b in zip(fused, plain):
        for x, y in zip(a, b):
            assert np.isfinite(x).all() and np.array_equal(x, y)
    m = [it[2] for it in fused]
    assert cpu._consecutive(m[:4]) is not None and cpu._consecutive(m) is None  # (the large one apart)
    assert all(x.base is m[0].base for x in m[1:4]) and m[4].base is not m[0].base
    small, large, flats, bufs, parts = BE._packed(fused, "adam")
    assert small == [0, 1, 2, 3] and large == [4] and flats[2] is None and flats[3] is None
    assert np.shares_memory(bufs[2], m[0]) and flats[0] is not None  # (the parameters: packed)
    model = vg.nn.Sequential(vg.nn.Linear(4, 8, device="cpu"), vg.nn.Linear(8, 3, device="cpu"))
    opt = vg.optim.Adam(model.parameters())
    vg.backward(model(vg.tensor(np.ones((2, 4)), device="cpu")).sum())
    opt.step(vg.backward(model(vg.tensor(np.ones((2, 4)), device="cpu")).sum()))
    state = [opt.state[id(p)] for p in model.parameters()]
    assert cpu._consecutive([st[0] for st in state]) is not None
    assert cpu._consecutive([st[1] for st in state]) is not None
    # a resumed optimizer's moments are laid out so too, and it goes on as the original
    resumed = vg.optim.Adam(model.parameters())
    resumed.load_state_dict(opt.state_dict())
    for which in (0, 1):
        moments = [resumed.state[id(p)][which] for p in model.parameters()]
        assert cpu._consecutive(moments) is not None
        assert all(np.array_equal(a, b[which]) for a, b in zip(moments, state))
    saved = [p.numpy() for p in model.parameters()]
    runs = []
    for o in (opt, resumed):
        for p, w in zip(model.parameters(), saved):
            p.handle[...] = w
        for _ in range(2):
            o.step(vg.backward((model(vg.tensor(np.ones((2, 4)), device="cpu")) ** 2).sum()))
        runs.append([p.numpy() for p in model.parameters()])
    assert all(np.array_equal(a, b) for a, b in zip(*runs))


@pytest.mark.parametrize("V,B", [(512, 1024), (10, 1024), (2, 1024), (1, 3), (5, 1), (4, 0)])
def test_index_add_in_position_order(V, B):
    """The ranked index add (an embedding's gradient) equals np.add.at bit for bit --
    sums in position order, -0.0 and NaN included -- whether it runs by ranks or
    falls back (heavy repeats); index_add_rows in f32 (the C loop) / f16 / f64 too."""
    g = RNG.standard_normal((B, 16)).astype(np.float32)
    idx = RNG.integers(0, V, B).astype(np.int32)
    if B > 9:
        g[3], g[9, 5] = -0.0, np.nan
    want, got = np.zeros((V, 16), np.float32), np.zeros((V, 16), np.float32)
    np.add.at(want, idx, g)
    cpu._index_add(got, idx, g)
    assert np.array_equal(got, want, equal_nan=True) and np.array_equal(np.signbit(got), np.signbit(want))
    for dt in (np.float32, np.float16, np.float64):
        acc = np.zeros((V, 16), np.float64 if dt == np.float64 else np.float32)
        np.add.at(acc, idx, g.astype(dt))
        out = BE.index_add_rows(g.astype(dt), idx, V)
        assert out.dtype == dt and np.array_equal(out, acc.astype(dt), equal_nan=True)
        assert np.array_equal(np.signbit(out), np.signbit(acc.astype(dt)))


@pytest.mark.parametrize("shape", [(1024, 512), (3, 300), (257, 1), (40, 700)])
def test_column_sums_in_c(split, monkeypatch, shape):
    """float32 sums over the rows of a wider array (a bias's gradient) by the C loop
    from 2^17 elements (NumPy's below): each column in double in row order, so within
    an f32 rounding of float64's sums and the same bits on one thread and on three
    (columns split); NaN and inf in their columns only, keepdims."""
    if cpu._kern is None:
        pytest.skip("vkgrad's C loops (_cpukern) not built")
    x = RNG.standard_normal(shape).astype(np.float32) * 3
    x[shape[0] // 2, 0] = np.nan
    if shape[1] > 2:
        x[0, 2] = np.inf
    calls = []
    monkeypatch.setattr(cpu, "_c_rows", lambda fn, *a, **k: calls.append(fn.__name__) or _C_ROWS(fn, *a, **k))
    one, three = split(lambda: BE.reduce("sum", x, (0,), False))
    assert calls == ["vkg_colsum_f32"] * 2 if x.size >= 1 << 17 else not calls  # (small ones: NumPy's)
    same(one, three)
    want = x.astype(np.float64).sum(0)
    assert one.dtype == np.float32 and np.array_equal(np.isnan(one), np.isnan(want))
    assert np.array_equal(np.isinf(one), np.isinf(want))
    ok = np.isfinite(want)  # (C's: within an f32 rounding; NumPy's float32 sums: of the terms' sizes)
    scale = 1.0 if calls else float(np.abs(np.where(np.isfinite(x), x, 0)).sum(0).max())
    np.testing.assert_allclose(one[ok], want[ok], rtol=1e-6, atol=1e-6 * scale)
    assert BE.reduce("sum", x, (0,), True).shape == (1, shape[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_tall_column_sums(split, dtype):
    """Sums over the rows of a tall, narrow array (a convolution's bias gradient) go
    through BLAS's gemv on one thread: close to float64's sums, the same on one
    thread and three, keepdims and an f16 input's f32 result kept, a NaN
    propagated to its column only."""
    x = RNG.standard_normal((5000, 7)).astype(dtype)
    x[17, 3] = np.nan
    calls = cpu._const_row.cache_info()
    one, three = split(lambda: BE.reduce("sum", x, (0,), False))
    assert cpu._const_row.cache_info() != calls  # (the gemv path ran)
    same(one, three)
    want = x.astype(np.float64).sum(0)
    assert one.dtype == dtype and np.isnan(one[3]) and not np.isnan(np.delete(one, 3)).any()
    tol = {np.float16: 5e-3, np.float32: 1e-6, np.float64: 1e-13}[dtype]
    np.testing.assert_allclose(np.delete(one, 3), np.delete(want, 3), rtol=tol, atol=tol * np.abs(x[:, 0]).sum())
    assert BE.reduce("sum", x, (0,), True).shape == (1, 7)
    if dtype == np.float16:
        wide = BE.reduce("sum", x, (0,), False, f32=True)
        assert wide.dtype == np.float32
        np.testing.assert_allclose(np.delete(wide, 3), np.delete(want, 3), rtol=1e-5, atol=1e-6 * 5000)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_dropout_mask_by_integer_bound(dtype):
    """Dropout keeps an element where its hash word reaches keep_threshold(p): the
    f32 comparison u >= p of the shader at every one of u's 2^24 levels, and masks
    equal to that comparison's (sizes past the cached counters too)."""
    k = np.arange(1 << 24, dtype=np.uint32)
    u = k.astype(np.float32) * np.float32(1.0 / 16777216.0)
    for p in (1e-9, 0.1, 0.25, 1 / 3, 0.3, 0.5, 0.9999999, 1 - 1e-9):
        bound, want = cpu.keep_threshold(p), u >= p
        if bound is None:  # (none kept)
            assert not want.any(), p
            continue
        # every word of a level (its low 8 bits 0 ... 255) on the same side of the bound
        assert np.array_equal((k << 8) >= bound, want) and np.array_equal(((k << 8) | 255) >= bound, want), p
    for n, p, seed in ((7, 0.3, 1), (4097, 0.5, 2), ((1 << 20) + 3, 0.1, 12345678901)):
        x = RNG.standard_normal(n).astype(dtype)
        y, mask = BE.dropout(x, p, seed)
        want = ((cpu.hash_uniform(n, seed) >= p) * (1.0 / (1.0 - p))).astype(dtype)
        assert mask.dtype == dtype and np.array_equal(mask, want)
        assert np.array_equal(y, (x.astype(np.float32) * want).astype(dtype) if dtype == np.float16 else x * want)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm(split, dtype, affine):
    x = RNG.standard_normal((9, 6)).astype(dtype)
    w, b = (RNG.standard_normal(6).astype(dtype) for _ in range(2)) if affine else (None, None)
    fwd = split(lambda: BE.layer_norm(x, w, b, 1e-5))
    same(*fwd)
    c = x.astype(np.float64)
    want = (c - c.mean(1, keepdims=True)) / np.sqrt(c.var(1, keepdims=True) + 1e-5)
    if affine:
        want = want * w + b
    tol = 2e-3 if dtype == np.float16 else 1e-5
    np.testing.assert_allclose(fwd[0][0], want, rtol=tol, atol=tol)
    g = RNG.standard_normal((9, 6)).astype(dtype)
    y, mean, rstd = fwd[0]
    for need_gx in (True, False):
        bwd = split(lambda: BE.layer_norm_bwd(g, x, w, mean, rstd, need_gx))
        assert (bwd[0][1] is None) == (not need_gx)
        same(bwd[0][0], bwd[1][0])
        if need_gx:
            same(bwd[0][1], bwd[1][1])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
@pytest.mark.parametrize("pool", ["python", "c"])
def test_split_ops_run_in_a_forked_child(pool, monkeypatch):
    """A child forked after the pool started runs split ops (the parent's pool
    threads do not exist there: a fresh pool, not tasks that never run): Python's
    pool, and _cpukern's (the C loops' rows, vkg_rows_par)."""
    import multiprocessing
    if pool == "c" and not cpu._ROWS_LOOPS:
        pytest.skip("vkgrad's C loops (_cpukern) not built")
    if pool == "python":
        monkeypatch.setattr(cpu, "_ROWS_LOOPS", {})
    x = x_nchw((6, 2, 8, 8))
    win = _window("max_pool2d", vg.tensor(x), (2, 2), (2, 2), 0, (1, 1))
    saved = cpu.get_num_threads()
    cpu.set_num_threads(3)
    cpu._PAR_MIN = 1
    child = None
    try:
        for _ in range(5):  # (the pool and both its threads started, idle)
            BE.window_max(x, win)
        assert pool == "c" or cpu._pool is not None
        ctx = multiprocessing.get_context("fork")
        q = ctx.Queue()
        child = ctx.Process(target=lambda: q.put(float(BE.window_max(x, win)[0].sum())))
        child.start()
        child.join(60)
        assert child.exitcode == 0, "the forked child hung or failed"
        assert q.get(timeout=5) == float(BE.window_max(x, win)[0].sum())
    finally:
        cpu._PAR_MIN = 1 << 16
        cpu.set_num_threads(saved)
        if child is not None and child.is_alive():
            child.kill()
