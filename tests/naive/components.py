"""Plain-Python twins of finflow._kernels.components (BFS components, all-pairs linking)."""
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


def shared_key_edges(incidences, window: int, max_degree: int) -> tuple[list, int]:
    """Every pair of distinct nodes sharing a key at times <= window apart.

    ``incidences``: iterable of (key, node, ts). Keys with more than ``max_degree`` distinct
    nodes are skipped and counted. Returns (edge list, number of keys skipped).
    """
    by_key = defaultdict(list)
    for k, v, t in incidences:
        by_key[k].append((v, t))
    edges, cut = [], 0
    for k, items in by_key.items():
        if len({v for v, _ in items}) > max_degree:
            cut += 1
            continue
        for v1, t1 in items:
            for v2, t2 in items:
                if v1 != v2 and abs(t1 - t2) <= window:
                    edges.append((v1, v2))
    return edges, cut
