"""Random ops on random shapes: the Vulkan backend against the CPU backend in the
same dtype, values and gradients.

The per-op tests pin each kernel's paths; this sweep crosses them with shapes
nobody picked (sizes around the quad, subgroup and loop limits, broadcasts of
every kind, permutes of up to six axes, reductions over any axes, batched products,
embeddings): it found a
scalar times a [1025, 257] tensor wrong beyond element 65535 on lavapipe (a
walk cut short by the driver's loop limit).  Seeded: a failure names its case
and replays."""
import numpy as np
import pytest

import vkgrad as vg

_DIMS = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 127, 129, 257, 1000, 1025]
_OPS = ["add", "sub", "mul", "div", "exp", "log", "sqrt", "relu", "sigmoid", "tanh", "gelu", "pow",
        "clamp", "affine", "sum", "mean", "max", "transpose", "getitem", "reshape", "matmul", "linear",
        "softmax", "log_softmax", "sce", "batch_norm", "mse", "argmax", "to_i32", "maximum", "minimum", "abs",
        "cat", "stack", "var", "layer_norm", "where", "conv2d", "max_pool2d", "avg_pool2d", "bmm", "embedding",
        "pad", "flip", "split", "interpolate", "cumsum", "roll", "einsum", "recurrence", "sin", "cos", "erf",
        "expm1", "log1p", "floor", "gather", "sort", "atan", "asinh", "atan2", "hypot", "median", "quantile",
        "cummax", "logcumsumexp", "index_add", "max_dim", "lgamma", "digamma", "erfc", "erfinv"]


def _case(r, big=300_000, max_dims=6):
    """(description, input arrays, f(*tensors) -> tensor)."""
    dim = lambda: int(r.choice(_DIMS))  # noqa: E731

    def shape():
        s = [dim() for _ in range(int(r.integers(1, max_dims + 1)))]
        while np.prod(s) > big:
            s[int(np.argmax(s))] = max(1, s[int(np.argmax(s))] // 2)
        return tuple(s)

    op = str(r.choice(_OPS))
    note = ""  # the case's parameters, for a failure's message
    s = shape()
    x = r.uniform(0.2, 2, s) if op in ("log", "sqrt", "pow", "log1p", "lgamma", "digamma") else \
        r.uniform(-0.9, 0.9, s) if op == "erfinv" else r.normal(0, 1, s)
    ins = [x]
    if op in ("add", "sub", "mul", "div", "maximum", "minimum", "atan2", "hypot"):
        k = int(r.integers(0, 6))  # the other operand: same shape, a trailing part, a
        # leading 1, a scalar, a column, or both broadcast ([.., m, 1] with [.., 1, n])
        o = [s, s[1:] or (1,), (1,) + s[1:], (), s[:-1] + (1,), s[:-1] + (1,)][k]
        if k == 5 and len(s) >= 2:
            ins = [r.normal(0, 1, s[:-1] + (1,))]
            o = s[:-2] + (1, s[-1])
        other = r.uniform(0.5, 2, o) * r.choice([-1, 1], o) if op == "div" else r.normal(0, 1, o)
        ins = ins + [other] if r.random() < 0.7 or op == "div" else [other] + ins
        f = lambda a, b: getattr(vg, op)(a, b)  # noqa: E731
    elif op in ("exp", "log", "sqrt", "relu", "sigmoid", "tanh", "gelu", "abs", "sin", "cos", "erf", "expm1", "log1p",
                "floor", "atan", "asinh", "lgamma", "digamma", "erfc", "erfinv"):
        f = lambda a: getattr(vg, op)(a)  # noqa: E731
    elif op in ("median", "quantile", "cummax", "logcumsumexp", "max_dim"):  # along a random axis (no ties)
        ax = int(r.integers(0, len(s)))
        ins = [r.permutation(x.size).reshape(s) / x.size * 4 - 2]
        q = sorted(r.uniform(0, 1, int(r.integers(1, 4))).round(3).tolist())
        f = {"median": lambda a: vg.median(a, ax).values, "quantile": lambda a: vg.quantile(a, q, ax),
             "cummax": lambda a: vg.cummax(a, ax).values, "logcumsumexp": lambda a: vg.logcumsumexp(a, ax),
             "max_dim": lambda a: vg.max(a, ax).values}[op]
        note = f" axis={ax}" + (f" q={q}" if op == "quantile" else "")
    elif op == "index_add":  # slices added at random (repeating) positions along an axis
        ax = int(r.integers(0, len(s)))
        m = int(r.integers(1, 2 * s[ax] + 1))
        idx = r.integers(0, s[ax], m)
        ins = [x, r.normal(0, 1, s[:ax] + (m,) + s[ax + 1:])]
        f = lambda a, src: vg.index_add(a, ax, idx, src, alpha=0.5)  # noqa: E731
        note = f" axis={ax} {m} slices"
    elif op == "gather":  # an index up to as large as x (each axis at most), along a random axis
        ax = int(r.integers(0, len(s)))
        ish = tuple(int(r.integers(1, d + 1)) for d in s)
        idx = r.integers(0, s[ax], ish)
        f = lambda a: vg.gather(a, ax, idx)  # noqa: E731
        note = f" axis={ax} index {list(ish)}"
    elif op == "sort":  # values (and so their gradient's permutation) along a random axis, either order
        ax, desc = int(r.integers(0, len(s))), bool(r.random() < 0.5)
        f = lambda a: vg.sort(a, ax, descending=desc).values  # noqa: E731
        note = f" axis={ax} descending={desc}"
    elif op == "pow":
        e = float(r.choice([2, 3, 0.5, -1.5]))
        f = lambda a: vg.pow(a, e)  # noqa: E731
        note = f" {e}"
    elif op == "clamp":
        f = lambda a: vg.clamp(a, -0.5, 0.75)  # noqa: E731  (bounds exact in f16)
    elif op == "affine":
        f = lambda a: vg.affine(a, 1.75, -0.25)  # noqa: E731
    elif op in ("sum", "mean", "max"):
        n = int(r.integers(0, len(s) + 1))
        ax = None if n == 0 else tuple(sorted(r.choice(len(s), size=n, replace=False).tolist()))
        kd = bool(r.random() < 0.5)  # (f16 maxima tie often: the backends split alike)
        f = lambda a: getattr(vg, op)(a, axis=ax, keepdims=kd)  # noqa: E731
        note = f" axis={ax} keepdims={kd}"
    elif op == "transpose":
        perm = tuple(r.permutation(len(s)).tolist())
        f = lambda a: vg.transpose(a, perm)  # noqa: E731
        note = f" {perm}"
    elif op == "reshape":
        f = lambda a: vg.reshape(a, (-1,))  # noqa: E731
    elif op == "getitem":
        idx = tuple(slice(int(r.integers(0, d)), None, int(r.choice([1, 1, 2, 3]))) for d in s)
        f = lambda a: a[idx]  # noqa: E731
        note = f" {idx}"
    elif op in ("matmul", "linear"):
        M, K, N = dim(), dim(), dim()
        ins = [r.normal(0, 1, (M, K)), r.normal(0, 1, (K, N)) if op == "matmul" else r.normal(0, 0.3, (N, K))]
        if op == "matmul":
            f = lambda a, b: vg.matmul(a, b)  # noqa: E731
        else:
            act = r.choice([None, "relu", "sigmoid", "tanh", "gelu"])
            ins.append(r.normal(0, 1, N))
            f = lambda a, w, b: vg.linear(a, w, b, activation=act)  # noqa: E731
            note = f" {act}"
    elif op == "bmm":  # batches on both sides (broadcast), or against a 2-d operand (folded)
        M, K, N = (max(1, dim() // 8) for _ in range(3))
        bt = tuple(int(v) for v in r.choice([1, 2, 3, 8], size=int(r.integers(1, 3))))
        kind = int(r.integers(0, 3))
        sa, sb = [(bt + (M, K), bt + (K, N)), (bt + (M, K), (K, N)), ((1,) + bt[1:] + (M, K), bt + (K, N))][kind]
        ins = [r.normal(0, 1, sa), r.normal(0, 1, sb)]
        f = lambda a, b: a @ b  # noqa: E731
    elif op == "embedding":  # rows gathered (repeats), the weight's gradient added back
        V, D = dim(), dim()
        idx = r.integers(0, V, tuple(int(v) for v in r.choice([1, 3, 17, 100], size=int(r.integers(1, 3))))
                         ).astype(np.int32)
        ins = [r.normal(0, 1, (V, D))]
        f = lambda w: vg.embedding(idx, w)  # noqa: E731
        note = f" indices {idx.shape}"
    elif op in ("softmax", "log_softmax"):
        ins = [3 * x]
        f = lambda a: getattr(vg, op)(a, axis=-1)  # noqa: E731
    elif op == "sce":
        B, C = dim(), dim()
        ins = [r.normal(0, 3, (B, C))]
        lab = r.integers(0, C, B).astype(np.int32)
        f = lambda a: vg.softmax_cross_entropy(a, lab)  # noqa: E731
    elif op == "batch_norm":
        B, C = max(2, dim()), dim()
        ins = [r.normal(3, 2, (B, C)), r.uniform(0.5, 1.5, C), r.normal(0, 1, C)]
        f = lambda a, w, b: vg.batch_norm(a, None, None, w, b, True)  # noqa: E731
    elif op in ("cat", "stack"):  # 2-3 pieces, cat's of other lengths along its axis
        ax = int(r.integers(-len(s), len(s)))
        pieces = [s] + [s[:ax % len(s)] + ((dim() if op == "cat" else s[ax]),) + s[ax % len(s) + 1:]
                        for _ in range(int(r.integers(1, 3)))]
        while op == "cat" and sum(np.prod(p) for p in pieces) > 2 * big:
            pieces.pop()
        ins = [r.normal(0, 1, p) for p in pieces]
        f = lambda *ts: getattr(vg, op)(list(ts), ax)  # noqa: E731
        note = f" axis={ax}"
    elif op == "where":  # a condition from a, b of a broadcast shape (or a alone, a scalar for b)
        k = int(r.integers(0, 3))
        o = [s, s[1:] or (1,), s[:-1] + (1,)][k]
        ins = [x, r.normal(0, 1, o)]
        f = lambda a, b: vg.where(vg.gt(a, 0.25), a * 2.0, b)  # noqa: E731
        note = f" other {o}"
    elif op == "var":
        n = int(r.integers(0, len(s) + 1))
        ax = None if n == 0 else tuple(sorted(r.choice(len(s), size=n, replace=False).tolist()))
        f = lambda a: vg.var(a, axis=ax, correction=0)  # noqa: E731
        note = f" axis={ax}"
    elif op == "layer_norm":
        k = int(r.integers(1, min(2, len(s)) + 1))
        ins = [r.normal(1, 2, s), r.uniform(0.5, 1.5, s[-k:]), r.normal(0, 1, s[-k:])]
        f = lambda a, w, b: vg.layer_norm(a, s[-k:], w, b)  # noqa: E731
        note = f" over {s[-k:]}"
    elif op == "argmax":  # (int32, no gradient: values compared)
        ax = None if r.random() < 0.2 else int(r.integers(-len(s), len(s)))
        kd = bool(r.random() < 0.3)
        f = lambda a: vg.argmax(a, ax, keepdims=kd)  # noqa: E731
        note = f" axis={ax} keepdims={kd}"
    elif op in ("conv2d", "max_pool2d", "avg_pool2d"):  # windows of every shape, padding and step
        k = (int(r.integers(1, 5)), int(r.integers(1, 5)))
        st = (int(r.integers(1, 4)), int(r.integers(1, 4)))
        d = (int(r.integers(1, 3)), int(r.integers(1, 3))) if op != "avg_pool2d" else (1, 1)
        pad = tuple(int(r.integers(0, kk // 2 + 1)) for kk in k)
        c = int(r.integers(1, 7))
        hw = tuple(int(r.integers(dd * (kk - 1) + 1, 24)) for kk, dd in zip(k, d))
        ins = [r.normal(0, 1, (int(r.integers(1, 5)), c) + hw)]
        if op == "conv2d":
            g = int(r.choice([q for q in range(1, c + 1) if c % q == 0]))
            oc = g * int(r.integers(1, 4))
            ins += [r.normal(0, 1, (oc, c // g) + k), r.normal(0, 1, oc)]
            f = lambda a, w, b: vg.conv2d(a, w, b, st, pad, d, g)  # noqa: E731
            note = f" kernel {k} stride {st} padding {pad} dilation {d} groups {g}"
        else:
            cm = bool(r.random() < 0.3)
            if op == "max_pool2d":
                ins = [r.permutation(ins[0].size).reshape(ins[0].shape) / ins[0].size]  # no ties
                f = lambda a: vg.max_pool2d(a, k, st, pad, d, cm)  # noqa: E731
            else:
                cip = bool(r.random() < 0.5)
                f = lambda a: vg.avg_pool2d(a, k, st, pad, cm, cip)  # noqa: E731
            note = f" kernel {k} stride {st} padding {pad} dilation {d} ceil_mode {cm}"
    elif op == "pad":  # up to three trailing axes, any mode (reflect: pads shorter than the axis)
        mode = str(r.choice(["constant", "reflect", "replicate", "circular"]))
        k = int(r.integers(1, min(3, len(s)) + 1))
        lim = lambda n: n - 1 if mode == "reflect" else n  # noqa: E731
        pads = tuple(int(r.integers(0, min(lim(s[-1 - i // 2]), 5) + 1)) for i in range(2 * k))
        f = lambda a: vg.pad(a, pads, mode, 0.5)  # noqa: E731
        note = f" {pads} {mode}"
    elif op == "flip":
        n = int(r.integers(1, len(s) + 1))
        ax = tuple(sorted(r.choice(len(s), size=n, replace=False).tolist()))
        f = lambda a: vg.flip(a, ax)  # noqa: E731
        note = f" axis={ax}"
    elif op == "split":  # pieces scaled apart, joined again
        ax = int(r.integers(0, len(s)))
        size = int(r.integers(1, s[ax] + 1))
        f = lambda a: vg.cat([p * (i + 1.0) for i, p in enumerate(vg.split(a, size, ax))], ax)  # noqa: E731
        note = f" {size} axis={ax}"
    elif op == "interpolate":  # [N, C, H, W], any mode and size
        mode = str(r.choice(["nearest", "bilinear", "bicubic"]))
        ins = [r.normal(0, 1, (int(r.integers(1, 4)), int(r.integers(1, 5)), dim() % 40 + 1, dim() % 40 + 1))]
        size = (int(r.integers(1, 50)), int(r.integers(1, 50)))
        ac = bool(r.random() < 0.5) if mode != "nearest" else None
        f = lambda a: vg.interpolate(a, size=size, mode=mode, align_corners=ac)  # noqa: E731
        note = f" to {size} {mode} align_corners={ac}"
    elif op == "cumsum":
        ax = int(r.integers(0, len(s)))
        f = lambda a: vg.cumsum(a, ax)  # noqa: E731
        note = f" axis={ax}"
    elif op == "roll":
        ax = int(r.integers(0, len(s)))
        k = int(r.integers(-2 * s[ax], 2 * s[ax] + 1))
        f = lambda a: vg.roll(a, k, ax)  # noqa: E731
        note = f" {k} axis={ax}"
    elif op == "einsum":  # a batched product with one operand transposed, or a contraction to a vector
        b, i, j, k = (dim() % 70 + 1 for _ in range(4))
        eq = str(r.choice(["bij,bkj->bik", "bij,jk->ki", "bij,bij->j"]))
        ins = [r.normal(0, 1, (b, i, j)), r.normal(0, 1, (j, k) if eq == "bij,jk->ki" else
                                                 (b, k, j) if eq == "bij,bkj->bik" else (b, i, j))]
        f = lambda a, c: vg.einsum(eq, a, c)  # noqa: E731
        note = f" {eq}"
    elif op == "recurrence":  # a layer's recurrence: LSTM / GRU / RNN, any direction
        mode = str(r.choice(["LSTM", "GRU", "RNN_TANH"]))
        G = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1}[mode]
        T, N, H = int(r.integers(1, 10)), dim() % 40 + 1, int(r.choice([4, 7, 8, 12, 16, 33]))
        rev = bool(r.random() < 0.5)
        lens = r.integers(1, T + 1, N) if r.random() < 0.5 else None  # (packed sequences' lengths)
        ins = [r.normal(0, 1, (T, N, G * H)), r.normal(0, 1, (N, H)), r.normal(0, 0.3, (G * H, H))]
        ins += [r.normal(0, 1, (N, H))] if mode == "LSTM" else [r.normal(0, 1, G * H)] if mode == "GRU" else []

        def f(xg, h0, w, *extra):
            c0 = extra[0] if mode == "LSTM" else None
            b = extra[0] if mode == "GRU" else None
            out, h, c = vg.recurrence(mode, xg, h0, c0, w, b, reverse=rev, lengths=lens)
            return vg.cat([out.reshape((-1,)), h.reshape((-1,))] + ([c.reshape((-1,))] if c is not None else []))
        note = f" {mode} reverse={rev} lengths={None if lens is None else lens.tolist()}"
    elif op == "to_i32":  # truncation toward zero, and back to floats (no gradient)
        ins = [x * 300]
        f = lambda a: a.to(dtype="i32").float()  # noqa: E731
    else:  # mse
        ins.append(r.normal(0, 1, s))
        f = lambda a, b: vg.mse_loss(a, b)  # noqa: E731
    return f"{op}{note} on {[a.shape for a in ins]}", ins, f


def _run(f, ins, device, dtype, w, grads=True):
    """[value, gradients of the inputs...] of f on the device, the gradients of
    sum(y * w(y.shape)) (``grads`` False: the value alone)."""
    ts = [vg.tensor(np.asarray(a, np.float32), device=device, dtype=dtype, requires_grad=grads) for a in ins]
    y = f(*ts)
    if not grads or not y.requires_grad:  # (argmax, casts through int32: values only)
        return [y.numpy()]
    (y * vg.tensor(w(y.shape), device=device, dtype=y.dtype)).sum().backward()
    return [y.numpy()] + [t.grad.numpy() for t in ts]


@pytest.mark.parametrize("seed", range(6))
def test_random_ops_match_the_cpu_backend(bk, seed):
    if bk.device == "cpu":
        pytest.skip("the CPU backend is the reference")
    tol = 2e-2 if bk.dtype == "f16" else 2e-4
    r = np.random.default_rng(1000 + seed)
    for i in range(30):
        what, ins, f = _case(r)
        ws = {}

        def w(shape):  # the same upstream gradient on both backends
            if shape not in ws:
                ws[shape] = r.normal(0, 1, shape).astype(np.float32)
            return ws[shape]
        want = _run(f, ins, "cpu", bk.dtype, w)
        got = _run(f, ins, "vulkan", bk.dtype, w)
        for k, (g, e) in enumerate(zip(got, want)):
            g, e = np.asarray(g, np.float64), np.asarray(e, np.float64)
            fin = np.isfinite(e)  # (an inf must match an inf: it may not widen the tolerance)
            scale = max(1.0, float(np.abs(e[fin]).max()) if fin.any() else 1.0)
            np.testing.assert_allclose(g, e, rtol=tol, atol=tol * scale,
                                       err_msg=f"seed {seed} case {i}: {what}, "
                                               + ("value" if k == 0 else f"gradient of input {k - 1}"))
