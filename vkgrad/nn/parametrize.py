"""PyTorch's ``torch.nn.utils.parametrize``: a parameter or buffer of a module
replaced by a function of other tensors.

``register_parametrization(module, "weight", P)`` moves ``module.weight`` to
``module.parametrizations.weight.original`` (state-dict key
``parametrizations.weight.original``, as PyTorch's) and makes ``module.weight``
a property computing ``P(original)`` on every read (``cached()`` computes it
once per name inside the block).  If ``P`` has ``right_inverse``, the original
is initialised to ``P.right_inverse(weight)`` and assigning ``module.weight =
value`` stores ``right_inverse(value)``; a ``right_inverse`` returning several
tensors makes ``original0``, ``original1``, ....  Registering on the same name
again chains the parametrizations."""
from __future__ import annotations

from contextlib import contextmanager

from ..autograd import no_grad
from ..tensor import Parameter, Tensor
from .layers import ModuleDict, ModuleList
from .module import Module

_cache_depth = 0
_cache = {}


@contextmanager
def cached():
    """Inside the block each parametrized tensor is computed once (on first read)
    and reused: a weight read at every step of an RNN, or shared by layers."""
    global _cache_depth
    _cache_depth += 1
    try:
        yield
    finally:
        _cache_depth -= 1
        if not _cache_depth:
            _cache.clear()


def _register_tensor(module, name, t):
    if isinstance(t, Parameter):
        module.register_parameter(name, t)
    else:
        module.register_buffer(name, t)


def _set_in_place(dest, src, what):
    """dest's values from src (the same tensor object stays: optimizers hold it)."""
    if tuple(src.shape) != tuple(dest.shape) or src.dtype != dest.dtype:
        raise ValueError(f"{what}: right_inverse gave shape {list(src.shape)} ({src.dtype}), the original is "
                         f"{list(dest.shape)} ({dest.dtype})")
    with no_grad():
        dest.copy_(src)


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, in order, and its originals
    (``original``, or ``original0``, ``original1``, ...): ``self()`` gives the
    parametrized value."""

    def __init__(self, modules, original, unsafe=False):
        if not modules:
            raise ValueError("ParametrizationList requires one or more modules")
        super().__init__(modules)
        self.unsafe = unsafe
        shape, dtype = original.shape, original.dtype
        with no_grad():
            new = original
            for m in reversed(list(self)):
                if hasattr(m, "right_inverse"):
                    try:
                        new = m.right_inverse(new)
                    except NotImplementedError:
                        pass
        if not isinstance(new, (Tensor, list, tuple)):
            raise ValueError(f"register_parametrization: right_inverse must return a tensor or a sequence of "
                             f"tensors, got {type(new).__name__}")
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if new.dtype != original.dtype or new.device != original.device:
                raise ValueError(f"register_parametrization: right_inverse may not change the dtype or device "
                                 f"({original.dtype} on {original.device} -> {new.dtype} on {new.device})")
            if tuple(new.shape) == tuple(original.shape):
                if new is not original:
                    _set_in_place(original, new, "register_parametrization")
            else:  # (a new shape: a new tensor of the original's kind)
                original = Parameter(new.detach().numpy(), device=new.device, dtype=new.dtype) \
                    if isinstance(original, Parameter) else new.detach()
            _register_tensor(self, "original", original)
        else:
            for i, t in enumerate(new):
                if not isinstance(t, Tensor):
                    raise ValueError(f"register_parametrization: right_inverse's element {i} is a "
                                     f"{type(t).__name__}, expected a tensor")
                t = Parameter(t.detach().numpy(), device=t.device, dtype=t.dtype) \
                    if isinstance(original, Parameter) else t.detach()
                _register_tensor(self, f"original{i}", t)
        if not unsafe:
            z = self()
            if not isinstance(z, Tensor) or z.dtype != dtype or tuple(z.shape) != tuple(shape):
                raise ValueError(f"register_parametrization: the parametrization gives "
                                 f"{getattr(z, 'shape', type(z).__name__)} ({getattr(z, 'dtype', '')}), the "
                                 f"tensor is {list(shape)} ({dtype}); pass unsafe=True to allow a change")

    def right_inverse(self, value):
        """Store ``value`` through the right inverses, in reverse registration order."""
        with no_grad():
            for m in reversed(list(self)):
                if not hasattr(m, "right_inverse"):
                    raise RuntimeError(f"parametrization {type(m).__name__} does not implement right_inverse")
                value = m.right_inverse(value)
        if self.is_tensor:
            if not isinstance(value, Tensor):
                raise ValueError(f"right_inverse should return a tensor, got {type(value).__name__}")
            _set_in_place(self.original, value, "right_inverse")
            return
        if not isinstance(value, (list, tuple)) or len(value) != self.ntensors:
            raise ValueError(f"right_inverse must return a sequence of {self.ntensors} tensors")
        for i, t in enumerate(value):
            _set_in_place(getattr(self, f"original{i}"), t, "right_inverse")

    def forward(self):
        mods = list(self)
        if self.is_tensor:
            x = mods[0](self.original)
        else:
            x = mods[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for m in mods[1:]:
            x = m(x)
        return x


def _inject_new_class(module):
    """Give the module a subclass of its own (``ParametrizedLinear``) to hold the
    properties."""
    cls = module.__class__
    module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), {"_parametrized_from": cls})


def _inject_property(module, name):
    def get(self):
        plist = self.parametrizations[name]
        if not _cache_depth:
            return plist()
        key = (id(self), name)
        if key not in _cache:
            _cache[key] = plist()
        return _cache[key]

    def set_(self, value):
        self.parametrizations[name].right_inverse(value)
    setattr(module.__class__, name, property(get, set_))


def is_parametrized(module, tensor_name=None):
    """Whether the module has a parametrization (on ``tensor_name``, if given)."""
    plists = module.__dict__.get("_modules", {}).get("parametrizations")
    if not isinstance(plists, ModuleDict):
        return False
    return len(plists) > 0 if tensor_name is None else tensor_name in plists


def type_before_parametrizations(module):
    """The module's class before any parametrization was registered."""
    return module.__class__.__dict__.get("_parametrized_from", module.__class__)


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """Parametrize ``module.<tensor_name>`` (a parameter, a buffer, or an already
    parametrized tensor: chained) by the module ``parametrization``; returns the
    module.  ``unsafe=True`` lets it change the shape or dtype."""
    if not isinstance(parametrization, Module):
        raise TypeError(f"register_parametrization: the parametrization must be a Module, got "
                        f"{type(parametrization).__name__}")
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        plist = module.parametrizations[tensor_name]
        if not unsafe:
            y = getattr(module, tensor_name)
            x = parametrization(y)
            if not isinstance(x, Tensor) or x.dtype != y.dtype or tuple(x.shape) != tuple(y.shape):
                raise ValueError(f"register_parametrization: the new parametrization changes {tensor_name!r}'s "
                                 f"shape or dtype ({list(y.shape)} {y.dtype}); pass unsafe=True to allow it")
        plist.append(parametrization)
        plist.unsafe = plist.unsafe or unsafe
        return module
    if tensor_name not in module._params and tensor_name not in module._buffers:
        raise ValueError(f"register_parametrization: {type(module).__name__} has no parameter, buffer or "
                         f"parametrized tensor named {tensor_name!r}")
    original = getattr(module, tensor_name)
    plist = ParametrizationList([parametrization], original, unsafe=unsafe)
    delattr(module, tensor_name)
    module.__dict__.get("_buffer_names", set()).discard(tensor_name)
    if not is_parametrized(module):
        _inject_new_class(module)
        module.parametrizations = ModuleDict()
    _inject_property(module, tensor_name)
    module.parametrizations[tensor_name] = plist
    return module


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Undo the parametrizations of ``tensor_name``: it becomes a plain parameter
    (or buffer) again, holding the parametrized value (``leave_parametrized``) or
    the original."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"remove_parametrizations: {type(module).__name__} has no parametrization on "
                         f"{tensor_name!r}")
    plist = module.parametrizations[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            with no_grad():
                t = getattr(module, tensor_name)
            if tuple(t.shape) == tuple(original.shape) and t.dtype == original.dtype:
                _set_in_place(original, t, "remove_parametrizations")
            else:
                original = Parameter(t.numpy(), device=t.device, dtype=t.dtype) \
                    if isinstance(original, Parameter) else t.detach()
    else:
        if not leave_parametrized:
            raise ValueError("remove_parametrizations: a tensor parametrized by several originals cannot be left "
                             "unparametrized (leave_parametrized=False)")
        with no_grad():
            t = getattr(module, tensor_name)
        original = Parameter(t.numpy(), device=t.device, dtype=t.dtype) if plist.original0.requires_grad \
            else t.detach()
    delattr(module.__class__, tensor_name)
    del module.parametrizations[tensor_name]
    _register_tensor(module, tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = module.__class__._parametrized_from
    return module


__all__ = ["cached", "ParametrizationList", "register_parametrization", "is_parametrized",
           "remove_parametrizations", "type_before_parametrizations"]
