"""Samples per second of data-parallel MLP training (784-1024-1024-10, global
batch 256, Adam) with 1 and 2 MPI ranks on this machine.

    python benchmarks/distributed.py [--steps 10] [--device cpu]

Launches ``mpiexec -n N`` on itself; each rank takes 256/N rows of every
global batch and all-reduces one flattened gradient buffer per step.  BLAS
threads per rank = cores / ranks, so the ranks do not oversubscribe the CPU."""
import argparse
import os
import shutil
import subprocess
import sys
import time

import numpy as np


def worker(steps, device):
    import vkgrad as vg
    from vkgrad import distributed as dist
    from vkgrad import nn
    vg.set_default_device(device)
    vg.set_check_finite(False)
    dist.init()
    r, w = dist.rank(), dist.world_size()
    vg.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 1024, activation="relu"),
                          nn.Linear(1024, 1024, activation="relu"), nn.Linear(1024, 10))
    dist.broadcast_parameters(model)
    opt = vg.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(r)
    x = rng.standard_normal((256 // w, 784)).astype(np.float32)
    y = rng.integers(0, 10, 256 // w)

    def step():
        g = vg.backward(vg.softmax_cross_entropy(model(vg.tensor(x)), y))
        dist.allreduce_gradients(model, g)
        opt.step(g)

    step()
    dist.barrier()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dist.barrier()
    dt = time.perf_counter() - t0
    if r == 0:
        print(f"RESULT {w} {256 * steps / dt:.1f}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a.steps, a.device)
    mpiexec = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
    if mpiexec is None:
        sys.exit("mpiexec not found: pip install mpi4py mpich")
    cores = os.cpu_count() or 1
    res = {}
    for n in (1, 2):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(max(1, cores // n)),
                   OMP_NUM_THREADS=str(max(1, cores // n)))
        out = subprocess.run([mpiexec, "-n", str(n), sys.executable, __file__, "--worker",
                              "--steps", str(a.steps), "--device", a.device],
                             capture_output=True, text=True, env=env, timeout=900)
        line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")]
        if out.returncode != 0 or not line:
            sys.exit(f"{n} ranks failed:\n{out.stdout}\n{out.stderr}")
        res[n] = float(line[0].split()[2])
        print(f"{n} rank(s), {max(1, cores // n)} BLAS thread(s) each: {res[n]:9.1f} samples/s", flush=True)
    print(f"2 ranks / 1 rank: {res[2] / res[1]:.2f}x on {cores} cores")


if __name__ == "__main__":
    main()
