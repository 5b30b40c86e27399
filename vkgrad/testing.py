"""PyTorch's ``torch.testing``: ``assert_close`` for tests of code written with vkgrad."""
from __future__ import annotations

import numbers

import numpy as np

from .tensor import Tensor

# (rtol, atol) by dtype: PyTorch's defaults
_TOLERANCES = {"f16": (1e-3, 1e-5), "f32": (1.3e-6, 1e-5), "f64": (1e-7, 1e-7), "i32": (0.0, 0.0)}
_NP_DTYPE = {"float16": "f16", "float32": "f32", "float64": "f64"}


def _dtype_of(v):
    if isinstance(v, Tensor):
        return v.dtype
    a = np.asarray(v)
    return _NP_DTYPE.get(a.dtype.name, "i32" if a.dtype.kind in "iub" else "f64")


def _array(v):
    return v.numpy() if isinstance(v, Tensor) else np.asarray(v)


def assert_close(actual, expected, *, rtol=None, atol=None, equal_nan=False, check_dtype=True, check_device=False,
                 msg=None):
    """Raise AssertionError unless ``actual`` and ``expected`` (tensors, arrays, numbers, or
    lists / tuples / dicts of them, matched item by item) have the same shape -- and dtype,
    with ``check_dtype`` -- and every element satisfies |a - e| <= atol + rtol * |e|
    (PyTorch's rule and per-dtype defaults: f16 1e-3 / 1e-5, f32 1.3e-6 / 1e-5, f64 1e-7 /
    1e-7, int32 exact); NaNs equal only with ``equal_nan``.  ``rtol`` and ``atol`` go
    together.  The message counts the mismatches and gives the greatest differences."""
    if (rtol is None) != (atol is None):
        raise ValueError("assert_close: give both rtol and atol, or neither")
    if isinstance(expected, dict) or isinstance(actual, dict):
        if not (isinstance(actual, dict) and isinstance(expected, dict)) or set(actual) != set(expected):
            raise AssertionError(msg or f"assert_close: keys differ: {sorted(map(str, actual))} vs "
                                        f"{sorted(map(str, expected))}")
        for k in expected:
            assert_close(actual[k], expected[k], rtol=rtol, atol=atol, equal_nan=equal_nan,
                         check_dtype=check_dtype, check_device=check_device, msg=msg)
        return
    if isinstance(expected, (list, tuple)) and not isinstance(actual, (Tensor, np.ndarray, numbers.Number)):
        if not isinstance(actual, (list, tuple)) or len(actual) != len(expected):
            raise AssertionError(msg or f"assert_close: sequences of different lengths or kinds: "
                                        f"{type(actual).__name__} vs {type(expected).__name__} of {len(expected)}")
        for a, e in zip(actual, expected):
            assert_close(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan, check_dtype=check_dtype,
                         check_device=check_device, msg=msg)
        return
    da, de = _dtype_of(actual), _dtype_of(expected)
    if check_dtype and isinstance(actual, Tensor) and isinstance(expected, Tensor) and da != de:
        raise AssertionError(msg or f"assert_close: dtypes differ: {da} vs {de}")
    if check_device and isinstance(actual, Tensor) and isinstance(expected, Tensor) and actual.device != expected.device:
        raise AssertionError(msg or f"assert_close: devices differ: {actual.device} vs {expected.device}")
    a, e = _array(actual).astype(np.float64), _array(expected).astype(np.float64)
    if a.shape != e.shape:
        raise AssertionError(msg or f"assert_close: shapes differ: {list(a.shape)} vs {list(e.shape)}")
    if rtol is None:  # (the less precise of the two dtypes decides)
        rtol, atol = max(_TOLERANCES[da], _TOLERANCES[de])
    with np.errstate(invalid="ignore"):
        diff = np.abs(a - e)
        ok = diff <= atol + rtol * np.abs(e)
    ok |= (a == e)  # (equal infinities)
    if equal_nan:
        ok |= np.isnan(a) & np.isnan(e)
    if ok.all():
        return
    bad = int((~ok).sum())
    fin = np.where(np.isfinite(diff), diff, -1.0)
    worst = np.unravel_index(int(np.argmax(fin)), a.shape) if a.ndim else ()
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(np.abs(e) > 0, diff / np.abs(e), np.inf)
    relw = np.unravel_index(int(np.argmax(np.where(np.isfinite(rel), rel, -1.0))), a.shape) if a.ndim else ()
    raise AssertionError(msg or (
        f"Tensor-likes are not close!\n\nMismatched elements: {bad} / {a.size} ({100.0 * bad / max(a.size, 1):.1f}%)\n"
        f"Greatest absolute difference: {float(diff[worst])} at index {tuple(int(i) for i in worst)} "
        f"(up to {atol} allowed)\nGreatest relative difference: {float(rel[relw])} at index "
        f"{tuple(int(i) for i in relw)} (up to {rtol} allowed)"))


__all__ = ["assert_close"]
