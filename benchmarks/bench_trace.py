"""Fund-tracing benchmark: 100 seed accounts over 5M random transactions, for each rule.

Seconds and peak memory of forward tracing under proportional, FIFO and LIFO, and the ratio
to a peer measured in the same run: a one-pass numba replay that only keeps balances (the
floor for any time-ordered replay of the same arrays). Peak memory is the resident set size
above its level just before the call, sampled by psutil every 2 ms (the kernel releases the
GIL), so it counts the kernel's arrays and the result tables, not the graph.

    python benchmarks/bench_trace.py                 # table; --edges/--accounts/--seeds
    python -m pytest benchmarks/bench_trace.py --benchmark-enable   # pytest-benchmark suite

The graph is uniform random (src, dst over 500k accounts, times over 90 days, log-normal
amounts): taint from 100 seeds spreads to most accounts, the worst case for the lot queues.
FINFLOW_BENCH_EDGES overrides the size for the pytest suite.
"""
from __future__ import annotations

import argparse
import os
import time

import numba
import numpy as np
import pytest
from _common import measure  # benchmarks/_common.py

from finflow.graph import TemporalGraph
from finflow.trace import replay, trace

RULES = ("proportional", "fifo", "lifo")
EDGES = int(os.environ.get("FINFLOW_BENCH_EDGES", 5_000_000))


def random_graph(n_edges: int, n_accounts: int, seed: int = 7) -> TemporalGraph:
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n_accounts, n_edges, dtype=np.int32)
    dst = rng.integers(0, n_accounts, n_edges, dtype=np.int32)
    ts = np.sort(rng.integers(1_700_000_000, 1_700_000_000 + 90 * 86400, n_edges))
    amt = np.round(rng.lognormal(6.0, 1.5, n_edges), 2)
    return TemporalGraph.from_arrays(src, dst, ts, amt, None, n_accounts)


@numba.njit(cache=True, nogil=True)
def balance_replay(src, dst, amt, n_nodes):
    """Peer: replay every transaction once keeping only balances (floored at 0)."""
    bal = np.zeros(n_nodes, np.float64)
    for e in range(src.shape[0]):
        b = bal[src[e]] - amt[e]
        bal[src[e]] = b if b > 0.0 else 0.0
        bal[dst[e]] += amt[e]
    return bal


def warm_up():
    tiny = random_graph(50, 5)
    for rule in RULES:
        trace(tiny, ["0", "1"], rule=rule)
    balance_replay(tiny.src, tiny.dst, tiny.amt, tiny.n_nodes)


def seeds_of(g: TemporalGraph, k: int = 100) -> list[str]:
    return [str(a) for a in np.random.default_rng(1).choice(g.n_nodes, k, replace=False)]


def run(n_edges: int, n_accounts: int, n_seeds: int) -> list[dict]:
    warm_up()
    t = time.perf_counter()
    g = random_graph(n_edges, n_accounts)
    print(f"graph: {n_edges:,} transactions, {n_accounts:,} accounts, built in "
          f"{time.perf_counter() - t:.1f}s; {n_seeds} seeds; machine: {os.cpu_count()} cpus, "
          f"load {os.getloadavg()[0]:.1f}")
    seeds = seeds_of(g, n_seeds)
    seed_idx = np.array([int(s) for s in seeds])
    _, peer_s, peer_b = measure(balance_replay, g.src, g.dst, g.amt, g.n_nodes, interval=0.002)
    rows = [{"what": "peer: balance-only replay", "seconds": peer_s, "peak_mb": peer_b / 2**20,
             "x_peer": 1.0}]
    for rule in RULES:
        r, rs, rb = measure(lambda: replay(g, seed_idx, rule=rule), interval=0.002)
        res, ts_, tb = measure(lambda: trace(g, seeds, rule=rule), interval=0.002)
        rows.append({"what": f"replay {rule}", "seconds": rs, "peak_mb": rb / 2**20,
                     "x_peer": rs / peer_s, "tainted_txns": r.counts["tainted_transactions"]})
        rows.append({"what": f"trace() {rule}", "seconds": ts_, "peak_mb": tb / 2**20,
                     "x_peer": ts_ / peer_s, "accounts": res.accounts.height,
                     "traced": res.summary["totals"]["originated"]})
        del r, res
    return rows


# -- pytest-benchmark suite ------------------------------------------------------------------
@pytest.fixture(scope="module")
def big_graph():
    warm_up()
    return random_graph(EDGES, 500_000)


def test_peer_balance_replay(benchmark, big_graph):
    g = big_graph
    benchmark.pedantic(balance_replay, args=(g.src, g.dst, g.amt, g.n_nodes), rounds=1)


@pytest.mark.parametrize("rule", RULES)
def test_trace_100_seeds(benchmark, big_graph, rule):
    seeds = seeds_of(big_graph)
    res = benchmark.pedantic(trace, args=(big_graph, seeds), kwargs={"rule": rule}, rounds=1)
    t = res.summary["totals"]
    assert t["originated"] == pytest.approx(t["held"] + t["dropped"] + t["stopped"], rel=1e-9)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--edges", type=int, default=5_000_000)
    ap.add_argument("--accounts", type=int, default=500_000)
    ap.add_argument("--seeds", type=int, default=100)
    args = ap.parse_args()
    rows = run(args.edges, args.accounts, args.seeds)
    print(f"{'what':28s} {'seconds':>8s} {'peak MB':>8s} {'x peer':>7s}  detail")
    for r in rows:
        detail = {k: v for k, v in r.items() if k not in ("what", "seconds", "peak_mb", "x_peer")}
        print(f"{r['what']:28s} {r['seconds']:8.3f} {r['peak_mb']:8.0f} {r['x_peer']:7.1f}  "
              + ", ".join(f"{k}={v:,.0f}" if isinstance(v, float) else f"{k}={v:,}"
                          for k, v in detail.items()))
