"""CYCLE: round-tripping - value that leaves an account and comes back through others.

Definition (shared/TYPOLOGIES.md, made precise in ``finflow._kernels.cycles``): transactions
``e1..eL`` with ``dst(ei) = src(ei+1)``, ``dst(eL) = src(e1)``, distinct accounts,
non-decreasing times, ``ts(eL) - ts(e1) <= window`` and ``min_length <= L <= max_length``;
when ``min_hop_ratio > 0`` every hop moves at least that share of the previous hop's amount.
The kernel reports every such cycle exactly once (see its module doc for the proof).

Alerts. Repeated round trips through the same accounts in the same order are one story for
an analyst, so cycles are merged per *account rotation* (the cyclic order of accounts,
whichever account starts) and per window: taking that rotation's cycles in time order, a
new alert opens when a cycle starts more than ``window`` seconds after the first cycle of
the current alert. The cycle list itself (``enumerate_cycles``) stays exact; only alerting
merges. At most ``max_alerts`` alerts are emitted (the highest scores; the rest are counted).

Members: the first sender of the alert's best cycle (highest score, then earliest) is the
``source``, the other accounts ``intermediary``, listed in path order from the source.
Transactions: every transaction of the merged cycles (each once), cycle by cycle in time
order and within a cycle in path order; ``step`` is the hop position of the transaction's
sender counted from the source (0 = paid by the source).

Score of one cycle (each term in [0, 1] and monotone in its evidence)::

    0.30 * retention       geometric mean over hops of min/max(hop, previous hop): value kept
                           hop to hop (round-tripping), no top-ups; independent of length
  + 0.20 * speed           1 - hop_dwell / window, hop_dwell = span / (length - 1): value
                           that moves on quickly at every hop
  + 0.35 * activity_share  median over the cycle's accounts of (the hop it received + the hop
                           it sent) / everything it sent and received from window before the
                           cycle to window after it: the round trip dominates what these
                           accounts do (dedicated or otherwise quiet accounts, material sums)
  + 0.15 * [length >= 3]   2-cycles are often ordinary mutual payments

An alert scores its best cycle. A 2-cycle thus scores at most 0.85, and low when its two
amounts differ (payment and partial refund), it is slow, or it is a small part of what the
two accounts move anyway (friends settling small sums between salaries and card spending).
Alerts scoring below ``min_score`` (default 0.6, see CycleConfig) are not emitted; they are
counted in ``stats["below_min_score"]``.

Complexity: the kernel's (output-sensitive, see finflow._kernels.cycles) plus
O(C * L log C) to group the C cycles into alerts.
"""
from __future__ import annotations

import dataclasses

import numba
import numpy as np

from ..alerts import ROLE_CODE, Detection, make_alerts
from ..config import CycleConfig
from ..errors import ConfigError
from ..graph import TemporalGraph
from ._common import account_volume, segment_median, speed_score

__all__ = ["detect_cycles", "enumerate_cycles", "cycle_scores"]

#: start edges per parallel batch in the kernel (the output does not depend on it)
_BLOCK = 8192

W_RETENTION, W_SPEED, W_SHARE, W_LENGTH = 0.30, 0.20, 0.35, 0.15


def _check(cfg: CycleConfig) -> None:
    if cfg.window < 0:
        raise ConfigError(f"cycle.window must be >= 0 seconds, got {cfg.window}")
    if not 2 <= cfg.min_length <= cfg.max_length:
        raise ConfigError(f"cycle: need 2 <= min_length <= max_length, got "
                          f"{cfg.min_length}..{cfg.max_length}")
    for name in ("max_results", "max_results_per_start", "max_degree", "max_alerts"):
        if getattr(cfg, name) < 1:
            raise ConfigError(f"cycle.{name} must be >= 1, got {getattr(cfg, name)}")


def enumerate_cycles(graph: TemporalGraph, cfg: CycleConfig) -> tuple[np.ndarray, np.ndarray, dict]:
    """Every temporal cycle of ``graph`` under ``cfg`` (window, lengths, hop ratio, budgets).

    Returns ``(cycle_ptr int64[C+1], cycle_edges int64, stats)``: cycle ``c`` is the edge
    indices ``cycle_edges[cycle_ptr[c]:cycle_ptr[c+1]]`` in path order, its first edge the
    earliest; cycles are ordered by first edge, then lexicographically. ``stats`` holds the
    kernel counters (``finflow._kernels.cycles.STAT_NAMES``). Exact when no budget is hit
    (``stats["starts_incomplete"] == 0``).
    """
    from .._kernels.cycles import STAT_NAMES, temporal_cycles
    _check(cfg)
    g = graph
    ptr, edges, stats = temporal_cycles(
        g.src, g.dst, g.ts, g.amt, g.out_ptr, g.out_nbr, g.out_ts, g.out_eid, g.in_ptr,
        g.in_nbr, g.in_ts, np.int64(cfg.window), np.int64(cfg.min_length),
        np.int64(cfg.max_length), np.float64(cfg.min_hop_ratio), np.int64(cfg.max_results),
        np.int64(cfg.max_results_per_start), np.int64(cfg.max_degree),
        np.int64(numba.config.NUMBA_NUM_THREADS), np.int64(_BLOCK))
    return ptr, edges, dict(zip(STAT_NAMES, (int(x) for x in stats)))


def cycle_scores(graph: TemporalGraph, cycle_ptr: np.ndarray, cycle_edges: np.ndarray,
                 window: int) -> dict[str, np.ndarray]:
    """Per-cycle evidence and score (module doc), vectorised. O(T log E) for T cycle edges.

    Returns arrays of length C: length, span and hop_dwell (seconds), retention,
    value_kept_ratio (last hop / first hop), min_hop_ratio (smallest hop / previous hop),
    speed, activity_share, score; and per cycle edge (length T, aligned with
    ``cycle_edges``): account_share, the share of its sender's window volume.
    """
    starts, ends = cycle_ptr[:-1], cycle_ptr[1:] - 1
    a = graph.amt[cycle_edges]
    t = graph.ts[cycle_edges]
    length = np.diff(cycle_ptr)
    if length.shape[0] == 0:
        z = np.zeros(0)
        return dict(length=length, span=z.astype(np.int64), hop_dwell=z, retention=z,
                    value_kept_ratio=z, min_hop_ratio=z, speed=z, activity_share=z,
                    score=z, account_share=z)
    hops = np.maximum(length - 1, 1)
    span = t[ends] - t[starts]
    hop_dwell = span / hops
    prev, cur = a[:-1], a[1:]
    ratio = np.full(a.shape[0], np.inf)            # hop / previous hop
    ratio[1:] = np.divide(cur, prev, out=np.full(prev.shape, np.inf), where=prev > 0)
    ratio[starts] = np.inf
    min_hop = np.minimum.reduceat(ratio, starts)
    big = np.maximum(cur, prev)
    sim = np.ones(a.shape[0])                      # min/max of consecutive hops, in [0, 1]
    sim[1:] = np.divide(np.minimum(cur, prev), big, out=np.zeros(prev.shape), where=big > 0)
    sim[starts] = 1.0
    retention = np.exp(np.add.reduceat(np.log(np.maximum(sim, 1e-12)), starts) / hops)
    kept = np.divide(a[ends], a[starts], out=np.zeros(starts.shape[0]), where=a[starts] > 0)
    # activity share: (hop in + hop out) / everything the account moved in [start-W, end+W]
    seg = np.repeat(np.arange(length.shape[0]), length)
    into = np.arange(a.shape[0]) - 1               # the hop paying each sender
    into[starts] = ends
    volume = account_volume(graph, graph.src[cycle_edges], t[starts][seg] - window,
                            t[ends][seg] + window)
    moved = a + a[into]
    account_share = np.clip(np.divide(moved, volume, out=np.ones_like(a), where=volume > 0),
                            0.0, 1.0)
    activity_share = segment_median(account_share, cycle_ptr)
    speed = speed_score(hop_dwell, window)
    score = (W_RETENTION * retention + W_SPEED * speed + W_SHARE * activity_share
             + W_LENGTH * (length >= 3))
    return dict(length=length, span=span, hop_dwell=hop_dwell, retention=retention,
                value_kept_ratio=kept, min_hop_ratio=min_hop, speed=speed,
                activity_share=activity_share, score=np.clip(score, 0.0, 1.0),
                account_share=account_share)


def _episodes(graph: TemporalGraph, cycle_ptr: np.ndarray, cycle_edges: np.ndarray,
              window: int) -> list[list[int]]:
    """Group cycle indices by account rotation, then into windows (module doc), in a fixed
    order (by first cycle)."""
    accounts = graph.src[cycle_edges].tolist()
    starts = graph.ts[cycle_edges[cycle_ptr[:-1]]].tolist()
    ptr = cycle_ptr.tolist()
    by_rotation: dict[tuple, list[int]] = {}
    for c in range(len(ptr) - 1):
        acc = accounts[ptr[c]:ptr[c + 1]]
        i = acc.index(min(acc))
        by_rotation.setdefault(tuple(acc[i:] + acc[:i]), []).append(c)
    episodes = []
    for cycles in by_rotation.values():  # cycles already in start-edge (time) order
        current = [cycles[0]]
        for c in cycles[1:]:
            if starts[c] - starts[current[0]] > window:
                episodes.append(current)
                current = [c]
            else:
                current.append(c)
        episodes.append(current)
    episodes.sort(key=lambda ep: ep[0])
    return episodes


def detect_cycles(graph: TemporalGraph, cfg: CycleConfig) -> Detection:
    """CYCLE alerts: temporal cycles merged per account rotation and window (module doc).

    Evidence of an alert (its best cycle, in path order from the source): accounts
    (account ids), txn_ids, amounts (base currency), times (epoch seconds), span_seconds,
    value_kept_ratio (last / first hop), min_hop_ratio, the score terms (retention,
    hop_dwell_seconds and speed, activity_share with the per-account account_shares in path
    order), length, n_cycles (cycles merged into the alert).

    Stats: candidates (cycles found), episodes (alerts before the score threshold),
    below_min_score, alerts_cut (scoring alerts beyond max_alerts, lowest scores dropped),
    every kernel counter (finflow._kernels.cycles.STAT_NAMES) and budget_cut =
    starts_incomplete (start transactions whose cycles may be incomplete because a kernel
    budget was hit) + alerts_cut.
    """
    ptr, edges, kstats = enumerate_cycles(graph, cfg)
    n_cycles = ptr.shape[0] - 1
    feats = cycle_scores(graph, ptr, edges, cfg.window)
    episodes = _episodes(graph, ptr, edges, cfg.window) if n_cycles else []
    score = feats["score"]
    best = [max(ep, key=lambda c: (score[c], -c)) for ep in episodes]
    keep = [i for i, b in enumerate(best) if score[b] >= cfg.min_score]
    n_scored = len(keep)
    if n_scored > cfg.max_alerts:  # highest scores first, ties by first cycle
        keep = sorted(sorted(keep, key=lambda i: -score[best[i]])[:cfg.max_alerts])
    alerts_cut = n_scored - len(keep)
    stats = {"candidates": int(n_cycles), "budget_cut": kstats["starts_incomplete"] + alerts_cut,
             "episodes": len(episodes), "below_min_score": len(episodes) - n_scored,
             "alerts_cut": alerts_cut, **kstats}

    # plain lists: one conversion, then cheap per-alert slicing
    ptr_l = ptr.tolist()
    edge_l = edges.tolist()
    src_l = graph.src[edges].tolist()
    ids_l = graph.account_id_of(graph.src[edges]).to_list()
    txn_l = graph.txn_id[edges].tolist()
    amt_l = graph.amt[edges].tolist()
    ts_l = graph.ts[edges].tolist()
    share_l = feats["account_share"].tolist()
    per_cycle = {k: feats[k].tolist() for k in ("span", "value_kept_ratio", "min_hop_ratio",
                                                 "retention", "hop_dwell", "speed",
                                                 "activity_share", "length")}
    member_ptr, member_account, member_role = [0], [], []
    txn_ptr, txn_edge, txn_step, evidence, alert_score = [0], [], [], [], []
    source, intermediary = ROLE_CODE["source"], ROLE_CODE["intermediary"]
    for i in keep:
        b = best[i]
        lo, hi = ptr_l[b], ptr_l[b + 1]
        rotation = src_l[lo:hi]
        position = {a: k for k, a in enumerate(rotation)}
        member_account += rotation
        member_role += [source] + [intermediary] * (len(rotation) - 1)
        member_ptr.append(len(member_account))
        seen = set()
        for c in episodes[i]:
            for k in range(ptr_l[c], ptr_l[c + 1]):
                if edge_l[k] not in seen:
                    seen.add(edge_l[k])
                    txn_edge.append(edge_l[k])
                    txn_step.append(position[src_l[k]])
        txn_ptr.append(len(txn_edge))
        alert_score.append(score[b])
        evidence.append({
            "accounts": ids_l[lo:hi], "account_index": rotation, "txn_ids": txn_l[lo:hi],
            "amounts": amt_l[lo:hi], "times": ts_l[lo:hi],
            "span_seconds": int(per_cycle["span"][b]),
            "value_kept_ratio": per_cycle["value_kept_ratio"][b],
            "min_hop_ratio": per_cycle["min_hop_ratio"][b],
            "retention": per_cycle["retention"][b],
            "hop_dwell_seconds": per_cycle["hop_dwell"][b],
            "speed": per_cycle["speed"][b],
            "activity_share": per_cycle["activity_share"][b],
            "account_shares": share_l[lo:hi],
            "length": int(per_cycle["length"][b]),
            "n_cycles": len(episodes[i]),
        })
    alerts = make_alerts(graph, "CYCLE", np.asarray(alert_score, np.float64), member_ptr,
                         member_account, member_role, txn_ptr, np.asarray(txn_edge, np.int64),
                         np.asarray(txn_step, np.int32), evidence=evidence,
                         params=dataclasses.asdict(cfg))
    return Detection(alerts, stats)
