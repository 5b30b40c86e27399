"""A small transformer encoder learns to sort sequences of 8 digits: token and
learned position embeddings, nn.TransformerEncoder (pre-norm layers, GELU), a
linear map to the vocabulary at every position; trained with AdamW and a cosine
schedule on random sequences (NumPy, seeded).  Accuracy on held-out sequences,
per token and per whole sequence.

    python examples/transformer.py [--device cpu|vulkan] [--dtype f32|f16] [--epochs 8]
"""
import argparse

import numpy as np

import vkgrad as vg
from vkgrad import nn

VOCAB, LENGTH = 10, 8


class Sorter(nn.Module):
    def __init__(self, d_model=48, heads=4, layers=2):
        super().__init__()
        self.tok, self.pos = nn.Embedding(VOCAB, d_model), nn.Embedding(LENGTH, d_model)
        layer = nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d_model))
        self.head = nn.Linear(d_model, VOCAB)
        self.positions = None

    def forward(self, tokens):  # tokens: int32 [N, LENGTH] -> logits [N * LENGTH, VOCAB]
        n = tokens.shape[0]
        if self.positions is None or self.positions.shape[0] != n * LENGTH:
            self.positions = vg.tensor(np.tile(np.arange(LENGTH, dtype=np.int32), n), device=tokens.device)
        x = self.tok(tokens.reshape((n * LENGTH,))) + self.pos(self.positions)
        return self.head(self.encoder(x.reshape((n, LENGTH, -1)))).reshape((n * LENGTH, VOCAB))


def batches(n, rng):
    x = rng.integers(0, VOCAB, (n, LENGTH)).astype(np.int32)
    return x, np.sort(x, axis=1).reshape(-1).astype(np.int32)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="f32")
    ap.add_argument("--epochs", type=int, default=8)
    args = ap.parse_args(argv)
    vg.set_default_device(args.device)
    vg.set_default_dtype(args.dtype)
    vg.manual_seed(0)
    rng = np.random.default_rng(0)
    x_tr, y_tr = batches(4096, rng)
    x_va, y_va = batches(512, rng)
    net = Sorter()
    print(f"device {vg.get_default_device()}, dtype {args.dtype}, "
          f"{sum(p.size for p in net.parameters())} parameters")
    opt = vg.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=0.01)
    loader = vg.data.DataLoader(x_tr, y_tr.reshape(-1, LENGTH), batch_size=64, shuffle=True, seed=0)
    sched = vg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs * len(loader))
    acc = 0.0
    for epoch in range(args.epochs):
        net.train()
        total, count = 0.0, 0
        for xb, yb in loader:
            loss = vg.softmax_cross_entropy(net(xb), yb.reshape((-1,)))
            opt.step(vg.backward(loss))
            sched.step()
            total, count = total + loss.item() * len(yb), count + len(yb)
        net.eval()
        with vg.no_grad():
            pred = np.argmax(net(vg.tensor(x_va)).numpy(), 1)
        acc = float((pred == y_va).mean())
        whole = float((pred == y_va).reshape(-1, LENGTH).all(1).mean())
        print(f"epoch {epoch + 1}: train loss {total / count:.4f}, val accuracy per token {acc:.4f}, "
              f"per sequence {whole:.4f}", flush=True)
    return acc


if __name__ == "__main__":
    main()
