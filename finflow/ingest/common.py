"""Shared ingest machinery: inputs, headers, time/amount parsing, FX, row checks, rejects.

Every adapter (generic, amlworld, amlsim, paysim) describes a source file as a
:class:`FieldSpec` -- one polars expression per canonical field over the file's raw columns --
and :func:`build_stage` turns it into the *stage* frame: the RAW_COLUMNS (typed), extra source
columns, and four bookkeeping columns

    _file int32    index of the source file in the input list
    _row int64     1-based data row number (the header is not counted; a row is one CSV record)
    _err int16     code of the first check the row fails (null when the row is good)
    _errval str    the offending raw value, as text (null when the row is good)

All of it is vectorised polars expressions; Python only runs per file and per rejected row
class, never per row.
"""
from __future__ import annotations

import csv
import glob
import hashlib
import io
import math
import os
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import polars as pl

from .. import schema
from ..errors import ConfigError, InputError

__all__ = [
    "CANONICAL", "REQUIRED", "TXN_ID_FILE_STRIDE", "Source", "FieldSpec", "TimeSpec",
    "expand_inputs", "read_header", "scan_source", "sniff_time", "load_rates", "build_stage",
    "error_values", "reject_table", "CHECK_REASONS", "dedupe_names", "sha256_of", "Options",
]

#: Canonical column names an input may be mapped onto (``--map canonical=SourceColumn``).
CANONICAL = ("txn_id", "ts", "src", "dst", "amount", "currency", "src_bank", "dst_bank",
             "src_country", "dst_country", "channel", "label")
REQUIRED = ("ts", "src", "dst", "amount")

#: A file without a txn_id column gets ``txn_id = file_index * 10**10 + row`` (row 1-based),
#: so the first file's ids equal its row numbers and ids never depend on other files' sizes.
TXN_ID_FILE_STRIDE = 10**10

# -- check codes, in the order they are tested (time last: see rescue_times) --------------
MISSING_TXN_ID, BAD_TXN_ID = 1, 2
MISSING_SRC, MISSING_DST = 3, 4
MISSING_AMOUNT, BAD_AMOUNT, NONFINITE_AMOUNT, NEGATIVE_AMOUNT = 5, 6, 7, 8
MISSING_CURRENCY, UNKNOWN_CURRENCY = 9, 10
BAD_LABEL = 11
MISSING_TIME, BAD_TIME = 12, 13
DUPLICATE_TXN_ID = 14
BAD_NUMBER = 100  # 100 + i: the i-th numeric extra column of a file

#: check code -> (canonical column, reason). Reasons for UNKNOWN_CURRENCY, BAD_TIME and
#: DUPLICATE_TXN_ID are completed per row in :func:`reject_table`.
CHECK_REASONS: dict[int, tuple[str, str]] = {
    MISSING_TXN_ID: ("txn_id", "missing txn_id"),
    BAD_TXN_ID: ("txn_id", "txn_id is not an integer"),
    MISSING_SRC: ("src", "missing source account"),
    MISSING_DST: ("dst", "missing destination account"),
    MISSING_AMOUNT: ("amount", "missing amount"),
    BAD_AMOUNT: ("amount", "unparsable amount (expected a decimal number such as 1234.50)"),
    NONFINITE_AMOUNT: ("amount", "non-finite amount"),
    NEGATIVE_AMOUNT: ("amount", "negative amount (amounts are sizes; direction is src -> dst)"),
    MISSING_CURRENCY: ("currency", "missing currency"),
    UNKNOWN_CURRENCY: ("currency", "unknown currency"),
    BAD_LABEL: ("label", "unparsable label (expected 0, 1, true or false)"),
    MISSING_TIME: ("ts", "missing time"),
    BAD_TIME: ("ts", "unparsable time"),
    DUPLICATE_TXN_ID: ("txn_id", "duplicate txn_id"),
}

TS = schema.TS
_US = 1_000_000


# -- inputs --------------------------------------------------------------------------------
@dataclass
class Source:
    """One input file and what ingest learned about it (recorded in meta.json)."""

    index: int
    path: Path
    kind: str                      # "csv" or "parquet"
    bytes: int
    format: str = ""               # generic | amlworld | amlsim | paysim
    mapping: dict = field(default_factory=dict)   # canonical -> source column (or rule)
    time_format: str = ""
    columns: dict = field(default_factory=dict)   # canonical/extra -> source column for messages

    def meta(self) -> dict:
        return {"path": str(self.path), "bytes": self.bytes, "format": self.format,
                "mapping": self.mapping, "time_format": self.time_format}


def expand_inputs(inputs) -> list[Path]:
    """Files named by ``inputs`` (paths or glob patterns), in the given order; globs sorted.

    Raises InputError for a path that does not exist or a pattern that matches nothing.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    out: list[Path] = []
    seen: set[Path] = set()
    for item in inputs:
        text = str(item)
        if any(ch in text for ch in "*?["):
            found = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
            if not found:
                raise InputError(f"no file matches {text!r}")
        else:
            p = Path(text)
            if not p.is_file():
                raise InputError("no such file" if not p.exists() else "not a file", file=text)
            found = [p]
        for p in found:
            key = p.resolve()
            if key not in seen:
                seen.add(key)
                out.append(p)
    if not out:
        raise InputError("no input files given")
    return out


def file_kind(path: Path) -> str:
    """'parquet' for Parquet files (by suffix or magic bytes), else 'csv'."""
    if path.suffix.lower() in (".parquet", ".pq"):
        return "parquet"
    with open(path, "rb") as fh:
        return "parquet" if fh.read(4) == b"PAR1" else "csv"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def dedupe_names(names: list[str]) -> list[str]:
    """Make header names unique the way pandas does: Account, Account.1, Account.2 ..."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            new = f"{n}.{seen[n]}"
            while new in seen:
                seen[n] += 1
                new = f"{n}.{seen[n]}"
            seen[new] = 0
            out.append(new)
        else:
            seen[n] = 0
            out.append(n)
    return out


@dataclass
class Header:
    names: list[str]          # unique column names (duplicates suffixed .1, .2)
    raw: list[str]            # names as written in the file
    separator: str = ","


def require_columns(src: Source, header: Header, required, layout: str, hint: str = "") -> None:
    """InputError naming the file and the first of ``required`` missing from ``header``."""
    for c in required:
        if c not in header.names:
            raise InputError(f"missing required column {c!r} for the {layout} layout{hint}",
                             file=str(src.path), column=c)


def read_header(src: Source) -> Header:
    """Column names of a CSV (first record, separator sniffed among , ; tab |) or Parquet file.

    Raises InputError('empty file') for a zero-byte file or one without a header.
    """
    if src.bytes == 0:
        raise InputError("empty file (0 bytes)", file=str(src.path))
    if src.kind == "parquet":
        names = list(pl.read_parquet_schema(src.path))
        return Header(names, names)
    with open(src.path, "r", encoding="utf-8-sig", newline="") as fh:
        first = fh.readline()
    if not first.strip():
        raise InputError("empty file (no header line)", file=str(src.path))
    counts = {sep: first.count(sep) for sep in (",", ";", "\t", "|")}
    sep = max(counts, key=lambda s: (counts[s], s == ","))
    raw = next(csv.reader(io.StringIO(first), delimiter=sep))
    raw = [c.strip() for c in raw]
    return Header(dedupe_names(raw), raw, sep)


def scan_source(src: Source, header: Header) -> pl.LazyFrame:
    """Lazy scan of one file: CSV with every column as text (so checks see the raw value)."""
    if src.kind == "parquet":
        return pl.scan_parquet(src.path)
    return pl.scan_csv(src.path, infer_schema=False, separator=header.separator,
                       new_columns=header.names, encoding="utf8", raise_if_empty=False)


# -- time -------------------------------------------------------------------------------
#: strftime formats tried when sniffing, most specific first (polars has fast paths for the
#: fixed ones). Naive formats are read as UTC; %#z accepts Z, +hh, +hhmm and +hh:mm.
TIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%#z",
    "%Y-%m-%d %H:%M:%S%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M%#z",
    "%Y-%m-%d",
)
EPOCH = "epoch"          # seconds since 1970-01-01T00:00Z (may have a fraction)
EPOCH_MS = "epoch_ms"    # milliseconds since the epoch


@dataclass(frozen=True)
class TimeSpec:
    """How to read one file's time column.

    kind: 'strftime' (``formats`` tried in order), 'epoch' / 'epoch_ms', 'native' (the
    column already is a datetime/date/number), or 'hours' (integer hour offset from ``start``,
    PaySim's ``step``). ``sniffed`` formats may be completed per row by :func:`rescue_times`.
    ``repeats``: values repeat often (e.g. minute resolution), so text is parsed through a
    cache of distinct values; for mostly distinct values the cache only costs (about 2x).
    """

    kind: str
    formats: tuple[str, ...] = ()
    start_us: int = 0
    sniffed: bool = False
    repeats: bool = True

    def describe(self) -> str:
        if self.kind == "strftime":
            return " | ".join(self.formats)
        if self.kind == "hours":
            return f"hours since {_iso_us(self.start_us)}"
        return self.kind


def _iso_us(us: int) -> str:
    from datetime import datetime, timezone
    return datetime.fromtimestamp(us / _US, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _strptime(expr: pl.Expr, fmt: str, cache: bool = True) -> pl.Expr:
    return expr.str.to_datetime(fmt, strict=False, time_unit="us", time_zone="UTC", cache=cache)


def _epoch_expr(expr: pl.Expr, scale_to_us: float) -> pl.Expr:
    x = expr.cast(pl.Float64, strict=False)
    us = (x * scale_to_us).round(0)
    # outside +-year 9999 (or non-finite) -> null, i.e. unparsable
    return pl.when(us.abs() < 2.5e17).then(us).otherwise(None).cast(pl.Int64).cast(TS)


def _is_epoch_text(values: pl.Series) -> bool:
    return bool(values.str.contains(r"^\s*-?\d+(\.\d+)?\s*$").all())


def sniff_time(values: pl.Series, user_format: str | None = None) -> TimeSpec:
    """Choose how to parse a time column from a sample of its values.

    ``user_format`` (``--time-format``: strftime syntax, or 'epoch' / 'epoch_ms') wins.
    Text: the first format of TIME_FORMATS that parses every sampled value; if none does,
    every format that parses at least one, most successful first; digits only: epoch seconds.
    ``repeats`` is set when at most half the sampled values are distinct.
    """
    spec = _sniff_time_kind(values, user_format)
    if spec.kind == "strftime" and values.dtype == pl.String:
        vals = values.drop_nulls()
        spec = replace(spec, repeats=2 * vals.n_unique() <= vals.len())
    return spec


def _sniff_time_kind(values: pl.Series, user_format: str | None) -> TimeSpec:
    if user_format:
        if user_format in (EPOCH, EPOCH_MS):
            return TimeSpec(user_format)
        return TimeSpec("strftime", (user_format,))
    if values.dtype != pl.String:
        return TimeSpec("native")
    vals = values.drop_nulls()
    vals = vals.filter(vals.str.len_bytes() > 0)
    if vals.len() == 0:
        return TimeSpec("strftime", TIME_FORMATS, sniffed=True)
    if _is_epoch_text(vals):
        return TimeSpec(EPOCH, sniffed=True)
    hits = []
    for i, fmt in enumerate(TIME_FORMATS):
        ok = int(_strptime(vals, fmt).is_not_null().sum())
        if ok == vals.len():
            return TimeSpec("strftime", (fmt,), sniffed=True)
        if ok:
            hits.append((-ok, i, fmt))
    if not hits:
        return TimeSpec("strftime", TIME_FORMATS, sniffed=True)
    return TimeSpec("strftime", tuple(f for _, _, f in sorted(hits)), sniffed=True)


def parse_time(expr: pl.Expr, dtype: pl.DataType, spec: TimeSpec) -> pl.Expr:
    """Expression giving Datetime(us, UTC), null where the value does not parse."""
    if spec.kind == "hours":
        hours = expr.cast(pl.Int64, strict=False)
        hours = pl.when(hours >= 0).then(hours).otherwise(None)
        return (hours * (3600 * _US) + spec.start_us).cast(TS)
    if isinstance(dtype, pl.Datetime):
        e = expr.dt.cast_time_unit("us")
        return e.dt.replace_time_zone("UTC") if dtype.time_zone is None else e.dt.convert_time_zone("UTC")
    if dtype == pl.Date:
        return expr.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if dtype.is_numeric():
        return _epoch_expr(expr, _US / 1000 if spec.kind == EPOCH_MS else _US)
    if spec.kind == EPOCH:
        return _epoch_expr(expr, _US)
    if spec.kind == EPOCH_MS:
        return _epoch_expr(expr, _US / 1000)
    if spec.kind == "native":  # text column in a typed (Parquet) file: sniff per value
        spec = TimeSpec("strftime", TIME_FORMATS)
    parsed = [_strptime(expr, f, cache=spec.repeats) for f in spec.formats]
    return parsed[0] if len(parsed) == 1 else pl.coalesce(parsed)


def parse_any_time(expr: pl.Expr) -> pl.Expr:
    """Every supported text form at once (slow; used only on the few rows that failed)."""
    return pl.coalesce([_strptime(expr, f) for f in TIME_FORMATS]
                       + [pl.when(expr.str.contains(r"^\s*-?\d+(\.\d+)?\s*$"))
                          .then(_epoch_expr(expr, _US))])


# -- amounts, labels, ids ---------------------------------------------------------------
def parse_float(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Float64 from text or any numeric column; null where the value does not parse."""
    return expr.cast(pl.Float64, strict=False)


_TRUE = ("1", "true", "t", "yes", "y")
_FALSE = ("0", "false", "f", "no", "n")


def parse_label(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Int8 label: integers as they are; true/false/yes/no (any case) as 1/0."""
    if dtype == pl.Boolean:
        return expr.cast(pl.Int8)
    if dtype != pl.String:
        return expr.cast(pl.Int8, strict=False)
    words = {**{w: 1 for w in _TRUE}, **{w: 0 for w in _FALSE}}
    return pl.coalesce(expr.cast(pl.Int8, strict=False),
                       expr.str.to_lowercase().replace_strict(words, default=None,
                                                              return_dtype=pl.Int8))


def ids_are_integers(values: pl.Series) -> bool:
    """Whether a sampled txn_id column holds integer ids: most sampled values are integers.
    (Integer ids that do not parse are then rejected; text ids like 'TX-1' are kept as
    ``source_txn_id`` and txn_id is synthesised.)"""
    if values.dtype.is_integer():
        return True
    if values.dtype != pl.String:
        return False
    vals = values.drop_nulls()
    return bool(vals.len() == 0 or 2 * vals.str.contains(r"^\s*-?\d{1,18}\s*$").sum() > vals.len())


# -- currencies ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Rates:
    """Conversion to the base currency: ``amount_base = amount * rate[currency] / rate[base]``."""

    to_base: dict[str, float]
    base: str
    source: str

    def meta(self) -> dict:
        return {"file": self.source, "base_currency": self.base}


def load_rates(fx: str | os.PathLike | None, base_currency: str) -> Rates:
    """Read a rates CSV (``currency,rate``; '#' comments; rate = value of one unit in any one
    reference currency) and express every rate in ``base_currency``.

    ``fx=None`` reads the shipped table finflow/data/fx_default.csv (indicative fixed rates).
    """
    if fx is None:
        text = resources.files("finflow").joinpath("data/fx_default.csv").read_text("utf-8")
        name = "finflow/data/fx_default.csv (indicative fixed rates)"
    else:
        p = Path(fx)
        if not p.is_file():
            raise ConfigError(f"rates file {str(p)!r} not found")
        text, name = p.read_text("utf-8-sig"), str(p)
    rows = [r for r in csv.reader(line for line in text.splitlines()
                                  if line.strip() and not line.lstrip().startswith("#"))]
    if not rows or len(rows[0]) < 2:
        raise ConfigError(f"{name}: expected a header 'currency,rate' and rows like 'EUR,1.08'")
    raw: dict[str, float] = {}
    for i, r in enumerate(rows[1:], start=1):
        try:
            rate = float(r[1])
        except (IndexError, ValueError):
            raise ConfigError(f"{name}: row {i}: expected 'currency,rate', got {','.join(r)!r}") from None
        if not (math.isfinite(rate) and rate > 0):
            raise ConfigError(f"{name}: row {i}: rate for {r[0]!r} must be a positive number")
        raw[r[0].strip()] = rate
    if base_currency not in raw:
        raise ConfigError(f"base currency {base_currency!r} is not in the rates table {name}; "
                          f"add a row '{base_currency},<rate>' or choose one of its currencies")
    b = raw[base_currency]
    return Rates({c: r / b for c, r in raw.items()}, base_currency, name)


# -- the stage frame ----------------------------------------------------------------------
@dataclass
class FieldSpec:
    """An adapter's description of one file.

    ``fields`` maps canonical names to expressions over the scanned file (absent = not in the
    file); ``display`` maps canonical names to the source column named in messages;
    ``numeric_extras`` are extra columns parsed as Float64 (unparsable -> rejected);
    ``extras`` are kept as they are.
    """

    fields: dict[str, pl.Expr]
    display: dict[str, str]
    time: TimeSpec
    extras: dict[str, pl.Expr] = field(default_factory=dict)
    numeric_extras: dict[str, pl.Expr] = field(default_factory=dict)
    txn_id_is_int: bool = True
    numeric_types: dict[str, pl.DataType] = field(default_factory=dict)  # default Float64


def build_stage(lf: pl.LazyFrame, src: Source, spec: FieldSpec, rates: Rates) -> pl.LazyFrame:
    """Typed canonical columns + extras + bookkeeping for one file, lazily.

    Besides RAW_COLUMNS and the extras, the stage has _file, _row, _err (first failing check,
    null when good) and the raw text of every checked column whose typed value differs from
    it (``_raw_ts``, ``_raw_amount``, ``_raw_txn_id``, ``_raw_label``, ``_num_<extra>``), so
    messages can quote the offending value without a second read. Parsing happens once; the
    checks then read the parsed columns (two plain projections, no repeated parsing).
    """
    f = spec.fields
    names = {**{f"_raw_{k}": v for k, v in f.items()},
             **{f"_num_{k}": v for k, v in spec.numeric_extras.items()}}
    base = lf.with_row_index("_row", offset=1).select(
        pl.col("_row").cast(pl.Int64), *[e.alias(n) for n, e in names.items()],
        *[e.alias(n) for n, e in spec.extras.items()])
    dtypes = base.collect_schema()

    def raw(k: str) -> pl.Expr:
        return pl.col(k if k.startswith("_num_") else f"_raw_{k}")

    def text(k: str) -> pl.Expr:
        name = k if k.startswith("_num_") else f"_raw_{k}"
        return pl.col(name) if dtypes[name] == pl.String else pl.col(name).cast(pl.String)

    def missing(k: str) -> pl.Expr:
        name = f"_raw_{k}"
        e = pl.col(name)
        if dtypes[name] == pl.String:
            return e.is_null() | (e.str.len_bytes() == 0)
        if dtypes[name].is_float():
            return e.is_null() | e.is_nan()
        return e.is_null()

    # 1. parse: typed columns
    typed: dict[str, pl.Expr] = {}
    if "txn_id" in f and spec.txn_id_is_int:
        typed["txn_id"] = (text("txn_id").str.strip_chars().cast(pl.Int64, strict=False)
                           if dtypes["_raw_txn_id"] == pl.String
                           else raw("txn_id").cast(pl.Int64, strict=False))
    else:
        typed["txn_id"] = pl.col("_row") + src.index * TXN_ID_FILE_STRIDE
    typed["ts"] = parse_time(raw("ts"), dtypes["_raw_ts"], spec.time)
    typed["src_id"] = text("src")
    typed["dst_id"] = text("dst")
    typed["amount_orig"] = parse_float(raw("amount"), dtypes["_raw_amount"])
    if "currency" in f:
        typed["currency"] = text("currency")
        typed["_rate"] = text("currency").replace_strict(rates.to_base, default=None,
                                                         return_dtype=pl.Float64)
    else:
        typed["currency"] = pl.lit(rates.base, pl.String)
        typed["_rate"] = pl.lit(1.0, pl.Float64)
    for k in ("channel", "src_bank", "dst_bank", "src_country", "dst_country"):
        typed[k] = text(k) if k in f else pl.lit(None, pl.String)
    typed["label"] = (parse_label(raw("label"), dtypes["_raw_label"]) if "label" in f
                      else pl.lit(None, pl.Int8))
    for k in spec.numeric_extras:
        e, dt = pl.col(f"_num_{k}"), dtypes[f"_num_{k}"]
        target = spec.numeric_types.get(k, pl.Float64)
        if target.is_integer() and dt == pl.String:
            typed[k] = e.str.strip_chars().cast(pl.Int64, strict=False).cast(target, strict=False)
        else:
            typed[k] = parse_float(e, dt).cast(target, strict=False)
    keep_raw = [n for n in ("_raw_ts", "_raw_amount", "_raw_txn_id", "_raw_label") if n in dtypes]
    parsed = base.select(
        "_row", *[e.alias(k) for k, e in typed.items()],
        *[(pl.col(n) if dtypes[n] == pl.String else pl.col(n).cast(pl.String)).alias(n)
          for n in keep_raw + [f"_num_{k}" for k in spec.numeric_extras]],
        *[pl.col(k) for k in spec.extras],
        *[missing(k).alias(f"_missing_{k}") for k in ("txn_id", "src", "dst", "amount",
                                                       "currency", "ts") if k in f])

    # 2. check: the first failing check of each row, in CHECK order (time last)
    def miss(k: str) -> pl.Expr:
        return pl.col(f"_missing_{k}") if k in f else pl.lit(False)

    amt = pl.col("amount_orig")
    checks: list[tuple[int, pl.Expr]] = []
    if "txn_id" in f and spec.txn_id_is_int:
        checks += [(MISSING_TXN_ID, miss("txn_id")), (BAD_TXN_ID, pl.col("txn_id").is_null())]
    checks += [(MISSING_SRC, miss("src")), (MISSING_DST, miss("dst")),
               (MISSING_AMOUNT, miss("amount")), (BAD_AMOUNT, amt.is_null()),
               (NONFINITE_AMOUNT, amt.is_infinite() | amt.is_nan()),
               (NEGATIVE_AMOUNT, amt < 0)]
    if "currency" in f:
        checks += [(MISSING_CURRENCY, miss("currency")),
                   (UNKNOWN_CURRENCY, pl.col("_rate").is_null())]
    if "label" in f:
        checks.append((BAD_LABEL, pl.col("_raw_label").is_not_null() & pl.col("label").is_null()))
    for i, k in enumerate(spec.numeric_extras):
        checks.append((BAD_NUMBER + i, pl.col(f"_num_{k}").is_not_null() & pl.col(k).is_null()))
    # time last: rows whose only fault is the time may be rescued (see rescue_times)
    checks += [(MISSING_TIME, miss("ts")), (BAD_TIME, pl.col("ts").is_null())]
    err = pl.when(checks[0][1]).then(pl.lit(checks[0][0], pl.Int16))
    for code, cond in checks[1:]:
        err = err.when(cond).then(pl.lit(code, pl.Int16))
    err = err.otherwise(pl.lit(None, pl.Int16))

    out_cols = [pl.col(c).cast(t) if c != "amount" else
                (pl.col("amount_orig") * pl.col("_rate")).alias("amount")
                for c, t in schema.RAW_COLUMNS.items()]
    out_cols += [pl.col(k) for k in spec.numeric_extras]
    out_cols += [pl.col(k) for k in spec.extras]
    out_cols += [pl.lit(src.index, pl.Int32).alias("_file"), pl.col("_row"), err.alias("_err")]
    out_cols += [pl.col(n) for n in keep_raw]
    out_cols += [pl.col(f"_num_{k}") for k in spec.numeric_extras]
    return parsed.select(out_cols)


#: canonical column -> stage column holding its raw text (see build_stage)
RAW_TEXT = {"txn_id": "_raw_txn_id", "ts": "_raw_ts", "amount": "_raw_amount",
            "label": "_raw_label", "src": "src_id", "dst": "dst_id", "currency": "currency"}


def error_values(bad: pl.DataFrame, numeric_extras: dict[int, list[str]]) -> pl.Series:
    """The offending raw value of each bad stage row, as text (bad rows only: few)."""
    value = pl.lit(None, pl.String)
    expr = None
    for code, (canon, _) in CHECK_REASONS.items():
        col = RAW_TEXT.get(canon)
        if col is None or col not in bad.columns:
            continue
        cond = pl.col("_err") == code
        expr = (pl.when(cond) if expr is None else expr.when(cond)).then(pl.col(col).cast(pl.String))
    for f, names in numeric_extras.items():
        for i, k in enumerate(names):
            cond = (pl.col("_file") == f) & (pl.col("_err") == BAD_NUMBER + i)
            expr = (pl.when(cond) if expr is None else expr.when(cond)).then(pl.col(f"_num_{k}"))
    if expr is None:
        return bad.select(value.alias("_errval")).to_series()
    return bad.select(expr.otherwise(value).alias("_errval")).to_series()


def reject_reason_table(sources: list[Source], numeric_extras: dict[int, list[str]]) -> pl.DataFrame:
    """(_file, _err) -> source file, source column named in messages, reason."""
    rows = []
    for s in sources:
        for code, (canon, reason) in CHECK_REASONS.items():
            rows.append((s.index, code, str(s.path), s.columns.get(canon, canon), reason))
        for i, k in enumerate(numeric_extras.get(s.index, [])):
            rows.append((s.index, BAD_NUMBER + i, str(s.path), s.columns.get(k, k),
                         "unparsable number"))
    return pl.DataFrame(rows, schema={"_file": pl.Int32, "_err": pl.Int16, "file": pl.String,
                                      "column": pl.String, "reason": pl.String}, orient="row")


def reject_table(bad: pl.DataFrame, reasons: pl.DataFrame, rates: Rates,
                 time_formats: dict[int, str]) -> pl.DataFrame:
    """Rejects in the REJECTS schema (plus _file, _err), sorted by (file index, row).

    ``bad`` has _file, _row, _err, _errval (and _first_file/_first_row for duplicates).
    """
    if bad.height == 0:
        return pl.DataFrame(schema={**schema.REJECTS, "_file": pl.Int32, "_err": pl.Int16})
    tf = pl.DataFrame({"_file": list(time_formats), "_tf": list(time_formats.values())},
                      schema={"_file": pl.Int32, "_tf": pl.String})
    df = bad.join(reasons, on=["_file", "_err"], how="left").join(tf, on="_file", how="left")
    if "_first_row" not in df.columns:
        df = df.with_columns(pl.lit(None, pl.String).alias("_first_file"),
                             pl.lit(None, pl.Int64).alias("_first_row"))
    reason = (
        pl.when(pl.col("_err") == UNKNOWN_CURRENCY)
        .then(pl.format("unknown currency '{}': not in the rates table {}; add a row "
                        "'{},<rate>' to a rates CSV and pass --fx FILE",
                        pl.col("_errval"), pl.lit(rates.source), pl.col("_errval")))
        .when(pl.col("_err") == BAD_TIME)
        .then(pl.format("unparsable time (expected {}; set the format with --time-format)",
                        pl.col("_tf")))
        .when(pl.col("_err") == DUPLICATE_TXN_ID)
        .then(pl.format("duplicate txn_id (first seen in {} row {})",
                        pl.col("_first_file"), pl.col("_first_row")))
        .otherwise(pl.col("reason")))
    return (df.with_columns(reason.alias("reason"), pl.col("_row").alias("row"),
                            pl.col("_errval").alias("value"))
            .select([pl.col(c).cast(t) for c, t in schema.REJECTS.items()] + ["_file", "_err"])
            .sort(["_file", "row"]))


@dataclass
class Options:
    """Per-call ingest options every adapter sees."""

    rates: Rates
    mapping: dict[str, str] | None = None
    time_format: str | None = None
    start_us: int = 0


def keep_extras(header: Header, used: set[str]) -> dict[str, pl.Expr]:
    """Unused source columns, kept under their own name (prefixed ``source_`` when the name
    is taken by a canonical column or starts with '_')."""
    taken = set(schema.RAW_COLUMNS) | set(schema.TRANSACTIONS) | {"src_id", "dst_id"}
    out: dict[str, pl.Expr] = {}
    for name in header.names:
        if name in used:
            continue
        new = f"source_{name}" if name in taken or name.startswith("_") else name
        out[new] = pl.col(name)
    return out


def typology_name(value: pl.Expr) -> pl.Expr:
    """AMLworld 'FAN-OUT' / AMLSim 'fan_out' -> finflow's FAN_OUT (upper case, '_')."""
    return value.str.strip_chars().str.to_uppercase().str.replace_all(r"[-\s]+", "_")


def roles_from_transactions(lines: pl.DataFrame) -> pl.DataFrame:
    """(instance, account_id, role) from an instance's transactions (instance, src_id, dst_id):
    only sends -> source, only receives -> sink, both -> intermediary."""
    sides = pl.concat([
        lines.select("instance", pl.col("src_id").alias("account_id"),
                     pl.lit(True).alias("sends"), pl.lit(False).alias("receives")),
        lines.select("instance", pl.col("dst_id").alias("account_id"),
                     pl.lit(False).alias("sends"), pl.lit(True).alias("receives")),
    ])
    return (sides.group_by("instance", "account_id")
            .agg(pl.col("sends").any(), pl.col("receives").any())
            .with_columns(pl.when(pl.col("sends") & pl.col("receives")).then(pl.lit("intermediary"))
                          .when(pl.col("sends")).then(pl.lit("source"))
                          .otherwise(pl.lit("sink")).alias("role"))
            .select("instance", "account_id", "role"))
