"""Detect-all at scale, and warm CLI start-up (issue 4, item 6). Not in the default test run.

Run:  python -m pytest benchmarks/bench_detect_all.py --benchmark-enable -s

* ``finflow detect`` with every typology on the 5M-transaction scenario seeds/scale.toml
  (generated once into FINFLOW_BENCH_DIR, default /tmp/finflow-bench), in a child process so
  that its wall time and peak RSS (ru_maxrss of the child) are its own. Targets: < 60 s and
  < 4 GB on 2 cores. The peer measured in the same run is the I/O floor: the same child
  process reading transactions.parquet and building the TemporalGraph; the ratio
  detect-all / floor says how much the detectors cost on top of merely loading the data.
* warm start-up: ``finflow detect`` of sample_data/demo.finflow run twice in fresh processes;
  the second run finds numba's cache warm. Target: under 2 s. ``finflow --help`` is timed too.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(os.environ.get("FINFLOW_BENCH_DIR", "/tmp/finflow-bench"))
SCENARIO = os.environ.get("FINFLOW_BENCH_SCENARIO", str(ROOT / "seeds" / "scale.toml"))


def _child(code: str) -> tuple[float, float, str]:
    """Run python -c code in a fresh process: (wall seconds, peak RSS GiB, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far (KiB on Linux)
    return wall, max(peak, before) / 2**20, out.stdout


@pytest.fixture(scope="module")
def scale_case() -> Path:
    case = BENCH_DIR / (Path(SCENARIO).stem + ".finflow")
    if not (case / "meta.json").is_file():
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "finflow", "generate", SCENARIO, "-o", str(case)],
                       check=True)
    shutil.rmtree(case / "results", ignore_errors=True)
    return case


def test_detect_all_at_scale(benchmark, scale_case):
    floor_code = (f"from finflow import open_dataset; g = open_dataset({str(scale_case)!r}).graph(); "
                  f"print(g.n_edges)")
    detect_code = (f"import json; from finflow.api import detect; "
                   f"_, a, s = detect({str(scale_case)!r}); "
                   f"print(json.dumps({{t: [d['alerts'], d['seconds'], d.get('budget_cut', 0)] "
                   f"for t, d in s['detectors'].items()}}))")
    _child(detect_code)  # compile and cache every kernel first: cold compile is not the target
    shutil.rmtree(scale_case / "results", ignore_errors=True)
    floor_wall, floor_rss, n = _child(floor_code)
    result = {}

    def run():
        result["wall"], result["rss"], result["out"] = _child(detect_code)
    benchmark.pedantic(run, rounds=1, iterations=1)
    per = json.loads(result["out"].strip().splitlines()[-1])
    info = {"transactions": int(n), "detect_all_seconds": round(result["wall"], 2),
            "detect_all_peak_rss_gib": round(result["rss"], 2),
            "floor_seconds": round(floor_wall, 2), "floor_peak_rss_gib": round(floor_rss, 2),
            "ratio_to_floor": round(result["wall"] / floor_wall, 2),
            "per_detector": per, "load_avg": os.getloadavg()}
    benchmark.extra_info.update(info)
    print("\n" + json.dumps(info, indent=1))


def test_warm_cli_start_up(benchmark, tmp_path):
    case = tmp_path / "demo.finflow"
    shutil.copytree(ROOT / "sample_data" / "demo.finflow", case)
    cmd = [sys.executable, "-m", "finflow", "detect", str(case), "-q"]
    subprocess.run(cmd, check=True, capture_output=True)  # warms numba's cache
    times = {}

    def run():
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times["detect"] = time.perf_counter() - t0
    benchmark.pedantic(run, rounds=1, iterations=1)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "finflow", "--help"], check=True, capture_output=True)
    times["help"] = time.perf_counter() - t0
    benchmark.extra_info.update({k: round(v, 3) for k, v in times.items()})
    print(f"\nwarm `finflow detect demo`: {times['detect']:.2f}s; `finflow --help`: {times['help']:.2f}s")
