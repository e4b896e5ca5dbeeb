"""FAN_OUT / FAN_IN: an account pays (or is paid by) >= k distinct counterparties in one window.

Definition (shared/TYPOLOGIES.md; windows are closed, ``[L, L + W]``): on the account's
out-row (FAN_OUT) or in-row (FAN_IN), a window qualifies when it holds transactions with
``>= cfg.min_degree`` distinct counterparties. Only *maximal* windows count (a window whose
transactions are a subset of another window's is a sliding position of the same behaviour),
and qualifying maximal windows that share transactions are merged into one **burst**, so an
analyst sees one alert per burst (a burst longer than W means the fan went on; the score
treats persistence as a legitimate sign). The kernel is ``finflow._kernels.windows.row_bursts``:
one two-pointer pass per row, O(E + N).

Roles: the account is ``hub``; counterparties are ``sink`` (FAN_OUT) or ``source`` (FAN_IN).

The module also holds the CSR and evidence helpers the scatter-gather and structuring
detectors share (relationship novelty, pair counts); an account's volume in a time range is
``_common.account_volume``.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .._kernels.windows import row_bursts
from ..alerts import ROLE_CODE, Detection, make_alerts
from ..config import FanConfig
from ..graph import TemporalGraph
from ._common import persistence, speed_score

__all__ = ["detect_fan_out", "detect_fan_in"]

#: evidence lists (transactions, counterparties) are cut at this length; the alert's
#: transaction and account tables always hold everything
EVIDENCE_LIMIT = 500


def detect_fan_out(graph: TemporalGraph, cfg: FanConfig) -> Detection:
    """FAN_OUT alerts, one per burst of an account's outgoing payments. See :func:`_detect_fan`."""
    return _detect_fan(graph, cfg, outgoing=True)


def detect_fan_in(graph: TemporalGraph, cfg: FanConfig) -> Detection:
    """FAN_IN alerts, one per burst of an account's incoming payments. See :func:`_detect_fan`."""
    return _detect_fan(graph, cfg, outgoing=False)


def ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR of the concatenated integer ranges [lo_i, hi_i): (ptr int64[A+1], values int64)."""
    lo = np.asarray(lo, np.int64)
    n = np.asarray(hi, np.int64) - lo
    ptr = np.zeros(lo.shape[0] + 1, np.int64)
    np.cumsum(n, out=ptr[1:])
    vals = np.arange(ptr[-1], dtype=np.int64) - np.repeat(ptr[:-1] - lo, n)
    return ptr, vals


def group_unique(group: np.ndarray, values: np.ndarray, n_groups: int):
    """Distinct values per group, sorted: (ptr int64[n_groups+1], values)."""
    if values.shape[0] == 0:
        return np.zeros(n_groups + 1, np.int64), values
    key = np.unique(np.stack([np.asarray(group, np.int64), np.asarray(values, np.int64)], 1), axis=0)
    ptr = np.zeros(n_groups + 1, np.int64)
    np.cumsum(np.bincount(key[:, 0], minlength=n_groups), out=ptr[1:])
    return ptr, key[:, 1]


def csr_take(ptr: np.ndarray, rows: np.ndarray, *values: np.ndarray):
    """Rows ``rows`` (increasing) of a CSR: (new ptr int64[len(rows)+1], [values...])."""
    rows = np.asarray(rows, np.int64)
    new_ptr, pos = ranges(ptr[rows], ptr[rows + 1])
    return new_ptr, [v[pos] for v in values]


def members_csr(first: np.ndarray, first_role: str, rest_ptr: np.ndarray, rest: np.ndarray,
                rest_role: str):
    """Member CSR: one ``first`` account per alert, then its ``rest`` accounts."""
    a = first.shape[0]
    n_rest = np.diff(rest_ptr)
    ptr = np.zeros(a + 1, np.int64)
    np.cumsum(n_rest + 1, out=ptr[1:])
    acc = np.empty(ptr[-1], np.int32)
    role = np.full(ptr[-1], ROLE_CODE[rest_role], np.int8)
    acc[ptr[:-1]] = first
    role[ptr[:-1]] = ROLE_CODE[first_role]
    mask = np.ones(ptr[-1], bool)
    mask[ptr[:-1]] = False
    acc[mask] = rest
    return ptr, acc, role


def pair_key(graph: TemporalGraph, src, dst) -> np.ndarray:
    """int64 key of the ordered account pair (src, dst): ``src * n_nodes + dst``."""
    return np.asarray(src, np.int64) * max(graph.n_nodes, 1) + np.asarray(dst, np.int64)


def pair_counts(graph: TemporalGraph, keys: np.ndarray) -> np.ndarray:
    """How many transactions each ordered pair ``keys[i]`` (see :func:`pair_key`) has in the
    whole dataset, int64[Q]. One pass over the edges, then a binary search into the Q distinct
    queried keys for the edges of queried senders: O(E + E' log Q + Q log Q), E' <= E."""
    keys = np.asarray(keys, np.int64)
    if keys.shape[0] == 0 or graph.n_edges == 0:
        return np.zeros(keys.shape[0], np.int64)
    q = np.unique(keys)
    # only edges whose sender starts a queried pair need the search
    sender = np.zeros(max(graph.n_nodes, 1), bool)
    sender[q // max(graph.n_nodes, 1)] = True
    cand = np.flatnonzero(sender[graph.src])
    every = pair_key(graph, graph.src[cand], graph.dst[cand])
    pos = np.minimum(np.searchsorted(q, every), q.shape[0] - 1)
    hit = q[pos] == every
    counts = np.bincount(pos[hit], minlength=q.shape[0])
    return counts[np.searchsorted(q, keys)].astype(np.int64)


def relationship_novelty(graph: TemporalGraph, group: np.ndarray, edges: np.ndarray,
                         n_groups: int) -> np.ndarray:
    """Per group (alert), the share of its distinct relationships (ordered account pairs of
    ``edges``, each edge listed once per group) that have no transaction outside the group.

    A pair that also pays at other times (a monthly salary, a weekly deposit, a regular
    supplier) is an existing relationship; a pattern built from pairs that exist only inside
    it is made of new ties. float64[n_groups] in [0, 1]; O(E + T log T) for T edges.
    """
    group = np.asarray(group, np.int64)
    edges = np.asarray(edges, np.int64)
    out = np.zeros(n_groups)
    if edges.shape[0] == 0:
        return out
    gk = np.stack([group, pair_key(graph, graph.src[edges], graph.dst[edges])], 1)
    uniq, inside = np.unique(gk, axis=0, return_counts=True)
    new = (inside == pair_counts(graph, uniq[:, 1])).astype(np.float64)
    n_pairs = np.bincount(uniq[:, 0], minlength=n_groups).astype(np.float64)
    n_new = np.bincount(uniq[:, 0], weights=new, minlength=n_groups)
    np.divide(n_new, n_pairs, out=out, where=n_pairs > 0)
    return out


def card_code(graph: TemporalGraph) -> int:
    """The channel code of card payments, -1 when the data has no 'card' channel."""
    names = [c.lower() for c in graph.channels]
    return names.index("card") if "card" in names else -1


def _detect_fan(graph: TemporalGraph, cfg: FanConfig, outgoing: bool) -> Detection:
    """Bursts of >= min_degree distinct counterparties inside ``cfg.window`` seconds.

    Score (in [0, 1], monotone in each piece of evidence)::

        score = (0.4 * degree + 0.3 * speed + 0.3 * similarity)
                * (0.2 + 0.8 * novelty) * burstiness * persistence * (1 - card_share)

    * ``degree = d / (d + k)``: d distinct counterparties in the peak window, k = min_degree.
    * ``speed = 1 - min_span / W``: min_span is the shortest time in the burst to reach k
      distinct counterparties.
    * ``similarity = 1 / (1 + cv)``: cv the coefficient of variation of the burst's amounts
      (structured splitting pays similar amounts).
    * ``novelty``: share of the burst's counterparties the account never pays (is paid by)
      outside the burst. Payroll pays the same people every month: low novelty.
    * ``burstiness = n / (n + expected)``: n transactions in the burst against the number
      expected from the account's own rate outside the burst over the burst's duration
      (at least W). A merchant with steady custom is not bursty.
    * ``persistence = W / max(W, burst span)``: a fan that goes on for weeks (a shop's steady
      custom forms one long burst) is behaviour, not an event.
    * ``card_share``: share of the burst's transactions on the card channel (shop payments).
    """
    w = int(cfg.window)
    k = max(int(cfg.min_degree), 1)
    if outgoing:
        ptr, nbr, ts, amt, eid = graph.out_ptr, graph.out_nbr, graph.out_ts, graph.out_amt, graph.out_eid
    else:
        ptr, nbr, ts, amt, eid = graph.in_ptr, graph.in_nbr, graph.in_ts, graph.in_amt, graph.in_eid
    (node, lo, hi, peak, peak_start, peak_span, min_span, n_distinct, n_oneoff,
     n_cut) = row_bursts(ptr, nbr, ts, w, k, True, int(cfg.max_results), graph.n_nodes)
    stats = {"budget_cut": int(n_cut), "candidates": int(node.shape[0] + n_cut)}
    a = node.shape[0]
    if a == 0:
        return Detection(make_alerts(graph, "FAN_OUT" if outgoing else "FAN_IN", [], [0], [], [],
                                     [0], []), stats)
    typology = "FAN_OUT" if outgoing else "FAN_IN"
    n_tx = hi - lo
    cs = np.concatenate([[0.0], np.cumsum(amt)])
    cs2 = np.concatenate([[0.0], np.cumsum(amt * amt)])
    total = cs[hi] - cs[lo]
    mean = total / n_tx
    var = np.maximum((cs2[hi] - cs2[lo]) / n_tx - mean * mean, 0.0)
    cv = np.sqrt(var) / np.maximum(mean, 1e-12)
    card = card_code(graph)
    is_card = (graph.edge_channel[eid] == card) if card >= 0 else np.zeros(eid.shape[0], bool)
    cc = np.concatenate([[0], np.cumsum(is_card)])
    card_share = (cc[hi] - cc[lo]) / n_tx
    period = float(max(graph.ts[-1] - graph.ts[0], 1)) if graph.n_edges else 1.0
    burst_span = (ts[hi - 1] - ts[lo]).astype(np.float64)
    row_n = (ptr[node + 1] - ptr[node]).astype(np.float64)
    duration = np.maximum(burst_span, w)
    expected = (row_n - n_tx) * duration / np.maximum(period - burst_span, duration)
    burstiness = n_tx / (n_tx + expected)
    degree = peak / (peak + k)
    speed = speed_score(min_span, w)
    similarity = 1.0 / (1.0 + cv)
    novelty = n_oneoff / n_distinct
    persist = persistence(burst_span, w)
    score = ((0.4 * degree + 0.3 * speed + 0.3 * similarity) * (0.2 + 0.8 * novelty)
             * burstiness * persist * (1.0 - card_share))

    txn_ptr, pos = ranges(lo, hi)
    alert_of = np.repeat(np.arange(a), n_tx)
    cp_ptr, cps = group_unique(alert_of, nbr[pos], a)
    member_ptr, member_acc, member_role = members_csr(
        node, "hub", cp_ptr, cps, "sink" if outgoing else "source")
    edges = eid[pos]
    ids = graph.txn_id
    hub_ids = graph.account_id_of(node).to_list()
    cp_ids = graph.account_id_of(cps).to_list()
    evidence = []
    for i in range(a):
        sl = slice(int(lo[i]), int(min(hi[i], lo[i] + EVIDENCE_LIMIT)))
        evidence.append({
            "hub": hub_ids[i],
            "direction": "out" if outgoing else "in",
            "counterparties": cp_ids[cp_ptr[i]:min(cp_ptr[i + 1], cp_ptr[i] + EVIDENCE_LIMIT)],
            "txn_ids": ids[eid[sl]],
            "amounts": amt[sl],
            "times": ts[sl],
            "window": {"start": int(ts[lo[i]]), "end": int(ts[hi[i] - 1])},
            "peak_window": {"start": int(peak_start[i]), "end": int(peak_start[i] + peak_span[i]),
                            "distinct_counterparties": int(peak[i])},
            "distinct_counterparties": int(n_distinct[i]),
            "oneoff_counterparties": int(n_oneoff[i]),
            "seconds_to_min_degree": int(min_span[i]),
            "n_transactions": int(n_tx[i]),
            "total_amount": float(total[i]),
            "amount_cv": float(cv[i]),
            "card_share": float(card_share[i]),
            "burstiness": float(burstiness[i]),
            "persistence": float(persist[i]),
            "truncated": bool(n_tx[i] > EVIDENCE_LIMIT or n_distinct[i] > EVIDENCE_LIMIT),
            "thresholds": {"window": w, "min_degree": k},
        })
    batch = make_alerts(graph, typology, score, member_ptr, member_acc, member_role, txn_ptr,
                        edges, None, evidence=evidence, params=dataclasses.asdict(cfg))
    return Detection(batch, stats)
