"""A small convolutional network on 16 x 16 images: Conv2d, BatchNorm2d, ReLU,
MaxPool2d, AdaptiveAvgPool2d and a linear classifier, trained with Adam on
synthetic shapes (a horizontal bar, a vertical bar, a diagonal or a hollow
square, anywhere in the image, in noise: NumPy, seeded).

    python examples/cnn.py [--device cpu|vulkan] [--dtype f32|f16] [--epochs 6]
"""
import argparse

import numpy as np

import vkgrad as vg
from vkgrad import nn

CLASSES = ("horizontal", "vertical", "diagonal", "square")


def shapes(n, rng, side=16):
    """n noisy images [n, 1, side, side] and their labels."""
    x = rng.normal(0.0, 0.35, (n, 1, side, side)).astype(np.float32)
    y = rng.integers(0, len(CLASSES), n)
    for img, label in zip(x[:, 0], y):
        k = rng.integers(5, 9)  # the shape's length
        r, c = rng.integers(0, side - k, 2)
        if label == 0:
            img[r, c:c + k] += 1.0
        elif label == 1:
            img[r:r + k, c] += 1.0
        elif label == 2:
            img[r + np.arange(k), c + np.arange(k)] += 1.0
        else:
            img[r, c:c + k] += 1.0
            img[r + k - 1, c:c + k] += 1.0
            img[r:r + k, c] += 1.0
            img[r:r + k, c + k - 1] += 1.0
    return x, y.astype(np.int32)


def model():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(32, len(CLASSES)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="f32")
    ap.add_argument("--epochs", type=int, default=6)
    args = ap.parse_args(argv)
    vg.set_default_device(args.device)
    vg.set_default_dtype(args.dtype)
    vg.manual_seed(0)
    rng = np.random.default_rng(0)
    x_tr, y_tr = shapes(2048, rng)
    x_va, y_va = shapes(512, rng)
    net = model()
    print(f"device {vg.get_default_device()}, dtype {args.dtype}")
    print(net)
    opt = vg.optim.Adam(net.parameters(), lr=3e-3)
    sched = vg.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    loader = vg.data.DataLoader(x_tr, y_tr, batch_size=64, shuffle=True, seed=0)
    acc = 0.0
    for epoch in range(args.epochs):
        net.train()
        total, count = 0.0, 0
        for xb, yb in loader:
            loss = vg.softmax_cross_entropy(net(xb), yb)
            opt.step(vg.backward(loss))
            total, count = total + loss.item() * len(yb), count + len(yb)
        sched.step()
        net.eval()
        with vg.no_grad():
            pred = np.argmax(net(vg.tensor(x_va)).numpy(), 1)
        acc = float((pred == y_va).mean())
        print(f"epoch {epoch + 1}: train loss {total / count:.4f}, val acc {acc:.4f}", flush=True)
    return acc


if __name__ == "__main__":
    main()
