"""Data-parallel training: MPI ranks and in-process replicas match one process."""
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import vkgrad as vg
from vkgrad.parallel import DataParallel, dp_train

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mpi_script  # noqa: E402

MPIEXEC = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
try:
    import mpi4py  # noqa: F401
    HAVE_MPI = MPIEXEC is not None
except ImportError:
    HAVE_MPI = False
needs_mpi = pytest.mark.skipif(not HAVE_MPI, reason="mpi4py/mpiexec not installed (pip install mpi4py mpich)")


def _single_process_weights():
    vg.set_default_device("cpu")
    vg.manual_seed(100)  # rank 0's seed: its weights are the broadcast ones
    model = mpi_script.model_fn()
    opt = vg.optim.Adam(model.parameters(), lr=1e-2)
    x, y = mpi_script.data()
    B = mpi_script.B
    for s in range(mpi_script.STEPS):
        rows = np.arange(s * 2 * B, (s + 1) * 2 * B)
        opt.step(vg.backward(vg.softmax_cross_entropy(model(vg.tensor(x[rows], device="cpu")), y[rows])))
    return model.state_dict()


def _mpirun(args, timeout=120, env=None):
    # Open MPI refuses to start as root unless told (containers, CI); MPICH ignores these
    e = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", **(env or {}))
    t0 = time.monotonic()
    r = subprocess.run([MPIEXEC, "-n", "2", sys.executable, os.path.join(HERE, "mpi_script.py")] + args,
                       capture_output=True, text=True, timeout=timeout, env=e)
    return r, time.monotonic() - t0


@needs_mpi
def test_two_ranks_match_one_process_on_the_double_batch(tmp_path):
    out = tmp_path / "w.npz"
    r, _ = _mpirun(["equiv", str(out)])
    assert r.returncode == 0, r.stdout + r.stderr
    got = vg.load(out)
    want = _single_process_weights()
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-5, err_msg=k)


@needs_mpi
def test_shape_mismatch_between_ranks_is_a_clear_error():
    r, dt = _mpirun(["mismatch"], env={"VKGRAD_DIST_TIMEOUT": "20"})
    assert r.returncode != 0
    assert "ranks disagree" in r.stderr and "0.weight" in r.stderr, r.stderr[-2000:]


@needs_mpi
def test_dead_rank_ends_the_job_instead_of_hanging():
    r, dt = _mpirun(["dead"], env={"VKGRAD_DIST_TIMEOUT": "5"}, timeout=90)
    assert r.returncode != 0
    assert dt < 60


def _dp_devices():
    devs = [["cpu", "cpu"]]
    if vg.vulkan_available():
        devs.append(["cpu", "vulkan"])
    return devs


@pytest.mark.parametrize("devices", _dp_devices(), ids=lambda d: "+".join(d))
def test_data_parallel_replicas_match_one_device(devices):
    x, y = mpi_script.data()
    B = mpi_script.B
    vg.set_default_device("cpu")
    vg.manual_seed(100)
    dp = DataParallel(mpi_script.model_fn(), devices=devices)
    opt = vg.optim.Adam(dp.parameters(), lr=1e-2)
    for s in range(mpi_script.STEPS):
        rows = np.arange(s * 2 * B, (s + 1) * 2 * B)
        dp.train_step(x[rows], y[rows], vg.softmax_cross_entropy, opt)
        for r in dp.replicas[1:]:  # replicas identical after every step
            for (k, a), (_, b) in zip(dp.module.state_dict().items(), r.state_dict().items()):
                np.testing.assert_array_equal(a, b, err_msg=k)
    want = _single_process_weights()
    for k, v in dp.state_dict().items():
        np.testing.assert_allclose(v, want[k], rtol=1e-5, atol=1e-5, err_msg=k)


def test_data_parallel_one_device_is_the_plain_model():
    m = mpi_script.model_fn()
    dp = DataParallel(m, devices=["cpu"])
    assert dp.module is m and len(dp.replicas) == 1
    with pytest.raises(ValueError, match="each Vulkan device may hold one replica"):
        DataParallel(m, devices=["vulkan:0", "vulkan:0"])


def test_dp_train_returns_model_and_history():
    x, y = mpi_script.data()
    model, hist = dp_train(mpi_script.model_fn, x, y, vg.softmax_cross_entropy, iterations=30,
                           devices=["cpu", "cpu"], batch_size=32, lr=1e-2)
    assert len(hist) == 30 and hist[-1] < hist[0]
    assert model.parameters()[0].shape == (16, 8)


@needs_mpi
def test_dp_train_over_ranks_matches_dp_train_in_one_process(tmp_path):
    out = tmp_path / "dp.npz"
    r, _ = _mpirun(["dptrain", str(out)])
    assert r.returncode == 0, r.stdout + r.stderr
    got, hist = vg.load(out), np.load(str(out) + ".hist.npy")
    x, y = mpi_script.data()
    vg.set_default_device("cpu")
    model, want_hist = dp_train(mpi_script.model_fn, x, y, vg.softmax_cross_entropy,
                                iterations=mpi_script.STEPS, batch_size=2 * mpi_script.B, lr=1e-2,
                                devices=["cpu"], seed=100)
    np.testing.assert_allclose(hist, want_hist, rtol=1e-5)
    for k, v in model.state_dict().items():
        np.testing.assert_allclose(got[k], v, rtol=1e-5, atol=1e-5, err_msg=k)


def test_sync_batch_norm_in_one_process_is_batch_norm(bk):
    """Without vkgrad.distributed (one process) SyncBatchNorm is BatchNorm;
    convert_sync_batchnorm swaps a model's BatchNorm layers keeping their tensors."""
    from vkgrad import nn
    r = np.random.default_rng(7)
    x = r.standard_normal((6, 3, 4))
    sb, b = nn.SyncBatchNorm(3, device=bk.device, dtype=bk.dtype), nn.BatchNorm1d(3, device=bk.device, dtype=bk.dtype)
    bk.close(sb(bk.t(x)).numpy(), b(bk.t(x)).numpy())
    model = nn.Sequential(nn.Conv2d(2, 3, 3, device=bk.device, dtype=bk.dtype), nn.BatchNorm2d(3, device=bk.device,
                                                                                                  dtype=bk.dtype))
    w = model[1].weight
    model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert type(model[1]) is nn.SyncBatchNorm and model[1].weight is w
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                                        "1.running_var", "1.num_batches_tracked"]


@needs_mpi
def test_sync_batch_norm_across_two_ranks_equals_one_batch(tmp_path):
    """Two ranks each with half the batch: SyncBatchNorm's outputs, input gradients,
    running statistics and eval outputs equal one process's BatchNorm over the
    whole batch; the weight and bias gradients sum to its."""
    out = str(tmp_path / "sbn")
    r, _ = _mpirun(["syncbn", out])
    assert r.returncode == 0, r.stdout + r.stderr
    parts = [np.load(f"{out}.{k}.npz") for k in range(2)]
    want = mpi_script.syncbn_step(0, 1)
    for key in ("y", "gx", "eval"):
        np.testing.assert_allclose(np.concatenate([p[key] for p in parts]), want[key], atol=1e-12, err_msg=key)
    for key in ("gw", "gb"):
        np.testing.assert_allclose(parts[0][key] + parts[1][key], want[key], atol=1e-12, err_msg=key)
    for key in ("rm", "rv"):
        for p in parts:
            np.testing.assert_allclose(p[key], want[key], atol=1e-12, err_msg=key)


def test_allreduce_keeps_f64_gradients_in_one_process():
    """One rank: the all-reduce gives each gradient back, f64 ones in f64 (they
    went through f32 on the wire), f32 ones unchanged."""
    pytest.importorskip("mpi4py")
    from vkgrad import distributed
    distributed.init()
    p = vg.Parameter(np.array([1 / 3, 2 / 3]), device="cpu", dtype="f64")
    q = vg.Parameter(np.zeros(2), device="cpu", dtype="f32")
    g64, g32 = np.array([1 / 3, 1 + 1e-9]), np.array([0.1, -2.5], np.float32)
    p.grad, q.grad = vg.tensor(g64, device="cpu", dtype="f64"), vg.tensor(g32, device="cpu")
    distributed.allreduce_gradients([p, q])
    np.testing.assert_array_equal(p.grad.numpy(), g64)
    np.testing.assert_array_equal(q.grad.numpy(), g32)
