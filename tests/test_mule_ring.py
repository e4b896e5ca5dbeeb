import json

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finflow._kernels.components import connected_components, link_shared_keys
from finflow.config import MuleRingConfig
from finflow.dataset import open_dataset
from finflow.patterns.mule_ring import detect_mule_rings
from tests import graphs
from tests.naive import components as naive
from tests.strategies import relabel, temporal_graphs


# -- union-find kernel ----------------------------------------------------------------------
@settings(max_examples=80)
@given(n=st.integers(1, 12), data=st.data())
def test_components_match_bfs(n, data):
    edges = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=30))
    a = np.array([e[0] for e in edges], np.int64)
    b = np.array([e[1] for e in edges], np.int64)
    assert connected_components(n, a, b).tolist() == naive.connected_components(n, edges)


def test_components_of_known_graph():
    # {0, 3, 4}, {1}, {2, 5}: labels are the smallest member
    lab = connected_components(6, np.array([4, 3, 5]), np.array([3, 0, 2]))
    assert lab.tolist() == [0, 1, 2, 0, 0, 2]


@settings(max_examples=80)
@given(data=st.data(), n=st.integers(1, 8), window=st.sampled_from([0, 2, 5, 100]),
       max_degree=st.integers(0, 5))
def test_shared_key_links_give_the_same_components_as_all_pairs(data, n, window, max_degree):
    inc = data.draw(st.lists(st.tuples(st.integers(0, 4), st.integers(0, n - 1), st.integers(0, 12)),
                             max_size=30))
    inc_sorted = sorted(inc, key=lambda x: (x[0], x[2]))
    arr = np.array(inc_sorted, np.int64).reshape(-1, 3)
    pa, pb, pk, cut = link_shared_keys(arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy(),
                                       window, max_degree, n)
    want_edges, want_cut = naive.shared_key_edges(inc, window, max_degree)
    assert cut == want_cut
    assert (connected_components(n, pa, pb).tolist()
            == naive.connected_components(n, want_edges))
    # every pair really shares its key within the window
    for a, b, k in zip(pa.tolist(), pb.tolist(), pk.tolist()):
        ta = [t for kk, v, t in inc if kk == k and v == a]
        tb = [t for kk, v, t in inc if kk == k and v == b]
        assert min(abs(x - y) for x in ta for y in tb) <= window


# -- detector ------------------------------------------------------------------------------
def _roles(det, alert=0):
    aid = det.alerts.alerts["alert_id"][alert]
    acc = det.alerts.accounts.filter(pl.col("alert_id") == aid)
    return dict(zip(acc["account"].to_list(), acc["role"].to_list()))


def test_four_mules_fed_by_one_source_paying_one_sink_are_one_ring():
    g = graphs.mule_ring_four(rounds=2)
    det = detect_mule_rings(g, MuleRingConfig())
    assert len(det.alerts) == 1
    assert _roles(det) == {0: "source", 1: "mule", 2: "mule", 3: "mule", 4: "mule", 5: "sink"}
    ev = json.loads(det.alerts.alerts["evidence"][0])
    assert ev["n_mules"] == 4 and ev["shared_sources"] == ["0"] and ev["shared_sinks"] == ["5"]
    assert ev["forwarded_share"] == pytest.approx(0.9)
    assert ev["median_dwell_seconds"] == 2 * 3600
    # each mule's evidence lists its two episodes with their transactions
    for m in ev["mules"]:
        assert m["n_episodes"] == 2
        assert all(e["in"]["from"] == ["0"] and e["out"]["to"] == ["5"] for e in m["episodes"])
    assert det.alerts.alerts["n_transactions"][0] == g.n_edges
    assert det.stats["candidates"] == 4 and det.stats["budget_cut"] == 0


def test_one_round_is_enough_and_two_mules_are_not_a_ring():
    assert len(detect_mule_rings(graphs.mule_ring_four(rounds=1), MuleRingConfig()).alerts) == 1
    two = graphs.graph([(0, m, m, 1000.0) for m in (1, 2)] + [(m, 3, m + 2, 900.0) for m in (1, 2)])
    assert len(detect_mule_rings(two, MuleRingConfig()).alerts) == 0
    assert len(detect_mule_rings(two, MuleRingConfig(min_size=2)).alerts) == 1


def test_ties_must_fall_inside_the_window():
    # three mules share source 0 and sink 9, but each works a week after the previous one
    e = []
    for m in (1, 2, 3):
        e += [(0, m, 200 * m, 1000.0), (m, 9, 200 * m + 2, 900.0)]
    g = graphs.graph(e)
    assert len(detect_mule_rings(g, MuleRingConfig()).alerts) == 0
    assert len(detect_mule_rings(g, MuleRingConfig(window=10 * 86400)).alerts) == 1


def test_a_hub_merchant_shared_by_everyone_does_not_glue_rings():
    # two separate rings (sources 0 and 10, sinks 5 and 15) whose mules also buy at merchant
    # 20 right after forwarding; merchant 20 also takes 100 card payments from others
    e = []
    for base in (0, 10):
        for m in range(1, 5):
            e += [(base, base + m, m, 1000.0), (base + m, base + 5, m + 1, 850.0),
                  (base + m, 20, m + 1, 100.0)]
    e += [(30 + i, 20, i % 50, 20.0) for i in range(100)]
    g = graphs.graph(sorted(e, key=lambda x: x[2]))
    det = detect_mule_rings(g, MuleRingConfig())
    assert len(det.alerts) == 2
    rings = [sorted(k for k, r in _roles(det, i).items() if r == "mule") for i in range(2)]
    assert sorted(rings) == [[1, 2, 3, 4], [11, 12, 13, 14]]
    # with a degree budget below the 8 mules the merchant touches, it is skipped and counted
    det = detect_mule_rings(g, MuleRingConfig(max_hub_degree=7, min_tie_share=0.0))
    assert len(det.alerts) == 2 and det.stats["budget_cut"] >= 1


def test_a_collector_that_forwards_is_the_source():
    # victims 10..13 pay collector 0, which forwards to mules 1..3, who pay sink 5
    e = [(10 + i, 0, 0, 1000.0) for i in range(4)]
    e += [(0, m, 1, 1200.0) for m in (1, 2, 3)]
    e += [(m, 5, 3, 1100.0) for m in (1, 2, 3)]
    det = detect_mule_rings(graphs.graph(e), MuleRingConfig())
    assert len(det.alerts) == 1
    assert _roles(det) == {0: "source", 1: "mule", 2: "mule", 3: "mule", 5: "sink"}


def test_score_grows_with_ring_size():
    def score(k):
        e = [(0, m, m, 1000.0) for m in range(1, k + 1)]
        e += [(m, 99, m + 2, 900.0) for m in range(1, k + 1)]
        return detect_mule_rings(graphs.graph(e, n=100), MuleRingConfig()).alerts.alerts["score"][0]
    assert score(6) > score(4) > score(3)


@settings(max_examples=30)
@given(g=temporal_graphs(max_nodes=8, max_edges=40), seed=st.integers(0, 2**16))
def test_rings_are_invariant_under_relabelling(g, seed):
    perm = np.random.default_rng(seed).permutation(g.n_nodes).astype(np.int32)
    cfg = MuleRingConfig(min_size=2, min_tie_share=0.0)
    a = detect_mule_rings(g, cfg).alerts
    b = detect_mule_rings(relabel(g, perm), cfg).alerts

    def rings(batch, mapping):
        out = set()
        for aid in batch.alerts["alert_id"]:
            acc = batch.accounts.filter(pl.col("alert_id") == aid)
            out.add(frozenset((int(mapping[x]), r) for x, r in zip(acc["account"], acc["role"])))
        return out
    assert rings(a, perm) == rings(b, np.arange(g.n_nodes))


# -- scenario: sample_data/small.finflow -------------------------------------------------
def _truth_scores(case):
    ds = open_dataset(case)
    det = detect_mule_rings(ds.graph(), MuleRingConfig())
    truth = ds.truth().filter(pl.col("typology") == "MULE_RING",
                              pl.col("role").is_in(["source", "mule", "sink"]))
    return ds, det, truth


def test_small_sample_mule_rings_are_found_and_legit_accounts_are_not_rings(small_case):
    ds, det, truth = _truth_scores(small_case)
    aa = det.alerts.accounts.select("alert_id", "account")
    core = truth.select("instance", "account")
    # recall: an instance is found when one alert covers >= half of its core accounts
    cover = (core.join(aa, on="account").group_by("instance", "alert_id").len()
             .join(core.group_by("instance").len().rename({"len": "n_core"}), on="instance"))
    found = cover.filter(pl.col("len") * 2 >= pl.col("n_core"))["instance"].n_unique()
    assert found / core["instance"].n_unique() >= 0.9
    # precision: an alert is right when it names >= 2 core accounts of some planted instance
    all_core = ds.truth().select("instance", "account")
    hits = aa.join(all_core, on="account").group_by("alert_id", "instance").len()
    correct = hits.filter(pl.col("len") >= 2)["alert_id"].n_unique()
    assert correct / len(det.alerts) >= 0.8
    # no ring made mostly of background payroll employers, merchants or remittance businesses
    kinds = ds.accounts().select("account", "kind").collect()
    planted = set(ds.truth()["account"].to_list())
    for aid in det.alerts.alerts["alert_id"]:
        mem = aa.filter(pl.col("alert_id") == aid).join(kinds, on="account")
        legit_biz = mem.filter(pl.col("kind").is_in(["merchant", "msb", "business"])
                               & ~pl.col("account").is_in(list(planted)))
        assert legit_biz.height * 2 < mem.height, aid
