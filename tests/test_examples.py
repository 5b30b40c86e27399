"""The examples run end to end; the iris model reaches the seed's accuracy."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(args, timeout=600):
    r = subprocess.run([sys.executable] + args, cwd=ROOT, capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def _example(name):
    """The module examples/<name>.py (imported once, then cached by Python)."""
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    try:
        return __import__(name)
    finally:
        sys.path.pop(0)


# example, its epochs here, the accuracy it must reach: iris (the seed's model),
# cnn.py (Conv2d, BatchNorm2d, pools) telling four shapes apart, transformer.py
# (TransformerEncoder, embeddings) sorting digits (per-token accuracy), sequence.py
# (LSTM) recalling a marked digit
@pytest.mark.parametrize("name,epochs,acc", [("iris", 150, 0.9), ("cnn", 4, 0.85), ("transformer", 2, 0.95),
                                             ("sequence", 5, 0.95)])
def test_examples_reach_their_accuracy(bk, name, epochs, acc):
    if bk.dtype == "f16":
        pytest.skip("f16 training is covered by the mixed-precision tests")
    assert _example(name).main(["--device", bk.device, "--epochs", str(epochs)]) >= acc


def test_vae_example_learns_a_latent(bk):
    """examples/vae.py (Normal.rsample, kl_divergence, parameter groups, a chained
    schedule): the held-out points come back through the latent means."""
    if bk.dtype == "f16":
        pytest.skip("f16 training is covered by the mixed-precision tests")
    assert _example("vae").main(["--device", bk.device, "--epochs", "10"]) < 0.2


def test_seed_walkthrough_runs():
    out = _run(["examples/seed_walkthrough.py", "--quick", "--device", "cpu"])
    for section in ("1. dL/dW", "3. parameter tensors: 8", "5. cosine", "6. gradient norm",
                    "8. Val accuracy", "9. raw-parameter model", "10. mixed precision",
                    "11. dp_train"):
        assert section in out


def test_iris_captured_equals_eager():
    """examples/iris.py --capture replays recorded steps: same accuracy as eager."""
    if not __import__("vkgrad").vulkan_available():
        pytest.skip("capture replays on Vulkan only")
    iris = _example("iris")
    try:
        eager = iris.main(["--device", "vulkan", "--epochs", "30"])
        captured = iris.main(["--device", "vulkan", "--epochs", "30", "--capture"])
    finally:
        __import__("vkgrad").set_check_finite(True)
    assert captured == eager


def test_fuzz_tool_runs_and_reports():
    """tools/fuzz_ops.py (the random-op sweep at any size) runs, reports its count,
    and exits 0 when the backends agree; --nans too."""
    if not __import__("vkgrad").vulkan_available():
        pytest.skip("compares the Vulkan backend with the CPU's")
    out = _run(["tools/fuzz_ops.py", "--seed", "3", "--cases", "8"])
    assert "fuzz_ops: seed 3, 8 cases, 0 disagreements" in out
    out = _run(["tools/fuzz_ops.py", "--seed", "3", "--cases", "8", "--nans", "--dtype", "f32"])
    assert "0 disagreements" in out


def test_pytorch_style_example_learns_and_reloads(bk):
    """examples/pytorch_style.py (ModuleList of LayerNorm / SiLU blocks, kaiming init,
    AdamW, LinearLR then ReduceLROnPlateau, BCEWithLogitsLoss, a checkpoint) learns
    the spirals on every backend and reloads to the same accuracy."""
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    try:
        import pytorch_style
        acc, reloaded = pytorch_style.main(["--device", bk.device, "--dtype", bk.dtype, "--epochs", "8"])
    finally:
        sys.path.pop(0)
    assert acc >= 0.95 and reloaded == acc
