"""Plain-Python twins of finflow/_kernels/windows.py and finflow/_kernels/scatter_gather.py.

They work on edge lists (src, dst, ts per edge index), not on CSR rows, and enumerate every
window by brute force: read them as the definitions. Windows are closed, ``[L, L + W]``.
"""
from __future__ import annotations

from collections import namedtuple

Item = namedtuple("Item", "t1 t2 key id")
Burst = namedtuple("Burst", "ids peak_count peak_start peak_span")


def _measure(items, distinct):
    return len({i.key for i in items}) if distinct else len(items)


def bursts(items, window, min_count, distinct):
    """Bursts of qualifying maximal windows over ``items`` (see windows module doc).

    Every window start L in {t1}; S(L) = items with L <= t1 and t2 <= L + W. Maximal: no other
    S(L') strictly contains it (equal sets keep the earliest L). Qualifying: measure >=
    min_count. Bursts: classes of qualifying windows linked by sharing an item.
    Returns bursts sorted by their earliest item time.
    """
    starts = sorted({i.t1 for i in items})
    sets = {L: frozenset(i for i in items if L <= i.t1 and i.t2 <= L + window) for L in starts}
    maximal, seen = [], set()
    for L in starts:
        s = sets[L]
        if any(s < sets[L2] for L2 in starts) or s in seen:
            continue
        seen.add(s)
        maximal.append(L)
    qual = [L for L in maximal if _measure(sets[L], distinct) >= min_count]
    parent = {L: L for L in qual}

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x
    for a in qual:
        for b in qual:
            if sets[a] & sets[b]:
                parent[find(a)] = find(b)
    groups = {}
    for L in qual:
        groups.setdefault(find(L), []).append(L)
    out = []
    for ls in groups.values():
        members = frozenset().union(*(sets[L] for L in ls))
        peak = min(ls, key=lambda L: (-_measure(sets[L], distinct),
                                      max(i.t2 for i in sets[L]) - L, L))
        out.append(Burst(frozenset(i.id for i in members), _measure(sets[peak], distinct), peak,
                         max(i.t2 for i in sets[peak]) - peak))
    return sorted(out, key=lambda b: min(b.ids))


def row_bursts(src, dst, ts, window, min_count, distinct, outgoing=True, mask=None):
    """Per account (its out-edges if outgoing else in-edges, optionally only edges with
    mask[e]): bursts of transactions keyed by counterparty. Returns dicts with node, edges
    (frozenset of edge indices), peak_count, peak_start, peak_span, min_span (shortest time
    span inside the burst reaching min_count), n_distinct, n_oneoff (counterparties with no
    row edge outside the burst)."""
    own, other = (src, dst) if outgoing else (dst, src)
    out = []
    for a in sorted(set(own)):
        row = [e for e in range(len(ts)) if own[e] == a and (mask is None or mask[e])]
        items = [Item(ts[e], ts[e], other[e], e) for e in row]
        for b in bursts(items, window, min_count, distinct):
            edges = b.ids
            spans = [ts[j] - ts[i] for i in edges for j in edges if ts[i] <= ts[j]
                     and _measure([x for x in items if x.id in edges and ts[i] <= x.t1 <= ts[j]],
                                  distinct) >= min_count]
            keys = {other[e] for e in edges}
            oneoff = [k for k in keys if all(e in edges for e in row if other[e] == k)]
            out.append(dict(node=a, edges=edges, peak_count=b.peak_count,
                            peak_start=b.peak_start, peak_span=b.peak_span,
                            min_span=min(spans), n_distinct=len(keys), n_oneoff=len(oneoff)))
    return out


def scatter_gather(src, dst, ts, window, min_intermediaries):
    """SCATTER_GATHER alerts: dicts with src, dst, paths (frozenset of (e1, e2) edge pairs),
    peak_count, peak_start, peak_span. A path: e1 = s -> m, e2 = m -> t, m != s, t != s,
    t != m, ts[e1] <= ts[e2] <= ts[e1] + W."""
    e_all = range(len(ts))
    groups = {}
    for e1 in e_all:
        for e2 in e_all:
            s, m, t = src[e1], dst[e1], dst[e2]
            if (src[e2] == m and m != s and t != s and t != m
                    and ts[e1] <= ts[e2] <= ts[e1] + window):
                groups.setdefault((s, t), []).append(Item(ts[e1], ts[e2], m, (e1, e2)))
    out = []
    for (s, t), items in sorted(groups.items()):
        for b in bursts(items, window, min_intermediaries, True):
            out.append(dict(src=s, dst=t, paths=b.ids, peak_count=b.peak_count,
                            peak_start=b.peak_start, peak_span=b.peak_span))
    return out


def gather_scatter(src, dst, ts, window, min_in, min_out):
    """GATHER_SCATTER bursts (see scatter_gather kernel module doc): dicts with hub, ins,
    outs (frozensets of edge indices: the union of the qualifying splits' reaches), best
    (L, tau, R) and n_splits."""
    out = []
    for h in sorted(set(src) | set(dst)):
        ins = [e for e in range(len(ts)) if dst[e] == h and src[e] != h]
        outs = [e for e in range(len(ts)) if src[e] == h and dst[e] != h]
        cur = None
        for tau in sorted({ts[e] for e in ins}):
            ls = [ts[e] for e in ins if ts[e] <= tau
                  and len({src[f] for f in ins if ts[e] <= ts[f] <= tau}) >= min_in]
            rs = [ts[e] for e in outs if ts[e] >= tau
                  and len({dst[f] for f in outs if tau <= ts[f] <= ts[e]}) >= min_out]
            if not ls or not rs or min(rs) - max(ls) > window:
                continue
            big_l, big_r = max(ls), min(rs)
            core_in = {e for e in ins if big_r - window <= ts[e] <= tau}
            core_out = {e for e in outs if tau <= ts[e] <= big_l + window}
            if cur is not None and big_l <= cur["burst_r"]:
                cur["ins"] |= core_in
                cur["outs"] |= core_out
                cur["n_splits"] += 1
                cur["burst_r"] = max(cur["burst_r"], big_r)
                if big_r - big_l < cur["best"][2] - cur["best"][0]:
                    cur["best"] = (big_l, tau, big_r)
            else:
                cur = dict(hub=h, ins=core_in, outs=core_out, n_splits=1, burst_r=big_r,
                           best=(big_l, tau, big_r))
                out.append(cur)
    for c in out:
        c["ins"], c["outs"] = frozenset(c["ins"]), frozenset(c["outs"])
        del c["burst_r"]
    return out


def scatter_gather_expanded_paths(src, dst, ts, window, min_intermediaries):
    """How many paths the scatter-gather kernel expands (its ``n_paths``): the paths (as in
    :func:`scatter_gather`) of sources with >= k distinct payees (m != s) whose first hop e1
    is *dense*: some window [L, L + W] holds e1 and >= k payments of s in all (payments
    outside every such window cannot be first hops of a qualifying window)."""
    k = max(min_intermediaries, 1)
    e_all = range(len(ts))
    count = 0
    for e1 in e_all:
        s, m = src[e1], dst[e1]
        out = [e for e in e_all if src[e] == s]
        if m == s or len({dst[e] for e in out if dst[e] != s}) < k:
            continue
        if not any(sum(1 for e in out if L <= ts[e] <= L + window) >= k
                   for L in {ts[e] for e in out} if L <= ts[e1] <= L + window):
            continue
        count += sum(1 for e2 in e_all if src[e2] == m and dst[e2] not in (s, m)
                     and ts[e1] <= ts[e2] <= ts[e1] + window)
    return count
