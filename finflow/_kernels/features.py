"""Per-transaction graph-pattern histograms (GFP-style ML features).

The executable definitions are the twins in ``tests/naive/features.py``; docs/FEATURES.md
says how each relates to IBM's Graph Feature Preprocessor (snapml). Conventions:

* ``bins`` int64[B], increasing: a pattern of size S is counted in bin ``i`` with
  ``bins[i] <= S < bins[i+1]`` (the last bin open), not at all when ``S < bins[0]``.
* Outputs are int32[E, B] indexed by edge (the TemporalGraph's edge order).
* Self-loops are never members of a pattern.
* Windows are in seconds; times are int64 seconds.

Parallel kernels run ``prange`` over ``n_slots`` *slots*; callers pass the active numba thread
count (``numba.get_num_threads()``, not the configured maximum; read inside a kernel it would
stop numba from caching the kernel). Any ``n_slots >= 1`` gives the same result. A slot
allocates its own scratch once and takes blocks of :data:`BLOCK` triggers (edges, or rows for
fan/degree) round-robin, so heavy-tailed work spreads evenly and no per-trigger state is
shared between threads. Kernels that credit edges other than the trigger keep one histogram
per slot, cleared lazily row by row (:func:`_credit`), and sum the rows each slot touched at
the end (integer sums: the result does not depend on the thread count or schedule).

Hot loops avoid non-inlined calls that take many arrays: numba increments and decrements the
reference count of every array argument such a callee passes on (~1 us per call, and an
atomic on a cache line both threads share). The per-trigger searches are therefore only
called after O(log degree) time-window checks showed a pattern is possible.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from .cycles import NO_LABEL, backward_labels, clear_labels
from .jit import kernel
from .rows import row_lower_bound, row_range, row_upper_bound

__all__ = ["bin_lookup", "fan_degree_hist", "temporal_cycle_hist", "simple_cycle_hist",
           "scatter_gather_hist"]

#: Triggers per scheduling block: slots take blocks round-robin (load balance vs locality).
BLOCK = 64

@kernel
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


@kernel(inline="always")
def _credit(hist, used, rows, e, b):
    """+1 in ``hist[e, b]`` of a slot's lazily cleared histogram: a row is zeroed and listed
    in ``rows`` (``rows[0]`` = count, then the edges) the first time it is credited, so a
    slot never clears or merges the E x B cells nobody touched."""
    if not used[e]:
        used[e] = True
        rows[0] += 1
        rows[rows[0]] = e
        for i in range(hist.shape[1]):
            hist[e, i] = 0
    hist[e, b] += 1


@kernel
def _merge_slots(hists, rows):
    """int32[E, B]: the sum over slots of the rows each slot touched (``hists`` int32[S, E, B]
    valid only on the rows listed in ``rows[s]``, see :func:`_credit`). Integer sums in slot
    order. O(E * B + rows touched * B)."""
    out = np.zeros((hists.shape[1], hists.shape[2]), np.int32)
    for s in range(hists.shape[0]):
        for i in range(1, rows[s, 0] + 1):
            e = rows[s, i]
            for j in range(hists.shape[2]):
                out[e, j] += hists[s, e, j]
    return out


@kernel
def _any_between(row_ts, lo, hi, t_from, t_to):
    """Whether row ``[lo, hi)`` (time-sorted) has a time in ``[t_from, t_to]``. O(log)."""
    p = row_lower_bound(row_ts, lo, hi, t_from)
    return p < hi and row_ts[p] <= t_to


@kernel
def _any_before(row_ts, row_eid, lo, hi, t_from, e):
    """Whether row ``[lo, hi)`` has an edge with time >= ``t_from`` and index < ``e`` (edge
    indices increase along a row, so only the first edge at or after ``t_from`` is tested)."""
    p = row_lower_bound(row_ts, lo, hi, t_from)
    return p < hi and row_eid[p] < e


@kernel(inline="always")
def _fan_row(a, ptr, nbr, ts, eid, window, distinct, lookup, max_size, cnt, run, size_bin,
             hist):
    """fan_degree_hist for the row of account ``a``; ``cnt`` (int32[N+1]) and ``run``
    (int32[B]) are all zero on entry and on return."""
    nb = run.shape[0]
    lo = ptr[a]
    hi = ptr[a + 1]
    if hi - lo < 2:
        return
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


@kernel(parallel=True)
def fan_degree_hist(ptr, nbr, ts, eid, window, bins, distinct, n_slots):
    """Fan (``distinct``) or degree histograms of one side (out-CSR or in-CSR arrays).

    Every edge ``e`` of account ``a``'s row (self-loops included, as triggers) defines the
    pattern P(e): a's non-self-loop row edges with ``ts(e) - window < ts(f) <= ts(e)``; its
    size is the number of distinct counterparties (or of edges). When the size is >= 2 every
    member of P(e) gets +1 in the size's bin. Per row: one two-pointer pass for the sizes,
    one for the credits (member f collects the triggers with ts in ``[ts(f), ts(f) + window)``).
    ``ptr`` int64[N+1], ``nbr`` int32, ``ts`` int64, ``eid`` int64 (row position -> edge).
    Rows are the parallel blocks (an edge is in one row per side: one shared histogram).
    O(E * B) time, O(threads * N + E) scratch. Returns int32[E, B].
    """
    n = ptr.shape[0] - 1
    e_count = nbr.shape[0]
    nb = bins.shape[0]
    hist = np.zeros((e_count, nb), np.int32)
    max_size = e_count + 1
    lookup = bin_lookup(bins, max_size)
    size_bin = np.full(e_count, -1, np.int32)   # bin of each trigger's pattern, by row position
    n_blocks = (n + BLOCK - 1) // BLOCK
    for slot in prange(n_slots):
        cnt = np.zeros(n + 1, np.int32)
        run = np.zeros(nb, np.int32)
        for blk in range(slot, n_blocks, n_slots):
            for a in range(blk * BLOCK, min(n, blk * BLOCK + BLOCK)):
                _fan_row(a, ptr, nbr, ts, eid, window, distinct, lookup, max_size, cnt, run,
                         size_bin, hist)
    return hist


@kernel
def _collect_next(lo, hi, out_nbr, out_ts, out_eid, eid_limit, x, onpath, seen, stamp, buf_node,
                  buf_time, top):
    """Candidate next nodes of a vertex-path DFS step from ``x``: the distinct out-neighbours
    y over out-row positions ``[lo, hi)`` (y not on the path, not x; with an int
    ``eid_limit``, only over edges with index below it), each with its earliest time there,
    appended to ``buf_*`` from ``top``. Returns the new top."""
    for k in range(lo, hi):
        y = out_nbr[k]
        # eid_limit None: numba compiles the check away (it cost the temporal DFS ~20%)
        if eid_limit is not None and out_eid[k] >= eid_limit:
            continue
        if y == x or onpath[y] or seen[y] == stamp:
            continue
        seen[y] = stamp
        buf_node[top] = y
        buf_time[top] = out_ts[k]
        top += 1
    return top


@kernel
def _temporal_from(e, src, dst, ts, out_ptr, out_nbr, out_ts, out_eid, in_ptr, in_nbr, in_ts,
                   window, max_len, max_degree, lookup, hist, used, rows,
                   ld, dist, inq, onpath, seen, queue, touched, path, arr, lvl_lo, lvl_hi,
                   lvl_pos, buf_node, buf_time, latest, stamp_ctr):
    """GFP temporal cycles closed by edge e (see temporal_cycle_hist), credited into the
    slot's ``hist`` / ``used`` / ``rows`` (:func:`_credit`). Returns (cycles counted, edges
    skipped by max_degree)."""
    u = src[e]
    v = dst[e]
    if u == v or max_len < 2:
        return 0, 0
    t_end = ts[e]
    t_lo = t_end - window
    # backward labels: ld[x] = latest departure from x on a strictly increasing path that
    # reaches u before t_end; dist[x] = fewest hops (both bounds, so pruning is safe)
    n_touched, skipped = backward_labels(u, t_lo, t_end, True, max_len - 1, max_degree, True,
                                         in_ptr, in_nbr, in_ts, ld, dist, inq, queue, touched)

    found = 0
    if ld[v] != NO_LABEL and dist[v] + 1 <= max_len:
        # DFS over vertex paths v = path[0], path[1], ...; arr[d] = earliest arrival time at
        # path[d] (t_lo - 1 at v: the first hop may leave at t_lo); level d's candidate
        # next nodes are buf[lvl_lo[d]:lvl_hi[d]], lvl_pos[d] the next to try
        onpath[v] = True
        onpath[u] = False
        path[0] = v
        arr[0] = t_lo - 1
        stamp_ctr[0] += 1
        stamp = stamp_ctr[0]
        # integer seconds: arr[0] < ts < t_end
        lo, hi, sk = row_range(out_ts, out_ptr[v], out_ptr[v + 1], arr[0] + 1, t_end - 1,
                               max_degree)
        skipped += sk
        top = _collect_next(lo, hi, out_nbr, out_ts, out_eid, None, v, onpath, seen, stamp,
                            buf_node, buf_time, 0)
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
                _credit(hist, used, rows, e, b)
                # latest[j] = latest departure time on hop j -> j+1 with a valid suffix
                nxt = t_end
                path[d + 1] = u
                for j in range(d, -1, -1):
                    x = path[j]
                    w = path[j + 1]
                    r0 = out_ptr[x]
                    r1 = out_ptr[x + 1]
                    lo = row_upper_bound(out_ts, r0, r1, arr[j])
                    hi = row_lower_bound(out_ts, lo, r1, nxt)
                    best = NO_LABEL
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
                    lo = row_upper_bound(out_ts, r0, r1, arr[j])
                    hi = row_upper_bound(out_ts, lo, r1, latest[j])
                    for k in range(lo, hi):
                        if out_nbr[k] == w:
                            _credit(hist, used, rows, out_eid[k], b)
                continue
            if d + 2 >= max_len:
                continue
            if ld[y] == NO_LABEL or ld[y] <= ty or d + 2 + dist[y] > max_len:
                continue
            d += 1
            path[d] = y
            arr[d] = ty
            onpath[y] = True
            stamp_ctr[0] += 1
            stamp = stamp_ctr[0]
            lvl_lo[d] = top
            lo, hi, sk = row_range(out_ts, out_ptr[y], out_ptr[y + 1], ty + 1, t_end - 1,
                                   max_degree)
            skipped += sk
            top = _collect_next(lo, hi, out_nbr, out_ts, out_eid, None, y, onpath, seen, stamp,
                                buf_node, buf_time, top)
            lvl_hi[d] = top
            lvl_pos[d] = lvl_lo[d]
    clear_labels(touched, n_touched, ld, dist)
    onpath[u] = False
    onpath[v] = False
    return found, skipped


@kernel(parallel=True)
def temporal_cycle_hist(src, dst, ts, out_ptr, out_nbr, out_ts, out_eid, in_ptr, in_nbr,
                        in_ts, window, bins, max_len, max_degree, n_slots):
    """Temporal-cycle histograms with GFP's semantics (tests/naive/features.py).

    For every closing edge e = u -> v (not a self-loop) and every vertex cycle v, ..., u of
    distinct accounts (2 <= length <= max_len edges, e included) realised by a strictly
    increasing sequence of edges inside ``[ts(e) - window, ts(e))``: e and every edge on some
    such sequence (a *bundle* of parallel edges counts once per cycle) get +1 in the bin of the
    length. Search per closing edge, only when v has an out-edge and u an in-edge inside that
    window (two binary searches): backward labels (latest departure, fewest hops to u) then
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
    hists = np.empty((n_slots, e_count, nb), np.int32)   # cleared lazily by _credit
    rows = np.empty((n_slots, e_count + 1), np.int64)
    found = np.zeros(n_slots, np.int64)
    skipped = np.zeros(n_slots, np.int64)
    depth = max_len + 2
    cap = max_len * min(max_degree, n) + 1
    n_blocks = (e_count + BLOCK - 1) // BLOCK
    for slot in prange(n_slots):
        h = hists[slot]
        used = np.zeros(e_count, np.bool_)
        slot_rows = rows[slot]
        slot_rows[0] = 0
        ld = np.full(n, NO_LABEL, np.int64)
        dist = np.zeros(n, np.int64)
        inq = np.zeros(n, np.bool_)
        onpath = np.zeros(n, np.bool_)
        seen = np.zeros(n, np.int64)
        queue = np.zeros(n, np.int32)
        touched = np.zeros(n, np.int32)
        path = np.zeros(depth, np.int32)
        arr = np.zeros(depth, np.int64)
        latest = np.zeros(depth, np.int64)
        lvl_lo = np.zeros(depth, np.int64)
        lvl_hi = np.zeros(depth, np.int64)
        lvl_pos = np.zeros(depth, np.int64)
        stamp = np.zeros(1, np.int64)
        buf_node = np.zeros(cap, np.int32)
        buf_time = np.zeros(cap, np.int64)
        n_found = 0
        n_skipped = 0
        for blk in range(slot, n_blocks, n_slots):
            for e in range(blk * BLOCK, min(e_count, blk * BLOCK + BLOCK)):
                u = src[e]
                v = dst[e]
                t_lo = ts[e] - window
                # the cycle leaves v and enters u inside [t_lo, ts(e)): most edges stop here
                if (u == v or max_len < 2
                        or not _any_between(out_ts, out_ptr[v], out_ptr[v + 1], t_lo, ts[e] - 1)
                        or not _any_between(in_ts, in_ptr[u], in_ptr[u + 1], t_lo, ts[e] - 1)):
                    continue
                f, sk = _temporal_from(e, src, dst, ts, out_ptr, out_nbr, out_ts, out_eid,
                                       in_ptr, in_nbr, in_ts, window, max_len, max_degree,
                                       lookup, h, used, slot_rows, ld, dist, inq, onpath, seen,
                                       queue, touched, path, arr, lvl_lo, lvl_hi, lvl_pos,
                                       buf_node, buf_time, latest, stamp)
                n_found += f
                n_skipped += sk
        found[slot] = n_found
        skipped[slot] = n_skipped
    return _merge_slots(hists, rows), found.sum(), skipped.sum()


@kernel
def _simple_from(e, src, dst, ts, out_ptr, out_nbr, out_ts, out_eid, in_ptr, in_nbr, in_ts,
                 in_eid, window, max_len, max_degree, max_cycles, lookup, hist, used, rows,
                 dist, touched, queue, onpath, seen, path, lvl_lo, lvl_hi, lvl_pos, buf_node,
                 buf_time, stamp_ctr):
    """GFP length-constrained simple cycles closed by edge e (see simple_cycle_hist).
    Returns (cycles counted, edges skipped by max_degree, 1 if max_cycles cut the search)."""
    u = src[e]
    v = dst[e]
    if u == v or max_len < 2:
        return 0, 0, 0
    t_end = ts[e]
    t_lo = t_end - window
    eid_limit = np.int64(e)   # G(e) holds edges f < e
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
        lo, hi, sk = row_range(in_ts, in_ptr[y], in_ptr[y + 1], t_lo, t_end, max_degree)
        skipped += sk
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
        d = 0
        lvl_lo[0] = 0
        # level candidates: distinct next nodes y over edges of G(e)
        lo, hi, sk = row_range(out_ts, out_ptr[v], out_ptr[v + 1], t_lo, t_end, max_degree)
        skipped += sk
        top = _collect_next(lo, hi, out_nbr, out_ts, out_eid, eid_limit, v, onpath, seen, stamp,
                            buf_node, buf_time, 0)
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
                _credit(hist, used, rows, e, b)
                path[d + 1] = u
                for j in range(d + 1):
                    x = path[j]
                    w = path[j + 1]
                    r0 = out_ptr[x]
                    r1 = out_ptr[x + 1]
                    lo = row_lower_bound(out_ts, r0, r1, t_lo)
                    hi = row_upper_bound(out_ts, lo, r1, t_end)
                    for k in range(lo, hi):
                        if out_nbr[k] == w and out_eid[k] < e:
                            _credit(hist, used, rows, out_eid[k], b)
                continue
            if dist[y] < 0 or d + 2 + dist[y] > max_len:
                continue
            d += 1
            path[d] = y
            onpath[y] = True
            stamp_ctr[0] += 1
            stamp = stamp_ctr[0]
            lvl_lo[d] = top
            lo, hi, sk = row_range(out_ts, out_ptr[y], out_ptr[y + 1], t_lo, t_end, max_degree)
            skipped += sk
            top = _collect_next(lo, hi, out_nbr, out_ts, out_eid, eid_limit, y, onpath, seen,
                                stamp, buf_node, buf_time, top)
            lvl_hi[d] = top
            lvl_pos[d] = lvl_lo[d]
        for j in range(d + 1):   # only after a budget stop
            onpath[path[j]] = False
    for i in range(n_touched):
        dist[touched[i]] = -1
    onpath[v] = False
    return found, skipped, cut


@kernel(parallel=True)
def simple_cycle_hist(src, dst, ts, out_ptr, out_nbr, out_ts, out_eid, in_ptr, in_nbr, in_ts,
                      in_eid, window, bins, max_len, max_degree, max_cycles, n_slots):
    """Length-constrained simple-cycle histograms with GFP's semantics (times unordered).

    Edges arrive in index order; when e = u -> v (not a self-loop) arrives, G(e) holds the
    earlier non-loop edges f < e with ``ts(f) >= ts(e) - window``. Every simple vertex cycle
    v, ..., u with 2 <= length <= max_len whose hops all have an edge in G(e) counts once: e
    and all of G(e)'s edges on its hops get +1 in the bin of the length. The search (backward
    hop distances from u, then a DFS from v) runs only when G(e) has an edge leaving v and one
    entering u (two binary searches). Budgets: ``max_degree`` edges scanned per node visit,
    ``max_cycles`` cycles per closing edge.

    Returns (int32[E, B] histogram, cycles counted, edges skipped by max_degree, closing
    edges cut by max_cycles).
    """
    n = out_ptr.shape[0] - 1
    e_count = src.shape[0]
    nb = bins.shape[0]
    lookup = bin_lookup(bins, max(max_len, 2) + 1)
    hists = np.empty((n_slots, e_count, nb), np.int32)   # cleared lazily by _credit
    rows = np.empty((n_slots, e_count + 1), np.int64)
    found = np.zeros(n_slots, np.int64)
    skipped = np.zeros(n_slots, np.int64)
    cut = np.zeros(n_slots, np.int64)
    depth = max_len + 2
    cap = max_len * min(max_degree, n) + 1
    n_blocks = (e_count + BLOCK - 1) // BLOCK
    for slot in prange(n_slots):
        h = hists[slot]
        used = np.zeros(e_count, np.bool_)
        slot_rows = rows[slot]
        slot_rows[0] = 0
        dist = np.full(n, -1, np.int64)
        touched = np.zeros(n, np.int32)
        queue = np.zeros(n, np.int32)
        onpath = np.zeros(n, np.bool_)
        seen = np.zeros(n, np.int64)
        path = np.zeros(depth, np.int32)
        lvl_lo = np.zeros(depth, np.int64)
        lvl_hi = np.zeros(depth, np.int64)
        lvl_pos = np.zeros(depth, np.int64)
        stamp = np.zeros(1, np.int64)
        buf_node = np.zeros(cap, np.int32)
        buf_time = np.zeros(cap, np.int64)
        n_found = 0
        n_skipped = 0
        n_cut = 0
        for blk in range(slot, n_blocks, n_slots):
            for e in range(blk * BLOCK, min(e_count, blk * BLOCK + BLOCK)):
                u = src[e]
                v = dst[e]
                t_lo = ts[e] - window
                # G(e) must hold an edge leaving v and one entering u: most edges stop here
                if (u == v or max_len < 2
                        or not _any_before(out_ts, out_eid, out_ptr[v], out_ptr[v + 1], t_lo, e)
                        or not _any_before(in_ts, in_eid, in_ptr[u], in_ptr[u + 1], t_lo, e)):
                    continue
                f, sk, c = _simple_from(e, src, dst, ts, out_ptr, out_nbr, out_ts, out_eid,
                                        in_ptr, in_nbr, in_ts, in_eid, window, max_len,
                                        max_degree, max_cycles, lookup, h, used, slot_rows,
                                        dist, touched, queue, onpath, seen, path, lvl_lo, lvl_hi,
                                        lvl_pos, buf_node, buf_time, stamp)
                n_found += f
                n_skipped += sk
                n_cut += c
        found[slot] = n_found
        skipped[slot] = n_skipped
        cut[slot] = n_cut
    return _merge_slots(hists, rows), found.sum(), skipped.sum(), cut.sum()


@kernel(inline="always")
def _credit_pair(s, t, e, t_lo, t_end, out_ptr, out_nbr, out_ts, out_eid, in_ptr, in_nbr, in_ts,
                 in_eid, mark, stamp, max_degree, lookup, hist, used, rows):
    """Scatter-gather pair (s, t) seen by trigger e: count intermediaries m (s -> m and
    m -> t in G(e)) and, when >= 2, credit their edges. Returns (1 if counted, skipped)."""
    # G(e): edges f <= e (so ts(f) <= ts(e)) with ts(f) >= t_lo
    a_lo, a_hi, skipped = row_range(out_ts, out_ptr[s], out_ptr[s + 1], t_lo, t_end, max_degree)
    for k in range(a_lo, a_hi):
        m = out_nbr[k]
        if out_eid[k] <= e and m != s and m != t:
            mark[m] = stamp           # m receives from s
    b_lo, b_hi, sk = row_range(in_ts, in_ptr[t], in_ptr[t + 1], t_lo, t_end, max_degree)
    skipped += sk
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
            _credit(hist, used, rows, out_eid[k], b)
    for k in range(b_lo, b_hi):
        if in_eid[k] <= e and mark[in_nbr[k]] == -stamp:
            _credit(hist, used, rows, in_eid[k], b)
    return 1, skipped


# inlined, as _credit_pair: a real call with many array arguments costs reference counting
# (see the module doc); as calls they made scatter_gather_hist about 3x slower
@kernel(inline="always")
def _pairs_of_edge(e, a, b, as_scatter, row_lo, row_hi, row_nbr, row_ts, row_eid, t_lo, t_end,
                   out_ptr, out_nbr, out_ts, out_eid, in_ptr, in_nbr, in_ts, in_eid, mark,
                   pair_seen, stamp_ctr, max_degree, lookup, hist, used, rows):
    """The scatter-gather pairs trigger ``e = a -> b`` belongs to on one side, each credited
    once with :func:`_credit_pair`: as the scatter edge (``as_scatter``; row = b's out-row in
    G(e), pairs (a, t) for its targets t) or as the gather edge (row = a's in-row, pairs
    (s, b) for its sources s); t, s not in {a, b}. ``stamp_ctr`` int64[1] feeds the
    ``pair_seen`` / ``mark`` stamps. Returns (pairs counted, edges skipped by max_degree)."""
    stamp_ctr[0] += 1
    pstamp = stamp_ctr[0]
    lo, hi, skipped = row_range(row_ts, row_lo, row_hi, t_lo, t_end, max_degree)
    found = 0
    for k in range(lo, hi):
        w = row_nbr[k]
        if row_eid[k] > e or w == a or w == b or pair_seen[w] == pstamp:
            continue
        pair_seen[w] = pstamp
        stamp_ctr[0] += 1
        s = a if as_scatter else w
        t = w if as_scatter else b
        c, sk = _credit_pair(s, t, e, t_lo, t_end, out_ptr, out_nbr, out_ts, out_eid, in_ptr,
                             in_nbr, in_ts, in_eid, mark, stamp_ctr[0], max_degree, lookup, hist,
                             used, rows)
        found += c
        skipped += sk
    return found, skipped


@kernel(parallel=True)
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
    hists = np.empty((n_slots, e_count, nb), np.int32)   # cleared lazily by _credit
    rows = np.empty((n_slots, e_count + 1), np.int64)
    found = np.zeros(n_slots, np.int64)
    skipped = np.zeros(n_slots, np.int64)
    n_blocks = (e_count + BLOCK - 1) // BLOCK
    for slot in prange(n_slots):
        h = hists[slot]
        used = np.zeros(e_count, np.bool_)
        slot_rows = rows[slot]
        slot_rows[0] = 0
        mark = np.zeros(n, np.int64)
        pair_seen = np.zeros(n, np.int64)
        stamp = np.zeros(1, np.int64)
        n_found = 0
        n_skipped = 0
        for blk in range(slot, n_blocks, n_slots):
            for e in range(blk * BLOCK, min(e_count, blk * BLOCK + BLOCK)):
                a = src[e]
                b = dst[e]
                if a == b:
                    continue
                t_lo = ts[e] - window
                # e as scatter edge a -> b: targets t of b; then as gather edge: sources s of a
                f, sk = _pairs_of_edge(e, a, b, True, out_ptr[b], out_ptr[b + 1], out_nbr,
                                       out_ts, out_eid, t_lo, ts[e], out_ptr, out_nbr, out_ts,
                                       out_eid, in_ptr, in_nbr, in_ts, in_eid, mark, pair_seen,
                                       stamp, max_degree, lookup, h, used, slot_rows)
                f2, sk2 = _pairs_of_edge(e, a, b, False, in_ptr[a], in_ptr[a + 1], in_nbr,
                                         in_ts, in_eid, t_lo, ts[e], out_ptr, out_nbr, out_ts,
                                         out_eid, in_ptr, in_nbr, in_ts, in_eid, mark, pair_seen,
                                         stamp, max_degree, lookup, h, used, slot_rows)
                n_found += f + f2
                n_skipped += sk + sk2
        found[slot] = n_found
        skipped[slot] = n_skipped
    return _merge_slots(hists, rows), found.sum(), skipped.sum()
