"""The generic layout: any column names, mapped onto the canonical ones.

A canonical field is read from, in order: the column ``--map canonical=Column`` names; a
column named like the field (case-insensitive); a common alias (``timestamp`` for ts,
``from``/``sender`` for src, ...). ts, src, dst and amount are required. Columns not used are
kept as extra columns (text for CSV, native types for Parquet).
"""
from __future__ import annotations

import polars as pl

from ..errors import ConfigError, InputError
from .common import (CANONICAL, REQUIRED, FieldSpec, Header, Options, Source, ids_are_integers,
                     keep_extras, sniff_time)

__all__ = ["ALIASES", "resolve", "matches", "plan"]

#: Alternative names recognised without ``--map`` (compared case-insensitively).
ALIASES: dict[str, tuple[str, ...]] = {
    "txn_id": ("txn_id", "transaction_id", "tx_id", "tran_id", "id"),
    "ts": ("ts", "timestamp", "time", "datetime", "date_time"),
    "src": ("src", "source", "from", "sender", "src_account", "from_account", "orig_acct"),
    "dst": ("dst", "target", "to", "receiver", "dst_account", "to_account", "bene_acct"),
    "amount": ("amount", "amt", "value"),
    "currency": ("currency", "ccy", "currency_code"),
    "src_bank": ("src_bank", "from_bank", "sender_bank"),
    "dst_bank": ("dst_bank", "to_bank", "receiver_bank"),
    "src_country": ("src_country", "from_country", "sender_country"),
    "dst_country": ("dst_country", "to_country", "receiver_country"),
    "channel": ("channel", "type", "payment_format", "payment_type"),
    "label": ("label", "is_laundering", "is_fraud", "is_sar"),
}


def resolve(header: Header, mapping: dict[str, str] | None, file: str) -> dict[str, str]:
    """canonical -> source column for one file. Raises InputError if a mapped column is absent."""
    mapping = dict(mapping or {})
    unknown = sorted(set(mapping) - set(CANONICAL))
    if unknown:
        raise ConfigError(f"--map: unknown canonical column(s) {', '.join(unknown)}; "
                          f"canonical columns are {', '.join(CANONICAL)}")
    lower = {n.lower(): n for n in reversed(header.names)}
    out: dict[str, str] = {}
    for canon in CANONICAL:
        if canon in mapping:
            col = mapping[canon]
            if col not in header.names:
                raise InputError(f"column {col!r} (mapped to {canon}) is not in the file; "
                                 f"its columns are: {', '.join(header.names)}", file=file,
                                 column=col)
            out[canon] = col
            continue
        for alias in ALIASES[canon]:
            col = lower.get(alias)
            if col is not None and col not in out.values() and col not in mapping.values():
                out[canon] = col
                break
    return out


def matches(header: Header) -> bool:
    """True when every required field is found without a mapping."""
    found = resolve(header, None, "")
    return all(r in found for r in REQUIRED)


def plan(src: Source, header: Header, lf: pl.LazyFrame, opts: Options) -> FieldSpec:
    cols = resolve(header, opts.mapping, str(src.path))
    for req in REQUIRED:
        if req not in cols:
            raise InputError(f"missing required column for {req!r}; name it with --map "
                             f"{req}=COLUMN (columns are: {', '.join(header.names)})",
                             file=str(src.path), column=req)
    probe = [cols["ts"]] + ([cols["txn_id"]] if "txn_id" in cols else [])
    sample = lf.select(probe).head(2000).collect()
    time = sniff_time(sample[cols["ts"]], opts.time_format)
    fields = {k: pl.col(c) for k, c in cols.items()}
    used = set(cols.values())
    extras = keep_extras(header, used)
    txn_int = True
    if "txn_id" in cols and not ids_are_integers(sample[cols["txn_id"]]):
        # text ids ("TX-001") cannot be int64 txn_ids: keep them, synthesise txn_id
        txn_int = False
        extras["source_txn_id"] = fields.pop("txn_id")
    src.format = "generic"
    src.mapping = {k: cols[k] for k in CANONICAL if k in cols}
    if not txn_int:
        src.mapping["txn_id"] = "synthesised (text ids kept as source_txn_id)"
    src.columns = dict(cols)
    src.time_format = time.describe()
    return FieldSpec(fields, dict(cols), time, extras=extras, txn_id_is_int=txn_int)
