"""PASS_THROUGH and MULE_RING on a large random graph: seconds and peak memory.

Both detectors are single O(E) passes after the graph's CSR sort, so the peer measured in
the same run is that sort itself: ``np.argsort(keys, kind="stable")`` over the E account
keys (what TemporalGraph does twice). Reported per detector: seconds (warm: numba compiled
and cached first on a small graph), the ratio detector / sort, peak resident memory
(psutil, sampled by a background thread) above the level before the call, and alert counts.

Graph: heavy-tailed random payments over 90 days (FINFLOW_BENCH_BEHAV_EDGES, default
5,000,000) plus one planted mule ring per 50,000 edges (a source paying 3-8 mules, each
forwarding ~90% to a shared sink within hours, 2-4 rounds).

    python -m pytest benchmarks/bench_behavioural.py --benchmark-enable -s
    python benchmarks/bench_behavioural.py [n_edges]
"""
from __future__ import annotations

import os
import sys

import numpy as np
from _common import measure  # benchmarks/_common.py

from finflow.config import MuleRingConfig, PassThroughConfig
from finflow.graph import TemporalGraph
from finflow.patterns.mule_ring import detect_mule_rings
from finflow.patterns.pass_through import detect_pass_through

DAY = 86400
HOUR = 3600
N_EDGES = int(os.environ.get("FINFLOW_BENCH_BEHAV_EDGES", 5_000_000))


def bench_graph(n_edges: int = N_EDGES, seed: int = 0) -> tuple[TemporalGraph, int]:
    """Random heavy-tailed payments plus planted mule rings; returns (graph, rings planted)."""
    rng = np.random.default_rng(seed)
    n_acc = max(n_edges // 10, 100)
    w_out = 1.0 + rng.pareto(1.5, n_acc)
    w_in = 1.0 + rng.pareto(1.5, n_acc)
    src = [rng.choice(n_acc, n_edges, p=w_out / w_out.sum())]
    dst = [rng.choice(n_acc, n_edges, p=w_in / w_in.sum())]
    ts = [rng.integers(0, 90 * DAY, n_edges)]
    amt = [np.round(rng.lognormal(np.log(150.0), 1.0, n_edges), 2)]
    n_rings = max(n_edges // 50_000, 1)
    for _ in range(n_rings):
        k, rounds = int(rng.integers(3, 9)), int(rng.integers(2, 5))
        source, sink = rng.integers(n_acc, size=2)
        mules = rng.choice(n_acc, k, replace=False)
        for r in range(rounds):
            t0 = int(rng.integers(0, 88 * DAY))
            t_in = t0 + rng.integers(0, 12 * HOUR, k)
            a_in = rng.uniform(400, 5000, k).round(2)
            src += [np.full(k, source), mules]
            dst += [mules, np.full(k, sink)]
            ts += [t_in, t_in + rng.integers(HOUR, 40 * HOUR, k)]
            amt += [a_in, (a_in * rng.uniform(0.85, 0.98, k)).round(2)]
    g = TemporalGraph.from_arrays(np.concatenate(src), np.concatenate(dst),
                                  1_700_000_000 + np.concatenate(ts), np.concatenate(amt),
                                  None, n_acc)
    return g, n_rings


def run(n_edges: int = N_EDGES) -> dict:
    warm, _ = bench_graph(20_000, seed=1)   # compile / load the numba cache
    detect_pass_through(warm, PassThroughConfig())
    detect_mule_rings(warm, MuleRingConfig())
    g, n_rings = bench_graph(n_edges)
    _, sort_s, _ = measure(lambda keys: np.argsort(keys, kind="stable"), g.src)
    pt, pt_s, pt_mem = measure(detect_pass_through, g, PassThroughConfig())
    mr, mr_s, mr_mem = measure(detect_mule_rings, g, MuleRingConfig())
    return {"edges": g.n_edges, "accounts": g.n_nodes, "rings_planted": n_rings,
            "sort_seconds": round(sort_s, 3),
            "pass_through_seconds": round(pt_s, 3), "pass_through_vs_sort": round(pt_s / sort_s, 2),
            "pass_through_peak_mb": round(pt_mem / 2**20, 1), "pass_through_alerts": len(pt.alerts),
            "mule_ring_seconds": round(mr_s, 3), "mule_ring_vs_sort": round(mr_s / sort_s, 2),
            "mule_ring_peak_mb": round(mr_mem / 2**20, 1), "mule_ring_alerts": len(mr.alerts),
            "mule_ring_budget_cut": mr.stats["budget_cut"],
            "both_seconds": round(pt_s + mr_s, 3)}


def test_behavioural_detectors_at_scale(benchmark):
    result = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    print(result)
    assert result["mule_ring_alerts"] > 0


if __name__ == "__main__":
    print(run(int(sys.argv[1]) if len(sys.argv) > 1 else N_EDGES))
