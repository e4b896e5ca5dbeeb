"""Per-transaction graph-pattern histograms (GFP-style ML features).

The executable definitions are the twins in ``tests/naive/features.py``; docs/FEATURES.md
says how each relates to IBM's Graph Feature Preprocessor (snapml). Conventions:

* ``bins`` int64[B], increasing: a pattern of size S is counted in bin ``i`` with
  ``bins[i] <= S < bins[i+1]`` (the last bin open), not at all when ``S < bins[0]``.
* Outputs are int32[E, B] indexed by edge (the TemporalGraph's edge order).
* Self-loops are never members of a pattern.
* Windows are in seconds; times are int64 seconds.

Kernels that accumulate counts from many "trigger" edges run in parallel over triggers with
one private histogram per thread slot, summed at the end (integer sums: the result does not
depend on the number of threads or the schedule).
"""
from __future__ import annotations

import numba
import numpy as np
from numba import prange

from .cycles import _first_geq, _first_gt

__all__ = ["bin_lookup", "fan_degree_hist", "temporal_cycle_hist", "simple_cycle_hist",
           "scatter_gather_hist"]

_UNSET = np.iinfo(np.int64).min


@numba.njit(cache=True, nogil=True)
def bin_lookup(bins, max_size):
    """int32[max_size + 1]: bin index of every pattern size 0..max_size (-1 = not counted;
    sizes below 2 are never patterns)."""
    out = np.full(max_size + 1, -1, np.int32)
    b = -1
    for s in range(max_size + 1):
        while b + 1 < bins.shape[0] and bins[b + 1] <= s:
            b += 1
        if s >= 2:
            out[s] = b
    return out


@numba.njit(cache=True, nogil=True, parallel=True)
def fan_degree_hist(ptr, nbr, ts, eid, window, bins, distinct, n_slots):
    """Fan (``distinct``) or degree histograms of one side (out-CSR or in-CSR arrays).

    Every edge ``e`` of account ``a``'s row (self-loops included, as triggers) defines the
    pattern P(e): a's non-self-loop row edges with ``ts(e) - window < ts(f) <= ts(e)``; its
    size is the number of distinct counterparties (or of edges). When the size is >= 2 every
    member of P(e) gets +1 in the size's bin. Per row: one two-pointer pass for the sizes,
    one for the credits (member f collects the triggers with ts in ``[ts(f), ts(f) + window)``).
    ``ptr`` int64[N+1], ``nbr`` int32, ``ts`` int64, ``eid`` int64 (row position -> edge).
    O(E * B) time, O(threads * N + E) scratch. Returns int32[E, B].
    """
    n = ptr.shape[0] - 1
    e_count = nbr.shape[0]
    nb = bins.shape[0]
    hist = np.zeros((e_count, nb), np.int32)
    max_size = e_count + 1
    lookup = bin_lookup(bins, max_size)
    size_bin = np.full(e_count, -1, np.int32)   # bin of each trigger's pattern, by row position
    counts = np.zeros((n_slots, n + 1), np.int32)
    running = np.zeros((n_slots, nb), np.int32)
    for a in prange(n):
        tid = numba.get_thread_id()
        cnt = counts[tid]
        run = running[tid]
        lo = ptr[a]
        hi = ptr[a + 1]
        if hi - lo < 2:
            continue
        # pass 1: pattern size at every trigger position
        left = lo
        right = lo
        size = 0
        p = lo
        while p < hi:
            t = ts[p]
            while right < hi and ts[right] <= t:
                k = nbr[right]
                if k != a:
                    if distinct:
                        if cnt[k] == 0:
                            size += 1
                        cnt[k] += 1
                    else:
                        size += 1
                right += 1
            while ts[left] <= t - window:
                k = nbr[left]
                if k != a:
                    if distinct:
                        cnt[k] -= 1
                        if cnt[k] == 0:
                            size -= 1
                    else:
                        size -= 1
                left += 1
            b = lookup[size] if size <= max_size else lookup[max_size]
            while p < right:
                size_bin[p] = b
                p += 1
        if distinct:
            for q in range(left, hi):
                cnt[nbr[q]] = 0
        # pass 2: member q collects triggers with ts in [ts[q], ts[q] + window)
        first = lo   # first trigger with ts >= ts[q]
        end = lo     # first trigger with ts >= ts[q] + window
        for q in range(lo, hi):
            t = ts[q]
            while end < hi and ts[end] < t + window:
                if size_bin[end] >= 0:
                    run[size_bin[end]] += 1
                end += 1
            while first < end and ts[first] < t:
                if size_bin[first] >= 0:
                    run[size_bin[first]] -= 1
                first += 1
            if nbr[q] != a:
                e = eid[q]
                for i in range(nb):
                    hist[e, i] = run[i]
        for i in range(nb):
            run[i] = 0
    return hist


@numba.njit(cache=True, nogil=True)
def _collect_next(row_lo, row_hi, out_nbr, out_ts, after, before, x, onpath, seen, stamp,
                  buf_node, buf_time, top, max_degree):
    """Distinct out-neighbours y of x over row edges with ``after < ts < before`` (y not on the
    path, not x), each with its earliest such time, appended to ``buf_*`` from ``top``.
    Returns (new top, edges skipped by max_degree)."""
    lo = _first_gt(out_ts, row_lo, row_hi, after)
    hi = _first_geq(out_ts, lo, row_hi, before)
    skipped = 0
    if hi - lo > max_degree:
        skipped = hi - lo - max_degree
        hi = lo + max_degree
    for k in range(lo, hi):
        y = out_nbr[k]
        if y == x or onpath[y] or seen[y] == stamp:
            continue
        seen[y] = stamp
        buf_node[top] = y
        buf_time[top] = out_ts[k]
        top += 1
    return top, skipped


@numba.njit(cache=True, nogil=True)
def _temporal_from(e, src, dst, ts, out_ptr, out_nbr, out_ts, out_eid, in_ptr, in_nbr, in_ts,
                   window, max_len, max_degree, lookup, hist,
                   ld, dist, inq, onpath, seen, queue, touched, path, arr, lvl_lo, lvl_hi,
                   lvl_pos, buf_node, buf_time, latest, stamp_ctr):
    """GFP temporal cycles closed by edge e (see temporal_cycle_hist). Returns (cycles
    counted, edges skipped by max_degree)."""
    u = src[e]
    v = dst[e]
    if u == v or max_len < 2:
        return 0, 0
    n = ld.shape[0]
    t_end = ts[e]
    t_lo = t_end - window
    skipped = 0
    # backward labels: ld[x] = latest departure from x on a strictly increasing path that
    # reaches u before t_end; dist[x] = fewest hops (both bounds, so pruning is safe)
    ld[u] = t_end
    dist[u] = 0
    touched[0] = u
    n_touched = 1
    queue[0] = u
    inq[u] = True
    head = 0
    n_queued = 1
    while n_queued > 0:
        y = queue[head]
        head += 1
        if head == n:
            head = 0
        n_queued -= 1
        inq[y] = False
        if dist[y] > max_len - 2:
            continue
        r0 = in_ptr[y]
        r1 = in_ptr[y + 1]
        lo = _first_geq(in_ts, r0, r1, t_lo)
        hi = _first_geq(in_ts, lo, r1, ld[y])
        if hi - lo > max_degree:
            skipped += hi - lo - max_degree
            lo = hi - max_degree
        nd = dist[y] + 1
        for k in range(lo, hi):
            x = in_nbr[k]
            if x == y or x == u:
                continue
            te = in_ts[k]
            improved = False
            if ld[x] == _UNSET:
                ld[x] = te
                dist[x] = nd
                touched[n_touched] = x
                n_touched += 1
                improved = True
            else:
                if te > ld[x]:
                    ld[x] = te
                    improved = True
                if nd < dist[x]:
                    dist[x] = nd
                    improved = True
            if improved and not inq[x]:
                inq[x] = True
                tail = head + n_queued
                if tail >= n:
                    tail -= n
                queue[tail] = x
                n_queued += 1

    found = 0
    if ld[v] != _UNSET and dist[v] + 1 <= max_len:
        # DFS over vertex paths v = path[0], path[1], ...; arr[d] = earliest arrival time at
        # path[d] (t_lo - 1 at v: the first hop may leave at t_lo); level d's candidate
        # next nodes are buf[lvl_lo[d]:lvl_hi[d]], lvl_pos[d] the next to try
        onpath[v] = True
        onpath[u] = False
        path[0] = v
        arr[0] = t_lo - 1
        stamp_ctr[0] += 1
        stamp = stamp_ctr[0]
        top, sk = _collect_next(out_ptr[v], out_ptr[v + 1], out_nbr, out_ts, arr[0], t_end, v,
                                onpath, seen, stamp, buf_node, buf_time, 0, max_degree)
        skipped += sk
        lvl_lo[0] = 0
        lvl_hi[0] = top
        lvl_pos[0] = 0
        d = 0
        while d >= 0:
            if lvl_pos[d] >= lvl_hi[d]:
                onpath[path[d]] = False
                top = lvl_lo[d]
                d -= 1
                continue
            i = lvl_pos[d]
            lvl_pos[d] += 1
            y = buf_node[i]
            ty = buf_time[i]
            if y == u:
                # a vertex cycle path[0..d], u closed by e: credit the bundle
                length = d + 2
                b = lookup[length] if length < lookup.shape[0] else lookup[-1]
                if b < 0:
                    continue
                found += 1
                hist[e, b] += 1
                # latest[j] = latest departure time on hop j -> j+1 with a valid suffix
                nxt = t_end
                path[d + 1] = u
                for j in range(d, -1, -1):
                    x = path[j]
                    w = path[j + 1]
                    r0 = out_ptr[x]
                    r1 = out_ptr[x + 1]
                    lo = _first_gt(out_ts, r0, r1, arr[j])
                    hi = _first_geq(out_ts, lo, r1, nxt)
                    best = _UNSET
                    for k in range(hi - 1, lo - 1, -1):
                        if out_nbr[k] == w:
                            best = out_ts[k]
                            break
                    latest[j] = best
                    nxt = best
                for j in range(d + 1):
                    x = path[j]
                    w = path[j + 1]
                    r0 = out_ptr[x]
                    r1 = out_ptr[x + 1]
                    lo = _first_gt(out_ts, r0, r1, arr[j])
                    hi = _first_gt(out_ts, lo, r1, latest[j])
                    for k in range(lo, hi):
                        if out_nbr[k] == w:
                            hist[out_eid[k], b] += 1
                continue
            if d + 2 >= max_len:
                continue
            if ld[y] == _UNSET or ld[y] <= ty or d + 2 + dist[y] > max_len:
                continue
            d += 1
            path[d] = y
            arr[d] = ty
            onpath[y] = True
            stamp_ctr[0] += 1
            stamp = stamp_ctr[0]
            lvl_lo[d] = top
            top, sk = _collect_next(out_ptr[y], out_ptr[y + 1], out_nbr, out_ts, ty, t_end, y,
                                    onpath, seen, stamp, buf_node, buf_time, top, max_degree)
            skipped += sk
            lvl_hi[d] = top
            lvl_pos[d] = lvl_lo[d]
    for i in range(n_touched):
        x = touched[i]
        ld[x] = _UNSET
        dist[x] = 0
    onpath[u] = False
    onpath[v] = False
    return found, skipped


@numba.njit(cache=True, nogil=True, parallel=True)
def temporal_cycle_hist(src, dst, ts, out_ptr, out_nbr, out_ts, out_eid, in_ptr, in_nbr,
                        in_ts, window, bins, max_len, max_degree, n_slots):
    """Temporal-cycle histograms with GFP's semantics (tests/naive/features.py).

    For every closing edge e = u -> v (not a self-loop) and every vertex cycle v, ..., u of
    distinct accounts (2 <= length <= max_len edges, e included) realised by a strictly
    increasing sequence of edges inside ``[ts(e) - window, ts(e))``: e and every edge on some
    such sequence (a *bundle* of parallel edges counts once per cycle) get +1 in the bin of the
    length. Search per closing edge: backward labels (latest departure, fewest hops to u) then
    a DFS over vertex paths with earliest arrival times; a bundle's members are the hop edges
    between the earliest arrival and the latest valid departure. ``max_degree`` caps the edges
    one node visit scans (skipped ones are counted).

    Returns (int32[E, B] histogram, int64 cycles counted, int64 edges skipped by max_degree).
    Memory O(threads * (E * B + N + max_len * max_degree)).
    """
    n = out_ptr.shape[0] - 1
    e_count = src.shape[0]
    nb = bins.shape[0]
    lookup = bin_lookup(bins, max(max_len, 2) + 1)
    hists = np.zeros((n_slots, e_count, nb), np.int32)
    ld = np.full((n_slots, n), _UNSET, np.int64)
    dist = np.zeros((n_slots, n), np.int64)
    inq = np.zeros((n_slots, n), np.bool_)
    onpath = np.zeros((n_slots, n), np.bool_)
    seen = np.zeros((n_slots, n), np.int64)
    queue = np.zeros((n_slots, n), np.int32)
    touched = np.zeros((n_slots, n), np.int32)
    depth = max_len + 2
    path = np.zeros((n_slots, depth), np.int32)
    arr = np.zeros((n_slots, depth), np.int64)
    latest = np.zeros((n_slots, depth), np.int64)
    lvl_lo = np.zeros((n_slots, depth), np.int64)
    lvl_hi = np.zeros((n_slots, depth), np.int64)
    lvl_pos = np.zeros((n_slots, depth), np.int64)
    cap = max_len * min(max_degree, n) + 1
    stamps = np.zeros((n_slots, 1), np.int64)
    buf_node = np.zeros((n_slots, cap), np.int32)
    buf_time = np.zeros((n_slots, cap), np.int64)
    found = np.zeros(e_count, np.int64)
    skipped = np.zeros(e_count, np.int64)
    for e in prange(e_count):
        tid = numba.get_thread_id()
        f, s = _temporal_from(e, src, dst, ts, out_ptr, out_nbr, out_ts, out_eid, in_ptr,
                              in_nbr, in_ts, window, max_len, max_degree, lookup, hists[tid],
                              ld[tid], dist[tid], inq[tid], onpath[tid], seen[tid], queue[tid],
                              touched[tid], path[tid], arr[tid], lvl_lo[tid], lvl_hi[tid],
                              lvl_pos[tid], buf_node[tid], buf_time[tid], latest[tid],
                              stamps[tid])
        found[e] = f
        skipped[e] = s
    hist = hists[0].copy()
    for s_ in range(1, n_slots):
        hist += hists[s_]
    return hist, found.sum(), skipped.sum()


@numba.njit(cache=True, nogil=True)
def _simple_from(e, src, dst, ts, out_ptr, out_nbr, out_ts, out_eid, in_ptr, in_nbr, in_ts,
                 in_eid, window, max_len, max_degree, max_cycles, lookup, hist,
                 dist, touched, queue, onpath, seen, path, lvl_lo, lvl_hi, lvl_pos, buf_node,
                 stamp_ctr):
    """GFP length-constrained simple cycles closed by edge e (see simple_cycle_hist).
    Returns (cycles counted, edges skipped by max_degree, 1 if max_cycles cut the search)."""
    u = src[e]
    v = dst[e]
    if u == v or max_len < 2:
        return 0, 0, 0
    t_end = ts[e]
    t_lo = t_end - window
    skipped = 0
    # backward BFS from u over G(e) = earlier non-loop edges with ts in [t_lo, t_end]
    dist[u] = 0
    touched[0] = u
    n_touched = 1
    queue[0] = u
    head = 0
    while head < n_touched:
        y = queue[head]
        head += 1
        if dist[y] >= max_len - 1:
            continue
        r0 = in_ptr[y]
        r1 = in_ptr[y + 1]
        lo = _first_geq(in_ts, r0, r1, t_lo)
        hi = _first_gt(in_ts, lo, r1, t_end)
        if hi - lo > max_degree:
            skipped += hi - lo - max_degree
            hi = lo + max_degree
        for k in range(lo, hi):
            x = in_nbr[k]
            if in_eid[k] >= e or x == y or dist[x] >= 0:
                continue
            dist[x] = dist[y] + 1
            touched[n_touched] = x
            queue[n_touched] = x
            n_touched += 1
    found = 0
    cut = 0
    if dist[v] >= 0 and dist[v] + 1 <= max_len:
        onpath[v] = True
        path[0] = v
        stamp_ctr[0] += 1
        stamp = stamp_ctr[0]
        top = 0
        d = 0
        lvl_lo[0] = 0
        # level candidates: distinct next nodes y over edges of G(e)
        r0 = out_ptr[v]
        r1 = out_ptr[v + 1]
        lo = _first_geq(out_ts, r0, r1, t_lo)
        hi = _first_gt(out_ts, lo, r1, t_end)
        if hi - lo > max_degree:
            skipped += hi - lo - max_degree
            hi = lo + max_degree
        for k in range(lo, hi):
            y = out_nbr[k]
            if out_eid[k] < e and y != v and seen[y] != stamp:
                seen[y] = stamp
                buf_node[top] = y
                top += 1
        lvl_hi[0] = top
        lvl_pos[0] = 0
        while d >= 0:
            if lvl_pos[d] >= lvl_hi[d]:
                onpath[path[d]] = False
                top = lvl_lo[d]
                d -= 1
                continue
            y = buf_node[lvl_pos[d]]
            lvl_pos[d] += 1
            if onpath[y]:
                continue
            if y == u:
                length = d + 2
                b = lookup[length] if length < lookup.shape[0] else lookup[-1]
                if b < 0:
                    continue
                if found >= max_cycles:
                    cut = 1
                    break
                found += 1
                hist[e, b] += 1
                path[d + 1] = u
                for j in range(d + 1):
                    x = path[j]
                    w = path[j + 1]
                    r0 = out_ptr[x]
                    r1 = out_ptr[x + 1]
                    lo = _first_geq(out_ts, r0, r1, t_lo)
                    hi = _first_gt(out_ts, lo, r1, t_end)
                    for k in range(lo, hi):
                        if out_nbr[k] == w and out_eid[k] < e:
                            hist[out_eid[k], b] += 1
                continue
            if dist[y] < 0 or d + 2 + dist[y] > max_len:
                continue
            d += 1
            path[d] = y
            onpath[y] = True
            stamp_ctr[0] += 1
            stamp = stamp_ctr[0]
            lvl_lo[d] = top
            r0 = out_ptr[y]
            r1 = out_ptr[y + 1]
            lo = _first_geq(out_ts, r0, r1, t_lo)
            hi = _first_gt(out_ts, lo, r1, t_end)
            if hi - lo > max_degree:
                skipped += hi - lo - max_degree
                hi = lo + max_degree
            for k in range(lo, hi):
                w = out_nbr[k]
                if out_eid[k] < e and w != y and not onpath[w] and seen[w] != stamp:
                    seen[w] = stamp
                    buf_node[top] = w
                    top += 1
            lvl_hi[d] = top
            lvl_pos[d] = lvl_lo[d]
        for j in range(d + 1):   # only after a budget stop
            onpath[path[j]] = False
    for i in range(n_touched):
        dist[touched[i]] = -1
    onpath[v] = False
    return found, skipped, cut


@numba.njit(cache=True, nogil=True, parallel=True)
def simple_cycle_hist(src, dst, ts, out_ptr, out_nbr, out_ts, out_eid, in_ptr, in_nbr, in_ts,
                      in_eid, window, bins, max_len, max_degree, max_cycles, n_slots):
    """Length-constrained simple-cycle histograms with GFP's semantics (times unordered).

    Edges arrive in index order; when e = u -> v (not a self-loop) arrives, G(e) holds the
    earlier non-loop edges f < e with ``ts(f) >= ts(e) - window``. Every simple vertex cycle
    v, ..., u with 2 <= length <= max_len whose hops all have an edge in G(e) counts once: e
    and all of G(e)'s edges on its hops get +1 in the bin of the length. Budgets:
    ``max_degree`` edges scanned per node visit, ``max_cycles`` cycles per closing edge.

    Returns (int32[E, B] histogram, cycles counted, edges skipped by max_degree, closing
    edges cut by max_cycles).
    """
    n = out_ptr.shape[0] - 1
    e_count = src.shape[0]
    nb = bins.shape[0]
    lookup = bin_lookup(bins, max(max_len, 2) + 1)
    hists = np.zeros((n_slots, e_count, nb), np.int32)
    dist = np.full((n_slots, n), -1, np.int64)
    touched = np.zeros((n_slots, n), np.int32)
    queue = np.zeros((n_slots, n), np.int32)
    onpath = np.zeros((n_slots, n), np.bool_)
    seen = np.zeros((n_slots, n), np.int64)
    depth = max_len + 2
    path = np.zeros((n_slots, depth), np.int32)
    lvl_lo = np.zeros((n_slots, depth), np.int64)
    lvl_hi = np.zeros((n_slots, depth), np.int64)
    lvl_pos = np.zeros((n_slots, depth), np.int64)
    cap = max_len * min(max_degree, n) + 1
    stamps = np.zeros((n_slots, 1), np.int64)
    buf_node = np.zeros((n_slots, cap), np.int32)
    found = np.zeros(e_count, np.int64)
    skipped = np.zeros(e_count, np.int64)
    cut = np.zeros(e_count, np.int64)
    for e in prange(e_count):
        tid = numba.get_thread_id()
        f, s, c = _simple_from(e, src, dst, ts, out_ptr, out_nbr, out_ts, out_eid, in_ptr,
                               in_nbr, in_ts, in_eid, window, max_len, max_degree, max_cycles,
                               lookup, hists[tid], dist[tid], touched[tid], queue[tid],
                               onpath[tid], seen[tid], path[tid], lvl_lo[tid], lvl_hi[tid],
                               lvl_pos[tid], buf_node[tid], stamps[tid])
        found[e] = f
        skipped[e] = s
        cut[e] = c
    hist = hists[0].copy()
    for s_ in range(1, n_slots):
        hist += hists[s_]
    return hist, found.sum(), skipped.sum(), cut.sum()


@numba.njit(cache=True, nogil=True)
def _credit_pair(s, t, e, t_lo, t_end, out_ptr, out_nbr, out_ts, out_eid, in_ptr, in_nbr, in_ts,
                 in_eid, mark, stamp, max_degree, lookup, hist):
    """Scatter-gather pair (s, t) seen by trigger e: count intermediaries m (s -> m and
    m -> t in G(e)) and, when >= 2, credit their edges. Returns (1 if counted, skipped)."""
    skipped = 0
    r0 = out_ptr[s]
    r1 = out_ptr[s + 1]
    # G(e): edges f <= e (so ts(f) <= ts(e)) with ts(f) >= t_lo
    a_lo = _first_geq(out_ts, r0, r1, t_lo)
    a_hi = _first_gt(out_ts, a_lo, r1, t_end)
    if a_hi - a_lo > max_degree:
        skipped += a_hi - a_lo - max_degree
        a_hi = a_lo + max_degree
    for k in range(a_lo, a_hi):
        m = out_nbr[k]
        if out_eid[k] <= e and m != s and m != t:
            mark[m] = stamp           # m receives from s
    b_lo = _first_geq(in_ts, in_ptr[t], in_ptr[t + 1], t_lo)
    b_hi = _first_gt(in_ts, b_lo, in_ptr[t + 1], t_end)
    if b_hi - b_lo > max_degree:
        skipped += b_hi - b_lo - max_degree
        b_hi = b_lo + max_degree
    n_mid = 0
    for k in range(b_lo, b_hi):
        m = in_nbr[k]
        if in_eid[k] <= e and mark[m] == stamp:
            mark[m] = -stamp          # intermediary, counted once
            n_mid += 1
    if n_mid < 2:
        return 0, skipped
    b = lookup[n_mid] if n_mid < lookup.shape[0] else lookup[-1]
    if b < 0:
        return 0, skipped
    for k in range(a_lo, a_hi):
        if out_eid[k] <= e and mark[out_nbr[k]] == -stamp:
            hist[out_eid[k], b] += 1
    for k in range(b_lo, b_hi):
        if in_eid[k] <= e and mark[in_nbr[k]] == -stamp:
            hist[in_eid[k], b] += 1
    return 1, skipped


@numba.njit(cache=True, nogil=True, parallel=True)
def scatter_gather_hist(src, dst, ts, out_ptr, out_nbr, out_ts, out_eid, in_ptr, in_nbr, in_ts,
                        in_eid, window, bins, max_degree, n_slots):
    """Scatter-gather histograms, finflow's causal definition (tests/naive/features.py).

    When e = a -> b arrives (index order), G(e) = non-loop edges f <= e with ``ts(f) >=
    ts(e) - window``. The pairs e belongs to: (a, t) for every t with b -> t in G(e) (e is a
    scatter edge) and (s, b) for every s with s -> a in G(e) (e is a gather edge), t, s not in
    {a, b}. A pair's intermediaries are the m not in {s, t} with s -> m and m -> t in G(e);
    with >= 2 of them all those edges get +1 in the bin of their number.
    Returns (int32[E, B], patterns counted, edges skipped by max_degree).
    """
    n = out_ptr.shape[0] - 1
    e_count = src.shape[0]
    nb = bins.shape[0]
    lookup = bin_lookup(bins, n + 1)
    hists = np.zeros((n_slots, e_count, nb), np.int32)
    mark = np.zeros((n_slots, n), np.int64)
    pair_seen = np.zeros((n_slots, n), np.int64)
    counter = np.zeros(n_slots, np.int64)
    found = np.zeros(e_count, np.int64)
    skipped = np.zeros(e_count, np.int64)
    for e in prange(e_count):
        tid = numba.get_thread_id()
        a = src[e]
        b = dst[e]
        if a == b:
            continue
        t_lo = ts[e] - window
        hist = hists[tid]
        mk = mark[tid]
        ps = pair_seen[tid]
        f = 0
        sk = 0
        # e as scatter edge a -> b: targets t of b
        counter[tid] += 1
        pstamp = counter[tid]
        r0 = out_ptr[b]
        lo = _first_geq(out_ts, r0, out_ptr[b + 1], t_lo)
        hi = _first_gt(out_ts, lo, out_ptr[b + 1], ts[e])
        if hi - lo > max_degree:
            sk += hi - lo - max_degree
            hi = lo + max_degree
        for k in range(lo, hi):
            t = out_nbr[k]
            if out_eid[k] > e or t == a or t == b or ps[t] == pstamp:
                continue
            ps[t] = pstamp
            counter[tid] += 1
            c, s2 = _credit_pair(a, t, e, t_lo, ts[e], out_ptr, out_nbr, out_ts, out_eid, in_ptr,
                                 in_nbr, in_ts, in_eid, mk, counter[tid], max_degree, lookup,
                                 hist)
            f += c
            sk += s2
        # e as gather edge a -> b: sources s of a
        counter[tid] += 1
        pstamp = counter[tid]
        r0 = in_ptr[a]
        lo = _first_geq(in_ts, r0, in_ptr[a + 1], t_lo)
        hi = _first_gt(in_ts, lo, in_ptr[a + 1], ts[e])
        if hi - lo > max_degree:
            sk += hi - lo - max_degree
            hi = lo + max_degree
        for k in range(lo, hi):
            s = in_nbr[k]
            if in_eid[k] > e or s == a or s == b or ps[s] == pstamp:
                continue
            ps[s] = pstamp
            counter[tid] += 1
            c, s2 = _credit_pair(s, b, e, t_lo, ts[e], out_ptr, out_nbr, out_ts, out_eid, in_ptr,
                                 in_nbr, in_ts, in_eid, mk, counter[tid], max_degree, lookup,
                                 hist)
            f += c
            sk += s2
        found[e] = f
        skipped[e] = sk
    hist = hists[0].copy()
    for s_ in range(1, n_slots):
        hist += hists[s_]
    return hist, found.sum(), skipped.sum()
