"""Scenario generator: truth consistency, determinism, committed sample data, realism."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from finflow import schema
from finflow.cli import main
from finflow.dataset import open_dataset, write_dataset
from finflow.errors import ConfigError, DatasetError
from finflow.synth import generate, load_scenario
from finflow.synth.checks import check_dataset
from finflow.synth.typologies import CORE_ROLES, ORDER

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SAMPLE = ROOT / "sample_data"
DAY = 86400


def _files(d: Path) -> dict[str, bytes]:
    """Every file of a dataset directory except result runs, by relative path."""
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*"))
            if p.is_file() and "results" not in p.relative_to(d).parts}


def _small(seed: int | None = None) -> dict:
    sc = tomllib.loads((SEEDS / "small.toml").read_text())
    if seed is not None:
        sc["scenario"]["seed"] = seed
    return sc


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return generate(SEEDS / "small.toml", tmp_path_factory.mktemp("synth") / "small.finflow")


# -- truth -------------------------------------------------------------------------------
def test_small_truth_satisfies_every_definition(small):
    assert check_dataset(small) == []


@pytest.mark.parametrize("seed", [101, 202])
def test_other_seeds_satisfy_every_definition(tmp_path, seed):
    ds = generate(_small(seed), tmp_path / "x.finflow")
    assert check_dataset(ds) == []


def test_committed_demo_truth_satisfies_every_definition():
    if not (SAMPLE / "demo.finflow").is_dir():
        pytest.skip("sample_data/demo.finflow not generated")
    assert check_dataset(open_dataset(SAMPLE / "demo.finflow")) == []


def test_every_typology_planted_as_many_times_as_asked(small):
    truth = small.truth("instances")
    sc = load_scenario(SEEDS / "small.toml")
    got = dict(truth.group_by("typology").agg(pl.col("instance").n_unique()).iter_rows())
    assert got == {t: sc["typologies"][t]["count"] for t in ORDER}
    # every instance has its core roles (what evaluate scores)
    core = truth.filter(pl.struct("typology", "role").map_elements(
        lambda r: r["role"] in CORE_ROLES[r["typology"]], return_dtype=pl.Boolean))
    assert core["instance"].n_unique() == truth["instance"].n_unique()
    assert set(truth["role"].unique()) <= set(schema.ROLES)


def test_truth_schema_and_account_index(small):
    inst = small.truth("instances")
    schema.check_table(inst, schema.TRUTH_INSTANCES, "instances")
    schema.check_table(small.truth("instance_transactions"), schema.TRUTH_TRANSACTIONS, "itx")
    acc = small.accounts().select("account", "account_id").collect()
    # the int32 index must be the one write_dataset assigned (row `account` of accounts)
    looked_up = acc["account_id"].gather(inst["account"].cast(pl.Int64))
    assert looked_up.to_list() == inst["account_id"].to_list()


def test_labels_are_exactly_the_truth_transactions(small):
    tx = small.transactions().select("txn_id", "label").collect()
    itx = small.truth("instance_transactions")
    assert set(tx.filter(pl.col("label") == 1)["txn_id"]) == set(itx["txn_id"])
    assert itx.join(tx, on="txn_id", how="anti").height == 0


def test_checker_rejects_broken_instances(tmp_path):
    """The self-check can fail: a cycle that takes 8 days, a fan with 4 counterparties,
    structuring at 10,000 (not below the threshold)."""
    t0 = 1_740_000_000
    rows = [  # (txn, src, dst, seconds, amount)
        (1, "a", "b", 0, 1000.0), (2, "b", "c", DAY, 900.0), (3, "c", "a", 8 * DAY, 850.0),
        *[(10 + i, "h", f"s{i}", i * 600, 100.0) for i in range(4)],
        *[(20 + i, "d", "z", i * DAY, 10_000.0) for i in range(3)],
    ]
    raw = pl.DataFrame({
        "txn_id": [r[0] for r in rows],
        "ts": pl.Series([(t0 + r[3]) * 1_000_000 for r in rows]).cast(schema.TS),
        "src_id": [r[1] for r in rows], "dst_id": [r[2] for r in rows],
        "amount": [r[4] for r in rows], "amount_orig": [r[4] for r in rows],
        "currency": "EUR", "channel": "transfer", "src_bank": "B", "dst_bank": "B",
        "src_country": "GB", "dst_country": "GB", "label": 1,
    }).select([pl.col(c).cast(t) for c, t in schema.RAW_COLUMNS.items()])
    truth = pl.DataFrame({
        "instance": ["CYCLE-0001"] * 3 + ["FAN_OUT-0001"] * 5 + ["STRUCTURING-0001"] * 2,
        "typology": ["CYCLE"] * 3 + ["FAN_OUT"] * 5 + ["STRUCTURING"] * 2,
        "account": pl.Series([None] * 10, dtype=pl.Int32),   # write_dataset fills it
        "account_id": ["a", "b", "c", "h", "s0", "s1", "s2", "s3", "d", "z"],
        "role": ["member"] * 3 + ["hub"] + ["sink"] * 4 + ["source", "sink"],
    })
    itx = pl.DataFrame({"instance": ["CYCLE-0001"] * 3 + ["FAN_OUT-0001"] * 4
                        + ["STRUCTURING-0001"] * 3, "txn_id": [r[0] for r in rows]})
    ds = write_dataset(tmp_path / "bad.finflow", raw, meta={},
                       truth={"instances": truth, "instance_transactions": itx})
    errs = check_dataset(ds)
    assert any(e.startswith("CYCLE-0001: span exceeds window") for e in errs)
    assert any(e.startswith("FAN_OUT-0001: at most 4 distinct") for e in errs)
    assert any(e.startswith("STRUCTURING-0001: only 0 payments") for e in errs)
    assert len(errs) == 3


# -- determinism and committed data ------------------------------------------------------
def test_same_scenario_gives_byte_identical_files(tmp_path):
    a = generate(SEEDS / "small.toml", tmp_path / "a.finflow", csv=True)
    b = generate(SEEDS / "small.toml", tmp_path / "b.finflow", csv=True)
    fa, fb = _files(a.path), _files(b.path)
    assert sorted(fa) == sorted(fb) and "raw.csv" in fa
    assert fa == fb
    meta = json.loads(fa["meta.json"])
    assert str(tmp_path) not in fa["meta.json"].decode()
    assert meta["scenario"]["scenario"]["seed"] == 3


def test_different_seed_gives_different_data(tmp_path):
    a = generate(_small(1), tmp_path / "a.finflow")
    b = generate(_small(2), tmp_path / "b.finflow")
    assert _files(a.path)["transactions.parquet"] != _files(b.path)["transactions.parquet"]


@pytest.mark.parametrize("name", ["small", "demo"])
def test_committed_sample_data_is_regenerated_identically(tmp_path, name):
    committed = SAMPLE / f"{name}.finflow"
    if not committed.is_dir():
        pytest.skip(f"sample_data/{name}.finflow not generated")
    fresh = generate(SEEDS / f"{name}.toml", tmp_path / f"{name}.finflow")
    want, got = _files(committed), _files(fresh.path)
    assert sorted(got) == sorted(want)
    for f in sorted(want):
        assert got[f] == want[f], f"sample_data/{name}.finflow/{f} is stale: regenerate it"


def test_csv_has_the_raw_columns(tmp_path, small):
    ds = generate(SEEDS / "small.toml", tmp_path / "c.finflow", csv=True)
    raw = pl.read_csv(ds.path / "raw.csv", try_parse_dates=True)
    assert raw.columns == list(schema.RAW_COLUMNS)
    assert raw.height == ds.meta["transactions"]
    assert raw["src_id"].dtype == pl.String


# -- scenario handling -------------------------------------------------------------------
def test_unknown_scenario_keys_are_rejected(tmp_path):
    with pytest.raises(ConfigError, match="unknown typology"):
        load_scenario({"typologies": {"SMURFING": {"count": 1}}})
    with pytest.raises(ConfigError, match="unknown key"):
        load_scenario({"typologies": {"CYCLE": {"lenght": [2, 3]}}})
    with pytest.raises(ConfigError, match="unknown section"):
        load_scenario({"scenaro": {}})


def test_refuses_to_replace_a_directory_that_is_not_a_dataset(tmp_path):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "notes.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="not a finflow dataset"):
        generate(SEEDS / "small.toml", d)
    assert (d / "notes.txt").read_text() == "keep me"


def test_too_small_world_is_a_config_error(tmp_path):
    sc = _small()
    sc["scenario"]["accounts"] = 200
    with pytest.raises(ConfigError, match="raise accounts"):
        generate(sc, tmp_path / "tiny.finflow")


def test_scale_scenario_parses():
    sc = load_scenario(SEEDS / "scale.toml")
    assert sc["scenario"]["background_transactions"] >= 4_500_000


def test_cli_generate(tmp_path):
    out = tmp_path / "cli.finflow"
    res = CliRunner().invoke(main, ["generate", str(SEEDS / "small.toml"), "-o", str(out),
                                    "--csv", "-q", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert {r["typology"] for r in rows} == set(ORDER)
    assert (out / "raw.csv").is_file() and (out / "truth" / "instances.parquet").is_file()


# -- realism: legitimate look-alikes exist, and crime has no tell-tale attribute ----------
def _tx(ds) -> pl.DataFrame:
    return ds.transactions().collect()


def test_background_contains_legitimate_look_alikes(small):
    tx = _tx(small)
    legit = tx.filter(pl.col("label") == 0)
    # payroll: one account paying >= 10 distinct accounts within an hour
    hourly = legit.group_by("src", pl.col("ts").dt.truncate("1h")).agg(pl.col("dst").n_unique())
    assert hourly["dst"].max() >= 10
    # merchants: >= 10 distinct card payers in one day
    card = legit.filter(pl.col("channel") == "card").group_by(
        "dst", pl.col("ts").dt.truncate("1d")).agg(pl.col("src").n_unique())
    assert card["src"].max() >= 10
    # mutual payments: 2-cycles within a week among legitimate transactions
    back = legit.join(legit, left_on=["src", "dst"], right_on=["dst", "src"]).filter(
        (pl.col("ts_right") > pl.col("ts"))
        & (pl.col("ts_right") - pl.col("ts") <= pl.duration(days=7)))
    assert back.height > 20
    # near-threshold business deposits
    assert legit.filter(pl.col("amount").is_between(9000, 10000, closed="left")).height >= 5
    # standing orders: same payer, payee and amount in consecutive months
    so = legit.filter(pl.col("channel") == "standing_order").group_by("src", "dst", "amount").len()
    assert so.filter(pl.col("len") >= 2).height > 50


def test_no_attribute_value_is_used_only_by_crime(small):
    tx = _tx(small)
    acc = small.accounts().collect()
    for col in ("channel", "currency"):
        counts = tx.group_by(col, "label").len().pivot("label", index=col, values="len")
        crime_only = counts.filter(pl.col("1").is_not_null() & pl.col("0").is_null())
        assert crime_only.height == 0, (col, crime_only)
    core = set(small.truth("instances")["account"])
    acc = acc.with_columns(pl.col("account").is_in(list(core)).alias("crime"))
    for col in ("kind", "bank", "country"):
        seen = acc.group_by(col).agg(pl.col("crime").all())
        assert not seen["crime"].any(), col
    # ids: same shape for everyone, and not sorted by role
    assert acc["account_id"].str.len_chars().n_unique() == 1
    crime_rank = acc.filter("crime")["account"].to_numpy()
    assert 0.25 < crime_rank.mean() / acc.height < 0.75


def test_daily_and_weekly_rhythm(small):
    # standing orders run in the banks' night batch; people pay by day
    tx = _tx(small).filter((pl.col("label") == 0) & (pl.col("channel") != "standing_order"))
    hour = tx["ts"].dt.hour().to_numpy()
    night, day = np.isin(hour, [1, 2, 3, 4]).sum(), np.isin(hour, [10, 11, 12, 13]).sum()
    assert day > 3 * night
    assert tx["ts"].dt.weekday().n_unique() == 7


def test_heavy_tailed_activity(small):
    deg = _tx(small).group_by("src").len()["len"].to_numpy()
    assert deg.max() > 10 * np.median(deg)
