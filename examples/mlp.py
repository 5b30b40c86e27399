"""A larger model: MLP 784-1024-1024-10 on a synthetic 10-class set (MNIST-sized rows).

    python examples/mlp.py [--device auto|cpu|vulkan] [--amp] [--epochs 3] [--n 6000]

--amp trains with vg.autocast("f16") and dynamic loss scaling (f32 master weights).
"""
import argparse
import time

import numpy as np

import vkgrad as vg
from vkgrad import nn
from vkgrad.datasets import synthetic_classification


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--amp", action="store_true")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--n", type=int, default=6000)
    ap.add_argument("--batch", type=int, default=256)
    a = ap.parse_args(argv)
    vg.set_default_device(a.device)
    vg.manual_seed(0)
    x, y = synthetic_classification(a.n, 784, 10, seed=3, noise=13.0)
    split = int(0.8 * a.n)
    model = nn.Sequential(nn.Linear(784, 1024, activation="relu"),
                          nn.Linear(1024, 1024, activation="relu"), nn.Linear(1024, 10))
    opt = vg.optim.Adam(model.parameters(), lr=1e-3)
    scaler = vg.amp.GradScaler(enabled=a.amp)
    loader = vg.data.DataLoader(x[:split], y[:split], batch_size=a.batch, seed=0)
    print(f"device {vg.get_default_device()}, {'f16 autocast' if a.amp else 'f32'}, "
          f"{len(loader)} batches per epoch")
    t0 = time.perf_counter()
    for ep in range(1, a.epochs + 1):
        for xb, yb in loader:
            with vg.autocast("f16", enabled=a.amp):
                loss = vg.softmax_cross_entropy(model(xb), yb)
            scaler.step(opt, vg.backward(scaler.scale(loss)))
            scaler.update()
        with vg.no_grad():
            pred = np.concatenate([model(vg.tensor(x[s:s + 512])).numpy().argmax(1)
                                   for s in range(split, a.n, 512)])
        acc = float(np.mean(pred == y[split:]))
        print(f"epoch {ep}  loss {loss.item():.4f}  test accuracy {acc:.4f}  "
              f"({(time.perf_counter() - t0):.1f} s)")
    return acc


if __name__ == "__main__":
    main()
