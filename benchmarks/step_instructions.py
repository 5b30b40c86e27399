"""Instructions per training step on the CPU backend, counted by valgrind's
callgrind: a deterministic figure for A/B comparisons of small-op paths on a
noisy shared machine, where times drift by up to 2x between runs.

    python benchmarks/step_instructions.py [--model iris|mlp|cnn|attn|lstm]
                                           [--steps N] [--tree DIR]

Runs the model's step (benchmarks/train_step.py's) under callgrind twice, for
20 and 20 + N steps, and prints the difference over N: start-up and imports
cancel out.  ``--tree`` times another checkout of vkgrad (e.g. a git worktree
of an earlier commit).  Needs valgrind (Debian: ``apt-get install valgrind``);
instructions are not time (cache misses and stalls are not in them), so use
this next to train_step.py's paired ratios, not instead of them."""
import argparse
import os
import re
import shutil
import subprocess
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_BATCH = {"iris": 32, "mlp": 256, "cnn": 64, "attn": 16, "lstm": 64}


def _child(tree, model, steps):
    sys.path[:0] = [tree, os.path.join(tree, "benchmarks")]
    import train_step
    step = train_step.make_vkgrad_step(model, "cpu", "f32", _BATCH[model])
    for _ in range(steps):
        step()


def _instructions(tree, model, steps):
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
           os.path.abspath(__file__), "--child", "--tree", tree, "--model", model, "--steps", str(steps)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stderr
    m = re.search(r"Collected\s*:\s*(\d+)", out)
    if m is None:
        raise RuntimeError(f"step_instructions: no instruction count in callgrind's output:\n{out[-2000:]}")
    return int(m.group(1))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="iris", choices=sorted(_BATCH))
    ap.add_argument("--steps", type=int, default=200, help="steps counted (after 20 that cancel out)")
    ap.add_argument("--tree", default=os.path.dirname(_HERE), help="the vkgrad checkout to run")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return _child(args.tree, args.model, args.steps)
    if shutil.which("valgrind") is None:
        raise SystemExit("step_instructions: valgrind is not installed (apt-get install valgrind)")
    if args.steps < 1:
        raise SystemExit(f"step_instructions: --steps must be positive, got {args.steps}")
    base = _instructions(args.tree, args.model, 20)
    more = _instructions(args.tree, args.model, 20 + args.steps)
    print(f"{args.model} step on the CPU backend ({args.tree}): {(more - base) / args.steps:,.0f} instructions")


if __name__ == "__main__":
    main()
