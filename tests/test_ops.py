"""Every op: values against NumPy, gradients against float64 finite differences
(CPU), and every backend's gradients against the float64 CPU gradients."""
import itertools
import math
import zlib

import numpy as np
import pytest

import vkgrad as vg
from vkgrad import nn

R = np.random.default_rng(7)


@pytest.fixture(autouse=True)
def _seeded_draws(request):
    """Each test draws from R seeded by its name (and case), so its inputs are the
    same whatever ran before it: one process (CI) or several (xdist) alike."""
    params = getattr(getattr(request.node, "callspec", None), "params", {})
    key = request.node.originalname + ("/" + params["case"] if "case" in params else "/" + request.node.name)
    R.bit_generator.state = np.random.default_rng(zlib.crc32(key.encode())).bit_generator.state


def U(*shape, lo=-2.0, hi=2.0):
    return lambda: R.uniform(lo, hi, shape)


def P(*shape):  # positive, away from 0
    return U(*shape, lo=0.5, hi=2.0)


def AWAY(*shape):  # |x| >= 0.2: relu/clamp kinks out of the finite-difference window
    def gen():
        x = R.uniform(0.2, 2.0, shape)
        return x * R.choice([-1.0, 1.0], shape)
    return gen


def _np_lu(a):
    """LAPACK's getrf, one matrix at a time (a textbook loop): (packed LU, L, U)."""
    if a.ndim > 2:
        outs = [_np_lu(m) for m in a.reshape((-1,) + a.shape[-2:])]
        return tuple(np.stack([o[i] for o in outs]).reshape(a.shape[:-2] + outs[0][i].shape) for i in range(3))
    A = a.astype(np.float64).copy()
    m, n = A.shape
    k = min(m, n)
    for j in range(k):
        p = j + int(np.argmax(np.abs(A[j:, j])))
        A[[j, p]] = A[[p, j]]
        A[j + 1:, j] /= A[j, j]
        A[j + 1:, j + 1:] -= np.outer(A[j + 1:, j], A[j, j + 1:])
    return A, np.tril(A[:, :k], -1) + np.eye(m, k), np.triu(A[:k])


def _np_householder(A, tau):
    """H_1 ... H_k's first n columns, H_i = I - tau_i v_i v_i^T (LAPACK's orgqr)."""
    m, n = A.shape
    Q = np.eye(m)
    for i in range(len(tau)):
        v = np.concatenate([np.zeros(i), [1.0], A[i + 1:, i]])
        Q = Q @ (np.eye(m) - tau[i] * np.outer(v, v))
    return Q[:, :n]


def _np_i1(x):
    """I1 by its power series (40 terms: float64-exact for |x| <= 6)."""
    return sum((x / 2) ** (2 * k + 1) / (math.factorial(k) * math.factorial(k + 1)) for k in range(40))


def _np_polygamma(n, x):
    """(-1)^(n+1) n! sum_k 1 / (x + k)^(n+1), summed to 20000 terms plus the tail's integral."""
    k = np.arange(20000.0)
    z = x[..., None] + k
    tail = 1.0 / (n * (x + 20000.0) ** n)
    return (-1.0) ** (n + 1) * math.factorial(n) * ((1.0 / z ** (n + 1)).sum(-1) + tail - 0.5 / (x + 20000.0) ** (n + 1))


def _np_bessel_j(n, x):
    """J0 / J1 by their power series (80 terms, float64: exact to ~1e-12 for |x| <= 12)."""
    return sum((-1) ** k * (x / 2) ** (2 * k + n) / (math.factorial(k) * math.factorial(k + n)) for k in range(80))


def _np_bessel_y(n, x):
    """Y0 / Y1 from the integral Y_n(x) = 1/pi int_0^pi sin(x sin t - n t) dt - 1/pi int_0^inf (e^(nt) +
    (-1)^n e^(-nt)) e^(-x sinh t) dt (Simpson's rule, float64)."""
    t = np.linspace(0, np.pi, 4001)
    w = np.ones_like(t)
    w[1:-1:2], w[2:-1:2] = 4, 2
    first = (np.sin(x[..., None] * np.sin(t) - n * t) * w).sum(-1) * (t[1] - t[0]) / 3 / np.pi
    u = np.linspace(0, 12, 24001)
    wu = np.ones_like(u)
    wu[1:-1:2], wu[2:-1:2] = 4, 2
    f = (np.exp(n * u) + (-1) ** n * np.exp(-n * u)) * np.exp(-x[..., None] * np.sinh(u))
    return first - (f * wu).sum(-1) * (u[1] - u[0]) / 3 / np.pi


def _np_bessel_k(n, x):
    """K_n(x) = int_0^inf exp(-x cosh t) cosh(n t) dt (Simpson's rule, float64)."""
    u = np.linspace(0, 12, 24001)
    wu = np.ones_like(u)
    wu[1:-1:2], wu[2:-1:2] = 4, 2
    return (np.exp(-x[..., None] * np.cosh(u)) * np.cosh(n * u) * wu).sum(-1) * (u[1] - u[0]) / 3


def _np_expm(a):
    """exp(A): 40 Taylor terms of A / 2^6, squared six times (float64)."""
    x, e, term = a / 64.0, np.broadcast_to(np.eye(a.shape[-1]), a.shape).copy(), None
    term = e.copy()
    for k in range(1, 40):
        term = term @ x / k
        e = e + term
    for _ in range(6):
        e = e @ e
    return e


def _np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_gelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def _np_gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _np_windows(x, k, stride, before, after, dil, fill):
    """Naive sliding windows: [N, C, OH, OW, kh, kw] of x padded with fill."""
    N, C, H, W = x.shape
    xp = np.full((N, C, H + before[0] + after[0], W + before[1] + after[1]), fill)
    xp[:, :, before[0]:before[0] + H, before[1]:before[1] + W] = x
    OH = (xp.shape[2] - dil[0] * (k[0] - 1) - 1) // stride[0] + 1
    OW = (xp.shape[3] - dil[1] * (k[1] - 1) - 1) // stride[1] + 1
    out = np.empty((N, C, OH, OW) + tuple(k))
    for oh in range(OH):
        for ow in range(OW):
            for i in range(k[0]):
                for j in range(k[1]):
                    out[:, :, oh, ow, i, j] = xp[:, :, oh * stride[0] + i * dil[0], ow * stride[1] + j * dil[1]]
    return out


def _np_conv2d(x, w, b=None, stride=(1, 1), before=(0, 0), after=None, dil=(1, 1), groups=1):
    win = _np_windows(x, w.shape[2:], stride, before, after or before, dil, 0.0)
    cg, og = x.shape[1] // groups, w.shape[0] // groups
    y = np.concatenate([np.einsum("nchwij,ocij->nohw", win[:, g * cg:(g + 1) * cg], w[g * og:(g + 1) * og])
                        for g in range(groups)], axis=1)
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def _np_conv_transpose2d(x, w, b, stride, pad, opad, dil):
    """Naive scatter: each input value times the kernel, added at its window."""
    N, Cin, H, W = x.shape
    Cout, (kh, kw) = w.shape[1], w.shape[2:]
    OH = (H - 1) * stride[0] - 2 * pad[0] + dil[0] * (kh - 1) + opad[0] + 1
    OW = (W - 1) * stride[1] - 2 * pad[1] + dil[1] * (kw - 1) + opad[1] + 1
    y = np.zeros((N, Cout, OH + 2 * pad[0] + kh * dil[0], OW + 2 * pad[1] + kw * dil[1]))
    for h in range(H):
        for v in range(W):
            for i in range(kh):
                for j in range(kw):
                    y[:, :, h * stride[0] + i * dil[0], v * stride[1] + j * dil[1]] += x[:, :, h, v] @ w[:, :, i, j]
    return y[:, :, pad[0]:pad[0] + OH, pad[1]:pad[1] + OW] + b.reshape(1, -1, 1, 1)


def _np_pool(x, k, stride, pad, mode, after=None, include_pad=True):
    if mode == "max":
        return _np_windows(x, k, stride, pad, after or pad, (1, 1), -np.inf).max((4, 5))
    sums = _np_windows(x, k, stride, pad, after or pad, (1, 1), 0.0).sum((4, 5))
    ones = _np_windows(np.ones((1, 1) + x.shape[2:]), k, stride, pad, after or pad, (1, 1), 0.0).sum((4, 5))
    return sums / (k[0] * k[1] if include_pad else ones)


def _np_adaptive(x, size):
    """PyTorch's adaptive average pool: windows [floor(i n / o), ceil((i + 1) n / o))."""
    (H, W), (OH, OW) = x.shape[2:], size
    out = np.zeros(x.shape[:2] + (OH, OW))
    for i in range(OH):
        for j in range(OW):
            a, b, c, d = i * H // OH, -(-(i + 1) * H // OH), j * W // OW, -(-(j + 1) * W // OW)
            out[:, :, i, j] = x[:, :, a:b, c:d].mean((2, 3))
    return out


def _np_bilinear(x, size, corners):
    """PyTorch's (bi)linear interpolation of [N, C, H, W] to ``size`` (size-given scales)."""
    for ax, o in zip((2, 3), size):
        n = x.shape[ax]
        d = np.arange(o, dtype=np.float64)
        src = (d * ((n - 1) / (o - 1)) if o > 1 else 0 * d) if corners else np.maximum((d + 0.5) * n / o - 0.5, 0)
        i0 = np.minimum(np.floor(src), n - 1).astype(int)
        w = (src - i0).reshape((o,) + (1,) * (3 - ax))
        x = np.take(x, i0, ax) * (1 - w) + np.take(x, np.minimum(i0 + 1, n - 1), ax) * w
    return x


def _np_bicubic(x, size, corners):
    """PyTorch's bicubic interpolation of [N, C, H, W] (A = -0.75, taps clamped)."""
    A = -0.75

    def k(t):  # the cubic convolution kernel at distance t
        t = np.abs(t)
        return np.where(t <= 1, ((A + 2) * t - (A + 3)) * t * t + 1,
                        np.where(t < 2, ((A * t - 5 * A) * t + 8 * A) * t - 4 * A, 0.0))
    for ax, o in zip((2, 3), size):
        n = x.shape[ax]
        d = np.arange(o, dtype=np.float64)
        src = (d * ((n - 1) / (o - 1)) if o > 1 else 0 * d) if corners else (d + 0.5) * n / o - 0.5
        f = np.floor(src)
        out = 0
        for j in range(-1, 3):
            w = k(src - (f + j)).reshape((o,) + (1,) * (3 - ax))
            out = out + np.take(x, np.clip(f + j, 0, n - 1).astype(int), ax) * w
        x = out
    return x


SDPA_KEEP = np.array([[True, False, True, True, False, True]] * 2 + [[False, True, False, False, True, True]] * 2)


def _np_sdpa(q, k, v, mask, scale):
    return _np_softmax(q @ np.swapaxes(k, -1, -2) * scale + mask) @ v


POOL_X = lambda: R.permutation(2 * 3 * 7 * 9).reshape(2, 3, 7, 9) / 50.0  # noqa: E731  (no ties)

ONEHOT = np.eye(5)[R.integers(0, 5, 6)]
BCE_T = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.5], [0.25, 1.0, 0.0], [0.0, 0.0, 1.0]])
EMB_IDX = np.array([[5, 0, 2], [2, 2, 1]])  # (repeats: the weight's gradient adds them up)
LABELS = R.integers(0, 5, 6)
LABELS_IGN = np.array([0, 3, -100, 4, 3, 1])  # a row PyTorch's ignore_index (-100) leaves out
CLASS_W = np.array([0.5, 1.0, 2.0, 1.5, 0.75])


def _np_adaptive_max(x, size):
    """PyTorch's adaptive max pool of [N, C, H, W]: windows [floor(i n / o), ceil((i + 1) n / o))."""
    (H, W), (OH, OW) = x.shape[2:], size
    out = np.zeros(x.shape[:2] + (OH, OW))
    for i in range(OH):
        for j in range(OW):
            out[:, :, i, j] = x[:, :, i * H // OH:-(-(i + 1) * H // OH), j * W // OW:-(-(j + 1) * W // OW)].max((2, 3))
    return out


def _np_conv3d(x, w, b, stride, pad):
    """Direct 3-d cross-correlation of [N, C, D, H, W] with [OC, C, kd, kh, kw]."""
    x = np.pad(x, ((0, 0), (0, 0)) + ((pad, pad),) * 3)
    kd, kh, kw = w.shape[2:]
    D, H, W = ((n - k) // s + 1 for n, k, s in zip(x.shape[2:], (kd, kh, kw), stride))
    out = np.zeros((x.shape[0], w.shape[0], D, H, W))
    for d in range(D):
        for i in range(H):
            for j in range(W):
                win = x[:, :, d * stride[0]:d * stride[0] + kd, i * stride[1]:i * stride[1] + kh,
                        j * stride[2]:j * stride[2] + kw]
                out[:, :, d, i, j] = np.einsum("ncdhw,ocdhw->no", win, w)
    return out + b[None, :, None, None, None]


def _np_pool3d(x, k, s, fn):
    k = (k,) * 3 if isinstance(k, int) else k
    D, H, W = ((n - kk) // ss + 1 for n, kk, ss in zip(x.shape[2:], k, s))
    out = np.zeros(x.shape[:2] + (D, H, W))
    for d in range(D):
        for i in range(H):
            for j in range(W):
                out[:, :, d, i, j] = fn(x[:, :, d * s[0]:d * s[0] + k[0], i * s[1]:i * s[1] + k[1],
                                          j * s[2]:j * s[2] + k[2]], axis=(2, 3, 4))
    return out


def _np_smooth(a, beta):
    return np.where(a < beta, 0.5 * a * a / beta, a - 0.5 * beta)


def _np_xent_smooth(z, labels, w, eps, logp=None):
    """PyTorch's cross_entropy with class weights, label smoothing and ignore_index -100
    (``logp`` given: nll_loss of those log-probabilities)."""
    keep = labels != -100
    logp = np.log(_np_softmax(z)) if logp is None else logp
    C = z.shape[1]
    t = (1 - eps) * np.eye(C)[np.where(keep, labels, 0)] + eps / C
    per = -np.sum(t * w * logp, 1) * keep
    return per.sum() / np.sum(w[np.where(keep, labels, 0)] * keep)
MASK_P = 0.3
G_IDX = np.array([[[0, 2, 2, 1]], [[3, 0, 1, 1]]])  # [2, 1, 4] into axis 1 of [2, 4, 4]


def _np_scatter_add(x, ax, idx, src):
    out = x.copy()
    for pos in np.ndindex(*idx.shape):
        tgt = list(pos)
        tgt[ax] = idx[pos]
        out[tuple(tgt)] += src[pos]
    return out


def _np_fold(cols, size, k, stride, pad):
    """Naive col2im of [N, C * kh * kw, L] into [N, C, *size]."""
    N, CK, L = cols.shape
    C = CK // (k[0] * k[1])
    H, W = size[0] + 2 * pad[0], size[1] + 2 * pad[1]
    OH, OW = (H - k[0]) // stride[0] + 1, (W - k[1]) // stride[1] + 1
    out = np.zeros((N, C, H, W))
    c = cols.reshape(N, C, k[0], k[1], OH, OW)
    for i in range(k[0]):
        for j in range(k[1]):
            out[:, :, i:i + stride[0] * OH:stride[0], j:j + stride[1] * OW:stride[1]] += c[:, :, i, j]
    return out[:, :, pad[0]:pad[0] + size[0], pad[1]:pad[1] + size[1]]


def _np_lrn(x, size, alpha, beta, k):
    C = x.shape[1]
    sq = np.pad(x * x, [(0, 0), (size // 2, (size - 1) // 2)] + [(0, 0)] * (x.ndim - 2))
    return x / (k + alpha / size * sum(sq[:, j:j + C] for j in range(size))) ** beta


def _np_ctc(lp, target, blank=0):
    """-log of the summed probability of every path of lp [T, C] that collapses to
    ``target`` (repeats merged, blanks dropped): brute force, for tiny T and C."""
    import itertools
    T, C = lp.shape
    total = 0.0
    for path in itertools.product(range(C), repeat=T):
        out = [c for i, c in enumerate(path) if c != blank and (i == 0 or c != path[i - 1])]
        if out == list(target):
            total += np.exp(sum(lp[t, c] for t, c in enumerate(path)))
    return -np.log(total)


def _np_log_softmax(x, axis=-1):
    return x - np.log(np.exp(x - x.max(axis, keepdims=True)).sum(axis, keepdims=True)) - x.max(axis, keepdims=True)


def _cubic(d, A=-0.75):
    """The cubic convolution weight of a tap at distance d (PyTorch's bicubic)."""
    d = abs(d)
    return ((A + 2) * d - (A + 3)) * d * d + 1 if d <= 1 else ((A * d - 5 * A) * d + 8 * A) * d - 4 * A


def _np_grid_sample(x, grid, cubic=False):
    """Bilinear (``cubic``: bicubic, taps -1..2) sampling of x [N, C, H, W] at grid
    [N, Ho, Wo, 2], zeros outside, align_corners=False (PyTorch's coordinates),
    point by point."""
    N, C, H, W = x.shape
    weight, taps = (_cubic, (-1, 0, 1, 2)) if cubic else ((lambda d: 1 - abs(d)), (0, 1))
    out = np.zeros((N, C) + grid.shape[1:3])
    for n in range(N):
        for i in range(grid.shape[1]):
            for j in range(grid.shape[2]):
                fx, fy = ((grid[n, i, j, 0] + 1) * W - 1) / 2, ((grid[n, i, j, 1] + 1) * H - 1) / 2
                x0, y0 = int(np.floor(fx)), int(np.floor(fy))
                for yy in (y0 + t for t in taps):
                    for xx in (x0 + t for t in taps):
                        if 0 <= yy < H and 0 <= xx < W:
                            out[n, :, i, j] += weight(fy - yy) * weight(fx - xx) * x[n, :, yy, xx]
    return out


def _np_conv_transpose3d(x, w, stride, padding):
    """Every input voxel times the kernel added at stride * position - padding
    (groups 1, dilation 1), point by point."""
    N, C, D, H, W = x.shape
    k = w.shape[2:]
    full = tuple((n - 1) * s + kk for n, s, kk in zip((D, H, W), stride, k))
    out = np.zeros((N, w.shape[1]) + full)
    for d in range(D):
        for h in range(H):
            for v in range(W):
                a, b, c = d * stride[0], h * stride[1], v * stride[2]
                out[:, :, a:a + k[0], b:b + k[1], c:c + k[2]] += np.einsum("nc,cokij->nokij", x[:, :, d, h, v], w)
    return out[:, :, padding[0]:full[0] - padding[0], padding[1]:full[1] - padding[1], padding[2]:full[2] - padding[2]]


def _np_digamma(x):
    """digamma as the central difference of math.lgamma (1e-10 here: a reference
    independent of the backends' series)."""
    h = 1e-5
    return np.vectorize(lambda v: (math.lgamma(v + h) - math.lgamma(v - h)) / (2 * h))(x)


def _np_erfinv(y):
    """erfinv by bisection on math.erf (to 1e-15)."""
    def one(v):
        lo, hi = -6.0, 6.0
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if math.erf(mid) < v else (lo, mid)
        return (lo + hi) / 2
    return np.vectorize(one)(y)


def _reflected_corners(g, W, H):
    """A grid within [-3, 3] mirrored into [-1, 1] at the corner pixels
    (align_corners=True), rewritten in _np_grid_sample's align_corners=False terms."""
    r = np.where(np.abs(g) > 1, np.sign(g) * 2 - g, g)
    n = np.array([W, H])
    return (r + 1) * (n - 1) / n + 1 / n - 1


# fmod / remainder operands whose quotients keep clear of integers (in f16 too)
FM_A, FM_B = np.array([-4.3, -1.7, 0.4, 2.6, 5.1, -3.2]), np.array([1.5, -2.0, 0.7, -1.1, 2.2, 0.9])
SEG_Y = np.array([[[0, 2, 1, 1], [2, 2, 0, 1]], [[1, 0, 0, 2], [1, 1, 2, 0]]])  # labels of [2, 3, 2, 4] maps
BAG_IDX = np.array([3, 1, 1, 4, 0, 2, 2])
BAG_OFF = np.array([0, 3, 3, 5])  # bags [3, 1, 1], [], [4, 0], [2, 2]


Y_PM = np.array([1.0, -1.0, -1.0, 1.0, 1.0])  # +-1 targets of the margin losses
LAB5 = np.array([2, 0, 3, 3, 1])


def _np_multi_margin(x, y, p, margin, w):
    h = np.maximum(0, margin - x[np.arange(len(y)), y][:, None] + x) ** p
    h[np.arange(len(y)), y] = 0
    return (h * w[y][:, None]).sum(1).mean() / x.shape[1]


def _np_triplet(a, p, n, margin, swap):
    d = lambda u, v: np.sqrt(((u - v + 1e-6) ** 2).sum(-1))  # noqa: E731
    dan = np.minimum(d(a, n), d(p, n)) if swap else d(a, n)
    return np.maximum(0, d(a, p) - dan + margin).mean()


def _np_cos_embed(a, b, y, margin):
    cos = (a * b).sum(-1) / np.sqrt(((a * a).sum(-1) + 1e-12) * ((b * b).sum(-1) + 1e-12))
    return np.where(y == 1, 1 - cos, np.maximum(0, cos - margin)).mean()

# name: (fn on tensors, NumPy reference, input generators)
CASES = {
    "add": (lambda a, b: a + b, np.add, [U(3, 4), U(3, 4)]),
    "add_bcast_row": (vg.add, np.add, [U(3, 4), U(4)]),
    "add_bcast_outer": (vg.add, np.add, [U(3, 1), U(1, 4)]),
    "add_bcast_1elem": (vg.add, np.add, [U(1), U(5, 3)]),
    "add_scalar": (lambda a: a + 1.5, lambda a: a + 1.5, [U(4, 3)]),
    "rsub_scalar": (lambda a: 2.0 - a, lambda a: 2.0 - a, [U(7)]),
    "sub_bcast": (lambda a, b: a - b, np.subtract, [U(2, 3, 4), U(3, 1)]),
    "mul": (lambda a, b: a * b, np.multiply, [U(5, 3), U(5, 3)]),
    "mul_bcast_col": (vg.mul, np.multiply, [U(5, 3), U(5, 1)]),
    "mul_scalar": (lambda a: 3.0 * a, lambda a: 3.0 * a, [U(2, 2)]),
    "div": (lambda a, b: a / b, np.divide, [U(4, 3), P(4, 3)]),
    "div_bcast": (vg.div, np.divide, [U(4, 3), P(3)]),
    "rdiv_scalar": (lambda a: 2.0 / a, lambda a: 2.0 / a, [P(5)]),
    "neg": (lambda a: -a, np.negative, [U(3, 5)]),
    "exp": (vg.exp, np.exp, [U(4, 5)]),
    "log": (vg.log, np.log, [P(4, 5)]),
    "sqrt": (vg.sqrt, np.sqrt, [P(9)]),
    "pow2": (lambda a: a ** 2, lambda a: a ** 2, [U(3, 3)]),
    "pow3": (lambda a: vg.pow(a, 3), lambda a: a ** 3, [U(3, 3)]),
    "pow_half": (lambda a: a ** 0.5, np.sqrt, [P(6)]),
    "pow_neg": (lambda a: a ** -1.5, lambda a: a ** -1.5, [P(6)]),
    "clamp": (lambda a: vg.clamp(a, -0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5),
              [lambda: np.array([-1.0, -0.3, 0.1, 0.45, 0.9, 1.7, -0.7])]),
    "clamp_min": (lambda a: a.clamp(min=0.1), lambda a: np.maximum(a, 0.1),
                  [lambda: np.array([[-1.0, 0.3], [0.05, 2.0]])]),
    "relu": (vg.relu, lambda a: np.maximum(a, 0), [AWAY(5, 7)]),
    "sigmoid": (vg.sigmoid, _np_sigmoid, [U(5, 7, lo=-6, hi=6)]),
    "tanh": (vg.tanh, np.tanh, [U(5, 7)]),
    "gelu": (vg.gelu, _np_gelu, [U(5, 7, lo=-4, hi=4)]),
    "gelu_tanh": (lambda a: vg.gelu(a, approximate="tanh"), _np_gelu_tanh, [U(5, 7, lo=-4, hi=4)]),
    "softmax": (vg.softmax, _np_softmax, [U(4, 6)]),
    "softmax_axis0": (lambda a: vg.softmax(a, axis=0), lambda a: _np_softmax(a, 0), [U(4, 6)]),
    "softmax_1elem": (vg.softmax, _np_softmax, [U(3, 1)]),
    "log_softmax": (vg.log_softmax, lambda a: np.log(_np_softmax(a)), [U(4, 6)]),
    "sum_all": (vg.sum, np.sum, [U(3, 4)]),
    "sum_axis0": (lambda a: vg.sum(a, axis=0), lambda a: a.sum(0), [U(3, 4)]),
    "sum_axis1_keep": (lambda a: vg.sum(a, axis=1, keepdims=True),
                       lambda a: a.sum(1, keepdims=True), [U(3, 4)]),
    "sum_axes_3d": (lambda a: vg.sum(a, axis=(0, 2)), lambda a: a.sum((0, 2)), [U(2, 3, 4)]),
    "mean_all": (vg.mean, np.mean, [U(5, 3)]),
    "mean_axis_neg": (lambda a: vg.mean(a, axis=-1), lambda a: a.mean(-1), [U(5, 3)]),
    "var_all": (vg.var, lambda a: a.var(ddof=1), [U(5, 3)]),
    "var_axis0_keep_biased": (lambda a: vg.var(a, 0, keepdims=True, correction=0),
                              lambda a: a.var(0, keepdims=True), [U(6, 4)]),
    "std_axis1": (lambda a: a.std(1), lambda a: a.std(1, ddof=1), [U(4, 7)]),
    "abs": (vg.abs, np.abs, [AWAY(5, 7)]),
    "leaky_relu": (lambda a: vg.leaky_relu(a, 0.2), lambda a: np.where(a > 0, a, 0.2 * a), [AWAY(4, 6)]),
    "silu": (vg.silu, lambda a: a * _np_sigmoid(a), [U(4, 6, lo=-5, hi=5)]),
    "elu": (lambda a: vg.elu(a, 1.5), lambda a: np.where(a > 0, a, 1.5 * (np.exp(np.minimum(a, 0)) - 1)),
            [AWAY(4, 6)]),
    "softplus": (vg.softplus, lambda a: np.logaddexp(0, a), [U(4, 6, lo=-6, hi=6)]),
    "hardtanh": (lambda a: vg.hardtanh(a, -0.5, 1.0), lambda a: np.clip(a, -0.5, 1.0), [U(4, 6)]),
    "relu6": (lambda a: vg.relu6(a * 4.0), lambda a: np.clip(a * 4.0, 0, 6), [AWAY(4, 6)]),
    "hardsigmoid": (vg.hardsigmoid, lambda a: np.clip(a / 6 + 0.5, 0, 1), [U(4, 6, lo=-5, hi=5)]),
    "hardswish": (vg.hardswish, lambda a: a * np.clip(a / 6 + 0.5, 0, 1), [U(4, 6, lo=-5, hi=5)]),
    "mish": (vg.mish, lambda a: a * np.tanh(np.logaddexp(0, a)), [U(4, 6, lo=-5, hi=5)]),
    "logsigmoid": (vg.logsigmoid, lambda a: -np.logaddexp(0, -a), [U(4, 6, lo=-6, hi=6)]),
    "softsign": (vg.softsign, lambda a: a / (1 + np.abs(a)), [U(4, 6)]),
    "selu": (vg.selu, lambda a: 1.0507009873554805 * np.where(a > 0, a, 1.6732632423543772 * np.expm1(np.minimum(a, 0))),
             [AWAY(4, 6)]),
    "celu": (lambda a: vg.celu(a, 0.7), lambda a: np.where(a > 0, a, 0.7 * np.expm1(np.minimum(a, 0) / 0.7)),
             [AWAY(4, 6)]),
    "prelu_channels": (vg.prelu, lambda a, w: np.where(a > 0, a, w[:, None] * a), [AWAY(2, 3, 4), P(3)]),
    "abs_method": (lambda a: (a * 2.0).abs(), lambda a: np.abs(2 * a), [AWAY(3, 4)]),
    "layer_norm": (lambda x, w, b: vg.layer_norm(x, 5, w, b),
                   lambda x, w, b: (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5) * w + b,
                   [U(4, 5), U(5, lo=0.5, hi=1.5), U(5)]),
    "index_select": (lambda x: vg.index_select(x, 1, [2, 0, 2, -1]), lambda x: x[:, [2, 0, 2, 3]], [U(3, 4, 2)]),
    "index_select_method_dim": (lambda x: x.index_select(dim=0, index=np.array([1, 1])), lambda x: x[[1, 1]],
                                [U(2, 5)]),
    "flip": (lambda x: vg.flip(x, (0, 2)), lambda x: np.flip(x, (0, 2)), [U(3, 4, 5)]),
    "tile": (lambda x: vg.tile(x, (2, 1, 3)), lambda x: np.tile(x, (2, 1, 3)), [U(3, 2)]),
    "repeat_method": (lambda x: x.repeat(2, 3), lambda x: np.tile(x, (2, 3)), [U(2, 4)]),
    "flip_method": (lambda x: x.flip(-1), lambda x: np.flip(x, -1), [U(2, 7)]),
    "pad_constant": (lambda x: vg.pad(x, (1, 2, 0, 1), value=0.5),
                     lambda x: np.pad(x, ((0, 0), (0, 1), (1, 2)), constant_values=0.5), [U(2, 3, 4)]),
    "pad_crop": (lambda x: vg.pad(x, (-1, 2, 1, -2), value=0.5),  # (negative: cropped, as PyTorch's)
                 lambda x: np.pad(x[:, :3, 1:], ((0, 0), (1, 0), (0, 2)), constant_values=0.5), [U(2, 5, 4)]),
    "pad_reflect": (lambda x: vg.pad(x, (2, 1, 1, 2), "reflect"),
                    lambda x: np.pad(x, ((0, 0), (0, 0), (1, 2), (2, 1)), "reflect"), [U(2, 2, 4, 5)]),
    "pad_replicate": (lambda x: vg.pad(x, (3, 0), "replicate"), lambda x: np.pad(x, ((0, 0), (3, 0)), "edge"),
                      [U(3, 4)]),
    "pad_circular": (lambda x: vg.pad(x, (4, 1, 0, 3), "circular"),
                     lambda x: np.pad(x, ((0, 0), (0, 3), (4, 1)), "wrap"), [U(2, 3, 4)]),
    "normalize": (vg.normalize, lambda x: x / np.maximum(np.sqrt((x * x).sum(1, keepdims=True)), 1e-12), [U(4, 5)]),
    "normalize_p3_dim": (lambda x: vg.normalize(x, p=3, dim=-1),
                         lambda x: x / (np.abs(x) ** 3).sum(-1, keepdims=True) ** (1 / 3), [AWAY(2, 3, 4)]),
    "cosine_similarity": (vg.cosine_similarity,
                          lambda a, b: (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)),
                          [U(4, 5), U(4, 5)]),
    "cosine_similarity_bcast": (lambda a, b: vg.cosine_similarity(a, b, dim=-1),
                                lambda a, b: (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b)),
                                [U(3, 4), U(4)]),
    "sdpa": (vg.scaled_dot_product_attention, lambda q, k, v: _np_sdpa(q, k, v, 0.0, 1 / np.sqrt(5)),
             [U(2, 3, 4, 5), U(2, 3, 6, 5), U(2, 3, 6, 4)]),
    "sdpa_causal_scale": (lambda q, k, v: vg.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.3),
                          lambda q, k, v: _np_sdpa(q, k, v, np.where(np.triu(np.ones((4, 4), bool), 1), -np.inf, 0),
                                                   0.3), [U(3, 4, 5), U(3, 4, 5), U(3, 4, 2)]),
    "sdpa_bool_mask_broadcast": (lambda q, k, v: vg.scaled_dot_product_attention(q, k, v, attn_mask=SDPA_KEEP),
                                 lambda q, k, v: _np_sdpa(q, k, v, np.where(SDPA_KEEP, 0, -np.inf), 1 / np.sqrt(5)),
                                 [U(3, 4, 5), U(6, 5), U(6, 2)]),
    "sdpa_float_mask": (lambda q, k, v, m: vg.scaled_dot_product_attention(q, k, v, attn_mask=m),
                        lambda q, k, v, m: _np_sdpa(q, k, v, m, 1 / np.sqrt(5)),
                        [U(2, 4, 5), U(2, 6, 5), U(2, 6, 3), U(4, 6)]),
    # rows of whole 16-byte quads (4 f32, 8 halves): Vulkan's fused kernels; a scale only
    "layer_norm_quads": (lambda x, w, b: vg.layer_norm(x, 16, w, b),
                         lambda x, w, b: (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
                         * w + b, [U(2, 3, 16), U(16, lo=0.5, hi=1.5), U(16)]),
    "layer_norm_scale_only": (lambda x, w: vg.layer_norm(x, (2, 4), w, eps=1e-3),
                              lambda x, w: (x - x.mean((1, 2), keepdims=True))
                              / np.sqrt(x.var((1, 2), keepdims=True) + 1e-3) * w, [U(5, 2, 4), U(2, 4, lo=0.5, hi=1.5)]),
    "layer_norm_2d_plain": (lambda x: vg.layer_norm(x, (3, 4)),
                            lambda x: (x - x.mean((1, 2), keepdims=True))
                            / np.sqrt(x.var((1, 2), keepdims=True) + 1e-5), [U(2, 3, 4)]),
    # pieces scaled apart, so each one's gradient is checked
    "split_sections": (lambda x: vg.cat([p * (i + 1.0) for i, p in enumerate(vg.split(x, [1, 3, 0, 2], axis=1))], 1),
                       lambda x: np.concatenate([x[:, :1], 2 * x[:, 1:4], 4 * x[:, 4:]], 1), [U(3, 6, 2)]),
    "split_size_dim": (lambda x: x.split(2, dim=-1)[2], lambda x: x[..., 4:], [U(3, 2, 5)]),
    "chunk": (lambda x: vg.cat([c * (i + 1.0) for i, c in enumerate(x.chunk(3, 0))], 0),
              lambda x: np.concatenate([x[:3], 2 * x[3:6], 3 * x[6:]]), [U(7, 3)]),
    "unbind": (lambda x: vg.stack([t * (i + 1.0) for i, t in enumerate(vg.unbind(x, dim=1))]),
               lambda x: np.stack([x[:, i] * (i + 1.0) for i in range(3)]), [U(4, 3, 2)]),
    "broadcast_to": (lambda x: vg.broadcast_to(x, (2, 3, 4)), lambda x: np.broadcast_to(x, (2, 3, 4)), [U(3, 1)]),
    "expand_method": (lambda x: x.expand(2, -1, 5), lambda x: np.broadcast_to(x, (2, 3, 5)), [U(3, 1)]),
    "min_dim": (lambda x: vg.min(x, 1).values, lambda x: x.min(1), [U(4, 6)]),
    "min_axis": (lambda x: vg.min(x, axis=1), lambda x: x.min(1), [U(4, 6)]),
    "min_all_method": (lambda x: x.min(), lambda x: x.min(), [U(3, 5)]),
    "logsumexp": (lambda x: vg.logsumexp(x, 1), lambda x: np.log(np.exp(x).sum(1)), [U(4, 6, lo=-4, hi=4)]),
    "logsumexp_keep_method": (lambda x: x.logsumexp((0, 2), keepdims=True),
                              lambda x: np.log(np.exp(x).sum((0, 2), keepdims=True)), [U(2, 3, 4)]),
    "masked_fill": (lambda x: x.masked_fill(np.array([[True, False, False, True]] * 3), 2.5),
                    lambda x: np.where(np.array([[True, False, False, True]] * 3), 2.5, x), [U(2, 3, 4)]),
    "cat_axis0": (lambda a, b: vg.cat([a, b]), lambda a, b: np.concatenate([a, b]), [U(2, 3), U(4, 3)]),
    "cat_axis1_three": (lambda a, b, c: vg.cat((a, b, c), axis=-1), lambda a, b, c: np.concatenate([a, b, c], 1),
                        [U(3, 1), U(3, 5), U(3, 2)]),
    "cat_3d_middle": (lambda a, b: vg.cat([a, b], 1), lambda a, b: np.concatenate([a, b], 1),
                      [U(2, 3, 4), U(2, 1, 4)]),
    "stack_last": (lambda a, b: vg.stack([a, b], -1), lambda a, b: np.stack([a, b], -1), [U(3, 5), U(3, 5)]),
    "stack_front_1d": (lambda a, b, c: vg.stack([a, b, c]), lambda a, b, c: np.stack([a, b, c]),
                       [U(7), U(7), U(7)]),
    "clone": (lambda a: a.clone(), lambda a: a, [U(3, 4)]),
    "embedding": (lambda w: vg.embedding(EMB_IDX, w), lambda w: w[EMB_IDX], [U(6, 5)]),
    "where_gt": (lambda a, b: vg.where(vg.gt(a, b), a, b * 2.0), lambda a, b: np.where(a > b, a, 2 * b),
                 [lambda: R.permutation(12).reshape(3, 4) / 3.0, lambda: R.permutation(12).reshape(3, 4) / 3.0 + 0.1]),
    "where_scalar_bcast": (lambda a, b: vg.where(vg.gt(b, 0.0), a, -0.5), lambda a, b: np.where(b > 0, a, -0.5),
                           [U(4, 5), AWAY(4, 1)]),
    "maximum": (vg.maximum, np.maximum, [lambda: R.permutation(12).reshape(3, 4) / 3.0,
                                         lambda: R.permutation(12).reshape(3, 4) / 3.0 + 0.1]),
    "maximum_bcast": (vg.maximum, np.maximum, [lambda: R.permutation(12).reshape(3, 4) / 3.0,
                                               lambda: np.array([0.55, 1.05, 2.05, 3.05])]),
    "minimum_scalar": (lambda a: vg.minimum(a, 0.3), lambda a: np.minimum(a, 0.3), [AWAY(4, 5)]),
    "minimum_bcast_col": (vg.minimum, np.minimum, [lambda: R.permutation(12).reshape(4, 3) / 3.0,
                                                   lambda: np.array([[0.5], [1.5], [2.5], [3.5]])]),
    "max_all": (vg.max, np.max, [lambda: R.permutation(12).reshape(3, 4) / 3.0]),
    "max_axis1": (lambda a: vg.max(a, axis=1), lambda a: a.max(1),
                  [lambda: R.permutation(12).reshape(3, 4) / 3.0]),
    "max_dim_keep_method": (lambda a: a.max(dim=0, keepdim=True)[0], lambda a: a.max(0, keepdims=True),
                            [lambda: R.permutation(24).reshape(2, 3, 4) / 3.0]),
    "max_other": (vg.max, np.maximum, [lambda: R.permutation(12).reshape(3, 4) / 3.0,
                                       lambda: R.permutation(12).reshape(3, 4) / 3.0 + 0.1]),
    "transpose": (vg.transpose, np.transpose, [U(3, 5)]),
    "transpose_T": (lambda a: a.T, lambda a: a.T, [U(1, 5)]),
    "transpose_3d": (lambda a: vg.transpose(a, (1, 2, 0)), lambda a: a.transpose(1, 2, 0), [U(2, 3, 4)]),
    "reshape": (lambda a: vg.reshape(a, (-1, 2)), lambda a: a.reshape(-1, 2), [U(3, 4)]),
    "reshape_flat": (lambda a: a.reshape(-1), lambda a: a.reshape(-1), [U(2, 3, 2)]),
    "index_row": (lambda a: a[1], lambda a: a[1], [U(3, 4)]),
    "index_col_slice": (lambda a: a[:, 1:3], lambda a: a[:, 1:3], [U(3, 5)]),
    "index_step_neg_int": (lambda a: a[::2, -1], lambda a: a[::2, -1], [U(5, 4)]),
    "index_ellipsis_none": (lambda a: a[..., None, 1:], lambda a: a[..., None, 1:], [U(2, 3, 4)]),
    "index_empty": (lambda a: a[2:2], lambda a: a[2:2], [U(4, 3)]),
    "matmul": (lambda a, b: a @ b, np.matmul, [U(5, 7), U(7, 3)]),
    "matmul_1x1": (vg.matmul, np.matmul, [U(1, 1), U(1, 1)]),
    "matmul_odd": (vg.matmul, np.matmul, [U(33, 17), U(17, 9)]),
    "linear": (lambda x, w, b: vg.linear(x, w, b), lambda x, w, b: x @ w.T + b,
               [U(6, 5), U(4, 5), U(4)]),
    "linear_relu": (lambda x, w, b: vg.linear(x, w, b, "relu"),
                    lambda x, w, b: np.maximum(x @ w.T + b, 0), [U(6, 5), U(4, 5), U(4)]),
    "linear_sigmoid": (lambda x, w, b: vg.linear(x, w, b, "sigmoid"),
                       lambda x, w, b: _np_sigmoid(x @ w.T + b), [U(6, 5), U(4, 5), U(4)]),
    "linear_tanh": (lambda x, w, b: vg.linear(x, w, b, "tanh"),
                    lambda x, w, b: np.tanh(x @ w.T + b), [U(6, 5), U(4, 5), U(4)]),
    "linear_gelu": (lambda x, w, b: vg.linear(x, w, b, "gelu"),
                    lambda x, w, b: _np_gelu(x @ w.T + b), [U(6, 5), U(4, 5), U(4)]),
    "linear_softmax": (lambda x, w, b: vg.linear(x, w, b, "softmax"),
                       lambda x, w, b: _np_softmax(x @ w.T + b), [U(6, 5), U(4, 5), U(4)]),
    "linear_nobias": (lambda x, w: vg.linear(x, w), lambda x, w: x @ w.T, [U(3, 2), U(5, 2)]),
    # NumPy's / PyTorch's matmul rules: vectors, batches folded or broadcast (bmm)
    "matmul_vec_mat": (vg.matmul, np.matmul, [U(7), U(7, 3)]),
    "matmul_mat_vec": (vg.matmul, np.matmul, [U(5, 7), U(7)]),
    "matmul_dot": (vg.matmul, np.matmul, [U(7), U(7)]),
    "matmul_batch_fold": (lambda a, b: a @ b, np.matmul, [U(2, 3, 7), U(7, 4)]),
    "matmul_bmm": (vg.matmul, np.matmul, [U(3, 5, 7), U(3, 7, 6)]),
    "matmul_bmm_odd": (vg.matmul, np.matmul, [U(2, 9, 13), U(2, 13, 5)]),
    "matmul_bmm_bcast": (vg.matmul, np.matmul, [U(2, 1, 5, 7), U(3, 7, 4)]),
    "matmul_mat_batch": (vg.matmul, np.matmul, [U(5, 7), U(2, 7, 3)]),
    "matmul_vec_batch": (vg.matmul, np.matmul, [U(7), U(2, 7, 3)]),
    "bmm": (vg.bmm, np.matmul, [U(3, 4, 6), U(3, 6, 5)]),
    "linear_3d_gelu": (lambda x, w, b: vg.linear(x, w, b, "gelu"),
                       lambda x, w, b: _np_gelu(x @ w.T + b), [U(2, 3, 5), U(4, 5), U(4)]),
    "linear_1d": (lambda x, w, b: vg.linear(x, w, b), lambda x, w, b: x @ w.T + b, [U(5), U(4, 5), U(4)]),
    "softmax_xent_onehot": (lambda z: vg.softmax_cross_entropy(z, ONEHOT),
                            lambda z: -np.mean(np.sum(ONEHOT * np.log(_np_softmax(z)), 1)), [U(6, 5)]),
    "softmax_xent_labels": (lambda z: vg.softmax_cross_entropy(z, LABELS),
                            lambda z: -np.mean(np.log(_np_softmax(z))[np.arange(6), LABELS]), [U(6, 5)]),
    "cross_entropy": (lambda p: vg.cross_entropy(p, ONEHOT),
                      lambda p: -np.mean(np.sum(ONEHOT * np.log(p), 1)), [P(6, 5)]),
    "bce_with_logits": (lambda z: vg.binary_cross_entropy_with_logits(z, BCE_T),
                        lambda z: np.mean(np.logaddexp(0, z) - z * BCE_T), [U(4, 3, lo=-4, hi=4)]),
    "mse_loss": (vg.mse_loss, lambda a, b: np.mean((a - b) ** 2), [U(4, 3), U(4, 3)]),
    "adaptive_max_pool2d_uneven": (lambda x: vg.adaptive_max_pool2d(x, (3, 4)), lambda x: _np_adaptive_max(x, (3, 4)),
                                   [POOL_X]),
    "adaptive_max_pool1d": (lambda x: vg.adaptive_max_pool1d(x, 4),
                            lambda x: _np_adaptive_max(x[:, :, None], (1, 4))[:, :, 0],
                            [lambda: R.permutation(3 * 13).reshape(1, 3, 13) / 10.0]),
    "conv3d": (lambda x, w, b: vg.conv3d(x, w, b, stride=(2, 1, 1), padding=1),
               lambda x, w, b: _np_conv3d(x, w, b, (2, 1, 1), 1), [U(2, 2, 5, 4, 3), U(3, 2, 3, 2, 2), U(3)]),
    "max_pool3d": (lambda x: vg.max_pool3d(x, 2, stride=(1, 2, 2)),
                   lambda x: _np_pool3d(x, 2, (1, 2, 2), np.max), [lambda: R.permutation(2 * 3 * 4 * 5 * 4)
                                                                  .reshape(2, 3, 4, 5, 4) / 50.0]),
    "avg_pool3d": (lambda x: vg.avg_pool3d(x, (2, 3, 2)), lambda x: _np_pool3d(x, (2, 3, 2), (2, 3, 2), np.mean),
                   [U(1, 2, 5, 6, 4)]),
    "cumsum_axis1": (lambda a: vg.cumsum(a, dim=1), lambda a: np.cumsum(a, 1), [U(3, 11, 2)]),
    "cumsum_last": (lambda a: a.cumsum(-1), lambda a: np.cumsum(a, -1), [U(2, 33)]),
    "roll_two_axes": (lambda a: vg.roll(a, (2, -1), (0, 2)), lambda a: np.roll(a, (2, -1), (0, 2)), [U(5, 3, 4)]),
    "roll_flat": (lambda a: vg.roll(a, 5), lambda a: np.roll(a, 5), [U(3, 4)]),
    "tril": (lambda a: vg.tril(a, -1), lambda a: np.tril(a, -1), [U(2, 4, 5)]),
    "triu": (lambda a: vg.triu(a, 1), lambda a: np.triu(a, 1), [U(5, 4)]),
    "einsum_batched": (lambda a, b: vg.einsum("bij,bjk->bik", a, b), lambda a, b: np.einsum("bij,bjk->bik", a, b),
                       [U(2, 3, 4), U(2, 4, 5)]),
    "einsum_chain_implicit": (lambda a, b, c: vg.einsum("ij,jk,kl", a, b, c),
                              lambda a, b, c: np.einsum("ij,jk,kl", a, b, c), [U(3, 4), U(4, 5), U(5, 2)]),
    "einsum_ellipsis_bcast": (lambda a, b: vg.einsum("...ij,...jk->...ik", a, b),
                              lambda a, b: np.einsum("...ij,...jk->...ik", a, b), [U(1, 3, 4), U(2, 4, 2)]),
    "einsum_outer_and_sum": (lambda a, b: vg.einsum("i,jk->ij", a, b), lambda a, b: np.einsum("i,jk->ij", a, b),
                             [U(3), U(4, 2)]),
    "mse_loss_sum": (lambda a, b: vg.mse_loss(a, b, reduction="sum"), lambda a, b: np.sum((a - b) ** 2),
                     [U(4, 3), U(4, 3)]),
    "l1_loss_none": (lambda a, b: vg.l1_loss(a, b, reduction="none"), lambda a, b: np.abs(a - b), [U(4, 3), U(4, 3)]),
    "smooth_l1_loss": (lambda a, b: vg.smooth_l1_loss(a, b, beta=0.8),
                       lambda a, b: np.mean(_np_smooth(np.abs(a - b), 0.8)), [U(5, 3), U(5, 3)]),
    "huber_loss_sum": (lambda a, b: vg.huber_loss(a, b, reduction="sum", delta=1.5),
                       lambda a, b: np.sum(1.5 * _np_smooth(np.abs(a - b), 1.5)), [U(5, 3), U(5, 3)]),
    "bce": (lambda p, t: vg.binary_cross_entropy(p, t),
            lambda p, t: -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)), [U(4, 3, lo=0.1, hi=0.9), U(4, 3, lo=0, hi=1)]),
    "bce_with_logits_pos_weight": (
        lambda z: vg.binary_cross_entropy_with_logits(z, BCE_T, pos_weight=np.array([1.0, 2.0, 0.5]), reduction="none"),
        lambda z: np.array([1.0, 2.0, 0.5]) * BCE_T * np.logaddexp(0, -z) + (1 - BCE_T) * np.logaddexp(0, z),
        [U(4, 3, lo=-4, hi=4)]),
    "nll_loss_weighted": (lambda x: vg.nll_loss(x, LABELS_IGN, weight=CLASS_W),
                          lambda x: _np_xent_smooth(x, LABELS_IGN, CLASS_W, 0.0, logp=x), [U(6, 5)]),
    "xent_smoothing_weight_ignore": (
        lambda z: vg.softmax_cross_entropy(z, LABELS_IGN, weight=CLASS_W, label_smoothing=0.1),
        lambda z: _np_xent_smooth(z, LABELS_IGN, CLASS_W, 0.1), [U(6, 5)]),
    "kl_div_batchmean": (lambda x, t: vg.kl_div(x, t, reduction="batchmean"),
                         lambda x, t: np.sum(t * (np.log(t) - x)) / 4, [U(4, 5), P(4, 5)]),
    "kl_div_log_target": (lambda x, t: vg.kl_div(x, t, reduction="none", log_target=True),
                          lambda x, t: np.exp(t) * (t - x), [U(4, 5), U(4, 5)]),
    "conv2d": (lambda x, w, b: vg.conv2d(x, w, b, padding=1), lambda x, w, b: _np_conv2d(x, w, b, before=(1, 1)),
               [U(2, 3, 6, 5), U(4, 3, 3, 3), U(4)]),
    "conv2d_stride_dilation": (lambda x, w: vg.conv2d(x, w, stride=(2, 1), padding=(0, 2), dilation=(2, 1)),
                               lambda x, w: _np_conv2d(x, w, stride=(2, 1), before=(0, 2), dil=(2, 1)),
                               [U(1, 2, 9, 8), U(3, 2, 2, 3)]),
    "conv2d_same_even": (lambda x, w, b: vg.conv2d(x, w, b, padding="same"),  # 1 before, 2 after along W
                         lambda x, w, b: _np_conv2d(x, w, b, before=(0, 1), after=(1, 2)),
                         [U(2, 2, 5, 6), U(3, 2, 2, 4), U(3)]),
    "conv2d_1x1_unbatched": (lambda x, w, b: vg.conv2d(x, w, b), lambda x, w, b: _np_conv2d(x[None], w, b)[0],
                             [U(3, 4, 5), U(2, 3, 1, 1), U(2)]),
    "conv2d_depthwise": (lambda x, w, b: vg.conv2d(x, w, b, padding=1, groups=3),  # two outputs per channel
                         lambda x, w, b: _np_conv2d(x, w, b, before=(1, 1), groups=3),
                         [U(2, 3, 5, 6), U(6, 1, 3, 3), U(6)]),
    "conv2d_groups": (lambda x, w: vg.conv2d(x, w, stride=2, groups=2),  # 6 x 3 per group: one product each
                      lambda x, w: _np_conv2d(x, w, stride=(2, 2), groups=2), [U(2, 6, 7, 5), U(12, 3, 2, 2)]),
    "conv1d": (lambda x, w, b: vg.conv1d(x, w, b, stride=2, padding=1, dilation=2),
               lambda x, w, b: _np_conv2d(x[:, :, None], w[:, :, None], b, (1, 2), (0, 1), dil=(1, 2))[:, :, 0],
               [U(2, 3, 11), U(4, 3, 3), U(4)]),
    "conv1d_same_groups": (lambda x, w: vg.conv1d(x, w, padding="same", groups=2),
                           lambda x, w: _np_conv2d(x[:, :, None], w[:, :, None], None, before=(0, 1), after=(0, 2),
                                                   groups=2)[:, :, 0], [U(2, 4, 9), U(6, 2, 4)]),
    "max_pool1d": (lambda x: vg.max_pool1d(x, 3, 2, 1),
                   lambda x: _np_pool(x[:, :, None], (1, 3), (1, 2), (0, 1), "max")[:, :, 0],
                   [lambda: R.permutation(2 * 3 * 10).reshape(2, 3, 10) / 20.0]),
    "avg_pool1d_unbatched": (lambda x: vg.avg_pool1d(x, 2), lambda x: x[:, :8].reshape(3, 4, 2).mean(2), [U(3, 9)]),
    "interpolate_bilinear": (lambda x: vg.interpolate(x, size=(5, 3), mode="bilinear"),
                             lambda x: _np_bilinear(x, (5, 3), False), [U(2, 3, 4, 5)]),
    "interpolate_bilinear_corners": (lambda x: vg.interpolate(x, scale_factor=1.5, mode="bilinear",
                                                              align_corners=True),
                                     lambda x: _np_bilinear(x, (6, 7), True), [U(1, 2, 4, 5)]),
    "interpolate_bicubic": (lambda x: vg.interpolate(x, size=(7, 3), mode="bicubic"),
                            lambda x: _np_bicubic(x, (7, 3), False), [U(1, 2, 4, 5)]),
    "interpolate_bicubic_corners": (lambda x: vg.interpolate(x, scale_factor=2, mode="bicubic", align_corners=True),
                                    lambda x: _np_bicubic(x, (8, 6), True), [U(1, 2, 4, 3)]),
    "interpolate_linear": (lambda x: vg.interpolate(x, size=7, mode="linear"),
                           lambda x: _np_bilinear(x[:, :, None], (1, 7), False)[:, :, 0], [U(2, 3, 4)]),
    "interpolate_nearest_fraction": (lambda x: vg.interpolate(x, size=(3, 8)),
                                     lambda x: x[:, :, [0, 1, 2]][:, :, :, [0, 0, 1, 1, 2, 3, 3, 4]], [U(2, 2, 4, 5)]),
    "interpolate_nearest": (lambda x: vg.interpolate(x, scale_factor=(2, 3)),
                            lambda x: x.repeat(2, axis=2).repeat(3, axis=3), [U(2, 3, 4, 5)]),
    "interpolate_nearest_1d_size": (lambda x: vg.interpolate(x, size=12), lambda x: x.repeat(3, axis=2),
                                    [U(2, 3, 4)]),
    "group_norm": (lambda x, w, b: vg.group_norm(x, 2, w, b),
                   lambda x, w, b: (((x.reshape(3, 2, -1) - x.reshape(3, 2, -1).mean(2, keepdims=True))
                                     / np.sqrt(x.reshape(3, 2, -1).var(2, keepdims=True) + 1e-5)).reshape(x.shape)
                                    * w.reshape(4, 1, 1) + b.reshape(4, 1, 1)),
                   [U(3, 4, 2, 5), U(4, lo=0.5, hi=1.5), U(4)]),
    "conv_transpose2d": (lambda x, w, b: vg.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
                         lambda x, w, b: _np_conv_transpose2d(x, w, b, (2, 2), (1, 1), (1, 1), (1, 1)),
                         [U(2, 3, 4, 5), U(3, 2, 3, 3), U(2)]),
    "conv_transpose2d_groups": (lambda x, w, b: vg.conv_transpose2d(x, w, b, stride=2, padding=1, groups=2),
                                lambda x, w, b: np.concatenate(
                                    [_np_conv_transpose2d(x[:, 2 * g:2 * g + 2], w[2 * g:2 * g + 2],
                                                          b[3 * g:3 * g + 3], (2, 2), (1, 1), (0, 0), (1, 1))
                                     for g in range(2)], 1), [U(2, 4, 3, 4), U(4, 3, 3, 3), U(6)]),
    "conv_transpose2d_dilated": (lambda x, w, b: vg.conv_transpose2d(x, w, b, (1, 2), (0, 1), (0, 1), dilation=(2, 1)),
                                 lambda x, w, b: _np_conv_transpose2d(x, w, b, (1, 2), (0, 1), (0, 1), (2, 1)),
                                 [U(1, 2, 3, 3), U(2, 4, 2, 3), U(4)]),
    "max_pool2d": (lambda x: vg.max_pool2d(x, 3, 2, 1), lambda x: _np_pool(x, (3, 3), (2, 2), (1, 1), "max"),
                   [POOL_X]),
    # windows tiling the input (stride = kernel), the last row and column left out
    "max_pool2d_tiled": (lambda x: vg.max_pool2d(x, 2), lambda x: _np_pool(x, (2, 2), (2, 2), (0, 0), "max"),
                         [POOL_X]),
    "max_pool2d_ceil": (lambda x: vg.max_pool2d(x, (2, 3), ceil_mode=True),  # one more row and column
                        lambda x: _np_pool(x, (2, 3), (2, 3), (0, 0), "max", after=(1, 0)), [POOL_X]),
    "avg_pool2d": (lambda x: vg.avg_pool2d(x, 2), lambda x: _np_pool(x, (2, 2), (2, 2), (0, 0), "avg"), [U(2, 3, 6, 5)]),
    "avg_pool2d_exclude_pad": (lambda x: vg.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
                               lambda x: _np_pool(x, (3, 3), (2, 2), (1, 1), "avg", include_pad=False),
                               [U(2, 3, 6, 5)]),
    "adaptive_avg_pool2d_uneven": (lambda x: vg.adaptive_avg_pool2d(x, (4, 3)), lambda x: _np_adaptive(x, (4, 3)),
                                   [U(2, 3, 6, 7)]),
    "adaptive_avg_pool2d": (lambda x: vg.adaptive_avg_pool2d(x, (3, 1)),
                            lambda x: x.reshape(2, 3, 3, 2, 4).mean((3, 4))[..., None], [U(2, 3, 6, 4)]),
    "batch_norm_2d_train": (
        lambda x, g, b: vg.batch_norm(x, None, None, g, b, training=True),
        lambda x, g, b: ((x - x.mean((0, 2, 3), keepdims=True)) / np.sqrt(x.var((0, 2, 3), keepdims=True) + 1e-5)
                         * g.reshape(1, 3, 1, 1) + b.reshape(1, 3, 1, 1)),
        [U(4, 3, 2, 5), U(3, lo=0.5, hi=1.5), U(3)]),
    "batch_norm_train": (
        lambda x, g, b: vg.batch_norm(x, None, None, g, b, training=True),
        lambda x, g, b: (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5) * g + b,
        [U(7, 5), U(5, lo=0.5, hi=1.5), U(5)]),
    "sin": (vg.sin, np.sin, [U(4, 6, lo=-7, hi=7)]),
    "sin_far": (lambda a: a.sin(), np.sin, [lambda: U(37, lo=-100, hi=100)().astype(np.float32).astype(np.float64)]),
    "cos": (vg.cos, np.cos, [U(4, 6, lo=-7, hi=7)]),
    "tan": (vg.tan, np.tan, [U(3, 5, lo=-1.2, hi=1.2)]),
    "atan": (vg.atan, np.arctan, [U(4, 6, lo=-4, hi=4)]),
    "asin": (vg.asin, np.arcsin, [U(3, 5, lo=-0.9, hi=0.9)]),
    "acos_method": (lambda a: a.acos(), np.arccos, [U(3, 5, lo=-0.9, hi=0.9)]),
    "asinh": (vg.arcsinh, np.arcsinh, [U(3, 5, lo=-5, hi=5)]),
    "acosh": (vg.acosh, np.arccosh, [U(3, 5, lo=1.1, hi=6)]),
    "atanh": (lambda a: a.atanh(), np.arctanh, [U(3, 5, lo=-0.9, hi=0.9)]),
    "atan2": (vg.atan2, np.arctan2, [U(3, 4), AWAY(3, 4)]),
    "atan2_bcast_scalar": (lambda a: vg.atan2(a, -1.5), lambda a: np.arctan2(a, -1.5), [U(2, 3)]),
    "hypot_bcast": (vg.hypot, np.hypot, [AWAY(3, 4), AWAY(4)]),
    "sinh": (vg.sinh, np.sinh, [U(3, 5)]),
    "cosh": (vg.cosh, np.cosh, [U(3, 5)]),
    "log1p": (vg.log1p, np.log1p, [U(4, 5, lo=-0.5, hi=3)]),
    "expm1": (vg.expm1, np.expm1, [U(4, 5)]),
    "erf": (vg.erf, lambda a: np.vectorize(math.erf)(a), [U(4, 6, lo=-3, hi=3)]),
    "exp2": (vg.exp2, np.exp2, [U(4, 3)]),
    "log2": (lambda a: a.log2(), np.log2, [P(4, 3)]),
    "log10": (vg.log10, np.log10, [P(4, 3)]),
    "reciprocal": (vg.reciprocal, np.reciprocal, [P(5)]),
    "rsqrt": (lambda a: a.rsqrt(), lambda a: 1 / np.sqrt(a), [P(5)]),
    "square": (vg.square, np.square, [U(3, 4)]),
    "sign": (vg.sign, np.sign, [AWAY(3, 5)]),
    "floor": (vg.floor, np.floor, [U(3, 5, lo=-4, hi=4)]),
    "ceil": (lambda a: a.ceil(), np.ceil, [U(3, 5, lo=-4, hi=4)]),
    "trunc": (vg.trunc, np.trunc, [U(3, 5, lo=-4, hi=4)]),
    "round": (vg.round, np.round, [U(3, 5, lo=-4, hi=4)]),
    "round_decimals": (lambda a: a.round(decimals=1), lambda a: np.round(a, 1),
                       [lambda: np.array([0.123, -1.26, 2.72, 0.077, -0.328, 3.0])]),
    "frac": (vg.frac, lambda a: a - np.trunc(a), [U(3, 5, lo=-4, hi=4)]),
    "tanhshrink": (vg.tanhshrink, lambda a: a - np.tanh(a), [U(3, 5)]),
    "softshrink": (lambda a: vg.softshrink(a, 0.5), lambda a: np.where(a > 0.5, a - 0.5, np.where(a < -0.5, a + 0.5, 0)),
                   [lambda: np.array([-1.7, -0.8, -0.3, 0.0, 0.2, 0.7, 1.9])]),
    "hardshrink": (vg.hardshrink, lambda a: np.where(np.abs(a) > 0.5, a, 0),
                   [lambda: np.array([-1.7, -0.8, -0.3, 0.0, 0.2, 0.7, 1.9])]),
    "threshold": (lambda a: vg.threshold(a, 0.1, -2.0), lambda a: np.where(a > 0.1, a, -2.0),
                  [lambda: np.array([[-1.7, -0.8, 0.03], [0.4, 0.2, 1.9]])]),
    "diagonal": (vg.diagonal, lambda a: np.diagonal(a), [U(4, 6)]),
    "diagonal_offset_dims": (lambda a: vg.diagonal(a, 1, 2, 0), lambda a: np.diagonal(a, 1, 2, 0), [U(5, 3, 4)]),
    "diagonal_below": (lambda a: a.diagonal(offset=-2, dim1=-1, dim2=-2),
                       lambda a: np.diagonal(a, -2, -1, -2), [U(2, 5, 4)]),
    "diagonal_empty": (lambda a: vg.diagonal(a, 5) * 2.0, lambda a: np.diagonal(a, 5) * 2.0, [U(3, 4)]),
    "diag_vector": (lambda a: vg.diag(a, 1), lambda a: np.diag(a, 1), [U(4)]),
    "diag_vector_below": (lambda a: vg.diag(a, -2), lambda a: np.diag(a, -2), [U(3)]),
    "diag_matrix": (lambda a: vg.diag(a, -1), lambda a: np.diag(a, -1), [U(4, 3)]),
    "trace": (vg.trace, np.trace, [U(3, 5)]),
    "outer": (vg.outer, np.outer, [U(4), U(3)]),
    "einsum_diagonal": (lambda a: vg.einsum("ii->i", a), lambda a: np.einsum("ii->i", a), [U(4, 4)]),
    "einsum_trace_batched": (lambda a, b: vg.einsum("bii,bj", a, b), lambda a, b: np.einsum("bii,bj", a, b),
                             [U(2, 3, 3), U(2, 5)]),
    "einsum_repeat_three": (lambda a: vg.einsum("iji->j", a), lambda a: np.einsum("iji->j", a), [U(3, 2, 3)]),
    "margin_ranking_loss": (lambda a, b: vg.margin_ranking_loss(a, b, Y_PM, margin=0.3),
                            lambda a, b: np.maximum(0, -Y_PM * (a - b) + 0.3).mean(), [U(5), U(5)]),
    "hinge_embedding_loss": (lambda a: vg.hinge_embedding_loss(a, Y_PM, margin=1.5, reduction="sum"),
                             lambda a: np.where(Y_PM == 1, a, np.maximum(0, 1.5 - a)).sum(), [U(5)]),
    "soft_margin_loss": (lambda a: vg.soft_margin_loss(a, np.tile(Y_PM, (3, 1))),
                         lambda a: np.log1p(np.exp(-np.tile(Y_PM, (3, 1)) * a)).mean(), [U(3, 5)]),
    "cosine_embedding_loss": (lambda a, b: vg.cosine_embedding_loss(a, b, Y_PM, margin=-0.2),
                              lambda a, b: _np_cos_embed(a, b, Y_PM, -0.2), [U(5, 4), U(5, 4)]),
    "triplet_margin_loss": (lambda a, p, n: vg.triplet_margin_loss(a, p, n, margin=0.5),
                            lambda a, p, n: _np_triplet(a, p, n, 0.5, False), [U(5, 3), U(5, 3), U(5, 3)]),
    "triplet_margin_loss_swap": (lambda a, p, n: vg.triplet_margin_loss(a, p, n, margin=2.0, swap=True),
                                 lambda a, p, n: _np_triplet(a, p, n, 2.0, True), [U(5, 3), U(5, 3), U(5, 3)]),
    "multi_margin_loss": (lambda a: vg.multi_margin_loss(a, LAB5, margin=3.0),
                          lambda a: _np_multi_margin(a, LAB5, 1, 3.0, np.ones(4)), [U(5, 4)]),
    "multi_margin_loss_p2_weight": (lambda a: vg.multi_margin_loss(a, LAB5, p=2, margin=3.0,
                                                                   weight=np.array([1.0, 0.5, 2.0, 1.5])),
                                    lambda a: _np_multi_margin(a, LAB5, 2, 3.0, np.array([1.0, 0.5, 2.0, 1.5])),
                                    [U(5, 4)]),
    "multilabel_soft_margin_loss": (
        lambda a: vg.multilabel_soft_margin_loss(a, (LAB5[:, None] > np.arange(4)).astype(float)),
        lambda a: np.mean(np.mean(-(np.where(LAB5[:, None] > np.arange(4), -np.logaddexp(0, -a),
                                             -np.logaddexp(0, a))), 1)), [U(5, 4)]),
    "poisson_nll_loss": (lambda a: vg.poisson_nll_loss(a, np.arange(12.0).reshape(3, 4) / 3, full=True),
                         lambda a: np.mean(np.exp(a) - np.arange(12.0).reshape(3, 4) / 3 * a + np.where(
                             np.arange(12.0).reshape(3, 4) / 3 > 1,
                             (lambda t: t * np.log(np.maximum(t, 1)) - t + 0.5 * np.log(2 * np.pi * np.maximum(t, 1)))(
                                 np.arange(12.0).reshape(3, 4) / 3), 0)), [U(3, 4)]),
    "poisson_nll_loss_rates": (lambda a: vg.poisson_nll_loss(a, np.full((2, 3), 2.0), log_input=False, reduction="sum"),
                               lambda a: np.sum(a - 2.0 * np.log(a + 1e-8)), [P(2, 3)]),
    "gaussian_nll_loss": (lambda a, v: vg.gaussian_nll_loss(a, np.ones((4, 3)), v, full=True),
                          lambda a, v: np.mean(0.5 * (np.log(v) + (a - 1) ** 2 / v) + 0.5 * np.log(2 * np.pi)),
                          [U(4, 3), P(4, 3)]),
    "gaussian_nll_loss_row_var": (lambda a, v: vg.gaussian_nll_loss(a, np.zeros((4, 3)), v, reduction="none"),
                                  lambda a, v: 0.5 * (np.log(v[:, None]) + a ** 2 / v[:, None]), [U(4, 3), P(4)]),
    "gather_axis1": (lambda a: vg.gather(a, 1, np.array([[0, 3, 3], [2, 1, 0]])),
                     lambda a: np.take_along_axis(a, np.array([[0, 3, 3], [2, 1, 0]]), 1), [U(2, 4)]),
    "gather_axis0_smaller": (lambda a: a.gather(dim=0, index=np.array([[1, 0], [1, 1]])),
                             lambda a: np.take_along_axis(a[:, :2], np.array([[1, 0], [1, 1]]), 0), [U(3, 4)]),
    "gather_3d_middle": (lambda a: vg.gather(a, 1, G_IDX), lambda a: np.take_along_axis(a, G_IDX, 1), [U(2, 4, 4)]),
    "gather_device_index": (lambda a: vg.gather(a, -1, vg.tensor(G_IDX[:, 0].astype(np.int32), dtype="i32",
                                                                 device=a.device)),
                            lambda a: np.take_along_axis(a, G_IDX[:, 0], -1), [U(2, 5)]),
    "take_along_dim_bcast": (lambda a: vg.take_along_dim(a, np.array([[[1], [-1]]]), 2),
                             lambda a: np.take_along_axis(a, np.broadcast_to(np.array([[[1], [2]]]), (3, 2, 1)), 2),
                             [U(3, 2, 3)]),
    "take_along_dim_flat": (lambda a: vg.take_along_dim(a, np.array([5, 0, 5])),
                            lambda a: a.reshape(-1)[[5, 0, 5]], [U(2, 3)]),
    "scatter_add": (lambda a, b: vg.scatter_add(a, 1, G_IDX, b), lambda a, b: _np_scatter_add(a, 1, G_IDX, b),
                    [U(2, 4, 4), U(2, 1, 4)]),
    "scatter_add_larger_src_smaller_index": (
        lambda a, b: a.scatter_add(0, np.array([[2, 0], [2, 2]]), b),
        lambda a, b: _np_scatter_add(a, 0, np.array([[2, 0], [2, 2]]), b[:2, :2]), [U(3, 3), U(3, 4)]),
    "sort_values": (lambda a: vg.sort(a).values, lambda a: np.sort(a, -1), [U(3, 7)]),
    "sort_descending_axis0": (lambda a: a.sort(dim=0, descending=True)[0], lambda a: -np.sort(-a, 0), [U(5, 2, 3)]),
    "topk": (lambda a: vg.topk(a, 3).values, lambda a: -np.sort(-a, -1)[..., :3], [U(2, 3, 9)]),
    "topk_smallest_dim1": (lambda a: a.topk(2, dim=1, largest=False)[0], lambda a: np.sort(a, 1)[:, :2], [U(3, 5, 2)]),
    "kthvalue": (lambda a: vg.kthvalue(a, 2, 0).values, lambda a: np.sort(a, 0)[1], [U(4, 3)]),
    "unfold": (lambda a: vg.unfold(a, (2, 3), padding=1, stride=(2, 1)),
               lambda a: _np_windows(a, (2, 3), (2, 1), (1, 1), (1, 1), (1, 1), 0.0).transpose(0, 1, 4, 5, 2, 3)
               .reshape(2, 3 * 6, -1), [U(2, 3, 4, 5)]),
    "fold": (lambda a: vg.fold(a, (4, 5), 2, padding=(1, 0), stride=(1, 2)),
             lambda a: _np_fold(a, (4, 5), (2, 2), (1, 2), (1, 0)), [U(2, 8, 10)]),
    "conv_transpose1d": (lambda x, w, b: vg.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1),
                         lambda x, w, b: _np_conv_transpose2d(x[:, :, None], w[:, :, None], b, (1, 2), (0, 1), (0, 1),
                                                              (1, 1))[:, :, 0], [U(2, 3, 5), U(3, 2, 3), U(2)]),
    "channel_shuffle": (lambda a: vg.channel_shuffle(a, 2) * 1.0,
                        lambda a: a.reshape(2, 2, 3, 2).transpose(0, 2, 1, 3).reshape(2, 6, 2), [U(2, 6, 2)]),
    "local_response_norm": (lambda a: vg.local_response_norm(a, 3, alpha=0.5, beta=0.75, k=2.0),
                            lambda a: _np_lrn(a, 3, 0.5, 0.75, 2.0), [U(2, 5, 3)]),
    "bilinear": (vg.bilinear, lambda a, b, w, c: np.einsum("ni,oij,nj->no", a, w, b) + c,
                 [U(4, 3), U(4, 2), U(5, 3, 2), U(5)]),
    "embedding_bag_offsets_sum": (
        lambda w, p: vg.embedding_bag(BAG_IDX, w, BAG_OFF, mode="sum", per_sample_weights=p),
        lambda w, p: np.stack([(w[BAG_IDX[a:b]] * p[a:b, None]).sum(0) for a, b in zip(BAG_OFF, list(BAG_OFF[1:]) + [7])]),
        [U(5, 3), U(7)]),
    "embedding_bag_2d_mean_padding": (
        lambda w: vg.embedding_bag(BAG_IDX[:6].reshape(2, 3), w, padding_idx=1),
        lambda w: np.stack([w[[3]].mean(0), w[[4, 0, 2]].mean(0)]), [U(5, 3)]),
    "embedding_bag_max": (
        lambda w: vg.embedding_bag(BAG_IDX, w, BAG_OFF, mode="max"),
        lambda w: np.stack([w[BAG_IDX[a:b]].max(0) if b > a else np.zeros(3)
                            for a, b in zip(BAG_OFF, list(BAG_OFF[1:]) + [7])]), [U(5, 3)]),
    "norm_fro": (vg.norm, lambda a: np.sqrt((a * a).sum()), [U(3, 4)]),
    "norm_p3_dim_keep": (lambda a: a.norm(3, dim=1, keepdim=True),
                         lambda a: (np.abs(a) ** 3).sum(1, keepdims=True) ** (1 / 3), [AWAY(3, 4)]),
    "norm_inf": (lambda a: vg.norm(a, float("inf"), 0), lambda a: np.abs(a).max(0), [AWAY(3, 4)]),
    "norm_minus_inf": (lambda a: vg.norm(a, -float("inf"), -1), lambda a: np.abs(a).min(-1), [AWAY(3, 4)]),
    "amax_dims": (lambda a: vg.amax(a, dim=(0, 2)), lambda a: a.max((0, 2)), [U(2, 3, 4)]),
    "amin_method": (lambda a: a.amin(1, keepdim=True), lambda a: a.min(1, keepdims=True), [U(2, 3, 4)]),
    "nan_to_num_finite": (lambda a: vg.nan_to_num(a * 2.0), lambda a: a * 2.0, [U(3, 4)]),
    "movedim": (lambda a: vg.movedim(a, (0, 2), (2, 0)), lambda a: np.moveaxis(a, (0, 2), (2, 0)), [U(2, 3, 4)]),
    "narrow": (lambda a: a.narrow(1, -3, 2), lambda a: a[:, 1:3], [U(2, 4)]),
    "repeat_interleave": (lambda a: vg.repeat_interleave(a, np.array([2, 0, 1]), dim=1),
                          lambda a: np.repeat(a, [2, 0, 1], 1), [U(2, 3)]),
    "repeat_interleave_flat": (lambda a: a.repeat_interleave(2), lambda a: np.repeat(a, 2), [U(2, 2)]),
    "unflatten": (lambda a: vg.unflatten(a, -1, (2, -1)) * 1.0, lambda a: a.reshape(3, 2, 2), [U(3, 4)]),
    "fmod": (vg.fmod, np.fmod, [lambda: FM_A.copy(), lambda: FM_B.copy()]),
    "remainder": (lambda a, b: a.remainder(b), np.remainder, [lambda: FM_A.copy(), lambda: FM_B.copy()]),
    "lerp": (vg.lerp, lambda a, b, w: a + w * (b - a), [U(3), U(3), U(3)]),
    "mm_mv_dot_addmm": (lambda a, b, v: vg.addmm(v, a, b, beta=0.5, alpha=2.0) + vg.mv(a, v).reshape(2, 1)
                        + vg.dot(v[:2], v[1:]),
                        lambda a, b, v: 0.5 * v + 2 * a @ b + (a @ v)[:, None] + v[:2] @ v[1:],
                        [U(2, 3), U(3, 3), U(3)]),
    "clamp_min_max": (lambda a: vg.clamp_max(vg.clamp_min(a, -0.5), 0.7),
                      lambda a: np.clip(a, -0.5, 0.7), [AWAY(3, 4)]),
    "prod_all": (vg.prod, np.prod, [U(3, 3, lo=0.5, hi=1.5)]),
    "prod_axis_odd_keep": (lambda a: a.prod(dim=1, keepdim=True), lambda a: a.prod(1, keepdims=True), [U(2, 5, 3)]),
    "prod_with_zero": (lambda a: vg.prod(a * vg.tensor([1.0, 0.0, 1.0], device=a.device, dtype=a.dtype), 0),
                       lambda a: (a * [1.0, 0.0, 1.0]).prod(0), [U(3)]),
    "cumprod": (lambda a: vg.cumprod(a, 1), lambda a: np.cumprod(a, 1), [U(2, 7)]),
    "cumprod_dim_kw": (lambda a: vg.cumprod(a, dim=0), lambda a: np.cumprod(a, 0), [U(3, 2)]),
    "index_add": (lambda x, s: vg.index_add(x, 1, [3, 0, 3], s, alpha=2.0),
                  lambda x, s: x + 2.0 * np.stack([s[:, 1], 0 * s[:, 0], 0 * s[:, 0], s[:, 0] + s[:, 2]], 1),
                  [U(2, 4), U(2, 3)]),
    "index_copy_method": (lambda x, s: x.index_copy(0, np.array([2, 0]), s),
                          lambda x, s: np.concatenate([s[1:2], x[1:2], s[0:1]]), [U(3, 4), U(2, 4)]),
    "index_fill": (lambda x: vg.index_fill(x, -1, [1, -1], -0.5), lambda x: np.where([0, 1, 0, 1], -0.5, x),
                   [U(3, 4)]),
    "scatter_src": (lambda x, s: vg.scatter(x, 1, np.array([[2, 0], [1, 3]]), s),
                    lambda x, s: np.array([[s[0, 1], x[0, 1], s[0, 0], x[0, 3]], [x[1, 0], s[1, 0], x[1, 2], s[1, 1]]]),
                    [U(2, 4), U(2, 3)]),
    "scatter_value": (lambda x: x.scatter(0, np.array([[1, 0, 1]]), value=2.5),
                      lambda x: np.array([[x[0, 0], 2.5, x[0, 2]], [2.5, x[1, 1], 2.5]]), [U(2, 3)]),
    "scatter_reduce_mean": (lambda x, s: vg.scatter_reduce(x, 1, np.array([[0, 0, 2]]), s, "mean"),
                            lambda x, s: np.array([[(x[0, 0] + s[0, 0] + s[0, 1]) / 3, x[0, 1], (x[0, 2] + s[0, 2]) / 2]]),
                            [U(1, 3), U(1, 3)]),
    "scatter_reduce_sum_no_self": (lambda x, s: vg.scatter_reduce(x, 0, np.array([[1, 1]]), s, "sum",
                                                                  include_self=False),
                                   lambda x, s: np.array([x[0], s[0]]), [U(2, 2), U(1, 2)]),
    "scatter_reduce_amax": (lambda x, s: vg.scatter_reduce(x, 1, np.array([[0, 0, 2], [1, 1, 1]]), s, "amax"),
                            lambda x, s: np.array([[max(x[0, 0], s[0, 0], s[0, 1]), x[0, 1], max(x[0, 2], s[0, 2])],
                                                   [x[1, 0], max(x[1, 1], *s[1]), x[1, 2]]]), [U(2, 3), U(2, 3)]),
    "scatter_reduce_amin_no_self": (lambda x, s: vg.scatter_reduce(x, 0, np.array([[1, 0], [1, 1]]), s, "amin",
                                                                   include_self=False),
                                    lambda x, s: np.array([[x[0, 0], s[0, 1]], [min(s[0, 0], s[1, 0]), s[1, 1]]]),
                                    [U(2, 2), U(2, 2)]),
    "scatter_reduce_prod_zeros": (
        lambda x, s: vg.scatter_reduce(x * vg.tensor([[1.0, 0.0, 1.0]], device=x.device, dtype=x.dtype), 1,
                                       np.array([[0, 0, 2, 1], [1, 1, 1, 2]]),
                                       s * vg.tensor([[1.0, 1.0, 1.0, 1.0], [0.0, 1.0, 1.0, 0.0]], device=x.device,
                                                     dtype=x.dtype), "prod"),
        lambda x, s: np.array([[x[0, 0] * s[0, 0] * s[0, 1], 0.0 * s[0, 3], x[0, 2] * s[0, 2]],
                               [x[1, 0], x[1, 1] * 0.0 * s[1, 1] * s[1, 2], x[1, 2] * 0.0]]),
        [U(2, 3), U(2, 4)]),
    "scatter_reduce_prod_no_self_big_src": (
        lambda x, s: vg.scatter_reduce(x, 0, np.array([[1, 1], [0, 1]]), s, "prod", include_self=False),
        lambda x, s: np.array([[s[1, 0], x[0, 1]], [s[0, 0], s[0, 1] * s[1, 1]], [x[2, 0], x[2, 1]]]),
        [U(3, 2), U(3, 3)]),
    "scatter_multiply": (lambda x, s: x.scatter(1, np.array([[2], [0]]), s, reduce="multiply"),
                         lambda x, s: x * np.array([[1, 1, s[0, 0]], [s[1, 0], 1, 1]]), [U(2, 3), U(2, 2)]),
    "masked_select": (lambda x: vg.masked_select(x, np.array([True, False, True])), lambda x: x[:, [0, 2]].reshape(-1),
                      [U(2, 3)]),
    "take": (lambda x: vg.take(x, np.array([[5, 0], [-1, 2]])), lambda x: x.reshape(-1)[[[5, 0], [-1, 2]]], [U(2, 3)]),
    "select": (lambda x: x.select(1, -1), lambda x: x[:, -1], [U(2, 3, 2)]),
    "bincount_weights": (lambda w: vg.bincount(np.array([3, 1, 1, 0]), w, minlength=6),
                         lambda w: np.bincount([3, 1, 1, 0], w, 6), [U(4)]),
    "tensordot": (lambda a, b: vg.tensordot(a, b, ([1, 0], [0, 2])), lambda a, b: np.tensordot(a, b, ([1, 0], [0, 2])),
                  [U(2, 3, 4), U(3, 5, 2)]),
    "tensordot_int": (lambda a, b: vg.tensordot(a, b, 1), lambda a, b: np.tensordot(a, b, 1), [U(2, 3), U(3, 4)]),
    "kron": (vg.kron, np.kron, [U(2, 3), U(3, 2)]),
    "kron_ranks": (vg.kron, np.kron, [U(2), U(2, 3)]),
    "block_diag": (lambda a, b, c: vg.block_diag(a, b, c),
                   lambda a, b, c: np.block([[a, np.zeros((2, 3)), np.zeros((2, 1))],
                                             [np.zeros((1, 2)), b[None], np.zeros((1, 1))],
                                             [np.zeros((1, 2)), np.zeros((1, 3)), c.reshape(1, 1)]]),
                   [U(2, 2), U(3), U()]),
    "cartesian_prod": (vg.cartesian_prod, lambda a, b: np.array([[p, q] for p in a for q in b]), [U(3), U(2)]),
    "baddbmm": (lambda i, a, b: vg.baddbmm(i, a, b, beta=0.5, alpha=2.0), lambda i, a, b: 0.5 * i + 2 * a @ b,
                [U(3, 1), U(2, 3, 4), U(2, 4, 2)]),
    "addbmm": (lambda i, a, b: vg.addbmm(i, a, b), lambda i, a, b: i + (a @ b).sum(0), [U(3, 2), U(2, 3, 4), U(2, 4, 2)]),
    "addmv": (lambda i, a, v: i.addmv(a, v, alpha=-1.0), lambda i, a, v: i - a @ v, [U(3), U(3, 4), U(4)]),
    "addr": (lambda i, a, b: vg.addr(i, a, b, beta=2.0), lambda i, a, b: 2 * i + np.outer(a, b), [U(3, 2), U(3), U(2)]),
    "cross": (lambda a, b: vg.cross(a, b, dim=0), lambda a, b: np.cross(a, b, axis=0), [U(3, 4), U(3, 4)]),
    "cross_bcast": (vg.cross, lambda a, b: np.cross(a, b), [U(2, 3), U(3)]),
    "diff": (lambda x: vg.diff(x, 2, dim=0), lambda x: np.diff(x, 2, 0), [U(5, 3)]),
    "diff_prepend": (lambda x, p: x.diff(prepend=p), lambda x, p: np.diff(x, prepend=p), [U(2, 4), U(2, 1)]),
    "cov": (vg.cov, np.cov, [U(3, 6)]),
    "cov_weights": (lambda x: vg.cov(x, correction=0, fweights=np.array([1, 2, 1, 3]), aweights=np.array([.5, 1, 2, 1.])),
                    lambda x: np.cov(x, ddof=0, fweights=[1, 2, 1, 3], aweights=[.5, 1, 2, 1.]), [U(2, 4)]),
    "cov_aweights": (lambda x: vg.cov(x, aweights=np.array([.5, 1, 2, 1., 3])),
                     lambda x: np.cov(x, aweights=[.5, 1, 2, 1., 3]), [U(2, 5)]),
    "corrcoef": (vg.corrcoef, np.corrcoef, [U(3, 5)]),
    "trapezoid_x": (lambda y, x: vg.trapezoid(y, x), lambda y, x: np.trapezoid(y, x), [U(2, 5), U(5)]),
    "cumulative_trapezoid": (lambda y: vg.cumulative_trapezoid(y, dx=0.5, dim=0),
                             lambda y: np.cumsum((y[1:] + y[:-1]) * 0.25, 0), [U(6, 2)]),
    "addcmul": (lambda i, a, b: vg.addcmul(i, a, b, value=0.5), lambda i, a, b: i + 0.5 * a * b,
                [U(3, 4), U(3, 1), U(4)]),
    "addcdiv_method": (lambda i, a, b: i.addcdiv(a, b, value=-2.0), lambda i, a, b: i - 2 * a / b,
                       [U(3, 4), U(3, 4), AWAY(3, 4)]),
    "divide_trunc_bcast": (lambda a, b: vg.divide(a, b) + vg.divide(a, b, rounding_mode="trunc") * 0.0,
                           lambda a, b: a / b, [U(2, 3), AWAY(3)]),
    "rot90": (lambda x: vg.rot90(x, 1, (1, 2)), lambda x: np.rot90(x, 1, (1, 2)), [U(2, 3, 4)]),
    "rot90_k3": (lambda x: x.rot90(-1), lambda x: np.rot90(x, -1), [U(3, 4)]),
    "tensor_split": (lambda x: vg.cat([p * (i + 1.0) for i, p in enumerate(vg.tensor_split(x, 3, dim=1))], 1),
                     lambda x: np.concatenate([p * (i + 1.0) for i, p in enumerate(np.array_split(x, 3, 1))], 1),
                     [U(2, 7)]),
    "tensor_split_indices": (lambda x: vg.tensor_split(x, [1, 4])[1], lambda x: x[1:4], [U(6, 2)]),
    "fliplr_flipud": (lambda x: vg.fliplr(x) + vg.flipud(x), lambda x: np.fliplr(x) + np.flipud(x), [U(3, 3)]),
    "broadcast_tensors": (lambda a, b: vg.broadcast_tensors(a, b)[0] * 2.0 + vg.broadcast_tensors(a, b)[1],
                          lambda a, b: np.broadcast_to(a, (3, 4)) * 2.0 + b, [U(3, 1), U(4)]),
    "atleast_3d": (lambda x: vg.atleast_3d(x) * 1.5, lambda x: np.atleast_3d(x) * 1.5, [U(4)]),
    "rms_norm": (lambda x, w: vg.rms_norm(x, (2, 3), w, eps=1e-6),
                 lambda x, w: x / np.sqrt((x * x).mean((1, 2), keepdims=True) + 1e-6) * w, [U(4, 2, 3), U(2, 3)]),
    "rms_norm_module": (lambda x: vg.nn.RMSNorm(5, device=x.device, dtype=x.dtype)(x),
                        lambda x: x / np.sqrt((x * x).mean(-1, keepdims=True) + np.finfo(np.float32).eps), [U(3, 5)]),
    "softmin": (lambda x: vg.softmin(x, dim=0), lambda x: np.exp(-x) / np.exp(-x).sum(0), [U(3, 4)]),
    "lp_pool2d": (lambda x: vg.lp_pool2d(x, 2, (2, 3), stride=2),
                  lambda x: np.sqrt(_np_pool(x * x, (2, 3), (2, 2), (0, 0), "avg") * 6), [U(2, 2, 5, 7)]),
    "lp_pool1d_p3": (lambda x: vg.nn.LPPool1d(3, 2)(x),
                     lambda x: np.cbrt(_np_pool(x[:, :, None] ** 3, (1, 2), (1, 2), (0, 0), "avg")[:, :, 0] * 2),
                     [U(2, 3, 6, lo=0.2, hi=2)]),
    "pdist": (vg.pdist, lambda x: np.array([np.linalg.norm(x[i] - x[j]) for i in range(4) for j in range(i + 1, 4)]),
              [U(4, 3)]),
    "pdist_p1": (lambda x: vg.pdist(x, 1.0),
                 lambda x: np.array([np.abs(x[i] - x[j]).sum() for i in range(3) for j in range(i + 1, 3)]),
                 [AWAY(3, 2)]),
    "rrelu_eval": (lambda x: vg.rrelu(x, 0.1, 0.3), lambda x: np.where(x > 0, x, 0.2 * x), [AWAY(3, 4)]),
    "linalg_inv": (vg.linalg.inv, np.linalg.inv, [lambda: U(2, 3, 3)() + 3 * np.eye(3)]),
    "linalg_det": (vg.linalg.det, np.linalg.det, [lambda: U(2, 3, 3)() + 2 * np.eye(3)]),
    "det_singular": (lambda a: a.det(), np.linalg.det, [lambda: np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0],
                                                                          [0.5, -1.0, 0.25]])]),
    "linalg_slogdet": (lambda a: vg.linalg.slogdet(a).logabsdet * vg.linalg.slogdet(a).sign,
                       lambda a: np.linalg.slogdet(a)[1] * np.linalg.slogdet(a)[0], [lambda: U(3, 3)() + 2 * np.eye(3)]),
    "linalg_solve": (vg.linalg.solve, np.linalg.solve, [lambda: U(2, 3, 3)() + 3 * np.eye(3), U(2, 3, 2)]),
    "linalg_solve_vec_bcast": (vg.linalg.solve, lambda a, b: np.linalg.solve(a, b[..., None])[..., 0],
                               [lambda: U(2, 3, 3)() + 3 * np.eye(3), U(3)]),
    "linalg_cholesky": (lambda a: vg.linalg.cholesky(a @ a.mT + vg.eye(3, dtype=a.dtype, device=a.device)),
                        lambda a: np.linalg.cholesky(a @ a.swapaxes(-1, -2) + np.eye(3)), [U(2, 3, 3)]),
    "linalg_eigh": (lambda a: vg.linalg.eigvalsh(a + a.mT) + (vg.linalg.eigh(a + a.mT)[1] ** 2).sum(-2),
                    lambda a: np.linalg.eigvalsh(a + a.swapaxes(-1, -2)) + 1.0, [U(2, 3, 3)]),
    "linalg_svd": (lambda a: vg.linalg.svd(a, full_matrices=False).S + (vg.linalg.svd(a)[0][..., :2] ** 2)[..., 0, :],
                   lambda a: np.linalg.svd(a, compute_uv=False) + np.linalg.svd(a)[0][..., 0, :2] ** 2, [U(2, 4, 2)]),
    "linalg_svdvals": (vg.linalg.svdvals, lambda a: np.linalg.svd(a, compute_uv=False), [U(3, 5)]),
    "linalg_qr": (lambda a: vg.linalg.qr(a).R + vg.linalg.qr(a).Q[:2],
                  lambda a: np.linalg.qr(a)[1] + np.linalg.qr(a)[0][:2], [U(4, 2)]),
    "linalg_pinv": (vg.linalg.pinv, np.linalg.pinv, [U(2, 4, 3)]),
    "linalg_matrix_power": (lambda a: vg.linalg.matrix_power(a, 5), lambda a: np.linalg.matrix_power(a, 5),
                            [lambda: U(3, 3)() * 0.5]),
    "linalg_matrix_norm_nuc": (lambda a: vg.linalg.matrix_norm(a, "nuc"), lambda a: np.linalg.norm(a, "nuc", (-2, -1)),
                               [U(2, 3, 4)]),
    "linalg_norm_inf": (lambda a: vg.linalg.norm(a, np.inf), lambda a: np.linalg.norm(a, np.inf), [U(3, 4)]),
    "linalg_multi_dot": (lambda a, b, c: vg.linalg.multi_dot([a, b, c]), lambda a, b, c: a @ b @ c,
                         [U(2, 3), U(3, 4), U(4)]),
    "linalg_lu_factor": (lambda a: vg.linalg.lu_factor(a).LU, lambda a: _np_lu(a)[0], [U(2, 4, 4)]),
    "linalg_lu_wide": (lambda a: vg.linalg.lu(a).L.sum(-1) + vg.linalg.lu(a).U.sum(-1) * 0.5,
                       lambda a: _np_lu(a)[1].sum(-1) + _np_lu(a)[2].sum(-1) * 0.5, [U(3, 5)]),
    "linalg_lu_tall": (lambda a: vg.linalg.lu(a).L * 2.0, lambda a: _np_lu(a)[1] * 2.0, [U(5, 3)]),
    "linalg_lu_solve": (lambda a, b: vg.linalg.lu_solve(*vg.linalg.lu_factor(a), b),
                        lambda a, b: np.linalg.solve(a, b), [lambda: U(2, 3, 3)() + 2 * np.eye(3), U(2, 3, 2)]),
    "linalg_lu_solve_adjoint_right": (lambda a, b: vg.linalg.lu_solve(*vg.linalg.lu_factor(a), b, left=False,
                                                                      adjoint=True),
                                      lambda a, b: b @ np.linalg.inv(a.T), [lambda: U(3, 3)() + 2 * np.eye(3),
                                                                            U(2, 3)]),
    "linalg_solve_triangular": (lambda a, b: vg.linalg.solve_triangular(a, b, upper=True),
                                lambda a, b: np.linalg.solve(np.triu(a), b),
                                [lambda: U(2, 3, 3)() + 3 * np.eye(3), U(3, 2)]),
    "linalg_solve_triangular_unit_right": (
        lambda a, b: vg.linalg.solve_triangular(a, b, upper=False, left=False, unitriangular=True),
        lambda a, b: b @ np.linalg.inv(np.tril(a, -1) + np.eye(3)), [U(3, 3), U(2, 3)]),
    "linalg_matrix_exp": (vg.linalg.matrix_exp, _np_expm, [lambda: U(2, 3, 3)() * 1.5]),
    "linalg_lstsq": (lambda a, b: vg.linalg.lstsq(a, b).solution, lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0],
                     [U(5, 3), U(5, 2)]),
    "linalg_cond": (vg.linalg.cond, np.linalg.cond, [lambda: U(2, 3, 3)() + 2 * np.eye(3)]),
    "linalg_cond_1": (lambda a: vg.linalg.cond(a, 1), lambda a: np.linalg.cond(a, 1), [AWAY(3, 3)]),
    "linalg_vander": (lambda x: vg.linalg.vander(x, N=4), lambda x: np.stack([np.vander(r, 4, True) for r in x]),
                      [U(2, 3)]),
    "vander_decreasing": (lambda x: vg.vander(x), lambda x: np.vander(x), [U(4)]),
    "linalg_tensorinv": (lambda a: vg.linalg.tensorinv(a, ind=1), lambda a: np.linalg.tensorinv(a, ind=1),
                         [lambda: (U(4, 4)() + 3 * np.eye(4)).reshape(4, 2, 2)]),
    "linalg_tensorsolve": (vg.linalg.tensorsolve, np.linalg.tensorsolve,
                           [lambda: (U(6, 6)() + 3 * np.eye(6)).reshape(2, 3, 6), U(2, 3)]),
    "linalg_inv_ex": (lambda a: vg.linalg.inv_ex(a).inverse, np.linalg.inv, [lambda: U(3, 3)() + 2 * np.eye(3)]),
    "cholesky_solve": (lambda l, b: vg.cholesky_solve(b, l.tril() + vg.eye(3, dtype=l.dtype, device=l.device) * 3.0),
                       lambda l, b: np.linalg.solve((np.tril(l) + 3 * np.eye(3)) @ (np.tril(l) + 3 * np.eye(3)).T, b),
                       [U(3, 3), U(3, 2)]),
    "cholesky_inverse_upper": (lambda u: (u.triu() + vg.eye(3, dtype=u.dtype, device=u.device) * 3.0)
                               .cholesky_inverse(upper=True),
                               lambda u: np.linalg.inv((np.triu(u) + 3 * np.eye(3)).T @ (np.triu(u) + 3 * np.eye(3))),
                               [U(3, 3)]),
    "triangular_solve_transpose": (lambda b, a: vg.triangular_solve(b, a, upper=False, transpose=True).solution,
                                   lambda b, a: np.linalg.solve(np.tril(a).T, b),
                                   [U(3, 2), lambda: U(3, 3)() + 3 * np.eye(3)]),
    "linalg_householder_product": (vg.linalg.householder_product, _np_householder, [U(4, 3), U(2, lo=0.2, hi=1.8)]),
    "copysign": (vg.copysign, np.copysign, [U(3, 4), AWAY(4)]),
    "fmax_fmin": (lambda a, b: vg.fmax(a, b) + vg.fmin(a, b) * 0.5, lambda a, b: np.fmax(a, b) + np.fmin(a, b) * 0.5,
                  [U(3, 4), U(3, 4)]),
    "logaddexp2": (vg.logaddexp2, np.logaddexp2, [U(3, 4), U(4)]),
    "ldexp": (lambda x: vg.ldexp(x, vg.tensor([1.0, -2.0, 0.0], dtype=x.dtype, device=x.device)),
              lambda x: np.ldexp(x, np.array([1, -2, 0])), [U(2, 3)]),
    "i0": (vg.i0, np.i0, [U(3, 4, lo=-6, hi=6)]),
    "special_i0e_i1_i1e": (lambda x: vg.special.i0e(x) + vg.special.i1(x) * 0.1 + vg.special.i1e(x),
                           lambda x: np.i0(x) * np.exp(-np.abs(x)) + _np_i1(x) * 0.1 + _np_i1(x) * np.exp(-np.abs(x)),
                           [U(3, 4, lo=-6, hi=6)]),
    "polygamma_1": (lambda x: vg.polygamma(1, x), lambda x: _np_polygamma(1, x), [U(3, 4, lo=0.3, hi=5)]),
    "polygamma_3_negative": (lambda x: x.polygamma(3) * 0.01, lambda x: _np_polygamma(3, x) * 0.01,
                             [U(2, 3, lo=-1.8, hi=-1.2)]),
    "dist": (lambda a, b: vg.dist(a, b, 3), lambda a, b: (np.abs(a - b) ** 3).sum() ** (1 / 3), [U(3, 4), U(4)]),
    "inner": (vg.inner, np.inner, [U(2, 3, 4), U(5, 4)]),
    "renorm": (lambda x: vg.renorm(x, 2, 0, 1.0),
               lambda x: x * np.where(np.linalg.norm(x, axis=1, keepdims=True) > 1.0,
                                      1.0 / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-7), 1.0), [U(4, 3)]),
    "diag_embed": (lambda x: vg.diag_embed(x, 1, 0, 2),
                   lambda x: np.stack([np.diag(r, 1) for r in x], 1), [U(2, 3)]),
    "diagflat": (lambda x: x.diagflat(-1), lambda x: np.diagflat(x, -1), [U(2, 2)]),
    "diagonal_scatter": (lambda x, d: vg.diagonal_scatter(x, d, 1),
                         lambda x, d: np.where(np.eye(3, 4, 1) > 0, np.diag(d, 1)[:3, :], x), [U(3, 4), U(3)]),
    "slice_scatter": (lambda x, s: vg.slice_scatter(x, s, 1, 1, None, 2),
                      lambda x, s: np.concatenate([x[:, :1], s[:, :1], x[:, 2:3], s[:, 1:]], 1), [U(3, 4), U(3, 2)]),
    "select_scatter": (lambda x, s: x.select_scatter(s, 0, -1), lambda x, s: np.concatenate([x[:-1], s[None]]),
                       [U(3, 4), U(4)]),
    "gradient_edge2": (lambda x: vg.gradient(x, spacing=0.5, dim=1, edge_order=2)[0],
                       lambda x: np.gradient(x, 0.5, axis=1, edge_order=2), [U(3, 5)]),
    "gradient_coordinates": (lambda x: vg.gradient(x, spacing=[np.array([0.0, 0.5, 1.5, 1.75])])[0],
                             lambda x: np.gradient(x, np.array([0.0, 0.5, 1.5, 1.75])), [U(4)]),
    "combinations": (lambda x: vg.combinations(x, 2) * vg.tensor([1.0, 2.0], dtype=x.dtype, device=x.device),
                     lambda x: np.array(list(itertools.combinations(x, 2))) * np.array([1.0, 2.0]), [U(4)]),
    "rsub": (lambda a, b: vg.rsub(a, b, alpha=2), lambda a, b: b - 2 * a, [U(3, 4), U(4)]),
    "special_bessel_j0_j1": (lambda x: vg.special.bessel_j0(x) + vg.special.bessel_j1(x) * 0.5,
                             lambda x: _np_bessel_j(0, x) + _np_bessel_j(1, x) * 0.5, [U(3, 4, lo=-12, hi=12)]),
    "special_bessel_y0_y1": (lambda x: vg.special.bessel_y0(x) + vg.special.bessel_y1(x) * 0.5,
                             lambda x: _np_bessel_y(0, x) + _np_bessel_y(1, x) * 0.5, [U(3, 4, lo=0.5, hi=12)]),
    "special_bessel_k": (lambda x: vg.special.modified_bessel_k0(x) + vg.special.scaled_modified_bessel_k1(x),
                         lambda x: _np_bessel_k(0, x) + _np_bessel_k(1, x) * np.exp(x), [U(3, 4, lo=0.3, hi=6)]),
    "special_erfcx": (vg.special.erfcx, lambda x: np.exp(x * x) * np.vectorize(math.erfc)(x), [U(3, 4, lo=-2, hi=5)]),
    "special_chebyshev_hermite": (lambda x: vg.special.chebyshev_polynomial_t(x, 4) + vg.special.hermite_polynomial_h(
        x, 3) * 0.1, lambda x: np.polynomial.chebyshev.chebval(x, [0, 0, 0, 0, 1]) + np.polynomial.hermite.hermval(
        x, [0, 0, 0, 1]) * 0.1, [U(3, 4, lo=-1, hi=1)]),
    "special_legendre_laguerre_degrees": (
        lambda x: vg.special.legendre_polynomial_p(x, np.array([0, 1, 2, 5])) + vg.special.laguerre_polynomial_l(x, 3),
        lambda x: np.stack([np.polynomial.legendre.legval(x[:, i], [0] * n + [1]) for i, n in enumerate([0, 1, 2, 5])],
                           1) + np.polynomial.laguerre.lagval(x, [0, 0, 0, 1]), [U(3, 4, lo=-1, hi=1)]),
    "svd_V": (lambda a: vg.svd(a).S + vg.svd(a).V[..., 0, :] ** 2,
              lambda a: np.linalg.svd(a)[1] + np.linalg.svd(a)[2][..., :, 0] ** 2, [U(2, 4, 3)]),
    "pca_lowrank": (lambda a: vg.pca_lowrank(a, q=2).S, lambda a: np.linalg.svd(a - a.mean(0), compute_uv=False)[:2],
                    [U(6, 3)]),
    "pow_tensor_exponent": (lambda a, e: a ** e, lambda a, e: np.power(a, e), [P(3, 4), U(4)]),
    "pow_negative_base_integers": (lambda a: a ** vg.tensor([2.0, 3.0, -1.0], dtype=a.dtype, device=a.device),
                                   lambda a: a ** np.array([2.0, 3.0, -1.0]), [AWAY(2, 3)]),
    "rpow": (lambda e: 2.0 ** e + vg.pow(0.5, e), lambda e: 2.0 ** e + 0.5 ** e, [U(3, 2)]),
    "mod_operators": (lambda a, b: a % b + (3.0 % b) * 0.5, lambda a, b: np.mod(a, b) + np.mod(3.0, b) * 0.5,
                      [U(3, 4, lo=-4, hi=4), lambda: np.array([1.3, -2.1, 2.7, 0.7])]),
    "clamp_tensor_bounds": (lambda x, lo: vg.clamp(x, lo, lo + 1.0), lambda x, lo: np.clip(x, lo, lo + 1.0),
                            [U(3, 4), lambda: np.array([-0.45, 0.05, 0.55, -1.05])]),
    "index_arrays_apart": (lambda a: a[[0, 1, 1], :, [2, 0, 2]], lambda a: a[[0, 1, 1], :, [2, 0, 2]], [U(2, 3, 4)]),
    "index_arrays_int_between": (lambda a: a[:, [0, 2], 1, [[1], [3]]],
                                 lambda a: a[:, [0, 2], 1, [[1], [3]]], [U(2, 3, 4, 5)]),
    "index_arrays_apart_ellipsis": (lambda a: a[[1, 0], ..., [3, 1]], lambda a: a[[1, 0], ..., [3, 1]],
                                    [U(2, 3, 4, 5)]),
    "adaptive_avg_pool3d": (lambda x: vg.adaptive_avg_pool3d(x, (2, 3, 1)),  # windows [0, 2), [1, 3) of 3
                            lambda x: np.array([[[[x[n, c, a:a + 2, 2 * i:2 * i + 2].mean() for i in range(3)]
                                                  for a in (0, 1)] for c in range(2)] for n in range(1)])[..., None],
                            [U(1, 2, 3, 6, 4)]),
    "interpolate_nearest_3d": (lambda x: vg.interpolate(x, scale_factor=(2, 1, 3)),
                               lambda x: x.repeat(2, 2).repeat(3, 4), [U(1, 2, 2, 3, 2)]),
    "conv_transpose3d": (lambda x, w, b: vg.conv_transpose3d(x, w, b, (2, 1, 2), (1, 0, 1)),
                         lambda x, w, b: _np_conv_transpose3d(x, w, (2, 1, 2), (1, 0, 1)) + b[:, None, None, None],
                         [U(2, 2, 2, 3, 2), U(2, 3, 2, 2, 3), U(3)]),
    "tensor_unfold": (lambda x: x.unfold(1, 3, 2), lambda x: np.stack([x[:, 0:3], x[:, 2:5]], 1), [U(2, 6)]),
    "tensor_unfold_first_axis": (lambda x: x.unfold(0, 2, 1) * 1.0, lambda x: np.stack([x[0:2], x[1:3]]).transpose(
        0, 2, 1), [U(3, 2)]),
    "index_put_accumulate": (lambda x, v: vg.index_put(x, (np.array([0, 2, 0]), np.array([1, 3, 1])), v, True),
                             lambda x, v: x + np.array([[0, v[0] + v[2], 0, 0], [0] * 4, [0, 0, 0, v[1]]]),
                             [U(3, 4), U(3)]),
    "index_put_rows": (lambda x, v: vg.index_put(x, (np.array([2, 0]),), v),
                       lambda x, v: np.stack([v[1], x[1], v[0]]), [U(3, 4), U(2, 4)]),
    "masked_scatter": (lambda x, s: x.masked_scatter(np.array([[True, False, True], [False, True, False]]), s),
                       lambda x, s: np.array([[s[0], x[0, 1], s[1]], [x[1, 0], s[2], x[1, 2]]]), [U(2, 3), U(5)]),
    "lgamma": (vg.lgamma, np.vectorize(math.lgamma), [U(3, 4, lo=0.3, hi=6)]),
    "lgamma_negative": (lambda x: x.lgamma(), np.vectorize(math.lgamma), [U(2, 3, lo=-3.9, hi=-3.1)]),
    "digamma": (vg.digamma, _np_digamma, [U(3, 4, lo=0.3, hi=8)]),
    "digamma_negative": (lambda x: x.digamma(), _np_digamma, [U(2, 3, lo=-2.8, hi=-2.2)]),
    "erfc": (vg.erfc, np.vectorize(math.erfc), [U(3, 4, lo=-3, hi=3)]),
    "erfinv": (vg.erfinv, _np_erfinv, [U(3, 4, lo=-0.95, hi=0.95)]),
    "special_multigammaln": (lambda x: vg.special.multigammaln(x, 3),
                             lambda x: 1.5 * math.log(math.pi) + sum(np.vectorize(math.lgamma)(x - i / 2)
                                                                    for i in range(3)), [U(2, 3, lo=1.5, hi=4)]),
    "special_ndtr_ndtri": (lambda x: vg.special.ndtr(x) + vg.special.ndtri(vg.sigmoid(x)),
                           lambda x: 0.5 * np.vectorize(math.erfc)(-x / math.sqrt(2)) + math.sqrt(2) * _np_erfinv(
                               2 / (1 + np.exp(-x)) - 1), [U(3, 3)]),
    "special_sinc_entr_xlog1py": (lambda x: vg.special.sinc(x) + vg.special.entr(vg.abs(x)) +
                                  vg.special.xlog1py(x, vg.abs(x)),
                                  lambda x: np.sinc(x) - np.abs(x) * np.log(np.abs(x)) + x * np.log1p(np.abs(x)),
                                  [AWAY(3, 4)]),
    "median_dim": (lambda a: vg.median(a, 1).values, lambda a: np.sort(a, 1)[:, 2], [U(3, 6)]),  # (the lower)
    "median_all_method": (lambda a: a.median(), lambda a: np.median(a), [U(3, 5)]),
    "nanmedian_keep": (lambda a: vg.nanmedian(a, 0, keepdim=True)[0], lambda a: np.median(a, 0, keepdims=True),
                       [U(5, 3)]),
    "quantile_list_dim": (lambda a: vg.quantile(a, [0.1, 0.5, 0.75], dim=1), lambda a: np.quantile(a, [0.1, 0.5, 0.75], 1),
                          [U(3, 6)]),
    "quantile_all_keep": (lambda a: a.quantile(0.3, keepdim=True), lambda a: np.quantile(a, 0.3, keepdims=True),
                          [U(2, 4)]),
    "quantile_midpoint": (lambda a: vg.quantile(a, 0.4, 0, interpolation="midpoint"),
                          lambda a: np.quantile(a, 0.4, 0, method="midpoint"), [U(6, 2)]),
    "nanquantile_nearest": (lambda a: vg.nanquantile(a, [0.2, 0.9], 1, interpolation="nearest"),
                            lambda a: np.quantile(a, [0.2, 0.9], 1, method="nearest"), [U(2, 7)]),
    "nansum": (lambda a: vg.nansum(a, 1), lambda a: a.sum(1), [U(3, 4)]),
    "nanmean_method": (lambda a: a.nanmean(dim=0, keepdim=True), lambda a: a.mean(0, keepdims=True), [U(3, 4)]),
    "var_mean": (lambda a: vg.stack(vg.var_mean(a, 1)), lambda a: np.stack([a.var(1, ddof=1), a.mean(1)]),
                 [U(3, 4)]),
    "std_mean": (lambda a: vg.stack(vg.std_mean(a, 0, correction=0)), lambda a: np.stack([a.std(0), a.mean(0)]),
                 [U(3, 4)]),
    "var_torch_positional": (lambda a: vg.var(a, 0, False) + a.std(1, True, True).sum() * 0.0 + vg.std(a, 0, True),
                             lambda a: a.var(0) + a.std(0, ddof=1), [U(3, 4)]),  # (dim, unbiased, keepdim)
    "var_mean_unbiased_keepdim": (lambda a: vg.cat(vg.var_mean(a, dim=1, unbiased=False, keepdim=True), 1),
                                  lambda a: np.concatenate([a.var(1, keepdims=True), a.mean(1, keepdims=True)], 1),
                                  [U(3, 4)]),
    "aminmax": (lambda a: vg.stack(vg.aminmax(a, dim=-1)), lambda a: np.stack([a.min(-1), a.max(-1)]), [U(3, 4)]),
    "msort": (vg.msort, lambda a: np.sort(a, 0), [U(4, 3)]),
    "cummax": (lambda a: vg.cummax(a, 1).values, lambda a: np.maximum.accumulate(a, 1), [U(3, 9)]),
    "cummin_method": (lambda a: a.cummin(0)[0], lambda a: np.minimum.accumulate(a, 0), [U(5, 2, 3)]),
    "logcumsumexp": (lambda a: vg.logcumsumexp(a, 1), lambda a: np.logaddexp.accumulate(a, 1),
                     [U(2, 9, lo=-5, hi=5)]),
    "ctc_loss": (lambda x: vg.ctc_loss(vg.log_softmax(x, -1), np.array([[1, 2], [1, 1]]), [5, 4], [2, 2],
                                       reduction="none"),
                 lambda x: np.array([_np_ctc(_np_log_softmax(x[:5, 0]), [1, 2]),
                                     _np_ctc(_np_log_softmax(x[:4, 1]), [1, 1])]), [U(5, 2, 3)]),
    "grid_sample": (vg.grid_sample, _np_grid_sample, [U(2, 3, 4, 5), U(2, 3, 2, 2, lo=-1.2, hi=1.2)]),
    "grid_sample_bicubic": (lambda x, g: vg.grid_sample(x, g, mode="bicubic"),
                            lambda x, g: _np_grid_sample(x, g, cubic=True),
                            [U(2, 3, 4, 5), U(2, 3, 2, 2, lo=-1.2, hi=1.2)]),
    "grid_sample_reflection": (lambda x, g: vg.grid_sample(x, g, padding_mode="reflection", align_corners=True),
                               lambda x, g: _np_grid_sample(x, _reflected_corners(g, x.shape[3], x.shape[2])),
                               [U(2, 3, 4, 5), U(2, 3, 2, 2, lo=-1.8, hi=1.8)]),
    "affine_grid": (lambda th: vg.affine_grid(th, (2, 1, 3, 4)),
                    lambda th: np.einsum("hwk,nik->nhwi", np.stack(np.broadcast_arrays(
                        ((2 * np.arange(4) + 1) / 4 - 1)[None, :], ((2 * np.arange(3) + 1) / 3 - 1)[:, None],
                        np.ones((1, 1))), -1), th), [U(2, 2, 3)]),
    "interpolate_nearest_exact": (lambda a: vg.interpolate(a, size=(5, 3), mode="nearest-exact"),
                                  lambda a: a[:, :, np.minimum(np.floor((np.arange(5) + 0.5) * 3 / 5), 2).astype(int)][
                                      ..., np.minimum(np.floor((np.arange(3) + 0.5) * 7 / 3), 6).astype(int)],
                                  [U(1, 2, 3, 7)]),
    "interpolate_area": (lambda a: vg.interpolate(a, size=(2, 3), mode="area"), lambda a: _np_adaptive(a, (2, 3)),
                         [U(1, 2, 4, 7)]),
    "index_list_middle": (lambda a: a[:, [2, 0, 2], 1:], lambda a: a[:, [2, 0, 2], 1:], [U(2, 3, 4)]),
    "index_array_2d_after_ellipsis": (lambda a: a[..., np.array([[0, 3], [1, 1]])],
                                      lambda a: a[..., np.array([[0, 3], [1, 1]])], [U(2, 3, 4)]),
    "index_bool_axis_and_negative": (lambda a: a[np.array([True, False, True])][:, [-1, 0]],
                                     lambda a: a[[0, 2]][:, [-1, 0]], [U(3, 4)]),
    "index_whole_mask": (lambda a: a[a > 0.0] * 1.0, lambda a: a[a > 0], [AWAY(3, 4)]),
    "softmax_xent_segmentation": (
        lambda a: vg.softmax_cross_entropy(a, SEG_Y),
        lambda a: -np.mean(np.take_along_axis(_np_log_softmax(a, 1), SEG_Y[:, None], 1)), [U(2, 3, 2, 4)]),
    "nll_segmentation_none": (
        lambda a: vg.nll_loss(a, SEG_Y, reduction="none"),
        lambda a: -np.take_along_axis(a, SEG_Y[:, None], 1)[:, 0], [U(2, 3, 2, 4)]),
    "cdist_direct": (lambda a, b: vg.cdist(a, b), lambda a, b: np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)),
                     [U(4, 3), U(5, 3)]),
    "cdist_product_p2": (lambda a, b: vg.cdist(a, b), lambda a, b: np.sqrt(((a[:, :, None] - b[:, None]) ** 2).sum(-1)),
                         [U(2, 27, 3), U(2, 4, 3)]),
    "cdist_p3": (lambda a, b: vg.cdist(a, b, 3.0), lambda a, b: (np.abs(a[:, None] - b[None]) ** 3).sum(-1) ** (1 / 3),
                 [U(3, 2), U(4, 2)]),
    "logaddexp": (vg.logaddexp, np.logaddexp, [U(3, 4), U(3, 4)]),
    "logit": (lambda a: vg.logit(a), lambda a: np.log(a / (1 - a)), [U(5, lo=0.1, hi=0.9)]),
    "xlogy": (vg.xlogy, lambda a, b: a * np.log(b), [U(4), P(4)]),
    "meshgrid_stacks": (lambda a, b: vg.hstack(list(vg.meshgrid(a, b, indexing="xy"))) + vg.vstack([b, b]).sum()
                        + vg.dstack([a, a]).sum() + vg.column_stack([a, a]).sum(),
                        lambda a, b: np.hstack(np.meshgrid(a, b)) + 2 * b.sum() + 4 * a.sum(), [U(3), U(3)]),
    "index_pairs_rows_actions": (lambda a: a[np.arange(4), np.array([1, 4, 0, 2])],
                                 lambda a: a[np.arange(4), [1, 4, 0, 2]], [U(4, 5, 3)]),
    "index_pairs_broadcast_after_slice": (lambda a: a[:, np.array([[0], [3]]), np.array([1, -1, 2])],
                                          lambda a: a[:, np.array([[0], [3]]), np.array([1, -1, 2])], [U(2, 4, 3)]),
    "batch_norm_eval": (
        lambda x, g, b: vg.batch_norm(x, vg.tensor([0.1, -0.2, 0.3], dtype=x.dtype, device=x.device),
                                      vg.tensor([1.5, 0.5, 2.0], dtype=x.dtype, device=x.device),
                                      g, b, training=False),
        lambda x, g, b: (x - np.array([0.1, -0.2, 0.3])) / np.sqrt(np.array([1.5, 0.5, 2.0]) + 1e-5) * g + b,
        [U(4, 3), U(3), U(3)]),
}



def _round(bk, a):
    return a.astype(np.float16).astype(np.float64) if bk.dtype == "f16" else a


def _run(device, dtype, fn, arrays):
    """Value, and the gradient of sum(out * proj) for every input."""
    ts = [vg.tensor(a, dtype=dtype, device=device, requires_grad=True) for a in arrays]
    out = fn(*ts)
    proj = np.random.default_rng(3).uniform(0.5, 1.5, out.shape)
    loss = (out * vg.tensor(proj, dtype=dtype, device=device)).sum()
    loss.backward()
    return out.numpy(), [t.grad.numpy() if t.grad is not None else np.zeros(t.shape) for t in ts]


@pytest.mark.parametrize("case", sorted(CASES))
def test_value(bk, case):
    fn, ref, gens = CASES[case]
    arrays = [_round(bk, g()) for g in gens]
    got = fn(*[bk.t(a) for a in arrays])
    assert got.device.startswith(bk.device)
    bk.close(got.numpy(), ref(*arrays), what=f"{case} value")


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradient_matches_cpu_f64(bk, case):
    fn, _, gens = CASES[case]
    arrays = [_round(bk, g()) for g in gens]
    vg.manual_seed(11)
    val, grads = _run(bk.device, bk.dtype, fn, arrays)
    vg.manual_seed(11)
    val64, grads64 = _run("cpu", "f64", fn, arrays)
    # (absolute error scaled by the magnitudes, as for the gradients below: a sum of
    # f32 products near 0 -- conv3d's -0.0115 from terms of ~8 -- is off by ~1e-6)
    bk.close(val, val64, atol=bk.atol * max(1.0, float(np.abs(val64).max(initial=0.0))), what=f"{case} value")
    for i, (g, g64) in enumerate(zip(grads, grads64)):
        scale = max(1.0, float(np.abs(g64).max()))
        bk.close(g, g64, atol=bk.atol * scale, what=f"{case} grad of input {i}")


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradcheck_finite_differences(case):
    fn, _, gens = CASES[case]
    arrays = [g() for g in gens]
    assert vg.gradcheck(fn, arrays, eps=1e-6, atol=1e-5, rtol=1e-3)


def test_gradcheck_catches_a_wrong_gradient():
    from vkgrad.ops._core import make

    def bad_square(x):  # forward x**2, backward claims 3x
        be = x.backend
        y = be.binary("mul", x.handle, x.handle)
        return make(y, be, (x,), lambda g: (be.binary("mul", g, be.unary("affine", x.handle, 3.0)),))

    with pytest.raises(AssertionError, match="input 0"):
        vg.gradcheck(bad_square, [np.array([1.0, 2.0])])


@pytest.mark.parametrize("shape", [(40, 50), (7, 9)], ids=str)  # whole 16-byte quads or not
def test_dropout_mask_and_gradient(bk, shape):
    x = bk.t(np.ones(shape), requires_grad=True)
    vg.manual_seed(5)
    y = vg.dropout(x, MASK_P, training=True)
    yv = y.numpy().astype(np.float64)
    kept = yv != 0
    np.testing.assert_allclose(yv[kept], 1 / (1 - MASK_P), rtol=bk.rtol * 10)
    assert abs(kept.mean() - (1 - MASK_P)) < (0.05 if kept.size > 1000 else 0.2)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy().astype(np.float64), yv, rtol=bk.rtol * 10)
    # eval mode is the identity; the mask is the same on every backend for one seed
    assert vg.dropout(x, MASK_P, training=False) is x
    vg.manual_seed(5)
    ycpu = vg.dropout(vg.tensor(np.ones(shape), device="cpu"), MASK_P).numpy()
    assert np.array_equal(ycpu != 0, kept)


def test_dropout2d_zeroes_whole_channels(bk):
    """dropout2d: each channel of each sample kept (scaled by 1/(1-p)) or zeroed
    whole, about p of them zeroed; the gradient is the same mask; eval: identity."""
    x = bk.t(np.ones((8, 16, 3, 5)), requires_grad=True)
    vg.manual_seed(2)
    y = vg.dropout2d(x, 0.4)
    yv = y.numpy().astype(np.float64)
    per_channel = yv.reshape(8, 16, -1)
    assert np.all(per_channel.min(2) == per_channel.max(2))  # whole channels
    np.testing.assert_allclose(np.unique(yv), [0.0, 1 / 0.6], rtol=bk.rtol * 10)
    assert abs((per_channel[:, :, 0] == 0).mean() - 0.4) < 0.15
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy().astype(np.float64), yv, rtol=bk.rtol * 10)
    assert vg.dropout2d(x, 0.4, training=False) is x
    with pytest.raises(ValueError, match=r"dropout2d: expected input \[N, C, H, W\] \(or \[C, H, W\]\), got \[8, 16\]"):
        vg.dropout2d(bk.t(np.ones((8, 16))), 0.4)


def test_max_gradient_goes_to_argmax():
    x = vg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]], requires_grad=True, device="cpu")
    vg.max(x, axis=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 1, 0], [0.5, 0, 0.5]])


def test_gelu_exact_differs_from_tanh_approximation():
    x = vg.tensor(np.linspace(-3, 3, 13), device="cpu", dtype="f64")
    d = np.abs(vg.gelu(x).numpy() - vg.gelu(x, approximate="tanh").numpy()).max()
    assert 1e-5 < d < 1e-2


@pytest.mark.parametrize("reduction", ["mean", "sum"])  # mean: the fused kernel; sum: composed
def test_cross_entropy_of_dense_targets_not_summing_to_one(bk, reduction):
    """Dense targets with a zeroed row (a sample masked out) and a multi-hot one:
    PyTorch's gradient softmax * sum(t) - t (the fused kernel wrote softmax - t);
    the finite-difference check on float64 CPU, the other backends against it."""
    z = np.array([[0.5, -1.0, 2.0, 0.1], [1.5, 0.2, -0.7, 0.3], [-0.4, 0.9, 0.0, 1.1]])
    t = np.array([[0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0], [0.2, 0.3, 0.1, 0.4]])
    x = bk.t(z, requires_grad=True)
    loss = vg.nn.functional.cross_entropy(x, bk.t(t), reduction=reduction)
    p = _np_softmax(z)
    scale = 1 / 3 if reduction == "mean" else 1.0
    bk.close(loss.numpy(), -(t * np.log(p)).sum() * scale, what="loss")
    loss.backward()
    bk.close(x.grad.numpy(), (p * t.sum(1, keepdims=True) - t) * scale, what="gradient")
    if bk.device == "cpu" and bk.dtype == "f64":
        assert vg.gradcheck(lambda a: vg.nn.functional.cross_entropy(a, bk.t(t), reduction=reduction),
                            [bk.t(z, requires_grad=True)])
    # targets that are trained take their gradient too (PyTorch's): -log_softmax(x), scaled
    tt = bk.t(t, requires_grad=True)
    vg.nn.functional.cross_entropy(bk.t(z), tt, reduction=reduction).backward()
    bk.close(tt.grad.numpy(), -np.log(p) * scale, what="targets' gradient")


@pytest.mark.parametrize("where", ["host", "device"])
def test_cross_entropy_ignore_index_with_labels_anywhere(bk, where):
    """ignore_index on labels on the host or a device (the fused loss skips those
    rows; a device's could not be read before, so -100 padding made the loss NaN
    and an in-range ignore_index was silently counted): PyTorch's mean over the
    kept rows, their gradient rows 0, create_graph's gradient alike."""
    z = np.array([[0.5, -1.0, 2.0, 0.1], [1.5, 0.2, -0.7, 0.3], [-0.4, 0.9, 0.0, 1.1], [0.3, 0.3, -2.0, 0.8]])
    p = _np_softmax(z)
    for ignore, labels in ((-100, [2, -100, 0, -100]), (3, [2, 3, 0, 1])):
        lab = np.array(labels, np.int32)
        keep = lab != ignore
        want_d = (p - np.eye(4)[np.where(keep, lab, 0)]) * keep[:, None] / keep.sum()
        x = bk.t(z, requires_grad=True)
        t = lab if where == "host" else vg.tensor(lab, device=bk.device)
        loss = vg.nn.functional.cross_entropy(x, t, ignore_index=ignore)
        bk.close(loss.numpy(), -np.log(p[keep, lab[keep]]).mean(), what="loss")
        (g,) = vg.autograd.grad(loss, x, create_graph=True)
        bk.close(g.numpy(), want_d, what="gradient (create_graph)")
        loss.backward()
        bk.close(x.grad.numpy(), want_d, what="gradient")
        # the composed options and nll_loss alike (they took only host labels' ignore_index)
        w = np.array([0.5, 2.0, 1.0, 1.5])
        logp = np.log(p)
        for kw in (dict(weight=w), dict(label_smoothing=0.2), dict(reduction="sum"), dict(reduction="none")):
            tt = np.eye(4)[np.where(keep, lab, 0)] * (1 - kw.get("label_smoothing", 0)) + kw.get("label_smoothing", 0) / 4
            per = -(tt * logp * kw.get("weight", np.ones(4))).sum(1) * keep
            red = kw.get("reduction", "mean")
            want = (per if red == "none" else per.sum() if red == "sum" else
                    per.sum() / (w[lab[keep]].sum() if "weight" in kw else keep.sum()))
            got = vg.nn.functional.cross_entropy(bk.t(z), t, ignore_index=ignore,
                                                 **{k: bk.t(v) if k == "weight" else v for k, v in kw.items()})
            bk.close(got.numpy(), want, what=f"cross_entropy {kw}")
        got = vg.nn.functional.nll_loss(vg.log_softmax(bk.t(z), -1), t, weight=bk.t(w), ignore_index=ignore)
        bk.close(got.numpy(), -(w[lab[keep]] * logp[keep, lab[keep]]).sum() / w[lab[keep]].sum(), what="nll_loss")
    # an empty batch: PyTorch's NaN mean (Vulkan divided by its zero rows), a zero sum
    e = bk.t(np.zeros((0, 4)))
    assert np.isnan(vg.nn.functional.cross_entropy(e, vg.tensor(np.zeros(0, np.int32), device=bk.device)).item())
    assert vg.nn.functional.cross_entropy(e, np.zeros(0, np.int32), reduction="sum").item() == 0.0


@pytest.mark.parametrize("targets", ["labels", "onehot"])
def test_softmax_xent_of_masked_logits_is_finite(bk, targets):
    """Logits of -inf (masked classes): zero probability, no loss term -- the
    loss and its gradient stay finite, as PyTorch's cross_entropy gives (0 * -inf
    was NaN here)."""
    z = np.array([[-np.inf, 1.0, 2.0, -np.inf], [0.5, -np.inf, -1.0, 3.0], [-np.inf, -np.inf, 0.0, 1.0]])
    labels = np.array([2, 3, 3])
    t = labels if targets == "labels" else np.eye(4)[labels]
    x = bk.t(z, requires_grad=True)
    loss = vg.softmax_cross_entropy(x, t)
    p = _np_softmax(np.where(np.isinf(z), -1e30, z))
    bk.close(loss.numpy(), -np.log(p[np.arange(3), labels]).mean(), what="loss")
    loss.backward()
    bk.close(x.grad.numpy(), (p - np.eye(4)[labels]) / 3, what="gradient")


@pytest.mark.parametrize("rows,C", [(6, 5), (6, 37), (40, 1001), (5000, 40), (300, 264)])
def test_out_of_range_labels_make_their_rows_nan(bk, rows, C):
    """Class labels on a device are not range-checked on the host (that would cost a
    read): a label outside [0, C) makes its row of the fused loss's gradient NaN, the
    loss NaN, and one_hot's row NaN -- never a silent row of zeros or a wrapped index;
    the other rows as NumPy gives them.  Every backend alike (each path of the
    Vulkan kernel: one workgroup, a lane per row, a subgroup per row, row ends)."""
    be = vg.get_backend(bk.device)
    r = np.random.default_rng(rows + C)
    z = r.uniform(-3, 3, (rows, C))
    labels = r.integers(0, C, rows)
    bad = np.zeros(rows, bool)
    bad[[1, rows // 2, rows - 1]] = True
    labels[bad] = [-1, C, C + 5]
    h = bk.t(labels).handle
    loss, d = be.softmax_xent(bk.t(z).handle, h)
    d = np.asarray(be.to_numpy(d), np.float64)
    assert math.isnan(float(be.to_numpy(loss)))
    assert np.isnan(d[bad]).all()
    zr = np.asarray(bk.t(z).numpy(), np.float64)  # (f16: the logits as stored)
    ok = ~bad
    want = (_np_softmax(zr) - np.eye(C)[np.where(ok, labels, 0)]) / rows
    bk.close(d[ok], want[ok], atol=bk.atol / rows * 10, what="gradient rows with labels in range")
    oh = np.asarray(be.to_numpy(be.one_hot(h, C, bk.dtype)), np.float64)
    assert np.isnan(oh[bad]).all()
    np.testing.assert_array_equal(oh[ok], np.eye(C)[labels[ok]])


def test_out_of_range_device_labels_stop_backward_with_a_clear_error(bk):
    """Labels already on the device: the loss is NaN, and backward's finite check
    names the labels among the causes; labels from the host are checked at once."""
    x = bk.t(np.zeros((3, 4)), requires_grad=True)
    loss = vg.softmax_cross_entropy(x, bk.t(np.array([0, 4, 1])) if bk.device != "cpu" else np.array([0, 1, 1]))
    if bk.device == "cpu":  # host labels are checked when the loss is built
        with pytest.raises(ValueError, match=r"class labels must lie in \[0, 4\), got values in \[0, 9\]"):
            vg.softmax_cross_entropy(x, np.array([0, 9, 1]))
        return
    with pytest.raises(FloatingPointError, match=r"the loss is nan .*class labels"):
        loss.backward()


@pytest.mark.parametrize("shape,axis", [((7, 9), 1), ((7, 9), 0), ((7, 9), None), ((3, 5, 4), 1), ((3, 5, 4), -1),
                                        ((6,), 0), ((), None), ((2, 70000), 1), ((0, 4), 1), ((1, 3000), 1),
                                        ((4, 8, 3000), None)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_argmax_as_numpy(bk, shape, axis, keepdims):
    """argmax: the first maximum's index, NaN counting as the maximum, rows of -inf
    giving 0 (NumPy's and PyTorch's rules), along any axis or the flattened
    tensor, keepdims; int32, on the tensor's device, not differentiable; rows
    longer than lavapipe's loop limit too (their maximum at the end: a walk cut
    short by the limit answered an earlier index)."""
    r = np.random.default_rng(len(shape) * 10 + (axis or 0))
    x = r.integers(0, 4, shape).astype(np.float64)  # ties
    if x.ndim == 2 and shape[0] >= 5:
        x[1, :] = -np.inf
        x[2, 3] = np.nan
        x[3, 1], x[3, 5] = np.nan, np.nan
    if x.size > 65536:  # a long row's maximum (twice: the first wins) past lavapipe's loop limit
        x.reshape(-1, shape[-1])[-1, -7::5] = 9
    xs = np.asarray(bk.t(x).numpy(), np.float64)  # (f16: as stored)
    t = bk.t(x, requires_grad=True)
    got = vg.argmax(t, axis, keepdims=keepdims)
    want = np.argmax(xs, axis=axis, keepdims=keepdims) if x.size else np.zeros((0,) if not keepdims else (0, 1), int)
    assert got.dtype == "i32" and got.device == t.device and not got.requires_grad
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_array_equal(got.numpy(), want)
    if x.size:
        np.testing.assert_array_equal(t.argmax(axis).numpy(), np.argmax(xs, axis=axis))
        got = t.argmin(axis, keepdims=keepdims)  # the first minimum, NaN counting as it
        assert got.dtype == "i32" and not got.requires_grad
        np.testing.assert_array_equal(got.numpy(), np.argmin(xs, axis=axis, keepdims=keepdims))


@pytest.mark.parametrize("dtype", ["f64", "f32", "f16"])
def test_cpu_tiled_pools_match_the_composition(dtype):
    """The CPU backend's max pools whose windows tile the input (stride = kernel, no
    padding or dilation) by reshapes: the maxima, taps and scattered gradient bit
    for bit those of the base class's im2col rows (ties to the first tap, NaN
    counting as the maximum, rows and columns past the last window 0); other
    windows take the composition."""
    from vkgrad.backends.base import Backend, Window
    be = vg.get_backend("cpu")
    r = np.random.default_rng(3)
    x = r.integers(0, 3, (2, 3, 7, 9)).astype({"f64": np.float64, "f32": np.float32, "f16": np.float16}[dtype])
    x[0, 0, 1, 1], x[1, 2, 4, 7] = np.nan, np.nan
    for win in (Window((2, 2), (2, 2), (0, 0), (1, 1), (3, 4)), Window((3, 2), (3, 2), (0, 0), (1, 1), (2, 4)),
                Window((2, 3), (2, 3), (0, 0), (1, 1), (3, 3)), Window((2, 2), (1, 1), (0, 0), (1, 1), (6, 8))):
        assert win.tiles(x.shape[2:]) == (win.stride == win.kernel)
        y, idx = be.window_max(x, win)
        y0, idx0 = Backend.window_max(be, x, win)
        np.testing.assert_array_equal(idx, idx0)
        np.testing.assert_array_equal(y.view(np.uint8), np.ascontiguousarray(y0).view(np.uint8))
        g = r.standard_normal(y.shape).astype(x.dtype)
        np.testing.assert_array_equal(be.window_scatter(g, idx, x.shape, win),
                                      Backend.window_scatter(be, g, idx, x.shape, win))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_conv_padding_modes(bk, mode):
    """Conv2d / Conv1d with padding_mode reflect / replicate / circular (padding an
    int, a pair with dilation, 'same' with an even kernel): the input padded first,
    as PyTorch -- against NumPy's np.pad and a naive convolution; pad's errors."""
    r = np.random.default_rng(11)
    np_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    for padding, k, dil, pads in ((1, 3, 1, ((1, 1), (1, 1))), ((2, 1), 3, 2, ((2, 2), (1, 1))),
                                  ("same", 4, 1, ((1, 2), (1, 2)))):
        m = nn.Conv2d(3, 4, k, padding=padding, dilation=dil, padding_mode=mode, device=bk.device, dtype=bk.dtype)
        x = r.standard_normal((2, 3, 6, 7))
        w, b = m.weight.numpy().astype(np.float64), m.bias.numpy().astype(np.float64)
        xp = np.pad(bk.t(x).numpy().astype(np.float64), ((0, 0), (0, 0)) + pads, np_mode)
        want = _np_conv2d(xp, w, b, dil=(dil, dil))
        bk.close(m(bk.t(x)).numpy(), want, what=f"{mode} {padding}", **(dict(rtol=2e-2, atol=2e-2)
                                                                      if bk.dtype == "f16" else {}))
        assert f"padding_mode={mode}" in repr(m)  # (PyTorch's print)
    m1 = nn.Conv1d(2, 3, 3, padding=1, padding_mode=mode, device=bk.device, dtype=bk.dtype)
    x = r.standard_normal((2, 2, 9))
    xp = np.pad(bk.t(x).numpy().astype(np.float64), ((0, 0), (0, 0), (1, 1)), np_mode)
    want = _np_conv2d(xp[:, :, None], m1.weight.numpy().astype(np.float64)[:, :, None], m1.bias.numpy())[:, :, 0]
    bk.close(m1(bk.t(x)).numpy(), want, what=f"{mode} 1d", **(dict(rtol=2e-2, atol=2e-2)
                                                              if bk.dtype == "f16" else {}))


def test_conv_transpose_groups_module_and_errors():
    """nn.ConvTranspose2d(groups=): weight [in, out / groups, kh, kw], PyTorch's init
    bound; errors name the channels."""
    m = nn.ConvTranspose2d(4, 6, 3, groups=2, device="cpu")
    assert m.weight.shape == (4, 3, 3, 3) and np.abs(m.weight.numpy()).max() <= 1 / np.sqrt(27)
    assert m(vg.tensor(np.ones((1, 4, 5, 5)), device="cpu")).shape == (1, 6, 7, 7) and "groups=2" in repr(m)
    with pytest.raises(ValueError, match="ConvTranspose2d: groups must be a positive int dividing in_channels=4 "
                                         "and out_channels=6, got 4"):
        nn.ConvTranspose2d(4, 6, 3, groups=4)
    # an output of size 0 along an axis is an empty result with zero gradients, as PyTorch's (it raised)
    x0, w0 = vg.tensor(np.ones((2, 4, 2, 2)), device="cpu", requires_grad=True), vg.tensor(np.ones((4, 1, 1, 1)),
                                                                                        device="cpu", requires_grad=True)
    y0 = vg.conv_transpose2d(x0, w0, padding=1, groups=2)
    assert y0.shape == (2, 2, 0, 0)
    y0.sum().backward()
    assert x0.grad.shape == (2, 4, 2, 2) and not x0.grad.numpy().any() and not w0.grad.numpy().any()
    assert vg.nn.functional.conv_transpose3d(vg.tensor(np.ones((1, 1, 2, 4, 2)), device="cpu"),
                                             vg.tensor(np.ones((1, 2, 1, 3, 3)), device="cpu"),
                                             padding=1).shape == (1, 2, 0, 4, 2)
    with pytest.raises(ValueError, match="conv_transpose2d: groups must be a positive int dividing the 4 input "
                                         "channels, got 3"):
        vg.conv_transpose2d(vg.tensor(np.ones((1, 4, 5, 5)), device="cpu"),
                            vg.tensor(np.ones((4, 2, 3, 3)), device="cpu"), groups=3)


def test_pad_flip_index_select_errors():
    x = vg.tensor(np.ones((2, 3, 4)), device="cpu")
    with pytest.raises(ValueError, match="pad: mode must be one of constant, reflect, replicate, circular, got 'edge'"):
        vg.pad(x, (1, 1), "edge")
    with pytest.raises(ValueError, match=r"pad: expected \(before, after\) pairs of ints for at most the 3 "
                                         r"axes of \[2, 3, 4\], got \[1, -1, 0\]"):
        vg.pad(x, (1, -1, 0), "replicate")
    with pytest.raises(ValueError, match=r"pad: cropping \(-2, -2\) of axis 2 of length 4 \(shape \[2, 3, 4\]\) "
                                         r"removes the axis"):
        vg.pad(x, (-2, -2), "reflect")
    # negative pads in every mode, as PyTorch's: reflect and replicate index the uncropped axis (reflect (-1, 4)
    # of 5 is legal), constant and circular crop first
    torch = pytest.importorskip("torch")
    a = np.arange(10.0).reshape(2, 5)
    for mode, p in (("replicate", (2, -1)), ("reflect", (-1, 4)), ("reflect", (4, -1)), ("circular", (2, -1)),
                    ("constant", (-1, 2)), ("replicate", (1, -5))):
        xt, tt = vg.tensor(a, device="cpu", dtype="f64", requires_grad=True), torch.tensor(a, requires_grad=True)
        got, want = vg.pad(xt[None], p, mode)[0], torch.nn.functional.pad(tt[None], p, mode=mode)[0]
        np.testing.assert_array_equal(got.numpy(), want.detach().numpy(), err_msg=f"{mode} {p}")
        w = np.cos(np.arange(want.numel())).reshape(want.shape)
        (got * vg.tensor(w, device="cpu", dtype="f64")).sum().backward()
        (want * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(xt.grad.numpy(), tt.grad.numpy(), rtol=1e-12, err_msg=f"{mode} {p}")
    with pytest.raises(ValueError, match=r"pad: cropping \(-3, -2\) of axis 2 of length 4 \(shape \[2, 3, 4\]\) "
                                         r"removes more than the axis"):
        vg.pad(x, (-3, -2))
    with pytest.raises(ValueError, match=r"pad: reflect padding \(4, 0\) of axis 2 of length 4 \(shape \[2, 3, 4\]\) "
                                         r"must be shorter than the axis"):
        vg.pad(x, (4, 0), "reflect")
    with pytest.raises(IndexError, match=r"index_select: index out of range for axis 1 of length 3"):
        vg.index_select(x, 1, [0, 3])
    with pytest.raises(ValueError, match="flip: axis 3 is out of range for a tensor with 3 dimensions"):
        x.flip(3)
    with pytest.raises(ValueError, match="Conv2d: padding_mode must be 'zeros', 'reflect', 'replicate' or "
                                         "'circular', got 'edge'"):
        nn.Conv2d(1, 1, 3, padding_mode="edge")


def test_normalize_of_a_zero_vector(bk):
    """normalize / cosine_similarity of a zero row: 0 (the norm clamped at eps) and a
    gradient without NaN (the clamp before the root: no 0 * inf; 1 / eps = 1e12 is
    past the largest half, so inf in f16, as PyTorch)."""
    x = bk.t(np.array([[0.0, 0.0, 0.0], [3.0, 4.0, 0.0]]), requires_grad=True)
    y = vg.normalize(x)
    bk.close(y.numpy(), np.array([[0.0, 0.0, 0.0], [0.6, 0.8, 0.0]]), rtol=2e-3, atol=2e-3)
    (vg.cosine_similarity(x, bk.t(np.ones(3)), dim=-1).sum() + y.sum()).backward()
    assert not np.isnan(x.grad.numpy()).any() and np.isfinite(x.grad.numpy()[1]).all()
    with pytest.raises(ValueError, match="normalize: p must be a number >= 0, inf or -inf, got -1.0"):
        vg.normalize(x, p=-1.0)


def test_p_norms_of_distances_and_normalize_match_torch(bk):
    """normalize, cdist, pdist and pairwise_distance take every p PyTorch's take (0:
    a count, 0.5, inf: the largest difference -- inf gave sum(|d| ** inf) ** 0 = 1, 0
    and 0.5 raised), through the one norm: values and gradients, a zero row and a
    zero distance included."""
    torch = pytest.importorskip("torch")
    x = np.array([[1.0, -3.0, 2.0], [0.5, 0.2, -0.1], [0.0, 0.0, 0.0]])
    y = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    for p in (0.0, 0.5, 1.0, 3.0, np.inf):
        got = []
        for M, xt in ((torch, torch.tensor(x, requires_grad=True)), (vg, bk.t(x, requires_grad=True))):
            F = M.nn.functional
            yt = M.tensor(y) if M is torch else bk.t(y)
            outs = [F.normalize(xt, p=p, dim=1), M.cdist(xt, yt, p=p), F.pdist(xt, p=p),
                    F.pairwise_distance(xt, yt[:1], p=p)]
            loss = sum((o * (M.tensor(np.cos(np.arange(o.numel())).reshape(tuple(o.shape))) if M is torch else
                             bk.t(np.cos(np.arange(o.numel())).reshape(tuple(o.shape))))).sum() for o in outs)
            loss.backward()
            got.append([np.asarray(o.detach().numpy(), np.float64) for o in outs] + [np.asarray(xt.grad.numpy())])
        for i, (want, mine) in enumerate(zip(*got)):
            if i == 4 and bk.dtype == "f16":  # (the zero row's normalize gradient, 1 / eps: past the largest half)
                want, mine = want[:2], mine[:2]
            bk.close(mine, want, what=f"p={p} output {i}" if i < 4 else f"p={p} gradient")
    d0 = vg.cdist(bk.t(x, requires_grad=True), bk.t(y), p=0)  # (a count, recorded with gradient 0, as PyTorch's)
    assert d0.requires_grad and d0.numpy().tolist() == [[3, 2], [3, 3], [0, 3]]


def test_scaled_dot_product_attention_errors_and_dropout():
    """scaled_dot_product_attention's errors name the shapes; dropout_p zeroes weights."""
    q = vg.tensor(np.ones((2, 4, 5)), device="cpu")
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention: expected query \[..., L, E\], key "
                                         r"\[..., S, E\] and value \[..., S, Ev\], got \[2, 4, 5\], \[2, 6, 4\]"):
        vg.scaled_dot_product_attention(q, vg.tensor(np.ones((2, 6, 4)), device="cpu"), q)
    with pytest.raises(ValueError, match="give attn_mask or is_causal, not both"):
        vg.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((4, 4), bool), is_causal=True)
    with pytest.raises(ValueError, match=r"attn_mask of shape \[3, 4\] does not broadcast to the scores' shape "
                                         r"\[2, 4, 4\]"):
        vg.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((3, 4)))
    v = vg.tensor(np.eye(4)[None].repeat(2, 0), device="cpu")  # the output is the weights themselves
    w = vg.scaled_dot_product_attention(q, q, v, dropout_p=0.5).numpy()
    assert set(np.round(w.ravel(), 6)) <= {0.0, 0.5} and (w == 0).any()


def test_split_broadcast_and_masked_fill_errors_and_edges():
    """split / chunk / unbind / broadcast_to / expand / masked_fill name the op, the
    shapes and what was expected; torch.split's and chunk's piece sizes."""
    x = vg.tensor(np.arange(14.0).reshape(7, 2), device="cpu")
    assert [p.shape for p in vg.split(x, 3)] == [(3, 2), (3, 2), (1, 2)]
    assert [p.shape for p in x.chunk(4)] == [(2, 2), (2, 2), (2, 2), (1, 2)]
    assert [p.shape for p in vg.chunk(vg.tensor(np.zeros((6, 1)), device="cpu"), 4)] == [(2, 1)] * 3
    assert [p.numpy().tolist() for p in x.unbind(1)] == [list(range(0, 14, 2)), list(range(1, 14, 2))]
    with pytest.raises(ValueError, match=r"split: sizes \[3, 3\] must be non-negative integers summing to 7, "
                                         r"the length of axis 0 of shape \[7, 2\]"):
        vg.split(x, [3, 3])
    with pytest.raises(ValueError, match="split: split_size must be a positive integer, got 0"):
        x.split(0)
    with pytest.raises(ValueError, match="chunk: chunks must be a positive integer, got 0"):
        x.chunk(0)
    with pytest.raises(ValueError, match="unbind: axis 2 is out of range for a tensor with 2 dimensions"):
        x.unbind(2)
    with pytest.raises(ValueError, match=r"broadcast_to: shape \[7, 2\] cannot be broadcast to \[7, 3\]"):
        vg.broadcast_to(x, (7, 3))
    with pytest.raises(ValueError, match=r"expand: sizes \[-1, 7, 2\] for a tensor of shape \[7, 2\]"):
        x.expand(-1, 7, 2)
    with pytest.raises(ValueError, match=r"masked_fill: mask of shape \[2, 7, 2\] does not broadcast to the "
                                         r"input's shape \[7, 2\]"):
        x.masked_fill(np.zeros((2, 7, 2), bool), 1.0)
    with pytest.raises(ValueError, match=r"masked_fill: shapes \[3, 2\] and \[7, 2\] cannot be broadcast"):
        x.masked_fill(np.zeros((3, 2), bool), 1.0)
    assert x.expand(3, 7, -1).shape == (3, 7, 2) and x.broadcast_to((1, 7, 2)).shape == (1, 7, 2)


def test_split_pieces_gradients_meet_in_one_write(bk, monkeypatch):
    """The pieces of split / unbind hand their gradients to one joint node: x's
    gradient is one cat (zeros for a piece without a gradient; a piece used twice
    adds), not a slice gradient per piece spread to x's shape and summed."""
    r = np.random.default_rng(3)
    xv = r.standard_normal((3, 6, 4))
    x = bk.t(xv, requires_grad=True)
    calls, depth = [], [0]
    be = x.backend

    def spy(f, name):  # the calls the autograd makes (not the backend's own, inside them)
        def call(*a):
            if not depth[0]:
                calls.append(name)
            depth[0] += 1
            try:
                return f(*a)
            finally:
                depth[0] -= 1
        return call
    for name in ("cat", "unslice"):
        monkeypatch.setattr(be, name, spy(getattr(be, name), name))
    steps = x.unbind(1)
    loss = (steps[0] * 2.0).sum() + (steps[0] * steps[4]).sum() + steps[5].sum()
    loss.backward()
    assert calls.count("cat") == 1 and "unslice" not in calls, calls
    want = np.zeros_like(xv)
    want[:, 0], want[:, 4], want[:, 5] = 2.0 + xv[:, 4], xv[:, 0], 1.0
    if bk.dtype == "f16":
        want[:, 0], want[:, 4] = 2.0 + xv[:, 4].astype(np.float16), xv[:, 0].astype(np.float16)
    bk.close(x.grad.numpy(), want, what="unbind gradient")
    x.grad = None
    a, b, c = vg.split(x, [2, 0, 4], axis=1)
    assert b.shape == (3, 0, 4)
    (c * 3.0).sum().backward()
    bk.close(x.grad.numpy(), np.concatenate([np.zeros((3, 2, 4)), np.full((3, 4, 4), 3.0)], 1), what="split")


def test_argmax_gives_accuracy_on_the_device_and_clear_errors(bk):
    """Predictions compared with labels without leaving the device; bad axes and
    empty input name the op."""
    logits = bk.t(np.array([[0.1, 2.0, 0.3], [1.0, 0.0, -1.0], [0.0, 0.5, 0.7], [3.0, 2.0, 1.0]]))
    labels = bk.t(np.array([1, 0, 1, 0], np.int32))
    assert float(vg.mean(vg.eq(vg.argmax(logits, 1), labels)).item()) == 0.75  # one wrong of four
    miss = vg.argmax(logits, 1).float() - labels.float()  # the same through casts
    assert float(vg.mean(miss * miss).item()) == 0.25
    with pytest.raises(ValueError, match=r"argmax: axis 2 is out of range for a tensor with 2 dimensions"):
        vg.argmax(logits, 2)
    with pytest.raises(ValueError, match=r"argmax: axis 1 of shape \[3, 0\] is empty"):
        vg.argmax(bk.t(np.zeros((3, 0))), 1)
    with pytest.raises(ValueError, match="argmax: empty tensor"):
        vg.argmax(bk.t(np.zeros((0, 2))))
    with pytest.raises(TypeError, match="argmax: axis must be an int or None"):
        vg.argmax(logits, (0, 1))


def test_eq_compares_elementwise_without_a_gradient(bk):
    """vg.eq: 1.0 where equal (NaN equals nothing), broadcast, in the float dtype;
    int32 operands compared as f32; a constant operand; no gradient."""
    x = bk.t(np.array([[1.0, np.nan, 3.0], [1.0, 2.0, -0.0]]), requires_grad=True)
    e = vg.eq(x, bk.t(np.array([1.0, np.nan, 0.0])))
    assert not e.requires_grad and e.dtype == bk.dtype
    np.testing.assert_array_equal(e.numpy(), [[1, 0, 0], [1, 0, 1]])
    np.testing.assert_array_equal(vg.eq(x, 1.0).numpy(), [[1, 0, 0], [1, 0, 0]])
    np.testing.assert_array_equal(vg.eq(bk.t(np.array([3, -2], np.int32)), bk.t(np.array([3, 2], np.int32))).numpy(),
                                  [1, 0])
    with pytest.raises(ValueError, match=r"eq: shapes \[2, 3\] and \[2\] cannot be broadcast"):
        vg.eq(x, bk.t(np.ones(2)))


@pytest.mark.parametrize("n", [1, 7, 9, 33, 4099])
def test_casts_between_float_and_int32(bk, n):
    """Every backend casts between f32, f16 and i32 as NumPy's astype does (i32 to
    float rounds to nearest; float to i32 truncates toward zero, NaN, inf and values
    out of int32's range give INT32_MIN), at sizes with and without whole quads;
    i32 labels can then become floats on the device (``labels.float()``)."""
    be = vg.get_backend(bk.device)
    r = np.random.default_rng(n)
    f = r.standard_normal(n) * 10.0 ** r.integers(-3, 6, n)
    f[::5] = np.trunc(f[::5]) + 0.5
    specials = [np.nan, np.inf, -np.inf, 3e9, -3e9, -0.75, 0.75, 65504.0, 70000.0, -2147483648.0]
    f[:min(n, len(specials))] = specials[:n]
    i = r.integers(-2 ** 31, 2 ** 31, n).astype(np.int32)
    i[: min(n, 4)] = [0, -1, 2 ** 24 + 1, 65519][:n]
    np_dt = {"f32": np.float32, "f16": np.float16, "i32": np.int32}
    for src, arr in (("f32", f), ("f16", f), ("i32", i)):
        with np.errstate(all="ignore"):
            x = arr.astype(np_dt[src])
        h = be.from_numpy(x, src)
        for dst in ("f32", "f16", "i32"):
            if dst == src:
                continue
            with np.errstate(all="ignore"):
                want = x.astype(np_dt[dst])
            got = np.asarray(be.to_numpy(be.cast(h, dst)))
            assert got.dtype == want.dtype, (src, dst, got.dtype)
            np.testing.assert_array_equal(got, want, err_msg=f"{bk.name} {src} -> {dst}")
    y = vg.tensor(np.array([0, 2, 1], np.int32), device=bk.device)
    assert y.float().dtype == "f32" and y.float().numpy().tolist() == [0.0, 2.0, 1.0]


def test_ieee_results_without_warnings(bk):
    """log(0) = -inf, log / sqrt / pow(., 0.5) of a negative = NaN, x / 0 = +-inf or
    NaN, exp overflow = inf: IEEE results on every backend, and no NumPy
    RuntimeWarning from the CPU backend (PyTorch and the shaders give them silently)."""
    import warnings
    v = np.array([-1.0, 0.0, 2.0, 100.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = bk.t(v)
        got = {"log": vg.log(x), "sqrt": vg.sqrt(x), "pow": vg.pow(x, 0.5), "exp": vg.exp(x),
               "div": x / bk.t(np.zeros(4))}
        got = {k: np.asarray(t.numpy(), np.float64) for k, t in got.items()}
        # inf * 0 in an affine (a GradScaler's skipped step) and pow's gradient at 0: no warning either
        assert np.isnan((bk.t(np.array([np.inf])) * 0.0).numpy()).all()
        xg = bk.t(np.array([0.0, 4.0]), requires_grad=True)
        (xg ** 0.5).sum().backward()
        assert np.isinf(xg.grad.numpy()[0])
    with np.errstate(all="ignore"):
        want = {"log": np.log(v), "sqrt": np.sqrt(v), "pow": np.power(v, 0.5),
                "exp": np.exp(v.astype(np.float16 if bk.dtype == "f16" else np.float32)), "div": v / 0.0}
    for k in got:
        np.testing.assert_array_equal(np.isnan(got[k]), np.isnan(want[k]), err_msg=k)
        fin = np.isfinite(want[k])
        np.testing.assert_array_equal(got[k][~fin & ~np.isnan(want[k])], want[k][~fin & ~np.isnan(want[k])],
                                      err_msg=k)
        bk.close(got[k][fin], want[k][fin], what=k)


@pytest.mark.parametrize("op", ["sum", "mean", "max"])
def test_reductions_of_a_0d_tensor(bk, op):
    """A 0-d tensor reduces to itself over no axes, axis 0 or -1 (PyTorch's rule),
    keepdims or not, and its gradient stays 0-d (the CPU backend's broadcast and
    permute made it [1]: NumPy's ascontiguousarray gives 0-d arrays a dimension)."""
    for axis in (None, 0, -1, (0,)):
        for keepdims in (False, True):
            x = bk.t(2.5, requires_grad=True)
            y = getattr(vg, op)(x, axis=axis, keepdims=keepdims)
            (y * 3).backward()
            assert y.shape == () and x.grad.shape == (), (axis, keepdims, y.shape, x.grad.shape)
            assert float(y.item()) == 2.5 and float(x.grad.numpy()) == 3.0
    with pytest.raises(ValueError, match=f"{op}: axis 1 is out of range for a tensor with 0 dimensions"):
        getattr(vg, op)(bk.t(1.0), axis=1)
    assert vg.transpose(bk.t(1.5)).shape == ()


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_of_rows_of_no_values_is_empty(bk, op):
    """Rows of length 0 (or no rows) give an empty result on every backend, as in
    PyTorch (the CPU backend raised NumPy's zero-size reduction error)."""
    for shape in ((5, 0), (0,), (0, 4)):
        y = getattr(vg, op)(bk.t(np.zeros(shape)), axis=-1)
        assert y.shape == shape and y.numpy().size == 0


def test_tensors_of_more_than_six_axes(bk):
    """The Vulkan kernels index up to six axes: size-1 axes and axes walked
    contiguously are merged first, so e.g. indexing with None or 8-d tensors whose
    broadcast leaves at most six axes work; more is a clear error naming the op."""
    r = np.random.default_rng(8)
    x = r.standard_normal((2, 3, 4, 5))
    t = bk.t(x, requires_grad=True)
    idx = (None, slice(None), None, slice(0, 3, 2), None, Ellipsis, None, slice(1, None))
    y = t[idx]
    assert y.shape == x[idx].shape and y.ndim == 8
    bk.close(y.numpy(), x.astype(np.float16)[idx] if bk.dtype == "f16" else x[idx], what="8-d slice")
    w = r.standard_normal(y.shape)
    (y * bk.t(w)).sum().backward()
    want = np.zeros_like(x)
    want[idx] += w.astype(np.float16) if bk.dtype == "f16" else w
    bk.close(t.grad.numpy(), want, what="8-d slice gradient")
    a, b = r.standard_normal((2, 1, 3, 1, 4, 1, 5, 1)), r.standard_normal((1, 1, 3, 1, 4, 1, 1, 1))
    got = (bk.t(a) + bk.t(b)).numpy()
    bk.close(got, (a.astype(np.float16) + b.astype(np.float16)).astype(np.float64) if bk.dtype == "f16" else a + b,
             what="8-d broadcast")
    if bk.device == "vulkan":
        a7, b7 = np.ones((2, 1, 2, 1, 2, 1, 2)), np.ones((1, 2, 1, 2, 1, 2, 1))
        with pytest.raises(vg.BackendError, match=r"vulkan add: 7-d operands .* leave 7 axes after merging; at most 6"):
            bk.t(a7) + bk.t(b7)
        with pytest.raises(vg.BackendError, match=r"vulkan transpose: a 7-d result .* leave 7 axes; at most 6"):
            vg.transpose(bk.t(np.ones((2,) * 7)))


@pytest.mark.parametrize("shape", [(3, 7), (64, 1024)])  # a tail of words; whole quads (the quad kernels)
def test_nan_propagates_as_in_numpy(bk, shape):
    """NaN in, NaN out, as NumPy and PyTorch give it: relu (and linear's fused
    relu), clamp, max over rows / columns / all, pow -- GLSL's max and pow may drop
    a NaN (lavapipe gave relu(NaN) = 0, a row's maximum past its NaN, NaN ** 2 = 0).
    NaN ** 0 is 1."""
    r = np.random.default_rng(14)
    x = r.standard_normal(shape)
    x[1, 2] = x[-1, -1] = np.nan
    t = bk.t(x)
    nan = np.isnan(x)
    assert np.array_equal(np.isnan(vg.relu(t).numpy()), nan)
    assert np.array_equal(np.isnan(vg.clamp(t, -0.5, 0.75).numpy()), nan)
    assert np.array_equal(np.isnan(vg.pow(t, 2).numpy()), nan)
    assert np.array_equal(np.isnan(vg.max(t, axis=1).numpy()), nan.any(axis=1))
    assert np.array_equal(np.isnan(vg.max(t, axis=0).numpy()), nan.any(axis=0))
    assert np.isnan(vg.max(t).item())
    assert np.array_equal(vg.pow(bk.t(np.array([np.nan, 2.0])), 0).numpy(), [1.0, 1.0])
    w = bk.t(np.abs(r.standard_normal((5, shape[1]))))
    y = vg.linear(t, w, activation="relu").numpy()
    assert np.array_equal(np.isnan(y).any(axis=1), nan.any(axis=1))


@pytest.mark.parametrize("n", [3, 17, 1001])
def test_cat_and_stack_move_bits_of_every_dtype(bk, n):
    """cat / stack copy elements' bits exactly (-0.0, NaN, inf, int32 labels), f16
    pieces of odd lengths meeting inside a packed word, empty pieces skipped, over
    the texel twin and the storage-buffer kernel; and int32 indexing and transposes
    on Vulkan (no int32 shader variants: moved as f32 words)."""
    r = np.random.default_rng(n)
    a = r.standard_normal(n)
    a[:3] = [-0.0, np.nan, np.inf]
    b = r.standard_normal(n + 2)
    want = np.concatenate([a, b])
    rnd = lambda x: x.astype({"f16": np.float16, "f32": np.float32}[bk.dtype]).astype(np.float64)  # noqa: E731
    got = vg.cat([bk.t(a), bk.t(np.zeros(0)), bk.t(b)]).numpy().astype(np.float64)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(rnd(want)))
    np.testing.assert_array_equal(got, rnd(want))  # (NaN equal to NaN here)
    labels = [r.integers(-5, 5, k).astype(np.int32) for k in (n, 1, n + 1)]
    lt = vg.cat([bk.t(x) for x in labels])
    assert lt.dtype == "i32" and lt.numpy().tolist() == np.concatenate(labels).tolist()
    st = vg.stack([bk.t(x) for x in (labels[0], labels[0][::-1].copy())], 1)
    assert st.numpy().tolist() == np.stack([labels[0], labels[0][::-1]], 1).tolist()
    m = np.arange(n * 4, dtype=np.int32).reshape(n, 4)
    mt = bk.t(m)
    assert mt[1::2, ::3].numpy().tolist() == m[1::2, ::3].tolist()
    assert mt.T.numpy().tolist() == m.T.tolist()
    assert vg.cat([bk.t(np.zeros((0, 2))), bk.t(np.zeros((0, 2)))]).shape == (0, 2)


def test_cat_and_stack_errors():
    a, b = vg.tensor(np.zeros((2, 3))), vg.tensor(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"cat: tensor 1 has shape \[2, 4\], tensor 0 \[2, 3\]; all shapes must "
                                         r"match except along axis 0"):
        vg.cat([a, b])
    assert vg.cat([a, b], 1).shape == (2, 7)
    with pytest.raises(ValueError, match="cat: axis 2 is out of range for tensors with 2 dimensions"):
        vg.cat([a, a], 2)
    with pytest.raises(TypeError, match="cat: expected a list or tuple of tensors, got Tensor"):
        vg.cat(a)
    with pytest.raises(ValueError, match="cat: expected at least one tensor"):
        vg.cat([])
    with pytest.raises(TypeError, match="cat: item 1 is a ndarray, expected a vkgrad Tensor"):
        vg.cat([a, np.zeros((2, 3))])
    assert vg.cat([a, a.half()]).dtype == "f32"  # (promoted, as PyTorch's)
    with pytest.raises(ValueError, match="cat: 0-d tensors cannot be joined; use stack"):
        vg.cat([vg.tensor(1.0), vg.tensor(2.0)])
    with pytest.raises(ValueError, match=r"stack: tensor 1 has shape \[2, 4\], tensor 0 \[2, 3\]"):
        vg.stack([a, b])
    with pytest.raises(ValueError, match="stack: axis 3 is out of range for a result with 3 dimensions"):
        vg.stack([a, a], 3)
    if vg.vulkan_available():
        with pytest.raises(ValueError, match="cat: operands are on different devices"):
            vg.cat([a.to("cpu"), a.to("vulkan")])
    assert vg.stack([vg.tensor(1.0), vg.tensor(2.0)]).numpy().tolist() == [1.0, 2.0]


def test_clone_has_its_own_storage_and_one_hot(bk):
    x = bk.t(np.arange(4.0))
    c = x.clone()
    x.assign_(np.zeros(4))
    bk.close(c.numpy(), np.arange(4.0))
    assert c.dtype == x.dtype and c.device == x.device and not c.requires_grad
    lab = bk.t(np.array([2, 0, 3], dtype=np.int32))
    assert lab.clone().numpy().tolist() == [2, 0, 3]
    oh = vg.one_hot(lab, 4, dtype=bk.dtype)
    assert oh.dtype == bk.dtype and oh.shape == (3, 4) and not oh.requires_grad
    bk.close(oh.numpy(), np.eye(4)[[2, 0, 3]])
    assert vg.one_hot(vg.tensor(np.zeros(0, np.int32), device=bk.device), 2).shape == (0, 2)
    if bk.device != "cpu":  # on a device: a row of NaN (no host read), as the fused loss
        got = vg.one_hot(bk.t(np.array([1, 7], dtype=np.int32)), 4).numpy()
        assert np.isnan(got[1]).all() and got[0].tolist() == [0.0, 1.0, 0.0, 0.0]


def test_one_hot_errors():
    with pytest.raises(ValueError, match=r"one_hot: labels must lie in \[0, 3\), got values in \[0, 3\]"):
        vg.one_hot(vg.tensor(np.array([0, 3], np.int32), device="cpu"), 3)
    with pytest.raises(ValueError, match=r"one_hot: num_classes must be a positive integer \(or -1\), got 0"):
        vg.one_hot([1], 0)
    with pytest.raises(TypeError, match="one_hot: labels must be integers, got float64"):
        vg.one_hot([1.0], 3)
    with pytest.raises(ValueError, match=r"one_hot: labels must be an int32 tensor, got f32"):
        vg.one_hot(vg.tensor(np.array([1.0])), 3)
    with pytest.raises(ValueError, match="one_hot: dtype must be a float dtype, got i32"):
        vg.one_hot([1], 3, dtype="i32")
    with pytest.raises(TypeError, match="clone: expected a vkgrad Tensor, got list"):
        vg.clone([1.0])


def test_maximum_minimum_ties_nan_and_comparisons(bk):
    """Ties send half the gradient to each operand (PyTorch's rule), NaN from either
    operand propagates, gt / lt compare as NumPy (NaN false) without a gradient."""
    a = bk.t(np.array([1.0, 2.0, 3.0, np.nan, 0.5]), requires_grad=True)
    b = bk.t(np.array([1.0, 1.0, 4.0, 0.0, np.nan]), requires_grad=True)
    m = vg.maximum(a, b)
    got = m.numpy().astype(np.float64)
    assert got[:3].tolist() == [1.0, 2.0, 4.0] and np.isnan(got[3:]).all()
    got = vg.minimum(a, b).numpy().astype(np.float64)
    assert got[:3].tolist() == [1.0, 1.0, 3.0] and np.isnan(got[3:]).all()
    m[:3].sum().backward()
    assert a.grad.numpy()[:3].tolist() == [0.5, 1.0, 0.0] and b.grad.numpy()[:3].tolist() == [0.5, 0.0, 1.0]
    assert vg.gt(a, b).numpy().tolist() == [0.0, 1.0, 0.0, 0.0, 0.0]
    assert vg.lt(a, b).numpy().tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]
    assert vg.gt(a, 1.5).numpy().tolist() == [0.0, 1.0, 1.0, 0.0, 0.0]
    assert vg.ge(a, b).numpy().tolist() == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert vg.le(a, b).numpy().tolist() == [1.0, 0.0, 1.0, 0.0, 0.0]
    # the operators: masks for where and masked sums (2 < a is a > 2)
    assert (a > b).numpy().tolist() == vg.gt(a, b).numpy().tolist() and (a <= 2.0).numpy().tolist() == [1, 1, 0, 0, 1]
    assert (2.0 < a).numpy().tolist() == [0.0, 0.0, 1.0, 0.0, 0.0] and (a >= 1.0).numpy().tolist() == [1, 1, 1, 0, 0]
    assert not vg.gt(a, b).requires_grad
    lab = bk.t(np.array([3, 1], dtype=np.int32))
    assert vg.lt(lab, bk.t(np.array([2, 2], dtype=np.int32))).numpy().tolist() == [0.0, 1.0]


def test_maximum_errors():
    a = vg.tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="maximum: .*2, 3.*4"):
        vg.maximum(a, vg.tensor(np.zeros(4)))
    with pytest.raises(TypeError, match="minimum: expected at least one vkgrad Tensor"):
        vg.minimum(1.0, 2.0)


def test_means_and_variances_of_many_halves_do_not_overflow(bk):
    """mean / var / layer_norm sum in f32 and scale before storing in the input's
    dtype: in f16 a sum of 100000 ones (or squared deviations) is past the largest
    half (65504), the mean 1 is not (PyTorch gives 1); a plain f16 sum stays inf,
    as PyTorch's."""
    x = bk.t(np.ones(100000), requires_grad=True)
    m = vg.mean(x)
    assert m.dtype == bk.dtype and m.item() == 1.0
    m.backward()
    bk.close(x.grad.numpy(), np.full(100000, 1e-5))
    v = np.random.default_rng(9).normal(0, 3, (2, 150000))
    bk.close(vg.var(bk.t(v), axis=1).numpy(), v.var(1, ddof=1), rtol=2e-2 if bk.dtype == "f16" else 1e-4)
    ln = vg.layer_norm(bk.t(v), 150000).numpy().astype(np.float64)
    assert np.isfinite(ln).all() and abs(ln.std() - 1) < 2e-2
    if bk.dtype == "f16":
        assert np.isinf(vg.sum(bk.t(np.ones(100000))).item())


def test_where_selects_exactly(bk):
    """where copies the chosen operand's bits: inf / NaN in the branch not taken never
    leak into the value or the gradient; cond may be int32, or a float of another
    dtype (its tiny nonzero values still select a), and broadcasts."""
    a = bk.t(np.array([1.0, np.inf, -2.0, np.nan]), requires_grad=True)
    b = bk.t(np.array([np.nan, 5.0, np.inf, 7.0]), requires_grad=True)
    c = bk.t(np.array([1.0, 0.0, 1.0, 0.0]))
    y = vg.where(c, a, b)
    assert y.numpy().tolist() == [1.0, 5.0, -2.0, 7.0]
    (y * bk.t(np.array([1.0, 2.0, 3.0, 4.0]))).sum().backward()
    assert a.grad.numpy().tolist() == [1.0, 0.0, 3.0, 0.0] and b.grad.numpy().tolist() == [0.0, 2.0, 0.0, 4.0]
    lab = bk.t(np.array([0, 3, 0, -1], dtype=np.int32))
    assert vg.where(lab, 1.0, 0.0).numpy().tolist() == [0.0, 1.0, 0.0, 1.0]
    tiny = vg.tensor(np.array([0.0, 1e-30, np.nan, -0.0]), device=bk.device, dtype="f32")
    got = vg.where(tiny, bk.t(np.ones(4)), bk.t(np.zeros(4)))
    assert got.dtype == bk.dtype and got.numpy().tolist() == [0.0, 1.0, 1.0, 0.0]
    r = np.random.default_rng(2)
    for n in (1000, 1001, 4099):  # whole quads and a tail, halves sharing words
        cn, an, bn = r.choice([0.0, 1.0, -0.0, 2.5], n), r.standard_normal(n), r.standard_normal(n)
        want = np.where(cn != 0, an, bn).astype(np.float16 if bk.dtype == "f16" else np.float32)
        np.testing.assert_array_equal(vg.where(bk.t(cn), bk.t(an), bk.t(bn)).numpy(), want)
    col = bk.t(np.array([[1.0], [0.0]]))
    m = np.arange(6.0).reshape(2, 3)
    assert vg.where(col, bk.t(m), bk.t(-m)).numpy().tolist() == np.where([[1], [0]], m, -m).tolist()


def test_where_errors():
    a = vg.tensor(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="where: cond must be a vkgrad Tensor, got list"):
        vg.where([1, 0], a, a)
    with pytest.raises(ValueError, match=r"where: shapes \[2, 3\] and \[4\] cannot be broadcast"):
        vg.where(a, a, vg.tensor(np.zeros(4)))
    if vg.vulkan_available():
        with pytest.raises(ValueError, match="where: operands are on different devices"):
            vg.where(a.to("vulkan"), a.to("cpu"), 1.0)


def test_activations_of_extreme_inputs_stay_finite(bk):
    """elu and softplus of large inputs neither overflow nor put NaN into the
    gradient (an exp taken where it cannot overflow); the modules match."""
    x = bk.t(np.array([-80.0, -3.0, 0.5, 60.0]), requires_grad=True)
    y = vg.elu(x) + vg.softplus(x) + vg.silu(x) + vg.leaky_relu(x)
    y.sum().backward()
    assert np.isfinite(y.numpy()).all() and np.isfinite(x.grad.numpy()).all()
    for mod, fn in ((nn.SiLU(), vg.silu), (nn.Softplus(), vg.softplus), (nn.ELU(0.5), lambda a: vg.elu(a, 0.5)),
                    (nn.LeakyReLU(0.3), lambda a: vg.leaky_relu(a, 0.3)),
                    (nn.LogSoftmax(0), lambda a: vg.log_softmax(a, 0))):
        np.testing.assert_array_equal(mod(x).numpy(), fn(x).numpy())


def test_pytorch_keyword_spellings(bk):
    """dim= / keepdim= (PyTorch's) wherever axis= / keepdims= (NumPy's) are taken."""
    x = bk.t(np.arange(12.0).reshape(3, 4))
    pairs = [(vg.sum(x, dim=1, keepdim=True), vg.sum(x, axis=1, keepdims=True)),
             (x.mean(dim=0), x.mean(axis=0)), (x.max(dim=-1).values, x.max(axis=-1)),
             (x.var(dim=1, keepdim=True), x.var(axis=1, keepdims=True)), (vg.std(x, dim=0), vg.std(x, axis=0)),
             (vg.softmax(x, dim=0), vg.softmax(x, axis=0)), (vg.log_softmax(x, dim=0), vg.log_softmax(x, axis=0)),
             (vg.cat([x, x], dim=1), vg.cat([x, x], axis=1)), (vg.stack([x, x], dim=2), vg.stack([x, x], axis=2)),
             (x.softmax(dim=0), x.softmax(axis=0))]
    for i, (a, b) in enumerate(pairs):
        assert a.shape == b.shape, i
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=str(i))
    assert x.argmax(dim=1, keepdim=True).numpy().tolist() == [[3], [3], [3]]
    assert x.dim() == 2 and x.numel() == x.size == 12
    with pytest.raises(TypeError, match="sum: give axis= or dim=, not both"):
        x.sum(axis=0, dim=0)
    with pytest.raises(TypeError, match="mean: give keepdims= or keepdim=, not both"):
        vg.mean(x, 0, keepdims=True, keepdim=True)


def test_bce_with_logits_of_extreme_logits_and_errors(bk):
    """Logits of +-700 give a finite loss and gradient (the overflow-free form), the
    module matches the function, shapes must match."""
    x = bk.t(np.array([[-700.0, -2.0, 0.3], [5.0, 700.0, -0.1]]), requires_grad=True)
    y = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.5]])
    loss = nn.BCEWithLogitsLoss()(x, y)
    loss.backward()
    want = np.mean(np.logaddexp(0, x.numpy().astype(np.float64)) - x.numpy().astype(np.float64) * y)
    assert np.isfinite(x.grad.numpy()).all() and abs(loss.item() - want) < 1e-3 * want
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: target has shape \[3\], expected "
                                         r"the logits' shape"):
        vg.binary_cross_entropy_with_logits(x, np.zeros(3))


def test_einsum_cumsum_roll_errors():
    """einsum names the equation's problem; roll's shifts and dims must pair up."""
    a, b = vg.tensor(np.ones((2, 3)), device="cpu"), vg.tensor(np.ones((4, 5)), device="cpu")
    with pytest.raises(ValueError, match="einsum: subscript 'j' has sizes 3 and 4"):
        vg.einsum("ij,jk->ik", a, b)
    with pytest.raises(ValueError, match="einsum: 'ij,jk' names 2 operands, got 1"):
        vg.einsum("ij,jk", a)
    with pytest.raises(ValueError, match=r"einsum: subscript 'i' repeated in 'ii' over axes of sizes 2 and 3"):
        vg.einsum("ii->i", a)
    with pytest.raises(ValueError, match=r"diagonal: dim1 and dim2 must differ, both are 1"):
        vg.diagonal(a, 0, 1, -1)
    with pytest.raises(ValueError, match=r"diag: expected a vector or a matrix, got shape \[1, 2, 3\]"):
        vg.diag(a.reshape((1, 2, 3)))
    with pytest.raises(ValueError, match=r"outer: expected two vectors, got shapes \[2, 3\] and \[4, 5\]"):
        vg.outer(a, b)
    with pytest.raises(ValueError, match="einsum: subscripts 'ijk' for an operand of shape \\[2, 3\\]"):
        vg.einsum("ijk->i", a)
    with pytest.raises(ValueError, match="einsum: output subscripts 'iz' must be distinct letters of the inputs"):
        vg.einsum("ij->iz", a)
    with pytest.raises(ValueError, match="roll: 2 shifts for 1 dims"):
        vg.roll(a, (1, 2), 0)
    with pytest.raises(ValueError, match="cumsum: axis 2 is out of range for a tensor with 2 dimensions"):
        vg.cumsum(a, 2)
    with pytest.raises(ValueError, match="tril: expected at least 2 dimensions, got shape \\[3\\]"):
        vg.tril(vg.tensor(np.ones(3), device="cpu"))


def test_embedding_padding_idx(bk):
    """Embedding(padding_idx): that row starts at zero and gets no gradient (PyTorch's);
    the other rows' gradients as without it."""
    emb = vg.nn.Embedding(6, 4, padding_idx=-2, device=bk.device, dtype=bk.dtype)
    assert emb.padding_idx == 4 and not np.any(emb.weight.numpy()[4]) and "padding_idx=4" in repr(emb)
    idx = np.array([[4, 1, 4], [0, 1, 5]])
    out = emb(idx)
    (out * bk.t(np.arange(24.0).reshape(2, 3, 4) / 10)).sum().backward()
    g = np.zeros((6, 4))
    np.add.at(g, idx.reshape(-1), np.arange(24.0).reshape(6, 4) / 10)
    g[4] = 0.0
    bk.close(emb.weight.grad.numpy(), g, what="embedding gradient")
    with pytest.raises(ValueError, match="Embedding: padding_idx 6 is out of range for 6 rows"):
        vg.nn.Embedding(6, 4, padding_idx=6)


def test_every_elementwise_primitive_on_0d_operands(bk):
    """Each backend's unary and binary primitives take 0-d operands, alone or beside
    a larger one, giving the broadcast shape and the values of one-element arrays (the
    CPU's special functions -- erf, erfc, erfinv, lgamma, gelu's gradient -- raised on
    0-d: NumPy gave them Python floats); vg.erf / gelu / lgamma of a 0-d tensor."""
    from vkgrad.backends.base import BINARY_OPS, UNARY_OPS
    be = vg.get_backend(bk.device)
    for xs, ys in (((), ()), ((), (3,)), ((2, 3), ())):
        x = vg.tensor(np.full(xs, 0.3), device=bk.device, dtype=bk.dtype).handle
        y = vg.tensor(np.full(ys, 0.7), device=bk.device, dtype=bk.dtype).handle
        for op in UNARY_OPS:
            got = be.to_numpy(be.unary(op, x, 1.0, 0.5))
            one = be.to_numpy(be.unary(op, vg.tensor(np.full(xs or (1,), 0.3), device=bk.device, dtype=bk.dtype)
                                       .handle, 1.0, 0.5))
            assert got.shape == xs, op
            np.testing.assert_array_equal(got.reshape(-1), one.reshape(-1), err_msg=op)
        for op in BINARY_OPS:
            assert be.to_numpy(be.binary(op, x, y, 1.0, 0.5)).shape == np.broadcast_shapes(xs, ys), op
    t = bk.t(np.array(0.3), requires_grad=True)
    (vg.erf(t) + vg.gelu(t) + vg.lgamma(t + 1.0) + vg.erfinv(t)).backward()
    bk.close(t.grad.numpy(), 2.5489181464198225, what="0-d gradient")  # (PyTorch's, float64)


def test_unary_math_at_the_edges_and_far_out(bk):
    """log1p / expm1 keep tiny arguments, the special values follow NumPy, and sin /
    cos hold to 2e-7 over the whole float range (own reductions)."""
    tiny = np.array([1e-7, -3e-6, 2e-4, 0.0])
    if bk.dtype == "f32":
        for op in ("log1p", "expm1", "sin", "erf"):
            want = np.vectorize(math.erf)(tiny) if op == "erf" else getattr(np, op)(tiny)
            bk.close(getattr(vg, op)(bk.t(tiny)).numpy(), want, rtol=2e-6, atol=0, what=op)
        # relative accuracy over magnitudes 1e-8 .. 1 (lavapipe's log near 1 is only 2^-21
        # absolute: log1p / expm1 built on it were 5% off at 1e-6)
        r = np.random.default_rng(7)
        small = (r.choice([-1.0, 1.0], 400) * 10.0 ** r.uniform(-8, 0, 400)).astype(np.float32).astype(np.float64)
        for op in ("log1p", "expm1", "sinh", "asinh", "atanh", "atan", "asin", "sin", "tan", "erf", "tanh"):
            want = np.vectorize(math.erf)(small) if op == "erf" else getattr(np, "arc" + op[1:] if op[0] == "a"
                                                                                   else op)(small)
            bk.close(getattr(vg, op)(bk.t(small)).numpy(), want, rtol=2e-6, atol=0, what=f"{op} of small values")
        bk.close(vg.elu(bk.t(-np.abs(small))).numpy(), np.expm1(-np.abs(small)), rtol=2e-6, atol=0, what="elu")
        near1 = 1.0 + small[np.abs(small) < 0.3]  # (x - 1 exact: log1p's series)
        bk.close(vg.log(bk.t(near1)).numpy(), np.log(near1), rtol=2e-6, atol=0, what="log near 1")
        wide = np.array([1e-6, 0.3, -0.9999, 0.99999, -0.5, 1.0, -1.0], np.float32).astype(np.float64)
        bk.close(vg.acos(bk.t(wide)).numpy(), np.arccos(wide), rtol=1e-6, atol=0, what="acos")
        big = np.array([1.0, 1.0000001, 1.5, 10.0, 5000.0, 1e20, 3e38], np.float32).astype(np.float64)
        bk.close(vg.acosh(bk.t(big)).numpy(), np.arccosh(big), rtol=1e-6, atol=0, what="acosh")
        bk.close(vg.asinh(bk.t(-big)).numpy(), np.arcsinh(-big), rtol=1e-6, atol=0, what="asinh of large values")
        # past 8192 the Payne-Hanek reduction: the whole float range (an H200's own sin(9000)
        # was 4e-4 off), the floats nearest to multiples of pi/2 too
        far = np.array([1000.5, -4321.25, 8000.0, 7.5e3, 8192.0, 9000.0, -1e5, 3e6, 16777216.0, -1e10, 1.3e29,
                        1.7e38, -3.4e38, 1e-30], np.float32)
        near = (np.arange(1, 400000, 997) * np.pi / 2).astype(np.float32)
        far = np.concatenate([far, near, -near]).astype(np.float64)
        for op in ("sin", "cos"):
            bk.close(getattr(vg, op)(bk.t(far)).numpy(), getattr(np, op)(far), rtol=0, atol=2e-7, what=f"{op} far")
    inf, nan = np.inf, np.nan
    x = np.array([-1.0, inf, -inf, nan, -2.0])
    with np.errstate(all="ignore"):
        special = {"lgamma": ([0.0, -1.0, -2.5, 1.0, 2.0, np.inf, np.nan], [np.inf, np.inf, math.lgamma(-2.5), 0.0, 0.0,
                                                                                 np.inf, np.nan]),
                   "digamma": ([0.0, -2.0, 1.0, np.inf, np.nan], [-np.inf, np.nan, -0.5772156649015329, np.inf, np.nan]),
                   "erfc": ([-np.inf, np.inf, 0.0, np.nan], [2.0, 0.0, 1.0, np.nan]),
                   "erfinv": ([1.0, -1.0, 1.5, 0.0, np.nan], [np.inf, -np.inf, np.nan, 0.0, np.nan])}
        for op, (xs, ws) in special.items():
            got = getattr(vg, op)(bk.t(np.array(xs))).numpy().astype(np.float64)
            np.testing.assert_array_equal(np.isnan(got), np.isnan(ws), err_msg=f"{bk.name} {op} NaNs: {got}")
            ok = ~np.isnan(np.array(ws))
            np.testing.assert_allclose(got[ok], np.array(ws)[ok], rtol=1e-3, atol=2e-6, err_msg=f"{bk.name} {op}")
        for op in ("log1p", "expm1", "sin", "cos", "erf", "sign", "floor", "ceil", "round", "trunc", "atan", "asin",
                   "acos", "asinh", "acosh", "atanh"):
            want = np.vectorize(math.erf)(x) if op == "erf" else getattr(np, "arc" + op[1:] if op[0] == "a"
                                                                           else op)(x)
            got = getattr(vg, op)(bk.t(x)).numpy()
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{bk.name} {op} NaNs: {got}")
            ok = ~np.isnan(want)
            np.testing.assert_allclose(got[ok], want[ok], rtol=1e-3, err_msg=f"{bk.name} {op}: {got}")


def test_atan2_and_hypot_special_values(bk):
    """atan2's quadrants from the operands' signs (signed zeros, infinities) and
    hypot's inf-over-NaN and no overflow, as C's (NumPy's)."""
    z = -0.0
    y = np.array([0.0, z, 0.0, z, 1.0, -1.0, np.inf, -np.inf, np.inf, 3.0, -2.0, 1e-30, np.nan, 5.0])
    x = np.array([0.0, 0.0, z, z, np.inf, -np.inf, np.inf, np.inf, -np.inf, -4.0, 1e30, -5.0, 1.0, 0.0])
    if bk.dtype == "f16":
        y, x = y[np.r_[:10, 12:14]], x[np.r_[:10, 12:14]]  # (no 1e30 in halves)
    got, want = vg.atan2(bk.t(y), bk.t(x)).numpy(), np.arctan2(y, x)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want), err_msg=f"{bk.name} atan2 signs: {got}")
    bk.close(got, want, rtol=max(bk.rtol, 1e-6), what="atan2")
    a = np.array([3.0, 1e30, 0.0, np.inf, np.nan, -np.inf, 1e-30])
    b = np.array([-4.0, 1e30, 0.0, np.nan, 1.0, 2.0, 1e-30])
    if bk.dtype == "f16":
        a, b = a[[0, 2, 3, 4, 5]], b[[0, 2, 3, 4, 5]]  # (no 1e30 in halves)
    got = vg.hypot(bk.t(a), bk.t(b)).numpy()
    want = np.hypot(a, b)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    bk.close(got[~np.isnan(want)], want[~np.isnan(want)], rtol=max(bk.rtol, 1e-6), what="hypot")


def test_stepwise_ops_give_zero_gradients(bk):
    x = bk.t(np.array([-1.5, 0.25, 2.5, 3.7]), requires_grad=True)
    (vg.floor(x) + vg.ceil(x) + vg.round(x) + vg.trunc(x) + vg.sign(x) + x.frac()).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(4))  # frac's 1, the rest 0
    with pytest.raises(TypeError, match="round: decimals must be an int"):
        vg.round(x, 1.5)
    with pytest.raises(ValueError, match="softshrink: lambd must be at least 0"):
        vg.softshrink(x, -0.1)


def test_gather_scatter_device_indices_out_of_range_and_errors(bk, monkeypatch):
    """Device indices out of range give NaN (gather: that element; scatter_add: its
    row), as embedding's; host ones are checked; pieces of rows (the base class's
    chunks) give the same values and gradients; bad shapes name the op."""
    from vkgrad.backends.base import Backend
    x = np.arange(12.0).reshape(3, 4)
    bad = bk.t(np.array([[0, 4], [1, 2], [-1, 3]], np.int32))
    got = vg.gather(bk.t(x), 1, bad).numpy()
    assert np.isnan(got[0, 1]) and np.isnan(got[2, 0]) and got[1].tolist() == [5.0, 6.0] and got[0, 0] == 0
    sa = vg.scatter_add(bk.t(np.zeros((3, 4))), 1, bad, bk.t(np.ones((3, 2)))).numpy()
    assert np.isnan(sa[0]).all() and np.isnan(sa[2]).all() and sa[1].tolist() == [0, 1, 1, 0]
    monkeypatch.setattr(Backend, "_COLS_CHUNK", 7)  # rows one or two at a time
    r = np.random.default_rng(5)
    xa, idx = r.standard_normal((5, 6)), r.integers(0, 6, (5, 3))
    xt = bk.t(xa, requires_grad=True)
    out = vg.gather(xt, 1, idx)
    (out * bk.t(np.arange(15.0).reshape(5, 3))).sum().backward()
    bk.close(out.numpy(), np.take_along_axis(_round(bk, xa), idx, 1), what="chunked gather")
    want = np.zeros((5, 6))
    np.add.at(want, (np.repeat(np.arange(5), 3).reshape(5, 3), idx), np.arange(15.0).reshape(5, 3))
    bk.close(xt.grad.numpy(), want, what="chunked scatter")
    t = bk.t(x)
    with pytest.raises(IndexError, match=r"gather: index out of range for axis 1 of length 4: values in \[0, 4\]"):
        vg.gather(t, 1, [[0, 4]] * 3)
    with pytest.raises(ValueError, match=r"gather: index must have as many dimensions as the input \(\[3, 4\]\)"):
        vg.gather(t, 1, [0, 1])
    with pytest.raises(ValueError, match=r"gather: index of shape \[4, 1\] is larger than the input \[3, 4\]"):
        vg.gather(t, 1, np.zeros((4, 1), int))
    with pytest.raises(TypeError, match=r"gather: index must be integers, got float64"):
        vg.gather(t, 1, np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"scatter_add: index of shape \[3, 3\] must be no larger than src \[3, 2\]"):
        vg.scatter_add(t, 1, np.zeros((3, 3), int), np.ones((3, 2)))


@pytest.mark.parametrize("n", [1, 2, 5, 64, 1000, 4097])
def test_sort_is_stable_with_nan_and_infinities(bk, n):
    """sort / argsort / topk indices as NumPy's stable argsort (ascending: NaN last;
    descending: NaN first, ties in order, -0 tied with +0), on row lengths around
    powers of 2."""
    r = np.random.default_rng(n)
    x = r.integers(-3, 4, (3, n)).astype(np.float64)  # many ties
    x[:, ::5] = np.where(x[:, ::5] == 0, -0.0, x[:, ::5])  # -0 ties with +0
    x[0, r.integers(0, n, 2)] = np.nan
    x[1, r.integers(0, n, 2)] = np.inf
    x[2, r.integers(0, n, 1)] = -np.inf
    t = bk.t(x)
    v, i = vg.sort(t)
    want = np.argsort(x, -1, kind="stable")
    np.testing.assert_array_equal(i.numpy(), want, err_msg=f"{bk.name} ascending")
    np.testing.assert_array_equal(v.numpy(), np.take_along_axis(x, want, -1).astype(v.numpy().dtype))
    nan = np.isnan(x)
    want_d = np.lexsort((np.where(nan, 0, -x), ~nan), axis=-1)
    np.testing.assert_array_equal(vg.argsort(t, descending=True).numpy(), want_d, err_msg=f"{bk.name} descending")
    k = min(n, 3)
    tv, ti = vg.topk(t, k)
    np.testing.assert_array_equal(ti.numpy(), want_d[:, :k])
    assert tv.shape == ti.shape == (3, k) and ti.dtype == "i32"
    kv, ki = vg.kthvalue(t, k, 1, keepdim=True)
    assert kv.shape == (3, 1)
    np.testing.assert_array_equal(ki.numpy()[:, 0], want[:, k - 1])


def test_max_min_take_pytorch_forms(bk):
    """max / min as PyTorch's: the whole tensor's; (values, indices) along dim, the
    first extreme's index (NaN counts as it), the values' gradient to that index
    only; max(x, other) elementwise.  NumPy's axis= / keepdims= give the values
    alone, their gradient split over ties (amax's)."""
    x = np.array([[1.0, 5.0, 5.0, 2.0], [7.0, np.nan, 0.0, 7.0], [-1.0, -3.0, -3.0, -2.0]])
    t = bk.t(x, requires_grad=True)
    r = t.max(1)
    assert type(r).__name__ == "max" and r._fields == ("values", "indices") and r.indices.dtype == "i32"
    np.testing.assert_array_equal(r.indices.numpy(), [1, 1, 0])
    np.testing.assert_array_equal(r.values.numpy(), np.array([5.0, np.nan, -1.0]).astype(r.values.numpy().dtype))
    v, i = vg.min(t, dim=1, keepdim=True)
    assert v.shape == i.shape == (3, 1)
    np.testing.assert_array_equal(i.numpy()[:, 0], [0, 1, 1])
    (r.values + v[:, 0] * 10.0).backward(bk.t(np.ones(3)))  # (a NaN loss: an explicit gradient)
    want = np.zeros_like(x)
    want[[0, 1, 2], [1, 1, 0]] += 1.0
    want[[0, 1, 2], [0, 1, 1]] += 10.0
    np.testing.assert_array_equal(t.grad.numpy(), want)
    u = bk.t(x[[0, 2]], requires_grad=True)
    (u.max(axis=1).sum() + vg.min(u, axis=1, keepdims=True).sum() * 10.0).backward()
    np.testing.assert_array_equal(u.grad.numpy(), [[10.0, 0.5, 0.5, 0], [1.0, 5.0, 5.0, 0]])
    assert t.max(0).values.shape == (4,) and vg.max(t).shape == () and vg.min(t, 0, True).indices.shape == (1, 4)
    np.testing.assert_array_equal(vg.max(t, bk.t(np.full((3, 4), 4.0))).numpy(),
                                  np.maximum(x, 4.0).astype(t.numpy().dtype))
    s = vg.max(bk.t(np.array(2.5)), 0)
    assert s.values.item() == 2.5 and s.indices.item() == 0 and s.values.shape == ()
    with pytest.raises(TypeError, match=r"max: dim must be an int .* amax\(x, dim=...\) or max\(x, axis=...\)"):
        t.max((0, 1))
    with pytest.raises(TypeError, match=r"min: give axis= / keepdims= \(NumPy's: the values\) or dim / keepdim"):
        t.min(1, axis=0)
    with pytest.raises(TypeError, match=r"max: max\(x, other\) is elementwise and takes no axis or keepdim"):
        vg.max(t, t, True)
    with pytest.raises(ValueError, match=r"max: cannot reduce the empty axis 1 of shape \[2, 0\]"):
        vg.max(bk.t(np.zeros((2, 0))), 1)
    assert vg.max(bk.t(np.zeros((0, 3))), 1).values.shape == (0,)
    # amax / amin / logsumexp keeping an empty axis: empty results (they raised); an empty axis reduced: an error
    e = bk.t(np.zeros((0, 3)))
    assert vg.amax(e, 1).shape == (0,) and vg.amin(e, 1, keepdim=True).shape == (0, 1)
    assert vg.logsumexp(e, 1).shape == (0,)
    with pytest.raises(ValueError, match=r"amax: cannot reduce an empty axis of shape \[0, 3\]"):
        vg.amax(e)


def test_order_statistics_with_nan_and_indices(bk):
    """median / nanmedian give the lower middle and its index (a row with NaN: NaN
    at the first NaN's index); quantile's NaN rows; cummax / cummin's indices are
    the last occurrence (PyTorch's), NaN propagating; logcumsumexp of -inf; counts."""
    nan = np.nan
    x = np.array([[3.0, 1.0, 2.0, 2.0, 5.0, 0.0], [4.0, nan, 1.0, 7.0, nan, 2.0], [nan, 6.0, nan, 1.0, 2.0, 3.0]])
    t = bk.t(x)
    v, i = vg.median(t, 1)
    np.testing.assert_array_equal(v.numpy(), [2.0, nan, nan])
    np.testing.assert_array_equal(i.numpy(), [2, 1, 0])
    v, i = vg.nanmedian(t, dim=1, keepdim=True)
    np.testing.assert_array_equal(v.numpy()[:, 0], [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(i.numpy()[:, 0], [2, 5, 4])
    assert np.isnan(vg.median(t).item()) and vg.nanmedian(t).item() == 2.0
    np.testing.assert_array_equal(vg.nanmedian(bk.t(np.full((2, 3), nan)), 1).values.numpy(), [nan, nan])
    q = vg.quantile(t, 0.5, dim=1).numpy()
    assert q[0] == 2.0 and np.isnan(q[1:]).all()
    np.testing.assert_array_equal(vg.nanquantile(t, 1.0, dim=1).numpy(), [5.0, 7.0, 6.0])
    np.testing.assert_array_equal(vg.nansum(t, 1).numpy(), [13.0, 14.0, 12.0])
    np.testing.assert_array_equal(vg.count_nonzero(t, 1).numpy(), [5, 6, 6])
    assert vg.count_nonzero(t).dtype == "i32" and vg.count_nonzero(t).item() == 17
    y = np.array([[1.0, 3.0, 3.0, 2.0, 3.0, 4.0, nan, 5.0, nan]])
    v, i = vg.cummax(bk.t(y), 1)
    np.testing.assert_array_equal(v.numpy()[0], [1, 3, 3, 3, 3, 4, nan, nan, nan])
    np.testing.assert_array_equal(i.numpy()[0], [0, 1, 2, 2, 4, 5, 6, 6, 8])
    v, i = vg.cummin(bk.t(-y), dim=1)
    np.testing.assert_array_equal(i.numpy()[0], [0, 1, 2, 2, 4, 5, 6, 6, 8])
    w = bk.t(np.array([[-np.inf, -np.inf, 0.0, -np.inf, 0.0]]))
    bk.close(vg.logcumsumexp(w, 1).numpy()[0], [-np.inf, -np.inf, 0.0, 0.0, np.log(2)], what="logcumsumexp")
    g = bk.t(np.array([[1.0, 3.0, 2.0, 3.0]]), requires_grad=True)
    vg.cummax(g, 1).values.sum().backward()  # (to the indices [0, 1, 1, 3])
    np.testing.assert_array_equal(g.grad.numpy(), [[1.0, 2.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match=r"quantile: q must lie in \[0, 1\], got \[0.5, 1.5\]"):
        vg.quantile(t, [0.5, 1.5])
    with pytest.raises(ValueError, match="nanquantile: interpolation must be one of linear, lower, higher, midpoint"):
        vg.nanquantile(t, 0.5, interpolation="cubic")
    with pytest.raises(ValueError, match=r"median: cannot take the median of an empty axis \(shape \[2, 0\]\)"):
        vg.median(bk.t(np.zeros((2, 0))), 1)
    empty = bk.t(np.zeros((0, 3)))  # no rows: empty results, as PyTorch's
    assert vg.median(empty, 1).values.shape == (0,) and vg.quantile(empty, [0.5, 0.2], 1).shape == (2, 0)
    assert vg.sort(empty, 1).indices.shape == (0, 3) and vg.topk(empty, 2, 1).values.shape == (0, 2)
    assert vg.cummax(empty, 0).values.shape == (0, 3) and vg.logcumsumexp(empty, 0).shape == (0, 3)
    v, i = vg.nanmedian(bk.t(np.array(2.5)), 0)
    assert v.item() == 2.5 and i.item() == 0 and v.shape == ()
    with pytest.raises(ValueError, match=r"aminmax: empty tensor of shape \[0, 3\]"):
        vg.aminmax(empty)


def test_value_driven_and_logical_ops(bk):
    """The ops whose results are indices, counts or truth values: against NumPy on
    every backend, with their errors."""
    x = np.array([[0.0, 1.5, -2.0], [np.nan, 0.0, 3.0]])
    t = bk.t(x)
    np.testing.assert_array_equal(vg.nonzero(t).numpy(), np.argwhere(x != 0))
    rows, cols = t.nonzero(as_tuple=True)
    assert rows.dtype == "i32" and rows.numpy().tolist() == [0, 0, 1, 1] and cols.numpy().tolist() == [1, 2, 0, 2]
    seq = bk.t(np.array([1.0, 2.0, 2.0, 5.0, np.nan]))
    v = np.array([[0.0, 2.0, 2.5], [5.0, 9.0, np.nan]])
    np.testing.assert_array_equal(vg.searchsorted(seq, bk.t(v)).numpy(), [[0, 1, 3], [3, 4, 5]])
    np.testing.assert_array_equal(vg.searchsorted(seq, bk.t(v), right=True).numpy(), [[0, 3, 3], [4, 4, 5]])
    assert vg.searchsorted(seq, 2.0, side="right").item() == 3
    rows2 = bk.t(np.array([[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]]))
    np.testing.assert_array_equal(vg.searchsorted(rows2, bk.t(np.array([[3.0], [3.0]]))).numpy(), [[1], [1]])
    np.testing.assert_array_equal(vg.bucketize(bk.t(np.array([0.5, 1.0, 4.0])), bk.t(np.array([1.0, 3.0]))).numpy(),
                                  np.digitize([0.5, 1.0, 4.0], [1.0, 3.0], right=True))
    u = np.array([3.0, 1.0, 3.0, 2.0, 1.0, 1.0])
    vals, inv, cnt = vg.unique(bk.t(u), return_inverse=True, return_counts=True)
    wv, wi, wc = np.unique(u, return_inverse=True, return_counts=True)
    assert vals.numpy().tolist() == wv.tolist() and inv.numpy().tolist() == wi.tolist() and cnt.numpy().tolist() == \
        wc.tolist()
    m = np.array([[1.0, 2.0], [1.0, 2.0], [0.0, 1.0], [1.0, 2.0]])
    assert vg.unique(bk.t(m), dim=0).numpy().tolist() == [[0.0, 1.0], [1.0, 2.0]]
    vals, inv, cnt = vg.unique_consecutive(bk.t(u), return_inverse=True, return_counts=True)
    assert vals.numpy().tolist() == [3, 1, 3, 2, 1] and inv.numpy().tolist() == [0, 1, 2, 3, 4, 4] and \
        cnt.numpy().tolist() == [1, 1, 1, 1, 2]
    assert vg.unique_consecutive(bk.t(m), dim=0).numpy().tolist() == [[1, 2], [0, 1], [1, 2]]
    b = vg.bincount(bk.t(np.array([2, 0, 2, 5], np.int32), dtype="i32"))
    assert b.dtype == "i32" and b.numpy().tolist() == [1, 0, 2, 0, 0, 1]
    h = np.array([0.0, 0.1, 0.5, 0.99, 1.0, 1.5, -0.2, np.nan])
    np.testing.assert_array_equal(vg.histc(bk.t(h), bins=4, min=0, max=1).numpy(),
                                  np.histogram(h[(h >= 0) & (h <= 1)], 4, (0, 1))[0])
    np.testing.assert_array_equal(vg.histc(bk.t(np.array([1.0, 2.0, 2.0, 4.0])), bins=3).numpy(), [1, 2, 1])
    a, c = bk.t(np.array([0.0, 1.0, 2.0, np.nan])), bk.t(np.array([0.0, 0.0, 3.0, 1.0]))
    assert vg.logical_and(a, c).numpy().tolist() == [0, 0, 1, 1] and vg.logical_or(a, c).numpy().tolist() == [0, 1, 1, 1]
    assert vg.logical_xor(a, c).numpy().tolist() == [0, 1, 0, 0] and vg.logical_not(a).numpy().tolist() == [1, 0, 0, 0]
    hv = vg.heaviside(bk.t(np.array([-1.0, 0.0, 2.0, np.nan])), 0.5).numpy()
    assert hv[:3].tolist() == [0.0, 0.5, 1.0] and np.isnan(hv[3])
    assert vg.floor_divide(bk.t(np.array([7.0, -7.0])), 2.0).numpy().tolist() == [3.0, -4.0]
    assert vg.divide(bk.t(np.array([7.0, -7.0])), 2.0, rounding_mode="trunc").numpy().tolist() == [3.0, -3.0]
    p = bk.t(np.array([1.0, np.inf, np.nan, 100.0]))
    q = bk.t(np.array([1.0 + 1e-7, np.inf, np.nan, 100.5]))
    assert vg.isclose(p, q).numpy().tolist()[:2] == [1.0, 1.0] and vg.isclose(p, q).numpy()[2:].tolist() == [0, 0]
    assert vg.isclose(p, q, equal_nan=True, atol=1.0).numpy().tolist() == [1, 1, 1, 1]
    assert not vg.allclose(p, q) and vg.allclose(p, q, atol=1.0, equal_nan=True)
    assert vg.equal(bk.t(np.ones(3)), bk.t(np.ones(3))) and not vg.equal(bk.t(np.ones(3)), bk.t(np.ones(2)))
    assert vg.broadcast_shapes((3, 1), (4,), 1) == (3, 4) and vg.atleast_2d(bk.t(np.ones(3))).shape == (1, 3)
    assert [s.shape for s in vg.hsplit(bk.t(np.ones((2, 6))), 3)] == [(2, 2)] * 3
    with pytest.raises(ValueError, match=r"index_copy: index repeats \[1\]"):
        vg.index_copy(t, 1, [1, 1], bk.t(np.ones((2, 2))))
    with pytest.raises(ValueError, match=r"index_add: source must have shape \[2, 2\]"):
        vg.index_add(t, 1, [1, 0], bk.t(np.ones((2, 3))))
    with pytest.raises(IndexError, match=r"index_fill: index out of range for axis 1 of length 3"):
        vg.index_fill(t, 1, [3], 0.0)
    with pytest.raises(ValueError, match="scatter: index sends two entries to one element"):
        vg.scatter(t, 1, np.array([[0, 0]]), value=1.0)
    with pytest.raises(ValueError, match=r"scatter_reduce: reduce 'max' is not supported \(sum, prod, mean, amax, amin\)"):
        vg.scatter_reduce(t, 1, np.array([[0]]), bk.t(np.ones((1, 1))), "max")
    with pytest.raises(ValueError, match=r"scatter_reduce: index must fit in src"):
        vg.scatter_reduce(t, 1, np.array([[0, 1]]), bk.t(np.ones((1, 1))), "prod")
    with pytest.raises(IndexError, match=r"scatter_reduce: index values must lie in \[-3, 3\)"):
        vg.scatter_reduce(t, 1, np.array([[3]]), bk.t(np.ones((1, 1))), "amax")
    # ties share the gradient evenly (PyTorch's, with include_self)
    tx = bk.t(np.array([[1.0, 5.0, 2.0], [0.0, 0.0, 0.0]]), requires_grad=True)
    ts = bk.t(np.array([[3.0, 5.0, 1.0], [7.0, 5.0, 2.0]]), requires_grad=True)
    r = vg.scatter_reduce(tx, 0, np.zeros((2, 3), np.int64), ts, "amax")
    (r * bk.t(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))).sum().backward()
    bk.close(r.numpy(), [[7.0, 5.0, 2.0], [0.0, 0.0, 0.0]])
    bk.close(tx.grad.numpy(), [[0.0, 2 / 3, 1.5], [4.0, 5.0, 6.0]], rtol=max(bk.rtol, 1e-3))
    bk.close(ts.grad.numpy(), [[0.0, 2 / 3, 0.0], [1.0, 2 / 3, 1.5]], rtol=max(bk.rtol, 1e-3))
    with pytest.raises(ValueError, match="vsplit: axis 0 of length 2 does not split into 3 equal pieces"):
        vg.vsplit(t, 3)
    with pytest.raises(ValueError, match=r"cross: axis -1 must have length 3 in both, got shapes \[2, 3\] and \[2\]"):
        vg.cross(t, bk.t(np.ones(2)))
    with pytest.raises(ValueError, match=r"tensordot: contracted axes \[1\] of \[2, 3\] and \[0\] of \[2, 3\]"):
        vg.tensordot(t, t, 1)
    with pytest.raises(TypeError, match="masked_select: mask must be boolean"):
        vg.masked_select(t, np.ones((2, 3)))


def test_alpha_dropout_and_rrelu_in_training(bk):
    """alpha_dropout keeps a standard normal input's mean 0 and variance 1 (SELU's
    fixed point), a dropped element takes one value; rrelu's slopes lie in [lower,
    upper] and the gradient is that slope; eval modes are the identity / mean slope."""
    vg.manual_seed(3)
    x = vg.randn(400, 500, device=bk.device, dtype=bk.dtype)
    y = vg.alpha_dropout(x, 0.2, training=True).numpy().astype(np.float64)
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1.0) < 0.02, (y.mean(), y.std())
    a = (0.8 * (1 + 0.2 * 1.7580993408473766 ** 2)) ** -0.5
    low = a * -1.7580993408473766 * 0.8  # (a * alpha' + b, b = -a alpha' p)
    assert abs(np.isclose(y, low, atol=2e-3).mean() - 0.2) < 0.01
    assert vg.alpha_dropout(x, 0.2) is x and nn.AlphaDropout(0.5).eval()(x) is x
    f = vg.feature_alpha_dropout(vg.randn(300, 20, 4, device=bk.device, dtype=bk.dtype), 0.3, True).numpy()
    same = np.isclose(f, f[:, :, :1], atol=1e-6).all(-1)  # a dropped channel is one value
    assert 0.2 < same.mean() < 0.4
    t = bk.t(-np.ones((50, 40)), requires_grad=True)
    r = nn.RReLU(0.1, 0.3)
    z = r(t)
    z.sum().backward()
    zv = z.numpy()
    assert zv.min() >= -0.3 - 1e-3 and zv.max() <= -0.1 + 1e-3 and zv.std() > 0.03
    bk.close(t.grad.numpy(), -zv, what="rrelu gradient is the slope")
    r.eval()
    bk.close(r(t).numpy(), np.full((50, 40), -0.2), what="rrelu eval")


def test_linalg_results_and_errors(bk):
    """Decompositions reconstruct their input, the rank and the norms agree with
    NumPy, singular and ill-shaped inputs give errors naming the op."""
    r = np.random.default_rng(8)
    a = r.standard_normal((2, 4, 3))
    U, S, Vh = vg.linalg.svd(bk.t(a))
    assert U.shape == (2, 4, 4) and S.shape == (2, 3) and Vh.shape == (2, 3, 3)
    bk.close((U[..., :3] * S.unsqueeze(-2)) @ Vh, a, atol=max(bk.atol, 5e-3), what="svd reconstructs")
    Q, R = vg.linalg.qr(bk.t(a), mode="complete")
    assert Q.shape == (2, 4, 4) and R.shape == (2, 4, 3)
    bk.close(Q @ R, a, atol=max(bk.atol, 5e-3), what="qr reconstructs")
    w, V = vg.linalg.eigh(bk.t(a @ a.swapaxes(-1, -2)))
    bk.close(V @ (w.unsqueeze(-1) * V.mT), a @ a.swapaxes(-1, -2), atol=max(bk.atol, 2e-2), what="eigh")
    assert vg.linalg.matrix_rank(bk.t(np.outer([1.0, 2.0, 3.0], [1.0, -1.0]))).item() == 1
    assert vg.linalg.matrix_power(bk.t(a[0, :3]), 0).numpy().tolist() == np.eye(3).tolist()
    sign, logabs = vg.slogdet(bk.t(np.diag([2.0, -3.0])))
    assert sign.item() == -1.0 and abs(logabs.item() - np.log(6)) < 1e-3 and np.isnan(vg.logdet(
        bk.t(np.diag([2.0, -3.0]))).item())
    assert vg.linalg.vector_norm(bk.t(np.array([0.0, 2.0, -1.0])), 0).item() == 2
    with pytest.raises(vg.linalg.LinAlgError, match=r"inv: Singular matrix \(input shapes \[\[2, 2\]\]\)") as e:
        vg.linalg.inv(bk.t(np.ones((2, 2))))
    assert isinstance(e.value, RuntimeError) and isinstance(e.value, ValueError)  # (PyTorch's class, and vkgrad's)
    with pytest.raises(ValueError, match=r"cholesky: expected square matrices \[..., n, n\], got \[2, 3\]"):
        vg.linalg.cholesky(bk.t(np.ones((2, 3))))
    with pytest.raises(ValueError, match=r"solve: A \[3, 3\] and B \[2\] do not fit"):
        vg.linalg.solve(bk.t(np.eye(3)), bk.t(np.ones(2)))
    with pytest.raises(ValueError, match="matrix_norm: ord must be 'fro', 'nuc', inf"):
        vg.linalg.matrix_norm(bk.t(np.eye(3)), 3)
    x = bk.t(np.ones((3, 2)), requires_grad=True)
    with pytest.raises(ValueError, match=r"qr \(backward\): the gradient is implemented for mode='reduced' with m >= n"):
        vg.linalg.qr(x.mT)[1].sum().backward()


def test_linalg_lu_ex_and_lstsq_results_and_errors(bk):
    """The _ex forms report singular / indefinite inputs in info (NaN results) or
    raise with check_errors; lu without pivoting reconstructs; lstsq's drivers
    give PyTorch's tuple; ill-fitting shapes name the op."""
    sing = np.stack([np.eye(3), np.ones((3, 3))])
    inv_, info = vg.linalg.inv_ex(bk.t(sing))
    assert info.numpy().tolist() == [0, 2] and np.isnan(inv_.numpy()[1]).all()
    bk.close(inv_.numpy()[0], np.eye(3))
    with pytest.raises(ValueError, match=r"inv_ex: singular matrix \(info \[0, 2\]\)"):
        vg.linalg.inv_ex(bk.t(sing), check_errors=True)
    L, info = vg.linalg.cholesky_ex(bk.t(np.stack([np.eye(2) * 4, np.diag([1.0, -1.0])])))
    assert info.numpy().tolist() == [0, 2] and np.isnan(L.numpy()[1]).all() and L.numpy()[0].tolist() == \
        [[2.0, 0.0], [0.0, 2.0]]
    with pytest.raises(ValueError, match="lu_factor: the matrix is singular"):
        vg.linalg.lu_factor(bk.t(np.ones((2, 2))))
    assert vg.linalg.lu_factor_ex(bk.t(np.ones((2, 2)))).info.item() == 2
    # one matrix: a 0-d info, as PyTorch's (it was [1])
    assert vg.linalg.inv_ex(bk.t(np.eye(2))).info.shape == () == vg.linalg.cholesky_ex(bk.t(np.eye(2))).info.shape
    x, info = vg.linalg.solve_ex(bk.t(sing), bk.t(np.ones((2, 3, 1))))
    assert info.numpy().tolist() == [0, 2] and np.isnan(x.numpy()[1]).all()
    a = np.array([[2.0, 1.0, 0.5], [1.0, 3.0, 1.0], [0.5, 1.0, 4.0]])
    P, Lm, Um = vg.linalg.lu(bk.t(a), pivot=False)
    assert P.numpy().tolist() == np.eye(3).tolist()
    bk.close((Lm @ Um).numpy(), a, atol=max(bk.atol, 1e-3))
    A, B = np.arange(12.0).reshape(4, 3) ** 0.5, np.array([[1.0, 0.0], [0.0, 3.0], [-2.0, 1.0], [2.0, -1.0]])
    sol, res, rank, sv = vg.linalg.lstsq(bk.t(A), bk.t(B), driver="gelsd")
    want, wres, wrank, wsv = np.linalg.lstsq(bk.t(A).numpy().astype(np.float64), B, rcond=None)
    bk.close(sol.numpy(), want, atol=max(bk.atol, 2e-2))
    assert rank.item() == wrank and res.shape == (2,) and sv.shape == (3,)
    bk.close(res.numpy(), wres, atol=max(bk.atol, 5e-2))
    sol, res, rank, sv = vg.linalg.lstsq(bk.t(A), bk.t(B))  # (gelsy: PyTorch's CPU default, no residuals)
    assert res.shape == (0,) and sv.shape == (0,) and rank.dtype == "i32"
    with pytest.raises(ValueError, match="lstsq: driver must be 'gels', 'gelsy', 'gelsd' or 'gelss', got 'x'"):
        vg.linalg.lstsq(bk.t(A), bk.t(B), driver="x")
    with pytest.raises(ValueError, match=r"lstsq: A \[4, 3\] and B \[3, 2\] do not fit"):
        vg.linalg.lstsq(bk.t(A), bk.t(B[:3]))
    with pytest.raises(ValueError, match=r"solve_triangular: A \[3, 3\] and B \[2, 2\] do not fit"):
        vg.linalg.solve_triangular(bk.t(a), bk.t(np.eye(2)), upper=True)
    with pytest.raises(ValueError, match=r"lu_solve: LU \[3, 3\] and B \[2, 1\] do not fit"):
        vg.linalg.lu_solve(*vg.linalg.lu_factor(bk.t(a)), bk.t(np.ones((2, 1))))
    with pytest.raises(ValueError, match=r"tensorinv: the product of the first ind=1 axes of \[4, 2\]"):
        vg.linalg.tensorinv(bk.t(np.ones((4, 2))), ind=1)
    with pytest.raises(ValueError, match=r"vander: expected a vector, got shape \[2, 2\]"):
        vg.vander(bk.t(np.ones((2, 2))))
    U, S, V = vg.svd(bk.t(A), compute_uv=False)
    assert U.shape == (4, 4) and V.shape == (3, 3) and not U.numpy().any()


def _against_torch(torch, r, fn, tfn, arrays, rtol, atol, grad_rtol, grad_atol):
    """fn's value and the gradients of a random projection of it equal PyTorch's
    tfn's, in f64 (an input without a gradient counts as zeros)."""
    ours = [vg.tensor(a, dtype="f64", device="cpu", requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    o, t = fn(*ours), tfn(*theirs)
    w = r.standard_normal(tuple(t.shape))
    (o * vg.tensor(w, dtype="f64", device="cpu")).sum().backward()
    (t * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(o.numpy(), t.detach().numpy(), rtol=rtol, atol=atol, err_msg=str(tfn))
    for a, b in zip(ours, theirs):
        got = np.zeros(a.shape) if a.grad is None else a.grad.numpy()
        want = np.zeros(a.shape) if b.grad is None else b.grad.numpy()
        np.testing.assert_allclose(got, want, rtol=grad_rtol, atol=grad_atol, err_msg=str(tfn))


def test_linalg_factorizations_match_torch_if_available():
    """lu_factor / lu / lu_solve / solve_triangular / matrix_exp / cholesky_solve
    values and gradients against PyTorch's in f64 (cholesky_solve's gradient on
    the factor's triangle: the other is not read, where PyTorch also fills it)."""
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(21)

    def both(fn, tfn, *arrays):
        _against_torch(torch, r, fn, tfn, arrays, 0.0, 1e-10, 0.0, 1e-8)
    for shape in ((4, 4), (2, 3, 5), (5, 3)):
        A = r.standard_normal(shape)
        both(lambda a: vg.linalg.lu_factor(a).LU, lambda a: torch.linalg.lu_factor(a).LU, A)
        both(lambda a: vg.linalg.lu(a).L.sum(-2) + vg.linalg.lu(a).U.sum(-1),
             lambda a: torch.linalg.lu(a).L.sum(-2) + torch.linalg.lu(a).U.sum(-1), A)
    A, B = r.standard_normal((2, 4, 4)), r.standard_normal((2, 4, 3))
    for left, adjoint in ((True, False), (True, True), (False, True)):
        b = B if left else B.swapaxes(-1, -2)
        both(lambda a, x: vg.linalg.lu_solve(*vg.linalg.lu_factor(a), x, left=left, adjoint=adjoint),
             lambda a, x: torch.linalg.lu_solve(*torch.linalg.lu_factor(a), x, left=left, adjoint=adjoint), A, b)
    for upper, unit in ((True, False), (False, True)):
        both(lambda a, x: vg.linalg.solve_triangular(a, x, upper=upper, unitriangular=unit),
             lambda a, x: torch.linalg.solve_triangular(a, x, upper=upper, unitriangular=unit), A + 3 * np.eye(4), B)
    both(vg.linalg.matrix_exp, torch.linalg.matrix_exp, A * 1.5)
    C = np.linalg.cholesky(A @ A.swapaxes(-1, -2) + np.eye(4))
    both(lambda l, x: vg.cholesky_solve(x, l), lambda l, x: torch.cholesky_solve(x, l.tril()), C, B)


def test_more_pytorch_functions_on_every_backend(bk):
    """signbit / isposinf / frexp / gcd / lcm / mode / histogram / unravel_index /
    windows / sampling / dtype queries: values against NumPy, the errors named."""
    x = bk.t(np.array([1.5, -2.0, 0.0, -0.0, np.inf, -np.inf]))
    assert vg.signbit(x).numpy().tolist() == [0, 1, 0, 1, 0, 1]
    assert vg.isposinf(x).numpy().tolist() == [0, 0, 0, 0, 1, 0] and x.isneginf().numpy().tolist() == [0, 0, 0, 0, 0, 1]
    assert vg.isreal(x).numpy().tolist() == [1] * 6 and vg.sgn(x).numpy()[:3].tolist() == [1, -1, 0]
    m, e = vg.frexp(bk.t(np.array([8.0, -0.75, 0.0, 3.0])))
    assert m.numpy().tolist() == [0.5, -0.75, 0.0, 0.75] and e.numpy().tolist() == [4, 0, 0, 2] and e.dtype == "i32"
    assert vg.frexp(bk.t(np.array([8.0]))).exponent.numpy().tolist() == [4]  # (PyTorch's field names)
    a, b = (vg.tensor(v, dtype="i32", device=bk.device) for v in ([12, 18, -7, 0], [8, 27, 21, 5]))
    assert vg.gcd(a, b).numpy().tolist() == [4, 9, 7, 5] and a.lcm(b).numpy().tolist() == [24, 54, 21, 0]
    assert vg.gcd(a, 6).numpy().tolist() == [6, 6, 1, 6]
    with pytest.raises(TypeError, match="gcd: expected int32 tensors, got"):
        vg.gcd(x, a)
    v = bk.t(np.array([[1.0, 2, 2, 3, 3], [4, 4, 1, 1, 0]]))
    mv, mi = vg.mode(v, 1)
    assert mv.numpy().tolist() == [2, 1] and mi.numpy().tolist() == [2, 3]  # (the smallest of the ties, last index)
    vr = bk.t(np.array([[1.0, 2, 2, 3, 3], [4, 4, 1, 1, 0]]), requires_grad=True)
    vg.mode(vr, 1).values.sum().backward()
    assert vr.grad.numpy().tolist() == [[0, 0, 1, 0, 0], [0, 0, 0, 1, 0]]
    h, edges = vg.histogram(bk.t(np.array([0.0, 0.5, 1.0, 2.5, 3.0])), 3)
    assert h.numpy().tolist() == [2, 1, 2] and np.allclose(edges.numpy(), [0, 1, 2, 3])
    assert vg.histogram(bk.t(np.array([0.0, 3.0])), 3).hist.numpy().tolist() == [1, 0, 1]
    r, c = vg.unravel_index(vg.tensor([5, 7, -1], dtype="i32", device=bk.device), (2, 4))
    assert r.numpy().tolist() == [1, 1, 1] and c.numpy().tolist() == [1, 3, 3]
    with pytest.raises(IndexError, match=r"unravel_index: indices out of range for shape \[2, 4\]"):
        vg.unravel_index(vg.tensor([8], dtype="i32", device=bk.device), (2, 4))
    for name, ref in (("hann", np.hanning), ("blackman", np.blackman), ("bartlett", np.bartlett)):
        w = getattr(vg, name + "_window")(8, periodic=False, device=bk.device, dtype=bk.dtype)
        bk.close(w.numpy(), ref(8))
        bk.close(getattr(vg, name + "_window")(8, device=bk.device, dtype=bk.dtype).numpy(), ref(9)[:-1])
    bk.close(vg.kaiser_window(6, False, beta=5.0, device=bk.device, dtype=bk.dtype).numpy(), np.kaiser(6, 5.0))
    bk.close(vg.hamming_window(5, False, device=bk.device, dtype=bk.dtype).numpy(), np.hamming(5))
    assert vg.hann_window(1, device=bk.device).numpy().tolist() == [1.0]
    vg.manual_seed(5)
    p = bk.t(np.array([[0.0, 1.0, 3.0], [5.0, 0.0, 0.0]]))
    draws = vg.multinomial(p, 400, replacement=True)
    assert draws.shape == (2, 400) and draws.dtype == "i32" and set(draws.numpy()[1].tolist()) == {0}
    assert 0.65 < (draws.numpy()[0] == 2).mean() < 0.85
    two = vg.multinomial(p[0], 2).numpy()
    assert sorted(two.tolist()) == [1, 2]
    with pytest.raises(ValueError, match="multinomial: 3 samples without replacement from rows with fewer"):
        vg.multinomial(p, 3)
    coin = vg.bernoulli(bk.t(np.full(2000, 0.3)))
    assert 0.25 < coin.numpy().mean() < 0.35 and coin.device.startswith(bk.device)
    assert abs(vg.poisson(bk.t(np.full(2000, 4.0))).numpy().mean() - 4.0) < 0.3
    assert abs(vg.binomial(bk.t(np.full(2000, 10.0)), 0.3).numpy().mean() - 3.0) < 0.3
    assert vg.promote_types("f16", vg.float32) == "f32" and vg.result_type(vg.arange(3, device=bk.device), 2.0) == "f32"
    assert vg.result_type(bk.t(np.ones(2)), 2) == bk.dtype and vg.can_cast("i32", "f16") and not vg.can_cast("f32", "i32")
    assert vg.finfo(vg.float16).eps == np.finfo(np.float16).eps and vg.iinfo(vg.int32).max == 2 ** 31 - 1
    assert vg.numel(p) == 6 and vg.is_floating_point(p) and not p.is_complex() and vg.is_same_size(p, p * 2.0)
    assert vg.is_nonzero(bk.t(np.array([2.0]))) and not bk.t(np.array(0.0)).is_nonzero()
    with pytest.raises(RuntimeError, match="is_nonzero: a tensor of 6 elements is ambiguous"):
        vg.is_nonzero(p)
    assert vg.combinations(bk.t(np.ones(1)), 2).shape == (0, 2)
    with pytest.raises(ValueError, match=r"gradient: axis 0 has 2 points, edge_order=2 needs at least 3"):
        vg.gradient(bk.t(np.ones(2)), edge_order=2)
    with pytest.raises(ValueError, match=r"slice_scatter: src has shape \[3, 1\], the slice \[3, 2\]"):
        vg.slice_scatter(bk.t(np.ones((3, 4))), bk.t(np.ones((3, 1))), 1, 0, None, 2)
    with pytest.raises(ValueError, match="polygamma: n must be an int >= 0"):
        vg.polygamma(-1, p)
    y = bk.t(np.ones((2, 3)))
    y.gt_(0.5)
    y.copysign_(-1.0)
    assert y.numpy().tolist() == [[-1.0] * 3] * 2


def test_more_pytorch_functions_match_torch_if_available():
    """The extras' values and gradients against PyTorch's in f64."""
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(22)
    x, y = r.standard_normal((3, 4)), r.standard_normal((3, 4))
    coords = np.array([0.0, 0.3, 1.0, 1.2])
    cases = [(vg.copysign, torch.copysign, (x, y)), (vg.fmax, torch.fmax, (x, y)),
             (vg.logaddexp2, torch.logaddexp2, (x, y)), (vg.i0, torch.i0, (x * 3,)),
             (lambda a: vg.polygamma(2, a), lambda a: torch.polygamma(2, a), (np.abs(x) + 0.3,)),
             (lambda a: vg.mvlgamma(a, 3), lambda a: torch.mvlgamma(a, 3), (np.abs(x) + 2,)),
             (lambda a, b: vg.dist(a, b, 3), lambda a, b: torch.dist(a, b, 3), (x, y)),
             (vg.inner, torch.inner, (x, r.standard_normal((2, 4)))),
             (lambda a: vg.renorm(a, 1, 1, 1.5), lambda a: torch.renorm(a, 1, 1, 1.5), (x,)),
             (lambda a: vg.diag_embed(a, -2), lambda a: torch.diag_embed(a, -2), (x,)),
             (lambda a, b: vg.diagonal_scatter(a, b, -1, 1, 2), lambda a, b: torch.diagonal_scatter(a, b, -1, 1, 2),
              (r.standard_normal((2, 4, 3)), r.standard_normal((2, 3)))),
             (lambda a, b: vg.slice_scatter(a, b, 1, 0, 4, 2), lambda a, b: torch.slice_scatter(a, b, 1, 0, 4, 2),
              (x, r.standard_normal((3, 2)))),
             (lambda a: vg.gradient(a, spacing=[coords], edge_order=2, dim=1)[0],
              lambda a: torch.gradient(a, spacing=[torch.tensor(coords)], edge_order=2, dim=1)[0], (x,)),
             (lambda a: vg.combinations(a, 3), lambda a: torch.combinations(a, 3), (r.standard_normal(5),)),
             (lambda a: vg.mode(a, 1).values, lambda a: torch.mode(a, 1).values,
              (np.array([[1.0, 2, 2, 3, 3], [4, 4, 1, 1, 0]]),)),
             (lambda a, b: vg.rsub(a, b, 2), lambda a, b: torch.rsub(a, b, alpha=2), (x, y))]
    for fn, tfn, arrays in cases:
        _against_torch(torch, r, fn, tfn, arrays, 1e-6, 1e-9, 1e-5, 1e-8)
    ids = vg.mode(vg.tensor(np.array([[1.0, 2, 2, 3, 3], [4, 4, 1, 1, 0]]), device="cpu"), 1).indices
    assert ids.numpy().tolist() == torch.mode(torch.tensor([[1.0, 2, 2, 3, 3], [4, 4, 1, 1, 0]]), 1).indices.tolist()
    for name in ("hann", "hamming", "blackman", "bartlett", "kaiser"):
        for periodic in (True, False):
            np.testing.assert_allclose(getattr(vg, name + "_window")(7, periodic, dtype="f64", device="cpu").numpy(),
                                       getattr(torch, name + "_window")(7, periodic, dtype=torch.float64).numpy(),
                                       atol=1e-12)
    h, e = vg.histogram(vg.tensor(x, dtype="f64", device="cpu"), 5)
    th, te = torch.histogram(torch.tensor(x), 5)
    np.testing.assert_allclose(h.numpy(), th.numpy())
    np.testing.assert_allclose(e.numpy(), te.numpy())


def test_special_functions_identities_and_host_ones(bk):
    """Bessel functions through their Wronskians (J1 Y0 - J0 Y1 = 2 / (pi x), I0 K1 +
    I1 K0 = 1 / x) on every backend; gammainc / gammaincc / zeta against closed forms
    (float64 on the host: P(1, x) = 1 - e^-x, P(1/2, x) = erf(sqrt x), zeta(2) =
    pi^2 / 6), gammainc's gradient in x; the domains' edges."""
    S = vg.special
    x = np.array([0.3, 1.0, 2.5, 7.9, 8.1, 15.0])
    t = bk.t(x)
    w1 = S.bessel_j1(t) * S.bessel_y0(t) - S.bessel_j0(t) * S.bessel_y1(t)
    bk.close(w1.numpy(), 2 / (np.pi * x), rtol=max(bk.rtol, 1e-5), atol=max(bk.atol, 1e-6))
    t = bk.t(x[:5])  # (I0(15) = 3.4e5 exceeds f16)
    w2 = S.modified_bessel_i0(t) * S.modified_bessel_k1(t) + S.modified_bessel_i1(t) * S.modified_bessel_k0(t)
    bk.close(w2.numpy(), 1 / x[:5], rtol=max(bk.rtol, 1e-5))
    edge = bk.t(np.array([0.0, -1.0]))
    assert S.bessel_y0(edge).numpy()[0] == -np.inf and np.isnan(S.bessel_y1(edge).numpy()[1])
    assert S.modified_bessel_k0(edge).numpy()[0] == np.inf
    bk.close(S.spherical_bessel_j0(t).numpy(), np.sin(x[:5]) / x[:5])
    big = S.erfcx(bk.t(np.array([30.0, 100.0]))).numpy()  # (erfc underflows there: erfcx ~ 1 / (x sqrt pi))
    bk.close(big, 1 / (np.array([30.0, 100.0]) * np.sqrt(np.pi)) * (1 - 0.5 / np.array([900.0, 1e4])),
             rtol=max(bk.rtol, 1e-4))
    # log_ndtr in the tails: finite (it was log(0) = -inf below -13), with finite gradients
    xt = np.array([-30.0, -20.0, -13.0, -5.0, -1.0, 0.0, 2.0])
    want = np.array([math.log(0.5 * math.erfc(-v / math.sqrt(2))) for v in xt])
    lt = bk.t(xt, requires_grad=True)
    got = S.log_ndtr(lt)
    bk.close(got.numpy(), want, rtol=max(bk.rtol, 1e-5))
    got.sum().backward()
    dens = np.exp(-xt ** 2 / 2 - want) / math.sqrt(2 * math.pi)  # (d/dx log ndtr = pdf / ndtr)
    bk.close(lt.grad.numpy(), dens, rtol=max(bk.rtol, 1e-4))
    if bk.dtype != "f16":
        bk.close(S.log_ndtr(bk.t(np.array([8.0]))).numpy(), [math.log1p(-0.5 * math.erfc(8 / math.sqrt(2)))],
                 rtol=1e-4, atol=0.0)
    xs = np.array([0.1, 0.9, 2.0, 7.5])
    a1 = S.gammainc(bk.t(np.ones(4)), bk.t(xs))
    bk.close(a1.numpy(), 1 - np.exp(-xs))
    bk.close(S.gammainc(0.5, bk.t(xs)).numpy(), np.vectorize(math.erf)(np.sqrt(xs)))
    bk.close(S.gammaincc(bk.t(np.array([3.0])), bk.t(np.array([2.0]))).numpy(), [np.exp(-2) * (1 + 2 + 2)])
    xg = bk.t(xs, requires_grad=True)
    S.gammainc(bk.t(np.full(4, 2.5)), xg).sum().backward()
    bk.close(xg.grad.numpy(), xs ** 1.5 * np.exp(-xs) / math.gamma(2.5), rtol=max(bk.rtol, 1e-3))
    bk.close(S.zeta(bk.t(np.array([2.0, 4.0, 3.0])), bk.t(np.array([1.0, 1.0, 2.0]))).numpy(),
             [np.pi ** 2 / 6, np.pi ** 4 / 90, 1.2020569031595942 - 1.0], rtol=max(bk.rtol, 1e-6))
    assert np.isnan(S.zeta(bk.t(np.array([0.5])), 1.0).numpy()[0])
    with pytest.raises(ValueError, match="legendre_polynomial_p: n must hold non-negative integers"):
        S.legendre_polynomial_p(t, -1)
    with pytest.raises(TypeError, match="gammainc: expected at least one vkgrad Tensor"):
        S.gammainc(1.0, 2.0)


def test_special_functions_match_torch_if_available():
    torch = pytest.importorskip("torch")
    S, TS = vg.special, torch.special
    x = np.concatenate([np.linspace(-20, 20, 41), [1e-3, 7.99, 8.01]])
    xp = np.abs(x) + 1e-3
    for name, arr, tol in (("bessel_j0", x, 3e-7), ("bessel_j1", x, 3e-7), ("bessel_y0", xp, 1e-6),
                           ("bessel_y1", xp, 2e-6), ("modified_bessel_k0", xp, 1e-7), ("scaled_modified_bessel_k1", xp,
                                                                                     1e-7), ("erfcx", x, 1e-7)):
        got = getattr(S, name)(vg.tensor(arr, dtype="f64", device="cpu")).numpy()
        want = getattr(TS, name)(torch.tensor(arr)).numpy()
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=name)
    xx = np.linspace(-1.5, 1.5, 13)
    for name in ("chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
                 "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t", "hermite_polynomial_h",
                 "hermite_polynomial_he", "laguerre_polynomial_l", "legendre_polynomial_p"):
        n = np.arange(13.0)
        np.testing.assert_allclose(getattr(S, name)(vg.tensor(xx, dtype="f64", device="cpu"),
                                                    vg.tensor(n, dtype="f64", device="cpu")).numpy(),
                                   getattr(TS, name)(torch.tensor(xx), torch.tensor(n)).numpy(), rtol=1e-12,
                                   atol=1e-12, err_msg=name)
    A, X = np.array([0.5, 1.0, 2.5, 10.0, 0.1]), np.array([0.3, 2.0, 2.5, 12.0, 5.0])
    for name in ("gammainc", "gammaincc"):
        np.testing.assert_allclose(getattr(S, name)(vg.tensor(A, dtype="f64", device="cpu"),
                                                    vg.tensor(X, dtype="f64", device="cpu")).numpy(),
                                   getattr(TS, name)(torch.tensor(A), torch.tensor(X)).numpy(), atol=1e-13)
    np.testing.assert_allclose(S.zeta(vg.tensor([2.0, 3.5, 1.5], dtype="f64", device="cpu"),
                                      vg.tensor([1.0, 0.5, 2.0], dtype="f64", device="cpu")).numpy(),
                               TS.zeta(torch.tensor([2.0, 3.5, 1.5], dtype=torch.float64),
                                       torch.tensor([1.0, 0.5, 2.0], dtype=torch.float64)).numpy(), rtol=1e-13)


def test_pytorch_operators_and_spellings(bk):
    """== and != are elementwise (hashing stays by identity), & | ^ ~ combine masks,
    // rounds down, int() / format() / .type() / .bool() / .to(dtype) / dtype names /
    unbiased= behave as PyTorch's; where(cond) gives nonzero's tuple."""
    x = bk.t(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal((x == 2.0).numpy(), np.arange(6).reshape(2, 3) == 2)
    np.testing.assert_array_equal((x != 2.0).numpy(), np.arange(6).reshape(2, 3) != 2)
    labels = bk.t(np.array([2, 1], np.int32), dtype="i32")
    assert (x.argmax(1) == labels).sum().item() == 1.0  # PyTorch's accuracy idiom
    assert len({x, x.detach()}) == 2 and x in {x: 1}  # (dict keys by identity)
    assert 4.0 in x and 7.0 not in x  # (any element equal, as PyTorch's)
    assert (x == None) is False and (x != None) is True  # noqa: E711  (Python's answer for other types)
    a, b = x > 1.0, x < 4.0
    assert (a & b).numpy().tolist() == [[0, 0, 1], [1, 0, 0]] and (a | b).numpy().min() == 1
    assert (~a).numpy().tolist() == [[1, 1, 0], [0, 0, 0]] and (a ^ b).numpy().tolist() == [[1, 1, 0], [0, 1, 1]]
    assert (x // 4.0).numpy().tolist() == [[0, 0, 0], [0, 1, 1]] and (-x // 4.0).numpy().tolist()[1] == [-1, -1, -2]
    assert int(x[1, 2]) == 5 and f"{x[0, 1]:.2f}" == "1.00" and f"{x}" == repr(x)
    assert x.type() == bk.dtype and x.type("f32").dtype == "f32" and x.to(vg.float32).dtype == "f32"
    assert vg.zeros(2, dtype=vg.long, device=bk.device).dtype == "i32" and not x.is_cuda
    assert x.bool().numpy().tolist() == [[0, 1, 1], [1, 1, 1]]
    rows, cols = vg.where(x > 3.0)
    assert rows.numpy().tolist() == [1, 1] and cols.numpy().tolist() == [1, 2]
    bk.close(x.std(unbiased=False).numpy(), np.arange(6.0).std(), what="unbiased=False")
    bk.close(vg.var(x, 1, ddof=0).numpy(), np.arange(6.0).reshape(2, 3).var(1), what="ddof")
    with pytest.raises(TypeError, match="var: give correction= or unbiased=, not both"):
        x.var(unbiased=True, correction=0)
    # correction past the count: no fewer than 0 degrees of freedom, PyTorch's NaN / inf (it gave 0, or a negative)
    assert np.isnan(vg.std(x[:, :1], 1, correction=2).numpy()).all()
    assert np.isinf(vg.var(x[1:], 1, correction=4).numpy()).all()
    assert vg.isin(x, [1.0, 4.0, 9.0]).numpy().tolist() == [[0, 1, 0], [0, 1, 0]]
    assert vg.isin(x, [1.0], invert=True).numpy().sum() == 5
    p = vg.randperm(7, device=bk.device)
    assert p.dtype == "i32" and sorted(p.numpy().tolist()) == list(range(7))
    d = vg.zeros(5, 2, device=bk.device, dtype=bk.dtype).fill_diagonal_(1.0, wrap=True)
    assert d.numpy().tolist() == [[1, 0], [0, 1], [0, 0], [1, 0], [0, 1]]
    with pytest.raises(TypeError, match="where: give both a and b"):
        vg.where(x > 1.0, x)


def test_more_pytorch_spellings(bk):
    """size= for the constructors, nbytes / ndimension / is_floating_point /
    grad_fn, index_put_ in place, F.one_hot inferring the classes and any label
    shape, F's inplace= accepted by name or position."""
    F = vg.nn.functional
    assert vg.zeros(size=(2, 3), device=bk.device).shape == (2, 3) and vg.randn(size=(4,)).shape == (4,)
    with pytest.raises(TypeError, match="zeros: give the shape or size=, not both"):
        vg.zeros(2, size=(2,))
    x = bk.t(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x.nbytes == 6 * x.element_size() and x.ndimension() == 2 and x.is_floating_point()
    assert x.grad_fn is None and (x * 2.0).grad_fn is not None
    z = bk.t(np.zeros((2, 3)))
    z.index_put_((bk.t(np.array([0, 1, 0], np.int32), dtype="i32"), np.array([2, 0, 2])), bk.t(np.ones(3)),
                 accumulate=True)
    assert z.numpy().tolist() == [[0, 0, 2], [1, 0, 0]]
    oh = F.one_hot(bk.t(np.array([[0, 3], [1, 1]], np.int32), dtype="i32"))
    assert oh.shape == (2, 2, 4) and oh.numpy()[0, 1].tolist() == [0, 0, 0, 1]
    assert F.relu(bk.t(np.array([-1.0, 2.0])), True).numpy().tolist() == [0.0, 2.0]
    assert F.dropout(bk.t(np.ones(3)), 0.5, False, True).numpy().tolist() == [1.0] * 3
    assert F.leaky_relu(bk.t(np.array([-1.0])), 0.25, inplace=True).numpy().tolist() == [-0.25]
    with pytest.raises(ValueError, match=r"unfold: size must be in \[1, 3\]"):
        x.unfold(1, 4, 1)
    with pytest.raises(ValueError, match="masked_scatter: the mask selects 3 elements, source has 2"):
        x.masked_scatter(x > 2.0, bk.t(np.ones(2)))


def test_int32_reductions(bk):
    """sum / max / min / amax / amin / argmax / argmin of int32 tensors (labels.max()
    + 1, counts.sum()): int32 results, computed exactly in f32 below 2**24."""
    lab = bk.t(np.array([[3, 0, 7], [2, 9, 1]], np.int32), dtype="i32")
    assert lab.max().dtype == "i32" and lab.max().item() == 9 and lab.min().item() == 0
    assert lab.sum().item() == 22 and lab.sum(1).numpy().tolist() == [10, 12] and lab.sum(1).dtype == "i32"
    v, i = lab.max(1)
    assert v.dtype == "i32" and v.numpy().tolist() == [7, 9] and i.numpy().tolist() == [2, 1]
    assert vg.amin(lab, 0).numpy().tolist() == [2, 0, 1] and lab.argmax(1).numpy().tolist() == [2, 1]
    assert vg.argmin(lab).item() == 1


def test_int32_arithmetic(bk):
    """int32 tensors in arithmetic as PyTorch's (arange(5) + 1, labels - 1, idx // 2):
    int32 results from integer operands, floats from a float operand or true
    division; exact below 2**24."""
    a = vg.arange(6, device=bk.device)
    assert (a + 1).dtype == "i32" and (a + 1).numpy().tolist() == [1, 2, 3, 4, 5, 6]
    assert (a * 3 - a).numpy().tolist() == [0, 2, 4, 6, 8, 10] and (-a).numpy().tolist()[1] == -1
    assert (a // 4).numpy().tolist() == [0, 0, 0, 0, 1, 1] and (a % 4).numpy().tolist() == [0, 1, 2, 3, 0, 1]
    assert (7 - a).dtype == "i32" and vg.maximum(a, 2).numpy().tolist() == [2, 2, 2, 3, 4, 5]
    assert a.clamp(1, 3).numpy().tolist() == [1, 1, 2, 3, 3, 3] and (2 ** a).numpy().tolist()[-1] == 32
    assert (a / 2).dtype == "f32" and (a / 2).numpy().tolist()[1] == 0.5 and (a + 0.5).dtype == "f32"
    f = bk.t(np.ones(6))
    assert (a * f).dtype == bk.dtype and (a * f).numpy().tolist() == list(range(6))
    big = vg.tensor(np.array([2 ** 23 + 1], np.int32), device=bk.device)
    assert (big + 2).item() == 2 ** 23 + 3


def test_int32_bitwise_float_functions_and_scalar_promotion(bk):
    """PyTorch's integer operators on int32 tensors -- & | ^ ~ << >> bit by bit (``x & 1``
    gave the logical and, 1 for every odd and even nonzero x alike), in place too --
    while 1.0 / 0.0 masks keep their logical meaning; the float functions of int32
    tensors in f32 (sqrt, exp, sigmoid, ...), floor / round / relu / matmul int32
    out; a 0-d tensor promotes as a scalar (f16 x + 0-d f32 stays f16); cumsum's
    dtype= is the result's."""
    x = bk.t(np.array([1, 2, 3, -8, 12], np.int32))
    n = np.array([1, 2, 3, -8, 12], np.int32)
    for got, want in ((x & 1, n & 1), (x | 4, n | 4), (x ^ 3, n ^ 3), (~x, ~n), (x << 2, n << 2), (x >> 1, n >> 1),
                      (6 & x, 6 & n), (1 << x[:3], 1 << n[:3]), (x & x.flip(0), n & n[::-1]),
                      (vg.bitwise_or(x, 9), n | 9), (x.bitwise_not(), ~n), (vg.bitwise_right_shift(x, 2), n >> 2)):
        assert got.dtype == "i32" and got.numpy().tolist() == want.tolist()
    y = x.clone()
    y &= 6
    y <<= 1
    assert y.numpy().tolist() == ((n & 6) << 1).tolist()
    m = x > 1
    assert (m & (x < 5)).numpy().tolist() == [0, 1, 1, 0, 0] and (~m).numpy().tolist() == [1, 0, 0, 1, 0]
    with pytest.raises(TypeError, match="bitwise_left_shift: expected int32 tensors or Python ints, got a f32"):
        m << 1
    with pytest.raises(ValueError, match=r"bitwise_left_shift: shifts must lie in \[0, 31\]"):
        x << 32
    with pytest.raises(ValueError, match=r"bitwise_and: shapes \[\[5\], \[2\]\] cannot be broadcast"):
        x & bk.t(np.array([1, 2], np.int32))
    a = vg.arange(1, 5, device=bk.device)
    for name in ("sqrt", "exp", "sigmoid", "log", "sin", "reciprocal"):
        got = getattr(a, name)()
        assert got.dtype == "f32", name
        want = getattr(np, name, None) or {"sigmoid": lambda v: 1 / (1 + np.exp(-v)), "reciprocal": lambda v: 1 / v}[name]
        np.testing.assert_allclose(got.numpy(), want(np.arange(1.0, 5.0)), rtol=1e-5, err_msg=name)
    for got in (vg.floor(a), a.round(), vg.relu(a - 2), a.ceil()):
        assert got.dtype == "i32"
    mat = vg.tensor(np.array([[1, 2], [3, 4]], np.int32), device=bk.device)
    assert (mat @ mat).dtype == "i32" and (mat @ mat).numpy().tolist() == [[7, 10], [15, 22]]
    assert vg.atan2(a, a).dtype == "f32"
    f = bk.t(np.array([1.5, -2.0]))
    s32, s64 = vg.tensor(2.5, device=bk.device), vg.tensor(2.5, dtype="f64", device="cpu")
    assert (f + s32).dtype == bk.dtype and (s32 * f).dtype == bk.dtype and (f + 2.5).dtype == bk.dtype
    if bk.device == "cpu":
        assert (f + s64).dtype == bk.dtype and (f.to(dtype="f64") + s32).dtype == "f64"
    assert (f + bk.t(np.array([1.0, 1.0]), dtype="f32")).dtype == ("f32" if bk.dtype == "f16" else bk.dtype)
    assert a.cumsum(0, dtype=vg.float32).dtype == "f32" and vg.cumprod(a, 0, dtype="f32").numpy().tolist() == \
        [1, 2, 6, 24]


def test_int32_data_movement_and_selection(bk):
    """int32 tensors through the shape, selection and ordering ops PyTorch code uses on
    labels and indices (arange(T).expand(B, T), labels.flip(0), idx[perm],
    where(mask, labels, -100), sort / unique of ids): int32 results equal to NumPy's,
    exact below 2**24 (values run in f32); masks and indices as for float inputs."""
    h = np.array([[5, 2 ** 23 - 1, -3, 7], [0, 12, -(2 ** 23 - 1), 7], [4, 4, 9, -1]], np.int32)
    x = vg.tensor(h, dtype="i32", device=bk.device)
    v = vg.arange(6, device=bk.device)

    def same(got, want):
        for g, w in zip(got, want) if isinstance(got, (tuple, list)) else [(got, want)]:
            assert g.dtype == "i32", g.dtype
            np.testing.assert_array_equal(g.numpy(), np.asarray(w))

    same(v.unsqueeze(0).expand(3, 6), np.broadcast_to(np.arange(6), (3, 6)))
    same(vg.broadcast_to(v, (2, 6)), np.broadcast_to(np.arange(6), (2, 6)))
    same(v.repeat(2), np.tile(np.arange(6), 2))
    same(v.repeat_interleave(2), np.repeat(np.arange(6), 2))
    same(x.flip(0), h[::-1])
    same(vg.fliplr(x), h[:, ::-1])
    same(vg.rot90(x), np.rot90(h))
    same(x.t(), h.T)
    same(x.narrow(1, 1, 2), h[:, 1:3])
    same(x.roll(1, 1), np.roll(h, 1, 1))
    same(vg.tril(x), np.tril(h))
    same(vg.triu(x, 1), np.triu(h, 1))
    same(vg.diag(v), np.diag(np.arange(6)))
    same(vg.outer(v[:3], v[1:4]), np.outer(np.arange(3), np.arange(1, 4)))  # (both raised for int32)
    same(vg.combinations(v[:3]), np.array([[0, 1], [0, 2], [1, 2]]))
    same(vg.diagonal(x), np.diagonal(h))
    same(vg.nn.functional.pad(x, (1, 0), value=7), np.pad(h, ((0, 0), (1, 0)), constant_values=7))
    same(x.split(2, 1), np.split(h, 2, 1))
    same(x.chunk(3, 0), np.split(h, 3, 0))
    same(vg.tensor_split(v, 3), np.array_split(np.arange(6), 3))
    same(vg.unbind(x, 0), list(h))
    perm = vg.tensor([2, 0, 1], dtype="i32", device=bk.device)
    same(x[perm], h[[2, 0, 1]])
    same(vg.index_select(x, 1, perm), h[:, [2, 0, 1]])
    idx = vg.tensor([[1], [0], [3]], dtype="i32", device=bk.device)
    same(vg.gather(x, 1, idx), np.take_along_axis(h, np.array([[1], [0], [3]]), 1))
    same(vg.take(x, vg.tensor([0, 5], dtype="i32", device=bk.device)), h.reshape(-1)[[0, 5]])
    same(vg.masked_select(x, x > 4), h[h > 4])
    same(vg.select(x, 0, 1), h[1])
    same(vg.cumsum(v, 0), np.cumsum(np.arange(6)))
    same(vg.prod(v + 1), np.prod(np.arange(1, 7)))
    vals, ind = vg.sort(x, 1)
    same(vals, np.sort(h, 1))
    same(ind, np.argsort(h, 1, kind="stable"))
    same(vg.argsort(x, 1, stable=True), np.argsort(h, 1, kind="stable"))
    tv, ti = vg.topk(x.flatten(), 2)
    same(tv, [2 ** 23 - 1, 12])
    same(vg.msort(x), np.sort(h, 0))
    same(vg.cummax(v.flip(0), 0), (np.full(6, 5), np.zeros(6)))
    same(vg.median(x), [4])
    u, counts = vg.unique(x, return_counts=True)
    same((u, counts), np.unique(h, return_counts=True))
    gi, gj = vg.meshgrid(v[:2], v[:3], indexing="ij")
    same((gi, gj), np.meshgrid(np.arange(2), np.arange(3), indexing="ij"))
    same(vg.where(x > 4, x, -100), np.where(h > 4, h, -100))
    same(x.masked_fill(x < 0, 0), np.where(h < 0, 0, h))
    assert vg.where(x > 4, x, 0.5).dtype == "f32"  # (an int with a float: the float's dtype)
    same(vg.nonzero(v), np.argwhere(np.arange(6)))
    assert vg.any(v).item() == 1.0 and vg.all(v).item() == 0.0 and vg.any(v).dtype in ("f32", "f16")
    assert vg.count_nonzero(x).item() == 11
    np.testing.assert_array_equal(vg.isin(v, vg.tensor([2, 9, 4], dtype="i32", device=bk.device)).numpy(),
                                  np.isin(np.arange(6), [2, 9, 4]))  # (a mask, as every comparison's)


def test_gradients_at_kinks_are_pytorchs(bk):
    """Gradients at 0, +-1, +-3 and 6 -- where the activations and losses bend --
    equal PyTorch's (figures recorded from PyTorch 2.13).  Smooth functions first:
    softplus, logsigmoid and cross-entropy with logits had gradient 0 at a zero
    logit (their max / abs composition's subgradients), ELU with alpha 1 had 1/2;
    then PyTorch's conventions at the true kinks (the slope below 0 for leaky_relu
    and ELU, hardtanh / relu6 / hardsigmoid strictly inside, a hinge's margin
    active, fmax's tie to its first operand)."""
    F = vg.nn.functional
    k = np.array([0.0, 1.0, -1.0, 3.0, -3.0, 6.0])
    t = bk.t(np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0]))
    want = {"softplus": ([0.5, 0.731059, 0.268941, 0.952574, 0.047426, 0.997527], lambda x: F.softplus(x)),
            "logsigmoid": ([0.5, 0.268941, 0.731059, 0.047426, 0.952574, 0.002473], lambda x: F.logsigmoid(x)),
            "bce": ([0.5, -0.268941, 0.268941, -0.047426, 0.047426, -0.002473],
                    lambda x: F.binary_cross_entropy_with_logits(x, t, reduction="sum")),
            "elu": ([1.0, 1.0, 0.367879, 1.0, 0.049787, 1.0], lambda x: F.elu(x)),
            "elu2": ([2.0, 1.0, 0.735759, 1.0, 0.099574, 1.0], lambda x: F.elu(x, 2.0)),
            "celu.5": ([1.0, 1.0, 0.135335, 1.0, 0.002479, 1.0], lambda x: F.celu(x, 0.5)),
            "selu": ([1.758099, 1.050701, 0.646769, 1.050701, 0.087531, 1.050701], lambda x: F.selu(x)),
            "hardswish": ([0.5, 0.833333, 0.166667, 1.0, 0.0, 1.0], lambda x: F.hardswish(x)),
            "hardsigmoid": ([0.166667, 0.166667, 0.166667, 0.0, 0.0, 0.0], lambda x: F.hardsigmoid(x)),
            "relu6": ([0.0, 1.0, 0.0, 1.0, 0.0, 0.0], lambda x: F.relu6(x)),
            "hardtanh": ([1.0, 0.0, 0.0, 0.0, 0.0, 0.0], lambda x: F.hardtanh(x)),
            "leaky": ([0.1, 1.0, 0.1, 1.0, 0.1, 1.0], lambda x: F.leaky_relu(x, 0.1)),
            "hinge": ([-1.0, -1.0, -1.0, 0.0, -1.0, 0.0],
                      lambda x: F.hinge_embedding_loss(x, bk.t(-np.ones(6)), margin=1.0, reduction="sum")),
            "fmax": ([1.0, 1.0, 0.0, 1.0, 0.0, 1.0], lambda x: vg.fmax(x, bk.t(np.zeros(6))))}
    for name, (g, fn) in want.items():
        x = bk.t(k, requires_grad=True)
        y = fn(x)
        y.sum().backward()
        bk.close(x.grad.numpy(), g, rtol=max(bk.rtol, 1e-5), atol=max(bk.atol, 2e-6), what=name)
    x = bk.t(np.array([0.0, 2.0]), requires_grad=True)  # (softplus' own gradient: differentiable again)
    (g,) = vg.autograd.grad(F.softplus(x).sum(), [x], create_graph=True)
    g.sum().backward()
    bk.close(x.grad.numpy(), [0.25, np.exp(-2) / (1 + np.exp(-2)) ** 2], rtol=max(bk.rtol, 1e-5))


def test_pytorch_script_boilerplate_names():
    """What training scripts call at the top: use_deterministic_algorithms (recorded:
    vkgrad's kernels are deterministic), get_float32_matmul_precision,
    set_num_interop_threads, is_inference_mode_enabled, Size, scalar_tensor, asarray,
    typename."""
    vg.use_deterministic_algorithms(True, warn_only=True)
    try:
        assert vg.are_deterministic_algorithms_enabled() and vg.is_deterministic_algorithms_warn_only_enabled()
    finally:
        vg.use_deterministic_algorithms(False)
    assert not vg.are_deterministic_algorithms_enabled() and vg.get_float32_matmul_precision() == "highest"
    vg.set_num_interop_threads(4)
    assert vg.get_num_interop_threads() == 1
    with pytest.raises(ValueError, match="set_num_interop_threads: expected a positive number, got 0"):
        vg.set_num_interop_threads(0)
    assert not vg.is_inference_mode_enabled()
    with vg.inference_mode():
        assert vg.is_inference_mode_enabled()
    s = vg.Size([2, 3])
    assert s == (2, 3) == vg.zeros(2, 3, device="cpu").shape and s.numel() == 6 and repr(s) == "vkgrad.Size([2, 3])"
    assert vg.scalar_tensor(3, device="cpu").shape == () and vg.scalar_tensor(3, device="cpu").item() == 3.0
    t = vg.ones(2, device="cpu")
    assert vg.asarray(t) is t and vg.asarray(t, copy=True) is not t and vg.asarray([1, 2], device="cpu").dtype == "i32"
    assert vg.typename(t) == "vkgrad.f32" and vg.typename(3) == "int"


def test_apply_and_map_in_place(bk):
    """PyTorch's host-side apply_ / map_: a Python function per element, in place."""
    a = bk.t(np.array([1.0, 2.0, -3.0]))
    assert a.apply_(lambda v: v * 10 + 1) is a
    bk.close(a.numpy(), [11.0, 21.0, -29.0])
    a.map_(bk.t(np.array([1.0, 0.0, 1.0])), lambda x, y: x if y else -x)
    bk.close(a.numpy(), [11.0, -21.0, -29.0])
    with pytest.raises(ValueError, match=r"map_: other of shape \[2\] does not broadcast to the tensor's \[3\]"):
        a.map_(bk.t(np.array([1.0, 2.0])), lambda x, y: x)


def test_pytorch_spellings_squeeze_dims_reduction_dtype_printing_and_assert_close(bk):
    """squeeze with a tuple of dims; sum / mean / prod / cumsum(dtype=) cast the input
    first; set_printoptions changes tensors' repr (precision, sci_mode, summarising);
    vg.testing.assert_close with PyTorch's per-dtype tolerances and its message."""
    x = bk.t(np.ones((1, 3, 1)))
    assert x.squeeze((0, 2)).shape == (3,) and vg.squeeze(x, (0, 1)).shape == (3, 1) and x.squeeze([-1]).shape == (1, 3)
    with pytest.raises(IndexError, match=r"squeeze: dim 5 out of range"):
        x.squeeze((0, 5))
    h = bk.t(np.array([1.5, 2.25, 3.0]))
    assert h.sum(dtype=vg.float64 if bk.device == "cpu" else "f32").dtype == ("f64" if bk.device == "cpu" else "f32")
    assert vg.arange(4, device=bk.device).sum(dtype="f32").dtype == "f32"
    assert h.mean(dim=0, dtype="f32").item() == 2.25 and vg.prod(h, dtype="f32").item() == 10.125
    assert vg.cumsum(h, 0, dtype="f32").numpy().tolist() == [1.5, 3.75, 6.75]
    saved = dict(vg.config.print_options)
    try:
        vg.set_printoptions(precision=2)
        assert repr(bk.t(np.array([1.23456]))).startswith("tensor([1.23]")
        vg.set_printoptions(sci_mode=True)
        assert "1.23e+00" in repr(bk.t(np.array([1.23456])))
        vg.set_printoptions(profile="default", sci_mode=None)
        assert repr(bk.t(np.array([1.0, 2.5]))).startswith("tensor([1.  2.5]")
        assert "..." in repr(bk.t(np.zeros(2000))) and "..." not in repr(bk.t(np.zeros(999)))
        with pytest.raises(ValueError, match="set_printoptions: profile must be one of"):
            vg.set_printoptions(profile="long")
    finally:
        vg.config.print_options.update(saved)
    a = bk.t(np.array([1.0, 2.0, 3.0, 4.0]))
    vg.testing.assert_close(a, a + 1e-6 if bk.dtype != "f16" else a)
    vg.testing.assert_close([a, {"k": a}], [a, {"k": np.array([1.0, 2.0, 3.0, 4.0], np.float16 if bk.dtype == "f16"
                                                               else np.float32)}])
    with pytest.raises(AssertionError, match=r"Mismatched elements: 1 / 4 \(25.0%\)\nGreatest absolute difference: "
                                             r"0.5 at index \(3,\)"):
        vg.testing.assert_close(a, bk.t(np.array([1.0, 2.0, 3.0, 4.5])))
    with pytest.raises(AssertionError, match=r"shapes differ: \[4\] vs \[2, 2\]"):
        vg.testing.assert_close(a, a.reshape(2, 2))
    with pytest.raises(AssertionError, match="dtypes differ"):
        vg.testing.assert_close(vg.arange(4, device=bk.device), a)
    nan = bk.t(np.array([np.nan, 1.0]))
    vg.testing.assert_close(nan, nan, equal_nan=True)
    with pytest.raises(AssertionError, match="Mismatched elements: 1 / 2"):
        vg.testing.assert_close(nan, nan)


def test_div_rounding_modes_cat_promotion_and_constants(bk):
    """torch.div(a, b, rounding_mode="trunc" / "floor") (index arithmetic in current
    PyTorch code; it raised TypeError) -- int32 operands give int32 --; cat / stack of
    mixed dtypes promote as PyTorch's (f16 with f32: f32; int32 with a float: the float;
    gradients through the casts) where they raised; vg.inf / nan / e / pi / newaxis."""
    i = vg.tensor(np.array([-7, 7, 6], np.int32), dtype="i32", device=bk.device)
    t = vg.div(i, 2, rounding_mode="trunc")
    f = vg.div(i, 2, rounding_mode="floor")
    assert t.dtype == f.dtype == "i32" and t.numpy().tolist() == [-3, 3, 3] and f.numpy().tolist() == [-4, 3, 3]
    assert i.div(4, rounding_mode="floor").numpy().tolist() == [-2, 1, 1] and vg.div(i, 2).dtype == "f32"
    x = bk.t(np.array([-7.0, 7.5]))
    assert vg.div(x, 2, rounding_mode="floor").numpy().tolist() == [-4.0, 3.0]
    assert vg.div(x, bk.t(np.array([2.0, 2.0])), rounding_mode="trunc").numpy().tolist() == [-3.0, 3.0]
    with pytest.raises(ValueError, match="divide: rounding_mode must be None, 'trunc' or 'floor', got 'round'"):
        vg.div(x, 2, rounding_mode="round")
    a = vg.tensor(np.ones(2), requires_grad=True, dtype="f32", device=bk.device)
    h = vg.tensor(np.full(2, 2.0), dtype="f16", device=bk.device)
    c = vg.cat([h, a])
    assert c.dtype == "f32" and c.numpy().tolist() == [2.0, 2.0, 1.0, 1.0]
    (c * c).sum().backward()
    assert a.grad.numpy().tolist() == [2.0, 2.0]
    assert vg.stack([vg.arange(2, device=bk.device), h]).dtype == "f16"
    assert vg.inf == np.inf and np.isnan(vg.nan) and vg.e == np.e and vg.pi == np.pi and vg.newaxis is None


def test_interpolate_antialias(bk):
    """PyTorch's anti-aliased bilinear shrink by 2: a triangle over four inputs,
    (x[2i-1] + 3 x[2i] + 3 x[2i+1] + x[2i+2]) / 8, renormalised at the edges
    (x[0..2] weighted 3, 3, 1 over 7); its gradient the same weights' transpose;
    against PyTorch's bilinear and bicubic, both corner conventions, where present."""
    r = np.random.default_rng(5)
    a = r.standard_normal(8)
    x = bk.t(a.reshape(1, 1, 1, 8), requires_grad=True)
    y = vg.nn.functional.interpolate(x, size=(1, 4), mode="bilinear", antialias=True)
    want = [(3 * a[0] + 3 * a[1] + a[2]) / 7] + [(a[2 * i - 1] + 3 * a[2 * i] + 3 * a[2 * i + 1] + a[2 * i + 2]) / 8
                                                 for i in (1, 2)] + [(a[5] + 3 * a[6] + 3 * a[7]) / 7]
    bk.close(y.numpy().reshape(-1), want, what="antialias bilinear")
    g = vg.autograd.grad(y.sum(), [x])[0].numpy().reshape(-1)
    bk.close(g, [3 / 7, 3 / 7 + 1 / 8, 1 / 7 + 3 / 8, 3 / 8 + 1 / 8, 1 / 8 + 3 / 8, 3 / 8 + 1 / 7, 1 / 8 + 3 / 7, 3 / 7],
             what="antialias gradient")
    torch = pytest.importorskip("torch")
    img = r.standard_normal((2, 3, 9, 10))
    for mode, size, ac in (("bilinear", (4, 6), False), ("bicubic", (4, 6), False), ("bicubic", (13, 3), True)):
        want = torch.nn.functional.interpolate(torch.tensor(img), size=size, mode=mode, antialias=True,
                                               align_corners=ac).numpy()
        got = vg.nn.functional.interpolate(bk.t(img), size=size, mode=mode, antialias=True, align_corners=ac)
        bk.close(got.numpy(), want, what=f"{mode} antialias vs PyTorch")


def test_pytorch_keyword_forms(bk):
    """softmax / log_softmax(dtype=), glu(dim=), flip / roll(dims=), interpolate's
    recompute_scale_factor, tril_indices / triu_indices, as PyTorch's."""
    F = vg.nn.functional
    x = bk.t(np.arange(12.0).reshape(3, 4) / 4)
    assert F.softmax(x, dim=1, dtype="f32").dtype == "f32" and F.log_softmax(x, 0, dtype=vg.float32).dtype == "f32"
    bk.close(F.glu(x, dim=-1).numpy(), (np.arange(12.0).reshape(3, 4) / 4)[:, :2] / (
        1 + np.exp(-(np.arange(12.0).reshape(3, 4) / 4)[:, 2:])), what="glu")
    np.testing.assert_array_equal(vg.flip(x, dims=[0]).numpy(), x.numpy()[::-1])
    np.testing.assert_array_equal(vg.roll(x, shifts=1, dims=1).numpy(), np.roll(x.numpy(), 1, 1))
    assert F.interpolate(bk.t(np.ones((1, 1, 5, 7))), scale_factor=1.7, mode="bilinear",
                         recompute_scale_factor=True).shape == (1, 1, 8, 11)
    with pytest.raises(ValueError, match="interpolate: antialias applies to the bilinear and bicubic modes, got "
                                         "'nearest'"):
        F.interpolate(x.reshape(1, 1, 3, 4), scale_factor=0.5, mode="nearest", antialias=True)
    assert vg.tril_indices(3, 3).numpy().tolist() == [list(v) for v in np.tril_indices(3)]
    assert vg.triu_indices(3, 4, 1).numpy().tolist() == [list(v) for v in np.triu_indices(3, 1, 4)]


def test_sort_errors_and_0d(bk):
    t = bk.t(np.arange(6.0).reshape(2, 3))
    with pytest.raises(ValueError, match=r"topk: k must be an integer in \[0, 3\]"):
        vg.topk(t, 4)
    with pytest.raises(ValueError, match=r"kthvalue: k must be an integer in \[1, 2\]"):
        vg.kthvalue(t, 0, dim=0)
    with pytest.raises(ValueError, match="sort: axis 2 is out of range for a tensor with 2 dimensions"):
        vg.sort(t, 2)
    v, i = vg.sort(bk.t(np.array(2.5)))
    assert v.item() == 2.5 and i.item() == 0


def test_nan_inf_masks_and_nan_to_num(bk):
    x = np.array([1.0, np.nan, np.inf, -np.inf, -2.0, 0.0])
    t = bk.t(x, requires_grad=True)
    np.testing.assert_array_equal(vg.isnan(t).numpy(), np.isnan(x))
    np.testing.assert_array_equal(t.isinf().numpy(), np.isinf(x))
    np.testing.assert_array_equal(vg.isfinite(t).numpy(), np.isfinite(x))
    big = float(np.finfo(np.float16 if bk.dtype == "f16" else np.float32).max)
    np.testing.assert_array_equal(vg.nan_to_num(t, posinf=7.0).numpy(), [1.0, 0.0, 7.0, -big, -2.0, 0.0])
    y = t.nan_to_num()
    np.testing.assert_array_equal(y.numpy(), [1.0, 0.0, big, -big, -2.0, 0.0])
    (vg.nan_to_num(t, 1.0, 2.0, -3.0) * 3.0).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [3.0, 0.0, 0.0, 0.0, 3.0, 3.0])
    z = bk.t(np.zeros((2, 3)), requires_grad=True)
    vg.norm(z, dim=1).sum().backward()  # a zero vector's norm: gradient 0, not NaN
    np.testing.assert_array_equal(z.grad.numpy(), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="norm: p must be a number >= 0, 'fro', inf or -inf, got -1"):
        vg.norm(z, -1)
    w = bk.t([[1.0, -4.0, 0.25]], requires_grad=True)  # p below 1: PyTorch's value, not a norm
    vg.norm(w, 0.5, dim=1).backward()
    s = 1.0 + 2.0 + 0.5
    np.testing.assert_allclose(w.numpy() * 0 + vg.norm(w, 0.5).item(), [[s ** 2] * 3], rtol=1e-3)
    np.testing.assert_allclose(w.grad.numpy(), [[s / np.sqrt(v) * np.sign(x) for v, x in ((1, 1), (4, -1), (0.25, 1))]],
                               rtol=1e-3)


def test_pytorch_method_spellings(bk):
    """PyTorch's method names on tensors: the same values as the functions."""
    a = np.arange(6.0).reshape(2, 3) - 2.5
    t = bk.t(a)
    np.testing.assert_array_equal(t.mT.numpy(), a.T)
    np.testing.assert_array_equal(t.t().numpy(), a.T)
    assert t.view_as(bk.t(np.zeros((3, 2)))).shape == (3, 2) and t.expand_as(bk.t(np.zeros((4, 2, 3)))).shape == (4, 2, 3)
    z = t.new_zeros(2, 4)
    assert z.shape == (2, 4) and z.dtype == t.dtype and z.device == t.device and not z.numpy().any()
    assert t.new_full((3,), 2.0).numpy().tolist() == [2.0] * 3 and t.new_ones((1, 2)).shape == (1, 2)
    assert t.contiguous() is t and t.is_contiguous() and t.nelement() == 6
    assert t.size == 6 and t.size() == (2, 3) and t.size(-1) == 3 and t.size(0) == 2  # NumPy's and PyTorch's
    with pytest.raises(IndexError, match=r"size: dim 2 is out of range for a tensor of shape \[2, 3\]"):
        t.size(2)
    np.testing.assert_array_equal(t.all(dim=0).numpy(), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(bk.t(np.array([0.0, np.nan, 2.0])).all().numpy(), 0.0)
    np.testing.assert_array_equal(bk.t(np.array([0.0, np.nan])).any().numpy(), 1.0)
    np.testing.assert_array_equal(t.ne(0.5).numpy(), (a != 0.5).astype(float))
    u = bk.t(a.copy())
    u.clamp_min_(0.0).mul_(2.0)
    bk.close(u.numpy(), 2 * np.maximum(a, 0))
    u.exp_()
    bk.close(u.numpy(), np.exp(2 * np.maximum(a, 0)), rtol=max(bk.rtol, 1e-5))
    assert t.int().dtype == "i32" and t.long().dtype == "i32" and t.type_as(bk.t(np.zeros(1), dtype="i32")).dtype == "i32"
    with pytest.raises(ValueError, match=r"repeat_interleave: repeats must be a non-negative int or 3 of them"):
        t.repeat_interleave([1, 2], dim=1)
    with pytest.raises(IndexError, match=r"narrow: start 2 and length 2 do not fit axis 1 of length 3"):
        t.narrow(1, 2, 2)
    with pytest.raises(ValueError, match=r"unflatten: sizes \[4, -1\] do not split axis 1 of length 3"):
        t.unflatten(1, (4, -1))
    with pytest.raises(ValueError, match=r"t: expects a tensor of at most 2 dimensions"):
        vg.t(bk.t(np.zeros((2, 2, 2))))


def test_gumbel_softmax(bk):
    """Soft samples are distributions; hard ones one-hot with the soft sample's
    gradient (straight through); argmax frequencies follow softmax(logits)."""
    logits = np.log(np.array([[0.1, 0.2, 0.7]]))
    x = bk.t(np.repeat(logits, 2000, 0), requires_grad=True)
    vg.manual_seed(4)
    y = vg.gumbel_softmax(x, tau=0.5)
    bk.close(y.numpy().sum(1), np.ones(2000), atol=2e-2 if bk.dtype == "f16" else 1e-5)
    h = vg.gumbel_softmax(x, hard=True)
    hn = h.numpy()
    assert set(np.unique(hn)) <= {0.0, 1.0} and (hn.sum(1) == 1).all()
    np.testing.assert_allclose(hn.mean(0), [0.1, 0.2, 0.7], atol=0.04)
    (h * bk.t(np.array([1.0, 2.0, 3.0]))).sum().backward()
    assert np.isfinite(x.grad.numpy()).all() and np.abs(x.grad.numpy()).sum() > 0
    with pytest.raises(ValueError, match="gumbel_softmax: tau must be > 0, got 0"):
        vg.gumbel_softmax(x, tau=0)


def test_indexing_by_device_indices(bk):
    """An int32 tensor index stays on the device (index_select), alone or with others
    (q[arange(B), actions]); the gradient sums repeats."""
    q = bk.t(np.arange(12.0).reshape(4, 3), requires_grad=True)
    acts = bk.t(np.array([2, 0, 0, 1], np.int32))
    np.testing.assert_array_equal(q[np.arange(4), acts].numpy(), [2.0, 3.0, 6.0, 10.0])
    q[np.arange(4), acts].sum().backward()
    np.testing.assert_array_equal(q.grad.numpy(), np.eye(3)[[2, 0, 0, 1]])
    a = np.arange(12.0).reshape(3, 4)
    x = bk.t(a, requires_grad=True)
    idx = bk.t(np.array([[2, 0], [2, 2]], np.int32))
    y = x[idx]
    np.testing.assert_array_equal(y.numpy(), a[[[2, 0], [2, 2]]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.array([[1.0] * 4, [0.0] * 4, [3.0] * 4]))
    # negatives count from the end, as PyTorch's (on a device they had read out of range: NaN)
    neg = bk.t(np.array([-1, 0, -3], np.int32))
    np.testing.assert_array_equal(x[neg].numpy(), a[[-1, 0, -3]])
    np.testing.assert_array_equal(x[:, neg].numpy(), a[:, [-1, 0, -3]])
    np.testing.assert_array_equal(x[neg, neg].numpy(), a[[-1, 0, -3], [-1, 0, -3]])
    np.testing.assert_array_equal(vg.take(x, neg * 4).numpy(), a.reshape(-1)[[-4, 0, -12]])


def test_edge_values_and_gradients_at_zero(bk):
    """PyTorch's values and gradients where formulas divide by zero: x ** e at 0, inf
    and NaN as NumPy's (GLSL's pow is undefined at 0 for e <= 0: lavapipe gave
    0 ** 0 = 0, 0 ** -1 = 0 and x ** 1's gradient 0 at 0), x ** 0's gradient 0;
    a constant's std, a zero distance and atan2 at (0, 0) get gradient 0 (not
    NaN); clamp by tensor bounds gives x the gradient at a bound (not maximum's
    shared tie)."""
    prev = vg.config.check_finite_loss
    vg.set_check_finite(False)
    try:
        xs = np.array([0.0, 1.0, -2.0, np.inf, -np.inf, 3.5, np.nan], np.float32)
        for e in (0.5, 1.5, -0.5, 2.0, 0.0, 3.0, -1.0, 1.0, -2.0):
            got = (bk.t(xs) ** e).numpy().astype(np.float64)
            want = np.power(xs.astype(np.float64), e)
            np.testing.assert_allclose(got, want, rtol=bk.rtol, equal_nan=True, err_msg=f"x ** {e}")
            assert np.array_equal(np.signbit(got[np.isinf(got)]), np.signbit(want[np.isinf(want)])), e
        for e, want in ((1.0, 1.0), (0.0, 0.0), (0.5, np.inf), (2.0, 0.0), (-1.0, -np.inf)):
            x = bk.t(np.zeros(2), requires_grad=True)
            (x ** e).sum().backward()
            assert x.grad.numpy().tolist() == [want, want], (e, x.grad.numpy())
    finally:
        vg.set_check_finite(prev)
    # small whole and half powers exact where one rounding is (GLSL's pow() is exp2(e log2 x): lavapipe's
    # x ** 1 was 6 ulps off, x ** 2 9, x ** 1.5 46)
    t = bk.t(np.random.default_rng(0).uniform(0.01, 30.0, 1000))
    for got, want in ((t ** 1, t), (t ** 2, t * t), (t ** -1, 1.0 / t), (t ** 0.5, vg.sqrt(t))):
        assert np.array_equal(got.numpy(), want.numpy())
    x = bk.t(np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]]), requires_grad=True)
    x.std(1).sum().backward()
    assert np.isfinite(x.grad.numpy()).all() and x.grad.numpy()[0].tolist() == [0.0, 0.0, 0.0]
    a = bk.t(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    vg.nn.functional.pairwise_distance(a, a.detach() * vg.tensor([[1.0], [0.5]], device=bk.device, dtype=bk.dtype),
                                       eps=0.0).sum().backward()
    assert a.grad.numpy()[0].tolist() == [0.0, 0.0] and np.isfinite(a.grad.numpy()).all()
    y, z = (bk.t(np.array([0.0, 1.0]), requires_grad=True) for _ in range(2))
    vg.atan2(y, z).sum().backward()
    bk.close(y.grad.numpy(), [0.0, 0.5])
    bk.close(z.grad.numpy(), [0.0, -0.5])
    x = bk.t(np.array([0.0, 1.0, 2.0, 3.0]), requires_grad=True)
    lo, hi = (bk.t(np.array(v), requires_grad=True) for v in ([1.0] * 4, [2.0] * 4))
    vg.clamp(x, lo, hi).sum().backward()
    assert x.grad.numpy().tolist() == [0.0, 1.0, 1.0, 0.0]
    assert lo.grad.numpy().tolist() == [1.0, 0.0, 0.0, 0.0] and hi.grad.numpy().tolist() == [0.0, 0.0, 0.0, 1.0]


def test_norms_and_variances_of_small_halves(bk):
    """norm / vector_norm / var / std of f16 values near 1e-4 as PyTorch's, which
    accumulates in f32: their squares underflow f16 (a norm of 100 halves 1e-4
    was 0)."""
    a = 1e-4 * (1 + np.arange(100) / 100)  # (squares 1e-8 .. 4e-8: below f16's smallest, 6e-8)
    x = bk.t(a)
    want = a.astype(np.float16).astype(np.float64) if bk.dtype == "f16" else a.astype(np.float32).astype(np.float64)
    for got, ref in ((x.norm(), np.linalg.norm(want)), (vg.linalg.vector_norm(x, 3), np.sum(np.abs(want) ** 3) ** (1 / 3)),
                     (x.std(), want.std(ddof=1))):
        np.testing.assert_allclose(float(got.item()), ref, rtol=max(bk.rtol, 1e-2) if bk.dtype == "f16" else 1e-5)


def test_binary_cross_entropy_at_saturated_probabilities(bk):
    """BCE of probabilities 0 and 1 is PyTorch's: the logs clamped at -100 (a wrong
    certainty costs 100, not the 69 of a clamp at 1e-30), gradient 0 there (not
    0 / 0), and a subnormal probability (flushed on GPUs) treated as 0 alike."""
    p = bk.t(np.array([0.0, 1.0, 0.5, 1e-45, 1e-3, 1.0]), requires_grad=True)
    y = bk.t(np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0]))
    loss = vg.nn.functional.binary_cross_entropy(p, y, reduction="none")
    bk.close(loss.numpy(), [100.0, 100.0, np.log(2), 100.0, -np.log(1 - 1e-3), 0.0], rtol=max(bk.rtol, 1e-3))
    loss.sum().backward()
    # (p = y = 1: -1, the partial of -log p; PyTorch's (p - y) / max(p (1 - p), 1e-12) gives 0 there)
    bk.close(p.grad.numpy(), [0.0, 0.0, -2.0, 0.0, 1 / (1 - 1e-3), -1.0], rtol=max(bk.rtol, 1e-3))


def test_functions_take_out(bk):
    """PyTorch's out=: the result written into the given tensor (resized, with a
    warning unless empty) and returned, a (values, indices) pair into a tuple;
    refused while gradients are recorded through it, and float into int32."""
    a, b = bk.t(np.array([1.0, 2.0, 3.0])), bk.t(np.array([2.0, 2.0, 2.0]))
    c = bk.t(np.zeros(3))
    assert vg.add(a, b, out=c) is c
    bk.close(c.numpy(), [3.0, 4.0, 5.0])
    buf = bk.t(np.zeros(0))
    vg.cat([a, b], out=buf)
    assert buf.shape == (6,)
    with pytest.warns(UserWarning, match=r"matmul: out= of shape \[3\] resized to the result's \[2, 2\]"):
        vg.matmul(bk.t(np.ones((2, 3))), bk.t(np.ones((3, 2))), out=c)
    bk.close(c.numpy(), np.full((2, 2), 3.0))
    vals, idx = bk.t(np.zeros(3)), bk.t(np.zeros(3), dtype="i32")
    r = vg.sort(bk.t(np.array([3.0, 1.0, 2.0])), out=(vals, idx))
    assert r.values is vals and r.indices is idx and idx.numpy().tolist() == [1, 2, 0]
    x = bk.t(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="exp: out= does not take part in autograd"):
        vg.exp(x, out=bk.t(np.zeros(3)))
    with vg.no_grad():
        vg.exp(x, out=a)
    bk.close(a.numpy(), np.full(3, np.e), rtol=max(bk.rtol, 1e-3))
    with pytest.raises(TypeError, match="add: a .* result cannot be written into an int32 out="):
        vg.add(a, b, out=bk.t(np.zeros(3), dtype="i32"))
