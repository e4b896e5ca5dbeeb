"""SCATTER_GATHER and GATHER_SCATTER (finflow/_kernels/scatter_gather.py)."""
import json

import numpy as np
from hypothesis import given, target
from pytest import approx
from hypothesis import strategies as st

from finflow._kernels.scatter_gather import gather_scatter_bursts, scatter_gather_paths
from finflow.config import GatherScatterConfig, ScatterGatherConfig
from finflow.graph import TemporalGraph
from finflow.patterns.scatter_gather import detect_gather_scatter, detect_scatter_gather
from tests import graphs
from tests.graphs import H, T0, diamond, graph
from tests.naive import windows as naive
from tests.strategies import alert_sets, relabel, temporal_graphs

W = 3 * 3600
small_dense = temporal_graphs(max_nodes=5, max_edges=40, max_time=8)


@st.composite
def graphs_with_a_pattern(draw, scatter: bool):
    """``small_dense`` noise plus one planted instance inside one window W = 3 h (k = 2 or 3,
    times in whole hours so that spans of exactly W are frequent): a SCATTER_GATHER (s pays k
    distinct intermediaries, each pays target t later, all inside [start, start + W]) or a
    GATHER_SCATTER (k payers pay hub h in the first hour, then h pays k payees from hour 1 on).
    Every example therefore holds an instance with ``min_intermediaries`` (``min_in``,
    ``min_out``) = 2, whatever the noise adds."""
    noise = draw(small_dense)
    k = draw(st.integers(2, 3))
    n = max(noise.n_nodes, 2 * k + 1)
    nodes = draw(st.permutations(range(n)))
    start = T0 + draw(st.integers(0, 8)) * H
    if scatter:   # s -> m_i at hour first[i], m_i -> t at hour second[i] in [first[i], 3]
        first = [draw(st.integers(0, 3)) for _ in range(k)]
        second = [draw(st.integers(f, 3)) for f in first]
        s_, t_, mids = nodes[0], nodes[1], nodes[2:k + 2]
        src, dst = [s_] * k + mids, mids + [t_] * k
    else:         # p_i -> h at hour 0 or 1, then h -> q_i at hours 1..3
        first = [draw(st.integers(0, 1)) for _ in range(k)]
        second = [draw(st.integers(1, 3)) for _ in range(k)]
        h, payers, payees = nodes[0], nodes[1:k + 1], nodes[k + 1:2 * k + 1]
        src, dst = payers + [h] * k, [h] * k + payees
    times = [start + x * H for x in first + second]   # whole hours: window edges are frequent
    amounts = [float(draw(st.integers(100, 1000))) for _ in range(2 * k)]
    return TemporalGraph.from_arrays(
        np.concatenate([noise.src, src]), np.concatenate([noise.dst, dst]),
        np.concatenate([noise.ts, times]), np.concatenate([noise.amt, amounts]),
        None, n)


def kernel_sg(g, k, window=W):
    r = scatter_gather_paths(g.out_ptr, g.out_nbr, g.out_ts, window, k, 10**9, 10**9, 10**9,
                             g.n_nodes)
    assert r[-3:] == (0, 0, 0)
    out = []
    for i in range(len(r[0])):
        a, b = r[5][i], r[5][i + 1]
        out.append(dict(src=int(r[0][i]), dst=int(r[1][i]),
                        paths=frozenset(zip(g.out_eid[r[6][a:b]].tolist(),
                                            g.out_eid[r[7][a:b]].tolist())),
                        peak_count=int(r[2][i]), peak_start=int(r[3][i]),
                        peak_span=int(r[4][i])))
    return sorted(out, key=lambda d: (d["src"], d["dst"], min(d["paths"])))


def naive_sg(g, k, window=W):
    out = naive.scatter_gather(g.src.tolist(), g.dst.tolist(), g.ts.tolist(), window, k)
    return sorted(out, key=lambda d: (d["src"], d["dst"], min(d["paths"])))


def kernel_gs(g, ki, ko, window=W, max_burst=10**9):
    """The kernel's bursts as the twin gives them, and its count of bursts cut for size."""
    r = gather_scatter_bursts(g.in_ptr, g.in_nbr, g.in_ts, g.out_ptr, g.out_nbr, g.out_ts,
                              window, ki, ko, 10**9, max_burst, g.n_nodes)
    assert r[-2] == 0
    return [dict(hub=int(r[0][i]), ins=frozenset(g.in_eid[r[6][r[5][i]:r[5][i + 1]]].tolist()),
                 outs=frozenset(g.out_eid[r[8][r[7][i]:r[7][i + 1]]].tolist()),
                 n_splits=int(r[4][i]), best=(int(r[1][i]), int(r[2][i]), int(r[3][i])))
            for i in range(len(r[0]))], int(r[-1])


@given(st.one_of(temporal_graphs(), small_dense, graphs_with_a_pattern(True)),
       st.integers(1, 3))
def test_scatter_gather_kernel_matches_naive_twin(g, k):
    assert kernel_sg(g, k) == naive_sg(g, k)
    r = scatter_gather_paths(g.out_ptr, g.out_nbr, g.out_ts, W, k, 10**9, 10**9, 10**9,
                             g.n_nodes)
    assert r[9] == naive.scatter_gather_expanded_paths(g.src.tolist(), g.dst.tolist(),
                                                       g.ts.tolist(), W, k)


@given(st.one_of(temporal_graphs(), small_dense, graphs_with_a_pattern(False)),
       st.integers(1, 3), st.integers(1, 3), st.one_of(st.just(10**9), st.integers(1, 12)))
def test_gather_scatter_kernel_matches_naive_twin(g, ki, ko, max_burst):
    """Same bursts as the twin; with a burst-size budget, the twin's bursts of at most
    ``max_burst`` transactions, and the others counted."""
    bursts = naive.gather_scatter(g.src.tolist(), g.dst.tolist(), g.ts.tolist(), W, ki, ko)
    kept = [b for b in bursts if len(b["ins"]) + len(b["outs"]) <= max_burst]
    assert kernel_gs(g, ki, ko, max_burst=max_burst) == (kept, len(bursts) - len(kept))


@given(st.booleans().flatmap(lambda sc: st.tuples(st.just(sc), graphs_with_a_pattern(sc))),
       st.sampled_from([0.0, 0.2]), st.randoms(use_true_random=False))
def test_detectors_are_invariant_under_relabelling(case, min_score, rnd):
    scatter, g = case
    perm = np.array(rnd.sample(range(g.n_nodes), g.n_nodes), dtype=np.int32)
    if scatter:
        cfg = ScatterGatherConfig(window=W, min_intermediaries=2, min_score=min_score)
        run = detect_scatter_gather
    else:
        cfg = GatherScatterConfig(window=W, min_in=2, min_out=2, min_score=min_score)
        run = detect_gather_scatter
    det = run(g, cfg)
    a = alert_sets(det, perm)
    b = alert_sets(run(relabel(g, perm), cfg))
    # the planted instance is always a candidate; with min_score 0 it is always an alert, so
    # the comparison below is never of two empty sets
    assert det.stats["candidates"] >= 1
    assert len(a) >= 1 or min_score > 0
    target(float(len(a)))
    assert a == b


def test_diamond_is_one_scatter_gather():
    det = detect_scatter_gather(diamond(3), ScatterGatherConfig())
    assert len(det.alerts) == 1 and det.stats["budget_cut"] == 0
    acc = det.alerts.accounts
    assert acc.filter(role="source")["account"].to_list() == [0]
    assert sorted(acc.filter(role="intermediary")["account"].to_list()) == [1, 2, 3]
    assert acc.filter(role="sink")["account"].to_list() == [4]
    tx = det.alerts.transactions
    assert tx["step"].to_list() == [0, 0, 0, 1, 1, 1]
    ev = json.loads(det.alerts.alerts["evidence"][0])
    assert ev["distinct_intermediaries"] == 3 and len(ev["paths"]) == 3
    assert ev["amount_in"] == 1500 and ev["amount_out"] == 1440
    assert ev["params"]["min_intermediaries"] == 3


def test_an_unbounded_degree_budget_cuts_nothing():
    """max_degree as large as int64 allows (no budget) must not overflow into "over budget"."""
    for cfg in (ScatterGatherConfig(max_degree=2**63 - 1), ScatterGatherConfig(max_degree=10**9)):
        det = detect_scatter_gather(diamond(3), cfg)
        assert len(det.alerts) == 1 and det.stats["budget_cut"] == 0
    det = detect_scatter_gather(diamond(3), ScatterGatherConfig(max_degree=2))
    assert len(det.alerts) == 0 and det.stats["budget_cut"] > 0


def test_gather_before_scatter_is_required():
    """Intermediaries paying the target before they are paid is not a scatter-gather."""
    e = [(0, i, 10, 500.0) for i in range(1, 4)] + [(i, 4, 5, 480.0) for i in range(1, 4)]
    assert len(detect_scatter_gather(graph(e), ScatterGatherConfig()).alerts) == 0


def test_scatter_gather_window_is_closed():
    base = [(0, i, 0, 500.0) for i in range(1, 4)]
    on = graph(base + [(i, 4, 7 * 24, 480.0) for i in range(1, 4)])
    assert len(detect_scatter_gather(on, ScatterGatherConfig()).alerts) == 1
    e = base + [(i, 4, 7 * 24, 480.0) for i in range(1, 3)]
    late = TemporalGraph.from_arrays(
        [s for s, *_ in e] + [3], [d for _, d, *_ in e] + [4],
        [T0 + h * H for *_, h, _ in e] + [T0 + 7 * 86400 + 1], [a for *_, a in e] + [480.0])
    assert len(detect_scatter_gather(late, ScatterGatherConfig()).alerts) == 0


def _sg(g, **kw):
    return detect_scatter_gather(g, ScatterGatherConfig(min_score=0.0, **kw))


def _gs(g, **kw):
    return detect_gather_scatter(g, GatherScatterConfig(min_score=0.0, **kw))


def _one(det, key):
    assert len(det.alerts) == 1
    return det.alerts.alerts["score"][0], json.loads(det.alerts.alerts["evidence"][0])[key]


def test_scatter_gather_scores_keep_value_higher():
    keep = diamond(3)
    e = [(0, i, i, 500.0) for i in range(1, 4)] + [(i, 4, 3 + i, 50.0) for i in range(1, 4)]
    leak = graph(e)
    s_keep, r_keep = _one(_sg(keep), "retention")
    s_leak, r_leak = _one(_sg(leak), "retention")
    assert r_keep == 0.96 and r_leak == 0.1 and s_keep > s_leak
    # at the default operating point the leaking pattern is counted, not emitted
    det = detect_scatter_gather(leak, ScatterGatherConfig())
    assert len(det.alerts) == 0 and det.stats["below_min_score"] == 1
    assert det.stats["bursts"] == 1
    assert len(detect_scatter_gather(keep, ScatterGatherConfig()).alerts) == 1


def test_scatter_gather_busy_intermediaries_score_lower():
    """The same diamond, but intermediaries 1 and 2 move 10x the pattern's value with others
    within the window around it."""
    e = [(0, i, i, 500.0) for i in range(1, 4)] + [(i, 4, 3 + i, 480.0) for i in range(1, 4)]
    e += [(9, 1, 30, 9800.0), (2, 10, 40, 9800.0)]
    s_quiet, share_quiet = _one(_sg(diamond(3)), "intermediary_share")
    s_busy, share_busy = _one(_sg(graph(e)), "intermediary_share")
    assert share_quiet == 1.0 and share_busy == approx((1 + 2 * 980 / (980 + 9800)) / 3, abs=1e-6)
    assert s_busy < s_quiet


def test_scatter_gather_existing_relationships_score_lower():
    """Source and intermediaries that also pay each other a month earlier."""
    e = [(0, i, 720 + i, 500.0) for i in range(1, 4)] + [(i, 4, 723 + i, 480.0)
                                                         for i in range(1, 4)]
    known = graph(e + [(0, 1, 0, 500.0), (0, 2, 0, 500.0)])
    s_new, nov_new = _one(_sg(graph(e)), "novelty")
    s_known, nov_known = _one(_sg(known), "novelty")
    assert nov_new == 1.0 and nov_known == approx(4 / 6, abs=1e-6) and s_known < s_new


def test_gather_scatter_evidence_lowers_the_score():
    """Six payers then six payees (passes 95%), against: a hub that passes on little, a hub
    with much other traffic around the burst, and payers who pay the hub every month."""
    ins = [(i, 0, 720 + i, 1000.0) for i in range(1, 7)]
    outs = [(0, 6 + i, 744 + i, 950.0) for i in range(1, 7)]
    s_base, _ = _one(_gs(graph(ins + outs)), "retention")
    low_out = [(a, b, h, 100.0) for a, b, h, _ in outs]
    s_leak, ret = _one(_gs(graph(ins + low_out)), "retention")
    assert ret == 0.1 and s_leak < s_base
    busy = graph(ins + outs + [(20, 0, 560, 50_000.0), (0, 21, 900, 50_000.0)])
    s_busy, share = _one(_gs(busy), "hub_share")
    assert share == approx(11_700 / 111_700, abs=1e-6) and s_busy < s_base
    monthly = graph(ins + outs + [(i, 0, 0, 1000.0) for i in range(1, 7)])
    s_monthly, nov = _one(_gs(monthly), "novelty")
    assert nov == 0.5 and s_monthly < s_base
    # the default operating point keeps the clean pattern and drops the one that leaks
    assert len(detect_gather_scatter(graph(ins + outs), GatherScatterConfig()).alerts) == 1
    det = detect_gather_scatter(graph(ins + low_out), GatherScatterConfig())
    assert len(det.alerts) == 0 and det.stats["below_min_score"] == 1


def test_gather_scatter_reports_the_whole_instance():
    """Six payers then six payees inside 3 days: one alert with all 13 accounts."""
    e = [(i, 0, i, 1000.0) for i in range(1, 7)] + [(0, 6 + i, 24 + i, 950.0) for i in range(1, 7)]
    det = detect_gather_scatter(graph(e), GatherScatterConfig())
    assert len(det.alerts) == 1
    acc = det.alerts.accounts
    assert acc.filter(role="hub")["account"].to_list() == [0]
    assert sorted(acc.filter(role="source")["account"].to_list()) == [1, 2, 3, 4, 5, 6]
    assert sorted(acc.filter(role="sink")["account"].to_list()) == [7, 8, 9, 10, 11, 12]
    ev = json.loads(det.alerts.alerts["evidence"][0])
    # tightest core: the last three payers (hours 4..6), split at 6h, first three payees (25..27h)
    assert ev["tightest_core"] == {"start": T0 + 4 * H, "split": T0 + 6 * H, "end": T0 + 27 * H}


def test_gather_scatter_needs_outs_after_ins():
    e = [(0, 6 + i, i, 950.0) for i in range(1, 4)] + [(i, 0, 10 + i, 1000.0) for i in range(1, 4)]
    assert len(detect_gather_scatter(graph(e), GatherScatterConfig()).alerts) == 0


def test_toy_graphs_without_scatter_gather():
    for g in (graphs.triangle_round_trip(), graphs.fan_out_star()):
        assert len(detect_scatter_gather(g, ScatterGatherConfig()).alerts) == 0
        assert len(detect_gather_scatter(g, GatherScatterConfig()).alerts) == 0


def test_budgets_are_reported_on_a_200k_edge_hub():
    """Source 0 pays 200,000 accounts; three of them forward to target 1. With max_degree
    below the hub's degree the hub is skipped and counted; with a path budget it is cut."""
    n = 200_000
    i = np.arange(n)
    src = np.concatenate([np.zeros(n, np.int32), np.array([2, 3, 4], np.int32)])
    dst = np.concatenate([(i + 2).astype(np.int32), np.ones(3, np.int32)])
    ts = np.concatenate([T0 + i, T0 + n + np.arange(3)])
    g = TemporalGraph.from_arrays(src, dst, ts, np.full(n + 3, 100.0), None, n + 2)
    full = detect_scatter_gather(g, ScatterGatherConfig(max_degree=10**6))
    assert len(full.alerts) == 1 and full.stats["budget_cut"] == 0
    skipped = detect_scatter_gather(g, ScatterGatherConfig())   # default max_degree 100,000
    assert len(skipped.alerts) == 0 and skipped.stats["cut_degree"] == 1
    truncated = detect_scatter_gather(g, ScatterGatherConfig(max_degree=10**6,
                                                             max_paths_per_source=2))
    assert len(truncated.alerts) == 0 and truncated.stats["cut_paths"] == 1
    assert truncated.stats["budget_cut"] == 1
    # a hub that gathers from 4 payers and scatters to 4 payees, 50 times a week apart:
    # with max_results=3 all but 3 bursts are cut, and the cut is counted
    hub_edges = [e for r in range(50) for e in (
        [(1 + 10 * r + i, 0, 7 * 24 * r + i, 1000.0) for i in range(4)]
        + [(0, 1000 + 10 * r + i, 7 * 24 * r + 5 + i, 950.0) for i in range(4)])]
    hub = graphs.graph(hub_edges)
    everything = detect_gather_scatter(hub, GatherScatterConfig(min_score=0.0))
    assert everything.stats["candidates"] == 50 and len(everything.alerts) == 50
    gs = detect_gather_scatter(hub, GatherScatterConfig(min_score=0.0, max_results=3))
    assert len(gs.alerts) == 3 and gs.stats["budget_cut"] == gs.stats["cut_results"] == 47
    # each burst holds 8 transactions: a budget of 7 drops every one, and says so
    for cap, kept in ((8, 50), (7, 0)):
        det = detect_gather_scatter(hub, GatherScatterConfig(min_score=0.0,
                                                             max_burst_transactions=cap))
        assert len(det.alerts) == kept
        assert det.stats["budget_cut"] == det.stats["cut_burst_size"] == 50 - kept
