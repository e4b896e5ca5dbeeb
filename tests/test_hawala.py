"""HAWALA_NETTING and HAWALA_MIRROR: kernels against their twins, relabelling, named stories,
and the planted instances of sample_data/small.finflow."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from finflow._kernels import hawala as K
from finflow.config import HawalaMirrorConfig, HawalaNettingConfig
from finflow.errors import ConfigError
from finflow.graph import TemporalGraph
from finflow.patterns.hawala import detect_hawala_mirror, detect_hawala_netting, node_places
from tests import graphs as G
from tests.naive import hawala as N
from tests.strategies import temporal_graphs

COUNTRIES = ("AA", "BB", "CC")


@st.composite
def placed_graphs(draw, **kw):
    """temporal_graphs with random country codes (-1 = unknown) on every account."""
    g = draw(temporal_graphs(**kw))
    country = draw(st.lists(st.integers(-1, 2), min_size=g.n_nodes, max_size=g.n_nodes))
    return TemporalGraph.from_arrays(g.src, g.dst, g.ts, g.amt, g.txn_id, g.n_nodes,
                                     node_country=np.array(country, np.int32),
                                     countries=COUNTRIES)


def relabel_placed(g: TemporalGraph, perm: np.ndarray) -> TemporalGraph:
    """Account i becomes perm[i]; countries move with their accounts."""
    country = np.empty(g.n_nodes, np.int32)
    country[perm] = g.node_country
    return TemporalGraph.from_arrays(perm[g.src], perm[g.dst], g.ts, g.amt, g.txn_id, g.n_nodes,
                                     node_country=country, countries=g.countries)


def small_of(g, q):
    return float(np.quantile(g.amt, q, method="lower")) if g.n_edges else 0.0


# -- kernels == twins -------------------------------------------------------------------------
@given(placed_graphs(), st.floats(0.0, 1.0, allow_subnormal=False))
def test_small_counterparties_and_related_pairs_match_twin(g, q):
    small = small_of(g, q)
    for view, ptr, nbr, amt in (("in", g.in_ptr, g.in_nbr, g.in_amt),
                                ("out", g.out_ptr, g.out_nbr, g.out_amt)):
        count, value = K.small_counterparties(ptr, nbr, amt, small)
        n_count, n_value, _ = N.small_counterparties(g, small, view)
        assert count.tolist() == n_count
        np.testing.assert_allclose(value, n_value)
        cand = np.arange(g.n_nodes, dtype=np.int32)
        pairs, cut = K.related_pairs(cand, ptr, nbr, amt, small, g.out_ptr, g.out_nbr, 10**6)
        assert cut == 0
        assert pairs.tolist() == N.related_pairs(g, cand.tolist(), small, view)


@given(placed_graphs(), st.floats(0.3, 1.0, allow_subnormal=False), st.sampled_from([3600, 7200, 86400]),
       st.integers(0, 3), st.booleans(), st.integers(0, 6), st.integers(1, 3),
       st.sampled_from([0.0, 0.3, 0.9]))
def test_bucket_series_and_lagged_correlation_match_twin(g, q, bucket, max_lag, ranks, window,
                                                        step, min_volume):
    small = small_of(g, q)
    t0 = int(g.ts[0]) if g.n_edges else 0
    nb = int((g.ts[-1] - t0) // bucket) + 1 if g.n_edges else 1
    nodes = np.arange(g.n_nodes, dtype=np.int32)
    sa = K.bucket_series(nodes, g.in_ptr, g.in_nbr, g.in_ts, g.in_amt, small, t0, bucket, nb)
    sb = K.bucket_series(nodes, g.out_ptr, g.out_nbr, g.out_ts, g.out_amt, small, t0, bucket, nb)
    na = N.bucket_series(g, nodes.tolist(), small, t0, bucket, nb, "in")
    nb_ = N.bucket_series(g, nodes.tolist(), small, t0, bucket, nb, "out")
    np.testing.assert_allclose(sa, np.array(na).reshape(sa.shape))
    np.testing.assert_allclose(sb, np.array(nb_).reshape(sb.shape))
    pa, pb = np.meshgrid(np.arange(g.n_nodes), np.arange(g.n_nodes), indexing="ij")
    pa, pb = pa.ravel().astype(np.int64), pb.ravel().astype(np.int64)
    corr, lo, hi, w_lo, w_hi, vol = K.lagged_correlation(sa, sb, pa, pb, max_lag, ranks,
                                                         window, step, min_volume)
    for k in range(pa.shape[0]):
        c, l, h, wl, wh, v = N.lagged_correlation(na[pa[k]], nb_[pb[k]], max_lag, ranks,
                                                  window, step, min_volume)
        assert (lo[k], hi[k], w_lo[k], w_hi[k]) == (l, h, wl, wh)
        assert corr[k] == pytest.approx(c, abs=1e-9)
        assert vol[k] == pytest.approx(v, abs=1e-9)


@given(placed_graphs(max_nodes=6, max_edges=25), st.floats(0.0, 0.8, allow_subnormal=False), st.integers(1, 3),
       st.integers(0, 10))
def test_settlement_paths_match_twin(g, q, max_edges, span_hours):
    small = small_of(g, q) if g.n_edges else 0.0
    sources = np.arange(g.n_nodes, dtype=np.int32)
    is_target = np.array([(v % 2) for v in range(g.n_nodes)], np.int8)
    p_src, p_tgt, p_ptr, p_edge, cut = K.settlement_paths(
        sources, is_target, g.node_country, g.out_ptr, g.out_nbr, g.out_ts, g.out_amt,
        g.out_eid, small, max_edges, span_hours * 3600, 10**6, 10**6)
    assert cut == 0
    got = [(int(p_src[i]), int(p_tgt[i]), tuple(p_edge[p_ptr[i]:p_ptr[i + 1]].tolist()))
           for i in range(p_src.shape[0])]
    assert len(got) == len(set(got))
    want = N.settlement_paths(g, sources.tolist(), {v for v in range(g.n_nodes) if v % 2},
                              g.node_country.tolist(), small, max_edges, span_hours * 3600)
    assert set(got) == want


@given(placed_graphs(max_nodes=7, max_edges=30), st.sampled_from([0, 3600, 5 * 3600]),
       st.sampled_from([0.0, 0.2, 0.5]), st.sampled_from([0.0, 0.5, 0.9]))
def test_mirror_kernels_match_twin(g, window, max_imbalance, min_ratio):
    ra, rb, rf, ein, eout, cut = K.relay_tuples(
        g.node_country, g.in_ptr, g.in_nbr, g.in_ts, g.in_amt, g.in_eid, g.out_ptr, g.out_nbr,
        g.out_ts, g.out_amt, g.out_eid, window, min_ratio, 10**6, 10**6)
    assert cut == 0
    got = list(zip(ra.tolist(), rb.tolist(), rf.tolist(), ein.tolist(), eout.tolist()))
    assert len(got) == len(set(got))
    assert set(got) == N.relay_tuples(g, g.node_country.tolist(), window, min_ratio)
    # windows over each pair's crossings (direction: value towards the higher account)
    key = np.minimum(ra, rb).astype(np.int64) * g.n_nodes + np.maximum(ra, rb)
    d = (ra > rb).astype(np.int8)
    uniq = sorted(set(zip(key.tolist(), eout.tolist(), d.tolist(), rf.tolist())))
    if not uniq:
        return
    key, e, d, front = (np.array(x) for x in zip(*uniq))
    d, front = d.astype(np.int8), front.astype(np.int32)
    starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
    grp = np.append(starts, key.shape[0]).astype(np.int64)
    out = K.mirror_windows(grp, g.ts[e], g.amt[e], d, front, g.n_nodes, window, max_imbalance)
    ws, we, f, r, n_front, n0, n1 = out
    for gi in range(starts.shape[0]):
        items = [(int(g.ts[e[j]]), float(g.amt[e[j]]), int(d[j]), int(front[j]))
                 for j in range(grp[gi], grp[gi + 1])]
        want = N.mirror_window(items, window, max_imbalance)
        if want is None:
            assert ws[gi] == -1 and (n_front[gi], n0[gi], n1[gi]) == (0, 0, 0)
        else:
            assert (ws[gi] - grp[gi], we[gi] - grp[gi]) == want[:2]
            assert (f[gi], r[gi]) == pytest.approx(want[2:4])
            assert (n_front[gi], n0[gi], n1[gi]) == want[4:]
    # renaming the fronts changes nothing (distinct fronts are counted by identity only)
    perm = np.random.default_rng(len(uniq)).permutation(g.n_nodes).astype(np.int32)
    again = K.mirror_windows(grp, g.ts[e], g.amt[e], d, perm[front], g.n_nodes, window,
                             max_imbalance)
    for x, y in zip(out, again):
        assert np.array_equal(x, y)


def test_lagged_correlation_by_hand():
    """Spearman = Pearson of average ranks. a = [1, 0, 0, 2, 3], b = [1, 0, 0, 3, 2]: ranks
    [2, .5, .5, 3, 4] and [2, .5, .5, 4, 3], mean 2, so r_s = 8.5 / 9.5 = 17/19 (Pearson:
    means 1.2, sxy = 5.8, sxx = syy = 6.8, r = 29/34). A monotone but convex payout series
    is perfect tracking by ranks only. With lags: b one bucket later is found at lag window
    (1, 1)."""
    def corr(a, b, max_lag, ranks):
        c, lo, hi, w_lo, w_hi, vol = K.lagged_correlation(
            np.array([a], float), np.array([b], float), np.array([0]), np.array([0]), max_lag,
            ranks, 0, 1, 0.0)
        return float(c[0]), int(lo[0]), int(hi[0])
    assert corr([1, 0, 0, 2, 3], [1, 0, 0, 3, 2], 0, True) == (pytest.approx(17 / 19), 0, 0)
    assert corr([1, 0, 0, 2, 3], [1, 0, 0, 3, 2], 0, False) == (pytest.approx(29 / 34), 0, 0)
    convex = [1, 4, 9, 16, 1000]
    assert corr([1, 2, 3, 4, 5], convex, 0, True)[0] == pytest.approx(1.0)
    assert corr([1, 2, 3, 4, 5], convex, 0, False)[0] < 0.8
    assert corr([1, 3, 2, 5, 4, 0], [0, 1, 3, 2, 5, 4], 2, True) == (pytest.approx(1.0), 1, 1)
    assert corr([0, 0, 0], [1, 2, 3], 1, True) == (0.0, -1, -1)   # an empty series


def test_tracking_windows_by_hand():
    """Twelve buckets: b tracks a in the first six, runs against it in the last six. Over the
    whole span the ranks disagree; windows of 6 stepped by 3 ([0, 6), [3, 9), [6, 12)) find
    the first six at correlation 1. With b ten times larger there, that window's volume match
    is 21 / 210 = 0.1 and [3, 9)'s is 30 / 156: with min_volume 0.3 only [6, 12) is left."""
    def track(a, b, window, step, min_volume):
        c, lo, hi, w_lo, w_hi, vol = K.lagged_correlation(
            np.array([a], float), np.array([b], float), np.array([0]), np.array([0]), 0, True,
            window, step, min_volume)
        return float(c[0]), int(w_lo[0]), int(w_hi[0]), float(vol[0])
    a = [1, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2, 1]
    b = [1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6]
    whole = track(a, b, 0, 1, 0.0)
    assert whole[1:] == (0, 12, 1.0) and whole[0] < 0.5
    assert track(a, b, 6, 3, 0.0) == (pytest.approx(1.0), 0, 6, 1.0)
    big = [10 * v for v in b[:6]] + b[6:]
    assert track(a, big, 6, 3, 0.3) == (pytest.approx(-1.0), 6, 12, 1.0)
    assert track(a, big, 6, 3, 0.05)[:3] == (pytest.approx(1.0), 0, 6)
    assert track(a, [0.0] * 12, 6, 3, 0.0) == (0.0, -1, -1, 0.0)   # nothing to track
    # a step past the last full window still ends on a window that reaches the last bucket
    assert track([0, 1], [1, 1], 1, 2, 0.3)[1:] == (1, 2, 1.0)


def test_mirror_windows_by_hand():
    """One pair, window 10 s, tuples (ts, value, direction, front): (0, 100, 0, f5),
    (1, 50, 0, f6), (2, 140, 1, f5), (30, 10, 0, f7). The window from ts 0 holds the first
    three: F = 150, R = 140, imbalance 10/150 <= 0.1, fronts {5, 6}, 2 forward, 1 reverse;
    the episode at ts 30 has no reverse flow. A second pair whose only window is too uneven
    (F = 100, R = 10) gets no window and zero counts."""
    grp = np.array([0, 4, 6], np.int64)
    ts = np.array([0, 1, 2, 30, 0, 1], np.int64)
    val = np.array([100.0, 50.0, 140.0, 10.0, 100.0, 10.0])
    d = np.array([0, 0, 1, 0, 0, 1], np.int8)
    front = np.array([5, 6, 5, 7, 1, 2], np.int32)
    ws, we, f, r, n_front, n0, n1 = K.mirror_windows(grp, ts, val, d, front, 8, 10, 0.1)
    assert ws.tolist() == [0, -1] and we.tolist() == [3, -1]
    assert f.tolist() == [150.0, 0.0] and r.tolist() == [140.0, 0.0]
    assert n_front.tolist() == [2, 0] and n0.tolist() == [2, 0] and n1.tolist() == [1, 0]


def test_kernel_budgets_cut_and_report():
    """A hub paying 50 large transfers: max_degree truncates and says so."""
    g = G.graph([(0, i, i, 5_000.0) for i in range(1, 51)] + [(60, 0, 0, 1.0)])
    is_t = np.ones(g.n_nodes, np.int8)
    out = K.settlement_paths(np.array([0], np.int32), is_t, np.full(g.n_nodes, -1, np.int32),
                             g.out_ptr, g.out_nbr, g.out_ts, g.out_amt, g.out_eid, 10.0, 1,
                             10**9, 10, 10**6)
    assert out[0].shape[0] == 10 and out[4] == 1
    out = K.settlement_paths(np.array([0], np.int32), is_t, np.full(g.n_nodes, -1, np.int32),
                             g.out_ptr, g.out_nbr, g.out_ts, g.out_amt, g.out_eid, 10.0, 1,
                             10**9, 1000, 7)
    assert out[0].shape[0] == 7 and out[4] == 1


# -- detectors: relabelling and determinism --------------------------------------------------
def _canon(det, g, inv=None):
    """Alerts as comparable sets: (score, {(account, role)}, {(txn_id, step)})."""
    b = det.alerts
    out = set()
    for aid, score in zip(b.alerts["alert_id"], b.alerts["score"]):
        acc = b.accounts.filter(alert_id=aid)
        tx = b.transactions.filter(alert_id=aid)
        accounts = frozenset((int(inv[a]) if inv is not None else int(a), r)
                             for a, r in zip(acc["account"], acc["role"]))
        out.add((round(score, 6), accounts, frozenset(zip(tx["txn_id"], tx["step"]))))
    return out


PERMISSIVE_N = HawalaNettingConfig(min_counterparties=1, min_correlation=-1.0,
                                   significance_z=0.0, min_volume_match=0.0, min_coverage=0.0,
                                   small_quantile=0.7, max_related=10.0, bucket=3600,
                                   max_lag=2 * 3600)
# window 24 h covers the strategy's whole 20 h range and any relay ratio counts, so about a
# third of the random graphs give mirror alerts (5 h and ratio 0.5: under one in twenty)
PERMISSIVE_M = HawalaMirrorConfig(min_counterparties=1, min_transactions=1, max_imbalance=1.0,
                                  window=24 * 3600, min_relay_ratio=0.0, small_quantile=0.7)


@given(placed_graphs(), st.randoms(use_true_random=False))
def test_detectors_are_relabel_invariant(g, rnd):
    perm = np.array(rnd.sample(range(g.n_nodes), g.n_nodes), dtype=np.int32)
    inv = np.argsort(perm)
    h = relabel_placed(g, perm)
    for det, cfg in ((detect_hawala_netting, PERMISSIVE_N), (detect_hawala_mirror, PERMISSIVE_M)):
        assert _canon(det(g, cfg), g) == _canon(det(h, cfg), h, inv)


@pytest.mark.parametrize("story", [G.hawala_broker_pair, G.hawala_mirror_pair])
def test_named_stories_relabel_and_repeat_identically(story):
    g = story()
    perm = np.random.default_rng(1).permutation(g.n_nodes).astype(np.int32)
    h = relabel_placed(g, perm)
    inv = np.argsort(perm)
    for det, cfg in ((detect_hawala_netting, HawalaNettingConfig()),
                     (detect_hawala_mirror, HawalaMirrorConfig())):
        a, b = det(g, cfg), det(g, cfg)
        assert a.alerts.alerts.equals(b.alerts.alerts)
        assert a.alerts.accounts.equals(b.alerts.accounts)
        assert a.alerts.transactions.equals(b.alerts.transactions)
        assert _canon(a, g) == _canon(det(h, cfg), h, inv)


# -- named stories ---------------------------------------------------------------------------
def _roles(det):
    acc = det.alerts.accounts
    return {r: sorted(acc.filter(role=r)["account"].to_list()) for r in set(acc["role"])}


def test_clean_broker_pair_with_settlement_alerts():
    g = G.hawala_broker_pair()
    det = detect_hawala_netting(g, HawalaNettingConfig())
    assert len(det.alerts) == 1 and det.stats["budget_cut"] == 0
    roles = _roles(det)
    assert roles["broker"] == [0, 1] and roles["intermediary"] == [2]
    assert roles["source"] == list(range(3, 23)) and roles["sink"] == list(range(23, 43))
    ev = json.loads(det.alerts.alerts["evidence"][0])
    assert ev["collector"]["place"] == "GB" and ev["payer"]["place"] == "IQ"
    assert ev["settlement"]["direction"] == "A->B" and ev["settlement"]["transfers"] == 3
    assert ev["correlation"] > 0.8 and ev["volume_match"] > 0.9
    assert 0.8 < ev["coverage"] < 1.25
    assert 0 <= ev["lag_seconds"][0] < ev["lag_seconds"][1] <= 4 * 86400
    # the settlement legs are in the alert's transactions, at steps 2 (A -> T) and 3 (T -> B)
    tx = det.alerts.transactions
    legs = set(g.txn_id[(g.src == 0) & (g.dst == 2)].tolist()) | set(g.txn_id[(g.src == 2) & (g.dst == 1)].tolist())
    assert legs == set(tx.filter(tx["step"] >= 2)["txn_id"].to_list())
    assert det.alerts.alerts["score"][0] > 0.8


def test_broker_pair_without_settlement_scores_lower_or_not_at_all():
    """No settlement: no alert by default; with min_coverage=0 it alerts, scoring at most 0.7
    (the settlement term is 0) and below the settled pair."""
    g = G.hawala_broker_pair(settle=False)
    assert len(detect_hawala_netting(g, HawalaNettingConfig()).alerts) == 0
    loose = HawalaNettingConfig(min_coverage=0.0)
    det = detect_hawala_netting(g, loose)
    assert len(det.alerts) == 1
    settled = detect_hawala_netting(G.hawala_broker_pair(), loose)
    assert det.alerts.alerts["score"][0] <= 0.7 < settled.alerts.alerts["score"][0]


def test_score_is_monotone_in_customers():
    g = G.hawala_broker_pair()
    few = detect_hawala_netting(g, HawalaNettingConfig(min_counterparties=5))
    many = detect_hawala_netting(g, HawalaNettingConfig(min_counterparties=15))
    # a larger half-saturation point means the same customers count for less
    assert few.alerts.alerts["score"][0] > many.alerts.alerts["score"][0]


def test_broker_with_other_business_still_tracks_by_ranks():
    """B also pays a monthly payroll (small wages, two bursts): Spearman still sees the pair
    tracking and alerts; Pearson's value is swamped by the bursts (the demo-data misses)."""
    g = G.hawala_broker_pair_with_payroll()
    det = detect_hawala_netting(g, HawalaNettingConfig())
    assert len(det.alerts) == 1
    roles = _roles(det)
    assert roles["broker"] == [0, 1] and roles["intermediary"] == [2]
    assert set(range(43, 58)) <= set(roles["sink"])          # the wages are B's small payouts
    ev = json.loads(det.alerts.alerts["evidence"][0])
    assert ev["correlation_method"] == "spearman" and ev["correlation"] > 0.7
    pearson = HawalaNettingConfig(correlation="pearson")
    assert len(detect_hawala_netting(g, pearson).alerts) == 0
    loose = dataclasses.replace(pearson, min_correlation=-1.0, significance_z=0.0)
    ev_p = json.loads(detect_hawala_netting(g, loose).alerts.alerts["evidence"][0])
    assert ev_p["correlation"] < 0.5 and ev_p["correlation_method"] == "pearson"
    with pytest.raises(ConfigError):
        detect_hawala_netting(g, HawalaNettingConfig(correlation="kendall"))


def test_daily_settling_money_service_pair_is_not_hawala():
    g = G.msb_daily_settlement()
    assert len(detect_hawala_netting(g, HawalaNettingConfig()).alerts) == 0
    # it is only the settlement rhythm that separates it
    det = detect_hawala_netting(g, HawalaNettingConfig(max_settlement_rate=1.0))
    assert len(det.alerts) == 1


def test_payroll_and_merchant_do_not_alert():
    g = G.payroll_and_merchant()
    for cfg in (HawalaNettingConfig(), HawalaNettingConfig(min_coverage=0.0)):
        assert len(detect_hawala_netting(g, cfg).alerts) == 0
    assert len(detect_hawala_mirror(g, HawalaMirrorConfig()).alerts) == 0


def test_mirror_pair_alerts_with_brokers_and_both_flows():
    g = G.hawala_mirror_pair()
    det = detect_hawala_mirror(g, HawalaMirrorConfig())
    assert len(det.alerts) == 1
    roles = _roles(det)
    assert roles["broker"] == [0, 1]
    assert roles["intermediary"] == list(range(2, 14))
    ev = json.loads(det.alerts.alerts["evidence"][0])
    assert ev["forward_value"] == 6 * 4_950 and ev["reverse_value"] == 6 * 4_850
    assert ev["imbalance"] == pytest.approx(600 / 29_700, abs=1e-6)  # evidence keeps 6 digits
    assert ev["forward"]["to_broker"] == "1" and ev["reverse"]["to_broker"] == "0"
    steps = det.alerts.transactions["step"].to_list()
    assert [steps.count(k) for k in range(4)] == [6, 6, 6, 6]
    # no netting here: nobody settles
    assert len(detect_hawala_netting(g, HawalaNettingConfig()).alerts) == 0


def test_mirror_score_is_monotone_in_balance():
    cfg = HawalaMirrorConfig(max_imbalance=0.9)
    even = detect_hawala_mirror(G.hawala_mirror_pair(), cfg).alerts.alerts["score"][0]
    uneven = detect_hawala_mirror(G.hawala_mirror_pair(False), cfg).alerts.alerts["score"][0]
    assert even > uneven


def test_unbalanced_mirror_does_not_alert():
    assert len(detect_hawala_mirror(G.hawala_mirror_pair(False), HawalaMirrorConfig()).alerts) == 0


def test_places_fall_back_to_bank_then_currency():
    g = G.graph([(0, 1, 0, 10.0), (0, 1, 1, 10.0), (1, 2, 2, 10.0)])
    assert node_places(g)[1] == "none"
    gb = TemporalGraph.from_arrays(g.src, g.dst, g.ts, g.amt, None, 3, node_bank=[0, 0, 1],
                                   banks=("B1", "B2"))
    assert node_places(gb)[0].tolist() == [0, 0, 1] and node_places(gb)[1] == "bank"
    gc = TemporalGraph.from_arrays(g.src, g.dst, g.ts, g.amt, None, 3,
                                   edge_currency=[1, 1, 0], currencies=("EUR", "GBP"))
    place, kind, _ = node_places(gc)
    # account 1: two GBP and one EUR -> GBP; account 2: one EUR
    assert kind == "currency" and place.tolist() == [1, 1, 0]


def test_empty_graph():
    g = G.graph([], n=3)
    for det, cfg in ((detect_hawala_netting, HawalaNettingConfig()),
                     (detect_hawala_mirror, HawalaMirrorConfig())):
        d = det(g, cfg)
        assert len(d.alerts) == 0 and d.stats["budget_cut"] == 0


# -- scenario: the planted instances of sample_data/small.finflow ---------------------------
def _instance_scores(case, typology, det):
    import polars as pl
    truth = pl.read_parquet(case / "truth" / "instances.parquet").filter(typology=typology)
    inst = truth.group_by("instance").agg(pl.col("account"))
    planted = {r[0]: set(r[1]) for r in inst.iter_rows()}
    acc = det.alerts.accounts
    alerts = {a: set(acc.filter(alert_id=a)["account"].to_list())
              for a in det.alerts.alerts["alert_id"]}
    brokers = {a: set(acc.filter((pl.col("alert_id") == a) & (pl.col("role") == "broker"))["account"].to_list())
               for a in alerts}
    hit = {i for i, accs in planted.items() if any(brokers[a] <= accs for a in alerts)}
    good = [a for a in alerts if any(brokers[a] <= accs for accs in planted.values())]
    recall = len(hit) / len(planted) if planted else 1.0
    precision = len(good) / len(alerts) if alerts else 1.0
    return recall, precision, len(planted)


DETECTORS = [("HAWALA_NETTING", detect_hawala_netting, HawalaNettingConfig()),
             ("HAWALA_MIRROR", detect_hawala_mirror, HawalaMirrorConfig())]


@pytest.mark.parametrize("typology,det,cfg", DETECTORS)
def test_demo_data_recall_and_precision(typology, det, cfg):
    """sample_data/demo.finflow (10 planted instances of each): recall >= 0.9 (all 10 are
    found; issue #5 asks 0.8) and precision >= 0.8. An alert matches an instance when both
    its brokers belong to the instance. Read only."""
    from finflow.dataset import open_dataset
    from tests.conftest import SAMPLE
    case = SAMPLE / "demo.finflow"
    if not case.is_dir():
        pytest.skip("sample_data/demo.finflow not generated yet")
    g = open_dataset(case).graph()
    recall, precision, n = _instance_scores(case, typology, det(g, cfg))
    if n == 0:
        pytest.skip(f"no {typology} planted in demo.finflow")
    assert recall >= 0.9 and precision >= 0.8, (recall, precision)


@pytest.mark.parametrize("typology,det,cfg", DETECTORS)
def test_small_data_alerts_are_planted_instances(small_case, typology, det, cfg):
    """sample_data/small.finflow has only 3 instances of each: every alert must be one of
    them (precision >= 0.8) and all 3 found."""
    from finflow.dataset import open_dataset
    g = open_dataset(small_case).graph()
    recall, precision, n = _instance_scores(small_case, typology, det(g, cfg))
    if n == 0:
        pytest.skip(f"no {typology} planted in small.finflow")
    assert recall == 1.0 and precision >= 0.8, (recall, precision)


def test_unknown_correlation_is_refused_when_the_config_is_made():
    """A typo fails at load time, before any detector has run."""
    import pytest

    from finflow.config import HawalaNettingConfig, load_config
    from finflow.errors import ConfigError
    with pytest.raises(ConfigError, match="spearman"):
        HawalaNettingConfig(correlation="kendall")
    with pytest.raises(ConfigError, match="spearman"):
        load_config(None, {"hawala_netting.correlation": "pearsn"})
    assert load_config(None, {"hawala_netting.correlation": "pearson"}) \
        .hawala_netting.correlation == "pearson"
