"""evaluate: hand-built truth and alert tables with answers worked out by hand."""
from __future__ import annotations

import json

import polars as pl
import pytest
from click.testing import CliRunner

from finflow import schema
from finflow.alerts import AlertBatch
from finflow.cli import main
from finflow.dataset import write_dataset
from finflow.errors import DatasetError
from finflow.evaluate import (EVAL_SCHEMA, core_accounts, evaluate, evaluate_labels,
                               evaluate_tables)

T0 = 1_740_000_000


def _truth(rows):
    """rows: (instance, typology, account, role)."""
    return pl.DataFrame({
        "instance": [r[0] for r in rows], "typology": [r[1] for r in rows],
        "account": pl.Series([r[2] for r in rows], dtype=pl.Int32),
        "account_id": [f"A{r[2]:02d}" for r in rows], "role": [r[3] for r in rows]})


#: CYCLE-0001 = 0,1,2 (members); FAN_OUT-0001 = hub 3 + sinks 4..8, funder 9 (non-core);
#: PASS_THROUGH-0001 = intermediary 10, with source 11 and sink 12 (non-core)
TRUTH = _truth(
    [("CYCLE-0001", "CYCLE", a, "member") for a in (0, 1, 2)]
    + [("FAN_OUT-0001", "FAN_OUT", 3, "hub")]
    + [("FAN_OUT-0001", "FAN_OUT", a, "sink") for a in (4, 5, 6, 7, 8)]
    + [("FAN_OUT-0001", "FAN_OUT", 9, "controller")]
    + [("PASS_THROUGH-0001", "PASS_THROUGH", 10, "intermediary"),
       ("PASS_THROUGH-0001", "PASS_THROUGH", 11, "source"),
       ("PASS_THROUGH-0001", "PASS_THROUGH", 12, "sink")])


def _alerts(spec):
    """spec: (alert_id, typology, score, [accounts])."""
    alerts = pl.DataFrame({
        "alert_id": [s[0] for s in spec], "typology": [s[1] for s in spec],
        "score": [float(s[2]) for s in spec],
        "start_ts": pl.Series([T0 * 1_000_000] * len(spec)).cast(schema.TS),
        "end_ts": pl.Series([T0 * 1_000_000] * len(spec)).cast(schema.TS),
        "total_amount": [1.0] * len(spec),
        "n_accounts": pl.Series([len(s[3]) for s in spec], dtype=pl.Int32),
        "n_transactions": pl.Series([1] * len(spec), dtype=pl.Int32),
        "evidence": ["{}"] * len(spec)}, schema=schema.ALERTS)
    accounts = pl.DataFrame({
        "alert_id": [s[0] for s in spec for _ in s[3]],
        "account": pl.Series([a for s in spec for a in s[3]], dtype=pl.Int32),
        "account_id": [f"A{a:02d}" for s in spec for a in s[3]],
        "role": ["member" for s in spec for _ in s[3]]}, schema=schema.ALERT_ACCOUNTS)
    txns = pl.DataFrame({"alert_id": [s[0] for s in spec], "txn_id": list(range(1, len(spec) + 1)),
                         "step": [0] * len(spec)}, schema=schema.ALERT_TRANSACTIONS)
    return AlertBatch(alerts, accounts, txns)


SPEC = [
    ("CYCLE-000001", "CYCLE", 0.9, [0, 1, 20]),      # 2/3 of the cycle: finds it, correct
    ("CYCLE-000002", "CYCLE", 0.8, [20, 21]),        # nothing planted: wrong
    ("CYCLE-000003", "CYCLE", 0.7, [3, 4, 22]),      # fan accounts: correct (other typology)
    ("FAN_OUT-000001", "FAN_OUT", 0.6, [3, 4, 5]),   # 3/6 core = 50%: finds FAN_OUT-0001
    ("FAN_OUT-000002", "FAN_OUT", 0.95, [9, 11]),    # two non-core accounts: wrong
    ("PASS_THROUGH-000001", "PASS_THROUGH", 0.5, [10]),          # one account, the core one
    ("PASS_THROUGH-000002", "PASS_THROUGH", 0.4, [10, 11, 12]),  # shares 1 = min(2, 3, |core|=1)
    ("STACK-000001", "STACK", 0.3, [1, 2, 23]),      # typology without truth: any-typology hit
]


def _row(df, typ):
    return df.filter(pl.col("typology") == typ).row(0, named=True)


def test_core_accounts_use_the_core_roles():
    core = core_accounts(TRUTH)
    assert core.filter(pl.col("instance") == "FAN_OUT-0001")["account"].to_list() == [3, 4, 5, 6, 7, 8]
    assert core.filter(pl.col("instance") == "PASS_THROUGH-0001")["account"].to_list() == [10]


def test_core_falls_back_to_all_accounts_for_foreign_roles():
    t = _truth([("X-1", "AMLSIM_RANDOM", 1, "member"), ("X-1", "AMLSIM_RANDOM", 2, "member"),
                ("C-1", "CYCLE", 3, "source"), ("C-1", "CYCLE", 4, "sink")])
    assert core_accounts(t)["account"].to_list() == [3, 4, 1, 2]


def test_hand_worked_tables():
    b = _alerts(SPEC)
    df = evaluate_tables(TRUTH, b.alerts, b.accounts)
    assert dict(df.schema) == EVAL_SCHEMA
    assert df["typology"].to_list() == ["FAN_OUT", "CYCLE", "STACK", "PASS_THROUGH", "TOTAL"]
    c = _row(df, "CYCLE")
    assert (c["instances"], c["found"], c["recall"]) == (1, 1, 1.0)
    assert (c["alerts"], c["correct"]) == (3, 2)
    assert c["precision"] == pytest.approx(2 / 3)
    assert c["precision_same_typology"] == pytest.approx(1 / 3)
    assert c["p_at_10"] == pytest.approx(2 / 3)
    # accounts in CYCLE alerts {0,1,20,21,3,4,22} vs cycle core {0,1,2}
    assert c["acc_precision"] == pytest.approx(2 / 7)
    assert c["acc_recall"] == pytest.approx(2 / 3)
    f = _row(df, "FAN_OUT")
    assert (f["found"], f["recall"], f["correct"], f["precision"]) == (1, 1.0, 1, 0.5)
    # p@k ranks by score: FAN_OUT-000002 (0.95, wrong) comes first
    assert f["p_at_10"] == 0.5
    assert f["acc_precision"] == pytest.approx(3 / 5) and f["acc_recall"] == pytest.approx(3 / 6)
    p = _row(df, "PASS_THROUGH")
    assert (p["found"], p["correct"], p["precision"]) == (1, 2, 1.0)
    s = _row(df, "STACK")
    assert (s["instances"], s["found"], s["recall"]) == (0, 0, None)
    assert (s["correct"], s["precision"], s["precision_same_typology"]) == (1, 1.0, 0.0)
    tot = _row(df, "TOTAL")
    assert (tot["instances"], tot["found"], tot["alerts"], tot["correct"]) == (3, 3, 8, 6)
    # top 10 of all 8 by score: 6 correct
    assert tot["p_at_10"] == pytest.approx(6 / 8)
    assert tot["acc_recall"] == pytest.approx(len({0, 1, 2, 3, 4, 5, 10}) / 10)


def test_precision_at_k_uses_the_highest_scores():
    spec = [(f"CYCLE-{i:06d}", "CYCLE", 1.0 - i / 100, [0, 1] if i < 5 else [30 + i, 31 + i])
            for i in range(25)]
    b = _alerts(spec)
    c = _row(evaluate_tables(TRUTH, b.alerts, b.accounts), "CYCLE")
    assert (c["p_at_10"], c["p_at_20"]) == (0.5, 0.25)
    assert c["precision"] == pytest.approx(5 / 25)


def test_an_alert_of_another_typology_does_not_find_an_instance():
    b = _alerts([("CYCLE-000001", "CYCLE", 0.9, [3, 4, 5, 6, 7, 8])])
    df = evaluate_tables(TRUTH, b.alerts, b.accounts)
    assert _row(df, "FAN_OUT")["found"] == 0
    assert _row(df, "CYCLE")["precision"] == 1.0


def test_below_half_of_the_core_is_not_found():
    b = _alerts([("FAN_OUT-000001", "FAN_OUT", 0.9, [3, 4])])      # 2/6 < 50%
    assert _row(evaluate_tables(TRUTH, b.alerts, b.accounts), "FAN_OUT")["found"] == 0


@pytest.fixture
def case(tmp_path):
    """A dataset holding TRUTH's accounts (A00..A23 via a chain of payments)."""
    n = 24
    raw = pl.DataFrame({
        "txn_id": list(range(1, n)),
        "ts": pl.Series([(T0 + i) * 1_000_000 for i in range(n - 1)]).cast(schema.TS),
        "src_id": [f"A{i:02d}" for i in range(n - 1)],
        "dst_id": [f"A{i + 1:02d}" for i in range(n - 1)],
        "amount": [100.0] * (n - 1), "amount_orig": [100.0] * (n - 1), "currency": "EUR",
        "channel": "transfer", "src_bank": "B", "dst_bank": "B", "src_country": "GB",
        "dst_country": "GB", "label": pl.Series([1, 1, 0] + [0] * (n - 4), dtype=pl.Int8),
    }).select([pl.col(c).cast(t) for c, t in schema.RAW_COLUMNS.items()])
    itx = pl.DataFrame({"instance": ["CYCLE-0001"], "txn_id": [1]})
    return tmp_path, raw, itx


def test_evaluate_reads_the_latest_run(case):
    tmp, raw, itx = case
    ds = write_dataset(tmp / "c.finflow", raw, meta={},
                       truth={"instances": TRUTH, "instance_transactions": itx})
    with pytest.raises(DatasetError, match="no result run"):
        evaluate(ds)
    AlertBatch.empty().write(ds.new_run_dir())
    empty = evaluate(ds)
    assert empty["recall"].to_list() == [0.0] * 4
    assert empty["precision"].null_count() == 4
    _alerts(SPEC).write(ds.new_run_dir())
    assert _row(evaluate(ds), "TOTAL")["correct"] == 6
    assert _row(evaluate(ds, "run_0001"), "TOTAL")["correct"] == 0
    res = CliRunner().invoke(main, ["evaluate", str(ds.path), "--json"])
    assert res.exit_code == 0, res.output
    assert {r["typology"]: r["found"] for r in json.loads(res.stdout)}["TOTAL"] == 3
    res = CliRunner().invoke(main, ["evaluate", str(ds.path), "--run", "run_0001"])
    assert res.exit_code == 0 and "TOTAL" in res.stdout


def test_label_only_truth_gives_transaction_level_scores(case):
    tmp, raw, _ = case
    ds = write_dataset(tmp / "l.finflow", raw, meta={})
    _alerts(SPEC).write(ds.new_run_dir())       # alert i holds txn i; txns 1 and 2 are labelled
    df = evaluate(ds)
    assert list(df.columns) == ["typology", "alerts", "alert_transactions", "labelled", "hit",
                                "tx_precision", "tx_recall"]
    c = _row(df, "CYCLE")
    assert (c["alert_transactions"], c["hit"], c["tx_recall"]) == (3, 2, 1.0)
    assert c["tx_precision"] == pytest.approx(2 / 3)
    assert _row(df, "TOTAL")["tx_precision"] == pytest.approx(2 / 8)


def test_no_truth_at_all_is_an_error(case):
    tmp, raw, _ = case
    ds = write_dataset(tmp / "n.finflow", raw.with_columns(pl.lit(0, pl.Int8).alias("label")),
                       meta={})
    _alerts(SPEC).write(ds.new_run_dir())
    with pytest.raises(DatasetError, match="no ground truth"):
        evaluate(ds)


def test_evaluate_labels_direct():
    labels = pl.DataFrame({"txn_id": [1, 2, 3], "label": pl.Series([1, 0, 1], dtype=pl.Int8)})
    b = _alerts([("CYCLE-000001", "CYCLE", 1.0, [0])])
    df = evaluate_labels(labels, b.alerts, b.transactions)
    assert _row(df, "CYCLE")["tx_recall"] == 0.5


def test_evaluate_does_not_import_the_generator():
    """evaluate reads the typology order and core roles from finflow.schema (the generator
    plants from the same constants); importing it must not load finflow.synth."""
    import subprocess
    import sys
    code = ("import sys, finflow.evaluate; "
            "print(sorted(m for m in sys.modules if m.startswith('finflow.synth')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
    from finflow.patterns import TYPOLOGIES
    from finflow.synth import typologies as synth
    assert synth.ORDER == schema.TYPOLOGY_ORDER and synth.CORE_ROLES == schema.CORE_ROLES
    assert set(schema.TYPOLOGY_ORDER) == set(TYPOLOGIES) == set(schema.CORE_ROLES)
    assert all(set(r) <= set(schema.ROLES) for r in schema.CORE_ROLES.values())


def test_evaluating_a_run_without_alerts_says_so(tmp_path):
    """A named run that is not a detect run (a trace run) gives one clear line, not a
    missing-file error from polars."""
    import shutil
    from pathlib import Path

    from finflow.dataset import open_dataset
    from finflow.evaluate import evaluate
    case = tmp_path / "small.finflow"
    shutil.copytree(Path(__file__).resolve().parent.parent / "sample_data" / "small.finflow", case,
                    ignore=shutil.ignore_patterns("results"))
    ds = open_dataset(case)
    ds.new_run_dir()          # run_0001 with no alerts (as a trace run leaves it)
    with pytest.raises(DatasetError, match="run run_0001 has no alerts"):
        evaluate(ds, "run_0001")
