"""DuckDB over a dataset: one view per table, no copies.

Views: transactions, accounts, rejects, truth_instances, truth_transactions (when present),
and every result table (alerts, alert_accounts, alert_transactions, features_*, trace_*)
under its plain name from the latest run that has it; each run's tables are also in a schema
named after the run (``run_0001.alerts``).
"""
from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from .dataset import Dataset
from .errors import FinflowError

__all__ = ["connect", "query"]


def _q(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def connect(ds: Dataset) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB connection with the dataset's views registered."""
    con = duckdb.connect(":memory:")
    for name in ("transactions", "accounts", "rejects"):
        p = ds.table_path(name)
        if p.is_file():
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({_q(p)})")
    truth = ds.path / "truth"
    if truth.is_dir():
        for p in sorted(truth.glob("*.parquet")):
            con.execute(f'CREATE VIEW "truth_{p.stem}" AS SELECT * FROM read_parquet({_q(p)})')
    latest: dict[str, Path] = {}
    for run in ds.runs():
        rdir = ds.path / "results" / run
        con.execute(f'CREATE SCHEMA "{run}"')
        for p in sorted(rdir.glob("*.parquet")):
            con.execute(f'CREATE VIEW "{run}"."{p.stem}" AS SELECT * FROM read_parquet({_q(p)})')
            latest[p.stem] = p
    for stem, p in sorted(latest.items()):
        con.execute(f'CREATE VIEW "{stem}" AS SELECT * FROM read_parquet({_q(p)})')
    return con


def query(ds: Dataset, sql: str) -> pl.DataFrame:
    """Run one SQL statement over the dataset's views and return a polars DataFrame."""
    con = None
    try:
        con = connect(ds)  # a corrupt result file fails here: one line too
        rel = con.sql(sql)
        if rel is None:
            return pl.DataFrame()
        return rel.pl()
    except duckdb.Error as exc:
        msg = str(exc).strip().splitlines()[0]
        raise FinflowError(f"SQL error: {msg}") from None
    finally:
        if con is not None:
            con.close()


from ._callable import make_module_callable  # noqa: E402

make_module_callable(__name__, "query")
