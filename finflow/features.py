"""Per-transaction and per-account ML features (GFP-style graph-pattern histograms).

``compute_features(ds_or_graph)`` returns two polars DataFrames:

* transactions (one row per transaction, ``txn_id`` first): pattern histograms (fan-in,
  fan-out, degree-in, degree-out inside a window; scatter-gather; temporal cycles; simple
  length-constrained cycles; one int32 column per size bin), then vertex statistics of the
  source and destination accounts (fan, degree, ratio and mean/sum/min/max/median/var/skew/
  kurtosis of amount and time over each side's transactions).
* accounts (one row per account): first/last seen, counts, amounts and distinct
  counterparties in and out, counterparty entropy, pass-through ratio and median dwell.

Column meanings, and exactly where they agree with and differ from IBM's Graph Feature
Preprocessor (snapml), are in docs/FEATURES.md.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from .config import DAY, HOUR, PassThroughConfig, parse_duration
from .errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from .dataset import Dataset
    from .graph import TemporalGraph

__all__ = ["compute_features", "FeatureConfig", "PATTERNS", "bin_labels"]

#: Pattern families, in output column order (GFP's order).
PATTERNS = ("fan", "degree", "scatter_gather", "temporal_cycle", "simple_cycle")
_STATS = ("mean", "sum", "min", "max", "median", "var", "skew", "kurt")


@dataclass
class FeatureConfig:
    """Parameters of :func:`compute_features` (windows in seconds; bins are pattern sizes).

    ``*_bins``: a pattern of size S counts in bin i when ``bins[i] <= S < bins[i+1]``, the last
    bin open-ended (GFP's convention). Budgets: ``max_degree`` edges scanned per node visit in
    the enumeration kernels, ``max_simple_cycles`` simple cycles per closing transaction;
    skipped work is reported in the stats (``budget_cut``).
    """
    patterns: tuple[str, ...] = PATTERNS
    fan_window: int = 24 * HOUR
    degree_window: int = 24 * HOUR
    scatter_gather_window: int = 7 * DAY
    temporal_cycle_window: int = 7 * DAY
    simple_cycle_window: int = 7 * DAY
    fan_bins: tuple[int, ...] = (2, 3, 4, 5, 6, 8, 10, 15, 20, 30)
    degree_bins: tuple[int, ...] = (2, 3, 4, 5, 6, 8, 10, 15, 20, 30)
    scatter_gather_bins: tuple[int, ...] = (2, 3, 4, 5, 6, 8, 10)
    temporal_cycle_bins: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8)
    simple_cycle_bins: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8)
    temporal_cycle_max_len: int = 8
    simple_cycle_max_len: int = 8
    max_degree: int = 10_000
    max_simple_cycles: int = 100_000
    vertex_stats: bool = True
    account_features: bool = True
    pass_through: PassThroughConfig = field(default_factory=PassThroughConfig)


def _seconds(value) -> int:
    return parse_duration(value) if isinstance(value, str) else int(value)


def bin_labels(name: str, bins) -> list[str]:
    """Column names of a histogram: ``fan_out_2``, ``fan_out_6_7``, ``fan_out_30plus``."""
    out = []
    for i, lo in enumerate(bins):
        if i + 1 == len(bins):
            out.append(f"{name}_{lo}plus")
        elif bins[i + 1] - lo == 1:
            out.append(f"{name}_{lo}")
        else:
            out.append(f"{name}_{lo}_{bins[i + 1] - 1}")
    return out


def _check(cfg: FeatureConfig) -> None:
    for p in cfg.patterns:
        if p not in PATTERNS:
            raise ConfigError(f"unknown feature pattern {p!r}; choose from {', '.join(PATTERNS)}")
    for p in PATTERNS:
        w = getattr(cfg, f"{p}_window")
        bins = getattr(cfg, f"{p}_bins")
        if w < 1:
            raise ConfigError(f"{p}_window must be >= 1 second, got {w}")
        if not bins or list(bins) != sorted(set(bins)) or bins[0] < 1:
            raise ConfigError(f"{p}_bins must be increasing positive sizes, got {list(bins)}")


def _hist_frame(names, hist) -> dict:
    return {n: hist[:, i] for i, n in enumerate(names)}


def _slots() -> int:
    """Scratch slots of the parallel kernels: the active numba thread count."""
    import numba
    return numba.get_num_threads()


def pattern_histograms(g: "TemporalGraph", cfg: FeatureConfig) -> tuple[dict, dict]:
    """The histogram columns (name -> int32[E]) and stats (seconds, counters) per pattern."""
    from ._kernels import features as k
    cols: dict[str, np.ndarray] = {}
    stats: dict[str, dict] = {}
    slots = _slots()
    for p in cfg.patterns:
        t0 = time.perf_counter()
        bins = np.asarray(getattr(cfg, f"{p}_bins"), np.int64)
        w = int(getattr(cfg, f"{p}_window"))
        st: dict = {"budget_cut": 0}
        if p in ("fan", "degree"):
            distinct = p == "fan"
            h_in = k.fan_degree_hist(g.in_ptr, g.in_nbr, g.in_ts, g.in_eid, w, bins, distinct,
                                     slots)
            h_out = k.fan_degree_hist(g.out_ptr, g.out_nbr, g.out_ts, g.out_eid, w, bins,
                                      distinct, slots)
            cols.update(_hist_frame(bin_labels(f"{p}_in", bins), h_in))
            cols.update(_hist_frame(bin_labels(f"{p}_out", bins), h_out))
        elif p == "scatter_gather":
            h, found, skipped = k.scatter_gather_hist(
                g.src, g.dst, g.ts, g.out_ptr, g.out_nbr, g.out_ts, g.out_eid, g.in_ptr,
                g.in_nbr, g.in_ts, g.in_eid, w, bins, cfg.max_degree, slots)
            st.update(patterns=int(found), edges_skipped_degree=int(skipped),
                      budget_cut=int(skipped))
            cols.update(_hist_frame(bin_labels(p, bins), h))
        elif p == "temporal_cycle":
            h, found, skipped = k.temporal_cycle_hist(
                g.src, g.dst, g.ts, g.out_ptr, g.out_nbr, g.out_ts, g.out_eid, g.in_ptr,
                g.in_nbr, g.in_ts, w, bins, cfg.temporal_cycle_max_len, cfg.max_degree,
                slots)
            st.update(cycles=int(found), edges_skipped_degree=int(skipped),
                      budget_cut=int(skipped))
            cols.update(_hist_frame(bin_labels(p, bins), h))
        else:
            h, found, skipped, cut = k.simple_cycle_hist(
                g.src, g.dst, g.ts, g.out_ptr, g.out_nbr, g.out_ts, g.out_eid, g.in_ptr,
                g.in_nbr, g.in_ts, g.in_eid, w, bins, cfg.simple_cycle_max_len, cfg.max_degree,
                cfg.max_simple_cycles, slots)
            st.update(cycles=int(found), edges_skipped_degree=int(skipped),
                      closing_edges_cut=int(cut), budget_cut=int(skipped + cut))
            cols.update(_hist_frame(bin_labels(p, bins), h))
        st["seconds"] = round(time.perf_counter() - t0, 4)
        stats[p] = st
    return cols, stats


def _side_stats(edges: pl.DataFrame, own: str, other: str, prefix: str) -> pl.DataFrame:
    """fan, degree, ratio and the 8 statistics of amount and ts per account (one side)."""
    aggs = [pl.col(other).n_unique().cast(pl.Float64).alias(f"{prefix}_fan"),
            pl.len().cast(pl.Float64).alias(f"{prefix}_degree")]
    for col in ("amount", "ts"):
        x = pl.col(col)
        aggs += [x.mean().alias(f"{prefix}_{col}_mean"), x.sum().alias(f"{prefix}_{col}_sum"),
                 x.min().alias(f"{prefix}_{col}_min"), x.max().alias(f"{prefix}_{col}_max"),
                 x.median().alias(f"{prefix}_{col}_median"),
                 x.var(ddof=0).alias(f"{prefix}_{col}_var"),
                 x.skew(bias=True).alias(f"{prefix}_{col}_skew"),
                 x.kurtosis(fisher=False, bias=True).alias(f"{prefix}_{col}_kurt")]
    out = edges.group_by(own).agg(aggs).rename({own: "account"})
    out = out.with_columns((pl.col(f"{prefix}_degree") / pl.col(f"{prefix}_fan"))
                           .alias(f"{prefix}_ratio"))
    fix = [pl.when(pl.col(f"{prefix}_{c}_var") > 0).then(pl.col(f"{prefix}_{c}_{s}"))
           .otherwise(0.0).alias(f"{prefix}_{c}_{s}") for c in ("amount", "ts")
           for s in ("skew", "kurt")]
    names = [f"{prefix}_fan", f"{prefix}_degree", f"{prefix}_ratio"] + [
        f"{prefix}_{c}_{s}" for c in ("amount", "ts") for s in _STATS]
    return out.with_columns(fix).select(["account", *names])


def vertex_stat_columns(edges: pl.DataFrame, n_nodes: int) -> pl.DataFrame:
    """Per-transaction src/dst x out/in vertex statistics over the whole edge list (GFP's
    batch semantics): 4 blocks of 19 float64 columns, 0 for an account with no such edges."""
    accounts = pl.DataFrame({"account": np.arange(n_nodes, dtype=np.int32)})
    per_side = {}
    for side, own, other in (("out", "src", "dst"), ("in", "dst", "src")):
        t = accounts.join(_side_stats(edges, own, other, side), on="account", how="left")
        per_side[side] = t.sort("account").drop("account").fill_null(0.0)
    blocks = []
    for end in ("src", "dst"):
        idx = edges[end].cast(pl.Int64)
        for side in ("out", "in"):
            t = per_side[side]
            blocks.append(t.select(pl.all().gather(idx).name.prefix(f"{end}_")))
    return pl.concat(blocks, how="horizontal")


def _entropy(own: np.ndarray, other: np.ndarray, n: int) -> np.ndarray:
    """Shannon entropy (bits) of each account's counterparty distribution by transaction
    count on one side (``own[e]`` pays or receives from ``other[e]``): 0 for one
    counterparty (or none), log2(k) for k used equally. float64[n]; summed in a fixed order,
    so identical to the last bit on every run (a polars two-level group_by was not).
    O(E log E)."""
    keys, count = np.unique(own.astype(np.int64) * n + other, return_counts=True)
    acc = keys // n
    p = count / np.bincount(own, minlength=n)[acc]
    return np.bincount(acc, weights=-p * np.log2(p), minlength=n) + 0.0


def account_features(g: "TemporalGraph", edges: pl.DataFrame, cfg: FeatureConfig) -> pl.DataFrame:
    """One row per account; see docs/FEATURES.md for every column."""
    from ._kernels.flow import pass_through_flow
    n = g.n_nodes
    total_in, total_out, matched, _ret, n_q, med_dwell, *_ = pass_through_flow(
        g.in_ptr, g.in_nbr, g.in_ts, g.in_amt, g.out_ptr, g.out_nbr, g.out_ts, g.out_amt,
        int(cfg.pass_through.max_dwell), float(cfg.pass_through.min_ratio))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(total_in > 0, matched / np.where(total_in > 0, total_in, 1.0), np.nan)
    acc = pl.DataFrame({"account": np.arange(n, dtype=np.int32)})
    acc = acc.with_columns(g.account_id_of(np.arange(n)).alias("account_id"))
    out_ = edges.group_by("src").agg(
        pl.len().alias("n_out"), pl.col("amount").sum().alias("amount_out"),
        pl.col("dst").n_unique().alias("distinct_out"),
        pl.col("ts").min().alias("first_out"), pl.col("ts").max().alias("last_out")
    ).rename({"src": "account"})
    in_ = edges.group_by("dst").agg(
        pl.len().alias("n_in"), pl.col("amount").sum().alias("amount_in"),
        pl.col("src").n_unique().alias("distinct_in"),
        pl.col("ts").min().alias("first_in"), pl.col("ts").max().alias("last_in")
    ).rename({"dst": "account"})
    # array columns below are attached by position: the joins must keep the account order
    acc = acc.join(in_, on="account", how="left", maintain_order="left").join(
        out_, on="account", how="left", maintain_order="left")
    acc = acc.with_columns(pl.Series("entropy_in", _entropy(g.dst, g.src, n)),
                           pl.Series("entropy_out", _entropy(g.src, g.dst, n)))
    first = pl.min_horizontal("first_in", "first_out")
    last = pl.max_horizontal("last_in", "last_out")
    acc = acc.with_columns(
        pl.from_epoch(first, "s").dt.replace_time_zone("UTC").alias("first_seen"),
        pl.from_epoch(last, "s").dt.replace_time_zone("UTC").alias("last_seen"),
        pl.col("n_in", "n_out", "distinct_in", "distinct_out").fill_null(0).cast(pl.Int64),
        pl.col("amount_in", "amount_out", "entropy_in", "entropy_out").fill_null(0.0),
        pl.Series("pass_through_ratio", ratio, pl.Float64).fill_nan(None),
        pl.Series("pass_through_episodes", n_q, pl.Int64),
        pl.Series("median_dwell_s", med_dwell, pl.Float64).fill_nan(None),
    )
    return acc.select("account", "account_id", "first_seen", "last_seen", "n_in", "n_out",
                      "amount_in", "amount_out", "distinct_in", "distinct_out", "entropy_in",
                      "entropy_out", "pass_through_ratio", "pass_through_episodes",
                      "median_dwell_s")


def make_config(window=None, **overrides) -> FeatureConfig:
    """A FeatureConfig; ``window`` (seconds or '48h', '7d') sets every pattern's window."""
    cfg = FeatureConfig()
    if window is not None:
        w = _seconds(window)
        for p in PATTERNS:
            setattr(cfg, f"{p}_window", w)
    for key, value in overrides.items():
        if value is None:
            continue
        if not hasattr(cfg, key):
            raise ConfigError(f"unknown feature option {key!r}")
        if key.endswith("_window"):
            value = _seconds(value)
        elif key.endswith("_bins") or key == "patterns":
            value = tuple(value)
        setattr(cfg, key, value)
    _check(cfg)
    return cfg


def compute_features_with_stats(ds_or_graph, cfg: FeatureConfig):
    """(transaction features, account features, stats dict) for a Dataset or TemporalGraph."""
    from .graph import TemporalGraph
    g = ds_or_graph if isinstance(ds_or_graph, TemporalGraph) else ds_or_graph.graph()
    t0 = time.perf_counter()
    cols, stats = pattern_histograms(g, cfg)
    edges = pl.DataFrame({"src": g.src, "dst": g.dst, "ts": g.ts, "amount": g.amt})
    tx = pl.DataFrame({"txn_id": g.txn_id, **cols})
    if cfg.vertex_stats:
        t1 = time.perf_counter()
        tx = pl.concat([tx, vertex_stat_columns(edges, g.n_nodes)], how="horizontal")
        stats["vertex_stats"] = {"seconds": round(time.perf_counter() - t1, 4), "budget_cut": 0}
    acc = None
    if cfg.account_features:
        t1 = time.perf_counter()
        acc = account_features(g, edges, cfg)
        stats["accounts"] = {"seconds": round(time.perf_counter() - t1, 4), "budget_cut": 0}
    summary = {"n_transactions": g.n_edges, "n_accounts": g.n_nodes,
               "total_seconds": round(time.perf_counter() - t0, 4),
               "budget_cut": int(sum(s.get("budget_cut", 0) for s in stats.values())),
               "features": stats, "config": _config_dict(cfg)}
    if acc is None:
        acc = pl.DataFrame()
    return tx, acc, summary


def _config_dict(cfg: FeatureConfig) -> dict:
    d = asdict(cfg)
    for k, v in d.items():
        if isinstance(v, tuple):
            d[k] = list(v)
    return d


def compute_features(ds_or_graph: "Dataset | TemporalGraph", *, window=None, **options
                     ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per-transaction and per-account features of a Dataset or TemporalGraph.

    ``window`` (seconds or a duration such as ``'48h'``) sets every pattern window; any
    :class:`FeatureConfig` field can be passed as a keyword (``fan_window='12h'``,
    ``patterns=('fan', 'degree')``, ``temporal_cycle_max_len=6``, ...).
    Returns ``(transactions_features, account_features)``; see docs/FEATURES.md. Cost: fan
    and degree O(E * B); cycles and scatter-gather are output-sensitive, bounded by budgets.
    """
    cfg = options.pop("config", None) or make_config(window, **options)
    tx, acc, _ = compute_features_with_stats(ds_or_graph, cfg)
    return tx, acc


from ._callable import make_module_callable  # noqa: E402

make_module_callable(__name__, "compute_features")
