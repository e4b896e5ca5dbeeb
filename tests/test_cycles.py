"""CYCLE: temporal cycle kernel (vs its brute-force twin and networkx) and the detector."""
from __future__ import annotations

import itertools
import json

import networkx as nx
import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from finflow._kernels.cycles import STAT_NAMES, temporal_cycles as kernel
from finflow.config import DAY, CycleConfig
from finflow.graph import TemporalGraph
from finflow.patterns._common import account_volume
from finflow.patterns.cycles import cycle_scores, detect_cycles, enumerate_cycles
from tests import graphs
from tests.graphs import H, graph
from tests.naive import cycles as naive
from tests.strategies import relabel, temporal_graphs

BIG = 10**9
windows = st.sampled_from([0, 2 * H, 5 * H, 100 * H])
lengths = st.sampled_from([2, 3, 4, 8])
ratios = st.sampled_from([0.0, 0.5, 0.9])


def cfg_of(window=7 * DAY, max_length=8, min_hop_ratio=0.0, min_length=2, **budgets):
    kw = dict(max_results=BIG, max_results_per_start=BIG, max_degree=BIG)
    kw.update(budgets)
    return CycleConfig(window=window, min_length=min_length, max_length=max_length,
                       min_hop_ratio=min_hop_ratio, **kw)


def cycles_of(g: TemporalGraph, **kw) -> list[tuple[int, ...]]:
    ptr, edges, stats = enumerate_cycles(g, cfg_of(**kw))
    return [tuple(edges[ptr[i]:ptr[i + 1]].tolist()) for i in range(ptr.shape[0] - 1)]


def run_kernel(g: TemporalGraph, cfg: CycleConfig, n_slots: int, block: int):
    return kernel(g.src, g.dst, g.ts, g.amt, g.out_ptr, g.out_nbr, g.out_ts, g.out_eid,
                  g.in_ptr, g.in_nbr, g.in_ts, cfg.window, cfg.min_length, cfg.max_length,
                  cfg.min_hop_ratio, cfg.max_results, cfg.max_results_per_start,
                  cfg.max_degree, n_slots, block)


def random_graph(n: int, m: int, span_hours: int, seed: int) -> TemporalGraph:
    rng = np.random.default_rng(seed)
    return TemporalGraph.from_arrays(
        rng.integers(0, n, m), rng.integers(0, n, m),
        np.sort(rng.integers(0, span_hours, m)) * H + graphs.T0,
        rng.integers(1, 1000, m).astype(float), None, n)


# -- kernel == twin -------------------------------------------------------------------------
@given(temporal_graphs(max_nodes=6, max_edges=18, max_time=12), windows, lengths, ratios,
       st.sampled_from([2, 3]))
def test_kernel_matches_brute_force_twin(g, window, max_len, ratio, min_len):
    min_len = min(min_len, max_len)
    got = cycles_of(g, window=window, max_length=max_len, min_hop_ratio=ratio,
                    min_length=min_len)
    assert got == naive.temporal_cycles(g, window, min_len, max_len, ratio)


@given(temporal_graphs(max_nodes=6, max_edges=16, max_time=10), windows, lengths, ratios)
def test_kernel_matches_networkx_simple_cycles_filtered_by_time(g, window, max_len, ratio):
    static = nx.DiGraph()
    static.add_nodes_from(range(g.n_nodes))
    parallel: dict[tuple[int, int], list[int]] = {}
    for e in range(g.n_edges):
        u, v = int(g.src[e]), int(g.dst[e])
        static.add_edge(u, v)
        parallel.setdefault((u, v), []).append(e)
    expected = set()
    for nodes in nx.simple_cycles(static, length_bound=max_len):
        if len(nodes) < 2:
            continue
        hops = [parallel[(nodes[i], nodes[(i + 1) % len(nodes)])] for i in range(len(nodes))]
        for choice in itertools.product(*hops):
            rotations = [choice[i:] + choice[:i] for i in range(len(choice))]
            valid = [r for r in rotations
                     if naive.is_temporal_cycle(g, r, window, 2, max_len, ratio)]
            if valid:
                expected.add(min(valid, key=lambda r: r[0]))
    got = cycles_of(g, window=window, max_length=max_len, min_hop_ratio=ratio)
    assert len(got) == len(set(got))
    assert set(got) == expected


@given(temporal_graphs(max_nodes=7, max_edges=24), st.randoms(use_true_random=False), ratios)
def test_relabelled_accounts_give_the_same_cycles(g, rnd, ratio):
    perm = np.arange(g.n_nodes, dtype=np.int32)
    rnd.shuffle(perm)
    h = relabel(g, perm)

    def as_txns(gr):
        return {tuple(gr.txn_id[list(c)].tolist())
                for c in cycles_of(gr, window=6 * H, max_length=5, min_hop_ratio=ratio)}
    assert as_txns(g) == as_txns(h)


def test_thread_count_and_block_size_do_not_change_the_output():
    g = random_graph(60, 3000, 24 * 30, seed=3)
    cfg = cfg_of(window=3 * DAY, max_length=5, min_hop_ratio=0.3)
    slots = numba.config.NUMBA_NUM_THREADS
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        serial = run_kernel(g, cfg, slots, 8192)
        numba.set_num_threads(min(2, slots))
        parallel = run_kernel(g, cfg, slots, 8192)
        small_blocks = run_kernel(g, cfg, slots, 7)
    finally:
        numba.set_num_threads(before)
    assert serial[0].shape[0] > 100  # the graph has plenty of cycles
    for other in (parallel, small_blocks):
        for a, b in zip(serial, other):
            np.testing.assert_array_equal(a, b)


# -- hand-worked examples and known counts ------------------------------------------------
def test_named_triangles():
    assert cycles_of(graphs.triangle_round_trip()) == [(0, 1, 2)]
    # hops going backwards in time: no rotation is time-respecting
    assert cycles_of(graphs.triangle_out_of_order()) == []
    assert cycles_of(graph([(0, 1, 0, 9.0), (2, 0, 1, 9.0), (1, 2, 2, 9.0)])) == []
    # the closing edge first, then the other two in order: 2 -> 0 -> 1 -> 2 is a cycle
    assert cycles_of(graph([(2, 0, 0, 9.0), (0, 1, 1, 9.0), (1, 2, 2, 9.0)])) == [(0, 1, 2)]
    assert cycles_of(graphs.triangle_round_trip(), window=H) == []  # span is 2 h
    assert cycles_of(graphs.triangle_round_trip(), max_length=2) == []
    assert cycles_of(graphs.triangle_round_trip(), min_length=4, max_length=5) == []


def test_self_loops_and_tiny_graphs_have_no_cycles():
    assert cycles_of(graph([(0, 0, 0, 5.0), (0, 0, 1, 5.0)])) == []
    assert cycles_of(graph([], n=1)) == []
    assert cycles_of(graph([(0, 1, 0, 5.0)])) == []


def test_tied_times_report_the_only_time_respecting_rotation():
    # edge 0: b->c at 1h, edge 1: a->b at 1h, edge 2: c->a at 2h (a=0, b=1, c=2).
    # Only a->b, b->c, c->a is time-respecting; it starts at edge 1, not the smallest index.
    g = graph([(1, 2, 1, 10.0), (0, 1, 1, 10.0), (2, 0, 2, 10.0)])
    assert cycles_of(g) == [(1, 0, 2)]


def test_all_equal_times_report_one_rotation_starting_at_the_smallest_index():
    g = graph([(1, 2, 5, 10.0), (0, 1, 5, 10.0), (2, 0, 5, 10.0)])
    assert cycles_of(g) == [(0, 2, 1)]


def test_value_rule_decides_the_rotation_when_times_tie():
    # edge 0: 3->5 amount 98, edge 1: 5->3 amount 38, same time. With ratio 0.7 only
    # 5->3 (38) then 3->5 (98) keeps value; it is reported although it starts at edge 1.
    g = graph([(3, 5, 4, 98.0), (5, 3, 4, 38.0)])
    assert cycles_of(g, min_hop_ratio=0.7) == [(1, 0)]
    assert cycles_of(g) == [(0, 1)]


def test_complete_digraph_at_one_time_has_every_simple_cycle_once():
    n = 5
    g = graph([(a, b, 0, 1.0) for a in range(n) for b in range(n) if a != b])

    def expected(lo, hi):  # directed simple cycles of length L in K_n: C(n, L) (L-1)!
        from math import comb, factorial
        return sum(comb(n, k) * factorial(k - 1) for k in range(lo, hi + 1))
    assert len(cycles_of(g, max_length=5)) == expected(2, 5) == 84
    assert len(cycles_of(g, max_length=3)) == expected(2, 3) == 30
    assert len(cycles_of(g, min_length=3, max_length=5)) == expected(3, 5)


def test_two_accounts_with_parallel_edges_pair_every_close_enough_payment():
    ab = [0, 1, 3, 7, 8]
    ba = [0, 2, 3, 10]
    g = graph([(0, 1, h, 1.0) for h in ab] + [(1, 0, h, 1.0) for h in ba])
    for w in (0, 1, 2, 5, 20):
        n_pairs = sum(abs(x - y) <= w for x in ab for y in ba)
        assert len(cycles_of(g, window=w * H)) == n_pairs


def test_ring_of_increasing_times_closes_only_from_the_first_hop():
    n = 8
    g = graph([(i, (i + 1) % n, i, 100.0) for i in range(n)])
    assert cycles_of(g) == [tuple(range(n))]
    assert cycles_of(g, max_length=7) == []
    assert cycles_of(g, window=6 * H) == []  # span is 7 h


# -- budgets --------------------------------------------------------------------------------
def fan_of_triangles(k: int) -> TemporalGraph:
    """a=0 -> b=1 at 0h, then b -> c_i at 1h and c_i -> a at 2h: k triangles, one start edge."""
    return graph([(0, 1, 0, 1.0)] + [(1, 2 + i, 1, 1.0) for i in range(k)]
                 + [(2 + i, 0, 2, 1.0) for i in range(k)])


def test_per_start_budget_is_exact_when_large_and_counted_when_hit():
    g = fan_of_triangles(10)
    ptr, edges, stats = enumerate_cycles(g, cfg_of(max_results_per_start=10))
    assert ptr.shape[0] - 1 == 10 and stats["starts_incomplete"] == 0
    ptr, edges, stats = enumerate_cycles(g, cfg_of(max_results_per_start=9))
    assert ptr.shape[0] - 1 == 9
    assert stats["starts_cut_per_start"] == 1 and stats["starts_incomplete"] == 1


def test_degree_budget_explores_the_earliest_edges_and_counts_the_rest():
    g = fan_of_triangles(10)
    ptr, edges, stats = enumerate_cycles(g, cfg_of(max_degree=6))
    # forward at b: 10 edges in the window, 6 scanned; backward at a: likewise
    assert stats["edges_skipped_degree"] == 2 * 4
    assert stats["starts_cut_degree"] == 1 and stats["starts_incomplete"] == 1
    found = [tuple(edges[ptr[i]:ptr[i + 1]].tolist()) for i in range(ptr.shape[0] - 1)]
    assert found == cycles_of(g)[:6]
    _, _, stats = enumerate_cycles(g, cfg_of(max_degree=10))
    assert stats["edges_skipped_degree"] == 0 and stats["starts_incomplete"] == 0


def test_total_budget_keeps_a_prefix_in_start_edge_order():
    g = random_graph(30, 600, 24 * 10, seed=5)
    full = cycles_of(g, window=2 * DAY, max_length=4)
    assert len(full) > 20
    ptr, edges, stats = enumerate_cycles(g, cfg_of(window=2 * DAY, max_length=4,
                                                   max_results=20))
    cut = [tuple(edges[ptr[i]:ptr[i + 1]].tolist()) for i in range(ptr.shape[0] - 1)]
    assert cut == full[:20]
    assert stats["cycles_dropped"] == len(full) - 20  # one block holds every start edge
    assert stats["starts_incomplete"] >= 1


def star_round_trips(leaves: int) -> TemporalGraph:
    """A star: leaf i pays hub 0 at 6i s and the hub pays it back an hour later, so with
    100k leaves the hub has 100k in- and 100k out-edges inside every start's window."""
    t = graphs.T0 + 6 * np.arange(leaves, dtype=np.int64)
    leaf = np.arange(1, leaves + 1, dtype=np.int32)
    return TemporalGraph.from_arrays(
        np.concatenate([leaf, np.zeros(leaves, np.int32)]),
        np.concatenate([np.zeros(leaves, np.int32), leaf]),
        np.concatenate([t, t + H]), np.full(2 * leaves, 100.0), None, leaves + 1)


@pytest.mark.large
def test_hub_with_200k_edges_completes_and_reports_the_cut():
    leaves = 100_000
    ptr, edges, stats = enumerate_cycles(star_round_trips(leaves), CycleConfig())
    assert stats["starts_incomplete"] > 0 and stats["edges_skipped_degree"] > 0
    # every round trip closes within the earliest max_degree hub edges, so none is lost
    assert ptr.shape[0] - 1 == leaves
    assert set(np.diff(ptr).tolist()) == {2}


def test_alert_budget_keeps_the_highest_scores_and_counts_the_rest():
    g = star_round_trips(300)
    full = detect_cycles(g, CycleConfig())
    assert len(full.alerts) == 300 and full.stats["alerts_cut"] == 0
    cut = detect_cycles(g, CycleConfig(max_alerts=50))
    assert len(cut.alerts) == 50 and cut.stats["alerts_cut"] == 250
    assert cut.stats["budget_cut"] == 250      # nothing but the alert budget cuts here
    top = full.alerts.alerts["score"].head(50).to_list()
    assert cut.alerts.alerts["score"].to_list() == top


# -- detector --------------------------------------------------------------------------------
def test_round_trip_alert_names_accounts_transactions_and_evidence():
    g = graphs.triangle_round_trip()
    det = detect_cycles(g, CycleConfig())
    a = det.alerts
    assert a.alerts["typology"].to_list() == ["CYCLE"]
    assert a.accounts["account"].to_list() == [0, 1, 2]
    assert a.accounts["role"].to_list() == ["source", "intermediary", "intermediary"]
    assert a.transactions["txn_id"].to_list() == [0, 1, 2]
    assert a.transactions["step"].to_list() == [0, 1, 2]
    ev = json.loads(a.alerts["evidence"][0])
    assert ev["amounts"] == [1000.0, 950.0, 900.0]
    assert ev["times"] == [graphs.T0, graphs.T0 + H, graphs.T0 + 2 * H]
    assert ev["txn_ids"] == [0, 1, 2] and ev["accounts"] == ["0", "1", "2"]
    assert ev["span_seconds"] == 2 * H and ev["length"] == 3
    assert ev["value_kept_ratio"] == pytest.approx(0.9)
    assert ev["min_hop_ratio"] == pytest.approx(900 / 950, abs=1e-6)
    assert ev["account_shares"] == [1.0, 1.0, 1.0]  # the accounts do nothing else
    retention = (950 / 1000 * 900 / 950) ** 0.5
    expected = 0.30 * retention + 0.20 * (1 - H / (7 * DAY)) + 0.35 * 1.0 + 0.15
    assert a.alerts["score"][0] == pytest.approx(expected, abs=1e-6)
    assert ev["params"]["window"] == 7 * DAY
    assert det.stats["candidates"] == 1 and det.stats["budget_cut"] == 0


def test_mutual_payments_score_low_and_are_only_counted():
    g = graphs.mutual_payments(weeks=4)
    det = detect_cycles(g, CycleConfig(min_hop_ratio=0.0))
    assert det.stats["candidates"] > 0
    assert len(det.alerts) == 0 and det.stats["below_min_score"] == det.stats["episodes"] > 0
    shown = detect_cycles(g, CycleConfig(min_hop_ratio=0.0, min_score=0.0))
    assert shown.alerts.alerts["score"].max() < CycleConfig().min_score
    # with the default value rule the 150 -> 1200 rotations still qualify, and still score low
    default = detect_cycles(g, CycleConfig())
    assert default.stats["candidates"] > 0 and len(default.alerts) == 0


def test_repeated_round_trips_merge_per_rotation_and_window():
    g = graphs.repeated_round_trip(times=3, gap_hours=24)
    det = detect_cycles(g, CycleConfig())
    # hops of different rounds combine into further cycles, from every starting account
    n_cycles = len(naive.temporal_cycles(g, 7 * DAY, 2, 8, 0.5))
    assert n_cycles > 3 and det.stats["candidates"] == n_cycles
    assert len(det.alerts) == 1 and det.alerts.transactions.height == 12
    assert det.alerts.accounts["account"].to_list() == [0, 1, 2, 3]
    assert sorted(set(det.alerts.transactions["step"].to_list())) == [0, 1, 2, 3]
    ev = json.loads(det.alerts.alerts["evidence"][0])
    assert ev["n_cycles"] == n_cycles and ev["txn_ids"] == [0, 1, 2, 3]  # best: one round
    spread = detect_cycles(graphs.repeated_round_trip(times=3, gap_hours=100),
                           CycleConfig(window=3 * DAY))
    assert len(spread.alerts) == 3


def test_score_is_monotone_in_retention_speed_share_and_length():
    def score(edges, window=7 * DAY):
        g = graph(edges)
        ptr, e, _ = enumerate_cycles(g, cfg_of(window=window))
        return cycle_scores(g, ptr, e, window)["score"][0]
    base = score([(0, 1, 0, 1000.0), (1, 0, 5, 800.0)])
    assert score([(0, 1, 0, 1000.0), (1, 0, 5, 950.0)]) > base       # more value kept
    assert score([(0, 1, 0, 1000.0), (1, 0, 1, 800.0)]) > base       # faster
    assert score([(0, 1, 0, 1000.0), (1, 2, 3, 900.0), (2, 0, 8, 800.0)]) > base  # longer
    busy = [(0, 1, 0, 1000.0), (1, 0, 5, 800.0), (1, 2, 30, 5000.0)]  # 1 also pays 2 later
    assert score(busy) < base
    # ... but 25 h after the cycle, outside a one-day activity window
    assert score(busy, window=DAY) == score(busy[:2], window=DAY)


def test_account_volume_sums_both_directions_inside_the_bounds():
    """The activity-share denominator (finflow.patterns._common.account_volume)."""
    g = graph([(0, 1, 0, 10.0), (1, 0, 2, 20.0), (2, 1, 4, 40.0), (1, 2, 9, 80.0)])
    acc = np.array([1, 1, 1, 0, 2])
    lo = graphs.T0 + np.array([0, 1, 3, 0, 5]) * H
    hi = graphs.T0 + np.array([9, 4, 8, 1, 9]) * H
    assert account_volume(g, acc, lo, hi).tolist() == [150.0, 60.0, 40.0, 10.0, 80.0]


def test_account_volume_is_zero_for_ranges_outside_the_data():
    """Ranges ending before the first transaction or starting after the last one hold
    nothing, also for the accounts of those first and last transactions."""
    g = graph([(0, 1, 0, 10.0), (1, 0, 2, 20.0), (2, 1, 4, 40.0), (1, 2, 9, 80.0)])
    acc = np.array([0, 1, 1, 2, 1, 2])
    lo = graphs.T0 + np.array([-5, -5, 10, 10, 9, -1]) * H
    hi = graphs.T0 + np.array([-1, -1, 20, 12, 9, 0]) * H
    assert account_volume(g, acc, lo, hi).tolist() == [0.0, 0.0, 0.0, 0.0, 80.0, 0.0]
    one_second = np.array([graphs.T0 - 1]), np.array([graphs.T0 + 9 * H + 1])
    assert account_volume(g, np.array([0]), one_second[0], one_second[0]).tolist() == [0.0]
    assert account_volume(g, np.array([2]), one_second[1], one_second[1]).tolist() == [0.0]


def test_detector_is_deterministic_and_scores_are_in_range():
    g = random_graph(40, 1500, 24 * 20, seed=11)
    cfg = CycleConfig(min_score=0.0, max_length=5)
    a, b = detect_cycles(g, cfg), detect_cycles(g, cfg)
    assert len(a.alerts) > 0
    for x, y in ((a.alerts.alerts, b.alerts.alerts), (a.alerts.accounts, b.alerts.accounts),
                 (a.alerts.transactions, b.alerts.transactions)):
        assert x.equals(y)
    s = a.alerts.alerts["score"]
    assert s.min() >= 0.0 and s.max() <= 1.0
    assert {"candidates", "budget_cut", *STAT_NAMES} <= set(a.stats)


def test_empty_graph_gives_no_alerts():
    det = detect_cycles(graph([], n=1), CycleConfig())
    assert len(det.alerts) == 0 and det.stats["candidates"] == 0
