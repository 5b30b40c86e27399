"""Module: parameters, buffers, sub-modules, train/eval, state dicts."""
from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

from ..tensor import Parameter, Tensor


IncompatibleKeys = namedtuple("IncompatibleKeys", "missing_keys unexpected_keys")  # (PyTorch's)


class RemovableHandle:
    """What registering a hook returns: ``remove()`` takes the hook off."""

    def __init__(self, table, key):
        self._table, self._key = table, key

    def remove(self):
        self._table.pop(self._key, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _identity_fn(on_backward):
    """An identity autograd Function over several tensors whose backward calls
    ``on_backward(grads)`` (None for those without one) and passes on its result."""
    from ..autograd import Function

    class BackwardHook(Function):
        @staticmethod
        def forward(ctx, *ts):
            ctx.set_materialize_grads(False)
            return tuple(t.detach() for t in ts)

        @staticmethod
        def backward(ctx, *grads):
            return on_backward(grads)
    return BackwardHook


def _backward_hook_inputs(module, hooks, args):
    """The module's tensor inputs passed through an identity whose backward calls
    the full backward hooks with grad_input and the grad_output kept in ``state``."""
    state = {"grad_output": None, "called": False}
    where = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]

    def on_backward(grads):
        state["called"] = True
        grads = tuple(grads)
        for h in hooks:
            r = h(module, grads, state["grad_output"])
            if r is not None:
                r = r if isinstance(r, tuple) else (r,)
                if len(r) != len(grads):
                    raise RuntimeError(f"{type(module).__name__}: a backward hook returned {len(r)} gradients for "
                                       f"{len(grads)} inputs")
                grads = r
        return grads
    if not where:
        return args, state
    outs = _identity_fn(on_backward).apply(*[args[i] for i in where])
    outs = outs if isinstance(outs, tuple) else (outs,)
    args = list(args)
    for i, o in zip(where, outs):
        args[i] = o
    state["inputs"] = len(where)
    return tuple(args), state


def _backward_hook_outputs(module, hooks, out, state):
    """The module's tensor outputs through an identity whose backward keeps
    grad_output (and, when no input needs a gradient, calls the hooks itself)."""
    outs = out if isinstance(out, tuple) else (out,)
    where = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
    if not where:
        return out

    def on_backward(grads):
        state["grad_output"] = tuple(grads)
        if "inputs" not in state:  # (nothing upstream to wait for: grad_input is all None)
            for h in hooks:
                h(module, (None,), state["grad_output"])
        return grads
    wrapped = _identity_fn(on_backward).apply(*[outs[i] for i in where])
    wrapped = wrapped if isinstance(wrapped, tuple) else (wrapped,)
    outs = list(outs)
    for i, o in zip(where, wrapped):
        outs[i] = o
    return tuple(outs) if isinstance(out, tuple) else outs[0]


class Module:
    """Base class of layers and models, as in PyTorch.

    Parameters, buffers (non-trainable tensors such as running statistics) and
    sub-modules assigned as attributes are registered by name."""

    def __init__(self):
        object.__setattr__(self, "_params", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_named", False)

    def __setattr__(self, name, value):
        if "_params" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        if isinstance(getattr(type(self), name, None), property):  # (a parametrized tensor: its setter)
            return object.__setattr__(self, name, value)
        for d in (self._params, self._buffers, self._modules):
            d.pop(name, None)
        if isinstance(value, Parameter):
            self._params[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif isinstance(value, Tensor) and name in self.__dict__.get("_buffer_names", ()):
            self._buffers[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name, value, persistent=True):
        """A tensor moved with the module, never trained, saved in the state dict
        unless ``persistent=False`` (e.g. a positional table rebuilt at init)."""
        self.__dict__.setdefault("_buffer_names", set()).add(name)
        transient = self.__dict__.setdefault("_transient", set())
        (transient.discard if persistent else transient.add)(name)
        setattr(self, name, value)

    def register_parameter(self, name, param):
        """``setattr(self, name, param)`` for a Parameter (or None: no parameter), as PyTorch's."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"{type(self).__name__}.register_parameter: {name!r} must be a Parameter or None, "
                            f"got {type(param).__name__}")
        setattr(self, name, param)

    def add_module(self, name, module):
        """``setattr(self, name, module)`` for a Module (or None), as PyTorch's."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}.add_module: {name!r} must be a Module or None, "
                            f"got {type(module).__name__}")
        setattr(self, name, module)

    register_module = add_module

    def __delattr__(self, name):
        for d in (self._params, self._buffers, self._modules):
            d.pop(name, None)
        object.__delattr__(self, name)

    def get_submodule(self, target):
        """The sub-module at a dotted path ("" is this module)."""
        m = self
        for part in target.split(".") if target else ():
            if part not in m._modules:
                raise AttributeError(f"{type(m).__name__} has no sub-module {part!r} (looking up {target!r})")
            m = m._modules[part]
        return m

    def get_parameter(self, target):
        """The parameter at a dotted path ("layer.weight")."""
        mod, _, name = target.rpartition(".")
        m = self.get_submodule(mod)
        if name not in m._params:
            raise AttributeError(f"{type(m).__name__} has no parameter {name!r} (looking up {target!r})")
        return m._params[name]

    # -- traversal -------------------------------------------------------
    def named_modules(self, memo=None, prefix=""):
        """(path, module) of this module and every sub-module, each once, depth first."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for n, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, f"{prefix}.{n}" if prefix else n)

    def children(self):
        return list(self._modules.values())

    def named_children(self):
        return list(self._modules.items())

    def _walk(self, kind, recurse=True, persistent_only=False):
        seen = set()
        for mp, m in (self.named_modules() if recurse else [("", self)]):
            skip = m.__dict__.get("_transient", ()) if persistent_only else ()
            for n, t in getattr(m, kind).items():
                if id(t) not in seen and n not in skip:
                    seen.add(id(t))
                    yield (f"{mp}.{n}" if mp else n), t

    def named_parameters(self, prefix="", recurse=True):
        """(path, Parameter) pairs; also names parameters by their path.

        A parameter without an explicit name takes the most qualified path it
        has been seen under, so the outermost model's names win."""
        out = list(self._walk("_params", recurse))
        for path, p in out:
            if p.name is None or (not p._explicit_name and path.count(".") > p.name.count(".")):
                p.name = path
        object.__setattr__(self, "_named", True)
        return [(f"{prefix}.{n}" if prefix else n, p) for n, p in out]

    def parameters(self, recurse=True):
        return [p for _, p in self.named_parameters(recurse=recurse)]

    def named_buffers(self, prefix="", recurse=True):
        return [(f"{prefix}.{n}" if prefix else n, b) for n, b in self._walk("_buffers", recurse)]

    def buffers(self, recurse=True):
        return [b for _, b in self.named_buffers(recurse=recurse)]

    # -- modes --------------------------------------------------------------
    def train(self, mode=True):
        for _, m in self.named_modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        """Drop the parameters' gradients (``set_to_none=False``: zero them in place)."""
        for _, p in self._walk("_params"):
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.zero_()

    # -- calling ------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        if not self._named:  # a model called before .parameters() still names its weights
            self.named_parameters()
        hooks = self.__dict__.get("_hooks")
        if not hooks:
            return self.forward(*args, **kwargs)
        for h in list(hooks["pre"].values()):  # PyTorch's forward pre-hooks: hook(module, args)
            r = h(self, args)
            if r is not None:
                args = r if isinstance(r, tuple) else (r,)
        back = list(hooks["back"].values())
        if back:
            args, state = _backward_hook_inputs(self, back, args)
        out = self.forward(*args, **kwargs)
        for h in list(hooks["post"].values()):  # forward hooks: hook(module, args, output)
            r = h(self, args, out)
            if r is not None:
                out = r
        if back:
            out = _backward_hook_outputs(self, back, out, state)
        return out

    def _hook(self, kind, fn):
        if not callable(fn):
            raise TypeError(f"{type(self).__name__}: a hook must be callable, got {type(fn).__name__}")
        hooks = self.__dict__.get("_hooks")
        if hooks is None:
            hooks = {"pre": OrderedDict(), "post": OrderedDict(), "back": OrderedDict(), "next": 0}
            object.__setattr__(self, "_hooks", hooks)
        key = hooks["next"]
        hooks["next"] += 1
        hooks[kind][key] = fn
        return RemovableHandle(hooks[kind], key)

    def register_forward_pre_hook(self, hook):
        """``hook(module, args)`` before each forward: None, or new args (a tuple or
        one value); returns a handle whose ``remove()`` takes it off."""
        return self._hook("pre", hook)

    def register_forward_hook(self, hook):
        """``hook(module, args, output)`` after each forward: None, or a new output
        (e.g. to keep an intermediate feature map); returns a removable handle."""
        return self._hook("post", hook)

    def register_full_backward_hook(self, hook):
        """``hook(module, grad_input, grad_output)`` once the gradients of the
        module's tensor inputs are computed (tuples; None where there is none):
        None, or new grad_input (PyTorch's; e.g. Grad-CAM's feature gradients)."""
        return self._hook("back", hook)

    register_backward_hook = register_full_backward_hook  # (PyTorch's older name, the full hook's semantics)

    # -- devices and dtypes ---------------------------------------------------
    def to(self, device=None, dtype=None):
        """Move parameters and buffers in place (keeps Parameter identity); a buffer
        takes the dtype its module keeps for it (``_buffer_dtype``: batch norm's
        running statistics stay f32 under f16 weights)."""
        seen = set()
        for _, m in self.named_modules():
            moves = [(t, dtype) for t in m._params.values()]
            moves += [(t, m._buffer_dtype(n, dtype) if dtype else None) for n, t in m._buffers.items()]
            for t, dt in moves:
                if id(t) in seen:
                    continue
                seen.add(id(t))
                moved = t.to(device=device, dtype=dt)
                t.data, t.backend = moved.data, moved.backend
                t.grad = None
        return self

    def _buffer_dtype(self, name, dtype):
        """The dtype buffer ``name`` takes when the module moves to ``dtype``."""
        return dtype

    def half(self):
        """``to(dtype="f16")``."""
        return self.to(dtype="f16")

    def float(self):
        """``to(dtype="f32")``."""
        return self.to(dtype="f32")

    def double(self):
        """``to(dtype="f64")`` (the CPU backend's dtype for gradient checks)."""
        return self.to(dtype="f64")

    def cpu(self):
        """``to(device="cpu")``."""
        return self.to(device="cpu")

    def modules(self):
        """This module and every sub-module, depth first (as PyTorch's)."""
        return [m for _, m in self.named_modules()]

    def apply(self, fn):
        """fn(m) for every sub-module, then this one (as PyTorch's: e.g. custom
        initialisation); returns self."""
        for m in self._modules.values():
            m.apply(fn)
        fn(self)
        return self

    def requires_grad_(self, flag=True):
        """Set requires_grad on every parameter (False: freeze them)."""
        for _, p in self._walk("_params"):
            p.requires_grad_(flag)
        return self

    # -- state dicts ------------------------------------------------------------
    def state_dict(self):
        """Ordered name -> NumPy array of every parameter and buffer."""
        sd = OrderedDict()
        for n, t in self._walk("_params"):
            sd[n] = t.numpy()
        for n, t in self._walk("_buffers", persistent_only=True):
            sd[n] = t.numpy()
        return sd

    def load_state_dict(self, state, strict=True):
        """Copy arrays into parameters/buffers, checking names and shapes (``strict``:
        the names must match both ways); returns PyTorch's (missing_keys,
        unexpected_keys) named tuple."""
        own = OrderedDict(list(self._walk("_params")) + list(self._walk("_buffers", persistent_only=True)))
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict({type(self).__name__}): missing keys {missing}, "
                           f"unexpected keys {unexpected}")
        for k, t in own.items():
            if k not in state:
                continue
            a = np.asarray(state[k])
            if tuple(a.shape) != t.shape:
                raise ValueError(f"load_state_dict({type(self).__name__}): key {k!r} has shape "
                                 f"{list(a.shape)} in the state, expected {list(t.shape)}")
        for k, t in own.items():
            if k in state:
                t.assign_(state[k])  # in place: optimizers and captured steps keep working
        return IncompatibleKeys(missing, unexpected)

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for n, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({n}): {sub}")
        return lines[0] + ")" if len(lines) == 1 else "\n".join(lines) + "\n)"

    def extra_repr(self):
        return ""
