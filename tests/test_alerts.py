import json

import numpy as np

from finflow.alerts import combine, make_alerts
from tests.graphs import triangle_round_trip


def _two_alerts(g):
    return make_alerts(g, "CYCLE", score=[0.2, 0.9], member_ptr=[0, 2, 5],
                       member_account=[0, 1, 0, 1, 2], member_role=[7, 7, 7, 7, 7],
                       txn_ptr=[0, 1, 4], txn_edge=[0, 0, 1, 2],
                       evidence=[{"a": 1.0000001}, {"a": 2}], params={"window": 10})


def test_alerts_are_ordered_by_score_and_carry_evidence():
    g = triangle_round_trip()
    b = _two_alerts(g)
    assert b.alerts["alert_id"].to_list() == ["CYCLE-000001", "CYCLE-000002"]
    assert b.alerts["score"].to_list() == [0.9, 0.2]
    top = b.alerts.row(0, named=True)
    assert top["n_accounts"] == 3 and top["n_transactions"] == 3
    assert top["total_amount"] == 1000 + 950 + 900
    ev = json.loads(top["evidence"])
    assert ev == {"a": 2, "params": {"window": 10}}
    assert b.transactions.filter(alert_id="CYCLE-000001")["step"].to_list() == [0, 1, 2]
    assert b.accounts.filter(alert_id="CYCLE-000002")["account"].to_list() == [0, 1]


def test_alert_tables_are_deterministic():
    g = triangle_round_trip()
    a, b = _two_alerts(g), _two_alerts(g)
    assert a.alerts.equals(b.alerts) and a.accounts.equals(b.accounts)
    assert len(combine([a, b])) == 4


def test_scores_are_clipped_to_unit_interval():
    g = triangle_round_trip()
    b = make_alerts(g, "X", [1.7], [0, 1], [0], [0], [0, 1], [0])
    assert b.alerts["score"].to_list() == [1.0]
    assert np.isclose(b.alerts["total_amount"][0], 1000.0)
