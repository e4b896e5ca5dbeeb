"""Row helpers shared by the kernels: binary searches in time-sorted CSR rows, and growing the
buffers that variable-length (CSR-style) outputs are written into.

A *row* is the slice ``[lo, hi)`` of a CSR view (``out_ts[out_ptr[a]:out_ptr[a + 1]]``),
sorted by time (int64 seconds). Times are integers, so an open bound is a closed one moved by
one second: ``after < ts < before`` is ``row_range(ts, lo, hi, after + 1, before - 1, ...)``.
"""
from __future__ import annotations

import numpy as np

from .jit import kernel

__all__ = ["row_lower_bound", "row_upper_bound", "row_range", "grow"]


@kernel
def row_lower_bound(ts, lo, hi, t):
    """Smallest p in [lo, hi) with ts[p] >= t, else hi (ts sorted on [lo, hi)). O(log(hi - lo))."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if ts[mid] < t:
            lo = mid + 1
        else:
            hi = mid
    return lo


@kernel
def row_upper_bound(ts, lo, hi, t):
    """Smallest p in [lo, hi) with ts[p] > t, else hi (ts sorted on [lo, hi)). O(log(hi - lo))."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if ts[mid] <= t:
            lo = mid + 1
        else:
            hi = mid
    return lo


@kernel
def row_range(ts, lo, hi, t_from, t_to, max_degree):
    """Positions ``[a, b)`` of row ``[lo, hi)`` with ``t_from <= ts <= t_to`` (seconds), cut
    to the earliest ``max_degree`` of them. Returns (a, b, positions cut). O(log(hi - lo))."""
    a = row_lower_bound(ts, lo, hi, t_from)
    b = row_upper_bound(ts, a, hi, t_to)
    if b - a > max_degree:
        return a, a + max_degree, b - a - max_degree
    return a, b, 0


@kernel
def grow(buf, need):
    """``buf`` itself when it holds ``need`` items, else a copy with capacity
    ``max(need, 2 * len(buf))`` (amortised O(1) appends). The values past the old length are
    undefined."""
    if need <= buf.shape[0]:
        return buf
    out = np.empty(max(need, 2 * buf.shape[0]), buf.dtype)
    out[:buf.shape[0]] = buf
    return out
