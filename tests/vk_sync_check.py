"""Forward, backward, clipping and an Adam step of the seed's iris model on
Vulkan, and of a layer large enough for the subgroup matmul (texel buffer
reads, every transpose); run by tests/test_vulkan.py under the Khronos
validation layer."""
import numpy as np

import vkgrad as vg
from vkgrad import nn

vg.set_default_device("vulkan")
vg.set_default_dtype(__import__("os").environ.get("VKGRAD_DTYPE", "f32"))
vg.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 64, activation="relu"), nn.BatchNorm1d(64), nn.Dropout(0.3),
                      nn.Linear(64, 32, activation="relu"), nn.Linear(32, 3))
opt = vg.optim.Adam(model.parameters(), lr=1e-3)
sgd = vg.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
x = vg.tensor(np.random.default_rng(0).standard_normal((32, 4)))
y = np.random.default_rng(1).integers(0, 3, 32)
for step in range(3):
    loss = vg.softmax_cross_entropy(model(x), y)
    g = vg.backward(loss)
    vg.clip_grad_norm(model.parameters(), 1.0, grads=g)
    (opt if step % 2 == 0 else sgd).step(g)
big = nn.Linear(256, 128, activation="tanh")  # 64x256x128: matmul_sg forward, dX and dW
xb = vg.tensor(np.random.default_rng(2).standard_normal((64, 256)), requires_grad=True)
lb = np.random.default_rng(3).integers(0, 128, 64)
gb = vg.backward(big(xb).sum() + vg.softmax_cross_entropy(big(xb), lb))  # rows of quads: the xent twin
vg.optim.SGD(big.parameters(), lr=1e-3).step(gb)
vg.optim.Adam(big.parameters(), lr=1e-3).step(gb)  # 32768 + 128 elements
wide = vg.Parameter(np.linspace(-1, 1, 70000), name="wide")  # large: Adam's own (texel-read) dispatch
gw = vg.backward((wide * wide).sum())
vg.optim.Adam({"wide": wide}, lr=1e-3).step(gw)
print("wide", float(wide.sum().item()))
odd = vg.tensor(np.ones((65, 257))) @ vg.tensor(np.ones((257, 33)))  # K = 257: padded operands (pad2d)
tr = (xb.T * 2.0).sum()  # a strided copy (the texel twin on CPU devices)
gs = vg.backward(xb[:, 8:200].sum())  # a slice gradient (unslice's texel twin on CPU devices)
rows_odd = vg.tensor(np.ones((70, 1001))).sum(1)  # odd rows: padded to quads, then reduce4
print("slice grad", float(list(gs.values())[0].sum().item()), "odd rows", float(rows_odd.sum().item()))
empty = vg.tensor(np.zeros((0, 3)))  # empty operands still bind a non-empty range
print("empty", (empty.exp() * empty + 1.0).numpy().shape, empty.T.numpy().shape, empty.sum().item())
print("softmax", vg.softmax(big(xb)).numpy().shape, "odd", float(odd.sum().item()), "transpose", float(tr.item()))
print("big", big.weight.numpy().shape, [tuple(g.shape) for g in gb.values()])
model.eval()
with vg.no_grad():
    p = vg.softmax(model(x)).numpy()
print("loss", loss.item(), "probs", p.shape)
# session 16's paths: the recurrence's fused cells on row views (packed lengths too), a
# split's joint gradient, cat by halves, index_add's spans, the Adam forms' push block
lstm = nn.LSTM(4, 8, batch_first=True, bidirectional=True)
gru = nn.GRU(4, 8)
xs = vg.tensor(np.random.default_rng(4).standard_normal((3, 5, 4)), requires_grad=True)
packed = nn.utils.rnn.pack_padded_sequence(xs, [5, 2, 4], batch_first=True, enforce_sorted=False)
out, (hn, cn) = lstm(packed)
gl = vg.backward(nn.utils.rnn.pad_packed_sequence(out)[0].sum() + hn.sum() + gru(xs)[0].sum())
vg.optim.NAdam(lstm.parameters(), lr=1e-3).step(gl)
vg.optim.RAdam(gru.parameters(), lr=1e-3).step(gl)
parts = vg.tensor(np.ones((7, 6)), requires_grad=True)
gp = vg.backward(vg.cat([p * (i + 1.0) for i, p in enumerate(parts.unbind(0))], 0).sum())
emb = vg.Parameter(np.ones((4, 3000)))
ge = vg.backward(vg.embedding(np.array([0, 1, 1, 3]), emb).sum())
print("rnn", float(hn.sum().item()), "parts", float(list(gp.values())[0].sum().item()),
      "emb", float(list(ge.values())[0].sum().item()))
# session 17's paths: the bitonic sort's in-place passes, gather / scatter's primitives,
# the recurrence writing its steps into row views (aligned rows), in-place ops
srt = vg.tensor(np.random.default_rng(5).standard_normal((6, 300)), requires_grad=True)
vals, idx = vg.topk(srt, 5)
gsort = vg.backward(vals.sum() + vg.gather(srt, 1, idx).sum() + vg.scatter_add(srt, 1, idx, vals).sum())
lstm2 = nn.LSTM(4, 8)  # rows of 4 x 8: the cells write into the stacked output
xs2 = vg.tensor(np.random.default_rng(6).standard_normal((5, 4, 4)), requires_grad=True)
glstm = vg.backward(lstm2(xs2)[0].sum())
with vg.no_grad():
    srt.mul_(0.5)
    srt[0, :3] = 1.0
print("sort", float(vals.sum().item()), "gather", float(list(gsort.values())[0].sum().item()),
      "lstm views", float(list(glstm.values())[0].sum().item()), "inplace", float(srt.sum().item()))
