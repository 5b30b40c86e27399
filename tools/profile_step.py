"""Device time of each dispatch of one training step of a benchmark model
(benchmarks/train_step.py's), summed by shader: every dispatch is submitted on
its own and timed by the device's timestamps around it, so the total is the
step's kernel time without overlap (and each dispatch pays a submission, not
counted in its time).

    python tools/profile_step.py lstm [--dtype f16] [--top 25] [--batch N]
"""
import argparse
import collections
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "benchmarks"))
import train_step  # noqa: E402
import vkgrad as vg  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", choices=["iris", "mlp", "cnn", "attn", "lstm"])
    ap.add_argument("--dtype", default="f32")
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args(argv)
    batch = a.batch or {"iris": 32, "mlp": 256, "cnn": 64, "attn": 16, "lstm": 64}[a.model]
    step = train_step.make_vkgrad_step(a.model, "vulkan", a.dtype, batch)
    be = vg.get_backend("vulkan")
    for _ in range(2):  # warm-up: pipelines and buffers made
        step()
    be.synchronize()
    times, counts, orig = collections.Counter(), collections.Counter(), be._dispatch

    def timed(shader, dtype_tag, spec, groups, push, operands, *rest, **kw):
        be.synchronize()
        idx = orig(shader, dtype_tag, spec, groups, push, operands, *rest, **kw)
        t = be.timed_synchronize()
        key = f"{shader}[{dtype_tag}] spec={spec}"
        times[key] += t or 0.0
        counts[key] += 1
        return idx
    be._dispatch = timed
    try:
        step()
        be.synchronize()
    finally:
        be._dispatch = orig
    total = sum(times.values())
    print(f"{a.model} ({a.dtype}, batch {batch}): {sum(counts.values())} dispatches, {total * 1e3:.1f} ms device time")
    for key, t in times.most_common(a.top):
        print(f"{t * 1e3:8.2f} ms {100 * t / total:5.1f}%  {counts[key]:5d} x  {key}")


if __name__ == "__main__":
    main()
