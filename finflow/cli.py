"""The ``finflow`` command line: a thin layer over the Python API.

Exit codes: 0 ok, 1 user error (one clear line on stderr), 2 usage error.
Heavy imports (polars, numba, duckdb) happen inside commands so ``--help`` is instant.
"""
from __future__ import annotations

import contextlib
import functools
import sys

import click

from . import __version__

CONTEXT = dict(help_option_names=["-h", "--help"], max_content_width=100)


class FinflowGroup(click.Group):
    """Turns FinflowError (and OSError on user paths) into one line and exit code 1."""

    def invoke(self, ctx):
        from .errors import FinflowError
        try:
            return super().invoke(ctx)
        except FinflowError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(1)
        except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
            click.echo(f"Error: {exc.strerror}: {exc.filename}", err=True)
            ctx.exit(1)


@click.group(cls=FinflowGroup, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="finflow")
def main() -> None:
    """finflow: find money-mule rings, round-tripping cycles, layering, structuring and
    hawala-like value transfer in transaction data; trace funds; explain every alert.

    \b
    Typical session:
      finflow generate seeds/demo.toml -o case.finflow   # or: finflow ingest tx.csv -o case.finflow
      finflow detect case.finflow
      finflow evaluate case.finflow
      finflow sql case.finflow "select typology, count(*) from alerts group by 1"
    """


# -- shared options ---------------------------------------------------------------------
def output_options(fn):
    """--format and --output, the same on every command that prints a table."""
    fn = click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "ndjson"]),
                      default="table", show_default=True, help="How to print the result.")(fn)
    fn = click.option("--output", "-o", "output", type=click.Path(dir_okay=False), default=None,
                      help="Write the result to FILE (.parquet, or .csv) instead of printing.")(fn)
    return fn


def quiet_option(fn):
    return click.option("--quiet", "-q", is_flag=True, help="No progress output on stderr.")(fn)


def dataset_argument(fn):
    return click.argument("case", type=click.Path(exists=True, file_okay=False))(fn)


@contextlib.contextmanager
def progress(label: str, quiet: bool = False, total: int | None = None):
    """A rich progress bar on stderr, shown only on a terminal and without --quiet.

    Yields ``advance(description)``: call it as each step starts.
    """
    if quiet or not sys.stderr.isatty():
        yield lambda desc=None: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        state = {"started": False}

        def advance(desc=None):
            if state["started"]:
                bar.advance(task)
            state["started"] = True
            if desc:
                bar.update(task, description=f"{label}: {desc}")
        yield advance


def _emit(df, fmt, output):
    from .output import emit
    emit(df, fmt, output)


# -- commands ---------------------------------------------------------------------------
@main.command(context_settings=CONTEXT)
@dataset_argument
@click.argument("query")
@output_options
def sql(case, query, fmt, output):
    """Run a DuckDB SQL QUERY over CASE ('-' reads the query from stdin).

    Views: transactions, accounts, rejects, truth_*, and the latest run's alerts,
    alert_accounts, alert_transactions, features_*, trace_* (older runs as run_0001.alerts).

    \b
    Example:
      finflow sql case.finflow "select typology, count(*) n from alerts group by 1 order by n desc"
    """
    from .dataset import open_dataset
    from .sql import query as run_query
    if query == "-":
        query = sys.stdin.read()
    _emit(run_query(open_dataset(case), query), fmt, output)


@main.command(context_settings=CONTEXT)
@dataset_argument
@output_options
@click.option("--top", default=10, show_default=True, help="How many busiest accounts to list.")
def info(case, fmt, output, top):
    """Summarise CASE: counts, time range, currencies, busiest accounts.

    \b
    Example:
      finflow info sample_data/demo.finflow
    """
    import polars as pl

    from .dataset import open_dataset
    ds = open_dataset(case)
    m = ds.meta
    tx = ds.transactions()
    if fmt == "table" and not output:
        click.echo(f"dataset       {ds.path}")
        click.echo(f"transactions  {m.get('transactions'):,}   accounts {m.get('accounts'):,}   "
                   f"rejected {m.get('rejected', 0):,}")
        click.echo(f"time range    {m['time_range'][0]} .. {m['time_range'][1]}")
        click.echo(f"currencies    {', '.join(m.get('currencies', []))} "
                   f"(base {ds.base_currency})")
        click.echo(f"runs          {', '.join(ds.runs()) or 'none'}")
        click.echo(f"truth         {'yes' if ds.has_truth() else 'no'}")
        click.echo("busiest accounts:")
    acc = ds.accounts().select("account", "account_id", "bank", "country")
    out_ = tx.group_by("src").agg(pl.len().alias("n_out"), pl.col("amount").sum().alias("sent"))
    in_ = tx.group_by("dst").agg(pl.len().alias("n_in"), pl.col("amount").sum().alias("received"))
    busy = (acc.join(out_, left_on="account", right_on="src", how="left")
            .join(in_, left_on="account", right_on="dst", how="left")
            .with_columns(pl.col("n_out", "n_in").fill_null(0),
                          pl.col("sent", "received").fill_null(0.0))
            .with_columns((pl.col("n_out") + pl.col("n_in")).alias("n_txn"))
            .sort(["n_txn", "account"], descending=[True, False]).head(top).collect())
    _emit(busy, fmt, output)


@main.command(context_settings=CONTEXT)
@dataset_argument
@click.option("--typology", "-t", "typologies", multiple=True,
              help="Typology to run (repeatable; default all). E.g. -t CYCLE -t FAN_OUT.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              help="TOML file with one [section] per typology (see finflow/config.py).")
@click.option("--window", default=None, help="Window for every windowed typology (e.g. 48h, 7d).")
@click.option("--max-cycle-length", type=int, default=None, help="Longest cycle to enumerate.")
@click.option("--set", "sets", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Any detector parameter, e.g. --set cycle.min_hop_ratio=0.7 (repeatable).")
@output_options
@quiet_option
def detect(case, typologies, config_file, window, max_cycle_length, sets, fmt, output, quiet):
    """Run typology detectors over CASE and write a results run.

    Prints one row per typology: alerts found, seconds, and budget cuts (results a budget
    cut off; see run.json for every counter).

    \b
    Example:
      finflow detect sample_data/demo.finflow -t CYCLE --max-cycle-length 6 --window 3d
    """
    import polars as pl

    from .api import detect as run_detect
    from .config import load_config
    from .errors import ConfigError
    from .patterns import available_typologies
    overrides = {}
    if window is not None:
        overrides["window"] = window
    if max_cycle_length is not None:
        overrides["cycle.max_length"] = max_cycle_length
    for s in sets:
        if "=" not in s:
            raise ConfigError(f"--set expects SECTION.KEY=VALUE, got {s!r}")
        k, v = s.split("=", 1)
        overrides[k.strip()] = v.strip()
    cfg = load_config(config_file, overrides)
    chosen = [t.upper() for t in typologies] or available_typologies()
    with progress("detect", quiet, total=len(chosen)) as advance:
        run_dir, alerts, summary = run_detect(case, chosen, cfg, progress=advance)
    rows = [{"typology": t, "alerts": d["alerts"], "seconds": d["seconds"],
             "budget_cut": int(d.get("budget_cut", 0))}
            for t, d in summary["detectors"].items()]
    df = pl.DataFrame(rows, schema={"typology": pl.String, "alerts": pl.Int64,
                                    "seconds": pl.Float64, "budget_cut": pl.Int64})
    if not quiet and fmt == "table" and not output:
        click.echo(f"run {summary['run_id']} -> {run_dir}  ({summary['n_transactions']:,} "
                   f"transactions, {summary['total_seconds']:.2f}s)", err=True)
        if df["budget_cut"].sum():
            click.echo("warning: budgets cut some results short; raise them with --set "
                       "(see run.json)", err=True)
    _emit(df, fmt, output)


# -- commands added below (ingest, generate, evaluate, trace, features, report, bench) --


@main.command(context_settings=CONTEXT)
@dataset_argument
@click.option("--run", default=None, help="Results run to report on (default: the latest with alerts).")
@click.option("--output", "-o", "output", type=click.Path(dir_okay=False), default="report.html",
              show_default=True, help="HTML file to write.")
@click.option("--per-typology", default=3, show_default=True,
              help="How many top alerts of each typology to draw.")
@quiet_option
def report(case, run, output, per_typology, quiet):
    """Write a self-contained HTML report of CASE: summary, alert counts, top alerts with
    their evidence and flow diagrams, mule-ring timelines, hawala series and the latest trace.

    The file needs no network and no script; open it in any browser or print it.

    \b
    Example:
      finflow detect sample_data/demo.finflow && finflow report sample_data/demo.finflow -o demo.html
    """
    from .dataset import open_dataset
    from .report import write_report
    path = write_report(open_dataset(case), run, output, per_typology=per_typology)
    if not quiet:
        click.echo(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)", err=True)
