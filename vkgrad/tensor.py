"""Tensor and Parameter.

A Tensor wraps a backend handle (``.handle``) and the backend that owns it.  The
autograd graph hangs off ``_node``: ``(backward_fn, parents, their versions)``, where
``backward_fn(grad_handle)`` returns one gradient handle (or None) per parent.
"""
from __future__ import annotations

import itertools
import math
import numbers
import sys
import threading
import weakref
from contextlib import nullcontext as _nullcontext

import numpy as np

from . import config
from ._names import torch_kwargs
from .backends import get_backend
from .backends.base import DTYPES, FLOAT_DTYPES

_DTYPE_ALIASES = {
    "f32": "f32", "float32": "f32", "float": "f32",
    "f16": "f16", "float16": "f16", "half": "f16",
    "f64": "f64", "float64": "f64", "double": "f64",
    "i32": "i32", "int32": "i32", "int": "i32", "int64": "i32", "long": "i32",
}


def canonical_dtype(dtype):
    if dtype is None:
        return None
    if isinstance(dtype, np.dtype) or (isinstance(dtype, type) and issubclass(dtype, np.generic)):
        dtype = np.dtype(dtype).name
    d = _DTYPE_ALIASES.get(str(dtype).lower())
    if d is None and str(dtype).lower() in ("bfloat16", "bf16"):
        raise ValueError("vkgrad has no bfloat16 tensors: float16 ('f16') is its half type (autocast's "
                         "dtype=bfloat16 runs as f16)")
    if d is None:
        raise ValueError(f"unknown dtype {dtype!r}; expected one of {DTYPES}")
    return d


class _Size(int):
    """An element count that answers PyTorch's calls too: ``x.size`` is NumPy's
    number of elements, ``x.size()`` the shape and ``x.size(1)`` one axis's length."""

    def __new__(cls, shape):
        self = super().__new__(cls, math.prod(shape))  # (np.prod: ~5 us)
        self._shape = tuple(shape)
        return self

    def __call__(self, dim=None):
        if dim is None:
            return self._shape
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or \
                not -max(len(self._shape), 1) <= dim < max(len(self._shape), 1) or not self._shape:
            raise IndexError(f"size: dim {dim!r} is out of range for a tensor of shape {list(self._shape)}")
        return self._shape[dim]


_ZERO = (0,)


class Version(list):
    """A tensor's in-place version counter, ``Version((n,))``, shared by the tensors
    that share its storage (detach, reshape views: ``share``); ``shared`` while more
    than one of them is alive -- a reshape made inside an op and dropped does not
    count (no __init__ of its own: made with every tensor, it costs a list's).  The
    sharers fall in families: a reshape is its input's family (a view in PyTorch's
    sense: a recorded in-place change of one is recorded into the others), a
    detach() a family of its own (it sees the values only)."""

    _users = None
    _family = None
    history = None  # (version, id(tensor)) -> a weak reference to the tensor's snapshot then (_snapshot)

    def remember(self, t, snapshot):
        if self.history is None:
            self.history = {}
        h = self.history
        if len(h) >= 64 and len(h) & (len(h) - 1) == 0:  # (at 64, 128, ...: the freed snapshots dropped)
            self.history = h = {k: r for k, r in h.items() if r() is not None}
        h[(snapshot._version[0], id(t))] = weakref.ref(snapshot)

    def share(self, base, out, detached=False):
        if self._users is None:
            self._users, self._family = weakref.WeakValueDictionary(), {}
        for t in (base, out):
            if self._users.get(id(t)) is not t:  # (new, or an id reused by a new tensor)
                self._users[id(t)] = t
                self._family[id(t)] = next(_FAMILIES)
        if not detached:
            self._family[id(out)] = self._family[id(base)]
        if len(self._family) > 2 * len(self._users) + 8:  # (the dead sharers' entries dropped now and then)
            self._family = {k: f for k, f in self._family.items() if k in self._users}

    @property
    def shared(self):
        return self._users is not None and len(self._users) > 1

    def others(self, t):
        """The live tensors sharing t's storage but t: (tensor, of t's family) each."""
        fam = self._family.get(id(t))
        return [(u, self._family.get(k) == fam) for k, u in list(self._users.items()) if u is not t]


_FAMILIES = itertools.count()

_NO_CUDA = ("cuda: vkgrad has no CUDA devices (vkgrad.cuda.is_available() is False); its GPUs are Vulkan "
            "devices: .to('vulkan') (vkgrad.vulkan_available() says whether there is one)")


class Tensor:
    """An n-dimensional array on a device, with optional gradient tracking."""

    # (_bool, set only on a boolean array's tensor and its moves: a mask even when all False -- unset elsewhere)
    __slots__ = ("handle", "backend", "requires_grad", "grad", "name", "_node", "_hooks", "_version", "_view",
                 "_bool", "__weakref__")
    __array_priority__ = 1000  # so ndarray <op> Tensor defers to Tensor

    def __init__(self, data=None, backend=None, requires_grad=False, name=None):
        if backend is None or backend.__class__ is int:  # (PyTorch's legacy Tensor(3, 4) / Tensor([1, 2]))
            t = _legacy_new([a for a in (data, backend, requires_grad, name) if a is not None and a is not False])
            data, backend, requires_grad, name = t.handle, t.backend, False, None
        self.handle = data
        self.backend = backend
        self.requires_grad = requires_grad
        self.grad = None
        self.name = name
        self._node = None
        self._hooks = None  # {key: fn} run on this tensor's gradient (register_hook); "retain": retain_grad
        # in-place changes (add_, ...), a counter shared with views of the same storage
        # (detach, reshape): backward checks the tensors it needs against it
        self._version = Version(_ZERO)
        self._view = None  # (_Views: the tensor this one is a view of, and this one's views): _viewed

    @property
    def data(self):
        """PyTorch's ``.data``: the values as a tensor of their own that shares this
        one's storage, outside autograd -- no gradient, and a change through it
        (``p.data.clamp_(-c, c)``, ``m.weight.data.normal_(0, 0.02)``) is seen by
        neither the graph nor its version checks, as PyTorch's (``detach()`` is the
        checked alias).  ``.handle`` is the backend's array itself."""
        return Tensor(self.handle, self.backend)

    @data.setter
    def data(self, value):
        """``p.data = t``: p holds t's values from now on (its shape and dtype, as
        PyTorch's; the storage shared with t), outside autograd."""
        if not isinstance(value, Tensor):
            raise TypeError(f"data: assign a vkgrad Tensor, got {type(value).__name__}")
        if value.backend is not self.backend:
            raise ValueError(f"data: a tensor on {value.device} assigned to one on {self.device}; "
                             "move it with .to(device) first")
        self.handle = value.handle
        self._unlink_views()  # (PyTorch's views keep the old storage)

    # -- metadata ------------------------------------------------------
    @property
    def shape(self):
        return tuple(self.handle.shape)

    @property
    def ndim(self):
        return len(self.handle.shape)

    @property
    def size(self):
        """The number of elements (NumPy's ``size``), also callable as PyTorch's
        ``size()`` (the shape) and ``size(dim)`` (one axis's length)."""
        return _Size(self.handle.shape)

    def numel(self):
        return self.size

    def dim(self):
        """The number of dimensions (PyTorch's name for ``ndim``; ``size`` here is
        NumPy's element count)."""
        return self.ndim

    def __len__(self):
        if not self.handle.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.handle.shape[0]

    @property
    def dtype(self):
        return self.backend.dtype_of(self.handle)

    @property
    def device(self):
        return self.backend.device

    @property
    def is_leaf(self):
        return self._node is None

    # -- host access ---------------------------------------------------
    def numpy(self):
        """A host copy as a NumPy array (float16 for f16 tensors)."""
        return self.backend.to_numpy(self.handle)

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a.astype(dtype) if dtype is not None else a

    def item(self):
        if self.size != 1:
            raise ValueError(f"item(): tensor of shape {list(self.shape)} has {self.size} "
                             "elements, expected exactly 1")
        return self.numpy().reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        """An integer one-element tensor is an index (``xs[t]``, ``range(t)``), as
        PyTorch's; a float one is not."""
        if self.dtype != "i32" or self.size != 1:
            raise TypeError(f"only integer tensors of a single element can be converted to an index, got "
                            f"dtype {self.dtype} of shape {list(self.shape)}")
        return int(self.item())

    def __format__(self, spec):
        """A one-element tensor formats as its number (f"{loss:.4f}"); others as repr."""
        if spec and self.size == 1:
            return format(self.item(), spec)
        return format(repr(self), spec)

    @property
    def is_cuda(self):
        """False: vkgrad's devices are "cpu" and "vulkan" (PyTorch code asks)."""
        return False

    def type(self, dtype=None):
        """The dtype's name, or (with ``dtype``, or a legacy type as ``vg.FloatTensor``) a
        cast to it (PyTorch's ``type``)."""
        if isinstance(dtype, _LegacyType):
            dtype = dtype.dtype
        return self.dtype if dtype is None else self.to(dtype=dtype)

    def new(self, *args):
        """PyTorch's legacy ``x.new(sizes...)`` (zeros) or ``x.new(data)``: in x's dtype, on
        its device (``new_tensor`` / ``new_zeros`` are the current spellings)."""
        return _legacy_new(list(args), self.dtype, self.device)

    def bool(self):
        """1.0 where nonzero (NaN counts), else 0.0: vkgrad's masks are float (no bool
        dtype); they index, select (``where``) and combine (``& | ~``) as PyTorch's."""
        return _ops().ne(self.detach(), 0.0)

    def fill_diagonal_(self, fill_value, wrap=False):
        """The main diagonal (of a matrix, or of a tensor with all sides equal) set to
        ``fill_value`` in place; ``wrap``: tall matrices restart it every n + 1 rows."""
        if self.ndim < 2 or (self.ndim > 2 and len(set(self.shape)) != 1):
            raise ValueError(f"fill_diagonal_: expected a matrix or a tensor with all sides equal, got "
                             f"{list(self.shape)}")
        if self.ndim == 2:
            n, m = self.shape
            rows = np.arange(n if wrap else min(n, m))
            rows = rows[rows % (m + 1) < m] if wrap else rows
            idx = (rows, rows % (m + 1) if wrap else rows)
        else:
            k = np.arange(self.shape[0])
            idx = (k,) * self.ndim
        self[idx] = fill_value
        return self

    def __repr__(self):
        extra = ", requires_grad=True" if self.requires_grad else ""
        nm = f", name={self.name!r}" if self.name else ""
        o = config.print_options
        p, sci = o["precision"], o["sci_mode"]
        text = np.array2string(self.numpy(), precision=p, threshold=o["threshold"], edgeitems=o["edgeitems"],
                               max_line_width=o["linewidth"], suppress_small=sci is False,
                               formatter={"float_kind": lambda v: f"{v:.{p}e}"} if sci else None)
        return f"tensor({text}, dtype={self.dtype}, device={self.device}{extra}{nm})"

    # -- conversions -----------------------------------------------------
    def to(self, device=None, dtype=None, non_blocking=False, copy=False, memory_format=None):
        """A copy on another device and/or dtype (differentiable for float casts);
        ``x.to("f16")`` / ``x.to(vg.float16)`` (a dtype alone, PyTorch's form) casts,
        and a tensor argument means its device and dtype.  PyTorch's ``copy=True``: a
        new tensor even where nothing changes; ``non_blocking`` / ``memory_format``
        accepted (uploads are queued anyway; tensors are contiguous)."""
        from . import ops
        if isinstance(device, Tensor):
            device, dtype = device.device, dtype or device.dtype
        elif dtype is None and device is not None and str(device).lower() in (*_DTYPE_ALIASES, "bfloat16", "bf16"):
            device, dtype = None, device
        out = ops.to(self, device, dtype)
        out = ops.clone(out) if copy and out is self else out
        if out is not self and getattr(self, "_bool", False) and out.dtype in ("f32", "f16", "f64"):
            out._bool = True  # (a boolean mask moved stays one)
        return out

    def cpu(self):
        return self.to("cpu")

    def data_ptr(self):
        """An integer address of the first element (PyTorch's, for aliasing checks:
        equal for tensors starting at the same storage -- a detach(), a reshape)."""
        return self.backend.data_ptr(self.handle)

    def pin_memory(self, device=None):
        """The tensor itself (PyTorch's page-locking for CUDA copies; vkgrad uploads from
        host memory as it is)."""
        return self

    def is_pinned(self, device=None):
        return False

    def share_memory_(self):
        """The tensor itself (PyTorch's for worker processes; vkgrad's DataLoader loads in
        the calling thread)."""
        return self

    def is_shared(self):
        return False

    def cuda(self, device=None, non_blocking=False):
        """Refused with the way to a GPU here: vkgrad's GPUs are Vulkan devices (PyTorch
        without CUDA refuses it too)."""
        raise RuntimeError(_NO_CUDA)

    def float(self):
        return self.to(dtype="f32")

    def half(self):
        return self.to(dtype="f16")

    def detach(self):
        out = Tensor(self.handle, self.backend)
        out._version = self._version
        out._version.share(self, out, detached=True)
        return out

    def requires_grad_(self, flag=True):
        if flag and self.dtype not in FLOAT_DTYPES:
            raise TypeError(f"requires_grad_: only float tensors can require gradients, got {self.dtype}")
        self.requires_grad = flag
        return self

    def zero_grad(self):
        self.grad = None

    def register_hook(self, hook):
        """``hook(grad)`` on this tensor's gradient during backward, once it is
        complete: None keeps it, a tensor of its shape replaces it (PyTorch's);
        returns a handle whose ``remove()`` takes the hook off."""
        if not self.requires_grad:
            raise RuntimeError(f"register_hook: the tensor of shape {list(self.shape)} does not require grad")
        if not callable(hook):
            raise TypeError(f"register_hook: expected a callable, got {type(hook).__name__}")
        from .nn.module import RemovableHandle
        if self._hooks is None:
            self._hooks = {}
        key = max((k for k in self._hooks if isinstance(k, int)), default=-1) + 1
        self._hooks[key] = hook
        return RemovableHandle(self._hooks, key)

    def retain_grad(self):
        """Keep this non-leaf tensor's gradient in ``.grad`` at ``backward()``
        (leaves get theirs anyway), as PyTorch's."""
        if not self.requires_grad:
            raise RuntimeError(f"retain_grad: the tensor of shape {list(self.shape)} does not require grad")
        if self._node is not None:
            if self._hooks is None:
                self._hooks = {}
            self._hooks["retain"] = True

    def assign_(self, array):
        """Overwrite the values in place (same device buffer: optimizers' state and
        captured steps keep referring to this tensor)."""
        a = np.asarray(array.numpy() if isinstance(array, Tensor) else array)
        if tuple(a.shape) != self.shape:
            raise ValueError(f"assign_: got shape {list(a.shape)}, expected {list(self.shape)}")
        self.backend.copy_(self.handle, self.backend.from_numpy(a, self.dtype))
        return self

    # -- in place (PyTorch's trailing underscore) ---------------------------
    def _inplace_of(self, op, fn, _sync=False, _region=None):
        """Overwrite self's value with ``fn(t)`` (a tensor of its shape computed from
        ``t``, self's value).  While gradients are recorded, as PyTorch's: refused
        on a leaf that requires grad (``vkgrad.no_grad()`` to update weights by
        hand); otherwise, where the tensor requires grad or the value does, the
        tensor takes the op's place in the graph -- its value in new storage --
        and its earlier value (a tensor of the old storage and node) is the op's
        input: ``y.mul_(2)`` on a non-leaf, ``y[0] = 5`` and ``z[1:] = x`` into a
        buffer pass gradients on (the last was lost, silently, before).  An op
        recorded earlier from self reaches self's earlier value (its version
        history); one whose input changed without recording raises in backward;
        the live tensors sharing its storage (reshape views, detach()es) follow
        the change (``_follow``; refused where one is a leaf that requires grad,
        as PyTorch's view of a leaf).  ``_sync``: a view read again from its
        changed base (_passed_on), not the user's change; ``_region``: the box of
        self a basic-index write changed (_box; None: anywhere)."""
        recording = config.grad_enabled
        if recording and not _sync:
            self._refuse_recorded_leaf(op)
        sharers = self._version.others(self) if recording and self._version.shared else ()
        if recording and not _sync:
            view = self._view.base() if self._view is not None and self._view.base is not None else None
            # (a reshape of a leaf is its view as much as a basic index is)
            leaves = [view] + [u for u, same in sharers if same]
            leaf = next((t for t in leaves if t is not None and t.requires_grad and t._node is None), None)
            if leaf is not None:
                raise RuntimeError(f"{op}: an in-place change of a view of a leaf tensor that requires grad (shape "
                                   f"{list(leaf.shape)}) while gradients are recorded; use vkgrad.no_grad() or an "
                                   "out-of-place op")
        if recording:  # the op's input: self's value now, in a tensor of its own (self's storage may change)
            old = _snapshot(self)
        value = fn(old if recording else self)  # (not recording: grad mode is off already)
        if value.shape != self.shape:
            raise ValueError(f"{op}: the result has shape {list(value.shape)}, not the tensor's "
                             f"{list(self.shape)} (in place, the tensor cannot be broadcast to a larger shape)")
        v = value if value.dtype == self.dtype else value.to(dtype=self.dtype)
        if not (recording and (v.requires_grad or self.requires_grad)):
            self.backend.copy_(self.handle, v.handle)  # (into the storage: its reshape views see the change)
            self._version[0] += 1
            return self._passed_on(_region)
        # the tensors sharing self's storage (reshape views, detach()es) take its new value after: each
        # one's value now kept for the ops recorded from it (its snapshot) where it is self's family
        siblings = [(u, _snapshot(u) if same else None) for u, same in sharers]
        # a value that requires grad is the op's own output (copy_ clones its source), or old itself;
        # a constant may be any tensor's: copied
        self.handle = v.handle if v.requires_grad else self.backend.cast(v.handle, self.dtype)
        self._version[0] += 1
        if v.requires_grad:
            self._node = _node_keeping(v._node, old, self._version[0])
        else:  # (a constant written over a tensor that requires grad: zero gradient through it)
            be, shape, dt = self.backend, self.shape, self.dtype
            self._node = (lambda g: (be.constant(shape, 0.0, dt),), (old,), (old._version[0], self._version[0]),
                          lambda g: (g * 0.0,))
        self.requires_grad = True
        for u, u_old in siblings:
            u._follow(self, u_old)
        self._passed_on(_region)
        for u, _ in siblings:
            u._passed_on()
        return self

    def _follow(self, src, old):
        """self shares the storage of ``src``, just changed in place while recording
        (its value in new storage): self takes src's new value, reshaped, in that
        storage -- recorded from src where self is src's family (``old``: self's
        snapshot before; ``x.view(-1)[0] = y`` changes x and passes y's gradient
        on, as PyTorch's views), the values only where it is a detach() (no node)."""
        if old is None:
            self.handle = src.backend.reshape(src.handle, self.shape)
            return
        with _grad_mode(True):
            w = _ops().reshape(src, self.shape)  # (shares src's storage and version counter)
        self.handle = w.handle
        if w.requires_grad:
            self._node = _node_keeping(w._node, old, self._version[0])
            self.requires_grad = True

    def _refuse_recorded_leaf(self, op):
        """An in-place change of a leaf that requires grad, while recording, is refused
        (PyTorch's rule)."""
        if self.requires_grad and self._node is None:
            raise RuntimeError(f"{op}: an in-place change of a leaf tensor that requires grad (shape "
                               f"{list(self.shape)}) while gradients are recorded; use vkgrad.no_grad() (e.g. "
                               "to update weights by hand) or an out-of-place op")

    def _passed_on(self, region=None):
        """self, its in-place change passed on to the tensors it is linked with as views
        (_viewed), as PyTorch's views share storage: written into the tensor it is a
        view of (``x[0].zero_()``, ``K.diagonal().add_(eps)``, ``w.t().copy_(v)`` change
        x, K, w) and read again into its own live views (``r = x[0]; x.mul_(2)``: r
        doubles) -- each through its in-place path, recorded where gradients are
        (PyTorch's CopySlices: ``h[:, 0].mul_(3)`` on a non-leaf h scales those
        gradients; ops recorded before reach the earlier values through the version
        history).  Not back to the tensor the change came from (_PASSING), nor
        to a view whose box misses the changed ``region`` (a loop writing
        out[:, t] from the view out[:, t - 1]: no view of earlier steps re-read)."""
        links = self._view
        if links is None:
            return self
        passing = _PASSING.__dict__.setdefault("tensors", [])
        passing.append(self)
        try:
            for ref, reader, index in list(links.views or ()):
                v = ref()
                if v is None or any(t is v for t in passing) or (
                        region is not None and index is not None and _disjoint(region, _box(self.shape, index))):
                    continue
                # a view with a graph is recorded again from its base even under no_grad (PyTorch
                # regenerates a view's grad_fn after its base changed): w.t() kept across optimizer steps
                mode = _grad_mode(True) if v.requires_grad and self.requires_grad else _nullcontext()
                with mode:
                    v._inplace_of("a view's update", lambda t, r=reader: r(self), _sync=True)
            base = links.base() if links.base is not None else None
            if base is not None and not any(t is base for t in passing):
                links.writer(base, self)
        finally:
            passing.pop()
        return self

    def add_(self, other, alpha=1):
        return self._inplace_of("add_", lambda t: t + (other * alpha if alpha != 1 else other))

    def apply_(self, fn):
        """PyTorch's: ``fn`` (a Python function of one number) applied to each element
        in place -- on the host, a call per element: slow, as PyTorch's."""
        a = self.numpy()
        out = np.vectorize(fn, otypes=[a.dtype])(a) if a.size else a
        return self._inplace_of("apply_", lambda t: tensor(out, dtype=self.dtype, device=self.device))

    def map_(self, other, fn):
        """PyTorch's: ``fn(x, y)`` of each element and other's (broadcast to self's shape),
        in place, on the host (as ``apply_``)."""
        a = self.numpy()
        b = other.numpy() if isinstance(other, Tensor) else np.asarray(other)
        try:
            b = np.broadcast_to(b, a.shape)
        except ValueError:
            raise ValueError(f"map_: other of shape {list(b.shape)} does not broadcast to the tensor's "
                             f"{list(a.shape)}") from None
        out = np.vectorize(fn, otypes=[a.dtype])(a, b) if a.size else a
        return self._inplace_of("map_", lambda t: tensor(out, dtype=self.dtype, device=self.device))

    def sub_(self, other, alpha=1):
        return self._inplace_of("sub_", lambda t: t - (other * alpha if alpha != 1 else other))

    def mul_(self, other):
        return self._inplace_of("mul_", lambda t: t * other)

    def div_(self, other):
        return self._inplace_of("div_", lambda t: t / other)

    def clamp_(self, min=None, max=None):
        return self._inplace_of("clamp_", lambda t: _ops().clamp(t, min, max))

    def fill_(self, value):
        return self._inplace_of("fill_", lambda t: full_like(t, value))

    def zero_(self):
        return self.fill_(0.0)

    def copy_(self, src):
        """Overwrite with ``src`` (a tensor on any device, or an array) broadcast to
        this shape and converted to this dtype."""
        def value(_):
            t = src if isinstance(src, Tensor) else tensor(np.asarray(src), dtype=self.dtype, device=self.device)
            t = t if t.device == self.device else t.to(device=self.device)
            t = t if t.shape == self.shape else _ops().broadcast_to(t, self.shape)
            # (recorded, the tensor takes over the value's storage and node: src's own, copied)
            return t.clone() if t is src and t.requires_grad and config.grad_enabled else t
        return self._inplace_of("copy_", value)

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        from .nn import init
        return self._inplace_of("normal_", lambda t: init.normal_(t.detach().clone(), mean, std, generator))

    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        from .nn import init
        return self._inplace_of("uniform_", lambda t: init.uniform_(t.detach().clone(), a, b, generator))

    def backward(self, grad=None, retain_graph=False, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (``create_graph``:
        the gradients recorded, differentiable again; ``inputs``: only those
        tensors' ``.grad``, as PyTorch's)."""
        from .autograd import grad as grad_of, run_backward
        if inputs is not None:
            ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
            gs = grad_of(self, ins, grad, retain_graph=retain_graph, create_graph=create_graph, allow_unused=True)
            for t, g in zip(ins, gs):
                if g is not None:
                    t.grad = g if t.grad is None else t.grad + g
            return
        run_backward(self, grad, accumulate=True, retain_graph=retain_graph, create_graph=create_graph)

    # -- operators -------------------------------------------------------
    def __add__(self, o):
        return _ops().add(self, o)

    def __radd__(self, o):
        return _ops().add(o, self)

    def __sub__(self, o):
        return _ops().sub(self, o)

    def __rsub__(self, o):
        return _ops().sub(o, self)

    def __mul__(self, o):
        return _ops().mul(self, o)

    def __rmul__(self, o):
        return _ops().mul(o, self)

    def __truediv__(self, o):
        return _ops().div(self, o)

    def __rtruediv__(self, o):
        return _ops().div(o, self)

    def __matmul__(self, o):
        return _ops().matmul(self, o)

    def __rmatmul__(self, o):
        return _ops().matmul(o, self)

    def __neg__(self):
        return _ops().neg(self)

    def __pos__(self):
        """``+x``: x itself (PyTorch's positive; an int32 tensor too)."""
        return self

    @property
    def real(self):
        """PyTorch's ``.real`` of a real tensor: the tensor itself (vkgrad has no complex dtypes)."""
        return self

    def __pow__(self, e):
        return _ops().pow(self, e)

    def __rpow__(self, b):
        return _ops().pow(b, self)

    def __mod__(self, o):
        return _ops().remainder(self, o)

    def __rmod__(self, o):
        return _ops().remainder(o, self)

    def __floordiv__(self, o):
        return _ops().floor_divide(self, o)

    def __rfloordiv__(self, o):
        return _ops().floor_divide(o, self)

    # & | ^ ~: logical on masks (comparisons' 1.0 / 0.0, nonzero counting as true), bitwise
    # on int32 tensors and Python ints (PyTorch's integer operators); << >> bitwise
    def __and__(self, o):
        return _ops().bitwise_and(self, o) if _ops().is_integer_pair(self, o) else _ops().logical_and(self, o)

    __rand__ = __and__

    def __or__(self, o):
        return _ops().bitwise_or(self, o) if _ops().is_integer_pair(self, o) else _ops().logical_or(self, o)

    __ror__ = __or__

    def __xor__(self, o):
        return _ops().bitwise_xor(self, o) if _ops().is_integer_pair(self, o) else _ops().logical_xor(self, o)

    __rxor__ = __xor__

    def __invert__(self):
        return _ops().bitwise_not(self) if self.dtype == "i32" else _ops().logical_not(self)

    def __lshift__(self, o):
        return _ops().bitwise_left_shift(self, o)

    def __rlshift__(self, o):
        return _ops().bitwise_left_shift(o, self)

    def __rshift__(self, o):
        return _ops().bitwise_right_shift(self, o)

    def __rrshift__(self, o):
        return _ops().bitwise_right_shift(o, self)

    # comparisons give 1.0 / 0.0 masks in the operands' float dtype (no gradient), for
    # vg.where and masked sums; == and != too, as PyTorch's (hashing stays by identity:
    # tensors are dict keys; vkgrad itself keeps them in dicts and sets by id)
    def __eq__(self, o):
        if not isinstance(o, (Tensor, numbers.Number, np.ndarray, list, tuple)):
            return NotImplemented  # (x == None, x == "a": Python's identity answer, as PyTorch's False)
        return _ops().eq(self, o)

    def __ne__(self, o):
        if not isinstance(o, (Tensor, numbers.Number, np.ndarray, list, tuple)):
            return NotImplemented
        return _ops().ne(self, o)

    def __contains__(self, value):
        """``value in t``: whether any element equals it (PyTorch's)."""
        return bool((self == value).any().item())

    def __gt__(self, o):
        return _ops().gt(self, o)

    def __lt__(self, o):
        return _ops().lt(self, o)

    def __ge__(self, o):
        return _ops().ge(self, o)

    def __le__(self, o):
        return _ops().le(self, o)

    def __setitem__(self, index, value):
        """x[index] = value in place (PyTorch's): any index ``x[...]`` takes (tensor
        indices read to the host), value a number or broadcast to the selection
        (repeated positions: the last write wins, as NumPy's); not on a tensor that
        requires grad while recording (as the other in-place ops)."""
        def host(i):
            if isinstance(i, Tensor):
                a = i.numpy()
                return a if i.dtype == "i32" else a != 0  # (a comparison's 1.0 / 0.0: a mask)
            return i
        idx = tuple(host(i) for i in index) if isinstance(index, tuple) else host(index)
        parts = idx if isinstance(idx, tuple) else (idx,)
        arrays = any(isinstance(i, (list, np.ndarray)) for i in parts)
        try:
            if arrays and any(i is Ellipsis or isinstance(i, (int, np.integer)) and not isinstance(i, bool)
                              for i in parts):
                # PyTorch's placement of the advanced indices' axes (getitem's), where NumPy's differs: integers
                # beside arrays (x[1, :, [0, 1], 0]: [rows, 2] there, [2, rows] in NumPy), a ... spanning no axis
                pos = _ops().getitem(tensor(np.arange(self.size, dtype=np.int32).reshape(self.shape),
                                            device="cpu"), idx).numpy()
            else:
                pos = np.arange(self.size).reshape(self.shape)[idx]
        except (IndexError, TypeError, ValueError) as e:
            raise IndexError(f"setitem: {e} (shape {list(self.shape)})") from None
        pos = np.asarray(pos)
        if pos.size == 0:  # (an empty selection: nothing written -- a value that does not fit still refused)
            vs = np.shape(value) if not isinstance(value, Tensor) else value.shape
            try:
                np.broadcast_shapes(vs, pos.shape)
            except ValueError:
                raise ValueError(f"setitem: a value of shape {list(vs)} does not broadcast to the selection's "
                                 f"shape {list(pos.shape)}") from None
            if isinstance(value, Tensor) and value.requires_grad and config.grad_enabled:
                # (the value still joins the graph, its gradient 0, as PyTorch's: an exact select of self)
                o = _ops()
                never = tensor(np.zeros(()), dtype=self.dtype, device=self.device)
                return self._inplace_of("setitem", lambda t: o.where(never, o.sum(value).to(dtype=t.dtype), t),
                                        _region=_box(self.shape, index))
            return self
        mask = np.zeros(self.size, bool)
        mask[pos.reshape(-1)] = True
        o = _ops()

        def value_(t):
            m = tensor(mask.reshape(self.shape).astype(np.float32), dtype=self.dtype, device=self.device)
            if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
                return o.where(m, float(value), t)
            v = value if isinstance(value, Tensor) else tensor(np.asarray(value, np.float64), dtype=self.dtype,
                                                               device=self.device)
            try:
                np.broadcast_shapes(v.shape, pos.shape)
            except ValueError:
                raise ValueError(f"setitem: a value of shape {list(v.shape)} does not broadcast to the selection's "
                                 f"shape {list(pos.shape)}") from None
            v = o.broadcast_to(v, pos.shape) if v.shape != pos.shape else v
            v = o.reshape(v, (pos.size,)) if v.shape != (pos.size,) else v  # (no view of the value kept)
            src = np.zeros(self.size, np.int64)
            src[pos.reshape(-1)] = np.arange(pos.size)  # (a repeated position: its last value)
            return o.where(m, o.reshape(o.index_select(v, 0, src), self.shape), t)
        return self._inplace_of("setitem", value_, _region=_box(self.shape, index))

    def __getitem__(self, index):
        out = _ops().getitem(self, index)
        if all(i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer)) and not isinstance(i, bool)
               for i in (index if isinstance(index, tuple) else (index,))):  # (advanced indices: copies, as PyTorch's)
            _index_view(out, self, index)
        return out

    @property
    def T(self):
        return _permuted_view(self, None)

    def narrow(self, dim, start, length):
        """``vkgrad.narrow(self, ...)``, a view: an in-place change writes through."""
        out = _ops().narrow(self, dim, start, length)
        d = self._dim("narrow", dim)
        s0 = int(start) + (self.shape[d] if int(start) < 0 else 0)
        return _index_view(out, self, (slice(None),) * d + (slice(s0, s0 + int(length)),))

    def select(self, dim, index):
        """``vkgrad.select(self, ...)``: x[..., index, ...] along ``dim``, a view (as narrow)."""
        out = _ops().select(self, dim, index)
        return _index_view(out, self, (slice(None),) * self._dim("select", dim) + (int(index),))

    def diagonal(self, offset=0, dim1=0, dim2=1):
        """PyTorch's diagonal (its entries on the last axis); a view: an in-place change
        (``K.diagonal().add_(eps)``) writes through."""
        out = _ops().diagonal(self, offset, dim1, dim2)
        a, b = self._dim("diagonal", dim1), self._dim("diagonal", dim2)
        k = out.shape[-1]
        rows, cols = np.arange(k) + max(-offset, 0), np.arange(k) + max(offset, 0)
        idx = tuple(rows if i == a else cols if i == b else slice(None) for i in range(self.ndim))
        # (x[idx]'s diagonal axis: where a stood when a and b are adjacent, else first -- NumPy's rule)
        at = min(a, b) if abs(a - b) == 1 else 0
        return _viewed(out, self, lambda base, v: base.__setitem__(idx, v.movedim(-1, at)),
                       lambda base: _ops().diagonal(base, offset, dim1, dim2))

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops().reshape(self, shape)

    def view(self, *shape):
        """As ``reshape`` (vkgrad tensors are always contiguous: no copy either way)."""
        return self.reshape(*shape)

    def view_as(self, other):
        return self.reshape(other.shape)

    def expand_as(self, other):
        return self.broadcast_to(other.shape)

    def type_as(self, other):
        return self.to(dtype=other.dtype)

    def _new(self, value, size, dtype, device, requires_grad):
        size = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)
        return full(size, value, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        """Zeros of ``size`` on this tensor's device, in its dtype (PyTorch's)."""
        return self._new(0.0, size, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new(1.0, size, dtype, device, requires_grad)

    new_empty = new_zeros  # (filled with zeros: vkgrad has no uninitialised memory to hand out)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        return self._new(fill_value, (size,), dtype, device, requires_grad)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        return tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    def contiguous(self):
        """Itself: vkgrad tensors are always contiguous."""
        return self

    def is_contiguous(self):
        return True

    def element_size(self):
        return {"f16": 2, "f32": 4, "f64": 8, "i32": 4}[self.dtype]

    @property
    def nbytes(self):
        return self.size * self.element_size()

    def ndimension(self):
        return self.ndim

    def is_floating_point(self):
        return self.dtype in ("f16", "f32", "f64")

    @property
    def grad_fn(self):
        """The recorded node that made this tensor (None for leaves and tensors made
        without recording), as PyTorch's grad_fn is tested for None."""
        return self._node

    def unfold(self, dimension, size, step):
        """PyTorch's Tensor.unfold: the windows of ``size`` every ``step`` along
        ``dimension``, that axis becoming the windows' count and a last axis of
        ``size`` added (a gather; its gradient adds overlaps)."""
        d = self._dim("unfold", dimension)
        n = self.shape[d]
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 0 < size <= n or \
                isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 1:
            raise ValueError(f"unfold: size must be in [1, {n}] (axis {d} of shape {list(self.shape)}) and step >= 1, "
                             f"got {size} and {step}")
        starts = np.arange(0, n - size + 1, step)
        idx = (starts[:, None] + np.arange(size)[None, :]).reshape(-1)
        ops = _ops()
        y = ops.index_select(self, d, idx)
        y = y.reshape(self.shape[:d] + (len(starts), size) + self.shape[d + 1:])
        return ops.movedim(y, d + 1, -1)

    def index_put_(self, indices, values, accumulate=False):
        """self[indices] = values in place, or added there (``accumulate``: repeated
        positions summed)."""
        idx = tuple(indices) if isinstance(indices, (tuple, list)) else (indices,)
        if not accumulate:
            self[idx] = values
            return self
        return self._inplace_of("index_put_", lambda t: _ops().index_put(t, idx, values, accumulate=True))

    def masked_scatter(self, mask, source):
        """``vkgrad.masked_scatter(self, mask, source)``."""
        return _ops().masked_scatter(self, mask, source)

    def nelement(self):
        return self.numel()

    def double(self):
        return self.to(dtype="f64")

    def int(self):
        return self.to(dtype="i32")

    long = short = char = byte = int  # (int32: vkgrad's only integer dtype)

    def where(self, condition, other):
        """``vkgrad.where(condition, self, other)`` (PyTorch's method order)."""
        return _ops().where(condition, self, other)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def sum_to_size(self, *size):
        """Summed over the axes where ``size`` (broadcastable to this shape) is 1
        or missing: the inverse of a broadcast."""
        size = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)
        try:
            fits = tuple(np.broadcast_shapes(size, self.shape)) == self.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"sum_to_size: {list(size)} does not broadcast to {list(self.shape)}")
        from .ops.elementwise import _sum_to
        return _sum_to(self, size)

    def split_with_sizes(self, split_sizes, dim=0):
        return _ops().split(self, list(split_sizes), dim)

    @property
    def mH(self):  # noqa: N802  (PyTorch's name)
        """The last two axes swapped (real tensors: the conjugate transpose)."""
        return self.swapaxes(-2, -1)

    @property
    def H(self):  # noqa: N802
        """The transpose of a matrix (real: its conjugate transpose)."""
        if self.ndim != 2:
            raise ValueError(f"H: expected a matrix, got shape {list(self.shape)} (use mH for batches)")
        return self.swapaxes(0, 1)

    def adjoint(self):
        return self.mH

    def ravel(self):
        return self.reshape((self.size,))

    def stride(self, dim=None):
        """The row-major strides in elements (vkgrad tensors are contiguous)."""
        st = tuple(int(np.prod(self.shape[i + 1:])) for i in range(self.ndim))
        return st if dim is None else st[self._dim("stride", dim)]

    def storage_offset(self):
        return 0

    @property
    def itemsize(self):
        return self.element_size()

    @property
    def is_cpu(self):
        return self.device == "cpu"

    def get_device(self):
        """-1 on the CPU, else the Vulkan device's index."""
        return -1 if self.device == "cpu" else int(self.device.split(":")[1]) if ":" in self.device else 0

    def is_signed(self):
        return True

    def detach_(self):
        """Cut this tensor from its graph, in place (it becomes a leaf)."""
        self._node, self.requires_grad = None, False
        return self

    @property
    def retains_grad(self):
        return bool(self._node is not None and self._hooks and self._hooks.get("retain"))

    def register_post_accumulate_grad_hook(self, hook):
        """``hook(tensor)`` on a leaf once backward has accumulated its ``.grad``
        (e.g. an optimizer step per parameter); returns a removable handle."""
        if self._node is not None or not self.requires_grad:
            raise RuntimeError("register_post_accumulate_grad_hook: only leaf tensors that require grad have one")
        from .nn.module import RemovableHandle
        if self._hooks is None:
            self._hooks = {}
        table = self._hooks.setdefault("post_accumulate", {})
        key = max(table, default=-1) + 1
        table[key] = hook
        return RemovableHandle(table, key)

    def _fill_random(self, op, draw, generator=None):
        """In place: values drawn on the host from vkgrad's generator or ``generator``."""
        from .random import rng
        g = rng(generator)
        return self._inplace_of(op, lambda t: tensor(draw(g, t.shape), dtype=t.dtype, device=t.device))

    def random_(self, low=0, high=None, *, generator=None):
        """Integers uniform in [low, high) (one argument: [0, it); none: [0, 2**24))."""
        lo, hi = (0, low) if high is None and low else (low, high if high is not None else 2 ** 24)
        return self._fill_random("random_", lambda g, s: g.integers(lo, hi, size=s).astype(np.float64), generator)

    def exponential_(self, lambd=1.0, *, generator=None):
        return self._fill_random("exponential_", lambda g, s: g.exponential(1.0 / lambd, size=s), generator)

    def geometric_(self, p, *, generator=None):
        return self._fill_random("geometric_", lambda g, s: g.geometric(p, size=s).astype(np.float64), generator)

    def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
        return self._fill_random("log_normal_", lambda g, s: g.lognormal(mean, std, size=s), generator)

    def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
        return self._fill_random("cauchy_", lambda g, s: median + sigma * g.standard_cauchy(size=s), generator)

    def bernoulli_(self, p=0.5, *, generator=None):
        """1 with probability p (a number or a tensor of this shape), else 0, in place."""
        pv = p.numpy().astype(np.float64) if isinstance(p, Tensor) else p
        return self._fill_random("bernoulli_", lambda g, s: (g.random(s) < pv).astype(np.float64), generator)

    def put_(self, index, source, accumulate=False):
        """self.flatten()[index] = source (``accumulate``: added), in place."""
        return self._inplace_of("put_", lambda t: t.put(index, source, accumulate))

    def put(self, index, source, accumulate=False):
        """A copy with the flattened positions ``index`` set to (or, ``accumulate``,
        increased by) ``source``'s values; differentiable."""
        idx = index.numpy() if isinstance(index, Tensor) else np.asarray(index)
        idx = np.where(idx < 0, idx + self.size, idx).reshape(-1)
        flat = self.reshape((self.size,))
        src = source.reshape((idx.size,)) if isinstance(source, Tensor) else source
        return _ops().index_put(flat, (idx,), src, accumulate).reshape(self.shape)

    def _dim(self, op, dim, extra=0):
        """``dim`` made non-negative for a tensor of ndim + extra dimensions, checked."""
        n = self.ndim + extra
        if not isinstance(dim, (int, np.integer)) or not -max(n, 1) <= dim < max(n, 1):
            raise IndexError(f"{op}: dim {dim!r} out of range for a tensor of shape {list(self.shape)} "
                             f"(expected an integer in [{-max(n, 1)}, {max(n, 1) - 1}])")
        return int(dim) % max(n, 1)

    def flatten(self, start_dim=0, end_dim=-1):
        """Dimensions start_dim..end_dim merged into one (PyTorch's flatten)."""
        if self.ndim == 0:
            return self.reshape(1)
        a, b = self._dim("flatten", start_dim), self._dim("flatten", end_dim)
        if a > b:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} "
                             f"for a tensor of shape {list(self.shape)}")
        s = self.shape
        return self.reshape(s[:a] + (int(np.prod(s[a:b + 1])),) + s[b + 1:])

    def unsqueeze(self, dim):
        """A dimension of size 1 inserted at ``dim`` (in [-ndim - 1, ndim])."""
        d = self._dim("unsqueeze", dim, extra=1)
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def squeeze(self, dim=None):
        """Dimensions of size 1 removed: all, or ``dim`` only -- an int or a tuple of
        them -- (unchanged where its size is not 1, as in PyTorch)."""
        if dim is None:
            return self.reshape(tuple(d for d in self.shape if d != 1))
        if isinstance(dim, (tuple, list)):
            ds = {self._dim("squeeze", d) for d in dim}
            return self.reshape(tuple(n for i, n in enumerate(self.shape) if not (i in ds and n == 1)))
        if self.ndim == 0:
            self._dim("squeeze", dim)
            return self
        d = self._dim("squeeze", dim)
        return self.reshape(self.shape[:d] + self.shape[d + 1:]) if self.shape[d] == 1 else self

    def transpose(self, *axes):
        """PyTorch's ``transpose(dim0, dim1)`` for two arguments: those axes swapped
        (``W.transpose(0, 1)`` is W's transpose, as in PyTorch); NumPy's otherwise:
        the axes reversed (no arguments), or permuted by one tuple or three or more
        arguments."""
        if len(axes) == 2 and all(isinstance(a, (int, np.integer)) for a in axes):
            return self.swapaxes(*axes)
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _permuted_view(self, axes if axes else None)

    def permute(self, *dims):
        """PyTorch's: the axes in the order ``dims`` (arguments or one tuple; a view,
        as transpose)."""
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        return _permuted_view(self, dims)

    # -- PyTorch's in-place shape changes: the tensor object takes the new shape (and, where
    # gradients are recorded, the op's place in the graph); its view links are dropped
    def _reshaped_in_place(self, op, fn):
        recording = config.grad_enabled
        if recording:
            self._refuse_recorded_leaf(op)
            old = _snapshot(self)
        value = fn(old if recording else self)  # (not recording: grad mode is off already)
        self.handle = value.handle
        self._version[0] += 1
        if recording and value.requires_grad:
            self._node = _node_keeping(value._node, old, self._version[0])
            self.requires_grad = True
        self._unlink_views()  # (their indices are the old shape's)
        return self

    def _unlink_views(self):
        """Drop self's view links both ways -- its views and the base it is a view of
        go on as independent tensors: self's storage or shape changed under them."""
        links = self._view
        for ref, _, _ in (links.views or ()) if links is not None else ():
            v = ref()
            if v is not None and v._view is not None:
                v._view.base = None
        self._view = None

    def unsqueeze_(self, dim):
        """``unsqueeze`` in place (the tensor's own shape changes)."""
        return self._reshaped_in_place("unsqueeze_", lambda t: t.unsqueeze(dim))

    def squeeze_(self, dim=None):
        """``squeeze`` in place."""
        return self._reshaped_in_place("squeeze_", lambda t: t.squeeze(dim))

    def t_(self):
        """``t`` in place (a matrix's transpose; fewer dimensions unchanged)."""
        if self.ndim > 2:
            raise ValueError(f"t_: expected a tensor of at most 2 dimensions, got shape {list(self.shape)}")
        return self._reshaped_in_place("t_", lambda t: _ops().transpose(t, None) if t.ndim == 2 else t * 1.0)

    def transpose_(self, dim0, dim1):
        """``transpose(dim0, dim1)`` in place."""
        perm = list(range(self.ndim))
        a, b = self._dim("transpose_", dim0), self._dim("transpose_", dim1)
        perm[a], perm[b] = perm[b], perm[a]
        return self._reshaped_in_place("transpose_", lambda t: _ops().transpose(t, tuple(perm)))

    swapaxes_ = swapdims_ = transpose_

    def resize_(self, *sizes):
        """PyTorch's resize_: the new shape over the same elements in order -- cut short,
        or padded with zeros (PyTorch leaves them uninitialised); not of a tensor
        that requires grad (PyTorch's rule)."""
        shape = tuple(int(n) for n in (sizes[0] if len(sizes) == 1 and isinstance(sizes[0], (tuple, list))
                                       else sizes))
        if any(n < 0 for n in shape):
            raise ValueError(f"resize_: sizes must be non-negative, got {list(shape)}")
        if self.requires_grad:
            raise RuntimeError(f"resize_: the tensor of shape {list(self.shape)} requires grad; resize a detach()ed "
                               "copy, or reshape")
        n = int(np.prod(shape))
        flat = self.numpy().reshape(-1)
        data = np.concatenate([flat[:n], np.zeros(max(n - flat.size, 0), flat.dtype)]).reshape(shape)
        return self._reshaped_in_place("resize_", lambda t: tensor(data, dtype=self.dtype, device=self.device))

    def resize_as_(self, other):
        """``resize_`` to other's shape."""
        return self.resize_(tuple(other.shape))

    def swapaxes(self, axis0, axis1):
        """Axes ``axis0`` and ``axis1`` swapped (PyTorch's ``transpose(dim0, dim1)``)."""
        perm = list(range(self.ndim))
        a, b = (self._dim("swapaxes", axis0), self._dim("swapaxes", axis1))
        perm[a], perm[b] = perm[b], perm[a]
        return _permuted_view(self, tuple(perm))

    @torch_kwargs
    def sum(self, axis=None, keepdims=False):
        return _ops().sum(self, axis, keepdims)

    @torch_kwargs
    def mean(self, axis=None, keepdims=False):
        return _ops().mean(self, axis, keepdims)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """``vkgrad.max``: (values, indices) with ``dim``, the values with ``axis=``."""
        return _ops().max(self, dim, keepdim, axis=axis, keepdims=keepdims)

    @torch_kwargs
    def argmax(self, axis=None, keepdims=False):
        return _ops().argmax(self, axis, keepdims)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """``vkgrad.min``: (values, indices) with ``dim``, the values with ``axis=``."""
        return _ops().min(self, dim, keepdim, axis=axis, keepdims=keepdims)

    @torch_kwargs
    def argmin(self, axis=None, keepdims=False):
        return _ops().argmin(self, axis, keepdims)

    @torch_kwargs
    def logsumexp(self, axis=None, keepdims=False):
        return _ops().logsumexp(self, axis, keepdims)

    def broadcast_to(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops().broadcast_to(self, shape)

    def expand(self, *sizes):
        """PyTorch's expand: :meth:`broadcast_to` where -1 keeps an existing axis's size."""
        if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
            sizes = tuple(sizes[0])
        lead = len(sizes) - self.ndim
        if lead < 0 or any(n == -1 and i < lead for i, n in enumerate(sizes)):
            raise ValueError(f"expand: sizes {list(sizes)} for a tensor of shape {list(self.shape)} (-1 only "
                             "for an existing axis, no fewer sizes than axes)")
        return self.broadcast_to(tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(sizes)))

    @torch_kwargs
    def split(self, split_size_or_sections, axis=0):
        return _ops().split(self, split_size_or_sections, axis)

    @torch_kwargs
    def chunk(self, chunks, axis=0):
        return _ops().chunk(self, chunks, axis)

    @torch_kwargs
    def unbind(self, axis=0):
        return _ops().unbind(self, axis)

    def masked_fill(self, mask, value):
        return _ops().masked_fill(self, mask, value)

    def repeat(self, *sizes):
        """PyTorch's repeat: ``vkgrad.tile`` (at least as many sizes as axes)."""
        if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
            sizes = tuple(sizes[0])
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat: {len(sizes)} sizes for a tensor of shape {list(self.shape)} (at least "
                             f"{self.ndim})")
        return _ops().tile(self, sizes)

    @torch_kwargs
    def index_select(self, axis, index):
        return _ops().index_select(self, axis, index)

    def flip(self, *dims):
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        return _ops().flip(self, dims)

    def cumsum(self, dim, dtype=None):
        return _ops().cumsum(self, dim, dtype=dtype)

    def roll(self, shifts, dims=None):
        return _ops().roll(self, shifts, dims)

    def tril(self, diagonal=0):
        return _ops().tril(self, diagonal)

    def triu(self, diagonal=0):
        return _ops().triu(self, diagonal)

    def clone(self):
        return _ops().clone(self)

    @torch_kwargs
    def var(self, axis=None, keepdims=False, correction=1):
        return _ops().var(self, axis, keepdims=keepdims, correction=correction)

    @torch_kwargs
    def std(self, axis=None, keepdims=False, correction=1):
        return _ops().std(self, axis, keepdims=keepdims, correction=correction)

    @torch_kwargs
    def softmax(self, axis=-1):
        return _ops().softmax(self, axis)

    def clamp(self, min=None, max=None):
        return _ops().clamp(self, min, max)

    def __abs__(self):
        return _ops().abs(self)

    def __hash__(self):
        return id(self)

    def __deepcopy__(self, memo):
        """A copy with its own data on the same device, outside any graph."""
        new = self.__class__.__new__(self.__class__)
        new.handle = self.backend.cast(self.handle, self.dtype)  # same-dtype cast = copy
        new.backend, new.requires_grad, new.grad = self.backend, self.requires_grad, None
        new.name, new._node, new._hooks, new._version, new._view = self.name, None, None, Version(_ZERO), None
        if isinstance(self, Parameter):
            new._explicit_name = self._explicit_name
        memo[id(self)] = new
        return new

    def __reduce_ex__(self, protocol):
        """Pickled as its values, dtype, device and flags (PyTorch's; not the graph
        nor the gradient): a Vulkan tensor too, whose backend holds a device handle
        that cannot be pickled; unpickled on that device."""
        extra = {k: getattr(self, k) for c in type(self).__mro__ if c is not Tensor
                 for k in getattr(c, "__slots__", ()) if k != "__weakref__" and hasattr(self, k)}
        return (_unpickled, (type(self), self.detach().numpy(), self.dtype, self.device, self.requires_grad,
                             self.name, extra))

    def __bool__(self):
        if self.size != 1:
            raise ValueError("the truth value of a tensor with more than one element is ambiguous")
        return bool(self.item())


def _unpickled(cls, array, dtype, device, requires_grad, name, extra):
    t = tensor(array, dtype=dtype, device=device)
    out = cls.__new__(cls)
    Tensor.__init__(out, t.handle, t.backend, requires_grad=requires_grad, name=name)
    for k, v in extra.items():
        setattr(out, k, v)
    return out


def in_place_if(inplace, x, op, fn):
    """``fn(x)``, or with ``inplace`` (PyTorch's activations' and dropouts' flag) x
    overwritten with it in place and returned (``op``: the in-place name for
    errors): the input changes, as PyTorch's -- a tensor that required no gradient
    passes one on after, its views see the change."""
    if not inplace:
        return fn(x)
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a vkgrad Tensor, got {type(x).__name__}")
    return x._inplace_of(op, fn)


def with_out(fn):
    """``fn`` taking PyTorch's ``out=``: the result written into that tensor (a tuple
    of them for a (values, indices) result) and returned -- ``vg.cat(xs, out=buf)``,
    ``vg.add(a, b, out=c)``.  As PyTorch's: not while gradients are recorded through
    it, an out of another shape resized (with a warning unless it is empty), a
    float result refused by an int32 out."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, out=None, **kw):  # (named so: anomaly mode names the op past its decorators' wrappers)
        if out is None:
            return fn(*args, **kw)
        return _write_out(fn.__name__, fn(*args, **kw), out)
    return wrapper


def _write_out(op, result, out):
    if isinstance(result, tuple):
        if not isinstance(out, (tuple, list)) or len(out) != len(result):
            raise TypeError(f"{op}: out= must be a tuple of {len(result)} tensors for this result, got "
                            f"{type(out).__name__}")
        written = [_write_out(op, r, o) for r, o in zip(result, out)]
        return type(result)(*written) if hasattr(result, "_fields") else tuple(written)
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}: out= must be a vkgrad Tensor, got {type(out).__name__}")
    if not isinstance(result, Tensor):
        raise TypeError(f"{op}: its result is a {type(result).__name__}, not a tensor to write into out=")
    if config.grad_enabled and (result.requires_grad or out.requires_grad):
        raise RuntimeError(f"{op}: out= does not take part in autograd (an argument or out requires grad), as "
                           "PyTorch's; call it without out=, or under vkgrad.no_grad()")
    if out.device != result.device:
        raise ValueError(f"{op}: out= is on {out.device}, the result on {result.device}")
    if out.dtype == "i32" and result.dtype != "i32":
        raise TypeError(f"{op}: a {result.dtype} result cannot be written into an int32 out=")
    if out.shape != result.shape:
        if out.size:
            import warnings
            warnings.warn(f"{op}: out= of shape {list(out.shape)} resized to the result's {list(result.shape)}",
                          stacklevel=3)
        out.resize_(result.shape)
    return out.copy_(result)


def _node_keeping(node, old, version):
    """``node`` (an in-place change's value's) as the changed tensor's, at ``version``:
    where the value does not read ``old`` (the tensor's snapshot before; copy_, fill_,
    a view read again) old joins the node without a gradient, kept alive for the
    ops recorded from the tensor before -- they reach it, and the value they saved,
    through the version history."""
    fn, parents, versions, *rest = node
    if not any(p is old for p in parents):
        fn, parents, versions = _with_input(fn, parents, versions, old)
        if rest and rest[0] is not None:
            vjp = rest[0]
            rest[0] = lambda g: tuple(vjp(g)) + (None,)
    return (fn, parents, versions[:-1] + (version,), *rest)


def _with_input(fn, parents, versions, extra):
    """A node's (fn, parents, versions) with one more input that gets no gradient."""
    return (lambda g: tuple(fn(g)) + (None,), parents + (extra,),
            versions[:-1] + (extra._version[0],) + versions[-1:])


def _grad_mode(on):
    from .autograd import set_grad_enabled
    return set_grad_enabled(on)


def _snapshot(t):
    """A tensor holding t's value and graph node now, with its own version count: the
    input of an in-place op recorded on t (t's storage and node change), found by
    ops recorded from t before through t's version history."""
    old = Tensor(t.handle, t.backend, t.requires_grad)
    old._node, old._version = t._node, Version((t._version[0],))
    t._version.remember(t, old)
    return old


# the tensors whose in-place change is being passed on (_passed_on): not back to them; per thread
# (data-parallel replicas step in threads)
_PASSING = threading.local()


class _Views:
    """A tensor's view links: ``base()`` the tensor it is a view of (None: not a view)
    and ``writer(base, self)`` writing its change there; ``views`` its own live
    views, (weak reference, ``reader(self)`` giving the view's value) each."""

    __slots__ = ("base", "writer", "views")

    def __init__(self, base=None, writer=None):
        self.base, self.writer, self.views = base, writer, None


def _viewed(out, base, writer, reader, index=None):
    """Link ``out`` (a copy: vkgrad's tensors are contiguous) to ``base`` as its view in
    PyTorch's sense: an in-place change of out is written into base by
    ``writer(base, out)``, one of base is read into out by ``reader(base)``
    (_passed_on; ``index``: the basic index of base it shows, its box found when
    a write needs it -- _box, not at every view).  out holds a weak
    reference to a base of its own, which the user
    holds (a view does not keep a large tensor alive), a strong one to a base that is
    itself a view, perhaps a temporary (``x.t()[0].fill_(1)``); base a weak one to
    out (dead views are dropped as the list grows)."""
    if out is base:
        return out
    up = base._view if base._view is not None else _Views()
    base._view = up
    out._view = _Views((lambda: base) if up.base is not None else weakref.ref(base), writer)
    views = up.views = up.views if up.views is not None else []
    if len(views) >= 8 and len(views) & (len(views) - 1) == 0:  # (at 8, 16, 32, ...: the dead ones dropped)
        views[:] = [e for e in views if e[0]() is not None]
    views.append((weakref.ref(out), reader, index))
    return out


def _index_view(out, base, index):
    """``out`` = base[index] (a basic index) linked as base's view there (_viewed):
    getitem, narrow, select, a split's pieces."""
    return _viewed(out, base, lambda b, v: b.__setitem__(index, v), lambda b: _ops().getitem(b, index), index)


def _box(shape, index):
    """Per axis of a tensor of ``shape``, the [lo, hi) a basic index (ints, slices,
    None, ...) reaches -- a box holding what it selects; None for other indices."""
    idx = index if isinstance(index, tuple) else (index,)
    if not all(i is None or i is Ellipsis or isinstance(i, slice) or isinstance(i, (int, np.integer))
               and not isinstance(i, bool) for i in idx):
        return None
    real = [i for i in idx if i is not None]
    if Ellipsis in real:
        at = real.index(Ellipsis)
        real = real[:at] + [slice(None)] * (len(shape) - len(real) + 1) + real[at + 1:]
    if len(real) > len(shape):
        return None
    out = []
    for n, i in zip(shape, real + [slice(None)] * (len(shape) - len(real))):
        if isinstance(i, slice):
            r = range(*i.indices(n))
            out.append((min(r), max(r) + 1) if len(r) else (0, 0))
        else:
            k = int(i) % n if n else 0
            out.append((k, k + 1))
    return tuple(out)


def _disjoint(a, b):
    """Whether boxes a and b (_box) share no element (None: anywhere -- not disjoint)."""
    return a is not None and b is not None and any(hi <= lo2 or hi2 <= lo for (lo, hi), (lo2, hi2) in zip(a, b))


def _permuted_view(x, perm):
    """x's axes permuted (reversed for None) as a view (T, mT, t, transpose, permute)."""
    out = _ops().transpose(x, perm)
    if x.ndim < 2:
        return out
    p = tuple(range(x.ndim))[::-1] if perm is None else tuple(d % x.ndim for d in perm)
    inverse = tuple(int(i) for i in np.argsort(p))
    return _viewed(out, x, lambda base, v: base.copy_(_ops().transpose(v, inverse)),
                   lambda base: _ops().transpose(base, p))


def _delegate(name):
    """A method calling ``vkgrad.<name>(self, ...)`` (the function takes NumPy's or
    PyTorch's keywords, as it spells them)."""
    def method(self, *args, **kw):
        return getattr(_ops(), name)(self, *args, **kw)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"``vkgrad.{name}(self, ...)``."
    return method


# PyTorch's methods that are the functions of the same names: the elementwise ones
# of one tensor, then the rest (the functions take dim= / keepdim= themselves)
for _name in ("abs", "exp", "log", "sqrt", "relu", "sigmoid", "tanh", "sin", "cos", "tan", "sinh", "cosh", "log1p",
              "expm1", "erf", "exp2", "log2", "log10", "reciprocal", "rsqrt", "square", "sign", "floor", "ceil",
              "trunc", "frac", "round", "isnan", "isinf", "isfinite", "nan_to_num", "atan", "asin", "acos", "asinh",
              "acosh", "atanh", "atan2", "hypot", "arctan", "arcsin", "arccos", "arcsinh", "arccosh", "arctanh",
              "arctan2",
              "lgamma", "digamma", "erfc", "erfinv",
              "aminmax", "count_nonzero", "cummax", "cummin", "logcumsumexp", "median", "msort", "nanmean",
              "nanmedian", "nanquantile", "nansum", "quantile",
              "index_add", "index_copy", "index_fill", "scatter", "scatter_reduce", "masked_select", "nonzero",
              "argwhere", "take", "select", "unique", "unique_consecutive", "bincount", "histc", "diff", "cross",
              "kron", "addbmm", "baddbmm", "addmv", "addr", "addcmul", "addcdiv", "logical_and", "logical_or",
              "logical_xor", "logical_not", "isclose", "allclose", "equal", "tensor_split", "hsplit", "vsplit",
              "dsplit", "fliplr", "flipud", "rot90", "heaviside", "divide", "true_divide", "multiply", "subtract",
              "negative", "positive", "floor_divide", "deg2rad", "rad2deg",
              "matmul", "mm", "bmm", "mv", "dot", "outer", "add", "sub", "mul", "div", "pow", "maximum", "minimum",
              "eq", "ne", "gt", "lt", "ge", "le", "lerp", "fmod", "remainder", "clamp_min", "clamp_max", "clip",
              "movedim", "moveaxis", "narrow", "repeat_interleave", "unflatten", "log_softmax", "all", "any",
              "addmm", "neg", "logsumexp", "prod", "cumprod", "diagonal", "trace", "norm", "amax", "amin", "sort",
              "argsort", "topk", "gather", "scatter_add",
              "sgn", "signbit", "copysign", "fmax", "fmin", "isposinf", "isneginf", "isreal", "float_power",
              "logaddexp", "logaddexp2", "ldexp", "frexp", "gcd", "lcm", "i0", "mvlgamma", "dist",
              "inner", "vdot", "ger", "renorm", "diag_embed", "diagflat", "diagonal_scatter", "slice_scatter",
              "select_scatter", "histogram", "mode", "multinomial", "bernoulli", "absolute", "fix", "greater",
              "less", "greater_equal", "less_equal", "not_equal", "is_floating_point", "is_complex", "is_nonzero",
              "is_same_size", "xlogy", "logit", "hardshrink", "prelu", "take_along_dim", "tile", "kthvalue",
              "corrcoef", "cov", "diag", "index_put", "masked_scatter", "bitwise_and", "bitwise_or", "bitwise_xor",
              "bitwise_not", "bitwise_left_shift", "bitwise_right_shift"):
    if not hasattr(Tensor, _name):
        setattr(Tensor, _name, _delegate(_name))
Tensor.swapdims = Tensor.swapaxes
Tensor.polygamma = lambda self, n: _ops().polygamma(n, self)  # (PyTorch's order: x.polygamma(n))
Tensor.polygamma.__doc__ = "``vkgrad.polygamma(n, self)``."
Tensor.t = lambda self: _permuted_view(self, (1, 0)) if self.ndim == 2 else _ops().t(self)
Tensor.t.__doc__ = "``vkgrad.t(self)``: a matrix transposed, a view (an in-place change writes through)."
Tensor.mT = property(lambda self: self.swapaxes(-2, -1), doc="The last two axes swapped (a view).")


def _in_place_of(name):
    def method(self, *args, **kw):
        return self._inplace_of(name + "_", lambda t: getattr(t, name)(*args, **kw))
    method.__name__ = method.__qualname__ = name + "_"
    method.__doc__ = f"``{name}`` in place (see ``add_``)."
    return method


def _module_method(name, fn_name, module="linalg"):
    """A method calling ``vkgrad.<module>.<fn_name>(self, ...)``."""
    def method(self, *args, **kw):
        import importlib
        return getattr(importlib.import_module(f"vkgrad.{module}"), fn_name)(self, *args, **kw)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"``vkgrad.{'' if module.startswith('_') else module + '.'}{fn_name}(self, ...)``."
    return method


for _name, _fn in (("det", "det"), ("logdet", "logdet"), ("slogdet", "slogdet"), ("inverse", "inv"),
                   ("pinverse", "pinv"), ("matrix_power", "matrix_power"), ("cholesky", "cholesky")):
    setattr(Tensor, _name, _module_method(_name, _fn))


for _name in ("svd", "qr", "lu", "lu_solve", "cholesky_solve", "cholesky_inverse", "triangular_solve", "matrix_exp",
              "geqrf", "orgqr"):
    setattr(Tensor, _name, _module_method(_name, _name, "_linalg_top"))  # (PyTorch's top-level spellings)
for _name, _fn in (("sinc", "sinc"), ("igamma", "gammainc"), ("igammac", "gammaincc")):
    setattr(Tensor, _name, _module_method(_name, _fn, "special"))

# augmented assignment changes the tensor in place, as PyTorch's: ``p -= lr * p.grad`` under
# no_grad() updates the parameter (Python's fallback, p = p - ..., bound the name to a new
# tensor and left the parameter as it was, silently); ``mask &= other`` on 1.0 / 0.0 masks
for _op, _name in (("add", "add_"), ("sub", "sub_"), ("mul", "mul_"), ("truediv", "div_"),
                   ("floordiv", "floor_divide_"), ("mod", "remainder_"), ("pow", "pow_"),
                   ("lshift", "bitwise_left_shift_"), ("rshift", "bitwise_right_shift_")):
    setattr(Tensor, f"__i{_op}__", (lambda name: lambda self, other: getattr(self, name)(other))(_name))
for _op in ("and", "or", "xor"):  # (bitwise on int32, logical on masks: as the operators)
    setattr(Tensor, f"__i{_op}__", (lambda op: lambda self, other: self._inplace_of(
        f"__i{op}__", lambda t: getattr(t, f"__{op}__")(other)))(_op))

for _name in ("exp", "log", "sqrt", "rsqrt", "abs", "neg", "relu", "sigmoid", "tanh", "sin", "cos", "floor", "ceil",
              "round", "trunc", "sign", "square", "reciprocal", "clamp_min", "clamp_max", "pow", "lerp", "fmod",
              "remainder", "masked_fill", "nan_to_num", "tan", "sinh", "cosh", "log1p", "expm1", "erf", "atan",
              "asin", "acos", "asinh", "acosh", "atanh", "atan2", "hypot", "frac", "exp2", "log2", "log10",
              "index_add", "index_copy", "index_fill", "scatter", "scatter_reduce", "addcmul", "addcdiv", "divide",
              "multiply", "subtract", "negative", "floor_divide", "deg2rad", "rad2deg", "heaviside", "logical_not",
              "logical_and", "logical_or", "logical_xor", "scatter_add", "lgamma", "digamma", "erfc", "erfinv",
              "eq", "ne", "gt", "ge", "lt", "le", "greater", "less", "greater_equal", "less_equal", "not_equal",
              "clip", "cumsum", "cumprod", "tril", "triu", "true_divide", "xlogy", "logit", "arctan", "arcsin",
              "arccos", "arcsinh", "arccosh", "arctanh", "arctan2", "absolute", "fix", "sgn", "copysign",
              "float_power", "ldexp", "gcd", "lcm", "i0", "polygamma", "mvlgamma", "renorm", "addmm", "addmv",
              "addr", "addbmm", "baddbmm", "masked_scatter", "index_put", "sinc", "igamma", "igammac", "bitwise_and",
              "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift"):
    if not hasattr(Tensor, _name + "_"):
        setattr(Tensor, _name + "_", _in_place_of(_name))


def _legacy_new(args, dtype=None, device=None):
    """PyTorch's legacy constructors (``torch.Tensor(3, 4)``, ``torch.Tensor([1, 2])``,
    ``torch.FloatTensor(...)``, ``x.new(...)``): sizes give zeros (PyTorch leaves them
    uninitialised), one sequence or array its values; the default float dtype and
    device unless given."""
    dtype = dtype or config.default_dtype
    args = args or [0]  # (Tensor(): empty, as PyTorch's)
    if len(args) == 1 and not isinstance(args[0], numbers.Integral):
        return tensor(args[0], dtype=dtype, device=device)
    if all(isinstance(a, numbers.Integral) and not isinstance(a, bool) and a >= 0 for a in args):
        return zeros(*[int(a) for a in args], dtype=dtype, device=device)
    raise TypeError(f"Tensor: PyTorch's legacy constructor takes non-negative sizes or one sequence of values, got "
                    f"{', '.join(type(a).__name__ for a in args)} (vkgrad.tensor(data) is the usual way)")


class _LegacyType(type):
    """torch.FloatTensor and its kin: a constructor in their dtype (``FloatTensor([1,
    2])``, ``LongTensor(3)``), ``isinstance(x, FloatTensor)`` by dtype, and a
    target of ``x.type(FloatTensor)``."""

    def __call__(cls, *args):
        return _legacy_new(list(args), cls.dtype)

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype


FloatTensor = _LegacyType("FloatTensor", (), {"dtype": "f32"})
DoubleTensor = _LegacyType("DoubleTensor", (), {"dtype": "f64"})
HalfTensor = _LegacyType("HalfTensor", (), {"dtype": "f16"})
IntTensor = _LegacyType("IntTensor", (), {"dtype": "i32"})
LongTensor = _LegacyType("LongTensor", (), {"dtype": "i32"})  # (int64: int32 here)


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    """PyTorch's set_printoptions for tensors' repr: ``precision`` digits, summarised
    past ``threshold`` elements with ``edgeitems`` at each end, lines of ``linewidth``;
    ``profile`` "default", "short" or "full" first; ``sci_mode`` True / False (None:
    NumPy's choice).  Values not given stay as they are."""
    o = config.print_options
    profiles = {"default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
                "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
                "full": dict(precision=4, threshold=sys.maxsize, edgeitems=3, linewidth=80)}
    if profile is not None:
        if profile not in profiles:
            raise ValueError(f"set_printoptions: profile must be one of {sorted(profiles)}, got {profile!r}")
        o.update(profiles[profile])
    for k, v in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                 ("linewidth", linewidth)):
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"set_printoptions: {k} must be a non-negative int, got {v!r}")
            o[k] = int(v)
    o["sci_mode"] = None if sci_mode is None else bool(sci_mode)


def _ops():
    from . import ops
    return ops


class Parameter(Tensor):
    """A trainable tensor: ``requires_grad=True`` (PyTorch's ``requires_grad=False``,
    also as its second positional argument, for a frozen one), optionally named.

    An explicit ``name`` keys its gradient in the dict from ``vkgrad.backward``;
    without one, the module that owns it names it by attribute path (``"0.weight"``)."""

    __slots__ = ("_explicit_name",)

    def __init__(self, array, name=None, dtype=None, device=None, requires_grad=True):
        if isinstance(name, bool):  # (PyTorch's Parameter(data, requires_grad))
            name, requires_grad = None, name
        t = tensor(array, dtype=dtype, device=device)  # always a copy
        if t.dtype not in FLOAT_DTYPES:
            raise TypeError(f"Parameter: expected a float array, got dtype {t.dtype}")
        super().__init__(t.handle, t.backend, requires_grad=bool(requires_grad), name=name)
        self._explicit_name = name is not None


def _infer_dtype(a):
    if a.dtype.kind in "iu":
        return "i32"
    if a.dtype.kind == "b":  # (vkgrad's booleans: 1.0 / 0.0 floats, as comparisons and .bool() give -- masks
        return config.default_dtype  # that index, negate and combine as PyTorch's bool tensors)
    if a.dtype.kind == "f":
        return config.default_dtype
    raise TypeError(f"tensor: cannot make a tensor from a NumPy array of dtype {a.dtype}")


def tensor(array, requires_grad=False, dtype=None, device=None, name=None):
    """Make a tensor from array-like data (a copy).

    Float data takes the default dtype (``set_default_dtype``), integer data
    becomes ``"i32"``, booleans 1.0 / 0.0 in the default float dtype (vkgrad's
    masks, as comparisons give them); ``device`` defaults to ``set_default_device``'s."""
    dtype = canonical_dtype(dtype)
    if isinstance(array, Tensor):
        t = array.detach().to(device=device if device is not None else array.device, dtype=dtype)
        if t.handle is array.handle:
            t = Tensor(t.backend.cast(t.handle, t.dtype), t.backend)
    else:
        a = np.asarray(array)
        if dtype is None:
            dtype = _infer_dtype(a)
        backend = get_backend(device)
        t = Tensor(backend.from_numpy(a, dtype), backend)
        if a.dtype == bool and dtype != "i32":
            t._bool = True  # (a mask even when all False: attention masks tell it from scores to add)
    if requires_grad:
        t.requires_grad_(True)
    t.name = name
    return t


def from_numpy(array):
    """``tensor(array)`` on the default device, in the array's dtype class (PyTorch's
    name; a copy: vkgrad's storage is the device's, not the array's)."""
    return tensor(np.asarray(array))


def as_tensor(data, dtype=None, device=None):
    """``data`` itself if it is already a tensor of that dtype and device, else a
    new tensor of it (PyTorch's as_tensor)."""
    if isinstance(data, Tensor) and (dtype is None or canonical_dtype(dtype) == data.dtype) and (
            device is None or data.device.startswith(str(device))):
        return data
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    return tensor(data, dtype=dtype, device=device)


def is_tensor(obj):
    return isinstance(obj, Tensor)


def _shape_arg(op, shape):
    """A shape given as ints or as one tuple / list of them, checked."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    try:
        out = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: the shape must be integers, got {shape!r}") from None
    if any(d < 0 for d in out) or any(int(d) != d for d in shape):
        raise ValueError(f"{op}: the shape must be non-negative integers, got {list(shape)}")
    return out


def full(shape, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor of ``shape`` holding ``fill_value`` everywhere (``dtype`` unless given:
    int32 for a Python int, as PyTorch's int64, else the default float dtype; filled
    on the device, no upload for float dtypes)."""
    shape = _shape_arg("full", (shape,))  # an int, or a tuple / list of them
    dtype = canonical_dtype(dtype) or (
        "i32" if isinstance(fill_value, (int, np.integer)) and not isinstance(fill_value, bool)
        else config.default_dtype)
    backend = get_backend(device)
    if dtype == "i32":
        if float(fill_value) != int(fill_value):
            raise ValueError(f"full: an i32 tensor cannot hold {fill_value!r}")
        data = backend.from_numpy(np.full(shape, int(fill_value), np.int32), "i32")
    else:
        data = backend.full(shape, float(fill_value), dtype)
    t = Tensor(data, backend)
    return t.requires_grad_(True) if requires_grad else t


def _sized(op, shape, size):
    """*shape, or PyTorch's size= keyword (not both)."""
    if size is not None:
        if shape:
            raise TypeError(f"{op}: give the shape or size=, not both")
        shape = (size,)
    return _shape_arg(op, shape)


def zeros(*shape, size=None, dtype=None, device=None, requires_grad=False):
    """``zeros(2, 3)``, ``zeros((2, 3))`` or ``zeros(size=(2, 3))``: a tensor of zeros
    (as ``full``)."""
    return full(_sized("zeros", shape, size), 0.0, dtype, device, requires_grad)


def ones(*shape, size=None, dtype=None, device=None, requires_grad=False):
    """``ones(2, 3)`` or ``ones((2, 3))``: a tensor of ones (as ``full``)."""
    return full(_sized("ones", shape, size), 1.0, dtype, device, requires_grad)


def _like(op, t, value, dtype, device, requires_grad):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected a vkgrad Tensor, got {type(t).__name__}")
    return full(t.shape, value, dtype or t.dtype, device if device is not None else t.device, requires_grad)


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    """Zeros of ``t``'s shape, dtype and device unless given."""
    return _like("zeros_like", t, 0.0, dtype, device, requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    """Ones of ``t``'s shape, dtype and device unless given."""
    return _like("ones_like", t, 1.0, dtype, device, requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    """``fill_value`` in ``t``'s shape, dtype and device unless given."""
    return _like("full_like", t, fill_value, dtype, device, requires_grad)


def empty(*shape, size=None, dtype=None, device=None, requires_grad=False):
    """PyTorch's empty: a tensor of ``shape`` to be overwritten (zeros here: a fill
    on the device costs what an uninitialised block would, and reads are defined)."""
    return full(_sized("empty", shape, size), 0.0, dtype, device, requires_grad)


def empty_like(t, dtype=None, device=None, requires_grad=False):
    """``empty`` of ``t``'s shape, dtype and device unless given."""
    return _like("empty_like", t, 0.0, dtype, device, requires_grad)


def _random_like(op, draw, t, dtype, device, requires_grad):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected a vkgrad Tensor, got {type(t).__name__}")
    dtype = dtype or t.dtype
    if canonical_dtype(dtype) == "i32":
        raise TypeError(f"{op}: samples are floats; got dtype {dtype} (randint_like draws integers)")
    return draw(*t.shape, dtype=dtype, device=device if device is not None else t.device, requires_grad=requires_grad)


def randn_like(t, dtype=None, device=None, requires_grad=False):
    """``randn`` of ``t``'s shape, dtype and device unless given."""
    return _random_like("randn_like", randn, t, dtype, device, requires_grad)


def rand_like(t, dtype=None, device=None, requires_grad=False):
    """``rand`` of ``t``'s shape, dtype and device unless given."""
    return _random_like("rand_like", rand, t, dtype, device, requires_grad)


def randint_like(t, low=0, high=None, device=None):
    """int32 samples in [low, high) (``randint_like(t, high)``: from 0) of ``t``'s shape."""
    if not isinstance(t, Tensor):
        raise TypeError(f"randint_like: expected a vkgrad Tensor, got {type(t).__name__}")
    if high is None:
        low, high = 0, low
    return randint(low, high, t.shape, device=device if device is not None else t.device)


def randn(*shape, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    """Standard normal samples of ``shape`` from vkgrad's generator (``manual_seed``), or
    ``generator`` (a vkgrad.Generator): drawn on the host, so a seed gives the same
    values on every backend."""
    from .random import rng
    return tensor(rng(generator).standard_normal(_sized("randn", shape, size)), requires_grad, dtype, device)


def rand(*shape, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform samples in [0, 1) of ``shape`` from vkgrad's generator (as ``randn``)."""
    from .random import rng
    return tensor(rng(generator).random(_sized("rand", shape, size)), requires_grad, dtype, device)


def randperm(n, dtype="i32", device=None, requires_grad=False, *, generator=None):
    """A random permutation of 0 .. n - 1 from vkgrad's generator or ``generator``
    (int32 unless a float ``dtype``)."""
    from .random import rng
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"randperm: n must be a non-negative int, got {n!r}")
    return tensor(rng(generator).permutation(int(n)), requires_grad, dtype, device)


def randint(low, high, size, device=None, *, generator=None):
    """int32 samples in [low, high) of shape ``size`` from vkgrad's generator or
    ``generator``."""
    from .random import rng
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (low, high)):
        raise TypeError(f"randint: low and high must be integers, got {low!r} and {high!r}")
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    if low < -2 ** 31 or high > 2 ** 31:
        raise ValueError(f"randint: [{low}, {high}) does not fit int32")
    shape = _shape_arg("randint", (size,))
    return tensor(rng(generator).integers(low, high, shape).astype(np.int32), dtype="i32", device=device)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """PyTorch's arange: [start, end) by ``step`` (``arange(n)``: 0 .. n - 1); int32
    when every argument is an integer and no dtype is given, else the default float."""
    if end is None:
        start, end = 0, start
    for name, v in (("start", start), ("end", end), ("step", step)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"arange: {name} must be a number, got {v!r}")
    if step == 0:
        raise ValueError("arange: step must not be 0")
    ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    dtype = canonical_dtype(dtype) or ("i32" if ints else config.default_dtype)
    return tensor(np.arange(start, end, step), requires_grad, dtype, device)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """PyTorch's linspace: ``steps`` values from start to end inclusive."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int, got {steps!r}")
    return tensor(np.linspace(float(start), float(end), int(steps)), requires_grad, dtype, device)


def tril_indices(row, col, offset=0, dtype="i32", device=None):
    """PyTorch's tril_indices: the [2, k] (row, column) indices of the lower triangle
    of a row x col matrix (``offset``: diagonals above the main one included)."""
    return tensor(np.stack(np.tril_indices(int(row), int(offset), int(col))), dtype=dtype, device=device)


def triu_indices(row, col, offset=0, dtype="i32", device=None):
    """PyTorch's triu_indices: the upper triangle's [2, k] indices."""
    return tensor(np.stack(np.triu_indices(int(row), int(offset), int(col))), dtype=dtype, device=device)


def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False):
    """PyTorch's logspace: base ** linspace(start, end, steps)."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"logspace: steps must be a non-negative int, got {steps!r}")
    return tensor(float(base) ** np.linspace(float(start), float(end), int(steps)), requires_grad, dtype, device)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    """PyTorch's eye: an [n, m] (m = n) tensor with ones on the diagonal."""
    for name, v in (("n", n), ("m", n if m is None else m)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"eye: {name} must be a non-negative int, got {v!r}")
    return tensor(np.eye(n, m), requires_grad, dtype, device)
