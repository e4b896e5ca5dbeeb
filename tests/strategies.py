"""Hypothesis strategies: small random temporal multigraphs.

They include parallel edges, self-loops, equal timestamps and one-node graphs on purpose.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from finflow.graph import TemporalGraph


@st.composite
def temporal_graphs(draw, max_nodes: int = 7, max_edges: int = 30, max_time: int = 20,
                    time_scale: int = 3600, self_loops: bool = True,
                    amounts: st.SearchStrategy | None = None) -> TemporalGraph:
    """A TemporalGraph with 1..max_nodes accounts and 0..max_edges transactions.

    Times are drawn from a small range (0..max_time) * ``time_scale`` seconds so that ties and
    window boundaries are frequent; amounts default to whole numbers 1..1000.
    """
    n = draw(st.integers(1, max_nodes))
    m = draw(st.integers(0, max_edges))
    node = st.integers(0, n - 1)
    src = draw(st.lists(node, min_size=m, max_size=m))
    dst = draw(st.lists(node, min_size=m, max_size=m))
    if not self_loops:
        dst = [d if d != s else (d + 1) % n for s, d in zip(src, dst)]
        if n == 1:
            src, dst = [], []
            m = 0
    ts = sorted(draw(st.lists(st.integers(0, max_time), min_size=m, max_size=m)))
    amt = draw(st.lists(amounts or st.integers(1, 1000).map(float), min_size=m, max_size=m))
    return TemporalGraph.from_arrays(
        np.array(src, dtype=np.int32), np.array(dst, dtype=np.int32),
        np.array(ts, dtype=np.int64) * time_scale + 1_700_000_000,
        np.array(amt, dtype=np.float64), np.arange(100, 100 + m, dtype=np.int64), n)


def relabel(g: TemporalGraph, perm: np.ndarray) -> TemporalGraph:
    """The same graph with account i renamed perm[i] (edge order and txn ids kept)."""
    return TemporalGraph.from_arrays(perm[g.src], perm[g.dst], g.ts, g.amt, g.txn_id, g.n_nodes)


def alert_sets(det, perm: np.ndarray | None = None) -> set:
    """A Detection's alerts as a set to compare across relabellings: per alert its members as
    (account, role) pairs, accounts renamed ``perm[account]`` when ``perm`` is given, its
    transaction ids and its score."""
    b = det.alerts
    out = set()
    for aid, score in zip(b.alerts["alert_id"], b.alerts["score"]):
        members = b.accounts.filter(alert_id=aid)
        accounts = members["account"].to_numpy()
        if perm is not None:
            accounts = perm[accounts]
        out.add((frozenset(zip(accounts.tolist(), members["role"].to_list())),
                 frozenset(b.transactions.filter(alert_id=aid)["txn_id"].to_list()), score))
    return out
