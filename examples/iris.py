"""The seed's iris model, trained with Adam on the default device.

    python examples/iris.py [--device auto|cpu|vulkan] [--dtype f32|f16] [--epochs 150] [--capture]

Model: Linear(4, 64, relu) -> BatchNorm1d(64) -> Dropout(0.3) ->
Linear(64, 32, relu) -> Linear(32, 3); softmax cross-entropy; batch 32.
"""
import argparse
import time

import numpy as np

import vkgrad as vg
from vkgrad import nn
from vkgrad.datasets import iris_split


def build_model():
    return nn.Sequential(
        nn.Linear(4, 64, activation="relu"),
        nn.BatchNorm1d(64),
        nn.Dropout(0.3),
        nn.Linear(64, 32, activation="relu"),
        nn.Linear(32, 3),
    )


def accuracy(model, x, y_onehot, chunk=64):
    """Eval-mode forward in chunks (the seed's predict_cm), then arg-max accuracy."""
    model.eval()
    preds = []
    with vg.no_grad():
        for s in range(0, len(x), chunk):
            probs = vg.softmax(model(vg.tensor(x[s:s + chunk]))).numpy()
            preds.append(probs.argmax(axis=1))
    model.train()
    return float(np.mean(np.concatenate(preds) == y_onehot.argmax(axis=1)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="f32")
    ap.add_argument("--epochs", type=int, default=150)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--capture", action="store_true",
                    help="record the training step once and replay it (vg.capture_step)")
    args = ap.parse_args(argv)

    vg.set_default_device(args.device)
    vg.set_default_dtype(args.dtype)
    vg.manual_seed(42)
    x_tr, y_tr, x_vl, y_vl = iris_split(seed=42)
    print(f"device: {vg.get_default_device()}  dtype: {args.dtype}  "
          f"train {len(x_tr)} / val {len(x_vl)} samples")

    model = build_model()
    params = model.parameters()
    print(f"parameter tensors: {len(params)}")
    opt = vg.optim.Adam(params, lr=args.lr)
    # device="cpu": batches stay NumPy-backed, so a captured step can take them
    loader = vg.data.DataLoader(x_tr, y_tr, batch_size=32, shuffle=True, seed=1,
                                device="cpu" if args.capture else None)

    def train_step(xb, yb):
        with vg.grad_tape():
            loss = vg.softmax_cross_entropy(model(xb), yb)
        grads = vg.backward(loss)
        opt.step(grads)
        opt.zero_grad()
        return loss

    if args.capture:  # replays skip the NaN check (a host read); the loss is read below
        vg.set_check_finite(False)
        train_step = vg.capture_step(train_step)

    model.train()
    t0 = time.perf_counter()
    for ep in range(1, args.epochs + 1):
        for xb, yb in loader:
            loss = train_step(xb, yb)
        if ep % 25 == 0 or ep == args.epochs:
            print(f"epoch {ep:4d}  loss {loss.item():.4f}  val acc {accuracy(model, x_vl, y_vl):.4f}"
                  f"  ({time.perf_counter() - t0:.1f} s)")
    acc = accuracy(model, x_vl, y_vl)
    print(f"Val accuracy: {acc:.4f}")
    return acc


if __name__ == "__main__":
    main()
