"""L-BFGS, as PyTorch's ``torch.optim.LBFGS``: ``step(closure)`` re-evaluates the
model (the closure zeroes the gradients, computes the loss, calls backward and
returns it) as often as the iterations and the optional strong-Wolfe line search
need.  The vectors live on the parameters' device; the scalars of the two-loop
recursion and the line search are read back to the host."""
from __future__ import annotations

import builtins
import math

import numpy as np

from .. import autograd, ops
from ..tensor import tensor, zeros_like
from .optimizer import Optimizer


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), within the
    bounds (PyTorch's)."""
    xmin_bound, xmax_bound = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _dot(a, b):
    return float(ops.sum(a * b).item())


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """PyTorch's strong-Wolfe line search (bracketing, then zoom by cubic
    interpolation): (loss, flat gradient, step, evaluations)."""
    d_norm = float(ops.max(ops.abs(d)).item())
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = _dot(g_new, d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f, bracket_g, bracket_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], \
                [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f, bracket_g, bracket_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], \
                [gtd_prev, gtd_new]
            break
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new, gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos], bracket_g[high_pos], bracket_gtd[high_pos] = t, f_new, g_new, \
                gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos], bracket_gtd[high_pos] = bracket_g[low_pos], bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos], bracket_g[low_pos], bracket_gtd[low_pos] = t, f_new, g_new, gtd_new
    t = bracket[low_pos]
    return bracket_f[low_pos], bracket_g[low_pos], t, ls_func_evals


class LBFGS(Optimizer):
    """PyTorch's L-BFGS (its defaults, history and stopping rules; ``line_search_fn``
    None or "strong_wolfe"): ``step(closure)`` returns the closure's first loss.
    Parameters in f32 (or f64 on the CPU backend).  ``state_dict()`` holds its
    curvature history too (under "lbfgs": the direction, step, curvature pairs as
    [k, n] arrays, ...), so a resumed run takes the steps an uninterrupted one
    would."""

    _HYPER = ("max_iter", "max_eval", "tolerance_grad", "tolerance_change", "history_size", "line_search_fn")
    _GROUPS = False  # (as PyTorch's: one parameter group)

    def __init__(self, params, lr=1.0, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        super().__init__(params, lr)
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got {line_search_fn!r}")
        for _, p in self.params:
            if p.dtype == "f16":
                raise TypeError("LBFGS: f16 parameters are not supported (its curvature pairs need f32)")
        self.max_iter, self.max_eval = int(max_iter), int(max_eval if max_eval is not None else max_iter * 5 // 4)
        self.tolerance_grad, self.tolerance_change = float(tolerance_grad), float(tolerance_change)
        self.history_size, self.line_search_fn = int(history_size), line_search_fn
        self._lbfgs = {"func_evals": 0, "n_iter": 0}

    def state_dict(self):
        sd = super().state_dict()
        st = self._lbfgs
        n = builtins.sum(p.size for _, p in self.params)
        host = lambda t: np.array(t.numpy(), dtype=np.float64)  # noqa: E731
        hist = {"func_evals": st["func_evals"], "n_iter": st["n_iter"],
                "old_dirs": np.stack([host(v) for v in st.get("old_dirs", [])]) if st.get("old_dirs") else
                np.zeros((0, n)),
                "old_stps": np.stack([host(v) for v in st.get("old_stps", [])]) if st.get("old_stps") else
                np.zeros((0, n)),
                "ro": np.array(st.get("ro", []), dtype=np.float64)}
        for k in ("d", "prev_flat_grad"):
            if st.get(k) is not None:
                hist[k] = host(st[k])
        for k in ("t", "H_diag", "prev_loss"):
            if st.get(k) is not None:
                hist[k] = float(st[k])
        sd["lbfgs"] = hist
        sd["hyper"]["line_search_fn"] = self.line_search_fn or ""  # (None has no array form)
        return sd

    def load_state_dict(self, sd):
        sd = dict(sd)
        hist = sd.pop("lbfgs", None)
        super().load_state_dict(sd)
        self.line_search_fn = self.line_search_fn or None
        if hist is None:
            self._lbfgs = {"func_evals": 0, "n_iter": 0}
            return
        p0 = self.params[0][1]
        n = builtins.sum(p.size for _, p in self.params)
        dt = "f64" if p0.dtype == "f64" else "f32"

        def dev(a):
            a = np.asarray(a, dtype=np.float64)
            if a.shape != (n,):
                raise ValueError(f"LBFGS.load_state_dict: history vectors of {list(a.shape)}, expected [{n}] "
                                 "(the parameters' total size)")
            return tensor(a, dtype=dt, device=p0.device)
        st = {"func_evals": int(np.asarray(hist["func_evals"])), "n_iter": int(np.asarray(hist["n_iter"])),
              "old_dirs": [dev(r) for r in np.asarray(hist["old_dirs"]).reshape(-1, n)],
              "old_stps": [dev(r) for r in np.asarray(hist["old_stps"]).reshape(-1, n)],
              "ro": [float(v) for v in np.asarray(hist["ro"]).reshape(-1)]}
        for k in ("d", "prev_flat_grad"):
            if k in hist:
                st[k] = dev(hist[k])
        for k in ("t", "H_diag", "prev_loss"):
            if k in hist:
                st[k] = float(np.asarray(hist[k]))
        self._lbfgs = st

    def _flat_grad(self):
        return ops.cat([ops.reshape(p.grad.detach() if p.grad is not None else zeros_like(p), (p.size,))
                        for _, p in self.params], 0)

    def _add_grad(self, t, d):
        """Every parameter += t * its slice of d, in place."""
        offset = 0
        with autograd.no_grad():
            for _, p in self.params:
                piece = ops.reshape(d[offset:offset + p.size], p.shape)
                p.add_(piece, alpha=t)
                offset += p.size

    def _clone_params(self):
        return [p.detach().clone() for _, p in self.params]

    def _set_params(self, values):
        with autograd.no_grad():
            for (_, p), v in zip(self.params, values):
                p.copy_(v)

    def _directional_evaluate(self, closure, x, t, d):
        self._add_grad(t, d)
        with autograd.enable_grad():
            loss = float(closure().item())
        flat_grad = self._flat_grad()
        self._set_params(x)
        return loss, flat_grad

    def step(self, closure=None):
        """Up to max_iter L-BFGS iterations; ``closure`` re-evaluates the model and
        returns the loss (required)."""
        if closure is None:
            raise ValueError("LBFGS.step: needs a closure that zeroes the gradients, computes the loss, calls "
                             "backward() and returns the loss")
        st, lr = self._lbfgs, self.lr
        with autograd.enable_grad():
            orig_loss = closure()
        loss = float(orig_loss.item())
        current_evals = 1
        st["func_evals"] += 1
        flat_grad = self._flat_grad()
        if float(ops.max(ops.abs(flat_grad)).item()) <= self.tolerance_grad:
            return orig_loss
        d, t = st.get("d"), st.get("t")
        old_dirs, old_stps, ro = st.get("old_dirs", []), st.get("old_stps", []), st.get("ro", [])
        H_diag, prev_flat_grad, prev_loss = st.get("H_diag", 1.0), st.get("prev_flat_grad"), st.get("prev_loss")
        n_iter = 0
        while n_iter < self.max_iter:
            n_iter += 1
            st["n_iter"] += 1
            if st["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro, H_diag = [], [], [], 1.0
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = _dot(y, s)
                if ys > 1e-10:
                    if len(old_dirs) == self.history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / _dot(y, y)
                al = [0.0] * len(old_dirs)
                q = -flat_grad
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = _dot(old_stps[i], q) * ro[i]
                    q = q - old_dirs[i] * al[i]
                r = q * H_diag
                for i in range(len(old_dirs)):
                    be_i = _dot(old_dirs[i], r) * ro[i]
                    r = r + old_stps[i] * (al[i] - be_i)
                d = r
            prev_flat_grad, prev_loss = flat_grad, loss
            t = min(1.0, 1.0 / float(ops.sum(ops.abs(flat_grad)).item())) * lr if st["n_iter"] == 1 else lr
            gtd = _dot(flat_grad, d)
            if gtd > -self.tolerance_change:
                break
            ls_func_evals = 0
            if self.line_search_fn is not None:
                x_init = self._clone_params()
                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    lambda x, t_, d_: self._directional_evaluate(closure, x, t_, d_), x_init, t, d, loss, flat_grad,
                    gtd)
                self._add_grad(t, d)
                opt_cond = float(ops.max(ops.abs(flat_grad)).item()) <= self.tolerance_grad
            else:
                self._add_grad(t, d)
                opt_cond = False
                if n_iter != self.max_iter:
                    with autograd.enable_grad():
                        loss = float(closure().item())
                    flat_grad = self._flat_grad()
                    opt_cond = float(ops.max(ops.abs(flat_grad)).item()) <= self.tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            st["func_evals"] += ls_func_evals
            if n_iter == self.max_iter or current_evals >= self.max_eval or opt_cond:
                break
            if float(ops.max(ops.abs(d * t)).item()) <= self.tolerance_change:
                break
            if abs(loss - prev_loss) < self.tolerance_change:
                break
        st.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                  prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        self.step_count += 1
        return orig_loss
