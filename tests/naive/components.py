"""Plain-Python twins of finflow._kernels.components (BFS components, all pairs of shared keys)."""
from __future__ import annotations

from collections import defaultdict, deque


def connected_components(n: int, edges) -> list[int]:
    """Label per node = smallest node of its component, by breadth-first search."""
    adj = defaultdict(set)
    for a, b in edges:
        adj[a].add(b)
        adj[b].add(a)
    label = [-1] * n
    for start in range(n):  # increasing, so the first node reached is the smallest
        if label[start] >= 0:
            continue
        label[start] = start
        queue = deque([start])
        while queue:
            x = queue.popleft()
            for y in adj[x]:
                if label[y] < 0:
                    label[y] = start
                    queue.append(y)
    return label


def shared_key_pairs(incidences, window: int, max_degree: int, max_pairs_per_key: int):
    """Every pair of incidences of one key from different nodes at most ``window`` apart.

    ``incidences``: list of (key, node, occ, ts), already in the kernel's input order
    (sorted by key, then time). A key with more than ``max_degree`` distinct nodes, or with
    more than ``max_pairs_per_key`` incidence pairs within the window (any nodes), is
    skipped and counted. Returns (sorted list of (lo, hi, key, occ_lo, occ_hi), keys cut by
    degree, keys cut by pairs).
    """
    by_key = defaultdict(list)
    for k, v, o, t in incidences:
        by_key[k].append((v, o, t))
    rows, deg_cut, pair_cut = [], 0, 0
    for k, items in by_key.items():
        if len({v for v, _, _ in items}) > max_degree:
            deg_cut += 1
            continue
        if len({v for v, _, _ in items}) < 2:
            continue
        close = [(a, b) for x, a in enumerate(items) for b in items[x + 1:]
                 if abs(b[2] - a[2]) <= window]
        if len(close) > max_pairs_per_key:
            pair_cut += 1
            continue
        for (v1, o1, _), (v2, o2, _) in close:
            if v1 != v2:
                rows.append((v1, v2, k, o1, o2) if v1 < v2 else (v2, v1, k, o2, o1))
    return sorted(rows), deg_cut, pair_cut


def k_core(n: int, edges, k: int) -> list[bool]:
    """Nodes left after removing, again and again, every node with < k distinct neighbours
    among the nodes still left (self-loops ignored)."""
    nbrs = defaultdict(set)
    for a, b in edges:
        if a != b:
            nbrs[a].add(b)
            nbrs[b].add(a)
    alive = set(range(n))
    while True:
        drop = {x for x in alive if len(nbrs[x] & alive) < k}
        if not drop:
            return [x in alive for x in range(n)]
        alive -= drop
