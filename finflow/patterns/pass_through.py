"""PASS_THROUGH: accounts that repeatedly forward most of what they receive, quickly.

Definition (shared/TYPOLOGIES.md, made precise in ``finflow._kernels.flow``): inflows are
matched FIFO to the account's outflows at most ``max_dwell`` seconds later and grouped into
episodes; an episode qualifies when it forwards >= ``min_ratio`` of its inflow. An account is
PASS_THROUGH when it has >= ``min_episodes`` qualifying episodes and keeps a low balance: its
retained balance (running balance from an unknown opening balance taken as 0, floored at 0)
is at most ``max_retained_share`` of everything it received.

One alert per account. Members: the account (``mule``), the payers of its qualifying
episodes (``source``) and their payees (``sink``; an account that both paid and was paid is
listed once, as ``source``). Transactions: every inflow and matched outflow of its
qualifying episodes, in time order.

Score (each term in [0, 1], monotone in its evidence)::

    0.30 * flow_through_ratio            matched within dwell / total received
  + 0.25 * speed                         1 - median episode dwell / max_dwell
  + 0.25 * n / (n + 3)                   n = qualifying episodes - min_episodes + 1
  + 0.20 * (1 - retained / received)     low balance

Legitimate look-alikes and why they score low or do not alert: payroll accounts spend their
salary over weeks (little matched within 48 h, episodes do not qualify); merchants keep
their takings (high retained balance); a business that sweeps its takings to a treasury
account the same day does pass through and is an expected, low-priority alert.

Complexity: O(E) for the kernel after the graph's CSR sort, O(T log T) to assemble the T
evidence transactions.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..alerts import ROLE_CODE, Detection, make_alerts
from ..config import PassThroughConfig
from ..graph import TemporalGraph
from ._common import saturate, speed_score

__all__ = ["detect_pass_through", "FlowProfile", "flow_profile", "EpisodeEvidence"]


@dataclass(frozen=True)
class FlowProfile:
    """Output of the pass-through kernel (see finflow._kernels.flow for definitions).

    Per account (N): total_in, total_out, matched, retained (base currency), n_qualifying,
    median_dwell (seconds, NaN when no qualifying episode), ep_ptr (int64[N+1]).
    Per episode (P): ep_account, ep_start, ep_end (seconds), ep_inflow, ep_forwarded,
    ep_dwell (seconds), ep_in_lo/hi, ep_out_lo/hi (row ranges into the graph's in_*/out_*),
    ep_qualifying (bool).
    """
    total_in: np.ndarray
    total_out: np.ndarray
    matched: np.ndarray
    retained: np.ndarray
    n_qualifying: np.ndarray
    median_dwell: np.ndarray
    ep_ptr: np.ndarray
    ep_account: np.ndarray
    ep_start: np.ndarray
    ep_end: np.ndarray
    ep_inflow: np.ndarray
    ep_forwarded: np.ndarray
    ep_dwell: np.ndarray
    ep_in_lo: np.ndarray
    ep_in_hi: np.ndarray
    ep_out_lo: np.ndarray
    ep_out_hi: np.ndarray
    ep_qualifying: np.ndarray

    @property
    def flow_through_ratio(self) -> np.ndarray:
        """Matched within the dwell limit / total received, per account (0 when nothing in)."""
        return np.divide(self.matched, self.total_in, out=np.zeros_like(self.matched),
                         where=self.total_in > 0)

    def episode_rows(self, graph: TemporalGraph, episodes: np.ndarray, side: str):
        """(episode, edge index) pairs of the given episodes' inflows (side="in") or matched
        outflows (side="out"), self-loops dropped, grouped by episode in row (time) order."""
        lo = (self.ep_in_lo if side == "in" else self.ep_out_lo)[episodes]
        hi = (self.ep_in_hi if side == "in" else self.ep_out_hi)[episodes]
        ep, row = expand_ranges(episodes, lo, hi)
        nbr = graph.in_nbr if side == "in" else graph.out_nbr
        eid = graph.in_eid if side == "in" else graph.out_eid
        keep = nbr[row] != self.ep_account[ep]
        return ep[keep], eid[row[keep]]


def expand_ranges(owner: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """For ranges [lo_i, hi_i) return (owner repeated, every index in the range). O(output)."""
    lengths = (hi - lo).astype(np.int64)
    total = int(lengths.sum())
    rep = np.repeat(np.arange(lengths.shape[0]), lengths)
    starts = np.cumsum(lengths) - lengths
    idx = np.arange(total, dtype=np.int64) - starts[rep] + lo[rep]
    return np.asarray(owner)[rep], idx


def flow_profile(graph: TemporalGraph, max_dwell: int, min_ratio: float) -> FlowProfile:
    """Run the pass-through kernel over every account of ``graph``. O(E)."""
    from .._kernels.flow import pass_through_flow
    (total_in, total_out, matched, retained, n_q, med, ep_ptr, ep_start, ep_end, ep_inflow,
     ep_fwd, ep_dwell, in_lo, in_hi, out_lo, out_hi) = pass_through_flow(
        graph.in_ptr, graph.in_nbr, graph.in_ts, graph.in_amt, graph.out_ptr, graph.out_nbr,
        graph.out_ts, graph.out_amt, np.int64(max_dwell), np.float64(min_ratio))
    ep_account = np.repeat(np.arange(graph.n_nodes, dtype=np.int32), np.diff(ep_ptr))
    qualifying = (ep_inflow > 0) & (ep_fwd >= min_ratio * ep_inflow)
    return FlowProfile(total_in, total_out, matched, retained, n_q, med, ep_ptr, ep_account,
                       ep_start, ep_end, ep_inflow, ep_fwd, ep_dwell, in_lo, in_hi, out_lo,
                       out_hi, qualifying)


class EpisodeEvidence:
    """JSON-ready episode dicts for many episodes, built from column lists made once.

    ``in_ep``/``in_edge`` and ``out_ep``/``out_edge`` come from :meth:`FlowProfile.episode_rows`
    (grouped by ascending episode). Times are epoch seconds, amounts base currency. Each
    side lists its first ``max_txns`` transactions (``n_in``/``n_out`` count them all; the
    alert's transaction rows always hold every one). O(T).
    """

    def __init__(self, graph: TemporalGraph, prof: FlowProfile, in_ep, in_edge, out_ep, out_edge,
                 max_txns: int = 25):
        self.prof = prof
        self.max_txns = max_txns
        self.in_ep, self.out_ep = in_ep, out_ep
        self.in_cols = (graph.txn_id[in_edge].tolist(), graph.account_id_of(graph.src[in_edge]).to_list(),
                        graph.amt[in_edge].tolist(), graph.ts[in_edge].tolist())
        self.out_cols = (graph.txn_id[out_edge].tolist(), graph.account_id_of(graph.dst[out_edge]).to_list(),
                         graph.amt[out_edge].tolist(), graph.ts[out_edge].tolist())

        # row range of every episode inside the in / out lists (empty for absent episodes)
        every = np.arange(prof.ep_start.shape[0])
        self.bounds = np.stack([np.searchsorted(in_ep, every, "left"),
                                np.searchsorted(in_ep, every, "right"),
                                np.searchsorted(out_ep, every, "left"),
                                np.searchsorted(out_ep, every, "right")], axis=1)

    def __call__(self, episodes: np.ndarray) -> list[dict]:
        p = self.prof
        i_lo, i_hi, o_lo, o_hi = self.bounds[episodes].T.tolist()
        cols = zip(p.ep_start[episodes].tolist(), p.ep_end[episodes].tolist(),
                   p.ep_inflow[episodes].tolist(), p.ep_forwarded[episodes].tolist(),
                   p.ep_dwell[episodes].tolist())
        out = []
        for j, (start, end, inflow, fwd, dwell) in enumerate(cols):
            a, b, c, d = i_lo[j], i_hi[j], o_lo[j], o_hi[j]
            n_in, n_out = b - a, d - c
            b, d = min(b, a + self.max_txns), min(d, c + self.max_txns)
            out.append({
                "start_ts": start, "end_ts": end,
                "inflow": inflow, "forwarded": fwd, "ratio": fwd / inflow,
                "dwell_seconds": dwell, "n_in": n_in, "n_out": n_out,
                "in": {"txn_id": self.in_cols[0][a:b], "from": self.in_cols[1][a:b],
                       "amount": self.in_cols[2][a:b], "ts": self.in_cols[3][a:b]},
                "out": {"txn_id": self.out_cols[0][c:d], "to": self.out_cols[1][c:d],
                        "amount": self.out_cols[2][c:d], "ts": self.out_cols[3][c:d]},
            })
        return out


def detect_pass_through(graph: TemporalGraph, cfg: PassThroughConfig) -> Detection:
    """PASS_THROUGH alerts, one per account (see module doc for definition and score).

    Evidence: flow_through_ratio, median_dwell_seconds, retained_balance, total_in,
    total_out, n_episodes (qualifying) and the first ``max_evidence_episodes`` qualifying
    episodes with their transactions (ids, counterparties, amounts, epoch-second times).
    Stats: candidates (accounts with >= 1 qualifying episode), budget_cut (alerts beyond
    max_results, lowest scores dropped).
    """
    prof = flow_profile(graph, cfg.max_dwell, cfg.min_ratio)
    ratio = prof.flow_through_ratio
    retained_share = np.divide(prof.retained, prof.total_in, out=np.ones_like(prof.retained),
                               where=prof.total_in > 0)
    is_pt = ((prof.n_qualifying >= max(cfg.min_episodes, 1))
             & (retained_share <= cfg.max_retained_share))
    accounts = np.flatnonzero(is_pt).astype(np.int32)
    score_all = (0.30 * ratio
                 + 0.25 * speed_score(np.nan_to_num(prof.median_dwell), cfg.max_dwell)
                 + 0.25 * saturate(prof.n_qualifying - max(cfg.min_episodes, 1) + 1, 3.0)
                 + 0.20 * (1.0 - np.clip(retained_share, 0.0, 1.0)))
    score = score_all[accounts]
    budget_cut = 0
    if accounts.shape[0] > cfg.max_results:
        keep = np.sort(np.lexsort((accounts, -score))[:cfg.max_results])
        budget_cut = int(accounts.shape[0] - keep.shape[0])
        accounts, score = accounts[keep], score[keep]
    stats = {"candidates": int(np.count_nonzero(prof.n_qualifying > 0)),
             "budget_cut": budget_cut, "episodes": int(prof.ep_qualifying.sum())}
    params = dataclasses.asdict(cfg)
    if accounts.shape[0] == 0:
        return Detection(make_alerts(graph, "PASS_THROUGH", [], [0], [], [], [0], []), stats)

    # qualifying episodes of the alerted accounts, grouped by account (episode ids ascend)
    alert_of = np.full(graph.n_nodes, -1, np.int64)
    alert_of[accounts] = np.arange(accounts.shape[0])
    episodes = np.flatnonzero(prof.ep_qualifying & (alert_of[prof.ep_account] >= 0))
    in_ep, in_edge = prof.episode_rows(graph, episodes, "in")
    out_ep, out_edge = prof.episode_rows(graph, episodes, "out")

    # transactions: inflows and matched outflows, per alert in edge (time) order
    tx_alert = np.concatenate([alert_of[prof.ep_account[in_ep]], alert_of[prof.ep_account[out_ep]]])
    tx_edge = np.concatenate([in_edge, out_edge])
    order = np.lexsort((tx_edge, tx_alert))
    tx_alert, tx_edge = tx_alert[order], tx_edge[order]
    txn_ptr = np.searchsorted(tx_alert, np.arange(accounts.shape[0] + 1))

    # members: the mule, then its payers (source), then payees not already payers (sink)
    a_count = accounts.shape[0]
    m_alert = np.concatenate([np.arange(a_count), alert_of[prof.ep_account[in_ep]],
                              alert_of[prof.ep_account[out_ep]]])
    m_acc = np.concatenate([accounts, graph.src[in_edge], graph.dst[out_edge]]).astype(np.int64)
    m_kind = np.concatenate([np.zeros(a_count, np.int64), np.ones(in_edge.shape[0], np.int64),
                             np.full(out_edge.shape[0], 2, np.int64)])
    order = np.lexsort((m_kind, m_acc, m_alert))
    m_alert, m_acc, m_kind = m_alert[order], m_acc[order], m_kind[order]
    first = np.ones(m_alert.shape[0], bool)
    first[1:] = (m_alert[1:] != m_alert[:-1]) | (m_acc[1:] != m_acc[:-1])
    m_alert, m_acc, m_kind = m_alert[first], m_acc[first], m_kind[first]
    order = np.lexsort((m_acc, m_kind, m_alert))
    m_alert, m_acc, m_kind = m_alert[order], m_acc[order], m_kind[order]
    role_of_kind = np.array([ROLE_CODE["mule"], ROLE_CODE["source"], ROLE_CODE["sink"]], np.int8)
    member_ptr = np.searchsorted(m_alert, np.arange(a_count + 1))

    ep_ptr_alert = np.searchsorted(alert_of[prof.ep_account[episodes]], np.arange(a_count + 1))
    episode_evidence = EpisodeEvidence(graph, prof, in_ep, in_edge, out_ep, out_edge)
    account_ids = graph.account_id_of(accounts).to_list()
    evidence = []
    for j, acc in enumerate(accounts.tolist()):
        eps = episodes[ep_ptr_alert[j]:ep_ptr_alert[j + 1]]
        evidence.append({
            "account_id": account_ids[j],
            "flow_through_ratio": float(ratio[acc]),
            "median_dwell_seconds": float(prof.median_dwell[acc]),
            "retained_balance": float(prof.retained[acc]),
            "total_in": float(prof.total_in[acc]), "total_out": float(prof.total_out[acc]),
            "n_episodes": int(eps.shape[0]),
            "episodes": episode_evidence(eps[:cfg.max_evidence_episodes]),
        })
    alerts = make_alerts(graph, "PASS_THROUGH", score, member_ptr, m_acc.astype(np.int32),
                         role_of_kind[m_kind], txn_ptr, tx_edge, evidence=evidence, params=params)
    return Detection(alerts, stats)
