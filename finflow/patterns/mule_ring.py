"""MULE_RING: groups of pass-through accounts tied to each other.

Definition (shared/TYPOLOGIES.md, made precise here)
---------------------------------------------------
* **Mule candidate**: an account with >= ``min_episodes`` qualifying pass-through episodes
  (``finflow._kernels.flow``: FIFO matching within ``max_dwell``, an episode forwards >=
  ``min_ratio`` of its inflow) that forwards most of what it receives: flow-through ratio
  (matched within ``max_dwell`` / received) >= ``min_flow_through``. A qualifying episode
  whose inflows come from several payers and whose outflows go to several payees is also
  how "strong fan-in then fan-out" shows up, so it needs no separate rule.
* **Tie incidences**, from the transactions of the candidates' qualifying episodes: (payer,
  mule, episode, time) for each inflow and (payee, mule, episode, time) for each matched
  outflow. The counterparty must be an end of the flow: its own flow-through ratio is below
  ``min_flow_through`` (an account forwarding most of what it gets is an intermediary, a
  candidate itself). It must be one whose payments (for a payee: receipts) feed (drain) candidate
  episodes for at least ``min_tie_share`` of its transactions (a merchant or employer with a
  few pass-through customers ties nobody), and the mule's relation with it must not be a
  long-lived one (>= ``regular_payments`` payments spanning >= ``regular_span`` seconds;
  defaults 3 payments over 6 weeks: remittance businesses settling with the same foreign
  correspondents for months). Trade-off: a ring that keeps using the same mule and the
  same collector or cash-out account for more than six weeks loses those ties; on the
  benchmark graph, whose planted rings repeat 2-4 rounds at random over 88 days, about 12
  of 20 rings survive (19 of 20 with the rule off: ``regular_payments`` very large), while
  on the demo data the rule is what separates ~70 remittance businesses chained through
  their shared correspondents from the rings.
* **Ties**: two mules touching the same counterparty, on the same side, at most ``window``
  seconds apart (``finflow._kernels.components.shared_key_pairs``). A counterparty touched
  by more than ``max_hub_degree`` candidates over the whole data is no evidence (a big
  merchant, employer or remittance business) and is skipped, counted in ``budget_cut``.
  The **strength** of a tie is the number of distinct occasions supporting it: distinct
  (counterparty, episode of one mule, episode of the other) triples. A ring's mules share a
  collector *and* a cash-out account, or work together in several rounds; two unrelated
  accounts that happened to pay the same busy account in the same week share one
  occasion. Only ties of strength >= ``min_tie_strength`` link mules, so components that
  are joined only through such weak, one-off ties are split. Direct transfers between
  candidates are reported in the evidence but are not ties on their own: payment
  intermediaries paying each other would chain thousands of accounts.
* **Cohesion**: a ring's mules each keep >= ``min_tie_degree`` strong ties to other mules
  of the ring (the k-core, ``finflow._kernels.components.k_core``): a coordinated group
  shares its collector and cash-out accounts, while a chain of accounts each linked to the
  next by some different counterparty is not one group.
* **Ring**: a connected component of the strong ties inside that core (union-find,
  ``finflow._kernels.components``) with >= ``min_size`` candidates. Ties chain, so a ring's
  span can exceed one window when it keeps operating; each tie lies inside one window.

Roles. Members are the ring's candidates, the counterparties of its strong ties (shared
payers and payees), and candidates outside the ring that pay, or are paid by, >= 2 of its
mules inside qualifying episodes (a collector that forwards, a next layer). In the ring's
own flow (transactions of qualifying episodes between members): a shared counterparty that
only pays in is ``source``, one that only receives is ``sink``, one that does both is
``controller`` (it collects the value it sent out). A candidate that receives from no member
and pays >= 2 other mules of the ring is ``source`` (a collector that forwards too); one
paid by >= 2 other mules that pays no member is ``sink``; other candidates are ``mule`` (a
mule paying two shared cash-out accounts in turn is still a mule).

Score (each term in [0, 1], monotone in its evidence)::

    0.30 * k / (k + 3)                 k = mules - min_size + 1            (size)
  + 0.25 * speed                       1 - median episode dwell / max_dwell
  + 0.20 * (share - min_ratio) / (1 - min_ratio)
                                       share = forwarded / inflow over the mules' episodes
  + 0.25 * s / (s + 1)                 s = (shared counterparties + direct transfers
                                           between the mules) per mule

Evidence: mule count, shared sources / sinks (account ids), strong ties and their
strength, direct transfers, value received and forwarded, median dwell, the mules (id,
role, flow-through ratio, median dwell, episodes) and their first ``max_evidence_episodes``
qualifying episodes each, column-wise, with up to ``max_evidence_txns`` transactions per
episode side (ids, counterparties, amounts, epoch-second times).

Complexity: O(E) kernel pass, O(I log I) to sort the I episode incidences, O(I + Q) tie
pairs (Q pairs within the window, budgeted per counterparty), O(Q log Q + n alpha)
union-find; evidence assembled column-wise.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..alerts import ROLE_CODE, Detection, make_alerts
from ..config import MuleRingConfig
from ..graph import TemporalGraph
from ._common import saturate, segment_median, speed_score
from .pass_through import episode_evidence, flow_profile, regular_relations, weighted_count

__all__ = ["detect_mule_rings"]

_ROLE_NAME = np.array(list(ROLE_CODE), dtype=object)


def _strong_ties(graph, cfg, key, mule, episode, ts):
    """Mule pairs (lo, hi) tied with strength >= min_tie_strength (int64[P, 2]), their
    strengths, the number of weaker pairs, the (lo, hi, key) rows naming the counterparties
    that support the strong pairs, and the kernel's two budget counters."""
    from .._kernels.components import shared_key_pairs
    order = np.lexsort((episode, mule, ts, key))
    lo, hi, k, occ_lo, occ_hi, cut_deg, cut_pairs = shared_key_pairs(
        key[order].astype(np.int64), mule[order].astype(np.int64), episode[order].astype(np.int64),
        ts[order].astype(np.int64), np.int64(cfg.window), np.int64(cfg.max_hub_degree),
        np.int64(cfg.max_pairs_per_counterparty), np.int64(graph.n_nodes))
    # distinct occasions per mule pair
    occ = np.unique(np.stack([lo, hi, k, occ_lo, occ_hi], axis=1), axis=0)
    pair, strength = np.unique(occ[:, :2], axis=0, return_counts=True)
    strong = pair[strength >= cfg.min_tie_strength]
    strong_strength = strength[strength >= cfg.min_tie_strength]
    # (lo, hi, key) rows of the strong pairs: which counterparties support them
    n = np.int64(graph.n_nodes)
    pk = occ[:, 0] * n + occ[:, 1]
    is_strong = np.isin(pk, strong[:, 0] * n + strong[:, 1])
    support = np.unique(occ[is_strong][:, :3], axis=0)
    n_weak = int(pair.shape[0] - strong.shape[0])
    return strong, strong_strength, n_weak, support, int(cut_deg), int(cut_pairs)


def detect_mule_rings(graph: TemporalGraph, cfg: MuleRingConfig) -> Detection:
    """MULE_RING alerts, one per ring (see module doc for definition, roles and score).

    Stats: candidates (mule candidates), ties (strong tie pairs kept), weak_ties (pairs
    below min_tie_strength), peeled_ties (strong pairs outside the min_tie_degree core), rings (before max_results), hubs_skipped (counterparties over
    max_hub_degree), pairs_skipped (counterparties over max_pairs_per_counterparty),
    budget_cut (both, + rings beyond max_results).
    """
    from .._kernels.components import connected_components, k_core
    n = graph.n_nodes
    prof = flow_profile(graph, cfg.max_dwell, cfg.min_ratio)
    ratio = prof.flow_through_ratio
    is_cand = (prof.n_qualifying >= max(cfg.min_episodes, 1)) & (ratio >= cfg.min_flow_through)
    episodes = np.flatnonzero(prof.ep_qualifying & is_cand[prof.ep_account])
    in_ep, in_edge = prof.episode_rows(graph, episodes, "in")
    out_ep, out_edge = prof.episode_rows(graph, episodes, "out")
    in_mule, payer = graph.dst[in_edge], graph.src[in_edge]
    out_mule, payee = graph.src[out_edge], graph.dst[out_edge]

    # direct transfers between candidates (inside an episode of both): evidence only
    both = np.intersect1d(in_edge, out_edge)
    direct_in = np.isin(in_edge, both)
    direct_out = np.isin(out_edge, both)
    # tie incidences: counterparties that are ends of the flow, mostly busy with candidate
    # episodes, and not in a regular long-lived relation with the mule
    src_share = np.bincount(payer, minlength=n) / np.maximum(np.diff(graph.out_ptr), 1)
    snk_share = np.bincount(payee, minlength=n) / np.maximum(np.diff(graph.in_ptr), 1)
    is_end = ratio < cfg.min_flow_through
    src_ok = ((src_share[payer] >= cfg.min_tie_share) & is_end[payer]
              & ~regular_relations(graph, in_edge, cfg.regular_payments, cfg.regular_span))
    snk_ok = ((snk_share[payee] >= cfg.min_tie_share) & is_end[payee]
              & ~regular_relations(graph, out_edge, cfg.regular_payments, cfg.regular_span))
    # key = 2 * counterparty + side (0 pays the mules, 1 is paid by them)
    key = np.concatenate([2 * payer[src_ok].astype(np.int64), 2 * payee[snk_ok].astype(np.int64) + 1])
    inc_mule = np.concatenate([in_mule[src_ok], out_mule[snk_ok]]).astype(np.int64)
    inc_ep = np.concatenate([in_ep[src_ok], out_ep[snk_ok]]).astype(np.int64)
    inc_ts = np.concatenate([graph.ts[in_edge[src_ok]], graph.ts[out_edge[snk_ok]]])
    strong, strength, n_weak, support, cut_deg, cut_pairs = _strong_ties(
        graph, cfg, key, inc_mule, inc_ep, inc_ts)
    # cohesion: every ring mule is tied to >= min_tie_degree others of the ring (k-core), so
    # chains of one-to-one links between otherwise unrelated accounts fall apart
    alive = k_core(np.int64(n), strong[:, 0].copy(), strong[:, 1].copy(), np.int64(cfg.min_tie_degree))
    cohesive = alive[strong[:, 0]] & alive[strong[:, 1]]
    n_peeled = int(strong.shape[0] - np.count_nonzero(cohesive))
    strong, strength = strong[cohesive], strength[cohesive]
    support = support[alive[support[:, 0]] & alive[support[:, 1]]]
    label = connected_components(np.int64(n), strong[:, 0].copy(), strong[:, 1].copy())

    cand = np.flatnonzero(is_cand)
    comp_size = np.bincount(label[cand], minlength=n)
    ring_label = np.flatnonzero(comp_size >= cfg.min_size)
    stats = {"candidates": int(cand.shape[0]), "ties": int(strong.shape[0]),
             "weak_ties": n_weak, "peeled_ties": n_peeled, "rings": int(ring_label.shape[0]),
             "hubs_skipped": cut_deg,
             "pairs_skipped": cut_pairs, "budget_cut": cut_deg + cut_pairs}
    if ring_label.shape[0] == 0:
        return Detection(make_alerts(graph, "MULE_RING", [], [0], [], [], [0], []), stats)
    ring_of = np.full(n, -1, np.int64)               # ring index of each candidate
    ring_of[ring_label] = np.arange(ring_label.shape[0])
    ring_of = np.where(is_cand, ring_of[label], -1)
    r_count = ring_label.shape[0]

    # counterparty members per ring: the shared payers / payees of its strong ties, and
    # candidates outside the ring that pay (or are paid by) >= 2 of its mules directly
    # inside qualifying episodes (a collector that forwards, a next layer)
    d_edge = np.unique(np.concatenate([in_edge[direct_in], out_edge[direct_out]]))
    d_src, d_dst = graph.src[d_edge].astype(np.int64), graph.dst[d_edge].astype(np.int64)
    s_lo, s_hi, s_key = support[:, 0], support[:, 1], support[:, 2]
    inc_ring = np.concatenate([ring_of[s_lo], ring_of[s_hi], ring_of[d_dst], ring_of[d_src]])
    inc_acc = np.concatenate([s_key // 2, s_key // 2, d_src, d_dst])
    inc_mule = np.concatenate([s_lo, s_hi, d_dst, d_src])
    inc_dir = np.concatenate([s_key % 2, s_key % 2, np.zeros(d_edge.shape[0], np.int64),
                              np.ones(d_edge.shape[0], np.int64)])
    keep = (inc_ring >= 0) & (ring_of[inc_acc] != inc_ring)  # not a mule of that ring
    inc_ring, inc_acc, inc_mule, inc_dir = inc_ring[keep], inc_acc[keep], inc_mule[keep], inc_dir[keep]
    cp_key = inc_ring * (n + 1) + inc_acc
    # distinct mules per (ring, counterparty): keep counterparties touching >= 2
    o = np.lexsort((inc_mule, cp_key))
    ck, cm = cp_key[o], inc_mule[o]
    first = np.ones(ck.shape[0], bool)
    first[1:] = (ck[1:] != ck[:-1]) | (cm[1:] != cm[:-1])
    pk, pcount = np.unique(ck[first], return_counts=True)
    keep = np.isin(cp_key, pk[pcount >= 2])
    cp_key, inc_dir = cp_key[keep], inc_dir[keep]
    # counterparty role bits: 1 = pays in, 2 = receives, 3 = both (controller)
    cp_u, cp_inv = np.unique(cp_key, return_inverse=True)
    cp_bits = np.zeros(cp_u.shape[0], np.int64)
    np.bitwise_or.at(cp_bits, cp_inv, 1 + inc_dir)
    cp_ring, cp_acc = cp_u // (n + 1), cp_u % (n + 1)
    n_shared = np.bincount(cp_ring, minlength=r_count)

    # direct transfers between mules of the same ring
    same = (ring_of[d_src] >= 0) & (ring_of[d_src] == ring_of[d_dst])
    n_direct = np.bincount(ring_of[d_src[same]], minlength=r_count)
    tie_ring = ring_of[strong[:, 0]]
    n_ties = np.bincount(tie_ring[tie_ring >= 0], minlength=r_count)

    # per-ring episode aggregates
    ep_ring = ring_of[prof.ep_account[episodes]]
    in_ring_eps = ep_ring >= 0
    r_in = weighted_count(ep_ring[in_ring_eps], prof.ep_inflow[episodes][in_ring_eps], r_count)
    r_fwd = weighted_count(ep_ring[in_ring_eps], prof.ep_forwarded[episodes][in_ring_eps], r_count)
    mules_sorted = cand[ring_of[cand] >= 0]
    mules_sorted = mules_sorted[np.lexsort((mules_sorted, ring_of[mules_sorted]))]
    mule_ptr = np.searchsorted(ring_of[mules_sorted], np.arange(r_count + 1))
    n_mules = np.diff(mule_ptr)
    med_dwell = segment_median(prof.median_dwell[mules_sorted], mule_ptr)  # of mules' medians
    share = np.divide(r_fwd, r_in, out=np.zeros(r_count), where=r_in > 0)
    span = max(1.0 - cfg.min_ratio, 1e-9)
    ties = n_shared + n_direct
    score = (0.30 * saturate(n_mules - cfg.min_size + 1, 3.0)
             + 0.25 * speed_score(med_dwell, cfg.max_dwell)
             + 0.20 * np.clip((share - cfg.min_ratio) / span, 0.0, 1.0)
             + 0.25 * saturate(ties / np.maximum(n_mules, 1), 1.0))
    rings = np.arange(r_count)
    if r_count > cfg.max_results:
        rings = np.sort(np.lexsort((rings, -score))[:cfg.max_results])
        stats["budget_cut"] += int(r_count - rings.shape[0])
    kept_ring = np.full(r_count, -1, np.int64)      # alert index of each kept ring
    kept_ring[rings] = np.arange(rings.shape[0])
    a_count = rings.shape[0]

    # members per alert: mules (role from the ring's internal flow), then counterparties
    m_alert = np.concatenate([kept_ring[ring_of[mules_sorted]], kept_ring[cp_ring]])
    m_acc = np.concatenate([mules_sorted, cp_acc]).astype(np.int64)
    m_kind = np.concatenate([np.zeros(mules_sorted.shape[0], np.int64), np.ones(cp_acc.shape[0], np.int64)])
    ok = m_alert >= 0
    m_alert, m_acc, m_kind = m_alert[ok], m_acc[ok], m_kind[ok]
    is_mule_member = m_kind == 0
    cp_role_of_bits = np.array([0, ROLE_CODE["source"], ROLE_CODE["sink"], ROLE_CODE["controller"]], np.int8)
    m_role = np.empty(m_acc.shape[0], np.int8)
    m_role[~is_mule_member] = cp_role_of_bits[cp_bits[kept_ring[cp_ring] >= 0]]

    # ring transactions: every inflow / matched outflow of the mules' qualifying episodes
    tx_ring = np.concatenate([ring_of[prof.ep_account[in_ep]], ring_of[prof.ep_account[out_ep]]])
    tx_edge = np.concatenate([in_edge, out_edge])
    ok = tx_ring >= 0
    tx_alert = kept_ring[tx_ring[ok]]
    tx_edge = tx_edge[ok]
    ok = tx_alert >= 0
    e_count = max(graph.n_edges, 1)
    tkey = np.unique(tx_alert[ok] * e_count + tx_edge[ok])
    tx_alert, tx_edge = tkey // e_count, tkey % e_count
    txn_ptr = np.searchsorted(tx_alert, np.arange(a_count + 1))

    # mule roles from the ring's internal flow: distinct member payers / payees per mule
    member_key = np.unique(m_alert * (n + 1) + m_acc)
    src_in = np.isin(tx_alert * (n + 1) + graph.src[tx_edge], member_key)
    dst_in = np.isin(tx_alert * (n + 1) + graph.dst[tx_edge], member_key)
    internal = src_in & dst_in
    pairs = np.unique(np.stack([graph.src[tx_edge[internal]], graph.dst[tx_edge[internal]]],
                               axis=1).astype(np.int64), axis=0).reshape(-1, 2)
    between_mules = (ring_of[pairs[:, 0]] >= 0) & (ring_of[pairs[:, 0]] == ring_of[pairs[:, 1]])
    n_payers = np.bincount(pairs[:, 1], minlength=n)                 # distinct member payers
    n_payees = np.bincount(pairs[:, 0], minlength=n)
    mule_payers = np.bincount(pairs[between_mules, 1], minlength=n)   # of them, ring mules
    mule_payees = np.bincount(pairs[between_mules, 0], minlength=n)
    mm = m_acc[is_mule_member]
    m_role[is_mule_member] = np.where(
        (n_payers[mm] == 0) & (mule_payees[mm] >= 2), ROLE_CODE["source"],
        np.where((n_payees[mm] == 0) & (mule_payers[mm] >= 2), ROLE_CODE["sink"], ROLE_CODE["mule"]))
    order = np.lexsort((np.arange(m_alert.shape[0]), m_alert))   # stable: mules, then others
    m_alert, m_acc, m_role, m_kind = m_alert[order], m_acc[order], m_role[order], m_kind[order]
    member_ptr = np.searchsorted(m_alert, np.arange(a_count + 1))

    # evidence, column-wise; mules' first max_evidence_episodes qualifying episodes each
    ep_acc = prof.ep_account[episodes]
    ep_alert = np.where(ring_of[ep_acc] >= 0, kept_ring[np.maximum(ring_of[ep_acc], 0)], -1)
    sel = episodes[ep_alert >= 0]
    sel_alert = ep_alert[ep_alert >= 0]
    sel_acc = prof.ep_account[sel]
    rank = np.arange(sel.shape[0]) - np.searchsorted(sel_acc, sel_acc)  # episodes grouped by account
    keep = rank < max(cfg.max_evidence_episodes, 0)
    sel, sel_alert, sel_acc = sel[keep], sel_alert[keep], sel_acc[keep]
    o = np.lexsort((sel, sel_alert))
    listed, listed_alert = sel[o], sel_alert[o]
    blocks = episode_evidence(graph, prof, listed, listed_alert, a_count,
                              (in_ep, in_edge, out_ep, out_edge), max(cfg.max_evidence_txns, 0),
                              with_account=True)
    mule_rows = np.flatnonzero(m_kind == 0)
    mule_alert = m_alert[mule_rows]
    mule_acc = m_acc[mule_rows]
    mule_ptr_a = np.searchsorted(mule_alert, np.arange(a_count + 1)).tolist()
    mule_cols = {"account_id": graph.account_id_of(mule_acc).to_numpy(),
                 "role": _ROLE_NAME[m_role[mule_rows]],
                 "flow_through_ratio": ratio[mule_acc],
                 "median_dwell_seconds": prof.median_dwell[mule_acc],
                 "n_episodes": prof.n_qualifying[mule_acc]}
    cp_alert = kept_ring[cp_ring]
    cp_o = np.flatnonzero(cp_alert >= 0)
    cp_ids = graph.account_id_of(cp_acc[cp_o]).to_numpy()
    cp_ptr = np.searchsorted(cp_alert[cp_o], np.arange(a_count + 1)).tolist()
    cp_b = cp_bits[cp_o]
    evidence = []
    for j, r in enumerate(rings.tolist()):
        b = cp_b[cp_ptr[j]:cp_ptr[j + 1]]
        ids = cp_ids[cp_ptr[j]:cp_ptr[j + 1]]
        lo, hi = mule_ptr_a[j], mule_ptr_a[j + 1]
        evidence.append({
            "n_mules": int(n_mules[r]),
            "shared_sources": ids[(b & 1) == 1], "shared_sinks": ids[(b & 2) == 2],
            "n_ties": int(n_ties[r]), "n_direct_transfers": int(n_direct[r]),
            "value_received": float(r_in[r]), "value_forwarded": float(r_fwd[r]),
            "forwarded_share": float(share[r]), "median_dwell_seconds": float(med_dwell[r]),
            "mules": {c: v[lo:hi] for c, v in mule_cols.items()},
            **blocks[j]})
    alerts = make_alerts(graph, "MULE_RING", score[rings], member_ptr, m_acc.astype(np.int32),
                         m_role, txn_ptr, tx_edge, evidence=evidence,
                         params=dataclasses.asdict(cfg))
    return Detection(alerts, stats)
