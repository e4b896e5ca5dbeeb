"""Temporal cycle kernel: every time-respecting cycle bounded by length and window, once.

Definition (the executable version is ``tests/naive/cycles.py``)
------------------------------------------------------------------
Edges are the TemporalGraph's transactions ``e = 0..E-1`` in (ts, dataset) order. A temporal
cycle is a sequence of edges ``e1..eL`` with

* ``min_len <= L <= max_len`` (``L >= 2``: a self-loop, the only length-1 cycle, never counts),
* ``dst(ei) == src(ei+1)`` and ``dst(eL) == src(e1)``; the accounts ``src(e1)..src(eL)`` distinct,
* ``ts(e1) <= ts(e2) <= ... <= ts(eL)`` (equal times allowed, in any edge order) and
  ``ts(eL) - ts(e1) <= window``,
* value rule, only when ``min_hop_ratio > 0``: ``amt(ei+1) >= min_hop_ratio * amt(ei)`` for
  ``i = 1..L-1`` (each hop keeps at least that share of the previous hop's amount).

Uniqueness. A cycle is its cyclic sequence of edges; several rotations of it may satisfy the
rules. It is reported once, as the valid rotation whose first edge has the smallest index.

Why the search rule below implements exactly that. Take a cycle with a valid rotation
``e1..eL`` (times non-decreasing). (a) If ``ts(eL) > ts(e1)`` no other rotation is valid: a
rotation starting at ``ek`` (k > 1) contains the step ``eL -> e1`` whose time strictly
decreases. So the search from start edge ``e1`` reports it whenever its last edge is later than
its first, regardless of edge indices - note that ``e1`` need NOT be the smallest index: with
``ts(a->b) = ts(b->c) = 1 < ts(c->a) = 2`` and index(b->c) < index(a->b), only the rotation
starting at a->b is time-respecting. (b) If ``ts(eL) == ts(e1)`` all edges share one time and
every rotation is time-valid. Without the value rule, all rotations are valid and the search
from ``e1`` reports the cycle only when ``e1`` has the smallest index of the cycle's edges.
With it, a rotation starting at ``ek`` checks every cyclic hop except ``e(k-1) -> ek``; our
rotation passes all hops but possibly the wrap hop ``eL -> e1``. If the wrap hop passes too,
every rotation is valid (smallest-index rule as before); if it fails, every other rotation
includes it and is invalid, so ours is the only one and is reported. Cases (a) and (b)
partition the cycles and each selects exactly one (start edge, rotation) among the valid
rotations - the one with the smallest first index - so every cycle is reported once.

Search (per start edge ``s = (u -> v, t0)``, deadline ``D = t0 + window``)
---------------------------------------------------------------------------
1. Backward labels from ``u`` over in-edges with times in ``[t0, D]`` (label-correcting BFS,
   :func:`backward_labels`, shared with the GFP cycle features in ``features.py``):
   ``ld[x]`` = latest departure time from ``x`` of a time-respecting path that reaches ``u``
   by ``D``, and ``dist[x]`` = fewest hops of such a path; only nodes with
   ``dist <= max_len - 2`` are expanded. Both are upper/lower bounds (not exact joint
   values), so pruning with them is safe: a node ``x`` entered at time ``t`` after ``d`` edges
   is useful only if ``ld[x] >= t`` and ``d + dist[x] <= max_len``.
2. Depth-first search from ``v`` over out-edges with times in ``[t_prev, D]`` (binary search
   in the time-sorted out-row), in out-row order, so a start edge's cycles come out in
   lexicographic order of their edge-index sequences.

Budgets. ``max_degree``: one node visit (forward: out-edges in the time range; backward:
in-edges in the time range) scans only the earliest that many edges, and the skipped edges
are counted; the start edge is then flagged as cut.
``max_results_per_start``: the search of a start edge stops when it finds one cycle more than
this (so a start with exactly the budget is not flagged). ``max_results``: cycles are kept in
start-edge order (then DFS order) up to this total; the rest are dropped and counted.

Parallelism and determinism. Start edges are processed in fixed blocks of ``block`` edges, a
``prange`` over each block; per-thread scratch (size N) is indexed by ``numba.get_thread_id()``
and fully reset after each start edge. Pass 1 counts cycles per start edge (and stops after the
first block at which the running total reaches ``max_results``); pass 2 re-runs only the start
edges that keep cycles and writes them at precomputed offsets. Results and counters therefore
do not depend on the number of threads.

Complexity. Per start edge: the backward labels cost O(sum of in-rows scanned in the window)
(bounded by ``max_degree`` per visit), the DFS is output-sensitive up to O(max_degree^(L-1))
in the worst case but pruned by the labels. Memory: O(threads * N + E + max_results * max_len).
"""
from __future__ import annotations

import numba
import numpy as np

from numba import prange

from .jit import kernel
from .rows import row_lower_bound, row_range, row_upper_bound

__all__ = ["temporal_cycles", "STAT_NAMES", "backward_labels", "clear_labels", "NO_LABEL"]

#: Names of the entries of the ``stats`` array returned by :func:`temporal_cycles`.
STAT_NAMES = (
    "starts_searched",        # non-self-loop start edges whose search ran
    "starts_cut_per_start",   # searches stopped by max_results_per_start
    "starts_cut_degree",      # searches where max_degree skipped edges
    "edges_skipped_degree",   # edge scans skipped by max_degree, summed over node visits
    "cycles_dropped",         # cycles found but beyond max_results
    "starts_unsearched",      # non-self-loop start edges never searched (max_results reached)
    "starts_incomplete",      # start edges whose reported cycles may be incomplete (any budget)
)

#: ``ld`` of a node without a backward label (see :func:`backward_labels`).
NO_LABEL = np.iinfo(np.int64).min


# inlined into each caller (numba IR inlining): it runs once per start edge, and as a real
# call (ten array arguments) it cost temporal_cycle_hist ~10%
@kernel(inline="always")
def backward_labels(u, t_from, t_until, strict, max_dist, max_degree, keep_latest,
                    in_ptr, in_nbr, in_ts, ld, dist, inq, queue, touched):
    """Label-correcting backward search from ``u`` over in-edges with times in
    ``[t_from, t_until]`` (int64 seconds).

    ``ld[x]`` = latest departure time from ``x`` of a time-respecting path that reaches ``u``
    by ``t_until`` (times non-decreasing along it, or strictly increasing when ``strict``: then
    the path must also arrive before ``t_until``), ``dist[x]`` = fewest hops of such a path.
    Only nodes with ``dist < max_dist`` are expanded; self-loops and edges leaving ``u`` are
    ignored. Both labels are bounds, not exact joint values, so pruning a search with them is
    safe. ``max_degree`` caps the in-edges one node visit scans (the earliest, or the latest
    with ``keep_latest``); the rest are counted as skipped.

    Scratch, length N: ``ld`` all :data:`NO_LABEL`, ``dist`` all 0 and ``inq`` all False on
    entry (``inq`` is False again on return; :func:`clear_labels` resets the rest), ``queue``
    (circular) and ``touched`` int32. Returns (count of labelled nodes, listed in
    ``touched[:count]``; in-edges skipped by ``max_degree``). O(in-edges scanned x relabels).
    """
    n = ld.shape[0]
    skipped = 0
    ld[u] = t_until
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
        if dist[y] >= max_dist:
            continue
        r0 = in_ptr[y]
        r1 = in_ptr[y + 1]
        lo = row_lower_bound(in_ts, r0, r1, t_from)
        if strict:
            hi = row_lower_bound(in_ts, lo, r1, ld[y])
        else:
            hi = row_upper_bound(in_ts, lo, r1, ld[y])
        if hi - lo > max_degree:
            skipped += hi - lo - max_degree
            if keep_latest:
                lo = hi - max_degree
            else:
                hi = lo + max_degree
        nd = dist[y] + 1
        for k in range(lo, hi):
            x = in_nbr[k]
            if x == u or x == y:
                continue
            te = in_ts[k]
            improved = False
            if ld[x] == NO_LABEL:
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
    return n_touched, skipped


@kernel(inline="always")
def clear_labels(touched, n_touched, ld, dist):
    """Reset the labels :func:`backward_labels` set (``ld`` to NO_LABEL, ``dist`` to 0)."""
    for i in range(n_touched):
        x = touched[i]
        ld[x] = NO_LABEL
        dist[x] = 0


@kernel
def _search(s, write, out_rows, out_row0, limit,
            src, dst, ts, amt, out_ptr, out_nbr, out_ts, out_eid, in_ptr, in_nbr, in_ts,
            window, min_len, max_len, min_hop_ratio, max_degree,
            ld, dist, inq, onpath, queue, touched, st_node, st_pos, st_hi, path):
    """Cycles whose canonical start edge is ``s`` (see module doc).

    Count mode (``write`` False): returns at most ``limit`` found and sets ``cut`` when there
    were more. Write mode: writes the first ``limit`` cycles (edge indices, padded with -1)
    into ``out_rows[out_row0 + j]``. Returns (found, cut, degree_cut, edges_skipped).
    Scratch ``ld``/``dist``/``inq``/``onpath`` must be clean on entry and are clean on exit.
    """
    u = src[s]
    v = dst[s]
    found = 0
    cut = False
    skipped = 0
    if u == v or max_len < 2 or limit <= 0:
        return found, cut, False, skipped
    t0 = ts[s]
    deadline = t0 + window

    # 1. backward labels: ld = latest departure reaching u by the deadline, dist = fewest hops
    n_touched, skipped = backward_labels(u, t0, deadline, False, max_len - 1, max_degree, False,
                                         in_ptr, in_nbr, in_ts, ld, dist, inq, queue, touched)

    # 2. depth-first search from v; level d holds the node reached by d edges
    if ld[v] != NO_LABEL and ld[v] >= t0 and 1 + dist[v] <= max_len:
        onpath[u] = True
        onpath[v] = True
        path[0] = s
        d = 1
        st_node[1] = v
        lo, hi, cut_here = row_range(out_ts, out_ptr[v], out_ptr[v + 1], t0, deadline,
                                     max_degree)
        skipped += cut_here
        st_pos[1] = lo
        st_hi[1] = hi
        while d >= 1:
            if st_pos[d] >= st_hi[d]:
                onpath[st_node[d]] = False
                d -= 1
                continue
            k = st_pos[d]
            st_pos[d] += 1
            e = out_eid[k]
            y = out_nbr[k]
            te = out_ts[k]
            if min_hop_ratio > 0.0 and amt[e] < min_hop_ratio * amt[path[d - 1]]:
                continue
            if y == u:
                if d + 1 < min_len:
                    continue
                # every edge at t0: if the wrap hop e -> s also passes the value rule, every
                # rotation is valid and only the one from the smallest index counts
                if te == t0 and (min_hop_ratio <= 0.0 or amt[s] >= min_hop_ratio * amt[e]):
                    smallest = e > s
                    for i in range(1, d):
                        if path[i] < s:
                            smallest = False
                    if not smallest:
                        continue
                if not write and found == limit:
                    cut = True
                    break
                if write:
                    row = out_row0 + found
                    for i in range(d):
                        out_rows[row, i] = path[i]
                    out_rows[row, d] = e
                found += 1
                if write and found == limit:
                    break
                continue
            if d + 1 >= max_len or onpath[y]:
                continue
            if ld[y] == NO_LABEL or ld[y] < te or d + 1 + dist[y] > max_len:
                continue
            path[d] = e
            d += 1
            st_node[d] = y
            onpath[y] = True
            lo, hi, cut_here = row_range(out_ts, out_ptr[y], out_ptr[y + 1], te, deadline,
                                         max_degree)
            skipped += cut_here
            st_pos[d] = lo
            st_hi[d] = hi
        for i in range(1, d + 1):  # only non-empty after an early stop
            onpath[st_node[i]] = False
        onpath[u] = False

    clear_labels(touched, n_touched, ld, dist)
    return found, cut, skipped > 0, skipped


@kernel(parallel=True)
def temporal_cycles(src, dst, ts, amt, out_ptr, out_nbr, out_ts, out_eid, in_ptr, in_nbr,
                    in_ts, window, min_len, max_len, min_hop_ratio, max_results,
                    max_results_per_start, max_degree, n_slots, block):
    """Enumerate temporal cycles (module doc) over a TemporalGraph's arrays.

    Inputs: edge arrays ``src, dst`` (int32), ``ts`` (int64 seconds, non-decreasing), ``amt``
    (float64, base currency); the out-CSR (``out_ptr`` int64[N+1], ``out_nbr`` int32,
    ``out_ts`` int64, ``out_eid`` int64) and in-CSR (``in_ptr``, ``in_nbr``, ``in_ts``);
    ``window`` seconds; ``min_len``/``max_len`` edges; ``min_hop_ratio`` (<= 0 disables the
    value rule); budgets ``max_results``, ``max_results_per_start``, ``max_degree`` (>= 1);
    ``n_slots`` >= the number of numba threads (scratch rows); ``block`` start edges per
    parallel batch (any value >= 1 gives the same result).

    Returns ``cycle_ptr`` int64[C+1], ``cycle_edges`` int64 (edge indices in path order, the
    first being the start edge), ``stats`` int64[7] named by :data:`STAT_NAMES`. Cycles are
    ordered by start edge, then lexicographically by edge indices.
    """
    n = out_ptr.shape[0] - 1
    n_edges = src.shape[0]
    ld = np.full((n_slots, n), NO_LABEL, dtype=np.int64)
    dist = np.zeros((n_slots, n), dtype=np.int64)
    inq = np.zeros((n_slots, n), dtype=np.bool_)
    onpath = np.zeros((n_slots, n), dtype=np.bool_)
    queue = np.zeros((n_slots, n), dtype=np.int32)
    touched = np.zeros((n_slots, n), dtype=np.int32)
    depth = max_len + 1
    st_node = np.zeros((n_slots, depth), dtype=np.int32)
    st_pos = np.zeros((n_slots, depth), dtype=np.int64)
    st_hi = np.zeros((n_slots, depth), dtype=np.int64)
    path = np.zeros((n_slots, depth), dtype=np.int64)
    no_rows = np.zeros((0, depth), dtype=np.int64)

    found = np.zeros(n_edges, dtype=np.int64)
    cut = np.zeros(n_edges, dtype=np.bool_)
    deg_cut = np.zeros(n_edges, dtype=np.bool_)
    skipped = np.zeros(n_edges, dtype=np.int64)

    # pass 1: count per start edge, block by block, until max_results is reached
    searched_end = n_edges
    total = 0
    b0 = 0
    while b0 < n_edges:
        b1 = min(n_edges, b0 + block)
        for s in prange(b0, b1):
            tid = numba.get_thread_id()
            f, c, dc, sk = _search(
                s, False, no_rows, 0, max_results_per_start,
                src, dst, ts, amt, out_ptr, out_nbr, out_ts, out_eid, in_ptr, in_nbr, in_ts,
                window, min_len, max_len, min_hop_ratio, max_degree,
                ld[tid], dist[tid], inq[tid], onpath[tid], queue[tid], touched[tid],
                st_node[tid], st_pos[tid], st_hi[tid], path[tid])
            found[s] = f
            cut[s] = c
            deg_cut[s] = dc
            skipped[s] = sk
        for s in range(b0, b1):
            total += found[s]
        b0 = b1
        if total >= max_results:
            searched_end = b1
            break

    # keep cycles in start-edge order up to max_results
    keep = np.zeros(n_edges, dtype=np.int64)
    offset = np.zeros(n_edges + 1, dtype=np.int64)
    stats = np.zeros(7, dtype=np.int64)
    kept = 0
    for s in range(n_edges):
        loop = src[s] == dst[s]
        if s >= searched_end:
            if not loop:
                stats[5] += 1
                stats[6] += 1
            offset[s + 1] = kept
            continue
        if not loop:
            stats[0] += 1
        k = min(found[s], max_results - kept)
        keep[s] = k
        kept += k
        offset[s + 1] = kept
        stats[4] += found[s] - k
        stats[1] += 1 if cut[s] else 0
        stats[2] += 1 if deg_cut[s] else 0
        stats[3] += skipped[s]
        if cut[s] or deg_cut[s] or k < found[s]:
            stats[6] += 1

    # pass 2: re-run the start edges that keep cycles, writing at fixed offsets
    n_starts = 0
    for s in range(n_edges):
        if keep[s] > 0:
            n_starts += 1
    starts = np.empty(n_starts, dtype=np.int64)
    j = 0
    for s in range(n_edges):
        if keep[s] > 0:
            starts[j] = s
            j += 1
    rows = np.full((kept, depth), -1, dtype=np.int64)
    for i in prange(n_starts):
        s = starts[i]
        tid = numba.get_thread_id()
        _search(s, True, rows, offset[s], keep[s],
                src, dst, ts, amt, out_ptr, out_nbr, out_ts, out_eid, in_ptr, in_nbr, in_ts,
                window, min_len, max_len, min_hop_ratio, max_degree,
                ld[tid], dist[tid], inq[tid], onpath[tid], queue[tid], touched[tid],
                st_node[tid], st_pos[tid], st_hi[tid], path[tid])

    cycle_ptr = np.zeros(kept + 1, dtype=np.int64)
    for c in range(kept):
        length = 0
        while length < depth and rows[c, length] >= 0:
            length += 1
        cycle_ptr[c + 1] = cycle_ptr[c] + length
    cycle_edges = np.empty(cycle_ptr[kept], dtype=np.int64)
    for c in range(kept):
        for i in range(cycle_ptr[c + 1] - cycle_ptr[c]):
            cycle_edges[cycle_ptr[c] + i] = rows[c, i]
    return cycle_ptr, cycle_edges, stats
