"""The recurrence of a recurrent layer (one direction of one layer over a whole
sequence) as one op, forward and backward, as cuDNN runs it: per time step one
product with ``w_hh`` and one cell (``Backend.lstm_cell`` / ``gru_cell``: one
kernel where the backend fuses it); in the backward the weights' gradients are
one product over all steps (not one per step), and the input projection's
gradient is written once."""
from __future__ import annotations

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


def recurrence(mode, xg, h0, c0, w_hh, b_hh=None, w_hr=None, reverse=False):
    """One direction of one recurrent layer over time-major inputs.

    ``mode``: "LSTM", "GRU", "RNN_TANH" or "RNN_RELU".  ``xg`` [T, N, G * H]: the
    inputs' projection ``x @ w_ih.T + b_ih`` (for all but a GRU with ``+ b_hh``
    too: ``b_hh`` only for a GRU, inside its reset gate's product); ``h0`` [N, P]
    and for an LSTM ``c0`` [N, H]; ``w_hh`` [G * H, P]; ``w_hr`` [P, H] an LSTM's
    projection (P = proj_size; else P = H).  ``reverse``: from the last step to
    the first.  Returns (out [T, N, P] -- each step's h, in time order --, h_n,
    c_n or None), each differentiable."""
    _check(mode, xg, h0, c0, w_hh, b_hh, w_hr)
    xg, h0, c0, w_hh, b_hh, w_hr = autocast_to(xg, h0, c0, w_hh, b_hh, w_hr)
    be, act = xg.backend, MODES[mode][0]
    T, N, GH = xg.shape
    P = h0.shape[1]
    steps = list(range(T - 1, -1, -1) if reverse else range(T))
    whh, bhh, whr = w_hh.data, None if b_hh is None else b_hh.data, None if w_hr is None else w_hr.data
    h, c = h0.data, None if c0 is None else c0.data
    hs, cs, acts, hgs, hrs = ({} for _ in range(5))
    for t in steps:
        xt = be.reshape(be.rows(xg.data, t, t + 1), (N, GH))
        hg = be.matmul(h, whh, trans_b=True, bias=bhh)
        if mode == "LSTM":
            h, c, acts[t] = be.lstm_cell(xt, hg, c)
            cs[t] = c
            if whr is not None:
                hrs[t], h = h, be.matmul(h, whr, trans_b=True)
        elif mode == "GRU":
            h, acts[t] = be.gru_cell(xt, hg, h)
            hgs[t] = hg
        else:
            h = be.unary(act, be.binary("add", xt, hg))
        hs[t] = h
    out = be.cat([be.reshape(hs[t], (1, N, P)) for t in range(T)], 0)
    handles = (out, h) + ((c,) if mode == "LSTM" else ())

    def stacked(d):  # per-step [N, K] handles, in time order, as [T * N, K]
        K = d[0].shape[1]
        return be.reshape(be.cat([be.reshape(d[t], (1, N, K)) for t in range(T)], 0), (T * N, K))

    def backward(parts):
        g_out = parts.get(0)
        dh, dc = parts.get(1), parts.get(2)
        dxs, dhgs, dhs = {}, {}, {}
        for k in range(T - 1, -1, -1):
            t = steps[k]
            if g_out is not None:
                go = be.reshape(be.rows(g_out, t, t + 1), (N, P))
                dh = go if dh is None else be.binary("add", dh, go)
            if dh is None:
                dh = be.constant((N, P), 0.0, be.dtype_of(out))
            h_prev = h0.data if k == 0 else hs[steps[k - 1]]
            if mode == "LSTM":
                dhs[t] = dh
                if whr is not None:
                    dh = be.matmul(dh, whr)
                dg, dc = be.lstm_cell_bwd(dh, dc, acts[t], c0.data if k == 0 else cs[steps[k - 1]], cs[t])
                dxs[t] = dhgs[t] = dg
                dh = be.matmul(dg, whh)
            elif mode == "GRU":
                dxs[t], dhgs[t], dhz = be.gru_cell_bwd(dh, acts[t], hgs[t], h_prev)
                dh = be.binary("add", be.matmul(dhgs[t], whh), dhz)
            else:
                dxs[t] = dhgs[t] = be.binary(act + "_bwd", hs[t], dh)
                dh = be.matmul(dxs[t], whh)
        dxg = stacked(dxs)
        dhg = dxg if mode != "GRU" else stacked(dhgs)
        dw_hh = None
        if w_hh.requires_grad:  # sum over steps of dhg_t^T h_prev(t): h0's step, then the rest against out's rows
            first = steps[0] * N
            dw_hh = be.matmul(be.rows(dhg, first, first + N), h0.data, trans_a=True)
            if T > 1:
                d0, o0 = (0, 1) if reverse else (1, 0)  # the other steps' rows of dhg and of out
                rest = be.matmul(be.rows(dhg, d0 * N, (d0 + T - 1) * N),
                                 be.reshape(be.rows(out, o0, o0 + T - 1), ((T - 1) * N, P)), trans_a=True)
                dw_hh = be.binary("add", dw_hh, rest)
        db_hh = be.reduce("sum", dhg, (0,), False) if b_hh is not None and b_hh.requires_grad else None
        dw_hr = (be.matmul(stacked(dhs), stacked(hrs), trans_a=True)
                 if w_hr is not None and w_hr.requires_grad else None)
        return be.reshape(dxg, (T, N, GH)), dh, dc, dw_hh, db_hh, dw_hr

    outs = make_multi(handles, be, (xg, h0, c0, w_hh, b_hh, w_hr), backward)
    return outs if mode == "LSTM" else outs + (None,)
