"""Plain-Python twins of finflow/_kernels/features.py: the executable definitions.

Edges are given as lists ``src, dst, ts`` indexed by edge (the TemporalGraph's order: by
time, ties in dataset order). ``bins`` is a sorted list of pattern sizes; a pattern of size
``S`` falls in bin ``i`` when ``bins[i] <= S < bins[i + 1]`` (the last bin is open), and is not
counted when ``S < bins[0]``. Every histogram is a list of per-edge lists of len(bins).
Self-loops (``src == dst``) take part in no pattern. See docs/FEATURES.md.
"""
from __future__ import annotations

from itertools import product


def bin_of(size: int, bins) -> int:
    """Index of the histogram bin holding a pattern of ``size`` (-1: below the first bin)."""
    b = -1
    for i, lo in enumerate(bins):
        if size >= lo:
            b = i
    return b


def _empty(n_edges, bins):
    return [[0] * len(bins) for _ in range(n_edges)]


def fan_degree_hist(src, dst, ts, window, bins, outgoing=True, distinct=True):
    """Fan (distinct counterparties) or degree (edges) histograms, GFP batch semantics.

    Every non-self-loop edge ``e`` of account ``a`` (its source when ``outgoing``) defines the
    pattern ``P(e)``: a's non-self-loop edges on the same side with ``ts(e) - window <
    ts(f) <= ts(e)`` (left-open window; equal times on either side of e are inside). Its size
    is the number of distinct counterparties (``distinct``) or of edges in it; when the size is
    >= 2, every edge of ``P(e)`` gets +1 in the size's bin.
    """
    own, other = (src, dst) if outgoing else (dst, src)
    hist = _empty(len(ts), bins)
    for e in range(len(ts)):
        pat = [f for f in range(len(ts)) if own[f] == own[e] and src[f] != dst[f]
               and ts[e] - window < ts[f] <= ts[e]]
        size = len({other[f] for f in pat}) if distinct else len(pat)
        b = bin_of(size, bins)
        if size < 2 or b < 0:
            continue
        for f in pat:
            hist[f][b] += 1
    return hist


def temporal_cycles(src, dst, ts, window, bins, max_len):
    """The counted temporal cycles: a list of ``(closing edge, length, member edges)``.

    For a closing edge ``e = u -> v`` (not a self-loop) and a vertex cycle ``v = v0, v1, ...,
    v(L-1) = u`` of distinct accounts (``2 <= L <= max_len``), a *valid sequence* is a choice
    of one edge per hop ``v(i-1) -> v(i)`` with ``ts(e) - window <= ts(f1) < ts(f2) < ... <
    ts(e)`` (strictly increasing). When at least one exists and L falls in a bin, the pair
    (closing edge, vertex cycle) is one cycle, whose members are the edges lying on some valid
    sequence, however many parallel edges realise it.
    """
    n_edges = len(ts)
    cycles = []
    for e in range(n_edges):
        u, v = src[e], dst[e]
        if u == v:
            continue
        lo, hi = ts[e] - window, ts[e]
        found = {}  # vertex cycle -> edges on valid sequences

        def extend(node, t_prev, path_nodes, path_edges):
            if node == u:
                key = tuple(path_nodes)
                found.setdefault(key, set()).update(path_edges)
                return
            if len(path_edges) + 1 >= max_len:
                return
            for f in range(n_edges):
                w = dst[f]
                if src[f] != node or w == node or not (t_prev < ts[f] < hi):
                    continue
                if w in path_nodes and w != u:
                    continue
                extend(w, ts[f], path_nodes + [w], path_edges + [f])

        # the first hop may start at lo itself (closed window)
        extend(v, lo - 1, [v], [])
        for nodes, edges in found.items():
            length = len(nodes)  # v0..u, so number of edges including e
            if length >= 2 and bin_of(length, bins) >= 0:
                cycles.append((e, length, edges))
    return cycles


def temporal_cycle_hist(src, dst, ts, window, bins, max_len):
    """Temporal-cycle histograms, GFP semantics (bundles of parallel edges): every cycle of
    :func:`temporal_cycles` adds 1 to its closing edge and to each member edge in the bin of
    its length."""
    hist = _empty(len(ts), bins)
    for e, length, edges in temporal_cycles(src, dst, ts, window, bins, max_len):
        b = bin_of(length, bins)
        hist[e][b] += 1
        for f in edges:
            hist[f][b] += 1
    return hist


def simple_cycles(src, dst, ts, window, bins, max_len):
    """The counted length-constrained simple cycles (times not ordered): a list of
    ``(closing edge, length, member edges)``.

    Edges are inserted one by one in index order. When ``e = u -> v`` (not a self-loop)
    arrives, the graph ``G(e)`` holds the earlier non-self-loop edges ``f < e`` with
    ``ts(f) >= ts(e) - window``. Every simple vertex cycle ``v = v0, ..., v(L-1) = u``
    (``2 <= L <= max_len``, L in a bin) whose hops all have an edge in ``G(e)`` is one cycle;
    its members are all of G(e)'s edges on its hops.
    """
    n_edges = len(ts)
    out = []
    for e in range(n_edges):
        u, v = src[e], dst[e]
        if u == v:
            continue
        g = [f for f in range(e) if src[f] != dst[f] and ts[f] >= ts[e] - window]
        hop = {}
        for f in g:
            hop.setdefault((src[f], dst[f]), []).append(f)
        cycles = []

        def extend(path):
            node = path[-1]
            if node == u:
                cycles.append(list(path))
                return
            if len(path) >= max_len:
                return
            for (a, w) in hop:
                if a == node and (w not in path):
                    extend(path + [w])

        extend([v])
        for path in cycles:
            if bin_of(len(path), bins) >= 0:
                members = [f for a, w in zip(path, path[1:]) for f in hop[(a, w)]]
                out.append((e, len(path), members))
    return out


def simple_cycle_hist(src, dst, ts, window, bins, max_len):
    """Length-constrained simple-cycle histograms, GFP semantics: every cycle of
    :func:`simple_cycles` adds 1 to its closing edge and to each member edge in the bin of its
    length."""
    hist = _empty(len(ts), bins)
    for e, length, members in simple_cycles(src, dst, ts, window, bins, max_len):
        b = bin_of(length, bins)
        hist[e][b] += 1
        for f in members:
            hist[f][b] += 1
    return hist


def scatter_gather_hist(src, dst, ts, window, bins):
    """Scatter-gather histograms (finflow's causal definition; see docs/FEATURES.md).

    When ``e`` arrives (index order), ``G(e)`` holds the non-self-loop edges ``f <= e`` with
    ``ts(f) >= ts(e) - window``. For a pair source ``s`` != target ``t``, the intermediaries are
    the accounts ``m`` (``m != s, t``) with an edge s -> m and an edge m -> t in G(e) (in any
    time order, as in GFP). Every pair whose structure contains ``e`` (as a scatter edge s -> m
    or a gather edge m -> t of an intermediary m) and has >= 2 intermediaries counts once:
    all of G(e)'s s -> m and m -> t edges of its intermediaries get +1 in the bin of the
    number of intermediaries.
    """
    n_edges = len(ts)
    hist = _empty(n_edges, bins)
    for e in range(n_edges):
        if src[e] == dst[e]:
            continue
        g = [f for f in range(e + 1) if src[f] != dst[f] and ts[f] >= ts[e] - window]
        pairs = set()
        a, b = src[e], dst[e]
        for f in g:
            if src[f] == b and dst[f] not in (a, b):      # e = s -> m, f = m -> t
                pairs.add((a, dst[f]))
            if dst[f] == a and src[f] not in (a, b):      # e = m -> t, f = s -> m
                pairs.add((src[f], b))
        for s, t in pairs:
            mids = {m for m in {dst[f] for f in g if src[f] == s}
                    if m not in (s, t) and any(src[f] == m and dst[f] == t for f in g)}
            bi = bin_of(len(mids), bins)
            if len(mids) < 2 or bi < 0:
                continue
            for f in g:
                if (src[f] == s and dst[f] in mids) or (dst[f] == t and src[f] in mids):
                    hist[f][bi] += 1
    return hist


def vertex_stats(src, dst, values):
    """Per account and side (out, in): fan, degree, fan/degree ratio, then per value column
    mean, sum, min, max, median, population variance, skewness, kurtosis (Pearson, not
    excess; 0 when the variance is 0). Over all the account's edges, self-loops included.
    Returns {(account, side): [fan, degree, ratio, *stats(col0), *stats(col1), ...]}.
    """
    n_nodes = max(list(src) + list(dst), default=-1) + 1
    out = {}
    for a, side in product(range(n_nodes), ("out", "in")):
        own, other = (src, dst) if side == "out" else (dst, src)
        edges = [f for f in range(len(src)) if own[f] == a]
        if not edges:
            out[(a, side)] = [0.0] * (3 + 8 * len(values))
            continue
        fan = len({other[f] for f in edges})
        row = [float(fan), float(len(edges)), len(edges) / fan]
        for col in values:
            xs = sorted(float(col[f]) for f in edges)
            n = len(xs)
            mean = sum(xs) / n
            var = sum((x - mean) ** 2 for x in xs) / n
            med = xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2
            if var > 0:
                skew = sum((x - mean) ** 3 for x in xs) / n / var ** 1.5
                kurt = sum((x - mean) ** 4 for x in xs) / n / var ** 2
            else:
                skew = kurt = 0.0
            row += [mean, sum(xs), xs[0], xs[-1], med, var, skew, kurt]
        out[(a, side)] = row
    return out
