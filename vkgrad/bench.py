"""Shader microbenchmarks: ``python -m vkgrad.bench [--only matmul,adam] [--json F] [--plot F.png]``.

First the device's own ceilings, as vkpeak measures them: the f32 FMA rate
(independent FMA chains per invocation, scalar and vec4) and the copy
bandwidth (a 16-byte-per-lane copy shader, and vkCmdCopyBuffer).  Then each
shader family at square, skinny and odd shapes, in f32 and f16 storage: the
median of several timed runs after a warm-up, as GFLOP/s or GB/s (minimum
bytes moved), the fraction of the matching ceiling (the FMA or copy probe timed
in alternation with the case, as this machine's speed drifts), and NumPy's
figure for the same work on this machine.  Timing: many dispatches recorded into one
submission, timed by the device's timestamps around it (the wall clock around
recording and submit-and-wait where a device has none), divided by their number.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np

MB = 1 << 20


def _progress(i, n, label, enabled):
    if not enabled:
        return
    w = 30
    done = int(w * i / max(n, 1))
    sys.stderr.write(f"\r[{'#' * done}{'.' * (w - done)}] {i}/{n} {label[:40]:<40}")
    if i == n:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _gpu_timer(be, record, min_time=0.05):
    """A function that times one run of ``record()`` (which only records work)
    repeated enough times to last ``min_time`` in one submission: seconds per call."""
    record()
    be.synchronize()
    live = be.counters["live_bytes"]
    t0 = time.perf_counter()
    keep = record()
    held = max(be.counters["live_bytes"] - live, 1)  # outputs stay alive until the submit
    be.synchronize()
    one = max(time.perf_counter() - t0, 1e-6)
    del keep
    # outputs held until the submission ends: at most 512 MiB of them, as fresh memory
    # for every call (GiBs of it) is not what the kernels meet in training
    inner = max(1, min(200, int(min_time / one), (512 << 20) // held))
    # a run's outputs held at once, once, so that the arenas grow to hold them: else,
    # with an arena full, every call's allocation waits for the device to hand back
    # the block of the call before (a submission per call, timed by the wall clock)
    hold = [record() for _ in range(inner)]
    be.synchronize()
    del hold

    timed = getattr(be, "timed_synchronize", None)

    def run():
        subs = be.counters["submissions"]
        t0 = time.perf_counter()
        for _ in range(inner):
            record()
        # the device's timestamps around the one submission where it has them (a GPU
        # runs a kernel in less time than Python takes to record its dispatch);
        # else the wall clock around recording and submit-and-wait
        dev = timed() if timed else be.synchronize()
        if dev is not None and be.counters["submissions"] == subs + 1:
            _CLOCKS["device"] += 1
            return dev / inner
        _CLOCKS["wall"] += 1
        return (time.perf_counter() - t0) / inner
    return run


_CLOCKS = {"device": 0, "wall": 0}  # runs timed by each clock (rows say which their case used)


def _time_gpu(be, record, reps, min_time=0.05, best=False):
    """Median (``best``: minimum) seconds per call of ``record()``."""
    run = _gpu_timer(be, record, min_time)
    runs = [run() for _ in range(reps)]
    return min(runs) if best else statistics.median(runs)


def _time_paired(be, record, probe, reps):
    """Seconds per call of ``record()`` (median) and the median ratio of the
    probe's time to it, the two timed in alternation: on a machine whose speed
    drifts (shared hosts, turbo) a fraction of a ceiling measured minutes
    earlier means little, one measured alongside does."""
    run, ref = _gpu_timer(be, record), _gpu_timer(be, probe)
    ts, ratios = [], []
    for _ in range(reps):
        t, tr = run(), ref()
        ts.append(t)
        ratios.append(tr / t)
    return statistics.median(ts), statistics.median(ratios)


def _time_cpu(fn, reps, min_time=0.05):
    fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-6)
    inner = max(1, min(200, int(min_time / one)))
    runs = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        runs.append((time.perf_counter() - t0) / inner)
    return statistics.median(runs)


def ceilings(be, reps, size="default"):
    """Peak FMA GFLOP/s (scalar, vec4) and copy GB/s (shader, buffer copy): the best of
    ``2 * reps`` runs, as a ceiling is a peak (the families report medians).  Also
    returns the probes (recorder, FLOPs or bytes per call) that each case is timed
    against, by unit."""
    out, probes = {}, {}
    # 8 unrolled steps per iteration; a GPU needs more invocations in flight (at most
    # _MAX_GROUPS workgroups: the probe has no grid-stride loop) and a longer run
    from .backends.vulkan import _MAX_GROUPS
    groups, iters = (4096, 1024) if size == "large" else (512, 256)
    assert groups <= _MAX_GROUPS
    y = be._alloc((groups * 64,), "f32")
    for vec in (0, 1):
        t = _time_gpu(be, lambda: be._dispatch("peak_fma", "f32", (vec,), groups,
                                               [iters, 0x3F7FBE77, 0x3A83126F], [y]), 2 * reps, best=True)
        flops = groups * 64 * iters * 8 * 2 * (16 if vec else 12)  # see peak_fma.comp
        out["fma_vec4_gflops" if vec else "fma_scalar_gflops"] = flops / t / 1e9
    probes["GFLOP/s"] = (lambda: be._dispatch("peak_fma", "f32", (1,), groups,
                                              [iters, 0x3F7FBE77, 0x3A83126F], [y]),
                         groups * 64 * iters * 8 * 2 * 16)
    words = min((64 if size == "large" else 16) * MB, be.max_words // 8) // 4 * 4
    x = be._alloc((words,), "f32")
    z = be._alloc((words,), "f32")
    def copy_with(shader):
        groups = be._quad_groups(shader, words // 4)  # as the backend dispatches its copies
        return lambda: be._dispatch(shader, "u32", (), groups, [words], [x, z])
    used = be._tx("copy4", words // 4)  # the copy kernel the backend uses (CPU devices: its texel-read twin)
    copy = copy_with(used)
    t = _time_gpu(be, copy, 2 * reps, best=True)
    out["copy_shader_gbs"] = 2 * 4 * words / t / 1e9
    probes["GB/s"] = (copy, 2 * 4 * words)
    if used != "copy4":  # also the storage-buffer copy, for comparison
        t = _time_gpu(be, copy_with("copy4"), 2 * reps, best=True)
        out["copy_shader_storage_gbs"] = 2 * 4 * words / t / 1e9
    both = be._alloc((2 * words,), "f32")  # a buffer copy stays within one arena: two halves
    algo = be.arenas[both.block.arena].holder

    def buffer_copy():
        be._prog.copy(algo, both.off * 4, (both.off + words) * 4, words * 4)
        be._keep.append(both.block)
        be._prog.barrier()
    t = _time_gpu(be, buffer_copy, 2 * reps, best=True)
    out["copy_buffer_gbs"] = 2 * 4 * words / t / 1e9
    out["copy_bytes"] = 4 * words
    return out, probes


SIZES = {"small": (0.25, 256), "default": (1, 1024), "large": (8, 4096)}  # (scale, square matmul side)


def pick_size(size, be):
    """``auto``: ``large`` on GPUs (work that fills them and outlasts a submission's
    cost; tensors well beyond their caches), ``default`` on CPU devices (lavapipe)."""
    if size != "auto":
        return size
    return "default" if getattr(be, "limits", {}).get("device_type", "Cpu") == "Cpu" else "large"


def _cases(size):
    s, sq = SIZES[size]
    n_el = int(4 * MB * s)
    return {
        "matmul": [("square", sq, sq, sq, False, False), ("mlp-fwd NT", 256, 784, 1024, False, True),
                   ("mlp-dW TN", 1024, 256, 784, True, False), ("odd", 333, 777, 555, False, False),
                   ("skinny M=7", 7, 784, 10, False, True), ("square-small", 40, 40, 40, False, False),
                   # a convolution's weight gradient: few outputs, a long K (the batch's windows)
                   ("conv-dW TN", 64, int(8192 * s), 576, True, False)],
        # general layouts too: a size not a whole number of quads, a column operand, a transpose
        "elementwise": [("add", n_el), ("exp", n_el), ("relu_bwd bcast", n_el), ("add odd", n_el - 1),
                        ("mul column", n_el), ("transpose", n_el)],
        # (every memory-bound case reads about n_el elements: at "large", 128 MiB of f32,
        # beyond a GPU's L2 -- an H100's 50 MB held the row sums' 16-32 MiB when repeated)
        "reduce": [("sum all", n_el), ("sum axis0", n_el // 1024, 1024), ("sum rows", n_el // 512, 512),
                   ("sum rows odd", n_el // 1021, 1021)],
        # (rows of an odd length: ends of rows read and written word by word)
        "softmax": [("softmax", int(4096 * s), 1000), ("softmax_xent", int(4096 * s), 1000),
                    ("softmax odd", int(4096 * s), 1001)],
        "batchnorm": [("batchnorm fwd", n_el // 256, 256), ("batchnorm bwd", n_el // 256, 256)],
        # rows of 256 normalised with their own statistics (a transformer's width; a GPU lane two
        # quads in f32, one in f16), then short rows of 32, and the gradients
        "layernorm": [("layernorm fwd", n_el // 256, 256), ("layernorm bwd", n_el // 256, 256),
                      ("layernorm fwd short", n_el // 32, 32), ("layernorm bwd short", n_el // 32, 32)],
        "optimizer": [("adam", int(MB * s)), ("sgd momentum", int(MB * s))],
        # stable sorts of rows (topk of logits) and of one long row: the effective rate of
        # reading x and writing the values and int32 positions once (the passes not counted)
        "sort": [("sort rows", int(256 * s), 1000), ("sort long row", 1, int(MB * s // 4))],
        # a 3 x 3 convolution's windows [N, 32, 32, 32] -> rows of 288 (padding 1), and back
        "conv": [("im2col 3x3", max(1, n_el // (9 * 32 ** 3)), 32, 32, 32),
                 ("col2im 3x3", max(1, n_el // (9 * 32 ** 3)), 32, 32, 32),
                 # a whole forward convolution, 64 -> 64 channels, 3 x 3, padding 1: im2col, then
                 # the product with the bias fused, then the permute to [N, C, H, W]
                 ("conv2d 3x3 fwd", max(1, int(8 * s)), 64, 32, 32)],
    }


def run(only=None, dtypes=("f32", "f16"), size="auto", reps=5, progress=True, device="vulkan", names=None):
    """The ceilings, then the cases of the families in ``only`` (default all) whose
    names start with one of ``names`` (default all), in each of ``dtypes``."""
    known = _cases("default")
    bad = sorted(set(only or ()) - set(known)) + sorted(set(dtypes) - {"f32", "f16"})
    if bad:
        raise ValueError(f"bench: unknown {', '.join(map(repr, bad))}; families are {', '.join(known)}, "
                         "dtypes f32 and f16")
    picked = lambda case, ns=names: not ns or any(case[0].startswith(n) for n in ns)  # noqa: E731
    all_cases = [c for f in known for c in known[f]]
    unmatched = [n for n in names or () if not any(picked(c, [n]) for c in all_cases)]
    if unmatched:
        raise ValueError(f"bench: no case starts with {', '.join(map(repr, unmatched))}; cases are "
                         + ", ".join(c[0] for c in all_cases))
    import vkgrad as vg
    be = vg.get_backend(device)
    vg.set_check_finite(False)
    info = {"name": be.limits.get("name") if hasattr(be, "limits") else device,
            "subgroup_size": getattr(be, "limits", {}).get("subgroup_size"),
            "matmul_kernel": getattr(be, "matmul_kernel", None)}
    size = pick_size(size, be)
    ceil, probes = ceilings(be, reps, size)
    rows = []
    cases = _cases(size)
    fams = [f for f in cases if not only or f in only]
    todo = [(f, c, dt) for f in fams for c in cases[f] for dt in dtypes if picked(c)]
    r = np.random.default_rng(0)
    for i, (fam, case, dt) in enumerate(todo):
        _progress(i, len(todo), f"{fam} {case[0]} {dt}", progress)
        _CLOCKS.update(device=0, wall=0)
        row = _bench_case(be, vg, fam, case, dt, reps, r, probes)
        row["clock"] = "wall" if _CLOCKS["wall"] else "device"  # (wall: no timestamps, or many submissions)
        rows.append(row)
    _progress(len(todo), len(todo), "done", progress)
    return {"device": info, "ceilings": ceil, "results": rows, "size": size, "reps": reps}


def _bench_case(be, vg, fam, case, dt, reps, r, probes):
    """One case, timed in alternation with the ceiling probe of its unit:
    ``fraction_of_ceiling`` is the median of the per-pair rate ratios."""
    name = case[0]
    T = lambda a: vg.tensor(a, device=be.device, dtype=dt).handle  # noqa: E731
    npdt = np.float32
    if fam == "matmul":
        _, M, K, N, ta, tb = case
        a = r.uniform(-1, 1, (K, M) if ta else (M, K)).astype(npdt)
        b = r.uniform(-1, 1, (N, K) if tb else (K, N)).astype(npdt)
        ha, hb = T(a), T(b)
        flops = 2.0 * M * N * K
        t, ratio = _time_paired(be, lambda: be.matmul(ha, hb, ta, tb), probes["GFLOP/s"][0], reps)
        tn = _time_cpu(lambda: (a.T if ta else a) @ (b.T if tb else b), reps)
        esz = 2 if dt == "f16" else 4
        bytes_ = esz * (M * K + K * N) + 4 * M * N
        return dict(family=fam, case=f"{name} {M}x{K}x{N}", dtype=dt, seconds=t, unit="GFLOP/s",
                    value=flops / t / 1e9, numpy_value=flops / tn / 1e9, numpy_seconds=tn,
                    intensity=flops / bytes_, flops=flops,
                    fraction_of_ceiling=flops / probes["GFLOP/s"][1] * ratio)
    esz = 2 if dt == "f16" else 4
    if fam == "elementwise":
        n = case[1]
        a, b = r.uniform(0.5, 2, n).astype(npdt), r.uniform(0.5, 2, n).astype(npdt)
        ha, hb = T(a), T(b)
        if name.startswith("add"):
            rec, npf, nbytes, fl = lambda: be.binary("add", ha, hb), lambda: a + b, 3 * n * esz, n
        elif name == "exp":
            rec, npf, nbytes, fl = lambda: be.unary("exp", ha), lambda: np.exp(a), 2 * n * esz, n
        elif name == "transpose":  # a square matrix made contiguous transposed
            side = int(n ** 0.5)
            hm, m2 = T(a[:side * side].reshape(side, side)), a[:side * side].reshape(side, side)
            rec = lambda: be.permute(hm, (1, 0))  # noqa: E731
            npf, nbytes, fl = (lambda: np.ascontiguousarray(m2.T)), 2 * side * side * esz, side * side
        else:  # broadcasts over [rows, 1024]: a row (relu_bwd bcast) or a column (mul column)
            rows_ = n // 1024
            m2 = a.reshape(rows_, 1024)
            v2 = b[:rows_].reshape(rows_, 1) if name == "mul column" else b[:1024]
            hm, hv = T(m2), T(v2)
            if name == "mul column":
                rec, npf = (lambda: be.binary("mul", hm, hv)), (lambda: m2 * v2)
            else:
                rec, npf = (lambda: be.binary("relu_bwd", hm, hv)), (lambda: v2 * (m2 > 0))
            nbytes, fl = 2 * n * esz, n
    elif fam == "reduce":
        if name == "sum all":
            n = case[1]
            a = r.uniform(-1, 1, n).astype(npdt)
            ha = T(a)
            rec, npf, nbytes, fl = lambda: be.reduce("sum", ha, (0,), False), lambda: a.sum(), n * esz, n
        else:
            a = r.uniform(-1, 1, (case[1], case[2])).astype(npdt)
            ha = T(a)
            ax = 0 if name == "sum axis0" else 1
            rec = lambda: be.reduce("sum", ha, (ax,), False)  # noqa: E731
            npf, nbytes, fl = (lambda: a.sum(ax)), a.size * esz, a.size
    elif fam == "softmax":
        a = r.uniform(-3, 3, (case[1], case[2])).astype(npdt)
        ha = T(a)
        if name.startswith("softmax") and name != "softmax_xent":
            rec = lambda: be.softmax(ha)  # noqa: E731

            def npf():
                e = np.exp(a - a.max(1, keepdims=True))
                return e / e.sum(1, keepdims=True)
            nbytes = 2 * a.size * esz
        else:
            t_ = np.eye(case[2], dtype=npdt)[r.integers(0, case[2], case[1])]
            ht = T(t_)
            rec = lambda: be.softmax_xent(ha, ht)  # noqa: E731

            def npf():  # the loss and its gradient, as the fused kernel computes them
                z = a - a.max(1, keepdims=True)
                ls = z - np.log(np.exp(z).sum(1, keepdims=True))
                return -(t_ * ls).sum() / len(a), (np.exp(ls) - t_) / len(a)
            nbytes = 3 * a.size * esz
        fl = 4 * a.size
    elif fam == "batchnorm":  # train mode over the rows; backward: the exact gradient
        from .backends.cpu import CPUBackend
        cpu = CPUBackend()
        x, g = r.normal(0, 1, (case[1], case[2])).astype(npdt), r.normal(0, 1, (case[1], case[2])).astype(npdt)
        gam, bet = np.ones(case[2], npdt), np.zeros(case[2], npdt)
        hx, hg, hgam, hbet = T(x), T(g), T(gam), T(bet)
        _, mean, _, inv = be.batchnorm_fwd(hx, hgam, hbet, 1e-5)
        _, cmean, _, cinv = cpu.batchnorm_fwd(x, gam, bet, 1e-5)
        if name == "batchnorm fwd":
            rec = lambda: be.batchnorm_fwd(hx, hgam, hbet, 1e-5)  # noqa: E731
            npf, nbytes = (lambda: cpu.batchnorm_fwd(x, gam, bet, 1e-5)), 2 * x.size * esz
        else:
            rec = lambda: be.batchnorm_bwd(hg, hx, mean, inv, hgam)  # noqa: E731
            npf, nbytes = (lambda: cpu.batchnorm_bwd(g, x, cmean, cinv, gam)), 3 * x.size * esz
        fl = 8 * x.size
    elif fam == "layernorm":  # scale and shift too; backward: dx and g * xhat (the scale's gradient rows)
        from .backends.cpu import CPUBackend
        cpu = CPUBackend()
        x, g = r.normal(0, 1, (case[1], case[2])).astype(npdt), r.normal(0, 1, (case[1], case[2])).astype(npdt)
        w, b = np.ones(case[2], npdt), np.zeros(case[2], npdt)
        hx, hg, hw, hb = T(x), T(g), T(w), T(b)
        _, mean, rstd = be.layer_norm(hx, hw, hb, 1e-5)
        _, cmean, crstd = cpu.layer_norm(x, w, b, 1e-5)
        if name.startswith("layernorm fwd"):
            rec = lambda: be.layer_norm(hx, hw, hb, 1e-5)  # noqa: E731
            npf, nbytes = (lambda: cpu.layer_norm(x, w, b, 1e-5)), 2 * x.size * esz
        else:
            rec = lambda: be.layer_norm_bwd(hg, hx, hw, mean, rstd, True)  # noqa: E731
            npf, nbytes = (lambda: cpu.layer_norm_bwd(g, x, w, cmean, crstd, True)), 4 * x.size * esz
        fl = 8 * x.size
    elif fam == "conv" and name.startswith("conv2d"):  # GFLOP/s of the product, against the FMA probe
        N, C, H, W = case[1:]
        x, w, bias = (r.uniform(-1, 1, sh).astype(npdt) for sh in ((N, C, H, W), (C, C, 3, 3), (C,)))
        xt, wt, bt = (vg.tensor(a, device=be.device, dtype=dt) for a in (x, w, bias))
        flops = 2.0 * N * H * W * C * C * 9
        t, ratio = _time_paired(be, lambda: vg.conv2d(xt, wt, bt, padding=1).handle, probes["GFLOP/s"][0], reps)
        xc, wc, bc = (vg.tensor(a, device="cpu") for a in (x, w, bias))
        tn = _time_cpu(lambda: vg.conv2d(xc, wc, bc, padding=1), reps)
        bytes_ = esz * (x.size * 10 + w.size) + 4 * x.size
        return dict(family=fam, case=f"{name} {case[1:]}", dtype=dt, seconds=t, unit="GFLOP/s",
                    value=flops / t / 1e9, numpy_value=flops / tn / 1e9, numpy_seconds=tn,
                    intensity=flops / bytes_, flops=flops,
                    fraction_of_ceiling=flops / probes["GFLOP/s"][1] * ratio)
    elif fam == "conv":  # bytes: the input read once, the rows written (or the reverse)
        from .backends.base import Window
        from .backends.cpu import CPUBackend
        cpu = CPUBackend()
        N, C, H, W = case[1:]
        win = Window((3, 3), (1, 1), (1, 1), (1, 1), (H, W))
        if name.startswith("im2col"):
            x = r.uniform(-1, 1, (N, C, H, W)).astype(npdt)
            hx = T(x)
            rec, npf = (lambda: be.im2col(hx, win)), (lambda: cpu.im2col(x, win))
        else:
            cols = r.uniform(-1, 1, (N * H * W, C * 9)).astype(npdt)
            hc = T(cols)
            rec, npf = (lambda: be.col2im(hc, (N, C, H, W), win)), (lambda: cpu.col2im(cols, (N, C, H, W), win))
        nbytes, fl = 10 * N * C * H * W * esz, 9 * N * C * H * W
    elif fam == "sort":
        from .backends.cpu import CPUBackend
        cpu = CPUBackend()
        a = r.uniform(-1, 1, (case[1], case[2])).astype(npdt)
        ha = T(a)
        rec, npf = (lambda: be.sort_rows(ha)[1]), (lambda: cpu.sort_rows(a)[1])
        nbytes, fl = a.size * (2 * esz + 4), a.size
    else:  # optimizer: as training runs it, an f32 (master) weight with a gradient of dtype dt
        n = case[1]
        p, g = r.uniform(-1, 1, n).astype(npdt), r.uniform(-1, 1, n).astype(npdt) * 1e-2
        hp, hg = vg.tensor(p, device=be.device, dtype="f32").handle, T(g)
        m, v = be.full((n,), 0.0, "f32"), be.full((n,), 0.0, "f32")
        from .backends.cpu import CPUBackend
        cpu = CPUBackend()
        pm, vm = np.zeros(n, npdt), np.zeros(n, npdt)
        if name == "adam":
            rec = lambda: be.adam_(hp, hg, m, v, 1e-3, 0.9, 0.999, 1e-8, 0.0, 3, False)  # noqa: E731
            npf = lambda: cpu.adam_(p, g, pm, vm, 1e-3, 0.9, 0.999, 1e-8, 0.0, 3, False)  # noqa: E731
            nbytes = n * (esz + 24)  # read p, g, m, v; write p, m, v (all f32 but g)
        else:
            rec = lambda: be.sgd_(hp, hg, m, 1e-3, 0.9, 0.0, False, 0.0, False)  # noqa: E731
            npf = lambda: cpu.sgd_(p, g, pm, 1e-3, 0.9, 0.0, False, 0.0, False)  # noqa: E731
            nbytes = n * (esz + 16)
        fl = 10 * n
    t, ratio = _time_paired(be, rec, probes["GB/s"][0], reps)
    tn = _time_cpu(npf, reps)
    label = f"{name} {case[1:]}" + (" f32 master" if fam == "optimizer" and dt == "f16" else "")
    return dict(family=fam, case=label, dtype=dt, seconds=t, unit="GB/s",
                value=nbytes / t / 1e9, numpy_value=nbytes / tn / 1e9, numpy_seconds=tn,
                intensity=fl / nbytes, flops=fl, fraction_of_ceiling=nbytes / probes["GB/s"][1] * ratio)


def table(res):
    c = res["ceilings"]
    lines = [f"device: {res['device']['name']} (subgroup {res['device']['subgroup_size']}, "
             f"large matmuls: matmul_{res['device'].get('matmul_kernel')})",
             f"ceilings: FMA {c['fma_scalar_gflops']:.1f} GFLOP/s scalar, {c['fma_vec4_gflops']:.1f} "
             f"vec4; copy {c['copy_shader_gbs']:.2f} GB/s (shader"
             + (f", texel reads; {c['copy_shader_storage_gbs']:.2f} with storage-buffer reads"
                if "copy_shader_storage_gbs" in c else "")
             + f"), {c['copy_buffer_gbs']:.2f} GB/s (vkCmdCopyBuffer)", ""]
    hdr = f"{'family':<12}{'case':<36}{'dtype':<6}{'time':>10}  {'rate':>14}  {'of ceiling':>10}  {'NumPy':>14}  {'vs NumPy':>8}"
    lines += [hdr, "-" * len(hdr)]
    for r in res["results"]:
        lines.append(f"{r['family']:<12}{r['case'][:35]:<36}{r['dtype']:<6}{r['seconds'] * 1e3:8.2f}ms  "
                     f"{r['value']:8.2f} {r['unit']:<5}  {100 * r['fraction_of_ceiling']:9.1f}%  "
                     f"{r['numpy_value']:8.2f} {r['unit']:<5}  {r['value'] / r['numpy_value']:7.2f}x"
                     + ("  (wall clock)" if r.get("clock") == "wall" else ""))
    return "\n".join(lines + summary(res))


def summary(res):
    """Ratios that survive the machine's drift: each case's fraction of the ceiling
    probe timed alongside it, against the square matmul's (and f16's against f32's)."""
    frac = {(r["case"].split(" ")[0], r["dtype"]): r["fraction_of_ceiling"]
            for r in res["results"] if r["family"] == "matmul"}
    out = []
    for dt in ("f32", "f16"):
        sq, small = frac.get(("square", dt)), frac.get(("square-small", dt))
        if sq:  # the tiny skinny product against a square one of the same work, not 1024^3
            rel = ", ".join(f"{name} {f / (small if name == 'skinny' and small else sq):.2f}"
                            for (name, d), f in frac.items() if d == dt and not name.startswith("square"))
            out.append(f"matmul {dt} vs square of comparable size (fractions of the FMA probe): {rel}")
    if frac.get(("square", "f32")) and frac.get(("square", "f16")):
        out.append(f"matmul square f16 / f32: {frac[('square', 'f16')] / frac[('square', 'f32')]:.2f}x")
    return [""] + out if out else []


def plot(res, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install matplotlib") from None
    c = res["ceilings"]
    fig, ax = plt.subplots(figsize=(8, 5.5))
    ai = np.logspace(-2, 3, 200)
    peak, bw = c["fma_vec4_gflops"], c["copy_shader_gbs"]
    ax.loglog(ai, np.minimum(peak, ai * bw), "k-", label=f"roofline: {peak:.0f} GFLOP/s, {bw:.1f} GB/s")
    ax.axhline(c["fma_scalar_gflops"], color="gray", ls=":", label="scalar FMA peak")
    marks = {"f32": "o", "f16": "s"}
    fams = sorted({r["family"] for r in res["results"]})
    colors = dict(zip(fams, plt.cm.tab10.colors))
    for r in res["results"]:
        gflops = r["flops"] / r["seconds"] / 1e9
        ax.scatter(r["intensity"], gflops, marker=marks[r["dtype"]], color=colors[r["family"]],
                   label=f"{r['family']} {r['dtype']}")
    h, l = ax.get_legend_handles_labels()
    uniq = dict(zip(l, h))
    ax.legend(uniq.values(), uniq.keys(), fontsize=7, loc="lower right")
    ax.set_xlabel("arithmetic intensity (FLOP / byte)")
    ax.set_ylabel("GFLOP/s")
    ax.set_title(f"vkgrad shaders on {res['device']['name']}")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m vkgrad.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma list of families: matmul,elementwise,reduce,softmax,batchnorm,layernorm,conv,"
                    "optimizer,sort")
    ap.add_argument("--cases", help="comma list of case names' beginnings, e.g. transpose,softmax")
    ap.add_argument("--dtype", default="f32,f16", help="comma list of f32,f16")
    ap.add_argument("--size", choices=["auto", *SIZES], default="auto",
                    help="work per case: small, default (CPU devices), large (GPUs: 4096^3 matmul, "
                         "32 Mi-element tensors); auto picks by device type")
    ap.add_argument("--reps", type=int, default=5, help="timed runs per case (median)")
    ap.add_argument("--device", default="vulkan")
    ap.add_argument("--json", help="write the results as JSON")
    ap.add_argument("--plot", help="write a roofline chart (PNG)")
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args(argv)
    only = set(a.only.split(",")) if a.only else None
    names = a.cases.split(",") if a.cases else None
    try:
        res = run(only, tuple(a.dtype.split(",")), a.size, a.reps, not a.no_progress, a.device, names)
    except ValueError as e:
        ap.error(str(e))
    print(table(res))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    if a.plot:
        plot(res, a.plot)
    return res


if __name__ == "__main__":
    main()
