"""Ingest transaction files (CSV, Parquet; generic, AMLworld, AMLSim, PaySim) into a dataset.

Pipeline (one direction)::

    files -> per-file lazy scan (CSV: every column as text) -> adapter: canonical fields
          -> checks (one error code per row, vectorised) -> stage
          -> time rescue of the few rows the sniffed format missed -> rejects, duplicates
          -> write_dataset: account interning, FX already applied, sort by (ts, txn_id)

What is materialised: the *stage* (typed canonical columns of every row) is held in memory
when the inputs are small against free memory, and otherwise streamed to a temporary Parquet
file next to the output (``staging="disk"``), so inputs larger than memory never load whole.
Always materialised: the rejected rows, the rows of duplicated txn_ids, the accounts table
(one row per distinct account), truth tables. An in-memory stage reaches write_dataset as a
DataFrame and is interned eagerly (ids hashed once; the (ts, txn_id) sort skipped when the
rows already are in that order, as exports usually are); a staged file reaches it as a
LazyFrame, and polars streams the interning joins and the sort.

Row numbers are 1-based data rows: the first record after the header is row 1.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping

import polars as pl

from ..dataset import Dataset, check_replaceable, write_dataset
from ..errors import ConfigError, DatasetError, FinflowError, InputError
from . import amlsim, amlworld, generic, paysim
from .common import (BAD_TIME, DUPLICATE_TXN_ID, TXN_ID_FILE_STRIDE, Options, Source,
                     build_stage, error_values, expand_inputs, file_kind, load_rates, parse_any_time,
                     read_header, reject_reason_table, reject_table, scan_source, sha256_of)

__all__ = ["ingest", "FORMATS", "detect_format"]

FORMATS = ("auto", "generic", "amlworld", "amlsim", "paysim")
_ADAPTERS = {"generic": generic, "amlworld": amlworld, "amlsim": amlsim, "paysim": paysim}
_BOOKKEEPING = ("_file", "_row", "_err", "_errval")


def detect_format(header, file: str, fmt: str = "auto", mapping: Mapping | None = None) -> str:
    """The layout of a file: ``fmt`` itself unless 'auto'; then AMLworld, AMLSim, PaySim by
    their headers, generic when the canonical columns are found (or ``mapping`` is given)."""
    if fmt != "auto":
        return fmt
    if mapping:
        return "generic"
    for name in ("amlworld", "amlsim", "paysim", "generic"):
        if _ADAPTERS[name].matches(header):
            return name
    raise InputError(
        "unknown format: the header is not AMLworld, AMLSim or PaySim and lacks the canonical "
        f"columns ts, src, dst, amount (columns: {', '.join(header.names)}); name yours with "
        "--format generic --map ts=COL --map src=COL --map dst=COL --map amount=COL",
        file=file)


def _parse_start(start) -> int:
    """Microseconds since the epoch of ``start`` (ISO string or datetime; naive = UTC)."""
    if start is None:
        start = paysim.DEFAULT_START
    if isinstance(start, str):
        try:
            start = datetime.fromisoformat(start.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"--start {start!r} is not an ISO 8601 time "
                              "(e.g. 2024-01-01T00:00:00Z)") from None
    if start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    return int(round(start.timestamp() * 1_000_000))


def _available_memory() -> int:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 30


def _check_output(out: Path, inputs: list[Path]) -> None:
    check_replaceable(out)
    root = out.resolve()
    for p in inputs:
        if root in p.resolve().parents:
            raise DatasetError(f"input {p} lies inside the output {out}; write elsewhere")


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _rescue_times(stage: pl.LazyFrame, files: list[int]) -> tuple[pl.LazyFrame, int]:
    """Re-read, with every supported time form, the rows whose time failed the file's sniffed
    format (only those rows: they are few). Rows that parse are accepted again."""
    if not files:
        return stage, 0
    cond = ((pl.col("_err") == BAD_TIME) & pl.col("_file").is_in(files)).fill_null(False)
    fix = stage.filter(cond).collect()
    if fix.height == 0:
        return stage, 0
    fixed = fix.with_columns(parse_any_time(pl.col("_raw_ts")).alias("ts")).with_columns(
        pl.when(pl.col("ts").is_null()).then(pl.col("_err")).otherwise(None).alias("_err"))
    rescued = int(fixed["_err"].is_null().sum())
    return pl.concat([stage.filter(~cond), fixed.lazy()], how="vertical_relaxed"), rescued


def _duplicates(accepted: pl.LazyFrame, paths: dict[int, str]) -> pl.DataFrame:
    """Rows whose txn_id an earlier row (by file, row) already has: _file, _row, _err,
    _errval, _first_file, _first_row."""
    keys = (accepted.group_by("txn_id").agg(pl.len().alias("n"))
            .filter(pl.col("n") > 1).select("txn_id").collect())
    out_schema = {"_file": pl.Int32, "_row": pl.Int64, "_err": pl.Int16, "_errval": pl.String,
                  "_first_file": pl.String, "_first_row": pl.Int64}
    if keys.height == 0:
        return pl.DataFrame(schema=out_schema)
    rows = (accepted.join(keys.lazy(), on="txn_id", how="semi")
            .select("_file", "_row", "txn_id").collect().sort("_file", "_row"))
    return (rows.with_columns(pl.col("_file").first().over("txn_id").alias("_ff"),
                              pl.col("_row").first().over("txn_id").alias("_first_row"))
            .filter(~pl.col("txn_id").is_first_distinct())
            .select("_file", "_row", pl.lit(DUPLICATE_TXN_ID, pl.Int16).alias("_err"),
                    pl.col("txn_id").cast(pl.String).alias("_errval"),
                    pl.col("_ff").replace_strict(paths, return_dtype=pl.String).alias("_first_file"),
                    "_first_row"))


def ingest(inputs: str | os.PathLike | Iterable[str | os.PathLike], out: str | os.PathLike, *,
           fmt: str = "auto", mapping: Mapping[str, str] | None = None,
           time_format: str | None = None, base_currency: str = "USD",
           fx: str | os.PathLike | None = None, on_error: str = "fail",
           patterns: str | os.PathLike | Iterable[str | os.PathLike] | None = None,
           start: str | datetime | None = None, staging: str = "auto") -> Dataset:
    """Ingest transaction files into the dataset directory ``out`` and return it opened.

    Parameters
    ----------
    inputs : file paths or glob patterns (CSV or Parquet), read in the given order.
    fmt : 'auto' (recognise AMLworld / AMLSim / PaySim headers, else generic), or a layout.
    mapping : canonical column -> source column (generic layout), e.g. {"ts": "Booked"}.
    time_format : strftime format of the time column (or 'epoch' / 'epoch_ms'); default:
        sniffed per file among ISO 8601 (naive = UTC), YYYY/MM/DD HH:MM and epoch seconds.
    base_currency, fx : amounts are converted to ``base_currency`` with the rates CSV ``fx``
        (``currency,rate``; default: finflow/data/fx_default.csv, indicative fixed rates).
    on_error : 'fail' raises InputError naming file, 1-based data row, column and value of
        the first bad row; 'skip' writes bad rows to rejects.parquet and keeps the rest.
    patterns : AMLworld ``*_Patterns.txt`` file(s) -> ground truth under truth/.
    start : PaySim epoch (time of step 0), default 2024-01-01T00:00Z.
    staging : 'auto', 'memory' or 'disk' (where the validated rows wait before the write).

    Cost: one pass over the inputs plus polars' sort and Parquet write, O(n log n).
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if on_error not in ("fail", "skip"):
        raise ConfigError(f"on_error must be 'fail' or 'skip', not {on_error!r}")
    if staging not in ("auto", "memory", "disk"):
        raise ConfigError(f"staging must be 'auto', 'memory' or 'disk', not {staging!r}")
    if mapping and fmt not in ("auto", "generic"):
        raise ConfigError(f"--map applies to the generic layout, not --format {fmt}")
    out = Path(out)
    paths = expand_inputs(inputs)
    pattern_paths = expand_inputs(patterns) if patterns else []
    _check_output(out, paths)
    out.parent.mkdir(parents=True, exist_ok=True)   # disk staging lives next to ``out``
    opts = Options(load_rates(fx, base_currency), dict(mapping or {}), time_format,
                   _parse_start(start))
    sources = [Source(i, p, file_kind(p), p.stat().st_size) for i, p in enumerate(paths)]

    hasher = ThreadPoolExecutor(max_workers=1)  # hashing overlaps polars' work
    try:
        digests = [hasher.submit(sha256_of, s.path) for s in sources]
        frames, numeric_extras, rescuable, real_ids, time_formats = [], {}, [], False, {}
        for s in sources:
            header = read_header(s)
            lf = scan_source(s, header)
            layout = detect_format(header, str(s.path), fmt, opts.mapping)
            try:
                spec = _ADAPTERS[layout].plan(s, header, lf, opts)
                frames.append(build_stage(lf, s, spec, opts.rates))
            except pl.exceptions.PolarsError as exc:
                raise InputError(f"could not read the input: {_first_line(exc)}",
                                 file=str(s.path)) from None
            numeric_extras[s.index] = list(spec.numeric_extras)
            time_formats[s.index] = s.time_format
            if spec.time.sniffed:
                rescuable.append(s.index)
            real_ids |= "txn_id" in spec.fields
        total = sum(s.bytes for s in sources)
        mode = staging if staging != "auto" else (
            "memory" if 4 * total < _available_memory() else "disk")
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent)) \
            if mode == "disk" else None
        try:
            return _finish(out, sources, frames, opts, on_error, mode, tmp, numeric_extras,
                           rescuable, real_ids, time_formats, pattern_paths, digests,
                           base_currency, fmt)
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
    finally:
        hasher.shutdown(wait=True, cancel_futures=True)


def _finish(out, sources, frames, opts, on_error, mode, tmp, numeric_extras, rescuable,
            real_ids, time_formats, pattern_paths, digests, base_currency, fmt):
    stage_lf = pl.concat(frames, how="diagonal_relaxed")
    stage_df = None  # the stage itself when it is held in memory
    try:
        if mode == "memory":
            stage_df = stage_lf.collect()
            stage = stage_df.lazy()
        else:
            stage_file = tmp / "stage.parquet"
            stage_lf.sink_parquet(stage_file, compression="lz4")
            stage = pl.scan_parquet(stage_file)
    except pl.exceptions.PolarsError as exc:
        where = sources[0].path if len(sources) == 1 else f"one of {len(sources)} inputs"
        raise InputError(f"could not read the input: {_first_line(exc)}", file=str(where)) from None
    rescued_stage, rescued = _rescue_times(stage, rescuable)
    if rescued_stage is not stage:
        stage = rescued_stage
        if stage_df is not None:
            stage_df = stage.collect()
            stage = stage_df.lazy()

    counts = (stage.group_by("_file").agg(pl.len().alias("read"),
                                          pl.col("_err").is_not_null().sum().alias("bad"))
              .collect())
    per_file = {r["_file"]: (r["read"], r["bad"]) for r in counts.iter_rows(named=True)}
    warnings = []
    if rescued:
        warnings.append(f"{rescued} time value(s) were in another format than the rest of "
                        "their file and were read with the general parser")
    for s in sources:
        if per_file.get(s.index, (0, 0))[0] == 0:
            if on_error == "fail":
                raise InputError("empty file (no data rows after the header)", file=str(s.path))
            warnings.append(f"{s.path}: empty file (no data rows)")

    bad = stage.filter(pl.col("_err").is_not_null()).collect()
    bad = bad.with_columns(error_values(bad, numeric_extras)).select(_BOOKKEEPING)
    accepted = stage.filter(pl.col("_err").is_null())
    paths = {s.index: str(s.path) for s in sources}
    dups = None
    if real_ids:  # strictly increasing ids (the usual case) cannot repeat: skip the group_by
        increasing = accepted.select((pl.col("txn_id").diff() > 0).all()).collect().item()
        dups = None if increasing else _duplicates(accepted, paths)
    if dups is not None and dups.height:
        accepted = accepted.join(dups.lazy().select("_file", "_row"), on=["_file", "_row"],
                                 how="anti")
        bad = pl.concat([bad, dups], how="diagonal_relaxed")
    reasons = reject_reason_table(sources, numeric_extras)
    rejects = reject_table(bad, reasons, opts.rates, time_formats)
    if on_error == "fail" and rejects.height:
        r = rejects.row(0, named=True)
        more = rejects.height - 1
        tail = (f"; {more} more bad row(s); --on-error skip keeps the good rows and writes "
                "bad ones to rejects.parquet") if more else \
            "; --on-error skip keeps the other rows and writes this one to rejects.parquet"
        raise InputError(r["reason"] + tail, file=r["file"], row=r["row"], column=r["column"],
                         value=r["value"])

    # truth and account attributes
    truth: dict[str, pl.DataFrame] = {}
    truth_meta: dict = {}
    accounts_extra = []
    if pattern_paths:
        lines = amlworld.read_patterns(pattern_paths)
        truth, truth_meta = amlworld.patterns_truth(lines, accepted)
        truth_meta["patterns"] = [str(p) for p in pattern_paths]
        if truth_meta["pattern_lines_matched"] < truth_meta["pattern_lines"]:
            warnings.append(f"{truth_meta['pattern_lines'] - truth_meta['pattern_lines_matched']}"
                            " pattern line(s) match no ingested transaction")
    seen_dirs = set()
    for s in sources:
        if s.format != "amlsim" or s.path.parent.resolve() in seen_dirs:
            continue
        seen_dirs.add(s.path.parent.resolve())
        side = amlsim.side_files(s.path)
        if "accounts" in side:
            accounts_extra.append(amlsim.accounts_extra(side["accounts"]))
        if "alerts" in side and not truth:
            if "alert_id" not in accepted.collect_schema().names():
                warnings.append(f"{side['alerts']} ignored: {s.path.name} has no alert_id column "
                                "to tie alerts to transactions")
                continue
            truth, truth_meta = amlsim.alerts_truth(side["alerts"], accepted)
            truth_meta["alerts_file"] = str(side["alerts"])

    n_read = sum(v[0] for v in per_file.values())
    n_rejected = rejects.height
    per_rej = dict(rejects.group_by("_file").len().iter_rows()) if n_rejected else {}
    src_meta = []
    for s, d in zip(sources, digests):
        read = per_file.get(s.index, (0, 0))[0]
        rej = per_rej.get(s.index, 0)
        src_meta.append({**s.meta(), "sha256": d.result(), "rows_read": read,
                         "rows_accepted": read - rej, "rows_rejected": rej})
    meta = {
        "created_by": "finflow ingest",
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "format": fmt,
        "sources": src_meta,
        "rows_read": n_read,
        "rows_accepted": n_read - n_rejected,
        "rows_rejected": n_rejected,
        "row_numbers": "1-based data rows; the header is not counted",
        "txn_id_rule": f"source txn_id when the file has one, else file_index * "
                       f"{TXN_ID_FILE_STRIDE} + row",
        "base_currency": base_currency,
        "fx": opts.rates.meta(),
        "on_error": on_error,
        "staging": mode,
        "warnings": warnings,
    }
    if truth_meta:
        meta["truth"] = truth_meta
    extra = pl.concat(accounts_extra, how="diagonal_relaxed") if accounts_extra else None
    # without bookkeeping and raw-text columns; an in-memory stage is handed over as a
    # DataFrame (write_dataset's eager path), a staged file as a LazyFrame (streamed)
    raw = accepted.select(pl.exclude("^_.*$"))
    if stage_df is not None:
        raw = (stage_df.select(pl.exclude("^_.*$")) if bad.height == 0 else raw.collect())
    ds = write_dataset(out, raw, meta=meta, rejects=rejects.drop("_file", "_err"),
                       accounts_extra=extra, truth=truth or None)
    if ds.meta["transactions"] != meta["rows_accepted"]:  # pragma: no cover - invariant
        raise FinflowError(f"internal error: wrote {ds.meta['transactions']} transactions, "
                           f"accepted {meta['rows_accepted']}")
    return ds


from .._callable import make_module_callable  # noqa: E402

make_module_callable(__name__, "ingest")
