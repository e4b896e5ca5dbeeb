"""`finflow ingest` through click's CliRunner, as a new user would run it."""
from __future__ import annotations

import json

import polars as pl
import pytest
from click.testing import CliRunner

from finflow.cli import main

FOREIGN = """Valuta;Auftraggeber;Begünstigter;Betrag;Währung;Kanal
2024-02-01 09:15:00;DE001;DE002;120.50;EUR;SEPA
2024-02-01 10:00:00;DE002;DE003;99.99;EUR;SEPA
2024-02-02 11:30:00;DE003;DE001;1000;USD;SWIFT
2024-02-03 08:00:00;DE001;DE004;15.25;GBP;CARD
2024-02-03 08:00:00;DE004;DE002;7;EUR;CARD
"""
MAP = ["--map", "ts=Valuta", "--map", "src=Auftraggeber", "--map", "dst=Begünstigter",
       "--map", "amount=Betrag", "--map", "currency=Währung", "--map", "channel=Kanal"]


@pytest.fixture
def runner():
    return CliRunner()


def run(runner, *args):
    return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)


def count_rows(runner, case, table="transactions") -> int:
    res = run(runner, "sql", case, f"select count(*) as n from {table}", "--format", "json")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)[0]["n"]


def test_foreign_columns_with_map_and_sql_count(tmp_path, runner):
    f = tmp_path / "export.csv"
    f.write_text(FOREIGN, encoding="utf-8")
    case = tmp_path / "case.finflow"
    res = run(runner, "ingest", f, "-o", case, *MAP)
    assert res.exit_code == 0, res.output
    assert "ingested 5 rows from 1 file" in res.stdout and "5 accepted" in res.stdout
    n_file_rows = len(FOREIGN.strip().splitlines()) - 1
    assert count_rows(runner, case) == n_file_rows
    meta = json.loads((case / "meta.json").read_text())
    assert meta["sources"][0]["mapping"]["dst"] == "Begünstigter"
    tx = pl.read_parquet(case / "transactions.parquet")
    assert sorted(tx["currency"].unique()) == ["EUR", "GBP", "USD"]


def test_without_map_the_format_is_unknown(tmp_path, runner):
    f = tmp_path / "export.csv"
    f.write_text(FOREIGN, encoding="utf-8")
    res = run(runner, "ingest", f, "-o", tmp_path / "c.finflow")
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown format" in lines[0] and "--map" in lines[0]


def _with_bad_date(tmp_path):
    rows = [f"{i},2024-03-{1 + i % 28:02d}T12:00:00,acc{i % 9},acc{(i * 7) % 11},{i}.25"
            for i in range(1, 41)]
    rows[16] = "17,2024-02-30T12:00:00,acc8,acc9,17.25"       # row 17: no 30 February
    f = tmp_path / "tx.csv"
    f.write_text("txn_id,ts,src,dst,amount\n" + "\n".join(rows) + "\n")
    return f


def test_one_bad_date_fails_naming_the_row(tmp_path, runner):
    f = _with_bad_date(tmp_path)
    case = tmp_path / "case.finflow"
    res = run(runner, "ingest", f, "-o", case)
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1
    line = lines[0]
    assert str(f) in line and "row 17" in line and "column 'ts'" in line
    assert "'2024-02-30T12:00:00'" in line and "unparsable time" in line
    assert not case.exists()


def test_one_bad_date_skipped_keeps_every_other_row(tmp_path, runner):
    f = _with_bad_date(tmp_path)
    case = tmp_path / "case.finflow"
    res = run(runner, "ingest", f, "-o", case, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert "40 rows" in res.stdout and "39 accepted" in res.stdout and "1 rejected" in res.stdout
    assert count_rows(runner, case) == 39
    res = run(runner, "sql", case, 'select file, row, "column", value from rejects', "--format", "json")
    assert json.loads(res.stdout) == [{"file": str(f), "row": 17, "column": "ts",
                                       "value": "2024-02-30T12:00:00"}]
    kept = pl.read_parquet(case / "transactions.parquet")["txn_id"].sort().to_list()
    assert kept == [i for i in range(1, 41) if i != 17]
    meta = json.loads((case / "meta.json").read_text())
    assert meta["rows_read"] == meta["rows_accepted"] + meta["rows_rejected"] == 40


def test_options_reach_the_api(tmp_path, runner):
    f = tmp_path / "t.csv"
    f.write_text("when,a,b,amt,cur\n01/02/2024 03:04,x,y,10,AAA\n")
    rates = tmp_path / "rates.csv"
    rates.write_text("currency,rate\nAAA,3\nBBB,1\n")
    case = tmp_path / "c.finflow"
    res = run(runner, "ingest", f, "-o", case, "--map", "ts=when", "--map", "src=a",
              "--map", "dst=b", "--map", "amount=amt", "--map", "currency=cur",
              "--time-format", "%d/%m/%Y %H:%M", "--fx", rates, "--base-currency", "BBB")
    assert res.exit_code == 0, res.output
    tx = pl.read_parquet(case / "transactions.parquet")
    assert tx["amount"].to_list() == [30.0]
    assert tx["ts"].dt.strftime("%Y-%m-%d %H:%M").to_list() == ["2024-02-01 03:04"]
    res = run(runner, "ingest", f, "-o", case, "--map", "nonsense")
    assert res.exit_code == 1 and "CANONICAL=COLUMN" in res.stderr


def test_help_has_an_example(runner):
    res = run(runner, "ingest", "--help")
    assert res.exit_code == 0 and "Example:" in res.output and "--on-error" in res.output


def _console(*args, cwd=None):
    """``python -m finflow ARGS`` in a child process: the console entry point ``run``."""
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # pipes buffer
    return subprocess.run([sys.executable, "-m", "finflow", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_console_entry_point_keeps_output_and_exit_codes(tmp_path):
    """run() skips interpreter teardown: output must still arrive whole, files must be
    complete, and exit codes must be click's (0 ok, 1 user error, 2 usage error)."""
    src = tmp_path / "foreign.csv"
    src.write_text(FOREIGN, encoding="utf-8")
    case = tmp_path / "case.finflow"
    done = _console("ingest", src, "-o", case, *MAP, "--base-currency", "EUR")
    assert done.returncode == 0, done.stderr
    out = _console("sql", case, "select txn_id, amount from transactions order by txn_id",
                   "--format", "csv")
    assert out.returncode == 0, out.stderr
    rows = out.stdout.strip().splitlines()
    assert rows[0] == "txn_id,amount" and len(rows) == 6
    assert pl.read_parquet(case / "transactions.parquet").height == 5
    missing = _console("info", tmp_path / "nowhere.finflow")
    assert missing.returncode == 1 and missing.stderr.startswith("Error:")
    assert _console("detect").returncode == 2
