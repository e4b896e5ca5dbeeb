"""Fund tracing: hand-worked examples per rule, kernel == naive twin, conservation."""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from finflow.errors import FinflowError, InputError
from finflow.trace import parse_time, replay, trace
from tests.graphs import H, T0, graph
from tests.naive.trace import naive_trace
from tests.strategies import relabel, temporal_graphs

RULES = ("proportional", "fifo", "lifo")
S, X, A, B, C = 0, 1, 2, 3, 4          # seed, clean outsider, intermediaries


def traced(res) -> dict[str, float]:
    """account_id -> traced_in of a TraceResult, for accounts that received taint."""
    got = res.accounts.filter(res.accounts["traced_in"] > 0)
    return dict(zip(got["account_id"], got["traced_in"]))


def row(res, account: int) -> dict:
    rows = res.accounts.filter(res.accounts["account"] == account).to_dicts()
    assert len(rows) == 1, f"account {account} not in the result"
    return rows[0]


# -- hand-worked examples -------------------------------------------------------------------
def clean_then_tainted():
    """X pays A 100 (clean), then seed S pays A 100, then A pays B 100."""
    return graph([(X, A, 0, 100.0), (S, A, 1, 100.0), (A, B, 2, 100.0)], n=5)


@pytest.mark.parametrize("rule, to_b, held_a", [
    ("proportional", 50.0, 50.0),  # A is half tainted when it pays
    ("fifo", 0.0, 100.0),          # the clean 100 arrived first and leaves first
    ("lifo", 100.0, 0.0),          # the tainted 100 arrived last and leaves first
])
def test_fifo_lifo_and_proportional_diverge(rule, to_b, held_a):
    res = trace(clean_then_tainted(), str(S), rule=rule)
    assert traced(res).get(str(B), 0.0) == to_b
    assert row(res, A)["held"] == held_a
    assert row(res, A)["traced_in"] == 100.0
    assert row(res, S)["originated"] == 100.0


def partial_lots():
    """S pays A 60, X pays A 40, then A pays B 50 and C 50."""
    return graph([(S, A, 0, 60.0), (X, A, 1, 40.0), (A, B, 2, 50.0), (A, C, 3, 50.0)], n=5)


@pytest.mark.parametrize("rule, to_b, to_c", [
    ("proportional", 30.0, 30.0),  # 60% tainted: 30 of B's 50; then 30 of the remaining 50
    ("fifo", 50.0, 10.0),          # B's 50 comes from S's lot; C gets the rest of it + 40 clean
    ("lifo", 10.0, 50.0),          # B's 50 is X's 40 clean + 10 of S's lot; C gets S's last 50
])
def test_partial_lots_per_rule(rule, to_b, to_c):
    res = trace(partial_lots(), str(S), rule=rule)
    got = traced(res)
    assert got[str(B)] == pytest.approx(to_b)
    assert got[str(C)] == pytest.approx(to_c)
    assert row(res, A)["held"] == pytest.approx(0.0)


@pytest.mark.parametrize("rule", RULES)
def test_overdraft_beyond_known_balance_is_clean(rule):
    # A received 100 tainted and sends 150: the extra 50 is clean opening balance.
    res = trace(graph([(S, A, 0, 100.0), (A, B, 1, 150.0)], n=5), str(S), rule=rule)
    assert traced(res)[str(B)] == 100.0
    assert row(res, A)["held"] == 0.0


@pytest.mark.parametrize("rule", RULES)
def test_money_cycling_back_to_a_seed_is_not_counted_twice(rule):
    g = graph([(S, A, 0, 100.0), (A, S, 1, 100.0), (S, B, 2, 100.0)], n=5)
    res = trace(g, str(S), rule=rule)
    assert res.summary["totals"]["seed_outflow"] == 200.0
    assert res.summary["totals"]["originated"] == 100.0   # the second 100 reuses the first
    assert traced(res) == {str(B): 100.0, str(A): 100.0, str(S): 100.0}
    assert row(res, S)["held"] == 0.0 and row(res, B)["held"] == 100.0


@pytest.mark.parametrize("rule", RULES)
def test_seed_transaction_taints_only_its_amount(rule):
    # txn 0: X -> A 100 is the seed; A also got 100 clean from C earlier; A pays B 200.
    g = graph([(C, A, 0, 100.0), (X, A, 1, 100.0), (A, B, 2, 200.0), (X, B, 3, 500.0)], n=5)
    res = trace(g, seed_txns=[1], rule=rule)
    assert traced(res) == {str(A): 100.0, str(B): 100.0}
    assert row(res, X)["originated"] == 100.0 and row(res, X)["seed"]
    assert row(res, X)["min_hops"] == 0 and row(res, B)["min_hops"] == 2


def test_history_before_since_builds_clean_balance():
    # X's 300 to A before the window stays in A's known balance, diluting S's 100.
    g = graph([(X, A, 0, 300.0), (S, A, 2, 100.0), (A, B, 3, 100.0)], n=5)
    res = trace(g, str(S), since=T0 + 1 * H)
    assert traced(res)[str(B)] == pytest.approx(25.0)
    assert res.summary["counts"]["replayed_transactions"] == 3


def test_since_and_until_bound_the_window():
    g = graph([(S, A, 0, 100.0), (S, A, 5, 50.0), (A, B, 10, 30.0)], n=5)
    res = trace(g, str(S), since=T0 + 3 * H, until=T0 + 8 * H)
    assert traced(res) == {str(A): 50.0}
    assert res.summary["totals"]["seed_outflow"] == 50.0
    assert res.summary["counts"]["replayed_transactions"] == 2   # the h10 edge is after until
    iso = trace(g, str(S), since="2023-11-14T22:13:20", until=str(T0 + 8 * H))  # T0, naive = UTC
    assert traced(iso) == traced(trace(g, str(S), until=T0 + 8 * H))


def test_max_hops_stops_taint_and_counts_it():
    g = graph([(S, A, 0, 100.0), (A, B, 1, 100.0), (B, C, 2, 100.0)], n=5)
    res = trace(g, str(S), max_hops=2)
    assert traced(res) == {str(A): 100.0, str(B): 100.0}
    assert row(res, B)["stopped"] == 100.0 and row(res, B)["held"] == 0.0
    assert res.summary["counts"]["stopped_transactions"] == 1
    none = trace(g, str(S), max_hops=0)
    assert none.accounts["traced_in"].sum() == 0.0 and row(none, S)["stopped"] == 100.0


def test_min_amount_drops_small_taints_and_counts_them():
    g = graph([(S, A, 0, 100.0), (A, B, 1, 5.0), (A, C, 2, 95.0)], n=5)
    res = trace(g, str(S), min_amount=10.0)
    assert traced(res) == {str(A): 100.0, str(C): 95.0}
    assert row(res, A)["dropped"] == 5.0
    assert res.summary["counts"]["dropped_transactions"] == 1
    assert res.summary["totals"]["dropped"] == 5.0


@pytest.mark.parametrize("rule", RULES)
def test_backward_finds_where_the_money_came_from(rule):
    # Y(=X) paid A 100, then B paid A 50, then A paid the seed S 60 (A had 150 known).
    g = graph([(X, A, 0, 100.0), (B, A, 1, 50.0), (A, S, 2, 60.0), (A, C, 3, 90.0)], n=5)
    res = trace(g, str(S), backward=True, rule=rule)
    got = traced(res)
    # Reversed replay (latest first, sender and receiver swapped): C's 90 reaches A clean, then
    # the seed's 60 reaches A tainted; going further back, A 'pays' B 50 and then X 100.
    if rule == "proportional":
        # reverse balance of A when meeting B's 50: 90 + 60 = 150, taint 60 -> 20 to B;
        # then X's 100: balance 100, taint 40 -> all 40.
        assert got == pytest.approx({str(A): 60.0, str(B): 20.0, str(X): 40.0})
    elif rule == "fifo":
        # reversed lots at A: [C's 90 clean, S's 60 tainted]; B's 50 takes from C's lot.
        assert got == pytest.approx({str(A): 60.0, str(X): 60.0})
    else:
        # LIFO takes the newest reversed lot (S's 60) first: B's 50, then 10 to X.
        assert got == pytest.approx({str(A): 60.0, str(B): 50.0, str(X): 10.0})
    assert res.summary["direction"] == "backward"


def test_backward_paths_start_at_the_seed():
    g = graph([(X, A, 0, 100.0), (A, B, 1, 100.0), (B, S, 2, 100.0)], n=5)
    res = trace(g, str(S), backward=True)
    p = res.paths.filter(res.paths["path"] == 1).sort("hop")
    assert p["txn_id"].to_list() == [2, 1, 0]
    assert p["tainted"].to_list() == [100.0, 100.0, 100.0]


def test_top_path_follows_the_largest_predecessor():
    # A gets 70 and 30 from two seeds' routes; it forwards 100 to B: path via the 70.
    g = graph([(S, C, 0, 70.0), (C, A, 1, 70.0), (S, X, 2, 30.0), (X, A, 3, 30.0),
               (A, B, 4, 100.0)], n=5)
    for rule in RULES:
        res = trace(g, str(S), rule=rule, top_paths=3)
        best = res.paths.filter(res.paths["path"] == 1).sort("hop")
        assert best["txn_id"].to_list() == [0, 1, 4], rule
        assert best["path_value"][0] == 70.0
        # a path's transactions chain: each one's receiver sends the next
        assert best["dst"].to_list()[:-1] == best["src"].to_list()[1:]


def test_seed_with_no_outflows_gives_an_explained_empty_result():
    res = trace(clean_then_tainted(), str(B))
    assert res.accounts.height == 0 and res.paths.height == 0
    assert res.note is not None and "no outgoing transactions" in res.note
    assert "\n" not in res.note


def test_unknown_account_and_transaction_are_one_line_errors():
    g = clean_then_tainted()
    with pytest.raises(InputError, match="unknown account 'nobody'") as err:
        trace(g, ["1", "nobody"])
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="unknown transaction 999"):
        trace(g, seed_txns=[999])
    with pytest.raises(InputError, match="unknown transaction 'abc'"):
        trace(g, seed_txns="abc")
    with pytest.raises(InputError, match="outside"):
        trace(g, seed_txns=[0], since=T0 + 5 * H)
    with pytest.raises(FinflowError, match="unknown rule"):
        trace(g, "1", rule="average")
    with pytest.raises(InputError, match="no seeds"):
        trace(g)


def test_parse_time_accepts_iso_naive_utc_and_epoch():
    assert parse_time("2024-01-01") == 1704067200
    assert parse_time("2024-01-01T00:00:00Z") == 1704067200
    assert parse_time("2024-01-01T01:00:00+01:00") == 1704067200
    assert parse_time("1704067200") == 1704067200
    assert parse_time(1704067200.7) == 1704067200
    with pytest.raises(InputError, match="not a time"):
        parse_time("yesterday", "since")


def test_path_budget_cuts_long_chains_and_reports_it():
    chain = [(i, i + 1, i, 100.0) for i in range(12)]
    res = trace(graph(chain), "0", max_path_hops=5, top_paths=1)
    assert res.paths.height == 5 and res.paths["truncated"].all()
    assert res.paths["dst"].to_list()[-1] == 12
    assert res.summary["budget_cut"] == 1


# -- kernel == naive twin --------------------------------------------------------------------
@st.composite
def trace_cases(draw):
    g = draw(temporal_graphs(max_nodes=6, max_edges=25))
    n, e = g.n_nodes, g.n_edges
    accounts = draw(st.lists(st.integers(0, n - 1), max_size=2, unique=True))
    edges = draw(st.lists(st.integers(0, e - 1), max_size=2, unique=True)) if e else []
    span = (int(g.ts.min()), int(g.ts.max())) if e else (T0, T0)
    since = draw(st.none() | st.integers(span[0] - H, span[1] + H))
    until = draw(st.none() | st.integers(span[0] - H, span[1] + H))
    return dict(g=g, seed_accounts=accounts, seed_edges=edges,
                backward=draw(st.booleans()), rule=draw(st.sampled_from(RULES)),
                since=since, until=until,
                max_hops=draw(st.none() | st.integers(0, 4)),
                min_amount=draw(st.sampled_from([0.0, 0.0, 50.0, 300.0])))


def run_both(case):
    g = case["g"]
    kw = {k: case[k] for k in ("backward", "rule", "since", "until", "max_hops", "min_amount")}
    return (replay(g, case["seed_accounts"], case["seed_edges"], **kw),
            naive_trace(g, case["seed_accounts"], case["seed_edges"], **kw))


@given(trace_cases())
def test_kernel_equals_naive_twin(case):
    r, want = run_both(case)
    g = case["g"]
    replayed = np.flatnonzero(r.position >= 0)
    assert sorted(replayed.tolist()) == sorted(want["edge_taint"])
    for e in replayed:
        assert r.taint[e] == pytest.approx(want["edge_taint"][e], rel=1e-9, abs=1e-9)
        assert r.parent[e] == want["edge_parent"][e]
        if r.taint[e] > 0:
            assert r.value[e] == pytest.approx(want["edge_value"][e], rel=1e-9, abs=1e-9)
    assert set(np.flatnonzero(r.extended).tolist()) == want["extended"]
    for v in range(g.n_nodes):
        w = want["accounts"][v]
        for k in ("traced_in", "traced_out", "held", "originated", "dropped", "stopped"):
            assert getattr(r, k)[v] == pytest.approx(w[k], rel=1e-9, abs=1e-9), (v, k)
        assert r.min_hops[v] == w["min_hops"]
        assert r.n_in[v] == w["n_in"]
        if w["n_in"]:
            assert (r.first_ts[v], r.last_ts[v]) == (w["first_ts"], w["last_ts"])
    c = want["counts"]
    assert (r.counts["tainted_transactions"], r.counts["seed_transactions"],
            r.counts["dropped_transactions"], r.counts["stopped_transactions"]) == (
        c["tainted"], c["forced"], c["dropped"], c["stopped"])


@given(trace_cases())
def test_conservation_per_account_and_overall(case):
    r, _ = run_both(case)
    g = case["g"]
    tol = 1e-7 * (1.0 + g.amt.sum())
    inflow = r.traced_in + r.originated
    outflow = r.held + r.traced_out + r.dropped + r.stopped
    assert np.allclose(inflow, outflow, rtol=0, atol=tol)
    assert r.originated.sum() == pytest.approx(
        r.held.sum() + r.dropped.sum() + r.stopped.sum(), abs=tol)
    # traced value never exceeds what left the seeds, nor any transaction its amount
    assert r.originated.sum() <= g.amt[r.forced].sum() + tol
    assert np.all(r.taint <= g.amt + tol) and np.all(r.taint >= 0)
    assert np.all(r.held >= -tol)
    # every tainted transaction's path is time-respecting and connected
    for e in np.flatnonzero(r.parent >= 0):
        p = r.parent[e]
        assert r.position[p] < r.position[e]
        if case["backward"]:
            assert g.src[p] == g.dst[e] and g.ts[p] >= g.ts[e]
        else:
            assert g.dst[p] == g.src[e] and g.ts[p] <= g.ts[e]


@given(trace_cases(), st.randoms(use_true_random=False))
def test_relabelling_accounts_permutes_the_result(case, rnd):
    g = case["g"]
    perm = np.arange(g.n_nodes)
    rnd.shuffle(perm)
    kw = {k: case[k] for k in ("backward", "rule", "since", "until", "max_hops", "min_amount")}
    r = replay(g, case["seed_accounts"], case["seed_edges"], **kw)
    q = replay(relabel(g, perm), perm[case["seed_accounts"]].tolist() if case["seed_accounts"]
               else [], case["seed_edges"], **kw)
    assert np.array_equal(r.taint, q.taint) and np.array_equal(r.parent, q.parent)
    for k in ("traced_in", "traced_out", "held", "originated", "min_hops", "n_in"):
        assert np.array_equal(getattr(r, k), getattr(q, k)[perm]), k


@given(temporal_graphs(max_nodes=5, max_edges=20), st.sampled_from(RULES))
def test_a_tainted_transaction_carries_at_most_its_amount_and_seed_edges_all(g, rule):
    assume(g.n_edges > 0)
    r = replay(g, [], [0], rule=rule)
    assert r.taint[0] == g.amt[0]
    assert r.originated.sum() == pytest.approx(g.amt[0])


@given(trace_cases())
def test_paths_are_connected_time_respecting_chains_from_a_seed(case):
    g = case["g"]
    assume(case["seed_accounts"] or case["seed_edges"])
    ids = [str(a) for a in case["seed_accounts"]]
    txns = [int(g.txn_id[e]) for e in case["seed_edges"]]
    try:
        res = trace(g, ids or None, seed_txns=txns or None, backward=case["backward"],
                    rule=case["rule"], since=case["since"], until=case["until"],
                    max_hops=case["max_hops"], min_amount=case["min_amount"], top_paths=4)
    except InputError as exc:               # since > until, or a seed txn outside the window
        assert "outside" in str(exc) or "after until" in str(exc)
        return
    r, paths = res.replay, res.paths
    values = paths.group_by("path").agg(pl.col("path_value").first()).sort("path")["path_value"]
    assert values.to_list() == sorted(values.to_list(), reverse=True)
    ends = []
    for (_rank,), p in paths.sort("hop").group_by(["path"], maintain_order=True):
        src, dst, ts = p["src"].to_list(), p["dst"].to_list(), p["ts"].to_list()
        if case["backward"]:
            assert all(src[k] == dst[k + 1] and ts[k] >= ts[k + 1] for k in range(len(src) - 1))
            ends.append(src[-1])
        else:
            assert all(dst[k] == src[k + 1] and ts[k] <= ts[k + 1] for k in range(len(src) - 1))
            ends.append(dst[-1])
        assert p["path_value"][0] == pytest.approx(p["tainted"].min())
        first = np.flatnonzero(g.txn_id == p["txn_id"][0])[0]
        assert r.forced[first]                # chains start with a seed transaction
    assert len(ends) == len(set(ends))        # one chain per reached account
    linked = res.accounts.filter(pl.col("path").is_not_null())
    assert sorted(linked["account"].to_list()) == sorted(ends)
