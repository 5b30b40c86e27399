"""An LSTM (or GRU) reads sequences of 20 digits, one of them marked, and names
the marked digit at the end: it has to store a value when the marker passes and
keep it through the rest of the sequence.  Inputs [N, 20, 11] (a digit's one-hot
row and the marker bit; batch_first), the last hidden state through a linear map
to the 10 digits; Adam with gradient clipping.  Accuracy on held-out sequences.

    python examples/sequence.py [--device cpu|vulkan] [--dtype f32|f16] [--cell lstm|gru] [--epochs 6]
"""
import argparse

import numpy as np

import vkgrad as vg
from vkgrad import nn

DIGITS, LENGTH = 10, 20


class Reader(nn.Module):
    def __init__(self, cell="lstm", hidden=64):
        super().__init__()
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.rnn = rnn(DIGITS + 1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, DIGITS)

    def forward(self, x):  # [N, LENGTH, 11] -> logits [N, 10]
        _, state = self.rnn(x)
        h_n = state[0] if isinstance(state, tuple) else state  # the LSTM's (h_n, c_n)
        return self.head(h_n[0])


def sequences(n, rng):
    digits = rng.integers(0, DIGITS, (n, LENGTH))
    marked = rng.integers(0, LENGTH, n)
    x = np.zeros((n, LENGTH, DIGITS + 1), np.float32)
    x[np.arange(n)[:, None], np.arange(LENGTH), digits] = 1.0
    x[np.arange(n), marked, DIGITS] = 1.0
    return x, digits[np.arange(n), marked].astype(np.int32)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="f32")
    ap.add_argument("--cell", default="lstm", choices=["lstm", "gru"])
    ap.add_argument("--epochs", type=int, default=6)
    args = ap.parse_args(argv)
    vg.set_default_device(args.device)
    vg.set_default_dtype(args.dtype)
    vg.manual_seed(0)
    rng = np.random.default_rng(0)
    x_tr, y_tr = sequences(4096, rng)
    x_va, y_va = sequences(512, rng)
    net = Reader(args.cell)
    print(f"device {vg.get_default_device()}, dtype {args.dtype}, {args.cell}, "
          f"{sum(p.size for p in net.parameters())} parameters")
    opt = vg.optim.Adam(net.parameters(), lr=3e-3)
    loader = vg.data.DataLoader(x_tr, y_tr, batch_size=64, shuffle=True, seed=0)
    acc = 0.0
    for epoch in range(args.epochs):
        net.train()
        total, count = 0.0, 0
        for xb, yb in loader:
            loss = vg.softmax_cross_entropy(net(xb), yb)
            grads = vg.backward(loss)
            vg.nn.utils.clip_grad_norm_(net.parameters(), 1.0, grads=grads)
            opt.step(grads)
            total, count = total + loss.item() * len(yb), count + len(yb)
        net.eval()
        with vg.no_grad():
            acc = float((np.argmax(net(vg.tensor(x_va)).numpy(), 1) == y_va).mean())
        print(f"epoch {epoch + 1}: train loss {total / count:.4f}, val accuracy {acc:.4f}", flush=True)
    return acc


if __name__ == "__main__":
    main()
