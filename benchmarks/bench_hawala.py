"""HAWALA_NETTING + HAWALA_MIRROR at scale: seconds and peak memory on a generated graph.

The graph (``scale_graph``): heavy-tailed senders and receivers (Pareto weights, so hubs such
as merchants exist), lognormal amounts, 8 countries, plus planted broker pairs (collections
tracked by payouts a few hours later, settled through a hub trading company) and mirror
pairs (fronts relaying value both ways). Default 5M transactions, 500k accounts, 180 days.

Peer measured in the same run: building the TemporalGraph from the same arrays (sorting
and CSR construction), so the ratio says how many graph builds the two detectors cost.

    python -m pytest benchmarks/bench_hawala.py --benchmark-only     # pytest-benchmark
    python benchmarks/bench_hawala.py [n_edges]                      # one run, printed
"""
from __future__ import annotations

import resource
import sys
import time

import numpy as np
from _common import DAY, heavy_tailed_payments  # benchmarks/_common.py

from finflow.config import HawalaMirrorConfig, HawalaNettingConfig
from finflow.graph import TemporalGraph
from finflow.patterns.hawala import detect_hawala_mirror, detect_hawala_netting

COUNTRIES = ("AE", "AL", "FR", "GB", "HK", "IQ", "TN", "VN")


def scale_arrays(n_edges: int = 5_000_000, n_accounts: int = 500_000, days: int = 180,
                 n_pairs: int = 20, seed: int = 0):
    """Edge arrays and node countries of the benchmark graph (see module doc)."""
    rng = np.random.default_rng(seed)
    country = rng.integers(0, len(COUNTRIES), n_accounts).astype(np.int32)
    src, dst, ts = heavy_tailed_payments(rng, n_edges, n_accounts, days, 1.6, 1.3)
    amt = np.round(rng.lognormal(np.log(120.0), 1.3, n_edges), 2)
    blocks = [(src, dst, ts, amt)]
    nxt = n_accounts
    extra_country = []

    def new(c, k=1):
        nonlocal nxt
        ids = np.arange(nxt, nxt + k)
        nxt += k
        extra_country.extend([COUNTRIES.index(c)] * k)
        return ids

    for _ in range(n_pairs):
        a, b, t = new("GB")[0], new("IQ")[0], new("AE")[0]
        payers, recips = new("GB", 40), new("IQ", 40)
        day = rng.choice(40, 150, p=(g := rng.gamma(1.2, 1.0, 40)) / g.sum())
        t_in = day * DAY + rng.integers(0, DAY, 150)
        v = rng.uniform(50, 1500, 150)
        blocks.append((rng.choice(payers, 150), np.full(150, a), t_in, v))
        blocks.append((np.full(150, b), rng.choice(recips, 150), t_in + rng.integers(1800, 14 * 3600, 150),
                       v * 0.97))
        for k in range(3):
            when = (k + 1) * 40 * DAY // 3
            blocks.append((np.array([a, t]), np.array([t, b]), np.array([when, when + DAY]),
                           np.full(2, v.sum() / 3)))
        x, y = new("FR")[0], new("VN")[0]
        fx, fy = new("FR", 6), new("VN", 6)
        base = 60 * DAY
        blocks.append((np.full(6, x), fx, base + np.arange(6) * 3600, np.full(6, 5000.0)))
        blocks.append((fx, np.full(6, y), base + 7200 + np.arange(6) * 3600, np.full(6, 4950.0)))
        blocks.append((np.full(6, y), fy, base + 2 * DAY + np.arange(6) * 3600, np.full(6, 4900.0)))
        blocks.append((fy, np.full(6, x), base + 2 * DAY + 7200 + np.arange(6) * 3600,
                       np.full(6, 4850.0)))
    s, d, t, a = (np.concatenate([b[i] for b in blocks]) for i in range(4))
    node_country = np.concatenate([country, np.array(extra_country, np.int32)])
    return s, d, t + 1_700_000_000, a, nxt, node_country


def build(arrays) -> TemporalGraph:
    s, d, t, a, n, country = arrays
    return TemporalGraph.from_arrays(s, d, t, a, None, n, node_country=country,
                                     countries=COUNTRIES)


def run_both(g: TemporalGraph):
    net = detect_hawala_netting(g, HawalaNettingConfig())
    mir = detect_hawala_mirror(g, HawalaMirrorConfig())
    return net, mir


def test_hawala_scale(benchmark):
    arrays = scale_arrays(1_000_000, 100_000)
    t0 = time.perf_counter()
    g = build(arrays)
    peer = time.perf_counter() - t0
    run_both(g)  # compile / load the numba cache outside the timing
    benchmark.extra_info["graph_build_seconds"] = peer
    net, mir = benchmark.pedantic(run_both, args=(g,), rounds=1, iterations=1)
    benchmark.extra_info["ratio_to_graph_build"] = benchmark.stats.stats.mean / peer
    assert len(net.alerts) >= 1 and len(mir.alerts) >= 1


def main(n_edges: int = 5_000_000) -> None:
    t0 = time.perf_counter()
    arrays = scale_arrays(n_edges, max(n_edges // 10, 1000))
    t1 = time.perf_counter()
    g = build(arrays)
    t2 = time.perf_counter()
    warm = build(scale_arrays(20_000, 2_000, seed=1))
    run_both(warm)  # numba compile or cache load, not part of the measurement
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t3 = time.perf_counter()
    net = detect_hawala_netting(g, HawalaNettingConfig())
    t4 = time.perf_counter()
    mir = detect_hawala_mirror(g, HawalaMirrorConfig())
    t5 = time.perf_counter()
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"edges {g.n_edges:,}  accounts {g.n_nodes:,}  generate {t1 - t0:.1f}s  "
          f"graph build (peer) {t2 - t1:.2f}s")
    print(f"HAWALA_NETTING {t4 - t3:.2f}s  alerts {len(net.alerts)}  {net.stats}")
    print(f"HAWALA_MIRROR  {t5 - t4:.2f}s  alerts {len(mir.alerts)}  {mir.stats}")
    print(f"both {t5 - t3:.2f}s = {(t5 - t3) / (t2 - t1):.2f} x graph build; "
          f"peak RSS {rss1 / 1024:.0f} MiB (growth during detection {(rss1 - rss0) / 1024:.0f} MiB)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5_000_000)
