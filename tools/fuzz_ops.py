"""Random ops on random shapes, the Vulkan backend against the CPU backend in the
same dtype: the sweep of tests/test_random_ops.py at any size and count, for
hunting bugs (at sizes the suite cannot afford it found column sums recursing
without end; with --nans, NaN dropped by relu / max / pow on Vulkan).

    python tools/fuzz_ops.py --seed 1 --cases 500 [--big 3000000] [--nans]

Prints each disagreement with its seed and index (rerun with --only INDEX) and
exits 1 if there was any.  Set VKGRAD_DEVICE_TUNING=gpu to check the paths GPUs
take.  Cases whose CPU run raises (e.g. an f16 overflow caught by backward's
finite-loss check) are skipped when Vulkan raises the same exception type."""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import vkgrad as vg  # noqa: E402
from test_random_ops import _case, _run  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--big", type=int, default=300_000, help="most elements per input")
    ap.add_argument("--max-dims", type=int, default=6)
    ap.add_argument("--dtype", default="f32,f16", help="comma list of f32,f16")
    ap.add_argument("--nans", action="store_true", help="put NaN / inf into half the inputs; compare values")
    ap.add_argument("--only", type=int, default=None, help="run only this case index")
    a = ap.parse_args(argv)
    if not vg.vulkan_available():
        sys.exit("fuzz_ops: no Vulkan device")
    if a.nans:
        vg.set_check_finite(False)
    r = np.random.default_rng(a.seed)
    bad = 0
    for i in range(a.cases):
        what, ins, f = _case(r, a.big, a.max_dims)
        if a.nans:
            for x in ins:
                if x.size > 2 and r.random() < 0.5:
                    x.flat[r.integers(0, x.size, 2)] = [np.nan, np.inf][int(r.integers(0, 2))]
        ws = {}

        def w(shape):  # the same upstream gradient on both backends
            if shape not in ws:
                ws[shape] = r.normal(0, 1, shape).astype(np.float32)
            return ws[shape]
        if a.only is not None and i != a.only:
            continue
        for dt in a.dtype.split(","):
            tol = 2e-2 if dt == "f16" else 2e-4
            try:
                with np.errstate(all="ignore"):
                    want = _run(f, ins, "cpu", dt, w, grads=not a.nans)
            except Exception as e:  # noqa: BLE001 (the Vulkan run must raise alike)
                want = e
            try:
                with np.errstate(all="ignore"):
                    got = _run(f, ins, "vulkan", dt, w, grads=not a.nans)
            except Exception as e:  # noqa: BLE001
                got = e
            if isinstance(want, Exception) or isinstance(got, Exception):
                if type(want) is not type(got):
                    bad += 1
                    print(f"seed {a.seed} case {i} {dt}: {what}: cpu {want!r:.200}, vulkan {got!r:.200}", flush=True)
                continue
            for k, (g, e) in enumerate(zip(got, want)):
                g, e = np.asarray(g, np.float64), np.asarray(e, np.float64)
                fin = np.isfinite(e)
                scale = max(1.0, float(np.abs(e[fin]).max()) if fin.any() else 1.0)
                if g.shape != e.shape or not np.allclose(g, e, rtol=tol, atol=tol * scale, equal_nan=True):
                    bad += 1
                    if g.shape != e.shape:
                        err = f"shape {g.shape} != {e.shape}"
                    elif not np.array_equal(np.isnan(g), np.isnan(e)) or not np.array_equal(np.isinf(g), np.isinf(e)):
                        err = "NaN / inf positions"
                    else:
                        err = float(np.abs(g - e).max())
                    print(f"seed {a.seed} case {i} {dt}: {what}: "
                          f"{'value' if k == 0 else f'gradient of input {k - 1}'} differs by {err}", flush=True)
                    break
    print(f"fuzz_ops: seed {a.seed}, {a.cases} cases, {bad} disagreements")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
