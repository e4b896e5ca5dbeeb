"""One contract, every detector: whatever the typology, alerts obey the same rules."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings

from finflow import schema
from finflow.alerts import Detection
from finflow.config import DetectConfig
from finflow.graph import TemporalGraph
from finflow.patterns import available_typologies, detector
from tests import graphs as G
from tests.strategies import temporal_graphs

TYPOLOGIES = available_typologies()
pytestmark = pytest.mark.skipif(not TYPOLOGIES, reason="no detector modules present")


def _run(typology: str, g: TemporalGraph, cfg: DetectConfig | None = None) -> Detection:
    cfg = cfg or DetectConfig()
    return detector(typology)(g, cfg.section(typology))


def check_contract(typology: str, g: TemporalGraph, det: Detection) -> None:
    assert isinstance(det, Detection)
    assert isinstance(det.stats.get("budget_cut", None), (int, np.integer))
    a, acc, tx = det.alerts.alerts, det.alerts.accounts, det.alerts.transactions
    for df, sch in ((a, schema.ALERTS), (acc, schema.ALERT_ACCOUNTS), (tx, schema.ALERT_TRANSACTIONS)):
        assert dict(df.schema) == sch
    if a.height == 0:
        return
    assert (a["typology"] == typology).all()
    assert a["alert_id"].n_unique() == a.height
    assert a["alert_id"].to_list() == [f"{typology}-{i + 1:06d}" for i in range(a.height)]
    assert ((a["score"] >= 0) & (a["score"] <= 1)).all()
    assert a["score"].to_list() == sorted(a["score"].to_list(), reverse=True)
    assert (a["start_ts"] <= a["end_ts"]).all()
    assert set(acc["alert_id"]) == set(a["alert_id"]) == set(tx["alert_id"])
    assert acc["role"].is_in(list(schema.ROLES)).all()
    assert (acc["account"] >= 0).all() and (acc["account"] < g.n_nodes).all()
    assert tx["txn_id"].is_in(g.txn_id.tolist()).all()
    n_acc = dict(acc.group_by("alert_id").len().iter_rows())
    assert all(n_acc[i] == n for i, n in a.select("alert_id", "n_accounts").iter_rows())
    n_tx = dict(tx.group_by("alert_id").len().iter_rows())
    assert all(n_tx[i] == n for i, n in a.select("alert_id", "n_transactions").iter_rows())
    # the alert's amount is the sum of its transactions' amounts
    amt = dict(zip(g.txn_id.tolist(), g.amt.tolist()))
    for aid, total in a.select("alert_id", "total_amount").iter_rows():
        s = sum(amt[t] for t in tx.filter(alert_id=aid)["txn_id"])
        assert abs(s - total) <= 1e-6 * max(1.0, abs(s))
    for ev in a["evidence"]:
        assert isinstance(json.loads(ev), dict)


@pytest.mark.parametrize("typology", TYPOLOGIES)
def test_empty_and_single_node_graphs(typology):
    for g in (TemporalGraph.from_arrays([], [], [], [], None, 0),
              TemporalGraph.from_arrays([], [], [], [], None, 1),
              TemporalGraph.from_arrays([0, 0], [0, 0], [5, 5], [1.0, 1.0], None, 1)):
        det = _run(typology, g)
        check_contract(typology, g, det)


@pytest.mark.parametrize("typology", TYPOLOGIES)
@settings(max_examples=25)
@given(g=temporal_graphs(max_nodes=8, max_edges=40))
def test_contract_on_random_graphs_and_determinism(typology, g):
    a = _run(typology, g)
    check_contract(typology, g, a)
    b = _run(typology, g)
    assert a.alerts.alerts.equals(b.alerts.alerts)
    assert a.alerts.accounts.equals(b.alerts.accounts)
    assert a.alerts.transactions.equals(b.alerts.transactions)


#: a named story per typology that must alert with the default config, so that every
#: per-alert rule of the contract is exercised for every detector (random small graphs rarely
#: produce STACK, STRUCTURING or hawala alerts)
STORIES = {
    "FAN_OUT": G.fan_out_star, "FAN_IN": G.hawala_broker_pair, "CYCLE": G.triangle_round_trip,
    "SCATTER_GATHER": G.diamond, "GATHER_SCATTER": G.gather_then_scatter,
    "BIPARTITE": G.bipartite_3x3, "STACK": G.stack_three_layers,
    "STRUCTURING": G.structuring_burst, "PASS_THROUGH": G.pass_through_twice,
    "MULE_RING": G.mule_ring_four, "HAWALA_NETTING": G.hawala_broker_pair,
    "HAWALA_MIRROR": G.hawala_mirror_pair,
}


@pytest.mark.parametrize("typology", TYPOLOGIES)
def test_contract_on_a_story_that_must_alert(typology):
    g = STORIES[typology]()
    det = _run(typology, g)
    assert len(det.alerts) > 0
    check_contract(typology, g, det)


def _hub_graph(n_edges: int, seed: int = 7) -> TemporalGraph:
    """One hub exchanging n_edges payments with 1,000 counterparties over 30 days."""
    rng = np.random.default_rng(seed)
    other = rng.integers(1, 1001, n_edges)
    out = rng.random(n_edges) < 0.5
    src = np.where(out, 0, other)
    dst = np.where(out, other, 0)
    ts = np.sort(rng.integers(0, 30 * 86400, n_edges)) + 1_700_000_000
    amt = rng.uniform(9_000, 9_999, n_edges).round(2)
    return TemporalGraph.from_arrays(src, dst, ts, amt, None, 1001)


@pytest.mark.slow
@pytest.mark.parametrize("typology", TYPOLOGIES)
def test_a_hub_with_many_edges_finishes_with_budgets(typology):
    """A hub must not hang any detector: budgets bound the work and say what was cut."""
    g = _hub_graph(200_000)
    cfg = DetectConfig()
    for sec in cfg.to_dict():
        section = getattr(cfg, sec)
        for name in ("max_results", "max_results_per_start"):
            if hasattr(section, name):
                setattr(section, name, 2_000)
    det = _run(typology, g, cfg)
    check_contract(typology, g, det)
    assert len(det.alerts) <= 2_000  # every max_results above bounds a detector's alerts
