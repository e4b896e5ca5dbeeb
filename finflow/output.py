"""Rendering tables for the CLI: table, csv, json, ndjson, or a Parquet file."""
from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import IO

import polars as pl

__all__ = ["FORMATS", "emit", "render_table"]

FORMATS = ("table", "csv", "json", "ndjson")


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) >= 1000 else f"{v:.4g}"
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, (list, dict)):
        return json.dumps(v, default=str)
    return str(v)


def render_table(df: pl.DataFrame, max_width: int = 60) -> str:
    """Plain aligned text table (numbers right-aligned), every row shown."""
    cols = df.columns
    rows = [[_cell(v) for v in r] for r in df.iter_rows()]
    rows = [[c if len(c) <= max_width else c[: max_width - 1] + "…" for c in r] for r in rows]
    num = [df.schema[c].is_numeric() for c in cols]
    width = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]

    def line(cells):
        return "  ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(cells, width, num)).rstrip()
    out = [line(cols), line(["-" * w for w in width])] + [line(r) for r in rows]
    return "\n".join(out)


def emit(df: pl.DataFrame, fmt: str = "table", output: str | None = None,
         stream: IO[str] | None = None) -> None:
    """Write ``df`` to ``output`` (.parquet or .csv by suffix) or print it in ``fmt``."""
    stream = stream or sys.stdout
    if output:
        if output.endswith(".csv"):
            df.write_csv(output)
        else:
            df.write_parquet(output)
        return
    if fmt == "csv":
        stream.write(df.write_csv())
    elif fmt == "json":
        stream.write(json.dumps(df.to_dicts(), default=str, indent=1) + "\n")
    elif fmt == "ndjson":
        for row in df.to_dicts():
            stream.write(json.dumps(row, default=str) + "\n")
    else:
        stream.write(render_table(df) + "\n")
