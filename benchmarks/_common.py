"""Helpers shared by the benchmark suites: generated payment graphs and peak-memory sampling.

The bench_*.py files import this as ``_common`` (their folder is on ``sys.path`` both under
pytest and when run as ``python benchmarks/bench_x.py``); package modules (harness.py) import
``benchmarks._common``.
"""
from __future__ import annotations

import threading
import time

import numpy as np
import psutil

DAY = 86400


def heavy_tailed_payments(rng: np.random.Generator, n_edges: int, n_accounts: int, days: int,
                          alpha_out: float = 1.5, alpha_in: float = 1.5):
    """Random payments among ``n_accounts`` accounts: senders and receivers drawn with
    weights ``1 + Pareto(alpha)`` (so hubs such as merchants exist), times uniform over
    ``days`` days in seconds from 0, unsorted. Returns (src, dst, ts) int64 arrays of length
    ``n_edges``. Draws from ``rng`` in a fixed order (sender weights, receiver weights,
    senders, receivers, times), so a seed gives the same graph in every suite."""
    w_out = 1.0 + rng.pareto(alpha_out, n_accounts)
    w_in = 1.0 + rng.pareto(alpha_in, n_accounts)
    src = rng.choice(n_accounts, n_edges, p=w_out / w_out.sum())
    dst = rng.choice(n_accounts, n_edges, p=w_in / w_in.sum())
    ts = rng.integers(0, days * DAY, n_edges)
    return src, dst, ts


def measure(fn, *args, interval: float = 0.005):
    """(result, seconds, peak RSS increase in bytes) of ``fn(*args)``: the resident set size is
    sampled by psutil every ``interval`` seconds from a background thread (the kernels release
    the GIL), and once more at the end, above its level just before the call."""
    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(interval)
    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t0 = time.perf_counter()
    out = fn(*args)
    secs = time.perf_counter() - t0
    done.set()
    th.join()
    return out, secs, max(peak[0], proc.memory_info().rss) - base
