"""Time per training step: the seed's iris model, an MLP 784-1024-1024-10, a
small CNN on 28 x 28 images (two 3 x 3 convolutions with max pools, then a linear map)
and a transformer block over 64 tokens (embedding, attention by batched products,
a GELU MLP; its sample is a sequence) and an LSTM classifying sequences (32 steps of 16
features, hidden 128, the last state through a linear map).

    python benchmarks/train_step.py [--device cpu|vulkan|auto] [--dtype f32|f16]
                                    [--steps N] [--json FILE]

Next to PyTorch CPU when torch is importable (one thread for iris, two for the
MLP, as in DESIGN.md), with the ratio vkgrad / torch (lower is better for time,
higher for samples per second); on a Vulkan device also the steady state's work
per step (dispatches recorded, queue submissions, pipelines and buffers created)."""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

try:  # before vkgrad: PyTorch then runs with its own OpenMP runtime (libgomp.so.1, one per
    import torch  # noqa: F401  process, which vkgrad's oneDNN products load if they come first)
except ImportError:
    pass
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
import vkgrad as vg  # noqa: E402


def _iris_model():
    from vkgrad import nn
    return nn.Sequential(nn.Linear(4, 64, activation="relu"), nn.BatchNorm1d(64), nn.Dropout(0.3),
                         nn.Linear(64, 32, activation="relu"), nn.Linear(32, 3))


def _mlp_model():
    from vkgrad import nn
    return nn.Sequential(nn.Linear(784, 1024, activation="relu"),
                         nn.Linear(1024, 1024, activation="relu"), nn.Linear(1024, 10))


def _cnn_model(nn):
    """conv 1->16, relu, pool, conv 16->32, relu, pool, linear 1568->10 (``nn``:
    vkgrad's or PyTorch's, whose layers take the same arguments)."""
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 7 * 7, 10))


def _attn_model(nn, F):
    """A transformer block over [B, T] tokens: embedding, layer norm, 4-head
    self-attention (batched products), a GELU MLP, next-token logits [B * T, V]
    (``nn`` / ``F``: vkgrad's or PyTorch's modules and functions; the same
    arguments and methods for both)."""
    V, D, H = _DATA["attn"][1], 128, 4

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.ln1, self.qkv = nn.Embedding(V, D), nn.LayerNorm(D), nn.Linear(D, 3 * D)
            self.proj, self.ln2, self.fc1 = nn.Linear(D, D), nn.LayerNorm(D), nn.Linear(D, 4 * D)
            self.fc2, self.out = nn.Linear(4 * D, D), nn.Linear(D, V)

        def forward(self, idx):
            B, T = idx.shape
            x = self.emb(idx)
            qkv = self.qkv(self.ln1(x))
            q, k, v = (qkv[..., i * D:(i + 1) * D].reshape((B, T, H, D // H)).swapaxes(1, 2) for i in range(3))
            att = F.softmax((q @ k.swapaxes(2, 3)) * (1.0 / (D // H) ** 0.5), -1)
            x = x + self.proj((att @ v).swapaxes(1, 2).reshape((B, T, D)))
            x = x + self.fc2(F.gelu(self.fc1(self.ln2(x))))
            return self.out(x).reshape((B * T, V))
    return Block()


def _resnet_model(nn, F):
    """conv 3->32, batch norm, relu, two residual blocks (conv, batch norm, relu, conv,
    batch norm, + x, relu; 32 channels, 3 x 3, no bias), a global average pool, linear
    32->10 over [B, 3, 32, 32] (``nn`` / ``F``: vkgrad's or PyTorch's)."""
    class Block(nn.Module):
        def __init__(self, C):
            super().__init__()
            self.c1, self.b1 = nn.Conv2d(C, C, 3, padding=1, bias=False), nn.BatchNorm2d(C)
            self.c2, self.b2 = nn.Conv2d(C, C, 3, padding=1, bias=False), nn.BatchNorm2d(C)

        def forward(self, x):
            return F.relu(self.b2(self.c2(F.relu(self.b1(self.c1(x))))) + x)
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), Block(32), Block(32),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))


def _lstm_model(nn):
    """LSTM(16, 128) over [B, 32, 16] (batch_first), the last hidden state through
    Linear(128, 10) (``nn``: vkgrad's or PyTorch's)."""
    class Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm, self.out = nn.LSTM(16, 128, batch_first=True), nn.Linear(128, 10)

        def forward(self, x):
            return self.out(self.lstm(x)[1][0][0])
    return Seq()


# (input shape of one sample, classes); attn: T tokens of a vocabulary of 512
_DATA = {"iris": ((4,), 3), "mlp": ((784,), 10), "cnn": ((1, 28, 28), 10), "attn": ((64,), 512),
         "lstm": ((32, 16), 10), "resnet": ((3, 32, 32), 10)}


def _time_steps(step, steps, warmup, repeats=5):
    return _time_interleaved([step], steps, warmup, repeats)[0]


def _time_interleaved(fns, steps, warmup, repeats=7, per_repeat=False):
    """Median seconds per step of each function, timed in alternation so that
    both see the same drift of a shared, noisy machine (``per_repeat``: also the
    per-repeat lists, for paired ratios)."""
    for f in fns:
        for _ in range(warmup):
            f()
    per = [[] for _ in fns]
    for _ in range(repeats):
        for i, f in enumerate(fns):
            t0 = time.perf_counter()
            for _ in range(steps):
                f()
            getattr(f, "sync", lambda: None)()  # a device may still run the last steps
            per[i].append((time.perf_counter() - t0) / steps)
    med = [statistics.median(p) for p in per]
    return (med, per) if per_repeat else med


def make_vkgrad_step(kind, device, dtype, batch, capture=False):
    vg.set_default_device(device)
    vg.set_default_dtype(dtype)
    vg.set_check_finite(False)  # the loss is read once at the end, not every step
    vg.manual_seed(0)
    model = (_iris_model() if kind == "iris" else _mlp_model() if kind == "mlp" else
             _cnn_model(vg.nn) if kind == "cnn" else _lstm_model(vg.nn) if kind == "lstm" else
             _resnet_model(vg.nn, vg.nn.functional) if kind == "resnet" else _attn_model(vg.nn, vg))
    x, y = _batch(kind, batch)
    x, y = vg.tensor(x, dtype="i32" if x.dtype == np.int32 else None), vg.tensor(y)
    opt = vg.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def step():
        loss = vg.softmax_cross_entropy(model(x), y)
        opt.step(vg.backward(loss))
        return loss

    if capture:  # record the step once, then replay it (vkgrad.capture_step)
        xs, ys = x.numpy(), y.numpy()
        captured = vg.capture_step(lambda xb, yb: _step_on(model, opt, xb, yb))

        def step():
            return captured(xs, ys)
    step.sync = vg.get_backend(device).synchronize  # steps are submitted, not waited for
    return step


def _batch(kind, batch):
    """(inputs, targets) as NumPy arrays: standard normal samples and one-hot rows,
    or for attn int32 tokens [batch, T] and next tokens [batch * T] as one-hot rows."""
    fin, classes = _DATA[kind]
    r = np.random.default_rng(0)
    if kind == "attn":
        x = r.integers(0, classes, (batch,) + fin).astype(np.int32)
        return x, np.eye(classes, dtype=np.float32)[np.roll(x, -1, axis=1).reshape(-1)]
    return r.standard_normal((batch,) + fin), np.eye(classes)[r.integers(0, classes, batch)]


def _step_on(model, opt, xb, yb):
    loss = vg.softmax_cross_entropy(model(xb), yb)
    opt.step(vg.backward(loss))
    return loss


def bench_vkgrad(kind, device, dtype, steps, batch):
    step = make_vkgrad_step(kind, device, dtype, batch)
    t = _time_steps(step, steps, warmup=3)
    return t, step().item()


def make_torch_step(kind, batch, threads):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    nn = torch.nn
    if kind == "iris":
        model = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.BatchNorm1d(64), nn.Dropout(0.3),
                              nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 3))
    elif kind == "mlp":
        model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                              nn.Linear(1024, 10))
    elif kind == "cnn":
        model = _cnn_model(nn)
    elif kind == "lstm":
        model = _lstm_model(nn)
    elif kind == "resnet":
        model = _resnet_model(nn, torch.nn.functional)
    else:
        model = _attn_model(nn, torch.nn.functional)
    xs, ys = _batch(kind, batch)
    x = torch.tensor(xs, dtype=torch.long if kind == "attn" else torch.float32)
    y = torch.tensor(ys.argmax(1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = lossf(model(x), y)
        loss.backward()
        opt.step()

    return step


def bench_pair(kind, device, dtype, steps, batch, threads, with_torch, capture=False):
    """(vkgrad s/step, torch s/step or None, median of the paired time ratios or
    None, the steady state's work per step), timed in alternation."""
    fns = [make_vkgrad_step(kind, device, dtype, batch, capture)]
    if with_torch:
        fns.append(make_torch_step(kind, batch, threads))
    ts, per = _time_interleaved(fns, steps, warmup=3, per_repeat=True)
    work = steady_state(fns[0], device)
    if not with_torch:
        return ts[0], None, None, work
    return ts[0], ts[1], statistics.median(a / b for a, b in zip(per[0], per[1])), work


def steady_state(step, device, n=10):
    """Per step over n steps after the timed ones, on a device that records work:
    dispatches, queue submissions, barriers, and pipelines and buffers created
    (0 in a steady state); None on the CPU backend."""
    be = vg.get_backend(device)
    if not hasattr(be, "reset_counters"):
        return None
    be.synchronize()
    be.reset_counters()
    for _ in range(n):
        step()
    be.synchronize()
    c = be.counters
    per = {k: c[k] / n for k in ("dispatches", "submissions", "barriers")}
    per.update(pipelines_created=c["pipelines_created"], blocks_created=c["blocks_created"])
    return per


def _work_line(work):
    return ("" if work is None else
            f"   per step: {work['dispatches']:.0f} dispatches recorded, {work['submissions']:.2f} submissions, "
            f"{work['pipelines_created']} pipelines / {work['blocks_created']} buffers created")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="f32")
    ap.add_argument("--steps", type=int, default=200, help="iris steps per repeat (MLP: steps/20)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--only", help="comma-separated models to run after iris (mlp,cnn,attn,lstm; resnet only "
                                   "when named)")
    ap.add_argument("--capture", action="store_true",
                    help="replay a recorded step (vkgrad.capture_step) instead of eager steps")
    args = ap.parse_args(argv)
    try:
        import torch  # noqa: F401
        have_torch = not args.no_torch
    except ImportError:
        have_torch = False
    dev = vg.normalize_device(args.device)
    results = {"device": dev, "dtype": args.dtype, "torch": have_torch}
    print(f"vkgrad on {dev} ({args.dtype}); PyTorch CPU {'present' if have_torch else 'absent'}")

    cap = " (captured)" if args.capture else ""
    results["captured"] = args.capture
    t, tt, ratio, work = bench_pair("iris", dev, args.dtype, args.steps, 32, 1, have_torch, args.capture)
    line = f"iris 4-64-BN-drop-32-3, Adam, batch 32: vkgrad{cap} {t * 1e6:8.1f} us/step"
    results["iris_us_per_step"] = t * 1e6
    results["iris_per_step"] = work
    if have_torch:
        results["iris_torch_us_per_step"] = tt * 1e6
        results["iris_ratio_vs_torch"] = ratio
        line += f"   torch (1 thread) {tt * 1e6:8.1f} us/step   ratio {ratio:.2f}x time (paired median)"
    print(line + _work_line(work), flush=True)

    msteps = max(2, args.steps // 20)
    for kind, batch, label in (("mlp", 256, "MLP 784-1024-1024-10"),
                               ("cnn", 64, "CNN conv16-pool-conv32-pool-10 on 28x28"),
                               ("attn", 16, "transformer block (D 128, 4 heads, MLP 512) on 64 tokens of 512"),
                               ("lstm", 64, "LSTM 16-128 over 32 steps, last state -10"),
                               ("resnet", 32, "ResNet-like conv-BN 3->32, 2 residual blocks, GAP, -10 on 32x32")):
        if (args.only or kind == "resnet") and kind not in (args.only or "").split(","):
            continue
        t, tt, ratio, work = bench_pair(kind, dev, args.dtype, msteps, batch, 2, have_torch, args.capture)
        sps = batch / t
        results[f"{kind}_samples_per_s"] = sps
        results[f"{kind}_per_step"] = work
        line = f"{label}, Adam, batch {batch}: vkgrad{cap} {sps:9.0f} samples/s"
        if have_torch:
            results[f"{kind}_torch_samples_per_s"] = batch / tt
            results[f"{kind}_ratio_vs_torch"] = 1 / ratio
            line += f"   torch (2 threads) {batch / tt:9.0f} samples/s   ratio {1 / ratio:.2f}x (paired median)"
        print(line + _work_line(work), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
