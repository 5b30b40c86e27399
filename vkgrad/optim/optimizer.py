"""Optimizer base: parameter bookkeeping, gradient lookup and parameter groups."""
from __future__ import annotations

import functools
import inspect
from collections.abc import MutableMapping

import numpy as np

from .._values import scalar
from ..autograd import Gradients
from ..tensor import Tensor


def _param_list(params, owner):
    """[(key, Parameter)] from a list, a dict name->Parameter, or a generator."""
    if isinstance(params, dict):
        items = list(params.items())
        for k, p in items:
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"{owner}: params[{k!r}] is not a Parameter (or a tensor "
                                "with requires_grad=True)")
            if not getattr(p, "_explicit_name", False):
                p.name = k  # backward() keys this gradient by the dict key
        return [(k, p) for k, p in items]
    items = list(params)
    if not items:
        raise ValueError(f"{owner}: got an empty parameter list")
    out = []
    for i, p in enumerate(items):
        if not isinstance(p, Tensor) or not p.requires_grad:
            raise TypeError(f"{owner}: parameter {i} is a {type(p).__name__} without "
                            "requires_grad; pass model.parameters() or Parameters")
        out.append((p.name if p.name is not None else str(i), p))
    return out


def grad_for(grads, key, p, owner="optimizer"):
    """The gradient of p: from a backward() dict, p.grad, or a plain dict keyed by
    the parameter's key (its name, or its index as a string), its name, or the
    parameter itself."""
    if grads is None:
        g = p.grad
    elif isinstance(grads, Gradients):
        g = grads.of(p)
        if g is None:
            g = grads.get(key)
    elif isinstance(grads, dict):
        g = grads.get(key)
        if g is None:
            g = grads.get(p)  # (a Tensor hashes by identity)
        if g is None and p.name is not None:
            g = grads.get(p.name)
    else:
        raise TypeError(f"{owner}: grads must be the dict from vkgrad.backward(), a closure or None, "
                        f"got {type(grads).__name__}")
    if g is None:
        return None
    if not isinstance(g, Tensor):
        g = Tensor(p.backend.from_numpy(np.asarray(g), p.dtype), p.backend)
    if g.shape != p.shape:
        raise ValueError(f"{owner}: gradient for {key!r} has shape {list(g.shape)}, expected "
                         f"the parameter's shape {list(p.shape)}")
    if g.backend is not p.backend:
        raise ValueError(f"{owner}: gradient for {key!r} is on {g.device}, parameter on {p.device}")
    return g


def check_grads_keys(grads, named, owner):
    """A plain dict of gradients none of whose keys finds one of the parameters
    ``named`` [(key, p)] would update nothing, silently: raise instead (a dict from
    backward() may hold other parameters' gradients too, and is not checked)."""
    if not isinstance(grads, dict) or isinstance(grads, Gradients) or not grads:
        return
    if not any(k in grads or p in grads or (p.name is not None and p.name in grads) for k, p in named):
        some = ", ".join(repr(k) if not isinstance(k, Tensor) else f"<tensor {list(k.shape)}>"
                         for k in list(grads)[:4])
        raise KeyError(f"{owner}: none of the {len(grads)} keys of grads ({some}{', ...' if len(grads) > 4 else ''}) "
                       f"names a parameter (expected keys like {[k for k, _ in named[:3]]}, the parameters "
                       "themselves, or the dict from vkgrad.backward())")


def _groups(params):
    """PyTorch's parameter groups (a list of dicts, each with "params"), or None."""
    if isinstance(params, (list, tuple)) and params and all(isinstance(g, dict) for g in params):
        return [dict(g) for g in params]
    return None


def _group_params(ps):
    """A group's "params" (a tensor, a dict name -> tensor, or an iterable) as a list."""
    return [ps] if isinstance(ps, Tensor) else list(ps.values()) if isinstance(ps, dict) else list(ps)


# PyTorch's switches between implementations of one update (for-each loops, one fused
# kernel, CUDA-graph capture): vkgrad's updates are one fused dispatch for all
# parameters already and capture through vg.capture_step; differentiable=True is refused
_IMPL_SWITCHES = ("foreach", "fused", "capturable", "differentiable")


class _GroupView(MutableMapping):
    """One parameter group as PyTorch's dict: "params" and the hyperparameters of
    the optimizer serving it, read and written live (``g["lr"] = 0.01`` takes
    effect at the next step, replays of a captured step included)."""

    def __init__(self, opt, names):
        self._opt, self._names = opt, ("params",) + tuple(names)

    def __getitem__(self, k):
        if k == "params":
            return [p for _, p in self._opt.params]
        if k not in self._names:
            raise KeyError(k)
        return self._opt._lr if k == "lr" else getattr(self._opt, k)

    def __setitem__(self, k, v):
        if k not in self._names or k == "params":
            raise KeyError(f"{type(self._opt).__name__}: param_groups take the hyperparameters "
                           f"{list(self._names[1:])}, not {k!r}")
        if k == "lr":
            self._opt._lr = float(v)
        else:
            object.__setattr__(self._opt, k, v)

    def __delitem__(self, k):
        raise KeyError(f"param_groups: {k!r} cannot be removed")

    def __iter__(self):
        return iter(self._names)

    def __len__(self):
        return len(self._names)

    def __repr__(self):
        return repr({k: (f"<{len(self['params'])} parameters>" if k == "params" else self[k]) for k in self})


class Optimizer:
    """Base class: ``step(grads=None)``, ``zero_grad()``, mutable ``lr``,
    ``state_dict()`` / ``load_state_dict()`` for checkpoints.

    Parameter groups as PyTorch's: ``Adam([{"params": body}, {"params": head,
    "lr": 1e-2, "weight_decay": 0}], lr=1e-3)``; each group after the first is
    served by an optimizer of its own (its hyperparameters, its fused update), and
    ``param_groups`` lists them as dicts.  Setting ``opt.lr`` (the schedulers do)
    moves every group's rate by the same factor; ``param_groups[k]["lr"]`` one
    group's.

    f16 parameters are trained through f32 master copies: the update runs on
    the master (with f32 optimizer state and an f32 view of the gradient) and
    the result is written back to the f16 parameter.  Subclasses implement
    ``_apply(work)`` over ``[(key, param, target_handle, grad_handle), ...]``,
    name their hyperparameters in ``_HYPER`` and their per-parameter state's
    parts in ``_STATE`` (PyTorch's names)."""

    _HYPER = ()
    _STATE = ()
    _BASE_HYPER = ("lr", "initial_lr", "maximize")  # (every optimizer's, in its state_dict)
    maximize = False  # (LBFGS and Muon take none, as PyTorch's)
    _hyper_names = ("lr",)  # (the constructor's arguments but params: set per class below)
    _GROUPS = True  # (LBFGS: False, as PyTorch's)

    def __init_subclass__(cls, **kw):
        """Wrap the subclass's constructor: a list of group dicts builds one
        optimizer per group (the first in ``self``), each with the constructor's
        arguments overridden by its group's."""
        super().__init_subclass__(**kw)
        init = cls.__dict__.get("__init__")
        if init is None:
            return
        sig = inspect.signature(init)
        cls._hyper_names = tuple(n for n in list(sig.parameters)[2:]
                                 if sig.parameters[n].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
                                 or sig.parameters[n].kind is inspect.Parameter.KEYWORD_ONLY)

        @functools.wraps(init)
        def __init__(self, params, *args, **kwargs):
            for k in _IMPL_SWITCHES:  # (PyTorch's implementation switches: accepted, as its code passes them)
                if k in kwargs and k not in sig.parameters:
                    if k == "differentiable" and kwargs[k]:
                        raise ValueError(f"{type(self).__name__}: differentiable=True (gradients through the "
                                         "update) is not supported")
                    kwargs.pop(k)
            groups = _groups(params)
            if groups is None:
                return init(self, params, *args, **kwargs)
            name = type(self).__name__
            if not type(self)._GROUPS and len(groups) > 1:
                raise ValueError(f"{name}: parameter groups are not supported (one group, as PyTorch's)")
            bound = sig.bind(self, None, *args, **kwargs)
            base = {k: v for k, v in list(bound.arguments.items())[2:]}
            seen, made = set(), []
            for i, g in enumerate(groups):
                if "params" not in g:
                    raise ValueError(f"{name}: parameter group {i} has no 'params'")
                unknown = sorted(set(g) - {"params"} - set(type(self)._hyper_names))
                if unknown:
                    raise ValueError(f"{name}: parameter group {i} has unknown options {unknown} "
                                     f"(it takes {list(type(self)._hyper_names)})")
                ps = _group_params(g["params"])
                if any(id(p) in seen for p in ps):
                    raise ValueError(f"{name}: a parameter appears in more than one group")
                seen |= {id(p) for p in ps}
                opts = {**base, **{k: v for k, v in g.items() if k != "params"}}
                sub = self if i == 0 else type(self).__new__(type(self))
                init(sub, ps, **opts)
                made.append(sub)
            self._extra = made[1:]
        __init__._grouped = True
        cls.__init__ = __init__

    def __init__(self, params, lr, maximize=False):
        if lr < 0:
            raise ValueError(f"{type(self).__name__}: lr must be >= 0, got {lr}")
        self.maximize = bool(maximize)  # (PyTorch's: ascend, the gradient negated first)
        self.params = _param_list(params, type(self).__name__)
        self._lr = float(lr)
        self.initial_lr = float(lr)
        self.state = {}
        self.masters = {}
        self.step_count = 0

    @property
    def lr(self):
        """The learning rate (the first group's); setting it moves every group's by
        the same factor (as PyTorch's schedulers move each group's)."""
        return self._lr

    @lr.setter
    def lr(self, v):
        v, old = float(v), self.__dict__.get("_lr")
        for sub in self.__dict__.get("_extra", ()):  # each group moved by the same factor (from 0: by the
            # groups' initial ratio), as PyTorch's chainable schedulers move each group's rate
            sub._lr = sub._lr * (v / old) if old else v * (sub.initial_lr / self.initial_lr if self.initial_lr else 1.0)
        self._lr = v

    def __setattr__(self, name, value):
        # a scheduler cycling a hyperparameter (betas, momentum) moves every group's
        for sub in self.__dict__.get("_extra", ()):
            if name in type(self)._hyper_names and name != "lr":
                object.__setattr__(sub, name, value)
        object.__setattr__(self, name, value)

    @property
    def param_groups(self):
        """PyTorch's param_groups: one dict per group ("params" and the
        hyperparameters), read and written live."""
        return [_GroupView(o, type(self)._hyper_names) for o in self._groups_served()]

    def add_param_group(self, group):
        """A new group (a dict with "params" and any hyperparameters, the first
        group's otherwise), served by an optimizer of its own."""
        if not type(self)._GROUPS:
            raise ValueError(f"{type(self).__name__}: parameter groups are not supported")
        if not isinstance(group, dict) or "params" not in group:
            raise ValueError(f"{type(self).__name__}.add_param_group: expected a dict with 'params'")
        name = type(self).__name__
        unknown = sorted(set(group) - {"params"} - set(type(self)._hyper_names))
        if unknown:
            raise ValueError(f"{name}.add_param_group: unknown options {unknown} (it takes "
                             f"{list(type(self)._hyper_names)})")
        opts = {k: (self._lr if k == "lr" else getattr(self, k)) for k in type(self)._hyper_names}
        opts.update({k: v for k, v in group.items() if k != "params"})
        ps = _group_params(group["params"])
        ids = {id(p) for p in self.parameters()}
        if any(id(p) in ids for p in ps):
            raise ValueError(f"{name}.add_param_group: a parameter is already in a group")
        sub = type(self).__new__(type(self))
        type(self).__init__(sub, ps, **opts)  # (a plain list: the subclass's own constructor)
        self.__dict__.setdefault("_extra", []).append(sub)

    def _zeros_like(self, p):
        # optimizer state stays f32 (f64 in gradient checks) whatever the parameter dtype
        dt = "f64" if p.dtype == "f64" else "f32"
        return p.backend.full(p.shape, 0.0, dt)

    def _full_many(self, ps, value):
        """State buffers of the parameters' shapes filled with ``value`` (f32, f64 for
        f64 parameters), made together per backend and dtype (``Backend.full_many``:
        on the CPU the small ones share one allocation, which the fused update of
        small parameters then runs on in place instead of packing them each step)."""
        out, groups = [None] * len(ps), {}
        for i, p in enumerate(ps):
            dt = "f64" if p.dtype == "f64" else "f32"
            groups.setdefault((id(p.backend), dt), (p.backend, dt, []))[2].append(i)
        for be, dt, idx in groups.values():
            for i, h in zip(idx, be.full_many([tuple(ps[i].shape) for i in idx], value, dt)):
                out[i] = h
        return out

    def _target(self, p, g):
        """(handle to update, gradient handle in its dtype) for one parameter."""
        be, dt = p.backend, p.dtype
        if dt == "f16":
            m = self.masters.get(id(p))
            if m is None:
                m = self.masters[id(p)] = be.cast(p.handle, "f32")
            return m, g.handle  # an f16 gradient as it is: the update reads it (backends convert)
        gd = g.handle
        return p.handle, (gd if be.dtype_of(gd) == dt else be.cast(gd, dt))

    def step(self, grads=None, closure=None):
        """Update every parameter that has a gradient (from ``grads`` -- the dict
        from ``vkgrad.backward()``, or a dict keyed by parameter names or the
        parameters -- or ``.grad``).  PyTorch's ``closure`` (also in ``grads``'s
        place): a callable that clears the gradients, computes the loss and calls
        ``backward()``, run first with gradients recorded; its loss is returned."""
        loss = None
        if callable(grads) and not isinstance(grads, dict):
            grads, closure = None, grads
        if closure is not None:
            from ..autograd import enable_grad
            with enable_grad():
                loss = closure()
        if grads and type(grads) is dict:  # (a plain dict: its keys checked; backward()'s Gradients are not)
            check_grads_keys(grads, self._named_params(), type(self).__name__)
        for be in self._step(grads).values():
            be.end_step()  # a training step is done: submit its queued work (every group's: one submission)
        return loss

    def _step(self, grads):
        """The updates of every group, recorded; returns the backends they used."""
        backends = {}
        for sub in self.__dict__.get("_extra", ()):  # (the other groups: each its own fused update)
            backends.update(sub._step(grads))
        self.step_count += 1
        work, owner = [], type(self).__name__
        for key, p in self.params:
            g = grad_for(grads, key, p, owner)
            if g is not None:
                target, gd = self._target(p, g)
                if self.maximize:
                    gd = p.backend.unary("affine", gd, -1.0, 0.0)
                work.append((key, p, target, gd))
        self._apply(work)
        mirrors = {}
        for _, p, target, _ in work:
            if target is not p.handle:  # master -> f16 parameter
                mirrors.setdefault(id(p.backend), []).append((p.handle, target))
            backends[id(p.backend)] = p.backend
        for k, pairs in mirrors.items():
            backends[k].copy_many_(pairs)
        linked = [p for _, p, _, _ in work if p._view is not None and p._view.views and not p.backend.capturing]
        if linked:  # (a parameter's live views -- w.t() kept by the user -- follow the update, as PyTorch's)
            from ..autograd import no_grad
            with no_grad():
                for p in linked:
                    p._passed_on()
        for be in backends.values():
            if be.capturing:  # a replay of this step must advance our counters too
                params = tuple(p for _, p, _, _ in work)
                be.on_replay(lambda: self._advance(params))
        return backends

    def _advance(self, params):
        """Python-side bookkeeping of one more step, for a replayed (captured) step."""
        self.step_count += 1

    def _apply(self, work):
        raise NotImplementedError

    # -- checkpoints ---------------------------------------------------------------
    def state_dict(self):
        """The optimizer's state as plain values and NumPy arrays (``vkgrad.save``
        writes it, nested in a dict with the model's): its type, hyperparameters
        (lr included), step count, per parameter key its state (Adam: ``exp_avg``,
        ``exp_avg_sq``, ``step``; SGD: ``momentum_buffer``) and, for f16
        parameters, the f32 master weights the updates run on."""
        hyper = {k: getattr(self, k) for k in self._BASE_HYPER + self._HYPER}
        state, masters = {}, {}
        for key, p in self.params:
            if id(p) in self.state:
                parts = self._state_parts(self.state[id(p)], p)
                state[key] = {name: (v if isinstance(v, (int, float)) else np.array(p.backend.to_numpy(v)))
                              for name, v in zip(self._STATE, parts) if v is not None}
            if id(p) in self.masters:
                masters[key] = np.array(p.backend.to_numpy(self.masters[id(p)]))
        sd = {"type": type(self).__name__, "hyper": hyper, "step_count": self.step_count,
              "state": state, "masters": masters}
        extra = self.__dict__.get("_extra", ())
        if extra:  # the other parameter groups' optimizers
            sd["groups"] = {str(i + 1): sub.state_dict() for i, sub in enumerate(extra)}
        return sd

    def load_state_dict(self, sd):
        """Restore ``state_dict()``'s values (from ``vkgrad.load`` too: 0-d arrays for
        numbers): the same optimizer type and parameter keys, state of the
        parameters' shapes -- or PyTorch's optimizer state dict (its groups and
        parameters in order, the state's PyTorch names).  Buffers that exist are overwritten in place, so a
        captured step (``vkgrad.capture_step``) goes on with the loaded state."""
        owner = type(self).__name__
        extra = self.__dict__.get("_extra", ())
        if isinstance(sd, dict) and "param_groups" in sd and "type" not in sd:
            sd = self._from_pytorch(sd)
        if isinstance(sd, dict) and (extra or "groups" in sd):
            groups = sd.get("groups", {})
            if len(groups) != len(extra):
                raise ValueError(f"{owner}.load_state_dict: the state has {len(groups) + 1} parameter groups, this "
                                 f"optimizer {len(extra) + 1}")
            self._load_own({k: v for k, v in sd.items() if k != "groups"})
            for i, sub in enumerate(extra):  # (after the first group's: its lr setter moves the others)
                sub.load_state_dict(groups[str(i + 1)])
            return
        self._load_own(sd)

    _PYTORCH_DERIVED = ()  # PyTorch's state entries vkgrad computes instead (NAdam's mu_product)

    def _from_pytorch(self, sd):
        """PyTorch's optimizer state dict ({"state": {index: {name: tensor}},
        "param_groups": [{"params": [index, ...], hyperparameters}]}, as
        ``torch.optim.Optimizer.state_dict()`` gives it; tensors or arrays) in this
        optimizer's format: its groups in order, their parameters in order."""
        owner = type(self).__name__
        served, groups = self._groups_served(), list(sd["param_groups"])
        if len(groups) != len(served):
            raise ValueError(f"{owner}.load_state_dict: PyTorch's state has {len(groups)} parameter groups, this "
                             f"optimizer {len(served)}")
        state, subs = sd.get("state", {}), []
        for i, (o, g) in enumerate(zip(served, groups)):
            ids = list(g["params"])
            if len(ids) != len(o.params):
                raise ValueError(f"{owner}.load_state_dict: PyTorch's parameter group {i} has {len(ids)} "
                                 f"parameters, this optimizer's {len(o.params)}")
            st, steps = {}, [0]
            for (key, _), pid in zip(o.params, ids):
                entry = state.get(pid, state.get(str(pid)))
                if not entry:
                    continue
                unknown = sorted(set(entry) - set(o._STATE) - set(o._PYTORCH_DERIVED))
                if unknown:
                    raise KeyError(f"{owner}.load_state_dict: PyTorch's state {unknown} for parameter {pid} has "
                                   f"no counterpart here (its parts: {list(o._STATE)})")
                st[key] = {}
                for name, v in entry.items():
                    if name in o._STATE:
                        v = np.asarray(v)
                        st[key][name] = int(v) if name == "step" else v
                        if name == "step":
                            steps.append(int(v))
            hyper = {k: (tuple(g[k]) if isinstance(g[k], (list, tuple)) else g[k])
                     for k in o._BASE_HYPER + o._HYPER if k in g and g[k] is not None}
            subs.append({"type": owner, "hyper": hyper, "step_count": max(steps), "state": st, "masters": {}})
        out = dict(subs[0])
        if len(subs) > 1:
            out["groups"] = {str(i): sub for i, sub in enumerate(subs[1:], 1)}
        return out

    def _load_own(self, sd):
        owner = type(self).__name__
        kind = scalar(sd.get("type")) if isinstance(sd, dict) else None
        if kind != owner:
            raise ValueError(f"{owner}.load_state_dict: the state is of a {kind or 'non-optimizer'}, "
                             f"expected a {owner}")
        keys = {k for k, _ in self.params}
        for part in ("state", "masters"):
            extra = sorted(set(sd.get(part, {})) - keys)
            if extra:
                raise KeyError(f"{owner}.load_state_dict: {part} for parameters this optimizer does "
                               f"not have: {extra} (its keys: {sorted(keys)})")
        for k, v in sd.get("hyper", {}).items():
            if k not in self._BASE_HYPER + self._HYPER:
                raise KeyError(f"{owner}.load_state_dict: unknown hyperparameter {k!r}")
            v, cur = np.asarray(v), getattr(self, k)
            if v.dtype.kind in "US":
                setattr(self, k, str(v.item()))
            else:
                setattr(self, k, tuple(None if x is None else float(x) for x in v) if v.ndim else
                        v.item() if cur is None else type(cur)(v.item()))
        self.step_count = int(scalar(sd.get("step_count", 0)))
        for key, p in self.params:
            dt = "f64" if p.dtype == "f64" else "f32"
            st = sd.get("state", {}).get(key)
            if st is None:
                self.state.pop(id(p), None)
            else:
                unknown = sorted(set(st) - set(self._STATE))
                if unknown:
                    raise KeyError(f"{owner}.load_state_dict: unknown state {unknown} for {key!r}")
                old = self._state_parts(self.state[id(p)], p) if id(p) in self.state else [None] * len(self._STATE)
                parts = [self._load_part(key, p, dt, old[i], st.get(name), name)
                         for i, name in enumerate(self._STATE)]
                self.state[id(p)] = self._state_from_parts(self.state.get(id(p)), parts, p)
            m = sd.get("masters", {}).get(key)
            if m is not None and p.dtype == "f16":
                self.masters[id(p)] = self._load_part(key, p, "f32", self.masters.get(id(p)), m,
                                                      "master weights")
            elif m is not None:
                raise ValueError(f"{owner}.load_state_dict: master weights for {key!r}, a {p.dtype} "
                                 "parameter (only f16 parameters have them)")

    def _load_part(self, key, p, dt, cur, v, name=None):
        """One part of a parameter's state: a number as it is, an array into the
        existing buffer (kept: captures hold it) or a new one."""
        if v is None:
            return None
        v = np.asarray(v)
        if v.ndim == 0 and v.dtype.kind in "iu":
            return int(v)
        if name in self._HOST_STATE:
            return float(v)
        shape = self._state_shape(name, p)
        if v.shape != shape:
            raise ValueError(f"{type(self).__name__}.load_state_dict: {name or 'state'} for {key!r} has shape "
                             f"{list(v.shape)}, expected {list(shape)}")
        new = p.backend.from_numpy(v.astype(np.float64 if dt == "f64" else np.float32), dt)
        if cur is None:
            return new
        p.backend.copy_(cur, new)
        return cur

    _HOST_STATE = ()  # the state's parts kept as Python numbers (ASGD's eta and mu)

    def _state_shape(self, name, p):
        """The shape of a state part (the parameter's; Adafactor's factors differ)."""
        return tuple(p.shape)

    def _composed(self, p, target, g, what=None):
        """(backend, weights, gradient in the weights' dtype) as Tensors, for an
        update composed of ops; ``what`` names one with per-step host numbers,
        refused while capturing (a replay would repeat this step's numbers)."""
        be = p.backend
        if what and be.capturing:
            raise RuntimeError(f"{what} runs composed ops with per-step host numbers: a captured step "
                               "(vkgrad.capture_step) cannot replay it")
        dt = be.dtype_of(target)
        return be, Tensor(target, be), Tensor(g if be.dtype_of(g) == dt else be.cast(g, dt), be)

    @staticmethod
    def _write(be, pairs):
        """Copy each (handle, Tensor) result into its state or weight buffer."""
        for dst, src in pairs:
            be.copy_(dst, src.handle)

    def _state_parts(self, st, p):
        """The per-parameter state as a list in _STATE's order."""
        return list(st)

    def _state_from_parts(self, cur, parts, p):
        """The per-parameter state from _STATE-ordered parts (``cur``: the existing
        state, updated in place where a captured step holds it)."""
        if isinstance(cur, list):
            cur[:] = parts
            return cur
        return parts

    def zero_grad(self, set_to_none=True):
        """Drop the parameters' gradients (``set_to_none=False``: zero them in place, as
        ``Module.zero_grad``; it dropped them too)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.zero_()

    def _groups_served(self):
        """This optimizer and those serving its other parameter groups."""
        return (self,) + tuple(self.__dict__.get("_extra", ()))

    def _named_params(self):
        """[(key, parameter)] of every group."""
        return [kp for o in self._groups_served() for kp in o.params]

    def parameters(self):
        return [p for _, p in self._named_params()]
