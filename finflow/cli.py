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
            # polars raises these without strerror/filename: fall back to the message
            msg = f"{exc.strerror}: {exc.filename}" if exc.strerror and exc.filename else str(exc)
            click.echo(f"Error: {msg}", err=True)
            ctx.exit(1)



def run() -> None:
    """Console entry point (``finflow``, ``python -m finflow``): click's ``main``, then exit
    without Python's interpreter teardown.

    Once a command has returned, its files are closed and its output flushed, freeing the
    ~10^5 objects of numba's typing registries, polars and the run's evidence one by one only
    costs the user time: 0.3-0.6 s of a ~2 s warm ``finflow detect``. atexit handlers
    (including weakref finalizers) still run; an exception other than SystemExit propagates
    and exits the ordinary way.
    """
    import atexit
    import os
    import threading
    try:
        main()  # standalone mode: ends in SystemExit
        code = 0
    except SystemExit as exc:
        code = exc.code
    if threading.active_count() > 1:  # a worker still running: let Python join it
        sys.exit(code)
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()  # what Python's teardown would run first (weakref finalizers too)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed pipe (finflow ... | head) or closed stream
            code = code or 1
    os._exit(code or 0)


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
    # existence is checked by open_dataset, so a wrong path is a user error (exit 1), not usage
    return click.argument("case", type=click.Path(file_okay=False))(fn)


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


def _key_values(items, option: str, form: str) -> dict[str, str]:
    """Parse repeated KEY=VALUE option values; a value without '=' is a one-line user error."""
    from .errors import ConfigError
    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"{option} expects {form}, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


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
    import gc

    # A run creates over 100k long-lived objects (polars, numba and its typing registries,
    # alert evidence) and little cyclic garbage: the cyclic collector's ~300 passes over them
    # cost 0.15-0.3 s of a 2 s demo run and free ~1k objects, no arrays (reference counting
    # frees the detectors' arrays). The objects that exist before the run (imports) are
    # frozen out of collection, and collections are made rarer; a cold numba compile's
    # garbage is still collected.
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], 50_000), *thresholds[1:])
    try:
        summary, run_dir = _detect_run(case, typologies, config_file, window, max_cycle_length,
                                       sets, quiet)
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
    import polars as pl
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


def _detect_run(case, typologies, config_file, window, max_cycle_length, sets, quiet):
    """The work of ``finflow detect``: (run summary, run directory)."""
    from .api import detect as run_detect
    from .config import load_config
    from .patterns import available_typologies
    overrides = {}
    if window is not None:
        overrides["window"] = window
    if max_cycle_length is not None:
        overrides["cycle.max_length"] = max_cycle_length
    overrides.update(_key_values(sets, "--set", "SECTION.KEY=VALUE"))
    cfg = load_config(config_file, overrides)
    chosen = [t.upper() for t in typologies] or available_typologies()
    with progress("detect", quiet, total=len(chosen)) as advance:
        run_dir, _, summary = run_detect(case, chosen, cfg, progress=advance)
    return summary, run_dir


# -- commands added below (ingest, generate, evaluate, trace, features, report, bench) --


@main.command(context_settings=CONTEXT)
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("--out", "-o", "out", type=click.Path(file_okay=False), required=True,
              help="Dataset directory to write (replaced if it is a dataset already).")
@click.option("--format", "fmt", default="auto", show_default=True,
              type=click.Choice(["auto", "generic", "amlworld", "amlsim", "paysim"]),
              help="Input layout; auto recognises AMLworld, AMLSim and PaySim headers.")
@click.option("--map", "maps", multiple=True, metavar="CANONICAL=COLUMN",
              help="Read canonical column from COLUMN (generic layout; repeatable). Canonical: "
                   "txn_id ts src dst amount currency src_bank dst_bank src_country "
                   "dst_country channel label.")
@click.option("--time-format", default=None, metavar="FMT",
              help="strftime format of the time column (e.g. '%d.%m.%Y %H:%M'), or epoch / "
                   "epoch_ms. Default: sniffed (ISO 8601, naive = UTC; YYYY/MM/DD HH:MM; "
                   "epoch seconds).")
@click.option("--base-currency", default="USD", show_default=True,
              help="Currency of the amount column after conversion.")
@click.option("--fx", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Rates CSV 'currency,rate' (rate = value of one unit in any one reference "
                   "currency). Default: the shipped indicative table.")
@click.option("--on-error", type=click.Choice(["fail", "skip"]), default="fail",
              show_default=True,
              help="fail: stop at the first bad row; skip: write bad rows to rejects.parquet.")
@click.option("--patterns", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="AMLworld *_Patterns.txt file: becomes ground truth under truth/.")
@click.option("--start", default=None, metavar="ISO_TIME",
              help="PaySim: time of step 0 [default: 2024-01-01T00:00:00Z].")
@click.option("--staging", type=click.Choice(["auto", "memory", "disk"]), default="auto",
              show_default=True,
              help="Hold validated rows in memory or stream them through a temporary Parquet "
                   "file (auto: disk when inputs are large against free memory).")
@quiet_option
def ingest(inputs, out, fmt, maps, time_format, base_currency, fx, on_error, patterns, start,
           staging, quiet):
    """Ingest transaction files (CSV or Parquet; paths or globs) into dataset OUT.

    Bad rows (unparsable time or amount, missing account, negative amount, unknown currency,
    duplicate txn_id) stop the run with one line naming file, row (1-based data row, header
    not counted), column and value; with --on-error skip they go to OUT/rejects.parquet.
    meta.json records rows read = accepted + rejected, and each source's sha256.

    \b
    Example:
      finflow ingest HI-Small_Trans.csv --patterns HI-Small_Patterns.txt -o aml.finflow
      finflow ingest 'exports/*.csv' --map ts=Booked --map src=Payer --map dst=Payee \\
          --map amount=Sum --on-error skip -o case.finflow
    """
    from .ingest import ingest as run_ingest
    mapping = _key_values(maps, "--map", "CANONICAL=COLUMN")
    with progress("ingest", quiet) as advance:
        advance("reading")
        ds = run_ingest(list(inputs), out, fmt=fmt, mapping=mapping or None,
                        time_format=time_format, base_currency=base_currency, fx=fx,
                        on_error=on_error, patterns=list(patterns) or None, start=start,
                        staging=staging)
    m = ds.meta
    n_files = len(m["sources"])
    rej = m["rows_rejected"]
    tail = f", {rej:,} rejected (see {ds.path / 'rejects.parquet'})" if rej else ", 0 rejected"
    click.echo(f"ingested {m['rows_read']:,} rows from {n_files} file{'s' * (n_files != 1)} "
               f"into {ds.path}: {m['rows_accepted']:,} accepted{tail}; "
               f"{m['accounts']:,} accounts; base currency {m['base_currency']}")
    if not quiet:
        for w in m.get("warnings", []):
            click.echo(f"warning: {w}", err=True)


@main.command(context_settings=CONTEXT)
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "-o", "out", type=click.Path(file_okay=False), required=True,
              help="Dataset directory to write (replaced if it is a dataset already).")
@click.option("--csv", "write_csv", is_flag=True,
              help="Also write OUT/raw.csv: the raw transactions with string account ids.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "ndjson"]),
              default="table", show_default=True, help="How to print the summary.")
@quiet_option
def generate(scenario, out, write_csv, fmt, quiet):
    """Generate a synthetic dataset from a SCENARIO file (seeds/*.toml): legitimate background
    behaviour, planted instances of every typology, and ground truth under OUT/truth/.

    The same scenario file always gives byte-identical files. Prints planted instances and
    transactions per typology.

    \b
    Example:
      finflow generate seeds/demo.toml -o demo.finflow
      finflow generate seeds/small.toml -o small.finflow --csv
    """
    import time

    import polars as pl

    from .synth import generate as run_generate
    t0 = time.perf_counter()
    with progress("generate", quiet) as advance:
        advance("background and planted typologies")
        ds = run_generate(scenario, out, csv=write_csv)
    truth = ds.truth("instances")
    itx = ds.truth("instance_transactions").join(
        truth.select("instance", "typology").unique(), on="instance")
    summary = (truth.group_by("typology").agg(pl.col("instance").n_unique().alias("instances"),
                                              pl.col("account").n_unique().alias("accounts"))
               .join(itx.group_by("typology").agg(pl.len().alias("transactions")), on="typology")
               .sort("typology"))
    if not quiet:
        click.echo(f"wrote {out}: {ds.meta['transactions']:,} transactions, "
                   f"{ds.meta['accounts']:,} accounts, {truth['instance'].n_unique():,} planted "
                   f"instances ({time.perf_counter() - t0:.1f}s)", err=True)
    _emit(summary, fmt, None)


@main.command(context_settings=CONTEXT)
@dataset_argument
@click.option("--run", default=None, help="Results run to score (default: the latest with alerts).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (same as --format json).")
@output_options
@quiet_option
def evaluate(case, run, as_json, fmt, output, quiet):
    """Score a run's alerts against CASE's ground truth, per typology.

    recall: share of planted instances covered (>= 50% of their core accounts) by an alert of
    their typology. precision: share of alerts touching the core accounts of a planted
    instance (precision_same_typology: of their own typology). p_at_10 / p_at_20: precision
    of the highest-scoring alerts. acc_precision / acc_recall: alert accounts vs core
    accounts. Datasets with only a transaction label get transaction-level scores.

    \b
    Example:
      finflow detect sample_data/demo.finflow -t CYCLE && finflow evaluate sample_data/demo.finflow
      finflow evaluate case.finflow --run run_0002 --json
    """
    from .dataset import open_dataset
    from .evaluate import evaluate as run_evaluate
    ds = open_dataset(case)
    df = run_evaluate(ds, run)
    if not quiet and not as_json and fmt == "table" and not output:
        used = run or ds.run_dir(None, containing="alerts").name
        kind = ("planted instances" if ds.has_truth()
                else "transaction labels only (transaction-level precision/recall)")
        click.echo(f"run {used} of {ds.path} against {kind}", err=True)
    _emit(df, "json" if as_json else fmt, output)


@main.command("trace", context_settings=CONTEXT)
@dataset_argument
@click.option("--from", "from_accounts", metavar="ACCOUNT[,ACCOUNT...]", multiple=True,
              help="Seed account ids (as in accounts.parquet); everything they send in the "
                   "window is tainted. Comma-separated or repeated.")
@click.option("--from-txn", "from_txns", metavar="TXN[,TXN...]", multiple=True,
              help="Seed transaction ids; their amounts are the taint.")
@click.option("--backward", is_flag=True,
              help="Trace where the money that reached the seeds came from.")
@click.option("--rule", type=click.Choice(["proportional", "fifo", "lifo"]),
              default="proportional", show_default=True,
              help="How an outflow draws on tainted and clean money.")
@click.option("--since", default=None, metavar="TIME",
              help="Window start (ISO 8601, naive = UTC, or epoch seconds), inclusive.")
@click.option("--until", default=None, metavar="TIME", help="Window end, inclusive.")
@click.option("--max-hops", type=click.IntRange(min=0), default=None,
              help="Follow taint at most N transactions away from the seeds.")
@click.option("--min-amount", type=click.FloatRange(min=0.0), default=0.0, show_default=True,
              help="Do not propagate tainted shares below X (base currency); counted as dropped.")
@click.option("--top", type=click.IntRange(min=0), default=20, show_default=True,
              help="Rows to print (0 = all).")
@click.option("--paths", "show_paths", is_flag=True,
              help="Print the most valuable paths instead of the accounts.")
@click.option("--top-paths", type=click.IntRange(min=0), default=10, show_default=True,
              help="How many paths to keep in trace_paths.parquet.")
@output_options
@quiet_option
def trace_command(case, from_accounts, from_txns, backward, rule, since, until, max_hops,
                  min_amount, top, show_paths, top_paths, fmt, output, quiet):
    """Trace funds from seed accounts or transactions through CASE, forward in time (where
    did the money go) or --backward (where did it come from), and write a results run
    (trace.parquet per account, trace_paths.parquet, run.json; SQL views trace, trace_paths).

    Prints the accounts that received the most tainted value: traced_in (tainted value
    received), held (still there at the end), traced_out, first/last tainted arrival and
    minimum hop distance. Unknown opening balances count as clean.

    \b
    Example:
      finflow trace case.finflow --from ACC-0042 --rule fifo --since 2024-03-01 --max-hops 4
      finflow trace case.finflow --from-txn 981233 --backward --paths
    """
    from .trace import trace as run_trace
    if bool(from_accounts) == bool(from_txns):
        raise click.UsageError("give exactly one of --from ACCOUNT[,...] and --from-txn TXN[,...]")
    with progress("trace", quiet) as advance:
        advance("replaying transactions")
        res = run_trace(case, list(from_accounts) or None, seed_txns=list(from_txns) or None,
                        backward=backward, rule=rule, since=since, until=until,
                        max_hops=max_hops, min_amount=min_amount, top_paths=top_paths)
    s = res.summary
    if res.note:
        click.echo(f"note: {res.note}", err=True)
    elif not quiet and fmt == "table" and not output:
        c, t = s["counts"], s["totals"]
        click.echo(f"run {s.get('run_id')} -> {res.run_dir}  ({s['direction']}, {rule}; "
                   f"{t['originated']:,.2f} traced from {c['seed_transactions']:,} seed "
                   f"transactions; {c['accounts_reached']:,} accounts; dropped "
                   f"{c['dropped_transactions']:,}, stopped {c['stopped_transactions']:,}; "
                   f"{s['seconds']['total']:.2f}s)", err=True)
    if show_paths:
        df = res.paths.select("path", "path_value", "hop", "txn_id", "ts", "src_id", "dst_id",
                              "amount", "tainted")
    else:
        df = res.accounts.select("account_id", "seed", "min_hops", "traced_in", "held",
                                 "traced_out", "first_ts", "last_ts", "n_tainted_in")
    if top and not show_paths:
        df = df.head(top)
    _emit(df, fmt, output)


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


@main.command("features", context_settings=CONTEXT)
@dataset_argument
@click.option("--output", "-o", "output", type=click.Path(dir_okay=False), required=True,
              help="Parquet (or .csv) file for the per-transaction features.")
@click.option("--accounts-output", type=click.Path(dir_okay=False), default=None,
              help="Also write the per-account features to FILE.")
@click.option("--window", default=None,
              help="Window of every pattern (e.g. 24h, 7d); default per pattern, see "
                   "docs/FEATURES.md.")
@click.option("--pattern", "-p", "patterns", multiple=True,
              type=click.Choice(["fan", "degree", "scatter_gather", "temporal_cycle",
                                 "simple_cycle"]),
              help="Pattern histograms to compute (repeatable; default all).")
@click.option("--max-cycle-length", type=click.IntRange(min=2), default=None,
              help="Longest temporal and simple cycle counted (default 8).")
@click.option("--no-vertex-stats", is_flag=True, help="Skip the src/dst vertex statistics.")
@quiet_option
def features_command(case, output, accounts_output, window, patterns, max_cycle_length,
                     no_vertex_stats, quiet):
    """Compute ML features of CASE in the spirit of IBM's Graph Feature Preprocessor:
    per transaction, fan/degree histograms in a window, scatter-gather, temporal-cycle and
    simple-cycle counts by size, and vertex statistics of the source and destination; per
    account, pass-through ratio, median dwell, counterparty entropy, first/last seen.

    Writes OUTPUT (and --accounts-output) and a results run with
    features_transactions.parquet, features_accounts.parquet and run.json (SQL views
    features_transactions, features_accounts). Column meanings: docs/FEATURES.md.

    \b
    Example:
      finflow features sample_data/demo.finflow -o features.parquet --accounts-output acc.parquet
      finflow features case.finflow -o f.parquet --window 48h -p fan -p temporal_cycle
    """
    import json

    from .dataset import open_dataset
    from .features import compute_features_with_stats, make_config
    from .output import emit
    opts = {}
    if patterns:
        opts["patterns"] = tuple(patterns)
    if max_cycle_length is not None:
        opts["temporal_cycle_max_len"] = max_cycle_length
        opts["simple_cycle_max_len"] = max_cycle_length
    if no_vertex_stats:
        opts["vertex_stats"] = False
    cfg = make_config(window, **opts)
    ds = open_dataset(case)
    with progress("features", quiet) as advance:
        advance("building the graph")
        graph = ds.graph()
        advance("counting patterns")
        tx, acc, summary = compute_features_with_stats(graph, cfg)
    run_dir = ds.new_run_dir()
    tx.write_parquet(run_dir / "features_transactions.parquet", compression="zstd")
    acc.write_parquet(run_dir / "features_accounts.parquet", compression="zstd")
    summary = {"run_id": run_dir.name, "command": "features", **summary}
    (run_dir / "run.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    emit(tx, "table", output)
    if accounts_output:
        emit(acc, "table", accounts_output)
    if not quiet:
        click.echo(f"run {run_dir.name} -> {run_dir}  ({tx.height:,} transactions x "
                   f"{tx.width - 1} features, {acc.height:,} accounts; "
                   f"{summary['total_seconds']:.2f}s; budget cuts {summary['budget_cut']})",
                   err=True)
