"""The analyst report: one self-contained HTML file (inline CSS and SVG, no script, no network).

Sections: dataset summary, detector run summary (counts, seconds, budget cuts), alert counts by
typology, evaluation against ground truth when the dataset has it, the top alerts of every
typology with their evidence, a flow diagram each, mule-ring timelines and hawala bucket
series, and the latest fund trace when one exists.
"""
from __future__ import annotations

import json
from html import escape
from pathlib import Path

import polars as pl

from ..dataset import Dataset
from ..errors import DatasetError
from .svg import ROLE_COLOURS, bar_chart, flow_diagram, fmt_amount, fmt_time, line_chart, timeline

__all__ = ["write_report", "render_report"]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1a202c;
 max-width:1000px;margin:0 auto;padding:16px 24px;background:#fff}
h1{font-size:24px;margin:8px 0}h2{font-size:19px;border-bottom:2px solid #e2e8f0;
 padding-bottom:4px;margin-top:32px}h3{font-size:16px;margin:4px 0}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
td,th{padding:3px 8px;border-bottom:1px solid #e2e8f0;text-align:left;vertical-align:top}
th{background:#f7fafc}td.num{text-align:right;font-variant-numeric:tabular-nums}
.card{border:1px solid #e2e8f0;border-radius:6px;padding:10px 14px;margin:14px 0;
 page-break-inside:avoid;break-inside:avoid}
.score{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-weight:600}
.meta{color:#4a5568}.ev{font-size:12px;color:#2d3748}.ev code{background:#f7fafc;padding:0 3px}
.legend span{display:inline-block;margin-right:12px;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:4px}
svg text{font-family:system-ui,sans-serif}.elabel{font-size:10px;fill:#2d3748}
.nlabel{font-size:10px;fill:#1a202c;text-anchor:middle}.blabel{font-size:11px;fill:#2d3748}
.note{font-size:11px;fill:#718096}details summary{cursor:pointer;color:#2b6cb0}
@media print{body{max-width:none;padding:0}details{display:block}details>*{display:block}
 .card{border-color:#999}}
"""


# typologies whose roles alone give a readable left-to-right picture
_BY_ROLE = {"FAN_OUT", "FAN_IN", "SCATTER_GATHER", "GATHER_SCATTER", "BIPARTITE", "STRUCTURING",
            "PASS_THROUGH", "MULE_RING"}


def _score_badge(score: float) -> str:
    hue = 120 - int(120 * max(0.0, min(1.0, score)))
    return f'<span class="score" style="background:hsl({hue},60%,40%)">{score:.2f}</span>'


def _table(df: pl.DataFrame, max_rows: int = 50) -> str:
    if df.height == 0:
        return "<p class=meta>(none)</p>"
    head = "".join(f"<th>{escape(c)}</th>" for c in df.columns)
    body = []
    for row in df.head(max_rows).iter_rows():
        cells = []
        for v in row:
            if isinstance(v, bool):
                cells.append(f"<td>{'yes' if v else ''}</td>")
            elif isinstance(v, float):
                cells.append(f'<td class="num">{v:,.2f}</td>' if abs(v) >= 1 or v == 0
                             else f'<td class="num">{v:.3f}</td>')
            elif isinstance(v, int):
                cells.append(f'<td class="num">{v:,}</td>')
            else:
                cells.append(f"<td>{escape('' if v is None else str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = (f"<p class=meta>{df.height - max_rows:,} more rows not shown</p>"
            if df.height > max_rows else "")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>{more}"


def _legend() -> str:
    return '<p class="legend">' + "".join(
        f'<span><i style="background:{c}"></i>{r}</span>' for r, c in ROLE_COLOURS.items()) + "</p>"


def _evidence_html(ev: dict) -> tuple[str, dict[str, list[float]]]:
    """Scalar evidence as a compact list; numeric series (>= 3 values) returned for charts."""
    items, series = [], {}
    for k in sorted(ev):
        v = ev[k]
        if k == "params" and isinstance(v, dict):
            txt = ", ".join(f"{pk}={pv}" for pk, pv in sorted(v.items()))
            items.append(f"<li><b>thresholds</b>: <code>{escape(txt)}</code></li>")
        elif isinstance(v, list) and len(v) >= 3 and all(isinstance(x, (int, float)) for x in v) \
                and "series" in k:
            series[k] = v
        elif isinstance(v, (list, dict)):
            txt = json.dumps(v)
            if len(txt) > 240:
                txt = txt[:237] + "…"
            items.append(f"<li><b>{escape(k)}</b>: <code>{escape(txt)}</code></li>")
        else:
            items.append(f"<li><b>{escape(k)}</b>: {escape(str(v))}</li>")
    return f'<ul class="ev">{"".join(items)}</ul>', series


def _tracking_band(ev: dict) -> tuple[int, int] | None:
    """The tracking window (HAWALA_NETTING evidence) as bucket indices of the series."""
    win, t0, b = ev.get("tracking_window"), ev.get("series_start_ts"), ev.get("bucket_seconds")
    if not isinstance(win, dict) or t0 is None or not b:
        return None
    return (win["start"] - t0) // b, (win["end"] - t0) // b


def _alert_card(alert: dict, members: pl.DataFrame, txns: pl.DataFrame) -> str:
    ev = json.loads(alert["evidence"] or "{}")
    ev_html, series = _evidence_html(ev)
    nodes = [(a, aid, r) for a, aid, r in members.select("account", "account_id", "role").iter_rows()]
    tx = [(s, d, t, amt) for s, d, t, amt in txns.select("src", "dst", "ts_s", "amount").iter_rows()]
    names = dict(txns.select("src", "src_id").iter_rows()) | dict(txns.select("dst", "dst_id").iter_rows())
    pic = flow_diagram(nodes, tx, labels=names, by_role=alert["typology"] in _BY_ROLE)
    extra = ""
    if series:
        extra += "<h3>Bucket series</h3>" + line_chart(series, band=_tracking_band(ev),
                                                          band_label="tracking window")
    if alert["typology"] in ("MULE_RING", "PASS_THROUGH"):
        labels = {a: aid for a, aid, _ in nodes}
        role_order = {"controller": 0, "source": 1, "mule": 2, "intermediary": 2, "sink": 3}
        lanes = sorted(((aid, r) for _, aid, r in nodes), key=lambda x: (role_order.get(x[1], 2), x[0]))
        tl = [(labels.get(s, ""), labels.get(d, ""), t, amt) for s, d, t, amt in tx]
        extra += "<h3>Timeline</h3>" + timeline(lanes, tl)
    tx_table = txns.select(
        pl.col("step"), pl.col("txn_id"),
        pl.from_epoch("ts_s", "s").dt.strftime("%Y-%m-%d %H:%M").alias("time"),
        pl.col("src_id").alias("from"), pl.col("dst_id").alias("to"), pl.col("amount"))
    span_h = (alert["end_ts"] - alert["start_ts"]).total_seconds() / 3600
    return (
        f'<div class="card" id="{escape(alert["alert_id"])}"><h3>{escape(alert["alert_id"])} '
        f'{_score_badge(alert["score"])}</h3>'
        f'<p class="meta">{alert["n_accounts"]} accounts, {alert["n_transactions"]} transactions, '
        f'{fmt_amount(alert["total_amount"])} total, '
        f'{alert["start_ts"]:%Y-%m-%d %H:%M} → {alert["end_ts"]:%Y-%m-%d %H:%M} UTC '
        f'({span_h:.1f} h)</p>{pic}{extra}{ev_html}'
        f'<details><summary>transactions</summary>{_table(tx_table, 60)}</details></div>'
    )


def _trace_section(ds: Dataset) -> str:
    """The latest fund trace: run settings, top reached accounts, and the top value paths."""
    try:
        tdir = ds.run_dir(containing="trace")
    except DatasetError:
        return ""
    acc = pl.read_parquet(tdir / "trace.parquet")
    info = json.loads((tdir / "run.json").read_text()) if (tdir / "run.json").is_file() else {}
    seeds = info.get("seeds") or {}
    seed_ids = set(seeds.get("accounts", [])) if isinstance(seeds, dict) else set(seeds)
    settings = {k: info[k] for k in ("direction", "rule", "since", "until", "max_hops",
                                     "min_amount") if info.get(k) is not None}
    html = [f"<h2>Fund trace ({escape(tdir.name)})</h2>",
            f"<p class=meta>seeds: {escape(', '.join(sorted(seed_ids)) or str(seeds))} · "
            f"{escape(', '.join(f'{k}={v}' for k, v in settings.items()))}</p>"]
    shown = [c for c in ("account_id", "seed", "min_hops", "traced_in", "held", "traced_out",
                         "first_ts", "last_ts") if c in acc.columns]
    sort_col = "traced_in" if "traced_in" in acc.columns else acc.columns[0]
    html.append(_table(acc.sort(sort_col, descending=True).select(shown), 25))
    paths_file = tdir / "trace_paths.parquet"
    if paths_file.is_file():
        paths = pl.read_parquet(paths_file)
        if {"src_id", "dst_id", "ts"} <= set(paths.columns) and paths.height:
            value = "tainted" if "tainted" in paths.columns else "amount"
            ids = sorted(set(paths["src_id"].to_list()) | set(paths["dst_id"].to_list()))
            index = {a: i for i, a in enumerate(ids)}
            nodes = [(index[a], a, "source" if a in seed_ids else "intermediary") for a in ids]
            tx = [(index[s], index[d], int(t), float(v)) for s, d, t, v in
                  zip(paths["src_id"], paths["dst_id"], paths["ts"].dt.epoch("s"), paths[value])]
            html.append(f"<h3>Paths that carried the most value ({value} amounts)</h3>"
                        + flow_diagram(nodes, tx))
    return "".join(html)


def _evaluation_section(ds: Dataset, run: str) -> str:
    if not ds.has_truth():
        return ""
    try:
        from ..evaluate import evaluate
    except ImportError:  # pragma: no cover - evaluate ships with the package
        return ""
    try:
        table = evaluate(ds, run=run)
    except DatasetError as exc:
        return f"<h2>Evaluation against ground truth</h2><p class=meta>{escape(str(exc))}</p>"
    return "<h2>Evaluation against ground truth</h2>" + _table(table, 40)


def render_report(ds: Dataset, run: str | None = None, *, per_typology: int = 3,
                  max_alerts: int = 40) -> str:
    """The report as an HTML string (see module doc). Reads only the tables it shows."""
    run_dir = ds.run_dir(run, containing="alerts")
    alerts = pl.read_parquet(run_dir / "alerts.parquet")
    members = pl.read_parquet(run_dir / "alert_accounts.parquet")
    alert_tx = pl.read_parquet(run_dir / "alert_transactions.parquet")
    summary = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").is_file() else {}
    m = ds.meta
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8>"
             f"<meta name=viewport content='width=device-width,initial-scale=1'>"
             f"<title>finflow report: {escape(ds.path.name)}</title><style>{_CSS}</style></head><body>",
             f"<h1>finflow report — {escape(ds.path.name)}</h1>",
             f"<p class=meta>run {escape(run_dir.name)} · {m.get('transactions', 0):,} transactions · "
             f"{m.get('accounts', 0):,} accounts · {m['time_range'][0]} → {m['time_range'][1]} · "
             f"amounts in {escape(ds.base_currency)}</p>"]
    counts = (alerts.group_by("typology").agg(pl.len().alias("alerts"),
                                             pl.col("score").max().alias("max_score"),
                                             pl.col("total_amount").sum().alias("total_amount"))
              .sort(["alerts", "typology"], descending=[True, False]))
    parts.append("<h2>Alerts by typology</h2>")
    parts.append(bar_chart([(t, float(n)) for t, n in counts.select("typology", "alerts").iter_rows()]))
    det = summary.get("detectors", {})
    if det:
        runs = pl.DataFrame([{"typology": t, "alerts": d.get("alerts", 0), "seconds": d.get("seconds", 0.0),
                              "budget_cut": int(d.get("budget_cut", 0))} for t, d in det.items()])
        parts.append(_table(runs))
        if runs["budget_cut"].sum():
            parts.append("<p><b>Budgets cut some results short</b>: see run.json; raise them with "
                         "<code>finflow detect --set</code>.</p>")
    parts.append(_evaluation_section(ds, run_dir.name))
    chosen = (alerts.with_columns(pl.col("score").rank("ordinal", descending=True)
                                  .over("typology").alias("_rank"))
              .filter(pl.col("_rank") <= per_typology).drop("_rank")
              .sort(["score", "alert_id"], descending=[True, False]).head(max_alerts))
    ids = chosen["alert_id"]
    m_sel = members.filter(pl.col("alert_id").is_in(ids.implode()))
    t_sel = alert_tx.filter(pl.col("alert_id").is_in(ids.implode()))
    tx = (ds.transactions().filter(pl.col("txn_id").is_in(t_sel["txn_id"].unique().implode()))
          .select("txn_id", pl.col("ts").dt.epoch("s").alias("ts_s"), "src", "dst", "amount")
          .collect())
    acc = ds.accounts().select("account", "account_id").filter(
        pl.col("account").is_in(pl.concat([tx["src"], tx["dst"]]).unique().implode())).collect()
    tx = (tx.join(acc.rename({"account": "src", "account_id": "src_id"}), on="src", how="left")
          .join(acc.rename({"account": "dst", "account_id": "dst_id"}), on="dst", how="left"))
    t_sel = t_sel.join(tx, on="txn_id", how="left")
    parts.append(f"<h2>Top alerts ({chosen.height}: up to {per_typology} per typology)</h2>")
    parts.append(_legend())
    by_type = {}
    for alert in chosen.iter_rows(named=True):
        by_type.setdefault(alert["typology"], []).append(alert)
    for typ in counts["typology"]:
        if typ not in by_type:
            continue
        parts.append(f"<h2>{escape(typ)}</h2>")
        for alert in by_type[typ]:
            aid = alert["alert_id"]
            parts.append(_alert_card(alert, m_sel.filter(alert_id=aid),
                                     t_sel.filter(alert_id=aid).sort("step")))
    parts.append(_trace_section(ds))
    parts.append("<p class=meta>Generated by finflow. Scores are in [0, 1]; each typology's "
                 "score is documented in its detector. Evidence lists the thresholds used.</p>")
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p)


def write_report(ds: Dataset | str | Path, run: str | None = None, out: str | Path = "report.html",
                 **kwargs) -> Path:
    """Write the HTML report of ``run`` (default: latest run with alerts) to ``out``."""
    from ..api import as_dataset
    out = Path(out)
    out.write_text(render_report(as_dataset(ds), run, **kwargs), encoding="utf-8")
    return out


from .._callable import make_module_callable  # noqa: E402

make_module_callable(__name__, "write_report")
