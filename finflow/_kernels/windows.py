"""Window machinery over time-sorted CSR rows: the one place for two-pointer window logic.

Used by FAN_OUT / FAN_IN (distinct counterparties), STRUCTURING (payment counts) and the
scatter-gather kernels (distinct intermediaries per source/target). The executable
definitions are the twins in ``tests/naive/windows.py``.

Conventions
-----------
* A window of length ``W`` (seconds) is the **closed** interval ``[L, L + W]``: two events
  exactly ``W`` apart lie in one window.
* An *item* has a start time ``t1`` and an end time ``t2`` with ``0 <= t2 - t1 <= W`` (a
  transaction is an item with ``t1 == t2 == ts``; a two-hop path s -> m -> t is an item with
  the two hop times) and a *key* (the counterparty, the intermediary, ...). The window
  ``[L, L + W]`` *holds* an item when ``L <= t1`` and ``t2 <= L + W``.
* The *measure* of a window is the number of distinct keys of the items it holds
  (``distinct=True``) or the number of items (``distinct=False``).
* A *maximal window* is a set of items held by some window that no other window's set
  strictly contains. Every maximal set is held by a window starting at an item's ``t1``, and
  the window starting at the i-th distinct ``t1`` value is maximal iff it holds an item the
  previous start did not (see ``_sweep``). There are at most as many as items.
* A window *qualifies* when its measure is ``>= min_count``.
* A **burst** is a class of qualifying maximal windows linked by sharing items (transitive
  closure); its items are the union of their items. Alerts are per burst, so a sender paying
  20 new accounts over 30 hours with ``W = 24h`` gives one alert, not one per sliding
  position. On one row of transactions a burst is a contiguous run of the row; a burst may
  span more than ``W`` when the behaviour persists (detectors score persistence).
* A burst's *peak* is its qualifying maximal window with the largest measure (ties: the
  shorter span ``max t2 - L``, then the earlier start): ``peak_count``, ``peak_start`` (= L),
  ``peak_span`` (seconds).
"""
from __future__ import annotations

import numpy as np

from .jit import kernel

__all__ = ["row_bursts"]


@kernel
def _sweep(t1, t2, key, by_t1, by_t2, window, min_count, distinct, counts, label,
           b_count, b_start, b_span):
    """Bursts of one group of items (see module doc). O(m) for m = len(by_t1) items.

    ``t1, t2`` int64 seconds, ``key`` int32, all indexed by item; ``by_t1`` / ``by_t2`` the
    group's item indices sorted by t1 / by t2 (stably). ``counts`` int32 scratch indexed by
    key, zero on entry and on exit. ``label`` (int64, by item) must be -1 for the group's items
    on entry; on exit it holds the burst number (0, 1, ... in time order) of every item in a
    burst. ``b_count/b_start/b_span`` (int64, length >= number of bursts) receive each burst's
    peak. Returns the number of bursts.
    """
    m = by_t1.shape[0]
    enter = 0        # next item (in t2 order) to enter
    leave = 0        # next item (in t1 order) to leave
    measure = 0
    mark_ptr = 0     # by_t2[:mark_ptr] were considered for the current/previous burst
    marked_active = 0  # active items already labelled with the current burst
    nb = -1
    while leave < m:
        start = t1[by_t1[leave]]
        added = False
        while enter < m and t2[by_t2[enter]] <= start + window:
            k = key[by_t2[enter]]
            c = counts[k]
            counts[k] = c + 1
            if c == 0 or not distinct:
                measure += 1
            enter += 1
            added = True
        # an item entering means this window's set is not inside the previous one: maximal
        if added and measure >= min_count:
            span = t2[by_t2[enter - 1]] - start
            if marked_active == 0:
                nb += 1
                b_count[nb] = measure
                b_start[nb] = start
                b_span[nb] = span
            elif measure > b_count[nb] or (measure == b_count[nb] and span < b_span[nb]):
                b_count[nb] = measure
                b_start[nb] = start
                b_span[nb] = span
            # items active now but entered after the last marking join the burst
            for p in range(mark_ptr, enter):
                it = by_t2[p]
                if t1[it] >= start:
                    label[it] = nb
                    marked_active += 1
            mark_ptr = enter
        while leave < m and t1[by_t1[leave]] == start:
            it = by_t1[leave]
            k = key[it]
            c = counts[k] - 1
            counts[k] = c
            if c == 0 or not distinct:
                measure -= 1
            if nb >= 0 and label[it] == nb:
                marked_active -= 1
            leave += 1
    return nb + 1


@kernel
def _min_span(ts, key, lo, hi, min_count, distinct, counts):
    """Shortest ``ts[j] - ts[i]`` over row positions lo <= i <= j < hi whose items reach
    ``min_count`` (distinct keys or items); -1 if none. ``counts`` zero on entry and exit."""
    best = -1
    left = lo
    measure = 0
    for right in range(lo, hi):
        k = key[right]
        c = counts[k]
        counts[k] = c + 1
        if c == 0 or not distinct:
            measure += 1
        while measure >= min_count:
            span = ts[right] - ts[left]
            if best < 0 or span < best:
                best = span
            k = key[left]
            c = counts[k] - 1
            counts[k] = c
            if c == 0 or not distinct:
                measure -= 1
            left += 1
    for q in range(left, hi):
        counts[key[q]] = 0
    return best





@kernel
def row_bursts(ptr, nbr, ts, window, min_count, distinct, max_results, n_nodes):
    """Bursts of qualifying maximal windows on every CSR row (FAN_OUT/FAN_IN, STRUCTURING).

    Items are the row's transactions (t1 = t2 = ts), keys their counterparties ``nbr``; see
    the module doc for windows, maximal windows, bursts and peaks. ``ptr`` int64[N+1], ``nbr``
    int32, ``ts`` int64 seconds (time-sorted within rows), ``window`` seconds, ``min_count``
    >= 1, ``distinct`` True to count distinct counterparties (fans), False to count
    transactions (structuring). Rows are visited in account order; at most ``max_results``
    bursts are returned, the rest are counted.

    Returns, per burst (length B): ``node`` int32 (the row's account), ``lo``/``hi`` int64
    (the burst is row positions [lo, hi)), ``peak_count``, ``peak_start``, ``peak_span``
    (int64), ``min_span`` (shortest span of row positions inside the burst reaching
    ``min_count``), ``n_distinct`` (distinct counterparties in the burst), ``n_oneoff``
    (distinct counterparties the row never meets outside the burst), then ``n_cut`` (int).
    O(E + N) time; scratch O(N) plus the longest row. Each row is first scanned for runs of
    ``min_count`` consecutive transactions spanning <= W (one comparison per transaction);
    only the part of the row from the first to the last such run is swept.
    """
    n = ptr.shape[0] - 1
    e = nbr.shape[0]
    min_count = max(min_count, 1)
    # bursts of one row are disjoint and each holds >= min_count transactions
    cap = max(min(max_results, e // min_count + 1), 0)
    b_node = np.empty(cap, np.int32)
    b_lo = np.empty(cap, np.int64)
    b_hi = np.empty(cap, np.int64)
    b_peak = np.empty(cap, np.int64)
    b_start = np.empty(cap, np.int64)
    b_span = np.empty(cap, np.int64)
    b_kspan = np.empty(cap, np.int64)
    b_distinct = np.empty(cap, np.int64)
    b_oneoff = np.empty(cap, np.int64)
    counts = np.zeros(n_nodes, np.int32)
    first = np.full(n_nodes, -1, np.int64)
    last = np.empty(n_nodes, np.int64)
    stamp = np.full(n_nodes, -1, np.int64)
    # per-row scratch sized by the longest row (not by E): it stays in cache
    longest = 0
    for a in range(n):
        longest = max(longest, ptr[a + 1] - ptr[a])
    ident = np.arange(longest)
    label = np.empty(longest, np.int64)
    s_count = np.empty(longest // min_count + 1, np.int64)
    s_start = np.empty(longest // min_count + 1, np.int64)
    s_span = np.empty(longest // min_count + 1, np.int64)
    nres = 0
    ncut = 0
    for a in range(n):
        row_lo = ptr[a]
        row_hi = ptr[a + 1]
        # Every transaction of a qualifying window lies in a run of min_count consecutive row
        # transactions spanning <= W (the window holds such a run around it), so the sweep
        # only needs positions [lo, hi) from the first to the last such run; a qualifying
        # window's supersets qualify too, so maximality is unchanged. Most rows have none.
        lo = -1
        hi = -1
        for i in range(row_lo, row_hi - min_count + 1):
            if ts[i + min_count - 1] - ts[i] <= window:
                if lo < 0:
                    lo = i
                hi = i + min_count
        if lo < 0:
            continue
        m = hi - lo
        row_ts = ts[lo:hi]
        order = ident[:m]
        row_label = label[:m]
        row_label[:] = -1
        nb = _sweep(row_ts, row_ts, nbr[lo:hi], order, order, window, min_count, distinct,
                    counts, row_label, s_count, s_start, s_span)
        if nb == 0:
            continue
        for p in range(row_lo, row_hi):
            k = nbr[p]
            if first[k] < 0:
                first[k] = p
            last[k] = p
        p = 0
        for b in range(nb):
            while row_label[p] != b:
                p += 1
            blo = p
            while p < m and row_label[p] == b:
                p += 1
            bhi = p
            if nres >= cap:
                ncut += 1
                continue
            blo += lo
            bhi += lo
            nd = 0
            no = 0
            for q in range(blo, bhi):
                k = nbr[q]
                if stamp[k] != nres:
                    stamp[k] = nres
                    nd += 1
                    if first[k] >= blo and last[k] < bhi:
                        no += 1
            b_node[nres] = a
            b_lo[nres] = blo
            b_hi[nres] = bhi
            b_peak[nres] = s_count[b]
            b_start[nres] = s_start[b]
            b_span[nres] = s_span[b]
            b_kspan[nres] = _min_span(ts, nbr, blo, bhi, min_count, distinct, counts)
            b_distinct[nres] = nd
            b_oneoff[nres] = no
            nres += 1
        for p in range(row_lo, row_hi):
            first[nbr[p]] = -1
    return (b_node[:nres], b_lo[:nres], b_hi[:nres], b_peak[:nres], b_start[:nres],
            b_span[:nres], b_kspan[:nres], b_distinct[:nres], b_oneoff[:nres], ncut)
