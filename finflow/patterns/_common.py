"""Helpers shared by detectors: score shaping and evidence measures."""
from __future__ import annotations

import numpy as np

from ..graph import TemporalGraph

__all__ = ["saturate", "speed_score", "persistence", "account_volume"]


def saturate(x, half: float):
    """Map x >= 0 to [0, 1): x / (x + half); equals 0.5 at x == half. Monotone."""
    x = np.maximum(np.asarray(x, np.float64), 0.0)
    return x / (x + half)


def speed_score(span_seconds, window_seconds: float):
    """1 for an instantaneous pattern, falling linearly to 0 at the full window."""
    s = np.asarray(span_seconds, np.float64)
    return np.clip(1.0 - s / max(float(window_seconds), 1.0), 0.0, 1.0)


def persistence(span_seconds, window_seconds: float):
    """W / max(W, span): 1 for a pattern inside one window, falling as it drags on beyond it
    (a steady business, not a burst). A zero window counts as one second, so never 0/0."""
    w = max(float(window_seconds), 1.0)
    return w / np.maximum(w, np.asarray(span_seconds, np.float64))


def account_volume(graph: TemporalGraph, accounts: np.ndarray, lo: np.ndarray,
                   hi: np.ndarray) -> np.ndarray:
    """Total amount ``accounts[i]`` sent plus received with ``lo[i] <= ts <= hi[i]`` (base
    currency), float64[Q]. Binary search in the time-sorted CSR rows over prefix sums:
    O(E + Q log E)."""
    accounts = np.asarray(accounts, np.int64)
    total = np.zeros(accounts.shape[0])
    if graph.n_edges == 0 or accounts.shape[0] == 0:
        return total
    # key = account * stride + time offset; row times map to 1..span, queries are clipped to
    # 0..span + 1 so that a bound before (after) every transaction stays before (after) them
    t_min = int(graph.ts[0]) - 1
    span = int(graph.ts[-1]) - t_min
    stride = span + 2
    lo_key = accounts * stride + np.clip(np.asarray(lo, np.int64) - t_min, 0, span + 1)
    hi_key = accounts * stride + np.clip(np.asarray(hi, np.int64) - t_min, 0, span + 1)
    for ptr, row_ts, row_amt in ((graph.out_ptr, graph.out_ts, graph.out_amt),
                                 (graph.in_ptr, graph.in_ts, graph.in_amt)):
        owner = np.repeat(np.arange(graph.n_nodes, dtype=np.int64), np.diff(ptr))
        key = owner * stride + (row_ts - t_min)      # sorted: rows by account, then time
        csum = np.concatenate([[0.0], np.cumsum(row_amt)])
        total += (csum[np.searchsorted(key, hi_key, "right")]
                  - csum[np.searchsorted(key, lo_key, "left")])
    return total
