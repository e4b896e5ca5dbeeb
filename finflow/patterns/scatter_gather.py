"""SCATTER_GATHER and GATHER_SCATTER detectors (definitions: finflow/_kernels/scatter_gather.py).

* SCATTER_GATHER: source s pays >= k distinct intermediaries m_i and every m_i later pays the
  same target t != s, all inside W. One alert per (s, t, burst) with its paths; roles
  ``source`` (s), ``intermediary`` (m_i), ``sink`` (t); steps 0 (s -> m) and 1 (m -> t).
* GATHER_SCATTER: >= k_in distinct payers pay hub h, then h pays >= k_out distinct payees,
  the outgoing payments at or after the incoming ones, inside W. One alert per hub burst;
  roles ``source`` (payers), ``hub``, ``sink`` (payees); steps 0 (in) and 1 (out).

The kernels find every instance of the structural definition; the detectors score each one
by the evidence an analyst weighs (value passed on, speed, otherwise quiet middle accounts,
new rather than recurring relationships; formulas in the detector docstrings) and emit those
scoring at least the config's ``min_score`` (the others are counted as ``below_min_score``).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .._kernels.scatter_gather import gather_scatter_bursts, scatter_gather_paths
from ..alerts import AlertBatch, Detection, make_alerts
from ..config import GatherScatterConfig, ScatterGatherConfig
from ..graph import TemporalGraph
from ._common import (EVIDENCE_LIMIT, account_volume, csr_concat, csr_take, group_unique,
                      owner_of, persistence, relationship_novelty, role_codes, speed_score)

__all__ = ["detect_scatter_gather", "detect_gather_scatter"]


def _sums(ptr, values):
    """Sum of each CSR segment (segments non-empty): each alert's own values, in order."""
    return np.add.reduceat(values, ptr[:-1])


def _select(f: dict, keep: np.ndarray, csr: dict) -> dict:
    """Features ``f`` of the alerts ``keep`` (increasing indices): an alert's features depend
    only on its own transactions, so CSR blocks (``csr``: pointer key -> value keys) go
    through csr_take and every other array is indexed."""
    out = {}
    for ptr, values in csr.items():
        out[ptr], taken = csr_take(f[ptr], keep, *(f[v] for v in values))
        out.update(zip(values, taken))
    out.update((k, v[keep]) for k, v in f.items() if k not in out)
    return out


def _retention(into, out):
    """min/max of the value entering and leaving the middle of a pattern (1 = all kept)."""
    return np.minimum(into, out) / np.maximum(np.maximum(into, out), 1e-12)


def detect_scatter_gather(graph: TemporalGraph, cfg: ScatterGatherConfig) -> Detection:
    """SCATTER_GATHER alerts.

    Score (in [0, 1], monotone in each piece of evidence)::

        score = (0.2 + 0.4 * breadth + 0.4 * speed) * retention
                * (0.5 + 0.5 * intermediary_share) * (0.7 + 0.3 * novelty)

    * ``breadth = d / (d + k)``: d distinct intermediaries in the burst, k = min_intermediaries.
    * ``speed = 1 - span / W``: span of the peak window (first s -> m to last m -> t).
    * ``retention``: min/max of the value s paid the intermediaries and the value they paid t.
      Layering passes the money on; a source paying people who later buy something small
      from the same shop (salaries, then rent or groceries) passes little of it, so the
      score is proportional to it.
    * ``intermediary_share``: mean over intermediaries of the value each moved inside the
      alert (its hops in and out) / everything it sent and received from W before the alert's
      first hop to W after its last: dedicated, otherwise quiet intermediaries give 1.
    * ``novelty``: share of the alert's relationships (s -> m_i and m_i -> t pairs) that have
      no transaction outside the alert. Pairs that also pay at other times (salaries, rent,
      regular suppliers) are existing relationships and lower the score somewhat.

    Alerts scoring below ``cfg.min_score`` are not emitted (counted in
    ``stats["below_min_score"]``).

    Stats: ``candidates`` two-hop paths expanded (those whose first hop lies in a run of k
    payments of the source inside W; the others cannot be part of an instance, see the
    kernel); ``bursts`` alerts before the score
    threshold; ``budget_cut`` = sources or intermediary slices skipped by ``max_degree`` +
    sources truncated by ``max_paths_per_source`` + alerts dropped by ``max_results`` (each
    also reported separately). Cost: the kernel's, then O(E + P log P) for P paths (pair
    counts for novelty, volumes by binary search over prefix sums).
    """
    w = int(cfg.window)
    k = max(int(cfg.min_intermediaries), 1)
    (src, dst, peak, peak_start, peak_span, path_ptr, p1, p2, pm, n_paths, cut_deg, cut_paths,
     cut_res) = scatter_gather_paths(graph.out_ptr, graph.out_nbr, graph.out_ts, w, k,
                                     int(cfg.max_degree), int(cfg.max_paths_per_source),
                                     int(cfg.max_results), graph.n_nodes)
    stats = {"budget_cut": int(cut_deg + cut_paths + cut_res), "candidates": int(n_paths),
             "cut_degree": int(cut_deg), "cut_paths": int(cut_paths),
             "cut_results": int(cut_res), "bursts": int(src.shape[0]), "below_min_score": 0}
    if src.shape[0] == 0:
        return Detection(AlertBatch.empty(), stats)
    e1 = graph.out_eid[p1]
    e2 = graph.out_eid[p2]
    f = _sg_features(graph, src.shape[0], path_ptr, e1, e2, pm, w)
    breadth = f["n_mid"] / (f["n_mid"] + k)
    speed = speed_score(peak_span, w)
    score = ((0.2 + 0.4 * breadth + 0.4 * speed) * f["retention"]
             * (0.5 + 0.5 * f["mid_share"]) * (0.7 + 0.3 * f["novelty"]))
    keep = np.flatnonzero(score >= float(cfg.min_score))
    stats["below_min_score"] = int(src.shape[0] - keep.shape[0])
    a = keep.shape[0]
    if a == 0:
        return Detection(AlertBatch.empty(), stats)
    if a < src.shape[0]:   # features of an alert depend only on its own paths
        path_ptr, (e1, e2, pm) = csr_take(path_ptr, keep, e1, e2, pm)
        src, dst, peak, peak_start, peak_span, score = (
            x[keep] for x in (src, dst, peak, peak_start, peak_span, score))
        f = _select(f, keep, {"h1_ptr": ("h1",), "h2_ptr": ("h2",),
                              "mid_ptr": ("mids", "mid_share_each")})
    h1_ptr, h1, h2_ptr, h2 = f["h1_ptr"], f["h1"], f["h2_ptr"], f["h2"]
    mid_ptr, mids, n_mid = f["mid_ptr"], f["mids"], f["n_mid"]
    into, out, retention = f["into"], f["out"], f["retention"]

    ones = np.arange(a + 1)          # CSR with one item per alert
    member_ptr, (member_acc, member_role) = csr_concat([
        (ones, [src, role_codes(a, "source")]),
        (mid_ptr, [mids.astype(np.int32), role_codes(mids.shape[0], "intermediary")]),
        (ones, [dst, role_codes(a, "sink")])])
    txn_ptr, (txn_edge, txn_step) = csr_concat([
        (h1_ptr, [h1, np.zeros(h1.shape[0], np.int32)]),
        (h2_ptr, [h2, np.ones(h2.shape[0], np.int32)])])

    # evidence values as Python scalars and lists built once, not per alert
    ids = graph.account_id_of
    src_ids, dst_ids, mid_ids = ids(src).to_list(), ids(dst).to_list(), ids(mids).to_list()
    n = np.int64(max(graph.n_nodes, 1))
    path_mid = np.searchsorted(owner_of(mid_ptr) * n + mids, owner_of(path_ptr) * n + pm)
    paths = [{"intermediary": mid_ids[m], "txn_in": t_in, "txn_out": t_out, "amount_in": a_in,
              "amount_out": a_out, "time_in": s_in, "time_out": s_out}
             for m, t_in, t_out, a_in, a_out, s_in, s_out in zip(
                 path_mid.tolist(), graph.txn_id[e1].tolist(), graph.txn_id[e2].tolist(),
                 graph.amt[e1].tolist(), graph.amt[e2].tolist(), graph.ts[e1].tolist(),
                 graph.ts[e2].tolist())]
    p_lo, p_hi, m_lo, m_hi = (path_ptr[:-1].tolist(), path_ptr[1:].tolist(),
                              mid_ptr[:-1].tolist(), mid_ptr[1:].tolist())
    t_first, t_last, p_start = f["t_first"].tolist(), f["t_last"].tolist(), peak_start.tolist()
    p_end, peak_l, n_mid_l = (peak_start + peak_span).tolist(), peak.tolist(), n_mid.tolist()
    into_l, out_l, ret_l = into.tolist(), out.tolist(), retention.tolist()
    share_l, novelty_l = f["mid_share"].tolist(), f["novelty"].tolist()
    share_each = f["mid_share_each"]
    thresholds = {"window": w, "min_intermediaries": k, "min_score": float(cfg.min_score)}
    evidence = []
    for i in range(a):
        lo, hi = p_lo[i], min(p_hi[i], p_lo[i] + EVIDENCE_LIMIT)
        mlo, mhi = m_lo[i], min(m_hi[i], m_lo[i] + EVIDENCE_LIMIT)
        evidence.append({
            "source": src_ids[i], "target": dst_ids[i],
            "intermediaries": mid_ids[mlo:mhi],
            "paths": paths[lo:hi],
            "window": {"start": t_first[i], "end": t_last[i]},
            "peak_window": {"start": p_start[i], "end": p_end[i],
                            "distinct_intermediaries": peak_l[i]},
            "distinct_intermediaries": n_mid_l[i],
            "amount_in": into_l[i], "amount_out": out_l[i],
            "retention": ret_l[i],
            "intermediary_share": share_l[i],
            "intermediary_shares": share_each[mlo:mhi],
            "novelty": novelty_l[i],
            "truncated": p_hi[i] - p_lo[i] > EVIDENCE_LIMIT,
            "thresholds": thresholds,
        })
    batch = make_alerts(graph, "SCATTER_GATHER", score, member_ptr, member_acc, member_role,
                        txn_ptr, txn_edge, txn_step, evidence=evidence,
                        params=dataclasses.asdict(cfg))
    return Detection(batch, stats)


def _sg_features(graph: TemporalGraph, a: int, path_ptr, e1, e2, pm, w: int) -> dict:
    """Per-alert evidence of SCATTER_GATHER alerts from their paths (CSR ``path_ptr`` over
    edge indices ``e1`` (s -> m), ``e2`` (m -> t) and intermediaries ``pm``)."""
    alert_of = owner_of(path_ptr)
    h1_ptr, h1 = group_unique(alert_of, e1, a)   # distinct first hops per alert
    h2_ptr, h2 = group_unique(alert_of, e2, a)
    mid_ptr, mids = group_unique(alert_of, pm, a)
    n_mid = np.diff(mid_ptr)
    into = _sums(h1_ptr, graph.amt[h1])
    out = _sums(h2_ptr, graph.amt[h2])
    t_first = np.minimum.reduceat(graph.ts[h1], h1_ptr[:-1])
    t_last = np.maximum.reduceat(graph.ts[h2], h2_ptr[:-1])
    hop_alert = np.concatenate([owner_of(h1_ptr), owner_of(h2_ptr)])
    hop_edge = np.concatenate([h1, h2])
    hop_mid = np.concatenate([graph.dst[h1], graph.src[h2]]).astype(np.int64)
    # value each intermediary moved inside the alert against all it moved around it
    mid_alert = owner_of(mid_ptr)
    n = np.int64(max(graph.n_nodes, 1))
    slot = np.searchsorted(mid_alert * n + mids, hop_alert * n + hop_mid)
    mid_value = np.bincount(slot, weights=graph.amt[hop_edge], minlength=mids.shape[0])
    mid_volume = account_volume(graph, mids, t_first[mid_alert] - w, t_last[mid_alert] + w)
    mid_share_each = np.clip(mid_value / np.maximum(mid_volume, 1e-12), 0.0, 1.0)
    return dict(h1_ptr=h1_ptr, h1=h1, h2_ptr=h2_ptr, h2=h2, mid_ptr=mid_ptr, mids=mids,
                n_mid=n_mid, into=into, out=out, retention=_retention(into, out),
                t_first=t_first, t_last=t_last, mid_share_each=mid_share_each,
                mid_share=np.add.reduceat(mid_share_each, mid_ptr[:-1]) / n_mid,
                novelty=relationship_novelty(graph, hop_alert, hop_edge, a))


def detect_gather_scatter(graph: TemporalGraph, cfg: GatherScatterConfig) -> Detection:
    """GATHER_SCATTER alerts.

    Score (in [0, 1], monotone in each piece of evidence)::

        score = (0.3 * fan_in + 0.3 * fan_out + 0.4 * speed) * retention * hub_share
                * (0.5 + 0.5 * novelty) * persistence

    * ``fan_in = d_in / (d_in + k_in)``, ``fan_out = d_out / (d_out + k_out)``: distinct
      payers and payees in the burst.
    * ``speed = 1 - (R - L) / W`` of the burst's tightest core.
    * ``retention``: min/max of the burst's incoming and outgoing value: the hub passes the
      money it gathered on (a person collecting from friends and buying a few things, or a
      firm paying its payroll out of a few receipts, does not).
    * ``hub_share``: the burst's value (in + out) / everything the hub sent and received from W
      before the burst to W after it. A collection account used for this and little else
      gives 1; a money-service business or a trading firm for which the burst is a slice of
      a steady flow gives little.
    * ``novelty``: share of the burst's relationships (payer -> hub, hub -> payee pairs) that
      have no transaction outside the burst. Daily settlements between the same firms, a
      monthly payroll, a relative paid every month are existing relationships.
    * ``persistence = W / max(W, burst span)``: an account that gathers and scatters all the
      time (a business) forms one long burst and scores low.

    Alerts scoring below ``cfg.min_score`` are not emitted (counted in
    ``stats["below_min_score"]``).

    Stats: ``candidates`` bursts found; ``cut_results`` bursts dropped by ``max_results``,
    ``cut_burst_size`` bursts dropped for holding more than ``max_burst_transactions``
    transactions; ``budget_cut`` both. The kernel is O(E + N) (two-pointer sweeps per hub), so
    there is no degree budget; the evidence costs O(E + T log T) for the T transactions of the
    bursts, which the burst-size budget bounds (a busy hub's overlapping bursts would repeat
    its transactions: 24 s on a hub of 10^6 payments without it).
    """
    w = int(cfg.window)
    k_in, k_out = max(int(cfg.min_in), 1), max(int(cfg.min_out), 1)
    (hub, big_l, tau, big_r, n_splits, in_ptr, in_pos, out_ptr, out_pos, n_cut,
     n_cut_size) = gather_scatter_bursts(graph.in_ptr, graph.in_nbr, graph.in_ts,
                                         graph.out_ptr, graph.out_nbr, graph.out_ts, w, k_in,
                                         k_out, int(cfg.max_results),
                                         int(cfg.max_burst_transactions), graph.n_nodes)
    stats = {"budget_cut": int(n_cut + n_cut_size), "cut_results": int(n_cut),
             "cut_burst_size": int(n_cut_size),
             "candidates": int(hub.shape[0] + n_cut + n_cut_size), "below_min_score": 0}
    if hub.shape[0] == 0:
        return Detection(AlertBatch.empty(), stats)
    f = {**_gs_features(graph, hub, in_ptr, in_pos, out_ptr, out_pos, w),
         "in_ptr": in_ptr, "out_ptr": out_ptr}
    speed = speed_score(big_r - big_l, w)
    score = ((0.3 * f["d_in"] / (f["d_in"] + k_in) + 0.3 * f["d_out"] / (f["d_out"] + k_out)
              + 0.4 * speed) * f["retention"] * f["hub_share"] * (0.5 + 0.5 * f["novelty"])
             * f["persistence"])
    keep = np.flatnonzero(score >= float(cfg.min_score))
    stats["below_min_score"] = int(hub.shape[0] - keep.shape[0])
    a = keep.shape[0]
    if a == 0:
        return Detection(AlertBatch.empty(), stats)
    if a < hub.shape[0]:
        hub, big_l, tau, big_r, n_splits, score = (
            x[keep] for x in (hub, big_l, tau, big_r, n_splits, score))
        f = _select(f, keep, {"in_ptr": ("ein",), "out_ptr": ("eout",), "pay_ptr": ("payers",),
                              "rec_ptr": ("payees",)})
    in_ptr, out_ptr = f["in_ptr"], f["out_ptr"]
    ein, eout, n_in, n_out = f["ein"], f["eout"], np.diff(in_ptr), np.diff(out_ptr)
    pay_ptr, payers, rec_ptr, payees = f["pay_ptr"], f["payers"], f["rec_ptr"], f["payees"]
    d_in, d_out, into, out = f["d_in"], f["d_out"], f["into"], f["out"]
    retention, t_first, t_last = f["retention"], f["t_first"], f["t_last"]

    member_ptr, (member_acc, member_role) = csr_concat([
        (pay_ptr, [payers.astype(np.int32), role_codes(payers.shape[0], "source")]),
        (np.arange(a + 1), [hub.astype(np.int32), role_codes(a, "hub")]),
        (rec_ptr, [payees.astype(np.int32), role_codes(payees.shape[0], "sink")])])
    txn_ptr, (txn_edge, txn_step) = csr_concat([
        (in_ptr, [ein, np.zeros(ein.shape[0], np.int32)]),
        (out_ptr, [eout, np.ones(eout.shape[0], np.int32)])])

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
            "hub_share": float(f["hub_share"][i]), "novelty": float(f["novelty"][i]),
            "persistence": float(f["persistence"][i]),
            "truncated": bool(max(n_in[i], n_out[i]) > EVIDENCE_LIMIT),
            "thresholds": {"window": w, "min_in": k_in, "min_out": k_out,
                           "min_score": float(cfg.min_score)},
        })
    batch = make_alerts(graph, "GATHER_SCATTER", score, member_ptr, member_acc, member_role,
                        txn_ptr, txn_edge, txn_step, evidence=evidence,
                        params=dataclasses.asdict(cfg))
    return Detection(batch, stats)


def _gs_features(graph: TemporalGraph, hub, in_ptr, in_pos, out_ptr, out_pos, w: int) -> dict:
    """Per-burst evidence of GATHER_SCATTER alerts from the kernel's in/out CSR positions."""
    a = hub.shape[0]
    ein = graph.in_eid[in_pos]
    eout = graph.out_eid[out_pos]
    in_alert = owner_of(in_ptr)
    out_alert = owner_of(out_ptr)
    pay_ptr, payers = group_unique(in_alert, graph.in_nbr[in_pos], a)
    rec_ptr, payees = group_unique(out_alert, graph.out_nbr[out_pos], a)
    into = _sums(in_ptr, graph.amt[ein])
    out = _sums(out_ptr, graph.amt[eout])
    t_first = np.minimum.reduceat(graph.ts[ein], in_ptr[:-1])
    t_last = np.maximum.reduceat(graph.ts[eout], out_ptr[:-1])
    volume = account_volume(graph, hub, t_first - w, t_last + w)
    return dict(ein=ein, eout=eout, pay_ptr=pay_ptr, payers=payers, rec_ptr=rec_ptr,
                payees=payees, d_in=np.diff(pay_ptr), d_out=np.diff(rec_ptr), into=into,
                out=out, retention=_retention(into, out), t_first=t_first, t_last=t_last,
                persistence=persistence(t_last - t_first, w),
                hub_share=np.clip((into + out) / np.maximum(volume, 1e-12), 0.0, 1.0),
                novelty=relationship_novelty(graph, np.concatenate([in_alert, out_alert]),
                                             np.concatenate([ein, eout]), a))
