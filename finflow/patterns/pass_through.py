"""PASS_THROUGH: accounts that repeatedly forward most of what they receive, quickly.

Definition (shared/TYPOLOGIES.md, made precise in ``finflow._kernels.flow``): inflows are
matched FIFO to the account's outflows at most ``max_dwell`` seconds later and grouped into
episodes; an episode qualifies when it forwards >= ``min_ratio`` of its inflow. An account is
a PASS_THROUGH candidate when it has >= ``min_episodes`` qualifying episodes, keeps a low
balance (retained balance - the running balance from an unknown opening balance taken as 0,
floored at 0 - at most ``max_retained_share`` of everything it received) and forwards most
of what it receives: its flow-through ratio (value matched within ``max_dwell`` / value
received) is >= ``min_flow_through``. The last condition is the definition's "forwards at
least ratio of the value it received" at the account level, relaxed because an account has
other activity too; a shop that sweeps some takings to its own account now and then keeps
most of its money beyond two days and is no candidate.

One alert per candidate scoring >= ``min_score`` (the operating point; lower ones are only
counted, stats ``below_min_score``). Members: the account (``mule``), the payers of its
qualifying episodes (``source``) and their payees (``sink``; an account that both paid and
was paid is listed once, as ``source``). Transactions: every inflow and matched outflow of
its qualifying episodes, in time order.

Score (each term in [0, 1] and monotone in its evidence; weights sum to 1)::

    0.10 * flow_through_ratio            matched within dwell / total received
  + 0.15 * speed                         1 - median episode dwell / max_dwell
  + 0.05 * n / (n + 2)                   n = qualifying episodes - min_episodes + 1
  + 0.10 * (1 - retained / received)     low balance
  + 0.30 * F / (F + value_scale)         F = value forwarded in qualifying episodes
  + 0.10 * (1 - regular_payee_share)     counterparty novelty
  + 0.20 * concentration                 (payer HHI + payee HHI) / 2

* ``regular_payee_share``: share of the matched outflows' value paid to payees the account
  pays regularly and for long - at least ``regular_payments`` payments spanning at least
  ``regular_span`` seconds over the whole data (a business settling with its correspondent
  every day, a shop sweeping takings to its own account every week). A mule forwards to
  new counterparties; a long-lived regular relationship is ordinary business.
* ``concentration``: mean of the Herfindahl indices of the qualifying episodes' inflow by
  payer and of their matched outflows by payee (1 for a single counterparty, 1/k for k
  equal ones). An account moving the money of one or a few parties to one or a few others
  is a conduit for them; one collecting small amounts from many unrelated customers and
  remitting them to several correspondents (a money-service business, a marketplace) is
  a collection business.
* ``value`` makes the score a priority: an analyst works the large flows first.

The weights and ``min_score`` = 0.55 were chosen on sample_data/demo, sample_data/small and
a demo variant with another seed, where they separate planted pass-through accounts (and
the planted mules, mirror fronts and other laundering intermediaries that also pass money
through) from most money-service businesses forwarding customers' remittances and shops:
recall 1.0 on all three and precision 0.86-0.95 (0.5 drops precision to 0.66-0.86; 0.6
misses one small planted account on small). Set ``min_score`` = 0 to see every candidate.

Complexity: O(E) for the kernel after the graph's CSR sort; O(T log T) for the T
transactions of qualifying episodes and the candidates' outflows (relation counts); evidence
is assembled column-wise (numpy) and sliced per alert, capped at ``max_evidence_episodes``
episodes and ``max_evidence_txns`` transactions per episode side.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..alerts import ROLE_CODE, Detection, make_alerts
from ..config import PassThroughConfig
from ..graph import TemporalGraph
from ._common import ranges, saturate, speed_score

__all__ = ["detect_pass_through", "FlowProfile", "flow_profile", "episode_evidence",
           "regular_relations", "counterparty_concentration", "expand_ranges", "weighted_count"]


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
    ptr, idx = ranges(lo, hi)
    return np.repeat(np.asarray(owner), np.diff(ptr)), idx


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


def weighted_count(index: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """float64[n] sums of ``weights`` by ``index`` (np.bincount, float even when empty)."""
    return np.bincount(index, weights, n).astype(np.float64, copy=False)


def regular_relations(graph: TemporalGraph, edges: np.ndarray, min_payments: int,
                      min_span: int) -> np.ndarray:
    """Per edge of ``edges``: does its (src, dst) pair have >= ``min_payments`` payments
    spanning >= ``min_span`` seconds (first to last) over the whole data?

    Only the payers of ``edges`` are counted (their out-rows). O(R log R) for R such rows.
    """
    edges = np.asarray(edges, np.int64)
    if edges.shape[0] == 0:
        return np.zeros(0, bool)
    n = np.int64(graph.n_nodes)
    payers = np.unique(graph.src[edges])
    lo, hi = graph.out_ptr[payers], graph.out_ptr[payers + 1]
    owner, rows = expand_ranges(payers, lo, hi)
    key = owner.astype(np.int64) * n + graph.out_nbr[rows]
    ts = graph.out_ts[rows]
    order = np.argsort(key, kind="stable")     # rows are time-sorted inside each account
    key, ts = key[order], ts[order]
    start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    count = np.diff(np.r_[start, key.shape[0]])
    span = np.maximum.reduceat(ts, start) - np.minimum.reduceat(ts, start)
    regular_key = key[start][(count >= min_payments) & (span >= min_span)]
    return np.isin(graph.src[edges].astype(np.int64) * n + graph.dst[edges], regular_key)


def counterparty_concentration(graph: TemporalGraph, edges: np.ndarray, side: str) -> np.ndarray:
    """Herfindahl index per account (float64[N]) of the value it receives (side="in": by
    payer, over its inflows in ``edges``) or pays (side="out": by payee, over its outflows
    in ``edges``): the sum of squared counterparty shares, 1 for a single counterparty,
    1/k for k equal ones, 0 for accounts without such transactions. O(T log T)."""
    n = np.int64(graph.n_nodes)
    edges = np.asarray(edges, np.int64)
    own, other = (graph.dst, graph.src) if side == "in" else (graph.src, graph.dst)
    key = own[edges].astype(np.int64) * n + other[edges]
    u, inv = np.unique(key, return_inverse=True)
    per_pair = weighted_count(inv, graph.amt[edges], u.shape[0])
    acc = u // n
    total = weighted_count(acc, per_pair, graph.n_nodes)
    share = np.divide(per_pair, total[acc], out=np.zeros_like(per_pair), where=total[acc] > 0)
    return weighted_count(acc, share * share, graph.n_nodes)


_DIRECTION = np.array(["in", "out"], dtype=object)


def episode_evidence(graph: TemporalGraph, prof: FlowProfile, listed: np.ndarray,
                     listed_group: np.ndarray, n_groups: int, rows, max_txns: int,
                     with_account: bool = False) -> list[dict]:
    """Column-wise evidence of the ``listed`` episodes, one dict per group (alert).

    ``listed``: episode ids in output order, grouped by ``listed_group`` (non-decreasing in
    [0, n_groups)). ``rows``: (in_ep, in_edge, out_ep, out_edge) from
    :meth:`FlowProfile.episode_rows` for a superset of ``listed`` (grouped by ascending
    episode). Each dict holds ``episodes`` (start_ts, end_ts epoch seconds; inflow,
    forwarded base currency; ratio; dwell_seconds; n_in, n_out transactions; account_id when
    ``with_account``) and ``episode_transactions`` (episode = position in that group's
    episode list, direction in/out, txn_id, counterparty account id, amount, ts), at most
    ``max_txns`` per episode side. Arrays are numpy slices (JSON-ready through
    ``evidence_json``). O(L + T log T) for L listed episodes and T listed transactions.
    """
    in_ep, in_edge, out_ep, out_edge = rows
    listed = np.asarray(listed, np.int64)
    listed_group = np.asarray(listed_group, np.int64)
    k = np.arange(listed.shape[0])
    owners, dirs, edges, counts = [], [], [], []
    for d, (ep_arr, edge_arr) in enumerate(((in_ep, in_edge), (out_ep, out_edge))):
        lo = np.searchsorted(ep_arr, listed, "left")
        hi = np.searchsorted(ep_arr, listed, "right")
        counts.append(hi - lo)
        owner, idx = expand_ranges(k, lo, np.minimum(hi, lo + max_txns))
        owners.append(owner)
        dirs.append(np.full(owner.shape[0], d, np.int64))
        edges.append(edge_arr[idx])
    owner, direction, edge = np.concatenate(owners), np.concatenate(dirs), np.concatenate(edges)
    order = np.lexsort((np.arange(owner.shape[0]), direction, owner))
    owner, direction, edge = owner[order], direction[order], edge[order]
    tx_group = listed_group[owner]
    ep_ptr = np.searchsorted(listed_group, np.arange(n_groups + 1))
    tx_ptr = np.searchsorted(tx_group, np.arange(n_groups + 1))
    counterparty = np.where(direction == 0, graph.src[edge], graph.dst[edge])
    ep_cols = {
        "start_ts": prof.ep_start[listed], "end_ts": prof.ep_end[listed],
        "inflow": prof.ep_inflow[listed], "forwarded": prof.ep_forwarded[listed],
        "ratio": prof.ep_forwarded[listed] / prof.ep_inflow[listed],
        "dwell_seconds": prof.ep_dwell[listed], "n_in": counts[0], "n_out": counts[1]}
    if with_account:
        ep_cols["account_id"] = graph.account_id_of(prof.ep_account[listed]).to_numpy()
    tx_cols = {
        "episode": owner - ep_ptr[tx_group], "direction": _DIRECTION[direction],
        "txn_id": graph.txn_id[edge], "counterparty": graph.account_id_of(counterparty).to_numpy(),
        "amount": graph.amt[edge], "ts": graph.ts[edge]}
    ep_ptr, tx_ptr = ep_ptr.tolist(), tx_ptr.tolist()
    return [{"episodes": {c: v[ep_ptr[g]:ep_ptr[g + 1]] for c, v in ep_cols.items()},
             "episode_transactions": {c: v[tx_ptr[g]:tx_ptr[g + 1]] for c, v in tx_cols.items()}}
            for g in range(n_groups)]


def detect_pass_through(graph: TemporalGraph, cfg: PassThroughConfig) -> Detection:
    """PASS_THROUGH alerts, one per account (see module doc for definition and score).

    Evidence: flow_through_ratio, median_dwell_seconds, retained_balance, total_in,
    total_out, forwarded, n_episodes (qualifying), payer_concentration, payee_concentration,
    regular_payee_share,
    score_terms, and the first ``max_evidence_episodes`` qualifying episodes with their
    transactions (ids, counterparties, amounts, epoch-second times).
    Stats: candidates (accounts with >= 1 qualifying episode), passing (accounts meeting
    the definition), below_min_score, budget_cut (alerts beyond max_results, lowest scores
    dropped), episodes (qualifying episodes in the data).
    """
    prof = flow_profile(graph, cfg.max_dwell, cfg.min_ratio)
    n = graph.n_nodes
    ratio = prof.flow_through_ratio
    retained_share = np.divide(prof.retained, prof.total_in, out=np.ones_like(prof.retained),
                               where=prof.total_in > 0)
    min_eps = max(cfg.min_episodes, 1)
    is_pt = ((prof.n_qualifying >= min_eps) & (retained_share <= cfg.max_retained_share)
             & (ratio >= cfg.min_flow_through))
    stats = {"candidates": int(np.count_nonzero(prof.n_qualifying > 0)),
             "passing": int(np.count_nonzero(is_pt)), "below_min_score": 0,
             "budget_cut": 0, "episodes": int(prof.ep_qualifying.sum())}
    empty = Detection(make_alerts(graph, "PASS_THROUGH", [], [0], [], [], [0], []), stats)

    # evidence terms over the candidates' qualifying episodes
    episodes = np.flatnonzero(prof.ep_qualifying & is_pt[prof.ep_account])
    in_ep, in_edge = prof.episode_rows(graph, episodes, "in")
    out_ep, out_edge = prof.episode_rows(graph, episodes, "out")
    forwarded = weighted_count(prof.ep_account[episodes], prof.ep_forwarded[episodes], n)
    payer_conc = counterparty_concentration(graph, in_edge, "in")
    payee_conc = counterparty_concentration(graph, out_edge, "out")
    concentration = 0.5 * (payer_conc + payee_conc)
    regular = regular_relations(graph, out_edge, cfg.regular_payments, cfg.regular_span)
    out_value = graph.amt[out_edge]
    out_total = weighted_count(graph.src[out_edge], out_value, n)
    regular_share = np.divide(weighted_count(graph.src[out_edge], out_value * regular, n), out_total,
                              out=np.zeros(n), where=out_total > 0)
    terms = {
        "flow_through": np.clip(ratio, 0.0, 1.0),
        "speed": speed_score(np.nan_to_num(prof.median_dwell), cfg.max_dwell),
        "episodes": saturate(prof.n_qualifying - min_eps + 1, 2.0),
        "low_balance": 1.0 - np.clip(retained_share, 0.0, 1.0),
        "value": saturate(forwarded, max(cfg.value_scale, 1e-9)),
        "novelty": 1.0 - regular_share,
        "concentration": concentration,
    }
    weights = {"flow_through": 0.10, "speed": 0.15, "episodes": 0.05, "low_balance": 0.10,
               "value": 0.30, "novelty": 0.10, "concentration": 0.20}
    score_all = sum(w * terms[k] for k, w in weights.items())
    accounts = np.flatnonzero(is_pt)
    score = score_all[accounts]
    scored = score >= cfg.min_score
    stats["below_min_score"] = int(accounts.shape[0] - np.count_nonzero(scored))
    accounts, score = accounts[scored], score[scored]
    if accounts.shape[0] > cfg.max_results:
        keep = np.sort(np.lexsort((accounts, -score))[:cfg.max_results])
        stats["budget_cut"] = int(accounts.shape[0] - keep.shape[0])
        accounts, score = accounts[keep], score[keep]
    if accounts.shape[0] == 0:
        return empty
    a_count = accounts.shape[0]
    alert_of = np.full(n, -1, np.int64)
    alert_of[accounts] = np.arange(a_count)
    # the alerted accounts' episode rows (still grouped by ascending episode)
    keep_in = alert_of[prof.ep_account[in_ep]] >= 0
    keep_out = alert_of[prof.ep_account[out_ep]] >= 0
    in_ep, in_edge, out_ep, out_edge = in_ep[keep_in], in_edge[keep_in], out_ep[keep_out], out_edge[keep_out]
    episodes = episodes[alert_of[prof.ep_account[episodes]] >= 0]

    # transactions: inflows and matched outflows, per alert in edge (time) order
    tx_alert = np.concatenate([alert_of[prof.ep_account[in_ep]], alert_of[prof.ep_account[out_ep]]])
    tx_edge = np.concatenate([in_edge, out_edge])
    order = np.lexsort((tx_edge, tx_alert))
    tx_alert, tx_edge = tx_alert[order], tx_edge[order]
    txn_ptr = np.searchsorted(tx_alert, np.arange(a_count + 1))

    # members: the mule, then its payers (source), then payees not already payers (sink)
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

    # evidence: scalars per alert, plus the first max_evidence_episodes episodes column-wise
    ep_alert = alert_of[prof.ep_account[episodes]]
    rank = np.arange(episodes.shape[0]) - np.searchsorted(ep_alert, ep_alert)
    listed = episodes[rank < max(cfg.max_evidence_episodes, 0)]
    blocks = episode_evidence(graph, prof, listed, alert_of[prof.ep_account[listed]], a_count,
                              (in_ep, in_edge, out_ep, out_edge), max(cfg.max_evidence_txns, 0))
    scalars = zip(graph.account_id_of(accounts).to_list(), ratio[accounts].tolist(),
                  prof.median_dwell[accounts].tolist(), prof.retained[accounts].tolist(),
                  prof.total_in[accounts].tolist(), prof.total_out[accounts].tolist(),
                  forwarded[accounts].tolist(), prof.n_qualifying[accounts].tolist(),
                  payer_conc[accounts].tolist(), payee_conc[accounts].tolist(),
                  regular_share[accounts].tolist())
    term_cols = {k: v[accounts] for k, v in terms.items()}
    evidence = []
    for j, (acc_id, r, dwell, kept, t_in, t_out, fwd, n_q, c_in, c_out, reg) in enumerate(scalars):
        evidence.append({
            "account_id": acc_id, "flow_through_ratio": r, "median_dwell_seconds": dwell,
            "retained_balance": kept, "total_in": t_in, "total_out": t_out, "forwarded": fwd,
            "n_episodes": n_q, "payer_concentration": c_in, "payee_concentration": c_out,
            "regular_payee_share": reg,
            "score_terms": {k: float(v[j]) for k, v in term_cols.items()},
            **blocks[j]})
    alerts = make_alerts(graph, "PASS_THROUGH", score, member_ptr, m_acc.astype(np.int32),
                         role_of_kind[m_kind], txn_ptr, tx_edge, evidence=evidence,
                         params=dataclasses.asdict(cfg))
    return Detection(alerts, stats)
