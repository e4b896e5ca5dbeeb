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

The CSR and relationship helpers it shares with the scatter-gather and structuring
detectors live in ``finflow.patterns._common``.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .._kernels.windows import row_bursts
from ..alerts import Detection, make_alerts
from ..config import FanConfig
from ..graph import TemporalGraph
from ._common import (EVIDENCE_LIMIT, group_unique, members_csr, owner_of, persistence, ranges,
                      speed_score)

__all__ = ["detect_fan_out", "detect_fan_in"]


def detect_fan_out(graph: TemporalGraph, cfg: FanConfig) -> Detection:
    """FAN_OUT alerts, one per burst of an account's outgoing payments. See :func:`_detect_fan`."""
    return _detect_fan(graph, cfg, outgoing=True)


def detect_fan_in(graph: TemporalGraph, cfg: FanConfig) -> Detection:
    """FAN_IN alerts, one per burst of an account's incoming payments. See :func:`_detect_fan`."""
    return _detect_fan(graph, cfg, outgoing=False)


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
    cp_ptr, cps = group_unique(owner_of(txn_ptr), nbr[pos], a)
    member_ptr, member_acc, member_role = members_csr(
        node, "hub", cp_ptr, cps, "sink" if outgoing else "source")
    edges = eid[pos]
    # evidence values as Python scalars and numpy slices (turned into JSON lists whole)
    hub_ids = graph.account_id_of(node).to_list()
    cp_ids = graph.account_id_of(cps).to_numpy()
    direction = "out" if outgoing else "in"
    thresholds = {"window": w, "min_degree": k}
    lo_l, hi_l, cp_lo, cp_hi = lo.tolist(), hi.tolist(), cp_ptr[:-1].tolist(), cp_ptr[1:].tolist()
    t_lo, t_hi = ts[lo].tolist(), ts[hi - 1].tolist()
    p_start, p_end = peak_start.tolist(), (peak_start + peak_span).tolist()
    peak_l, nd_l, no_l, ms_l, ntx_l = (x.tolist() for x in (peak, n_distinct, n_oneoff,
                                                             min_span, n_tx))
    total_l, cv_l, card_l, burst_l, persist_l = (
        x.tolist() for x in (total, cv, card_share, burstiness, persist))
    evidence = []
    for i in range(a):
        sl = slice(lo_l[i], min(hi_l[i], lo_l[i] + EVIDENCE_LIMIT))
        evidence.append({
            "hub": hub_ids[i],
            "direction": direction,
            "counterparties": cp_ids[cp_lo[i]:min(cp_hi[i], cp_lo[i] + EVIDENCE_LIMIT)],
            "txn_ids": graph.txn_id[eid[sl]],
            "amounts": amt[sl],
            "times": ts[sl],
            "window": {"start": t_lo[i], "end": t_hi[i]},
            "peak_window": {"start": p_start[i], "end": p_end[i],
                            "distinct_counterparties": peak_l[i]},
            "distinct_counterparties": nd_l[i],
            "oneoff_counterparties": no_l[i],
            "seconds_to_min_degree": ms_l[i],
            "n_transactions": ntx_l[i],
            "total_amount": total_l[i],
            "amount_cv": cv_l[i],
            "card_share": card_l[i],
            "burstiness": burst_l[i],
            "persistence": persist_l[i],
            "truncated": ntx_l[i] > EVIDENCE_LIMIT or nd_l[i] > EVIDENCE_LIMIT,
            "thresholds": thresholds,
        })
    batch = make_alerts(graph, typology, score, member_ptr, member_acc, member_role, txn_ptr,
                        edges, None, evidence=evidence, params=dataclasses.asdict(cfg))
    return Detection(batch, stats)
