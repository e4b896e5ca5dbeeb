"""The HTML report: content checks, and a real headless browser render when one exists."""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from finflow.alerts import combine, make_alerts
from finflow.cli import main
from finflow.dataset import write_dataset
from finflow.report import render_report, write_report
from finflow.report.svg import flow_diagram


@pytest.fixture
def case_with_alerts(tmp_path) -> Path:
    """A 3-account round trip plus a 1 -> {2,3,4} -> 5 diamond, with one alert each."""
    t0 = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)
    edges = [("a", "b", 0, 1000.0), ("b", "c", 1, 950.0), ("c", "a", 2, 900.0),
             ("s", "m1", 3, 500.0), ("s", "m2", 3, 510.0), ("s", "m3", 4, 490.0),
             ("m1", "t", 6, 480.0), ("m2", "t", 7, 500.0), ("m3", "t", 8, 470.0)]
    n = len(edges)
    raw = pl.DataFrame({
        "txn_id": np.arange(1, n + 1), "ts": [t0 + dt.timedelta(hours=h) for _, _, h, _ in edges],
        "src_id": [e[0] for e in edges], "dst_id": [e[1] for e in edges],
        "amount": [e[3] for e in edges], "amount_orig": [e[3] for e in edges],
        "currency": ["GBP"] * n, "channel": ["wire"] * n, "src_bank": ["B1"] * n,
        "dst_bank": ["B2"] * n, "src_country": ["UK"] * n, "dst_country": ["IQ"] * n,
        "label": [1] * n}, schema_overrides={"ts": pl.Datetime("us", "UTC"), "label": pl.Int8})
    ds = write_dataset(tmp_path / "case.finflow", raw, meta={"base_currency": "GBP"})
    g = ds.graph()
    idx = {aid: i for i, aid in enumerate(g.account_ids.to_list())}
    cyc = make_alerts(g, "CYCLE", [0.9], [0, 3], [idx["a"], idx["b"], idx["c"]], [0, 2, 2],
                      [0, 3], [0, 1, 2], evidence=[{"value_kept": 0.9}])
    sg_acc = [idx[x] for x in ("s", "m1", "m2", "m3", "t")]
    sg = make_alerts(g, "SCATTER_GATHER", [0.7], [0, 5], sg_acc, [0, 2, 2, 2, 1], [0, 6],
                     [3, 4, 5, 6, 7, 8], evidence=[{
                         "series_in": [1, 2, 3, 2], "series_start_ts": 1_000, "bucket_seconds": 10,
                         "tracking_window": {"start": 1_010, "end": 1_030}}])
    run = ds.new_run_dir()
    combine([cyc, sg]).write(run)
    (run / "run.json").write_text(json.dumps({"detectors": {
        "CYCLE": {"alerts": 1, "seconds": 0.01, "budget_cut": 0},
        "SCATTER_GATHER": {"alerts": 1, "seconds": 0.01, "budget_cut": 2}}}))
    return ds.path


def test_report_shows_every_alert_with_a_picture_and_evidence(case_with_alerts):
    from finflow.dataset import open_dataset
    html = render_report(open_dataset(case_with_alerts))
    for aid in ("CYCLE-000001", "SCATTER_GATHER-000001"):
        assert f'id="{aid}"' in html
    assert html.count('class="flow"') == 2          # one flow diagram per alert
    assert 'class="chart"' in html                    # the numeric series drawn as a chart
    assert html.count('class="band"') == 1             # its tracking window (buckets 1..2) shaded
    assert "value_kept" in html and "Budgets cut some results short" in html
    assert ">a<" in html and ">m2<" in html            # account ids label the nodes
    # self-contained: nothing is loaded from anywhere
    assert not re.search(r'(src|href)\s*=\s*["\']?https?:', html)
    assert "<script" not in html


def test_ring_is_drawn_as_a_ring_and_diamond_in_layers():
    ring = flow_diagram([(0, "a", "source"), (1, "b", "intermediary"), (2, "c", "intermediary")],
                        [(0, 1, 0, 10.0), (1, 2, 1, 9.0), (2, 0, 2, 8.0)])
    cy = [float(y) for y in re.findall(r'<circle cx="[\d.]+" cy="([\d.]+)"', ring)]
    assert len(set(round(y) for y in cy)) == 2  # top node, two below on a circle
    diamond = flow_diagram([(0, "s", "source"), (1, "m1", "intermediary"),
                            (2, "m2", "intermediary"), (3, "t", "sink")],
                           [(0, 1, 0, 5.0), (0, 2, 0, 5.0), (1, 3, 1, 5.0), (2, 3, 1, 5.0)])
    cx = [float(x) for x in re.findall(r'<circle cx="([\d.]+)"', diamond)]
    assert len(set(round(x) for x in cx)) == 3  # source, intermediaries, sink columns


def test_cli_report_writes_file(case_with_alerts, tmp_path):
    out = tmp_path / "r.html"
    res = CliRunner().invoke(main, ["report", str(case_with_alerts), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text().startswith("<!doctype html>")


def test_cli_report_without_runs_is_one_line_error(tmp_path, case_with_alerts):
    shutil.rmtree(case_with_alerts / "results")
    res = CliRunner().invoke(main, ["report", str(case_with_alerts), "-o", str(tmp_path / "x.html")])
    assert res.exit_code == 1
    assert "no result run" in res.output and len(res.output.strip().splitlines()) == 1


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


def _png_distinct_rows(data: bytes) -> int:
    """Number of distinct raw scanlines of a PNG (a blank page has very few)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, bpp = 8, b"", 0, 4
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, _h, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8
            bpp = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = 1 + width * bpp
    return len({raw[i + 1:i + stride] for i in range(0, len(raw), stride)})


@pytest.mark.browser
def test_report_renders_in_headless_chromium(case_with_alerts, tmp_path):
    browser = _browser()
    if browser is None:
        pytest.skip("no chromium on this machine (.ci/run installs Debian's chromium)")
    html = write_report(case_with_alerts, None, tmp_path / "report.html")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    url = html.resolve().as_uri()
    dom = subprocess.run([browser, *flags, "--dump-dom", url], capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<svg") >= 3
    console_errors = [ln for ln in dom.stderr.splitlines()
                      if "CONSOLE" in ln and ("error" in ln.lower() or "uncaught" in ln.lower())]
    assert console_errors == []
    png = tmp_path / "shot.png"
    shot = subprocess.run([browser, *flags, "--hide-scrollbars", "--window-size=1100,1400",
                           f"--screenshot={png}", url], capture_output=True, text=True, timeout=120)
    assert shot.returncode == 0 and png.is_file(), shot.stderr[-2000:]
    assert _png_distinct_rows(png.read_bytes()) > 50
