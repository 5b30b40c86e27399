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


PYTORCH_SCRIPT = '''
import vkgrad as torch
import vkgrad.nn as nn
import vkgrad.nn.functional as F
from vkgrad.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
X = torch.randn(512, 10)
y = (X[:, 0] + X[:, 1] > 0).long()
loader = DataLoader(TensorDataset(X.numpy(), y.numpy()), batch_size=64, shuffle=True)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.bn, self.fc2 = nn.Linear(10, 32), nn.BatchNorm1d(32), nn.Linear(32, 2)
        self.drop = nn.Dropout(0.1, inplace=True)

    def forward(self, x):
        return self.fc2(self.drop(F.relu(self.bn(self.fc1(x)), inplace=True)))


model = Net()
opt = torch.optim.AdamW([{"params": model.fc1.parameters()}, {"params": model.fc2.parameters(), "lr": 5e-3},
                         {"params": model.bn.parameters(), "weight_decay": 0.0}], lr=1e-2, weight_decay=1e-4)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.5)
crit = nn.CrossEntropyLoss()
for epoch in range(8):
    model.train()
    correct = 0
    for xb, yb in loader:
        opt.zero_grad()
        out = model(xb)
        loss = crit(out, yb)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        correct += (out.argmax(dim=1) == yb).sum().item()
    sched.step()
model.eval()
with torch.no_grad():
    acc = (model(X).argmax(1) == y).float().mean().item()
torch.save(model.state_dict(), PATH)
m2 = Net()
missing, unexpected = m2.load_state_dict(torch.load(PATH))
same = (m2.eval()(X).argmax(1) == model(X).argmax(1)).all().item()
'''


def test_pytorch_training_script_runs_with_vkgrad_in_place_of_torch(bk, tmp_path):
    """A PyTorch training script (Module, BatchNorm, inplace activations, parameter
    groups, clip_grad_norm_, StepLR, the accuracy idiom, save / load_state_dict)
    runs with ``import vkgrad as torch`` and learns."""
    if bk.dtype == "f16":
        pytest.skip("(the f32 and CPU runs cover the script)")
    import vkgrad as vg
    old = vg.get_default_device()
    vg.set_default_device(bk.device)
    try:
        env = {"PATH": str(tmp_path / "m.npz")}
        exec(compile(PYTORCH_SCRIPT, "pytorch_script", "exec"), env)
    finally:
        vg.set_default_device(old)
    assert env["acc"] > 0.95 and env["same"] and env["missing"] == [] and env["unexpected"] == []
    assert env["opt"].param_groups[1]["lr"] == 5e-3 * 0.5


def test_step_instructions_script():
    """benchmarks/step_instructions.py: its child mode runs a model's steps (what
    callgrind counts), and a bad step count is refused by name."""
    _run([os.path.join("benchmarks", "step_instructions.py"), "--child", "--model", "iris", "--steps", "2"])
    r = subprocess.run([sys.executable, os.path.join("benchmarks", "step_instructions.py"), "--steps", "0"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "step_instructions: " in r.stderr
