"""PyTorch's spellings of what the other ops already do, as functions (the Tensor
methods of the same names call them): shape moves (flatten, squeeze, movedim,
narrow, repeat_interleave, ...), small products (mm, mv, dot, addmm), lerp, fmod,
remainder, ne, clamp_min / clamp_max / clip, all / any."""
from __future__ import annotations

import builtins
import numbers

import numpy as np

from ..tensor import Tensor
from ._core import as_tensor, check_tensor, int_as_f32
from .elementwise import add, clamp, eq, floor, mul, neg, sub, trunc
from .nn import matmul
from .shape import amax, amin, broadcast_to, cat, getitem, index_select, reshape, transpose


def flatten(x, start_dim=0, end_dim=-1):
    """Axes start_dim .. end_dim merged into one."""
    check_tensor("flatten", x)
    return x.flatten(start_dim, end_dim)


def unflatten(x, dim, sizes):
    """Axis ``dim`` split into ``sizes`` (one may be -1)."""
    check_tensor("unflatten", x)
    d = x._dim("unflatten", dim)
    sizes = tuple(int(s) for s in sizes)
    known = int(np.prod([s for s in sizes if s != -1]))
    if sizes.count(-1) > 1 or (sizes.count(-1) == 0 and known != x.shape[d]) or (
            sizes.count(-1) == 1 and (known == 0 or x.shape[d] % known)):
        raise ValueError(f"unflatten: sizes {list(sizes)} do not split axis {d} of length {x.shape[d]}")
    sizes = tuple(x.shape[d] // known if s == -1 else s for s in sizes)
    return reshape(x, x.shape[:d] + sizes + x.shape[d + 1:])


def squeeze(x, dim=None):
    """Axes of size 1 removed: all, or ``dim``."""
    check_tensor("squeeze", x)
    return x.squeeze(dim)


def unsqueeze(x, dim):
    """An axis of size 1 inserted at ``dim``."""
    check_tensor("unsqueeze", x)
    return x.unsqueeze(dim)


def permute(x, dims):
    """The axes in the order ``dims``."""
    check_tensor("permute", x)
    return x.permute(dims)


def swapaxes(x, axis0, axis1):
    """Two axes swapped (PyTorch's transpose(x, dim0, dim1), swapdims)."""
    check_tensor("swapaxes", x)
    return x.swapaxes(axis0, axis1)


swapdims = swapaxes


@int_as_f32
def t(x):
    """A matrix transposed (vectors and scalars as they are)."""
    check_tensor("t", x)
    if x.ndim > 2:
        raise ValueError(f"t: expects a tensor of at most 2 dimensions, got shape {list(x.shape)}")
    return x if x.ndim < 2 else transpose(x)


def movedim(x, source, destination):
    """Axes ``source`` moved to positions ``destination`` (ints or sequences), the
    others keeping their order."""
    check_tensor("movedim", x)
    src = [source] if isinstance(source, numbers.Integral) else list(source)
    dst = [destination] if isinstance(destination, numbers.Integral) else list(destination)
    if len(src) != len(dst):
        raise ValueError(f"movedim: {len(src)} source axes for {len(dst)} destinations")
    src = [x._dim("movedim", s) for s in src]
    dst = [x._dim("movedim", d) for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"movedim: repeated axes in {source} or {destination}")
    order = [None] * x.ndim
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(i for i in range(x.ndim) if i not in src)
    order = [o if o is not None else next(rest) for o in order]
    return x if order == list(range(x.ndim)) else transpose(x, tuple(order))


moveaxis = movedim


@int_as_f32
def narrow(x, dim, start, length):
    """x[..., start:start + length, ...] along ``dim`` (start may be negative)."""
    check_tensor("narrow", x)
    d = x._dim("narrow", dim)
    n = x.shape[d]
    s = int(start) + (n if int(start) < 0 else 0)
    if not (0 <= s <= n and 0 <= int(length) <= n - s):
        raise IndexError(f"narrow: start {start} and length {length} do not fit axis {d} of length {n}")
    return getitem(x, tuple(slice(s, s + int(length)) if i == d else slice(None) for i in range(x.ndim)))


@int_as_f32
def repeat_interleave(x, repeats, dim=None):
    """Each element (``dim=None``: of the flattened x) or slice along ``dim``
    repeated ``repeats`` times (an int, or one count per slice): a gather whose
    gradient sums the copies."""
    check_tensor("repeat_interleave", x)
    if dim is None:
        x, d = reshape(x, (x.size,)), 0
    else:
        d = x._dim("repeat_interleave", dim)
    n = x.shape[d]
    r = np.asarray(repeats.numpy() if isinstance(repeats, Tensor) else repeats)
    if r.dtype.kind not in "iu" or r.ndim > 1 or (r.ndim == 1 and r.size != n) or (r < 0).any():
        raise ValueError(f"repeat_interleave: repeats must be a non-negative int or {n} of them, got {repeats!r}")
    return index_select(x, d, np.repeat(np.arange(n), r))


def _product(op, a, b, fits, expected):
    for t_ in (a, b):
        check_tensor(op, t_)
    if not fits(a, b):
        raise ValueError(f"{op}: expected {expected}, got shapes {list(a.shape)} and {list(b.shape)}")
    return matmul(a, b)


def mm(a, b):
    """The product of two matrices (no broadcasting)."""
    return _product("mm", a, b, lambda a, b: a.ndim == 2 and b.ndim == 2, "two matrices")


def mv(a, v):
    """A matrix times a vector."""
    return _product("mv", a, v, lambda a, v: a.ndim == 2 and v.ndim == 1, "a matrix and a vector")


def dot(a, b):
    """The dot product of two vectors of one length."""
    return _product("dot", a, b, lambda a, b: a.ndim == 1 and b.shape == a.shape, "two vectors of one length")


def addmm(input, mat1, mat2, beta=1.0, alpha=1.0):
    """beta * input + alpha * (mat1 @ mat2), input broadcast."""
    p = mm(mat1, mat2)
    return add(input if beta == 1 else mul(input, float(beta)), p if alpha == 1 else mul(p, float(alpha)))


def lerp(start, end, weight):
    """start + weight * (end - start) (weight a number or a tensor)."""
    check_tensor("lerp", start)
    return add(start, mul(sub(end, start), weight))


def fmod(a, b):
    """The remainder of a / b with a's sign (C's fmod): a - trunc(a / b) * b."""
    from .elementwise import _pair
    a, b = _pair("fmod", a, b)
    return sub(a, mul(trunc(a / b), b))


def remainder(a, b):
    """The remainder with b's sign (Python's %): a - floor(a / b) * b."""
    from .elementwise import _pair
    a, b = _pair("remainder", a, b)
    return sub(a, mul(floor(a / b), b))


def ne(a, b):
    """1.0 where a != b (NaN too), else 0.0 (not differentiable)."""
    return eq(a, b) * -1.0 + 1.0


def clamp_min(x, min):
    return clamp(x, min=min)


def clamp_max(x, max):
    return clamp(x, max=max)


clip = clamp


def _nonzero(op, x):
    check_tensor(op, x)
    return ne(x.detach(), 0.0)


@int_as_f32(int_result=False)
def all(x, dim=None, keepdim=False):
    """1.0 where every element along ``dim`` (all: None) is nonzero (NaN counts),
    else 0.0 (not differentiable)."""
    return amin(_nonzero("all", x), dim, keepdim)


@int_as_f32(int_result=False)
def any(x, dim=None, keepdim=False):
    """1.0 where some element along ``dim`` is nonzero, else 0.0."""
    return amax(_nonzero("any", x), dim, keepdim)


def meshgrid(*tensors, indexing="ij"):
    """PyTorch's meshgrid: the 1-d tensors broadcast into grids of all of their
    lengths ("ij": the first varies along axis 0; "xy": the first two swapped)."""
    ts = list(tensors[0]) if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else list(tensors)
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for t_ in ts:
        if not (isinstance(t_, Tensor) and t_.dtype == "i32"):  # (int32: broadcast_to takes it)
            check_tensor("meshgrid", t_)
        if t_.ndim != 1:
            raise ValueError(f"meshgrid: expected 1-d tensors, got shape {list(t_.shape)}")
    order = list(range(len(ts)))
    if indexing == "xy" and len(ts) >= 2:
        order[0], order[1] = 1, 0
    shape = tuple(ts[i].shape[0] for i in order)
    out = []
    for k, t_ in enumerate(ts):
        pos = order.index(k)
        view = reshape(t_, tuple(t_.shape[0] if d == pos else 1 for d in range(len(ts))))
        out.append(broadcast_to(view, shape))
    return tuple(out)


def _atleast(t_, n):
    return reshape(t_, t_.shape + (1,) * (n - t_.ndim)) if t_.ndim < n else t_


def hstack(tensors):
    """Joined along axis 1 (axis 0 for vectors), as NumPy's / PyTorch's hstack."""
    ts = list(tensors)
    return cat(ts, 0 if builtins.all(t_.ndim == 1 for t_ in ts) else 1)


def vstack(tensors):
    """Joined along axis 0, vectors as rows."""
    return cat([reshape(t_, (1,) + t_.shape) if t_.ndim == 1 else t_ for t_ in tensors], 0)


def dstack(tensors):
    """Joined along axis 2, vectors as [1, n, 1] and matrices as [m, n, 1]."""
    return cat([_atleast(reshape(t_, (1,) + t_.shape) if t_.ndim == 1 else t_, 3) for t_ in tensors], 2)


def column_stack(tensors):
    """Vectors as columns, joined along axis 1."""
    return cat([reshape(t_, (t_.shape[0], 1)) if t_.ndim == 1 else t_ for t_ in tensors], 1)


def logaddexp(a, b):
    """log(exp(a) + exp(b)) without overflow: max(a, b) + log1p(exp(-|a - b|))."""
    from .elementwise import abs as abs_, exp, log1p, maximum
    check_tensor("logaddexp", a)
    return add(maximum(a, b), log1p(exp(-abs_(sub(a, b)))))


def logit(x, eps=None):
    """log(x / (1 - x)), x clamped into [eps, 1 - eps] when eps is given."""
    from .elementwise import log
    check_tensor("logit", x)
    if eps is not None:
        x = clamp(x, float(eps), 1.0 - float(eps))
    return sub(log(x), log(1.0 - x))


def xlogy(x, y):
    """x * log(y), 0 where x is 0 (PyTorch's; a NaN y stays NaN)."""
    from .elementwise import eq, isnan, log, where
    check_tensor("xlogy", x)
    y = as_tensor("xlogy", y, x)
    keep = isnan(y) + (1.0 - eq(x, 0.0))
    return where(keep, mul(x, log(where(keep, y, 1.0))), 0.0)


def cdist(x1, x2, p=2.0):
    """PyTorch's cdist: the p-norm distances between the rows of x1 [..., P, M] and
    x2 [..., R, M] -> [..., P, R] (batch axes broadcast).  p = 2 with more than 25
    rows on a side: |a|^2 + |b|^2 - 2 a.b (one product, clamped at 0; PyTorch's
    choice), else the ``norm`` of the differences (p >= 0, inf); a zero distance's
    gradient is 0."""
    from .elementwise import maximum
    from .nn import matmul
    from .shape import norm, root_of_sum, sum as sum_
    check_tensor("cdist", x1)
    check_tensor("cdist", x2)
    if x1.ndim < 2 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-1]:
        raise ValueError(f"cdist: expected [..., P, M] and [..., R, M], got {list(x1.shape)} and {list(x2.shape)}")
    if not float(p) >= 0:
        raise ValueError(f"cdist: p must be >= 0, got {p}")
    if float(p) == 2.0 and (x1.shape[-2] > 25 or x2.shape[-2] > 25):
        sq = add(add(sum_(x1 * x1, -1, keepdims=True), sum_(x2 * x2, -1).unsqueeze(-2)),
                 mul(matmul(x1, x2.swapaxes(-1, -2)), -2.0))
        return root_of_sum(maximum(sq, 0.0))
    return norm(sub(x1.unsqueeze(-2), x2.unsqueeze(-3)), float(p), -1)


# -- logical and small elementwise forms (comparisons' 1.0 / 0.0: vkgrad has no bool dtype)
def logical_not(x):
    """1.0 where x is 0, else 0.0 (a float tensor, not differentiable)."""
    check_tensor("logical_not", x)
    return eq(x.detach(), 0.0)


def _logical(op, a, b, combine):
    from .elementwise import _pair
    a, b = _pair(op, a, b)
    return combine(ne(a.detach(), 0.0), ne(b.detach(), 0.0))


def logical_and(a, b):
    """1.0 where both are nonzero, else 0.0 (broadcast; not differentiable)."""
    return _logical("logical_and", a, b, mul)


def logical_or(a, b):
    """1.0 where either is nonzero, else 0.0."""
    from .elementwise import maximum
    return _logical("logical_or", a, b, maximum)


def logical_xor(a, b):
    """1.0 where exactly one is nonzero, else 0.0."""
    return _logical("logical_xor", a, b, ne)


# -- bitwise ops of int32 tensors (PyTorch's integer & | ^ ~ << >>): on the host, NumPy's int32
# arithmetic -- a read back and an upload on a device; vkgrad's shaders have no integer ops
def is_integer_pair(a, b=0):
    """Whether ``a`` and ``b`` are int32 tensors or Python ints, one a tensor: the
    operands of a bitwise op (floats, and masks, are logical)."""
    ints = [isinstance(x, Tensor) and x.dtype == "i32" or isinstance(x, numbers.Integral) and not isinstance(x, bool)
            for x in (a, b)]
    return builtins.all(ints) and (isinstance(a, Tensor) or isinstance(b, Tensor))


def _bitwise(op, fn, *operands):
    from ..tensor import tensor
    arrays, device = [], None
    for x in operands:
        if isinstance(x, Tensor):
            if x.dtype != "i32":
                raise TypeError(f"{op}: expected int32 tensors or Python ints, got a {x.dtype} tensor of shape "
                                f"{list(x.shape)} (1.0 / 0.0 masks combine with logical_and / logical_or / "
                                "logical_xor / logical_not, which & | ^ ~ give for them)")
            device = device or x.device
            if x.device != device:
                raise ValueError(f"{op}: operands on {device} and {x.device}; move one with .to(device)")
            arrays.append(x.numpy())
        elif isinstance(x, numbers.Integral) and not isinstance(x, bool):
            arrays.append(np.int32(x))
        else:
            raise TypeError(f"{op}: expected int32 tensors or Python ints, got {type(x).__name__}")
    if device is None:
        raise TypeError(f"{op}: expected at least one tensor")
    try:
        np.broadcast_shapes(*(np.shape(a) for a in arrays))
    except ValueError:
        raise ValueError(f"{op}: shapes {[list(np.shape(a)) for a in arrays]} cannot be broadcast together "
                         "(NumPy rules: trailing dimensions must match or be 1)") from None
    return tensor(np.asarray(fn(*arrays)).astype(np.int32), dtype="i32", device=device)


def bitwise_and(a, b):
    """a AND b bit by bit (int32 tensors or Python ints, broadcast), as PyTorch's."""
    return _bitwise("bitwise_and", np.bitwise_and, a, b)


def bitwise_or(a, b):
    """a OR b bit by bit, as ``bitwise_and``."""
    return _bitwise("bitwise_or", np.bitwise_or, a, b)


def bitwise_xor(a, b):
    """a XOR b bit by bit, as ``bitwise_and``."""
    return _bitwise("bitwise_xor", np.bitwise_xor, a, b)


def bitwise_not(x):
    """~x bit by bit (-x - 1) of an int32 tensor."""
    return _bitwise("bitwise_not", np.invert, x)


def _shift(op, fn, a, b):
    shifts = b.numpy() if isinstance(b, Tensor) and b.dtype == "i32" else b
    if np.any(np.asarray(shifts) < 0) or np.any(np.asarray(shifts) > 31):
        raise ValueError(f"{op}: shifts must lie in [0, 31] for int32, got {np.asarray(shifts).min()} .. "
                         f"{np.asarray(shifts).max()}")
    return _bitwise(op, fn, a, b)


def bitwise_left_shift(a, b):
    """a << b (int32; bits shifted out are lost, as PyTorch's)."""
    return _shift("bitwise_left_shift", np.left_shift, a, b)


def bitwise_right_shift(a, b):
    """a >> b, arithmetic (the sign kept: -8 >> 1 is -4, as PyTorch's)."""
    return _shift("bitwise_right_shift", np.right_shift, a, b)


def addcmul(input, tensor1, tensor2, value=1.0):
    """input + value * tensor1 * tensor2 (broadcast)."""
    check_tensor("addcmul", input)
    p = mul(tensor1, tensor2)
    return add(input, p if value == 1 else mul(p, float(value)))


def addcdiv(input, tensor1, tensor2, value=1.0):
    """input + value * tensor1 / tensor2 (broadcast)."""
    check_tensor("addcdiv", input)
    q = tensor1 / tensor2
    return add(input, q if value == 1 else mul(q, float(value)))


def heaviside(x, values):
    """0 where x < 0, ``values`` where x == 0, 1 where x > 0 (NaN stays NaN); not
    differentiable in x."""
    from .elementwise import gt, where
    check_tensor("heaviside", x)
    xd = x.detach()
    return where(ne(xd, xd), xd, where(eq(xd, 0.0), values, gt(xd, 0.0)))


def floor_divide(a, b):
    """floor(a / b) (PyTorch's floor_divide and //; zero gradient)."""
    from .elementwise import _pair
    a, b = _pair("floor_divide", a, b)
    return floor(a / b)


def deg2rad(x):
    """Degrees to radians."""
    check_tensor("deg2rad", x)
    return mul(x, float(np.pi / 180.0))


def rad2deg(x):
    """Radians to degrees."""
    check_tensor("rad2deg", x)
    return mul(x, float(180.0 / np.pi))


@int_as_f32(at=(0, 1), int_result=False)
def isin(elements, test_elements, *, invert=False):
    """1.0 where an element of ``elements`` equals one of ``test_elements`` (a tensor,
    array or list; ``invert``: where none does), else 0.0: one comparison each."""
    from .shape import amax
    check_tensor("isin", elements)
    test = as_tensor("isin", test_elements, elements).reshape((-1,))
    hit = amax(eq(elements.detach().unsqueeze(-1), test), -1) if test.size else elements.detach() * 0.0
    return logical_not(hit) if invert else hit


def positive(x):
    """x itself (PyTorch's unary +)."""
    check_tensor("positive", x)
    return x



def divide(a, b, *, rounding_mode=None):
    """a / b, or its quotient rounded toward zero (``rounding_mode="trunc"``) or
    down ("floor"; zero gradient when rounded)."""
    from .elementwise import _pair, div
    if rounding_mode not in (None, "trunc", "floor"):
        raise ValueError(f"divide: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
    q = div(*_pair("divide", a, b))
    return q if rounding_mode is None else (trunc(q) if rounding_mode == "trunc" else floor(q))


true_divide = divide
multiply, subtract, negative = mul, sub, neg


# -- comparisons of whole tensors ------------------------------------------
def isclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
    """1.0 where |a - b| <= atol + rtol |b| (equal infinities too; NaN only with
    ``equal_nan``), else 0.0: NumPy's / PyTorch's test, broadcast."""
    from .elementwise import _pair, abs as abs_, isnan, le, maximum, where
    a, b = _pair("isclose", a, b)
    a, b = a.detach(), b.detach()
    close = le(abs_(sub(a, b)), add(mul(abs_(b), float(rtol)), float(atol)))
    close = maximum(where(isnan(close), 0.0, close), eq(a, b))  # (inf - inf is NaN: equal infinities)
    if equal_nan:
        close = maximum(close, mul(isnan(a), isnan(b)))
    return close


def allclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
    """Whether every element of a and b is close (``isclose``): a Python bool."""
    c = isclose(a, b, rtol, atol, equal_nan)
    return c.size == 0 or bool(amin(c).item() == 1.0)


def equal(a, b):
    """Whether a and b have one shape and the same elements (NaN never equal): a
    Python bool."""
    check_tensor("equal", a)
    check_tensor("equal", b)
    if a.shape != b.shape:
        return False
    return a.size == 0 or bool(amin(eq(a.detach(), b.detach())).item() == 1.0)


# -- shapes ------------------------------------------------------------------
@int_as_f32
def tensor_split(x, indices_or_sections, dim=0):
    """PyTorch's tensor_split: ``n`` pieces along ``dim`` as even as can be (the
    first length % n one longer), or the pieces between the given indices."""
    from .shape import _axis, split
    check_tensor("tensor_split", x)
    ax = _axis("tensor_split", x, dim)
    n = x.shape[ax]
    s = indices_or_sections
    if isinstance(s, Tensor):
        s = s.numpy().tolist()
    if isinstance(s, (list, tuple)):
        cuts = [builtins.min(builtins.max(int(i) + (n if int(i) < 0 else 0), 0), n) for i in s]
        bounds = [0] + cuts + [n]
        sizes = [builtins.max(b - a, 0) for a, b in zip(bounds, bounds[1:])]
        starts = bounds[:-1]
        return tuple(getitem(x, (slice(None),) * ax + (slice(a, a + k),)) for a, k in zip(starts, sizes))
    if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
        raise ValueError(f"tensor_split: sections must be a positive int or a list of indices, got {s!r}")
    k, r = divmod(n, int(s))
    return split(x, [k + 1] * r + [k] * (int(s) - r), ax)


def _nsplit(op, x, s, dim, least):
    check_tensor(op, x)
    if x.ndim < least:
        raise ValueError(f"{op}: expected at least {least} dimensions, got shape {list(x.shape)}")
    if isinstance(s, (int, np.integer)) and not isinstance(s, bool) and x.shape[dim] % s:
        raise ValueError(f"{op}: axis {dim} of length {x.shape[dim]} does not split into {s} equal pieces")
    return tensor_split(x, s, dim)


def hsplit(x, sections):
    """tensor_split along axis 1 (axis 0 of a vector), equal pieces for an int."""
    return _nsplit("hsplit", x, sections, 0 if getattr(x, "ndim", 0) == 1 else 1, 1)


def vsplit(x, sections):
    """tensor_split along axis 0 of a tensor of at least 2 dimensions."""
    return _nsplit("vsplit", x, sections, 0, 2)


def dsplit(x, sections):
    """tensor_split along axis 2 of a tensor of at least 3 dimensions."""
    return _nsplit("dsplit", x, sections, 2, 3)


@int_as_f32
def fliplr(x):
    """x reversed along axis 1."""
    from .shape import flip
    check_tensor("fliplr", x)
    if x.ndim < 2:
        raise ValueError(f"fliplr: expected at least 2 dimensions, got shape {list(x.shape)}")
    return flip(x, 1)


@int_as_f32
def flipud(x):
    """x reversed along axis 0."""
    from .shape import flip
    check_tensor("flipud", x)
    if x.ndim < 1:
        raise ValueError("flipud: expected at least 1 dimension, got a 0-d tensor")
    return flip(x, 0)


@int_as_f32
def rot90(x, k=1, dims=(0, 1)):
    """x turned by 90 degrees k times in the plane of ``dims`` (from the first axis
    towards the second, as NumPy's / PyTorch's)."""
    from .shape import flip
    check_tensor("rot90", x)
    if len(dims) != 2 or x.ndim < 2:
        raise ValueError(f"rot90: expected two dims of a tensor of at least 2 dimensions, got dims {list(dims)} "
                         f"and shape {list(x.shape)}")
    a, b = (x._dim("rot90", d) for d in dims)
    if a == b:
        raise ValueError(f"rot90: dims must differ, got {list(dims)}")
    k = int(k) % 4
    if k == 0:
        return x * 1.0
    if k == 2:
        return flip(flip(x, a), b)
    return flip(x, b).swapaxes(a, b) if k == 1 else flip(x.swapaxes(a, b), b)


def broadcast_shapes(*shapes):
    """The shape the given shapes broadcast to (NumPy rules), or a clear error."""
    try:
        return tuple(np.broadcast_shapes(*[(s,) if isinstance(s, (int, np.integer)) else tuple(s) for s in shapes]))
    except ValueError:
        raise ValueError(f"broadcast_shapes: shapes {[list(np.atleast_1d(s)) for s in shapes]} cannot be broadcast "
                         "together") from None


def broadcast_tensors(*tensors):
    """The tensors broadcast to one shape (differentiable views)."""
    for t_ in tensors:
        check_tensor("broadcast_tensors", t_)
    shape = broadcast_shapes(*[t_.shape for t_ in tensors])
    return tuple(t_ if t_.shape == shape else broadcast_to(t_, shape) for t_ in tensors)


def _atleast_nd(op, n, tensors):
    ts = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    out = []
    for t_ in ts:
        check_tensor(op, t_)
        shape = t_.shape
        if len(shape) < n:  # NumPy's placement: [n] -> [1, n] -> [1, n, 1]
            shape = {0: (1,) * n, 1: (1,) + shape + (1,) * (n - 2), 2: shape + (1,) * (n - 2)}[len(shape)]
        out.append(t_ if shape == t_.shape else reshape(t_, shape))
    return out[0] if len(out) == 1 and not (len(tensors) == 1 and isinstance(tensors[0], (list, tuple))) \
        else tuple(out)


def atleast_1d(*tensors):
    """Each tensor with at least 1 dimension (0-d as [1])."""
    return _atleast_nd("atleast_1d", 1, tensors)


def atleast_2d(*tensors):
    """Each tensor with at least 2 dimensions ([n] as [1, n])."""
    return _atleast_nd("atleast_2d", 2, tensors)


def atleast_3d(*tensors):
    """Each tensor with at least 3 dimensions ([n] as [1, n, 1], [m, n] as [m, n, 1])."""
    return _atleast_nd("atleast_3d", 3, tensors)
