"""Plain-Python twins of finflow/_kernels/hawala.py, written from the definitions over the
edge list (src, dst, ts, amt), never from the CSR arrays the kernels read.
"""
from __future__ import annotations

import math


def edges_of(g):
    """[(edge index, src, dst, ts, amt)] in time order."""
    return [(e, int(g.src[e]), int(g.dst[e]), int(g.ts[e]), float(g.amt[e]))
            for e in range(g.n_edges)]


def small_counterparties(g, small, view):
    """view 'in': distinct small payers and small inflow value; 'out': payees and outflow."""
    n = g.n_nodes
    cps = [set() for _ in range(n)]
    value = [0.0] * n
    for _, s, d, _, a in edges_of(g):
        if s == d or a > small:
            continue
        own, other = (d, s) if view == "in" else (s, d)
        cps[own].add(other)
        value[own] += a
    return [len(c) for c in cps], value, cps


def related_pairs(g, cand, small, view):
    """Ordered pairs (p, q), p != q, of c's small counterparties with a transaction p -> q."""
    _, _, cps = small_counterparties(g, small, view)
    links = {(s, d) for _, s, d, _, _ in edges_of(g) if s != d}
    out = []
    for c in cand:
        members = cps[c] - {c}
        out.append(sum(1 for p in members for q in members if p != q and (p, q) in links))
    return out


def bucket_series(g, nodes, small, t0, bucket, n_buckets, view):
    rows = []
    for v in nodes:
        row = [0.0] * n_buckets
        for _, s, d, t, a in edges_of(g):
            own, other = (d, s) if view == "in" else (s, d)
            if own != v or other == v or a > small:
                continue
            b = min(max((t - t0) // bucket, 0), n_buckets - 1)
            row[b] += a
        rows.append(row)
    return rows


def pearson(x, y):
    n = len(x)
    if n < 2:
        return 0.0
    sx = sy = 0.0
    for i in range(n):
        sx += x[i]
        sy += y[i]
    mx, my = sx / n, sy / n
    sxx = syy = sxy = 0.0
    for i in range(n):
        dx, dy = x[i] - mx, y[i] - my
        sxx += dx * dx
        syy += dy * dy
        sxy += dx * dy
    if sxx <= 0.0 or syy <= 0.0:
        return 0.0
    return sxy / math.sqrt(sxx * syy)


def average_ranks(x):
    """0-based ranks of the values of x, tied values sharing the mean of their ranks."""
    ordered = sorted(x)
    first = {}
    last = {}
    for i, v in enumerate(ordered):
        first.setdefault(v, i)
        last[v] = i
    return [(first[v] + last[v]) / 2 for v in x]


def tracking_windows(a, b, window, step):
    """The pair's tracking windows [w0, w1) (kernel module doc); [] when a series is empty."""
    act = [t for t in range(len(a)) if a[t] != 0.0 or b[t] != 0.0]
    if not any(v != 0.0 for v in a) or not any(v != 0.0 for v in b):
        return []
    start, stop = act[0], act[-1] + 1
    w = stop - start if window <= 0 else min(window, stop - start)
    out = []
    w0 = start
    while True:
        lo = min(w0, stop - w)
        out.append((lo, lo + w))
        if lo + w == stop:
            return out
        w0 += max(step, 1)


def lagged_correlation(a, b, max_lag, ranks=False, window=0, step=1, min_volume=0.0):
    """(best corr, lo, hi, w_lo, w_hi, volume) for one pair of series (lists): the best lag
    window correlation over the tracking windows with volume match >= min_volume (Spearman
    when ranks, else Pearson); (0.0, -1, -1, -1, -1, 0.0) when no window qualifies."""
    nb = len(a)
    best = (-2.0, -1, -1, -1, -1, 0.0)
    for w0, w1 in tracking_windows(a, b, window, step):
        sa, sb = sum(a[w0:w1]), sum(b[w0:w1])
        vol = min(sa, sb) / max(sa, sb) if max(sa, sb) > 0 else 0.0
        if vol < min_volume:
            continue
        for lo in range(max_lag + 1):
            for hi in range(lo, max_lag + 1):
                y = [sum(b[t + k] for k in range(lo, hi + 1) if t + k < nb) for t in range(w0, w1)]
                x = a[w0:w1]
                c = pearson(average_ranks(x), average_ranks(y)) if ranks else pearson(x, y)
                if c > best[0]:
                    best = (c, lo, hi, w0, w1, vol)
    return best if best[0] > -2.0 else (0.0, -1, -1, -1, -1, 0.0)


def settlement_paths(g, sources, targets, place, small, max_edges, max_span):
    """Set of (source, target, tuple of edge indices) per the definition (no budgets)."""
    out_edges = {}
    for e, s, d, t, a in edges_of(g):
        out_edges.setdefault(s, []).append((e, d, t, a))

    def differ(p, q):
        return p < 0 or q < 0 or p != q

    found = set()

    def walk(s, node, path, visited):
        for e, d, t, a in out_edges.get(node, []):
            if d in visited or a <= small:
                continue
            if path:
                if t < g.ts[path[-1]] or t - g.ts[path[0]] > max_span:
                    continue
            p2 = path + [e]
            if d in targets and differ(place[s], place[d]):
                found.add((s, d, tuple(p2)))
            if len(p2) < max_edges:
                walk(s, d, p2, visited | {d})

    for s in sources:
        walk(s, s, [], {s})
    return found


def relay_tuples(g, place, window, min_ratio):
    """Set of (a, b, front, in edge, out edge): a pays front f, then f pays b within window
    passing the value on (ratio of amounts within [min_ratio, 1 / min_ratio]), a, f, b
    distinct, places of a and b differ (no budgets)."""
    def differ(p, q):
        return p < 0 or q < 0 or p != q

    out = set()
    edges = edges_of(g)
    for e_in, a, f, t_in, v_in in edges:
        for e_out, f2, b, t_out, v_out in edges:
            if f2 != f or len({a, f, b}) < 3 or not differ(place[a], place[b]):
                continue
            if v_out < min_ratio * v_in or min_ratio * v_out > v_in:
                continue
            if t_in <= t_out <= t_in + window:
                out.add((a, b, f, e_in, e_out))
    return out


def mirror_window(items, window, max_imbalance):
    """items: [(ts, value, direction, front)] sorted by ts -> (start, stop, F, R, distinct
    fronts, tuples of direction 0, tuples of direction 1) of the best window, or None."""
    best = None
    for i in range(len(items)):
        if i > 0 and items[i][0] - items[i - 1][0] <= window:
            continue  # windows start only at episode starts
        inside = [j for j in range(i, len(items)) if items[j][0] <= items[i][0] + window]
        stop = inside[-1] + 1
        f = sum(items[j][1] for j in range(i, stop) if items[j][2] == 0)
        r = sum(items[j][1] for j in range(i, stop) if items[j][2] == 1)
        if f <= 0 or r <= 0 or abs(f - r) > max_imbalance * max(f, r):
            continue
        if best is None or min(f, r) > min(best[2], best[3]):
            chosen = items[i:stop]
            best = (i, stop, f, r, len({x[3] for x in chosen}),
                    sum(1 for x in chosen if x[2] == 0), sum(1 for x in chosen if x[2] == 1))
    return best
