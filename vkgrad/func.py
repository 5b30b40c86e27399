"""``vkgrad.func``: PyTorch's torch.func for first-order gradients --
``functional_call`` (a module run with other parameters and buffers),
``grad`` / ``grad_and_value`` / ``vjp`` / ``jvp`` / ``linearize`` / ``jacrev`` /
``jacfwd`` (the last three by reverse mode: one backward pass per output element) as function
transforms over vkgrad's tape, ``vmap`` and ``stack_module_state``; arguments may
be pytrees (tensors in tuples / lists / dicts: a dict of parameters), and the
transforms compose (recorded where an argument carries a graph).

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


# -- pytrees: a tensor, or tuples / lists / dicts of them (torch.func's: a dict of parameters) --
def _leaves(tree, op="func"):
    if isinstance(tree, Tensor):
        return [tree]
    if isinstance(tree, dict):
        return [t for v in tree.values() for t in _leaves(v, op)]
    if isinstance(tree, (tuple, list)):
        return [t for v in tree for t in _leaves(v, op)]
    raise TypeError(f"{op}: expected a Tensor or a tuple / list / dict of them, got {type(tree).__name__}")


def _rebuilt(tree, leaves):
    """``tree``'s structure with ``leaves`` (an iterator, in _leaves' order) in it."""
    if isinstance(tree, Tensor):
        return next(leaves)
    if isinstance(tree, dict):
        return {k: _rebuilt(v, leaves) for k, v in tree.items()}
    return type(tree)(_rebuilt(v, leaves) for v in tree)


def _mapped(fn, tree):
    return _rebuilt(tree, iter([fn(t) for t in _leaves(tree)]))


def _carries_graph(tree):
    """Whether any tensor in an argument (a pytree, or anything else) requires grad."""
    if isinstance(tree, Tensor):
        return tree.requires_grad
    if isinstance(tree, dict):
        tree = tree.values()
    return isinstance(tree, (tuple, list, type({}.values()))) and any(_carries_graph(v) for v in tree)


def _prepared(op, args, nums):
    """(args, nested): the arguments ``nums`` (pytrees) with each tensor that does not
    require grad made a fresh leaf that does; ``nested`` where any argument carries
    a graph (an outer transform's -- grad(grad(f)), vmap(grad(f)) of tensors that
    require grad --): the results are then recorded too, differentiable towards it
    (torch.func's transforms compose)."""
    args = list(args)
    nested = _recorded(args)
    for a in nums:
        args[a] = _mapped(lambda t: t if t.requires_grad else t.detach().requires_grad_(True), args[a])
    return args, nested


def grad_and_value(func, argnums=0, has_aux=False):
    """A function giving ((gradients of func's scalar output with respect to the
    arguments ``argnums``), value) -- with ``has_aux``, func returns (value, aux)
    and the result is (gradients, (value, aux)).  An argument may be a pytree (a
    dict of parameters, a tuple of tensors): its gradient has its structure."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _argnums("grad", argnums, len(args))
        args, nested = _prepared("grad", args, nums)
        with enable_grad():
            out = func(*args, **kwargs)
        value, aux = out if has_aux else (out, None)
        if not isinstance(value, Tensor) or value.size != 1:
            raise RuntimeError(f"grad: func must return a one-element tensor, got "
                               f"{list(value.shape) if isinstance(value, Tensor) else type(value).__name__}")
        wrt = [t for a in nums for t in _leaves(args[a], "grad")]
        gs = _grad(value, wrt, allow_unused=True, create_graph=nested)
        it = iter([g if g is not None else zeros_like(t) for g, t in zip(gs, wrt)])
        gs = tuple(_rebuilt(args[a], it) for a in nums)
        g = gs[0] if isinstance(argnums, int) else gs
        v = value if nested else value.detach()
        return (g, (v, aux)) if has_aux else (g, v)
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """A function giving the gradient of func's scalar output with respect to the
    argument ``argnums`` (a tuple: one gradient each; a pytree argument: a gradient
    of its structure); ``has_aux``: (gradient, aux)."""
    gv = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, rest = gv(*args, **kwargs)
        return (g, rest[1]) if has_aux else g
    return wrapper


def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn): vjp_fn(cotangent) gives the cotangent pulled back to
    every primal (a tuple, each of its primal's pytree structure), and can be
    called again; recorded (differentiable again) where a primal carries a graph."""
    args, nested = _prepared("vjp", primals, range(len(primals)))
    with enable_grad():
        out = func(*args)
    value, aux = out if has_aux else (out, None)
    if not isinstance(value, Tensor):
        raise TypeError("vjp: func must return one tensor")
    wrt = _leaves(args, "vjp")

    def vjp_fn(cotangent):
        gs = _grad(value, wrt, grad_outputs=cotangent, retain_graph=True, allow_unused=True, create_graph=nested)
        return tuple(_rebuilt(args, iter([g if g is not None else zeros_like(t) for g, t in zip(gs, wrt)])))
    v = value if nested else value.detach()
    return (v, vjp_fn, aux) if has_aux else (v, vjp_fn)


def _with_args(func, args, nums):
    def partial(*picked):
        full = list(args)
        for a, v in zip(nums, picked):
            full[a] = v
        return func(*full)
    return partial


def _recorded(args):
    """Whether the arguments carry graphs (an outer transform's): the results then
    stay differentiable (create_graph)."""
    return any(_carries_graph(a) for a in args)


def _output_and_aux(op, func, has_aux, seen):
    """func with its (output, aux) split when has_aux, the output and aux kept in
    ``seen``."""
    def f(*a):
        out = func(*a)
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise TypeError(f"{op}: with has_aux, func must return (output, aux)")
            out, seen["aux"] = out
        if not isinstance(out, Tensor):
            raise TypeError(f"{op}: func must return one tensor, got {type(out).__name__}")
        seen["out"] = out
        return out
    return f


def jacrev(func, argnums=0, *, has_aux=False):
    """A function giving the Jacobian of func's output with respect to the argument(s)
    ``argnums``: [*out.shape, *arg.shape] (one backward pass per output element);
    ``has_aux``: func returns (output, aux), the wrapper (jacobian, aux).
    Differentiable again where an argument carries a graph."""
    @functools.wraps(func)
    def wrapper(*args):
        nums = _argnums("jacrev", argnums, len(args))
        seen = {}
        jac = _functional.jacobian(_with_args(_output_and_aux("jacrev", func, has_aux, seen), args, nums),
                                   tuple(args[a] for a in nums), create_graph=_recorded(args))
        jac = jac[0] if isinstance(argnums, int) else jac
        return (jac, seen["aux"]) if has_aux else jac
    return wrapper


jacfwd = jacrev  # (the same Jacobian; vkgrad has reverse mode only)


def linearize(func, *primals):
    """(func(*primals), jvp_fn): jvp_fn(*tangents) is the Jacobian at the primals
    times the tangents (one per primal, of its shape), J t, as torch.func's; the
    Jacobian is found once (one backward pass per output element: vkgrad has
    reverse mode only) and each call is a product."""
    return _linearized("linearize", func, primals, False)[:2]


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """(func(*primals), J tangents) -- torch.func's forward-mode product, computed by
    reverse mode (``linearize``'s Jacobian); ``has_aux``: func returns (output,
    aux), jvp (output, J tangents, aux)."""
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals and {len(tangents)} tangents; give one tangent per primal")
    out, jvp_fn, aux = _linearized("jvp", func, primals, has_aux)
    jv = jvp_fn(*tangents)
    return (out, jv, aux) if has_aux else (out, jv)


def _linearized(op, func, primals, has_aux):
    for i, p in enumerate(primals):
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: primal {i} must be a tensor, got {type(p).__name__}")
    seen = {}
    nested = _recorded(primals)
    jac = _functional.jacobian(_output_and_aux(op, func, has_aux, seen), primals, create_graph=nested)
    jac = jac if isinstance(jac, tuple) else (jac,)
    out = seen["out"] if nested else seen["out"].detach()

    def jvp_fn(*tangents):
        if len(tangents) != len(primals):
            raise ValueError(f"{op}: {len(primals)} primals and {len(tangents)} tangents")
        total = None
        for i, (j, p, t) in enumerate(zip(jac, primals, tangents)):
            if not isinstance(t, Tensor) or t.shape != p.shape:
                raise ValueError(f"{op}: tangent {i} must be a tensor of its primal's shape {list(p.shape)}, got "
                                 f"{list(getattr(t, 'shape', ()))}")
            term = ops.matmul(j.reshape(out.size, p.size), t.reshape(p.size, 1)).reshape(out.shape)
            total = term if total is None else total + term
        return total
    return out, jvp_fn, seen.get("aux")


def hessian(func, argnums=0):
    """A function giving the Hessian of func's one-element output with respect to
    the argument ``argnums`` ([*arg.shape, *arg.shape]; autograd.functional.hessian)."""
    @functools.wraps(func)
    def wrapper(*args):
        nums = _argnums("hessian", argnums, len(args))
        if len(nums) != 1:
            raise ValueError("func.hessian: one argnum (an int)")
        return _functional.hessian(_with_args(func, args, nums), args[nums[0]], create_graph=_recorded(args))
    return wrapper


def _stacked(results, dims):
    """Per-element results stacked along ``dims`` (one, or a structure of them as
    the results'): tensors, tuples / lists / dicts of them."""
    first = results[0]
    if isinstance(first, Tensor):
        return ops.stack(results, dims)
    if isinstance(first, dict):
        return {k: _stacked([r[k] for r in results], dims[k] if isinstance(dims, dict) else dims) for k in first}
    if isinstance(first, (tuple, list)):
        ds = dims if isinstance(dims, (tuple, list)) else (dims,) * len(first)
        return type(first)(_stacked([r[k] for r in results], ds[k]) for k in range(len(first)))
    raise TypeError(f"vmap: func returned a {type(first).__name__}; expected tensors (or tuples / lists / dicts "
                    "of them)")


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """A function mapping ``func`` over a batch axis of its arguments: ``in_dims``
    one int / None for all or one per argument (None: not mapped; a pytree
    argument -- a dict of parameters -- mapped leaf by leaf), ``out_dims`` the
    results' batch axis (one, or one per output).  Runs func once per batch
    element and stacks: vmap's results, not its speed."""
    @functools.wraps(func)
    def wrapper(*args):
        dims = in_dims if isinstance(in_dims, (list, tuple)) else (in_dims,) * len(args)
        if len(dims) != len(args):
            raise ValueError(f"vmap: in_dims has {len(dims)} entries for {len(args)} arguments")
        sizes = {}
        for i, (a, d) in enumerate(zip(args, dims)):
            if d is None:
                continue
            if not isinstance(a, (Tensor, tuple, list, dict)):
                raise TypeError(f"vmap: argument {i} is mapped (in_dims {d}) but is a {type(a).__name__}")
            for t in _leaves(a, "vmap"):
                sizes.setdefault(t.shape[t._dim("vmap", d)], i)
        if not sizes:
            raise ValueError("vmap: at least one argument must be mapped (in_dims not all None)")
        if len(sizes) != 1:
            raise ValueError(f"vmap: the mapped axes differ in size: {sorted(sizes)}")
        n = next(iter(sizes))
        if n == 0:
            raise ValueError("vmap: the mapped axes are empty")
        results = [func(*[_mapped(lambda t, d=d: ops.select(t, d, b), a) if d is not None else a
                          for a, d in zip(args, dims)]) for b in range(n)]
        return _stacked(results, out_dims)
    return wrapper


def stack_module_state(models):
    """torch.func's: (parameters, buffers) of same-shaped modules as dicts of their
    tensors stacked on a new first axis -- the parameters new leaves that require
    grad -- for an ensemble run by ``vmap(functional_call)``."""
    models = list(models)
    if not models:
        raise ValueError("stack_module_state: expected at least one module")
    names = [n for n, _ in models[0].named_parameters()]
    bufs = [n for n, _ in models[0].named_buffers()]
    for m in models[1:]:
        if [n for n, _ in m.named_parameters()] != names or [n for n, _ in m.named_buffers()] != bufs:
            raise ValueError("stack_module_state: the modules differ in their parameters or buffers")

    def stacked(getter, keys, leaf):
        per = [dict(getter(m)) for m in models]
        out = {}
        for k in keys:
            t = ops.stack([p[k].detach() for p in per], 0)
            out[k] = t.requires_grad_(True) if leaf and t.dtype in ("f16", "f32", "f64") else t
        return out
    return (stacked(lambda m: m.named_parameters(), names, True),
            stacked(lambda m: m.named_buffers(), bufs, False))


__all__ = ["functional_call", "grad", "grad_and_value", "vjp", "jvp", "linearize", "jacrev", "jacfwd", "hessian", "vmap",
           "stack_module_state"]
