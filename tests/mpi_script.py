"""Run under mpiexec by tests/test_distributed.py.

    python tests/mpi_script.py equiv OUT.npz     train, rank 0 saves the final weights
    python tests/mpi_script.py mismatch          rank 1 builds a different model
    python tests/mpi_script.py dead              rank 1 dies before the first all-reduce
    python tests/mpi_script.py dptrain OUT.npz   vg.parallel.dp_train(..., ranks=True)
    python tests/mpi_script.py syncbn OUT        SyncBatchNorm on each rank's half; OUT.<rank>.npz
"""
import os
import sys

import numpy as np

import vkgrad as vg
from vkgrad import distributed as dist

B, STEPS = 16, 6


def model_fn(hidden=16):
    from vkgrad import nn
    return nn.Sequential(nn.Linear(8, hidden, activation="tanh"), nn.Linear(hidden, 3))


def data():
    r = np.random.default_rng(5)
    return r.standard_normal((2 * B * STEPS, 8)), r.integers(0, 3, 2 * B * STEPS)


def syncbn_data():
    r = np.random.default_rng(6)
    return r.standard_normal((8, 3, 5)) * 2 + 1, r.standard_normal((8, 3, 5))


def syncbn_step(rank, world, device="cpu"):
    """Two steps of SyncBatchNorm (eval in between) on this rank's rows of the batch:
    outputs, the input's gradient, the weight's and bias's gradients, the running
    statistics (one process: BatchNorm on the whole batch)."""
    from vkgrad import nn
    X, G = syncbn_data()
    rows = np.array_split(np.arange(X.shape[0]), world)[rank]
    bn = nn.SyncBatchNorm(3, momentum=0.3, device=device, dtype="f64")
    bn.weight.assign_(np.array([1.5, -0.5, 2.0]))
    bn.bias.assign_(np.array([0.1, 0.2, -0.3]))
    x = vg.tensor(X[rows], device=device, dtype="f64", requires_grad=True)
    y = bn(x)
    (y * vg.tensor(G[rows], device=device, dtype="f64")).sum().backward()
    bn(vg.tensor(X[rows] * 0.5, device=device, dtype="f64"))
    bn.eval()
    e = bn(vg.tensor(X[rows], device=device, dtype="f64"))
    return {"y": y.numpy(), "gx": x.grad.numpy(), "gw": bn.weight.grad.numpy(), "gb": bn.bias.grad.numpy(),
            "rm": bn.running_mean.numpy(), "rv": bn.running_var.numpy(), "eval": e.numpy()}


def main():
    mode = sys.argv[1]
    vg.set_default_device(os.environ.get("VKGRAD_DEVICE", "cpu"))
    dist.init(timeout=float(os.environ.get("VKGRAD_DIST_TIMEOUT", "60")))
    r, w = dist.rank(), dist.world_size()
    if mode == "dptrain":
        x, y = data()
        model, hist = vg.parallel.dp_train(model_fn, x, y, vg.softmax_cross_entropy, iterations=STEPS,
                                           batch_size=2 * B, lr=1e-2, ranks=True, seed=100)
        if r == 0:
            vg.save(model, sys.argv[2])
            np.save(sys.argv[2] + ".hist.npy", np.array(hist))
        print(f"rank {r} done", flush=True)
        return
    if mode == "syncbn":
        np.savez(f"{sys.argv[2]}.{r}.npz", **syncbn_step(r, w))
        print(f"rank {r} done", flush=True)
        return
    vg.manual_seed(100 + r)  # different initial weights: the broadcast must fix that
    model = model_fn(17 if (mode == "mismatch" and r == 1) else 16)
    if mode == "dead" and r == 1:
        os._exit(3)
    dist.broadcast_parameters(model)
    opt = vg.optim.Adam(model.parameters(), lr=1e-2)
    x, y = data()
    for s in range(STEPS):
        rows = np.arange(s * 2 * B, (s + 1) * 2 * B)
        mine = np.array_split(rows, w)[r]
        loss = vg.softmax_cross_entropy(model(vg.tensor(x[mine])), y[mine])
        grads = vg.backward(loss)
        dist.allreduce_gradients(model, grads)
        opt.step(grads)
    if r == 0 and mode == "equiv":
        vg.save(model, sys.argv[2])
    print(f"rank {r} done", flush=True)


if __name__ == "__main__":
    main()
