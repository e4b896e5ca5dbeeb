"""FAN_OUT / FAN_IN and the shared window kernels (finflow/_kernels/windows.py)."""
import json

import numpy as np
import pytest
from hypothesis import given, target
from hypothesis import strategies as st

from finflow._kernels.windows import row_bursts
from finflow.config import FanConfig
from finflow.graph import TemporalGraph
from finflow.alerts import ROLE_CODE
from finflow.patterns._common import (account_volume, csr_concat, csr_take, group_unique,
                                      members_csr, owner_of, pair_counts, pair_key, ranges,
                                      relationship_novelty, unique_pairs)
from finflow.patterns.fan import detect_fan_in, detect_fan_out
from tests import graphs
from tests.graphs import H, T0, fan_out_star, graph
from tests.naive import windows as naive
from tests.strategies import alert_sets, relabel, temporal_graphs

W = 3 * 3600


def kernel_bursts(g, k, distinct, outgoing=True, window=W):
    ptr, nbr, ts, eid = ((g.out_ptr, g.out_nbr, g.out_ts, g.out_eid) if outgoing
                         else (g.in_ptr, g.in_nbr, g.in_ts, g.in_eid))
    r = row_bursts(ptr, nbr, ts, window, k, distinct, 10**9, g.n_nodes)
    assert r[-1] == 0
    out = [dict(node=int(r[0][i]), edges=frozenset(eid[r[1][i]:r[2][i]].tolist()),
                peak_count=int(r[3][i]), peak_start=int(r[4][i]), peak_span=int(r[5][i]),
                min_span=int(r[6][i]), n_distinct=int(r[7][i]), n_oneoff=int(r[8][i]))
           for i in range(len(r[0]))]
    return sorted(out, key=lambda d: (d["node"], min(d["edges"])))


def naive_bursts(g, k, distinct, outgoing=True, window=W):
    out = naive.row_bursts(g.src.tolist(), g.dst.tolist(), g.ts.tolist(), window, k, distinct,
                           outgoing)
    return sorted(out, key=lambda d: (d["node"], min(d["edges"])))


@st.composite
def graphs_with_a_fan(draw, outgoing: bool):
    """Random noise (``temporal_graphs``) plus one planted fan: a hub pays (is paid by) k >= 2
    distinct accounts inside one window W, so every example holds at least one FAN_OUT
    (FAN_IN) burst with ``min_degree=2`` whatever the noise adds."""
    noise = draw(temporal_graphs(max_nodes=6, max_edges=30))
    k = draw(st.integers(2, 4))
    n = max(noise.n_nodes, k + 1)
    nodes = draw(st.permutations(range(n)))
    hub, others = nodes[0], nodes[1:k + 1]
    start = noise.ts.min(initial=T0) + draw(st.integers(0, 20)) * H
    times = [start + draw(st.integers(0, W)) for _ in others]
    src, dst = ([hub] * k, others) if outgoing else (others, [hub] * k)
    return TemporalGraph.from_arrays(
        np.concatenate([noise.src, src]), np.concatenate([noise.dst, dst]),
        np.concatenate([noise.ts, times]), np.concatenate([noise.amt, np.full(k, 250.0)]),
        None, n)


@given(st.one_of(temporal_graphs(), graphs_with_a_fan(True), graphs_with_a_fan(False)),
       st.integers(1, 4), st.booleans(), st.booleans())
def test_row_bursts_match_naive_twin(g, k, distinct, outgoing):
    assert kernel_bursts(g, k, distinct, outgoing) == naive_bursts(g, k, distinct, outgoing)


@given(st.booleans().flatmap(lambda out: st.tuples(st.just(out), graphs_with_a_fan(out))),
       st.randoms(use_true_random=False))
def test_fan_detectors_are_invariant_under_relabelling(case, rnd):
    outgoing, g = case
    perm = np.array(rnd.sample(range(g.n_nodes), g.n_nodes), dtype=np.int32)
    h = relabel(g, perm)
    cfg = FanConfig(window=W, min_degree=2)
    detect = detect_fan_out if outgoing else detect_fan_in
    a = alert_sets(detect(g, cfg), perm)
    assert len(a) >= 1      # the planted fan: the comparison below is never of two empty sets
    target(float(len(a)))   # and let hypothesis look for examples with many bursts
    assert a == alert_sets(detect(h, cfg))


def test_star_gives_one_fan_out_with_every_sink():
    g = fan_out_star(6)
    det = detect_fan_out(g, FanConfig())
    assert len(det.alerts) == 1 and det.stats == {"budget_cut": 0, "candidates": 1}
    acc = det.alerts.accounts
    assert acc.filter(role="hub")["account"].to_list() == [0]
    assert sorted(acc.filter(role="sink")["account"].to_list()) == [1, 2, 3, 4, 5, 6]
    row = det.alerts.alerts.row(0, named=True)
    assert row["n_transactions"] == 6 and 0 < row["score"] <= 1
    ev = json.loads(row["evidence"])
    assert ev["distinct_counterparties"] == 6 and ev["peak_window"]["distinct_counterparties"] == 6
    assert ev["seconds_to_min_degree"] == 4 * H      # 5th distinct sink 4 hours after the 1st
    assert ev["params"]["min_degree"] == 5 and ev["thresholds"]["window"] == 86400
    assert len(detect_fan_in(g, FanConfig()).alerts) == 0


def test_star_below_min_degree_gives_nothing():
    assert len(detect_fan_out(fan_out_star(4), FanConfig()).alerts) == 0


def test_repeated_payee_counts_once():
    g = graph([(0, 1, 0, 10.0), (0, 1, 1, 10.0), (0, 2, 2, 10.0), (0, 3, 3, 10.0), (0, 4, 4, 10.0)])
    assert len(detect_fan_out(g, FanConfig()).alerts) == 0


@pytest.mark.parametrize("gap, found", [(0, True), (1, False)])
def test_window_is_closed(gap, found):
    """Five payees with the last exactly W after the first are one window; one second more is not."""
    e = [(0, i + 1, 0, 100.0) for i in range(4)]
    g = TemporalGraph.from_arrays([s for s, *_ in e] + [0], [d for _, d, *_ in e] + [5],
                                  [T0] * 4 + [T0 + 86400 + gap], [100.0] * 5)
    assert (len(detect_fan_out(g, FanConfig()).alerts) == 1) is found


def test_sliding_positions_merge_into_one_burst():
    """A payee every 6 hours for 3 days: many qualifying windows, one alert with all of them."""
    g = graph([(0, i + 1, 6 * i, 100.0) for i in range(12)])
    det = detect_fan_out(g, FanConfig(min_degree=4))
    assert len(det.alerts) == 1
    assert det.alerts.alerts["n_transactions"].to_list() == [12]
    ev = json.loads(det.alerts.alerts["evidence"][0])
    assert ev["peak_window"]["distinct_counterparties"] == 5   # 0h..24h holds five payees


def test_separate_bursts_are_separate_alerts():
    e = [(0, i + 1, i, 100.0) for i in range(5)] + [(0, i + 6, 100 + i, 100.0) for i in range(5)]
    det = detect_fan_out(graph(e), FanConfig())
    assert len(det.alerts) == 2


def test_fan_in_mirror():
    g = graph([(i + 1, 0, i, 100.0) for i in range(5)])
    det = detect_fan_in(g, FanConfig())
    assert len(det.alerts) == 1
    acc = det.alerts.accounts
    assert acc.filter(role="hub")["account"].to_list() == [0]
    assert sorted(acc.filter(role="source")["account"].to_list()) == [1, 2, 3, 4, 5]


def _score(g, detect=detect_fan_out, hub=0):
    det = detect(g, FanConfig())
    acc = det.alerts.accounts.filter(role="hub", account=hub)
    scores = det.alerts.alerts.join(acc, on="alert_id")["score"].to_list()
    return max(scores)


def test_payroll_recurring_payees_score_lower_than_new_payees():
    """Same six payees paid on three pay days (payroll) vs six payees paid once."""
    payroll = [(0, i + 1, 720 * m, 2500.0) for m in range(3) for i in range(6)]
    fresh = [(0, i + 1, 720 * m, 2500.0) for m in range(3) for i in range(6 * m, 6 * m + 6)]
    assert _score(graph(payroll)) < 0.5 * _score(graph(fresh))


def test_card_payments_score_lower():
    e = [(i + 1, 0, i, 30.0) for i in range(8)]
    plain = graph(e)
    card = TemporalGraph.from_arrays(plain.src, plain.dst, plain.ts, plain.amt, None, 9,
                                     edge_channel=np.zeros(8, np.int32), channels=("card",))
    assert _score(card, detect_fan_in) < _score(plain, detect_fan_in)


def test_steady_merchant_scores_lower_than_a_sudden_burst():
    steady = [(100 + i, 0, 3 * i, 50.0) for i in range(400)]      # a payer every 3 hours
    sudden = [(i + 1, 0, 600 + i, 50.0) for i in range(8)] + [(50, 60, 3 * i, 1.0)
                                                              for i in range(400)]
    assert _score(graph(sudden), detect_fan_in) > 2 * _score(graph(steady), detect_fan_in)


def test_scores_rise_with_more_counterparties_and_speed():
    assert _score(fan_out_star(10)) > _score(fan_out_star(6))
    slow = graph([(0, i + 1, 5 * i, 100.0) for i in range(5)])
    fast = graph([(0, i + 1, i, 100.0) for i in range(5)])
    assert _score(fast) > _score(slow)


def test_output_is_deterministic():
    g = graph([(0, i % 9 + 1, i, float(i)) for i in range(40)] + [(i % 7 + 1, 0, i, 5.0)
                                                                 for i in range(40)])
    a, b = detect_fan_out(g, FanConfig()), detect_fan_out(g, FanConfig())
    assert a.alerts.alerts.equals(b.alerts.alerts)
    assert a.alerts.accounts.equals(b.alerts.accounts)
    assert a.alerts.transactions.equals(b.alerts.transactions)


def test_budget_cut_is_reported_on_a_200k_edge_hub():
    """A hub paying 200,000 distinct accounts in 200 bursts; only 50 alerts are kept."""
    n = 200_000
    i = np.arange(n)
    ts = T0 + (i // 1000) * 3 * 86400 + (i % 1000) * 10
    g = TemporalGraph.from_arrays(np.zeros(n, np.int32), (i + 1).astype(np.int32), ts,
                                  np.full(n, 100.0), None, n + 1)
    det = detect_fan_out(g, FanConfig(max_results=50))
    assert len(det.alerts) == 50
    assert det.stats == {"budget_cut": 150, "candidates": 200}


def test_named_toy_graphs_without_fans():
    for g in (graphs.triangle_round_trip(), graphs.diamond()):
        assert len(detect_fan_out(g, FanConfig()).alerts) == 0


@given(temporal_graphs(), st.randoms(use_true_random=False))
def test_evidence_helpers_match_brute_force(g, rnd):
    """pair_counts, account_volume and relationship_novelty (shared by the fan, scatter-gather
    and structuring detectors) against their definitions on the edge list."""
    src, dst, ts, amt = g.src.tolist(), g.dst.tolist(), g.ts.tolist(), g.amt.tolist()
    e = g.n_edges
    assert pair_counts(g, pair_key(g, g.src, g.dst)).tolist() == [
        sum(1 for j in range(e) if (src[j], dst[j]) == (src[i], dst[i])) for i in range(e)]
    assert pair_counts(g, pair_key(g, [g.n_nodes - 1], [g.n_nodes - 1])).tolist() == [
        sum(1 for j in range(e) if src[j] == dst[j] == g.n_nodes - 1)]
    acc = [rnd.randrange(g.n_nodes) for _ in range(5)]
    lo = [rnd.choice(ts) - rnd.randrange(3) * 3600 if e else 0 for _ in acc]
    hi = [x + rnd.randrange(4) * 3600 for x in lo]
    got = account_volume(g, np.array(acc), np.array(lo), np.array(hi))
    want = [sum(amt[j] for j in range(e) if a in (src[j], dst[j]) and l <= ts[j] <= h)
            + sum(amt[j] for j in range(e) if src[j] == dst[j] == a and l <= ts[j] <= h)
            for a, l, h in zip(acc, lo, hi)]
    assert np.allclose(got, want)
    # two groups of random distinct edges
    groups = [sorted(rnd.sample(range(e), min(e, 3))) for _ in range(2)]
    gid = np.array([i for i, x in enumerate(groups) for _ in x], np.int64)
    edges = np.array([j for x in groups for j in x], np.int64)
    got = relationship_novelty(g, gid, edges, 2)
    for i, x in enumerate(groups):
        pairs = {(src[j], dst[j]) for j in x}
        new = [p for p in pairs if all(j in x for j in range(e) if (src[j], dst[j]) == p)]
        assert got[i] == (len(new) / len(pairs) if pairs else 0.0)


def test_csr_take_keeps_selected_rows():
    ptr = np.array([0, 2, 2, 5, 6])
    vals = np.array([10, 11, 12, 13, 14, 15])
    new_ptr, (v,) = csr_take(ptr, np.array([0, 2]), vals)
    assert new_ptr.tolist() == [0, 2, 5] and v.tolist() == [10, 11, 12, 13, 14]


@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 6)), max_size=30),
       st.sampled_from([1, 2**40]))
def test_unique_pairs_and_group_unique_match_sets(pairs, scale):
    """Distinct pairs in lexicographic order with counts; ``scale`` 2**40 makes the packed
    int64 key overflow, so the lexsort branch runs too."""
    a = np.array([x * scale for x, _ in pairs], np.int64)
    b = np.array([y * scale for _, y in pairs], np.int64)
    ua, ub, counts = unique_pairs(a, b, return_counts=True)
    want = sorted(set(zip(a.tolist(), b.tolist())))
    assert list(zip(ua.tolist(), ub.tolist())) == want
    assert counts.tolist() == [list(zip(a.tolist(), b.tolist())).count(p) for p in want]
    if scale == 1:
        ptr, vals = group_unique(a, b, 5)
        assert [vals[ptr[i]:ptr[i + 1]].tolist() for i in range(5)] == [
            sorted({y for x, y in pairs if x == i}) for i in range(5)]


def test_csr_concat_interleaves_rows_and_members_csr():
    ptr, (v, w) = csr_concat([(np.array([0, 2, 2, 3]), [np.array([1, 2, 3]), np.array([7, 7, 7])]),
                              (np.array([0, 1, 3, 3]), [np.array([4, 5, 6]), np.array([8, 8, 8])])])
    assert ptr.tolist() == [0, 3, 5, 6]
    assert v.tolist() == [1, 2, 4, 5, 6, 3] and w.tolist() == [7, 7, 8, 8, 8, 7]
    assert owner_of(ptr).tolist() == [0, 0, 0, 1, 1, 2]
    mptr, acc, role = members_csr(np.array([9, 8]), "hub", np.array([0, 2, 3]),
                                  np.array([1, 2, 3]), "sink")
    assert mptr.tolist() == [0, 3, 5] and acc.tolist() == [9, 1, 2, 8, 3]
    assert role.tolist() == [ROLE_CODE[r] for r in ("hub", "sink", "sink", "hub", "sink")]
    assert ranges(np.array([5, 0]), np.array([7, 0]))[1].tolist() == [5, 6]
