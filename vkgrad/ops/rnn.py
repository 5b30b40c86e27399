"""The recurrence of a recurrent layer (one direction of one layer over a whole
sequence) as one op, forward and backward, as cuDNN runs it: per time step one
product with ``w_hh`` and one cell (``Backend.lstm_cell`` / ``gru_cell``: one
kernel where the backend fuses it); in the backward the weights' gradients are
one product over all steps (not one per step), and the input projection's
gradient is written once."""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from ._core import autocast_to, check_tensor, make_multi, same_device

MODES = {"RNN_TANH": ("tanh", 1), "RNN_RELU": ("relu", 1), "LSTM": (None, 4), "GRU": (None, 3)}


def _check(mode, xg, h0, c0, w_hh, b_hh, w_hr):
    op = "recurrence"
    if mode not in MODES:
        raise ValueError(f"{op}: mode must be one of {sorted(MODES)}, got {mode!r}")
    for t in (xg, h0, w_hh) + tuple(t for t in (c0, b_hh, w_hr) if t is not None):
        check_tensor(op, t)
    same_device(op, xg, h0, c0, w_hh, b_hh, w_hr)
    G, lstm = MODES[mode][1], mode == "LSTM"
    if xg.ndim != 3 or h0.ndim != 2 or w_hh.ndim != 2:
        raise ValueError(f"{op}: expected xg [T, N, G * H], h0 [N, H_out], w_hh [G * H, H_out], got "
                         f"{list(xg.shape)}, {list(h0.shape)}, {list(w_hh.shape)}")
    T, N, GH = xg.shape
    H, P = GH // G, h0.shape[1]
    want = {"w_hh": (G * H, P), "h0": (N, P)}
    if lstm:
        want["c0"] = (N, H)
    if b_hh is not None:
        want["b_hh"] = (G * H,)
    if w_hr is not None:
        want["w_hr"] = (P, H)
    got = {"w_hh": w_hh, "h0": h0, "c0": c0, "b_hh": b_hh, "w_hr": w_hr}
    bad = [k for k, s in want.items() if got[k] is None or got[k].shape != s]
    if GH % G or T == 0 or bad or (c0 is not None and not lstm) or (w_hr is None and P != H) or (
            w_hr is not None and not lstm):
        raise ValueError(f"{op} ({mode}): xg {list(xg.shape)} (T > 0, {G} gates), h0 {list(h0.shape)}, c0 "
                         f"{None if c0 is None else list(c0.shape)}, w_hh {list(w_hh.shape)}, b_hh "
                         f"{None if b_hh is None else list(b_hh.shape)}, w_hr "
                         f"{None if w_hr is None else list(w_hr.shape)}: expected "
                         + ", ".join(f"{k} {list(s)}" for k, s in want.items())
                         + ("; b_hh only for a GRU (the others fold it into xg)" if b_hh is not None else ""))


def _lengths(T, N, lengths):
    """Sequence lengths as ints in [1, T], one per batch row, checked."""
    a = np.asarray(lengths.numpy() if isinstance(lengths, Tensor) else lengths)
    if a.shape != (N,) or a.dtype.kind not in "iu" or a.min() < 1 or a.max() > T:
        raise ValueError(f"recurrence: lengths must be {N} integers in [1, {T}], got {a.tolist()}")
    return a.astype(np.int64)


def recurrence(mode, xg, h0, c0, w_hh, b_hh=None, w_hr=None, reverse=False, lengths=None):
    """One direction of one recurrent layer over time-major inputs.

    ``mode``: "LSTM", "GRU", "RNN_TANH" or "RNN_RELU".  ``xg`` [T, N, G * H]: the
    inputs' projection ``x @ w_ih.T + b_ih`` (for all but a GRU with ``+ b_hh``
    too: ``b_hh`` only for a GRU, inside its reset gate's product); ``h0`` [N, P]
    and for an LSTM ``c0`` [N, H]; ``w_hh`` [G * H, P]; ``w_hr`` [P, H] an LSTM's
    projection (P = proj_size; else P = H).  ``reverse``: from the last step to
    the first.  ``lengths`` (host ints, one per row): row i's sequence is its first
    lengths[i] steps -- past them its state is carried unchanged (the reverse
    direction starts at its last step, from h0) and its output is zero, PyTorch's
    packed sequences.  Returns (out [T, N, P] -- each step's h, in time order --,
    h_n, c_n or None), each differentiable."""
    _check(mode, xg, h0, c0, w_hh, b_hh, w_hr)
    xg, h0, c0, w_hh, b_hh, w_hr = autocast_to(xg, h0, c0, w_hh, b_hh, w_hr)
    be, act = xg.backend, MODES[mode][0]
    T, N, GH = xg.shape
    P, H = h0.shape[1], GH // MODES[mode][1]
    dtype = be.dtype_of(xg.handle)
    masks = None
    if lengths is not None:
        lens = _lengths(T, N, lengths)
        valid = np.arange(T)[:, None] < lens[None, :]  # [T, N]
        if not valid.all():  # (full lengths: the unmasked recurrence)
            up = lambda w: be.from_numpy(np.broadcast_to(valid[:, :, None], (T, N, w)).astype(np.float32),  # noqa
                                         dtype)
            masks = {P: up(P)}
            if mode == "LSTM" and H != P:
                masks[H] = up(H)

    def mask(t, width):  # [N, width]: 1 where step t is inside row's sequence
        return be.reshape(be.rows(masks[width], t, t + 1), (N, width))

    def zeros(width):
        return be.constant((N, width), 0.0, dtype)

    steps = list(range(T - 1, -1, -1) if reverse else range(T))
    whh, bhh, whr = w_hh.handle, None if b_hh is None else b_hh.handle, None if w_hr is None else w_hr.handle
    h, c = h0.handle, None if c0 is None else c0.handle
    # the whole recurrence in one call where the backend runs it so (the CPU's C loop)
    fused = be.recurrence_fwd(mode, xg.handle, h, c, whh, bhh, reverse) if masks is None and whr is None else None
    if fused is not None:
        out, h, c, saved = fused
    else:
        # the cells write each step's h' straight into its row of the output where the
        # backend has row views (no masking, no projection after the cell): no cat
        rv = be.row_views((T, N, P), dtype) if masks is None and whr is None else None
        # per step: hs / ccar the states carried on (past a row's length: the previous ones),
        # news / cs the cell's own h' / c', outs the outputs (zero past a row's length)
        hs, ccar, cs, acts, hgs, hrs, outs, news = ({} for _ in range(8))
        for t in steps:
            xt = be.reshape(be.rows(xg.handle, t, t + 1), (N, GH))
            hg = be.matmul(h, whh, trans_b=True, bias=bhh)
            h_prev, c_prev = h, c
            row = rv[1][t] if rv is not None else None
            if mode == "LSTM":
                h, c, acts[t] = be.lstm_cell(xt, hg, c, out=row)
                if whr is not None:
                    hrs[t], h = h, be.matmul(h, whr, trans_b=True)
                cs[t] = c  # (the cell's own c': lstm_cell_bwd reads it)
            elif mode == "GRU":
                h, acts[t] = be.gru_cell(xt, hg, h, out=row)
                hgs[t] = hg
            else:
                h = be.unary(act, be.binary("add", xt, hg), out=row)
            news[t] = h  # (the cell's own h': the activation's gradient reads it)
            if masks is not None:  # rows past their length: state carried, output zero
                outs[t] = be.select(mask(t, P), h, zeros(P))
                h = be.select(mask(t, P), h, h_prev)
                if mode == "LSTM":
                    c = be.select(mask(t, H), c, c_prev)
            hs[t], ccar[t] = h, c
        out = rv[0] if rv is not None else be.cat([be.reshape((outs if masks is not None else hs)[t], (1, N, P))
                                                   for t in range(T)], 0)
    # h_n and c_n in their own storage: h_n is a row of out (row views, the fused loop) and
    # both are state the backward reads -- an in-place change of one (or of out) must not
    # reach the others, or the gradient
    handles = (out, be.cast(h, dtype)) + ((be.cast(c, dtype),) if mode == "LSTM" else ())

    def stacked(d):  # per-step [N, K] handles, in time order, as [T * N, K]
        K = d[steps[0]].shape[1]
        return be.reshape(be.cat([be.reshape(d[t], (1, N, K)) for t in range(T)], 0), (T * N, K))

    def backward(parts):
        g_out = parts.get(0)
        dh, dc = parts.get(1), parts.get(2)
        if fused is not None:
            dxg, dhg, dh, dc = be.recurrence_bwd(saved, g_out, dh, dc)
            return weight_grads(be.reshape(dxg, (T * N, GH)), be.reshape(dhg, (T * N, GH)), dh, dc, None, None)
        dxs, dhgs, dhs = {}, {}, {}
        gv = be.row_views((T, N, GH), dtype)  # (each step's dxg written in place, as the forward's h')
        for k in range(T - 1, -1, -1):
            t = steps[k]
            go = be.reshape(be.rows(g_out, t, t + 1), (N, P)) if g_out is not None else None
            carry_h = carry_c = None
            if masks is not None:  # the carried rows' gradients pass this step by
                if dh is not None:
                    carry_h, dh = be.select(mask(t, P), zeros(P), dh), be.select(mask(t, P), dh, zeros(P))
                if dc is not None:
                    carry_c, dc = be.select(mask(t, H), zeros(H), dc), be.select(mask(t, H), dc, zeros(H))
                if go is not None:
                    go = be.select(mask(t, P), go, zeros(P))
            if go is not None:
                dh = go if dh is None else be.binary("add", dh, go)
            if dh is None:
                dh = zeros(P)
            h_prev = h0.handle if k == 0 else hs[steps[k - 1]]
            if mode == "LSTM":
                dhs[t] = dh
                if whr is not None:
                    dh = be.matmul(dh, whr)
                dg, dc = be.lstm_cell_bwd(dh, dc, acts[t], c0.handle if k == 0 else ccar[steps[k - 1]], cs[t],
                                          out=gv[1][t] if gv is not None else None)
                dxs[t] = dhgs[t] = dg
                dh = be.matmul(dg, whh)
            elif mode == "GRU":
                dxs[t], dhgs[t], dhz = be.gru_cell_bwd(dh, acts[t], hgs[t], h_prev,
                                                       out=gv[1][t] if gv is not None else None)
                dh = be.binary("add", be.matmul(dhgs[t], whh), dhz)
            else:
                dxs[t] = dhgs[t] = be.binary(act + "_bwd", news[t], dh, out=gv[1][t] if gv is not None else None)
                dh = be.matmul(dxs[t], whh)
            if carry_h is not None:
                dh = be.binary("add", dh, carry_h)
            if carry_c is not None:
                dc = carry_c if dc is None else be.binary("add", dc, carry_c)
        dxg = be.reshape(gv[0], (T * N, GH)) if gv is not None else stacked(dxs)
        return weight_grads(dxg, dxg if mode != "GRU" else stacked(dhgs), dh, dc, dhs, hrs)

    def weight_grads(dxg, dhg, dh, dc, dhs, hrs):  # (dxg, dhg [T * N, G * H]; dhs, hrs: the projection's)
        dw_hh = None
        if w_hh.requires_grad:  # sum over steps of dhg_t^T h_prev(t)
            first = steps[0] * N
            dw_hh = be.matmul(be.rows(dhg, first, first + N), h0.handle, trans_a=True)
            if T > 1 and masks is None:  # the other steps' h_prev are rows of out: h0's step apart
                d0, o0 = (0, 1) if reverse else (1, 0)
                rest = be.matmul(be.rows(dhg, d0 * N, (d0 + T - 1) * N),
                                 be.reshape(be.rows(out, o0, o0 + T - 1), ((T - 1) * N, P)), trans_a=True)
                dw_hh = be.binary("add", dw_hh, rest)
            elif T > 1:  # (masked: out is zero where a state was carried; the states themselves)
                prev = {t: (h0.handle if k == 0 else hs[steps[k - 1]]) for k, t in enumerate(steps)}
                dw_hh = be.matmul(dhg, stacked(prev), trans_a=True)
        db_hh = be.reduce("sum", dhg, (0,), False) if b_hh is not None and b_hh.requires_grad else None
        dw_hr = (be.matmul(stacked(dhs), stacked(hrs), trans_a=True)
                 if w_hr is not None and w_hr.requires_grad else None)
        return be.reshape(dxg, (T, N, GH)), dh, dc, dw_hh, db_hh, dw_hr

    from ..autograd import composed_vjp_parts  # (create_graph: the same recurrence in recorded ops)
    live = None if masks is None else valid
    vjp = composed_vjp_parts(lambda *a: _twin(mode, act, reverse, live, *a), (xg, h0, c0, w_hh, b_hh, w_hr))
    outs_ = make_multi(handles, be, (xg, h0, c0, w_hh, b_hh, w_hr), backward, vjp)
    return outs_ if mode == "LSTM" else outs_ + (None,)


def _twin(mode, act, reverse, valid, xg, h0, c0, w_hh, b_hh, w_hr):
    """The recurrence in recorded ops (create_graph's rule): the cells of
    ``Backend.lstm_cell`` / ``gru_cell`` / the plain RNN, step by step; ``valid``
    [T, N] (packed sequences): past a row's length its state is carried and its
    output is zero."""
    from ..tensor import tensor
    from .elementwise import relu, sigmoid, tanh, where
    from .nn import matmul
    from .shape import stack, transpose
    T, H = xg.shape[0], w_hh.shape[0] // MODES[mode][1]
    h, c, outs = h0, c0, {}
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        h_prev, c_prev = h, c
        xt = xg[t]
        hg = matmul(h, transpose(w_hh))
        if b_hh is not None:
            hg = hg + b_hh
        if mode == "LSTM":
            pre = xt + hg
            i, f, g, o = (pre[:, k * H:(k + 1) * H] for k in range(4))
            c = sigmoid(f) * c + sigmoid(i) * tanh(g)
            h = sigmoid(o) * tanh(c)
            if w_hr is not None:
                h = matmul(h, transpose(w_hr))
        elif mode == "GRU":
            r = sigmoid(xt[:, :H] + hg[:, :H])
            z = sigmoid(xt[:, H:2 * H] + hg[:, H:2 * H])
            n = tanh(xt[:, 2 * H:] + r * hg[:, 2 * H:])
            h = n + z * (h - n)
        else:
            h = (tanh if act == "tanh" else relu)(xt + hg)
        outs[t] = h
        if valid is not None and not valid[t].all():
            m = tensor(valid[t][:, None].astype(np.float32), dtype="f32", device=h.device)
            outs[t] = where(m, h, 0.0)
            h = where(m, h, h_prev)
            if mode == "LSTM":
                c = where(m, c, c_prev)
    out = stack([outs[t] for t in range(T)], 0)
    return (out, h) + ((c,) if mode == "LSTM" else ())
