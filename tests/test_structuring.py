"""STRUCTURING: payments just under the threshold in bursts (payer and beneficiary modes)."""
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from finflow.config import StructuringConfig
from finflow.graph import TemporalGraph
from finflow.patterns.structuring import detect_structuring
from tests.graphs import T0, graph
from tests.naive import windows as naive
from tests.strategies import relabel, temporal_graphs

# tests/strategies.py tests ``amounts or default``, which hypothesis warns about
pytestmark = pytest.mark.filterwarnings("ignore:bool.sampled_from")

W = 3 * 3600
CFG = StructuringConfig(threshold=1000.0, band=0.5, window=W, min_count=2, min_score=0.0)
amounts = st.sampled_from([100.0, 499.0, 500.0, 700.0, 999.0, 1000.0, 1500.0])


def naive_structuring(g, cfg):
    """The definition: per-payer bursts of structured payments, plus per-beneficiary bursts
    with >= 2 distinct payers. Returns {(mode, account, frozenset(txn ids))}."""
    low = (1 - cfg.band) * cfg.threshold
    mask = [low <= a < cfg.threshold for a in g.amt.tolist()]
    out = set()
    for mode, outgoing in (("payer", True), ("beneficiary", False)):
        for b in naive.row_bursts(g.src.tolist(), g.dst.tolist(), g.ts.tolist(), cfg.window,
                                  cfg.min_count, False, outgoing, mask):
            if mode == "beneficiary" and b["n_distinct"] < 2:
                continue
            out.add((mode, b["node"], frozenset(int(g.txn_id[e]) for e in b["edges"])))
    return out


def detected(g, cfg):
    b = detect_structuring(g, cfg).alerts
    out = set()
    for aid, ev in zip(b.alerts["alert_id"], b.alerts["evidence"]):
        mode = json.loads(ev)["mode"]
        own = b.accounts.filter(alert_id=aid, role="source" if mode == "payer" else "sink")
        out.add((mode, own["account"].item(),
                 frozenset(b.transactions.filter(alert_id=aid)["txn_id"].to_list())))
    return out


@given(temporal_graphs(amounts=amounts))
def test_detector_matches_naive_definition(g):
    assert detected(g, CFG) == naive_structuring(g, CFG)


@given(temporal_graphs(amounts=amounts), st.randoms(use_true_random=False))
def test_relabelling_invariance(g, rnd):
    perm = np.array(rnd.sample(range(g.n_nodes), g.n_nodes), dtype=np.int32)
    a = detected(g, CFG)
    b = detected(relabel(g, perm), CFG)
    assert {(m, int(perm[x]), tx) for m, x, tx in a} == b


def test_three_deposits_under_threshold_in_a_week():
    g = graph([(0, 1, 0, 9500.0), (0, 1, 30, 9900.0), (0, 2, 60, 9000.0), (0, 1, 70, 12000.0)])
    det = detect_structuring(g, StructuringConfig())
    assert len(det.alerts) == 1 and det.stats["budget_cut"] == 0
    acc = det.alerts.accounts
    assert acc.filter(role="source")["account"].to_list() == [0]
    assert sorted(acc.filter(role="sink")["account"].to_list()) == [1, 2]
    ev = json.loads(det.alerts.alerts["evidence"][0])
    assert ev["amounts"] == [9500.0, 9900.0, 9000.0] and ev["n_payments"] == 3
    assert ev["thresholds"]["low"] == 9000.0 and ev["params"]["threshold"] == 10000.0


def test_band_edges_low_inclusive_threshold_exclusive():
    g = graph([(0, 1, 0, 9000.0), (0, 1, 1, 9999.99), (0, 1, 2, 10000.0)])
    assert len(detect_structuring(g, StructuringConfig()).alerts) == 0
    g = graph([(0, 1, 0, 9000.0), (0, 1, 1, 9999.99), (0, 1, 2, 8999.99)])
    assert len(detect_structuring(g, StructuringConfig()).alerts) == 0
    g = graph([(0, 1, 0, 9000.0), (0, 1, 1, 9999.99), (0, 1, 2, 9000.0)])
    assert len(detect_structuring(g, StructuringConfig()).alerts) == 1


def test_window_is_closed():
    week = 7 * 86400
    for gap, n in ((0, 1), (1, 0)):
        g = TemporalGraph.from_arrays([0, 0, 0], [1, 1, 1], [T0, T0 + 1, T0 + week + gap],
                                      [9500.0] * 3)
        assert len(detect_structuring(g, StructuringConfig()).alerts) == n


def test_smurfs_sharing_a_beneficiary():
    """Three payers, one deposit each: only the beneficiary mode sees it; roles say who is who."""
    g = graph([(1, 0, 0, 9500.0), (2, 0, 5, 9600.0), (3, 0, 9, 9700.0)])
    det = detect_structuring(g, StructuringConfig())
    assert len(det.alerts) == 1
    acc = det.alerts.accounts
    assert acc.filter(role="sink")["account"].to_list() == [0]
    assert sorted(acc.filter(role="source")["account"].to_list()) == [1, 2, 3]
    assert json.loads(det.alerts.alerts["evidence"][0])["distinct_payers"] == 3


def test_single_payer_is_reported_once():
    g = graph([(0, 1, 0, 9500.0), (0, 1, 5, 9600.0), (0, 1, 9, 9700.0)])
    det = detect_structuring(g, StructuringConfig())
    assert len(det.alerts) == 1
    assert json.loads(det.alerts.alerts["evidence"][0])["mode"] == "payer"


def _top(g, **kw):
    det = detect_structuring(g, StructuringConfig(min_score=0.0, **kw))
    return det.alerts.alerts["score"].max()


def test_scores_follow_the_evidence():
    burst = graph([(0, 1, 0, 9800.0), (0, 1, 2, 9800.0), (0, 1, 4, 9800.0)])
    far_under = graph([(0, 1, 0, 9050.0), (0, 1, 2, 9050.0), (0, 1, 4, 9050.0)])
    slow = graph([(0, 1, 0, 9800.0), (0, 1, 80, 9800.0), (0, 1, 160, 9800.0)])
    smurfs = graph([(1, 0, 0, 9800.0), (2, 0, 2, 9800.0), (3, 0, 4, 9800.0)])
    assert _top(burst) > _top(far_under)
    assert _top(burst) > _top(slow)
    assert _top(smurfs) > _top(burst)
    # a business depositing near the threshold every few days for months: one burst among many
    habit = graph([(0, 1, 24 * 3 * i, 9500.0) for i in range(40)] + [(0, 1, 5000, 9800.0),
                                                                      (0, 1, 5002, 9800.0),
                                                                      (0, 1, 5004, 9800.0)])
    assert _top(habit) < _top(burst)


def test_relationship_that_crosses_the_threshold_is_not_avoiding_it():
    """Same burst; the pair also pays just over the threshold twice a month later."""
    burst = [(0, 1, 0, 9800.0), (0, 1, 2, 9800.0), (0, 1, 4, 9800.0)]
    crossing = graph(burst + [(0, 1, 700, 10400.0), (0, 1, 720, 10900.0)])
    far_over = graph(burst + [(0, 1, 700, 25000.0), (0, 1, 720, 25000.0)])
    ev = json.loads(detect_structuring(crossing, StructuringConfig(min_score=0.0))
                    .alerts.alerts["evidence"][0])
    assert ev["pair_payments_just_over"] == 2 and ev["pair_payments_in_band"] == 3
    assert ev["avoidance"] == 0.6
    # payments far above the threshold are not "just over" it
    assert _top(crossing) < _top(far_over)


def test_existing_relationship_scores_lower_than_new_one():
    """A burst between accounts that also pay each other small sums at other times."""
    burst = [(0, 1, 0, 9800.0), (0, 1, 2, 9800.0), (0, 1, 4, 9800.0)]
    known = graph(burst + [(0, 1, 500, 120.0), (0, 1, 1000, 80.0)])
    new = graph(burst + [(0, 2, 500, 120.0), (0, 3, 1000, 80.0)])
    ev = json.loads(detect_structuring(known, StructuringConfig(min_score=0.0))
                    .alerts.alerts["evidence"][0])
    assert ev["novelty"] == 0.0
    assert _top(known) < _top(new)


def test_min_score_drops_and_counts_weak_bursts():
    """Takings between 8,000 and 11,000 paid into the same account every 36 hours for two
    months: bursts of near-threshold payments, but an old relationship that often crosses
    the threshold."""
    amounts = [9100.0, 9400.0, 10300.0, 9900.0, 9300.0, 10100.0, 8700.0, 9600.0] * 5
    g = graph([(0, 1, 36 * i, a) for i, a in enumerate(amounts)])
    everything = detect_structuring(g, StructuringConfig(min_score=0.0))
    default = detect_structuring(g, StructuringConfig())
    assert len(everything.alerts) >= 1
    assert everything.alerts.alerts["score"].max() < StructuringConfig().min_score
    assert len(default.alerts) == 0
    assert default.stats["below_min_score"] == len(everything.alerts)
    assert default.stats["candidates"] == everything.stats["candidates"]


def test_budget_cut_is_reported():
    e = [(0, 1, 200 * b + i, 9500.0) for b in range(10) for i in range(3)]
    det = detect_structuring(graph(e), StructuringConfig(max_results=4, min_score=0.0))
    assert len(det.alerts) == 4
    assert det.stats == {"budget_cut": 6, "candidates": 10, "below_min_score": 0}
