"""The primitive set every backend implements.

Ops (``vkgrad/ops``) are written once against these primitives; autograd, nn
and optim never ask which backend they run on.  A *handle* is whatever a
backend uses to hold an array; it must expose ``.shape`` (a tuple).  The
backend reports its dtype string with :meth:`Backend.dtype_of`.

Dtypes are strings: ``"f32"``, ``"f16"`` (half storage, f32 arithmetic),
``"f64"`` (CPU only, for gradient checks) and ``"i32"`` (class labels).

Elementwise op codes (shared by every backend, so a shader and NumPy agree):

unary(op, x, alpha, beta):
  neg, exp, log, sqrt, relu, sigmoid, tanh, gelu, gelu_tanh,
  affine (x*alpha+beta), pow (x**alpha),
  clamp (min(max(x, alpha), beta)), clip_coef (min(1, alpha/(x+1e-6))), fill (beta)
binary(op, a, b, alpha, beta) -- NumPy broadcasting:
  add, sub, mul, div, eq (1.0 where a == b else 0.0),
  relu_bwd (b*(a>0)), sigmoid_bwd (b*a*(1-a), a is the output),
  tanh_bwd (b*(1-a*a), a is the output), gelu_bwd, gelu_tanh_bwd (a is the input),
  pow_bwd (b*alpha*a**(alpha-1)), clamp_bwd (b where alpha<=a<=beta)
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

UNARY_OPS = ("neg", "exp", "log", "sqrt", "relu", "sigmoid", "tanh", "gelu",
             "gelu_tanh", "affine", "pow", "clamp", "clip_coef", "fill", "sin", "cos", "log1p",
             "expm1", "erf", "sign", "floor", "ceil", "round", "trunc", "atan", "asin", "acos", "asinh", "acosh",
             "atanh", "lgamma", "digamma", "trigamma", "erfc", "erfinv")
BINARY_OPS = ("add", "sub", "mul", "div", "eq", "relu_bwd", "sigmoid_bwd",
              "tanh_bwd", "gelu_bwd", "gelu_tanh_bwd", "pow_bwd", "clamp_bwd", "maximum", "minimum", "gt", "ge",
              "erf_bwd", "atan2", "hypot")
ACTIVATIONS = (None, "relu", "sigmoid", "tanh", "gelu", "gelu_tanh")
ADAM_FORMS = ("adam", "momentum", "centered", "adamax", "nadam", "radam", "adadelta",
              "centered_momentum")  # Backend.adam_'s forms
DTYPES = ("f32", "f16", "f64", "i32")
FLOAT_DTYPES = ("f32", "f16", "f64")


class Window(NamedTuple):
    """A 2-D sliding window over [N, C, H, W], each field a pair of ints: kernel
    (kh, kw), stride (sh, sw), padding before (ph, pw), dilation (dh, dw) and the
    output size (OH, OW) -- what lies past the input at the end is implied by it
    (conv2d and the pools build and check it)."""
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    out: tuple

    def flat(self):
        """The ten ints in order (kh, kw, sh, sw, ph, pw, dh, dw, OH, OW)."""
        return [int(v) for pair in self for v in pair]

    def tiles(self, hw):
        """Whether the windows tile an input of size ``hw`` without overlap or padding
        (stride = kernel, no dilation; rows and columns past the last window left
        out): each element in at most one window, at one tap -- the backends' max
        pools take such windows by reshapes or a gather, not im2col's rows."""
        (kh, kw), (sh, sw), (ph, pw), (dh, dw), (OH, OW) = self
        return ((sh, sw) == (kh, kw) and (dh, dw) == (1, 1) and (ph, pw) == (0, 0)
                and OH * kh <= hw[0] and OW * kw <= hw[1])

    def extent(self, hw):
        """(Hp, Wp): the padded height and width covering the input (size ``hw``), its
        padding before, and whatever the output's windows reach past its end."""
        return tuple(max(n + p, p + (o - 1) * s + (k - 1) * d + 1)
                     for n, k, s, p, d, o in zip(hw, *self))


class Device(str):
    """A device's name ("cpu", "vulkan:0"), compared and hashed as the string, that
    also answers PyTorch's torch.device: ``.type`` ("cpu", "vulkan") and ``.index``
    (None for the CPU)."""
    __slots__ = ()

    @property
    def type(self):
        return self.partition(":")[0]

    @property
    def index(self):
        i = self.partition(":")[2]
        return int(i) if i else None


class BackendError(RuntimeError):
    """A backend could not do what was asked (unsupported dtype, no device, OOM)."""


def check_op(kind, op, ops):
    """``op`` as an index into ``ops`` (UNARY_OPS or BINARY_OPS), or a clear error."""
    if op not in ops:
        raise BackendError(f"{kind}: unknown op {op!r}; expected one of {', '.join(ops)}")
    return ops.index(op)


def mom_at(n):
    """Where form "centered_momentum"'s momentum buffer starts in its m (elements):
    n rounded up to 64 (256 bytes: a view of it keeps any device's alignment)."""
    return -(-n // 64) * 64


def adam_scalars(lr, beta1, beta2, step):
    """(step_size, rbc2) of an Adam-family update at ``step``: lr / (1 - b1^t) and
    1 / sqrt(1 - b2^t); an infinite step means no bias correction, (lr, 1) --
    RMSprop and Adagrad (whose b2 = 1 would divide by zero)."""
    if math.isinf(step):
        return lr, 1.0
    return lr / (1.0 - beta1 ** step), 1.0 / math.sqrt(1.0 - beta2 ** step)


class Backend:
    """Abstract primitive set.  See the module docstring for op codes."""

    name = "abstract"

    def __deepcopy__(self, memo):  # a device is shared, never copied
        return self

    # -- data movement -------------------------------------------------
    def from_numpy(self, a, dtype):
        raise NotImplementedError

    def to_numpy(self, h):
        """Host copy; f16 handles come back as float16 arrays."""
        raise NotImplementedError

    def full(self, shape, value, dtype):
        raise NotImplementedError

    def full_many(self, shapes, value, dtype):
        """``full`` of each shape: state buffers made together (an optimizer's
        moments).  A backend may lay them out jointly (the CPU backend: the small
        ones consecutive in one allocation, which its fused update runs on in place)."""
        return [self.full(s, value, dtype) for s in shapes]

    def constant(self, shape, value, dtype):
        """``full(shape, value, dtype)`` made once and kept: read-only by contract
        (backward's unit seed, so a step does not spend a fill on it)."""
        return self._kept((tuple(shape), float(value), dtype), lambda: self.full(shape, value, dtype))

    def host_constant(self, key, make_array, dtype):
        """The host array ``make_array()`` uploaded once per ``key`` and kept: read-only
        by contract (an op's shape-dependent factors; a captured step reads the
        same handle on every replay)."""
        return self._kept(("host", key, dtype), lambda: self.from_numpy(make_array(), dtype))

    def _kept(self, key, make):
        """A read-only handle made once by ``make()`` and kept under ``key``."""
        cache = self.__dict__.setdefault("_constants", {})
        if key not in cache:
            cache[key] = make()
        return cache[key]

    def dtype_of(self, h):
        raise NotImplementedError

    def shares_storage(self, a, b):
        """Whether two handles are views of the same memory."""
        return a is b

    def data_ptr(self, h):
        """An integer address of the handle's first element, equal for handles that
        start at the same memory (PyTorch's data_ptr, for aliasing checks)."""
        return id(h)

    def reshape(self, h, shape):
        """Same data, new shape (no copy where the layout allows)."""
        raise NotImplementedError

    def permute(self, h, axes):
        raise NotImplementedError

    def cast(self, h, dtype):
        raise NotImplementedError

    def copy_(self, dst, src):
        """dst[...] = src (same shape)."""
        raise NotImplementedError

    def copy_many_(self, pairs):
        """copy_(dst, src) for each (dst, src): e.g. every f32 master weight into its
        f16 parameter after an optimizer step (a backend may do them in one pass)."""
        for dst, src in pairs:
            self.copy_(dst, src)

    # -- elementwise ---------------------------------------------------
    def unary(self, op, x, alpha=0.0, beta=0.0, out=None):
        raise NotImplementedError

    def binary(self, op, a, b, alpha=0.0, beta=0.0, out=None):
        raise NotImplementedError

    def slice(self, h, starts, steps, lens):
        """Contiguous copy of h[start:start+len*step:step] along every axis (steps > 0)."""
        raise NotImplementedError

    def unslice(self, g, shape, starts, steps):
        """Zeros of ``shape`` with g written at the slice's positions (its gradient)."""
        raise NotImplementedError

    def unslice_many(self, pieces, shape):
        """Zeros of ``shape`` plus each piece (g, starts, steps) at its slice: the sum
        of their unslices (autograd.SliceGrad's gradient; this default makes each
        and adds them)."""
        out = None
        for g, starts, steps in pieces:
            u = self.unslice(g, shape, starts, steps)
            out = u if out is None else self.binary("add", out, u)
        return out

    def put_slice(self, base, g, starts, steps):
        """A copy of ``base`` with g written at the slice's positions (as unslice, over
        base instead of zeros): cat's pieces."""
        raise NotImplementedError

    def cat(self, pieces, axis):
        """The pieces (one dtype; shapes equal but along ``axis``) joined along it.
        This default writes the first non-empty piece over zeros (unslice) and each
        other over the result so far (put_slice); more than two pieces are joined
        by halves (each level rewrites the result once: log2(n) passes, not n)."""
        if len(pieces) > 2:
            mid = len(pieces) // 2
            return self.cat([self.cat(pieces[:mid], axis), self.cat(pieces[mid:], axis)], axis)
        shape = list(pieces[0].shape)
        shape[axis] = sum(int(h.shape[axis]) for h in pieces)
        out, off, ones = None, 0, [1] * len(shape)
        for h in pieces:
            st = [0] * axis + [off] + [0] * (len(shape) - axis - 1)
            if int(np.prod(h.shape)):
                out = self.unslice(h, shape, st, ones) if out is None else self.put_slice(out, h, st, ones)
            off += h.shape[axis]
        return out if out is not None else self.full(tuple(shape), 0.0, self.dtype_of(pieces[0]))

    def gather_rows(self, w, idx):
        """Rows idx (int32 [B]) of w [V, D]: [B, D], bits copied; an index outside
        [0, V) gives a row of NaN (as one_hot: device indices are not range-checked)."""
        raise NotImplementedError

    def index_add_rows(self, g, idx, V):
        """gather_rows' adjoint: [V, D] whose row v sums, in f32 and in order, the rows
        of g [B, D] at the positions p with idx[p] == v (int32 [B]); an index outside
        [0, V) makes every row NaN.  This default multiplies g by the one-hot rows
        (one_hot(idx)^T @ g: V x B x D multiply-adds and a [B, V] matrix)."""
        self._index_add_shapes(g, idx)
        return self.matmul(self.one_hot(idx, V, self.dtype_of(g)), g, trans_a=True)

    # rows of at most this many R x n (gather_cols' f32 positions are exact) or
    # R x n x m (scatter_add_cols' comparisons) elements a piece
    _COLS_CHUNK = 1 << 22

    def _col_chunks(self, R, per_row):
        step = max(1, min(R, self._COLS_CHUNK // max(1, per_row)))
        return [(r0, min(R, r0 + step)) for r0 in range(0, R, step)]

    def gather_cols(self, x, idx):
        """out[r, j] = x[r, idx[r, j]] for x [R, n] and int32 idx [R, m] (torch.gather
        along the last axis), bits copied; an index outside [0, n) gives NaN there.
        This default: each row's positions r * n + idx in f32 (exact: rows are taken
        in pieces of fewer than 2**22 elements), out-of-range ones sent to -1, and
        gather_rows of x's elements."""
        R, n = x.shape
        m = idx.shape[1]
        pieces = []
        for r0, r1 in self._col_chunks(R, n):
            k = r1 - r0
            fi = self.cast(self.rows(idx, r0, r1), "f32")
            off = self.host_constant(("col_offsets", k, m, n),
                                     lambda: np.repeat(np.arange(k, dtype=np.float32) * n, m).reshape(k, m), "f32")
            ok = self.binary("mul", self.binary("ge", fi, self.constant((), 0.0, "f32")),
                             self.binary("gt", self.constant((), float(n), "f32"), fi))
            flat = self.select(ok, self.binary("add", fi, off), self.constant((k, m), -1.0, "f32"))
            xs = self.reshape(self.rows(x, r0, r1), (k * n, 1))
            pieces.append(self.reshape(self.gather_rows(xs, self.reshape(self.cast(flat, "i32"), (k * m,))), (k, m)))
        return pieces[0] if len(pieces) == 1 else self.cat(pieces, 0)

    def scatter_add_cols(self, src, idx, n):
        """gather_cols' adjoint: [R, n] in src's dtype whose element (r, i) sums, in
        f32, src[r, j] over the j with idx[r, j] == i (src [R, m], int32 idx [R, m]);
        an index outside [0, n) makes its row NaN.  This default compares each index with 0 .. n - 1
        ([R, n, m], rows in pieces) and sums the selected src (exact: a select, so an
        inf or NaN in src reaches only its own position)."""
        R, m = src.shape
        dt = "f64" if self.dtype_of(src) == "f64" else "f32"
        s = self._as(src, dt)
        ar = self.host_constant(("col_range", n), lambda: np.arange(n, dtype=np.float32).reshape(1, n, 1), "f32")
        pieces = []
        for r0, r1 in self._col_chunks(R, n * m):
            k = r1 - r0
            hit = self.binary("eq", self.reshape(self.cast(self.rows(idx, r0, r1), "f32"), (k, 1, m)), ar)
            hit = self._as(hit, dt)
            picked = self.select(hit, self.broadcast_to(self.reshape(self.rows(s, r0, r1), (k, 1, m)), (k, n, m)),
                                 self.constant((k, n, m), 0.0, dt))
            y = self.reduce("sum", picked, (2,), False)
            # a row whose indices do not all land in [0, n) (fewer than m hits): NaN
            miss = self.binary("sub", self.constant((k, 1), float(m), dt),
                               self.reshape(self.reduce("sum", hit, (1, 2), False), (k, 1)))
            pieces.append(self.select(self.broadcast_to(miss, (k, n)), self.constant((k, n), float("nan"), dt), y))
        out = pieces[0] if len(pieces) == 1 else self.cat(pieces, 0)
        return self._as(out, self.dtype_of(src))

    def sort_rows(self, x, descending=False):
        """(values, int32 positions) of each row of x [R, n] sorted, stably (equal
        values keep their order), NaN after every number -- before, with
        ``descending`` (PyTorch's sort(stable=True))."""
        raise NotImplementedError

    def _index_add_shapes(self, g, idx):
        """(B, D) of index_add_rows, or a BackendError naming the shapes."""
        if self.dtype_of(idx) != "i32" or len(idx.shape) != 1 or len(g.shape) != 2 or idx.shape[0] != g.shape[0]:
            raise BackendError(f"{self.name} index_add_rows: expected rows g [B, D] and int32 indices [B], got "
                               f"{list(g.shape)} and {self.dtype_of(idx)} {list(idx.shape)}")
        return g.shape

    def im2col(self, x, win, pad_value=0.0):
        """The sliding windows of x [N, C, H, W] as rows: [N * OH * OW, C * kh * kw],
        row (n, oh, ow), column (c, i, j) holding x[n, c, oh * sh - ph + i * dh,
        ow * sw - pw + j * dw], or ``pad_value`` where that falls outside x (bits
        copied).  ``win`` is a :class:`Window` (kernel, stride, padding before,
        dilation, output size: padding after is what the output size implies)."""
        raise NotImplementedError

    def col2im(self, cols, shape, win):
        """The adjoint of im2col: [N, C, H, W] (``shape``) whose every element is the
        sum, in f32 and in window order (i, then j), of the entries of cols
        [N * OH * OW, C * kh * kw] that im2col would copy from it."""
        raise NotImplementedError

    def window_max(self, x, win):
        """A max pool: (y, idx), both [N, C, OH, OW]: each window's maximum of x [N, C,
        H, W] (padding as -inf) and, int32, its first tap i * kw + j holding it (a NaN
        counting as the maximum).  This default reduces im2col's rows; a backend may
        read the windows in place."""
        N, C = x.shape[:2]
        (kh, kw), (OH, OW) = win.kernel, win.out
        rows = self.reshape(self.im2col(x, win, float("-inf")), (N * OH * OW * C, kh * kw))
        nchw = lambda h: self.permute(self.reshape(h, (N, OH, OW, C)), (0, 3, 1, 2))  # noqa: E731
        return nchw(self.reduce("max", rows, (1,), False)), nchw(self.argmax_rows(rows))

    def window_scatter(self, g, idx, shape, win):
        """A max pool's gradient: [N, C, H, W] (``shape``) from g [N, C, OH, OW] put at
        each window's tap ``idx`` (int32, the same layout: window_max's), the other
        taps 0, overlaps summed as col2im does.  This default builds the one-hot
        rows; a backend may gather."""
        N, C = shape[:2]
        (kh, kw), (OH, OW) = win.kernel, win.out
        R, K = N * OH * OW * C, kh * kw
        rows = lambda h: self.reshape(self.permute(h, (0, 2, 3, 1)), (R,))  # noqa: E731
        onehot = self.one_hot(rows(idx), K, self.dtype_of(g))
        return self.col2im(self.reshape(self.binary("mul", onehot, self.reshape(rows(g), (R, 1))),
                                        (N * OH * OW, C * K)), shape, win)

    def select(self, c, a, b):
        """a where c is nonzero (NaN counts), else b: three handles of one shape and
        one float dtype (the op broadcasts and converts them first); bits copied."""
        raise NotImplementedError

    def broadcast_to(self, h, shape):
        """A materialised copy of h broadcast to shape (NumPy rules)."""
        raise NotImplementedError

    # -- reductions ----------------------------------------------------
    def reduce(self, op, x, axes, keepdims, f32=False):
        """op in sum, max, sumsq; axes a sorted tuple of non-negative axes.  ``f32``:
        an f16 input's result stays f32 (a mean's sum, which f16 could not hold)."""
        raise NotImplementedError

    def argmax_rows(self, h):
        """int32 [R]: the first index of each row's maximum in h [R, C] (float), a NaN
        counting as the maximum (NumPy's and PyTorch's argmax).  Composed of the
        primitives, in f32 (f64 for f64; indices exact below 2**24): the row maxima
        m, w_j = (x_j == m or x_j is NaN) * (C - j) + C * (x_j is NaN), and from its
        row maximum W the index C - W, plus C where W > C (a row holding NaN)."""
        R, C = h.shape
        dt = "f64" if self.dtype_of(h) == "f64" else "f32"
        x = h if self.dtype_of(h) == dt else self.cast(h, dt)
        m = self.reduce("max", x, (1,), True)  # NaN in a row that holds one: x == m nowhere there
        nan = self.unary("affine", self.binary("eq", x, x), -1.0, 1.0)
        rank = self._kept(("rank", C, dt), lambda: self.from_numpy(np.arange(C, 0, -1, dtype=np.float64), dt))  # C - j
        w = self.binary("mul", self.binary("add", self.binary("eq", x, m), nan), rank)
        top = self.reduce("max", self.binary("add", w, self.unary("affine", nan, float(C), 0.0)), (1,), False)
        nan_row = self.binary("relu_bwd", self.unary("affine", top, 1.0, -float(C)), self.constant((R,), C, dt))
        return self.cast(self.binary("add", self.unary("affine", top, -1.0, float(C)), nan_row), "i32")

    # -- linear algebra ------------------------------------------------
    def matmul(self, a, b, trans_a=False, trans_b=False, bias=None, act=None):
        """op(a) @ op(b) (+ bias broadcast over rows) then activation; 2-D."""
        raise NotImplementedError

    def bmm(self, a, b, trans_a=False, trans_b=False):
        """A batch of products: [B, M, K] @ [B, K, N] -> [B, M, N] in a's dtype (summed
        in f32); ``trans_a`` / ``trans_b``: that operand stored with its last two
        axes swapped ([B, K, M], [B, N, K])."""
        raise NotImplementedError

    def _bmm_shapes(self, a, b, trans_a, trans_b):
        """(B, M, K, N) of a bmm, or a BackendError naming the shapes."""
        ok = len(a.shape) == 3 and len(b.shape) == 3 and a.shape[0] == b.shape[0]
        if ok:
            (Bt, M, K), (_, Kb, N) = ((a.shape[0],) + a.shape[:0:-1] if trans_a else a.shape,
                                      (b.shape[0],) + b.shape[:0:-1] if trans_b else b.shape)
            ok = K == Kb
        if not ok or self.dtype_of(a) != self.dtype_of(b):
            raise BackendError(f"{self.name} bmm: expected [B, M, K] @ [B, K, N] of one dtype, got {list(a.shape)} "
                               f"(trans={trans_a}) {self.dtype_of(a)} and {list(b.shape)} (trans={trans_b}) "
                               f"{self.dtype_of(b)}")
        return Bt, M, K, N

    # -- softmax family ------------------------------------------------
    def softmax(self, x, log=False):
        """(log-)softmax over the last axis of a 2-D handle."""
        raise NotImplementedError

    def softmax_bwd(self, y, g, log=False):
        """softmax's gradient over the last axis from its output y and the output's
        gradient g: y (g - sum(g y)); log-softmax's (y its output): g - exp(y) sum(g)."""
        ax = (len(y.shape) - 1,)
        if log:
            return self.binary("sub", g, self.binary("mul", self.unary("exp", y), self.reduce("sum", g, ax, True)))
        return self.binary("mul", y, self.binary("sub", g, self.reduce("sum", self.binary("mul", g, y), ax, True)))

    def softmax_xent(self, logits, target, ignore=None):
        """Mean over rows of -sum(target * log_softmax(logits)); ``target`` is dense
        [rows, C] or int32 class labels [rows]; with labels, rows labelled ``ignore``
        (an int: PyTorch's ignore_index) take no part -- the mean over the others
        (none: NaN), their gradient rows 0.

        Returns (loss as a 0-d handle, in f32 for f16 logits (computed in f32, as
        every loss of f16 inputs), else in the logits' dtype; its gradient for the
        logits, (softmax(logits) * rowsum(target) - target) / rows -- dense rows
        need not sum to 1 --, in the logits' dtype): the
        backward is computed with the forward (the loss is nearly always the end
        of the graph, so the upstream gradient is 1 and no further dispatch is
        needed)."""
        raise NotImplementedError

    def act_bias_bwd(self, act, y, g, need_db=True):
        """A linear layer's backward through its activation: (gp, db) with
        gp = g * act'(.) and db = gp summed over rows (None unless need_db).
        ``y`` is the layer's output for relu/sigmoid/tanh, its input for gelu.
        Backends may fuse the two; this default composes the primitives."""
        if act == "relu":
            gp = self.binary("relu_bwd", y, g)
        else:
            gp = self.binary(act + "_bwd", y, g)
        return gp, (self.reduce("sum", gp, (0,), False) if need_db else None)

    # -- normalisation -------------------------------------------------
    def batchnorm_fwd(self, x, gamma, beta, eps, running_mean=None, running_var=None, momentum=0.1):
        """Train mode over axis 0 of [N, C]: returns (y, mean, var, invstd); y in x's
        dtype, the batch statistics in f32 (f64 for f64 x) whatever x's dtype, as
        batchnorm_bwd reads them.

        With running statistics (f32/f64 handles) it also updates them in place:
        rm += momentum*(mean - rm), rv += momentum*(unbiased var - rv)."""
        raise NotImplementedError

    def batchnorm_bwd(self, g, x, mean, invstd, gamma):
        """Exact gradient through the batch statistics: (dx, dgamma, dbeta)."""
        raise NotImplementedError

    def batchnorm_planes_fwd(self, x, gamma, beta, eps, running_mean=None, running_var=None, momentum=0.1):
        """batchnorm_fwd over channel planes x [N, C, S] (a spatial input's axes after
        the channels flattened) where the backend runs it so, without transposing
        to rows [N S, C]: (y [N, C, S], mean, var, invstd); None (this default):
        ops.batch_norm transposes to rows and back."""
        return None

    def batchnorm_planes_bwd(self, g, x, mean, invstd, gamma):
        """batchnorm_planes_fwd's exact gradient: (dx [N, C, S], dgamma, dbeta)."""
        raise NotImplementedError(f"{type(self).__name__}: batchnorm_planes_bwd without batchnorm_planes_fwd")

    def layer_norm(self, x, w, b, eps):
        """Rows of x [R, D] normalised: xhat = (x - mean) * rstd, rstd = 1 / sqrt(var +
        eps), the variance biased; then * w and + b ([D] in x's dtype, or None).
        Returns (y in x's dtype, mean [R], rstd [R]) -- the statistics in f32 (f64
        for f64 x), as layer_norm_bwd reads them.  Backends may fuse it; this
        default composes the primitives (in f32 for f16 x)."""
        R, D = x.shape
        st = "f64" if self.dtype_of(x) == "f64" else "f32"
        xf = self._as(x, st)
        mean = self.unary("affine", self.reduce("sum", xf, (1,), True), 1.0 / D, 0.0)
        d = self.binary("sub", xf, mean)
        var = self.unary("affine", self.reduce("sum", self.binary("mul", d, d), (1,), True), 1.0 / D, float(eps))
        rstd = self.unary("pow", var, -0.5)
        y = self.binary("mul", d, rstd)
        if w is not None:
            y = self.binary("mul", y, self._as(w, st))
        if b is not None:
            y = self.binary("add", y, self._as(b, st))
        return self._as(y, self.dtype_of(x)), self.reshape(mean, (R,)), self.reshape(rstd, (R,))

    def layer_norm_bwd(self, g, x, w, mean, rstd, need_gx):
        """layer_norm's gradient through its statistics: (dx, gx) with gw = g * w
        (g without w), dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)) over each
        row, in x's dtype, and gx = g * xhat (in x's dtype or wider) -- its column
        sums are w's gradient -- when ``need_gx``, else None."""
        R, D = x.shape
        st = self.dtype_of(mean)
        m, r = self.reshape(mean, (R, 1)), self.reshape(rstd, (R, 1))
        gf = self._as(g, st)
        xhat = self.binary("mul", self.binary("sub", self._as(x, st), m), r)
        gw = self.binary("mul", gf, self._as(w, st)) if w is not None else gf
        a = self.unary("affine", self.reduce("sum", gw, (1,), True), 1.0 / D, 0.0)
        c = self.unary("affine", self.reduce("sum", self.binary("mul", gw, xhat), (1,), True), 1.0 / D, 0.0)
        dx = self.binary("mul", self.binary("sub", self.binary("sub", gw, a), self.binary("mul", xhat, c)), r)
        return self._as(dx, self.dtype_of(x)), (self.binary("mul", gf, xhat) if need_gx else None)

    # -- recurrent cells (ops.rnn) ------------------------------------------
    # Gates [N, G * H] hold gate k of row r's units at columns k * H .. k * H + H - 1
    # (PyTorch's order: LSTM i, f, g, o; GRU r, z, n).  Backends may fuse a step into
    # one kernel; these defaults compose the primitives.
    def rows(self, h, start, stop):
        """h[start:stop] along its first axis, read-only: a view where the backend
        can (no copy); this default copies (slice)."""
        lens = list(h.shape)
        lens[0] = stop - start
        return self.slice(h, [start] + [0] * (len(lens) - 1), [1] * len(lens), lens)

    def row_views(self, shape, dtype):
        """(a new buffer of ``shape``, writable views of each of its rows along the
        first axis) for kernels to write into in place of a later cat -- a
        recurrence's per-step outputs -- or None where the backend has no such
        views (this default)."""
        return None

    def _into(self, out, h):
        """h written into ``out`` (a row view) when one is given."""
        if out is None:
            return h
        self.copy_(out, h)
        return out

    def _gate(self, h, k, H):
        return self.slice(h, [0, k * H], [1, 1], [h.shape[0], H])

    def lstm_cell(self, xg, hg, c, out=None):
        """One LSTM step from the input's and the state's projections xg, hg [N, 4H]
        and the cell c [N, H]: (h', c', acts) with acts = [sigmoid(i), sigmoid(f),
        tanh(g), sigmoid(o)] of xg + hg (lstm_cell_bwd's input), c' = f c + i g,
        h' = o tanh(c').  ``out``: a row view h' is written into (row_views)."""
        H = c.shape[1]
        pre = self.binary("add", xg, hg)
        i, f, g, o = (self.unary("tanh" if k == 2 else "sigmoid", self._gate(pre, k, H)) for k in range(4))
        c2 = self.binary("add", self.binary("mul", f, c), self.binary("mul", i, g))
        return self._into(out, self.binary("mul", o, self.unary("tanh", c2))), c2, self.cat([i, f, g, o], 1)

    def lstm_cell_bwd(self, dh, dc, acts, c, c2, out=None):
        """lstm_cell's gradient: (dgates [N, 4H], the pre-activations', and dc for
        the previous cell c) from dh (h''s gradient), dc (c''s besides through h';
        None: zero), acts, c and c'; ``out``: a row view for dgates."""
        H = c.shape[1]
        i, f, g, o = (self._gate(acts, k, H) for k in range(4))
        tc = self.unary("tanh", c2)
        dct = self.binary("tanh_bwd", tc, self.binary("mul", dh, o))
        if dc is not None:
            dct = self.binary("add", dct, dc)
        dg = [self.binary("sigmoid_bwd", i, self.binary("mul", dct, g)),
              self.binary("sigmoid_bwd", f, self.binary("mul", dct, c)),
              self.binary("tanh_bwd", g, self.binary("mul", dct, i)),
              self.binary("sigmoid_bwd", o, self.binary("mul", dh, tc))]
        return self._into(out, self.cat(dg, 1)), self.binary("mul", dct, f)

    def gru_cell(self, xg, hg, h, out=None):
        """One GRU step from xg, hg [N, 3H] (hg with b_hh) and h [N, H]: (h', acts)
        with acts = [r, z, n], r, z = sigmoid(xg + hg), n = tanh(xg_n + r hg_n),
        h' = n + z (h - n) (= (1 - z) n + z h); ``out``: a row view for h'."""
        H = h.shape[1]
        r, z = (self.unary("sigmoid", self.binary("add", self._gate(xg, k, H), self._gate(hg, k, H))) for k in (0, 1))
        n = self.unary("tanh", self.binary("add", self._gate(xg, 2, H), self.binary("mul", r, self._gate(hg, 2, H))))
        return (self._into(out, self.binary("add", n, self.binary("mul", z, self.binary("sub", h, n)))),
                self.cat([r, z, n], 1))

    def gru_cell_bwd(self, dh, acts, hg, h, out=None):
        """gru_cell's gradient from dh: (dxg, dhg [N, 3H], dh z -- h's gradient but
        through hg); ``out``: a row view for dxg."""
        H = h.shape[1]
        r, z, n = (self._gate(acts, k, H) for k in range(3))
        dhz = self.binary("mul", dh, z)
        dn = self.binary("tanh_bwd", n, self.binary("sub", dh, dhz))
        dz = self.binary("sigmoid_bwd", z, self.binary("mul", dh, self.binary("sub", h, n)))
        dr = self.binary("sigmoid_bwd", r, self.binary("mul", dn, self._gate(hg, 2, H)))
        return self._into(out, self.cat([dr, dz, dn], 1)), self.cat([dr, dz, self.binary("mul", dn, r)], 1), dhz

    def conv2d_fwd(self, x, w, bias, win, groups=1):
        """conv2d in one call where the backend runs it so: out [N, OC, OH, OW] from x
        [N, C, H, W], w [OC, C / groups * kh * kw] (columns in im2col's tap order; the
        outputs of group q from its inputs q C / groups ...) and bias [OC] or None,
        zeros padded; None (this default): ops.conv2d composes im2col, products and
        a transpose."""
        return None

    def conv2d_bwd(self, g, x, w, win, need_x, need_w, need_b, x_shape=None, groups=1):
        """conv2d_fwd's gradients from g [N, OC, OH, OW]: (x's, w's [OC, C / groups * kh
        * kw], the bias's [OC]), each where asked, else None; x may be None where w's is
        not asked, x_shape then its shape (conv_transpose2d's forward is x's
        gradient).  None (this default) where the backend has no such call."""
        return None

    def recurrence_fwd(self, mode, xg, h0, c0, w_hh, b_hh, reverse):
        """A whole recurrence (ops.recurrence without packed lengths or a projection)
        in one call where the backend runs it as one: (out [T, N, H] -- each step's h'
        in time order --, h_n, c_n (an LSTM's, else None), saved -- what
        recurrence_bwd takes); None (this default): ops.recurrence steps through it
        with the cells.  mode, xg [T, N, G H], h0, c0, w_hh [G H, H], b_hh (a GRU's)
        and reverse as ops.recurrence's."""
        return None

    def recurrence_bwd(self, saved, g_out, dh, dc):
        """recurrence_fwd's gradient through the steps from the gradients of out (g_out),
        h_n (dh) and c_n (dc), each None where there is none: (dxg [T, N, G H], dhg
        [T, N, G H] -- the state products' (a GRU's differ from dxg) --, h0's, c0's or
        None).  The weights' gradients are the caller's (one product over all steps)."""
        raise NotImplementedError(f"{type(self).__name__}: recurrence_bwd without recurrence_fwd")

    def _as(self, h, dtype):
        """h in dtype, converted only where it differs (f16 operands of an f32
        composition; on Vulkan, shaders with scattered writes produce f32 for f16
        tensors, and f16 gradients meet f32 master weights)."""
        return h if self.dtype_of(h) == dtype else self.cast(h, dtype)

    # -- random --------------------------------------------------------
    def dropout(self, x, p, seed):
        """(x * mask, mask), mask 0 or 1/(1-p) from a counter-based hash of (seed, index)."""
        raise NotImplementedError

    def one_hot(self, labels, num_classes, dtype):
        raise NotImplementedError

    # -- optimizer updates (in place) ------------------------------------
    # lr, step and dropout seeds may be zero-argument callables: a backend that
    # replays a captured step re-reads them on every replay.
    def sgd_(self, p, g, buf, lr, momentum, dampening, nesterov, weight_decay, first):
        raise NotImplementedError

    def adam_(self, p, g, m, v, lr, beta1, beta2, eps, weight_decay, step, decoupled, sq_coef=None,
              form="adam", scalars=None):
        """form "adam": m = b1 m + (1 - b1) g, v = b2 v + c2 g^2 (c2 = ``sq_coef``,
        default 1 - b2), p -= lr / (1 - b1^t) m / (sqrt(v / (1 - b2^t)) + eps)
        (``adam_scalars``); L2 or decoupled weight decay.  Adam, AdamW, RMSprop (b1 =
        0, t = inf) and Adagrad (b1 = 0, b2 = c2 = 1, t = inf) are this one update.
        RMSprop's other forms (t = inf): "momentum", v first, then m = b1 m + g /
        (sqrt(v) + eps), p -= lr m; "centered", m the gradient's average as in "adam",
        p -= lr g / (sqrt(v - m^2) + eps).  "adamax": v = max(b2 v, |g| + eps), p -=
        step_size m / v; "nadam": p -= (step_size m + aux g) / (sqrt(v) rbc2 + eps);
        "radam": p -= m (step_size / (sqrt(v) + eps) + aux); "adadelta": v first, then
        u = sqrt(m + eps) / sqrt(v + eps) g, m = b2 m + (1 - b2) u^2, p -= step_size u;
        "centered_momentum": m holds two buffers, the gradient's average a in its first
        n elements and the momentum buffer b from element mom_at(n) (a multiple of 64:
        its own aligned view); v first, a = b2 a + (1 - b2) g, b = b1 b + g / (sqrt(v -
        a^2) + eps), p -= step_size b.
        ``scalars``: a callable giving (step_size, rbc2, aux), else adam_scalars' and
        aux = 0.  ``lr``, ``beta1``, ``step`` and ``scalars`` may be zero-argument
        callables (re-read when a captured step is replayed); so may sgd_'s ``lr``
        and ``momentum``."""
        raise NotImplementedError

    def adam_multi_(self, items, lr, beta1, beta2, eps, weight_decay, step, decoupled, sq_coef=None,
                    form="adam", scalars=None):
        """adam_ over [(p, g, m, v), ...] sharing one step count; backends may fuse.
        In the optimizer primitives g may be f16 for an f32 p (an f16 parameter's
        f32 master weight); the update reads it in f32."""
        for p, g, m, v in items:
            self.adam_(p, g, m, v, lr, beta1, beta2, eps, weight_decay, step, decoupled, sq_coef, form, scalars)

    # -- memory --------------------------------------------------------
    def memory_stats(self):
        """{"allocated_bytes", "reserved_bytes", ...} of a backend that pools memory."""
        raise BackendError(f"memory statistics: the {self.device} device keeps no memory pool "
                           "(its tensors are NumPy arrays)")

    def empty_cache(self):
        """Give pooled memory that holds no tensor back; the bytes released (0 here)."""
        return 0

    # -- synchronisation -----------------------------------------------
    capturing = False

    def on_replay(self, hook):
        """Run ``hook()`` before each replay of the step being captured (no-op here)."""

    def synchronize(self):
        """Wait for all queued work (no-op on synchronous backends)."""

    def end_step(self):
        """Called after an optimizer step: a natural point to submit queued work,
        so that the step's temporaries can be reused by the next one."""
        self.synchronize()
