"""Device time of a convolution's parts on the Vulkan backend: im2col, the product
with the bias, the permute to [N, C, H, W], col2im and the two backward products,
then the whole forward, and a 2 x 2 max pool and its gradient over the same input
(device timestamps, median of five runs).

    python tools/conv_parts.py [--batch 64] [--channels 64] [--size 32]

(The defaults want 151 MB buffers: lavapipe's 128 MiB storage range needs a
smaller --batch.)
"""
import argparse
import statistics

import numpy as np

import vkgrad as vg
from vkgrad.backends.base import Window
from vkgrad.bench import _gpu_timer


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--size", type=int, default=32)
    a = ap.parse_args(argv)
    be = vg.get_backend("vulkan")
    vg.set_check_finite(False)
    N, C, H = a.batch, a.channels, a.size
    win = Window((3, 3), (1, 1), (1, 1), (1, 1), (H, H))
    print(f"{be.limits.get('name')}: x [{N}, {C}, {H}, {H}] * w [{C}, {C}, 3, 3], padding 1")
    for dt in ("f32", "f16"):
        r = np.random.default_rng(0)
        x, w, b = (vg.tensor(r.uniform(-1, 1, s), device="vulkan", dtype=dt)
                   for s in ((N, C, H, H), (C, C, 3, 3), (C,)))
        cols_h = be.im2col(x.handle, win)
        cols = vg.tensor(be.to_numpy(cols_h), device="vulkan", dtype=dt)
        wm = w.reshape(C, C * 9)
        rows = vg.linear(cols, wm, b)
        g = vg.tensor(r.uniform(-1, 1, (N * H * H, C)), device="vulkan", dtype=dt)
        pool = Window((2, 2), (2, 2), (0, 0), (1, 1), (H // 2, H // 2))
        ym, im = be.window_max(x.handle, pool)
        parts = {
            "im2col": lambda: be.im2col(x.handle, win),
            "linear cols @ w.T + b": lambda: vg.linear(cols, wm, b).handle,
            "permute rows -> NCHW": lambda: vg.transpose(rows.reshape(N, H, H, C), (0, 3, 1, 2)).contiguous().handle,
            "col2im": lambda: be.col2im(cols_h, (N, C, H, H), win),
            "g @ w (dcols)": lambda: (g @ wm).handle,
            "g.T @ cols (dW)": lambda: (g.T @ cols).handle,
            "conv2d fwd": lambda: vg.conv2d(x, w, b, padding=1).handle,
            "max pool 2x2": lambda: be.window_max(x.handle, pool)[0],
            "max pool 2x2 gradient": lambda: be.window_scatter(ym, im, (N, C, H, H), pool),
        }
        for name, fn in parts.items():
            run = _gpu_timer(be, fn)
            t = statistics.median(run() for _ in range(5))
            print(f"{dt} {name:28s} {t * 1e3:8.3f} ms")


if __name__ == "__main__":
    main()
