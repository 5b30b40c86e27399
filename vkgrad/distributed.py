"""Data-parallel training across processes and machines over MPI (mpi4py).

Launch with ``mpiexec -n N python train.py``; in the script::

    import vkgrad as vg
    from vkgrad import distributed as dist
    dist.init()                                  # rank(), world_size()
    model = build_model()
    dist.broadcast_parameters(model)             # every rank starts from rank 0's weights
    loader = dist.shard(vg.data.DataLoader(x, y, batch_size=32, seed=0))
    for xb, yb in loader:
        grads = vg.backward(vg.softmax_cross_entropy(model(xb), yb))
        dist.allreduce_gradients(model, grads)   # one flattened all-reduce per step
        opt.step(grads)

Every collective waits at most ``timeout`` seconds (``init(timeout=...)``);
when a rank has died or stopped answering, the waiting ranks print what they
were waiting for and call ``MPI_Abort``, which ends the whole job instead of
hanging it.  Ranks that disagree on parameter names or shapes raise a
``RuntimeError`` naming the first difference, on every rank.
"""
from __future__ import annotations

import hashlib
import sys
import time

import numpy as np

from .tensor import Tensor

_state = {"comm": None, "timeout": 300.0}


def init(timeout=300.0):
    """Join the MPI job (idempotent). ``timeout``: seconds any collective may wait."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(f"vkgrad.distributed needs mpi4py and an MPI library: "
                          f"pip install mpi4py mpich ({e})") from None
    _state["comm"] = MPI.COMM_WORLD
    _state["timeout"] = float(timeout)
    return _state["comm"]


def _comm():
    if _state["comm"] is None:
        init()
    return _state["comm"]


def is_initialized():
    return _state["comm"] is not None


def rank():
    return _comm().Get_rank()


def world_size():
    return _comm().Get_size()


def _wait(req, what):
    """Wait for a non-blocking collective, or abort the job after the timeout."""
    deadline = time.monotonic() + _state["timeout"]
    while not req.Test():
        if time.monotonic() > deadline:
            msg = (f"vkgrad.distributed: rank {rank()} waited {_state['timeout']:.0f} s for {what}; "
                   "another rank has died or stopped answering. Aborting the job.")
            print(msg, file=sys.stderr, flush=True)
            _comm().Abort(3)
        time.sleep(0.0005)


def _params(obj):
    if hasattr(obj, "named_parameters"):
        named = list(obj.named_parameters())
        bufs = list(obj.named_buffers()) if hasattr(obj, "named_buffers") else []
        return named, bufs
    if isinstance(obj, dict):
        return list(obj.items()), []
    return [(str(i), p) for i, p in enumerate(obj)], []


def _check_same_layout(named, what):
    """Every rank must hold the same names, shapes and dtypes, in the same order."""
    desc = ";".join(f"{n}:{list(t.shape)}:{t.dtype}" for n, t in named)
    digest = np.frombuffer(hashlib.sha256(desc.encode()).digest()[:8], dtype=np.int64).copy()
    comm = _comm()
    allh = np.zeros(world_size(), dtype=np.int64)
    _wait(comm.Iallgather(digest, allh), f"the layout check of {what}")
    if len(set(allh.tolist())) > 1:
        descs = comm.allgather(desc)
        first = next(i for i, d in enumerate(descs) if d != descs[0])
        a, b = descs[0].split(";"), descs[first].split(";")
        diff = next(((x, y) for x, y in zip(a, b) if x != y), (f"{len(a)} tensors", f"{len(b)} tensors"))
        raise RuntimeError(f"vkgrad.distributed {what}: ranks disagree on the tensors: rank 0 has "
                           f"{diff[0]!r} where rank {first} has {diff[1]!r}")


def broadcast_parameters(model_or_params, root=0):
    """Give every rank ``root``'s parameters and buffers (one broadcast)."""
    named, bufs = _params(model_or_params)
    tensors = named + bufs
    _check_same_layout(tensors, "broadcast_parameters")
    flat = np.concatenate([t.numpy().astype(np.float64).reshape(-1) for _, t in tensors]) \
        if tensors else np.zeros(0)
    _wait(_comm().Ibcast(flat, root=root), "broadcast_parameters")
    o = 0
    for _, t in tensors:
        n = t.size
        t.assign_(flat[o:o + n].reshape(t.shape))
        o += n
    return model_or_params


def allreduce_gradients(model_or_params, grads=None, weight=None):
    """Sum the gradients of all ranks in one flattened all-reduce, in place.

    Each rank's gradients are multiplied by ``weight`` first (its share of the
    global batch); without a weight they are averaged (divided by the world
    size).  ``grads``: the dict from ``vkgrad.backward`` or None for ``.grad``."""
    from .optim.optimizer import check_grads_keys, grad_for
    named, _ = _params(model_or_params)
    _check_same_layout(named, "allreduce_gradients")
    check_grads_keys(grads, named, "allreduce_gradients")
    w = (1.0 / world_size()) if weight is None else float(weight)
    gs = [grad_for(grads, n, p, "allreduce_gradients") for n, p in named]
    # f32 on the wire (f16 gradients summed without overflow), f64 where a parameter is f64
    ft = np.float64 if any(p.dtype == "f64" for _, p in named) else np.float32
    parts = [(g.numpy().astype(ft).reshape(-1) if g is not None else np.zeros(p.size, ft))
             for g, (_, p) in zip(gs, named)]
    flat = np.concatenate(parts) * ft(w) if parts else np.zeros(0, ft)
    out = np.empty_like(flat)
    from mpi4py import MPI
    _wait(_comm().Iallreduce(flat, out, op=MPI.SUM), "allreduce_gradients")
    o = 0
    for g, (name, p) in zip(gs, named):
        n = p.size
        if g is None:
            g = Tensor(p.backend.from_numpy(out[o:o + n].reshape(p.shape), p.dtype), p.backend)
            if grads is None:
                p.grad = g
            else:
                grads._put(name, p, g) if hasattr(grads, "_put") else grads.__setitem__(name, g)
        else:
            g.handle = g.backend.from_numpy(out[o:o + n].reshape(p.shape), g.dtype)
        o += n
    return grads


def allreduce_array(values):
    """The elementwise sum of a float64 array over all ranks (one all-reduce)."""
    from mpi4py import MPI
    buf = np.ascontiguousarray(values, dtype=np.float64)
    out = np.empty_like(buf)
    _wait(_comm().Iallreduce(buf, out, op=MPI.SUM), "allreduce_array")
    return out


def allreduce_scalar(value):
    """Sum of a float over all ranks."""
    from mpi4py import MPI
    buf = np.array([value], dtype=np.float64)
    out = np.empty_like(buf)
    _wait(_comm().Iallreduce(buf, out, op=MPI.SUM), "allreduce_scalar")
    return float(out[0])


def barrier():
    _wait(_comm().Ibarrier(), "barrier")


def shard(loader):
    """Make ``loader`` serve this rank's share of every epoch (same shuffle on all ranks)."""
    if loader.shuffle and loader._rng is None:
        raise ValueError("vkgrad.distributed.shard: give the DataLoader a seed, so that every rank "
                         "shuffles the same way")
    loader.shard = (rank(), world_size())
    return loader
