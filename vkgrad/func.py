"""``vkgrad.func``: PyTorch's torch.func for first-order gradients --
``functional_call`` (a module run with other parameters and buffers),
``grad`` / ``grad_and_value`` / ``vjp`` / ``jacrev`` / ``jacfwd`` as function
transforms over vkgrad's tape, and ``vmap``.

``vmap`` calls the function once per batch element (a Python loop) and stacks
the results: torch.func's semantics (``in_dims``, ``out_dims``, ``chunk_size``
accepted), not its fusion; write the batch axis into the function where speed
matters.  ``hessian`` and ``grad(grad(f))`` go through recorded gradients
(create_graph: the ops with differentiable gradient rules)."""
from __future__ import annotations

import functools

from . import ops
from .autograd import enable_grad, functional as _functional, grad as _grad
from .nn.module import Module
from .tensor import Tensor, zeros_like

_MISSING = object()


def _named_tensors(module):
    """{dotted name: tensor} of every parameter and buffer, tied ones under each name."""
    out = {}

    def walk(m, prefix, stack):  # (every path, shared sub-modules under each of theirs)
        for n, t in list(m._params.items()) + list(m._buffers.items()):
            if t is not None:
                out[prefix + n] = t
        for n, sub in m._modules.items():
            if sub is not None and id(sub) not in stack:
                walk(sub, f"{prefix}{n}.", stack | {id(sub)})
    walk(module, "", {id(module)})
    return out


def _untie(module, values):
    """values with each tied tensor's other names added (PyTorch's tie_weights)."""
    names_of = {}
    for name, t in _named_tensors(module).items():
        names_of.setdefault(id(t), []).append(name)
    out = dict(values)
    for names in names_of.values():
        given = [n for n in names if n in values]
        if len(names) < 2 or not given:
            continue
        if len({id(values[n]) for n in given}) > 1:
            raise ValueError(f"functional_call: got several values for {sorted(names)}, which are tied; pass "
                             "tie_weights=False")
        for n in names:
            out[n] = values[given[0]]
    return out


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True, strict=False):
    """``module(*args, **kwargs)`` with the parameters and buffers named in the
    dict(s) (dotted names, as ``named_parameters``) replaced for this call only;
    gradients flow to the given tensors.  ``tie_weights``: a value for one of
    several names of a shared tensor serves them all; ``strict``: every
    parameter and buffer must be given, and no other name."""
    if not isinstance(module, Module):
        raise TypeError(f"functional_call: expected a Module, got {type(module).__name__}")
    dicts = parameter_and_buffer_dicts if isinstance(parameter_and_buffer_dicts, (list, tuple)) else \
        [parameter_and_buffer_dicts]
    values = {}
    for d in dicts:
        clash = sorted(set(values) & set(d))
        if clash:
            raise ValueError(f"functional_call: {clash} given in more than one dict")
        values.update(d)
    if tie_weights:
        values = _untie(module, values)
    known = _named_tensors(module)
    if strict:
        missing, unexpected = sorted(set(known) - set(values)), sorted(set(values) - set(known))
        if missing or unexpected:
            raise RuntimeError(f"functional_call: for {type(module).__name__}: missing keys {missing}, unexpected "
                               f"keys {unexpected}")
    swapped = []
    try:
        for name, value in values.items():
            prefix, _, attr = name.rpartition(".")
            owner = module.get_submodule(prefix)
            if isinstance(getattr(type(owner), attr, None), property):
                raise ValueError(f"functional_call: {name!r} is parametrized; give "
                                 f"'{prefix + '.' if prefix else ''}parametrizations.{attr}.original' instead")
            swapped.append((owner, attr, owner.__dict__.get(attr, _MISSING)))
            object.__setattr__(owner, attr, value)  # (the module's registry keeps its own tensors)
        args = () if args is None else args if isinstance(args, tuple) else (args,)
        return module(*args, **(kwargs or {}))
    finally:
        for owner, attr, old in reversed(swapped):
            if old is _MISSING:
                object.__delattr__(owner, attr)
            else:
                object.__setattr__(owner, attr, old)


def _argnums(op, argnums, n):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for a in nums:
        if not -n <= a < n:
            raise ValueError(f"{op}: argnums {argnums} out of range for {n} positional arguments")
    return nums


def _prepared(op, args, nums):
    args = list(args)
    for a in nums:
        if not isinstance(args[a], Tensor):
            raise TypeError(f"{op}: argument {a} must be a Tensor, got {type(args[a]).__name__}")
        args[a] = args[a].detach().requires_grad_(True)
    return args


def _nested(args, nums):
    """Whether an argument already carries a graph (an outer transform's: grad(grad(f)))."""
    return any(isinstance(args[a], Tensor) and args[a].requires_grad for a in nums)


def grad_and_value(func, argnums=0, has_aux=False):
    """A function giving ((gradients of func's scalar output with respect to the
    arguments ``argnums``), value) -- with ``has_aux``, func returns (value, aux)
    and the result is (gradients, (value, aux))."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _argnums("grad", argnums, len(args))
        nested = _nested(args, nums)  # (inside another transform: keep its graph, record ours)
        args = list(args) if nested else _prepared("grad", args, nums)
        with enable_grad():
            out = func(*args, **kwargs)
        value, aux = out if has_aux else (out, None)
        if not isinstance(value, Tensor) or value.size != 1:
            raise RuntimeError(f"grad: func must return a one-element tensor, got "
                               f"{list(value.shape) if isinstance(value, Tensor) else type(value).__name__}")
        gs = _grad(value, [args[a] for a in nums], allow_unused=True, create_graph=nested)
        gs = tuple(g if g is not None else zeros_like(args[a]) for g, a in zip(gs, nums))
        g = gs[0] if isinstance(argnums, int) else gs
        v = value if nested else value.detach()
        return (g, (v, aux)) if has_aux else (g, v)
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """A function giving the gradient of func's scalar output with respect to the
    argument ``argnums`` (a tuple: one gradient each); ``has_aux``: (gradient, aux)."""
    gv = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, rest = gv(*args, **kwargs)
        return (g, rest[1]) if has_aux else g
    return wrapper


def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn): vjp_fn(cotangent) gives the cotangent pulled back to
    every primal (a tuple), and can be called again."""
    args = _prepared("vjp", primals, range(len(primals)))
    with enable_grad():
        out = func(*args)
    value, aux = out if has_aux else (out, None)
    if not isinstance(value, Tensor):
        raise TypeError("vjp: func must return one tensor")

    def vjp_fn(cotangent):
        gs = _grad(value, args, grad_outputs=cotangent, retain_graph=True, allow_unused=True)
        return tuple(g if g is not None else zeros_like(a) for g, a in zip(gs, args))
    return (value.detach(), vjp_fn, aux) if has_aux else (value.detach(), vjp_fn)


def jacrev(func, argnums=0):
    """A function giving the Jacobian of func's output with respect to the argument(s)
    ``argnums``: [*out.shape, *arg.shape] (one backward pass per output element)."""
    @functools.wraps(func)
    def wrapper(*args):
        nums = _argnums("jacrev", argnums, len(args))

        def partial(*picked):
            full = list(args)
            for a, v in zip(nums, picked):
                full[a] = v
            return func(*full)
        jac = _functional.jacobian(partial, tuple(args[a] for a in nums))
        return jac[0] if isinstance(argnums, int) else jac
    return wrapper


jacfwd = jacrev  # (the same Jacobian; vkgrad has reverse mode only)


def hessian(func, argnums=0):
    """A function giving the Hessian of func's one-element output with respect to
    the argument ``argnums`` ([*arg.shape, *arg.shape]; autograd.functional.hessian)."""
    @functools.wraps(func)
    def wrapper(*args):
        nums = _argnums("hessian", argnums, len(args))
        if len(nums) != 1:
            raise ValueError("func.hessian: one argnum (an int)")

        def partial(x):
            full = list(args)
            full[nums[0]] = x
            return func(*full)
        return _functional.hessian(partial, args[nums[0]])
    return wrapper


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """A function mapping ``func`` over a batch axis of its arguments: ``in_dims``
    one int / None for all or one per argument (None: not mapped), ``out_dims``
    the results' batch axis (one, or one per output of a tuple).  Runs func once
    per batch element and stacks: vmap's results, not its speed."""
    @functools.wraps(func)
    def wrapper(*args):
        dims = in_dims if isinstance(in_dims, (list, tuple)) else (in_dims,) * len(args)
        if len(dims) != len(args):
            raise ValueError(f"vmap: in_dims has {len(dims)} entries for {len(args)} arguments")
        sizes = {}
        for i, (a, d) in enumerate(zip(args, dims)):
            if d is None:
                continue
            if not isinstance(a, Tensor):
                raise TypeError(f"vmap: argument {i} is mapped (in_dims {d}) but is a {type(a).__name__}")
            sizes[i] = a.shape[a._dim("vmap", d)]
        if not sizes:
            raise ValueError("vmap: at least one argument must be mapped (in_dims not all None)")
        if len(set(sizes.values())) != 1:
            raise ValueError(f"vmap: the mapped axes differ in size: {sizes}")
        n = next(iter(sizes.values()))
        results = []
        for b in range(n):
            picked = [ops.select(a, d, b) if d is not None else a for a, d in zip(args, dims)]
            results.append(func(*picked))
        if not results:
            raise ValueError("vmap: the mapped axes are empty")
        if isinstance(results[0], tuple):
            outs = out_dims if isinstance(out_dims, (list, tuple)) else (out_dims,) * len(results[0])
            return tuple(ops.stack([r[k] for r in results], outs[k]) for k in range(len(results[0])))
        return ops.stack(results, out_dims)
    return wrapper


__all__ = ["functional_call", "grad", "grad_and_value", "vjp", "jacrev", "jacfwd", "hessian", "vmap"]
