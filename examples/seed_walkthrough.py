"""The ggmlR autograd vignette, section by section, in vkgrad (batch-first).

    python examples/seed_walkthrough.py [--device auto|cpu|vulkan] [--quick]
"""
import argparse

import numpy as np

import vkgrad as vg
from vkgrad import nn
from vkgrad.datasets import iris_split

ap = argparse.ArgumentParser()
ap.add_argument("--device", default="auto")
ap.add_argument("--quick", action="store_true", help="fewer epochs (for tests)")
args = ap.parse_args()
vg.set_default_device(args.device)
E = 0.2 if args.quick else 1.0  # epoch scale


def epochs(n):
    return max(2, int(n * E))


print(f"== device {vg.get_default_device()}")

# 1. Core primitives: tensors, parameters, the tape, named gradients
x = vg.tensor(np.arange(1, 7).reshape(3, 2) / 6)      # [3, 2]: batch 3, 2 features
rng = np.random.default_rng(0)
W = vg.Parameter(rng.standard_normal((2, 2)), name="W")
b = vg.Parameter(np.zeros(2), name="b")
with vg.grad_tape():
    h = vg.relu(vg.add(vg.matmul(x, W), b))             # [3, 2]
    loss = vg.mean(vg.mul(h, h))
grads = vg.backward(loss)
print("1. dL/dW:\n", np.asarray(grads["W"]), "\n   dL/db:", np.asarray(grads["b"]))

# 2. Built-in operations (see README for the full list)
z = vg.tensor(rng.standard_normal((4, 3)))
for name, out in [("sigmoid", vg.sigmoid(z)), ("tanh", vg.tanh(z)), ("gelu", vg.gelu(z)),
                  ("softmax", vg.softmax(z)), ("transpose", vg.transpose(z)),
                  ("reshape", vg.reshape(z, (2, -1)))]:
    print(f"2. {name:9s} -> shape {out.shape}")
print("2. sum", vg.sum(z).item(), " mean", vg.mean(z).item())

# 3. Sequential module on iris (standardised, 120/30 split)
x_tr, y_tr, x_vl, y_vl = iris_split(seed=42)
vg.manual_seed(42)
model = nn.Sequential(
    nn.Linear(4, 64, activation="relu"),
    nn.BatchNorm1d(64),
    nn.Dropout(0.3),
    nn.Linear(64, 32, activation="relu"),
    nn.Linear(32, 3),
)
params = model.parameters()
print("3. parameter tensors:", len(params))

# 4. Optimizers and the manual training loop
opt = vg.optim.Adam(params, lr=1e-3)
opt_sgd = vg.optim.SGD(params, lr=0.05, momentum=0.9)
BS, n = 32, len(x_tr)
model.train()
r = np.random.default_rng(1)
for ep in range(1, epochs(150) + 1):
    perm = r.permutation(n)
    for s in range(0, n, BS):
        idx = perm[s:s + BS]
        xb = vg.tensor(x_tr[idx])
        with vg.grad_tape():
            loss = vg.softmax_cross_entropy(model(xb), y_tr[idx])
        grads = vg.backward(loss)
        opt.step(grads)
        opt.zero_grad()
    if ep % 50 == 0:
        print(f"4. epoch {ep:3d}  loss {loss.item():.4f}")
for ep in range(epochs(20)):                              # a few epochs of SGD + momentum
    for s in range(0, n, BS):
        with vg.grad_tape():
            loss = vg.softmax_cross_entropy(model(vg.tensor(x_tr[s:s + BS])), y_tr[s:s + BS])
        opt_sgd.step(vg.backward(loss))
print(f"4. after SGD+momentum: loss {loss.item():.4f}")

# 5. LR schedulers (step() after each epoch)
opt2 = vg.optim.Adam(params, lr=1e-3)
sch_cos = vg.optim.lr_scheduler.CosineAnnealingLR(opt2, T_max=150, lr_min=1e-5)
lrs = [sch_cos.step() for _ in range(150)]
print(f"5. cosine: lr after 1 epoch {lrs[0]:.6g}, after 75 {lrs[74]:.6g}, after 150 {lrs[-1]:.6g}")
opt3 = vg.optim.Adam(params, lr=1e-3)
sch_step = vg.optim.lr_scheduler.StepLR(opt3, step_size=30, gamma=0.5)
lrs = [sch_step.step() for _ in range(90)]
print(f"5. step: lr after 29 {lrs[28]:.6g}, 30 {lrs[29]:.6g}, 90 {lrs[89]:.6g}")

# 6. Gradient clipping (global L2 norm, in place, on the device)
with vg.grad_tape():
    loss = vg.softmax_cross_entropy(model(vg.tensor(x_tr)), y_tr)
grads = vg.backward(loss)
norm = vg.clip_grad_norm(params, max_norm=5.0, grads=grads)
opt.step(grads)
opt.zero_grad()
print(f"6. gradient norm before clipping: {norm.item():.4f}")

# 7. DataLoader
dl = vg.data.DataLoader(x_tr, y_tr, batch_size=BS, shuffle=True, seed=7)
model.train()
for ep in range(epochs(100)):
    for xb, yb in dl:
        with vg.grad_tape():
            loss = vg.softmax_cross_entropy(model(xb), yb)
        opt.step(vg.backward(loss))
        opt.zero_grad()
print(f"7. {len(dl)} batches per epoch; last loss {loss.item():.4f}")

# 8. Eval mode and chunked inference
model.eval()


def predict(mod, xs, chunk=64):
    out = []
    with vg.no_grad():
        for s in range(0, len(xs), chunk):
            out.append(vg.softmax(mod(vg.tensor(xs[s:s + chunk]))).numpy())
    return np.concatenate(out)


probs = predict(model, x_vl)
print(f"8. Val accuracy: {np.mean(probs.argmax(1) == y_vl.argmax(1)):.4f}")

# 9. Raw parameters, full manual control
vg.manual_seed(7)
r7 = np.random.default_rng(7)
raw = {"W1": vg.Parameter(r7.standard_normal((4, 64)) * np.sqrt(2 / 4)),
       "b1": vg.Parameter(np.zeros(64)),
       "W2": vg.Parameter(r7.standard_normal((64, 3)) * np.sqrt(2 / 64)),
       "b2": vg.Parameter(np.zeros(3))}


def forward(xb):
    return vg.add(vg.matmul(vg.relu(vg.add(vg.matmul(xb, raw["W1"]), raw["b1"])), raw["W2"]), raw["b2"])


opt_raw = vg.optim.Adam(raw, lr=1e-3)
for ep in range(epochs(200)):
    perm = r7.permutation(n)
    for s in range(0, n, BS):
        idx = perm[s:s + BS]
        with vg.grad_tape():
            loss_r = vg.softmax_cross_entropy(forward(vg.tensor(x_tr[idx])), y_tr[idx])
        gr = vg.backward(loss_r)
        opt_raw.step(gr)
        opt_raw.zero_grad()
with vg.no_grad():
    acc = np.mean(forward(vg.tensor(x_vl)).numpy().argmax(1) == y_vl.argmax(1))
print(f"9. raw-parameter model: gradient keys {sorted(gr)}; val accuracy {acc:.4f}")

# 10. Mixed precision: f16 storage on a Vulkan device, f32 on the CPU; f32 master
#     weights in the optimizer and dynamic loss scaling
dtype = "f16" if vg.get_default_device().startswith("vulkan") else "f32"
vg.set_default_dtype(dtype)
print(f"10. default dtype now {vg.get_default_dtype()}: new tensors are {vg.tensor([1.0]).dtype}")
vg.manual_seed(42)
model16 = nn.Sequential(nn.Linear(4, 64, activation="relu"), nn.BatchNorm1d(64),
                        nn.Linear(64, 32, activation="relu"), nn.Linear(32, 3))
opt16 = vg.optim.Adam(model16.parameters(), lr=1e-2)
scaler = vg.amp.GradScaler()
for ep in range(epochs(40)):
    for xb, yb in dl:
        with vg.autocast("f16"):  # also on the CPU: f16 storage, f32 arithmetic
            loss = vg.softmax_cross_entropy(model16(xb), yb)
        scaler.step(opt16, vg.backward(scaler.scale(loss)))
        scaler.update()
model16.eval()
with vg.no_grad():
    acc16 = np.mean(model16(vg.tensor(x_vl)).numpy().argmax(1) == y_vl.argmax(1))
print(f"10. mixed precision: loss scale {scaler.get_scale():.0f}, val accuracy {acc16:.4f}")
vg.set_default_dtype("f32")

# 11. Data-parallel training: replicas on several devices (here two on the CPU, or
#     CPU + Vulkan), gradients averaged, replicas identical; across machines the
#     same call takes ranks=True under `mpiexec -n N` (see README)
devices = ["cpu", "vulkan"] if vg.vulkan_available() else ["cpu", "cpu"]


def make_model():
    return nn.Sequential(nn.Linear(4, 64, activation="relu"), nn.Linear(64, 3))


dp_model, history = vg.parallel.dp_train(make_model, x_tr, y_tr, vg.softmax_cross_entropy,
                                         iterations=epochs(300), devices=devices, batch_size=32,
                                         lr=1e-2)
with vg.no_grad():
    acc_dp = np.mean(dp_model(vg.tensor(x_vl, device=devices[0])).numpy().argmax(1) == y_vl.argmax(1))
print(f"11. dp_train on {devices}: loss {history[0]:.3f} -> {history[-1]:.3f}, val accuracy {acc_dp:.4f}")
