"""`finflow trace` through click's CliRunner on a small hand-built dataset."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest
from click.testing import CliRunner

from finflow.cli import main
from finflow.dataset import open_dataset, write_dataset
from finflow.schema import RAW_COLUMNS
from finflow.sql import query

T0 = datetime(2024, 3, 1, tzinfo=timezone.utc)
#: (txn_id, hour, src, dst, amount): a clean deposit, a smuggler's two payments, layering.
ROWS = [
    (1, 0, "bank-x", "mule-a", 100.0),
    (2, 1, "smuggler", "mule-a", 100.0),
    (3, 2, "mule-a", "mule-b", 100.0),
    (4, 3, "mule-b", "shop-c", 80.0),
    (5, 30, "smuggler", "mule-b", 40.0),
]


@pytest.fixture
def case(tmp_path):
    raw = pl.DataFrame({
        "txn_id": [r[0] for r in ROWS],
        "ts": [T0 + timedelta(hours=r[1]) for r in ROWS],
        "src_id": [r[2] for r in ROWS], "dst_id": [r[3] for r in ROWS],
        "amount": [r[4] for r in ROWS], "amount_orig": [r[4] for r in ROWS],
        "currency": ["EUR"] * len(ROWS), "channel": ["wire"] * len(ROWS),
        "src_bank": None, "dst_bank": None, "src_country": None, "dst_country": None,
        "label": None,
    }).select([pl.col(c).cast(t) for c, t in RAW_COLUMNS.items()])
    path = tmp_path / "case.finflow"
    write_dataset(path, raw, meta={"base_currency": "EUR"})
    return path


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_trace_from_account_writes_a_run_and_prints_the_table(case):
    res = invoke("trace", case, "--from", "smuggler", "--rule", "lifo", "--format", "json")
    assert res.exit_code == 0, res.output
    rows = {r["account_id"]: r for r in json.loads(res.stdout)}
    # LIFO: mule-a forwards the smuggler's 100 first; mule-b then passes 80 of it to shop-c
    assert rows["mule-a"]["traced_in"] == 100.0
    assert rows["mule-b"]["traced_in"] == 140.0
    assert rows["shop-c"]["traced_in"] == 80.0 and rows["shop-c"]["min_hops"] == 3
    assert rows["smuggler"]["seed"] is True
    ds = open_dataset(case)
    run = case / "results" / ds.runs()[-1]
    summary = json.loads((run / "run.json").read_text())
    assert summary["kind"] == "trace" and summary["rule"] == "lifo"
    assert summary["totals"]["originated"] == 140.0
    assert summary["seeds"]["accounts"] == ["smuggler"]
    views = query(ds, "select account_id, held from trace order by account_id")
    assert views.height == 4
    paths = query(ds, "select path, txn_id, path_value from trace_paths order by path, hop")
    # the most valuable chain keeps 100 to mule-b; the longer one to shop-c carries 80
    assert paths.filter(pl.col("path") == 1)["txn_id"].to_list() == [2, 3]
    assert paths.filter(pl.col("path") == 2)["txn_id"].to_list() == [2, 3, 4]
    assert paths.filter(pl.col("path") == 2)["path_value"][0] == 80.0


def test_fifo_and_proportional_differ_on_the_command_line(case):
    got = {}
    for rule in ("fifo", "proportional"):
        res = invoke("trace", case, "--from", "smuggler", "--rule", rule, "--format", "csv")
        assert res.exit_code == 0, res.output
        df = pl.read_csv(res.stdout.encode())
        got[rule] = dict(zip(df["account_id"], df["traced_in"]))
    assert got["fifo"].get("shop-c", 0.0) == 0.0      # mule-a forwarded the clean deposit first
    assert got["proportional"]["shop-c"] == pytest.approx(40.0)


def test_window_hops_and_min_amount_options(case):
    res = invoke("trace", case, "--from", "smuggler", "--since", "2024-03-01T12:00:00",
                 "--format", "json")
    rows = {r["account_id"]: r for r in json.loads(res.stdout)}
    assert set(rows) == {"smuggler", "mule-b"} and rows["mule-b"]["traced_in"] == 40.0
    res = invoke("trace", case, "--from", "smuggler", "--until", str(int(T0.timestamp()) + 7200),
                 "--max-hops", "1", "--format", "json")
    rows = {r["account_id"]: r for r in json.loads(res.stdout)}
    assert set(rows) == {"smuggler", "mule-a"}
    res = invoke("trace", case, "--from", "smuggler", "--min-amount", "60", "--format", "json")
    rows = {r["account_id"]: r for r in json.loads(res.stdout)}
    assert set(rows) == {"smuggler", "mule-a"}          # 50 to mule-b and 40 fall below 60


def test_trace_from_txn_backward_and_paths(case):
    res = invoke("trace", case, "--from-txn", "4", "--backward", "--paths", "--format", "json")
    assert res.exit_code == 0, res.output
    hops = [r for r in json.loads(res.stdout) if r["path"] == 1]
    # backward in reverse time: mule-a's 80 tainted (of 100) leaves first through txn 2 (hour 1,
    # from the smuggler) and takes all of it, so nothing is left for bank-x's txn 1 (hour 0)
    assert [h["txn_id"] for h in hops] == [4, 3, 2]
    assert hops[-1]["src_id"] == "smuggler" and hops[0]["path_value"] == 80.0


def test_unknown_account_is_a_one_line_error(case):
    res = CliRunner().invoke(main, ["trace", str(case), "--from", "smuggler,nobody"])
    assert res.exit_code == 1
    assert res.stderr.strip() == "Error: unknown account 'nobody': not in accounts.parquet"
    res = CliRunner().invoke(main, ["trace", str(case), "--from-txn", "77"])
    assert res.exit_code == 1 and "unknown transaction 77" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_seed_without_outflows_is_explained_and_empty(case):
    res = invoke("trace", case, "--from", "shop-c", "--format", "csv")
    assert res.exit_code == 0
    assert res.stderr.strip().startswith("note: nothing to trace: shop-c has no outgoing")
    assert len(res.stdout.strip().splitlines()) == 1          # header only


def test_usage_errors_exit_2(case):
    assert CliRunner().invoke(main, ["trace", str(case)]).exit_code == 2
    both = CliRunner().invoke(main, ["trace", str(case), "--from", "x", "--from-txn", "1"])
    assert both.exit_code == 2
    assert CliRunner().invoke(main, ["trace", str(case), "--from", "smuggler",
                                     "--rule", "average"]).exit_code == 2


def test_output_file_and_quiet(case, tmp_path):
    out = tmp_path / "t.parquet"
    res = invoke("trace", case, "--from", "smuggler", "-q", "-o", out)
    assert res.exit_code == 0 and res.stdout == "" and res.stderr == ""
    assert pl.read_parquet(out)["account_id"].to_list()[0] == "mule-a"


def test_small_sample_dataset(small_case):
    acc = pl.read_parquet(small_case / "transactions.parquet").group_by("src").len() \
        .sort(["len", "src"], descending=[True, False])["src"][0]
    account_id = pl.read_parquet(small_case / "accounts.parquet")["account_id"][int(acc)]
    for rule in ("proportional", "fifo", "lifo"):
        res = invoke("trace", small_case, "--from", account_id, "--rule", rule, "-q",
                     "--format", "json")
        assert res.exit_code == 0
        s = json.loads((open_dataset(small_case).run_dir() / "run.json").read_text())
        t = s["totals"]
        assert t["originated"] <= t["seed_outflow"] + 1e-6
        assert t["originated"] == pytest.approx(t["held"] + t["dropped"] + t["stopped"])
