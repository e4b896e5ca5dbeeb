"""Connected components by union-find, and time-windowed linking through shared keys.

Reusable by any detector that groups accounts from pairwise evidence:

* :func:`connected_components` - components of an undirected edge list over nodes
  ``0..n-1``; each node is labelled by the smallest node index of its component, so the
  labelling is canonical (independent of edge order).
* :func:`link_shared_keys` - evidence "two nodes share a key (a counterparty) at times at
  most ``window`` apart": returns node pairs to union, skipping keys touched by more than
  ``max_degree`` distinct nodes (a hub shared by everyone is no evidence) and counting them.

Union-find uses union by size with path halving: O(E alpha(n)).
"""
from __future__ import annotations

import numba
import numpy as np

from ..config import JIT_OPTIONS

__all__ = ["connected_components", "link_shared_keys"]


@numba.njit(**JIT_OPTIONS)
def _find(parent, x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@numba.njit(**JIT_OPTIONS)
def connected_components(n, edge_a, edge_b):
    """Component label per node (int64[n]) = smallest node index in its component.

    ``edge_a``/``edge_b``: int64 arrays of node indices in [0, n), one undirected edge per
    position (self-loops and repeats allowed). O(n + E alpha(n)).
    """
    parent = np.arange(n, dtype=np.int64)
    size = np.ones(n, np.int64)
    for j in range(edge_a.shape[0]):
        ra = _find(parent, edge_a[j])
        rb = _find(parent, edge_b[j])
        if ra == rb:
            continue
        if size[ra] < size[rb]:
            ra, rb = rb, ra
        parent[rb] = ra
        size[ra] += size[rb]
    smallest = np.full(n, n, np.int64)
    for x in range(n):
        r = _find(parent, x)
        if x < smallest[r]:
            smallest[r] = x
    label = np.empty(n, np.int64)
    for x in range(n):
        label[x] = smallest[_find(parent, x)]
    return label


@numba.njit(**JIT_OPTIONS)
def link_shared_keys(key, node, ts, window, max_degree, n_nodes):
    """Pairs of nodes that share a key at times at most ``window`` seconds apart.

    Input: incidences (key, node, ts) sorted by (key, ts) (int64, int64 < n_nodes, int64
    seconds). For every key touched by at most ``max_degree`` distinct nodes, each incidence
    is paired with the key's previous incidence when their times differ by <= window and the
    nodes differ. Unioning these pairs gives the same components as unioning every pair of
    incidences within the window (consecutive gaps are no larger than the pair's span).

    Returns (pair_a, pair_b, pair_key) int64 arrays and the number of keys skipped by the
    degree budget. O(I) time, O(I + n_nodes) memory for I incidences.
    """
    m = key.shape[0]
    pair_a = np.empty(m, np.int64)
    pair_b = np.empty(m, np.int64)
    pair_key = np.empty(m, np.int64)
    stamp = np.full(n_nodes, -1, np.int64)   # last group that counted this node
    n_pairs = 0
    n_cut = 0
    lo = 0
    while lo < m:
        hi = lo
        degree = 0
        while hi < m and key[hi] == key[lo]:
            if stamp[node[hi]] != lo:
                stamp[node[hi]] = lo
                degree += 1
            hi += 1
        if degree > max_degree:
            n_cut += 1
        elif degree > 1:
            for j in range(lo + 1, hi):
                if node[j] != node[j - 1] and ts[j] - ts[j - 1] <= window:
                    pair_a[n_pairs] = node[j - 1]
                    pair_b[n_pairs] = node[j]
                    pair_key[n_pairs] = key[lo]
                    n_pairs += 1
        lo = hi
    return pair_a[:n_pairs].copy(), pair_b[:n_pairs].copy(), pair_key[:n_pairs].copy(), n_cut
