"""IBM AMLworld (Altman et al. 2023, "Realistic synthetic financial transactions for
anti-money laundering models") transaction files and their ``*_Patterns.txt`` ground truth.

Header (the two ``Account`` columns are positional: sender, then receiver)::

    Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,
    Amount Paid,Payment Currency,Payment Format,Is Laundering

An account's identity is bank + account: ``account_id = "<bank>:<account>"``, with the bank
code written without leading zeros (AMLworld writes ``021174`` in some files and tools that
read it as a number write ``21174``; both are the same bank). ``amount`` is Amount Paid in
Payment Currency (converted to the base currency); Amount Received and Receiving Currency are
kept as the extra columns ``amount_received`` (Float64) and ``receiving_currency``.

Patterns file: blocks ``BEGIN LAUNDERING ATTEMPT - FAN-OUT[: detail]`` ... transaction lines
in the same CSV layout ... ``END LAUNDERING ATTEMPT - FAN-OUT``. Each block becomes a truth
instance ``<TYPOLOGY>-<block number, 4 digits>`` (FAN-OUT -> FAN_OUT, ...); its lines are
matched to ingested transactions on (ts, src, dst, amount paid, payment currency); every
ingested transaction equal on that key is part of the instance.
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import polars as pl

from ..errors import InputError
from .common import (FieldSpec, Header, Options, Source, parse_any_time, parse_float,
                     require_columns, roles_from_transactions, sniff_time, typology_name)

__all__ = ["HEADER", "matches", "plan", "read_patterns", "patterns_truth"]

HEADER = ("Timestamp", "From Bank", "Account", "To Bank", "Account", "Amount Received",
          "Receiving Currency", "Amount Paid", "Payment Currency", "Payment Format",
          "Is Laundering")
#: the header after duplicate names got their pandas-style suffix (see dedupe_names)
NAMES = ("Timestamp", "From Bank", "Account", "To Bank", "Account.1", "Amount Received",
         "Receiving Currency", "Amount Paid", "Payment Currency", "Payment Format",
         "Is Laundering")


def matches(header: Header) -> bool:
    return tuple(header.raw[:len(HEADER)]) == HEADER


def _bank(col: str) -> pl.Expr:
    e = pl.col(col).str.strip_chars()
    stripped = e.str.strip_chars_start("0")
    return pl.when(stripped == "").then(pl.when(e == "").then(None).otherwise(pl.lit("0"))) \
        .otherwise(stripped)


def _fields() -> dict[str, pl.Expr]:
    return {
        "ts": pl.col("Timestamp"),
        "src": pl.concat_str([_bank("From Bank"), pl.lit(":"), pl.col("Account")]),
        "dst": pl.concat_str([_bank("To Bank"), pl.lit(":"), pl.col("Account.1")]),
        "amount": pl.col("Amount Paid"),
        "currency": pl.col("Payment Currency"),
        "src_bank": _bank("From Bank"),
        "dst_bank": _bank("To Bank"),
        "channel": pl.col("Payment Format"),
        "label": pl.col("Is Laundering"),
    }


DISPLAY = {"ts": "Timestamp", "src": "From Bank/Account", "dst": "To Bank/Account",
           "amount": "Amount Paid", "currency": "Payment Currency", "channel": "Payment Format",
           "label": "Is Laundering", "amount_received": "Amount Received"}


def plan(src: Source, header: Header, lf: pl.LazyFrame, opts: Options) -> FieldSpec:
    require_columns(src, header, NAMES, "AMLworld", f" (expected header {','.join(HEADER)})")
    sample = lf.select("Timestamp").head(2000).collect()["Timestamp"]
    time = sniff_time(sample, opts.time_format)
    src.format = "amlworld"
    src.mapping = {"ts": "Timestamp", "src": "From Bank + ':' + Account (1st)",
                   "dst": "To Bank + ':' + Account (2nd)", "amount": "Amount Paid",
                   "currency": "Payment Currency", "src_bank": "From Bank",
                   "dst_bank": "To Bank", "channel": "Payment Format", "label": "Is Laundering",
                   "amount_received": "Amount Received",
                   "receiving_currency": "Receiving Currency"}
    src.columns = dict(DISPLAY)
    src.time_format = time.describe()
    extras = {"receiving_currency": pl.col("Receiving Currency")}
    for name in header.names:
        if name not in NAMES:
            extras[name] = pl.col(name)
    return FieldSpec(_fields(), dict(DISPLAY), time, extras=extras,
                     numeric_extras={"amount_received": pl.col("Amount Received")})


_BEGIN = re.compile(r"^\s*BEGIN LAUNDERING ATTEMPT\s*-\s*([A-Za-z][A-Za-z \-]*?)\s*(?::.*)?$")
_END = re.compile(r"^\s*END LAUNDERING ATTEMPT")


def read_patterns(paths: list[Path]) -> pl.DataFrame:
    """Pattern lines: instance, typology, line (1-based line number), file, ts, src_id,
    dst_id, amount_orig, currency. Blocks are numbered across files in order."""
    rows: list[tuple[str, str, str, int, str]] = []
    k = 0
    for path in paths:
        current = None
        with open(path, encoding="utf-8-sig") as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                m = _BEGIN.match(line)
                if m:
                    k += 1
                    current = m.group(1).strip()
                    continue
                if _END.match(line):
                    current = None
                    continue
                if current is None:
                    raise InputError("transaction line outside a BEGIN/END LAUNDERING ATTEMPT "
                                     "block", file=str(path), row=lineno, value=line.strip())
                rows.append((str(path), current, f"{k:04d}", lineno, line.rstrip("\r\n")))
    schema = {"file": pl.String, "kind": pl.String, "k": pl.String, "line": pl.Int64,
              "text": pl.String}
    blocks = pl.DataFrame(rows, schema=schema, orient="row")
    if blocks.height == 0:
        return blocks.select("file", "line").with_columns(
            *[pl.lit(None, t).alias(c) for c, t in
              {"instance": pl.String, "typology": pl.String, "ts": pl.Datetime("us", "UTC"),
               "src_id": pl.String, "dst_id": pl.String, "amount_orig": pl.Float64,
               "currency": pl.String}.items()])
    body = "\n".join(blocks["text"].to_list()) + "\n"
    lines = pl.read_csv(io.StringIO(body), has_header=False, new_columns=list(NAMES),
                        infer_schema=False)
    if lines.height != blocks.height:
        raise InputError("patterns file: a transaction line does not have the 11 AMLworld "
                         "fields", file=str(paths[0]))
    f = _fields()
    parsed = pl.concat([blocks, lines], how="horizontal").select(
        "file", "line",
        pl.format("{}-{}", typology_name(pl.col("kind")), pl.col("k")).alias("instance"),
        typology_name(pl.col("kind")).alias("typology"),
        parse_any_time(f["ts"]).alias("ts"),
        f["src"].alias("src_id"), f["dst"].alias("dst_id"),
        parse_float(f["amount"], pl.String).alias("amount_orig"),
        f["currency"].alias("currency"))
    bad = parsed.filter(pl.any_horizontal(pl.col("ts", "src_id", "dst_id", "amount_orig").is_null()))
    if bad.height:
        r = bad.row(0, named=True)
        raise InputError("unparsable transaction line in patterns file", file=r["file"],
                         row=r["line"])
    return parsed


def patterns_truth(lines: pl.DataFrame, accepted: pl.LazyFrame) -> tuple[dict, dict]:
    """Truth tables from pattern lines matched against accepted stage rows.

    Returns ({"instances": df, "instance_transactions": df}, counts for meta.json). The
    instances' ``account`` is filled from the interned index by write_dataset.
    """
    key = ["ts", "src_id", "dst_id", "amount_orig", "currency"]
    matched = (lines.lazy().join(accepted.select(*key, "txn_id"), on=key, how="left")
               .collect())
    hit = matched.filter(pl.col("txn_id").is_not_null())
    n_lines_matched = hit.select(pl.struct("file", "line").n_unique()).item() if hit.height else 0
    inst_txn = hit.select("instance", "txn_id").unique().sort("instance", "txn_id")
    roles = roles_from_transactions(lines.select("instance", "src_id", "dst_id"))
    instances = (roles.join(lines.select("instance", "typology").unique(), on="instance")
                 .select("instance", "typology", pl.lit(None, pl.Int32).alias("account"),
                         "account_id", "role")
                 .sort("instance", "account_id"))
    counts = {"pattern_lines": lines.height, "pattern_lines_matched": n_lines_matched,
              "instances": lines["instance"].n_unique() if lines.height else 0}
    return {"instances": instances, "instance_transactions": inst_txn}, counts
