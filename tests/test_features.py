"""ML features: kernels vs their twins, hand-worked examples, GFP agreement, API and CLI."""
from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from finflow._kernels import features as k
from finflow.cli import main
from finflow.features import PATTERNS, bin_labels, compute_features, make_config
from finflow.graph import TemporalGraph
from tests.naive import features as naive
from tests.strategies import relabel, temporal_graphs

H = 3600
SLOTS = 3  # scratch slots of the parallel kernels: any count gives the same result
bins_st = st.lists(st.integers(1, 7), min_size=1, max_size=4, unique=True).map(
    lambda b: np.array(sorted(b), np.int64))
windows = st.sampled_from([1, H, 3 * H, 6 * H, 100 * H])
lengths = st.sampled_from([2, 3, 4, 6])


def edges(g):
    return g.src.tolist(), g.dst.tolist(), g.ts.tolist()


def fan(g, w, bins, outgoing, distinct, slots=SLOTS):
    if outgoing:
        return k.fan_degree_hist(g.out_ptr, g.out_nbr, g.out_ts, g.out_eid, w, bins, distinct,
                                 slots)
    return k.fan_degree_hist(g.in_ptr, g.in_nbr, g.in_ts, g.in_eid, w, bins, distinct, slots)


def tcyc(g, w, bins, max_len, max_degree=10**6, slots=SLOTS):
    return k.temporal_cycle_hist(g.src, g.dst, g.ts, g.out_ptr, g.out_nbr, g.out_ts, g.out_eid,
                                 g.in_ptr, g.in_nbr, g.in_ts, w, bins, max_len, max_degree,
                                 slots)


def scyc(g, w, bins, max_len, max_degree=10**6, max_cycles=10**9, slots=SLOTS):
    return k.simple_cycle_hist(g.src, g.dst, g.ts, g.out_ptr, g.out_nbr, g.out_ts, g.out_eid,
                               g.in_ptr, g.in_nbr, g.in_ts, g.in_eid, w, bins, max_len,
                               max_degree, max_cycles, slots)


def sgat(g, w, bins, max_degree=10**6, slots=SLOTS):
    return k.scatter_gather_hist(g.src, g.dst, g.ts, g.out_ptr, g.out_nbr, g.out_ts, g.out_eid,
                                 g.in_ptr, g.in_nbr, g.in_ts, g.in_eid, w, bins, max_degree,
                                 slots)


def toy(rows, n=None):
    """Graph from (src, dst, hour) rows in the given order (already time-sorted)."""
    src, dst, hrs = zip(*rows)
    return TemporalGraph.from_arrays(np.array(src), np.array(dst),
                                     1_700_000_000 + np.array(hrs) * H, np.ones(len(rows)),
                                     None, n)


def closings(cycles, n_edges):
    """Per closing edge, how many cycles of a twin's cycle list it closes."""
    per_edge = [0] * n_edges
    for e, _length, _members in cycles:
        per_edge[e] += 1
    return per_edge


# -- kernels == twins ---------------------------------------------------------------------
@given(temporal_graphs(), windows, bins_st, st.booleans(), st.booleans(), st.integers(1, 4))
def test_fan_degree_matches_twin(g, w, bins, outgoing, distinct, slots):
    s, d, t = edges(g)
    assert fan(g, w, bins, outgoing, distinct, slots).tolist() == naive.fan_degree_hist(
        s, d, t, w, bins.tolist(), outgoing, distinct)


@given(temporal_graphs(max_edges=22), windows, bins_st, lengths, st.integers(1, 4))
def test_temporal_cycles_match_twin(g, w, bins, max_len, slots):
    s, d, t = edges(g)
    hist, found, skipped = tcyc(g, w, bins, max_len, slots=slots)
    assert hist.tolist() == naive.temporal_cycle_hist(s, d, t, w, bins.tolist(), max_len)
    assert skipped == 0
    assert found == len(naive.temporal_cycles(s, d, t, w, bins.tolist(), max_len))


@given(temporal_graphs(max_edges=22), windows, bins_st, lengths, st.integers(1, 4))
def test_simple_cycles_match_twin(g, w, bins, max_len, slots):
    s, d, t = edges(g)
    hist, found, skipped, cut = scyc(g, w, bins, max_len, slots=slots)
    assert hist.tolist() == naive.simple_cycle_hist(s, d, t, w, bins.tolist(), max_len)
    assert skipped == 0 and cut == 0
    assert found == len(naive.simple_cycles(s, d, t, w, bins.tolist(), max_len))


@given(temporal_graphs(max_edges=22), windows, bins_st, st.integers(1, 4))
def test_scatter_gather_matches_twin(g, w, bins, slots):
    s, d, t = edges(g)
    hist, found, skipped = sgat(g, w, bins, slots=slots)
    assert hist.tolist() == naive.scatter_gather_hist(s, d, t, w, bins.tolist())
    assert skipped == 0


@given(temporal_graphs(), st.randoms(use_true_random=False))
def test_relabelling_keeps_every_histogram(g, rnd):
    perm = np.arange(g.n_nodes, dtype=np.int32)
    rnd.shuffle(perm)
    g2 = relabel(g, perm)
    cfg = make_config(3 * H, vertex_stats=False, account_features=False,
                      temporal_cycle_max_len=4, simple_cycle_max_len=4)
    a, _ = compute_features(g, config=cfg)
    b, _ = compute_features(g2, config=cfg)
    assert a.equals(b)


@given(temporal_graphs(max_edges=20))
def test_budgets_cut_and_report(g):
    bins = np.array([2], np.int64)
    full = scyc(g, 100 * H, bins, 4)[0]
    hist, found, _, cut = scyc(g, 100 * H, bins, 4, max_cycles=1)
    # max_cycles=1: each closing edge counts its first cycle; those with more are cut
    closed = closings(naive.simple_cycles(*edges(g), 100 * H, [2], 4), g.n_edges)
    assert found == sum(1 for c in closed if c >= 1)
    assert cut == sum(1 for c in closed if c >= 2)
    assert np.all(hist <= full)
    if not np.array_equal(hist, full):
        assert cut > 0
    tfull = tcyc(g, 100 * H, bins, 4)[0]
    th, _, skipped = tcyc(g, 100 * H, bins, 4, max_degree=1)
    assert np.all(th <= tfull)
    if not np.array_equal(th, tfull):
        assert skipped > 0


# -- hand-worked examples -------------------------------------------------------------------
def test_fan_out_example():
    # account 0 pays 1, 2, 3, then 1 again, 10 h apart; window 100 h: patterns at each edge
    # have 1, 2, 3, 3 distinct payees; the size-2 pattern credits e0, e1; the two size-3
    # patterns credit e0, e1, e2 and e0..e3
    g = toy([(0, 1, 0), (0, 2, 10), (0, 3, 20), (0, 1, 30)])
    hist = fan(g, 100 * H, np.array([2, 3], np.int64), True, True)
    assert hist.tolist() == [[1, 2], [1, 2], [0, 2], [0, 1]]
    # a left-open window: 100 h apart is outside
    g = toy([(0, 1, 0), (0, 2, 100)])
    assert fan(g, 100 * H, np.array([2], np.int64), True, True).tolist() == [[0], [0]]


def test_temporal_cycle_bundle_counts_once():
    # 0->1 at 1h and 5h, 1->2 at 2h and 6h, 2->0 at 7h: three increasing sequences close the
    # same vertex cycle with the same edge, so it counts once and every edge gets +1
    g = toy([(0, 1, 1), (1, 2, 2), (0, 1, 5), (1, 2, 6), (2, 0, 7)])
    hist, found, _ = tcyc(g, 100 * H, np.array([2, 3, 4], np.int64), 8)
    assert found == 1
    assert hist.tolist() == [[0, 1, 0]] * 5
    # ties never form a temporal cycle
    g = toy([(0, 1, 1), (1, 0, 1)])
    assert tcyc(g, 100 * H, np.array([2], np.int64), 8)[0].sum() == 0


def test_simple_cycle_ignores_time_order():
    # 2->0 at 1h, 1->2 at 2h, 0->1 at 3h: not time-respecting, still one simple 3-cycle
    g = toy([(2, 0, 1), (1, 2, 2), (0, 1, 3)])
    b = np.array([2, 3], np.int64)
    assert scyc(g, 100 * H, b, 8)[0].tolist() == [[0, 1]] * 3
    assert tcyc(g, 100 * H, b, 8)[0].sum() == 0
    assert scyc(g, 100 * H, b, 2)[0].sum() == 0   # length 3 > max_len


def test_scatter_gather_example():
    # 0 pays 1, 2, 3; each pays 9. When 2->9 arrives the pair (0, 9) has 2 intermediaries,
    # when 3->9 arrives 3: the size-2 pattern credits 0->1, 0->2, 1->9, 2->9
    g = toy([(0, 1, 1), (0, 2, 2), (0, 3, 3), (1, 9, 4), (2, 9, 5), (3, 9, 6)], 10)
    hist, found, _ = sgat(g, 100 * H, np.array([2, 3], np.int64))
    assert found == 2
    assert hist.tolist() == [[1, 1], [1, 1], [0, 1], [1, 1], [1, 1], [0, 1]]


def test_bin_labels():
    assert bin_labels("fan_out", [2, 3, 6, 10]) == ["fan_out_2", "fan_out_3_5", "fan_out_6_9",
                                                    "fan_out_10plus"]


# -- vertex stats and account features --------------------------------------------------------
@given(temporal_graphs(max_edges=15))
def test_vertex_stats_match_twin(g):
    tx, _ = compute_features(g, patterns=(), account_features=False)
    s, d, t = edges(g)
    ref = naive.vertex_stats(s, d, [g.amt.tolist(), t])
    names = [c for c in tx.columns if c.startswith("src_out_")]
    assert len(names) == 19
    for e in range(g.n_edges):
        for end, acc in (("src", s[e]), ("dst", d[e])):
            for side in ("out", "in"):
                row = ref[(acc, side)]
                cols = [f"{end}_{side}_{n}" for n in ("fan", "degree", "ratio")] + [
                    f"{end}_{side}_{c}_{x}" for c in ("amount", "ts")
                    for x in ("mean", "sum", "min", "max", "median", "var", "skew", "kurt")]
                got = [tx[c][e] for c in cols]
                np.testing.assert_allclose(got, row, rtol=1e-7, atol=1e-6)


def test_account_features_on_toy():
    # 0 receives 100 from 1 at 0h and forwards 90 to 2 at 1h and 10 to 3 at 2h
    g = TemporalGraph.from_arrays(np.array([1, 0, 0]), np.array([0, 2, 3]),
                                  1_700_000_000 + np.array([0, 1, 2]) * H,
                                  np.array([100.0, 90.0, 10.0]), None, 4)
    _, acc = compute_features(g, patterns=())
    a0 = acc.row(0, named=True)
    assert (a0["n_in"], a0["n_out"], a0["distinct_out"]) == (1, 2, 2)
    assert a0["amount_in"] == 100.0 and a0["amount_out"] == 100.0
    assert a0["pass_through_ratio"] == pytest.approx(1.0)
    assert a0["median_dwell_s"] == pytest.approx((90 * H + 10 * 2 * H) / 100)
    assert a0["entropy_out"] == pytest.approx(1.0) and a0["entropy_in"] == 0.0
    assert acc["pass_through_ratio"][2] == 0.0        # receives 90, forwards nothing
    assert acc["pass_through_ratio"][1] is None       # never receives
    assert acc["median_dwell_s"][1] is None
    assert (a0["last_seen"] - a0["first_seen"]).total_seconds() == 2 * H


def test_compute_features_on_sample(small_case):
    from finflow.dataset import open_dataset
    ds = open_dataset(small_case)
    tx, acc = compute_features(ds, temporal_cycle_max_len=5, simple_cycle_max_len=4)
    g = ds.graph()
    assert tx.height == g.n_edges and tx["txn_id"].to_list() == g.txn_id.tolist()
    assert acc.height == g.n_nodes
    assert acc["n_out"].sum() == g.n_edges == acc["n_in"].sum()
    assert acc["amount_out"].sum() == pytest.approx(float(g.amt.sum()))
    # distinct payees and counterparty entropy, recounted per account
    payees = [Counter() for _ in range(g.n_nodes)]
    for a, b in zip(g.src.tolist(), g.dst.tolist()):
        payees[a][b] += 1
    assert acc["distinct_out"].to_list() == [len(c) for c in payees]
    entropy = [-sum(m / sum(c.values()) * math.log2(m / sum(c.values())) for m in c.values())
               for c in payees]
    np.testing.assert_allclose(acc["entropy_out"].to_numpy(), entropy, rtol=0, atol=1e-12)
    again, acc2 = compute_features(ds, temporal_cycle_max_len=5, simple_cycle_max_len=4)
    assert again.equals(tx) and acc2.equals(acc)    # deterministic to the last bit
    r = acc["pass_through_ratio"].drop_nulls()
    assert r.min() >= 0 and r.max() <= 1 + 1e-9
    for p in PATTERNS:
        assert any(c.startswith(p) for c in tx.columns)


def test_thread_count_does_not_change_features(small_case):
    import numba
    from finflow.dataset import open_dataset
    g = open_dataset(small_case).graph()
    cfg = make_config(vertex_stats=False, account_features=False, temporal_cycle_max_len=5,
                      simple_cycle_max_len=4)
    most = numba.config.NUMBA_NUM_THREADS
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one, _ = compute_features(g, config=cfg)
        numba.set_num_threads(most)
        many, _ = compute_features(g, config=cfg)
    finally:
        numba.set_num_threads(before)
    assert one.equals(many)
    assert sum(one[c].sum() for c in one.columns if c.startswith("temporal_cycle")) > 0


# -- agreement with IBM's Graph Feature Preprocessor ----------------------------------------------
def _gfp_random_graphs(seed, count):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n = int(rng.integers(2, 8))
        m = int(rng.integers(1, 40))
        src = rng.integers(0, n, m)
        dst = rng.integers(0, n, m)
        # distinct times: GFP orders equal-time edges by a rule we could not pin down
        ts = 1_700_000_000 + np.sort(rng.choice(80, m, replace=False)) * 60
        amt = rng.integers(1, 1000, m).astype(float)
        yield TemporalGraph.from_arrays(src, dst, ts, amt, None, n), int(rng.integers(2, 7))


def test_agrees_with_snapml_gfp():
    snapml = pytest.importorskip("snapml", reason="snapml (IBM GFP) is not installed: "
                                 "pip install snapml")
    # consecutive sizes from 2 (GFP's default style): GFP's binning of gapped bins differs
    # from its documentation (see docs/FEATURES.md), with these both readings agree
    bins = [2, 3, 4, 5, 6]
    w = 15 * 60
    for g, max_len in _gfp_random_graphs(7, 60):
        x = np.column_stack([np.arange(g.n_edges), g.src, g.dst, g.ts, g.amt]).astype(float)
        gp = snapml.GraphFeaturePreprocessor()
        gp.set_params({"num_threads": 1, "time_window": -1, "vertex_stats": True,
                       "vertex_stats_tw": w, "vertex_stats_cols": [4],
                       "vertex_stats_feats": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
                       "fan": True, "fan_tw": w, "fan_bins": bins,
                       "degree": True, "degree_tw": w, "degree_bins": bins,
                       "temp-cycle": True, "temp-cycle_tw": w, "temp-cycle_bins": bins,
                       "lc-cycle": True, "lc-cycle_tw": w, "lc-cycle_bins": bins,
                       "lc-cycle_len": max_len, "scatter-gather": False})
        out = gp.transform(x)[:, x.shape[1]:]
        cfg = make_config(w, patterns=("fan", "degree", "temporal_cycle", "simple_cycle"),
                          fan_bins=bins, degree_bins=bins, temporal_cycle_bins=bins,
                          simple_cycle_bins=bins, temporal_cycle_max_len=10**6,
                          simple_cycle_max_len=max_len, account_features=False)
        tx, _ = compute_features(g, config=cfg)
        order = ["fan_in", "fan_out", "degree_in", "degree_out", "temporal_cycle",
                 "simple_cycle"]
        ours = np.column_stack([tx[c].to_numpy() for p in order for c in bin_labels(p, bins)])
        nb = ours.shape[1]
        assert np.array_equal(out[:, :nb].astype(np.int64), ours), list(zip(
            g.src.tolist(), g.dst.tolist(), g.ts.tolist()))
        stat_cols = [f"{end}_{side}_{n}" for end in ("src", "dst") for side in ("out", "in")
                     for n in ("fan", "degree", "ratio") + tuple(
                         f"amount_{s}" for s in ("mean", "sum", "min", "max", "median", "var",
                                                 "skew", "kurt"))]
        np.testing.assert_allclose(tx.select(stat_cols).to_numpy(), out[:, nb:], rtol=1e-9,
                                   atol=1e-9)


# -- CLI -------------------------------------------------------------------------------------
def test_cli_features_writes_files_and_run(small_case, tmp_path):
    out = tmp_path / "f.parquet"
    acc = tmp_path / "a.parquet"
    r = CliRunner().invoke(main, ["features", str(small_case), "-o", str(out),
                                  "--accounts-output", str(acc), "--window", "48h",
                                  "-p", "fan", "-p", "temporal_cycle", "-q"])
    assert r.exit_code == 0, r.output
    tx = pl.read_parquet(out)
    assert "fan_out_2" in tx.columns and "temporal_cycle_3" in tx.columns
    assert not any(c.startswith("simple_cycle") for c in tx.columns)
    assert pl.read_parquet(acc).height > 0
    runs = sorted((small_case / "results").iterdir())
    meta = json.loads((runs[-1] / "run.json").read_text())
    assert meta["command"] == "features" and meta["config"]["fan_window"] == 48 * H
    r = CliRunner().invoke(main, ["sql", str(small_case),
                                  "select count(*) n from features_transactions", "--format",
                                  "json"])
    assert r.exit_code == 0 and json.loads(r.output)[0]["n"] == tx.height
    r = CliRunner().invoke(main, ["features", str(small_case), "-o", str(out), "--window", "0h"])
    assert r.exit_code == 1 and "window" in r.output
