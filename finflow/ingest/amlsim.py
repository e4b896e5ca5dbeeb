"""IBM AMLSim output (https://github.com/IBM/AMLSim): ``transactions.csv`` and, when they sit
beside it, ``accounts.csv`` (account attributes) and ``alert_accounts.csv`` (or ``alerts.csv``
with the same columns: ground truth).

transactions.csv: ``tran_id, orig_acct, bene_acct, tx_type, base_amt, tran_timestamp, is_sar,
alert_id`` -> txn_id, src, dst, channel, amount (no currency column: base currency), ts,
label (true/false), and the extra column alert_id (-1 when none).

accounts.csv: acct_id -> account_id; bank_id -> bank; country -> country; type -> kind.

alert_accounts.csv: ``alert_id, alert_type, acct_id, is_sar, ...``. Every SAR alert
(``is_sar`` true) becomes a truth instance ``<TYPOLOGY>-<alert_id, 4 digits>`` with alert
types mapped fan_out -> FAN_OUT, fan_in -> FAN_IN, cycle -> CYCLE, scatter_gather ->
SCATTER_GATHER, gather_scatter -> GATHER_SCATTER, bipartite -> BIPARTITE, stack -> STACK
(others upper-cased, e.g. RANDOM). Its transactions are the accepted SAR transactions carrying
its alert_id; roles come from them (only sends: source, only receives: sink, both:
intermediary; member accounts without such a transaction: member).
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from ..errors import InputError
from .common import (FieldSpec, Header, Options, Source, keep_extras, require_columns,
                     roles_from_transactions, sniff_time, typology_name)

__all__ = ["COLUMNS", "matches", "plan", "side_files", "accounts_extra", "alerts_truth"]

#: canonical -> AMLSim column
COLUMNS = {"txn_id": "tran_id", "src": "orig_acct", "dst": "bene_acct", "channel": "tx_type",
           "amount": "base_amt", "ts": "tran_timestamp", "label": "is_sar"}
_REQUIRED = ("tran_id", "orig_acct", "bene_acct", "base_amt", "tran_timestamp")


def matches(header: Header) -> bool:
    return all(c in header.names for c in _REQUIRED)


def plan(src: Source, header: Header, lf: pl.LazyFrame, opts: Options) -> FieldSpec:
    require_columns(src, header, _REQUIRED, "AMLSim")
    cols = {k: v for k, v in COLUMNS.items() if v in header.names}
    sample = lf.select(cols["ts"]).head(2000).collect()[cols["ts"]]
    time = sniff_time(sample, opts.time_format)
    used = set(cols.values())
    numeric = {}
    if "alert_id" in header.names:
        numeric["alert_id"] = pl.col("alert_id")
        used.add("alert_id")
    src.format = "amlsim"
    src.mapping = dict(cols)
    src.columns = {**cols, "alert_id": "alert_id"}
    src.time_format = time.describe()
    return FieldSpec({k: pl.col(v) for k, v in cols.items()}, dict(cols), time,
                     extras=keep_extras(header, used), numeric_extras=numeric,
                     numeric_types={"alert_id": pl.Int64})


def side_files(transactions: Path) -> dict[str, Path]:
    """accounts / alerts files next to an AMLSim transactions file (those that exist)."""
    d = transactions.parent
    out = {}
    if (d / "accounts.csv").is_file():
        out["accounts"] = d / "accounts.csv"
    for name in ("alert_accounts.csv", "alerts.csv"):
        p = d / name
        if p.is_file() and p.resolve() != transactions.resolve():
            head = pl.read_csv(p, n_rows=0, infer_schema=False).columns
            if {"alert_id", "alert_type", "acct_id"} <= set(head):
                out["alerts"] = p
                break
    return out


def accounts_extra(path: Path) -> pl.DataFrame:
    """account_id, bank, country, kind from AMLSim's accounts.csv (columns it lacks: null)."""
    df = pl.read_csv(path, infer_schema=False)
    id_col = next((c for c in ("acct_id", "ACCOUNT_ID", "account_id") if c in df.columns), None)
    if id_col is None:
        raise InputError("AMLSim accounts file has no acct_id column", file=str(path),
                         column="acct_id")
    pick = {"bank": ("bank_id", "BANK_ID"), "country": ("country", "COUNTRY"),
            "kind": ("type", "ACCOUNT_TYPE", "acct_type")}
    exprs = [pl.col(id_col).alias("account_id")]
    for target, names in pick.items():
        c = next((n for n in names if n in df.columns), None)
        exprs.append(pl.col(c).alias(target) if c else pl.lit(None, pl.String).alias(target))
    return df.select(exprs).filter(pl.col("account_id").is_not_null())


def alerts_truth(path: Path, accepted: pl.LazyFrame) -> tuple[dict, dict]:
    """Truth tables from an alert_accounts file and the accepted stage rows (with alert_id)."""
    al = pl.read_csv(path, infer_schema=False)
    if "is_sar" in al.columns:
        al = al.filter(pl.col("is_sar").str.to_lowercase().is_in(["true", "1", "t", "yes"]))
    al = al.select(
        pl.col("alert_id").str.strip_chars().cast(pl.Int64, strict=False).alias("alert_id"),
        typology_name(pl.col("alert_type")).alias("typology"),
        pl.col("acct_id").alias("account_id"),
    ).filter(pl.col("alert_id").is_not_null())
    al = al.with_columns(pl.format("{}-{}", pl.col("typology"),
                                   pl.col("alert_id").cast(pl.String).str.zfill(4)).alias("instance"))
    names = al.select("alert_id", "instance").unique()
    txns = (accepted.filter((pl.col("alert_id") >= 0) & (pl.col("label") == 1))
            .select(pl.col("alert_id").cast(pl.Int64), "txn_id", "src_id", "dst_id")
            .join(names.lazy(), on="alert_id", how="inner").collect())
    roles = roles_from_transactions(txns.select("instance", "src_id", "dst_id"))
    instances = (al.select("instance", "typology", "account_id").unique()
                 .join(roles, on=["instance", "account_id"], how="left")
                 .with_columns(pl.col("role").fill_null("member"))
                 .select("instance", "typology", pl.lit(None, pl.Int32).alias("account"),
                         "account_id", "role")
                 .sort("instance", "account_id"))
    inst_txn = txns.select("instance", "txn_id").unique().sort("instance", "txn_id")
    counts = {"alerts": names.height, "alert_transactions_matched": inst_txn.height}
    return {"instances": instances, "instance_transactions": inst_txn}, counts
