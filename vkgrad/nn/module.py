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


def _hooked_grads(module, hooks, grads, what, of, call):
    """grads through each hook in turn (``call(hook, grads)``: None keeps them, a
    tuple of as many replaces them)."""
    for h in hooks:
        r = call(h, grads)
        if r is not None:
            r = r if isinstance(r, tuple) else (r,)
            if len(r) != len(grads):
                raise RuntimeError(f"{type(module).__name__}: {what} returned {len(r)} gradients for {len(grads)} "
                                   f"{of}")
            grads = r
    return grads


def _backward_hook_inputs(module, hooks, args):
    """The module's tensor inputs passed through an identity whose backward calls
    the full backward hooks with grad_input and the grad_output kept in ``state``."""
    state = {"grad_output": None, "called": False}
    where = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]

    def on_backward(grads):
        state["called"] = True
        return _hooked_grads(module, hooks, tuple(grads), "a backward hook", "inputs",
                             lambda h, g: h(module, g, state["grad_output"]))
    if not where:
        return args, state
    outs = _identity_fn(on_backward).apply(*[args[i] for i in where])
    outs = outs if isinstance(outs, tuple) else (outs,)
    args = list(args)
    for i, o in zip(where, outs):
        args[i] = o
    state["inputs"] = len(where)
    return tuple(args), state


def _backward_hook_outputs(module, hooks, out, state, pre_hooks=()):
    """The module's tensor outputs through an identity whose backward runs the
    backward pre-hooks on grad_output (each may replace it), keeps it (and, when
    no input needs a gradient, calls the full hooks itself)."""
    outs = out if isinstance(out, tuple) else (out,)
    where = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
    if not where:
        return out

    def on_backward(grads):
        grads = _hooked_grads(module, pre_hooks, tuple(grads), "a backward pre-hook", "outputs",
                              lambda h, g: h(module, g))  # (PyTorch's: hook(module, grad_output) -> None or new)
        state["grad_output"] = grads
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


class Buffer(Tensor):
    """PyTorch's nn.Buffer: a tensor that, assigned to a module attribute, becomes
    one of its buffers (``persistent=False``: left out of the state dict)."""

    __slots__ = ("persistent",)

    def __init__(self, data, persistent=True):
        t = data if isinstance(data, Tensor) else None
        if t is None:
            from ..tensor import tensor
            t = tensor(np.asarray(data))
        super().__init__(t.handle, t.backend)
        self.persistent = bool(persistent)


_HOOK_KINDS = ("pre", "post", "back", "back_pre", "sd_pre", "sd_post", "load_pre", "load_post")


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
        # (out of the other kinds' dicts; one that holds the name already keeps its place, as
        # PyTorch's: a Sequential's seq[1] = ... or setattr(seq, "1", ...) stays second)
        home = (self._params if isinstance(value, Parameter) else self._modules if isinstance(value, Module)
                else self._buffers if isinstance(value, Buffer) or isinstance(value, Tensor) and name in
                self.__dict__.get("_buffer_names", ()) else None)
        for d in (self._params, self._buffers, self._modules):
            if d is not home:
                d.pop(name, None)
        if isinstance(value, Parameter):
            self._params[name] = value
        elif isinstance(value, Buffer):  # (PyTorch's nn.Buffer: registered as a buffer by assignment)
            self.__dict__.setdefault("_buffer_names", set()).add(name)
            transient = self.__dict__.setdefault("_transient", set())
            (transient.discard if value.persistent else transient.add)(name)
            self._buffers[name] = value
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

    def set_submodule(self, target, module):
        """Replace (or add) the sub-module at a dotted path."""
        if not isinstance(module, Module):
            raise TypeError(f"set_submodule: expected a Module, got {type(module).__name__}")
        parent, _, name = target.rpartition(".")
        if not name:
            raise ValueError("set_submodule: the target must name a sub-module")
        setattr(self.get_submodule(parent), name, module)

    def _lookup(self, target, kind, what):
        mod, _, name = target.rpartition(".")
        m = self.get_submodule(mod)
        table = getattr(m, kind)
        if name not in table:
            raise AttributeError(f"{type(m).__name__} has no {what} {name!r} (looking up {target!r})")
        return table[name]

    def get_buffer(self, target):
        """The buffer at a dotted path ("bn.running_mean")."""
        return self._lookup(target, "_buffers", "buffer")

    def get_parameter(self, target):
        """The parameter at a dotted path ("layer.weight")."""
        return self._lookup(target, "_params", "parameter")

    # -- traversal -------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(path, module) of this module and every sub-module, each once (under every
        name it has with ``remove_duplicate=False``), depth first."""
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for n, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, f"{prefix}.{n}" if prefix else n, remove_duplicate)

    def children(self):
        return [m for _, m in self.named_children()]

    def named_children(self):
        """(name, module) of the direct sub-modules, each once (PyTorch's: a module
        under two names is listed under the first)."""
        seen, out = set(), []
        for n, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                out.append((n, m))
        return out

    def _walk(self, kind, recurse=True, persistent_only=False, remove_duplicate=True):
        seen = set()
        for mp, m in (self.named_modules(remove_duplicate=remove_duplicate) if recurse else [("", self)]):
            skip = m.__dict__.get("_transient", ()) if persistent_only else ()
            for n, t in getattr(m, kind).items():
                if (id(t) not in seen or not remove_duplicate) and n not in skip:
                    seen.add(id(t))
                    yield (f"{mp}.{n}" if mp else n), t

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(path, Parameter) pairs, a shared one once (under every name it has with
        ``remove_duplicate=False``); also names parameters by their path.

        A parameter without an explicit name takes the most qualified path it
        has been seen under, so the outermost model's names win."""
        out = list(self._walk("_params", recurse, remove_duplicate=remove_duplicate))
        for path, p in out:
            if p.name is None or (not p._explicit_name and path.count(".") > p.name.count(".")):
                p.name = path
        object.__setattr__(self, "_named", True)
        return [(f"{prefix}.{n}" if prefix else n, p) for n, p in out]

    def parameters(self, recurse=True):
        return [p for _, p in self.named_parameters(recurse=recurse)]

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        return [(f"{prefix}.{n}" if prefix else n, b)
                for n, b in self._walk("_buffers", recurse, remove_duplicate=remove_duplicate)]

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
        for k, h in list(hooks["pre"].items()):  # PyTorch's forward pre-hooks: hook(module, args[, kwargs])
            if k in hooks["kw"]:
                r = h(self, args, kwargs)
                if r is not None:
                    if not (isinstance(r, tuple) and len(r) == 2):
                        raise RuntimeError(f"{type(self).__name__}: a forward pre-hook with_kwargs must return None "
                                           f"or (args, kwargs), got {type(r).__name__}")
                    args, kwargs = r
                    args = args if isinstance(args, tuple) else (args,)
                continue
            r = h(self, args)
            if r is not None:
                args = r if isinstance(r, tuple) else (r,)
        back, back_pre = list(hooks["back"].values()), list(hooks["back_pre"].values())
        state = {}
        if back:
            args, state = _backward_hook_inputs(self, back, args)
        try:
            out = self.forward(*args, **kwargs)
        except BaseException:
            for k, h in list(hooks["post"].items()):  # (always_call hooks run even so, as PyTorch's)
                if k in hooks["always"]:
                    try:
                        self._call_forward_hook(k, h, hooks, args, kwargs, None)
                    except Exception:
                        pass
            raise
        for k, h in list(hooks["post"].items()):  # forward hooks: hook(module, args[, kwargs], output)
            r = self._call_forward_hook(k, h, hooks, args, kwargs, out)
            if r is not None:
                out = r
        if back or back_pre:
            out = _backward_hook_outputs(self, back, out, state, back_pre)
        return out

    def _call_forward_hook(self, key, h, hooks, args, kwargs, out):
        return h(self, args, kwargs, out) if key in hooks["kw"] else h(self, args, out)

    def _hook(self, kind, fn, prepend=False, with_kwargs=False, always_call=False):
        if not callable(fn):
            raise TypeError(f"{type(self).__name__}: a hook must be callable, got {type(fn).__name__}")
        hooks = self.__dict__.get("_hooks")
        if hooks is None:
            hooks = {kind: OrderedDict() for kind in _HOOK_KINDS}
            hooks.update(next=0, kw=set(), always=set())  # (the keys of hooks with_kwargs / always_call)
            object.__setattr__(self, "_hooks", hooks)
        key = hooks["next"]
        hooks["next"] += 1
        hooks[kind][key] = fn
        if prepend:  # (before the hooks already there, as PyTorch's)
            hooks[kind].move_to_end(key, last=False)
        if with_kwargs:
            hooks["kw"].add(key)
        if always_call:
            hooks["always"].add(key)
        return RemovableHandle(hooks[kind], key)

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """``hook(module, args)`` before each forward: None, or new args (a tuple or
        one value); ``with_kwargs``: ``hook(module, args, kwargs)`` -> None or (args,
        kwargs); ``prepend``: run before the hooks already registered.  Returns a
        handle whose ``remove()`` takes it off."""
        return self._hook("pre", hook, prepend, with_kwargs)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        """``hook(module, args, output)`` after each forward: None, or a new output
        (e.g. to keep an intermediate feature map); ``with_kwargs``: ``hook(module,
        args, kwargs, output)``; ``always_call``: also when forward raises (output
        None); ``prepend`` as the pre-hook's.  Returns a removable handle."""
        return self._hook("post", hook, prepend, with_kwargs, always_call)

    def register_full_backward_hook(self, hook, prepend=False):
        """``hook(module, grad_input, grad_output)`` once the gradients of the
        module's tensor inputs are computed (tuples; None where there is none):
        None, or new grad_input (PyTorch's; e.g. Grad-CAM's feature gradients)."""
        return self._hook("back", hook, prepend)

    register_backward_hook = register_full_backward_hook  # (PyTorch's older name, the full hook's semantics)

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """``hook(module, grad_output)`` when the gradients of the module's outputs
        arrive, before its own backward: None, or a new grad_output tuple."""
        return self._hook("back_pre", hook, prepend)

    def register_state_dict_pre_hook(self, hook):
        """``hook(module, prefix, keep_vars)`` before ``state_dict()`` collects this
        module's tensors."""
        return self._hook("sd_pre", hook)

    def register_state_dict_post_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata)`` after ``state_dict()``
        (the whole dict, to edit in place; a returned dict is not used, as PyTorch's)."""
        return self._hook("sd_post", hook)

    def register_load_state_dict_pre_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` before ``load_state_dict`` (the dict may be
        edited in place: renamed keys of an old checkpoint)."""
        return self._hook("load_pre", hook)

    def register_load_state_dict_post_hook(self, hook):
        """``hook(module, incompatible_keys)`` after ``load_state_dict`` (its lists may
        be edited: keys to forgive under strict)."""
        return self._hook("load_post", hook)

    def _module_hooks(self, kind):
        """(prefix, module, hook) of every sub-module's hooks of one kind."""
        for prefix, m in self.named_modules():
            for h in list((m.__dict__.get("_hooks") or {}).get(kind, {}).values()):
                yield (prefix + "." if prefix else ""), m, h

    # -- devices and dtypes ---------------------------------------------------
    def to(self, device=None, dtype=None, non_blocking=False):
        """Move parameters and buffers in place (keeps Parameter identity); a buffer
        takes the dtype its module keeps for it (``_buffer_dtype``: batch norm's
        running statistics stay f32 under f16 weights); ``non_blocking`` accepted."""
        seen = set()
        for _, m in self.named_modules():
            moves = [(t, dtype) for t in m._params.values()]
            moves += [(t, m._buffer_dtype(n, dtype) if dtype else None) for n, t in m._buffers.items()]
            for t, dt in moves:
                if id(t) in seen:
                    continue
                seen.add(id(t))
                moved = t.to(device=device, dtype=dt)
                t.handle, t.backend = moved.handle, moved.backend
                t.grad = None
        return self

    def _buffer_dtype(self, name, dtype):
        """The dtype buffer ``name`` takes when the module moves to ``dtype``."""
        return dtype

    def half(self):
        """``to(dtype="f16")``."""
        return self.to(dtype="f16")

    def bfloat16(self):
        """Refused by name, as ``to(dtype="bfloat16")``: vkgrad has no bfloat16 tensors (f16 is its half)."""
        return self.to(dtype="bfloat16")

    def type(self, dst_type):
        """PyTorch's: every parameter and buffer cast to ``dst_type`` (``to(dtype=)``)."""
        return self.to(dtype=dst_type)

    def compile(self, *args, **kwargs):
        """PyTorch 2's in-place ``model.compile()``: nothing to do -- vkgrad runs eagerly
        (``vkgrad.capture_step`` records and replays a whole training step); None, as
        PyTorch's."""
        return None

    def share_memory(self):
        """The module itself (PyTorch's for worker processes; vkgrad's tensors are not
        shared across processes)."""
        return self

    def to_empty(self, *, device=None, recurse=True):
        """PyTorch's to_empty (for modules made on its meta device): the module on
        ``device`` -- vkgrad has no meta device, so its values come along."""
        return self.to(device) if device is not None else self

    def float(self):
        """``to(dtype="f32")``."""
        return self.to(dtype="f32")

    def double(self):
        """``to(dtype="f64")`` (the CPU backend's dtype for gradient checks)."""
        return self.to(dtype="f64")

    def cpu(self):
        """``to(device="cpu")``."""
        return self.to(device="cpu")

    def cuda(self, device=None):
        """Refused with the way to a GPU here (as ``Tensor.cuda``): ``to("vulkan")``."""
        from ..tensor import _NO_CUDA
        raise RuntimeError(_NO_CUDA)

    def modules(self):
        """This module and every sub-module, depth first (as PyTorch's)."""
        return [m for _, m in self.named_modules()]

    def apply(self, fn):
        """fn(m) for every sub-module, then this one (as PyTorch's: e.g. custom
        initialisation); returns self."""
        for m in self.children():  # (each once; None entries skipped, as PyTorch's)
            m.apply(fn)
        fn(self)
        return self

    def requires_grad_(self, flag=True):
        """Set requires_grad on every parameter (False: freeze them)."""
        for _, p in self._walk("_params"):
            p.requires_grad_(flag)
        return self

    # -- state dicts ------------------------------------------------------------
    def get_extra_state(self):
        """Extra state to save (override with ``set_extra_state``): a module that
        defines it gets a ``<prefix>_extra_state`` entry in its state dict."""
        raise RuntimeError(f"{type(self).__name__} does not define get_extra_state")

    def set_extra_state(self, state):
        """Restore what ``get_extra_state`` gave."""
        raise RuntimeError(f"{type(self).__name__} does not define set_extra_state")

    def _host_states(self):
        """Names of int attributes saved in the state dict as 0-d int64 arrays, after
        the module's buffers (batch norm's ``num_batches_tracked``, PyTorch's key)."""
        return ()

    def _state_entries(self):
        """[(key, kind, item)] of the state dict in PyTorch's order -- each module's
        parameters, persistent buffers, host states ("host": (module, name)) and
        extra state ("extra": the module), then its sub-modules --, a shared module
        or tensor under each of its names (PyTorch's tied weights: every key)."""
        out = []

        def walk(m, prefix, above):
            if id(m) in above:  # (a module inside itself: once)
                return
            for n, t in m._params.items():
                if t is not None:
                    out.append((prefix + n, "t", t))
            skip = m.__dict__.get("_transient", ())
            for n, t in m._buffers.items():
                if t is not None and n not in skip:
                    out.append((prefix + n, "t", t))
            out.extend((prefix + n, "host", (m, n)) for n in m._host_states())
            if type(m).get_extra_state is not Module.get_extra_state:
                out.append((prefix + "_extra_state", "extra", m))
            for n, c in m._modules.items():
                if c is not None:
                    walk(c, f"{prefix}{n}.", above | {id(m)})
        walk(self, "", frozenset())
        return out

    def state_dict(self, *, destination=None, prefix="", keep_vars=False):
        """Ordered name -> NumPy array of every parameter and buffer (and the
        ``_extra_state`` of modules that define ``get_extra_state``), in PyTorch's
        order and with its keys (a shared module's tensors under each of its names,
        batch norm's ``num_batches_tracked``), so PyTorch's state dicts and vkgrad's
        load into each other; the state-dict hooks of every sub-module run.
        PyTorch's ``keep_vars``: the tensors themselves instead of arrays; ``prefix``
        before every key; ``destination``: the dict filled and returned."""
        for pre, m, h in self._module_hooks("sd_pre"):
            h(m, prefix + pre, keep_vars)
        sd, arrays = OrderedDict(), {}
        for key, kind, item in self._state_entries():
            if kind == "t":
                if id(item) not in arrays:
                    arrays[id(item)] = item if keep_vars else item.numpy()
                sd[key] = arrays[id(item)]
            elif kind == "host":
                sd[key] = np.array(getattr(*item), np.int64)
            else:
                sd[key] = item.get_extra_state()
        for pre, m, h in self._module_hooks("sd_post"):
            h(m, sd, pre, {})
        if prefix:
            sd = OrderedDict((prefix + k, v) for k, v in sd.items())
        if destination is not None:
            destination.update(sd)
            return destination
        return sd

    def load_state_dict(self, state, strict=True):
        """Copy arrays into parameters/buffers, checking names and shapes (``strict``:
        the names must match both ways -- a shared tensor is found under any of its
        names); returns PyTorch's (missing_keys, unexpected_keys) named tuple.
        Load-state-dict hooks of every sub-module run (pre-hooks may edit the dict:
        it is copied first)."""
        state = OrderedDict(state)
        missing, unexpected, errors = [], [], []
        for prefix, m, h in self._module_hooks("load_pre"):
            h(m, state, prefix, {}, strict, missing, unexpected, errors)
        if errors:
            raise RuntimeError(f"load_state_dict({type(self).__name__}): " + "; ".join(map(str, errors)))
        entries = self._state_entries()
        given = {id(item) for key, kind, item in entries if kind == "t" and key in state}
        # (a host counter -- batch norm's num_batches_tracked -- absent keeps its value, not missing: PyTorch's
        # state dicts from before it existed load strictly)
        missing += [k for k, kind, item in entries
                    if k not in state and kind != "host" and not (kind == "t" and id(item) in given)]
        own = {k for k, _, _ in entries}
        unexpected += [k for k in state if k not in own]
        keys = IncompatibleKeys(missing, unexpected)
        for _, m, h in self._module_hooks("load_post"):
            h(m, keys)
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict({type(self).__name__}): missing keys {missing}, "
                           f"unexpected keys {unexpected}")
        for k, kind, item in entries:
            if k in state and kind != "extra":
                a = np.asarray(state[k])
                want = item.shape if kind == "t" else ()
                if tuple(a.shape) != tuple(want):
                    raise ValueError(f"load_state_dict({type(self).__name__}): key {k!r} has shape "
                                     f"{list(a.shape)} in the state, expected {list(want)}")
        for k, kind, item in entries:
            if k not in state:
                continue
            if kind == "t":
                item.assign_(state[k])  # in place: optimizers and captured steps keep working
            elif kind == "host":
                setattr(item[0], item[1], int(np.asarray(state[k])))
            else:
                item.set_extra_state(state[k])
        return keys

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for n, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({n}): {sub}")
        return lines[0] + ")" if len(lines) == 1 else "\n".join(lines) + "\n)"

    def extra_repr(self):
        return ""
