"""Fund tracing: follow tainted value forward (where did it go) or backward (where did it come
from) through the transactions, under a proportional, FIFO or LIFO rule.

Definitions (kernel: ``finflow/_kernels/trace.py``; executable definition:
``tests/naive/trace.py``)
---------------------------------------------------------------------------------------------
* **Seeds.** Seed *accounts*: every transaction a seed account sends inside the window
  ``[since, until]`` is tainted in full (forward). Seed *transactions*: that transaction's
  amount is tainted in full. A tainted-in-full transaction reuses whatever taint the rule says
  the sender already held and *originates* the rest, so the total traced value (sum of
  ``originated``) never exceeds what left the seeds.
* **Replay.** Forward: every transaction up to ``until`` is replayed once in (ts, txn_id) order;
  those before ``since`` only build balances (clean money). Opening balances at the start of
  the data are unknown and count as clean. Backward is the same rule on the reversed graph:
  transactions from ``since`` on, in reverse order, with sender and receiver swapped; seed
  accounts' *incoming* transactions up to ``until`` are traced, and ``traced_in`` of an account
  is the value it sent that is traced as reaching the seeds. (Backward FIFO is FIFO on the
  reversed graph, not the inverse of forward FIFO.)
* **Rules.** proportional: an outflow carries the sender's tainted fraction of its known
  balance; FIFO / LIFO: outflows consume incoming lots oldest / newest first, pro rata inside
  one lot. Money sent beyond the known balance is clean (unknown opening balance).
* **max_hops / min_amount.** Seeds are hop 0. A transaction whose hop (sender's minimum hop +
  1) exceeds ``max_hops`` carries no taint (counted as ``stopped`` at the sender); a tainted
  share below ``min_amount`` is not propagated (counted as ``dropped``). The money still moves.
* **Conservation** per account: ``traced_in + originated = held + traced_out + dropped +
  stopped``; overall ``sum(originated) = sum(held + dropped + stopped)``.
* **Paths.** Each tainted transaction keeps its best predecessor (the lot or inflow that gave
  it most taint); a path is a chain of predecessors from a seed transaction, its value the
  smallest taint along it (an approximation: pooled money descends from several inflows and
  the chain follows only the largest). Per reached account the most valuable chain ending
  with a transaction into it, unless an equally valuable chain extends it further; the
  ``top_paths`` accounts' chains by value, each cut to its last ``max_path_hops`` hops.

Results run (``Dataset.new_run_dir()``)
---------------------------------------
``trace.parquet`` one row per account taint reached (or originated at): account int32,
account_id str, seed bool, traced_in, traced_out, held, originated, dropped, stopped float64
(base currency), first_ts, last_ts timestamp[us, UTC] (first/last tainted arrival), min_hops
int32, n_tainted_in int64, path int32 (rank of the account's chain in trace_paths, or
null); sorted by traced_in descending.
``trace_paths.parquet`` path int32 (rank, 1 = most valuable), path_value float64, hop int32
(1 = nearest the seed), txn_id int64, ts, src int32, src_id str, dst int32, dst_id str,
amount float64 (transaction amount), tainted float64 (taint it carried), truncated bool.
``run.json`` kind "trace", seeds, rule, direction, window, limits, counts, totals, budget_cut
(paths cut by ``max_path_hops``), memory bound, seconds.

Complexity: O(E + N) for the replay (plus O(E) copies for backward), O(C log C) to rank the C
candidate path ends. Memory: FIFO/LIFO one lot slot (24 bytes) per replayed transaction.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

import numpy as np
import polars as pl

from .errors import FinflowError, InputError
from .graph import TemporalGraph

__all__ = ["trace", "TraceResult", "Replay", "replay", "parse_time", "RULES"]

RULES = ("proportional", "fifo", "lifo")
_NUMBER = re.compile(r"^[+-]?\d+(\.\d*)?$")
_TS = pl.Datetime("us", "UTC")


def parse_time(value, what: str = "time") -> int | None:
    """ISO 8601 (naive means UTC), epoch seconds (int, float or numeric string) or a datetime
    -> int seconds since the epoch (UTC); None stays None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return int(dt.timestamp() // 1)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return int(np.floor(value))
    text = str(value).strip()
    if _NUMBER.match(text):
        return int(np.floor(float(text)))
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{what}: not a time: {text!r} (use ISO 8601 like 2024-01-31T12:00:00Z "
                         "or epoch seconds)") from None
    return parse_time(dt)


@dataclass
class Replay:
    """Kernel output mapped back to the graph's edge order (E edges, N accounts).

    Edges never replayed (outside the window) carry 0 taint and parent -1.
    """
    taint: np.ndarray        # float64[E] taint each transaction carried
    parent: np.ndarray       # int64[E] best predecessor edge, -1 for roots / untainted
    value: np.ndarray        # float64[E] path value (bottleneck) of the chain ending here
    extended: np.ndarray     # bool[E] an equally valuable chain continues after this edge
    forced: np.ndarray       # bool[E] tainted in full (seed account outflow / seed txn)
    position: np.ndarray     # int64[E] processing position, -1 if not replayed
    traced_in: np.ndarray    # float64[N]
    traced_out: np.ndarray
    held: np.ndarray
    originated: np.ndarray
    dropped: np.ndarray
    stopped: np.ndarray
    min_hops: np.ndarray     # int64[N], -1 if never reached
    first_ts: np.ndarray     # int64[N] earliest tainted arrival (seconds), valid if n_in > 0
    last_ts: np.ndarray      # int64[N] latest tainted arrival
    n_in: np.ndarray         # int64[N] tainted arrivals
    counts: dict


def replay(g: TemporalGraph, seed_accounts: Iterable[int] = (), seed_edges: Iterable[int] = (),
           *, backward: bool = False, rule: str = "proportional", since: int | None = None,
           until: int | None = None, max_hops: int | None = None,
           min_amount: float = 0.0) -> Replay:
    """Run the tracing kernel over ``g``. Seeds are account indices and edge indices (positions
    in ``g``'s edge order); ``since``/``until`` are seconds (inclusive). O(E + N)."""
    from ._kernels.trace import NO_HOP, RULES as CODES, trace_replay
    if rule not in CODES:
        raise FinflowError(f"unknown rule {rule!r}; choose one of {', '.join(RULES)}")
    n, e_all = g.n_nodes, g.n_edges
    seed_acc = np.zeros(n, np.uint8)
    seed_acc[np.asarray(list(seed_accounts), np.int64)] = 1
    edge_mask = np.zeros(e_all, np.uint8)
    edge_mask[np.asarray(list(seed_edges), np.int64)] = 1
    lo_t = -(2**62) if since is None else int(since)
    hi_t = 2**62 if until is None else int(until)
    if not backward:
        hi = int(np.searchsorted(g.ts, hi_t, "right"))
        proc = np.arange(hi, dtype=np.int64)
        first_active = int(np.searchsorted(g.ts, lo_t, "left"))
        psrc, pdst = g.src[:hi], g.dst[:hi]
        pts, pamt, pseed = g.ts[:hi], g.amt[:hi], edge_mask[:hi]
    else:
        lo = int(np.searchsorted(g.ts, lo_t, "left"))
        proc = np.arange(e_all - 1, lo - 1, -1, dtype=np.int64)
        first_active = e_all - int(np.searchsorted(g.ts, hi_t, "right"))
        psrc, pdst = g.dst[proc], g.src[proc]
        pts, pamt, pseed = g.ts[proc], g.amt[proc], edge_mask[proc]
    (taint_p, parent_p, value_p, ext_p, t_in, t_out, held, orig, dropped, stopped, min_hop,
     first_p, last_p, n_in, counts) = trace_replay(
        np.ascontiguousarray(psrc), np.ascontiguousarray(pdst), np.ascontiguousarray(pts),
        np.ascontiguousarray(pamt), np.int64(n), seed_acc, np.ascontiguousarray(pseed),
        np.int64(first_active), np.int64(CODES[rule]),
        np.int64(-1 if max_hops is None else max_hops), np.float64(min_amount))
    taint = np.zeros(e_all, np.float64)
    parent = np.full(e_all, -1, np.int64)
    value = np.zeros(e_all, np.float64)
    extended = np.zeros(e_all, bool)
    position = np.full(e_all, -1, np.int64)
    taint[proc] = taint_p
    parent[proc] = np.where(parent_p >= 0, proc[np.maximum(parent_p, 0)], -1)
    value[proc] = value_p
    extended[proc] = ext_p.astype(bool)
    position[proc] = np.arange(proc.shape[0], dtype=np.int64)
    positions = np.arange(proc.shape[0])
    forced_p = (pseed.astype(bool)
                | (seed_acc[psrc].astype(bool) & (positions >= first_active)))
    forced = np.zeros(e_all, bool)
    forced[proc] = forced_p
    return Replay(
        taint=taint, parent=parent, value=value, extended=extended, forced=forced,
        position=position, traced_in=t_in, traced_out=t_out, held=held, originated=orig,
        dropped=dropped, stopped=stopped,
        min_hops=np.where(min_hop >= NO_HOP, -1, min_hop),
        first_ts=np.minimum(first_p, last_p), last_ts=np.maximum(first_p, last_p), n_in=n_in,
        counts={"replayed_transactions": int(proc.shape[0]),
                "tainted_transactions": int(counts[0]), "seed_transactions": int(counts[1]),
                "dropped_transactions": int(counts[2]), "stopped_transactions": int(counts[3])})


@dataclass
class TraceResult:
    """What ``trace`` returns: the per-account table, the top paths, the run summary, the run
    directory (None when tracing a bare TemporalGraph or with ``write=False``) and, for an
    empty result, a one-line explanation."""
    accounts: pl.DataFrame
    paths: pl.DataFrame
    summary: dict
    run_dir: Path | None = None
    note: str | None = None
    replay: Replay | None = None


def _split(values) -> list[str]:
    if values is None:
        return []
    if isinstance(values, (str, int, np.integer)):
        values = [values]
    out = []
    for v in values:
        out.extend(p.strip() for p in str(v).split(",") if p.strip())
    return out


def _resolve_accounts(g: TemporalGraph, ids: list[str]) -> np.ndarray:
    if not ids:
        return np.zeros(0, np.int64)
    if g.account_ids is None:               # a bare graph: account ids are the indices
        bad = [i for i in ids if not i.isdigit() or int(i) >= g.n_nodes]
        if bad:
            raise InputError(f"unknown account {bad[0]!r}: not an account index of this graph")
        return np.unique(np.asarray([int(i) for i in ids], np.int64))
    known = g.account_ids
    wanted = pl.DataFrame({"account_id": pl.Series(list(dict.fromkeys(ids)), dtype=pl.String)})
    found = wanted.join(known.to_frame().with_row_index("account"), on="account_id", how="left")
    missing = found.filter(pl.col("account").is_null())["account_id"].to_list()
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise InputError(f"unknown account {missing[0]!r}{more}: not in accounts.parquet")
    return np.sort(found["account"].to_numpy().astype(np.int64))


def _resolve_txns(g: TemporalGraph, ids: list[str]) -> np.ndarray:
    if not ids:
        return np.zeros(0, np.int64)
    wanted = []
    for i in ids:
        try:
            wanted.append(int(i))
        except ValueError:
            raise InputError(f"unknown transaction {i!r}: txn_id is an integer") from None
    wanted_arr = np.unique(np.asarray(wanted, np.int64))
    edges = np.flatnonzero(np.isin(g.txn_id, wanted_arr))
    missing = np.setdiff1d(wanted_arr, g.txn_id[edges])
    if missing.size:
        more = f" (and {missing.size - 1} more)" if missing.size > 1 else ""
        raise InputError(f"unknown transaction {int(missing[0])}{more}: not in transactions.parquet")
    return edges.astype(np.int64)


def _ts_col(seconds: np.ndarray, name: str) -> pl.Series:
    return (pl.Series(name, np.asarray(seconds, np.int64) * 1_000_000)
            .cast(pl.Datetime("us")).dt.replace_time_zone("UTC"))


def _iso(sec: int | None) -> str | None:
    return None if sec is None else datetime.fromtimestamp(sec, timezone.utc).isoformat()


def _paths(g: TemporalGraph, r: Replay, top: int, max_hops: int,
           backward: bool) -> tuple[pl.DataFrame, int]:
    """Per reached account its most valuable chain (ties: earliest in the replay), skipping
    chains an equally valuable chain extends; the ``top`` accounts' chains by value.
    Returns (table, chains cut to their last ``max_hops`` transactions)."""
    cand = np.flatnonzero((r.taint > 0) & ~r.extended)
    cand = cand[np.lexsort((r.position[cand], -r.value[cand]))]
    receiver = (g.src if backward else g.dst)[cand]
    _, first = np.unique(receiver, return_index=True)   # best chain per receiving account
    cand = cand[np.sort(first)]
    rows: dict[str, list] = {k: [] for k in ("path", "path_value", "hop", "edge", "truncated")}
    cut = 0
    for rank, leaf in enumerate(cand[:top], start=1):
        chain = [int(leaf)]
        while r.parent[chain[-1]] >= 0 and len(chain) < max_hops:
            chain.append(int(r.parent[chain[-1]]))
        truncated = bool(r.parent[chain[-1]] >= 0)
        cut += truncated
        chain.reverse()
        for hop, e in enumerate(chain, start=1):
            rows["path"].append(rank)
            rows["path_value"].append(float(r.value[leaf]))
            rows["hop"].append(hop)
            rows["edge"].append(e)
            rows["truncated"].append(truncated)
    edge = np.asarray(rows["edge"], np.int64)
    df = pl.DataFrame({
        "path": pl.Series(rows["path"], dtype=pl.Int32),
        "path_value": pl.Series(rows["path_value"], dtype=pl.Float64),
        "hop": pl.Series(rows["hop"], dtype=pl.Int32),
        "txn_id": pl.Series(g.txn_id[edge], dtype=pl.Int64),
        "ts": _ts_col(g.ts[edge], "ts"),
        "src": pl.Series(g.src[edge], dtype=pl.Int32),
        "src_id": g.account_id_of(g.src[edge]).alias("src_id"),
        "dst": pl.Series(g.dst[edge], dtype=pl.Int32),
        "dst_id": g.account_id_of(g.dst[edge]).alias("dst_id"),
        "amount": pl.Series(g.amt[edge], dtype=pl.Float64),
        "tainted": pl.Series(r.taint[edge], dtype=pl.Float64),
        "truncated": pl.Series(rows["truncated"], dtype=pl.Boolean),
    })
    return df, cut


def _accounts(g: TemporalGraph, r: Replay, origins: np.ndarray) -> pl.DataFrame:
    reached = np.flatnonzero((r.n_in > 0) | (r.originated > 0) | np.isin(
        np.arange(g.n_nodes), origins) & ((r.traced_out > 0) | (r.dropped > 0) | (r.stopped > 0)))
    df = pl.DataFrame({
        "account": pl.Series(reached, dtype=pl.Int32),
        "account_id": g.account_id_of(reached),
        "seed": pl.Series(np.isin(reached, origins), dtype=pl.Boolean),
        "traced_in": r.traced_in[reached], "traced_out": r.traced_out[reached],
        "held": r.held[reached], "originated": r.originated[reached],
        "dropped": r.dropped[reached], "stopped": r.stopped[reached],
        "first_ts": _ts_col(r.first_ts[reached], "first_ts"),
        "last_ts": _ts_col(r.last_ts[reached], "last_ts"),
        "min_hops": pl.Series(r.min_hops[reached], dtype=pl.Int32),
        "n_tainted_in": pl.Series(r.n_in[reached], dtype=pl.Int64),
    })
    no_in = pl.col("n_tainted_in") == 0
    df = df.with_columns(pl.when(no_in).then(None).otherwise(pl.col("first_ts")).alias("first_ts"),
                         pl.when(no_in).then(None).otherwise(pl.col("last_ts")).alias("last_ts"))
    return df      # sorted by the caller, after its join


def trace(ds_or_path, seeds=None, *, seed_txns=None, backward: bool = False,
          rule: str = "proportional", since=None, until=None, max_hops: int | None = None,
          min_amount: float = 0.0, top_paths: int = 10, max_path_hops: int = 100,
          write: bool = True) -> TraceResult:
    """Trace funds from seed accounts (``seeds``: account_id strings, a list or one
    comma-separated string) and/or seed transactions (``seed_txns``: txn_ids).

    ``ds_or_path``: a Dataset, a dataset path, or a TemporalGraph (then nothing is written and
    account ids are the graph's ``account_ids`` or the index as a string). ``since``/``until``:
    ISO 8601 (naive = UTC), epoch seconds or datetime, inclusive. ``rule``: proportional, fifo
    or lifo. With a dataset and ``write``, the result is stored as a results run (trace.parquet,
    trace_paths.parquet, run.json). Raises InputError naming an unknown account or transaction.
    See the module docstring for the definitions. Time O(E + N) plus loading the graph.
    """
    t_start = time.perf_counter()
    if rule not in RULES:
        raise FinflowError(f"unknown rule {rule!r}; choose one of {', '.join(RULES)}")
    if max_hops is not None and int(max_hops) < 0:
        raise FinflowError(f"max_hops must be >= 0, got {max_hops}")
    if not (float(min_amount) >= 0.0):
        raise FinflowError(f"min_amount must be >= 0, got {min_amount}")
    if top_paths < 0 or max_path_hops < 1:
        raise FinflowError("top_paths must be >= 0 and max_path_hops >= 1")
    ds = None
    if isinstance(ds_or_path, TemporalGraph):
        g = ds_or_path
    else:
        from .api import as_dataset
        ds = as_dataset(ds_or_path)
        g = ds.graph()
    t_loaded = time.perf_counter()
    since_s, until_s = parse_time(since, "since"), parse_time(until, "until")
    if since_s is not None and until_s is not None and since_s > until_s:
        raise InputError(f"since ({_iso(since_s)}) is after until ({_iso(until_s)})")
    account_ids, txn_ids = _split(seeds), _split(seed_txns)
    if not account_ids and not txn_ids:
        raise InputError("no seeds: give seed accounts or seed transactions")
    seed_acc = _resolve_accounts(g, account_ids)
    seed_edges = _resolve_txns(g, txn_ids)
    for e in seed_edges:
        t = int(g.ts[e])
        if (since_s is not None and t < since_s) or (until_s is not None and t > until_s):
            raise InputError(f"transaction {int(g.txn_id[e])} at {_iso(t)} is outside the "
                             "since/until window")
    r = replay(g, seed_acc, seed_edges, backward=backward, rule=rule, since=since_s,
               until=until_s, max_hops=None if max_hops is None else int(max_hops),
               min_amount=float(min_amount))
    t_replayed = time.perf_counter()
    origins = np.union1d(seed_acc, (g.dst if backward else g.src)[seed_edges]).astype(np.int64)
    accounts = _accounts(g, r, origins)
    paths, paths_cut = _paths(g, r, int(top_paths), int(max_path_hops), backward)
    # an account's path: the chain that ends with a transaction into it
    ends = (paths.filter(pl.col("hop") == pl.col("hop").max().over("path"))
            .select("path", pl.col("src" if backward else "dst").alias("account")))
    accounts = (accounts.join(ends, on="account", how="left")
                .sort(["traced_in", "originated", "account"], descending=[True, True, False]))
    note = None
    if r.counts["seed_transactions"] == 0:
        what = ", ".join(account_ids) or ", ".join(txn_ids)
        side = "incoming" if backward else "outgoing"
        note = f"nothing to trace: {what} has no {side} transactions in the window"
    forced_total = float(g.amt[r.forced].sum())
    summary = {
        "kind": "trace",
        "direction": "backward" if backward else "forward",
        "rule": rule,
        "seeds": {"accounts": account_ids, "txns": [int(t) for t in g.txn_id[seed_edges]]},
        "since": _iso(since_s), "until": _iso(until_s),
        "max_hops": None if max_hops is None else int(max_hops),
        "min_amount": float(min_amount),
        "top_paths": int(top_paths), "max_path_hops": int(max_path_hops),
        "counts": {"transactions": g.n_edges, **r.counts, "accounts_reached": accounts.height,
                   "paths": int(paths["path"].n_unique()) if paths.height else 0},
        "totals": {"seed_outflow": forced_total, "originated": float(r.originated.sum()),
                   "held": float(r.held.sum()), "dropped": float(r.dropped.sum()),
                   "stopped": float(r.stopped.sum())},
        "budget_cut": int(paths_cut),
        "budgets": {"max_path_hops": int(max_path_hops), "paths_cut": int(paths_cut),
                    "lot_pool": "one slot per replayed transaction; cannot overflow"},
        "note": note,
    }
    run_dir = None
    if ds is not None and write:
        run_dir = ds.new_run_dir()
        summary["run_id"] = run_dir.name
        accounts.write_parquet(run_dir / "trace.parquet", compression="zstd")
        paths.write_parquet(run_dir / "trace_paths.parquet", compression="zstd")
    t_end = time.perf_counter()
    summary["seconds"] = {"load": round(t_loaded - t_start, 4),
                          "replay": round(t_replayed - t_loaded, 4),
                          "total": round(t_end - t_start, 4)}
    if run_dir is not None:
        (run_dir / "run.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return TraceResult(accounts=accounts, paths=paths, summary=summary, run_dir=run_dir,
                       note=note, replay=r)


from ._callable import make_module_callable  # noqa: E402

make_module_callable(__name__, "trace")
