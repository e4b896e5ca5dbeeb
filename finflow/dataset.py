"""The dataset directory: create it from canonical rows, open it, read its tables and runs.

Layout (see shared/DESIGN.md)::

    case.finflow/meta.json, transactions.parquet, accounts.parquet, rejects.parquet,
                 truth/*.parquet, results/<run-id>/*.parquet + run.json
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from . import schema
from .errors import DatasetError

if TYPE_CHECKING:  # pragma: no cover
    from .graph import TemporalGraph

__all__ = ["Dataset", "open_dataset", "write_dataset", "intern_accounts"]

_RUN_RE = re.compile(r"^run_(\d{4,})$")


def _empty(schema_: dict) -> pl.DataFrame:
    return pl.DataFrame(schema=schema_)


def intern_accounts(raw: pl.LazyFrame | pl.DataFrame) -> tuple[pl.DataFrame | pl.LazyFrame, pl.DataFrame]:
    """Map string account ids to dense int32 indices, in sorted account_id order.

    ``raw`` has the RAW_COLUMNS (src_id, dst_id, optional bank/country per side).
    Returns (transactions in canonical columns, sorted by (ts, txn_id), accounts).
    Bank and country of an account: the smallest non-null value seen, so the choice is stable.

    A DataFrame (already in memory) is interned eagerly and its transactions come back as a
    DataFrame: ids hashed once, O(n) plus a sort of the distinct ids (see _intern_eager). A
    LazyFrame may be larger than memory; it is streamed by polars (group_by, two joins, sort)
    and its transactions come back lazy. Both give the same tables.
    """
    if isinstance(raw, pl.DataFrame):
        done = _intern_eager(raw)
        if done is not None:
            return done
        raw = raw.lazy()
    return _intern_lazy(raw)


def _check_account_count(n: int) -> None:
    if n >= 2**31 - 1:
        raise DatasetError("more than 2^31 accounts; int32 account indices cannot hold them")


def _intern_lazy(raw: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.DataFrame]:
    """intern_accounts with polars' (streaming) group_by, joins and sort over strings."""
    sides = []
    for side in ("src", "dst"):
        sides.append(raw.select(
            pl.col(f"{side}_id").alias("account_id"),
            pl.col(f"{side}_bank").alias("bank"),
            pl.col(f"{side}_country").alias("country"),
            pl.col("ts"),
        ))
    accounts = (
        pl.concat(sides)
        .group_by("account_id")
        .agg(pl.col("bank").min(), pl.col("country").min(),
             pl.col("ts").min().alias("first_seen"), pl.col("ts").max().alias("last_seen"))
        .sort("account_id")
        .with_row_index("account")
        .with_columns(pl.col("account").cast(pl.Int32), pl.lit(None, pl.String).alias("kind"))
        .select(list(schema.ACCOUNTS))
        .collect()
    )
    _check_account_count(accounts.height)
    key = accounts.lazy().select("account_id", "account")
    extra = [c for c in raw.collect_schema().names() if c not in schema.RAW_COLUMNS]
    # Joins that keep the left order (maintain_order="left") cost more than this final sort,
    # even on time-ordered input (measured on 1M rows), so the order is restored by sorting.
    txns = (
        raw.join(key.rename({"account_id": "src_id", "account": "src"}), on="src_id", how="left")
        .join(key.rename({"account_id": "dst_id", "account": "dst"}), on="dst_id", how="left")
        .select([pl.col(c).cast(t) for c, t in schema.TRANSACTIONS.items()] + extra)
        .sort(["ts", "txn_id"])
    )
    return txns, accounts


def sorted_string_codes(values: pl.Series) -> tuple[np.ndarray, pl.Series] | None:
    """(codes, distinct): ``distinct`` the sorted distinct non-null values of a String Series
    and ``codes`` (int32[n]) the position of each value in it, -1 for null. None on a hash
    collision.

    Strings are hashed once (64-bit); a linear-time kernel numbers the hashes in first-seen
    order, then only the d distinct representatives are sorted. A final vectorised string
    comparison proves the codes exact, so a collision is detected, never silently merged.
    O(n) + O(d log d).
    """
    from ._kernels.interning import first_seen_codes

    seen, first = first_seen_codes(values.hash().to_numpy())
    reps = values.gather(first)
    order = reps.arg_sort(nulls_last=True).to_numpy()
    d = len(order) - (1 if reps.null_count() else 0)  # null (if any) sorts last: code -1
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    rank[rank >= d] = -1
    codes = rank[seen]
    distinct = reps.gather(order[:d])
    check = distinct.gather(pl.Series(codes).set(pl.Series(codes < 0), None))
    if not check.eq_missing(values).all():
        return None
    return codes, distinct


def _min_by_account(codes: np.ndarray, n_accounts: int, values: pl.Series) -> pl.Series | None:
    """Per account, the smallest non-null of ``values`` (String, aligned with ``codes``);
    null where an account has none. None on a hash collision."""
    if values.null_count() == values.len():
        return pl.Series(values.name, [None] * n_accounts, dtype=pl.String)
    coded = sorted_string_codes(values)
    if coded is None:  # pragma: no cover - 64-bit hash collision
        return None
    vcodes, distinct = coded
    none = np.int32(distinct.len())  # sentinel above every code: "no value seen"
    best = np.full(n_accounts, none, dtype=np.int32)
    # same dtypes on both sides keep numpy's fast ufunc.at path (mixed ones are ~40x slower)
    np.minimum.at(best, codes, np.where(vcodes < 0, none, vcodes).astype(np.int32))
    idx = pl.Series(best).scatter(np.flatnonzero(best == none), None)
    return distinct.gather(idx).alias(values.name)


#: columns whose dtype must be canonical for the eager path (otherwise the lazy path decides)
_EAGER_DTYPES = {c: schema.RAW_COLUMNS[c] for c in
                 ("ts", "src_id", "dst_id", "src_bank", "dst_bank", "src_country", "dst_country")}


def _intern_eager(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """intern_accounts for an in-memory frame. None when the lazy path must decide: null ids
    or times, non-canonical dtypes, a column named src/dst, or a hash collision.

    Cost: one 64-bit hash of the 2n ids and a linear pass numbering them, a sort of the d
    distinct ids, numpy scatter-min/max for first/last seen and bank/country, and the
    (ts, txn_id) sort only when the rows are not already in that order (exports usually are).
    """
    if any(df.schema.get(c) != t for c, t in _EAGER_DTYPES.items()) or \
            "src" in df.columns or "dst" in df.columns:
        return None
    n = df.height
    ids = pl.concat([df["src_id"], df["dst_id"]], rechunk=True)
    if ids.null_count() or df["ts"].null_count():
        return None
    coded = sorted_string_codes(ids)
    if coded is None:  # pragma: no cover - 64-bit hash collision
        return None
    codes, account_ids = coded
    m = account_ids.len()
    _check_account_count(m)
    bank = _min_by_account(codes, m, pl.concat([df["src_bank"], df["dst_bank"]]).alias("bank"))
    country = _min_by_account(codes, m, pl.concat([df["src_country"], df["dst_country"]])
                              .alias("country"))
    if bank is None or country is None:  # pragma: no cover - 64-bit hash collision
        return None
    ts = df["ts"].to_physical().to_numpy()
    ts2 = np.concatenate([ts, ts])
    first = np.full(m, np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(m, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(first, codes, ts2)
    np.maximum.at(last, codes, ts2)
    accounts = pl.DataFrame({
        "account": np.arange(m, dtype=np.int32),
        "account_id": account_ids.alias("account_id"),
        "bank": bank, "country": country,
        "kind": pl.repeat(None, m, dtype=pl.String, eager=True),
        "first_seen": pl.Series(first).cast(df["ts"].dtype),
        "last_seen": pl.Series(last).cast(df["ts"].dtype),
    })
    extra = [c for c in df.columns if c not in schema.RAW_COLUMNS]
    txns = df.with_columns(pl.Series("src", codes[:n]), pl.Series("dst", codes[n:])).select(
        [pl.col(c).cast(t) for c, t in schema.TRANSACTIONS.items()] + extra)
    if not _sorted_by_time_then_id(txns):
        # stable, so rows with equal (ts, txn_id) keep their input order
        txns = txns.sort(["ts", "txn_id"], maintain_order=True)
    return txns, accounts


def _sorted_by_time_then_id(txns: pl.DataFrame) -> bool:
    """Whether rows are strictly increasing in (ts, txn_id): then the sort is the identity."""
    dt, di = pl.col("ts").diff(), pl.col("txn_id").diff()
    ok = (dt > 0) | ((dt == 0) & (di > 0))
    return bool(txns.select(ok.slice(1).fill_null(False).all()).item())


def _resolve_truth_accounts(table: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    """Fill a truth table's ``account`` from the interned index when it has ``account_id``
    but no ``account`` column, or nulls in it (ingest knows only account id strings before
    interning). Ids absent from the dataset stay null. Column order is kept."""
    if "account_id" not in table.columns:
        return table
    if "account" in table.columns and table["account"].null_count() == 0:
        return table
    key = accounts.select("account_id", pl.col("account").alias("_account"))
    filled = table.join(key, on="account_id", how="left", maintain_order="left")
    if "account" in table.columns:
        filled = filled.with_columns(pl.coalesce("account", "_account").cast(pl.Int32)
                                     .alias("account"))
        return filled.select(table.columns)
    cols, i = table.columns, table.columns.index("account_id")
    return filled.rename({"_account": "account"}).select(cols[:i] + ["account"] + cols[i:])


#: written first by write_dataset and removed once meta.json is written: a directory holding it
#: is an interrupted write, which may be replaced
INCOMPLETE_MARKER = ".finflow-incomplete"


def check_replaceable(path: str | Path) -> None:
    """Raise DatasetError unless ``path`` does not exist, is an empty directory, a finflow
    dataset (a meta.json naming a schema version) or an interrupted write of one (holds
    INCOMPLETE_MARKER): write_dataset deletes what it replaces, so anything else (a file, a
    symlink, a project directory) is refused. Callers check before expensive work."""
    path = Path(path)
    if not (path.exists() or path.is_symlink()):
        return
    if path.is_symlink() or not path.is_dir():
        raise DatasetError(f"{path} exists and is not a directory; refusing to replace it "
                           "(choose a new output path)")
    if not any(path.iterdir()) or (path / INCOMPLETE_MARKER).is_file():
        return
    try:
        meta = json.loads((path / "meta.json").read_text())
    except (OSError, ValueError):
        meta = None
    if not isinstance(meta, dict) or "schema_version" not in meta:
        raise DatasetError(f"{path} exists and is not a finflow dataset (no finflow meta.json); "
                           "refusing to replace it (choose a new output path)")


def write_dataset(path: str | Path, raw: pl.LazyFrame | pl.DataFrame, *, meta: dict[str, Any],
                  rejects: pl.DataFrame | None = None,
                  accounts_extra: pl.DataFrame | None = None,
                  truth: dict[str, pl.DataFrame] | None = None,
                  overwrite: bool = True) -> "Dataset":
    """Write a dataset directory from canonical raw rows (account ids as strings).

    ``accounts_extra`` (account_id plus any of bank, country, kind) overrides what the
    transactions imply. ``truth`` maps a file stem to a table written under truth/; a truth
    table with ``account_id`` but no (or a partly null) ``account`` column gets ``account``
    from the interned index (see _resolve_truth_accounts).
    ``meta`` is completed with schema version, counts, time range and written last; until
    then the directory holds INCOMPLETE_MARKER, so an interrupted write can be replaced.
    An existing ``path`` is replaced (with ``overwrite``) only if check_replaceable allows
    it; anything else raises DatasetError and is left untouched.
    A DataFrame ``raw`` is interned in memory (fast path); a LazyFrame is streamed by polars
    (for inputs larger than memory). Both write the same tables.
    """
    path = Path(path)
    if path.exists() or path.is_symlink():
        if not overwrite:
            raise DatasetError(f"{path} exists; pass overwrite to replace it")
        check_replaceable(path)
        if any(path.iterdir()):
            shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / INCOMPLETE_MARKER).touch()
    txns, accounts = intern_accounts(raw)
    if accounts_extra is not None and accounts_extra.height:
        cols = [c for c in ("bank", "country", "kind") if c in accounts_extra.columns]
        upd = accounts_extra.select(["account_id", *cols]).unique("account_id", keep="first")
        accounts = accounts.update(upd, on="account_id", how="left")
        accounts = accounts.select([pl.col(c).cast(t) for c, t in schema.ACCOUNTS.items()])
    txns.lazy().sink_parquet(path / "transactions.parquet", compression="zstd", statistics=True)
    accounts.write_parquet(path / "accounts.parquet", compression="zstd")
    rejects = rejects if rejects is not None else _empty(schema.REJECTS)
    rejects.select([pl.col(c).cast(t) for c, t in schema.REJECTS.items()]).write_parquet(
        path / "rejects.parquet", compression="zstd")
    if truth:
        (path / "truth").mkdir()
        for name, table in sorted(truth.items()):
            table = _resolve_truth_accounts(table, accounts)
            table.write_parquet(path / "truth" / f"{name}.parquet", compression="zstd")
    # an in-memory frame answers directly; a lazy plan is not re-run: read the file back
    source = txns.lazy() if isinstance(txns, pl.DataFrame) else \
        pl.scan_parquet(path / "transactions.parquet")
    stats = source.select(
        pl.len().alias("n"), pl.col("ts").min().alias("t0"), pl.col("ts").max().alias("t1"),
        pl.col("currency").unique().sort().implode().alias("cur")).collect()
    row = stats.row(0, named=True)
    full = {
        "schema_version": schema.SCHEMA_VERSION,
        "base_currency": meta.get("base_currency", "USD"),
        **meta,
        "transactions": row["n"],
        "accounts": accounts.height,
        "rejected": rejects.height,
        "time_range": [row["t0"].isoformat() if row["t0"] else None,
                       row["t1"].isoformat() if row["t1"] else None],
        "currencies": [c for c in row["cur"] if c is not None],
    }
    (path / "meta.json").write_text(json.dumps(full, indent=2, sort_keys=True, default=str) + "\n")
    (path / INCOMPLETE_MARKER).unlink()
    return Dataset(path)


@dataclass
class Dataset:
    """An opened dataset directory. Tables are read lazily; the graph is built once."""

    path: Path
    meta: dict = field(init=False)
    _graph: "TemporalGraph | None" = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        meta_file = self.path / "meta.json"
        if not meta_file.is_file():
            raise DatasetError(f"{self.path} is not a finflow dataset (no meta.json); "
                               "create one with `finflow ingest` or `finflow generate`")
        self.meta = json.loads(meta_file.read_text())
        if self.meta.get("schema_version") != schema.SCHEMA_VERSION:
            raise DatasetError(f"{self.path}: schema version {self.meta.get('schema_version')}, "
                               f"this finflow reads {schema.SCHEMA_VERSION}")

    # -- base tables -------------------------------------------------------------------
    def table_path(self, name: str) -> Path:
        return self.path / f"{name}.parquet"

    def scan(self, name: str) -> pl.LazyFrame:
        """Lazy scan of a base table (transactions, accounts, rejects)."""
        p = self.table_path(name)
        if not p.is_file():
            raise DatasetError(f"{self.path}: no table {name!r}")
        return pl.scan_parquet(p)

    def transactions(self) -> pl.LazyFrame:
        return self.scan("transactions")

    def accounts(self) -> pl.LazyFrame:
        return self.scan("accounts")

    @property
    def base_currency(self) -> str:
        return self.meta.get("base_currency", "USD")

    def graph(self) -> "TemporalGraph":
        """The TemporalGraph of this dataset, built on first use and kept."""
        if self._graph is None:
            from .graph import TemporalGraph
            self._graph = TemporalGraph.from_dataset(self)
        return self._graph

    # -- truth -------------------------------------------------------------------------
    def has_truth(self) -> bool:
        return (self.path / "truth" / "instances.parquet").is_file()

    def truth(self, name: str = "instances") -> pl.DataFrame:
        p = self.path / "truth" / f"{name}.parquet"
        if not p.is_file():
            raise DatasetError(f"{self.path} has no ground truth ({p.name})")
        return pl.read_parquet(p)

    # -- result runs -------------------------------------------------------------------
    def runs(self) -> list[str]:
        """Run ids in creation order (run_0001, run_0002, ...)."""
        root = self.path / "results"
        if not root.is_dir():
            return []
        found = [(int(m.group(1)), d.name) for d in root.iterdir()
                 if d.is_dir() and (m := _RUN_RE.match(d.name))]
        return [name for _, name in sorted(found)]

    def run_dir(self, run: str | None = None, *, containing: str | None = None) -> Path:
        """Directory of ``run`` (default: the latest run), which must hold table ``containing``
        when given (by default the latest run that does)."""
        runs = self.runs()
        if run is not None:
            if run not in runs:
                raise DatasetError(f"{self.path}: no run {run!r}; runs: {', '.join(runs) or 'none'}")
            d = self.path / "results" / run
            if containing is not None and not (d / f"{containing}.parquet").is_file():
                raise DatasetError(f"{self.path}: run {run} has no {containing} (it is not a "
                                   "`finflow detect` run)")
            return d
        for name in reversed(runs):
            d = self.path / "results" / name
            if containing is None or (d / f"{containing}.parquet").is_file():
                return d
        what = f" with {containing}" if containing else ""
        raise DatasetError(f"{self.path}: no result run{what} yet; run `finflow detect` first")

    def new_run_dir(self) -> Path:
        """Create and return results/run_NNNN with the next number."""
        runs = self.runs()
        nxt = int(runs[-1].split("_")[1]) + 1 if runs else 1
        d = self.path / "results" / f"run_{nxt:04d}"
        d.mkdir(parents=True)
        return d


def open_dataset(path: str | Path) -> Dataset:
    """Open a dataset directory written by ``finflow ingest`` or ``finflow generate``."""
    return Dataset(Path(path))
