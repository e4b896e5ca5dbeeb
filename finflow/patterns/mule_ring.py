"""MULE_RING: groups of pass-through accounts tied to each other.

Definition (shared/TYPOLOGIES.md, made precise here)
---------------------------------------------------
* **Mule candidate**: an account with >= ``min_episodes`` qualifying pass-through episodes
  (``finflow._kernels.flow``: FIFO matching within ``max_dwell``, an episode forwards >=
  ``min_ratio`` of its inflow). A qualifying episode whose inflows come from several payers
  and whose outflows go to several payees is also how "strong fan-in then fan-out" shows up,
  so it needs no separate rule.
* **Evidence graph** over candidates, using only the transactions of their qualifying
  episodes: (1) *shared source*: one account pays two candidates at times at most
  ``window`` apart; (2) *shared sink*: one account is paid by two candidates at times at
  most ``window`` apart. The shared account must be an end of the flow: its own
  flow-through ratio (matched within max_dwell / received) is below ``min_ratio``; an
  account forwarding nearly everything is an intermediary. A shared counterparty ties only when
  at least ``min_tie_share`` of its payments (for a sink: of its receipts) feed (drain)
  candidate episodes, and when it is shared by at most ``max_hub_degree`` candidates (over
  the whole data; larger ones are skipped and counted in ``budget_cut``): a big merchant,
  employer or remittance business is no evidence of coordination. Direct transfers between
  candidates (both ends inside qualifying episodes) are reported in the evidence but are
  not ties on their own: on realistic background data, payment intermediaries paying each
  other chain thousands of accounts into one component. A collector that pays the mules is
  still a shared source, so layered rings stay tied.
* **Ring**: a connected component of the evidence graph (union-find,
  ``finflow._kernels.components``) with >= ``min_size`` candidates. Ties chain, so a ring's
  span can exceed one window when it keeps operating; each tie lies inside one window.

Roles. Members are the ring's candidates, the counterparties that tie them (shared payers
and payees), and candidates outside the ring that pay, or are paid by, >= 2 of its mules
inside qualifying episodes (a collector that forwards, a next layer). In the ring's own flow (transactions of qualifying episodes between
members): a shared counterparty that only pays in is ``source``, one that only receives is
``sink``, one that does both is ``controller`` (it collects the value it sent out). A
candidate that receives from no member and pays >= 2 members is ``source`` (a collector that
forwards too); one paid by >= 2 members that pays no member is ``sink``; other candidates
are ``mule``.

Score (each term in [0, 1], monotone in its evidence)::

    0.30 * k / (k + 3)                 k = mules - min_size + 1            (size)
  + 0.25 * speed                       1 - median episode dwell / max_dwell
  + 0.20 * (share - min_ratio) / (1 - min_ratio)
                                       share = forwarded / inflow over the mules' episodes
  + 0.25 * s / (s + 1)                 s = (shared counterparties + direct transfers
                                           between the mules) per mule

Evidence: mule count, shared sources / sinks (account ids), direct transfers, value
received and forwarded, median dwell, and each mule's qualifying episodes (first
``max_evidence_episodes``) with transaction ids, counterparties, amounts, epoch-second times.

Complexity: O(E) kernel pass, O(I log I) to sort the I episode incidences, O(I alpha) union-find.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..alerts import ROLE_CODE, Detection, make_alerts
from ..config import MuleRingConfig
from ..graph import TemporalGraph
from ._common import saturate, speed_score
from .pass_through import EpisodeEvidence, flow_profile

__all__ = ["detect_mule_rings"]


def _shared_ties(key, node, ts, window, max_hub_degree, n_nodes):
    from .._kernels.components import link_shared_keys
    order = np.lexsort((node, ts, key))
    return link_shared_keys(key[order].astype(np.int64), node[order].astype(np.int64),
                            ts[order].astype(np.int64), np.int64(window),
                            np.int64(max_hub_degree), np.int64(n_nodes))


def detect_mule_rings(graph: TemporalGraph, cfg: MuleRingConfig) -> Detection:
    """MULE_RING alerts, one per ring (see module doc for definition, roles and score).

    Stats: candidates (mule candidates), rings (before max_results), budget_cut (hub
    counterparties skipped by max_hub_degree + rings beyond max_results), hubs_skipped.
    """
    from .._kernels.components import connected_components
    n = graph.n_nodes
    prof = flow_profile(graph, cfg.max_dwell, cfg.min_ratio)
    is_cand = prof.n_qualifying >= max(cfg.min_episodes, 1)
    episodes = np.flatnonzero(prof.ep_qualifying & is_cand[prof.ep_account])
    in_ep, in_edge = prof.episode_rows(graph, episodes, "in")
    out_ep, out_edge = prof.episode_rows(graph, episodes, "out")
    in_mule, payer = graph.dst[in_edge], graph.src[in_edge]
    out_mule, payee = graph.src[out_edge], graph.dst[out_edge]

    # direct transfers between candidates (inside an episode of both): evidence only
    both = np.intersect1d(in_edge, out_edge)
    direct_in = np.isin(in_edge, both)
    direct_out = np.isin(out_edge, both)
    # ties: shared payers and shared payees. A shared counterparty is evidence only when the
    # mules' episodes are a real part of its business (share of its payments feeding, or of
    # its receipts draining, candidate episodes), so a merchant or employer with a few
    # pass-through customers ties nobody; and it must be an end of the flow, not itself
    # forwarding >= min_ratio of all it receives within the dwell limit, so payment
    # intermediaries that forward everything (remittance businesses) do not chain their
    # customers and each other into one giant component.
    src_share = np.bincount(payer, minlength=n) / np.maximum(np.diff(graph.out_ptr), 1)
    snk_share = np.bincount(payee, minlength=n) / np.maximum(np.diff(graph.in_ptr), 1)
    is_end = prof.flow_through_ratio < cfg.min_ratio   # does not forward most of its money
    src_ok = (src_share[payer] >= cfg.min_tie_share) & is_end[payer]
    snk_ok = (snk_share[payee] >= cfg.min_tie_share) & is_end[payee]
    src_a, src_b, src_key, cut_src = _shared_ties(payer[src_ok], in_mule[src_ok],
                                                   graph.ts[in_edge[src_ok]], cfg.window,
                                                   cfg.max_hub_degree, n)
    snk_a, snk_b, snk_key, cut_snk = _shared_ties(payee[snk_ok], out_mule[snk_ok],
                                                   graph.ts[out_edge[snk_ok]], cfg.window,
                                                   cfg.max_hub_degree, n)
    edge_a = np.concatenate([src_a, snk_a]).astype(np.int64)
    edge_b = np.concatenate([src_b, snk_b]).astype(np.int64)
    label = connected_components(np.int64(n), edge_a, edge_b)

    cand = np.flatnonzero(is_cand)
    comp_size = np.bincount(label[cand], minlength=n)
    ring_label = np.flatnonzero(comp_size >= cfg.min_size)
    stats = {"candidates": int(cand.shape[0]), "rings": int(ring_label.shape[0]),
             "hubs_skipped": int(cut_src + cut_snk), "budget_cut": int(cut_src + cut_snk)}
    if ring_label.shape[0] == 0:
        return Detection(make_alerts(graph, "MULE_RING", [], [0], [], [], [0], []), stats)
    ring_of = np.full(n, -1, np.int64)               # ring index of each candidate
    ring_of[ring_label] = np.arange(ring_label.shape[0])
    ring_of = np.where(is_cand, ring_of[label], -1)
    r_count = ring_label.shape[0]

    # counterparty members per ring: the shared payers / payees that tie its mules, and
    # candidates outside the ring that pay (or are paid by) >= 2 of its mules directly
    # inside qualifying episodes (a collector that forwards, a next layer)
    d_edge = np.unique(np.concatenate([in_edge[direct_in], out_edge[direct_out]]))
    d_src, d_dst = graph.src[d_edge].astype(np.int64), graph.dst[d_edge].astype(np.int64)
    inc_ring = np.concatenate([ring_of[src_a], ring_of[src_b], ring_of[snk_a], ring_of[snk_b],
                               ring_of[d_dst], ring_of[d_src]])
    inc_acc = np.concatenate([src_key, src_key, snk_key, snk_key, d_src, d_dst])
    inc_mule = np.concatenate([src_a, src_b, snk_a, snk_b, d_dst, d_src])
    inc_dir = np.concatenate([np.zeros(2 * src_key.shape[0], np.int64),
                              np.ones(2 * snk_key.shape[0], np.int64),
                              np.zeros(d_edge.shape[0], np.int64), np.ones(d_edge.shape[0], np.int64)])
    keep = (inc_ring >= 0) & (ring_of[inc_acc] != inc_ring)  # not a mule of that ring
    inc_ring, inc_acc, inc_mule, inc_dir = inc_ring[keep], inc_acc[keep], inc_mule[keep], inc_dir[keep]
    cp_key = inc_ring * (n + 1) + inc_acc
    # distinct mules per (ring, counterparty): keep counterparties touching >= 2
    o = np.lexsort((inc_mule, cp_key))
    ck, cm = cp_key[o], inc_mule[o]
    first = np.ones(ck.shape[0], bool)
    first[1:] = (ck[1:] != ck[:-1]) | (cm[1:] != cm[:-1])
    pk, pcount = np.unique(ck[first], return_counts=True)
    strong = pk[pcount >= 2]
    keep = np.isin(cp_key, strong)
    cp_key, inc_dir = cp_key[keep], inc_dir[keep]
    # counterparty role bits: 1 = pays in, 2 = receives, 3 = both (controller)
    cp_u, cp_inv = np.unique(cp_key, return_inverse=True)
    cp_bits = np.zeros(cp_u.shape[0], np.int64)
    np.bitwise_or.at(cp_bits, cp_inv, 1 + inc_dir)
    cp_ring, cp_acc = cp_u // (n + 1), cp_u % (n + 1)
    n_shared = np.bincount(cp_ring, minlength=r_count)

    # ring-internal flow among candidates of the same ring (direct transfers)
    ring_edges = np.concatenate([in_edge[direct_in], out_edge[direct_out]])
    ring_edges = np.unique(ring_edges)
    same = (ring_of[graph.src[ring_edges]] >= 0) & (
        ring_of[graph.src[ring_edges]] == ring_of[graph.dst[ring_edges]])
    ring_edges = ring_edges[same]
    n_direct = np.bincount(ring_of[graph.src[ring_edges]], minlength=r_count)

    # per-ring episode aggregates
    ep_ring = ring_of[prof.ep_account[episodes]]
    in_ring_eps = ep_ring >= 0
    r_in = np.bincount(ep_ring[in_ring_eps], prof.ep_inflow[episodes][in_ring_eps], r_count)
    r_fwd = np.bincount(ep_ring[in_ring_eps], prof.ep_forwarded[episodes][in_ring_eps], r_count)
    mules_sorted = cand[ring_of[cand] >= 0]
    mules_sorted = mules_sorted[np.lexsort((mules_sorted, ring_of[mules_sorted]))]
    mule_ptr = np.searchsorted(ring_of[mules_sorted], np.arange(r_count + 1))
    n_mules = np.diff(mule_ptr)
    med_dwell = np.array([np.median(prof.median_dwell[mules_sorted[mule_ptr[r]:mule_ptr[r + 1]]])
                          for r in range(r_count)])
    share = np.divide(r_fwd, r_in, out=np.zeros(r_count), where=r_in > 0)
    span = max(1.0 - cfg.min_ratio, 1e-9)
    ties = n_shared + n_direct
    score = (0.30 * saturate(n_mules - cfg.min_size + 1, 3.0)
             + 0.25 * speed_score(med_dwell, cfg.max_dwell)
             + 0.20 * np.clip((share - cfg.min_ratio) / span, 0.0, 1.0)
             + 0.25 * saturate(ties / np.maximum(n_mules, 1), 1.0))
    rings = np.arange(r_count)
    budget_cut = 0
    if r_count > cfg.max_results:
        rings = np.sort(np.lexsort((rings, -score))[:cfg.max_results])
        budget_cut = r_count - rings.shape[0]
    stats["budget_cut"] += int(budget_cut)

    # ring transactions: every inflow / matched outflow of the mules' qualifying episodes
    tx_ring = np.concatenate([ring_of[prof.ep_account[in_ep]], ring_of[prof.ep_account[out_ep]]])
    tx_edge = np.concatenate([in_edge, out_edge])
    ok = tx_ring >= 0
    tx_ring, tx_edge = tx_ring[ok], tx_edge[ok]
    key = np.unique(tx_ring * graph.n_edges + tx_edge)
    tx_ring, tx_edge = key // max(graph.n_edges, 1), key % max(graph.n_edges, 1)
    tx_ptr = np.searchsorted(tx_ring, np.arange(r_count + 1))
    cp_ptr = np.searchsorted(cp_ring, np.arange(r_count + 1))
    ep_order = np.lexsort((episodes, prof.ep_account[episodes]))
    eps_by_acc = episodes[ep_order]
    acc_ep_lo = np.searchsorted(prof.ep_account[eps_by_acc], np.arange(n + 1))

    member_ptr, member_acc, member_role, txn_ptr, txn_edge, scores, evidence = [0], [], [], [0], [], [], []
    ids = graph.account_id_of
    episode_evidence = EpisodeEvidence(graph, prof, in_ep, in_edge, out_ep, out_edge)
    ratio = prof.flow_through_ratio
    for r in rings.tolist():
        mules = mules_sorted[mule_ptr[r]:mule_ptr[r + 1]]
        cps = cp_acc[cp_ptr[r]:cp_ptr[r + 1]]
        bits = cp_bits[cp_ptr[r]:cp_ptr[r + 1]]
        members = set(mules.tolist()) | set(cps.tolist())
        e_r = tx_edge[tx_ptr[r]:tx_ptr[r + 1]]
        s_, d_ = graph.src[e_r], graph.dst[e_r]
        internal = np.fromiter(((a in members) and (b in members) for a, b in zip(s_.tolist(), d_.tolist())),
                               bool, e_r.shape[0])
        payers_of = {m: set() for m in mules.tolist()}
        payees_of = {m: set() for m in mules.tolist()}
        for a, b in zip(s_[internal].tolist(), d_[internal].tolist()):
            if b in payers_of:
                payers_of[b].add(a)
            if a in payees_of:
                payees_of[a].add(b)
        roles = []
        for m in mules.tolist():
            if not payers_of[m] and len(payees_of[m]) >= 2:
                roles.append(ROLE_CODE["source"])
            elif not payees_of[m] and len(payers_of[m]) >= 2:
                roles.append(ROLE_CODE["sink"])
            else:
                roles.append(ROLE_CODE["mule"])
        cp_roles = [ROLE_CODE["controller"] if b == 3 else ROLE_CODE["source"] if b == 1
                    else ROLE_CODE["sink"] for b in bits.tolist()]
        member_acc.extend(mules.tolist() + cps.tolist())
        member_role.extend(roles + cp_roles)
        member_ptr.append(len(member_acc))
        txn_edge.extend(e_r.tolist())
        txn_ptr.append(len(txn_edge))
        scores.append(score[r])
        mule_ev = []
        for m, m_id, role in zip(mules.tolist(), ids(mules).to_list(), roles):
            eps = eps_by_acc[acc_ep_lo[m]:acc_ep_lo[m + 1]]
            mule_ev.append({
                "account_id": m_id, "role": _ROLE_NAME[role],
                "flow_through_ratio": float(ratio[m]),
                "median_dwell_seconds": float(prof.median_dwell[m]),
                "n_episodes": int(eps.shape[0]),
                "episodes": episode_evidence(eps[:cfg.max_evidence_episodes])})
        evidence.append({
            "n_mules": int(n_mules[r]),
            "shared_sources": ids(cps[(bits & 1) == 1]).to_list(),
            "shared_sinks": ids(cps[(bits & 2) == 2]).to_list(),
            "n_direct_transfers": int(n_direct[r]),
            "value_received": float(r_in[r]), "value_forwarded": float(r_fwd[r]),
            "forwarded_share": float(share[r]), "median_dwell_seconds": float(med_dwell[r]),
            "mules": mule_ev})
    alerts = make_alerts(graph, "MULE_RING", np.array(scores), member_ptr,
                         np.array(member_acc, np.int32), np.array(member_role, np.int8),
                         txn_ptr, np.array(txn_edge, np.int64), evidence=evidence,
                         params=dataclasses.asdict(cfg))
    return Detection(alerts, stats)


_ROLE_NAME = {v: k for k, v in ROLE_CODE.items()}
