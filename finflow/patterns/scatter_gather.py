"""SCATTER_GATHER and GATHER_SCATTER detectors (definitions: finflow/_kernels/scatter_gather.py).

* SCATTER_GATHER: source s pays >= k distinct intermediaries m_i and every m_i later pays the
  same target t != s, all inside W. One alert per (s, t, burst) with its paths; roles
  ``source`` (s), ``intermediary`` (m_i), ``sink`` (t); steps 0 (s -> m) and 1 (m -> t).
* GATHER_SCATTER: >= k_in distinct payers pay hub h, then h pays >= k_out distinct payees,
  the outgoing payments at or after the incoming ones, inside W. One alert per hub burst;
  roles ``source`` (payers), ``hub``, ``sink`` (payees); steps 0 (in) and 1 (out).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .._kernels.scatter_gather import gather_scatter_bursts, scatter_gather_paths
from ..alerts import ROLE_CODE, AlertBatch, Detection, make_alerts
from ..config import GatherScatterConfig, ScatterGatherConfig
from ..graph import TemporalGraph
from ._common import speed_score
from .fan import EVIDENCE_LIMIT, group_unique

__all__ = ["detect_scatter_gather", "detect_gather_scatter"]


def _sums(ptr, values):
    c = np.concatenate([[0.0], np.cumsum(values)])
    return c[ptr[1:]] - c[ptr[:-1]]


def _retention(into, out):
    """min/max of the value entering and leaving the middle of a pattern (1 = all kept)."""
    return np.minimum(into, out) / np.maximum(np.maximum(into, out), 1e-12)


def detect_scatter_gather(graph: TemporalGraph, cfg: ScatterGatherConfig) -> Detection:
    """SCATTER_GATHER alerts.

    Score (in [0, 1], monotone in each piece of evidence)::

        score = 0.3 * breadth + 0.3 * speed + 0.4 * retention

    * ``breadth = d / (d + k)``: d distinct intermediaries in the burst, k = min_intermediaries.
    * ``speed = 1 - span / W``: span of the peak window (first s -> m to last m -> t).
    * ``retention``: min/max of the value s paid the intermediaries and the value they paid t
      (layering passes most of the money on).

    Stats: ``candidates`` two-hop paths enumerated; ``budget_cut`` = sources or intermediary
    slices skipped by ``max_degree`` + sources truncated by ``max_paths_per_source`` + alerts
    dropped by ``max_results`` (each also reported separately).
    """
    w = int(cfg.window)
    k = max(int(cfg.min_intermediaries), 1)
    (src, dst, peak, peak_start, peak_span, path_ptr, p1, p2, pm, n_paths, cut_deg, cut_paths,
     cut_res) = scatter_gather_paths(graph.out_ptr, graph.out_nbr, graph.out_ts, w, k,
                                     int(cfg.max_degree), int(cfg.max_paths_per_source),
                                     int(cfg.max_results), graph.n_nodes)
    stats = {"budget_cut": int(cut_deg + cut_paths + cut_res), "candidates": int(n_paths),
             "cut_degree": int(cut_deg), "cut_paths": int(cut_paths),
             "cut_results": int(cut_res)}
    a = src.shape[0]
    if a == 0:
        return Detection(AlertBatch.empty(), stats)
    e1 = graph.out_eid[p1]
    e2 = graph.out_eid[p2]
    alert_of = np.repeat(np.arange(a), np.diff(path_ptr))
    h1_ptr, h1 = group_unique(alert_of, e1, a)   # distinct first hops per alert
    h2_ptr, h2 = group_unique(alert_of, e2, a)
    mid_ptr, mids = group_unique(alert_of, pm, a)
    n_mid = np.diff(mid_ptr)
    into = _sums(h1_ptr, graph.amt[h1])
    out = _sums(h2_ptr, graph.amt[h2])
    retention = _retention(into, out)
    breadth = n_mid / (n_mid + k)
    speed = speed_score(peak_span, w)
    score = 0.3 * breadth + 0.3 * speed + 0.4 * retention

    n_mem = n_mid + 2
    member_ptr = np.zeros(a + 1, np.int64)
    np.cumsum(n_mem, out=member_ptr[1:])
    member_acc = np.empty(member_ptr[-1], np.int32)
    member_role = np.full(member_ptr[-1], ROLE_CODE["intermediary"], np.int8)
    first = member_ptr[:-1]
    member_acc[first] = src
    member_role[first] = ROLE_CODE["source"]
    member_acc[member_ptr[1:] - 1] = dst
    member_role[member_ptr[1:] - 1] = ROLE_CODE["sink"]
    mid_mask = np.ones(member_ptr[-1], bool)
    mid_mask[first] = False
    mid_mask[member_ptr[1:] - 1] = False
    member_acc[mid_mask] = mids
    n1, n2 = np.diff(h1_ptr), np.diff(h2_ptr)
    txn_ptr = np.zeros(a + 1, np.int64)
    np.cumsum(n1 + n2, out=txn_ptr[1:])
    order = np.argsort(np.concatenate([np.repeat(np.arange(a), n1) * 2,
                                       np.repeat(np.arange(a), n2) * 2 + 1]), kind="stable")
    txn_edge = np.concatenate([h1, h2])[order]
    txn_step = np.concatenate([np.zeros(h1.shape[0], np.int32), np.ones(h2.shape[0], np.int32)])[order]

    ids = graph.account_id_of
    src_ids, dst_ids, mid_ids = ids(src).to_list(), ids(dst).to_list(), ids(mids).to_list()
    evidence = []
    for i in range(a):
        lo, hi = int(path_ptr[i]), int(min(path_ptr[i + 1], path_ptr[i] + EVIDENCE_LIMIT))
        evidence.append({
            "source": src_ids[i], "target": dst_ids[i],
            "intermediaries": mid_ids[mid_ptr[i]:mid_ptr[i + 1]][:EVIDENCE_LIMIT],
            "paths": [{"intermediary": mid_ids[mid_ptr[i] + int(np.searchsorted(
                           mids[mid_ptr[i]:mid_ptr[i + 1]], pm[j]))],
                       "txn_in": int(graph.txn_id[e1[j]]), "txn_out": int(graph.txn_id[e2[j]]),
                       "amount_in": float(graph.amt[e1[j]]), "amount_out": float(graph.amt[e2[j]]),
                       "time_in": int(graph.ts[e1[j]]), "time_out": int(graph.ts[e2[j]])}
                      for j in range(lo, hi)],
            "window": {"start": int(graph.ts[h1[h1_ptr[i]:h1_ptr[i + 1]]].min()),
                       "end": int(graph.ts[h2[h2_ptr[i]:h2_ptr[i + 1]]].max())},
            "peak_window": {"start": int(peak_start[i]), "end": int(peak_start[i] + peak_span[i]),
                            "distinct_intermediaries": int(peak[i])},
            "distinct_intermediaries": int(n_mid[i]),
            "amount_in": float(into[i]), "amount_out": float(out[i]),
            "retention": float(retention[i]),
            "truncated": bool(path_ptr[i + 1] - path_ptr[i] > EVIDENCE_LIMIT),
            "thresholds": {"window": w, "min_intermediaries": k},
        })
    batch = make_alerts(graph, "SCATTER_GATHER", score, member_ptr, member_acc, member_role,
                        txn_ptr, txn_edge, txn_step, evidence=evidence,
                        params=dataclasses.asdict(cfg))
    return Detection(batch, stats)


def detect_gather_scatter(graph: TemporalGraph, cfg: GatherScatterConfig) -> Detection:
    """GATHER_SCATTER alerts.

    Score (in [0, 1], monotone in each piece of evidence)::

        score = (0.2 * fan_in + 0.2 * fan_out + 0.3 * speed + 0.3 * retention) * persistence

    * ``fan_in = d_in / (d_in + k_in)``, ``fan_out = d_out / (d_out + k_out)``: distinct
      payers and payees in the burst.
    * ``speed = 1 - (R - L) / W`` of the burst's tightest core.
    * ``retention``: min/max of the burst's incoming and outgoing value.
    * ``persistence = W / max(W, burst span)``: an account that gathers and scatters all the
      time (a business) forms one long burst and scores low.

    Stats: ``candidates`` bursts found; ``budget_cut`` bursts dropped by ``max_results``. The
    kernel is O(E + N) (two-pointer sweeps per hub), so there is no degree budget.
    """
    w = int(cfg.window)
    k_in, k_out = max(int(cfg.min_in), 1), max(int(cfg.min_out), 1)
    (hub, big_l, tau, big_r, n_splits, in_ptr, in_pos, out_ptr, out_pos,
     n_cut) = gather_scatter_bursts(graph.in_ptr, graph.in_nbr, graph.in_ts, graph.out_ptr,
                                    graph.out_nbr, graph.out_ts, w, k_in, k_out,
                                    int(cfg.max_results), graph.n_nodes)
    a = hub.shape[0]
    stats = {"budget_cut": int(n_cut), "candidates": int(a + n_cut)}
    if a == 0:
        return Detection(AlertBatch.empty(), stats)
    ein = graph.in_eid[in_pos]
    eout = graph.out_eid[out_pos]
    n_in, n_out = np.diff(in_ptr), np.diff(out_ptr)
    pay_ptr, payers = group_unique(np.repeat(np.arange(a), n_in), graph.in_nbr[in_pos], a)
    rec_ptr, payees = group_unique(np.repeat(np.arange(a), n_out), graph.out_nbr[out_pos], a)
    d_in, d_out = np.diff(pay_ptr), np.diff(rec_ptr)
    into = _sums(in_ptr, graph.amt[ein])
    out = _sums(out_ptr, graph.amt[eout])
    retention = _retention(into, out)
    t_first = np.minimum.reduceat(graph.ts[ein], in_ptr[:-1])
    t_last = np.maximum.reduceat(graph.ts[eout], out_ptr[:-1])
    persistence = w / np.maximum(float(w), (t_last - t_first).astype(np.float64))
    score = ((0.2 * d_in / (d_in + k_in) + 0.2 * d_out / (d_out + k_out)
              + 0.3 * speed_score(big_r - big_l, w) + 0.3 * retention) * persistence)

    member_ptr = np.zeros(a + 1, np.int64)
    np.cumsum(d_in + 1 + d_out, out=member_ptr[1:])
    alert_of_m = np.concatenate([np.repeat(np.arange(a), d_in) * 3, np.arange(a) * 3 + 1,
                                 np.repeat(np.arange(a), d_out) * 3 + 2])
    order = np.argsort(alert_of_m, kind="stable")
    member_acc = np.concatenate([payers, hub, payees]).astype(np.int32)[order]
    member_role = np.concatenate([np.full(payers.shape[0], ROLE_CODE["source"], np.int8),
                                  np.full(a, ROLE_CODE["hub"], np.int8),
                                  np.full(payees.shape[0], ROLE_CODE["sink"], np.int8)])[order]
    txn_ptr = np.zeros(a + 1, np.int64)
    np.cumsum(n_in + n_out, out=txn_ptr[1:])
    order = np.argsort(np.concatenate([np.repeat(np.arange(a), n_in) * 2,
                                       np.repeat(np.arange(a), n_out) * 2 + 1]), kind="stable")
    txn_edge = np.concatenate([ein, eout])[order]
    txn_step = np.concatenate([np.zeros(ein.shape[0], np.int32),
                               np.ones(eout.shape[0], np.int32)])[order]

    ids = graph.account_id_of
    hub_ids, payer_ids, payee_ids = ids(hub).to_list(), ids(payers).to_list(), ids(payees).to_list()
    evidence = []
    for i in range(a):
        si = slice(int(in_ptr[i]), int(min(in_ptr[i + 1], in_ptr[i] + EVIDENCE_LIMIT)))
        so = slice(int(out_ptr[i]), int(min(out_ptr[i + 1], out_ptr[i] + EVIDENCE_LIMIT)))
        evidence.append({
            "hub": hub_ids[i],
            "payers": payer_ids[pay_ptr[i]:pay_ptr[i + 1]][:EVIDENCE_LIMIT],
            "payees": payee_ids[rec_ptr[i]:rec_ptr[i + 1]][:EVIDENCE_LIMIT],
            "in_txn_ids": graph.txn_id[ein[si]], "in_amounts": graph.amt[ein[si]],
            "in_times": graph.ts[ein[si]],
            "out_txn_ids": graph.txn_id[eout[so]], "out_amounts": graph.amt[eout[so]],
            "out_times": graph.ts[eout[so]],
            "window": {"start": int(t_first[i]), "end": int(t_last[i])},
            "tightest_core": {"start": int(big_l[i]), "split": int(tau[i]), "end": int(big_r[i])},
            "qualifying_splits": int(n_splits[i]),
            "distinct_payers": int(d_in[i]), "distinct_payees": int(d_out[i]),
            "amount_in": float(into[i]), "amount_out": float(out[i]),
            "retention": float(retention[i]),
            "truncated": bool(max(n_in[i], n_out[i]) > EVIDENCE_LIMIT),
            "thresholds": {"window": w, "min_in": k_in, "min_out": k_out},
        })
    batch = make_alerts(graph, "GATHER_SCATTER", score, member_ptr, member_acc, member_role,
                        txn_ptr, txn_edge, txn_step, evidence=evidence,
                        params=dataclasses.asdict(cfg))
    return Detection(batch, stats)
