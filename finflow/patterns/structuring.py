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
Roles: payers ``source``, beneficiaries ``sink``.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .._kernels.windows import row_bursts
from ..alerts import AlertBatch, Detection, make_alerts
from ..config import StructuringConfig
from ..graph import TemporalGraph
from ._common import speed_score
from .fan import EVIDENCE_LIMIT, group_unique, members_csr, ranges

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
                * (0.2 + 0.8 * concentration)

    * ``count = c / (c + n)``: c structured payments in the peak window, n = min_count.
    * ``closeness``: mean of ``(amount - low) / (threshold - low)`` over the burst (1 = just
      under the threshold).
    * ``speed = 1 - min_span / W``: min_span the shortest time to make n such payments.
    * ``coordination = 1 - 1 / p``: p distinct payers (0 for one payer).
    * ``concentration``: share of the row's structured payments that fall in this burst; an
      account that pays near-threshold amounts all year long (business takings) is not
      making a burst.
    """
    w = int(cfg.window)
    n_min = max(int(cfg.min_count), 1)
    thr = float(cfg.threshold)
    low = (1.0 - float(cfg.band)) * thr
    structured = (graph.amt >= low) & (graph.amt < thr)
    batches, cut, cand = [], 0, 0
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
            batches.append(_alerts(graph, cfg, mode, node, lo, hi, peak, min_span, n_distinct,
                                   fptr, pos, fnbr, fts, amt[pos], eid[pos], low, thr, w, n_min))
    stats = {"budget_cut": cut, "candidates": cand}
    if not batches:
        return Detection(AlertBatch.empty(), stats)
    return Detection(_merge(graph, batches), stats)


def _alerts(graph, cfg, mode, node, lo, hi, peak, min_span, n_distinct, fptr, pos, fnbr, fts,
            famt, feid, low, thr, w, n_min):
    a = node.shape[0]
    n_tx = hi - lo
    cs = np.concatenate([[0.0], np.cumsum((famt - low) / (thr - low))])
    closeness = (cs[hi] - cs[lo]) / n_tx
    ca = np.concatenate([[0.0], np.cumsum(famt)])
    total = ca[hi] - ca[lo]
    row_n = fptr[node + 1] - fptr[node]
    concentration = n_tx / row_n
    payers = np.ones(a) if mode == "payer" else n_distinct.astype(np.float64)
    count = peak / (peak + n_min)
    speed = speed_score(min_span, w)
    coordination = 1.0 - 1.0 / payers
    score = ((0.35 * count + 0.25 * closeness + 0.2 * speed + 0.2 * coordination)
             * (0.2 + 0.8 * concentration))
    txn_ptr, p = ranges(lo, hi)
    cp_ptr, cps = group_unique(np.repeat(np.arange(a), n_tx), fnbr[p], a)
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
            "total_amount": float(total[i]),
            "mean_closeness": float(closeness[i]),
            "truncated": bool(n_tx[i] > EVIDENCE_LIMIT),
            "thresholds": {"threshold": thr, "band": float(cfg.band), "low": low,
                           "window": w, "min_count": n_min},
        }
        evidence.append(ev)
    return dict(score=score, member_ptr=member_ptr, member_acc=member_acc,
                member_role=member_role, txn_ptr=txn_ptr, txn_edge=feid[p], evidence=evidence,
                params=dataclasses.asdict(cfg))


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

