import json

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from finflow import schema
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


# no subnormals: snapml (imported by the GFP agreement test) sets flush-to-zero for the whole
# process, and hypothesis refuses to generate them then; they round to 0.0 in evidence anyway
_FLOATS = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=False)
_KEYS = st.sampled_from(["a", "P", "param", "params", "params_", "paramz", "q", "z", "ä", "1"])
_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.text(max_size=4),
    _FLOATS,
    st.lists(_FLOATS, max_size=3).map(np.array),
    st.lists(st.integers(-5, 5), max_size=3).map(lambda v: np.array(v, dtype=np.int64)),
    st.floats(-1e6, 1e6, allow_subnormal=False).map(np.float64), st.integers(-5, 5).map(np.int32))
_EVIDENCE = st.dictionaries(_KEYS, st.recursive(
    _LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                     st.dictionaries(_KEYS, inner, max_size=3)), max_leaves=8),
    max_size=6)


@given(st.lists(_EVIDENCE, min_size=1, max_size=4),
       st.one_of(st.none(), st.just({}), _EVIDENCE))
def test_evidence_column_is_evidence_json_of_the_merged_dict(evidence, params):
    """The shared params text spliced between each alert's keys is exactly the canonical JSON
    of {**evidence, "params": params}: same key order, same rounding, params winning."""
    from finflow.alerts import _evidence_column, evidence_json
    got = _evidence_column(evidence, params, len(evidence))
    want = [evidence_json({**ev, **({"params": params} if params else {})}) for ev in evidence]
    assert got == want
    for text in got:
        parsed = json.loads(text)
        if params:
            assert parsed["params"] == json.loads(evidence_json(params))
    assert _evidence_column(None, params, 2) == [evidence_json(
        {"params": params} if params else {})] * 2


def test_member_and_transaction_rows_follow_alert_rank_and_keep_input_order():
    g = triangle_round_trip()
    # three alerts; scores put input alert 2 first, then 0, then 1
    b = make_alerts(g, "CYCLE", score=[0.5, 0.1, 0.9], member_ptr=[0, 2, 3, 6],
                    member_account=[2, 0, 1, 1, 2, 0], member_role=[0, 1, 7, 5, 3, 2],
                    txn_ptr=[0, 2, 3, 5], txn_edge=[2, 0, 1, 1, 0], txn_step=[4, 3, 0, 9, 8])
    assert b.alerts["score"].to_list() == [0.9, 0.5, 0.1]
    assert b.accounts.rows() == [
        ("CYCLE-000001", 1, "1", "mule"), ("CYCLE-000001", 2, "2", "hub"),
        ("CYCLE-000001", 0, "0", "intermediary"),
        ("CYCLE-000002", 2, "2", "source"), ("CYCLE-000002", 0, "0", "sink"),
        ("CYCLE-000003", 1, "1", "member")]
    assert b.transactions.rows() == [
        ("CYCLE-000001", int(g.txn_id[1]), 9), ("CYCLE-000001", int(g.txn_id[0]), 8),
        ("CYCLE-000002", int(g.txn_id[2]), 4), ("CYCLE-000002", int(g.txn_id[0]), 3),
        ("CYCLE-000003", int(g.txn_id[1]), 0)]
    assert b.accounts.schema == schema.ALERT_ACCOUNTS
    assert b.transactions.schema == schema.ALERT_TRANSACTIONS
    assert b.alerts.schema == schema.ALERTS


def test_role_codes_outside_the_role_list_are_rejected():
    import pytest
    g = triangle_round_trip()
    for bad in (-1, len(schema.ROLES)):
        with pytest.raises(ValueError, match="member_role"):
            make_alerts(g, "X", [0.5], [0, 1], [0], [bad], [0, 1], [0])
