"""Reference twin of ``finflow._kernels.cycles.temporal_cycles``: brute force, no pruning.

Read this as the definition. Every sequence of edges is tried by plain recursion; a sequence
is a temporal cycle when it closes on its first account, visits distinct accounts, has
non-decreasing times, fits in the window and (optionally) keeps ``min_hop_ratio`` of the
previous hop's amount at every hop. The same cycle may be found as several rotations (when
times tie); it is reported once, as the valid rotation whose first edge index is smallest.
Output: a list of edge-index tuples in path order, sorted lexicographically (the kernel's order
when no budget cuts anything).
"""
from __future__ import annotations

from finflow.graph import TemporalGraph


def is_temporal_cycle(g: TemporalGraph, edges, window: int, min_len: int, max_len: int,
                      min_hop_ratio: float) -> bool:
    """True when the edge sequence satisfies every rule of the definition."""
    n = len(edges)
    if not (max(min_len, 2) <= n <= max_len):
        return False
    accounts = [int(g.src[e]) for e in edges]
    if len(set(accounts)) != n:
        return False
    for i in range(n):
        if int(g.dst[edges[i]]) != accounts[(i + 1) % n]:
            return False
    times = [int(g.ts[e]) for e in edges]
    if any(times[i + 1] < times[i] for i in range(n - 1)):
        return False
    if times[-1] - times[0] > window:
        return False
    if min_hop_ratio > 0:
        amounts = [float(g.amt[e]) for e in edges]
        if any(amounts[i + 1] < min_hop_ratio * amounts[i] for i in range(n - 1)):
            return False
    return True


def temporal_cycles(g: TemporalGraph, window: int, min_len: int = 2, max_len: int = 8,
                    min_hop_ratio: float = 0.0) -> list[tuple[int, ...]]:
    """All temporal cycles, each once, as edge-index tuples (see module doc)."""
    valid = []

    def extend(path):
        if is_temporal_cycle(g, path, window, min_len, max_len, min_hop_ratio):
            valid.append(tuple(path))
        if len(path) == max_len:
            return
        last = path[-1]
        for e in range(g.n_edges):
            # the rules below hold for every prefix of a valid cycle, so failing them here
            # means no extension can become valid (this only saves time)
            if (g.src[e] == g.dst[last] and g.ts[e] >= g.ts[last]
                    and g.ts[e] - g.ts[path[0]] <= window
                    and g.src[e] not in {g.src[p] for p in path}):
                extend(path + [e])

    for s in range(g.n_edges):
        extend([s])

    best: dict[frozenset, tuple[int, ...]] = {}
    for cyc in valid:
        rotations = frozenset(cyc[i:] + cyc[:i] for i in range(len(cyc)))
        if rotations not in best or cyc[0] < best[rotations][0]:
            best[rotations] = cyc
    return sorted(best.values())
