"""Canonical schemas of every table finflow writes, and validators for them.

Times are stored as ``timestamp[us, UTC]`` in Parquet and handled as int64 seconds in kernels.
Amounts are float64 in the dataset's base currency.
"""
from __future__ import annotations

import polars as pl

from .errors import DatasetError

__all__ = [
    "SCHEMA_VERSION", "TRANSACTIONS", "ACCOUNTS", "REJECTS", "ALERTS", "ALERT_ACCOUNTS",
    "ALERT_TRANSACTIONS", "TRUTH_INSTANCES", "TRUTH_TRANSACTIONS", "ROLES", "RAW_COLUMNS",
    "TYPOLOGY_ORDER", "CORE_ROLES", "check_table",
]

SCHEMA_VERSION = 1
TS = pl.Datetime("us", "UTC")

#: transactions.parquet: sorted by (ts, txn_id); extra source columns may follow.
TRANSACTIONS: dict[str, pl.DataType] = {
    "txn_id": pl.Int64, "ts": TS, "src": pl.Int32, "dst": pl.Int32,
    "amount": pl.Float64, "amount_orig": pl.Float64, "currency": pl.String,
    "channel": pl.String, "label": pl.Int8,
}
#: accounts.parquet: ``account`` is the dense int32 index, assigned in sorted account_id order.
ACCOUNTS: dict[str, pl.DataType] = {
    "account": pl.Int32, "account_id": pl.String, "bank": pl.String, "country": pl.String,
    "kind": pl.String, "first_seen": TS, "last_seen": TS,
}
#: rejects.parquet: one row per rejected source row (row is 1-based, header not counted).
REJECTS: dict[str, pl.DataType] = {
    "file": pl.String, "row": pl.Int64, "column": pl.String, "value": pl.String,
    "reason": pl.String,
}
ALERTS: dict[str, pl.DataType] = {
    "alert_id": pl.String, "typology": pl.String, "score": pl.Float64, "start_ts": TS,
    "end_ts": TS, "total_amount": pl.Float64, "n_accounts": pl.Int32,
    "n_transactions": pl.Int32, "evidence": pl.String,
}
ALERT_ACCOUNTS: dict[str, pl.DataType] = {
    "alert_id": pl.String, "account": pl.Int32, "account_id": pl.String, "role": pl.String,
}
ALERT_TRANSACTIONS: dict[str, pl.DataType] = {
    "alert_id": pl.String, "txn_id": pl.Int64, "step": pl.Int32,
}
#: truth/instances.parquet and truth/instance_transactions.parquet
TRUTH_INSTANCES: dict[str, pl.DataType] = {
    "instance": pl.String, "typology": pl.String, "account": pl.Int32,
    "account_id": pl.String, "role": pl.String,
}
TRUTH_TRANSACTIONS: dict[str, pl.DataType] = {"instance": pl.String, "txn_id": pl.Int64}

#: Roles an account can play in an alert or a planted instance (codes are the tuple index).
ROLES = ("source", "sink", "intermediary", "hub", "broker", "mule", "controller", "member")

#: The typologies of shared/TYPOLOGIES.md in one fixed order: the generator plants them in
#: this order (determinism) and evaluate lists them in it.
TYPOLOGY_ORDER = ("FAN_OUT", "FAN_IN", "CYCLE", "SCATTER_GATHER", "GATHER_SCATTER",
                  "BIPARTITE", "STACK", "STRUCTURING", "PASS_THROUGH", "MULE_RING",
                  "HAWALA_NETTING", "HAWALA_MIRROR")

#: Roles that make up a planted instance's pattern itself, per typology, in truth tables
#: (evaluate scores these *core* accounts; the others are funders, customers and victims
#: around the pattern; documented in seeds/README.md).
CORE_ROLES: dict[str, tuple[str, ...]] = {
    "FAN_OUT": ("hub", "sink"),
    "FAN_IN": ("hub", "source"),
    "CYCLE": ("member",),
    "SCATTER_GATHER": ("source", "intermediary", "sink"),
    "GATHER_SCATTER": ("source", "hub", "sink"),
    "BIPARTITE": ("source", "sink"),
    "STACK": ("source", "intermediary", "sink"),
    "STRUCTURING": ("source", "sink"),
    "PASS_THROUGH": ("intermediary",),
    "MULE_RING": ("source", "mule", "sink"),
    "HAWALA_NETTING": ("broker", "intermediary"),
    "HAWALA_MIRROR": ("broker", "intermediary"),
}

#: Columns an ingest adapter produces before account interning (account ids still strings).
RAW_COLUMNS: dict[str, pl.DataType] = {
    "txn_id": pl.Int64, "ts": TS, "src_id": pl.String, "dst_id": pl.String,
    "amount": pl.Float64, "amount_orig": pl.Float64, "currency": pl.String, "channel": pl.String,
    "src_bank": pl.String, "dst_bank": pl.String, "src_country": pl.String,
    "dst_country": pl.String, "label": pl.Int8,
}


def check_table(df: pl.DataFrame | pl.LazyFrame, schema: dict[str, pl.DataType], name: str) -> None:
    """Raise DatasetError unless ``df`` has every column of ``schema`` with its dtype."""
    got = df.collect_schema() if isinstance(df, pl.LazyFrame) else df.schema
    for col, dtype in schema.items():
        if col not in got:
            raise DatasetError(f"{name}: missing column {col!r}; fix: regenerate or re-ingest")
        if got[col] != dtype:
            raise DatasetError(f"{name}: column {col!r} is {got[col]}, expected {dtype}")
