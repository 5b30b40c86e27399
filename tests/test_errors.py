"""Bad input raises a clear exception naming the op, the shapes and what was expected."""
import numpy as np
import pytest

import vkgrad as vg


def test_mismatched_broadcast():
    with pytest.raises(ValueError, match=r"add: shapes \[3, 4\] and \[3\] cannot be broadcast"):
        vg.tensor(np.ones((3, 4))) + vg.tensor(np.ones(3))


def test_matmul_shapes():
    with pytest.raises(ValueError, match=r"matmul: inner sizes differ: \[2, 3\] @ \[4, 5\] "
                                         r"\(expected \[\.\.\., M, K\] @ \[\.\.\., K, N\]\)"):
        vg.tensor(np.ones((2, 3))) @ vg.tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"matmul: inner sizes differ: \[3\] @ \[2, 4, 5\]"):
        vg.matmul(vg.tensor(np.ones(3)), vg.tensor(np.ones((2, 4, 5))))
    with pytest.raises(ValueError, match=r"matmul: batch axes \[2\] and \[3\] of \[2, 4, 5\] @ \[3, 5, 6\] "
                                         "do not broadcast"):
        vg.matmul(vg.tensor(np.ones((2, 4, 5))), vg.tensor(np.ones((3, 5, 6))))
    with pytest.raises(ValueError, match=r"matmul: both operands need at least 1 dimension, got \[\] @ \[3\]"):
        vg.matmul(vg.tensor(2.0), vg.tensor(np.ones(3)))
    with pytest.raises(ValueError, match=r"bmm: expected \[B, M, K\] @ \[B, K, N\], got \[2, 3, 4\] @ \[4, 5\]"):
        vg.bmm(vg.tensor(np.ones((2, 3, 4))), vg.tensor(np.ones((4, 5))))
    be = vg.get_backend("cpu")
    with pytest.raises(vg.BackendError, match=r"cpu bmm: expected \[B, M, K\] @ \[B, K, N\] of one dtype, got "
                                              r"\[2, 3, 4\] \(trans=False\) f32 and \[3, 4, 5\]"):
        be.bmm(np.ones((2, 3, 4), np.float32), np.ones((3, 4, 5), np.float32))


def test_linear_input_shape():
    lin = vg.nn.Linear(4, 2)
    with pytest.raises(ValueError, match=r"linear: expected input \[\.\.\., 4\].*got input \[3, 5\]"):
        lin(vg.tensor(np.ones((3, 5))))
    with pytest.raises(ValueError, match=r"linear: expected input \[\.\.\., 4\].*got input \[\]"):
        lin(vg.tensor(1.0))


def test_target_shapes():
    z = vg.tensor(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: targets must be .*\[4, 3\].*got \[4, 2\]"):
        vg.softmax_cross_entropy(z, np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"integer class labels must have shape \[4\].*got \[3\]"):
        vg.softmax_cross_entropy(z, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"class labels must lie in \[0, 3\)"):
        vg.softmax_cross_entropy(z, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"class labels of shape \[4\] must be integers \(i32\), got f32"):
        vg.softmax_cross_entropy(z, np.array([0.0, 1.0, 2.0, 1.0], np.float32))
    with pytest.raises(ValueError, match=r"cross_entropy: class labels of shape \[4\] must be integers"):
        vg.cross_entropy(vg.softmax(z), vg.tensor(np.array([0.0, 1.0, 2.0, 1.0])))
    with pytest.raises(ValueError, match=r"mse_loss: target has shape \[4\], expected .*\[4, 3\]"):
        vg.mse_loss(z, np.ones(4))


def test_reshape_and_axes():
    x = vg.tensor(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"reshape: cannot reshape \[3, 4\] \(12 elements\) to \[5, -1\]"):
        x.reshape(5, -1)
    with pytest.raises(ValueError, match="sum: axis 2 is out of range"):
        vg.sum(x, axis=2)
    with pytest.raises(ValueError, match="transpose: axes"):
        vg.transpose(x, (0, 0))


def test_devices_and_dtypes():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        vg.tensor([1.0], device="tpu")
    with pytest.raises(ValueError, match="unknown dtype 'f8'"):
        vg.tensor([1.0], dtype="f8")
    with pytest.raises(TypeError, match="softmax: expected a float tensor, got dtype i32"):
        vg.softmax(vg.tensor([1, 2]), 0)  # (PyTorch's refuses integers too; exp of them is f32, as its)
    with pytest.raises(TypeError, match="pow: unsupported operand type str"):
        vg.tensor([1.0]) ** "2"


def test_vulkan_request_without_vulkan_is_clear(monkeypatch):
    from vkgrad import backends
    monkeypatch.setattr(backends, "_vulkan_error", "the Vulkan backend is not available (test). "
                        "Install ... run `bash ci/setup.sh`")
    monkeypatch.setattr(backends, "_backends", {"cpu": backends._cpu})
    monkeypatch.setattr(backends, "_available", [])
    with pytest.raises(vg.BackendError, match="ci/setup.sh"):
        vg.tensor([1.0], device="vulkan")
    assert backends.normalize_device("auto") == "cpu"


def test_batchnorm_needs_batch():
    bn = vg.nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"more than 1 value per channel.*\[1, 3\]"):
        bn(vg.tensor(np.ones((1, 3))))
    with pytest.raises(ValueError, match=r"batch_norm: weight has 3 channels but the input \[2, 4\] has 4"):
        bn(vg.tensor(np.ones((2, 4))))
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected a 2-d or 3-d input \[N, C\(, L\)\], got \[2, 3, 4, 5\]"):
        bn(vg.tensor(np.ones((2, 3, 4, 5))))
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected a 4-d input \[N, C, H, W\], got \[2, 3\]"):
        vg.nn.BatchNorm2d(3)(vg.tensor(np.ones((2, 3))))


def test_operands_on_different_devices():
    if not vg.vulkan_available():
        pytest.skip("needs a second device")
    lin = vg.nn.Linear(3, 2, device="vulkan")
    with pytest.raises(ValueError, match=r"linear: operands are on different devices \(cpu and vulkan:0\)"):
        lin(vg.tensor(np.ones((2, 3)), device="cpu"))


def test_indexing_errors():
    x = vg.tensor(np.ones((3, 4)))
    with pytest.raises(IndexError, match="index 3 is out of range for axis 0 with size 3"):
        x[3]
    with pytest.raises(TypeError, match="only integers, slices"):
        x["a"]
    with pytest.raises(IndexError, match=r"indexing: index shapes \[\[2\], \[3\]\] do not broadcast together"):
        x[[0, 1], [1, 2, 3]]
    with pytest.raises(IndexError, match=r"indexing: index shapes \[\[2\], \[3\]\] do not broadcast together"):
        x[[0, 1], np.array([True, False, True, True])]  # (a mask among arrays: its positions, PyTorch's rule)
    with pytest.raises(IndexError, match=r"indexing: index out of range for axis 1 of length 4"):
        x[:, [0, 4]]
    with pytest.raises(IndexError, match=r"indexing: the boolean mask of shape \[3, 2\] at index 0 does not match "
                                         r"the axes \[3, 4\] it covers"):
        x[np.ones((3, 2), bool)]
    with pytest.raises(IndexError, match=r"indexing: array indices must be integers or booleans, got float64"):
        x[np.array([0.5])]
    with pytest.raises(ValueError, match="negative slice steps"):
        x[::-1]
    with pytest.raises(IndexError, match=r"3 indices for a tensor of shape \[3, 4\]"):
        x[0, 0, 0]


def test_unknown_elementwise_op_names_the_op(bk):
    """A backend asked for an op code it does not have says which, and what it has."""
    be, x = vg.get_backend(bk.device), bk.t(np.ones(3)).handle
    with pytest.raises(vg.BackendError, match=r"unary: unknown op 'abs'; expected one of neg, exp"):
        be.unary("abs", x)
    with pytest.raises(vg.BackendError, match=r"binary: unknown op 'max'; expected one of add, sub"):
        be.binary("max", x, x)


def test_bfloat16_is_named_in_its_refusal():
    """vg.bfloat16 exists (autocast(dtype=bfloat16) runs as f16), and a tensor asked for
    it says there is no bfloat16 storage and names the half type, where a cast took the
    name for a device."""
    msg = r"vkgrad has no bfloat16 tensors: float16 \('f16'\) is its half type"
    with pytest.raises(ValueError, match=msg):
        vg.ones(2, device="cpu").to(vg.bfloat16)
    with pytest.raises(ValueError, match=msg):
        vg.zeros(3, dtype="bf16")
    with vg.autocast("cpu", dtype=vg.bfloat16):
        assert (vg.ones((2, 3), device="cpu") @ vg.ones((3, 2), device="cpu")).dtype == "f16"


def test_cuda_calls_say_where_the_gpus_are():
    """x.cuda() / model.cuda() (PyTorch scripts written for CUDA) raise naming the Vulkan
    device instead of an AttributeError."""
    msg = r"cuda: vkgrad has no CUDA devices .* its GPUs are Vulkan devices: .to\('vulkan'\)"
    with pytest.raises(RuntimeError, match=msg):
        vg.ones(2, device="cpu").cuda()
    with pytest.raises(RuntimeError, match=msg):
        vg.nn.Linear(2, 2, device="cpu").cuda()
