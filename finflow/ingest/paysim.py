"""PaySim (Lopez-Rojas et al. 2016) mobile-money logs.

Columns ``step,type,amount,nameOrig,oldbalanceOrg,newbalanceOrig,nameDest,oldbalanceDest,
newbalanceDest,isFraud,isFlaggedFraud``. ``step`` is an integer hour offset: ts = start +
step hours, with start = 2024-01-01T00:00Z unless ``--start`` says otherwise (PaySim's own
epoch is unspecified). nameOrig/nameDest -> src/dst, type -> channel, isFraud -> label; the
balance columns and isFlaggedFraud are kept as Float64 extras; no txn_id (synthesised).
"""
from __future__ import annotations

import polars as pl

from .common import (FieldSpec, Header, Options, Source, TimeSpec, _iso_us, keep_extras,
                     require_columns)

__all__ = ["DEFAULT_START", "matches", "plan"]

DEFAULT_START = "2024-01-01T00:00:00Z"
_REQUIRED = ("step", "amount", "nameOrig", "nameDest")
_NUMERIC = ("oldbalanceOrg", "newbalanceOrig", "oldbalanceDest", "newbalanceDest",
            "isFlaggedFraud")


def matches(header: Header) -> bool:
    return all(c in header.names for c in _REQUIRED)


def plan(src: Source, header: Header, lf: pl.LazyFrame, opts: Options) -> FieldSpec:
    require_columns(src, header, _REQUIRED, "PaySim")
    cols = {"ts": "step", "src": "nameOrig", "dst": "nameDest", "amount": "amount"}
    if "type" in header.names:
        cols["channel"] = "type"
    if "isFraud" in header.names:
        cols["label"] = "isFraud"
    numeric = {c: pl.col(c) for c in _NUMERIC if c in header.names}
    used = set(cols.values()) | set(numeric)
    time = TimeSpec("hours", start_us=opts.start_us)
    src.format = "paysim"
    src.mapping = {**cols, "ts": f"step (hours since {_iso_us(opts.start_us)})"}
    src.columns = {**cols, **{c: c for c in numeric}}
    src.time_format = time.describe()
    return FieldSpec({k: pl.col(v) for k, v in cols.items()}, dict(cols), time,
                     extras=keep_extras(header, used), numeric_extras=numeric,
                     numeric_types={"isFlaggedFraud": pl.Int8})
