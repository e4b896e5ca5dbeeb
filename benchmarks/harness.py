"""Side-by-side benchmark: finflow's feature kernels vs IBM's Graph Feature Preprocessor
(snapml) and vs a NetworkX implementation, on the same edges, in one process.

Edges are generated once (a random temporal graph with heavy-tailed Pareto degrees, times in
seconds over ``days`` days) and every contender runs on them. Per pattern family and thread
count (1, 2): finflow = TemporalGraph build + kernel (numba.set_num_threads(t)); GFP =
``GraphFeaturePreprocessor.transform`` on a fresh object with only that pattern enabled and
``num_threads = t`` (it builds its own graph too). finflow's kernels are warmed up on a tiny
graph first; that first call (compile or cache load) is reported separately. Results are
checked for agreement where the definitions coincide (fan/degree, temporal cycles, simple
cycles; scatter-gather differs by definition, see docs/FEATURES.md).

NetworkX peer (cycles only; NetworkX has no temporal-window pattern counting): a sliding
window ``nx.DiGraph`` whose edges carry their transaction lists, and per closing edge
``nx.all_simple_paths(G, v, u, cutoff)``; the same per-edge histograms, checked equal.

Timings are the best of ``--repeat`` runs (default 3) for finflow and GFP, except that GFP
runs longer than ``GFP_LONG_S`` seconds are run once and the ratio then takes finflow's first
run only (the same number of runs on both sides); the NetworkX comparison takes the best
of ``--nx-repeat`` runs (default 5) on both sides. A run of a few milliseconds on a loaded
machine is exposed to one-off scheduler stalls that a multi-second run averages out, hence
the best-of.

    python -m benchmarks                      # defaults: a few minutes on 2 cores
    python -m benchmarks --edges 20000 --nx-edges 1000 --no-write   # quick check (~30 s)
    python -m benchmarks --families temporal_cycle,simple_cycle --no-write
    python -m benchmarks --edges 500000 --nx-edges 5000 --threads 1,2
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from benchmarks._common import heavy_tailed_payments

HERE = Path(__file__).resolve().parent
HOUR = 3600

#: (family, finflow patterns, GFP switches); window/bins/max length shared by both sides
FAMILIES = ("fan_degree", "scatter_gather", "temporal_cycle", "simple_cycle")
#: GFP runs longer than this (seconds) are not repeated
GFP_LONG_S = 5.0


def make_edges(n_edges: int, seed: int = 0, days: int = 60, alpha: float = 1.5):
    """Random temporal graph: Pareto(alpha) sender and receiver weights (hubs), uniform times
    in seconds over ``days`` (ties are rare), amounts log-normal. Returns src, dst, ts, amt
    sorted by time."""
    rng = np.random.default_rng(seed)
    src, dst, ts = heavy_tailed_payments(rng, n_edges, max(n_edges // 8, 50), days, alpha, alpha)
    src, dst = src.astype(np.int32), dst.astype(np.int32)
    ts = 1_700_000_000 + np.sort(ts).astype(np.int64)
    amt = np.round(rng.lognormal(np.log(200.0), 1.0, n_edges), 2)
    return src, dst, ts, amt


def params(args) -> dict:
    return {
        "fan_degree": dict(window=args.fan_window, bins=list(range(2, 31))),
        "scatter_gather": dict(window=args.sg_window, bins=list(range(2, 31))),
        "temporal_cycle": dict(window=args.cycle_window, bins=list(range(2, 11)),
                               max_len=args.max_len),
        "simple_cycle": dict(window=args.cycle_window, bins=list(range(2, 11)),
                             max_len=args.max_len),
    }


# -- finflow ----------------------------------------------------------------------------------
def run_finflow(family, src, dst, ts, amt, p, n_nodes):
    """Build the graph and run the family's kernel(s) with one scratch slot per active numba
    thread (as finflow.features does); returns (histogram columns, seconds)."""
    import numba

    from finflow._kernels import features as k
    from finflow.graph import TemporalGraph
    t0 = time.perf_counter()
    slots = numba.get_num_threads()
    g = TemporalGraph.from_arrays(src, dst, ts, amt, None, n_nodes)
    bins = np.asarray(p["bins"], np.int64)
    w = int(p["window"])
    if family == "fan_degree":
        out = [k.fan_degree_hist(g.in_ptr, g.in_nbr, g.in_ts, g.in_eid, w, bins, True, slots),
               k.fan_degree_hist(g.out_ptr, g.out_nbr, g.out_ts, g.out_eid, w, bins, True, slots),
               k.fan_degree_hist(g.in_ptr, g.in_nbr, g.in_ts, g.in_eid, w, bins, False, slots),
               k.fan_degree_hist(g.out_ptr, g.out_nbr, g.out_ts, g.out_eid, w, bins, False,
                                 slots)]
        hist = np.hstack(out)
    elif family == "scatter_gather":
        hist = k.scatter_gather_hist(g.src, g.dst, g.ts, g.out_ptr, g.out_nbr, g.out_ts,
                                     g.out_eid, g.in_ptr, g.in_nbr, g.in_ts, g.in_eid, w, bins,
                                     10**9, slots)[0]
    elif family == "temporal_cycle":
        hist = k.temporal_cycle_hist(g.src, g.dst, g.ts, g.out_ptr, g.out_nbr, g.out_ts,
                                     g.out_eid, g.in_ptr, g.in_nbr, g.in_ts, w, bins,
                                     p["max_len"], 10**9, slots)[0]
    else:
        hist = k.simple_cycle_hist(g.src, g.dst, g.ts, g.out_ptr, g.out_nbr, g.out_ts,
                                   g.out_eid, g.in_ptr, g.in_nbr, g.in_ts, g.in_eid, w, bins,
                                   p["max_len"], 10**9, 10**9, slots)[0]
    return hist, time.perf_counter() - t0


def warm_up(p):
    """First call of every kernel on a tiny graph: numba compile or cache load, seconds."""
    src, dst, ts, amt = make_edges(200, seed=1)
    t0 = time.perf_counter()
    for fam in FAMILIES:
        run_finflow(fam, src, dst, ts, amt, p[fam], int(max(src.max(), dst.max())) + 1)
    return time.perf_counter() - t0


# -- GFP ----------------------------------------------------------------------------------------
def gfp_available() -> bool:
    try:
        import snapml  # noqa: F401
        return True
    except ImportError:
        return False


def run_gfp(family, src, dst, ts, amt, p, threads):
    from snapml import GraphFeaturePreprocessor
    x = np.column_stack([np.arange(src.shape[0]), src, dst, ts, amt]).astype(np.float64)
    on = {"fan": family == "fan_degree", "degree": family == "fan_degree",
          "scatter-gather": family == "scatter_gather", "temp-cycle": family == "temporal_cycle",
          "lc-cycle": family == "simple_cycle"}
    prm = {"num_threads": threads, "time_window": -1, "vertex_stats": False}
    for name, enabled in on.items():
        prm[name] = enabled
        prm[f"{name}_tw"] = int(p["window"])
        prm[f"{name}_bins"] = list(p["bins"])
    prm["lc-cycle_len"] = int(p.get("max_len", 10))
    gp = GraphFeaturePreprocessor()
    gp.set_params(prm)
    t0 = time.perf_counter()
    out = gp.transform(x)
    return out[:, x.shape[1]:], time.perf_counter() - t0


# -- NetworkX ----------------------------------------------------------------------------------
def run_networkx(family, src, dst, ts, p):
    """The same per-edge cycle histograms with NetworkX (see module doc); seconds."""
    import networkx as nx
    t0 = time.perf_counter()
    e_count = src.shape[0]
    bins = list(p["bins"])
    hist = np.zeros((e_count, len(bins)), np.int64)
    w = int(p["window"])
    max_len = int(p["max_len"])
    G = nx.DiGraph()
    head = 0

    def bin_of(size):
        b = -1
        for i, lo in enumerate(bins):
            if size >= lo:
                b = i
        return b

    for e in range(e_count):
        u, v, t = int(src[e]), int(dst[e]), int(ts[e])
        while head < e and ts[head] < t - w:            # slide the window
            a, b = int(src[head]), int(dst[head])
            if a != b:
                lst = G[a][b]["edges"]
                lst.remove(head)
                if not lst:
                    G.remove_edge(a, b)
            head += 1
        if u != v and G.has_node(u) and G.has_node(v):
            for path in nx.all_simple_paths(G, v, u, cutoff=max_len - 1):
                length = len(path)
                b = bin_of(length)
                if b < 0:
                    continue
                hops = [G[path[i]][path[i + 1]]["edges"] for i in range(length - 1)]
                if family == "temporal_cycle":
                    # earliest arrival forward, latest departure backward (strict times)
                    arr = [t - w - 1]
                    ok = True
                    for hop in hops:
                        nxt = [ts[f] for f in hop if arr[-1] < ts[f] < t]
                        if not nxt:
                            ok = False
                            break
                        arr.append(min(nxt))
                    if not ok:
                        continue
                    latest = [0] * len(hops)
                    bound = t
                    for i in range(len(hops) - 1, -1, -1):
                        latest[i] = max(ts[f] for f in hops[i] if arr[i] < ts[f] < bound)
                        bound = latest[i]
                    members = [f for i, hop in enumerate(hops) for f in hop
                               if arr[i] < ts[f] <= latest[i]]
                else:
                    members = [f for hop in hops for f in hop]
                hist[e, b] += 1
                for f in members:
                    hist[f, b] += 1
        if u != v:
            if G.has_edge(u, v):
                G[u][v]["edges"].append(e)
            else:
                G.add_edge(u, v, edges=[e])
    return hist, time.perf_counter() - t0


# -- report -------------------------------------------------------------------------------------
def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    versions = {}
    for pkg in ("numpy", "numba", "polars", "networkx", "snapml", "finflow"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": mem,
            "python": platform.python_version(), "platform": platform.platform(),
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "load_before": os.getloadavg()[0], "versions": versions}


def _agree(a, b) -> dict:
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    if a.shape != b.shape:
        return {"identical": False, "rows_differing": None}
    rows = int(np.any(a != b, axis=1).sum())
    return {"identical": rows == 0, "rows_differing": rows}


def run(args) -> dict:
    import numba
    p = params(args)
    res = {"machine": machine(), "config": {k: v for k, v in vars(args).items()},
           "params": p, "gfp": [], "networkx": []}
    res["compile_seconds"] = round(warm_up(p), 3)
    print(f"finflow first call (numba compile or cache load): {res['compile_seconds']:.2f}s")
    src, dst, ts, amt = make_edges(args.edges, seed=args.seed)
    n_nodes = int(max(src.max(), dst.max())) + 1
    res["graph"] = {"edges": int(args.edges), "accounts": n_nodes,
                    "max_out_degree": int(np.bincount(src).max()),
                    "max_in_degree": int(np.bincount(dst).max())}
    print(f"edges {args.edges:,}, accounts {n_nodes:,}, max out/in degree "
          f"{res['graph']['max_out_degree']}/{res['graph']['max_in_degree']}")
    have_gfp = gfp_available()
    if not have_gfp:
        print("snapml not importable: GFP comparison skipped (pip install snapml)")
        res["gfp_skipped"] = "snapml not importable"
    threads = [int(t) for t in args.threads.split(",")]
    families = [f for f in FAMILIES if f in args.families.split(",")]
    for fam in families:
        for th in threads:
            numba.set_num_threads(min(th, numba.config.NUMBA_NUM_THREADS))
            secs = []
            for _ in range(args.repeat):
                hist, sec = run_finflow(fam, src, dst, ts, amt, p[fam], n_nodes)
                secs.append(sec)
            best = min(secs)
            row = {"family": fam, "threads": th, "finflow_s": round(best, 4),
                   "finflow_eps": round(args.edges / best), "finflow_runs": args.repeat}
            if have_gfp:
                gbest = None
                runs = 0
                while runs < args.repeat and (gbest is None or gbest <= GFP_LONG_S):
                    out, gsec = run_gfp(fam, src, dst, ts, amt, p[fam], th)
                    gbest = gsec if gbest is None else min(gbest, gsec)
                    runs += 1
                # same number of runs on both sides: best of finflow's first `runs` runs
                fbest = min(secs[:runs])
                row.update(gfp_s=round(gbest, 4), gfp_eps=round(args.edges / gbest),
                           gfp_runs=runs, finflow_s_same_runs=round(fbest, 4),
                           ratio=round(gbest / fbest, 2))
                if fam != "scatter_gather":
                    row["agreement"] = _agree(hist, out)
                else:
                    row["agreement"] = {"identical": None,
                                        "note": "definitions differ (docs/FEATURES.md)"}
            res["gfp"].append(row)
            print(json.dumps(row))
    numba.set_num_threads(1)
    nx_src, nx_dst, nx_ts, nx_amt = make_edges(args.nx_edges, seed=args.seed + 1)
    nxn = int(max(nx_src.max(), nx_dst.max())) + 1
    for fam in [f for f in ("temporal_cycle", "simple_cycle") if f in families]:
        # each side's runs back to back (as pytest-benchmark does), best of nx_repeat
        runs = [run_finflow(fam, nx_src, nx_dst, nx_ts, nx_amt, p[fam], nxn)
                for _ in range(args.nx_repeat)]
        hist, sec = runs[0][0], min(r[1] for r in runs)
        runs = [run_networkx(fam, nx_src, nx_dst, nx_ts, p[fam]) for _ in range(args.nx_repeat)]
        nx_hist, nsec = runs[0][0], min(r[1] for r in runs)
        row = {"family": fam, "edges": int(args.nx_edges), "threads": 1, "runs": args.nx_repeat,
               "finflow_s": round(sec, 5), "networkx_s": round(nsec, 3),
               "finflow_eps": round(args.nx_edges / sec),
               "networkx_eps": round(args.nx_edges / nsec),
               "ratio": round(nsec / sec, 1), "agreement": _agree(hist, nx_hist)}
        res["networkx"].append(row)
        print(json.dumps(row))
    res["machine"]["load_after"] = os.getloadavg()[0]
    return res


def _load_note(m: dict) -> str:
    """Whether other work shared the machine: the load average just before the run (the one
    after includes the run itself)."""
    load = m["load_before"]
    if load < 0.5:
        return "the machine was otherwise idle"
    return (f"the machine was loaded by other jobs (load {load:.1f} on {m['cores']} cores); "
            "timings, 2-thread ones most, are pessimistic")


def markdown(res: dict) -> str:
    m = res["machine"]
    v = m["versions"]
    lines = [
        "# finflow feature benchmarks",
        "",
        "Written by `python -m benchmarks` (benchmarks/harness.py); raw numbers in "
        "benchmarks/results.json. Throughput = transactions per second for one pattern family "
        "(graph build included on both sides); ratio = peer seconds / finflow seconds (> 1: "
        "finflow faster).",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM; "
        f"1-minute load average {m['load_before']:.2f} before, {m.get('load_after', 0):.2f} "
        f"after (this run included): {_load_note(m)}",
        f"- Date: {m['date']}; Python {m['python']}; numpy {v['numpy']}, numba {v['numba']}, "
        f"polars {v['polars']}, networkx {v['networkx']}, snapml {v['snapml']}",
        f"- Graph: {res['graph']['edges']:,} transactions, {res['graph']['accounts']:,} "
        f"accounts, Pareto degrees (max out {res['graph']['max_out_degree']}, max in "
        f"{res['graph']['max_in_degree']}), 60 days",
        f"- Windows: fan/degree {res['params']['fan_degree']['window']} s, scatter-gather "
        f"{res['params']['scatter_gather']['window']} s, cycles "
        f"{res['params']['temporal_cycle']['window']} s, max cycle length "
        f"{res['params']['temporal_cycle']['max_len']}",
        f"- finflow first call (numba compile or cache load, excluded): "
        f"{res['compile_seconds']} s",
        f"- Best of {res['config']['repeat']} runs for finflow and GFP (GFP runs over "
        f"{GFP_LONG_S:g} s run once, and the ratio then uses finflow's first run only; runs per "
        f"row in results.json); NetworkX table: best of "
        f"{res['config']['nx_repeat']} runs on both sides",
        "",
        "## finflow vs IBM Graph Feature Preprocessor (snapml)",
        "",
    ]
    if res.get("gfp_skipped"):
        lines.append(f"Skipped: {res['gfp_skipped']}.")
    lines += ["| pattern | threads | finflow s | GFP s | finflow tx/s | GFP tx/s | ratio | "
              "same numbers |", "|---|---|---|---|---|---|---|---|"]
    for r in res["gfp"]:
        ag = r.get("agreement", {})
        same = ("n/a (definitions differ)" if ag.get("identical") is None else
                "yes" if ag.get("identical") else f"no ({ag.get('rows_differing')} rows)")
        fs = r.get("finflow_s_same_runs", r["finflow_s"])   # the time the ratio uses
        lines.append(f"| {r['family']} | {r['threads']} | {fs} | "
                     f"{r.get('gfp_s', '-')} | {round(res['graph']['edges'] / fs):,} | "
                     f"{r.get('gfp_eps', 0):,} | {r.get('ratio', '-')}x | {same} |")
    lines += ["", "## finflow vs NetworkX (cycles, 1 thread)", "",
              "NetworkX peer: a sliding-window `nx.DiGraph` whose edges carry their "
              "transactions, and `nx.all_simple_paths(G, v, u, cutoff=max_len - 1)` per "
              "closing transaction `u -> v`, then the same bundle rule in Python; its per-edge "
              "histograms are checked equal to finflow's. Its own graph maintenance is timed, "
              "as finflow's graph build is.", "",
              "| pattern | transactions | finflow s | NetworkX s | ratio | same numbers |",
              "|---|---|---|---|---|---|"]
    for r in res["networkx"]:
        same = "yes" if r["agreement"]["identical"] else f"no ({r['agreement']['rows_differing']})"
        lines.append(f"| {r['family']} | {r['edges']:,} | {r['finflow_s']} | "
                     f"{r['networkx_s']} | {r['ratio']}x | {same} |")
    lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--edges", type=int, default=100_000)
    ap.add_argument("--nx-edges", type=int, default=4_000)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeat", type=int, default=3, help="Best of this many runs.")
    ap.add_argument("--nx-repeat", type=int, default=5,
                    help="Best of this many runs in the NetworkX comparison (both sides).")
    ap.add_argument("--families", default=",".join(FAMILIES),
                    help="Comma-separated subset of: " + ", ".join(FAMILIES) + ".")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fan-window", type=int, default=24 * HOUR)
    ap.add_argument("--sg-window", type=int, default=3 * HOUR)
    ap.add_argument("--cycle-window", type=int, default=24 * HOUR)
    ap.add_argument("--max-len", type=int, default=6)
    ap.add_argument("--out-dir", default=str(HERE))
    ap.add_argument("--no-write", action="store_true", help="Print only.")
    args = ap.parse_args(argv)
    res = run(args)
    md = markdown(res)
    print(md)
    if not args.no_write:
        out = Path(args.out_dir)
        (out / "results.json").write_text(json.dumps(res, indent=2) + "\n")
        (out / "RESULTS.md").write_text(md)
        print(f"wrote {out / 'results.json'} and {out / 'RESULTS.md'}", file=sys.stderr)
    return 0
