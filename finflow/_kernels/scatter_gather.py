"""SCATTER_GATHER and GATHER_SCATTER kernels (executable definitions: tests/naive/windows.py).

SCATTER_GATHER, per source s
----------------------------
A *path* is a pair of transactions ``e1 = s -> m`` at ``t1`` and ``e2 = m -> t`` at ``t2``
with ``m != s``, ``t != s``, ``t != m`` and ``t1 <= t2 <= t1 + W`` (time-respecting; equal
times count as "later", as for CYCLE). Paths are grouped by target t; inside one (s, t)
group a path is an item ``(t1, t2)`` keyed by its intermediary m, and the group's bursts of
windows holding ``>= min_intermediaries`` distinct intermediaries (``windows._sweep``) are the
alerts: one per (s, t, burst) with all the burst's paths.

Kernel: for each s with at least ``min_intermediaries`` (k) distinct payees, a two-hop
expansion within the window from its out-row (a binary search of each m's out-row for
``t1``, then a scan to ``t1 + W``). A qualifying window's first hops are >= k payments of s
inside one span W, so only first hops in a run of k consecutive out-row payments spanning
<= W are expanded (a necessary condition; the others cannot be in any qualifying window, nor
in a qualifying window's superset). Paths are counted per target first; only targets whose
count of runs of one intermediary reaches k (an upper bound of their distinct
intermediaries) have their paths stored, bucketed by target in enumeration order by a
second expansion (a counting sort, no comparison sort of paths), then one sweep per target.
Budgets: a source whose out-degree, or an intermediary whose window slice, exceeds
``max_degree`` is skipped; a source with more than ``max_paths`` expanded paths is
truncated; at most ``max_results`` alerts. Each skip/truncation/dropped alert adds to the
returned cut counts. Work O(sum over expanded e1 of (log deg + slice size)), scratch O(N)
plus the largest source's stored paths.

GATHER_SCATTER, per hub h (self-loops ignored)
----------------------------------------------
For a split time ``tau`` (an in-edge time of h): ``L(tau)`` is the latest time such that h's
in-edges in ``[L, tau]`` come from ``>= min_in`` distinct payers, ``R(tau)`` the earliest time
such that h's out-edges in ``[tau, R]`` go to ``>= min_out`` distinct payees. ``tau``
qualifies when both exist and ``R - L <= W``; its *core* is those in-edges and out-edges (so
every outgoing payment of the core is at or after every incoming one). Its *reach* is the
in-edges in ``[R - W, tau]`` and the out-edges in ``[tau, L + W]``: each of them completes
the core to a valid instance (span <= W, payees after payers), so an instance with 10 payers
and 10 payees is reported whole, not just its k + k tightest payments. Qualifying splits in
time order are merged into one burst while the next core starts (``L``) no later than the
burst's latest ``R``; a burst's transactions are the union of its splits' reaches. Per burst
the tightest core (smallest ``R - L``, then earliest) is reported. O(deg) per hub with
two-pointer sweeps (L, R, and the reach ends are non-decreasing in tau). Budgets: at most
``max_results`` bursts; a burst holding more than ``max_burst_txns`` transactions is dropped
(a busy account gathering and scattering all day); both cuts are counted.
"""
from __future__ import annotations

import numpy as np

from .jit import kernel
from .rows import grow, row_lower_bound
from .windows import _sweep

__all__ = ["scatter_gather_paths", "gather_scatter_bursts"]


@kernel
def _slice(ts, lo, hi, t_from, t_to, max_degree):
    """Positions ``[a, b)`` of row ``[lo, hi)`` with ``t_from <= ts <= t_to``, or ``b = -1``
    when more than ``max_degree`` positions qualify. A binary search for ``a``, then a scan:
    slices are short, and a scan reads what the caller reads next. O(log(hi - lo) + b - a)."""
    a = row_lower_bound(ts, lo, hi, t_from)
    if max_degree < hi - a and ts[a + max_degree] <= t_to:   # (no a + max_degree overflow)
        return a, -1
    b = a
    while b < hi and ts[b] <= t_to:
        b += 1
    return a, b


@kernel
def scatter_gather_paths(ptr, nbr, ts, window, min_intermediaries, max_degree, max_paths,
                         max_results, n_nodes):
    """SCATTER_GATHER alerts from the out-CSR (``out_ptr`` int64, ``out_nbr`` int32, ``out_ts``
    int64 seconds). ``window`` seconds.

    Returns ``src, dst`` (int32[A]: source s and target t), ``peak_count, peak_start,
    peak_span`` (int64[A], see windows module doc), ``path_ptr`` (int64[A+1]) into ``path_e1,
    path_e2`` (int64 out-row positions of the hops s -> m and m -> t; map with ``out_eid``),
    ``path_mid`` (int32 intermediary), then counters ``n_paths`` (paths expanded),
    ``cut_degree`` (sources or slices skipped), ``cut_paths`` (sources truncated),
    ``cut_results`` (alerts dropped). Alerts come by source, then target, then time; a burst's
    paths in enumeration order (first hop's row position, then the second's).

    See the module doc for the pruning (first hops outside dense runs, targets with fewer
    than k runs of one intermediary) and the two expansions per source.
    """
    n = ptr.shape[0] - 1
    k_min = max(min_intermediaries, 1)
    cap = 1024
    p_m = np.empty(cap, np.int32)
    p_1 = np.empty(cap, np.int64)
    p_2 = np.empty(cap, np.int64)
    p_t1 = np.empty(cap, np.int64)
    p_t2 = np.empty(cap, np.int64)
    label = np.empty(cap, np.int64)
    sc = np.empty(cap, np.int64)
    ss = np.empty(cap, np.int64)
    sp = np.empty(cap, np.int64)
    a_src = np.empty(64, np.int32)
    a_dst = np.empty(64, np.int32)
    a_peak = np.empty(64, np.int64)
    a_start = np.empty(64, np.int64)
    a_span = np.empty(64, np.int64)
    a_ptr = np.zeros(65, np.int64)
    o_1 = np.empty(256, np.int64)
    o_2 = np.empty(256, np.int64)
    o_m = np.empty(256, np.int32)
    counts = np.zeros(n_nodes, np.int32)
    # per target of the current source, in one cache line: paths, runs of one intermediary,
    # the last intermediary + 1, the bucket of a candidate target + 1
    tstate = np.zeros((max(n_nodes, 1), 4), np.int64)
    touched = np.empty(max(n_nodes, 1), np.int32)
    seen = np.full(n_nodes, -1, np.int32)
    n_alerts = 0
    n_out = 0
    n_paths = 0
    cut_degree = 0
    cut_paths = 0
    cut_results = 0
    for s in range(n):
        lo = ptr[s]
        hi = ptr[s + 1]
        if hi - lo < k_min:
            continue
        if hi - lo > max_degree:
            cut_degree += 1
            continue
        # fewer than k distinct payees can never give k distinct intermediaries: skip before
        # the two-hop expansion (this is what keeps a hub's many one-payee payers cheap)
        distinct = 0
        for p1 in range(lo, hi):
            m = nbr[p1]
            if m != s and seen[m] != s:
                seen[m] = s
                distinct += 1
        if distinct < k_min:
            continue
        # pass 1: count paths (up to the budget) per target
        np_ = 0
        n_touched = 0
        truncated = False
        covered_to = -1
        for p1 in range(lo, hi):
            if p1 + k_min <= hi and ts[p1 + k_min - 1] - ts[p1] <= window:
                covered_to = p1 + k_min - 1
            m = nbr[p1]
            if m == s or p1 > covered_to:
                continue
            t1 = ts[p1]
            a, b = _slice(ts, ptr[m], ptr[m + 1], t1, t1 + window, max_degree)
            if b < 0:
                cut_degree += 1
                continue
            for p2 in range(a, b):
                t = nbr[p2]
                if t == s or t == m:
                    continue
                if np_ >= max_paths:
                    truncated = True
                    break
                if tstate[t, 0] == 0:
                    touched[n_touched] = t
                    n_touched += 1
                tstate[t, 0] += 1
                if tstate[t, 2] != m + 1:
                    tstate[t, 2] = m + 1
                    tstate[t, 1] += 1
                np_ += 1
            if truncated:
                break
        if truncated:
            cut_paths += 1
        n_paths += np_
        # candidate targets (>= k runs), compacted to the front of ``touched``
        n_cand = 0
        n_store = 0
        for i in range(n_touched):
            t = touched[i]
            if tstate[t, 1] >= k_min:
                touched[n_cand] = t
                n_cand += 1
                n_store += tstate[t, 0]
            else:
                tstate[t, 0] = 0
            tstate[t, 1] = 0
            tstate[t, 2] = 0
        if n_cand == 0:
            continue
        cand = np.sort(touched[:n_cand])
        bucket = np.empty(n_cand + 1, np.int64)   # bucket j holds target cand[j]'s paths
        bucket[0] = 0
        for j in range(n_cand):
            t = cand[j]
            tstate[t, 3] = j + 1
            bucket[j + 1] = bucket[j] + tstate[t, 0]
            tstate[t, 0] = 0
        fill = bucket[:n_cand].copy()
        if p_1.shape[0] < n_store:
            p_m = grow(p_m, n_store)
            p_1 = grow(p_1, n_store)
            p_2 = grow(p_2, n_store)
            p_t1 = grow(p_t1, n_store)
            p_t2 = grow(p_t2, n_store)
            label = np.empty(p_1.shape[0], np.int64)
            sc = np.empty(p_1.shape[0], np.int64)
            ss = np.empty(p_1.shape[0], np.int64)
            sp = np.empty(p_1.shape[0], np.int64)
        # pass 2: the same enumeration, storing only candidate targets' paths
        gen = 0
        covered_to = -1
        for p1 in range(lo, hi):
            if gen >= np_:
                break
            if p1 + k_min <= hi and ts[p1 + k_min - 1] - ts[p1] <= window:
                covered_to = p1 + k_min - 1
            m = nbr[p1]
            if m == s or p1 > covered_to:
                continue
            t1 = ts[p1]
            a, b = _slice(ts, ptr[m], ptr[m + 1], t1, t1 + window, max_degree)
            if b < 0:
                continue
            for p2 in range(a, b):
                t = nbr[p2]
                if t == s or t == m:
                    continue
                if gen >= np_:
                    break
                gen += 1
                j = tstate[t, 3] - 1
                if j < 0:
                    continue
                q = fill[j]
                fill[j] = q + 1
                p_m[q] = m
                p_1[q] = p1
                p_2[q] = p2
                p_t1[q] = t1
                p_t2[q] = ts[p2]
        for j in range(n_cand):
            t = cand[j]
            tstate[t, 3] = 0
            by1 = np.arange(bucket[j], bucket[j + 1])
            by2 = by1[np.argsort(p_t2[by1], kind="mergesort")]
            label[bucket[j]:bucket[j + 1]] = -1
            nb = _sweep(p_t1, p_t2, p_m, by1, by2, window, k_min, True, counts, label,
                        sc, ss, sp)
            for bi in range(nb):
                if n_alerts >= max_results:
                    cut_results += 1
                    continue
                if n_alerts >= a_src.shape[0]:
                    a_src = grow(a_src, n_alerts + 1)
                    a_dst = grow(a_dst, n_alerts + 1)
                    a_peak = grow(a_peak, n_alerts + 1)
                    a_start = grow(a_start, n_alerts + 1)
                    a_span = grow(a_span, n_alerts + 1)
                    a_ptr = grow(a_ptr, a_src.shape[0] + 1)
                a_src[n_alerts] = s
                a_dst[n_alerts] = t
                a_peak[n_alerts] = sc[bi]
                a_start[n_alerts] = ss[bi]
                a_span[n_alerts] = sp[bi]
                for it in range(bucket[j], bucket[j + 1]):
                    if label[it] == bi:
                        if n_out >= o_1.shape[0]:
                            o_1 = grow(o_1, n_out + 1)
                            o_2 = grow(o_2, n_out + 1)
                            o_m = grow(o_m, n_out + 1)
                        o_1[n_out] = p_1[it]
                        o_2[n_out] = p_2[it]
                        o_m[n_out] = p_m[it]
                        n_out += 1
                n_alerts += 1
                a_ptr[n_alerts] = n_out
    return (a_src[:n_alerts], a_dst[:n_alerts], a_peak[:n_alerts], a_start[:n_alerts],
            a_span[:n_alerts], a_ptr[:n_alerts + 1].copy(), o_1[:n_out], o_2[:n_out],
            o_m[:n_out], n_paths, cut_degree, cut_paths, cut_results)


@kernel
def gather_scatter_bursts(in_ptr, in_nbr, in_ts, out_ptr, out_nbr, out_ts, window, min_in,
                          min_out, max_results, max_burst_txns, n_nodes):
    """GATHER_SCATTER bursts per hub (see module doc) from the in- and out-CSR arrays.

    Returns per burst (length B): ``hub`` int32, ``best_L, best_tau, best_R`` (int64 seconds
    of the tightest core), ``n_splits`` (qualifying split times merged), ``in_ptr_b`` /
    ``out_ptr_b`` (int64[B+1]) into ``in_pos`` / ``out_pos`` (int64 positions into the in-row
    / out-row arrays; map with ``in_eid`` / ``out_eid``), then ``n_cut`` (bursts dropped by
    ``max_results``: the first ``max_results`` bursts that are kept stay) and ``n_cut_size``
    (bursts dropped for holding more than ``max_burst_txns`` transactions, in + out: a busy
    account's all-day flow, whose reaches overlap, would otherwise cost O(E) output per
    burst). O(E + N) time, O(max_results * max_burst_txns + largest degree) output.
    """
    n = in_ptr.shape[0] - 1
    e = in_nbr.shape[0]
    k_in = max(min_in, 1)
    k_out = max(min_out, 1)
    cnt_in = np.zeros(n_nodes, np.int32)
    cnt_out = np.zeros(n_nodes, np.int32)
    ii = np.empty(e, np.int64)   # the hub's in-row positions without self-loops
    oo = np.empty(e, np.int64)
    r_hub = np.empty(64, np.int32)
    r_l = np.empty(64, np.int64)
    r_tau = np.empty(64, np.int64)
    r_r = np.empty(64, np.int64)
    r_splits = np.empty(64, np.int64)
    r_iptr = np.zeros(65, np.int64)
    r_optr = np.zeros(65, np.int64)
    o_in = np.empty(256, np.int64)
    o_out = np.empty(256, np.int64)
    nb = 0
    n_in_out = 0
    n_out_out = 0
    n_cut = 0
    n_cut_size = 0
    for h in range(n):
        if in_ptr[h + 1] - in_ptr[h] < k_in or out_ptr[h + 1] - out_ptr[h] < k_out:
            continue
        ni = 0
        for p in range(in_ptr[h], in_ptr[h + 1]):
            if in_nbr[p] != h:
                ii[ni] = p
                ni += 1
        no = 0
        for p in range(out_ptr[h], out_ptr[h + 1]):
            if out_nbr[p] != h:
                oo[no] = p
                no += 1
        if ni < k_in or no < k_out:
            continue
        # in-side window [left, right) over ii; out-side [ostart, oend) over oo
        left = 0
        right = 0
        d_in = 0
        ostart = 0
        oend = 0
        d_out = 0
        open_burst = False   # a burst of this hub is open
        keep = False         # the open burst is kept (not cut)
        burst_r = 0
        in_done = 0          # ii[:in_done] already emitted for the open burst
        out_done = 0
        reach_in = 0         # first ii position with ts >= R - W
        reach_out = 0        # first oo position with ts > L + W
        while right < ni:
            tau = in_ts[ii[right]]
            while right < ni and in_ts[ii[right]] == tau:
                k = in_nbr[ii[right]]
                if cnt_in[k] == 0:
                    d_in += 1
                cnt_in[k] += 1
                right += 1
            while left < right:
                k = in_nbr[ii[left]]
                if cnt_in[k] > 1 or d_in > k_in:
                    cnt_in[k] -= 1
                    if cnt_in[k] == 0:
                        d_in -= 1
                    left += 1
                else:
                    break
            while ostart < no and out_ts[oo[ostart]] < tau:
                if ostart < oend:
                    k = out_nbr[oo[ostart]]
                    cnt_out[k] -= 1
                    if cnt_out[k] == 0:
                        d_out -= 1
                ostart += 1
            if oend < ostart:
                oend = ostart
            while oend < no and d_out < k_out:
                k = out_nbr[oo[oend]]
                if cnt_out[k] == 0:
                    d_out += 1
                cnt_out[k] += 1
                oend += 1
            if d_in < k_in or d_out < k_out:
                continue
            big_l = in_ts[ii[left]]
            big_r = out_ts[oo[oend - 1]]
            if big_r - big_l > window:
                continue
            # reach: in-edges with ts in [R - W, tau], out-edges with ts in [tau, L + W]
            while in_ts[ii[reach_in]] < big_r - window:
                reach_in += 1
            c_in_lo = reach_in
            if reach_out < oend:
                reach_out = oend
            while reach_out < no and out_ts[oo[reach_out]] <= big_l + window:
                reach_out += 1
            c_out_hi = reach_out
            if open_burst and big_l <= burst_r:
                if keep and big_r - big_l < r_r[nb - 1] - r_l[nb - 1]:
                    r_l[nb - 1] = big_l
                    r_tau[nb - 1] = tau
                    r_r[nb - 1] = big_r
                if keep:
                    r_splits[nb - 1] += 1
            else:
                open_burst = True
                in_done = 0
                out_done = 0
                keep = nb < max_results
                if not keep:
                    n_cut += 1
                else:
                    if nb >= r_hub.shape[0]:
                        r_hub = grow(r_hub, nb + 1)
                        r_l = grow(r_l, nb + 1)
                        r_tau = grow(r_tau, nb + 1)
                        r_r = grow(r_r, nb + 1)
                        r_splits = grow(r_splits, nb + 1)
                        r_iptr = grow(r_iptr, r_hub.shape[0] + 1)
                        r_optr = grow(r_optr, r_hub.shape[0] + 1)
                    r_hub[nb] = h
                    r_l[nb] = big_l
                    r_tau[nb] = tau
                    r_r[nb] = big_r
                    r_splits[nb] = 1
                    r_iptr[nb + 1] = r_iptr[nb]
                    r_optr[nb + 1] = r_optr[nb]
                    nb += 1
            burst_r = max(burst_r, big_r)  # open_burst always holds here
            if keep:
                # cores' ranges have non-decreasing ends: emit only the new tail of each
                for q in range(max(c_in_lo, in_done), right):
                    if n_in_out >= o_in.shape[0]:
                        o_in = grow(o_in, n_in_out + 1)
                    o_in[n_in_out] = ii[q]
                    n_in_out += 1
                in_done = max(in_done, right)
                for q in range(max(ostart, out_done), c_out_hi):
                    if n_out_out >= o_out.shape[0]:
                        o_out = grow(o_out, n_out_out + 1)
                    o_out[n_out_out] = oo[q]
                    n_out_out += 1
                out_done = max(out_done, c_out_hi)
                if n_in_out - r_iptr[nb - 1] + n_out_out - r_optr[nb - 1] > max_burst_txns:
                    nb -= 1   # drop the open burst; its later splits merge into nothing
                    n_in_out = r_iptr[nb]
                    n_out_out = r_optr[nb]
                    keep = False
                    n_cut_size += 1
                else:
                    r_iptr[nb] = n_in_out
                    r_optr[nb] = n_out_out
        for q in range(left, right):
            cnt_in[in_nbr[ii[q]]] = 0
        for q in range(ostart, oend):
            cnt_out[out_nbr[oo[q]]] = 0
    return (r_hub[:nb], r_l[:nb], r_tau[:nb], r_r[:nb], r_splits[:nb],
            r_iptr[:nb + 1].copy(), o_in[:n_in_out], r_optr[:nb + 1].copy(),
            o_out[:n_out_out], n_cut, n_cut_size)
