"""A binary classifier written as PyTorch code reads, in vkgrad: a Module with a
ModuleList of residual blocks (Linear, LayerNorm, SiLU, Dropout), kaiming
initialisation, AdamW with a LinearLR warm-up, BCEWithLogitsLoss, gradient
clipping, ReduceLROnPlateau on the validation loss, evaluation under no_grad, a
checkpoint saved and loaded.  Data: two interleaved spirals (NumPy, seeded).

    python examples/pytorch_style.py [--device cpu|vulkan] [--dtype f32|f16] [--epochs 40]
"""
import argparse
import os
import tempfile

import numpy as np

import vkgrad as vg
from vkgrad import nn, optim


def spirals(n, rng):
    t = rng.uniform(0.25, 3.0, n) * np.pi
    label = rng.integers(0, 2, n)
    r = t / (3 * np.pi)
    x = np.stack([r * np.cos(t + label * np.pi), r * np.sin(t + label * np.pi)], 1)
    return (x + rng.normal(0, 0.02, x.shape)).astype(np.float32), label.astype(np.float32)


class Block(nn.Module):
    def __init__(self, width, p):
        super().__init__()
        self.lin, self.norm, self.act, self.drop = nn.Linear(width, width), nn.LayerNorm(width), nn.SiLU(), nn.Dropout(p)

    def forward(self, x):
        return x + self.drop(self.act(self.norm(self.lin(x))))


class Net(nn.Module):
    def __init__(self, width=64, depth=3, p=0.05):
        super().__init__()
        self.inp = nn.Linear(2, width)
        self.blocks = nn.ModuleList([Block(width, p) for _ in range(depth)])
        self.out = nn.Linear(width, 1)

    def forward(self, x):
        h = self.inp(x)
        for b in self.blocks:
            h = b(h)
        return self.out(h).squeeze(-1)


def init_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
        nn.init.zeros_(m.bias)


def evaluate(model, x, y, loss_fn):
    model.eval()
    with vg.no_grad():
        logits = model(x)
        loss = loss_fn(logits, y).item()
        acc = vg.mean(vg.eq(logits > 0, y)).item()
    model.train()
    return loss, acc


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default=None)
    ap.add_argument("--dtype", default="f32", choices=["f32", "f16"])
    ap.add_argument("--epochs", type=int, default=40)
    args = ap.parse_args(argv)
    device = args.device or vg.get_default_device()
    vg.manual_seed(0)
    rng = np.random.default_rng(0)
    xtr, ytr = spirals(2000, rng)
    xva, yva = spirals(500, rng)
    model = Net().to(device=device, dtype=args.dtype)
    model.apply(init_weights)
    opt = optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    warmup = optim.lr_scheduler.LinearLR(opt, start_factor=0.2, total_iters=5)
    plateau = optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=3)
    loss_fn = nn.BCEWithLogitsLoss()
    loader = vg.data.DataLoader(xtr, ytr, batch_size=64, shuffle=True)
    T = lambda a, dt=args.dtype: vg.tensor(a, device=device, dtype=dt)  # noqa: E731
    xv, yv = T(xva), T(yva)
    for epoch in range(1, args.epochs + 1):
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(T(xb.numpy())), T(yb.numpy()))
            loss.backward()
            vg.clip_grad_norm(model.parameters(), 1.0)
            opt.step()
        val_loss, val_acc = evaluate(model, xv, yv, loss_fn)
        if epoch <= 5:
            warmup.step()
        else:
            plateau.step(val_loss)
        if epoch % 10 == 0 or epoch == args.epochs:
            print(f"epoch {epoch:3d}  val loss {val_loss:.4f}  val acc {val_acc:.4f}  lr {opt.lr:.2e}", flush=True)
    path = os.path.join(tempfile.mkdtemp(), "spirals.npz")
    vg.save({"model": model, "opt": opt.state_dict()}, path)
    again = Net().to(device=device, dtype=args.dtype)
    again.load_state_dict(vg.load(path)["model"])
    _, acc_loaded = evaluate(again, xv, yv, loss_fn)
    print(f"Val accuracy: {val_acc:.4f} (reloaded from {os.path.basename(path)}: {acc_loaded:.4f})")
    return val_acc, acc_loaded


if __name__ == "__main__":
    main()
