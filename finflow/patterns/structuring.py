"""STRUCTURING: >= n payments just under a reporting threshold inside one window.

Definition (shared/TYPOLOGIES.md): a *structured* payment has an amount in
``[(1 - band) * threshold, threshold)`` (base currency). Two modes, both on the rows of the
TemporalGraph restricted to structured payments, windows closed ``[L, L + W]``:

* **payer**: one account's outgoing structured payments (to anyone): a window qualifies with
  ``>= min_count`` payments.
* **beneficiary**: one account's incoming structured payments from any payers (distinct or
  not): a window qualifies with ``>= min_count`` payments. Bursts with a single payer are
  dropped, since the payer mode already reports those payments (same transactions).

As for fans, qualifying maximal windows sharing payments merge into one burst = one alert
(``finflow._kernels.windows.row_bursts`` with ``distinct=False``; O(E + N)).
Roles: payers ``source``, beneficiaries ``sink``. Each burst is scored (see
:func:`detect_structuring`); bursts below ``StructuringConfig.min_score`` are only counted.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .._kernels.windows import row_bursts
from ..alerts import AlertBatch, Detection, make_alerts
from ..config import StructuringConfig
from ..graph import TemporalGraph
from ._common import (EVIDENCE_LIMIT, group_unique, members_csr, owner_of, pair_key, ranges,
                      relationship_novelty, speed_score, unique_pairs)

__all__ = ["detect_structuring"]


def _filtered_rows(ptr, keep):
    """Row pointers and kept positions of a CSR restricted to positions with ``keep``."""
    ck = np.zeros(keep.shape[0] + 1, np.int64)
    np.cumsum(keep, out=ck[1:])
    return ck[ptr], np.flatnonzero(keep)


def detect_structuring(graph: TemporalGraph, cfg: StructuringConfig) -> Detection:
    """Bursts of >= min_count payments in [(1-band)*threshold, threshold) within ``window``.

    Score (in [0, 1], monotone in each piece of evidence)::

        score = (0.35 * count + 0.25 * closeness + 0.2 * speed + 0.2 * coordination)
                * (0.2 + 0.8 * concentration) * avoidance * (0.5 + 0.5 * novelty)

    * ``count = c / (c + n)``: c structured payments in the peak window, n = min_count.
    * ``closeness``: mean of ``(amount - low) / (threshold - low)`` over the burst (1 = just
      under the threshold).
    * ``speed = 1 - min_span / W``: min_span the shortest time to make n such payments.
    * ``coordination = 1 - 1 / p``: p distinct payers (0 for one payer).
    * ``concentration``: share of the row's structured payments that fall in this burst; an
      account that pays near-threshold amounts all year long (business takings) is not
      making a burst.
    * ``avoidance = b / (b + o)``: over the whole data, b payments in the band and o payments
      *just over* the threshold, in ``[threshold, threshold + (threshold - low))``, between
      the burst's payer -> beneficiary pairs. Structuring stays under the threshold; a
      relationship whose payments cross it at other times (takings that vary around a level
      near the threshold) is not avoiding it.
    * ``novelty``: share of the burst's payer -> beneficiary pairs with no transaction
      outside the burst (any amount). A weekly deposit into the same account for months is an
      existing relationship; smurfs paying a beneficiary they never paid before are new.

    Alerts scoring below ``cfg.min_score`` are not emitted (stats ``below_min_score``).
    Cost: the kernel's O(E + N), plus O(E + S log S) for the pair evidence (S payments in or
    just over the band).
    """
    w = int(cfg.window)
    n_min = max(int(cfg.min_count), 1)
    thr = float(cfg.threshold)
    low = (1.0 - float(cfg.band)) * thr
    structured = (graph.amt >= low) & (graph.amt < thr)
    batches, cut, cand, below = [], 0, 0, 0
    band_keys = _pair_counter(graph, structured)
    over_keys = _pair_counter(graph, (graph.amt >= thr) & (graph.amt < thr + (thr - low)))
    left = int(cfg.max_results)
    for mode in ("payer", "beneficiary"):
        if mode == "payer":
            ptr, nbr, ts, amt, eid = graph.out_ptr, graph.out_nbr, graph.out_ts, graph.out_amt, graph.out_eid
        else:
            ptr, nbr, ts, amt, eid = graph.in_ptr, graph.in_nbr, graph.in_ts, graph.in_amt, graph.in_eid
        fptr, pos = _filtered_rows(ptr, structured[eid])
        fnbr, fts = nbr[pos], ts[pos]
        # the beneficiary mode keeps only multi-payer bursts, so it applies the budget after
        # that filter (the kernel's output is bounded by E / min_count anyway)
        budget = max(left, 0) if mode == "payer" else graph.n_edges
        (node, lo, hi, peak, _ps, _pspan, min_span, n_distinct, _no,
         n_cut) = row_bursts(fptr, fnbr, fts, w, n_min, False, budget, graph.n_nodes)
        if mode == "beneficiary":
            keep = np.flatnonzero(n_distinct >= 2)
            n_cut = max(keep.shape[0] - max(left, 0), 0)
            keep = keep[:max(left, 0)]
            node, lo, hi, peak, min_span, n_distinct = (
                node[keep], lo[keep], hi[keep], peak[keep], min_span[keep], n_distinct[keep])
        cut += int(n_cut)
        cand += int(node.shape[0] + n_cut)
        left -= node.shape[0]
        if node.shape[0]:
            part, n_below = _alerts(graph, cfg, mode, node, lo, hi, peak, min_span, n_distinct,
                                    fptr, fnbr, fts, amt[pos], eid[pos], low, thr, w, n_min,
                                    band_keys, over_keys)
            below += n_below
            if part is not None:
                batches.append(part)
    stats = {"budget_cut": cut, "candidates": cand, "below_min_score": below}
    if not batches:
        return Detection(AlertBatch.empty(), stats)
    return Detection(_merge(graph, batches), stats)


def _pair_counter(graph: TemporalGraph, mask: np.ndarray):
    """Sorted (src, dst) pair keys of the transactions with ``mask``, for counting by search."""
    return np.sort(pair_key(graph, graph.src[mask], graph.dst[mask]))


def _count_pairs(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    return (np.searchsorted(sorted_keys, keys, "right")
            - np.searchsorted(sorted_keys, keys, "left")).astype(np.float64)


def _alerts(graph, cfg, mode, node, lo, hi, peak, min_span, n_distinct, fptr, fnbr, fts,
            famt, feid, low, thr, w, n_min, band_keys, over_keys):
    """Score one mode's bursts, drop those below ``cfg.min_score`` and build their alert
    pieces. Returns (pieces or None, number below min_score)."""
    a = node.shape[0]
    n_tx = hi - lo
    cs = np.concatenate([[0.0], np.cumsum((famt - low) / (thr - low))])
    closeness = (cs[hi] - cs[lo]) / n_tx
    ca = np.concatenate([[0.0], np.cumsum(famt)])
    total = ca[hi] - ca[lo]
    row_n = fptr[node + 1] - fptr[node]
    concentration = n_tx / row_n
    # the burst's relationships (payer -> beneficiary pairs) over the whole data: do they pay
    # at other times too (novelty), and do they cross the threshold at other times (avoidance)?
    burst_ptr, burst_pos = ranges(lo, hi)
    group = owner_of(burst_ptr)
    edges = feid[burst_pos]
    novelty = relationship_novelty(graph, group, edges, a)
    pair_group, pair = unique_pairs(group, pair_key(graph, graph.src[edges], graph.dst[edges]))
    n_band = np.bincount(pair_group, weights=_count_pairs(band_keys, pair), minlength=a)
    n_over = np.bincount(pair_group, weights=_count_pairs(over_keys, pair), minlength=a)
    avoidance = n_band / np.maximum(n_band + n_over, 1.0)
    payers = np.ones(a) if mode == "payer" else n_distinct.astype(np.float64)
    count = peak / (peak + n_min)
    speed = speed_score(min_span, w)
    coordination = 1.0 - 1.0 / payers
    score = ((0.35 * count + 0.25 * closeness + 0.2 * speed + 0.2 * coordination)
             * (0.2 + 0.8 * concentration) * avoidance * (0.5 + 0.5 * novelty))
    keep = np.flatnonzero(score >= float(cfg.min_score))
    n_below = a - keep.shape[0]
    if keep.shape[0] == 0:
        return None, n_below
    (node, lo, hi, peak, min_span, n_tx, closeness, total, row_n, concentration, novelty,
     n_band, n_over, avoidance, payers, score) = (
        x[keep] for x in (node, lo, hi, peak, min_span, n_tx, closeness, total, row_n,
                          concentration, novelty, n_band, n_over, avoidance, payers, score))
    a = keep.shape[0]
    txn_ptr, p = ranges(lo, hi)
    cp_ptr, cps = group_unique(owner_of(txn_ptr), fnbr[p], a)
    if mode == "payer":
        member_ptr, member_acc, member_role = members_csr(node, "source", cp_ptr, cps, "sink")
    else:
        member_ptr, member_acc, member_role = members_csr(node, "sink", cp_ptr, cps, "source")
    own_ids = graph.account_id_of(node).to_list()
    cp_ids = graph.account_id_of(cps).to_list()
    evidence = []
    for i in range(a):
        sl = slice(int(lo[i]), int(min(hi[i], lo[i] + EVIDENCE_LIMIT)))
        others = cp_ids[cp_ptr[i]:min(cp_ptr[i + 1], cp_ptr[i] + EVIDENCE_LIMIT)]
        ev = {
            "mode": mode,
            "payers": [own_ids[i]] if mode == "payer" else others,
            "beneficiaries": others if mode == "payer" else [own_ids[i]],
            "txn_ids": graph.txn_id[feid[sl]],
            "amounts": famt[sl],
            "times": fts[sl],
            "window": {"start": int(fts[lo[i]]), "end": int(fts[hi[i] - 1])},
            "peak_count": int(peak[i]),
            "n_payments": int(n_tx[i]),
            "distinct_payers": int(payers[i]),
            "seconds_to_min_count": int(min_span[i]),
            "structured_payments_in_row": int(row_n[i]),
            "concentration": float(concentration[i]),
            "total_amount": float(total[i]),
            "mean_closeness": float(closeness[i]),
            "pair_payments_in_band": int(n_band[i]),
            "pair_payments_just_over": int(n_over[i]),
            "avoidance": float(avoidance[i]),
            "novelty": float(novelty[i]),
            "truncated": bool(n_tx[i] > EVIDENCE_LIMIT),
            "thresholds": {"threshold": thr, "band": float(cfg.band), "low": low,
                           "window": w, "min_count": n_min, "min_score": float(cfg.min_score)},
        }
        evidence.append(ev)
    return dict(score=score, member_ptr=member_ptr, member_acc=member_acc,
                member_role=member_role, txn_ptr=txn_ptr, txn_edge=feid[p], evidence=evidence,
                params=dataclasses.asdict(cfg)), n_below


def _merge(graph, parts) -> AlertBatch:
    """One make_alerts call over both modes' CSR pieces (ids ordered by score together)."""
    def cat_ptr(ptrs):
        out, off = [np.zeros(1, np.int64)], 0
        for q in ptrs:
            out.append(q[1:] + off)
            off += q[-1]
        return np.concatenate(out)
    params = parts[0]["params"]
    return make_alerts(
        graph, "STRUCTURING", np.concatenate([p["score"] for p in parts]),
        cat_ptr([p["member_ptr"] for p in parts]),
        np.concatenate([p["member_acc"] for p in parts]),
        np.concatenate([p["member_role"] for p in parts]),
        cat_ptr([p["txn_ptr"] for p in parts]),
        np.concatenate([p["txn_edge"] for p in parts]), None,
        evidence=[e for p in parts for e in p["evidence"]], params=params)

