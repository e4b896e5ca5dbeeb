"""Ingest and graph-build benchmarks (pytest-benchmark; not part of the default test run).

Run:  python -m pytest benchmarks/bench_ingest.py --benchmark-enable -s

* ingest of a 1M-row generic CSV against a bare ``pl.scan_csv(f).sink_parquet(...)`` of the
  same file, measured in the same run, interleaved; reported as a ratio (design target
  <= 1.5x) in ``extra_info`` and on stdout, both of wall-clock seconds and of CPU seconds
  (``time.process_time``: every thread of the process). On a machine shared with other work
  the CPU ratio is the steadier one; the load average is printed next to it;
* TemporalGraph.from_dataset on 5M edges: seconds, and peak resident memory above the
  process's level before the build (psutil, sampled every 2 ms), next to the arrays' size.

Sizes: FINFLOW_BENCH_ROWS (default 1_000_000) and FINFLOW_BENCH_EDGES (default 5_000_000).
"""
from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from finflow import schema
from finflow.dataset import open_dataset
from finflow.graph import TemporalGraph
from finflow.ingest import ingest

ROWS = int(os.environ.get("FINFLOW_BENCH_ROWS", 1_000_000))
EDGES = int(os.environ.get("FINFLOW_BENCH_EDGES", 5_000_000))
ROUNDS = 3


@pytest.fixture(scope="module")
def csv_1m(tmp_path_factory) -> Path:
    """A generic CSV: txn_id, ISO ts (time-ordered), src, dst, amount, currency, channel."""
    rng = np.random.default_rng(20240101)
    n = ROWS
    t0 = 1_704_067_200
    ts = t0 + np.sort(rng.integers(0, 365 * 86_400, n))
    df = pl.DataFrame({
        "txn_id": np.arange(1, n + 1),
        "ts": pl.Series(ts * 1_000_000).cast(pl.Datetime("us")).dt.strftime("%Y-%m-%dT%H:%M:%S"),
        "src": "ACC" + pl.Series(rng.integers(0, n // 5, n)).cast(pl.String),
        "dst": "ACC" + pl.Series(rng.integers(0, n // 5, n)).cast(pl.String),
        "amount": np.round(rng.lognormal(6, 1.5, n), 2),
        "currency": rng.choice(["USD", "EUR", "GBP"], n),
        "channel": rng.choice(["wire", "card", "ach"], n),
    })
    path = tmp_path_factory.mktemp("bench") / "tx_1m.csv"
    df.write_csv(path)
    return path


def _bare(csv: Path, out: Path) -> None:
    pl.scan_csv(csv).sink_parquet(out)


def test_bare_scan_csv_sink_parquet(benchmark, csv_1m, tmp_path):
    benchmark.group = "ingest-1M-csv"
    benchmark.pedantic(_bare, args=(csv_1m, tmp_path / "bare.parquet"), rounds=ROUNDS,
                       iterations=1, warmup_rounds=1)


def test_finflow_ingest(benchmark, csv_1m, tmp_path):
    benchmark.group = "ingest-1M-csv"
    ds = benchmark.pedantic(ingest, args=([csv_1m], tmp_path / "case.finflow"), rounds=ROUNDS,
                            iterations=1, warmup_rounds=1)
    assert ds.meta["rows_accepted"] == ROWS


def test_ingest_ratio_to_bare_sink(benchmark, csv_1m, tmp_path):
    """Both measured in this test, alternating, best of ROUNDS each; ratio = ingest / bare."""
    benchmark.group = "ingest-1M-csv-ratio"
    bare_s, ingest_s, bare_cpu, ingest_cpu = [], [], [], []

    def timed(fn, wall, cpu):
        t, c = time.perf_counter(), time.process_time()
        fn()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - t)

    def one_pair():
        timed(lambda: _bare(csv_1m, tmp_path / "bare.parquet"), bare_s, bare_cpu)
        timed(lambda: ingest([csv_1m], tmp_path / "case.finflow"), ingest_s, ingest_cpu)

    benchmark.pedantic(one_pair, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    ratio = min(ingest_s) / min(bare_s)
    cpu_ratio = min(ingest_cpu) / min(bare_cpu)
    load = os.getloadavg()[0]
    benchmark.extra_info.update(rows=ROWS, bare_seconds=min(bare_s),
                                ingest_seconds=min(ingest_s), ratio=ratio,
                                bare_cpu_seconds=min(bare_cpu), ingest_cpu_seconds=min(ingest_cpu),
                                cpu_ratio=cpu_ratio, load_average=load, target=1.5)
    print(f"\ningest {ROWS:,} rows (load average {load:.2f}, {os.cpu_count()} cores): "
          f"wall finflow {min(ingest_s):.3f}s / bare scan_csv->sink_parquet {min(bare_s):.3f}s = "
          f"{ratio:.2f}x; CPU {min(ingest_cpu):.3f}s / {min(bare_cpu):.3f}s = {cpu_ratio:.2f}x "
          f"(target <= 1.5x)")


@pytest.fixture(scope="module")
def dataset_5m(tmp_path_factory) -> Path:
    """A dataset directory with EDGES transactions over EDGES // 10 accounts, written
    directly in the canonical schema (so the benchmark measures the graph build only)."""
    rng = np.random.default_rng(5)
    e, n = EDGES, max(EDGES // 10, 2)
    path = tmp_path_factory.mktemp("bench") / "g5m.finflow"
    path.mkdir()
    ts = np.sort(rng.integers(1_704_067_200, 1_704_067_200 + 365 * 86_400, e)) * 1_000_000
    amt = np.round(rng.lognormal(6, 1.5, e), 2)
    pl.DataFrame({
        "txn_id": np.arange(e, dtype=np.int64),
        "ts": pl.Series(ts).cast(schema.TS),
        "src": rng.integers(0, n, e).astype(np.int32),
        "dst": rng.integers(0, n, e).astype(np.int32),
        "amount": amt, "amount_orig": amt,
        "currency": pl.Series(rng.choice(["USD", "EUR"], e)),
        "channel": pl.Series(rng.choice(["wire", "card"], e)),
        "label": pl.Series([None] * e, dtype=pl.Int8),
    }).write_parquet(path / "transactions.parquet")
    pl.DataFrame({
        "account": np.arange(n, dtype=np.int32),
        "account_id": pl.Series(np.arange(n)).cast(pl.String).str.zfill(9),
        "bank": pl.Series(rng.choice(["B1", "B2", "B3"], n)),
        "country": pl.Series(rng.choice(["US", "GB", "AE"], n)),
        "kind": pl.Series([None] * n, dtype=pl.String),
        "first_seen": pl.Series([None] * n, dtype=schema.TS),
        "last_seen": pl.Series([None] * n, dtype=schema.TS),
    }).write_parquet(path / "accounts.parquet")
    (path / "meta.json").write_text(json.dumps({"schema_version": schema.SCHEMA_VERSION}))
    return path


class _PeakRSS:
    """Peak resident set size above the starting level, sampled by a thread (psutil)."""

    def __init__(self, interval: float = 0.002):
        import psutil
        self.proc, self.interval = psutil.Process(), interval
        self.start = self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def delta_mib(self) -> float:
        return (self.peak - self.start) / 2**20


def test_graph_build_5m_edges(benchmark, dataset_5m):
    benchmark.group = "graph-build"
    ds = open_dataset(dataset_5m)
    peaks, graphs, cpu = [], [], []

    def build():
        graphs.clear()  # drop the previous graph before measuring the next build
        with _PeakRSS() as mem:
            c = time.process_time()
            graphs.append(TemporalGraph.from_dataset(ds))
            cpu.append(time.process_time() - c)
        peaks.append(mem.delta_mib)

    benchmark.pedantic(build, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    g = graphs[0]
    assert g.n_edges == EDGES
    arrays = sum(v.nbytes for v in vars(g).values() if isinstance(v, np.ndarray)) / 2**20
    load = os.getloadavg()[0]
    benchmark.extra_info.update(edges=EDGES, accounts=g.n_nodes, peak_rss_delta_mib=max(peaks),
                                graph_arrays_mib=arrays, cpu_seconds=min(cpu),
                                load_average=load)
    print(f"\ngraph build {EDGES:,} edges / {g.n_nodes:,} accounts (load average {load:.2f}): "
          f"best {benchmark.stats.stats.min:.3f}s wall, {min(cpu):.3f}s CPU, peak RSS "
          f"+{max(peaks):.0f} MiB (graph arrays {arrays:.0f} MiB)")
