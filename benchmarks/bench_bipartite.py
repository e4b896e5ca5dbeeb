"""BIPARTITE / STACK detection time against a NetworkX peer, as a ratio.

Graph: heavy-tailed random payments over 60 days (FINFLOW_BENCH_BIP_EDGES, default 200,000
for the peer comparison) plus one planted dense block (3-5 x 3-5 accounts, every pair paid once
within two days) per 10,000 edges.

Peer (what an analyst would write with NetworkX): for every daily window start, the novel
pairs inside ``[t0, t0 + W]`` (same pair rules as finflow: no reverse payment, span <= W,
amount floor) form a bipartite graph; its payee side is projected
(``networkx.bipartite.weighted_projected_graph``), payee pairs sharing >= 2 payers are kept,
``networkx.find_cliques`` gives payee groups, and each group with its payers is kept when it
is a dense block. It looks only at daily window starts and at clique-shaped payee groups, so
it is cheaper than, and not identical to, finflow's search; both numbers of blocks are
printed, with the planted blocks each recovered.

Reported: seconds for finflow's detect_bipartite + detect_stack (warm: compiled on a small
graph first) and for the peer, their ratio, and planted blocks recovered by each.

    python -m pytest benchmarks/bench_bipartite.py --benchmark-enable -s
    python benchmarks/bench_bipartite.py [n_edges]
"""
from __future__ import annotations

import os
import sys
import time
from collections import defaultdict

import numpy as np

from finflow.config import BipartiteConfig, StackConfig
from finflow.graph import TemporalGraph
from finflow.patterns.bipartite import detect_bipartite, detect_stack

DAY = 86400
N_EDGES = int(os.environ.get("FINFLOW_BENCH_BIP_EDGES", 200_000))


def bench_graph(n_edges: int = N_EDGES, seed: int = 0):
    """(graph, planted blocks as (sources, sinks)) for the benchmark."""
    rng = np.random.default_rng(seed)
    n_acc = max(n_edges // 8, 100)
    w_out = 1.0 + rng.pareto(1.5, n_acc)
    w_in = 1.0 + rng.pareto(1.5, n_acc)
    src = [rng.choice(n_acc, n_edges, p=w_out / w_out.sum())]
    dst = [rng.choice(n_acc, n_edges, p=w_in / w_in.sum())]
    ts = [rng.integers(0, 60 * DAY, n_edges)]
    amt = [np.round(rng.lognormal(np.log(150.0), 1.0, n_edges), 2)]
    planted = []
    fresh = n_acc
    for _ in range(max(n_edges // 10_000, 1)):
        na, nb = rng.integers(3, 6, 2)
        a = np.arange(fresh, fresh + na)
        b = np.arange(fresh + na, fresh + na + nb)
        fresh += na + nb
        t0 = rng.integers(0, 55 * DAY)
        aa, bb = np.meshgrid(a, b, indexing="ij")
        k = aa.size
        src.append(aa.ravel())
        dst.append(bb.ravel())
        ts.append(t0 + rng.integers(0, 2 * DAY, k))
        amt.append(np.round(rng.uniform(1_000, 9_000, k), 2))
        planted.append((frozenset(a.tolist()), frozenset(b.tolist())))
    src, dst, ts, amt = (np.concatenate(x) for x in (src, dst, ts, amt))
    order = np.argsort(ts, kind="stable")
    g = TemporalGraph.from_arrays(src[order], dst[order], ts[order], amt[order], None, fresh)
    return g, planted


def finflow_blocks(g: TemporalGraph) -> list:
    found = []
    for det in (detect_bipartite(g, BipartiteConfig()), detect_stack(g, StackConfig())):
        members = det.alerts.accounts.group_by("alert_id", maintain_order=True).agg("account")
        found += [frozenset(a) for a in members["account"].to_list()]
    return found


def networkx_blocks(g: TemporalGraph, cfg: BipartiteConfig = BipartiteConfig()) -> list:
    """The peer described in the module doc."""
    import networkx as nx
    from networkx.algorithms import bipartite

    pairs = defaultdict(list)
    for s, d, t, a in zip(g.src.tolist(), g.dst.tolist(), g.ts.tolist(), g.amt.tolist()):
        pairs[(s, d)].append((t, a))
    novel = {}
    for (s, d), items in pairs.items():
        times = [t for t, _ in items]
        if (s != d and (d, s) not in pairs and max(times) - min(times) <= cfg.window
                and sum(a for _, a in items) >= cfg.min_pair_amount):
            novel[(s, d)] = (min(times), max(times))
    found = set()
    start, end = int(g.ts.min()), int(g.ts.max())
    for t0 in range(start, end + 1, DAY):
        inside = [p for p, (f, l) in novel.items() if f >= t0 and l <= t0 + cfg.window]
        if not inside:
            continue
        big = nx.Graph()
        big.add_nodes_from((("b", d) for _, d in inside), bipartite=1)
        big.add_nodes_from((("a", s) for s, _ in inside), bipartite=0)
        big.add_edges_from((("a", s), ("b", d)) for s, d in inside)
        payees = [n for n in big if n[0] == "b"]
        proj = bipartite.weighted_projected_graph(big, payees)
        proj.remove_edges_from([(u, v) for u, v, w in proj.edges(data="weight") if w < 2])
        proj.remove_nodes_from([n for n in list(proj) if proj.degree(n) == 0])
        for clique in nx.find_cliques(proj):
            sinks = {n[1] for n in clique}
            sources = {a[1] for n in clique for a in big[n]}
            n_pairs = sum(1 for s in sources for d in sinks if (s, d) in novel)
            if n_pairs >= cfg.min_density * len(sources) * len(sinks) and not sources & sinks:
                found.add(frozenset(sources | sinks))
    return list(found)


def recovered(planted, found) -> int:
    return sum(any(len((a | b) & f) >= 0.5 * len(a | b) for f in found) for a, b in planted)


def run(n_edges: int = N_EDGES) -> dict:
    finflow_blocks(bench_graph(2_000)[0])  # compile / load the numba cache
    g, planted = bench_graph(n_edges)
    t = time.perf_counter()
    ours = finflow_blocks(g)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    peer = networkx_blocks(g)
    t_peer = time.perf_counter() - t
    return {"edges": g.n_edges, "planted": len(planted),
            "finflow_seconds": round(t_ours, 3), "networkx_seconds": round(t_peer, 3),
            "speedup": round(t_peer / max(t_ours, 1e-9), 1),
            "finflow_alerts": len(ours), "networkx_blocks": len(peer),
            "finflow_recovered": recovered(planted, ours),
            "networkx_recovered": recovered(planted, peer)}


def test_bipartite_vs_networkx(benchmark):
    g, planted = bench_graph()
    finflow_blocks(g)
    found = benchmark.pedantic(finflow_blocks, args=(g,), rounds=1, iterations=1)
    t = time.perf_counter()
    peer = networkx_blocks(g)
    benchmark.extra_info["networkx_seconds"] = round(time.perf_counter() - t, 3)
    benchmark.extra_info["finflow_recovered"] = recovered(planted, found)
    benchmark.extra_info["networkx_recovered"] = recovered(planted, peer)


if __name__ == "__main__":
    print(run(int(sys.argv[1]) if len(sys.argv) > 1 else N_EDGES))
