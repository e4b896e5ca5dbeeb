"""Hawala kernels: broker candidates, bucket series, lagged correlation, settlement paths and
offsetting (mirror) flows.

Definitions (the executable versions are in ``tests/naive/hawala.py``)
------------------------------------------------------------------------
* **Small** transaction: ``amt <= small`` (the detector passes a global amount quantile).
  Self-loops never count as a counterparty relation.
* **Small counterparties** of an account in one CSR view (in-rows: payers, out-rows: payees):
  the distinct other accounts with at least one small transaction in that row.
* **Related pairs** of a candidate ``c``: ordered pairs ``(p, q)``, ``p != q``, both small
  counterparties of ``c`` (and not ``c``), with at least one transaction ``p -> q`` of any
  amount. Unrelated customers give 0.
* **Bucket series** of an account: the value (base currency) of its small transactions in
  one CSR view per bucket ``floor((ts - t0) / bucket)``.
* **Lagged correlation** of a collector series ``a`` with a payer series ``b`` over buckets
  ``[w0, w1)``: for every lag window ``0 <= lo <= hi <= max_lag`` (buckets) let
  ``b'[t] = sum_{k=lo..hi} b[t+k]`` (zero outside the series); the correlation of ``a[t]``
  and ``b'[t]`` for ``t in [w0, w1)``: Spearman's (Pearson of the average ranks, ties sharing
  their mean rank) when ``ranks`` is true, else Pearson of the values. A lag window (rather
  than one lag) captures payouts spread over a few buckets after the collection. Ranks make
  "tracks" mean co-movement bucket after bucket: one bucket of the brokers' other business
  (a payroll run, a supplier payment) cannot dominate the value, and one coincident burst
  cannot fake it.
* **Tracking windows** of a pair: over the union of both active spans ``[start, stop)``
  (``start = min(first_a, first_b)``, ``stop = max(last_a, last_b) + 1``), the windows
  ``[w0, w0 + W)`` of ``W = min(window, stop - start)`` buckets for ``w0 = start, start +
  step, ...``, each clipped to ``w0 <= stop - W``, up to the first that ends at ``stop``
  (``window <= 0``: the one window ``[start, stop)``). A window's *volume match* is
  ``min(A, B) / max(A, B)`` of the two series' sums over it. The pair's tracking is the best
  lag-window correlation over the windows whose volume match is ``>= min_volume``: the first
  maximum in (window, ``lo``, ``hi``) order. A broker's other business over months dilutes
  a whole-span correlation; the windows keep "tracks in the same periods" (TYPOLOGIES)
  measurable in long datasets.
* **Settlement path** from ``s`` to a target ``b`` (``b != s``, places differ): 1 to
  ``max_edges`` transactions, each *large* (``amt > small``), consecutive (``dst`` of one is
  ``src`` of the next), time-respecting (non-decreasing ``ts``), spanning at most
  ``max_span`` seconds, through distinct accounts. Paths may pass through other targets.
* **Places differ**: ``p != q``, or either is unknown (``-1``).

All kernels are single-threaded, allocation-bounded and take explicit budgets where the
output could explode; they return how many results or rows a budget cut.
"""
from __future__ import annotations

import numpy as np

from .jit import kernel
from .rows import grow, row_range

__all__ = ["small_counterparties", "related_pairs", "bucket_series", "lagged_correlation",
           "settlement_paths", "relay_tuples", "mirror_windows"]


@kernel
def _places_differ(p, q):
    return p < 0 or q < 0 or p != q


@kernel
def small_counterparties(ptr, nbr, amt, small):
    """Per account: distinct small counterparties and the value of its small transactions.

    ``ptr/nbr/amt``: one CSR view (in-rows or out-rows). Returns (count int64[N], value
    float64[N]); self-loops ignored. O(E + N) with a stamp array.
    """
    n = ptr.shape[0] - 1
    count = np.zeros(n, np.int64)
    value = np.zeros(n, np.float64)
    stamp = np.full(n, -1, np.int64)
    for v in range(n):
        for i in range(ptr[v], ptr[v + 1]):
            u = nbr[i]
            if u == v or amt[i] > small:
                continue
            value[v] += amt[i]
            if stamp[u] != v:
                stamp[u] = v
                count[v] += 1
    return count, value


@kernel
def related_pairs(cand, cp_ptr, cp_nbr, cp_amt, small, out_ptr, out_nbr, max_degree):
    """Related ordered pairs among each candidate's small counterparties (see module doc).

    ``cand`` int32[C]; ``cp_*`` the view defining the counterparties (in-rows for collectors,
    out-rows for payers); ``out_*`` out-rows used to look for ``p -> q``. Only the first
    ``max_degree`` transactions of each counterparty's out-row are read. Returns
    (pairs int64[C], rows_cut int64). O(sum of counterparties' out-degrees, capped).
    """
    n = cp_ptr.shape[0] - 1
    c_n = cand.shape[0]
    pairs = np.zeros(c_n, np.int64)
    member = np.full(n, -1, np.int64)   # member[u] == k: u is a counterparty of cand[k]
    done = np.full(n, -1, np.int64)     # done[p] == k: p's out-row already read for cand[k]
    counted = np.full(n, -1, np.int64)  # counted[q] == stamp: p -> q already counted
    stamp = 0
    cut = 0
    for k in range(c_n):
        c = cand[k]
        for i in range(cp_ptr[c], cp_ptr[c + 1]):
            u = cp_nbr[i]
            if u != c and cp_amt[i] <= small:
                member[u] = k
        for i in range(cp_ptr[c], cp_ptr[c + 1]):
            p = cp_nbr[i]
            if member[p] != k or done[p] == k:
                continue
            done[p] = k
            stamp += 1
            stop = out_ptr[p + 1]
            if stop - out_ptr[p] > max_degree:
                stop = out_ptr[p] + max_degree
                cut += 1
            for j in range(out_ptr[p], stop):
                q = out_nbr[j]
                if q != p and member[q] == k and counted[q] != stamp:
                    counted[q] = stamp
                    pairs[k] += 1
    return pairs, cut


@kernel
def bucket_series(nodes, ptr, nbr, ts, amt, small, t0, bucket, n_buckets):
    """Small-transaction value per bucket for each account in ``nodes`` (one CSR view).

    Returns float64[len(nodes), n_buckets]; bucket of a transaction ``(ts - t0) // bucket``,
    clipped into range. O(sum of row lengths + len(nodes) * n_buckets).
    """
    out = np.zeros((nodes.shape[0], n_buckets), np.float64)
    for k in range(nodes.shape[0]):
        v = nodes[k]
        for i in range(ptr[v], ptr[v + 1]):
            if nbr[i] == v or amt[i] > small:
                continue
            b = (ts[i] - t0) // bucket
            if b < 0:
                b = 0
            elif b >= n_buckets:
                b = n_buckets - 1
            out[k, b] += amt[i]
    return out


@kernel
def _pearson(x, y):
    n = x.shape[0]
    if n < 2:
        return 0.0
    sx = 0.0
    sy = 0.0
    for i in range(n):
        sx += x[i]
        sy += y[i]
    mx = sx / n
    my = sy / n
    sxx = 0.0
    syy = 0.0
    sxy = 0.0
    for i in range(n):
        dx = x[i] - mx
        dy = y[i] - my
        sxx += dx * dx
        syy += dy * dy
        sxy += dx * dy
    if sxx <= 0.0 or syy <= 0.0:
        return 0.0
    return sxy / np.sqrt(sxx * syy)


@kernel
def _average_ranks(x, out):
    """out[i] = rank of x[i] (0-based), tied values sharing the mean of their ranks."""
    n = x.shape[0]
    order = np.argsort(x, kind="mergesort")
    i = 0
    while i < n:
        j = i
        while j + 1 < n and x[order[j + 1]] == x[order[i]]:
            j += 1
        r = 0.5 * (i + j)
        for k in range(i, j + 1):
            out[order[k]] = r
        i = j + 1


@kernel
def lagged_correlation(series_a, series_b, pair_a, pair_b, max_lag, ranks, window, step,
                       min_volume):
    """Tracking of ``series_a[pair_a[p]]`` by ``series_b[pair_b[p]]`` (module doc): the best
    lag-window correlation over the pair's tracking windows whose volume match reaches
    ``min_volume``.

    ``max_lag``, ``window`` and ``step`` in buckets (``window <= 0``: one window, the active
    span); ``ranks``: Spearman (True) or Pearson (False). Returns per pair ``corr`` (float64;
    0 when no window qualifies), ``lo, hi`` (the lag window), ``w_lo, w_hi`` (int64, the
    tracking window ``[w_lo, w_hi)``; -1 when none qualifies) and ``volume`` (float64, its
    volume match; 0 when none). Lag-window sums come from prefix sums of ``b``.
    O(P * (n_buckets + windows * max_lag^2 * W * log W)), W = min(window, active span).
    """
    p_n = pair_a.shape[0]
    nb = series_a.shape[1]
    corr = np.zeros(p_n, np.float64)
    volume = np.zeros(p_n, np.float64)
    lo_out = np.full(p_n, -1, np.int64)
    hi_out = np.full(p_n, -1, np.int64)
    wlo_out = np.full(p_n, -1, np.int64)
    whi_out = np.full(p_n, -1, np.int64)
    cum = np.zeros(nb + 1, np.float64)
    ca = np.zeros(nb + 1, np.float64)
    for p in range(p_n):
        a = series_a[pair_a[p]]
        b = series_b[pair_b[p]]
        fa = -1
        la = -1
        fb = -1
        lb = -1
        for t in range(nb):
            if a[t] != 0.0:
                if fa < 0:
                    fa = t
                la = t
            if b[t] != 0.0:
                if fb < 0:
                    fb = t
                lb = t
        if fa < 0 or fb < 0:
            continue
        start = min(fa, fb)
        stop = max(la, lb) + 1
        for t in range(nb):  # prefix sums: cum[t] = b[0] + ... + b[t-1], ca likewise of a
            cum[t + 1] = cum[t] + b[t]
            ca[t + 1] = ca[t] + a[t]
        span = stop - start if window <= 0 else min(window, stop - start)
        x = np.zeros(span, np.float64)
        y = np.zeros(span, np.float64)
        ry = np.zeros(span, np.float64)
        best = -2.0
        step_w0 = start
        while True:
            w0 = min(step_w0, stop - span)   # every window has span buckets: the last ends at stop
            w1 = w0 + span
            va = ca[w1] - ca[w0]
            vb = cum[w1] - cum[w0]
            vol = min(va, vb) / max(va, vb) if max(va, vb) > 0.0 else 0.0
            if vol >= min_volume:
                m = w1 - w0
                if ranks:
                    _average_ranks(a[w0:w1], x[:m])
                else:
                    x[:m] = a[w0:w1]
                for lo in range(max_lag + 1):
                    for hi in range(lo, max_lag + 1):
                        for t in range(w0, w1):
                            y[t - w0] = cum[min(t + hi + 1, nb)] - cum[min(t + lo, nb)]
                        if ranks:
                            _average_ranks(y[:m], ry[:m])
                            c = _pearson(x[:m], ry[:m])
                        else:
                            c = _pearson(x[:m], y[:m])
                        if c > best:
                            best = c
                            lo_out[p] = lo
                            hi_out[p] = hi
                            wlo_out[p] = w0
                            whi_out[p] = w1
                            volume[p] = vol
            if w1 >= stop:
                break
            step_w0 += max(step, 1)
        if best > -2.0:
            corr[p] = best
    return corr, lo_out, hi_out, wlo_out, whi_out, volume


@kernel
def settlement_paths(sources, is_target, place, out_ptr, out_nbr, out_ts, out_amt, out_eid,
                     small, max_edges, max_span, max_degree, max_paths):
    """Enumerate settlement paths (module doc) from every source to every target.

    ``is_target`` int8[N]; ``place`` int32[N]; ``max_edges`` >= 1 transactions per path;
    ``max_span`` seconds; from each visited account only the first ``max_degree`` eligible
    transactions (in time order from the arrival time) are followed; at most ``max_paths``
    paths per source. Returns (path_source int32[P], path_target int32[P], path_ptr
    int64[P+1], path_edge int64[sum of lengths], cut int64) where cut counts truncated
    rows plus sources stopped by ``max_paths``. Depth-first, output-sensitive:
    O(sum over sources of explored prefixes) <= O(S * max_degree^max_edges).
    """
    n = out_ptr.shape[0] - 1
    p_src = np.empty(1024, np.int32)
    p_tgt = np.empty(1024, np.int32)
    p_ptr = np.zeros(1025, np.int64)
    p_edge = np.empty(4096, np.int64)
    n_paths = 0
    n_edges = 0
    cut = 0
    on_path = np.zeros(n, np.bool_)
    node = np.empty(max_edges + 1, np.int64)
    pos = np.empty(max_edges + 1, np.int64)
    stop = np.empty(max_edges + 1, np.int64)
    row = np.empty(max_edges, np.int64)  # out-row index of the edge taken at each depth
    for si in range(sources.shape[0]):
        s = sources[si]
        ps = place[s]
        found = 0
        depth = 0
        node[0] = s
        pos[0] = out_ptr[s]
        lim = out_ptr[s + 1]
        if lim - pos[0] > max_degree:
            lim = pos[0] + max_degree
            cut += 1
        stop[0] = lim
        on_path[s] = True
        halted = False
        while depth >= 0:
            if halted or pos[depth] >= stop[depth]:
                on_path[node[depth]] = False
                depth -= 1
                continue
            i = pos[depth]
            pos[depth] += 1
            v = out_nbr[i]
            if on_path[v] or out_amt[i] <= small:
                continue
            t = out_ts[i]
            row[depth] = i
            if is_target[v] and _places_differ(ps, place[v]):
                if found >= max_paths:
                    cut += 1
                    halted = True
                    continue
                found += 1
                if n_paths == p_src.shape[0]:
                    p_src = grow(p_src, n_paths + 1)
                    p_tgt = grow(p_tgt, n_paths + 1)
                    p_ptr = grow(p_ptr, p_src.shape[0] + 1)
                if n_edges + depth + 1 > p_edge.shape[0]:
                    p_edge = grow(p_edge, n_edges + depth + 1)
                for d in range(depth + 1):
                    p_edge[n_edges] = out_eid[row[d]]
                    n_edges += 1
                p_src[n_paths] = s
                p_tgt[n_paths] = v
                n_paths += 1
                p_ptr[n_paths] = n_edges
            if depth + 1 < max_edges:
                depth += 1
                node[depth] = v
                on_path[v] = True
                # eligible next hops: not before t, within max_span of the path's first hop
                a, b, n_cut = row_range(out_ts, out_ptr[v], out_ptr[v + 1], t,
                                        out_ts[row[0]] + max_span, max_degree)
                pos[depth] = a
                stop[depth] = b
                if n_cut > 0:
                    cut += 1
    return (p_src[:n_paths].copy(), p_tgt[:n_paths].copy(), p_ptr[:n_paths + 1].copy(),
            p_edge[:n_edges].copy(), cut)


@kernel
def relay_tuples(place, in_ptr, in_nbr, in_ts, in_amt, in_eid, out_ptr, out_nbr, out_ts,
                 out_amt, out_eid, window, min_ratio, max_degree, max_results):
    """Relays for HAWALA_MIRROR: a *front* ``f`` is paid by ``a`` and then pays ``b``.

    Per account ``f`` (in account order), per out-transaction ``f -> b`` and in-transaction
    ``a -> f`` with ``a``, ``b``, ``f`` distinct, places of ``a`` and ``b`` differing and
    ``t_in <= t_out <= t_in + window`` (seconds) and the front passing the value on:
    ``min_ratio * amt_in <= amt_out <= amt_in / min_ratio``: one tuple (a, b, front f, in
    edge, out edge). Accounts with more than ``max_degree`` in- or out-transactions are not fronts
    (counted as cut); at most ``max_results`` tuples (the excess is counted as cut).
    O(sum over fronts of in-degree x out-degree), each capped by ``max_degree``.
    """
    n = in_ptr.shape[0] - 1
    ra = np.empty(1024, np.int32)
    rb = np.empty(1024, np.int32)
    rf = np.empty(1024, np.int32)
    ein = np.empty(1024, np.int64)
    eout = np.empty(1024, np.int64)
    k = 0
    cut = 0
    for f in range(n):
        n_in = in_ptr[f + 1] - in_ptr[f]
        n_out = out_ptr[f + 1] - out_ptr[f]
        if n_in == 0 or n_out == 0:
            continue
        if n_in > max_degree or n_out > max_degree:
            cut += 1
            continue
        for j in range(out_ptr[f], out_ptr[f + 1]):
            b = out_nbr[j]
            if b == f:
                continue
            for i in range(in_ptr[f], in_ptr[f + 1]):
                a = in_nbr[i]
                if in_ts[i] > out_ts[j]:
                    break  # in-row is time-sorted
                if a == f or a == b or out_ts[j] - in_ts[i] > window:
                    continue
                if not _places_differ(place[a], place[b]):
                    continue
                if out_amt[j] < min_ratio * in_amt[i] or min_ratio * out_amt[j] > in_amt[i]:
                    continue
                if k >= max_results:
                    cut += 1
                    continue
                if k == ra.shape[0]:
                    ra = grow(ra, k + 1)
                    rb = grow(rb, k + 1)
                    rf = grow(rf, k + 1)
                    ein = grow(ein, k + 1)
                    eout = grow(eout, k + 1)
                ra[k] = a
                rb[k] = b
                rf[k] = f
                ein[k] = in_eid[i]
                eout[k] = out_eid[j]
                k += 1
    return ra[:k].copy(), rb[:k].copy(), rf[:k].copy(), ein[:k].copy(), eout[:k].copy(), cut


@kernel
def mirror_windows(grp_ptr, ts, val, direction, front, n_nodes, window, max_imbalance):
    """Best offsetting window per broker pair (HAWALA_MIRROR), with its counts.

    Group ``g`` is tuples ``grp_ptr[g]:grp_ptr[g+1]`` sorted by ``ts`` (seconds). A window
    starts at an *episode start* ``i`` (the group's first tuple, or one more than ``window``
    after the previous tuple, so that a window never cherry-picks the tail of a flow) and
    holds tuples with ``ts[i] <= ts <= ts[i] + window``; forward
    value ``F`` (direction 0) and reverse ``R`` (direction 1) must both be positive with
    imbalance ``|F - R| / max(F, R) <= max_imbalance``. The best window maximises the matched
    value ``min(F, R)`` (first start wins ties). ``front`` int32[tuples] in [0, n_nodes): the
    account relaying each tuple. Returns (start int64[G], stop int64[G] exclusive, or -1,
    F float64[G], R float64[G], distinct fronts int64[G], tuples of direction 0 int64[G],
    tuples of direction 1 int64[G]; counts 0 without a window). O(tuples + n_nodes) with two
    pointers, prefix sums and a stamp array.
    """
    g_n = grp_ptr.shape[0] - 1
    m = ts.shape[0]
    pf = np.zeros(m + 1, np.float64)
    pr = np.zeros(m + 1, np.float64)
    for i in range(m):
        pf[i + 1] = pf[i] + (val[i] if direction[i] == 0 else 0.0)
        pr[i + 1] = pr[i] + (val[i] if direction[i] == 1 else 0.0)
    start = np.full(g_n, -1, np.int64)
    stop = np.full(g_n, -1, np.int64)
    fwd = np.zeros(g_n, np.float64)
    rev = np.zeros(g_n, np.float64)
    n_front = np.zeros(g_n, np.int64)
    n_fwd = np.zeros(g_n, np.int64)
    n_rev = np.zeros(g_n, np.int64)
    stamp = np.full(n_nodes, -1, np.int64)   # stamp[f] == g: front f counted for group g
    for g in range(g_n):
        best = 0.0
        j = grp_ptr[g]
        for i in range(grp_ptr[g], grp_ptr[g + 1]):
            if j < i:
                j = i
            if i > grp_ptr[g] and ts[i] - ts[i - 1] <= window:
                continue  # not an episode start: a window never begins inside a flow
            while j < grp_ptr[g + 1] and ts[j] <= ts[i] + window:
                j += 1
            f = pf[j] - pf[i]
            r = pr[j] - pr[i]
            if f <= 0.0 or r <= 0.0:
                continue
            if abs(f - r) > max_imbalance * max(f, r):
                continue
            if min(f, r) > best:
                best = min(f, r)
                start[g] = i
                stop[g] = j
                fwd[g] = f
                rev[g] = r
        for k in range(start[g], stop[g]):   # empty when the pair has no window
            if stamp[front[k]] != g:
                stamp[front[k]] = g
                n_front[g] += 1
            if direction[k] == 0:
                n_fwd[g] += 1
            else:
                n_rev[g] += 1
    return start, stop, fwd, rev, n_front, n_fwd, n_rev
