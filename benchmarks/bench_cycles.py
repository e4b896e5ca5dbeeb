"""CYCLE enumeration against a NetworkX notebook-style peer in the same run, and a 1M-edge hub.

Peer (what an analyst would write): ``networkx.simple_cycles(G, length_bound=L)`` on the
static account graph, then for every simple cycle every choice of parallel transactions and
every rotation is checked against the temporal rules (non-decreasing times, span <= window,
hop ratio), keeping each valid cycle once as its smallest-start valid rotation. Its result
set is asserted equal to finflow's before times are compared. Reported: seconds of each side
and the ratio peer / finflow (design target >= 100x), in ``extra_info`` and on stdout. The
finflow side is warm (numba compiled and cached on a tiny graph first).

Graph: uniform random payments, FINFLOW_BENCH_CYCLE_NODES accounts (default 2,000) and
FINFLOW_BENCH_CYCLE_EDGES transactions (default 20,000) over 30 days; window 7 days,
lengths 2..5, hop ratio 0.5 (length 5 keeps the static enumeration finishable for NetworkX).

Hub: a star of FINFLOW_BENCH_CYCLE_HUB_LEAVES leaves (default 500,000, so 1,000,000 edges)
whose every leaf round-trips through the hub inside one window; default budgets. Reported:
seconds and the budget counters (the run must finish and say what it cut).

    python -m pytest benchmarks/bench_cycles.py --benchmark-enable -s
"""
from __future__ import annotations

import itertools
import os
import time

import networkx as nx
import numpy as np

from finflow.config import DAY, CycleConfig
from finflow.graph import TemporalGraph
from finflow.patterns.cycles import enumerate_cycles

N_NODES = int(os.environ.get("FINFLOW_BENCH_CYCLE_NODES", 2_000))
N_EDGES = int(os.environ.get("FINFLOW_BENCH_CYCLE_EDGES", 20_000))
HUB_LEAVES = int(os.environ.get("FINFLOW_BENCH_CYCLE_HUB_LEAVES", 500_000))
CFG = CycleConfig(window=7 * DAY, min_length=2, max_length=5, min_hop_ratio=0.5,
                  max_results=10**8, max_results_per_start=10**8, max_degree=10**8)


def random_graph(n: int = N_NODES, m: int = N_EDGES, seed: int = 0) -> TemporalGraph:
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n, m)
    dst = (src + rng.integers(1, n, m)) % n  # no self-loops
    ts = np.sort(rng.integers(0, 30 * DAY, m)) + 1_700_000_000
    amt = np.round(rng.lognormal(np.log(500.0), 0.3, m), 2)
    return TemporalGraph.from_arrays(src, dst, ts, amt, None, n)


def networkx_cycles(g: TemporalGraph, cfg: CycleConfig) -> set[tuple[int, ...]]:
    """The peer: static simple cycles, then temporal filtering of edge choices."""
    G = nx.MultiDiGraph()
    G.add_nodes_from(range(g.n_nodes))
    src, dst, ts, amt = g.src.tolist(), g.dst.tolist(), g.ts.tolist(), g.amt.tolist()
    for e in range(g.n_edges):
        G.add_edge(src[e], dst[e], key=e)

    def valid(edges):
        if any(ts[b] < ts[a] for a, b in zip(edges, edges[1:])):
            return False
        if ts[edges[-1]] - ts[edges[0]] > cfg.window:
            return False
        return all(amt[b] >= cfg.min_hop_ratio * amt[a] for a, b in zip(edges, edges[1:]))

    found = set()
    for nodes in nx.simple_cycles(nx.DiGraph(G), length_bound=cfg.max_length):
        if len(nodes) < cfg.min_length:
            continue
        hops = [list(G[nodes[i]][nodes[(i + 1) % len(nodes)]]) for i in range(len(nodes))]
        for choice in itertools.product(*hops):
            rotations = [choice[i:] + choice[:i] for i in range(len(choice))]
            ok = [r for r in rotations if valid(r)]
            if ok:
                found.add(min(ok, key=lambda r: r[0]))
    return found


def finflow_cycles(g: TemporalGraph, cfg: CycleConfig) -> set[tuple[int, ...]]:
    ptr, edges, _ = enumerate_cycles(g, cfg)
    return {tuple(edges[ptr[i]:ptr[i + 1]].tolist()) for i in range(ptr.shape[0] - 1)}


def _warm():
    enumerate_cycles(TemporalGraph.from_arrays([0, 1], [1, 0], [0, 1], [1.0, 1.0]), CFG)


def test_cycles_vs_networkx(benchmark):
    _warm()
    g = random_graph()
    t0 = time.perf_counter()
    peer = networkx_cycles(g, CFG)
    peer_s = time.perf_counter() - t0
    ours = benchmark.pedantic(finflow_cycles, args=(g, CFG), rounds=5, iterations=1)
    assert ours == peer
    ours_s = benchmark.stats.stats.median
    ratio = peer_s / ours_s
    benchmark.extra_info.update(cycles=len(ours), networkx_seconds=round(peer_s, 3),
                                finflow_seconds=round(ours_s, 5), ratio=round(ratio, 1))
    print(f"\ncycles: {len(ours)} on {g.n_nodes} accounts / {g.n_edges} transactions; "
          f"networkx {peer_s:.2f}s, finflow {ours_s * 1e3:.1f} ms, ratio {ratio:.0f}x")


def test_cycles_hub_1m_edges(benchmark):
    _warm()
    leaves = HUB_LEAVES
    t = 1_700_000_000 + np.arange(leaves, dtype=np.int64) * (6 * DAY // leaves)
    leaf = np.arange(1, leaves + 1, dtype=np.int32)
    g = TemporalGraph.from_arrays(
        np.concatenate([leaf, np.zeros(leaves, np.int32)]),
        np.concatenate([np.zeros(leaves, np.int32), leaf]),
        np.concatenate([t, t + 3600]), np.full(2 * leaves, 100.0), None, leaves + 1)
    cfg = CycleConfig()
    ptr, _, stats = benchmark.pedantic(enumerate_cycles, args=(g, cfg), rounds=1, iterations=1)
    secs = benchmark.stats.stats.median
    assert stats["starts_incomplete"] > 0
    benchmark.extra_info.update(edges=g.n_edges, seconds=round(secs, 2),
                                cycles=int(ptr.shape[0] - 1), **stats)
    print(f"\nhub: {g.n_edges} edges in {secs:.1f}s, {ptr.shape[0] - 1} cycles, "
          f"budget counters {stats}")
